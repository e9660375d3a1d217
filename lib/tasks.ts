// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The internal dispatcher (docs/workers.md): tasks between JS threads, with replies. Tasks
// travel through the task rings (port -> port shared-memory rings no IO thread touches) as
// TASK and REPLY records; client frames travel as DATA records on the IO threads' rings and go
// to the external dispatcher. The two never meet: no byte a client sends can name a task.
//
// Record layout (docs/protocol.md, "Tasks"):
//   TASK:  flags = payload encoding; conn = the buddy connection's id or 0; type = the target
//          port's epoch when sent; seq = the task id (per sender);
//          body = u32 sender epoch, u16 name bytes, u16 0, name (UTF-8), payload.
//   REPLY: flags = encoding | ERROR; type = the scheduler's epoch (from the TASK); seq = task id;
//          body = the payload (an error: { name, message, code, errno }).
// A port's epoch counts its attachments, so a record meant for a work thread that died is
// recognised, and dropped, by the thread that replaced it; its sender has rejected the task.
import { Buffer } from 'buffer';
import * as v8 from 'v8';
import type { Connection } from './connection';
import { ClosedError, ERROR_CODES, InvalidArgumentError, TimeoutError, check, makeError } from './errors';
import type { Engine } from './internal/engine';
import { REC_REPLY, REC_TASK } from './gen/wire';
import type { Logger } from './log';
import type { MessageClass } from './messages';

/** Where a task runs: any work thread (the least busy from here), one thread by index (0 =
 * the main thread, 1..count = work threads), or every thread (the reply is an array). */
export type TaskTarget = 'any' | 'all' | number;

export interface ScheduleOptions {
  /** Default 'any'. */
  to?: TaskTarget;
  /** Rejects with TimeoutError (EW_ETIMEDOUT) after this long; 0 = never. Default 30000. */
  timeoutMs?: number;
}

export interface TaskContext {
  /** The thread that scheduled the task. */
  from: number;
  /** Buddy tasks: the live connection, on the thread that owns it. */
  conn?: Connection;
}

export type TaskHandler<P = unknown, R = unknown> = (payload: P, ctx: TaskContext) => R | Promise<R>;

import type { TaskType } from './messages';
export type { TaskType } from './messages';


