// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Outbound connections (links). A link is a profile for the connections it makes (codec,
 * limits, watermarks) and the port they are bound to; JavaScript drives it (lib/link.ts: name
 * resolution, reconnect and backoff, the queue while down) and asks for one attempt at a time.
 * An attempt runs on an IO thread: non-blocking connects to each address in turn, each with a
 * share of the time left; the first that connects becomes a connection like an accepted one
 * (OPEN, the same codecs, guard and records), with no listener behind it. */

struct ew__dial_s {
  ew__link_t *link; /* holds a reference */
  ew__io_t *io;
  int fd;
  uint32_t idx, n;
  uint32_t timeout_ms;
  uint64_t deadline_ms;
  int last_err, last_sys;
  struct event *ev;
  TAILQ_ENTRY(ew__dial_s) link_q; /* io->dials */
  struct sockaddr_storage addrs[EW_LINK_MAX_ADDRS];
  socklen_t lens[EW_LINK_MAX_ADDRS];
};

/* EW__CMD_DIAL (dial set) and EW__CMD_LINK_CLOSE (link set, with a reference). */
typedef struct ew__cmd_link_s {
  ew__cmd_t base;
  ew__link_t *link;
  ew__dial_t *dial;
} ew__cmd_link_t;

/* ---- the link object --------------------------------------------------------------------------
 */

void ew__link_unref(ew__link_t *l) {
  if (atomic_fetch_sub(&l->refs, 1) != 1) return;
  ew__profile_destroy(&l->prof);
  free(l);
}

static void link_prof_release(ew__profile_t *p) {
  ew__link_unref((ew__link_t *)((char *)p - offsetof(ew__link_t, prof)));
}

int ew_link_open(ew_runtime_t *rt, const ew_listen_opts_t *o, uint32_t *id) {
  if (atomic_load(&rt->state) != EW__RT_RUNNING) return EW_ESTATE;
  if (o == NULL || id == NULL || o->owner_port >= rt->nports || o->limits.window_ms == 0 ||
      o->low_watermark > o->high_watermark || o->high_watermark > o->max_buffered)
    return EW_EINVAL;
  ew__link_t *l = calloc(1, sizeof *l);
  if (l == NULL) return EW_ENOMEM;
  int err = ew__profile_init(&l->prof, o, rt->nio, true);
  if (err != 0) {
    free(l);
    return err;
  }
  /* Its connections go to its port, whatever the binding policy says. */
  l->prof.bind = EW_BIND_ROUND_ROBIN;
  l->prof.bind_ports = o->owner_port < 64 ? 1ull << o->owner_port : 0;
  l->prof.release = link_prof_release;
  l->rt = rt;
  l->port = o->owner_port;
  atomic_store(&l->refs, 1);
  pthread_mutex_lock(&rt->lock);
  ew__link_t **grown = realloc(rt->links, (rt->nlinks + 1) * sizeof *grown);
  if (grown == NULL) {
    pthread_mutex_unlock(&rt->lock);
    ew__link_unref(l);
    return EW_ENOMEM;
  }
  rt->links = grown;
  l->prof.id = rt->next_server_id++;
  rt->links[rt->nlinks++] = l;
  pthread_mutex_unlock(&rt->lock);
  *id = l->prof.id;
  return 0;
}

/* Finds link `id` and takes a reference; `remove` also takes it out of the table (whose
 * reference the caller then owns as well). */
static ew__link_t *find_link(ew_runtime_t *rt, uint32_t id, bool remove) {
  ew__link_t *l = NULL;
  pthread_mutex_lock(&rt->lock);
  for (uint32_t i = 0; i < rt->nlinks; i++) {
    if (rt->links[i]->prof.id != id) continue;
    l = rt->links[i];
    if (remove)
      rt->links[i] = rt->links[--rt->nlinks];
    else
      atomic_fetch_add(&l->refs, 1);
    break;
  }
  pthread_mutex_unlock(&rt->lock);
  return l;
}

static int parse_addr(const char *text, uint16_t port, struct sockaddr_storage *ss,
                      socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof *a4;
    return 0;
  }
  if (inet_pton(AF_INET6, text, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *len = sizeof *a6;
    return 0;
  }
  return EW_EINVAL;
}

