// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Test vectors of message encryption (docs/encryption.md), from the reference implementation of
// test/crypto-ref.ts (compiled: npx tsc -p tsconfig.test.json), with fixed inputs only: fixed
// randoms, fixed X25519 private keys (those of RFC 7748 section 6.1), the test-only keys of
// test/fixtures/crypto/, a fixed RSA secret with one fixed OAEP ciphertext of it (OAEP is
// randomized, so the ciphertext was made once and is kept below), and fixed CBC IVs.
//
//   node scripts/encryption-vectors.js           writes test/fixtures/crypto/vectors.json and
//                                                the end of docs/encryption.md (after the marker)
//   node scripts/encryption-vectors.js --check   regenerates in memory; exit 1 if either differs
/* eslint-disable @typescript-eslint/no-require-imports -- a plain CommonJS script */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const DOC = path.join(root, 'docs', 'encryption.md');
const JSON_OUT = path.join(root, 'test', 'fixtures', 'crypto', 'vectors.json');
const FIXTURES = path.join(root, 'test', 'fixtures', 'crypto');
const MARKER = '<!-- vectors: generated below by scripts/encryption-vectors.js; do not edit by hand -->';

let ref;
try {
  ref = require('../dist-test/crypto-ref.js');
} catch (err) {
  process.stderr.write(`encryption-vectors: dist-test/crypto-ref.js is missing (npx tsc -p tsconfig.test.json): ${err.message}\n`);
  process.exit(2);
}

/** n bytes counting up from `from`. */
const count = (from, n) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff));
const hex = (b) => Buffer.from(b).toString('hex');

const INPUTS = {
  clientRandom: count(0x00, 32),
  serverRandom: count(0x20, 32),
  // RFC 7748 section 6.1: Alice's private key for the client, Bob's for the server.
  clientX25519: Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex'),
  serverX25519: Buffer.from('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb', 'hex'),
  rsaSecret: count(0xa0, 32),
  // RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) of rsaSecret under test/fixtures/crypto/rsa.pub.pem.
  rsaCiphertext: Buffer.from(
    '856915c4422de742d540f98454c5a99d02aa95517e9933f00a527d6d40c36ef3ead9afed9515dadb3a27ea065b087b85' +
      '14d79a3cf72ee96d4d13da595aad452fe4c64fc4900cef6968f12ff8eb9be07f87b16d7526ccc12673cef5c9cb044db0' +
      '993fe03638cd2c2b3c09703f71879eeb37735ce10338b9fa5e80e7b967905a0b4b261a90548ffc3c3801dd670de50ac9' +
      'c41a2a516abbc88db36809cd86699f1fd02fb15b436521074b0bd2919ff0598636c3d8e66f00f124ca234d462b94bb8d' +
      '8f9104d04b80a6bab352c86825f52008ff26f82b00f44905304c72109eee36059281153bdfab4c8955f2281353e2c4505b' +
      '5bcad91f7335e3486923aeada39faf',
    'hex',
  ),
  clientCiphers: [ref.CIPHER_AES_GCM, ref.CIPHER_CHACHA, ref.CIPHER_CBC_HMAC],
  clientFrames: [
    { type: 1, flags: 0, seq: 1, plaintext: Buffer.from('hello'), iv: count(0x40, 16) },
    { type: 2, flags: 0, seq: 2, plaintext: count(0x00, 32), iv: count(0x50, 16) },
  ],
  serverFrames: [{ type: 1, flags: 2, seq: 1, plaintext: Buffer.from('world'), iv: count(0x60, 16) }],
  keyUpdateIv: count(0x70, 16),
  afterUpdate: { type: 3, flags: 0, seq: 3, plaintext: Buffer.from('again'), iv: count(0x80, 16) },
};

const KEX_NAMES = { 1: 'X25519 with Ed25519', 2: 'RSA-OAEP' };

