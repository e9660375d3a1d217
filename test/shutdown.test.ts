// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import { once } from 'events';
import * as net from 'net';
import * as path from 'path';
import * as readline from 'readline';
import { ClosedError, InvalidArgumentError, Runtime, type CloseReason, type Connection, type HttpResponse, type HttpServer } from '../dist/index';
import { FrameReader, closed, connect, frame, inlineIo, until } from './helpers';
import { ResponseReader } from './http-reader';

// Graceful shutdown: server.close() with Node's semantics, closeIdleConnections /
// closeAllConnections / getConnections, rt.close({ drainTimeoutMs }) on every thread, and
// rt.closeOnSignals() in a child process. Real sockets on 127.0.0.1; every wait is on an event
// or a bounded `until`.

const WORKER = path.join(__dirname, 'fixtures', 'shutdown-worker.js');
const SIGNAL_SERVER = path.join(__dirname, 'fixtures', 'signal-server.js');

interface Peer {
  s: net.Socket;
  r: ResponseReader;
}

describe('shutdown', function () {
  let rt: Runtime | null = null;
  const sockets: net.Socket[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    if (rt !== null) await rt.close({ drainTimeoutMs: 0 });
    rt = null;
  });

  async function peer(port: number): Promise<Peer> {
    const s = await connect(port);
    s.on('error', () => undefined);
    sockets.push(s);
    return { s, r: new ResponseReader(s) };
  }

  /** Waits (bounded) until the server counts `n` connections: a peer can see its socket close
   * before the owning thread has handled the close record. */
  async function connectionsBecome(server: { getConnections(): Promise<number> }, n: number): Promise<void> {
    let last = -1;
    for (let i = 0; i < 1000 && (last = await server.getConnections()) !== n; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(last, n, 'connections counted');
  }

  /** One keep-alive GET on `p`; returns the response. */
  async function get(p: Peer, url: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const n = p.r.responses.length;
    p.s.write(`GET ${url} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const all = await p.r.wait(n + 1);
    return { ...all[n], body: all[n].body.toString() };
  }

  /** Two keep-alive peers of `port`: one idle after a GET, one whose GET /hold is held. */
  async function idleAndBusy(port: number, heldNow: () => Promise<void>): Promise<{ idle: Peer; busy: Peer }> {
    const idle = await peer(port);
    await get(idle, '/hello');
    const busy = await peer(port);
    const isHeld = heldNow();
    busy.s.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await isHeld;
    return { idle, busy };
  }

  /** An HTTP server on the main thread: /hello answers, /hold waits for release(). */
  async function httpServer(): Promise<{ server: HttpServer; port: number; held: HttpResponse[]; heldNow: () => Promise<void>; hello: () => number }> {
    rt = await Runtime.start({ ioThreads: 2, logger: { level: 'silent' } });
    const server = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    const held: HttpResponse[] = [];
    const waiters: (() => void)[] = [];
    let hellos = 0;
    server.get('/hello', (_req, res) => {
      hellos++;
      res.end('hello');
    });
    server.get('/hold', (_req, res) => {
      held.push(res);
      waiters.splice(0).forEach((w) => w());
    });
    const heldNow = (): Promise<void> => new Promise((resolve) => waiters.push(resolve));
    return { server, port: server.address().port, held, heldNow, hello: () => hellos };
  }

  it('server.close(): the request in flight gets its response with Connection: close, idle keep-alive connections close at once, later pipelined requests are not served', async () => {
    const { server, port, held, heldNow, hello } = await httpServer();
    const idle = await peer(port);
    assert.equal((await get(idle, '/hello')).body, 'hello');
    const busy = await peer(port);
    const isHeld = heldNow();
    busy.s.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await isHeld;
    const serverClosed = once(server, 'close');
    let done = false;
    const closing = server.close().then(() => (done = true));
    // The idle connection is closed by the server, without a response owed.
    await closed(idle.s);
    assert.equal(idle.r.responses.length, 1);
    await until(() => !server.isListening, 'the listener to close');
    await assert.rejects(connect(port), /ECONNREFUSED/);
    // A request pipelined after close() is not served; the one in flight is, then the end.
    busy.s.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(done, false, 'close() waits for the connection in flight');
    const hellosBefore = hello();
    held[0].end('late but whole');
    const [res] = await busy.r.wait(1);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'late but whole');
    assert.equal(res.headers.connection, 'close');
    await closed(busy.s);
    assert.equal(busy.r.responses.length, 1);
    assert.equal(hello(), hellosBefore, 'the request sent after close() never reached a handler');
    await closing;
    await serverClosed;
    assert.equal(await server.getConnections(), 0, "'close' comes once the connections have ended");
  });

  it('server.close() on a framed server leaves its connections open; it resolves once they end', async () => {
    rt = await Runtime.start({ logger: { level: 'silent' } });
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    const accepted = once(server, 'connection');
    const s = await connect(server.address().port);
    sockets.push(s);
    const [conn] = (await accepted) as [Connection];
    let done = false;
    const closing = server.close().then(() => (done = true));
    await until(() => !server.isListening, 'the listener to close');
    assert.equal(conn.closed, false);
    assert.equal(done, false);
    assert.equal(await server.getConnections(), 1);
    conn.end();
    await closed(s);
    await closing;
  });

  it('rt.close() flushes a framed connection’s queued frames, then closes it with EW_ESHUTDOWN', async () => {
    rt = await Runtime.start({ logger: { level: 'silent' } });
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, maxBufferedBytes: 64 << 20 });
    const accepted = once(server, 'connection');
    const s = await connect(server.address().port);
    sockets.push(s);
    s.pause();
    const reader = new FrameReader();
    const [conn] = (await accepted) as [Connection];
    const N = 512;
    const body = Buffer.alloc(64 << 10, 7);
    for (let i = 1; i <= N; i++) conn.send(1, body, { seq: i });
    await until(() => conn.bufferedAmount > 0 && s.readableLength === 0, 'output queued on the server side');
    const reason = new Promise<CloseReason>((resolve) => conn.once('close', resolve));
    const closing = rt.close({ drainTimeoutMs: 30000 });
    // The peer keeps sending while it reads: the server must not answer those bytes with a
    // reset (which could destroy frames not yet read), but read and discard them after its FIN.
    let ended = false;
    s.on('end', () => (ended = true));
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      reader.push(d);
      if (!ended) s.write(frame(9, 'still talking'));
    });
    s.resume();
    // Every byte the peer receives comes before its 'close'.
    const peerClosed = await closed(s);
    assert.equal(reader.frames.length, N);
    reader.frames.forEach((f, i) => assert.equal(f.seq, i + 1));
    assert.equal(peerClosed.hadError, false, String(peerClosed.error));
    assert.equal((await reason).code, 'EW_ESHUTDOWN');
    assert.ok((await reason).error instanceof ClosedError);
    await closing;
    rt = null;
  });

  it('drainTimeoutMs bounds a handler that never answers: its connection closes with EW_ESHUTDOWN', async () => {
    const { server, port, held, heldNow } = await httpServer();
    const conns: Connection[] = [];
    server.on('connection', (c) => conns.push(c));
    const busy = await peer(port);
    const isHeld = heldNow();
    busy.s.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await isHeld;
    const aborted = once(held[0], 'abort');
    const reason = new Promise<CloseReason>((resolve) => conns[0].once('close', resolve));
    await rt!.close({ drainTimeoutMs: 200 });
    rt = null;
    assert.equal((await reason).code, 'EW_ESHUTDOWN');
    await aborted;
    await closed(busy.s);
    assert.equal(busy.r.responses.length, 0);
  });

  describe('with work threads', function () {
    async function start(): Promise<{ rt: Runtime; server: HttpServer; port: number; held: () => Promise<number> }> {
      const r = await Runtime.start({ ioThreads: 1, logger: { level: 'silent' }, workers: { count: 2, module: WORKER, logger: { level: 'silent' } } });
      rt = r;
      let waiters: ((i: number) => void)[] = [];
      r.tasks.define('held', (index: number) => {
        waiters.splice(0).forEach((w) => w(index));
        waiters = [];
      });
      const server = await r.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
      return { rt: r, server, port: server.address().port, held: () => new Promise((resolve) => waiters.push(resolve)) };
    }

    it('rt.close() drains connections on the work threads: idle ones close at once, the request in flight completes', async () => {
      const { rt: r, port, held } = await start();
      // Round-robin binding: the two connections land on the two work threads.
      const busy = await peer(port);
      const isHeld = held();
      busy.s.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
      const owner = await isHeld;
      const idle = await peer(port);
      const who = await get(idle, '/who');
      assert.match(who.body, /^thread [12]$/);
      assert.notEqual(who.body, `thread ${owner}`);
      let done = false;
      const closing = r.close({ drainTimeoutMs: 30000 }).then(() => (done = true));
      await closed(idle.s);
      assert.equal(done, false);
      // Tasks still run while connections drain: the handler can be told to answer.
      assert.equal(await r.tasks.schedule('release', 'answered while closing', { to: owner }), owner);
      const [res] = await busy.r.wait(1);
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'answered while closing');
      assert.equal(res.headers.connection, 'close');
      await closed(busy.s);
      await closing;
      rt = null;
    });

    it('getConnections() counts every thread; closeIdleConnections() and closeAllConnections() reach the work threads', async () => {
      const { server, port, held } = await start();
      const busy = await peer(port);
      const isHeld = held();
      busy.s.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
      await isHeld;
      const idle = [await peer(port), await peer(port), await peer(port)];
      for (const p of idle) assert.match((await get(p, '/who')).body, /^thread [12]$/);
      assert.equal(server.stats().connections, 0, 'the main thread holds none');
      assert.equal(await server.getConnections(), 4);
      server.closeIdleConnections();
      for (const p of idle) await closed(p.s);
      assert.equal(busy.s.destroyed, false);
      await connectionsBecome(server, 1);
      server.closeAllConnections();
      await closed(busy.s);
      assert.equal(busy.r.responses.length, 0);
      await connectionsBecome(server, 0);
    });
  });

  it('closeIdleConnections() and closeAllConnections() on the main thread', async () => {
    const { server, port, heldNow, held } = await httpServer();
    const { idle, busy } = await idleAndBusy(port, heldNow);
    assert.equal(await server.getConnections(), 2);
    server.closeIdleConnections();
    await closed(idle.s);
    await connectionsBecome(server, 1);
    const aborted = once(held[0], 'abort');
    server.closeAllConnections();
    await aborted;
    await closed(busy.s);
    await connectionsBecome(server, 0);
    assert.equal(server.isListening, true, 'closing connections does not close the server');
  });

  /** test/fixtures/signal-server.js in a child process, its JSON log lines collected. The
   * child is killed after 30 s at the latest, and at `dispose()`. */
  function signalServer(args: string[]) {
    const child = spawn(process.execPath, [SIGNAL_SERVER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, sig) => resolve([code, sig])));
    const kill = setTimeout(() => child.kill('SIGKILL'), 30000);
    const lines: Record<string, unknown>[] = [];
    let notify: (() => void) | null = null;
    readline.createInterface({ input: child.stdout! }).on('line', (l) => {
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        lines.push({ text: l });
      }
      notify?.();
    });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    /** The first line `pred` accepts, once it is there. */
    const line = async (pred: (o: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> => {
      for (;;) {
        const hit = lines.find(pred);
        if (hit !== undefined) return hit;
        if (child.exitCode !== null) throw new Error(`child exited: ${JSON.stringify(lines)}`);
        await new Promise<void>((r) => (notify = r));
      }
    };
    const dispose = (): void => {
      clearTimeout(kill);
      if (child.exitCode === null) child.kill('SIGKILL');
    };
    return { child, exited, lines, line, stderr: () => stderr, dispose };
  }

  /** Sends GET /hold to the child, waits until its handler holds it, then sends SIGTERM. */
  async function heldThenSigterm(c: ReturnType<typeof signalServer>): Promise<Peer> {
    const { port } = (await c.line((o) => typeof o.port === 'number')) as { port: number };
    const p = await peer(port);
    p.s.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.line((o) => o.held === true);
    process.kill(c.child.pid!, 'SIGTERM');
    return p;
  }

  it('closeOnSignals(): SIGTERM lets the request in flight finish, then the process exits 0', async () => {
    const c = signalServer([]);
    try {
      const p = await heldThenSigterm(c);
      const [res] = await p.r.wait(1);
      assert.equal(res.body.toString(), 'finished');
      assert.equal(res.headers.connection, 'close');
      await closed(p.s);
      const [code, sig] = await c.exited;
      assert.equal(sig, null, c.stderr());
      assert.equal(code, 0, c.stderr());
      assert.ok(c.lines.some((o) => o.msg === 'signal received; closing gracefully' && o.signal === 'SIGTERM'), JSON.stringify(c.lines));
    } finally {
      c.dispose();
    }
  });

  it('closeOnSignals(): a second signal while closing ends the process at once (128 + signal)', async () => {
    const c = signalServer(['never']);
    try {
      const p = await heldThenSigterm(c);
      await c.line((o) => o.msg === 'signal received; closing gracefully');
      process.kill(c.child.pid!, 'SIGTERM');
      const [code] = await c.exited;
      assert.equal(code, 128 + 15);
      assert.equal(p.r.responses.length, 0);
    } finally {
      c.dispose();
    }
  });

  it('rt.close() on the main thread: the request in flight completes, idle connections close at once', async () => {
    const { port, held, heldNow } = await httpServer();
    const { idle, busy } = await idleAndBusy(port, heldNow);
    let done = false;
    const closing = rt!.close({ drainTimeoutMs: 30000 }).then(() => (done = true));
    await closed(idle.s);
    assert.equal(done, false);
    held[0].end('done');
    const [res] = await busy.r.wait(1);
    assert.equal(res.body.toString(), 'done');
    assert.equal(res.headers.connection, 'close');
    await closed(busy.s);
    await closing;
    rt = null;
  });

  for (const how of ['rt.close()', 'server.close()'] as const) {
    it(`${how}: a request the IO thread has read but JavaScript has not dispatched yet is served, then the connection closes`, async function () {
      // Inline, nothing reads while JavaScript is busy: the state this test builds cannot exist.
      if (inlineIo) this.skip();
      const { server, port, hello } = await httpServer();
      const p = await peer(port);
      assert.equal((await get(p, '/hello')).status, 200); // the connection is known and idle
      const before = rt!.stats().reduce((a, t) => a + t.httpRequests, 0);
      p.s.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
      // Spin, without letting the event loop run, until an IO thread has put the request in
      // its ring: JavaScript has not seen it when the close begins, and must still serve it.
      const deadline = Date.now() + 5000;
      while (rt!.stats().reduce((a, t) => a + t.httpRequests, 0) === before) {
        assert.ok(Date.now() < deadline, 'the IO thread read the request');
      }
      const closing = how === 'rt.close()' ? rt!.close({ drainTimeoutMs: 5000 }) : server.close();
      const [res] = (await p.r.wait(2)).slice(1);
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'hello');
      // rt.close() begins at once, so the request is dispatched as the connection's last one;
      // server.close() begins when its listener is closed, which the IO thread reports behind
      // the request: it is answered as usual, and the then idle connection is closed.
      if (how === 'rt.close()') assert.equal(res.headers.connection, 'close');
      await closed(p.s);
      await closing;
      assert.equal(hello(), 2);
      if (how === 'rt.close()') rt = null;
    });
  }

  it('closeOnSignals() refuses bad options and returns a remover', async () => {
    rt = await Runtime.start({ logger: { level: 'silent' } });
    const before = process.listenerCount('SIGTERM');
    assert.throws(() => rt!.closeOnSignals({ signals: ['SIGNOPE' as never] }), InvalidArgumentError);
    assert.throws(() => rt!.closeOnSignals({ drainTimeoutMs: -1 }), InvalidArgumentError);
    assert.throws(() => rt!.closeOnSignals({ exit: 'yes' as never }), InvalidArgumentError);
    const remove = rt.closeOnSignals({ signals: ['SIGTERM'] });
    assert.equal(process.listenerCount('SIGTERM'), before + 1);
    remove();
    assert.equal(process.listenerCount('SIGTERM'), before);
  });
});
