// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { Buffer } from 'buffer';
import { EventEmitter } from 'events';
import { ERROR_CODES, EvwireError, InvalidArgumentError, errorName, makeError } from './errors';
import type { Engine } from './internal/engine';
import {
  CONN_OPT_KEEPALIVE,
  CONN_OPT_KEEPIDLE,
  CONN_OPT_NODELAY,
  CONN_OPT_PAUSE,
  FRAME_FLAGS_KNOWN,
  FRAME_FLAG_ENCRYPTED,
  REC_DATA,
  REC_DESTROY,
  REC_END,
  SECURE_PEER_CERT,
  SECURE_REUSED,
  SECURE_TLS,
  REC_FAULT,
  REC_F_MORE,
  REC_HTTP_REQ,
  REC_HTTP_RES,
  REC_SHUTDOWN,
  REC_WATCH,
} from './gen/wire';
import { requireTypeId, type MessageClass } from './messages';
import type { KickInfo, Limits } from './limits';
import type { TaskType } from './messages';
import {
  kAllowHalfOpen,
  kClosed,
  kConnectionClosed,
  kData,
  kDestroyWith,
  kDrain,
  kEndWith,
  kFault,
  kGen,
  kHighWatermark,
  kHttpData,
  kHttpRequest,
  kHttpResData,
  kSecure,
  kHttpResponse,
  kIdLo,
  kIo,
  kKicked,
  kLowWatermark,
  kMaxBuffered,
  kPeerEnd,
  kRaw,
  kRoute,
  kSlot,
  kWrote,
  kOwnWriter,
} from './internal/symbols';

/** A frame as the peer sent it. `body` is a view into ring memory, valid until the handler
 * returns: keep `Buffer.from(msg.body)` if you need it later. */
export interface Message {
  type: number;
  flags: number;
  seq: number;
  body: Buffer;
}

export interface SendOptions {
  /** Request/response correlation (u32); 0 = none. */
  seq?: number;
  /** Frame flags: 1 encrypted, 2 reply, 4 error. */
  flags?: number;
}

/** Why a connection closed. `error` is null for an orderly close. */
export interface CloseReason {
  /** 'EW_OK' (closed by this side), 'EW_EOF' (the peer closed), or an error code. */
  code: string;
  /** The numeric EW_* value (0 for EW_OK). */
  errno: number;
  error: EvwireError | null;
}

const enum State {
  Open = 0,
  Ending = 1,
  Destroying = 2,
  Closed = 3,
}

/** What a connection has received, read from the counters its IO thread publishes. */
export interface ConnectionStats {
  /** Messages (frames, raw chunks, HTTP requests) delivered, and bytes read, since the accept. */
  messagesIn: number;
  bytesIn: number;
  /** Messages sent since the accept: frames (send()), raw chunks (write()), HTTP responses
   * (counted when they end). Counted as they are queued, before the kernel takes them. */
  messagesOut: number;
  /** Bytes written to the kernel. */
  bytesOut: number;
  /** The current window (limits.windowMs): messages and bytes received in it, and how long
   * ago it began. A window with no traffic since it ended reads as zeros. */
  window: { messages: number; bytes: number; ageMs: number };
}

/** What a TLS or message-encryption handshake agreed (conn.secure, the 'secure' event). */
export interface SecureInfo {
  /** 'tls' (docs/tls.md) or 'encryption' (docs/encryption.md). */
  kind: 'tls' | 'encryption';
  /** 'TLSv1.3', 'TLSv1.2', or 'evwire-v1' for message encryption. */
  protocol: string;
  /** The cipher suite ('TLS_AES_256_GCM_SHA384') or cipher ('aes-256-gcm'). */
  cipher: string;
  /** The ALPN protocol agreed, or null. */
  alpn: string | null;
  /** The server name the client asked for (SNI), or null. */
  servername: string | null;
  /** A resumed TLS session. */
  sessionReused: boolean;
  /** The peer presented a certificate that verified (a link: the server's; a server that
   * asks: the client's). */
  authorized: boolean;
}

export interface ConnectionEvents {
  secure: [info: SecureInfo];
  kicked: [info: KickInfo];
  message: [msg: Message];
  data: [chunk: Buffer];
  drain: [];
  end: [];
  timeout: [];
  close: [reason: CloseReason];
}

