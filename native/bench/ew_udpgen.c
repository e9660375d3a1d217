// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

/* ew_udpgen: a native load generator for UDP echo of evwire frames (one frame per datagram).
 *
 * Each of --socks connected UDP sockets keeps --depth datagrams in flight: a 12-byte big-endian
 * frame header (u32 body length, u16 type, u16 flags, u32 seq) and --size body bytes derived
 * from the seq. The server under test echoes every datagram back. Every echoed byte is checked
 * against what was sent; the time from sending a datagram to receiving its echo is the latency.
 * One thread drives every socket with recvmmsg and sendmmsg, so the generator costs far less
 * per datagram than the servers it measures.
 *
 * UDP may lose datagrams: one not answered within --timeout-ms counts as lost and is replaced
 * by a fresh one, so a loss costs throughput, never a stalled run. Lost datagrams are reported
 * (and are not errors); an echo that differs from what was sent, or that answers nothing in
 * flight, is a mismatch, and any mismatch fails the run (exit status 1).
 *
 * Output: text, or with --json one line: {"socks","depth","size","seconds","msgs","msgs_per_s",
 * "mb_per_s","p50_us","p99_us","p999_us","max_us","lost","errors","mismatches","closed"}, the
 * same fields bench/run.js reads from ew_loadgen ("closed" is always 0: there are no
 * connections to close).
 *
 * Build: part of `npm run build:c` (build-c/ew_udpgen); libc only. */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR 12u
#define BATCH 64u
#define MAX_SOCKS 1024u
#define MAX_DEPTH 4096u
#define MAX_SIZE (65507u - HDR)
/* Latency histogram: 1 us buckets up to 100 ms; anything slower lands in the last one. */
#define HIST_US 100000u

typedef struct slot_s {
  uint32_t seq; /* 0: free */
  uint64_t sent_ns;
} slot_t;

typedef struct sock_s {
  int fd;
  uint32_t inflight;
  slot_t *slots; /* depth * 4 entries, indexed by seq % (depth * 4) */
  uint32_t nslots;
  uint32_t next_seq;
} sock_t;

static struct {
  const char *host;
  uint16_t port;
  uint32_t socks, depth, size;
  double seconds, warmup;
  uint32_t timeout_ms;
  bool json;
} cfg = {"127.0.0.1", 0, 16, 8, 64, 5.0, 1.0, 200, false};

static atomic_int stop_flag;
static uint32_t hist[HIST_US + 1];
static uint64_t hist_total, hist_max_ns;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig) {
  (void)sig;
  atomic_store(&stop_flag, 1);
}

/* The datagram of `seq`: a frame whose body bytes depend on the seq, so a mix-up shows. */
static void fill(uint8_t *p, uint32_t seq) {
  uint32_t len = cfg.size;
  p[0] = (uint8_t)(len >> 24), p[1] = (uint8_t)(len >> 16), p[2] = (uint8_t)(len >> 8);
  p[3] = (uint8_t)len;
  uint16_t type = (uint16_t)(1 + seq % 65535u);
  p[4] = (uint8_t)(type >> 8), p[5] = (uint8_t)type;
  p[6] = 0, p[7] = (uint8_t)(seq % 8u);
  p[8] = (uint8_t)(seq >> 24), p[9] = (uint8_t)(seq >> 16), p[10] = (uint8_t)(seq >> 8);
  p[11] = (uint8_t)seq;
  uint32_t x = seq * 2654435761u | 1u;
  for (uint32_t j = 0; j < len; j++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    p[HDR + j] = (uint8_t)x;
  }
}

static double percentile_us(double pct) {
  if (hist_total == 0) return 0;
  uint64_t want = (uint64_t)((double)hist_total * pct / 100.0);
  if (want >= hist_total) want = hist_total - 1;
  uint64_t seen = 0;
  for (uint32_t i = 0; i <= HIST_US; i++) {
    seen += hist[i];
    if (seen > want) return (double)i;
  }
  return (double)HIST_US;
}

