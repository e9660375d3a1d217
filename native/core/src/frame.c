// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "ew/frame.h"
#include "ew/error.h"

static inline uint32_t rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint16_t rd16(const uint8_t *p) {
  return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

static inline void wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static inline void wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

int ew_frame_decode(const uint8_t *p, uint32_t max_frame_bytes, ew_frame_header_t *out) {
  out->length = rd32(p);
  out->type = rd16(p + 4);
  out->flags = rd16(p + 6);
  out->seq = rd32(p + 8);
  /* The length is checked first: garbage input almost always shows up as an absurd length, and
   * that is the most useful reason to report. */
  if (out->length > max_frame_bytes) return EW_EPROTO_LENGTH;
  /* One test on the way through: bit 0 (encrypted) belongs to message encryption, whose codec
   * reads its frames itself (codec_crypt.c); a frame that carries it here came where
   * encryption is off. */
  if (out->flags & (~EW_FRAME_FLAGS_KNOWN | EW_FRAME_FLAG_ENCRYPTED))
    return (out->flags & ~EW_FRAME_FLAGS_KNOWN) ? EW_EPROTO_FLAGS : EW_EPROTO_PLAINTEXT;
  if (out->type == 0) return EW_EPROTO_TYPE;
  return 0;
}

void ew_frame_encode(uint8_t *p, const ew_frame_header_t *h) {
  wr32(p, h->length);
  wr16(p + 4, h->type);
  wr16(p + 6, h->flags);
  wr32(p + 8, h->seq);
}

int ew_frames_next(const uint8_t *body, uint32_t len, uint32_t *at, ew_frame_header_t *h,
                   const uint8_t **frame_body) {
  if (*at > len || len - *at < EW_FRAME_HEADER_BYTES) return 0;
  const uint8_t *p = body + *at;
  h->length = rd32(p);
  if (h->length > len - *at - EW_FRAME_HEADER_BYTES) return 0;
  h->type = rd16(p + 4);
  h->flags = rd16(p + 6);
  h->seq = rd32(p + 8);
  *frame_body = p + EW_FRAME_HEADER_BYTES;
  *at += EW_FRAME_HEADER_BYTES + h->length;
  return 1;
}
