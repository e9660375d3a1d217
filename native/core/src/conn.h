// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW__CONN_H
#define EW__CONN_H

/* Connections (conn.c): state, ids, and the API its IO thread and its codec use. */

#include "base.h"
#include "server.h"

/* ---- connections --------------------------------------------------------------------------- */

enum {
  C_ON_READY = 1u << 0,    /* on io->ready: continues next round (budget spent or unblocked) */
  C_BLOCKED = 1u << 1,     /* waiting for room in its port's in ring */
  C_READABLE = 1u << 3,    /* the socket may hold unread bytes (an edge was not yet consumed) */
  C_PEER_EOF = 1u << 5,    /* read() returned 0 */
  C_END_PENDING = 1u << 6, /* shutdown(SHUT_WR) once the output is flushed */
  C_WR_SHUT = 1u << 7,     /* shutdown(SHUT_WR) done */
  C_WBLOCKED = 1u << 8,    /* the kernel refused bytes; wait for a write edge */
  C_WANT_DRAIN = 1u << 9,  /* send DRAIN once output is below the low watermark */
  C_LOCAL_END = 1u << 10,  /* this side ended first (close reason EW_OK rather than EW_EOF) */
  C_FAULT = 1u << 11,      /* protocol error reported to the port; no more reading */
  C_RD_OFF = 1u << 12,     /* level-triggered: read interest removed (paused, faulted, EOF) */
  C_WR_ON = 1u << 13,      /* level-triggered: write interest registered (output blocked) */
  C_GOT_MSG = 1u << 14,    /* a complete message has arrived (first-message timeout met) */
  C_PARTIAL = 1u << 15,    /* tprog runs as the partial-frame timeout */
  C_THROTTLED = 1u << 16,  /* on io->throttled: output waits for the response rate */
  C_IP_COUNTED = 1u << 17, /* counted as open in the server's address table */
  C_PARKED = 1u << 18,     /* admission: waits, unread, for the owner port's VERDICT */
  C_BOUND = 1u << 19,      /* counted in its port's connections */
  C_LINGER = 1u << 20,     /* our FIN is out after reading stopped: input is read and discarded
                              until the peer's FIN, a byte cap or tidle (lingering close) */
  C_PAUSED = 1u << 21,     /* conn.pause(): the socket is not read, and the timeouts that wait on
                              the peer do not run, until resume() */
  C_TWAIT = 1u << 22,      /* output waits for the transport to become writable (TLS handshake) */
  C_LAYERED = 1u << 23,    /* its codec seals (message encryption) or its transport keeps state
                              (TLS): output accounting asks them; one test for the plain path */
};

/* Codec state: small codecs keep theirs inline (frames: the header being received), others
 * allocate it and keep the pointer. Only the codec reads it. */
typedef union ew__codec_state_u {
  void *p;
  _Alignas(8) unsigned char bytes[24];
} ew__codec_state_t;

struct ew__conn_s {
  ew__io_t *io;
  const ew__codec_t *codec;         /* what the bytes mean */
  const ew__transport_t *transport; /* how they travel */
  ew__profile_t *prof;              /* options, rows; holds a reference */
  ew__server_t *srv;                /* the listener that accepted it; NULL for none */
  int fd;
  uint32_t slot;
  uint32_t gen;
  uint32_t port;
  uint32_t flags;
  uint32_t written;  /* bytes written to the kernel, mod 2^32, mirrored in the slot */
  int close_reason;  /* set by a SHUTDOWN answering FAULT: close with it once flushed */
  uint32_t lingered; /* bytes discarded while lingering */
  void *close_body;  /* the CLOSE record's body when it closes with close_reason (a kick's
                        figures), malloc'd; NULL: none */
  uint32_t close_body_len;
  uint64_t id;
  ew__codec_state_t cs;
  void *ts;          /* the transport's state (TLS), NULL for a plain socket */
  struct event *ev;  /* edge-triggered: read+write; level-triggered: read */
  struct event *wev; /* level-triggered only: write, registered while output is blocked */
  struct evbuffer *in;
  struct evbuffer *out;
  TAILQ_ENTRY(ew__conn_s) ready_link;
  TAILQ_ENTRY(ew__conn_s) blocked_link;
  ew__tnode_t tprog; /* progress timeout: the codec's (HTTP headers or body) or the guard's */
  ew__tnode_t tidle; /* idle timeout: the codec's (HTTP keep-alive) or idle_timeout_ms */
  ew__tnode_t thand; /* the TLS or message-encryption handshake's deadline */
  /* Protection (guard.c). */
  const ew_limits_t *lim; /* this thread's copy of the server's limits */
  ew__srv_io_t *sio;      /* this thread's row of the server */
  ew__ipkey_t ip;
  uint32_t win_msgs;  /* messages in the current window */
  uint64_t win_bytes; /* bytes read in the current window */
  uint64_t win_start; /* CLOCK_MONOTONIC ms */
  uint64_t last_rx;   /* CLOCK_MONOTONIC_COARSE ms of the last read */
  uint64_t msgs_total;
  uint64_t msgs_charged; /* messages already charged to the address's bucket */
  uint64_t bytes_total;
  uint64_t bytes_out;
  uint64_t pt_in;       /* a sealing codec's: SEND bytes handed to it */
  uint64_t pt_written;  /* ... and of those, counted as written */
  uint64_t send_tokens; /* response rate, thousandths of a byte */
  uint64_t send_ms;
  TAILQ_ENTRY(ew__conn_s) throttle_link;
};

