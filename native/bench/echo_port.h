// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_ECHO_PORT_H
#define EW_ECHO_PORT_H

/* A port consumed by a C thread that echoes every frame back: the native-only server of the
 * benchmarks (the ceiling of the JavaScript path) and the peer of the C runtime tests. It uses
 * the same ring protocol as lib/internal/engine.ts: drain the in rings, write SEND records into the
 * out rings, publish, kick, and sleep on an eventfd only after ew_port_prepare_sleep(). */

#include <pthread.h>
#include <stdatomic.h>
#include "ew.h"

typedef struct ew_echo_partial_s ew_echo_partial_t;

typedef struct ew_echo_port_s {
  ew_runtime_t *rt;
  ew_port_t *port;
  uint32_t nio;
  int efd;
  pthread_t thread;
  _Atomic int stop;
  int raw;             /* echo raw chunks as they are instead of re-framing */
  int end_on_peer_end; /* answer the peer's FIN with ours (Node's allowHalfOpen: false) */
  int dgram_echo;      /* echo datagrams (DGRAM records) to their source; else only count them */
  int inline_owner;    /* the owner thread drives the inline IO loop too (ew_echo_port_attach):
                        * no kicks, and a full out ring runs a round of the loop */
  uint32_t spin_us;    /* spin before sleeping while it pays (ew_spin_t); 0 = never; set before
                        * start */
  ew_spin_t spin;
  ew_ring_consumer_t in[EW_MAX_IO_THREADS];
  ew_ring_producer_t out[EW_MAX_IO_THREADS];
  uint32_t heads[EW_MAX_IO_THREADS];
  ew_echo_partial_t *partials; /* frames arriving as fragments, per connection */
  /* Counters, written by the port thread, read by others after stop or as snapshots. */
  _Atomic uint64_t opened, closed, frames, ends, unlistens, wakeups, spins, spin_hits;
  _Atomic uint64_t dgrams, dgram_errors;
  _Atomic int64_t last_dgram_error; /* errno of the last error record (family 0) */
  _Atomic int64_t last_close_reason;
  _Atomic uint64_t last_open_id;
  /* Optional hook called on the port thread for every record before it is handled. */
  void (*on_record)(struct ew_echo_port_s *ep, const ew_rec_t *rec);
  void *user;
} ew_echo_port_t;

/* Attaches to port `index` of `rt` and starts the consumer thread. Returns 0 or an EW_* error. */
int ew_echo_port_start(ew_echo_port_t *ep, ew_runtime_t *rt, uint32_t index);
/* Stops and joins the thread and detaches the port. */
void ew_echo_port_stop(ew_echo_port_t *ep);

/* Without a thread: attaches to port `index` for an owner thread that calls
 * ew_echo_port_drain() itself, and (with `inline_owner`) drives the runtime's inline loop
 * between drains (ew_echo_native --inline). 0 or an EW_* error; ew_echo_port_detach() undoes
 * it. The eventfd `efd` becomes readable when the port is woken while it sleeps. */
int ew_echo_port_attach(ew_echo_port_t *ep, ew_runtime_t *rt, uint32_t index);
void ew_echo_port_detach(ew_echo_port_t *ep);
/* Echoes what the in rings hold (up to 4,096 records per ring), publishes the replies and
 * releases the records. 1 if there were any. Owner thread only. */
int ew_echo_port_drain(ew_echo_port_t *ep);
/* For a port attached with `inline_owner` to an inline runtime: runs the IO loop and the echo
 * on this thread in turns (a round of the loop, then a drain; both idle, poll() on the loop's
 * fd and the port's eventfd) until should_stop(arg) is true, then stops the runtime and runs
 * the loop until it has closed everything. The runtime is stopped on return; release it. */
void ew_echo_port_run_inline(ew_echo_port_t *ep, int (*should_stop)(void *arg), void *arg);

/* Writes one SEND record of `len` bytes for connection `conn` (owned by IO thread `io`),
 * waiting for room if needed. Port thread only (or before start / after stop). */
void ew_echo_port_send(ew_echo_port_t *ep, uint32_t io, uint64_t conn, const void *bytes,
                       uint32_t len);
/* Writes one DGRAM_SEND record for UDP socket `id` through IO thread `io`: the address block
 * `prefix` (EW_DGRAM_PREFIX_BYTES), then a frame header (type, flags, seq) unless `raw`, then
 * `len` bytes. Port thread only (or before start / after stop). */
void ew_echo_port_dgram(ew_echo_port_t *ep, uint32_t io, uint32_t id, const uint8_t *prefix,
                        int raw, uint16_t type, uint16_t flags, uint32_t seq, const void *bytes,
                        uint32_t len);
/* Writes a control record (SHUTDOWN, DESTROY, WATCH) for `conn`. Port thread only. */
void ew_echo_port_command(ew_echo_port_t *ep, uint32_t io, uint16_t kind, uint64_t conn,
                          uint32_t type);

#endif /* EW_ECHO_PORT_H */
