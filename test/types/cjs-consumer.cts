// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// A CommonJS user of the package by its name (the "require" condition: dist/index.js and
// dist/index.d.ts); test/types/tsconfig.node16.json compiles it.
// The CommonJS form of an import, as a CommonJS user of the types writes it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
import evwire = require('evwire');

export async function main(): Promise<void> {
  const rt = await evwire.Runtime.start({ logger: { level: 'silent' } });
  const server = await rt.listen({ protocol: 'http', port: 0 });
  server.get('/', (_req, res) => res.end('ok'));
  const stats: evwire.IoThreadStats[] = rt.stats();
  console.log(stats[0].bytesIn);
  await rt.close();
}
