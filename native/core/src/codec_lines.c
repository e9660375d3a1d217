// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <string.h>

/* The lines codec (docs/protocol.md, "Lines"): newline-delimited text or bytes, what Netty's
 * LineBasedFrameDecoder and Node's readline over a socket give. Each line ends at "\n" (a "\r"
 * right before it is part of the terminator) and becomes one DATA record without its
 * terminator (type and seq 0), one message against the window. A line longer than the
 * profile's max_frame_bytes (maxLineBytes) is a protocol error (FAULT, EW_EPROTO_LENGTH); a
 * last line without terminator at the peer's FIN is delivered as it is, then END.
 *
 * Each line travels in one record, so the limit is clamped to the body a record of the port's
 * ring carries (a quarter of the ring). TypeScript validates maxLineBytes against it at
 * listen(); the clamp only covers C callers. */

typedef struct lines_state_s {
  /* Bytes at the head of the input known to hold no "\n": a long line arriving in many reads
   * is searched once, not once per read. */
  size_t scanned;
} lines_state_t;
_Static_assert(sizeof(lines_state_t) <= sizeof(ew__codec_state_t), "lines state fits inline");

static inline lines_state_t *st(ew__conn_t *c) {
  return (lines_state_t *)(void *)c->cs.bytes;
}

static uint32_t max_line(const ew__conn_t *c) {
  uint32_t max_body = c->io->ports[c->port].prod.max_body;
  uint32_t max = c->prof->max_frame_bytes;
  return max < max_body ? max : max_body;
}

/* The byte at offset `at` of the input (which holds more than `at` bytes). */
static uint8_t byte_at(ew__conn_t *c, size_t at) {
  struct evbuffer_ptr p;
  uint8_t ch = 0;
  if (evbuffer_ptr_set(c->in, &p, at, EVBUFFER_PTR_SET) == 0)
    evbuffer_copyout_from(c->in, &p, &ch, 1);
  return ch;
}

static void fill(ew_rec_t *rec, const ew__conn_t *c) {
  rec->kind = EW_REC_DATA;
  rec->flags = 0;
  rec->conn = c->id;
  rec->type = 0;
  rec->seq = 0;
}

/* Moves every complete line from the input buffer into the port's ring, each copied once:
 * from the input buffer into ring memory. */
