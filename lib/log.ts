// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Logs go through pino. evwire adds one level, `always` (100), above fatal: it prints at every
// level except `silent`, for the few lines an operator must always see (where a server listens,
// why it stopped). Native lines arrive with pino's level numbers and go to the same logger.
import pino from 'pino';
import { InvalidArgumentError, check } from './errors';

export const LOG_LEVELS = Object.freeze({ trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, always: 100 });

export type Logger = pino.Logger<'always'>;
export type LoggerOptions = pino.LoggerOptions<'always'>;

/** A pino logger with the `always` level; options and destination are pino's own. Bad
 * options (an unknown level, say) throw InvalidArgumentError (EW_EINVAL) naming the value. */
export function createLogger(options: LoggerOptions = {}, destination?: pino.DestinationStream): Logger {
  check(typeof options === 'object' && options !== null, 'logger options must be an object', options);
  const custom = { ...(options.customLevels ?? {}), always: LOG_LEVELS.always };
  const level = options.level;
  if (level !== undefined) {
    const names = ['silent', ...Object.keys(LOG_LEVELS), ...Object.keys(custom)];
    check(typeof level === 'string' && names.includes(level), `logger level must be one of ${[...new Set(names)].join(', ')}`, level);
  }
  const opts = { name: 'evwire', ...options, customLevels: custom };
  try {
    return (destination === undefined ? pino(opts) : pino(opts, destination)) as Logger;
  } catch (err) {
    throw new InvalidArgumentError('EW_EINVAL', `logger options rejected by pino: ${(err as Error).message}`, { cause: err });
  }
}

const BY_NUMBER: Record<number, keyof typeof LOG_LEVELS> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
  100: 'always',
};

/** Writes a native line at its level (pino numbers), tagged so it can be told from JS lines. */
export function logNative(logger: Logger, level: number, msg: string): void {
  const name = BY_NUMBER[level] ?? 'info';
  const fn = (logger as unknown as Record<string, ((o: object, m: string) => void) | undefined>)[name];
  if (typeof fn === 'function') fn.call(logger, { src: 'native' }, msg);
  else logger.info({ src: 'native', level }, msg);
}

/** The level number native code should filter at for `logger` (silent: nothing at all). */
export function nativeLevelOf(logger: Logger): number {
  const v = logger.levelVal;
  return Number.isFinite(v) ? v : 1000;
}

/** Writes a line a work thread's logger produced (JSON, already filtered by its level) to the
 * destination of `logger`, so that every thread's lines end up in one place. */
export function writeRawLine(logger: Logger, line: string): void {
  const stream = (logger as unknown as Record<symbol, { write(s: string): unknown } | undefined>)[pino.symbols.streamSym];
  if (stream !== undefined && typeof stream.write === 'function') stream.write(line);
}