int ew_link_connect(ew_runtime_t *rt, uint32_t id, const char *const *addrs, uint32_t naddrs,
                    uint16_t port, uint32_t timeout_ms, uint32_t io) {
  if (atomic_load(&rt->state) != EW__RT_RUNNING) return EW_ESTATE;
  if (addrs == NULL || naddrs == 0 || naddrs > EW_LINK_MAX_ADDRS || port == 0) return EW_EINVAL;
  ew__dial_t *d = calloc(1, sizeof *d);
  ew__cmd_link_t *cmd = calloc(1, sizeof *cmd);
  if (d == NULL || cmd == NULL) {
    free(d);
    free(cmd);
    return EW_ENOMEM;
  }
  for (uint32_t i = 0; i < naddrs; i++) {
    if (addrs[i] == NULL || parse_addr(addrs[i], port, &d->addrs[i], &d->lens[i]) != 0) {
      free(d);
      free(cmd);
      return EW_EINVAL;
    }
  }
  ew__link_t *l = find_link(rt, id, false);
  if (l == NULL) {
    free(d);
    free(cmd);
    return EW_ENOENT;
  }
  cmd->base.kind = EW__CMD_DIAL;
  cmd->dial = d;
  d->link = l;
  d->n = naddrs;
  d->fd = -1;
  d->timeout_ms = timeout_ms;
  d->io = &rt->io[io % rt->nio];
  ew__io_post(d->io, &cmd->base);
  return 0;
}

int ew_link_close(ew_runtime_t *rt, uint32_t id) {
  ew__link_t *l = find_link(rt, id, true);
  if (l == NULL) return EW_ENOENT;
  atomic_store(&l->closed, 1);
  /* Each IO thread abandons the link's attempts in flight; the table's reference goes with the
   * last command (or here, if the runtime no longer runs: its threads free what they hold). */
  if (atomic_load(&rt->state) == EW__RT_RUNNING) {
    for (uint32_t k = 0; k < rt->nio; k++) {
      ew__cmd_link_t *cmd = calloc(1, sizeof *cmd);
      if (cmd == NULL) break; /* the closed flag still stops its attempts at their next step */
      cmd->base.kind = EW__CMD_LINK_CLOSE;
      cmd->link = l;
      atomic_fetch_add(&l->refs, 1);
      ew__io_post(&rt->io[k], &cmd->base);
    }
  }
  ew__link_unref(l);
  return 0;
}

/* ---- attempts, on the IO thread ------------------------------------------------------------- */

static void dial_free(ew__dial_t *d) {
  if (d->ev != NULL) event_free(d->ev);
  if (d->fd >= 0) close(d->fd);
  TAILQ_REMOVE(&d->io->dials, d, link_q);
  ew__link_unref(d->link);
  free(d);
}

static void dial_fail(ew__dial_t *d) {
  ew__io_t *io = d->io;
  ew__link_t *l = d->link;
  struct {
    uint32_t sys_errno, tried;
  } body = {(uint32_t)d->last_sys, d->idx};
  EW_LOG_DEBUG(io->rt, "link %u: connection attempt failed: %s", l->prof.id,
               ew_err_name(d->last_err));
  if (!atomic_load(&l->closed))
    ew__io_push_ctrl(io, l->port, EW_REC_LINK_FAIL, 0, l->prof.id, (uint32_t)d->last_err, &body,
                     sizeof body);
  dial_free(d);
}

/* A socket connected to itself: on loopback the kernel may pick the peer's port as the source
 * port of a connect to a port nobody listens on (a backend that is down), and the socket then
 * talks to itself. Taken as refused (as Go's net package does). */
static bool self_connected(int fd) {
  struct sockaddr_storage a, b;
  socklen_t al = sizeof a, bl = sizeof b;
  if (getsockname(fd, (struct sockaddr *)&a, &al) != 0 ||
      getpeername(fd, (struct sockaddr *)&b, &bl) != 0)
    return false;
  return al == bl && memcmp(&a, &b, al) == 0;
}

static void dial_connected(ew__dial_t *d) {
  ew__io_t *io = d->io;
  ew__link_t *l = d->link;
  int fd = d->fd;
  struct sockaddr_storage peer = d->addrs[d->idx];
  socklen_t len = d->lens[d->idx];
  if (atomic_load(&l->closed)) {
    /* Closed while connecting: nobody wants this connection (dial_free closes it). */
    dial_free(d);
    return;
  }
  d->fd = -1;
  uint32_t port = l->port, id = l->prof.id;
  /* The attempt's reference to the link becomes the connection's; one more keeps the link
   * while a refusal is reported. */
  atomic_fetch_add(&l->refs, 2);
  dial_free(d);
  atomic_fetch_add_explicit(&io->live, 1, memory_order_relaxed);
  int err = ew__conn_adopt(io, fd, &l->prof, NULL, (struct sockaddr *)&peer, len);
  if (err != 0 && !atomic_load(&l->closed)) {
    /* Connected, but this IO thread could not take it (no slot, no port, no memory): the
     * attempt failed, and the link hears so, as for any failed attempt. */
    struct {
      uint32_t sys_errno, tried;
    } body = {0, 1};
    ew__io_push_ctrl(io, port, EW_REC_LINK_FAIL, 0, id, (uint32_t)err, &body, sizeof body);
  }
  ew__link_unref(l);
}

