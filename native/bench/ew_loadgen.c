// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

/* ew_loadgen: a native load generator for evwire's framed-echo protocol.
 *
 * Every frame is a 12-byte big-endian header (u32 body length, u16 type, u16 flags, u32 seq)
 * followed by the body. The server under test echoes each frame back in request order. The
 * generator keeps a fixed number of frames in flight per connection, verifies every echoed byte,
 * and measures the time from sending a frame to receiving the last byte of its echo.
 *
 * Two modes change how a connection behaves. Paced mode (--interval-ms) has every connection send
 * one frame per interval and wait for its echo in between, which models a quiet client sharing a
 * server with busy ones. Churn mode (--reconnect-after) replaces every connection with a new one
 * after a fixed number of echoed frames, which exercises the server's accept and teardown paths.
 *
 * The program is deliberately self-contained (libc, libm and pthreads only) so that benchmark
 * scripts can build it with one compiler invocation, including as a static binary that can be
 * copied onto a bare benchmark machine.
 *
 * Build: gcc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread ew_loadgen.c -o ew_loadgen
 * -lm
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Size of the frame header that precedes every body on the wire. */
#define HDR_BYTES 12u

/* The largest body we agree to generate. The wire format allows up to 4 GiB - 1, but a benchmark
 * frame above 1 GiB is almost certainly a typo and would make memory use hard to predict. */
#define MAX_BODY_BYTES (1u << 30)

/* Limits on the other knobs exist so that a typo cannot ask for terabytes of descriptors. */
#define MAX_CONNS 1000000u
#define MAX_DEPTH 65536u
#define MAX_THREADS 1024u
#define MAX_SECONDS 86400.0
#define MAX_INTERVAL_MS (MAX_SECONDS * 1000.0)

/* Each thread reads into one shared scratch buffer because received bytes are verified and
 * discarded immediately by a streaming parser; no connection needs to keep received data. */
#define READ_BUF_BYTES (256u * 1024u)

/* Reads per readiness event are capped so that one very fast connection cannot starve the others
 * on the same thread; the epoll loop is level-triggered, so leftover data is reported again. */
#define READS_PER_EVENT 8

/* A connection starts new frames only while the bytes of its started frames that the kernel has
 * not accepted yet stay below a cap, so that frames do not pile up waiting for socket space and
 * inflate the latency figures. The cap is the whole batch (depth frames) when that is small,
 * otherwise a share of a 16 MiB budget per run, clamped to [16 KiB, 256 KiB]. */
#define OUT_BUDGET_BYTES (16u * 1024u * 1024u)
#define OUT_MIN_BYTES (16u * 1024u)
#define OUT_MAX_BYTES (256u * 1024u)

/* Frames are sent with writev: headers and small bodies are copied into a staging area, where
 * adjacent pieces share one iovec, while larger bodies are sent straight from the pattern without
 * a copy. A body of at most TX_COPY_MAX bytes costs less to copy than the extra iovec the kernel
 * would have to walk. One call gathers at most TX_IOVS iovecs (well below Linux's IOV_MAX of 1024)
 * and TX_STAGE_BYTES staged bytes. */
#define TX_COPY_MAX 512u
#define TX_IOVS 256
#define TX_STAGE_BYTES (32u * 1024u)

/* Connecting thousands of sockets at once overflows the server's listen backlog, and every dropped
 * SYN costs a one-second retransmit, so each thread keeps only this many handshakes outstanding. */
#define CONNECT_WINDOW 128u

/* Churn mode closes connections from the client side, so each closed socket leaves a TIME_WAIT
 * entry on this host for 60 s that keeps its (source, port, target, port) tuple taken. One source
 * address has about 28,000 ephemeral ports (32768-60999 by default), which thousands of connects
 * per second use up within seconds. Linux then reuses TIME_WAIT ports where tcp_tw_reuse allows it
 * (by default for loopback only, and only for entries older than one second), after an ever longer
 * search for a free port, or fails connect with EADDRNOTAVAIL. Against a loopback target every
 * address in 127.0.0.0/8 is local, so the sockets rotate over SRC_ADDRS of them, 127.0.0.2
 * upwards, which multiplies the port space by that factor. 127.0.0.1 is left out so that churn
 * does not crowd the ports that ordinary clients use. Other targets (IPv6, or another host) get
 * no rotation, so long churn runs against them are limited to about 28,000 connects per minute
 * unless the kernel reuses TIME_WAIT ports. A reset instead of a plain close would avoid
 * TIME_WAIT altogether, but the server would then see resets instead of orderly closes. */
#define SRC_ADDRS 253u
#define SRC_FIRST 0x7f000002u

/* epoll_wait never sleeps longer than this, so that a stop request (SIGINT or another thread's
 * failure) is noticed promptly even when no socket is active. */
#define POLL_SLICE_MS 100

/* Threads only block in epoll_wait with bounded timeouts, so they always finish; this grace
 * period is a last line of defence so that a bug can never turn into a hung benchmark. */
#define JOIN_GRACE_NS (5ull * 1000000000ull)

/* Only the first few errors are described on stderr; after that they are only counted, so that
 * a broken server does not flood the terminal with millions of identical lines. */
#define MAX_REPORTED_ERRORS 10

/* Fixed seed so that two runs generate the same byte streams, which makes failures reproducible. */
#define PRNG_SEED 0x6577776972650001ull
#define GOLDEN 0x9e3779b97f4a7c15ull

/* Frame bodies are slices of one shared buffer of random bytes, so that sending and verifying a
 * body costs at most a memcpy and a memcmp instead of generating and checking every byte one by
 * one. A body may start at any of PATTERN_SPAN offsets, so the buffer holds PATTERN_SPAN bytes
 * plus the largest body. The span is a power of two (cheap masking) and far larger than the
 * deepest pipeline, which is what keeps the frames in flight on one connection at distinct
 * offsets. */
#define PATTERN_SPAN (1u << 20)

/* The latency histogram is log-linear in nanoseconds: values below 2^SUB_BITS are exact, and every
 * power-of-two range above that is split into 2^(SUB_BITS-1) equal buckets. With SUB_BITS = 8 a
 * bucket spans at most 1/128 of its value, so reporting the bucket midpoint is within 0.4%. The
 * range goes up to 60 s (below 2^36 ns); larger values are clamped, and the exact maximum is kept
 * separately. */
#define HIST_SUB_BITS 8
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_HALF (HIST_SUB >> 1)
#define HIST_MAX_NS 60000000000ull
#define HIST_TOP_BIT 36
#define HIST_BUCKETS (HIST_SUB + (HIST_TOP_BIT - HIST_SUB_BITS) * HIST_HALF)

typedef struct hist_s {
  uint64_t counts[HIST_BUCKETS];
  uint64_t total;
  uint64_t min_ns;
  uint64_t max_ns;
} hist_t;

typedef struct config_s {
  const char *host;
  unsigned port;
  uint32_t conns;
  uint32_t depth;
  uint32_t size_min;
  uint32_t size_max;
  bool size_random;
  double seconds;
  double warmup;
  uint32_t threads;
  int *cpus;
  uint32_t ncpus;
  uint16_t type;
  bool json;
  bool check_seq;
  uint32_t connect_timeout_ms;
  uint64_t max_frames; /* 0 means unlimited */
  bool burst;
  double interval_ms;       /* 0 means unpaced */
  uint64_t interval_ns;     /* the same, rounded to nanoseconds */
  uint64_t reconnect_after; /* 0 means keep every connection for the whole run */
} config_t;

/* One frame that has been handed to the send path and whose echo has not fully arrived yet. The
 * frame's body is not stored: its place in the pattern is derived again from (connection, frame
 * number) on receipt. */
typedef struct slot_s {
  uint64_t t_send_ns;
  uint32_t size;
} slot_t;

typedef struct conn_s {
  int fd;
  uint32_t idx; /* global connection index, used in seeds and messages */
  bool connected;
  bool done; /* reached --max-frames */
  bool dead; /* failed with an error */
  bool want_out;
  bool recycle; /* churn mode: the socket has echoed its share and is replaced after this read */

  slot_t *ring;      /* `depth` slots, indexed by frame number modulo depth */
  uint64_t next_seq; /* frames started on the send path so far */
  uint64_t rx_count; /* frames whose echo has been fully received */
  uint32_t burst_left;
  uint64_t size_rng;
  uint64_t pat_start; /* pattern offset sequence, see frame_body() */
  uint64_t pat_stride;
  uint64_t last_rx_ns;

  /* Churn mode. Frame numbers (and with them seqs and body offsets) keep counting across the
   * sockets of one connection slot, so only the first frame of the current socket is recorded. */
  uint64_t sock_first;       /* frame number of the current socket's first frame */
  uint64_t connect_start_ns; /* when the current socket's connect began */
  uint64_t connect_deadline_ns;
  bool in_cq; /* linked into the worker's queue of pending reconnects */
  struct conn_s *cq_prev;
  struct conn_s *cq_next;

  /* Paced mode: the next frame starts no earlier than due_ns. While the connection is idle and
   * waiting for that moment it sits in the worker's timer heap, and only the heap starts it. */
  uint64_t due_ns;
  bool in_heap;
  bool on_time; /* set while the heap starts the frame, see pace_ready() */

  /* Send path: frames tx_frame .. next_seq - 1 have been started but not completely written. */
  uint64_t tx_frame;
  uint64_t tx_off;    /* bytes of frame tx_frame already written, header included */
  uint64_t tx_unsent; /* bytes of the started frames not written yet */
  uint32_t tx_cap;    /* new frames start only while tx_unsent is below this */

  /* Receive path: the frame currently being parsed. */
  uint8_t rhdr[HDR_BYTES];
  uint32_t rhdr_have;
  bool in_body;
  bool rx_bad;
  uint32_t rx_len;
  uint32_t rx_off; /* body bytes of the current frame received so far */
  const uint8_t *rx_body;
} conn_t;

