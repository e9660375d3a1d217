// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// tsc compiles lib/**/*.ts; the protobufjs static modules in lib/gen are JavaScript with
// declarations beside them, so they are copied into dist/gen as they are.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const from = path.join(root, 'lib', 'gen');
const to = path.join(root, 'dist', 'gen');
fs.mkdirSync(to, { recursive: true });
for (const f of fs.readdirSync(from)) {
  if (f.endsWith('.js') || (f.endsWith('.d.ts') && !f.endsWith('.types.d.ts'))) {
    fs.copyFileSync(path.join(from, f), path.join(to, f));
  }
}
