// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "tcp.h"
#include "echo_port.h"
#include "internal.h"

#include <fcntl.h>
#include <netinet/in.h>

/* Outbound connections (links, link.c) on loopback: a connection made by an attempt runs like
 * an accepted one; failed attempts report their error; every address is tried in turn; the
 * timeout holds against a listener whose backlog is full; a closed link abandons its attempts. */

static _Atomic int fails;
static _Atomic int64_t last_fail;
static _Atomic uint32_t last_fail_link;

static void on_record(ew_echo_port_t *ep, const ew_rec_t *rec) {
  (void)ep;
  if (rec->kind != EW_REC_LINK_FAIL) return;
  atomic_store(&last_fail, (int32_t)rec->seq);
  atomic_store(&last_fail_link, rec->type);
  atomic_fetch_add(&fails, 1);
}

typedef struct fixture_s {
  ew_runtime_t *rt;
  ew_echo_port_t ep;
  uint32_t link;
} fixture_t;

static void start(fixture_t *f) {
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.io_threads = 2;
  o.log_level = EW_LOG_LEVEL_ERROR;
  ASSERT_OK(ew_runtime_start(&o, &f->rt));
  f->ep.on_record = on_record;
  f->ep.end_on_peer_end = 1;
  ASSERT_OK(ew_echo_port_start(&f->ep, f->rt, 0));
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  ASSERT_OK(ew_link_open(f->rt, &lo, &f->link));
  atomic_store(&fails, 0);
}

static void stop(fixture_t *f) {
  ASSERT_OK(ew_link_close(f->rt, f->link));
  ASSERT_EQ(ew_link_close(f->rt, f->link), EW_ENOENT);
  ew_echo_port_stop(&f->ep);
  ew_runtime_release(f->rt);
}

/* A listening socket of the test's own on `host` (127.0.0.1 or ::1); returns its port. */
static uint16_t listener(int family, int backlog, int *out) {
  int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(l, 0);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  socklen_t len;
  if (family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof *a;
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_loopback;
    len = sizeof *a;
  }
  ASSERT_OK(bind(l, (struct sockaddr *)&ss, len));
  ASSERT_OK(listen(l, backlog));
  ASSERT_OK(getsockname(l, (struct sockaddr *)&ss, &len));
  *out = l;
  return ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                 : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* The first address (::1, nothing listening there) is refused, the second connects; frames then
 * travel both ways through the link's connection, which closes like any other. */
static void test_connects_trying_every_address(void) {
  static fixture_t f;
  start(&f);
  int l;
  uint16_t port = listener(AF_INET, 8, &l);
  const char *addrs[] = {"::1", "127.0.0.1"};
  ASSERT_OK(ew_link_connect(f.rt, f.link, addrs, 2, port, 3000, 1));
  int peer = accept(l, NULL, NULL);
  ASSERT_GE(peer, 0);
  WAIT_FOR(atomic_load(&f.ep.opened) == 1);
  /* The connection lives on IO thread 1 (as asked) and its OPEN names the link. */
  ASSERT_EQ(EW__ID_IO(atomic_load(&f.ep.last_open_id)), 1);
  uint8_t frame[EW_FRAME_HEADER_BYTES + 4];
  frame_header(frame, 4, 3, 0, 77);
  memcpy(frame + EW_FRAME_HEADER_BYTES, "ping", 4);
  tcp_write_all(peer, frame, sizeof frame);
  uint8_t back[sizeof frame];
  ASSERT_OK(tcp_read_all(peer, back, sizeof back));
  ASSERT_MEM_EQ(back, frame, sizeof frame);
  ASSERT_EQ(atomic_load(&fails), 0);
  close(peer);
  WAIT_FOR(atomic_load(&f.ep.closed) == 1);
  ASSERT_EQ(atomic_load(&f.ep.last_close_reason), EW_EOF);
  close(l);
  stop(&f);
}

static void test_refused(void) {
  static fixture_t f;
  start(&f);
  int l;
  uint16_t port = listener(AF_INET, 1, &l);
  close(l); /* nothing listens on the port now */
  const char *addrs[] = {"127.0.0.1"};
  ASSERT_OK(ew_link_connect(f.rt, f.link, addrs, 1, port, 3000, 0));
  WAIT_FOR(atomic_load(&fails) == 1);
  ASSERT_EQ(atomic_load(&last_fail), EW_ECONNREFUSED);
  ASSERT_UEQ(atomic_load(&last_fail_link), f.link);
  ASSERT_EQ(atomic_load(&f.ep.opened), 0);
  stop(&f);
}

/* A listener that never accepts, with its backlog full: the kernel drops the SYN, the attempt
 * waits, and its timeout ends it with EW_ETIMEDOUT. */
static void test_timeout(void) {
  static fixture_t f;
  start(&f);
  int l;
  uint16_t port = listener(AF_INET, 0, &l);
  int fill[16];
  int nfill = 0;
  for (; nfill < 16; nfill++) {
    fill[nfill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fill[nfill], (struct sockaddr *)&a, sizeof a) != 0 && errno == EINPROGRESS) {
      nfill++;
      break; /* this one waits: the queue is full */
    }
  }
  const char *addrs[] = {"127.0.0.1"};
  ASSERT_OK(ew_link_connect(f.rt, f.link, addrs, 1, port, 200, 0));
  WAIT_FOR(atomic_load(&fails) == 1);
  ASSERT_EQ(atomic_load(&last_fail), EW_ETIMEDOUT);
  for (int i = 0; i < nfill; i++)
    close(fill[i]);
  close(l);
  stop(&f);
}

