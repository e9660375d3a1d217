// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_UDP_H
#define EW_UDP_H

/* UDP sockets (docs/protocol.md, "Datagrams"). A UDP socket of the runtime is either a listening
 * socket, made of one kernel socket per IO thread bound to the same address with SO_REUSEPORT
 * (the kernel spreads the peers over them), or a connected socket: one kernel socket on one IO
 * thread that sends to and hears only its peer. Each IO thread reads its socket with recvmmsg in
 * batches, checks every datagram (its size, its frame header, its source's ban and rate: the
 * protection of docs/protection.md, per source address) and hands it to the owner port as one
 * DGRAM record; DGRAM_SEND records from any port leave in sendmmsg batches.
 *
 * A UDP socket lives in the servers' id space and table, so ew_server_set_limits(),
 * ew_server_stats() (its EW_SRV_STAT_dgram_* counters; messages_in and bytes_in count what was
 * delivered) and ew_ban_add/remove/list() take its id like a server's. */

#include "ew/common.h"
#include "ew/runtime.h"

/* The body of DGRAM (IO->JS) and DGRAM_SEND (JS->IO) records starts with an address block of
 * EW_DGRAM_PREFIX_BYTES (host byte order but for the address itself), then the payload:
 *   u8 family (4 or 6), u8 0, u16 port, u32 IPv6 scope id, 16 address bytes (network order;
 *   an IPv4 address in the first 4, the rest 0).
 * DGRAM: the source; an IPv4-mapped IPv6 source (a dual-stack socket's IPv4 peer) is written as
 * the IPv4 address, family 4. Family 0 marks a record that is not a datagram but an error the
 * kernel reported on the socket (a connected socket's ICMP port unreachable): seq is the errno
 * (positive), the address block is the socket's peer, there is no payload.
 * DGRAM_SEND: the destination; family 0 means the connected socket's peer. */
#define EW_DGRAM_PREFIX_BYTES 24u
#define EW_DGRAM_OFF_FAMILY 0u
#define EW_DGRAM_OFF_PORT 2u
#define EW_DGRAM_OFF_SCOPE 4u
#define EW_DGRAM_OFF_ADDR 8u
/* The largest UDP payload over IPv4 (65535 - 8 - 20): the default and the ceiling of
 * max_datagram. */
#define EW_UDP_MAX_DATAGRAM 65507u

typedef struct ew_udp_opts_s {
  const char *host;   /* numeric address to bind; NULL or "" = all interfaces (the IPv6 wildcard,
                         dual stack, where IPv6 exists; else IPv4's) */
  uint16_t port;      /* 0 = any; ew_udp_info_t says which */
  const char *peer;   /* numeric address: a connected socket to this peer; NULL = listening */
  uint16_t peer_port; /* the peer's port (connected sockets) */
  int framing;        /* EW_FRAMING_FRAMES (one frame per datagram) or EW_FRAMING_RAW */
  /* Larger datagrams are dropped and counted (dgram_truncated), never delivered cut. With
   * framing FRAMES it includes the 12-byte header. 1 .. EW_UDP_MAX_DATAGRAM, and a DGRAM record
   * of it must fit one record of the in rings (ew_ring_max_body()). */
  uint32_t max_datagram;
  uint32_t rcvbuf;          /* SO_RCVBUF of each kernel socket; 0 = the kernel's default */
  uint32_t sndbuf;          /* SO_SNDBUF; 0 = the kernel's default */
  uint32_t owner_port;      /* receives the DGRAM, BAN and UNLISTEN records */
  ew_limits_t limits;       /* ip_msgs_per_sec, ip_msg_burst and ban_ms apply, per source */
  uint32_t max_tracked_ips; /* source addresses remembered (least recently seen evicted) */
} ew_udp_opts_t;

typedef struct ew_udp_info_s {
  uint32_t id;      /* DGRAM records carry it in their connection field */
  int family;       /* 4 or 6 */
  uint16_t port;    /* the bound port */
  char address[64]; /* the bound address, numeric */
  uint32_t io;      /* the IO thread of a connected socket (its sends go to that out ring); any
                       IO thread takes the sends of a listening one */
} ew_udp_info_t;

/* Fills `o` with the defaults: all interfaces, any port, listening, frames, max_datagram
 * EW_UDP_MAX_DATAGRAM, kernel buffer sizes, owner port 0, ew_limits_init()'s limits, 65536
 * tracked addresses. */
EW_EXTERN void ew_udp_opts_init(ew_udp_opts_t *o);

/* Opens a UDP socket: binds (and connects) on the calling thread, so that errors such as
 * EW_EADDRINUSE come back here, then hands the kernel socket(s) to the IO threads. Returns 0 and
 * fills `info`, or EW_EINVAL (bad options, a host or peer that is not a numeric address,
 * max_datagram out of range or larger than a ring record), EW_ESTATE (the runtime is not
 * running), EW_ENOMEM or a system error; nothing is left open then. Not from an IO thread. */
EW_EXTERN int ew_udp_open(ew_runtime_t *rt, const ew_udp_opts_t *o, ew_udp_info_t *info);

/* Closes UDP socket `id` on every IO thread: datagrams not yet delivered and sends not yet
 * written are dropped. Once every kernel socket is closed the owner port receives an
 * EW_REC_UNLISTEN record with type = id. Returns 0, or EW_ENOENT for an unknown or closed id,
 * or EW_ESTATE when the runtime is stopping (which closes it). Not from an IO thread. */
EW_EXTERN int ew_udp_close(ew_runtime_t *rt, uint32_t id);

#endif /* EW_UDP_H */
