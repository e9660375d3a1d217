// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// ESLint with typescript-eslint's recommended rules over the TypeScript of lib/, test/ and
// examples/ (npm run test:lint). Import cycles are dependency-cruiser's (.dependency-cruiser.cjs).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['lib/gen/**', 'dist/**', 'dist-test/**', 'dist-examples/**', 'build*/**', 'node_modules/**'] },
  ...tseslint.configs.recommended,
  { files: ['lib/**/*.ts', 'test/**/*.ts', 'examples/**/*.mts'] },
);