static void test_bad_arguments_and_close(void) {
  static fixture_t f;
  start(&f);
  const char *bad[] = {"not an address"};
  ASSERT_EQ(ew_link_connect(f.rt, f.link, bad, 1, 80, 0, 0), EW_EINVAL);
  const char *good[] = {"127.0.0.1"};
  ASSERT_EQ(ew_link_connect(f.rt, f.link, good, 0, 80, 0, 0), EW_EINVAL);
  ASSERT_EQ(ew_link_connect(f.rt, 999999, good, 1, 80, 0, 0), EW_ENOENT);
  /* Closing a link abandons an attempt in flight: no record comes for it. */
  int l;
  uint16_t port = listener(AF_INET, 0, &l);
  int fill[16];
  int nfill = 0;
  for (; nfill < 16; nfill++) {
    fill[nfill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fill[nfill], (struct sockaddr *)&a, sizeof a) != 0 && errno == EINPROGRESS) {
      nfill++;
      break;
    }
  }
  int fds_before = count_fds();
  ASSERT_OK(ew_link_connect(f.rt, f.link, good, 1, port, 0, 0));
  usleep(50000);
  ASSERT_OK(ew_link_close(f.rt, f.link));
  WAIT_FOR(count_fds() <= fds_before);
  usleep(50000);
  ASSERT_EQ(atomic_load(&fails), 0);
  ASSERT_EQ(atomic_load(&f.ep.opened), 0);
  for (int i = 0; i < nfill; i++)
    close(fill[i]);
  close(l);
  /* (stop() would close the link again.) */
  ew_echo_port_stop(&f.ep);
  ew_runtime_release(f.rt);
}

/* An attempt that connects but that the IO thread cannot take (its only slot is in use) fails
 * like any other: LINK_FAIL with EW_ELIMIT, never silence. */
static void test_connected_but_no_slot(void) {
  static fixture_t f;
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.io_threads = 1;
  o.max_conns_per_thread = 1;
  o.log_level = EW_LOG_LEVEL_ERROR;
  ASSERT_OK(ew_runtime_start(&o, &f.rt));
  f.ep.on_record = on_record;
  f.ep.end_on_peer_end = 1;
  ASSERT_OK(ew_echo_port_start(&f.ep, f.rt, 0));
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  ASSERT_OK(ew_link_open(f.rt, &lo, &f.link));
  atomic_store(&fails, 0);
  int l;
  uint16_t port = listener(AF_INET, 8, &l);
  const char *addrs[] = {"127.0.0.1"};
  ASSERT_OK(ew_link_connect(f.rt, f.link, addrs, 1, port, 3000, 0));
  int p1 = accept(l, NULL, NULL);
  WAIT_FOR(atomic_load(&f.ep.opened) == 1);
  ASSERT_OK(ew_link_connect(f.rt, f.link, addrs, 1, port, 3000, 0));
  int p2 = accept(l, NULL, NULL);
  WAIT_FOR(atomic_load(&fails) == 1);
  ASSERT_EQ(atomic_load(&last_fail), EW_ELIMIT);
  ASSERT_EQ(atomic_load(&f.ep.opened), 1);
  ASSERT_EQ(tcp_wait_closed(p2), 0); /* the refused socket was closed */
  close(p2);
  close(p1);
  WAIT_FOR(atomic_load(&f.ep.closed) == 1);
  close(l);
  stop(&f);
}

EW_TEST_MAIN(EW_TEST(test_connects_trying_every_address), EW_TEST(test_refused),
             EW_TEST(test_timeout), EW_TEST(test_bad_arguments_and_close),
             EW_TEST(test_connected_but_no_slot))
