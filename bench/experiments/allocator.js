// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Experiment: allocators (docs/experiments.md).
//   node bench/experiments/allocator.js [--runs N] [--seconds S] [--quick]
// glibc malloc against tcmalloc (libtcmalloc-minimal4) and jemalloc (libjemalloc2), preloaded
// with LD_PRELOAD into the native-only server and into the JavaScript one, on an echo case and
// on a connection churn case (each connection sends one frame, then reconnects): does the
// allocator matter, and would an object pool in the core be worth its code?
const fs = require('fs');
const c = require('./common');

const o = c.options({ runs: 3, seconds: 4, warmup: 1, quick: false });
if (o.quick) Object.assign(o, { runs: 1, seconds: 2, warmup: 0.5 });
c.need([
  [c.LOADGEN, 'npm run build:c'],
  [c.NATIVE, 'npm run build:c'],
]);
const LIBDIR = '/usr/lib/x86_64-linux-gnu';
const ALLOCATORS = [
  { name: 'glibc', env: {} },
  { name: 'tcmalloc', env: { LD_PRELOAD: `${LIBDIR}/libtcmalloc_minimal.so.4` }, pkg: 'libtcmalloc-minimal4' },
  { name: 'jemalloc', env: { LD_PRELOAD: `${LIBDIR}/libjemalloc.so.2` }, pkg: 'libjemalloc2' },
].filter((a) => {
  if (!a.env.LD_PRELOAD || fs.existsSync(a.env.LD_PRELOAD)) return true;
  process.stderr.write(`allocator: ${a.name} skipped: ${a.env.LD_PRELOAD} missing (apt-get install ${a.pkg})\n`);
  return false;
});
const CASES = [
  { id: 'echo', name: 'echo 64 B, 100 conns, depth 16', args: ['--conns', '100', '--depth', '16', '--size', '64'], metric: 'msgs_per_s' },
  { id: 'churn', name: 'churn: 50 conns, reconnect after each frame', args: ['--conns', '50', '--depth', '1', '--size', '64', '--reconnect-after', '1'], metric: 'connects_per_s' },
];
const SERVERS = [
  { name: 'native', cmd: c.NATIVE, args: (p) => ['--port', String(p)] },
  { name: 'js', cmd: process.execPath, args: (p) => [c.EVWIRE_JS, '--port', String(p)] },
];

async function main() {
  const plan = c.cpuPlan();
  const raw = [];
  for (const kase of CASES) {
    for (const srv of SERVERS) {
      for (let r = 0; r < o.runs; r++) {
        for (const alloc of r % 2 ? [...ALLOCATORS].reverse() : ALLOCATORS) {
          const { child, port } = await c.server(plan.server, srv.cmd, srv.args, alloc.env);
          try {
            const t0 = c.cpuTicks(child.pid);
            const j = await c.loadgen(plan.load, port, kase.args, o.seconds, o.warmup);
            const t1 = c.cpuTicks(child.pid);
            const rss = Number((/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8')) || [])[1] || 0);
            const v = j[kase.metric];
            const ops = kase.metric === 'msgs_per_s' ? j.msgs : j.connects;
            raw.push({ caseId: kase.id, server: srv.name, alloc: alloc.name, valid: j.valid, value: v, peakRssKiB: rss, cpuUsPerOp: ops ? ((t1 - t0) * 10000) / (ops * ((o.seconds + o.warmup) / o.seconds)) : null, stealPct: j.stealPct });
            process.stderr.write(`${kase.id} ${srv.name} ${alloc.name}: ${Math.round(v)} ${kase.metric}${j.valid ? '' : ' INVALID'}\n`);
          } finally {
            await c.proc.stopChild(child, 3000);
          }
        }
      }
    }
  }
  const rows = [];
  for (const kase of CASES) {
    for (const srv of SERVERS) {
      const base = c.median(raw.filter((x) => x.caseId === kase.id && x.server === srv.name && x.alloc === 'glibc' && x.valid).map((x) => x.value));
      for (const alloc of ALLOCATORS) {
        const rs = raw.filter((x) => x.caseId === kase.id && x.server === srv.name && x.alloc === alloc.name && x.valid);
        const v = rs.length ? c.median(rs.map((x) => x.value)) : null;
        const cpu = rs.length ? c.median(rs.map((x) => x.cpuUsPerOp).filter((x) => x !== null)) : null;
        rows.push([kase.name, srv.name, alloc.name, v === null ? 'invalid' : Math.round(v).toLocaleString('en-US'), v && base ? `${(v / base).toFixed(2)}×` : 'n/a', cpu === null ? 'n/a' : cpu.toFixed(2), rs.length ? `${Math.round(c.median(rs.map((x) => x.peakRssKiB)) / 1024)} MiB` : 'n/a', c.steal(rs)]);
      }
    }
  }
  const body = [
    `Server on CPU ${plan.server}, load generator on CPU ${plan.load}; medians of ${o.runs} run(s) of ${o.seconds} s. Echo: messages/s; churn: connections/s (each connection sends one frame, gets it back, closes and reconnects). Server CPU µs/op: user+system time of the server (warmup included) per message or connection, which steal does not inflate. Peak RSS: VmHWM of the server.`,
    '',
    c.table(['case', 'server', 'allocator', 'rate', 'vs glibc', 'server CPU µs/op', 'peak RSS', 'steal %'], rows),
  ].join('\n');
  c.report('allocator', 'Allocators: glibc, tcmalloc, jemalloc', body, raw);
}

c.main('allocator', main);
