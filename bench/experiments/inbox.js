// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Experiment: inbox capacity (docs/experiments.md).
//   node bench/experiments/inbox.js [--commands N] [--producers P]
// The seed worried that commands to an IO thread are lost when a pipe is full. This shows a
// pipe's default and maximum capacity here, how often a burst from several producer threads
// finds a non-blocking pipe full, and that evwire's inbox (lock-free MPSC queue + eventfd)
// takes the same burst with none lost, in order per producer, and how few eventfd writes it
// costs. The numbers come from build-c/ew_inbox_bench.
const { spawnSync } = require('child_process');
const c = require('./common');

const o = c.options({ commands: 1000000, producers: 4, runs: 3, quick: false });
if (o.quick) o.runs = 1;
const bin = c.BIN('ew_inbox_bench');
c.need([[bin, 'npm run build:c']]);

const runs = [];
for (let i = 0; i < o.runs; i++) {
  const r = spawnSync(bin, ['--commands', String(o.commands), '--producers', String(o.producers)], { encoding: 'utf8', timeout: 120000 });
  if (r.status !== 0) c.fail(`ew_inbox_bench failed (status ${r.status}): ${r.stderr}`);
  const parts = Object.fromEntries(r.stdout.trim().split('\n').map((l) => JSON.parse(l)).map((j) => [j.part, j]));
  runs.push(parts);
}
const cap = runs[0].pipe_capacity;
const med = (part, key) => c.median(runs.map((r) => r[part][key]));
const n = (x) => Math.round(x).toLocaleString('en-US');
const body = [
  `A pipe holds ${n(cap.default_bytes)} bytes by default (${n(cap.default_commands)} pointer-sized commands) and at most ${n(cap.max_bytes)} bytes (${n(cap.max_commands)}) after F_SETPIPE_SZ up to /proc/sys/fs/pipe-max-size.`,
  '',
  `A burst of ${n(o.commands)} commands from ${o.producers} producer threads, one consumer draining as fast as it can; medians of ${o.runs} run(s):`,
  '',
  c.table(
    ['channel', 'commands delivered', 'writes refused (EAGAIN)', 'out of order (per producer)', 'eventfd writes', 'seconds'],
    [
      ['non-blocking pipe (producers retry on EAGAIN)', n(o.commands), n(med('pipe_burst', 'eagain')), n(med('pipe_burst', 'misordered')), '—', med('pipe_burst', 'seconds').toFixed(3)],
      ['evwire inbox (MPSC queue + eventfd, armed flag)', n(med('inbox_burst', 'delivered')), '0 (cannot be full)', n(med('inbox_burst', 'misordered')), n(med('inbox_burst', 'eventfd_writes')), med('inbox_burst', 'seconds').toFixed(3)],
    ],
  ),
  '',
  'Every EAGAIN is a command that a pipe-based inbox must drop, buffer elsewhere, or block its producer for (an IO thread must not block); the inbox has no such case, and the armed flag turns a million commands into a few thousand eventfd writes.',
].join('\n');
c.report('inbox', 'Inbox capacity', body, runs);
