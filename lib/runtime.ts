// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { EventEmitter } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import { ClosedError, check, fromNative } from './errors';
import { BIND_LEAST_BACKLOG, BIND_LEAST_CONNS, BIND_ROUND_ROBIN, DIST_LEAST_CONNS, DIST_ROUND_ROBIN } from './gen/wire';
import { WorkerPool, type ServerDescriptor, type WorkersOptions } from './internal/pool';
import { ThreadContext, settleWithin, type MetricsText, type ThreadStats } from './internal/thread';
import type { Tasks } from './tasks';
import { type HttpListenOptions, type HttpServer } from './http';
import type { LinesListenOptions, LinesServer } from './lines';
import type { ConnectOptions, Link } from './link';
import type { HttpConnectOptions, HttpLink } from './http-client';
import { protocolOf } from './protocols';
import { createLogger, logNative, nativeLevelOf, type Logger, type LoggerOptions } from './log';
import { addTallies, addThreadStats, collectMetrics, serverRows, type MetricsOptions } from './metrics';
import { native, type NativeRuntime } from './native';
import type { Registry } from 'prom-client';
import { Server, mergeLimits, type BindPolicy, type GuardHost, type Limits, type ListenOptions, type PeerInfo } from './server';
import { tlsServerNative, type TlsServerOptions } from './tls';
import { kDenied, kOnAccept, kUnlistened } from './internal/symbols';
import { resolveHost } from './internal/resolve';
import type { Message } from './connection';
import type { UdpConnectOptions, UdpListenOptions, UdpSocket } from './udp';

export interface RuntimeOptions {
  /** Native IO threads (1..64); 0 runs the one IO loop inline on the JavaScript thread (no IO
   * thread, no hand-off: a handler's sends leave in the same turn); 'auto' picks inline when
   * this process may use only one CPU (affinity mask or cgroup CPU quota) and one IO thread
   * otherwise. Default 'auto'. */
  ioThreads?: number | 'auto';
  /** CPU pinning of the IO threads: 'auto' (one core each, from the CPUs this process may use),
   * a list of CPUs (IO thread k runs on cpus[k % length]), or 'off' (default). */
  affinity?: 'auto' | 'off' | readonly number[];
  /** Bytes of each IO->JS ring (a power of two, >= 4096). Default 4 MiB. */
  inRingBytes?: number;
  /** Bytes of each JS->IO ring (a power of two, >= 4096). Default 4 MiB. */
  outRingBytes?: number;
  /** Connection slots per IO thread; further connections are refused. Default 65536. */
  maxConnectionsPerThread?: number;
  /** Bytes read from one connection per loop round before the others get their turn (0 =
   * until the socket is drained). Default 64 KiB. */
  readBudget?: number;
  /** How connections are watched: 'edge' (EPOLLET, read until EAGAIN; the default with IO
   * threads) or 'level' (read until a short read; write interest only while output is blocked;
   * the default inline, where the read to EAGAIN is a syscall on the JavaScript thread's time:
   * bench/README.md). Both are complete; docs/experiments.md compares them. */
  triggering?: 'edge' | 'level';
  /** Microseconds (0..1000) an IO thread may poll its rings and sockets before it blocks in
   * epoll, while spinning pays: the spin arms itself after a wait shorter than this, and backs
   * off after a spin that found nothing (docs/design-notes.md, "Spinning before sleep"). It
   * saves the wake-up on both sides when JavaScript answers within the spin. No effect inline.
   * Default 0 (off). */
  spinUs?: number;
  /** A pino logger (made with createLogger() for the `always` level), or options for one. */
  logger?: Logger | LoggerOptions;
  /** Work threads (docs/workers.md): Node worker_threads that each get their own rings to
   * every IO thread and serve the connections bound to them. Default none: the main thread
   * serves. */
  workers?: WorkersOptions;
  /** How each new connection is bound to a JS thread for life (servers may override it).
   * Default 'round-robin'. */
  bind?: BindPolicy;
  /** Bytes of each task ring between two JS threads (a power of two, >= 4096); only with work
   * threads. Default 256 KiB. */
  taskRingBytes?: number;
}

export interface CloseOptions {
  /** How long close() lets work in flight finish, on every thread: first the connections
   * (HTTP responses in flight; framed and raw output queued), then tasks (scheduled or
   * running). Then what is left is closed, or rejected, with EW_ESHUTDOWN. 0: everything is
   * closed at once. Default 5000. */
  drainTimeoutMs?: number;
}

export interface CloseOnSignalsOptions {
  /** The signals to handle. Default ['SIGTERM', 'SIGINT']. */
  signals?: readonly NodeJS.Signals[];
  /** Passed to rt.close(). Default 5000. */
  drainTimeoutMs?: number;
  /** Once the close has finished: true (default) ends the process with process.exit()
   * (process.exitCode, 0 if unset; 1 if the close failed); false only removes the handlers,
   * and the process ends once nothing else keeps it alive. */
  exit?: boolean;
}

export interface WorkerExitInfo {
  /** The thread's index (1..count). */
  index: number;
  /** Its exit code. */
  code: number;
  /** Whether a new thread took its place (workers.restart). */
  replaced: boolean;
}

