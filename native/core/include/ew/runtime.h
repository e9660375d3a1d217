// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_RUNTIME_H
#define EW_RUNTIME_H

#include "ew/common.h"
#include "ew/log.h"
#include "ew/ring.h"

/* The runtime: N IO threads, each with its own event loop, and M ports. A port is the
 * consumer side of the shared-memory rings: one JavaScript thread in the addon, or a C thread in
 * the native-only benchmark server. Between IO thread k and port j there are two rings, in
 * (k -> j: connection events and frames) and out (j -> k: bytes to send and commands).
 *
 * Threads: functions marked "any thread" may be called from any thread including IO threads'
 * callbacks' callers; ew_runtime_* lifecycle functions must not be called from an IO thread. */

typedef struct ew_runtime_s ew_runtime_t;
typedef struct ew_port_s ew_port_t;

enum { EW_AFFINITY_OFF = 0, EW_AFFINITY_AUTO = 1, EW_AFFINITY_LIST = 2 };
enum { EW_DIST_ROUND_ROBIN = 0, EW_DIST_LEAST_CONNS = 1 };
/* How an IO thread binds a new connection to a port (docs/workers.md): in turn, to the port
 * with the fewest live connections, or to the one whose in ring from this IO thread holds the
 * fewest unread bytes. A function of the peer is done with admission (EW_REC_ADMIT). */
enum { EW_BIND_ROUND_ROBIN = 0, EW_BIND_LEAST_CONNS = 1, EW_BIND_LEAST_BACKLOG = 2 };
enum { EW_FRAMING_FRAMES = 0, EW_FRAMING_RAW = 1, EW_FRAMING_HTTP = 2, EW_FRAMING_LINES = 3 };
/* The client side of HTTP/1.1 (links made by rt.connect({ protocol: 'http' })): responses are
 * parsed natively into HTTP_RES records (ew/wire.h); the max_header_bytes, max_headers and
 * max_body_bytes of `http` bound each response. */
enum { EW_FRAMING_HTTP_CLIENT = 4 };
/* Message encryption (docs/encryption.md) of framed connections: modes and cipher ids (the
 * ids are the wire's). */
enum { EW_CRYPT_OFF = 0, EW_CRYPT_OPTIONAL = 1, EW_CRYPT_REQUIRED = 2 };
enum {
  EW_CIPHER_AES_256_GCM = 1,
  EW_CIPHER_CHACHA20_POLY1305 = 2,
  EW_CIPHER_AES_256_CBC_HMAC = 3, /* legacy, for compatibility only */
};

#define EW_MAX_IO_THREADS 64u
#define EW_MAX_PORTS 64u
#define EW_MAX_CONNS_PER_THREAD (1u << 24)
#define EW_MAX_SPIN_US 1000u

typedef void (*ew_wake_cb)(void *arg);
typedef void (*ew_stop_cb)(void *arg);

typedef struct ew_runtime_opts_s {
  uint32_t io_threads; /* 1 .. EW_MAX_IO_THREADS */
  uint32_t ports;      /* 1 .. EW_MAX_PORTS */
  int affinity;        /* EW_AFFINITY_*; AUTO picks from the CPUs the process may use */
  const int *cpus;     /* EW_AFFINITY_LIST: IO thread k runs on cpus[k % ncpus] */
  uint32_t ncpus;
  uint32_t in_ring_bytes;        /* data bytes of each IO->port ring, a power of two */
  uint32_t out_ring_bytes;       /* data bytes of each port->IO ring, a power of two */
  uint32_t task_ring_bytes;      /* data bytes of each port->port task ring, a power of two;
                                  * 0 = no task rings */
  uint32_t max_conns_per_thread; /* connection slots per IO thread */
  uint32_t read_budget;          /* bytes read per connection per loop round; 0 = until EAGAIN */
  int level_triggered;           /* 1: level-triggered connections (read until a short read;
                                  * write interest only while blocked); 0: edge-triggered */
  uint32_t spin_us;              /* the longest an IO thread spins before it blocks, while
                                  * ew_spin says a spin pays; 0 = never spin */
  int inline_io;                 /* 1: no IO thread; the one IO loop (io_threads must be 1)
                                  * runs on the caller's thread, driven through
                                  * ew_runtime_inline_fd() and ew_runtime_inline_run() */
  int log_level;                 /* EW_LOG_LEVEL_*; lines below it are not even formatted */
  ew_log_cb log_cb;              /* NULL: lines go to stderr */
  void *log_arg;
} ew_runtime_opts_t;

