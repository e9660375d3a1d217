// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "tcp.h"
#include "ew.h"

#include <stdatomic.h>
#include <time.h>

/* The lines codec (codec_lines.c) seen from a port: the test thread reads the in ring itself,
 * so each record is checked exactly as JavaScript receives it, and it can hold the ring full
 * to reach the one path no JavaScript test can time: the last line at the peer's FIN with no
 * room left in the ring. */

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
  uint16_t port; /* the server's */
} env_t;

typedef struct {
  ew_rec_t h;
  uint8_t body[1100];
} rec_t;

static void start_with(env_t *e, uint32_t in_ring_bytes, uint32_t max_line,
                       const ew_limits_t *lim) {
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.io_threads = 1;
  o.in_ring_bytes = in_ring_bytes;
  o.log_level = EW_LOG_LEVEL_ERROR;
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
  lo.framing = EW_FRAMING_LINES;
  lo.max_frame_bytes = max_line;
  if (lim != NULL) lo.limits = *lim;
  ew_listen_info_t info;
  ASSERT_OK(ew_listen(e->rt, &lo, &info));
  e->port = info.port;
}

static void start(env_t *e, uint32_t in_ring_bytes, uint32_t max_line) {
  start_with(e, in_ring_bytes, max_line, NULL);
}

static void stop(env_t *e) {
  ew_port_detach(e->p);
  ew_runtime_release(e->rt);
}

/* The next record within 10 s, copied; the ring space is freed only if `release`. */
static void take(env_t *e, rec_t *r, uint16_t kind, int release) {
  uint64_t deadline = now_ms() + 10000;
  const ew_rec_t *rec;
  while ((rec = ew_ring_next(&e->in)) == NULL) {
    if (now_ms() >= deadline) EW__FAIL("no record within 10 s (expected kind %u)", kind);
    usleep(1000);
  }
  r->h = *rec;
  ASSERT_LE(rec->len, sizeof r->body);
  memcpy(r->body, rec + 1, rec->len);
  ew_ring_advance(&e->in, rec);
  if (release && ew_ring_release(&e->in)) ew_port_kick(e->p, 0);
  if (r->h.kind != kind)
    EW__FAIL("record kind %u (type %u), expected %u", (unsigned)r->h.kind, r->h.type, kind);
}

static void expect_line(env_t *e, uint64_t id, const void *line, size_t n, int release) {
  rec_t r;
  take(e, &r, EW_REC_DATA, release);
  ASSERT_UEQ(r.h.conn, id);
  ASSERT_EQ(r.h.type, 0);
  ASSERT_EQ(r.h.seq, 0);
  ASSERT_EQ(r.h.flags, 0);
  ASSERT_EQ(r.h.len, n);
  ASSERT_MEM_EQ(r.body, line, n);
}

static uint64_t open_conn(env_t *e, int *fd, uint32_t *open_size) {
  *fd = tcp_connect(e->port);
  rec_t r;
  take(e, &r, EW_REC_OPEN, 1);
  if (open_size != NULL) *open_size = EW_REC_SIZE(r.h.len);
  return r.h.conn;
}

/* A SHUTDOWN from the port, as JavaScript answers END or FAULT. */
static void shutdown_conn(env_t *e, uint64_t id, uint32_t reason) {
  ew_rec_t *rec = ew_ring_reserve(&e->out, 0);
  ASSERT_NOT_NULL(rec);
  rec->kind = EW_REC_SHUTDOWN;
  rec->flags = 0;
  rec->conn = id;
  rec->type = reason;
  rec->seq = 0;
  ASSERT_EQ(ew_ring_publish(&e->out), 1);
  ew_port_kick(e->p, 0);
}

static void expect_close(env_t *e, uint64_t id, int reason) {
  rec_t r;
  take(e, &r, EW_REC_CLOSE, 1);
  ASSERT_UEQ(r.h.conn, id);
  ASSERT_EQ((int32_t)r.h.type, reason);
}

#define LINE(e, id, s) expect_line(e, id, s, sizeof s - 1, 1)

/* Terminators, empty lines, bytes split anywhere, and the last line at the FIN. */
static void test_lines(void) {
  env_t e;
  start(&e, 1u << 16, 100);
  int fd;
  uint64_t id = open_conn(&e, &fd, NULL);
  const char *in = "a\r\nb\n\n\r\nc\rd\n";
  for (const char *p = in; *p != '\0'; p++) /* one byte per write: lines across reads */
    tcp_write_all(fd, p, 1);
  LINE(&e, id, "a");
  LINE(&e, id, "b");
  LINE(&e, id, "");
  LINE(&e, id, "");
  LINE(&e, id, "c\rd");
  /* Exactly the limit, in one write with the next lines; then a last line cut at the FIN. */
  char buf[256];
  memset(buf, 'x', 100);
  memcpy(buf + 100, "\r\nok\nlast\r", 10);
  tcp_write_all(fd, buf, 110);
  shutdown(fd, SHUT_WR);
  expect_line(&e, id, buf, 100, 1);
  LINE(&e, id, "ok");
  LINE(&e, id, "last");
  rec_t r;
  take(&e, &r, EW_REC_END, 1);
  shutdown_conn(&e, id, 0);
  expect_close(&e, id, EW_EOF);
  ASSERT_EQ(tcp_wait_closed(fd), 0);
  close(fd);
  stop(&e);
}