typedef struct stats_s {
  uint64_t msgs;     /* verified echoes completed inside the measure window */
  uint64_t bytes;    /* their body bytes */
  uint64_t verified; /* verified echoes over the whole run, warmup included */
  uint64_t mismatches;
  uint64_t closed;
  uint64_t io_errors;
  uint64_t stalls;
  uint64_t connects; /* churn mode: connects completed inside the measure window */
} stats_t;

/* The iovecs of one writev call and the staging area that some of them point into. */
typedef struct gather_s {
  struct iovec iov[TX_IOVS];
  uint8_t stage[TX_STAGE_BYTES];
  int niov;
  uint32_t nstage;
  bool stage_open; /* the last iovec ends at stage + nstage, so staged bytes can extend it */
  size_t bytes;
} gather_t;

typedef struct worker_s {
  uint32_t id;
  pthread_t thread;
  int cpu; /* -1 when not pinned */
  conn_t *conns;
  uint32_t nconns;
  uint32_t first_idx;
  uint32_t live; /* connections neither done nor dead */
  int ep;
  uint8_t *rbuf;
  slot_t *slots;
  gather_t *gather;
  uint64_t t_stop_ns;
  bool reached_end;
  stats_t st;
  hist_t hist;

  /* Paced mode: a min-heap of idle connections ordered by due_ns, and a timerfd armed for the
   * earliest of them. epoll_wait takes its timeout in whole milliseconds and adds the thread's
   * timer slack on top, which is too coarse for 10 ms pacing; a timerfd expires on the nanosecond
   * deadline it is given. */
  conn_t **heap;
  uint32_t nheap;
  int tfd;
  uint64_t tfd_armed_ns; /* 0 when the timer is known not to be pending */

  /* Churn mode: reconnects in progress, oldest first. Every deadline is its start time plus the
   * same timeout, so the head of this queue always holds the earliest one. */
  conn_t *cq_head;
  conn_t *cq_tail;
  uint32_t src_next; /* the next source address to use, see SRC_ADDRS */
} worker_t;

static config_t g_cfg;
static struct sockaddr_storage g_addr;
static socklen_t g_addrlen;
/* Churn mode against an IPv4 loopback target binds each socket to one of SRC_ADDRS source
 * addresses, see conn_open(). */
static bool g_rotate_src;
static char g_addr_str[INET6_ADDRSTRLEN + 16];

/* Written by the main thread before the start barrier and only read afterwards; the barrier
 * orders the accesses, so these need no atomics. */
static uint64_t g_t_start_ns;
static uint64_t g_warmup_end_ns;
static uint64_t g_measure_end_ns;
static bool g_go;

static pthread_barrier_t g_barrier;
static pthread_barrier_t g_done_barrier;
static atomic_int g_abort; /* set when setup fails in any thread */
/* Set by SIGINT/SIGTERM. A lock-free atomic is both safe to write from a signal handler and safe to
 * read from the worker threads, which a plain volatile sig_atomic_t is not. */
static atomic_int g_stop;
static atomic_int g_reported;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig) {
  (void)sig;
  atomic_store(&g_stop, 1);
}

/* Describes an error on stderr unless enough have been described already; callers count the
 * error themselves so that the totals stay exact. */
static void report(const char *fmt, ...) {
  /* Checking first keeps the counter from ever wrapping around, even after billions of errors. */
  if (atomic_load(&g_reported) > MAX_REPORTED_ERRORS) return;
  int n = atomic_fetch_add(&g_reported, 1);
  if (n < MAX_REPORTED_ERRORS) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "ew_loadgen: error: %s\n", line);
  } else if (n == MAX_REPORTED_ERRORS) {
    fprintf(stderr, "ew_loadgen: further errors are counted but not described\n");
  }
}

static void die_usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "ew_loadgen: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'ew_loadgen --help' for the list of options.\n");
  exit(2);
}

static void die_oom(void) {
  fprintf(stderr, "ew_loadgen: out of memory\n");
  exit(1);
}

/* ---- Deterministic byte streams ----------------------------------------------------------- */

/* The splitmix64 finaliser: a cheap bijective mixer whose output looks random enough to catch
 * misordered, duplicated or corrupted bytes. */
static inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The pattern is written once before any thread starts and only read afterwards, so the threads
 * share it without synchronisation beyond pthread_create. */
static uint8_t *g_pattern;

static inline void store_le64(uint8_t *p, uint64_t w) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(p, &w, 8);
#else
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(w >> (8 * i));
#endif
}

/* Fills the pattern from a splitmix64 stream with a fixed seed. Storing the words little-endian
 * makes the bytes the same everywhere, so a failure seen on one host reproduces on another. */
static void pattern_init(void) {
  size_t len = (size_t)PATTERN_SPAN + g_cfg.size_max;
  size_t words = (len + 7) / 8;
  g_pattern = malloc(words * 8);
  if (!g_pattern) {
    fprintf(stderr, "ew_loadgen: out of memory allocating a %zu-byte body pattern\n", words * 8);
    exit(1);
  }
  for (size_t k = 0; k < words; k++)
    store_le64(g_pattern + 8 * k, mix64(PRNG_SEED + (k + 1) * GOLDEN));
}

/* Returns the start of the body of the given frame. Each connection walks the pattern from its own
 * random start with its own odd stride below 64. An odd stride modulo the power-of-two span visits
 * every offset once before repeating, so any two frames of a connection fewer than PATTERN_SPAN
 * frames apart (which covers every pair that can be in flight together) start at different
 * offsets. Slices at different offsets of random bytes differ, even when they overlap, so a frame
 * echoed out of order fails verification even when its seq is not checked; connections start at
 * unrelated places, so cross-talk between them is caught the same way. The short stride is for
 * the cache: consecutive frames of a connection share most of their cache lines, so the pattern
 * bytes a connection has in flight stay hot between sending and verifying. With offsets scattered
 * over the whole span, cache misses in memcpy and memcmp made small frames measurably slower to
 * handle than with the old per-byte generator. */
static inline const uint8_t *frame_body(uint64_t start, uint64_t stride, uint64_t frame) {
  return g_pattern + ((start + frame * stride) & (PATTERN_SPAN - 1u));
}

static inline void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static inline void put_be16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline uint32_t get_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint16_t get_be16(const uint8_t *p) {
  return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

/* The protocol reserves seq 0 for "no correlation", so frame numbers map onto 1 .. 2^32 - 1. */
static inline uint32_t frame_seq(uint64_t frame) {
  return (uint32_t)(frame % 0xffffffffull) + 1u;
}

/* ---- Histogram ---------------------------------------------------------------------------- */

static void hist_init(hist_t *h) {
  memset(h, 0, sizeof *h);
  h->min_ns = UINT64_MAX;
}

static inline unsigned hist_index(uint64_t v) {
  if (v < HIST_SUB) return (unsigned)v;
  unsigned k = 63u - (unsigned)__builtin_clzll(v);
  unsigned shift = k - (HIST_SUB_BITS - 1);
  unsigned sub = (unsigned)(v >> shift);
  return HIST_SUB + (k - HIST_SUB_BITS) * HIST_HALF + (sub - HIST_HALF);
}

/* The representative value of a bucket is its midpoint, which halves the worst-case error
 * compared with reporting either edge. */
static uint64_t hist_bucket_mid(unsigned idx) {
  if (idx < HIST_SUB) return idx;
  unsigned j = idx - HIST_SUB;
  unsigned k = HIST_SUB_BITS + j / HIST_HALF;
  uint64_t sub = HIST_HALF + j % HIST_HALF;
  unsigned shift = k - (HIST_SUB_BITS - 1);
  return (sub << shift) + ((1ull << shift) >> 1);
}

static inline void hist_record(hist_t *h, uint64_t v) {
  if (v < h->min_ns) h->min_ns = v;
  if (v > h->max_ns) h->max_ns = v;
  if (v > HIST_MAX_NS) v = HIST_MAX_NS;
  h->counts[hist_index(v)]++;
  h->total++;
}

static void hist_merge(hist_t *dst, const hist_t *src) {
  for (unsigned i = 0; i < HIST_BUCKETS; i++)
    dst->counts[i] += src->counts[i];
  dst->total += src->total;
  if (src->min_ns < dst->min_ns) dst->min_ns = src->min_ns;
  if (src->max_ns > dst->max_ns) dst->max_ns = src->max_ns;
}

static double hist_percentile_us(const hist_t *h, double pct) {
  if (h->total == 0) return 0.0;
  uint64_t rank = (uint64_t)ceil(pct / 100.0 * (double)h->total);
  if (rank < 1) rank = 1;
  if (rank > h->total) rank = h->total;
  uint64_t seen = 0;
  for (unsigned i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t v = hist_bucket_mid(i);
      /* A midpoint can lie outside the values actually seen; clamping keeps p50 <= max. */
      if (v > h->max_ns) v = h->max_ns;
      if (v < h->min_ns) v = h->min_ns;
      return (double)v / 1000.0;
    }
  }
  return (double)h->max_ns / 1000.0;
}

