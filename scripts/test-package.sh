#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
#
# npm run test:package: the package as a user installs it. Builds the prebuilt binary (npm run
# prebuilds), packs the tarball (npm pack), installs it into an empty project with no compiler,
# make or python on PATH and with libevent's shared libraries hidden (a private mount namespace
# in which each one is covered by /dev/null), then runs a framed echo round trip through
# `require('evwire')` and through `import { Runtime } from 'evwire'`, and checks with ldd that
# the installed addon names no libevent. Dependencies come from npm's cache (--prefer-offline),
# so after `npm ci` it needs no network. Needs root or unprivileged user namespaces (unshare).
#
#   PACKAGE_KEEP=1  keep the scratch directory (its path is printed)
#   DEBUG=1         trace the script
set -euo pipefail
[ "${DEBUG:-0}" = 1 ] && set -x
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
say() { echo "test-package: $*"; }
fail() { echo "test-package: FAIL: $*" >&2; exit 1; }

tmp=$(mktemp -d)
if [ "${PACKAGE_KEEP:-0}" = 1 ]; then say "scratch directory $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi

# 1. The binary, the compiled package and the tarball.
bash scripts/prebuild.sh | tail -n 1
[ -f dist/index.js ] && [ -f dist/index.mjs ] || fail "dist/ is not built (npm run build:ts)"
tgz="$tmp/$(npm pack --silent --pack-destination "$tmp" | tail -n 1)"
[ -f "$tgz" ] || fail "npm pack wrote no tarball"
listing=$(tar -tzf "$tgz")
for f in package/prebuilds/linux-x64/evwire.node package/dist/index.js package/dist/index.mjs \
  package/dist/index.d.ts package/dist/index.d.mts package/binding.gyp package/native/llhttp.js; do
  grep -qx "$f" <<<"$listing" || fail "the tarball lacks $f"
done
if grep -qE '^package/(build|deps|test|dist-test|node_modules)/' <<<"$listing"; then
  fail "the tarball holds build outputs or tests: $(grep -E '^package/(build|deps|test|dist-test|node_modules)/' <<<"$listing" | head -n 3)"
fi
# The benchmark-only addon (binding.gyp's evwire_bench) is neither prebuilt nor buildable from
# the package: its sources (native/bench/) stay out.
if grep -qE '^package/(native/bench/|bench/)|evwire_bench' <<<"$listing"; then
  fail "the tarball holds the benchmarks or their addon: $(grep -E '^package/(native/bench/|bench/)|evwire_bench' <<<"$listing" | head -n 3)"
fi
say "$(basename "$tgz"): $(wc -l <<<"$listing") files, $(stat -c %s "$tgz") bytes"

# 2. A PATH with node, npm and a shell, and no compiler.
bin="$tmp/bin"
mkdir -p "$bin"
ln -s "$(command -v node)" "$bin/node"
npm_cli=$(readlink -f "$(command -v npm)")
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$(command -v node)" "$npm_cli" >"$bin/npm"
chmod +x "$bin/npm"
ln -s /bin/sh "$bin/sh"
for tool in cc gcc g++ c++ make python3 python; do
  if PATH="$bin" command -v "$tool" >/dev/null 2>&1; then fail "$tool is on the stripped PATH"; fi
done

