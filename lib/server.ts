// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import type { Buffer } from 'buffer';
import { EventEmitter } from 'events';
import type { Connection, Message } from './connection';
import type { EncryptionOptions } from './encryption';
import { ERROR_CODES, check, InvalidArgumentError, type EvwireError } from './errors';
import { requireTypeId, type MessageClass } from './messages';
import type { Logger } from './log';
import type { NativeServerStats, NativeTls } from './native';
import { tlsServerNative, type TlsServerOptions } from './tls';
import * as net from 'net';
import {
  kAccepted,
  kKicked,
  kAllowHalfOpen,
  kConnectionClosed,
  kConnections,
  kDestroyWith,
  kError,
  kHighWatermark,
  kHttpRequest,
  kLowWatermark,
  kMaxBuffered,
  kRaw,
  kRoute,
  kUnlistened,
  kOnAccept,
  kDenied,
  kClosed,
  kLimits,
  kDrainServer,
  kDrainConn,
  kCloseIdle,
  kEmpty,
  kEndWith,
  kOwnWriter,
} from './internal/symbols';

import type { BanInfo, KickInfo, Limits } from './limits';

declare module './connection' {
  /** `conn.server` is the Server it belongs to (lib/connection.ts cannot import this module). */
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ConnectionServer extends Server {}
}
export type { BanInfo, KickInfo, Limits } from './limits';

export interface BanEntry {
  address: string;
  remainingMs: number;
}

/** The banned source addresses of a server (server.bans). */
export interface Bans {
  /** Bans `address` (numeric IPv4 or IPv6) for `ms` (default limits.banMs): its open
   * connections close with EW_EBANNED, new ones are closed at accept, before any read. */
  add(address: string, ms?: number): void;
  /** Lifts a ban; false if the address was not banned. */
  remove(address: string): boolean;
  /** The bans in force. */
  list(): BanEntry[];
}

const LIMIT_KEYS = [
  'windowMs', 'maxMessagesPerWindow', 'maxBytesPerWindow', 'ipMessagesPerSecond', 'ipMessageBurst',
  'ipConnectionsPerSecond', 'ipConnectionBurst', 'banMs', 'maxConnections', 'maxConnectionsPerIp',
  'sendBytesPerSecond', 'sendBurstBytes', 'serverSendBytesPerSecond', 'serverSendBurstBytes',
  'idleTimeoutMs', 'partialFrameTimeoutMs', 'firstMessageTimeoutMs',
] as const satisfies readonly (keyof Limits)[];
const LIMIT_U64 = new Set<string>(['maxBytesPerWindow', 'sendBytesPerSecond', 'sendBurstBytes', 'serverSendBytesPerSecond', 'serverSendBurstBytes']);

/** @internal The runtime stopped: every connection of these servers closed with EW_ESHUTDOWN
 * ('close' on each), and the servers stopped listening ('close'). */
export function serversStopped(servers: Iterable<Server>): void {
  for (const server of servers) {
    for (const conn of server[kConnections]()) conn[kClosed](ERROR_CODES.EW_ESHUTDOWN.errno, 0);
    server[kUnlistened](undefined, true);
  }
}

/** @internal How a server ends its connections: 'close' is server.close() (Node's semantics:
 * HTTP connections close when idle, after the response in flight otherwise; framed and raw
 * ones stay); 'shutdown' is the runtime's graceful close (the same for HTTP, and framed and raw
 * connections are flushed, then closed with EW_ESHUTDOWN). */
export type DrainMode = 'close' | 'shutdown';

/** @internal Validates `change` and merges it over `base`. */
export function mergeLimits(base: Required<Limits>, change: Limits | undefined): Required<Limits> {
  if (change === undefined) return { ...base };
  check(typeof change === 'object' && change !== null, 'limits must be an object', change);
  const out = { ...base };
  for (const key of Object.keys(change)) {
    if (!(LIMIT_KEYS as readonly string[]).includes(key)) throw new InvalidArgumentError('EW_EINVAL', `unknown limit ${JSON.stringify(key)}`);
    const v = (change as Record<string, unknown>)[key];
    if (v === undefined) continue;
    const max = LIMIT_U64.has(key) ? Number.MAX_SAFE_INTEGER : 0xffffffff;
    check(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max, `limits.${key} must be an integer in 0..${max}`, v);
    (out as Record<string, number>)[key] = v;
  }
  check(out.windowMs >= 1, 'limits.windowMs must be at least 1', out.windowMs);
  return out;
}