/* ---- Timers: the pacing heap and the reconnect queue -------------------------------------- */

/* Each connection is in the heap at most once (in_heap says whether), so an array of one slot per
 * connection never overflows. */
static void heap_push(worker_t *w, conn_t *c) {
  uint32_t i = w->nheap++;
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (w->heap[parent]->due_ns <= c->due_ns) break;
    w->heap[i] = w->heap[parent];
    i = parent;
  }
  w->heap[i] = c;
  c->in_heap = true;
}

static conn_t *heap_pop(worker_t *w) {
  conn_t *top = w->heap[0];
  uint32_t n = --w->nheap;
  if (n > 0) {
    conn_t *last = w->heap[n];
    uint32_t i = 0;
    for (;;) {
      uint32_t kid = 2 * i + 1;
      if (kid >= n) break;
      if (kid + 1 < n && w->heap[kid + 1]->due_ns < w->heap[kid]->due_ns) kid++;
      if (last->due_ns <= w->heap[kid]->due_ns) break;
      w->heap[i] = w->heap[kid];
      i = kid;
    }
    w->heap[i] = last;
  }
  top->in_heap = false;
  return top;
}

static void cq_push(worker_t *w, conn_t *c, uint64_t deadline) {
  c->connect_deadline_ns = deadline;
  c->cq_next = NULL;
  c->cq_prev = w->cq_tail;
  if (w->cq_tail)
    w->cq_tail->cq_next = c;
  else
    w->cq_head = c;
  w->cq_tail = c;
  c->in_cq = true;
}

static void cq_unlink(worker_t *w, conn_t *c) {
  if (!c->in_cq) return;
  if (c->cq_prev)
    c->cq_prev->cq_next = c->cq_next;
  else
    w->cq_head = c->cq_next;
  if (c->cq_next)
    c->cq_next->cq_prev = c->cq_prev;
  else
    w->cq_tail = c->cq_prev;
  c->cq_prev = c->cq_next = NULL;
  c->in_cq = false;
}

/* ---- Connection send path ----------------------------------------------------------------- */

static void conn_close(worker_t *w, conn_t *c) {
  cq_unlink(w, c);
  if (c->fd >= 0) {
    close(c->fd);
    c->fd = -1;
  }
  if (!c->done && !c->dead) w->live--;
}

static void conn_fail_closed(worker_t *w, conn_t *c, const char *what) {
  w->st.closed++;
  report("conn %" PRIu32 ": %s after %" PRIu64 " echoed frames (%" PRIu64 " in flight)", c->idx,
         what, c->rx_count, c->next_seq - c->rx_count);
  conn_close(w, c);
  c->dead = true;
}

static void conn_fail_io(worker_t *w, conn_t *c, const char *op, int err) {
  w->st.io_errors++;
  report("conn %" PRIu32 ": %s failed: %s", c->idx, op, strerror(err));
  conn_close(w, c);
  c->dead = true;
}

static void conn_set_out(worker_t *w, conn_t *c, bool on) {
  if (c->want_out == on || c->fd < 0) return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
    conn_fail_io(w, c, "epoll_ctl", errno);
    return;
  }
  c->want_out = on;
}

static uint32_t pick_size(conn_t *c) {
  if (!g_cfg.size_random) return g_cfg.size_min;
  uint64_t range = (uint64_t)g_cfg.size_max - g_cfg.size_min + 1;
  /* Rejection sampling removes the modulo bias, so the distribution is exactly uniform. */
  uint64_t limit = UINT64_MAX - (UINT64_MAX % range);
  uint64_t r;
  do {
    c->size_rng += GOLDEN;
    r = mix64(c->size_rng);
  } while (r >= limit);
  return g_cfg.size_min + (uint32_t)(r % range);
}

/* Paced mode: decides whether the idle connection c may start its next frame at *now (read lazily,
 * like conn_pump's clock) and moves its schedule on by one interval when it may. A connection
 * whose due time has not come yet waits in the heap, and from then on only the heap starts it.
 *
 * A frame the heap starts was on time, apart from the timer's wakeup delay, so the next one is
 * due one interval after this one's due time and wakeup delays do not add up into a slower rate.
 * A frame that could not start on time because its predecessor's echo (or a reconnect) took longer
 * than the interval starts as soon as the connection is idle again, and the schedule restarts
 * from that moment: the connection never catches up with a burst, so it stays the quiet
 * connection it models. Latency is measured from the actual send time in both cases, not from the
 * due time, so a slow echo shows up in the figures once rather than again in its successors. */
static bool pace_ready(worker_t *w, conn_t *c, uint64_t *now) {
  if (c->in_heap) return false;
  if (*now == 0) *now = now_ns();
  if (*now < c->due_ns) {
    heap_push(w, c);
    return false;
  }
  c->due_ns = (c->on_time ? c->due_ns : *now) + g_cfg.interval_ns;
  c->on_time = false;
  return true;
}

/* Decides whether another frame may be started now. Normal mode tops the connection up to
 * `depth` frames in flight; burst mode waits for the whole previous batch to come back and then
 * releases `depth` new frames at once; paced mode starts one frame per interval. In churn mode a
 * socket starts no more than its --reconnect-after frames. */
static bool may_start_frame(worker_t *w, conn_t *c, uint64_t *now) {
  if (g_cfg.max_frames != 0 && c->next_seq >= g_cfg.max_frames) return false;
  if (g_cfg.reconnect_after != 0 && c->next_seq - c->sock_first >= g_cfg.reconnect_after)
    return false;
  uint64_t inflight = c->next_seq - c->rx_count;
  if (g_cfg.interval_ns != 0) return inflight == 0 && pace_ready(w, c, now);
  if (g_cfg.burst) {
    if (c->burst_left == 0) {
      if (inflight != 0) return false;
      c->burst_left = g_cfg.depth;
    }
    return true;
  }
  return inflight < g_cfg.depth;
}

static inline void gather_copy(gather_t *g, const uint8_t *src, size_t n) {
  if (n == 0) return;
  memcpy(g->stage + g->nstage, src, n);
  if (g->stage_open) {
    g->iov[g->niov - 1].iov_len += n;
  } else {
    g->iov[g->niov].iov_base = g->stage + g->nstage;
    g->iov[g->niov].iov_len = n;
    g->niov++;
    g->stage_open = true;
  }
  g->nstage += (uint32_t)n;
  g->bytes += n;
}

static inline void gather_ref(gather_t *g, const uint8_t *src, size_t n) {
  if (n == 0) return;
  /* writev never writes through iov_base, so dropping const here is safe. */
  g->iov[g->niov].iov_base = (void *)src;
  g->iov[g->niov].iov_len = n;
  g->niov++;
  g->stage_open = false;
  g->bytes += n;
}

/* Gathers the unwritten bytes of the started frames, oldest first, as far as the limits of one
 * writev call allow. Headers are rebuilt here rather than stored, since they are a pure function
 * of the frame's size and number. */
static void gather_frames(gather_t *g, const conn_t *c) {
  g->niov = 0;
  g->nstage = 0;
  g->stage_open = false;
  g->bytes = 0;
  uint64_t skip = c->tx_off;
  for (uint64_t f = c->tx_frame; f < c->next_seq; f++, skip = 0) {
    uint32_t size = c->ring[f % g_cfg.depth].size;
    bool copy = size <= TX_COPY_MAX;
    /* A frame needs at most two iovecs (header, body). The staging area and iovec array always
     * have room for the first frame, so every call makes progress. */
    if (g->niov + 2 > TX_IOVS || g->nstage + HDR_BYTES + (copy ? size : 0) > TX_STAGE_BYTES) break;
    if (skip < HDR_BYTES) {
      uint8_t h[HDR_BYTES];
      put_be32(h, size);
      put_be16(h + 4, g_cfg.type);
      put_be16(h + 6, 0);
      put_be32(h + 8, frame_seq(f));
      gather_copy(g, h + skip, HDR_BYTES - (size_t)skip);
      skip = 0;
    } else {
      skip -= HDR_BYTES;
    }
    const uint8_t *body = frame_body(c->pat_start, c->pat_stride, f) + skip;
    size_t n = size - (size_t)skip;
    if (copy)
      gather_copy(g, body, n);
    else
      gather_ref(g, body, n);
  }
}

/* Marks n written bytes as sent, retiring the frames they complete. */
static void tx_advance(conn_t *c, size_t n) {
  c->tx_unsent -= n;
  while (n > 0) {
    uint64_t rest = HDR_BYTES + (uint64_t)c->ring[c->tx_frame % g_cfg.depth].size - c->tx_off;
    if (n < rest) {
      c->tx_off += n;
      return;
    }
    n -= (size_t)rest;
    c->tx_frame++;
    c->tx_off = 0;
  }
}

/* Starts as many allowed frames as the send cap admits and writes the unsent bytes with writev,
 * repeating while the kernel accepts everything. Frames are timestamped when they are started, so
 * the latency includes any time spent waiting for socket space, which is what a client of the
 * server would experience too. */
