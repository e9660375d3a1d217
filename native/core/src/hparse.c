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
  SC_START =
      0,       /* before the request line: empty lines (CRLF) are skipped, as RFC 9112 2.2 allows */
  SC_START_CR, /* a CR before the request line */
  SC_LINE,     /* inside a line */
  SC_CR,       /* a CR inside a line: LF must follow */
  SC_BOL,      /* the beginning of a header line */
  SC_END_CR,   /* the CR of the empty line that ends the head */
  SC_DONE,     /* the head is over (body, or the request is complete) */
};

/* Inlined into the request parser's callbacks; exported below for the response codec. */
static inline int hbuf_grow(uint8_t **buf, uint32_t *cap, uint32_t len, uint32_t more) {
  if (more > UINT32_MAX - len) return -1;
  if (len + more <= *cap) return 0;
  uint32_t n = *cap ? *cap : 1024;
  while (n < len + more) {
    if (n > UINT32_MAX / 2) return -1;
    n *= 2;
  }
  uint8_t *b = realloc(*buf, n);
  if (b == NULL) return -1;
  *buf = b;
  *cap = n;
  return 0;
}

static inline int hbuf_append(uint8_t **buf, uint32_t *len, uint32_t *cap, const void *at,
                              size_t n) {
  if (hbuf_grow(buf, cap, *len, (uint32_t)n) != 0) return -1;
  memcpy(*buf + *len, at, n);
  *len += (uint32_t)n;
  return 0;
}

int ew__hbuf_grow(uint8_t **buf, uint32_t *cap, uint32_t len, uint32_t more) {
  return hbuf_grow(buf, cap, len, more);
}

int ew__hbuf_append(uint8_t **buf, uint32_t *len, uint32_t *cap, const void *at, size_t n) {
  return hbuf_append(buf, len, cap, at, n);
}

static int grow(ew__hparse_t *hp, uint32_t more) {
  return hbuf_grow(&hp->buf, &hp->cap, hp->len, more);
}

static int append(ew__hparse_t *hp, const char *at, size_t n) {
  return hbuf_append(&hp->buf, &hp->len, &hp->cap, at, n);
}

/* tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
 * / DIGIT / ALPHA (RFC 9110 5.6.2), mapped to its lower case; 0 for a byte that is no tchar. */
static uint8_t token_lower[256];

static pthread_once_t tokens_once = PTHREAD_ONCE_INIT;

static void init_tokens(void) {
  for (unsigned ch = 1; ch < 256; ch++) {
    bool tok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
               (ch < 128 && strchr("!#$%&'*+-.^_`|~", (int)ch) != NULL);
    token_lower[ch] = !tok ? 0 : (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : (uint8_t)ch;
  }
}

void ew__http_tokens_init(void) {
  pthread_once(&tokens_once, init_tokens);
}

/* Inlined into the request parser's header callback, which runs per header line. */
static inline int lower_token(uint8_t *to, const char *at, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint8_t lc = token_lower[(unsigned char)at[i]];
    if (lc == 0) return -1;
    to[i] = lc;
  }
  return 0;
}

int ew__http_lower_token(uint8_t *to, const char *at, size_t n) {
  return lower_token(to, at, n);
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
  hp->conn_close = hp->conn_keep = hp->te_chunked = false;
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
  if (lower_token(hp->buf + hp->len, at, n) != 0) return fail(hp, 400);
  hp->len += (uint32_t)n;
  ew__hput32(hp->buf + hp->entry_at, ew__hget32(hp->buf + hp->entry_at) + (uint32_t)n);
  return 0;
}

static bool name_is(const ew__hparse_t *hp, const char *name, uint32_t len) {
  return ew__hget32(hp->buf + hp->entry_at) == len &&
         memcmp(hp->buf + hp->entry_at + 8, name, len) == 0;
}

/* A field that may not come as a trailer (EW__HPARSE_FORBIDDEN_TRAILERS). */
static bool forbidden_trailer(const ew__hparse_t *hp) {
  static const char *const names[] = {
#define XX(name) name,
      EW__HPARSE_FORBIDDEN_TRAILERS(XX)
#undef XX
  };
  uint32_t nl = ew__hget32(hp->buf + hp->entry_at);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (nl == strlen(names[i]) && memcmp(hp->buf + hp->entry_at + 8, names[i], nl) == 0)
      return true;
  return false;
}

