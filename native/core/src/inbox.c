// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "inbox.h"
#include "ew/error.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* The queue is Dmitry Vyukov's intrusive MPSC queue: a push is one atomic exchange and one
 * store, so producers never wait for each other or for the consumer. */

int ew__inbox_init(ew__inbox_t *ib) {
  atomic_store_explicit(&ib->stub.next, NULL, memory_order_relaxed);
  atomic_store_explicit(&ib->head, &ib->stub, memory_order_relaxed);
  ib->tail = &ib->stub;
  atomic_store_explicit(&ib->armed, 0, memory_order_relaxed);
  ib->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ib->efd < 0) return ew_translate_sys_error(errno);
  return 0;
}

void ew__inbox_close(ew__inbox_t *ib) {
  if (ib->efd >= 0) close(ib->efd);
  ib->efd = -1;
}

void ew__inbox_push_quiet(ew__inbox_t *ib, ew__cmd_t *cmd) {
  atomic_store_explicit(&cmd->next, NULL, memory_order_relaxed);
  ew__cmd_t *prev = atomic_exchange_explicit(&ib->head, cmd, memory_order_acq_rel);
  atomic_store_explicit(&prev->next, cmd, memory_order_release);
}

void ew__inbox_wake(ew__inbox_t *ib) {
  if (atomic_exchange_explicit(&ib->armed, 1, memory_order_acq_rel) == 0) {
    uint64_t one = 1;
    /* An eventfd counter cannot overflow in practice (2^64 - 2 writes), and EAGAIN would mean
     * it is already readable, which is all we need: the result is deliberately ignored. */
    ssize_t r = write(ib->efd, &one, sizeof one);
    (void)r;
  }
}

void ew__inbox_push(ew__inbox_t *ib, ew__cmd_t *cmd) {
  ew__inbox_push_quiet(ib, cmd);
  ew__inbox_wake(ib);
}

void ew__inbox_rearm(ew__inbox_t *ib) {
  uint64_t v;
  ssize_t r = read(ib->efd, &v, sizeof v);
  (void)r;
  atomic_store_explicit(&ib->armed, 0, memory_order_seq_cst);
}

ew__cmd_t *ew__inbox_pop(ew__inbox_t *ib) {
  ew__cmd_t *tail = ib->tail;
  ew__cmd_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);
  if (tail == &ib->stub) {
    if (next == NULL) return NULL;
    ib->tail = next;
    tail = next;
    next = atomic_load_explicit(&next->next, memory_order_acquire);
  }
  if (next != NULL) {
    ib->tail = next;
    return tail;
  }
  if (tail != atomic_load_explicit(&ib->head, memory_order_acquire)) return NULL;
  ew__inbox_push_quiet(ib, &ib->stub);
  next = atomic_load_explicit(&tail->next, memory_order_acquire);
  if (next != NULL) {
    ib->tail = next;
    return tail;
  }
  return NULL;
}

bool ew__inbox_pending(ew__inbox_t *ib) {
  ew__cmd_t *tail = ib->tail;
  /* The tail is the stub or the next command to pop: between two pops of one drain (a command
   * that looks at the inbox, as a UDP socket opened by one does) the last command left is the
   * tail itself, with nothing after it and the head pointing at it. */
  if (tail != &ib->stub) return true;
  if (atomic_load_explicit(&tail->next, memory_order_acquire) != NULL) return true;
  return tail != atomic_load_explicit(&ib->head, memory_order_acquire);
}
