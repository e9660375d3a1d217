// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { lookup } from 'dns/promises';
import * as os from 'os';
import { Connection } from './connection';
import { ClosedError, ERROR_CODES, check, errorName, fromNative, makeError } from './errors';
import { Engine, type EngineHost } from './internal/engine';
import { DIST_LEAST_CONNS, DIST_ROUND_ROBIN, FRAMING_FRAMES, FRAMING_HTTP, FRAMING_RAW } from './internal/constants';
import { HttpServer, type HttpListenOptions } from './http';
import { createLogger, logNative, nativeLevelOf, type Logger, type LoggerOptions } from './log';
import { native, type NativeListenOptions, type NativeRuntime } from './native';
import { Server, mergeLimits, type BanEntry, type BanInfo, type GuardHost, type Limits, type ListenOptions, type ServerHost } from './server';
import { kAccepted, kClosed, kConnections, kError, kUnlistened } from './internal/symbols';

export interface RuntimeOptions {
  /** Native IO threads (1..64). Default 1. */
  ioThreads?: number;
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
  /** How connections are watched: 'edge' (EPOLLET, read until EAGAIN; the default) or
   * 'level' (read until a short read; write interest only while output is blocked). Both are
   * complete; docs/experiments.md compares them. */
  triggering?: 'edge' | 'level';
  /** A pino logger (made with createLogger() for the `always` level), or options for one. */
  logger?: Logger | LoggerOptions;
}

export interface IoThreadStats {
  [counter: string]: number;
}

export interface ThreadInfo {
  /** Kernel thread id. */
  tid: number;
  /** The CPU it is pinned to, or -1. */
  cpu: number;
}

const isPow2 = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

function isLogger(v: unknown): v is Logger {
  return typeof v === 'object' && v !== null && typeof (v as Logger).child === 'function' && typeof (v as Logger).info === 'function';
}

/**
 * The runtime: native IO threads plus this JS thread's end of the shared-memory rings. Start it
 * with Runtime.start(), listen with rt.listen(), stop with rt.close().
 */
export class Runtime implements EngineHost, ServerHost {
  readonly logger: Logger;
  private readonly nrt: NativeRuntime;
  private readonly engine: Engine;
  private readonly servers = new Map<number, Server>();
  private liveConns = 0;
  private referenced = false;
  private closing: Promise<void> | null = null;

  /** @internal The native protection calls, for servers. */
  readonly guard: GuardHost = {
    setLimits: (id: number, limits: Required<Limits>): void => this.call(() => this.nrt.setLimits(id, limits)),
    stats: (id: number) => {
      try {
        return this.nrt.serverStats(id);
      } catch {
        return null; // no longer listening natively
      }
    },
    banAdd: (id: number, address: string, ms: number): void => this.call(() => this.nrt.banAdd(id, address, ms)),
    banRemove: (id: number, address: string): boolean => this.call(() => this.nrt.banRemove(id, address)),
    banList: (id: number): BanEntry[] => {
      try {
        return this.nrt.banList(id);
      } catch {
        return [];
      }
    },
  };

  private call<T>(fn: () => T): T {
    if (this.closing !== null) throw new ClosedError('EW_ESHUTDOWN', 'the runtime is closing');
    try {
      return fn();
    } catch (err) {
      throw fromNative(err);
    }
  }

  // The addon holds these weakly unless the runtime is referenced (listening or connected), so
  // that a dropped, idle runtime can be collected; the Runtime keeps them alive meanwhile.
  private readonly onWake = (): void => this.engine.drain();
  private readonly onLog = (level: number, msg: string): void => logNative(this.logger, level, msg);

  private constructor(nrt: NativeRuntime, logger: Logger) {
    this.nrt = nrt;
    this.logger = logger;
    const attach = nrt.attach(0, this.onWake, this.onLog);
    this.engine = new Engine(nrt, attach, this);
    logger.on('level-change', () => nrt.setLogLevel(nativeLevelOf(logger)));
  }