static void dial_next(ew__dial_t *d);

static void on_dial(evutil_socket_t fd, short what, void *arg) {
  ew__dial_t *d = arg;
  event_free(d->ev);
  d->ev = NULL;
  if (what & EV_TIMEOUT) {
    d->last_err = EW_ETIMEDOUT;
    d->last_sys = ETIMEDOUT;
  } else {
    int e = 0;
    socklen_t el = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0) e = errno;
    if (e == 0 && self_connected(fd)) e = ECONNREFUSED;
    if (e == 0) {
      dial_connected(d);
      return;
    }
    d->last_err = ew_translate_sys_error(e);
    d->last_sys = e;
  }
  close(d->fd);
  d->fd = -1;
  d->idx++;
  dial_next(d);
}

/* Tries the addresses from d->idx on: a connect that completes at once becomes the connection,
 * one in progress waits for the socket to become writable (or its share of the time). */
static void dial_next(ew__dial_t *d) {
  ew__io_t *io = d->io;
  while (d->idx < d->n) {
    if (atomic_load(&d->link->closed)) {
      dial_free(d);
      return;
    }
    uint64_t now = ew__now_ms();
    uint32_t share = 0;
    if (d->timeout_ms != 0) {
      if (now >= d->deadline_ms) {
        d->last_err = EW_ETIMEDOUT;
        d->last_sys = ETIMEDOUT;
        break;
      }
      share = (uint32_t)((d->deadline_ms - now) / (d->n - d->idx));
      if (share == 0) share = 1;
    }
    const struct sockaddr_storage *sa = &d->addrs[d->idx];
    int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      d->last_sys = errno;
      d->last_err = ew_translate_sys_error(errno);
      d->idx++;
      continue;
    }
    d->fd = fd;
    int rc = connect(fd, (const struct sockaddr *)sa, d->lens[d->idx]);
    int ce = errno;
    if (rc == 0 && !self_connected(fd)) {
      dial_connected(d);
      return;
    }
    errno = rc == 0 ? ECONNREFUSED : ce;
    if (errno == EINPROGRESS) {
      d->ev = event_new(io->base, fd, EV_WRITE, on_dial, d);
      struct timeval tv = {.tv_sec = share / 1000, .tv_usec = (share % 1000) * 1000};
      if (d->ev != NULL && event_add(d->ev, share != 0 ? &tv : NULL) == 0) return;
      d->last_err = EW_ENOMEM;
      d->last_sys = ENOMEM;
    } else {
      d->last_sys = errno;
      d->last_err = ew_translate_sys_error(errno);
    }
    if (d->ev != NULL) event_free(d->ev);
    d->ev = NULL;
    close(fd);
    d->fd = -1;
    d->idx++;
  }
  dial_fail(d);
}

int64_t ew__dial_next_ms(ew__io_t *io, const struct timeval *now) {
  int64_t best = -1;
  ew__dial_t *d;
  TAILQ_FOREACH(d, &io->dials, link_q) {
    int64_t ms = ew__event_due_ms(d->ev, now);
    if (ms >= 0 && (best < 0 || ms < best)) best = ms;
  }
  return best;
}

static void dial_run(ew__io_t *io, ew__dial_t *d) {
  TAILQ_INSERT_TAIL(&io->dials, d, link_q);
  if (io->stopping) {
    dial_free(d);
    return;
  }
  d->deadline_ms = ew__now_ms() + d->timeout_ms;
  dial_next(d);
}

static void link_run_close(ew__io_t *io, ew__link_t *l) {
  ew__dial_t *d, *next;
  for (d = TAILQ_FIRST(&io->dials); d != NULL; d = next) {
    next = TAILQ_NEXT(d, link_q);
    if (d->link == l) dial_free(d);
  }
  ew__link_unref(l); /* the command's reference */
}

void ew__link_command(ew__io_t *io, ew__cmd_t *cmd) {
  ew__cmd_link_t *c = (ew__cmd_link_t *)cmd;
  if (cmd->kind == EW__CMD_DIAL)
    dial_run(io, c->dial);
  else
    link_run_close(io, c->link);
}

void ew__dial_drop_all(ew__io_t *io) {
  ew__dial_t *d;
  while ((d = TAILQ_FIRST(&io->dials)) != NULL)
    dial_free(d);
}
