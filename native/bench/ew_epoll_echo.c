// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* ew_epoll_echo: a reference peer for the benchmarks, the plain C limit of a one-thread echo
 * server. One thread, one edge-triggered epoll set, no framing: every byte read is written
 * straight back, so evwire frames come back intact without being parsed.
 *
 * Per connection: read until EAGAIN into the connection's buffer, and after each read write what
 * is there at once. What the kernel does not take stays in the buffer (new reads append behind
 * it, so the order holds) and is finished on EPOLLOUT; no write is tried in between. The buffer
 * starts at BUF_INITIAL bytes and doubles as needed up to --max-buffer; a connection that needs
 * more than that (a peer that sends and does not read) is closed. Every socket is registered
 * once for EPOLLIN | EPOLLOUT | EPOLLET, so the loop never calls epoll_ctl after the accept.
 *
 *   ew_epoll_echo --port P [--host H] [--seconds S] [--max-buffer BYTES] [--backlog N]
 *
 * Prints "listening <address> <port>" once ready; exits 0 on SIGTERM or SIGINT, or after S
 * seconds (a safety bound; 0, the default, means none). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define BUF_INITIAL (64u * 1024u)
#define MAX_BUFFER_DEFAULT (16u * 1024u * 1024u)
#define MAX_EVENTS 256

typedef struct conn_s {
  int fd;
  bool blocked; /* the last write left bytes behind: wait for EPOLLOUT before writing again */
  bool eof;     /* the peer has finished sending: close once everything is written */
  uint8_t *buf;
  size_t cap, off, len; /* bytes [off, len) are read and not yet written */
  struct conn_s *prev, *next;
} conn_t;

static struct {
  const char *host;
  unsigned port;
  double seconds;
  size_t max_buffer;
  int backlog;
} g_opt = {"127.0.0.1", 0, 0, MAX_BUFFER_DEFAULT, 1024};

static conn_t *g_conns; /* every open connection, so that the exit frees them */
static unsigned long long g_accepted, g_over_cap, g_bytes;

/* The listener's epoll entry carries this address, the signalfd's the one after it; connections
 * carry their conn_t. */
static char g_tags[2];
#define TAG_LISTEN ((void *)&g_tags[0])
#define TAG_SIGNAL ((void *)&g_tags[1])

static void usage(FILE *f) {
  fprintf(f, "usage: ew_epoll_echo --port P [--host H] [--seconds S] [--max-buffer BYTES]\n"
             "                     [--backlog N]\n"
             "Echoes every byte back (one thread, edge-triggered epoll) until SIGINT/SIGTERM\n"
             "or S seconds. A connection whose unsent bytes would exceed --max-buffer (default\n"
             "16 MiB) is closed. Prints 'listening <address> <port>' once ready.\n");
}

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void conn_close(conn_t *c) {
  close(c->fd); /* also removes it from the epoll set */
  if (c->prev)
    c->prev->next = c->next;
  else
    g_conns = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c->buf);
  free(c);
}

/* Writes bytes [off, len) once. Returns false when the connection failed (and was closed). */
static bool conn_flush(conn_t *c) {
  while (c->off < c->len) {
    ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
    if (w > 0) {
      c->off += (size_t)w;
      g_bytes += (unsigned long long)w;
      if (c->off < c->len) {
        /* A short write: the socket buffer is full. */
        c->blocked = true;
        return true;
      }
      break;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c->blocked = true;
      return true;
    }
    conn_close(c);
    return false;
  }
  c->off = c->len = 0;
  c->blocked = false;
  if (c->eof) {
    conn_close(c);
    return false;
  }
  return true;
}

/* Makes room behind the unsent bytes: moves them to the front, then doubles the buffer up to
 * --max-buffer. Returns false when no room can be made. */
static bool conn_room(conn_t *c) {
  if (c->off > 0) {
    memmove(c->buf, c->buf + c->off, c->len - c->off);
    c->len -= c->off;
    c->off = 0;
    if (c->len < c->cap) return true;
  }
  if (c->cap >= g_opt.max_buffer) return false;
  size_t cap = c->cap * 2 > g_opt.max_buffer ? g_opt.max_buffer : c->cap * 2;
  uint8_t *b = realloc(c->buf, cap);
  if (!b) return false;
  c->buf = b;
  c->cap = cap;
  return true;
}

static void conn_readable(conn_t *c) {
  for (;;) {
    if (c->len == c->cap && !conn_room(c)) {
      g_over_cap++;
      conn_close(c);
      return;
    }
    ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
    if (r > 0) {
      c->len += (size_t)r;
      /* Echo at once, unless earlier bytes are still waiting for EPOLLOUT. */
      if (!c->blocked && !conn_flush(c)) return;
      continue;
    }
    if (r == 0) {
      c->eof = true;
      if (c->off == c->len) conn_close(c);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    conn_close(c);
    return;
  }
}

static void on_accept(int ep, int lfd) {
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        fprintf(stderr, "ew_epoll_echo: accept4: %s\n", strerror(errno));
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_t *c = calloc(1, sizeof *c);
    uint8_t *buf = malloc(BUF_INITIAL);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (!c || !buf || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      fprintf(stderr, "ew_epoll_echo: cannot take a connection: %s\n",
              !c || !buf ? "out of memory" : strerror(errno));
      free(c);
      free(buf);
      close(fd);
      continue;
    }
    c->fd = fd;
    c->buf = buf;
    c->cap = BUF_INITIAL < g_opt.max_buffer ? BUF_INITIAL : g_opt.max_buffer;
    c->next = g_conns;
    if (g_conns) g_conns->prev = c;
    g_conns = c;
    g_accepted++;
  }
}

