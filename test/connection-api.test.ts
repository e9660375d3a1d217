// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The everyday Connection API a Node user reaches for: pause()/resume(), setTimeout(), the
// local address, setNoDelay()/setKeepAlive(), and send()/write() on the wrong framing. The
// socket options are read back natively in native/test/test_ports.c (test_conn_options).
import { strict as assert } from 'assert';
import { once } from 'events';
import * as net from 'net';
import { InvalidArgumentError, type Connection, type ListenOptions, type Message, type Server } from '../dist/index';
import { connect, frame, FrameReader, pattern, tick, until, useRuntime } from './helpers';

describe('connection API', function () {
  const env = useRuntime({ ioThreads: 1, logger: { level: 'silent' } });
  const sockets = env.sockets;

  async function pair(opts: Partial<ListenOptions> = {}, host = '127.0.0.1'): Promise<{ server: Server; conn: Connection; s: net.Socket; r: FrameReader }> {
    const server = await env.rt.listen({ protocol: 'tcp', host: opts.host ?? host, port: 0, ...opts });
    const accepted = once(server, 'connection');
    const s = await connect(server.address().port, host);
    sockets.push(s);
    const [conn] = (await accepted) as [Connection];
    return { server, conn, s, r: new FrameReader(s) };
  }

  /** A frame from the server that the client has read: every record the connection sent
   * before it (a pause, an option) has been applied by its IO thread. */
  async function roundTrip(conn: Connection, r: FrameReader, seq: number): Promise<void> {
    const n = r.frames.length;
    conn.send(9, 'sync', { seq });
    await r.waitFrames(n + 1);
  }

  describe('pause() and resume()', () => {
    it('stop reading the socket: the peer feels backpressure, and resume delivers everything in order', async () => {
      const { conn, s, r } = await pair();
      const got: Message[] = [];
      conn.on('message', (m) => got.push({ ...m, body: Buffer.from(m.body) }));
      assert.equal(conn.isPaused(), false);
      assert.equal(conn.pause(), conn);
      conn.pause(); // idempotent
      assert.equal(conn.isPaused(), true);
      await roundTrip(conn, r, 1);
      // 16 MiB: more than the kernel buffers of both ends hold on loopback.
      const N = 256;
      const SIZE = 64 << 10;
      for (let i = 0; i < N; i++) s.write(frame(1, pattern(SIZE, i), i));
      // The IO thread has run meanwhile (the round trip below goes through it), and read none
      // of it: the client's writes stay queued in its own buffer.
      await roundTrip(conn, r, 2);
      assert.equal(got.length, 0);
      assert.equal(conn.stats().bytesIn, 0);
      assert.ok(s.writableLength > 0, 'the client cannot write everything while the server is paused');
      const drained = once(s, 'drain');
      conn.resume();
      conn.resume(); // idempotent
      assert.equal(conn.isPaused(), false);
      await until(() => got.length === N, 'every frame after resume()', 30000);
      await drained;
      for (let i = 0; i < N; i++) {
        assert.equal(got[i].seq, i);
        assert.ok(got[i].body.equals(pattern(SIZE, i)), `frame ${i} intact`);
      }
    });

    it('holds the messages already on their way and delivers them after resume(), in order', async () => {
      const { conn, s, r } = await pair();
      const got: number[] = [];
      conn.on('message', (m) => {
        got.push(m.seq);
        if (m.seq === 0) conn.pause();
      });
      // One write: the ten frames reach the IO thread together and are in the ring before the
      // pause issued by the first one's handler can stop anything.
      s.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => frame(1, `m${i}`, i))));
      await until(() => got.length === 1, 'the first frame');
      await roundTrip(conn, r, 1);
      assert.deepEqual(got, [0], 'the other frames are held while paused');
      s.write(frame(1, 'late', 10));
      await roundTrip(conn, r, 2);
      assert.deepEqual(got, [0]);
      conn.resume();
      await until(() => got.length === 11, 'the held frames and the late one');
      assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it("'end' waits behind the held messages", async () => {
      const { conn, s } = await pair({ allowHalfOpen: true });
      const events: string[] = [];
      conn.on('message', (m) => {
        events.push(`m${m.seq}`);
        if (m.seq === 0) conn.pause();
      });
      conn.on('end', () => events.push('end'));
      s.end(Buffer.concat([frame(1, 'a', 0), frame(1, 'b', 1), frame(1, 'c', 2)]));
      await until(() => events.length >= 1, 'the first frame');
      const ended = once(conn, 'end');
      conn.resume();
      await ended;
      assert.deepEqual(events, ['m0', 'm1', 'm2', 'end']);
    });

    it('works on raw connections: bytes sent while paused arrive after resume(), whole and in order', async () => {
      const server = await env.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, framing: 'raw' });
      const accepted = once(server, 'connection');
      const s = await connect(server.address().port);
      sockets.push(s);
      const [conn] = (await accepted) as [Connection];
      const chunks: Buffer[] = [];
      conn.on('data', (d) => chunks.push(Buffer.from(d)));
      conn.pause();
      // Raw round trip: the client reads the byte the server wrote after pausing.
      const echoed = once(s, 'data');
      conn.write('x');
      await echoed;
      const data = pattern(8 << 20, 7);
      s.write(data);
      const synced = once(s, 'data');
      conn.write('y');
      await synced;
      assert.equal(chunks.length, 0, 'nothing is delivered while paused');
      assert.equal(conn.stats().bytesIn, 0, 'nothing was read from the socket');
      assert.ok(s.writableLength > 0, 'the client is held back');
      conn.resume();
      await until(() => chunks.reduce((n, c) => n + c.length, 0) === data.length, 'all raw bytes', 30000);
      assert.ok(Buffer.concat(chunks).equals(data));
    });

    it('a connection closed while paused drops what it held and closes once', async () => {
      const { conn, s, r } = await pair();
      let messages = 0;
      conn.on('message', () => {
        messages++;
        conn.pause();
      });
      s.write(Buffer.concat([frame(1, 'a', 0), frame(1, 'b', 1)]));
      await until(() => messages === 1, 'the first frame');
      await roundTrip(conn, r, 1);
      const closing = once(conn, 'close');
      conn.destroy();
      await closing;
      conn.resume();
      await tick(20);
      assert.equal(messages, 1);
    });
  });

  describe('setTimeout()', () => {
    it("emits 'timeout' once per idle period, does not close, and traffic starts the count again", async () => {
      const { conn, s } = await pair();
      let timeouts = 0;
      conn.on('timeout', () => timeouts++);
      conn.on('message', (m) => conn.send(m.type, m.body, { seq: m.seq }));
      assert.equal(conn.setTimeout(40), conn);
      assert.equal(conn.timeout, 40);
      await once(conn, 'timeout');
      assert.equal(conn.closed, false);
      assert.equal(conn.ended, false);
      // Idle on: no second event without traffic.
      await tick(200);
      assert.equal(timeouts, 1);
      // Traffic re-arms it: an echo, then a new idle period.
      const r = new FrameReader(s);
      s.write(frame(1, 'ping', 1));
      await r.waitFrames(1);
      await once(conn, 'timeout');
      assert.equal(timeouts, 2);
    });

    it('takes a listener (once), and 0 turns it off', async () => {
      const { conn } = await pair();
      let calls = 0;
      await new Promise<void>((resolve) =>
        conn.setTimeout(20, () => {
          calls++;
          resolve();
        }),
      );
      assert.equal(conn.listenerCount('timeout'), 0, 'the listener was added with once()');
      let more = 0;
      conn.on('timeout', () => more++);
      conn.setTimeout(20);
      conn.setTimeout(0);
      assert.equal(conn.timeout, 0);
      await tick(150);
      assert.equal(more, 0);
      assert.equal(calls, 1);
    });

    it('refuses a bad delay or listener, naming it', async () => {
      const { conn } = await pair();
      for (const bad of [-1, NaN, Infinity, '10' as unknown as number]) {
        assert.throws(
          () => conn.setTimeout(bad),
          (e: unknown) => e instanceof InvalidArgumentError && e.code === 'EW_EINVAL' && e.message.includes(String(bad)),
        );
      }
      assert.throws(() => conn.setTimeout(10, 'x' as unknown as () => void), InvalidArgumentError);
    });
  });

  describe('local address', () => {
    it("equals the listener's address and port", async () => {
      const { server, conn, s } = await pair();
      assert.equal(conn.localAddress, '127.0.0.1');
      assert.equal(conn.localPort, server.address().port);
      assert.equal(conn.localFamily, 'IPv4');
      assert.equal(conn.localPort, s.remotePort);
      assert.equal(conn.remotePort, s.localPort);
    });

    it('an IPv4 peer of a dual-stack listener reads as IPv4 on both ends', async function () {
      let server: Server;
      try {
        server = await env.rt.listen({ protocol: 'tcp', host: '::', port: 0 });
      } catch {
        this.skip(); // no IPv6 on this host
      }
      const accepted = once(server!, 'connection');
      const s = await connect(server!.address().port, '127.0.0.1');
      sockets.push(s);
      const [conn] = (await accepted) as [Connection];
      assert.equal(conn.remoteAddress, '127.0.0.1');
      assert.equal(conn.remoteFamily, 'IPv4');
      assert.equal(conn.localAddress, '127.0.0.1');
      assert.equal(conn.localFamily, 'IPv4');
      assert.equal(conn.localPort, server!.address().port);
    });
  });

  describe('setNoDelay() and setKeepAlive()', () => {
    it('reach the IO thread in order with the data, and return this', async () => {
      const { conn, r } = await pair();
      assert.equal(conn.setNoDelay(), conn);
      assert.equal(conn.setNoDelay(false), conn);
      assert.equal(conn.setKeepAlive(true, 5000), conn);
      assert.equal(conn.setKeepAlive(false), conn);
      await roundTrip(conn, r, 1);
      assert.equal(env.rt.stats().reduce((n, t) => n + t.staleSends, 0), 0, 'no record was refused');
      assert.throws(
        () => conn.setKeepAlive(true, -5),
        (e: unknown) => e instanceof InvalidArgumentError && e.code === 'EW_EINVAL' && e.message.includes('-5'),
      );
      const closing = once(conn, 'close');
      conn.destroy();
      await closing;
      conn.setNoDelay(true).setKeepAlive(true, 1000); // closed: nothing to do, no throw
    });
  });

  describe('send() and write() on the wrong framing', () => {
    it("send() on a raw connection throws EW_EINVAL and names write()", async () => {
      const server = await env.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, framing: 'raw' });
      const accepted = once(server, 'connection');
      sockets.push(await connect(server.address().port));
      const [conn] = (await accepted) as [Connection];
      assert.throws(
        () => conn.send(7, 'x'),
        (e: unknown) => e instanceof InvalidArgumentError && e.code === 'EW_EINVAL' && /send\(7/.test(e.message) && /write\(/.test(e.message),
      );
      assert.equal(conn.write('ok'), true);
    });

    it('write() on a framed connection throws EW_EINVAL and names send()', async () => {
      const { conn } = await pair();
      assert.throws(
        () => conn.write('x'),
        (e: unknown) => e instanceof InvalidArgumentError && e.code === 'EW_EINVAL' && /'frames'/.test(e.message) && /send\(/.test(e.message),
      );
    });
  });
});
