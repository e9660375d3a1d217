// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_CODEC_H
#define EW_CODEC_H

/* Codecs: what a protocol knows, kept out of the connection layer (docs/architecture.md).
 *
 * A connection (conn.c) moves bytes: it reads the socket into its input buffer through its
 * transport, writes ring memory to the socket, flushes, half-closes, lingers and closes. What the
 * bytes mean is its codec's business: the codec cuts the input into records for the port (frames,
 * raw chunks, HTTP requests), says what a FIN in the middle of a message means, runs the
 * protocol's own timeouts and answers (an HTTP 408), and follows the responses written. The
 * connection calls its codec only through this table; a codec calls down into the connection
 * through conn.h (ew__conn_reserve or the port's ring producer for records, ew__conn_block,
 * ew__conn_msg for the guard's window, ew__conn_write, ew__conn_end_with, ew__conn_fault,
 * ew__conn_stop_reading, ew__conn_close) and reads the connection's input buffer c->in.
 *
 * Adding a protocol (docs/architecture.md walks through codec_lines.c): a codec file defining an
 * ew__codec_t, its extern below and its line in codec.c's registry, an EW_FRAMING_* value
 * (runtime.h, exported through wire.h) and the file's line in native/sources.txt; listen
 * validates the framing against the registry. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ew/frame.h"

typedef struct ew__conn_s ew__conn_t;
struct evbuffer;

enum {
  /* The codec runs the connection's timers itself (tprog and tidle): the guard's idle,
   * first-message and partial-message timeouts do not apply (HTTP has header, body, response
   * and keep-alive timeouts instead). */
  EW__CODEC_OWN_TIMERS = 1u << 0,
};

typedef struct ew__codec_s {
  const char *name;
  uint32_t flags; /* EW__CODEC_* */
  /* The connection was adopted: its guard state is set, nothing has been read. Returns 0, or an
   * EW_* error that closes it. */
  int (*init)(ew__conn_t *c);
  /* The connection is being freed (any state). */
  void (*free)(ew__conn_t *c);
  /* Moves what the input buffer holds into records for the port. Returns 0 when it needs more
   * bytes, 1 when the ring is full (the connection is blocked: ew__conn_block), -1 when the
   * connection stopped reading or was closed. */
  int (*deliver)(ew__conn_t *c);
  /* The peer's FIN, after every byte before it was delivered (or left in the input buffer).
   * Returns true when the codec closed or is closing the connection (a message cut short),
   * false when the port should hear END as usual. */
  bool (*eof)(ew__conn_t *c);
  /* True while the input holds a message begun and not complete (the partial-message timeout
   * runs). */
  bool (*partial)(const ew__conn_t *c);
  /* The connection's progress timer (tprog, progress true) or idle timer (tidle) expired. Set
   * exactly when EW__CODEC_OWN_TIMERS is (test_codec checks it); NULL: the guard's timeouts run
   * them (idle, first message, partial message). */
  void (*timeout)(ew__conn_t *c, bool progress);
  /* `n` responses were written whole (SEND records flagged EW_REC_F_RESPONSE_END). Returns -1
   * if the connection was closed, else 0. */
  int (*sent)(ew__conn_t *c, uint32_t n);
  /* The guard kicked the connection for flooding (its close reason and CLOSE body are set): the
   * codec stops it reading and has it close once what came before is answered. Returns -1. */
  int (*kick)(ew__conn_t *c);
  /* The server is closing gracefully: true when the connection is idle (nothing owed, nothing
   * begun) and may end now; otherwise the codec makes the message in progress the last. */
  bool (*drain)(ew__conn_t *c);
  /* A SEND record flagged with any of EW_REC_F_CODEC is about to be written to the connection,
   * with its record flags: a codec that must follow what is written hears of those records (the
   * HTTP client: which request each response answers, EW_REC_F_REQUEST_START); NULL for the
   * others. It must not close the connection. */
  void (*outgoing)(ew__conn_t *c, uint32_t flags);
  /* A codec that transforms what JavaScript sends (message encryption) takes the bytes of
   * SEND records here, `n` pieces of ring memory, instead of their going out as they are: it
   * appends what is to be written to c->out (the connection flushes it), or holds it. Returns
   * 0, or -1 if it closed the connection. NULL for the others (zero copy). */
  int (*seal)(ew__conn_t *c, const struct iovec *iov, int n);
  /* With seal: the bytes it holds back (not yet in c->out), which count as queued output for
   * the watermarks, the hard cap and a graceful end. */
  size_t (*held)(const ew__conn_t *c);
  /* Optional (frames): reads that land straight in the port's ring, with no input buffer
   * between. `land` is asked before a read of at most `want` bytes: it reserves ring memory
   * (ew__conn_t's port producer) and returns the handle with *to set to where the read goes, or
   * NULL to read into the input buffer as usual. Exactly one `landed` call follows, before
   * anything else is put in the ring: with the `n` bytes read (n > 0) it turns them into records
   * and delivers as deliver() does (same return values); with n = 0 (nothing read, an error,
   * or a kick) it takes the reservation back. Only for connections without C_LAYERED. */
  void *(*land)(ew__conn_t *c, size_t want, struct iovec *to);
  int (*landed)(ew__conn_t *c, void *handle, size_t n);
} ew__codec_t;

extern const ew__codec_t ew__codec_frames;
extern const ew__codec_t ew__codec_raw;
extern const ew__codec_t ew__codec_http;
extern const ew__codec_t ew__codec_lines;
extern const ew__codec_t ew__codec_http_client;
extern const ew__codec_t ew__codec_frames_crypt;

/* The frames codec's state and its delivery from any buffer: the frames codec delivers from the
 * connection's input, the encrypting one from the frames it has decrypted. */
typedef struct ew__frames_state_s {
  ew_frame_header_t hdr; /* the header of the frame being received, once it is read */
  uint32_t delivered;    /* body bytes of that frame already delivered as fragments */
  uint32_t have_hdr;     /* hdr is valid */
} ew__frames_state_t;
int ew__frames_deliver(ew__conn_t *c, struct evbuffer *in, ew__frames_state_t *s);

/* Ops that several codecs share: state zeroed at init (inline state only), nothing to free,
 * a flood kick answered as a protocol fault (FAULT with EW_EFLOOD), and "always idle" for a
 * graceful close (a codec that owes nothing between messages). */
int ew__codec_init_zero(ew__conn_t *c);
void ew__codec_free_none(ew__conn_t *c);
int ew__codec_kick_fault(ew__conn_t *c);
bool ew__codec_drain_idle(ew__conn_t *c);

/* The codec of a framing (EW_FRAMING_*), or NULL if there is none. */
const ew__codec_t *ew__codec_for(int framing);

#endif /* EW_CODEC_H */
