// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import {
  ClosedError,
  ERROR_CODES,
  EvwireError,
  InvalidArgumentError,
  LimitError,
  ProtocolError,
  Runtime,
  SystemError,
  errorName,
} from '../dist/index';
import { native } from '../dist/native';
import * as C from '../dist/internal/constants';

const root = path.join(__dirname, '..');

describe('errors', function () {
  it('the C map, the TypeScript table and docs/errors.md list the same codes', () => {
    const fromC = native.errors();
    const ts = Object.entries(ERROR_CODES);
    assert.deepEqual(
      fromC.map((e) => [e.code, e.errno, e.message]),
      ts.map(([code, i]) => [code, i.errno, i.message]),
    );
    const doc = fs.readFileSync(path.join(root, 'docs', 'errors.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `(EW_[A-Z0-9_]+)` \| (-?\d+) \| (\w+) \|/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
    assert.deepEqual(
      rows,
      ts.map(([code, i]) => [code, i.errno, i.category]),
    );
  });

  it('the wire constants are one list: ew/wire.h names them, the addon exports exactly those, TypeScript is generated from the addon', () => {
    const header = fs.readFileSync(path.join(root, 'native', 'core', 'include', 'ew', 'wire.h'), 'utf8');
    const list = header.slice(header.indexOf('#define EW_WIRE_CONSTANTS(XX)'));
    const names = [...list.matchAll(/XX\(([A-Z0-9_]+), EW_[A-Z0-9_]+\)/g)].map((m) => m[1]);
    assert.ok(names.length > 50, 'the list is read');
    const exported = Object.entries(native.constants).filter(([, v]) => typeof v === 'number');
    assert.deepEqual(exported.map(([k]) => k), names, 'the addon exports the list, in its order');
    for (const [k, v] of exported) assert.equal((C as Record<string, unknown>)[k], v, k);
    // The generated file is current: what gen-wire.js would write now is what is there.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const gen = require(path.join(root, 'scripts', 'gen-wire.js')) as { render(): string; out: string };
    assert.equal(fs.readFileSync(gen.out, 'utf8'), gen.render());
  });

  it('classes by category, with instanceof across copies through the brand', () => {
    const e = new ProtocolError('EW_EPROTO_LENGTH');
    assert.ok(e instanceof ProtocolError);
    assert.ok(e instanceof EvwireError);
    assert.ok(!(e instanceof SystemError));
    assert.equal(e.code, 'EW_EPROTO_LENGTH');
    assert.equal(e.errno, -3002);
    assert.equal(e.message, 'frame above maxFrameBytes or line above maxLineBytes');
    // A copy of the package loaded twice shares only the brand: simulate a foreign instance.
    const foreign = Object.create(null);
    foreign[Symbol.for('evwire.error')] = ['LimitError', 'EvwireError'];
    assert.ok(foreign instanceof LimitError);
    assert.ok(foreign instanceof EvwireError);
    assert.ok(!(foreign instanceof ClosedError));
    assert.equal(errorName(-104), 'EW_ECONNRESET');
    assert.equal(errorName(0), 'EW_OK');
    assert.equal(errorName(-123456), 'EW_EUNKNOWN');
  });

  it('native failures arrive as typed errors with code, errno, syscall and address', async () => {
    const rt = await Runtime.start({ logger: { level: 'silent' } });
    try {
      const a = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
      await assert.rejects(rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: a.address().port }), (e: SystemError) => {
        assert.ok(e instanceof SystemError);
        assert.equal(e.code, 'EW_EADDRINUSE');
        assert.equal(e.errno, -98);
        assert.equal(e.syscall, 'listen');
        assert.equal(e.address, `127.0.0.1:${a.address().port}`);
        return true;
      });
      await assert.rejects(rt.listen({ protocol: 'tcp', host: 'no-such-host.invalid', port: 0 }), (e: SystemError) => {
        assert.ok(e instanceof SystemError);
        assert.ok(['EW_EAI_NONAME', 'EW_EAI_AGAIN', 'EW_EAI_OTHER'].includes(e.code), e.code);
        assert.equal(e.syscall, 'getaddrinfo');
        return true;
      });
    } finally {
      await rt.close();
    }
  });

  it('arguments are validated in TypeScript with InvalidArgumentError (EW_EINVAL)', async () => {
    const bad: unknown[] = [
      { ioThreads: -1 },
      { ioThreads: 'inline' },
      { ioThreads: 65 },
      { ioThreads: 1.5 },
      { affinity: [] },
      { affinity: [-1] },
      { affinity: 'sometimes' },
      { inRingBytes: 5000 },
      { outRingBytes: 1024 },
      { maxConnectionsPerThread: 0 },
      { readBudget: -1 },
      { spinUs: -1 },
      { spinUs: 1001 },
      { spinUs: 2.5 },
    ];
    for (const opts of bad) {
      await assert.rejects(Runtime.start(opts as never), (e: InvalidArgumentError) => e instanceof InvalidArgumentError && e.code === 'EW_EINVAL', JSON.stringify(opts));
    }
    const rt = await Runtime.start({ logger: { level: 'silent' } });
    try {
      const badListen: unknown[] = [
        { protocol: 'sctp' },
        { protocol: 'tcp', port: 70000 },
        { protocol: 'tcp', port: -1 },
        { protocol: 'tcp', framing: 'lines' },
        { protocol: 'tcp', highWatermark: 10, lowWatermark: 20 },
        { protocol: 'tcp', highWatermark: 100, maxBufferedBytes: 50 },
        { protocol: 'tcp', decodeErrorPolicy: 'ignore' },
        { protocol: 'tcp', distribution: 'random' },
      ];
      for (const opts of badListen) {
        await assert.rejects(rt.listen(opts as never), InvalidArgumentError, JSON.stringify(opts));
      }
      const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
      const { connect } = await import('./helpers');
      const accepted = new Promise<import('../dist/index').Connection>((r) => server.once('connection', r));
      const s = await connect(server.address().port);
      const conn = await accepted;
      assert.throws(() => conn.send(0, 'x'), InvalidArgumentError);
      assert.throws(() => conn.send(70000, 'x'), InvalidArgumentError);
      assert.throws(() => conn.send(1, 'x', { flags: 8 }), InvalidArgumentError);
      assert.throws(() => conn.send(1, 'x', { seq: -1 }), InvalidArgumentError);
      assert.throws(() => conn.send(1, 42 as never), InvalidArgumentError);
      assert.throws(() => conn.write('raw'), InvalidArgumentError, 'write() is for raw framing');
      s.destroy();
    } finally {
      await rt.close();
    }
  });
});
