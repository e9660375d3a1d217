// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// One error chain from C to TypeScript: the C core's EW_ERRNO_MAP names every code, the addon
// throws errors carrying that name as `.code`, and this module turns them into classes by
// category. The table below must match the C map and docs/errors.md; test/errors.test.ts checks
// all three.

const BRAND = Symbol.for('evwire.error');

export type ErrorCategory =
  | 'SystemError'
  | 'ProtocolError'
  | 'ClosedError'
  | 'TimeoutError'
  | 'LimitError'
  | 'InvalidArgumentError';

export interface ErrorInfo {
  errno: number;
  category: ErrorCategory;
  message: string;
}

const sys = (errno: number, message: string): ErrorInfo => ({ errno, category: 'SystemError', message });

/** Every code the runtime can report, by name. */
export const ERROR_CODES: Readonly<Record<string, ErrorInfo>> = Object.freeze({
  EW_EPERM: sys(-1, 'operation not permitted'),
  EW_ENOENT: sys(-2, 'no such file or directory'),
  EW_EINTR: sys(-4, 'interrupted system call'),
  EW_EIO: sys(-5, 'i/o error'),
  EW_EBADF: sys(-9, 'bad file descriptor'),
  EW_EAGAIN: sys(-11, 'resource temporarily unavailable'),
  EW_ENOMEM: sys(-12, 'not enough memory'),
  EW_EACCES: sys(-13, 'permission denied'),
  EW_EFAULT: sys(-14, 'bad address in system call argument'),
  EW_EBUSY: sys(-16, 'resource busy or locked'),
  EW_EEXIST: sys(-17, 'file already exists'),
  EW_EINVAL: { errno: -22, category: 'InvalidArgumentError', message: 'invalid argument' },
  EW_ENFILE: sys(-23, 'file table overflow'),
  EW_EMFILE: sys(-24, 'too many open files'),
  EW_ENOSPC: sys(-28, 'no space left on device'),
  EW_EPIPE: sys(-32, 'broken pipe'),
  EW_ERANGE: sys(-34, 'result too large'),
  EW_ENOSYS: sys(-38, 'function not implemented'),
  EW_ENOTSOCK: sys(-88, 'socket operation on non-socket'),
  EW_EMSGSIZE: sys(-90, 'message too long'),
  EW_EPROTONOSUPPORT: sys(-93, 'protocol not supported'),
  EW_ENOTSUP: sys(-95, 'operation not supported'),
  EW_EAFNOSUPPORT: sys(-97, 'address family not supported'),
  EW_EADDRINUSE: sys(-98, 'address already in use'),
  EW_EADDRNOTAVAIL: sys(-99, 'address not available'),
  EW_ENETDOWN: sys(-100, 'network is down'),
  EW_ENETUNREACH: sys(-101, 'network is unreachable'),
  EW_ECONNABORTED: sys(-103, 'software caused connection abort'),
  EW_ECONNRESET: sys(-104, 'connection reset by peer'),
  EW_ENOBUFS: sys(-105, 'no buffer space available'),
  EW_EISCONN: sys(-106, 'socket is already connected'),
  EW_ENOTCONN: sys(-107, 'socket is not connected'),
  EW_ETIMEDOUT: { errno: -110, category: 'TimeoutError', message: 'connection timed out' },
  EW_ECONNREFUSED: sys(-111, 'connection refused'),
  EW_EHOSTUNREACH: sys(-113, 'host is unreachable'),
  EW_EALREADY: sys(-114, 'connection already in progress'),
  EW_EINPROGRESS: sys(-115, 'operation in progress'),
  EW_ECANCELED: sys(-125, 'operation canceled'),
  EW_EOVERFLOW: sys(-75, 'value too large for defined data type'),
  EW_EOF: { errno: -3000, category: 'ClosedError', message: 'end of stream' },
  EW_ECLOSED: { errno: -3001, category: 'ClosedError', message: 'connection is closed' },
  EW_EPROTO_LENGTH: { errno: -3002, category: 'ProtocolError', message: 'frame above maxFrameBytes or line above maxLineBytes' },
  EW_EPROTO_FLAGS: { errno: -3003, category: 'ProtocolError', message: 'frame header has unknown flag bits' },
  EW_EPROTO_TYPE: { errno: -3004, category: 'ProtocolError', message: 'frame uses the reserved type 0' },
  EW_EPROTO_TRUNCATED: { errno: -3005, category: 'ProtocolError', message: 'connection ended inside a frame' },
  EW_EPROTO_DECODE: { errno: -3006, category: 'ProtocolError', message: 'message body failed to decode' },
  EW_ESLOW: { errno: -3007, category: 'LimitError', message: 'peer too slow: queued output above the hard cap' },
  EW_EFLOOD: { errno: -3008, category: 'LimitError', message: "message or byte rate above the connection's limit" },
  EW_EBANNED: { errno: -3009, category: 'LimitError', message: 'peer address is banned' },
  EW_ELIMIT: { errno: -3010, category: 'LimitError', message: 'connection limit reached' },
  EW_ESHUTDOWN: { errno: -3011, category: 'ClosedError', message: 'runtime is shutting down' },
  EW_ESTATE: { errno: -3012, category: 'InvalidArgumentError', message: 'operation not valid in the current state' },
  EW_EPROTO_HTTP: { errno: -3013, category: 'ProtocolError', message: 'malformed HTTP message or one over a limit' },
  EW_ETIMEOUT_IDLE: { errno: -3014, category: 'TimeoutError', message: 'no data received within the idle timeout' },
  EW_ETIMEOUT_PARTIAL: { errno: -3015, category: 'TimeoutError', message: 'a frame was begun and not finished within the partial timeout' },
  EW_ETIMEOUT_FIRST: { errno: -3016, category: 'TimeoutError', message: 'no complete message within the first-message timeout' },
  EW_EDENIED: { errno: -3017, category: 'ClosedError', message: 'connection refused by the accept hook' },
  EW_EWORKER: { errno: -3018, category: 'ClosedError', message: 'the work thread exited' },
  EW_ENOTASK: { errno: -3019, category: 'InvalidArgumentError', message: 'no task of that name on the target thread' },
  EW_EAI_NONAME: sys(-3020, 'host name not found'),
  EW_EAI_AGAIN: sys(-3021, 'temporary failure in name resolution'),
  EW_EAI_FAIL: sys(-3022, 'permanent failure in name resolution'),
  EW_EAI_OTHER: sys(-3023, 'name resolution failed'),
  EW_EHTTP_RES_HEADERS: { errno: -3024, category: 'ProtocolError', message: 'HTTP response head above maxHeaderBytes or maxHeaders' },
  EW_EHTTP_RES_BODY: { errno: -3025, category: 'ProtocolError', message: 'HTTP response body above maxBodyBytes' },
  EW_EPROTO_CRYPTO: { errno: -3026, category: 'ProtocolError', message: 'an encrypted frame did not verify' },
  EW_EPROTO_HANDSHAKE: { errno: -3027, category: 'ProtocolError', message: 'message-encryption handshake failed' },
  EW_EPROTO_PLAINTEXT: { errno: -3028, category: 'ProtocolError', message: 'plaintext frame where encryption is required, or the reverse' },
  EW_ETIMEOUT_HANDSHAKE: { errno: -3029, category: 'TimeoutError', message: 'encryption or TLS handshake not finished in time' },
  EW_ETLS_HANDSHAKE: { errno: -3030, category: 'ProtocolError', message: 'TLS handshake failed' },
  EW_ETLS_CERT: { errno: -3031, category: 'ProtocolError', message: 'TLS peer certificate missing or not valid' },
  EW_ETLS_VERSION: { errno: -3032, category: 'ProtocolError', message: 'TLS version below the minimum' },
  EW_ETLS_PLAINTEXT: { errno: -3033, category: 'ProtocolError', message: 'not TLS: a plaintext client on a TLS port' },
  EW_ETLS: { errno: -3034, category: 'ProtocolError', message: 'TLS error after the handshake' },
});

