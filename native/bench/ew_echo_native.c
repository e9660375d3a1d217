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
#include <unistd.h>

#include "echo_port.h"
#include "ew.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: ew_echo_native [--host H] [--port P] [--io-threads N] [--cpus LIST]\n"
          "                      [--reuse-port] [--least-conns] [--read-budget BYTES]\n"
          "                      [--ring-bytes BYTES] [--seconds S] [--raw] [--level]\n"
          "Echoes evwire frames until SIGINT/SIGTERM (or S seconds). Prints one line\n"
          "'listening <address> <port>' once ready.\n");
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      {"host", required_argument, 0, 'h'},      {"port", required_argument, 0, 'p'},
      {"io-threads", required_argument, 0, 't'}, {"cpus", required_argument, 0, 'c'},
      {"reuse-port", no_argument, 0, 'r'},       {"least-conns", no_argument, 0, 'l'},
      {"read-budget", required_argument, 0, 'b'}, {"ring-bytes", required_argument, 0, 'R'},
      {"seconds", required_argument, 0, 's'},    {"raw", no_argument, 0, 'w'},
      {"level", no_argument, 0, 'L'},
      {"help", no_argument, 0, '?'},             {0, 0, 0, 0}};
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.host = "127.0.0.1";
  int cpus[EW_MAX_IO_THREADS];
  double seconds = 0;
  int raw = 0, c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'h': lo.host = optarg; break;
    case 'p': lo.port = (uint16_t)atoi(optarg); break;
    case 't': o.io_threads = (uint32_t)atoi(optarg); break;
    case 'c': {
      o.affinity = EW_AFFINITY_LIST;
      o.ncpus = 0;
      for (char *tok = strtok(optarg, ","); tok && o.ncpus < EW_MAX_IO_THREADS;
           tok = strtok(NULL, ","))
        cpus[o.ncpus++] = atoi(tok);
      o.cpus = cpus;
      break;
    }
    case 'r': lo.reuse_port = 1; break;
    case 'l': lo.distribution = EW_DIST_LEAST_CONNS; break;
    case 'b': o.read_budget = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 'R': o.in_ring_bytes = o.out_ring_bytes = (uint32_t)strtoul(optarg, NULL, 10); break;
    case 's': seconds = atof(optarg); break;
    case 'w': raw = 1; break;
    case 'L': o.level_triggered = 1; break;
    default: usage(c == '?' ? stdout : stderr); return c == '?' ? 0 : 2;
    }
  }
  if (raw) lo.framing = EW_FRAMING_RAW;
  ew_runtime_t *rt;
  int err = ew_runtime_start(&o, &rt);
  if (err != 0) {
    fprintf(stderr, "ew_echo_native: start: %s (%s)\n", ew_strerror(err), ew_err_name(err));
    return 1;
  }
  static ew_echo_port_t ep;
  ep.raw = raw;
  ep.end_on_peer_end = 1;
  if ((err = ew_echo_port_start(&ep, rt, 0)) != 0) {
    fprintf(stderr, "ew_echo_native: port: %s\n", ew_strerror(err));
    ew_runtime_release(rt);
    return 1;
  }
  ew_listen_info_t info;
  if ((err = ew_listen(rt, &lo, &info)) != 0) {
    fprintf(stderr, "ew_echo_native: listen %s:%u: %s (%s)\n", lo.host, lo.port,
            ew_strerror(err), ew_err_name(err));
    ew_echo_port_stop(&ep);
    ew_runtime_release(rt);
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  printf("listening %s %u\n", info.address, info.port);
  fflush(stdout);
  for (double waited = 0; !stop_requested && (seconds <= 0 || waited < seconds); waited += 0.05)
    usleep(50000);
  ew_echo_port_stop(&ep);
  fprintf(stderr, "ew_echo_native: %llu connections, %llu frames echoed\n",
          (unsigned long long)atomic_load(&ep.opened), (unsigned long long)atomic_load(&ep.frames));
  ew_runtime_release(rt);
  return 0;
}
