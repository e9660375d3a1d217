// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW__IO_H
#define EW__IO_H

/* IO threads (io.c): their commands, their side of the rings, timers and loop. */

#include "base.h"
#include "conn.h"

/* ---- inbox commands ----------------------------------------------------------------------- */

enum {
  EW__CMD_CONN = 1,   /* adopt an accepted socket */
  EW__CMD_LISTEN,     /* start accepting on a listening socket */
  EW__CMD_UNLISTEN,   /* close this thread's listening socket of a server */
  EW__CMD_STOP,       /* close everything and leave the loop */
  EW__CMD_LIMITS,     /* a server's new limits */
  EW__CMD_BAN,        /* close a server's connections from an address */
  EW__CMD_PORT_RESET, /* close a dead port's connections and empty its rings */
  EW__CMD_DIAL,       /* start an outbound connection attempt (link.c) */
  EW__CMD_LINK_CLOSE, /* abandon a closed link's attempts (link.c) */
  EW__CMD_UDP_OPEN,   /* start reading a UDP socket (udp.c) */
  EW__CMD_UDP_CLOSE,  /* close this thread's socket of a UDP socket */
};

typedef struct ew__cmd_port_s {
  ew__cmd_t base;
  uint32_t port;
  int reason;
} ew__cmd_port_t;

typedef struct ew__cmd_conn_s {
  ew__cmd_t base;
  int fd;
  ew__server_t *srv;   /* the listener that accepted it, or NULL */
  ew__profile_t *prof; /* its profile when srv is NULL (the command holds a reference) */
  socklen_t addrlen;
  struct sockaddr_storage addr;
} ew__cmd_conn_t;

typedef struct ew__cmd_listen_s {
  ew__cmd_t base;
  int fd;
  ew__server_t *srv;
} ew__cmd_listen_t;

typedef struct ew__cmd_limits_s {
  ew__cmd_t base;
  ew__server_t *srv;
  ew_limits_t lim;
} ew__cmd_limits_t;

struct ew__cmd_ban_s {
  ew__cmd_t base;
  ew__server_t *srv;
  ew__ipkey_t key;
};

/* ---- control records that must never be lost ----------------------------------------------- */

/* A record that did not fit in its ring, kept in order until it does. Only control records
 * (OPEN, END, CLOSE, DRAIN, UNLISTEN) are ever queued; DATA instead pauses the connection. */
struct ew__ctrl_s {
  ew__ctrl_t *next;
  ew_rec_t rec; /* followed by rec.len body bytes */
};

/* ---- IO threads --------------------------------------------------------------------------- */

typedef struct ew__io_port_s {
  ew_port_t *port;
  ew_ring_producer_t prod; /* this IO thread -> port */
  ew_ring_consumer_t cons; /* port -> this IO thread */
  ew__ctrl_t *ovf_head;    /* control records waiting for room, in order */
  ew__ctrl_t *ovf_tail;
  uint32_t ovf_count;
  bool dirty;   /* records reserved since the last publish */
  bool landing; /* a read's ring reservation is open (codec land/landed): control records wait
                   in the overflow list meanwhile, so nothing is reserved behind it */
  TAILQ_HEAD(, ew__conn_s) blocked;
} ew__io_port_t;

/* Log lines that a flood could multiply (ew__guard_log): at most one a second per kind and IO
 * thread, with the count of the ones suppressed in between. */
enum { EW__LOG_KICK = 0, EW__LOG_BAN, EW__LOG_REJECT, EW__LOG_TIMEOUT, EW__LOG__COUNT };

