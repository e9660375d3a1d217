// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// What every JS thread of a runtime has, the main thread (lib/runtime.ts) and each work thread
// (lib/worker.ts) alike: its port's engine, its task scheduler, the servers it knows (the main
// thread's own, or a work thread's views of them), the lookup of its connections by id, the
// engine hooks that do the same on both, the internal tasks between them and the stop sequence.
// What differs (the main thread owns the listening sockets, the work threads, admission and the
// metrics registry; a work thread reports handler errors and refuses what only the main thread
// may do) is the thread's ThreadRole.
import { Connection } from '../connection';
import { ClosedError, ERROR_CODES, check, errorName, makeError } from '../errors';
import type { BanInfo } from '../limits';
import type { Logger } from '../log';
import type { ThreadServerStats } from '../metrics';
import { Link, linkOptions, type ConnectOptions, type LinkHost } from '../link';
import { native, type NativeListenOptions, type NativeRuntime } from '../native';
import { protocolOf, type ConnectContext } from '../protocols';
import { mergeLimits, serversStopped, type GuardHost, type Server, type ServerHost } from '../server';
import { Tasks, type TaskTally } from '../tasks';
import { tlsClientNative } from '../tls';
import { Engine, type EngineHost } from './engine';
import { nativeGuard } from './guard';
import type { ServerDescriptor } from './pool';
import type { ProtocolHandle } from './protocol-host';
import { resolveHost } from './resolve';
import { kAccepted, kDrainServer, kEmpty, kError, kGen, kNativeClosed, kStopped } from './symbols';

// The internal tasks between the threads of one runtime. Their names start with 'evwire:', which
// the scheduler leaves out of the task tallies and timings (a scrape does not count itself).

/** The task a work thread's HttpServer.metrics() schedules on the main thread, which holds the
 * runtime's registry. */
const METRICS_TASK = 'evwire:metrics';
/** What each work thread answers for the metrics: its servers' own counters and the tasks it
 * scheduled. */
const STATS_TASK = 'evwire:stats';

/** The runtime's metrics in Prometheus' text format. */
export interface MetricsText {
  contentType: string;
  body: string;
}

/** What one thread counts on its own (the native counters are the runtime's, counted once). */
export interface ThreadStats {
  servers: ThreadServerStats[];
  tallies: TaskTally[];
}

/** What a thread does differently from the others, called by its ThreadContext. Records that
 * native code sends only to a server's owner port (UNLISTEN, ADMIT) reach the main thread
 * alone, so a work thread leaves those hooks out. */
export interface ThreadRole {
  /** An OPEN named a server this thread does not know; the connection is not taken. */
  unknownServer?(serverId: number): void;
  /** A connection opened here, after its server emitted 'connection'. */
  opened?(conn: Connection): void;
  /** A connection here closed (after the thread forgot its server, if the server no longer
   * listens and that was its last connection here). */
  closed?(conn: Connection): void;
  /** The listening sockets of a server this thread owns are closed. */
  unlistened?(serverId: number): void;
  /** A new connection is parked natively until engine.verdict(). */
  admit?(io: number, idLo: number, gen: number, serverId: number, family: number, port: number, address: string): void;
  /** A handler threw while records were dispatched (only where engine.catchErrors is set). */
  handlerError?(err: unknown, conn: Connection | undefined): void;
  /** A link was made or finished here (the main thread's process reference). */
  linksChanged?(): void;
  /** Tasks scheduled from here started (true) or stopped (false) awaiting replies. */
  tasksActive?(on: boolean): void;
  /** A protocol handle (a UDP socket) was added or removed here. */
  handlesChanged?(): void;
}

export interface ThreadOptions {
  nrt: NativeRuntime;
  /** This thread's port: 0 is the main thread, 1..workThreads the work threads. */
  index: number;
  /** Work threads of the runtime (0: the main thread serves connections itself). */
  workThreads: number;
  logger: Logger;
  /** Where the IO threads' log lines go (the main thread's logger); default nowhere. */
  onLog?: (level: number, msg: string) => void;
  /** Whether the runtime is closing: the guard refuses from then on (and always once stopped). */
  closing?: () => boolean;
  role: ThreadRole;
}

