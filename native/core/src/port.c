// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <sched.h>
#include <stdlib.h>

/* Ports: the consumer's side of the rings (ew/runtime.h). A JavaScript thread attaches to its
 * port, reads the in rings of every IO thread and its task rings, writes the out rings, and
 * sleeps through ew_port_prepare_sleep() when all of them are empty. */

/* ---- ports ---------------------------------------------------------------------------------- */

ew_port_t *ew_runtime_port(ew_runtime_t *rt, uint32_t index) {
  return index < rt->nports ? &rt->ports[index] : NULL;
}

int ew_port_attach(ew_port_t *p, ew_wake_cb wake, void *arg) {
  if (atomic_load(p->attached) || atomic_load(&p->resetting)) return EW_ESTATE;
  p->wake = wake;
  p->wake_arg = arg;
  /* The epoch moves before the port can be chosen: a task stamped with the old one, already
   * in a ring towards this port, is recognised by the new consumer as not its own. */
  atomic_fetch_add_explicit(p->epoch, 1, memory_order_acq_rel);
  atomic_store_explicit(p->attached, 1, memory_order_release);
  return 0;
}

void ew_port_detach(ew_port_t *p) {
  atomic_store(p->attached, 0);
  /* An IO thread that read `attached` before the store may still be inside wake(); waiting
   * for it is what makes "no callback after detach returns" true. The window is a few
   * instructions long. */
  while (atomic_load(&p->inflight) != 0)
    sched_yield();
}

void ew__port_wake(ew_port_t *p) {
  atomic_fetch_add(&p->inflight, 1);
  if (atomic_load(p->attached) && p->wake != NULL) p->wake(p->wake_arg);
  atomic_fetch_sub(&p->inflight, 1);
}

void ew__port_notify(ew_port_t *p) {
  /* Pairs with the fence in ew_port_prepare_sleep(): the consumer either sees the tail we
   * published before this call or we see its sleeping mark. */
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(p->sleeping, memory_order_relaxed) &&
      atomic_exchange_explicit(p->sleeping, 0, memory_order_acq_rel))
    ew__port_wake(p);
}

ew_ring_t *ew_port_in(ew_port_t *p, uint32_t io) {
  if (io >= p->rt->nio) return NULL;
  return (ew_ring_t *)(p->rt->shm + ew__in_ring_off(p->rt, io, p->index));
}

ew_ring_t *ew_port_out(ew_port_t *p, uint32_t io) {
  if (io >= p->rt->nio) return NULL;
  return (ew_ring_t *)(p->rt->shm + ew__out_ring_off(p->rt, io, p->index));
}

uint32_t ew_port_in_offset(ew_port_t *p, uint32_t io) {
  return ew__in_ring_off(p->rt, io, p->index);
}

uint32_t ew_port_out_offset(ew_port_t *p, uint32_t io) {
  return ew__out_ring_off(p->rt, io, p->index);
}

void ew_port_kick(ew_port_t *p, uint32_t io) {
  /* Once stopped there is nobody to wake, and the eventfd may already be closed. */
  if (io >= p->rt->nio || atomic_load(&p->rt->state) != EW__RT_RUNNING) return;
  ew__io_t *t = &p->rt->io[io];
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(t->sleeping, memory_order_relaxed)) ew__io_wake(t);
}

static uint32_t ring_tail(const uint8_t *ring) {
  return atomic_load_explicit((_Atomic uint32_t *)(ring + EW_RING_OFF_TAIL), memory_order_acquire);
}

int ew_port_pending(const ew_port_t *p, const uint32_t *heads) {
  const ew_runtime_t *rt = p->rt;
  for (uint32_t k = 0; k < rt->nio; k++)
    if (ring_tail(rt->shm + ew__in_ring_off(rt, k, p->index)) != heads[k]) return 1;
  for (uint32_t j = 0; rt->tasks_off != 0 && j < rt->nports; j++)
    if (ring_tail(rt->shm + ew__task_ring_off(rt, j, p->index)) != heads[rt->nio + j]) return 1;
  return 0;
}

int ew_port_prepare_sleep(ew_port_t *p, const uint32_t *heads) {
  atomic_store_explicit(p->sleeping, 1, memory_order_seq_cst);
  atomic_thread_fence(memory_order_seq_cst);
  if (!ew_port_pending(p, heads)) return 0;
  atomic_store_explicit(p->sleeping, 0, memory_order_relaxed);
  return 1;
}

/* ---- task rings ------------------------------------------------------------------------------ */

int ew_runtime_has_task_rings(const ew_runtime_t *rt) {
  return rt->tasks_off != 0;
}

