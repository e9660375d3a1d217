// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Message encryption's options (docs/encryption.md): validated here and turned into what the
// IO threads take (raw Ed25519 keys, RSA keys as DER), so that the native side parses no PEM and
// no option it was not given in its final form.
import { Buffer } from 'buffer';
import { createPrivateKey, createPublicKey, KeyObject } from 'crypto';
import { check } from './errors';
import type { NativeEncryption } from './native';
import { requireOpenSsl3 } from './tls';
import { CIPHER_AES_256_CBC_HMAC, CIPHER_AES_256_GCM, CIPHER_CHACHA20_POLY1305, CRYPT_OFF, CRYPT_OPTIONAL, CRYPT_REQUIRED } from './gen/wire';

/** A key as node:crypto takes it: PEM text, a PEM or DER buffer, or a KeyObject. */
export type KeyInput = string | Buffer | KeyObject;

export type CipherName = 'aes-256-gcm' | 'chacha20-poly1305' | 'aes-256-cbc-hmac-sha256';

export interface EncryptionOptions {
  /** 'required': every connection encrypts; 'optional' (servers): the client's first frame
   * decides; 'off' (default). */
  mode?: 'required' | 'optional' | 'off';
  /** One cipher or a list in order of preference. Default ['aes-256-gcm',
   * 'chacha20-poly1305']; 'aes-256-cbc-hmac-sha256' is a legacy mode, only when named. */
  cipher?: CipherName | CipherName[];
  /** A server: its private keys (at least one). A link: the server's public key it pins (one;
   * Ed25519 wins when both are given). */
  keys?: { ed25519?: KeyInput; rsa?: KeyInput };
  /** Each direction updates its key after this many plaintext bytes. Default 1 GiB. */
  rekeyAfterBytes?: number;
  /** The handshake must finish within this. Default 10000; 0: no limit. */
  handshakeTimeoutMs?: number;
}

const CIPHERS: Record<CipherName, number> = {
  'aes-256-gcm': CIPHER_AES_256_GCM,
  'chacha20-poly1305': CIPHER_CHACHA20_POLY1305,
  'aes-256-cbc-hmac-sha256': CIPHER_AES_256_CBC_HMAC,
};

function keyObject(input: KeyInput, priv: boolean, what: string): KeyObject {
  check(typeof input === 'string' || Buffer.isBuffer(input) || input instanceof KeyObject, `${what} must be PEM text, a PEM or DER Buffer, or a KeyObject`, input);
  if (input instanceof KeyObject) {
    if (!priv && input.type === 'private') return createPublicKey(input);
    check(input.type === (priv ? 'private' : 'public'), `${what} must be a ${priv ? 'private' : 'public'} key`, input.type);
    return input;
  }
  const make = priv ? createPrivateKey : createPublicKey;
  const tries: unknown[] = [input];
  if (Buffer.isBuffer(input)) {
    tries.push({ key: input, format: 'der', type: priv ? 'pkcs8' : 'spki' });
    if (!priv) tries.push({ key: input, format: 'der', type: 'pkcs1' });
  }
  let last: unknown;
  for (const t of tries) {
    try {
      return make(t as never);
    } catch (err) {
      last = err;
    }
  }
  check(false, `${what} does not parse as a ${priv ? 'private' : 'public'} key: ${(last as Error).message}`);
}

/** Validates `o` (the encryption option of listen, client: of connect) and converts the keys;
 * null for no encryption. InvalidArgumentError (EW_EINVAL) for anything wrong. */
export function encryptionNative(o: EncryptionOptions | undefined, client: boolean): NativeEncryption | null {
  if (o === undefined) return null;
  check(typeof o === 'object' && o !== null, 'encryption must be an object', o);
  const mode = o.mode ?? 'off';
  const modes = client ? ['required', 'off'] : ['required', 'optional', 'off'];
  check(modes.includes(mode), `encryption.mode must be one of ${modes.map((m) => `'${m}'`).join(', ')}`, mode);
  if (mode === 'off') return null;
  requireOpenSsl3('message encryption');
  const names = o.cipher === undefined ? (['aes-256-gcm', 'chacha20-poly1305'] as CipherName[]) : Array.isArray(o.cipher) ? o.cipher : [o.cipher];
  check(names.length >= 1 && names.length <= 8, 'encryption.cipher must name 1 to 8 ciphers', o.cipher);
  const ciphers = names.map((n) => {
    check(Object.hasOwn(CIPHERS, n), `encryption.cipher must be one of ${Object.keys(CIPHERS).join(', ')}`, n);
    return CIPHERS[n];
  });
  check(new Set(ciphers).size === ciphers.length, 'encryption.cipher names a cipher twice', o.cipher);
  const keys = o.keys ?? {};
  check(typeof keys === 'object' && keys !== null, 'encryption.keys must be an object', keys);
  check(keys.ed25519 !== undefined || keys.rsa !== undefined, client ? "encryption.keys must pin the server's key: ed25519 or rsa (its public key)" : 'encryption.keys must hold a private key: ed25519 or rsa');
  const out: NativeEncryption = {
    mode: mode === 'required' ? CRYPT_REQUIRED : mode === 'optional' ? CRYPT_OPTIONAL : CRYPT_OFF,
    ciphers,
    rekeyAfterBytes: o.rekeyAfterBytes ?? 0,
    handshakeTimeoutMs: o.handshakeTimeoutMs ?? 10000,
  };
  check(Number.isSafeInteger(out.rekeyAfterBytes) && out.rekeyAfterBytes >= 0, 'encryption.rekeyAfterBytes must be a non-negative integer', o.rekeyAfterBytes);
  check(Number.isInteger(out.handshakeTimeoutMs) && out.handshakeTimeoutMs >= 0 && out.handshakeTimeoutMs <= 0x7fffffff, 'encryption.handshakeTimeoutMs must be an integer in 0..2^31-1', o.handshakeTimeoutMs);
  if (keys.ed25519 !== undefined) {
    const k = keyObject(keys.ed25519, !client, 'encryption.keys.ed25519');
    check(k.asymmetricKeyType === 'ed25519', 'encryption.keys.ed25519 must be an Ed25519 key', k.asymmetricKeyType);
    const jwk = k.export({ format: 'jwk' });
    out.ed25519 = Buffer.from((client ? jwk.x : jwk.d) as string, 'base64url');
  }
  if (keys.rsa !== undefined && (!client || out.ed25519 === undefined)) {
    const k = keyObject(keys.rsa, !client, 'encryption.keys.rsa');
    check(k.asymmetricKeyType === 'rsa', 'encryption.keys.rsa must be an RSA key (not RSA-PSS)', k.asymmetricKeyType);
    const bits = k.asymmetricKeyDetails?.modulusLength ?? 0;
    check(bits >= 2048 && bits <= 8192, 'encryption.keys.rsa must have 2048 to 8192 bits', bits);
    out.rsa = client ? (k.export({ format: 'der', type: 'spki' }) as Buffer) : (k.export({ format: 'der', type: 'pkcs8' }) as Buffer);
  }
  return out;
}
