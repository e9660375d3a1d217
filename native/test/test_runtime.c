// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "tcp.h"
#include "echo_port.h"
#include "ew.h"
#include "ew/experiment.h"

#include <errno.h>
#include <stdbool.h>
#include <sched.h>

#include <poll.h>
#include <sys/syscall.h>

static ew_runtime_t *rt;
static ew_echo_port_t ep;
/* Every test runs three times: edge-triggered connections, then level-triggered, then
 * edge-triggered with the IO loop inline (no IO thread: a driver thread of the test is its
 * owner, as the JavaScript thread is in Node). */
static int level_triggered;
static int inline_io;
static uint32_t spin_us; /* the spinning pass: IO thread and echo port both spin */
static pthread_t driver;

/* The owner's side of inline mode, as the addon does it with libuv: poll the fd with the next
 * timer as the timeout, run a round, stop polling on EW_INLINE_STOPPING. */
static void *drive_inline(void *arg) {
  ew_runtime_t *r = arg;
  int fd = ew_runtime_inline_fd(r);
  for (;;) {
    int32_t next;
    int ret = ew_runtime_inline_run(r, 0, &next);
    if (ret == EW_INLINE_STOPPED) break;
    if (ret == EW_INLINE_STOPPING || ret == EW_INLINE_MORE) continue;
    ASSERT_EQ(ret, EW_INLINE_IDLE);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    poll(&p, 1, next);
  }
  return NULL;
}
/* The echo port's record hook for the next start(). */
static void (*next_on_record)(ew_echo_port_t *ep, const ew_rec_t *rec);

static uint16_t start(uint32_t io_threads, uint32_t max_frame) {
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.io_threads = io_threads;
  o.in_ring_bytes = 1u << 16; /* small rings: fragments, PAD and full-ring pauses all happen */
  o.out_ring_bytes = 1u << 16;
  o.log_level = EW_LOG_LEVEL_ERROR;
  o.level_triggered = level_triggered;
  o.spin_us = spin_us;
  if (inline_io) {
    o.io_threads = 1;
    o.inline_io = 1;
  }
  ASSERT_OK(ew_runtime_start(&o, &rt));
  if (inline_io) {
    ASSERT_GE(ew_runtime_inline_fd(rt), 0);
    ASSERT_OK(pthread_create(&driver, NULL, drive_inline, rt));
  }
  memset(&ep, 0, sizeof ep);
  ep.end_on_peer_end = 1;
  ep.on_record = next_on_record;
  ep.spin_us = spin_us;
  ASSERT_OK(ew_echo_port_start(&ep, rt, 0));
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.host = "127.0.0.1";
  lo.max_frame_bytes = max_frame;
  ew_listen_info_t info;
  ASSERT_OK(ew_listen(rt, &lo, &info));
  ASSERT_GT(info.port, 0);
  ASSERT_EQ(info.family, 4);
  ASSERT_STR_EQ(info.address, "127.0.0.1");
  return info.port;
}

static void stop(void) {
  ew_echo_port_stop(&ep);
  if (inline_io) {
    /* The driver runs the loop to its end; the release then has nothing left to close. */
    ASSERT_OK(ew_runtime_stop(rt, NULL, NULL));
    pthread_join(driver, NULL);
  }
  ew_runtime_release(rt);
  rt = NULL;
}

static void echo_one(int fd, uint32_t len, uint16_t type, uint32_t seq) {
  uint8_t *buf = malloc(EW_FRAME_HEADER_BYTES + (size_t)len);
  frame_header(buf, len, type, 0, seq);
  for (uint32_t i = 0; i < len; i++)
    buf[EW_FRAME_HEADER_BYTES + i] = (uint8_t)(i * 7 + seq);
  tcp_write_all(fd, buf, EW_FRAME_HEADER_BYTES + (size_t)len);
  uint8_t *got = malloc(EW_FRAME_HEADER_BYTES + (size_t)len);
  ASSERT_OK(tcp_read_all(fd, got, EW_FRAME_HEADER_BYTES + (size_t)len));
  ASSERT_MEM_EQ(got, buf, EW_FRAME_HEADER_BYTES + (size_t)len);
  free(buf);
  free(got);
}

