// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_GUARD_H
#define EW_GUARD_H

/* Protection (docs/protection.md): limits, bans and per-server counters. Everything is enforced
 * on the IO threads before a port sees a byte; these functions change limits and bans and read
 * the counters. The limits themselves are ew_limits_t in ew/runtime.h. */

#include "ew/common.h"
#include "ew/runtime.h"

/* Per-server counters, summed over the IO threads by ew_server_stats(). */
#define EW_SERVER_STATS_MAP(XX)                                                                    \
  XX(messages_in, "messages (frames, chunks, HTTP requests) delivered")                            \
  XX(bytes_in, "bytes read from the server's connections")                                         \
  XX(kicked_messages, "connections closed: messages in a window above max_msgs_per_window")        \
  XX(kicked_bytes, "connections closed: bytes in a window above max_bytes_per_window")             \
  XX(bans_messages, "addresses banned: messages per second above ip_msgs_per_sec")                 \
  XX(bans_connections, "addresses banned: new connections per second above ip_conns_per_sec")      \
  XX(banned_closes, "open connections closed because their address was banned")                    \
  XX(rejected_banned, "connections refused at accept: banned address")                             \
  XX(rejected_max_conns, "connections refused at accept: max_conns reached")                       \
  XX(rejected_max_conns_per_ip, "connections refused at accept: max_conns_per_ip reached")         \
  XX(timeouts_idle, "connections closed by the idle timeout")                                      \
  XX(timeouts_partial, "connections closed by the partial-frame timeout")                          \
  XX(timeouts_first, "connections closed by the first-message timeout")                            \
  XX(throttled, "times a connection's output waited for the response rate")                        \
  XX(ip_evictions, "tracked addresses forgotten to stay within max_tracked_ips")                   \
  XX(dgrams_out, "datagrams sent (UDP)")                                                           \
  XX(dgram_bytes_out, "payload bytes of the datagrams sent (UDP)")                                 \
  XX(dgram_send_errors, "datagrams not sent: refused by the kernel, or over the send queue (UDP)") \
  XX(dgram_truncated, "datagrams dropped: larger than max_datagram (UDP)")                         \
  XX(dgram_bad_header, "datagrams dropped: not one valid frame (UDP, framing frames)")             \
  XX(dgram_banned, "datagrams dropped: their source address is banned (UDP)")                      \
  XX(dgram_rate, "datagrams dropped: their source is over ip_msgs_per_sec (UDP)")                  \
  XX(dgram_kernel_drops, "datagrams the kernel dropped for a full receive buffer (UDP)")           \
  XX(dgram_errors, "errors the kernel reported on the socket, ICMP unreachable included (UDP)")
enum {
#define XX(name, doc) EW_SRV_STAT_##name,
  EW_SERVER_STATS_MAP(XX)
#undef XX
      EW_SRV_STAT__COUNT
};

/* Replaces the limits of server `id`. Each IO thread applies them when it next runs its inbox
 * (before its next read): counters keep running, timeouts already armed keep their deadline
 * until re-armed. Returns 0, EW_ENOENT (no such server) or EW_EINVAL. Not from an IO thread. */
EW_EXTERN int ew_server_set_limits(ew_runtime_t *rt, uint32_t id, const ew_limits_t *l);

/* Sums the server's counters (EW_SRV_STAT_*) into out[EW_SRV_STAT__COUNT]; *tracked is the
 * number of source addresses tracked now. Returns 0 or EW_ENOENT. Any thread but an IO thread. */
EW_EXTERN int ew_server_stats(ew_runtime_t *rt, uint32_t id, uint64_t *out, uint32_t *tracked);

/* Bans the numeric address `addr` (IPv4 or IPv6) on server `id` for `ms` milliseconds: its open
 * connections are closed with EW_EBANNED, new ones are closed at accept before any read. A
 * second ban of the same address replaces the first. Returns 0, EW_EINVAL (not an address),
 * EW_ENOENT (no such server) or EW_ENOMEM. Not from an IO thread. */
EW_EXTERN int ew_ban_add(ew_runtime_t *rt, uint32_t id, const char *addr, uint32_t ms);

/* Lifts a ban. Returns 0, EW_ENOENT (no such server, or the address is not banned) or
 * EW_EINVAL. Not from an IO thread. */
EW_EXTERN int ew_ban_remove(ew_runtime_t *rt, uint32_t id, const char *addr);

typedef struct ew_ban_s {
  char address[64];      /* numeric; IPv4-mapped IPv6 addresses are written as IPv4 */
  uint64_t remaining_ms; /* until the ban expires */
} ew_ban_t;

/* Writes up to `cap` active bans of server `id` to `out` and their total number to *n (which
 * may exceed cap). Returns 0 or EW_ENOENT. Not from an IO thread. */
EW_EXTERN int ew_ban_list(ew_runtime_t *rt, uint32_t id, ew_ban_t *out, size_t cap, size_t *n);

#endif /* EW_GUARD_H */
