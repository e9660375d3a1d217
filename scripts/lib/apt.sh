#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# Shared by the scripts/install-*.sh scripts. Sourced, never run.
# apt_install <name> <package...>: installs the Debian packages that are not installed yet (as
# root, or through sudo), saying which under <name>; does nothing, and says so, when all are.

apt_install() {
  local name=$1 p sudo="" missing=()
  shift
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "$name: run as root or install sudo" >&2; exit 1; }
    sudo="sudo"
  fi
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "$name: all packages present ($*)"
    return 0
  fi
  echo "$name: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
