// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "tcp.h"
#include "ew.h"
#include "ew/wire.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* The HTTP client codec (codec_http_client.c) seen from a port. The test thread plays both
 * JavaScript (it writes requests as SEND records flagged REQUEST_START, and reads the HTTP_RES
 * records from the in ring) and the HTTP server (a blocking socket that reads each request and
 * writes exact response bytes, cut as the test likes). The codec does not care who opened the
 * connection, so a listening server with framing EW_FRAMING_HTTP_CLIENT stands in for a link. */

static int level_triggered; /* every test runs edge-triggered, then level-triggered */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void wake_cb(void *arg) {
  (void)arg; /* the test thread polls */
}

typedef struct {
  ew_runtime_t *rt;
  ew_port_t *p;
  ew_ring_consumer_t in;
  ew_ring_producer_t out;
  uint16_t port;
  uint64_t id; /* the connection */
  int fd;      /* the server's end of it */
} env_t;

/* A record as taken from the in ring: its header and a copy of its body (fragments of an
 * HTTP_RES joined). */
typedef struct {
  ew_rec_t h;
  uint8_t *body;
  uint32_t len;
  uint32_t frags;
} rec_t;

static void start_with(env_t *e, uint32_t in_ring_bytes, const ew_http_limits_t *http) {
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.io_threads = 1;
  o.in_ring_bytes = in_ring_bytes;
  o.log_level = getenv("EW_DEBUG") ? EW_LOG_LEVEL_DEBUG : EW_LOG_LEVEL_ERROR;
  o.level_triggered = level_triggered;
  ASSERT_OK(ew_runtime_start(&o, &e->rt));
  e->p = ew_runtime_port(e->rt, 0);
  ASSERT_NOT_NULL(e->p);
  ew_ring_consumer_init(&e->in, ew_port_in(e->p, 0));
  ew_ring_producer_init(&e->out, ew_port_out(e->p, 0));
  ASSERT_OK(ew_port_attach(e->p, wake_cb, NULL));
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.host = "127.0.0.1";
  lo.framing = EW_FRAMING_HTTP_CLIENT;
  if (http != NULL) lo.http = *http;
  ew_listen_info_t info;
  ASSERT_OK(ew_listen(e->rt, &lo, &info));
  e->port = info.port;
}

static void stop(env_t *e) {
  ew_port_detach(e->p);
  ew_runtime_release(e->rt);
}

static void rec_free(rec_t *r) {
  free(r->body);
  r->body = NULL;
}

/* The next record within 10 s, fragments joined; the ring space is freed only if `release`. */
static void take(env_t *e, rec_t *r, uint16_t kind, int release) {
  memset(r, 0, sizeof *r);
  for (;;) {
    uint64_t deadline = now_ms() + 10000;
    const ew_rec_t *rec;
    while ((rec = ew_ring_next(&e->in)) == NULL) {
      if (now_ms() >= deadline) EW__FAIL("no record within 10 s (expected kind %u)", kind);
      usleep(1000);
    }
    r->h = *rec;
    uint8_t *b = realloc(r->body, r->len + rec->len + 1);
    ASSERT_NOT_NULL(b);
    r->body = b;
    memcpy(r->body + r->len, rec + 1, rec->len);
    r->len += rec->len;
    r->frags++;
    ew_ring_advance(&e->in, rec);
    if (release && ew_ring_release(&e->in)) ew_port_kick(e->p, 0);
    if (r->h.kind != kind)
      EW__FAIL("record kind %u (type %d), expected %u", (unsigned)r->h.kind, (int32_t)r->h.type,
               kind);
    if (!(r->h.flags & EW_REC_F_MORE)) return;
  }
}

static void open_conn(env_t *e) {
  e->fd = tcp_connect(e->port);
  rec_t r;
  take(e, &r, EW_REC_OPEN, 1);
  e->id = r.h.conn;
  rec_free(&r);
}

/* A record from the port, as JavaScript writes it. */
static void put(env_t *e, uint16_t kind, uint16_t flags, uint32_t type, const void *body,
                uint32_t len) {
  ew_rec_t *rec = ew_ring_reserve(&e->out, len);
  ASSERT_NOT_NULL(rec);
  rec->kind = kind;
  rec->flags = flags;
  rec->conn = e->id;
  rec->type = type;
  rec->seq = 0;
  if (len) memcpy(rec + 1, body, len);
  ASSERT_EQ(ew_ring_publish(&e->out), 1);
  ew_port_kick(e->p, 0);
}

