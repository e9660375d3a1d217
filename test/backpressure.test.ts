// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import * as net from 'net';
import { once } from 'events';
import { Runtime, type Connection } from '../dist/index';
import { rssBytes } from './helpers';

// A client that does not read while the server sends 1 GiB through send()/'drain'. Memory
// stays bounded (the rings, the watermarks and the kernel's socket buffers, nothing else), and
// once the client reads, 'drain' fires and every byte arrives in order.
describe('backpressure', function () {
  this.timeout(180_000);

  it('sends 1 GiB to a slow reader with bounded memory and nothing lost', async () => {
    const rt = await Runtime.start({ ioThreads: 1, logger: { level: 'warn' } });
    try {
      const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, highWatermark: 1 << 20, lowWatermark: 256 << 10 });
      const TOTAL = 1 << 30;
      const CHUNK = 60 << 10; // body bytes per frame
      const body = Buffer.alloc(CHUNK);
      const baseline = rssBytes();
      let peakRss = baseline;
      let drains = 0;
      let falseReturns = 0;
      let sentSoFar = 0;
      const done = new Promise<void>((resolve, reject) => {
        server.once('connection', (conn: Connection) => {
          let sent = 0;
          let seq = 0;
          const pump = () => {
            while (sent < TOTAL) {
              body.writeUInt32BE(seq, 0);
              const ok = conn.send(1, body, { seq: seq++ });
              sent += CHUNK;
              sentSoFar = sent;
              if (!ok) {
                falseReturns++;
                peakRss = Math.max(peakRss, rssBytes());
                return; // wait for 'drain'
              }
            }
            resolve();
          };
          conn.on('drain', () => {
            drains++;
            pump();
          });
          conn.on('close', (r) => (sent < TOTAL ? reject(new Error(`closed early: ${r.code}`)) : undefined));
          pump();
        });
      });

      const client = net.connect(server.address().port, '127.0.0.1');
      await once(client, 'connect');
      client.pause();
      // Let the server fill every buffer on the way (the kernel's socket buffers take a few
      // MiB, and 'drain' fires while they do), then check that sending has stalled.
      await new Promise((r) => setTimeout(r, 1500));
      assert.ok(falseReturns >= 1, 'send() reported backpressure');
      const stalledAt = sentSoFar;
      const drainsAt = drains;
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(sentSoFar, stalledAt, 'nothing more is produced while the client does not read');
      assert.equal(drains, drainsAt, "no further 'drain' while the client does not read");
      assert.ok(stalledAt < 64 << 20, `stalled after ${stalledAt} bytes: buffers are bounded`);
      peakRss = Math.max(peakRss, rssBytes());

      let received = 0;
      let expectSeq = 0;
      let pending: Buffer = Buffer.alloc(0);
      const allIn = new Promise<void>((resolve) => {
        client.on('data', (d: Buffer) => {
          pending = pending.length ? Buffer.concat([pending, d]) : d;
          while (pending.length >= 12) {
            const len = pending.readUInt32BE(0);
            if (pending.length < 12 + len) break;
            assert.equal(pending.readUInt32BE(8), expectSeq, 'frames arrive in order');
            assert.equal(pending.readUInt32BE(12), expectSeq, 'body carries its seq');
            expectSeq++;
            received += len;
            pending = pending.subarray(12 + len);
          }
          if (received >= TOTAL) resolve();
        });
      });
      client.resume();
      await done;
      await allIn;
      peakRss = Math.max(peakRss, rssBytes());
      assert.ok(drains > drainsAt, "'drain' fired once the client read");
      assert.equal(received, Math.ceil(TOTAL / CHUNK) * CHUNK);
      // The stated bound: rings (4 MiB in + 4 MiB out, touched as used), the high watermark,
      // the kernel's buffers, and V8's own garbage. 1 GiB went through; far less may stay.
      const grew = peakRss - baseline;
      assert.ok(grew < 160 << 20, `RSS grew by ${(grew / 1048576).toFixed(1)} MiB, bound is 160 MiB`);
      client.destroy();
    } finally {
      await rt.close();
    }
  });
});