/** Declares a typed task (see TaskType). */
export function taskType<P = unknown, R = unknown, PI = P, RI = R>(name: string, classes: { request?: MessageClass<P, PI>; reply?: MessageClass<R, RI> } = {}): TaskType<P, R, PI, RI> {
  check(typeof name === 'string' && name.length > 0 && Buffer.byteLength(name) <= MAX_NAME_BYTES, `task name must be a string of 1..${MAX_NAME_BYTES} bytes`, name);
  check(typeof classes === 'object' && classes !== null, 'classes must be an object', classes);
  for (const c of [classes.request, classes.reply]) check(c === undefined || (typeof c.encode === 'function' && typeof c.decode === 'function'), 'request and reply must be message classes');
  return Object.freeze({ name, request: classes.request, reply: classes.reply });
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => v !== null && typeof v === 'object' && typeof (v as PromiseLike<unknown>).then === 'function';

/** A TaskType of any payload and reply types. Its classes take values in parameter positions,
 * where `unknown` would not accept a narrower TaskType: `any` is the one type that does. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyTaskType = TaskType<any, any, any, any>;

/** The name of a task argument, and the protobuf classes if it is typed. */
function taskName(t: string | AnyTaskType): string {
  return typeof t === 'string' ? t : (t as TaskType).name;
}

/** Encodes a typed task's payload; untyped ones go as they are. */
function typedPayload(t: string | AnyTaskType, payload: unknown): unknown {
  if (typeof t === 'string' || t.request === undefined) return payload;
  try {
    return t.request.encode(payload).finish();
  } catch (err) {
    throw new InvalidArgumentError('EW_EINVAL', `task ${JSON.stringify(t.name)}: payload does not encode: ${(err as Error).message}`);
  }
}

/** Decodes a typed task's reply. */
function typedReply<R>(t: string | AnyTaskType, p: Promise<unknown>): Promise<R> {
  if (typeof t === 'string' || t.reply === undefined) return p as Promise<R>;
  const cls = t.reply;
  return p.then((b) => cls.decode(b as Uint8Array) as R);
}

/** Encodings of a payload: structured clone (v8.serialize, what postMessage uses), raw bytes
 * (a Uint8Array or Buffer travels as it is and arrives as a Buffer: protobuf bodies), and exact
 * shortcuts for the values v8.serialize's per-call cost (several microseconds) is out of all
 * proportion to: undefined, null, booleans, numbers (f64), strings (UTF-8), and small values JSON
 * carries exactly (jsonExact). */
const ENC_V8 = 0;
const ENC_BYTES = 1;
const ENC_UNDEFINED = 2;
const ENC_NULL = 3;
const ENC_TRUE = 4;
const ENC_FALSE = 5;
const ENC_NUMBER = 6;
const ENC_STRING = 7;
const ENC_JSON = 8;
/** Values with more nodes than this take v8.serialize, which is as fast for them. */
const JSON_MAX_NODES = 256;

/**
 * Whether JSON round-trips `v` exactly as structured clone would: only plain objects, dense
 * plain arrays, strings, booleans, null and finite numbers other than -0, no value reached
 * twice (clone keeps shared references; JSON would duplicate them), small enough to check.
 * Everything else (undefined members, Map, Date, typed arrays, class instances, cycles...)
 * goes through v8.serialize.
 */
function jsonExact(v: unknown): boolean {
  let budget = JSON_MAX_NODES;
  const seen: object[] = [];
  const walk = (x: unknown, depth: number): boolean => {
    if (--budget < 0 || depth > 32) return false;
    switch (typeof x) {
      case 'string':
      case 'boolean':
        return true;
      case 'number':
        return Number.isFinite(x) && !Object.is(x, -0);
      case 'object': {
        if (x === null) return true;
        if (seen.includes(x)) return false;
        seen.push(x);
        const proto = Object.getPrototypeOf(x);
        if (Array.isArray(x)) {
          if (proto !== Array.prototype || Object.keys(x).length !== x.length) return false;
          for (let i = 0; i < x.length; i++) if (!walk(x[i], depth + 1)) return false;
          return true;
        }
        if (proto !== Object.prototype && proto !== null) return false;
        const o = x as Record<string, unknown>;
        for (const k of Object.keys(o)) if (!walk(o[k], depth + 1)) return false;
        return true;
      }
      default:
        return false;
    }
  };
  return walk(v, 0);
}
const F_ERROR = 0x10;
const DEFAULT_TIMEOUT_MS = 30000;
const MAX_NAME_BYTES = 255;

interface PendingTask {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | null;
  to: number;
  epoch: number;
  /** When it was scheduled (performance.now()), where durations are observed; else 0. */
  t0: number;
  /** One of evwire's own tasks (metrics): not counted in the tallies. */
  quiet: boolean;
}

/** Tasks scheduled from one thread to thread `thread`, since the runtime started. */
export interface TaskTally {
  thread: number;
  /** Answered with a value. */
  ok: number;
  /** Answered with an error, or failed: the handler threw, the thread died, the runtime closed. */
  failed: number;
  /** Not answered within their timeoutMs. */
  timedOut: number;
  /** Scheduled and not settled yet. */
  inFlight: number;
}

const OK = 0;
const FAILED = 1;
const TIMED_OUT = 2;

/** @internal What the scheduler needs from its thread. */
export interface TasksHost {
  readonly logger: Logger;
  /** Threads that 'any' may pick: the work threads, or the main thread when there are none. */
  serving(): readonly number[];
  /** The live connection in (io, slot) with generation `gen`, on this thread. */
  connection(io: number, slot: number, gen: number): Connection | undefined;
  /** Tasks scheduled from here started (true) or stopped (false) awaiting replies. */
  active?(on: boolean): void;
}

/** The encoding and the bytes of a payload; a string stands for its UTF-8 bytes (written
 * straight into ring memory). */
function encode(v: unknown): [number, Uint8Array | string | null] {
  switch (typeof v) {
    case 'undefined':
      return [ENC_UNDEFINED, null];
    case 'boolean':
      return [v ? ENC_TRUE : ENC_FALSE, null];
    case 'number': {
      const b = Buffer.allocUnsafe(8);
      b.writeDoubleLE(v, 0);
      return [ENC_NUMBER, b];
    }
    case 'string':
      return [ENC_STRING, v];
    default:
      if (v === null) return [ENC_NULL, null];
      if (v instanceof Uint8Array) return [ENC_BYTES, v];
      if (jsonExact(v)) return [ENC_JSON, JSON.stringify(v)];
      return [ENC_V8, v8.serialize(v)];
  }
}

function decode(enc: number, body: Buffer): unknown {
  switch (enc) {
    case ENC_V8:
      return v8.deserialize(body);
    case ENC_BYTES:
      // A copy: the body is ring memory, reused once this drain returns.
      return Buffer.from(body);
    case ENC_UNDEFINED:
      return undefined;
    case ENC_NULL:
      return null;
    case ENC_TRUE:
      return true;
    case ENC_FALSE:
      return false;
    case ENC_NUMBER:
      return body.readDoubleLE(0);
    case ENC_STRING:
      return body.toString('utf8');
    case ENC_JSON:
      return JSON.parse(body.toString('utf8'));
    default:
      throw makeError('EW_EPROTO_DECODE', `task payload has an unknown encoding ${enc}`);
  }
}

function errorPayload(err: unknown): Uint8Array {
  const e = err as { name?: unknown; message?: unknown; code?: unknown; errno?: unknown };
  const isObj = typeof err === 'object' && err !== null;
  return v8.serialize({
    name: isObj && typeof e.name === 'string' ? e.name : 'Error',
    message: isObj && typeof e.message === 'string' ? e.message : String(err),
    code: isObj && typeof e.code === 'string' ? e.code : undefined,
    errno: isObj && typeof e.errno === 'number' ? e.errno : undefined,
  });
}

/** The remote error as the caller sees it: an EvwireError for the runtime's own codes, else an
 * Error with the remote name, message and code. `remote` is true either way. */
function reviveError(v: unknown): Error {
  const o = (typeof v === 'object' && v !== null ? v : {}) as { name?: string; message?: string; code?: string; errno?: number };
  let e: Error;
  if (o.code !== undefined && ERROR_CODES[o.code] !== undefined) {
    e = makeError(o.code, o.message ?? ERROR_CODES[o.code].message);
  } else {
    e = new Error(o.message ?? 'task failed');
    if (o.name !== undefined && o.name !== 'Error') e.name = o.name;
    if (o.code !== undefined) (e as Error & { code?: string }).code = o.code;
    if (o.errno !== undefined) (e as Error & { errno?: number }).errno = o.errno;
  }
  (e as Error & { remote?: boolean }).remote = true;
  return e;
}

function checkTimeout(ms: number): void {
  check(Number.isInteger(ms) && ms >= 0 && ms <= 0x7fffffff, 'timeoutMs must be an integer in 0..2^31-1', ms);
}

/**
 * This thread's task registry and scheduler (`rt.tasks` on the main thread, `worker.tasks` on a
 * work thread). Handlers run on the thread that defined them; schedule() sends the payload
 * through the task rings and resolves with the reply.
 */
export class Tasks {
  readonly #engine: Engine;
  readonly #host: TasksHost;
  readonly #handlers = new Map<string, TaskHandler>();
  readonly #pending = new Map<number, PendingTask>();
  readonly #inflight: number[];
  /** Per target thread: answered, failed, timed out (index thread * 3 + outcome). */
  readonly #outcomes: number[];
  #observer: ((thread: number, seconds: number) => void) | null = null;
  readonly #prefixes = new Map<string, Buffer>();
  readonly #epoch: number;
  #nextId = 1;
  #rr = 0;
  #running = 0;
  #closing = false;
  #idle: (() => void) | null = null;

  /** @internal */
  constructor(engine: Engine, host: TasksHost) {
    this.#engine = engine;
    this.#host = host;
    this.#inflight = new Array<number>(engine.nports).fill(0);
    this.#outcomes = new Array<number>(engine.nports * 3).fill(0);
    this.#epoch = engine.epoch(engine.index);
    engine.tasks = this;
  }

  /** This thread's index: 0 on the main thread, 1..count on work threads. */
  get thread(): number {
    return this.#engine.index;
  }

  /** JS threads of the runtime (main + work threads). */
  get threads(): number {
    return this.#engine.nports;
  }

  /** Tasks scheduled from this thread and not settled yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Registers `fn` as task `name` on this thread (replacing an earlier one). It receives the
   * payload (a structured-clone copy, or a Buffer for bytes) and a context; what it returns (or
   * resolves to) is the reply, what it throws (or rejects with) is the error the caller gets.
   */
  define<P = unknown, R = unknown, PI = P, RI = R>(task: string | TaskType<P, R, PI, RI>, fn: TaskHandler<P, RI>): this {
    const name = taskName(task);
    check(typeof name === 'string' && name.length > 0 && Buffer.byteLength(name) <= MAX_NAME_BYTES, `task name must be a string of 1..${MAX_NAME_BYTES} bytes`, name);
    check(typeof fn === 'function', 'task handler must be a function', fn);
    let h = fn as TaskHandler;
    if (typeof task !== 'string' && (task.request !== undefined || task.reply !== undefined)) {
      // Typed: the payload arrives as protobuf bytes and the reply leaves as protobuf bytes.
      const req = task.request as MessageClass<unknown, unknown> | undefined;
      const rep = task.reply as MessageClass<unknown, unknown> | undefined;
      const user = fn as TaskHandler;
      h = (p, ctx) => {
        let arg: unknown = p;
        if (req !== undefined) {
          try {
            arg = req.decode(p as Uint8Array);
          } catch (err) {
            throw new InvalidArgumentError('EW_EINVAL', `task ${JSON.stringify(name)}: payload does not decode: ${(err as Error).message}`);
          }
        }
        const r = user(arg, ctx);
        if (rep === undefined) return r;
        return isThenable(r) ? r.then((v) => rep.encode(v).finish()) : rep.encode(r).finish();
      };
    }
    this.#handlers.set(name, h);
    return this;
  }

  /** Removes task `name`; schedules of it then fail with EW_ENOTASK. */
  undefine(task: string | AnyTaskType): boolean {
    return this.#handlers.delete(taskName(task));
  }

  /**
   * Runs task `name` on another thread (or this one) and resolves with its reply. Rejects with
   * TimeoutError (EW_ETIMEDOUT), ClosedError EW_EWORKER (the thread died), EW_ENOTASK (no such
   * task there), EW_ESHUTDOWN (the runtime is closing) or the handler's own error.
   */
  schedule<P, R, PI, RI>(task: TaskType<P, R, PI, RI>, payload: PI, opts: ScheduleOptions & { to: 'all' }): Promise<R[]>;
  schedule<P, R, PI, RI>(task: TaskType<P, R, PI, RI>, payload: PI, opts?: ScheduleOptions): Promise<R>;
  schedule<R = unknown>(name: string, payload?: unknown, opts?: ScheduleOptions): Promise<R>;
  schedule(task: string | AnyTaskType, payload?: unknown, opts: ScheduleOptions = {}): Promise<unknown> {
    try {
      const name = taskName(task);
      payload = typedPayload(task, payload);
      check(typeof opts === 'object' && opts !== null, 'options must be an object', opts);
      const to = opts.to ?? 'any';
      const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      checkTimeout(timeoutMs);
      if (to === 'all') {
        const all: Promise<unknown>[] = [];
        for (let j = 0; j < this.#engine.nports; j++) all.push(typedReply(task, this.#one(name, payload, j, timeoutMs, 0, 0, undefined)));
        return Promise.all(all);
      }
      let target: number;
      if (to === 'any') {
        target = this.#pickAny();
      } else {
        check(Number.isInteger(to) && to >= 0 && to < this.#engine.nports, `to must be 'any', 'all' or a thread index in 0..${this.#engine.nports - 1}`, to);
        target = to;
      }
      return typedReply(task, this.#one(name, payload, target, timeoutMs, 0, 0, undefined));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Runs task `name` on the thread that owns connection `connId` (from any thread), with the
   * live connection in ctx.conn there. Rejects with ClosedError EW_ECLOSED if the connection is
   * gone (before or when the task arrives).
   */
  buddy<P, R, PI, RI>(connId: number, task: TaskType<P, R, PI, RI>, payload: PI, opts?: Omit<ScheduleOptions, 'to'>): Promise<R>;
  buddy<R = unknown>(connId: number, name: string, payload?: unknown, opts?: Omit<ScheduleOptions, 'to'>): Promise<R>;
  buddy(connId: number, task: string | AnyTaskType, payload?: unknown, opts: Omit<ScheduleOptions, 'to'> = {}): Promise<unknown> {
    try {
      const name = taskName(task);
      payload = typedPayload(task, payload);
      check(Number.isSafeInteger(connId) && connId > 0, 'connection id must be a positive safe integer', connId);
      check(typeof opts === 'object' && opts !== null, 'options must be an object', opts);
      const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      checkTimeout(timeoutMs);
      const idLo = connId >>> 0;
      const gen = Math.floor(connId / 0x100000000);
      const io = idLo >>> 24;
      const slot = idLo & 0xffffff;
      const port = this.#engine.portOf(io, slot, gen);
      if (port < 0) throw new ClosedError('EW_ECLOSED', `connection ${connId} is closed`);
      const conn = port === this.#engine.index ? this.#host.connection(io, slot, gen) : undefined;
      return typedReply(task, this.#one(name, payload, port, timeoutMs, idLo, gen, conn));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** What this thread scheduled, per target thread (metrics read it at scrape time). */
  tallies(): TaskTally[] {
    return this.#inflight.map((inFlight, thread) => ({
      thread,
      ok: this.#outcomes[thread * 3 + OK],
      failed: this.#outcomes[thread * 3 + FAILED],
      timedOut: this.#outcomes[thread * 3 + TIMED_OUT],
      inFlight,
    }));
  }

  /** @internal Calls `fn` with the target and the duration of each task scheduled from now on
   * (the metrics histogram); null stops it. */
  observe(fn: ((thread: number, seconds: number) => void) | null): void {
    this.#observer = fn;
  }

  #pickAny(): number {
    const serving = this.#host.serving();
    let best = -1;
    let bestLoad = Infinity;
    const n = serving.length;
    for (let i = 0; i < n; i++) {
      const j = serving[(this.#rr + i) % n];
      if (j !== this.#engine.index && !this.#engine.attached(j)) continue;
      const load = this.#inflight[j];
      if (load < bestLoad) {
        best = j;
        bestLoad = load;
      }
    }
    this.#rr = (this.#rr + 1) % Math.max(n, 1);
    if (best < 0) throw new ClosedError('EW_EWORKER', 'no work thread is running');
    return best;
  }

  #one(name: string, payload: unknown, target: number, timeoutMs: number, idLo: number, gen: number, conn: Connection | undefined): Promise<unknown> {
    if (this.#closing) return Promise.reject(new ClosedError('EW_ESHUTDOWN', 'the runtime is closing'));
    check(typeof name === 'string' && name.length > 0, 'task name must be a non-empty string', name);
    let enc: number;
    let bytes: Uint8Array | string | null;
    try {
      [enc, bytes] = encode(payload);
    } catch (err) {
      throw new InvalidArgumentError('EW_EINVAL', `task payload cannot be cloned: ${(err as Error).message}`);
    }
    const local = target === this.#engine.index;
    if (!local && !this.#engine.attached(target)) {
      return Promise.reject(new ClosedError('EW_EWORKER', `thread ${target} is not running`));
    }
    const id = this.#nextId;
    this.#nextId = this.#nextId === 0xffffffff ? 1 : this.#nextId + 1;
    const epoch = local ? this.#epoch : this.#engine.epoch(target);
    const promise = new Promise<unknown>((resolve, reject) => {
      const quiet = name.startsWith('evwire:');
      const p: PendingTask = { resolve, reject, timer: null, to: target, epoch, t0: this.#observer === null || quiet ? 0 : performance.now(), quiet };
      if (timeoutMs > 0) {
        p.timer = setTimeout(() => {
          if (this.#pending.get(id) !== p) return;
          this.#settled(id, p, TIMED_OUT);
          reject(new TimeoutError('EW_ETIMEDOUT', `task ${JSON.stringify(name)} on thread ${target} did not answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.#pending.set(id, p);
      this.#inflight[target]++;
      if (this.#pending.size === 1) this.#host.active?.(true);
    });
    if (local) {
      // The same semantics as a remote task: the handler gets a copy, later, with its context.
      const copy = decode(enc, bytes === null ? Buffer.alloc(0) : typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      queueMicrotask(() => this.#run(name, copy, { from: this.#engine.index, conn }, idLo, gen, (ok, v) => this.#answer(id, ok, v)));
    } else {
      this.#engine.sendTask(target, REC_TASK, enc, idLo, gen, epoch, id, this.#prefix(name), bytes);
    }
    return promise;
  }

  #prefix(name: string): Buffer {
    let p = this.#prefixes.get(name);
    if (p === undefined) {
      const n = Buffer.from(name, 'utf8');
      p = Buffer.alloc(8 + n.length);
      p.writeUInt32LE(this.#epoch, 0);
      p.writeUInt16LE(n.length, 4);
      n.copy(p, 8);
      if (this.#prefixes.size < 4096) this.#prefixes.set(name, p);
    }
    return p;
  }

  #settled(id: number, p: PendingTask, outcome: number): void {
    this.#pending.delete(id);
    this.#inflight[p.to]--;
    if (!p.quiet) this.#outcomes[p.to * 3 + outcome]++;
    if (p.t0 !== 0 && this.#observer !== null) this.#observer(p.to, (performance.now() - p.t0) / 1000);
    if (p.timer !== null) clearTimeout(p.timer);
    if (this.#pending.size === 0) this.#host.active?.(false);
    this.#maybeIdle();
  }

  #answer(id: number, ok: boolean, v: unknown): void {
    const p = this.#pending.get(id);
    if (p === undefined) return; // timed out meanwhile
    this.#settled(id, p, ok ? OK : FAILED);
    if (ok) p.resolve(v);
    else p.reject(v);
  }

  /** Runs a handler and calls `done` once with its outcome. */
  #run(name: string, payload: unknown, ctx: TaskContext, idLo: number, gen: number, done: (ok: boolean, v: unknown) => void): void {
    const fn = this.#handlers.get(name);
    if (fn === undefined) {
      done(false, makeError('EW_ENOTASK', `no task ${JSON.stringify(name)} on thread ${this.#engine.index}`));
      return;
    }
    if ((idLo !== 0 || gen !== 0) && ctx.conn === undefined) {
      done(false, new ClosedError('EW_ECLOSED', 'the connection closed before its buddy task ran'));
      return;
    }
    this.#running++;
    let r: unknown;
    try {
      r = fn(payload, ctx);
    } catch (err) {
      this.#running--;
      done(false, err);
      this.#maybeIdle();
      return;
    }
    if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
      (r as PromiseLike<unknown>).then(
        (v) => {
          this.#running--;
          done(true, v);
          this.#maybeIdle();
        },
        (err) => {
          this.#running--;
          done(false, err);
          this.#maybeIdle();
        },
      );
      return;
    }
    this.#running--;
    done(true, r);
  }

  /** @internal A TASK or REPLY from thread `from` (the engine's drain). */
  record(from: number, kind: number, flags: number, idLo: number, gen: number, type: number, seq: number, body: Buffer): void {
    if (type !== this.#epoch) return; // meant for the thread this one replaced
    if (kind === REC_REPLY) {
      const p = this.#pending.get(seq);
      if (p === undefined || p.to !== from) return; // timed out, or rejected when its thread died
      let v: unknown;
      try {
        v = decode(flags & 0x0f, body);
      } catch (err) {
        this.#answer(seq, false, err);
        return;
      }
      this.#answer(seq, (flags & F_ERROR) === 0, (flags & F_ERROR) === 0 ? v : reviveError(v));
      return;
    }
    if (kind !== REC_TASK || body.length < 8) return;
    const senderEpoch = body.readUInt32LE(0);
    const nameLen = body.readUInt16LE(4);
    const name = body.toString('utf8', 8, 8 + nameLen);
    const reply = (ok: boolean, v: unknown): void => this.#reply(from, senderEpoch, seq, ok, v);
    let payload: unknown;
    try {
      payload = decode(flags & 0x0f, body.subarray(8 + nameLen));
    } catch (err) {
      reply(false, new InvalidArgumentError('EW_EINVAL', `task payload failed to decode: ${(err as Error).message}`));
      return;
    }
    let conn: Connection | undefined;
    if (idLo !== 0 || gen !== 0) conn = this.#host.connection(idLo >>> 24, idLo & 0xffffff, gen);
    this.#run(name, payload, { from, conn }, idLo, gen, reply);
  }

  #reply(to: number, epoch: number, seq: number, ok: boolean, v: unknown): void {
    if (this.#engine.stopped) return;
    if (!ok) {
      this.#engine.sendTask(to, REC_REPLY, ENC_V8 | F_ERROR, 0, 0, epoch, seq, null, errorPayload(v));
      return;
    }
    let enc: number;
    let bytes: Uint8Array | string | null;
    try {
      [enc, bytes] = encode(v);
    } catch (err) {
      this.#host.logger.error({ err }, 'task reply cannot be cloned');
      this.#engine.sendTask(to, REC_REPLY, ENC_V8 | F_ERROR, 0, 0, epoch, seq, null, errorPayload(new InvalidArgumentError('EW_EINVAL', `task reply cannot be cloned: ${(err as Error).message}`)));
      return;
    }
    this.#engine.sendTask(to, REC_REPLY, enc, 0, 0, epoch, seq, null, bytes);
  }

  /** @internal Thread `index` (attachment `epoch`) died: what was sent to it fails now. */
  threadDied(index: number, epoch: number): void {
    const err = (): ClosedError => new ClosedError('EW_EWORKER', `thread ${index} exited before answering`);
    for (const [id, p] of this.#pending) {
      if (p.to !== index || p.epoch !== epoch) continue;
      this.#settled(id, p, FAILED);
      p.reject(err());
    }
  }

  /** @internal Refuses new tasks and resolves once every task scheduled from here and every
   * handler running here has settled, or after `ms`: then what is still pending is rejected
   * with EW_ESHUTDOWN and the replies of handlers still running are dropped. */
  drain(ms: number): Promise<void> {
    this.#closing = true;
    if (this.#pending.size === 0 && this.#running === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#idle = null;
        if (this.#pending.size !== 0 || this.#running !== 0)
          this.#host.logger.warn({ pending: this.#pending.size, running: this.#running }, 'tasks still unanswered when the drain time ran out');
        this.abort();
        resolve();
      }, ms);
      this.#idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** @internal Rejects whatever is still pending (the runtime stopped). */
  abort(): void {
    this.#closing = true;
    for (const [id, p] of this.#pending) {
      this.#settled(id, p, FAILED);
      p.reject(new ClosedError('EW_ESHUTDOWN', 'the runtime closed before the task answered'));
    }
  }

  #maybeIdle(): void {
    if (this.#idle !== null && this.#pending.size === 0 && this.#running === 0) {
      const f = this.#idle;
      this.#idle = null;
      f();
    }
  }
}
