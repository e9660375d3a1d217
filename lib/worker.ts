// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The face of a work thread (docs/workers.md): `import { worker } from 'evwire'` in the module
// named by Runtime.start({ workers: { module } }). The work thread attaches its own port to the
// runtime's rings: the connections bound to it arrive here, in order, and its tasks run here.
import { EventEmitter } from 'events';
import { parentPort } from 'worker_threads';
import { Connection } from './connection';
import { InvalidArgumentError, check } from './errors';
import type { ServerDescriptor, WorkData } from './internal/pool';
import { kRaw, kUnlistened } from './internal/symbols';
import { ThreadContext, settleWithin, type MetricsText } from './internal/thread';
import { createLogger, type Logger } from './log';
import type { MessageClass } from './messages';
import { native, type NativeRuntime } from './native';
import type { FrameInfo, GuardHost, Server } from './server';
import type { ConnectOptions, Link } from './link';
import type { HttpConnectOptions, HttpLink } from './http-client';
import { protocolOf } from './protocols';
import type { Tasks } from './tasks';

export interface WorkerEvents {
  /** A connection bound to this thread. */
  connection: [conn: Connection];
  /** A server the main thread listens on (its view on this thread: handle(), 'connection',
   * and for HTTP the routes: an HttpServer). Servers already listening when the thread starts
   * are in servers(), and this event fires for them before the module has loaded. */
  server: [server: Server];
  /** A handler threw while this thread dispatched a record; it was logged and the thread goes
   * on. `conn` is the connection whose record it was, if any. */
  handlerError: [err: unknown, conn: Connection | undefined];
}

type Handler = { cls: MessageClass<unknown, unknown>; fn: (conn: Connection, msg: unknown, frame: FrameInfo) => void };

/** @internal The work thread's runtime: its port's thread context (engine, scheduler, server
 * views, connections) and what a work thread does differently (the ThreadRole and ServerHost). */
export class WorkThread {
  readonly logger: Logger;
  readonly nrt: NativeRuntime;
  readonly ctx: ThreadContext;
  readonly index: number;
  readonly count: number;
  readonly guard: GuardHost;
  readonly #api: WorkerApi;

  constructor(data: WorkData, api: WorkerApi) {
    this.index = data.index;
    this.count = data.count;
    this.#api = api;
    // Lines travel to the main thread's logger destination (postMessage: logs are not the
    // hot path), already filtered by this logger's level.
    this.logger = createLogger(data.logger, { write: (line: string) => parentPort?.postMessage({ t: 'log', line }) }).child({ worker: data.index });
    this.nrt = new native.NativeRuntime({ share: data.share });
    this.ctx = new ThreadContext({
      nrt: this.nrt,
      index: data.index,
      workThreads: data.count,
      logger: this.logger,
      role: {
        // The main thread announces every server before any of its connections can be bound
        // here; one unknown means a bug, and the connection must not hang.
        unknownServer: (serverId) => this.logger.error({ server: serverId }, 'connection of an unknown server; closing it'),
        opened: (conn) => this.#api.emit('connection', conn),
        handlerError: (err, conn) => this.handlerError(err, conn),
      },
    });
    this.ctx.engine.catchErrors = true;
    // Limits change on the main thread, which owns the servers and tells every view.
    this.guard = {
      ...this.ctx.guard,
      setLimits: () => {
        throw new InvalidArgumentError('EW_ESTATE', 'limits are changed on the main thread');
      },
    };
    // The main thread's metrics add up what only this thread counts; the native counters are
    // the main thread's own.
    this.ctx.serveStats();
  }

  get tasks(): Tasks {
    return this.ctx.tasks;
  }

  get servers(): Map<number, Server> {
    return this.ctx.servers;
  }