static void test_echo_sizes(void) {
  uint16_t port = start(2, 4u << 20);
  int fds[8];
  for (int i = 0; i < 8; i++)
    fds[i] = tcp_connect(port);
  const uint32_t sizes[] = {0, 1, 64, 4095, 16384, 65536, 100000, 1u << 20};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (int i = 0; i < 8; i++)
      echo_one(fds[i], sizes[s], (uint16_t)(s + 1), (uint32_t)i);
  for (int i = 0; i < 8; i++)
    close(fds[i]);
  WAIT_FOR(atomic_load(&ep.closed) == 8);
  ASSERT_EQ(atomic_load(&ep.opened), 8);
  stop();
}

static void test_pipelined_batch(void) {
  uint16_t port = start(1, 1u << 16);
  int fd = tcp_connect(port);
  enum { N = 1000, LEN = 64 };
  static uint8_t out[N * (EW_FRAME_HEADER_BYTES + LEN)], in[sizeof out];
  for (int i = 0; i < N; i++) {
    uint8_t *f = out + i * (EW_FRAME_HEADER_BYTES + LEN);
    frame_header(f, LEN, 9, EW_FRAME_FLAG_REPLY, (uint32_t)i);
    memset(f + EW_FRAME_HEADER_BYTES, i & 0xff, LEN);
  }
  tcp_write_all(fd, out, sizeof out);
  ASSERT_OK(tcp_read_all(fd, in, sizeof in));
  ASSERT_MEM_EQ(in, out, sizeof out);
  /* Half-close: our FIN is answered by the server's after the replies. */
  shutdown(fd, SHUT_WR);
  ASSERT_EQ(tcp_wait_closed(fd), 0);
  close(fd);
  WAIT_FOR(atomic_load(&ep.closed) == 1);
  ASSERT_EQ(atomic_load(&ep.last_close_reason), EW_EOF);
  ASSERT_EQ(atomic_load(&ep.frames), N);
  stop();
}

static void expect_protocol_close(uint16_t port, const uint8_t *bytes, size_t n, int reason,
                                  int half_close) {
  uint64_t before = atomic_load(&ep.closed);
  int fd = tcp_connect(port);
  tcp_write_all(fd, bytes, n);
  if (half_close) shutdown(fd, SHUT_WR);
  int r = tcp_wait_closed(fd);
  ASSERT_EQ(r == 0 || r == ECONNRESET, 1);
  close(fd);
  WAIT_FOR(atomic_load(&ep.closed) == before + 1);
  ASSERT_EQ(atomic_load(&ep.last_close_reason), reason);
}

static void test_protocol_errors(void) {
  uint16_t port = start(1, 1000);
  int good = tcp_connect(port);
  uint8_t h[EW_FRAME_HEADER_BYTES];
  frame_header(h, 1001, 1, 0, 0);
  expect_protocol_close(port, h, sizeof h, EW_EPROTO_LENGTH, 0);
  frame_header(h, 10, 1, 0x10, 0);
  expect_protocol_close(port, h, sizeof h, EW_EPROTO_FLAGS, 0);
  frame_header(h, 10, 0, 0, 0);
  expect_protocol_close(port, h, sizeof h, EW_EPROTO_TYPE, 0);
  const uint8_t garbage[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  expect_protocol_close(port, garbage, sizeof garbage - 1, EW_EPROTO_LENGTH, 0);
  uint8_t partial[EW_FRAME_HEADER_BYTES + 5] = {0};
  frame_header(partial, 100, 1, 0, 0);
  expect_protocol_close(port, partial, sizeof partial, EW_EPROTO_TRUNCATED, 1);
  expect_protocol_close(port, partial, 7, EW_EPROTO_TRUNCATED, 1);
  /* The well-behaved connection is untouched by all of that. */
  echo_one(good, 500, 3, 77);
  close(good);
  stop();
}

static void test_reset_mid_frame(void) {
  uint16_t port = start(1, 1u << 20);
  int good = tcp_connect(port);
  int fd = tcp_connect(port);
  uint8_t partial[EW_FRAME_HEADER_BYTES + 10] = {0};
  frame_header(partial, 1000, 1, 0, 0);
  tcp_write_all(fd, partial, sizeof partial);
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd); /* RST */
  WAIT_FOR(atomic_load(&ep.closed) == 1);
  ASSERT_EQ(atomic_load(&ep.last_close_reason), EW_ECONNRESET);
  echo_one(good, 64, 1, 1);
  close(good);
  stop();
}

