// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Loaded with `mocha --require dist-test/inline-mode.js` (npm run test:js:inline): every
// runtime the tests start runs its IO loop inline on the JavaScript thread (ioThreads: 0),
// whatever count the test asked for, so the suite runs a second time in inline mode. Runtimes
// that pin IO threads to CPUs keep their threads (there is no IO thread to pin inline).
import { Runtime, type RuntimeOptions } from '../dist/index';

const start = Runtime.start.bind(Runtime);
Runtime.start = (opts: RuntimeOptions = {}): Promise<Runtime> => {
  if (opts.affinity !== undefined && opts.affinity !== 'off') return start(opts);
  // Only valid counts: the tests of bad values keep theirs.
  const n = opts.ioThreads;
  if (n !== undefined && !(Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 64)) return start(opts);
  return start({ ...opts, ioThreads: 0 });
};
process.env.EVWIRE_TEST_INLINE = '1';
