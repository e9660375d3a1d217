// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { EvwireError, InvalidArgumentError, Runtime, type IoThreadStats } from '../dist/index';
import { FrameReader, connect, frame, ioLoops, until } from './helpers';

// What a user meets first on the API's surface: one naming rule for statistics, published types
// without internals, one form of a peer's address, and errors that are EvwireErrors naming the
// offending value.

const hasIpv6 = Object.values(os.networkInterfaces()).some((list) => list?.some((i) => i.family === 'IPv6' && i.internal));

/** Every counter of IoThreadStats: the compiler makes this list complete and exact. */
const IO_STAT_KEYS: Record<keyof IoThreadStats, true> = {
  accepted: true,
  closed: true,
  live: true,
  bytesIn: true,
  bytesOut: true,
  framesIn: true,
  sendRecords: true,
  staleSends: true,
  ringFull: true,
  protocolErrors: true,
  slowCloses: true,
  acceptErrors: true,
  limitRejects: true,
  wakeups: true,
  httpRequests: true,
  httpErrors: true,
  timeouts: true,
  kicks: true,
  bans: true,
  guardRejects: true,
  dgramsIn: true,
  dgramsOut: true,
  dgramDrops: true,
  loops: true,
  handshakes: true,
  tlsHandshakes: true,
  tlsFailures: true,
  cryptoFailures: true,
  framesLanded: true,
  spins: true,
  spinHits: true,
};

/** Compiles test/types/<config> (a consumer project of the published types) with tsc. */
function typecheck(config: string): void {
  const root = path.join(__dirname, '..');
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'test', 'types', config)], { encoding: 'utf8', timeout: 110000 });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
}

