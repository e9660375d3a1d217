// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "hparse.h"

#include <ew/error.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { CB_NONE = 0, CB_FIELD, CB_VALUE, CB_VALUE_DONE };

/* The request-head scanner's states. It reads the bytes of a request head (request line and
 * header lines, up to the empty line) alongside llhttp, and rejects line endings and line
 * shapes that some parsers accept and others do not: that disagreement is what request
 * smuggling is made of, so no llhttp version or leniency decides it. */
enum {
  SC_START = 0, /* before the request line: empty lines (CRLF) are skipped, as RFC 9112 2.2 allows */
  SC_START_CR,  /* a CR before the request line */
  SC_LINE,      /* inside a line */
  SC_CR,        /* a CR inside a line: LF must follow */
  SC_BOL,       /* the beginning of a header line */
  SC_END_CR,    /* the CR of the empty line that ends the head */
  SC_DONE,      /* the head is over (body, or the request is complete) */
};

static int grow(ew__hparse_t *hp, uint32_t more) {
  if (more > UINT32_MAX - hp->len) return -1;
  if (hp->len + more <= hp->cap) return 0;
  uint32_t cap = hp->cap ? hp->cap : 1024;
  while (cap < hp->len + more) {
    if (cap > UINT32_MAX / 2) return -1;
    cap *= 2;
  }
  uint8_t *b = realloc(hp->buf, cap);
  if (b == NULL) return -1;
  hp->buf = b;
  hp->cap = cap;
  return 0;
}

static int append(ew__hparse_t *hp, const char *at, size_t n) {
  if (grow(hp, (uint32_t)n) != 0) return -1;
  memcpy(hp->buf + hp->len, at, n);
  hp->len += (uint32_t)n;
  return 0;
}

static void put32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
 * / DIGIT / ALPHA (RFC 9110 5.6.2). */
static bool is_token(unsigned char ch) {
  if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return true;
  return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static ew__hparse_t *hp_of(llhttp_t *p) {
  return p->data;
}

/* Records the answer owed and returns the value that makes llhttp stop. */
static int fail(ew__hparse_t *hp, int status) {
  if (hp->status == 0) hp->status = status;
  return HPE_USER;
}

static int on_message_begin(llhttp_t *p) {
  ew__hparse_t *hp = hp_of(p);
  hp->len = EW_HTTP_REQ_FIXED;
  hp->url_len = hp->header_count = hp->header_section = hp->trailer_count = 0;
  hp->header_bytes = hp->body_len = hp->ext_bytes = 0;
  hp->hosts = hp->content_lengths = hp->transfer_encodings = 0;
  hp->last_cb = CB_NONE;
  hp->in_body = hp->expect_continue = false;
  hp->begun = true;
  if (grow(hp, 0) != 0) return fail(hp, 400);
  if (hp->ops != NULL && hp->ops->begin != NULL) hp->ops->begin(hp->ud);
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
  ew__hparse_t *hp = hp_of(p);
  hp->url_len += (uint32_t)n;
  hp->header_bytes += (uint32_t)n;
  if (hp->url_len > hp->lim->max_url_bytes) return fail(hp, 414);
  if (hp->header_bytes > hp->lim->max_header_bytes) return fail(hp, 431);
  return append(hp, at, n) == 0 ? 0 : fail(hp, 400);
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  ew__hparse_t *hp = hp_of(p);
  if (hp->last_cb != CB_FIELD) {
    if (hp->header_count + hp->trailer_count + 1 > hp->lim->max_headers) return fail(hp, 431);
    if (hp->in_body)
      hp->trailer_count++;
    else
      hp->header_count++;
    if (grow(hp, 8) != 0) return fail(hp, 400);
    hp->entry_at = hp->len;
    memset(hp->buf + hp->len, 0, 8);
    hp->len += 8;
    hp->last_cb = CB_FIELD;
  }
  hp->header_bytes += (uint32_t)n;
  if (hp->header_bytes > hp->lim->max_header_bytes) return fail(hp, 431);
  if (grow(hp, (uint32_t)n) != 0) return fail(hp, 400);
  /* Names are case-insensitive: lower-cased once here, so JavaScript never has to. They must be
   * tokens (RFC 9110 5.1): RFC 9112 5.1 says a server must reject anything else with 400, since
   * proxies disagree on what such a name means. */
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)at[i];
    if (!is_token(ch)) return fail(hp, 400);
    hp->buf[hp->len + i] = (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
  }
  hp->len += (uint32_t)n;
  put32(hp->buf + hp->entry_at, get32(hp->buf + hp->entry_at) + (uint32_t)n);
  return 0;
}

