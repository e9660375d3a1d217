// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The main thread's side of the work threads (docs/workers.md): it starts them, tells them
// about servers before any connection of those can reach them, replaces one that dies, and
// stops them in order when the runtime closes. This is the control plane only (postMessage,
// rare); tasks and client messages travel through the rings.
import * as path from 'path';
import { pathToFileURL } from 'url';
import { Worker, type ResourceLimits } from 'worker_threads';
import { ClosedError, ERROR_CODES, check } from '../errors';
import { writeRawLine, type Logger, type LoggerOptions } from '../log';
import type { NativeRuntime } from '../native';
import type { AddressInfo, Limits } from '../server';

export interface WorkersOptions {
  /** Work threads (0..63). 0: the main thread serves connections itself. */
  count: number;
  /** The module each work thread loads (a path or file: URL; ESM or CommonJS). It registers
   * handlers and tasks through `import { worker } from 'evwire'`. */
  module?: string | URL;
  /** Replace a work thread that exits (process.exit, an uncaught exception) while the runtime
   * runs. Default true. Either way its connections close with EW_EWORKER and the tasks sent to
   * it reject with EW_EWORKER. */
  restart?: boolean;
  /** Options of each work thread's pino logger (level, name...). Default: the main logger's
   * level. Lines go to the main thread's logger destination, tagged { worker: index }. */
  logger?: LoggerOptions;
  /** worker_threads resource limits of each work thread. */
  resourceLimits?: ResourceLimits;
  /** Passed to the module as `worker.data` (structured clone). */
  data?: unknown;
}

/** What a work thread needs to know about a server to serve its connections. */
export interface ServerDescriptor {
  id: number;
  /** Its protocol's name in the registry (lib/protocols.ts). */
  protocol: string;
  addr: AddressInfo;
  opts: {
    framing: 'frames' | 'raw';
    allowHalfOpen: boolean;
    highWatermark: number;
    lowWatermark: number;
    decodeErrorPolicy: 'close' | 'drop';
    limits: Required<Limits>;
  };
}

/** workerData of a work thread. */
export interface WorkData {
  share: number;
  index: number;
  count: number;
  module: string;
  logger: LoggerOptions;
  servers: ServerDescriptor[];
  data: unknown;
}

/** Messages between the main thread and a work thread. */
export type ToWorker =
  | { t: 'server'; seq: number; desc: ServerDescriptor }
  | { t: 'died'; index: number; epoch: number }
  | { t: 'unlistened'; id: number; seq: number }
  | { t: 'count'; id: number; seq: number }
  | { t: 'closeConns'; id: number; idleOnly: boolean }
  | { t: 'drainConns'; seq: number; ms: number }
  | { t: 'limits'; id: number; limits: Required<Limits> }
  | { t: 'drain'; seq: number; ms: number }
  | { t: 'stopped'; seq: number };
export type FromWorker = { t: 'ready' } | { t: 'failed'; message: string; stack?: string } | { t: 'ack'; seq: number; value?: number } | { t: 'log'; line: string };

/** @internal What the pool needs from the runtime. */
export interface PoolHost {
  readonly logger: Logger;
  readonly nrt: NativeRuntime;
  /** Servers listening now, for a thread that starts later. */
  descriptors(): ServerDescriptor[];
  /** Port `j`'s epoch (its attachment count). */
  epoch(j: number): number;
  /** Thread `index` died: reject what was sent to it (the main thread's own scheduler). */
  threadDied(index: number, epoch: number): void;
  /** After a death has been cleaned up (and the thread replaced, if it was). */
  exited(index: number, code: number, replaced: boolean): void;
}

const BOOT = path.join(__dirname, 'worker-main.js');

/** Normalises workers.module to a URL string dynamic import() accepts. */
export function moduleHref(m: string | URL): string {
  if (m instanceof URL) return m.href;
  check(typeof m === 'string' && m.length > 0, 'workers.module must be a path or a URL', m);
  return /^[a-z][a-z0-9+.-]*:/i.test(m) && !/^[a-z]:[\\/]/i.test(m) ? m : pathToFileURL(path.resolve(m)).href;
}