function keysOf(cipher, secret) {
  const k = ref.trafficKeys(cipher, secret);
  return cipher === ref.CIPHER_CBC_HMAC ? { key: hex(k.key), mac: hex(k.mac) } : { key: hex(k.key), iv: hex(k.iv) };
}

function frameVector(f, frame, counter, cipher) {
  const v = { type: f.type, flags: f.flags, seq: f.seq, counter, plaintext: hex(f.plaintext) };
  if (cipher === ref.CIPHER_CBC_HMAC) v.iv = hex(f.iv);
  v.frame = hex(frame);
  return v;
}

function oneCase(kex, cipher, keys) {
  const edKey = crypto.createPrivateKey(keys.ed25519);
  const rsaKey = crypto.createPrivateKey(keys.rsa);
  const { body: ch, state } = ref.clientHello({
    kex,
    ciphers: INPUTS.clientCiphers,
    serverKey: kex === ref.KEX_X25519 ? crypto.createPublicKey(keys.ed25519Pub) : crypto.createPublicKey(keys.rsaPub),
    random: INPUTS.clientRandom,
    ephemeralPrivate: ref.x25519PrivateFromRaw(INPUTS.clientX25519),
    rsaSecret: INPUTS.rsaSecret,
    rsaCiphertext: INPUTS.rsaCiphertext,
  });
  const { body: sh, session: server } = ref.serverHello(ch, {
    ciphers: [cipher],
    ed25519: edKey,
    rsa: rsaKey,
    random: INPUTS.serverRandom,
    ephemeralPrivate: ref.x25519PrivateFromRaw(INPUTS.serverX25519),
  });
  const client = ref.clientFinish(state, sh);
  const cbc = cipher === ref.CIPHER_CBC_HMAC;
  const ivOf = (f) => (cbc ? f.iv : undefined);

  const v = { name: `kex${kex}-${ref.CIPHER_NAMES[cipher]}`, kex, cipher, cipher_name: ref.CIPHER_NAMES[cipher] };
  v.CH = hex(ch);
  v.SH = hex(sh);
  v.shared = hex(kex === ref.KEX_X25519 ? ref.x25519Shared(ref.x25519PrivateFromRaw(INPUTS.clientX25519), ref.x25519PublicRaw(ref.x25519PrivateFromRaw(INPUTS.serverX25519))) : INPUTS.rsaSecret);
  v.th = hex(client.th);
  v.prk = hex(client.prk);
  v.c2s = hex(client.c2s);
  v.s2c = hex(client.s2c);
  if (kex === ref.KEX_RSA) v.confirm_key = hex(ref.hkdfExpand(client.prk, ref.LABEL_CONFIRM, 32));
  for (const [dir, secret] of [
    ['c2s', client.c2s],
    ['s2c', client.s2c],
  ]) {
    const k = keysOf(cipher, secret);
    for (const [name, value] of Object.entries(k)) v[`${dir}_${name}`] = value;
  }

  // Records: two client frames, one server frame, the client's KeyUpdate, one more client frame.
  const check = (receiver, frame, want) => {
    const got = receiver.open(frame);
    if (!got.body.equals(want)) throw new Error(`${v.name}: the reference does not open its own record`);
  };
  v.client_frames = INPUTS.clientFrames.map((f, i) => {
    const frame = client.seal(f.type, f.flags, f.seq, f.plaintext, ivOf(f));
    check(server, frame, f.plaintext);
    return frameVector(f, frame, i, cipher);
  });
  v.server_frames = INPUTS.serverFrames.map((f, i) => {
    const frame = server.seal(f.type, f.flags, f.seq, f.plaintext, ivOf(f));
    check(client, frame, f.plaintext);
    return frameVector(f, frame, i, cipher);
  });
  const counter = Number(client.sendCounter);
  const ku = client.keyUpdate(cbc ? INPUTS.keyUpdateIv : undefined);
  check(server, ku, Buffer.from([3]));
  v.client_key_update = frameVector({ type: 0, flags: 0, seq: 0, plaintext: Buffer.from([3]), iv: INPUTS.keyUpdateIv }, ku, counter, cipher);
  v.c2s_updated = hex(client.sendSecret);
  if (!server.recvSecret.equals(client.sendSecret)) throw new Error(`${v.name}: the secrets after the update differ`);
  for (const [name, value] of Object.entries(keysOf(cipher, client.sendSecret))) v[`c2s_updated_${name}`] = value;
  const a = INPUTS.afterUpdate;
  const after = client.seal(a.type, a.flags, a.seq, a.plaintext, ivOf(a));
  check(server, after, a.plaintext);
  v.client_frame_after_update = frameVector(a, after, 0, cipher);
  return v;
}