ew_ring_t *ew_port_task_in(ew_port_t *p, uint32_t from) {
  if (p->rt->tasks_off == 0 || from >= p->rt->nports) return NULL;
  return (ew_ring_t *)(p->rt->shm + ew__task_ring_off(p->rt, from, p->index));
}

ew_ring_t *ew_port_task_out(ew_port_t *p, uint32_t to) {
  if (p->rt->tasks_off == 0 || to >= p->rt->nports) return NULL;
  return (ew_ring_t *)(p->rt->shm + ew__task_ring_off(p->rt, p->index, to));
}

uint32_t ew_port_task_in_offset(ew_port_t *p, uint32_t from) {
  if (p->rt->tasks_off == 0 || from >= p->rt->nports) return 0;
  return ew__task_ring_off(p->rt, from, p->index);
}

uint32_t ew_port_task_out_offset(ew_port_t *p, uint32_t to) {
  if (p->rt->tasks_off == 0 || to >= p->rt->nports) return 0;
  return ew__task_ring_off(p->rt, p->index, to);
}

void ew_port_signal(ew_port_t *p, uint32_t to) {
  if (to >= p->rt->nports) return;
  ew__port_notify(&p->rt->ports[to]);
}

void ew_port_wake(ew_port_t *p, uint32_t to) {
  if (to >= p->rt->nports) return;
  ew__port_wake(&p->rt->ports[to]);
}

uint32_t ew_port_connections(const ew_port_t *p) {
  return atomic_load_explicit(p->conns, memory_order_relaxed);
}

/* ---- resetting a port whose consumer is gone ------------------------------------------------ */

int ew_port_reset(ew_port_t *p, int reason, ew_stop_cb cb, void *arg) {
  ew_runtime_t *rt = p->rt;
  if (atomic_load(&rt->state) != EW__RT_RUNNING || atomic_load(p->attached)) return EW_ESTATE;
  int expected = 0;
  if (!atomic_compare_exchange_strong(&p->resetting, &expected, 1)) return EW_ESTATE;
  ew__cmd_port_t **cmds = calloc(rt->nio, sizeof *cmds);
  for (uint32_t k = 0; cmds != NULL && k < rt->nio; k++) {
    cmds[k] = calloc(1, sizeof **cmds);
    if (cmds[k] == NULL) {
      for (uint32_t i = 0; i < k; i++)
        free(cmds[i]);
      free(cmds);
      cmds = NULL;
    }
  }
  if (cmds == NULL) {
    atomic_store(&p->resetting, 0);
    return EW_ENOMEM;
  }
  p->reset_reason = reason;
  p->reset_cb = cb;
  p->reset_arg = arg;
  atomic_store(&p->reset_left, rt->nio);
  for (uint32_t k = 0; k < rt->nio; k++) {
    cmds[k]->base.kind = EW__CMD_PORT_RESET;
    cmds[k]->port = p->index;
    cmds[k]->reason = reason;
    ew__io_post(&rt->io[k], &cmds[k]->base);
  }
  free(cmds);
  return 0;
}

/* Runs on each IO thread. The in rings are the IO threads' to produce into; once every one of
 * them is done with the port, nothing produces into them, so the last one may move their read
 * positions (nobody consumes: the port is detached until the reset completes). */
void ew__port_reset_run(ew__io_t *io, uint32_t port, int reason) {
  ew_runtime_t *rt = io->rt;
  ew_port_t *p = &rt->ports[port];
  uint32_t closed = ew__conn_close_port(io, port, reason);
  ew__io_port_t *ip = &io->ports[port];
  ew__io_port_drop(ip);
  ew_ring_skip(&ip->cons);
  ew_ring_release(&ip->cons);
  if (closed != 0)
    EW_LOG_WARN(rt, "IO thread %u: port %u is gone; closed its %u connection(s): %s", io->index,
                port, closed, ew_err_name(reason));
  if (atomic_fetch_sub(&p->reset_left, 1) != 1) return;
  for (uint32_t k = 0; k < rt->nio; k++) {
    uint8_t *ring = rt->shm + ew__in_ring_off(rt, k, port);
    atomic_store_explicit((_Atomic uint32_t *)(ring + EW_RING_OFF_HEAD), ring_tail(ring),
                          memory_order_release);
  }
  ew_stop_cb cb = p->reset_cb;
  void *arg = p->reset_arg;
  atomic_store(&p->resetting, 0);
  if (cb != NULL) cb(arg);
}

void ew_port_awake(ew_port_t *p) {
  atomic_store_explicit(p->sleeping, 0, memory_order_relaxed);
}
