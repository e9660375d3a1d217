// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW__GUARD_H
#define EW__GUARD_H

/* Protection (guard.c): decisions on connections, which the connection layer carries out. */

#include "base.h"
#include "conn.h"
#include "io.h"

/* ---- protection (guard.c) ------------------------------------------------------------------ */

void ew__guard_log(ew__io_t *io, int kind, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Decides at accept, on the listener's thread, before any read: 0 admits (and counts) the
 * connection, else the EW_* reason it was refused for (already counted and logged). */
int ew__guard_admit(ew__io_t *io, ew__server_t *srv, const struct sockaddr *sa);
/* Undoes an admission whose connection never became one. */
void ew__guard_unadmit(ew__server_t *srv, const struct sockaddr *sa);
/* A connection was adopted: its counters, limits and timeouts. */
void ew__guard_adopted(ew__conn_t *c, const struct sockaddr *sa);
/* A connection is being freed. */
void ew__guard_released(ew__conn_t *c);
/* The guard decides; the connection layer carries the decision out (conn.c). */
enum { EW__GUARD_PASS = 0, EW__GUARD_KICK = 1 };

/* The figures of a kick, the body of its CLOSE record (docs/protocol.md). */
typedef struct ew__kick_s {
  uint32_t what, window_ms, messages, zero;
  uint64_t bytes, limit;
} ew__kick_t;
_Static_assert(sizeof(ew__kick_t) == EW_KICK_BODY_BYTES, "kick body layout");

/* `n` bytes were read: EW__GUARD_PASS, or EW__GUARD_KICK with the figures in `k` (the window's
 * byte limit is exceeded). */
int ew__guard_read(ew__conn_t *c, size_t n, ew__kick_t *k);
/* How many more messages may be delivered in this window before the next one kicks. */
uint32_t ew__guard_allowance(ew__conn_t *c);
/* `n` messages were delivered. */
static inline void ew__guard_delivered(ew__conn_t *c, uint32_t n) {
  c->win_msgs += n;
  c->msgs_total += n;
  c->flags |= C_GOT_MSG;
}
/* One more message is about to be delivered: EW__GUARD_KICK (figures in `k`) if it is over the
 * window, else EW__GUARD_PASS. */
int ew__guard_msg(ew__conn_t *c, ew__kick_t *k);
/* The end of a read round of a live connection: publishes its statistics, charges its
 * address, sets its partial-frame timeout. Returns 0, or EW_EBANNED when that banned its
 * address (the connection is to close). */
int ew__guard_round(ew__conn_t *c);
/* tprog (progress = true) or tidle of a connection whose codec has no timers of its own
 * expired: 0 (the limits changed meanwhile: nothing to do), or the EW_ETIMEOUT_* reason it is
 * to close with. */
int ew__guard_timeout(ew__conn_t *c, bool progress);
void ew__guard_run_limits(ew__io_t *io, ew__cmd_limits_t *cmd);
/* `n` datagrams of UDP socket `srv` from `k` arrived on `io`: how many of them pass (the first
 * ones). The others are counted (banned, or over the rate); going over the rate bans the address
 * as a connection's messages do (BAN record, log line, every IO thread told). */
uint32_t ew__guard_datagrams(ew__io_t *io, ew__server_t *srv, const ew__ipkey_t *k, uint32_t n);
/* A ban command: whether it closes connection `c` (counted), and the log line and release
 * once a thread's `n` connections of the address are closed. */
bool ew__guard_ban_hits(ew__conn_t *c, const ew__cmd_ban_t *cmd);
void ew__guard_ban_done(ew__io_t *io, ew__cmd_ban_t *cmd, uint32_t n);
/* Response rate: whether the connection's output is rate limited at all, how many bytes it may
 * write now, and that it wrote `n`. */
static inline bool ew__guard_limited(const ew__conn_t *c) {
  return c->lim->send_bytes_per_sec != 0 || c->lim->server_send_bytes_per_sec != 0;
}
size_t ew__guard_send_allow(ew__conn_t *c);
void ew__guard_sent(ew__conn_t *c, size_t n);
/* Output is waiting for the rate: the tick flushes it. */
void ew__guard_throttle(ew__conn_t *c);
void ew__guard_unthrottle(ew__conn_t *c);

#endif /* EW__GUARD_H */
