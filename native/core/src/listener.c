// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void ew_listen_opts_init(ew_listen_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->backlog = 511;
  /* Round-robin: "accept distribution" -- exactly even connection counts like
   * least-connections, with no shared counter to read per accept; reusePort leaves the split
   * to the kernel's hash. */
  o->distribution = EW_DIST_ROUND_ROBIN;
  o->framing = EW_FRAMING_FRAMES;
  o->max_frame_bytes = 4u << 20;
  o->high_watermark = 256u << 10;
  o->low_watermark = 64u << 10;
  o->max_buffered = 16u << 20;
  o->no_delay = 1;
  /* HTTP limits: the values nginx and Node ship with, in the same spirit (16 KiB of headers as
   * Node, 1 MiB bodies as nginx's client_max_body_size, 60 s header and body timeouts as
   * nginx, 5 s keep-alive as Node's keepAliveTimeout). */
  o->http.max_header_bytes = 16u << 10;
  o->http.max_headers = 100;
  o->http.max_url_bytes = 8u << 10;
  o->http.max_body_bytes = 1u << 20;
  o->http.header_timeout_ms = 60000;
  o->http.body_timeout_ms = 60000;
  o->http.keepalive_timeout_ms = 5000;
  o->http.max_requests = 0;
  o->http.response_timeout_ms = 120000;
  ew_limits_init(&o->limits);
  o->max_tracked_ips = 65536;
}

static int translate_gai(int rc) {
  switch (rc) {
  case EAI_NONAME:
#ifdef EAI_NODATA
  case EAI_NODATA:
#endif
    return EW_EAI_NONAME;
  case EAI_AGAIN:
    return EW_EAI_AGAIN;
  case EAI_FAIL:
    return EW_EAI_FAIL;
  case EAI_FAMILY:
    return EW_EAFNOSUPPORT;
  case EAI_MEMORY:
    return EW_ENOMEM;
  case EAI_SYSTEM:
    return ew_translate_sys_error(errno);
  default:
    return EW_EAI_OTHER;
  }
}

static void set_port(struct sockaddr *sa, uint16_t port) {
  if (sa->sa_family == AF_INET6)
    ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
  else
    ((struct sockaddr_in *)sa)->sin_port = htons(port);
}

/* Opens one listening socket. SO_REUSEADDR always (as Node does), so a restart does not wait
 * out TIME_WAIT; the IPv6 wildcard is dual-stack unless the host said otherwise. */
static int open_listener(const struct sockaddr *sa, socklen_t len, const ew_listen_opts_t *o,
                         bool wildcard6, int *out) {
  int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ew_translate_sys_error(errno);
  int one = 1, zero = 0;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) goto fail;
  if (o->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) goto fail;
  if (wildcard6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) goto fail;
  if (bind(fd, sa, len) != 0) goto fail;
  if (listen(fd, o->backlog > 0 ? o->backlog : 511) != 0) goto fail;
  *out = fd;
  return 0;
fail:;
  int err = ew_translate_sys_error(errno);
  close(fd);
  return err;
}

static void fill_info(int fd, ew__server_t *srv, ew_listen_info_t *info) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(info, 0, sizeof *info);
  info->id = srv->id;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    info->family = 6;
    info->port = ntohs(a->sin6_port);
    inet_ntop(AF_INET6, &a->sin6_addr, info->address, sizeof info->address);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    info->family = 4;
    info->port = ntohs(a->sin_port);
    inet_ntop(AF_INET, &a->sin_addr, info->address, sizeof info->address);
  }
}

static int validate_listen(const ew_runtime_t *rt, const ew_listen_opts_t *o) {
  if (o->owner_port >= rt->nports) return EW_EINVAL;
  if (o->bind != EW_BIND_ROUND_ROBIN && o->bind != EW_BIND_LEAST_CONNS &&
      o->bind != EW_BIND_LEAST_BACKLOG)
    return EW_EINVAL;
  if (rt->nports < 64 && (o->bind_ports >> rt->nports) != 0) return EW_EINVAL;
  if (ew__codec_for(o->framing) == NULL) return EW_EINVAL; /* the codec registry decides */
  if (o->distribution != EW_DIST_ROUND_ROBIN && o->distribution != EW_DIST_LEAST_CONNS)
    return EW_EINVAL;
  if (o->low_watermark > o->high_watermark || o->high_watermark > o->max_buffered) return EW_EINVAL;
  if (o->limits.window_ms == 0) return EW_EINVAL;
  return 0;
}

static uint32_t listener_thread(const ew_runtime_t *rt, const ew__server_t *srv, int i) {
  return srv->o.reuse_port ? (uint32_t)i : srv->id % rt->nio;
}