static bool name_is(const ew__hparse_t *hp, const char *name, uint32_t len) {
  return get32(hp->buf + hp->entry_at) == len && memcmp(hp->buf + hp->entry_at + 8, name, len) == 0;
}

/* Fields that may not come as trailers: they frame, route or control the message (RFC 9110
 * 6.5.1), and a recipient that merged them into the headers would be fooled. */
static bool forbidden_trailer(const ew__hparse_t *hp) {
  static const char *const names[] = {
      "content-length", "transfer-encoding", "host",   "connection", "keep-alive",
      "upgrade",        "te",                "trailer", "expect",    "proxy-connection",
      "content-type",   "content-encoding",  "content-range", "authorization",
      "cookie",         "set-cookie",        "cache-control", "max-forwards",
  };
  uint32_t nl = get32(hp->buf + hp->entry_at);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (nl == strlen(names[i]) && memcmp(hp->buf + hp->entry_at + 8, names[i], nl) == 0) return true;
  return false;
}

static int on_header_field_complete(llhttp_t *p) {
  ew__hparse_t *hp = hp_of(p);
  if (hp->last_cb != CB_FIELD || get32(hp->buf + hp->entry_at) == 0) return fail(hp, 400);
  if (hp->in_body) return forbidden_trailer(hp) ? fail(hp, 400) : 0;
  if (name_is(hp, "host", 4)) hp->hosts++;
  else if (name_is(hp, "content-length", 14)) hp->content_lengths++;
  else if (name_is(hp, "transfer-encoding", 17)) hp->transfer_encodings++;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  ew__hparse_t *hp = hp_of(p);
  /* A value after a complete value, with no name between: an obs-fold continuation line
   * (RFC 9112 5.2), which a server must reject or replace with spaces; evwire rejects it, as
   * Node does. A value with no name at all is a line that began with a colon. */
  if (hp->last_cb == CB_VALUE_DONE || hp->last_cb == CB_NONE) return fail(hp, 400);
  hp->last_cb = CB_VALUE;
  hp->header_bytes += (uint32_t)n;
  if (hp->header_bytes > hp->lim->max_header_bytes) return fail(hp, 431);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)at[i];
    if (ch == '\r' || ch == '\n' || ch == 0) return fail(hp, 400);
  }
  if (append(hp, at, n) != 0) return fail(hp, 400);
  put32(hp->buf + hp->entry_at + 4, get32(hp->buf + hp->entry_at + 4) + (uint32_t)n);
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  ew__hparse_t *hp = hp_of(p);
  if (hp->last_cb == CB_FIELD) {
    /* An empty value: llhttp calls no on_header_value for it. */
    hp->last_cb = CB_VALUE;
  }
  if (hp->last_cb != CB_VALUE) return fail(hp, 400);
  hp->last_cb = CB_VALUE_DONE;
  /* Whitespace around a value is not part of it (RFC 9110 5.5); llhttp drops the leading kind
   * only. The value is the last thing in the buffer, so trimming is a shorter length. */
  uint32_t vl = get32(hp->buf + hp->entry_at + 4);
  while (vl > 0 && (hp->buf[hp->len - 1] == ' ' || hp->buf[hp->len - 1] == '\t')) {
    vl--;
    hp->len--;
  }
  put32(hp->buf + hp->entry_at + 4, vl);
  if (!hp->in_body && name_is(hp, "expect", 6) && get32(hp->buf + hp->entry_at + 4) == 12) {
    uint32_t nl = get32(hp->buf + hp->entry_at);
    if (strncasecmp((const char *)hp->buf + hp->entry_at + 8 + nl, "100-continue", 12) == 0)
      hp->expect_continue = true;
  }
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  ew__hparse_t *hp = hp_of(p);
  if (llhttp_get_http_major(p) != 1) return fail(hp, 505);
  if (p->method == HTTP_CONNECT) return fail(hp, 501); /* no tunnels are offered */
  /* llhttp also parses RTSP and ICE request lines: only HTTP's methods are served. */
  switch (p->method) {
#define XX(num, name, string) case num:
    HTTP_METHOD_MAP(XX)
#undef XX
    break;
  default:
    return fail(hp, 501);
  }
  /* Any other Upgrade is ignored, as RFC 9110 7.8 allows and Node does: the request is served
   * as HTTP/1.1, and the bytes after it are the next request. */
  p->upgrade = 0;
  bool http11 = llhttp_get_http_minor(p) >= 1;
  if ((http11 && hp->hosts != 1) || hp->hosts > 1) return fail(hp, 400);
  if (hp->content_lengths > 1) return fail(hp, 400);
  if (hp->transfer_encodings != 0) {
    /* RFC 9112 6.1 and 6.3: Transfer-Encoding in HTTP/1.0 means faulty framing, and in a
     * request its last coding must be chunked; with Content-Length it is a smuggling attempt. */
    if (!http11 || hp->content_lengths != 0 || !(p->flags & F_CHUNKED)) return fail(hp, 400);
  }
  hp->header_section = hp->len - EW_HTTP_REQ_FIXED - hp->url_len;
  hp->in_body = true;
  hp->last_cb = CB_NONE;
  bool has_body = (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > hp->lim->max_body_bytes)
    return fail(hp, 413);
  if (has_body && hp->ops != NULL && hp->ops->body_begins != NULL &&
      hp->ops->body_begins(hp->ud, hp->expect_continue) != 0)
    return HPE_USER;
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  ew__hparse_t *hp = hp_of(p);
  hp->body_len += (uint32_t)n;
  if (hp->body_len > hp->lim->max_body_bytes) return fail(hp, 413);
  return append(hp, at, n) == 0 ? 0 : fail(hp, 400);
}

