#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run profile:memcheck -- [c|node|all]   (default all)
# valgrind memcheck over (c) every C test that ctest knows in build-c/, and (node) a short echo
# run of Node with the evwire addon. Writes:
#   bench/out/profile/memcheck.c.<test>.log      valgrind's log per test binary (or named test)
#   bench/out/profile/memcheck.c.summary.txt     one line per run: errors, leaks, exit status
#   bench/out/profile/memcheck.node.log          valgrind's log of the Node echo run
#   bench/out/profile/memcheck.node.summary.txt  its error and leak summary
# Exit status 1 when any run reports a memory error, a C test leaks (definitely or possibly),
# or the Node run has a definite leak with evwire.node on its stack; the logs say where.
# Environment: MEMCHECK_SKIP, "binary:test ..." pairs run natively only (default
# "test_ring:test_two_thread_stress": a consumer that spins on an empty ring while valgrind
# runs one thread at a time takes over ten minutes there; the ASan build covers it);
# NODE_FRAMES (default 500) frames per connection for the Node run.
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
# shellcheck source=scripts/profile/lib.sh
source "$(dirname "$0")/lib.sh"

part=${1:-all}
MEMCHECK_SKIP=${MEMCHECK_SKIP:-test_ring:test_two_thread_stress}
NODE_FRAMES=${NODE_FRAMES:-500}
failed=0

need valgrind valgrind

# The options both parts share. --error-exitcode makes any memory error fail the run;
# definite and possible leaks count as errors for the C tests, whose every test ends with no
# live handles (CONVENTIONS: tests). --track-origins says where an uninitialised value
# came from, at twice the cost, affordable for the short runs here.
VG=(valgrind --tool=memcheck --error-exitcode=99 --track-origins=yes --num-callers=30)

# summarize <log> <label> <status>: one line from valgrind's own summary lines.
summarize() {
  local errors definite possible
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$1" | tail -n 1)
  definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$1" | tail -n 1)
  possible=$(sed -n 's/.*possibly lost: \([0-9,]*\) bytes.*/\1/p' "$1" | tail -n 1)
  printf '%-44s exit %-3s errors %-4s definitely lost %-8s possibly lost %s\n' \
    "$2" "$3" "${errors:-?}" "${definite:-0}" "${possible:-0}"
}

# headlines <log>: each distinct error or leak record (valgrind prints a context once however
# often it recurs) with its first four frames, so the summary says what and where without the
# log. A record is the line just before its first "at 0x..." frame, then the frames; indented
# sub-records (where an uninitialised value came from) are left to the log.
headlines() {
  awk '/^==[0-9]+== +at 0x/ && prev !~ /^ / { h = prev; n = 0; where = "" }
       h != "" && /^==[0-9]+== +(at|by) 0x/ {
         f = $0
         sub(/^==[0-9]+== +(at|by) 0x[0-9A-F]+: /, "", f)
         where = where (n ? " < " : "") f
         if (++n == 4) { seen[h " -- " where] = 1; h = "" }
       }
       h != "" && /^==[0-9]+== $/ { seen[h " -- " where] = 1; h = "" }
       { prev = substr($0, index($0, " ") + 1) }
       END { for (k in seen) printf "    %s\n", k }' "$1" | sort
}

