// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "test.h"
#include "ew.h"

static void test_round_trip_is_big_endian(void) {
  ew_frame_header_t h = {
      .length = 0x01020304u, .type = 0x0506, .flags = 0x0006, .seq = 0x0a0b0c0du};
  uint8_t p[EW_FRAME_HEADER_BYTES];
  ew_frame_encode(p, &h);
  const uint8_t want[] = {1, 2, 3, 4, 5, 6, 0, 6, 0x0a, 0x0b, 0x0c, 0x0d};
  ASSERT_MEM_EQ(p, want, sizeof want);
  ew_frame_header_t d;
  ASSERT_OK(ew_frame_decode(p, 0x01020304u, &d));
  ASSERT_UEQ(d.length, h.length);
  ASSERT_UEQ(d.type, h.type);
  ASSERT_UEQ(d.flags, h.flags);
  ASSERT_UEQ(d.seq, h.seq);
}

static void test_length_limit_is_inclusive(void) {
  ew_frame_header_t h = {.length = 1000, .type = 1, .flags = 0, .seq = 0};
  uint8_t p[EW_FRAME_HEADER_BYTES];
  ew_frame_encode(p, &h);
  ew_frame_header_t d;
  ASSERT_OK(ew_frame_decode(p, 1000, &d));
  ASSERT_EQ(ew_frame_decode(p, 999, &d), EW_EPROTO_LENGTH);
  ASSERT_UEQ(d.length, 1000); /* filled even on error */
}

static void test_unknown_flags_rejected(void) {
  uint8_t p[EW_FRAME_HEADER_BYTES];
  ew_frame_header_t d;
  for (unsigned bit = 0; bit < 16; bit++) {
    ew_frame_header_t h = {.length = 0, .type = 7, .flags = (uint16_t)(1u << bit), .seq = 1};
    ew_frame_encode(p, &h);
    int want = (1u << bit) & EW_FRAME_FLAGS_KNOWN ? 0 : EW_EPROTO_FLAGS;
    /* The encrypted flag is message encryption's: a plain connection refuses it. */
    if ((1u << bit) == EW_FRAME_FLAG_ENCRYPTED) want = EW_EPROTO_PLAINTEXT;
    ASSERT_EQ(ew_frame_decode(p, 16, &d), want);
  }
}

static void test_type_zero_reserved(void) {
  ew_frame_header_t h = {.length = 0, .type = 0, .flags = 0, .seq = 0};
  uint8_t p[EW_FRAME_HEADER_BYTES];
  ew_frame_encode(p, &h);
  ew_frame_header_t d;
  ASSERT_EQ(ew_frame_decode(p, 16, &d), EW_EPROTO_TYPE);
}

static void test_length_checked_before_flags(void) {
  /* Garbage usually looks like an absurd length; that is the reason reported. */
  const uint8_t garbage[EW_FRAME_HEADER_BYTES] = {0xde, 0xad, 0xbe, 0xef, 0, 0,
                                                  0xff, 0xff, 0,    0,    0, 0};
  ew_frame_header_t d;
  ASSERT_EQ(ew_frame_decode(garbage, 1u << 20, &d), EW_EPROTO_LENGTH);
}

EW_TEST_MAIN(EW_TEST(test_round_trip_is_big_endian), EW_TEST(test_length_limit_is_inclusive),
             EW_TEST(test_unknown_flags_rejected), EW_TEST(test_type_zero_reserved),
             EW_TEST(test_length_checked_before_flags))
