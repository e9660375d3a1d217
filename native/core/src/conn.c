// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* Connections do their own IO instead of using bufferevents: a bufferevent cannot be
 * edge-triggered and re-arms epoll on every write, which is exactly the syscall traffic this
 * layer exists to avoid. One event per fd, EV_READ|EV_WRITE|EV_ET|EV_PERSIST, registered once
 * for the connection's whole life. */

/* A read asks for at most 64 KiB less 256 bytes, so that a new input chain (libevent rounds the
 * payload plus its chain header up to a power of two) is a 64 KiB block, never 128 KiB: 128 KiB
 * is glibc's default mmap threshold, and on the JavaScript thread's heap (inline mode) chains of
 * that size were mapped and unmapped, or trimmed off the heap's top, on every other read (a
 * level-triggered inline echo at 4 KiB fell from about 500k to 80k msgs/s). */
#define READ_CHUNK ((64u << 10) - 256u)
/* Consecutive SEND records of one connection leave in one sendmsg, up to the kernel's limit:
 * a 256-deep pipelined burst of replies is one syscall, as one writev is for Node's corked
 * writes, not four. */
#define MAX_IOV IOV_MAX
#define OUT_RECORDS_PER_ROUND 4096

/* ---- slots and ids ---------------------------------------------------------------------- */

static uint32_t slot_load(ew__io_t *io, uint32_t slot, uint32_t word) {
  return atomic_load_explicit((_Atomic uint32_t *)&io->slots[(size_t)slot * EW__SLOT_WORDS + word],
                              memory_order_relaxed);
}

/* Released slots are reused oldest first, and only once a backlog of them has built up, so
 * that a slot's generation ages as slowly as possible and a stale id held by JavaScript is
 * still recognised as stale long after its connection closed. */
static uint32_t slot_alloc(ew__io_t *io) {
  uint32_t max = io->rt->o.max_conns_per_thread;
  if (io->free_count > 0 && (io->free_count >= 1024 || io->slot_hwm >= max)) {
    uint32_t s = io->free_slots[io->free_head];
    io->free_head = (io->free_head + 1) % io->free_cap;
    io->free_count--;
    return s;
  }
  if (io->slot_hwm >= max) return UINT32_MAX;
  if (io->slot_hwm >= io->conns_cap) {
    uint32_t cap = io->conns_cap ? io->conns_cap * 2 : 1024;
    if (cap > max) cap = max;
    ew__conn_t **grown = realloc(io->conns, (size_t)cap * sizeof *grown);
    if (grown == NULL) return UINT32_MAX;
    memset(grown + io->conns_cap, 0, (size_t)(cap - io->conns_cap) * sizeof *grown);
    io->conns = grown;
    io->conns_cap = cap;
  }
  return io->slot_hwm++;
}

static void slot_release(ew__io_t *io, uint32_t slot) {
  io->conns[slot] = NULL;
  if (io->free_count == io->free_cap) {
    /* Grow the FIFO, unrolling it so that the oldest entry is at index 0. */
    uint32_t cap = io->free_cap ? io->free_cap * 2 : 1024;
    uint32_t *grown = malloc((size_t)cap * sizeof *grown);
    if (grown == NULL) return; /* the slot is leaked, never reused: safe, only wasteful */
    for (uint32_t i = 0; i < io->free_count; i++)
      grown[i] = io->free_slots[(io->free_head + i) % io->free_cap];
    free(io->free_slots);
    io->free_slots = grown;
    io->free_cap = cap;
    io->free_head = 0;
  }
  io->free_slots[(io->free_head + io->free_count) % io->free_cap] = slot;
  io->free_count++;
}

