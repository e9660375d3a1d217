// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { once } from 'events';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { InvalidArgumentError, type CloseReason, type Connection, type Server } from '../dist/index';
import * as ref from './crypto-ref';
import { closed, connect, frame, pattern, until, useRuntime } from './helpers';

// Message encryption (docs/encryption.md, native/core/src/codec_crypt.c) over real sockets. The
// peer is, for most tests, the reference client of test/crypto-ref.ts: written with node:crypto
// from the page alone, it is how a client in another language would talk to evwire. evwire's
// own links talk to the reference server, and to evwire servers.

const fixtures = path.join(__dirname, '..', 'test', 'fixtures', 'crypto');
const pem = (name: string): Buffer => fs.readFileSync(path.join(fixtures, name));
const edPriv = crypto.createPrivateKey(pem('ed25519.pem'));
const edPub = crypto.createPublicKey(pem('ed25519.pub.pem'));
const rsaPriv = crypto.createPrivateKey(pem('rsa.pem'));
const rsaPub = crypto.createPublicKey(pem('rsa.pub.pem'));
const SERVER_KEYS = { ed25519: pem('ed25519.pem'), rsa: pem('rsa.pem') };
const ALL = ['aes-256-gcm', 'chacha20-poly1305', 'aes-256-cbc-hmac-sha256'] as const;
const IDS = { 'aes-256-gcm': ref.CIPHER_AES_GCM, 'chacha20-poly1305': ref.CIPHER_CHACHA, 'aes-256-cbc-hmac-sha256': ref.CIPHER_CBC_HMAC };