/* Fills `o` with the defaults (docs/experiments.md says which experiment chose each). */
EW_EXTERN void ew_runtime_opts_init(ew_runtime_opts_t *o);

/* Creates the shared-memory segment and starts the IO threads, all in parallel; returns once
 * every thread is running its loop, or stops the ones that started and returns the first error
 * (EW_EINVAL for bad options, a system error otherwise; nothing is left behind then). On
 * success *out owns one reference, released by ew_runtime_release(). Not from an IO thread.
 * (ew/experiment.h has the variant the design experiments start with.) */
EW_EXTERN int ew_runtime_start(const ew_runtime_opts_t *o, ew_runtime_t **out);

/* Asks every IO thread to close its listeners and connections, free its loop and exit. Returns
 * at once; `cb(arg)` runs exactly once, on the last IO thread to exit (or on the caller's
 * thread if they had all exited already). Afterwards no wake callback fires and the rings are
 * no longer produced into. A second call returns EW_ESTATE and its cb never runs. */
EW_EXTERN int ew_runtime_stop(ew_runtime_t *rt, ew_stop_cb cb, void *arg);

/* Blocks until every IO thread has exited and joins them; the runtime must have been stopped
 * (EW_ESTATE otherwise). Memory stays valid until the last release. Not from an IO thread, nor
 * from the stop callback. Returns 0. */
EW_EXTERN int ew_runtime_join(ew_runtime_t *rt);

/* Takes and drops a reference. The last release stops the runtime if needed (blocking until
 * the IO threads have exited), joins them and frees everything: the segment stays mapped until
 * then, so memory handed out by ew_runtime_shm() is valid while a reference is held. */
EW_EXTERN void ew_runtime_retain(ew_runtime_t *rt);
EW_EXTERN void ew_runtime_release(ew_runtime_t *rt);

/* Changes the level below which native lines are not even formatted. Any thread. */
EW_EXTERN void ew_runtime_set_log_level(ew_runtime_t *rt, int level);

/* The shared-memory segment (rings, control and statistics pages); any thread. */
EW_EXTERN void *ew_runtime_shm(ew_runtime_t *rt, size_t *bytes);
EW_EXTERN uint32_t ew_runtime_io_threads(const ew_runtime_t *rt);
EW_EXTERN uint32_t ew_runtime_ports(const ew_runtime_t *rt);

/* ---- inline mode (opts.inline_io) ----------------------------------------------------------
 * The IO loop is not a thread: the thread that started the runtime (its owner) runs it, one
 * round at a time, from its own event loop. Everything else is unchanged: the same rings, the
 * same commands; other threads' ports kick the loop through its inbox eventfd, which makes the
 * inline fd readable. All of these are for the owner thread only. */

/* ew_runtime_inline_run's answers. */
enum {
  EW_INLINE_IDLE = 0,     /* nothing left to do: wait for the fd or the timeout */
  EW_INLINE_MORE = 1,     /* work is left (read budgets, commands): run again soon, after the
                           * owner's other work */
  EW_INLINE_STOPPING = 2, /* the loop was told to stop: stop polling the fd (it is about to be
                           * closed), then run once more to close everything */
  EW_INLINE_STOPPED = 3,  /* the loop is closed; the stop callback has run */
};

/* A file descriptor that turns readable when the loop has work (a socket's event, a command,
 * a kick); poll it level-triggered for reading. -1 when the runtime is not inline. */
EW_EXTERN int ew_runtime_inline_fd(const ew_runtime_t *rt);

/* ew_runtime_inline_run's flags. */
enum {
  /* Skip the look at the sockets and timers (one epoll_wait): for a round run because the
   * owner published records, when the fd's readiness is the owner's poll to see anyway. */
  EW_INLINE_NO_POLL = 1,
};

