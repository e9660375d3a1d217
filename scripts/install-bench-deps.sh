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

# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
apt_install install-bench-deps "${packages[@]}"
