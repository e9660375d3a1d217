// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Where llhttp is. In order:
//   1. LLHTTP_DIR (C sources api.c, http.c, llhttp.c) and LLHTTP_INCLUDE_DIR (llhttp.h);
//   2. deps/llhttp: Debian 13's libllhttp-dev (llhttp 9), brought by scripts/fetch-llhttp.sh,
//      which scripts/install-deps.sh runs: a static library and its header;
//   3. Debian 12's node-llhttp (llhttp 8.1, C sources under /usr/share/llhttp).
// Either way it ends up inside the addon and the core with hidden symbols (Node exports its own
// llhttp), and is never committed. Used by binding.gyp (<!(node native/llhttp.js MODE)) and
// CMakeLists.txt. Modes: include, lib (the static library, or nothing when built from sources),
// sources, gyp-sources (relative to the repository root), version.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

function find() {
  if (process.env.LLHTTP_DIR) {
    const dir = process.env.LLHTTP_DIR;
    return { inc: process.env.LLHTTP_INCLUDE_DIR || dir, dir, lib: '' };
  }
  const deps = path.join(root, 'deps', 'llhttp', 'usr');
  if (fs.existsSync(path.join(deps, 'include', 'llhttp.h'))) {
    const libdir = path.join(deps, 'lib');
    const arch = fs.readdirSync(libdir).find((d) => fs.existsSync(path.join(libdir, d, 'libllhttp.a')));
    if (arch !== undefined) return { inc: path.join(deps, 'include'), dir: '', lib: path.join(libdir, arch, 'libllhttp.a') };
  }
  return { inc: '/usr/share/include/llhttp', dir: '/usr/share/llhttp', lib: '' };
}

const { inc, dir, lib } = find();
const sources = lib ? [] : ['api.c', 'http.c', 'llhttp.c'].map((f) => path.join(dir, f));
const missing = [...sources, path.join(inc, 'llhttp.h')].filter((f) => !fs.existsSync(f));
if (missing.length) {
  process.stderr.write(`evwire: llhttp not found (${missing.join(', ')}); run scripts/install-deps.sh (it fetches llhttp 9 into deps/llhttp) or set LLHTTP_DIR and LLHTTP_INCLUDE_DIR\n`);
  process.exit(1);
}

function version() {
  const h = fs.readFileSync(path.join(inc, 'llhttp.h'), 'utf8');
  const part = (p) => (h.match(new RegExp(`#define LLHTTP_VERSION_${p} (\\d+)`)) || [])[1];
  return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
}

const mode = process.argv[2];
// gyp's make generator turns a source path into an object path, and an absolute one into a
// broken one; relative to the repository root (where binding.gyp is) it works.
const out =
  mode === 'include' ? inc
    : mode === 'lib' ? lib
      : mode === 'version' ? version()
        : mode === 'gyp-sources' ? sources.map((f) => path.relative(root, f))
          : sources;
process.stdout.write(`${Array.isArray(out) ? out.join('\n') : out}\n`);
