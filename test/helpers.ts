// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Shared test helpers: raw `net` peers that speak the frame format byte for byte, and a frame
// reader that checks what comes back. Every wait is on an event, never on a sleep.
import * as fs from 'fs';
import * as net from 'net';
import { once } from 'events';
import { Runtime, type CloseReason, type Connection, type ListenOptions, type RuntimeOptions, type Server } from '../dist/index';

export const HEADER = 12;

export interface Frame {
  type: number;
  flags: number;
  seq: number;
  body: Buffer;
}

/** Encodes one frame (docs/protocol.md, big-endian). */
export function frame(type: number, body: Uint8Array | string = Buffer.alloc(0), seq = 0, flags = 0): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  const h = Buffer.alloc(HEADER);
  h.writeUInt32BE(b.length, 0);
  h.writeUInt16BE(type, 4);
  h.writeUInt16BE(flags, 6);
  h.writeUInt32BE(seq, 8);
  return Buffer.concat([h, b]);
}

/** A header claiming `length` body bytes, with any flags/type, for malformed-input tests. */
export function header(length: number, type = 1, flags = 0, seq = 0): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt32BE(length >>> 0, 0);
  h.writeUInt16BE(type, 4);
  h.writeUInt16BE(flags, 6);
  h.writeUInt32BE(seq, 8);
  return h;
}

/** Deterministic bytes: different per (seed, index), so misordering shows up as a mismatch. */
export function pattern(len: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Parses frames out of a byte stream. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  readonly frames: Frame[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];

  constructor(private readonly socket?: net.Socket) {
    socket?.on('data', (d: Buffer) => this.push(d));
  }

  push(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    while (this.buf.length >= HEADER) {
      const len = this.buf.readUInt32BE(0);
      if (this.buf.length < HEADER + len) break;
      this.frames.push({
        type: this.buf.readUInt16BE(4),
        flags: this.buf.readUInt16BE(6),
        seq: this.buf.readUInt32BE(8),
        body: Buffer.from(this.buf.subarray(HEADER, HEADER + len)),
      });
      this.buf = this.buf.subarray(HEADER + len);
    }
    this.waiters = this.waiters.filter((w) => {
      if (this.frames.length >= w.n) w.resolve();
      return this.frames.length < w.n;
    });
  }

  /** Resolves once `n` frames have arrived in total; rejects if the socket closes first. */
  waitFrames(n: number): Promise<Frame[]> {
    if (this.frames.length >= n) return Promise.resolve(this.frames);
    return new Promise((resolve, reject) => {
      const onClose = () => reject(new Error(`socket closed after ${this.frames.length} of ${n} frames`));
      this.socket?.once('close', onClose);
      this.waiters.push({
        n,
        resolve: () => {
          this.socket?.off('close', onClose);
          resolve(this.frames);
        },
      });
    });
  }

  get pendingBytes(): number {
    return this.buf.length;
  }
}

export async function connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<net.Socket> {
  const s = net.connect({ port, host, localAddress, noDelay: true });
  await once(s, 'connect');
  return s;
}

/** Resolves when the socket is fully closed; `hadError` tells a reset from a FIN. */
export function closed(s: net.Socket): Promise<{ hadError: boolean; error?: Error }> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    s.on('error', (e) => (error = e));
    if (s.destroyed && s.closed) resolve({ hadError: false });
    else s.once('close', (hadError) => resolve({ hadError, error }));
  });
}

export interface EchoServer {
  rt: Runtime;
  server: Server;
  port: number;
  /** Close reasons of server-side connections, in close order. */
  closes: { conn: Connection; reason: CloseReason }[];
  /** Resolves with the reason of the next server-side close. */
  nextClose(): Promise<CloseReason>;
  stop(): Promise<void>;
}

/** A runtime with one echoing server (type, seq and flags preserved). */
/** The suite's inline pass (npm run test:js:inline, test/inline-mode.ts): every runtime runs its
 * IO loop on the JavaScript thread, so there is one IO loop whatever count a test asks for. */
export const inlineIo = process.env.EVWIRE_TEST_INLINE === '1';

/** The IO loops a runtime started with `n` IO threads has in this pass. */
export function ioLoops(n: number): number {
  return inlineIo ? 1 : n;
}

export async function echoServer(rtOpts: RuntimeOptions = {}, listen: Partial<ListenOptions> = {}): Promise<EchoServer> {
  const rt = await Runtime.start({ logger: { level: 'warn' }, ...rtOpts });
  const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, ...listen });
  const closes: EchoServer['closes'] = [];
  let waiters: ((r: CloseReason) => void)[] = [];
  server.on('connection', (conn) => {
    conn.on('message', (m) => conn.send(m.type, m.body, { seq: m.seq, flags: m.flags }));
    conn.on('close', (reason) => {
      closes.push({ conn, reason });
      const w = waiters;
      waiters = [];
      w.forEach((f) => f(reason));
    });
  });
  return {
    rt,
    server,
    port: server.address().port,
    closes,
    nextClose: () => new Promise((resolve) => waiters.push(resolve)),
    stop: () => rt.close(),
  };
}

export function countFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

export function countThreads(): number {
  return fs.readdirSync('/proc/self/task').length;
}

/** Names of this process's threads (for a failure message). */
export function threadNames(): string[] {
  return fs.readdirSync('/proc/self/task').map((t) => {
    try { return fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim(); } catch { return '?'; }
  });
}

/**
 * Waits (bounded, 3 s) for the thread count to come back to `expected`: a thread that Node or
 * the kernel reaps a moment after the event we awaited is not a leak; one still there is.
 */
export async function threadsSettle(expected: number): Promise<{ count: number; names: string[] }> {
  const deadline = Date.now() + 3000;
  while (countThreads() !== expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return { count: countThreads(), names: threadNames() };
}

export function rssBytes(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Writes `data` in pieces of `sizes` (cycled), each in its own write, waiting for each to be
 * flushed so the server sees them as separate reads as far as the kernel allows. */
export async function writeInPieces(s: net.Socket, data: Buffer, pieces: number[]): Promise<void> {
  let off = 0;
  let i = 0;
  while (off < data.length) {
    const n = Math.min(pieces[i++ % pieces.length], data.length - off);
    await new Promise<void>((resolve, reject) => s.write(data.subarray(off, off + n), (err) => (err ? reject(err) : resolve())));
    off += n;
  }
}

export const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms until it holds (bounded by `ms`); fails with `what` otherwise. For
 * conditions that no event announces (a counter, a timeout elapsing), never as a fixed sleep. */
export async function until(cond: () => boolean, what: string, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(10);
  }
}

/** A runtime started before each test of the describe block this is called in, and closed
 * after it, with the client sockets pushed to `sockets` destroyed first (mocha hooks). */
export function useRuntime(opts: RuntimeOptions): { readonly rt: Runtime; readonly sockets: net.Socket[] } {
  let rt: Runtime | null = null;
  const sockets: net.Socket[] = [];
  beforeEach(async () => {
    rt = await Runtime.start(opts);
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await rt?.close();
    rt = null;
  });
  return {
    get rt(): Runtime {
      if (rt === null) throw new Error('useRuntime: no runtime outside a test');
      return rt;
    },
    sockets,
  };
}
