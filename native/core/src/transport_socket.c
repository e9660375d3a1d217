// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* The plain socket transport: the kernel's socket calls, nothing in between. */

static ssize_t sock_readv(ew__conn_t *c, const struct iovec *iov, int n) {
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = (struct iovec *)iov;
  m.msg_iovlen = (size_t)n;
  ssize_t r;
  /* MSG_DONTWAIT: never blocks the IO thread, whatever the descriptor's own flags. */
  do
    r = recvmsg(c->fd, &m, MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  return r;
}

static ssize_t sock_writev(ew__conn_t *c, const struct iovec *iov, int n) {
  struct msghdr m;
  memset(&m, 0, sizeof m);
  m.msg_iov = (struct iovec *)iov;
  m.msg_iovlen = (size_t)n;
  ssize_t w;
  /* MSG_NOSIGNAL: a peer that vanished must cost an EPIPE, not the process (SIGPIPE). */
  do
    w = sendmsg(c->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (w < 0 && errno == EINTR);
  return w;
}

static int sock_shutdown(ew__conn_t *c) {
  return shutdown(c->fd, SHUT_WR) != 0 && errno != ENOTCONN ? -1 : 0;
}

static void sock_close(ew__conn_t *c) {
  close(c->fd);
}

const ew__transport_t ew__transport_socket = {
    .name = "socket",
    .readv = sock_readv,
    .writev = sock_writev,
    .shutdown = sock_shutdown,
    .close = sock_close,
};