static void usage(FILE *f) {
  fprintf(f, "Usage: ew_udpgen --port P [--host H] [--socks N] [--depth D] [--size BYTES]\n"
             "                 [--seconds S] [--warmup S] [--timeout-ms MS] [--json]\n"
             "  --socks N        connected UDP sockets (default 16)\n"
             "  --depth D        datagrams in flight per socket (default 8)\n"
             "  --size BYTES     body bytes per frame (default 64)\n"
             "  --seconds S      measured seconds (default 5)\n"
             "  --warmup S       unmeasured seconds before (default 1)\n"
             "  --timeout-ms MS  a datagram not answered this long counts as lost (default 200)\n"
             "  --json           print one JSON line\n");
}

static bool parse(int argc, char **argv) {
  static const struct option opts[] = {{"host", required_argument, NULL, 'h'},
                                       {"port", required_argument, NULL, 'p'},
                                       {"socks", required_argument, NULL, 's'},
                                       {"conns", required_argument, NULL, 's'},
                                       {"depth", required_argument, NULL, 'd'},
                                       {"size", required_argument, NULL, 'z'},
                                       {"seconds", required_argument, NULL, 't'},
                                       {"warmup", required_argument, NULL, 'w'},
                                       {"timeout-ms", required_argument, NULL, 'o'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"help", no_argument, NULL, 'H'},
                                       {NULL, 0, NULL, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'h':
      cfg.host = optarg;
      break;
    case 'p':
      cfg.port = (uint16_t)strtoul(optarg, NULL, 10);
      break;
    case 's':
      cfg.socks = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case 'd':
      cfg.depth = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case 'z':
      cfg.size = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case 't':
      cfg.seconds = strtod(optarg, NULL);
      break;
    case 'w':
      cfg.warmup = strtod(optarg, NULL);
      break;
    case 'o':
      cfg.timeout_ms = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case 'j':
      cfg.json = true;
      break;
    case 'H':
      usage(stdout);
      exit(0);
    default:
      usage(stderr);
      return false;
    }
  }
  if (cfg.port == 0 || cfg.socks == 0 || cfg.socks > MAX_SOCKS || cfg.depth == 0 ||
      cfg.depth > MAX_DEPTH || cfg.size > MAX_SIZE || !(cfg.seconds > 0) || cfg.seconds > 86400 ||
      !(cfg.warmup >= 0) || cfg.warmup > 86400 || cfg.timeout_ms == 0) {
    fprintf(stderr, "ew_udpgen: bad options\n");
    usage(stderr);
    return false;
  }
  return true;
}

