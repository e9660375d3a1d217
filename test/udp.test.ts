// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import * as dgram from 'dgram';
import { once } from 'events';
import * as fs from 'fs';
import * as os from 'os';
import { InvalidArgumentError, Runtime, SystemError, type BanInfo, type Message, type RemoteInfo, type UdpSocket } from '../dist/index';
import { countFds, frame, header, ioLoops, pattern, until, useRuntime } from './helpers';

// UDP sockets on loopback (lib/udp.ts, native/core/src/udp.c), against Node dgram peers. Every
// load is bounded in count and time; what UDP may lose is accounted for with the kernel's own
// counters, never assumed away.

const hasIpv6 = Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6' && i.internal));

/** The kernel's count of UDP datagrams it could not deliver (/proc/net/snmp, Udp InErrors: a
 * full receive buffer, RcvbufErrors, included), for every socket of this network namespace. */
function udpInErrors(): number {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp: '));
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  return Number(values[names.indexOf('InErrors')]);
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('UDP', function () {
  const fx = useRuntime({ ioThreads: 2, logger: { level: 'error' } });
  const clients: dgram.Socket[] = [];

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  /** A Node dgram socket bound to `address` (any 127.0.0.x: Linux routes 127/8 to lo). */
  async function client(address = '127.0.0.1', type: 'udp4' | 'udp6' = 'udp4'): Promise<dgram.Socket> {
    const s = dgram.createSocket({ type, recvBufferSize: 4 << 20 });
    clients.push(s);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, address, () => {
        s.off('error', reject);
        resolve();
      });
    });
    return s;
  }

  /** The next datagram `s` receives, within `ms`. */
  function next(s: dgram.Socket, ms = 5000): Promise<{ msg: Buffer; rinfo: dgram.RemoteInfo }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        s.off('message', on);
        reject(new Error(`no datagram within ${ms} ms`));
      }, ms);
      const on = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
        clearTimeout(timer);
        resolve({ msg, rinfo });
      };
      s.once('message', on);
    });
  }

  /** The next 'message' of an evwire socket, copied, within `ms`. */
  function nextOn<M extends Message | Buffer>(u: UdpSocket<M>, ms = 5000): Promise<{ msg: M; rinfo: RemoteInfo }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        u.off('message', on);
        reject(new Error(`no message within ${ms} ms`));
      }, ms);
      const on = (msg: M, rinfo: RemoteInfo): void => {
        clearTimeout(timer);
        const copy = (Buffer.isBuffer(msg) ? Buffer.from(msg) : { ...msg, body: Buffer.from((msg as Message).body) }) as M;
        resolve({ msg: copy, rinfo });
      };
      u.once('message', on);
    });
  }

  async function echo(opts: { framing?: 'frames' | 'raw'; maxDatagramBytes?: number } = {}): Promise<UdpSocket<Message>> {
    const udp = await fx.rt.listen({ protocol: 'udp', host: '127.0.0.1', port: 0, recvBufferSize: 4 << 20, ...opts, framing: 'frames' });
    udp.on('message', (m, r) => udp.send(m.type, m.body, { seq: m.seq, flags: m.flags }, r.port, r.address));
    return udp;
  }

  it('echoes 100,000 datagrams from 4 sockets, every byte checked; losses only where the kernel counted drops', async function () {
    this.timeout(120000);
    const udp = await echo();
    const port = udp.address().port;
    const N = 100_000;
    const SOCKETS = 4;
    const WINDOW = 32;
    const per = N / SOCKETS;
    const errors0 = udpInErrors();
    const started = Date.now();
    // Each socket keeps WINDOW datagrams in flight (fewer than the socket buffers hold), so the
    // load cannot overrun them; a datagram not answered within 2 s counts as lost, and a lost
    // one must be one the kernel says it dropped.
    const results = await Promise.all(
      range(SOCKETS).map(async (s) => {
        const c = await client();
        let sent = 0;
        let got = 0;
        let lost = 0;
        let mismatches = 0;
        let unexpected = 0;
        const outstanding = new Map<number, Buffer>();
        await new Promise<void>((resolve) => {
          let progress = Date.now();
          const fill = (): void => {
            while (outstanding.size < WINDOW && sent < per) {
              const i = s * per + sent++;
              const f = frame(1 + (i % 65535), pattern(i % 200, i), i, (i % 4) << 1);
              outstanding.set(i, f);
              c.send(f, port, '127.0.0.1');
            }
            if (outstanding.size === 0 && sent === per) {
              clearInterval(timer);
              resolve();
            }
          };
          c.on('message', (m: Buffer) => {
            const seq = m.length >= 12 ? m.readUInt32BE(8) : -1;
            const want = outstanding.get(seq);
            if (want === undefined) {
              unexpected++;
              return;
            }
            outstanding.delete(seq);
            if (!m.equals(want)) mismatches++;
            got++;
            progress = Date.now();
            fill();
          });
          const timer = setInterval(() => {
            if (outstanding.size === 0 || Date.now() - progress < 2000) return;
            lost += outstanding.size;
            outstanding.clear();
            progress = Date.now();
            fill();
          }, 100);
          fill();
        });
        return { got, lost, mismatches, unexpected };
      }),
    );
    const total = (k: 'got' | 'lost' | 'mismatches' | 'unexpected'): number => results.reduce((n, r) => n + r[k], 0);
    const drops = udpInErrors() - errors0;
    assert.equal(total('mismatches'), 0, 'echoes that differ from what was sent');
    assert.equal(total('unexpected'), 0, 'echoes of nothing in flight (duplicates, or late after being counted lost)');
    assert.equal(total('got') + total('lost'), N);
    assert.ok(total('lost') <= drops, `${total('lost')} datagrams lost, but the kernel counted ${drops} drops`);
    if (total('lost') > 0) console.log(`      (${total('lost')} of ${N} lost; the kernel counted ${drops} UDP drops)`);
    const s = udp.stats();
    assert.ok(s.messagesIn >= N - total('lost') && s.messagesIn <= N, `messagesIn ${s.messagesIn}`);
    await until(() => udp.stats().messagesOut === udp.stats().messagesIn, 'every echo to be sent');
    assert.deepEqual(s.dropped, { truncated: 0, badHeader: 0, banned: 0, rate: 0, kernel: s.dropped.kernel });
    const io = fx.rt.stats();
    assert.equal(io.reduce((a, t) => a + t.dgramsIn, 0), s.messagesIn);
    assert.equal(io.reduce((a, t) => a + t.dgramDrops, 0), 0);
    // Four sources over two IO threads' sockets: the kernel's SO_REUSEPORT hash decides which.
    assert.ok(Date.now() - started < 110000);
  });

  it("framing 'raw': any bytes, an empty datagram included, come and go as they are", async () => {
    const udp = await fx.rt.listen({ protocol: 'udp', host: '127.0.0.1', port: 0, framing: 'raw' });
    const seen: Buffer[] = [];
    udp.on('message', (m, r) => {
      seen.push(Buffer.from(m));
      assert.equal(r.size, m.length);
      udp.send(m, r.port, r.address);
    });
    const c = await client();
    for (const bytes of [Buffer.from('hello'), Buffer.alloc(0), pattern(1400, 3), header(0xffffffff, 0, 0xff)]) {
      const reply = next(c);
      c.send(bytes, udp.address().port, '127.0.0.1');
      assert.ok((await reply).msg.equals(bytes));
    }
    assert.equal(seen.length, 4);
    assert.throws(() => (udp.send as (a: unknown, b: unknown, c: unknown) => boolean)(1, 9, '127.0.0.1'), (e: InvalidArgumentError) => e.code === 'EW_EINVAL');
  });

  it('a datagram above maxDatagramBytes is dropped and counted, never delivered cut', async () => {
    const udp = await echo({ maxDatagramBytes: 100 });
    const c = await client();
    const port = udp.address().port;
    const big = frame(7, pattern(89, 1), 1); // 101 bytes
    const fits = frame(7, pattern(88, 2), 2); // 100 bytes
    assert.equal(big.length, 101);
    const reply = next(c);
    c.send(big, port, '127.0.0.1');
    c.send(fits, port, '127.0.0.1');
    assert.ok((await reply).msg.equals(fits));
    await until(() => udp.stats().dropped.truncated === 1, 'the truncated datagram to be counted');
    assert.equal(udp.stats().messagesIn, 1);
    // 65,000 bytes: far above, through the same path.
    const huge = frame(7, pattern(65000, 3), 3);
    const reply2 = next(c);
    c.send(huge, port, '127.0.0.1');
    c.send(fits, port, '127.0.0.1');
    assert.ok((await reply2).msg.equals(fits));
    await until(() => udp.stats().dropped.truncated === 2, 'the second one to be counted');
  });

  it('a datagram that is not one valid frame is dropped and counted; the next good one is served', async () => {
    const udp = await echo();
    const c = await client();
    const port = udp.address().port;
    const messages: number[] = [];
    udp.on('message', (m) => messages.push(m.seq));
    const bad = [
      Buffer.alloc(0), // nothing
      Buffer.from([0, 0, 0]), // shorter than a header
      Buffer.concat([header(10, 7), Buffer.alloc(20)]), // says 10, carries 20
      Buffer.concat([header(30, 7), Buffer.alloc(20)]), // says 30, carries 20
      Buffer.concat([header(4, 0), Buffer.alloc(4)]), // type 0
      Buffer.concat([header(4, 7, 0x80), Buffer.alloc(4)]), // unknown flag
    ];
    for (const b of bad) c.send(b, port, '127.0.0.1');
    const good = frame(3, 'fine', 77, 2);
    const reply = next(c);
    c.send(good, port, '127.0.0.1');
    assert.ok((await reply).msg.equals(good));
    await until(() => udp.stats().dropped.badHeader === bad.length, 'every bad datagram to be counted');
    assert.deepEqual(messages, [77]);
    const io = fx.rt.stats();
    assert.equal(io.reduce((a, t) => a + t.dgramDrops, 0), bad.length);
  });

  it('a flood from 50 source addresses (127.0.0.2-51) is banned per source while 127.0.0.1 is served', async function () {
    this.timeout(60000);
    const udp = await fx.rt.listen({
      protocol: 'udp',
      host: '127.0.0.1',
      port: 0,
      framing: 'raw',
      recvBufferSize: 4 << 20,
      limits: { ipMessagesPerSecond: 10, ipMessageBurst: 50, banMs: 30000 },
    });
    const port = udp.address().port;
    udp.on('message', (m, r) => udp.send(m, r.port, r.address));
    const bans: BanInfo[] = [];
    udp.on('ban', (b) => bans.push(b));
    const flood = await Promise.all(range(50).map((i) => client(`127.0.0.${i + 2}`)));
    const canary = await client('127.0.0.1');
    const payload = Buffer.from('flood');
    const accounted = (): number => {
      const s = udp.stats();
      return s.messagesIn + s.dropped.rate + s.dropped.banned + s.dropped.kernel;
    };
    let sent = 0;
    // 20 rounds of 10 datagrams from each source (10,000 in all, 200 per source: four times its
    // burst), each round waited for, so that no socket buffer overflows; the canary sends one
    // per round (20 in all, within its burst) and must be answered every time. A source is over
    // its rate once it has sent more than 50 + 10/s of elapsed time: by the sixth round, unless
    // rounds take longer than a quarter of a second.
    for (let round = 0; round < 20; round++) {
      for (const f of flood) for (let j = 0; j < 10; j++) f.send(payload, port, '127.0.0.1');
      sent += 500;
      const reply = next(canary, 3000);
      canary.send(`canary ${round}`, port, '127.0.0.1');
      sent++;
      assert.equal((await reply).msg.toString(), `canary ${round}`);
      await until(() => accounted() === sent, `round ${round}'s datagrams to be accounted for`, 10000);
    }
    const s = udp.stats();
    assert.equal(bans.length, 50);
    assert.deepEqual(new Set(bans.map((b) => b.address)), new Set(range(50).map((i) => `127.0.0.${i + 2}`)));
    for (const b of bans) assert.deepEqual([b.reason, b.ms], ['messages', 30000]);
    assert.equal(s.bans.messages, 50);
    assert.equal(s.bans.active, 50);
    assert.ok(!udp.bans.list().some((b) => b.address === '127.0.0.1'));
    assert.equal(s.dropped.kernel, 0);
    // Each source passed its burst and what refilled before its ban (the rounds take far less
    // than the 30 s ban); everything after the ban was dropped.
    assert.ok(s.dropped.rate >= 50, `rate ${s.dropped.rate}`);
    assert.ok(s.dropped.banned > 0, `banned ${s.dropped.banned}`);
    assert.ok(s.messagesIn >= 50 * 50 + 20 && s.messagesIn < 10000 / 2, `messagesIn ${s.messagesIn}`);
    // Lifting one ban serves that source again; banning the canary stops it.
    assert.equal(udp.bans.remove('127.0.0.2'), true);
    const back = next(flood[0], 3000);
    flood[0].send('back', port, '127.0.0.1');
    assert.equal((await back).msg.toString(), 'back');
    udp.bans.add('127.0.0.1', 60000);
    const before = udp.stats().dropped.banned;
    canary.send('shut out', port, '127.0.0.1');
    await until(() => udp.stats().dropped.banned === before + 1, "the banned canary's datagram to be dropped");
  });

  it('per-source limits can change while the socket runs', async () => {
    const udp = await fx.rt.listen({ protocol: 'udp', host: '127.0.0.1', port: 0, framing: 'raw' });
    udp.setLimits({ ipMessagesPerSecond: 1, ipMessageBurst: 3, banMs: 0 });
    assert.equal(udp.limits.ipMessageBurst, 3);
    const c = await client('127.0.0.7');
    for (let i = 0; i < 10; i++) c.send('x', udp.address().port, '127.0.0.1');
    // banMs 0: over the rate is dropped, but nothing is banned.
    await until(() => udp.stats().messagesIn + udp.stats().dropped.rate === 10, 'ten datagrams accounted for');
    assert.ok(udp.stats().messagesIn >= 3 && udp.stats().messagesIn <= 4, `messagesIn ${udp.stats().messagesIn}`);
    assert.equal(udp.stats().bans.messages, 0);
    assert.deepEqual(udp.bans.list(), []);
  });

  describe('connected sockets (rt.connect)', () => {
    it('round trip with a Node dgram peer: sends go to the peer, messages come from it', async () => {
      const peer = await client();
      const peerPort = peer.address().port;
      peer.on('message', (m, r) => peer.send(m, r.port, r.address));
      const u = await fx.rt.connect({ protocol: 'udp', host: '127.0.0.1', port: peerPort });
      assert.equal(u.connected, true);
      assert.deepEqual(u.remoteAddress(), { address: '127.0.0.1', family: 'IPv4', port: peerPort });
      for (let i = 1; i <= 20; i++) {
        const reply = nextOn(u);
        assert.equal(u.send(5, pattern(i * 10, i), { seq: i, flags: 2 }), true);
        const { msg, rinfo } = await reply;
        assert.deepEqual([msg.type, msg.seq, msg.flags], [5, i, 2]);
        assert.ok(msg.body.equals(pattern(i * 10, i)));
        assert.deepEqual(rinfo, { address: '127.0.0.1', family: 'IPv4', port: peerPort, size: i * 10 + 12 });
      }
      assert.throws(() => u.send(5, 'x', {}, peerPort, '127.0.0.1'), (e: InvalidArgumentError) => e.code === 'EW_EINVAL');
      // Only the peer is heard: a stranger's datagram never arrives.
      const stranger = await client();
      stranger.send(frame(5, 'stranger', 99), u.address().port, '127.0.0.1');
      const reply = nextOn(u);
      u.send(5, 'last', { seq: 100 });
      assert.equal((await reply).msg.seq, 100);
      assert.equal(u.stats().messagesIn, 21);
    });

    it('evwire to evwire by host name, raw framing', async () => {
      const server = await fx.rt.listen({ protocol: 'udp', port: 0, framing: 'raw' }); // dual stack
      server.on('message', (m, r) => server.send(Buffer.concat([Buffer.from('re: '), m]), r.port, r.address));
      const u = await fx.rt.connect({ protocol: 'udp', host: 'localhost', port: server.address().port, framing: 'raw' });
      const reply = nextOn(u);
      u.send('ping');
      const { msg, rinfo } = await reply;
      assert.equal(msg.toString(), 're: ping');
      assert.equal(rinfo.port, server.address().port);
      assert.equal(rinfo.address, u.remoteAddress().address);
    });

    it('a peer with no socket: the ICMP refusal comes back as an error event (EW_ECONNREFUSED), counted', async () => {
      const gone = await client();
      const port = gone.address().port;
      await new Promise<void>((resolve) => gone.close(resolve));
      clients.splice(clients.indexOf(gone), 1);
      const u = await fx.rt.connect({ protocol: 'udp', host: '127.0.0.1', port });
      const err = once(u, 'error');
      u.send(1, 'anyone?');
      const [e] = (await err) as [SystemError];
      assert.ok(e instanceof SystemError);
      assert.equal(e.code, 'EW_ECONNREFUSED');
      assert.ok(u.stats().errors >= 1);
    });

    it('a host name that does not resolve rejects; bad options are InvalidArgumentError', async () => {
      await assert.rejects(fx.rt.connect({ protocol: 'udp', host: 'no-such-host.invalid', port: 9 }), (e: SystemError) => {
        assert.ok(e instanceof SystemError);
        assert.ok(['EW_EAI_NONAME', 'EW_EAI_AGAIN', 'EW_EAI_OTHER'].includes(e.code), e.code);
        return true;
      });
      for (const bad of [
        { protocol: 'udp', host: '127.0.0.1', port: 0 },
        { protocol: 'udp', host: '', port: 9 },
        { protocol: 'udp', host: '127.0.0.1', port: 9, framing: 'lines' },
        { protocol: 'udp', host: '127.0.0.1', port: 9, maxDatagramBytes: 70000 },
        { protocol: 'udp', host: '127.0.0.1', port: 9, localAddress: 'localhost' },
        { protocol: 'nope', host: '127.0.0.1', port: 9 },
      ]) {
        await assert.rejects(fx.rt.connect(bad as never), (e: InvalidArgumentError) => e instanceof InvalidArgumentError && e.code === 'EW_EINVAL');
      }
    });
  });

  it('sends are validated: type, flags, size, a numeric address of the right family', async () => {
    const udp = await echo();
    const ok = (fn: () => unknown, code: string): void => assert.throws(fn, (e: InvalidArgumentError) => e instanceof InvalidArgumentError && e.code === code);
    ok(() => udp.send(0, 'x', {}, 9, '127.0.0.1'), 'EW_EINVAL');
    ok(() => udp.send(1, 'x', { flags: 8 }, 9, '127.0.0.1'), 'EW_EINVAL');
    ok(() => udp.send(1, 'x', {}, 0, '127.0.0.1'), 'EW_EINVAL');
    ok(() => udp.send(1, 'x', {}, 9, 'localhost'), 'EW_EINVAL');
    ok(() => udp.send(1, 'x', {}, 9, '::1'), 'EW_EINVAL'); // an IPv4 socket
    ok(() => (udp.send as (a: unknown, b: unknown, c: unknown) => boolean)(Buffer.from('raw'), 9, '127.0.0.1'), 'EW_EINVAL');
    ok(() => udp.send(1, Buffer.alloc(65507 - 12 + 1), {}, 9, '127.0.0.1'), 'EW_EMSGSIZE');
    // The default address is the loopback of the socket's family, as in Node's dgram.
    const c = await client();
    const reply = next(c);
    assert.equal(udp.send(4, 'to you', { seq: 1 }, c.address().port), true);
    assert.ok((await reply).msg.equals(frame(4, 'to you', 1)));
    await assert.rejects(fx.rt.listen({ protocol: 'udp', host: '127.0.0.1', port: udp.address().port }), (e: SystemError) => e instanceof SystemError && e.code === 'EW_EADDRINUSE');
    await assert.rejects(fx.rt.listen({ protocol: 'udp', maxDatagramBytes: 11 }), (e: InvalidArgumentError) => e.code === 'EW_EINVAL');
  });

  (hasIpv6 ? it : it.skip)('IPv6: sources and destinations as Node writes them', async () => {
    const udp = await fx.rt.listen({ protocol: 'udp', host: '::1', port: 0, framing: 'raw' });
    udp.on('message', (m, r) => {
      assert.deepEqual([r.address, r.family], ['::1', 'IPv6']);
      udp.send(m, r.port, r.address);
    });
    const c = await client('::1', 'udp6');
    const reply = next(c);
    c.send('six', udp.address().port, '::1');
    assert.equal((await reply).msg.toString(), 'six');
    // A dual-stack socket reports an IPv4 peer as IPv4.
    const dual = await fx.rt.listen({ protocol: 'udp', port: 0, framing: 'raw' });
    const got = nextOn(dual);
    const c4 = await client();
    c4.send('four', dual.address().port, '127.0.0.1');
    assert.deepEqual((await got).rinfo.family, 'IPv4');
    assert.equal((await got).rinfo.address, '127.0.0.1');
  });

  describe('lifecycle', () => {
    it("close() closes every IO thread's socket: no fd left, 'close' once, nothing after", async () => {
      const c = await client();
      const fds0 = countFds();
      const udp = await fx.rt.listen({ protocol: 'udp', host: '127.0.0.1', port: 0, framing: 'raw' });
      assert.equal(countFds(), fds0 + ioLoops(2)); // one kernel socket per IO thread
      let closes = 0;
      udp.on('close', () => closes++);
      let late = 0;
      udp.on('message', () => late++);
      const port = udp.address().port;
      const closing = udp.close();
      for (let i = 0; i < 10; i++) c.send('late', port, '127.0.0.1');
      await Promise.all([closing, udp.close()]);
      assert.equal(closes, 1);
      assert.equal(late, 0);
      assert.equal(udp.isOpen, false);
      assert.equal(countFds(), fds0);
      assert.equal(udp.send(Buffer.from('x'), port, '127.0.0.1'), false);
      assert.equal(typeof udp.stats().messagesIn, 'number');
      // The port is free again.
      const again = await fx.rt.listen({ protocol: 'udp', host: '127.0.0.1', port });
      await again.close();
    });

    it('rt.close() closes listening and connected UDP sockets and leaves no fd', async () => {
      const fds0 = countFds();
      const rt = await Runtime.start({ ioThreads: 2, logger: { level: 'warn' } });
      const a = await rt.listen({ protocol: 'udp', host: '127.0.0.1', port: 0 });
      const b = await rt.connect({ protocol: 'udp', host: '127.0.0.1', port: a.address().port });
      a.on('message', (m, r) => a.send(m.type, m.body, { seq: m.seq }, r.port, r.address));
      const reply = nextOn(b);
      b.send(2, 'before the close', { seq: 9 });
      assert.equal((await reply).msg.seq, 9);
      const closed = Promise.all([once(a, 'close'), once(b, 'close')]);
      await rt.close();
      await closed;
      assert.equal(a.isOpen || b.isOpen, false);
      assert.equal(b.send(2, 'after'), false);
      await assert.rejects(rt.listen({ protocol: 'udp', port: 0 }), (e: Error) => (e as SystemError).code === 'EW_ESHUTDOWN');
      assert.equal(countFds(), fds0);
    });
  });
});
