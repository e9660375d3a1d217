// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Framed echo with evwire as the client (rt.connect links) against Node net as the client, the
// same server for both: build-c/ew_echo_native, the C echo server, pinned to the server CPU, so
// that the server is never what limits the client under test. The client process is pinned to
// the load CPU. Runs interleave the peers and alternate which goes first.
//   node bench/client.js [--quick] [--runs N] [--seconds S] [--cases LIST] [--server-cpu N]
//                        [--load-cpu N] [--out FILE] [--no-write]
// Writes a Markdown report (default bench/RESULTS-client.md) and prints it.
const fs = require('fs');
const path = require('path');
const proc = require('./lib/proc');
const { readOptions } = require('./lib/args');
const { machineInfo } = require('./lib/machine');

const ROOT = path.resolve(__dirname, '..');
const PEER = path.join('bench', 'peers', 'client-peer.js');
const NATIVE = path.join(ROOT, 'build-c', 'ew_echo_native');
const CASES = [
  { id: 'c16d16', about: '64 B, 16 connections, 16 in flight each', conns: 16, depth: 16, size: 64 },
  { id: 'c100d1', about: '64 B, 100 connections, 1 in flight each', conns: 100, depth: 1, size: 64 },
  { id: '4k', about: '4 KiB, 16 connections, 16 in flight each', conns: 16, depth: 16, size: 4096 },
];
const PEERS = ['evwire', 'net'];

const USAGE = `Usage: node bench/client.js [options]

  --quick          1 run, 1 s each
  --runs N         runs per case and peer, interleaved (default 5)
  --seconds S      measured seconds per run (default 3)
  --cases LIST     case ids (default all: ${CASES.map((c) => c.id).join(',')})
  --server-cpu N   CPU of the echo server (default 1)
  --load-cpu N     CPU of the client under test (default 0)
  --out FILE       report file (default bench/RESULTS-client.md)
  --no-write       print only
`;

function parse(argv) {
  const o = { runs: 5, seconds: 3, cases: null, serverCpu: '1', loadCpu: '0', out: path.join('bench', 'RESULTS-client.md'), write: true, quick: false };
  const fail = (m) => {
    process.stderr.write(`bench/client: ${m}\n\n${USAGE}`);
    process.exit(2);
  };
  for (const [k, v] of readOptions(argv, { isFlag: (a) => a === '--quick' || a === '--no-write', usage: USAGE, fail })) {
    if (k === '--quick') o.quick = true;
    else if (k === '--no-write') o.write = false;
    else if (k === '--runs') o.runs = Number(v);
    else if (k === '--seconds') o.seconds = Number(v);
    else if (k === '--cases') o.cases = v.split(',');
    else if (k === '--server-cpu') o.serverCpu = v;
    else if (k === '--load-cpu') o.loadCpu = v;
    else if (k === '--out') o.out = v;
    else fail(`unknown option ${k}`);
  }
  if (o.quick) {
    o.runs = 1;
    o.seconds = 1;
  }
  if (!(o.runs >= 1 && o.seconds > 0)) fail('bad --runs or --seconds');
  for (const c of o.cases ?? []) if (!CASES.some((x) => x.id === c)) fail(`unknown case ${c}`);
  for (const cpu of [o.serverCpu, o.loadCpu]) {
    const bad = proc.cpuUsable(cpu);
    if (bad !== null) fail(`cannot pin to CPU ${cpu}: ${bad}`);
  }
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[s.length >> 1];
};
const fmt = (x) => Math.round(x).toLocaleString('en');

