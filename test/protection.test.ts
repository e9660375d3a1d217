// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { once } from 'events';
import type * as net from 'net';
import { Writable } from 'stream';
import { InvalidArgumentError, LimitError, Runtime, TimeoutError, createLogger, type CloseReason, type Connection, type KickInfo, type Limits } from '../dist/index';
import { FrameReader, closed, connect, echoServer, frame, header, pattern, tick, until, type EchoServer } from './helpers';

// Protection (docs/protection.md), with real sockets. Each client binds its own loopback
// address (127.0.0.2 ... 127.0.0.60: Linux routes all of 127/8 to lo), so one machine acts as
// many peers. Waits are on events; where time itself is the subject (windows, timeouts, bans
// that expire, a response rate), a bounded poll watches the condition, never a fixed sleep.

/** A client socket with a frame reader, from `local`. */
async function peer(port: number, local: string): Promise<{ s: net.Socket; r: FrameReader }> {
  const s = await connect(port, '127.0.0.1', local);
  // A refused or timed-out peer may see a reset while it writes: expected here.
  s.on('error', () => {});
  return { s, r: new FrameReader(s) };
}

/** The server side of the next connection. */
function nextConn(es: EchoServer): Promise<Connection> {
  return once(es.server, 'connection').then(([c]) => c as Connection);
}

/** Round trip of one frame: proves a connection is served. */
async function echoes(p: { s: net.Socket; r: FrameReader }, seq: number): Promise<void> {
  const n = p.r.frames.length + 1;
  p.s.write(frame(7, pattern(100, seq), seq));
  const got = await p.r.waitFrames(n);
  assert.equal(got[n - 1].seq, seq);
  assert.ok(got[n - 1].body.equals(pattern(100, seq)));
}

/** Resolves with the close reason of a server-side connection. */
function closeOf(c: Connection): Promise<CloseReason> {
  return c.closed ? Promise.resolve(c.closeReason!) : once(c, 'close').then(([r]) => r as CloseReason);
}

