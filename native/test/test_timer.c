// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "test.h"
#include "timer.h"

/* Drains every expired entry of `l` at `now` into `out` (in order); returns how many. */
static int sweep(ew__tlist_t *l, uint64_t now, ew__tnode_t **out, int max) {
  int n = 0;
  ew__tnode_t *e;
  while ((e = ew__tlist_expired(l, now)) != NULL) {
    ASSERT_LT(n, max);
    out[n++] = e;
    ew__tnode_disarm(e);
  }
  return n;
}

static void test_expires_in_deadline_order(void) {
  ew__tlist_t l;
  ew__tlist_init(&l, 100);
  ew__tnode_t n[5] = {0};
  for (int i = 0; i < 5; i++) {
    n[i].tag = i;
    ew__tnode_arm(&n[i], &l, (uint64_t)(10 * i));
    ASSERT_EQ(ew__tnode_armed(&n[i]), 1);
  }
  ew__tnode_t *out[5];
  ASSERT_EQ(sweep(&l, 99, out, 5), 0);  /* nothing has expired yet */
  ASSERT_EQ(sweep(&l, 125, out, 5), 3); /* deadlines 100, 110, 120 */
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(out[i]->tag, i);
    ASSERT_EQ(ew__tnode_armed(out[i]), 0);
  }
  ASSERT_EQ(sweep(&l, 1000, out, 5), 2);
  ASSERT_EQ(out[0]->tag, 3);
  ASSERT_EQ(out[1]->tag, 4);
  ASSERT_EQ(ew__tlist_empty(&l), 1);
}

/* Re-arming (activity on a connection) moves the entry to the tail with a new deadline. */
static void test_rearm_moves_to_tail(void) {
  ew__tlist_t l;
  ew__tlist_init(&l, 50);
  ew__tnode_t a = {.tag = 1}, b = {.tag = 2};
  ew__tnode_arm(&a, &l, 0);
  ew__tnode_arm(&b, &l, 10);
  ew__tnode_arm(&a, &l, 40); /* a now expires at 90, after b (60) */
  ew__tnode_t *out[2];
  ASSERT_EQ(sweep(&l, 60, out, 2), 1);
  ASSERT_EQ(out[0]->tag, 2);
  ASSERT_EQ(sweep(&l, 89, out, 2), 0);
  ASSERT_EQ(sweep(&l, 90, out, 2), 1);
  ASSERT_EQ(out[0]->tag, 1);
}

/* Disarm is idempotent; a zero duration (timeout off) arms nothing and disarms what was armed. */
static void test_disarm_and_zero_duration(void) {
  ew__tlist_t on, off;
  ew__tlist_init(&on, 10);
  ew__tlist_init(&off, 0);
  ew__tnode_t a = {0};
  ew__tnode_disarm(&a);
  ew__tnode_arm(&a, &on, 0);
  ASSERT_EQ(ew__tnode_armed(&a), 1);
  ew__tnode_arm(&a, &off, 0);
  ASSERT_EQ(ew__tnode_armed(&a), 0);
  ASSERT_EQ(ew__tlist_empty(&on), 1);
  ASSERT_EQ(ew__tlist_empty(&off), 1);
  ew__tnode_arm(&a, &on, 0);
  ew__tnode_disarm(&a);
  ew__tnode_disarm(&a);
  ASSERT_EQ(ew__tlist_empty(&on), 1);
  ASSERT_NULL(ew__tlist_expired(&on, 1000));
}

/* An entry moves between lists (header timeout -> body timeout -> keep-alive idle). */
static void test_moves_between_lists(void) {
  ew__tlist_t hdr, body;
  ew__tlist_init(&hdr, 10);
  ew__tlist_init(&body, 1000);
  ew__tnode_t a = {0};
  ew__tnode_arm(&a, &hdr, 0);
  ew__tnode_arm(&a, &body, 5);
  ASSERT_EQ(ew__tlist_empty(&hdr), 1);
  ASSERT_NULL(ew__tlist_expired(&hdr, 100));
  ASSERT_NULL(ew__tlist_expired(&body, 100));
  ASSERT_PTR_EQ(ew__tlist_expired(&body, 1005), &a);
}

/* The sweep is O(expired): with 100,000 armed entries and 3 expired, it touches 4 entries. The
 * count of entries examined is the calls to ew__tlist_expired, one per expired entry plus one. */
static void test_sweep_touches_only_expired(void) {
  enum { N = 100000 };
  ew__tlist_t l;
  ew__tlist_init(&l, 1000);
  ew__tnode_t *n = calloc(N, sizeof *n);
  ASSERT_NOT_NULL(n);
  for (int i = 0; i < N; i++)
    ew__tnode_arm(&n[i], &l, (uint64_t)i);
  int calls = 0, fired = 0;
  for (;;) {
    calls++;
    ew__tnode_t *e = ew__tlist_expired(&l, 1002);
    if (e == NULL) break;
    fired++;
    ew__tnode_disarm(e);
  }
  ASSERT_EQ(fired, 3);
  ASSERT_EQ(calls, 4);
  for (int i = 0; i < N; i++)
    ew__tnode_disarm(&n[i]);
  ASSERT_EQ(ew__tlist_empty(&l), 1);
  free(n);
}

EW_TEST_MAIN(EW_TEST(test_expires_in_deadline_order), EW_TEST(test_rearm_moves_to_tail),
             EW_TEST(test_disarm_and_zero_duration), EW_TEST(test_moves_between_lists),
             EW_TEST(test_sweep_touches_only_expired))
