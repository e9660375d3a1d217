// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import type { Buffer } from 'buffer';
import { EventEmitter } from 'events';
import type { Connection, Message } from './connection';
import { ERROR_CODES, check, type EvwireError } from './errors';
import { requireTypeId, type MessageClass } from './messages';
import type { Logger } from './log';
import {
  kAccepted,
  kAllowHalfOpen,
  kConnectionClosed,
  kConnections,
  kDestroyWith,
  kError,
  kHighWatermark,
  kHttpRequest,
  kLowWatermark,
  kRaw,
  kRoute,
  kUnlistened,
} from './internal/symbols';

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
  /** 'frames' (12-byte header, DESIGN section 3) or 'raw' byte chunks ('data' events). */
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
}

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
  /** Connections open now. */
  connections: number;
  /** Connections accepted so far. */
  accepted: number;
  /** Bodies a typed handler could not decode. */
  decodeErrors: number;
}

export interface ServerEvents {
  connection: [conn: Connection];
  error: [err: EvwireError];
  close: [];
}

type Handler = { cls: MessageClass<unknown, unknown>; fn: (conn: Connection, msg: unknown, frame: FrameInfo) => void };

/** @internal What a Server needs from its runtime. */
export interface ServerHost {
  unlisten(server: Server): void;
  readonly logger: Logger;
}

/**
 * A listening TCP server. Events: 'connection'; 'error' (accept failures such as EW_EMFILE,
 * rate-limited; only emitted when a listener is registered, and the server keeps accepting);
 * 'close' (its listening sockets are closed; connections stay open until they end).
 */
export class Server extends EventEmitter<ServerEvents> {
  readonly id: number;
  readonly protocol: 'tcp' | 'http' = 'tcp';
  /** @internal */ readonly [kRaw]: boolean;
  /** @internal */ readonly [kAllowHalfOpen]: boolean;
  /** @internal */ readonly [kHighWatermark]: number;
  /** @internal */ readonly [kLowWatermark]: number;
  readonly #host: ServerHost;
  readonly #addr: AddressInfo;
  readonly #decodePolicy: 'close' | 'drop';
  readonly #handlers = new Map<number, Handler>();
  readonly #live = new Set<Connection>();
  #accepted = 0;
  #decodeErrors = 0;
  #listening = true;
  #closing: Promise<void> | null = null;
  #resolveClose: (() => void) | null = null;

  /** @internal */
  constructor(
    host: ServerHost,
    id: number,
    addr: AddressInfo,
    opts: Required<Pick<ListenOptions, 'framing' | 'allowHalfOpen' | 'highWatermark' | 'lowWatermark' | 'decodeErrorPolicy'>>,
  ) {
    super();
    this.#host = host;
    this.id = id;
    this.#addr = addr;
    this[kRaw] = opts.framing === 'raw';
    this[kAllowHalfOpen] = opts.allowHalfOpen;
    this[kHighWatermark] = opts.highWatermark;
    this[kLowWatermark] = opts.lowWatermark;
    this.#decodePolicy = opts.decodeErrorPolicy;
  }

  /** Where the server listens (the real port when 0 was asked for). */
  address(): AddressInfo {
    return { ...this.#addr };
  }

  /** True until close() completes. */
  get isListening(): boolean {
    return this.#listening;
  }

  /**
   * Routes frames of `cls`'s type id to `fn` with the decoded message. Frames of types with no
   * handler are emitted as 'message' on their connection.
   */
  handle<T, I>(cls: MessageClass<T, I>, fn: (conn: Connection, msg: T, frame: FrameInfo) => void): this {
    check(!this[kRaw], "typed handlers need framing: 'frames'");
    check(typeof fn === 'function', 'handler must be a function');
    const id = requireTypeId(cls);
    this.#handlers.set(id, { cls: cls as MessageClass<unknown, unknown>, fn: fn as Handler['fn'] });
    return this;
  }

  /** Stops accepting. Resolves (and 'close' fires) once every listening socket is closed. */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#closing = new Promise<void>((resolve) => {
        this.#resolveClose = resolve;
      });
      this.#host.unlisten(this);
    }
    return this.#closing;
  }

  stats(): ServerStats {
    return { connections: this.#live.size, accepted: this.#accepted, decodeErrors: this.#decodeErrors };
  }

  /** @internal */
  [kAccepted](conn: Connection): void {
    this.#accepted++;
    this.#live.add(conn);
    this.emit('connection', conn);
  }

  /** @internal */
  [kConnectionClosed](conn: Connection): void {
    this.#live.delete(conn);
  }

  /** @internal Open connections, for runtime shutdown. */
  [kConnections](): Connection[] {
    return [...this.#live];
  }

  /** @internal The listening sockets are closed (or the runtime stopped). */
  [kUnlistened](): void {
    if (!this.#listening) return;
    this.#listening = false;
    if (this.#closing === null) this.#closing = Promise.resolve();
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
