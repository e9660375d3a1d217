// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

/* libFuzzer harness for the HTTP/1.1 request parser (native/core/src/hparse.c): llhttp, evwire's
 * strictness checks, its limits and the HTTP_REQ record writer, driven the way the connection
 * glue drives them (http_deliver() in native/core/src/codec_http.c, the HTTP codec).
 *
 * Input layout (scripts/fuzz-seeds.js writes seeds in it):
 *   bytes 0..1  max_header_bytes = 64 + be16 % 16321          (64 .. 16384)
 *   byte  2     max_headers      = 1 + b % 100                 (1 .. 100)
 *   bytes 3..4  max_url_bytes    = 1 + be16 % 8192             (1 .. 8192)
 *   bytes 5..6  max_body_bytes   = be16, 0xffff meaning 65536  (0 .. 65536)
 *   byte  7     how the rest is cut into reads: 0xf0 + k cuts it into reads of k + 1 bytes
 *               (1 .. 16); any other value b cuts it into 1 + b % 16 reads at pseudo-random
 *               points derived from b and the input's length
 *   bytes 8..   what the client sends.
 * The limits are small on purpose, so that every limit is hit.
 *
 * The glue's loop: ew__hparse_execute() on a read; MORE: every byte was used, wait for the next
 * read; DONE: the record in hp.buf/hp.len is taken, ew__hparse_next() is called, and parsing
 * goes on with the bytes after `used` in the same read; a request without keep-alive is the
 * connection's last (nothing after it is parsed); ERROR: parsing stops for good and hp.status is
 * the answer.
 *
 * Oracle (every failure ends in __builtin_trap(), which libFuzzer reports as a crash):
 *   1. The return values keep their contract: `used` never exceeds the read, MORE uses all of
 *      it, ERROR leaves a status of 400, 413, 414, 431, 501 or 505 and stays an error.
 *   2. Every DONE record decodes exactly: the 24-byte fixed part, the URL, the header section
 *      (whose entries add up to its size), the body, and a trailer section whose entries fill
 *      the record to hp.len, not a byte more or less. Names are non-empty lower-case tokens,
 *      values hold no CR, LF or NUL and no whitespace at either end, the record respects every
 *      limit (URL, header bytes, header plus trailer count, body), and every strictness promise
 *      of hparse.h holds: HTTP/1.0 or 1.1, an HTTP method and not CONNECT, one Host in 1.1 and
 *      at most one in 1.0, at most one Content-Length, never with Transfer-Encoding,
 *      Transfer-Encoding only in 1.1 and ending in chunked, a body only with Content-Length (of
 *      exactly the body's size) or chunked, trailers only when chunked, and no trailer that
 *      frames, routes or controls the message.
 *   3. Every DONE record survives a round trip: it is written out again as a canonical
 *      HTTP/1.x request (see canonical() for the legitimate differences from the bytes the
 *      client sent) and parsed by a fresh parser with the same limits, in one read; that must
 *      give DONE, use every byte, and produce a byte-identical record, flags included (the
 *      keep-alive flag must also be what RFC 9112 9.3 makes of the version and the Connection
 *      options in the record).
 *   4. How the input is cut into reads does not matter: the same input parsed in one read must
 *      give the same records in the same order and end the same way (an error, the last
 *      request, or waiting for more). The status of an error may differ, and legitimately: a
 *      limit is checked as llhttp hands over each piece of a field, so a read that ends inside
 *      an over-long URL can meet the header-bytes limit (431) before the URL limit (414) that
 *      the whole URL meets first, or meet a limit before llhttp sees a syntax error (400)
 *      further on in the same field.
 * Every parser is freed with ew__hparse_free(), so LeakSanitizer sees no leak.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llhttp.h>

#include "hparse.h"

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "fuzz_http: check failed at line %d: %s\n", __LINE__, #cond);                \
      __builtin_trap();                                                                            \
    }                                                                                              \
  } while (0)

#define LIMIT_BYTES 8u
#define MAX_READS 4096u /* cuts beyond this many are dropped: the last read takes the rest */

static uint32_t be16(const uint8_t *p) {
  return ((uint32_t)p[0] << 8) | p[1];
}

static uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* ---- growable buffers ------------------------------------------------------------------- */

typedef struct buf_s {
  uint8_t *p;
  size_t len, cap;
} buf_t;

