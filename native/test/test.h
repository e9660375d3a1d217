// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_TEST_H
#define EW_TEST_H

/* A minimal test harness in the manner of libuv's: typed assertions that print both operands,
 * one executable per module, each test a function registered in a table. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EW__FAIL(fmt, ...)                                                                         \
  do {                                                                                             \
    fprintf(stderr, "%s:%d: assertion failed: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);        \
    abort();                                                                                       \
  } while (0)

#define EW__ASSERT_BASE(a, op, b, type, pfmt)                                                      \
  do {                                                                                             \
    type ew_a_ = (type)(a);                                                                        \
    type ew_b_ = (type)(b);                                                                        \
    if (!(ew_a_ op ew_b_))                                                                         \
      EW__FAIL("%s %s %s (%" pfmt " %s %" pfmt ")", #a, #op, #b, ew_a_, #op, ew_b_);               \
  } while (0)

#define ASSERT_EQ(a, b) EW__ASSERT_BASE(a, ==, b, int64_t, PRId64)
#define ASSERT_NE(a, b) EW__ASSERT_BASE(a, !=, b, int64_t, PRId64)
#define ASSERT_LT(a, b) EW__ASSERT_BASE(a, <, b, int64_t, PRId64)
#define ASSERT_LE(a, b) EW__ASSERT_BASE(a, <=, b, int64_t, PRId64)
#define ASSERT_GT(a, b) EW__ASSERT_BASE(a, >, b, int64_t, PRId64)
#define ASSERT_GE(a, b) EW__ASSERT_BASE(a, >=, b, int64_t, PRId64)
#define ASSERT_UEQ(a, b) EW__ASSERT_BASE(a, ==, b, uint64_t, PRIu64)
#define ASSERT_PTR_EQ(a, b) EW__ASSERT_BASE(a, ==, b, uintptr_t, PRIxPTR)
#define ASSERT_NULL(a) EW__ASSERT_BASE(a, ==, NULL, uintptr_t, PRIxPTR)
#define ASSERT_NOT_NULL(a) EW__ASSERT_BASE(a, !=, NULL, uintptr_t, PRIxPTR)
#define ASSERT_OK(expr)                                                                            \
  do {                                                                                             \
    int ew_r_ = (expr);                                                                            \
    if (ew_r_ != 0) EW__FAIL("%s returned %d, not 0", #expr, ew_r_);                               \
  } while (0)
#define ASSERT_STR_EQ(a, b)                                                                        \
  do {                                                                                             \
    const char *ew_a_ = (a), *ew_b_ = (b);                                                         \
    if (strcmp(ew_a_, ew_b_) != 0) EW__FAIL("%s == %s (\"%s\" vs \"%s\")", #a, #b, ew_a_, ew_b_);  \
  } while (0)
#define ASSERT_MEM_EQ(a, b, n)                                                                     \
  do {                                                                                             \
    if (memcmp((a), (b), (n)) != 0)                                                                \
      EW__FAIL("%s and %s differ in their first %zu bytes", #a, #b, (size_t)(n));                  \
  } while (0)

typedef struct {
  const char *name;
  void (*fn)(void);
} ew_test_t;

/* Runs every test in `tests` (or only the one named by argv[1]) and reports each. */
static inline int ew_test_main(int argc, char **argv, const ew_test_t *tests, size_t n) {
  int ran = 0;
  for (size_t i = 0; i < n; i++) {
    if (argc > 1 && strcmp(argv[1], tests[i].name) != 0) continue;
    fprintf(stderr, "# %s\n", tests[i].name);
    tests[i].fn();
    fprintf(stderr, "ok %s\n", tests[i].name);
    ran++;
  }
  if (ran == 0) {
    fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(any)");
    return 1;
  }
  return 0;
}

#define EW_TEST_MAIN(...)                                                                          \
  int main(int argc, char **argv) {                                                                \
    static const ew_test_t tests[] = {__VA_ARGS__};                                                \
    return ew_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]);                        \
  }
#define EW_TEST(fn)                                                                                \
  { #fn, fn }

#endif /* EW_TEST_H */
