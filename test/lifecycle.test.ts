// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import { lookup } from 'dns/promises';
import { once } from 'events';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { ClosedError, Runtime } from '../dist/index';
import { FrameReader, connect, countFds, countThreads, frame, threadsSettle } from './helpers';

const fixture = (name: string) => path.join(__dirname, 'fixtures', `${name}.js`);

async function echoOnce(port: number, seq: number): Promise<void> {
  const s = await connect(port);
  const r = new FrameReader(s);
  s.write(frame(1, `ping ${seq}`, seq));
  const [f] = await r.waitFrames(1);
  assert.equal(f.body.toString(), `ping ${seq}`);
  s.destroy();
}

describe('lifecycle', function () {
  this.timeout(120_000);

  it('starts and stops 200 times with no fd or thread left behind', async () => {
    // A warm-up cycle with everything the loop below touches, so lazily created process-wide
    // resources are not counted as leaks: libuv keeps a /dev/null descriptor from the first TCP
    // socket on, and its thread pool starts at the first name lookup.
    await lookup('localhost');
    const warm = await Runtime.start({ logger: { level: 'silent' } });
    const ws = await warm.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    ws.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body, { seq: m.seq })));
    await echoOnce(ws.address().port, 0);
    await warm.close();
    const fds0 = countFds();
    const threads0 = countThreads();
    for (let i = 0; i < 200; i++) {
      const rt = await Runtime.start({ ioThreads: 1 + (i % 3), logger: { level: 'silent' } });
      if (i % 20 === 0) {
        const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
        server.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body, { seq: m.seq })));
        await echoOnce(server.address().port, i);
      }
      await rt.close();
    }
    assert.equal(countThreads(), threads0, 'threads');
    assert.equal(countFds(), fds0, 'file descriptors');
  });

  it('closes open connections and servers on close(), with EW_ESHUTDOWN', async () => {
    const rt = await Runtime.start({ logger: { level: 'silent' } });
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    const accepted = once(server, 'connection');
    const s = await connect(server.address().port);
    const [conn] = await accepted;
    const serverClosed = once(server, 'close');
    const connClosed = once(conn, 'close');
    const peerClosed = once(s, 'close');
    await rt.close();
    await serverClosed;
    const [reason] = await connClosed;
    assert.equal(reason.code, 'EW_ESHUTDOWN');
    assert.ok(reason.error instanceof ClosedError);
    await peerClosed;
    assert.equal(conn.send(1, 'late'), false, 'send after close returns false');
    await assert.rejects(rt.listen({ protocol: 'tcp', port: 0 }), (e: Error) => e instanceof ClosedError);
    await rt.close(); // idempotent
  });

  it('runs two runtimes in one process side by side', async () => {
    const a = await Runtime.start({ ioThreads: 2, logger: { level: 'silent' } });
    const b = await Runtime.start({ ioThreads: 1, logger: { level: 'silent' } });
    try {
      const sa = await a.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
      const sb = await b.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
      sa.on('connection', (c) => c.on('message', (m) => c.send(m.type, Buffer.concat([Buffer.from('a:'), m.body]))));
      sb.on('connection', (c) => c.on('message', (m) => c.send(m.type, Buffer.concat([Buffer.from('b:'), m.body]))));
      const ca = await connect(sa.address().port);
      const cb = await connect(sb.address().port);
      const ra = new FrameReader(ca);
      const rb = new FrameReader(cb);
      for (let i = 0; i < 100; i++) {
        ca.write(frame(1, `${i}`));
        cb.write(frame(1, `${i}`));
      }
      const [fa, fb] = await Promise.all([ra.waitFrames(100), rb.waitFrames(100)]);
      fa.forEach((f, i) => assert.equal(f.body.toString(), `a:${i}`));
      fb.forEach((f, i) => assert.equal(f.body.toString(), `b:${i}`));
      ca.destroy();
      cb.destroy();
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('runs a runtime inside a worker_thread, and survives the worker being terminated', async () => {
    const threads0 = countThreads();
    for (const ending of ['stop', 'terminate'] as const) {
      const w = new Worker(fixture('worker-runtime'), { workerData: { tag: ending } });
      const [ready] = await once(w, 'message');
      assert.equal(ready.tag, ending);
      await echoOnce(ready.port, 7);
      if (ending === 'stop') {
        w.postMessage('stop');
        const [msg] = await once(w, 'message');
        assert.deepEqual(msg, { stopped: true });
        await w.terminate();
      } else {
        // Terminating tears the worker's environment down with the runtime still running:
        // the cleanup hook must stop its IO threads before the environment goes.
        await w.terminate();
      }
    }
    const settled = await threadsSettle(threads0);
    assert.equal(settled.count, threads0, `threads now: ${settled.names.join(', ')}`);
  });

  it('exits cleanly when process.exit() is called with busy connections', () => {
    for (const delay of ['50', '300']) {
      const r = spawnSync(process.execPath, [fixture('exit-while-busy'), 'exit', delay], { timeout: 30_000, encoding: 'utf8' });
      assert.equal(r.signal, null, `no crash signal (stderr: ${r.stderr})`);
      assert.equal(r.status, 0, r.stderr);
    }
  });

  it('reports an uncaught exception with busy connections as Node does, without crashing natively', () => {
    const r = spawnSync(process.execPath, [fixture('exit-while-busy'), 'throw', '200'], { timeout: 30_000, encoding: 'utf8' });
    assert.equal(r.signal, null, `no crash signal (stderr: ${r.stderr})`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /boom while busy/);
  });

  it('stops and frees a runtime that is dropped without close() once it is garbage collected', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', fixture('gc-runtime')], { timeout: 30_000, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const { before, during, after } = JSON.parse(r.stdout);
    assert.equal(during, before + 15, 'five runtimes of three IO threads ran');
    assert.equal(after, before, 'every IO thread was stopped and joined');
  });
});