/** A record that arrived while the connection was paused, kept for resume(). */
interface Held {
  kind: number;
  flags: number;
  type: number;
  seq: number;
  body: Buffer | null;
}

/**
 * One TCP connection, owned by one IO thread and bound to one JS thread for its whole life.
 * Events: 'message' (framed), 'data' (raw framing), 'drain', 'end' (peer half-closed),
 * 'close' (exactly once, with a CloseReason).
 */
/**
 * What a connection needs from the server it belongs to (lib/server.ts implements it): the
 * protocol handler injected into the transport. Typed as the Server itself by server.ts
 * (`conn.server`), so this module imports nothing above it.
 */
export interface ConnectionOwner {
  /** Non-null where the protocol writes through objects of its own: why send() and write() refuse. */
  readonly [kOwnWriter]: string | null;
  readonly limits: Required<Limits>;
  readonly [kRaw]: boolean;
  readonly [kAllowHalfOpen]: boolean;
  readonly [kHighWatermark]: number;
  readonly [kLowWatermark]: number;
  readonly [kMaxBuffered]: number;
  [kRoute](conn: Connection, type: number, flags: number, seq: number, body: Buffer): void;
  [kHttpRequest](conn: Connection, buf: Buffer, off: number, len: number, more: boolean): void;
  /** An HTTP response or a fragment of one (HTTP client links); owners without it refuse one. */
  [kHttpResponse]?(conn: Connection, buf: Buffer, off: number, len: number, more: boolean): void;
  [kKicked](conn: Connection, info: KickInfo): void;
  [kConnectionClosed](conn: Connection): void;
}