static void conn_pump(worker_t *w, conn_t *c) {
  /* A socket that is still connecting (churn mode) cannot be written to yet; the completion of
   * its connect pumps it. */
  if (c->fd < 0 || !c->connected) return;
  gather_t *g = w->gather;
  uint64_t now = 0;
  for (;;) {
    while (c->tx_unsent < c->tx_cap && may_start_frame(w, c, &now)) {
      if (g_cfg.burst) c->burst_left--;
      if (now == 0) now = now_ns();
      slot_t *s = &c->ring[c->next_seq % g_cfg.depth];
      s->size = pick_size(c);
      s->t_send_ns = now;
      c->tx_unsent += HDR_BYTES + (uint64_t)s->size;
      c->next_seq++;
    }
    if (c->tx_unsent == 0) {
      conn_set_out(w, c, false);
      return;
    }
    gather_frames(g, c);
    ssize_t r = writev(c->fd, g->iov, g->niov);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        conn_set_out(w, c, true);
        return;
      }
      if (errno == EPIPE || errno == ECONNRESET)
        conn_fail_closed(w, c,
                         errno == EPIPE ? "connection closed by server (write: EPIPE)"
                                        : "connection reset by server (write)");
      else
        conn_fail_io(w, c, "write", errno);
      return;
    }
    tx_advance(c, (size_t)r);
    /* A short (or, in theory, empty) write means the socket buffer is full: wait for EPOLLOUT
     * rather than retrying immediately. */
    if ((size_t)r < g->bytes) {
      conn_set_out(w, c, true);
      return;
    }
  }
}

/* ---- Connection receive path -------------------------------------------------------------- */

static void frame_complete(worker_t *w, conn_t *c, uint64_t now) {
  const slot_t *s = &c->ring[c->rx_count % g_cfg.depth];
  if (!c->rx_bad) {
    w->st.verified++;
    if (now >= g_warmup_end_ns && now < g_measure_end_ns) {
      w->st.msgs++;
      w->st.bytes += s->size;
      hist_record(&w->hist, now - s->t_send_ns);
    }
  }
  c->rx_count++;
  c->in_body = false;
  c->rhdr_have = 0;
  if (g_cfg.max_frames != 0 && c->rx_count >= g_cfg.max_frames) {
    /* The connection has done its share; closing it now releases server resources early. */
    conn_close(w, c);
    c->done = true;
  } else if (g_cfg.reconnect_after != 0 && c->rx_count - c->sock_first >= g_cfg.reconnect_after) {
    /* The socket is replaced only after the rest of this read has been parsed, so that any bytes
     * the server sent beyond the last echo are still caught as unexpected. The cap in
     * may_start_frame() guarantees that no frame of this socket is still in flight. */
    c->recycle = true;
  }
}

/* Consumes received bytes with a streaming parser: headers are assembled in a 12-byte scratch
 * area, bodies are compared with their slices of the pattern and then dropped. */
static void conn_rx(worker_t *w, conn_t *c, const uint8_t *p, size_t n, uint64_t now) {
  c->last_rx_ns = now;
  while (n > 0 && c->fd >= 0) {
    if (!c->in_body) {
      if (c->rx_count == c->next_seq) {
        w->st.mismatches++;
        report("conn %" PRIu32 ": received %zu unexpected bytes after frame %" PRIu64
               " with no frame in flight (first byte 0x%02x)",
               c->idx, n, c->rx_count, p[0]);
        conn_close(w, c);
        c->dead = true;
        return;
      }
      size_t take = HDR_BYTES - c->rhdr_have;
      if (take > n) take = n;
      memcpy(c->rhdr + c->rhdr_have, p, take);
      c->rhdr_have += (uint32_t)take;
      p += take;
      n -= take;
      if (c->rhdr_have < HDR_BYTES) break;
      uint64_t frame = c->rx_count;
      const slot_t *s = &c->ring[frame % g_cfg.depth];
      uint32_t len = get_be32(c->rhdr);
      uint16_t type = get_be16(c->rhdr + 4);
      uint32_t seq = get_be32(c->rhdr + 8);
      if (len != s->size) {
        /* A wrong length desynchronises the stream, so nothing after it can be trusted. */
        w->st.mismatches++;
        report("conn %" PRIu32 " frame %" PRIu64 ": length mismatch: expected %" PRIu32
               ", got %" PRIu32 " (type %u, seq %" PRIu32 "); closing the connection",
               c->idx, frame, s->size, len, type, seq);
        conn_close(w, c);
        c->dead = true;
        return;
      }
      c->rx_bad = false;
      if (type != g_cfg.type) {
        w->st.mismatches++;
        c->rx_bad = true;
        report("conn %" PRIu32 " frame %" PRIu64 ": type mismatch: expected %u, got %u", c->idx,
               frame, (unsigned)g_cfg.type, (unsigned)type);
      }
      if (g_cfg.check_seq && seq != frame_seq(frame)) {
        w->st.mismatches++;
        c->rx_bad = true;
        report("conn %" PRIu32 " frame %" PRIu64 ": seq mismatch: expected %" PRIu32
               ", got %" PRIu32,
               c->idx, frame, frame_seq(frame), seq);
      }
      c->in_body = true;
      c->rx_len = len;
      c->rx_off = 0;
      c->rx_body = frame_body(c->pat_start, c->pat_stride, frame);
      if (len == 0) frame_complete(w, c, now);
      continue;
    }
    size_t take = c->rx_len - c->rx_off;
    if (take > n) take = n;
    /* A body may arrive split over several reads; rx_off says where in the expected slice this
     * piece starts. Only a failed comparison pays for a byte loop, to name the first bad byte. */
    if (!c->rx_bad) {
      const uint8_t *want = c->rx_body + c->rx_off;
      if (memcmp(p, want, take) != 0) {
        size_t bad = 0;
        while (p[bad] == want[bad])
          bad++;
        w->st.mismatches++;
        c->rx_bad = true;
        report("conn %" PRIu32 " frame %" PRIu64 ": body mismatch at byte %" PRIu64 " of %" PRIu32
               ": expected 0x%02x, got 0x%02x",
               c->idx, c->rx_count, (uint64_t)c->rx_off + bad, c->rx_len, want[bad], p[bad]);
      }
    }
    c->rx_off += (uint32_t)take;
    p += take;
    n -= take;
    if (c->rx_off == c->rx_len) frame_complete(w, c, now);
  }
}

static void conn_recycle(worker_t *w, conn_t *c, uint64_t now);

static void conn_read(worker_t *w, conn_t *c) {
  for (int i = 0; i < READS_PER_EVENT && c->fd >= 0; i++) {
    ssize_t r = read(c->fd, w->rbuf, READ_BUF_BYTES);
    if (r > 0) {
      uint64_t now = now_ns();
      conn_rx(w, c, w->rbuf, (size_t)r, now);
      if (c->recycle && c->fd >= 0) {
        conn_recycle(w, c, now);
        return;
      }
      /* A short read means the socket is drained; skipping the read that would return EAGAIN
       * saves a system call per event. */
      if ((size_t)r < READ_BUF_BYTES) return;
      continue;
    }
    if (r == 0) {
      conn_fail_closed(w, c, "connection closed by server");
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    if (errno == ECONNRESET)
      conn_fail_closed(w, c, "connection reset by server");
    else
      conn_fail_io(w, c, "read", errno);
    return;
  }
}

/* ---- Worker thread ------------------------------------------------------------------------ */

static void setup_fail(const char *fmt, ...) {
  /* Only the first setup failure is printed: when the server is down every connection fails the
   * same way and one clear line is more useful than a hundred. */
  if (atomic_exchange(&g_abort, 1) == 0) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ew_loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
  }
}

static int worker_alloc(worker_t *w) {
  uint64_t need = (uint64_t)g_cfg.depth * (HDR_BYTES + (uint64_t)g_cfg.size_max);
  uint64_t share = OUT_BUDGET_BYTES / g_cfg.conns;
  if (share < OUT_MIN_BYTES) share = OUT_MIN_BYTES;
  if (share > OUT_MAX_BYTES) share = OUT_MAX_BYTES;
  uint32_t cap = (uint32_t)(need < share ? need : share);

  w->ep = epoll_create1(EPOLL_CLOEXEC);
  if (w->ep < 0) {
    setup_fail("epoll_create1: %s", strerror(errno));
    return -1;
  }
  w->conns = calloc(w->nconns, sizeof *w->conns);
  if (!w->conns) {
    setup_fail("out of memory allocating %" PRIu32 " connections", w->nconns);
    return -1;
  }
  /* Descriptors are marked unused first so that cleanup after a later failure closes nothing
   * it does not own. */
  for (uint32_t i = 0; i < w->nconns; i++)
    w->conns[i].fd = -1;
  w->slots = calloc((size_t)w->nconns * g_cfg.depth, sizeof *w->slots);
  w->gather = malloc(sizeof *w->gather);
  w->rbuf = malloc(READ_BUF_BYTES);
  if (g_cfg.interval_ns != 0) w->heap = calloc(w->nconns, sizeof *w->heap);
  if (!w->slots || !w->gather || !w->rbuf || (g_cfg.interval_ns != 0 && !w->heap)) {
    setup_fail("out of memory allocating %" PRIu32 " connections", w->nconns);
    return -1;
  }
  if (g_cfg.interval_ns != 0) {
    /* The timer stays disarmed until the run starts, so connection setup never sees it fire. */
    w->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->tfd < 0) {
      setup_fail("timerfd_create: %s", strerror(errno));
      return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(w->ep, EPOLL_CTL_ADD, w->tfd, &ev) != 0) {
      setup_fail("epoll_ctl(timerfd): %s", strerror(errno));
      return -1;
    }
  }
  for (uint32_t i = 0; i < w->nconns; i++) {
    conn_t *c = &w->conns[i];
    c->idx = w->first_idx + i;
    c->ring = w->slots + (size_t)i * g_cfg.depth;
    c->tx_cap = cap;
    c->size_rng = mix64(PRNG_SEED ^ ((uint64_t)c->idx * GOLDEN));
    c->pat_start = mix64(PRNG_SEED + c->idx);
    c->pat_stride = (mix64(c->pat_start ^ GOLDEN) & 63u) | 1u;
  }
  w->live = w->nconns;
  return 0;
}

