// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// An independent reference implementation of both sides of evwire's message encryption
// (docs/encryption.md), written from that page alone with node:crypto, node:net and node:events:
// nothing here comes from lib/ or native/. It serves the tests (test/crypto-ref.test.ts) and
// the test vectors of the page (scripts/encryption-vectors.js).
//
// Choices this file makes where the page leaves room:
// - Session.open() returns a received KeyUpdate as { type: 0, flags: 0, seq: 0, body: [0x03] }
//   after applying it; RefClient and RefServer consume it silently.
// - The server ignores cipher ids it does not know in a ClientHello (they are never chosen),
//   and duplicates; 0 or more than 8 ids is refused.
// - A type-0 record is a KeyUpdate only with seq 0, flags exactly 0x0001 and plaintext [0x03].
// - The client refuses an all-zero X25519 shared secret too, and a ServerHello whose cipher it
//   did not offer, whose key exchange is not its own, or whose length is not exact.
// - Handshake frames must have flags 0 and seq 0; the KeyUpdate is sent with flags 0x0001.
// - A sender updates its key once rekeyAfterBytes plaintext bytes were sealed under it (checked
//   after each frame), or before its 2^24th frame, so that no key seals more than 2^24 records
//   with the KeyUpdate counted.
// - Legacy padding is strict PKCS#7 (all p bytes equal p, 1 <= p <= 16); the MAC and the
//   padding are both checked on every record and fail with the same error.
import * as crypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import * as net from 'node:net';
import { EventEmitter } from 'node:events';

export const KEX_X25519 = 1;
export const KEX_RSA = 2;
export const CIPHER_AES_GCM = 1;
export const CIPHER_CHACHA = 2;
export const CIPHER_CBC_HMAC = 3;
export const FLAG_ENCRYPTED = 1;

export const HEADER_BYTES = 12;
export const MSG_CLIENT_HELLO = 0x01;
export const MSG_SERVER_HELLO = 0x02;
export const MSG_KEY_UPDATE = 0x03;
export const VERSION = 0x01;
export const TAG_BYTES = 16;
export const MAC_BYTES = 32;
/** A sender updates its key before a key has sealed more than this many frames. */
export const MAX_FRAMES_PER_KEY = 2 ** 24;

export const CIPHER_NAMES: Record<number, string> = {
  [CIPHER_AES_GCM]: 'aes-256-gcm',
  [CIPHER_CHACHA]: 'chacha20-poly1305',
  [CIPHER_CBC_HMAC]: 'aes-256-cbc-hmac-sha256',
};

export type ErrorCode = 'EW_EPROTO_HANDSHAKE' | 'EW_EPROTO_CRYPTO' | 'EW_EPROTO_PLAINTEXT' | 'EW_EPROTO_FRAME';

/** Every failure of the protocol, with the close code of docs/encryption.md in `code`. */
export class RefProtocolError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'RefProtocolError';
  }
}

const handshakeError = (m: string): RefProtocolError => new RefProtocolError('EW_EPROTO_HANDSHAKE', m);
const cryptoError = (m: string): RefProtocolError => new RefProtocolError('EW_EPROTO_CRYPTO', m);

// ---------------------------------------------------------------------------------------------
// Frames (docs/protocol.md section 1)

export interface Frame {
  type: number;
  flags: number;
  seq: number;
  body: Buffer;
}

function checkU(v: number, bits: 16 | 32, what: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 2 ** bits - 1) throw new RangeError(`${what} ${v} is not a u${bits}`);
}

/** The 12-byte header: u32 length, u16 type, u16 flags, u32 seq, big-endian. */
export function encodeHeader(length: number, type: number, flags: number, seq: number): Buffer {
  checkU(length, 32, 'length');
  checkU(type, 16, 'type');
  checkU(flags, 16, 'flags');
  checkU(seq, 32, 'seq');
  const h = Buffer.alloc(HEADER_BYTES);
  h.writeUInt32BE(length, 0);
  h.writeUInt16BE(type, 4);
  h.writeUInt16BE(flags, 6);
  h.writeUInt32BE(seq, 8);
  return h;
}

export function encodeFrame(type: number, flags: number, seq: number, body: Uint8Array): Buffer {
  return Buffer.concat([encodeHeader(body.length, type, flags, seq), body]);
}

/** Parses one whole frame (header and exactly `length` body bytes). */
export function decodeFrame(buf: Buffer): Frame {
  if (buf.length < HEADER_BYTES) throw new RefProtocolError('EW_EPROTO_FRAME', `${buf.length} bytes is shorter than a header`);
  const length = buf.readUInt32BE(0);
  if (buf.length !== HEADER_BYTES + length) throw new RefProtocolError('EW_EPROTO_FRAME', `header says ${length} body bytes, ${buf.length - HEADER_BYTES} given`);
  return { type: buf.readUInt16BE(4), flags: buf.readUInt16BE(6), seq: buf.readUInt32BE(8), body: Buffer.from(buf.subarray(HEADER_BYTES)) };
}