describe('protection', function () {
  this.timeout(30000);
  let es: EchoServer | undefined;
  const sockets: net.Socket[] = [];

  async function start(limits: Limits, ioThreads = 1, extra: object = {}): Promise<EchoServer> {
    // Kicks and bans log warnings by design; keep the test output to real failures.
    es = await echoServer({ ioThreads, logger: { level: 'error' } }, { limits, ...extra });
    return es;
  }

  async function open(local: string): Promise<{ s: net.Socket; r: FrameReader; c: Connection }> {
    const accepted = nextConn(es!);
    const p = await peer(es!.port, local);
    sockets.push(p.s);
    return { ...p, c: await accepted };
  }

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await es?.stop();
    es = undefined;
  });

  describe('message and byte windows', () => {
    it('kicks a flooding connection with EW_EFLOOD and its figures; a good one on the same IO thread is served', async () => {
      await start({ maxMessagesPerWindow: 100, windowMs: 60000 });
      const good = await open('127.0.0.2');
      const bad = await open('127.0.0.3');
      assert.equal(good.c.ioThread, bad.c.ioThread);
      const kickedConn = once(bad.c, 'kicked');
      const kickedServer = once(es!.server, 'kicked');
      const flood = Buffer.concat(Array.from({ length: 500 }, (_, i) => frame(5, 'x', i + 1)));
      bad.s.write(flood);
      const [info] = (await kickedConn) as [KickInfo];
      assert.deepEqual(info, { what: 'messages', messages: 100, bytes: info.bytes, windowMs: 60000, limit: 100 });
      assert.ok(info.bytes >= 100 * 13, `bytes ${info.bytes}`);
      const [sc, sinfo] = (await kickedServer) as [Connection, KickInfo];
      assert.equal(sc, bad.c);
      assert.deepEqual(sinfo, info);
      const reason = await closeOf(bad.c);
      assert.equal(reason.code, 'EW_EFLOOD');
      assert.ok(reason.error instanceof LimitError);
      await closed(bad.s);
      // At most the limit reached JavaScript: the 101st message closed the connection.
      assert.ok(bad.r.frames.length <= 100, `${bad.r.frames.length} echoes`);
      assert.equal(bad.c.stats().messagesIn, 100);
      for (let i = 1; i <= 20; i++) await echoes(good, i);
      const st = es!.server.stats();
      assert.equal(st.kicks.messages, 1);
      assert.equal(st.kicks.bytes, 0);
      assert.ok(es!.rt.stats()[0].kicks >= 1);
    });

    it('kicks on bytes per window', async () => {
      await start({ maxBytesPerWindow: 10000, windowMs: 60000 });
      const bad = await open('127.0.0.4');
      const kicked = once(bad.c, 'kicked');
      bad.s.write(frame(5, pattern(30000, 1), 1));
      const [info] = (await kicked) as [KickInfo];
      assert.equal(info.what, 'bytes');
      assert.equal(info.limit, 10000);
      assert.ok(info.bytes > 10000);
      assert.equal((await closeOf(bad.c)).code, 'EW_EFLOOD');
      assert.equal(es!.server.stats().kicks.bytes, 1);
    });

    it('a byte-window kick that also bans, in a batch of landed reads, keeps the ring whole', async () => {
      // Frames within both limits, then bytes over the byte window, all waiting in the kernel
      // (the connection is paused) so that they are read in one batch of landed reads: the kick
      // charges the address for the frames delivered before it, which bans it. The BAN may be
      // made while a read's ring reservation is open; it must not be reserved behind it (this
      // test did not reproduce that ordering on this machine before the fix: it guards the
      // outcome, the ring staying whole, not the exact interleaving).
      // A 64 KiB ring carries records of at most 16 KiB, so each landed read is at most that:
      // the batch (one read budget, 64 KiB) holds several reads, the second over the window.
      es = await echoServer(
        { ioThreads: 1, inRingBytes: 1 << 16, logger: { level: 'error' } },
        { limits: { maxBytesPerWindow: 20000, windowMs: 60000, ipMessagesPerSecond: 10, ipMessageBurst: 10, banMs: 60000 } },
      );
      const bad = await open('127.0.0.6');
      const good = await open('127.0.0.7');
      bad.c.pause();
      await echoes(good, 1); // the pause is on the IO thread before the bytes come
      const frames = [...Array.from({ length: 100 }, (_, i) => frame(5, 'z', i + 1)), ...Array.from({ length: 40 }, (_, i) => frame(5, pattern(1000, i), 101 + i))];
      bad.s.write(Buffer.concat(frames));
      await new Promise((r) => setTimeout(r, 200));
      const ban = once(es!.server, 'ban');
      bad.c.resume();
      const [info] = await ban;
      assert.deepEqual(info, { address: '127.0.0.6', ms: 60000, reason: 'messages' });
      assert.ok(['EW_EFLOOD', 'EW_EBANNED'].includes((await closeOf(bad.c)).code));
      await closed(bad.s);
      // Every echo the banned client got is a frame it sent, whole and in order.
      bad.r.frames.forEach((f, i) => assert.equal(f.seq, i + 1));
      // The ring was not disturbed: the other connection is served on (within its own rate).
      for (let i = 2; i <= 5; i++) await echoes(good, i);
      assert.equal(es!.server.stats().bans.messages, 1);
    });

    it('counts reset each window (short window)', async () => {
      await start({ maxMessagesPerWindow: 10, windowMs: 1000 });
      const p = await open('127.0.0.5');
      const batch = (first: number, n: number) => Buffer.concat(Array.from({ length: n }, (_, i) => frame(5, 'y', first + i)));
      const t0 = Date.now();
      p.s.write(batch(1, 8));
      await p.r.waitFrames(8);
      const s1 = p.c.stats();
      assert.equal(s1.window.messages, 8);
      assert.equal(s1.messagesIn, 8);
      assert.equal(s1.bytesIn, 8 * 13);
      // Two batches a full window apart always fall in different windows: 16 in total, never
      // more than 10 in one.
      await until(() => Date.now() - t0 >= 1100, 'a window to pass');
      assert.equal(p.c.stats().window.messages, 0);
      p.s.write(batch(9, 8));
      await p.r.waitFrames(16);
      assert.equal(p.c.stats().messagesIn, 16);
      assert.equal(p.c.closed, false);
      // 50 in one write: at least 25 land in one window, over 10.
      const kicked = once(p.c, 'kicked');
      p.s.write(batch(17, 50));
      await kicked;
      assert.equal((await closeOf(p.c)).code, 'EW_EFLOOD');
    });

    it('limits change at run time, and bad values are refused', async () => {
      await start({});
      const p = await open('127.0.0.6');
      p.s.write(Buffer.concat(Array.from({ length: 300 }, (_, i) => frame(5, 'z', i + 1))));
      await p.r.waitFrames(300);
      assert.throws(() => es!.server.setLimits({ maxMessagesPerWindow: -1 }), InvalidArgumentError);
      assert.throws(() => es!.server.setLimits({ windowMs: 0 }), InvalidArgumentError);
      assert.throws(() => es!.server.setLimits({ nope: 1 } as unknown as Limits), InvalidArgumentError);
      es!.server.setLimits({ maxMessagesPerWindow: 350, windowMs: 60000 });
      assert.equal(es!.server.limits.maxMessagesPerWindow, 350);
      const kicked = once(p.c, 'kicked');
      p.s.write(Buffer.concat(Array.from({ length: 300 }, (_, i) => frame(5, 'z', 301 + i))));
      const [info] = (await kicked) as [KickInfo];
      // The window counted the messages from before the change too.
      assert.equal(info.messages, 350);
    });

    it('HTTP requests count as messages', async () => {
      const rt = await Runtime.start({ ioThreads: 1, logger: { level: 'error' } });
      try {
        const http = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0, limits: { maxMessagesPerWindow: 5, windowMs: 60000 } });
        http.get('/', (_req, res) => res.end('ok'));
        const s = await connect(http.address().port, '127.0.0.1', '127.0.0.7');
        sockets.push(s);
        let text = '';
        s.on('data', (d: Buffer) => (text += d.toString('latin1')));
        const kicked = once(http, 'kicked');
        s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(10));
        const [, info] = (await kicked) as [Connection, KickInfo];
        assert.equal(info.messages, 5);
        await closed(s);
        assert.ok((text.match(/HTTP\/1\.1 200/g) ?? []).length <= 5);
      } finally {
        await rt.close();
      }
    });
  });

  describe('per-address rates and bans', () => {
    it('bans an address over its message rate: its connections close, reconnects are refused until the ban expires', async () => {
      await start({ ipMessagesPerSecond: 50, ipMessageBurst: 50, banMs: 1500 }, 2);
      const a1 = await open('127.0.0.10');
      const a2 = await open('127.0.0.10');
      const other = await open('127.0.0.11');
      const ban = once(es!.server, 'ban');
      a1.s.write(Buffer.concat(Array.from({ length: 200 }, (_, i) => frame(5, 'f', i + 1))));
      const [info] = await ban;
      assert.deepEqual(info, { address: '127.0.0.10', ms: 1500, reason: 'messages' });
      assert.equal((await closeOf(a1.c)).code, 'EW_EBANNED');
      assert.equal((await closeOf(a2.c)).code, 'EW_EBANNED');
      await closed(a1.s);
      await closed(a2.s);
      assert.deepEqual(es!.server.bans.list().map((b) => b.address), ['127.0.0.10']);
      // Refused at accept: the server never reports the connection.
      const accepted = es!.server.stats().accepted;
      const again = await peer(es!.port, '127.0.0.10');
      sockets.push(again.s);
      await closed(again.s);
      assert.equal(es!.server.stats().accepted, accepted);
      assert.ok(es!.server.stats().rejected.banned >= 1);
      await echoes(other, 1);
      // The ban expires by itself.
      await until(() => es!.server.bans.list().length === 0, 'the ban to expire');
      const back = await open('127.0.0.10');
      await echoes(back, 2);
      const st = es!.server.stats();
      assert.equal(st.bans.messages, 1);
      assert.equal(st.bannedCloses, 2);
    });

    it('bans an address over its connection rate; bans.remove lifts it, bans.add imposes one', async () => {
      await start({ ipConnectionsPerSecond: 1, ipConnectionBurst: 5, banMs: 60000 });
      const first: Awaited<ReturnType<typeof open>>[] = [];
      for (let i = 0; i < 5; i++) first.push(await open('127.0.0.12'));
      const ban = once(es!.server, 'ban');
      const sixth = await peer(es!.port, '127.0.0.12');
      sockets.push(sixth.s);
      const [info] = await ban;
      assert.equal(info.reason, 'connections');
      await closed(sixth.s);
      for (const p of first) assert.equal((await closeOf(p.c)).code, 'EW_EBANNED');
      assert.equal(es!.server.stats().bans.connections, 1);
      assert.equal(es!.server.bans.remove('127.0.0.12'), true);
      assert.equal(es!.server.bans.remove('127.0.0.12'), false);
      const back = await open('127.0.0.12');
      await echoes(back, 1);

      const victim = await open('127.0.0.13');
      es!.server.bans.add('127.0.0.13', 60000);
      assert.equal((await closeOf(victim.c)).code, 'EW_EBANNED');
      const list = es!.server.bans.list();
      assert.equal(list.length, 1);
      assert.equal(list[0].address, '127.0.0.13');
      assert.ok(list[0].remainingMs > 50000 && list[0].remainingMs <= 60000);
      const refused = await peer(es!.port, '127.0.0.13');
      sockets.push(refused.s);
      await closed(refused.s);
      assert.throws(() => es!.server.bans.add('not-an-ip'), InvalidArgumentError);
      es!.server.bans.remove('127.0.0.13');
      await echoes(await open('127.0.0.13'), 2);
    });

    it('caps connections per address and per server at accept; existing ones are untouched', async () => {
      await start({ maxConnectionsPerIp: 3, maxConnections: 5 });
      const kept: Awaited<ReturnType<typeof open>>[] = [];
      for (let i = 0; i < 3; i++) kept.push(await open('127.0.0.14'));
      for (let i = 0; i < 2; i++) {
        const p = await peer(es!.port, '127.0.0.14');
        sockets.push(p.s);
        await closed(p.s);
      }
      assert.equal(es!.server.stats().rejected.maxConnectionsPerIp, 2);
      for (let i = 0; i < 3; i++) await echoes(kept[i], i + 1);
      kept.push(await open('127.0.0.15'));
      kept.push(await open('127.0.0.16'));
      const over = await peer(es!.port, '127.0.0.17');
      sockets.push(over.s);
      await closed(over.s);
      assert.equal(es!.server.stats().rejected.maxConnections, 1);
      assert.equal(es!.server.stats().connections, 5);
      // A slot frees when one closes.
      const gone = closeOf(kept[0].c);
      kept[0].s.end();
      await gone;
      await echoes(await open('127.0.0.17'), 9);
      for (const p of kept.slice(1)) await echoes(p, 10);
    });

    it('serves 50 addresses while one of them floods', async () => {
      await start({ ipMessagesPerSecond: 200, ipMessageBurst: 400, banMs: 60000, maxMessagesPerWindow: 1000, windowMs: 10000 }, 2);
      const peers: Awaited<ReturnType<typeof open>>[] = [];
      for (let i = 0; i < 50; i++) peers.push(await open(`127.0.0.${20 + i}`));
      const ban = once(es!.server, 'ban');
      peers[0].s.write(Buffer.concat(Array.from({ length: 2000 }, (_, i) => frame(5, 'g', i + 1))));
      const [info] = await ban;
      assert.equal(info.address, '127.0.0.20');
      for (let i = 1; i < 50; i++) await echoes(peers[i], i);
      assert.equal(es!.server.stats().trackedIps, 50);
    });
  });

  it('logs rejections at most once a second per kind, with the count of those suppressed', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        for (const t of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(t).msg);
        cb();
      },
    });
    const rt = await Runtime.start({ ioThreads: 1, logger: createLogger({ level: 'info' }, stream) });
    try {
      const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, limits: { maxConnectionsPerIp: 1 } });
      const port = server.address().port;
      const accepted = once(server, 'connection'); // before connecting: it may come first
      const keep = await peer(port, '127.0.0.40');
      sockets.push(keep.s);
      await accepted;
      const t0 = Date.now();
      for (let i = 0; i < 100; i++) {
        const p = await peer(port, '127.0.0.40');
        sockets.push(p.s);
        await closed(p.s);
      }
      const elapsed = Date.now() - t0;
      assert.equal(server.stats().rejected.maxConnectionsPerIp, 100);
      await until(() => lines.some((l) => /refused 127\.0\.0\.40: maxConnectionsPerIp/.test(l)), 'the rejection line');
      const refusals = lines.filter((l) => /refused 127\.0\.0\.40/.test(l));
      // One line a second (plus the first): a flood of refusals costs a handful of lines.
      assert.ok(refusals.length <= Math.ceil(elapsed / 1000) + 1, `${refusals.length} lines in ${elapsed} ms`);
      if (refusals.length > 1) assert.match(refusals[1], /and \d+ more like it/);
    } finally {
      await rt.close();
    }
  });

  describe('timeouts', () => {
    it('closes a frame left unfinished at partialFrameTimeoutMs, even if it trickles', async () => {
      await start({ partialFrameTimeoutMs: 400 });
      const good = await open('127.0.0.2');
      const stalled = await open('127.0.0.3');
      stalled.s.write(Buffer.concat([header(100, 5), Buffer.alloc(10)]));
      const trickle = await open('127.0.0.4');
      trickle.s.write(header(100, 5));
      const timer = setInterval(() => trickle.s.writable && trickle.s.write(Buffer.alloc(1)), 100);
      try {
        const r1 = await closeOf(stalled.c);
        assert.equal(r1.code, 'EW_ETIMEOUT_PARTIAL');
        assert.ok(r1.error instanceof TimeoutError);
        assert.equal((await closeOf(trickle.c)).code, 'EW_ETIMEOUT_PARTIAL');
      } finally {
        clearInterval(timer);
      }
      // Whole frames never start the timeout.
      for (let i = 1; i <= 3; i++) await echoes(good, i);
      assert.equal(good.c.closed, false);
      assert.equal(es!.server.stats().timeouts.partialFrame, 2);
    });

    it('closes an idle connection at idleTimeoutMs; traffic keeps one open', async () => {
      await start({ idleTimeoutMs: 1500 });
      const idle = await open('127.0.0.5');
      const busy = await open('127.0.0.6');
      const t0 = Date.now();
      let seq = 0;
      const closedIdle = closeOf(idle.c);
      while (!idle.c.closed) {
        await echoes(busy, ++seq);
        await tick(100);
        assert.ok(Date.now() - t0 < 10000, 'idle connection never closed');
      }
      assert.equal((await closedIdle).code, 'EW_ETIMEOUT_IDLE');
      assert.equal(busy.c.closed, false);
      assert.equal(es!.server.stats().timeouts.idle, 1);
    });

    it('closes a connection that sends no complete message within firstMessageTimeoutMs', async () => {
      await start({ firstMessageTimeoutMs: 300 });
      const silent = await open('127.0.0.7');
      const talker = await open('127.0.0.8');
      await echoes(talker, 1);
      assert.equal((await closeOf(silent.c)).code, 'EW_ETIMEOUT_FIRST');
      await closed(silent.s);
      await echoes(talker, 2);
      assert.equal(es!.server.stats().timeouts.firstMessage, 1);
    });
  });

  describe('response rate', () => {
    /** rate x time + burst. The IO thread's clock counts whole milliseconds, so its elapsed time
     * can exceed the real one by up to 1 ms (never accumulating): one millisecond of rate. */
    const bound = (rate: number, burst: number, ms: number) => burst + (rate * (ms + 1)) / 1000;

    /** Sends `total` bytes in 4 KiB frames when asked, and records (time, bytes) at the client. */
    async function measure(rate: number, burst: number, total: number, conns: number, perServer: boolean) {
      const limits: Limits = perServer ? { serverSendBytesPerSecond: rate, serverSendBurstBytes: burst } : { sendBytesPerSecond: rate, sendBurstBytes: burst };
      es = await echoServer({ ioThreads: 1, logger: { level: 'error' } }, { limits, framing: 'raw' });
      const chunk = pattern(4096, 3);
      es.server.removeAllListeners('connection');
      const clients: { s: net.Socket; got: number; data: Buffer[] }[] = [];
      es.server.on('connection', (conn) => {
        conn.on('data', () => {
          for (let off = 0; off < total; off += chunk.length) conn.write(chunk);
        });
      });
      for (let i = 0; i < conns; i++) {
        const s = await connect(es.port, '127.0.0.1', `127.0.0.${30 + i}`);
        sockets.push(s);
        clients.push({ s, got: 0, data: [] });
      }
      const t0 = process.hrtime.bigint();
      const samples: { ms: number; bytes: number }[] = [];
      let sum = 0;
      const done = Promise.all(
        clients.map(
          (c) =>
            new Promise<void>((resolve) => {
              c.s.on('data', (d: Buffer) => {
                c.got += d.length;
                c.data.push(d);
                sum += d.length;
                samples.push({ ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes: sum });
                if (c.got >= total) resolve();
              });
            }),
        ),
      );
      for (const c of clients) c.s.write('go');
      await done;
      return { samples, clients };
    }

    it('per connection: never more than rate x time + burst; everything arrives intact', async () => {
      const rate = 64 * 1024;
      const burst = 16 * 1024;
      const total = 256 * 1024;
      const { samples, clients } = await measure(rate, burst, total, 1, false);
      for (const s of samples) assert.ok(s.bytes <= bound(rate, burst, s.ms), `${s.bytes} bytes after ${s.ms.toFixed(1)} ms`);
      // Over the first 3 s it is the rate, not the link, that decides.
      const at3 = samples.filter((s) => s.ms <= 3000).pop()!;
      assert.ok(at3.bytes <= bound(rate, burst, 3000));
      const all = Buffer.concat(clients[0].data);
      assert.equal(all.length, total);
      for (let off = 0; off < total; off += 4096) assert.ok(all.subarray(off, off + 4096).equals(pattern(4096, 3)));
      assert.ok(es!.server.stats().throttled >= 1);
    });

    it('per server: shared by its connections, the sum stays within rate x time + burst', async () => {
      const rate = 96 * 1024;
      const burst = 16 * 1024;
      const { samples, clients } = await measure(rate, burst, 96 * 1024, 3, true);
      for (const s of samples) assert.ok(s.bytes <= bound(rate, burst, s.ms), `${s.bytes} bytes after ${s.ms.toFixed(1)} ms`);
      for (const c of clients) assert.equal(c.got, 96 * 1024);
    });
  });
});
