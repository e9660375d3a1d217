#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run profile:perf -- [js|native|all]   (default all)
# Samples the evwire echo server with perf while ew_loadgen drives it, and writes per server S
# (evwire-js: node bench/peers/evwire-echo.js; evwire-native: build-c/ew_echo_native):
#   bench/out/profile/perf-S.data         perf record's file (perf report -i reads it again)
#   bench/out/profile/perf-S.report.txt   perf report --stdio, flat: where the time goes
#   bench/out/profile/perf-S.callers.txt  the hot symbols with the call chains that reach them
#   bench/out/profile/perf-S.folded       folded stacks
#   bench/out/profile/perf-S.svg          the flame graph (open it in a browser)
# Environment: PERF_SECONDS (default 3) seconds sampled, PERF_FREQ (default 999) samples per
# second, CONNS/DEPTH/SIZE the load (default 100 connections x 16 frames of 64 bytes).
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
# shellcheck source=scripts/profile/lib.sh
source "$(dirname "$0")/lib.sh"

which_servers=${1:-all}
PERF_SECONDS=${PERF_SECONDS:-3}
PERF_FREQ=${PERF_FREQ:-999}

need perf linux-perf
need_builds

# This VM has no hardware counters (perf stat -e instructions says <not supported>), so the
# event is the cpu-clock software timer, which samples anywhere. Say so when it is the case, so
# a reader on real hardware knows that -e cycles would work there.
if perf stat -e instructions true 2>&1 | grep -q "not supported"; then
  log "hardware counters are not available here; sampling the cpu-clock software event"
fi
# perf_event_paranoid above 1 stops a non-root user from sampling other processes' kernel
# stacks; root is unaffected.
if [ "$(id -u)" -ne 0 ] && [ "$(cat /proc/sys/kernel/perf_event_paranoid)" -gt 1 ]; then
  log "kernel.perf_event_paranoid > 1: run as root or: sudo sysctl kernel.perf_event_paranoid=1"
fi

# profile_server <name> <fp|dwarf>: the server is already running (SERVER_PID). The load
# starts, its first 1.5 s (connection set-up, JIT warm-up) are left out, then perf samples the
# server for PERF_SECONDS while the load is still running.
profile_server() {
  local name=$1 data="$OUT/perf-$1.data"
  load_start "$OUT/perf-$name.load.txt" $((PERF_SECONDS + 2))
  sleep 1.5
  # How perf walks the stack. Frame pointers (fp) for Node: V8 keeps them in JIT code, which
  # has no unwind tables, so JavaScript stacks come out whole. DWARF for the native server: the
  # core is built -O2 without frame pointers, so fp stacks lose the core's frames, while the
  # RelWithDebInfo build's unwind tables give whole stacks (at up to 16 KiB of stack copied per
  # sample). PERF_CALLGRAPH=fp|dwarf overrides both.
  local mode=${PERF_CALLGRAPH:-$2} cg=(-g)
  [ "$mode" = dwarf ] && cg=(--call-graph "dwarf,16384")
  # perf renames an existing output to .old; a rerun replaces the file instead.
  rm -f "$data" "$data.old"
  perf record -q -e cpu-clock -F "$PERF_FREQ" "${cg[@]}" -p "$SERVER_PID" -o "$data" -- sleep "$PERF_SECONDS"
  load_wait "$OUT/perf-$name.load.txt"

  # The flat profile, three ways: share per thread (pid is perf's name for the thread id
  # here; the main thread's id is the process id), per object, and per symbol with the thread
  # and object it ran in.
  {
    perf report -i "$data" --stdio --header-only | sed -n 's/^# \(captured on\|cmdline\|nrcpus avail\|cpudesc\) *: */\1: /p'
    perf report -i "$data" --stdio -F overhead -g none | sed -n 's/^# \(Samples\|Event count\)/\1/p'
    echo "== per thread (tid:comm; the thread whose id is the process id is the main thread)"
    perf report -i "$data" --stdio --no-children -F overhead,pid -g none --percent-limit 1 | sed '/^#/d;/^$/d'
    echo "== per object"
    perf report -i "$data" --stdio --no-children -F overhead,dso -g none --percent-limit 1 | sed '/^#/d;/^$/d'
    echo "== per symbol (self time)"
    perf report -i "$data" --stdio --no-children -F overhead,pid,dso,sym -g none --percent-limit 0.5 | sed '/^#/d;/^$/d'
  } >"$OUT/perf-$name.report.txt" 2>/dev/null
  # The callers of each hot symbol: its call chains, leaf first (-g graph,0.5,callee).
  perf report -i "$data" --stdio --no-children -F overhead,sym --percent-limit 2 -g graph,0.5,callee \
    >"$OUT/perf-$name.callers.txt" 2>/dev/null
  perf script -i "$data" -F comm,pid,tid,ip,sym,dso 2>/dev/null >"$OUT/perf-$name.script"
  node "$ROOT/scripts/profile/flamegraph.js" --in "$OUT/perf-$name.script" --folded "$OUT/perf-$name.folded" \
    --svg "$OUT/perf-$name.svg" --title "$name echo, ${CONNS}x${DEPTH}x${SIZE}B, perf cpu-clock $(date -u +%F)"
  rm -f "$OUT/perf-$name.script"
  excerpt "$OUT/perf-$name.report.txt" 40
}

if [ "$which_servers" = js ] || [ "$which_servers" = all ]; then
  need_addon
  # --perf-basic-prof makes V8 write /tmp/perf-<pid>.map, where perf report finds the names
  # of JIT-compiled JavaScript functions; it stays there so perf-evwire-js.data can be read
  # again later (perf looks it up by the recorded pid).
  start_server "$OUT/perf-evwire-js.server.log" \
    taskset -c "$SERVER_CPU" node --perf-basic-prof "$JS_PEER" --port 0 --io-threads 1
  js_pid=$SERVER_PID
  profile_server evwire-js fp
  stop_server
  log "JIT symbol map for perf-evwire-js.data: /tmp/perf-$js_pid.map"
fi

if [ "$which_servers" = native ] || [ "$which_servers" = all ]; then
  start_server "$OUT/perf-evwire-native.server.log" \
    taskset -c "$SERVER_CPU" "$NATIVE" --port 0 --io-threads 1 --seconds 60
  profile_server evwire-native dwarf
  stop_server
fi
log "done: flame graphs and reports in $OUT (perf-*.svg, perf-*.report.txt)"
