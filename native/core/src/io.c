// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

void ew__io_wake(ew__io_t *io) {
  ew__inbox_wake(&io->inbox);
}

void ew__io_post(ew__io_t *io, ew__cmd_t *cmd) {
  ew__inbox_push(&io->inbox, cmd);
}

/* ---- control records -------------------------------------------------------------------- */

static void ovf_append(ew__io_port_t *ip, ew__ctrl_t *c) {
  c->next = NULL;
  if (ip->ovf_tail != NULL)
    ip->ovf_tail->next = c;
  else
    ip->ovf_head = c;
  ip->ovf_tail = c;
  ip->ovf_count++;
}

void ew__io_push_ctrl(ew__io_t *io, uint32_t port, uint16_t kind, uint64_t conn, uint32_t type,
                      uint32_t seq, const void *body, uint32_t len) {
  ew__io_port_t *ip = &io->ports[port];
  ew_rec_t *rec = NULL;
  /* Order matters (an OPEN must precede the connection's first DATA, a CLOSE follow its
   * last), so once anything waits in the overflow list everything after it waits too. */
  if (ip->ovf_head == NULL && !ip->landing) rec = ew_ring_reserve(&ip->prod, len);
  if (rec != NULL) {
    rec->kind = kind;
    rec->flags = 0;
    rec->conn = conn;
    rec->type = type;
    rec->seq = seq;
    if (len) memcpy(rec + 1, body, len);
    ip->dirty = true;
    return;
  }
  ew__ctrl_t *c = malloc(sizeof *c + len);
  if (c == NULL) {
    /* Out of memory for a few dozen bytes: nothing sensible is left to do, and a lost CLOSE
     * would leave JavaScript holding a dead connection forever. */
    EW_LOG_ERROR(io->rt, "out of memory queueing a control record; aborting");
    abort();
  }
  c->rec.len = len;
  c->rec.kind = kind;
  c->rec.flags = 0;
  c->rec.conn = conn;
  c->rec.type = type;
  c->rec.seq = seq;
  if (len) memcpy(&c->rec + 1, body, len);
  ovf_append(ip, c);
  ew_ring_wait_space(&ip->prod, ip->prod.max_body);
}

void ew__io_port_drop(ew__io_port_t *ip) {
  while (ip->ovf_head != NULL) {
    ew__ctrl_t *c = ip->ovf_head;
    ip->ovf_head = c->next;
    free(c);
  }
  ip->ovf_tail = NULL;
  ip->ovf_count = 0;
  ew_ring_publish(&ip->prod);
  ip->dirty = false;
}

/* Moves queued control records into the ring as room appears. */
static void ovf_flush(ew__io_port_t *ip) {
  while (ip->ovf_head != NULL) {
    ew__ctrl_t *c = ip->ovf_head;
    ew_rec_t *rec = ew_ring_reserve(&ip->prod, c->rec.len);
    if (rec == NULL) {
      if (ew_ring_wait_space(&ip->prod, c->rec.len)) continue;
      return;
    }
    memcpy(rec, &c->rec, sizeof c->rec + c->rec.len);
    ip->dirty = true;
    ip->ovf_head = c->next;
    if (ip->ovf_head == NULL) ip->ovf_tail = NULL;
    ip->ovf_count--;
    free(c);
  }
}

/* Publishes what this round produced and wakes sleeping consumers; resumes connections that
 * waited for room once a maximal record fits again (not at the first free byte, which would
 * make them bounce between blocked and ready). */
static void io_flush(ew__io_t *io) {
  for (uint32_t j = 0; j < io->rt->nports; j++) {
    ew__io_port_t *ip = &io->ports[j];
    if (ip->ovf_head != NULL) ovf_flush(ip);
    if (ip->ovf_head == NULL && !TAILQ_EMPTY(&ip->blocked) &&
        ew_ring_wait_space(&ip->prod, ip->prod.max_body)) {
      ew__conn_t *c;
      while ((c = TAILQ_FIRST(&ip->blocked)) != NULL) {
        TAILQ_REMOVE(&ip->blocked, c, blocked_link);
        c->flags &= ~C_BLOCKED;
        if (!(c->flags & C_ON_READY)) {
          c->flags |= C_ON_READY;
          TAILQ_INSERT_TAIL(&io->ready, c, ready_link);
        }
      }
    }
    if (ip->dirty) {
      ip->dirty = false;
      if (ew_ring_publish(&ip->prod)) ew__port_notify(ip->port);
    }
  }
}

