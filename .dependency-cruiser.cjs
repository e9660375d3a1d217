// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// The layers of lib/ (docs/design-notes.md): no module may reach itself through its imports,
// type-only imports included (tsPreCompilationDeps), so each layer imports only from the ones
// below it. `npm run test:lint` runs it.
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: the layers of lib/ import only downwards.',
      from: { path: '^lib/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^lib/gen/' },
  },
};
