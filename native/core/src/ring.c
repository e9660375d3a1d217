// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "ew/ring.h"
#include "ew/error.h"

#include <stdatomic.h>
#include <string.h>

/* The shared header. Its offsets are part of the format (EW_RING_OFF_*) and are checked by the
 * static assertions below, because JavaScript reads the same bytes by offset. */
struct ew_ring_s {
  uint32_t magic;
  uint32_t version;
  uint32_t cap;
  uint32_t max_body;
  uint8_t pad0[48];
  _Atomic uint32_t tail;
  _Atomic uint32_t producer_waiting;
  uint8_t pad1[56];
  _Atomic uint32_t head;
  uint8_t pad2[124];
};

_Static_assert(sizeof(struct ew_ring_s) == EW_RING_HEADER_BYTES, "ring header size");
_Static_assert(offsetof(struct ew_ring_s, cap) == EW_RING_OFF_CAP, "cap offset");
_Static_assert(offsetof(struct ew_ring_s, max_body) == EW_RING_OFF_MAX_BODY, "max_body offset");
_Static_assert(offsetof(struct ew_ring_s, tail) == EW_RING_OFF_TAIL, "tail offset");
_Static_assert(offsetof(struct ew_ring_s, producer_waiting) == EW_RING_OFF_PRODUCER_WAITING,
               "producer_waiting offset");
_Static_assert(offsetof(struct ew_ring_s, head) == EW_RING_OFF_HEAD, "head offset");
_Static_assert(sizeof(ew_rec_t) == EW_REC_HEADER_BYTES, "record header size");
_Static_assert(sizeof(_Atomic uint32_t) == 4, "lock-free u32 atomics");

static int is_pow2(size_t v) {
  return v && !(v & (v - 1));
}

int ew_ring_init(void *mem, size_t bytes) {
  if (mem == NULL || ((uintptr_t)mem & 7) || bytes <= EW_RING_HEADER_BYTES) return EW_EINVAL;
  size_t cap = bytes - EW_RING_HEADER_BYTES;
  if (!is_pow2(cap) || cap < EW_RING_MIN_CAP || cap > EW_RING_MAX_CAP) return EW_EINVAL;
  struct ew_ring_s *r = mem;
  memset(r, 0, sizeof *r);
  r->magic = EW_RING_MAGIC;
  r->version = EW_RING_VERSION;
  r->cap = (uint32_t)cap;
  /* A quarter of the ring, so a maximal record plus the PAD it may need always fits in an
   * empty ring and several can be in flight. */
  r->max_body = ((uint32_t)cap / 4 - EW_REC_HEADER_BYTES) & ~7u;
  atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
  atomic_store_explicit(&r->head, 0, memory_order_relaxed);
  atomic_store_explicit(&r->producer_waiting, 0, memory_order_relaxed);
  atomic_thread_fence(memory_order_release);
  return 0;
}

int ew_ring_check(const void *mem, size_t bytes) {
  const struct ew_ring_s *r = mem;
  if (mem == NULL || bytes <= EW_RING_HEADER_BYTES) return EW_EINVAL;
  if (r->magic != EW_RING_MAGIC || r->version != EW_RING_VERSION) return EW_EINVAL;
  if (!is_pow2(r->cap) || r->cap != bytes - EW_RING_HEADER_BYTES) return EW_EINVAL;
  return 0;
}

uint32_t ew_ring_capacity(const ew_ring_t *r) {
  return r->cap;
}

uint32_t ew_ring_max_body(const ew_ring_t *r) {
  return r->max_body;
}

uint32_t ew_ring_used(const ew_ring_t *r) {
  struct ew_ring_s *m = (struct ew_ring_s *)r;
  uint32_t head = atomic_load_explicit(&m->head, memory_order_acquire);
  uint32_t tail = atomic_load_explicit(&m->tail, memory_order_acquire);
  return tail - head;
}

void ew_ring_producer_init(ew_ring_producer_t *p, ew_ring_t *r) {
  p->ring = r;
  p->data = (uint8_t *)r + EW_RING_HEADER_BYTES;
  p->mask = r->cap - 1;
  p->max_body = r->max_body;
  p->tail = atomic_load_explicit(&r->tail, memory_order_acquire);
  p->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
  p->published = p->tail;
}

/* Bytes a record of `size` needs at position `tail`: itself, plus the rest of the lap when it
 * would cross the end of the data area (that rest becomes a PAD record). */
static inline uint32_t need_at(const ew_ring_producer_t *p, uint32_t tail, uint32_t size) {
  uint32_t to_end = (p->mask + 1) - (tail & p->mask);
  return size <= to_end ? size : size + to_end;
}