/* ---- the loop ------------------------------------------------------------------------------- */

static void on_inbox(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ew__io_t *io = arg;
  ew__inbox_rearm(&io->inbox);
}

static void run_listen(ew__io_t *io, ew__cmd_listen_t *cmd) {
  ew__listener_t *l = calloc(1, sizeof *l);
  if (l != NULL) {
    l->srv = cmd->srv;
    l->io = io;
    l->fd = cmd->fd;
    l->ev = event_new(io->base, l->fd, EV_READ | EV_PERSIST | EV_ET, ew__listener_on_event, l);
  }
  if (l == NULL || l->ev == NULL || event_add(l->ev, NULL) != 0) {
    EW_LOG_ERROR(io->rt, "server %u: cannot watch its listening socket on IO thread %u",
                 cmd->srv->id, io->index);
    if (l != NULL && l->ev != NULL) event_free(l->ev);
    free(l);
    close(cmd->fd);
    ew__server_t *srv = cmd->srv;
    if (atomic_fetch_sub(&srv->open_fds, 1) == 1)
      ew__io_push_ctrl(io, srv->o.owner_port, EW_REC_UNLISTEN, 0, srv->id, 0, NULL, 0);
    ew__server_unref(srv);
    return;
  }
  TAILQ_INSERT_TAIL(&io->listeners, l, link);
  /* Connections may have queued between listen() on the caller's thread and now; the edge
   * for them happened before we watched the socket, so look once. */
  ew__listener_accept(l);
}

static void run_unlisten(ew__io_t *io, ew__server_t *srv) {
  ew__listener_t *l, *next;
  for (l = TAILQ_FIRST(&io->listeners); l != NULL; l = next) {
    next = TAILQ_NEXT(l, link);
    if (l->srv == srv) ew__listener_close(l);
  }
  ew__server_unref(srv); /* the command's reference */
}

int ew__io_adopt(ew_runtime_t *rt, uint32_t io, int fd, ew__profile_t *prof) {
  if (io >= rt->nio) return EW_EINVAL;
  ew__cmd_conn_t *cmd = calloc(1, sizeof *cmd);
  if (cmd == NULL) return EW_ENOMEM;
  cmd->addrlen = sizeof cmd->addr;
  if (getpeername(fd, (struct sockaddr *)&cmd->addr, &cmd->addrlen) != 0) {
    int err = ew_translate_sys_error(errno);
    free(cmd);
    return err;
  }
  cmd->base.kind = EW__CMD_CONN;
  cmd->fd = fd;
  cmd->srv = NULL;
  cmd->prof = prof;
  /* Counted as the acceptor counts its connections, so that ew__conn_adopt's books balance. */
  atomic_fetch_add_explicit(&rt->io[io].live, 1, memory_order_relaxed);
  ew__io_post(&rt->io[io], &cmd->base);
  return 0;
}