export interface RuntimeEvents {
  /** A work thread exited while the runtime ran: its connections were closed with EW_EWORKER
   * and the tasks sent to it rejected. */
  workerExit: [info: WorkerExitInfo];
}

/** A queued ADMIT: io, idLo, gen, family, port, address. */
type Admission = [number, number, number, number, number, string];

/** Counters of one IO thread (`rt.stats()`), read from shared memory. The names are the
 * native EW_IO_STATS_MAP's (native/core/include/ew/runtime.h) in camelCase; test/api-surface.test.ts
 * checks that the two lists agree. */
export interface IoThreadStats {
  /** Connections accepted or adopted. */
  accepted: number;
  /** Connections closed. */
  closed: number;
  /** Connections open now. */
  live: number;
  /** Bytes read from sockets. */
  bytesIn: number;
  /** Bytes written to sockets. */
  bytesOut: number;
  /** Frames delivered to JS threads. */
  framesIn: number;
  /** Send records consumed. */
  sendRecords: number;
  /** Records for connections already closed. */
  staleSends: number;
  /** Times a connection paused because its JS thread's ring was full. */
  ringFull: number;
  /** Connections closed for a protocol error. */
  protocolErrors: number;
  /** Connections closed for output above maxBufferedBytes (EW_ESLOW). */
  slowCloses: number;
  /** accept() failures, EMFILE included. */
  acceptErrors: number;
  /** Connections refused for lack of a slot (maxConnectionsPerThread). */
  limitRejects: number;
  /** Times the loop woke from a blocking wait. */
  wakeups: number;
  /** HTTP requests delivered to JS threads. */
  httpRequests: number;
  /** HTTP requests answered natively with an error status. */
  httpErrors: number;
  /** Connections closed or answered because a timeout expired. */
  timeouts: number;
  /** Connections closed for a message or byte window over its limit. */
  kicks: number;
  /** Source addresses banned automatically. */
  bans: number;
  /** Connections refused at accept: banned, or over a connection limit. */
  guardRejects: number;
  /** Datagrams delivered to JS threads (UDP). */
  dgramsIn: number;
  /** Datagrams sent (UDP). */
  dgramsOut: number;
  /** Datagrams dropped: too large, bad frame header, banned or over the rate (UDP). */
  dgramDrops: number;
  /** Loop rounds. */
  loops: number;
  /** Message-encryption handshakes finished (docs/encryption.md). */
  handshakes: number;
  /** TLS handshakes finished (docs/tls.md). */
  tlsHandshakes: number;
  /** Connections closed for a TLS error: handshake, certificate, version, plaintext, timeout. */
  tlsFailures: number;
  /** Connections closed for a failed handshake or a record that did not verify. */
  cryptoFailures: number;
  /** The frames of framesIn that were read straight into a ring (FRAMES records, docs/protocol.md). */
  framesLanded: number;
  /** Spins before a blocking wait (the `spinUs` option). */
  spins: number;
  /** Spins that found work: each a blocking wait and a wake-up saved. */
  spinHits: number;
}

/** The native counter names in camelCase (bytes_in: bytesIn), in the native order. */
function ioStatKeys(): (keyof IoThreadStats)[] {
  return native.constants.IO_STATS.map((n) => n.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase()) as keyof IoThreadStats);
}
let IO_STAT_KEYS: (keyof IoThreadStats)[] | null = null;

export interface ThreadInfo {
  /** Kernel thread id. */
  tid: number;
  /** The CPU it is pinned to, or -1. */
  cpu: number;
}

function checkBind(bind: unknown): void {
  check(
    typeof bind === 'function' || bind === 'round-robin' || bind === 'least-loaded' || bind === 'least-backlog',
    "bind must be 'round-robin', 'least-loaded', 'least-backlog' or a function of the peer",
    bind,
  );
}

/** The CPUs this process may run on (Linux: Cpus_allowed_list of /proc/self/status, which
 * honours taskset and cgroup cpusets), or null where that cannot be read. */
function allowedCpus(): number[] | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/status', 'latin1');
  } catch {
    return os.cpus().length > 0 ? os.cpus().map((_c, i) => i) : null;
  }
  const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(text);
  if (m === null) return null;
  const out: number[] = [];
  for (const part of m[1].trim().split(',')) {
    const [a, b] = part.split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** The CPUs this process may use: its affinity mask, bounded by a cgroup v2 CPU quota
 * (cpu.max "quota period"), rounded up. */
function usableCpus(): number {
  let n = allowedCpus()?.length ?? os.availableParallelism();
  try {
    const cg = /^0::(.*)$/m.exec(fs.readFileSync('/proc/self/cgroup', 'latin1'));
    if (cg !== null) {
      const [quota, period] = fs.readFileSync(`/sys/fs/cgroup${cg[1].trim()}/cpu.max`, 'latin1').trim().split(/\s+/);
      if (quota !== 'max' && Number(period) > 0) n = Math.min(n, Math.max(1, Math.ceil(Number(quota) / Number(period))));
    }
  } catch {
    // No cgroup v2 file: the affinity mask is the bound.
  }
  return n;
}

/** [0, 1, 2, 5] as "CPUs 0-2, 5". */
function cpuList(cpus: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j] + 1) j++;
    parts.push(i === j ? `${cpus[i]}` : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return `CPUs ${parts.join(', ')}`;
}

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