function generate() {
  const read = (f) => fs.readFileSync(path.join(FIXTURES, f));
  const keys = { ed25519: read('ed25519.pem'), ed25519Pub: read('ed25519.pub.pem'), rsa: read('rsa.pem'), rsaPub: read('rsa.pub.pem') };
  const secret = ref.rsaOaepDecrypt(crypto.createPrivateKey(keys.rsa), INPUTS.rsaCiphertext);
  if (!secret.equals(INPUTS.rsaSecret)) throw new Error('the fixed RSA-OAEP ciphertext does not decrypt to the fixed secret under test/fixtures/crypto/rsa.pem');
  const edPub = crypto.createPublicKey(keys.ed25519Pub).export({ format: 'der', type: 'spki' });
  const inputs = {
    client_random: hex(INPUTS.clientRandom),
    server_random: hex(INPUTS.serverRandom),
    client_x25519_private: hex(INPUTS.clientX25519),
    client_x25519_public: hex(ref.x25519PublicRaw(ref.x25519PrivateFromRaw(INPUTS.clientX25519))),
    server_x25519_private: hex(INPUTS.serverX25519),
    server_x25519_public: hex(ref.x25519PublicRaw(ref.x25519PrivateFromRaw(INPUTS.serverX25519))),
    ed25519_public: hex(edPub.subarray(edPub.length - 32)),
    ed25519_private_pem: 'test/fixtures/crypto/ed25519.pem',
    rsa_private_pem: 'test/fixtures/crypto/rsa.pem',
    rsa_secret: hex(INPUTS.rsaSecret),
    rsa_oaep_ciphertext: hex(INPUTS.rsaCiphertext),
    client_ciphers: INPUTS.clientCiphers,
    server_ciphers: 'the one cipher of each case',
  };
  const cases = [];
  for (const kex of [ref.KEX_X25519, ref.KEX_RSA]) {
    for (const cipher of [ref.CIPHER_AES_GCM, ref.CIPHER_CHACHA, ref.CIPHER_CBC_HMAC]) cases.push(oneCase(kex, cipher, keys));
  }
  const json = { generator: 'scripts/encryption-vectors.js', spec: 'docs/encryption.md', inputs, cases };
  return { json: JSON.stringify(json, null, 2) + '\n', md: renderMarkdown(inputs, cases) };
}

