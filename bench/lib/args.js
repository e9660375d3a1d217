// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The command-line reading the benchmark entry points share: `--name value`, `--name=value`,
// flags without a value, and -h/--help (prints `usage`, exits 0). What each option means, and
// how its value is checked, stays with its program.

/**
 * Splits `argv` into [option, value] pairs in order; a flag's value is undefined. `isFlag(name)`
 * says which options take no value; `fail(message)` reports a usage error and must not return.
 */
function readOptions(argv, { isFlag, usage, fail }) {
  const out = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let v;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      v = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    if (a === '-h' || a === '--help') {
      process.stdout.write(usage);
      process.exit(0);
    }
    if (!a.startsWith('--')) fail(`unknown option ${argv[i]}`);
    if (isFlag(a)) {
      if (v !== undefined) fail(`${a} takes no value`);
    } else if (v === undefined) {
      if (i + 1 >= argv.length) fail(`${a} needs a value`);
      v = argv[++i];
    }
    out.push([a, v]);
  }
  return out;
}

module.exports = { readOptions };