function isLogger(v: unknown): v is Logger {
  return typeof v === 'object' && v !== null && typeof (v as Logger).child === 'function' && typeof (v as Logger).info === 'function';
}

/**
 * The runtime: native IO threads plus this JS thread's end of the shared-memory rings. Start it
 * with Runtime.start(), listen with rt.listen(), stop with rt.close().
 */
export class Runtime extends EventEmitter<RuntimeEvents> {
  readonly logger: Logger;
  /** @internal */ readonly nrt: NativeRuntime;
  /** This thread's engine, scheduler, servers and connections (shared with work threads' code). */
  private readonly ctx: ThreadContext;
  private registry: Registry | null = null;
  private statsAsk: Promise<ThreadStats[]> | null = null;
  private readonly descs = new Map<number, ServerDescriptor>();
  /** Servers whose work threads are being told about them: their ADMITs wait. */
  private readonly announcing = new Map<number, Admission[]>();
  private readonly bindFns = new Map<number, (peer: PeerInfo) => number>();
  private pool: WorkerPool | null = null;
  private readonly defaultBind: BindPolicy;
  private tasksActive = false;
  private referenced = false;
  private closing: Promise<void> | null = null;
  /** The internal dispatcher of the main thread (thread 0): tasks between JS threads. */
  readonly tasks: Tasks;

  /** @internal The native protection calls, for servers. */
  readonly guard: GuardHost;

  private constructor(nrt: NativeRuntime, logger: Logger, workers: number, bind: BindPolicy) {
    super();
    this.nrt = nrt;
    this.logger = logger;
    this.ctx = new ThreadContext({
      nrt,
      index: 0,
      workThreads: workers,
      logger,
      onLog: (level, msg) => logNative(logger, level, msg),
      closing: () => this.closing !== null,
      role: {
        opened: () => this.updateRef(),
        closed: () => this.updateRef(),
        linksChanged: () => this.updateRef(),
        handlesChanged: () => this.updateRef(),
        unlistened: (serverId) => this.unlistened(serverId),
        admit: (io, idLo, gen, serverId, family, port, address) => this.admit(io, idLo, gen, serverId, family, port, address),
        tasksActive: (on) => {
          this.tasksActive = on;
          this.updateRef();
        },
      },
    });
    this.guard = this.ctx.guard;
    this.tasks = this.ctx.tasks;
    this.defaultBind = bind;
    logger.on('level-change', () => nrt.setLogLevel(nativeLevelOf(logger)));
  }

  /** Starts the IO threads (in parallel) and resolves once all of them run. */
  static async start(opts: RuntimeOptions = {}): Promise<Runtime> {
    check(typeof opts === 'object' && opts !== null, 'options must be an object', opts);
    const D = native.defaults.runtime;
    const io = opts.ioThreads ?? 'auto';
    check(io === 'auto' || (Number.isInteger(io) && io >= 0 && io <= 64), "ioThreads must be an integer in 0..64 or 'auto'", io);
    const inlineIo = io === 'auto' ? usableCpus() < 2 : io === 0;
    const ioThreads = inlineIo ? 1 : (io as number);
    const affinity = opts.affinity ?? 'off';
    if (Array.isArray(affinity)) {
      check(affinity.length > 0, 'affinity list must not be empty');
      const allowed = allowedCpus();
      for (const c of affinity) {
        check(Number.isInteger(c) && c >= 0 && c < 1024, 'affinity CPUs must be integers in 0..1023', c);
        check(allowed === null || allowed.includes(c), `affinity CPU ${c} is not one this process may run on (${allowed === null ? '' : cpuList(allowed)})`);
      }
    } else {
      check(affinity === 'auto' || affinity === 'off', "affinity must be 'auto', 'off' or a list of CPUs", affinity);
    }
    const inRingBytes = opts.inRingBytes ?? D.inRingBytes;
    const outRingBytes = opts.outRingBytes ?? D.outRingBytes;
    check(isPow2(inRingBytes) && inRingBytes >= 4096 && inRingBytes <= 1 << 30, 'inRingBytes must be a power of two in 4096..2^30', inRingBytes);
    check(isPow2(outRingBytes) && outRingBytes >= 4096 && outRingBytes <= 1 << 30, 'outRingBytes must be a power of two in 4096..2^30', outRingBytes);
    const maxConns = opts.maxConnectionsPerThread ?? D.maxConnsPerThread;
    check(Number.isInteger(maxConns) && maxConns >= 1 && maxConns <= 1 << 24, 'maxConnectionsPerThread must be in 1..2^24', maxConns);
    const readBudget = opts.readBudget ?? D.readBudget;
    check(Number.isInteger(readBudget) && readBudget >= 0 && readBudget <= 0xffffffff, 'readBudget must be a u32', readBudget);
    const triggering = opts.triggering ?? (D.levelTriggered || inlineIo ? 'level' : 'edge');
    check(triggering === 'edge' || triggering === 'level', "triggering must be 'edge' or 'level'", triggering);
    const spinUs = opts.spinUs ?? D.spinUs;
    check(Number.isInteger(spinUs) && spinUs >= 0 && spinUs <= 1000, 'spinUs must be an integer in 0..1000', spinUs);
    const logger = isLogger(opts.logger) ? opts.logger : createLogger(opts.logger ?? {});
    const w = opts.workers ?? { count: 0 };
    check(typeof w === 'object' && w !== null, 'workers must be an object', w);
    check(Number.isInteger(w.count) && w.count >= 0 && w.count <= 63, 'workers.count must be an integer in 0..63', w.count);
    check(w.count === 0 || w.module !== undefined, 'workers.module is required with workers.count > 0');
    check(w.restart === undefined || typeof w.restart === 'boolean', 'workers.restart must be a boolean', w.restart);
    const bind = opts.bind ?? 'round-robin';
    checkBind(bind);
    const taskRingBytes = opts.taskRingBytes ?? 256 * 1024;
    check(isPow2(taskRingBytes) && taskRingBytes >= 4096 && taskRingBytes <= 1 << 30, 'taskRingBytes must be a power of two in 4096..2^30', taskRingBytes);

    let nrt: NativeRuntime;
    try {
      nrt = new native.NativeRuntime({
        ioThreads,
        inlineIo,
        ports: w.count + 1,
        taskRingBytes: w.count > 0 ? taskRingBytes : 0,
        affinity: Array.isArray(affinity) ? [...affinity] : (affinity as 'auto' | 'off'),
        inRingBytes,
        outRingBytes,
        maxConnsPerThread: maxConns,
        readBudget,
        levelTriggered: triggering === 'level',
        spinUs,
        logLevel: nativeLevelOf(logger),
      });
    } catch (err) {
      throw fromNative(err);
    }
    const rt = new Runtime(nrt, logger, w.count, bind);
    if (w.count > 0) {
      // A work thread's http.metrics() asks here: one registry for the whole runtime.
      rt.ctx.serveMetrics(() => rt.renderMetrics());
      const pool = new WorkerPool(rt.poolHost(), w, logger);
      rt.pool = pool;
      try {
        await pool.start();
      } catch (err) {
        await rt.close();
        throw err;
      }
      // Referenced while starting; from now on only while the runtime is (updateRef).
      pool.setRef(rt.referenced);
    }
    return rt;
  }

