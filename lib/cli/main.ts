// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The `evwire` command: dispatches to a subcommand and turns every failure into one line on
// stderr. Usage mistakes exit with 2 and a hint, other errors with 1; no stack traces unless
// EVWIRE_DEBUG is set (they are for bugs, not for users).
import * as fs from 'fs';
import * as path from 'path';
import { EvwireError } from '../index';
import { UsageError } from './args';
import { CLIENT_USAGE, runClient } from './client';
import { DEMO_USAGE, runDemo } from './demo';

export const USAGE = `Usage: evwire <command> [options]

Commands:
  demo            start the demo echo server (framed TCP, optionally HTTP)
  client FRAME... send frames to a framed server and print the replies
  help [command]  show this help or a command's

Options:
  -h, --help      show help; after a command, that command's (evwire demo --help)
  -v, --version   print the version

Quick start: \`npx evwire demo\` in one terminal; it prints the \`npx evwire client\` command
to run in another.
`;

const HELP: Record<string, string> = { demo: DEMO_USAGE, client: CLIENT_USAGE };

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

const stdio: Io = {
  out: (s) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`),
  err: (s) => process.stderr.write(s.endsWith('\n') ? s : `${s}\n`),
};

/** Runs `evwire` with `argv` (without node and the script). Resolves with the exit code, or
 * undefined while a command (the demo server) keeps running. */
export async function main(argv: readonly string[], io: Io = stdio): Promise<number | undefined> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case 'help':
      case '--help':
      case '-h': {
        const topic = cmd === 'help' ? rest[0] : undefined;
        if (topic !== undefined && HELP[topic] === undefined) throw new UsageError(`no command "${topic}" (commands: demo, client, help)`);
        // Without a command the usage is an error message: stderr and exit code 2.
        (cmd === undefined ? io.err : io.out)(topic !== undefined ? HELP[topic] : USAGE);
        return cmd === undefined ? 2 : 0;
      }
      case '--version':
      case '-v':
        io.out(version());
        return 0;
      case 'demo':
        return await runDemo(rest, io.out);
      case 'client':
        return await runClient(rest, { out: io.out });
      default:
        throw new UsageError(cmd.startsWith('-') ? `unknown option ${cmd}` : `unknown command "${cmd}" (commands: demo, client, help)`);
    }
  } catch (err) {
    return report(err, HELP[cmd ?? ''] !== undefined ? cmd : undefined, io);
  }
}

function report(err: unknown, cmd: string | undefined, io: Io): number {
  if (process.env.EVWIRE_DEBUG) io.err(String((err as Error)?.stack ?? err));
  if (err instanceof UsageError) {
    io.err(`evwire: ${err.message}`);
    io.err(`usage: ${cmd !== undefined ? HELP[cmd].split('\n')[0].replace('Usage: ', '') : 'evwire <command> [options]'}; see evwire ${cmd !== undefined ? `${cmd} ` : ''}--help`);
    return 2;
  }
  if (err instanceof EvwireError) {
    io.err(`evwire: ${err.message} (${err.code})`);
    return 1;
  }
  io.err(`evwire: ${(err as Error)?.message ?? String(err)} (unexpected; EVWIRE_DEBUG=1 shows the stack)`);
  return 1;
}

/** The package's version, from the package.json next to dist/. */
export function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
