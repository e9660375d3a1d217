// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

/* libFuzzer harness for the frame header codec (ew/frame.h, native/core/src/frame.c).
 *
 * Input layout:
 *   bytes 0..3   max_frame_bytes, big-endian: the limit handed to ew_frame_decode();
 *   bytes 4..    a byte stream of frames (12-byte header, then `length` body bytes).
 *
 * Oracle, for every 12-byte header the harness decodes:
 *   - the decoded fields equal an independent big-endian reading of the same 12 bytes (`out` is
 *     filled even on error, as frame.h promises);
 *   - the result is exactly what frame.h specifies, in its order: EW_EPROTO_LENGTH when the length
 *     is above the maximum, else EW_EPROTO_FLAGS for an unknown flag bit, else
 *     EW_EPROTO_PLAINTEXT for the encrypted flag (message encryption's own codec reads those),
 *     else EW_EPROTO_TYPE for type 0, else 0; any other code is a failure;
 *   - on success, ew_frame_encode() of the decoded header gives back the same 12 bytes, and the
 *     header satisfies length <= max and flags within EW_FRAME_FLAGS_KNOWN, encrypted clear.
 *
 * The stream walk splits the input the way a connection does: decode a header, stop on an error
 * or when the body is not all there (a truncated frame), else skip the body. Each header and body
 * is copied from the input through bounds checked against the input's size, and the input itself
 * lies in a heap block of exactly its size (libFuzzer copies it there), so ASan reports any read
 * beyond it. Every failure ends in __builtin_trap(), which libFuzzer reports as a crash. */

#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "ew/error.h"
#include "ew/frame.h"

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) __builtin_trap();                                                                 \
  } while (0)

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t be16(const uint8_t *p) {
  return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

/* Decodes the header at `p` and checks everything the oracle above promises. Returns the
 * decoder's result. */
static int check_header(const uint8_t *p, uint32_t max, ew_frame_header_t *h) {
  /* A canary in `h` proves that the decoder writes every field, errors included. */
  memset(h, 0xA5, sizeof *h);
  int r = ew_frame_decode(p, max, h);

  CHECK(h->length == be32(p));
  CHECK(h->type == be16(p + 4));
  CHECK(h->flags == be16(p + 6));
  CHECK(h->seq == be32(p + 8));

  int want = 0;
  if (h->length > max)
    want = EW_EPROTO_LENGTH;
  else if (h->flags & ~EW_FRAME_FLAGS_KNOWN)
    want = EW_EPROTO_FLAGS;
  else if (h->flags & EW_FRAME_FLAG_ENCRYPTED)
    want = EW_EPROTO_PLAINTEXT;
  else if (h->type == 0)
    want = EW_EPROTO_TYPE;
  CHECK(r == want);
  CHECK(r == 0 || r == EW_EPROTO_LENGTH || r == EW_EPROTO_FLAGS || r == EW_EPROTO_PLAINTEXT ||
        r == EW_EPROTO_TYPE);

  if (r == 0) {
    CHECK(h->length <= max);
    CHECK((h->flags & ~EW_FRAME_FLAGS_KNOWN) == 0);
    CHECK((h->flags & EW_FRAME_FLAG_ENCRYPTED) == 0);
    CHECK(h->type != 0);
    uint8_t again[EW_FRAME_HEADER_BYTES];
    memset(again, 0x5A, sizeof again);
    ew_frame_encode(again, h);
    CHECK(memcmp(again, p, EW_FRAME_HEADER_BYTES) == 0);
  }
  return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  const uint32_t max = be32(data);
  const uint8_t *in = data + 4;
  const size_t n = size - 4;

  /* The stream walk. `off` only grows, and every copy below is checked against `n` first. */
  size_t off = 0;
  uint32_t frames = 0;
  uint8_t sink = 0;
  while (n - off >= EW_FRAME_HEADER_BYTES) {
    /* A connection decodes a header that may straddle two reads from a contiguous copy; the
     * harness does the same, so that the decoder reads from a 12-byte object of its own and ASan
     * would catch a decoder that read a 13th byte. */
    uint8_t head[EW_FRAME_HEADER_BYTES];
    memcpy(head, in + off, sizeof head);
    ew_frame_header_t h;
    int r = check_header(head, max, &h);
    if (r != 0) break; /* a protocol error closes the connection: nothing after it is read */
    off += EW_FRAME_HEADER_BYTES;
    if (h.length > n - off) break; /* truncated: the connection waits for (or never gets) more */
    /* Touch the first and last byte of the body: out of bounds here means the walk is wrong. */
    if (h.length != 0) sink ^= (uint8_t)(in[off] ^ in[off + h.length - 1]);
    off += h.length;
    CHECK(off <= n);
    frames++;
  }
  CHECK(off <= n);

  /* The FRAMES walker (ew_frames_next) over the same bytes, from a heap copy of exactly `n`
   * bytes so that ASan sees a read past the body: the IO thread only hands it whole frames, but
   * it must stay inside `len` whatever it is given. Over the whole frames the stream walk found,
   * it must find the same frames. */
  uint8_t *body = malloc(n ? n : 1);
  CHECK(body != NULL);
  memcpy(body, in, n);
  uint32_t at = 0, walked = 0;
  ew_frame_header_t fh;
  const uint8_t *fb;
  while (ew_frames_next(body, (uint32_t)n, &at, &fh, &fb)) {
    CHECK(at <= n);
    CHECK(fb >= body && fb + fh.length <= body + n);
    if (fh.length != 0) sink ^= (uint8_t)(fb[0] ^ fb[fh.length - 1]);
    walked++;
  }
  CHECK(at <= n);
  /* Where the stream walk stopped at a bad header the walker (which checks no header) may go on,
   * but up to there both agree. */
  CHECK(walked >= frames);
  free(body);
  /* Keep the loads above from being optimised away. */
  __asm__ volatile("" : : "r"(sink), "r"(frames));
  return 0;
}