static void buf_put(buf_t *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
      cap *= 2;
    b->p = realloc(b->p, cap);
    CHECK(b->p != NULL);
    b->cap = cap;
  }
  if (n != 0) memcpy(b->p + b->len, p, n);
  b->len += n;
}

static void buf_str(buf_t *b, const char *s) {
  buf_put(b, s, strlen(s));
}

/* ---- the record oracle ------------------------------------------------------------------ */

typedef struct entry_s {
  const uint8_t *name, *value;
  uint32_t nl, vl;
} entry_t;

/* A decoded HTTP_REQ record: pointers into the record itself. */
typedef struct req_s {
  uint8_t method, major, minor, flags;
  uint32_t header_count, url_len, body_len, header_section, trailer_count;
  const uint8_t *url, *body;
  entry_t *headers, *trailers;
  bool rfc_keep_alive; /* what RFC 9112 9.3 makes of the version and the Connection options */
} req_t;

static bool is_tchar(uint8_t ch) {
  if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return true;
  return ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool name_eq(const entry_t *e, const char *s) {
  return e->nl == strlen(s) && memcmp(e->name, s, e->nl) == 0;
}

static uint8_t lower(uint8_t ch) {
  return (ch >= 'A' && ch <= 'Z') ? (uint8_t)(ch + 32) : ch;
}

/* Walks `count` entries from `*pos`, none past `end`; checks names and values. Returns the
 * bytes of names and values (what the header-bytes limit counts). */
static uint64_t walk_entries(const uint8_t *b, uint64_t *pos, uint64_t end, uint32_t count,
                             entry_t *out) {
  uint64_t bytes = 0;
  for (uint32_t i = 0; i < count; i++) {
    CHECK(end - *pos >= 8 && *pos <= end);
    uint32_t nl = rd32(b + *pos), vl = rd32(b + *pos + 4);
    *pos += 8;
    CHECK((uint64_t)nl + vl <= end - *pos);
    const uint8_t *name = b + *pos, *value = b + *pos + nl;
    CHECK(nl > 0);
    for (uint32_t k = 0; k < nl; k++) {
      CHECK(is_tchar(name[k]));
      CHECK(!(name[k] >= 'A' && name[k] <= 'Z'));
    }
    for (uint32_t k = 0; k < vl; k++)
      CHECK(value[k] != '\r' && value[k] != '\n' && value[k] != 0);
    /* Whitespace around a value is not part of it (RFC 9110 5.5): llhttp drops the kind before
     * it and hparse.c the kind after it (finding 2 in docs/fuzzing.md). The canonical form
     * relies on it: it writes "name: value". */
    if (vl > 0) CHECK(value[0] != ' ' && value[0] != '\t');
    if (vl > 0) CHECK(value[vl - 1] != ' ' && value[vl - 1] != '\t');
    out[i] = (entry_t){name, value, nl, vl};
    bytes += (uint64_t)nl + vl;
    *pos += (uint64_t)nl + vl;
  }
  return bytes;
}

/* The last coding of the last Transfer-Encoding header is chunked (RFC 9112 6.3): the value
 * ends, before optional whitespace, in the token "chunked", case-insensitively, at the start of
 * the value or after a comma and optional whitespace. */
static bool ends_in_chunked(const entry_t *e) {
  uint32_t end = e->vl;
  while (end > 0 && (e->value[end - 1] == ' ' || e->value[end - 1] == '\t'))
    end--;
  if (end < 7) return false;
  for (uint32_t k = 0; k < 7; k++)
    if (lower(e->value[end - 7 + k]) != (uint8_t) "chunked"[k]) return false;
  uint32_t at = end - 7;
  while (at > 0 && (e->value[at - 1] == ' ' || e->value[at - 1] == '\t'))
    at--;
  return at == 0 || e->value[at - 1] == ',';
}

/* Content-Length's value as a number; -1 if it is not OWS digits OWS or too large to matter. */
static int64_t content_length(const entry_t *e) {
  uint32_t k = 0;
  while (k < e->vl && (e->value[k] == ' ' || e->value[k] == '\t'))
    k++;
  int64_t v = 0;
  uint32_t digits = 0;
  for (; k < e->vl && e->value[k] >= '0' && e->value[k] <= '9'; k++, digits++) {
    v = v * 10 + (e->value[k] - '0');
    if (v > (int64_t)1 << 40) return -1;
  }
  while (k < e->vl && (e->value[k] == ' ' || e->value[k] == '\t'))
    k++;
  return digits > 0 && k == e->vl ? v : -1;
}

static bool is_http_method(uint8_t m);

static bool ieq(const uint8_t *p, uint32_t n, const char *s) {
  if (n != strlen(s)) return false;
  for (uint32_t k = 0; k < n; k++)
    if (lower(p[k]) != (uint8_t)s[k]) return false;
  return true;
}

/* Notes the "close" and "keep-alive" options of a Connection value: a comma-separated list of
 * tokens, each with optional whitespace around it, case-insensitive (RFC 9110 7.6.1). */
static void connection_options(const entry_t *e, bool *close, bool *keep_alive) {
  uint32_t i = 0;
  for (;;) {
    uint32_t j = i;
    while (j < e->vl && e->value[j] != ',')
      j++;
    uint32_t a = i, z = j;
    while (a < z && (e->value[a] == ' ' || e->value[a] == '\t'))
      a++;
    while (z > a && (e->value[z - 1] == ' ' || e->value[z - 1] == '\t'))
      z--;
    if (ieq(e->value + a, z - a, "close")) *close = true;
    if (ieq(e->value + a, z - a, "keep-alive")) *keep_alive = true;
    if (j >= e->vl) break;
    i = j + 1;
  }
}

static const char *const forbidden_trailers[] = {
#define XX(name) name,
    EW__HPARSE_FORBIDDEN_TRAILERS(XX)
#undef XX
};

/* Decodes the record `b` (`len` bytes) into `r` and checks oracle 2. `r->headers` and
 * `r->trailers` are allocated here; the caller frees them. */
static void decode_record(const uint8_t *b, uint32_t len, const ew_http_limits_t *lim, req_t *r) {
  CHECK(len >= EW_HTTP_REQ_FIXED);
  r->method = b[0];
  r->major = b[1];
  r->minor = b[2];
  r->flags = b[3];
  r->header_count = rd32(b + 4);
  r->url_len = rd32(b + 8);
  r->body_len = rd32(b + 12);
  r->header_section = rd32(b + 16);
  r->trailer_count = rd32(b + 20);

  CHECK(strcmp(llhttp_method_name((llhttp_method_t)r->method), "<unknown>") != 0);
  CHECK(r->method != HTTP_CONNECT);
  /* llhttp also parses RTSP and ICE request lines; hparse.c refuses a request line that does
   * not end in HTTP/x.y (400) and a method that is not HTTP's (501): finding 1 in
   * docs/fuzzing.md. */
  CHECK(is_http_method(r->method));
  CHECK(r->major == 1 && (r->minor == 0 || r->minor == 1));
  /* The parser sets only KEEP_ALIVE; LAST and CONTINUED are the glue's. */
  CHECK((r->flags & ~EW_HTTP_F_KEEP_ALIVE) == 0);

  /* Every length fits, and they add up to exactly `len` once the trailers are walked. */
  uint64_t url_at = EW_HTTP_REQ_FIXED;
  uint64_t hdr_at = url_at + r->url_len;
  uint64_t body_at = hdr_at + r->header_section;
  uint64_t trl_at = body_at + r->body_len;
  CHECK(trl_at <= len);
  CHECK(r->url_len >= 1 && r->url_len <= lim->max_url_bytes);
  CHECK(r->body_len <= lim->max_body_bytes);
  CHECK((uint64_t)r->header_count + r->trailer_count <= lim->max_headers);
  /* Each entry takes at least 9 bytes (two lengths and a name byte): a count that cannot fit
   * fails here rather than in a huge allocation. */
  CHECK((uint64_t)r->header_count * 9 <= r->header_section);
  CHECK((uint64_t)r->trailer_count * 9 <= len - trl_at);
  r->url = b + url_at;
  r->body = b + body_at;

  r->headers = calloc(r->header_count + 1, sizeof(entry_t));
  r->trailers = calloc(r->trailer_count + 1, sizeof(entry_t));
  CHECK(r->headers != NULL && r->trailers != NULL);
  uint64_t pos = hdr_at;
  uint64_t field_bytes = walk_entries(b, &pos, body_at, r->header_count, r->headers);
  CHECK(pos == body_at);
  pos = trl_at;
  field_bytes += walk_entries(b, &pos, len, r->trailer_count, r->trailers);
  CHECK(pos == len);
  /* The header-bytes limit counts the URL, names and values (trailers included). */
  CHECK(r->url_len + field_bytes <= lim->max_header_bytes);

  /* The strictness promises of hparse.h. */
  uint32_t hosts = 0, cls = 0, tes = 0;
  const entry_t *cl = NULL, *te = NULL;
  bool close = false, keep_alive = false;
  for (uint32_t i = 0; i < r->header_count; i++) {
    const entry_t *e = &r->headers[i];
    if (name_eq(e, "host")) hosts++;
    if (name_eq(e, "content-length")) cls++, cl = e;
    if (name_eq(e, "transfer-encoding")) tes++, te = e;
    if (name_eq(e, "connection")) {
      connection_options(e, &close, &keep_alive);
    }
  }
  /* RFC 9112 9.3: "close" ends the connection; otherwise HTTP/1.1 persists, and HTTP/1.0 only
   * with "keep-alive". */
  r->rfc_keep_alive = !close && (r->minor == 1 || keep_alive);
  CHECK(((r->flags & EW_HTTP_F_KEEP_ALIVE) != 0) == r->rfc_keep_alive); /* finding 3 */
  CHECK(r->minor == 1 ? hosts == 1 : hosts <= 1);
  CHECK(cls <= 1);
  if (te != NULL) {
    CHECK(cls == 0);
    CHECK(r->minor == 1);
    CHECK(ends_in_chunked(te));
  } else if (cl != NULL) {
    CHECK(content_length(cl) == (int64_t)r->body_len);
  } else {
    CHECK(r->body_len == 0); /* a request with neither has no body (RFC 9112 6.3) */
  }
  if (te == NULL) CHECK(r->trailer_count == 0);
  for (uint32_t i = 0; i < r->trailer_count; i++)
    for (size_t k = 0; k < sizeof forbidden_trailers / sizeof forbidden_trailers[0]; k++)
      CHECK(!name_eq(&r->trailers[i], forbidden_trailers[k]));
}

static void put_fields(buf_t *out, const entry_t *e, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    buf_put(out, e[i].name, e[i].nl);
    buf_str(out, ": ");
    buf_put(out, e[i].value, e[i].vl);
    buf_str(out, "\r\n");
  }
}