ew__conn_t *ew__conn_lookup(ew__io_t *io, uint64_t id) {
  if (EW__ID_IO(id) != io->index) return NULL;
  uint32_t slot = EW__ID_SLOT(id);
  if (slot >= io->slot_hwm) return NULL;
  ew__conn_t *c = io->conns[slot];
  return (c != NULL && c->gen == EW__ID_GEN(id)) ? c : NULL;
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static void conn_release(ew__conn_t *c) {
  ew__io_t *io = c->io;
  /* Before the socket closes: a thread that holds only the id (a buddy task) sees at once that
   * the connection is gone, even if its owner has not read the CLOSE yet. */
  ew__slot_store(io, c->slot, EW_SHM_SLOT_PORT, UINT32_MAX);
  ew__tnode_disarm(&c->tprog);
  ew__tnode_disarm(&c->tidle);
  ew__tnode_disarm(&c->thand);
  ew__guard_released(c);
  c->codec->free(c);
  event_free(c->ev);
  if (c->wev != NULL) event_free(c->wev);
  c->transport->close(c);
  evbuffer_free(c->in);
  evbuffer_free(c->out);
  free(c->close_body);
  slot_release(io, c->slot);
  if (c->flags & C_BOUND)
    atomic_fetch_sub_explicit(io->rt->ports[c->port].conns, 1, memory_order_relaxed);
  atomic_fetch_sub_explicit(&io->live, 1, memory_order_relaxed);
  EW__STAT(io, closed)++;
  EW__STAT(io, live) = atomic_load_explicit(&io->live, memory_order_relaxed);
  c->prof->release(c->prof);
  free(c);
}

void ew__conn_free_silently(ew__conn_t *c) {
  conn_release(c);
}

void ew__conn_close(ew__conn_t *c, int reason, int sys_errno) {
  ew__conn_close_with(c, reason, sys_errno, NULL, 0);
}

void ew__conn_close_with(ew__conn_t *c, int reason, int sys_errno, const void *body, uint32_t len) {
  ew__io_t *io = c->io;
  if (c->flags & C_ON_READY) TAILQ_REMOVE(&io->ready, c, ready_link);
  if (c->flags & C_BLOCKED) TAILQ_REMOVE(&io->ports[c->port].blocked, c, blocked_link);
  EW_LOG_DEBUG(io->rt, "connection %llu closed: %s", (unsigned long long)c->id,
               ew_err_name(reason));
  if (body == NULL && c->close_body != NULL && reason == c->close_reason) {
    body = c->close_body;
    len = c->close_body_len;
  }
  ew__io_push_ctrl(io, c->port, EW_REC_CLOSE, c->id, (uint32_t)reason, (uint32_t)sys_errno, body,
                   len);
  conn_release(c);
}

static bool port_usable(const ew_runtime_t *rt, uint64_t mask, uint32_t j) {
  return (mask == 0 || (j < 64 && (mask >> j) & 1u)) &&
         atomic_load_explicit(rt->ports[j].attached, memory_order_acquire);
}

/* Binds by the profile's policy among its attached ports: in turn; the fewest live connections
 * (ties in turn, so equal ports share evenly); or the fewest unread bytes in this thread's ring
 * towards the port. UINT32_MAX when no port may take it. */
static uint32_t pick_port(ew__io_t *io, const ew__profile_t *p) {
  ew_runtime_t *rt = io->rt;
  uint64_t mask = p->bind_ports;
  uint32_t best = UINT32_MAX;
  uint64_t best_load = UINT64_MAX;
  for (uint32_t i = 0; i < rt->nports; i++) {
    uint32_t j = (io->next_port + i) % rt->nports;
    if (!port_usable(rt, mask, j)) continue;
    if (p->bind == EW_BIND_ROUND_ROBIN) {
      best = j;
      break;
    }
    uint64_t load = p->bind == EW_BIND_LEAST_CONNS
                        ? atomic_load_explicit(rt->ports[j].conns, memory_order_relaxed)
                        : ew_ring_used(io->ports[j].prod.ring);
    if (load < best_load) {
      best = j;
      best_load = load;
    }
  }
  if (best != UINT32_MAX) io->next_port = best + 1;
  return best;
}

static void on_event(evutil_socket_t fd, short what, void *arg);
static int flush_out(ew__conn_t *c);

static size_t tpending(const ew__conn_t *c);

/* The close reason of a failed read or write: the transport's own (TLS) for EPROTO. */
static int sys_reason(const ew__conn_t *c, int e) {
  if (e == EPROTO && c->transport->reason != NULL) return c->transport->reason(c);
  return ew_translate_sys_error(e);
}
static void ready_push(ew__conn_t *c);
static void on_read_lt(evutil_socket_t fd, short what, void *arg);
static void on_write_lt(evutil_socket_t fd, short what, void *arg);

/* Level-triggered mode (an experiment; docs/experiments.md): epoll reports a readable socket
 * again and again, so read interest is removed while the connection cannot read (its ring is
 * full, it faulted, the peer ended) and restored when it can; write interest exists only while
 * output is blocked, as in libuv. In edge-triggered mode both are no-ops. */
static bool level(const ew__conn_t *c) {
  return c->wev != NULL;
}

static void read_interest(ew__conn_t *c, bool on) {
  if (!level(c)) return;
  if (on && (c->flags & C_RD_OFF)) {
    c->flags &= ~C_RD_OFF;
    event_add(c->ev, NULL);
  } else if (!on && !(c->flags & C_RD_OFF)) {
    c->flags |= C_RD_OFF;
    event_del(c->ev);
  }
}

static void write_interest(ew__conn_t *c, bool on) {
  if (!level(c)) return;
  if (on && !(c->flags & C_WR_ON)) {
    c->flags |= C_WR_ON;
    event_add(c->wev, NULL);
  } else if (!on && (c->flags & C_WR_ON)) {
    c->flags &= ~C_WR_ON;
    event_del(c->wev);
  }
}

/* The body of OPEN and ADMIT records: u32 server, u16 family, u16 port, the peer's address, NUL,
 * u16 local port, the local address (docs/protocol.md). */
typedef struct open_body_s {
  uint32_t server;
  uint16_t family;
  uint16_t port;
  char addr[2 * INET6_ADDRSTRLEN + 3];
} open_body_t;

/* Writes a socket address as JavaScript shows it: an IPv4-mapped IPv6 address (::ffff:a.b.c.d,
 * what a dual-stack listener accepts from an IPv4 peer) as the IPv4 address it is, as Node's
 * net does for dual-stack servers. Returns the family, 4 or 6. */
static uint16_t addr_text(const struct sockaddr *sa, uint16_t *port, char *out, size_t cap) {
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    *port = ntohs(a->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], out, (socklen_t)cap);
      return 4;
    }
    inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)cap);
    return 6;
  }
  const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
  *port = ntohs(a->sin_port);
  inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)cap);
  return 4;
}

/* Fills an OPEN/ADMIT body for the connection on `fd` from `peer`; the local address comes from
 * getsockname() here, once, so that conn.localAddress costs JavaScript no call. Returns the
 * body's length. */
static uint32_t open_body(open_body_t *b, uint32_t server, const struct sockaddr *peer, int fd) {
  memset(b, 0, sizeof *b);
  b->server = server;
  b->family = addr_text(peer, &b->port, b->addr, INET6_ADDRSTRLEN);
  size_t n = strlen(b->addr) + 1; /* and its NUL */
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  uint16_t lport = 0;
  char local[INET6_ADDRSTRLEN] = "";
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
    addr_text((struct sockaddr *)&ss, &lport, local, sizeof local);
  memcpy(b->addr + n, &lport, 2);
  n += 2;
  size_t ln = strlen(local);
  memcpy(b->addr + n, local, ln);
  return (uint32_t)(8 + n + ln);
}

/* Binds the connection to `port` for life: the slot says which (for threads that hold only
 * its id), the port counts it, and OPEN tells the port. */
static void bind_to(ew__conn_t *c, uint32_t port, const open_body_t *body, uint32_t len) {
  ew__io_t *io = c->io;
  c->port = port;
  c->flags |= C_BOUND;
  ew__slot_store(io, c->slot, EW_SHM_SLOT_PORT, port);
  atomic_fetch_add_explicit(io->rt->ports[port].conns, 1, memory_order_relaxed);
  ew__io_push_ctrl(io, port, EW_REC_OPEN, c->id, c->prof->id, 0, body, len);
}

/* Refuses a connection that never became one: the fd is closed and every count it took is
 * given back. */
static void reject(ew__io_t *io, int fd, ew__profile_t *prof, ew__server_t *srv,
                   const struct sockaddr *addr) {
  close(fd);
  if (srv != NULL) ew__guard_unadmit(srv, addr);
  atomic_fetch_sub_explicit(&io->live, 1, memory_order_relaxed);
  prof->release(prof);
}

