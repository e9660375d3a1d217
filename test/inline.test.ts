// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import { Runtime } from '../dist/index';
import { FrameReader, connect, countFds, frame, until } from './helpers';

const run = promisify(execFile);
const threadsNow = (): number => fs.readdirSync('/proc/self/task').length;

// Inline mode's own contract; the whole suite also runs inline (npm run test:js:inline).
describe('inline IO loop (ioThreads: 0)', function () {
  this.timeout(60000);

  it('runs the IO loop on the JavaScript thread: no IO thread, the same API, nothing left after close()', async () => {
    const fds0 = countFds();
    const threads0 = threadsNow();
    const rt = await Runtime.start({ ioThreads: 0, logger: { level: 'silent' } });
    assert.equal(rt.inlineIo, true);
    assert.equal(rt.ioThreads, 1);
    assert.equal(threadsNow(), threads0, 'no thread started');
    // The loop's thread is this one: Node's main thread has the process id as its thread id.
    assert.deepEqual(rt.threads().map((t) => ({ tid: t.tid, cpu: t.cpu })), [{ tid: process.pid, cpu: -1 }]);
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, limits: { idleTimeoutMs: 200 } });
    server.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body, { seq: m.seq })));
    const s = await connect(server.address().port);
    const r = new FrameReader(s);
    for (let i = 0; i < 100; i++) s.write(frame(7, `m${i}`, i));
    const got = await r.waitFrames(100);
    got.forEach((f, i) => assert.equal(f.body.toString(), `m${i}`));
    // The loop's own timers run inline too: the idle timeout closes the connection.
    await new Promise<void>((resolve) => s.once('close', () => resolve()));
    assert.equal(rt.stats()[0].framesIn, 100);
    await rt.close();
    await until(() => countFds() === fds0, 'every descriptor closed');
    assert.equal(threadsNow(), threads0);
  });

  it("ioThreads 'auto': inline when the process may use one CPU (taskset), IO threads otherwise", async function () {
    const script = `const { Runtime } = require(${JSON.stringify(path.resolve(__dirname, '../dist/index'))});
      Runtime.start({ ioThreads: 'auto', logger: { level: 'silent' } }).then(async (rt) => { console.log(rt.inlineIo); await rt.close(); });`;
    const one = await run('taskset', ['-c', '0', process.execPath, '-e', script]);
    assert.equal(one.stdout.trim(), 'true');
    // 'auto' is the default.
    const byDefault = await run('taskset', ['-c', '0', process.execPath, '-e', script.replace("ioThreads: 'auto', ", '')]);
    assert.equal(byDefault.stdout.trim(), 'true');
    const cpus = fs.readFileSync('/proc/self/status', 'latin1').match(/^Cpus_allowed_list:\s*(.+)$/m)?.[1] ?? '';
    if (cpus === '0') this.skip(); // this machine has one CPU: 'auto' is inline either way
    const all = await run(process.execPath, ['-e', script]);
    assert.equal(all.stdout.trim(), 'false');
  });

  it('refuses counts it cannot run', async () => {
    for (const bad of [-1, 65, 0.5, 'inline', {}]) {
      await assert.rejects(Runtime.start({ ioThreads: bad as number }), (e: Error & { code?: string }) => e.code === 'EW_EINVAL' && /ioThreads/.test(e.message));
    }
  });
});
