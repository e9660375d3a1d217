// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Experiment: spinning before sleep (docs/design-notes.md "Spinning before sleep").
//   node bench/experiments/spin.js [--spins 0,20] [--runs N] [--seconds S] [--quick]
// The JavaScript echo server and the native-only one, each with the IO thread's spin off and
// on, in two layouts: "shared", the server's threads on one CPU (bench/run.js's layout), and
// "split", the IO thread alone on the last CPU and the JavaScript thread (or the C consumer) on
// the load generator's CPU. Every cell runs once per round, rounds interleaved; the table gives the
// median rate and its range, the ratio to the same server without spinning, and, for the
// native server (which prints its IO counters), the IO thread's wake-ups and the spins that
// found work per 1,000 echoed frames.
const c = require('./common');

const o = c.options({ spins: '0,20', runs: 5, seconds: 2, warmup: 0.5, quick: false });
if (o.quick) Object.assign(o, { runs: 1, seconds: 1, warmup: 0.3 });
c.need([
  [c.LOADGEN, 'npm run build:c'],
  [c.NATIVE, 'npm run build:c'],
  [`${c.ROOT}/dist/index.js`, 'npm run build'],
]);
const SPINS = String(o.spins).split(',').map(Number);
const CASES = [
  { id: 'c1', name: '64 B, 1 conn, depth 1', args: ['--conns', '1', '--depth', '1', '--size', '64'] },
  { id: 'c100d16', name: '64 B, 100 conns, depth 16', args: ['--conns', '100', '--depth', '16', '--size', '64'] },
  { id: '4k', name: '4 KiB, 16 conns, depth 16', args: ['--conns', '16', '--depth', '16', '--size', '4096'] },
];

async function main() {
  const plan = c.cpuPlan();
  const io = plan.server.split('-').pop(); // the IO thread's CPU in the split layout
  const load = plan.load;
  const all = `${load},${io}`;
  const layouts = [
    // name, the process's CPUs, the IO thread's pinning, the JS thread's CPU after start
    { name: 'shared', cpus: { js: plan.server, native: plan.server }, ioArgs: { js: [], native: [] }, jsCpu: null },
    // The native server's IO threads take their CPU from --cpus, outside the process's mask; the
    // JavaScript one checks `affinity` against its mask, so it starts on both CPUs and its main
    // thread moves once it listens.
    { name: 'split', cpus: { js: all, native: load }, ioArgs: { js: ['--affinity', io], native: ['--cpus', io] }, jsCpu: load },
  ];
  const servers = [];
  for (const layout of layouts)
    for (const spin of SPINS) {
      servers.push({ kind: 'js', layout, spin, cmd: process.execPath, args: (p) => [c.EVWIRE_JS, '--port', String(p), '--spin-us', String(spin), ...layout.ioArgs.js] });
      servers.push({ kind: 'native', layout, spin, cmd: c.NATIVE, args: (p) => ['--port', String(p), '--spin-us', String(spin), '--stats', ...layout.ioArgs.native] });
    }
  const cells = new Map();
  const raw = [];
  for (let r = 0; r < o.runs; r++)
    for (const kase of CASES)
      for (const s of servers) {
        const key = `${kase.id} ${s.kind} ${s.layout.name} ${s.spin}`;
        const { child, port } = await c.server(s.layout.cpus[s.kind], s.cmd, s.args);
        let j;
        try {
          // Split: the JavaScript thread (the process's main thread) joins the load generator's
          // CPU; the IO thread stays where `affinity` pinned it.
          if (s.layout.jsCpu !== null && s.kind === 'js') await c.proc.runBounded({ cpu: all, cmd: 'taskset', args: ['-p', '-c', s.layout.jsCpu, String(child.pid)], cwd: c.ROOT, timeoutMs: 5000 });
          j = await c.loadgen(load, port, kase.args, o.seconds, o.warmup);
        } finally {
          await c.proc.stopChild(child, 3000);
        }
        let wake = null;
        const m = /^stats (\[.*\])$/m.exec(child.stdoutTail ? child.stdoutTail() : '');
        if (m) {
          const st = JSON.parse(m[1])[0];
          wake = { wakeups: st.wakeups, hits: st.spin_hits, frames: st.frames_in };
        }
        raw.push({ key, ...j, stderr: undefined, wake });
        if (!cells.has(key)) cells.set(key, { kase, s, rates: [], wakes: [] });
        if (j.valid) cells.get(key).rates.push(j.msgs_per_s);
        if (wake && wake.frames) cells.get(key).wakes.push(wake);
        process.stderr.write(`round ${r + 1}: ${key}: ${j.valid ? Math.round(j.msgs_per_s) : 'invalid'} msgs/s\n`);
      }
  const rows = [];
  for (const cell of cells.values()) {
    const { kase, s, rates, wakes } = cell;
    const base = cells.get(`${kase.id} ${s.kind} ${s.layout.name} ${SPINS[0]}`);
    const m = rates.length ? c.median(rates) : null;
    const b = base.rates.length ? c.median(base.rates) : null;
    const per = (f) => (wakes.length ? c.median(wakes.map((w) => (1000 * w[f]) / w.frames)).toFixed(2) : '');
    rows.push([
      kase.name,
      s.kind === 'js' ? 'evwire-js' : 'evwire-native',
      s.layout.name,
      s.spin,
      m === null ? 'invalid' : Math.round(m).toLocaleString('en-US'),
      rates.length ? `${Math.round(Math.min(...rates)).toLocaleString('en-US')}–${Math.round(Math.max(...rates)).toLocaleString('en-US')}` : '',
      m === null || b === null ? 'n/a' : `${(m / b).toFixed(2)}×`,
      per('wakeups'),
      per('hits'),
    ]);
  }
  const body = [
    `Load generator on CPU ${load}. shared: the server on CPU ${plan.server}; split: the IO thread pinned to CPU ${io}, the JavaScript thread (or the C consumer) on CPU ${load}. ${o.runs} interleaved round(s) of ${o.seconds} s per cell. Wake-ups and spins that found work: the IO thread's, per 1,000 frames (native server only).`,
    '',
    c.table(['case', 'server', 'layout', 'spin µs', 'msgs/s', 'range', 'vs no spin', 'IO wake-ups /1k', 'spin hits /1k'], rows),
  ].join('\n');
  c.report('spin', 'Spinning before sleep', body, raw);
}

c.main('spin', main);
