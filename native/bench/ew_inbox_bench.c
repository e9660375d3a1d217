// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
/* Inbox experiment (docs/experiments.md). The seed of the project worried that commands to an
 * IO thread sent through a pipe are lost when the pipe is full (write() fails with EAGAIN on a
 * non-blocking pipe). This program shows, on this machine:
 *   1. a pipe's default and maximum capacity;
 *   2. a burst of commands (pointer-sized, as a pipe-based inbox would carry) from P producer
 *      threads into a non-blocking pipe while one consumer drains it: how many writes fail with
 *      EAGAIN (each a command that must be dropped, retried or block the producer);
 *   3. the same burst through evwire's inbox (lock-free MPSC queue + eventfd, armed flag): every
 *      command delivered, in order per producer, and how many eventfd writes it took.
 * Prints one JSON line per part.   ew_inbox_bench [--producers P] [--commands N] */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inbox.h"

static int producers = 4;
static uint32_t per_producer = 250000;
static int pipefd[2];
static _Atomic uint64_t pipe_eagain;
static ew__inbox_t inbox;
static _Atomic uint64_t eventfd_writes;

typedef struct {
  ew__cmd_t base;
  uint32_t producer, n;
} cmd_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A pipe producer retries on EAGAIN (so nothing is lost here) and counts each refusal: in an
 * event loop that cannot spin, every one of them would be a dropped or a delayed command. */
static void *pipe_producer(void *arg) {
  uintptr_t id = (uintptr_t)arg;
  for (uint32_t i = 0; i < per_producer; i++) {
    uint64_t word = ((uint64_t)id << 32) | i;
    while (write(pipefd[1], &word, sizeof word) != (ssize_t)sizeof word) {
      if (errno != EAGAIN) abort();
      atomic_fetch_add_explicit(&pipe_eagain, 1, memory_order_relaxed);
      sched_yield();
    }
  }
  return NULL;
}

static void *inbox_producer(void *arg) {
  uintptr_t id = (uintptr_t)arg;
  for (uint32_t i = 0; i < per_producer; i++) {
    cmd_t *c = malloc(sizeof *c);
    if (c == NULL) abort();
    c->base.kind = 1;
    c->producer = (uint32_t)id;
    c->n = i;
    /* Count the wakeups the armed flag lets through, the way ew__inbox_push decides. */
    ew__inbox_push_quiet(&inbox, &c->base);
    if (atomic_exchange_explicit(&inbox.armed, 1, memory_order_acq_rel) == 0) {
      uint64_t one = 1;
      ssize_t r = write(inbox.efd, &one, sizeof one);
      (void)r;
      atomic_fetch_add_explicit(&eventfd_writes, 1, memory_order_relaxed);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {{"producers", required_argument, 0, 'p'},
                                       {"commands", required_argument, 0, 'n'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
  uint64_t total = 1000000;
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'p':
      producers = atoi(optarg);
      break;
    case 'n':
      total = strtoull(optarg, NULL, 10);
      break;
    default:
      fprintf(c == 'h' ? stdout : stderr, "usage: ew_inbox_bench [--producers P] [--commands N]\n");
      return c == 'h' ? 0 : 2;
    }
  }
  if (producers < 1 || producers > 64) producers = 4;
  per_producer = (uint32_t)(total / (uint64_t)producers);
  total = (uint64_t)per_producer * (uint64_t)producers;
  pthread_t th[64];

  /* 1. Capacities. */
  if (pipe2(pipefd, O_NONBLOCK | O_CLOEXEC) != 0) return 1;
  int def = fcntl(pipefd[0], F_GETPIPE_SZ);
  long max = 0;
  FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
  if (f != NULL) {
    if (fscanf(f, "%ld", &max) != 1) max = 0;
    fclose(f);
  }
  printf("{\"part\":\"pipe_capacity\",\"default_bytes\":%d,\"default_commands\":%d,"
         "\"max_bytes\":%ld,\"max_commands\":%ld}\n",
         def, def / 8, max, max / 8);

  /* 2. Pipe burst, default capacity. */
  uint32_t *next = calloc((size_t)producers, sizeof *next);
  double t0 = now_s();
  for (int i = 0; i < producers; i++)
    pthread_create(&th[i], NULL, pipe_producer, (void *)(uintptr_t)i);
  uint64_t got = 0, misordered = 0;
  while (got < total) {
    uint64_t buf[512];
    ssize_t r = read(pipefd[0], buf, sizeof buf);
    if (r < 0) {
      struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
      poll(&p, 1, 100);
      continue;
    }
    for (ssize_t k = 0; k < r / 8; k++) {
      uint32_t id = (uint32_t)(buf[k] >> 32), n = (uint32_t)buf[k];
      if (n != next[id]) misordered++;
      next[id] = n + 1;
      got++;
    }
  }
  for (int i = 0; i < producers; i++)
    pthread_join(th[i], NULL);
  double t1 = now_s();
  printf("{\"part\":\"pipe_burst\",\"producers\":%d,\"commands\":%llu,\"eagain\":%llu,"
         "\"misordered\":%llu,\"seconds\":%.3f}\n",
         producers, (unsigned long long)total, (unsigned long long)atomic_load(&pipe_eagain),
         (unsigned long long)misordered, t1 - t0);
  close(pipefd[0]);
  close(pipefd[1]);

  /* 3. The inbox. */
  if (ew__inbox_init(&inbox) != 0) return 1;
  memset(next, 0, sizeof *next * (size_t)producers);
  got = misordered = 0;
  uint64_t polls = 0;
  t0 = now_s();
  for (int i = 0; i < producers; i++)
    pthread_create(&th[i], NULL, inbox_producer, (void *)(uintptr_t)i);
  while (got < total) {
    struct pollfd p = {.fd = inbox.efd, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1) {
      fprintf(stderr, "ew_inbox_bench: no wakeup for 5 s with %llu of %llu delivered\n",
              (unsigned long long)got, (unsigned long long)total);
      return 1;
    }
    polls++;
    ew__inbox_rearm(&inbox);
    ew__cmd_t *cmd;
    while ((cmd = ew__inbox_pop(&inbox)) != NULL) {
      cmd_t *m = (cmd_t *)cmd;
      if (m->n != next[m->producer]) misordered++;
      next[m->producer] = m->n + 1;
      got++;
      free(m);
    }
  }
  for (int i = 0; i < producers; i++)
    pthread_join(th[i], NULL);
  t1 = now_s();
  printf("{\"part\":\"inbox_burst\",\"producers\":%d,\"commands\":%llu,\"delivered\":%llu,"
         "\"misordered\":%llu,\"eventfd_writes\":%llu,\"consumer_wakeups\":%llu,"
         "\"seconds\":%.3f}\n",
         producers, (unsigned long long)total, (unsigned long long)got,
         (unsigned long long)misordered, (unsigned long long)atomic_load(&eventfd_writes),
         (unsigned long long)polls, t1 - t0);
  ew__inbox_close(&inbox);
  free(next);
  return misordered == 0 && got == total ? 0 : 1;
}
