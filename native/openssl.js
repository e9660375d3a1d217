// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Where the OpenSSL headers are: the ones Node ships with its own headers (include/node/openssl,
// the OpenSSL that the running node binary carries and exports). The core compiles against
// them and links no OpenSSL (DESIGN §14): inside the addon the symbols come from node, so the
// process has one OpenSSL. OPENSSL_INCLUDE_DIR overrides. Used by binding.gyp and
// CMakeLists.txt. Modes: include (the directory that holds openssl/), version (node's OpenSSL).
const fs = require('fs');
const path = require('path');

function include() {
  const candidates = [
    process.env.OPENSSL_INCLUDE_DIR,
    process.env.npm_config_nodedir && path.join(process.env.npm_config_nodedir, 'include', 'node'),
    path.resolve(process.execPath, '..', '..', 'include', 'node'),
  ].filter(Boolean);
  for (const dir of candidates) {
    if (fs.existsSync(path.join(dir, 'openssl', 'evp.h'))) return dir;
  }
  throw new Error(
    `OpenSSL headers not found (looked in ${candidates.join(', ')}): install Node's headers ` +
      '(the nodejs package of nodesource ships them) or set OPENSSL_INCLUDE_DIR',
  );
}

const mode = process.argv[2];
if (mode === 'include') process.stdout.write(include());
else if (mode === 'version') process.stdout.write(process.versions.openssl);
else {
  process.stderr.write('usage: node native/openssl.js include|version\n');
  process.exit(2);
}