void ew__io_run_inbox(ew__io_t *io) {
  ew__cmd_t *cmd;
  while ((cmd = ew__inbox_pop(&io->inbox)) != NULL) {
    switch (cmd->kind) {
    case EW__CMD_CONN: {
      ew__cmd_conn_t *c = (ew__cmd_conn_t *)cmd;
      ew__profile_t *prof = c->srv != NULL ? &c->srv->prof : c->prof;
      if (io->stopping) {
        close(c->fd);
        prof->release(prof);
      } else {
        ew__conn_adopt(io, c->fd, prof, c->srv, (struct sockaddr *)&c->addr, c->addrlen);
      }
      break;
    }
    case EW__CMD_LISTEN: {
      ew__cmd_listen_t *c = (ew__cmd_listen_t *)cmd;
      if (io->stopping) {
        close(c->fd);
        ew__server_unref(c->srv);
      } else {
        run_listen(io, c);
      }
      break;
    }
    case EW__CMD_UNLISTEN: {
      ew__cmd_listen_t *c = (ew__cmd_listen_t *)cmd;
      run_unlisten(io, c->srv);
      break;
    }
    case EW__CMD_STOP:
      io->stopping = true;
      break;
    case EW__CMD_LIMITS:
      ew__guard_run_limits(io, (ew__cmd_limits_t *)cmd);
      break;
    case EW__CMD_BAN:
      ew__conn_run_ban(io, (ew__cmd_ban_t *)cmd);
      break;
    case EW__CMD_DIAL:
    case EW__CMD_LINK_CLOSE:
      ew__link_command(io, cmd);
      break;
    case EW__CMD_PORT_RESET: {
      ew__cmd_port_t *c = (ew__cmd_port_t *)cmd;
      ew__port_reset_run(io, c->port, c->reason);
      break;
    }
    case EW__CMD_UDP_OPEN:
      ew__udp_run_open(io, (ew__cmd_udp_t *)cmd);
      break;
    case EW__CMD_UDP_CLOSE:
      ew__udp_run_close(io, ((ew__cmd_udp_t *)cmd)->srv);
      break;
    default:
      EW_LOG_ERROR(io->rt, "IO thread %u: unknown command %d", io->index, cmd->kind);
      break;
    }
    free(cmd);
  }
}

/* One round for every connection that stopped on its read budget last round (or was
 * unblocked). The list is detached first, so a connection that spends its budget again goes
 * to the back of the next round, after one poll: that is what keeps a flooding connection from
 * starving the others. */
static void run_ready(ew__io_t *io) {
  TAILQ_HEAD(, ew__conn_s) round;
  TAILQ_INIT(&round);
  TAILQ_CONCAT(&round, &io->ready, ready_link);
  ew__conn_t *c;
  while ((c = TAILQ_FIRST(&round)) != NULL) {
    TAILQ_REMOVE(&round, c, ready_link);
    c->flags &= ~C_ON_READY;
    ew__conn_pump(c);
  }
  TAILQ_HEAD(, ew__listener_s) lround;
  TAILQ_INIT(&lround);
  TAILQ_CONCAT(&lround, &io->ready_listeners, ready_link);
  ew__listener_t *l;
  while ((l = TAILQ_FIRST(&lround)) != NULL) {
    TAILQ_REMOVE(&lround, l, ready_link);
    l->on_ready = false;
    ew__listener_accept(l);
  }
}

/* ---- connection timeouts -------------------------------------------------------------- */

#define TICK_MS 50

static void on_tick(evutil_socket_t fd, short what, void *arg);

static void ensure_tick(ew__io_t *io) {
  if (io->tick_armed || io->tick_ev == NULL) return;
  struct timeval tv = {.tv_sec = 0, .tv_usec = TICK_MS * 1000};
  if (evtimer_add(io->tick_ev, &tv) == 0) io->tick_armed = true;
}

void ew__io_arm(ew__io_t *io, ew__tnode_t *n, uint32_t ms) {
  if (ms == 0) {
    ew__tnode_disarm(n);
    return;
  }
  ew__tlist_t *l = NULL;
  for (uint32_t i = 0; i < io->ntlists; i++)
    if (io->tlists[i].duration_ms == ms) l = &io->tlists[i];
  if (l == NULL) {
    if (io->ntlists == sizeof io->tlists / sizeof io->tlists[0]) {
      /* More distinct timeout values on one thread than lists: share the closest shorter one
       * (a connection then times out early, never late). */
      for (uint32_t i = 0; i < io->ntlists; i++)
        if (io->tlists[i].duration_ms < ms &&
            (l == NULL || io->tlists[i].duration_ms > l->duration_ms))
          l = &io->tlists[i];
      if (l == NULL) l = &io->tlists[0];
    } else {
      l = &io->tlists[io->ntlists++];
      ew__tlist_init(l, ms);
    }
  }
  ew__tnode_arm(n, l, ew__now_ms());
  ensure_tick(io);
}

