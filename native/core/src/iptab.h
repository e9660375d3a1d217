// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_IPTAB_H
#define EW_IPTAB_H

/* The table of source addresses a server tracks (docs/protection.md): per address, its open
 * connections, two token buckets (messages/s, new connections/s) and a ban deadline. Memory is
 * bounded by a stated maximum number of addresses; the least recently seen one is forgotten to
 * make room, preferring one with no ban and no open connection. The table is split into shards,
 * each with its own mutex, because the acceptor and every IO thread touch it; each operation
 * takes one shard lock once (per accept, per close, per read round when a per-address message
 * rate is set), never per message. Addresses hash with a per-table random key, so a peer cannot
 * pick addresses that collide. Times are passed in (CLOCK_MONOTONIC ms), which is what makes the
 * table testable without sleeping. */

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "ew/runtime.h"

/* An address as 16 bytes: IPv4 as IPv4-mapped IPv6, so both spellings are one key. */
typedef struct ew__ipkey_s {
  uint8_t b[16];
} ew__ipkey_t;

typedef struct ew__ipent_s ew__ipent_t;
struct ew__ipent_s {
  ew__ipkey_t key;
  ew__ipent_t *hnext;
  TAILQ_ENTRY(ew__ipent_s) lru; /* head = most recently seen */
  uint64_t msg_tokens;          /* thousandths of a message */
  uint64_t msg_ms;              /* last refill */
  uint64_t conn_tokens;         /* thousandths of a connection */
  uint64_t conn_ms;
  uint64_t ban_until; /* banned while now < ban_until */
  uint32_t live;      /* open connections */
};

#define EW__IPTAB_SHARDS 16u

typedef struct ew__ipshard_s {
  pthread_mutex_t mu;
  ew__ipent_t **buckets;
  uint32_t nbuckets; /* a power of two */
  uint32_t count;
  uint32_t cap;
  uint64_t evictions;
  TAILQ_HEAD(ew__iplru_s, ew__ipent_s) lru;
  char pad[64]; /* keeps two shards' locks off one cache line */
} ew__ipshard_t;

typedef struct ew__iptab_s {
  uint64_t k0, k1; /* hash key */
  /* Set once any address has been banned: until then a UDP socket with no message rate need not
   * look its sources up at all (udp.c). */
  _Atomic bool ever_banned;
  ew__ipshard_t sh[EW__IPTAB_SHARDS];
} ew__iptab_t;

/* Outcome of an admission. */
enum {
  EW__ADMIT_OK = 0,
  EW__ADMIT_BANNED = 1,      /* banned before this connection */
  EW__ADMIT_PER_IP = 2,      /* max_conns_per_ip reached */
  EW__ADMIT_RATE_BANNED = 3, /* this connection went over ip_conns_per_sec: now banned */
};

/* A token bucket of `rate` per second holding at most `burst` (0: one second's worth), counted
 * in thousandths so that refills by the millisecond lose nothing: tops up *tokens for the time
 * since *ms and moves *ms to `now`. *ms of 0 means never used: the bucket starts full. Shared by
 * the address buckets here and the response-rate buckets of guard.c. */
void ew__bucket_refill(uint64_t *tokens, uint64_t *ms, uint64_t rate, uint64_t burst, uint64_t now);

/* `max` addresses at most (at least one per shard). Returns 0 or EW_ENOMEM. */
int ew__iptab_init(ew__iptab_t *t, uint32_t max);
void ew__iptab_destroy(ew__iptab_t *t);

void ew__ipkey_from_sockaddr(ew__ipkey_t *k, const struct sockaddr *sa);
/* Parses a numeric IPv4 or IPv6 address. Returns 0 or EW_EINVAL. */
int ew__ipkey_parse(ew__ipkey_t *k, const char *text);
/* Writes the address (IPv4-mapped as dotted quad) into out (>= 46 bytes); returns 4 or 6. */
int ew__ipkey_format(const ew__ipkey_t *k, char *out, size_t len);

/* A new connection from `k` at `now`: refuses it (EW__ADMIT_*: banned, per-address cap,
 * connection rate, which also bans the address for l->ban_ms), or counts it as open. */
int ew__iptab_admit(ew__iptab_t *t, const ew__ipkey_t *k, const ew_limits_t *l, uint64_t now);
/* A connection counted by admit closed. */
void ew__iptab_release(ew__iptab_t *t, const ew__ipkey_t *k);
/* `n` messages from `k`: returns true if that went over ip_msgs_per_sec and banned the address
 * (only the call that bans returns true). */
bool ew__iptab_charge(ew__iptab_t *t, const ew__ipkey_t *k, const ew_limits_t *l, uint32_t n,
                      uint64_t now);
bool ew__iptab_banned(ew__iptab_t *t, const ew__ipkey_t *k, uint64_t now);
/* Outcome of ew__iptab_datagrams(). */
enum {
  EW__DGRAM_PASS = 0,        /* all of them pass */
  EW__DGRAM_BANNED = 1,      /* none: the address was banned before them */
  EW__DGRAM_RATE = 2,        /* the first ones pass; the rest are over ip_msgs_per_sec */
  EW__DGRAM_RATE_BANNED = 3, /* the same, and that banned the address for l->ban_ms */
};
/* `n` datagrams from `k` at `now` (UDP, where every datagram is a message and there is no
 * connection to close): returns how many of them pass, the first ones, and in *why what became
 * of the others. An address is created in the table only when a message rate is set (a ban
 * alone is looked up). One lock per call, so the caller charges a run of datagrams from one
 * source at once. */
uint32_t ew__iptab_datagrams(ew__iptab_t *t, const ew__ipkey_t *k, const ew_limits_t *l, uint32_t n,
                             uint64_t now, int *why);
/* Bans until now + ms (replacing an earlier ban). Returns 0 or EW_ENOMEM. */
int ew__iptab_ban(ew__iptab_t *t, const ew__ipkey_t *k, uint64_t now, uint32_t ms);
/* Returns 0, or EW_ENOENT if the address was not banned. */
int ew__iptab_unban(ew__iptab_t *t, const ew__ipkey_t *k, uint64_t now);
/* Calls fn for each address banned at `now`. Returns how many there are. */
size_t ew__iptab_bans(ew__iptab_t *t, uint64_t now,
                      void (*fn)(void *arg, const ew__ipkey_t *k, uint64_t remaining_ms),
                      void *arg);
/* Addresses tracked now, and those forgotten so far (either pointer may be NULL). */
void ew__iptab_totals(ew__iptab_t *t, uint32_t *count, uint64_t *evictions);
/* The live-connection count of `k` (tests). */
uint32_t ew__iptab_live(ew__iptab_t *t, const ew__ipkey_t *k);

#endif /* EW_IPTAB_H */
