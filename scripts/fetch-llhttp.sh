#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# Brings llhttp 9 (header and static library, built by Debian) into deps/llhttp/, where
# native/llhttp.js finds it. Debian 12 packages llhttp 8.1 only; Debian 13 ("trixie") packages
# llhttp 9.2 as libllhttp-dev, the llhttp generation Node 20 uses (Node ships 9.3). This script
# downloads that one package with a private, temporary package list: it adds no apt source to
# the machine and installs nothing. The archive is checked by apt against Debian's signing keys
# (debian-archive-keyring) and unpacked, never committed (deps/ is ignored).
#
# The library is plain C that needs only abort, fprintf, memset and stderr from libc (checked
# below), so a trixie build links into a bookworm binary. Its code is position-independent
# (Debian builds with -fPIE and it calls out only through the PLT), so it goes into the addon;
# it is linked with hidden symbols (Node exports its own llhttp 9.3).
#
#   LLHTTP_SUITE   Debian suite to take it from (default: trixie)
#   LLHTTP_FORCE=1 download again even if deps/llhttp is already there
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/deps/llhttp"
suite=${LLHTTP_SUITE:-trixie}

if [ -f "$dest/usr/include/llhttp.h" ] && [ "${LLHTTP_FORCE:-0}" != 1 ]; then
  echo "fetch-llhttp: $(sed -n 's/^#define LLHTTP_VERSION_\(MAJOR\|MINOR\|PATCH\) //p' "$dest/usr/include/llhttp.h" | paste -sd.) already in deps/llhttp"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/dl"
echo "deb http://deb.debian.org/debian $suite main" >"$tmp/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o "APT::Sandbox::User=root")
echo "fetch-llhttp: reading Debian $suite's package list"
apt-get "${apt_opts[@]}" -qq update
(cd "$tmp/dl" && apt-get "${apt_opts[@]}" -qq download libllhttp-dev)
deb=$(ls "$tmp"/dl/libllhttp-dev_*.deb)
rm -rf "$dest"
mkdir -p "$dest"
dpkg-deb -x "$deb" "$dest"
lib=$(ls "$dest"/usr/lib/*/libllhttp.a)
# Anything beyond these from libc could tie the binary to a newer glibc than the machine's.
extra=$(nm -u "$lib" | awk 'NF==2 {print $2}' | grep -v '^llhttp__' | sort -u | grep -vxE 'abort|fprintf|memset|stderr' || true)
if [ -n "$extra" ]; then
  echo "fetch-llhttp: $lib needs more of libc than expected: $extra" >&2
  exit 1
fi
echo "fetch-llhttp: $(basename "$deb") unpacked into deps/llhttp"