/* Sweeps every timeout list from its head: O(expired), whatever the number of connections. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ew__io_t *io = arg;
  io->tick_armed = false;
  uint64_t now = ew__now_ms();
  bool any = false;
  for (uint32_t i = 0; i < io->ntlists; i++) {
    ew__tlist_t *l = &io->tlists[i];
    ew__tnode_t *n;
    while ((n = ew__tlist_expired(l, now)) != NULL) {
      ew__tnode_disarm(n);
      if (n->tag == 3) {
        /* A handshake's deadline (tls.c, codec_crypt.c). */
        ew__conn_handshake_timeout((ew__conn_t *)((char *)n - offsetof(ew__conn_t, thand)));
        continue;
      }
      ew__conn_t *c = n->tag == 1 ? (ew__conn_t *)((char *)n - offsetof(ew__conn_t, tprog))
                                  : (ew__conn_t *)((char *)n - offsetof(ew__conn_t, tidle));
      if (c->flags & C_LINGER)
        ew__conn_linger_timeout(c);
      else if (c->flags & C_PAUSED)
        /* JavaScript paused reading: the peer cannot be late, so its timeout starts again. */
        ew__tnode_arm(n, l, now);
      else
        ew__conn_timeout(c, n->tag == 1);
    }
    if (!ew__tlist_empty(l)) any = true;
  }
  if (any) ensure_tick(io);
}

/* ---- response rate ------------------------------------------------------------------------ */

#define THROTTLE_MS 10

static void on_throttle(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ew__io_t *io = arg;
  io->throttle_armed = false;
  ew__conn_on_throttle(io);
}

void ew__io_throttle_arm(ew__io_t *io) {
  if (io->throttle_armed || io->throttle_ev == NULL) return;
  struct timeval tv = {.tv_sec = 0, .tv_usec = THROTTLE_MS * 1000};
  if (evtimer_add(io->throttle_ev, &tv) == 0) io->throttle_armed = true;
}

void ew__io_listener_ready(ew__io_t *io, ew__listener_t *l) {
  if (l->on_ready) return;
  l->on_ready = true;
  TAILQ_INSERT_TAIL(&io->ready_listeners, l, ready_link);
}

/* After a storm the connections' buffers are freed into this thread's malloc arena, which glibc
 * does not give back to the kernel on its own (only the main heap's top is trimmed), so RSS
 * would stay at the storm's high-water mark. When the thread is about to sleep and has lost
 * half of its peak connections, it returns its free pages, at most once a second. */
static void maybe_trim(ew__io_t *io) {
  uint32_t live = atomic_load_explicit(&io->live, memory_order_relaxed);
  if (live > io->live_peak) io->live_peak = live;
#ifdef __GLIBC__
  if (io->live_peak < 32 || live * 2 > io->live_peak) return;
  uint64_t now = ew__coarse_ms();
  if (now - io->trimmed_ms < 1000) return;
  io->trimmed_ms = now;
  io->live_peak = live;
  malloc_trim(0);
#endif
}

/* Work that must not wait for an epoll event: commands, records from ports, and blocked
 * connections whose ring has room again. Checked after the sleeping mark is set, which is what
 * makes a port's kick impossible to miss. */
static bool has_work(ew__io_t *io) {
  if (ew__inbox_pending(&io->inbox)) return true;
  if (ew__udp_has_work(io)) return true;
  for (uint32_t j = 0; j < io->rt->nports; j++) {
    ew__io_port_t *ip = &io->ports[j];
    uint32_t tail = atomic_load_explicit(
        (_Atomic uint32_t *)((uint8_t *)ip->cons.ring + EW_RING_OFF_TAIL), memory_order_acquire);
    if (tail != ip->cons.head) return true;
    if ((ip->ovf_head != NULL || !TAILQ_EMPTY(&ip->blocked)) &&
        ew_ring_wait_space(&ip->prod, ip->prod.max_body))
      return true;
  }
  return false;
}

