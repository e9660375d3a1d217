// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// `npm run demo` and `npm start` run this first: it rebuilds only what is older than its
// sources, calling the build steps directly (no nested `npm run`, so no npm banners), and says
// in one line on stderr what it builds and why. A current build costs a few stat() calls.
//   protobuf code  lib/gen/          <- proto/**/*.proto, scripts/gen-proto.js
//   the addon      build/Release/evwire.node <- native/core/**, native/addon/**, binding.gyp,
//                                       native/sources.txt, native/llhttp.js, native/libevent.js
//   TypeScript     dist/**/*.js      <- lib/**/*.ts (each file against its output), lib/gen/*.js,
//                                       tsconfig.json
// In an installed package (no lib/ or native sources) there is nothing to check. A failed step
// prints its output and exits 1. `--check` only reports what is stale (exit 1 when anything is).
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const at = (...p) => path.join(root, ...p);
const checkOnly = process.argv.includes('--check');

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

function walk(dir, test) {
  let out = [];
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out = out.concat(walk(p, test));
    else if (test(p)) out.push(p);
  }
  return out;
}

/** The newest of `files`: { file, ms }, or null for an empty list. */
function newest(files) {
  let best = null;
  for (const f of files) {
    const ms = mtime(f);
    if (best === null || ms > best.ms) best = { file: f, ms };
  }
  return best;
}

const rel = (f) => path.relative(root, f);

function run(what, why, cmd, args) {
  process.stderr.write(`evwire: building ${what} (${why})\n`);
  if (checkOnly) return;
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: process.env });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    process.stderr.write(`evwire: building ${what} failed (${r.error ? r.error.message : `exit code ${r.status}`}): ${[cmd, ...args].join(' ')}\n`);
    process.exit(1);
  }
}

let stale = 0;

// 1. Protobuf code.
const protos = walk(at('proto'), (f) => f.endsWith('.proto'));
if (protos.length > 0) {
  const src = newest([...protos, at('scripts', 'gen-proto.js')]);
  const outs = protos.flatMap((p) => ['.js', '.d.ts', '.types.ts'].map((x) => at('lib', 'gen', path.basename(p, '.proto') + x)));
  const oldest = Math.min(...outs.map(mtime));
  if (oldest < src.ms) {
    stale++;
    run('the protobuf code', oldest < 0 ? 'lib/gen/ missing' : `${rel(src.file)} changed`, process.execPath, [at('scripts', 'gen-proto.js')]);
  }
}

// 2. The addon. node-gyp-build prefers build/Release over prebuilds/. An installed package (no
// lib/: it ships its native sources but not its TypeScript) with a prebuilt binary and no
// build/ is left alone; a clone always builds build/Release from its own sources, or a
// prebuilt binary made from older ones would be loaded.
const addon = at('build', 'Release', 'evwire.node');
const installed = !fs.existsSync(at('lib'));
if (fs.existsSync(at('native', 'sources.txt')) && !(installed && mtime(addon) < 0 && fs.existsSync(at('prebuilds')))) {
  const sources = [
    ...walk(at('native', 'core'), (f) => /\.(c|h)$/.test(f)),
    ...walk(at('native', 'addon'), (f) => /\.(cc|h)$/.test(f)),
    at('binding.gyp'),
    at('native', 'sources.txt'),
    at('native', 'llhttp.js'),
    at('native', 'libevent.js'),
  ];
  const src = newest(sources);
  const built = mtime(addon);
  if (built < src.ms) {
    stale++;
    // With a configured build/ (and binding.gyp older than it) make rebuilds only what changed.
    const configured = mtime(at('build', 'Makefile')) > mtime(at('binding.gyp')) && mtime(at('build', 'config.gypi')) > 0;
    run('the addon', built < 0 ? 'build/Release/evwire.node missing' : `${rel(src.file)} changed`, ...nodeGyp(configured ? 'build' : 'rebuild'));
  }
}

// 3. TypeScript, after lib/gen/wire.ts (the wire constants, from the addon) is current.
if (fs.existsSync(at('lib'))) {
  if (!checkOnly) require('./gen-wire.js').generate();
  const tsconfig = mtime(at('tsconfig.json'));
  let why = null;
  for (const f of walk(at('lib'), (p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))) {
    const out = at('dist', path.relative(at('lib'), f).replace(/\.ts$/, '.js'));
    const built = mtime(out);
    if (built < 0) why = `${rel(out)} missing`;
    else if (built < mtime(f) || built < tsconfig) why = `${rel(f)} changed`;
    if (why !== null) break;
  }
  if (why === null) {
    for (const f of walk(at('lib', 'gen'), (p) => p.endsWith('.js') || (p.endsWith('.d.ts') && !p.endsWith('.types.d.ts')))) {
      if (mtime(at('dist', 'gen', path.basename(f))) < mtime(f)) {
        why = `${rel(f)} changed`;
        break;
      }
    }
  }
  if (why !== null) {
    stale++;
    run('the TypeScript', why, process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', at('tsconfig.json')]);
    if (!checkOnly) {
      require('./copy-gen.js');
      fs.chmodSync(at('dist', 'cli.js'), 0o755);
    }
  }
}

// node-gyp: the one npm runs scripts with (npm_config_node_gyp), else a local or global one.
function nodeGyp(verb) {
  const candidates = [
    process.env.npm_config_node_gyp,
    at('node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const js = candidates.find((c) => c && fs.existsSync(c));
  return js !== undefined ? [process.execPath, [js, verb]] : ['node-gyp', [verb]];
}

if (checkOnly && stale > 0) process.exit(1);
