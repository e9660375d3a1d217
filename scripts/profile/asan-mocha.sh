#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run test:asan [-- mocha files...]   (default: every dist-test/*.test.js)
# Runs mocha tests against the ASan+UBSan addon from `npm run build:asan`, with the suite's
# compiled tests (dist-test/, from `npm run pretest`) unchanged. The output goes to the
# terminal and to bench/out/profile/asan-mocha.log.
#
# How the sanitizer addon gets loaded without touching lib/native.ts: node-gyp-build, which
# dist/native.js calls with the package root, honours <PACKAGE_NAME>_PREBUILD (here
# EVWIRE_PREBUILD) as the directory to look in instead, and finds build/Debug/evwire.node
# there. scripts/profile/asan-check.js then checks, inside the mocha process, that this is the
# file actually mapped.
#
# Why the environment below:
#   LD_PRELOAD   node itself is not instrumented, and ASan must own malloc from the first
#                allocation, so its runtime has to be loaded before anything else; the
#                libraries are the exact ones the addon links (ldd), so versions match.
#   detect_leaks=0  V8 and Node keep start-up allocations until exit by design; LeakSanitizer
#                would report them and fail every run. Leaks are memcheck's job here.
#   handle_segv=0   V8's WebAssembly trap handler owns SIGSEGV; ASan's own handler is not
#                needed to catch bad addresses in the addon, which ASan checks inline.
#   quarantine_size_mb=32  ASan holds freed memory back (256 MiB by default) to catch uses
#                after free; test/backpressure.test.ts bounds the process's RSS growth at
#                160 MiB, which the default quarantine alone exceeds (RSS grew 405 MiB, 175 MiB
#                at 64). 32 MiB of recent frees still catches a use after free of anything the
#                runtime freed during the last many thousand messages.
#   halt_on_error / -fno-sanitize-recover=all: the first error aborts with its report.
# ASAN_OPTIONS / UBSAN_OPTIONS from the caller's environment are appended, so they win.
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT="$ROOT/bench/out/profile"
mkdir -p "$OUT"
ADDON="$ROOT/build-asan-addon/build/Debug/evwire.node"
[ -f "$ADDON" ] || { echo "asan-mocha: $ADDON missing; run: npm run build:asan" >&2; exit 1; }
if [ ! -f "$ROOT/dist/index.js" ] || [ ! -d "$ROOT/dist-test" ]; then
  echo "asan-mocha: dist/ or dist-test/ missing; run: npm run pretest" >&2
  exit 1
fi

preload=$(ldd "$ADDON" | awk '/lib(asan|ubsan)\.so/ { print $3 }' | sort | tr '\n' ':')
case "$preload" in *libasan*) ;; *) echo "asan-mocha: $ADDON is not linked against libasan" >&2; exit 1 ;; esac

files=("$@")
[ ${#files[@]} -gt 0 ] || files=(dist-test/*.test.js)

log="$OUT/asan-mocha.log"
echo "asan-mocha: $(date -u '+%F %T') UTC, node $(node --version), files: ${files[*]}" | tee "$log"
# --no-config: .mocharc.json would add every test file to the ones named here.
rc=0
env LD_PRELOAD="${preload%:}" \
  ASAN_OPTIONS="detect_leaks=0:handle_segv=0:quarantine_size_mb=32:halt_on_error=1:abort_on_error=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
  EVWIRE_PREBUILD="$ROOT/build-asan-addon" EVWIRE_ASAN_ADDON="$ADDON" \
  node "$ROOT/node_modules/mocha/bin/mocha.js" --no-config --timeout 120000 --reporter spec \
  --require "$ROOT/scripts/profile/asan-check.js" "${files[@]}" 2>&1 | tee -a "$log" || rc=$?
echo "asan-mocha: exit status $rc" | tee -a "$log"
exit "$rc"
