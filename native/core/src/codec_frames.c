// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <string.h>

/* The frames codec (docs/protocol.md): a 12-byte header (length, type, flags, seq) and a body;
 * each frame becomes one DATA record, or several flagged EW_REC_F_MORE when it is larger than a
 * record carries. A bad header is a protocol error (FAULT), and so is a FIN inside a frame. */

typedef ew__frames_state_t frames_state_t;
_Static_assert(sizeof(frames_state_t) <= sizeof(ew__codec_state_t), "frames state fits inline");

static inline frames_state_t *st(ew__conn_t *c) {
  return (frames_state_t *)(void *)c->cs.bytes;
}

static inline const frames_state_t *cst(const ew__conn_t *c) {
  return (const frames_state_t *)(const void *)c->cs.bytes;
}

/* Moves every complete frame (or full-size fragment) from `in` into the port's ring. */
int ew__frames_deliver(ew__conn_t *c, struct evbuffer *in, ew__frames_state_t *s) {
  ew__io_t *io = c->io;
  ew__io_port_t *ip = &io->ports[c->port];
  uint32_t max_body = ip->prod.max_body;
  uint32_t max_frame = c->prof->max_frame_bytes;
  for (;;) {
    size_t avail = evbuffer_get_length(in);
    if (avail == 0) return 0;
    if (ip->ovf_head != NULL) {
      /* An OPEN or CLOSE is waiting for room: data must not overtake it. */
      ew__conn_block(c);
      return 1;
    }
    if (!s->have_hdr) {
      /* Fast path: frames lying wholly inside the first contiguous chunk are copied straight
       * from it and drained with one call, instead of a copyout, a drain and a remove each.
       * Anything unusual (a frame across chunks, a fragment, a bad header) falls through to the
       * general path below, which handles it. */
      struct evbuffer_iovec v;
      if (evbuffer_peek(in, -1, NULL, &v, 1) >= 1) {
        const uint8_t *p = v.iov_base;
        size_t n = v.iov_len, used = 0;
        uint32_t frames = 0, allow = ew__guard_allowance(c);
        bool full = false;
        while (n - used >= EW_FRAME_HEADER_BYTES && frames < allow) {
          ew_frame_header_t h;
          if (ew_frame_decode(p + used, max_frame, &h) != 0) break;
          if (h.length > max_body || n - used - EW_FRAME_HEADER_BYTES < h.length) break;
          ew_rec_t *rec = ew_ring_reserve(&ip->prod, h.length);
          if (rec == NULL) {
            full = true;
            break;
          }
          rec->kind = EW_REC_DATA;
          rec->flags = h.flags;
          rec->conn = c->id;
          rec->type = h.type;
          rec->seq = h.seq;
          memcpy(rec + 1, p + used + EW_FRAME_HEADER_BYTES, h.length);
          used += EW_FRAME_HEADER_BYTES + h.length;
          frames++;
        }
        if (used != 0) {
          evbuffer_drain(in, used);
          EW__STAT(io, frames_in) += frames;
          ew__guard_delivered(c, frames);
          ip->dirty = true;
        }
        if (full) {
          ew__conn_block(c);
          return 1;
        }
        if (used != 0) continue;
      }
      if (avail < EW_FRAME_HEADER_BYTES) return 0;
      uint8_t h[EW_FRAME_HEADER_BYTES];
      evbuffer_copyout(in, h, sizeof h);
      int err = ew_frame_decode(h, max_frame, &s->hdr);
      if (err != 0) {
        EW_LOG_DEBUG(io->rt, "connection %llu: bad frame header (length %u type %u flags 0x%x)",
                     (unsigned long long)c->id, s->hdr.length, s->hdr.type, s->hdr.flags);
        ew__conn_fault(c, err);
        return -1;
      }
      /* A frame that fits a record and is not all here yet: its header stays in the buffer, so
       * that the next read can land in the ring after it (frames_land). Only frames larger than
       * a record are taken apart as they come. */
      if (s->hdr.length <= max_body && avail - EW_FRAME_HEADER_BYTES < s->hdr.length) return 0;
      evbuffer_drain(in, EW_FRAME_HEADER_BYTES);
      avail -= EW_FRAME_HEADER_BYTES;
      s->have_hdr = 1;
      s->delivered = 0;
    }
    uint32_t chunk;
    uint16_t flags = 0;
    uint32_t rest = s->hdr.length - s->delivered;
    if (rest <= max_body) {
      if (avail < rest) return 0;
      chunk = rest;
    } else {
      /* Frames larger than a record travel as fragments as soon as each is complete, so a
       * connection never buffers more than one record's worth here. */
      if (avail < max_body) return 0;
      chunk = max_body;
      flags = EW_REC_F_MORE;
    }
    flags |= s->hdr.flags;
    /* A frame's last piece counts against the window first. */
    bool whole = !(flags & EW_REC_F_MORE);
    if (whole && ew__conn_msg(c) != 0) return -1;
    ew_rec_t *rec = ew_ring_reserve(&ip->prod, chunk);
    if (rec == NULL) {
      ew__conn_block(c);
      return 1;
    }
    rec->kind = EW_REC_DATA;
    rec->flags = flags;
    rec->conn = c->id;
    rec->type = s->hdr.type;
    rec->seq = s->hdr.seq;
    if (chunk) evbuffer_remove(in, rec + 1, chunk);
    ip->dirty = true;
    if (whole) {
      ew__guard_delivered(c, 1);
      s->have_hdr = 0;
      EW__STAT(io, frames_in)++;
    } else {
      s->delivered += chunk;
    }
  }
}

