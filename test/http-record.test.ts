// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// The JavaScript readers of HTTP_REQ and HTTP_RES records, fuzzed with fast-check: any bytes
// give either a message whose every part lies inside the record, or a ProtocolError
// (EW_EPROTO_HTTP); never another exception, never a read past the record. Well-formed records
// round-trip exactly.
import { strict as assert } from 'assert';
import fc from 'fast-check';
import { ProtocolError } from '../dist/index';
import { REQ_FIXED, readRequestRecord, readResponseRecord } from '../dist/internal/http-record';
import { HTTP_RES_FIXED } from '../dist/internal/constants';

interface Req {
  method: number;
  flags: number;
  url: string;
  headers: [string, string][];
  body: Uint8Array;
  trailers: [string, string][];
}

function section(entries: [string, string][]): Buffer {
  return Buffer.concat(
    entries.map(([n, v]) => {
      const h = Buffer.alloc(8);
      h.writeUInt32LE(Buffer.byteLength(n, 'latin1'), 0);
      h.writeUInt32LE(Buffer.byteLength(v, 'latin1'), 4);
      return Buffer.concat([h, Buffer.from(n, 'latin1'), Buffer.from(v, 'latin1')]);
    }),
  );
}

/** Writes a record as the IO thread does (native/core/src/hparse.c). */
function encode(r: Req): Buffer {
  const fixed = Buffer.alloc(REQ_FIXED);
  const headers = section(r.headers);
  fixed[0] = r.method;
  fixed[1] = 1;
  fixed[2] = 1;
  fixed[3] = r.flags;
  fixed.writeUInt32LE(r.headers.length, 4);
  fixed.writeUInt32LE(Buffer.byteLength(r.url, 'latin1'), 8);
  fixed.writeUInt32LE(r.body.length, 12);
  fixed.writeUInt32LE(headers.length, 16);
  fixed.writeUInt32LE(r.trailers.length, 20);
  return Buffer.concat([fixed, Buffer.from(r.url, 'latin1'), headers, r.body, section(r.trailers)]);
}

const latin1 = fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const entry = fc.tuple(latin1, latin1);
const req = fc.record({
  method: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 7 }),
  url: latin1,
  headers: fc.array(entry, { maxLength: 8 }),
  body: fc.uint8Array({ maxLength: 64 }),
  trailers: fc.array(entry, { maxLength: 3 }),
});

