// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// Regression tests for the hostile-input probe (issue "HTTP and handler hardening"): each sends
// exact bytes on a real socket and failed before its fix.
import { strict as assert } from 'assert';
import { once } from 'events';
import * as net from 'net';
import { type Connection, type HttpListenOptions, type HttpRequest, type HttpResponse, type HttpServer } from '../dist/index';
import { closed, countFds, frame, FrameReader, until, useRuntime } from './helpers';
import { ResponseReader } from './http-reader';

describe('http hardening', function () {
  const env = useRuntime({ ioThreads: 2, logger: { level: 'silent' } });
  const sockets = env.sockets;

  async function serve(opts: Partial<HttpListenOptions> = {}): Promise<{ server: HttpServer; port: number; seen: string[] }> {
    const server = await env.rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0, ...opts });
    const seen: string[] = [];
    server.fallback((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end(`${req.method} ${req.url}`);
    });
    return { server, port: server.address().port, seen };
  }

  async function raw(port: number): Promise<{ s: net.Socket; r: ResponseReader }> {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    s.on('error', () => undefined);
    sockets.push(s);
    return { s, r: new ResponseReader(s) };
  }

  /** A framed TCP client of `port`, reading the frames it gets. */
  async function framed(port: number): Promise<{ s: net.Socket; r: FrameReader }> {
    const s = net.connect(port, '127.0.0.1');
    sockets.push(s);
    const r = new FrameReader(s);
    await once(s, 'connect');
    return { s, r };
  }

  /** Sends `bytes` on a new connection; resolves with every response and whether the server
   * closed the connection. */
  async function exchange(port: number, bytes: string | Buffer, n: number): Promise<{ got: Awaited<ReturnType<ResponseReader['wait']>>; r: ResponseReader; s: net.Socket }> {
    const { s, r } = await raw(port);
    s.write(bytes);
    const got = await r.wait(n);
    return { got, r, s };
  }

  async function rejected(port: number, bytes: string | Buffer, status = 400): Promise<void> {
    const { got, s } = await exchange(port, bytes, 1);
    assert.equal(got[0].status, status, JSON.stringify(bytes.toString().slice(0, 80)));
    await closed(s);
  }

  it('10,000 Connection: close and HTTP/1.0 requests leave descriptors and connections where they started', async function () {
    this.timeout(120000);
    const { server, port } = await serve();
    const fds = countFds();
    const one = async (i: number): Promise<void> => {
      const s = net.connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      const r = new ResponseReader(s);
      await once(s, 'connect');
      s.write(i % 2 === 0 ? 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' : 'GET / HTTP/1.0\r\n\r\n');
      const [res] = await r.wait(1);
      assert.equal(res.status, 200);
      await once(s, 'end'); // the server ends first
      s.end();
      await once(s, 'close');
    };
    const total = 10000;
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < total) await one(next++);
    }));
    await until(() => server.stats().connections === 0 && countFds() <= fds, `connections ${server.stats().connections}, fds ${countFds()} (started at ${fds})`);
    assert.equal(server.stats().accepted, total);
  });

  it('closes a Connection: close connection whose client never closes, after a bounded linger', async function () {
    this.timeout(20000);
    const { server, port } = await serve();
    // allowHalfOpen: the client does not answer the server's FIN with its own.
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('error', () => undefined);
    sockets.push(s);
    const r = new ResponseReader(s);
    await once(s, 'connect');
    s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await r.wait(1))[0].status, 200);
    await once(s, 'end');
    // The client keeps its side open and says nothing more: the server still lets go.
    await until(() => server.stats().connections === 0, 'the lingering connection to close', 15000);
    assert.equal(r.responses.length, 1);
  });

  it('refuses obs-fold (request smuggling through a folded Content-Length or Transfer-Encoding) with 400', async () => {
    const { port, seen } = await serve();
    await rejected(port, 'POST /sp HTTP/1.1\r\nHost: x\r\n Content-Length: 30\r\n\r\nGET /smug HTTP/1.1\r\nHost: x\r\n\r\n');
    await rejected(port, 'POST /sp HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\nGET /smug HTTP/1.1\r\nHost: x\r\n\r\n');
    await rejected(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\tcontinued\r\n\r\n');
    assert.deepEqual(seen, []);
  });

  it('delivers a chunked body and its trailers apart: no corruption, no injected header', async () => {
    const server = await env.rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    const got: { body: string; headers: string[]; trailers: Record<string, string | string[]> }[] = [];
    server.post('/t', async (req, res) => {
      got.push({ body: (await req.body()).toString('latin1'), headers: req.rawHeaders, trailers: req.trailers });
      res.end('ok');
    });
    const port = server.address().port;
    const crafted = 'x\r\nx-admin: true\r\nInjected: CRLF';
    const { got: res } = await exchange(
      port,
      'POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n' +
        `POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${crafted.length.toString(16)}\r\n${crafted}\r\n0\r\nX-Admin: true\r\n\r\n` +
        'POST /t HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi',
      3,
    );
    assert.deepEqual(res.map((x) => x.status), [200, 200, 200]);
    assert.deepEqual(got[0], { body: 'hello', headers: ['host', 'x', 'transfer-encoding', 'chunked'], trailers: Object.assign(Object.create(null), { 'x-t': '1' }) });
    assert.equal(got[1].body, crafted);
    assert.deepEqual(got[1].headers, ['host', 'x', 'transfer-encoding', 'chunked']);
    assert.deepEqual({ ...got[1].trailers }, { 'x-admin': 'true' });
    assert.deepEqual(got[2], { body: 'hi', headers: ['host', 'x', 'content-length', '2'], trailers: Object.create(null) });
  });

  it('trims whitespace around header values and serves only HTTP methods (no RTSP or ICE request lines)', async () => {
    const server = await env.rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    let value: string | undefined;
    server.get('/v', (req, res) => {
      value = req.header('x-a');
      res.end('ok');
    });
    const port = server.address().port;
    const { got } = await exchange(port, 'GET /v HTTP/1.1\r\nHost: x\r\nX-A: \t v 1 \t \r\n\r\n', 1);
    assert.equal(got[0].status, 200);
    assert.equal(value, 'v 1');
    await rejected(port, 'DESCRIBE /v HTTP/1.1\r\nHost: x\r\n\r\n', 400);
    // A request line must end in HTTP/x.y: llhttp also parses RTSP and ICE (SHOUTcast) ones.
    for (const line of ['DESCRIBE rtsp://x/v RTSP/1.0', 'GET /v RTSP/1.0', 'OPTIONS * RTSP/1.0', 'SOURCE /v ICE/1.0', 'GET /vHTTP/1.1', 'GET /v http/1.1']) {
      await rejected(port, `${line}\r\nHost: x\r\n\r\n`, 400);
    }
    const ok = await exchange(port, 'GET /v HTTP/1.0\r\n\r\n', 1);
    assert.equal(ok.got[0].status, 200);
  });

  it('decides persistence from the Connection options as the handler sees them (RFC 9112 9.3)', async () => {
    const { port, seen } = await serve();
    // Closed after the response, with Connection: close, and the pipelined request not served.
    for (const [version, value] of [
      ['1.1', 'close\t'],
      ['1.1', 'foo, CLOSE'],
      ['1.1', ' keep-alive ,close '],
      ['1.0', 'keep-alive, close'],
      ['1.0', 'upgrade'],
      ['1.0', ''],
    ]) {
      seen.length = 0;
      const conn = value === '' ? '' : `Connection: ${value}\r\n`;
      const { got, r, s } = await exchange(port, `GET /a HTTP/${version}\r\nHost: x\r\n${conn}\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n`, 1);
      assert.equal(got[0].status, 200);
      assert.equal(got[0].headers.connection, 'close', `${version} ${JSON.stringify(value)}`);
      await closed(s);
      assert.equal(r.responses.length, 1);
      assert.deepEqual(seen, ['GET /a'], `${version} ${JSON.stringify(value)}`);
    }
    // Kept: the pipelined request is served on the same connection.
    for (const [version, value] of [
      ['1.0', 'keep-alive\t'],
      ['1.0', 'foo , Keep-Alive'],
      ['1.1', 'keep-alive'],
      ['1.1', 'closed, x-close'],
    ]) {
      seen.length = 0;
      const { got, r } = await exchange(port, `GET /a HTTP/${version}\r\nHost: x\r\nConnection: ${value}\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n`, 2);
      assert.deepEqual(got.map((x) => x.status), [200, 200], `${version} ${JSON.stringify(value)}`);
      assert.notEqual(got[0].headers.connection, 'close');
      assert.equal(r.closed, false);
      assert.deepEqual(seen, ['GET /a', 'GET /b']);
    }
  });

  it('counts every byte of a request head against maxHeaderBytes, the whitespace llhttp skips too', async () => {
    const { port, seen } = await serve({ maxHeaderBytes: 1024 });
    await rejected(port, `GET / HTTP/1.1\r\nHost: x\r\nX:${' '.repeat(2000)}a\r\n\r\n`, 431);
    await rejected(port, `GET / HTTP/1.1\r\nHost: x\r\nX: a${' '.repeat(2000)}\r\n\r\n`, 431);
    await rejected(port, `GET${' '.repeat(2000)}/ HTTP/1.1\r\nHost: x\r\n\r\n`, 431);
    await rejected(port, `${'\r\n'.repeat(600)}GET / HTTP/1.1\r\nHost: x\r\n\r\n`, 431);
    assert.deepEqual(seen, []);
    // The limit is the head's size, line ends included: 1024 bytes pass, 1025 do not, and
    // neither depends on how the bytes arrive.
    const head = (n: number): string => {
      const base = 'GET /h HTTP/1.1\r\nHost: x\r\nX-Pad: \r\n\r\n';
      return base.replace('X-Pad: ', `X-Pad: ${'p'.repeat(n - base.length)}`);
    };
    assert.equal(head(1024).length, 1024);
    const one = await exchange(port, head(1024), 1);
    assert.equal(one.got[0].status, 200);
    await rejected(port, head(1025), 431);
    const { s, r } = await raw(port);
    for (const ch of head(1024) + head(1024)) s.write(ch);
    assert.deepEqual((await r.wait(2)).map((x) => x.status), [200, 200]);
    // Each request of a connection has the whole limit: pipelined heads do not add up.
    const many = await exchange(port, head(1000).repeat(5), 5);
    assert.deepEqual(many.got.map((x) => x.status), [200, 200, 200, 200, 200]);
  });

  it('answers 400 for trailers that would frame or route the message', async () => {
    const { port, seen } = await serve();
    for (const t of ['Content-Length: 5', 'Transfer-Encoding: chunked', 'Host: evil']) {
      await rejected(port, `POST /t HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n${t}\r\n\r\n`);
    }
    assert.deepEqual(seen, []);
  });

  it('is as strict as Node: chunk extensions, empty names, bare LF, Host, HTTP/1.0 chunked, CL with TE', async () => {
    const { port, seen } = await serve();
    const ext = `;${'e'.repeat(20000)}`;
    await rejected(port, `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1${ext}\r\na\r\n0\r\n\r\n`, 413);
    await rejected(port, 'GET / HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n');
    await rejected(port, 'GET / HTTP/1.1\nHost: x\r\n\r\n');
    await rejected(port, 'GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n');
    await rejected(port, 'GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n');
    await rejected(port, 'GET / HTTP/1.1\r\n\r\n');
    await rejected(port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    await rejected(port, 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n');
    await rejected(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    await rejected(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na');
    await rejected(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n');
    // The last Transfer-Encoding line must itself end in chunked: after an empty line llhttp
    // still frames chunked, where a proxy reading the last line would not (fuzzing finding 6).
    await rejected(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: \r\n\r\n0\r\n\r\n');
    await rejected(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\t\r\n\r\n0\r\n\r\n');
    await rejected(port, 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n');
    assert.deepEqual(seen, []);
    // What stays legal: HTTP/1.0 without Host, small extensions, empty lines before a request.
    const ok = await exchange(port, 'GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;name=v\r\na\r\n0\r\n\r\n', 2);
    assert.deepEqual(ok.got.map((x) => x.status), [200, 200]);
    assert.deepEqual(seen, ['GET /a', 'POST /b']);
    // Codings split over lines, the chunked one last, stay legal (RFC 9110 5.3).
    const split = await exchange(port, 'POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked \r\n\r\n1\r\na\r\n0\r\n\r\n', 1);
    assert.deepEqual(split.got.map((x) => x.status), [200]);
    assert.deepEqual(seen, ['GET /a', 'POST /b', 'POST /c']);
  });

  it('serves a request that asks for an Upgrade (h2c, websocket) as plain HTTP/1.1 and keeps the connection', async () => {
    const { port, seen } = await serve();
    const { got, r } = await exchange(
      port,
      'GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n' +
        'GET /v HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /w HTTP/1.1\r\nHost: x\r\n\r\n',
      3,
    );
    assert.deepEqual(got.map((x) => x.status), [200, 200, 200]);
    assert.deepEqual(seen, ['GET /u', 'GET /v', 'GET /w']);
    assert.equal(r.closed, false);
    await rejected(port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 501);
  });

  describe('responses that cannot lie', () => {
    let server: HttpServer;
    let port: number;
    const errors: unknown[] = [];

    beforeEach(async () => {
      errors.length = 0;
      server = await env.rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
      port = server.address().port;
      server.get('/next', (_req, res) => res.end('next'));
    });

    it('a body longer than its Content-Length throws and sends nothing of it', async () => {
      server.get('/cl', (_req, res) => {
        res.setHeader('Content-Length', '5');
        try {
          res.end('0123456789');
        } catch (err) {
          errors.push(err);
          res.removeHeader('Content-Length');
          res.end('fixed');
        }
      });
      const { got } = await exchange(port, 'GET /cl HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n', 2);
      assert.deepEqual(got.map((x) => x.body.toString()), ['fixed', 'next']);
      assert.equal((errors[0] as { code: string }).code, 'EW_EINVAL');
      assert.match(String(errors[0]), /Content-Length/);
    });

    it('a streamed body shorter than its Content-Length throws and destroys the connection', async () => {
      server.get('/short', (_req, res) => {
        res.setHeader('Content-Length', '10');
        res.write('abc');
        try {
          res.end();
        } catch (err) {
          errors.push(err);
        }
      });
      const { s } = await raw(port);
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.write('GET /short HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n');
      await closed(s);
      const text = Buffer.concat(chunks).toString();
      assert.match(text, /^HTTP\/1.1 200 OK\r\n/);
      assert.ok(text.endsWith('\r\n\r\nabc'), text);
      assert.equal(errors.length, 1);
    });

    it("a handler's Transfer-Encoding: chunked gets a chunked body, never both framings", async () => {
      server.get('/te', (_req, res) => {
        res.setHeader('Transfer-Encoding', 'chunked');
        res.end('abc');
      });
      server.get('/te-cl', (_req, res) => {
        res.setHeader('Transfer-Encoding', 'chunked').setHeader('Content-Length', '3');
        try {
          res.end('abc');
        } catch (err) {
          errors.push(err);
          res.removeHeader('Content-Length').end('abc');
        }
      });
      const { got } = await exchange(port, 'GET /te HTTP/1.1\r\nHost: x\r\n\r\nGET /te-cl HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n', 3);
      for (const res of got.slice(0, 2)) {
        assert.equal(res.headers['transfer-encoding'], 'chunked');
        assert.equal(res.headers['content-length'], undefined);
        assert.equal(res.body.toString(), 'abc');
      }
      assert.equal(got[2].body.toString(), 'next');
      assert.equal(errors.length, 1);
    });

    it("Connection: close, the handler's or the built-in 500's, closes the connection: the next pipelined request is not served", async () => {
      server.get('/close', (_req, res) => res.setHeader('Connection', 'close').end('bye'));
      server.get('/throw', () => {
        throw new Error('boom');
      });
      let nexts = 0;
      server.get('/count', (_req, res) => {
        nexts++;
        res.end('n');
      });
      for (const path of ['/close', '/throw']) {
        const { got, s, r } = await exchange(port, `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\nGET /count HTTP/1.1\r\nHost: x\r\n\r\n`, 1);
        assert.equal(got[0].headers.connection, 'close');
        await closed(s);
        assert.equal(r.responses.length, 1);
      }
      assert.equal(nexts, 0);
    });

    it('streaming to an HTTP/1.0 keep-alive client delimits the body by closing', async () => {
      server.get('/stream', (_req, res) => {
        res.write('part1,');
        res.end('part2');
      });
      const { s } = await raw(port);
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      s.write('GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      await closed(s);
      const text = Buffer.concat(chunks).toString();
      const [head, body] = text.split('\r\n\r\n');
      assert.doesNotMatch(head, /content-length|transfer-encoding|keep-alive/i);
      assert.match(head, /Connection: close/);
      assert.equal(body, 'part1,part2');
    });
  });

  it('a throw in a TCP message handler reaches uncaughtException, and the rest of the batch is still delivered', async () => {
    const server = await env.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    const seen: number[] = [];
    server.on('connection', (c: Connection) => {
      c.on('message', (m) => {
        seen.push(m.seq);
        if (m.seq === 2) throw new Error('handler bug');
        c.send(1, m.body, { seq: m.seq });
      });
    });
    const mochaHandlers = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const caught: Error[] = [];
    process.on('uncaughtException', (err) => caught.push(err));
    try {
      const { s, r } = await framed(server.address().port);
      s.write(Buffer.concat([1, 2, 3, 4].map((i) => frame(1, 'x', i))));
      await r.waitFrames(3);
      await until(() => caught.length === 1, 'the error to reach uncaughtException');
      assert.deepEqual(seen, [1, 2, 3, 4]);
      assert.deepEqual(r.frames.map((f) => f.seq), [1, 3, 4]);
      assert.equal(caught[0].message, 'handler bug');
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const h of mochaHandlers) process.on('uncaughtException', h);
    }
  });

  it("a pending handler: the client's FIN fires 'abort' and closes; responseTimeoutMs bounds a silent handler", async () => {
    const { server, port } = await serve({ responseTimeoutMs: 300 });
    const pending: { req: HttpRequest; res: HttpResponse; aborted: boolean }[] = [];
    server.get('/never', (req, res) => {
      const p = { req, res, aborted: false };
      res.on('abort', () => (p.aborted = true));
      pending.push(p);
    });
    // A client that half-closes (FIN) while its request is pending.
    const a = await raw(port);
    a.s.write('GET /never HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => pending.length === 1, 'the request');
    a.s.end();
    await until(() => pending[0].aborted, "'abort' after FIN");
    await closed(a.s);
    assert.equal(pending[0].req.aborted, true);
    // A client that stays: the response timeout closes the connection.
    const b = await raw(port);
    b.s.write('GET /never HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed(b.s);
    await until(() => pending.length === 2 && pending[1].aborted, "'abort' after the response timeout");
    await until(() => server.stats().connections === 0, 'no connection left');
  });

  it('a framed send() larger than maxBufferedBytes is refused whole, and the connection goes on', async () => {
    const server = await env.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, highWatermark: 16 << 10, lowWatermark: 4 << 10, maxBufferedBytes: 64 << 10 });
    const errs: unknown[] = [];
    server.on('connection', (c: Connection) => {
      c.on('message', (m) => {
        try {
          c.send(2, Buffer.alloc(256 << 10, 1));
        } catch (err) {
          errs.push(err);
        }
        c.send(1, m.body, { seq: m.seq });
      });
    });
    const { s, r } = await framed(server.address().port);
    s.write(frame(1, 'ping', 7));
    await r.waitFrames(1);
    assert.deepEqual(r.frames.map((f) => [f.type, f.seq, f.body.toString()]), [[1, 7, 'ping']]);
    assert.equal((errs[0] as { code: string }).code, 'EW_EMSGSIZE');
  });

  it('a flood kick flushes the replies to the messages within the limit before it closes', async () => {
    const server = await env.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, limits: { maxMessagesPerWindow: 5, windowMs: 60000 } });
    let handled = 0;
    server.on('connection', (c: Connection) => {
      c.on('message', (m) => {
        handled++;
        assert.equal(c.send(1, m.body, { seq: m.seq }), true);
      });
    });
    const { s, r } = await framed(server.address().port);
    const kicked = once(server, 'kicked');
    s.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => frame(1, `m${i + 1}`, i + 1))));
    await kicked;
    await closed(s);
    assert.equal(handled, 5);
    assert.deepEqual(r.frames.map((f) => f.seq), [1, 2, 3, 4, 5]);
  });

  it('a flood kick on HTTP answers the requests within the limit, then 429', async () => {
    const { port, seen } = await serve({ limits: { maxMessagesPerWindow: 3, windowMs: 60000 } });
    const reqs = Array.from({ length: 6 }, (_, i) => `GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`).join('');
    const { got, s } = await exchange(port, reqs, 4);
    assert.deepEqual(got.map((x) => x.status), [200, 200, 200, 429]);
    assert.deepEqual(seen, ['GET /0', 'GET /1', 'GET /2']);
    await closed(s);
  });
});
