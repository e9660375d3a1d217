// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "hparse.h"
#include "internal.h"

#include <ew/wire.h>
#include <llhttp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The HTTP/1.1 client codec (docs/http.md, "The client"): the connections of an HTTP link
 * (rt.connect({ protocol: 'http' })) carry requests that JavaScript formats and writes as plain
 * SEND records, and responses that llhttp parses here, in HTTP_RESPONSE mode, into one HTTP_RES
 * record each (ew/wire.h; fragments with EW_REC_F_MORE when larger than a record).
 *
 * A response is only meaningful as the answer to a request, and responses come in the order of
 * the requests (pipelined or not): JavaScript flags the first SEND record of each request with
 * EW_REC_F_REQUEST_START (and EW_REC_F_NO_BODY for HEAD), the connection layer passes the flags
 * of every SEND record through the `outgoing` op before writing it, and the codec keeps one bit
 * per request still unanswered. So the codec knows that a response to HEAD has no body whatever
 * its Content-Length says, and that bytes arriving when no request is owed an answer are not a
 * response at all (EW_EPROTO_HTTP).
 *
 * What it delivers and what it refuses:
 *   - interim responses (1xx: 100 Continue, 103 Early Hints) are parsed and dropped; 101 is an
 *     error (no request asks for an upgrade);
 *   - 204, 304 and answers to HEAD have no body; a body with neither Content-Length nor chunked
 *     coding ends with the connection (HTTP/1.0 style): the peer's FIN completes it;
 *   - the head above max_header_bytes (every byte from the status line to the empty line) or
 *     more than max_headers fields: EW_EHTTP_RES_HEADERS; a body above max_body_bytes (a
 *     Content-Length that announces it is refused at once): EW_EHTTP_RES_BODY; anything llhttp
 *     refuses (bare LF line ends, obs-fold, two Content-Lengths, Content-Length with chunked),
 *     an HTTP major version other than 1, a name that is not a token, a NUL in a field value,
 *     chunk extensions above 16 KiB: EW_EPROTO_HTTP. Each is a FAULT: the responses before it are
 * delivered, and the connection closes with the reason once JavaScript has read them;
 *   - a FIN in the middle of a response (other than a close-delimited body) closes the
 *     connection with EW_EPROTO_TRUNCATED.
 * Whether the connection persists after a response is decided here from its Connection options
 * (RFC 9112 9.3, as the server side does: a close option anywhere in the list ends it; HTTP/1.1
 * persists, HTTP/1.0 only with keep-alive) and its framing (a close-delimited body ends it), and
 * travels in the record's flags; after a last response nothing more is read. */

#define MAX_CHUNK_EXT_BYTES (16u << 10)
/* Requests written and not yet answered, at most: JavaScript's `pipeline` is far below it. */
#define MAX_OWED 1024u

enum { CB_NONE = 0, CB_FIELD, CB_VALUE, CB_VALUE_DONE };

enum {
  S_PARSING = 0, /* between responses, or inside one */
  S_READY,       /* a complete response waits for ring room */
  S_STOPPED,     /* the last response was delivered (or an error): nothing more is read */
};

enum { P_MORE = 0, P_DONE = 1, P_INTERIM = 2, P_ERROR = -1 };

typedef struct hc_s {
  llhttp_t parser;
  const ew_http_limits_t *lim;
  uint8_t *buf; /* the response being built, in the HTTP_RES record format */
  uint32_t len, cap;
  uint32_t entry_at; /* offset of the current field's two u32 lengths */
  uint32_t reason_len, header_count, header_section, trailer_count, body_len;
  uint32_t trailer_bytes, ext_bytes;
  uint32_t head_bytes;             /* bytes of this response's head parsed so far */
  uint32_t push_off;               /* how much of a READY response has been pushed (fragments) */
  uint32_t started;                /* requests whose first bytes were written */
  uint32_t answered;               /* final responses parsed */
  uint64_t no_body[MAX_OWED / 64]; /* bit (request index % MAX_OWED): its response has no body */
  int err;                         /* the EW_* error that stopped the parser; 0: none */
  uint8_t state;
  uint8_t last_cb;
  bool in_head;  /* the next bytes belong to a response head (maxHeaderBytes counts them) */
  bool begun;    /* on_message_begin ran, on_message_complete not yet */
  bool in_body;  /* the head is complete: fields now are trailers */
  bool interim;  /* the message being parsed is a 1xx */
  bool done;     /* a complete final response waits in buf */
  bool keep;     /* ... and the connection persists after it */
  bool overflow; /* more than MAX_OWED requests unanswered (a bug in the writer) */
  bool conn_close, conn_keep;
  bool eof; /* the peer's FIN completed the response waiting in buf: close once it is pushed */
} hc_t;

