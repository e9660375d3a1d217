// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Experiment: rings vs threadsafe functions (docs/experiments.md).
//   node bench/experiments/tsfn.js [--runs N] [--seconds S] [--quick]
// The same IO threads and the same JavaScript echo handler, with messages crossing to
// JavaScript either through the shared-memory rings (evwire) or in batches through a
// napi_threadsafe_function, each message an object with its own Buffer, replies going back in
// one N-API call per batch (bench/peers/evwire-tsfn-echo.js, on the benchmark-only addon
// build/Release/evwire_bench.node). What do the rings buy?
const path = require('path');
const c = require('./common');
const benchAddon = require('../lib/bench-addon');

const o = c.options({ runs: 3, seconds: 4, warmup: 1, quick: false });
if (o.quick) Object.assign(o, { runs: 1, seconds: 2, warmup: 0.5 });
c.need([
  [c.LOADGEN, 'npm run build:c'],
  [path.join(c.ROOT, 'dist', 'index.js'), 'npm run build'],
  [benchAddon.FILE, 'npm run build:native'],
]);
const TSFN = path.join(c.ROOT, 'bench', 'peers', 'evwire-tsfn-echo.js');
const CASES = [
  { id: 'c1', name: '64 B, 1 conn, depth 1', args: ['--conns', '1', '--depth', '1', '--size', '64'] },
  { id: 'c100d16', name: '64 B, 100 conns, depth 16', args: ['--conns', '100', '--depth', '16', '--size', '64'] },
  { id: 'burst', name: '64 B, 100 conns, burst of 256', args: ['--conns', '100', '--depth', '256', '--size', '64', '--burst'] },
  { id: '4k', name: '4 KiB, 16 conns, depth 16', args: ['--conns', '16', '--depth', '16', '--size', '4096'] },
];
const SERVERS = [
  { name: 'rings (evwire)', cmd: process.execPath, args: (p) => [c.EVWIRE_JS, '--port', String(p)] },
  { name: 'threadsafe function', cmd: process.execPath, args: (p) => [TSFN, '--port', String(p)] },
];

async function main() {
  const plan = c.cpuPlan();
  const raw = [];
  for (const kase of CASES) {
    for (let r = 0; r < o.runs; r++) {
      for (const srv of r % 2 ? [...SERVERS].reverse() : SERVERS) {
        const { child, port } = await c.server(plan.server, srv.cmd, srv.args);
        try {
          await new Promise((res) => setTimeout(res, 10));
          const t0 = c.cpuTicks(child.pid);
          const j = await c.loadgen(plan.load, port, kase.args, o.seconds, o.warmup);
          const t1 = c.cpuTicks(child.pid);
          const cpu = t0 === null || t1 === null || !j.msgs ? null : ((t1 - t0) * 10000) / (j.msgs * ((o.seconds + o.warmup) / o.seconds));
          raw.push({ caseId: kase.id, server: srv.name, valid: j.valid, rate: j.msgs_per_s, p50: j.p50_us, p99: j.p99_us, cpuUsPerMsg: cpu, stealPct: j.stealPct });
          process.stderr.write(`${kase.id} ${srv.name}: ${Math.round(j.msgs_per_s)} msgs/s${j.valid ? '' : ' INVALID'}\n`);
        } finally {
          await c.proc.stopChild(child, 3000);
        }
      }
    }
  }
  const rows = [];
  for (const kase of CASES) {
    const med = (srv, k) => {
      const rs = raw.filter((x) => x.caseId === kase.id && x.server === srv && x.valid && x[k] !== null);
      return rs.length ? c.median(rs.map((x) => x[k])) : null;
    };
    const a = med(SERVERS[0].name, 'rate');
    const b = med(SERVERS[1].name, 'rate');
    for (const srv of SERVERS) {
      const rate = med(srv.name, 'rate');
      const rs = raw.filter((x) => x.caseId === kase.id && x.server === srv.name && x.valid);
      rows.push([kase.name, srv.name, rate === null ? 'invalid' : Math.round(rate).toLocaleString('en-US'), med(srv.name, 'p50')?.toFixed(0) ?? 'n/a', med(srv.name, 'p99')?.toFixed(0) ?? 'n/a', med(srv.name, 'cpuUsPerMsg')?.toFixed(2) ?? 'n/a', srv === SERVERS[0] && a && b ? `${(a / b).toFixed(2)}×` : '', c.steal(rs)]);
    }
  }
  const body = [
    `Medians of ${o.runs} run(s) of ${o.seconds} s; server on CPU ${plan.server}, load generator on CPU ${plan.load}. CPU µs/msg: user+system time of the server (warmup included) per message.`,
    '',
    c.table(['case', 'path to JavaScript', 'msgs/s', 'p50 µs', 'p99 µs', 'CPU µs/msg', 'rings / tsfn', 'steal %'], rows),
  ].join('\n');
  c.report('tsfn', 'Rings vs threadsafe functions', body, raw);
}

c.main('tsfn', main);