export interface ListenOptions {
  protocol: 'tcp';
  /** Host name or address; omitted = all interfaces (IPv6 dual stack, else IPv4). */
  host?: string;
  /** 0 or omitted: the kernel picks; address() says which. */
  port?: number;
  backlog?: number;
  /** One SO_REUSEPORT socket per IO thread instead of one acceptor handing fds out. */
  reusePort?: boolean;
  /** How the acceptor picks an IO thread. Default 'round-robin'. */
  distribution?: 'round-robin' | 'least-connections';
  /** 'frames' (12-byte header, docs/protocol.md) or 'raw' byte chunks ('data' events). */
  framing?: 'frames' | 'raw';
  /** Larger frames close the connection with EW_EPROTO_LENGTH. Default 4 MiB. */
  maxFrameBytes?: number;
  /** send() returns false once a connection's queued output is above this. Default 256 KiB. */
  highWatermark?: number;
  /** 'drain' fires once queued output falls below this. Default 64 KiB. */
  lowWatermark?: number;
  /** Queued output above this closes the connection with EW_ESLOW. Default 16 MiB. */
  maxBufferedBytes?: number;
  /** TCP_NODELAY on accepted sockets. Default true. */
  noDelay?: boolean;
  /** Keep the connection open for writing after the peer's FIN. Default false: end() follows. */
  allowHalfOpen?: boolean;
  /** What a body that fails to decode for a typed handler does: close the connection with
   * EW_EPROTO_DECODE (default) or drop the message; both count in stats().decodeErrors. */
  decodeErrorPolicy?: 'close' | 'drop';
  /** Protection limits (docs/protection.md). */
  limits?: Limits;
  /** Source addresses tracked for per-address limits and bans; the least recently seen is
   * forgotten beyond this. Default 65536. */
  maxTrackedIps?: number;
  /** Message encryption of the frames' bodies (docs/encryption.md). Default off. */
  encryption?: EncryptionOptions;
  /** TLS (docs/tls.md): the IO threads terminate it under any protocol (HTTP: HTTPS). */
  tls?: TlsServerOptions;
  /** An accept hook, the same as calling server.onAccept(fn) right after listen (but in force
   * from the first connection). */
  onAccept?: AcceptHook;
  /** How long an asynchronous accept hook may take; then the connection is refused
   * (EW_EDENIED). Default 10000. */
  acceptTimeoutMs?: number;
  /** How connections of this server are bound to JS threads; default: the runtime's `bind`. */
  bind?: BindPolicy;
}

/** The peer of a new connection, as accept hooks and bind functions see it. */
export interface PeerInfo {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
  /** The server it connected to. */
  server: Server;
}

/** Decides whether a new connection is served: true admits, false refuses (EW_EDENIED). A
 * Promise may take up to acceptTimeoutMs. Until it answers the socket is parked on its IO
 * thread, unread; a peer that leaves meanwhile is closed there. */
export type AcceptHook = (peer: PeerInfo) => boolean | Promise<boolean>;

/** How a new connection picks the JS thread it is bound to for life: in turn; the thread with
 * the fewest live connections; the one with the least unread backlog in its ring from the
 * connection's IO thread; or a function of the peer (sticky routing), whose integer result
 * picks serving thread number (result mod count). */
export type BindPolicy = 'round-robin' | 'least-loaded' | 'least-backlog' | ((peer: PeerInfo) => number);

export interface AddressInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
}

/** Type, flags and seq of the frame a typed handler receives. */
export interface FrameInfo {
  type: number;
  flags: number;
  seq: number;
}

