#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# Installs what the benchmark and the design experiments need beyond scripts/install-deps.sh
# (Debian 12, root or sudo):
#   linux-perf            syscall counts per message (bench/experiments/triggering.js)
#   libtcmalloc-minimal4  tcmalloc, preloaded by bench/experiments/allocator.js
#   libjemalloc2          jemalloc, likewise
#   util-linux            taskset
#   wrk                   the HTTP load generator (bench/run.js, bench/experiments/accept.js)
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x

packages=(linux-perf libtcmalloc-minimal4 libjemalloc2 util-linux wrk)

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-bench-deps: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-bench-deps: all packages present (${packages[*]})"
  exit 0
fi
echo "install-bench-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