static int listen_on(char *addr_out, size_t addr_len, unsigned *port_out) {
  char port[8];
  snprintf(port, sizeof port, "%u", g_opt.port);
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  int rc = getaddrinfo(g_opt.host, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "ew_epoll_echo: cannot resolve %s: %s\n", g_opt.host, gai_strerror(rc));
    return -1;
  }
  int fd = -1, err = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      err = errno;
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, g_opt.backlog) == 0) break;
    err = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    fprintf(stderr, "ew_epoll_echo: listen %s:%u: %s\n", g_opt.host, g_opt.port, strerror(err));
    return -1;
  }
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char serv[16];
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
      getnameinfo((struct sockaddr *)&ss, len, addr_out, (socklen_t)addr_len, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    fprintf(stderr, "ew_epoll_echo: cannot read the bound address\n");
    close(fd);
    return -1;
  }
  *port_out = (unsigned)strtoul(serv, NULL, 10);
  return fd;
}

static unsigned long parse_num(const char *opt, const char *s, unsigned long min,
                               unsigned long max) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (*s == '-' || errno != 0 || end == s || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "ew_epoll_echo: %s: expected a number from %lu to %lu, got '%s'\n", opt, min,
            max, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"host", required_argument, 0, 'h'},
                                       {"port", required_argument, 0, 'p'},
                                       {"seconds", required_argument, 0, 's'},
                                       {"max-buffer", required_argument, 0, 'm'},
                                       {"backlog", required_argument, 0, 'b'},
                                       {"help", no_argument, 0, 'H'},
                                       {0, 0, 0, 0}};
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'h':
      g_opt.host = optarg;
      break;
    case 'p':
      g_opt.port = (unsigned)parse_num("--port", optarg, 0, 65535);
      break;
    case 's': {
      char *end;
      g_opt.seconds = strtod(optarg, &end);
      if (end == optarg || *end != '\0' || !(g_opt.seconds >= 0) || g_opt.seconds > 1e7) {
        fprintf(stderr, "ew_epoll_echo: --seconds: expected seconds >= 0, got '%s'\n", optarg);
        return 2;
      }
      break;
    }
    case 'm':
      g_opt.max_buffer = parse_num("--max-buffer", optarg, 4096, 1ul << 30);
      break;
    case 'b':
      g_opt.backlog = (int)parse_num("--backlog", optarg, 1, INT_MAX);
      break;
    case 'H':
      usage(stdout);
      return 0;
    default:
      fprintf(stderr, "ew_epoll_echo: unknown option or missing value: %s\n", argv[optind - 1]);
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) {
    usage(stderr);
    return 2;
  }

  /* SIGTERM and SIGINT arrive through a signalfd in the same epoll set, so a stop is seen at
   * once, with no race between a flag and epoll_wait. */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (sfd < 0 || ep < 0) {
    fprintf(stderr, "ew_epoll_echo: %s: %s\n", sfd < 0 ? "signalfd" : "epoll_create1",
            strerror(errno));
    return 1;
  }
  char addr[NI_MAXHOST];
  unsigned port;
  int lfd = listen_on(addr, sizeof addr, &port);
  if (lfd < 0) return 1;
  struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.ptr = TAG_LISTEN};
  struct epoll_event sev = {.events = EPOLLIN, .data.ptr = TAG_SIGNAL};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) != 0 ||
      epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev) != 0) {
    fprintf(stderr, "ew_epoll_echo: epoll_ctl: %s\n", strerror(errno));
    return 1;
  }
  printf("listening %s %u\n", addr, port);
  fflush(stdout);

  uint64_t deadline = g_opt.seconds > 0 ? now_ms() + (uint64_t)(g_opt.seconds * 1000.0) : 0;
  struct epoll_event evs[MAX_EVENTS];
  bool stop = false;
  while (!stop) {
    int timeout = -1;
    if (deadline) {
      uint64_t now = now_ms();
      if (now >= deadline) break;
      timeout = deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
    }
    int n = epoll_wait(ep, evs, MAX_EVENTS, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "ew_epoll_echo: epoll_wait: %s\n", strerror(errno));
      return 1;
    }
    for (int i = 0; i < n; i++) {
      void *tag = evs[i].data.ptr;
      if (tag == TAG_SIGNAL) {
        stop = true;
        continue;
      }
      if (tag == TAG_LISTEN) {
        on_accept(ep, lfd);
        continue;
      }
      conn_t *cn = tag;
      uint32_t e = evs[i].events;
      if (e & EPOLLERR) {
        conn_close(cn);
        continue;
      }
      /* Unsent bytes go first, so that new reads append behind them in order. */
      if ((e & EPOLLOUT) && cn->blocked && !conn_flush(cn)) continue;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) conn_readable(cn);
    }
  }
  while (g_conns)
    conn_close(g_conns);
  close(lfd);
  close(ep);
  close(sfd);
  fprintf(stderr,
          "ew_epoll_echo: %llu connections, %llu bytes echoed, %llu closed over --max-buffer\n",
          g_accepted, g_bytes, g_over_cap);
  return 0;
}