/* True for the methods of llhttp's HTTP_METHOD_MAP (not the RTSP-only ones). */
static bool is_http_method(uint8_t m) {
  switch (m) {
#define XX(num, name, string) case num:
    HTTP_METHOD_MAP(XX)
#undef XX
    return true;
  default:
    return false;
  }
}

/* Writes the request `r` out again in canonical form. What may differ from what the client
 * sent, none of which reaches the record:
 *   - the method comes from byte 0 through llhttp_method_name() (same method, canonical
 *     spelling) and the version from bytes 1 and 2;
 *   - names are written in the lower case the record holds (they are case-insensitive and
 *     hparse.c lower-cases them anyway);
 *   - "name: value": the record holds a value without the whitespace around it, so the client's
 *     OWS becomes one space before the value and none after it;
 *   - empty lines the client sent before the request line are dropped (RFC 9112 2.2);
 *   - a chunked body is rebuilt as at most one chunk, without the client's chunk extensions
 *     (they reach no record; they only count against the 16 KiB extension limit, which the
 *     canonical form therefore cannot meet), then the last chunk, the trailers and the empty
 *     line; the Transfer-Encoding header itself is written as it was;
 *   - a body with Content-Length is written as it is, after the client's own Content-Length
 *     header (the record checks showed that it equals the body's size).
 * Its head can be longer than the client's (a space after each colon the client left out), so
 * *head is set to its size: the re-parse allows at least that much (maxHeaderBytes counts every
 * byte of a head). */
