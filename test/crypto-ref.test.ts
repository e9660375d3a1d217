// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The reference implementation of message encryption (test/crypto-ref.ts, written from
// docs/encryption.md alone) against itself: client and server in-process and over loopback TCP,
// every key exchange and cipher, key updates, tampering, replay, the server's refusals, the
// client's checks of the ServerHello, the primitives against their RFC vectors, and the
// generated test vectors of docs/encryption.md against the code that generates them.
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as net from 'node:net';
import { execFileSync } from 'node:child_process';
import * as ref from './crypto-ref';

const root = path.join(__dirname, '..');
const fixtures = path.join(root, 'test', 'fixtures', 'crypto');
const readKey = (name: string): Buffer => fs.readFileSync(path.join(fixtures, name));
const edPriv = crypto.createPrivateKey(readKey('ed25519.pem'));
const edPub = crypto.createPublicKey(readKey('ed25519.pub.pem'));
const rsaPriv = crypto.createPrivateKey(readKey('rsa.pem'));
const rsaPub = crypto.createPublicKey(readKey('rsa.pub.pem'));

const KEXES = [ref.KEX_X25519, ref.KEX_RSA] as const;
const CIPHERS = [ref.CIPHER_AES_GCM, ref.CIPHER_CHACHA, ref.CIPHER_CBC_HMAC];
const cipherName = (c: number): string => ref.CIPHER_NAMES[c];
const kexName = (k: number): string => (k === ref.KEX_X25519 ? 'X25519+Ed25519' : 'RSA-OAEP');
const pinned = (kex: 1 | 2): crypto.KeyObject => (kex === ref.KEX_X25519 ? edPub : rsaPub);

interface Pair {
  client: ref.Session;
  server: ref.Session;
  ch: Buffer;
  sh: Buffer;
}

/** An in-process handshake. */
function pair(kex: 1 | 2, cipher: number, clientCiphers = [cipher], serverCiphers = [cipher]): Pair {
  const { body: ch, state } = ref.clientHello({ kex, ciphers: clientCiphers, serverKey: pinned(kex) });
  const { body: sh, session: server } = ref.serverHello(ch, { ciphers: serverCiphers, ed25519: edPriv, rsa: rsaPriv });
  const client = ref.clientFinish(state, sh);
  return { client, server, ch, sh };
}

/** Asserts that fn throws a RefProtocolError with this code. */
function throwsCode(fn: () => unknown, code: ref.ErrorCode, what = ''): ref.RefProtocolError {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ref.RefProtocolError, `${what}: expected a RefProtocolError ${code}, got ${err === null ? 'no error' : String(err)}`);
  assert.equal(err.code, code, `${what}: ${err.message}`);
  return err;
}