export interface ServerStats {
  /** Connections open now, on this thread (with work threads, the main thread holds none;
   * server.getConnections() counts every thread's). */
  connections: number;
  /** Connections refused by the accept hook (or its timeout, or a bind function that threw). */
  denied: number;
  /** Connections accepted so far. */
  accepted: number;
  /** Bodies a typed handler could not decode. */
  decodeErrors: number;
  /** Messages delivered and bytes read, all connections. */
  messagesIn: number;
  bytesIn: number;
  /** Connections closed with EW_EFLOOD, by the limit exceeded. */
  kicks: { messages: number; bytes: number };
  /** Automatic bans imposed, by reason, and bans in force now (manual ones included). */
  bans: { messages: number; connections: number; active: number };
  /** Open connections closed because their address was banned. */
  bannedCloses: number;
  /** Connections refused at accept. */
  rejected: { banned: number; maxConnections: number; maxConnectionsPerIp: number };
  /** Connections closed by a timeout. */
  timeouts: { idle: number; partialFrame: number; firstMessage: number };
  /** Times a connection's output waited for the response rate. */
  throttled: number;
  /** Source addresses tracked now, and those forgotten to stay within maxTrackedIps. */
  trackedIps: number;
  ipEvictions: number;
}

export interface ServerEvents {
  connection: [conn: Connection];
  error: [err: EvwireError];
  close: [];
  kicked: [conn: Connection, info: KickInfo];
  ban: [info: BanInfo];
}

type Handler = { cls: MessageClass<unknown, unknown>; fn: (conn: Connection, msg: unknown, frame: FrameInfo) => void };

/** @internal What a Server needs from its runtime. */
export interface ServerHost {
  unlisten(server: Server): void;
  /** Connections of `server` held by other JS threads (the main thread asks the work threads). */
  connectionsElsewhere?(server: Server): Promise<number>;
  /** closeIdleConnections() / closeAllConnections() for the other JS threads' connections. */
  closeElsewhere?(server: Server, idleOnly: boolean): void;
  /** Turns native admission (parking new connections for the accept hook) on or off. */
  setAdmit(server: Server, on: boolean): void;
  /** The server's limits changed (the main thread tells the work threads' views). */
  limitsChanged?(server: Server, limits: Required<Limits>): void;
  /** Whether this thread serves the server's connections (false on the main thread while work
   * threads serve them); absent: it does. */
  servesConnections?(): boolean;
  /** The runtime's metrics in Prometheus' text format (HttpServer.metrics()): the main thread
   * renders its registry, a work thread asks the main thread. */
  metricsText?(): Promise<{ contentType: string; body: string }>;
  readonly logger: Logger;
  readonly guard: GuardHost;
}

/** @internal The native protection calls, errors already translated. */
export interface GuardHost {
  setLimits(id: number, limits: Required<Limits>): void;
  setTls(id: number, tls: NativeTls): void;
  stats(id: number): NativeServerStats | null;
  banAdd(id: number, address: string, ms: number): void;
  banRemove(id: number, address: string): boolean;
  banList(id: number): BanEntry[];
}

/**
 * A listening TCP server. Events: 'connection'; 'error' (accept failures such as EW_EMFILE,
 * rate-limited; only emitted when a listener is registered, and the server keeps accepting);
 * 'close' (as in Node: after close(), once the listening sockets are closed and every
 * connection of the server, on every JS thread, has ended).
 */
export class Server extends EventEmitter<ServerEvents> {
  readonly id: number;
  /** Its protocol's name in the registry (lib/protocols.ts). */
  readonly protocol: 'tcp' | 'http' | 'lines' = 'tcp';
  /** @internal */ readonly [kRaw]: boolean;
  /** @internal */ readonly [kAllowHalfOpen]: boolean;
  /** @internal */ readonly [kHighWatermark]: number;
  /** @internal */ readonly [kLowWatermark]: number;
  /** @internal */ readonly [kMaxBuffered]: number;
  /** @internal Frames and raw bytes are written by the connection itself. */
  get [kOwnWriter](): string | null {
    return null;
  }
  readonly #host: ServerHost;
  readonly #addr: AddressInfo;
  readonly #decodePolicy: 'close' | 'drop';
  readonly #handlers = new Map<number, Handler>();
  #limits: Required<Limits>;
  #last: NativeServerStats | null = null;
  /** The banned source addresses. */
  readonly bans: Bans;
  readonly #live = new Set<Connection>();
  #accepted = 0;
  #decodeErrors = 0;
  #listening = true;
  #onAccept: AcceptHook | null = null;
  #denied = 0;
  /** @internal */ acceptTimeoutMs = 10000;
  #closing: Promise<void> | null = null;
  #resolveClose: (() => void) | null = null;
  /** How connections are being ended since close() or the runtime's close; null: not. */
  #drain: DrainMode | null = null;
  /** Other JS threads still hold connections of this server (work threads after close()). */
  #waitElsewhere = false;
  #closeEmitted = false;
  #emptyWaiters: (() => void)[] = [];