  /** Starts the IO threads (in parallel) and resolves once all of them run. */
  static async start(opts: RuntimeOptions = {}): Promise<Runtime> {
    check(typeof opts === 'object' && opts !== null, 'options must be an object');
    const D = native.defaults.runtime;
    const ioThreads = opts.ioThreads ?? D.ioThreads;
    check(Number.isInteger(ioThreads) && ioThreads >= 1 && ioThreads <= 64, 'ioThreads must be an integer in 1..64');
    const affinity = opts.affinity ?? 'off';
    if (Array.isArray(affinity)) {
      check(affinity.length > 0, 'affinity list must not be empty');
      const ncpu = os.cpus().length;
      for (const c of affinity) check(Number.isInteger(c) && c >= 0 && c < Math.max(ncpu, 1024), `affinity CPU ${c} is not a CPU number`);
    } else {
      check(affinity === 'auto' || affinity === 'off', "affinity must be 'auto', 'off' or a list of CPUs");
    }
    const inRingBytes = opts.inRingBytes ?? D.inRingBytes;
    const outRingBytes = opts.outRingBytes ?? D.outRingBytes;
    check(isPow2(inRingBytes) && inRingBytes >= 4096 && inRingBytes <= 1 << 30, 'inRingBytes must be a power of two in 4096..2^30');
    check(isPow2(outRingBytes) && outRingBytes >= 4096 && outRingBytes <= 1 << 30, 'outRingBytes must be a power of two in 4096..2^30');
    const maxConns = opts.maxConnectionsPerThread ?? D.maxConnsPerThread;
    check(Number.isInteger(maxConns) && maxConns >= 1 && maxConns <= 1 << 24, 'maxConnectionsPerThread must be in 1..2^24');
    const readBudget = opts.readBudget ?? D.readBudget;
    check(Number.isInteger(readBudget) && readBudget >= 0 && readBudget <= 0xffffffff, 'readBudget must be a u32');
    const triggering = opts.triggering ?? (D.levelTriggered ? 'level' : 'edge');
    check(triggering === 'edge' || triggering === 'level', "triggering must be 'edge' or 'level'");
    const logger = isLogger(opts.logger) ? opts.logger : createLogger(opts.logger ?? {});

    let nrt: NativeRuntime;
    try {
      nrt = new native.NativeRuntime({
        ioThreads,
        ports: 1,
        affinity: Array.isArray(affinity) ? [...affinity] : (affinity as 'auto' | 'off'),
        inRingBytes,
        outRingBytes,
        maxConnsPerThread: maxConns,
        readBudget,
        serialStart: false,
        levelTriggered: triggering === 'level',
        logLevel: nativeLevelOf(logger),
      });
    } catch (err) {
      throw fromNative(err);
    }
    return new Runtime(nrt, logger);
  }

