// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import { once } from 'events';
import * as nodeHttp from 'http';
import * as net from 'net';
import * as path from 'path';
import { Writable } from 'stream';
import { ClosedError, InvalidArgumentError, Runtime, TimeoutError, createLogger, demo, taskType, type Server, type WorkerExitInfo } from '../dist/index';
import { FrameReader, closed, connect, frame, ioLoops, pattern, tick, until } from './helpers';

// Work threads, the scheduler and buddy tasks (docs/workers.md), with real worker_threads, real
// sockets and the real rings. The work threads run test/fixtures/work-thread.ts: type-1 frames
// come back with the serving thread's index as their first byte.

const MODULE = path.join(__dirname, 'fixtures', 'work-thread.js');

interface Client {
  s: net.Socket;
  r: FrameReader;
}

async function client(port: number, local = '127.0.0.1'): Promise<Client> {
  const s = await connect(port, '127.0.0.1', local);
  s.on('error', () => {});
  return { s, r: new FrameReader(s) };
}

/** One echo round trip; returns the index of the thread that served it. */
async function servedBy(c: Client, seq = 1): Promise<number> {
  const n = c.r.frames.length;
  c.s.write(frame(1, 'x', seq));
  const frames = await c.r.waitFrames(n + 1);
  assert.equal(frames[n].seq, seq);
  return frames[n].body[0];
}