  private poolHost() {
    return {
      logger: this.logger,
      nrt: this.nrt,
      descriptors: () => [...this.descs.values()],
      epoch: (j: number) => this.ctx.engine.epoch(j),
      threadDied: (index: number, epoch: number) => this.tasks.threadDied(index, epoch),
      exited: (index: number, code: number, replaced: boolean) => this.emit('workerExit', { index, code, replaced }),
    };
  }

  /** Work threads configured (workers.count). */
  get workThreads(): number {
    return this.pool?.count ?? 0;
  }

  /** Connections bound to each JS thread now (index 0 = main), read from shared memory. */
  threadConnections(): number[] {
    const out: number[] = [];
    const engine = this.ctx.engine;
    for (let j = 0; j < engine.nports; j++) out.push(engine.portConnections(j));
    return out;
  }

  /** Opens a server: framed TCP (`protocol: 'tcp'`), HTTP/1.1 (`protocol: 'http'`),
   * newline-delimited lines (`protocol: 'lines'`) or a UDP socket (`protocol: 'udp'`,
   * lib/udp.ts). Host names are resolved first (dns.lookup, like net.Server.listen). All of
   * them share the runtime's IO threads. */
  listen(opts: ListenOptions): Promise<Server>;
  listen(opts: HttpListenOptions): Promise<HttpServer>;
  listen(opts: LinesListenOptions): Promise<LinesServer>;
  listen(opts: UdpListenOptions & { framing: 'raw' }): Promise<UdpSocket<Buffer>>;
  listen(opts: UdpListenOptions): Promise<UdpSocket<Message>>;
  async listen(o: ListenOptions | HttpListenOptions | LinesListenOptions | UdpListenOptions): Promise<Server | HttpServer | LinesServer | UdpSocket<Message> | UdpSocket<Buffer>> {
    check(typeof o === 'object' && o !== null, 'listen options must be an object', o);
    const proto = protocolOf(o.protocol);
    const opts = o as ListenOptions;
    if (this.closing !== null) throw new ClosedError('EW_ESHUTDOWN', 'the runtime is closing');
    if (proto.listen !== undefined) return (await proto.listen(this.ctx, o)) as UdpSocket<Message>;
    const port = opts.port ?? 0;
    check(Number.isInteger(port) && port >= 0 && port <= 65535, 'port must be an integer in 0..65535', port);
    const L = native.defaults.listen;
    const backlog = opts.backlog ?? L.backlog;
    check(Number.isInteger(backlog) && backlog > 0 && backlog <= 65535, 'backlog must be an integer in 1..65535', backlog);
    const framing = proto.fixed.framing ?? opts.framing ?? 'frames';
    check(framing === 'frames' || framing === 'raw', "framing must be 'frames' or 'raw'", framing);
    const protoOptions = proto.nativeOptions(o, { maxRecordBody: this.ctx.engine.inMax });
    const tls = tlsServerNative((o as { tls?: TlsServerOptions }).tls);
    const distribution = opts.distribution ?? (L.leastConnections ? 'least-connections' : 'round-robin');
    check(distribution === 'round-robin' || distribution === 'least-connections', "distribution must be 'round-robin' or 'least-connections'", distribution);
    const maxFrameBytes = opts.maxFrameBytes ?? L.maxFrameBytes;
    check(Number.isInteger(maxFrameBytes) && maxFrameBytes >= 0 && maxFrameBytes <= 0xffffffff, 'maxFrameBytes must be a u32', maxFrameBytes);
    const highWatermark = opts.highWatermark ?? L.highWatermark;
    const lowWatermark = opts.lowWatermark ?? Math.min(L.lowWatermark, highWatermark);
    const maxBufferedBytes = opts.maxBufferedBytes ?? Math.max(L.maxBufferedBytes, highWatermark);
    for (const [name, v] of [['highWatermark', highWatermark], ['lowWatermark', lowWatermark], ['maxBufferedBytes', maxBufferedBytes]] as const) {
      check(Number.isInteger(v) && v >= 0 && v <= 0x7fffffff, `${name} must be an integer in 0..2^31-1`, v);
    }
    check(lowWatermark <= highWatermark && highWatermark <= maxBufferedBytes, `need lowWatermark <= highWatermark <= maxBufferedBytes, got ${lowWatermark}, ${highWatermark}, ${maxBufferedBytes}`);
    const limits = mergeLimits(L.limits, opts.limits);
    const maxTrackedIps = opts.maxTrackedIps ?? L.maxTrackedIps;
    check(Number.isInteger(maxTrackedIps) && maxTrackedIps >= 16 && maxTrackedIps <= 1 << 24, 'maxTrackedIps must be an integer in 16..2^24', maxTrackedIps);
    const decodeErrorPolicy = proto.fixed.decodeErrorPolicy ?? opts.decodeErrorPolicy ?? 'close';
    check(decodeErrorPolicy === 'close' || decodeErrorPolicy === 'drop', "decodeErrorPolicy must be 'close' or 'drop'", decodeErrorPolicy);
    const bind = opts.bind ?? this.defaultBind;
    checkBind(bind);
    const onAccept = opts.onAccept;
    check(onAccept === undefined || typeof onAccept === 'function', 'onAccept must be a function', onAccept);
    const acceptTimeoutMs = opts.acceptTimeoutMs ?? 10000;
    check(Number.isInteger(acceptTimeoutMs) && acceptTimeoutMs >= 1 && acceptTimeoutMs <= 0x7fffffff, 'acceptTimeoutMs must be an integer in 1..2^31-1', acceptTimeoutMs);
    // Admission parks each new connection until the main thread answers: for an accept hook,
    // for a bind function, and while the work threads learn about the server.
    const announce = this.pool !== null;
    const admit = onAccept !== undefined || typeof bind === 'function' || announce;

    let host = '';
    if (opts.host !== undefined && opts.host !== '') {
      check(typeof opts.host === 'string', 'host must be a string', opts.host);
      host = await resolveHost(opts.host);
    }
    if (this.closing !== null) throw new ClosedError('EW_ESHUTDOWN', 'the runtime is closing');
    let info;
    try {
      info = this.nrt.listen({
        host,
        port,
        backlog,
        reusePort: opts.reusePort ?? false,
        distribution: distribution === 'least-connections' ? DIST_LEAST_CONNS : DIST_ROUND_ROBIN,
        framing: proto.nativeFraming(framing),
        maxFrameBytes,
        highWatermark,
        lowWatermark,
        maxBufferedBytes,
        noDelay: opts.noDelay ?? L.noDelay,
        ownerPort: 0,
        bind: bind === 'least-loaded' ? BIND_LEAST_CONNS : bind === 'least-backlog' ? BIND_LEAST_BACKLOG : BIND_ROUND_ROBIN,
        bindPorts: [...this.ctx.serving],
        admit,
        limits,
        maxTrackedIps,
        ...protoOptions,
        ...(tls !== null ? { tls } : {}),
      });
    } catch (err) {
      throw fromNative(err);
    }
    const addr = { address: info.address, family: info.family === 6 ? ('IPv6' as const) : ('IPv4' as const), port: info.port };
    const sopts = { framing: framing as 'frames' | 'raw', allowHalfOpen: proto.fixed.allowHalfOpen ?? opts.allowHalfOpen ?? false, highWatermark, lowWatermark, maxBufferedBytes, decodeErrorPolicy: decodeErrorPolicy as 'close' | 'drop', limits };
    const desc: ServerDescriptor = { id: info.id, protocol: o.protocol, addr, opts: sopts };
    const server = this.ctx.addServer(this, desc);
    server.acceptTimeoutMs = acceptTimeoutMs;
    if (onAccept !== undefined) server.onAccept(onAccept);
    if (typeof bind === 'function') this.bindFns.set(info.id, bind);
    this.descs.set(info.id, desc);
    this.updateRef();
    if (announce) {
      this.announcing.set(info.id, []);
      try {
        await this.pool!.announce(desc);
      } finally {
        const queued = this.announcing.get(info.id) ?? [];
        this.announcing.delete(info.id);
        if (onAccept === undefined && typeof bind !== 'function' && server[kOnAccept] === null) this.setAdmit(server, false);
        for (const q of queued) this.decide(server, ...q);
      }
    }
    this.logger.debug({ server: info.id, address: info.address, port: info.port }, 'listening');
    return server;
  }

