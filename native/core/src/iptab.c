// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "iptab.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ew/error.h"

/* How many least-recently-seen entries eviction looks at for one that is neither banned nor
 * holding connections, before it gives up and forgets the oldest anyway (memory stays bounded
 * whatever the peers do; the cost is that a forgotten address's ban or count is lost, which the
 * ip_evictions counter shows). */
#define EVICT_SCAN 8

/* A keyed 128-bit multiply-fold (the core of wyhash). The key is random per table, so the
 * bucket an address lands in cannot be predicted by a peer choosing source addresses. */
static uint64_t hash_key(const ew__iptab_t *t, const ew__ipkey_t *k) {
  uint64_t a, b;
  memcpy(&a, k->b, 8);
  memcpy(&b, k->b + 8, 8);
  __uint128_t m = (__uint128_t)(a ^ t->k0) * (b ^ t->k1);
  uint64_t h = (uint64_t)m ^ (uint64_t)(m >> 64);
  m = (__uint128_t)(h ^ t->k0) * (0x9e3779b97f4a7c15ull ^ t->k1);
  return (uint64_t)m ^ (uint64_t)(m >> 64);
}

int ew__iptab_init(ew__iptab_t *t, uint32_t max) {
  memset(t, 0, sizeof *t);
  atomic_init(&t->ever_banned, false);
  if (getrandom(&t->k0, sizeof t->k0, 0) != sizeof t->k0 ||
      getrandom(&t->k1, sizeof t->k1, 0) != sizeof t->k1) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    t->k0 = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)t;
    t->k1 = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4full ^ t->k0;
  }
  t->k0 |= 1;
  t->k1 |= 1;
  uint32_t per = (max + EW__IPTAB_SHARDS - 1) / EW__IPTAB_SHARDS;
  if (per == 0) per = 1;
  uint32_t nb = 1;
  while (nb < per && nb < (1u << 30))
    nb <<= 1;
  for (uint32_t i = 0; i < EW__IPTAB_SHARDS; i++) {
    ew__ipshard_t *s = &t->sh[i];
    pthread_mutex_init(&s->mu, NULL);
    TAILQ_INIT(&s->lru);
    s->cap = per;
    s->nbuckets = nb;
    s->buckets = calloc(nb, sizeof *s->buckets);
    if (s->buckets == NULL) {
      ew__iptab_destroy(t);
      return EW_ENOMEM;
    }
  }
  return 0;
}

void ew__iptab_destroy(ew__iptab_t *t) {
  for (uint32_t i = 0; i < EW__IPTAB_SHARDS; i++) {
    ew__ipshard_t *s = &t->sh[i];
    ew__ipent_t *e;
    while ((e = TAILQ_FIRST(&s->lru)) != NULL) {
      TAILQ_REMOVE(&s->lru, e, lru);
      free(e);
    }
    free(s->buckets);
    s->buckets = NULL;
    if (s->nbuckets != 0) pthread_mutex_destroy(&s->mu);
    s->nbuckets = 0;
  }
}

