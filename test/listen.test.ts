// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import { once } from 'events';
import { Runtime } from '../dist/index';
import { FrameReader, frame, ioLoops } from './helpers';

async function echoVia(port: number, host: string): Promise<void> {
  const s = net.connect({ port, host });
  await once(s, 'connect');
  const r = new FrameReader(s);
  s.write(frame(1, `hi ${host}`));
  const [f] = await r.waitFrames(1);
  assert.equal(f.body.toString(), `hi ${host}`);
  s.destroy();
}

const hasIpv6 = Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6' && i.internal));

describe('listen', function () {
  let rt: Runtime;
  beforeEach(async () => {
    rt = await Runtime.start({ ioThreads: 2, logger: { level: 'silent' } });
  });
  afterEach(() => rt.close());

  async function echo(opts: { host?: string; port?: number }) {
    const server = await rt.listen({ protocol: 'tcp', ...opts });
    server.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body)));
    return server;
  }

  it("listens on 'localhost' (a host name) and reports the real port for port 0", async () => {
    const server = await echo({ host: 'localhost', port: 0 });
    const a = server.address();
    assert.ok(a.port > 0);
    assert.ok(['127.0.0.1', '::1'].includes(a.address), a.address);
    await echoVia(a.port, 'localhost');
  });

  it('listens on an IPv4 literal', async () => {
    const server = await echo({ host: '127.0.0.1' });
    assert.equal(server.address().family, 'IPv4');
    await echoVia(server.address().port, '127.0.0.1');
  });

  (hasIpv6 ? it : it.skip)('listens on the IPv6 loopback', async () => {
    const server = await echo({ host: '::1' });
    assert.equal(server.address().family, 'IPv6');
    await echoVia(server.address().port, '::1');
  });

  it('with no host, listens on every interface (dual stack where IPv6 exists)', async () => {
    const server = await echo({});
    await echoVia(server.address().port, '127.0.0.1');
    if (hasIpv6) await echoVia(server.address().port, '::1');
  });

  it('pins IO threads: affinity [1] runs the IO thread on CPU 1, auto spreads them', async function () {
    if (os.cpus().length < 2) this.skip();
    const pinned = await Runtime.start({ ioThreads: 1, affinity: [1], logger: { level: 'silent' } });
    try {
      const [t] = pinned.threads();
      assert.equal(t.cpu, 1);
      const status = fs.readFileSync(`/proc/self/task/${t.tid}/status`, 'utf8');
      assert.match(status, /^Cpus_allowed_list:\s+1$/m);
    } finally {
      await pinned.close();
    }
    const auto = await Runtime.start({ ioThreads: 2, affinity: 'auto', logger: { level: 'silent' } });
    try {
      const cpus = auto.threads().map((t) => t.cpu);
      assert.equal(new Set(cpus).size, 2, `one core per IO thread: ${cpus}`);
    } finally {
      await auto.close();
    }
    const off = rt.threads();
    assert.deepEqual(off.map((t) => t.cpu), ioLoops(2) === 2 ? [-1, -1] : [-1]);
  });
});