int ew__conn_adopt(ew__io_t *io, int fd, ew__profile_t *prof, ew__server_t *srv,
                   const struct sockaddr *addr, socklen_t addrlen) {
  /* The connection uses `srv` (admission, per-address counts) on the strength of the profile's
   * reference, which for an accepted connection is its server's. */
  assert(srv == NULL || prof == &srv->prof);
  ew_runtime_t *rt = io->rt;
  (void)addrlen;
  /* A parked connection's records (ADMIT, and CLOSE if it dies first) go to the owner port;
   * it is bound once the VERDICT names a port. */
  bool parked = srv != NULL && atomic_load_explicit(&srv->admit, memory_order_relaxed) != 0;
  uint32_t port = parked ? srv->o.owner_port : pick_port(io, prof);
  if (port == UINT32_MAX || (parked && !atomic_load(rt->ports[port].attached))) {
    EW_LOG_WARN(rt, "server %u: no port is attached to take connections; refusing", prof->id);
    reject(io, fd, prof, srv, addr);
    return EW_ESTATE;
  }
  uint32_t slot = slot_alloc(io);
  if (slot == UINT32_MAX) {
    EW__STAT(io, limit_rejects)++;
    uint64_t now = ew__now_ms();
    if (now - io->limit_logged_ms >= 1000 || io->limit_logged_ms == 0) {
      io->limit_logged_ms = now;
      EW_LOG_WARN(rt, "IO thread %u: all %u connection slots in use; refusing", io->index,
                  rt->o.max_conns_per_thread);
    }
    reject(io, fd, prof, srv, addr);
    return EW_ELIMIT;
  }
  ew__conn_t *c = calloc(1, sizeof *c);
  if (c != NULL) {
    c->in = evbuffer_new();
    c->out = evbuffer_new();
    if (rt->o.level_triggered) {
      c->ev = event_new(io->base, fd, EV_READ | EV_PERSIST, on_read_lt, c);
      c->wev = event_new(io->base, fd, EV_WRITE | EV_PERSIST, on_write_lt, c);
    } else {
      c->ev = event_new(io->base, fd, EV_READ | EV_WRITE | EV_ET | EV_PERSIST, on_event, c);
    }
  }
  if (c == NULL || c->in == NULL || c->out == NULL || c->ev == NULL ||
      (rt->o.level_triggered && c->wev == NULL)) {
    EW_LOG_ERROR(rt, "IO thread %u: out of memory adopting a connection", io->index);
    if (c != NULL) {
      if (c->ev) event_free(c->ev);
      if (c->wev) event_free(c->wev);
      if (c->in) evbuffer_free(c->in);
      if (c->out) evbuffer_free(c->out);
      free(c);
    }
    io->conns[slot] = NULL;
    slot_release(io, slot);
    reject(io, fd, prof, srv, addr);
    return EW_ENOMEM;
  }
  if (prof->no_delay) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  uint32_t gen = (slot_load(io, slot, EW_SHM_SLOT_GEN) + 1) & EW__GEN_MASK;
  if (gen == 0) gen = 1;
  ew__slot_store(io, slot, EW_SHM_SLOT_GEN, gen);
  for (uint32_t w = EW_SHM_SLOT_WRITTEN; w < EW__SLOT_WORDS; w++)
    ew__slot_store(io, slot, w, 0);
  c->io = io;
  c->codec = prof->codec;
  c->transport = prof->tls != NULL ? &ew__transport_tls : &ew__transport_socket;
  if (c->codec->seal != NULL || c->transport->open != NULL) c->flags |= C_LAYERED;
  c->prof = prof;
  c->srv = srv;
  c->fd = fd;
  c->slot = slot;
  c->gen = gen;
  c->port = port;
  c->id = EW__ID(gen, io->index, slot);
  io->conns[slot] = c;

  open_body_t body;
  uint32_t blen = open_body(&body, prof->id, addr, fd);
  if (parked) {
    c->flags |= C_PARKED;
    ew__slot_store(io, slot, EW_SHM_SLOT_PORT, UINT32_MAX);
    ew__io_push_ctrl(io, port, EW_REC_ADMIT, c->id, prof->id, 0, &body, blen);
  } else {
    bind_to(c, port, &body, blen);
  }
  EW__STAT(io, accepted)++;
  EW__STAT(io, live) = atomic_load_explicit(&io->live, memory_order_relaxed);
  ew__guard_adopted(c, addr);
  int err = c->transport->open != NULL ? c->transport->open(c) : 0;
  if (err == 0) err = c->codec->init(c);
  if (err != 0) {
    ew__conn_close(c, err, 0);
    return 0; /* announced, then closed: the port heard of it */
  }
  /* Registering an fd that already has data queued reports it at once, so nothing that arrived
   * before this point is missed. */
  if (event_add(c->ev, NULL) != 0) {
    ew__conn_close(c, EW_ENOMEM, 0);
    return 0;
  }
  /* A codec or transport that speaks first (a ClientHello) queued its greeting. */
  if (evbuffer_get_length(c->out) > 0 || tpending(c) > 0) flush_out(c);
  return 0;
}

/* Admission (docs/workers.md): the owner port answered a parked connection. Admitted, it is
 * bound (to the port named, if that one can take it, else by the profile's policy), announced
 * with OPEN and read from now on: whatever the peer sent meanwhile waits in the socket.
 * Refused, or with no port left to take it, it closes with EW_EDENIED. */
void ew__conn_verdict(ew__conn_t *c, uint32_t allow, uint32_t port) {
  if (!(c->flags & C_PARKED)) return;
  ew_runtime_t *rt = c->io->rt;
  if (allow && (port >= rt->nports || !port_usable(rt, c->prof->bind_ports, port)))
    port = pick_port(c->io, c->prof);
  if (!allow || port == UINT32_MAX) {
    ew__conn_close(c, EW_EDENIED, 0);
    return;
  }
  c->flags &= ~C_PARKED;
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getpeername(c->fd, (struct sockaddr *)&ss, &len) != 0) {
    /* The peer reset while parked (seen only now in level-triggered mode, where a parked
     * socket with data is not watched): it is gone, and an OPEN without an address would say
     * nothing useful. */
    int e = errno;
    ew__conn_close(c, ew_translate_sys_error(e), e);
    return;
  }
  open_body_t body;
  uint32_t blen = open_body(&body, c->prof->id, (struct sockaddr *)&ss, c->fd);
  bind_to(c, port, &body, blen);
  read_interest(c, true);
  c->flags |= C_READABLE;
  ready_push(c);
}

/* ---- inbound ------------------------------------------------------------------------------- */

/* The peer broke the protocol. Frames before the fault are already with the port, which may
 * still be answering them: rather than closing under those replies, stop reading, tell the
 * port, and close once it has answered (SHUTDOWN with the reason) and the output is flushed. */
void ew__conn_fault(ew__conn_t *c, int reason) {
  ew__io_t *io = c->io;
  ew__conn_stop_reading(c);
  EW__STAT(io, protocol_errors)++;
  ew__io_push_ctrl(io, c->port, EW_REC_FAULT, c->id, (uint32_t)reason, 0, NULL, 0);
}

/* The guard kicked the connection (EW_EFLOOD) with the figures `k` for its CLOSE record: it
 * reads no more, and closes once the port has answered what came before (frames: FAULT, then
 * SHUTDOWN; HTTP: the owed responses, then 429), so no reply to a message within the limit is
 * lost. Returns -1. */
