// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "tcp.h"
#include "echo_port.h"
#include "internal.h"

/* The codec registry, and connections that exist without a listener: a profile of their own,
 * a socket handed to an IO thread (ew__io_adopt), the codec and the guard doing their work with
 * no server behind them. Real sockets on loopback. */

static void test_registry(void) {
  ASSERT_PTR_EQ(ew__codec_for(EW_FRAMING_FRAMES), &ew__codec_frames);
  ASSERT_PTR_EQ(ew__codec_for(EW_FRAMING_RAW), &ew__codec_raw);
  ASSERT_PTR_EQ(ew__codec_for(EW_FRAMING_HTTP), &ew__codec_http);
  ASSERT_PTR_EQ(ew__codec_for(EW_FRAMING_LINES), &ew__codec_lines);
  ASSERT_PTR_EQ(ew__codec_for(EW_FRAMING_HTTP_CLIENT), &ew__codec_http_client);
  ASSERT_NULL(ew__codec_for(-1));
  ASSERT_NULL(ew__codec_for(1000));
  /* Every codec fills the ops the connection layer calls unconditionally. */
  const ew__codec_t *all[] = {&ew__codec_frames, &ew__codec_raw, &ew__codec_http, &ew__codec_lines,
                              &ew__codec_http_client};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    ASSERT_NOT_NULL(all[i]->init);
    ASSERT_NOT_NULL(all[i]->free);
    ASSERT_NOT_NULL(all[i]->deliver);
    ASSERT_NOT_NULL(all[i]->eof);
    ASSERT_NOT_NULL(all[i]->partial);
    ASSERT_NOT_NULL(all[i]->kick);
    ASSERT_NOT_NULL(all[i]->drain);
    /* A codec with timers of its own handles their expiry, and only such a codec. */
    ASSERT_EQ((all[i]->flags & EW__CODEC_OWN_TIMERS) != 0, all[i]->timeout != NULL);
  }
}

static _Atomic int released;

static void count_release(ew__profile_t *p) {
  (void)p;
  atomic_fetch_add(&released, 1);
}

/* A connected pair on loopback: *client is ours (blocking), *server non-blocking for the IO
 * thread, as accept4 gives the listener its sockets. */
static void loopback_pair(int *client, int *server) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(l, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_OK(bind(l, (struct sockaddr *)&a, sizeof a));
  ASSERT_OK(listen(l, 1));
  socklen_t len = sizeof a;
  ASSERT_OK(getsockname(l, (struct sockaddr *)&a, &len));
  *client = tcp_connect(ntohs(a.sin_port));
  *server = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  ASSERT_GE(*server, 0);
  close(l);
}

typedef struct fixture_s {
  ew_runtime_t *rt;
  ew_echo_port_t ep;
  ew__profile_t prof;
  int client;
} fixture_t;

static void start(fixture_t *f, const ew_listen_opts_t *lo) {
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.io_threads = 1;
  o.log_level = EW_LOG_LEVEL_ERROR;
  ASSERT_OK(ew_runtime_start(&o, &f->rt));
  f->ep.raw = lo->framing == EW_FRAMING_RAW;
  f->ep.end_on_peer_end = 1;
  ASSERT_OK(ew_echo_port_start(&f->ep, f->rt, 0));
  ASSERT_OK(ew__profile_init(&f->prof, lo, ew_runtime_io_threads(f->rt), false));
  f->prof.id = 4242;
  f->prof.release = count_release;
  atomic_store(&released, 0);
  int s;
  loopback_pair(&f->client, &s);
  ASSERT_OK(ew__io_adopt(f->rt, 0, s, &f->prof));
  WAIT_FOR(atomic_load(&f->ep.opened) == 1);
}

static void stop(fixture_t *f) {
  close(f->client);
  WAIT_FOR(atomic_load(&f->ep.closed) == 1);
  /* The connection's reference went back through the profile's hook, exactly once. */
  WAIT_FOR(atomic_load(&released) == 1);
  ew_echo_port_stop(&f->ep);
  ew_runtime_release(f->rt);
  ASSERT_EQ(atomic_load(&released), 1);
  ew__profile_destroy(&f->prof);
}

static void test_frames_without_listener(void) {
  static fixture_t f;
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  start(&f, &lo);
  /* Two frames in one segment and one cut across two writes: all echoed, in order. */
  uint8_t out[3 * (EW_FRAME_HEADER_BYTES + 5)];
  for (int i = 0; i < 3; i++) {
    frame_header(out + i * 17, 5, (uint16_t)(7 + i), 0, (uint32_t)i + 1);
    memcpy(out + i * 17 + EW_FRAME_HEADER_BYTES, "hello", 5);
  }
  tcp_write_all(f.client, out, 2 * 17 + 6);
  usleep(20000);
  tcp_write_all(f.client, out + 2 * 17 + 6, 17 - 6);
  uint8_t in[sizeof out];
  ASSERT_OK(tcp_read_all(f.client, in, sizeof in));
  ASSERT_MEM_EQ(in, out, sizeof out);
  ASSERT_UEQ(atomic_load(&f.ep.frames), 3);
  stop(&f);
}

static void test_raw_without_listener(void) {
  static fixture_t f;
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.framing = EW_FRAMING_RAW;
  start(&f, &lo);
  tcp_write_all(f.client, "raw bytes", 9);
  char in[9];
  ASSERT_OK(tcp_read_all(f.client, in, sizeof in));
  ASSERT_MEM_EQ(in, "raw bytes", 9);
  stop(&f);
}

/* The guard works from the profile's rows: a connection over its message window is kicked
 * (EW_EFLOOD) with no listener and no address table behind it. */
static void test_guard_without_listener(void) {
  static fixture_t f;
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.limits.max_msgs_per_window = 2;
  start(&f, &lo);
  uint8_t out[3 * 17];
  for (int i = 0; i < 3; i++) {
    frame_header(out + i * 17, 5, 9, 0, 0);
    memcpy(out + i * 17 + EW_FRAME_HEADER_BYTES, "flood", 5);
  }
  tcp_write_all(f.client, out, sizeof out);
  /* The two frames within the window are answered, then the connection closes. */
  uint8_t in[2 * 17];
  ASSERT_OK(tcp_read_all(f.client, in, sizeof in));
  ASSERT_MEM_EQ(in, out, sizeof in);
  ASSERT_EQ(tcp_wait_closed(f.client), 0);
  WAIT_FOR(atomic_load(&f.ep.closed) == 1);
  ASSERT_EQ(atomic_load(&f.ep.last_close_reason), EW_EFLOOD);
  ASSERT_UEQ(f.prof.per_io[0].stats[EW_SRV_STAT_kicked_messages], 1);
  stop(&f);
}

EW_TEST_MAIN(EW_TEST(test_registry), EW_TEST(test_frames_without_listener),
             EW_TEST(test_raw_without_listener), EW_TEST(test_guard_without_listener))
