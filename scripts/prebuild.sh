#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run prebuilds: the prebuilt addon for this platform, prebuilds/<platform>-<arch>/evwire.node,
# which `npm install evwire` loads (node-gyp-build) instead of compiling. One N-API build serves
# every Node version from 20 on. (The script is not named "prebuild": npm would run that before
# every `npm run build`.)
#
# libevent is linked in statically (scripts/build-libevent.sh builds it from Debian's source
# package when deps/libevent is missing) and so is the C++ runtime: the binary needs libc and
# the loader only. The script checks that with ldd and prints the glibc floor (the newest
# GLIBC_x.y symbol version it needs). Binaries are built in CI or for a release, never committed.
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/fetch-llhttp.sh
bash scripts/build-libevent.sh
if [ -f /usr/include/node/node_api.h ] && [ -z "${npm_config_nodedir:-}" ]; then
  export npm_config_nodedir=/usr # the installed Node's headers: no download
fi
rm -rf prebuilds
# Only the runtime's addon: binding.gyp's benchmark-only target (evwire_bench) stays off.
EVWIRE_BENCH_ADDON=0 npx --no-install prebuildify --napi --strip
bin=$(ls prebuilds/*/*.node)
# Nothing but libc and the loader (libm and libpthread would be acceptable too).
extra=$(ldd "$bin" | awk '{print $1}' | grep -vE '^(linux-vdso\.so\.1|libc\.so\.6|libm\.so\.6|libpthread\.so\.0|/lib64/ld-linux-x86-64\.so\.2|/lib/ld-linux-aarch64\.so\.1)$' || true)
if [ -n "$extra" ]; then
  echo "prebuild: $bin needs more than libc: $extra" >&2
  exit 1
fi
floor=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n1)
echo "prebuild: $bin ($(stat -c %s "$bin") bytes; $(node native/libevent.js which); llhttp $(node native/llhttp.js version)); needs glibc >= ${floor#GLIBC_}"
