// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include "ew/experiment.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert(EW_SHM_IO_STATS + EW_STAT__COUNT * 8u <= EW_SHM_IO_CTL_BYTES,
               "the IO statistics fit their page");

/* Each default names the experiment in docs/experiments.md that chose it (bench/experiments/). */
void ew_runtime_opts_init(ew_runtime_opts_t *o) {
  memset(o, 0, sizeof *o);
  /* One IO thread: "IO-thread scaling" shows extra IO threads only pay with CPUs to run them,
   * so the right count is the deployment's, and one is the safe start. */
  o->io_threads = 1;
  o->ports = 1;
  o->affinity = EW_AFFINITY_OFF;
  /* 4 MiB each way: the "rings vs threadsafe functions" and "starvation" runs fit their bursts
   * (100 connections x 256 frames, 64 frames of 64 KiB) without a full-ring pause, and pages
   * are only touched as the rings fill. */
  o->in_ring_bytes = 4u << 20;
  o->out_ring_bytes = 4u << 20;
  o->task_ring_bytes = 0;
  o->max_conns_per_thread = 1u << 16;
  /* 64 KiB: "starvation" -- close to 16 KiB's latency for a quiet connection beside a flood,
   * with more of the flood's throughput; no budget lets the flood starve it for tens of ms. */
  o->read_budget = 64u << 10;
  /* Edge-triggered: the design's choice; "edge- vs level-triggered" compares them and explains
   * why level-triggered is offered beside it. */
  o->level_triggered = 0;
  /* No spin: "Spinning before sleep" in docs/design-notes.md measured where it pays. */
  o->spin_us = 0;
  o->log_level = EW_LOG_LEVEL_INFO;
}

static int is_pow2(uint64_t v) {
  return v && !(v & (v - 1));
}

static uint64_t align_up(uint64_t v, uint64_t a) {
  return (v + a - 1) & ~(a - 1);
}

static int validate(const ew_runtime_opts_t *o) {
  if (o->io_threads < 1 || o->io_threads > EW_MAX_IO_THREADS) return EW_EINVAL;
  if (o->inline_io && o->io_threads != 1) return EW_EINVAL;
  if (o->spin_us > EW_MAX_SPIN_US) return EW_EINVAL;
  if (o->ports < 1 || o->ports > EW_MAX_PORTS) return EW_EINVAL;
  if (!is_pow2(o->in_ring_bytes) || o->in_ring_bytes < EW_RING_MIN_CAP ||
      o->in_ring_bytes > EW_RING_MAX_CAP)
    return EW_EINVAL;
  if (!is_pow2(o->out_ring_bytes) || o->out_ring_bytes < EW_RING_MIN_CAP ||
      o->out_ring_bytes > EW_RING_MAX_CAP)
    return EW_EINVAL;
  if (o->task_ring_bytes != 0 &&
      (!is_pow2(o->task_ring_bytes) || o->task_ring_bytes < EW_RING_MIN_CAP ||
       o->task_ring_bytes > EW_RING_MAX_CAP))
    return EW_EINVAL;
  if (o->max_conns_per_thread < 1 || o->max_conns_per_thread > EW_MAX_CONNS_PER_THREAD)
    return EW_EINVAL;
  if (o->affinity != EW_AFFINITY_OFF && o->affinity != EW_AFFINITY_AUTO &&
      o->affinity != EW_AFFINITY_LIST)
    return EW_EINVAL;
  if (o->affinity == EW_AFFINITY_LIST) {
    if (o->cpus == NULL || o->ncpus == 0 || o->ncpus > EW_MAX_IO_THREADS) return EW_EINVAL;
    for (uint32_t i = 0; i < o->ncpus; i++)
      if (o->cpus[i] < 0 || o->cpus[i] >= CPU_SETSIZE) return EW_EINVAL;
  }
  return 0;
}

/* Chooses the CPU of each IO thread. 'auto' takes one core per thread from the set the process
 * is allowed to run on, so that it composes with taskset and cgroup cpusets instead of failing
 * on a CPU outside them. */