  /**
   * Closes gracefully, then stops the work threads and the IO threads and frees everything
   * native. Within drainTimeoutMs (see CloseOptions): every server stops accepting; on every
   * JS thread, HTTP connections finish the responses in flight (the last with `Connection:
   * close`) and end, idle ones close at once, framed and raw connections have their queued
   * output flushed and close with EW_ESHUTDOWN; then tasks in flight finish. What is left at
   * the deadline is closed with EW_ESHUTDOWN (connections get 'close', servers 'close').
   * Idempotent: a second call returns the same promise.
   */
  close(opts: CloseOptions = {}): Promise<void> {
    if (this.closing === null) {
      const ms = opts.drainTimeoutMs ?? 5000;
      check(Number.isInteger(ms) && ms >= 0 && ms <= 0x7fffffff, 'drainTimeoutMs must be an integer in 0..2^31-1', ms);
      this.closing = this.shutdown(ms);
    }
    return this.closing;
  }

  private async shutdown(drainMs: number): Promise<void> {
    // Tasks first, while every thread still runs: what was scheduled gets its answer (or its
    // timeout); new ones are refused with EW_ESHUTDOWN.
    const deadline = Date.now() + drainMs;
    // The work threads keep the process alive until they are stopped.
    this.pool?.setRef(true);
    // Connections before tasks: a handler finishing its response may still schedule tasks.
    if (drainMs > 0) await this.drainConnections(deadline);
    await this.tasks.drain(Math.max(0, deadline - Date.now()));
    if (this.pool !== null) await this.pool.drain(Math.max(0, deadline - Date.now()));
    await this.nrt.stop();
    this.ctx.stop();
    this.descs.clear();
    if (this.pool !== null) await this.pool.dispose();
    this.nrt.dispose();
  }

