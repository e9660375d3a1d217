// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { once } from 'events';
import { Writable } from 'stream';
import { Runtime, createLogger } from '../dist/index';
import { closed, connect } from './helpers';

/** A pino destination that keeps the parsed lines. */
function sink(): { stream: Writable; lines: Record<string, unknown>[]; next(pred: (l: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> } {
  const lines: Record<string, unknown>[] = [];
  let waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const text of chunk.toString().split('\n').filter(Boolean)) {
        const l = JSON.parse(text);
        lines.push(l);
        waiters = waiters.filter((w) => (w.pred(l) ? (w.resolve(l), false) : true));
      }
      cb();
    },
  });
  return {
    stream,
    lines,
    next: (pred) => {
      const found = lines.find(pred);
      return found ? Promise.resolve(found) : new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

describe('logs', function () {
  it('native warnings reach the pino logger, tagged src: native', async () => {
    const out = sink();
    const rt = await Runtime.start({ maxConnectionsPerThread: 1, logger: createLogger({ level: 'info' }, out.stream) });
    try {
      const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
      const first = once(server, 'connection');
      const a = await connect(server.address().port);
      await first;
      const b = await connect(server.address().port);
      await closed(b); // refused: no slot left
      const line = await out.next((l) => l.src === 'native' && l.level === 40);
      assert.match(String(line.msg), /connection slots in use/);
      assert.equal(rt.stats()[0].limitRejects, 1);
      a.destroy();
    } finally {
      await rt.close();
    }
  });

  it("'always' prints at any level but silent, and level changes reach native code", async () => {
    const out = sink();
    const logger = createLogger({ level: 'error' }, out.stream);
    logger.always('shown at error level');
    logger.info('hidden');
    assert.deepEqual(
      out.lines.map((l) => [l.level, l.msg]),
      [[100, 'shown at error level']],
    );
    const rt = await Runtime.start({ logger });
    try {
      await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
      assert.ok(!out.lines.some((l) => l.src === 'native'), 'native debug lines are not even formatted at error level');
      logger.level = 'debug';
      await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
      const line = await out.next((l) => l.src === 'native' && /listening on/.test(String(l.msg)));
      assert.equal(line.level, 20);
    } finally {
      await rt.close();
    }
    const silent = sink();
    const quiet = createLogger({ level: 'silent' }, silent.stream);
    quiet.always('never');
    quiet.fatal('never');
    assert.equal(silent.lines.length, 0);
  });
});
