// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_EXPERIMENT_H
#define EW_EXPERIMENT_H

/* Knobs that only the design experiments turn (docs/experiments.md, bench/experiments/): each
 * one is the losing side of a comparison whose winner is the runtime's only behaviour. They are
 * not part of the API: ew.h does not include this header, the addon never sets them, and they
 * may change or go with the experiment that needs them. Programs of the experiments include
 * "ew/experiment.h" on top of "ew.h". */

#include "ew/common.h"
#include "ew/runtime.h"

typedef struct ew_experiment_opts_s {
  int serial_start; /* 1: start IO threads one after another ("startup"); 0: in parallel */
} ew_experiment_opts_t;

/* Fills `x` with the runtime's own behaviour: what ew_runtime_start() does. Any thread. */
EW_EXTERN void ew_experiment_opts_init(ew_experiment_opts_t *x);

/* ew_runtime_start() with the experiment knobs of `x` (NULL: ew_experiment_opts_init()'s, which
 * makes it exactly ew_runtime_start()). Same ownership, threads and errors as
 * ew_runtime_start(); `x` is read during the call only. */
EW_EXTERN int ew_runtime_start_experiment(const ew_runtime_opts_t *o, const ew_experiment_opts_t *x,
                                          ew_runtime_t **out);

#endif /* EW_EXPERIMENT_H */