/* Runs one round of the loop without blocking: socket events and expired timers (unless
 * EW_INLINE_NO_POLL), commands, records from the ports (sends go out now), reads within the
 * read budgets, and publishing to the ports (whose wake callbacks run on this thread, inside
 * this call). *next_ms gets the milliseconds until the loop's next timer (-1: none). Returns
 * an EW_INLINE_* answer, or EW_ESTATE when the runtime is not inline. */
EW_EXTERN int ew_runtime_inline_run(ew_runtime_t *rt, int flags, int32_t *next_ms);

/* Where IO thread `io` runs: its kernel thread id and the CPU it is pinned to (-1 = not
 * pinned). Returns 0 or EW_EINVAL. */
EW_EXTERN int ew_runtime_thread_info(const ew_runtime_t *rt, uint32_t io, int *tid, int *cpu);

/* Byte offsets of the pieces of the segment, for consumers that map it (JavaScript). */
typedef struct ew_shm_layout_s {
  uint32_t io_ctl;       /* per IO thread control + stats page, EW_SHM_IO_CTL_BYTES each */
  uint32_t port_ctl;     /* per port control line, EW_SHM_PORT_CTL_BYTES each */
  uint32_t slots;        /* per IO thread: max_conns_per_thread * EW_SHM_SLOT_BYTES */
  uint32_t slots_stride; /* bytes between two IO threads' slot tables */
  uint32_t max_conns_per_thread;
} ew_shm_layout_t;
#define EW_SHM_IO_CTL_BYTES 512u
#define EW_SHM_PORT_CTL_BYTES 64u
#define EW_SHM_SLOT_BYTES 64u
/* Slot words (u32) of a connection, one cache line each so that two connections' counters
 * never share a line: generation, bytes written to the kernel (mod 2^32), then its statistics,
 * published by its IO thread after every read round (u64 values as lo, hi word pairs):
 * messages and bytes received, messages and bytes of the current window and the window's
 * start (CLOCK_MONOTONIC ms), bytes written. */
#define EW_SHM_SLOT_GEN 0u
#define EW_SHM_SLOT_WRITTEN 1u
#define EW_SHM_SLOT_MSGS_IN 2u
#define EW_SHM_SLOT_BYTES_IN 4u
#define EW_SHM_SLOT_WIN_MSGS 6u
#define EW_SHM_SLOT_WIN_BYTES 8u
#define EW_SHM_SLOT_WIN_START 10u
#define EW_SHM_SLOT_BYTES_OUT 12u
/* u32 word: the port the connection is bound to: written before its OPEN, UINT32_MAX while
 * parked and once closed */
#define EW_SHM_SLOT_PORT 14u
/* u32 word: EW_SLOT_STATE_* bits, written by the IO thread */
#define EW_SHM_SLOT_STATE 15u
#define EW_SLOT_STATE_ENCRYPTED 1u /* message encryption's handshake finished */
/* Port control line (EW_SHM_PORT_CTL_BYTES per port), u32 words at these byte offsets. */
#define EW_SHM_PORT_SLEEPING 0u /* the consumer is about to block */
/* attachments so far: a record stamped with an older epoch was meant for a consumer that is
 * gone */
