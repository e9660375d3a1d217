// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import type * as net from 'net';
import { FrameReader, connect, echoServer, frame, type EchoServer } from './helpers';

// One IO thread; connection A floods pipelined 64 KiB frames as fast as the socket takes them
// while B sends a small frame every 10 ms. The read budget and the ready list must give B its
// turn: every frame of B is answered while A is still flooding. (B's latencies are measured by
// the starvation experiment in docs/experiments.md, never asserted here.)
for (const triggering of ['edge', 'level'] as const)
describe(`fairness (${triggering}-triggered)`, function () {
  let es: EchoServer;
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    es = await echoServer({ ioThreads: 1, readBudget: 64 << 10, triggering }, { maxFrameBytes: 1 << 20 });
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await es.stop();
  });

  it('answers every frame of a quiet connection while another floods', async () => {
    const a = await connect(es.port);
    const b = await connect(es.port);
    sockets.push(a, b);
    let aFrames = 0;
    const ar = new FrameReader();
    a.on('data', (d) => {
      ar.push(d);
      aFrames = ar.frames.length;
      ar.frames.length = 0;
    });
    const big = frame(2, Buffer.alloc(64 << 10, 0xab));
    let flooding = true;
    let aSent = 0;
    const flood = () => {
      while (flooding && aSent - aFrames < 256) {
        aSent++;
        if (!a.write(big)) {
          a.once('drain', flood);
          return;
        }
      }
      if (flooding) setImmediate(flood);
    };
    flood();

    const br = new FrameReader(b);
    const N = 100;
    for (let i = 1; i <= N; i++) {
      b.write(frame(1, `small ${i}`, i));
      await new Promise((r) => setTimeout(r, 10));
    }
    const got = await br.waitFrames(N);
    flooding = false;
    assert.equal(got.length, N);
    got.forEach((f, i) => {
      assert.equal(f.seq, i + 1);
      assert.equal(f.body.toString(), `small ${i + 1}`);
    });
    assert.ok(aSent > 100, `A really flooded (${aSent} frames of 64 KiB sent while B ran)`);
  });
});
