// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EVWIRE_ADDON_COMMON_H
#define EVWIRE_ADDON_COMMON_H

// What the addon's files share (addon.cc has the overview): the includes, the error and option
// conversions (options.cc), the tracking of live and shared runtimes (lifecycle.cc), the native
// log queue, and the runtime wrapper's constructor (runtime.cc).

#include <napi.h>
#include <uv.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

extern "C" {
#include "ew.h"
#include "ew/wire.h"
#include "http.h"
#include <llhttp.h>
}

namespace evwire_addon {

// ---- errors and options (options.cc) ----------------------------------------------------------

Napi::Error MakeError(Napi::Env env, int err, const char *syscall, const char *address = nullptr);
void ClearException(Napi::Env env);
void ThrowTypeError(Napi::Env env, const char *msg);
uint32_t U32(Napi::Object o, const char *key, uint32_t def);
uint64_t U64(Napi::Object o, const char *key, uint64_t def);
bool Bool(Napi::Object o, const char *key, bool def);
void ParseLimits(Napi::Object o, ew_limits_t *l);
Napi::Object LimitsToJs(Napi::Env env, const ew_limits_t *l);

// The protection limits, JavaScript name -> ew_limits_t field, in one list for parsing and for
// the defaults.
#define EW_LIMIT_FIELDS(XX)                                                                        \
  XX(windowMs, window_ms, U32)                                                                     \
  XX(maxMessagesPerWindow, max_msgs_per_window, U32)                                               \
  XX(maxBytesPerWindow, max_bytes_per_window, U64)                                                 \
  XX(ipMessagesPerSecond, ip_msgs_per_sec, U32)                                                    \
  XX(ipMessageBurst, ip_msg_burst, U32)                                                            \
  XX(ipConnectionsPerSecond, ip_conns_per_sec, U32)                                                \
  XX(ipConnectionBurst, ip_conn_burst, U32)                                                        \
  XX(banMs, ban_ms, U32)                                                                           \
  XX(maxConnections, max_conns, U32)                                                               \
  XX(maxConnectionsPerIp, max_conns_per_ip, U32)                                                   \
  XX(sendBytesPerSecond, send_bytes_per_sec, U64)                                                  \
  XX(sendBurstBytes, send_burst, U64)                                                              \
  XX(serverSendBytesPerSecond, server_send_bytes_per_sec, U64)                                     \
  XX(serverSendBurstBytes, server_send_burst, U64)                                                 \
  XX(idleTimeoutMs, idle_timeout_ms, U32)                                                          \
  XX(partialFrameTimeoutMs, partial_timeout_ms, U32)                                               \
  XX(firstMessageTimeoutMs, first_msg_timeout_ms, U32)

// ---- live and shared runtimes (lifecycle.cc) --------------------------------------------------

void TrackLive(ew_runtime_t *rt);
void UntrackLive(ew_runtime_t *rt);
uint32_t ShareRuntime(ew_runtime_t *rt);
void UnshareRuntime(uint32_t id);
ew_runtime_t *AcquireShared(uint32_t id);

// ---- native log lines -------------------------------------------------------------------------

// Native log lines are queued here by whichever thread logged and handed to pino on the JS
// thread. The queue is bounded: past the bound lines are counted, and the count is reported as
// a line of its own, so nothing is dropped silently.
struct LogSink {
  static constexpr size_t kMaxLines = 1000;
  std::mutex mu;
  std::deque<std::pair<int, std::string>> lines;
  uint64_t dropped = 0;
  uv_async_t *async = nullptr; // cleared before the handle is closed

  // THREAD: any thread (IO threads, the JS thread during ew_listen).
  static void Push(void *arg, int level, const char *msg) {
    LogSink *s = static_cast<LogSink *>(arg);
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->lines.size() >= kMaxLines) {
      s->dropped++;
    } else {
      s->lines.emplace_back(level, msg);
    }
    if (s->async != nullptr) uv_async_send(s->async);
  }
};

// ---- the runtime wrapper (runtime.cc) ---------------------------------------------------------

// The NativeRuntime class of this environment.
Napi::Function DefineRuntime(Napi::Env env);

} // namespace evwire_addon

#endif // EVWIRE_ADDON_COMMON_H