  /** Stops accepting on every server and ends every connection gracefully, on every thread
   * (see close()); resolves once none is left, or at `deadline`. */
  private async drainConnections(deadline: number): Promise<void> {
    const servers = this.servers();
    for (const s of servers) {
      if (!s.isListening) continue;
      try {
        void s.close();
      } catch (err) {
        this.logger.error({ err, server: s.id }, 'could not stop a listener while closing');
      }
    }
    const all = [this.ctx.drainConnections()];
    if (this.pool !== null) all.push(this.pool.drainConnections(Math.max(0, deadline - Date.now())));
    await settleWithin(Promise.all(all), deadline - Date.now());
    // Counted on every thread (a work thread that does not answer counts as none left).
    let left = 0;
    for (const s of servers) {
      const here = s.stats().connections;
      left += await Promise.race([s.getConnections().catch(() => here), new Promise<number>((r) => setTimeout(() => r(here), 1000).unref())]);
    }
    if (left > 0) this.logger.warn({ connections: left }, 'connections still open when the drain time ran out; closing them');
  }

  /**
   * Installs handlers for SIGTERM and SIGINT (or `opts.signals`) that close the runtime
   * gracefully (rt.close({ drainTimeoutMs })) once, logging at the runtime's logger, then end
   * the process (see CloseOnSignalsOptions.exit). A second signal while closing ends the
   * process at once, with 128 + the signal's number as the exit code, like a shell. Returns a
   * function that removes the handlers. While installed, these signals no longer end the
   * process by Node's default action.
   */
  closeOnSignals(opts: CloseOnSignalsOptions = {}): () => void {
    check(typeof opts === 'object' && opts !== null, 'options must be an object', opts);
    const signals = opts.signals ?? (['SIGTERM', 'SIGINT'] as const);
    check(Array.isArray(signals) && signals.length > 0, 'signals must be a non-empty array of signal names', signals);
    for (const sig of signals) check(typeof sig === 'string' && typeof os.constants.signals[sig as NodeJS.Signals] === 'number', `unknown signal ${JSON.stringify(sig)}`);
    const ms = opts.drainTimeoutMs ?? 5000;
    check(Number.isInteger(ms) && ms >= 0 && ms <= 0x7fffffff, 'drainTimeoutMs must be an integer in 0..2^31-1', ms);
    const exit = opts.exit ?? true;
    check(typeof exit === 'boolean', 'exit must be a boolean', exit);
    let received: NodeJS.Signals | null = null;
    const remove = (): void => {
      for (const sig of signals) process.off(sig, onSignal);
    };
    const onSignal = (sig: NodeJS.Signals): void => {
      if (received !== null) {
        this.logger.warn({ signal: sig }, 'second signal while closing; exiting now');
        process.exit(128 + (os.constants.signals[sig] ?? 0));
      }
      received = sig;
      this.logger.info({ signal: sig, drainTimeoutMs: ms }, 'signal received; closing gracefully');
      this.close({ drainTimeoutMs: ms }).then(
        () => {
          this.logger.info({ signal: sig }, 'closed');
          remove();
          if (exit) process.exit(process.exitCode ?? 0);
        },
        (err: unknown) => {
          this.logger.error({ err, signal: sig }, 'graceful close failed');
          remove();
          if (exit) process.exit(1);
        },
      );
    };
    for (const sig of signals) process.on(sig, onSignal);
    return remove;
  }