static void test_start_stop_no_leaks(void) {
  int fds0 = count_fds();
  int threads0 = settled_threads();
  for (int i = 0; i < 50; i++) {
    uint16_t port = start(3, 1u << 16);
    int fd = tcp_connect(port);
    echo_one(fd, 10, 1, (uint32_t)i);
    /* Stop with the connection still open: the runtime closes it. */
    stop();
    ASSERT_EQ(tcp_wait_closed(fd), 0);
    close(fd);
  }
  ASSERT_EQ(count_fds(), fds0);
  ASSERT_EQ(count_threads(), threads0);
}

static void test_invalid_options(void) {
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  ew_runtime_t *r = (ew_runtime_t *)1;
  o.io_threads = 0;
  ASSERT_EQ(ew_runtime_start(&o, &r), EW_EINVAL);
  ASSERT_NULL(r);
  ew_runtime_opts_init(&o);
  o.in_ring_bytes = 5000;
  ASSERT_EQ(ew_runtime_start(&o, &r), EW_EINVAL);
  ew_runtime_opts_init(&o);
  o.affinity = EW_AFFINITY_LIST;
  o.ncpus = 0;
  ASSERT_EQ(ew_runtime_start(&o, &r), EW_EINVAL);
  /* A CPU that does not exist fails the start cleanly, leaving no thread behind. */
  int threads0 = settled_threads();
  static const int bad_cpu[] = {CPU_SETSIZE - 1};
  ew_runtime_opts_init(&o);
  o.affinity = EW_AFFINITY_LIST;
  o.cpus = bad_cpu;
  o.ncpus = 1;
  o.log_level = EW_LOG_LEVEL_SILENT;
  ASSERT_EQ(ew_runtime_start(&o, &r), EW_EINVAL);
  ASSERT_EQ(count_threads(), threads0);
}

/* The startup experiment's serial start (ew/experiment.h): every IO thread runs and serves,
 * and a NULL set of experiment options is the plain start. */
static void test_experiment_serial_start(void) {
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.io_threads = 3;
  o.log_level = EW_LOG_LEVEL_ERROR;
  o.level_triggered = level_triggered;
  ew_experiment_opts_t x;
  ew_experiment_opts_init(&x);
  ASSERT_EQ(x.serial_start, 0);
  x.serial_start = 1;
  ASSERT_OK(ew_runtime_start_experiment(&o, &x, &rt));
  for (uint32_t k = 0; k < 3; k++) {
    int tid = 0, cpu = -2;
    ASSERT_OK(ew_runtime_thread_info(rt, k, &tid, &cpu));
    ASSERT_GT(tid, 0);
  }
  memset(&ep, 0, sizeof ep);
  ep.end_on_peer_end = 1;
  ASSERT_OK(ew_echo_port_start(&ep, rt, 0));
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.host = "127.0.0.1";
  ew_listen_info_t info;
  ASSERT_OK(ew_listen(rt, &lo, &info));
  int fds[3];
  for (int i = 0; i < 3; i++) /* round-robin: one connection per IO thread */
    fds[i] = tcp_connect(info.port);
  for (int i = 0; i < 3; i++)
    echo_one(fds[i], 100, 1, (uint32_t)i);
  for (int i = 0; i < 3; i++)
    close(fds[i]);
  WAIT_FOR(atomic_load(&ep.closed) == 3);
  stop();

  ew_runtime_t *r = (ew_runtime_t *)1;
  o.io_threads = 0;
  ASSERT_EQ(ew_runtime_start_experiment(&o, &x, &r), EW_EINVAL);
  ASSERT_NULL(r);
  o.io_threads = 2;
  ASSERT_OK(ew_runtime_start_experiment(&o, NULL, &rt));
  ew_runtime_release(rt);
  rt = NULL;
}

static void test_affinity_list(void) {
  static const int cpu0[] = {0};
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.io_threads = 2;
  o.affinity = EW_AFFINITY_LIST;
  o.cpus = cpu0;
  o.ncpus = 1;
  ASSERT_OK(ew_runtime_start(&o, &rt));
  for (uint32_t k = 0; k < 2; k++) {
    int tid = 0, cpu = -2;
    ASSERT_OK(ew_runtime_thread_info(rt, k, &tid, &cpu));
    ASSERT_EQ(cpu, 0);
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/self/task/%d/status", tid);
    FILE *f = fopen(path, "r");
    ASSERT_NOT_NULL(f);
    int found = 0;
    while (fgets(line, sizeof line, f))
      if (strncmp(line, "Cpus_allowed_list:", 18) == 0) {
        ASSERT_STR_EQ(line + 18 + strspn(line + 18, " \t"), "0\n");
        found = 1;
      }
    fclose(f);
    ASSERT_EQ(found, 1);
  }
  ew_runtime_release(rt);
}

