// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Command-line parsing for `evwire`: options as `--name value`, `--name=value` or a short flag,
// each optionally backed by an environment variable. A bad value raises a UsageError naming the
// option (or variable) and the value, which the CLI prints as one line before exiting with 2.
import { InvalidArgumentError } from '../index';

/** A mistake in the command line or an EVWIRE_* variable: printed with a usage hint, exit code 2. */
export class UsageError extends InvalidArgumentError {
  constructor(message: string) {
    super('EW_EINVAL', message);
  }
}

export interface OptionSpec {
  /** Long name without dashes: `port` for `--port`. */
  name: string;
  /** One letter for `-h` style use. */
  short?: string;
  /** Takes a value (`--port 7000`), or is a flag (`--json`). */
  value: boolean;
  /** Environment variable consulted when the option is absent. */
  env?: string;
}

export interface Parsed {
  options: Map<string, string | true>;
  positionals: string[];
  specs: readonly OptionSpec[];
}

/** Splits `argv` into options and positionals; unknown options and missing values are UsageErrors. */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): Parsed {
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith('--');
    const eq = long ? arg.indexOf('=') : -1;
    const key = long ? arg.slice(2, eq >= 0 ? eq : undefined) : arg.slice(1);
    const spec = specs.find((s) => (long ? s.name === key : s.short === key));
    if (spec === undefined) throw new UsageError(`unknown option ${long ? `--${key}` : arg}`);
    if (!spec.value) {
      if (eq >= 0) throw new UsageError(`--${spec.name} takes no value (got "${arg.slice(eq + 1)}")`);
      options.set(spec.name, true);
    } else if (eq >= 0) {
      options.set(spec.name, arg.slice(eq + 1));
    } else {
      if (i + 1 >= argv.length) throw new UsageError(`--${spec.name} needs a value`);
      options.set(spec.name, argv[++i]);
    }
  }
  return { options, positionals, specs };
}

/** True when a flag was given. */
export function flag(p: Parsed, name: string): boolean {
  return p.options.get(name) === true;
}

/** The raw value of an option, from the command line or its environment variable, with where it
 * came from (`--port` or `EVWIRE_PORT`) for error messages; undefined when neither is set. */
export function raw(p: Parsed, name: string): { value: string; where: string } | undefined {
  const v = p.options.get(name);
  if (typeof v === 'string') return { value: v, where: `--${name}` };
  const env = p.specs.find((s) => s.name === name)?.env;
  const e = env === undefined ? undefined : process.env[env];
  if (e !== undefined && e !== '') return { value: e, where: env! };
  return undefined;
}

/** A string option. */
export function str(p: Parsed, name: string, def: string): string {
  const r = raw(p, name);
  if (r === undefined) return def;
  if (r.value.trim() === '') throw new UsageError(`${r.where}: must not be empty`);
  return r.value;
}

/** An integer option in min..max (decimal or 0x hex). */
export function int(p: Parsed, name: string, def: number, min: number, max: number, what = `an integer (${min}..${max})`): number {
  const r = raw(p, name);
  if (r === undefined) return def;
  return toInt(r.value, r.where, min, max, what);
}

/** A TCP port, 0..65535; undefined when absent and `def` is undefined. */
export function port(p: Parsed, name: string, def: number): number;
export function port(p: Parsed, name: string, def: undefined): number | undefined;
export function port(p: Parsed, name: string, def: number | undefined): number | undefined {
  const r = raw(p, name);
  if (r === undefined) return def;
  return toInt(r.value, r.where, 0, 65535, 'a port (0..65535)');
}

/** One of `choices`. */
export function oneOf<T extends string>(p: Parsed, name: string, def: T, choices: readonly T[]): T {
  const r = raw(p, name);
  if (r === undefined) return def;
  if (!(choices as readonly string[]).includes(r.value)) {
    throw new UsageError(`${r.where}: "${r.value}" is not one of ${choices.join(', ')}`);
  }
  return r.value as T;
}

export function toInt(value: string, where: string, min: number, max: number, what: string): number {
  const s = value.trim();
  const n = /^[+-]?\d+$/.test(s) ? Number(s) : /^0x[0-9a-f]+$/i.test(s) ? parseInt(s, 16) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${where}: "${value}" is not ${what}`);
  return n;
}