static inline hc_t *H(const ew__conn_t *c) {
  return c->cs.p;
}

static hc_t *hc_of(llhttp_t *p) {
  return p->data;
}

static void put16(uint8_t *p, uint16_t v) {
  memcpy(p, &v, 2);
}

static bool owed_no_body(const hc_t *h, uint32_t i) {
  i %= MAX_OWED;
  return (h->no_body[i / 64] >> (i % 64)) & 1u;
}

/* Records the error that stops the parser and returns the value that makes llhttp stop. */
static int fail(hc_t *h, int err) {
  if (h->err == 0) h->err = err;
  return HPE_USER;
}

static int grow(hc_t *h, uint32_t more) {
  return ew__hbuf_grow(&h->buf, &h->cap, h->len, more);
}

static int append(hc_t *h, const char *at, size_t n) {
  return ew__hbuf_append(&h->buf, &h->len, &h->cap, at, n);
}

/* ---- llhttp callbacks ---------------------------------------------------------------------- */

static int on_message_begin(llhttp_t *p) {
  hc_t *h = hc_of(p);
  /* Bytes when no request awaits an answer are not a response to anything. */
  if (h->answered == h->started) return fail(h, EW_EPROTO_HTTP);
  h->len = EW_HTTP_RES_FIXED;
  h->reason_len = h->header_count = h->header_section = h->trailer_count = h->body_len = 0;
  h->trailer_bytes = h->ext_bytes = 0;
  h->conn_close = h->conn_keep = false;
  h->in_body = h->interim = false;
  h->last_cb = CB_NONE;
  h->begun = true;
  return grow(h, 0) == 0 ? 0 : fail(h, EW_ENOMEM);
}

static int on_status(llhttp_t *p, const char *at, size_t n) {
  hc_t *h = hc_of(p);
  h->reason_len += (uint32_t)n;
  return append(h, at, n) == 0 ? 0 : fail(h, EW_ENOMEM);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  hc_t *h = hc_of(p);
  if (h->last_cb != CB_FIELD) {
    if (h->header_count + h->trailer_count + 1 > h->lim->max_headers)
      return fail(h, EW_EHTTP_RES_HEADERS);
    if (h->in_body)
      h->trailer_count++;
    else
      h->header_count++;
    if (grow(h, 8) != 0) return fail(h, EW_ENOMEM);
    h->entry_at = h->len;
    memset(h->buf + h->len, 0, 8);
    h->len += 8;
    h->last_cb = CB_FIELD;
  }
  if (h->in_body) {
    h->trailer_bytes += (uint32_t)n;
    if (h->trailer_bytes > h->lim->max_header_bytes) return fail(h, EW_EHTTP_RES_HEADERS);
  }
  if (grow(h, (uint32_t)n) != 0) return fail(h, EW_ENOMEM);
  /* Names are lower-cased once here, so JavaScript never has to; llhttp has checked that they
   * are tokens, and so does this loop, whatever llhttp's version or leniency. */
  if (ew__http_lower_token(h->buf + h->len, at, n) != 0) return fail(h, EW_EPROTO_HTTP);
  h->len += (uint32_t)n;
  ew__hput32(h->buf + h->entry_at, ew__hget32(h->buf + h->entry_at) + (uint32_t)n);
  return 0;
}