static void test_listen_errors_and_unlisten(void) {
  uint16_t port = start(2, 1024);
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.host = "127.0.0.1";
  lo.port = port;
  ew_listen_info_t info;
  ASSERT_EQ(ew_listen(rt, &lo, &info), EW_EADDRINUSE);
  lo.host = "no-such-host.invalid";
  lo.port = 0;
  int err = ew_listen(rt, &lo, &info);
  ASSERT_EQ(err == EW_EAI_NONAME || err == EW_EAI_AGAIN || err == EW_EAI_FAIL, 1);
  lo.host = "localhost";
  ASSERT_OK(ew_listen(rt, &lo, &info));
  ASSERT_GT(info.port, 0);
  /* reusePort: one socket per IO thread, all on the same (kernel-chosen) port. */
  lo.host = "127.0.0.1";
  lo.reuse_port = 1;
  ASSERT_OK(ew_listen(rt, &lo, &info));
  uint16_t rp = info.port;
  for (int i = 0; i < 4; i++) {
    int fd = tcp_connect(rp);
    echo_one(fd, 32, 1, 1);
    close(fd);
  }
  ASSERT_OK(ew_unlisten(rt, info.id));
  ASSERT_EQ(ew_unlisten(rt, info.id), EW_ENOENT);
  WAIT_FOR(atomic_load(&ep.unlistens) == 1);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(rp)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), -1);
  ASSERT_EQ(errno, ECONNREFUSED);
  close(fd);
  stop();
}

/* A frame of type 42 makes the port end its connection as the runtime's graceful close does:
 * SHUTDOWN with EW_ESHUTDOWN (one IO thread: the connection is on IO thread 0). */
static void shutdown_on_42(ew_echo_port_t *p, const ew_rec_t *rec) {
  bool is42 = rec->kind == EW_REC_DATA && rec->type == 42;
  if (rec->kind == EW_REC_FRAMES) {
    ew_frame_header_t h;
    const uint8_t *body;
    uint32_t at = 0;
    while (ew_frames_next((const uint8_t *)(rec + 1), rec->len, &at, &h, &body))
      is42 |= h.type == 42;
  }
  if (is42) ew_echo_port_command(p, 0, EW_REC_SHUTDOWN, rec->conn, (uint32_t)EW_ESHUTDOWN);
}

/* After a SHUTDOWN with EW_ESHUTDOWN the replies are out and our FIN follows; bytes the peer
 * is still sending are read and discarded (a close at once would answer them with a reset,
 * which can destroy replies the peer has not read yet), and the connection closes with
 * EW_ESHUTDOWN once the peer has closed too. */
static void test_graceful_shutdown_lingers(void) {
  next_on_record = shutdown_on_42;
  uint16_t port = start(1, 1u << 20);
  next_on_record = NULL;
  int fd = tcp_connect(port);
  echo_one(fd, 100, 1, 1);
  uint64_t before = atomic_load(&ep.closed);
  uint8_t h[EW_FRAME_HEADER_BYTES];
  frame_header(h, 0, 42, 0, 0);
  tcp_write_all(fd, h, sizeof h);
  ASSERT_EQ(tcp_wait_closed(fd), 0); /* the server's FIN, and no reply after the SHUTDOWN */
  /* The peer goes on talking, then ends: no reset answers it. */
  static uint8_t more[4096];
  frame_header(more, sizeof more - EW_FRAME_HEADER_BYTES, 1, 0, 0);
  for (int i = 0; i < 16; i++)
    ASSERT_EQ(send(fd, more, sizeof more, MSG_NOSIGNAL), (ssize_t)sizeof more);
  ASSERT_OK(shutdown(fd, SHUT_WR));
  WAIT_FOR(atomic_load(&ep.closed) == before + 1);
  ASSERT_EQ(atomic_load(&ep.last_close_reason), EW_ESHUTDOWN);
  int err = -1;
  socklen_t elen = sizeof err;
  ASSERT_OK(getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen));
  ASSERT_EQ(err, 0);
  uint8_t b;
  ASSERT_EQ(recv(fd, &b, 1, 0), 0);
  close(fd);
  stop();
}