static int lines_deliver(ew__conn_t *c) {
  ew__io_t *io = c->io;
  ew__io_port_t *ip = &io->ports[c->port];
  lines_state_t *s = st(c);
  uint32_t max = max_line(c);
  for (;;) {
    size_t avail = evbuffer_get_length(c->in);
    if (avail == 0) {
      s->scanned = 0;
      return 0;
    }
    if (ip->ovf_head != NULL) {
      /* An OPEN or CLOSE is waiting for room: data must not overtake it. */
      ew__conn_block(c);
      return 1;
    }
    if (s->scanned == 0) {
      /* Fast path: the lines lying wholly inside the first contiguous chunk (many short lines
       * in one read, the common case) are found with memchr, copied straight from it and
       * drained with one call. A line across chunks, a line too long, the window's limit and
       * a full ring fall through to the general path below, which handles each. */
      struct evbuffer_iovec v;
      if (evbuffer_peek(c->in, -1, NULL, &v, 1) >= 1) {
        const uint8_t *p = v.iov_base;
        size_t n = v.iov_len, used = 0;
        uint32_t lines = 0, allow = ew__guard_allowance(c);
        bool full = false, no_lf = false;
        while (lines < allow) {
          const uint8_t *lf = memchr(p + used, '\n', n - used);
          if (lf == NULL) {
            no_lf = true;
            break;
          }
          size_t len = (size_t)(lf - (p + used));
          size_t body = (len != 0 && lf[-1] == '\r') ? len - 1 : len;
          if (body > max) break;
          ew_rec_t *rec = ew_ring_reserve(&ip->prod, (uint32_t)body);
          if (rec == NULL) {
            full = true;
            break;
          }
          fill(rec, c);
          memcpy(rec + 1, p + used, body);
          used += len + 1;
          lines++;
        }
        if (used != 0) {
          evbuffer_drain(c->in, used);
          ew__guard_delivered(c, lines);
          ip->dirty = true;
        }
        if (full) {
          ew__conn_block(c);
          return 1;
        }
        /* The rest of the chunk was searched: the general path starts after it. */
        if (no_lf) s->scanned = n - used;
        if (used != 0) continue;
      }
    }
    /* General path: one line, wherever it lies in the buffer. */
    struct evbuffer_ptr from, lf;
    lf.pos = -1;
    if (s->scanned < avail && evbuffer_ptr_set(c->in, &from, s->scanned, EVBUFFER_PTR_SET) == 0)
      lf = evbuffer_search(c->in, "\n", 1, &from);
    if (lf.pos < 0) {
      s->scanned = avail;
      /* No terminator yet. The line is already too long once it holds more than max bytes
       * that a "\r\n" cannot shorten: the peer is cut off now, not when the "\n" comes. */
      if (avail > (size_t)max + 1 || (avail == (size_t)max + 1 && byte_at(c, avail - 1) != '\r'))
        goto too_long;
      return 0;
    }
    size_t len = (size_t)lf.pos;
    size_t body = (len != 0 && byte_at(c, len - 1) == '\r') ? len - 1 : len;
    if (body > max) goto too_long;
    if (ew__conn_msg(c) != 0) return -1;
    ew_rec_t *rec = ew_ring_reserve(&ip->prod, (uint32_t)body);
    if (rec == NULL) {
      s->scanned = len; /* the "\n" is found again at once */
      ew__conn_block(c);
      return 1;
    }
    fill(rec, c);
    if (body != 0) evbuffer_remove(c->in, rec + 1, body);
    evbuffer_drain(c->in, len + 1 - body);
    s->scanned = 0;
    ip->dirty = true;
    ew__guard_delivered(c, 1);
  }

too_long:
  EW_LOG_DEBUG(io->rt, "connection %llu: line longer than %u bytes", (unsigned long long)c->id,
               max);
  ew__conn_fault(c, EW_EPROTO_LENGTH);
  return -1;
}

static bool lines_partial(const ew__conn_t *c) {
  return evbuffer_get_length(c->in) > 0;
}

/* The peer's FIN: what follows the last "\n" is the last line (readline's semantics), without
 * a trailing "\r". deliver left at most max + 1 such bytes, the last a "\r" if there are that
 * many, so it fits in a record. */
static bool lines_eof(ew__conn_t *c) {
  size_t avail = evbuffer_get_length(c->in);
  if (avail == 0) return false;
  ew__io_t *io = c->io;
  ew__io_port_t *ip = &io->ports[c->port];
  size_t body = byte_at(c, avail - 1) == '\r' ? avail - 1 : avail;
  if (body > max_line(c)) {
    ew__conn_fault(c, EW_EPROTO_LENGTH);
    return true;
  }
  if (ew__conn_msg(c) != 0) return true;
  ew_rec_t *rec = ip->ovf_head == NULL ? ew_ring_reserve(&ip->prod, (uint32_t)body) : NULL;
  if (rec != NULL) {
    fill(rec, c);
    if (body != 0) evbuffer_remove(c->in, rec + 1, body);
    ip->dirty = true;
  } else {
    /* The ring is full and the connection reads no more, so it cannot wait for room as
     * deliver does: the line queues behind the control records, ahead of END, copied twice
     * (once in a connection's life). */
    const void *bytes = body != 0 ? evbuffer_pullup(c->in, (ev_ssize_t)body) : NULL;
    ew__io_push_ctrl(io, c->port, EW_REC_DATA, c->id, 0, 0, bytes, (uint32_t)body);
  }
  evbuffer_drain(c->in, avail);
  st(c)->scanned = 0;
  ew__guard_delivered(c, 1);
  return false;
}

const ew__codec_t ew__codec_lines = {
    .name = "lines",
    .flags = 0,
    .init = ew__codec_init_zero,
    .free = ew__codec_free_none,
    .deliver = lines_deliver,
    .eof = lines_eof,
    .partial = lines_partial,
    .timeout = NULL, /* the guard's idle, first-message and partial-message timeouts */
    .sent = NULL,
    .kick = ew__codec_kick_fault,
    .drain = ew__codec_drain_idle,
};