# 3. The consumer: a framed echo round trip, once through require and once through import.
app="$tmp/app"
mkdir -p "$app"
echo '{ "name": "evwire-consumer", "version": "1.0.0", "private": true }' >"$app/package.json"
cat >"$app/echo.js" <<'JS'
// The frame format (big-endian): u32 body length, u16 type, u16 flags, u32 seq, then the body.
exports.roundTrip = async function roundTrip(evwire, how) {
  const net = require('net');
  const rt = await evwire.Runtime.start({ logger: { level: 'silent' } });
  const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
  server.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body, { seq: m.seq })));
  const body = Buffer.from(`hello through ${how}`);
  const head = Buffer.alloc(12);
  head.writeUInt32BE(body.length, 0);
  head.writeUInt16BE(7, 4);
  head.writeUInt32BE(42, 8);
  const s = net.connect(server.address().port, '127.0.0.1');
  const got = await new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => reject(new Error('no echo within 10 s')), 10000);
    s.on('error', reject);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 12 && buf.length >= 12 + buf.readUInt32BE(0)) {
        clearTimeout(timer);
        resolve(buf);
      }
    });
    s.write(Buffer.concat([head, body]));
  });
  s.destroy();
  await rt.close();
  if (got.readUInt16BE(4) !== 7 || got.readUInt32BE(8) !== 42 || !got.subarray(12).equals(body)) throw new Error(`bad echo: ${got.toString('hex')}`);
  console.log(`echo through ${how}: ok`);
};
// Message encryption: the IO thread calls the OpenSSL of this node (no libcrypto of its own).
exports.sealedRoundTrip = async function sealedRoundTrip(evwire) {
  const { generateKeyPairSync } = require('crypto');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const rt = await evwire.Runtime.start({ logger: { level: 'silent' } });
  const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0, encryption: { mode: 'required', keys: { ed25519: privateKey } } });
  server.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body, { seq: m.seq })));
  const link = await rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: server.address().port, encryption: { mode: 'required', keys: { ed25519: publicKey } } });
  const got = new Promise((resolve) => link.once('message', resolve));
  link.send(7, Buffer.from('sealed'));
  const m = await got;
  await rt.close();
  if (Buffer.from(m.body).toString() !== 'sealed') throw new Error('bad sealed echo');
  console.log('sealed echo through the installed package: ok');
};
JS
echo "const e = require('./echo.js'); e.roundTrip(require('evwire'), 'require').then(() => e.sealedRoundTrip(require('evwire'))).catch((err) => { console.error(err); process.exit(1); });" >"$app/cjs.js"
cat >"$app/esm.mjs" <<'JS'
import { Runtime } from 'evwire';
import echo from './echo.js';
await echo.roundTrip({ Runtime }, 'import');
JS
cat >"$tmp/inside.sh" <<'SH'
set -euo pipefail
# Cover every libevent shared object: a process that needed one would now fail to load it.
hidden=0
for f in /usr/lib/*/libevent*.so* /usr/lib/libevent*.so* /usr/local/lib/libevent*.so*; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  mount --bind /dev/null "$f"
  hidden=$((hidden + 1))
done
echo "test-package: $hidden libevent shared object(s) hidden"
# And every OpenSSL one: the addon must take node's own OpenSSL (DESIGN §14), never a system copy.
hidden=0
for f in /usr/lib/*/libcrypto.so* /usr/lib/*/libssl.so* /usr/local/lib/libcrypto.so* /usr/local/lib/libssl.so*; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  mount --bind /dev/null "$f"
  hidden=$((hidden + 1))
done
echo "test-package: $hidden OpenSSL shared object(s) hidden"
cd "$APP"
PATH="$BIN" npm install --no-audit --no-fund --prefer-offline --loglevel=error "$TGZ"
addon=$(ls node_modules/evwire/prebuilds/*/evwire.node)
[ ! -e node_modules/evwire/build ] || { echo "test-package: FAIL: the install compiled (build/ exists)" >&2; exit 1; }
if ldd "$addon" | grep -q libevent; then echo "test-package: FAIL: $addon links libevent" >&2; exit 1; fi
if ldd "$addon" | grep -Eq 'libcrypto|libssl'; then echo "test-package: FAIL: $addon links an OpenSSL of its own" >&2; exit 1; fi
PATH="$BIN" node cjs.js
PATH="$BIN" node esm.mjs
SH
if [ "$(id -u)" = 0 ]; then ns=(unshare --mount --propagation private); else ns=(unshare --mount --map-root-user --propagation private); fi
APP="$app" BIN="$bin" TGZ="$tgz" "${ns[@]}" bash "$tmp/inside.sh"
say "installed with no compiler, no libevent and no system OpenSSL; require and import both echo, and a sealed echo runs"