  /** Opens a server: framed TCP (`protocol: 'tcp'`) or HTTP/1.1 (`protocol: 'http'`). Host
   * names are resolved first (dns.lookup, like net.Server.listen). TCP and HTTP servers share
   * the runtime's IO threads. */
  listen(opts: ListenOptions): Promise<Server>;
  listen(opts: HttpListenOptions): Promise<HttpServer>;
  async listen(o: ListenOptions | HttpListenOptions): Promise<Server | HttpServer> {
    check(typeof o === 'object' && o !== null, 'listen options must be an object');
    check(o.protocol === 'tcp' || o.protocol === 'http', "protocol must be 'tcp' or 'http'");
    const http = o.protocol === 'http';
    const opts = o as ListenOptions;
    const hopts = o as HttpListenOptions;
    if (this.closing !== null) throw new ClosedError('EW_ESHUTDOWN', 'the runtime is closing');
    const port = opts.port ?? 0;
    check(Number.isInteger(port) && port >= 0 && port <= 65535, 'port must be 0..65535');
    const L = native.defaults.listen;
    const backlog = opts.backlog ?? L.backlog;
    check(Number.isInteger(backlog) && backlog > 0 && backlog <= 65535, 'backlog must be 1..65535');
    const framing = http ? 'frames' : opts.framing ?? 'frames';
    check(framing === 'frames' || framing === 'raw', "framing must be 'frames' or 'raw'");
    const httpLimits: Partial<NativeListenOptions> = {};
    if (http) {
      for (const key of ['maxHeaderBytes', 'maxHeaders', 'maxUrlBytes', 'maxBodyBytes', 'headerTimeoutMs', 'bodyTimeoutMs', 'keepAliveTimeoutMs', 'maxRequestsPerConnection'] as const) {
        const v = hopts[key] ?? native.defaults.listen[key];
        check(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `${key} must be an integer in 0..2^32-1`);
        httpLimits[key] = v;
      }
      check(httpLimits.maxHeaderBytes! >= 64 && httpLimits.maxHeaders! >= 1 && httpLimits.maxUrlBytes! >= 1, 'HTTP header limits are too small to parse a request');
    }
    const distribution = opts.distribution ?? (L.leastConnections ? 'least-connections' : 'round-robin');
    check(distribution === 'round-robin' || distribution === 'least-connections', "distribution must be 'round-robin' or 'least-connections'");
    const maxFrameBytes = opts.maxFrameBytes ?? L.maxFrameBytes;
    check(Number.isInteger(maxFrameBytes) && maxFrameBytes >= 0 && maxFrameBytes <= 0xffffffff, 'maxFrameBytes must be a u32');
    const highWatermark = opts.highWatermark ?? L.highWatermark;
    const lowWatermark = opts.lowWatermark ?? Math.min(L.lowWatermark, highWatermark);
    const maxBufferedBytes = opts.maxBufferedBytes ?? Math.max(L.maxBufferedBytes, highWatermark);
    for (const [name, v] of [['highWatermark', highWatermark], ['lowWatermark', lowWatermark], ['maxBufferedBytes', maxBufferedBytes]] as const) {
      check(Number.isInteger(v) && v >= 0 && v <= 0x7fffffff, `${name} must be an integer in 0..2^31-1`);
    }
    check(lowWatermark <= highWatermark && highWatermark <= maxBufferedBytes, 'need lowWatermark <= highWatermark <= maxBufferedBytes');
    const limits = mergeLimits(L.limits, (o as ListenOptions).limits);
    const maxTrackedIps = (o as ListenOptions).maxTrackedIps ?? L.maxTrackedIps;
    check(Number.isInteger(maxTrackedIps) && maxTrackedIps >= 16 && maxTrackedIps <= 1 << 24, 'maxTrackedIps must be an integer in 16..2^24');
    const decodeErrorPolicy = http ? 'close' : opts.decodeErrorPolicy ?? 'close';
    check(decodeErrorPolicy === 'close' || decodeErrorPolicy === 'drop', "decodeErrorPolicy must be 'close' or 'drop'");

    let host = '';
    if (opts.host !== undefined && opts.host !== '') {
      check(typeof opts.host === 'string', 'host must be a string');
      try {
        host = (await lookup(opts.host)).address;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const code = e.code === 'ENOTFOUND' ? 'EW_EAI_NONAME' : e.code === 'EAI_AGAIN' ? 'EW_EAI_AGAIN' : 'EW_EAI_OTHER';
        throw fromNative({ code, message: `${ERROR_CODES[code].message} (getaddrinfo) ${opts.host}`, errno: ERROR_CODES[code].errno, syscall: 'getaddrinfo', address: opts.host });
      }
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
        framing: http ? FRAMING_HTTP : framing === 'raw' ? FRAMING_RAW : FRAMING_FRAMES,
        maxFrameBytes,
        highWatermark,
        lowWatermark,
        maxBufferedBytes,
        noDelay: opts.noDelay ?? L.noDelay,
        ownerPort: 0,
        limits,
        maxTrackedIps,
        ...httpLimits,
      });
    } catch (err) {
      throw fromNative(err);
    }
    const addr = { address: info.address, family: info.family === 6 ? ('IPv6' as const) : ('IPv4' as const), port: info.port };
    // An HTTP connection ends after the responses it owes, not at the peer's FIN: its pipeline
    // decides, so the connection itself is half-open capable.
    const server = http
      ? new HttpServer(this, this.engine, info.id, addr, { framing, allowHalfOpen: true, highWatermark, lowWatermark, decodeErrorPolicy, limits })
      : new Server(this, info.id, addr, { framing, allowHalfOpen: opts.allowHalfOpen ?? false, highWatermark, lowWatermark, decodeErrorPolicy, limits });
    this.servers.set(info.id, server);
    this.updateRef();
    this.logger.debug({ server: info.id, address: info.address, port: info.port }, 'listening');
    return server;
  }

  /**
   * Stops the IO threads: listeners and connections close at once (connections get 'close'
   * with EW_ESHUTDOWN, servers 'close'), everything native is freed. For a graceful stop, close
   * the servers and end() the connections first. Idempotent.
   */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    await this.nrt.stop();
    this.engine.stopped = true;
    for (const server of this.servers.values()) {
      for (const conn of server[kConnections]()) conn[kClosed](ERROR_CODES.EW_ESHUTDOWN.errno, 0);
      server[kUnlistened]();
    }
    this.servers.clear();
    this.nrt.dispose();
  }

  /** Per-IO-thread counters, read from shared memory without a native call. */
  stats(): IoThreadStats[] {
    const names = native.constants.IO_STATS;
    const out: IoThreadStats[] = [];
    for (let k = 0; k < this.engine.nio; k++) {
      const s: IoThreadStats = {};
      names.forEach((n, i) => (s[n] = this.engine.stat(k, i)));
      out.push(s);
    }
    return out;
  }

  /** Where each IO thread runs. */
  threads(): ThreadInfo[] {
    return this.nrt.threads();
  }

  get ioThreads(): number {
    return this.engine.nio;
  }

  // ---- EngineHost / ServerHost ---------------------------------------------------------------

  /** @internal */
  open(io: number, slot: number, gen: number, serverId: number, family: number, port: number, address: string): Connection | undefined {
    const server = this.servers.get(serverId);
    if (server === undefined) return undefined;
    const conn = new Connection(this.engine, server, io, slot, gen, family, address, port);
    this.liveConns++;
    conn.once('close', () => {
      this.liveConns--;
      if (!server.isListening && server.stats().connections === 0) this.servers.delete(serverId);
      this.updateRef();
    });
    this.updateRef();
    server[kAccepted](conn);
    return conn;
  }

  /** @internal */
  unlistened(serverId: number): void {
    const server = this.servers.get(serverId);
    if (server === undefined) return;
    server[kUnlistened]();
    // A server with open connections stays known until they close: runtime shutdown must still
    // reach them.
    if (server.stats().connections === 0) this.servers.delete(serverId);
    this.updateRef();
  }

  /** @internal accept() failed natively (already logged there, rate-limited). */
  acceptError(serverId: number, sysErrno: number): void {
    const server = this.servers.get(serverId);
    if (server === undefined) return;
    const code = errorName(-sysErrno);
    server[kError](makeError(code, `${ERROR_CODES[code]?.message ?? 'accept failed'} (accept)`, { errno: -sysErrno, syscall: 'accept' }));
  }

  /** @internal An address was banned automatically (logged natively, rate-limited). */
  banned(serverId: number, info: BanInfo): void {
    this.servers.get(serverId)?.emit('ban', info);
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
  private updateRef(): void {
    let listening = false;
    for (const s of this.servers.values()) if (s.isListening) listening = true;
    const want = (listening || this.liveConns > 0) && this.closing === null;
    if (want !== this.referenced) {
      this.referenced = want;
      this.nrt.setRef(want);
    }
  }
}