static int plan_affinity(ew_runtime_t *rt) {
  for (uint32_t k = 0; k < rt->nio; k++)
    rt->cpus[k] = -1;
  if (rt->o.affinity == EW_AFFINITY_LIST) {
    for (uint32_t k = 0; k < rt->nio; k++)
      rt->cpus[k] = rt->o.cpus[k % rt->o.ncpus];
  } else if (rt->o.affinity == EW_AFFINITY_AUTO) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return ew_translate_sys_error(errno);
    int allowed[CPU_SETSIZE];
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE; c++)
      if (CPU_ISSET(c, &set)) allowed[n++] = c;
    if (n == 0) return EW_EINVAL;
    for (uint32_t k = 0; k < rt->nio; k++)
      rt->cpus[k] = allowed[k % (uint32_t)n];
  }
  rt->o.cpus = NULL; /* the caller's array may not outlive this call; rt->cpus is the copy */
  return 0;
}

/* The rings are the runtime's fixed memory: under load every page of them is used. Faulting
 * them in at start makes the process's RSS flat from the first message on (a storm then shows
 * real growth, not rings being touched for the first time) and keeps page faults off the path
 * of the first messages. MADV_POPULATE_WRITE (Linux 5.14) does it in one call; older kernels
 * get a write per page. */
static void populate_rings(ew_runtime_t *rt) {
  uint8_t *start = rt->shm + rt->rings_off;
  size_t len = rt->shm_bytes - rt->rings_off;
#ifdef MADV_POPULATE_WRITE
  if (madvise(start, len, MADV_POPULATE_WRITE) == 0) return;
#endif
  long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) page = 4096;
  for (size_t off = 0; off < len; off += (size_t)page)
    ((volatile uint8_t *)start)[off] = 0;
}

static int map_segment(ew_runtime_t *rt) {
  const ew_runtime_opts_t *o = &rt->o;
  uint64_t off = EW_SEG_HEADER_BYTES;
  rt->layout.io_ctl = (uint32_t)off;
  off += (uint64_t)rt->nio * EW_SHM_IO_CTL_BYTES;
  rt->layout.port_ctl = (uint32_t)off;
  off += (uint64_t)rt->nports * EW_SHM_PORT_CTL_BYTES;
  off = align_up(off, 4096);
  uint64_t stride = align_up((uint64_t)o->max_conns_per_thread * EW_SHM_SLOT_BYTES, 4096);
  rt->layout.slots = (uint32_t)off;
  rt->layout.slots_stride = (uint32_t)stride;
  rt->layout.max_conns_per_thread = o->max_conns_per_thread;
  off += (uint64_t)rt->nio * stride;
  off = align_up(off, 4096);
  uint64_t pair =
      align_up(2u * EW_RING_HEADER_BYTES + (uint64_t)o->in_ring_bytes + o->out_ring_bytes, 4096);
  uint64_t total = off + (uint64_t)rt->nio * rt->nports * pair;
  uint64_t tstride = 0;
  if (o->task_ring_bytes != 0) {
    tstride = align_up(EW_RING_HEADER_BYTES + (uint64_t)o->task_ring_bytes, 4096);
    rt->tasks_off = (uint32_t)total;
    total += (uint64_t)rt->nports * rt->nports * tstride;
  }
  /* JavaScript maps the segment as one ArrayBuffer and indexes it with 32-bit offsets. */
  if (total > (1ull << 31)) return EW_EINVAL;
  rt->rings_off = (uint32_t)off;
  rt->ring_pair_bytes = (uint32_t)pair;
  rt->task_ring_stride = (uint32_t)tstride;
  rt->shm_bytes = (size_t)total;

  /* memfd: anonymous and sized exactly. The rings' pages are faulted in now (below); the slot
   * tables are touched only as connection slots come into use. */
  int fd = memfd_create("evwire", MFD_CLOEXEC);
  if (fd < 0) return ew_translate_sys_error(errno);
  if (ftruncate(fd, (off_t)total) != 0) {
    int err = ew_translate_sys_error(errno);
    close(fd);
    return err;
  }
  void *mem = mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  int map_errno = errno;
  close(fd); /* the mapping keeps the memory alive */
  if (mem == MAP_FAILED) return ew_translate_sys_error(map_errno);
  rt->shm = mem;
  populate_rings(rt);

  uint8_t *h = rt->shm;
  uint64_t magic = EW_SEG_MAGIC;
  memcpy(h, &magic, 8);
  uint32_t words[] = {EW_SEG_VERSION,    rt->nio,
                      rt->nports,        o->in_ring_bytes,
                      o->out_ring_bytes, o->max_conns_per_thread,
                      rt->layout.io_ctl, rt->layout.port_ctl,
                      rt->layout.slots,  rt->layout.slots_stride,
                      rt->rings_off,     rt->ring_pair_bytes,
                      (uint32_t)total,   (uint32_t)getpid()};
  memcpy(h + 8, words, sizeof words);

  for (uint32_t k = 0; k < rt->nio; k++) {
    for (uint32_t j = 0; j < rt->nports; j++) {
      int err = ew_ring_init(h + ew__in_ring_off(rt, k, j),
                             EW_RING_HEADER_BYTES + (size_t)o->in_ring_bytes);
      if (err == 0)
        err = ew_ring_init(h + ew__out_ring_off(rt, k, j),
                           EW_RING_HEADER_BYTES + (size_t)o->out_ring_bytes);
      if (err != 0) return err;
    }
  }
  for (uint32_t i = 0; o->task_ring_bytes != 0 && i < rt->nports; i++)
    for (uint32_t j = 0; j < rt->nports; j++) {
      int err = ew_ring_init(h + ew__task_ring_off(rt, i, j),
                             EW_RING_HEADER_BYTES + (size_t)o->task_ring_bytes);
      if (err != 0) return err;
    }
  return 0;
}