#define EW_SHM_PORT_EPOCH 4u
#define EW_SHM_PORT_CONNS 8u     /* connections bound to the port now */
#define EW_SHM_PORT_ATTACHED 12u /* 1 while a consumer is attached */
/* Statistics of one IO thread: u64 counters at byte offset EW_SHM_IO_STATS of its page. */
#define EW_SHM_IO_SLEEPING 0u /* u32: the IO thread is about to block in epoll */
#define EW_SHM_IO_STATS 64u
#define EW_IO_STATS_MAP(XX)                                                                        \
  XX(accepted, "connections accepted or adopted")                                                  \
  XX(closed, "connections closed")                                                                 \
  XX(live, "connections open now")                                                                 \
  XX(bytes_in, "bytes read from sockets")                                                          \
  XX(bytes_out, "bytes written to sockets")                                                        \
  XX(frames_in, "frames delivered to ports")                                                       \
  XX(send_records, "send records consumed")                                                        \
  XX(stale_sends, "records for connections already closed")                                        \
  XX(ring_full, "times a connection paused because its port's ring was full")                      \
  XX(protocol_errors, "connections closed for a protocol error")                                   \
  XX(slow_closes, "connections closed for output above the hard cap")                              \
  XX(accept_errors, "accept failures, EMFILE included")                                            \
  XX(limit_rejects, "connections refused for lack of a slot")                                      \
  XX(wakeups, "times the loop woke from a blocking wait")                                          \
  XX(http_requests, "HTTP requests delivered to ports")                                            \
  XX(http_errors, "HTTP requests answered natively with an error status")                          \
  XX(timeouts, "connections closed or answered because a timeout expired")                         \
  XX(kicks, "connections closed for a message or byte window over its limit")                      \
  XX(bans, "source addresses banned automatically")                                                \
  XX(guard_rejects, "connections refused at accept: banned, or over a connection limit")           \
  XX(dgrams_in, "datagrams delivered to ports (UDP)")                                              \
  XX(dgrams_out, "datagrams sent (UDP)")                                                           \
  XX(dgram_drops, "datagrams dropped: too large, bad frame header, banned or over the rate (UDP)") \
  XX(loops, "loop rounds")                                                                         \
  XX(handshakes, "message-encryption handshakes finished")                                         \
  XX(tls_handshakes, "TLS handshakes finished")                                                    \
  XX(tls_failures, "connections closed for a TLS error: handshake, certificate, version, timeout") \
  XX(crypto_failures, "connections closed for a failed handshake or a record that did not verify") \
  XX(frames_landed, "frames of frames_in that were read straight into a ring (FRAMES records)")    \
  XX(spins, "spins before a blocking wait (opts.spin_us)")                                         \
  XX(spin_hits, "spins that found work, each a blocking wait and a wake-up saved")
enum {
#define XX(name, doc) EW_STAT_##name,
  EW_IO_STATS_MAP(XX)
#undef XX
      EW_STAT__COUNT
};

EW_EXTERN void ew_runtime_layout(const ew_runtime_t *rt, ew_shm_layout_t *out);

/* Listeners. */

/* HTTP/1.1 limits (framing EW_FRAMING_HTTP): each is answered natively, with the status in
 * brackets, then the connection closes. Timeouts of 0 are off. */
typedef struct ew_http_limits_s {
  uint32_t max_header_bytes;  /* every byte of a request head, and the names and values of
                                 its trailers [431] */
  uint32_t max_headers;       /* header count [431] */
  uint32_t max_url_bytes;     /* [414] */
  uint32_t max_body_bytes;    /* [413] */
  uint32_t header_timeout_ms; /* from the accept or the request's first byte to its headers [408] */
  uint32_t body_timeout_ms;   /* from the headers to the end of the body [408] */
  uint32_t keepalive_timeout_ms; /* idle between requests: closed without an answer */
  uint32_t max_requests;         /* per connection, then Connection: close; 0 = no limit */
  uint32_t response_timeout_ms;  /* from a request's delivery to the end of its response (the
                                    next owed one's clock starts then): the connection closes
                                    with EW_ETIMEDOUT and JavaScript aborts what it owed */
} ew_http_limits_t;

/* Protection (docs/protection.md). Every value of 0 turns its limit off.
 * All of them can change while the server runs (ew_server_set_limits()). */
