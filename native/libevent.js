// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Which libevent the addon links. In order:
//   1. deps/libevent: a position-independent static libevent_core.a built from Debian's source
//      package by scripts/build-libevent.sh. Linked into the addon (with hidden symbols), it
//      leaves the addon needing nothing but libc: what the prebuilt binaries are made with.
//   2. the system's shared libevent_core (libevent-dev), through pkg-config.
// Used by binding.gyp (<!@(node native/libevent.js MODE)). Modes: include (a directory for the
// compiler), libs (linker arguments), which (static or shared, and the version).
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const deps = path.join(root, 'deps', 'libevent');
const staticLib = path.join(deps, 'lib', 'libevent_core.a');
const useStatic = fs.existsSync(staticLib) && process.env.EVWIRE_SHARED_LIBEVENT !== '1';

function pkgConfig(args) {
  try {
    return execFileSync('pkg-config', [...args, 'libevent_core'], { encoding: 'utf8' }).trim();
  } catch {
    process.stderr.write('evwire: libevent not found: run scripts/install-deps.sh (libevent-dev), or scripts/build-libevent.sh for a static one in deps/libevent\n');
    process.exit(1);
  }
}

const mode = process.argv[2];
if (mode === 'include') {
  // The static build's headers; with the shared library the system's (already on the path),
  // so a directory of our own stands in for "nothing to add".
  console.log(useStatic ? path.join(deps, 'include') : path.join(root, 'native', 'core', 'include'));
} else if (mode === 'libs') {
  // The static build carries ew_arc4random (scripts/build-libevent.sh); the static C++ runtime's
  // random.o calls glibc's arc4random (2.36) too, and is pointed at the same one, so that the
  // addon's glibc floor stays below 2.36.
  console.log(useStatic ? `${staticLib} -Wl,--defsym,arc4random=ew_arc4random` : pkgConfig(['--libs']));
} else if (mode === 'which') {
  console.log(useStatic ? `static: ${fs.readFileSync(path.join(deps, 'VERSION'), 'utf8').trim()}` : `shared: libevent_core ${pkgConfig(['--modversion'])}`);
} else {
  process.stderr.write('usage: node native/libevent.js include|libs|which\n');
  process.exit(2);
}