/** Resolves once `p` has, or after `ms`, whichever comes first; never rejects. */
export function settleWithin(p: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.max(0, ms));
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    p.then(done, done);
  });
}

/** @internal One JS thread's share of a runtime (see the top of this file). */
export class ThreadContext implements EngineHost<Connection>, ConnectContext, LinkHost {
  readonly nrt: NativeRuntime;
  readonly logger: Logger;
  readonly engine: Engine<Connection>;
  /** The internal dispatcher of this thread: tasks between JS threads. */
  readonly tasks: Tasks;
  /** The native protection calls, for servers. */
  readonly guard: GuardHost;
  /** JS threads that take connections: the work threads, or the main thread (0). */
  readonly serving: readonly number[];
  /** The servers this thread knows, by id: those that listen, and those whose connections here
   * have not all closed yet (runtime shutdown must still reach them). */
  readonly servers = new Map<number, Server>();
  /** The links (outbound connections) made on this thread, by id, until they close. */
  readonly links = new Map<number, Link>();
  readonly #closedLinks = new Map<number, Link>();
  /** This thread's port (0: the main thread). */
  readonly portIndex: number;
  /** What protocols opened here that is not a server (UDP sockets), by id. */
  readonly handles = new Map<number, ProtocolHandle>();
  readonly #role: ThreadRole;
  readonly #closing: () => boolean;
  /** This thread's port (0: the main thread). */
  #live = 0;
  #stopped = false;
  // The addon holds these weakly unless the runtime is referenced (listening or connected), so
  // that a dropped, idle runtime can be collected; the thread keeps them alive meanwhile.
  readonly #onWake = (): void => this.engine.drain();
  readonly #onLog: (level: number, msg: string) => void;

