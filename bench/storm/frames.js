// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// evwire frames for the storm test's clients and its Node `net` server: a 12-byte big-endian
// header (u32 length, u16 type, u16 flags, u32 seq), then `length` body bytes. Valid frames,
// the malformed kinds the server must refuse, and a reader that splits a byte stream.
const crypto = require('crypto');

const HEADER = 12;
// Flags above this are a protocol error (EW_EPROTO_FLAGS); type 0 is reserved (EW_EPROTO_TYPE).
const FLAGS_MASK = 0x7;

function header(length, type, flags, seq) {
  const h = Buffer.allocUnsafe(HEADER);
  h.writeUInt32BE(length >>> 0, 0);
  h.writeUInt16BE(type & 0xffff, 4);
  h.writeUInt16BE(flags & 0xffff, 6);
  h.writeUInt32BE(seq >>> 0, 8);
  return h;
}

function frame(type, flags, seq, body) {
  return Buffer.concat([header(body.length, type, flags, seq), body]);
}

/** `count` identical frames of `bodyBytes` bytes back to back, built once and written many
 * times by the flooders: the cost of a flood stays a write() call, not a loop over frames. */
function batch(count, bodyBytes, type = 1) {
  const one = frame(type, 0, 0, Buffer.alloc(bodyBytes, 0x61));
  return Buffer.concat(Array.from({ length: count }, () => one));
}

// The malformed inputs the garbage clients cycle through, each one a reason for the server
// to close the connection. `maxFrameBytes` is the server's limit.
const GARBAGE_KINDS = ['random', 'type0', 'flags', 'length'];
function garbage(kind, maxFrameBytes) {
  switch (kind) {
    case 'random':
      // 64 random bytes: the first header almost surely has a length over the limit or flags
      // out of range; either way a protocol error, never a frame the server waits for.
      return crypto.randomBytes(64);
    case 'type0':
      return frame(0, 0, 1, Buffer.from('zero'));
    case 'flags':
      return frame(1, 0x8000, 1, Buffer.from('flag'));
    case 'length':
      // Only the header: the server must refuse it on the length alone, before any body.
      return header(maxFrameBytes + 1, 1, 0, 1);
    default:
      throw new Error(`unknown garbage kind ${kind}`);
  }
}

/**
 * Splits a byte stream into frames. push(chunk) calls onFrame(type, flags, seq, body) for every
 * complete frame; body is a view into the reader's buffer, valid during the call only.
 * A header whose length is over `maxBody` calls onError instead and stops the reader.
 */
class FrameReader {
  constructor(onFrame, { maxBody = 16 << 20, onError = null } = {}) {
    this.onFrame = onFrame;
    this.onError = onError;
    this.maxBody = maxBody;
    this.pending = null;
    this.failed = false;
  }

  push(chunk) {
    if (this.failed) return;
    const buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = null;
    let off = 0;
    while (buf.length - off >= HEADER) {
      const len = buf.readUInt32BE(off);
      if (len > this.maxBody) {
        this.failed = true;
        if (this.onError) this.onError(new Error(`frame length ${len} over ${this.maxBody}`));
        return;
      }
      if (buf.length - off < HEADER + len) break;
      this.onFrame(buf.readUInt16BE(off + 4), buf.readUInt16BE(off + 6), buf.readUInt32BE(off + 8), buf.subarray(off + HEADER, off + HEADER + len));
      off += HEADER + len;
    }
    // The unfinished rest is copied: `chunk` belongs to the socket and may be reused.
    if (off < buf.length) this.pending = Buffer.from(buf.subarray(off));
  }
}

module.exports = { HEADER, FLAGS_MASK, header, frame, batch, GARBAGE_KINDS, garbage, FrameReader };