ew_rec_t *ew_ring_reserve(ew_ring_producer_t *p, uint32_t body_len) {
  if (body_len > p->max_body) return NULL;
  uint32_t size = EW_REC_SIZE(body_len);
  uint32_t need = need_at(p, p->tail, size);
  uint32_t cap = p->mask + 1;
  if (cap - (p->tail - p->head_cache) < need) {
    p->head_cache = atomic_load_explicit(&p->ring->head, memory_order_acquire);
    if (cap - (p->tail - p->head_cache) < need) return NULL;
  }
  uint32_t off = p->tail & p->mask;
  if (need != size) {
    /* Records never wrap: mark the rest of this lap as padding. At least 8 bytes remain
     * because every record size is a multiple of 8. */
    ew_rec_t *pad = (ew_rec_t *)(p->data + off);
    pad->len = 0;
    pad->kind = EW_REC_PAD;
    pad->flags = 0;
    p->tail += cap - off;
    off = 0;
  }
  ew_rec_t *rec = (ew_rec_t *)(p->data + off);
  rec->len = body_len;
  p->tail += size;
  return rec;
}

ew_rec_t *ew_ring_reserve_upto(ew_ring_producer_t *p, uint32_t min, uint32_t want) {
  if (want > p->max_body) want = p->max_body;
  if (min > want) return NULL;
  uint32_t cap = p->mask + 1;
  if (cap - (p->tail - p->head_cache) < EW_REC_SIZE(want))
    p->head_cache = atomic_load_explicit(&p->ring->head, memory_order_acquire);
  uint32_t free = cap - (p->tail - p->head_cache);
  uint32_t off = p->tail & p->mask;
  uint32_t to_end = cap - off;
  uint32_t room = free < to_end ? free : to_end; /* contiguous bytes at the tail */
  if (room < EW_REC_SIZE(min)) {
    /* Not in this lap: the rest of it becomes a PAD, and the record starts the next one. */
    if (free < to_end || free - to_end < EW_REC_SIZE(min)) return NULL;
    ew_rec_t *pad = (ew_rec_t *)(p->data + off);
    pad->len = 0;
    pad->kind = EW_REC_PAD;
    pad->flags = 0;
    p->tail += to_end;
    off = 0;
    room = free - to_end;
  }
  /* room is a multiple of 8 and at least a header: a body of room - header fills it exactly. */
  uint32_t body = room - EW_REC_HEADER_BYTES;
  if (body > want) body = want;
  ew_rec_t *rec = (ew_rec_t *)(p->data + off);
  rec->len = body;
  p->tail += EW_REC_SIZE(body);
  return rec;
}

void ew_ring_shrink(ew_ring_producer_t *p, ew_rec_t *rec, uint32_t body_len) {
  p->tail -= EW_REC_SIZE(rec->len) - EW_REC_SIZE(body_len);
  rec->len = body_len;
}

void ew_ring_unreserve(ew_ring_producer_t *p, ew_rec_t *rec) {
  p->tail -= EW_REC_SIZE(rec->len);
}

int ew_ring_publish(ew_ring_producer_t *p) {
  if (p->tail == p->published) return 0;
  atomic_store_explicit(&p->ring->tail, p->tail, memory_order_release);
  p->published = p->tail;
  return 1;
}

int ew_ring_wait_space(ew_ring_producer_t *p, uint32_t body_len) {
  if (body_len > p->max_body) return 0;
  atomic_store_explicit(&p->ring->producer_waiting, 1, memory_order_seq_cst);
  /* The fence pairs with the one in ew_ring_release(): either the consumer sees the flag and
   * wakes us, or we see the head it published. */
  atomic_thread_fence(memory_order_seq_cst);
  p->head_cache = atomic_load_explicit(&p->ring->head, memory_order_acquire);
  uint32_t need = need_at(p, p->tail, EW_REC_SIZE(body_len));
  return (p->mask + 1) - (p->tail - p->head_cache) >= need;
}

void ew_ring_consumer_init(ew_ring_consumer_t *c, ew_ring_t *r) {
  c->ring = r;
  c->data = (uint8_t *)r + EW_RING_HEADER_BYTES;
  c->mask = r->cap - 1;
  c->head = atomic_load_explicit(&r->head, memory_order_acquire);
  c->tail_cache = c->head;
  c->released = c->head;
}

const ew_rec_t *ew_ring_next(ew_ring_consumer_t *c) {
  for (;;) {
    if (c->head == c->tail_cache) {
      c->tail_cache = atomic_load_explicit(&c->ring->tail, memory_order_acquire);
      if (c->head == c->tail_cache) return NULL;
    }
    const ew_rec_t *rec = (const ew_rec_t *)(c->data + (c->head & c->mask));
    if (rec->kind != EW_REC_PAD) return rec;
    c->head += (c->mask + 1) - (c->head & c->mask);
  }
}

void ew_ring_advance(ew_ring_consumer_t *c, const ew_rec_t *rec) {
  c->head += EW_REC_SIZE(rec->len);
}

void ew_ring_skip(ew_ring_consumer_t *c) {
  c->tail_cache = atomic_load_explicit(&c->ring->tail, memory_order_acquire);
  c->head = c->tail_cache;
}

int ew_ring_release(ew_ring_consumer_t *c) {
  if (c->head == c->released) return 0;
  atomic_store_explicit(&c->ring->head, c->head, memory_order_release);
  c->released = c->head;
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&c->ring->producer_waiting, memory_order_relaxed) &&
      atomic_exchange_explicit(&c->ring->producer_waiting, 0, memory_order_acq_rel))
    return 1;
  return 0;
}
