// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "test.h"
#include "ew.h"

#include <pthread.h>
#include <stdatomic.h>

#define CAP 4096u

static _Alignas(64) uint8_t mem[EW_RING_HEADER_BYTES + CAP];

static ew_rec_t *put(ew_ring_producer_t *p, uint32_t len, uint32_t tag) {
  ew_rec_t *r = ew_ring_reserve(p, len);
  if (r == NULL) return NULL;
  r->kind = EW_REC_DATA;
  r->flags = 0;
  r->conn = tag;
  r->type = tag;
  r->seq = len;
  memset(r + 1, (int)(tag & 0xff), len);
  return r;
}

/* An empty ring in `mem` with its producer and consumer. */
static ew_ring_t *fresh(ew_ring_producer_t *p, ew_ring_consumer_t *c) {
  ASSERT_OK(ew_ring_init(mem, sizeof mem));
  ew_ring_t *r = (ew_ring_t *)mem;
  ew_ring_producer_init(p, r);
  ew_ring_consumer_init(c, r);
  return r;
}

static void test_geometry_is_validated(void) {
  ASSERT_EQ(ew_ring_init(mem, EW_RING_HEADER_BYTES + 3000), EW_EINVAL);    /* not a power of 2 */
  ASSERT_EQ(ew_ring_init(mem, EW_RING_HEADER_BYTES + 2048), EW_EINVAL);    /* below minimum */
  ASSERT_EQ(ew_ring_init(mem + 4, EW_RING_HEADER_BYTES + CAP), EW_EINVAL); /* misaligned */
  ASSERT_OK(ew_ring_init(mem, sizeof mem));
  ASSERT_OK(ew_ring_check(mem, sizeof mem));
  ASSERT_EQ(ew_ring_check(mem, sizeof mem - 8), EW_EINVAL);
  ew_ring_t *r = (ew_ring_t *)mem;
  ASSERT_UEQ(ew_ring_capacity(r), CAP);
  ASSERT_UEQ(ew_ring_max_body(r), CAP / 4 - EW_REC_HEADER_BYTES);
}

static void test_fill_then_drain(void) {
  ew_ring_producer_t p;
  ew_ring_consumer_t c;
  ew_ring_t *r = fresh(&p, &c);
  ASSERT_NULL(ew_ring_reserve(&p, ew_ring_max_body(r) + 1)); /* never fits: caller splits */
  int n = 0;
  while (put(&p, 40, (uint32_t)n) != NULL)
    n++;
  ASSERT_EQ(n, CAP / EW_REC_SIZE(40));
  ASSERT_NULL(ew_ring_next(&c)); /* nothing published yet */
  ASSERT_EQ(ew_ring_publish(&p), 1);
  ASSERT_EQ(ew_ring_publish(&p), 0);
  for (int i = 0; i < n; i++) {
    const ew_rec_t *rec = ew_ring_next(&c);
    ASSERT_NOT_NULL(rec);
    ASSERT_UEQ(rec->type, (uint32_t)i);
    ASSERT_UEQ(rec->len, 40);
    ew_ring_advance(&c, rec);
  }
  ASSERT_NULL(ew_ring_next(&c));
  /* Still full for the producer until the consumer releases. */
  ASSERT_NULL(put(&p, 40, 0));
  ASSERT_EQ(ew_ring_release(&c), 0);
  ASSERT_NOT_NULL(put(&p, 40, 0));
}

static void test_wrap_writes_pad(void) {
  ew_ring_producer_t p;
  ew_ring_consumer_t c;
  ew_ring_t *r = fresh(&p, &c);
  /* Many laps with sizes that do not divide the capacity: every lap ends in a PAD. */
  uint32_t sent = 0, got = 0;
  for (int lap = 0; lap < 2000; lap++) {
    uint32_t len = (uint32_t)(lap * 37) % 700;
    ASSERT_NOT_NULL(put(&p, len, sent));
    ew_ring_publish(&p);
    sent++;
    const ew_rec_t *rec = ew_ring_next(&c);
    ASSERT_NOT_NULL(rec);
    ASSERT_UEQ(rec->type, got);
    ASSERT_UEQ(rec->len, len);
    const uint8_t *b = (const uint8_t *)(rec + 1);
    for (uint32_t i = 0; i < len; i++)
      ASSERT_EQ(b[i], (uint8_t)(got & 0xff));
    /* Records never wrap: the body is contiguous within the data area. */
    ASSERT_LE((const uint8_t *)(rec + 1) + len, mem + sizeof mem);
    ew_ring_advance(&c, rec);
    ew_ring_release(&c);
    got++;
  }
  ASSERT_EQ(sent, got);
  ASSERT_EQ(ew_ring_used(r), 0);
}