static int frames_deliver(ew__conn_t *c) {
  return ew__frames_deliver(c, c->in, st(c));
}

/* ---- reads that land in the ring ---------------------------------------------------------
 * A read goes straight into a ring reservation, after the bytes of a frame begun in an earlier
 * read (the carry, copied from the input buffer once the read has brought something). The
 * whole frames at the front become one FRAMES record, decoded where they landed: the consumer
 * reads each header and body in place, and the connection's input buffer is not involved. What
 * follows them (a frame not complete yet, one over the guard's window, a bad header) is copied
 * to the input buffer and takes the usual path, which reports errors and fragments large
 * frames. So the bytes of an echoed frame are copied once on their way in (kernel to ring),
 * where the input buffer path copies them twice (kernel to buffer, buffer to ring). */

/* The smallest read worth landing: below it the ring is nearly full, and the usual path blocks
 * the connection properly. A carry above LAND_CARRY_MAX (a frame begun that is larger than a
 * read) stays in the input buffer: copying it forward on every read would cost more than the
 * landing saves. */
#define LAND_MIN 4096u
#define LAND_CARRY_MAX 16384u

static void *frames_land(ew__conn_t *c, size_t want, struct iovec *to) {
  const frames_state_t *s = cst(c);
  ew__io_port_t *ip = &c->io->ports[c->port];
  if (s->have_hdr || ip->ovf_head != NULL) return NULL;
  size_t carry = evbuffer_get_length(c->in);
  if (carry > LAND_CARRY_MAX) return NULL;
  if (carry >= EW_FRAME_HEADER_BYTES) {
    /* A frame that will not fit one reservation goes the usual way, as fragments. */
    uint8_t h[4];
    evbuffer_copyout(c->in, h, sizeof h);
    uint32_t flen = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    if (flen > ip->prod.max_body - EW_FRAME_HEADER_BYTES) return NULL;
  }
  uint64_t ask = (uint64_t)carry + want;
  if (ask > UINT32_MAX) ask = UINT32_MAX;
  ew_rec_t *rec = ew_ring_reserve_upto(&ip->prod, (uint32_t)carry + LAND_MIN, (uint32_t)ask);
  if (rec == NULL) return NULL;
  to->iov_base = (uint8_t *)(rec + 1) + carry;
  to->iov_len = rec->len - carry;
  rec->kind = EW_REC_PAD; /* never published as it is: shrunk or taken back first */
  ip->landing = true;
  return rec;
}

static int frames_landed(ew__conn_t *c, void *handle, size_t n) {
  ew_rec_t *rec = handle;
  ew__io_t *io = c->io;
  ew__io_port_t *ip = &io->ports[c->port];
  ip->landing = false;
  if (n == 0) {
    ew_ring_unreserve(&ip->prod, rec);
    return 0;
  }
  uint8_t *p = (uint8_t *)(rec + 1);
  size_t carry = evbuffer_get_length(c->in);
  if (carry != 0) evbuffer_remove(c->in, p, carry);
  size_t total = carry + n, used = 0;
  uint32_t max_frame = c->prof->max_frame_bytes;
  /* Behind a control record queued while the read was open (the guard's BAN), no frame may go
   * ahead of it: none is taken here, and the bytes wait in the input buffer's path. */
  uint32_t frames = 0, allow = ip->ovf_head != NULL ? 0 : ew__guard_allowance(c);
  while (total - used >= EW_FRAME_HEADER_BYTES && frames < allow) {
    ew_frame_header_t h;
    if (ew_frame_decode(p + used, max_frame, &h) != 0) break;
    if (total - used - EW_FRAME_HEADER_BYTES < h.length) break;
    used += EW_FRAME_HEADER_BYTES + h.length;
    frames++;
  }
  if (used < total && evbuffer_add(c->in, p + used, total - used) != 0) {
    ew_ring_unreserve(&ip->prod, rec);
    ew__conn_close(c, EW_ENOMEM, 0);
    return -1;
  }
  if (frames == 0) {
    ew_ring_unreserve(&ip->prod, rec);
    return frames_deliver(c);
  }
  ew_ring_shrink(&ip->prod, rec, (uint32_t)used);
  rec->kind = EW_REC_FRAMES;
  rec->flags = 0;
  rec->conn = c->id;
  rec->type = frames;
  rec->seq = 0;
  ip->dirty = true;
  EW__STAT(io, frames_in) += frames;
  EW__STAT(io, frames_landed) += frames;
  ew__guard_delivered(c, frames);
  return used < total ? frames_deliver(c) : 0;
}

static bool frames_partial(const ew__conn_t *c) {
  return cst(c)->have_hdr || evbuffer_get_length(c->in) > 0;
}

/* A FIN inside a frame: the frame can never complete. */
static bool frames_eof(ew__conn_t *c) {
  if (!frames_partial(c)) return false;
  ew__conn_fault(c, EW_EPROTO_TRUNCATED);
  return true;
}

const ew__codec_t ew__codec_frames = {
    .name = "frames",
    .flags = 0,
    .init = ew__codec_init_zero,
    .free = ew__codec_free_none,
    .deliver = frames_deliver,
    .eof = frames_eof,
    .partial = frames_partial,
    .timeout = NULL, /* the guard's idle, first-message and partial-frame timeouts */
    .sent = NULL,
    .kick = ew__codec_kick_fault,
    .drain = ew__codec_drain_idle,
    .land = frames_land,
    .landed = frames_landed,
};
