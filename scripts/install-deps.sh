#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# Installs the system packages evwire needs to build and test on Debian 12 (run as root, or
# with sudo available). Used by the README's Quick start and by .ci/run.
#   libevent-dev     the event library the C core is built on (core library, headers, pkg-config)
#   build-essential  gcc/g++/make for the core, the addon and the C tests
#   cmake            the C tests (ctest), the sanitizer build and the native benchmark harness
#   pkg-config       how both builds find libevent
#   python3          node-gyp
#   util-linux       taskset, for the pinned benchmarks
#   node-llhttp      llhttp 8's C sources: the fallback when llhttp 9 cannot be fetched (below)
#   curl             the HTTP tests drive the server with it, as users do
#   clang-14, libclang-rt-14-dev   libFuzzer: the fuzz harnesses under native/fuzz (npm test runs them)
#   clang-format-14  the C formatting check of npm run test:lint (.clang-format)
#   dpkg-dev         dpkg-source, which unpacks libevent's Debian source package (below)
#   python3-prometheus-client   the reference parser of Prometheus' text format: test/metrics.test.ts
#                    parses what evwire serves with it
#   libssl3          OpenSSL 3's shared libraries for the C tests and benchmarks, which run without
#                    node (the addon uses node's own OpenSSL and links none; no libssl-dev needed:
#                    the headers are Node's)
#   openssl          the command line: test/tls.test.ts drives servers with openssl s_client
# Then scripts/fetch-llhttp.sh brings llhttp 9 (Debian 13's libllhttp-dev) into deps/llhttp, and
# scripts/build-libevent.sh builds a position-independent static libevent from Debian's source
# package into deps/libevent, which the addon links (so the addon, and a prebuilt binary made
# from it, needs nothing but libc); the C tests and benchmarks use libevent-dev's.
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x

packages=(libevent-dev build-essential cmake pkg-config python3 util-linux node-llhttp curl clang-14 libclang-rt-14-dev dpkg-dev python3-prometheus-client clang-format-14 libssl3 openssl)

# shellcheck source=scripts/lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"
apt_install install-deps "${packages[@]}"
bash "$(dirname "$0")/fetch-llhttp.sh"
bash "$(dirname "$0")/build-libevent.sh"
