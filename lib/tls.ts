// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// TLS options (docs/tls.md): validated here and turned into what the IO threads take (PEM text,
// ALPN in its wire format), so that the native side only loads what it was given.
import { Buffer } from 'buffer';
import { KeyObject } from 'crypto';
import { isIP } from 'net';
import { check } from './errors';
import { TLS_V1_2, TLS_V1_3 } from './gen/wire';
import type { NativeTls } from './native';

/** PEM text, or a Buffer of it. */
export type Pem = string | Buffer;

interface TlsCommon {
  /** Certificates trusted for the peer (PEM, one or more). A link without it trusts the
   * system's store; a server uses it to verify client certificates. */
  ca?: Pem | Pem[];
  /** The lowest version accepted. Default 'TLSv1.2'; TLS 1.0 and 1.1 are never accepted. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** ALPN protocols in order of preference ('h2', 'http/1.1', ...). */
  alpn?: string[];
  /** The handshake must finish within this, or the connection closes with
   * EW_ETIMEOUT_HANDSHAKE. Default 10000; 0: no limit. */
  handshakeTimeoutMs?: number;
}

export interface TlsServerOptions extends TlsCommon {
  /** The certificate chain (PEM, the server's certificate first). */
  cert: Pem;
  /** Its private key (PEM, or a KeyObject). */
  key: Pem | KeyObject;
  /** Ask clients for a certificate. Default false. */
  requestCert?: boolean;
  /** With requestCert: refuse a client without a valid certificate (EW_ETLS_CERT). Default
   * true; false lets it in (conn.tls.authorized says which). */
  rejectUnauthorized?: boolean;
  /** More certificates, by the host name a client asks for (SNI). */
  sni?: Record<string, { cert: Pem; key: Pem | KeyObject }>;
}

export interface TlsClientOptions extends TlsCommon {
  /** A client certificate and key, for servers that ask. */
  cert?: Pem;
  key?: Pem | KeyObject;
  /** The name sent (SNI) and verified against the certificate. Default: the host connected
   * to when it is a name; an address is verified as an address. false: send none. */
  servername?: string | false;
  /** Refuse a server whose certificate does not verify (EW_ETLS_CERT). Default true. */
  rejectUnauthorized?: boolean;
}

/** The IO threads call the OpenSSL 3 of the node that loaded the addon (no copy of their own):
 * a node built without it, or with another major version, cannot run `what`. */
export function requireOpenSsl3(what: string): void {
  check(/^3\./.test(process.versions.openssl ?? ''), `${what} needs a node built with OpenSSL 3 (this one: ${process.versions.openssl ?? 'none'})`);
}

function pem(v: unknown, what: string): string {
  check(typeof v === 'string' || Buffer.isBuffer(v), `${what} must be PEM text or a Buffer of it`, v);
  const s = typeof v === 'string' ? v : v.toString('latin1');
  check(s.includes('-----BEGIN '), `${what} must be PEM ("-----BEGIN ...")`, s.slice(0, 40));
  return s;
}

function key(v: unknown, what: string): string {
  if (v instanceof KeyObject) {
    check(v.type === 'private', `${what} must be a private key`, v.type);
    return v.export({ format: 'pem', type: 'pkcs8' }) as string;
  }
  return pem(v, what);
}

function alpnWire(list: unknown): Buffer | undefined {
  if (list === undefined) return undefined;
  check(Array.isArray(list) && list.length > 0, 'tls.alpn must be a non-empty array of protocol names', list);
  const parts: Buffer[] = [];
  for (const p of list) {
    check(typeof p === 'string' && p.length >= 1 && Buffer.byteLength(p) <= 255, 'tls.alpn names must be 1 to 255 bytes', p);
    const b = Buffer.from(p as string);
    parts.push(Buffer.from([b.length]), b);
  }
  const wire = Buffer.concat(parts);
  check(wire.length <= 255, 'tls.alpn: the list must fit in 255 bytes', list);
  return wire;
}

function common(o: TlsCommon, out: NativeTls): void {
  if (o.ca !== undefined) {
    const list = Array.isArray(o.ca) ? o.ca : [o.ca];
    out.ca = list.map((c, i) => pem(c, `tls.ca[${i}]`)).join('\n');
  }
  const min = o.minVersion ?? 'TLSv1.2';
  check(min === 'TLSv1.2' || min === 'TLSv1.3', "tls.minVersion must be 'TLSv1.2' or 'TLSv1.3'", min);
  out.minVersion = min === 'TLSv1.3' ? TLS_V1_3 : TLS_V1_2;
  const alpn = alpnWire(o.alpn);
  if (alpn !== undefined) out.alpn = alpn;
  out.handshakeTimeoutMs = o.handshakeTimeoutMs ?? 10000;
  check(Number.isInteger(out.handshakeTimeoutMs) && out.handshakeTimeoutMs >= 0 && out.handshakeTimeoutMs <= 0x7fffffff, 'tls.handshakeTimeoutMs must be an integer in 0..2^31-1', o.handshakeTimeoutMs);
}

/** A server's tls option, validated and converted; null for none. */
export function tlsServerNative(o: TlsServerOptions | undefined): NativeTls | null {
  if (o === undefined) return null;
  check(typeof o === 'object' && o !== null, 'tls must be an object', o);
  requireOpenSsl3('TLS');
  const out: NativeTls = { cert: pem(o.cert, 'tls.cert'), key: key(o.key, 'tls.key'), minVersion: TLS_V1_2, handshakeTimeoutMs: 10000 };
  common(o, out);
  out.requestCert = o.requestCert ?? false;
  out.rejectUnauthorized = o.rejectUnauthorized ?? true;
  check(typeof out.requestCert === 'boolean' && typeof out.rejectUnauthorized === 'boolean', 'tls.requestCert and tls.rejectUnauthorized must be booleans');
  if (o.sni !== undefined) {
    check(typeof o.sni === 'object' && o.sni !== null, 'tls.sni must be an object: host name -> { cert, key }', o.sni);
    out.sni = Object.entries(o.sni).map(([name, e]) => {
      check(/^[A-Za-z0-9.*-]{1,253}$/.test(name), 'tls.sni names must be host names', name);
      return { name, cert: pem(e?.cert, `tls.sni['${name}'].cert`), key: key(e?.key, `tls.sni['${name}'].key`) };
    });
  }
  return out;
}

/** A link's tls option for a connection to `host`, validated and converted; null for none. */
export function tlsClientNative(o: TlsClientOptions | boolean | undefined, host: string): NativeTls | null {
  if (o === undefined || o === false) return null;
  const opts: TlsClientOptions = o === true ? {} : o;
  check(typeof opts === 'object' && opts !== null, 'tls must be an object or true', o);
  requireOpenSsl3('TLS');
  const out: NativeTls = { minVersion: TLS_V1_2, handshakeTimeoutMs: 10000 };
  common(opts, out);
  check((opts.cert === undefined) === (opts.key === undefined), 'tls.cert and tls.key go together');
  if (opts.cert !== undefined) {
    out.cert = pem(opts.cert, 'tls.cert');
    out.key = key(opts.key, 'tls.key');
  }
  out.rejectUnauthorized = opts.rejectUnauthorized ?? true;
  check(typeof out.rejectUnauthorized === 'boolean', 'tls.rejectUnauthorized must be a boolean', opts.rejectUnauthorized);
  const name = opts.servername ?? (isIP(host) === 0 ? host : false);
  check(name === false || (typeof name === 'string' && name.length > 0 && name.length <= 253), 'tls.servername must be a host name or false', name);
  if (name !== false) out.servername = name;
  return out;
}
