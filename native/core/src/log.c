// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

_Thread_local ew__io_t *ew__tls_io;

const char *ew_log_level_name(int level) {
  switch (level) {
  case EW_LOG_LEVEL_TRACE:
    return "trace";
  case EW_LOG_LEVEL_DEBUG:
    return "debug";
  case EW_LOG_LEVEL_INFO:
    return "info";
  case EW_LOG_LEVEL_WARN:
    return "warn";
  case EW_LOG_LEVEL_ERROR:
    return "error";
  case EW_LOG_LEVEL_FATAL:
    return "fatal";
  case EW_LOG_LEVEL_ALWAYS:
    return "always";
  default:
    return "unknown";
  }
}

/* This is the one place in the core that prints; everything else goes through the macros. */
static void stderr_sink(int level, const char *msg) {
  fprintf(stderr, "evwire %s: %s\n", ew_log_level_name(level), msg);
}

void ew__log(ew_runtime_t *rt, int level, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (rt != NULL && rt->o.log_cb != NULL)
    rt->o.log_cb(rt->o.log_arg, level, line);
  else
    stderr_sink(level, line);
}

/* libevent reports its own warnings through one global callback. Lines raised on an IO thread
 * reach that thread's runtime logger; others (rare: before a loop exists) go to stderr. */
static void libevent_log(int severity, const char *msg) {
  int level = severity == EVENT_LOG_ERR    ? EW_LOG_LEVEL_ERROR
              : severity == EVENT_LOG_WARN ? EW_LOG_LEVEL_WARN
              : severity == EVENT_LOG_MSG  ? EW_LOG_LEVEL_INFO
                                           : EW_LOG_LEVEL_DEBUG;
  ew__io_t *io = ew__tls_io;
  if (io != NULL)
    EW_LOG_AT(io->rt, level, "libevent: %s", msg);
  else
    stderr_sink(level, msg);
}

/* libevent calls this for an internal invariant violation; it must not return. Printing first
 * leaves a trace that explains the abort. */
static void libevent_fatal(int err) {
  fprintf(stderr, "evwire fatal: libevent internal error %d\n", err);
  abort();
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void install_hooks(void) {
  event_set_log_callback(libevent_log);
  event_set_fatal_callback(libevent_fatal);
}

void ew__log_install_libevent_hooks(void) {
  pthread_once(&hooks_once, install_hooks);
}

uint64_t ew__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