static int on_chunk_ext(llhttp_t *p, const char *at, size_t n) {
  ew__hparse_t *hp = hp_of(p);
  (void)at;
  hp->ext_bytes += (uint32_t)n;
  return hp->ext_bytes > EW_HTTP_MAX_CHUNK_EXT_BYTES ? fail(hp, 413) : 0;
}

static int on_chunk_header(llhttp_t *p) {
  ew__hparse_t *hp = hp_of(p);
  /* Trailers follow the last chunk: a field now starts a new entry. */
  hp->last_cb = CB_NONE;
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  ew__hparse_t *hp = hp_of(p);
  if (hp->last_cb == CB_FIELD || hp->last_cb == CB_VALUE) return fail(hp, 400);
  uint8_t *b = hp->buf;
  b[0] = (uint8_t)llhttp_get_method(p);
  b[1] = llhttp_get_http_major(p);
  b[2] = llhttp_get_http_minor(p);
  b[3] = llhttp_should_keep_alive(p) ? EW_HTTP_F_KEEP_ALIVE : 0;
  put32(b + 4, hp->header_count);
  put32(b + 8, hp->url_len);
  put32(b + 12, hp->body_len);
  put32(b + 16, hp->header_section);
  put32(b + 20, hp->trailer_count);
  hp->done = true;
  hp->begun = false;
  /* Pause after every request: it is taken (or the connection waits for ring room) before the
   * next pipelined request is parsed. */
  return HPE_PAUSED;
}