static void canonical(const req_t *r, buf_t *out, size_t *head) {
  const char *m = llhttp_method_name((llhttp_method_t)r->method);
  char line[64];
  buf_str(out, m);
  buf_str(out, " ");
  buf_put(out, r->url, r->url_len);
  snprintf(line, sizeof line, " HTTP/%u.%u\r\n", (unsigned)r->major, (unsigned)r->minor);
  buf_str(out, line);
  put_fields(out, r->headers, r->header_count);
  buf_str(out, "\r\n");
  *head = out->len;
  bool chunked = false;
  for (uint32_t i = 0; i < r->header_count; i++)
    if (name_eq(&r->headers[i], "transfer-encoding")) chunked = true;
  if (!chunked) {
    buf_put(out, r->body, r->body_len);
    return;
  }
  if (r->body_len > 0) {
    snprintf(line, sizeof line, "%x\r\n", (unsigned)r->body_len);
    buf_str(out, line);
    buf_put(out, r->body, r->body_len);
    buf_str(out, "\r\n");
  }
  buf_str(out, "0\r\n");
  put_fields(out, r->trailers, r->trailer_count);
  buf_str(out, "\r\n");
}

/* Oracle 2 and 3 for one DONE record. */
static void check_record(const uint8_t *b, uint32_t len, const ew_http_limits_t *lim) {
  req_t r;
  decode_record(b, len, lim, &r);
  buf_t c = {0};
  size_t head = 0;
  canonical(&r, &c, &head);
  free(r.headers);
  free(r.trailers);

  ew_http_limits_t lim2 = *lim;
  if (head > lim2.max_header_bytes) lim2.max_header_bytes = (uint32_t)head;
  ew__hparse_t hp2;
  CHECK(ew__hparse_init(&hp2, &lim2, NULL, NULL) == 0);
  size_t used = 0;
  int st = ew__hparse_execute(&hp2, (const char *)c.p, c.len, &used);
  bool same =
      st == EW__HPARSE_DONE && used == c.len && hp2.len == len && memcmp(hp2.buf, b, len) == 0;
  if (!same) {
    fprintf(stderr,
            "fuzz_http: the canonical form parsed differently (%d, status %d, used %zu of %zu):\n"
            "%.*s\n",
            st, hp2.status, used, c.len, (int)c.len, (const char *)c.p);
    __builtin_trap();
  }
  ew__hparse_free(&hp2);
  free(c.p);
}

