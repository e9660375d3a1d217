// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW__UDP_H
#define EW__UDP_H

/* UDP sockets on the IO threads (udp.c): each IO thread's kernel socket of a UDP socket, its
 * receive batch and its queue of sends the kernel could not take yet. The UDP socket itself is
 * a server (server.h): its id, limits, counters and address table. */

#include <sys/socket.h>

#include "base.h"
#include "server.h"

typedef struct ew__udp_s ew__udp_t;
typedef struct ew__udp_pend_s ew__udp_pend_t;

/* A datagram the kernel refused with EAGAIN (its send buffer was full), kept in order until a
 * write edge. */
struct ew__udp_pend_s {
  ew__udp_pend_t *next;
  struct sockaddr_storage to;
  socklen_t tolen; /* 0: the connected peer */
  uint32_t len;
  uint8_t bytes[]; /* the payload */
};

enum {
  U_READY = 1u << 0,   /* the socket may hold unread datagrams: read again next round */
  U_BLOCKED = 1u << 1, /* a datagram waits for room in the owner port's ring */
};

struct ew__udp_s {
  ew__server_t *srv; /* holds a reference */
  ew__io_t *io;
  int fd;
  int family; /* AF_INET or AF_INET6: the socket's own */
  bool connected;
  bool no_gso; /* the kernel refused UDP_SEGMENT once: send datagram by datagram */
  uint32_t flags;
  struct event *ev; /* EV_READ | EV_WRITE | EV_ET | EV_PERSIST, registered once */
  uint32_t max_dgram;
  /* The receive batch: nslots datagrams of up to max_dgram bytes each (slot_bytes apart in
   * slab), with their source addresses, control messages and the guard's verdicts. Pages of the
   * slab are touched only as deep as datagrams reach, so a large max_datagram costs address
   * space, not memory. */
  uint32_t nslots, slot_bytes;
  uint8_t *slab;
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_storage *names;
  uint8_t *ctrl;
  uint8_t *pass;       /* per slot: the guard let it through */
  uint32_t pos, count; /* msgs[pos .. count) are received and not yet handled */
  uint32_t need;       /* body bytes of the record that waits for ring room */
  uint32_t drops_seen; /* the socket's drop count (SO_RXQ_OVFL) counted so far */
  bool guarded;        /* the guard ran over this batch: `pass` holds its verdicts */
  uint64_t err_ms;     /* error records: the second being counted, and how many in it */
  uint32_t err_count;
  ew__udp_pend_t *pend_head, *pend_tail;
  size_t pend_bytes;
  LIST_ENTRY(ew__udp_s) link; /* io->udps */
};

/* Commands (io.c runs them through these). */
typedef struct ew__cmd_udp_s {
  ew__cmd_t base;
  int fd;
  ew__server_t *srv; /* the command holds a reference */
  bool connected;
  uint32_t max_dgram;
} ew__cmd_udp_t;

/* EW__CMD_UDP_OPEN: starts reading this thread's socket of a UDP socket. */
void ew__udp_run_open(ew__io_t *io, ew__cmd_udp_t *cmd);
/* EW__CMD_UDP_CLOSE: closes this thread's socket of `srv`; the last one announces UNLISTEN.
 * Drops the command's reference. */
void ew__udp_run_close(ew__io_t *io, ew__server_t *srv);
/* The out ring's consumer (conn.c) met a DGRAM_SEND record: sends it and the DGRAM_SEND records
 * of the same socket that follow it, in one sendmmsg, advancing `cons` past all of them.
 * Returns how many records it consumed. */
uint32_t ew__udp_consume(ew__io_t *io, ew_ring_consumer_t *cons, const ew_rec_t *rec);
/* Once per loop round: reads the sockets that stopped on their budget, and those whose ring
 * has room again. */
void ew__udp_run(ew__io_t *io);
/* Whether a socket is to be read again without waiting for an event (poll without blocking). */
bool ew__udp_ready(const ew__io_t *io);
/* Whether a socket waiting for ring room can go on now (checked before the loop sleeps). */
bool ew__udp_has_work(ew__io_t *io);
/* Closes every socket of the thread (the runtime stops). */
void ew__udp_shutdown(ew__io_t *io);

#endif /* EW__UDP_H */