static void no_wake(void *arg) {
  (void)arg;
}

/* 0 once the peer has closed (EOF), without blocking; -1 otherwise. */
static int tcp_wait_closed_nb(int fd) {
  uint8_t b;
  ssize_t r = recv(fd, &b, 1, MSG_DONTWAIT);
  return r == 0 ? 0 : -1;
}

static void count_stop(void *arg) {
  atomic_fetch_add((_Atomic int *)arg, 1);
}

/* Inline mode's own API: options, the fd, and a runtime dropped without its loop run to the
 * end (the release closes it on the caller's thread: no fd, no connection left). */
static void test_inline_api(void) {
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.log_level = EW_LOG_LEVEL_ERROR;
  o.inline_io = 1;
  o.io_threads = 2;
  ASSERT_EQ(ew_runtime_start(&o, &rt), EW_EINVAL);
  o.inline_io = 0;
  o.io_threads = 1;
  ASSERT_OK(ew_runtime_start(&o, &rt));
  int32_t next = 7;
  ASSERT_EQ(ew_runtime_inline_fd(rt), -1);
  ASSERT_EQ(ew_runtime_inline_run(rt, 0, &next), EW_ESTATE);
  ASSERT_EQ(next, -1);
  ew_runtime_release(rt);

  int fds0 = count_fds();
  int threads0 = settled_threads();
  o.inline_io = 1;
  ASSERT_OK(ew_runtime_start(&o, &rt));
  ASSERT_EQ(count_threads(), threads0); /* no IO thread */
  int tid = 0, cpu = 7;
  ASSERT_OK(ew_runtime_thread_info(rt, 0, &tid, &cpu));
  ASSERT_EQ(tid, (int)syscall(SYS_gettid));
  ASSERT_EQ(cpu, -1);
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.host = "127.0.0.1";
  ew_listen_info_t info;
  ASSERT_OK(ew_listen(rt, &lo, &info));
  /* The listen command is waiting: the fd says so. */
  struct pollfd p = {.fd = ew_runtime_inline_fd(rt), .events = POLLIN};
  ASSERT_EQ(poll(&p, 1, 1000), 1);
  ASSERT_EQ(ew_runtime_inline_run(rt, 0, &next), EW_INLINE_IDLE);
  int fd = tcp_connect(info.port);
  ASSERT_EQ(poll(&p, 1, 1000), 1); /* the connection to accept */
  ASSERT_EQ(ew_runtime_inline_run(rt, 0, &next), EW_INLINE_IDLE);
  _Atomic int stopped = 0;
  ASSERT_OK(ew_runtime_stop(rt, count_stop, (void *)&stopped));
  ASSERT_EQ(poll(&p, 1, 1000), 1); /* the stop command */
  ASSERT_EQ(ew_runtime_inline_run(rt, 0, &next), EW_INLINE_STOPPING);
  ASSERT_EQ(atomic_load(&stopped), 0);
  ew_runtime_release(rt); /* closes the loop here */
  rt = NULL;
  ASSERT_EQ(atomic_load(&stopped), 1);
  ASSERT_EQ(tcp_wait_closed(fd), 0);
  close(fd);
  ASSERT_EQ(count_fds(), fds0);

  /* A timer that is overdue, because the owner ran no round that looked at the sockets and
   * timers, is due now (0 ms), never reported as no timer at all (-1): the idle timeout's sweep
   * is overdue here, and a round without a poll must still ask to be run. */
  ASSERT_OK(ew_runtime_start(&o, &rt));
  p.fd = ew_runtime_inline_fd(rt);
  /* A port must be attached for connections to be taken (no consumer reads it here). */
  ASSERT_OK(ew_port_attach(ew_runtime_port(rt, 0), no_wake, NULL));
  lo.limits.idle_timeout_ms = 30;
  ASSERT_OK(ew_listen(rt, &lo, &info));
  ASSERT_EQ(ew_runtime_inline_run(rt, 0, &next), EW_INLINE_IDLE);
  fd = tcp_connect(info.port);
  /* Until the connection is adopted and its idle timeout armed. */
  for (int i = 0; i < 100 && next < 0; i++) {
    poll(&p, 1, 10);
    ew_runtime_inline_run(rt, 0, &next);
  }
  ASSERT_GE(next, 0); /* the sweep is armed */
  usleep(120 * 1000);
  ASSERT_EQ(ew_runtime_inline_run(rt, EW_INLINE_NO_POLL, &next), EW_INLINE_IDLE);
  ASSERT_GE(next, 0);
  ASSERT_LE(next, 1);
  /* Run as asked: the connection closes at its idle timeout. */
  for (int i = 0; i < 100 && tcp_wait_closed_nb(fd) != 0; i++) {
    poll(&p, 1, next < 0 ? 10 : next);
    ew_runtime_inline_run(rt, 0, &next);
  }
  ASSERT_EQ(tcp_wait_closed_nb(fd), 0);
  close(fd);
  lo.limits.idle_timeout_ms = 0;
  ew_port_detach(ew_runtime_port(rt, 0));
  ew_runtime_release(rt);
  rt = NULL;

  /* Released while running, never told to stop. */
  ASSERT_OK(ew_runtime_start(&o, &rt));
  p.fd = ew_runtime_inline_fd(rt);
  ASSERT_OK(ew_listen(rt, &lo, &info));
  ASSERT_EQ(ew_runtime_inline_run(rt, 0, &next), EW_INLINE_IDLE);
  fd = tcp_connect(info.port);
  ASSERT_EQ(poll(&p, 1, 1000), 1);
  ASSERT_EQ(ew_runtime_inline_run(rt, 0, &next), EW_INLINE_IDLE);
  ew_runtime_release(rt);
  rt = NULL;
  ASSERT_EQ(tcp_wait_closed(fd), 0);
  close(fd);
  ASSERT_EQ(count_fds(), fds0);
}

