// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Lint step of `npm test`: every source file tracked by git (C, C++, TypeScript and JavaScript,
// .mts/.mjs/.cjs included, shell, CMake, gyp, proto) starts with the project's SPDX line and
// copyright line (after a shebang, where there is one), and no code carries a bare TODO: one
// names the issue it waits for ("TODO(#12)") or is not written.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const SPDX = 'SPDX-License-Identifier: MIT';
const COPYRIGHT = 'Copyright (c) 2026 evwire contributors';
const SOURCE = /\.(c|h|cc|ts|mts|js|mjs|cjs|sh|proto|gyp|txt)$|(^|\/)(CMakeLists\.txt|run)$/;
const SKIP = /^(native\/sources\.txt|LICENSE)$/;

const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && SOURCE.test(f) && !SKIP.test(f) && fs.existsSync(path.join(root, f)));

const problems = [];
for (const f of files) {
  const lines = fs.readFileSync(path.join(root, f), 'utf8').split('\n');
  const start = lines[0].startsWith('#!') ? 1 : 0;
  const head = lines.slice(start, start + 2);
  if (!head[0]?.includes(SPDX) || !head[1]?.includes(COPYRIGHT)) problems.push(`${f}: missing the SPDX and copyright header lines`);
  lines.forEach((l, i) => {
    if (/\bTODO\b(?!\(#\d+\))/.test(l) && !/check-headers\.js$/.test(f)) problems.push(`${f}:${i + 1}: bare TODO (name the issue: TODO(#N))`);
  });
}
if (problems.length) {
  console.error(problems.join('\n'));
  console.error(`check-headers: ${problems.length} problem(s) in ${files.length} files`);
  process.exit(1);
}
console.log(`check-headers: ${files.length} files ok`);