  /** Per-IO-thread counters, read from shared memory without a native call. */
  stats(): IoThreadStats[] {
    const keys = (IO_STAT_KEYS ??= ioStatKeys());
    const out: IoThreadStats[] = [];
    const engine = this.ctx.engine;
    for (let k = 0; k < engine.nio; k++) {
      const s = {} as IoThreadStats;
      keys.forEach((n, i) => (s[n] = engine.stat(k, i)));
      out.push(s);
    }
    return out;
  }

  /** Where each IO thread runs. */
  threads(): ThreadInfo[] {
    return this.nrt.threads();
  }

  /**
   * Opens an outbound connection, a Link: the peer's name is resolved (dns.lookup; every
   * address is tried in turn), one attempt runs at a time on an IO thread, and once connected
   * the link's connection is served like an accepted one (same framing, limits and
   * backpressure), on this thread. It reconnects after a drop (exponential backoff, jitter)
   * unless `reconnect: false`; what is sent while it is down is queued, bounded, and written
   * in order after the next connect. Resolves once the first connection is up; rejects with
   * the attempt's error (EW_ECONNREFUSED, EW_ETIMEDOUT, EW_EAI_NONAME, ...) when it fails and
   * reconnect is off, or when reconnect.maxAttempts is spent; with EW_ECANCELED if the link is
   * closed first. The same `protocol` values as listen() (those with a client side):
   * `protocol: 'http'` gives an HttpLink, whose request() sends HTTP/1.1 requests over a
   * keep-alive connection that reconnects the same way (docs/http.md, "The client");
   * `protocol: 'udp'` a connected UDP socket (lib/udp.ts: send() goes to the peer, 'message'
   * hears only the peer).
   */
  connect(opts: HttpConnectOptions): Promise<HttpLink>;
  connect(opts: UdpConnectOptions & { framing: 'raw' }): Promise<UdpSocket<Buffer>>;
  connect(opts: UdpConnectOptions): Promise<UdpSocket<Message>>;
  connect(opts: ConnectOptions): Promise<Link>;
  async connect(opts: ConnectOptions | HttpConnectOptions | UdpConnectOptions): Promise<Link | HttpLink | UdpSocket<Message> | UdpSocket<Buffer>> {
    // Bad options reject, as listen()'s do (the promise is the one place errors come from).
    check(typeof opts === 'object' && opts !== null, 'connect options must be an object', opts);
    const proto = protocolOf(opts.protocol);
    if (this.closing !== null) throw new ClosedError('EW_ESHUTDOWN', 'the runtime is closing');
    check(proto.connect !== undefined, `protocol '${String(opts.protocol)}' has no client side`, opts.protocol);
    return (await proto.connect(this.ctx, opts)) as Link | HttpLink | UdpSocket<Message>;
  }

  /** The servers of this runtime that listen or still have open connections. */
  servers(): Server[] {
    return [...this.ctx.servers.values()];
  }

  /**
   * The runtime's Prometheus metrics: a prom-client Registry (made on the first call, then the
   * same one) whose collectors read the IO threads' counters, every server's stats() and the
   * task scheduler's tallies at scrape time (docs/metrics.md). `registry.metrics()` renders the
   * text format; `http.metrics('/metrics')` serves it.
   */
  metrics(opts: MetricsOptions = {}): Registry {
    if (this.registry === null) {
      this.registry = collectMetrics(
        {
          stats: () => this.stats(),
          serverStats: async () => addThreadStats(serverRows(this.servers()), (await this.threadStats()).map((t) => t.servers)),
          taskTallies: async () => addTallies([this.tasks.tallies(), ...(await this.threadStats()).map((t) => t.tallies)]),
          links: () => [...this.ctx.links.values()].map((l) => ({ id: l.id, peer: `${l.host}:${l.port}`, connected: l.connected, stats: l.stats() })),
          observeTasks: (fn) => this.tasks.observe(fn),
        },
        opts,
      );
    }
    return this.registry;
  }

  /** IO loops: the IO threads, or 1 when the loop runs inline (see inlineIo). */
  get ioThreads(): number {
    return this.ctx.engine.nio;
  }

  /** Whether the IO loop runs inline on this thread (ioThreads 0, or 'auto' on one CPU). */
  get inlineIo(): boolean {
    return this.ctx.engine.inline;
  }

  // ---- the main thread's part of the engine hooks (its ThreadRole), and the ServerHost ----------

  /** The listening sockets of a server closed natively. */
  private unlistened(serverId: number): void {
    // The work threads' views end their connections too; 'close' waits for them.
    const elsewhere = this.descs.delete(serverId) ? this.pool?.unlistened(serverId) : undefined;
    this.bindFns.delete(serverId);
    const server = this.ctx.servers.get(serverId);
    if (server === undefined) return;
    server[kUnlistened](elsewhere);
    // A server with open connections stays known until they close: runtime shutdown must still
    // reach them.
    this.ctx.forgetIfDone(server);
    this.updateRef();
  }

  /** A new connection is parked natively until the verdict. */
  private admit(io: number, idLo: number, gen: number, serverId: number, family: number, port: number, address: string): void {
    const server = this.ctx.servers.get(serverId);
    if (server === undefined || !server.isListening) {
      this.ctx.engine.verdict(io, idLo, gen, false, 0);
      return;
    }
    const queued = this.announcing.get(serverId);
    if (queued !== undefined) {
      queued.push([io, idLo, gen, family, port, address]);
      return;
    }
    this.decide(server, io, idLo, gen, family, port, address);
  }

