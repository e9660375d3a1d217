// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { spawn } from 'child_process';
import type * as net from 'net';
import * as path from 'path';
import * as readline from 'readline';
import { FrameReader, connect, frame } from './helpers';

// A server process out of file descriptors: accept fails with EMFILE. The reserve-descriptor
// trick accepts and closes the pending connections (the peers learn at once instead of hanging
// in the backlog), 'error' reports EW_EMFILE once a second at most, the IO thread does not spin,
// and once descriptors are free again the server serves new connections.
describe('EMFILE', function () {
  this.timeout(60_000);

  it('sheds connections it cannot accept, reports EW_EMFILE, and recovers', async () => {
    const fixture = path.join(__dirname, 'fixtures', 'emfile-server.js');
    const child = spawn('bash', ['-c', `ulimit -n 96 && exec "${process.execPath}" "${fixture}"`], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readline.createInterface({ input: child.stdout! });
    const events: Record<string, unknown>[] = [];
    let wake: (() => void) | null = null;
    lines.on('line', (l) => {
      events.push(JSON.parse(l));
      wake?.();
    });
    const next = async (pred: (e: Record<string, unknown>) => boolean) => {
      for (;;) {
        const found = events.find(pred);
        if (found) return found;
        await new Promise<void>((r) => (wake = r));
      }
    };
    const clients: net.Socket[] = [];
    try {
      const { port } = (await next((e) => 'port' in e)) as { port: number };
      // Far more connections than the child has descriptors.
      let shed = 0;
      for (let i = 0; i < 150; i++) {
        const s = await connect(port);
        s.on('error', () => undefined);
        s.on('close', () => shed++);
        clients.push(s);
      }
      const err = await next((e) => 'error' in e);
      assert.deepEqual(err, { error: 'EW_EMFILE', syscall: 'accept' });
      // Shed peers are closed promptly rather than left in the backlog.
      while (shed === 0) await new Promise((r) => setTimeout(r, 20));
      for (const s of clients.splice(0)) s.destroy();
      // Descriptors free again: a new connection is served.
      let served = false;
      for (let attempt = 0; attempt < 50 && !served; attempt++) {
        const s = await connect(port);
        s.on('error', () => undefined);
        clients.push(s);
        const r = new FrameReader(s);
        s.write(frame(1, 'after EMFILE'));
        served = await Promise.race([r.waitFrames(1).then(() => true, () => false), new Promise<boolean>((res) => setTimeout(() => res(false), 500))]);
      }
      assert.ok(served, 'the server serves again once descriptors are free');
      child.stdin!.end();
      const { stats } = (await next((e) => 'stats' in e)) as { stats: { acceptErrors: number; loops: number } };
      assert.ok(stats.acceptErrors >= 1);
      // No busy loop: a spinning IO thread would run millions of loop rounds in this time.
      assert.ok(stats.loops < 200_000, `${stats.loops} loop rounds`);
    } finally {
      for (const s of clients) s.destroy();
      child.kill();
    }
  });
});