describe('HTTP_REQ record reader (fast-check)', () => {
  it('round-trips every well-formed record, at any offset in a larger buffer', () => {
    fc.assert(
      fc.property(req, fc.nat({ max: 64 }), fc.nat({ max: 64 }), (r, pre, post) => {
        const rec = encode(r);
        const buf = Buffer.concat([Buffer.alloc(pre, 0xee), rec, Buffer.alloc(post, 0xee)]);
        const got = readRequestRecord(buf, pre, rec.length);
        assert.equal(got.method, r.method);
        assert.equal(got.flags, r.flags);
        assert.equal(got.url, r.url);
        assert.deepEqual(got.headers, r.headers.flat());
        assert.deepEqual(Buffer.from(got.body), Buffer.from(r.body));
        assert.deepEqual(got.trailers, r.trailers.flat());
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses any corrupted record with ProtocolError and reads nothing outside it', () => {
    fc.assert(
      fc.property(req, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.integer({ min: -8, max: 8 }), (r, flips, cut) => {
        const rec = encode(r);
        for (const [at, v] of flips) rec[at % rec.length] = v;
        const len = Math.max(0, Math.min(rec.length, rec.length + cut));
        // Sentinels around the record: anything read from them would show in the result.
        const buf = Buffer.concat([Buffer.from('SENTINEL'), rec.subarray(0, len), Buffer.from('SENTINEL')]);
        try {
          const got = readRequestRecord(buf, 8, len);
          const inside = (s: string) => !s.includes('SENTINEL');
          assert.ok(inside(got.url) && got.headers.every(inside) && got.trailers.every(inside));
          assert.ok(got.body.length === 0 || (got.body.byteOffset >= buf.byteOffset + 8 && got.body.byteOffset + got.body.length <= buf.byteOffset + 8 + len), "the body lies inside the record (an empty one is a shared view)");
        } catch (err) {
          assert.ok(err instanceof ProtocolError, String(err));
          assert.equal((err as ProtocolError).code, 'EW_EPROTO_HTTP');
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('refuses arbitrary bytes with ProtocolError or reads a consistent request', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const buf = Buffer.from(bytes);
        try {
          const got = readRequestRecord(buf, 0, buf.length);
          assert.ok(got.body.length <= buf.length);
        } catch (err) {
          assert.ok(err instanceof ProtocolError, String(err));
        }
      }),
      { numRuns: 5000 },
    );
  });
});

interface Res {
  status: number;
  flags: number;
  reason: string;
  headers: [string, string][];
  body: Uint8Array;
  trailers: [string, string][];
}

/** Writes an HTTP_RES record as the IO thread does (native/core/src/codec_http_client.c). */
function encodeRes(r: Res): Buffer {
  const fixed = Buffer.alloc(HTTP_RES_FIXED);
  const headers = section(r.headers);
  fixed.writeUInt16LE(r.status, 0);
  fixed[2] = 1;
  fixed[3] = 1;
  fixed.writeUInt32LE(r.flags, 4);
  fixed.writeUInt32LE(Buffer.byteLength(r.reason, 'latin1'), 8);
  fixed.writeUInt32LE(r.headers.length, 12);
  fixed.writeUInt32LE(headers.length, 16);
  fixed.writeUInt32LE(r.body.length, 20);
  fixed.writeUInt32LE(r.trailers.length, 24);
  return Buffer.concat([fixed, Buffer.from(r.reason, 'latin1'), headers, r.body, section(r.trailers)]);
}

const res = fc.record({
  status: fc.integer({ min: 100, max: 999 }),
  flags: fc.integer({ min: 0, max: 1 }),
  reason: latin1,
  headers: fc.array(entry, { maxLength: 8 }),
  body: fc.uint8Array({ maxLength: 64 }),
  trailers: fc.array(entry, { maxLength: 3 }),
});

describe('HTTP_RES record reader (fast-check)', () => {
  it('round-trips every well-formed record, at any offset in a larger buffer', () => {
    fc.assert(
      fc.property(res, fc.nat({ max: 64 }), fc.nat({ max: 64 }), (r, pre, post) => {
        const rec = encodeRes(r);
        const buf = Buffer.concat([Buffer.alloc(pre, 0xee), rec, Buffer.alloc(post, 0xee)]);
        const got = readResponseRecord(buf, pre, rec.length);
        assert.equal(got.status, r.status);
        assert.equal(got.flags, r.flags);
        assert.equal(got.reason, r.reason);
        assert.deepEqual(got.headers, r.headers.flat());
        assert.deepEqual(Buffer.from(got.body), Buffer.from(r.body));
        assert.deepEqual(got.trailers, r.trailers.flat());
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses any corrupted record with ProtocolError and reads nothing outside it', () => {
    fc.assert(
      fc.property(res, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.integer({ min: -8, max: 8 }), (r, flips, cut) => {
        const rec = encodeRes(r);
        for (const [at, v] of flips) rec[at % rec.length] = v;
        const len = Math.max(0, Math.min(rec.length, rec.length + cut));
        const buf = Buffer.concat([Buffer.from('SENTINEL'), rec.subarray(0, len), Buffer.from('SENTINEL')]);
        try {
          const got = readResponseRecord(buf, 8, len);
          const inside = (s: string) => !s.includes('SENTINEL');
          assert.ok(inside(got.reason) && got.headers.every(inside) && got.trailers.every(inside));
          assert.ok(got.body.byteOffset >= buf.byteOffset + 8 && got.body.byteOffset + got.body.length <= buf.byteOffset + 8 + len);
        } catch (err) {
          assert.ok(err instanceof ProtocolError, String(err));
          assert.equal((err as ProtocolError).code, 'EW_EPROTO_HTTP');
        }
      }),
      { numRuns: 5000 },
    );
  });
});