static int on_header_field_complete(llhttp_t *p) {
  ew__hparse_t *hp = hp_of(p);
  if (hp->last_cb != CB_FIELD || ew__hget32(hp->buf + hp->entry_at) == 0) return fail(hp, 400);
  if (hp->in_body) return forbidden_trailer(hp) ? fail(hp, 400) : 0;
  if (name_is(hp, "host", 4))
    hp->hosts++;
  else if (name_is(hp, "content-length", 14))
    hp->content_lengths++;
  else if (name_is(hp, "transfer-encoding", 17))
    hp->transfer_encodings++;
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
  /* The head scanner has refused CR, LF and NUL inside a head's lines; trailers it never sees. */
  if (hp->in_body &&
      (memchr(at, '\r', n) != NULL || memchr(at, '\n', n) != NULL || memchr(at, 0, n) != NULL))
    return fail(hp, 400);
  if (append(hp, at, n) != 0) return fail(hp, 400);
  ew__hput32(hp->buf + hp->entry_at + 4, ew__hget32(hp->buf + hp->entry_at + 4) + (uint32_t)n);
  return 0;
}

/* True when a Transfer-Encoding value's last list element is the chunked coding, alone: `chunked`,
 * `gzip, chunked`, `gzip ,\tChunked`. An empty value, a trailing comma or `chunked;x=1` is not. */
static bool ends_in_chunked(const char *v, uint32_t n) {
  if (n < 7 || strncasecmp(v + n - 7, "chunked", 7) != 0) return false;
  uint32_t at = n - 7;
  while (at > 0 && (v[at - 1] == ' ' || v[at - 1] == '\t'))
    at--;
  return at == 0 || v[at - 1] == ',';
}

void ew__http_connection_options(const char *v, uint32_t n, bool *close, bool *keep) {
  uint32_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    uint32_t start = i;
    while (i < n && v[i] != ',')
      i++;
    uint32_t end = i;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
      end--;
    uint32_t len = end - start;
    if (len == 5 && strncasecmp(v + start, "close", 5) == 0)
      *close = true;
    else if (len == 10 && strncasecmp(v + start, "keep-alive", 10) == 0)
      *keep = true;
  }
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
  uint32_t vl = ew__hget32(hp->buf + hp->entry_at + 4);
  while (vl > 0 && (hp->buf[hp->len - 1] == ' ' || hp->buf[hp->len - 1] == '\t')) {
    vl--;
    hp->len--;
  }
  ew__hput32(hp->buf + hp->entry_at + 4, vl);
  if (hp->in_body) return 0;
  uint32_t nl = ew__hget32(hp->buf + hp->entry_at);
  const char *v = (const char *)hp->buf + hp->entry_at + 8 + nl;
  if (nl == 6 && vl == 12 && name_is(hp, "expect", 6)) {
    if (strncasecmp(v, "100-continue", 12) == 0) hp->expect_continue = true;
  } else if (nl == 10 && name_is(hp, "connection", 10)) {
    ew__http_connection_options(v, vl, &hp->conn_close, &hp->conn_keep);
  } else if (nl == 17 && name_is(hp, "transfer-encoding", 17)) {
    /* llhttp decides chunked framing on the codings it sees, and a line with an empty value
     * shows it none: `chunked` then an empty line stays chunked for llhttp, while a proxy that
     * takes the last line (or refuses it) frames the body otherwise. So the last line itself
     * must end in chunked (finding 6 in docs/fuzzing.md). */
    hp->te_chunked = ends_in_chunked(v, vl);
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
    if (!http11 || hp->content_lengths != 0 || !(p->flags & F_CHUNKED) || !hp->te_chunked)
      return fail(hp, 400);
  }
  hp->header_section = hp->len - EW_HTTP_REQ_FIXED - hp->url_len;
  hp->in_body = true;
  hp->last_cb = CB_NONE;
  bool has_body =
      (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
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
  /* RFC 9112 9.3: close ends the connection; else HTTP/1.1 persists and HTTP/1.0 only with
   * keep-alive. llhttp is lenient about persistence (ew__hparse_init), so this is the only
   * decision, and it reads the options as the handler will see them. */
  bool http11 = llhttp_get_http_minor(p) >= 1;
  b[3] = !hp->conn_close && (http11 || hp->conn_keep) ? EW_HTTP_F_KEEP_ALIVE : 0;
  ew__hput32(b + 4, hp->header_count);
  ew__hput32(b + 8, hp->url_len);
  ew__hput32(b + 12, hp->body_len);
  ew__hput32(b + 16, hp->header_section);
  ew__hput32(b + 20, hp->trailer_count);
  hp->done = true;
  hp->begun = false;
  /* Pause after every request: it is taken (or the connection waits for ring room) before the
   * next pipelined request is parsed. */
  return HPE_PAUSED;
}

