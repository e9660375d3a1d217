// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import type * as net from 'net';
import { ProtocolError, SystemError } from '../dist/index';
import { FrameReader, closed, connect, echoServer, frame, header, pattern, type EchoServer } from './helpers';

// Each malformed input closes only its own connection, with the right reason; a well-behaved
// connection on the same IO thread keeps working throughout.
for (const triggering of ['edge', 'level'] as const)
describe(`bad input (${triggering}-triggered)`, function () {
  let es: EchoServer;
  let good: net.Socket;
  let goodReader: FrameReader;
  let goodSeq = 0;
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    es = await echoServer({ ioThreads: 1, triggering }, { maxFrameBytes: 1000 });
    good = await connect(es.port);
    goodReader = new FrameReader(good);
    goodSeq = 0;
    sockets.push(good);
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await es.stop();
  });

  async function goodStillWorks(): Promise<void> {
    goodSeq++;
    good.write(frame(3, pattern(500, goodSeq), goodSeq));
    const got = await goodReader.waitFrames(goodSeq);
    assert.equal(got[goodSeq - 1].seq, goodSeq);
    assert.ok(got[goodSeq - 1].body.equals(pattern(500, goodSeq)));
  }

  async function expectClose(bytes: Buffer, code: string, opts: { endAfter?: boolean; reset?: boolean } = {}): Promise<void> {
    const s = await connect(es.port);
    sockets.push(s);
    const serverClose = es.nextClose();
    const clientClosed = closed(s);
    if (opts.reset) {
      s.write(bytes, () => s.resetAndDestroy());
    } else {
      s.write(bytes);
      if (opts.endAfter) s.end();
    }
    const reason = await serverClose;
    assert.equal(reason.code, code);
    if (code.startsWith('EW_EPROTO')) {
      assert.ok(reason.error instanceof ProtocolError, `${code} is a ProtocolError`);
      assert.equal(reason.error?.code, code);
    }
    await clientClosed;
    await goodStillWorks();
  }

  it('length above maxFrameBytes closes with EW_EPROTO_LENGTH', () => expectClose(header(1001), 'EW_EPROTO_LENGTH'));

  it('a length of 0xffffffff is refused before any body byte is buffered', () =>
    expectClose(Buffer.concat([header(0xffffffff), Buffer.alloc(100)]), 'EW_EPROTO_LENGTH'));

  it('unknown flag bits close with EW_EPROTO_FLAGS', async () => {
    for (const flags of [0x8, 0x100, 0x8000]) await expectClose(header(10, 1, flags), 'EW_EPROTO_FLAGS');
  });

  it('the reserved type 0 closes with EW_EPROTO_TYPE', () => expectClose(frame(0, 'x'), 'EW_EPROTO_TYPE'));

  it('garbage closes the connection', async () => {
    await expectClose(Buffer.from('GET / HTTP/1.1\r\nHost: example\r\n\r\n'), 'EW_EPROTO_LENGTH');
    await expectClose(pattern(4096, 77), 'EW_EPROTO_LENGTH');
  });

  it('complete frames before a bad header are still answered', async () => {
    const s = await connect(es.port);
    sockets.push(s);
    const r = new FrameReader(s);
    const serverClose = es.nextClose();
    s.write(Buffer.concat([frame(1, 'a', 1), frame(2, 'b', 2), header(5000)]));
    assert.equal((await serverClose).code, 'EW_EPROTO_LENGTH');
    await closed(s);
    assert.deepEqual(
      r.frames.map((f) => f.seq),
      [1, 2],
    );
  });

  it('a partial header then FIN closes with EW_EPROTO_TRUNCATED', () =>
    expectClose(header(10).subarray(0, 7), 'EW_EPROTO_TRUNCATED', { endAfter: true }));

  it('a partial body then FIN closes with EW_EPROTO_TRUNCATED', () =>
    expectClose(Buffer.concat([header(100), Buffer.alloc(40)]), 'EW_EPROTO_TRUNCATED', { endAfter: true }));

  it('RST mid-frame closes with EW_ECONNRESET', async () => {
    const s = await connect(es.port);
    sockets.push(s);
    const serverClose = es.nextClose();
    s.write(Buffer.concat([header(900), Buffer.alloc(300)]), () => s.resetAndDestroy());
    const reason = await serverClose;
    assert.equal(reason.code, 'EW_ECONNRESET');
    assert.ok(reason.error instanceof SystemError);
    await goodStillWorks();
  });

  it('a clean FIN between frames is an orderly close (EW_EOF, no error)', async () => {
    const s = await connect(es.port);
    sockets.push(s);
    const r = new FrameReader(s);
    const serverClose = es.nextClose();
    s.end(frame(4, 'bye', 9));
    const reason = await serverClose;
    assert.equal(reason.code, 'EW_EOF');
    assert.equal(reason.error, null);
    await closed(s);
    assert.equal(r.frames.length, 1, 'the reply to the last frame arrives before our FIN is answered');
  });

  it('a storm of malformed connections leaves the server serving', async () => {
    const inputs = [header(5000), header(1, 1, 0x40), frame(0, ''), pattern(64, 3)];
    for (let round = 0; round < 25; round++) {
      const s = await connect(es.port);
      sockets.push(s);
      s.on('error', () => undefined);
      s.write(inputs[round % inputs.length]);
    }
    while (es.closes.length < 25) await es.nextClose();
    assert.ok(es.closes.every((c) => c.reason.code.startsWith('EW_EPROTO')));
    await goodStillWorks();
  });
});
