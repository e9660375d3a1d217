// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW__SERVER_H
#define EW__SERVER_H

/* Servers (server.c), their listeners (listener.c) and connection profiles. */

#include "base.h"

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

/* What a connection runs by, apart from where it came from: its codec, the options of its
 * output and its codec, how it is bound to a port, and the per-thread rows of limits and
 * counters its guard uses. A listening server embeds one for all its connections; a connection
 * needs a profile, never a listener. Connections hold a reference through `release`. */
struct ew__profile_s {
  const ew__codec_t *codec;
  uint32_t id;                       /* the id in OPEN records and logs (the server's) */
  uint32_t max_frame_bytes;          /* the codec's largest message */
  uint32_t low_watermark;            /* WATCH is answered by DRAIN below this */
  uint32_t max_buffered;             /* queued output above this closes with EW_ESLOW */
  int no_delay;                      /* TCP_NODELAY */
  int bind;                          /* EW_BIND_* */
  uint64_t bind_ports;               /* ports that may take its connections; 0 = all */
  ew_http_limits_t http;             /* the HTTP codec's limits */
  ew__crypt_cfg_t *crypt;            /* message encryption (framed only); NULL: off */
  ew__tls_cfg_t *tls;                /* TLS; NULL: a plain socket */
  ew__srv_io_t *per_io;              /* one row per IO thread */
  void (*release)(ew__profile_t *p); /* drops a connection's reference */
};

/* Sets up a profile's fields from listen options and its rows (one per IO thread); `client`:
 * a link's (message encryption's role). 0, EW_EINVAL (bad keys or options) or EW_ENOMEM. */
int ew__profile_init(ew__profile_t *p, const ew_listen_opts_t *o, uint32_t nio, bool client);
void ew__profile_destroy(ew__profile_t *p);
/* The largest frame message encryption takes: an encrypted frame is held whole until it
 * verifies (lib/encryption.ts checks maxFrameBytes against it). */
#define EW__CRYPT_MAX_FRAME (64u << 20)
/* A profile's message-encryption settings (codec_crypt.c): keys parsed once, shared by its
 * connections read-only. 0, EW_EINVAL (bad options or keys) or EW_ENOMEM. */
int ew__crypt_cfg_new(const ew_crypt_opts_t *o, bool client, ew__crypt_cfg_t **out);
void ew__crypt_cfg_free(ew__crypt_cfg_t *g);
/* A profile's TLS settings (tls.c): contexts built once, shared by its connections; a server's
 * can be replaced (ew__tls_cfg_set) while connections use the old ones. 0, EW_EINVAL (a
 * certificate or key that does not load, bad options) or EW_ENOMEM. */
int ew__tls_cfg_new(const ew_tls_opts_t *o, bool client, ew__tls_cfg_t **out);
int ew__tls_cfg_set(ew__tls_cfg_t *g, const ew_tls_opts_t *o);
void ew__tls_cfg_free(ew__tls_cfg_t *g);

struct ew__server_s {
  ew__profile_t prof; /* its connections' profile (release: ew__server_unref) */
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
  bool udp;               /* a UDP socket (udp.c), not a listener */
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

/* An outbound link (link.c): a profile for the connections it makes, and the port they go
 * to. Held by the runtime's table (until ew_link_close), each attempt and each connection. */
struct ew__link_s {
  ew__profile_t prof; /* release: ew__link_unref */
  ew_runtime_t *rt;
  uint32_t port;
  _Atomic int refs;
  _Atomic int closed; /* ew_link_close() was called: attempts are abandoned */
};

void ew__link_unref(ew__link_t *l);
/* Runs an IO thread command of link.c (EW__CMD_DIAL, EW__CMD_LINK_CLOSE); the caller frees
 * `cmd`. */
void ew__link_command(ew__io_t *io, ew__cmd_t *cmd);
/* Frees the attempts still in flight on a stopping IO thread. */
void ew__dial_drop_all(ew__io_t *io);
/* Milliseconds from `now` (libevent's cached time) to the earliest attempt's deadline on this
 * thread, or -1 when no attempt waits with one (inline mode's next timer). */
int64_t ew__dial_next_ms(ew__io_t *io, const struct timeval *now);

/* Creates a server from listen options (one reference: the caller's). 0 or EW_ENOMEM. */
int ew__server_new(ew_runtime_t *rt, const ew_listen_opts_t *o, ew__server_t **out);
/* Takes server `id` out of the runtime's table (only a UDP socket's with `udp_only`): the
 * caller now holds the table's reference. NULL if there is none. */
ew__server_t *ew__server_take(ew_runtime_t *rt, uint32_t id, bool udp_only);
/* Finds a listening server by id and takes a reference, or NULL. */
ew__server_t *ew__server_find(ew_runtime_t *rt, uint32_t id);

#endif /* EW__SERVER_H */
