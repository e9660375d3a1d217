// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW__BASE_H
#define EW__BASE_H

/* What every module of the core shares: the types' names, logging, the segment layout and the
 * clocks. Nothing here is part of the public API; the internal headers are the only ones that
 * include libevent. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <event2/buffer.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "codec.h"
#include "ew.h"
#include "inbox.h"
#include "iptab.h"
#include "timer.h"
#include "transport.h"

typedef struct ew__io_s ew__io_t;
typedef struct ew__server_s ew__server_t;
typedef struct ew__profile_s ew__profile_t;
typedef struct ew__crypt_cfg_s ew__crypt_cfg_t;
typedef struct ew__tls_cfg_s ew__tls_cfg_t;
typedef struct ew__listener_s ew__listener_t;
typedef struct ew__conn_s ew__conn_t;
typedef struct ew__ctrl_s ew__ctrl_t;
typedef struct ew__cmd_ban_s ew__cmd_ban_t;
typedef struct ew__link_s ew__link_t;
typedef struct ew__dial_s ew__dial_t;

/* ---- memory (mem.c) ------------------------------------------------------------------------ */

/* Frees the calling thread's cache of libevent blocks (an IO loop that ends). */
void ew__mem_thread_flush(void);

/* ---- logging ---------------------------------------------------------------------------- */

void ew__log(ew_runtime_t *rt, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The level test is inline so that a disabled line costs one relaxed load, not a call and a
 * format. */
#define EW_LOG_AT(rt, lvl, ...)                                                                    \
  do {                                                                                             \
    if ((lvl) >= atomic_load_explicit(&(rt)->log_level, memory_order_relaxed))                     \
      ew__log((rt), (lvl), __VA_ARGS__);                                                           \
  } while (0)
#define EW_LOG_TRACE(rt, ...) EW_LOG_AT(rt, EW_LOG_LEVEL_TRACE, __VA_ARGS__)
#define EW_LOG_DEBUG(rt, ...) EW_LOG_AT(rt, EW_LOG_LEVEL_DEBUG, __VA_ARGS__)
#define EW_LOG_INFO(rt, ...) EW_LOG_AT(rt, EW_LOG_LEVEL_INFO, __VA_ARGS__)
#define EW_LOG_WARN(rt, ...) EW_LOG_AT(rt, EW_LOG_LEVEL_WARN, __VA_ARGS__)
#define EW_LOG_ERROR(rt, ...) EW_LOG_AT(rt, EW_LOG_LEVEL_ERROR, __VA_ARGS__)
/* Prints at any level except silent. */
#define EW_LOG_ALWAYS(rt, ...)                                                                     \
  do {                                                                                             \
    if (atomic_load_explicit(&(rt)->log_level, memory_order_relaxed) < EW_LOG_LEVEL_SILENT)        \
      ew__log((rt), EW_LOG_LEVEL_ALWAYS, __VA_ARGS__);                                             \
  } while (0)

/* Installs libevent's global log and fatal callbacks once per process. */
void ew__log_install_libevent_hooks(void);

/* The IO thread the calling thread is, or NULL (routes libevent's own log lines). */
extern _Thread_local ew__io_t *ew__tls_io;

/* ---- segment layout ---------------------------------------------------------------------- */

#define EW_SEG_MAGIC 0x3130474553574500ull /* "\0EWSEG01" little-endian */
#define EW_SEG_VERSION 1u
#define EW_SEG_HEADER_BYTES 4096u

/* CLOCK_MONOTONIC milliseconds, and the coarse clock's (a jiffy's resolution, a few ns). */
uint64_t ew__now_ms(void);
uint64_t ew__coarse_ms(void);

#endif /* EW__BASE_H */
