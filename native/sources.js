// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Prints native/sources.txt for binding.gyp's <!@(...) expansion: one path per line, comments
// and blank lines dropped.
const fs = require('fs');
const path = require('path');
const list = fs
  .readFileSync(path.join(__dirname, 'sources.txt'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
process.stdout.write(list.join('\n') + '\n');
