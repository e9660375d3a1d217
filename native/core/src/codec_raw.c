// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

/* The raw codec: bytes as they come, in DATA records of at most one record's body each (type
 * and seq 0). Each record counts as one message against the window. Nothing is ever partial,
 * so a FIN is always a clean END. */

static int raw_deliver(ew__conn_t *c) {
  ew__io_t *io = c->io;
  ew__io_port_t *ip = &io->ports[c->port];
  uint32_t max_body = ip->prod.max_body;
  for (;;) {
    size_t avail = evbuffer_get_length(c->in);
    if (avail == 0) return 0;
    if (ip->ovf_head != NULL) {
      /* An OPEN or CLOSE is waiting for room: data must not overtake it. */
      ew__conn_block(c);
      return 1;
    }
    uint32_t chunk = avail < max_body ? (uint32_t)avail : max_body;
    if (ew__conn_msg(c) != 0) return -1;
    ew_rec_t *rec = ew_ring_reserve(&ip->prod, chunk);
    if (rec == NULL) {
      ew__conn_block(c);
      return 1;
    }
    rec->kind = EW_REC_DATA;
    rec->flags = 0;
    rec->conn = c->id;
    rec->type = 0;
    rec->seq = 0;
    evbuffer_remove(c->in, rec + 1, chunk);
    ip->dirty = true;
    ew__guard_delivered(c, 1);
  }
}

/* Reads that land in the ring: a read into an empty input buffer is itself the DATA record,
 * reserved before the read and shrunk to what came, so raw bytes are copied once on their way
 * in (kernel to ring) instead of twice. Anything else (bytes already buffered, control records
 * waiting for room, a window that is used up: its kick is raw_deliver's) reads into the input
 * buffer as before. */
#define LAND_MIN 512u

static void *raw_land(ew__conn_t *c, size_t want, struct iovec *to) {
  ew__io_port_t *ip = &c->io->ports[c->port];
  if (ip->ovf_head != NULL || evbuffer_get_length(c->in) != 0 || ew__guard_allowance(c) == 0)
    return NULL;
  ew_rec_t *rec =
      ew_ring_reserve_upto(&ip->prod, LAND_MIN, want > UINT32_MAX ? UINT32_MAX : (uint32_t)want);
  if (rec == NULL) return NULL;
  to->iov_base = rec + 1;
  to->iov_len = rec->len;
  rec->kind = EW_REC_PAD; /* never published as it is: shrunk or taken back first */
  ip->landing = true;
  return rec;
}

static int raw_landed(ew__conn_t *c, void *handle, size_t n) {
  ew_rec_t *rec = handle;
  ew__io_port_t *ip = &c->io->ports[c->port];
  ip->landing = false;
  if (n == 0) {
    ew_ring_unreserve(&ip->prod, rec);
    return 0;
  }
  /* As in the frames codec: behind a control record queued meanwhile, or over the window. */
  if (ip->ovf_head != NULL || ew__guard_allowance(c) == 0) {
    /* The bytes go the usual way, which waits behind the control record or kicks. */
    int err = evbuffer_add(c->in, rec + 1, n);
    ew_ring_unreserve(&ip->prod, rec);
    if (err != 0) {
      ew__conn_close(c, EW_ENOMEM, 0);
      return -1;
    }
    return raw_deliver(c);
  }
  ew_ring_shrink(&ip->prod, rec, (uint32_t)n);
  rec->kind = EW_REC_DATA;
  rec->flags = 0;
  rec->conn = c->id;
  rec->type = 0;
  rec->seq = 0;
  ip->dirty = true;
  ew__guard_delivered(c, 1);
  return 0;
}

static bool raw_eof(ew__conn_t *c) {
  (void)c;
  return false;
}

static bool raw_partial(const ew__conn_t *c) {
  (void)c;
  return false;
}

const ew__codec_t ew__codec_raw = {
    .name = "raw",
    .flags = 0,
    .init = ew__codec_init_zero,
    .free = ew__codec_free_none,
    .deliver = raw_deliver,
    .eof = raw_eof,
    .partial = raw_partial,
    .timeout = NULL, /* the guard's idle and first-message timeouts */
    .sent = NULL,
    .kick = ew__codec_kick_fault,
    .drain = ew__codec_drain_idle,
    .land = raw_land,
    .landed = raw_landed,
};