static void free_io(ew__io_t *io) {
  free(io->ports);
  free(io->conns);
  free(io->free_slots);
  ew__inbox_close(&io->inbox);
}

static void free_runtime(ew_runtime_t *rt) {
  for (uint32_t i = 0; i < rt->nservers; i++)
    if (rt->servers[i] != NULL) ew__server_unref(rt->servers[i]);
  free(rt->servers);
  for (uint32_t i = 0; i < rt->nlinks; i++)
    ew__link_unref(rt->links[i]);
  free(rt->links);
  if (rt->io != NULL)
    for (uint32_t k = 0; k < rt->nio; k++)
      free_io(&rt->io[k]);
  free(rt->io);
  free(rt->ports);
  if (rt->shm != NULL) munmap(rt->shm, rt->shm_bytes);
  pthread_mutex_destroy(&rt->lock);
  pthread_cond_destroy(&rt->cond);
  free(rt);
}

static int init_io(ew_runtime_t *rt, uint32_t k) {
  ew__io_t *io = &rt->io[k];
  io->rt = rt;
  io->index = k;
  io->cpu = rt->cpus[k];
  io->reserve_fd = -1;
  io->inbox.efd = -1;
  io->inline_fd = -1;
  io->inline_io = rt->o.inline_io != 0;
  io->ctl = rt->shm + rt->layout.io_ctl + (size_t)k * EW_SHM_IO_CTL_BYTES;
  io->sleeping = (_Atomic uint32_t *)(io->ctl + EW_SHM_IO_SLEEPING);
  io->stats = (uint64_t *)(io->ctl + EW_SHM_IO_STATS);
  io->slots = (uint32_t *)(rt->shm + rt->layout.slots + (size_t)k * rt->layout.slots_stride);
  TAILQ_INIT(&io->ready);
  TAILQ_INIT(&io->throttled);
  TAILQ_INIT(&io->listeners);
  TAILQ_INIT(&io->ready_listeners);
  TAILQ_INIT(&io->dials);
  io->ports = calloc(rt->nports, sizeof *io->ports);
  if (io->ports == NULL) return EW_ENOMEM;
  for (uint32_t j = 0; j < rt->nports; j++) {
    ew__io_port_t *ip = &io->ports[j];
    ip->port = &rt->ports[j];
    ew_ring_producer_init(&ip->prod, (ew_ring_t *)(rt->shm + ew__in_ring_off(rt, k, j)));
    ew_ring_consumer_init(&ip->cons, (ew_ring_t *)(rt->shm + ew__out_ring_off(rt, k, j)));
    TAILQ_INIT(&ip->blocked);
  }
  return ew__inbox_init(&io->inbox);
}

static ew__cmd_t *new_stop_cmd(void) {
  ew__cmd_t *cmd = calloc(1, sizeof *cmd);
  if (cmd != NULL) cmd->kind = EW__CMD_STOP;
  return cmd;
}