describe('message encryption', function () {
  this.timeout(30000);
  const t = useRuntime({ ioThreads: 1 });
  const clients: ref.RefClient[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  /** An echo server (replies with the reply flag) and the connections it accepted. */
  async function secureEcho(encryption: object, extra: object = {}): Promise<{ server: Server; conns: Connection[]; reasons: CloseReason[]; messages: number }> {
    const server = await t.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, encryption, ...extra });
    const out = { server, conns: [] as Connection[], reasons: [] as CloseReason[], messages: 0 };
    server.on('connection', (c) => {
      out.conns.push(c);
      c.on('message', (m) => {
        out.messages++;
        c.send(m.type, m.body, { seq: m.seq, flags: 2 });
      });
      c.on('close', (r) => out.reasons.push(r));
    });
    return out;
  }

  const port = (s: Server): number => s.address().port;
  const stat = (name: 'handshakes' | 'cryptoFailures'): number => t.rt.stats().reduce((n, s) => n + s[name], 0);

  async function refClient(p: number, opts: Partial<ref.RefClientOptions> = {}): Promise<ref.RefClient> {
    const c = await ref.RefClient.connect(p, '127.0.0.1', { kex: ref.KEX_X25519, ciphers: [ref.CIPHER_AES_GCM], serverKey: edPub, ...opts });
    clients.push(c);
    return c;
  }

  /** A raw socket that completes the handshake with the reference code and then lets the test
   * write whatever bytes it likes. */
  async function handshaken(p: number, ciphers = [ref.CIPHER_AES_GCM]): Promise<{ s: net.Socket; session: ref.Session; rx: ref.FrameReader; bytes: () => number }> {
    const s = await connect(p);
    t.sockets.push(s);
    const { body, state } = ref.clientHello({ kex: ref.KEX_X25519, ciphers, serverKey: edPub });
    s.write(ref.encodeFrame(0, 0, 0, body));
    const rx = new ref.FrameReader();
    let n = 0;
    let session: ref.Session | null = null;
    const ready = new Promise<void>((resolve) => {
      s.on('data', (d: Buffer) => {
        n += d.length;
        rx.push(d);
        if (session === null) {
          const f = rx.next();
          if (f !== null) {
            session = ref.clientFinish(state, f.body);
            resolve();
          }
        }
      });
    });
    await ready;
    const seen = n;
    return { s, session: session!, rx, bytes: () => n - seen };
  }

  describe('the reference client (node:crypto, from the spec) against the server', () => {
    for (const kex of [ref.KEX_X25519, ref.KEX_RSA] as const) {
      for (const cipher of ALL) {
        it(`key exchange ${kex}, ${cipher}: frames of every size echo, decrypted and sealed`, async () => {
          const e = await secureEcho({ mode: 'required', cipher: [...ALL], keys: SERVER_KEYS });
          const before = stat('handshakes');
          const c = await refClient(port(e.server), { kex, ciphers: [IDS[cipher]], serverKey: kex === ref.KEX_X25519 ? edPub : rsaPub });
          assert.equal(c.session.cipher, IDS[cipher]);
          const sizes = [0, 1, 15, 16, 17, 100, 4096, 70000];
          for (const [i, n] of sizes.entries()) c.send(10 + i, i + 1, pattern(n, i));
          for (const [i, n] of sizes.entries()) {
            const f = await c.next();
            assert.deepEqual([f.type, f.seq, f.flags], [10 + i, i + 1, 2]);
            assert.ok(f.body.equals(pattern(n, i)), `body of ${n} bytes`);
          }
          await until(() => e.conns.length === 1 && e.conns[0].encrypted, 'conn.encrypted');
          assert.equal(stat('handshakes') - before, 1);
        });
      }
    }

    it('the server takes the first of its own ciphers that the client offers, skipping ids it does not know', async () => {
      const e = await secureEcho({ mode: 'required', cipher: ['chacha20-poly1305', 'aes-256-gcm'], keys: SERVER_KEYS });
      const c = await refClient(port(e.server), { ciphers: [0x77, ref.CIPHER_AES_GCM, ref.CIPHER_CHACHA] });
      assert.equal(c.session.cipher, ref.CIPHER_CHACHA);
    });

    it('keys update in both directions (rekeyAfterBytes) and every frame still verifies', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS, rekeyAfterBytes: 1000 });
      const c = await refClient(port(e.server), { rekeyAfterBytes: 700 });
      for (let i = 0; i < 60; i++) c.send(1, i, pattern(300, i));
      for (let i = 0; i < 60; i++) {
        const f = await c.next();
        assert.equal(f.seq, i);
        assert.ok(f.body.equals(pattern(300, i)));
      }
      assert.ok(c.session.sendUpdates >= 20, `client updates: ${c.session.sendUpdates}`);
      // 4 frames of 300 bytes reach 1000 under one key; the update goes before the next frame.
      assert.equal(c.session.recvUpdates, 14, 'server updates');
    });

    it('1 MiB frames, many at once: backpressure holds and every byte comes back', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS }, { highWatermark: 64 * 1024, lowWatermark: 16 * 1024 });
      const c = await refClient(port(e.server), { ciphers: [ref.CIPHER_CHACHA] });
      const big = crypto.randomBytes(1 << 20);
      for (let i = 0; i < 6; i++) c.send(3, i, big);
      for (let i = 0; i < 6; i++) {
        const f = await c.next(20000);
        assert.equal(f.seq, i);
        assert.ok(f.body.equals(big));
      }
    });

    it('a server that sends and ends before the handshake: the frame leaves sealed, then the end', async () => {
      const server = await t.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, encryption: { mode: 'required', keys: SERVER_KEYS } });
      server.on('connection', (c) => {
        c.send(9, Buffer.from('goodbye'));
        c.end();
      });
      const c = await refClient(port(server));
      const f = await c.next();
      assert.equal(f.body.toString(), 'goodbye');
      await c.closed();
    });

    it('frames the server sends before the handshake wait, and leave sealed', async () => {
      const server = await t.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, encryption: { mode: 'required', keys: SERVER_KEYS } });
      let queued = -1;
      server.on('connection', (c) => {
        c.send(9, Buffer.from('welcome'));
        queued = c.bufferedAmount;
      });
      const c = await refClient(port(server));
      const f = await c.next();
      assert.equal(f.type, 9);
      assert.equal(f.body.toString(), 'welcome');
      assert.equal(queued, 12 + 7, 'counted as queued until sealed');
    });
  });

  describe('bad input closes only that connection, with a code and a counter, and delivers nothing', () => {
    async function expectClose(e: Awaited<ReturnType<typeof secureEcho>>, code: string): Promise<void> {
      await until(() => e.reasons.length === 1, `the server closed the connection (${code})`);
      assert.equal(e.reasons[0].code, code);
    }

    for (const [what, mutate] of [
      ['a flipped ciphertext bit', (f: Buffer) => (f[14] ^= 0x01)],
      ['a flipped tag bit', (f: Buffer) => (f[f.length - 1] ^= 0x80)],
      ['a reply flag added to the header (authenticated data)', (f: Buffer) => (f[7] |= 0x02)],
      ['a changed seq (authenticated data)', (f: Buffer) => (f[11] ^= 0x01)],
    ] as const) {
      it(`${what}: EW_EPROTO_CRYPTO`, async () => {
        const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
        const failures = stat('cryptoFailures');
        const h = await handshaken(port(e.server));
        h.s.write(h.session.seal(1, 0, 1, Buffer.from('good')));
        const bad = h.session.seal(1, 0, 2, Buffer.from('this one is tampered'));
        mutate(bad);
        h.s.write(bad);
        await expectClose(e, 'EW_EPROTO_CRYPTO');
        assert.equal(e.messages, 1, 'the good frame only');
        assert.equal(stat('cryptoFailures') - failures, 1);
        // The answer to the good frame, then the close: nothing of the bad one.
        await closed(h.s);
        const f = h.rx.next()!;
        assert.equal(h.session.open(f).body.toString(), 'good');
        assert.equal(h.rx.next(), null);
      });
    }

    it('a truncated tag: EW_EPROTO_CRYPTO', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
      const h = await handshaken(port(e.server));
      const f = h.session.seal(1, 0, 1, Buffer.from('truncated'));
      const cut = Buffer.concat([ref.encodeHeader(f.length - 12 - 1, 1, 1, 1), f.subarray(12, f.length - 1)]);
      h.s.write(cut);
      await expectClose(e, 'EW_EPROTO_CRYPTO');
      assert.equal(e.messages, 0);
    });

    it('a replayed frame: delivered once, then EW_EPROTO_CRYPTO', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
      const h = await handshaken(port(e.server));
      const f = h.session.seal(1, 0, 1, Buffer.from('once'));
      h.s.write(Buffer.concat([f, f]));
      await expectClose(e, 'EW_EPROTO_CRYPTO');
      assert.equal(e.messages, 1);
    });

    it('a reordered frame (a later counter first): EW_EPROTO_CRYPTO', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
      const h = await handshaken(port(e.server));
      h.s.write(h.session.sealAt(1, 1, 0, 2, Buffer.from('second')));
      await expectClose(e, 'EW_EPROTO_CRYPTO');
      assert.equal(e.messages, 0);
    });

    it('legacy mode: bad padding under a good MAC and a bad MAC end alike (no padding oracle)', async () => {
      const outcomes: { code: string; answered: number; messages: number }[] = [];
      for (const kind of ['padding', 'mac'] as const) {
        const e = await secureEcho({ mode: 'required', cipher: 'aes-256-cbc-hmac-sha256', keys: SERVER_KEYS });
        const h = await handshaken(port(e.server), [ref.CIPHER_CBC_HMAC]);
        if (kind === 'padding') {
          // 32 bytes whose last block ends in 0x00: invalid PKCS#7, correctly MACed.
          const padded = Buffer.alloc(32, 0x41);
          padded[31] = 0;
          h.s.write(h.session.sealCbcWithPadding(1, 0, 1, padded));
        } else {
          const f = h.session.seal(1, 0, 1, Buffer.alloc(20, 0x41));
          f[f.length - 5] ^= 0x10;
          h.s.write(f);
        }
        await until(() => e.reasons.length === 1, 'closed');
        await closed(h.s);
        outcomes.push({ code: e.reasons[0].code, answered: h.bytes(), messages: e.messages });
        await e.server.close();
      }
      assert.deepEqual(outcomes[0], { code: 'EW_EPROTO_CRYPTO', answered: 0, messages: 0 });
      assert.deepEqual(outcomes[1], outcomes[0]);
    });

    it('a plaintext frame on a required server: EW_EPROTO_PLAINTEXT, before and after the handshake', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
      const s = await connect(port(e.server));
      t.sockets.push(s);
      s.write(frame(1, 'hello in the clear'));
      await expectClose(e, 'EW_EPROTO_PLAINTEXT');
      const h = await handshaken(port(e.server));
      h.s.write(frame(1, 'clear after the keys'));
      await until(() => e.reasons.length === 2, 'second close');
      assert.equal(e.reasons[1].code, 'EW_EPROTO_PLAINTEXT');
      assert.equal(e.messages, 0);
    });

    it('an encrypted frame where encryption is off: EW_EPROTO_PLAINTEXT', async () => {
      const server = await t.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
      const reasons: CloseReason[] = [];
      server.on('connection', (c) => c.on('close', (r) => reasons.push(r)));
      const s = await connect(port(server));
      t.sockets.push(s);
      s.write(frame(1, 'not really sealed', 0, 1));
      await until(() => reasons.length === 1, 'closed');
      assert.equal(reasons[0].code, 'EW_EPROTO_PLAINTEXT');
    });

    for (const [what, hello, code] of [
      ['another version', (b: Buffer) => (b[1] = 2), 'EW_EPROTO_HANDSHAKE'],
      ['no cipher in common', (b: Buffer) => (b[4] = ref.CIPHER_CBC_HMAC), 'EW_EPROTO_HANDSHAKE'],
      ['a low-order X25519 key (all zero)', (b: Buffer) => b.fill(0, b.length - 32), 'EW_EPROTO_HANDSHAKE'],
      ['an unknown key exchange', (b: Buffer) => (b[2] = 9), 'EW_EPROTO_HANDSHAKE'],
    ] as const) {
      it(`a ClientHello with ${what}: ${code}, and no answer`, async () => {
        const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
        const failures = stat('cryptoFailures');
        const s = await connect(port(e.server));
        t.sockets.push(s);
        let answered = 0;
        s.on('data', (d: Buffer) => (answered += d.length));
        const { body } = ref.clientHello({ kex: ref.KEX_X25519, ciphers: [ref.CIPHER_AES_GCM], serverKey: edPub });
        hello(body);
        s.write(ref.encodeFrame(0, 0, 0, body));
        await expectClose(e, code);
        await closed(s);
        assert.equal(answered, 0);
        assert.equal(stat('cryptoFailures') - failures, 1);
      });
    }

    it('a handshake frame with flags or seq set: EW_EPROTO_HANDSHAKE', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
      const s = await connect(port(e.server));
      t.sockets.push(s);
      const { body } = ref.clientHello({ kex: ref.KEX_X25519, ciphers: [ref.CIPHER_AES_GCM], serverKey: edPub });
      s.write(ref.encodeFrame(0, 0, 7, body));
      await expectClose(e, 'EW_EPROTO_HANDSHAKE');
    });

    it('RSA: a server without an RSA key, and a ciphertext that does not decrypt: EW_EPROTO_HANDSHAKE', async () => {
      const edOnly = await secureEcho({ mode: 'required', keys: { ed25519: SERVER_KEYS.ed25519 } });
      await assert.rejects(refClient(port(edOnly.server), { kex: ref.KEX_RSA, serverKey: rsaPub }));
      await expectClose(edOnly, 'EW_EPROTO_HANDSHAKE');
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
      const s = await connect(port(e.server));
      t.sockets.push(s);
      const { body } = ref.clientHello({ kex: ref.KEX_RSA, ciphers: [ref.CIPHER_AES_GCM], serverKey: rsaPub });
      body[body.length - 7] ^= 0x01;
      s.write(ref.encodeFrame(0, 0, 0, body));
      await expectClose(e, 'EW_EPROTO_HANDSHAKE');
    });

    it('no ClientHello in time: EW_ETIMEOUT_HANDSHAKE (a silent client, and one that stops half-way)', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS, handshakeTimeoutMs: 150 });
      const silent = await connect(port(e.server));
      const half = await connect(port(e.server));
      t.sockets.push(silent, half);
      const { body } = ref.clientHello({ kex: ref.KEX_X25519, ciphers: [ref.CIPHER_AES_GCM], serverKey: edPub });
      half.write(ref.encodeFrame(0, 0, 0, body).subarray(0, 20));
      await until(() => e.reasons.length === 2, 'both closed');
      assert.deepEqual(
        e.reasons.map((r) => r.code),
        ['EW_ETIMEOUT_HANDSHAKE', 'EW_ETIMEOUT_HANDSHAKE'],
      );
    });

    it('a verified type-0 record that is not a KeyUpdate: EW_EPROTO_HANDSHAKE', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
      const h = await handshaken(port(e.server));
      h.s.write(h.session.seal(0, 0, 0, Buffer.from([0x07])));
      await expectClose(e, 'EW_EPROTO_HANDSHAKE');
    });

    it('the server keeps serving everyone else', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
      const good = await refClient(port(e.server));
      const h = await handshaken(port(e.server));
      const bad = h.session.seal(1, 0, 1, Buffer.from('x'));
      bad[13] ^= 1;
      h.s.write(bad);
      await until(() => e.reasons.length === 1, 'bad one closed');
      good.send(1, 5, Buffer.from('still here'));
      assert.equal((await good.next()).body.toString(), 'still here');
    });
  });

  describe("mode 'optional'", () => {
    it('a plaintext client and an encrypted one on the same server; encryption later is refused', async () => {
      const e = await secureEcho({ mode: 'optional', keys: SERVER_KEYS });
      const s = await connect(port(e.server));
      t.sockets.push(s);
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.write(frame(4, 'plain'));
      await until(() => Buffer.concat(got).length >= 12 + 5, 'plain echo');
      assert.ok(Buffer.concat(got).equals(frame(4, 'plain', 0, 2)));
      const c = await refClient(port(e.server));
      c.send(4, 1, Buffer.from('sealed'));
      assert.equal((await c.next()).body.toString(), 'sealed');
      assert.equal(e.conns[0].encrypted, false);
      assert.equal(e.conns[1].encrypted, true);
      s.write(frame(4, 'now sealed?', 0, 1));
      await until(() => e.reasons.length === 1, 'the plaintext one closed');
      assert.equal(e.reasons[0].code, 'EW_EPROTO_PLAINTEXT');
    });
  });

  describe('links (rt.connect)', () => {
    for (const kex of ['ed25519', 'rsa'] as const) {
      it(`a link pinning the ${kex} key talks to the reference server`, async () => {
        const server = await ref.RefServer.listen({ ciphers: [ref.CIPHER_CHACHA, ref.CIPHER_AES_GCM], ed25519: edPriv, rsa: rsaPriv });
        try {
          const link = await t.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: server.port, encryption: { mode: 'required', keys: kex === 'ed25519' ? { ed25519: edPub } : { rsa: rsaPub } } });
          const got = once(link, 'message');
          link.send(6, Buffer.from(`via ${kex}`), { seq: 3 });
          const [m] = (await got) as [{ type: number; seq: number; body: Uint8Array }];
          assert.deepEqual([m.type, m.seq, Buffer.from(m.body).toString()], [6, 3, `via ${kex}`]);
          assert.equal(server.connections[0].session!.cipher, ref.CIPHER_CHACHA);
          await link.close();
        } finally {
          await server.close();
        }
      });
    }

    it('a link and a server of evwire, with key updates both ways', async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS, rekeyAfterBytes: 4096 });
      const link = await t.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: port(e.server), encryption: { mode: 'required', keys: { ed25519: edPub }, rekeyAfterBytes: 4096 } });
      const bodies: string[] = [];
      link.on('message', (m: { body: Uint8Array }) => bodies.push(Buffer.from(m.body).toString('hex')));
      const sent: string[] = [];
      for (let i = 0; i < 100; i++) {
        const b = pattern(500, i);
        sent.push(b.toString('hex'));
        link.send(2, b);
      }
      await until(() => bodies.length === 100, 'all echoed');
      assert.deepEqual(bodies, sent);
      await link.close();
    });

    it('a server that is not the one pinned: connect() rejects with EW_EPROTO_HANDSHAKE; with reconnect on, it retries', async () => {
      const other = crypto.generateKeyPairSync('ed25519');
      const server = await ref.RefServer.listen({ ciphers: [ref.CIPHER_AES_GCM], ed25519: other.privateKey });
      try {
        await assert.rejects(t.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: server.port, reconnect: false, encryption: { mode: 'required', keys: { ed25519: edPub } } }), (err: Error & { code?: string }) => err.code === 'EW_EPROTO_HANDSHAKE');
        assert.equal(server.connections[0].received.length, 0);
        const pending = t.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: server.port, reconnect: { initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 }, encryption: { mode: 'required', keys: { ed25519: edPub } } });
        await assert.rejects(pending, (err: Error & { code?: string }) => err.code === 'EW_EPROTO_HANDSHAKE');
        assert.equal(server.connections.length, 4, 'one attempt, then three more');
      } finally {
        await server.close();
      }
    });
  });

  describe('options', () => {
    const bad: [string, object][] = [
      ['an unknown mode', { mode: 'sometimes', keys: SERVER_KEYS }],
      ['an unknown cipher', { mode: 'required', cipher: 'rot13', keys: SERVER_KEYS }],
      ['a cipher named twice', { mode: 'required', cipher: ['aes-256-gcm', 'aes-256-gcm'], keys: SERVER_KEYS }],
      ['no key', { mode: 'required' }],
      ['a public key where the private one is needed', { mode: 'required', keys: { ed25519: pem('ed25519.pub.pem') } }],
      ['an RSA key as the Ed25519 one', { mode: 'required', keys: { ed25519: pem('rsa.pem') } }],
      ['bytes that are no key', { mode: 'required', keys: { rsa: Buffer.from('not a key') } }],
      ['a negative rekeyAfterBytes', { mode: 'required', keys: SERVER_KEYS, rekeyAfterBytes: -1 }],
    ];
    for (const [what, encryption] of bad) {
      it(`listen refuses ${what}`, async () => {
        await assert.rejects(t.rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, encryption: encryption as never }), (err: unknown) => err instanceof InvalidArgumentError && err.code === 'EW_EINVAL');
      });
    }

    it('listen refuses encryption with tls, and with maxFrameBytes above 64 MiB', async () => {
      const tlsDir = path.join(__dirname, '..', 'test', 'fixtures', 'tls');
      const tls = { cert: fs.readFileSync(path.join(tlsDir, 'server.pem')), key: fs.readFileSync(path.join(tlsDir, 'server.key')) };
      await assert.rejects(t.rt.listen({ protocol: 'tcp', port: 0, tls, encryption: { mode: 'required', keys: SERVER_KEYS } }), InvalidArgumentError);
      await assert.rejects(t.rt.listen({ protocol: 'tcp', port: 0, maxFrameBytes: (64 << 20) + 1, encryption: { mode: 'required', keys: SERVER_KEYS } }), InvalidArgumentError);
    });

    it("listen refuses encryption with framing 'raw'; connect refuses mode 'optional'", async () => {
      await assert.rejects(t.rt.listen({ protocol: 'tcp', port: 0, framing: 'raw', encryption: { mode: 'required', keys: SERVER_KEYS } }), InvalidArgumentError);
      await assert.rejects(t.rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: 1, encryption: { mode: 'optional', keys: { ed25519: edPub } } }), InvalidArgumentError);
    });

    it("send() refuses the encrypted flag: it is the runtime's", async () => {
      const e = await secureEcho({ mode: 'required', keys: SERVER_KEYS });
      const c = await refClient(port(e.server));
      c.send(1, 1, Buffer.from('x'));
      await c.next();
      assert.throws(() => e.conns[0].send(1, Buffer.from('y'), { flags: 1 }), InvalidArgumentError);
    });
  });
});