/* Opens a non-blocking socket for c, starts connecting it and registers it with epoll (for
 * EPOLLOUT while the connect is in progress). Returns 0 with c->fd set and c->connected telling
 * whether the connect already finished (possible on loopback); otherwise returns an errno value,
 * names the failed call in *op (NULL for connect itself) and leaves c->fd at -1. */
static int conn_open(worker_t *w, conn_t *c, const char **op) {
  int fd = socket(g_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *op = "socket";
    return errno;
  }
  int err;
  /* Small frames must leave immediately; Nagle's algorithm would add up to 40 ms of delay. */
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    *op = "setsockopt(TCP_NODELAY)";
    goto fail;
  }
  if (g_rotate_src) {
    /* IP_BIND_ADDRESS_NO_PORT defers choosing the port to connect(), which can then pick one that
     * is free for this particular target; a bind that picks the port itself would need one that
     * is free for every target, which exhausts the range far sooner. */
    if (setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0) {
      *op = "setsockopt(IP_BIND_ADDRESS_NO_PORT)";
      goto fail;
    }
    struct sockaddr_in src;
    memset(&src, 0, sizeof src);
    src.sin_family = AF_INET;
    src.sin_addr.s_addr = htonl(SRC_FIRST + w->src_next);
    w->src_next = (w->src_next + 1) % SRC_ADDRS;
    if (bind(fd, (const struct sockaddr *)&src, sizeof src) != 0) {
      *op = "bind";
      goto fail;
    }
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  c->connected = false;
  if (connect(fd, (const struct sockaddr *)&g_addr, g_addrlen) == 0) {
    c->connected = true;
    ev.events = EPOLLIN;
  } else if (errno != EINPROGRESS) {
    *op = NULL;
    goto fail;
  }
  if (epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
    *op = "epoll_ctl";
    goto fail;
  }
  c->fd = fd;
  c->want_out = false;
  return 0;
fail:
  err = errno;
  close(fd);
  c->connected = false;
  return err;
}

static int conn_start_connect(worker_t *w, conn_t *c, uint32_t *pending, uint32_t *ok) {
  const char *op;
  int err = conn_open(w, c, &op);
  if (err != 0) {
    if (op)
      setup_fail("conn %" PRIu32 ": %s: %s", c->idx, op, strerror(err));
    else
      setup_fail("conn %" PRIu32 ": connect to %s failed: %s", c->idx, g_addr_str, strerror(err));
    return -1;
  }
  if (c->connected)
    (*ok)++;
  else
    (*pending)++;
  return 0;
}

/* Connects all of this thread's sockets concurrently (bounded by CONNECT_WINDOW) and returns 0
 * once every one is established, or -1 after printing why not. */
static int worker_connect(worker_t *w) {
  uint64_t deadline = now_ns() + (uint64_t)g_cfg.connect_timeout_ms * 1000000ull;
  uint32_t next = 0, pending = 0, ok = 0;
  struct epoll_event evs[256];
  while (ok < w->nconns) {
    if (atomic_load(&g_abort) || atomic_load(&g_stop)) return -1;
    while (next < w->nconns && pending < CONNECT_WINDOW) {
      if (conn_start_connect(w, &w->conns[next++], &pending, &ok) != 0) return -1;
    }
    if (ok == w->nconns) break;
    uint64_t now = now_ns();
    if (now >= deadline) {
      setup_fail("timed out after %" PRIu32 " ms connecting to %s (%" PRIu32 " of %" PRIu32
                 " connections of thread %" PRIu32 " established)",
                 g_cfg.connect_timeout_ms, g_addr_str, ok, w->nconns, w->id);
      return -1;
    }
    uint64_t left_ms = (deadline - now + 999999) / 1000000;
    int timeout = left_ms < POLL_SLICE_MS ? (int)left_ms : POLL_SLICE_MS;
    int n = epoll_wait(w->ep, evs, 256, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      setup_fail("epoll_wait: %s", strerror(errno));
      return -1;
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (!c || c->connected) continue;
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) {
        setup_fail("conn %" PRIu32 ": connect to %s failed: %s", c->idx, g_addr_str, strerror(err));
        return -1;
      }
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
      if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
        setup_fail("conn %" PRIu32 ": epoll_ctl: %s", c->idx, strerror(errno));
        return -1;
      }
      c->connected = true;
      pending--;
      ok++;
    }
  }
  return 0;
}

/* Churn mode: a reconnect that failed is an error like any other failed socket operation. */
static void conn_fail_reconnect(worker_t *w, conn_t *c, const char *op, int err) {
  w->st.io_errors++;
  if (op)
    report("conn %" PRIu32 ": reconnect: %s failed: %s", c->idx, op, strerror(err));
  else
    report("conn %" PRIu32 ": reconnect to %s failed after %" PRIu64 " echoed frames: %s", c->idx,
           g_addr_str, c->rx_count, strerror(err));
  conn_close(w, c);
  c->dead = true;
}

/* Churn mode: the new socket of c is connected; count it and let it send. */
static void conn_established(worker_t *w, conn_t *c, uint64_t now) {
  cq_unlink(w, c);
  c->connected = true;
  if (now >= g_warmup_end_ns && now < g_measure_end_ns) w->st.connects++;
  conn_pump(w, c);
}

/* Churn mode: closes c's socket, all of whose frames have been echoed, and starts connecting a
 * new one to the same target. The close is a plain one: with nothing left unread it sends a FIN,
 * so the server sees an orderly shutdown rather than a reset. */
static void conn_recycle(worker_t *w, conn_t *c, uint64_t now) {
  close(c->fd);
  c->fd = -1;
  c->recycle = false;
  c->connected = false;
  /* The receive parser is between frames and the send path has nothing unwritten, since every
   * frame of the old socket has been echoed; only the per-socket counters start over. */
  c->sock_first = c->next_seq;
  c->burst_left = 0;
  c->in_body = false;
  c->rhdr_have = 0;
  c->rx_bad = false;
  const char *op;
  int err = conn_open(w, c, &op);
  if (err != 0) {
    conn_fail_reconnect(w, c, op, err);
    return;
  }
  c->connect_start_ns = now;
  if (c->connected)
    conn_established(w, c, now);
  else
    cq_push(w, c, now + (uint64_t)g_cfg.connect_timeout_ms * 1000000ull);
}

/* Churn mode: epoll reported progress on a connecting socket. */
static void conn_connect_done(worker_t *w, conn_t *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    conn_fail_reconnect(w, c, NULL, err);
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
    conn_fail_reconnect(w, c, "epoll_ctl", errno);
    return;
  }
  conn_established(w, c, now_ns());
}

/* Churn mode: fails the reconnects that have outlived --connect-timeout-ms. */
static void cq_expire(worker_t *w, uint64_t now) {
  while (w->cq_head && w->cq_head->connect_deadline_ns <= now) {
    conn_t *c = w->cq_head;
    w->st.io_errors++;
    report("conn %" PRIu32 ": reconnect to %s timed out after %" PRIu32 " ms", c->idx, g_addr_str,
           g_cfg.connect_timeout_ms);
    conn_close(w, c);
    c->dead = true;
  }
}

/* Paced mode: starts the frames of every connection whose due time has come. */
static void run_timers(worker_t *w) {
  if (w->nheap == 0) return;
  uint64_t now = now_ns();
  while (w->nheap > 0 && w->heap[0]->due_ns <= now) {
    conn_t *c = heap_pop(w);
    /* A connection can only fail while it waits here; one that did is simply dropped. */
    if (c->fd < 0 || !c->connected) continue;
    c->on_time = true;
    conn_pump(w, c);
    c->on_time = false;
  }
}

