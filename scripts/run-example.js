// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// `npm run example <name>`: runs examples/<name>.mts, compiled (by the same npm script) into
// dist-examples/<name>.mjs. Needs the package built first (`npm run build`): the examples
// import 'evwire', which resolves to this package itself through its "exports" map.
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

const dir = path.resolve(__dirname, '..', 'dist-examples');
const names = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.mjs') && !/-(tasks|worker)\.mjs$/.test(f)).map((f) => f.slice(0, -4)) : [];
const name = process.argv[2];
if (name === undefined || !names.includes(name)) {
  console.error(`usage: npm run example <name>, one of: ${names.join(', ') || '(none built: npm run build first)'}`);
  process.exit(2);
}
process.argv.splice(2, 1);
import(pathToFileURL(path.join(dir, `${name}.mjs`)).href).catch((err) => {
  console.error(err);
  process.exit(1);
});