/* ---- the echo port as the inline loop's owner (ew_echo_native --inline) ------------------- */

static atomic_int owner_stop;
static int owner_should_stop(void *arg) {
  (void)arg;
  return atomic_load(&owner_stop);
}
static void *owner_main(void *arg) {
  ew_echo_port_run_inline(arg, owner_should_stop, NULL);
  return NULL;
}

/* The IO loop and the echo on one thread, in turns: every size (1 MiB through 64 KiB rings, so
 * fragments and full rings, where a full out ring runs a round of the loop on the spot), a
 * pipelined batch larger than the out ring, a half-close answered after the replies, and a stop
 * that leaves no descriptor behind. */
static void test_inline_owner_echo(void) {
  int fds0 = count_fds();
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.inline_io = 1;
  o.in_ring_bytes = 1u << 16;
  o.out_ring_bytes = 1u << 16;
  o.log_level = EW_LOG_LEVEL_ERROR;
  o.level_triggered = level_triggered;
  ew_runtime_t *r;
  ASSERT_OK(ew_runtime_start(&o, &r));
  static ew_echo_port_t op;
  memset(&op, 0, sizeof op);
  op.end_on_peer_end = 1;
  op.inline_owner = 1;
  ASSERT_OK(ew_echo_port_attach(&op, r, 0));
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.host = "127.0.0.1";
  lo.max_frame_bytes = 4u << 20;
  ew_listen_info_t info;
  ASSERT_OK(ew_listen(r, &lo, &info));
  atomic_store(&owner_stop, 0);
  pthread_t t;
  ASSERT_OK(pthread_create(&t, NULL, owner_main, &op));

  int fds[4];
  for (int i = 0; i < 4; i++)
    fds[i] = tcp_connect(info.port);
  const uint32_t sizes[] = {0, 1, 64, 4095, 16384, 65536, 100000, 1u << 20};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
    for (int i = 0; i < 4; i++)
      echo_one(fds[i], sizes[k], (uint16_t)(k + 1), (uint32_t)i);
  enum { N = 2000, LEN = 64 };
  static uint8_t out[N * (EW_FRAME_HEADER_BYTES + LEN)], in[sizeof out];
  for (int i = 0; i < N; i++) {
    uint8_t *f = out + i * (EW_FRAME_HEADER_BYTES + LEN);
    frame_header(f, LEN, 9, 0, (uint32_t)i);
    memset(f + EW_FRAME_HEADER_BYTES, i & 0xff, LEN);
  }
  tcp_write_all(fds[0], out, sizeof out);
  ASSERT_OK(tcp_read_all(fds[0], in, sizeof in));
  ASSERT_MEM_EQ(in, out, sizeof out);
  shutdown(fds[0], SHUT_WR);
  ASSERT_EQ(tcp_wait_closed(fds[0]), 0);
  for (int i = 0; i < 4; i++)
    close(fds[i]);
  WAIT_FOR(atomic_load(&op.closed) == 4);
  ASSERT_EQ(atomic_load(&op.frames), 4 * (sizeof sizes / sizeof sizes[0]) + N);

  /* A connection still open at the stop is closed by it, and one that is still sending
   * (without reading its echoes) when the stop comes does not hold the stop up. */
  int late = tcp_connect(info.port);
  echo_one(late, 10, 1, 1);
  int busy = tcp_connect(info.port);
  echo_one(busy, 10, 1, 1);
  for (int i = 0; i < 2000; i++)
    memcpy(out + i * (EW_FRAME_HEADER_BYTES + LEN) + EW_FRAME_HEADER_BYTES, &i, sizeof i);
  tcp_write_all(busy, out, sizeof out);
  atomic_store(&owner_stop, 1);
  pthread_join(t, NULL);
  int rc = tcp_wait_closed(late);
  if (rc != 0 && rc != ECONNRESET) EW__FAIL("the late connection was not closed (%d)", rc);
  close(late);
  close(busy);
  ew_echo_port_detach(&op);
  ew_runtime_release(r);
  ASSERT_EQ(count_fds(), fds0);
}