/** Cuts frames out of a byte stream: push() what arrives, then next() until it returns null. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(Buffer.from(bytes));
    this.size += bytes.length;
  }

  /** Bytes held that do not make a whole frame yet. */
  get buffered(): number {
    return this.size;
  }

  next(): Frame | null {
    if (this.size < HEADER_BYTES) return null;
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks)];
    const buf = this.chunks[0];
    const length = buf.readUInt32BE(0);
    if (this.size < HEADER_BYTES + length) return null;
    const f = decodeFrame(buf.subarray(0, HEADER_BYTES + length));
    const rest = buf.subarray(HEADER_BYTES + length);
    this.chunks = rest.length ? [rest] : [];
    this.size = rest.length;
    return f;
  }
}

// ---------------------------------------------------------------------------------------------
// Primitives

/** RFC 5869 HKDF-Extract with SHA-256. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return crypto.createHmac('sha256', salt).update(ikm).digest();
}

/** RFC 5869 HKDF-Expand with SHA-256; `info` is raw bytes or an ASCII label. */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array | string, length: number): Buffer {
  if (length > 255 * 32) throw new RangeError('HKDF-Expand: length too large');
  const infoBytes = typeof info === 'string' ? Buffer.from(info, 'ascii') : Buffer.from(info);
  const out: Buffer[] = [];
  let t = Buffer.alloc(0);
  for (let i = 1, have = 0; have < length; i++) {
    t = crypto
      .createHmac('sha256', prk)
      .update(Buffer.concat([t, infoBytes, Buffer.from([i])]))
      .digest();
    out.push(t);
    have += t.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

export function hmacSha256(key: Uint8Array, ...data: Uint8Array[]): Buffer {
  const h = crypto.createHmac('sha256', key);
  for (const d of data) h.update(d);
  return h.digest();
}

export function sha256(...data: Uint8Array[]): Buffer {
  const h = crypto.createHash('sha256');
  for (const d of data) h.update(d);
  return h.digest();
}

function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, n));
  return b;
}

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

/** An X25519 private KeyObject from its 32 raw bytes (RFC 7748 scalar, as given). */
export function x25519PrivateFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError('an X25519 private key is 32 bytes');
  return crypto.createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

/** An X25519 public KeyObject from its 32 raw bytes (the u-coordinate, little-endian). */
export function x25519PublicFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError('an X25519 public key is 32 bytes');
  return crypto.createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The 32 raw bytes of the public key of an X25519 private or public KeyObject. */
export function x25519PublicRaw(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? crypto.createPublicKey(key) : key;
  if (pub.asymmetricKeyType !== 'x25519') throw new TypeError(`not an X25519 key: ${pub.asymmetricKeyType}`);
  const der = pub.export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - 32));
}

/** X25519(private, peer public raw); throws a handshake error on an all-zero result (low order). */
export function x25519Shared(priv: KeyObject, peerPublicRaw: Uint8Array): Buffer {
  let shared: Buffer;
  try {
    shared = crypto.diffieHellman({ privateKey: priv, publicKey: x25519PublicFromRaw(peerPublicRaw) });
  } catch (e) {
    // OpenSSL refuses to return an all-zero X25519 output.
    throw handshakeError(`X25519 failed (low-order key?): ${(e as Error).message}`);
  }
  if (shared.every((b) => b === 0)) throw handshakeError('low-order X25519 key: the shared secret is all zero');
  return shared;
}

function rsaModulusBytes(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || !bits) throw new TypeError('not an RSA key');
  return Math.ceil(bits / 8);
}