/* Waits until `count` threads have reported ready (successfully or not). */
static void wait_ready(ew_runtime_t *rt, uint32_t count) {
  pthread_mutex_lock(&rt->lock);
  while (rt->ready_count < count)
    pthread_cond_wait(&rt->cond, &rt->lock);
  pthread_mutex_unlock(&rt->lock);
}

static void stop_started_threads(ew_runtime_t *rt) {
  for (uint32_t k = 0; k < rt->nio; k++) {
    ew__io_t *io = &rt->io[k];
    if (!io->thread_started) continue;
    if (io->start_err == 0) {
      ew__cmd_t *cmd = new_stop_cmd();
      if (cmd == NULL) {
        /* Without memory for a command the thread is told through its flag; the wake makes
         * it look. */
        io->stopping = true;
        ew__io_wake(io);
      } else {
        ew__io_post(io, cmd);
      }
    }
    pthread_join(io->thread, NULL);
    io->thread_started = false;
  }
}

void ew_experiment_opts_init(ew_experiment_opts_t *x) {
  memset(x, 0, sizeof *x);
  /* Parallel start: "startup" -- serial start grows linearly with IO threads. */
  x->serial_start = 0;
}

int ew_runtime_start(const ew_runtime_opts_t *o, ew_runtime_t **out) {
  return ew_runtime_start_experiment(o, NULL, out);
}

int ew_runtime_start_experiment(const ew_runtime_opts_t *o, const ew_experiment_opts_t *x,
                                ew_runtime_t **out) {
  *out = NULL;
  int err = validate(o);
  if (err != 0) return err;
  ew__log_install_libevent_hooks();

  ew_runtime_t *rt = calloc(1, sizeof *rt);
  if (rt == NULL) return EW_ENOMEM;
  rt->o = *o;
  rt->nio = o->io_threads;
  rt->nports = o->ports;
  atomic_store(&rt->refs, 1);
  atomic_store(&rt->state, EW__RT_RUNNING);
  atomic_store(&rt->log_level, o->log_level);
  rt->next_server_id = 1;
  pthread_mutex_init(&rt->lock, NULL);
  pthread_cond_init(&rt->cond, NULL);

  if ((err = plan_affinity(rt)) != 0 || (err = map_segment(rt)) != 0) goto fail;
  rt->ports = calloc(rt->nports, sizeof *rt->ports);
  rt->io = calloc(rt->nio, sizeof *rt->io);
  if (rt->ports == NULL || rt->io == NULL) {
    err = EW_ENOMEM;
    goto fail;
  }
  for (uint32_t j = 0; j < rt->nports; j++) {
    ew_port_t *p = &rt->ports[j];
    p->rt = rt;
    p->index = j;
    uint8_t *line = rt->shm + rt->layout.port_ctl + (size_t)j * EW_SHM_PORT_CTL_BYTES;
    p->sleeping = (_Atomic uint32_t *)(line + EW_SHM_PORT_SLEEPING);
    p->epoch = (_Atomic uint32_t *)(line + EW_SHM_PORT_EPOCH);
    p->conns = (_Atomic uint32_t *)(line + EW_SHM_PORT_CONNS);
    p->attached = (_Atomic uint32_t *)(line + EW_SHM_PORT_ATTACHED);
  }
  for (uint32_t k = 0; k < rt->nio; k++) {
    rt->io[k].inbox.efd = -1;
    if ((err = init_io(rt, k)) != 0) goto fail;
  }

  if (rt->o.inline_io) {
    /* No thread: the loop is built here and run by this thread (ew_runtime_inline_run). */
    if ((err = ew__io_inline_setup(&rt->io[0])) != 0) goto fail;
    *out = rt;
    return 0;
  }
  /* Parallel start: every thread builds its event_base at the same time and start() waits for
   * all of them; serial start (an experiment) waits for each before creating the next. */
  for (uint32_t k = 0; k < rt->nio; k++) {
    ew__io_t *io = &rt->io[k];
    int perr = pthread_create(&io->thread, NULL, ew__io_main, io);
    if (perr != 0) {
      err = ew_translate_sys_error(perr);
      wait_ready(rt, k);
      stop_started_threads(rt);
      goto fail;
    }
    io->thread_started = true;
    if (x != NULL && x->serial_start) wait_ready(rt, k + 1);
  }
  wait_ready(rt, rt->nio);
  for (uint32_t k = 0; k < rt->nio; k++) {
    if (rt->io[k].start_err != 0) {
      err = rt->io[k].start_err;
      stop_started_threads(rt);
      goto fail;
    }
  }
  *out = rt;
  return 0;

fail:
  free_runtime(rt);
  return err;
}