static int conn_kick(ew__conn_t *c, const ew__kick_t *k) {
  uint32_t len = (uint32_t)sizeof *k;
  void *copy = malloc(len);
  if (copy == NULL) {
    ew__conn_close_with(c, EW_EFLOOD, 0, k, len);
    return -1;
  }
  memcpy(copy, k, len);
  free(c->close_body);
  c->close_body = copy;
  c->close_body_len = len;
  c->close_reason = EW_EFLOOD;
  return c->codec->kick(c);
}

int ew__conn_msg(ew__conn_t *c) {
  ew__kick_t k;
  if (ew__guard_msg(c, &k) == EW__GUARD_PASS) return 0;
  return conn_kick(c, &k);
}

void ew__conn_timeout(ew__conn_t *c, bool progress) {
  if (c->codec->flags & EW__CODEC_OWN_TIMERS) {
    c->codec->timeout(c, progress);
    return;
  }
  int reason = ew__guard_timeout(c, progress);
  if (reason != 0) ew__conn_close(c, reason, 0);
}

/* A ban walks this thread's connections once: bans are rare (one per address per ban_ms), and
 * a per-address index of connections would cost memory and work on every accept instead. */
void ew__conn_run_ban(ew__io_t *io, ew__cmd_ban_t *cmd) {
  uint32_t n = 0;
  for (uint32_t s = 0; s < io->slot_hwm; s++) {
    ew__conn_t *c = io->conns[s];
    if (c == NULL || !ew__guard_ban_hits(c, cmd)) continue;
    ew__conn_close(c, EW_EBANNED, 0);
    n++;
  }
  ew__guard_ban_done(io, cmd, n);
}

/* Lingering close (as nginx's lingering_close): once our FIN is out on a connection that stopped
 * reading (HTTP Connection: close, or an error answered), closing at once would make the kernel
 * answer the peer's unread or late bytes with a reset, which can destroy the response before the
 * peer has read it; and waiting for a FIN that is never read holds the descriptor for good. So
 * input is read and thrown away until the peer's FIN, LINGER_MAX_BYTES, or LINGER_MS. */
#define LINGER_MS 5000u
#define LINGER_MAX_BYTES (1u << 20)

/* The close reason at the end of a lingering close: the runtime's shutdown says so; otherwise
 * EW_OK if this side ended first, else EW_EOF. */
static int linger_reason(const ew__conn_t *c) {
  if (c->close_reason == EW_ESHUTDOWN) return EW_ESHUTDOWN;
  return (c->flags & C_LOCAL_END) ? 0 : EW_EOF;
}

static void linger_start(ew__conn_t *c) {
  c->flags |= C_LINGER | C_READABLE;
  c->flags &= ~C_FAULT;
  ew__tnode_disarm(&c->tprog);
  ew__io_arm(c->io, &c->tidle, LINGER_MS);
  read_interest(c, true);
}

/* Returns false if the connection closed. */
static bool linger_read(ew__conn_t *c) {
  char scratch[16384];
  struct iovec v = {.iov_base = scratch, .iov_len = sizeof scratch};
  for (;;) {
    ssize_t r = c->transport->readv(c, &v, 1);
    if (r > 0) {
      c->lingered += (uint32_t)r;
      if (c->lingered > LINGER_MAX_BYTES) break;
      continue;
    }
    if (r < 0 && errno == EAGAIN) {
      c->flags &= ~C_READABLE;
      return true;
    }
    break; /* EOF or an error: either way nothing more is owed */
  }
  ew__conn_close(c, linger_reason(c), 0);
  return false;
}

void ew__conn_handshake_arm(ew__conn_t *c, uint32_t ms) {
  c->thand.tag = 3;
  if (ms != 0) ew__io_arm(c->io, &c->thand, ms);
}

void ew__conn_handshake_done(ew__conn_t *c) {
  ew__tnode_disarm(&c->thand);
}

void ew__conn_handshake_timeout(ew__conn_t *c) {
  EW__STAT(c->io, timeouts)++;
  if (c->ts != NULL)
    EW__STAT(c->io, tls_failures)++;
  else
    EW__STAT(c->io, crypto_failures)++;
  ew__conn_close(c, EW_ETIMEOUT_HANDSHAKE, 0);
}

void ew__conn_linger_timeout(ew__conn_t *c) {
  ew__conn_close(c, linger_reason(c), 0);
}

void ew__conn_block(ew__conn_t *c) {
  ew__io_t *io = c->io;
  ew__io_port_t *ip = &io->ports[c->port];
  if (!(c->flags & C_BLOCKED)) {
    c->flags |= C_BLOCKED;
    TAILQ_INSERT_TAIL(&ip->blocked, c, blocked_link);
    EW__STAT(io, ring_full)++;
    read_interest(c, false);
  }
  ew_ring_wait_space(&ip->prod, ip->prod.max_body);
  ip->dirty = true; /* publish what is there so the consumer can make room */
}

static void ready_push(ew__conn_t *c) {
  if (c->flags & C_ON_READY) return;
  c->flags |= C_ON_READY;
  TAILQ_INSERT_TAIL(&c->io->ready, c, ready_link);
}

static int do_shutdown(ew__conn_t *c);

static void on_eof(ew__conn_t *c) {
  c->flags |= C_PEER_EOF;
  c->flags &= ~C_READABLE;
  read_interest(c, false);
  if (c->codec->eof(c)) return;
  ew__io_push_ctrl(c->io, c->port, EW_REC_END, c->id, 0, 0, NULL, 0);
  /* Both directions are finished once we had already shut down ours. */
  if (c->flags & C_WR_SHUT) ew__conn_close(c, (c->flags & C_LOCAL_END) ? 0 : EW_EOF, 0);
}

/* Bytes the transport holds for the socket (TLS records not yet sent). */
static size_t tpending(const ew__conn_t *c) {
  return (c->flags & C_LAYERED) && c->transport->pending != NULL ? c->transport->pending(c) : 0;
}

/* Whether the transport takes application bytes now (not during a TLS handshake). */
static bool twritable(const ew__conn_t *c) {
  return !(c->flags & C_LAYERED) || c->transport->writable == NULL || c->transport->writable(c);
}

/* The transport holds output the socket did not take: wait for a write edge. */
static void twait_edge(ew__conn_t *c) {
  if (tpending(c) > 0 && !(c->flags & C_WBLOCKED)) {
    c->flags |= C_WBLOCKED;
    write_interest(c, true);
  }
}

/* After a read of a transport with state (TLS): what the handshake wrote and the socket did
 * not take waits for a write edge, and output held back during the handshake goes out once
 * it is over. Returns false if the connection closed. */