/* ---- llhttp's state as extra coverage ---------------------------------------------------- */

/* The llhttp linked in is usually Debian's static library, built without coverage
 * instrumentation, so libFuzzer sees the edges of hparse.c and of this file but none inside
 * llhttp's state machine. To make up for it, the harness reports llhttp's state after every
 * ew__hparse_execute() call (the state it stopped in, which special header it is inside, its
 * position in a multi-byte match, and the reason of an error) through libFuzzer's extra
 * counters: every counter in this section is a coverage feature. With reads cut at many
 * points, each cut samples the state machine in a different place. */
#define STATE_BITS 14u
#define STATE_COUNTERS (1u << STATE_BITS)
#define REASON_COUNTERS 2048u
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t
    llhttp_counters[STATE_COUNTERS + REASON_COUNTERS];

static void note_llhttp(const llhttp_t *p) {
  uint32_t st = (uint32_t)(uintptr_t)p->_current;
  uint32_t key = st * 64u + ((uint32_t)p->header_state & 15u) * 4u + ((uint32_t)p->_index & 3u);
  llhttp_counters[(key * 2654435761u) >> (32u - STATE_BITS)]++; /* Fibonacci hashing */
  if (p->error != HPE_OK && p->reason != NULL) {
    /* The reason text, not its address (which moves with ASLR), picks the counter. */
    uint32_t h = 5381;
    for (const char *c = p->reason; *c != 0; c++)
      h = h * 33u + (uint8_t)*c;
    llhttp_counters[STATE_COUNTERS + h % REASON_COUNTERS]++;
  }
}

/* ---- driving the parser like the glue --------------------------------------------------- */

enum { END_MORE = 0, END_LAST, END_ERROR };

typedef struct run_s {
  buf_t recs; /* each DONE record: u32 length, then its bytes */
  uint32_t count;
  int end;
  int status;
} run_t;

