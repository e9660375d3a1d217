#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run build:asan
# Builds the addon with AddressSanitizer and UndefinedBehaviorSanitizer through cmake-js and
# CMakeLists.txt (its cmake-js block; docs/profiling.md), into its own tree so that it never
# replaces build/Release/evwire.node:
#   build-asan-addon/build/Debug/evwire.node
# That path is the layout node-gyp-build looks for under EVWIRE_PREBUILD=build-asan-addon,
# which is how scripts/profile/asan-mocha.sh (npm run test:asan) loads it.
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
CMAKE_JS="$ROOT/node_modules/.bin/cmake-js"
[ -x "$CMAKE_JS" ] || { echo "build-asan-addon: cmake-js missing; run: npm ci" >&2; exit 1; }

# cmake-js needs Node's headers (node_api.h, and uv.h, which the addon includes). Where npm
# has a nodedir configured it passes it on as npm_config_nodedir; otherwise the headers that
# ship with this node (prefix/include/node, present for Debian's and NodeSource's packages and
# the official tarballs) serve, so nothing is downloaded. Only when neither exists does
# cmake-js fetch them from nodejs.org.
if [ -z "${npm_config_nodedir:-}" ]; then
  prefix=$(node -p "require('path').resolve(process.execPath, '..', '..')")
  if [ -f "$prefix/include/node/node.h" ]; then
    export npm_config_nodedir="$prefix"
  fi
fi

# Debug: -O0 -g keeps every frame in the sanitizer's reports. EW_SANITIZE=ON adds
# -fsanitize=address,undefined -fno-sanitize-recover=all to the core and the addon alike.
# --target evwire builds only the addon, not the C tests and benchmark programs that the
# same CMakeLists.txt also defines.
"$CMAKE_JS" build --out build-asan-addon/build --config Debug --CDEW_SANITIZE=ON --target evwire \
  --parallel "${JOBS:-2}" --log-level warn
addon="$ROOT/build-asan-addon/build/Debug/evwire.node"
[ -f "$addon" ] || { echo "build-asan-addon: $addon was not produced" >&2; exit 1; }
echo "build-asan-addon: $addon"
# The sanitizer runtimes the addon was linked against; asan-mocha.sh preloads the same ones.
ldd "$addon" | grep -E 'lib(asan|ubsan)' || true