int ew_listen(ew_runtime_t *rt, const ew_listen_opts_t *o, ew_listen_info_t *info) {
  if (atomic_load(&rt->state) != EW__RT_RUNNING) return EW_ESTATE;
  int err = validate_listen(rt, o);
  if (err != 0) return err;

  const char *host = (o->host != NULL && o->host[0] != '\0') ? o->host : NULL;
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  /* With no host, prefer the dual-stack IPv6 wildcard and fall back to IPv4 where IPv6 is
   * absent, which is what Node's server.listen(port) does. */
  int rc = getaddrinfo(host != NULL ? host : "::", "0", &hints, &res);
  if (rc != 0 && host == NULL) rc = getaddrinfo("0.0.0.0", "0", &hints, &res);
  if (rc != 0) return translate_gai(rc);

  ew__server_t *srv = NULL;
  err = ew__server_new(rt, o, &srv);
  if (err != 0) {
    freeaddrinfo(res);
    return err;
  }

  int fds[EW_MAX_IO_THREADS];
  int nopen = 0;
  struct sockaddr_storage sa;
  socklen_t salen = (socklen_t)res->ai_addrlen;
  memcpy(&sa, res->ai_addr, res->ai_addrlen);
  bool wildcard6 = false;
  if (sa.ss_family == AF_INET6) {
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
    wildcard6 = host == NULL || IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
  }
  freeaddrinfo(res);
  set_port((struct sockaddr *)&sa, o->port);

  pthread_mutex_lock(&rt->lock);
  srv->id = rt->next_server_id++;
  srv->prof.id = srv->id;
  pthread_mutex_unlock(&rt->lock);

  for (int i = 0; i < srv->nfds; i++) {
    err = open_listener((struct sockaddr *)&sa, salen, o, wildcard6, &fds[i]);
    if (err != 0) break;
    nopen++;
    if (i == 0) {
      /* Port 0 asks the kernel for one; the other SO_REUSEPORT sockets must share it. */
      fill_info(fds[0], srv, info);
      set_port((struct sockaddr *)&sa, info->port);
    }
  }
  if (err != 0) {
    for (int i = 0; i < nopen; i++)
      close(fds[i]);
    ew__server_unref(srv);
    return err;
  }

  pthread_mutex_lock(&rt->lock);
  ew__server_t **grown = realloc(rt->servers, (rt->nservers + 1) * sizeof *grown);
  if (grown == NULL) {
    pthread_mutex_unlock(&rt->lock);
    for (int i = 0; i < nopen; i++)
      close(fds[i]);
    ew__server_unref(srv);
    return EW_ENOMEM;
  }
  rt->servers = grown;
  rt->servers[rt->nservers++] = srv;
  pthread_mutex_unlock(&rt->lock);

  atomic_store(&srv->open_fds, srv->nfds);
  for (int i = 0; i < srv->nfds; i++) {
    ew__cmd_listen_t *cmd = calloc(1, sizeof *cmd);
    if (cmd == NULL) {
      /* The server is registered, so the listeners that did start are closed normally by
       * ew_unlisten(); this one simply never starts. */
      close(fds[i]);
      atomic_fetch_sub(&srv->open_fds, 1);
      continue;
    }
    cmd->base.kind = EW__CMD_LISTEN;
    cmd->fd = fds[i];
    cmd->srv = srv;
    atomic_fetch_add(&srv->refs, 1);
    ew__io_post(&rt->io[listener_thread(rt, srv, i)], &cmd->base);
  }
  EW_LOG_DEBUG(rt, "server %u listening on %s port %u (%d socket%s)", srv->id, info->address,
               info->port, srv->nfds, srv->nfds == 1 ? "" : "s");
  return 0;
}

int ew_unlisten(ew_runtime_t *rt, uint32_t id) {
  ew__server_t *srv = ew__server_take(rt, id, false);
  if (srv == NULL) return EW_ENOENT;
  if (atomic_load(&rt->state) != EW__RT_RUNNING) {
    ew__server_unref(srv);
    return EW_ESTATE;
  }
  atomic_store(&srv->unlistened, 1);
  /* The table's reference moves to the commands: one per thread holding a socket. */
  for (int i = 0; i < srv->nfds; i++) {
    ew__cmd_listen_t *cmd = calloc(1, sizeof *cmd);
    if (cmd == NULL) {
      ew__server_unref(srv);
      return EW_ENOMEM;
    }
    cmd->base.kind = EW__CMD_UNLISTEN;
    cmd->fd = -1;
    cmd->srv = srv;
    atomic_fetch_add(&srv->refs, 1);
    ew__io_post(&rt->io[listener_thread(rt, srv, i)], &cmd->base);
  }
  ew__server_unref(srv);
  return 0;
}

void ew__listener_close(ew__listener_t *l) {
  ew__io_t *io = l->io;
  ew__server_t *srv = l->srv;
  TAILQ_REMOVE(&io->listeners, l, link);
  if (l->on_ready) TAILQ_REMOVE(&io->ready_listeners, l, ready_link);
  event_free(l->ev);
  close(l->fd);
  free(l);
  if (atomic_fetch_sub(&srv->open_fds, 1) == 1)
    ew__io_push_ctrl(io, srv->o.owner_port, EW_REC_UNLISTEN, 0, srv->id, 0, NULL, 0);
  ew__server_unref(srv);
}

