// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Routes next to get/post (head, options, all), fastify-style hooks and their order, and errors
// that carry a client status (req.json() on a body that is not JSON answers 400).
import { strict as assert } from 'assert';
import { once } from 'events';
import * as net from 'net';
import { Writable } from 'stream';
import { InvalidArgumentError, Runtime, createLogger, type HttpServer } from '../dist/index';
import { ResponseReader } from './http-reader';

describe('http routes and hooks', function () {
  let rt: Runtime;
  let logged: Record<string, unknown>[];
  const sockets: net.Socket[] = [];

  beforeEach(async () => {
    logged = [];
    const stream = new Writable({
      write(chunk, _enc, cb) {
        for (const text of chunk.toString().split('\n').filter(Boolean)) logged.push(JSON.parse(text));
        cb();
      },
    });
    rt = await Runtime.start({ ioThreads: 1, logger: createLogger({ level: 'error' }, stream) });
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await rt.close();
  });

  async function serve(): Promise<{ server: HttpServer; port: number }> {
    const server = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    return { server, port: server.address().port };
  }

  /** Sends the requests in one write on one connection and reads as many responses. */
  async function exchange(port: number, requests: string[], methods: string[] = []): Promise<ResponseReader['responses']> {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    s.on('error', () => undefined);
    sockets.push(s);
    const r = new ResponseReader(s, methods);
    s.write(requests.join(''));
    return r.wait(requests.length);
  }

  const req = (method: string, path: string, body = ''): string =>
    `${method} ${path} HTTP/1.1\r\nHost: x\r\n${body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n${body}`;

  it('head(), options() and all(): a route of the request method wins over all()', async () => {
    const { server, port } = await serve();
    server.get('/r', (_q, res) => res.end('get'));
    server.head('/r', (_q, res) => res.setHeader('X-Head', 'own').end());
    server.options('/r', (_q, res) => res.setHeader('Allow', 'GET, HEAD, OPTIONS').end());
    server.all('/r', (q, res) => res.end(`all ${q.method}`));
    server.all('/any/:id', (q, res) => res.end(`any ${q.method} ${q.params.id}`));
    const out = await exchange(
      port,
      [req('GET', '/r'), req('HEAD', '/r'), req('OPTIONS', '/r'), req('DELETE', '/r'), req('PUT', '/any/7'), req('HEAD', '/any/8')],
      ['GET', 'HEAD', 'OPTIONS', 'DELETE', 'PUT', 'HEAD'],
    );
    assert.equal(out[0].body.toString(), 'get');
    assert.equal(out[1].headers['x-head'], 'own');
    assert.equal(out[2].status, 200);
    assert.equal(out[2].headers.allow, 'GET, HEAD, OPTIONS');
    assert.equal(out[3].body.toString(), 'all DELETE');
    assert.equal(out[4].body.toString(), 'any PUT 7');
    assert.equal(out[5].status, 200);
    assert.equal(out[5].headers['content-length'], String('any HEAD 8'.length), 'HEAD through all(): the length of the body it would have');
  });

  it('runs onRequest, preHandler, the route preHandler, the handler, then onResponse, sync and async alike', async () => {
    const { server, port } = await serve();
    const order: string[] = [];
    server.addHook('onRequest', (q) => void order.push(`onRequest ${q.params.id}`));
    server.addHook('preHandler', async () => {
      await new Promise((r) => setImmediate(r));
      order.push('preHandler');
    });
    server.addHook('onResponse', (_q, res) => void order.push(`onResponse ${res.statusCode}`));
    server.get(
      '/u/:id',
      {
        preHandler: [
          () => void order.push('route pre 1'),
          async () => {
            order.push('route pre 2');
          },
        ],
      },
      (q, res) => {
        order.push('handler');
        res.end(`user ${q.params.id}`);
      },
    );
    const [res] = await exchange(port, [req('GET', '/u/5')]);
    assert.equal(res.body.toString(), 'user 5');
    await until(() => order.length === 6);
    assert.deepEqual(order, ['onRequest 5', 'preHandler', 'route pre 1', 'route pre 2', 'handler', 'onResponse 200']);
  });

  it('a hook that answers ends the chain; a hook that throws is answered as a handler error', async () => {
    const { server, port } = await serve();
    let handled = 0;
    server.addHook('onRequest', (q, res) => {
      if (q.header('authorization') === undefined && q.path !== '/open') res.status(401).end('who are you');
    });
    server.get('/secret', () => void handled++);
    server.get('/open', (_q, res) => res.end('open'));
    server.get('/async-deny', { preHandler: async (_q, res) => void res.status(403).end('no') }, () => void handled++);
    server.get('/boom', { preHandler: () => { throw new Error('hook failed'); } }, () => void handled++);
    const out = await exchange(port, [
      req('GET', '/secret'),
      req('GET', '/open'),
      'GET /async-deny HTTP/1.1\r\nHost: x\r\nAuthorization: y\r\n\r\n',
      'GET /boom HTTP/1.1\r\nHost: x\r\nAuthorization: y\r\n\r\n',
    ]);
    assert.equal(out[0].status, 401);
    assert.equal(out[0].body.toString(), 'who are you');
    assert.equal(out[1].body.toString(), 'open');
    assert.equal(out[2].status, 403);
    assert.equal(out[3].status, 500);
    assert.equal(handled, 0);
    assert.equal(server.stats().handlerErrors, 1);
  });

  it('req.json() on a body that is not JSON answers 400, not a 500 with a logged stack', async () => {
    const { server, port } = await serve();
    let caught: unknown;
    server.post('/j', async (q, res) => {
      res.json(await q.json());
    });
    server.post('/c', async (q) => {
      try {
        await q.json();
      } catch (err) {
        caught = err;
        throw err;
      }
    });
    server.get('/teapot', () => {
      throw Object.assign(new Error('short and stout'), { statusCode: 418 });
    });
    const out = await exchange(port, [req('POST', '/j', '{"a":'), req('POST', '/j', '{"a":1}'), req('POST', '/c', 'nope'), req('GET', '/teapot')]);
    assert.equal(out[0].status, 400);
    assert.match(out[0].body.toString(), /request body is not JSON/);
    assert.equal(out[0].headers.connection, undefined, 'the connection stays usable');
    assert.equal(out[1].status, 200);
    assert.equal(out[1].body.toString(), '{"a":1}');
    assert.equal(out[2].status, 400);
    assert.ok(caught instanceof InvalidArgumentError);
    assert.equal((caught as InvalidArgumentError).code, 'EW_EINVAL');
    assert.equal((caught as InvalidArgumentError).statusCode, 400);
    assert.equal(out[3].status, 418);
    assert.equal(out[3].body.toString(), 'short and stout');
    assert.equal(server.stats().handlerErrors, 0);
    assert.deepEqual(logged.filter((l) => l.msg === 'HTTP handler failed'), []);
  });

  it("an error answer drops the handler's framing headers, so a failing handler can never crash the process", async () => {
    const { server, port } = await serve();
    let unhandled: unknown = null;
    const onUnhandled = (e: unknown): void => {
      unhandled = e;
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      server.post('/j', async (rq, res) => {
        res.setHeader('Content-Length', '2'); // for the 'ok' it meant to send
        await rq.json();
        res.end('ok');
      });
      server.get('/t', (_rq, res) => {
        res.setHeader('Transfer-Encoding', 'chunked').setHeader('Content-Length', '100');
        throw new Error('boom');
      });
      // A hook that returns a thenable that is not a native promise: awaited, its rejection answered.
      server.addHook('preHandler', (rq) => (rq.path === '/thenable' ? { then: (_ok: () => void, fail: (e: Error) => void) => fail(new Error('thenable rejected')) } : undefined));
      server.get('/thenable', (_rq, res) => res.end('not reached'));
      // The 400 keeps the connection; the 500 closes it (Connection: close).
      const got = await exchange(port, [req('POST', '/j', '{bad'), req('GET', '/t')]);
      assert.equal(got[0].status, 400);
      assert.match(got[0].body.toString(), /not JSON/);
      assert.equal(got[1].status, 500);
      assert.equal(got[1].body.toString(), 'Internal Server Error');
      assert.equal(got[1].headers['content-length'], String('Internal Server Error'.length));
      assert.equal(got[1].headers['transfer-encoding'], undefined);
      const again = await exchange(port, [req('GET', '/thenable')]);
      assert.equal(again[0].status, 500);
      await new Promise((r) => setImmediate(r));
      assert.equal(unhandled, null);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('refuses bad hooks and route options, naming them', async () => {
    const { server } = await serve();
    assert.throws(() => server.addHook('onSend' as 'onRequest', () => undefined), (e: unknown) => e instanceof InvalidArgumentError && /onSend/.test(e.message));
    assert.throws(() => server.addHook('onRequest', 5 as unknown as () => void), InvalidArgumentError);
    assert.throws(() => server.get('/x', { preHandler: 'no' as unknown as () => void }, () => undefined), (e: unknown) => e instanceof InvalidArgumentError && /preHandler/.test(e.message));
  });
});

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond());
}
