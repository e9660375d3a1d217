// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "echo_port.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct ew_echo_partial_s {
  ew_echo_partial_t *next;
  uint64_t conn;
  uint16_t type, flags;
  uint32_t seq;
  uint8_t *buf;
  size_t len, cap;
};

static void wake_cb(void *arg) {
  ew_echo_port_t *ep = arg;
  uint64_t one = 1;
  ssize_t r = write(ep->efd, &one, sizeof one);
  (void)r;
}

static uint32_t conn_io(uint64_t id) {
  return (uint32_t)((id >> 24) & 0xffu);
}

/* Tells IO thread `io` that the port published or released: a kick, or inline (the loop runs
 * on this thread) nothing: the owner runs the loop after the drain. */
static void kick(ew_echo_port_t *ep, uint32_t io) {
  if (!ep->inline_owner) ew_port_kick(ep->port, io);
}

/* Blocks until the out ring of `io` has room for `len`, kicking the IO thread so it drains. */
static ew_rec_t *reserve_out(ew_echo_port_t *ep, uint32_t io, uint32_t len) {
  ew_ring_producer_t *p = &ep->out[io];
  for (;;) {
    ew_rec_t *rec = ew_ring_reserve(p, len);
    if (rec != NULL) return rec;
    if (ep->inline_owner) {
      /* The loop that empties the ring is this thread's: one round of it, without looking at
       * the sockets, takes the records into the connections' output. */
      ew_ring_publish(p);
      int32_t next;
      ew_runtime_inline_run(ep->rt, EW_INLINE_NO_POLL, &next);
      continue;
    }
    if (ew_ring_publish(p)) ew_port_kick(ep->port, io);
    if (ew_ring_wait_space(p, len)) continue;
    struct pollfd pfd = {.fd = ep->efd, .events = POLLIN};
    poll(&pfd, 1, 10);
    uint64_t v;
    ssize_t r = read(ep->efd, &v, sizeof v);
    (void)r;
  }
}

void ew_echo_port_command(ew_echo_port_t *ep, uint32_t io, uint16_t kind, uint64_t conn,
                          uint32_t type) {
  ew_rec_t *rec = reserve_out(ep, io, 0);
  rec->kind = kind;
  rec->flags = 0;
  rec->conn = conn;
  rec->type = type;
  rec->seq = 0;
}

void ew_echo_port_send(ew_echo_port_t *ep, uint32_t io, uint64_t conn, const void *bytes,
                       uint32_t len) {
  const uint8_t *src = bytes;
  uint32_t max = ep->out[io].max_body;
  /* Larger sends travel as several SEND records; the IO thread writes them back to back. */
  do {
    uint32_t n = len < max ? len : max;
    ew_rec_t *rec = reserve_out(ep, io, n);
    rec->kind = EW_REC_SEND;
    rec->flags = 0;
    rec->conn = conn;
    rec->type = 0;
    rec->seq = 0;
    memcpy(rec + 1, src, n);
    src += n;
    len -= n;
  } while (len > 0);
}

static void send_frame(ew_echo_port_t *ep, uint32_t io, uint64_t conn, uint16_t type,
                       uint16_t flags, uint32_t seq, const uint8_t *body, uint32_t len) {
  uint32_t max = ep->out[io].max_body;
  ew_frame_header_t h = {.length = len, .type = type, .flags = flags, .seq = seq};
  if (len + EW_FRAME_HEADER_BYTES <= max) {
    /* The common case: header and body in one record, one iovec for the IO thread. */
    ew_rec_t *rec = reserve_out(ep, io, len + EW_FRAME_HEADER_BYTES);
    rec->kind = EW_REC_SEND;
    rec->flags = 0;
    rec->conn = conn;
    rec->type = 0;
    rec->seq = 0;
    ew_frame_encode((uint8_t *)(rec + 1), &h);
    memcpy((uint8_t *)(rec + 1) + EW_FRAME_HEADER_BYTES, body, len);
    return;
  }
  uint8_t hdr[EW_FRAME_HEADER_BYTES];
  ew_frame_encode(hdr, &h);
  ew_echo_port_send(ep, io, conn, hdr, sizeof hdr);
  ew_echo_port_send(ep, io, conn, body, len);
}