const BY_ERRNO = new Map<number, string>(Object.entries(ERROR_CODES).map(([code, i]) => [i.errno, code]));

/** The code name of a numeric EW_* value, 'EW_OK' for 0, 'EW_EUNKNOWN' otherwise. */
export function errorName(errno: number): string {
  if (errno === 0) return 'EW_OK';
  return BY_ERRNO.get(errno) ?? 'EW_EUNKNOWN';
}

export interface EvwireErrorOptions {
  cause?: unknown;
  errno?: number;
  syscall?: string;
  address?: string;
  /** The HTTP status an HTTP server answers this error with, when a handler throws it (4xx). */
  statusCode?: number;
}

/**
 * Base class of every error evwire throws or reports. `code` is a name from ERROR_CODES.
 * `instanceof` works across copies of the package (each instance is branded with
 * Symbol.for('evwire.error')).
 */
export class EvwireError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall?: string;
  readonly address?: string;
  /** For errors about an HTTP request (req.json() on a body that is not JSON: 400): the status
   * the server answers with when a handler lets it through. */
  readonly statusCode?: number;
  declare readonly [BRAND]: readonly string[];

  constructor(code: string, message?: string, options: EvwireErrorOptions = {}) {
    super(message ?? ERROR_CODES[code]?.message ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.errno = options.errno ?? ERROR_CODES[code]?.errno ?? 0;
    if (options.syscall !== undefined) this.syscall = options.syscall;
    if (options.address !== undefined) this.address = options.address;
    if (options.statusCode !== undefined) this.statusCode = options.statusCode;
    const chain: string[] = [];
    for (let p = Object.getPrototypeOf(this); p && p !== Error.prototype; p = Object.getPrototypeOf(p)) {
      chain.push(p.constructor.name);
    }
    Object.defineProperty(this, BRAND, { value: Object.freeze(chain), enumerable: false });
    this.name = new.target.name;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    const chain = (value as { [BRAND]?: unknown } | null | undefined)?.[BRAND];
    return Array.isArray(chain) && chain.includes(this.name);
  }
}

