// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Tasks between two JS threads: evwire's scheduler (task rings) against Node's worker_threads
// postMessage with the same payloads, in one interleaved run. Each measurement is its own
// process (bench/peers/tasks-peer.js) pinned with taskset to the CPUs given, so the main thread
// and the work thread can run on different cores.
//   node bench/tasks.js [--quick] [--runs N] [--seconds S] [--cpus LIST] [--window W]
//                       [--out FILE] [--no-write]
// Writes a Markdown report (default bench/RESULTS-tasks.md) and prints it.
const fs = require('fs');
const path = require('path');
const proc = require('./lib/proc');
const { readOptions } = require('./lib/args');
const { machineInfo } = require('./lib/machine');

const ROOT = path.resolve(__dirname, '..');
const PEER = path.join('bench', 'peers', 'tasks-peer.js');
const PAYLOADS = [
  { id: 'number', about: 'a number' },
  { id: 'small', about: '{ player: 7, move: [3, 4], name: "knight" }' },
  { id: 'move', about: '{ player: 7, x: 3, y: -4 }: evwire as a protobuf-typed task (demo.Move), postMessage as the object' },
  { id: 'bytes1k', about: 'a 1 KiB Buffer' },
  { id: 'obj16k', about: '{ list: 2,000 numbers, tag: 100 chars } (about 16 KiB cloned)' },
];
const PEERS = ['evwire', 'postmessage'];

const USAGE = `Usage: node bench/tasks.js [options]

  --quick        1 run, 1 s each
  --runs N       runs per payload and peer, interleaved (default 3)
  --seconds S    measured seconds of the throughput phase (default 3)
  --window W     requests in flight in the throughput phase (default 256)
  --cpus LIST    CPUs for the measuring process (default 0,1)
  --out FILE     report file (default bench/RESULTS-tasks.md)
  --no-write     print only
`;

function parse(argv) {
  const o = { runs: 3, seconds: 3, window: 256, cpus: '0,1', out: path.join('bench', 'RESULTS-tasks.md'), write: true, quick: false };
  const fail = (m) => {
    process.stderr.write(`bench/tasks: ${m}\n\n${USAGE}`);
    process.exit(2);
  };
  for (const [k, v] of readOptions(argv, { isFlag: (a) => a === '--quick' || a === '--no-write', usage: USAGE, fail })) {
    if (k === '--quick') o.quick = true;
    else if (k === '--no-write') o.write = false;
    else if (k === '--runs') o.runs = Number(v);
    else if (k === '--seconds') o.seconds = Number(v);
    else if (k === '--window') o.window = Number(v);
    else if (k === '--cpus') o.cpus = v;
    else if (k === '--out') o.out = v;
    else fail(`unknown option ${k}`);
  }
  if (o.quick) {
    o.runs = 1;
    o.seconds = 1;
  }
  if (!(o.runs >= 1 && o.seconds > 0 && o.window >= 1)) fail('bad --runs, --seconds or --window');
  const bad = proc.cpuUsable(o.cpus);
  if (bad !== null) fail(`cannot pin to CPUs ${o.cpus}: ${bad}`);
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[s.length >> 1];
};

async function main() {
  const o = parse(process.argv.slice(2));
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js'))) {
    process.stderr.write('bench/tasks: build first (npm run build)\n');
    process.exit(2);
  }
  const results = {};
  for (let run = 0; run < o.runs; run++) {
    for (const p of PAYLOADS) {
      // Alternate which peer goes first, so drift in the machine does not favour one.
      const order = run % 2 === 0 ? PEERS : [...PEERS].reverse();
      for (const peer of order) {
        const args = [PEER, '--peer', peer, '--payload', p.id, '--seconds', String(o.seconds), '--window', String(o.window), '--rtt', '3000'];
        const s0 = proc.readSteal();
        const r = await proc.runBounded({ cpu: o.cpus, cmd: process.execPath, args, cwd: ROOT, timeoutMs: (o.seconds + 60) * 1000 });
        const steal = proc.stealPct(s0, proc.readSteal(), r.wallS);
        const j = proc.lastJson(r.stdout);
        if (r.code !== 0 || j === null) throw new Error(`${peer} ${p.id} failed (code ${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr}`);
        const key = `${p.id}/${peer}`;
        (results[key] ??= []).push({ ...j, steal });
        process.stderr.write(`bench/tasks: run ${run + 1} ${key}: ${Math.round(j.tasksPerSec)} tasks/s, p50 ${j.rtt.p50.toFixed(1)} us, steal ${steal === null ? '?' : steal.toFixed(0)}%\n`);
      }
    }
  }
  const m = machineInfo();
  const lines = [];
  lines.push('# Tasks between two JS threads: evwire vs postMessage', '');
  lines.push(`Machine: ${m.model}, ${m.cpus} CPUs, Linux ${m.kernel}, Node ${m.node}. Command: \`node bench/tasks.js${o.quick ? ' --quick' : ''} --runs ${o.runs} --seconds ${o.seconds} --window ${o.window} --cpus ${o.cpus}\`.`, '');
  lines.push(`The main thread sends each payload to one work thread, which answers with it. Throughput: ${o.window} requests in flight for ${o.seconds} s. Round trip: one request at a time, 3,000 of them. evwire: \`rt.tasks.schedule('echo', payload, { to: 1 })\` through the task rings; postMessage: a correlation id and a promise per request over a worker's MessagePort. Medians of ${o.runs} run(s); each run is its own process, the peers alternate.`, '');
  lines.push('| payload | evwire tasks/s | postMessage tasks/s | ratio | evwire RTT p50 / p99 µs | postMessage RTT p50 / p99 µs | RTT p50 ratio |');
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const p of PAYLOADS) {
    const e = results[`${p.id}/evwire`];
    const n = results[`${p.id}/postmessage`];
    const et = median(e.map((x) => x.tasksPerSec));
    const nt = median(n.map((x) => x.tasksPerSec));
    const e50 = median(e.map((x) => x.rtt.p50));
    const n50 = median(n.map((x) => x.rtt.p50));
    const e99 = median(e.map((x) => x.rtt.p99));
    const n99 = median(n.map((x) => x.rtt.p99));
    lines.push(`| ${p.about} | ${Math.round(et).toLocaleString('en')} | ${Math.round(nt).toLocaleString('en')} | ${(et / nt).toFixed(2)}× | ${e50.toFixed(0)} / ${e99.toFixed(0)} | ${n50.toFixed(0)} / ${n99.toFixed(0)} | ${(e50 / n50).toFixed(2)}× |`);
  }
  const steals = Object.values(results).flat().map((x) => x.steal).filter((x) => x !== null);
  lines.push('', `CPU steal during the runs: median ${median(steals).toFixed(0)}%, max ${Math.max(...steals).toFixed(0)}%. Ratios above 1 favour evwire for tasks/s, below 1 for round-trip time.`, '');
  const md = lines.join('\n');
  process.stdout.write(md);
  if (o.write) fs.writeFileSync(path.join(ROOT, o.out), md);
}

proc.runMain('bench/tasks', main);