static llhttp_settings_t settings;
static pthread_once_t settings_once = PTHREAD_ONCE_INIT;

static void init_settings(void) {
  ew__http_tokens_init();
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
  /* Persistence is hparse's decision (on_message_complete): llhttp must not refuse the bytes
   * after a request it believes ends the connection. */
  llhttp_set_lenient_keep_alive(&hp->parser, 1);
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

/* " HTTP/" DIGIT "." DIGIT: how a request line must end (RFC 9112 3). */
static bool http_version_tail(uint8_t tail9, uint64_t tail) {
  unsigned major = (unsigned)(tail >> 16) & 0xff, minor = (unsigned)tail & 0xff;
  return tail9 == ' ' && (tail >> 24) == 0x485454502full /* HTTP/ */ &&
         ((tail >> 8) & 0xff) == '.' && major >= '0' && major <= '9' && minor >= '0' &&
         minor <= '9';
}

/* Runs the head scanner over `data` until the head ends. Returns the offset of the first byte
 * that breaks the rules (hp->scan_status says how: 400, or 431 past maxHeaderBytes), or `len`
 * if none does. Inside a line it looks for the CR with memchr, so a head costs a few calls per
 * line rather than a branch per byte. */
static size_t scan_head(ew__hparse_t *hp, const char *data, size_t len) {
  uint8_t s = hp->scan;
  /* Every byte of the head counts against maxHeaderBytes, the whitespace llhttp skips too. */
  uint32_t room = hp->lim->max_header_bytes - hp->head_bytes;
  size_t n = len > room ? room : len;
  size_t i = 0;
  while (i < n && s != SC_DONE) {
    if (s == SC_LINE) {
      const char *cr = memchr(data + i, '\r', n - i);
      size_t end = cr != NULL ? (size_t)(cr - data) : n;
      const char *lf = memchr(data + i, '\n', end - i);
      const char *nul = memchr(data + i, 0, end - i);
      if (lf != NULL || nul != NULL) {
        i = (size_t)((lf == NULL ? nul : nul == NULL ? lf : lf < nul ? lf : nul) - data);
        goto bad;
      }
      if (hp->request_line) {
        for (size_t k = end - i > 9 ? end - 9 : i; k < end; k++) {
          hp->tail9 = (uint8_t)(hp->tail >> 56);
          hp->tail = hp->tail << 8 | (unsigned char)data[k];
        }
      }
      i = end;
      if (cr == NULL) break;
      if (hp->request_line) {
        if (!http_version_tail(hp->tail9, hp->tail)) goto bad;
        hp->request_line = false;
      }
      s = SC_CR;
      i++;
      continue;
    }
    unsigned char ch = (unsigned char)data[i];
    switch (s) {
    case SC_START:
      if (ch == '\r')
        s = SC_START_CR;
      else if (ch == '\n' || ch == 0)
        goto bad;
      else {
        s = SC_LINE;
        hp->request_line = true;
        hp->tail9 = 0;
        hp->tail = 0;
        continue; /* the byte is the line's first: SC_LINE takes it */
      }
      break;
    case SC_START_CR:
      if (ch != '\n') goto bad;
      s = SC_START;
      break;
    case SC_CR:
      if (ch != '\n') goto bad;
      s = SC_BOL;
      break;
    case SC_BOL:
      if (ch == '\r')
        s = SC_END_CR;
      else if (ch == '\n' || ch == ' ' || ch == '\t' || ch == ':' || ch == 0)
        goto bad;
      else {
        s = SC_LINE;
        continue;
      }
      break;
    case SC_END_CR:
      if (ch != '\n') goto bad;
      s = SC_DONE;
      break;
    default:
      break;
    }
    i++;
  }
  hp->scan = s;
  hp->head_bytes += (uint32_t)i;
  if (s != SC_DONE && n < len) {
    hp->scan_status = 431;
    return n;
  }
  return len;
bad:
  hp->scan = s;
  hp->head_bytes += (uint32_t)i;
  hp->scan_status = 400;
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
      hp->status = hp->scan_status;
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
  hp->head_bytes = 0;
  hp->request_line = false;
  llhttp_resume(&hp->parser);
}

bool ew__hparse_midway(const ew__hparse_t *hp) {
  return !hp->done && hp->status == 0 && (hp->begun || hp->scan != SC_START);
}

bool ew__hparse_last(const ew__hparse_t *hp) {
  return hp->done && !(hp->buf[3] & EW_HTTP_F_KEEP_ALIVE);
}