static void io_shutdown(ew__io_t *io) {
  ew__listener_t *l;
  while ((l = TAILQ_FIRST(&io->listeners)) != NULL) {
    TAILQ_REMOVE(&io->listeners, l, link);
    if (l->on_ready) TAILQ_REMOVE(&io->ready_listeners, l, ready_link);
    event_free(l->ev);
    close(l->fd);
    ew__server_unref(l->srv);
    free(l);
  }
  for (uint32_t s = 0; s < io->slot_hwm; s++)
    if (io->conns[s] != NULL) ew__conn_free_silently(io->conns[s]);
  ew__dial_drop_all(io);
  ew__udp_shutdown(io);
  /* Commands that raced with STOP still own file descriptors and references. */
  ew__io_run_inbox(io);
  for (uint32_t j = 0; j < io->rt->nports; j++)
    ew__io_port_drop(&io->ports[j]);
  if (io->inbox_ev != NULL) event_free(io->inbox_ev);
  io->inbox_ev = NULL;
  if (io->tick_ev != NULL) event_free(io->tick_ev);
  io->tick_ev = NULL;
  if (io->throttle_ev != NULL) event_free(io->throttle_ev);
  io->throttle_ev = NULL;
  if (io->base != NULL) event_base_free(io->base);
  io->base = NULL;
  if (io->reserve_fd >= 0) close(io->reserve_fd);
  io->reserve_fd = -1;
}

static int io_setup(ew__io_t *io) {
  if (io->cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(io->cpu, &set);
    int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (err != 0) {
      EW_LOG_ERROR(io->rt, "IO thread %u: cannot pin to CPU %d: %s", io->index, io->cpu,
                   strerror(err));
      return ew_translate_sys_error(err);
    }
  }
  /* event_config, answered from libevent 2.1.12's source (docs/protocol.md): edge-triggered
   * required; NOLOCK because a base is only ever touched by its own thread; IGNORE_ENV so
   * EVENT_* variables cannot switch backends under us; no changelist (unsafe with dup'ed fds,
   * little gain with long-lived ET registrations); one priority; no signal events. */
  struct event_config *cfg = event_config_new();
  if (cfg == NULL) return EW_ENOMEM;
  event_config_require_features(cfg, EV_FEATURE_ET | EV_FEATURE_O1);
  event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK | EVENT_BASE_FLAG_IGNORE_ENV);
  io->base = event_base_new_with_config(cfg);
  event_config_free(cfg);
  if (io->base == NULL) {
    EW_LOG_ERROR(io->rt, "IO thread %u: no event backend with edge-triggered O(1) events",
                 io->index);
    return EW_ENOSYS;
  }
  io->inbox_ev = event_new(io->base, io->inbox.efd, EV_READ | EV_PERSIST, on_inbox, io);
  if (io->inbox_ev == NULL || event_add(io->inbox_ev, NULL) != 0) return EW_ENOMEM;
  /* The timeout sweep: armed only while some connection has a timeout running. */
  io->tick_ev = evtimer_new(io->base, on_tick, io);
  if (io->tick_ev == NULL) return EW_ENOMEM;
  io->throttle_ev = evtimer_new(io->base, on_throttle, io);
  if (io->throttle_ev == NULL) return EW_ENOMEM;
  /* EMFILE reserve: see ew__listener_accept(). */
  io->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return 0;
}

/* One round of the loop's own work, between two looks at the sockets: commands, records from
 * the ports, the connections ready to read, UDP, and publishing. false once told to stop. */
static bool io_round(ew__io_t *io) {
  ew_runtime_t *rt = io->rt;
  EW__STAT(io, loops)++;
  ew__io_run_inbox(io);
  if (io->stopping) return false;
  for (uint32_t j = 0; j < rt->nports; j++)
    ew__conn_consume_out(io, j);
  run_ready(io);
  ew__udp_run(io);
  io_flush(io);
  return true;
}

/* Whether the next look at the sockets must not wait: connections or listeners left with
 * work by their read budget, or work that arrived without an epoll event. Otherwise the
 * thread is marked sleeping first, which is what makes a port's kick impossible to miss. */
/* Connections, listeners or UDP sockets left with work by their read budget. */
static bool has_ready(ew__io_t *io) {
  return !TAILQ_EMPTY(&io->ready) || !TAILQ_EMPTY(&io->ready_listeners) || ew__udp_ready(io);
}

static bool io_busy(ew__io_t *io) {
  if (has_ready(io)) return true;
  atomic_store_explicit(io->sleeping, 1, memory_order_seq_cst);
  atomic_thread_fence(memory_order_seq_cst);
  return has_work(io);
}