function pattern(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x ^= x >>> 17;
    x = (x ^ (x << 5)) >>> 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** The body length a record has for a plaintext of n bytes. */
const recordBytes = (cipher: number, n: number): number => (cipher === ref.CIPHER_CBC_HMAC ? 16 + (Math.floor(n / 16) + 1) * 16 + 32 : n + 16);

const unhex = (h: string): Buffer => Buffer.from(h, 'hex');

describe('crypto-ref: primitives', function () {
  it('HKDF matches RFC 5869 test case 1', () => {
    const ikm = Buffer.alloc(22, 0x0b);
    const salt = unhex('000102030405060708090a0b0c');
    const info = unhex('f0f1f2f3f4f5f6f7f8f9');
    const prk = ref.hkdfExtract(salt, ikm);
    assert.equal(prk.toString('hex'), '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5');
    const okm = ref.hkdfExpand(prk, info, 42);
    assert.equal(okm.toString('hex'), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  it("HKDF agrees with node's hkdfSync for other lengths and labels", () => {
    for (const [len, label] of [
      [12, 'iv'],
      [32, 'key'],
      [32, 'evwire v1 c2s'],
      [100, 'update'],
    ] as const) {
      const ikm = pattern(32, len);
      const salt = pattern(32, len + 1);
      const want = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from(label), len));
      assert.ok(ref.hkdfExpand(ref.hkdfExtract(salt, ikm), label, len).equals(want), `${label} ${len}`);
    }
  });

  it('X25519 matches RFC 7748 section 6.1', () => {
    const alice = ref.x25519PrivateFromRaw(unhex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'));
    const bob = ref.x25519PrivateFromRaw(unhex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'));
    const alicePub = ref.x25519PublicRaw(alice);
    const bobPub = ref.x25519PublicRaw(bob);
    assert.equal(alicePub.toString('hex'), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    assert.equal(bobPub.toString('hex'), 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    assert.equal(ref.x25519Shared(alice, bobPub).toString('hex'), k);
    assert.equal(ref.x25519Shared(bob, alicePub).toString('hex'), k);
  });

  it('X25519 refuses low-order public keys (all-zero shared secret)', () => {
    const priv = crypto.generateKeyPairSync('x25519').privateKey;
    for (const u of ['00'.repeat(32), '01' + '00'.repeat(31), 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800']) {
      throwsCode(() => ref.x25519Shared(priv, unhex(u)), 'EW_EPROTO_HANDSHAKE', u);
    }
  });

  it('frames: header fields are big-endian and FrameReader reassembles any split', () => {
    const a = ref.encodeFrame(0x0102, 0x0304, 0x05060708, Buffer.from('abc'));
    assert.equal(a.toString('hex'), '00000003' + '0102' + '0304' + '05060708' + '616263');
    const b = ref.encodeFrame(7, 0, 1, Buffer.alloc(0));
    const stream = Buffer.concat([a, b, a]);
    const r = new ref.FrameReader();
    const got: ref.Frame[] = [];
    for (const byte of stream) {
      r.push(Buffer.from([byte]));
      for (let f = r.next(); f; f = r.next()) got.push(f);
    }
    assert.deepEqual(
      got.map((f) => [f.type, f.flags, f.seq, f.body.toString()]),
      [
        [0x0102, 0x0304, 0x05060708, 'abc'],
        [7, 0, 1, ''],
        [0x0102, 0x0304, 0x05060708, 'abc'],
      ],
    );
    assert.equal(r.buffered, 0);
  });
});

describe('crypto-ref: handshake and records', function () {
  for (const kex of KEXES) {
    for (const cipher of CIPHERS) {
      describe(`${kexName(kex)} with ${cipherName(cipher)}`, function () {
        it('both sides derive the same secrets, as the key schedule says', () => {
          const { client, server, ch, sh } = pair(kex, cipher);
          assert.equal(sh.length, kex === 1 ? 132 : 68);
          assert.deepEqual([...sh.subarray(0, 4)], [0x02, 0x01, kex, cipher]);
          const shStar = sh.subarray(0, kex === 1 ? 68 : 36);
          const th = crypto.createHash('sha256').update(ch).update(shStar).digest();
          assert.ok(client.th.equals(th) && server.th.equals(th), 'th');
          assert.ok(client.prk.equals(server.prk), 'prk');
          assert.ok(client.sendSecret.equals(server.recvSecret), 'c2s');
          assert.ok(client.recvSecret.equals(server.sendSecret), 's2c');
          assert.ok(!client.sendSecret.equals(client.recvSecret), 'directions differ');
          assert.ok(client.sendSecret.equals(ref.hkdfExpand(client.prk, 'evwire v1 c2s', 32)));
          assert.ok(client.recvSecret.equals(ref.hkdfExpand(client.prk, 'evwire v1 s2c', 32)));
          if (kex === 1) {
            const msg = Buffer.concat([Buffer.from('evwire v1 server signature'), th]);
            assert.ok(crypto.verify(null, msg, edPub, sh.subarray(68)), 'signature over label || th');
          } else {
            const k = ref.hkdfExpand(client.prk, 'evwire v1 confirm', 32);
            assert.ok(crypto.createHmac('sha256', k).update(th).digest().equals(sh.subarray(36)), 'confirmation');
          }
          assert.equal(client.cipher, cipher);
          assert.equal(server.cipher, cipher);
        });

        it('records go both ways with the documented lengths, flags and counters', () => {
          const { client, server } = pair(kex, cipher);
          const sizes = [0, 1, 15, 16, 17, 31, 32, 33, 1000, 65536];
          sizes.forEach((n, i) => {
            const body = pattern(n, i + 1);
            const f = client.seal(1 + i, i % 8 & ~1, 1000 + i, body);
            const h = ref.decodeFrame(f);
            assert.equal(h.body.length, recordBytes(cipher, n), `length for ${n}`);
            assert.equal(h.flags, (i % 8 & ~1) | 1);
            assert.equal(h.type, 1 + i);
            assert.equal(h.seq, 1000 + i);
            if (n >= 16) assert.ok(!h.body.includes(body.subarray(0, 16)), 'the body is not in clear');
            const got = server.open(f);
            assert.deepEqual([got.type, got.flags, got.seq], [1 + i, i % 8 & ~1, 1000 + i]);
            assert.ok(got.body.equals(body), `body of ${n} bytes`);
            const back = server.seal(2, 2, i, body);
            assert.ok(client.open(back).body.equals(body));
          });
          assert.equal(client.sendCounter, BigInt(sizes.length));
          assert.equal(server.recvCounter, BigInt(sizes.length));
          assert.equal(server.sendCounter, BigInt(sizes.length));
          assert.equal(client.recvCounter, BigInt(sizes.length));
        });

        it('a record decrypts with node:crypto directly from the documented layout', () => {
          const { client, server } = pair(kex, cipher);
          client.seal(1, 0, 1, Buffer.from('first'));
          const f = client.seal(9, 2, 77, Buffer.from('second record')); // counter 1
          const S = server.recvSecret;
          const key = ref.hkdfExpand(S, 'key', 32);
          const header = f.subarray(0, 12);
          const body = f.subarray(12);
          let pt: Buffer;
          if (cipher === ref.CIPHER_CBC_HMAC) {
            const mac = ref.hkdfExpand(S, 'mac', 32);
            const n = Buffer.from('0000000000000001', 'hex');
            const want = crypto.createHmac('sha256', mac).update(n).update(header).update(body.subarray(0, body.length - 32)).digest();
            assert.ok(want.equals(body.subarray(body.length - 32)), 'HMAC(mac, u64 n || header || IV || ciphertext)');
            const d = crypto.createDecipheriv('aes-256-cbc', key, body.subarray(0, 16));
            pt = Buffer.concat([d.update(body.subarray(16, body.length - 32)), d.final()]); // PKCS#7 removed by OpenSSL
          } else {
            const iv = ref.hkdfExpand(S, 'iv', 12);
            iv[11] ^= 1;
            const alg = (cipher === ref.CIPHER_AES_GCM ? 'aes-256-gcm' : 'chacha20-poly1305') as crypto.CipherGCMTypes;
            const d = crypto.createDecipheriv(alg, key, iv, { authTagLength: 16 });
            d.setAAD(header);
            d.setAuthTag(body.subarray(body.length - 16));
            pt = Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
          }
          assert.equal(pt.toString(), 'second record');
        });

        it('key updates in both directions, each independent', () => {
          const { client } = pair(kex, cipher);
          const c2s = client.sendSecret;
          client.seal(1, 0, 1, Buffer.from('a'));
          const ku = client.keyUpdate();
          const h = ref.decodeFrame(ku);
          assert.deepEqual([h.type, h.flags, h.seq, h.body.length], [0, 1, 0, cipher === ref.CIPHER_CBC_HMAC ? 64 : 17]);
          assert.equal(client.sendCounter, 0n);
          assert.ok(client.sendSecret.equals(ref.hkdfExpand(c2s, 'update', 32)));
          // Received in order, with the frames around it:
          const fresh = pair(kex, cipher);
          const s2c = fresh.server.sendSecret;
          const a = fresh.client.seal(1, 0, 1, Buffer.from('x'));
          const u = fresh.client.keyUpdate();
          const b = fresh.client.seal(2, 0, 2, Buffer.from('after'));
          assert.equal(fresh.server.open(a).body.toString(), 'x');
          const got = fresh.server.open(u);
          assert.deepEqual([got.type, got.flags, got.seq, [...got.body]], [0, 0, 0, [3]]);
          assert.equal(fresh.server.recvCounter, 0n);
          assert.ok(fresh.server.recvSecret.equals(fresh.client.sendSecret));
          assert.equal(fresh.server.open(b).body.toString(), 'after');
          // The other direction did not move.
          assert.ok(fresh.server.sendSecret.equals(fresh.client.recvSecret));
          assert.ok(fresh.client.recvSecret.equals(fresh.client.s2c));
          // Now the server updates, three times in a row, then sends.
          for (let i = 0; i < 3; i++) fresh.client.open(fresh.server.keyUpdate());
          let want = fresh.client.s2c;
          for (let i = 0; i < 3; i++) want = ref.hkdfExpand(want, 'update', 32);
          assert.ok(fresh.client.recvSecret.equals(want), "S' = HKDF-Expand(S, 'update', 32), three times");
          assert.equal(fresh.client.open(fresh.server.seal(5, 0, 5, Buffer.from('s'))).body.toString(), 's');
          assert.equal(fresh.client.recvUpdates, 3);
          assert.ok(!s2c.equals(fresh.server.sendSecret));
          // A record under the old key after the update does not verify.
          const old = ref.sealRecord(cipher, ref.trafficKeys(cipher, fresh.client.c2s), 0n, 1, 0, 1, Buffer.from('old'));
          throwsCode(() => fresh.server.open(old), 'EW_EPROTO_CRYPTO', 'old key');
        });

        it('a flipped bit anywhere in type, flags, seq, ciphertext or tag is rejected', () => {
          const base = pair(kex, cipher);
          const f = base.client.seal(0x1234, 0x0002, 0x01020304, Buffer.from('tamper with me'));
          assert.equal(base.server.open(f).body.toString(), 'tamper with me');
          for (let i = 4; i < f.length; i++) {
            for (const bit of i < 12 ? [0, 1, 2, 3, 4, 5, 6, 7] : [i % 8]) {
              const p = pair(kex, cipher);
              const g = p.client.seal(0x1234, 0x0002, 0x01020304, Buffer.from('tamper with me'));
              assert.ok(g.subarray(0, 12).equals(f.subarray(0, 12)));
              g[i] ^= 1 << bit;
              // Flag bit 0 cleared makes it a plaintext frame; everything else fails to verify.
              const code = i === 7 && bit === 0 ? 'EW_EPROTO_PLAINTEXT' : 'EW_EPROTO_CRYPTO';
              throwsCode(() => p.server.open(g), code, `byte ${i} bit ${bit}`);
              // The session is dead after that: even a good record is refused.
              throwsCode(() => p.server.open(p.client.seal(1, 0, 1, Buffer.from('x'))), code, 'after a failure');
            }
          }
        });

        it('replayed, reordered, dropped and injected records are rejected', () => {
          let p = pair(kex, cipher);
          const f0 = p.client.seal(1, 0, 1, Buffer.from('zero'));
          p.server.open(f0);
          throwsCode(() => p.server.open(f0), 'EW_EPROTO_CRYPTO', 'replay');

          p = pair(kex, cipher);
          p.client.seal(1, 0, 1, Buffer.from('zero'));
          const f1 = p.client.seal(1, 0, 2, Buffer.from('one'));
          throwsCode(() => p.server.open(f1), 'EW_EPROTO_CRYPTO', 'dropped / reordered');

          p = pair(kex, cipher);
          p.server.open(p.client.seal(1, 0, 1, Buffer.from('zero')));
          throwsCode(() => p.server.open(p.client.sealAt(0, 1, 0, 1, Buffer.from('zero'))), 'EW_EPROTO_CRYPTO', 'counter 0 again');

          p = pair(kex, cipher);
          p.server.open(p.client.seal(1, 0, 1, Buffer.from('zero')));
          assert.equal(p.server.open(p.client.sealAt(1, 1, 0, 2, Buffer.from('one'))).body.toString(), 'one', 'the right counter verifies');

          p = pair(kex, cipher);
          const other = pair(kex, cipher);
          throwsCode(() => p.server.open(other.client.seal(1, 0, 1, Buffer.from('x'))), 'EW_EPROTO_CRYPTO', 'another session');
          p = pair(kex, cipher);
          throwsCode(() => p.client.open(p.client.sealAt(0, 1, 0, 1, Buffer.from('reflected'))), 'EW_EPROTO_CRYPTO', 'reflected to its sender');
        });

        it('truncated tags and short records are rejected', () => {
          const cut = (f: Buffer, n: number): Buffer => {
            const g = Buffer.from(f.subarray(0, f.length - n));
            g.writeUInt32BE(g.length - 12, 0);
            return g;
          };
          for (const n of [1, 4, 15, 16]) {
            const p = pair(kex, cipher);
            throwsCode(() => p.server.open(cut(p.client.seal(1, 0, 1, Buffer.from('truncate me please')), n)), 'EW_EPROTO_CRYPTO', `${n} bytes cut`);
          }
          const p = pair(kex, cipher);
          throwsCode(() => p.server.open({ type: 1, flags: 1, seq: 0, body: Buffer.alloc(cipher === ref.CIPHER_CBC_HMAC ? 48 : 15) }), 'EW_EPROTO_CRYPTO', 'short');
          const q = pair(kex, cipher);
          throwsCode(() => q.server.open({ type: 1, flags: 1, seq: 0, body: Buffer.alloc(0) }), 'EW_EPROTO_CRYPTO', 'empty');
        });

        it('after the handshake: a plaintext frame is EW_EPROTO_PLAINTEXT, a type-0 record other than a KeyUpdate is EW_EPROTO_HANDSHAKE', () => {
          let p = pair(kex, cipher);
          throwsCode(() => p.server.open(ref.encodeFrame(1, 0, 1, Buffer.from('plain'))), 'EW_EPROTO_PLAINTEXT', 'plaintext');
          for (const [flags, seq, body] of [
            [0, 0, [4]],
            [0, 0, [3, 0]],
            [0, 0, []],
            [0, 1, [3]],
            [2, 0, [3]],
          ] as const) {
            p = pair(kex, cipher);
            throwsCode(() => p.server.open(p.client.seal(0, flags, seq, Buffer.from(body))), 'EW_EPROTO_HANDSHAKE', `type 0 flags ${flags} seq ${seq} [${body.join()}]`);
          }
          p = pair(kex, cipher);
          assert.equal(p.server.open(p.client.seal(0, 0, 0, Buffer.from([3]))).type, 0, 'a hand-made KeyUpdate is one');
        });
      });
    }
  }
});

describe('crypto-ref: legacy AES-256-CBC + HMAC-SHA256', function () {
  const legacy = (): Pair => pair(ref.KEX_X25519, ref.CIPHER_CBC_HMAC);
  const openErr = (p: Pair, f: Buffer): ref.RefProtocolError => throwsCode(() => p.server.open(f), 'EW_EPROTO_CRYPTO');

  it('accepts any valid PKCS#7 padding the sender chose, 1 to 16 bytes', () => {
    for (let pad = 1; pad <= 16; pad++) {
      const p = legacy();
      const body = Buffer.concat([Buffer.alloc(32 - pad, 0x61), Buffer.alloc(pad, pad)]);
      assert.ok(p.server.open(p.client.sealCbcWithPadding(1, 0, 1, body)).body.equals(Buffer.alloc(32 - pad, 0x61)), `pad ${pad}`);
    }
  });

  it('bad padding and a bad MAC are both rejected, with the same error', () => {
    const bad = [
      Buffer.concat([Buffer.from('abc'), Buffer.alloc(13, 0x00)]), // p = 0
      Buffer.concat([Buffer.from('abc'), Buffer.alloc(13, 0x11)]), // p = 17
      Buffer.alloc(32, 0x20), // p = 32 > 16, although 32 bytes of 0x20
      Buffer.concat([Buffer.from('abcdefghijklm'), Buffer.from([0x02, 0x01, 0x03])]), // p = 3, inconsistent
      Buffer.concat([Buffer.from('ab'), Buffer.alloc(14, 0x0f)]), // p = 15, only 14 bytes of 0x0f
    ];
    const messages = new Set<string>();
    for (const padded of bad) {
      const p = legacy();
      messages.add(openErr(p, p.client.sealCbcWithPadding(1, 0, 1, padded)).message);
    }
    const p = legacy();
    const f = p.client.seal(1, 0, 1, Buffer.from('abc'));
    f[f.length - 1] ^= 0x80;
    messages.add(openErr(p, f).message);
    const q = legacy();
    const g = q.client.seal(1, 0, 1, Buffer.from('abc'));
    g[12 + 3] ^= 0x01; // the IV
    messages.add(openErr(q, g).message);
    assert.equal(messages.size, 1, [...messages].join(' | '));
  });

  it('rejects lengths under 64 or not 48 + a multiple of 16', () => {
    for (const n of [0, 16, 48, 63, 65, 72, 79]) {
      const p = legacy();
      openErr(p, ref.encodeFrame(1, 1, 0, Buffer.alloc(n)));
    }
  });

  it('the IV is random unless given, and a given IV is used as is', () => {
    const p = legacy();
    const a = p.client.sealAt(0, 1, 0, 1, Buffer.from('same'));
    const b = p.client.sealAt(0, 1, 0, 1, Buffer.from('same'));
    assert.ok(!a.equals(b));
    const iv = Buffer.alloc(16, 0xa5);
    const c = p.client.sealAt(0, 1, 0, 1, Buffer.from('same'), iv);
    assert.ok(c.subarray(12, 28).equals(iv));
    assert.ok(c.equals(p.client.sealAt(0, 1, 0, 1, Buffer.from('same'), iv)));
  });
});

describe('crypto-ref: the server refuses', function () {
  const sopts = { ciphers: [1, 2], ed25519: edPriv, rsa: rsaPriv };
  const hello = (kex: 1 | 2, ciphers = [1]): Buffer => ref.clientHello({ kex, ciphers, serverKey: pinned(kex) }).body;
  const refuses = (ch: Buffer, what: string, opts: ref.ServerHelloOptions = sopts): void => void throwsCode(() => ref.serverHello(ch, opts), 'EW_EPROTO_HANDSHAKE', what);

  it('accepts the well-formed ClientHellos these cases are made from', () => {
    assert.equal(ref.serverHello(hello(1), sopts).body.length, 132);
    assert.equal(ref.serverHello(hello(2), sopts).body.length, 68);
  });

  it('another message or version byte, an unknown key exchange', () => {
    for (const kex of KEXES) {
      const ch = hello(kex);
      refuses(Buffer.concat([Buffer.from([0x02]), ch.subarray(1)]), 'message 0x02');
      refuses(Buffer.concat([Buffer.from([0x03]), ch.subarray(1)]), 'message 0x03');
      refuses(Buffer.concat([ch.subarray(0, 1), Buffer.from([0x02]), ch.subarray(2)]), 'version 2');
      refuses(Buffer.concat([ch.subarray(0, 1), Buffer.from([0x00]), ch.subarray(2)]), 'version 0');
      refuses(Buffer.concat([ch.subarray(0, 2), Buffer.from([0x03]), ch.subarray(3)]), 'kex 3');
    }
    refuses(Buffer.alloc(0), 'empty');
  });

  it('a key exchange it has no key for', () => {
    refuses(hello(1), 'no Ed25519 key', { ciphers: [1], rsa: rsaPriv });
    refuses(hello(2), 'no RSA key', { ciphers: [1], ed25519: edPriv });
  });

  it('no cipher in common; the legacy cipher only when named', () => {
    for (const kex of KEXES) {
      refuses(hello(kex, [3]), 'legacy not named');
      refuses(hello(kex, [2]), 'no common', { ...sopts, ciphers: [1, 3] });
      refuses(hello(kex, [4, 5, 255]), 'unknown ids only', { ...sopts, ciphers: [1, 2, 3] });
    }
  });

  it("picks the first of the server's list that the client offered", () => {
    const pick = (client: number[], server: number[]): number => ref.serverHello(hello(1, client), { ...sopts, ciphers: server }).session.cipher;
    assert.equal(pick([1, 2, 3], [2, 1]), 2);
    assert.equal(pick([1, 2, 3], [3, 2, 1]), 3);
    assert.equal(pick([2, 1], [1, 2]), 1);
    assert.equal(pick([9, 3, 1], [1, 3]), 1, 'unknown ids are ignored');
    assert.equal(pick([1, 1, 1, 1, 1, 1, 1, 1], [2, 1]), 1, '8 ids, duplicates');
  });

  it('a wrong length: 0 or 9 ciphers, a byte missing or trailing, a bad RSA length field', () => {
    for (const kex of KEXES) {
      const ch = hello(kex);
      refuses(Buffer.concat([ch, Buffer.from([0])]), 'trailing byte');
      refuses(ch.subarray(0, ch.length - 1), 'a byte short');
      refuses(Buffer.concat([ch.subarray(0, 3), Buffer.from([0]), ch.subarray(5)]), 'n = 0');
      refuses(Buffer.concat([ch.subarray(0, 3), Buffer.from([9, 1, 1, 1, 1, 1, 1, 1, 1, 1]), ch.subarray(5)]), 'n = 9');
      refuses(ch.subarray(0, 36), 'no key exchange part');
    }
    assert.throws(() => hello(1, []), RangeError);
    assert.throws(() => hello(1, [1, 1, 1, 1, 1, 1, 1, 1, 1]), RangeError);
    const ch = hello(2);
    const lenAt = 4 + 1 + 32;
    const shortLen = Buffer.from(ch);
    shortLen.writeUInt16BE(255, lenAt);
    refuses(shortLen.subarray(0, lenAt + 2 + 255), 'len 255 on a 2048-bit key');
    const longer = Buffer.from(ch);
    longer.writeUInt16BE(257, lenAt);
    refuses(Buffer.concat([longer, Buffer.from([0])]), 'len 257 on a 2048-bit key');
  });

  it('an RSA ciphertext that does not decrypt, or not to 32 bytes', () => {
    for (const n of [31, 33, 0]) {
      const ct = ref.rsaOaepEncrypt(rsaPub, Buffer.alloc(n, 7));
      refuses(ref.clientHello({ kex: 2, ciphers: [1], serverKey: rsaPub, rsaCiphertext: ct }).body, `${n}-byte secret`);
    }
    refuses(ref.clientHello({ kex: 2, ciphers: [1], serverKey: rsaPub, rsaCiphertext: crypto.randomBytes(256) }).body, 'garbage');
    const other = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    refuses(ref.clientHello({ kex: 2, ciphers: [1], serverKey: other }).body, 'encrypted to another key');
  });

  it('a low-order X25519 key', () => {
    const ch = hello(1);
    for (const u of ['00'.repeat(32), '01' + '00'.repeat(31), 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800']) {
      refuses(Buffer.concat([ch.subarray(0, ch.length - 32), unhex(u)]), u);
    }
  });
});

describe('crypto-ref: the client checks the ServerHello', function () {
  const start = (kex: 1 | 2, ciphers = [1, 2]): { state: ref.ClientHandshake; sh: Buffer } => {
    const { body, state } = ref.clientHello({ kex, ciphers, serverKey: pinned(kex) });
    return { state, sh: ref.serverHello(body, { ciphers: [1, 2], ed25519: edPriv, rsa: rsaPriv }).body };
  };
  const rejects = (state: ref.ClientHandshake, sh: Buffer, what: string): void => void throwsCode(() => ref.clientFinish(state, sh), 'EW_EPROTO_HANDSHAKE', what);

  it('a bad Ed25519 signature, a changed ServerHello, a key other than the pinned one', () => {
    const { state, sh } = start(1);
    assert.ok(ref.clientFinish(state, sh), 'the untouched ServerHello verifies');
    for (const i of [68, 69, 100, 131]) {
      const bad = Buffer.from(sh);
      bad[i] ^= 0x01;
      rejects(state, bad, `signature byte ${i}`);
    }
    for (const i of [4, 35, 36, 67]) {
      const bad = Buffer.from(sh);
      bad[i] ^= 0x40;
      rejects(state, bad, `SH* byte ${i}`);
    }
    const otherKey = crypto.generateKeyPairSync('ed25519').publicKey;
    rejects({ ...state, serverKey: otherKey }, sh, 'another pinned key');
    const th = crypto.createHash('sha256').update(state.ch).update(sh.subarray(0, 68)).digest();
    const noLabel = Buffer.concat([sh.subarray(0, 68), crypto.sign(null, th, edPriv)]);
    rejects(state, noLabel, 'signature over th without the label');
  });

  it('a bad RSA confirmation', () => {
    const { state, sh } = start(2);
    assert.ok(ref.clientFinish(state, sh));
    for (const i of [4, 35, 36, 67]) {
      const bad = Buffer.from(sh);
      bad[i] ^= 0x01;
      rejects(state, bad, `byte ${i}`);
    }
  });

  it('another message, version, key exchange, cipher or length', () => {
    for (const kex of KEXES) {
      const { state, sh } = start(kex, [1]);
      const set = (i: number, v: number): Buffer => {
        const b = Buffer.from(sh);
        b[i] = v;
        return b;
      };
      rejects(state, set(0, 0x01), 'message');
      rejects(state, set(1, 0x02), 'version');
      rejects(state, set(2, 3 - kex), 'key exchange');
      rejects(state, set(3, 2), 'a cipher not offered');
      rejects({ ...state, ciphers: [2] }, sh, 'a validly signed cipher that was not offered');
      rejects(state, set(3, 7), 'an unknown cipher');
      rejects(state, Buffer.concat([sh, Buffer.from([0])]), 'trailing');
      rejects(state, sh.subarray(0, sh.length - 1), 'short');
      rejects(state, Buffer.alloc(0), 'empty');
    }
  });

  it('a low-order server X25519 key', () => {
    const { state, sh } = start(1);
    const bad = Buffer.from(sh);
    bad.fill(0, 36, 68);
    rejects(state, bad, 'zero key');
  });
});

describe('crypto-ref: client and server over TCP', function () {
  let server: ref.RefServer | null = null;
  const clients: ref.RefClient[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await server?.close();
    server = null;
  });

  async function start(opts: Partial<ref.RefServerOptions> = {}): Promise<ref.RefServer> {
    server = await ref.RefServer.listen({
      ciphers: [1, 2, 3],
      ed25519: edPriv,
      rsa: rsaPriv,
      // Type 100 asks the server to update its key before the echo.
      onFrame: (conn, f) => {
        if (f.type === 100) conn.keyUpdate();
        conn.send(f.type, f.seq, f.body, f.flags);
      },
      ...opts,
    });
    return server;
  }

  async function connect(kex: 1 | 2, ciphers: number[], extra: Partial<ref.RefClientOptions> = {}): Promise<ref.RefClient> {
    const c = await ref.RefClient.connect(server!.port, '127.0.0.1', { kex, ciphers, serverKey: pinned(kex), ...extra });
    clients.push(c);
    return c;
  }

  const failure = (s: ref.RefServer, ms = 5000): Promise<Error> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`the server did not fail within ${ms} ms`)), ms);
      s.once('failure', (_c: unknown, e: Error) => {
        clearTimeout(t);
        resolve(e);
      });
    });

  for (const kex of KEXES) {
    for (const cipher of CIPHERS) {
      it(`${kexName(kex)} with ${cipherName(cipher)}: echoes, with key updates both ways`, async () => {
        const s = await start();
        const c = await connect(kex, [cipher]);
        assert.equal(c.session.cipher, cipher);
        const sent: ref.Frame[] = [];
        for (let i = 0; i < 40; i++) {
          const f = { type: i % 10 === 5 ? 100 : 1 + i, flags: (i % 3) * 2, seq: i, body: pattern((i * 997) % 5000, i) };
          sent.push(f);
          c.send(f.type, f.seq, f.body, f.flags);
          if (i % 7 === 3) c.keyUpdate();
        }
        for (const f of sent) {
          const g = await c.next();
          assert.deepEqual([g.type, g.flags, g.seq], [f.type, f.flags, f.seq]);
          assert.ok(g.body.equals(f.body), `frame ${f.seq}`);
        }
        const conn = s.connections[0];
        assert.equal(conn.session!.recvUpdates, 6);
        assert.equal(c.session.recvUpdates, 4);
        assert.ok(conn.session!.recvSecret.equals(c.session.sendSecret));
        assert.ok(c.session.recvSecret.equals(conn.session!.sendSecret));
        assert.equal(conn.error, null);
      });
    }
  }

  it('rekeyAfterBytes: both sides update on their own, and frames still flow', async () => {
    const s = await start({ rekeyAfterBytes: 3000 });
    const c = await connect(1, [1], { rekeyAfterBytes: 2000 });
    for (let i = 0; i < 20; i++) c.send(1, i, pattern(700, i));
    for (let i = 0; i < 20; i++) assert.ok((await c.next()).body.equals(pattern(700, i)));
    assert.equal(c.session.sendUpdates, 6); // after 2100, 4200, ... bytes
    assert.equal(s.connections[0].session!.sendUpdates, 4);
    assert.equal(c.session.recvUpdates, 4);
  });

  it('frames written one byte at a time', async () => {
    await start();
    const c = await connect(2, [3]);
    const f = Buffer.concat([c.session.seal(1, 0, 1, Buffer.from('split')), c.session.keyUpdate(), c.session.seal(2, 0, 2, Buffer.from('up'))]);
    for (const b of f) c.writeRaw(Buffer.from([b]));
    assert.equal((await c.next()).body.toString(), 'split');
    assert.equal((await c.next()).body.toString(), 'up');
  });

  it('a replayed frame closes the connection (EW_EPROTO_CRYPTO)', async () => {
    const s = await start();
    const c = await connect(1, [2]);
    const f = c.session.seal(1, 0, 1, Buffer.from('once'));
    const failed = failure(s);
    c.writeRaw(f);
    assert.equal((await c.next()).body.toString(), 'once');
    c.writeRaw(f);
    assert.equal(((await failed) as ref.RefProtocolError).code, 'EW_EPROTO_CRYPTO');
    await c.closed();
  });

  it('bad legacy padding closes the connection (EW_EPROTO_CRYPTO)', async () => {
    const s = await start();
    const c = await connect(1, [3]);
    const failed = failure(s);
    c.writeRaw(c.session.sealCbcWithPadding(1, 0, 1, Buffer.alloc(16, 0)));
    assert.equal(((await failed) as ref.RefProtocolError).code, 'EW_EPROTO_CRYPTO');
    await c.closed();
  });

  it('no cipher in common: the server closes without an answer', async () => {
    const s = await start({ ciphers: [1, 2] });
    const failed = failure(s);
    await assert.rejects(connect(1, [3]), /closed before the ServerHello/);
    assert.equal(((await failed) as ref.RefProtocolError).code, 'EW_EPROTO_HANDSHAKE');
  });

  it('a bad signature: the client refuses the ServerHello', async () => {
    await start({
      mutateServerHello: (b) => {
        const x = Buffer.from(b);
        x[x.length - 1] ^= 1;
        return x;
      },
    });
    await assert.rejects(connect(1, [1]), /EW_EPROTO_HANDSHAKE: bad server signature/);
  });

  for (const [flags, seq] of [
    [1, 0],
    [0, 1],
  ]) {
    it(`a ClientHello frame with flags ${flags}, seq ${seq} is refused without an answer`, async () => {
      const s = await start();
      const failed = failure(s);
      const sock = net.connect(s.port, '127.0.0.1');
      const got: Buffer[] = [];
      sock.on('data', (d: Buffer) => got.push(d));
      const closed = new Promise((resolve) => sock.on('close', resolve));
      sock.write(ref.encodeFrame(0, flags, seq, ref.clientHello({ kex: 1, ciphers: [1], serverKey: edPub }).body));
      assert.equal(((await failed) as ref.RefProtocolError).code, 'EW_EPROTO_HANDSHAKE');
      await closed;
      assert.equal(Buffer.concat(got).length, 0);
    });
  }

  it('a plaintext first frame is not a ClientHello', async () => {
    const s = await start();
    const failed = failure(s);
    const sock = net.connect(s.port, '127.0.0.1');
    sock.write(ref.encodeFrame(1, 0, 1, Buffer.from('hi')));
    assert.equal(((await failed) as ref.RefProtocolError).code, 'EW_EPROTO_PLAINTEXT');
    sock.destroy();
  });
});

describe('crypto-ref: the test vectors of docs/encryption.md', function () {
  const vectorsPath = path.join(fixtures, 'vectors.json');

  it('scripts/encryption-vectors.js --check: docs/encryption.md and vectors.json are up to date', () => {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'encryption-vectors.js'), '--check'], { cwd: root, stdio: 'pipe' });
  });

  it('vectors.json is consistent when read with node:crypto alone', () => {
    interface V {
      kex: number;
      cipher: number;
      CH: string;
      SH: string;
      th: string;
      c2s: string;
      c2s_key: string;
      c2s_iv?: string;
      client_frames: { type: number; flags: number; seq: number; plaintext: string; frame: string }[];
    }
    const all = JSON.parse(fs.readFileSync(vectorsPath, 'utf8')) as { cases: V[] };
    assert.equal(all.cases.length, 6);
    for (const v of all.cases) {
      const sh = unhex(v.SH);
      const shStar = sh.subarray(0, v.kex === 1 ? 68 : 36);
      assert.equal(crypto.createHash('sha256').update(unhex(v.CH)).update(shStar).digest('hex'), v.th, `th ${v.kex}/${v.cipher}`);
      if (v.kex === 1) assert.ok(crypto.verify(null, Buffer.concat([Buffer.from('evwire v1 server signature'), unhex(v.th)]), edPub, sh.subarray(68)));
      if (v.cipher !== 3) {
        const f = unhex(v.client_frames[0].frame);
        const d = crypto.createDecipheriv((v.cipher === 1 ? 'aes-256-gcm' : 'chacha20-poly1305') as crypto.CipherGCMTypes, unhex(v.c2s_key), unhex(v.c2s_iv!), { authTagLength: 16 });
        d.setAAD(f.subarray(0, 12));
        d.setAuthTag(f.subarray(f.length - 16));
        const pt = Buffer.concat([d.update(f.subarray(12, f.length - 16)), d.final()]);
        assert.equal(pt.toString('hex'), v.client_frames[0].plaintext);
      }
    }
  });
});
