// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_LOG_H
#define EW_LOG_H

#include "ew/common.h"

/* Log levels share pino's numbers so that a native line keeps its level on the JS side.
 * EW_LOG_LEVEL_ALWAYS prints whatever the configured level is (except "silent"). */
enum {
  EW_LOG_LEVEL_TRACE = 10,
  EW_LOG_LEVEL_DEBUG = 20,
  EW_LOG_LEVEL_INFO = 30,
  EW_LOG_LEVEL_WARN = 40,
  EW_LOG_LEVEL_ERROR = 50,
  EW_LOG_LEVEL_FATAL = 60,
  EW_LOG_LEVEL_ALWAYS = 100,
  EW_LOG_LEVEL_SILENT = 1000
};

/* Receives one formatted line (no trailing newline) of `level`. Called on whichever thread
 * logged: an IO thread, or the thread that called into the core. It must be thread-safe and
 * must not call back into the runtime. `msg` is valid only during the call. */
typedef void (*ew_log_cb)(void *arg, int level, const char *msg);

/* Returns the name of a level ("warn"), "always" for EW_LOG_LEVEL_ALWAYS, "unknown" otherwise. */
EW_EXTERN const char *ew_log_level_name(int level);

#endif /* EW_LOG_H */
