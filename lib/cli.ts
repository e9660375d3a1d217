#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// `npx evwire <command>`: the package's command-line entry (package.json "bin"). Commands live
// in lib/cli/; `evwire --help` lists them.
import { main } from './cli/main';

main(process.argv.slice(2)).then((code) => {
  if (code !== undefined) process.exitCode = code;
});