/* One byte over the limit is a FAULT (EW_EPROTO_LENGTH) after the lines before it, whether
 * the "\n" has come or not; the limit plus a "\r" still waits for its "\n". */
static void test_too_long(void) {
  env_t e;
  start(&e, 1u << 16, 100);
  char buf[256];
  int fd;
  uint64_t id = open_conn(&e, &fd, NULL);
  memcpy(buf, "ok\n", 3);
  memset(buf + 3, 'y', 101);
  buf[104] = '\n';
  tcp_write_all(fd, buf, 105);
  LINE(&e, id, "ok");
  rec_t r;
  take(&e, &r, EW_REC_FAULT, 1);
  ASSERT_UEQ(r.h.conn, id);
  ASSERT_EQ((int32_t)r.h.type, EW_EPROTO_LENGTH);
  shutdown_conn(&e, id, r.h.type);
  expect_close(&e, id, EW_EPROTO_LENGTH);
  close(fd);

  id = open_conn(&e, &fd, NULL);
  memset(buf, 'w', 100);
  buf[100] = '\r';
  tcp_write_all(fd, buf, 101);
  tcp_write_all(fd, "\n", 1);
  expect_line(&e, id, buf, 100, 1);
  memset(buf, 'z', 101); /* no "\n" */
  tcp_write_all(fd, buf, 101);
  take(&e, &r, EW_REC_FAULT, 1);
  ASSERT_EQ((int32_t)r.h.type, EW_EPROTO_LENGTH);
  shutdown_conn(&e, id, r.h.type);
  expect_close(&e, id, EW_EPROTO_LENGTH);
  close(fd);
  stop(&e);
}

/* The last line at the FIN while the ring is full: the connection reads no more, so the line
 * queues behind the control records instead of waiting for room, and still comes before END.
 * The test fills the 4 KiB ring exactly with complete lines (records that are never released),
 * so no room is left when the FIN is read; the IO thread then waits for room
 * (producer_waiting), which is how the test knows the FIN was handled with the ring full. */
static void test_last_line_ring_full(void) {
  env_t e;
  start(&e, 4096, 1000);
  int fd;
  uint32_t open_size;
  uint64_t id = open_conn(&e, &fd, &open_size);
  /* The OPEN was released: the ring is empty and its tail is open_size bytes into the lap.
   * Records of the rest of the lap, then of open_size bytes, fill it without a PAD. */
  uint32_t sizes[16], n = 0;
  for (uint32_t left = 4096 - open_size; left > 0;) {
    uint32_t s = left <= 1024 ? left : (left - 1024 < 24 ? left - 24 : 1024);
    sizes[n++] = s;
    left -= s;
  }
  sizes[n++] = open_size;
  static char out[8192];
  size_t len = 0;
  for (uint32_t i = 0; i < n; i++) {
    ASSERT_GE(sizes[i], EW_REC_HEADER_BYTES);
    memset(out + len, 'a' + (int)i, sizes[i] - EW_REC_HEADER_BYTES);
    len += sizes[i] - EW_REC_HEADER_BYTES;
    out[len++] = '\n';
  }
  memcpy(out + len, "the end", 7);
  tcp_write_all(fd, out, len + 7);
  shutdown(fd, SHUT_WR);
  const char *p = out;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t body = sizes[i] - EW_REC_HEADER_BYTES;
    expect_line(&e, id, p, body, 0); /* read, not released: the ring stays full */
    p += body + 1;
  }
  _Atomic uint32_t *waiting =
      (_Atomic uint32_t *)((uint8_t *)ew_port_in(e.p, 0) + EW_RING_OFF_PRODUCER_WAITING);
  WAIT_FOR(atomic_load(waiting) == 1);
  if (ew_ring_release(&e.in)) ew_port_kick(e.p, 0);
  LINE(&e, id, "the end");
  rec_t r;
  take(&e, &r, EW_REC_END, 1);
  shutdown_conn(&e, id, 0);
  expect_close(&e, id, EW_EOF);
  close(fd);
  stop(&e);
}

/* More lines than the window allows: the kick is a FAULT (EW_EFLOOD) after the lines within
 * the limit. */
static void test_window(void) {
  env_t e;
  ew_limits_t lim;
  ew_limits_init(&lim);
  lim.window_ms = 60000;
  lim.max_msgs_per_window = 3;
  start_with(&e, 1u << 16, 100, &lim);
  int fd;
  uint64_t id = open_conn(&e, &fd, NULL);
  tcp_write_all(fd, "1\n2\n3\n4\n5\n", 10);
  LINE(&e, id, "1");
  LINE(&e, id, "2");
  LINE(&e, id, "3");
  rec_t r;
  take(&e, &r, EW_REC_FAULT, 1);
  ASSERT_EQ((int32_t)r.h.type, EW_EFLOOD);
  shutdown_conn(&e, id, r.h.type);
  take(&e, &r, EW_REC_CLOSE, 1);
  ASSERT_EQ((int32_t)r.h.type, EW_EFLOOD);
  close(fd);
  stop(&e);
}

int main(int argc, char **argv) {
  static const ew_test_t tests[] = {EW_TEST(test_lines), EW_TEST(test_too_long),
                                    EW_TEST(test_last_line_ring_full), EW_TEST(test_window)};
  for (level_triggered = 0; level_triggered <= 1; level_triggered++) {
    fprintf(stderr, "## %s-triggered connections\n", level_triggered ? "level" : "edge");
    if (ew_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]) != 0) return 1;
  }
  return 0;
}