void ew_echo_port_dgram(ew_echo_port_t *ep, uint32_t io, uint32_t id, const uint8_t *prefix,
                        int raw, uint16_t type, uint16_t flags, uint32_t seq, const void *bytes,
                        uint32_t len) {
  uint32_t head = raw ? 0 : EW_FRAME_HEADER_BYTES;
  ew_rec_t *rec = reserve_out(ep, io, EW_DGRAM_PREFIX_BYTES + head + len);
  rec->kind = EW_REC_DGRAM_SEND;
  rec->flags = 0;
  rec->conn = id;
  rec->type = 0;
  rec->seq = 0;
  uint8_t *p = (uint8_t *)(rec + 1);
  memcpy(p, prefix, EW_DGRAM_PREFIX_BYTES);
  if (!raw) {
    ew_frame_header_t h = {.length = len, .type = type, .flags = flags, .seq = seq};
    ew_frame_encode(p + EW_DGRAM_PREFIX_BYTES, &h);
  }
  memcpy(p + EW_DGRAM_PREFIX_BYTES + head, bytes, len);
}

/* A DGRAM record: a datagram (echoed to its source when asked) or an error report. */
static void on_dgram(ew_echo_port_t *ep, uint32_t io, const ew_rec_t *rec) {
  const uint8_t *body = (const uint8_t *)(rec + 1);
  if (body[EW_DGRAM_OFF_FAMILY] == 0) {
    atomic_store(&ep->last_dgram_error, (int64_t)rec->seq);
    atomic_fetch_add(&ep->dgram_errors, 1);
    return;
  }
  atomic_fetch_add_explicit(&ep->dgrams, 1, memory_order_relaxed);
  if (!ep->dgram_echo) return;
  /* Frames have a type (never 0); raw datagrams come with type 0. */
  ew_echo_port_dgram(ep, io, (uint32_t)rec->conn, body, rec->type == 0, (uint16_t)rec->type,
                     rec->flags & 0xffu, rec->seq, body + EW_DGRAM_PREFIX_BYTES,
                     rec->len - EW_DGRAM_PREFIX_BYTES);
}

static ew_echo_partial_t **find_partial(ew_echo_port_t *ep, uint64_t conn) {
  ew_echo_partial_t **pp = &ep->partials;
  while (*pp != NULL && (*pp)->conn != conn)
    pp = &(*pp)->next;
  return pp;
}

static void drop_partial(ew_echo_port_t *ep, uint64_t conn) {
  ew_echo_partial_t **pp = find_partial(ep, conn);
  if (*pp == NULL) return;
  ew_echo_partial_t *p = *pp;
  *pp = p->next;
  free(p->buf);
  free(p);
}

static void on_data(ew_echo_port_t *ep, uint32_t io, const ew_rec_t *rec) {
  const uint8_t *body = (const uint8_t *)(rec + 1);
  if (ep->raw) {
    ew_echo_port_send(ep, io, rec->conn, body, rec->len);
    return;
  }
  ew_echo_partial_t **pp = find_partial(ep, rec->conn);
  if (*pp == NULL && !(rec->flags & EW_REC_F_MORE)) {
    send_frame(ep, io, rec->conn, (uint16_t)rec->type, rec->flags & 0xffu, rec->seq, body,
               rec->len);
    atomic_fetch_add_explicit(&ep->frames, 1, memory_order_relaxed);
    return;
  }
  ew_echo_partial_t *p = *pp;
  if (p == NULL) {
    p = calloc(1, sizeof *p);
    if (p == NULL) abort();
    p->conn = rec->conn;
    p->type = (uint16_t)rec->type;
    p->flags = rec->flags & 0xffu;
    p->seq = rec->seq;
    p->next = ep->partials;
    ep->partials = p;
    pp = &ep->partials;
  }
  if (p->len + rec->len > p->cap) {
    size_t cap = (p->len + rec->len) * 2;
    uint8_t *grown = realloc(p->buf, cap);
    if (grown == NULL) abort();
    p->buf = grown;
    p->cap = cap;
  }
  memcpy(p->buf + p->len, body, rec->len);
  p->len += rec->len;
  if (!(rec->flags & EW_REC_F_MORE)) {
    send_frame(ep, io, p->conn, p->type, p->flags, p->seq, p->buf, (uint32_t)p->len);
    atomic_fetch_add_explicit(&ep->frames, 1, memory_order_relaxed);
    drop_partial(ep, p->conn);
  }
}

