// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_FRAME_H
#define EW_FRAME_H

#include "ew/common.h"

/* The TCP wire format (docs/protocol.md): a 12-byte big-endian header, then `length` body bytes.
 *   offset 0 u32 length   body bytes, header excluded
 *   offset 4 u16 type     message type id; 0 is reserved for the runtime
 *   offset 6 u16 flags    bit 0 encrypted, bit 1 reply, bit 2 error; other bits must be 0
 *   offset 8 u32 seq      request/response correlation; 0 = none */
#define EW_FRAME_HEADER_BYTES 12u
#define EW_FRAME_FLAG_ENCRYPTED 0x1u
#define EW_FRAME_FLAG_REPLY 0x2u
#define EW_FRAME_FLAG_ERROR 0x4u
#define EW_FRAME_FLAGS_KNOWN 0x7u

typedef struct ew_frame_header_s {
  uint32_t length;
  uint16_t type;
  uint16_t flags;
  uint32_t seq;
} ew_frame_header_t;

/* Decodes the 12 bytes at `p` into `out` and validates them against `max_frame_bytes`.
 * Any thread; `p` must hold EW_FRAME_HEADER_BYTES bytes. Returns 0, EW_EPROTO_LENGTH (length
 * above the maximum), EW_EPROTO_FLAGS (unknown flag bits), EW_EPROTO_PLAINTEXT (the encrypted
 * flag: message encryption reads its frames itself, docs/encryption.md) or EW_EPROTO_TYPE (type
 * 0). `out` is filled even on error so that the caller can log what it saw. */
EW_EXTERN int ew_frame_decode(const uint8_t *p, uint32_t max_frame_bytes, ew_frame_header_t *out);

/* Encodes `h` as 12 big-endian bytes at `p`. Any thread; no validation. */
EW_EXTERN void ew_frame_encode(uint8_t *p, const ew_frame_header_t *h);

/* Walks the frames of an EW_REC_FRAMES record's body (`body`, `len` bytes; ew/ring.h): start with
 * *at = 0; each call fills `h` and *frame_body with the next frame and returns 1, or returns 0
 * after the last. The IO thread checked every header when it made the record. Any thread. */
EW_EXTERN int ew_frames_next(const uint8_t *body, uint32_t len, uint32_t *at, ew_frame_header_t *h,
                             const uint8_t **frame_body);

#endif /* EW_FRAME_H */