/* ---- inline mode ----------------------------------------------------------------------------- */

/* libevent 2.1 does not say which epoll fd a base uses. The kernel does: /proc/self/fdinfo of
 * an epoll fd lists the fds registered in it ("tfd: N"), and the inbox eventfd, registered
 * just before, is in exactly one of them. Read once at start. */
static int find_epoll_fd(int watched) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL) return -1;
  int found = -1;
  struct dirent *e;
  while (found < 0 && (e = readdir(d)) != NULL) {
    char *end;
    long fd = strtol(e->d_name, &end, 10);
    if (*end != '\0' || end == e->d_name || fd < 0 || fd > INT32_MAX) continue;
    char path[64], link[64];
    snprintf(path, sizeof path, "/proc/self/fd/%ld", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0) continue;
    link[n] = '\0';
    if (strcmp(link, "anon_inode:[eventpoll]") != 0) continue;
    snprintf(path, sizeof path, "/proc/self/fdinfo/%ld", fd);
    FILE *f = fopen(path, "re");
    if (f == NULL) continue;
    char line[256];
    while (fgets(line, sizeof line, f) != NULL) {
      int tfd;
      if (sscanf(line, "tfd: %d", &tfd) == 1 && tfd == watched) {
        found = (int)fd;
        break;
      }
    }
    fclose(f);
  }
  closedir(d);
  return found;
}

int ew__io_inline_setup(ew__io_t *io) {
  io->tid = (int)syscall(SYS_gettid);
  io->cpu = -1; /* the owner's thread is the owner's to pin */
  io->start_err = io_setup(io);
  if (io->start_err == 0) {
    io->inline_fd = find_epoll_fd(io->inbox.efd);
    if (io->inline_fd < 0) {
      EW_LOG_ERROR(io->rt, "inline IO: cannot find the event loop's epoll fd in /proc/self");
      io->start_err = EW_ENOSYS;
    }
  }
  if (io->start_err != 0) io_shutdown(io);
  return io->start_err;
}

static void inline_close(ew__io_t *io) {
  io_shutdown(io);
  ew__mem_thread_flush();
  io->inline_fd = -1;
  ew__runtime_thread_exited(io->rt);
}

void ew__io_inline_finish(ew__io_t *io) {
  if (io->base == NULL) return;
  ew__io_t *saved = ew__tls_io;
  ew__tls_io = io;
  io->stopping = true;
  inline_close(io);
  ew__tls_io = saved;
}

int64_t ew__event_due_ms(const struct event *ev, const struct timeval *now) {
  struct timeval tv;
  if (ev == NULL || !event_pending(ev, EV_TIMEOUT, &tv)) return -1;
  int64_t ms = ((int64_t)tv.tv_sec - now->tv_sec) * 1000 + (tv.tv_usec - now->tv_usec + 999) / 1000;
  return ms < 0 ? 0 : ms; /* overdue (not run yet) is due now; -1 means "no timer" */
}

