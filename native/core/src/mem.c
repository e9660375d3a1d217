// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <event2/event.h>
#include <stdlib.h>

/* libevent's allocations, with a small per-thread cache of 64 KiB blocks (base.h).
 *
 * A connection's input chains are 64 KiB blocks (conn.c's READ_CHUNK), allocated when a read
 * needs room and freed as soon as the codec has taken their bytes. glibc gives such a block
 * back at once when it sits at the top of the heap above M_TRIM_THRESHOLD, and takes it again
 * with brk and fresh zeroed pages on the next read: on the JavaScript thread's heap (inline
 * mode) that churn took most of the CPU at 4 KiB frames (bench/README.md). Keeping up to
 * EW__MEM_CACHE_BLOCKS freed blocks per thread for the next read ends it without touching the
 * process's allocator settings. Each allocation carries a 16-byte header with its size, which
 * is how free() knows a block's size. */

#define HDR 16u
#define CACHED_SIZE (64u << 10)
#define EW__MEM_CACHE_BLOCKS 8

static _Thread_local struct {
  void *blocks[EW__MEM_CACHE_BLOCKS];
  unsigned n;
} tcache;

static void *mem_malloc(size_t n) {
  if (n == CACHED_SIZE && tcache.n > 0) return (char *)tcache.blocks[--tcache.n] + HDR;
  size_t *h = malloc(n + HDR);
  if (h == NULL) return NULL;
  h[0] = n;
  return (char *)h + HDR;
}

static void *mem_realloc(void *p, size_t n) {
  if (p == NULL) return mem_malloc(n);
  size_t *h = realloc((char *)p - HDR, n + HDR);
  if (h == NULL) return NULL;
  h[0] = n;
  return (char *)h + HDR;
}

static void mem_free(void *p) {
  if (p == NULL) return;
  size_t *h = (size_t *)(void *)((char *)p - HDR);
  if (h[0] == CACHED_SIZE && tcache.n < EW__MEM_CACHE_BLOCKS) {
    tcache.blocks[tcache.n++] = h;
    return;
  }
  free(h);
}

void ew__mem_thread_flush(void) {
  while (tcache.n > 0)
    free(tcache.blocks[--tcache.n]);
}

/* Before anything allocates through libevent (a constructor: libevent must never free with
 * these functions what it allocated without them). */
__attribute__((constructor)) static void mem_install(void) {
  event_set_mem_functions(mem_malloc, mem_realloc, mem_free);
}