static int on_header_field_complete(llhttp_t *p) {
  hc_t *h = hc_of(p);
  return h->last_cb == CB_FIELD && ew__hget32(h->buf + h->entry_at) != 0 ? 0
                                                                         : fail(h, EW_EPROTO_HTTP);
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  hc_t *h = hc_of(p);
  if (h->last_cb == CB_NONE) return fail(h, EW_EPROTO_HTTP);
  h->last_cb = CB_VALUE;
  if (h->in_body) {
    h->trailer_bytes += (uint32_t)n;
    if (h->trailer_bytes > h->lim->max_header_bytes) return fail(h, EW_EHTTP_RES_HEADERS);
  }
  if (memchr(at, 0, n) != NULL) return fail(h, EW_EPROTO_HTTP);
  uint32_t from = h->len;
  if (append(h, at, n) != 0) return fail(h, EW_ENOMEM);
  /* llhttp refuses a folded value (obs-fold), as Node's client does. Should a line break reach
   * a value anyway (a lenient llhttp), it becomes a space, as RFC 9112 5.2 has a user agent
   * replace a fold: no CR or LF ever reaches a header value in JavaScript. */
  for (uint32_t i = from; i < h->len; i++)
    if (h->buf[i] == '\r' || h->buf[i] == '\n') h->buf[i] = ' ';
  ew__hput32(h->buf + h->entry_at + 4, ew__hget32(h->buf + h->entry_at + 4) + (uint32_t)n);
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  hc_t *h = hc_of(p);
  if (h->last_cb == CB_FIELD) h->last_cb = CB_VALUE; /* an empty value: no on_header_value */
  if (h->last_cb != CB_VALUE) return fail(h, EW_EPROTO_HTTP);
  h->last_cb = CB_VALUE_DONE;
  /* Whitespace around a value is not part of it (RFC 9110 5.5); llhttp drops the leading kind
   * only. The value is the last thing in the buffer, so trimming is a shorter length. */
  uint32_t vl = ew__hget32(h->buf + h->entry_at + 4);
  while (vl > 0 && (h->buf[h->len - 1] == ' ' || h->buf[h->len - 1] == '\t')) {
    vl--;
    h->len--;
  }
  ew__hput32(h->buf + h->entry_at + 4, vl);
  uint32_t nl = ew__hget32(h->buf + h->entry_at);
  if (!h->in_body && nl == 10 && memcmp(h->buf + h->entry_at + 8, "connection", 10) == 0)
    ew__http_connection_options((const char *)h->buf + h->entry_at + 8 + nl, vl, &h->conn_close,
                                &h->conn_keep);
  return 0;
}

/* Returns 1 where the response has no body whatever its headers say (llhttp's F_SKIPBODY). */
static int on_headers_complete(llhttp_t *p) {
  hc_t *h = hc_of(p);
  h->in_head = false;
  if (llhttp_get_http_major(p) != 1) return fail(h, EW_EPROTO_HTTP);
  int status = llhttp_get_status_code(p);
  /* No request asks to switch protocols, and llhttp would hand the rest of the stream over. */
  if (status == 101 || status < 100 || status > 999) return fail(h, EW_EPROTO_HTTP);
  p->upgrade = 0;
  h->header_section = h->len - EW_HTTP_RES_FIXED - h->reason_len;
  h->in_body = true;
  h->last_cb = CB_NONE;
  if (status < 200) {
    h->interim = true;
    return 1;
  }
  /* 204 and 304 never have a body (RFC 9110 15.3.5, 15.4.5; a 304 may well carry the
   * Content-Length of the representation it stands for), nor does the answer to HEAD. */
  if (status == 204 || status == 304 || owed_no_body(h, h->answered)) return 1;
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > h->lim->max_body_bytes)
    return fail(h, EW_EHTTP_RES_BODY);
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  hc_t *h = hc_of(p);
  h->body_len += (uint32_t)n;
  if (h->body_len > h->lim->max_body_bytes) return fail(h, EW_EHTTP_RES_BODY);
  return append(h, at, n) == 0 ? 0 : fail(h, EW_ENOMEM);
}

static int on_chunk_ext(llhttp_t *p, const char *at, size_t n) {
  hc_t *h = hc_of(p);
  (void)at;
  h->ext_bytes += (uint32_t)n;
  return h->ext_bytes > MAX_CHUNK_EXT_BYTES ? fail(h, EW_EPROTO_HTTP) : 0;
}

static int on_chunk_header(llhttp_t *p) {
  hc_t *h = hc_of(p);
  h->last_cb = CB_NONE; /* trailers follow the last chunk: a field now starts a new entry */
  return 0;
}

/* Pauses after every message, interim ones too: the caller takes a final response (or drops an
 * interim one) before the next is parsed, and each llhttp_execute() covers at most one head, so
 * that head bytes are counted per response. */