describe('work threads', function () {
  let rt: Runtime | null = null;
  const sockets: net.Socket[] = [];

  async function start(opts: Parameters<typeof Runtime.start>[0] = {}): Promise<{ rt: Runtime; server: Server; port: number }> {
    rt = await Runtime.start({ ioThreads: 2, logger: { level: 'silent' }, workers: { count: 2, module: MODULE, logger: { level: 'silent' } }, ...opts });
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    return { rt, server, port: server.address().port };
  }

  async function track(p: Promise<Client>): Promise<Client> {
    const c = await p;
    sockets.push(c.s);
    return c;
  }

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    // Some tests leave handlers that never answer: do not wait the default 5 s for them.
    if (rt !== null) await rt.close({ drainTimeoutMs: 300 });
    rt = null;
  });

  it('delivers each connection’s frames in order on one thread, across 2 work threads and 2 IO threads', async () => {
    const { rt, port } = await start();
    const N = 12;
    const FRAMES = 300;
    const clients = await Promise.all(Array.from({ length: N }, () => track(client(port))));
    for (let i = 0; i < N; i++) {
      const c = clients[i];
      const bufs: Buffer[] = [];
      for (let j = 1; j <= FRAMES; j++) bufs.push(frame(1, pattern(1 + ((i * 7 + j) % 200), i * 1000 + j), j));
      c.s.write(Buffer.concat(bufs));
    }
    const owners = new Set<number>();
    for (let i = 0; i < N; i++) {
      const frames = await clients[i].r.waitFrames(FRAMES);
      const owner = frames[0].body[0];
      owners.add(owner);
      for (let j = 1; j <= FRAMES; j++) {
        const f = frames[j - 1];
        assert.equal(f.seq, j, `connection ${i}: frame ${j} out of order`);
        assert.equal(f.body[0], owner, `connection ${i} moved between threads`);
        assert.deepEqual(f.body.subarray(1), pattern(1 + ((i * 7 + j) % 200), i * 1000 + j));
      }
    }
    assert.deepEqual([...owners].sort(), [1, 2], 'both work threads served connections');
    const stats = rt.stats();
    if (ioLoops(2) === 2) assert.ok(stats[0].accepted > 0 && stats[1].accepted > 0, 'both IO threads accepted connections');
    const conns = rt.threadConnections();
    assert.equal(conns[0], 0, 'the main thread holds no connection when work threads serve');
    assert.equal(conns[1] + conns[2], N);
  });

  it('a link made on a work thread (worker.connect) is served on that thread', async () => {
    const { rt } = await start();
    const echo = net.createServer((s) => s.pipe(s));
    echo.listen(0, '127.0.0.1');
    await once(echo, 'listening');
    try {
      const port = (echo.address() as net.AddressInfo).port;
      for (const to of [1, 2]) {
        const r = await rt.tasks.schedule<{ index: number; body: string }>('link-echo', { port }, { to, timeoutMs: 10000 });
        assert.deepEqual(r, { index: to, body: `ping from ${to}` });
      }
    } finally {
      echo.close();
    }
  });

  it('an HTTP client link made on a work thread is served on that thread', async () => {
    const { rt } = await start();
    const server = nodeHttp.createServer((req, res) => res.end(`got ${req.url}`));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as net.AddressInfo).port;
      for (const to of [1, 2]) {
        const r = await rt.tasks.schedule<{ index: number; status: number; body: string }>('http-get', { port }, { to, timeoutMs: 10000 });
        assert.deepEqual(r, { index: to, status: 200, body: `got /from/${to}` });
      }
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('binds by a function of the peer (sticky routing)', async () => {
    const { port } = await start({ bind: (peer) => (peer.address === '127.0.0.2' ? 0 : 1) });
    for (let i = 0; i < 4; i++) {
      assert.equal(await servedBy(await track(client(port, '127.0.0.2'))), 1);
      assert.equal(await servedBy(await track(client(port, '127.0.0.3'))), 2);
    }
  });

  it("binds 'least-loaded': each new connection goes to the thread with fewer", async () => {
    const { rt, port } = await start({ bind: 'least-loaded', ioThreads: 1 });
    const a = await track(client(port));
    const owner = await servedBy(a);
    const b = await track(client(port));
    assert.equal(await servedBy(b), 3 - owner, 'the second goes to the other thread');
    a.s.destroy();
    await until(() => rt.threadConnections()[owner] === 0, 'the first connection to close');
    assert.equal(await servedBy(await track(client(port))), owner, 'the third refills the emptier thread');
  });

  it('schedules to any, an index and all, with replies, errors and timeouts', async () => {
    const { rt } = await start();
    rt.tasks.define('whoami', () => 0);
    const anyOf = new Set<number>();
    for (let i = 0; i < 8; i++) anyOf.add(await rt.tasks.schedule<number>('whoami'));
    assert.deepEqual([...anyOf].sort(), [1, 2], "'any' spreads over the work threads");
    assert.equal(await rt.tasks.schedule('whoami', undefined, { to: 2 }), 2);
    assert.equal(await rt.tasks.schedule('whoami', undefined, { to: 0 }), 0, 'the main thread runs its own tasks');
    assert.deepEqual(await rt.tasks.schedule('whoami', undefined, { to: 'all' }), [0, 1, 2]);
    const big = { list: Array.from({ length: 50000 }, (_, i) => i), map: new Map([[1, 'a']]), when: new Date(5) };
    assert.deepEqual(await rt.tasks.schedule('echo', big, { to: 1 }), big, 'a payload larger than a ring record travels in fragments');
    const bytes = (await rt.tasks.schedule('bytes', Buffer.from([7, 8]), { to: 2 })) as Buffer;
    assert.ok(Buffer.isBuffer(bytes));
    assert.deepEqual([...bytes], [7, 8, 2], 'bytes travel as bytes');

    await assert.rejects(rt.tasks.schedule('never', undefined, { to: 1, timeoutMs: 50 }), (e: unknown) => e instanceof TimeoutError && e.code === 'EW_ETIMEDOUT');
    await assert.rejects(rt.tasks.schedule('fail', undefined, { to: 2 }), (e: Error & { code?: string; remote?: boolean }) => e.message === 'nope' && e.code === 'E_CUSTOM' && e.remote === true);
    await assert.rejects(rt.tasks.schedule('nope', undefined, { to: 1 }), (e: unknown) => e instanceof InvalidArgumentError && e.code === 'EW_ENOTASK');
    await assert.rejects(rt.tasks.schedule('whoami', undefined, { to: 3 }), (e: unknown) => e instanceof InvalidArgumentError && e.code === 'EW_EINVAL');
    await assert.rejects(rt.tasks.schedule('echo', () => 1, { to: 1 }), (e: unknown) => e instanceof InvalidArgumentError);
    // A task that answered after its timeout is dropped, not delivered twice.
    await assert.rejects(rt.tasks.schedule('slow', { ms: 100, value: 1 }, { to: 1, timeoutMs: 20 }), TimeoutError);
    await tick(150);
    assert.equal(rt.tasks.pending, 0);
    // Protobuf-typed: the payload and the reply travel as protobuf bytes.
    const moveTask = taskType('move', { request: demo.Move, reply: demo.Moved });
    const moved = await rt.tasks.schedule(moveTask, { player: 9, x: 3, y: -2 }, { to: 2 });
    assert.ok(moved instanceof demo.Moved);
    assert.deepEqual({ ok: moved.ok, player: moved.player }, { ok: true, player: 11 });
    const untyped = (await rt.tasks.schedule('move', demo.Move.encode({ player: 1, x: -1, y: 0 }).finish(), { to: 1 })) as Buffer;
    const plain = demo.Moved.decode(untyped);
    assert.deepEqual([plain.ok, plain.player], [false, 2], 'the wire form is plain protobuf');
    await assert.rejects(rt.tasks.schedule('move', Buffer.from([0xff, 0xff]), { to: 1 }), (e: unknown) => e instanceof InvalidArgumentError && /does not decode/.test((e as Error).message));
    // Work threads schedule too: a task on thread 1 that asks the main thread.
    rt.tasks.define('main-echo', (p) => ({ main: p }));
    assert.deepEqual(await rt.tasks.schedule('ask-main', 5, { to: 1 }), { main: 5 });
  });

  it('runs a buddy task on the thread that owns the connection, from the main thread and from the other work thread', async () => {
    const { rt, port } = await start();
    const ids = new Map<number, { id: number; index: number }>();
    let seen: (() => void) | null = null;
    rt.tasks.define('conn-id', (p: { id: number; index: number }) => {
      ids.set(p.id, p);
      seen?.();
      return null;
    });
    const report = async (c: Client): Promise<{ id: number; index: number }> => {
      const before = ids.size;
      const got = new Promise<void>((r) => (seen = r));
      c.s.write(frame(3));
      await got;
      assert.equal(ids.size, before + 1);
      return [...ids.values()][before];
    };
    // From the main thread.
    const a = await track(client(port));
    const ra = await report(a);
    const done = closed(a.s);
    assert.deepEqual(await rt.tasks.buddy(ra.id, 'kick'), { id: ra.id, on: ra.index });
    await done;
    // From the other work thread: find a connection owned by each thread.
    const owners = new Map<number, Client>();
    for (let i = 0; i < 16 && owners.size < 2; i++) {
      const c = await track(client(port));
      owners.set(await servedBy(c), c);
    }
    assert.equal(owners.size, 2);
    const b = owners.get(1)!;
    const rb = await report(b);
    assert.equal(rb.index, 1);
    const bClosed = closed(b.s);
    assert.deepEqual(await rt.tasks.schedule('buddy-kick', { id: rb.id }, { to: 2 }), { id: rb.id, on: 1 });
    await bClosed;
    // A closed connection's id is refused. The client seeing the FIN does not mean the owning
    // thread has handled the close yet (until then the task still runs, on an ended connection),
    // so ask again until the refusal comes; it must come, with EW_ECLOSED.
    let refused: unknown = null;
    for (let i = 0; i < 500 && refused === null; i++) {
      try {
        await rt.tasks.buddy(rb.id, 'kick');
        await tick(10);
      } catch (e) {
        refused = e;
      }
    }
    assert.ok(refused instanceof ClosedError && refused.code === 'EW_ECLOSED', String(refused));
  });

  it('parks connections for an async accept hook: denies and admits, and a peer that leaves meanwhile is handled', async () => {
    const { rt, server, port } = await start();
    let release: (() => void) | null = null;
    const gate = new Promise<void>((r) => (release = r));
    server.onAccept(async (peer) => {
      assert.equal(peer.server, server);
      if (peer.address === '127.0.0.9') await gate;
      await tick(5);
      return peer.address !== '127.0.0.5';
    });
    // Denied: closed, and nothing reaches a work thread.
    const d = await track(client(port, '127.0.0.5'));
    d.s.write(frame(1, 'early', 1));
    await closed(d.s);
    assert.equal(d.r.frames.length, 0);
    // Admitted: what it sent before the verdict is delivered after it.
    const ok = await track(client(port, '127.0.0.6'));
    ok.s.write(frame(1, 'before verdict', 7));
    const [f] = await ok.r.waitFrames(1);
    assert.equal(f.seq, 7);
    assert.equal(f.body.subarray(1).toString(), 'before verdict');
    // A peer that leaves while the hook is still deciding.
    const gone = await track(client(port, '127.0.0.9'));
    gone.s.destroy();
    await tick(50);
    release!();
    await until(() => rt.threadConnections().reduce((a, b) => a + b, 0) === 1, 'only the admitted connection to remain');
    assert.equal(server.stats().denied, 1);
    // A hook that throws refuses; removing it admits again.
    server.onAccept(() => {
      throw new Error('hook bug');
    });
    await closed((await track(client(port, '127.0.0.7'))).s);
    server.onAccept(null);
    assert.ok((await servedBy(await track(client(port, '127.0.0.8')))) >= 1);
  });

  it('keeps client frames away from tasks: no frame of any type id reaches a task handler', async () => {
    const { rt, port } = await start({ workers: { count: 1, module: MODULE, logger: { level: 'silent' } } });
    const before = (await rt.tasks.schedule('stats', undefined, { to: 1 })) as { messages: number; taskCalls: number };
    const c = await track(client(port));
    // Every type id (0 is reserved and closes the connection, so 1..65535), with a body that
    // spells a task's name or a TASK record's kind, with and without the reply flag. Types 1-3
    // do what the fixture's client handler does with them (echo, throw, schedule a task to the
    // main thread from the handler, which has none of that name): client code, not tasks.
    const bufs: Buffer[] = [];
    for (let t = 1; t <= 65535; t++) bufs.push(frame(t, t % 2 ? 'whoami' : Buffer.from([10, 0, 11, 0]), t, t % 3 === 0 ? 2 : 0));
    bufs.push(frame(1, 'last', 70000));
    c.s.write(Buffer.concat(bufs));
    const frames = await c.r.waitFrames(2); // the echoes of type 1 and of the last frame, in order
    assert.deepEqual([frames[0].seq, frames[1].seq], [1, 70000]);
    const after = (await rt.tasks.schedule('stats', undefined, { to: 1 })) as { messages: number; taskCalls: number };
    assert.equal(after.messages - before.messages, 65535 + 1, 'every frame reached the client dispatcher');
    assert.equal(after.taskCalls - before.taskCalls, 1, 'only the stats task itself ran');
  });

  it('logs a handler that throws, with the connection id, into the main logger, and keeps serving', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const { rt, port } = await start({ logger, workers: { count: 1, module: MODULE, logger: { level: 'error' } } });
    const c = await track(client(port));
    c.s.write(frame(2));
    c.s.write(frame(2));
    assert.equal(await servedBy(c, 9), 1, 'the connection is still served');
    const st = (await rt.tasks.schedule('stats', undefined, { to: 1 })) as { handlerErrors: { message: string; conn: number }[] };
    assert.equal(st.handlerErrors.length, 2);
    assert.equal(st.handlerErrors[0].message, 'handler boom');
    const id = st.handlerErrors[0].conn;
    assert.ok(Number.isSafeInteger(id) && id > 0);
    // The work thread's lines reach the main thread's destination, tagged with the thread.
    await until(() => lines.filter((l) => l.includes('handler threw')).length === 2, 'the two error lines');
    const line = JSON.parse(lines.find((l) => l.includes('handler threw'))!);
    assert.equal(line.worker, 1);
    assert.equal(line.conn, id);
    assert.equal(line.level, 50);
    assert.equal(line.err.message, 'handler boom');
  });

  for (const how of ['process.exit', 'an uncaught exception'] as const) {
    it(`replaces a work thread that dies (${how}): its connections close, its tasks reject`, async () => {
      const { rt, port } = await start({ workers: { count: 2, module: MODULE, logger: { level: 'silent' }, restart: true } });
      const owners = new Map<number, Client>();
      for (let i = 0; i < 16 && owners.size < 2; i++) {
        const c = await track(client(port));
        owners.set(await servedBy(c), c);
      }
      const victim = owners.get(1)!;
      const survivor = owners.get(2)!;
      const pending = rt.tasks.schedule('never', undefined, { to: 1, timeoutMs: 0 });
      const exited = once(rt, 'workerExit') as Promise<[WorkerExitInfo]>;
      const victimClosed = closed(victim.s);
      await rt.tasks.schedule(how === 'process.exit' ? 'exit' : 'throw-uncaught', { code: 3 }, { to: 1 });
      await assert.rejects(pending, (e: unknown) => e instanceof ClosedError && e.code === 'EW_EWORKER');
      await victimClosed;
      const [info] = await exited;
      assert.equal(info.index, 1);
      assert.equal(info.replaced, true);
      assert.equal(info.code, how === 'process.exit' ? 3 : 1);
      // The survivor never noticed; the replacement serves tasks and new connections.
      assert.equal(await servedBy(survivor, 2), 2);
      assert.equal(await rt.tasks.schedule('whoami', undefined, { to: 1 }), 1);
      const seen = new Set<number>();
      for (let i = 0; i < 16 && seen.size < 2; i++) seen.add(await servedBy(await track(client(port))));
      assert.deepEqual([...seen].sort(), [1, 2]);
    });
  }

  it('carries payloads far larger than the task ring, both ways, waiting for space and losing nothing', async () => {
    const { rt } = await start({ taskRingBytes: 4096 });
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) all.push(rt.tasks.schedule('bytes', pattern(20000 + i, i), { to: 1 + (i % 2), timeoutMs: 0 }));
    const got = (await Promise.all(all)) as Buffer[];
    for (let i = 0; i < 200; i++) {
      assert.equal(got[i].length, 20001 + i);
      assert.deepEqual(got[i].subarray(0, 20000 + i), pattern(20000 + i, i), `payload ${i}`);
      assert.equal(got[i][20000 + i], 1 + (i % 2));
    }
  });

  it('has 100,000 tasks in flight at once and loses none', async function () {
    this.timeout(120000);
    const { rt } = await start();
    const N = 100000;
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) all.push(rt.tasks.schedule('echo', i, { to: 'any', timeoutMs: 0 }));
    assert.equal(rt.tasks.pending, N);
    const got = await Promise.all(all);
    for (let i = 0; i < N; i++) assert.equal(got[i], i);
    assert.equal(rt.tasks.pending, 0);
  });

  it('close() lets running tasks finish, refuses new ones, stops the work threads and closes connections', async () => {
    const { rt, port } = await start({ workers: { count: 1, module: MODULE, logger: { level: 'silent' }, data: { tag: 'x' } } });
    assert.deepEqual(((await rt.tasks.schedule('stats', undefined, { to: 1 })) as { data: unknown }).data, { tag: 'x' });
    const c = await track(client(port));
    await servedBy(c);
    const slow = rt.tasks.schedule('slow', { ms: 100, value: 'done' }, { to: 1 });
    const closing = rt.close();
    // Tasks are still taken while the connections drain (a handler answering a request in
    // flight may need one), then refused.
    let refused: unknown = null;
    for (let i = 0; i < 1000 && refused === null; i++) await rt.tasks.schedule('whoami', undefined, { to: 1 }).catch((e: unknown) => (refused = e));
    assert.ok(refused instanceof ClosedError && refused.code === 'EW_ESHUTDOWN', String(refused));
    assert.equal(await slow, 'done');
    await closing;
    await closed(c.s);
  });

  it('serves HTTP on work threads, for servers opened before and after a thread starts', async () => {
    const { rt } = await start();
    const http = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    const get = async (): Promise<string> => {
      const s = await connect(http.address().port);
      sockets.push(s);
      s.write('GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      const chunks: Buffer[] = [];
      s.on('data', (d) => chunks.push(d));
      await closed(s);
      return Buffer.concat(chunks).toString('latin1');
    };
    const seen = new Set<string>();
    for (let i = 0; i < 12 && seen.size < 2; i++) {
      const r = await get();
      assert.match(r, /^HTTP\/1\.1 200 /);
      seen.add(r.slice(r.indexOf('\r\n\r\n') + 4));
    }
    assert.deepEqual([...seen].sort(), ['thread 1', 'thread 2']);
    // A replacement thread learns the server from its start data.
    await rt.tasks.schedule('exit', { code: 0 }, { to: 2 });
    await once(rt, 'workerExit');
    const again = new Set<string>();
    for (let i = 0; i < 12 && again.size < 2; i++) {
      const r = await get();
      again.add(r.slice(r.indexOf('\r\n\r\n') + 4));
    }
    assert.deepEqual([...again].sort(), ['thread 1', 'thread 2']);
    // Closing the server on the main thread reaches each thread's view ('close').
    const closedOn = async (t: number) => ((await rt.tasks.schedule('stats', undefined, { to: t })) as { closedServers: number }).closedServers;
    const before = [await closedOn(1), await closedOn(2)];
    await http.close();
    for (let i = 0; i < 500 && ((await closedOn(1)) === before[0] || (await closedOn(2)) === before[1]); i++) await tick(10);
    assert.deepEqual([await closedOn(1), await closedOn(2)], [before[0] + 1, before[1] + 1]);
  });

  it('warns once when HTTP routes are added on the main thread, where they are never used, while work threads serve', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const text of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(text));
        cb();
      },
    });
    const never = (l: Record<string, unknown>) => /never used/.test(String(l.msg));
    const { rt } = await start({ logger: createLogger({ level: 'warn' }, sink) });
    const http = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    assert.equal(lines.filter(never).length, 0, 'listening alone says nothing');
    http.get('/main', (_req, res) => res.end('main')).post('/main', (_req, res) => res.end('main'));
    http.fallback((_req, res) => res.status(418).end());
    const warned = lines.filter(never);
    assert.equal(warned.length, 1, 'one warning per server');
    assert.equal(warned[0].level, 40);
    assert.equal(warned[0].server, http.id);
    assert.match(String(warned[0].msg), /work-thread module/);
    const get = async (p: string): Promise<string> => {
      const s = await connect(http.address().port);
      sockets.push(s);
      s.write(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const chunks: Buffer[] = [];
      s.on('data', (d) => chunks.push(d));
      await closed(s);
      return Buffer.concat(chunks).toString('latin1');
    };
    assert.match(await get('/main'), /^HTTP\/1\.1 404 /, "the main thread's route and fallback are not used");
    assert.match(await get('/who'), /^HTTP\/1\.1 200 /, "the work threads' routes are");
    // Without work threads the main thread serves: no warning.
    const solo = await Runtime.start({ logger: createLogger({ level: 'warn' }, sink) });
    try {
      (await solo.listen({ protocol: 'http', host: '127.0.0.1', port: 0 })).get('/x', (_req, res) => res.end('x'));
    } finally {
      await solo.close();
    }
    assert.equal(lines.filter(never).length, 1);
  });

  it("changes limits on the main thread, and the work threads' views follow", async () => {
    const { rt, server } = await start();
    assert.equal(await rt.tasks.schedule('view-limits', server.id, { to: 1 }), 0);
    server.setLimits({ maxConnections: 77 });
    for (let i = 0; i < 200 && (await rt.tasks.schedule('view-limits', server.id, { to: 2 })) !== 77; i++) await tick(5);
    assert.deepEqual(await rt.tasks.schedule('view-limits', server.id, { to: 'all' }).catch(() => null), null, 'the main thread has no such task');
    assert.equal(await rt.tasks.schedule('view-limits', server.id, { to: 1 }), 77);
    assert.equal(await rt.tasks.schedule('view-limits', server.id, { to: 2 }), 77);
    await assert.rejects(rt.tasks.schedule('view-set-limits', server.id, { to: 1 }), (e: unknown) => (e as { code?: string }).code === 'EW_ESTATE');
    // A replacement thread starts with the current limits.
    await rt.tasks.schedule('exit', { code: 0 }, { to: 1 });
    await once(rt, 'workerExit');
    assert.equal(await rt.tasks.schedule('view-limits', server.id, { to: 1 }), 77);
  });

  it('without work threads, tasks and buddy tasks run on the main thread', async () => {
    rt = await Runtime.start({ logger: { level: 'silent' } });
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    rt.tasks.define('double', (n: number) => n * 2);
    rt.tasks.define('peer', (_p, ctx) => ctx.conn?.remoteAddress);
    assert.equal(await rt.tasks.schedule('double', 21), 42);
    assert.deepEqual(await rt.tasks.schedule('double', 1, { to: 'all' }), [2]);
    const conn = once(server, 'connection');
    await track(client(server.address().port));
    const [c] = (await conn) as [import('../dist/index').Connection];
    assert.equal(await c.buddy('peer'), '127.0.0.1');
    assert.equal(await rt.tasks.buddy(c.id, 'peer'), '127.0.0.1');
    await assert.rejects(rt.tasks.schedule('double', 1, { to: 1 }), InvalidArgumentError);
  });

  it('lets the process end by itself once nothing listens and no task awaits a reply; process.exit() with tasks in flight is clean', () => {
    const fixture = path.join(__dirname, 'fixtures', 'idle-workers.js');
    const idle = spawnSync(process.execPath, [fixture], { timeout: 30000, encoding: 'utf8' });
    assert.equal(idle.signal, null, 'ended by itself, not by the timeout');
    assert.equal(idle.status, 0, idle.stderr);
    assert.equal(idle.stdout.trim(), 'reply 2');
    const busy = spawnSync(process.execPath, [fixture, 'exit'], { timeout: 30000, encoding: 'utf8' });
    assert.equal(busy.status, 5, busy.stderr);
  });

  it('refuses bad options', async () => {
    await assert.rejects(Runtime.start({ workers: { count: 1 } }), InvalidArgumentError);
    await assert.rejects(Runtime.start({ workers: { count: 64, module: MODULE } }), InvalidArgumentError);
    await assert.rejects(Runtime.start({ bind: 'sideways' as never }), InvalidArgumentError);
    await assert.rejects(Runtime.start({ taskRingBytes: 5000 }), InvalidArgumentError);
    // Bad task arguments: a clear InvalidArgumentError, thrown or as a rejection.
    rt = await Runtime.start({ logger: { level: 'silent' } });
    assert.throws(() => rt!.tasks.define('', () => 1), InvalidArgumentError);
    assert.throws(() => rt!.tasks.define('x'.repeat(256), () => 1), InvalidArgumentError);
    assert.throws(() => rt!.tasks.define('x', 5 as never), InvalidArgumentError);
    await assert.rejects(rt.tasks.schedule('x', 1, { timeoutMs: -1 }), InvalidArgumentError);
    await assert.rejects(rt.tasks.schedule('x', 1, { to: 'some' as never }), InvalidArgumentError);
    await assert.rejects(rt.tasks.buddy(0, 'x'), InvalidArgumentError);
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    assert.throws(() => server.onAccept(5 as never), InvalidArgumentError);
    await assert.rejects(rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, acceptTimeoutMs: 0 }), InvalidArgumentError);
    // A bind function that returns a non-integer refuses the connection (EW_EDENIED), logged.
    const sticky = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, bind: () => 0.5 });
    const c = await track(client(sticky.address().port));
    await closed(c.s);
    assert.equal(sticky.stats().denied, 1);
    await assert.rejects(Runtime.start({ workers: { count: 1, module: path.join(__dirname, 'fixtures', 'no-such-module.js') }, logger: { level: 'silent' } }), /failed to load/);
  });
});
