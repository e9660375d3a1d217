#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# Builds a position-independent static libevent (libevent_core.a) into deps/libevent/, from
# Debian's own source package, so that the addon (and the prebuilt binaries of npm run prebuild)
# link libevent in and need nothing at run time but libc. Debian's libevent_core.a is built
# without -fPIC and cannot go into a shared object; this builds the same source, with Debian's
# patches (security fixes included: the source comes from bookworm and bookworm-security,
# whichever is newer), with -fPIC.
#
# The source is fetched with a private, temporary package list: no apt source is added to the
# machine, nothing is installed, apt checks the .dsc against Debian's keys, and nothing of it is
# committed (deps/ is ignored). native/libevent.js then tells binding.gyp to link it; without
# deps/libevent the addon links the system's shared libevent_core (libevent-dev), as before.
#
#   LIBEVENT_SUITE   Debian release to take the source from (default: bookworm)
#   LIBEVENT_FORCE=1 fetch and build again even if deps/libevent is there
#   DEBUG=1          trace the script
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/deps/libevent"
suite=${LIBEVENT_SUITE:-bookworm}

if [ -f "$dest/lib/libevent_core.a" ] && [ -f "$dest/VERSION" ] && [ "${LIBEVENT_FORCE:-0}" != 1 ]; then
  echo "build-libevent: $(cat "$dest/VERSION") already in deps/libevent"
  exit 0
fi
for tool in dpkg-source cmake cc; do
  command -v "$tool" >/dev/null || { echo "build-libevent: $tool is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/src"
{
  echo "deb-src http://deb.debian.org/debian $suite main"
  echo "deb-src http://deb.debian.org/debian $suite-updates main"
  echo "deb-src http://deb.debian.org/debian-security $suite-security main"
} >"$tmp/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache" -o "APT::Sandbox::User=root")
echo "build-libevent: reading Debian $suite's source lists"
apt-get "${apt_opts[@]}" -qq update
# apt-get source takes the newest version the lists offer and applies Debian's patches.
(cd "$tmp/src" && apt-get "${apt_opts[@]}" -qq source libevent >"$tmp/source.log" 2>&1) || {
  cat "$tmp/source.log" >&2
  exit 1
}
dsc=$(ls "$tmp"/src/libevent_*.dsc)
version=$(sed -n 's/^Version: //p' "$dsc")
src=$(find "$tmp/src" -maxdepth 1 -type d -name 'libevent-*' | head -n1)
echo "build-libevent: building libevent $version (Debian source) with -fPIC"
(
  # libevent's CMake build: Debian's patches touch Makefile.am, which would send the autotools
  # build through automake. Only what the core uses: no OpenSSL, samples, tests or debug mode.
  cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$dest" \
    -DCMAKE_INSTALL_LIBDIR=lib -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_C_FLAGS="-fPIC -g0" \
    -DEVENT__LIBRARY_TYPE=STATIC -DEVENT__DISABLE_OPENSSL=ON -DEVENT__DISABLE_MBEDTLS=ON \
    -DEVENT__DISABLE_BENCHMARK=ON -DEVENT__DISABLE_TESTS=ON -DEVENT__DISABLE_REGRESS=ON \
    -DEVENT__DISABLE_SAMPLES=ON -DEVENT__DISABLE_DEBUG_MODE=ON >"$tmp/configure.log" 2>&1 ||
    { tail -n 40 "$tmp/configure.log" >&2; exit 1; }
  cmake --build "$tmp/build" -j"$(nproc)" >"$tmp/make.log" 2>&1 || { tail -n 40 "$tmp/make.log" >&2; exit 1; }
  rm -rf "$dest"
  cmake --install "$tmp/build" >"$tmp/install.log" 2>&1 || { tail -n 40 "$tmp/install.log" >&2; exit 1; }
)
# libevent calls glibc's arc4random and arc4random_buf (its secure RNG), which exist since glibc
# 2.36 only: they would make 2.36 the floor of the whole addon. They are renamed in the archive
# and given a definition over getrandom(2) (glibc 2.25), added to the same archive.
cat >"$tmp/ew_arc4random.c" <<'C'
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/random.h>
void ew_arc4random_buf(void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    ssize_t r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      abort(); /* no kernel randomness: arc4random_buf cannot fail either */
    }
    p += r;
    n -= (size_t)r;
  }
}
uint32_t ew_arc4random(void) {
  uint32_t v;
  ew_arc4random_buf(&v, sizeof v);
  return v;
}
C
cc -O2 -fPIC -fvisibility=hidden -c "$tmp/ew_arc4random.c" -o "$tmp/ew_arc4random.o"
objcopy --redefine-sym arc4random=ew_arc4random --redefine-sym arc4random_buf=ew_arc4random_buf \
  "$dest/lib/libevent_core.a"
ar rs "$dest/lib/libevent_core.a" "$tmp/ew_arc4random.o"
# Position-independent or it is useless here: a shared object cannot take R_X86_64_32 relocations.
if readelf -r "$dest/lib/libevent_core.a" | grep -qE 'R_X86_64_32S? '; then
  echo "build-libevent: $dest/lib/libevent_core.a has absolute relocations: not position-independent" >&2
  exit 1
fi
echo "libevent $version (Debian source, PIC)" >"$dest/VERSION"
echo "build-libevent: libevent $version installed into deps/libevent"
