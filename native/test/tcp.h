// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_TEST_TCP_H
#define EW_TEST_TCP_H

/* Blocking loopback clients for the C tests. Every socket has a receive timeout, so a bug
 * shows up as a failed assertion, never as a hung test. */

#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "test.h"

static inline int tcp_connect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_OK(connect(fd, (struct sockaddr *)&a, sizeof a));
  return fd;
}

static inline void tcp_write_all(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    ASSERT_GT(w, 0);
    p += w;
    n -= (size_t)w;
  }
}

/* Reads exactly n bytes; returns 0, or -1 on EOF/error before that. */
static inline int tcp_read_all(int fd, void *buf, size_t n) {
  uint8_t *p = buf;
  while (n > 0) {
    ssize_t r = recv(fd, p, n, 0);
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Waits for the peer to close: returns 0 on EOF, the errno on reset, -1 on data/timeout. */
static inline int tcp_wait_closed(int fd) {
  uint8_t b;
  ssize_t r = recv(fd, &b, 1, 0);
  if (r == 0) return 0;
  if (r < 0 && (errno == ECONNRESET)) return ECONNRESET;
  return -1;
}

static inline void frame_header(uint8_t *h, uint32_t len, uint16_t type, uint16_t flags,
                                uint32_t seq) {
  h[0] = (uint8_t)(len >> 24), h[1] = (uint8_t)(len >> 16), h[2] = (uint8_t)(len >> 8),
  h[3] = (uint8_t)len;
  h[4] = (uint8_t)(type >> 8), h[5] = (uint8_t)type;
  h[6] = (uint8_t)(flags >> 8), h[7] = (uint8_t)flags;
  h[8] = (uint8_t)(seq >> 24), h[9] = (uint8_t)(seq >> 16), h[10] = (uint8_t)(seq >> 8),
  h[11] = (uint8_t)seq;
}

static inline int count_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n++;
  closedir(d);
  return n;
}

static inline int count_threads(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n++;
  closedir(d);
  return n - 2;
}

/* Polls `cond` for up to ten seconds: a condition another thread will make true. */
#define WAIT_FOR(cond)                                                                             \
  do {                                                                                             \
    int ew_w_;                                                                                     \
    for (ew_w_ = 0; ew_w_ < 10000 && !(cond); ew_w_++)                                             \
      usleep(1000);                                                                                \
    if (!(cond)) EW__FAIL("timed out waiting for %s", #cond);                                      \
  } while (0)

/* The thread count once the threads of runtimes already joined are gone from /proc:
 * pthread_join() returns when a thread's tid is cleared, a moment before the kernel reaps its
 * task, so a count taken right after a join may still include it. A thread that is not on its
 * way out makes this time out and fail. */
static inline int settled_threads(void) {
  WAIT_FOR(count_threads() == 1);
  return 1;
}

#endif /* EW_TEST_TCP_H */
