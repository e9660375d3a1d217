// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Shared plumbing of the design experiments (docs/experiments.md): options, pinned servers and
// load runs (bench/lib/proc.js), and the report each experiment writes: a Markdown section
// with the date, the machine, the exact command and the table, printed and saved under
// bench/out/experiments/<name>.md (raw figures beside it as JSON). docs/experiments.md carries
// the tables together with the decisions they led to.
const fs = require('fs');
const os = require('os');
const path = require('path');
const proc = require('../lib/proc');
const { machineInfo } = require('../lib/machine');
const { median } = require('../lib/report');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = (name) => path.join(ROOT, 'build-c', name);
const LOADGEN = BIN('ew_loadgen');
const NATIVE = BIN('ew_echo_native');
const EVWIRE_JS = path.join(ROOT, 'bench', 'peers', 'evwire-echo.js');
const HOST = '127.0.0.1';

/** Parses `--name value` and `--flag` options against defaults (numbers stay numbers). */
function options(defaults) {
  const o = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z0-9-]+)$/.exec(argv[i]);
    if (!m) fail(`unexpected argument ${argv[i]}`);
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in defaults)) fail(`unknown option --${m[1]}`);
    if (typeof defaults[key] === 'boolean') o[key] = true;
    else {
      const v = argv[++i];
      if (v === undefined) fail(`--${m[1]} needs a value`);
      o[key] = typeof defaults[key] === 'number' ? Number(v) : v;
    }
  }
  return o;
}

function fail(msg) {
  process.stderr.write(`experiment: ${msg}\n`);
  process.exit(2);
}

/** Exits with the commands to run when a build output is missing. */
function need(files) {
  const missing = files.filter(([f]) => !fs.existsSync(f));
  if (missing.length) fail(`missing ${missing.map(([f, how]) => `${path.relative(ROOT, f)} (${how})`).join(', ')}`);
}

/** The CPUs of the two sides: on 2 CPUs, server on 1 and load on 0 as in bench/run.js; on a
 * larger machine the upper half serves and the lower half loads, so the same command scales. */
function cpuPlan() {
  const n = os.cpus().length;
  if (n < 2) return { server: '0', load: '0', serverCpus: 1, loadCpus: 1 };
  const half = Math.floor(n / 2);
  const range = (a, b) => (a === b ? `${a}` : `${a}-${b}`);
  return { server: range(n - half, n - 1), load: range(0, n - half - 1), serverCpus: half, loadCpus: n - half };
}

/** Starts a server on a free port under taskset; resolves { child, port }. */
async function server(cpus, cmd, args, extraEnv) {
  const port = await proc.freePort(HOST);
  const child = await proc.startServer({
    cpu: cpus,
    cmd,
    args: [...args(port)],
    cwd: ROOT,
    port,
    readyTimeoutMs: 10000,
    env: extraEnv,
  });
  return { child, port };
}

/** One bounded ew_loadgen run; returns its JSON (with .valid, and .stealPct: CPU steal during
 * the run as a share of all CPU time, so a noisy figure can be told from a real one) or throws
 * on a broken run. */
async function loadgen(cpus, port, args, seconds, warmup) {
  const steal0 = proc.readSteal();
  const r = await proc.runBounded({
    cpu: cpus,
    cmd: LOADGEN,
    args: ['--host', HOST, '--port', String(port), '--seconds', String(seconds), '--warmup', String(warmup), '--json', ...args],
    cwd: ROOT,
    timeoutMs: (seconds + warmup + 15) * 1000,
  });
  let j = null;
  try {
    j = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    // Reported below with the tail of stderr.
  }
  if (j === null) throw new Error(`load generator gave no result (exit ${r.code}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  j.valid = r.code === 0 && !r.timedOut && j.errors === 0;
  j.stderr = r.stderr;
  const steal1 = proc.readSteal();
  j.stealPct = proc.stealPct(steal0, steal1, r.wallS);
  return j;
}

/** Sum of user+system CPU ticks of a process (for CPU per message, which steal does not touch). */
function cpuTicks(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((h, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

/** Writes and prints the experiment's report. */
function report(name, title, body, raw) {
  const m = machineInfo();
  const cmd = `node bench/experiments/${name}.js${process.argv.length > 2 ? ` ${process.argv.slice(2).join(' ')}` : ''}`;
  const md = [
    `### ${title}`,
    '',
    `${new Date().toISOString().slice(0, 10)}, ${m.model}, ${m.cpus} CPUs, Linux ${m.kernel}, Node ${m.node}. Command: \`${cmd}\``,
    '',
    body.trim(),
    '',
  ].join('\n');
  const dir = path.join(ROOT, 'bench', 'out', 'experiments');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.md`), md);
  fs.writeFileSync(path.join(dir, `${name}.json`), `${JSON.stringify({ machine: m, command: cmd, raw }, null, 2)}\n`);
  process.stdout.write(`${md}\n`);
  process.stderr.write(`experiment: wrote bench/out/experiments/${name}.md\n`);
}

for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(sig, () => {
    proc.killAll('SIGKILL');
    process.exit(code);
  });
}
process.on('exit', () => proc.killAll('SIGKILL'));

/** Median steal of a set of runs, formatted. */
function steal(runs) {
  const xs = runs.map((r) => r.stealPct).filter((x) => x !== null && x !== undefined);
  return xs.length ? median(xs).toFixed(1) : 'n/a';
}

/** Runs an experiment's main(); a failure is reported under its name and exits 1. */
function main(name, fn) {
  fn().catch((err) => {
    process.stderr.write(`${name}: ${err.stack || err}\n`);
    process.exit(1);
  });
}

module.exports = { main, steal, ROOT, BIN, LOADGEN, NATIVE, EVWIRE_JS, HOST, options, fail, need, cpuPlan, server, loadgen, cpuTicks, table, report, median, proc };