/* Paced mode: arms the timer for the earliest due time, unless it is armed for it already. */
static void arm_timer(worker_t *w) {
  if (w->nheap == 0 || w->heap[0]->due_ns == w->tfd_armed_ns) return;
  uint64_t due = w->heap[0]->due_ns;
  struct itimerspec its;
  memset(&its, 0, sizeof its);
  its.it_value.tv_sec = (time_t)(due / 1000000000ull);
  its.it_value.tv_nsec = (long)(due % 1000000000ull);
  if (timerfd_settime(w->tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0) {
    /* Without the timer the heap is served only when epoll_wait returns for another reason, so
     * pacing is no longer trustworthy and the run must not count as valid. */
    w->st.io_errors++;
    report("thread %" PRIu32 ": timerfd_settime: %s", w->id, strerror(errno));
    return;
  }
  w->tfd_armed_ns = due;
}

static void worker_run(worker_t *w) {
  struct epoll_event evs[256];
  for (uint32_t i = 0; i < w->nconns; i++) {
    conn_t *c = &w->conns[i];
    /* Paced connections are spread evenly over the first interval rather than all sending at the
     * same instant, the way independent clients would be. */
    if (g_cfg.interval_ns != 0)
      c->due_ns = g_t_start_ns + (uint64_t)((double)g_cfg.interval_ns * c->idx / g_cfg.conns);
    conn_pump(w, c);
  }
  uint64_t now;
  while (w->live > 0 && !atomic_load(&g_stop)) {
    run_timers(w);
    now = now_ns();
    if (now >= g_measure_end_ns) break;
    cq_expire(w, now);
    arm_timer(w);
    uint64_t left_ms = (g_measure_end_ns - now + 999999) / 1000000;
    if (w->cq_head) {
      uint64_t d = w->cq_head->connect_deadline_ns;
      uint64_t cq_ms = d > now ? (d - now + 999999) / 1000000 : 0;
      if (cq_ms < left_ms) left_ms = cq_ms;
    }
    int timeout = left_ms < POLL_SLICE_MS ? (int)left_ms : POLL_SLICE_MS;
    int n = epoll_wait(w->ep, evs, 256, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      w->st.io_errors++;
      report("thread %" PRIu32 ": epoll_wait: %s", w->id, strerror(errno));
      break;
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (!c) {
        /* The pacing timer expired; reading clears it, and run_timers() serves the heap. */
        uint64_t ticks;
        if (read(w->tfd, &ticks, sizeof ticks) < 0 && errno != EAGAIN && errno != EINTR) {
          w->st.io_errors++;
          report("thread %" PRIu32 ": read(timerfd): %s", w->id, strerror(errno));
        }
        w->tfd_armed_ns = 0;
        continue;
      }
      if (c->fd < 0) continue;
      if (!c->connected) {
        conn_connect_done(w, c);
        continue;
      }
      if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) conn_read(w, c);
      if (c->fd >= 0) conn_pump(w, c);
    }
  }
  now = now_ns();
  w->reached_end = now >= g_measure_end_ns;
  w->t_stop_ns = now < g_measure_end_ns ? now : g_measure_end_ns;

  /* A connection that had frames outstanding yet received nothing during the whole measure
   * window is stalled: the server lost its frames or stopped serving it. A reconnect that was
   * already under way when the window opened and has still not completed is stalled the same way
   * (normally --connect-timeout-ms fails it first). Only a run that reached its natural end can
   * make that judgement. */
  if (w->reached_end) {
    for (uint32_t i = 0; i < w->nconns; i++) {
      conn_t *c = &w->conns[i];
      if (c->fd < 0 || c->last_rx_ns >= g_warmup_end_ns) continue;
      if (!c->connected) {
        if (c->connect_start_ns >= g_warmup_end_ns) continue;
        w->st.stalls++;
        report("conn %" PRIu32 ": stalled: a reconnect was pending during the whole %.3f s "
               "measure window (%" PRIu64 " frames echoed before)",
               c->idx, g_cfg.seconds, c->rx_count);
        continue;
      }
      if (c->next_seq == c->rx_count) continue;
      w->st.stalls++;
      report("conn %" PRIu32 ": stalled: no reply during the %.3f s measure window with %" PRIu64
             " frames in flight (%" PRIu64 " echoed before)",
             c->idx, g_cfg.seconds, c->next_seq - c->rx_count, c->rx_count);
    }
  }
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  bool ok = true;
  if (w->cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((size_t)w->cpu, &set);
    int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (err != 0) {
      setup_fail("thread %" PRIu32 ": cannot pin to CPU %d: %s", w->id, w->cpu, strerror(err));
      ok = false;
    }
  }
  if (ok && worker_alloc(w) != 0) ok = false;
  if (ok && worker_connect(w) != 0) ok = false;
  /* Everyone meets here, success or not, so that the clock only starts once every connection of
   * every thread is established and a failure anywhere stops all threads. */
  pthread_barrier_wait(&g_barrier);
  pthread_barrier_wait(&g_barrier);
  if (g_go) {
    worker_run(w);
    /* Closing a socket with unread echoes sends a reset, and a server may react by dropping other
     * connections or even dying (SIGPIPE). Waiting until every thread has stopped measuring keeps
     * one thread's teardown from showing up as errors in another thread's last moments. */
    pthread_barrier_wait(&g_done_barrier);
  }
  for (uint32_t i = 0; w->conns && i < w->nconns; i++)
    if (w->conns[i].fd >= 0) close(w->conns[i].fd);
  if (w->tfd >= 0) close(w->tfd);
  if (w->ep >= 0) close(w->ep);
  free(w->heap);
  w->heap = NULL;
  free(w->conns);
  free(w->slots);
  free(w->gather);
  free(w->rbuf);
  w->conns = NULL;
  w->slots = NULL;
  w->gather = NULL;
  w->rbuf = NULL;
  return NULL;
}

/* ---- Command line ------------------------------------------------------------------------- */

static void usage(FILE *f) {
  fprintf(f,
          "Usage: ew_loadgen --port P [options]\n"
          "\n"
          "Drives a framed-echo server and verifies every echoed byte.\n"
          "\n"
          "  --host H                 server address or name (default 127.0.0.1)\n"
          "  --port P                 server port (required)\n"
          "  --conns N                connections (default 100)\n"
          "  --depth D                frames in flight per connection (default 1)\n"
          "  --size B|random:MIN:MAX  body bytes per frame (default 64)\n"
          "  --seconds S              measured duration (default 5)\n"
          "  --warmup S               unmeasured warmup before it (default 1)\n"
          "  --threads T              generator threads (default 1)\n"
          "  --cpu LIST               pin threads round robin to CPUs, e.g. 2,3 or 4-7\n"
          "  --type N                 frame type (default 1)\n"
          "  --json                   print one JSON object line instead of text\n"
          "  --check-seq              also require the echoed seq to match\n"
          "  --connect-timeout-ms MS  connection setup limit (default 5000)\n"
          "  --max-frames N           stop each connection after N echoed frames; frames echoed\n"
          "                           during warmup are verified but not counted, so\n"
          "                           correctness runs usually add --warmup 0\n"
          "  --burst                  send depth frames at once after the previous batch returns\n"
          "  --interval-ms X          paced: each connection sends one frame every X ms (X > 0,\n"
          "                           fractions allowed) and waits for its echo in between; an\n"
          "                           echo slower than X delays the next frame, which then goes\n"
          "                           at once and restarts the schedule; latency is measured\n"
          "                           from the actual send; not with --depth > 1 or --burst\n"
          "  --reconnect-after N      churn: each connection closes after N echoed frames (once\n"
          "                           none is in flight) and is replaced by a new one at once;\n"
          "                           a reconnect must finish within --connect-timeout-ms, and\n"
          "                           --max-frames counts the frames of all of a slot's sockets\n"
          "  -h, --help               show this help\n"
          "\n"
          "Exit status: 0 success, 1 errors during the run, 2 usage error.\n");
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max) {
  char *end;
  errno = 0;
  if (*s == '-' || *s == '\0')
    die_usage("%s: expected a number between %" PRIu64 " and %" PRIu64 ", got '%s'", opt, min, max,
              s);
  unsigned long long v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    die_usage("%s: expected a number between %" PRIu64 " and %" PRIu64 ", got '%s'", opt, min, max,
              s);
  return v;
}

static double parse_interval_ms(const char *s) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0.0 || v > MAX_INTERVAL_MS ||
      llround(v * 1e6) < 1)
    die_usage("--interval-ms: expected milliseconds from 0.000001 up to %g, got '%s'",
              MAX_INTERVAL_MS, s);
  return v;
}

static double parse_seconds(const char *opt, const char *s, bool allow_zero) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  bool low_ok = allow_zero ? v >= 0.0 : v > 0.0;
  if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || !low_ok || v > MAX_SECONDS)
    die_usage("%s: expected %s seconds up to %g, got '%s'", opt,
              allow_zero ? "zero or more" : "more than zero", MAX_SECONDS, s);
  return v;
}

static void parse_size(const char *s) {
  if (strncmp(s, "random:", 7) == 0) {
    const char *a = s + 7;
    const char *colon = strchr(a, ':');
    if (!colon) die_usage("--size: expected random:MIN:MAX, got '%s'", s);
    char lo[32];
    size_t n = (size_t)(colon - a);
    if (n == 0 || n >= sizeof lo) die_usage("--size: expected random:MIN:MAX, got '%s'", s);
    memcpy(lo, a, n);
    lo[n] = '\0';
    g_cfg.size_min = (uint32_t)parse_u64("--size", lo, 0, MAX_BODY_BYTES);
    g_cfg.size_max = (uint32_t)parse_u64("--size", colon + 1, 0, MAX_BODY_BYTES);
    if (g_cfg.size_min > g_cfg.size_max) die_usage("--size: MIN must not exceed MAX in '%s'", s);
    g_cfg.size_random = true;
    return;
  }
  g_cfg.size_min = g_cfg.size_max = (uint32_t)parse_u64("--size", s, 0, MAX_BODY_BYTES);
  g_cfg.size_random = false;
}