/** @internal */
export class WorkerPool {
  readonly count: number;
  readonly #host: PoolHost;
  readonly #opts: WorkersOptions;
  readonly #share: number;
  readonly #href: string;
  readonly #loggerOpts: LoggerOptions;
  readonly #workers: (Worker | null)[];
  readonly #acks = new Map<number, { w: Worker; resolve: (value?: number) => void }>();
  #seq = 0;
  #ref = true;
  #closing = false;
  /** Deaths being cleaned up, so close() can wait for them. */
  readonly #recovering = new Set<Promise<void>>();

  constructor(host: PoolHost, opts: WorkersOptions, logger: Logger) {
    this.#host = host;
    this.#opts = opts;
    this.count = opts.count;
    this.#share = host.nrt.shareId();
    this.#href = opts.module === undefined ? '' : moduleHref(opts.module);
    this.#loggerOpts = opts.logger ?? { level: logger.level };
    this.#workers = new Array<Worker | null>(opts.count + 1).fill(null);
  }

  /** Starts every work thread in parallel; resolves once each has loaded its module. */
  async start(): Promise<void> {
    const all: Promise<void>[] = [];
    for (let i = 1; i <= this.count; i++) all.push(this.#spawn(i));
    const results = await Promise.allSettled(all);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed !== undefined) throw failed.reason;
  }

