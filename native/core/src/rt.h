// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW__RT_H
#define EW__RT_H

/* The runtime (runtime.c) and its ports (port.c). */

#include "base.h"
#include "io.h"

/* ---- the runtime and its ports ------------------------------------------------------------ */

struct ew_port_s {
  ew_runtime_t *rt;
  uint32_t index;
  _Atomic int inflight; /* IO threads inside wake(); detach waits for zero */
  ew_wake_cb wake;
  void *wake_arg;
  _Atomic uint32_t *sleeping; /* shm: port control line */
  _Atomic uint32_t *epoch;    /* shm: attachments so far */
  _Atomic uint32_t *conns;    /* shm: connections bound now */
  _Atomic uint32_t *attached; /* shm: 1 while a consumer is attached (JavaScript reads it) */
  /* ew_port_reset(): IO threads still to finish, and who to tell. */
  _Atomic int resetting;
  _Atomic uint32_t reset_left;
  int reset_reason;
  ew_stop_cb reset_cb;
  void *reset_arg;
};

/* Each IO thread's part of ew_port_reset(); the last one to finish completes the reset. */
void ew__port_reset_run(ew__io_t *io, uint32_t port, int reason);

/* Wakes the consumer of `p` if it sleeps. IO threads only. */
void ew__port_notify(ew_port_t *p);
/* Calls the consumer's wake callback unconditionally (it waits for ring space). */
void ew__port_wake(ew_port_t *p);

enum { EW__RT_RUNNING = 1, EW__RT_STOPPING = 2, EW__RT_STOPPED = 3 };

struct ew_runtime_s {
  _Atomic int refs;
  _Atomic int state;
  _Atomic int log_level;
  ew_runtime_opts_t o;
  int cpus[EW_MAX_IO_THREADS];
  uint8_t *shm;
  size_t shm_bytes;
  ew_shm_layout_t layout;
  uint32_t rings_off;
  uint32_t ring_pair_bytes; /* in + out ring of one (io, port) pair */
  uint32_t tasks_off;       /* first task ring; 0 = none */
  uint32_t task_ring_stride;
  uint32_t nio;
  uint32_t nports;
  ew__io_t *io;
  ew_port_t *ports;
  pthread_mutex_t lock; /* start handshake, server table: never taken on the data path */
  pthread_cond_t cond;
  uint32_t ready_count;
  ew__server_t **servers;
  uint32_t nservers;
  ew__link_t **links; /* open links (ew_link_open), same lock */
  uint32_t nlinks;
  uint32_t next_server_id;
  _Atomic uint32_t exited;
  ew_stop_cb stop_cb;
  void *stop_arg;
};

/* Byte offsets of the rings of pair (io, port). */
static inline uint32_t ew__in_ring_off(const ew_runtime_t *rt, uint32_t io, uint32_t port) {
  return rt->rings_off + (io * rt->nports + port) * rt->ring_pair_bytes;
}
static inline uint32_t ew__out_ring_off(const ew_runtime_t *rt, uint32_t io, uint32_t port) {
  return ew__in_ring_off(rt, io, port) + EW_RING_HEADER_BYTES + rt->o.in_ring_bytes;
}

/* Byte offset of the task ring from port `from` to port `to`. */
static inline uint32_t ew__task_ring_off(const ew_runtime_t *rt, uint32_t from, uint32_t to) {
  return rt->tasks_off + (from * rt->nports + to) * rt->task_ring_stride;
}

/* Called by each IO thread as it leaves its loop; the last one runs the stop callback. */
void ew__runtime_thread_exited(ew_runtime_t *rt);

#endif /* EW__RT_H */
