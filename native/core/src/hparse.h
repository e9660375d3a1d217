// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_HPARSE_H
#define EW_HPARSE_H

/* The HTTP/1.1 request parser: llhttp with evwire's own strictness checks, its limits and the
 * writer of the HTTP_REQ record. It knows no connection, socket or ring (codec_http.c, the HTTP
 * codec, is the glue), so the fuzz harness (native/fuzz/fuzz_http.c) drives exactly the code the IO
 * threads run.
 *
 * Strictness that does not depend on the llhttp version compiled in: besides what llhttp itself
 * rejects, the parser answers 400 for a bare LF or a bare CR in the request head, an obs-fold
 * continuation line (RFC 9112 5.2), an empty header name, a missing or repeated Host in an
 * HTTP/1.1 request (RFC 9112 3.2), a repeated Content-Length, Content-Length together with
 * Transfer-Encoding (RFC 9112 6.3), Transfer-Encoding in an HTTP/1.0 request (as nginx does),
 * Transfer-Encoding whose last coding is not chunked, and a trailer field that would change the
 * message's framing, routing or handling (RFC 9110 6.5.1), and a request line that does not end
 * in " HTTP/" DIGIT "." DIGIT (llhttp also takes RTSP/1.0 and ICE/1.0); 431 for a request head
 * (request line, header lines, line ends and the whitespace llhttp skips) above maxHeaderBytes;
 * 413 for chunk extensions above 16 KiB in one request (as Node does). Whether the connection
 * persists is decided from the Connection options as the record holds them (RFC 9112 9.3), not
 * by llhttp, which misses an option followed by HTAB. */

#include <ew/runtime.h>
#include <ew/wire.h>
#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The HTTP_REQ record's layout and flags (EW_HTTP_REQ_FIXED, EW_HTTP_F_*) are in ew/wire.h. */

/* Fields that may not come as trailers: they frame, route or control the message (RFC 9110
 * 6.5.1), and a recipient that merged them into the headers would be fooled. hparse.c answers
 * 400 to them; the fuzz oracle checks that none passes. */
#define EW__HPARSE_FORBIDDEN_TRAILERS(XX)                                                          \
  XX("content-length")                                                                             \
  XX("transfer-encoding")                                                                          \
  XX("host")                                                                                       \
  XX("connection")                                                                                 \
  XX("keep-alive")                                                                                 \
  XX("upgrade")                                                                                    \
  XX("te")                                                                                         \
  XX("trailer")                                                                                    \
  XX("expect")                                                                                     \
  XX("proxy-connection")                                                                           \
  XX("content-type")                                                                               \
  XX("content-encoding")                                                                           \
  XX("content-range")                                                                              \
  XX("authorization")                                                                              \
  XX("cookie")                                                                                     \
  XX("set-cookie")                                                                                 \
  XX("cache-control")                                                                              \
  XX("max-forwards")

/* Chunk extension bytes allowed in one request (Node's limit): more is answered 413. */
#define EW_HTTP_MAX_CHUNK_EXT_BYTES (16u << 10)

typedef struct ew__hparse_ops_s {
  /* The first byte of a request was parsed (timers move from keep-alive to header timeout). */
  void (*begin)(void *ud);
  /* The headers are complete and a body follows. `expect_continue`: the client asked for
   * 100 Continue. Returns 0, or -1 to stop parsing (the connection is gone). */
  int (*body_begins)(void *ud, bool expect_continue);
} ew__hparse_ops_t;

