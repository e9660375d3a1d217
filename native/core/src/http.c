// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "http.h"
#include "internal.h"

#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
  S_IDLE = 0, /* between requests */
  S_HEAD,     /* request line and headers */
  S_BODY,     /* body */
  S_READY,    /* a complete request waits in buf for ring space */
  S_STOPPED,  /* no more requests: Connection: close, the last allowed request, or an error */
};

enum { CB_NONE = 0, CB_FIELD, CB_VALUE };

struct ew__http_s {
  llhttp_t parser;
  uint8_t *buf; /* the request being built, in the HTTP_REQ record format */
  uint32_t len, cap;
  uint32_t entry_at; /* offset of the current header's two u32 lengths */
  uint32_t url_len, header_count, header_bytes, body_len;
  uint32_t push_off; /* how much of a READY request has been pushed (fragments) */
  uint8_t state;
  uint8_t last_cb;
  bool stop_after;
  bool continued;
  uint32_t requests;  /* requests parsed */
  uint32_t delivered; /* requests handed to the port */
  uint32_t done;      /* responses the port finished (RESPONSE_END) */
  int err_status;     /* a native answer owed after err_after responses; 0: none */
  uint32_t err_after;
  int err_reason;
};

/* The fixed part of an HTTP_REQ record grows to u32 counts: header names or values of more than
 * 64 KiB are legal once the limits allow them. */
#undef EW_HTTP_REQ_FIXED
#define EW_HTTP_REQ_FIXED 20u

static const char *reason_phrase(int status) {
  switch (status) {
  case 400: return "Bad Request";
  case 408: return "Request Timeout";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 431: return "Request Header Fields Too Large";
  case 501: return "Not Implemented";
  case 505: return "HTTP Version Not Supported";
  default: return "Error";
  }
}

int ew__http_date(char *out) {
  /* One strftime a second per IO thread: the Date header is on every response. */
  static _Thread_local time_t cached_sec;
  static _Thread_local char cached[32];
  static _Thread_local int cached_len;
  time_t now = time(NULL);
  if (now != cached_sec || cached_len == 0) {
    struct tm tm;
    gmtime_r(&now, &tm);
    cached_len = (int)strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_sec = now;
  }
  memcpy(out, cached, (size_t)cached_len + 1);
  return cached_len;
}

/* ---- building the record ----------------------------------------------------------------- */

static int grow(ew__http_t *h, uint32_t more) {
  if (h->len + more <= h->cap) return 0;
  uint32_t cap = h->cap ? h->cap : 1024;
  while (cap < h->len + more) cap *= 2;
  uint8_t *b = realloc(h->buf, cap);
  if (b == NULL) return -1;
  h->buf = b;
  h->cap = cap;
  return 0;
}

static int append(ew__http_t *h, const char *at, size_t n) {
  if (grow(h, (uint32_t)n) != 0) return -1;
  memcpy(h->buf + h->len, at, n);
  h->len += (uint32_t)n;
  return 0;
}

static void put32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4);
}

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
 * / DIGIT / ALPHA (RFC 9110 5.6.2). */