function rejectsWith(p: Promise<unknown>, code: string, ...mentions: string[]): Promise<void> {
  return assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof EvwireError, `an EvwireError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const m of mentions) assert.ok(e.message.includes(m), `${JSON.stringify(e.message)} names ${m}`);
    return true;
  });
}

describe('API surface', function () {
  let rt: Runtime | null = null;
  const sockets: net.Socket[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await rt?.close();
    rt = null;
  });

  it('rt.stats() has the typed camelCase counters, exactly those the native side publishes', async () => {
    rt = await Runtime.start({ ioThreads: 2, logger: { level: 'silent' } });
    const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    server.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body)));
    const s = await connect(server.address().port);
    sockets.push(s);
    const r = new FrameReader(s);
    s.write(frame(1, 'x'));
    await r.waitFrames(1);
    const stats = rt.stats();
    assert.equal(stats.length, ioLoops(2));
    for (const t of stats) {
      assert.deepEqual(Object.keys(t).sort(), Object.keys(IO_STAT_KEYS).sort());
      for (const v of Object.values(t)) assert.equal(typeof v, 'number');
    }
    assert.equal(stats.reduce((a, t) => a + t.accepted, 0), 1);
    assert.equal(stats.reduce((a, t) => a + t.framesIn, 0), 1);
    // The frame was read straight into the ring (a FRAMES record).
    assert.equal(stats.reduce((a, t) => a + t.framesLanded, 0), 1);
  });

  it('conn.stats() counts messages out: frames, raw chunks and HTTP responses', async () => {
    rt = await Runtime.start({ logger: { level: 'silent' } });
    const framed = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    let last: ReturnType<import('../dist/index').Connection['stats']> | null = null;
    framed.on('connection', (c) =>
      c.on('message', (m) => {
        c.send(m.type, m.body);
        c.send(m.type, m.body);
        last = c.stats();
      }),
    );
    const s = await connect(framed.address().port);
    sockets.push(s);
    const r = new FrameReader(s);
    s.write(Buffer.concat([frame(1, 'a'), frame(1, 'b')]));
    await r.waitFrames(4);
    await until(() => last !== null && last.messagesIn === 2, 'both frames counted in');
    assert.equal(last!.messagesOut, 4);

    const raw = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, framing: 'raw' });
    let rawOut = -1;
    raw.on('connection', (c) =>
      c.on('data', (d) => {
        c.write(d);
        rawOut = c.stats().messagesOut;
      }),
    );
    const s2 = await connect(raw.address().port);
    sockets.push(s2);
    s2.write('hello');
    await once(s2, 'data');
    assert.equal(rawOut, 1);

    const http = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    const seen: number[] = [];
    http.get('/n', (req, res) => {
      seen.push(req.connection.stats().messagesOut);
      res.end('ok');
    });
    const s3 = await connect(http.address().port);
    sockets.push(s3);
    let got = '';
    s3.on('data', (d) => (got += d.toString()));
    s3.write('GET /n HTTP/1.1\r\nHost: x\r\n\r\nGET /n HTTP/1.1\r\nHost: x\r\n\r\nGET /n HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => (got.match(/HTTP\/1\.1 200/g) ?? []).length === 3, 'three responses');
    // Pipelined requests are dispatched together; each handler sees the responses ended before it.
    assert.equal(seen.length, 3);
    assert.ok(seen.every((n, i) => n <= i));
  });

  it('the published types compile in a strict project with skipLibCheck off, and hide the internals', function () {
    this.timeout(120000);
    typecheck('tsconfig.json');
  });

  it('an ES module and a CommonJS user import the package by name, with types, in node16 mode', function () {
    this.timeout(120000);
    typecheck('tsconfig.node16.json');
    const root = path.join(__dirname, '..');
    // And at run time: import and require give the same classes (one instance of the package).
    const probe = "import * as esm from 'evwire'; import { createRequire } from 'module'; const cjs = createRequire(import.meta.url)('evwire'); console.log(esm.Runtime === cjs.Runtime && esm.EvwireError === cjs.EvwireError && Object.keys(cjs).every((k) => k in esm));";
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: root, encoding: 'utf8', timeout: 60000 });
    assert.equal(run.stdout.trim(), 'true', run.stderr);
  });

  (hasIpv6 ? it : it.skip)('gives an IPv4 peer of a dual-stack listener as IPv4, in the accept hook, the connection and the ban list', async () => {
    rt = await Runtime.start({ logger: { level: 'silent' } });
    const peers: { address: string; family: string }[] = [];
    const server = await rt.listen({
      protocol: 'tcp',
      port: 0,
      onAccept: (peer) => {
        peers.push({ address: peer.address, family: peer.family });
        return true;
      },
    });
    assert.equal(server.address().family, 'IPv6', 'no host: the dual-stack socket');
    const conns: { address: string; family: string }[] = [];
    server.on('connection', (c) => conns.push({ address: c.remoteAddress, family: c.remoteFamily }));
    const s = await connect(server.address().port, '127.0.0.1', '127.0.0.9');
    sockets.push(s);
    await until(() => conns.length === 1, 'the connection');
    assert.deepEqual(peers, [{ address: '127.0.0.9', family: 'IPv4' }]);
    assert.deepEqual(conns, [{ address: '127.0.0.9', family: 'IPv4' }]);
    server.bans.add('127.0.0.9', 60000);
    assert.deepEqual(server.bans.list().map((b) => b.address), ['127.0.0.9']);
    await once(s, 'close');
    // A real IPv6 peer stays IPv6.
    server.bans.remove('127.0.0.9');
    const s6 = await connect(server.address().port, '::1');
    sockets.push(s6);
    await until(() => conns.length === 2, 'the IPv6 connection');
    assert.deepEqual(conns[1], { address: '::1', family: 'IPv6' });
  });

  describe('errors are EvwireErrors that name the offending value', () => {
    it('an option out of range', async () => {
      await rejectsWith(Runtime.start({ ioThreads: 65 }), 'EW_EINVAL', 'ioThreads', 'got 65');
      rt = await Runtime.start({ logger: { level: 'silent' } });
      await rejectsWith(rt.listen({ protocol: 'tcp', port: 'abc' as unknown as number }), 'EW_EINVAL', 'port', '"abc"');
      await rejectsWith(rt.listen({ protocol: 'sctp' as 'tcp' }), 'EW_EINVAL', 'protocol', '"sctp"');
      await rejectsWith(rt.listen({ protocol: 'tcp', limits: { windowMs: -1 } }), 'EW_EINVAL', 'limits.windowMs', '-1');
      assert.throws(() => rt!.tasks.define('', () => 1), (e: unknown) => e instanceof InvalidArgumentError && e.message.includes('got ""'));
    });

    it('a logger level that does not exist', async () => {
      await rejectsWith(Runtime.start({ logger: { level: 'verbose' } }), 'EW_EINVAL', '"verbose"', 'always');
    });

    it('an affinity CPU this process may not run on', async () => {
      const cpu = os.cpus().length + 3;
      await rejectsWith(Runtime.start({ affinity: [0, cpu] }), 'EW_EINVAL', `CPU ${cpu}`, 'may run on');
      await rejectsWith(Runtime.start({ affinity: [2000] }), 'EW_EINVAL', 'got 2000');
    });

    it('a work-thread module that is missing or throws while loading', async () => {
      const missing = path.join(os.tmpdir(), `evwire-missing-${process.pid}.js`);
      await rejectsWith(Runtime.start({ logger: { level: 'silent' }, workers: { count: 1, module: missing } }), 'EW_EWORKER', missing);
      const throwing = path.join(os.tmpdir(), `evwire-throwing-${process.pid}.js`);
      fs.writeFileSync(throwing, "throw new Error('boom while loading');\n");
      try {
        await rejectsWith(Runtime.start({ logger: { level: 'silent' }, workers: { count: 1, module: throwing } }), 'EW_EWORKER', 'boom while loading');
      } finally {
        fs.rmSync(throwing, { force: true });
      }
    });
  });
});