static int on_message_complete(llhttp_t *p) {
  hc_t *h = hc_of(p);
  if (h->last_cb == CB_FIELD || h->last_cb == CB_VALUE) return fail(h, EW_EPROTO_HTTP);
  h->begun = false;
  h->in_head = true;
  if (h->interim) return HPE_PAUSED;
  bool http11 = llhttp_get_http_minor(p) >= 1;
  h->keep = !h->conn_close && (http11 || h->conn_keep) && !llhttp_message_needs_eof(p);
  uint8_t *b = h->buf;
  put16(b, (uint16_t)llhttp_get_status_code(p));
  b[2] = llhttp_get_http_major(p);
  b[3] = llhttp_get_http_minor(p);
  ew__hput32(b + 4, h->keep ? EW_HTTP_RES_F_KEEP_ALIVE : 0);
  ew__hput32(b + 8, h->reason_len);
  ew__hput32(b + 12, h->header_count);
  ew__hput32(b + 16, h->header_section);
  ew__hput32(b + 20, h->body_len);
  ew__hput32(b + 24, h->trailer_count);
  h->answered++;
  h->done = true;
  return HPE_PAUSED;
}

static llhttp_settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void init_settings(void) {
  ew__http_tokens_init();
  llhttp_settings_init(&settings);
  settings.on_message_begin = on_message_begin;
  settings.on_status = on_status;
  settings.on_header_field = on_header_field;
  settings.on_header_field_complete = on_header_field_complete;
  settings.on_header_value = on_header_value;
  settings.on_header_value_complete = on_header_value_complete;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_chunk_extension_name = on_chunk_ext;
  settings.on_chunk_extension_value = on_chunk_ext;
  settings.on_chunk_header = on_chunk_header;
  settings.on_message_complete = on_message_complete;
}

/* Parses up to `len` bytes. Sets *used and returns P_MORE (all consumed, the response goes on),
 * P_DONE (a final response is complete in buf), P_INTERIM (a 1xx was dropped; parse on) or
 * P_ERROR (h->err says why; the parser is finished). While a head is being received, llhttp is
 * given at most the bytes maxHeaderBytes still allows, so a head of exactly the limit passes
 * and one byte more fails, however the bytes are cut into reads. */
static int parse(hc_t *h, const char *data, size_t len, size_t *used) {
  *used = 0;
  bool head = h->in_head;
  size_t n = len;
  if (head) {
    uint32_t room = h->lim->max_header_bytes - h->head_bytes;
    if (n > room) n = room;
    if (n == 0) return fail(h, EW_EHTTP_RES_HEADERS), P_ERROR;
  }
  llhttp_errno_t e = llhttp_execute(&h->parser, data, n);
  if (e != HPE_OK && e != HPE_PAUSED) {
    if (h->err == 0) h->err = EW_EPROTO_HTTP;
    return P_ERROR;
  }
  size_t consumed = e == HPE_OK ? n : (size_t)(llhttp_get_error_pos(&h->parser) - data);
  *used = consumed;
  if (e == HPE_PAUSED) {
    h->head_bytes = 0;
    if (h->done) return P_DONE; /* resumed once the record is taken */
    llhttp_resume(&h->parser);
    return P_INTERIM;
  }
  if (head && h->in_head) {
    h->head_bytes += (uint32_t)consumed;
    if (consumed < len) return fail(h, EW_EHTTP_RES_HEADERS), P_ERROR;
  }
  return P_MORE;
}

/* ---- the codec ----------------------------------------------------------------------------- */

static int hc_init(ew__conn_t *c) {
  pthread_once(&settings_once, init_settings);
  hc_t *h = calloc(1, sizeof *h);
  if (h == NULL) return EW_ENOMEM;
  llhttp_init(&h->parser, HTTP_RESPONSE, &settings);
  h->parser.data = h;
  /* Persistence is decided here (on_message_complete), and nothing is parsed after a last
   * response: llhttp must not refuse the bytes after one it believes ends the connection. */
  llhttp_set_lenient_keep_alive(&h->parser, 1);
  h->lim = &c->prof->http;
  h->in_head = true;
  c->cs.p = h;
  return 0;
}

static void hc_free(ew__conn_t *c) {
  hc_t *h = H(c);
  if (h == NULL) return;
  free(h->buf);
  free(h);
  c->cs.p = NULL;
}

static void hc_outgoing(ew__conn_t *c, uint32_t flags) {
  hc_t *h = H(c);
  if (!(flags & EW_REC_F_REQUEST_START)) return;
  if (h->started - h->answered >= MAX_OWED) {
    h->overflow = true; /* the next deliver faults the connection */
    return;
  }
  uint32_t i = h->started % MAX_OWED;
  uint64_t bit = 1ull << (i % 64);
  if (flags & EW_REC_F_NO_BODY)
    h->no_body[i / 64] |= bit;
  else
    h->no_body[i / 64] &= ~bit;
  h->started++;
}

