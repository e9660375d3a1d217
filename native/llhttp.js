// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Where llhttp's C sources are: Debian's node-llhttp ships them (/usr/share/llhttp/*.c and
// /usr/share/include/llhttp/llhttp.h); LLHTTP_DIR and LLHTTP_INCLUDE_DIR point elsewhere.
// They are compiled into the core with hidden symbols (Node exports its own llhttp), never
// committed. Used by binding.gyp (<!@(node native/llhttp.js gyp-sources|include)) and CMakeLists.txt
// (sources|include).
const fs = require('fs');
const path = require('path');

const dir = process.env.LLHTTP_DIR || '/usr/share/llhttp';
const inc = process.env.LLHTTP_INCLUDE_DIR || '/usr/share/include/llhttp';
const sources = ['api.c', 'http.c', 'llhttp.c'].map((f) => path.join(dir, f));
const missing = [...sources, path.join(inc, 'llhttp.h')].filter((f) => !fs.existsSync(f));
if (missing.length) {
  process.stderr.write(`evwire: llhttp not found (${missing.join(', ')}); run scripts/install-deps.sh (Debian package node-llhttp) or set LLHTTP_DIR and LLHTTP_INCLUDE_DIR\n`);
  process.exit(1);
}
// gyp's make generator turns a source path into an object path, and an absolute one into a
// broken one; relative to the repository root (where binding.gyp is) it works.
const root = path.resolve(__dirname, '..');
const mode = process.argv[2];
const out = mode === 'include' ? inc : mode === 'gyp-sources' ? sources.map((f) => path.relative(root, f)) : sources;
process.stdout.write(`${Array.isArray(out) ? out.join('\n') : out}\n`);
