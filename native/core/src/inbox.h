// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_INBOX_H
#define EW_INBOX_H

/* The inbox of an IO thread: a lock-free multi-producer single-consumer queue of commands plus
 * one eventfd. Unlike a pipe it can never be full, so no command is ever dropped or retried on
 * EAGAIN (the seed's worry; the "inbox capacity" experiment in docs/experiments.md measures
 * both). A producer writes the eventfd
 * only when the `armed` flag goes 0 -> 1, so a burst of commands costs one wakeup. */

#include <stdatomic.h>
#include <stdbool.h>

typedef struct ew__cmd_s ew__cmd_t;
struct ew__cmd_s {
  _Atomic(ew__cmd_t *) next;
  int kind;
};

typedef struct ew__inbox_s {
  _Atomic(ew__cmd_t *) head; /* producers swap themselves in here */
  ew__cmd_t *tail;           /* consumer only */
  ew__cmd_t stub;
  int efd;
  _Atomic int armed;
} ew__inbox_t;

/* Creates the eventfd. Returns 0 or a negative EW_* error. */
int ew__inbox_init(ew__inbox_t *ib);
/* Closes the eventfd; the queue must be empty (the consumer drained it). */
void ew__inbox_close(ew__inbox_t *ib);
/* Appends `cmd` (any thread) and wakes the consumer if it is not already signalled. */
void ew__inbox_push(ew__inbox_t *ib, ew__cmd_t *cmd);
/* Appends without waking; the caller wakes once after a batch. */
void ew__inbox_push_quiet(ew__inbox_t *ib, ew__cmd_t *cmd);
/* Signals the eventfd unless already signalled (any thread). */
void ew__inbox_wake(ew__inbox_t *ib);
/* Consumer: clears the eventfd and the armed flag. Call before draining so that a push that
 * races with the drain signals again rather than being missed. */
void ew__inbox_rearm(ew__inbox_t *ib);
/* Consumer: the oldest command, or NULL. NULL can also mean a producer is between its two
 * steps; that producer's wake follows, so the consumer simply looks again when woken. */
ew__cmd_t *ew__inbox_pop(ew__inbox_t *ib);
/* Consumer: whether anything is (or is about to be) queued. */
bool ew__inbox_pending(ew__inbox_t *ib);

#endif /* EW_INBOX_H */
