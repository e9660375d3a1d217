#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# Shared helpers of the profiling scripts (docs/profiling.md). Sourced, never run: each
# scripts/profile/<step>.sh sources it after `set -euo pipefail`.
#
# Every load run here is bounded twice (a frame count or a duration given to ew_loadgen, and an
# outer `timeout`), goes to 127.0.0.1 only, and pins the server to SERVER_CPU and the load generator
# to LOAD_CPU, as bench/run.js does, so that the profile shows the server's work and not the
# generator's.
# The variables set here are read by the scripts that source this file:
# shellcheck disable=SC2034
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT="$ROOT/bench/out/profile"
LOADGEN="$ROOT/build-c/ew_loadgen"
NATIVE="$ROOT/build-c/ew_echo_native"
JS_PEER="$ROOT/bench/peers/evwire-echo.js"
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
# The load every step drives: connections x frames in flight x body bytes.
CONNS=${CONNS:-100}
DEPTH=${DEPTH:-16}
SIZE=${SIZE:-64}
# How long a server may take to print its "listening <address> <port>" line. Servers under
# valgrind start 20-50x slower than natively, hence the generous bound.
READY_TIMEOUT_S=${READY_TIMEOUT_S:-120}

mkdir -p "$OUT"

log() { echo "[$(basename "$0" .sh)] $*" >&2; }
die() { log "error: $*"; exit 1; }

# need <command> <debian package>: fail early with the package to install, rather than halfway
# through a run with a bare "command not found".
need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found; run: sudo bash scripts/install-profiling-deps.sh (package $2)"
}

need_file() {
  [ -e "$1" ] || die "$1 is missing; $2"
}

need_builds() {
  need_file "$LOADGEN" "run: npm run build:c"
  need_file "$NATIVE" "run: npm run build:c"
}

need_addon() {
  need_file "$ROOT/dist/index.js" "run: npm run build:ts"
  need_file "$ROOT/build/Release/evwire.node" "run: npm run build:native"
}

# The shared objects the gperftools steps preload, by their unversioned -dev names. ldconfig
# lives in /sbin, which a non-root PATH on Debian does not include.
lib_path() {
  local p
  p=$("$(command -v ldconfig || echo /sbin/ldconfig)" -p | awk -v n="$1" '$1 == n { print $NF; exit }')
  [ -n "$p" ] || die "$1 not found; run: sudo bash scripts/install-profiling-deps.sh (package libgoogle-perftools-dev)"
  echo "$p"
}

SERVER_PID=""
SERVER_LOG=""
SERVER_PORT=""

# start_server <log file> <command...>: starts the command in the background (the caller puts
# taskset, valgrind or an LD_PRELOAD env in front), waits for its "listening <addr> <port>" line
# and sets SERVER_PID and SERVER_PORT. Every server is started with port 0, so runs never clash
# with the other benchmarks and tests on this machine.
start_server() {
  SERVER_LOG=$1
  shift
  # Created here, not by the background redirection, so the first look below never races it.
  : >"$SERVER_LOG"
  "$@" >>"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  local waited=0
  while :; do
    SERVER_PORT=$(awk '$1 == "listening" { print $3; exit }' "$SERVER_LOG")
    [ -n "$SERVER_PORT" ] && break
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      cat "$SERVER_LOG" >&2
      die "server exited before listening"
    fi
    [ "$waited" -ge $((READY_TIMEOUT_S * 10)) ] && { cat "$SERVER_LOG" >&2; die "server not listening after ${READY_TIMEOUT_S}s"; }
    sleep 0.1
    waited=$((waited + 1))
  done
  log "server pid $SERVER_PID listening on port $SERVER_PORT"
}

# stop_server [grace seconds]: SIGTERM (both servers exit cleanly on it, so exit-time writers
# such as gperftools' profile dump and valgrind's report run), then SIGKILL if it hangs.
stop_server() {
  local grace=${1:-30} i=0
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  while kill -0 "$SERVER_PID" 2>/dev/null && [ "$i" -lt $((grace * 10)) ]; do
    sleep 0.1
    i=$((i + 1))
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    log "server pid $SERVER_PID still running after ${grace}s; killing it"
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  local rc=0
  wait "$SERVER_PID" 2>/dev/null || rc=$?
  SERVER_PID=""
  return "$rc"
}

# The trap that keeps an interrupted or failed script from leaving a server behind.
cleanup_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup_server EXIT

# load <out file> <ew_loadgen options...>: one bounded load run against SERVER_PORT from
# LOAD_CPU; the generator verifies every echoed byte, and a run with errors fails the script.
load() {
  local out=$1
  shift
  log "load: ew_loadgen $*"
  timeout 120 taskset -c "$LOAD_CPU" "$LOADGEN" --host 127.0.0.1 --port "$SERVER_PORT" "$@" >"$out" 2>&1 ||
    { cat "$out" >&2; die "ew_loadgen failed (see $out)"; }
  tail -n 3 "$out" >&2
}

# load_start <out file> <seconds>: the same bounded load (CONNS x DEPTH x SIZE, 1 s warmup, then
# <seconds> measured) in the background, for steps that act on the server while it runs; sets
# LOAD_PID. load_wait <out file> then waits for it and fails the script if it failed.
LOAD_PID=""
load_start() {
  timeout 120 taskset -c "$LOAD_CPU" "$LOADGEN" --host 127.0.0.1 --port "$SERVER_PORT" \
    --conns "$CONNS" --depth "$DEPTH" --size "$SIZE" --warmup 1 --seconds "$2" >"$1" 2>&1 &
  LOAD_PID=$!
}

load_wait() {
  wait "$LOAD_PID" || { cat "$1" >&2; die "ew_loadgen failed (see $1)"; }
  tail -n 2 "$1" >&2
}

# excerpt <file> <lines>: what the guide quotes, printed so the run shows it too.
excerpt() {
  log "---- $1 (first $2 lines)"
  head -n "$2" "$1" >&2
}
