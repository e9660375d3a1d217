// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Experiment: accept distribution (docs/experiments.md).
//   node bench/experiments/accept.js [--seconds S] [--quick]
// 1,000 and 10,000 connections over 2 and 4 IO threads, with the acceptor handing connections
// out round-robin, to the least-loaded IO thread, or with one SO_REUSEPORT socket per IO thread
// (the kernel's hash decides). Reports connections per IO thread and frames handled per IO
// thread under load (every connection keeps one 64-byte frame in flight), from the native
// server's own counters.
// HTTP evenness: the evwire HTTP server (a JavaScript handler) with 100 and 1,000 keep-alive
// connections from wrk over 2 and 4 IO threads; requests handled per IO thread, counted by the
// handler (Connection.ioThread).
const fs = require('fs');
const os = require('os');
const path = require('path');
const c = require('./common');
const wrk = require('../lib/wrk');

const o = c.options({ seconds: 3, warmup: 1, quick: false });
if (o.quick) Object.assign(o, { seconds: 1.5, warmup: 0.5 });
c.need([
  [c.LOADGEN, 'npm run build:c'],
  [c.NATIVE, 'npm run build:c'],
]);

const MODES = [
  { name: 'round-robin', args: [] },
  { name: 'least-connections', args: ['--least-conns'] },
  { name: 'reusePort', args: ['--reuse-port'] },
];

/** max/min over the IO threads, the evenness figure (1.00 = perfectly even). */
const spread = (xs) => (Math.min(...xs) > 0 ? Math.max(...xs) / Math.min(...xs) : Infinity);

async function one(conns, threads, mode, plan) {
  const { child, port } = await c.server(plan.server, c.NATIVE, (p) => ['--port', String(p), '--io-threads', String(threads), '--ports', String(threads), '--stats', '--backlog', '4096', ...mode.args]);
  let stats = null;
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  try {
    // 10,000 connections take a while to set up and a round over all of them takes ~0.2 s at
    // depth 1 on one CPU: the window stays long enough for a connection to be served several
    // times even in quick mode.
    const seconds = conns >= 10000 ? Math.max(o.seconds, 3) : o.seconds;
    const j = await c.loadgen(plan.load, port, ['--conns', String(conns), '--depth', '1', '--size', '64', '--threads', String(Math.min(2, plan.loadCpus)), '--connect-timeout-ms', '20000'], seconds, o.warmup);
    await c.proc.stopChild(child, 5000);
    const m = /^stats (.*)$/m.exec(out);
    if (m) stats = JSON.parse(m[1]);
    return { valid: j.valid && stats !== null, rate: j.msgs_per_s, stats, stealPct: j.stealPct, error: j.valid ? null : j.stderr.trim().split('\n')[0] };
  } finally {
    await c.proc.stopChild(child, 3000);
  }
}

async function main() {
  const plan = c.cpuPlan();
  const rows = [];
  const raw = [];
  for (const conns of [1000, 10000]) {
    for (const threads of [2, 4]) {
      for (const mode of MODES) {
        const r = await one(conns, threads, mode, plan);
        raw.push({ conns, threads, mode: mode.name, ...r });
        if (!r.valid) {
          rows.push([conns.toLocaleString('en-US'), threads, mode.name, 'invalid', '', '', '', r.error ?? '']);
          process.stderr.write(`${conns} ${threads} ${mode.name}: INVALID ${r.error}\n`);
          continue;
        }
        const accepted = r.stats.map((s) => s.accepted);
        const frames = r.stats.map((s) => s.frames_in);
        const total = frames.reduce((a, b) => a + b, 0);
        const shares = frames.map((f) => `${((100 * f) / total).toFixed(0)}%`);
        rows.push([
          conns.toLocaleString('en-US'),
          threads,
          mode.name,
          accepted.join(' / '),
          spread(accepted).toFixed(2),
          shares.join(' / '),
          spread(frames).toFixed(2),
          Math.round(r.rate).toLocaleString('en-US'),
          r.stealPct === null ? 'n/a' : r.stealPct.toFixed(1),
        ]);
        process.stderr.write(`${conns} ${threads} ${mode.name}: ${accepted.join('/')} conns, frames ${shares.join('/')}\n`);
      }
    }
  }
  let body = [
    `Native-only server (ew_echo_native, one consumer thread per IO thread, listen backlog 4096) on CPU ${plan.server}; ew_loadgen on CPU ${plan.load} keeps one 64-byte frame in flight per connection for ${o.seconds} s (at least 3 s with 10,000) after ${o.warmup} s. ` +
      'Counts come from the server\'s per-IO-thread statistics. Spread = busiest / idlest IO thread (1.00 is even).',
    '',
    c.table(['connections', 'IO threads', 'distribution', 'connections per IO thread', 'spread', 'frames per IO thread', 'spread', 'msgs/s', 'steal %'], rows),
  ].join('\n');
  const http = await httpEvenness(plan, raw);
  body += http;
  c.report('accept', 'Accept distribution', body, raw);
}