/* The earlier of two due times, -1 standing for "none". */
static int64_t earlier(int64_t a, int64_t b) {
  return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

/* Milliseconds until the loop's next timer: the timeout sweep, the response-rate tick and the
 * connection attempts' deadlines are the only timers an IO loop arms. */
static int32_t inline_next_ms(ew__io_t *io) {
  struct timeval now;
  event_base_gettimeofday_cached(io->base, &now);
  int64_t best = io->tick_armed ? ew__event_due_ms(io->tick_ev, &now) : -1;
  if (io->throttle_armed) best = earlier(best, ew__event_due_ms(io->throttle_ev, &now));
  best = earlier(best, ew__dial_next_ms(io, &now));
  if (best < 0) return -1;
  return best < 1 ? 1 : best > INT32_MAX ? INT32_MAX : (int32_t)best;
}

int ew_runtime_inline_fd(const ew_runtime_t *rt) {
  return rt->nio == 1 && rt->io[0].inline_io ? rt->io[0].inline_fd : -1;
}

int ew_runtime_inline_run(ew_runtime_t *rt, int flags, int32_t *next_ms) {
  *next_ms = -1;
  if (rt->nio != 1 || !rt->io[0].inline_io) return EW_ESTATE;
  ew__io_t *io = &rt->io[0];
  if (io->base == NULL) return EW_INLINE_STOPPED;
  ew__io_t *saved = ew__tls_io;
  ew__tls_io = io;
  int ret;
  if (io->stopping) {
    /* The owner stopped polling the fd after EW_INLINE_STOPPING: close everything now. */
    inline_close(io);
    ret = EW_INLINE_STOPPED;
  } else {
    atomic_store_explicit(io->sleeping, 0, memory_order_relaxed);
    if (!(flags & EW_INLINE_NO_POLL)) event_base_loop(io->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    if (!io_round(io)) {
      ret = EW_INLINE_STOPPING;
    } else {
      /* The sleeping mark stays set until the next round: while the owner runs its own
       * work, other threads' kicks go through the inbox eventfd. */
      ret = io_busy(io) ? EW_INLINE_MORE : EW_INLINE_IDLE;
      if (ret == EW_INLINE_IDLE) maybe_trim(io);
      *next_ms = inline_next_ms(io);
    }
  }
  ew__tls_io = saved;
  return ret;
}

/* The spin's test for work: the rings and the inbox every time, the sockets (a non-blocking
 * look, which runs their callbacks) every few times. */
static int io_spin_ready(void *arg) {
  ew__io_t *io = arg;
  if (has_work(io)) return 1;
  if (++io->spin_polls % 8 != 0) return 0;
  /* An epoll fd polls readable while events wait in it; poll() consumes none of them. */
  struct pollfd pfd = {.fd = io->spin_fd, .events = POLLIN};
  return poll(&pfd, 1, 0) > 0;
}

/* Before blocking: a short spin, while ew_spin_t says spins pay (ew/runtime.h). The thread is
 * not marked sleeping meanwhile, so a port that publishes sends does not write the eventfd.
 * true when it found work. */
static bool io_spin(ew__io_t *io) {
  if (!io->spin.armed || has_ready(io)) return false;
  /* Work already there is not a spin's catch (io_busy finds it without one). */
  if (has_work(io)) return true;
  io->spin_polls = 0;
  int hit = ew_spin_run(&io->spin, io_spin_ready, io);
  EW__STAT(io, spins) = io->spin.spins;
  EW__STAT(io, spin_hits) = io->spin.hits;
  return hit != 0;
}

void *ew__io_main(void *arg) {
  ew__io_t *io = arg;
  ew_runtime_t *rt = io->rt;
  ew__tls_io = io;
  io->tid = (int)syscall(SYS_gettid);
  io->start_err = io_setup(io);

  pthread_mutex_lock(&rt->lock);
  rt->ready_count++;
  pthread_cond_broadcast(&rt->cond);
  pthread_mutex_unlock(&rt->lock);
  if (io->start_err != 0) {
    io_shutdown(io);
    ew__tls_io = NULL;
    return NULL;
  }

  io->spin_fd = rt->o.spin_us != 0 ? find_epoll_fd(io->inbox.efd) : -1;
  if (rt->o.spin_us != 0 && io->spin_fd < 0)
    EW_LOG_WARN(rt, "IO thread %u: cannot find its epoll fd in /proc/self; not spinning",
                io->index);
  ew_spin_init(&io->spin, io->spin_fd >= 0 ? rt->o.spin_us : 0);
  while (!io->stopping) {
    if (!io_round(io)) break;
    int flags = EVLOOP_ONCE;
    bool slept = false;
    if (io_spin(io) || io_busy(io)) {
      flags |= EVLOOP_NONBLOCK;
    } else {
      slept = true;
      maybe_trim(io);
      ew_spin_sleep(&io->spin);
    }
    event_base_loop(io->base, flags);
    atomic_store_explicit(io->sleeping, 0, memory_order_relaxed);
    if (slept) {
      EW__STAT(io, wakeups)++;
      ew_spin_woke(&io->spin);
    }
  }

  io_shutdown(io);
  ew__mem_thread_flush();
  ew__tls_io = NULL;
  ew__runtime_thread_exited(rt);
  return NULL;
}
