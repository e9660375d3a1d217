// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { once } from 'events';
import type * as net from 'net';
import * as path from 'path';
import { EvwireError, InvalidArgumentError, LimitError, ProtocolError, Runtime, TimeoutError, type CloseReason, type Connection, type KickInfo, type LinesListenOptions, type LinesServer } from '../dist/index';
import { closed, connect, pattern, until, useRuntime, writeInPieces } from './helpers';

// protocol 'lines' (docs/protocol.md, "Lines"): the IO thread cuts newline-delimited lines, JS
// gets one 'line' per line without its terminator, replies are plain bytes.

const NL = Buffer.from('\n');

/** Collects what a raw client receives and waits for a number of "\n"-terminated lines. */
class LineCollector {
  private buf = Buffer.alloc(0);
  readonly lines: string[] = [];
  private waiters: { n: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(private readonly s: net.Socket) {
    s.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      let i: number;
      while ((i = this.buf.indexOf(10)) >= 0) {
        this.lines.push(this.buf.subarray(0, i).toString('latin1'));
        this.buf = this.buf.subarray(i + 1);
      }
      this.waiters = this.waiters.filter((w) => {
        if (this.lines.length >= w.n) w.resolve();
        return this.lines.length < w.n;
      });
    });
    s.on('close', () => this.waiters.splice(0).forEach((w) => w.reject(new Error(`closed after ${this.lines.length} of ${w.n} lines`))));
  }

  wait(n: number): Promise<string[]> {
    if (this.lines.length >= n) return Promise.resolve(this.lines);
    return new Promise((resolve, reject) => this.waiters.push({ n, resolve: () => resolve(this.lines), reject }));
  }

  get rest(): Buffer {
    return this.buf;
  }
}

