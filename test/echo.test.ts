// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import type * as net from 'net';
import { FrameReader, connect, echoServer, frame, ioLoops, pattern, writeInPieces, type EchoServer } from './helpers';

for (const triggering of ['edge', 'level'] as const)
describe(`echo (${triggering}-triggered)`, function () {
  let es: EchoServer;
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    // Small rings so that fragments, PAD records and full-ring pauses all happen in these tests.
    // The echo ignores backpressure and the client writes up to 30 MB at once: inline, the client
    // reads on the server's own thread, so the echoes can queue past the default 16 MiB hard cap
    // (EW_ESLOW) before it runs; the cap has its own tests (backpressure.test.ts).
    es = await echoServer({ ioThreads: 2, inRingBytes: 1 << 18, outRingBytes: 1 << 18, triggering }, { maxFrameBytes: 4 << 20, maxBufferedBytes: 64 << 20 });
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await es.stop();
  });

  async function client(): Promise<{ s: net.Socket; r: FrameReader }> {
    const s = await connect(es.port);
    sockets.push(s);
    return { s, r: new FrameReader(s) };
  }

  /** Sends frames of the given sizes and checks every byte, type and seq of the echoes. */
  async function roundTrip(sizes: number[], seed: number): Promise<void> {
    const { s, r } = await client();
    const sent = sizes.map((n, i) => ({ type: 1 + (i % 65535), seq: i + 1, flags: (i % 4) << 1, body: pattern(n, seed + i) }));
    // One big write: the server sees them pipelined, in whatever pieces the kernel makes.
    s.write(Buffer.concat(sent.map((f) => frame(f.type, f.body, f.seq, f.flags))));
    const got = await r.waitFrames(sent.length);
    assert.equal(got.length, sent.length);
    for (let i = 0; i < sent.length; i++) {
      assert.equal(got[i].type, sent[i].type, `frame ${i} type`);
      assert.equal(got[i].seq, sent[i].seq, `frame ${i} seq`);
      assert.equal(got[i].flags, sent[i].flags, `frame ${i} flags`);
      assert.ok(got[i].body.equals(sent[i].body), `frame ${i} body (${sent[i].body.length} bytes)`);
    }
  }

  it('echoes 1 frame', () => roundTrip([10], 1));
  it('echoes 1,000 frames', () => roundTrip(Array.from({ length: 1000 }, (_, i) => i % 200), 2));
  it('echoes 100,000 frames', () => roundTrip(Array.from({ length: 100_000 }, (_, i) => i % 97), 3));

  it('echoes bodies of 0 B, 1 B, 64 B, 64 KiB and 1 MiB', () => roundTrip([0, 1, 64, 64 << 10, 1 << 20, 0, 1], 4));

  it('echoes random sizes up to 3 MiB (fragmented across records)', () => {
    let x = 12345;
    const sizes = Array.from({ length: 60 }, () => {
      x = (x * 1103515245 + 12345) >>> 0;
      return x % 3 === 0 ? x % (3 << 20) : x % 5000;
    });
    return roundTrip(sizes, 5);
  });

  it('serves 200 concurrent connections, every byte checked', async () => {
    const clients = await Promise.all(Array.from({ length: 200 }, () => client()));
    await Promise.all(
      clients.map(async ({ s, r }, c) => {
        const frames = Array.from({ length: 50 }, (_, i) => frame(1 + c, pattern(1 + ((c * 31 + i) % 3000), c * 1000 + i), i));
        s.write(Buffer.concat(frames));
        const got = await r.waitFrames(50);
        got.forEach((f, i) => {
          assert.equal(f.type, 1 + c);
          assert.equal(f.seq, i);
          assert.ok(f.body.equals(pattern(1 + ((c * 31 + i) % 3000), c * 1000 + i)), `conn ${c} frame ${i}`);
        });
      }),
    );
    assert.equal(es.server.stats().connections, 200);
  });

  it('reassembles a client writing one byte at a time', async () => {
    const { s, r } = await client();
    const frames = [frame(7, 'hello', 1), frame(8, pattern(300, 9), 2), frame(9, '', 3)];
    await writeInPieces(s, Buffer.concat(frames), [1]);
    const got = await r.waitFrames(3);
    assert.deepEqual(
      got.map((f) => [f.type, f.seq, f.body.length]),
      [
        [7, 1, 5],
        [8, 2, 300],
        [9, 3, 0],
      ],
    );
    assert.ok(got[1].body.equals(pattern(300, 9)));
  });

  it('handles frames split at every offset of the header', async () => {
    const { s, r } = await client();
    for (let cut = 1; cut <= 12 + 3; cut++) {
      const f = frame(cut, pattern(20, cut), cut);
      await writeInPieces(s, f, [cut, f.length]);
    }
    const got = await r.waitFrames(15);
    got.forEach((f, i) => {
      assert.equal(f.type, i + 1);
      assert.equal(f.seq, i + 1);
      assert.ok(f.body.equals(pattern(20, i + 1)));
    });
  });

  it('keeps per-connection order with many connections on two IO threads', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => client()));
    await Promise.all(
      clients.map(async ({ s, r }) => {
        const n = 2000;
        s.write(Buffer.concat(Array.from({ length: n }, (_, i) => frame(1, '', i))));
        const got = await r.waitFrames(n);
        got.forEach((f, i) => assert.equal(f.seq, i));
      }),
    );
    const perThread = es.rt.stats().map((t) => t.accepted);
    assert.equal(perThread.length, ioLoops(2));
    assert.equal(perThread.reduce((a, b) => a + b, 0), 20);
  });
});

describe('echo with the IO thread spinning before sleep (spinUs)', function () {
  let es: EchoServer;
  const inline = process.env.EVWIRE_TEST_INLINE === '1';

  beforeEach(async () => {
    es = await echoServer({ ioThreads: 1, spinUs: 1000 }, { maxFrameBytes: 4 << 20 });
  });

  afterEach(() => es.stop());

  it('echoes ping-pong and pipelined frames, and its spins find work', async () => {
    const s = await connect(es.port);
    const r = new FrameReader(s);
    try {
      // Ping-pong: one frame in flight, so the IO thread waits for JavaScript after every frame.
      for (let i = 0; i < 500; i++) {
        const body = pattern(1 + (i % 300), i);
        s.write(frame(1 + (i % 7), body, i));
        const f = (await r.waitFrames(i + 1))[i];
        assert.equal(f.seq, i);
        assert.ok(f.body.equals(body), `frame ${i}`);
      }
      // Pipelined: 20,000 frames in one write.
      s.write(Buffer.concat(Array.from({ length: 20_000 }, (_, i) => frame(2, pattern(i % 100, i), i))));
      const got = (await r.waitFrames(500 + 20_000)).slice(500);
      got.forEach((f, i) => {
        assert.equal(f.seq, i);
        assert.ok(f.body.equals(pattern(i % 100, i)), `pipelined frame ${i}`);
      });
      const st = es.rt.stats()[0];
      assert.ok(st.spinHits <= st.spins);
      // Inline there is no IO thread to spin; with one, 500 waits for a JavaScript handler on
      // the same machine include some far shorter than 1 ms, which arm the spin, and a spin
      // then catches the handler's send.
      if (inline) assert.equal(st.spins, 0);
      else assert.ok(st.spinHits > 0, `spins ${st.spins}, found work ${st.spinHits}`);
    } finally {
      s.destroy();
    }
  });
});
