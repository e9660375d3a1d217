// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_RING_H
#define EW_RING_H

#include "ew/common.h"

/* Single-producer single-consumer byte rings in shared memory (docs/protocol.md).
 *
 * A ring is EW_RING_HEADER_BYTES of header followed by `cap` data bytes (a power of two). The
 * header holds the immutable geometry on the first cache line, the producer's `tail` and
 * `producer_waiting` flag on the second and the consumer's `head` on the third, so the two
 * sides never write the same line. Positions are free-running u32 byte counters; a position's
 * offset in the data area is `pos & (cap - 1)`.
 *
 * Records are 8-byte aligned and never wrap: a producer that cannot fit a record before the end
 * of the data area writes a PAD record there and starts again at offset 0. The layout below is
 * the format JavaScript reads and writes too (lib/internal/engine.ts); it changes only with a
 * version bump. */

#define EW_RING_MAGIC 0x47525745u /* "EWRG" */
#define EW_RING_VERSION 1u
#define EW_RING_HEADER_BYTES 256u
#define EW_RING_OFF_MAGIC 0u
#define EW_RING_OFF_VERSION 4u
#define EW_RING_OFF_CAP 8u
#define EW_RING_OFF_MAX_BODY 12u
#define EW_RING_OFF_TAIL 64u
#define EW_RING_OFF_PRODUCER_WAITING 68u
#define EW_RING_OFF_HEAD 128u
#define EW_RING_MIN_CAP 4096u
#define EW_RING_MAX_CAP (1u << 30)

/* Record header, 24 bytes, host byte order (both sides run in one process or on one host). */
#define EW_REC_HEADER_BYTES 24u
#define EW_REC_ALIGN 8u
#define EW_REC_SIZE(body) (((uint32_t)(body) + EW_REC_HEADER_BYTES + 7u) & ~7u)

typedef struct ew_rec_s {
  uint32_t len;   /* body bytes */
  uint16_t kind;  /* EW_REC_* */
  uint16_t flags; /* low 8 bits: frame flags; high 8 bits: EW_REC_F_* */
  uint64_t conn;  /* connection id, 0 when the record concerns no connection */
  uint32_t type;  /* message type, or a kind-specific value (a close reason, a server id) */
  uint32_t seq;   /* frame sequence number, or a kind-specific value */
} ew_rec_t;

/* Record kinds. IO -> JS kinds and JS -> IO kinds share one numbering so a record is never
 * ambiguous in a dump. */
enum {
  EW_REC_PAD = 1,       /* skip to the start of the data area */
  EW_REC_OPEN = 2,      /* IO->JS: new connection; body: u32 server, u16 family, u16 port,
                         * the peer's address, NUL, u16 local port, the local address */
  EW_REC_DATA = 3,      /* IO->JS: a frame (or a fragment with EW_REC_F_MORE); type, seq, flags */
  EW_REC_END = 4,       /* IO->JS: the peer half-closed (FIN) */
  EW_REC_CLOSE = 5,     /* IO->JS: connection gone; type = reason (EW_* or 0), seq = sys errno */
  EW_REC_DRAIN = 6,     /* IO->JS: queued output fell below the low watermark after a WATCH */
  EW_REC_HTTP_REQ = 7,  /* reserved for the HTTP issue */
  EW_REC_HTTP_RES = 8,  /* IO->JS: a complete HTTP response (client links; body in ew/wire.h),
                         * fragments with EW_REC_F_MORE like HTTP_REQ */
  EW_REC_DGRAM = 9,     /* IO->JS: a datagram of UDP socket `conn` (ew/udp.h); frames: type, seq,
                         * flags; body: the source (EW_DGRAM_PREFIX_BYTES), then the payload */
  EW_REC_TASK = 10,     /* JS->JS (task rings only): a task; docs/protocol.md has the body */
  EW_REC_REPLY = 11,    /* JS->JS (task rings only): a task's reply */
  EW_REC_LOG = 12,      /* reserved; native logs currently travel through ew_log_cb */
  EW_REC_UNLISTEN = 13, /* IO->JS: every listening socket of server `type` is closed */
  EW_REC_FAULT = 14,    /* IO->JS: the peer broke the protocol (type = reason); reading has
                         * stopped. The port answers, after the frames before it, with
                         * SHUTDOWN carrying the reason; the connection then flushes and
                         * closes with it. */
  EW_REC_ACCEPT_ERROR = 15, /* IO->JS: accept() failed on server `type` with errno `seq`
                             * (EMFILE...); at most one a second per listening socket */
  EW_REC_SEND = 16,         /* JS->IO: body = bytes to write to the connection as they are */
  EW_REC_SHUTDOWN = 17,     /* JS->IO: end(): flush, then shutdown(SHUT_WR); close after peer EOF.
                             * type != 0 (the answer to FAULT): flush, then close with that reason */
  EW_REC_DESTROY = 18,      /* JS->IO: close now, dropping queued output; type = reason */
  EW_REC_WATCH = 19,        /* JS->IO: send DRAIN once queued output is below the low watermark */
  EW_REC_BAN = 20,          /* IO->JS: source address banned automatically; type = server, seq = ms;
                             * body: u32 reason (EW_BAN_*), u16 family, u16 0, numeric address */
  EW_REC_ADMIT = 21,        /* IO->JS (the server's owner port): a new connection of server `type`
                             * is parked, unread, until a VERDICT; body as OPEN's. A CLOSE for the
                             * same id follows if the peer leaves or a timeout fires meanwhile. */
  EW_REC_VERDICT = 22,      /* JS->IO: the answer to ADMIT; type = 1 admit, 0 refuse (EW_EDENIED);
                             * seq = the port to bind to, or UINT32_MAX for the server's policy */
  EW_REC_CONN_OPT = 23,     /* JS->IO: a connection option (EW_CONN_OPT_* in type, value in seq),
                             * applied in order with the connection's other records */
  EW_REC_DGRAM_SEND = 24,   /* JS->IO: a datagram for UDP socket `conn`; body: the destination
                             * (EW_DGRAM_PREFIX_BYTES), then the payload as it is sent */
  EW_REC_LINK_FAIL = 25,    /* IO->JS (the link's port): a connection attempt of link `type` failed
                             * with EW_* `seq`; body: u32 sys errno, u32 addresses tried */
  EW_REC_SECURE = 26,       /* IO->JS: the connection's TLS or message-encryption handshake
                             * finished; type = EW_SECURE_* flags; body: NUL-terminated texts:
                             * protocol, cipher, ALPN protocol, server name */
  EW_REC_FRAMES = 27,       /* IO->JS: frames as they came off the socket, read straight into the
                             * ring: the body is `type` (>= 1) whole frames of the connection, each
                             * its 12-byte header (docs/protocol.md, big-endian) and its body,
                             * back to back; every header was checked as for DATA, and each body
                             * fits a record. The consumer handles each frame as a DATA record
                             * with the frame's type, seq and flags. */
};