static bool is_token(unsigned char ch) {
  if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return true;
  return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static ew__conn_t *conn_of(llhttp_t *p) {
  return p->data;
}

/* Records an error to be answered natively with `status`, stops the parser, and returns the
 * value that makes llhttp stop. */
static int fail(ew__conn_t *c, int status) {
  ew__http_t *h = c->http;
  if (h->err_status == 0) {
    h->err_status = status;
    h->err_reason = status == 408 ? EW_ETIMEDOUT : EW_EPROTO_HTTP;
  }
  return HPE_USER;
}

static int on_message_begin(llhttp_t *p) {
  ew__conn_t *c = conn_of(p);
  ew__http_t *h = c->http;
  h->len = EW_HTTP_REQ_FIXED;
  h->url_len = h->header_count = h->header_bytes = h->body_len = 0;
  h->last_cb = CB_NONE;
  h->continued = false;
  h->state = S_HEAD;
  if (grow(h, 0) != 0) return fail(c, 400);
  /* The header timeout of the first request counts from the accept (armed there); later ones
   * count from their first byte, after the keep-alive wait. */
  ew__tnode_disarm(&c->tidle);
  if (!ew__tnode_armed(&c->tprog))
    ew__io_arm(c->io, &c->tprog, c->srv->o.http.header_timeout_ms);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
  ew__conn_t *c = conn_of(p);
  ew__http_t *h = c->http;
  h->url_len += (uint32_t)n;
  h->header_bytes += (uint32_t)n;
  if (h->url_len > c->srv->o.http.max_url_bytes) return fail(c, 414);
  if (h->header_bytes > c->srv->o.http.max_header_bytes) return fail(c, 431);
  return append(h, at, n) == 0 ? 0 : fail(c, 400);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  ew__conn_t *c = conn_of(p);
  ew__http_t *h = c->http;
  const ew_listen_opts_t *o = &c->srv->o;
  if (h->last_cb != CB_FIELD) {
    if (++h->header_count > o->http.max_headers) return fail(c, 431);
    if (grow(h, 8) != 0) return fail(c, 400);
    h->entry_at = h->len;
    memset(h->buf + h->len, 0, 8);
    h->len += 8;
    h->last_cb = CB_FIELD;
  }
  h->header_bytes += (uint32_t)n;
  if (h->header_bytes > o->http.max_header_bytes) return fail(c, 431);
  if (grow(h, (uint32_t)n) != 0) return fail(c, 400);
  /* Names are case-insensitive: lower-cased once here, so JavaScript never has to. They must be
   * tokens (RFC 9110 5.1); llhttp 8 lets spaces through, which RFC 9112 5.1 says a server must
   * reject with 400, since proxies disagree on what such a name means. */
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)at[i];
    if (!is_token(ch)) return fail(c, 400);
    h->buf[h->len + i] = (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
  }
  h->len += (uint32_t)n;
  uint32_t name_len;
  memcpy(&name_len, h->buf + h->entry_at, 4);
  put32(h->buf + h->entry_at, name_len + (uint32_t)n);
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  ew__conn_t *c = conn_of(p);
  ew__http_t *h = c->http;
  h->last_cb = CB_VALUE;
  h->header_bytes += (uint32_t)n;
  if (h->header_bytes > c->srv->o.http.max_header_bytes) return fail(c, 431);
  if (append(h, at, n) != 0) return fail(c, 400);
  uint32_t value_len;
  memcpy(&value_len, h->buf + h->entry_at + 4, 4);
  put32(h->buf + h->entry_at + 4, value_len + (uint32_t)n);
  return 0;
}

/* Looks for `expect: 100-continue` among the headers parsed so far. */
static bool expects_continue(const ew__http_t *h) {
  uint32_t off = EW_HTTP_REQ_FIXED + h->url_len;
  for (uint32_t i = 0; i < h->header_count && off + 8 <= h->len; i++) {
    uint32_t nl, vl;
    memcpy(&nl, h->buf + off, 4);
    memcpy(&vl, h->buf + off + 4, 4);
    const char *name = (const char *)h->buf + off + 8;
    const char *value = name + nl;
    if (nl == 6 && memcmp(name, "expect", 6) == 0 && vl == 12 && strncasecmp(value, "100-continue", 12) == 0)
      return true;
    off += 8 + nl + vl;
  }
  return false;
}

