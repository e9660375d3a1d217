// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Outbound connections: a Link is one long-lived client connection to a peer, the client side
// of what a Server is for accepted ones. It resolves the peer's name (dns.lookup, off the IO
// threads), asks the IO thread for one attempt at a time (native/core/src/link.c: non-blocking
// connects to every address in turn, with a timeout), and once connected runs the socket as a
// Connection like any accepted one: the same codecs, limits, backpressure and records. When the
// connection drops, the link waits (exponential backoff with jitter) and connects again; the
// Link object stays the same across reconnects, and what is sent while it is down is queued,
// bounded, and written in order after the next connect.
import { lookup } from 'dns/promises';
import { EventEmitter } from 'events';
import * as net from 'net';
import type { Buffer } from 'buffer';
import type { CloseReason, Connection, Message, SendOptions } from './connection';
import type { EncryptionOptions } from './encryption';
import type { TlsClientOptions } from './tls';
import { ERROR_CODES, InvalidArgumentError, check, errorName, makeError, type EvwireError } from './errors';
import type { KickInfo, Limits } from './limits';
import { requireTypeId, type MessageClass } from './messages';
import type { NativeRuntime } from './native';
import type { Logger } from './log';
import {
  kAllowHalfOpen,
  kClosed,
  kConnectionClosed,
  kDestroyWith,
  kHighWatermark,
  kHttpRequest,
  kHttpResponse,
  kKicked,
  kLowWatermark,
  kMaxBuffered,
  kOwnWriter,
  kRaw,
  kRoute,
} from './internal/symbols';

/** How a link reconnects after its connection drops or an attempt fails. */
export interface ReconnectOptions {
  /** The wait before the first retry (0 counts as 1). Default 100. */
  initialDelayMs?: number;
  /** The longest wait. Default 10000. */
  maxDelayMs?: number;
  /** Each wait is the previous one times this (before jitter). Default 2. */
  factor?: number;
  /** 'full': each wait is drawn uniformly from [0, the backoff] (AWS's "full jitter"), so that
   * many clients of one restarted server do not come back at once; 'none': the backoff itself.
   * Default 'full'. */
  jitter?: 'full' | 'none';
  /** Attempts in a row (the first included) before the link gives up and closes; Infinity
   * never does. Default Infinity. The count (and the backoff) starts again only after a
   * connection that stayed up at least 1 s (or initialDelayMs, if longer): a server that
   * accepts and closes at once meets growing waits. */
  maxAttempts?: number;
}

export interface ConnectOptions {
  protocol: 'tcp' | 'lines';
  /** A host name (resolved with dns.lookup, every address tried in turn) or a numeric address. */
  host: string;
  port: number;
  /** 'frames' (default) or 'raw' byte chunks ('data' events, write()); protocol 'lines' has
   * lines ('line' events, write()). */
  framing?: 'frames' | 'raw';
  /** protocol 'lines': the longest line (as for listen), default 64 KiB. */
  maxLineBytes?: number;
  /** @internal Set by the 'lines' protocol: DATA records are lines. */
  lines?: boolean;
  /** How long one attempt may take, all addresses together (each gets an equal share of what
   * is left). Default 10000; 0: no limit. */
  connectTimeoutMs?: number;
  /** Reconnect after a drop or a failed attempt (default: on, with the defaults above); false:
   * the first failure rejects connect(), and a drop closes the link. */
  reconnect?: ReconnectOptions | false;
  /** Bytes kept while disconnected (frames count their 12-byte header): sent in order after
   * the next connect. Beyond it send() returns false and the message is refused (counted in
   * stats().queueRefused). Default 1 MiB; 0 queues nothing. */
  queueWhileDisconnected?: number;
  /** As for listen(): the frame limit, the watermarks, the output cap, TCP_NODELAY,
   * allowHalfOpen, the decode policy and the protection limits of the link's connections. */
  maxFrameBytes?: number;
  highWatermark?: number;
  lowWatermark?: number;
  maxBufferedBytes?: number;
  noDelay?: boolean;
  allowHalfOpen?: boolean;
  decodeErrorPolicy?: 'close' | 'drop';
  limits?: Limits;
  /** Message encryption (docs/encryption.md): mode 'required' and the server's public key to
   * pin. Sends wait in the IO thread until the handshake finished. Default off. */
  encryption?: EncryptionOptions;
  /** TLS (docs/tls.md): true for the defaults (the system's CAs, the host as server name), or
   * the options. Default off. */
  tls?: TlsClientOptions | boolean;
}

