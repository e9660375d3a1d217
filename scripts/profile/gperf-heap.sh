#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run profile:gperf-heap -- [js|native|all]   (default all)
# gperftools' heap profiler (libtcmalloc, preloaded; no rebuild) on the native-only server and
# on Node running the evwire echo server. The profiler records the call stack of every
# malloc/free from process start; a signal in the middle of the load dumps a snapshot. Per
# server S (evwire-native, evwire-js) it writes:
#   bench/out/profile/gperf-heap.S.0001.heap        the snapshot (google-pprof BINARY FILE)
#   bench/out/profile/gperf-heap.S.inuse.txt        --inuse_space: live bytes by allocation site
#   bench/out/profile/gperf-heap.evwire-native.inuse-cum.txt  the same by inclusive bytes
#   bench/out/profile/gperf-heap.S.alloc.txt        --alloc_space: bytes allocated since start
#   bench/out/profile/gperf-heap.S.alloc_objects.txt --alloc_objects: allocations since start
#   bench/out/profile/gperf-heap.evwire-js.addon.txt --alloc_space of stacks through evwire
# Node's JavaScript heap is V8's own mmap'ed memory, not malloc, so it is not in these
# profiles (use node --heap-prof or --inspect for it); what is here is native memory: the
# addon, the core, libevent, libuv and Node's C++ side.
# Environment: SECONDS_LOAD (default 3), CONNS/DEPTH/SIZE (default 100 x 16 x 64 B).
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
# shellcheck source=scripts/profile/lib.sh
source "$(dirname "$0")/lib.sh"

which_servers=${1:-all}
SECONDS_LOAD=${SECONDS_LOAD:-3}

need google-pprof google-perftools
need_builds
libtcmalloc=$(lib_path libtcmalloc.so)

# run_one <name> <binary for pprof> <command...>. HEAPPROFILESIGNAL=12: SIGUSR2 dumps
# "$HEAPPROFILE.0001.heap" while the load runs, the moment the live heap is at its working
# size (connections open, buffers in use). The interval-driven dumps (every 1 GiB allocated,
# every 100 MiB of growth) are turned off so that the one snapshot is the one the report
# reads; HEAP_PROFILE_CLEANUP (on by default) removes the previous run's files at start.
run_one() {
  local name=$1 bin=$2 prefix="$OUT/gperf-heap.$1"
  shift 2
  start_server "$OUT/gperf-heap.$name.server.log" \
    taskset -c "$SERVER_CPU" env LD_PRELOAD="$libtcmalloc" HEAPPROFILE="$prefix" HEAPPROFILESIGNAL=12 \
    HEAP_PROFILE_ALLOCATION_INTERVAL=0 HEAP_PROFILE_INUSE_INTERVAL=0 "$@"
  load_start "$OUT/gperf-heap.$name.load.txt" "$SECONDS_LOAD"
  sleep $((1 + SECONDS_LOAD / 2))
  kill -USR2 "$SERVER_PID"
  load_wait "$OUT/gperf-heap.$name.load.txt"
  stop_server
  local heap="$prefix.0001.heap"
  [ -s "$heap" ] || die "no heap profile at $heap (see $OUT/gperf-heap.$name.server.log)"
  # google-pprof --text ignores --nodecount for heap profiles and lists every site, so the
  # reports keep the top 40 lines (sorted by own bytes, or own count for alloc_objects); sed
  # reads to the end, where head would stop pprof with SIGPIPE and fail the pipeline.
  local kind
  for kind in inuse_space alloc_space alloc_objects; do
    google-pprof --text --"$kind" --show_bytes "$bin" "$heap" 2>/dev/null | sed -n 1,40p >"$prefix.${kind%_space}.txt"
  done
  # Inclusive bytes say which path holds the memory (the IO thread's read path, accept, start
  # up). Cheap for the native server; for Node the focused report below does that job.
  if [ "$name" = evwire-native ]; then
    google-pprof --text --cum --inuse_space --show_bytes "$bin" "$heap" 2>/dev/null | sed -n 1,40p >"$prefix.inuse-cum.txt"
  fi
  # In Node, the sites under evwire's own code (the core's ew_* functions, the addon's N-API
  # calls) are a small part of everything Node allocates at start-up; --focus keeps the
  # allocations with one of them on the stack.
  if [ "$name" = evwire-js ]; then
    google-pprof --text --alloc_space --show_bytes --focus='^(ew_|napi_|Napi::)' "$bin" "$heap" 2>/dev/null |
      sed -n 1,40p >"$prefix.addon.txt"
  fi
  excerpt "$prefix.inuse.txt" 20
  excerpt "$prefix.alloc.txt" 15
}

if [ "$which_servers" = native ] || [ "$which_servers" = all ]; then
  run_one evwire-native "$NATIVE" "$NATIVE" --port 0 --io-threads 1 --seconds 60
fi
if [ "$which_servers" = js ] || [ "$which_servers" = all ]; then
  need_addon
  run_one evwire-js "$(command -v node)" node "$JS_PEER" --port 0 --io-threads 1
fi
log "done"
