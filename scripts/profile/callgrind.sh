#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run profile:callgrind
# Runs build-c/ew_echo_native under valgrind --tool=callgrind while ew_loadgen sends a fixed
# number of frames, and writes:
#   bench/out/profile/callgrind.out.ew_echo_native  the profile (kcachegrind/qcachegrind open it)
#   bench/out/profile/callgrind.annotate.txt        callgrind_annotate: functions by own cost
#   bench/out/profile/callgrind.inclusive.txt       callgrind_annotate --inclusive=yes
# Callgrind counts instructions (Ir) exactly instead of sampling, so the figures repeat run to
# run and need no hardware counters; the price is a 50-100x slower server, hence a frame count
# rather than a duration. Environment: CONNS (default 100), DEPTH (16), SIZE (64), FRAMES per
# connection (default 2000).
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
# shellcheck source=scripts/profile/lib.sh
source "$(dirname "$0")/lib.sh"

FRAMES=${FRAMES:-2000}

need valgrind valgrind
need callgrind_annotate valgrind
need_builds

prof="$OUT/callgrind.out.ew_echo_native"
rm -f "$prof"
# --dump-instr=yes keeps per-instruction costs so kcachegrind can show the disassembly next to
# the source; --separate-threads=no sums the main and IO threads into one profile (the IO
# thread does all of the echo work). The valgrind log goes to its own file so the server's
# stdout keeps only its "listening" line. --seconds bounds the server even if the load hangs.
start_server "$OUT/callgrind.server.log" \
  taskset -c "$SERVER_CPU" valgrind --tool=callgrind --callgrind-out-file="$prof" \
  --dump-instr=yes --separate-threads=no --log-file="$OUT/callgrind.valgrind.log" \
  "$NATIVE" --port 0 --io-threads 1 --seconds 300
load "$OUT/callgrind.load.txt" --conns "$CONNS" --depth "$DEPTH" --size "$SIZE" \
  --warmup 0 --max-frames "$FRAMES" --seconds 90
# ew_echo_native exits cleanly on SIGTERM; callgrind writes the profile at exit.
stop_server 60
[ -s "$prof" ] || die "no profile written (see $OUT/callgrind.valgrind.log)"

# Own (exclusive) cost per function, then inclusive cost: the first says which code is hot, the
# second which call trees the instructions are spent under.
callgrind_annotate --threshold=99 "$prof" >"$OUT/callgrind.annotate.txt"
callgrind_annotate --inclusive=yes --threshold=99 "$prof" >"$OUT/callgrind.inclusive.txt"
excerpt "$OUT/callgrind.annotate.txt" 45
log "open it with: kcachegrind $prof   (or qcachegrind; Debian package kcachegrind)"