/** The type of `conn.server`: lib/server.ts merges the Server class into it (declaration
 * merging), so users see a Server while this module imports nothing above it. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ConnectionServer extends ConnectionOwner {}

export class Connection extends EventEmitter<ConnectionEvents> {
  /** Unique for the runtime's lifetime: generation, IO thread and slot. */
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remoteFamily: 'IPv4' | 'IPv6';
  /** This side's address and port (getsockname at the accept); an IPv4-mapped IPv6 address
   * reads as the IPv4 address, as remoteAddress does. */
  readonly localAddress: string;
  readonly localPort: number;
  /** The server this connection belongs to (its type, Server, is declared by lib/server.ts). */
  declare readonly server: ConnectionServer;
  /** Index of the IO thread that owns this connection (0 … ioThreads - 1). */
  get ioThread(): number {
    return this[kIo];
  }
  /** @internal */ readonly [kIo]: number;
  /** @internal */ readonly [kSlot]: number;
  /** @internal */ readonly [kGen]: number;
  /** @internal */ readonly [kIdLo]: number;
  readonly #engine: Engine;
  #state = State.Open;
  #sent = 0;
  #seenWritten = 0;
  #secure: SecureInfo | null = null;
  #needDrain = false;
  #frags: Buffer[] | null = null;
  #reason: CloseReason | null = null;
  #final: ConnectionStats | null = null;
  #messagesOut = 0;
  #paused = false;
  /** Records that arrived while paused (or wait to be replayed after resume()); null when none
   * are held, which is all the message path tests. */
  #held: Held[] | null = null;
  #timeoutMs = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #seenActivity = 0;
  #idleSince = 0;
  #timedOut = false;

  /** @internal */
  constructor(
    engine: Engine,
    server: ConnectionOwner,
    io: number,
    slot: number,
    gen: number,
    family: number,
    address: string,
    port: number,
  ) {
    super();
    this.#engine = engine;
    (this as { server: ConnectionOwner }).server = server;
    this[kIo] = io;
    this[kSlot] = slot;
    this[kGen] = gen;
    this[kIdLo] = ((io << 24) | slot) >>> 0;
    this.id = gen * 0x100000000 + this[kIdLo];
    this.remoteAddress = address;
    this.remotePort = port;
    this.remoteFamily = family === 6 ? 'IPv6' : 'IPv4';
    this.localAddress = engine.openLocalAddress;
    this.localPort = engine.openLocalPort;
  }

  /** The family of localAddress: the same as the peer's. */
  get localFamily(): 'IPv4' | 'IPv6' {
    return this.remoteFamily;
  }

  /**
   * Sends one frame: `send(type, body?, opts?)` with raw bytes, or `send(MessageClass, object,
   * opts?)` to encode a protobuf message. Returns false once queued output is above the
   * server's highWatermark ('drain' follows below lowWatermark) and on a connection that is
   * closed or ending (nothing is sent then); the frame is never dropped otherwise. Throws
   * InvalidArgumentError for a bad type, flags or seq, and on a `framing: 'raw'` connection,
   * which has no frames (use write()).
   */
  send(type: number, body?: Uint8Array | string, opts?: SendOptions): boolean;
  send<T, I>(cls: MessageClass<T, I>, message: I, opts?: SendOptions): boolean;
  send(type: number | MessageClass<unknown, unknown>, body?: unknown, opts?: SendOptions): boolean {
    // Validation is written as plain tests, not check(), so that no message string is built
    // on the hot path.
    let t: number;
    let bytes: Uint8Array;
    if (typeof type === 'number') {
      t = type;
      if (t !== (t & 0xffff) || t === 0) throw invalid(`frame type must be 1..65535, got ${type}`);
      if (body instanceof Uint8Array) bytes = body;
      else if (body === undefined) bytes = EMPTY;
      else if (typeof body === 'string') bytes = Buffer.from(body);
      else throw invalid('body must be a Uint8Array or a string');
    } else {
      t = requireTypeId(type);
      bytes = type.encode(body).finish();
    }
    let flags = 0;
    let seq = 0;
    if (opts !== undefined) {
      if (opts.flags !== undefined) {
        flags = opts.flags;
        if (flags !== (flags & FRAME_FLAGS_KNOWN & ~FRAME_FLAG_ENCRYPTED)) throw invalid('frame flags must be within 0x6 (reply, error): the encrypted flag is set by message encryption, not by send()');
      }
      if (opts.seq !== undefined) {
        seq = opts.seq;
        if (seq !== seq >>> 0) throw invalid('seq must be a u32');
      }
    }
    const own = this.server[kOwnWriter];
    if (own !== null) throw invalid(`send() on this connection: ${own}`);
    if (this.server[kRaw]) throw invalid(`send(${t}, ...) writes a frame, but this connection has framing: 'raw' (no type or seq on the wire): use write(bytes)`);
    // A message that alone exceeds the output hard cap could only go out in part before the
    // connection is closed EW_ESLOW, leaving the peer a truncated frame: it is refused whole.
    if (bytes.length + 12 > this.server[kMaxBuffered]) throw tooBig(bytes.length + 12, this.server[kMaxBuffered]);
    if (this.#state !== State.Open) return false;
    this.#engine.sendFrame(this, t, flags, seq, bytes);
    this.#sent = (this.#sent + bytes.length + 12) >>> 0;
    this.#messagesOut++;
    return this.checkPressure();
  }

  /** Raw framing: writes bytes as they are. Same return value as send(). */
  write(bytes: Uint8Array | string): boolean {
    if (!this.server[kRaw]) {
      const own = this.server[kOwnWriter];
      throw invalid(own !== null ? `write() on this connection: ${own}` : `write() writes raw bytes, but this connection has framing: 'frames': use send(type, body)`);
    }
    const b = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    if (b.length > this.server[kMaxBuffered]) throw tooBig(b.length, this.server[kMaxBuffered]);
    if (this.#state !== State.Open) return false;
    if (b.length === 0) return true;
    this.#engine.sendRaw(this, b);
    this.#sent = (this.#sent + b.length) >>> 0;
    this.#messagesOut++;
    return this.checkPressure();
  }

  private checkPressure(): boolean {
    // `sent - written` only shrinks as the IO thread writes, so with the last value seen it is
    // an upper bound: most sends return without reading shared memory at all.
    const high = this.server[kHighWatermark];
    if (((this.#sent - this.#seenWritten) >>> 0) <= high) return true;
    const w = this.#engine.written(this[kIo], this[kSlot], this[kGen]);
    if (w >= 0) this.#seenWritten = w;
    if (((this.#sent - this.#seenWritten) >>> 0) <= high) return true;
    if (!this.#needDrain) {
      this.#needDrain = true;
      this.#engine.command(this, REC_WATCH, 0);
    }
    return false;
  }

  /**
   * Half-closes: everything sent so far is written, then our FIN. The connection closes once the
   * peer has ended too ('close' with code EW_OK). Idempotent.
   */
  end(): void {
    if (this.#state !== State.Open) return;
    this.#state = State.Ending;
    this.#engine.command(this, REC_SHUTDOWN, 0);
  }

  /** Closes now, discarding queued output. 'close' follows with code EW_OK. Idempotent. */
  destroy(): void {
    this[kDestroyWith](0);
  }

  /** @internal Closes with a reason code (a negative EW_* value). */
  [kDestroyWith](errno: number): void {
    if (this.#state >= State.Destroying) return;
    this.#state = State.Destroying;
    this.#engine.command(this, REC_DESTROY, errno >>> 0);
  }

  /**
   * Stops reading from the socket, on its IO thread: the kernel's receive buffer fills and the
   * peer feels TCP backpressure. Messages already on their way (in the ring) are held, and
   * delivered after resume(), in order; 'end' waits behind them. The idle, partial-message and
   * HTTP timeouts that wait on the peer are suspended meanwhile. Idempotent; returns this.
   */
  pause(): this {
    if (this.#paused || this.#state === State.Closed) return this;
    this.#paused = true;
    this.#held ??= [];
    this.#engine.option(this, CONN_OPT_PAUSE, 1);
    return this;
  }

  /** Reads again after pause(): the messages held meanwhile are delivered first, from a tick of
   * their own, in order. Idempotent; returns this. */
  resume(): this {
    if (!this.#paused) return this;
    this.#paused = false;
    if (this.#state === State.Closed) return this;
    this.#engine.option(this, CONN_OPT_PAUSE, 0);
    if (this.#held !== null && this.#held.length === 0) this.#held = null;
    else process.nextTick(this.#replay);
    return this;
  }

  /** Whether pause() is in effect. */
  isPaused(): boolean {
    return this.#paused;
  }

  /** Delivers held records until none is left or a handler pauses again. */
  readonly #replay = (): void => {
    const h = this.#held;
    if (h === null || this.#paused) return;
    let i = 0;
    try {
      while (i < h.length && !this.#paused && this.#state !== State.Closed) {
        const r = h[i++];
        if (r.kind === REC_DATA) this.#data(r.flags, r.type, r.seq, r.body!);
        else if (r.kind === REC_HTTP_REQ) this.server[kHttpRequest](this, r.body!, 0, r.body!.length, (r.flags & REC_F_MORE) !== 0);
        else if (r.kind === REC_HTTP_RES) this.#httpResponse(r.body!, 0, r.body!.length, r.flags);
        else if (r.kind === REC_END) this.#peerEnd();
        else this.#fault(r.type);
      }
    } finally {
      h.splice(0, i);
      if (this.#held === h && !this.#paused) {
        if (h.length === 0 || this.#state === State.Closed) this.#held = null;
        else process.nextTick(this.#replay); // a handler threw: the rest follows
      }
    }
  };

  /**
   * Emits 'timeout' once the connection has been idle (no byte read or written, no send) for
   * `ms` milliseconds; it does not close the connection (Node's semantics). Traffic starts the
   * count again, and a new idle period emits again. 0 turns it off. `listener` is added with
   * once('timeout') (removed when ms is 0). It costs the message path nothing: a timer
   * compares the counters the IO thread publishes, a few times per period, so the event comes
   * at most about ms/4 late. Returns this.
   */
  setTimeout(ms: number, listener?: () => void): this {
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) throw invalid(`setTimeout: ms must be a finite number >= 0, got ${String(ms)}`);
    if (listener !== undefined) {
      if (typeof listener !== 'function') throw invalid(`setTimeout: listener must be a function, got ${typeof listener}`);
      if (ms === 0) this.off('timeout', listener);
      else this.once('timeout', listener);
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timeoutMs = ms;
    if (ms === 0 || this.#state === State.Closed) return this;
    this.#seenActivity = this.#activity();
    this.#idleSince = performance.now();
    this.#timedOut = false;
    this.#armTimer(ms);
    return this;
  }

  /** The idle timeout set by setTimeout() (0: none). */
  get timeout(): number {
    return this.#timeoutMs;
  }

  #activity(): number {
    return (this.#engine.activity(this[kIo], this[kSlot], this[kGen]) + this.#sent) >>> 0;
  }

  #armTimer(delay: number): void {
    this.#timer = setTimeout(this.#checkIdle, Math.max(1, Math.ceil(delay)));
    this.#timer.unref();
  }

  readonly #checkIdle = (): void => {
    this.#timer = null;
    const ms = this.#timeoutMs;
    if (ms === 0 || this.#state === State.Closed) return;
    const now = performance.now();
    const a = this.#activity();
    if (a !== this.#seenActivity) {
      this.#seenActivity = a;
      this.#idleSince = now;
      this.#timedOut = false;
    }
    const idle = now - this.#idleSince;
    const step = ms >= 4 ? ms / 4 : ms;
    if (!this.#timedOut && idle >= ms) {
      this.#timedOut = true;
      this.#armTimer(step);
      this.emit('timeout');
      return;
    }
    this.#armTimer(this.#timedOut ? step : Math.min(step, ms - idle));
  };

  /** TCP_NODELAY on (the default: true) or off, set on the IO thread. Returns this. */
  setNoDelay(noDelay = true): this {
    if (this.#state !== State.Closed) this.#engine.option(this, CONN_OPT_NODELAY, noDelay ? 1 : 0);
    return this;
  }

  /**
   * SO_KEEPALIVE on or off, set on the IO thread; with `initialDelay` (ms, rounded down to
   * seconds, at least 1) also TCP_KEEPIDLE, the idle time before the first probe. 0 leaves the
   * delay as it was (Node's semantics). Returns this.
   */
  setKeepAlive(enable = false, initialDelay = 0): this {
    if (typeof initialDelay !== 'number' || !(initialDelay >= 0) || !Number.isFinite(initialDelay)) {
      throw invalid(`setKeepAlive: initialDelay must be a finite number of ms >= 0, got ${String(initialDelay)}`);
    }
    if (this.#state === State.Closed) return this;
    this.#engine.option(this, CONN_OPT_KEEPALIVE, enable ? 1 : 0);
    if (enable && initialDelay > 0) this.#engine.option(this, CONN_OPT_KEEPIDLE, Math.min(0x7fffffff, Math.max(1, Math.floor(initialDelay / 1000))));
    return this;
  }

  /** Bytes sent and not yet taken by the kernel (in rings, in buffers): exact, read without a
   * native call from the counter the IO thread publishes. */
  get bufferedAmount(): number {
    if (this.#state === State.Closed) return 0;
    const w = this.#engine.written(this[kIo], this[kSlot], this[kGen]);
    return w < 0 ? 0 : (this.#sent - w) >>> 0;
  }

  /** True once message encryption's handshake finished (docs/encryption.md): every frame in
   * either direction is encrypted from then on. Read without a native call from the word the
   * IO thread publishes; false on a connection without encryption, and once closed. */
  get encrypted(): boolean {
    if (this.#state === State.Closed) return false;
    return this.#engine.encrypted(this[kIo], this[kSlot], this[kGen]);
  }

  /** What the TLS or message-encryption handshake agreed, once it finished ('secure'); null
   * before, and on a connection with neither. */
  get secure(): SecureInfo | null {
    return this.#secure;
  }

  /** @internal The handshake finished (a SECURE record). */
  [kSecure](flags: number, texts: string): void {
    const [protocol = '', cipher = '', alpn = '', servername = ''] = texts.split('\0');
    this.#secure = {
      kind: (flags & SECURE_TLS) !== 0 ? 'tls' : 'encryption',
      protocol,
      cipher,
      alpn: alpn === '' ? null : alpn,
      servername: servername === '' ? null : servername,
      sessionReused: (flags & SECURE_REUSED) !== 0,
      authorized: (flags & SECURE_PEER_CERT) !== 0,
    };
    if (this.#state !== State.Closed) this.emit('secure', this.#secure);
  }

  /** True once 'close' has been emitted. */
  get closed(): boolean {
    return this.#state === State.Closed;
  }

  /**
   * Runs task `name` on the thread that owns this connection (this one: the handler still runs
   * later, with a copy of the payload, as for any task) with ctx.conn set, and resolves with
   * its reply. From another thread, use tasks.buddy(conn.id, ...).
   */
  buddy<P, R, PI, RI>(task: TaskType<P, R, PI, RI>, payload: PI, opts?: { timeoutMs?: number }): Promise<R>;
  buddy<R = unknown>(name: string, payload?: unknown, opts?: { timeoutMs?: number }): Promise<R>;
  buddy(task: string | TaskType<unknown, unknown, unknown, unknown>, payload?: unknown, opts?: { timeoutMs?: number }): Promise<unknown> {
    const tasks = this.#engine.tasks;
    if (tasks === null) return Promise.reject(new InvalidArgumentError('EW_ESTATE', 'no task scheduler on this thread'));
    return tasks.buddy(this.id, task as string, payload, opts);
  }

  /** True after end() or destroy(), or once closed: send() returns false. */
  get ended(): boolean {
    return this.#state !== State.Open;
  }

  /** Counters of this connection (once closed: as they were at the close). No native call:
   * they are read from shared memory. */
  stats(): ConnectionStats {
    if (this.#final !== null) return this.#final;
    const s = this.#engine.slotStats(this[kIo], this[kSlot], this[kGen]);
    if (s === null) return { messagesIn: 0, bytesIn: 0, messagesOut: this.#messagesOut, bytesOut: 0, window: { messages: 0, bytes: 0, ageMs: 0 } };
    const now = Number(process.hrtime.bigint() / 1000000n);
    const windowMs = this.server.limits.windowMs;
    let age = Math.max(0, now - s.winStart);
    let messages = s.winMsgs;
    let bytes = s.winBytes;
    if (age >= windowMs) {
      // The window ended with no read since: the IO thread rolls it lazily on the next one.
      age %= windowMs;
      messages = 0;
      bytes = 0;
    }
    return { messagesIn: s.msgs, bytesIn: s.bytesIn, messagesOut: this.#messagesOut, bytesOut: s.bytesOut, window: { messages, bytes, ageMs: age } };
  }

  /** Why the connection closed, once it has. */
  get closeReason(): CloseReason | null {
    return this.#reason;
  }

  /** @internal A DATA record (or fragment) for this connection. */
  [kData](flags: number, type: number, seq: number, off: number, len: number): void {
    const ab = this.#engine.ab;
    if (this.#held !== null) {
      this.#held.push({ kind: REC_DATA, flags, type, seq, body: Buffer.from(new RingView(ab, off, len)) });
      return;
    }
    if (flags & REC_F_MORE) {
      (this.#frags ??= []).push(Buffer.from(new RingView(ab, off, len)));
      return;
    }
    let body: Buffer;
    if (this.#frags !== null) {
      this.#frags.push(new RingView(ab, off, len));
      body = Buffer.concat(this.#frags);
      this.#frags = null;
    } else {
      body = new RingView(ab, off, len);
    }
    this.server[kRoute](this, type, flags & 0xff, seq, body);
  }

  /** A held DATA record, replayed. */
  #data(flags: number, type: number, seq: number, body: Buffer): void {
    if (flags & REC_F_MORE) {
      (this.#frags ??= []).push(body);
      return;
    }
    if (this.#frags !== null) {
      this.#frags.push(body);
      body = Buffer.concat(this.#frags);
      this.#frags = null;
    }
    this.server[kRoute](this, type, flags & 0xff, seq, body);
  }

  /** @internal `n` bytes went out through another layer (HTTP responses): counted like send()'s,
   * with the same answer: false above the high watermark, 'drain' to follow. `ended`: they end
   * a message (a response), counted in messagesOut. */
  [kWrote](n: number, ended: boolean): boolean {
    this.#sent = (this.#sent + n) >>> 0;
    if (ended) this.#messagesOut++;
    return this.checkPressure();
  }

  /** @internal An HTTP_REQ record or fragment. */
  [kHttpData](flags: number, off: number, len: number): void {
    if (this.#held !== null) {
      this.#held.push({ kind: REC_HTTP_REQ, flags, type: 0, seq: 0, body: Buffer.from(this.#engine.shm.subarray(off, off + len)) });
      return;
    }
    this.server[kHttpRequest](this, this.#engine.shm, off, len, (flags & REC_F_MORE) !== 0);
  }

  /** @internal An HTTP_RES record or fragment (HTTP client links). */
  [kHttpResData](flags: number, off: number, len: number): void {
    if (this.#held !== null) {
      this.#held.push({ kind: REC_HTTP_RES, flags, type: 0, seq: 0, body: Buffer.from(this.#engine.shm.subarray(off, off + len)) });
      return;
    }
    this.#httpResponse(this.#engine.shm, off, len, flags);
  }

  #httpResponse(buf: Buffer, off: number, len: number, flags: number): void {
    const owner = this.server;
    if (owner[kHttpResponse] === undefined) this[kDestroyWith](ERROR_CODES.EW_EINVAL.errno); // not an HTTP client
    else owner[kHttpResponse](this, buf, off, len, (flags & REC_F_MORE) !== 0);
  }

  /** @internal The peer half-closed. */
  [kPeerEnd](): void {
    if (this.#held !== null) this.#held.push({ kind: REC_END, flags: 0, type: 0, seq: 0, body: null });
    else this.#peerEnd();
  }

  #peerEnd(): void {
    this.emit('end');
    if (!this.server[kAllowHalfOpen]) this.end();
  }

  /** @internal Ends with a reason (a negative EW_* value): what was sent so far is written,
   * then the connection closes with that reason, without waiting for the peer's FIN (the
   * runtime's graceful close). Also after end(): the close then comes once the output is out. */
  [kEndWith](errno: number): void {
    if (this.#state >= State.Destroying) return;
    this.#state = State.Ending;
    this.#engine.command(this, REC_SHUTDOWN, errno >>> 0);
  }

  /** @internal The peer broke the protocol; the frames before it have been handled. Answer
   * with SHUTDOWN(reason): the IO thread flushes our replies, then closes with the reason. */
  [kFault](errno: number): void {
    if (this.#held !== null) this.#held.push({ kind: REC_FAULT, flags: 0, type: errno, seq: 0, body: null });
    else this.#fault(errno);
  }

  #fault(errno: number): void {
    if (this.#state >= State.Destroying) return;
    this.#state = State.Ending;
    this.#engine.command(this, REC_SHUTDOWN, errno >>> 0);
  }

  /** @internal The IO thread reports queued output below the low watermark. */
  [kDrain](): void {
    if (!this.#needDrain || this.#state !== State.Open) return;
    if (this.bufferedAmount < this.server[kLowWatermark]) {
      this.#needDrain = false;
      this.emit('drain');
    } else {
      this.#engine.command(this, REC_WATCH, 0);
    }
  }

  /** @internal The connection was closed for flooding its window; 'close' follows. */
  [kKicked](info: KickInfo): void {
    if (this.#state === State.Closed) return;
    this.emit('kicked', info);
    this.server[kKicked](this, info);
  }

  /** @internal The connection is gone (reason: 0, or a negative EW_* value). */
  [kClosed](errno: number, sysErrno: number): void {
    if (this.#state === State.Closed) return;
    this.#final = this.stats();
    this.#state = State.Closed;
    this.#frags = null;
    // As a destroyed Node socket drops what it had buffered: held records are not delivered.
    this.#held = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const code = errorName(errno);
    const error = errno === 0 || code === 'EW_EOF' ? null : makeError(code, undefined, { errno, syscall: sysErrno ? 'socket' : undefined });
    this.#reason = { code, errno, error };
    this.server[kConnectionClosed](this);
    this.emit('close', this.#reason);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * A Buffer over ring memory, made the way Node makes its own (FastBuffer is a Uint8Array
 * subclass whose prototype chain holds Buffer.prototype): `instanceof Buffer` holds and every
 * Buffer method works, but construction is the plain typed-array constructor, without the
 * argument checks of Buffer.from(arrayBuffer, ...) that cost a native call per message.
 */
const RingView = (() => {
  class View extends Uint8Array {}
  Object.setPrototypeOf(View.prototype, Buffer.prototype);
  return View as unknown as new (ab: ArrayBuffer, offset: number, length: number) => Buffer;
})();

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('EW_EINVAL', message);
}

function tooBig(n: number, cap: number): InvalidArgumentError {
  return new InvalidArgumentError('EW_EMSGSIZE', `a message of ${n} bytes exceeds the server's maxBufferedBytes (${cap}); nothing was sent`);
}
