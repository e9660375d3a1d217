// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_TRANSPORT_H
#define EW_TRANSPORT_H

/* Transports: how a connection's bytes reach the peer (docs/architecture.md). The connection
 * layer reads, writes and half-closes its data only through its transport's table (socket
 * options, addresses and the admission peek still use the descriptor itself); the plain socket
 * is the first transport, and TLS comes in under the connection here without the connection or
 * its codec knowing. Writes take an iovec array so that SEND records leave straight from ring
 * memory (zero copy): a transport that must transform the bytes (TLS) copies them itself. */

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct ew__conn_s ew__conn_t;

typedef struct ew__transport_s {
  const char *name;
  /* Reads into `iov` without blocking. Returns the bytes read, 0 at the peer's end of stream,
   * or -1 with errno set (EAGAIN: nothing to read now; EINTR is retried inside). */
  ssize_t (*readv)(ew__conn_t *c, const struct iovec *iov, int n);
  /* Writes `iov`. Returns the bytes taken (possibly fewer than offered), or -1 with errno set
   * (EAGAIN: none taken now). Never raises SIGPIPE. */
  ssize_t (*writev)(ew__conn_t *c, const struct iovec *iov, int n);
  /* Ends this direction once everything written is out (FIN). 0 (a peer already gone, ENOTCONN,
   * counts as done), or -1 with errno set. */
  int (*shutdown)(ew__conn_t *c);
  /* Releases the transport and closes the descriptor. */
  void (*close)(ew__conn_t *c);
} ew__transport_t;

/* A plain TCP socket: readv, sendmsg(MSG_NOSIGNAL), shutdown(SHUT_WR), close. */
extern const ew__transport_t ew__transport_socket;

#endif /* EW_TRANSPORT_H */
