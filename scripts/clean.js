// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// `npm run clean`: removes every generated file (builds, compiled TypeScript, generated
// protobuf code, benchmark scratch output). Source and bench/RESULTS.md stay.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
for (const p of ['build', 'build-c', 'build-asan', 'build-asan-addon', 'build-fuzz', 'dist', 'dist-test', 'dist-examples', 'build-docs', 'lib/gen', 'bench/out', 'prebuilds']) {
  fs.rmSync(path.join(root, p), { recursive: true, force: true });
}
console.log('clean: removed build, build-c, build-asan, build-asan-addon, build-fuzz, dist, dist-test, dist-examples, build-docs, lib/gen, bench/out, prebuilds');