/* JavaScript writes a request; the server reads it whole, so the codec has heard of it before
 * any answer comes. */
static void request(env_t *e, const char *method, uint16_t flags) {
  char req[128];
  int n = snprintf(req, sizeof req, "%s / HTTP/1.1\r\nHost: t\r\n\r\n", method);
  put(e, EW_REC_SEND, (uint16_t)(EW_REC_F_REQUEST_START | flags), 0, req, (uint32_t)n);
  char got[128];
  ASSERT_OK(tcp_read_all(e->fd, got, (size_t)n));
  ASSERT_MEM_EQ(got, req, (size_t)n);
}

#define GET(e) request(e, "GET", 0)
#define HEAD(e) request(e, "HEAD", EW_REC_F_NO_BODY)

static void respond(env_t *e, const char *bytes) {
  tcp_write_all(e->fd, bytes, strlen(bytes));
}

/* The same bytes, one write per byte: every state of the parser meets a read boundary. */
static void respond_bytewise(env_t *e, const char *bytes) {
  for (const char *p = bytes; *p != '\0'; p++)
    tcp_write_all(e->fd, p, 1);
}

static uint32_t get32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* An HTTP_RES record, decoded. */
typedef struct {
  uint16_t status;
  uint8_t major, minor;
  uint32_t flags;
  char reason[64];
  uint32_t nheaders, ntrailers;
  char headers[1024]; /* "name: value\n" each */
  char trailers[256];
  const uint8_t *body;
  uint32_t body_len;
  rec_t rec;
} res_t;

static const uint8_t *entries(const uint8_t *p, const uint8_t *end, uint32_t count, char *out,
                              size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  for (uint32_t i = 0; i < count; i++) {
    ASSERT_LE(8, end - p);
    uint32_t nl = get32(p), vl = get32(p + 4);
    p += 8;
    ASSERT_LE(nl + vl, (size_t)(end - p));
    ASSERT_LT(o + nl + vl + 3, cap);
    memcpy(out + o, p, nl);
    o += nl;
    memcpy(out + o, ": ", 2);
    o += 2;
    memcpy(out + o, p + nl, vl);
    o += vl;
    out[o++] = '\n';
    out[o] = '\0';
    p += nl + vl;
  }
  return p;
}

static void take_res(env_t *e, res_t *r) {
  memset(r, 0, sizeof *r);
  take(e, &r->rec, EW_REC_HTTP_RES, 1);
  ASSERT_UEQ(r->rec.h.conn, e->id);
  const uint8_t *b = r->rec.body, *end = b + r->rec.len;
  ASSERT_GE(r->rec.len, EW_HTTP_RES_FIXED);
  memcpy(&r->status, b, 2);
  r->major = b[2];
  r->minor = b[3];
  r->flags = get32(b + 4);
  uint32_t reason = get32(b + 8);
  r->nheaders = get32(b + 12);
  uint32_t hsection = get32(b + 16);
  r->body_len = get32(b + 20);
  r->ntrailers = get32(b + 24);
  const uint8_t *p = b + EW_HTTP_RES_FIXED;
  ASSERT_LT(reason, sizeof r->reason);
  memcpy(r->reason, p, reason);
  p += reason;
  const uint8_t *hend = p + hsection;
  ASSERT_PTR_EQ(entries(p, hend, r->nheaders, r->headers, sizeof r->headers), hend);
  r->body = hend;
  ASSERT_LE(r->body_len, (size_t)(end - hend));
  p = entries(hend + r->body_len, end, r->ntrailers, r->trailers, sizeof r->trailers);
  ASSERT_PTR_EQ(p, end);
}

static void expect_body(const res_t *r, const char *body) {
  ASSERT_EQ(r->body_len, strlen(body));
  ASSERT_MEM_EQ(r->body, body, r->body_len);
}