/** RSA-OAEP, SHA-256 for the hash and MGF1, empty label. */
export function rsaOaepEncrypt(pub: KeyObject, data: Uint8Array): Buffer {
  return crypto.publicEncrypt({ key: pub, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
}

export function rsaOaepDecrypt(priv: KeyObject, data: Uint8Array): Buffer {
  return crypto.privateDecrypt({ key: priv, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, data);
}

// ---------------------------------------------------------------------------------------------
// Key schedule

export const LABEL_C2S = 'evwire v1 c2s';
export const LABEL_S2C = 'evwire v1 s2c';
export const LABEL_CONFIRM = 'evwire v1 confirm';
export const LABEL_SIGNATURE = 'evwire v1 server signature';

export interface Schedule {
  th: Buffer;
  prk: Buffer;
  c2s: Buffer;
  s2c: Buffer;
}

export function keySchedule(ch: Uint8Array, shStar: Uint8Array, shared: Uint8Array): Schedule {
  const th = sha256(ch, shStar);
  const prk = hkdfExtract(th, shared);
  return { th, prk, c2s: hkdfExpand(prk, LABEL_C2S, 32), s2c: hkdfExpand(prk, LABEL_S2C, 32) };
}

export function confirmation(prk: Uint8Array, th: Uint8Array): Buffer {
  return hmacSha256(hkdfExpand(prk, LABEL_CONFIRM, 32), th);
}

export function signatureInput(th: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(LABEL_SIGNATURE, 'ascii'), th]);
}

/** The keys of one direction under secret S: key and iv (AEAD) or key and mac (legacy). */
export interface TrafficKeys {
  key: Buffer;
  iv?: Buffer;
  mac?: Buffer;
}

export function trafficKeys(cipher: number, secret: Uint8Array): TrafficKeys {
  const key = hkdfExpand(secret, 'key', 32);
  if (cipher === CIPHER_CBC_HMAC) return { key, mac: hkdfExpand(secret, 'mac', 32) };
  if (cipher === CIPHER_AES_GCM || cipher === CIPHER_CHACHA) return { key, iv: hkdfExpand(secret, 'iv', 12) };
  throw new RangeError(`unknown cipher ${cipher}`);
}

export function nextSecret(secret: Uint8Array): Buffer {
  return hkdfExpand(secret, 'update', 32);
}

// ---------------------------------------------------------------------------------------------
// Records

// Typed as the GCM overload of createCipheriv (the options are the same for ChaCha20-Poly1305).
function aeadName(cipher: number): crypto.CipherGCMTypes {
  if (cipher === CIPHER_AES_GCM) return 'aes-256-gcm';
  if (cipher === CIPHER_CHACHA) return 'chacha20-poly1305' as crypto.CipherGCMTypes;
  throw new RangeError(`cipher ${cipher} is not an AEAD`);
}

export function aeadNonce(iv: Buffer, n: bigint): Buffer {
  const nonce = Buffer.from(iv);
  const c = u64(n);
  for (let i = 0; i < 8; i++) nonce[4 + i] ^= c[i];
  return nonce;
}

/** PKCS#7 to a multiple of 16: 1 to 16 bytes of value p. */
export function pkcs7(plaintext: Uint8Array): Buffer {
  const p = 16 - (plaintext.length % 16);
  return Buffer.concat([plaintext, Buffer.alloc(p, p)]);
}

/** Seals one record under `keys` with counter `n`; returns the whole frame (header and body). */
export function sealRecord(cipher: number, keys: TrafficKeys, n: bigint, type: number, flags: number, seq: number, plaintext: Uint8Array, cbcIv?: Uint8Array): Buffer {
  if (cipher === CIPHER_CBC_HMAC) return sealCbc(keys, n, type, flags, seq, pkcs7(plaintext), cbcIv);
  const header = encodeHeader(plaintext.length + TAG_BYTES, type, flags | FLAG_ENCRYPTED, seq);
  const c = crypto.createCipheriv(aeadName(cipher), keys.key, aeadNonce(keys.iv!, n), { authTagLength: TAG_BYTES });
  c.setAAD(header);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([header, ct, c.getAuthTag()]);
}

/** Legacy: seals an already padded plaintext (the padding is not checked here). */
export function sealCbc(keys: TrafficKeys, n: bigint, type: number, flags: number, seq: number, padded: Uint8Array, cbcIv?: Uint8Array): Buffer {
  if (padded.length === 0 || padded.length % 16 !== 0) throw new RangeError('padded plaintext must be a non-zero multiple of 16 bytes');
  const iv = cbcIv ? Buffer.from(cbcIv) : crypto.randomBytes(16);
  if (iv.length !== 16) throw new RangeError('the CBC IV is 16 bytes');
  const header = encodeHeader(16 + padded.length + MAC_BYTES, type, flags | FLAG_ENCRYPTED, seq);
  const c = crypto.createCipheriv('aes-256-cbc', keys.key, iv).setAutoPadding(false);
  const ct = Buffer.concat([c.update(padded), c.final()]);
  const mac = hmacSha256(keys.mac!, u64(n), header, iv, ct);
  return Buffer.concat([header, iv, ct, mac]);
}

/** Checks PKCS#7 padding without branching on the bytes; returns the pad length or 0. */
function padLength(padded: Buffer): number {
  const p = padded[padded.length - 1];
  // bad = 1 unless 1 <= p <= 16
  let bad = ((p - 1) >>> 31) | ((16 - p) >>> 31);
  for (let i = 1; i <= 16; i++) {
    const inPad = (i - p - 1) >>> 31; // 1 when i <= p
    bad |= inPad & ((padded[padded.length - i] ^ p) !== 0 ? 1 : 0);
  }
  return bad ? 0 : p;
}

/** Opens one record under `keys` with counter `n`; throws EW_EPROTO_CRYPTO if it does not verify. */
export function openRecord(cipher: number, keys: TrafficKeys, n: bigint, f: Frame): Buffer {
  const header = encodeHeader(f.body.length, f.type, f.flags, f.seq);
  if (cipher === CIPHER_CBC_HMAC) {
    const len = f.body.length;
    if (len < 64 || (len - 48) % 16 !== 0) throw cryptoError(`legacy record of ${len} bytes has a bad length`);
    const iv = f.body.subarray(0, 16);
    const ct = f.body.subarray(16, len - MAC_BYTES);
    const mac = f.body.subarray(len - MAC_BYTES);
    const macOk = crypto.timingSafeEqual(mac, hmacSha256(keys.mac!, u64(n), header, iv, ct));
    // The same work whether the MAC verified or not: decrypt and check the padding anyway.
    const d = crypto.createDecipheriv('aes-256-cbc', keys.key, iv).setAutoPadding(false);
    const padded = Buffer.concat([d.update(ct), d.final()]);
    const p = padLength(padded);
    if (!macOk || p === 0) throw cryptoError('legacy record does not verify');
    return padded.subarray(0, padded.length - p);
  }
  if (f.body.length < TAG_BYTES) throw cryptoError(`record of ${f.body.length} bytes is shorter than a tag`);
  const d = crypto.createDecipheriv(aeadName(cipher), keys.key, aeadNonce(keys.iv!, n), { authTagLength: TAG_BYTES });
  d.setAAD(header);
  d.setAuthTag(f.body.subarray(f.body.length - TAG_BYTES));
  const pt = d.update(f.body.subarray(0, f.body.length - TAG_BYTES));
  try {
    d.final();
  } catch {
    throw cryptoError('record does not verify (bad tag)');
  }
  return pt;
}

// ---------------------------------------------------------------------------------------------
// Session: one side's traffic state after the handshake

export class Session {
  /** Direction secrets as they are now (they change with key updates). */
  sendSecret: Buffer;
  recvSecret: Buffer;
  /** Record counters: frames sealed (opened) under the current send (receive) secret. */
  sendCounter = 0n;
  recvCounter = 0n;
  /** Plaintext bytes sealed under the current send secret. */
  sendBytes = 0;
  /** Key updates sent and received. */
  sendUpdates = 0;
  recvUpdates = 0;
  /** When set, needsKeyUpdate() turns true once this many plaintext bytes were sealed under one key. */
  rekeyAfterBytes: number | undefined;
  /** The first error open() threw; the session refuses everything after it. */
  failed: RefProtocolError | null = null;
  private sendKeys: TrafficKeys;
  private recvKeys: TrafficKeys;

  constructor(
    readonly role: 'client' | 'server',
    readonly cipher: number,
    readonly kex: number,
    readonly schedule: Schedule,
  ) {
    const [send, recv] = role === 'client' ? [schedule.c2s, schedule.s2c] : [schedule.s2c, schedule.c2s];
    this.sendSecret = send;
    this.recvSecret = recv;
    this.sendKeys = trafficKeys(cipher, send);
    this.recvKeys = trafficKeys(cipher, recv);
  }

  get th(): Buffer {
    return this.schedule.th;
  }
  get prk(): Buffer {
    return this.schedule.prk;
  }
  get c2s(): Buffer {
    return this.schedule.c2s;
  }
  get s2c(): Buffer {
    return this.schedule.s2c;
  }
  /** The current keys of each direction (copies). */
  get currentSendKeys(): TrafficKeys {
    return { ...this.sendKeys };
  }
  get currentRecvKeys(): TrafficKeys {
    return { ...this.recvKeys };
  }

  /** Seals a frame under the current send key and counter, and advances the counter. */
  seal(type: number, flags: number, seq: number, plaintext: Uint8Array, cbcIv?: Uint8Array): Buffer {
    const out = this.sealAt(this.sendCounter, type, flags, seq, plaintext, cbcIv);
    this.sendCounter++;
    this.sendBytes += plaintext.length;
    return out;
  }

  /** Seals with a chosen counter under the current send key; changes no state (replay tests). */
  sealAt(counter: bigint | number, type: number, flags: number, seq: number, plaintext: Uint8Array, cbcIv?: Uint8Array): Buffer {
    return sealRecord(this.cipher, this.sendKeys, BigInt(counter), type, flags, seq, plaintext, cbcIv);
  }

  /** Legacy only: seals caller-chosen padded bytes (any padding, valid or not) with a correct MAC; advances the counter. */
  sealCbcWithPadding(type: number, flags: number, seq: number, paddedPlaintext: Uint8Array, iv?: Uint8Array): Buffer {
    if (this.cipher !== CIPHER_CBC_HMAC) throw new Error('sealCbcWithPadding: the session does not use the legacy cipher');
    const out = sealCbc(this.sendKeys, this.sendCounter, type, flags, seq, paddedPlaintext, iv);
    this.sendCounter++;
    return out;
  }

  /** Whether the sender must update its key now (rekeyAfterBytes, or 2^24 frames with the KeyUpdate counted). */
  needsKeyUpdate(): boolean {
    if (this.sendCounter >= BigInt(MAX_FRAMES_PER_KEY - 1)) return true;
    return this.rekeyAfterBytes !== undefined && this.sendBytes >= this.rekeyAfterBytes;
  }

  /** Returns the KeyUpdate frame (sealed under the current key), then switches the send secret. */
  keyUpdate(cbcIv?: Uint8Array): Buffer {
    const frame = this.sealAt(this.sendCounter, 0, 0, 0, Buffer.from([MSG_KEY_UPDATE]), cbcIv);
    this.sendSecret = nextSecret(this.sendSecret);
    this.sendKeys = trafficKeys(this.cipher, this.sendSecret);
    this.sendCounter = 0n;
    this.sendBytes = 0;
    this.sendUpdates++;
    return frame;
  }

  /**
   * Opens a received frame (an object or a whole raw frame). Returns the application frame with
   * the encrypted flag cleared; a KeyUpdate is applied and returned as type 0, flags 0, seq 0,
   * body [0x03]. Throws a RefProtocolError on anything that does not verify, and every call
   * after a failure throws it again.
   */
  open(frame: Frame | Buffer): Frame {
    if (this.failed) throw this.failed;
    try {
      return this.openInner(Buffer.isBuffer(frame) ? decodeFrame(frame) : frame);
    } catch (e) {
      if (e instanceof RefProtocolError) this.failed = e;
      throw e;
    }
  }

  private openInner(f: Frame): Frame {
    if ((f.flags & FLAG_ENCRYPTED) === 0) throw new RefProtocolError('EW_EPROTO_PLAINTEXT', `plaintext frame (type ${f.type}) after the handshake`);
    const pt = openRecord(this.cipher, this.recvKeys, this.recvCounter, f);
    this.recvCounter++;
    if (f.type === 0) {
      if (f.seq !== 0 || f.flags !== FLAG_ENCRYPTED || pt.length !== 1 || pt[0] !== MSG_KEY_UPDATE) {
        throw handshakeError(`unexpected type-0 record after the handshake (seq ${f.seq}, flags ${f.flags}, ${pt.length} bytes)`);
      }
      this.recvSecret = nextSecret(this.recvSecret);
      this.recvKeys = trafficKeys(this.cipher, this.recvSecret);
      this.recvCounter = 0n;
      this.recvUpdates++;
      return { type: 0, flags: 0, seq: 0, body: Buffer.from([MSG_KEY_UPDATE]) };
    }
    return { type: f.type, flags: f.flags & ~FLAG_ENCRYPTED, seq: f.seq, body: pt };
  }
}

export function isKeyUpdate(f: Frame): boolean {
  return f.type === 0;
}

// ---------------------------------------------------------------------------------------------
// Handshake

export interface ClientHelloOptions {
  kex: 1 | 2;
  ciphers: number[];
  /** The pinned server key: Ed25519 public (kex 1) or RSA public (kex 2). A private key is reduced to its public key. */
  serverKey: KeyObject;
  random?: Buffer;
  /** Kex 1: the client's ephemeral X25519 private key. */
  ephemeralPrivate?: KeyObject;
  /** Kex 2: the 32-byte secret. */
  rsaSecret?: Buffer;
  /** Kex 2: a fixed OAEP ciphertext of rsaSecret (OAEP is randomized; test vectors fix it). Not checked. */
  rsaCiphertext?: Buffer;
}

export interface ClientHandshake {
  kex: 1 | 2;
  ciphers: number[];
  serverKey: KeyObject;
  ch: Buffer;
  random: Buffer;
  ephemeralPrivate?: KeyObject;
  rsaSecret?: Buffer;
}

function publicOf(key: KeyObject): KeyObject {
  return key.type === 'private' ? crypto.createPublicKey(key) : key;
}

export function clientHello(opts: ClientHelloOptions): { body: Buffer; state: ClientHandshake } {
  const { kex, ciphers } = opts;
  if (ciphers.length < 1 || ciphers.length > 8) throw new RangeError('a ClientHello offers 1 to 8 ciphers');
  if (ciphers.some((c) => !Number.isInteger(c) || c < 0 || c > 255)) throw new RangeError('a cipher id is one byte');
  const random = opts.random ?? crypto.randomBytes(32);
  if (random.length !== 32) throw new RangeError('the client random is 32 bytes');
  const serverKey = publicOf(opts.serverKey);
  const head = Buffer.concat([Buffer.from([MSG_CLIENT_HELLO, VERSION, kex, ciphers.length]), Buffer.from(ciphers), random]);
  if (kex === KEX_X25519) {
    if (serverKey.asymmetricKeyType !== 'ed25519') throw new TypeError('key exchange 1 pins an Ed25519 server key');
    const eph = opts.ephemeralPrivate ?? crypto.generateKeyPairSync('x25519').privateKey;
    const body = Buffer.concat([head, x25519PublicRaw(eph)]);
    return { body, state: { kex, ciphers: [...ciphers], serverKey, ch: body, random, ephemeralPrivate: eph } };
  }
  if (kex === KEX_RSA) {
    const modBytes = rsaModulusBytes(serverKey);
    const secret = opts.rsaSecret ?? crypto.randomBytes(32);
    if (secret.length !== 32) throw new RangeError('the RSA secret is 32 bytes');
    const ct = opts.rsaCiphertext ?? rsaOaepEncrypt(serverKey, secret);
    if (ct.length !== modBytes) throw new RangeError(`the RSA ciphertext is ${ct.length} bytes, the modulus ${modBytes}`);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(ct.length);
    const body = Buffer.concat([head, len, ct]);
    return { body, state: { kex, ciphers: [...ciphers], serverKey, ch: body, random, rsaSecret: secret } };
  }
  throw new RangeError(`unknown key exchange ${kex as number}`);
}

export const SERVER_HELLO_BYTES: Record<number, number> = { [KEX_X25519]: 36 + 32 + 64, [KEX_RSA]: 36 + 32 };
const SH_STAR_BYTES: Record<number, number> = { [KEX_X25519]: 68, [KEX_RSA]: 36 };

/** The client's side of the ServerHello: checks it, derives the keys, verifies the signature or confirmation. */
export function clientFinish(state: ClientHandshake, serverHelloBody: Buffer): Session {
  const sh = serverHelloBody;
  if (sh.length < 4) throw handshakeError(`ServerHello of ${sh.length} bytes is too short`);
  if (sh[0] !== MSG_SERVER_HELLO) throw handshakeError(`expected a ServerHello (0x02), got message 0x${sh[0].toString(16)}`);
  if (sh[1] !== VERSION) throw handshakeError(`unknown version ${sh[1]}`);
  if (sh[2] !== state.kex) throw handshakeError(`the ServerHello names key exchange ${sh[2]}, the client offered ${state.kex}`);
  const cipher = sh[3];
  if (!CIPHER_NAMES[cipher]) throw handshakeError(`unknown cipher ${cipher}`);
  if (!state.ciphers.includes(cipher)) throw handshakeError(`the server chose cipher ${cipher}, which the client did not offer`);
  if (sh.length !== SERVER_HELLO_BYTES[state.kex]) throw handshakeError(`ServerHello of ${sh.length} bytes for key exchange ${state.kex} (want ${SERVER_HELLO_BYTES[state.kex]})`);
  const shStar = sh.subarray(0, SH_STAR_BYTES[state.kex]);
  const last = sh.subarray(SH_STAR_BYTES[state.kex]);
  if (state.kex === KEX_X25519) {
    const shared = x25519Shared(state.ephemeralPrivate!, sh.subarray(36, 68));
    const sched = keySchedule(state.ch, shStar, shared);
    if (!crypto.verify(null, signatureInput(sched.th), state.serverKey, last)) throw handshakeError('bad server signature');
    return new Session('client', cipher, state.kex, sched);
  }
  const sched = keySchedule(state.ch, shStar, state.rsaSecret!);
  const want = confirmation(sched.prk, sched.th);
  if (!crypto.timingSafeEqual(want, last)) throw handshakeError('bad key confirmation');
  return new Session('client', cipher, state.kex, sched);
}

export interface ServerHelloOptions {
  /** Accepted ciphers, in the server's order of preference. */
  ciphers: number[];
  ed25519?: KeyObject;
  rsa?: KeyObject;
  random?: Buffer;
  ephemeralPrivate?: KeyObject;
}

export interface ParsedClientHello {
  kex: number;
  ciphers: number[];
  random: Buffer;
  x25519Public?: Buffer;
  rsaCiphertext?: Buffer;
}

/** Parses a ClientHello strictly (handshake errors on anything malformed), without any key. */
export function parseClientHello(ch: Buffer): ParsedClientHello {
  if (ch.length < 4) throw handshakeError(`ClientHello of ${ch.length} bytes is too short`);
  if (ch[0] !== MSG_CLIENT_HELLO) throw handshakeError(`expected a ClientHello (0x01), got message 0x${ch[0].toString(16)}`);
  if (ch[1] !== VERSION) throw handshakeError(`unknown version ${ch[1]}`);
  const kex = ch[2];
  const n = ch[3];
  if (n < 1 || n > 8) throw handshakeError(`a ClientHello offers 1 to 8 ciphers, not ${n}`);
  if (ch.length < 36 + n) throw handshakeError(`ClientHello of ${ch.length} bytes is too short`);
  const ciphers = [...ch.subarray(4, 4 + n)];
  const random = Buffer.from(ch.subarray(4 + n, 36 + n));
  const rest = ch.subarray(36 + n);
  if (kex === KEX_X25519) {
    if (rest.length !== 32) throw handshakeError(`key exchange 1 wants 32 key bytes, the ClientHello has ${rest.length}`);
    return { kex, ciphers, random, x25519Public: Buffer.from(rest) };
  }
  if (kex === KEX_RSA) {
    if (rest.length < 2) throw handshakeError('ClientHello too short for key exchange 2');
    const len = rest.readUInt16BE(0);
    if (rest.length !== 2 + len) throw handshakeError(`RSA ciphertext of ${len} bytes announced, ${rest.length - 2} present`);
    return { kex, ciphers, random, rsaCiphertext: Buffer.from(rest.subarray(2)) };
  }
  throw handshakeError(`unknown key exchange ${kex}`);
}

/** The server's side: checks the ClientHello, picks the cipher, answers with the ServerHello body. */
export function serverHello(clientHelloBody: Buffer, opts: ServerHelloOptions): { body: Buffer; session: Session } {
  const ch = clientHelloBody;
  const p = parseClientHello(ch);
  const cipher = opts.ciphers.find((c) => CIPHER_NAMES[c] !== undefined && p.ciphers.includes(c));
  if (p.kex === KEX_X25519 && !opts.ed25519) throw handshakeError('key exchange 1 but the server has no Ed25519 key');
  if (p.kex === KEX_RSA && !opts.rsa) throw handshakeError('key exchange 2 but the server has no RSA key');
  if (cipher === undefined) throw handshakeError(`no cipher in common (client ${p.ciphers.join(',')}, server ${opts.ciphers.join(',')})`);
  const random = opts.random ?? crypto.randomBytes(32);
  if (random.length !== 32) throw new RangeError('the server random is 32 bytes');
  const head = Buffer.concat([Buffer.from([MSG_SERVER_HELLO, VERSION, p.kex, cipher]), random]);
  if (p.kex === KEX_X25519) {
    const eph = opts.ephemeralPrivate ?? crypto.generateKeyPairSync('x25519').privateKey;
    const shared = x25519Shared(eph, p.x25519Public!);
    const shStar = Buffer.concat([head, x25519PublicRaw(eph)]);
    const sched = keySchedule(ch, shStar, shared);
    const sig = crypto.sign(null, signatureInput(sched.th), opts.ed25519!);
    return { body: Buffer.concat([shStar, sig]), session: new Session('server', cipher, p.kex, sched) };
  }
  const rsa = opts.rsa!;
  if (p.rsaCiphertext!.length !== rsaModulusBytes(rsa)) throw handshakeError(`RSA ciphertext of ${p.rsaCiphertext!.length} bytes, the modulus is ${rsaModulusBytes(rsa)}`);
  let secret: Buffer;
  try {
    secret = rsaOaepDecrypt(rsa, p.rsaCiphertext!);
  } catch {
    throw handshakeError('the RSA ciphertext does not decrypt');
  }
  if (secret.length !== 32) throw handshakeError(`the RSA ciphertext decrypts to ${secret.length} bytes, not 32`);
  const sched = keySchedule(ch, head, secret);
  return { body: Buffer.concat([head, confirmation(sched.prk, sched.th)]), session: new Session('server', cipher, p.kex, sched) };
}

// ---------------------------------------------------------------------------------------------
// Peers over node:net

export interface RefClientOptions extends ClientHelloOptions {
  handshakeTimeoutMs?: number;
  rekeyAfterBytes?: number;
}

/** A client over TCP: handshake in connect(), then encrypted frames both ways. */
export class RefClient {
  session!: Session;
  /** The first protocol error this client hit (it then closed the socket). */
  error: Error | null = null;
  private readonly reader = new FrameReader();
  private readonly queue: Frame[] = [];
  private waiters: { resolve: (f: Frame) => void; reject: (e: Error) => void }[] = [];
  private isClosed = false;
  private readonly closedPromise: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('close', () => {
      this.isClosed = true;
      this.failWaiters(this.error ?? new Error('connection closed'));
    });
    socket.on('error', (e) => {
      this.error ??= e;
    });
  }

  static connect(port: number, host: string, opts: RefClientOptions): Promise<RefClient> {
    const { body, state } = clientHello(opts);
    const socket = net.connect(port, host);
    const client = new RefClient(socket);
    return new Promise((resolve, reject) => {
      let done = false;
      const fail = (e: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        client.error ??= e;
        socket.destroy();
        reject(e);
      };
      const timer = setTimeout(() => fail(new Error('handshake timeout: no ServerHello')), opts.handshakeTimeoutMs ?? 10000);
      socket.on('connect', () => socket.write(encodeFrame(0, 0, 0, body)));
      socket.on('close', () => fail(client.error ?? new Error('connection closed before the ServerHello')));
      socket.on('data', (d: Buffer) => {
        client.reader.push(d);
        if (!done) {
          const f = client.reader.next();
          if (!f) return;
          try {
            if (f.type !== 0 || f.flags !== 0 || f.seq !== 0) throw handshakeError(`expected the ServerHello frame (type 0, flags 0, seq 0), got type ${f.type} flags ${f.flags} seq ${f.seq}`);
            client.session = clientFinish(state, f.body);
          } catch (e) {
            fail(e as Error);
            return;
          }
          client.session.rekeyAfterBytes = opts.rekeyAfterBytes;
          done = true;
          clearTimeout(timer);
          resolve(client);
        }
        client.pump();
      });
    });
  }

  private failWaiters(e: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  private pump(): void {
    for (;;) {
      if (this.error) return;
      let f: Frame | null;
      try {
        f = this.reader.next();
        if (!f) return;
        f = this.session.open(f);
      } catch (e) {
        this.error = e as Error;
        this.socket.destroy();
        this.failWaiters(e as Error);
        return;
      }
      if (isKeyUpdate(f)) continue;
      const w = this.waiters.shift();
      if (w) w.resolve(f);
      else this.queue.push(f);
    }
  }

  /** Seals and writes one application frame (and a KeyUpdate after it when one is due). */
  send(type: number, seq: number, body: Uint8Array, flags = 0): void {
    this.socket.write(this.session.seal(type, flags, seq, body));
    if (this.session.needsKeyUpdate()) this.keyUpdate();
  }

  keyUpdate(): void {
    this.socket.write(this.session.keyUpdate());
  }

  writeRaw(buf: Uint8Array): void {
    this.socket.write(buf);
  }

  /** The next decrypted application frame. */
  next(timeoutMs = 10000): Promise<Frame> {
    const f = this.queue.shift();
    if (f) return Promise.resolve(f);
    if (this.error) return Promise.reject(this.error);
    if (this.isClosed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (x: Frame) => {
          clearTimeout(t);
          resolve(x);
        },
        reject: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  closed(): Promise<void> {
    return this.closedPromise;
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface RefServerOptions extends ServerHelloOptions {
  rekeyAfterBytes?: number;
  /** Called with each decrypted application frame; the default echoes it (same type, seq, flags, body). */
  onFrame?: (conn: RefServerConnection, f: Frame) => void;
  /** Tests: rewrites the ServerHello body before it is sent. */
  mutateServerHello?: (body: Buffer) => Buffer;
}

/** One accepted connection of a RefServer. */
export class RefServerConnection {
  session: Session | null = null;
  error: RefProtocolError | Error | null = null;
  readonly received: Frame[] = [];
  readonly reader = new FrameReader();

  constructor(
    readonly socket: net.Socket,
    private readonly server: RefServer,
  ) {}

  send(type: number, seq: number, body: Uint8Array, flags = 0): void {
    const s = this.session!;
    this.socket.write(s.seal(type, flags, seq, body));
    if (s.needsKeyUpdate()) this.keyUpdate();
  }

  keyUpdate(): void {
    this.socket.write(this.session!.keyUpdate());
  }

  /** Handles what arrived; closes the connection, without an answer, on the first error. */
  onData(d: Buffer): void {
    this.reader.push(d);
    const opts = this.server.opts;
    for (;;) {
      if (this.error) return;
      try {
        const f = this.reader.next();
        if (!f) return;
        if (!this.session) {
          if (f.type !== 0) throw new RefProtocolError('EW_EPROTO_PLAINTEXT', `the first frame (type ${f.type}) is not a ClientHello`);
          if (f.flags !== 0 || f.seq !== 0) throw handshakeError(`ClientHello frame with flags ${f.flags}, seq ${f.seq}`);
          const { body, session } = serverHello(f.body, opts);
          session.rekeyAfterBytes = opts.rekeyAfterBytes;
          this.session = session;
          this.socket.write(encodeFrame(0, 0, 0, opts.mutateServerHello ? opts.mutateServerHello(body) : body));
          this.server.emit('session', this);
          continue;
        }
        const g = this.session.open(f);
        if (isKeyUpdate(g)) continue;
        this.received.push(g);
        if (opts.onFrame) opts.onFrame(this, g);
        else this.send(g.type, g.seq, g.body, g.flags);
      } catch (e) {
        this.error = e as Error;
        this.socket.destroy();
        this.server.emit('failure', this, e);
        return;
      }
    }
  }
}

/** A server over TCP that speaks the protocol; emits 'session' (conn) and 'failure' (conn, err). */
export class RefServer extends EventEmitter {
  readonly connections: RefServerConnection[] = [];
  private readonly server: net.Server;

  private constructor(readonly opts: RefServerOptions) {
    super();
    this.server = net.createServer((socket) => {
      const conn = new RefServerConnection(socket, this);
      this.connections.push(conn);
      socket.on('error', (e) => {
        conn.error ??= e;
      });
      socket.on('data', (d: Buffer) => conn.onData(d));
    });
  }

  static async listen(opts: RefServerOptions, port = 0, host = '127.0.0.1'): Promise<RefServer> {
    const s = new RefServer(opts);
    await new Promise<void>((resolve, reject) => {
      s.server.once('error', reject);
      s.server.listen(port, host, () => resolve());
    });
    return s;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
