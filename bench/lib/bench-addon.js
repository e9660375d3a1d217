// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Loads the benchmark-only addon, build/Release/evwire_bench.node (binding.gyp's evwire_bench
// target, native/bench/addon/): native code that only the design experiments use, kept out of
// the runtime's addon and of the npm package. `npm run build:native` builds it beside
// evwire.node in a checkout. Its types are in bench-addon.d.ts beside this file.
const fs = require('fs');
const path = require('path');

const FILE = path.join(__dirname, '..', '..', 'build', 'Release', 'evwire_bench.node');

function loadBenchAddon() {
  if (!fs.existsSync(FILE)) {
    throw new Error(`${path.relative(process.cwd(), FILE)} is missing: build it with \`npm run build:native\` (in a checkout; EVWIRE_BENCH_ADDON=0 turns it off)`);
  }
  return require(FILE);
}

module.exports = { FILE, loadBenchAddon };