static bool after_tread(ew__conn_t *c) {
  twait_edge(c);
  if ((c->flags & C_TWAIT) && twritable(c)) {
    c->flags &= ~C_TWAIT;
    if (flush_out(c) < 0) return false;
  }
  return true;
}

/* Reads and delivers. Returns true when the connection is certainly still open (it stopped on
 * EAGAIN, its budget or a full ring), false when it may have been closed. */
static bool pump(ew__conn_t *c) {
  if (c->flags & (C_FAULT | C_PAUSED)) return true;
  int d = c->codec->deliver(c);
  if (d != 0) return d > 0;
  if (c->flags & C_PEER_EOF) return true;
  if (c->flags & C_RD_OFF) {
    /* Unblocked after a full ring: listen again, and look now rather than wait a round. */
    read_interest(c, true);
    c->flags |= C_READABLE;
  }
  if (!(c->flags & C_READABLE)) return true;
  uint32_t budget = c->io->rt->o.read_budget;
  size_t got = 0;
  for (;;) {
    size_t want = READ_CHUNK;
    if (budget != 0 && budget - got < want) want = budget - got;
    struct evbuffer_iovec v[2];
    struct iovec iov[2];
    size_t asked = 0;
    int niov = 0;
    /* A codec that can (frames) has the read land in the port's ring. */
    void *landing =
        c->codec->land != NULL && !(c->flags & C_LAYERED) ? c->codec->land(c, want, &iov[0]) : NULL;
    if (landing != NULL) {
      asked = iov[0].iov_len;
      niov = 1;
    } else {
      int n = evbuffer_reserve_space(c->in, (ev_ssize_t)want, v, 2);
      if (n <= 0) {
        ew__conn_close(c, EW_ENOMEM, 0);
        return false;
      }
      for (int i = 0; i < n && asked < want; i++) {
        size_t len = v[i].iov_len;
        if (len > want - asked) len = want - asked;
        iov[niov].iov_base = v[i].iov_base;
        iov[niov].iov_len = len;
        asked += len;
        niov++;
      }
    }
    ssize_t r = c->transport->readv(c, iov, niov);
    int e = errno;
    if (landing != NULL) {
      if (r <= 0) c->codec->landed(c, landing, 0);
    } else if (r > 0) {
      size_t left = (size_t)r;
      for (int i = 0; i < niov; i++) {
        if (v[i].iov_len > left) v[i].iov_len = left;
        left -= v[i].iov_len;
      }
      evbuffer_commit_space(c->in, v, niov);
    } else {
      evbuffer_commit_space(c->in, v, 0);
    }
    if (c->flags & C_LAYERED) {
      /* The input is committed first: the flush below may close the connection. */
      if (!after_tread(c)) return false;
      if (c->flags & (C_FAULT | C_LINGER)) return true; /* that flush ended reading */
    }
    if (r < 0) {
      if (e == EAGAIN) {
        c->flags &= ~C_READABLE;
        return true;
      }
      ew__conn_close(c, sys_reason(c, e), e);
      return false;
    }
    if (r == 0) {
      on_eof(c);
      return false;
    }
    got += (size_t)r;
    EW__STAT(c->io, bytes_in) += (uint64_t)r;
    ew__kick_t k;
    if (ew__guard_read(c, (size_t)r, &k) != EW__GUARD_PASS) {
      if (landing != NULL) c->codec->landed(c, landing, 0);
      conn_kick(c, &k);
      return false;
    }
    d = landing != NULL ? c->codec->landed(c, landing, (size_t)r) : c->codec->deliver(c);
    if (d != 0) return d > 0;
    if (level(c)) {
      /* Level-triggered: a short read means drained for now, and epoll reports the socket
       * again if anything (data, FIN, reset) is left; so is a spent budget, which is what
       * makes the next poll round fair. */
      if ((size_t)r < asked || (budget != 0 && got >= budget)) {
        /* Input the transport already took from the socket (TLS records) will not be
         * reported again by the poll: the connection stays readable, on the ready list. */
        if (c->transport->buffered != NULL && c->transport->buffered(c)) {
          ready_push(c);
          return true;
        }
        c->flags &= ~C_READABLE;
        return true;
      }
      continue;
    }
    /* Edge-triggered: a short read is not taken as "drained": libevent reports EPOLLHUP and
     * EPOLLERR as plain EV_READ|EV_WRITE, so a reset that arrived with the last bytes would
     * never produce another edge. Reading on to EAGAIN (or EOF, or the error) costs one
     * syscall per event and cannot lose a close. */
    if (budget != 0 && got >= budget) {
      ready_push(c);
      return true;
    }
  }
}

void ew__conn_pump(ew__conn_t *c) {
  if (!pump(c)) return;
  int reason = ew__guard_round(c);
  if (reason != 0) ew__conn_close(c, reason, 0);
}

/* ---- outbound ------------------------------------------------------------------------------ */

/* Bytes the codec holds back from the output buffer (message encryption before its keys). */
static size_t held(const ew__conn_t *c) {
  return (c->flags & C_LAYERED) && c->codec->held != NULL ? c->codec->held(c) : 0;
}

static void account_written(ew__conn_t *c, size_t n) {
  if (!(c->flags & C_LAYERED) || c->codec->seal == NULL) {
    c->written += (uint32_t)n;
  } else {
    /* JavaScript counts what it sent in its own bytes, and a sealing codec writes others: what
     * is written of them is what it handed over less what still waits, before (held) or after
     * (the output buffer) sealing. The estimate lags by the sealing overhead of what waits, so
     * backpressure errs early, and is exact whenever the output is flushed. */
    uint64_t q = evbuffer_get_length(c->out) + held(c);
    uint64_t w = c->pt_in > q ? c->pt_in - q : 0;
    if (w > c->pt_written) {
      c->written += (uint32_t)(w - c->pt_written);
      c->pt_written = w;
    }
  }
  c->bytes_out += n;
  ew__slot_store(c->io, c->slot, EW_SHM_SLOT_WRITTEN, c->written);
  ew__slot_store64(c->io, c->slot, EW_SHM_SLOT_BYTES_OUT, c->bytes_out);
  EW__STAT(c->io, bytes_out) += n;
}

/* Returns 0, or -1 if the connection was closed. */
static int after_output(ew__conn_t *c) {
  size_t queued = evbuffer_get_length(c->out) + held(c) + tpending(c);
  if (queued > c->prof->max_buffered) {
    EW__STAT(c->io, slow_closes)++;
    ew__conn_close(c, EW_ESLOW, 0);
    return -1;
  }
  if ((c->flags & C_WANT_DRAIN) && queued < c->prof->low_watermark) {
    c->flags &= ~C_WANT_DRAIN;
    ew__io_push_ctrl(c->io, c->port, EW_REC_DRAIN, c->id, 0, 0, NULL, 0);
  }
  if (queued == 0 && (c->flags & C_END_PENDING)) return do_shutdown(c);
  return 0;
}