struct ew__io_s {
  ew_runtime_t *rt;
  uint32_t index;
  pthread_t thread;
  bool thread_started;
  bool inline_io; /* run by its owner thread through ew_runtime_inline_run(), not a thread */
  int inline_fd;  /* inline: libevent's epoll fd (-1 otherwise) */
  int tid;
  int cpu;
  int start_err;
  bool stopping;
  struct event_base *base;
  struct event *inbox_ev;
  ew__inbox_t inbox;
  uint8_t *ctl; /* shm: control + stats page */
  _Atomic uint32_t *sleeping;
  uint64_t *stats;
  uint32_t *slots;      /* shm: max_conns words * 4 */
  ew__conn_t **conns;   /* slot -> connection */
  uint32_t conns_cap;   /* allocated entries of conns */
  uint32_t slot_hwm;    /* slots below this have been used at least once */
  uint32_t *free_slots; /* FIFO of released slots: reuse the oldest to age generations */
  uint32_t free_cap, free_head, free_count;
  _Atomic uint32_t live;    /* read by other threads' acceptors (least-connections) */
  uint32_t next_port;       /* binding cursor */
  int reserve_fd;           /* closed to accept-and-drop under EMFILE */
  uint64_t limit_logged_ms; /* rate limit of "no slot" warnings */
  ew__io_port_t *ports;
  TAILQ_HEAD(, ew__conn_s) ready;
  TAILQ_HEAD(, ew__listener_s) listeners;
  TAILQ_HEAD(, ew__listener_s) ready_listeners;
  TAILQ_HEAD(, ew__dial_s) dials; /* outbound connection attempts in flight (link.c) */
  /* Timeout lists, one per distinct duration in use (servers with equal limits share one). */
  ew__tlist_t tlists[16];
  uint32_t ntlists;
  struct event *tick_ev;
  bool tick_armed;
  /* Connections whose output waits for the response rate, served round-robin each tick. */
  TAILQ_HEAD(, ew__conn_s) throttled;
  uint32_t live_peak;  /* most connections since the last trim */
  uint64_t trimmed_ms; /* last malloc_trim */
  struct event *throttle_ev;
  bool throttle_armed;
  LIST_HEAD(, ew__udp_s) udps; /* this thread's UDP sockets (udp.c) */
  ew_spin_t spin;              /* before blocking in epoll (opts.spin_us) */
  uint32_t spin_polls;         /* spin checks since the spin began */
  int spin_fd;                 /* libevent's epoll fd, which the spin polls */
  struct {
    uint64_t last_ms;
    uint64_t suppressed;
  } loglim[EW__LOG__COUNT];
};

#define EW__STAT(io, name) ((io)->stats[EW_STAT_##name])

/* A connection's slot words in shared memory, read by its port without locks. */
static inline void ew__slot_store(ew__io_t *io, uint32_t slot, uint32_t word, uint32_t v) {
  atomic_store_explicit((_Atomic uint32_t *)&io->slots[(size_t)slot * EW__SLOT_WORDS + word], v,
                        memory_order_relaxed);
}
static inline void ew__slot_store64(ew__io_t *io, uint32_t slot, uint32_t word, uint64_t v) {
  ew__slot_store(io, slot, word, (uint32_t)v);
  ew__slot_store(io, slot, word + 1, (uint32_t)(v >> 32));
}

void *ew__io_main(void *arg);
/* Milliseconds from `now` (libevent's clock, event_base_gettimeofday_cached) until `ev`'s
 * timeout; 0 when it is overdue but has not run yet; -1 when no timeout is pending. */
int64_t ew__event_due_ms(const struct event *ev, const struct timeval *now);
/* Inline mode: builds the loop on the calling thread (ew_runtime_start). 0 or an EW_* error. */
int ew__io_inline_setup(ew__io_t *io);
/* Inline mode: closes the loop on the calling thread if it is still open (join, release). */
void ew__io_inline_finish(ew__io_t *io);
/* Wakes an IO thread that may be blocked in epoll (inbox eventfd). Any thread. */
void ew__io_wake(ew__io_t *io);
/* Runs the commands waiting in the thread's inbox (the IO thread itself). */
void ew__io_run_inbox(ew__io_t *io);
/* Queues a command for an IO thread; never fails, never drops. Any thread. */
void ew__io_post(ew__io_t *io, ew__cmd_t *cmd);

/* Frees the control records waiting for room in a port's ring and publishes what is in it
 * (stop, or a port reset: nobody will read them). */
void ew__io_port_drop(ew__io_port_t *ip);
/* Pushes a control record for `port`; queues it in order if the ring is full. */
void ew__io_push_ctrl(ew__io_t *io, uint32_t port, uint16_t kind, uint64_t conn, uint32_t type,
                      uint32_t seq, const void *body, uint32_t len);
/* Marks `port`'s ring as touched so the end of the loop round publishes and wakes it. */
static inline void ew__io_mark_dirty(ew__io_t *io, uint32_t port) {
  io->ports[port].dirty = true;
}
void ew__io_listener_ready(ew__io_t *io, ew__listener_t *l);
/* Arms a connection timeout of `ms` on this thread's list of that duration (0 disarms). */
void ew__io_arm(ew__io_t *io, ew__tnode_t *n, uint32_t ms);
void ew__listener_accept(ew__listener_t *l);
void ew__listener_on_event(evutil_socket_t fd, short what, void *arg);
void ew__listener_close(ew__listener_t *l);
/* Hands a connected, non-blocking socket to IO thread `io` as a connection run by `prof`, with
 * no listener: the command takes over the caller's reference to `prof` (released if the thread
 * is stopping). The peer's address is read from the socket. 0, or EW_ENOMEM / an EW_* error of
 * getpeername (the caller keeps `fd` and its reference then). Any thread. */
int ew__io_adopt(ew_runtime_t *rt, uint32_t io, int fd, ew__profile_t *prof);
/* Arms the throttle tick if it is not armed (io.c). */
void ew__io_throttle_arm(ew__io_t *io);

#endif /* EW__IO_H */
