// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "test.h"
#include "iptab.h"

#include <stdio.h>
#include <string.h>

#include "ew/error.h"

/* The address table with explicit times: buckets refill by the clock passed in, so every case
 * is exact and nothing sleeps. */

static ew__ipkey_t key(const char *text) {
  ew__ipkey_t k;
  ASSERT_OK(ew__ipkey_parse(&k, text));
  return k;
}

static ew_limits_t limits(void) {
  ew_limits_t l;
  ew_limits_init(&l);
  return l;
}

static void test_parse_and_format(void) {
  ew__ipkey_t a = key("127.0.0.9"), b = key("::ffff:127.0.0.9"), c = key("::1");
  ASSERT_MEM_EQ(a.b, b.b, 16); /* both spellings of an IPv4 address are one key */
  char out[64];
  ASSERT_EQ(ew__ipkey_format(&a, out, sizeof out), 4);
  ASSERT_STR_EQ(out, "127.0.0.9");
  ASSERT_EQ(ew__ipkey_format(&c, out, sizeof out), 6);
  ASSERT_STR_EQ(out, "::1");
  ew__ipkey_t bad;
  ASSERT_EQ(ew__ipkey_parse(&bad, "localhost"), EW_EINVAL);
  ASSERT_EQ(ew__ipkey_parse(&bad, "1.2.3.256"), EW_EINVAL);
  ASSERT_EQ(ew__ipkey_parse(&bad, NULL), EW_EINVAL);
}

static void test_per_address_cap_and_release(void) {
  ew__iptab_t t;
  ASSERT_OK(ew__iptab_init(&t, 1024));
  ew_limits_t l = limits();
  l.max_conns_per_ip = 2;
  ew__ipkey_t a = key("10.0.0.1"), b = key("10.0.0.2");
  ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 1000), EW__ADMIT_OK);
  ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 1000), EW__ADMIT_OK);
  ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 1000), EW__ADMIT_PER_IP);
  ASSERT_EQ(ew__iptab_admit(&t, &b, &l, 1000), EW__ADMIT_OK); /* another address is unaffected */
  ASSERT_EQ(ew__iptab_live(&t, &a), 2);
  ew__iptab_release(&t, &a);
  ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 1000), EW__ADMIT_OK);
  /* Releasing more than was admitted never goes below zero. */
  for (int i = 0; i < 5; i++)
    ew__iptab_release(&t, &b);
  ASSERT_EQ(ew__iptab_live(&t, &b), 0);
  ew__iptab_destroy(&t);
}

static void test_connection_rate_bans_until_expiry(void) {
  ew__iptab_t t;
  ASSERT_OK(ew__iptab_init(&t, 1024));
  ew_limits_t l = limits();
  l.ip_conns_per_sec = 2;
  l.ip_conn_burst = 3;
  l.ban_ms = 5000;
  ew__ipkey_t a = key("10.0.0.3");
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 1000), EW__ADMIT_OK); /* the burst */
    ew__iptab_release(&t, &a);
  }
  ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 1000), EW__ADMIT_RATE_BANNED);
  ASSERT_EQ(ew__iptab_banned(&t, &a, 1000), 1);
  ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 5999), EW__ADMIT_BANNED);
  ASSERT_EQ(ew__iptab_banned(&t, &a, 6000), 0); /* expired */
  /* After the ban the bucket has refilled (2/s over 5 s, capped at the burst of 3). */
  for (int i = 0; i < 3; i++) {
    ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 6000), EW__ADMIT_OK);
    ew__iptab_release(&t, &a);
  }
  ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 6000), EW__ADMIT_RATE_BANNED);
  ew__iptab_destroy(&t);
}

