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

#include <stdbool.h>
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
  /* The rest is for a transport with state of its own (TLS); NULL in the plain socket's table.
   *
   * Sets the transport up on an adopted connection, before its codec (TLS: its session, on the
   * server or the client side; a client queues its first flight, which leaves once the socket
   * is watched). 0 or an EW_* error. */
  int (*open)(ew__conn_t *c);
  /* Bytes it holds for the socket (TLS records made and not yet sent): they count as queued
   * output, and the connection waits for a write edge while there are any. */
  size_t (*pending)(const ew__conn_t *c);
  /* Sends what it holds: 0 once all is out, or -1 with errno (EAGAIN: the socket is full). */
  int (*flush)(ew__conn_t *c);
  /* False while it cannot take application bytes (a TLS handshake in progress): writes wait in
   * the output buffer until a read finds it writable. */
  bool (*writable)(const ew__conn_t *c);
  /* True while it holds input already taken from the socket (a read budget stopped early):
   * level-triggered polling would not report the socket again for it. */
  bool (*buffered)(const ew__conn_t *c);
  /* The EW_* reason of a failure that readv or writev reported as EPROTO. */
  int (*reason)(const ew__conn_t *c);
} ew__transport_t;

/* A plain TCP socket: readv, sendmsg(MSG_NOSIGNAL), shutdown(SHUT_WR), close. */
extern const ew__transport_t ew__transport_socket;
/* TLS over the socket (tls.c): OpenSSL through a memory BIO pair, the socket calls ours. */
extern const ew__transport_t ew__transport_tls;

#endif /* EW_TRANSPORT_H */