/** Why the link is retrying: the attempt number to come, the wait before it, what failed. */
export interface ReconnectInfo {
  attempt: number;
  delayMs: number;
  error: EvwireError;
}

export interface LinkStats {
  /** Connections made, and attempts that failed. */
  connects: number;
  failedAttempts: number;
  /** Messages and bytes now queued while disconnected, and messages refused by the bound. */
  queued: number;
  queuedBytes: number;
  queueRefused: number;
  /** Messages received and sent over all the link's connections. */
  messagesIn: number;
  messagesOut: number;
}

export interface LinkEvents {
  /** A connection is up (the first, or a reconnect); queued messages are already written. */
  connect: [];
  /** The connection dropped (its reason); a reconnect follows unless the link is closing. */
  disconnect: [reason: CloseReason];
  /** An attempt failed or the connection dropped: the next attempt comes after delayMs. */
  reconnecting: [info: ReconnectInfo];
  message: [msg: Message];
  data: [chunk: Buffer];
  /** protocol 'lines': one line, its terminator removed (a view valid until the listener returns). */
  line: [line: Buffer];
  drain: [];
  end: [];
  kicked: [info: KickInfo];
  /** The link is finished (close(), destroy(), reconnect off or maxAttempts spent): `error`
   * says why when it was not asked for. Emitted once. */
  close: [error: EvwireError | null];
}

/** Type, flags and seq of the frame a typed handler receives. */
export interface LinkFrameInfo {
  type: number;
  flags: number;
  seq: number;
}

type LinkHandler = { cls: MessageClass<unknown, unknown>; fn: (link: Link, msg: unknown, frame: LinkFrameInfo) => void };

type Queued = { raw: false; type: number; flags: number; seq: number; bytes: Uint8Array } | { raw: true; bytes: Uint8Array };

/** @internal What a link needs from its thread. */
export interface LinkHost {
  readonly nrt: NativeRuntime;
  readonly logger: Logger;
  /** This thread's port: the link's connections are delivered here. */
  readonly portIndex: number;
  readonly ioThreads: number;
  /** The link is finished: forget it. */
  linkDone(link: Link): void;
}

const enum State {
  Connecting = 0,
  Open = 1,
  Waiting = 2,
  Closing = 3,
  Closed = 4,
}

const DEFAULT_QUEUE = 1 << 20;

/** @internal Validated options, with the defaults applied. */
export interface LinkOptions {
  host: string;
  port: number;
  raw: boolean;
  lines: boolean;
  connectTimeoutMs: number;
  reconnect: Required<ReconnectOptions> | null;
  queueBytes: number;
  allowHalfOpen: boolean;
  decodeErrorPolicy: 'close' | 'drop';
  highWatermark: number;
  lowWatermark: number;
  maxBufferedBytes: number;
  limits: Required<Limits>;
  /** TLS or message encryption: a connection is up once its handshake finished. */
  secure: boolean;
}

function integer(v: unknown, name: string, min: number, max: number): number {
  check(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max, `${name} must be an integer in ${min}..${max}`, v);
  return v;
}

/** @internal Validates the link-only options of connect() (the connection options are
 * validated as listen() validates them, by the caller). */
