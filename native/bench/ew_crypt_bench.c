// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// The cost of message encryption per frame (docs/encryption.md): seal on one side, open on the
// other, with the record layer the IO threads use (crypt.c), for each cipher and body size.
//   build-c/ew_crypt_bench [--frames N] [--sizes 64,4096]
// Prints one line per cipher and size: ns per frame sealed and opened, and MB/s of plaintext.
// Under callgrind (`valgrind --tool=callgrind build-c/ew_crypt_bench --frames 10000`) the
// instruction count per frame is the deterministic figure.
#include "crypt.h"

#include "ew.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long frames = 200000;
  const char *sizes = "64,4096";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--frames") == 0)
      frames = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--sizes") == 0)
      sizes = argv[i + 1];
  }
  static const struct {
    int id;
    const char *name;
  } ciphers[] = {{EW_CIPHER_AES_256_GCM, "aes-256-gcm"},
                 {EW_CIPHER_CHACHA20_POLY1305, "chacha20-poly1305"},
                 {EW_CIPHER_AES_256_CBC_HMAC, "aes-256-cbc-hmac-sha256"}};
  uint8_t secret[32];
  memset(secret, 7, sizeof secret);
  char list[256];
  snprintf(list, sizeof list, "%s", sizes);
  for (char *tok = strtok(list, ","); tok != NULL; tok = strtok(NULL, ",")) {
    uint32_t size = (uint32_t)atol(tok);
    uint8_t *pt = malloc(size);
    uint8_t *frame = malloc(12 + (size_t)size + EW__SEAL_MAX_OVERHEAD);
    if (pt == NULL || frame == NULL) return 1;
    memset(pt, 0x5a, size);
    for (size_t k = 0; k < sizeof ciphers / sizeof ciphers[0]; k++) {
      ew__dir_t tx, rx;
      if (ew__dir_init(&tx, ciphers[k].id, secret, 1) != 0 ||
          ew__dir_init(&rx, ciphers[k].id, secret, 0) != 0)
        return 1;
      uint32_t body = ew__sealed_len(ciphers[k].id, size);
      double t0 = now_s();
      for (long f = 0; f < frames; f++) {
        uint32_t got = 0;
        if (ew__seal(&tx, 1, 0, (uint32_t)f, pt, size, frame) != 0 ||
            ew__open(&rx, frame, body, &got) != 0 || got != size) {
          fprintf(stderr, "ew_crypt_bench: frame %ld did not round-trip\n", f);
          return 1;
        }
      }
      double s = now_s() - t0;
      printf("%-24s %6u B  %8.0f ns/frame (seal + open)  %8.1f MB/s\n", ciphers[k].name, size,
             s / (double)frames * 1e9, (double)size * (double)frames / s / 1e6);
      ew__dir_free(&tx);
      ew__dir_free(&rx);
    }
    free(pt);
    free(frame);
  }
  return 0;
}