typedef struct ew_limits_s {
  uint32_t window_ms;            /* length of a connection's statistics window */
  uint32_t max_msgs_per_window;  /* more messages in one window: closed with EW_EFLOOD */
  uint64_t max_bytes_per_window; /* more bytes read in one window: closed with EW_EFLOOD */
  uint32_t ip_msgs_per_sec;      /* token bucket per source address: over it, the address */
  uint32_t ip_msg_burst;         /*   is banned for ban_ms and its connections closed */
  uint32_t ip_conns_per_sec;     /* new connections per source address, same consequence */
  uint32_t ip_conn_burst;
  uint32_t ban_ms;             /* how long an automatic ban lasts */
  uint32_t max_conns;          /* open connections of the server; further ones are refused */
  uint32_t max_conns_per_ip;   /* open connections per source address */
  uint64_t send_bytes_per_sec; /* response rate per connection (token bucket) */
  uint64_t send_burst;
  uint64_t server_send_bytes_per_sec; /* response rate of the whole server, shared fairly */
  uint64_t server_send_burst;
  uint32_t idle_timeout_ms;      /* no inbound byte for this long: EW_ETIMEOUT_IDLE */
  uint32_t partial_timeout_ms;   /* a frame begun and not finished: EW_ETIMEOUT_PARTIAL */
  uint32_t first_msg_timeout_ms; /* no complete message since the accept: EW_ETIMEOUT_FIRST */
} ew_limits_t;

/* Message encryption of a framed server or link (framing EW_FRAMING_FRAMES). A server holds
 * private keys, a link the public keys it pins. The key bytes are copied by ew_listen and
 * ew_link_open. */
typedef struct ew_crypt_opts_s {
  int mode;               /* EW_CRYPT_*; a link: _OFF or _REQUIRED */
  uint8_t ciphers[8];     /* EW_CIPHER_* in order of preference, 0 ends the list */
  int has_ed25519;        /* ed25519 holds a key */
  uint8_t ed25519[32];    /* server: the private key's seed; link: the public key */
  const uint8_t *rsa_der; /* server: PKCS#8 private key; link: SubjectPublicKeyInfo; NULL: none */
  uint32_t rsa_der_len;
  uint64_t rekey_after_bytes;    /* plaintext bytes per key and direction; 0 = 1 GiB */
  uint32_t handshake_timeout_ms; /* 0 = none */
} ew_crypt_opts_t;

/* TLS (docs/tls.md) of a server or link, on its IO threads with OpenSSL through memory BIOs.
 * Certificates and keys are PEM text (a chain: the leaf first); every byte is copied by
 * ew_listen, ew_link_open and ew_server_set_tls. */
enum { EW_TLS_V1_2 = 12, EW_TLS_V1_3 = 13 };
typedef struct ew_tls_sni_s {
  const char *name; /* a host name the client asks for (SNI), exact, case-insensitive */
  const char *cert; /* PEM chain */
  const char *key;  /* PEM private key */
} ew_tls_sni_t;

typedef struct ew_tls_opts_s {
  int enabled;
  const char *cert;        /* server: PEM chain (required); link: a client certificate (optional) */
  const char *key;         /* its PEM private key */
  const char *ca;          /* PEM certificates trusted for the peer; NULL: the system's (links) */
  int request_cert;        /* server: ask the client for a certificate */
  int reject_unauthorized; /* server: refuse a client without a valid certificate (with
                              request_cert); link: refuse a server that does not verify */
  int min_version;         /* EW_TLS_V1_2 (default) or EW_TLS_V1_3 */
  const uint8_t *alpn;     /* protocols, wire format (length-prefixed names), in preference order */
  uint32_t alpn_len;
  const char *servername;  /* link: the name sent (SNI) and verified; NULL: none sent, the
                              address is verified */
  const ew_tls_sni_t *sni; /* server: more certificates, by name */
  uint32_t nsni;
  uint32_t handshake_timeout_ms; /* 0: none */
} ew_tls_opts_t;