/* Writes the output buffer until it is empty, the kernel refuses, or (a rate-limited server)
 * the connection's tokens are spent: then it waits on the throttle tick. Returns 0 or -1
 * (closed). */
static int flush_out(ew__conn_t *c) {
  /* What the transport made (TLS records, a handshake flight) goes before anything else. */
  if (tpending(c) > 0) {
    if (c->transport->flush(c) != 0) {
      int e = errno;
      if (e == EAGAIN) {
        c->flags |= C_WBLOCKED;
        write_interest(c, true);
        return after_output(c);
      }
      ew__conn_close(c, ew_translate_sys_error(e), e);
      return -1;
    }
    /* A read that stopped because the transport could not write (TLS wanting to send while
     * the socket was full) resumes now: what it holds is read on the next round. */
    if (c->transport->buffered != NULL && c->transport->buffered(c) &&
        !(c->flags & (C_FAULT | C_LINGER | C_PAUSED | C_BLOCKED | C_PEER_EOF))) {
      c->flags |= C_READABLE;
      ready_push(c);
    }
  }
  if (!twritable(c)) {
    /* A TLS handshake in progress: the read that finishes it flushes (C_TWAIT). */
    if (evbuffer_get_length(c->out) > 0) c->flags |= C_TWAIT;
    if (!(c->flags & C_WBLOCKED)) write_interest(c, false);
    return after_output(c);
  }
  bool limited = ew__guard_limited(c);
  while (evbuffer_get_length(c->out) > 0) {
    size_t allow = limited ? ew__guard_send_allow(c) : SIZE_MAX;
    if (allow == 0) break;
    struct evbuffer_iovec v[MAX_IOV];
    int n = evbuffer_peek(c->out, -1, NULL, v, MAX_IOV);
    if (n > MAX_IOV) n = MAX_IOV;
    struct iovec iov[MAX_IOV];
    size_t total = 0;
    for (int i = 0; i < n; i++) {
      iov[i].iov_base = v[i].iov_base;
      iov[i].iov_len = v[i].iov_len;
      if (v[i].iov_len >= allow - total) {
        iov[i].iov_len = allow - total;
        total = allow;
        n = i + 1;
        break;
      }
      total += v[i].iov_len;
    }
    ssize_t w = c->transport->writev(c, iov, n);
    if (w < 0) {
      int e = errno;
      if (e == EAGAIN) {
        c->flags |= C_WBLOCKED;
        write_interest(c, true);
        return after_output(c);
      }
      ew__conn_close(c, sys_reason(c, e), e);
      return -1;
    }
    evbuffer_drain(c->out, (size_t)w);
    account_written(c, (size_t)w);
    if (limited) ew__guard_sent(c, (size_t)w);
    if ((size_t)w < total || tpending(c) > 0) {
      c->flags |= C_WBLOCKED;
      write_interest(c, true);
      break;
    }
  }
  if (!(c->flags & C_WBLOCKED)) write_interest(c, false);
  if (limited && evbuffer_get_length(c->out) > 0 && !(c->flags & C_WBLOCKED))
    ew__guard_throttle(c);
  else
    ew__guard_unthrottle(c);
  return after_output(c);
}

int ew__conn_flush(ew__conn_t *c) {
  if (c->flags & C_WBLOCKED) return after_output(c); /* the write edge flushes */
  return flush_out(c);
}

/* The response rate's tick: one turn for every waiting connection, in order; one that still
 * waits goes to the back. */
void ew__conn_on_throttle(ew__io_t *io) {
  uint32_t n = 0;
  ew__conn_t *c;
  TAILQ_FOREACH(c, &io->throttled, throttle_link) n++;
  while (n-- > 0 && (c = TAILQ_FIRST(&io->throttled)) != NULL) {
    TAILQ_REMOVE(&io->throttled, c, throttle_link);
    TAILQ_INSERT_TAIL(&io->throttled, c, throttle_link);
    flush_out(c); /* unthrottles it when its output is out, or closes it */
  }
  if (!TAILQ_EMPTY(&io->throttled)) ew__io_throttle_arm(io);
}

/* Sends bytes that live in ring memory: straight to the kernel when nothing is queued before
 * them (zero copy), and only what the kernel did not take is copied into the output buffer. */
static int write_iov(ew__conn_t *c, struct iovec *iov, int n, size_t total) {
  size_t done = 0;
  bool limited = ew__guard_limited(c);
  bool writable = twritable(c);
  if (!writable) c->flags |= C_TWAIT; /* buffered until the TLS handshake finishes */
  if (!limited && writable && evbuffer_get_length(c->out) == 0 && !(c->flags & C_WBLOCKED)) {
    ssize_t w = c->transport->writev(c, iov, n);
    if (w < 0) {
      int e = errno;
      if (e != EAGAIN) {
        ew__conn_close(c, sys_reason(c, e), e);
        return -1;
      }
      w = 0;
    }
    done = (size_t)w;
    if (w > 0) account_written(c, done);
    if (done < total) {
      c->flags |= C_WBLOCKED;
      write_interest(c, true);
    } else {
      twait_edge(c);
    }
  }
  if (done < total) {
    size_t skip = done;
    for (int i = 0; i < n; i++) {
      size_t len = iov[i].iov_len;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      if (evbuffer_add(c->out, (uint8_t *)iov[i].iov_base + skip, len - skip) != 0) {
        ew__conn_close(c, EW_ENOMEM, 0);
        return -1;
      }
      skip = 0;
    }
  }
  /* Rate-limited output always goes through the buffer, which the rate drains. */
  if (limited && !(c->flags & C_WBLOCKED)) return flush_out(c);
  return after_output(c);
}

/* Sends our FIN once the output is flushed. Returns -1 if that finished the connection (the
 * peer had already ended, or shutdown failed), else 0. */