static int on_headers_complete(llhttp_t *p) {
  ew__conn_t *c = conn_of(p);
  ew__http_t *h = c->http;
  if (llhttp_get_http_major(p) != 1) return fail(c, 505);
  if (p->upgrade) return fail(c, 501); /* protocol upgrades are not offered */
  ew__tnode_disarm(&c->tprog);
  bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->o.http.max_body_bytes)
    return fail(c, 413);
  if (has_body) {
    h->state = S_BODY;
    ew__io_arm(c->io, &c->tprog, c->srv->o.http.body_timeout_ms);
    /* 100 Continue is an interim answer to *this* request: sent only when no earlier response
     * is still owed, or the client would take it for the answer to an earlier request. A
     * client that gets none sends its body after a short wait anyway (RFC 9110 10.1.1). */
    if (h->done == h->delivered && expects_continue(h)) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (ew__conn_write(c, cont, sizeof cont - 1) != 0) return HPE_USER;
      h->continued = true;
    }
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  ew__conn_t *c = conn_of(p);
  ew__http_t *h = c->http;
  h->body_len += (uint32_t)n;
  if (h->body_len > c->srv->o.http.max_body_bytes) return fail(c, 413);
  return append(h, at, n) == 0 ? 0 : fail(c, 400);
}

static int on_message_complete(llhttp_t *p) {
  ew__conn_t *c = conn_of(p);
  ew__http_t *h = c->http;
  ew__tnode_disarm(&c->tprog);
  uint8_t flags = 0;
  if (llhttp_should_keep_alive(p))
    flags |= EW_HTTP_F_KEEP_ALIVE;
  else
    h->stop_after = true;
  h->requests++;
  uint32_t max = c->srv->o.http.max_requests;
  if (max != 0 && h->requests >= max) {
    flags = (uint8_t)((flags & ~EW_HTTP_F_KEEP_ALIVE) | EW_HTTP_F_LAST);
    h->stop_after = true;
  }
  if (h->continued) flags |= EW_HTTP_F_CONTINUED;
  uint8_t *b = h->buf;
  b[0] = (uint8_t)llhttp_get_method(p);
  b[1] = llhttp_get_http_major(p);
  b[2] = llhttp_get_http_minor(p);
  b[3] = flags;
  put32(b + 4, h->header_count);
  put32(b + 8, h->url_len);
  put32(b + 12, h->body_len);
  put32(b + 16, h->len - EW_HTTP_REQ_FIXED - h->url_len - h->body_len);
  h->state = S_READY;
  h->push_off = 0;
  /* Pause after every request: it is pushed (or the connection blocks on a full ring) before
   * the next pipelined request is parsed. */
  return HPE_PAUSED;
}

static llhttp_settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void init_settings(void) {
  llhttp_settings_init(&settings);
  settings.on_message_begin = on_message_begin;
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
}

/* ---- connection hooks --------------------------------------------------------------------- */

int ew__http_init(ew__conn_t *c) {
  pthread_once(&settings_once, init_settings);
  ew__http_t *h = calloc(1, sizeof *h);
  if (h == NULL) return EW_ENOMEM;
  llhttp_init(&h->parser, HTTP_REQUEST, &settings);
  h->parser.data = c;
  c->http = h;
  /* A connection that never sends a request is held to the header timeout (slowloris). */
  ew__io_arm(c->io, &c->tprog, c->srv->o.http.header_timeout_ms);
  return 0;
}

void ew__http_free(ew__conn_t *c) {
  if (c->http == NULL) return;
  free(c->http->buf);
  free(c->http);
  c->http = NULL;
}

/* Writes the owed native answer and closes once it is flushed. */
static int answer_error(ew__conn_t *c) {
  ew__http_t *h = c->http;
  char date[32];
  ew__http_date(date);
  char resp[256];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                   h->err_status, reason_phrase(h->err_status), date);
  EW__STAT(c->io, http_errors)++;
  int reason = h->err_reason;
  h->err_status = 0;
  h->state = S_STOPPED;
  if (ew__conn_write(c, resp, (size_t)n) != 0) return -1;
  return ew__conn_end_with(c, reason);
}

/* Stops reading for good and answers `status` natively, now or once the responses owed before
 * it are written. */
static int stop_with(ew__conn_t *c, int status) {
  ew__http_t *h = c->http;
  fail(c, status);
  h->state = S_STOPPED;
  h->err_after = h->delivered;
  ew__tnode_disarm(&c->tprog);
  ew__tnode_disarm(&c->tidle);
  ew__conn_stop_reading(c);
  if (h->done >= h->err_after) answer_error(c);
  return -1;
}