typedef struct ew_listen_opts_s {
  const char *host;         /* literal address or name; NULL/"" = all interfaces (dual stack) */
  uint16_t port;            /* 0 = any; ew_listen_info_t says which */
  int backlog;              /* listen(2) backlog; <= 0 = 511 */
  int reuse_port;           /* 1: one SO_REUSEPORT socket per IO thread instead of one acceptor */
  int distribution;         /* EW_DIST_*: how the acceptor picks an IO thread */
  int framing;              /* EW_FRAMING_FRAMES (docs/protocol.md), _RAW chunks, _HTTP, _LINES */
  uint32_t max_frame_bytes; /* larger frames (lines) close the connection with EW_EPROTO_LENGTH */
  uint32_t high_watermark;  /* queued output above which the port should stop sending */
  uint32_t low_watermark;   /* a WATCH record is answered by DRAIN once below this */
  uint32_t max_buffered;    /* queued output above this closes with EW_ESLOW */
  int no_delay;             /* TCP_NODELAY on accepted sockets */
  uint32_t owner_port;      /* the port that receives EW_REC_UNLISTEN, BAN and ADMIT */
  int bind;                 /* EW_BIND_*: how a new connection picks its port */
  uint64_t bind_ports;      /* ports (bit j = port j) that may take connections; 0 = all */
  int admit;                /* 1: park each new connection and ask the owner port (ADMIT) */
  ew_http_limits_t http;    /* EW_FRAMING_HTTP (and the response limits of _HTTP_CLIENT) */
  ew_limits_t limits;       /* protection; ew_limits_init()'s defaults */
  uint32_t max_tracked_ips; /* source addresses remembered (least recently seen evicted) */
  ew_crypt_opts_t crypt;    /* message encryption; mode EW_CRYPT_OFF by default */
  ew_tls_opts_t tls;        /* TLS; enabled 0 by default */
} ew_listen_opts_t;

typedef struct ew_listen_info_s {
  uint32_t id;      /* server id, carried by OPEN records */
  int family;       /* 4 or 6 */
  uint16_t port;    /* the bound port */
  char address[64]; /* the bound address, numeric */
} ew_listen_info_t;

/* Fills `o` with the defaults, limits included (ew_limits_init). */
EW_EXTERN void ew_listen_opts_init(ew_listen_opts_t *o);

/* The protection defaults: 30 s windows with no message or byte limit, no per-address rate
 * limit, 60 s bans, no connection limits, no response rate limit, partial frames 30 s, no idle
 * or first-message timeout. */
EW_EXTERN void ew_limits_init(ew_limits_t *l);

/* Resolves the host (getaddrinfo, first result; blocking, so callers that must not block pass
 * a literal), binds and listens on the calling thread so that errors such as EW_EADDRINUSE come
 * back here, then hands the socket(s) to the IO threads. Returns 0 and fills `info`, or an error
 * and nothing is left open. Not from an IO thread. */
EW_EXTERN int ew_listen(ew_runtime_t *rt, const ew_listen_opts_t *o, ew_listen_info_t *info);

/* Turns admission (ew_listen_opts_t.admit) on or off for connections accepted from now on.
 * Any thread but an IO thread. Returns 0 or EW_ENOENT. */
EW_EXTERN int ew_server_set_admit(ew_runtime_t *rt, uint32_t id, int on);

/* Replaces server `id`'s TLS certificates, keys and settings for the connections accepted
 * from now on (those open keep theirs): a certificate reload without a restart. Any thread but
 * an IO thread. Returns 0, EW_ENOENT (no such server), EW_EINVAL (the server has no TLS, or a
 * certificate or key does not load) or EW_ENOMEM; on error the old settings stay. */
EW_EXTERN int ew_server_set_tls(ew_runtime_t *rt, uint32_t id, const ew_tls_opts_t *o);

/* Stops accepting on server `id`; open connections stay. When every listening socket is closed
 * the owner port receives an EW_REC_UNLISTEN record. Returns 0, or EW_ENOENT for an unknown or
 * already closed id. Any thread but an IO thread. */
EW_EXTERN int ew_unlisten(ew_runtime_t *rt, uint32_t id);

/* Outbound connections (links). A link is what its connections run by, as a server is for the
 * connections it accepts: the fields of `o` that shape a connection (framing, max_frame_bytes,
 * the watermarks, max_buffered, no_delay, limits, http) apply; `owner_port` is the port its
 * connections are bound to and that hears of failed attempts; the listening fields are unused.
 * The id comes from the servers' id space (OPEN records name it as their server). Any thread
 * but an IO thread. Returns 0, EW_EINVAL, EW_ESTATE or EW_ENOMEM. */
