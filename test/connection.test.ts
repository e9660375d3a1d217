// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { once } from 'events';
import type * as net from 'net';
import { type Connection, type ListenOptions, type Server } from '../dist/index';
import { closed, connect, frame, FrameReader, inlineIo, until, useRuntime } from './helpers';

describe('connection', function () {
  const env = useRuntime({ ioThreads: 2, logger: { level: 'silent' } });
  const sockets = env.sockets;

  async function pair(opts: Partial<ListenOptions> = {}): Promise<{ server: Server; conn: Connection; s: net.Socket; r: FrameReader }> {
    const server = await env.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, ...opts });
    const accepted = once(server, 'connection');
    const s = await connect(server.address().port);
    sockets.push(s);
    const [conn] = (await accepted) as [Connection];
    return { server, conn, s, r: new FrameReader(s) };
  }

  it('reports the peer address and a unique id', async () => {
    const { conn, s } = await pair();
    assert.equal(conn.remoteAddress, '127.0.0.1');
    assert.equal(conn.remotePort, s.localPort);
    assert.equal(conn.remoteFamily, 'IPv4');
    assert.ok(Number.isSafeInteger(conn.id) && conn.id > 0);
    const { conn: other } = await pair();
    assert.notEqual(conn.id, other.id);
  });

  it('end() flushes, sends FIN, and closes with EW_OK once the peer ends too', async () => {
    const { conn, s, r } = await pair();
    for (let i = 0; i < 100; i++) conn.send(1, `line ${i}`, { seq: i });
    conn.end();
    assert.equal(conn.ended, true);
    assert.equal(conn.send(1, 'after end'), false, 'send after end() returns false');
    await once(s, 'end');
    assert.equal(r.frames.length, 100, 'everything sent before end() arrives before the FIN');
    const closing = once(conn, 'close');
    s.end();
    const [reason] = await closing;
    assert.equal(reason.code, 'EW_OK');
    assert.equal(reason.error, null);
    assert.equal(conn.closed, true);
  });

  it("the peer's FIN emits 'end', then end() follows by default (allowHalfOpen: false)", async () => {
    const { conn, s, r } = await pair();
    conn.on('message', (m) => conn.send(m.type, m.body, { seq: m.seq }));
    const ended = once(conn, 'end');
    const closing = once(conn, 'close');
    s.end(frame(5, 'last', 1));
    await ended;
    await closed(s);
    assert.equal(r.frames.length, 1, 'the reply to a frame sent just before FIN still arrives');
    const [reason] = await closing;
    assert.equal(reason.code, 'EW_EOF');
  });

  it('allowHalfOpen keeps the connection writable after the peer ends', async () => {
    const { conn, s, r } = await pair({ allowHalfOpen: true });
    const ended = once(conn, 'end');
    s.end();
    await ended;
    assert.equal(conn.ended, false);
    assert.equal(conn.send(2, 'still here'), true);
    const [f] = await r.waitFrames(1);
    assert.equal(f.body.toString(), 'still here');
    conn.end();
    const [reason] = await once(conn, 'close');
    assert.equal(reason.code, 'EW_EOF');
  });

  it('destroy() closes at once with EW_OK and the peer sees the connection go', async () => {
    const { conn, s } = await pair();
    const peer = closed(s);
    conn.destroy();
    conn.destroy(); // idempotent
    const [reason] = await once(conn, 'close');
    assert.equal(reason.code, 'EW_OK');
    await peer;
    assert.equal(conn.send(1, 'x'), false);
    assert.equal(conn.bufferedAmount, 0);
  });

  it('a connection closed under a handler never crashes: send() returns false', async () => {
    const { conn, s } = await pair();
    const results: boolean[] = [];
    conn.on('message', (m) => {
      if (m.seq === 1) conn.destroy();
      results.push(conn.send(m.type, m.body));
      conn.end();
    });
    s.on('error', () => undefined);
    s.write(Buffer.concat([frame(1, 'a', 1), frame(1, 'b', 2), frame(1, 'c', 3)]));
    await once(conn, 'close');
    assert.deepEqual(results, [false, false, false]);
    // Sends on a connection the peer reset, before JS learns of it, are dropped natively and
    // counted; nothing throws.
    const { conn: c2, s: s2 } = await pair();
    s2.resetAndDestroy();
    const [reason] = await once(c2, 'close');
    assert.equal(reason.code, 'EW_ECONNRESET');
    for (let i = 0; i < 10; i++) assert.equal(c2.send(1, 'late'), false);
  });

  it("bufferedAmount counts bytes not yet taken by the kernel and 'drain' follows false", async () => {
    const { conn, s } = await pair({ highWatermark: 64 << 10, lowWatermark: 16 << 10 });
    s.pause();
    const body = Buffer.alloc(32 << 10);
    let sent = 0;
    while (conn.send(1, body)) sent++;
    assert.ok(conn.bufferedAmount > 64 << 10, `bufferedAmount ${conn.bufferedAmount} above the high watermark`);
    const drained = once(conn, 'drain');
    s.resume();
    await drained;
    assert.ok(conn.bufferedAmount < 16 << 10, 'below the low watermark at drain');
    assert.ok(sent > 0);
  });

  it('raw framing delivers byte chunks and writes bytes as they are', async () => {
    const { conn, s } = await pair({ framing: 'raw' });
    const chunks: Buffer[] = [];
    conn.on('data', (d) => {
      chunks.push(Buffer.from(d));
      conn.write(d);
    });
    const echoed: Buffer[] = [];
    s.on('data', (d) => echoed.push(d));
    const payload = Buffer.from('GET / HTTP/1.0\r\n\r\n'.repeat(1000));
    s.write(payload);
    while (Buffer.concat(echoed).length < payload.length) await once(s, 'data');
    assert.ok(Buffer.concat(chunks).equals(payload));
    assert.ok(Buffer.concat(echoed).equals(payload));
  });

  it("the server's close() stops accepting; open connections keep working", async () => {
    const { server, conn, s, r } = await pair();
    conn.on('message', (m) => conn.send(m.type, m.body));
    // As in Node, close() resolves once the connections have ended too: not awaited here.
    const closing = server.close();
    let done = false;
    void closing.then(() => (done = true));
    await until(() => !server.isListening, 'the listener to close');
    await assert.rejects(connect(server.address().port), /ECONNREFUSED/);
    s.write(frame(3, 'still served'));
    const [f] = await r.waitFrames(1);
    assert.equal(f.body.toString(), 'still served');
    assert.equal(server.close(), closing); // idempotent
    assert.equal(done, false);
    conn.end();
    await closing;
  });

  it('least-connections and reusePort spread connections over IO threads', async function () {
    if (inlineIo) this.skip(); // one IO loop: nothing to spread over
    for (const opts of [{ distribution: 'least-connections' as const }, { reusePort: true }, {}]) {
      const server = await env.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, ...opts });
      const threads: number[] = [0, 0];
      server.on('connection', (c) => threads[c.id % 2 ** 32 >>> 24]++);
      const n = 40;
      const accepted = new Promise<void>((resolve) => {
        let k = 0;
        server.on('connection', () => ++k === n && resolve());
      });
      const cs = await Promise.all(Array.from({ length: n }, () => connect(server.address().port)));
      sockets.push(...cs);
      await accepted;
      assert.equal(threads[0] + threads[1], n);
      if (!opts.reusePort) assert.ok(threads[0] >= 15 && threads[1] >= 15, `balanced: ${threads} (${JSON.stringify(opts)})`);
      else assert.ok(threads[0] > 0 || threads[1] > 0);
    }
  });
});