static int push_request(ew__conn_t *c) {
  ew__http_t *h = c->http;
  while (h->push_off < h->len) {
    uint32_t rest = h->len - h->push_off;
    uint32_t n = rest;
    ew_rec_t *rec = ew__conn_reserve(c, &n);
    if (rec == NULL) return 1;
    rec->kind = EW_REC_HTTP_REQ;
    rec->flags = (uint16_t)(n < rest ? EW_REC_F_MORE : 0);
    rec->conn = c->id;
    rec->type = 0;
    rec->seq = h->delivered;
    memcpy(rec + 1, h->buf + h->push_off, n);
    h->push_off += n;
  }
  h->delivered++;
  EW__STAT(c->io, http_requests)++;
  return 0;
}

int ew__http_deliver(ew__conn_t *c) {
  ew__http_t *h = c->http;
  for (;;) {
    if (h->state == S_READY) {
      /* A request counts against the connection's message window before it is delivered. */
      if (h->push_off == 0 && ew__guard_msg(c) != 0) return -1;
      if (push_request(c) != 0) return 1;
      ew__guard_delivered(c, 1);
      if (h->stop_after) {
        h->state = S_STOPPED;
        ew__conn_stop_reading(c);
        return -1;
      }
      h->state = S_IDLE;
      llhttp_resume(&h->parser);
    }
    if (h->state == S_STOPPED) return -1;
    struct evbuffer_iovec v;
    if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) return 0;
    const char *data = v.iov_base;
    llhttp_errno_t err = llhttp_execute(&h->parser, data, v.iov_len);
    if (err == HPE_OK) {
      evbuffer_drain(c->in, v.iov_len);
      continue;
    }
    if (err == HPE_PAUSED && h->state == S_READY) {
      evbuffer_drain(c->in, (size_t)(llhttp_get_error_pos(&h->parser) - data));
      continue;
    }
    /* A limit (already recorded by a callback) or malformed input. */
    int status = h->err_status != 0 ? h->err_status : err == HPE_INVALID_VERSION ? 505 : 400;
    EW_LOG_DEBUG(c->io->rt, "connection %llu: HTTP %d (%s)", (unsigned long long)c->id, status,
                 llhttp_errno_name(err));
    h->err_status = 0;
    return stop_with(c, status);
  }
}

bool ew__http_eof(ew__conn_t *c) {
  ew__http_t *h = c->http;
  if (h->state == S_HEAD || h->state == S_BODY) {
    /* The client gave up in the middle of a request: there is nobody to answer. */
    ew__conn_close(c, EW_EPROTO_TRUNCATED, 0);
    return true;
  }
  ew__tnode_disarm(&c->tprog);
  ew__tnode_disarm(&c->tidle);
  return false;
}

int ew__http_responses_done(ew__conn_t *c, uint32_t n) {
  ew__http_t *h = c->http;
  if (h == NULL) return 0;
  h->done += n;
  if (h->err_status != 0 && h->state == S_STOPPED && h->done >= h->err_after)
    return answer_error(c);
  /* Idle between requests: the keep-alive timeout runs until the next request begins. */
  if (h->state == S_IDLE && h->done == h->delivered && !(c->flags & C_PEER_EOF))
    ew__io_arm(c->io, &c->tidle, c->srv->o.http.keepalive_timeout_ms);
  return 0;
}

void ew__http_timeout(ew__conn_t *c, bool progress) {
  ew__http_t *h = c->http;
  if (!progress) {
    /* Keep-alive: nothing owed, nothing started. */
    EW__STAT(c->io, timeouts)++;
    ew__conn_close(c, EW_ETIMEDOUT, 0);
    return;
  }
  EW__STAT(c->io, timeouts)++;
  /* Headers or body too slow (slowloris), or not a byte since the accept: 408 and close. */
  (void)h;
  stop_with(c, 408);
}