static int do_shutdown(ew__conn_t *c) {
  c->flags &= ~C_END_PENDING;
  if (c->close_reason == EW_ESHUTDOWN && !(c->flags & C_PEER_EOF)) {
    /* The runtime's graceful close (rt.close, or an idle HTTP connection of a closing server):
     * everything owed is written. Closing now would answer bytes the peer is still sending
     * with a reset, which can destroy those last messages before the peer has read them; so
     * our FIN goes out, input is discarded as in a lingering close, and the connection then
     * closes with the reason. */
    ew__conn_stop_reading(c);
    c->flags |= C_WR_SHUT;
    if (c->transport->shutdown(c) != 0) {
      int e = errno;
      ew__conn_close(c, ew_translate_sys_error(e), e);
      return -1;
    }
    linger_start(c);
    return linger_read(c) ? 0 : -1;
  }
  if (c->close_reason != 0) {
    /* The answer to a FAULT: the replies are out, nothing more is owed to this peer. */
    ew__conn_close(c, c->close_reason, 0);
    return -1;
  }
  if (!(c->flags & C_WR_SHUT)) {
    c->flags |= C_WR_SHUT;
    if (c->transport->shutdown(c) != 0) {
      int e = errno;
      ew__conn_close(c, ew_translate_sys_error(e), e);
      return -1;
    }
  }
  if (c->flags & C_PEER_EOF) {
    ew__conn_close(c, (c->flags & C_LOCAL_END) ? 0 : EW_EOF, 0);
    return -1;
  }
  if (c->flags & C_FAULT) {
    /* Nothing more will be read as input: wait for the peer's FIN, discarding. */
    linger_start(c);
    return linger_read(c) ? 0 : -1;
  }
  return 0;
}

/* A parked connection is not read, but a peer that leaves (or resets) while JavaScript decides
 * must not hold a slot until the VERDICT: a one-byte peek tells EOF and errors from data, which
 * stays in the socket for after the admission. */
static bool parked_check(ew__conn_t *c) {
  char b;
  ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (r == 0) {
    ew__conn_close(c, EW_EOF, 0);
    return false;
  }
  if (r < 0 && errno != EAGAIN && errno != EINTR) {
    ew__conn_close(c, ew_translate_sys_error(errno), errno);
    return false;
  }
  if (r > 0) {
    /* Data hides what follows it from a peek. A reset shows in the socket's state (a FIN does
     * not need to: a half-closed peer may still want its answer, which admission delivers). */
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0 && ti.tcpi_state == TCP_CLOSE) {
      ew__conn_close(c, EW_ECONNRESET, ECONNRESET);
      return false;
    }
    /* Level-triggered: data waiting would report the socket on every poll; stop listening
     * until the verdict (which turns it back on). */
    read_interest(c, false);
  }
  return true;
}

/* Commands posted before the bytes of this event were sent (new limits, a ban) apply before
 * they are read: the loop runs the inbox only at the top of a round, after every socket event
 * epoll reported in it. Returns the connection, or NULL if a command closed it. */
static ew__conn_t *inbox_first(ew__conn_t *c) {
  ew__io_t *io = c->io;
  if (!ew__inbox_pending(&io->inbox)) return c;
  uint64_t id = c->id;
  ew__io_run_inbox(io);
  return ew__conn_lookup(io, id);
}

static void on_event(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  ew__conn_t *c = inbox_first(arg);
  if (c == NULL) return;
  if (c->flags & C_PARKED) {
    if (what & EV_READ) parked_check(c);
    return;
  }
  if (what & EV_READ) c->flags |= C_READABLE;
  if (what & EV_WRITE) {
    c->flags &= ~C_WBLOCKED;
    if ((evbuffer_get_length(c->out) > 0 || tpending(c) > 0) && flush_out(c) < 0) return;
  }
  if (c->flags & C_LINGER) {
    if (c->flags & C_READABLE) linger_read(c);
    return;
  }
  /* A connection waiting on the ready list or for ring room keeps its turn: reading it now
   * would let a busy peer jump the queue. */
  if ((c->flags & C_READABLE) && !(c->flags & (C_ON_READY | C_BLOCKED | C_FAULT | C_PAUSED)))
    ew__conn_pump(c);
}

int ew__conn_write(ew__conn_t *c, const void *bytes, size_t len) {
  struct iovec v = {.iov_base = (void *)bytes, .iov_len = len};
  return write_iov(c, &v, 1, len);
}

int ew__conn_end_with(ew__conn_t *c, int reason) {
  c->close_reason = reason;
  if (c->flags & C_WR_SHUT) {
    ew__conn_close(c, reason, 0);
    return -1;
  }
  c->flags |= C_END_PENDING | C_LOCAL_END;
  if (evbuffer_get_length(c->out) == 0 && held(c) == 0 && tpending(c) == 0) return do_shutdown(c);
  return 0;
}

void ew__conn_stop_reading(ew__conn_t *c) {
  ew__io_t *io = c->io;
  c->flags |= C_FAULT;
  c->flags &= ~C_READABLE;
  read_interest(c, false);
  if (c->flags & C_ON_READY) {
    c->flags &= ~C_ON_READY;
    TAILQ_REMOVE(&io->ready, c, ready_link);
  }
  if (c->flags & C_BLOCKED) {
    c->flags &= ~C_BLOCKED;
    TAILQ_REMOVE(&io->ports[c->port].blocked, c, blocked_link);
  }
  evbuffer_drain(c->in, evbuffer_get_length(c->in));
}

ew_rec_t *ew__conn_reserve(ew__conn_t *c, uint32_t *len) {
  ew__io_port_t *ip = &c->io->ports[c->port];
  if (*len > ip->prod.max_body) *len = ip->prod.max_body;
  if (ip->ovf_head != NULL) {
    ew__conn_block(c);
    return NULL;
  }
  ew_rec_t *rec = ew_ring_reserve(&ip->prod, *len);
  if (rec == NULL) {
    ew__conn_block(c);
    return NULL;
  }
  ip->dirty = true;
  return rec;
}

static void on_read_lt(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ew__conn_t *c = inbox_first(arg);
  if (c == NULL) return;
  if (c->flags & C_PARKED) {
    parked_check(c);
    return;
  }
  c->flags |= C_READABLE;
  if (c->flags & C_LINGER) {
    linger_read(c);
    return;
  }
  if (c->flags & C_PAUSED) {
    read_interest(c, false); /* level-triggered: epoll would report it on every round */
    return;
  }
  if (!(c->flags & (C_ON_READY | C_BLOCKED | C_FAULT))) ew__conn_pump(c);
}

static void on_write_lt(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ew__conn_t *c = arg;
  c->flags &= ~C_WBLOCKED;
  if (evbuffer_get_length(c->out) > 0 || tpending(c) > 0)
    flush_out(c);
  else
    write_interest(c, false);
}

/* pause() and resume() act on the IO thread, in order with the connection's other records:
 * paused, the socket is not read (the kernel's receive buffer fills and TCP flow control reaches
 * the peer), bytes already read stay in the input buffer, and the timeouts that wait on the peer
 * are held (io.c). Resumed, the connection goes on the ready list and reads from where it was:
 * an edge that came while paused was recorded in C_READABLE, and reading on to EAGAIN cannot
 * miss one that did not. Socket options failing is not fatal: the connection goes on as it
 * was, as in Node. */