  constructor(opts: ThreadOptions) {
    this.nrt = opts.nrt;
    this.logger = opts.logger;
    this.#role = opts.role;
    this.#onLog = opts.onLog ?? (() => undefined);
    const closing = opts.closing ?? (() => false);
    this.#closing = closing;
    this.portIndex = opts.index;
    this.guard = nativeGuard(this.nrt, () => this.#stopped || closing());
    const serving: number[] = [];
    for (let i = 1; i <= opts.workThreads; i++) serving.push(i);
    if (opts.workThreads === 0) serving.push(0);
    this.serving = serving;
    this.engine = new Engine<Connection>(this.nrt, this.nrt.attach(opts.index, this.#onWake, this.#onLog), this);
    const role = this.#role;
    this.tasks = new Tasks(this.engine, {
      logger: this.logger,
      serving: () => this.serving,
      connection: (io, slot, gen) => this.connection(io, slot, gen),
      active: (on) => role.tasksActive?.(on),
    });
  }

  /** The live connection in (io, slot) with generation `gen`, on this thread. */
  connection(io: number, slot: number, gen: number): Connection | undefined {
    const c = this.engine.conns[io]?.[slot];
    return c !== undefined && c[kGen] === gen ? c : undefined;
  }

  /** Connections open on this thread now. */
  get liveConnections(): number {
    return this.#live;
  }

  /** Whether stop() has run. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Makes the server object of `desc` (through the protocol registry) and knows it from now
   * on; `host` is the thread's ServerHost. */
  addServer(host: ServerHost, desc: ServerDescriptor): Server {
    const s = protocolOf(desc.protocol).create(host, this.engine, desc.id, desc.addr, desc.opts);
    this.servers.set(desc.id, s);
    return s;
  }

  // ---- links (lib/link.ts) ------------------------------------------------------------------

  get ioThreads(): number {
    return this.engine.nio;
  }

  /** rt.connect() for a protocol whose client side is a link: validates the options of its
   * connections as listen() does, opens the native link (its connections are delivered to this
   * thread) and starts it. */
  openLink(o: ConnectOptions, framing: number, nativeOptions: Partial<NativeListenOptions>, setup?: (link: Link) => void): Promise<Link> {
    try {
      this.checkOpen(); // not once the runtime is closing: its drain would not wait for the link
    } catch (err) {
      return Promise.reject(err);
    }
    const L = native.defaults.listen;
    const maxFrameBytes = o.maxFrameBytes ?? L.maxFrameBytes;
    check(Number.isInteger(maxFrameBytes) && maxFrameBytes >= 0 && maxFrameBytes <= 0xffffffff, 'maxFrameBytes must be a u32', maxFrameBytes);
    const highWatermark = o.highWatermark ?? L.highWatermark;
    const lowWatermark = o.lowWatermark ?? Math.min(L.lowWatermark, highWatermark);
    const maxBufferedBytes = o.maxBufferedBytes ?? Math.max(L.maxBufferedBytes, highWatermark);
    for (const [name, v] of [['highWatermark', highWatermark], ['lowWatermark', lowWatermark], ['maxBufferedBytes', maxBufferedBytes]] as const) {
      check(Number.isInteger(v) && v >= 0 && v <= 0x7fffffff, `${name} must be an integer in 0..2^31-1`, v);
    }
    check(lowWatermark <= highWatermark && highWatermark <= maxBufferedBytes, `need lowWatermark <= highWatermark <= maxBufferedBytes, got ${lowWatermark}, ${highWatermark}, ${maxBufferedBytes}`);
    const limits = mergeLimits(L.limits, o.limits);
    const lo = linkOptions(o, { highWatermark, lowWatermark, maxBufferedBytes, limits });
    const noDelay = o.noDelay ?? L.noDelay;
    check(typeof noDelay === 'boolean', 'noDelay must be a boolean', noDelay);
    const tls = tlsClientNative(o.tls, o.host);
    let id: number;
    try {
      id = this.nrt.linkOpen({ framing, maxFrameBytes, highWatermark, lowWatermark, maxBufferedBytes, noDelay, ownerPort: this.portIndex, limits, ...nativeOptions, ...(tls !== null ? { tls } : {}) });
    } catch (err) {
      return Promise.reject(err);
    }
    const link = new Link(this, id, lo);
    this.links.set(id, link);
    this.#role.linksChanged?.();
    setup?.(link);
    return link.start();
  }

  linkDone(link: Link): void {
    if (this.links.get(link.id) === link) {
      this.links.delete(link.id);
      // An OPEN the IO thread sent before the link was closed may still be in the ring: the
      // closed link takes it (and closes that connection at once) for a while yet.
      this.#closedLinks.set(link.id, link);
      setTimeout(() => this.#closedLinks.delete(link.id), 10000).unref();
    }
    this.#role.linksChanged?.();
  }

  linkFailed(linkId: number, errno: number, sysErrno: number): void {
    this.links.get(linkId)?.attemptFailed(errno, sysErrno);
  }

  /** Forgets `server` once it no longer listens and has no connection left here. */
  forgetIfDone(server: Server): void {
    if (!server.isListening && server.stats().connections === 0 && this.servers.get(server.id) === server) this.servers.delete(server.id);
  }

  /** The runtime's graceful close, on this thread: every server ends its connections ('shutdown':
   * HTTP ones after the responses in flight; framed and raw ones flushed, then closed with
   * EW_ESHUTDOWN). Resolves once none is left here. */
  drainConnections(): Promise<void> {
    const servers = [...this.servers.values()];
    for (const s of servers) s[kDrainServer]('shutdown');
    const links = [...this.links.values()].map((l) => l.close());
    return Promise.all([...servers.map((s) => s[kEmpty]()), ...links]).then(() => undefined);
  }

  /** The IO threads have stopped: every connection here is gone (closed with EW_ESHUTDOWN),
   * every server is closed and forgotten, and tasks still awaiting replies reject with
   * EW_ESHUTDOWN. The native runtime is the caller's to dispose of. Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.engine.stopped = true;
    serversStopped(this.servers.values());
    this.servers.clear();
    for (const l of [...this.links.values()]) l.stopped();
    this.links.clear();
    for (const h of [...this.handles.values()]) h[kStopped]();
    this.handles.clear();
    this.tasks.abort();
  }

  // ---- ProtocolHost: what protocols' own listen() and connect() hooks use ------------------------

  get maxRecordBody(): number {
    return this.engine.inMax;
  }

  checkOpen(): void {
    if (this.#stopped || this.#closing()) throw new ClosedError('EW_ESHUTDOWN', 'the runtime is closing');
  }

  resolve(host: string): Promise<string> {
    return resolveHost(host);
  }

  add(handle: ProtocolHandle): void {
    this.handles.set(handle.id, handle);
    this.#role.handlesChanged?.();
  }

  remove(handle: ProtocolHandle): void {
    if (this.handles.get(handle.id) === handle) this.handles.delete(handle.id);
    this.#role.handlesChanged?.();
  }

  // ---- the internal tasks between threads ----------------------------------------------------

  /** Work threads: answer the main thread's STATS_TASK with what only this thread counts (its
   * connections, requests and responses, and the tasks it scheduled). */
  serveStats(): void {
    this.tasks.define(STATS_TASK, (): ThreadStats => ({
      servers: [...this.servers.values()].map((s) => ({ id: s.id, stats: s.stats() as ThreadServerStats['stats'] })),
      tallies: this.tasks.tallies(),
    }));
  }

  /** The main thread: what work thread `to` counts on its own. */
  askStats(to: number, timeoutMs: number): Promise<ThreadStats> {
    return this.tasks.schedule<ThreadStats>(STATS_TASK, null, { to, timeoutMs });
  }

  /** The main thread: render the runtime's metrics for the work threads' HttpServer.metrics(). */
  serveMetrics(render: () => Promise<MetricsText>): void {
    this.tasks.define(METRICS_TASK, render);
  }

  /** Work threads: the runtime's metrics, rendered by the main thread. */
  askMetrics(): Promise<MetricsText> {
    return this.tasks.schedule<MetricsText>(METRICS_TASK, null, { to: 0 });
  }

  // ---- EngineHost --------------------------------------------------------------------------------

  open(io: number, slot: number, gen: number, serverId: number, family: number, port: number, address: string): Connection | undefined {
    const link = this.links.get(serverId) ?? this.#closedLinks.get(serverId);
    if (link !== undefined) {
      // A link's connection is not an accepted one: no 'connection' event anywhere; the
      // thread's process reference follows it (linksChanged).
      const conn = new Connection(this.engine, link, io, slot, gen, family, address, port);
      this.#live++;
      conn.once('close', () => {
        this.#live--;
        this.#role.linksChanged?.();
      });
      link.opened(conn);
      this.#role.linksChanged?.();
      return conn;
    }
    const server = this.servers.get(serverId);
    if (server === undefined) {
      this.#role.unknownServer?.(serverId);
      return undefined;
    }
    const conn = new Connection(this.engine, server, io, slot, gen, family, address, port);
    this.#live++;
    conn.once('close', () => {
      this.#live--;
      this.forgetIfDone(server);
      this.#role.closed?.(conn);
    });
    server[kAccepted](conn);
    this.#role.opened?.(conn);
    return conn;
  }

  unlistened(serverId: number): void {
    const h = this.handles.get(serverId);
    if (h !== undefined) {
      this.handles.delete(serverId);
      h[kNativeClosed]();
      return;
    }
    this.#role.unlistened?.(serverId);
  }

  /** accept() failed natively (already logged there, rate-limited). */
  acceptError(serverId: number, sysErrno: number): void {
    const server = this.servers.get(serverId);
    if (server === undefined) return;
    const code = errorName(-sysErrno);
    server[kError](makeError(code, `${ERROR_CODES[code]?.message ?? 'accept failed'} (accept)`, { errno: -sysErrno, syscall: 'accept' }));
  }

  /** An address was banned automatically (logged natively, rate-limited). */
  banned(serverId: number, info: BanInfo): void {
    const server = this.servers.get(serverId);
    if (server !== undefined) server.emit('ban', info);
    else this.handles.get(serverId)?.emit('ban', info);
  }

  admit(io: number, idLo: number, gen: number, serverId: number, family: number, port: number, address: string): void {
    this.#role.admit?.(io, idLo, gen, serverId, family, port, address);
  }

  handlerError(err: unknown, conn: Connection | undefined): void {
    this.#role.handlerError?.(err, conn);
  }
}
