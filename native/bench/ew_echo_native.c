// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* The native-only echo server: the evwire core with a C consumer and no JavaScript, the
 * ceiling the JS path is measured against (bench/RESULTS.md). Same rings, same IO threads,
 * same wakeup protocol as the addon; only the consumer differs. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "echo_port.h"
#include "ew.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

/* One JSON line: an array with every IO thread's counters (EW_IO_STATS_MAP), read from the
 * segment's statistics pages as JavaScript reads them. */
static void print_io_stats(ew_runtime_t *rt) {
  ew_shm_layout_t l;
  ew_runtime_layout(rt, &l);
  const uint8_t *shm = ew_runtime_shm(rt, NULL);
  printf("stats [");
  for (uint32_t k = 0; k < ew_runtime_io_threads(rt); k++) {
    const uint8_t *st = shm + l.io_ctl + k * EW_SHM_IO_CTL_BYTES + EW_SHM_IO_STATS;
    int i = 0;
    printf("%s{", k ? "," : "");
#define XX(name, doc)                                                                              \
  do {                                                                                             \
    uint64_t v;                                                                                    \
    memcpy(&v, st + 8 * i, 8);                                                                     \
    printf("%s\"%s\":%llu", i ? "," : "", #name, (unsigned long long)v);                           \
    i++;                                                                                           \
  } while (0);
    EW_IO_STATS_MAP(XX)
#undef XX
    printf("}");
  }
  printf("]\n");
  fflush(stdout);
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t end_ms;
static int should_stop(void *arg) {
  (void)arg;
  return stop_requested || (end_ms != 0 && mono_ms() >= end_ms);
}

static void usage(FILE *f) {
  fprintf(f, "usage: ew_echo_native [--host H] [--port P] [--io-threads N] [--cpus LIST]\n"
             "                      [--reuse-port] [--least-conns] [--read-budget BYTES]\n"
             "                      [--ring-bytes BYTES] [--seconds S] [--raw] [--level]\n"
             "                      [--ports N] [--stats] [--backlog N] [--spin-us US]\n"
             "                      [--inline [--edge]]\n"
             "Echoes evwire frames until SIGINT/SIGTERM (or S seconds). Prints one line\n"
             "'listening <address> <port>' once ready. --ports runs N consumer threads\n"
             "(connections are bound to them round-robin); --stats prints one line\n"
             "'stats <json>' with every IO thread's counters before exiting. --spin-us lets\n"
             "the IO threads and the consumer threads spin up to US microseconds before\n"
             "sleeping, while a spin pays (ew_spin_t); not with --inline, which has neither. "
             "--inline runs the one IO loop and the consumer on\n"
             "the main thread, as ioThreads: 0 does for JavaScript: no thread hand-off; its\n"
             "connections are level-triggered, as there, unless --edge; --io-threads, --ports\n"
             "and --cpus do not apply to it.\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"host", required_argument, 0, 'h'},
                                       {"port", required_argument, 0, 'p'},
                                       {"io-threads", required_argument, 0, 't'},
                                       {"cpus", required_argument, 0, 'c'},
                                       {"reuse-port", no_argument, 0, 'r'},
                                       {"least-conns", no_argument, 0, 'l'},
                                       {"read-budget", required_argument, 0, 'b'},
                                       {"ring-bytes", required_argument, 0, 'R'},
                                       {"seconds", required_argument, 0, 's'},
                                       {"raw", no_argument, 0, 'w'},
                                       {"level", no_argument, 0, 'L'},
                                       {"ports", required_argument, 0, 'P'},
                                       {"stats", no_argument, 0, 'S'},
                                       {"backlog", required_argument, 0, 'B'},
                                       {"spin-us", required_argument, 0, 'U'},
                                       {"inline", no_argument, 0, 'I'},
                                       {"edge", no_argument, 0, 'E'},
                                       {"help", no_argument, 0, '?'},
                                       {0, 0, 0, 0}};
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.host = "127.0.0.1";
  int cpus[EW_MAX_IO_THREADS];
  double seconds = 0;
  int raw = 0, print_stats = 0, inline_io = 0, edge = 0, c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'h':
      lo.host = optarg;
      break;
    case 'p':
      lo.port = (uint16_t)atoi(optarg);
      break;
    case 't':
      o.io_threads = (uint32_t)atoi(optarg);
      break;
    case 'c': {
      o.affinity = EW_AFFINITY_LIST;
      o.ncpus = 0;
      for (char *tok = strtok(optarg, ","); tok && o.ncpus < EW_MAX_IO_THREADS;
           tok = strtok(NULL, ","))
        cpus[o.ncpus++] = atoi(tok);
      o.cpus = cpus;
      break;
    }
    case 'r':
      lo.reuse_port = 1;
      break;
    case 'l':
      lo.distribution = EW_DIST_LEAST_CONNS;
      break;
    case 'b':
      o.read_budget = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case 'R':
      o.in_ring_bytes = o.out_ring_bytes = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case 's':
      seconds = atof(optarg);
      break;
    case 'w':
      raw = 1;
      break;
    case 'L':
      o.level_triggered = 1;
      break;
    case 'P':
      o.ports = (uint32_t)atoi(optarg);
      break;
    case 'S':
      print_stats = 1;
      break;
    case 'B':
      lo.backlog = atoi(optarg);
      break;
    case 'U':
      o.spin_us = (uint32_t)strtoul(optarg, NULL, 10);
      break;
    case 'I':
      inline_io = 1;
      break;
    case 'E':
      edge = 1;
      break;
    default:
      usage(c == '?' ? stdout : stderr);
      return c == '?' ? 0 : 2;
    }
  }
  if (raw) lo.framing = EW_FRAMING_RAW;
  if (inline_io) {
    o.inline_io = 1;
    o.io_threads = 1;
    o.ports = 1;
    /* Level-triggered unless --edge, as inline JavaScript runtimes default to: a short read
     * ends the read without the syscall that finds EAGAIN. */
    if (!edge) o.level_triggered = 1;
  }
  ew_runtime_t *rt;
  int err = ew_runtime_start(&o, &rt);
  if (err != 0) {
    fprintf(stderr, "ew_echo_native: start: %s (%s)\n", ew_strerror(err), ew_err_name(err));
    return 1;
  }
  static ew_echo_port_t eps[EW_MAX_PORTS];
  uint32_t nports = ew_runtime_ports(rt);
  for (uint32_t j = 0; j < nports; j++) {
    eps[j].raw = raw;
    eps[j].end_on_peer_end = 1;
    eps[j].spin_us = o.spin_us;
    eps[j].inline_owner = inline_io;
    if ((err = inline_io ? ew_echo_port_attach(&eps[j], rt, j)
                         : ew_echo_port_start(&eps[j], rt, j)) != 0) {
      fprintf(stderr, "ew_echo_native: port %u: %s\n", j, ew_strerror(err));
      for (uint32_t i = 0; i < j; i++)
        inline_io ? ew_echo_port_detach(&eps[i]) : ew_echo_port_stop(&eps[i]);
      ew_runtime_release(rt);
      return 1;
    }
  }
  ew_listen_info_t info;
  if ((err = ew_listen(rt, &lo, &info)) != 0) {
    fprintf(stderr, "ew_echo_native: listen %s:%u: %s (%s)\n", lo.host, lo.port, ew_strerror(err),
            ew_err_name(err));
    for (uint32_t j = 0; j < nports; j++)
      inline_io ? ew_echo_port_detach(&eps[j]) : ew_echo_port_stop(&eps[j]);
    ew_runtime_release(rt);
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  printf("listening %s %u\n", info.address, info.port);
  fflush(stdout);
  if (inline_io) {
    end_ms = seconds > 0 ? mono_ms() + (uint64_t)(seconds * 1000) : 0;
    ew_echo_port_run_inline(&eps[0], should_stop, NULL);
  } else
    for (double waited = 0; !stop_requested && (seconds <= 0 || waited < seconds); waited += 0.05)
      usleep(50000);
  uint64_t opened = 0, frames = 0, wakeups = 0, spins = 0, hits = 0;
  for (uint32_t j = 0; j < nports; j++) {
    if (inline_io)
      ew_echo_port_detach(&eps[j]);
    else
      ew_echo_port_stop(&eps[j]);
    opened += atomic_load(&eps[j].opened);
    frames += atomic_load(&eps[j].frames);
    wakeups += atomic_load(&eps[j].wakeups);
    spins += atomic_load(&eps[j].spins);
    hits += atomic_load(&eps[j].spin_hits);
  }
  if (print_stats) print_io_stats(rt);
  fprintf(stderr,
          "ew_echo_native: %llu connections, %llu frames echoed; consumers: %llu wakeups, "
          "%llu spins, %llu found work\n",
          (unsigned long long)opened, (unsigned long long)frames, (unsigned long long)wakeups,
          (unsigned long long)spins, (unsigned long long)hits);
  ew_runtime_release(rt);
  return 0;
}
