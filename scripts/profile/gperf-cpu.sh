#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run profile:gperf-cpu -- [js|native|all]   (default all)
# gperftools' CPU profiler (libprofiler, preloaded; no rebuild) on the native-only server and
# on Node running the evwire echo server, each under a short ew_loadgen load. Per server S
# (evwire-native, evwire-js) it writes:
#   bench/out/profile/gperf-cpu.S.prof       the profile (google-pprof BINARY FILE reads it)
#   bench/out/profile/gperf-cpu.S.raw        the same with symbols (google-pprof FILE reads it)
#   bench/out/profile/gperf-cpu.S.txt        google-pprof --text: functions by own samples
#   bench/out/profile/gperf-cpu.S.cum.txt    google-pprof --text --cum: by inclusive samples
#   bench/out/profile/gperf-cpu.S.svg        a flame graph of google-pprof --collapsed
# Environment: SECONDS_LOAD (default 3) seconds profiled, CPUPROFILE_FREQUENCY (default 1000 per second),
# CONNS/DEPTH/SIZE (default 100 x 16 x 64 B).
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
# shellcheck source=scripts/profile/lib.sh
source "$(dirname "$0")/lib.sh"

which_servers=${1:-all}
SECONDS_LOAD=${SECONDS_LOAD:-3}
FREQ=${CPUPROFILE_FREQUENCY:-1000}

need google-pprof google-perftools
need_builds
libprofiler=$(lib_path libprofiler.so)

# run_one <name> <binary for pprof> <command...>. With CPUPROFILESIGNAL set, the preloaded
# libprofiler starts profiling on the first such signal (to "$CPUPROFILE.0") and stops and
# writes the file on the second, so the profile covers the loaded window only: no process
# start-up, no V8 bootstrap, no JIT warm-up, as in profile:perf. SIGUSR2 is free in both
# servers, and Node keeps a handler that a preloaded library installed (node.cc,
# ResetSignalHandlers). The SIGPROF timer (ITIMER_PROF) counts the CPU time of every thread of
# the process, the IO thread included; it fires at most once per kernel tick, so fewer samples
# than CPUPROFILE_FREQUENCY asks for may arrive. taskset comes first and env last, so only the
# server itself loads libprofiler.
run_one() {
  local name=$1 bin=$2 prof="$OUT/gperf-cpu.$1.prof"
  shift 2
  rm -f "$prof" "$prof.0"
  start_server "$OUT/gperf-cpu.$name.server.log" \
    taskset -c "$SERVER_CPU" env LD_PRELOAD="$libprofiler" CPUPROFILE="$prof" CPUPROFILESIGNAL=12 \
    CPUPROFILE_FREQUENCY="$FREQ" "$@"
  load_start "$OUT/gperf-cpu.$name.load.txt" $((SECONDS_LOAD + 2))
  sleep 1.5
  kill -USR2 "$SERVER_PID"
  sleep "$SECONDS_LOAD"
  kill -USR2 "$SERVER_PID"
  load_wait "$OUT/gperf-cpu.$name.load.txt"
  stop_server
  [ -s "$prof.0" ] || die "no profile written to $prof.0 (see $OUT/gperf-cpu.$name.server.log)"
  mv "$prof.0" "$prof"
  # Naming addresses (nm and addr2line over node's 100 MB of text) is the slow part, so it is
  # done once into a symbolized --raw profile that the three reports read.
  google-pprof --raw "$bin" "$prof" >"$OUT/gperf-cpu.$name.raw" 2>/dev/null
  google-pprof --text --nodecount=40 "$OUT/gperf-cpu.$name.raw" >"$OUT/gperf-cpu.$name.txt" 2>/dev/null
  google-pprof --text --cum --nodecount=40 "$OUT/gperf-cpu.$name.raw" >"$OUT/gperf-cpu.$name.cum.txt" 2>/dev/null
  google-pprof --collapsed "$OUT/gperf-cpu.$name.raw" >"$OUT/gperf-cpu.$name.folded" 2>/dev/null
  node "$ROOT/scripts/profile/flamegraph.js" --in "$OUT/gperf-cpu.$name.folded" --folded-in \
    --svg "$OUT/gperf-cpu.$name.svg" --title "$name echo, gperftools CPU profile $(date -u +%F)"
  excerpt "$OUT/gperf-cpu.$name.txt" 25
}

if [ "$which_servers" = native ] || [ "$which_servers" = all ]; then
  run_one evwire-native "$NATIVE" "$NATIVE" --port 0 --io-threads 1 --seconds 60
fi
if [ "$which_servers" = js ] || [ "$which_servers" = all ]; then
  need_addon
  # google-pprof names addresses from the ELF files mapped in the process (node, the addon,
  # libc, libevent); V8's JIT code has no ELF file, so JavaScript frames stay hex addresses
  # here. profile:perf names them (--perf-basic-prof).
  run_one evwire-js "$(command -v node)" node "$JS_PEER" --port 0 --io-threads 1
fi
log "done"