/* A FAULT with `reason`, answered as JavaScript does (SHUTDOWN with it), then the CLOSE. */
static void expect_fault(env_t *e, int reason) {
  rec_t r;
  take(e, &r, EW_REC_FAULT, 1);
  ASSERT_UEQ(r.h.conn, e->id);
  ASSERT_EQ((int32_t)r.h.type, reason);
  rec_free(&r);
  put(e, EW_REC_SHUTDOWN, 0, (uint32_t)reason, NULL, 0);
  take(e, &r, EW_REC_CLOSE, 1);
  ASSERT_EQ((int32_t)r.h.type, reason);
  rec_free(&r);
}

static void expect_close(env_t *e, int reason) {
  rec_t r;
  take(e, &r, EW_REC_CLOSE, 1);
  ASSERT_UEQ(r.h.conn, e->id);
  ASSERT_EQ((int32_t)r.h.type, reason);
  rec_free(&r);
}

static void destroy(env_t *e) {
  put(e, EW_REC_DESTROY, 0, 0, NULL, 0);
  expect_close(e, 0);
}

/* Content-Length and chunked responses with trailers, 1xx dropped, names lower-cased, values
 * trimmed, one byte per read and all at once; the connection persists. */
static void test_responses(void) {
  env_t e;
  start_with(&e, 1u << 16, NULL);
  open_conn(&e);
  res_t r;
  GET(&e);
  respond_bytewise(&e, "HTTP/1.1 200 OK\r\nContent-Type: text/plain \r\nX-A:\r\n"
                       "Content-Length: 5\r\n\r\nhello");
  take_res(&e, &r);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.major, 1);
  ASSERT_EQ(r.minor, 1);
  ASSERT_EQ(r.flags, EW_HTTP_RES_F_KEEP_ALIVE);
  ASSERT_STR_EQ(r.reason, "OK");
  ASSERT_STR_EQ(r.headers, "content-type: text/plain\nx-a: \ncontent-length: 5\n");
  ASSERT_EQ(r.rec.h.seq, 0);
  expect_body(&r, "hello");
  rec_free(&r.rec);

  const char *chunked =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n";
  GET(&e);
  respond_bytewise(&e, chunked);
  take_res(&e, &r);
  ASSERT_EQ(r.status, 201);
  ASSERT_STR_EQ(r.reason, "Created");
  ASSERT_STR_EQ(r.headers, "transfer-encoding: chunked\n");
  ASSERT_STR_EQ(r.trailers, "x-sum: 5\n");
  ASSERT_EQ(r.rec.h.seq, 1);
  expect_body(&r, "abcde");
  rec_free(&r.rec);
  GET(&e);
  respond(&e, chunked);
  take_res(&e, &r);
  ASSERT_EQ(r.status, 201);
  expect_body(&r, "abcde");
  rec_free(&r.rec);
  /* An empty reason phrase. */
  GET(&e);
  respond(&e, "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
  take_res(&e, &r);
  ASSERT_STR_EQ(r.reason, "");
  ASSERT_EQ(r.nheaders, 1);
  expect_body(&r, "");
  rec_free(&r.rec);
  destroy(&e);
  close(e.fd);
  stop(&e);
}

/* Pipelined requests: HEAD's answer has no body whatever its Content-Length says, and neither
 * have 204 and 304; each response is its own record, in order, from one write. */
static void test_no_body(void) {
  env_t e;
  start_with(&e, 1u << 16, NULL);
  open_conn(&e);
  HEAD(&e);
  GET(&e);
  HEAD(&e);
  GET(&e);
  GET(&e);
  respond(&e, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
              "HTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n");
  const int status[] = {200, 200, 200, 204, 304};
  const char *body[] = {"", "hi", "", "", ""};
  for (int i = 0; i < 5; i++) {
    res_t r;
    take_res(&e, &r);
    ASSERT_EQ(r.status, status[i]);
    ASSERT_EQ(r.rec.h.seq, i);
    ASSERT_EQ(r.flags, EW_HTTP_RES_F_KEEP_ALIVE);
    expect_body(&r, body[i]);
    rec_free(&r.rec);
  }
  destroy(&e);
  close(e.fd);
  stop(&e);
}

/* The connection's last response: Connection: close (any case, HTAB after it), HTTP/1.0
 * without keep-alive, a close-delimited body (completed by the FIN). Nothing after a last
 * response is read. */
