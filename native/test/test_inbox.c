// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "test.h"
#include "inbox.h"

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

typedef struct {
  ew__cmd_t base;
  uint32_t producer;
  uint32_t n;
} cmd_t;

#define PRODUCERS 4
#define PER_PRODUCER 250000u

static ew__inbox_t ib;

static void *produce(void *arg) {
  uint32_t id = (uint32_t)(uintptr_t)arg;
  for (uint32_t i = 0; i < PER_PRODUCER; i++) {
    cmd_t *c = malloc(sizeof *c);
    c->base.kind = 1;
    c->producer = id;
    c->n = i;
    ew__inbox_push(&ib, &c->base);
  }
  return NULL;
}

/* The seed's worry was a full pipe dropping commands under a burst. A burst of a million
 * commands from four threads: every one arrives, in order per producer, and the eventfd is
 * written far fewer times than there are commands. */
static void test_million_commands_none_lost(void) {
  ASSERT_OK(ew__inbox_init(&ib));
  pthread_t t[PRODUCERS];
  for (uintptr_t i = 0; i < PRODUCERS; i++)
    ASSERT_OK(pthread_create(&t[i], NULL, produce, (void *)i));
  uint32_t next[PRODUCERS] = {0};
  uint32_t total = 0, wakeups = 0;
  while (total < PRODUCERS * PER_PRODUCER) {
    struct pollfd pfd = {.fd = ib.efd, .events = POLLIN};
    int r = poll(&pfd, 1, 5000);
    ASSERT_EQ(r, 1); /* a lost wakeup would show up as a timeout here */
    wakeups++;
    ew__inbox_rearm(&ib);
    ew__cmd_t *c;
    while ((c = ew__inbox_pop(&ib)) != NULL) {
      cmd_t *m = (cmd_t *)c;
      ASSERT_LT(m->producer, PRODUCERS);
      ASSERT_EQ(m->n, next[m->producer]);
      next[m->producer]++;
      total++;
      free(m);
    }
  }
  for (int i = 0; i < PRODUCERS; i++)
    pthread_join(t[i], NULL);
  ASSERT_NULL(ew__inbox_pop(&ib));
  ASSERT_EQ(ew__inbox_pending(&ib), 0);
  for (int i = 0; i < PRODUCERS; i++)
    ASSERT_EQ(next[i], PER_PRODUCER);
  ASSERT_LT(wakeups, total);
  fprintf(stderr, "# %u commands, %u wakeups\n", total, wakeups);
  ew__inbox_close(&ib);
}

static void test_pop_empty_and_pending(void) {
  ASSERT_OK(ew__inbox_init(&ib));
  ASSERT_NULL(ew__inbox_pop(&ib));
  ASSERT_EQ(ew__inbox_pending(&ib), 0);
  cmd_t a = {.base.kind = 1}, b = {.base.kind = 2};
  ew__inbox_push_quiet(&ib, &a.base);
  ASSERT_EQ(ew__inbox_pending(&ib), 1);
  ew__inbox_push(&ib, &b.base);
  ASSERT_PTR_EQ(ew__inbox_pop(&ib), &a.base);
  /* Between two pops the last command is still pending (it is the queue's tail node). */
  ASSERT_EQ(ew__inbox_pending(&ib), 1);
  ASSERT_PTR_EQ(ew__inbox_pop(&ib), &b.base);
  ASSERT_EQ(ew__inbox_pending(&ib), 0);
  ASSERT_NULL(ew__inbox_pop(&ib));
  /* Only one eventfd write for the burst while armed. */
  uint64_t v = 0;
  ASSERT_EQ(read(ib.efd, &v, sizeof v), 8);
  ASSERT_UEQ(v, 1);
  ew__inbox_close(&ib);
}

EW_TEST_MAIN(EW_TEST(test_pop_empty_and_pending), EW_TEST(test_million_commands_none_lost))
