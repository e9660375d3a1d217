// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Experiment: IO-thread scaling, native-only (docs/experiments.md).
//   node bench/experiments/scaling.js [--threads 1,2,4,8] [--runs N] [--seconds S] [--quick]
// The native-only echo server with 1, 2, 4 and 8 IO threads (and as many consumer threads), the
// server on the upper half of the CPUs and the load generator (one thread per CPU of its half)
// on the lower half. On a 2-CPU machine the server has one CPU and cannot scale: the figures
// say what threads cost there. The command is the same on a bigger machine.
const c = require('./common');

const o = c.options({ threads: '1,2,4,8', runs: 3, seconds: 4, warmup: 1, quick: false });
if (o.quick) Object.assign(o, { runs: 1, seconds: 2, warmup: 0.5 });
c.need([
  [c.LOADGEN, 'npm run build:c'],
  [c.NATIVE, 'npm run build:c'],
]);
const THREADS = String(o.threads).split(',').map(Number);
const CASES = [
  { id: 'c100d16', name: '64 B, 100 conns, depth 16', args: ['--conns', '100', '--depth', '16', '--size', '64'] },
  { id: '4k', name: '4 KiB, 64 conns, depth 8', args: ['--conns', '64', '--depth', '8', '--size', '4096'] },
];

async function main() {
  const plan = c.cpuPlan();
  const raw = [];
  const rows = [];
  for (const kase of CASES) {
    const base = {};
    for (const n of THREADS) {
      const rates = [];
      const runs = [];
      for (let r = 0; r < o.runs; r++) {
        const { child, port } = await c.server(plan.server, c.NATIVE, (p) => ['--port', String(p), '--io-threads', String(n), '--ports', String(n)]);
        try {
          const j = await c.loadgen(plan.load, port, [...kase.args, '--threads', String(plan.loadCpus)], o.seconds, o.warmup);
          if (j.valid) rates.push(j.msgs_per_s);
          runs.push(j);
          raw.push({ caseId: kase.id, threads: n, ...j, stderr: undefined });
        } finally {
          await c.proc.stopChild(child, 3000);
        }
      }
      const m = rates.length ? c.median(rates) : null;
      if (n === THREADS[0]) base.rate = m;
      rows.push([kase.name, n, m === null ? 'invalid' : Math.round(m).toLocaleString('en-US'), m === null || !base.rate ? 'n/a' : `${(m / base.rate).toFixed(2)}×`, c.steal(runs)]);
      process.stderr.write(`${kase.id} ${n} IO threads: ${m === null ? 'invalid' : Math.round(m)} msgs/s\n`);
    }
  }
  const body = [
    `Server (ew_echo_native, N IO threads and N consumer threads) on CPU ${plan.server} (${plan.serverCpus} CPU${plan.serverCpus > 1 ? 's' : ''}); ew_loadgen with ${plan.loadCpus} thread(s) on CPU ${plan.load}; medians of ${o.runs} run(s) of ${o.seconds} s.`,
    '',
    c.table(['case', 'IO threads', 'msgs/s', 'vs 1 thread', 'steal %'], rows),
  ].join('\n');
  c.report('scaling', 'IO-thread scaling (native-only)', body, raw);
}

c.main('scaling', main);
