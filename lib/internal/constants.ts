// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The shared-memory format as JavaScript sees it: the constants of native/core/include/ew/wire.h,
// generated into lib/gen/wire.ts by scripts/gen-wire.js at build time (plain exported constants,
// so the hot path reads numbers, not a table), and the one helper below.
//
// lib/ imports the constants from '../gen/wire' itself, never through this module: compiled to
// CommonJS, `export *` makes every name a getter, and all of them share one function whose
// `m[k]` load sees every name, so V8 treats it as megamorphic and each constant read in the
// engine's record loop cost a generic property lookup (a CPU profile of the burst echo put 40%
// of the JavaScript thread in that getter). This module stays for tests and tools.
export * from '../gen/wire';
import { REC_HEADER_BYTES } from '../gen/wire';

/** Bytes a record with `body` body bytes occupies (EW_REC_SIZE). */
export function recSize(body: number): number {
  return (body + REC_HEADER_BYTES + 7) & ~7;
}