/* ---- spinning before sleep ---------------------------------------------------------------- */

static int spin_calls, spin_ready_at;
static int ready_at(void *arg) {
  (void)arg;
  return ++spin_calls >= spin_ready_at;
}

/* A blocking wait far shorter than the budget; returns whether the next spin is armed. */
static uint32_t short_wait(ew_spin_t *s) {
  ew_spin_sleep(s);
  ew_spin_woke(s);
  return s->armed;
}

static uint64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ew_spin_t's policy, step by step: it arms only after a wait shorter than its budget, stays
 * armed while spins find work, and backs off 1, 2, 4 ... waits after each miss in a row. */
static void test_spin_policy(void) {
  ew_spin_t s;
  ew_spin_init(&s, 0);
  ew_spin_sleep(&s);
  ew_spin_woke(&s);
  ASSERT_EQ(s.armed, 0); /* a budget of 0 never arms */
  spin_calls = 0;
  spin_ready_at = 1;
  ASSERT_EQ(ew_spin_run(&s, ready_at, NULL), 0);
  ASSERT_EQ(spin_calls, 0);

  /* A budget of 50 ms: "short" and "long" below are far from it even on a loaded machine. */
  ew_spin_init(&s, 50000);
  ASSERT_EQ(s.armed, 0); /* not before a wait says it may pay */
  ew_spin_sleep(&s);
  usleep(80000);
  ew_spin_woke(&s);
  ASSERT_EQ(s.armed, 0); /* a long wait: a spin would not have caught it */
  ew_spin_sleep(&s);
  ew_spin_woke(&s);
  ASSERT_EQ(s.armed, 1); /* a short one would have */
  spin_calls = 0;
  spin_ready_at = 50;
  ASSERT_EQ(ew_spin_run(&s, ready_at, NULL), 1);
  ASSERT_EQ(spin_calls, 50);
  ASSERT_EQ(s.armed, 1); /* a hit keeps it armed */
  ASSERT_UEQ(s.spins, 1);
  ASSERT_UEQ(s.hits, 1);

  /* Misses in a row: each spins its whole budget, then 1, 2, 4 short waits pass unused. */
  for (uint32_t miss = 0; miss < 3; miss++) {
    spin_calls = 0;
    spin_ready_at = INT32_MAX;
    uint64_t t0 = mono_us();
    ASSERT_EQ(ew_spin_run(&s, ready_at, NULL), 0);
    ASSERT_GE(mono_us() - t0, 50000); /* the whole budget */
    ASSERT_EQ(s.armed, 0);
    for (uint32_t k = 0; k < (1u << miss); k++)
      ASSERT_EQ(short_wait(&s), 0);
    ASSERT_EQ(short_wait(&s), 1);
  }
  /* A hit resets the back-off: the next miss skips one wait again. */
  spin_calls = 0;
  spin_ready_at = 1;
  ASSERT_EQ(ew_spin_run(&s, ready_at, NULL), 1);
  spin_calls = 0;
  spin_ready_at = INT32_MAX;
  ASSERT_EQ(ew_spin_run(&s, ready_at, NULL), 0);
  ASSERT_EQ(short_wait(&s), 0);
  ASSERT_EQ(short_wait(&s), 1);
  ASSERT_UEQ(s.spins, 6);
  ASSERT_UEQ(s.hits, 2);

  /* The back-off stops doubling at 1024 waits. */
  s.max_ns = 10000;
  for (int i = 0; i < 20; i++) {
    s.armed = 1;
    ASSERT_EQ(ew_spin_run(&s, ready_at, NULL), 0);
  }
  ASSERT_EQ(s.skip, 1024);
  ASSERT_EQ(s.penalty, 1024);

  /* Out of range at start. */
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  ASSERT_EQ(o.spin_us, 0); /* off by default */
  o.spin_us = EW_MAX_SPIN_US + 1;
  o.log_level = EW_LOG_LEVEL_SILENT;
  ew_runtime_t *bad = (ew_runtime_t *)1;
  ASSERT_EQ(ew_runtime_start(&o, &bad), EW_EINVAL);
  ASSERT_NULL(bad);
}

