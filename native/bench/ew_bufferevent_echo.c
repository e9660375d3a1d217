// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* ew_bufferevent_echo: a reference peer for the benchmarks, the textbook libevent echo server
 * that evwire's IO threads are built from. One thread, one event_base, an evconnlistener, and a
 * bufferevent per connection whose read callback moves the whole input buffer to the output
 * buffer (evbuffer_add_buffer, which hands chains over without copying the bytes). No framing:
 * evwire frames come back intact without being parsed.
 *
 * Output is bounded by a high watermark: when a connection's output reaches --high-watermark,
 * its reading stops until the output has drained to half of that (the write watermark), so a
 * peer that does not read stops being read rather than growing the server's memory.
 *
 *   ew_bufferevent_echo --port P [--host H] [--seconds S] [--high-watermark BYTES] [--backlog N]
 *
 * Everything else is libevent's default, as a textbook server has it. Note that libevent 2.1's
 * evbuffer_read() reads at most 4096 bytes per call (EVBUFFER_MAX_READ; FIONREAD first), and a
 * bufferevent reads once per readiness event, so bulk echo costs an ioctl, a readv, a writev and
 * two epoll_ctl calls (the write event is added and removed) per 4 KiB.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define HIGH_DEFAULT (1u << 20)

typedef struct conn_s {
  struct bufferevent *bev;
  int eof; /* the peer has finished sending: free once the output is written */
  struct conn_s *prev, *next;
} conn_t;

static struct {
  const char *host;
  unsigned port;
  double seconds;
  size_t high;
  int backlog;
} g_opt = {"127.0.0.1", 0, 0, HIGH_DEFAULT, 1024};

static conn_t *g_conns; /* every open connection, so that the exit frees them */
static unsigned long long g_accepted, g_paused;

static void usage(FILE *f) {
  fprintf(f, "usage: ew_bufferevent_echo --port P [--host H] [--seconds S]\n"
             "                           [--high-watermark BYTES] [--backlog N]\n"
             "Echoes every byte back (libevent bufferevents, one thread) until SIGINT/SIGTERM\n"
             "or S seconds. A connection stops being read while its output holds more than\n"
             "--high-watermark bytes (default 1 MiB). Prints 'listening <address> <port>'.\n");
}

static void conn_free(conn_t *c) {
  bufferevent_free(c->bev); /* BEV_OPT_CLOSE_ON_FREE closes the socket */
  if (c->prev)
    c->prev->next = c->next;
  else
    g_conns = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c);
}

static void on_read(struct bufferevent *bev, void *arg) {
  (void)arg;
  struct evbuffer *out = bufferevent_get_output(bev);
  evbuffer_add_buffer(out, bufferevent_get_input(bev));
  if (evbuffer_get_length(out) >= g_opt.high) {
    /* Backpressure: on_write runs once the output is down to half the watermark. */
    bufferevent_disable(bev, EV_READ);
    bufferevent_setwatermark(bev, EV_WRITE, g_opt.high / 2, 0);
    g_paused++;
  }
}

static void on_write(struct bufferevent *bev, void *arg) {
  conn_t *c = arg;
  if (c->eof) {
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) conn_free(c);
    return;
  }
  if (!(bufferevent_get_enabled(bev) & EV_READ)) {
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_enable(bev, EV_READ);
  }
}

static void on_event(struct bufferevent *bev, short what, void *arg) {
  conn_t *c = arg;
  if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
      evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
    /* Finish writing what the peer sent, then free (on_write with a zero watermark). */
    c->eof = 1;
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    return;
  }
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) conn_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg) {
  (void)sa;
  (void)len;
  (void)arg;
  struct event_base *base = evconnlistener_get_base(l);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  conn_t *c = calloc(1, sizeof *c);
  struct bufferevent *bev = c ? bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
  if (!bev) {
    fprintf(stderr, "ew_bufferevent_echo: cannot take a connection\n");
    free(c);
    evutil_closesocket(fd);
    return;
  }
  c->bev = bev;
  bufferevent_setcb(bev, on_read, on_write, on_event, c);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  c->next = g_conns;
  if (g_conns) g_conns->prev = c;
  g_conns = c;
  g_accepted++;
}