static void test_message_rate_refills(void) {
  ew__iptab_t t;
  ASSERT_OK(ew__iptab_init(&t, 1024));
  ew_limits_t l = limits();
  l.ip_msgs_per_sec = 100; /* burst defaults to one second's worth */
  l.ban_ms = 1000;
  ew__ipkey_t a = key("10.0.0.4");
  ASSERT_EQ(ew__iptab_charge(&t, &a, &l, 100, 1000), 0); /* a full bucket */
  ASSERT_EQ(ew__iptab_charge(&t, &a, &l, 5, 1050), 0);   /* 50 ms refilled 5 ... */
  ASSERT_EQ(ew__iptab_charge(&t, &a, &l, 1, 1050), 1);   /* ... of which none is left: ban */
  ASSERT_EQ(ew__iptab_charge(&t, &a, &l, 1, 1060), 0);   /* already banned: reported once */
  ASSERT_EQ(ew__iptab_banned(&t, &a, 1500), 1);
  /* Rates off: never a ban. */
  ew_limits_t off = limits();
  ew__ipkey_t b = key("10.0.0.5");
  ASSERT_EQ(ew__iptab_charge(&t, &b, &off, 1000000, 1000), 0);
  ew__iptab_destroy(&t);
}

static void test_manual_bans(void) {
  ew__iptab_t t;
  ASSERT_OK(ew__iptab_init(&t, 1024));
  ew_limits_t l = limits();
  ew__ipkey_t a = key("2001:db8::1"), b = key("10.0.0.6");
  ASSERT_OK(ew__iptab_ban(&t, &a, 100, 1000));
  ASSERT_OK(ew__iptab_ban(&t, &b, 100, 50));
  ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 200), EW__ADMIT_BANNED);
  ASSERT_EQ(ew__iptab_bans(&t, 120, NULL, NULL), 2);
  ASSERT_EQ(ew__iptab_bans(&t, 150, NULL, NULL), 1); /* b expired */
  ASSERT_EQ(ew__iptab_unban(&t, &a, 200), 0);
  ASSERT_EQ(ew__iptab_unban(&t, &a, 200), EW_ENOENT);
  ASSERT_EQ(ew__iptab_unban(&t, &b, 200), EW_ENOENT); /* expired bans are not "lifted" */
  ASSERT_EQ(ew__iptab_admit(&t, &a, &l, 200), EW__ADMIT_OK);
  ew__iptab_destroy(&t);
}

/* Memory stays bounded whatever the peers do: a million addresses through a table of 256. Idle
 * addresses go first; banned ones and those with open connections survive while there is any
 * other choice. */
static void test_bounded_and_evicts_least_recent(void) {
  ew__iptab_t t;
  ASSERT_OK(ew__iptab_init(&t, 256));
  ew_limits_t l = limits();
  ew__ipkey_t held = key("10.1.0.1"), banned = key("10.1.0.2");
  ASSERT_EQ(ew__iptab_admit(&t, &held, &l, 1), EW__ADMIT_OK);
  ASSERT_OK(ew__iptab_ban(&t, &banned, 1, 1000000));
  char text[32];
  for (uint32_t i = 0; i < 1000000; i++) {
    snprintf(text, sizeof text, "11.%u.%u.%u", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
    ew__ipkey_t k = key(text);
    ASSERT_EQ(ew__iptab_admit(&t, &k, &l, 2), EW__ADMIT_OK);
    ew__iptab_release(&t, &k);
    uint32_t count;
    ew__iptab_totals(&t, &count, NULL);
    ASSERT_LE(count, 256);
    /* The two entries that matter are seen again now and then, as a live peer would be. */
    if (i % 4 == 0) {
      ew__iptab_banned(&t, &banned, 2);
      ASSERT_EQ(ew__iptab_admit(&t, &held, &l, 2), EW__ADMIT_OK);
      ew__iptab_release(&t, &held);
    }
  }
  uint32_t count;
  uint64_t evictions;
  ew__iptab_totals(&t, &count, &evictions);
  ASSERT_EQ(count, 256);
  ASSERT_GE(evictions, 1000000 - 256);
  ASSERT_EQ(ew__iptab_live(&t, &held), 1);
  ASSERT_EQ(ew__iptab_banned(&t, &banned, 3), 1);
  ew__iptab_destroy(&t);
}

EW_TEST_MAIN(EW_TEST(test_parse_and_format), EW_TEST(test_per_address_cap_and_release),
             EW_TEST(test_connection_rate_bans_until_expiry), EW_TEST(test_message_rate_refills),
             EW_TEST(test_manual_bans), EW_TEST(test_bounded_and_evicts_least_recent))
