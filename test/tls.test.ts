// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { execFile } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import * as tls from 'tls';
import { InvalidArgumentError, type CloseReason, type Connection, type SecureInfo, type Server } from '../dist/index';
import { FrameReader, connect, frame, until, useRuntime } from './helpers';

// TLS (docs/tls.md, native/core/src/tls.c) with real peers on loopback: Node's tls and https,
// curl and openssl s_client against evwire servers, evwire links against evwire servers. The
// certificates are test-only (test/fixtures/tls, scripts/gen-tls-fixtures.sh).

const F = path.join(__dirname, '..', 'test', 'fixtures', 'tls');
const file = (name: string): Buffer => fs.readFileSync(path.join(F, name));
const CA = file('ca.pem');
const SERVER = { cert: file('server.pem'), key: file('server.key') };

function run(cmd: string, args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = execFile(cmd, args, { timeout: 15000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
    if (input !== undefined) p.stdin!.end(input);
  });
}

describe('TLS', function () {
  this.timeout(30000);
  const t = useRuntime({ ioThreads: 1 });
  const stat = (name: 'tlsHandshakes' | 'tlsFailures'): number => t.rt.stats().reduce((n, s) => n + s[name], 0);

  /** A TLS server (framed unless told) echoing frames or bytes, and what its connections saw. */
  async function tlsEcho(tlsOpts: object, extra: object = {}): Promise<{ server: Server; conns: Connection[]; reasons: CloseReason[]; secure: SecureInfo[]; port: number }> {
    const server = await t.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, tls: { ...SERVER, ...tlsOpts } as never, ...extra });
    const out = { server, conns: [] as Connection[], reasons: [] as CloseReason[], secure: [] as SecureInfo[], port: server.address().port };
    server.on('connection', (c) => {
      out.conns.push(c);
      c.on('secure', (i) => out.secure.push(i));
      c.on('message', (m) => c.send(m.type, m.body, { seq: m.seq }));
      c.on('data', (d) => c.write(d));
      c.on('close', (r) => out.reasons.push(r));
    });
    return out;
  }

  function nodeClient(port: number, opts: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', ca: CA, servername: 'localhost', ...opts });
      t.sockets.push(s);
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
  }

  async function framedRoundTrip(s: tls.TLSSocket, n: number, size: number): Promise<void> {
    const r = new FrameReader(s);
    const sent = [];
    for (let i = 0; i < n; i++) {
      const body = Buffer.alloc(size, i & 0xff);
      sent.push(body);
      s.write(frame(1 + i, body, i));
    }
    const got = await r.waitFrames(n);
    for (let i = 0; i < n; i++) {
      assert.equal(got[i].type, 1 + i);
      assert.ok(got[i].body.equals(sent[i]), `frame ${i}`);
    }
  }

  describe('clients of every kind against evwire servers', () => {
    for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
      it(`Node's tls, ${version}: frames echo, and 'secure' tells what was agreed`, async () => {
        const e = await tlsEcho({});
        const before = stat('tlsHandshakes');
        const s = await nodeClient(e.port, { maxVersion: version });
        assert.equal(s.getProtocol(), version);
        await framedRoundTrip(s, 50, 300);
        assert.equal(e.secure.length, 1);
        assert.equal(e.secure[0].kind, 'tls');
        assert.equal(e.secure[0].protocol, version);
        assert.equal(e.secure[0].cipher, s.getCipher().standardName, 'the IANA name');
        assert.equal(e.secure[0].servername, 'localhost');
        assert.equal(e.conns[0].secure, e.secure[0]);
        assert.equal(stat('tlsHandshakes') - before, 1);
      });
    }

    it('curl --cacert and Node https against an HTTPS server, keep-alive included', async () => {
      const server = await t.rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0, tls: { ...SERVER, alpn: ['http/1.1'] } });
      server.route('GET', '/hello', (_req, res) => res.end('hello over https'));
      const port = server.address().port;
      const c = await run('curl', ['-sS', '--cacert', path.join(F, 'ca.pem'), `https://localhost:${port}/hello`, `https://localhost:${port}/hello`]);
      assert.equal(c.code, 0, c.stderr);
      assert.equal(c.stdout, 'hello over https'.repeat(2));
      const body = await new Promise<string>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port, path: '/hello', ca: CA, servername: 'localhost' }, (res) => {
            let b = '';
            res.on('data', (d: Buffer) => (b += d.toString()));
            res.on('end', () => resolve(b));
          })
          .on('error', reject);
      });
      assert.equal(body, 'hello over https');
    });

    it('openssl s_client against an HTTPS server', async () => {
      const server = await t.rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0, tls: SERVER });
      server.route('GET', '/', (_req, res) => res.end('from evwire'));
      const port = server.address().port;
      const r = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', path.join(F, 'ca.pem'), '-verify_return_error', '-quiet'], 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      assert.match(r.stdout, /^HTTP\/1\.1 200 OK/);
      assert.match(r.stdout, /from evwire$/);
    });

    it('a server that sends and ends before the handshake finished: the client gets both', async () => {
      const server = await t.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, tls: SERVER, framing: 'raw' });
      server.on('connection', (c) => {
        c.write(Buffer.from('greeting before the handshake'));
        c.end();
      });
      const s = await nodeClient(server.address().port);
      s.write('early bytes');
      const chunks: Buffer[] = [];
      s.on('data', (d: Buffer) => chunks.push(d));
      await once(s, 'end');
      assert.equal(Buffer.concat(chunks).toString(), 'greeting before the handshake');
    });

    it('openssl s_client against a framed TLS server: a frame in, its echo out', async () => {
      const server = await t.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, tls: SERVER });
      server.on('connection', (c) =>
        c.on('message', (m) => {
          c.send(m.type, m.body, { seq: m.seq });
          c.end();
        }),
      );
      const stdout = await new Promise<Buffer>((resolve, reject) => {
        const p = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${server.address().port}`, '-servername', 'localhost', '-CAfile', path.join(F, 'ca.pem'), '-verify_return_error', '-quiet', '-ign_eof'], { encoding: 'buffer', timeout: 15000 }, (err, out) => (err && out.length === 0 ? reject(err) : resolve(out)));
        p.stdin!.end(frame(7, 'through s_client', 3));
      });
      assert.ok(stdout.equals(frame(7, 'through s_client', 3)), stdout.toString('hex'));
    });

    it('an evwire link to an evwire server: verified by name, and an HTTP client link over HTTPS', async () => {
      const e = await tlsEcho({});
      const link = await t.rt.connect({ protocol: 'tcp', host: 'localhost', port: e.port, tls: { ca: CA } });
      const got = once(link, 'message');
      link.send(4, Buffer.from('through a tls link'), { seq: 9 });
      const [m] = (await got) as [{ seq: number; body: Uint8Array }];
      assert.equal(Buffer.from(m.body).toString(), 'through a tls link');
      await until(() => link.connection?.secure !== null, 'the link is secure');
      assert.equal(link.connection!.secure!.authorized, true);
      assert.equal(link.connection!.secure!.servername, 'localhost');
      await link.close();

      const web = await t.rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0, tls: SERVER });
      web.route('GET', '/x', (_req, res) => res.end('https client'));
      const client = await t.rt.connect({ protocol: 'http', host: 'localhost', port: web.address().port, tls: { ca: CA } });
      const res = await client.request({ method: 'GET', path: '/x' });
      assert.equal(res.status, 200);
      assert.equal((await res.text()), 'https client');
      await client.close();
    });

    it('1 MiB frames, many at once, both ways: backpressure holds and every byte comes back', async () => {
      const e = await tlsEcho({}, { highWatermark: 64 * 1024, lowWatermark: 16 * 1024 });
      const link = await t.rt.connect({ protocol: 'tcp', host: 'localhost', port: e.port, tls: { ca: CA }, highWatermark: 64 * 1024, lowWatermark: 16 * 1024 });
      const bodies: Buffer[] = [];
      for (let i = 0; i < 8; i++) bodies.push(Buffer.alloc(1 << 20, 0x30 + i));
      const got: Buffer[] = [];
      link.on('message', (m: { body: Uint8Array }) => got.push(Buffer.from(m.body)));
      for (const b of bodies) link.send(2, b);
      await until(() => got.length === 8, 'eight echoes', 20000);
      for (let i = 0; i < 8; i++) assert.ok(got[i].equals(bodies[i]), `frame ${i}`);
      await link.close();
    });

    it('raw framing over TLS: a Node client writes 4 MiB in pieces and reads every byte back', async () => {
      const e = await tlsEcho({}, { framing: 'raw' });
      const s = await nodeClient(e.port);
      const data = Buffer.alloc(4 << 20);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
      const chunks: Buffer[] = [];
      let n = 0;
      s.on('data', (d: Buffer) => {
        chunks.push(d);
        n += d.length;
      });
      for (let off = 0; off < data.length; off += 65536) s.write(data.subarray(off, off + 65536));
      await until(() => n >= data.length, 'all echoed', 20000);
      assert.ok(Buffer.concat(chunks).equals(data));
    });
  });

  describe('each failure closes that connection with a reason and a counter', () => {
    async function closedWith(e: { reasons: CloseReason[] }, code: string): Promise<void> {
      await until(() => e.reasons.length >= 1, `closed (${code})`);
      assert.equal(e.reasons[0].code, code);
    }

    it('a plaintext client: EW_ETLS_PLAINTEXT, nothing delivered', async () => {
      const e = await tlsEcho({});
      const failures = stat('tlsFailures');
      const s = await connect(e.port);
      t.sockets.push(s);
      s.write(frame(1, 'in the clear'));
      await closedWith(e, 'EW_ETLS_PLAINTEXT');
      assert.equal(stat('tlsFailures') - failures, 1);
      const http = await connect(e.port);
      t.sockets.push(http);
      http.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => e.reasons.length === 2, 'second closed');
      assert.equal(e.reasons[1].code, 'EW_ETLS_PLAINTEXT');
    });

    it('TLS 1.0, and TLS 1.2 where the minimum is 1.3: EW_ETLS_VERSION', async () => {
      const e = await tlsEcho({});
      await assert.rejects(nodeClient(e.port, { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }));
      await closedWith(e, 'EW_ETLS_VERSION');
      const e13 = await tlsEcho({ minVersion: 'TLSv1.3' });
      await assert.rejects(nodeClient(e13.port, { maxVersion: 'TLSv1.2' }));
      await closedWith(e13, 'EW_ETLS_VERSION');
    });

    for (const [what, serverTls, clientTls] of [
      ['a server certificate from a CA the link does not trust', {}, { ca: file('other-ca.pem') }],
      ['an expired server certificate', { cert: file('expired.pem'), key: file('expired.key') }, { ca: CA }],
      ['a certificate for another name', {}, { ca: CA, servername: 'other.test' }],
    ] as const) {
      it(`${what}: connect() rejects with EW_ETLS_CERT`, async () => {
        const e = await tlsEcho(serverTls);
        const failures = stat('tlsFailures');
        // connect() resolves once the handshake finished: here it rejects, as a failed attempt.
        await assert.rejects(t.rt.connect({ protocol: 'tcp', host: 'localhost', port: e.port, reconnect: false, tls: clientTls }), (err: Error & { code?: string }) => err.code === 'EW_ETLS_CERT');
        assert.ok(stat('tlsFailures') - failures >= 1);
        assert.equal(e.conns.some((c) => c.secure !== null), false);
      });
    }

    it('a client certificate required and missing: EW_ETLS_CERT; present: authorized', async () => {
      const e = await tlsEcho({ requestCert: true, ca: CA });
      const bare = tls.connect({ port: e.port, host: '127.0.0.1', ca: CA, servername: 'localhost' });
      t.sockets.push(bare);
      bare.on('error', () => undefined);
      bare.write(frame(1, 'x'));
      await closedWith(e, 'EW_ETLS_CERT');
      const s = await nodeClient(e.port, { cert: file('client.pem'), key: file('client.key') });
      await framedRoundTrip(s, 1, 10);
      assert.equal(e.secure.at(-1)!.authorized, true);
    });

    it('no handshake in time: EW_ETIMEOUT_HANDSHAKE', async () => {
      const e = await tlsEcho({ handshakeTimeoutMs: 150 });
      const s = await connect(e.port);
      t.sockets.push(s);
      await closedWith(e, 'EW_ETIMEOUT_HANDSHAKE');
    });

    it('no ALPN protocol in common: EW_ETLS_HANDSHAKE; one in common is agreed', async () => {
      const e = await tlsEcho({ alpn: ['evwire/1'] });
      const s = await nodeClient(e.port, { ALPNProtocols: ['h2', 'evwire/1'] });
      assert.equal(s.alpnProtocol, 'evwire/1');
      await until(() => e.secure.length === 1, 'secure');
      assert.equal(e.secure[0].alpn, 'evwire/1');
      await assert.rejects(nodeClient(e.port, { ALPNProtocols: ['h2'] }));
      await until(() => e.reasons.length === 1, 'closed');
      assert.equal(e.reasons[0].code, 'EW_ETLS_HANDSHAKE');
    });

    it('the server keeps serving everyone else', async () => {
      const e = await tlsEcho({});
      const good = await nodeClient(e.port);
      const bad = await connect(e.port);
      t.sockets.push(bad);
      bad.write(Buffer.alloc(100, 0x42));
      await closedWith(e, 'EW_ETLS_PLAINTEXT');
      await framedRoundTrip(good, 3, 100);
    });
  });

  describe('certificates and sessions', () => {
    const cn = (s: tls.TLSSocket): string => String(s.getPeerCertificate().subject.CN);

    it('several certificates by SNI', async () => {
      const e = await tlsEcho({ sni: { 'other.test': { cert: file('other.pem'), key: file('other.key') } } });
      assert.equal(cn(await nodeClient(e.port)), 'server');
      assert.equal(cn(await nodeClient(e.port, { servername: 'other.test' })), 'other');
    });

    it('setTls reloads the certificate for new connections; open ones go on', async () => {
      const e = await tlsEcho({});
      const before = await nodeClient(e.port);
      assert.equal(cn(before), 'server');
      e.server.setTls({ cert: file('other.pem'), key: file('other.key') });
      const after = await nodeClient(e.port, { servername: 'other.test' });
      assert.equal(cn(after), 'other');
      await framedRoundTrip(before, 2, 50);
      await framedRoundTrip(after, 2, 50);
      assert.throws(() => e.server.setTls({ cert: 'not pem', key: SERVER.key }), InvalidArgumentError);
      assert.throws(() => e.server.setTls({ cert: file('other.pem'), key: SERVER.key }), (err: Error & { code?: string }) => err.code === 'EW_EINVAL');
      assert.equal(cn(await nodeClient(e.port, { servername: 'other.test' })), 'other', 'a failed reload keeps the last good one');
    });

    it('session resumption: a Node client resumes (TLS 1.3 tickets and TLS 1.2)', async () => {
      for (const maxVersion of ['TLSv1.3', 'TLSv1.2'] as const) {
        const e = await tlsEcho({});
        const first = await nodeClient(e.port, { maxVersion });
        const session = await new Promise<Buffer>((resolve) => {
          if (maxVersion === 'TLSv1.2') resolve(first.getSession()!);
          else first.once('session', resolve);
          first.write(frame(1, 'x'));
        });
        first.end();
        const second = await nodeClient(e.port, { maxVersion, session });
        assert.equal(second.isSessionReused(), true, maxVersion);
        await until(() => e.secure.length === 2, 'both secure');
        assert.deepEqual(e.secure.map((i) => i.sessionReused), [false, true]);
      }
    });

    it('an evwire link resumes its session when it reconnects', async () => {
      const e = await tlsEcho({});
      const link = await t.rt.connect({ protocol: 'tcp', host: 'localhost', port: e.port, tls: { ca: CA }, reconnect: { initialDelayMs: 10, maxDelayMs: 50 } });
      const one = once(link, 'message');
      link.send(1, Buffer.from('a'));
      await one;
      e.conns[0].destroy();
      await once(link, 'connect');
      const two = once(link, 'message');
      link.send(1, Buffer.from('b'));
      await two;
      await until(() => link.connection?.secure !== null, 'secure again');
      assert.equal(link.connection!.secure!.sessionReused, true);
      await link.close();
    });
  });

  describe('options', () => {
    for (const [what, opts] of [
      ['no certificate', { key: SERVER.key }],
      ['a certificate that is not PEM', { cert: 'hello', key: SERVER.key }],
      ['a key that does not match the certificate', { cert: SERVER.cert, key: file('other.key') }],
      ['an unknown minVersion', { ...SERVER, minVersion: 'TLSv1' }],
      ['an empty ALPN list', { ...SERVER, alpn: [] }],
    ] as const) {
      it(`listen refuses ${what}`, async () => {
        await assert.rejects(t.rt.listen({ protocol: 'tcp', port: 0, host: '127.0.0.1', tls: opts as never }), (err: Error & { code?: string }) => err.code === 'EW_EINVAL');
      });
    }

    it('connect refuses a client certificate without its key', async () => {
      await assert.rejects(t.rt.connect({ protocol: 'tcp', host: 'localhost', port: 1, tls: { cert: file('client.pem') } }), InvalidArgumentError);
    });
  });

});

// TLS holds input it already took from the socket (whole records in its buffers): a
// level-triggered poll would not report the socket again for it, so the connection must stay
// on the ready list. The inline pass runs every test above level-triggered too; this one does
// it with an IO thread.
describe('TLS, level-triggered', function () {
  this.timeout(30000);
  const t = useRuntime({ ioThreads: 1, triggering: 'level' });

  it('1 MiB frames, many at once, both ways, through a link and a server', async () => {
    const server = await t.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, tls: SERVER, highWatermark: 64 * 1024, lowWatermark: 16 * 1024 });
    server.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body)));
    const link = await t.rt.connect({ protocol: 'tcp', host: 'localhost', port: server.address().port, tls: { ca: CA }, highWatermark: 64 * 1024, lowWatermark: 16 * 1024 });
    const got: Buffer[] = [];
    link.on('message', (m: { body: Uint8Array }) => got.push(Buffer.from(m.body)));
    for (let i = 0; i < 8; i++) link.send(2, Buffer.alloc(1 << 20, 0x30 + i));
    await until(() => got.length === 8, 'eight echoes', 20000);
    for (let i = 0; i < 8; i++) assert.ok(got[i].equals(Buffer.alloc(1 << 20, 0x30 + i)), `frame ${i}`);
    await link.close();
  });
});