  addServer(desc: ServerDescriptor): Server {
    const s = this.ctx.addServer(this, desc);
    if (s.protocol === 'tcp' && desc.opts.framing === 'frames') for (const h of this.#api.handlers) s.handle(h.cls, h.fn);
    this.#api.emit('server', s);
    return s;
  }

  /** The main thread closed the server's listening sockets: the view ends its connections as
   * server.close() does (HTTP: idle ones now, busy ones after their responses; framed and raw
   * ones stay until they end), and emits 'close' once none is left. Resolves then. */
  unlistenedServer(id: number): Promise<void> {
    const s = this.servers.get(id);
    if (s === undefined) return Promise.resolve();
    return s[kUnlistened]().then(() => this.ctx.forgetIfDone(s));
  }

  /** The runtime's graceful close: every view ends its connections (framed and raw ones
   * flushed, then closed with EW_ESHUTDOWN); resolves once none is left here, or after `ms`. */
  drainConnections(ms: number): Promise<void> {
    return settleWithin(this.ctx.drainConnections(), ms);
  }

  // ---- ThreadRole (the rest of the engine's hooks are the ThreadContext's) -------------------

  handlerError(err: unknown, conn: Connection | undefined): void {
    this.logger.error({ err, conn: conn?.id }, 'handler threw; the work thread goes on');
    if (this.#api.listenerCount('handlerError') > 0) this.#api.emit('handlerError', err, conn);
  }

  // ---- ServerHost ------------------------------------------------------------------------------

  unlisten(): void {
    throw new InvalidArgumentError('EW_ESTATE', 'servers are closed on the main thread');
  }

  setAdmit(): void {
    throw new InvalidArgumentError('EW_ESTATE', 'accept hooks are installed on the main thread');
  }

  /** HttpServer.metrics(): the main thread holds the runtime's registry. */
  metricsText(): Promise<MetricsText> {
    return this.ctx.askMetrics();
  }

  // ---- shutdown --------------------------------------------------------------------------------

  /** The IO threads have stopped: every connection here is gone. */
  stopped(): void {
    if (this.ctx.stopped) return;
    this.ctx.stop();
    this.nrt.dispose();
  }
}

/**
 * The work thread's API (`worker`). On the main thread `isWorkThread` is false and everything
 * else throws.
 */
export class WorkerApi extends EventEmitter<WorkerEvents> {
  /** @internal */ thread: WorkThread | null = null;
  /** @internal */ readonly handlers: Handler[] = [];
  /** @internal */ data: unknown = undefined;

  get isWorkThread(): boolean {
    return this.thread !== null;
  }

  #t(): WorkThread {
    if (this.thread === null) throw new InvalidArgumentError('EW_ESTATE', 'not on an evwire work thread');
    return this.thread;
  }

  /** This thread's index: 1..workers.count (0 is the main thread). */
  get index(): number {
    return this.#t().index;
  }

  /** Work threads of the runtime. */
  get count(): number {
    return this.#t().count;
  }

  /** The internal dispatcher: define tasks, schedule them, buddy tasks. */
  get tasks(): Tasks {
    return this.#t().tasks;
  }

  get logger(): Logger {
    return this.#t().logger;
  }

  /** workers.data, as passed to Runtime.start. */
  get workerData(): unknown {
    this.#t();
    return this.data;
  }

  /**
   * An outbound connection from this work thread (as Runtime.connect): its records are
   * delivered here, to the link's handlers, for its whole life.
   */
  connect(opts: HttpConnectOptions): Promise<HttpLink>;
  connect(opts: ConnectOptions): Promise<Link>;
  async connect(opts: ConnectOptions | HttpConnectOptions): Promise<Link | HttpLink> {
    const t = this.#t();
    check(typeof opts === 'object' && opts !== null, 'connect options must be an object', opts);
    const proto = protocolOf(opts.protocol);
    check(proto.connect !== undefined, `protocol '${String(opts.protocol)}' has no client side`, opts.protocol);
    return (await proto.connect(t.ctx, opts)) as Link | HttpLink;
  }

  /** Server views on this thread (framed, raw and HTTP). */
  servers(): Server[] {
    return [...this.#t().servers.values()];
  }

  /**
   * Routes frames of `cls`'s type id, on every framed server's connections bound to this thread
   * (present and future), to `fn` with the decoded message.
   */
  handle<T, I>(cls: MessageClass<T, I>, fn: (conn: Connection, msg: T, frame: FrameInfo) => void): this {
    const t = this.#t();
    check(typeof fn === 'function', 'handler must be a function', fn);
    const h = { cls: cls as MessageClass<unknown, unknown>, fn: fn as Handler['fn'] };
    for (const s of t.servers.values()) if (s.protocol === 'tcp' && !s[kRaw]) s.handle(cls, fn);
    this.handlers.push(h);
    return this;
  }
}

/** The work thread's API; `worker.isWorkThread` tells whether this is one. */
export const worker = new WorkerApi();