  /** @internal */
  constructor(
    host: ServerHost,
    id: number,
    addr: AddressInfo,
    opts: Required<Pick<ListenOptions, 'framing' | 'allowHalfOpen' | 'highWatermark' | 'lowWatermark' | 'decodeErrorPolicy' | 'limits'>> & { maxBufferedBytes?: number },
  ) {
    super();
    this.#host = host;
    this.#limits = opts.limits as Required<Limits>;
    const guard = host.guard;
    this.bans = {
      add: (address: string, ms?: number): void => {
        check(typeof address === 'string' && net.isIP(address) !== 0, `not a numeric IP address: ${JSON.stringify(address)}`);
        const t = ms ?? this.#limits.banMs;
        check(Number.isInteger(t) && t >= 1 && t <= 0xffffffff, 'ban ms must be an integer in 1..2^32-1', t);
        guard.banAdd(this.id, address, t);
      },
      remove: (address: string): boolean => {
        check(typeof address === 'string' && net.isIP(address) !== 0, `not a numeric IP address: ${JSON.stringify(address)}`);
        return guard.banRemove(this.id, address);
      },
      list: (): BanEntry[] => guard.banList(this.id),
    };
    this.id = id;
    this.#addr = addr;
    this[kRaw] = opts.framing === 'raw';
    this[kAllowHalfOpen] = opts.allowHalfOpen;
    this[kHighWatermark] = opts.highWatermark;
    this[kLowWatermark] = opts.lowWatermark;
    this[kMaxBuffered] = opts.maxBufferedBytes ?? Number.MAX_SAFE_INTEGER;
    this.#decodePolicy = opts.decodeErrorPolicy;
  }