async function httpOne(conns, threads, plan) {
  const statsFile = path.join(os.tmpdir(), `evwire-http-even-${process.pid}-${conns}-${threads}.json`);
  fs.rmSync(statsFile, { force: true });
  const { child, port } = await c.server(plan.server, process.execPath, (p) => [path.join('bench', 'peers', 'evwire-http.js'), '--port', String(p), '--io-threads', String(threads), '--stats-file', statsFile]);
  try {
    const steal0 = c.proc.readSteal();
    const seconds = Math.max(1, Math.round(o.seconds));
    const r = await c.proc.runBounded({ cpu: plan.load, cmd: 'wrk', args: wrk.args({ host: c.HOST, port, conns, seconds }), cwd: c.ROOT, timeoutMs: (seconds + 20) * 1000 });
    const steal1 = c.proc.readSteal();
    await c.proc.stopChild(child, 5000);
    const j = wrk.parse(r.stdout);
    const stats = fs.existsSync(statsFile) ? JSON.parse(fs.readFileSync(statsFile, 'utf8')) : null;
    fs.rmSync(statsFile, { force: true });
    const errors = j ? j.errors + j.status_errors : null;
    return {
      valid: r.code === 0 && j !== null && stats !== null && errors === 0,
      rate: j ? j.msgs_per_s : null,
      stats,
      errors,
      stealPct: c.proc.stealPct(steal0, steal1, r.wallS),
    };
  } finally {
    await c.proc.stopChild(child, 3000);
  }
}

async function httpEvenness(plan, raw) {
  if (!c.proc.commandExists('wrk')) {
    process.stderr.write('accept: wrk not found (scripts/install-bench-deps.sh); HTTP evenness skipped\n');
    return '\n\nHTTP evenness: not measured (wrk missing).';
  }
  const rows = [];
  for (const conns of [100, 1000]) {
    for (const threads of [2, 4]) {
      const r = await httpOne(conns, threads, plan);
      raw.push({ http: true, conns, threads, ...r });
      if (!r.valid) {
        rows.push([conns.toLocaleString('en-US'), threads, 'invalid', '', '', '', '', '']);
        process.stderr.write(`http ${conns} ${threads}: INVALID (errors ${r.errors})\n`);
        continue;
      }
      const { requestsPerIo: reqs, connectionsPerIo: cs } = r.stats;
      const total = reqs.reduce((a, b) => a + b, 0);
      rows.push([
        conns.toLocaleString('en-US'),
        threads,
        cs.join(' / '),
        spread(cs).toFixed(2),
        reqs.map((x) => `${((100 * x) / total).toFixed(0)}%`).join(' / '),
        spread(reqs).toFixed(2),
        Math.round(r.rate).toLocaleString('en-US'),
        r.stealPct === null ? 'n/a' : r.stealPct.toFixed(1),
      ]);
      process.stderr.write(`http ${conns} ${threads}: conns ${cs.join('/')}, requests ${reqs.join('/')}\n`);
    }
  }
  return [
    '',
    '',
    '### HTTP: requests per IO thread',
    '',
    `evwire HTTP server (\`node bench/peers/evwire-http.js --io-threads N\`, round-robin acceptor, one JavaScript thread) on CPU ${plan.server}; ` +
      `\`wrk -t1 -cC -d${Math.max(1, Math.round(o.seconds))}s\` (keep-alive, GET /) on CPU ${plan.load}. Connections are counted as accepted ('connection' events; wrk's first connection, a connect check that sends nothing, is one of them), requests by the handler, both by \`Connection.ioThread\`. ` +
      'Spread = busiest / idlest IO thread.',
    '',
    c.table(['keep-alive connections', 'IO threads', 'connections per IO thread', 'spread', 'requests per IO thread', 'spread', 'req/s', 'steal %'], rows),
  ].join('\n');
}

c.main('accept', main);