static void test_last_response(void) {
  env_t e;
  start_with(&e, 1u << 16, NULL);
  open_conn(&e);
  GET(&e);
  GET(&e);
  respond(&e, "HTTP/1.1 200 OK\r\nConnection: keep-alive, CLOSE\t\r\nContent-Length: 1\r\n\r\nx"
              "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ny");
  res_t r;
  take_res(&e, &r);
  ASSERT_EQ(r.flags, 0);
  expect_body(&r, "x");
  rec_free(&r.rec);
  destroy(&e); /* as JavaScript does after a last response: the second is never delivered */
  close(e.fd);

  open_conn(&e);
  GET(&e);
  respond(&e, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
  take_res(&e, &r);
  ASSERT_EQ(r.minor, 0);
  ASSERT_EQ(r.flags, 0);
  rec_free(&r.rec);
  destroy(&e);
  close(e.fd);

  open_conn(&e);
  GET(&e);
  respond(&e, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok");
  take_res(&e, &r);
  ASSERT_EQ(r.flags, EW_HTTP_RES_F_KEEP_ALIVE);
  rec_free(&r.rec);
  destroy(&e);
  close(e.fd);

  /* Close-delimited: the body is whatever comes before the FIN. */
  open_conn(&e);
  GET(&e);
  respond(&e, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ");
  usleep(20000);
  respond(&e, "the end");
  shutdown(e.fd, SHUT_WR);
  take_res(&e, &r);
  ASSERT_EQ(r.flags, 0);
  expect_body(&r, "until the end");
  rec_free(&r.rec);
  expect_close(&e, EW_EOF);
  close(e.fd);
  stop(&e);
}

/* A FIN: between responses it is END as for any connection (JavaScript decides about the
 * requests still owed); inside a response it is EW_EPROTO_TRUNCATED. */
static void test_fin(void) {
  env_t e;
  start_with(&e, 1u << 16, NULL);
  open_conn(&e);
  GET(&e);
  shutdown(e.fd, SHUT_WR);
  rec_t r;
  take(&e, &r, EW_REC_END, 1);
  rec_free(&r);
  put(&e, EW_REC_SHUTDOWN, 0, 0, NULL, 0);
  expect_close(&e, EW_EOF);
  close(e.fd);

  const char *cut[] = {"HTTP/1.1 200 OK\r\nContent-Le",
                       "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc",
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"};
  for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++) {
    open_conn(&e);
    GET(&e);
    respond(&e, cut[i]);
    shutdown(e.fd, SHUT_WR);
    expect_close(&e, EW_EPROTO_TRUNCATED);
    close(e.fd);
  }
  stop(&e);
}

/* maxHeaderBytes counts every byte of a head: exactly the limit passes, one more fails, however
 * it is cut; maxHeaders, maxBodyBytes (announced, or reached while chunked). Each is a FAULT
 * after the responses before it. */
static void test_limits(void) {
  ew_listen_opts_t d;
  ew_listen_opts_init(&d);
  ew_http_limits_t lim = d.http;
  lim.max_header_bytes = 100;
  lim.max_headers = 3;
  lim.max_body_bytes = 10;
  env_t e;
  start_with(&e, 1u << 16, &lim);
  /* "HTTP/1.1 204 OK\r\n" (17) + "X: " (3) + value + "\r\n" (2) + "\r\n" (2): 24 + value. */
  char head[256];
  for (int over = 0; over <= 1; over++) {
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
      open_conn(&e);
      GET(&e);
      GET(&e);
      respond(&e, "HTTP/1.1 204 No Content\r\n\r\n");
      int v = 76 + over;
      memcpy(head, "HTTP/1.1 204 OK\r\nX: ", 20);
      memset(head + 20, 'v', (size_t)v);
      memcpy(head + 20 + v, "\r\n\r\n", 5);
      ASSERT_EQ(strlen(head), 100 + over);
      if (bytewise)
        respond_bytewise(&e, head);
      else
        respond(&e, head);
      res_t r;
      take_res(&e, &r);
      ASSERT_EQ(r.status, 204);
      rec_free(&r.rec);
      if (over) {
        expect_fault(&e, EW_EHTTP_RES_HEADERS);
      } else {
        take_res(&e, &r);
        ASSERT_STR_EQ(r.reason, "OK");
        ASSERT_EQ(r.body_len, 0);
        rec_free(&r.rec);
        destroy(&e);
      }
      close(e.fd);
    }
  }
  const char *bad[] = {
      "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n6\r\nfghijk\r\n0\r\n\r\n",
  };
  const int reason[] = {EW_EHTTP_RES_HEADERS, EW_EHTTP_RES_BODY, EW_EHTTP_RES_BODY};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    open_conn(&e);
    GET(&e);
    respond(&e, bad[i]);
    expect_fault(&e, reason[i]);
    close(e.fd);
  }
  stop(&e);
}

/* What is not a response to a request: garbage, bytes when no request is owed an answer, 101,
 * HTTP/2.0, a bare LF, two Content-Lengths, Content-Length with chunked, a name that is not a
 * token, an obs-fold (as Node's client, without its insecure parser), a NUL in a value. */
static void test_malformed(void) {
  env_t e;
  start_with(&e, 1u << 16, NULL);
  const char *bad[] = {
      "garbage\r\n\r\n",
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
      "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Fold: a\r\n  b\r\nContent-Length: 0\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    open_conn(&e);
    GET(&e);
    respond(&e, bad[i]);
    expect_fault(&e, EW_EPROTO_HTTP);
    close(e.fd);
  }
  open_conn(&e);
  tcp_write_all(e.fd, "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 28);
  expect_fault(&e, EW_EPROTO_HTTP); /* unsolicited: no request was written */
  close(e.fd);
  open_conn(&e);
  GET(&e);
  tcp_write_all(e.fd, "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 28);
  expect_fault(&e, EW_EPROTO_HTTP);
  close(e.fd);
  /* One response more than requests. */
  open_conn(&e);
  GET(&e);
  respond(&e, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n");
  res_t r;
  take_res(&e, &r);
  rec_free(&r.rec);
  expect_fault(&e, EW_EPROTO_HTTP);
  close(e.fd);
  stop(&e);
}

/* A response larger than a record arrives in fragments (MORE on all but the last) that join
 * to the whole; with the ring full of them, the connection waits and loses nothing. */
static void test_fragments(void) {
  ew_listen_opts_t d;
  ew_listen_opts_init(&d);
  ew_http_limits_t lim = d.http;
  lim.max_body_bytes = 1u << 20;
  env_t e;
  start_with(&e, 4096, &lim); /* a record carries at most 1 KiB */
  open_conn(&e);
  size_t n = 200000;
  char *big = malloc(n + 128);
  ASSERT_NOT_NULL(big);
  int h = snprintf(big, 128, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
  for (size_t i = 0; i < n; i++)
    big[h + (int)i] = (char)('a' + i % 26);
  big[h + (int)n] = '\0';
  GET(&e);
  GET(&e);
  respond(&e, big);
  respond(&e, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nend");
  res_t r;
  take_res(&e, &r);
  ASSERT_GT(r.rec.frags, 100);
  ASSERT_EQ(r.body_len, n);
  ASSERT_MEM_EQ(r.body, big + h, n);
  rec_free(&r.rec);
  take_res(&e, &r);
  expect_body(&r, "end");
  rec_free(&r.rec);
  /* A close-delimited body completed by the FIN, larger than the ring: the connection reads
   * no more, waits for room and still delivers it whole, then the CLOSE. */
  GET(&e);
  respond(&e, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
  tcp_write_all(e.fd, big + h, 20000);
  shutdown(e.fd, SHUT_WR);
  take_res(&e, &r);
  ASSERT_EQ(r.flags, 0);
  ASSERT_EQ(r.body_len, 20000);
  rec_free(&r.rec);
  expect_close(&e, EW_EOF);
  close(e.fd);
  free(big);
  stop(&e);
}

int main(int argc, char **argv) {
  static const ew_test_t tests[] = {EW_TEST(test_responses),     EW_TEST(test_no_body),
                                    EW_TEST(test_last_response), EW_TEST(test_fin),
                                    EW_TEST(test_limits),        EW_TEST(test_malformed),
                                    EW_TEST(test_fragments)};
  for (level_triggered = 0; level_triggered <= 1; level_triggered++) {
    fprintf(stderr, "## %s-triggered connections\n", level_triggered ? "level" : "edge");
    if (ew_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]) != 0) return 1;
  }
  return 0;
}