EW_EXTERN int ew_link_open(ew_runtime_t *rt, const ew_listen_opts_t *o, uint32_t *id);

/* One connection attempt of link `id` on IO thread `io` (mod the IO thread count): the numeric
 * addresses (IPv4 or IPv6 text) are tried in order with non-blocking connects, each given an
 * equal share of what is left of `timeout_ms` (0: no timeout). The first that connects becomes
 * a connection of the link (OPEN to its port); if none does, the port gets EW_REC_LINK_FAIL
 * with the last error (EW_ETIMEDOUT when time ran out). Names are resolved by the caller. Any
 * thread but an IO thread. Returns 0 (the outcome arrives as a record), EW_EINVAL (no or bad
 * address, more than EW_LINK_MAX_ADDRS), EW_ENOENT (no such link), EW_ESTATE or EW_ENOMEM. */
#define EW_LINK_MAX_ADDRS 16u
EW_EXTERN int ew_link_connect(ew_runtime_t *rt, uint32_t id, const char *const *addrs,
                              uint32_t naddrs, uint16_t port, uint32_t timeout_ms, uint32_t io);

/* Closes link `id`: attempts in flight are abandoned (no record follows for them); the link's
 * open connections stay until they are closed (JavaScript closes them first). Returns 0 or
 * EW_ENOENT. Any thread but an IO thread. */
EW_EXTERN int ew_link_close(ew_runtime_t *rt, uint32_t id);

/* Ports (consumers). */
EW_EXTERN ew_port_t *ew_runtime_port(ew_runtime_t *rt, uint32_t index);

/* Registers the consumer of port `p`: `wake(arg)` is called, from IO threads, whenever a ring
 * of the port gains data while the consumer sleeps (see ew_port_prepare_sleep) or when the port
 * waits for space in an out ring. It must be thread-safe and cheap (uv_async_send, an eventfd
 * write). Connections are bound only to attached ports. Returns 0 or EW_ESTATE if attached. */
EW_EXTERN int ew_port_attach(ew_port_t *p, ew_wake_cb wake, void *arg);

/* Unregisters the consumer; no wake callback runs after this returns. Connections bound to
 * the port stay bound: a consumer that re-attaches (the same thread) finds them; a consumer
 * that is gone for good is cleaned up with ew_port_reset(). */
EW_EXTERN void ew_port_detach(ew_port_t *p);

/* Cleans up after a consumer that is gone (a work thread that died): every IO thread closes
 * the connections bound to the port with `reason` (their CLOSE records are discarded), drops
 * what the old consumer left in the out rings and forgets what it had not read, so a new
 * consumer attaches to empty rings. `cb(arg)` runs once, on the last IO thread to finish; the
 * port can be attached again from then on. Returns 0, EW_ESTATE if the port is attached or
 * already being reset or the runtime is not running, or EW_ENOMEM. Not from an IO thread. */
EW_EXTERN int ew_port_reset(ew_port_t *p, int reason, ew_stop_cb cb, void *arg);

/* Task rings (docs/workers.md): with task_ring_bytes != 0 every ordered pair of ports (i, j)
 * has a ring i -> j that no IO thread touches; JavaScript threads exchange tasks and replies
 * through them. Offsets are bytes in the segment; NULL / 0 without task rings. */
EW_EXTERN ew_ring_t *ew_port_task_in(ew_port_t *p, uint32_t from);
EW_EXTERN ew_ring_t *ew_port_task_out(ew_port_t *p, uint32_t to);
EW_EXTERN uint32_t ew_port_task_in_offset(ew_port_t *p, uint32_t from);
EW_EXTERN uint32_t ew_port_task_out_offset(ew_port_t *p, uint32_t to);
/* 1 if the runtime has task rings. */
EW_EXTERN int ew_runtime_has_task_rings(const ew_runtime_t *rt);

/* Wakes the consumer of port `to` if it sleeps; call after publishing into the task ring
 * towards it. Any thread; a no-op for a detached port. */
EW_EXTERN void ew_port_signal(ew_port_t *p, uint32_t to);

