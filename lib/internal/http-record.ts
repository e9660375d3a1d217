// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The readers of HTTP_REQ and HTTP_RES records (docs/protocol.md, native/core/include/ew/wire.h).
// Every length is checked against the record before a byte is read: a record that does not add
// up is refused with a ProtocolError, never read past its end or half-used
// (test/http-record.test.ts fuzzes this with fast-check).
import { Buffer } from 'buffer';
import { ProtocolError } from '../errors';

/** Bytes of the fixed part, and the flags (EW_HTTP_REQ_FIXED, EW_HTTP_F_* in ew/wire.h). */
export { HTTP_REQ_FIXED as REQ_FIXED, HTTP_F_KEEP_ALIVE as F_KEEP_ALIVE, HTTP_F_LAST as F_LAST, HTTP_F_CONTINUED as F_CONTINUED } from '../gen/wire';
import { HTTP_REQ_FIXED as REQ_FIXED, HTTP_RES_FIXED as RES_FIXED } from '../gen/wire';

export interface RequestRecord {
  method: number;
  major: number;
  minor: number;
  flags: number;
  url: string;
  /** [name, value, ...], names lower-cased. */
  headers: string[];
  /** A view of the record's memory: copy it to keep it. */
  body: Buffer;
  trailers: string[];
}

/** A little-endian u32 of `b` at `at` (at + 4 <= b.length, checked by the caller). Element
 * loads rather than Buffer#readUInt32LE: these records are read where they lie, in ring memory
 * or a reassembly buffer, and the method's bounds checks and dispatch were the largest single
 * cost of reading a request (callgrind, docs/http.md). */
function u32(b: Buffer, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** The body of the requests that have none (most): one shared empty view, not one per request. */
const NO_BODY = Buffer.alloc(0);

function bad(what: string, kind = 'HTTP_REQ'): never {
  throw new ProtocolError('EW_EPROTO_HTTP', `malformed ${kind} record: ${what}`);
}

/** Reads `count` entries (u32 name length, u32 value length, name, value) from b[at, end) into
 * `out`, the strings sliced from `text` (b decoded as latin1 from `tbase`): one decode for the
 * whole section, not one per string. Returns the offset after them. */
function entries(b: Buffer, text: string, tbase: number, at: number, end: number, count: number, out: string[], kind = 'HTTP_REQ'): number {
  for (let i = 0; i < count; i++) {
    if (end - at < 8) bad('header entry past the end', kind);
    const nl = u32(b, at);
    const vl = u32(b, at + 4);
    at += 8;
    if (nl > end - at || vl > end - at - nl) bad('header longer than the record', kind);
    const t = at - tbase;
    const n = out.length;
    out[n] = text.slice(t, t + nl);
    out[n + 1] = text.slice(t + nl, t + nl + vl);
    at += nl + vl;
  }
  return at;
}

/** Decodes the record at b[off, off + len). Throws ProtocolError (EW_EPROTO_HTTP) if it does
 * not add up. */
export function readRequestRecord(b: Buffer, off: number, len: number): RequestRecord {
  if (len < REQ_FIXED || off < 0 || off + len > b.length) bad('shorter than its fixed part');
  const end = off + len;
  const nheaders = u32(b, off + 4);
  const urlLen = u32(b, off + 8);
  const bodyLen = u32(b, off + 12);
  const headerBytes = u32(b, off + 16);
  const ntrailers = u32(b, off + 20);
  const base = off + REQ_FIXED;
  if (urlLen > end - base || headerBytes > end - base - urlLen || bodyLen > end - base - urlLen - headerBytes) bad('sections longer than the record');
  if (nheaders > headerBytes / 8 || ntrailers > (end - base) / 8) bad('more headers than bytes');
  const hstart = base + urlLen;
  const hend = hstart + headerBytes;
  // URL and headers are decoded with one call; the strings are slices of it.
  const text = b.toString('latin1', base, hend);
  const url = text.slice(0, urlLen);
  const headers: string[] = [];
  if (entries(b, text, base, hstart, hend, nheaders, headers) !== hend) bad('header section does not add up');
  const bstart = hend;
  const bend = bstart + bodyLen;
  const trailers: string[] = [];
  if (ntrailers !== 0 && entries(b, b.toString('latin1', bend, end), bend, bend, end, ntrailers, trailers) !== end) bad('trailer section does not add up');
  if (ntrailers === 0 && bend !== end) bad('bytes after the body');
  return { method: b[off], major: b[off + 1], minor: b[off + 2], flags: b[off + 3], url, headers, body: bend === bstart ? NO_BODY : b.subarray(bstart, bend), trailers };
}

export interface ResponseRecord {
  status: number;
  major: number;
  minor: number;
  /** HTTP_RES_F_* */
  flags: number;
  reason: string;
  /** [name, value, ...], names lower-cased. */
  headers: string[];
  /** A view of the record's memory: copy it to keep it. */
  body: Buffer;
  trailers: string[];
}

/** Decodes the HTTP_RES record at b[off, off + len) (an HTTP client link's response). Throws
 * ProtocolError (EW_EPROTO_HTTP) if it does not add up. */
export function readResponseRecord(b: Buffer, off: number, len: number): ResponseRecord {
  const res = (what: string): never => bad(what, 'HTTP_RES');
  if (len < RES_FIXED || off < 0 || off + len > b.length) res('shorter than its fixed part');
  const end = off + len;
  const reasonLen = u32(b, off + 8);
  const nheaders = u32(b, off + 12);
  const headerBytes = u32(b, off + 16);
  const bodyLen = u32(b, off + 20);
  const ntrailers = u32(b, off + 24);
  const base = off + RES_FIXED;
  if (reasonLen > end - base || headerBytes > end - base - reasonLen || bodyLen > end - base - reasonLen - headerBytes) res('sections longer than the record');
  if (nheaders > headerBytes / 8 || ntrailers > (end - base) / 8) res('more headers than bytes');
  const hstart = base + reasonLen;
  const hend = hstart + headerBytes;
  const text = b.toString('latin1', base, hend);
  const headers: string[] = [];
  if (entries(b, text, base, hstart, hend, nheaders, headers, 'HTTP_RES') !== hend) res('header section does not add up');
  const bend = hend + bodyLen;
  const trailers: string[] = [];
  if (ntrailers !== 0 && entries(b, b.toString('latin1', bend, end), bend, bend, end, ntrailers, trailers, 'HTTP_RES') !== end) res('trailer section does not add up');
  if (ntrailers === 0 && bend !== end) res('bytes after the body');
  return { status: b.readUInt16LE(off), major: b[off + 2], minor: b[off + 3], flags: u32(b, off + 4), reason: text.slice(0, reasonLen), headers, body: b.subarray(hend, bend), trailers };
}