  /** Where the server listens (the real port when 0 was asked for). */
  address(): AddressInfo {
    return { ...this.#addr };
  }

  /** True until the listening sockets are closed (close(), or the runtime's close). */
  get isListening(): boolean {
    return this.#listening;
  }

  /**
   * Routes frames of `cls`'s type id to `fn` with the decoded message. Frames of types with no
   * handler are emitted as 'message' on their connection.
   */
  handle<T, I>(cls: MessageClass<T, I>, fn: (conn: Connection, msg: T, frame: FrameInfo) => void): this {
    check(!this[kRaw], "typed handlers need framing: 'frames'");
    check(typeof fn === 'function', 'handler must be a function', fn);
    const id = requireTypeId(cls);
    this.#handlers.set(id, { cls: cls as MessageClass<unknown, unknown>, fn: fn as Handler['fn'] });
    return this;
  }

  /**
   * Installs an accept hook (or removes it with null): each new connection waits, parked and
   * unread on its IO thread, until `fn(peer)` answers; false (or a throw, or no answer within
   * acceptTimeoutMs) closes it with EW_EDENIED. Connections accepted before the call are not
   * asked: pass `onAccept` to listen() to cover the first ones too.
   */
  onAccept(fn: AcceptHook | null): this {
    check(fn === null || typeof fn === 'function', 'accept hook must be a function or null', fn);
    this.#onAccept = fn;
    this.#host.setAdmit(this, fn !== null);
    return this;
  }

  /** @internal */
  get [kOnAccept](): AcceptHook | null {
    return this.#onAccept;
  }

  /** @internal A connection was refused at admission. */
  [kDenied](): void {
    this.#denied++;
  }

  /**
   * Stops accepting and lets what is in flight finish, like Node's server.close(): on an HTTP
   * server, idle keep-alive connections close at once, and a connection with requests in
   * flight gets their responses (the last one with `Connection: close`), then closes; requests
   * pipelined behind them are not served. Framed and raw connections stay open until they end
   * (end() them, or let rt.close() do it). Resolves, and 'close' fires, once the listening
   * sockets are closed and every connection of the server, on every JS thread, has ended.
   * `isListening` turns false as soon as the listening sockets are closed. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#closing = new Promise<void>((resolve) => {
        this.#resolveClose = resolve;
      });
      this.#host.unlisten(this);
    }
    return this.#closing;
  }

  /**
   * The number of open connections of this server: on the main thread, on every JS thread
   * (the work threads are asked; a Promise, as Node's getConnections takes a callback); on a
   * work thread's view, on that thread.
   */
  async getConnections(): Promise<number> {
    const here = this.#live.size;
    const there = this.#host.connectionsElsewhere === undefined ? 0 : await this.#host.connectionsElsewhere(this);
    return here + there;
  }

  /** Closes every connection of this server now, on every JS thread (on a work thread's view,
   * that thread's): 'close' with EW_OK, queued output discarded, responses owed aborted. Like
   * Node's http server.closeAllConnections(), for every protocol. */
  closeAllConnections(): void {
    for (const conn of [...this.#live]) conn.destroy();
    this.#host.closeElsewhere?.(this, false);
  }

  /** Closes the idle connections of an HTTP server (no request being answered), on every JS
   * thread, like Node's server.closeIdleConnections(). Framed and raw connections have no
   * idle state that the server could know: on those servers it closes nothing. */
  closeIdleConnections(): void {
    for (const conn of [...this.#live]) this[kCloseIdle](conn, 0);
    this.#host.closeElsewhere?.(this, true);
  }

  /** @internal Closes `conn` (with reason errno) if the protocol knows it is idle. */
  [kCloseIdle](conn: Connection, errno: number): void {
    void conn;
    void errno;
  }

  /** @internal Ends `conn` as `mode` says (see DrainMode); HTTP servers override this. */
  [kDrainConn](conn: Connection, mode: DrainMode): void {
    if (mode === 'shutdown') conn[kEndWith](ERROR_CODES.EW_ESHUTDOWN.errno);
  }

  /** @internal Ends this server's connections on this thread as `mode` says, now and those
   * that arrive later (a connection accepted before the listener closed). 'shutdown' wins. */
  [kDrainServer](mode: DrainMode): void {
    if (this.#drain === 'shutdown') return;
    this.#drain = mode;
    for (const conn of [...this.#live]) this[kDrainConn](conn, mode);
  }

  /** @internal Resolves once this server has no connection on this thread. */
  [kEmpty](): Promise<void> {
    if (this.#live.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#emptyWaiters.push(resolve));
  }

  /** The limits in force (a copy). */
  get limits(): Required<Limits> {
    return { ...this.#limits };
  }

  /**
   * Changes limits while the server runs: `change` is merged over the current ones. Each IO
   * thread applies them before its next read; counters keep running, and a timeout already
   * running keeps its deadline until it restarts. Throws InvalidArgumentError for a bad value.
   */
  /** Replaces the TLS certificates, keys and settings (the same shape as listen's `tls`) for
   * the connections accepted from now on; open connections keep theirs. A certificate reload
   * without a restart. InvalidArgumentError (EW_EINVAL) for options that do not load (the old
   * ones stay), or on a server without TLS. */
  setTls(tls: TlsServerOptions): void {
    const t = tlsServerNative(tls);
    check(t !== null, 'setTls needs the tls options', tls);
    this.#host.guard.setTls(this.id, t);
  }

  setLimits(change: Limits): void {
    const next = mergeLimits(this.#limits, change);
    this.#host.guard.setLimits(this.id, next);
    this.#limits = next;
    this.#host.limitsChanged?.(this, next);
  }

  /** @internal The limits changed elsewhere (a work thread's view, told by the main thread). */
  [kLimits](limits: Required<Limits>): void {
    this.#limits = { ...limits };
  }

  stats(): ServerStats {
    // The native counters live while the server listens; afterwards the last ones read stand.
    const n = (this.#listening ? this.#host.guard.stats(this.id) : null) ?? this.#last;
    if (n !== null) this.#last = n;
    const z = (v: number | undefined) => v ?? 0;
    return {
      connections: this.#live.size,
      denied: this.#denied,
      accepted: this.#accepted,
      decodeErrors: this.#decodeErrors,
      messagesIn: z(n?.messages_in),
      bytesIn: z(n?.bytes_in),
      kicks: { messages: z(n?.kicked_messages), bytes: z(n?.kicked_bytes) },
      bans: { messages: z(n?.bans_messages), connections: z(n?.bans_connections), active: this.#listening ? this.bans.list().length : 0 },
      bannedCloses: z(n?.banned_closes),
      rejected: { banned: z(n?.rejected_banned), maxConnections: z(n?.rejected_max_conns), maxConnectionsPerIp: z(n?.rejected_max_conns_per_ip) },
      timeouts: { idle: z(n?.timeouts_idle), partialFrame: z(n?.timeouts_partial), firstMessage: z(n?.timeouts_first) },
      throttled: z(n?.throttled),
      trackedIps: z(n?.trackedIps),
      ipEvictions: z(n?.ip_evictions),
    };
  }

  /** @internal A connection was closed for flooding its window. */
  [kKicked](conn: Connection, info: KickInfo): void {
    this.emit('kicked', conn, info);
  }

  /** @internal */
  [kAccepted](conn: Connection): void {
    this.#accepted++;
    this.#live.add(conn);
    this.emit('connection', conn);
    const mode = this.#drain;
    // Accepted before the listener closed, announced after: ended like the others, once the
    // records already in the ring behind its OPEN (a request) have been dispatched.
    if (mode !== null) setImmediate(() => !conn.closed && this[kDrainConn](conn, this.#drain ?? mode));
  }

  /** @internal */
  [kConnectionClosed](conn: Connection): void {
    this.#live.delete(conn);
    if (this.#live.size !== 0) return;
    for (const w of this.#emptyWaiters.splice(0)) w();
    this.#maybeClosed();
  }

  /** @internal Open connections, for runtime shutdown. */
  [kConnections](): Connection[] {
    return [...this.#live];
  }

  /** @internal The listening sockets are closed: in-flight work finishes ([kDrainServer]
   * 'close'), and 'close' follows once no connection is left here and `elsewhere` (the other
   * threads' connections) has resolved. `force`: the runtime stopped, nothing is left anywhere.
   * Returns the close() promise. */
  [kUnlistened](elsewhere?: Promise<unknown>, force = false): Promise<void> {
    if (this.#closing === null) this.#closing = new Promise<void>((resolve) => (this.#resolveClose = resolve));
    if (force) this.#waitElsewhere = false;
    if (this.#listening) {
      this.#listening = false;
      if (elsewhere !== undefined && !force) {
        this.#waitElsewhere = true;
        void elsewhere.then(() => {
          this.#waitElsewhere = false;
          this.#maybeClosed();
        });
      }
      this[kDrainServer]('close');
    }
    this.#maybeClosed();
    return this.#closing;
  }

  #maybeClosed(): void {
    if (this.#listening || this.#closeEmitted || this.#waitElsewhere || this.#live.size !== 0) return;
    this.#closeEmitted = true;
    this.#resolveClose?.();
    this.#resolveClose = null;
    this.emit('close');
  }

  /** @internal An accept failure. Emitted only to listeners: an unhandled 'error' would throw,
   * and a descriptor shortage must not take the process down (it is logged natively). */
  [kError](err: EvwireError): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** @internal An HTTP_REQ record (or fragment) of `conn`; HTTP servers override this. */
  [kHttpRequest](conn: Connection, shm: Buffer, off: number, len: number, more: boolean): void {
    void conn;
    void shm;
    void off;
    void len;
    void more;
  }

  /** @internal */
  get highWatermarkValue(): number {
    return this[kHighWatermark];
  }

  /** @internal A complete frame for `conn`. */
  [kRoute](conn: Connection, type: number, flags: number, seq: number, body: Buffer): void {
    if (this[kRaw]) {
      conn.emit('data', body);
      return;
    }
    const h = this.#handlers.size === 0 ? undefined : this.#handlers.get(type);
    if (h === undefined) {
      // The common case, one 'message' listener, is called directly: EventEmitter.emit's rest
      // arguments and Reflect.apply cost more than the rest of the delivery. `_events` is the
      // EventEmitter field Node has kept stable since 0.x; anything unexpected takes emit().
      const l = (conn as unknown as { _events?: { message?: unknown } })._events?.message;
      const msg: Message = { type, flags, seq, body };
      if (typeof l === 'function') (l as (m: Message) => void).call(conn, msg);
      else conn.emit('message', msg);
      return;
    }
    let msg: unknown;
    try {
      msg = h.cls.decode(body);
    } catch (err) {
      this.#decodeErrors++;
      this.#host.logger.debug({ conn: conn.id, type, err }, 'message body failed to decode');
      if (this.#decodePolicy === 'close') conn[kDestroyWith](ERROR_CODES.EW_EPROTO_DECODE.errno);
      return;
    }
    h.fn(conn, msg, { type, flags, seq });
  }
}
