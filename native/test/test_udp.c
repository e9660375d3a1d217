// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "tcp.h"
#include "echo_port.h"
#include "internal.h"

/* UDP sockets (udp.c) on loopback, with the C echo port as their JavaScript: batches that fill a
 * small ring again and again arrive whole and in order, DGRAM_SEND batches leave intact, what is
 * too large or not one frame is dropped and counted, a source over its rate is banned, a
 * connected socket hears its peer's errors, and closing says UNLISTEN and leaves no fd. */

/* A blocking UDP client on 127.0.0.1 (or `bind_addr`), with a receive timeout so that a lost
 * datagram fails an assertion instead of hanging. */
static int udp_client(const char *bind_addr) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  struct timeval tv = {.tv_sec = 5};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int big = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  struct sockaddr_in a = {.sin_family = AF_INET};
  inet_pton(AF_INET, bind_addr, &a.sin_addr);
  ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof a));
  return fd;
}

static struct sockaddr_in loopback(uint16_t port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static void send_to(int fd, uint16_t port, const void *buf, size_t n) {
  struct sockaddr_in a = loopback(port);
  ASSERT_EQ(sendto(fd, buf, n, 0, (struct sockaddr *)&a, sizeof a), (ssize_t)n);
}

/* A frame of `len` body bytes derived from `i`, so that any mix-up shows. */
static size_t make_frame(uint8_t *out, uint32_t i, uint32_t len) {
  frame_header(out, len, (uint16_t)(1 + i % 1000), (uint16_t)((i % 4) << 1), i); /* reply, error */
  for (uint32_t j = 0; j < len; j++)
    out[EW_FRAME_HEADER_BYTES + j] = (uint8_t)(i * 31 + j);
  return EW_FRAME_HEADER_BYTES + len;
}

typedef struct fixture_s {
  ew_runtime_t *rt;
  ew_echo_port_t ep;
  ew_udp_info_t info;
  int fds_before;
} fixture_t;

static void start_rt(fixture_t *f, uint32_t io_threads, uint32_t ring_bytes) {
  f->fds_before = count_fds();
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.io_threads = io_threads;
  if (ring_bytes != 0) o.in_ring_bytes = o.out_ring_bytes = ring_bytes;
  o.log_level = EW_LOG_LEVEL_ERROR;
  ASSERT_OK(ew_runtime_start(&o, &f->rt));
  memset(&f->ep, 0, sizeof f->ep);
  f->ep.dgram_echo = 1;
}

static void stop_rt(fixture_t *f) {
  ew_echo_port_stop(&f->ep);
  ew_runtime_release(f->rt);
  ASSERT_EQ(count_fds(), f->fds_before);
}

static uint64_t srv_stat(fixture_t *f, int which) {
  uint64_t v[EW_SRV_STAT__COUNT];
  uint32_t tracked;
  ASSERT_OK(ew_server_stats(f->rt, f->info.id, v, &tracked));
  return v[which];
}

static uint64_t io_stat(fixture_t *f, uint32_t io, int which) {
  size_t bytes;
  uint8_t *shm = ew_runtime_shm(f->rt, &bytes);
  ew_shm_layout_t l;
  ew_runtime_layout(f->rt, &l);
  uint64_t v;
  memcpy(&v, shm + l.io_ctl + io * EW_SHM_IO_CTL_BYTES + EW_SHM_IO_STATS + which * 8, 8);
  return v;
}

/* A burst queued in the kernel while the port reads nothing: the tiny ring fills and the socket
 * stops; once the port drains, every datagram arrives, each echoed whole, in order. */
static void test_burst_through_full_ring(void) {
  static fixture_t f;
  start_rt(&f, 1, 4096);
  ew_udp_opts_t uo;
  ew_udp_opts_init(&uo);
  uo.host = "127.0.0.1";
  uo.max_datagram = 512;
  uo.rcvbuf = 4 << 20;
  ASSERT_OK(ew_udp_open(f.rt, &uo, &f.info));
  ASSERT_EQ(f.info.family, 4);
  ASSERT_GT(f.info.port, 0);
  int c = udp_client("127.0.0.1");
  enum { N = 600 };
  static uint8_t out[N][EW_FRAME_HEADER_BYTES + 100];
  size_t len[N];
  for (uint32_t i = 0; i < N; i++)
    len[i] = make_frame(out[i], i, 1 + i % 100);
  /* One sendmmsg: the server's socket gets them back to back. */
  struct mmsghdr mm[N];
  struct iovec iov[N];
  struct sockaddr_in to = loopback(f.info.port);
  memset(mm, 0, sizeof mm);
  for (uint32_t i = 0; i < N; i++) {
    iov[i].iov_base = out[i];
    iov[i].iov_len = len[i];
    mm[i].msg_hdr.msg_name = &to;
    mm[i].msg_hdr.msg_namelen = sizeof to;
    mm[i].msg_hdr.msg_iov = &iov[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  ASSERT_EQ(sendmmsg(c, mm, N, 0), N);
  /* The ring (4 KiB) holds a few dozen records: the socket has stopped on it. */
  WAIT_FOR(io_stat(&f, 0, EW_STAT_ring_full) >= 1);
  ASSERT_OK(ew_echo_port_start(&f.ep, f.rt, 0));
  static uint8_t in[EW_FRAME_HEADER_BYTES + 100];
  for (uint32_t i = 0; i < N; i++) {
    ssize_t r = recv(c, in, sizeof in, 0);
    ASSERT_EQ(r, (ssize_t)len[i]);
    ASSERT_MEM_EQ(in, out[i], len[i]);
  }
  ASSERT_UEQ(atomic_load(&f.ep.dgrams), N);
  WAIT_FOR(srv_stat(&f, EW_SRV_STAT_dgrams_out) == N);
  ASSERT_UEQ(srv_stat(&f, EW_SRV_STAT_messages_in), N);
  ASSERT_UEQ(srv_stat(&f, EW_SRV_STAT_dgram_kernel_drops), 0);
  ASSERT_UEQ(io_stat(&f, 0, EW_STAT_dgrams_in), N);
  ASSERT_UEQ(io_stat(&f, 0, EW_STAT_dgrams_out), N);
  close(c);
  stop_rt(&f);
}

/* Replies of one size to one peer leave as GSO runs (UDP_SEGMENT): the peer still gets every
 * datagram whole, in order, whatever cuts the runs (another size, 64 segments). */
static void test_gso_runs(void) {
  static fixture_t f;
  start_rt(&f, 1, 0);
  ASSERT_OK(ew_echo_port_start(&f.ep, f.rt, 0));
  ew_udp_opts_t uo;
  ew_udp_opts_init(&uo);
  uo.host = "127.0.0.1";
  uo.rcvbuf = 4 << 20;
  ASSERT_OK(ew_udp_open(f.rt, &uo, &f.info));
  int c = udp_client("127.0.0.1");
  enum { N = 256 };
  static uint8_t out[N][EW_FRAME_HEADER_BYTES + 1000];
  size_t len[N];
  struct mmsghdr mm[N];
  struct iovec iov[N];
  struct sockaddr_in to = loopback(f.info.port);
  memset(mm, 0, sizeof mm);
  for (uint32_t i = 0; i < N; i++) {
    /* Runs of equal sizes cut by a shorter one now and then, and 72 of 1012 bytes: more than
     * one run's 64 segments. */
    len[i] = make_frame(out[i], i, i % 37 == 36 ? 10 : i >= 128 && i < 200 ? 1000 : 50);
    iov[i].iov_base = out[i];
    iov[i].iov_len = len[i];
    mm[i].msg_hdr.msg_name = &to;
    mm[i].msg_hdr.msg_namelen = sizeof to;
    mm[i].msg_hdr.msg_iov = &iov[i];
    mm[i].msg_hdr.msg_iovlen = 1;
  }
  ASSERT_EQ(sendmmsg(c, mm, N, 0), N);
  static uint8_t in[EW_FRAME_HEADER_BYTES + 1001];
  for (uint32_t i = 0; i < N; i++) {
    ssize_t r = recv(c, in, sizeof in, 0);
    ASSERT_EQ(r, (ssize_t)len[i]);
    ASSERT_MEM_EQ(in, out[i], len[i]);
  }
  WAIT_FOR(srv_stat(&f, EW_SRV_STAT_dgrams_out) == N);
  ASSERT_UEQ(srv_stat(&f, EW_SRV_STAT_dgram_send_errors), 0);
  close(c);
  stop_rt(&f);
}

/* Too large, not one frame: dropped and counted, never delivered; a good one still is. */
static void test_truncated_and_bad_headers(void) {
  static fixture_t f;
  start_rt(&f, 2, 0);
  ASSERT_OK(ew_echo_port_start(&f.ep, f.rt, 0));
  ew_udp_opts_t uo;
  ew_udp_opts_init(&uo);
  uo.host = "127.0.0.1";
  uo.max_datagram = 100;
  ASSERT_OK(ew_udp_open(f.rt, &uo, &f.info));
  int c = udp_client("127.0.0.1");
  uint8_t d[200];
  make_frame(d, 1, 89); /* 101 bytes: one too many */
  send_to(c, f.info.port, d, 101);
  send_to(c, f.info.port, d, 5); /* shorter than a header */
  frame_header(d, 10, 7, 0, 1);  /* says 10, carries 20 */
  send_to(c, f.info.port, d, 32);
  frame_header(d, 4, 0, 0, 1); /* type 0 */
  send_to(c, f.info.port, d, 16);
  frame_header(d, 4, 7, 0x80, 1); /* unknown flag */
  send_to(c, f.info.port, d, 16);
  size_t n = make_frame(d, 2, 88); /* exactly 100: fine */
  send_to(c, f.info.port, d, n);
  uint8_t in[200];
  ASSERT_EQ(recv(c, in, sizeof in, 0), (ssize_t)n);
  ASSERT_MEM_EQ(in, d, n);
  WAIT_FOR(srv_stat(&f, EW_SRV_STAT_dgram_bad_header) == 4);
  ASSERT_UEQ(srv_stat(&f, EW_SRV_STAT_dgram_truncated), 1);
  ASSERT_UEQ(atomic_load(&f.ep.dgrams), 1);
  ASSERT_UEQ(io_stat(&f, 0, EW_STAT_dgram_drops) + io_stat(&f, 1, EW_STAT_dgram_drops), 5);
  /* Raw framing takes any bytes, but the size limit still holds. */
  ew_udp_info_t raw;
  uo.framing = EW_FRAMING_RAW;
  ASSERT_OK(ew_udp_open(f.rt, &uo, &raw));
  send_to(c, raw.port, d, 101);
  send_to(c, raw.port, "abc", 3);
  ASSERT_EQ(recv(c, in, sizeof in, 0), 3);
  ASSERT_MEM_EQ(in, "abc", 3);
  close(c);
  stop_rt(&f);
}

/* A source over ip_msgs_per_sec is banned: BAN once, its later datagrams counted as banned;
 * another source is served throughout. */
static void test_rate_ban(void) {
  static fixture_t f;
  start_rt(&f, 2, 0);
  ASSERT_OK(ew_echo_port_start(&f.ep, f.rt, 0));
  ew_udp_opts_t uo;
  ew_udp_opts_init(&uo);
  uo.host = "127.0.0.1";
  uo.framing = EW_FRAMING_RAW;
  /* A burst of 10 that refills at 1 a second: the count holds on a loaded machine too, where
   * sending the 50 datagrams may take a good part of a second. */
  uo.limits.ip_msgs_per_sec = 1;
  uo.limits.ip_msg_burst = 10;
  uo.limits.ban_ms = 60000;
  ASSERT_OK(ew_udp_open(f.rt, &uo, &f.info));
  int flood = udp_client("127.0.0.2");
  int good = udp_client("127.0.0.3");
  for (int i = 0; i < 50; i++)
    send_to(flood, f.info.port, "x", 1);
  WAIT_FOR(srv_stat(&f, EW_SRV_STAT_dgram_rate) + srv_stat(&f, EW_SRV_STAT_dgram_banned) +
               srv_stat(&f, EW_SRV_STAT_messages_in) ==
           50);
  ASSERT_UEQ(srv_stat(&f, EW_SRV_STAT_messages_in), 10);
  ASSERT_UEQ(srv_stat(&f, EW_SRV_STAT_bans_messages), 1);
  ASSERT_GE(srv_stat(&f, EW_SRV_STAT_dgram_rate), 1);
  for (int i = 0; i < 5; i++)
    send_to(good, f.info.port, "y", 1);
  WAIT_FOR(srv_stat(&f, EW_SRV_STAT_messages_in) == 15);
  ew_ban_t bans[4];
  size_t nb = 0;
  ASSERT_OK(ew_ban_list(f.rt, f.info.id, bans, 4, &nb));
  ASSERT_EQ(nb, 1);
  ASSERT_STR_EQ(bans[0].address, "127.0.0.2");
  /* A manual ban on the other source: its datagrams stop at once, on every IO thread. */
  ASSERT_OK(ew_ban_add(f.rt, f.info.id, "127.0.0.3", 60000));
  uint64_t before = srv_stat(&f, EW_SRV_STAT_dgram_banned);
  for (int i = 0; i < 5; i++)
    send_to(good, f.info.port, "z", 1);
  WAIT_FOR(srv_stat(&f, EW_SRV_STAT_dgram_banned) == before + 5);
  ASSERT_UEQ(srv_stat(&f, EW_SRV_STAT_messages_in), 15);
  /* messages_in counts a datagram when the IO thread puts it in the ring; the port counts it
   * when it takes it out, a moment later: wait for that, and see that no more come. */
  WAIT_FOR(atomic_load(&f.ep.dgrams) == 15);
  /* The echoes went out to both sources (the flood's first ten included). */
  WAIT_FOR(srv_stat(&f, EW_SRV_STAT_dgrams_out) == 15);
  ASSERT_UEQ(atomic_load(&f.ep.dgrams), 15);
  close(flood);
  close(good);
  stop_rt(&f);
}

/* A connected socket talks to its peer only; a peer that is gone comes back as an error
 * record (ECONNREFUSED), counted. */
static void test_connected(void) {
  static fixture_t f;
  start_rt(&f, 2, 0);
  ASSERT_OK(ew_echo_port_start(&f.ep, f.rt, 0));
  int peer = udp_client("127.0.0.1");
  struct sockaddr_in pa;
  socklen_t pl = sizeof pa;
  ASSERT_OK(getsockname(peer, (struct sockaddr *)&pa, &pl));
  ew_udp_opts_t uo;
  ew_udp_opts_init(&uo);
  uo.peer = "127.0.0.1";
  uo.peer_port = ntohs(pa.sin_port);
  ASSERT_OK(ew_udp_open(f.rt, &uo, &f.info));
  ASSERT_EQ(f.info.io, f.info.id % 2);
  /* The peer learns the socket's port from getsockname's answer and writes to it; the echo
   * port answers through DGRAM_SEND. */
  uint8_t d[64], in[64];
  size_t n = make_frame(d, 3, 20);
  send_to(peer, f.info.port, d, n);
  ASSERT_EQ(recv(peer, in, sizeof in, 0), (ssize_t)n);
  ASSERT_MEM_EQ(in, d, n);
  /* A stranger is not heard: the kernel filters on the connected peer. */
  int stranger = udp_client("127.0.0.1");
  send_to(stranger, f.info.port, d, n);
  /* The peer goes away: what the port sends now is refused by ICMP, reported once the kernel
   * tells the socket. */
  close(peer);
  /* The port thread is stopped while this thread writes its out ring (one producer). */
  uint8_t prefix[EW_DGRAM_PREFIX_BYTES] = {0};
  ew_echo_port_stop(&f.ep);
  ew_echo_port_dgram(&f.ep, f.info.io, f.info.id, prefix, 0, 9, 0, 1, "ping", 4);
  ew_ring_publish(&f.ep.out[f.info.io]);
  ew_port_kick(f.ep.port, f.info.io);
  ASSERT_OK(ew_echo_port_start(&f.ep, f.rt, 0));
  WAIT_FOR(atomic_load(&f.ep.dgram_errors) >= 1);
  ASSERT_EQ(atomic_load(&f.ep.last_dgram_error), ECONNREFUSED);
  ASSERT_GE(srv_stat(&f, EW_SRV_STAT_dgram_errors), 1);
  ASSERT_UEQ(atomic_load(&f.ep.dgrams), 1);
  close(stranger);
  stop_rt(&f);
}

/* A listening socket is one kernel socket per IO thread in one SO_REUSEPORT group: the kernel
 * spreads the sources over all of them, and each thread answers what it received. */
static void test_spread(void) {
  static fixture_t f;
  start_rt(&f, 3, 0);
  ASSERT_OK(ew_echo_port_start(&f.ep, f.rt, 0));
  ew_udp_opts_t uo;
  ew_udp_opts_init(&uo);
  uo.host = "127.0.0.1";
  uo.framing = EW_FRAMING_RAW;
  ASSERT_OK(ew_udp_open(f.rt, &uo, &f.info));
  enum { C = 60 };
  int c[C];
  for (int i = 0; i < C; i++) {
    c[i] = udp_client("127.0.0.1");
    send_to(c[i], f.info.port, "hi", 2);
  }
  char in[4];
  for (int i = 0; i < C; i++) {
    ASSERT_EQ(recv(c[i], in, sizeof in, 0), 2);
    close(c[i]);
  }
  int threads = 0;
  for (uint32_t k = 0; k < 3; k++)
    threads += io_stat(&f, k, EW_STAT_dgrams_in) != 0;
  /* Sixty sources on one thread of three would mean no group: (1/3)^59 by chance. */
  ASSERT_GE(threads, 2);
  stop_rt(&f);
}

/* ew_udp_close: every IO thread's socket closes, UNLISTEN follows once, no fd is left; a second
 * close and a TCP server's id are refused. */
static void test_close(void) {
  static fixture_t f;
  start_rt(&f, 3, 0);
  ASSERT_OK(ew_echo_port_start(&f.ep, f.rt, 0));
  int fds = count_fds();
  ew_udp_opts_t uo;
  ew_udp_opts_init(&uo);
  uo.host = "127.0.0.1";
  ASSERT_OK(ew_udp_open(f.rt, &uo, &f.info));
  ASSERT_EQ(count_fds(), fds + 3);
  /* Port 0 was asked for: all three sockets share the port the first one got. */
  ew_udp_info_t again;
  uo.port = f.info.port;
  ASSERT_EQ(ew_udp_open(f.rt, &uo, &again), EW_EADDRINUSE);
  ASSERT_OK(ew_udp_close(f.rt, f.info.id));
  WAIT_FOR(atomic_load(&f.ep.unlistens) == 1);
  ASSERT_EQ(count_fds(), fds);
  ASSERT_EQ(ew_udp_close(f.rt, f.info.id), EW_ENOENT);
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.host = "127.0.0.1";
  ew_listen_info_t li;
  ASSERT_OK(ew_listen(f.rt, &lo, &li));
  ASSERT_EQ(ew_udp_close(f.rt, li.id), EW_ENOENT);
  /* Bad options. */
  ew_udp_opts_init(&uo);
  uo.max_datagram = EW_UDP_MAX_DATAGRAM + 1;
  ASSERT_EQ(ew_udp_open(f.rt, &uo, &again), EW_EINVAL);
  ew_udp_opts_init(&uo);
  uo.max_datagram = 11; /* shorter than a frame header */
  ASSERT_EQ(ew_udp_open(f.rt, &uo, &again), EW_EINVAL);
  ew_udp_opts_init(&uo);
  uo.host = "localhost"; /* names are resolved by the caller */
  ASSERT_EQ(ew_udp_open(f.rt, &uo, &again), EW_EINVAL);
  /* One left open: the runtime's stop closes it. */
  ew_udp_opts_init(&uo);
  ASSERT_OK(ew_udp_open(f.rt, &uo, &again));
  ASSERT_EQ(again.family, 6); /* the dual-stack wildcard */
  stop_rt(&f);
}

EW_TEST_MAIN(EW_TEST(test_burst_through_full_ring), EW_TEST(test_gso_runs),
             EW_TEST(test_truncated_and_bad_headers), EW_TEST(test_rate_ban),
             EW_TEST(test_connected), EW_TEST(test_spread), EW_TEST(test_close))
