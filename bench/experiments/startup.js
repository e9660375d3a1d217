// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Experiment: startup (docs/experiments.md).
//   node bench/experiments/startup.js [--runs N]
// Time from ew_runtime_start() to every IO thread running its loop, for 1, 2, 4 and 8 IO
// threads, threads started in parallel (the default) or one after another
// (build-c/ew_startup); and the whole Runtime.start() as JavaScript sees it (addon, segment
// mapping, port attach), in parallel mode.
const { spawnSync } = require('child_process');
const path = require('path');
const c = require('./common');

const o = c.options({ runs: 200, quick: false });
if (o.quick) o.runs = 30;
const bin = c.BIN('ew_startup');
c.need([
  [bin, 'npm run build:c'],
  [path.join(c.ROOT, 'dist', 'index.js'), 'npm run build'],
]);

const r = spawnSync(bin, ['--runs', String(o.runs), '--threads', '1,2,4,8'], { encoding: 'utf8', timeout: 300000 });
if (r.status !== 0) c.fail(`ew_startup failed: ${r.stderr}`);
const native = r.stdout.trim().split('\n').map((l) => JSON.parse(l));

// JavaScript: a child process so that this driver's own state does not colour the timings.
const js = spawnSync(
  process.execPath,
  [
    '-e',
    `
    const { Runtime } = require(${JSON.stringify(path.join(c.ROOT, 'dist', 'index.js'))});
    (async () => {
      const out = [];
      for (const n of [1, 2, 4, 8]) {
        await (await Runtime.start({ ioThreads: n, logger: { level: 'silent' } })).close();
        const t = [];
        for (let i = 0; i < ${Math.max(10, Math.floor(o.runs / 4))}; i++) {
          const t0 = process.hrtime.bigint();
          const rt = await Runtime.start({ ioThreads: n, logger: { level: 'silent' } });
          t.push(Number(process.hrtime.bigint() - t0) / 1000);
          await rt.close();
        }
        t.sort((a, b) => a - b);
        out.push({ n, median: t[t.length >> 1], p90: t[Math.floor(t.length * 0.9)] });
      }
      console.log(JSON.stringify(out));
    })();`,
  ],
  { encoding: 'utf8', timeout: 300000 },
);
if (js.status !== 0) c.fail(`Runtime.start timing failed: ${js.stderr}`);
const jsTimes = JSON.parse(js.stdout.trim());

const f = (x) => x.toFixed(0);
const rows = [1, 2, 4, 8].map((n) => {
  const p = native.find((x) => x.io_threads === n && x.mode === 'parallel');
  const s = native.find((x) => x.io_threads === n && x.mode === 'serial');
  const j = jsTimes.find((x) => x.n === n);
  return [n, `${f(p.median_us)} (${f(p.p90_us)})`, `${f(s.median_us)} (${f(s.p90_us)})`, (s.median_us / p.median_us).toFixed(2), `${f(j.median)} (${f(j.p90)})`];
});
const body = [
  `Median (p90) microseconds over ${o.runs} starts each (after one warm-up start), stop and join between starts.`,
  '',
  c.table(['IO threads', 'ew_runtime_start, parallel', 'ew_runtime_start, serial', 'serial / parallel', 'Runtime.start() in JS, parallel'], rows),
].join('\n');
c.report('startup', 'Startup: serial vs parallel IO thread initialisation', body, { native, js: jsTimes });
