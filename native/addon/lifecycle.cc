// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Runtimes stopped at process exit, and runtimes shared with work threads.

#include "common.h"

namespace evwire_addon {

// ---- process exit ----------------------------------------------------------------------------

// process.exit() on the main thread calls exit() without tearing the environment down, so IO
// threads would still be running while static destructors run. An atexit hook stops and joins
// every live runtime first.
std::mutex g_live_mu;
std::vector<ew_runtime_t *> g_live;
std::once_flag g_atexit_once;

void StopAllAtExit() {
  std::vector<ew_runtime_t *> live;
  {
    std::lock_guard<std::mutex> lock(g_live_mu);
    live.swap(g_live);
  }
  for (ew_runtime_t *rt : live) {
    ew_runtime_stop(rt, nullptr, nullptr);
    ew_runtime_join(rt);
  }
}

void TrackLive(ew_runtime_t *rt) {
  std::call_once(g_atexit_once, [] { atexit(StopAllAtExit); });
  std::lock_guard<std::mutex> lock(g_live_mu);
  g_live.push_back(rt);
}

void UntrackLive(ew_runtime_t *rt) {
  std::lock_guard<std::mutex> lock(g_live_mu);
  for (size_t i = 0; i < g_live.size(); i++) {
    if (g_live[i] == rt) {
      g_live[i] = g_live.back();
      g_live.pop_back();
      return;
    }
  }
}

// ---- runtimes shared with work threads ---------------------------------------------------------

// A work thread's addon instance attaches to the runtime its main thread started: the main
// thread's NativeRuntime registers it under a number (shareId()), which travels to the worker in
// workerData; the worker's NativeRuntime({ share }) looks it up and takes its own reference. An
// id whose runtime was torn down is gone from the table, so a late worker fails cleanly.
std::mutex g_shared_mu;
std::map<uint32_t, ew_runtime_t *> g_shared;
uint32_t g_next_share = 1;

uint32_t ShareRuntime(ew_runtime_t *rt) {
  std::lock_guard<std::mutex> lock(g_shared_mu);
  uint32_t id = g_next_share++;
  g_shared[id] = rt;
  return id;
}

void UnshareRuntime(uint32_t id) {
  std::lock_guard<std::mutex> lock(g_shared_mu);
  g_shared.erase(id);
}

ew_runtime_t *AcquireShared(uint32_t id) {
  std::lock_guard<std::mutex> lock(g_shared_mu);
  auto it = g_shared.find(id);
  if (it == g_shared.end()) return nullptr;
  ew_runtime_retain(it->second);
  return it->second;
}

} // namespace evwire_addon