run_c() {
  need_file "$ROOT/build-c/test_error" "run: npm run build:c"
  local summary="$OUT/memcheck.c.summary.txt" name cmd bin tests t skip rc
  : >"$summary"
  # ctest's own list, so a module added to CMakeLists.txt is checked without touching this.
  while read -r name cmd; do
    bin=$(basename "$cmd")
    skip=""
    for pair in $MEMCHECK_SKIP; do
      [ "${pair%%:*}" = "$bin" ] && skip="$skip ${pair#*:}"
    done
    if [ -z "$skip" ]; then
      tests=("")
    else
      # The test binaries take one test's name as argv[1] (native/test/test.h); run the
      # others one by one.
      mapfile -t tests < <(grep -o 'EW_TEST(test_[a-z0-9_]*)' "$ROOT/native/test/$bin.c" | sed 's/EW_TEST(\(.*\))/\1/')
    fi
    for t in "${tests[@]}"; do
      [ -n "$t" ] && [[ " $skip " == *" $t "* ]] && { echo "$name/$t: skipped (MEMCHECK_SKIP)" >>"$summary"; continue; }
      local label="$name${t:+/$t}" log="$OUT/memcheck.c.$bin${t:+.$t}.log"
      log "memcheck $label"
      rc=0
      timeout 600 "${VG[@]}" --leak-check=full --show-leak-kinds=definite,possible \
        --errors-for-leak-kinds=definite,possible --fair-sched=yes --log-file="$log" \
        "$cmd" ${t:+"$t"} >"$log.out" 2>&1 || rc=$?
      summarize "$log" "$label" "$rc" >>"$summary"
      [ "$rc" -eq 0 ] || { failed=1; headlines "$log" >>"$summary"; }
      rm -f "$log.out"
    done
  done < <(ctest --test-dir "$ROOT/build-c" --show-only=json-v1 |
    node -e 'for (const t of JSON.parse(require("fs").readFileSync(0, "utf8")).tests) console.log(t.name, t.command.join(" "))')
  excerpt "$summary" 40
}

run_node() {
  need_builds
  need_addon
  local log="$OUT/memcheck.node.log" summary="$OUT/memcheck.node.summary.txt" rc=0
  # Node under memcheck: start-up alone takes ~20 s (V8 deserialises its snapshot through the
  # JIT), so the load is a fixed, small number of frames. V8 writes code at run time; valgrind's
  # default --smc-check=all-non-file already re-translates it. Leaks are listed, not counted
  # as errors: Node does not free its own start-up allocations at exit, so the summary below
  # counts the leak records whose stack passes through evwire.node apart from the rest.
  start_server "$OUT/memcheck.node.server.log" \
    taskset -c "$SERVER_CPU" "${VG[@]}" --leak-check=full --show-leak-kinds=definite,possible \
    --errors-for-leak-kinds=none --log-file="$log" \
    node "$JS_PEER" --port 0 --io-threads 1
  load "$OUT/memcheck.node.load.txt" --conns 4 --depth 4 --size random:1:4096 \
    --warmup 0 --max-frames "$NODE_FRAMES" --seconds 120
  stop_server 180 || rc=$?
  {
    summarize "$log" "node bench/peers/evwire-echo.js" "$rc"
    # A leak record is the block of lines from "... lost in loss record" to the blank line
    # after it; count those with a frame in evwire.node, by kind.
    awk '/(definitely|possibly) lost in loss record/ { kind = ($0 ~ /definitely/) ? "definite" : "possible"; rec = ""; inrec = 1; total[kind]++; next }
         inrec && /^==[0-9]+== $/ { if (rec ~ /evwire\.node/) ours[kind]++; inrec = 0; next }
         inrec { rec = rec $0 "\n" }
         END { printf "definite leak records through evwire.node: %d (of %d)\n", ours["definite"], total["definite"]
               printf "possible leak records through evwire.node: %d (of %d)\n", ours["possible"], total["possible"] }' "$log"
  } >"$summary"
  grep -q 'ERROR SUMMARY: 0 errors' "$log" || failed=1
  grep -q '^definite leak records through evwire.node: 0 ' "$summary" || failed=1
  [ "$rc" -eq 0 ] || failed=1
  excerpt "$summary" 6
}

case "$part" in
  c) run_c ;;
  node) run_node ;;
  all) run_c; run_node ;;
  *) die "usage: memcheck.sh [c|node|all]" ;;
esac
if [ "$failed" -ne 0 ]; then
  log "memcheck found problems; see the logs in $OUT"
  exit 1
fi
log "memcheck: clean"
