// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Protection (docs/protection.md), on the IO threads, before a port sees a byte. What each piece
 * costs on the data path, and why it is where it is:
 *  - message and byte windows: counters on the connection, compared where a message is
 *    delivered or bytes are read; the window rolls lazily on the next read, so no timer exists
 *    per connection or per window;
 *  - per-address buckets and bans: the server's address table (iptab.c), touched once per
 *    accept and close, and once per read round only when a per-address message rate is set;
 *  - timeouts: the IO thread's deadline-ordered lists (timer.h), swept from the head;
 *  - response rate: only connections of a rate-limited server leave the zero-copy write path;
 *    output above the rate waits in the connection's buffer (under the usual watermarks) and a
 *    10 ms tick hands out the tokens round-robin. */

uint64_t ew__coarse_ms(void) {
  struct timespec ts;
  /* CLOCK_MONOTONIC_COARSE: a few nanoseconds instead of twenty, at a jiffy's resolution, which
   * is plenty for windows and buckets measured in seconds. */
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ew_limits_init(ew_limits_t *l) {
  memset(l, 0, sizeof *l);
  l->window_ms = 30000;
  l->ban_ms = 60000;
  /* A frame begun and left unfinished is the slowloris of a framed protocol: 30 s, as long as
   * a legitimate 4 MiB frame may take on a slow link. An idle connection is legitimate for
   * many protocols (server push), so idle and first-message timeouts are off, as in Node. */
  l->partial_timeout_ms = 30000;
}

/* ---- rate-limited log lines ---------------------------------------------------------------- */

void ew__guard_log(ew__io_t *io, int kind, int level, const char *fmt, ...) {
  if (level < atomic_load_explicit(&io->rt->log_level, memory_order_relaxed)) return;
  uint64_t now = ew__coarse_ms();
  if (io->loglim[kind].last_ms != 0 && now - io->loglim[kind].last_ms < 1000) {
    io->loglim[kind].suppressed++;
    return;
  }
  char line[384];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  uint64_t n = io->loglim[kind].suppressed;
  io->loglim[kind].last_ms = now;
  io->loglim[kind].suppressed = 0;
  if (n != 0)
    ew__log(io->rt, level, "%s (and %llu more like it in the last second)", line,
            (unsigned long long)n);
  else
    ew__log(io->rt, level, "%s", line);
}

/* ---- servers ------------------------------------------------------------------------------ */

static void broadcast_ban(ew_runtime_t *rt, ew__server_t *srv, const ew__ipkey_t *k) {
  for (uint32_t i = 0; i < rt->nio; i++) {
    ew__cmd_ban_t *cmd = malloc(sizeof *cmd);
    if (cmd == NULL) {
      /* The ban itself holds (new connections are refused); only this thread's open ones
       * stay until they next misbehave. */
      EW_LOG_ERROR(rt, "out of memory closing a banned address's connections");
      continue;
    }
    cmd->base.kind = EW__CMD_BAN;
    cmd->srv = srv;
    cmd->key = *k;
    atomic_fetch_add(&srv->refs, 1);
    ew__io_post(&rt->io[i], &cmd->base);
  }
}

/* An automatic ban: everybody hears of it (the IO threads close the address's connections, the
 * owner port gets a BAN record). */
static void banned(ew__io_t *io, ew__server_t *srv, const ew__ipkey_t *k, uint32_t reason,
                   uint32_t ms) {
  struct {
    uint32_t reason;
    uint16_t family;
    uint16_t zero;
    char addr[48];
  } body;
  memset(&body, 0, sizeof body);
  body.reason = reason;
  body.family = (uint16_t)ew__ipkey_format(k, body.addr, sizeof body.addr);
  EW__STAT(io, bans)++;
  ew__guard_log(io, EW__LOG_BAN, EW_LOG_LEVEL_WARN, "server %u: %s banned for %u ms: %s", srv->id,
                body.addr, ms,
                reason == EW_BAN_MESSAGES ? "messages per second above ipMessagesPerSecond"
                                          : "connections per second above ipConnectionsPerSecond");
  ew__io_push_ctrl(io, srv->o.owner_port, EW_REC_BAN, 0, srv->id, ms, &body,
                   (uint32_t)(8 + strlen(body.addr)));
  broadcast_ban(io->rt, srv, k);
}

int ew__guard_admit(ew__io_t *io, ew__server_t *srv, const struct sockaddr *sa) {
  ew__srv_io_t *sio = &srv->prof.per_io[io->index];
  const ew_limits_t *l = &sio->lim;
  ew__ipkey_t k;
  ew__ipkey_from_sockaddr(&k, sa);
  char addr[48];
  if (l->max_conns != 0 && atomic_load_explicit(&srv->live, memory_order_relaxed) >= l->max_conns) {
    sio->stats[EW_SRV_STAT_rejected_max_conns]++;
    EW__STAT(io, guard_rejects)++;
    ew__ipkey_format(&k, addr, sizeof addr);
    ew__guard_log(io, EW__LOG_REJECT, EW_LOG_LEVEL_INFO,
                  "server %u: refused %s: maxConnections (%u) reached", srv->id, addr,
                  l->max_conns);
    return EW_ELIMIT;
  }
  uint64_t now = ew__coarse_ms();
  int rc = ew__iptab_admit(&srv->ips, &k, l, now);
  if (rc == EW__ADMIT_OK) {
    atomic_fetch_add_explicit(&srv->live, 1, memory_order_relaxed);
    return 0;
  }
  EW__STAT(io, guard_rejects)++;
  ew__ipkey_format(&k, addr, sizeof addr);
  switch (rc) {
  case EW__ADMIT_PER_IP:
    sio->stats[EW_SRV_STAT_rejected_max_conns_per_ip]++;
    ew__guard_log(io, EW__LOG_REJECT, EW_LOG_LEVEL_INFO,
                  "server %u: refused %s: maxConnectionsPerIp (%u) reached", srv->id, addr,
                  l->max_conns_per_ip);
    return EW_ELIMIT;
  case EW__ADMIT_RATE_BANNED:
    sio->stats[EW_SRV_STAT_bans_connections]++;
    sio->stats[EW_SRV_STAT_rejected_banned]++;
    banned(io, srv, &k, EW_BAN_CONNECTIONS, l->ban_ms);
    return EW_EBANNED;
  default:
    sio->stats[EW_SRV_STAT_rejected_banned]++;
    ew__guard_log(io, EW__LOG_REJECT, EW_LOG_LEVEL_INFO, "server %u: refused %s: banned", srv->id,
                  addr);
    return EW_EBANNED;
  }
}

void ew__guard_unadmit(ew__server_t *srv, const struct sockaddr *sa) {
  ew__ipkey_t k;
  ew__ipkey_from_sockaddr(&k, sa);
  atomic_fetch_sub_explicit(&srv->live, 1, memory_order_relaxed);
  ew__iptab_release(&srv->ips, &k);
}

/* ---- connections --------------------------------------------------------------------------- */

static void publish(ew__conn_t *c) {
  ew__io_t *io = c->io;
  ew__slot_store64(io, c->slot, EW_SHM_SLOT_MSGS_IN, c->msgs_total);
  ew__slot_store64(io, c->slot, EW_SHM_SLOT_BYTES_IN, c->bytes_total);
  ew__slot_store(io, c->slot, EW_SHM_SLOT_WIN_MSGS, c->win_msgs);
  ew__slot_store64(io, c->slot, EW_SHM_SLOT_WIN_BYTES, c->win_bytes);
  ew__slot_store64(io, c->slot, EW_SHM_SLOT_WIN_START, c->win_start);
}

void ew__guard_adopted(ew__conn_t *c, const struct sockaddr *sa) {
  ew__io_t *io = c->io;
  c->sio = &c->prof->per_io[io->index];
  c->lim = &c->sio->lim;
  ew__ipkey_from_sockaddr(&c->ip, sa);
  if (c->srv != NULL) c->flags |= C_IP_COUNTED; /* admitted by its listener */
  c->win_start = ew__coarse_ms();
  c->last_rx = c->win_start;
  c->tprog.tag = 1;
  c->tidle.tag = 2;
  publish(c);
  if (c->codec->flags & EW__CODEC_OWN_TIMERS) return; /* e.g. HTTP's own timeouts */
  if (c->lim->idle_timeout_ms != 0) ew__io_arm(io, &c->tidle, c->lim->idle_timeout_ms);
  if (c->lim->first_msg_timeout_ms != 0) ew__io_arm(io, &c->tprog, c->lim->first_msg_timeout_ms);
}

void ew__guard_released(ew__conn_t *c) {
  ew__guard_unthrottle(c);
  if (c->flags & C_IP_COUNTED) {
    atomic_fetch_sub_explicit(&c->srv->live, 1, memory_order_relaxed);
    ew__iptab_release(&c->srv->ips, &c->ip);
  }
}

/* Starts a new window once the current one is over. Windows follow one another without gaps
 * from the connection's accept, so a window's counts always cover exactly window_ms. */
static void roll(ew__conn_t *c, uint64_t now) {
  uint32_t w = c->lim->window_ms != 0 ? c->lim->window_ms : 30000;
  if (now - c->win_start < w) return;
  c->win_start += (now - c->win_start) / w * w;
  c->win_msgs = 0;
  c->win_bytes = 0;
}

/* Counts the messages delivered since the last call into the server's statistics and the
 * address's bucket. Returns true if that banned the address (already announced). */
static bool charge(ew__conn_t *c) {
  uint64_t fresh = c->msgs_total - c->msgs_charged;
  c->msgs_charged = c->msgs_total;
  c->sio->stats[EW_SRV_STAT_messages_in] += fresh;
  const ew_limits_t *l = c->lim;
  if (fresh == 0 || l->ip_msgs_per_sec == 0 || c->srv == NULL ||
      !ew__iptab_charge(&c->srv->ips, &c->ip, l, (uint32_t)fresh, ew__coarse_ms()))
    return false;
  EW__SRV_STAT(c, bans_messages)++;
  banned(c->io, c->srv, &c->ip, EW_BAN_MESSAGES, l->ban_ms);
  return true;
}

/* Decides a kick: counts and logs it, and fills `k` with the figures of its CLOSE record. */
static int kick(ew__conn_t *c, uint32_t what, ew__kick_t *k) {
  ew__io_t *io = c->io;
  const ew_limits_t *l = c->lim;
  ew__kick_t body = {
      what,         l->window_ms,
      c->win_msgs,  0,
      c->win_bytes, what == EW_KICK_MESSAGES ? l->max_msgs_per_window : l->max_bytes_per_window};
  if (what == EW_KICK_MESSAGES)
    EW__SRV_STAT(c, kicked_messages)++;
  else
    EW__SRV_STAT(c, kicked_bytes)++;
  EW__STAT(io, kicks)++;
  char addr[48];
  ew__ipkey_format(&c->ip, addr, sizeof addr);
  ew__guard_log(io, EW__LOG_KICK, EW_LOG_LEVEL_WARN,
                "server %u: connection %llu from %s kicked: %u messages, %llu bytes in its %u ms "
                "window (limit %llu %s)",
                c->prof->id, (unsigned long long)c->id, addr, c->win_msgs,
                (unsigned long long)c->win_bytes, l->window_ms, (unsigned long long)body.limit,
                what == EW_KICK_MESSAGES ? "messages" : "bytes");
  publish(c);
  /* What it sent before the kick still counts against its address. */
  charge(c);
  *k = body;
  return EW__GUARD_KICK;
}

int ew__guard_read(ew__conn_t *c, size_t n, ew__kick_t *k) {
  const ew_limits_t *l = c->lim;
  uint64_t now = ew__coarse_ms();
  c->last_rx = now;
  roll(c, now);
  c->win_bytes += n;
  c->bytes_total += n;
  c->sio->stats[EW_SRV_STAT_bytes_in] += n;
  if (l->max_bytes_per_window != 0 && c->win_bytes > l->max_bytes_per_window)
    return kick(c, EW_KICK_BYTES, k);
  if (!(c->codec->flags & EW__CODEC_OWN_TIMERS)) {
    if (l->idle_timeout_ms != 0)
      ew__io_arm(c->io, &c->tidle, l->idle_timeout_ms);
    else if (ew__tnode_armed(&c->tidle))
      ew__tnode_disarm(&c->tidle); /* the timeout was turned off at run time */
  }
  return EW__GUARD_PASS;
}

uint32_t ew__guard_allowance(ew__conn_t *c) {
  uint32_t max = c->lim->max_msgs_per_window;
  if (max == 0) return UINT32_MAX;
  roll(c, ew__coarse_ms());
  return c->win_msgs >= max ? 0 : max - c->win_msgs;
}

int ew__guard_msg(ew__conn_t *c, ew__kick_t *k) {
  return ew__guard_allowance(c) == 0 ? kick(c, EW_KICK_MESSAGES, k) : EW__GUARD_PASS;
}

/* The partial-frame and first-message timeouts share the connection's progress node: until the
 * first message the first-message timeout runs (if set: it covers a partial first frame too),
 * then the partial-frame timeout runs from the moment a frame is begun until it is complete.
 * Bytes waiting because the port's ring is full are our delay, not the peer's: no timeout. */
static void progress_timers(ew__conn_t *c) {
  const ew_limits_t *l = c->lim;
  if (!(c->flags & C_GOT_MSG) && l->first_msg_timeout_ms != 0) return;
  if (ew__tnode_armed(&c->tprog) && !(c->flags & C_PARTIAL)) ew__tnode_disarm(&c->tprog);
  bool partial = !(c->flags & (C_BLOCKED | C_FAULT)) && c->codec->partial(c);
  if (partial && !(c->flags & C_PARTIAL) && l->partial_timeout_ms != 0) {
    c->flags |= C_PARTIAL;
    ew__io_arm(c->io, &c->tprog, l->partial_timeout_ms);
  } else if (!partial && (c->flags & C_PARTIAL)) {
    c->flags &= ~C_PARTIAL;
    ew__tnode_disarm(&c->tprog);
  }
}

int ew__guard_round(ew__conn_t *c) {
  publish(c);
  if (!(c->codec->flags & EW__CODEC_OWN_TIMERS)) progress_timers(c);
  if (!charge(c)) return 0;
  /* This one closes now; the others of the address when their threads run the command. */
  EW__SRV_STAT(c, banned_closes)++;
  return EW_EBANNED;
}

int ew__guard_timeout(ew__conn_t *c, bool progress) {
  ew__io_t *io = c->io;
  const ew_limits_t *l = c->lim;
  int reason;
  const char *what;
  /* The limits may have changed since this timeout was armed: only the current ones close. A
   * timeout turned off lets the connection be; one changed restarts with its new length. */
  if (!progress) {
    if (l->idle_timeout_ms == 0) return 0;
    /* Reads re-arm the timeout while it is on, so this only catches one turned off and on
     * again meanwhile; the margin covers the coarse clock's lag behind the precise one. */
    if (ew__coarse_ms() - c->last_rx + 50 < l->idle_timeout_ms) {
      ew__io_arm(io, &c->tidle, l->idle_timeout_ms);
      return 0;
    }
  } else if (c->flags & C_PARTIAL) {
    if (l->partial_timeout_ms == 0) {
      c->flags &= ~C_PARTIAL;
      return 0;
    }
  } else if (l->first_msg_timeout_ms == 0) {
    return 0;
  }
  if (!progress) {
    reason = EW_ETIMEOUT_IDLE;
    what = "idle";
    EW__SRV_STAT(c, timeouts_idle)++;
  } else if (c->flags & C_PARTIAL) {
    reason = EW_ETIMEOUT_PARTIAL;
    what = "partial-frame";
    EW__SRV_STAT(c, timeouts_partial)++;
  } else {
    reason = EW_ETIMEOUT_FIRST;
    what = "first-message";
    EW__SRV_STAT(c, timeouts_first)++;
  }
  EW__STAT(io, timeouts)++;
  char addr[48];
  ew__ipkey_format(&c->ip, addr, sizeof addr);
  ew__guard_log(io, EW__LOG_TIMEOUT, EW_LOG_LEVEL_INFO,
                "server %u: connection %llu from %s closed by its %s timeout", c->prof->id,
                (unsigned long long)c->id, addr, what);
  return reason;
}

/* ---- datagrams ----------------------------------------------------------------------------- */

uint32_t ew__guard_datagrams(ew__io_t *io, ew__server_t *srv, const ew__ipkey_t *k, uint32_t n) {
  ew__srv_io_t *sio = &srv->prof.per_io[io->index];
  const ew_limits_t *l = &sio->lim;
  int why;
  uint32_t pass = ew__iptab_datagrams(&srv->ips, k, l, n, ew__coarse_ms(), &why);
  if (pass == n) return n;
  uint32_t dropped = n - pass;
  EW__STAT(io, dgram_drops) += dropped;
  if (why == EW__DGRAM_BANNED) {
    sio->stats[EW_SRV_STAT_dgram_banned] += dropped;
    return pass;
  }
  sio->stats[EW_SRV_STAT_dgram_rate] += dropped;
  if (why == EW__DGRAM_RATE_BANNED) {
    sio->stats[EW_SRV_STAT_bans_messages]++;
    banned(io, srv, k, EW_BAN_MESSAGES, l->ban_ms);
  }
  return pass;
}

/* ---- commands ------------------------------------------------------------------------------ */

void ew__guard_run_limits(ew__io_t *io, ew__cmd_limits_t *cmd) {
  cmd->srv->prof.per_io[io->index].lim = cmd->lim;
  /* A response rate that was lifted or changed applies at the next tick. */
  if (!TAILQ_EMPTY(&io->throttled)) ew__io_throttle_arm(io);
  ew__server_unref(cmd->srv);
}

bool ew__guard_ban_hits(ew__conn_t *c, const ew__cmd_ban_t *cmd) {
  if (c->srv != cmd->srv || memcmp(&c->ip, &cmd->key, sizeof c->ip) != 0) return false;
  EW__SRV_STAT(c, banned_closes)++;
  return true;
}

void ew__guard_ban_done(ew__io_t *io, ew__cmd_ban_t *cmd, uint32_t n) {
  if (n != 0) {
    char addr[48];
    ew__ipkey_format(&cmd->key, addr, sizeof addr);
    ew__guard_log(io, EW__LOG_BAN, EW_LOG_LEVEL_INFO,
                  "server %u: closed %u connection%s of banned %s on IO thread %u", cmd->srv->id, n,
                  n == 1 ? "" : "s", addr, io->index);
  }
  ew__server_unref(cmd->srv);
}

/* ---- response rate ------------------------------------------------------------------------- */

size_t ew__guard_send_allow(ew__conn_t *c) {
  const ew_limits_t *l = c->lim;
  uint64_t now = ew__now_ms();
  uint64_t allow = UINT64_MAX;
  if (l->send_bytes_per_sec != 0) {
    ew__bucket_refill(&c->send_tokens, &c->send_ms, l->send_bytes_per_sec, l->send_burst, now);
    allow = c->send_tokens / 1000u;
  }
  if (l->server_send_bytes_per_sec != 0) {
    /* Each IO thread gets an equal share of the server's rate, and shares it among its waiting
     * connections in turn: a newcomer queues behind those already waiting. */
    ew__srv_io_t *sio = c->sio;
    uint64_t nio = c->io->rt->nio;
    uint64_t rate = l->server_send_bytes_per_sec / nio;
    uint64_t burst =
        (l->server_send_burst != 0 ? l->server_send_burst : l->server_send_bytes_per_sec) / nio;
    ew__bucket_refill(&sio->send_tokens, &sio->send_ms, rate != 0 ? rate : 1,
                      burst != 0 ? burst : 1, now);
    uint64_t share = sio->send_tokens / 1000u;
    if (c->flags & C_THROTTLED)
      share /= (sio->nthrottled != 0 ? sio->nthrottled : 1);
    else if (sio->nthrottled != 0)
      share = 0;
    if (share < allow) allow = share;
  }
  return allow > SIZE_MAX ? SIZE_MAX : (size_t)allow;
}

static void take(uint64_t *tokens, size_t n) {
  uint64_t t = (uint64_t)n * 1000u;
  *tokens = *tokens > t ? *tokens - t : 0;
}

void ew__guard_sent(ew__conn_t *c, size_t n) {
  if (c->lim->send_bytes_per_sec != 0) take(&c->send_tokens, n);
  if (c->lim->server_send_bytes_per_sec != 0) take(&c->sio->send_tokens, n);
}

void ew__guard_throttle(ew__conn_t *c) {
  if (c->flags & C_THROTTLED) return;
  c->flags |= C_THROTTLED;
  c->sio->nthrottled++;
  c->sio->stats[EW_SRV_STAT_throttled]++;
  TAILQ_INSERT_TAIL(&c->io->throttled, c, throttle_link);
  ew__io_throttle_arm(c->io);
}

void ew__guard_unthrottle(ew__conn_t *c) {
  if (!(c->flags & C_THROTTLED)) return;
  c->flags &= ~C_THROTTLED;
  c->sio->nthrottled--;
  TAILQ_REMOVE(&c->io->throttled, c, throttle_link);
}

/* ---- the public API ------------------------------------------------------------------------ */

int ew_server_set_limits(ew_runtime_t *rt, uint32_t id, const ew_limits_t *l) {
  if (l == NULL || l->window_ms == 0) return EW_EINVAL;
  if (atomic_load(&rt->state) != EW__RT_RUNNING) return EW_ESTATE;
  ew__server_t *srv = ew__server_find(rt, id);
  if (srv == NULL) return EW_ENOENT;
  for (uint32_t i = 0; i < rt->nio; i++) {
    ew__cmd_limits_t *cmd = malloc(sizeof *cmd);
    if (cmd == NULL) {
      ew__server_unref(srv);
      return EW_ENOMEM;
    }
    cmd->base.kind = EW__CMD_LIMITS;
    cmd->srv = srv;
    cmd->lim = *l;
    atomic_fetch_add(&srv->refs, 1);
    ew__io_post(&rt->io[i], &cmd->base);
  }
  ew__server_unref(srv);
  return 0;
}

int ew_server_stats(ew_runtime_t *rt, uint32_t id, uint64_t *out, uint32_t *tracked) {
  ew__server_t *srv = ew__server_find(rt, id);
  if (srv == NULL) return EW_ENOENT;
  memset(out, 0, sizeof(uint64_t) * EW_SRV_STAT__COUNT);
  /* Each row has one writer (its IO thread); a relaxed read of a counter it is incrementing
   * sees the old or the new value, which is all a statistic needs. */
  for (uint32_t k = 0; k < rt->nio; k++)
    for (uint32_t i = 0; i < EW_SRV_STAT__COUNT; i++)
      out[i] += atomic_load_explicit((_Atomic uint64_t *)&srv->prof.per_io[k].stats[i],
                                     memory_order_relaxed);
  ew__iptab_totals(&srv->ips, tracked, &out[EW_SRV_STAT_ip_evictions]);
  ew__server_unref(srv);
  return 0;
}

int ew_ban_add(ew_runtime_t *rt, uint32_t id, const char *addr, uint32_t ms) {
  ew__ipkey_t k;
  if (ew__ipkey_parse(&k, addr) != 0 || ms == 0) return EW_EINVAL;
  if (atomic_load(&rt->state) != EW__RT_RUNNING) return EW_ESTATE;
  ew__server_t *srv = ew__server_find(rt, id);
  if (srv == NULL) return EW_ENOENT;
  int err = ew__iptab_ban(&srv->ips, &k, ew__coarse_ms(), ms);
  if (err == 0) broadcast_ban(rt, srv, &k);
  ew__server_unref(srv);
  return err;
}

int ew_ban_remove(ew_runtime_t *rt, uint32_t id, const char *addr) {
  ew__ipkey_t k;
  if (ew__ipkey_parse(&k, addr) != 0) return EW_EINVAL;
  ew__server_t *srv = ew__server_find(rt, id);
  if (srv == NULL) return EW_ENOENT;
  int err = ew__iptab_unban(&srv->ips, &k, ew__coarse_ms());
  ew__server_unref(srv);
  return err;
}

typedef struct {
  ew_ban_t *out;
  size_t cap, n;
} ban_list_t;

static void add_ban(void *arg, const ew__ipkey_t *k, uint64_t remaining) {
  ban_list_t *b = arg;
  if (b->n < b->cap) {
    ew__ipkey_format(k, b->out[b->n].address, sizeof b->out[b->n].address);
    b->out[b->n].remaining_ms = remaining;
  }
  b->n++;
}

int ew_ban_list(ew_runtime_t *rt, uint32_t id, ew_ban_t *out, size_t cap, size_t *n) {
  ew__server_t *srv = ew__server_find(rt, id);
  if (srv == NULL) return EW_ENOENT;
  ban_list_t b = {out, cap, 0};
  ew__iptab_bans(&srv->ips, ew__coarse_ms(), add_ban, &b);
  *n = b.n;
  ew__server_unref(srv);
  return 0;
}
