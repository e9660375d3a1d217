#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run profile:callgrind:http-js
# Instructions per request of the whole inline HTTP server (bench/peers/evwire-http.js with
# ioThreads: 0: the IO loop, the parser, the addon, V8 and the JavaScript handler path), under
# 16-deep pipelined wrk. Node runs under valgrind --tool=callgrind with instrumentation off; a
# first wrk run (WARMUP_S, default 15) lets V8 compile the hot path, instrumentation is switched
# on with callgrind_control for a second run (MEASURE_S, default 20), and the instructions of
# that window are divided by the requests wrk had answered in it. JIT code differs a little
# from run to run (compilation and GC timing), so the figure repeats to within about 3%, not
# exactly: run it two or three times. Writes bench/out/profile/callgrind-http-js.txt and the
# profile callgrind.out.http-js (functions of JIT code show as addresses).
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
# shellcheck source=scripts/profile/lib.sh
source "$(dirname "$0")/lib.sh"

WARMUP_S=${WARMUP_S:-15}
MEASURE_S=${MEASURE_S:-20}
need valgrind valgrind
need callgrind_annotate valgrind
need callgrind_control valgrind
need wrk wrk
need_addon

prof="$OUT/callgrind.out.http-js"
rm -f "$prof"
start_server "$OUT/callgrind-http-js.server.log" \
  taskset -c "$SERVER_CPU" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$prof" \
  --log-file="$OUT/callgrind-http-js.valgrind.log" \
  node "$ROOT/bench/peers/evwire-http.js" --port 0 --io-threads 0
wrk_run() {
  timeout $(($1 + 30)) taskset -c "$LOAD_CPU" wrk -t1 -c100 -d"$1"s --timeout 10s \
    -s "$ROOT/bench/wrk/evwire.lua" "http://127.0.0.1:$SERVER_PORT/" -- 16 | tail -1
}
log "warmup: ${WARMUP_S}s of wrk, not counted"
wrk_run "$WARMUP_S" >/dev/null
callgrind_control -i on "$SERVER_PID" >/dev/null
log "measuring: ${MEASURE_S}s of wrk"
res=$(wrk_run "$MEASURE_S")
callgrind_control -i off "$SERVER_PID" >/dev/null
stop_server 60 || true
[ -s "$prof" ] || die "no profile written (see $OUT/callgrind-http-js.valgrind.log)"
requests=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<<"$res")
errors=$(sed -n 's/.*"connect":\([0-9]*\),"read":\([0-9]*\),"write":\([0-9]*\),"status":\([0-9]*\),"timeout":\([0-9]*\).*/\1 \2 \3 \4 \5/p' <<<"$res")
[ -n "$requests" ] && [ "$requests" -gt 0 ] || die "wrk answered nothing: $res"
[ "$errors" = "0 0 0 0 0" ] || die "wrk reported errors: $res"
# awk reads to the end: an early exit would cut callgrind_annotate off (SIGPIPE, and pipefail).
ir=$(callgrind_annotate "$prof" | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
report="$OUT/callgrind-http-js.txt"
{
  printf 'requests %s, instructions %s, per request %s\n' "$requests" "$ir" \
    "$(awk -v a="$ir" -v b="$requests" 'BEGIN { printf "%.0f", a / b }')"
  callgrind_annotate --threshold=90 "$prof" | awk '/^Ir/ { on = 1 } on && n < 40 { print; n++ }'
} >"$report"
head -1 "$report"
log "written: $report"
