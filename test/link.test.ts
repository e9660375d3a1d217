// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { spawn, type ChildProcess } from 'child_process';
import { once } from 'events';
import * as net from 'net';
import { EvwireError, InvalidArgumentError, type Link, type ReconnectInfo } from '../dist/index';
import { FrameReader, countFds, frame, tick, until, useRuntime } from './helpers';

// Outbound connections (rt.connect, lib/link.ts, native/core/src/link.c), against backends on
// loopback: Node net servers that this test starts, kills and restarts at will.

/** A framed backend: records every frame it receives (type, seq, body), echoes none unless
 * asked, and can be killed (every socket destroyed, listener closed) and restarted on its port. */
class Backend {
  server: net.Server | null = null;
  readonly sockets = new Set<net.Socket>();
  readonly frames: { type: number; seq: number; body: string }[] = [];
  accepted = 0;
  port = 0;

  constructor(private readonly echo = false) {}

  async start(port = this.port, host = '127.0.0.1'): Promise<this> {
    const server = net.createServer((s) => {
      this.accepted++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
      const r = new FrameReader();
      s.on('data', (d: Buffer) => {
        r.push(d);
        for (const f of r.frames.splice(0)) {
          this.frames.push({ type: f.type, seq: f.seq, body: f.body.toString() });
          if (this.echo) s.write(frame(f.type, f.body, f.seq));
        }
      });
    });
    server.listen(port, host);
    await once(server, 'listening');
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
    return this;
  }

  async kill(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server !== null) await new Promise<void>((r) => server.close(() => r()));
  }
}

/** A listening socket that never accepts, its backlog full (python3: Node accepts by itself):
 * connects to it hang until their timeout. */
