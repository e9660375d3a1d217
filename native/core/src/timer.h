// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_TIMER_H
#define EW_TIMER_H

/* Timeout lists (docs/protocol.md, "Timers"). Every entry of a list has the same duration, so
 * re-arming an entry means moving it to the tail and the list stays ordered by deadline: a
 * sweep walks from the head and stops at the first entry that has not expired, O(expired),
 * never a walk over all connections, and no connection owns a libevent timer. A list whose
 * duration changes at run time is only approximately ordered until its entries re-arm; the
 * sweep then fires an entry at most one old duration late, which is acceptable for timeouts
 * measured in seconds. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

typedef struct ew__tnode_s ew__tnode_t;
typedef struct ew__tlist_s ew__tlist_t;

struct ew__tnode_s {
  TAILQ_ENTRY(ew__tnode_s) link;
  ew__tlist_t *list; /* NULL when not armed */
  uint64_t deadline_ms;
  int tag; /* which timeout of its owner this is */
};

struct ew__tlist_s {
  TAILQ_HEAD(, ew__tnode_s) q;
  uint64_t duration_ms; /* 0: the timeout is off, arming does nothing */
};

void ew__tlist_init(ew__tlist_t *l, uint64_t duration_ms);

/* (Re)starts `n` on `l` from `now`: it expires at now + duration. Moves it from any list it was
 * on. A zero duration disarms it. */
void ew__tnode_arm(ew__tnode_t *n, ew__tlist_t *l, uint64_t now_ms);

/* Stops `n` (no-op if not armed). */
void ew__tnode_disarm(ew__tnode_t *n);

static inline bool ew__tnode_armed(const ew__tnode_t *n) {
  return n->list != NULL;
}

/* The first expired entry of `l`, or NULL; the caller disarms (or re-arms) it before asking
 * again. */
ew__tnode_t *ew__tlist_expired(ew__tlist_t *l, uint64_t now_ms);

/* Whether `l` holds any armed entry. */
static inline bool ew__tlist_empty(const ew__tlist_t *l) {
  return TAILQ_EMPTY(&l->q);
}

#endif /* EW_TIMER_H */