/* Parses `data` cut at `cuts` (ascending offsets that end with `n`), as the glue would. */
static void drive(const ew_http_limits_t *lim, const uint8_t *data, size_t n, const size_t *cuts,
                  size_t ncuts, run_t *out) {
  ew__hparse_t hp;
  CHECK(ncuts > 0 && cuts[ncuts - 1] == n);
  CHECK(ew__hparse_init(&hp, lim, NULL, NULL) == 0);
  out->end = END_MORE;
  size_t from = 0;
  for (size_t c = 0; c < ncuts && out->end == END_MORE; c++) {
    size_t pos = from, to = cuts[c];
    from = to;
    while (pos < to) {
      size_t used = (size_t)-1;
      int st = ew__hparse_execute(&hp, (const char *)data + pos, to - pos, &used);
      note_llhttp(&hp.parser);
      CHECK(used <= to - pos);
      if (st == EW__HPARSE_MORE) {
        CHECK(used == to - pos);
        CHECK(hp.status == 0);
        break;
      }
      if (st == EW__HPARSE_ERROR) {
        CHECK(hp.status == 400 || hp.status == 413 || hp.status == 414 || hp.status == 431 ||
              hp.status == 501 || hp.status == 505);
        /* The parser is finished: it stays an error and uses nothing. */
        size_t again = 1;
        CHECK(ew__hparse_execute(&hp, (const char *)data + pos, to - pos, &again) ==
              EW__HPARSE_ERROR);
        CHECK(again == 0);
        out->end = END_ERROR;
        out->status = hp.status;
        break;
      }
      CHECK(st == EW__HPARSE_DONE);
      CHECK(hp.done && hp.len >= EW_HTTP_REQ_FIXED);
      /* Every byte of the head counted, within the limit (docs/fuzzing.md, finding 4). */
      CHECK(hp.head_bytes <= lim->max_header_bytes);
      check_record(hp.buf, hp.len, lim);
      uint32_t len = hp.len;
      buf_put(&out->recs, &len, 4);
      buf_put(&out->recs, hp.buf, len);
      out->count++;
      /* Until the record is taken, the parser answers DONE again without using a byte. */
      size_t again = 1;
      CHECK(ew__hparse_execute(&hp, (const char *)data + pos, to - pos, &again) == EW__HPARSE_DONE);
      CHECK(again == 0);
      bool last = ew__hparse_last(&hp);
      CHECK(last == !(hp.buf[3] & EW_HTTP_F_KEEP_ALIVE));
      ew__hparse_next(&hp);
      pos += used;
      if (last) {
        /* The glue stops reading after a request without keep-alive. */
        out->end = END_LAST;
        break;
      }
    }
  }
  (void)ew__hparse_midway(&hp);
  ew__hparse_free(&hp);
}

/* xorshift32: cheap, deterministic cut points derived from the input. */
static uint32_t next_rand(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < LIMIT_BYTES) return 0;
  ew_http_limits_t lim;
  memset(&lim, 0, sizeof lim);
  lim.max_header_bytes = 64 + be16(data) % 16321;
  lim.max_headers = 1 + data[2] % 100;
  lim.max_url_bytes = 1 + be16(data + 3) % 8192;
  lim.max_body_bytes = be16(data + 5) == 0xffff ? 65536 : be16(data + 5);
  const uint8_t split = data[7];
  const uint8_t *in = data + LIMIT_BYTES;
  const size_t n = size - LIMIT_BYTES;

  size_t *cuts = malloc((MAX_READS + 1) * sizeof *cuts);
  CHECK(cuts != NULL);
  size_t ncuts = 0;
  if (split >= 0xf0) {
    size_t step = (size_t)(split - 0xf0) + 1;
    for (size_t at = step; at < n && ncuts < MAX_READS; at += step)
      cuts[ncuts++] = at;
  } else {
    uint32_t s = 0x9e3779b9u ^ ((uint32_t)split << 24) ^ (uint32_t)n;
    if (s == 0) s = 1; /* xorshift's one fixed point */
    size_t reads = 1 + split % 16;
    for (size_t k = 1; k < reads && n > 1; k++)
      cuts[ncuts++] = 1 + next_rand(&s) % (n - 1);
    qsort(cuts, ncuts, sizeof *cuts, cmp_size);
  }
  cuts[ncuts++] = n; /* the last read ends with the input (an empty input is one empty read) */

  run_t split_run = {0}, whole_run = {0};
  drive(&lim, in, n, cuts, ncuts, &split_run);
  size_t whole = n;
  drive(&lim, in, n, &whole, 1, &whole_run);

  /* Oracle 4: the reads do not change the records or how the stream ends. */
  CHECK(split_run.count == whole_run.count);
  CHECK(split_run.recs.len == whole_run.recs.len);
  CHECK(split_run.recs.len == 0 ||
        memcmp(split_run.recs.p, whole_run.recs.p, split_run.recs.len) == 0);
  CHECK(split_run.end == whole_run.end);
#ifdef FUZZ_HTTP_TRACE
  /* -DFUZZ_HTTP_TRACE: one line per input, to see what a reproducer or a seed does. */
  static const char *const ends[] = {"more wanted", "the last request", "an error"};
  fprintf(stderr, "fuzz_http: %u request(s), then %s (status %d); %zu read(s)\n", split_run.count,
          ends[split_run.end], split_run.status, ncuts);
#endif

  free(split_run.recs.p);
  free(whole_run.recs.p);
  free(cuts);
  return 0;
}
