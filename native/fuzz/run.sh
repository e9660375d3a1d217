#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run test:fuzz   (docs/fuzzing.md)
# Builds the libFuzzer harnesses native/fuzz/fuzz_frame.c, fuzz_http.c and fuzz_record.c into
# build-fuzz/ with clang and ASan+UBSan, then for each harness:
#   1. the corpus regression pass: every file of native/fuzz/corpus/<name>/ runs once
#      (-runs=0) and none may crash;
#   2. a bounded fuzz run on a scratch copy of that corpus, build-fuzz/corpus-<name>/ (the
#      committed corpus is never written), crashes saved under build-fuzz/artifacts-<name>/.
# Exits non-zero on any crash, leak, sanitizer report or timeout. The default takes about 100
# seconds on a 2 vCPU machine (three harnesses).
#
# Environment:
#   FUZZ_SECONDS  seconds of fuzzing per harness (default 30)
#   FUZZ_RUNS     run this many inputs per harness instead (-runs=N), for the long recorded runs
#   FUZZ_TARGETS  which harnesses (default "frame http record")
#   FUZZ_CC       the compiler (default clang-14)
#   DEBUG=1       trace the script (set -x)
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x

root=$(cd "$(dirname "$0")/../.." && pwd)
out="$root/build-fuzz"
cc=${FUZZ_CC:-clang-14}
seconds=${FUZZ_SECONDS:-30}
runs=${FUZZ_RUNS:-}
targets=${FUZZ_TARGETS:-frame http record}

for v in "$seconds" ${runs:+"$runs"}; do
  if ! [[ "$v" =~ ^[0-9]+$ ]]; then
    echo "fuzz: FUZZ_SECONDS and FUZZ_RUNS take a whole number, not '$v'" >&2
    exit 2
  fi
done
if ! command -v "$cc" >/dev/null; then
  echo "fuzz: $cc not found (apt-get install clang-14 libclang-rt-14-dev, or set FUZZ_CC)" >&2
  exit 2
fi

cd "$root"
mkdir -p "$out"

# llhttp as the rest of the build finds it (native/llhttp.js): a static library with its header,
# or sources, which are then compiled here with the same instrumentation (their warnings are
# not ours to fix, hence -w).
llhttp_inc=$(node native/llhttp.js include)
llhttp_lib=$(node native/llhttp.js lib)
llhttp=()
if [ -n "$llhttp_lib" ]; then
  llhttp=("$llhttp_lib")
else
  mkdir -p "$out/llhttp"
  while IFS= read -r src; do
    obj="$out/llhttp/$(basename "$src" .c).o"
    "$cc" -g -O1 -std=gnu11 -w -fsanitize=fuzzer-no-link,address,undefined -I"$llhttp_inc" -c "$src" -o "$obj"
    llhttp+=("$obj")
  done < <(node native/llhttp.js sources)
fi

cflags=(-g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
  -Inative/core/include -Inative/core/src -I"$llhttp_inc")
echo "fuzz: building into build-fuzz/ with $cc (llhttp $(node native/llhttp.js version))"
"$cc" "${cflags[@]}" native/fuzz/fuzz_frame.c native/core/src/frame.c native/core/src/error.c \
  -o "$out/fuzz_frame"
"$cc" "${cflags[@]}" native/fuzz/fuzz_http.c native/core/src/hparse.c native/core/src/error.c \
  "${llhttp[@]}" -lpthread -o "$out/fuzz_http"
# The record layer against OpenSSL (Node's headers, the system's libcrypto.so.3: not
# instrumented, which ASan tolerates; the harness's own accesses and crypt.c's are).
libcrypto=
for f in /usr/lib/*/libcrypto.so.3 /usr/lib/libcrypto.so.3; do
  if [ -f "$f" ]; then
    libcrypto=$f
    break
  fi
done
if [ -z "$libcrypto" ]; then
  echo "fuzz: libcrypto.so.3 not found (apt-get install libssl3)" >&2
  exit 2
fi
"$cc" "${cflags[@]}" -isystem "$(node native/openssl.js include)" native/fuzz/fuzz_record.c \
  native/core/src/crypt.c native/core/src/error.c "$libcrypto" -lpthread -o "$out/fuzz_record"

# Leaks fail the run as crashes do; sanitizer reports carry a stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for name in $targets; do
  bin="$out/fuzz_$name"
  corpus="$root/native/fuzz/corpus/$name"
  if [ ! -x "$bin" ] || [ ! -d "$corpus" ]; then
    echo "fuzz: unknown harness '$name' (no $bin or no $corpus)" >&2
    exit 2
  fi
  log="$out/fuzz_$name.log"

  # 1. Corpus regression: every committed input once. libFuzzer only reads the directory here.
  files=$(find "$corpus" -type f | wc -l)
  artifacts="$out/artifacts-$name"
  mkdir -p "$artifacts"
  if ! "$bin" "$corpus" -runs=0 -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$artifacts/" \
    >"$log.regress" 2>&1; then
    tail -n 60 "$log.regress" >&2
    echo "fuzz_$name: the corpus regression pass crashed (log: ${log#"$root"/}.regress)" >&2
    exit 1
  fi
  echo "fuzz_$name: corpus regression: $files file(s), 0 crashes"

  # 2. Bounded fuzzing on a scratch copy, so that new inputs never land in the committed corpus.
  scratch="$out/corpus-$name"
  rm -rf "$scratch"
  mkdir -p "$scratch"
  cp "$corpus"/* "$scratch"/
  if [ -n "$runs" ]; then
    bound=(-runs="$runs")
  else
    bound=(-max_total_time="$seconds")
  fi
  start=$(date +%s.%N)
  rc=0
  "$bin" "$scratch" "${bound[@]}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  if [ "$rc" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz_$name: FAILED (exit $rc) after ${execs:-?} executions in $wall s; the input is in ${artifacts#"$root"/}/, the log in ${log#"$root"/}" >&2
    status=1
    continue
  fi
  echo "fuzz_$name: ${execs:-?} executions in $wall s, 0 crashes (corpus ${scratch#"$root"/}: $(find "$scratch" -type f | wc -l) inputs)"
done
exit "$status"