/* SECURE record flags. */
#define EW_SECURE_TLS 1u       /* TLS (else message encryption) */
#define EW_SECURE_REUSED 2u    /* a resumed TLS session */
#define EW_SECURE_PEER_CERT 4u /* the peer presented a certificate that verified */

/* CONN_OPT options. Socket options that fail are logged at debug level: the connection goes on
 * as it was, as Node's setNoDelay and setKeepAlive do. */
#define EW_CONN_OPT_PAUSE 1u     /* seq 1: stop reading the socket; 0: read again */
#define EW_CONN_OPT_NODELAY 2u   /* seq 1/0: TCP_NODELAY on/off */
#define EW_CONN_OPT_KEEPALIVE 3u /* seq 1/0: SO_KEEPALIVE on/off */
/* seq: TCP_KEEPIDLE, seconds of idleness before the first probe */
#define EW_CONN_OPT_KEEPIDLE 4u
/* seq: a close reason. A graceful close that only the IO thread can judge safely: an HTTP
 * connection with nothing owed, nothing being received and nothing on its way to JavaScript is
 * ended as by SHUTDOWN(reason); otherwise the request being received (or waiting for ring room)
 * becomes the last one (EW_HTTP_F_LAST), nothing after it is read, and JavaScript closes the
 * connection after answering what it owes. Any other connection: SHUTDOWN(reason). */
#define EW_CONN_OPT_CLOSE_IF_IDLE 5u

#define EW_REC_F_MORE 0x100u /* DATA: more fragments of this frame follow */
/* SEND on an HTTP connection: the last bytes of a response */
#define EW_REC_F_RESPONSE_END 0x200u
/* SEND on an HTTP client connection: the first bytes of a request (its head), so that the
 * codec knows which request each response answers; with EW_REC_F_NO_BODY, the response to
 * this request has no body whatever its headers say (a HEAD request). */
#define EW_REC_F_REQUEST_START 0x400u
#define EW_REC_F_NO_BODY 0x800u
/* The SEND flags that mean something to a codec only: the connection layer passes a record
 * carrying any of them to its codec's `outgoing` op, without knowing what they say. */
#define EW_REC_F_CODEC (EW_REC_F_REQUEST_START | EW_REC_F_NO_BODY)
/* CLOSE with reason EW_EFLOOD carries the figures of the kick: u32 what (EW_KICK_*), u32 window
 * ms, u32 messages in the window, u32 0, u64 bytes in the window, u64 the limit exceeded. */
#define EW_KICK_MESSAGES 1u
#define EW_KICK_BYTES 2u
#define EW_KICK_BODY_BYTES 32u
/* Why an address was banned (BAN record). */
#define EW_BAN_MESSAGES 1u    /* ip_msgs_per_sec exceeded */
#define EW_BAN_CONNECTIONS 2u /* ip_conns_per_sec exceeded */

typedef struct ew_ring_s ew_ring_t; /* the shared header; read through the functions below */

/* Producer and consumer state lives with the thread that owns that side, never in shared
 * memory: `tail`/`head` are the thread's private positions, published with a release store. */
