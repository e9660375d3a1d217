// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// `npm run experiments`: runs every design experiment in turn, one after the other (they pin
// servers and load to CPUs and must not overlap), passing the options on (`--quick` for a short
// pass). Each writes bench/out/experiments/<name>.md; docs/experiments.md carries those tables
// with the decisions taken from them.
//   node bench/experiments/all.js [--quick] [--only a,b]
const { spawnSync } = require('child_process');
const path = require('path');

const ALL = ['triggering', 'starvation', 'accept', 'inbox', 'startup', 'allocator', 'tsfn', 'scaling', 'spin'];
const argv = process.argv.slice(2);
const oi = argv.indexOf('--only');
const only = oi >= 0 ? argv.splice(oi, 2)[1].split(',') : ALL;
for (const name of only) {
  if (!ALL.includes(name)) {
    process.stderr.write(`experiments: unknown experiment ${name} (${ALL.join(', ')})\n`);
    process.exit(2);
  }
}
let failed = 0;
for (const name of only) {
  process.stderr.write(`\n== ${name}\n`);
  const r = spawnSync(process.execPath, [path.join(__dirname, `${name}.js`), ...argv], { stdio: 'inherit' });
  if (r.status !== 0) {
    failed++;
    process.stderr.write(`experiments: ${name} failed (status ${r.status})\n`);
  }
}
process.exit(failed ? 1 : 0);