function renderMarkdown(inputs, cases) {
  const L = [];
  const row = (name, value) => L.push(`${name.padEnd(14)}${value}`);
  const fr = (f) => f.frame;
  L.push('');
  L.push('All values are hex; these and more (the X25519 shared secret, the keys after the update, a');
  L.push('client frame after it) are in `test/fixtures/crypto/vectors.json`. The server keys are the');
  L.push('test-only `test/fixtures/crypto/ed25519.pem` and `test/fixtures/crypto/rsa.pem`. The client');
  L.push('offers ciphers 01 02 03; in each case the server accepts only that case\'s cipher. Frames are');
  L.push('whole frames, header included. The KeyUpdate is the client\'s, right after client 2 (so under');
  L.push('counter 2); `c2s\'` is the secret after it. The legacy IVs are fixed here, random in use.');
  L.push('');
  L.push('```text');
  row('client random', inputs.client_random);
  row('server random', inputs.server_random);
  row('client X25519', `${inputs.client_x25519_private} (RFC 7748 6.1, Alice)`);
  row('server X25519', `${inputs.server_x25519_private} (RFC 7748 6.1, Bob)`);
  row('Ed25519 pub', inputs.ed25519_public);
  row('RSA secret', inputs.rsa_secret);
  const f1 = INPUTS.clientFrames[0];
  const f2 = INPUTS.clientFrames[1];
  const s1 = INPUTS.serverFrames[0];
  row('client 1', `type ${f1.type}, flags ${f1.flags}, seq ${f1.seq}, counter 0, "${f1.plaintext}", legacy IV ${hex(f1.iv)}`);
  row('client 2', `type ${f2.type}, flags ${f2.flags}, seq ${f2.seq}, counter 1, ${hex(f2.plaintext)}, legacy IV ${hex(f2.iv)}`);
  row('server 1', `type ${s1.type}, flags ${s1.flags}, seq ${s1.seq}, counter 0, "${s1.plaintext}", legacy IV ${hex(s1.iv)}`);
  row('KeyUpdate', `type 0, flags 0, seq 0, counter 2, 03, legacy IV ${hex(INPUTS.keyUpdateIv)}`);
  L.push('```');
  for (const kex of [ref.KEX_X25519, ref.KEX_RSA]) {
    const mine = cases.filter((c) => c.kex === kex);
    L.push('');
    L.push(`Key exchange ${kex}, ${KEX_NAMES[kex]} (CH is the same for the three ciphers):`);
    L.push('');
    L.push('```text');
    row('CH', mine[0].CH);
    for (const c of mine) {
      L.push('');
      L.push(`# cipher ${c.cipher}, ${c.cipher_name}`);
      row('SH', c.SH);
      row('th', c.th);
      row('prk', c.prk);
      row('c2s', c.c2s);
      row('s2c', c.s2c);
      const k2 = c.cipher === ref.CIPHER_CBC_HMAC ? 'mac' : 'iv';
      row(`c2s key ${k2}`, `${c.c2s_key} ${c[`c2s_${k2}`]}`);
      row(`s2c key ${k2}`, `${c.s2c_key} ${c[`s2c_${k2}`]}`);
      row('client 1', fr(c.client_frames[0]));
      row('client 2', fr(c.client_frames[1]));
      row('server 1', fr(c.server_frames[0]));
      row('KeyUpdate', fr(c.client_key_update));
      row("c2s'", c.c2s_updated);
    }
    L.push('```');
  }
  return L.join('\n') + '\n';
}

function main() {
  const checkOnly = process.argv.includes('--check');
  const { json, md } = generate();
  const doc = fs.readFileSync(DOC, 'utf8');
  const at = doc.indexOf(MARKER);
  if (at < 0) {
    process.stderr.write(`encryption-vectors: docs/encryption.md has no line ${MARKER}\n`);
    process.exit(1);
  }
  const newDoc = doc.slice(0, at + MARKER.length) + '\n' + md;
  const oldJson = fs.existsSync(JSON_OUT) ? fs.readFileSync(JSON_OUT, 'utf8') : null;
  if (checkOnly) {
    const stale = [];
    if (newDoc !== doc) stale.push('docs/encryption.md');
    if (oldJson !== json) stale.push('test/fixtures/crypto/vectors.json');
    if (stale.length) {
      process.stderr.write(`encryption-vectors: ${stale.join(' and ')} ${stale.length > 1 ? 'differ' : 'differs'} from what the reference implementation gives (run node scripts/encryption-vectors.js)\n`);
      process.exit(1);
    }
    process.stdout.write('encryption-vectors: docs/encryption.md and test/fixtures/crypto/vectors.json are up to date\n');
    return;
  }
  if (newDoc !== doc) fs.writeFileSync(DOC, newDoc);
  if (oldJson !== json) fs.writeFileSync(JSON_OUT, json);
  process.stdout.write(`encryption-vectors: wrote ${JSON.parse(json).cases.length} cases to test/fixtures/crypto/vectors.json and docs/encryption.md\n`);
}

main();
