// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "ew/runtime.h"

#include <string.h>
#include <time.h>

/* Adaptive spinning before a blocking wait (ew/runtime.h, docs/design-notes.md "Spinning before
 * sleep"). */

enum { SPIN_PENALTY_MAX = 1024, SPIN_CLOCK_EVERY = 16 };

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

void ew_spin_init(ew_spin_t *s, uint32_t max_us) {
  memset(s, 0, sizeof *s);
  s->max_ns = (uint64_t)max_us * 1000u;
  s->penalty = 1;
}

int ew_spin_run(ew_spin_t *s, int (*ready)(void *arg), void *arg) {
  if (!s->armed) return 0;
  s->spins++;
  uint64_t end = now_ns() + s->max_ns;
  for (uint32_t i = 1;; i++) {
    if (ready(arg)) {
      s->hits++;
      s->penalty = 1;
      return 1;
    }
    cpu_relax();
    if (i % SPIN_CLOCK_EVERY == 0 && now_ns() >= end) break;
  }
  /* A miss: the time was lost. Back off, the more the more often it happens. */
  s->armed = 0;
  s->skip = s->penalty;
  s->penalty = s->penalty < SPIN_PENALTY_MAX ? s->penalty * 2 : SPIN_PENALTY_MAX;
  return 0;
}

void ew_spin_sleep(ew_spin_t *s) {
  if (s->max_ns != 0) s->slept_at = now_ns();
}

void ew_spin_woke(ew_spin_t *s) {
  if (s->max_ns == 0) return;
  if (s->skip != 0) {
    s->skip--;
    return;
  }
  if (now_ns() - s->slept_at < s->max_ns) s->armed = 1;
}