void ew__ipkey_from_sockaddr(ew__ipkey_t *k, const struct sockaddr *sa) {
  memset(k, 0, sizeof *k);
  if (sa->sa_family == AF_INET6) {
    memcpy(k->b, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
  } else if (sa->sa_family == AF_INET) {
    k->b[10] = 0xff;
    k->b[11] = 0xff;
    memcpy(k->b + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
  }
}

int ew__ipkey_parse(ew__ipkey_t *k, const char *text) {
  struct in_addr a4;
  memset(k, 0, sizeof *k);
  if (text == NULL) return EW_EINVAL;
  if (inet_pton(AF_INET, text, &a4) == 1) {
    k->b[10] = 0xff;
    k->b[11] = 0xff;
    memcpy(k->b + 12, &a4, 4);
    return 0;
  }
  if (inet_pton(AF_INET6, text, k->b) == 1) return 0;
  return EW_EINVAL;
}

static bool is_mapped(const ew__ipkey_t *k) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(k->b, prefix, 12) == 0;
}

int ew__ipkey_format(const ew__ipkey_t *k, char *out, size_t len) {
  if (is_mapped(k)) {
    inet_ntop(AF_INET, k->b + 12, out, (socklen_t)len);
    return 4;
  }
  inet_ntop(AF_INET6, k->b, out, (socklen_t)len);
  return 6;
}

static ew__ipshard_t *shard_of(ew__iptab_t *t, const ew__ipkey_t *k, uint32_t *bucket) {
  uint64_t h = hash_key(t, k);
  ew__ipshard_t *s = &t->sh[h % EW__IPTAB_SHARDS];
  *bucket = (uint32_t)(h >> 8) & (s->nbuckets - 1);
  return s;
}

static ew__ipent_t *find(ew__ipshard_t *s, uint32_t b, const ew__ipkey_t *k) {
  for (ew__ipent_t *e = s->buckets[b]; e != NULL; e = e->hnext)
    if (memcmp(&e->key, k, sizeof *k) == 0) return e;
  return NULL;
}

static void unhash(ew__iptab_t *t, ew__ipshard_t *s, ew__ipent_t *e) {
  uint32_t b;
  shard_of(t, &e->key, &b);
  ew__ipent_t **pp = &s->buckets[b];
  while (*pp != NULL && *pp != e)
    pp = &(*pp)->hnext;
  if (*pp == e) *pp = e->hnext;
}

/* Finds the entry of `k` and marks it most recently seen, creating it (and forgetting another
 * when the shard is full) if `create`. Called with the shard locked. */
static ew__ipent_t *touch(ew__iptab_t *t, ew__ipshard_t *s, uint32_t b, const ew__ipkey_t *k,
                          bool create, uint64_t now) {
  ew__ipent_t *e = find(s, b, k);
  if (e != NULL) {
    if (TAILQ_FIRST(&s->lru) != e) {
      TAILQ_REMOVE(&s->lru, e, lru);
      TAILQ_INSERT_HEAD(&s->lru, e, lru);
    }
    return e;
  }
  if (!create) return NULL;
  if (s->count < s->cap) {
    e = malloc(sizeof *e);
    if (e == NULL) return NULL;
    s->count++;
  } else {
    ew__ipent_t *victim = TAILQ_LAST(&s->lru, ew__iplru_s);
    ew__ipent_t *c = victim;
    for (int i = 0; i < EVICT_SCAN && c != NULL; i++, c = TAILQ_PREV(c, ew__iplru_s, lru)) {
      if (c->live == 0 && c->ban_until <= now) {
        victim = c;
        break;
      }
    }
    TAILQ_REMOVE(&s->lru, victim, lru);
    unhash(t, s, victim);
    s->evictions++;
    e = victim;
  }
  memset(e, 0, sizeof *e);
  e->key = *k;
  e->hnext = s->buckets[b];
  s->buckets[b] = e;
  TAILQ_INSERT_HEAD(&s->lru, e, lru);
  return e;
}

void ew__bucket_refill(uint64_t *tokens, uint64_t *ms, uint64_t rate, uint64_t burst,
                       uint64_t now) {
  uint64_t cap = (burst != 0 ? burst : rate) * 1000u;
  if (*ms == 0) {
    *tokens = cap;
  } else if (now > *ms) {
    uint64_t add = (now - *ms) * rate;
    *tokens = (cap - (*tokens < cap ? *tokens : cap) < add) ? cap : *tokens + add;
  }
  if (*tokens > cap) *tokens = cap;
  *ms = now != 0 ? now : 1;
}

int ew__iptab_admit(ew__iptab_t *t, const ew__ipkey_t *k, const ew_limits_t *l, uint64_t now) {
  uint32_t b;
  ew__ipshard_t *s = shard_of(t, k, &b);
  int rc = EW__ADMIT_OK;
  pthread_mutex_lock(&s->mu);
  ew__ipent_t *e = touch(t, s, b, k, true, now);
  if (e == NULL) {
    /* Out of memory for an entry: admit untracked rather than refuse everyone. */
    pthread_mutex_unlock(&s->mu);
    return EW__ADMIT_OK;
  }
  if (e->ban_until > now) {
    rc = EW__ADMIT_BANNED;
  } else if (l->max_conns_per_ip != 0 && e->live >= l->max_conns_per_ip) {
    rc = EW__ADMIT_PER_IP;
  } else if (l->ip_conns_per_sec != 0) {
    ew__bucket_refill(&e->conn_tokens, &e->conn_ms, l->ip_conns_per_sec, l->ip_conn_burst, now);
    if (e->conn_tokens < 1000u) {
      e->ban_until = now + l->ban_ms;
      atomic_store_explicit(&t->ever_banned, true, memory_order_relaxed);
      rc = l->ban_ms != 0 ? EW__ADMIT_RATE_BANNED : EW__ADMIT_PER_IP;
    } else {
      e->conn_tokens -= 1000u;
    }
  }
  if (rc == EW__ADMIT_OK) e->live++;
  pthread_mutex_unlock(&s->mu);
  return rc;
}

void ew__iptab_release(ew__iptab_t *t, const ew__ipkey_t *k) {
  uint32_t b;
  ew__ipshard_t *s = shard_of(t, k, &b);
  pthread_mutex_lock(&s->mu);
  ew__ipent_t *e = find(s, b, k);
  if (e != NULL && e->live > 0) e->live--;
  pthread_mutex_unlock(&s->mu);
}

bool ew__iptab_charge(ew__iptab_t *t, const ew__ipkey_t *k, const ew_limits_t *l, uint32_t n,
                      uint64_t now) {
  if (l->ip_msgs_per_sec == 0 || n == 0) return false;
  uint32_t b;
  ew__ipshard_t *s = shard_of(t, k, &b);
  bool banned = false;
  pthread_mutex_lock(&s->mu);
  ew__ipent_t *e = touch(t, s, b, k, true, now);
  if (e != NULL && e->ban_until <= now) {
    ew__bucket_refill(&e->msg_tokens, &e->msg_ms, l->ip_msgs_per_sec, l->ip_msg_burst, now);
    uint64_t need = (uint64_t)n * 1000u;
    if (e->msg_tokens >= need) {
      e->msg_tokens -= need;
    } else if (l->ban_ms != 0) {
      e->msg_tokens = 0;
      e->ban_until = now + l->ban_ms;
      atomic_store_explicit(&t->ever_banned, true, memory_order_relaxed);
      banned = true;
    } else {
      e->msg_tokens = 0;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return banned;
}

uint32_t ew__iptab_datagrams(ew__iptab_t *t, const ew__ipkey_t *k, const ew_limits_t *l, uint32_t n,
                             uint64_t now, int *why) {
  uint32_t b;
  ew__ipshard_t *s = shard_of(t, k, &b);
  uint32_t pass = n;
  *why = EW__DGRAM_PASS;
  pthread_mutex_lock(&s->mu);
  ew__ipent_t *e = touch(t, s, b, k, l->ip_msgs_per_sec != 0, now);
  if (e == NULL) {
    /* Unknown and no rate to keep (or no memory for an entry): nothing holds it back. */
  } else if (e->ban_until > now) {
    pass = 0;
    *why = EW__DGRAM_BANNED;
  } else if (l->ip_msgs_per_sec != 0) {
    ew__bucket_refill(&e->msg_tokens, &e->msg_ms, l->ip_msgs_per_sec, l->ip_msg_burst, now);
    uint64_t avail = e->msg_tokens / 1000u;
    if (avail < n) pass = (uint32_t)avail;
    e->msg_tokens -= (uint64_t)pass * 1000u;
    if (pass < n) {
      *why = EW__DGRAM_RATE;
      if (l->ban_ms != 0) {
        e->msg_tokens = 0;
        e->ban_until = now + l->ban_ms;
        atomic_store_explicit(&t->ever_banned, true, memory_order_relaxed);
        *why = EW__DGRAM_RATE_BANNED;
      }
    }
  }
  pthread_mutex_unlock(&s->mu);
  return pass;
}

bool ew__iptab_banned(ew__iptab_t *t, const ew__ipkey_t *k, uint64_t now) {
  uint32_t b;
  ew__ipshard_t *s = shard_of(t, k, &b);
  pthread_mutex_lock(&s->mu);
  ew__ipent_t *e = find(s, b, k);
  bool banned = e != NULL && e->ban_until > now;
  pthread_mutex_unlock(&s->mu);
  return banned;
}

int ew__iptab_ban(ew__iptab_t *t, const ew__ipkey_t *k, uint64_t now, uint32_t ms) {
  uint32_t b;
  ew__ipshard_t *s = shard_of(t, k, &b);
  pthread_mutex_lock(&s->mu);
  ew__ipent_t *e = touch(t, s, b, k, true, now);
  if (e != NULL) {
    e->ban_until = now + ms;
    atomic_store_explicit(&t->ever_banned, true, memory_order_relaxed);
  }
  pthread_mutex_unlock(&s->mu);
  return e != NULL ? 0 : EW_ENOMEM;
}

int ew__iptab_unban(ew__iptab_t *t, const ew__ipkey_t *k, uint64_t now) {
  uint32_t b;
  ew__ipshard_t *s = shard_of(t, k, &b);
  int rc = EW_ENOENT;
  pthread_mutex_lock(&s->mu);
  ew__ipent_t *e = find(s, b, k);
  if (e != NULL && e->ban_until > now) {
    e->ban_until = 0;
    /* A lifted ban starts the address afresh, as if it had never flooded. */
    e->msg_ms = e->conn_ms = 0;
    rc = 0;
  }
  pthread_mutex_unlock(&s->mu);
  return rc;
}

size_t ew__iptab_bans(ew__iptab_t *t, uint64_t now,
                      void (*fn)(void *arg, const ew__ipkey_t *k, uint64_t remaining_ms),
                      void *arg) {
  size_t n = 0;
  for (uint32_t i = 0; i < EW__IPTAB_SHARDS; i++) {
    ew__ipshard_t *s = &t->sh[i];
    pthread_mutex_lock(&s->mu);
    ew__ipent_t *e;
    TAILQ_FOREACH(e, &s->lru, lru) {
      if (e->ban_until > now) {
        if (fn != NULL) fn(arg, &e->key, e->ban_until - now);
        n++;
      }
    }
    pthread_mutex_unlock(&s->mu);
  }
  return n;
}

void ew__iptab_totals(ew__iptab_t *t, uint32_t *count, uint64_t *evictions) {
  uint32_t n = 0;
  uint64_t e = 0;
  for (uint32_t i = 0; i < EW__IPTAB_SHARDS; i++) {
    pthread_mutex_lock(&t->sh[i].mu);
    n += t->sh[i].count;
    e += t->sh[i].evictions;
    pthread_mutex_unlock(&t->sh[i].mu);
  }
  if (count != NULL) *count = n;
  if (evictions != NULL) *evictions = e;
}

uint32_t ew__iptab_live(ew__iptab_t *t, const ew__ipkey_t *k) {
  uint32_t b;
  ew__ipshard_t *s = shard_of(t, k, &b);
  pthread_mutex_lock(&s->mu);
  ew__ipent_t *e = find(s, b, k);
  uint32_t live = e != NULL ? e->live : 0;
  pthread_mutex_unlock(&s->mu);
  return live;
}