static llhttp_settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void init_settings(void) {
  llhttp_settings_init(&settings);
  settings.on_message_begin = on_message_begin;
  settings.on_url = on_url;
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

int ew__hparse_init(ew__hparse_t *hp, const ew_http_limits_t *lim, const ew__hparse_ops_t *ops,
                    void *ud) {
  pthread_once(&settings_once, init_settings);
  memset(hp, 0, sizeof *hp);
  llhttp_init(&hp->parser, HTTP_REQUEST, &settings);
  hp->parser.data = hp;
  hp->lim = lim;
  hp->ops = ops;
  hp->ud = ud;
  hp->scan = SC_START;
  return 0;
}

void ew__hparse_free(ew__hparse_t *hp) {
  free(hp->buf);
  hp->buf = NULL;
  hp->cap = hp->len = 0;
}

/* Runs the head scanner over `data` until the head ends. Returns the offset of the first byte
 * that breaks the rules, or `len` if none does. */
static size_t scan_head(ew__hparse_t *hp, const char *data, size_t len) {
  uint8_t s = hp->scan;
  size_t i = 0;
  for (; i < len && s != SC_DONE; i++) {
    unsigned char ch = (unsigned char)data[i];
    switch (s) {
    case SC_START:
      if (ch == '\r') s = SC_START_CR;
      else if (ch == '\n') goto bad;
      else s = SC_LINE;
      break;
    case SC_START_CR:
      if (ch != '\n') goto bad;
      s = SC_START;
      break;
    case SC_LINE:
      if (ch == '\r') s = SC_CR;
      else if (ch == '\n' || ch == 0) goto bad;
      break;
    case SC_CR:
      if (ch != '\n') goto bad;
      s = SC_BOL;
      break;
    case SC_BOL:
      if (ch == '\r') s = SC_END_CR;
      else if (ch == '\n' || ch == ' ' || ch == '\t' || ch == ':' || ch == 0) goto bad;
      else s = SC_LINE;
      break;
    case SC_END_CR:
      if (ch != '\n') goto bad;
      s = SC_DONE;
      break;
    default:
      break;
    }
  }
  hp->scan = s;
  return len;
bad:
  hp->scan = s;
  return i;
}

int ew__hparse_execute(ew__hparse_t *hp, const char *data, size_t len, size_t *used) {
  *used = 0;
  if (hp->status != 0) return EW__HPARSE_ERROR;
  if (hp->done) return EW__HPARSE_DONE;
  /* llhttp reads only up to a byte the scanner refused, so that a limit or an error it finds
   * earlier in the head is the one answered. */
  size_t n = hp->scan == SC_DONE ? len : scan_head(hp, data, len);
  llhttp_errno_t err = n == 0 ? HPE_OK : llhttp_execute(&hp->parser, data, n);
  if (err == HPE_OK) {
    *used = n;
    if (n < len) {
      hp->status = 400;
      return EW__HPARSE_ERROR;
    }
    return EW__HPARSE_MORE;
  }
  if (err == HPE_PAUSED && hp->done) {
    *used = (size_t)(llhttp_get_error_pos(&hp->parser) - data);
    return EW__HPARSE_DONE;
  }
  if (hp->status == 0) hp->status = err == HPE_INVALID_VERSION ? 505 : 400;
  return EW__HPARSE_ERROR;
}

void ew__hparse_next(ew__hparse_t *hp) {
  hp->done = false;
  hp->scan = SC_START;
  llhttp_resume(&hp->parser);
}

bool ew__hparse_midway(const ew__hparse_t *hp) {
  return !hp->done && hp->status == 0 && (hp->begun || hp->scan != SC_START);
}

bool ew__hparse_last(const ew__hparse_t *hp) {
  return hp->done && !(hp->buf[3] & EW_HTTP_F_KEEP_ALIVE);
}