/* Connection ids: generation (21 bits) << 32 | IO thread (8 bits) << 24 | slot (24 bits). The
 * generation is kept to 21 bits so that an id is a safe JavaScript integer (< 2^53). */
#define EW__GEN_BITS 21u
#define EW__GEN_MASK ((1u << EW__GEN_BITS) - 1u)
#define EW__SLOT_WORDS (EW_SHM_SLOT_BYTES / 4u)
static inline void ew__slot_store(ew__io_t *io, uint32_t slot, uint32_t word, uint32_t v);
static inline void ew__slot_store64(ew__io_t *io, uint32_t slot, uint32_t word, uint64_t v);
#define EW__ID(gen, io, slot) (((uint64_t)(gen) << 32) | ((uint64_t)(io) << 24) | (slot))
#define EW__ID_GEN(id) ((uint32_t)((id) >> 32))
#define EW__ID_IO(id) ((uint32_t)(((id) >> 24) & 0xffu))
#define EW__ID_SLOT(id) ((uint32_t)((id)&0xffffffu))

/* Makes a connection of `fd` (peer `addr`, a connected non-blocking socket) run by `prof`,
 * whose reference it takes over; `srv` is the listener that accepted it (admission, per-address
 * limits: then prof is &srv->prof), NULL for none. The caller has counted it in io->live
 * (the acceptor's pick_thread, or ew__io_adopt). Returns 0 once the port has heard of it (OPEN or
 * ADMIT), or the EW_* reason it was refused for (EW_ELIMIT: no slot, EW_ESTATE: no port to take
 * it, EW_ENOMEM): the socket is closed and the profile's reference released. */
int ew__conn_adopt(ew__io_t *io, int fd, ew__profile_t *prof, ew__server_t *srv,
                   const struct sockaddr *addr, socklen_t addrlen);
void ew__conn_pump(ew__conn_t *c);
void ew__conn_close(ew__conn_t *c, int reason, int sys_errno);
void ew__conn_free_silently(ew__conn_t *c);
/* Writes what the output buffer holds (a sealing codec appended to it), unless the connection
 * waits for a write edge. 0, or -1 if closed. */
int ew__conn_flush(ew__conn_t *c);
/* Writes `len` bytes (copied if the kernel does not take them at once). 0, or -1 if closed. */
int ew__conn_write(ew__conn_t *c, const void *bytes, size_t len);
/* Flushes, sends FIN and closes with `reason` (the HTTP layer's native answers). 0 or -1. */
int ew__conn_end_with(ew__conn_t *c, int reason);
/* The codec's guard check of one more message (ew__guard_msg) with the kick carried out:
 * 0 to deliver it, -1 if the connection was kicked (it reads no more). */
int ew__conn_msg(ew__conn_t *c);
/* A handshake (the TLS transport's, message encryption's) must finish within `ms` (0: no
 * limit): else the connection closes with EW_ETIMEOUT_HANDSHAKE. _done stops the clock. */
void ew__conn_handshake_arm(ew__conn_t *c, uint32_t ms);
void ew__conn_handshake_done(ew__conn_t *c);
/* thand expired (io.c's sweep). */
void ew__conn_handshake_timeout(ew__conn_t *c);
/* tidle of a lingering connection expired: it closes. */
void ew__conn_linger_timeout(ew__conn_t *c);
/* Stops reading for good and drops unread input (a protocol error being answered). */
void ew__conn_stop_reading(ew__conn_t *c);
/* The peer broke the protocol (`reason`, EW_EPROTO_*): the connection reads no more, FAULT
 * tells the port, which answers what came before and closes it (SHUTDOWN with the reason). */
void ew__conn_fault(ew__conn_t *c, int reason);
/* The ring towards the connection's port is full (or control records wait for room): the
 * connection waits on the port's blocked list until there is room, reading nothing. */
void ew__conn_block(ew__conn_t *c);
/* Reserves a record of up to *len body bytes in the connection's in ring (*len is lowered to
 * what one record carries); NULL blocks the connection until there is room. */
ew_rec_t *ew__conn_reserve(ew__conn_t *c, uint32_t *len);
ew__conn_t *ew__conn_lookup(ew__io_t *io, uint64_t id);
/* Consumes a port's out ring: SEND records straight from ring memory with sendmsg. */
void ew__conn_consume_out(ew__io_t *io, uint32_t port);
/* A VERDICT for a parked connection (admission). */
void ew__conn_verdict(ew__conn_t *c, uint32_t allow, uint32_t port);
/* A CONN_OPT record: pause or resume reading, or a socket option (EW_CONN_OPT_*). */
void ew__conn_option(ew__conn_t *c, uint32_t opt, uint32_t value);
/* The throttle tick (io.c owns the event): one flush in turn for each waiting connection. */
void ew__conn_on_throttle(ew__io_t *io);
/* A ban command: closes this thread's connections of the address. */
void ew__conn_run_ban(ew__io_t *io, ew__cmd_ban_t *cmd);
/* A connection timer expired: the codec's timeout, or the guard's decision carried out. */
void ew__conn_timeout(ew__conn_t *c, bool progress);
/* Closes with a CLOSE record that carries `len` body bytes (a kick's figures). */
void ew__conn_close_with(ew__conn_t *c, int reason, int sys_errno, const void *body, uint32_t len);
/* Closes this thread's connections bound (or parked) to `port` with `reason`; how many. */
uint32_t ew__conn_close_port(ew__io_t *io, uint32_t port, int reason);

#endif /* EW__CONN_H */