async function blackhole(): Promise<{ port: number; child: ChildProcess }> {
  const code = [
    'import socket, sys, time',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'fill = []',
    'for i in range(8):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(s.getsockname())',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'print(s.getsockname()[1], flush=True)',
    'time.sleep(60)',
  ].join('\n');
  const child = spawn('python3', ['-c', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { port: Number(line.toString().trim()), child };
}

describe('links: outbound connections (rt.connect)', function () {
  this.timeout(60000);
  const ctx = useRuntime({ ioThreads: 2 });
  const backends: Backend[] = [];
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const b of backends.splice(0)) await b.kill();
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  async function backend(echo = false): Promise<Backend> {
    const b = await new Backend(echo).start();
    backends.push(b);
    return b;
  }

  it('connects, exchanges frames both ways, and sends typed or raw as an accepted connection does', async () => {
    const b = await backend(true);
    const link = await ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: b.port });
    assert.equal(link.connected, true);
    assert.equal(link.remoteAddress, '127.0.0.1');
    assert.equal(link.remotePort, b.port);
    const got: { type: number; seq: number; body: string }[] = [];
    link.on('message', (m) => got.push({ type: m.type, seq: m.seq, body: m.body.toString() }));
    for (let i = 1; i <= 100; i++) assert.equal(link.send(7, `m${i}`, { seq: i }), true);
    await until(() => got.length === 100, 'the echoes');
    assert.deepEqual(got.map((g) => g.seq), Array.from({ length: 100 }, (_, i) => i + 1));
    assert.equal(got[99].body, 'm100');
    assert.equal(link.stats().messagesIn, 100);
    assert.throws(() => link.write('x'), (e: EvwireError) => e instanceof InvalidArgumentError);
    await link.close();
    assert.equal(link.closed, true);
    assert.equal(link.send(7, 'late'), false);
  });

  it('raw framing: write() and data events', async () => {
    const server = net.createServer((s) => s.pipe(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const link = await ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, framing: 'raw' });
      const chunks: Buffer[] = [];
      link.on('data', (d) => chunks.push(Buffer.from(d)));
      link.write('hello ');
      link.write(Buffer.from('world'));
      await until(() => Buffer.concat(chunks).length === 11, 'the echo');
      assert.equal(Buffer.concat(chunks).toString(), 'hello world');
      assert.throws(() => link.send(1, 'x'), InvalidArgumentError);
      link.destroy();
      await once(link, 'close');
    } finally {
      server.close();
    }
  });

  it('close() ends gracefully, and is bounded by timeoutMs when the peer never closes its side', async () => {
    const sockets: net.Socket[] = [];
    let ended = 0;
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      s.on('end', () => ended++); // and never ends its own side
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const port = (server.address() as net.AddressInfo).port;
      const link = await ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port, reconnect: false });
      assert.throws(() => void link.close({ timeoutMs: -1 }), InvalidArgumentError);
      assert.equal(link.closed, false);
      const closing = link.close({ timeoutMs: 200 });
      await until(() => ended === 1, 'our FIN to reach the peer');
      await closing; // resolves although the peer never closed
      assert.equal(link.closed, true);
      // A well-behaved peer: the close completes with its FIN, long before the bound.
      const b = await backend(true);
      const good = await ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: b.port });
      await good.close({ timeoutMs: 0 });
      assert.equal(good.closed, true);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('survives a backend killed and restarted three times: what is sent up arrives once, in order; what is sent while down is queued and follows the reconnect', async () => {
    const b = await backend();
    const link = await ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: b.port, reconnect: { initialDelayMs: 20, maxDelayMs: 160, factor: 2, jitter: 'none' } });
    const delays: ReconnectInfo[] = [];
    link.on('reconnecting', (i) => delays.push(i));
    let seq = 0;
    const sendBatch = (n: number): void => {
      for (let i = 0; i < n; i++) {
        seq++;
        assert.equal(link.send(3, `s${seq}`, { seq }), true);
      }
    };
    for (let round = 0; round < 3; round++) {
      sendBatch(50);
      await until(() => b.frames.length === seq, `round ${round}: the frames sent while up`);
      const disconnected = once(link, 'disconnect');
      await b.kill();
      await disconnected;
      assert.equal(link.connected, false);
      sendBatch(50); // queued: the link is down
      assert.equal(link.stats().queued, 50);
      // Some refused attempts, with growing waits (waited for, not timed: a loaded machine is slow).
      const waitsBefore = delays.length;
      await until(() => delays.length >= waitsBefore + 3, `round ${round}: three reconnect waits`);
      const connected = once(link, 'connect');
      await b.start();
      await connected;
      await until(() => b.frames.length === seq, `round ${round}: the queued frames`);
    }
    sendBatch(10);
    await until(() => b.frames.length === seq, 'the last frames');
    // Exactly once, in order, across three reconnects.
    assert.deepEqual(b.frames.map((f) => f.seq), Array.from({ length: seq }, (_, i) => i + 1));
    assert.equal(b.accepted, 4);
    assert.equal(link.stats().connects, 4);
    assert.equal(link.stats().queueRefused, 0);
    // The waits follow the backoff: 20 ms after a drop, then doubling, capped at 160 (no jitter).
    assert.ok(delays.length >= 6, `${delays.length} reconnect waits`);
    for (const d of delays) {
      assert.ok(d.delayMs >= 20 && d.delayMs <= 160, `wait ${d.delayMs}`);
      assert.ok(d.error instanceof EvwireError);
    }
    const firstOfOutage = delays.filter((d) => d.attempt === 1 + 1);
    assert.ok(firstOfOutage.every((d) => d.delayMs === 20));
    const second = delays.filter((d) => d.attempt === 3);
    assert.ok(second.every((d) => d.delayMs === 40 && d.error.code === 'EW_ECONNREFUSED'), JSON.stringify(second.map((d) => [d.delayMs, d.error.code])));
    await link.close();
  });

  it('backs off against a server that accepts and closes at once, and queues what is sent while the connection ends', async () => {
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.end(); // our FIN at once: the link's connection answers it and closes
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const link = await ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, reconnect: { initialDelayMs: 10, maxDelayMs: 10000, jitter: 'none' } });
      const waits: number[] = [];
      link.on('reconnecting', (i) => waits.push(i.delayMs));
      // The peer's FIN is answered; a send meanwhile waits for the next connection.
      await once(link, 'end');
      assert.equal(link.send(3, 'after end'), true);
      assert.equal(link.stats().queued, 1);
      await until(() => waits.length >= 4, 'four reconnect waits');
      // Short-lived connections do not reset the backoff: the waits grow.
      assert.deepEqual(waits.slice(0, 4), [10, 20, 40, 80]);
      assert.ok(accepted >= 4);
      link.destroy();
      await once(link, 'close');
      // Closing again emits nothing more.
      let closes = 0;
      link.on('close', () => closes++);
      await link.close();
      assert.equal(closes, 0);
    } finally {
      server.close();
    }
  });

  it('bounds the queue while down: send() turns false at the bound, and the count says what was refused', async () => {
    const b = await backend();
    const port = b.port;
    const up: Link = await ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port, queueWhileDisconnected: 1000, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
    const dropped = once(up, 'disconnect');
    await b.kill();
    await dropped;
    const body = Buffer.alloc(100, 1);
    let accepted = 0;
    for (let i = 0; i < 20; i++) if (up.send(9, body, { seq: i + 1 })) accepted++;
    assert.equal(accepted, 8); // 8 * (100 + 12) <= 1000 < 9 * 112
    assert.equal(up.stats().queueRefused, 12);
    assert.equal(up.stats().queuedBytes, 8 * 112);
    await b.start(port);
    await until(() => b.frames.length === 8, 'the queued frames');
    assert.deepEqual(b.frames.map((f) => f.seq), [1, 2, 3, 4, 5, 6, 7, 8]);
    await up.close();
  });

  it('fails with the error of the attempt when reconnect is off: refused, timeout, unknown host', async () => {
    const b = await backend();
    const port = b.port;
    await b.kill();
    await assert.rejects(ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port, reconnect: false }), (e: EvwireError) => e.code === 'EW_ECONNREFUSED' && /127\.0\.0\.1/.test(e.message));
    const bh = await blackhole();
    children.push(bh.child);
    const t0 = Date.now();
    await assert.rejects(ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: bh.port, connectTimeoutMs: 300, reconnect: false }), (e: EvwireError) => e.code === 'EW_ETIMEDOUT');
    assert.ok(Date.now() - t0 >= 250);
    await assert.rejects(ctx.rt.connect({ protocol: 'tcp', host: 'no-such-host.invalid', port: 80, reconnect: false }), (e: EvwireError) => e.code === 'EW_EAI_NONAME');
    // maxAttempts: three refused attempts, then the link gives up with the last error.
    const p = ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port, reconnect: { initialDelayMs: 5, maxAttempts: 3, jitter: 'none' } });
    await assert.rejects(p, (e: EvwireError) => e.code === 'EW_ECONNREFUSED');
  });

  it('connects to ::1 and to localhost (every address tried in turn)', async () => {
    const b6 = await new Backend(true).start(0, '::1');
    backends.push(b6);
    const l6 = await ctx.rt.connect({ protocol: 'tcp', host: '::1', port: b6.port });
    assert.equal(l6.remoteAddress, '::1');
    // localhost: whichever of ::1 and 127.0.0.1 the resolver lists first, the one listening wins.
    const b4 = await backend(true);
    const l4 = await ctx.rt.connect({ protocol: 'tcp', host: 'localhost', port: b4.port });
    assert.equal(l4.remoteAddress, '127.0.0.1');
    const got = once(l4, 'message');
    l4.send(1, 'hi');
    const [m] = (await got) as [{ body: Buffer }];
    assert.equal(m.body.toString(), 'hi');
    await Promise.all([l6.close(), l4.close()]);
  });

  it("protocol 'lines': a link of lines, against a lines server", async () => {
    const srv = await ctx.rt.listen({ protocol: 'lines', host: '127.0.0.1', port: 0 });
    srv.on('line', (conn, line) => conn.write(`echo ${line.toString()}\n`));
    const link = await ctx.rt.connect({ protocol: 'lines', host: '127.0.0.1', port: srv.address().port, maxLineBytes: 100 });
    assert.equal(link.protocol, 'lines');
    const got: string[] = [];
    link.on('line', (l) => got.push(l.toString()));
    link.write('a\nb\r\n');
    link.write('c\n');
    await until(() => got.length === 3, 'the echoed lines');
    assert.deepEqual(got, ['echo a', 'echo b', 'echo c']);
    await assert.rejects(ctx.rt.connect({ protocol: 'lines', host: '127.0.0.1', port: 1, maxLineBytes: 0 }), /maxLineBytes/);
    await link.close();
  });

  it('validates its options with errors that name the value', async () => {
    const bad: [object, RegExp][] = [
      [{ protocol: 'tcp', host: '', port: 1 }, /host/],
      [{ protocol: 'tcp', host: 'x', port: 0 }, /port/],
      [{ protocol: 'tcp', host: 'x', port: 1, framing: 'lines' }, /framing/],
      [{ protocol: 'tcp', host: 'x', port: 1, reconnect: { factor: 0.5 } }, /factor/],
      [{ protocol: 'tcp', host: 'x', port: 1, reconnect: { initialDelayMs: 10, maxDelayMs: 5 } }, /maxDelayMs/],
      [{ protocol: 'tcp', host: 'x', port: 1, queueWhileDisconnected: -1 }, /queueWhileDisconnected/],
      [{ protocol: 'smtp', host: 'x', port: 1 }, /protocol/],
    ];
    for (const [o, re] of bad) {
      await assert.rejects(ctx.rt.connect(o as never), (e: EvwireError) => e instanceof InvalidArgumentError && re.test(e.message), JSON.stringify(o));
    }
  });

  it('rt.close() closes links connecting, connected and waiting to reconnect: no descriptor or timer is left', async () => {
    const before = countFds();
    const b = await backend(true);
    const up = await ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: b.port });
    const dead = await backend();
    const deadPort = dead.port;
    await dead.kill();
    const waiting = ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: deadPort, reconnect: { initialDelayMs: 60000, maxDelayMs: 60000 } }).then(
      () => null,
      (e: EvwireError) => e,
    );
    const bh = await blackhole();
    children.push(bh.child);
    const connecting = ctx.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: bh.port, connectTimeoutMs: 30000 }).then(
      () => null,
      (e: EvwireError) => e,
    );
    await tick(100);
    const closes = once(up, 'close');
    await ctx.rt.close();
    await closes;
    // Pending connects end with the close: the link was closed before it connected.
    assert.equal((await waiting)?.code, 'EW_ECANCELED');
    assert.equal((await connecting)?.code, 'EW_ECANCELED');
    await b.kill();
    bh.child.kill('SIGKILL');
    await until(() => countFds() <= before + 1, `descriptors back to ${before} (now ${countFds()})`);
    // Nothing keeps the event loop alive: no reconnect timer survived the close.
    const timers = (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((r) => r === 'Timeout');
    assert.ok(timers.length <= 2, `timers left: ${timers.length}`);
  });

});
