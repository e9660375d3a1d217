// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Experiment: edge- vs level-triggered connections (docs/experiments.md).
//   node bench/experiments/triggering.js [--runs N] [--seconds S] [--quick]
// For the JavaScript echo server and the native-only one, in both modes, on the benchmark's
// cases: messages per second, round-trip latency, syscalls per message (perf stat on the
// server during the measured window) and server CPU time per message (steal excluded).
const { spawn } = require('child_process');
const c = require('./common');

const o = c.options({ runs: 3, seconds: 4, warmup: 1, quick: false });
if (o.quick) Object.assign(o, { runs: 1, seconds: 2, warmup: 0.5 });
c.need([
  [c.LOADGEN, 'npm run build:c'],
  [c.NATIVE, 'npm run build:c'],
  [`${c.ROOT}/dist/index.js`, 'npm run build'],
]);

const CASES = [
  { id: 'c1', name: '64 B, 1 conn, depth 1 (client on the server CPU)', args: ['--conns', '1', '--depth', '1', '--size', '64'], sameCpu: true },
  { id: 'c100d1', name: '64 B, 100 conns, depth 1', args: ['--conns', '100', '--depth', '1', '--size', '64'] },
  { id: 'c100d16', name: '64 B, 100 conns, depth 16', args: ['--conns', '100', '--depth', '16', '--size', '64'] },
  { id: 'burst', name: '64 B, 100 conns, burst of 256', args: ['--conns', '100', '--depth', '256', '--size', '64', '--burst'] },
  { id: '4k', name: '4 KiB, 16 conns, depth 16', args: ['--conns', '16', '--depth', '16', '--size', '4096'] },
];
const SERVERS = [];
for (const mode of ['edge', 'level']) {
  SERVERS.push({ name: `js ${mode}`, cmd: process.execPath, args: (p) => [c.EVWIRE_JS, '--port', String(p), '--triggering', mode] });
  SERVERS.push({ name: `native ${mode}`, cmd: c.NATIVE, args: (p) => ['--port', String(p), ...(mode === 'level' ? ['--level'] : [])] });
}

const hasPerf = c.proc.commandExists('perf');

/** Counts the server's syscalls over `seconds` with perf, or null without it. */
function countSyscalls(pid, seconds) {
  if (!hasPerf) return Promise.resolve(null);
  return new Promise((resolve) => {
    const p = spawn('perf', ['stat', '-x,', '-e', 'raw_syscalls:sys_enter', '-p', String(pid), '--', 'sleep', String(seconds)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('close', () => {
      const m = /^(\d+),/m.exec(err);
      resolve(m ? Number(m[1]) : null);
    });
  });
}

async function one(kase, srv, plan) {
  const { child, port } = await c.server(plan.server, srv.cmd, srv.args);
  try {
    const loadCpu = kase.sameCpu ? plan.server : plan.load;
    const run = c.loadgen(loadCpu, port, kase.args, o.seconds, o.warmup);
    // Measure only inside the load generator's measured window.
    await new Promise((r) => setTimeout(r, (o.warmup + 0.2) * 1000));
    const t0 = c.cpuTicks(child.pid);
    const sys = countSyscalls(child.pid, o.seconds - 0.4);
    const [sc] = await Promise.all([sys, new Promise((r) => setTimeout(r, (o.seconds - 0.4) * 1000))]);
    const t1 = c.cpuTicks(child.pid);
    const j = await run;
    const window = o.seconds - 0.4;
    return {
      valid: j.valid,
      stealPct: j.stealPct,
      rate: j.msgs_per_s,
      p50: j.p50_us,
      p99: j.p99_us,
      syscallsPerMsg: sc === null || !j.msgs_per_s ? null : sc / window / j.msgs_per_s,
      cpuUsPerMsg: t0 === null || t1 === null || !j.msgs_per_s ? null : ((t1 - t0) * 10000) / window / j.msgs_per_s,
    };
  } finally {
    await c.proc.stopChild(child, 3000);
  }
}

async function main() {
  const plan = c.cpuPlan();
  const results = [];
  for (const kase of CASES) {
    for (let r = 0; r < o.runs; r++) {
      // Rotate the order so no server always runs first.
      const order = SERVERS.map((_, i) => SERVERS[(i + r) % SERVERS.length]);
      for (const srv of order) {
        const x = await one(kase, srv, plan);
        results.push({ caseId: kase.id, server: srv.name, ...x });
        process.stderr.write(`${kase.id} ${srv.name}: ${Math.round(x.rate)} msgs/s, ${x.syscallsPerMsg?.toFixed(3) ?? 'n/a'} syscalls/msg${x.valid ? '' : ' (INVALID)'}\n`);
      }
    }
  }
  const f = (x, d) => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(d));
  const rows = [];
  for (const kase of CASES) {
    for (const srv of SERVERS) {
      const rs = results.filter((x) => x.caseId === kase.id && x.server === srv.name && x.valid);
      const med = (k) => (rs.length ? c.median(rs.map((x) => x[k]).filter((v) => v !== null)) : null);
      rows.push([kase.name, srv.name, rs.length ? Math.round(med('rate')).toLocaleString('en-US') : 'invalid', f(med('p50'), 0), f(med('p99'), 0), f(med('syscallsPerMsg'), 3), f(med('cpuUsPerMsg'), 3), c.steal(rs)]);
    }
  }
  const body = [
    `Medians of ${o.runs} run(s) of ${o.seconds} s (after ${o.warmup} s warmup) per cell; server on CPU ${plan.server}, load generator on CPU ${plan.load}. ` +
      'Syscalls: `perf stat -e raw_syscalls:sys_enter` on the server process over the measured window; CPU: user+system time of the server per message.',
    '',
    c.table(['case', 'server', 'msgs/s', 'p50 µs', 'p99 µs', 'syscalls/msg', 'CPU µs/msg', 'steal %'], rows),
  ].join('\n');
  c.report('triggering', 'Edge- vs level-triggered connections', body, results);
}

c.main('triggering', main);