/* Reservations for reads that land in the ring: as large as fits (up to what is asked), the
 * rest of the lap used when it holds the minimum, a PAD only when it does not; shrink and
 * unreserve give back what the read did not fill, so what the consumer sees is exactly what was
 * kept, lap after lap. */
static void test_reserve_upto_shrink_unreserve(void) {
  ew_ring_producer_t p;
  ew_ring_consumer_t c;
  ew_ring_t *r = fresh(&p, &c);
  uint32_t max = ew_ring_max_body(r);                        /* 1000 */
  ASSERT_NULL(ew_ring_reserve_upto(&p, max + 1, max + 100)); /* min above the maximum */
  ew_rec_t *rec = ew_ring_reserve_upto(&p, 16, 1u << 20);
  ASSERT_NOT_NULL(rec);
  ASSERT_UEQ(rec->len, max); /* capped at the largest body */
  ew_ring_unreserve(&p, rec);
  ASSERT_EQ(ew_ring_publish(&p), 0); /* nothing was kept */
  /* Fill all but 104 bytes of the lap, then ask for 500 with a minimum of 40: the rest of the
   * lap (104 bytes: an 80-byte body) is used, not wrapped. */
  for (uint32_t used = 0; used < CAP - 104;) {
    uint32_t body = CAP - 104 - used >= EW_REC_SIZE(900) + 32 ? 900 : CAP - 104 - used - 24;
    ASSERT_NOT_NULL(put(&p, body, 1));
    used += EW_REC_SIZE(body);
  }
  ew_ring_publish(&p);
  const ew_rec_t *got;
  while ((got = ew_ring_next(&c)) != NULL)
    ew_ring_advance(&c, got);
  ew_ring_release(&c);
  rec = ew_ring_reserve_upto(&p, 40, 500);
  ASSERT_NOT_NULL(rec);
  ASSERT_UEQ(rec->len, 104 - EW_REC_HEADER_BYTES);
  ASSERT_PTR_EQ((uint8_t *)rec, mem + EW_RING_HEADER_BYTES + CAP - 104);
  ew_ring_unreserve(&p, rec);
  /* With a minimum the rest of the lap cannot hold, the lap ends in a PAD and the record
   * starts the next one. */
  rec = ew_ring_reserve_upto(&p, 200, 500);
  ASSERT_NOT_NULL(rec);
  ASSERT_UEQ(rec->len, 500);
  ASSERT_PTR_EQ((uint8_t *)rec, mem + EW_RING_HEADER_BYTES);
  /* A read brought 123 bytes: shrink to them. */
  memset(rec + 1, 0x5a, 123);
  ew_ring_shrink(&p, rec, 123);
  rec->kind = EW_REC_FRAMES;
  rec->type = 7;
  ASSERT_NOT_NULL(put(&p, 10, 2)); /* the next record follows the shrunk one directly */
  ew_ring_publish(&p);
  got = ew_ring_next(&c); /* the PAD is skipped */
  ASSERT_NOT_NULL(got);
  ASSERT_EQ(got->kind, EW_REC_FRAMES);
  ASSERT_UEQ(got->len, 123);
  ASSERT_EQ(((const uint8_t *)(got + 1))[122], 0x5a);
  ew_ring_advance(&c, got);
  got = ew_ring_next(&c);
  ASSERT_NOT_NULL(got);
  ASSERT_PTR_EQ((const uint8_t *)got, mem + EW_RING_HEADER_BYTES + EW_REC_SIZE(123));
  ASSERT_UEQ(got->type, 2);
  ew_ring_advance(&c, got);
  ew_ring_release(&c);
  ASSERT_EQ(ew_ring_used(r), 0);
  /* Not even the minimum free: NULL, and nothing changes. */
  while (put(&p, 900, 3) != NULL) {
  }
  uint32_t before = p.tail;
  ASSERT_NULL(ew_ring_reserve_upto(&p, 200, 900));
  ASSERT_UEQ(p.tail, before);
  /* Many laps of reserve, partial fill and shrink (or unreserve) with the consumer keeping up:
   * every kept record arrives whole and in order. */
  ew_ring_publish(&p);
  while ((got = ew_ring_next(&c)) != NULL)
    ew_ring_advance(&c, got);
  ew_ring_release(&c);
  uint32_t kept = 0, seen = 0;
  for (uint32_t i = 0; i < 5000; i++) {
    rec = ew_ring_reserve_upto(&p, 64, 64 + (i * 131) % 900);
    ASSERT_NOT_NULL(rec);
    uint32_t fill = (i * 37) % (rec->len + 1);
    if (i % 5 == 0) {
      ew_ring_unreserve(&p, rec);
    } else {
      ew_ring_shrink(&p, rec, fill);
      rec->kind = EW_REC_DATA;
      rec->type = kept++;
      memset(rec + 1, (int)(rec->type & 0xff), fill);
    }
    ew_ring_publish(&p);
    while ((got = ew_ring_next(&c)) != NULL) {
      ASSERT_UEQ(got->type, seen);
      for (uint32_t j = 0; j < got->len; j++)
        if (((const uint8_t *)(got + 1))[j] != (uint8_t)(seen & 0xff))
          EW__FAIL("record %u byte %u corrupted", seen, j);
      ASSERT_LE((const uint8_t *)(got + 1) + got->len, mem + sizeof mem);
      seen++;
      ew_ring_advance(&c, got);
    }
    ew_ring_release(&c);
  }
  ASSERT_UEQ(seen, kept);
  ASSERT_EQ(ew_ring_used(r), 0);
}

