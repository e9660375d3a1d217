// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { execFile } from 'child_process';
import { once } from 'events';
import * as net from 'net';
import { promisify } from 'util';
import { type HttpListenOptions, type HttpServer } from '../dist/index';
import { useRuntime } from './helpers';
import { ResponseReader } from './http-reader';

const run = promisify(execFile);

describe('http', function () {
  const env = useRuntime({ ioThreads: 2, logger: { level: 'silent' } });
  const sockets = env.sockets;

  async function serve(opts: Partial<HttpListenOptions> = {}): Promise<{ server: HttpServer; port: number }> {
    const server = await env.rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0, ...opts });
    server.get('/hello', (_req, res) => res.end('Hello, World!'));
    server.post('/users/:id', async (req, res) => {
      const body = await req.json<{ name: string }>();
      res.status(201).json({ id: req.params.id, name: body.name, q: req.query.get('q') });
    });
    server.post('/echo', async (req, res) => res.setHeader('Content-Type', 'application/octet-stream').end(await req.body()));
    return { server, port: server.address().port };
  }

  async function raw(port: number): Promise<{ s: net.Socket; r: ResponseReader }> {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    s.on('error', () => undefined);
    sockets.push(s);
    return { s, r: new ResponseReader(s) };
  }

  it('answers curl, and keeps the connection alive across many requests', async () => {
    const { port } = await serve();
    const urls = Array.from({ length: 20 }, () => `http://127.0.0.1:${port}/hello`);
    const { stdout } = await run('curl', ['-s', '-w', '%{http_code} %{num_connects}\\n', ...urls]);
    const lines = stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, 20);
    lines.forEach((l, i) => assert.equal(l, `Hello, World!200 ${i === 0 ? 1 : 0}`, `request ${i}`));
  });

  it('routes with :params, the query string and a JSON body; 404 otherwise', async () => {
    const { port } = await serve();
    const { stdout } = await run('curl', ['-s', '-X', 'POST', '-H', 'Content-Type: application/json', '-d', '{"name":"ada"}', '-w', ' %{http_code}', `http://127.0.0.1:${port}/users/42?q=x%20y`]);
    assert.equal(stdout, '{"id":"42","name":"ada","q":"x y"} 201');
    const nf = await run('curl', ['-s', '-w', ' %{http_code}', `http://127.0.0.1:${port}/nope`]);
    assert.equal(nf.stdout, 'Not Found 404');
  });

  it('answers 10 pipelined requests sent in one write, in order', async () => {
    const { server, port } = await serve();
    server.get('/n/:i', (req, res) => res.end(`n=${req.params.i}`));
    const { s, r } = await raw(port);
    s.write(Array.from({ length: 10 }, (_, i) => `GET /n/${i} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
    const got = await r.wait(10);
    got.forEach((g, i) => {
      assert.equal(g.status, 200);
      assert.equal(g.body.toString(), `n=${i}`);
    });
  });

  it('keeps request order when async handlers finish out of order', async () => {
    const { server, port } = await serve();
    server.get('/slow/:ms', async (req, res) => {
      await new Promise((r) => setTimeout(r, Number(req.params.ms)));
      res.end(req.params.ms);
    });
    const { s, r } = await raw(port);
    const delays = [60, 5, 30, 0, 15];
    s.write(delays.map((d) => `GET /slow/${d} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''));
    const got = await r.wait(5);
    assert.deepEqual(
      got.map((g) => g.body.toString()),
      delays.map(String),
    );
  });

  it('receives chunked uploads', async () => {
    const { port } = await serve();
    const { s, r } = await raw(port);
    s.write('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (const part of ['hello ', 'chunked ', 'world']) s.write(`${part.length.toString(16)}\r\n${part}\r\n`);
    s.write('0\r\n\r\n');
    const [res] = await r.wait(1);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello chunked world');
  });

  it('sends 100 Continue before the body when asked, and 413 without reading a body that is too big', async () => {
    const { port } = await serve({ maxBodyBytes: 1000 });
    const { s, r } = await raw(port);
    s.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    const [cont] = await r.wait(1);
    assert.equal(cont.status, 100);
    s.write('abcde');
    const got = await r.wait(2);
    assert.equal(got[1].status, 200);
    assert.equal(got[1].body.toString(), 'abcde');
    const b = await raw(port);
    b.s.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n');
    const [big] = await b.r.wait(1);
    assert.equal(big.status, 413);
    assert.equal(big.headers.connection, 'close');
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const { port } = await serve();
    const { s } = await raw(port);
    const r = new ResponseReader(s, ['HEAD', 'GET']);
    s.write('HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    const got = await r.wait(2);
    assert.equal(got[0].status, 200);
    assert.equal(got[0].headers['content-length'], '13');
    assert.equal(got[0].body.length, 0);
    assert.equal(got[1].body.toString(), 'Hello, World!');
    assert.ok(got[0].headers.date, 'a Date header');
  });

  it('answers every limit natively with its status code, then closes', async () => {
    const { port } = await serve({ maxHeaderBytes: 1024, maxHeaders: 10, maxUrlBytes: 100, maxBodyBytes: 100 });
    const cases: [string, number][] = [
      [`GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`, 431],
      [`GET /hello HTTP/1.1\r\n${Array.from({ length: 20 }, (_, i) => `X-${i}: v\r\n`).join('')}\r\n`, 431],
      [`GET /${'u'.repeat(200)} HTTP/1.1\r\nHost: x\r\n\r\n`, 414],
      [`POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n`, 413],
      [`POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n80\r\n${'b'.repeat(128)}\r\n0\r\n\r\n`, 413],
      ['GET /hello HTTP/2.0\r\nHost: x\r\n\r\n', 505],
      ['GET /hello HTTP/1.1\r\nBad Header Name: x\r\n\r\n', 400],
      ['GET /hello HTTP/1.1\r\nHost : x\r\n\r\n', 400],
      ['GARBAGE\r\n\r\n', 400],
      ['GET /hello HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 400],
      ['\x00\x01\x02\x03\r\n\r\n', 400],
    ];
    for (const [bytes, status] of cases) {
      const { s, r } = await raw(port);
      s.write(bytes);
      const [res] = await r.wait(1);
      assert.equal(res.status, status, JSON.stringify(bytes.slice(0, 60)));
      assert.equal(res.headers.connection, 'close');
      await once(s, 'close');
    }
    const g = await raw(port);
    g.s.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await g.r.wait(1))[0].status, 200, 'the server serves on');
  });

  it('answers an error after the pipelined responses before it, in order', async () => {
    const { server, port } = await serve({ maxUrlBytes: 50 });
    server.get('/slow', async (_req, res) => {
      await new Promise((r) => setTimeout(r, 50));
      res.end('slow');
    });
    const { s, r } = await raw(port);
    s.write(`GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /${'x'.repeat(100)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const got = await r.wait(3);
    assert.deepEqual(
      got.map((g) => g.status),
      [200, 200, 414],
    );
    assert.equal(got[0].body.toString(), 'slow');
  });

  it('closes a slowloris at the header timeout (408) while other clients are served', async () => {
    const { port } = await serve({ headerTimeoutMs: 1500 });
    const slow = await raw(port);
    const request = 'GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: yes\r\n\r\n';
    let i = 0;
    const drip = setInterval(() => {
      if (i < request.length && !slow.s.destroyed) slow.s.write(request[i++]);
    }, 500);
    try {
      // Meanwhile a normal client is served many times.
      const fast = await raw(port);
      for (let n = 1; n <= 5; n++) {
        fast.s.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
        assert.equal((await fast.r.wait(n))[n - 1].status, 200);
      }
      const [res] = await slow.r.wait(1);
      assert.equal(res.status, 408);
      await once(slow.s, 'close');
      assert.ok(i < request.length, `closed after ${i} of ${request.length} bytes`);
    } finally {
      clearInterval(drip);
    }
  });

  it('answers 408 when the body stops coming, and closes idle keep-alive connections', async () => {
    const { port } = await serve({ bodyTimeoutMs: 300, keepAliveTimeoutMs: 300 });
    const a = await raw(port);
    a.s.write('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial');
    assert.equal((await a.r.wait(1))[0].status, 408);
    const b = await raw(port);
    b.s.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal((await b.r.wait(1))[0].status, 200);
    await once(b.s, 'close'); // idle after the response: closed by the keep-alive timeout
    assert.equal(b.r.responses.length, 1);
  });

  it('closes after maxRequestsPerConnection with Connection: close; HTTP/1.0 closes unless keep-alive', async () => {
    const { port } = await serve({ maxRequestsPerConnection: 3 });
    const { s, r } = await raw(port);
    s.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(5));
    const got = await r.wait(3);
    await once(s, 'close');
    assert.equal(r.responses.length, 3);
    assert.equal(got[2].headers.connection, 'close');
    assert.equal(got[0].headers.connection, undefined);
    const h10 = await raw(port);
    h10.s.write('GET /hello HTTP/1.0\r\n\r\n');
    assert.equal((await h10.r.wait(1))[0].headers.connection, 'close');
    await once(h10.s, 'close');
    const ka = await raw(port);
    ka.s.write('GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const two = await ka.r.wait(2);
    assert.equal(two[0].headers.connection, 'keep-alive');
  });

  it('streams a chunked response; a client abort sets aborted, fires abort once, and later writes are no-ops', async () => {
    const { server, port } = await serve();
    let aborted: () => void;
    const abortedP = new Promise<void>((r) => (aborted = r));
    let afterAbort: boolean | null = null;
    server.get('/stream', (_req, res) => {
      let n = 0;
      let aborts = 0;
      res.on('abort', () => {
        aborts++;
        afterAbort = res.write('more');
        res.end('and more');
        assert.equal(aborts, 1);
        assert.equal(res.aborted, true);
        aborted();
      });
      const tick = setInterval(() => {
        if (res.aborted) return clearInterval(tick);
        res.write(`chunk ${n++}\n`);
      }, 10);
    });
    const { s, r } = await raw(port);
    s.write('GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    s.destroy();
    await abortedP;
    assert.equal(afterAbort, false);
    void r;
    const { stdout } = await run('curl', ['-s', `http://127.0.0.1:${port}/hello`]);
    assert.equal(stdout, 'Hello, World!');
  });

  it('streams with backpressure: write() returns false and drain follows', async () => {
    const { server, port } = await serve({ highWatermark: 64 << 10, lowWatermark: 16 << 10 });
    const big = Buffer.alloc(32 << 10, 0x61);
    let falses = 0;
    let drains = 0;
    server.get('/big', (_req, res) => {
      let sent = 0;
      const pump = (): void => {
        while (sent < 200) {
          sent++;
          if (!res.write(big)) {
            falses++;
            res.once('drain', () => {
              drains++;
              pump();
            });
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const { s, r } = await raw(port);
    s.pause();
    s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((res) => setTimeout(res, 200));
    s.resume();
    const [res] = await r.wait(1);
    assert.equal(res.body.length, 200 * big.length);
    assert.ok(falses > 0 && drains > 0, `${falses} falses, ${drains} drains`);
  });

  it('a handler that throws gets a 500, and the server keeps serving', async () => {
    const { server, port } = await serve();
    server.get('/boom', () => {
      throw new Error('boom');
    });
    server.get('/async-boom', async () => {
      throw new Error('async boom');
    });
    for (const path of ['/boom', '/async-boom']) {
      const { stdout } = await run('curl', ['-s', '-w', ' %{http_code}', `http://127.0.0.1:${port}${path}`]);
      assert.equal(stdout, 'Internal Server Error 500');
    }
    assert.equal(server.stats().handlerErrors, 2);
    assert.equal((await run('curl', ['-s', `http://127.0.0.1:${port}/hello`])).stdout, 'Hello, World!');
  });

  it('serves 10,000 sequential keep-alive requests on one connection', async function () {
    this.timeout(120_000);
    const { port } = await serve();
    const { s, r } = await raw(port);
    for (let i = 1; i <= 10_000; i++) {
      s.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
      await r.wait(i);
    }
    assert.ok(r.responses.every((x) => x.status === 200 && x.body.toString() === 'Hello, World!'));
    assert.equal(r.closed, false);
  });

  it("listens on 'localhost' and shares the runtime with a TCP server", async () => {
    const http = await env.rt.listen({ protocol: 'http', host: 'localhost', port: 0 });
    http.get('/hello', (_req, res) => res.end('hi'));
    const tcp = await env.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    tcp.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body)));
    const { stdout } = await run('curl', ['-s', `http://localhost:${http.address().port}/hello`]);
    assert.equal(stdout, 'hi');
    const stats = env.rt.stats();
    assert.ok(stats.reduce((a, t) => a + t.httpRequests, 0) >= 1);
  });
});
