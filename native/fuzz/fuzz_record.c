// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// libFuzzer harness for message encryption's record layer (native/core/src/crypt.c,
// docs/encryption.md): what an anonymous peer can send once a handshake is done.
//
// Input layout:
//   byte 0       the cipher: 1 AES-256-GCM, 2 ChaCha20-Poly1305, 3 AES-256-CBC+HMAC (mod 3)
//   bytes 1..    a stream of frames: a 12-byte header, then up to `length` body bytes (a frame
//                cut short by the end of the input is opened with what there is)
//
// Oracle, for every frame:
//   - ew__open() returns 0 or EW_EPROTO_CRYPTO, nothing else, and leaves OpenSSL's error
//     queue empty (inline, it is node's JavaScript thread's queue);
//   - on 0 the plaintext fits in the body;
//   - the frame lies in a heap block of exactly its size, so ASan reports any access beyond it;
//   - and a frame sealed from the same bytes by a sender in step opens to exactly them.
// Every failure ends in __builtin_trap(), which libFuzzer reports as a crash.
#include <openssl/err.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypt.h"
#include "ew/error.h"

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) __builtin_trap();                                                                 \
  } while (0)

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int cipher = 1 + data[0] % 3;
  uint8_t secret[32];
  memset(secret, 0x42, sizeof secret);
  ew__dir_t rx, tx, rx2;
  CHECK(ew__dir_init(&rx, cipher, secret, 0) == 0);
  CHECK(ew__dir_init(&tx, cipher, secret, 1) == 0);
  CHECK(ew__dir_init(&rx2, cipher, secret, 0) == 0);
  size_t off = 1;
  for (int frames = 0; off + 12 <= size && frames < 64; frames++) {
    uint32_t len = be32(data + off);
    size_t avail = size - off - 12;
    uint32_t body = len <= avail ? len : (uint32_t)avail;
    uint8_t *f = malloc(12 + (size_t)body);
    CHECK(f != NULL);
    memcpy(f, data + off, 12 + (size_t)body);
    uint32_t got = UINT32_MAX;
    int r = ew__open(&rx, f, body, &got);
    CHECK(r == 0 || r == EW_EPROTO_CRYPTO);
    CHECK(ERR_peek_error() == 0);
    if (r == 0) CHECK(got <= body);
    /* The same bytes as a plaintext, sealed and opened by a pair in step. */
    uint8_t *sealed = malloc(12 + (size_t)body + EW__SEAL_MAX_OVERHEAD);
    CHECK(sealed != NULL);
    CHECK(ew__seal(&tx, 1, 0, 7, data + off + 12, body, sealed) == 0);
    uint32_t back = 0;
    CHECK(ew__open(&rx2, sealed, ew__sealed_len(cipher, body), &back) == 0);
    CHECK(back == body && memcmp(sealed + 12, data + off + 12, body) == 0);
    free(sealed);
    free(f);
    off += 12 + (size_t)body;
  }
  ew__dir_free(&rx);
  ew__dir_free(&tx);
  ew__dir_free(&rx2);
  return 0;
}