int ew_runtime_stop(ew_runtime_t *rt, ew_stop_cb cb, void *arg) {
  int expected = EW__RT_RUNNING;
  if (!atomic_compare_exchange_strong(&rt->state, &expected, EW__RT_STOPPING)) return EW_ESTATE;
  /* Written before the commands are posted; the inbox push is a release, the thread's pop an
   * acquire, so the last thread to exit sees them. */
  rt->stop_cb = cb;
  rt->stop_arg = arg;
  for (uint32_t k = 0; k < rt->nio; k++) {
    ew__cmd_t *cmd = new_stop_cmd();
    if (cmd == NULL) {
      rt->io[k].stopping = true;
      ew__io_wake(&rt->io[k]);
    } else {
      ew__io_post(&rt->io[k], cmd);
    }
  }
  return 0;
}

void ew__runtime_thread_exited(ew_runtime_t *rt) {
  if (atomic_fetch_add(&rt->exited, 1) + 1 == rt->nio) {
    ew_stop_cb cb = rt->stop_cb;
    void *arg = rt->stop_arg;
    atomic_store(&rt->state, EW__RT_STOPPED);
    if (cb != NULL) cb(arg);
  }
}

/* Joins the IO threads and closes their inbox eventfds at once: the memory lives on while
 * JavaScript holds the segment, but no file descriptor should wait for a garbage collection. */
static void join_threads(ew_runtime_t *rt) {
  /* Inline: the loop closes here, on the owner's thread, if its owner did not run it to the
   * end (outside the lock: the stop callback may take it). */
  if (rt->nio == 1 && rt->io[0].inline_io) ew__io_inline_finish(&rt->io[0]);
  pthread_mutex_lock(&rt->lock);
  for (uint32_t k = 0; k < rt->nio; k++) {
    if (rt->io[k].thread_started) pthread_join(rt->io[k].thread, NULL);
    rt->io[k].thread_started = false;
    ew__inbox_close(&rt->io[k].inbox);
  }
  pthread_mutex_unlock(&rt->lock);
}

int ew_runtime_join(ew_runtime_t *rt) {
  if (atomic_load(&rt->state) == EW__RT_RUNNING) return EW_ESTATE;
  join_threads(rt);
  return 0;
}

void ew_runtime_retain(ew_runtime_t *rt) {
  atomic_fetch_add(&rt->refs, 1);
}

void ew_runtime_release(ew_runtime_t *rt) {
  if (atomic_fetch_sub(&rt->refs, 1) != 1) return;
  if (atomic_load(&rt->state) == EW__RT_RUNNING) ew_runtime_stop(rt, NULL, NULL);
  join_threads(rt);
  free_runtime(rt);
}

void ew_runtime_set_log_level(ew_runtime_t *rt, int level) {
  atomic_store_explicit(&rt->log_level, level, memory_order_relaxed);
}

void *ew_runtime_shm(ew_runtime_t *rt, size_t *bytes) {
  if (bytes != NULL) *bytes = rt->shm_bytes;
  return rt->shm;
}

uint32_t ew_runtime_io_threads(const ew_runtime_t *rt) {
  return rt->nio;
}

uint32_t ew_runtime_ports(const ew_runtime_t *rt) {
  return rt->nports;
}

int ew_runtime_thread_info(const ew_runtime_t *rt, uint32_t io, int *tid, int *cpu) {
  if (io >= rt->nio) return EW_EINVAL;
  if (tid != NULL) *tid = rt->io[io].tid;
  if (cpu != NULL) *cpu = rt->io[io].cpu;
  return 0;
}

void ew_runtime_layout(const ew_runtime_t *rt, ew_shm_layout_t *out) {
  *out = rt->layout;
}
