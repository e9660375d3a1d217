#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run profile:callgrind:http
# Instructions per request of the HTTP request parser (native/core/src/hparse.c: llhttp,
# evwire's strictness checks, the HTTP_REQ record writer) and of bare llhttp with no callbacks,
# counted by callgrind in parse_loop() of build-c/ew_hparse_bench, on four request shapes:
#   wrk      GET / with Host only (the load of wrk and of the HTTP benchmarks)
#   browser  GET with ten browser headers
#   post     POST with a 64-byte Content-Length body
#   chunked  POST with two 32-byte chunks
# Callgrind counts exactly, so the figures repeat run to run; REQUESTS (default 20000) is how
# many times each request is parsed. Writes bench/out/profile/callgrind-http.txt.
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
# shellcheck source=scripts/profile/lib.sh
source "$(dirname "$0")/lib.sh"

REQUESTS=${REQUESTS:-20000}
BENCH="$ROOT/build-c/ew_hparse_bench"
need valgrind valgrind
need callgrind_annotate valgrind
need_file "$BENCH" "run: npm run build:c"

report="$OUT/callgrind-http.txt"
{
  printf '# instructions per request (callgrind, parse_loop only), %s requests per case\n' "$REQUESTS"
  printf '%-8s %10s %10s %10s\n' case hparse llhttp extra
} >"$report"
# Instructions of parse_loop() per request, from one callgrind run.
per_request() {
  local prof="$OUT/callgrind.out.hparse-$1-$2" ir
  rm -f "$prof"
  timeout 300 valgrind --tool=callgrind --callgrind-out-file="$prof" --toggle-collect='parse_loop*' \
    --log-file="$OUT/callgrind-http.valgrind.log" "$BENCH" "$1" "$2" "$REQUESTS" >/dev/null
  # The summary line of callgrind_annotate holds the total.
  ir=$(callgrind_annotate "$prof" | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
  [ -n "$ir" ] || die "no total in $prof"
  awk -v ir="$ir" -v n="$REQUESTS" 'BEGIN { printf "%.1f", ir / n }'
}
for c in wrk browser post chunked; do
  ours=$(per_request "$c" hparse)
  bare=$(per_request "$c" llhttp)
  extra=$(awk -v a="$ours" -v b="$bare" 'BEGIN { printf "%.1f", a - b }')
  printf '%-8s %10s %10s %10s\n' "$c" "$ours" "$bare" "$extra" >>"$report"
done
cat "$report"
log "written: $report"
