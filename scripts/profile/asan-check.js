// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Loaded with `mocha --require` by scripts/profile/asan-mocha.sh, before any test: loads the
// addon the way the library does (dist/native.js, through node-gyp-build) and stops the run
// unless the file mapped into this process is the sanitizer build named by EVWIRE_ASAN_ADDON
// and the ASan runtime is preloaded. A run that silently tested build/Release/evwire.node
// would look like a clean ASan run and mean nothing.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const want = fs.realpathSync(process.env.EVWIRE_ASAN_ADDON || '');
require(path.join(root, 'dist', 'native.js'));
const maps = fs.readFileSync('/proc/self/maps', 'utf8');
const mapped = new Set(maps.split('\n').map((l) => l.split(/\s+/)[5]).filter((p) => p && p.startsWith('/')));
const addons = [...mapped].filter((p) => p.endsWith('.node'));
if (!mapped.has(want) || addons.length !== 1) {
  console.error(`asan-check: expected only ${want} loaded, found: ${addons.join(', ') || 'no addon'}`);
  process.exit(1);
}
const asan = [...mapped].find((p) => /\/libasan\.so/.test(p));
if (!asan) {
  console.error('asan-check: libasan is not mapped; LD_PRELOAD did not take');
  process.exit(1);
}
console.log(`asan-check: addon ${want}\nasan-check: sanitizer runtime ${asan}`);