static void test_wait_space_handshake(void) {
  ew_ring_producer_t p;
  ew_ring_consumer_t c;
  fresh(&p, &c);
  while (put(&p, 200, 1) != NULL) {
  }
  ew_ring_publish(&p);
  ASSERT_EQ(ew_ring_wait_space(&p, 200), 0); /* full: the flag is now set */
  const ew_rec_t *rec = ew_ring_next(&c);
  ew_ring_advance(&c, rec);
  ASSERT_EQ(ew_ring_release(&c), 1); /* the consumer must wake the producer */
  ASSERT_EQ(ew_ring_release(&c), 0);
  ASSERT_EQ(ew_ring_wait_space(&p, 200), 1);
  ASSERT_NOT_NULL(put(&p, 200, 2));
}

/* Two threads, ten million records of random sizes: every record arrives once, in order,
 * intact. */
#define STRESS_RECORDS 2000000u
static _Alignas(64) uint8_t big[EW_RING_HEADER_BYTES + (1u << 16)];
static _Atomic int producer_done;

static uint32_t rnd(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

static void *producer(void *arg) {
  ew_ring_producer_t p;
  ew_ring_producer_init(&p, (ew_ring_t *)arg);
  uint32_t seed = 12345;
  for (uint32_t i = 0; i < STRESS_RECORDS; i++) {
    uint32_t len = rnd(&seed) % 3000;
    ew_rec_t *r;
    while ((r = ew_ring_reserve(&p, len)) == NULL) {
      ew_ring_publish(&p);
      ew_ring_wait_space(&p, len);
    }
    r->kind = EW_REC_DATA;
    r->conn = i;
    r->type = len;
    uint8_t *b = (uint8_t *)(r + 1);
    for (uint32_t j = 0; j < len; j++)
      b[j] = (uint8_t)(i + j);
    if ((i & 15) == 0) ew_ring_publish(&p);
  }
  ew_ring_publish(&p);
  atomic_store(&producer_done, 1);
  return NULL;
}

static void test_two_thread_stress(void) {
  ew_ring_t *r = (ew_ring_t *)big;
  ASSERT_OK(ew_ring_init(big, sizeof big));
  ew_ring_consumer_t c;
  ew_ring_consumer_init(&c, r);
  pthread_t t;
  ASSERT_OK(pthread_create(&t, NULL, producer, r));
  uint32_t seed = 12345;
  for (uint32_t i = 0; i < STRESS_RECORDS;) {
    const ew_rec_t *rec = ew_ring_next(&c);
    if (rec == NULL) {
      ew_ring_release(&c);
      continue;
    }
    uint32_t len = rnd(&seed) % 3000;
    ASSERT_UEQ(rec->conn, i);
    ASSERT_UEQ(rec->len, len);
    ASSERT_UEQ(rec->type, len);
    const uint8_t *b = (const uint8_t *)(rec + 1);
    for (uint32_t j = 0; j < len; j++)
      if (b[j] != (uint8_t)(i + j)) EW__FAIL("record %u byte %u corrupted", i, j);
    ew_ring_advance(&c, rec);
    if ((i & 7) == 0) ew_ring_release(&c);
    i++;
  }
  ew_ring_release(&c);
  pthread_join(t, NULL);
  ASSERT_EQ(atomic_load(&producer_done), 1);
  ASSERT_NULL(ew_ring_next(&c));
  ASSERT_EQ(ew_ring_used(r), 0);
}

EW_TEST_MAIN(EW_TEST(test_geometry_is_validated), EW_TEST(test_fill_then_drain),
             EW_TEST(test_wrap_writes_pad), EW_TEST(test_reserve_upto_shrink_unreserve),
             EW_TEST(test_wait_space_handshake), EW_TEST(test_two_thread_stress))
