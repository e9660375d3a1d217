#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run test:lint: the C and C++ sources are formatted as the checked-in .clang-format says
# (clang-format 14, which scripts/install-deps.sh installs). To fix: CLANG_FORMAT_FIX=1.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format-14}
command -v "$cf" >/dev/null || { echo "check-format: $cf not found (scripts/install-deps.sh installs clang-format-14)" >&2; exit 1; }
mapfile -t files < <(git ls-files 'native/*.c' 'native/*.h' 'native/*.cc')
if [ "${CLANG_FORMAT_FIX:-0}" = 1 ]; then "$cf" -i "${files[@]}"; fi
"$cf" --dry-run -Werror "${files[@]}"
echo "check-format: ${#files[@]} C and C++ files formatted as .clang-format says"