  #spawn(index: number): Promise<void> {
    const data: WorkData = {
      share: this.#share,
      index,
      count: this.count,
      module: this.#href,
      logger: this.#loggerOpts,
      servers: this.#host.descriptors(),
      data: this.#opts.data,
    };
    const w = new Worker(BOOT, { workerData: data, resourceLimits: this.#opts.resourceLimits, name: `evwire-worker-${index}` });
    this.#workers[index] = w;
    if (!this.#ref) w.unref();
    return new Promise<void>((resolve, reject) => {
      let started = false;
      w.on('message', (m: FromWorker) => {
        if (m.t === 'ready') {
          started = true;
          resolve();
        } else if (m.t === 'failed') {
          const cause = new Error(m.message);
          if (m.stack !== undefined) cause.stack = m.stack;
          reject(new ClosedError('EW_EWORKER', `work thread ${index} failed to load ${this.#href}: ${m.message}`, { cause }));
        } else if (m.t === 'log') {
          writeRawLine(this.#host.logger, m.line);
        } else if (m.t === 'ack') {
          const a = this.#acks.get(m.seq);
          if (a !== undefined) {
            this.#acks.delete(m.seq);
            a.resolve(m.value);
          }
        }
      });
      w.on('error', (err) => {
        this.#host.logger.error({ err, worker: index }, 'work thread threw an uncaught exception');
        if (!started) reject(new ClosedError('EW_EWORKER', `work thread ${index} failed to start: ${(err as Error)?.message ?? String(err)}`, { cause: err }));
      });
      w.on('exit', (code) => {
        // Requests the thread can no longer answer are answered by its exit.
        for (const [seq, a] of this.#acks) {
          if (a.w !== w) continue;
          this.#acks.delete(seq);
          a.resolve();
        }
        if (!started) {
          reject(new ClosedError('EW_EWORKER', `work thread ${index} exited with code ${code} before it was ready`));
          if (this.#workers[index] === w) this.#workers[index] = null;
          return;
        }
        if (this.#workers[index] !== w) return;
        this.#workers[index] = null;
        if (this.#closing) return;
        const done = this.#recover(index, code).finally(() => this.#recovering.delete(done));
        this.#recovering.add(done);
      });
    });
  }

  /** A work thread died while the runtime runs: its tasks fail, its connections close, and a
   * new one takes its place (workers.restart). */
  async #recover(index: number, code: number): Promise<void> {
    const epoch = this.#host.epoch(index);
    // Replies the thread sent before it exited are in its task ring, and the wakeup that
    // announces them may be handled in the same loop round as this 'exit': one turn of the loop
    // first, so that they are delivered and only the tasks it never answered fail.
    await new Promise((r) => setImmediate(r));
    const restart = this.#opts.restart ?? true;
    this.#host.logger.error({ worker: index, code }, restart ? 'work thread exited; replacing it' : 'work thread exited');
    this.#host.threadDied(index, epoch);
    this.broadcast({ t: 'died', index, epoch });
    // The thread's port detaches in its environment's teardown, which Node finishes before
    // 'exit'; the retry covers a teardown still running.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#host.nrt.portReset(index, ERROR_CODES.EW_EWORKER.errno);
        break;
      } catch (err) {
        if (this.#closing || attempt >= 200 || (err as { code?: string }).code !== 'EW_ESTATE') {
          if (!this.#closing) this.#host.logger.error({ err, worker: index }, 'could not clean up after a work thread');
          return;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    let replaced = false;
    if (restart && !this.#closing) {
      try {
        await this.#spawn(index);
        replaced = true;
        this.#host.logger.info({ worker: index }, 'work thread replaced');
      } catch (err) {
        this.#host.logger.error({ err, worker: index }, 'could not replace a work thread');
      }
    }
    this.#host.exited(index, code, replaced);
  }

  /** Whether the work threads keep the process alive (Worker.ref / unref), now and for
   * threads started later. */
  setRef(on: boolean): void {
    this.#ref = on;
    for (const w of this.#workers) {
      if (w === null) continue;
      if (on) w.ref();
      else w.unref();
    }
  }

  /** Sends to every live work thread. */
  broadcast(msg: ToWorker): void {
    for (const w of this.#workers) w?.postMessage(msg);
  }

  /** Sends a request to every live work thread; resolves once each has answered (or exited),
   * with their answers (undefined for a thread that exited). */
  #request(make: (seq: number) => ToWorker): Promise<(number | undefined)[]> {
    const all: Promise<number | undefined>[] = [];
    for (const w of this.#workers) {
      if (w === null) continue;
      const seq = ++this.#seq;
      all.push(new Promise<number | undefined>((resolve) => this.#acks.set(seq, { w, resolve })));
      w.postMessage(make(seq));
    }
    return Promise.all(all);
  }

  /** The main thread closed server `id`'s listening sockets: each thread's view ends its
   * connections as server.close() says; resolves once no work thread holds one. */
  unlistened(id: number): Promise<void> {
    return this.#request((seq) => ({ t: 'unlistened', id, seq })).then(() => undefined);
  }

  /** Connections of server `id` on the work threads. */
  async connections(id: number): Promise<number> {
    const counts = await this.#request((seq) => ({ t: 'count', id, seq }));
    return counts.reduce<number>((a, b) => a + (b ?? 0), 0);
  }

  /** The runtime's graceful close: every work thread ends its connections (HTTP after the
   * responses in flight; framed and raw flushed, then closed with EW_ESHUTDOWN); resolves once
   * none is left, or after `ms`. */
  drainConnections(ms: number): Promise<void> {
    return this.#request((seq) => ({ t: 'drainConns', seq, ms })).then(() => undefined);
  }

  /** Tells every work thread about a server before its connections can reach them. */
  announce(desc: ServerDescriptor): Promise<void> {
    return this.#request((seq) => ({ t: 'server', seq, desc })).then(() => undefined);
  }

  /** Close, step 1: no more replacements; each work thread finishes its tasks. */
  async drain(ms: number): Promise<void> {
    this.#closing = true;
    await Promise.all([...this.#recovering]);
    await this.#request((seq) => ({ t: 'drain', seq, ms }));
  }

  /** Close, step 2 (the IO threads have stopped): each work thread closes its connections and
   * detaches, then is terminated. */
  async dispose(): Promise<void> {
    this.#closing = true;
    await this.#request((seq) => ({ t: 'stopped', seq }));
    const all: Promise<number>[] = [];
    for (let i = 0; i < this.#workers.length; i++) {
      const w = this.#workers[i];
      if (w === null) continue;
      this.#workers[i] = null;
      all.push(w.terminate());
    }
    await Promise.all(all);
  }
}