/* Picks the IO thread for a new connection and counts it there at once, so that a burst of
 * accepts spreads under least-connections instead of piling onto the thread whose count has
 * not caught up yet. */
static uint32_t pick_thread(ew__io_t *io, ew__server_t *srv) {
  ew_runtime_t *rt = io->rt;
  uint32_t target;
  if (srv->o.reuse_port || rt->nio == 1) {
    target = io->index;
  } else if (srv->o.distribution == EW_DIST_LEAST_CONNS) {
    uint32_t start = atomic_fetch_add(&srv->rr, 1) % rt->nio;
    target = start;
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < rt->nio; i++) {
      uint32_t k = (start + i) % rt->nio;
      uint32_t live = atomic_load_explicit(&rt->io[k].live, memory_order_relaxed);
      if (live < best) {
        best = live;
        target = k;
      }
    }
  } else {
    target = atomic_fetch_add(&srv->rr, 1) % rt->nio;
  }
  atomic_fetch_add_explicit(&rt->io[target].live, 1, memory_order_relaxed);
  return target;
}

static void dispatch(ew__listener_t *l, int fd, struct sockaddr_storage *ss, socklen_t len) {
  ew__io_t *io = l->io;
  ew__server_t *srv = l->srv;
  /* Bans and connection limits: refused here, before any read and before an IO thread or a
   * port hears of the connection. */
  if (ew__guard_admit(io, srv, (struct sockaddr *)ss) != 0) {
    close(fd);
    return;
  }
  uint32_t target = pick_thread(io, srv);
  atomic_fetch_add(&srv->refs, 1); /* owned by the connection from here on */
  if (target == io->index) {
    ew__conn_adopt(io, fd, &srv->prof, srv, (struct sockaddr *)ss, len);
    return;
  }
  ew__cmd_conn_t *cmd = malloc(sizeof *cmd);
  if (cmd == NULL) {
    atomic_fetch_sub_explicit(&io->rt->io[target].live, 1, memory_order_relaxed);
    ew__guard_unadmit(srv, (struct sockaddr *)ss);
    close(fd);
    ew__server_unref(srv);
    EW__STAT(io, accept_errors)++;
    return;
  }
  cmd->base.kind = EW__CMD_CONN;
  cmd->fd = fd;
  cmd->srv = srv;
  cmd->prof = NULL;
  cmd->addrlen = len;
  memcpy(&cmd->addr, ss, len);
  ew__io_post(&io->rt->io[target], &cmd->base);
}

/* Implements a best effort approach to mitigating accept() EMFILE errors (the approach of
 * libuv's src/unix/stream.c). We have a spare file descriptor stashed away that we close to
 * get below the EMFILE limit; then we accept and immediately close every pending connection,
 * so that the peers learn at once instead of hanging in the backlog, and the edge-triggered
 * listener is drained instead of spinning. */
static void drop_pending(ew__listener_t *l) {
  ew__io_t *io = l->io;
  if (io->reserve_fd < 0) return;
  close(io->reserve_fd);
  io->reserve_fd = -1;
  for (int n = 0; n < 1024; n++) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      break;
    }
    close(fd);
    EW__STAT(io, accept_errors)++;
  }
  io->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Logs an accept failure and tells the server's owner port, at most once a second per
 * listening socket, so that a descriptor shortage under a connection storm costs a line, not a
 * flood of them. */
static void report_accept_error(ew__listener_t *l, int e, const char *action) {
  uint64_t now = ew__now_ms();
  if (now - l->error_reported_ms < 1000 && l->error_reported_ms != 0) return;
  l->error_reported_ms = now;
  EW_LOG_WARN(l->io->rt, "server %u: accept: %s%s%s", l->srv->id, strerror(e),
              action[0] ? "; " : "", action);
  ew__io_push_ctrl(l->io, l->srv->o.owner_port, EW_REC_ACCEPT_ERROR, 0, l->srv->id, (uint32_t)e,
                   NULL, 0);
}

void ew__listener_accept(ew__listener_t *l) {
  ew__io_t *io = l->io;
  /* At most this many per round: then the listener yields to the connections like any
   * budget-limited connection, and continues after the next poll. */
  for (int n = 0; n < 256; n++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      dispatch(l, fd, &ss, len);
      continue;
    }
    int e = errno;
    switch (e) {
    case EAGAIN:
      return;
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
      continue;
    case EMFILE:
    case ENFILE: {
      EW__STAT(io, accept_errors)++;
      report_accept_error(l, e, "dropping pending connections");
      drop_pending(l);
      return;
    }
    default:
      EW__STAT(io, accept_errors)++;
      report_accept_error(l, e, "");
      /* ENOBUFS/ENOMEM are transient: look again next round rather than waiting for an edge
       * that a full backlog will never produce. */
      if (e == ENOBUFS || e == ENOMEM) ew__io_listener_ready(io, l);
      return;
    }
  }
  ew__io_listener_ready(io, l);
}

void ew__listener_on_event(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  ew__listener_accept(arg);
}
