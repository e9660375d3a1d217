// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_INTERNAL_H
#define EW_INTERNAL_H

/* Internals shared by the core's modules. Nothing here is part of the public API, and this is
 * the only header that includes libevent. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <event2/buffer.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "ew.h"
#include "inbox.h"
#include "iptab.h"
#include "timer.h"

typedef struct ew__io_s ew__io_t;
typedef struct ew__server_s ew__server_t;
typedef struct ew__listener_s ew__listener_t;
typedef struct ew__conn_s ew__conn_t;
typedef struct ew__ctrl_s ew__ctrl_t;

/* ---- logging ---------------------------------------------------------------------------- */

void ew__log(ew_runtime_t *rt, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The level test is inline so that a disabled line costs one relaxed load, not a call and a
 * format. */
#define EW_LOG_AT(rt, lvl, ...)                                                                    \
  do {                                                                                             \
    if ((lvl) >= atomic_load_explicit(&(rt)->log_level, memory_order_relaxed))                     \
      ew__log((rt), (lvl), __VA_ARGS__);                                                           \
  } while (0)
#define EW_LOG_TRACE(rt, ...) EW_LOG_AT(rt, EW_LOG_LEVEL_TRACE, __VA_ARGS__)
#define EW_LOG_DEBUG(rt, ...) EW_LOG_AT(rt, EW_LOG_LEVEL_DEBUG, __VA_ARGS__)
#define EW_LOG_INFO(rt, ...) EW_LOG_AT(rt, EW_LOG_LEVEL_INFO, __VA_ARGS__)
#define EW_LOG_WARN(rt, ...) EW_LOG_AT(rt, EW_LOG_LEVEL_WARN, __VA_ARGS__)
#define EW_LOG_ERROR(rt, ...) EW_LOG_AT(rt, EW_LOG_LEVEL_ERROR, __VA_ARGS__)
/* Prints at any level except silent. */
#define EW_LOG_ALWAYS(rt, ...)                                                                     \
  do {                                                                                             \
    if (atomic_load_explicit(&(rt)->log_level, memory_order_relaxed) < EW_LOG_LEVEL_SILENT)        \
      ew__log((rt), EW_LOG_LEVEL_ALWAYS, __VA_ARGS__);                                             \
  } while (0)

/* Installs libevent's global log and fatal callbacks once per process. */
void ew__log_install_libevent_hooks(void);

/* The IO thread the calling thread is, or NULL (routes libevent's own log lines). */
extern _Thread_local ew__io_t *ew__tls_io;

/* ---- segment layout ---------------------------------------------------------------------- */

#define EW_SEG_MAGIC 0x3130474553574500ull /* "\0EWSEG01" little-endian */
#define EW_SEG_VERSION 1u
#define EW_SEG_HEADER_BYTES 4096u

/* ---- inbox commands ----------------------------------------------------------------------- */

enum {
  EW__CMD_CONN = 1,   /* adopt an accepted socket */
  EW__CMD_LISTEN,     /* start accepting on a listening socket */
  EW__CMD_UNLISTEN,   /* close this thread's listening socket of a server */
  EW__CMD_STOP,       /* close everything and leave the loop */
  EW__CMD_LIMITS,     /* a server's new limits */
  EW__CMD_BAN,        /* close a server's connections from an address */
  EW__CMD_PORT_RESET, /* close a dead port's connections and empty its rings */
};

typedef struct ew__cmd_port_s {
  ew__cmd_t base;
  uint32_t port;
  int reason;
} ew__cmd_port_t;

typedef struct ew__cmd_conn_s {
  ew__cmd_t base;
  int fd;
  ew__server_t *srv;
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

typedef struct ew__cmd_ban_s {
  ew__cmd_t base;
  ew__server_t *srv;
  ew__ipkey_t key;
} ew__cmd_ban_t;

/* ---- servers and listeners ---------------------------------------------------------------- */

/* What one IO thread keeps per server: its copy of the limits (replaced through its inbox, so
 * that it is only ever read and written by that thread), its rows of the server's counters
 * (one writer each; readers sum them), and its share of the server's response rate. */
typedef struct ew__srv_io_s {
  _Alignas(64) ew_limits_t lim; /* a row per cache line multiple: no false sharing */
  uint64_t stats[EW_SRV_STAT__COUNT];
  uint64_t send_tokens; /* thousandths of a byte */
  uint64_t send_ms;
  uint32_t nthrottled; /* this thread's connections of the server waiting for the rate */
} ew__srv_io_t;

struct ew__server_s {
  ew_runtime_t *rt;
  uint32_t id;
  _Atomic int refs;       /* the runtime's table, each listener, each connection */
  ew_listen_opts_t o;     /* host is NULL: the name was only needed to bind */
  int nfds;               /* listening sockets: 1, or one per IO thread with reuse_port */
  _Atomic int open_fds;   /* listening sockets not yet closed by their IO thread */
  _Atomic uint32_t rr;    /* round-robin cursor of the acceptor */
  _Atomic int unlistened; /* ew_unlisten() was called */
  _Atomic uint32_t live;  /* open connections, for max_conns */
  _Atomic int admit;      /* park new connections for a VERDICT (ew_server_set_admit) */
  ew__iptab_t ips;        /* source addresses: per-address limits and bans */
  ew__srv_io_t *per_io;   /* one per IO thread */
};

#define EW__SRV_STAT(c, name) ((c)->sio->stats[EW_SRV_STAT_##name])

struct ew__listener_s {
  ew__server_t *srv;
  ew__io_t *io;
  int fd;
  struct event *ev;
  bool on_ready;
  uint64_t error_reported_ms;             /* rate limit of accept error reports */
  TAILQ_ENTRY(ew__listener_s) link;       /* io->listeners */
  TAILQ_ENTRY(ew__listener_s) ready_link; /* io->ready_listeners */
};

void ew__server_unref(ew__server_t *srv);

/* ---- connections --------------------------------------------------------------------------- */

enum {
  C_ON_READY = 1u << 0,    /* on io->ready: continues next round (budget spent or unblocked) */
  C_BLOCKED = 1u << 1,     /* waiting for room in its port's in ring */
  C_HAVE_HDR = 1u << 2,    /* hdr holds the header of the frame being received */
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
};

struct ew__conn_s {
  ew__io_t *io;
  ew__server_t *srv;
  int fd;
  uint32_t slot;
  uint32_t gen;
  uint32_t port;
  uint32_t flags;
  uint32_t delivered; /* body bytes of the current frame already delivered as fragments */
  uint32_t written;   /* bytes written to the kernel, mod 2^32, mirrored in the slot */
  int close_reason;   /* set by a SHUTDOWN answering FAULT: close with it once flushed */
  uint32_t lingered;  /* bytes discarded while lingering */
  void *close_body;   /* the CLOSE record's body when it closes with close_reason (a kick's
                         figures), malloc'd; NULL: none */
  uint32_t close_body_len;
  uint64_t id;
  ew_frame_header_t hdr;
  struct event *ev;  /* edge-triggered: read+write; level-triggered: read */
  struct event *wev; /* level-triggered only: write, registered while output is blocked */
  struct evbuffer *in;
  struct evbuffer *out;
  TAILQ_ENTRY(ew__conn_s) ready_link;
  TAILQ_ENTRY(ew__conn_s) blocked_link;
  struct ew__http_s *http; /* EW_FRAMING_HTTP: parser state */
  ew__tnode_t tprog;       /* progress timeout: HTTP headers or body */
  ew__tnode_t tidle;       /* idle timeout: HTTP keep-alive, or idle_timeout_ms */
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

void ew__conn_adopt(ew__io_t *io, int fd, ew__server_t *srv, const struct sockaddr *addr,
                    socklen_t addrlen);
void ew__conn_pump(ew__conn_t *c);
void ew__conn_close(ew__conn_t *c, int reason, int sys_errno);
void ew__conn_free_silently(ew__conn_t *c);
/* Writes `len` bytes (copied if the kernel does not take them at once). 0, or -1 if closed. */
int ew__conn_write(ew__conn_t *c, const void *bytes, size_t len);
/* Flushes, sends FIN and closes with `reason` (the HTTP layer's native answers). 0 or -1. */
int ew__conn_end_with(ew__conn_t *c, int reason);
/* The guard kicked the connection (EW_EFLOOD) with `body` (copied) for its CLOSE record: it
 * reads no more, and closes once the port has answered what came before (frames: FAULT, then
 * SHUTDOWN; HTTP: the owed responses, then 429), so no reply to a message within the limit is
 * lost. Returns -1. */
int ew__conn_kick(ew__conn_t *c, const void *body, uint32_t len);
/* tidle of a lingering connection expired: it closes. */
void ew__conn_linger_timeout(ew__conn_t *c);
/* Stops reading for good and drops unread input (a protocol error being answered). */
void ew__conn_stop_reading(ew__conn_t *c);
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
  bool dirty; /* records reserved since the last publish */
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
uint64_t ew__now_ms(void);

/* ---- protection (guard.c) ------------------------------------------------------------------ */

void ew__guard_log(ew__io_t *io, int kind, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sets up a server's protection state at listen; 0 or EW_ENOMEM. */
int ew__guard_server_init(ew__server_t *srv, uint32_t nio);
void ew__guard_server_free(ew__server_t *srv);
/* Decides at accept, on the listener's thread, before any read: 0 admits (and counts) the
 * connection, else the EW_* reason it was refused for (already counted and logged). */
int ew__guard_admit(ew__io_t *io, ew__server_t *srv, const struct sockaddr *sa);
/* Undoes an admission whose connection never became one. */
void ew__guard_unadmit(ew__server_t *srv, const struct sockaddr *sa);
/* A connection was adopted: its counters, limits and timeouts. */
void ew__guard_adopted(ew__conn_t *c, const struct sockaddr *sa);
/* A connection is being freed. */
void ew__guard_released(ew__conn_t *c);
/* `n` bytes were read. Returns -1 if that kicked the connection (closed, freed), else 0. */
int ew__guard_read(ew__conn_t *c, size_t n);
/* How many more messages may be delivered in this window before the next one kicks. */
uint32_t ew__guard_allowance(ew__conn_t *c);
/* `n` messages were delivered. */
static inline void ew__guard_delivered(ew__conn_t *c, uint32_t n) {
  c->win_msgs += n;
  c->msgs_total += n;
  c->flags |= C_GOT_MSG;
}
/* One more message is about to be delivered: -1 if it is over the window (the connection was
 * kicked: closed and freed), else 0. */
int ew__guard_msg(ew__conn_t *c);
/* The end of a read round of a live connection: publishes its statistics, charges its
 * address, sets its partial-frame timeout. May close the connection (a ban): last call. */
void ew__guard_round(ew__conn_t *c);
/* tprog (progress = true) or tidle of a non-HTTP connection expired. */
void ew__guard_timeout(ew__conn_t *c, bool progress);
void ew__guard_run_limits(ew__io_t *io, ew__cmd_limits_t *cmd);
void ew__guard_run_ban(ew__io_t *io, ew__cmd_ban_t *cmd);
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
/* The throttle tick (io.c owns the event). */
void ew__guard_on_throttle(ew__io_t *io);
/* Flushes a connection's output as the rate allows (conn.c). 0, or -1 if closed. */
int ew__conn_flush(ew__conn_t *c);
/* Arms the throttle tick if it is not armed (io.c). */
void ew__io_throttle_arm(ew__io_t *io);
/* Closes with a CLOSE record that carries `len` body bytes (a kick's figures). */
void ew__conn_close_with(ew__conn_t *c, int reason, int sys_errno, const void *body, uint32_t len);
uint64_t ew__coarse_ms(void);

/* ---- the runtime and its ports ------------------------------------------------------------ */

struct ew_port_s {
  ew_runtime_t *rt;
  uint32_t index;
  _Atomic int inflight; /* IO threads inside wake(); detach waits for zero */
  ew_wake_cb wake;
  void *wake_arg;
  _Atomic uint32_t *sleeping; /* shm: port control line */
  _Atomic uint32_t *epoch;    /* shm: attachments so far */
  _Atomic uint32_t *conns;    /* shm: connections bound now */
  _Atomic uint32_t *attached; /* shm: 1 while a consumer is attached (JavaScript reads it) */
  /* ew_port_reset(): IO threads still to finish, and who to tell. */
  _Atomic int resetting;
  _Atomic uint32_t reset_left;
  int reset_reason;
  ew_stop_cb reset_cb;
  void *reset_arg;
};

/* Each IO thread's part of ew_port_reset(); the last one to finish completes the reset. */
void ew__port_reset_run(ew__io_t *io, uint32_t port, int reason);

/* Wakes the consumer of `p` if it sleeps. IO threads only. */
void ew__port_notify(ew_port_t *p);
/* Calls the consumer's wake callback unconditionally (it waits for ring space). */
void ew__port_wake(ew_port_t *p);

enum { EW__RT_RUNNING = 1, EW__RT_STOPPING = 2, EW__RT_STOPPED = 3 };

struct ew_runtime_s {
  _Atomic int refs;
  _Atomic int state;
  _Atomic int log_level;
  ew_runtime_opts_t o;
  int cpus[EW_MAX_IO_THREADS];
  uint8_t *shm;
  size_t shm_bytes;
  ew_shm_layout_t layout;
  uint32_t rings_off;
  uint32_t ring_pair_bytes; /* in + out ring of one (io, port) pair */
  uint32_t tasks_off;       /* first task ring; 0 = none */
  uint32_t task_ring_stride;
  uint32_t nio;
  uint32_t nports;
  ew__io_t *io;
  ew_port_t *ports;
  pthread_mutex_t lock; /* start handshake, server table: never taken on the data path */
  pthread_cond_t cond;
  uint32_t ready_count;
  ew__server_t **servers;
  uint32_t nservers;
  uint32_t next_server_id;
  _Atomic uint32_t exited;
  ew_stop_cb stop_cb;
  void *stop_arg;
};

/* Byte offsets of the rings of pair (io, port). */
static inline uint32_t ew__in_ring_off(const ew_runtime_t *rt, uint32_t io, uint32_t port) {
  return rt->rings_off + (io * rt->nports + port) * rt->ring_pair_bytes;
}
static inline uint32_t ew__out_ring_off(const ew_runtime_t *rt, uint32_t io, uint32_t port) {
  return ew__in_ring_off(rt, io, port) + EW_RING_HEADER_BYTES + rt->o.in_ring_bytes;
}

/* Byte offset of the task ring from port `from` to port `to`. */
static inline uint32_t ew__task_ring_off(const ew_runtime_t *rt, uint32_t from, uint32_t to) {
  return rt->tasks_off + (from * rt->nports + to) * rt->task_ring_stride;
}

/* Called by each IO thread as it leaves its loop; the last one runs the stop callback. */
void ew__runtime_thread_exited(ew_runtime_t *rt);

#endif /* EW_INTERNAL_H */