static void parse_cpus(const char *s) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
    die_usage("--cpu: cannot read the allowed CPU set: %s", strerror(errno));
  size_t cap = 16;
  int *cpus = malloc(cap * sizeof *cpus);
  if (!cpus) die_oom();
  uint32_t n = 0;
  const char *p = s;
  for (;;) {
    char *end;
    errno = 0;
    long lo = strtol(p, &end, 10);
    if (end == p || errno != 0 || lo < 0 || lo >= CPU_SETSIZE)
      die_usage("--cpu: expected a list like 0,2,4-7, got '%s'", s);
    long hi = lo;
    p = end;
    if (*p == '-') {
      const char *q = p + 1;
      hi = strtol(q, &end, 10);
      if (end == q || errno != 0 || hi < lo || hi >= CPU_SETSIZE)
        die_usage("--cpu: expected a list like 0,2,4-7, got '%s'", s);
      p = end;
    }
    for (long c = lo; c <= hi; c++) {
      if (!CPU_ISSET((size_t)c, &allowed))
        die_usage("--cpu: CPU %ld is not available to this process", c);
      if (n == cap) {
        cap *= 2;
        int *grown = realloc(cpus, cap * sizeof *cpus);
        if (!grown) die_oom();
        cpus = grown;
      }
      cpus[n++] = (int)c;
    }
    if (*p == '\0') break;
    if (*p != ',') die_usage("--cpu: expected a list like 0,2,4-7, got '%s'", s);
    p++;
  }
  free(g_cfg.cpus);
  g_cfg.cpus = cpus;
  g_cfg.ncpus = n;
}

enum {
  OPT_HOST = 256,
  OPT_PORT,
  OPT_CONNS,
  OPT_DEPTH,
  OPT_SIZE,
  OPT_SECONDS,
  OPT_WARMUP,
  OPT_THREADS,
  OPT_CPU,
  OPT_TYPE,
  OPT_JSON,
  OPT_CHECK_SEQ,
  OPT_CONNECT_TIMEOUT,
  OPT_MAX_FRAMES,
  OPT_BURST,
  OPT_INTERVAL,
  OPT_RECONNECT_AFTER,
};

static void parse_args(int argc, char **argv) {
  static const struct option opts[] = {
      {"host", required_argument, NULL, OPT_HOST},
      {"port", required_argument, NULL, OPT_PORT},
      {"conns", required_argument, NULL, OPT_CONNS},
      {"depth", required_argument, NULL, OPT_DEPTH},
      {"size", required_argument, NULL, OPT_SIZE},
      {"seconds", required_argument, NULL, OPT_SECONDS},
      {"warmup", required_argument, NULL, OPT_WARMUP},
      {"threads", required_argument, NULL, OPT_THREADS},
      {"cpu", required_argument, NULL, OPT_CPU},
      {"type", required_argument, NULL, OPT_TYPE},
      {"json", no_argument, NULL, OPT_JSON},
      {"check-seq", no_argument, NULL, OPT_CHECK_SEQ},
      {"connect-timeout-ms", required_argument, NULL, OPT_CONNECT_TIMEOUT},
      {"max-frames", required_argument, NULL, OPT_MAX_FRAMES},
      {"burst", no_argument, NULL, OPT_BURST},
      {"interval-ms", required_argument, NULL, OPT_INTERVAL},
      {"reconnect-after", required_argument, NULL, OPT_RECONNECT_AFTER},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  g_cfg.host = "127.0.0.1";
  g_cfg.conns = 100;
  g_cfg.depth = 1;
  g_cfg.size_min = g_cfg.size_max = 64;
  g_cfg.seconds = 5.0;
  g_cfg.warmup = 1.0;
  g_cfg.threads = 1;
  g_cfg.type = 1;
  g_cfg.connect_timeout_ms = 5000;
  bool have_port = false;

  opterr = 0;
  int ch;
  while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
    switch (ch) {
    case OPT_HOST:
      if (optarg[0] == '\0') die_usage("--host: must not be empty");
      g_cfg.host = optarg;
      break;
    case OPT_PORT:
      g_cfg.port = (unsigned)parse_u64("--port", optarg, 1, 65535);
      have_port = true;
      break;
    case OPT_CONNS:
      g_cfg.conns = (uint32_t)parse_u64("--conns", optarg, 1, MAX_CONNS);
      break;
    case OPT_DEPTH:
      g_cfg.depth = (uint32_t)parse_u64("--depth", optarg, 1, MAX_DEPTH);
      break;
    case OPT_SIZE:
      parse_size(optarg);
      break;
    case OPT_SECONDS:
      g_cfg.seconds = parse_seconds("--seconds", optarg, false);
      break;
    case OPT_WARMUP:
      g_cfg.warmup = parse_seconds("--warmup", optarg, true);
      break;
    case OPT_THREADS:
      g_cfg.threads = (uint32_t)parse_u64("--threads", optarg, 1, MAX_THREADS);
      break;
    case OPT_CPU:
      parse_cpus(optarg);
      break;
    case OPT_TYPE:
      g_cfg.type = (uint16_t)parse_u64("--type", optarg, 0, 65535);
      break;
    case OPT_JSON:
      g_cfg.json = true;
      break;
    case OPT_CHECK_SEQ:
      g_cfg.check_seq = true;
      break;
    case OPT_CONNECT_TIMEOUT:
      g_cfg.connect_timeout_ms =
          (uint32_t)parse_u64("--connect-timeout-ms", optarg, 1, 3600u * 1000u);
      break;
    case OPT_MAX_FRAMES:
      g_cfg.max_frames = parse_u64("--max-frames", optarg, 1, UINT64_MAX);
      break;
    case OPT_BURST:
      g_cfg.burst = true;
      break;
    case OPT_INTERVAL:
      g_cfg.interval_ms = parse_interval_ms(optarg);
      g_cfg.interval_ns = (uint64_t)llround(g_cfg.interval_ms * 1e6);
      break;
    case OPT_RECONNECT_AFTER:
      g_cfg.reconnect_after = parse_u64("--reconnect-after", optarg, 1, UINT64_MAX);
      break;
    case 'h':
      usage(stdout);
      exit(0);
    case ':':
      die_usage("option '%s' needs a value", argv[optind - 1]);
      break;
    default:
      die_usage("unknown option '%s'", argv[optind - 1]);
      break;
    }
  }
  if (optind < argc) die_usage("unexpected argument '%s'", argv[optind]);
  if (!have_port) die_usage("--port is required");
  /* More threads than connections would leave threads with nothing to do. */
  if (g_cfg.threads > g_cfg.conns) g_cfg.threads = g_cfg.conns;
  if ((uint64_t)g_cfg.conns * g_cfg.depth > 64ull * 1024 * 1024)
    die_usage("--conns x --depth must not exceed %llu frames in flight", 64ull * 1024 * 1024);
  /* A paced connection has one frame in flight by definition; silently ignoring a deeper pipeline
   * or a burst would make the run measure something other than what was asked for. */
  if (g_cfg.interval_ns != 0 && (g_cfg.depth != 1 || g_cfg.burst))
    die_usage("--interval-ms sends one frame at a time, so it cannot be combined with "
              "--depth above 1 or --burst");
}

/* ---- Address resolution ------------------------------------------------------------------- */

static void format_addr(const struct sockaddr *sa, socklen_t len) {
  char host[INET6_ADDRSTRLEN + 8];
  if (getnameinfo(sa, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
    snprintf(host, sizeof host, "?");
  if (sa->sa_family == AF_INET6)
    snprintf(g_addr_str, sizeof g_addr_str, "[%s]:%u", host, g_cfg.port);
  else
    snprintf(g_addr_str, sizeof g_addr_str, "%s:%u", host, g_cfg.port);
}

/* Tries a blocking-with-timeout connect; used only to choose between several addresses of one
 * name (for example ::1 and 127.0.0.1 for "localhost") so that a server listening on only one
 * family still works. The probe connection is closed immediately without sending anything. */
static bool probe_addr(const struct addrinfo *ai) {
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  bool ok = false;
  if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
    ok = true;
  } else if (errno == EINPROGRESS) {
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int timeout = (int)(g_cfg.connect_timeout_ms > INT_MAX ? INT_MAX : g_cfg.connect_timeout_ms);
    if (poll(&pfd, 1, timeout) == 1) {
      int err = 0;
      socklen_t len = sizeof err;
      ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
  }
  close(fd);
  return ok;
}

static void resolve(void) {
  char host[256];
  const char *h = g_cfg.host;
  size_t hl = strlen(h);
  /* Accept the bracketed form "[::1]" too, since that is how IPv6 literals appear in URLs. */
  if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
    if (hl - 2 >= sizeof host) die_usage("--host: too long");
    memcpy(host, h + 1, hl - 2);
    host[hl - 2] = '\0';
  } else {
    if (hl >= sizeof host) die_usage("--host: too long");
    memcpy(host, h, hl + 1);
  }
  char port[8];
  snprintf(port, sizeof port, "%u", g_cfg.port);
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  /* Literals are parsed without touching the resolver, which keeps static builds working. */
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(host, port, &hints, &res);
  }
  if (rc != 0 || !res) {
    fprintf(stderr, "ew_loadgen: cannot resolve host '%s': %s\n", g_cfg.host, gai_strerror(rc));
    exit(1);
  }
  const struct addrinfo *pick = res;
  if (res->ai_next) {
    for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
      if (probe_addr(ai)) {
        pick = ai;
        break;
      }
    }
  }
  memcpy(&g_addr, pick->ai_addr, pick->ai_addrlen);
  g_addrlen = (socklen_t)pick->ai_addrlen;
  format_addr(pick->ai_addr, g_addrlen);
  freeaddrinfo(res);
}