describe('protocol lines', function () {
  this.timeout(30000);
  const env = useRuntime({ ioThreads: 2, logger: { level: 'silent' } });
  const sockets = env.sockets;

  interface Pair {
    server: LinesServer;
    conn: Connection;
    s: net.Socket;
    got: Buffer[];
    client: LineCollector;
    closing: Promise<CloseReason>;
  }

  /** A lines server that records each line (a copy) and echoes it upper-cased, and one client. */
  async function pair(opts: Partial<LinesListenOptions> = {}): Promise<Pair> {
    const server = await env.rt.listen({ protocol: 'lines', host: '127.0.0.1', port: 0, ...opts });
    const got: Buffer[] = [];
    server.on('connection', (conn) => {
      conn.on('line', (line) => {
        got.push(Buffer.from(line));
        conn.write(Buffer.concat([Buffer.from(line.toString('latin1').toUpperCase(), 'latin1'), NL]));
      });
    });
    const accepted = once(server, 'connection');
    const s = await connect(server.address().port);
    sockets.push(s);
    const [conn] = (await accepted) as [Connection];
    const closing = once(conn, 'close').then(([r]) => r as CloseReason);
    return { server, conn, s, got, client: new LineCollector(s), closing };
  }

  it('echoes lines split across TCP segments, and many lines in one segment', async () => {
    const p = await pair();
    // Split: every piece boundary falls somewhere else in the lines, "\r\n" included.
    const split = Buffer.from('alpha\nbeta\r\ngamma delta\n\r\n' + 'x'.repeat(3000) + '\r\nend\n');
    await writeInPieces(p.s, split, [1, 2, 3, 5, 7, 11, 1024]);
    const want = ['alpha', 'beta', 'gamma delta', '', 'x'.repeat(3000), 'end'];
    await p.client.wait(want.length);
    assert.deepEqual(p.got.map((b) => b.toString()), want);
    assert.deepEqual(p.client.lines, want.map((l) => l.toUpperCase()));
    // Many lines in one write: 2000 lines of varied length, in order.
    const many = Array.from({ length: 2000 }, (_, i) => `line ${i} ` + 'z'.repeat(i % 97));
    p.s.write(many.join('\n') + '\n');
    await p.client.wait(want.length + many.length);
    assert.deepEqual(p.got.slice(want.length).map((b) => b.toString()), many);
    assert.deepEqual(p.client.lines.slice(want.length), many.map((l) => l.toUpperCase()));
    await until(() => p.conn.stats().messagesIn === want.length + many.length, 'every line counted as one message');
  });

  it('strips "\\n" and "\\r\\n", keeps a lone "\\r", and delivers empty lines', async () => {
    const p = await pair();
    p.s.write('a\r\nb\n\r\n\nc\rd\n\r\r\n');
    await p.client.wait(6);
    assert.deepEqual(p.got.map((b) => b.toString()), ['a', 'b', '', '', 'c\rd', '\r']);
  });

  it('delivers bytes as they are, and a line is a Buffer over ring memory of exactly its bytes', async () => {
    const p = await pair();
    const body = Buffer.from(pattern(5000, 9).map((b) => (b === 10 || b === 13 ? 11 : b)));
    let seen: Buffer | null = null;
    p.conn.on('line', (line) => {
      assert.ok(Buffer.isBuffer(line));
      seen = Buffer.from(line);
    });
    p.s.write(Buffer.concat([body, NL]));
    await p.client.wait(1);
    assert.ok(seen !== null && (seen as Buffer).equals(body));
  });

  it("emits 'line' on the connection, then on the server with the connection", async () => {
    const p = await pair();
    const order: string[] = [];
    p.conn.on('line', (line) => order.push(`conn:${line.toString()}`));
    p.server.on('line', (conn, line) => {
      assert.equal(conn, p.conn);
      order.push(`server:${line.toString()}`);
    });
    p.s.write('one\ntwo\n');
    await p.client.wait(2);
    assert.deepEqual(order, ['conn:one', 'server:one', 'conn:two', 'server:two']);
  });

  describe('maxLineBytes', () => {
    it('accepts a line of exactly maxLineBytes and faults one byte more with EW_EPROTO_LENGTH, after answering the lines before it', async () => {
      const p = await pair({ maxLineBytes: 16 });
      const peerClosed = closed(p.s);
      p.s.write(['ok', 'x'.repeat(16), 'y'.repeat(16) + '\r', 'z'.repeat(17), 'never'].join('\n') + '\n');
      const reason = await p.closing;
      assert.equal(reason.code, 'EW_EPROTO_LENGTH');
      assert.ok(reason.error instanceof ProtocolError);
      await peerClosed;
      assert.deepEqual(p.got.map((b) => b.toString()), ['ok', 'x'.repeat(16), 'y'.repeat(16)]);
      assert.deepEqual(p.client.lines, ['OK', 'X'.repeat(16), 'Y'.repeat(16)], 'the lines before the fault were answered');
      assert.ok(env.rt.stats().some((s) => s.protocolErrors >= 1));
    });

    it('faults an unterminated line as soon as it is too long, but waits for the "\\n" after a "\\r"', async () => {
      const p = await pair({ maxLineBytes: 16 });
      // 16 bytes and a "\r" may still end as a 16-byte line: it waits.
      await writeInPieces(p.s, Buffer.from('a'.repeat(16) + '\r'), [17]);
      await writeInPieces(p.s, Buffer.from('\n'), [1]);
      await p.client.wait(1);
      assert.deepEqual(p.got.map((b) => b.toString()), ['a'.repeat(16)]);
      // 17 bytes that are not "\r\n"-terminated cannot: closed without waiting for more.
      p.s.write('b'.repeat(17));
      const reason = await p.closing;
      assert.equal(reason.code, 'EW_EPROTO_LENGTH');
      assert.equal(p.got.length, 1);
    });

    it('defaults to 64 KiB', async () => {
      const p = await pair();
      p.s.write('a'.repeat(65536) + '\n' + 'b'.repeat(65537) + '\n');
      const reason = await p.closing;
      assert.equal(reason.code, 'EW_EPROTO_LENGTH');
      assert.deepEqual(p.got.map((b) => b.length), [65536]);
      await p.client.wait(1);
    });

    it('is validated, with the value named, and cannot exceed one in-ring record', async () => {
      const rt = env.rt;
      for (const bad of [0, -1, 1.5, '100', 2 ** 32]) {
        await assert.rejects(rt.listen({ protocol: 'lines', port: 0, maxLineBytes: bad as number }), (e: unknown) => {
          assert.ok(e instanceof InvalidArgumentError && e.code === 'EW_EINVAL', String(e));
          assert.ok(e.message.includes('maxLineBytes') && e.message.includes(JSON.stringify(bad)), e.message);
          return true;
        });
      }
      // The default in ring (4 MiB) carries records of up to 1 MiB - 24 bytes.
      const max = (1 << 20) - 24;
      const ok = await rt.listen({ protocol: 'lines', host: '127.0.0.1', port: 0, maxLineBytes: max });
      await ok.close();
      await assert.rejects(rt.listen({ protocol: 'lines', port: 0, maxLineBytes: max + 1 }), (e: unknown) => e instanceof InvalidArgumentError && e.message.includes(`1..${max}`) && e.message.includes('inRingBytes'));
    });

    it('defaults to what one record carries when the in ring is small', async () => {
      const small = await Runtime.start({ ioThreads: 1, inRingBytes: 4096, logger: { level: 'silent' } });
      try {
        const max = 1024 - 24;
        await assert.rejects(small.listen({ protocol: 'lines', port: 0, maxLineBytes: max + 1 }), InvalidArgumentError);
        const server = await small.listen({ protocol: 'lines', host: '127.0.0.1', port: 0 });
        const lens: number[] = [];
        const accepted = once(server, 'connection');
        server.on('line', (conn, line) => {
          lens.push(line.length);
          conn.write('ok\n');
        });
        const s = await connect(server.address().port);
        const client = new LineCollector(s);
        const [conn] = (await accepted) as [Connection];
        const closing = once(conn, 'close');
        // Lines of every size up to the limit, through a ring of four records: full-ring waits.
        const sizes = [max, 0, 1, max - 1, 500, max];
        s.write(sizes.map((n) => 'q'.repeat(n)).join('\n') + '\n' + 'r'.repeat(max + 1) + '\n');
        const [reason] = (await closing) as [CloseReason];
        assert.equal(reason.code, 'EW_EPROTO_LENGTH');
        assert.deepEqual(lens, sizes);
        assert.equal((await client.wait(sizes.length)).length, sizes.length);
        s.destroy();
      } finally {
        await small.close();
      }
    });
  });

  describe("the peer's FIN", () => {
    it('delivers a last line without terminator, then END; the replies go out before our FIN', async () => {
      const p = await pair();
      const ended = once(p.conn, 'end');
      p.s.end('one\r\ntwo\nthree');
      await ended;
      await closed(p.s);
      assert.deepEqual(p.got.map((b) => b.toString()), ['one', 'two', 'three']);
      assert.deepEqual(p.client.lines, ['ONE', 'TWO', 'THREE']);
      assert.equal((await p.closing).code, 'EW_EOF');
    });

    it('strips a "\\r" that the FIN cut from its "\\n"; a FIN right after a "\\n" adds no line', async () => {
      const p = await pair();
      p.s.end('four\nfive\r');
      await closed(p.s);
      assert.deepEqual(p.got.map((b) => b.toString()), ['four', 'five']);
      const q = await pair();
      q.s.end('six\n');
      await closed(q.s);
      assert.deepEqual(q.got.map((b) => b.toString()), ['six']);
    });

    it('a line begun and not finished is closed at partialFrameTimeoutMs (EW_ETIMEOUT_PARTIAL)', async () => {
      const p = await pair({ limits: { partialFrameTimeoutMs: 300 } });
      p.s.write('complete\n');
      await p.client.wait(1);
      p.s.write('incompl');
      const reason = await p.closing;
      assert.equal(reason.code, 'EW_ETIMEOUT_PARTIAL');
      assert.ok(reason.error instanceof TimeoutError);
      assert.equal(p.server.stats().timeouts.partialFrame, 1);
      assert.deepEqual(p.got.map((b) => b.toString()), ['complete']);
    });
  });

  it('counts each line as one message against maxMessagesPerWindow: the kick comes after the answers within the limit', async () => {
    const p = await pair({ limits: { maxMessagesPerWindow: 10, windowMs: 60000 } });
    const kicked = once(p.conn, 'kicked');
    const peerClosed = closed(p.s);
    p.s.write(Array.from({ length: 25 }, (_, i) => `m${i}`).join('\n') + '\n');
    const [info] = (await kicked) as [KickInfo];
    assert.equal(info.what, 'messages');
    assert.equal(info.messages, 10);
    assert.equal(info.limit, 10);
    const reason = await p.closing;
    assert.equal(reason.code, 'EW_EFLOOD');
    assert.ok(reason.error instanceof LimitError);
    await peerClosed;
    assert.deepEqual(p.got.map((b) => b.toString()), Array.from({ length: 10 }, (_, i) => `m${i}`));
    assert.equal(p.client.lines.length, 10, 'the ten lines within the limit were answered');
    assert.equal(p.conn.stats().messagesIn, 10);
    assert.equal(p.server.stats().kicks.messages, 1);
  });

  it('writes with write(); send() and typed handlers are refused', async () => {
    const p = await pair();
    assert.equal(p.server.protocol, 'lines');
    assert.throws(() => p.conn.send(1, 'x'), (e: unknown) => e instanceof EvwireError && e.code === 'EW_EINVAL');
    assert.throws(() => p.server.handle({ typeId: 1 } as never, () => {}), InvalidArgumentError);
    assert.equal(p.conn.write('hello\n'), true);
    assert.deepEqual(await p.client.wait(1), ['hello']);
  });

  it('serves lines on work threads (the registry makes each thread its own LinesServer view)', async () => {
    const module = path.join(__dirname, 'fixtures', 'work-thread.js');
    const rt = await Runtime.start({ ioThreads: 1, logger: { level: 'silent' }, workers: { count: 2, module, logger: { level: 'silent' } } });
    try {
      const server = await rt.listen({ protocol: 'lines', host: '127.0.0.1', port: 0, maxLineBytes: 100 });
      const threads = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const s = await connect(server.address().port);
        sockets.push(s);
        const client = new LineCollector(s);
        s.write(`hello ${i}\r\nbye ${i}`);
        s.end();
        const [a, b] = await client.wait(2);
        const [thread, ...rest] = a.split(' ');
        assert.ok(thread === '1' || thread === '2', a);
        assert.equal(rest.join(' '), `hello ${i}`);
        assert.equal(b, `${thread} bye ${i}`);
        threads.add(thread);
      }
      assert.equal(threads.size, 2, 'both work threads served connections');
    } finally {
      await rt.close({ drainTimeoutMs: 300 });
    }
  });

  it('holds the lines that arrive while paused and delivers them in order after resume()', async () => {
    const p = await pair();
    let paused = false;
    p.conn.on('line', () => {
      if (paused) return;
      paused = true;
      p.conn.pause();
      setImmediate(() => {
        assert.equal(p.got.length, 1, "no 'line' while paused");
        p.conn.resume();
      });
    });
    p.s.write('p1\np2\np3\n');
    await p.client.wait(3);
    assert.deepEqual(p.got.map((b) => b.toString()), ['p1', 'p2', 'p3']);
  });
});