async function main() {
  const o = parse(process.argv.slice(2));
  for (const f of [path.join(ROOT, 'dist', 'index.js'), NATIVE]) {
    if (!fs.existsSync(f)) {
      process.stderr.write(`bench/client: ${path.relative(ROOT, f)} is missing: npm run build && npm run build:c\n`);
      process.exit(2);
    }
  }
  const cases = CASES.filter((c) => o.cases === null || o.cases.includes(c.id));
  const results = {};
  for (let run = 0; run < o.runs; run++) {
    for (const c of cases) {
      const order = run % 2 === 0 ? PEERS : [...PEERS].reverse();
      for (const peer of order) {
        const port = await proc.freePort('127.0.0.1');
        const server = await proc.startServer({ cpu: o.serverCpu, cmd: NATIVE, args: ['--port', String(port), '--io-threads', '1', '--host', '127.0.0.1'], cwd: ROOT, port, readyTimeoutMs: 10000 });
        try {
          const args = [PEER, '--peer', peer, '--port', String(port), '--conns', String(c.conns), '--depth', String(c.depth), '--size', String(c.size), '--seconds', String(o.seconds), '--warmup', o.quick ? '0.3' : '1'];
          const s0 = proc.readSteal();
          const r = await proc.runBounded({ cpu: o.loadCpu, cmd: process.execPath, args, cwd: ROOT, timeoutMs: (o.seconds + 60) * 1000 });
          const steal = proc.stealPct(s0, proc.readSteal(), r.wallS);
          const j = proc.lastJson(r.stdout);
          if (r.code !== 0 || j === null) throw new Error(`${peer} ${c.id} failed (code ${r.code}${r.timedOut ? ', timed out' : ''}): ${r.stderr}`);
          if (j.errors !== 0) throw new Error(`${peer} ${c.id}: ${j.errors} echoed frames did not match`);
          (results[`${c.id}/${peer}`] ??= []).push({ ...j, steal });
          process.stderr.write(`bench/client: run ${run + 1} ${c.id}/${peer}: ${fmt(j.msgsPerSec)} msgs/s, steal ${steal === null ? '?' : steal.toFixed(0)}%\n`);
        } finally {
          await proc.stopChild(server, 3000);
        }
      }
    }
  }
  const m = machineInfo();
  const lines = ['# Framed echo clients: evwire links vs Node net', ''];
  lines.push(`Machine: ${m.model}, ${m.cpus} CPUs, Linux ${m.kernel}, Node ${m.node}. Command: \`node bench/client.js${o.quick ? ' --quick' : ''} --runs ${o.runs} --seconds ${o.seconds}${o.cases ? ` --cases ${o.cases.join(',')}` : ''}\`.`, '');
  lines.push(`The client under test (pinned to CPU ${o.loadCpu}) keeps the given number of frames in flight on each connection to the same server, \`build-c/ew_echo_native\` (pinned to CPU ${o.serverCpu}), checks every echoed frame and sends its replacement. evwire: \`rt.connect()\` links with 1 IO thread, \`send()\` per frame; Node net: one \`write()\` of a read's replacements. Medians of ${o.runs} interleaved run(s), min–max in brackets.`, '');
  lines.push('| case | evwire msgs/s | Node net msgs/s | ratio (median) |');
  lines.push('| --- | ---: | ---: | ---: |');
  for (const c of cases) {
    const e = results[`${c.id}/evwire`].map((x) => x.msgsPerSec);
    const n = results[`${c.id}/net`].map((x) => x.msgsPerSec);
    lines.push(`| ${c.about} | ${fmt(median(e))} [${fmt(Math.min(...e))}–${fmt(Math.max(...e))}] | ${fmt(median(n))} [${fmt(Math.min(...n))}–${fmt(Math.max(...n))}] | ${(median(e) / median(n)).toFixed(2)}× |`);
  }
  const steals = Object.values(results).flat().map((x) => x.steal).filter((x) => x !== null);
  if (steals.length) lines.push('', `CPU steal during the runs: median ${median(steals).toFixed(0)}%, max ${Math.max(...steals).toFixed(0)}%.`);
  lines.push('');
  const md = lines.join('\n');
  process.stdout.write(md);
  if (o.write) fs.writeFileSync(path.join(ROOT, o.out), md);
}

proc.runMain('bench/client', main);