int ew_echo_port_drain(ew_echo_port_t *ep) {
  int any = 0;
  for (uint32_t k = 0; k < ep->nio; k++) {
    const ew_rec_t *rec;
    int n = 0;
    while (n < 4096 && (rec = ew_ring_next(&ep->in[k])) != NULL) {
      any = 1;
      n++;
      if (ep->on_record != NULL) ep->on_record(ep, rec);
      switch (rec->kind) {
      case EW_REC_OPEN:
        atomic_fetch_add(&ep->opened, 1);
        atomic_store(&ep->last_open_id, rec->conn);
        break;
      case EW_REC_DATA:
        on_data(ep, conn_io(rec->conn), rec);
        break;
      case EW_REC_FRAMES:
        /* Whole frames as they came off the socket: their echo is the same bytes, in one
         * SEND (a FRAMES record never follows a fragment of the same connection). */
        ew_echo_port_send(ep, conn_io(rec->conn), rec->conn, rec + 1, rec->len);
        atomic_fetch_add_explicit(&ep->frames, rec->type, memory_order_relaxed);
        break;
      case EW_REC_DGRAM:
        on_dgram(ep, k, rec);
        break;
      case EW_REC_END:
        atomic_fetch_add(&ep->ends, 1);
        if (ep->end_on_peer_end) ew_echo_port_command(ep, k, EW_REC_SHUTDOWN, rec->conn, 0);
        break;
      case EW_REC_FAULT:
        /* Frames before the fault were answered above; now let it close with the reason. */
        drop_partial(ep, rec->conn);
        ew_echo_port_command(ep, k, EW_REC_SHUTDOWN, rec->conn, rec->type);
        break;
      case EW_REC_CLOSE:
        drop_partial(ep, rec->conn);
        atomic_store(&ep->last_close_reason, (int32_t)rec->type);
        atomic_fetch_add(&ep->closed, 1);
        break;
      case EW_REC_UNLISTEN:
        atomic_fetch_add(&ep->unlistens, 1);
        break;
      default:
        break;
      }
      ew_ring_advance(&ep->in[k], rec);
    }
    ep->heads[k] = ep->in[k].head;
  }
  /* Publish replies first, then free the in rings: an IO thread woken for room sees the
   * replies in the same round. */
  for (uint32_t k = 0; k < ep->nio; k++)
    if (ew_ring_publish(&ep->out[k])) kick(ep, k);
  for (uint32_t k = 0; k < ep->nio; k++)
    if (ew_ring_release(&ep->in[k])) kick(ep, k);
  return any;
}

static int port_ready(void *arg) {
  ew_echo_port_t *ep = arg;
  return ew_port_pending(ep->port, ep->heads) ||
         atomic_load_explicit(&ep->stop, memory_order_relaxed);
}

/* Blocks, after ew_port_prepare_sleep(), until the port's eventfd (or `also`, unless -1) is
 * readable or `ms` pass: the timeout only bounds how long a stop request waits. */
static void port_sleep(ew_echo_port_t *ep, int also, int ms) {
  struct pollfd pfd[2] = {{.fd = ep->efd, .events = POLLIN}, {.fd = also, .events = POLLIN}};
  ew_spin_sleep(&ep->spin);
  poll(pfd, also >= 0 ? 2 : 1, ms);
  uint64_t v;
  if (read(ep->efd, &v, sizeof v) > 0) {
    atomic_fetch_add(&ep->wakeups, 1);
    ew_spin_woke(&ep->spin);
  }
  ew_port_awake(ep->port);
}