export function linkOptions(o: ConnectOptions, conn: { highWatermark: number; lowWatermark: number; maxBufferedBytes: number; limits: Required<Limits> }): LinkOptions {
  check(typeof o.host === 'string' && o.host !== '', 'host must be a non-empty string', o.host);
  const port = integer(o.port, 'port', 1, 65535);
  const framing = o.framing ?? 'frames';
  check(framing === 'frames' || framing === 'raw', "framing must be 'frames' or 'raw'", framing);
  const connectTimeoutMs = integer(o.connectTimeoutMs ?? 10000, 'connectTimeoutMs', 0, 0x7fffffff);
  let reconnect: Required<ReconnectOptions> | null = null;
  if (o.reconnect !== false) {
    const r = o.reconnect ?? {};
    check(typeof r === 'object' && r !== null, 'reconnect must be an object or false', r);
    const initialDelayMs = integer(r.initialDelayMs ?? 100, 'reconnect.initialDelayMs', 0, 0x7fffffff);
    const maxDelayMs = integer(r.maxDelayMs ?? 10000, 'reconnect.maxDelayMs', 0, 0x7fffffff);
    check(maxDelayMs >= initialDelayMs, `reconnect.maxDelayMs (${maxDelayMs}) must be at least initialDelayMs (${initialDelayMs})`);
    const factor = r.factor ?? 2;
    check(typeof factor === 'number' && Number.isFinite(factor) && factor >= 1, 'reconnect.factor must be a finite number >= 1', factor);
    const jitter = r.jitter ?? 'full';
    check(jitter === 'full' || jitter === 'none', "reconnect.jitter must be 'full' or 'none'", jitter);
    const maxAttempts = r.maxAttempts ?? Infinity;
    check(maxAttempts === Infinity || (Number.isInteger(maxAttempts) && maxAttempts >= 1), 'reconnect.maxAttempts must be an integer >= 1 or Infinity', maxAttempts);
    reconnect = { initialDelayMs, maxDelayMs, factor, jitter, maxAttempts };
  }
  const queueBytes = integer(o.queueWhileDisconnected ?? DEFAULT_QUEUE, 'queueWhileDisconnected', 0, Number.MAX_SAFE_INTEGER);
  const decodeErrorPolicy = o.decodeErrorPolicy ?? 'close';
  check(decodeErrorPolicy === 'close' || decodeErrorPolicy === 'drop', "decodeErrorPolicy must be 'close' or 'drop'", decodeErrorPolicy);
  return {
    host: o.host,
    port,
    raw: framing === 'raw',
    lines: o.lines === true,
    connectTimeoutMs,
    reconnect,
    queueBytes,
    allowHalfOpen: o.allowHalfOpen ?? false,
    decodeErrorPolicy,
    ...conn,
    secure: (o.tls !== undefined && o.tls !== false) || (o.encryption?.mode ?? 'off') !== 'off',
  };
}

/** The wait before attempt `attempt` (2, 3, ...): initial * factor^(attempt-2), capped, then
 * jittered. */
export function backoffDelay(r: Required<ReconnectOptions>, attempt: number, random: () => number = Math.random): number {
  // At least 1 ms, so that initialDelayMs 0 still backs off instead of retrying in a loop.
  const base = Math.min(r.maxDelayMs, Math.max(1, r.initialDelayMs) * Math.pow(r.factor, Math.max(0, attempt - 2)));
  return Math.round(r.jitter === 'full' ? random() * base : base);
}

/**
 * One outbound connection that reconnects. Sends, writes and typed handlers work as on an
 * accepted Connection, whether the link is up or not (see send()). Events: 'connect',
 * 'disconnect', 'reconnecting', 'message' / 'data', 'drain', 'end', 'kicked', 'close'.
 */
export class Link extends EventEmitter<LinkEvents> {
  readonly id: number;
  get protocol(): 'tcp' | 'lines' {
    return this.#o.lines ? 'lines' : 'tcp';
  }
  /** @internal */ readonly [kRaw]: boolean;
  /** @internal */ readonly [kAllowHalfOpen]: boolean;
  /** @internal */ readonly [kHighWatermark]: number;
  /** @internal */ readonly [kLowWatermark]: number;
  /** @internal */ readonly [kMaxBuffered]: number;
  /** @internal */ readonly [kOwnWriter]: string | null = null;
  readonly limits: Required<Limits>;
  readonly #host: LinkHost;
  readonly #o: LinkOptions;
  readonly #handlers = new Map<number, LinkHandler>();
  #state = State.Connecting;
  #conn: Connection | null = null;
  /** A connection whose TLS or encryption handshake is under way: not up yet. */
  #handshaking: Connection | null = null;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #queue: Queued[] = [];
  #queuedBytes = 0;
  #stats = { connects: 0, failedAttempts: 0, queueRefused: 0, messagesIn: 0, messagesOut: 0 };
  #first: { resolve: (l: Link) => void; reject: (e: EvwireError) => void } | null = null;
  /** When the connection now up came up (Date.now()). */
  #upSince = 0;
  #closeError: EvwireError | null = null;
  #destroying = false;