/* end() (SHUTDOWN): flush, then our FIN; with a reason (the answer to FAULT, a graceful close)
 * the connection then closes with it. */
static void end_with(ew__conn_t *c, int32_t reason) {
  if (reason != 0) c->close_reason = reason;
  if (reason != 0 && (c->flags & C_WR_SHUT)) {
    ew__conn_close(c, c->close_reason, 0);
  } else if (!(c->flags & (C_END_PENDING | C_WR_SHUT))) {
    c->flags |= C_END_PENDING;
    if (!(c->flags & C_PEER_EOF)) c->flags |= C_LOCAL_END;
    if (evbuffer_get_length(c->out) == 0 && held(c) == 0 && tpending(c) == 0) do_shutdown(c);
  }
}

void ew__conn_option(ew__conn_t *c, uint32_t opt, uint32_t value) {
  int v = value != 0;
  int r = 0;
  switch (opt) {
  case EW_CONN_OPT_CLOSE_IF_IDLE:
    if (c->codec->drain(c)) end_with(c, (int32_t)value);
    return;
  case EW_CONN_OPT_PAUSE:
    if (v) {
      if (c->flags & C_PAUSED) return;
      c->flags |= C_PAUSED;
      if (!(c->flags & (C_FAULT | C_LINGER | C_PEER_EOF))) read_interest(c, false);
    } else {
      if (!(c->flags & C_PAUSED)) return;
      c->flags &= ~C_PAUSED;
      if (c->flags & (C_FAULT | C_LINGER | C_PARKED)) return;
      if (!(c->flags & C_PEER_EOF)) {
        read_interest(c, true);
        c->flags |= C_READABLE;
      }
      ready_push(c);
    }
    return;
  case EW_CONN_OPT_NODELAY:
    r = setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v);
    break;
  case EW_CONN_OPT_KEEPALIVE:
    r = setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &v, sizeof v);
    break;
  case EW_CONN_OPT_KEEPIDLE: {
    int secs = value > INT_MAX ? INT_MAX : (int)value;
    r = setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof secs);
    break;
  }
  default:
    EW_LOG_ERROR(c->io->rt, "connection %llu: unknown option %u; ignored",
                 (unsigned long long)c->id, opt);
    return;
  }
  if (r != 0)
    EW_LOG_DEBUG(c->io->rt, "connection %llu: option %u = %u failed: %s", (unsigned long long)c->id,
                 opt, value, strerror(errno));
}

void ew__conn_consume_out(ew__io_t *io, uint32_t port) {
  ew__io_port_t *ip = &io->ports[port];
  ew_ring_consumer_t *cons = &ip->cons;
  const ew_rec_t *rec;
  int budget = OUT_RECORDS_PER_ROUND;
  while (budget > 0 && (rec = ew_ring_next(cons)) != NULL) {
    ew__conn_t *c = ew__conn_lookup(io, rec->conn);
    switch (rec->kind) {
    case EW_REC_SEND: {
      /* Consecutive sends to one connection (a pipelined batch of replies) leave in one
       * sendmsg. Advancing is safe: the memory stays ours until ew_ring_release(). */
      struct iovec iov[MAX_IOV];
      int n = 0;
      size_t total = 0;
      uint32_t ends = 0;
      uint64_t id = rec->conn;
      do {
        iov[n].iov_base = (void *)(rec + 1);
        iov[n].iov_len = rec->len;
        total += rec->len;
        /* One test per record on the frame path; flagged records take the slow branch. A codec
         * that follows what is written hears of its flagged records before they go out. */
        if (rec->flags & (EW_REC_F_RESPONSE_END | EW_REC_F_CODEC)) {
          if (rec->flags & EW_REC_F_RESPONSE_END) ends++;
          if ((rec->flags & EW_REC_F_CODEC) && c != NULL &&
              !(c->flags & (C_END_PENDING | C_WR_SHUT)) && c->codec->outgoing != NULL)
            c->codec->outgoing(c, rec->flags);
        }
        n++;
        ew_ring_advance(cons, rec);
        budget--;
      } while (n < MAX_IOV && (rec = ew_ring_next(cons)) != NULL && rec->kind == EW_REC_SEND &&
               rec->conn == id);
      EW__STAT(io, send_records) += (uint64_t)n;
      if (c == NULL || (c->flags & (C_END_PENDING | C_WR_SHUT))) {
        EW__STAT(io, stale_sends) += (uint64_t)n;
        continue;
      }
      if ((c->flags & C_LAYERED) && c->codec->seal != NULL) {
        c->pt_in += total;
        if (c->codec->seal(c, iov, n) == 0) ew__conn_flush(c);
        continue;
      }
      if (write_iov(c, iov, n, total) == 0 && ends != 0 && c->codec->sent != NULL)
        c->codec->sent(c, ends);
      continue;
    }
    case EW_REC_SHUTDOWN:
      if (c != NULL) end_with(c, (int32_t)rec->type);
      break;
    case EW_REC_DESTROY:
      if (c != NULL) ew__conn_close(c, (int32_t)rec->type, 0);
      break;
    case EW_REC_WATCH:
      if (c != NULL) {
        c->flags |= C_WANT_DRAIN;
        after_output(c);
      }
      break;
    case EW_REC_VERDICT:
      if (c != NULL) ew__conn_verdict(c, rec->type, rec->seq);
      break;
    case EW_REC_CONN_OPT:
      if (c != NULL) ew__conn_option(c, rec->type, rec->seq);
      break;
    case EW_REC_DGRAM_SEND:
      /* A UDP socket's datagrams (udp.c), with those of the same socket behind it. */
      budget -= (int)ew__udp_consume(io, cons, rec);
      continue;
    default:
      EW_LOG_ERROR(io->rt, "port %u: unexpected record kind %u; skipped", port, rec->kind);
      break;
    }
    if (c == NULL && rec->kind != EW_REC_SEND) EW__STAT(io, stale_sends)++;
    ew_ring_advance(cons, rec);
    budget--;
  }
  if (ew_ring_release(cons)) ew__port_wake(ip->port);
}

uint32_t ew__conn_close_port(ew__io_t *io, uint32_t port, int reason) {
  uint32_t closed = 0;
  for (uint32_t s = 0; s < io->slot_hwm; s++) {
    ew__conn_t *c = io->conns[s];
    /* Parked connections whose ADMIT went to this port are closed too: the reset discards the
     * ADMIT, so no verdict could ever come. */
    if (c != NULL && c->port == port) {
      ew__conn_close(c, reason, 0);
      closed++;
    }
  }
  return closed;
}