int main(int argc, char **argv) {
  if (!parse(argc, argv)) return 2;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res;
  char port[8];
  snprintf(port, sizeof port, "%u", cfg.port);
  int rc = getaddrinfo(cfg.host, port, &hints, &res);
  if (rc != 0) {
    fprintf(stderr, "ew_udpgen: cannot resolve %s: %s\n", cfg.host, gai_strerror(rc));
    return 2;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  sock_t *socks = calloc(cfg.socks, sizeof *socks);
  uint32_t dgram = HDR + cfg.size;
  uint8_t *out = malloc((size_t)BATCH * dgram);
  uint8_t *in = malloc((size_t)BATCH * (dgram + 1));
  uint8_t *want = malloc(dgram);
  if (ep < 0 || !socks || !out || !in || !want) {
    fprintf(stderr, "ew_udpgen: out of memory\n");
    return 2;
  }
  for (uint32_t i = 0; i < cfg.socks; i++) {
    sock_t *s = &socks[i];
    s->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int big = 4 << 20;
    setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (s->fd < 0 || connect(s->fd, res->ai_addr, res->ai_addrlen) != 0) {
      fprintf(stderr, "ew_udpgen: socket/connect: %s\n", strerror(errno));
      return 2;
    }
    s->nslots = cfg.depth * 4;
    s->slots = calloc(s->nslots, sizeof *s->slots);
    if (!s->slots) return 2;
    /* Sequence numbers differ per socket, so an echo that reaches the wrong socket shows. */
    s->next_seq = i * 0x01000000u + 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
    epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
  }
  freeaddrinfo(res);

  uint64_t msgs = 0, lost = 0, lost_all = 0, mismatches = 0, io_errors = 0, unexpected = 0;
  uint64_t start = now_ns();
  uint64_t measure_from = start + (uint64_t)(cfg.warmup * 1e9);
  uint64_t end = measure_from + (uint64_t)(cfg.seconds * 1e9);
  uint64_t timeout_ns = (uint64_t)cfg.timeout_ms * 1000000u;
  uint64_t last_sweep = start;
  bool measuring = false;
  struct mmsghdr mm[BATCH];
  struct iovec iov[BATCH];

  /* Each round: top every socket up to depth in flight, wait up to 5 ms for echoes, check
   * them, and now and then count the datagrams that waited too long as lost. */
  for (;;) {
    uint64_t t = now_ns();
    if (!measuring && t >= measure_from) {
      measuring = true;
      msgs = lost = 0;
      memset(hist, 0, sizeof hist);
      hist_total = hist_max_ns = 0;
    }
    if (t >= end || atomic_load(&stop_flag)) break;
    for (uint32_t i = 0; i < cfg.socks; i++) {
      sock_t *s = &socks[i];
      unsigned n = 0;
      while (s->inflight + n < cfg.depth && n < BATCH) {
        uint32_t seq = s->next_seq++;
        if (seq == 0) seq = s->next_seq++;
        slot_t *sl = &s->slots[seq % s->nslots];
        if (sl->seq != 0) break; /* a lost one still holds the slot until the sweep */
        sl->seq = seq;
        sl->sent_ns = t;
        fill(out + (size_t)n * dgram, seq);
        iov[n].iov_base = out + (size_t)n * dgram;
        iov[n].iov_len = dgram;
        memset(&mm[n], 0, sizeof mm[n]);
        mm[n].msg_hdr.msg_iov = &iov[n];
        mm[n].msg_hdr.msg_iovlen = 1;
        n++;
      }
      unsigned done = 0;
      while (done < n) {
        int r = sendmmsg(s->fd, mm + done, n - done, 0);
        if (r > 0) {
          done += (unsigned)r;
          continue;
        }
        if (r < 0 && errno == EINTR) continue;
        break;
      }
      /* What the kernel refused stays unsent: free its slots again. */
      for (unsigned k = done; k < n; k++) {
        const uint8_t *p = out + (size_t)k * dgram;
        uint32_t sq = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11];
        s->slots[sq % s->nslots].seq = 0;
        io_errors++;
      }
      s->inflight += done;
    }
    struct epoll_event evs[64];
    int ne = epoll_wait(ep, evs, 64, 5);
    t = now_ns();
    for (int e = 0; e < ne; e++) {
      sock_t *s = &socks[evs[e].data.u32];
      for (int round = 0; round < 4; round++) {
        for (unsigned k = 0; k < BATCH; k++) {
          iov[k].iov_base = in + (size_t)k * (dgram + 1);
          iov[k].iov_len = dgram + 1;
          memset(&mm[k], 0, sizeof mm[k]);
          mm[k].msg_hdr.msg_iov = &iov[k];
          mm[k].msg_hdr.msg_iovlen = 1;
        }
        int r = recvmmsg(s->fd, mm, BATCH, MSG_DONTWAIT, NULL);
        if (r <= 0) {
          if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) io_errors++;
          break;
        }
        for (int k = 0; k < r; k++) {
          const uint8_t *p = iov[k].iov_base;
          uint32_t len = mm[k].msg_len;
          uint32_t seq =
              len >= HDR
                  ? ((uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 | (uint32_t)p[10] << 8 | p[11])
                  : 0;
          slot_t *sl = seq != 0 ? &s->slots[seq % s->nslots] : NULL;
          if (sl == NULL || sl->seq != seq) {
            unexpected++; /* a duplicate, a late echo of a lost one, or garbage */
            continue;
          }
          fill(want, seq);
          if (len != dgram || memcmp(p, want, dgram) != 0) mismatches++;
          uint64_t rtt = t - sl->sent_ns;
          sl->seq = 0;
          s->inflight--;
          if (measuring) {
            msgs++;
            uint64_t us = rtt / 1000u;
            hist[us < HIST_US ? us : HIST_US]++;
            hist_total++;
            if (rtt > hist_max_ns) hist_max_ns = rtt;
          }
        }
        if ((unsigned)r < BATCH) break;
      }
    }
    if (t - last_sweep >= timeout_ns / 4) {
      last_sweep = t;
      for (uint32_t i = 0; i < cfg.socks; i++) {
        sock_t *s = &socks[i];
        for (uint32_t k = 0; k < s->nslots; k++) {
          if (s->slots[k].seq != 0 && t - s->slots[k].sent_ns > timeout_ns) {
            s->slots[k].seq = 0;
            s->inflight--;
            lost_all++;
            if (measuring) lost++;
          }
        }
      }
    }
  }
  uint64_t t_end = now_ns();
  double secs = measuring ? (double)(t_end - measure_from) / 1e9 : 0;
  double rate = secs > 0 ? (double)msgs / secs : 0;
  double mb = secs > 0 ? (double)msgs * cfg.size / 1e6 / secs : 0;
  /* Late echoes of datagrams counted lost are no error; more echoes of nothing in flight than
   * datagrams ever counted lost are (duplicates, or a seq the server garbled). */
  uint64_t errors = mismatches + io_errors + (unexpected > lost_all ? unexpected - lost_all : 0);
  if (cfg.json) {
    printf("{\"socks\":%" PRIu32 ",\"conns\":%" PRIu32 ",\"depth\":%" PRIu32 ",\"size\":%" PRIu32
           ",\"seconds\":%.3f,\"msgs\":%" PRIu64 ",\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,\"lost\":%" PRIu64
           ",\"unexpected\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"mismatches\":%" PRIu64
           ",\"closed\":0}\n",
           cfg.socks, cfg.socks, cfg.depth, cfg.size, secs, msgs, rate, mb, percentile_us(50),
           percentile_us(99), percentile_us(99.9), (double)hist_max_ns / 1000.0, lost, unexpected,
           errors, mismatches);
  } else {
    printf("ew_udpgen %s:%u: socks %" PRIu32 ", depth %" PRIu32 ", size %" PRIu32 "\n", cfg.host,
           cfg.port, cfg.socks, cfg.depth, cfg.size);
    printf("  seconds    %.3f measured (after %.3f warmup)\n", secs, cfg.warmup);
    printf("  msgs       %" PRIu64 " (%.1f msgs/s), %.3f MB/s of bodies\n", msgs, rate, mb);
    printf("  latency    p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n", percentile_us(50),
           percentile_us(99), percentile_us(99.9), (double)hist_max_ns / 1000.0);
    printf("  lost       %" PRIu64 " (no echo within %u ms), %" PRIu64 " late or unexpected\n",
           lost, cfg.timeout_ms, unexpected);
    printf("  errors     %" PRIu64 " (mismatches %" PRIu64 ", io %" PRIu64 ")\n", errors,
           mismatches, io_errors);
  }
  for (uint32_t i = 0; i < cfg.socks; i++) {
    close(socks[i].fd);
    free(socks[i].slots);
  }
  free(socks);
  free(out);
  free(in);
  free(want);
  close(ep);
  return errors != 0 || atomic_load(&stop_flag) ? 1 : 0;
}