  /** @internal */
  constructor(host: LinkHost, id: number, o: LinkOptions) {
    super();
    this.#host = host;
    this.id = id;
    this.#o = o;
    this[kRaw] = o.raw;
    this[kAllowHalfOpen] = o.allowHalfOpen;
    this[kHighWatermark] = o.highWatermark;
    this[kLowWatermark] = o.lowWatermark;
    this[kMaxBuffered] = o.maxBufferedBytes;
    this.limits = o.limits;
  }

  /** @internal Starts the first attempt; resolves once connected (see Runtime.connect). */
  start(): Promise<Link> {
    const p = new Promise<Link>((resolve, reject) => (this.#first = { resolve, reject }));
    this.#attemptNow();
    return p;
  }

  /** Whether a connection is up now. */
  get connected(): boolean {
    return this.#state === State.Open;
  }

  /** The connection now up, or null: its address, stats() and socket options. */
  get connection(): Connection | null {
    return this.#conn;
  }

  get remoteAddress(): string | undefined {
    return this.#conn?.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#conn?.remotePort;
  }

  /** Where the link connects to. */
  get host(): string {
    return this.#o.host;
  }

  get port(): number {
    return this.#o.port;
  }

  /** True once 'close' has been emitted. */
  get closed(): boolean {
    return this.#state === State.Closed;
  }

  /**
   * Sends one frame, as Connection.send(). While the link is down (connecting, or waiting to
   * reconnect) the frame is queued (its bytes are copied) and written in order after the next
   * connect; true then, or false, and nothing kept, when the queue (queueWhileDisconnected) is
   * full. Up, it returns Connection.send()'s answer (false above highWatermark, 'drain'
   * follows). False once the link is closing or closed.
   */
  send(type: number, body?: Uint8Array | string, opts?: SendOptions): boolean;
  send<T, I>(cls: MessageClass<T, I>, message: I, opts?: SendOptions): boolean;
  send(type: number | MessageClass<unknown, unknown>, body?: unknown, opts?: SendOptions): boolean {
    // A connection that is ending (the peer's FIN, answered) takes nothing more: the message
    // is queued for the next one, as while down.
    if (this.#conn !== null && !this.#conn.ended) {
      const ok = this.#conn.send(type as number, body as Uint8Array, opts);
      this.#stats.messagesOut++;
      return ok;
    }
    if (this[kRaw]) throw new InvalidArgumentError('EW_EINVAL', `send() writes a frame, but this link has framing: 'raw': use write(bytes)`);
    let t: number;
    let bytes: Uint8Array;
    if (typeof type === 'number') {
      t = type;
      check(t === (t & 0xffff) && t !== 0, 'frame type must be 1..65535', type);
      if (body instanceof Uint8Array) bytes = Uint8Array.prototype.slice.call(body);
      else if (body === undefined) bytes = new Uint8Array(0);
      else if (typeof body === 'string') bytes = new TextEncoder().encode(body);
      else throw makeError('EW_EINVAL', 'body must be a Uint8Array or a string');
    } else {
      t = requireTypeId(type);
      bytes = type.encode(body).finish();
    }
    const flags = opts?.flags ?? 0;
    const seq = opts?.seq ?? 0;
    check(flags === (flags & 7), 'frame flags must be within 0x7 (encrypted, reply, error)', flags);
    check(seq === seq >>> 0, 'seq must be a u32', seq);
    return this.#enqueue({ raw: false, type: t, flags, seq, bytes }, bytes.length + 12);
  }

  /** Raw framing: writes bytes, queued while down as send() is. */
  write(bytes: Uint8Array | string): boolean {
    if (this.#conn !== null && !this.#conn.ended) {
      const ok = this.#conn.write(bytes);
      this.#stats.messagesOut++;
      return ok;
    }
    check(this[kRaw], "write() writes raw bytes, but this link has framing: 'frames': use send(type, body)");
    const b = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : Uint8Array.prototype.slice.call(bytes);
    return this.#enqueue({ raw: true, bytes: b }, b.length);
  }

  #enqueue(q: Queued, size: number): boolean {
    if (this.#state >= State.Closing) return false;
    if (size > this[kMaxBuffered]) throw makeError('EW_EMSGSIZE', `a message of ${size} bytes exceeds the link's maxBufferedBytes (${this[kMaxBuffered]}); nothing was sent`);
    if (this.#queuedBytes + size > this.#o.queueBytes) {
      this.#stats.queueRefused++;
      return false;
    }
    this.#queue.push(q);
    this.#queuedBytes += size;
    return true;
  }

  /** Registers a typed handler for replies of `cls`'s type (framing 'frames'). */
  handle<T, I>(cls: MessageClass<T, I>, fn: (link: Link, msg: T, frame: LinkFrameInfo) => void): this {
    check(!this[kRaw], "typed handlers need framing: 'frames'");
    check(typeof fn === 'function', 'handler must be a function', fn);
    this.#handlers.set(requireTypeId(cls), { cls: cls as MessageClass<unknown, unknown>, fn: fn as LinkHandler['fn'] });
    return this;
  }

  /**
   * Closes the link: no more attempts; a connection up is ended gracefully (what was sent is
   * written, then our FIN), and closed once the peer has closed its side too, or at
   * `timeoutMs` (default 5000; 0: wait for the peer however long it takes), whichever comes
   * first. What is still queued is dropped. 'close' follows (with null). Resolves once it has.
   * Idempotent (a second call's timeout is ignored).
   */
  close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('EW_EINVAL', `close: options must be an object, got ${String(opts)}`);
    const ms = opts.timeoutMs ?? 5000;
    if (!Number.isInteger(ms) || ms < 0 || ms > 0x7fffffff) throw new InvalidArgumentError('EW_EINVAL', `close: timeoutMs must be an integer in 0..2^31-1, got ${String(ms)}`);
    return this.#finish(null, false, ms);
  }

  /** As close(), but a connection up is closed at once, its queued output discarded. */
  destroy(): void {
    void this.#finish(null, true);
  }

  stats(): LinkStats {
    return { ...this.#stats, queued: this.#queue.length, queuedBytes: this.#queuedBytes };
  }

  // ---- the state machine ---------------------------------------------------------------------

  #attemptNow(): void {
    this.#timer = null;
    if (this.#state >= State.Closing) return;
    this.#state = State.Connecting;
    this.#attempt++;
    const attempt = this.#attempt;
    void this.#resolve().then(
      (addrs) => {
        if (this.#state !== State.Connecting || attempt !== this.#attempt) return;
        try {
          this.#host.nrt.linkConnect(this.id, addrs, this.#o.port, this.#o.connectTimeoutMs, this.id % this.#host.ioThreads);
        } catch (err) {
          this.#failed(err as EvwireError);
        }
      },
      (err: EvwireError) => {
        if (this.#state === State.Connecting && attempt === this.#attempt) this.#failed(err);
      },
    );
  }

  /** The peer's addresses, numeric ones as they are; at most 16 (what one attempt tries). */
  async #resolve(): Promise<string[]> {
    const h = this.#o.host;
    if (net.isIP(h) !== 0) return [h];
    try {
      // The name's resolution counts against connectTimeoutMs too.
      const ms = this.#o.connectTimeoutMs;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const all = await (ms === 0
        ? lookup(h, { all: true })
        : Promise.race([
            lookup(h, { all: true }),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(makeError('EW_ETIMEDOUT', `${h} did not resolve within connectTimeoutMs (${ms} ms)`, { syscall: 'getaddrinfo' })), ms);
            }),
          ]).finally(() => clearTimeout(timer)));
      return all.slice(0, 16).map((a) => a.address);
    } catch (err) {
      if (err instanceof Error && (err as EvwireError).code === 'EW_ETIMEDOUT') throw err;
      const e = err as NodeJS.ErrnoException;
      const code = e.code === 'ENOTFOUND' ? 'EW_EAI_NONAME' : e.code === 'EAI_AGAIN' ? 'EW_EAI_AGAIN' : 'EW_EAI_OTHER';
      throw makeError(code, `${ERROR_CODES[code].message} (getaddrinfo) ${h}`, { syscall: 'getaddrinfo' });
    }
  }

  /** @internal A connection attempt failed natively (errno: a negative EW_* value). */
  attemptFailed(errno: number, sysErrno: number): void {
    if (this.#state !== State.Connecting) return;
    const code = errorName(errno);
    this.#failed(makeError(code, `${ERROR_CODES[code]?.message ?? 'connect failed'} (connect) ${this.#o.host}:${this.#o.port}`, { errno, syscall: sysErrno ? 'connect' : undefined }));
  }

  #failed(err: EvwireError): void {
    this.#stats.failedAttempts++;
    this.#retryOrFinish(err);
  }

  #retryOrFinish(err: EvwireError): void {
    const r = this.#o.reconnect;
    if (r === null || this.#attempt >= r.maxAttempts) {
      void this.#finish(err, true);
      return;
    }
    const delayMs = backoffDelay(r, this.#attempt + 1);
    this.#state = State.Waiting;
    this.#timer = setTimeout(() => this.#attemptNow(), delayMs);
    this.emit('reconnecting', { attempt: this.#attempt + 1, delayMs, error: err });
  }

  /** @internal A connection of this link opened (ThreadContext.open). */
  opened(conn: Connection): void {
    if (this.#state !== State.Connecting) {
      // Closed meanwhile: this connection is not wanted.
      conn.destroy();
      return;
    }
    if (this.#o.secure && conn.secure === null) {
      // Up once the handshake finished: a server that fails it (a certificate that does not
      // verify) is a failed attempt, which connect() and the reconnect policy see as such;
      // what is sent meanwhile waits in the link's queue.
      this.#handshaking = conn;
      conn.once('secure', () => {
        if (this.#handshaking !== conn) return;
        this.#handshaking = null;
        this.#up(conn);
      });
      return;
    }
    this.#up(conn);
  }

  #up(conn: Connection): void {
    this.#state = State.Open;
    this.#conn = conn;
    this.#upSince = Date.now();
    this.#stats.connects++;
    conn.on('drain', () => this.emit('drain'));
    conn.on('end', () => this.emit('end'));
    conn.on('kicked', (info) => this.emit('kicked', info));
    // What was queued while down goes first, in order.
    const q = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const m of q) {
      if (m.raw) conn.write(m.bytes);
      else conn.send(m.type, m.bytes, { flags: m.flags, seq: m.seq });
      this.#stats.messagesOut++;
    }
    this.emit('connect');
    const first = this.#first;
    this.#first = null;
    first?.resolve(this);
  }

  #finishing: Promise<void> | null = null;

  /** `closeMs`: a graceful end's bound (close()), 0 for none. */
  #finish(err: EvwireError | null, hard: boolean, closeMs = 0): Promise<void> {
    if (this.#state === State.Closed) return this.#finishing ?? Promise.resolve();
    if (this.#handshaking !== null) {
      this.#handshaking.destroy();
      this.#handshaking = null;
    }
    if (hard && this.#conn !== null && !this.#destroying) {
      this.#destroying = true;
      this.#conn.destroy();
    }
    if (this.#finishing !== null) return this.#finishing;
    this.#closeError = err;
    this.#state = State.Closing;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    try {
      this.#host.nrt.linkClose(this.id);
    } catch {
      // The runtime is stopping: its IO threads free the link's attempts themselves.
    }
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#finishing = new Promise<void>((resolve) => {
      if (this.#conn === null) {
        process.nextTick(() => {
          this.#closed();
          resolve();
        });
        return;
      }
      const conn = this.#conn;
      let bound: ReturnType<typeof setTimeout> | null = null;
      this.once('close', () => {
        if (bound !== null) clearTimeout(bound);
        resolve();
      });
      if (!hard) {
        conn.end();
        // A peer that never closes its side would hold the link (and its caller) for ever.
        if (closeMs > 0) bound = setTimeout(() => conn.destroy(), closeMs);
      }
    });
    return this.#finishing;
  }

  #closed(): void {
    if (this.#state === State.Closed) return;
    this.#state = State.Closed;
    this.#host.linkDone(this);
    const first = this.#first;
    this.#first = null;
    first?.reject(this.#closeError ?? makeError('EW_ECANCELED', `the link to ${this.#o.host}:${this.#o.port} was closed before it connected`));
    this.emit('close', this.#closeError);
  }

  /** @internal The runtime stopped: the connection (if any) is gone, no timer is left. */
  stopped(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const conn = this.#conn;
    this.#closeError ??= makeError('EW_ESHUTDOWN', 'the runtime stopped');
    this.#state = State.Closing;
    if (conn !== null) conn[kClosed](ERROR_CODES.EW_ESHUTDOWN.errno, 0);
    else this.#closed();
  }

  // ---- ConnectionOwner -----------------------------------------------------------------------

  /** @internal */
  [kRoute](conn: Connection, type: number, flags: number, seq: number, body: Buffer): void {
    this.#stats.messagesIn++;
    if (this[kRaw]) {
      this.emit(this.#o.lines ? 'line' : 'data', body);
      return;
    }
    const h = this.#handlers.size === 0 ? undefined : this.#handlers.get(type);
    if (h === undefined) {
      this.emit('message', { type, flags, seq, body });
      return;
    }
    let msg: unknown;
    try {
      msg = h.cls.decode(body);
    } catch (err) {
      this.#host.logger.debug({ link: this.id, type, err }, 'message body failed to decode');
      if (this.#o.decodeErrorPolicy === 'close') conn[kDestroyWith](ERROR_CODES.EW_EPROTO_DECODE.errno);
      return;
    }
    h.fn(this, msg, { type, flags, seq });
  }

  /** @internal Links speak frames or raw bytes. */
  [kHttpRequest](conn: Connection): void {
    conn[kDestroyWith](ERROR_CODES.EW_EINVAL.errno);
  }

  /** @internal Where the responses of an HTTP link's connections go: set by its HttpLink
   * (lib/http-client.ts), which drives this link; other links refuse them. */
  [kHttpResponse]: ((conn: Connection, buf: Buffer, off: number, len: number, more: boolean) => void) | undefined = undefined;

  /** @internal */
  [kKicked](): void {
    // The connection emitted 'kicked'; the link forwards it from there.
  }

  /** @internal The connection is gone: reconnect, or finish. */
  [kConnectionClosed](conn: Connection): void {
    if (conn === this.#handshaking) {
      // The handshake failed (or the server went away during it): a failed attempt.
      this.#handshaking = null;
      const reason = conn.closeReason!;
      process.nextTick(() => {
        if (this.#state !== State.Connecting) return;
        this.#failed(reason.error ?? makeError(reason.code === 'EW_OK' ? 'EW_ECLOSED' : reason.code, `the handshake with ${this.#o.host}:${this.#o.port} failed (${reason.code})`));
      });
      return;
    }
    if (conn !== this.#conn) return;
    this.#conn = null;
    const reason = conn.closeReason!;
    // 'close' on the connection comes right after this call: the link reacts on the next tick,
    // so that listeners of both see the connection's close first.
    process.nextTick(() => {
      this.emit('disconnect', reason);
      if (this.#state >= State.Closing) {
        this.#closed();
        return;
      }
      this.#state = State.Connecting;
      // The backoff starts again only after a connection that stayed up a while: a server that
      // accepts and closes at once (overloaded, or refusing this client) gets growing waits and
      // counts against maxAttempts, instead of a reconnect every initialDelayMs for ever.
      if (Date.now() - this.#upSince >= Math.max(1000, this.#o.reconnect?.initialDelayMs ?? 0)) this.#attempt = 0;
      const err = reason.error ?? makeError(reason.code === 'EW_OK' ? 'EW_ECLOSED' : reason.code, `the connection to ${this.#o.host}:${this.#o.port} closed (${reason.code})`);
      this.#retryOrFinish(err);
    });
  }
}

