// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { createHash } from 'crypto';
import { once } from 'events';
import * as http from 'http';
import * as net from 'net';
import { ClosedError, EvwireError, InvalidArgumentError, ProtocolError, SystemError, TimeoutError, type HttpLink, type HttpRequestOptions } from '../dist/index';
import { countFds, until, useRuntime } from './helpers';

// HTTP client links (rt.connect({ protocol: 'http' }), lib/http-client.ts,
// native/core/src/codec_http_client.c) on loopback: against Node's http server, against an
// evwire HTTP server, and against raw net servers that write exact bytes (pipelining, close
// between requests, malformed and oversized responses, a server that never answers).

/** A raw HTTP server: `answer` gets each complete request head (the bytes up to the empty
 * line; these tests send no request bodies to it) with its socket. */
class RawServer {
  readonly server: net.Server;
  readonly sockets = new Set<net.Socket>();
  readonly requests: string[] = [];
  accepted = 0;
  port = 0;

  constructor(answer: (s: net.Socket, head: string, index: number) => void) {
    this.server = net.createServer((s) => {
      this.accepted++;
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => undefined);
      let buf = '';
      s.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        for (let end = buf.indexOf('\r\n\r\n'); end >= 0; end = buf.indexOf('\r\n\r\n')) {
          const head = buf.slice(0, end + 4);
          buf = buf.slice(end + 4);
          this.requests.push(head);
          answer(s, head, this.requests.length - 1);
        }
      });
    });
  }

  async start(port = this.port): Promise<this> {
    this.server.listen(port, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

describe('HTTP client links (rt.connect protocol http)', function () {
  this.timeout(60000);
  const ctx = useRuntime({ ioThreads: 2, logger: { level: 'silent' } });
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function nodeServer(handler: http.RequestListener): Promise<{ server: http.Server; port: number; connections: () => number }> {
    const server = http.createServer(handler);
    let connections = 0;
    server.on('connection', () => connections++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(() => {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    });
    return { server, port: (server.address() as net.AddressInfo).port, connections: () => connections };
  }

  async function raw(answer: (s: net.Socket, head: string, index: number) => void): Promise<RawServer> {
    const r = await new RawServer(answer).start();
    cleanup.push(() => r.stop());
    return r;
  }

  async function connect(port: number, opts: Record<string, unknown> = {}): Promise<HttpLink> {
    const api = await ctx.rt.connect({ protocol: 'http', host: '127.0.0.1', port, ...opts });
    cleanup.push(() => api.destroy());
    return api;
  }

  it("keeps one connection alive for many requests to Node's http server: methods, headers, bodies, JSON", async () => {
    const seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
    const node = await nodeServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
        if (req.url === '/text') return void res.end('not json');
        res.setHeader('content-type', 'application/json');
        res.setHeader('set-cookie', ['a=1', 'b=2']);
        res.end(JSON.stringify({ method: req.method, url: req.url, body }));
      });
    });
    const api = await connect(node.port);
    assert.equal(api.protocol, 'http');
    assert.equal(api.connected, true);
    for (let i = 0; i < 20; i++) {
      const res = await api.request({ method: 'POST', path: `/users/${i}?x=1`, headers: { 'content-type': 'application/json', 'X-Trace': ['t1', 't2'] }, body: JSON.stringify({ i }) });
      assert.equal(res.status, 200);
      assert.equal(res.statusMessage, 'OK');
      assert.equal(res.httpVersion, '1.1');
      assert.equal(res.headers['content-type'], 'application/json');
      assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
      assert.equal(res.header('Content-Type'), 'application/json');
      assert.deepEqual(await res.json(), { method: 'POST', url: `/users/${i}?x=1`, body: `{"i":${i}}` });
    }
    const get = await api.request({ path: '/plain' });
    assert.equal(get.text(), '{"method":"GET","url":"/plain","body":""}');
    assert.ok(Buffer.isBuffer(get.body));
    const text = await api.request({ path: '/text' });
    assert.equal(text.text(), 'not json');
    await assert.rejects(text.json(), (e: EvwireError) => e instanceof ProtocolError && e.code === 'EW_EPROTO_DECODE');
    assert.equal(node.connections(), 1, 'one connection for every request');
    assert.equal(seen[0].headers.host, `127.0.0.1:${node.port}`);
    assert.equal(seen[0].headers['content-length'], '7');
    assert.equal(seen[0].headers['x-trace'], 't1, t2');
    assert.equal(seen[20].headers['content-length'], undefined, 'a GET without body has no Content-Length');
    const st = api.stats();
    assert.equal(st.requests, 22);
    assert.equal(st.responses, 22);
    assert.equal(st.connects, 1);
    assert.equal(st.inFlight, 0);
  });

  it('keeps one connection alive against an evwire HTTP server; HEAD, 204 and 304 have no body', async () => {
    const server = await ctx.rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    let connections = 0;
    server.on('connection', () => connections++);
    server.post('/users/:id', async (req, res) => res.json({ id: req.params.id, got: await req.json() }));
    server.get('/hello', (_req, res) => res.end('hello'));
    server.get('/empty', (_req, res) => res.status(204).end());
    server.get('/cached', (_req, res) => res.status(304).end());
    cleanup.push(() => server.close());
    const api = await connect(server.address().port);
    for (let i = 0; i < 10; i++) {
      const res = await api.request({ method: 'POST', path: `/users/${i}`, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: i }) });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { id: String(i), got: { n: i } });
    }
    const head = await api.request({ method: 'HEAD', path: '/hello' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], '5');
    assert.equal(head.body.length, 0);
    assert.equal((await api.request({ path: '/hello' })).text(), 'hello');
    assert.equal((await api.request({ path: '/empty' })).status, 204);
    assert.equal((await api.request({ path: '/cached' })).status, 304);
    assert.equal((await api.request({ path: '/nowhere' })).status, 404);
    assert.equal(connections, 1);
  });

  it('pipelines up to `pipeline` requests, answered in order (a HEAD among them)', async () => {
    // The server answers only once it holds four requests: a client that did not pipeline
    // four would wait here until its request timeout.
    const batches: number[] = [];
    let held: { s: net.Socket; head: string }[] = [];
    const r = await raw((s, head) => {
      held.push({ s, head });
      if (held.length < 4) return;
      batches.push(held.length);
      for (const h of held) {
        const path = h.head.split(' ')[1];
        s.write(h.head.startsWith('HEAD') ? 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n' : ok(`answer ${path}`));
      }
      held = [];
    });
    const api = await connect(r.port, { pipeline: 4, requestTimeoutMs: 10000 });
    const paths = Array.from({ length: 8 }, (_, i) => `/p${i}`);
    const results = await Promise.all(paths.map((p, i) => api.request({ method: i === 2 ? 'HEAD' : 'GET', path: p })));
    assert.deepEqual(batches, [4, 4]);
    results.forEach((res, i) => assert.equal(res.text(), i === 2 ? '' : `answer /p${i}`));
    assert.equal(r.accepted, 1);
    // Without `pipeline`, one request at a time: the same server would never answer.
    const one = await connect(r.port, { requestTimeoutMs: 300 });
    await assert.rejects(one.request({ path: '/alone' }), (e: EvwireError) => e instanceof TimeoutError && e.code === 'EW_ETIMEDOUT');
  });

  it('a server that ends keep-alive: Connection: close, or a close between requests, and the next request goes over a new connection', async () => {
    const node = await nodeServer((_req, res) => {
      res.setHeader('connection', 'close');
      res.end('bye');
    });
    const api = await connect(node.port);
    for (let i = 0; i < 3; i++) assert.equal((await api.request({ path: '/' })).text(), 'bye');
    assert.equal(node.connections(), 3);
    assert.equal(api.stats().connects, 3);

    // No Connection: close, but the server closes each connection after its answer. The body
    // names the request's path: a request written on a connection the server has just ended
    // (before its FIN reached the client) is lost by that server and sent again on a new
    // connection (a GET is idempotent), so the server's own request count is not the client's.
    const r = await raw((s, head) => {
      if (s.writable) s.end(ok(head.split(' ')[1]!.slice(1)));
    });
    const api2 = await connect(r.port);
    for (let i = 0; i < 5; i++) assert.equal((await api2.request({ path: `/r${i}` })).text(), `r${i}`);
    assert.ok(r.accepted >= 5, `a connection per request (${r.accepted})`);
  });

  it('a request written on a connection that then drops: GET goes again once, POST rejects with the close reason', async () => {
    const r = await raw((s) => s.destroy());
    const api = await connect(r.port, { reconnect: { initialDelayMs: 10, maxDelayMs: 10 } });
    await assert.rejects(api.request({ path: '/get' }), (e: EvwireError) => e.code === 'EW_EOF' || e.code === 'EW_ECONNRESET');
    assert.equal(r.requests.length, 2, 'sent twice: the first time and once more');
    await assert.rejects(api.request({ method: 'POST', path: '/post', body: 'x' }), (e: EvwireError) => e.code === 'EW_EOF' || e.code === 'EW_ECONNRESET');
    assert.equal(r.requests.length, 3, 'the POST went once');
    assert.equal(api.stats().retried, 1);
    // retryIdempotent: false: the GET is not sent again either.
    const noRetry = await connect(r.port, { retryIdempotent: false });
    await assert.rejects(noRetry.request({ path: '/get' }));
    assert.equal(r.requests.length, 4);
  });

  it('chunked responses with trailers, Content-Length and close-delimited (HTTP/1.0) bodies, a large body in fragments', async () => {
    const big = Buffer.alloc(3 << 20, 'z');
    const node = await nodeServer((req, res) => {
      if (req.url === '/chunked') {
        res.setHeader('trailer', 'x-sum');
        res.write('abc');
        res.write('def');
        res.addTrailers({ 'x-sum': '6' });
        res.end();
      } else {
        res.end(big);
      }
    });
    const api = await connect(node.port);
    const c = await api.request({ path: '/chunked' });
    assert.equal(c.headers['transfer-encoding'], 'chunked');
    assert.equal(c.text(), 'abcdef');
    assert.deepEqual({ ...c.trailers }, { 'x-sum': '6' });
    const b = await api.request({ path: '/big' });
    assert.equal(b.headers['content-length'], String(big.length));
    assert.ok(b.body.equals(big));

    const r = await raw((s) => s.end('HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end'));
    const api2 = await connect(r.port);
    const res = await api2.request({ path: '/' });
    assert.equal(res.httpVersion, '1.0');
    assert.equal(res.text(), 'to the end');
    assert.equal((await api2.request({ path: '/' })).text(), 'to the end');
  });

  it('large request bodies, pipelined: written under backpressure, each answered in order', async () => {
    const node = await nodeServer((req, res) => {
      const h = createHash('sha256');
      req.on('data', (d: Buffer) => h.update(d));
      req.on('end', () => res.end(`${req.url} ${h.digest('hex')}`));
    });
    const api = await connect(node.port, { pipeline: 8, highWatermark: 64 << 10, lowWatermark: 16 << 10 });
    const bodies = Array.from({ length: 8 }, (_, i) => Buffer.alloc((1 << 20) + i, i + 1));
    const results = await Promise.all(bodies.map((b, i) => api.request({ method: 'PUT', path: `/b${i}`, body: b })));
    results.forEach((res, i) => assert.equal(res.text(), `/b${i} ${createHash('sha256').update(bodies[i]).digest('hex')}`));
    assert.equal(node.connections(), 1);
  });

  it('response limits are enforced natively with typed errors, and the link goes on', async () => {
    let n = 0;
    const r = await raw((s) => {
      n++;
      if (n === 1) s.write(ok('x'.repeat(2000)));
      else if (n === 2) s.write(`HTTP/1.1 200 OK\r\nX-Big: ${'h'.repeat(2000)}\r\nContent-Length: 0\r\n\r\n`);
      else if (n === 3) s.write(`HTTP/1.1 200 OK\r\n${'A: 1\r\n'.repeat(20)}Content-Length: 0\r\n\r\n`);
      else if (n === 4) s.write(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${`400\r\n${'y'.repeat(1024)}\r\n`.repeat(2)}0\r\n\r\n`);
      else s.write(ok('fine'));
    });
    const api = await connect(r.port, { maxBodyBytes: 1500, maxHeaderBytes: 1024, maxHeaders: 10 });
    const code = (c: string) => (e: EvwireError) => e instanceof ProtocolError && e.code === c;
    await assert.rejects(api.request({ path: '/body' }), code('EW_EHTTP_RES_BODY'));
    await assert.rejects(api.request({ path: '/head' }), code('EW_EHTTP_RES_HEADERS'));
    await assert.rejects(api.request({ path: '/fields' }), code('EW_EHTTP_RES_HEADERS'));
    await assert.rejects(api.request({ path: '/chunked' }), code('EW_EHTTP_RES_BODY'));
    assert.equal((await api.request({ path: '/' })).text(), 'fine');
    assert.ok(r.accepted >= 5, 'each refused response closed its connection');
  });

  it('a malformed response rejects with EW_EPROTO_HTTP', async () => {
    const r = await raw((s, _h, i) => s.write(i === 0 ? 'SMTP ready\r\n\r\n' : i === 1 ? 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab' : ok('ok')));
    const api = await connect(r.port);
    await assert.rejects(api.request({ path: '/' }), (e: EvwireError) => e instanceof ProtocolError && e.code === 'EW_EPROTO_HTTP');
    await assert.rejects(api.request({ path: '/' }), (e: EvwireError) => e instanceof ProtocolError && e.code === 'EW_EPROTO_HTTP');
    assert.equal((await api.request({ path: '/' })).text(), 'ok');
  });

  it('a server that never answers: requestTimeoutMs rejects with EW_ETIMEDOUT and closes that connection; the link reconnects', async () => {
    const r = await raw((s, _h, i) => {
      if (i > 0) s.write(ok('late but fine'));
    });
    const api = await connect(r.port, { requestTimeoutMs: 200 });
    const t0 = Date.now();
    await assert.rejects(api.request({ path: '/slow' }), (e: EvwireError) => e instanceof TimeoutError && e.code === 'EW_ETIMEDOUT');
    assert.ok(Date.now() - t0 >= 150);
    await until(() => r.accepted === 2, 'a new connection');
    assert.equal((await api.request({ path: '/' })).text(), 'late but fine');
    // A request's own timeout, and 0 for none.
    await assert.rejects(api.request({ path: '/', timeoutMs: -1 }), InvalidArgumentError);
  });

  it('requests made while the server is down are queued (bounded) and sent after it restarts', async () => {
    const r = await raw((s, _h, i) => s.write(ok(`up ${i}`)));
    const port = r.port;
    const api = await connect(port, { reconnect: { initialDelayMs: 20, maxDelayMs: 50 }, queueWhileDisconnected: 300 });
    assert.equal((await api.request({ path: '/' })).text(), 'up 0');
    await r.stop();
    await until(() => !api.connected, 'the link sees the server gone');
    const queued = [api.request({ path: '/q1' }), api.request({ path: '/q2' })];
    await assert.rejects(api.request({ path: '/x'.repeat(200) }), (e: EvwireError) => e instanceof SystemError && e.code === 'EW_ENOBUFS');
    assert.equal(api.stats().queueRefused, 1);
    assert.equal(api.stats().queued, 2);
    const again = await new RawServer((s, _h, i) => s.write(ok(`again ${i}`))).start(port);
    cleanup.push(() => again.stop());
    const texts = (await Promise.all(queued)).map((res) => res.text());
    assert.deepEqual(texts, ['again 0', 'again 1']);
    assert.deepEqual(again.requests.map((h) => h.split(' ')[1]), ['/q1', '/q2']);
  });

  it('close() answers what was asked, then closes; rt.close() with requests in flight rejects them with EW_ESHUTDOWN', async () => {
    const before = countFds();
    let hold: net.Socket | null = null;
    const r = await raw((s, head) => {
      if (head.includes('/hang')) return;
      if (head.includes('/slow')) hold = s;
      else s.write(ok('quick'));
    });
    const api = await connect(r.port);
    const slow = api.request({ path: '/slow' });
    await until(() => hold !== null, 'the request arrives');
    const closing = api.close();
    await assert.rejects(api.request({ path: '/late' }), (e: EvwireError) => e instanceof ClosedError && e.code === 'EW_ECLOSED');
    hold!.write(ok('slow but answered'));
    assert.equal((await slow).text(), 'slow but answered');
    await closing;
    assert.equal(api.closed, true);

    const api2 = await ctx.rt.connect({ protocol: 'http', host: '127.0.0.1', port: r.port, pipeline: 2 });
    const inflight = [api2.request({ path: '/hang' }), api2.request({ path: '/hang' })].map((p) => p.then(() => null, (e: EvwireError) => e));
    await until(() => r.requests.filter((h) => h.includes('/hang')).length === 2, 'both requests arrive');
    const closed = once(api2, 'close');
    await ctx.rt.close();
    await closed;
    for (const e of await Promise.all(inflight)) {
      assert.ok(e instanceof ClosedError, String(e));
      assert.equal(e.code, 'EW_ESHUTDOWN');
    }
    await r.stop();
    await until(() => countFds() <= before + 1, `descriptors back to ${before} (now ${countFds()})`);
  });

  it('validates requests before anything is sent: no header or request-line injection', async () => {
    const r = await raw((s) => s.write(ok('ok')));
    const api = await connect(r.port);
    const bad: HttpRequestOptions[] = [
      { headers: { 'x-a': 'v\r\nInjected: 1' } },
      { headers: { 'x-a': 'v\nInjected: 1' } },
      { headers: { 'bad name': 'v' } },
      { headers: { 'x-a\r\nInjected': 'v' } },
      { path: '/a b' },
      { path: '/a\r\nInjected: 1' },
      { path: '' },
      { method: 'GET /x HTTP/1.1\r\n' },
      { method: 'CONNECT' },
      { headers: { 'transfer-encoding': 'chunked' } },
      { headers: { upgrade: 'websocket' } },
      { headers: { 'content-length': '5' }, body: 'abc' },
      { body: 42 as unknown as string },
    ];
    for (const b of bad) await assert.rejects(api.request(b), (e: EvwireError) => e instanceof InvalidArgumentError, JSON.stringify(b));
    assert.equal((await api.request({ headers: { 'content-length': '3' }, body: 'abc', method: 'PUT' })).text(), 'ok');
    assert.deepEqual(r.requests.length, 1, 'only the valid request was sent');
    await assert.rejects(ctx.rt.connect({ protocol: 'http', host: '127.0.0.1', port: r.port, pipeline: 0 }), InvalidArgumentError);
    await assert.rejects(ctx.rt.connect({ protocol: 'http', host: '127.0.0.1', port: r.port, maxHeaderBytes: 10 }), InvalidArgumentError);
    await assert.rejects(ctx.rt.connect({ protocol: 'http', host: '127.0.0.1', port: r.port, requestTimeoutMs: -5 }), InvalidArgumentError);
  });
});