static void on_listen_error(struct evconnlistener *l, void *arg) {
  (void)l;
  (void)arg;
  int err = EVUTIL_SOCKET_ERROR();
  fprintf(stderr, "ew_bufferevent_echo: accept: %s\n", evutil_socket_error_to_string(err));
}

static void on_stop(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  event_base_loopbreak(arg);
}

static unsigned long parse_num(const char *opt, const char *s, unsigned long min,
                               unsigned long max) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (*s == '-' || errno != 0 || end == s || *end != '\0' || v < min || v > max) {
    fprintf(stderr, "ew_bufferevent_echo: %s: expected a number from %lu to %lu, got '%s'\n", opt,
            min, max, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"host", required_argument, 0, 'h'},
                                       {"port", required_argument, 0, 'p'},
                                       {"seconds", required_argument, 0, 's'},
                                       {"high-watermark", required_argument, 0, 'w'},
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
        fprintf(stderr, "ew_bufferevent_echo: --seconds: expected seconds >= 0, got '%s'\n",
                optarg);
        return 2;
      }
      break;
    }
    case 'w':
      g_opt.high = parse_num("--high-watermark", optarg, 4096, 1ul << 30);
      break;
    case 'b':
      g_opt.backlog = (int)parse_num("--backlog", optarg, 1, INT_MAX);
      break;
    case 'H':
      usage(stdout);
      return 0;
    default:
      fprintf(stderr, "ew_bufferevent_echo: unknown option or missing value: %s\n",
              argv[optind - 1]);
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) {
    usage(stderr);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  struct event_base *base = event_base_new();
  if (!base) {
    fprintf(stderr, "ew_bufferevent_echo: event_base_new failed\n");
    return 1;
  }
  char port[8];
  snprintf(port, sizeof port, "%u", g_opt.port);
  struct evutil_addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV;
  int rc = evutil_getaddrinfo(g_opt.host, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "ew_bufferevent_echo: cannot resolve %s: %s\n", g_opt.host,
            evutil_gai_strerror(rc));
    return 1;
  }
  struct evconnlistener *l = NULL;
  for (struct evutil_addrinfo *ai = res; ai && !l; ai = ai->ai_next)
    l = evconnlistener_new_bind(base, on_accept, NULL,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                g_opt.backlog, ai->ai_addr, (int)ai->ai_addrlen);
  evutil_freeaddrinfo(res);
  if (!l) {
    fprintf(stderr, "ew_bufferevent_echo: listen %s:%u: %s\n", g_opt.host, g_opt.port,
            strerror(errno));
    return 1;
  }
  evconnlistener_set_error_cb(l, on_listen_error);

  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  char addr[NI_MAXHOST], serv[16];
  if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len) != 0 ||
      getnameinfo((struct sockaddr *)&ss, len, addr, sizeof addr, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    fprintf(stderr, "ew_bufferevent_echo: cannot read the bound address\n");
    return 1;
  }

  struct event *sigterm = evsignal_new(base, SIGTERM, on_stop, base);
  struct event *sigint = evsignal_new(base, SIGINT, on_stop, base);
  struct event *timer = NULL;
  if (!sigterm || !sigint || event_add(sigterm, NULL) != 0 || event_add(sigint, NULL) != 0) {
    fprintf(stderr, "ew_bufferevent_echo: cannot watch signals\n");
    return 1;
  }
  if (g_opt.seconds > 0) {
    struct timeval tv = {(time_t)g_opt.seconds,
                         (suseconds_t)((g_opt.seconds - (double)(time_t)g_opt.seconds) * 1e6)};
    timer = evtimer_new(base, on_stop, base);
    if (!timer || evtimer_add(timer, &tv) != 0) {
      fprintf(stderr, "ew_bufferevent_echo: cannot arm the --seconds timer\n");
      return 1;
    }
  }
  printf("listening %s %s\n", addr, serv);
  fflush(stdout);

  event_base_dispatch(base);

  unsigned long long left = 0;
  while (g_conns) {
    conn_free(g_conns);
    left++;
  }
  evconnlistener_free(l);
  event_free(sigterm);
  event_free(sigint);
  if (timer) event_free(timer);
  event_base_free(base);
  fprintf(stderr,
          "ew_bufferevent_echo: %llu connections (%llu open at exit), reading paused %llu times\n",
          g_accepted, left, g_paused);
  return 0;
}
