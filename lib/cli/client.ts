// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// `evwire client`: sends frames to a framed server and prints the replies. It speaks the wire
// format over a plain `net` socket, so it also works against servers that are not evwire.
import * as net from 'net';
import { ClosedError, ERROR_CODES, SystemError, TimeoutError, type EvwireError } from '../index';
import { flag, int, parseArgs, port, raw, str, UsageError, type OptionSpec } from './args';
import { describeFrame, encodeFrame, formatFrame, FrameDecoder, parseFrameArg, type Frame } from './frames';

export const CLIENT_OPTIONS: readonly OptionSpec[] = [
  { name: 'host', value: true, env: 'EVWIRE_HOST' },
  { name: 'port', value: true, env: 'EVWIRE_PORT' },
  { name: 'seq', value: true },
  { name: 'flags', value: true },
  { name: 'repeat', value: true },
  { name: 'expect', value: true },
  { name: 'timeout', value: true },
  { name: 'json', value: false },
  { name: 'help', short: 'h', value: false },
];

export const CLIENT_USAGE = `Usage: evwire client [options] FRAME...

Connects to a framed server (12-byte header, docs/protocol.md), sends each FRAME, prints each
reply, and exits once every reply has arrived. Exit code 1 on a timeout or connection error.

FRAME is TYPE or TYPE=BODY (quote it for the shell):
  TYPE  a demo message name (Login, LoginReply, Move, Moved, Chat, Ping, Pong; any case)
        or its id, or any frame type id 1..65535
  BODY  for a demo message: a JSON object, encoded with protobuf    'Chat={"text":"hi"}'
        for other types: text                                       9=hello
        hex:HEX  raw bytes (either kind)                            9=hex:00ff10
        @FILE    a file's contents (JSON for a demo message)        Login=@login.json
        text:... text that begins with hex: or @
  A TYPE alone sends an empty body.

Options (environment variable in brackets):
  --host H        server name or address [EVWIRE_HOST] (default localhost)
  --port N        server port [EVWIRE_PORT] (default 7000)
  --seq N         seq of the first frame, +1 for each next one; 0: every seq is 0 (default 1)
  --flags N       flags of every frame, 0..7: bit 0 encrypted, 1 reply, 2 error (default 0);
                  other bits are refused by evwire servers (EW_EPROTO_FLAGS)
  --repeat N      send the whole list N times (default 1)
  --expect N      replies to wait for (default: one per frame sent)
  --timeout MS    give up after MS milliseconds (default 5000)
  --json          print each reply as one JSON line
  -h, --help      show this help

Examples:
  npx evwire client --port 7000 'Chat={"from":"ann","text":"hello"}' Ping 9=hello
  npx evwire client --port 7000 --repeat 3 --json 'Move={"player":1,"x":3,"y":-4}'
`;

export interface ClientIo {
  out: (line: string) => void;
}

/** Runs `evwire client`; resolves with the exit code, throws EvwireErrors for failures. */
export async function runClient(argv: readonly string[], io: ClientIo): Promise<number> {
  const p = parseArgs(argv, CLIENT_OPTIONS);
  if (flag(p, 'help')) {
    io.out(CLIENT_USAGE);
    return 0;
  }
  const host = str(p, 'host', 'localhost');
  const portNo = port(p, 'port', 7000);
  if (portNo === 0) throw new UsageError(`${raw(p, 'port')!.where}: "0" is not a port a server listens on (1..65535)`);
  const seq0 = int(p, 'seq', 1, 0, 0xffffffff);
  const flags = int(p, 'flags', 0, 0, 7);
  const repeat = int(p, 'repeat', 1, 1, 1_000_000);
  const timeoutMs = int(p, 'timeout', 5000, 1, 2 ** 31 - 1, 'a timeout in milliseconds (1..2147483647)');
  const json = flag(p, 'json');
  if (p.positionals.length === 0) throw new UsageError('no FRAME to send (e.g. evwire client Ping)');
  const specs = p.positionals.map(parseFrameArg);
  const frames: Frame[] = [];
  for (let r = 0; r < repeat; r++) {
    for (const s of specs) {
      const seq = seq0 === 0 ? 0 : (seq0 + frames.length) % 2 ** 32;
      frames.push({ type: s.type, flags, seq, body: s.body });
    }
  }
  const expect = int(p, 'expect', frames.length, 0, Number.MAX_SAFE_INTEGER);
  const print = (f: Frame) => {
    const d = describeFrame(f);
    io.out(json ? JSON.stringify(d) : formatFrame(d));
  };
  await exchange({ host, port: portNo, frames, expect, timeoutMs, onReply: print });
  return 0;
}

interface Exchange {
  host: string;
  port: number;
  frames: Frame[];
  expect: number;
  timeoutMs: number;
  onReply(f: Frame): void;
}

function exchange(x: Exchange): Promise<void> {
  return new Promise((resolve, reject) => {
    const where = `${x.host}:${x.port}`;
    const socket = net.connect({ host: x.host, port: x.port, noDelay: true });
    const decoder = new FrameDecoder();
    let got = 0;
    let connected = false;
    let done = false;
    const finish = (err?: EvwireError) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err !== undefined) {
        socket.destroy();
        reject(err);
      } else {
        socket.end();
        resolve();
      }
    };
    const timer = setTimeout(() => {
      const what = connected
        ? `${got} of ${x.expect} replies arrived (is ${where} a framed server?)`
        : `no connection to ${where}`;
      finish(new TimeoutError('EW_ETIMEDOUT', `timed out after ${x.timeoutMs} ms: ${what}`));
    }, x.timeoutMs);
    socket.on('connect', () => {
      connected = true;
      socket.write(Buffer.concat(x.frames.map(encodeFrame)));
      if (x.expect === 0) finish();
    });
    socket.on('data', (d: Buffer) => {
      for (const f of decoder.push(d)) {
        if (done) return;
        x.onReply(f);
        if (++got >= x.expect) finish();
      }
    });
    socket.on('error', (err: NodeJS.ErrnoException) => finish(socketError(err, where, connected)));
    socket.on('close', () => {
      finish(new ClosedError('EW_EOF', `${where} closed the connection after ${got} of ${x.expect} replies`));
    });
  });
}

// Node names socket errors after errno (ECONNREFUSED) or getaddrinfo (ENOTFOUND); evwire's codes
// carry the same names with an EW_ prefix.
function socketError(err: NodeJS.ErrnoException, where: string, connected: boolean): EvwireError {
  const aliases: Record<string, string> = { ENOTFOUND: 'EW_EAI_NONAME', EAI_AGAIN: 'EW_EAI_AGAIN', EAI_FAIL: 'EW_EAI_FAIL' };
  const code = aliases[err.code ?? ''] ?? (ERROR_CODES[`EW_${err.code}`] !== undefined ? `EW_${err.code}` : 'EW_EIO');
  const text = ERROR_CODES[code]?.message ?? err.message;
  const msg = connected ? `connection to ${where} failed: ${text}` : `cannot connect to ${where}: ${text}`;
  return new SystemError(code, msg, { cause: err, syscall: err.syscall, address: where });
}
