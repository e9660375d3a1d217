// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { once } from 'events';
import type * as net from 'net';
import { LimitError, Runtime, type Connection } from '../dist/index';
import { FrameReader, connect, frame, pattern } from './helpers';

// The rings' limits: a JavaScript thread that falls behind pauses reading (TCP flow control
// reaches the peer) and loses nothing; sends that do not fit the out ring wait in order; and a
// connection whose output outgrows maxBufferedBytes is closed with EW_ESLOW.
for (const triggering of ['edge', 'level'] as const)
describe(`rings (${triggering}-triggered)`, function () {
  this.timeout(60_000);
  const sockets: net.Socket[] = [];
  let rt: Runtime | null = null;

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await rt?.close();
    rt = null;
  });

  it('a busy JS thread fills its in ring: reading pauses, nothing is lost', async () => {
    rt = await Runtime.start({ inRingBytes: 1 << 14, triggering, logger: { level: 'silent' } });
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    let blocked = false;
    server.on('connection', (c) =>
      c.on('message', (m) => {
        if (!blocked) {
          // Hold the JS thread long enough for the IO thread to fill the 16 KiB ring.
          blocked = true;
          const until = Date.now() + 300;
          while (Date.now() < until);
        }
        c.send(m.type, m.body, { seq: m.seq });
      }),
    );
    const s = await connect(server.address().port);
    sockets.push(s);
    const r = new FrameReader(s);
    const N = 4000;
    s.write(Buffer.concat(Array.from({ length: N }, (_, i) => frame(1, pattern(100 + (i % 500), i), i))));
    const got = await r.waitFrames(N);
    got.forEach((f, i) => {
      assert.equal(f.seq, i);
      assert.ok(f.body.equals(pattern(100 + (i % 500), i)));
    });
    assert.ok(rt.stats()[0].ringFull > 0, 'the in ring really filled up');
  });

  it('sends beyond the out ring wait in order and all arrive', async () => {
    rt = await Runtime.start({ outRingBytes: 1 << 12, triggering, logger: { level: 'silent' } });
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, highWatermark: 1 << 30, maxBufferedBytes: 1 << 30, lowWatermark: 0 });
    const accepted = once(server, 'connection');
    const s = await connect(server.address().port);
    sockets.push(s);
    const [conn] = (await accepted) as [Connection];
    const r = new FrameReader(s);
    // One tick, 2 MiB through a 4 KiB ring, including a frame far larger than the ring.
    const N = 1000;
    for (let i = 0; i < N; i++) conn.send(2, pattern(i === 500 ? 100_000 : 1 + (i % 2000), i), { seq: i });
    const got = await r.waitFrames(N);
    got.forEach((f, i) => {
      assert.equal(f.seq, i);
      assert.ok(f.body.equals(pattern(i === 500 ? 100_000 : 1 + (i % 2000), i)), `frame ${i}`);
    });
  });

  it('output above maxBufferedBytes closes with EW_ESLOW (a sender that ignores false)', async () => {
    rt = await Runtime.start({ triggering, logger: { level: 'silent' } });
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, highWatermark: 64 << 10, lowWatermark: 16 << 10, maxBufferedBytes: 1 << 20 });
    const accepted = once(server, 'connection');
    const s = await connect(server.address().port);
    sockets.push(s);
    s.pause(); // never reads
    s.on('error', () => undefined);
    const [conn] = (await accepted) as [Connection];
    const closed = once(conn, 'close');
    const body = Buffer.alloc(64 << 10);
    let falses = 0;
    // Ignore backpressure on purpose, a tick at a time, until the runtime cuts the peer off.
    const flood = setInterval(() => {
      for (let i = 0; i < 64; i++) if (!conn.send(1, body)) falses++;
    }, 1);
    const [reason] = await closed;
    clearInterval(flood);
    assert.equal(reason.code, 'EW_ESLOW');
    assert.ok(reason.error instanceof LimitError);
    assert.ok(falses > 0, 'send() had said false');
    assert.equal(rt.stats()[0].slowCloses, 1);
  });
});
