// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Experiment: starvation and the read budget (docs/experiments.md).
//   node bench/experiments/starvation.js [--budgets 0,16384,65536,262144] [--runs N] [--quick]
// Two connections on one IO thread: one floods pipelined 64 KiB frames as fast as the server
// takes them, the other sends a 64-byte frame every 10 ms and measures each round trip. The
// quiet connection's p50/p99/max latency, and the flood's throughput, as the per-connection
// read budget varies (0 = none: read until the socket is drained). Both the native-only server
// and the JavaScript one, edge-triggered (the default).
const c = require('./common');

const o = c.options({ budgets: '0,16384,65536,262144', runs: 3, seconds: 4, warmup: 1, quick: false });
if (o.quick) Object.assign(o, { runs: 1, seconds: 2, warmup: 0.5 });
c.need([
  [c.LOADGEN, 'npm run build:c'],
  [c.NATIVE, 'npm run build:c'],
]);
const BUDGETS = String(o.budgets).split(',').map(Number);
const SERVERS = [
  { name: 'native', cmd: c.NATIVE, args: (p, b) => ['--port', String(p), '--io-threads', '1', '--read-budget', String(b)] },
  { name: 'js', cmd: process.execPath, args: (p, b) => [c.EVWIRE_JS, '--port', String(p), '--io-threads', '1', '--read-budget', String(b)] },
];

async function main() {
  const plan = c.cpuPlan();
  const raw = [];
  for (const srv of SERVERS) {
    for (const budget of BUDGETS) {
      for (let r = 0; r < o.runs; r++) {
        const { child, port } = await c.server(plan.server, srv.cmd, (p) => srv.args(p, budget));
        try {
          // The flood gets a longer window so that it covers the probe's whole run.
          const flood = c.loadgen(plan.load, port, ['--conns', '1', '--depth', '64', '--size', '65536'], o.seconds + 1, o.warmup);
          await new Promise((res) => setTimeout(res, 300));
          const probe = await c.loadgen(plan.load, port, ['--conns', '1', '--interval-ms', '10', '--size', '64'], o.seconds, o.warmup);
          const f = await flood;
          raw.push({ server: srv.name, budget, valid: probe.valid && f.valid, p50: probe.p50_us, p99: probe.p99_us, max: probe.max_us, probes: probe.msgs, floodMBs: f.mb_per_s, stealPct: probe.stealPct });
          process.stderr.write(`${srv.name} budget ${budget}: probe p50 ${probe.p50_us} p99 ${probe.p99_us} max ${probe.max_us} µs, flood ${f.mb_per_s} MB/s${probe.valid && f.valid ? '' : ' INVALID'}\n`);
        } finally {
          await c.proc.stopChild(child, 3000);
        }
      }
    }
  }
  const rows = [];
  for (const srv of SERVERS) {
    for (const budget of BUDGETS) {
      const rs = raw.filter((x) => x.server === srv.name && x.budget === budget && x.valid);
      const med = (k) => (rs.length ? c.median(rs.map((x) => x[k])) : null);
      const fmt = (x) => (x === null ? 'n/a' : Math.round(x).toLocaleString('en-US'));
      rows.push([srv.name, budget === 0 ? 'none' : `${budget / 1024} KiB`, fmt(med('p50')), fmt(med('p99')), fmt(med('max')), fmt(med('probes')), med('floodMBs')?.toFixed(0) ?? 'n/a', c.steal(rs)]);
    }
  }
  const body = [
    `One IO thread on CPU ${plan.server}; both load generators on CPU ${plan.load}. The flood keeps 64 frames of 64 KiB in flight; the probe sends one 64-byte frame every 10 ms. Medians of ${o.runs} run(s) of ${o.seconds} s; latencies in µs.`,
    '',
    c.table(['server', 'read budget', 'probe p50', 'probe p99', 'probe max', 'probe frames', 'flood MB/s', 'steal %'], rows),
  ].join('\n');
  c.report('starvation', 'Starvation: the read budget', body, raw);
}

c.main('starvation', main);
