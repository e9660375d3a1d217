// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// `node dist/demo.js [options]`, kept for scripts that ran the demo this way: the same as
// `evwire demo [options]` (lib/cli/demo.ts; `evwire demo --help` lists the options).
import { main } from './cli/main';

main(['demo', ...process.argv.slice(2)]).then((code) => {
  if (code !== undefined) process.exitCode = code;
});