  private decide(server: Server, io: number, idLo: number, gen: number, family: number, port: number, address: string): void {
    const peer: PeerInfo = { address, port, family: family === 6 ? 'IPv6' : 'IPv4', server };
    const finish = (ok: boolean): void => {
      let to = 0xffffffff;
      const fn = this.bindFns.get(server.id);
      if (ok && fn !== undefined) {
        try {
          const v = fn(peer);
          check(Number.isInteger(v), 'bind function must return an integer', v);
          const n = this.ctx.serving.length;
          to = this.ctx.serving[((v % n) + n) % n];
        } catch (err) {
          this.logger.warn({ err, server: server.id, address }, 'bind function threw; connection refused');
          ok = false;
        }
      }
      if (!ok) server[kDenied]();
      this.ctx.engine.verdict(io, idLo, gen, ok, to);
    };
    const hook = server[kOnAccept];
    if (hook === null) {
      finish(true);
      return;
    }
    let r: boolean | Promise<boolean>;
    try {
      r = hook(peer);
    } catch (err) {
      this.logger.warn({ err, server: server.id, address }, 'accept hook threw; connection refused');
      finish(false);
      return;
    }
    if (r === null || typeof r !== 'object' || typeof (r as Promise<boolean>).then !== 'function') {
      finish(r === true);
      return;
    }
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      this.logger.warn({ server: server.id, address, ms: server.acceptTimeoutMs }, 'accept hook did not answer in time; connection refused');
      finish(false);
    }, server.acceptTimeoutMs);
    (r as Promise<boolean>).then(
      (v) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        finish(v === true);
      },
      (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.logger.warn({ err, server: server.id, address }, 'accept hook rejected; connection refused');
        finish(false);
      },
    );
  }

  /** @internal */
  limitsChanged(server: Server, limits: Required<Limits>): void {
    const d = this.descs.get(server.id);
    if (d !== undefined) d.opts.limits = limits; // for threads started later
    this.pool?.broadcast({ t: 'limits', id: server.id, limits });
  }

  /** What each work thread counts on its own, asked once per scrape (the collectors of one
   * scrape share the answer); a thread that does not answer within 2 s is left out. */
  private threadStats(): Promise<ThreadStats[]> {
    if (this.pool === null) return Promise.resolve([]);
    if (this.statsAsk === null) {
      const ask: Promise<ThreadStats>[] = [];
      for (let i = 1; i <= this.pool.count; i++) ask.push(this.ctx.askStats(i, 2000));
      this.statsAsk = Promise.allSettled(ask).then((all) => {
        setImmediate(() => (this.statsAsk = null));
        return all.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      });
    }
    return this.statsAsk;
  }

  /** @internal The metrics in the text format, for HttpServer.metrics(). */
  renderMetrics(): Promise<MetricsText> {
    const r = this.metrics();
    return r.metrics().then((body) => ({ contentType: r.contentType, body }));
  }

  /** @internal ServerHost: HttpServer.metrics() on this thread. */
  metricsText(): Promise<MetricsText> {
    return this.renderMetrics();
  }

  /** @internal With work threads, they serve every connection and the main thread none. */
  servesConnections(): boolean {
    return this.pool === null;
  }

  /** @internal */
  connectionsElsewhere(server: Server): Promise<number> {
    return this.pool === null ? Promise.resolve(0) : this.pool.connections(server.id);
  }

  /** @internal */
  closeElsewhere(server: Server, idleOnly: boolean): void {
    this.pool?.broadcast({ t: 'closeConns', id: server.id, idleOnly });
  }

  /** @internal */
  setAdmit(server: Server, on: boolean): void {
    if (!server.isListening) return;
    // Admission stays on while a bind function or the work threads' announcement needs it.
    const need = on || this.bindFns.has(server.id) || this.announcing.has(server.id);
    try {
      this.nrt.setAdmit(server.id, need);
    } catch (err) {
      const e = fromNative(err);
      if ((e as { code?: string }).code !== 'EW_ENOENT') throw e;
    }
  }

  /** @internal */
  unlisten(server: Server): void {
    try {
      this.nrt.unlisten(server.id);
    } catch (err) {
      // Already closed natively (the runtime is stopping): report it as closed.
      server[kUnlistened]();
      const e = fromNative(err);
      if ((e as { code?: string }).code !== 'EW_ENOENT' && (e as { code?: string }).code !== 'EW_ESTATE') throw e;
    }
  }

  /** The process stays alive while a server listens or a connection is open, like net. */
  /** ... and, with work threads, while tasks scheduled from here await their replies (the
   * work threads are referenced then, as a Worker is). */
  private updateRef(): void {
    let listening = false;
    for (const s of this.ctx.servers.values()) if (s.isListening) listening = true;
    const want = (listening || this.ctx.liveConnections > 0 || this.ctx.links.size > 0 || this.ctx.handles.size > 0 || this.tasksActive) && this.closing === null;
    if (want !== this.referenced) {
      this.referenced = want;
      this.nrt.setRef(want);
      // While closing, the pool holds its threads referenced itself until they are gone.
      if (this.closing === null) this.pool?.setRef(want);
    }
  }
}