/* Ping-pong through a spinning IO thread (1 ms): every frame echoed, and spins found work (the
 * echo port answers within microseconds, far inside the budget, in at least one of 2,000
 * round trips), each of them a sleep and a wake-up saved. */
static void test_spin_saves_wakeups(void) {
  uint32_t saved = spin_us;
  spin_us = 1000;
  uint16_t port = start(1, 1u << 16);
  spin_us = saved;
  int fd = tcp_connect(port);
  enum { N = 2000 };
  for (uint32_t i = 0; i < N; i++)
    echo_one(fd, 32, 3, i);
  ew_shm_layout_t l;
  ew_runtime_layout(rt, &l);
  const uint8_t *st = ew_runtime_shm(rt, NULL) + l.io_ctl + EW_SHM_IO_STATS;
  uint64_t spins, hits, wakeups;
  memcpy(&spins, st + 8 * EW_STAT_spins, 8);
  memcpy(&hits, st + 8 * EW_STAT_spin_hits, 8);
  memcpy(&wakeups, st + 8 * EW_STAT_wakeups, 8);
  fprintf(stderr, "  %u frames: %llu spins, %llu found work, %llu wakeups\n", (unsigned)N,
          (unsigned long long)spins, (unsigned long long)hits, (unsigned long long)wakeups);
  ASSERT_GT(hits, 0);
  ASSERT_LE(hits, spins);
  close(fd);
  WAIT_FOR(atomic_load(&ep.closed) == 1);
  stop();
}

int main(int argc, char **argv) {
  static const ew_test_t tests[] = {EW_TEST(test_echo_sizes),
                                    EW_TEST(test_pipelined_batch),
                                    EW_TEST(test_protocol_errors),
                                    EW_TEST(test_reset_mid_frame),
                                    EW_TEST(test_start_stop_no_leaks),
                                    EW_TEST(test_invalid_options),
                                    EW_TEST(test_experiment_serial_start),
                                    EW_TEST(test_affinity_list),
                                    EW_TEST(test_listen_errors_and_unlisten),
                                    EW_TEST(test_graceful_shutdown_lingers)};
  for (level_triggered = 0; level_triggered <= 1; level_triggered++) {
    fprintf(stderr, "## %s-triggered connections\n", level_triggered ? "level" : "edge");
    if (ew_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]) != 0) return 1;
  }
  /* Spinning: the IO thread and the consumer poll before they sleep; a lost wake-up between
   * a spin and a sleep would stall these tests. */
  level_triggered = 0;
  spin_us = 200;
  fprintf(stderr, "## spinning before sleep (200 us)\n");
  if (ew_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]) != 0) return 1;
  static const ew_test_t spin_tests[] = {EW_TEST(test_spin_policy),
                                         EW_TEST(test_spin_saves_wakeups)};
  if (ew_test_main(argc, argv, spin_tests, 2) != 0) return 1;
  spin_us = 0;
  inline_io = 1;
  fprintf(stderr, "## inline IO loop\n");
  if (ew_test_main(argc, argv, tests, sizeof tests / sizeof tests[0]) != 0) return 1;
  static const ew_test_t inline_tests[] = {EW_TEST(test_inline_api),
                                           EW_TEST(test_inline_owner_echo)};
  if (ew_test_main(argc, argv, inline_tests, 2) != 0) return 1;
  level_triggered = 1;
  fprintf(stderr, "## inline IO loop, level-triggered\n");
  return ew_test_main(argc, argv, inline_tests + 1, 1);
}