/* Wakes port `to` whether or not it sleeps: call when ew_ring_release() on the task ring from
 * it returned 1 (it waits for space, and may be busy rather than asleep, so the sleeping flag
 * says nothing). Any thread; a no-op for a detached port. */
EW_EXTERN void ew_port_wake(ew_port_t *p, uint32_t to);

/* Connections bound to the port now (a snapshot); any thread. */
EW_EXTERN uint32_t ew_port_connections(const ew_port_t *p);

/* The rings between this port and IO thread `io`. */
EW_EXTERN ew_ring_t *ew_port_in(ew_port_t *p, uint32_t io);
EW_EXTERN ew_ring_t *ew_port_out(ew_port_t *p, uint32_t io);
EW_EXTERN uint32_t ew_port_in_offset(ew_port_t *p, uint32_t io);  /* byte offset in the segment */
EW_EXTERN uint32_t ew_port_out_offset(ew_port_t *p, uint32_t io); /* byte offset in the segment */

/* Wakes IO thread `io` if it sleeps; call after publishing records into its out ring, or after
 * ew_ring_release() on its in ring returned 1. The port's consumer thread; a no-op once the
 * runtime has stopped. */
EW_EXTERN void ew_port_kick(ew_port_t *p, uint32_t io);

/* The consumer is about to block: marks the port sleeping, then checks every in ring. Returns 1
 * (and clears the mark) if any holds unread records, so the consumer must not block; else 0 and
 * the next record published will call wake(). `heads[io]` are the consumer's read positions in
 * the IO threads' rings, followed (with task rings) by `heads[nio + from]`, its positions in
 * the task rings from each port. */
EW_EXTERN int ew_port_prepare_sleep(ew_port_t *p, const uint32_t *heads);

/* Clears the sleeping mark (the consumer woke up and is about to drain). */
EW_EXTERN void ew_port_awake(ew_port_t *p);

/* Whether a ring of the port holds records past `heads` (as for ew_port_prepare_sleep), without
 * marking the consumer sleeping: what a consumer's spin polls. */
EW_EXTERN int ew_port_pending(const ew_port_t *p, const uint32_t *heads);

/* ---- adaptive spinning before a blocking wait ------------------------------------------------
 * A thread about to block (an IO thread in epoll, a consumer in its wait) may first poll for
 * work a few microseconds: when the other side answers within that time, neither pays the
 * wake-up (the eventfd write, the scheduler's switch, the return from epoll). A spin that finds
 * nothing is time taken from the other threads on a shared core, so an ew_spin_t spins only
 * while it pays: it arms after a blocking wait shorter than its budget (the work came back fast
 * enough to be caught), stays armed while its spins find work, and after a spin that found
 * nothing skips 1, 2, 4 ... up to 1024 waits before it may arm again (docs/design-notes.md,
 * "Spinning before sleep"). One ew_spin_t per thread; not thread-safe. */
typedef struct ew_spin_s {
  uint64_t max_ns;   /* the budget; 0 = never spin */
  uint64_t slept_at; /* when the current blocking wait began */
  uint32_t armed;    /* the next ew_spin_run spins */
  uint32_t skip;     /* blocking waits to let pass before arming again */
  uint32_t penalty;  /* what skip becomes after the next miss */
  uint64_t spins;    /* spins run */
  uint64_t hits;     /* spins that found work */
} ew_spin_t;

/* A spin of at most `max_us` microseconds (0: ew_spin_run never spins). */
EW_EXTERN void ew_spin_init(ew_spin_t *s, uint32_t max_us);

/* Spins, if armed, until `ready(arg)` returns non-zero (1) or the budget runs out (0). Returns
 * 0 at once when not armed. `ready` is called in a tight loop: a few loads, no locks. */
EW_EXTERN int ew_spin_run(ew_spin_t *s, int (*ready)(void *arg), void *arg);

/* Call right before blocking, and right after waking: a wait shorter than the budget arms the
 * next spin. */
EW_EXTERN void ew_spin_sleep(ew_spin_t *s);
EW_EXTERN void ew_spin_woke(ew_spin_t *s);

#endif /* EW_RUNTIME_H */
