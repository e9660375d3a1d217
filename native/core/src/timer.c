// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "timer.h"

#include <stddef.h>

void ew__tlist_init(ew__tlist_t *l, uint64_t duration_ms) {
  TAILQ_INIT(&l->q);
  l->duration_ms = duration_ms;
}

void ew__tnode_disarm(ew__tnode_t *n) {
  if (n->list == NULL) return;
  TAILQ_REMOVE(&n->list->q, n, link);
  n->list = NULL;
}

void ew__tnode_arm(ew__tnode_t *n, ew__tlist_t *l, uint64_t now_ms) {
  ew__tnode_disarm(n);
  if (l->duration_ms == 0) return;
  n->deadline_ms = now_ms + l->duration_ms;
  n->list = l;
  TAILQ_INSERT_TAIL(&l->q, n, link);
}

ew__tnode_t *ew__tlist_expired(ew__tlist_t *l, uint64_t now_ms) {
  ew__tnode_t *n = TAILQ_FIRST(&l->q);
  return (n != NULL && n->deadline_ms <= now_ms) ? n : NULL;
}