typedef struct ew__hparse_s {
  llhttp_t parser;
  const ew_http_limits_t *lim;
  const ew__hparse_ops_t *ops; /* may be NULL */
  void *ud;
  uint8_t *buf; /* the request being built, in the HTTP_REQ record format */
  uint32_t len, cap;
  uint32_t entry_at; /* offset of the current header's two u32 lengths */
  uint32_t url_len, header_count, header_section, trailer_count, header_bytes, body_len;
  uint32_t ext_bytes;
  int status;      /* the answer owed for the error that stopped the parser; 0: none */
  uint8_t last_cb; /* which callback ran last (obs-fold detection) */
  uint8_t scan;    /* the request-head scanner's state */
  uint8_t hosts, content_lengths, transfer_encodings;
  bool conn_close;      /* a Connection header holds the option close */
  bool conn_keep;       /* ... or keep-alive (HTTP/1.0's opt-in) */
  bool te_chunked;      /* the last Transfer-Encoding line's last coding is chunked */
  bool request_line;    /* the scanner is in the request line */
  uint8_t tail9;        /* the request line's ninth-last byte so far, and its last eight (the */
  uint64_t tail;        /*   scanner checks that it ends in " HTTP/" DIGIT "." DIGIT) */
  uint32_t head_bytes;  /* bytes of this request head the scanner has passed (maxHeaderBytes) */
  uint16_t scan_status; /* the answer owed where the scanner stopped early: 400 or 431 */
  bool in_body;         /* the headers are complete: fields now are trailers */
  bool expect_continue;
  bool begun; /* on_message_begin ran, on_message_complete not yet */
  bool done;  /* a complete request waits in buf */
} ew__hparse_t;

enum { EW__HPARSE_MORE = 0, EW__HPARSE_DONE = 1, EW__HPARSE_ERROR = -1 };

/* The record an HTTP parser builds (HTTP_REQ here, HTTP_RES in codec_http_client.c) grows in one
 * buffer: room for `more` bytes after `len` (doubling from 1 KiB), and an append. 0, or -1 when
 * it would pass 4 GiB or memory runs out. */
int ew__hbuf_grow(uint8_t **buf, uint32_t *cap, uint32_t len, uint32_t more);
int ew__hbuf_append(uint8_t **buf, uint32_t *len, uint32_t *cap, const void *at, size_t n);

/* The record's u32 fields, in host byte order at any alignment. */
static inline void ew__hput32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4);
}
static inline uint32_t ew__hget32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* A header name: each byte must be a tchar (RFC 9110 5.6.2); it is written to `to` in lower
 * case. 0, or -1 at a byte that is no tchar. ew__http_tokens_init() must have run (once, any
 * thread; the parsers' settings set-up does it). */
void ew__http_tokens_init(void);
int ew__http_lower_token(uint8_t *to, const char *at, size_t n);

/* Notes the options close and keep-alive of a Connection header value: a comma-separated list
 * of tokens with optional whitespace around each (RFC 9110 7.6.1), compared without case. The
 * request parser and the response codec (codec_http_client.c) both read them so. */
void ew__http_connection_options(const char *v, uint32_t n, bool *close, bool *keep);

/* Prepares `hp` for a connection's first request. `lim` must outlive it. Returns 0 or
 * EW_ENOMEM. */
int ew__hparse_init(ew__hparse_t *hp, const ew_http_limits_t *lim, const ew__hparse_ops_t *ops,
                    void *ud);
void ew__hparse_free(ew__hparse_t *hp);

/* Parses `len` bytes. Sets *used to the bytes consumed and returns EW__HPARSE_MORE (all of
 * them consumed, the request is not complete), EW__HPARSE_DONE (a request is complete in
 * hp->buf, hp->len bytes; the bytes after *used belong to the next one; call
 * ew__hparse_next() once the record is taken) or EW__HPARSE_ERROR (hp->status holds the
 * answer: 400, 413, 414, 431, 501 or 505; the parser is finished). */
int ew__hparse_execute(ew__hparse_t *hp, const char *data, size_t len, size_t *used);

/* The record in hp->buf was taken: the next request may be parsed. */
void ew__hparse_next(ew__hparse_t *hp);

/* True while a request has begun and is not complete (EOF now cuts it short). */
bool ew__hparse_midway(const ew__hparse_t *hp);

/* True when the request just completed may not be followed by another on this connection
 * (Connection: close, or HTTP/1.0 without keep-alive). */
bool ew__hparse_last(const ew__hparse_t *hp);

#endif /* EW_HPARSE_H */
