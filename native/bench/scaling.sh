#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# IO-thread scaling of the native-only echo, with nothing but bash, taskset, awk and the two
# benchmark programs: for a machine with many cores and no Node (docs/experiments.md,
# "IO-thread scaling"). The same measurement as bench/experiments/scaling.js:
#
#   native/bench/scaling.sh [--bin DIR] [--threads 1,2,4,8] [--runs 3] [--seconds 4]
#                           [--spin-us US] [--server-cpus LIST] [--load-cpus LIST]
#
# The server (ew_echo_native, N IO threads pinned one per CPU, N consumer threads) runs on the
# upper half of the CPUs, ew_loadgen (one thread per CPU) on the lower half, unless the CPU
# lists say otherwise. Each case runs every thread count once per round, rounds interleaved;
# the table shows the median of the runs and their range. Every run is bounded: the server
# stops after its --seconds bound, the load generator after its own, and both are killed by
# pid if they outlive it. Prints a Markdown table on stdout, progress on stderr.
set -euo pipefail

BIN=build-c
THREADS=1,2,4,8
RUNS=3
SECONDS_PER_RUN=4
WARMUP=1
SPIN=0
SERVER_CPUS=
LOAD_CPUS=
while [ $# -gt 0 ]; do
  case "$1" in
  --bin) BIN=$2; shift 2 ;;
  --threads) THREADS=$2; shift 2 ;;
  --runs) RUNS=$2; shift 2 ;;
  --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
  --spin-us) SPIN=$2; shift 2 ;;
  --server-cpus) SERVER_CPUS=$2; shift 2 ;;
  --load-cpus) LOAD_CPUS=$2; shift 2 ;;
  -h | --help) sed -n '4,17p' "$0"; exit 0 ;;
  *) echo "scaling.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for p in ew_echo_native ew_loadgen; do
  [ -x "$BIN/$p" ] || { echo "scaling.sh: $BIN/$p not found (build it: see docs/experiments.md)" >&2; exit 2; }
done
command -v taskset >/dev/null || { echo "scaling.sh: taskset not found (util-linux)" >&2; exit 2; }

NCPU=$(nproc --all)
if [ -z "$SERVER_CPUS" ] || [ -z "$LOAD_CPUS" ]; then
  if [ "$NCPU" -lt 2 ]; then
    SERVER_CPUS=0 LOAD_CPUS=0
  else
    half=$((NCPU / 2))
    SERVER_CPUS=$(seq -s, $((NCPU - half)) $((NCPU - 1)))
    LOAD_CPUS=$(seq -s, 0 $((NCPU - half - 1)))
  fi
fi
count() { awk -F, '{print NF}' <<<"$1"; }
LOAD_THREADS=$(count "$LOAD_CPUS")

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# One run: prints msgs/s, or "invalid".
run_one() {
  local n=$1 args=$2 port=$((20000 + RANDOM % 20000))
  # IO thread k on the k-th server CPU (round robin); the consumers share the server CPUs.
  taskset -c "$SERVER_CPUS" "$BIN/ew_echo_native" --port "$port" --io-threads "$n" --ports "$n" \
    --cpus "$SERVER_CPUS" --spin-us "$SPIN" --seconds $((SECONDS_PER_RUN + WARMUP + 10)) \
    >"$WORK/srv.out" 2>"$WORK/srv.err" &
  SERVER_PID=$!
  local i
  for i in $(seq 100); do
    grep -q '^listening' "$WORK/srv.out" 2>/dev/null && break
    sleep 0.05
  done
  local rate=invalid out
  # shellcheck disable=SC2086
  if out=$(timeout $((SECONDS_PER_RUN + WARMUP + 20)) taskset -c "$LOAD_CPUS" "$BIN/ew_loadgen" \
    --port "$port" $args --threads "$LOAD_THREADS" --cpu "$LOAD_CPUS" --seconds "$SECONDS_PER_RUN" \
    --warmup "$WARMUP" --json 2>"$WORK/load.err"); then
    rate=$(sed -n 's/.*"msgs_per_s":\([0-9.]*\).*"errors":0,"mismatches":0.*/\1/p' <<<"$out")
    [ -n "$rate" ] || rate=invalid
  fi
  kill -INT "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
  echo "$rate"
}

CASES=("64 B, 100 conns, depth 16|--conns 100 --depth 16 --size 64"
  "4 KiB, 64 conns, depth 8|--conns 64 --depth 8 --size 4096")
IFS=, read -ra TLIST <<<"$THREADS"
for r in $(seq "$RUNS"); do
  for c in "${!CASES[@]}"; do
    for n in "${TLIST[@]}"; do
      rate=$(run_one "$n" "${CASES[$c]#*|}")
      echo "$c $n $rate" >>"$WORK/rates"
      echo "round $r: ${CASES[$c]%%|*}, $n IO threads: $rate msgs/s" >&2
    done
  done
done

echo "Server: ew_echo_native on CPUs $SERVER_CPUS ($(count "$SERVER_CPUS") CPUs, IO threads pinned"
echo "round robin, --spin-us $SPIN); ew_loadgen with $LOAD_THREADS threads on CPUs $LOAD_CPUS;"
echo "$RUNS interleaved runs of $SECONDS_PER_RUN s per cell, median and range. $(uname -srm), $NCPU CPUs."
echo
echo "| case | IO threads | msgs/s | range | vs 1st |"
echo "| --- | ---: | ---: | ---: | ---: |"
for c in "${!CASES[@]}"; do
  base=
  for n in "${TLIST[@]}"; do
    line=$(awk -v c="$c" -v n="$n" '$1 == c && $2 == n && $3 != "invalid" {print $3}' "$WORK/rates" |
      sort -g | awk '{v[NR] = $1} END {
        if (NR == 0) { print "invalid - -"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%d %d-%d %d\n", m, v[1], v[NR], NR }')
    read -r med lo_hi valid <<<"$line"
    if [ "$med" = invalid ]; then
      echo "| ${CASES[$c]%%|*} | $n | invalid | | |"
      continue
    fi
    [ -n "$base" ] || base=$med
    echo "| ${CASES[$c]%%|*} | $n | $med | $lo_hi ($valid valid) | $(awk -v a="$med" -v b="$base" 'BEGIN {printf "%.2f×", a / b}') |"
  done
done
