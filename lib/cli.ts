#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// `npx evwire <command>`: the package's command-line entry (package.json "bin"). Commands live
// in lib/cli/; `evwire --help` lists them.
import type * as Main from './cli/main';

// Loading the package loads the addon; without a build for this platform that fails before any
// command runs, and says so in one line rather than a stack.
let cli: typeof Main;
try {
  // A require() so that a failure to load (no addon build) is caught here and said in one line.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  cli = require('./cli/main') as typeof Main;
} catch (err) {
  process.stderr.write(`evwire: cannot load the package: ${(err as Error).message.split('\n')[0]}\n`);
  process.exit(1);
}
cli.main(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exitCode = code;
});