/* Churn mode: decides whether sockets rotate over source addresses (see SRC_ADDRS). A host whose
 * loopback interface only answers to 127.0.0.1 would fail every bind, so one trial bind decides;
 * with IP_BIND_ADDRESS_NO_PORT it reserves no port. */
static bool src_rotation_usable(void) {
  if (g_addr.ss_family != AF_INET) return false;
  const struct sockaddr_in *target = (const struct sockaddr_in *)&g_addr;
  if ((ntohl(target->sin_addr.s_addr) >> 24) != 127u) return false;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  struct sockaddr_in src;
  memset(&src, 0, sizeof src);
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(SRC_FIRST);
  bool ok = setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) == 0 &&
            bind(fd, (const struct sockaddr *)&src, sizeof src) == 0;
  close(fd);
  if (!ok)
    fprintf(stderr, "ew_loadgen: note: cannot bind to 127.0.0.2, so reconnects all come from one "
                    "source address and may run out of ports\n");
  return ok;
}

/* ---- Main --------------------------------------------------------------------------------- */

static void format_size(char *buf, size_t len) {
  if (g_cfg.size_random)
    snprintf(buf, len, "random:%" PRIu32 ":%" PRIu32, g_cfg.size_min, g_cfg.size_max);
  else
    snprintf(buf, len, "%" PRIu32, g_cfg.size_min);
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  resolve();
  pattern_init();
  g_rotate_src = g_cfg.reconnect_after != 0 && src_rotation_usable();

  /* A peer that closes early must surface as an EPIPE error to count, not kill the process. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  uint32_t nt = g_cfg.threads;
  worker_t *ws = calloc(nt, sizeof *ws);
  if (!ws) die_oom();
  if (pthread_barrier_init(&g_barrier, NULL, nt + 1) != 0 ||
      pthread_barrier_init(&g_done_barrier, NULL, nt) != 0) {
    fprintf(stderr, "ew_loadgen: pthread_barrier_init failed\n");
    return 1;
  }
  uint32_t started = 0;
  for (uint32_t t = 0; t < nt; t++) {
    worker_t *w = &ws[t];
    w->id = t;
    w->ep = -1;
    w->tfd = -1;
    /* Threads start at different source addresses so that they do not compete for the same one. */
    w->src_next = (uint32_t)((uint64_t)t * SRC_ADDRS / nt);
    w->first_idx = (uint32_t)((uint64_t)g_cfg.conns * t / nt);
    w->nconns = (uint32_t)((uint64_t)g_cfg.conns * (t + 1) / nt) - w->first_idx;
    w->cpu = g_cfg.ncpus ? g_cfg.cpus[t % g_cfg.ncpus] : -1;
    hist_init(&w->hist);
    int err = pthread_create(&w->thread, NULL, worker_main, w);
    if (err != 0) {
      fprintf(stderr, "ew_loadgen: pthread_create: %s\n", strerror(err));
      /* The barrier counts on every thread; without them the process cannot continue safely. */
      exit(1);
    }
    started++;
  }

  pthread_barrier_wait(&g_barrier);
  g_go = !atomic_load(&g_abort) && !atomic_load(&g_stop);
  g_t_start_ns = now_ns();
  g_warmup_end_ns = g_t_start_ns + (uint64_t)(g_cfg.warmup * 1e9);
  g_measure_end_ns = g_warmup_end_ns + (uint64_t)(g_cfg.seconds * 1e9);
  pthread_barrier_wait(&g_barrier);

  uint64_t join_deadline = g_measure_end_ns + JOIN_GRACE_NS;
  for (uint32_t t = 0; t < started; t++) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t now = now_ns();
    uint64_t wait = join_deadline > now ? join_deadline - now : 0;
    ts.tv_sec += (time_t)(wait / 1000000000ull);
    ts.tv_nsec += (long)(wait % 1000000000ull);
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    int err = pthread_timedjoin_np(ws[t].thread, NULL, &ts);
    if (err != 0) {
      fprintf(stderr, "ew_loadgen: generator thread %" PRIu32 " did not stop in time (%s)\n", t,
              strerror(err));
      _exit(1);
    }
  }
  pthread_barrier_destroy(&g_barrier);
  pthread_barrier_destroy(&g_done_barrier);

  if (!g_go) {
    if (atomic_load(&g_stop) && !atomic_load(&g_abort))
      fprintf(stderr, "ew_loadgen: interrupted during connection setup\n");
    free(ws);
    free(g_cfg.cpus);
    free(g_pattern);
    return 1;
  }

  stats_t st;
  memset(&st, 0, sizeof st);
  hist_t *hist = malloc(sizeof *hist);
  if (!hist) die_oom();
  hist_init(hist);
  uint64_t t_stop = g_warmup_end_ns;
  for (uint32_t t = 0; t < nt; t++) {
    const worker_t *w = &ws[t];
    st.msgs += w->st.msgs;
    st.bytes += w->st.bytes;
    st.verified += w->st.verified;
    st.mismatches += w->st.mismatches;
    st.closed += w->st.closed;
    st.io_errors += w->st.io_errors;
    st.stalls += w->st.stalls;
    st.connects += w->st.connects;
    hist_merge(hist, &w->hist);
    if (w->t_stop_ns > t_stop) t_stop = w->t_stop_ns;
  }
  /* The rates use the window that actually elapsed: it equals --seconds unless every connection
   * finished early (--max-frames) or the run was interrupted. */
  double secs = (double)(t_stop - g_warmup_end_ns) / 1e9;
  double msgs_per_s = secs > 0 ? (double)st.msgs / secs : 0.0;
  double mb_per_s = secs > 0 ? (double)st.bytes / 1e6 / secs : 0.0;
  double connects_per_s = secs > 0 ? (double)st.connects / secs : 0.0;
  uint64_t errors = st.mismatches + st.closed + st.io_errors + st.stalls;
  double p50 = hist_percentile_us(hist, 50.0);
  double p99 = hist_percentile_us(hist, 99.0);
  double p999 = hist_percentile_us(hist, 99.9);
  double pmax = hist->total ? (double)hist->max_ns / 1000.0 : 0.0;
  char size[64];
  format_size(size, sizeof size);

  if (g_cfg.json) {
    printf("{\"conns\":%" PRIu32 ",\"depth\":%" PRIu32 ",", g_cfg.conns, g_cfg.depth);
    if (g_cfg.size_random)
      printf("\"size\":\"%s\",", size);
    else
      printf("\"size\":%s,", size);
    printf("\"seconds\":%.3f,\"msgs\":%" PRIu64 ",\"msgs_per_s\":%.1f,\"mb_per_s\":%.3f,"
           "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
           "\"errors\":%" PRIu64 ",\"mismatches\":%" PRIu64 ",\"closed\":%" PRIu64,
           secs, st.msgs, msgs_per_s, mb_per_s, p50, p99, p999, pmax, errors, st.mismatches,
           st.closed);
    /* The mode fields come last and only when the mode is on, so the output of a plain run is
     * byte-for-byte what it always was. */
    if (g_cfg.interval_ns != 0) printf(",\"interval_ms\":%.9g", g_cfg.interval_ms);
    if (g_cfg.reconnect_after != 0)
      printf(",\"reconnect_after\":%" PRIu64 ",\"connects\":%" PRIu64 ",\"connects_per_s\":%.1f",
             g_cfg.reconnect_after, st.connects, connects_per_s);
    printf("}\n");
  } else {
    char modes[96] = "";
    if (g_cfg.interval_ns != 0)
      snprintf(modes, sizeof modes, ", interval %.9g ms", g_cfg.interval_ms);
    if (g_cfg.reconnect_after != 0)
      snprintf(modes + strlen(modes), sizeof modes - strlen(modes),
               ", reconnect after %" PRIu64 " frames", g_cfg.reconnect_after);
    printf("ew_loadgen %s: conns %" PRIu32 ", depth %" PRIu32 ", size %s, threads %" PRIu32
           "%s%s\n",
           g_addr_str, g_cfg.conns, g_cfg.depth, size, nt, g_cfg.burst ? ", burst" : "", modes);
    printf("  seconds    %.3f measured (after %.3f warmup)\n", secs, g_cfg.warmup);
    printf("  msgs       %" PRIu64 " (%.1f msgs/s); %" PRIu64 " verified in total\n", st.msgs,
           msgs_per_s, st.verified);
    printf("  throughput %.3f MB/s of echoed body bytes\n", mb_per_s);
    printf("  latency    p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n", p50, p99, p999,
           pmax);
    if (g_cfg.reconnect_after != 0)
      printf("  connects   %" PRIu64 " (%.1f connects/s) completed in the measured window\n",
             st.connects, connects_per_s);
    printf("  errors     %" PRIu64 " (mismatches %" PRIu64 ", closed %" PRIu64 ", io %" PRIu64
           ", stalled %" PRIu64 ")\n",
           errors, st.mismatches, st.closed, st.io_errors, st.stalls);
  }
  fflush(stdout);
  bool interrupted = atomic_load(&g_stop) != 0;
  if (interrupted)
    fprintf(stderr, "ew_loadgen: interrupted; the figures above cover a partial run\n");
  free(hist);
  free(ws);
  free(g_cfg.cpus);
  free(g_pattern);
  /* An interrupted run is reported but not valid, so it fails like a run with errors. */
  return errors || interrupted ? 1 : 0;
}