typedef struct ew_ring_producer_s {
  ew_ring_t *ring;
  uint8_t *data;
  uint32_t mask;
  uint32_t max_body;
  uint32_t tail;       /* next write position (may be ahead of the published tail) */
  uint32_t head_cache; /* last head seen; refreshed only when the ring looks full */
  uint32_t published;  /* last tail made visible */
} ew_ring_producer_t;

typedef struct ew_ring_consumer_s {
  ew_ring_t *ring;
  uint8_t *data;
  uint32_t mask;
  uint32_t head;       /* next read position (may be ahead of the released head) */
  uint32_t tail_cache; /* last tail seen */
  uint32_t released;   /* last head made visible */
} ew_ring_consumer_t;

/* Formats `bytes` of memory at `mem` (8-byte aligned) as an empty ring. `bytes` must be
 * EW_RING_HEADER_BYTES plus a power of two between EW_RING_MIN_CAP and EW_RING_MAX_CAP. Call it
 * before either side starts. Returns 0 or EW_EINVAL. */
EW_EXTERN int ew_ring_init(void *mem, size_t bytes);

/* Validates a ring some other party formatted (magic, version, geometry within `bytes`).
 * Returns 0 or EW_EINVAL. */
EW_EXTERN int ew_ring_check(const void *mem, size_t bytes);

/* Geometry; any thread. The largest body a single record may carry is a quarter of the data
 * area so that several maximal records can be in flight at once; larger messages are split by
 * the producer (DATA fragments, or several SEND records). */
EW_EXTERN uint32_t ew_ring_capacity(const ew_ring_t *r);
EW_EXTERN uint32_t ew_ring_max_body(const ew_ring_t *r);

/* Producer side; only the producing thread calls these. */
EW_EXTERN void ew_ring_producer_init(ew_ring_producer_t *p, ew_ring_t *r);

/* Reserves a record with `body_len` body bytes and fills its `len`; the caller fills the other
 * fields and the body. The record is invisible to the consumer until ew_ring_publish(). Returns
 * NULL when the ring has no room now, or when body_len exceeds ew_ring_max_body() (that never
 * fits; split it). */
EW_EXTERN ew_rec_t *ew_ring_reserve(ew_ring_producer_t *p, uint32_t body_len);

/* Reserves a record whose body is as large as the ring holds now, up to `want` bytes (and at most
 * ew_ring_max_body()), but at least `min`; fills its `len`. The rest of the current lap is used
 * when it holds `min`, so that a large reservation does not wrap (PAD) needlessly. Returns NULL
 * when not even `min` fits. For reads that land in ring memory: reserve, read, then
 * ew_ring_shrink() to what arrived or ew_ring_unreserve(). */
EW_EXTERN ew_rec_t *ew_ring_reserve_upto(ew_ring_producer_t *p, uint32_t min, uint32_t want);

/* Shrinks `rec`, the record reserved last and not yet published, to `body_len` (<= its len). */
EW_EXTERN void ew_ring_shrink(ew_ring_producer_t *p, ew_rec_t *rec, uint32_t body_len);

/* Takes back `rec`, the record reserved last and not yet published, as if it had never been
 * reserved (a PAD its reservation wrote at the end of the lap stays: it is a valid record). */
EW_EXTERN void ew_ring_unreserve(ew_ring_producer_t *p, ew_rec_t *rec);

/* Makes every reserved record visible (release store of tail). Returns 1 if anything new was
 * published, else 0. */
EW_EXTERN int ew_ring_publish(ew_ring_producer_t *p);

/* Called after ew_ring_reserve() failed: sets the ring's producer_waiting flag so that the
 * consumer wakes the producer when it releases space, then looks again. Returns 1 if
 * `body_len` now fits (reserve again; the flag may cause one spurious wakeup), else 0. */
EW_EXTERN int ew_ring_wait_space(ew_ring_producer_t *p, uint32_t body_len);

/* Consumer side; only the consuming thread calls these. */
EW_EXTERN void ew_ring_consumer_init(ew_ring_consumer_t *c, ew_ring_t *r);

/* Returns the next unread record, skipping PAD, or NULL when the ring is empty. The record
 * stays valid, and its memory the consumer's, until ew_ring_release() after the position has
 * moved past it. Does not advance. */
EW_EXTERN const ew_rec_t *ew_ring_next(ew_ring_consumer_t *c);

/* Moves the private read position past `rec` (returned by ew_ring_next()). */
EW_EXTERN void ew_ring_advance(ew_ring_consumer_t *c, const ew_rec_t *rec);

/* Publishes the read position (release store of head), freeing the space of every record the
 * consumer has advanced past. Returns 1 if the producer had asked to be woken
 * (ew_ring_wait_space), in which case the caller must wake it; else 0. */
EW_EXTERN int ew_ring_release(ew_ring_consumer_t *c);

/* Drops every published record: the read position jumps to the published tail (a consumer
 * taking over from one that is gone). The space is not released until ew_ring_release(). */
EW_EXTERN void ew_ring_skip(ew_ring_consumer_t *c);

/* Bytes published and not yet released; any thread, a snapshot. */
EW_EXTERN uint32_t ew_ring_used(const ew_ring_t *r);

#endif /* EW_RING_H */