static void *port_main(void *arg) {
  ew_echo_port_t *ep = arg;
  while (!atomic_load(&ep->stop)) {
    if (ew_echo_port_drain(ep)) continue;
    int hit = ew_spin_run(&ep->spin, port_ready, ep);
    atomic_store_explicit(&ep->spins, ep->spin.spins, memory_order_relaxed);
    atomic_store_explicit(&ep->spin_hits, ep->spin.hits, memory_order_relaxed);
    if (hit) continue;
    if (ew_port_prepare_sleep(ep->port, ep->heads)) continue;
    port_sleep(ep, -1, 50);
  }
  ew_echo_port_drain(ep);
  return NULL;
}

int ew_echo_port_attach(ew_echo_port_t *ep, ew_runtime_t *rt, uint32_t index) {
  ep->rt = rt;
  ep->port = ew_runtime_port(rt, index);
  if (ep->port == NULL) return EW_EINVAL;
  ep->nio = ew_runtime_io_threads(rt);
  ep->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ep->efd < 0) return ew_translate_sys_error(errno);
  for (uint32_t k = 0; k < ep->nio; k++) {
    ew_ring_consumer_init(&ep->in[k], ew_port_in(ep->port, k));
    ew_ring_producer_init(&ep->out[k], ew_port_out(ep->port, k));
    ep->heads[k] = ep->in[k].head;
  }
  atomic_store(&ep->stop, 0);
  /* The inline owner never spins: its loop and its drain take turns on one thread. */
  ew_spin_init(&ep->spin, ep->inline_owner ? 0 : ep->spin_us);
  int err = ew_port_attach(ep->port, wake_cb, ep);
  if (err != 0) close(ep->efd);
  return err;
}

void ew_echo_port_detach(ew_echo_port_t *ep) {
  ew_port_detach(ep->port);
  while (ep->partials != NULL)
    drop_partial(ep, ep->partials->conn);
  close(ep->efd);
}

/* Releases what the in rings hold without answering it; 1 if there was anything. */
static int discard(ew_echo_port_t *ep) {
  int any = 0;
  for (uint32_t k = 0; k < ep->nio; k++) {
    if (ew_ring_next(&ep->in[k]) == NULL) continue;
    any = 1;
    ew_ring_skip(&ep->in[k]);
    ep->heads[k] = ep->in[k].head;
    ew_ring_release(&ep->in[k]);
  }
  return any;
}

void ew_echo_port_run_inline(ew_echo_port_t *ep, int (*should_stop)(void *arg), void *arg) {
  ew_runtime_t *rt = ep->rt;
  int fd = ew_runtime_inline_fd(rt);
  int stopping = 0;
  for (;;) {
    if (!stopping && should_stop(arg)) {
      stopping = 1;
      ew_runtime_stop(rt, NULL, NULL);
    }
    int32_t next;
    int r = ew_runtime_inline_run(rt, 0, &next);
    if (r == EW_INLINE_STOPPED || r < 0) break;
    /* Stopping, the loop no longer takes sends (and is closing every connection): what still
     * arrives is let go, not answered, or a full out ring would wait forever. */
    int any = stopping ? discard(ep) : ew_echo_port_drain(ep);
    if (any || r != EW_INLINE_IDLE) continue;
    if (ew_port_prepare_sleep(ep->port, ep->heads)) continue;
    port_sleep(ep, fd, next >= 0 && next < 50 ? next : 50);
  }
  discard(ep);
}

int ew_echo_port_start(ew_echo_port_t *ep, ew_runtime_t *rt, uint32_t index) {
  int err = ew_echo_port_attach(ep, rt, index);
  if (err != 0) return err;
  err = pthread_create(&ep->thread, NULL, port_main, ep);
  if (err != 0) {
    ew_echo_port_detach(ep);
    return ew_translate_sys_error(err);
  }
  return 0;
}

void ew_echo_port_stop(ew_echo_port_t *ep) {
  atomic_store(&ep->stop, 1);
  wake_cb(ep);
  pthread_join(ep->thread, NULL);
  ew_echo_port_detach(ep);
}
