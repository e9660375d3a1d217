#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# Installs the system packages the profiling toolkit (docs/profiling.md, npm run profile:*)
# needs on Debian 12 (run as root, or with sudo available). Kept apart from
# scripts/install-deps.sh so that CI, which only builds and tests, does not pay for them.
#   linux-perf               perf record / perf report / perf script (profile:perf)
#   valgrind                 callgrind (profile:callgrind) and memcheck (profile:memcheck);
#                            callgrind_annotate comes with it
#   libc6-dbg                glibc's debug symbols: valgrind names libc frames with them, and
#                            memcheck's default suppressions match on those names
#   google-perftools         google-pprof, the reader of gperftools profiles
#   libgoogle-perftools-dev  libprofiler.so and libtcmalloc.so (unversioned names for LD_PRELOAD)
#   binutils                 nm, addr2line and objdump, which google-pprof uses to name addresses
# The sanitizer runtimes (libasan, libubsan) come with gcc from scripts/install-deps.sh.
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x

packages=(linux-perf valgrind libc6-dbg google-perftools libgoogle-perftools-dev binutils)

# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
apt_install install-profiling-deps "${packages[@]}"