/** A failed system call or name resolution (EADDRINUSE, ECONNRESET, EAI_NONAME, ...). */
export class SystemError extends EvwireError {}
/** The peer broke the wire format: bad frame header, oversize frame, undecodable body. */
export class ProtocolError extends EvwireError {}
/** The connection or runtime is closed (or closing), so the operation cannot proceed. */
export class ClosedError extends EvwireError {}
/** Something did not happen in time. */
export class TimeoutError extends EvwireError {}
/** A limit was exceeded: output hard cap, flood, ban, connection limit. */
export class LimitError extends EvwireError {}
/** An argument was rejected before it reached native code. */
export class InvalidArgumentError extends EvwireError {}

const CLASSES: Record<ErrorCategory, new (code: string, message?: string, options?: EvwireErrorOptions) => EvwireError> = {
  SystemError,
  ProtocolError,
  ClosedError,
  TimeoutError,
  LimitError,
  InvalidArgumentError,
};

/** Builds the error of the right class for `code`. */
export function makeError(code: string, message?: string, options?: EvwireErrorOptions): EvwireError {
  const cls = CLASSES[ERROR_CODES[code]?.category ?? 'SystemError'];
  return new cls(code, message, options);
}

/** Converts an error thrown by the addon (plain Error with .code/.errno/.syscall/.address). */
export function fromNative(err: unknown): EvwireError | unknown {
  const e = err as { code?: unknown; message?: string; errno?: number; syscall?: string; address?: string };
  if (e === null || typeof e !== 'object' || typeof e.code !== 'string' || !e.code.startsWith('EW_')) return err;
  return makeError(e.code, e.message, { errno: e.errno, syscall: e.syscall, address: e.address, cause: err });
}

/** How an offending value reads in an error message: strings quoted, short. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'bigint') return `${v}n`;
  if (v === null || typeof v !== 'object') return String(v);
  if (Array.isArray(v)) return v.length > 8 ? `an array of ${v.length}` : `[${v.map(describeValue).join(', ')}]`;
  return 'an object';
}

/** Throws InvalidArgumentError(EW_EINVAL) with `message` unless `ok`. With a third argument,
 * the message ends with the offending value: `port must be 0..65535, got "abc"`. */
export function check(ok: boolean, message: string, ...value: [unknown?]): asserts ok {
  if (!ok) throw new InvalidArgumentError('EW_EINVAL', value.length === 0 ? message : `${message}, got ${describeValue(value[0])}`);
}
