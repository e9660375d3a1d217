// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* Startup experiment (docs/experiments.md): the time ew_runtime_start() takes to return with
 * every IO thread running its loop, for 1, 2, 4 and 8 IO threads, starting the threads in
 * parallel (the default: all build their event_base at once and start() waits for all) or
 * serially (each waited for before the next is created). Prints one JSON line per
 * configuration: median, p90 and max in microseconds over --runs starts.
 *   ew_startup [--runs N] [--threads 1,2,4,8] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ew.h"
#include "ew/experiment.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"runs", required_argument, 0, 'r'},
                                       {"threads", required_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  int runs = 200;
  int threads[16] = {1, 2, 4, 8};
  int nthreads = 4, c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'r':
      runs = atoi(optarg);
      break;
    case 't':
      nthreads = 0;
      for (char *tok = strtok(optarg, ","); tok && nthreads < 16; tok = strtok(NULL, ","))
        threads[nthreads++] = atoi(tok);
      break;
    default:
      fprintf(c == 'h' ? stdout : stderr, "usage: ew_startup [--runs N] [--threads 1,2,4,8]\n");
      return c == 'h' ? 0 : 2;
    }
  }
  if (runs < 1) runs = 1;
  double *t = malloc(sizeof *t * (size_t)runs);
  if (t == NULL) return 1;
  for (int i = 0; i < nthreads; i++) {
    for (int serial = 0; serial <= 1; serial++) {
      /* Alternate the two modes run by run would be fairer still, but a warm-up start per
       * configuration already removes the first-call costs (page faults, lazy binding). */
      ew_runtime_opts_t o;
      ew_runtime_opts_init(&o);
      o.io_threads = (uint32_t)threads[i];
      o.log_level = EW_LOG_LEVEL_ERROR;
      ew_experiment_opts_t x;
      ew_experiment_opts_init(&x);
      x.serial_start = serial;
      ew_runtime_t *rt;
      if (ew_runtime_start_experiment(&o, &x, &rt) != 0) return 1;
      ew_runtime_release(rt);
      for (int r = 0; r < runs; r++) {
        double t0 = now_us();
        int err = ew_runtime_start_experiment(&o, &x, &rt);
        double t1 = now_us();
        if (err != 0) {
          fprintf(stderr, "ew_startup: start: %s\n", ew_strerror(err));
          return 1;
        }
        t[r] = t1 - t0;
        ew_runtime_release(rt);
      }
      qsort(t, (size_t)runs, sizeof *t, cmp_double);
      printf("{\"io_threads\":%d,\"mode\":\"%s\",\"runs\":%d,\"median_us\":%.1f,\"p90_us\":%.1f,"
             "\"max_us\":%.1f}\n",
             threads[i], serial ? "serial" : "parallel", runs, t[runs / 2], t[(runs * 9) / 10],
             t[runs - 1]);
      fflush(stdout);
    }
  }
  free(t);
  return 0;
}
