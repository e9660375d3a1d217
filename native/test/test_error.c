// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "test.h"
#include "ew.h"

typedef struct {
  int count;
  int codes[256];
  const char *names[256];
} table_t;

static void collect(void *arg, int code, const char *name, const char *msg) {
  table_t *t = arg;
  ASSERT_LT(t->count, 256);
  ASSERT_LT(code, 0);
  ASSERT_GT(strlen(msg), 0);
  ASSERT_STR_EQ(ew_err_name(code), name);
  ASSERT_STR_EQ(ew_strerror(code), msg);
  t->codes[t->count] = code;
  t->names[t->count] = name;
  t->count++;
}

static void test_table_is_consistent(void) {
  static table_t t;
  ew_err_foreach(collect, &t);
  ASSERT_GT(t.count, 40);
  for (int i = 0; i < t.count; i++) {
    ASSERT_EQ(strncmp(t.names[i], "EW_E", 4), 0);
    for (int j = i + 1; j < t.count; j++) {
      ASSERT_NE(t.codes[i], t.codes[j]);
      ASSERT_NE(strcmp(t.names[i], t.names[j]), 0);
    }
  }
}

static void test_posix_codes_are_negated_errno(void) {
  ASSERT_EQ(EW_ECONNRESET, -ECONNRESET);
  ASSERT_EQ(EW_EADDRINUSE, -EADDRINUSE);
  ASSERT_EQ(ew_translate_sys_error(ECONNRESET), EW_ECONNRESET);
  ASSERT_EQ(ew_translate_sys_error(EWOULDBLOCK), EW_EAGAIN);
  ASSERT_STR_EQ(ew_err_name(EW_ECONNRESET), "EW_ECONNRESET");
  ASSERT_STR_EQ(ew_strerror(EW_ECONNRESET), "connection reset by peer");
}

static void test_runtime_codes_are_reserved(void) {
  ASSERT_LE(EW_EOF, -3000);
  ASSERT_GT(EW_EOF, -4000);
  ASSERT_STR_EQ(ew_err_name(EW_EPROTO_LENGTH), "EW_EPROTO_LENGTH");
  ASSERT_STR_EQ(ew_err_name(EW_ESLOW), "EW_ESLOW");
}

static void test_unknown_and_zero(void) {
  ASSERT_STR_EQ(ew_err_name(0), "EW_OK");
  ASSERT_STR_EQ(ew_err_name(-999999), "EW_EUNKNOWN");
  ASSERT_STR_EQ(ew_strerror(-999999), "unknown error");
  /* An errno missing from the table still comes back as a failure, never as success. */
  ASSERT_LT(ew_translate_sys_error(0), 0);
}

EW_TEST_MAIN(EW_TEST(test_table_is_consistent), EW_TEST(test_posix_codes_are_negated_errno),
             EW_TEST(test_runtime_codes_are_reserved), EW_TEST(test_unknown_and_zero))