/* Moves the complete response into the port's ring, in fragments if it is larger than a
 * record. 0 when all of it is there, 1 when the ring is full (the connection is blocked). */
static int push_response(ew__conn_t *c) {
  hc_t *h = H(c);
  while (h->push_off < h->len) {
    uint32_t rest = h->len - h->push_off;
    uint32_t n = rest;
    ew_rec_t *rec = ew__conn_reserve(c, &n);
    if (rec == NULL) return 1;
    rec->kind = EW_REC_HTTP_RES;
    rec->flags = (uint16_t)(n < rest ? EW_REC_F_MORE : 0);
    rec->conn = c->id;
    rec->type = 0;
    rec->seq = h->answered - 1;
    memcpy(rec + 1, h->buf + h->push_off, n);
    h->push_off += n;
  }
  return 0;
}

static int protocol_error(ew__conn_t *c, int err) {
  hc_t *h = H(c);
  h->state = S_STOPPED;
  const char *why = llhttp_get_error_reason(&h->parser);
  EW_LOG_DEBUG(c->io->rt, "connection %llu: HTTP response refused: %s (%s: %s)",
               (unsigned long long)c->id, ew_err_name(err),
               llhttp_errno_name(llhttp_get_errno(&h->parser)), why != NULL ? why : "");
  ew__conn_fault(c, err);
  return -1;
}

static int hc_deliver(ew__conn_t *c) {
  hc_t *h = H(c);
  for (;;) {
    if (h->overflow) return protocol_error(c, EW_EINVAL);
    if (h->state == S_READY) {
      /* A response counts against the connection's message window before it is delivered. */
      if (h->push_off == 0 && ew__conn_msg(c) != 0) return -1;
      if (push_response(c) != 0) return 1;
      ew__guard_delivered(c, 1);
      h->done = false;
      h->push_off = 0;
      llhttp_resume(&h->parser);
      if (h->eof) {
        /* The FIN ended this response's body: nothing can follow it. */
        ew__conn_close(c, EW_EOF, 0);
        return -1;
      }
      if (!h->keep) {
        /* The server ends the connection after this response; JavaScript closes it. */
        h->state = S_STOPPED;
        ew__conn_stop_reading(c);
        return -1;
      }
      h->state = S_PARSING;
    }
    if (h->state == S_STOPPED) return -1;
    struct evbuffer_iovec v;
    if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) return 0;
    size_t used = 0;
    int r = parse(h, v.iov_base, v.iov_len, &used);
    evbuffer_drain(c->in, used);
    if (r == P_DONE)
      h->state = S_READY;
    else if (r == P_ERROR)
      return protocol_error(c, h->err);
  }
}

static bool hc_eof(ew__conn_t *c) {
  hc_t *h = H(c);
  if (h->state != S_PARSING || !h->begun) return false; /* END, as for any connection */
  /* A response in progress: the FIN ends a close-delimited body, or cuts the response short. */
  llhttp_errno_t e = llhttp_finish(&h->parser);
  if ((e == HPE_OK || e == HPE_PAUSED) && h->done) {
    h->state = S_READY;
    h->eof = true;
    hc_deliver(c); /* pushed and closed, or blocked until there is room (deliver closes then) */
    return true;
  }
  ew__conn_close(c, h->err != 0 ? h->err : EW_EPROTO_TRUNCATED, 0);
  return true;
}

static bool hc_partial(const ew__conn_t *c) {
  const hc_t *h = H(c);
  return h->state == S_PARSING && h->begun;
}

static int hc_kick(ew__conn_t *c) {
  H(c)->state = S_STOPPED;
  ew__conn_fault(c, EW_EFLOOD);
  return -1;
}

/* Idle: no request waits for its response and none is being received. */
static bool hc_drain(ew__conn_t *c) {
  const hc_t *h = H(c);
  return h->started == h->answered && !h->begun && h->state != S_READY;
}

const ew__codec_t ew__codec_http_client = {
    .name = "http-client",
    .flags = 0,
    .init = hc_init,
    .free = hc_free,
    .deliver = hc_deliver,
    .eof = hc_eof,
    .partial = hc_partial,
    .timeout = NULL, /* the guard's: limits.partialFrameTimeoutMs bounds a response in progress */
    .sent = NULL,
    .kick = hc_kick,
    .drain = hc_drain,
    .outgoing = hc_outgoing,
};
