// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The storm test: does the protection hold, and does the server come back to where it was?
//   node bench/storm/run.js [--server evwire|node] [--duration S] [--warmup S] [--churn N]
//        [--churn-inflight N] [--idle N] [--no-idle] [--server-cpu N] [--load-cpu N]
//        [--io-threads N] [--out FILE] [--json FILE] [--no-write]
// One server process (bench/storm/server.js) under a bounded storm on loopback: connection
// churn, floods, garbage frames and slow partial frames from their own 127.0.0.x addresses,
// while a canary client on 127.0.0.100 echoes every 10 ms and must never fail. Then the
// server's RSS and descriptors must come back to their pre-storm baseline, and memory per idle
// connection is measured. Progress goes to stderr, the Markdown report to stdout and (unless
// --no-write) to --out, the raw figures to --json.
// Exit status: 0 every check passed; 1 a check failed or the run broke; 2 usage or missing
// build; 130/143 interrupted.
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const proc = require('../lib/proc');
const { readOptions } = require('../lib/args');
const { machineInfo } = require('../lib/machine');
const child = require('./child');
const { renderMarkdown } = require('./report');

const ROOT = path.resolve(__dirname, '..', '..');
const SERVER = path.join(__dirname, 'server.js');
const LOAD = path.join(__dirname, 'load.js');
const DIST = path.join(ROOT, 'dist', 'index.js');
const HOST = '127.0.0.1';
const CANARY_ADDRESS = '127.0.0.100';
// Final RSS may exceed the pre-storm baseline by this factor at most.
const RSS_FACTOR = 1.1;
// How long the server gets, after the storm, to close everything and give memory back.
const SETTLE_MS = 10000;
const RPC_MS = 10000;
// Setup, settles and teardown on top of the warm-up and the storm (the idle phase adds 90 s).
const WATCHDOG_SLACK_S = 120;

const USAGE = `Usage: node bench/storm/run.js [options]   (or: npm run bench:storm -- [options])

A bounded storm on loopback against one server, with a canary client that must never fail;
then RSS and open descriptors must return to the pre-storm baseline.

  --server NAME        evwire (default: bench/storm/server.js with the storm limits) or
                       node (a plain Node net echo server, no protection: plumbing check)
  --duration S         storm seconds (default 60)
  --warmup S           the same storm, shorter, before the baseline (default 15; 0 for none)
  --churn N            connections opened and closed during the storm (default 20000)
  --churn-inflight N   churn connections in flight at most (default 200)
  --churn-addresses N  source addresses of the churn, 127.0.1.1 on (default 40)
  --idle N             idle connections for memory per connection (default 10000)
  --idle-addresses N   their source addresses, 127.0.2.1 on (default 40)
  --no-idle            skip the idle-connection measurement
  --io-threads N       evwire IO threads (default 2)
  --server-cpu N       CPU of the server (default 1)
  --load-cpu N         CPU of the clients (default 0)
  --out FILE           Markdown report (default bench/storm/RESULTS.md)
  --json FILE          raw results (default bench/out/storm.json)
  --no-write           print the report only; write neither file
  -h, --help           show this help
`;

function usageError(msg) {
  process.stderr.write(`storm: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    server: 'evwire', duration: 60, warmup: 15, churn: 20000, churnInflight: 200, churnAddresses: 40,
    idle: 10000, idleAddresses: 40, noIdle: false, ioThreads: 2, serverCpu: 1, loadCpu: 0,
    out: path.join('bench', 'storm', 'RESULTS.md'), json: path.join('bench', 'out', 'storm.json'), noWrite: false,
  };
  const camel = (s) => s.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  const keyOf = (a) => {
    const key = camel(a.slice(2));
    if (!(key in o)) usageError(`unknown option ${a}`);
    return key;
  };
  const pairs = readOptions(argv, { isFlag: (a) => typeof o[keyOf(a)] === 'boolean', usage: USAGE, fail: usageError });
  for (const [a, v] of pairs) {
    const key = keyOf(a);
    if (typeof o[key] === 'boolean') {
      o[key] = true;
    } else if (typeof o[key] === 'number') {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) usageError(`${a} must be a number >= 0, got ${v}`);
      o[key] = n;
    } else o[key] = v;
  }
  if (!['evwire', 'node'].includes(o.server)) usageError(`--server must be evwire or node, got ${o.server}`);
  if (!(o.duration > 0)) usageError('--duration must be > 0');
  for (const k of ['churn', 'churnInflight', 'churnAddresses', 'idle', 'idleAddresses', 'ioThreads', 'serverCpu', 'loadCpu']) {
    if (!Number.isInteger(o[k])) usageError(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must be an integer`);
  }
  if (o.churnAddresses < 1 || o.churnAddresses > 250) usageError('--churn-addresses must be 1..250');
  if (o.idleAddresses < 1 || o.idleAddresses > 250) usageError('--idle-addresses must be 1..250');
  if (o.churnInflight < 1) usageError('--churn-inflight must be >= 1');
  if (o.ioThreads < 1) usageError('--io-threads must be >= 1');
  return o;
}

// The attack: 50 source addresses, 127.0.0.2 to 127.0.0.51, each in one group. Every group
// aims at one protection so that the counters can be read against it; rates are paced so that
// one CPU of clients keeps them up next to the churn.
function attackPlan() {
  let next = 2;
  const take = (n) => Array.from({ length: n }, () => `127.0.0.${next++}`);
  const plan = [
    { name: 'flood-messages', kind: 'flood', addresses: take(10), conns: 1, batch: 50, everyMs: 10, body: 16, reconnectMs: 250,
      aim: 'small frames at 5,000/s per connection: over maxMessagesPerWindow, kicked (messages)' },
    { name: 'flood-bytes', kind: 'flood', addresses: take(5), conns: 1, batch: 8, everyMs: 10, body: 16384, reconnectMs: 250,
      aim: '16 KiB frames at 13 MB/s per connection: over maxBytesPerWindow, kicked (bytes)' },
    { name: 'flood-ip', kind: 'flood', addresses: take(10), conns: 8, batch: 75, everyMs: 50, body: 16, reconnectMs: 250,
      aim: '8 connections × 1,500 frames/s per address, each under the per-connection limit: the IP bucket, banned (messages)' },
    { name: 'connection-flood', kind: 'connflood', addresses: take(2), perSecond: 800, inflight: 50,
      aim: 'new connections at 800/s per address, reset once up: banned (connections); "connected" is TCP\'s view, the server\'s refusals at accept are `rejected.banned`' },
    { name: 'garbage', kind: 'garbage', addresses: take(13), everyMs: 50, waitMs: 1000,
      aim: 'one malformed input per connection (random bytes, type 0, flags over 0x7, length over maxFrameBytes): closed with EW_EPROTO_*' },
    { name: 'slow-first-frame', kind: 'slow', addresses: take(5), conns: 3, bodyBytes: 100, byteEveryMs: 3000, reconnectMs: 250,
      aim: 'at once a header announcing 100 bytes, then one byte every 3 s: closed by a timeout (the first-message one governs a partial first frame)' },
    { name: 'slow-partial', kind: 'slow', addresses: take(5), conns: 3, bodyBytes: 100, byteEveryMs: 3000, reconnectMs: 250, echoFirst: true,
      aim: 'one complete frame, then a header announcing 100 bytes and one byte every 3 s: closed by partialFrameTimeoutMs' },
  ];
  if (next !== 52) throw new Error(`attack plan uses ${next - 2} addresses, not 50`);
  return plan;
}

const range = (prefix, n) => Array.from({ length: n }, (_, i) => `${prefix}.${i + 1}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (b) => (b === null || b === undefined ? 'n/a' : `${(b / 1048576).toFixed(1)} MiB`);
const log = (s) => process.stderr.write(`storm: ${s}\n`);

function preflight(o) {
  const problems = [];
  if (o.server === 'evwire' && !fs.existsSync(DIST)) problems.push('dist/index.js is missing (build: npm run build)');
  if (os.platform() !== 'linux') problems.push('the storm test reads /proc and binds 127.0.0.x source addresses: Linux only');
  const ncpu = os.cpus().length;
  let pin = false;
  if (ncpu >= 2 && proc.commandExists('taskset')) {
    for (const [flag, cpu] of [['--server-cpu', o.serverCpu], ['--load-cpu', o.loadCpu]]) {
      if (cpu >= ncpu) problems.push(`${flag} ${cpu}: this machine has CPUs 0-${ncpu - 1}`);
      else {
        const err = proc.cpuUsable(cpu);
        if (err) problems.push(`${flag} ${cpu}: taskset refuses it: ${err}`);
      }
    }
    pin = true;
  }
  if (problems.length) {
    process.stderr.write(`storm: cannot run:\n${problems.map((p) => `  - ${p}\n`).join('')}`);
    process.exit(2);
  }
  return pin;
}

// Each of the two processes holding the idle connections (the server and the idle client) needs
// one descriptor per connection and some room. Node raises its soft limit to the hard one as it
// starts, so the hard limit is the bound; --idle is lowered to fit under it.
function fdPlan(o) {
  const lim = child.fdLimits();
  const need = (o.noIdle ? 0 : o.idle) + 2000;
  const note = [];
  if (lim.hard !== null && lim.hard < need && !o.noIdle) {
    const was = o.idle;
    o.idle = Math.max(0, Math.floor((lim.hard - 2000) / o.idleAddresses) * o.idleAddresses);
    note.push(`--idle ${was} lowered to ${o.idle}: the hard descriptor limit is ${lim.hard}`);
  }
  return { soft: lim.soft, hard: lim.hard, note };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const pinned = preflight(o);
  const fdp = fdPlan(o);
  const serverCpu = pinned ? o.serverCpu : null;
  const loadCpu = pinned ? o.loadCpu : null;
  const started = new Date();
  // The last bound on the whole run: every step below has its own timeout, and this one
  // catches whatever they miss (a child that answers nothing, say).
  const budgetS = o.warmup + o.duration + WATCHDOG_SLACK_S + (o.noIdle ? 0 : 90);
  // Referenced on purpose: a step that waited on nothing at all would otherwise let the
  // process end quietly with status 0 and no report.
  const watchdog = setTimeout(() => {
    log(`the run exceeded its ${budgetS} s budget; stopping every child process`);
    proc.killAll('SIGKILL');
    process.exit(1);
  }, budgetS * 1000);
  const res = { notes: [...fdp.note], checks: [] };
  const plan = attackPlan();
  const spawn = (name, script, args, cpu, nodeArgs = []) => child.spawnNode({ name, cpu, nodeArgs, script, args, cwd: ROOT });

  log(`${o.server} server${pinned ? ` on CPU ${o.serverCpu}, clients on CPU ${o.loadCpu}` : ', no CPU pinning (fewer than 2 CPUs or no taskset)'}; ` +
    `warm-up ${o.warmup} s, storm ${o.duration} s, then up to ${SETTLE_MS / 1000} s to settle${o.noIdle ? '' : `, then ${o.idle} idle connections`}`);

  // --- the server and the canary ---
  const server = spawn('server', SERVER, ['--server', o.server, '--io-threads', String(o.ioThreads), '--host', HOST, '--watch', CANARY_ADDRESS], serverCpu, ['--expose-gc']);
  const ready = await child.waitNotice(server, 'ready', 15000);
  const pid = ready.pid;
  res.server = { kind: o.server, pid, port: ready.port, limits: ready.limits, api: ready.api, maxFrameBytes: ready.maxFrameBytes, gc: ready.gc, ioThreads: ready.ioThreads };
  if (o.server === 'evwire' && !ready.api.setLimits) res.notes.push('server.setLimits() is not implemented in this build: the idle phase ran with the storm timeouts in force');
  log(`server pid ${pid} listening on ${HOST}:${ready.port}${ready.limits ? '' : ' (no protection)'}`);
  const stats = async () => (await child.request(server, { cmd: 'stats' }, RPC_MS));
  const gc = () => child.request(server, { cmd: 'gc' }, RPC_MS);
  const serverGone = () => (server.exitInfo ? `the server exited (${server.exitInfo.signal || `status ${server.exitInfo.code}`}); output: ${server.outputTail().trim().split('\n').slice(-5).join(' | ')}` : null);

  const base = { host: HOST, port: ready.port, maxFrameBytes: ready.maxFrameBytes };
  const canary = spawn('canary', LOAD, [], loadCpu);
  await child.request(canary, { cmd: 'start', role: 'canary', params: { ...base, address: CANARY_ADDRESS, intervalMs: 10, timeoutMs: 2000, bodyBytes: 32 } }, 5000);
  // Phase boundaries, with the machine's CPU steal counter so that a slow stretch of the canary
  // can be told from a VM whose CPU was taken away.
  res.phases = [];
  const phase = (name) => {
    const t = Date.now();
    const steal = proc.readSteal();
    const prev = res.phases[res.phases.length - 1];
    if (prev) prev.stealPct = proc.stealPct(prev.steal, steal, (t - prev.t) / 1000);
    res.phases.push({ name, t, steal });
    return child.request(canary, { cmd: 'phase', name }, RPC_MS);
  };
  log(`canary connected from ${CANARY_ADDRESS}`);
  res.cold = { ...child.readMem(pid), fds: child.countFds(pid), smaps: child.readSmaps(pid) };

  // One storm: churn and attack processes for `seconds`, RSS sampled every 100 ms, the rest
  // every second; both processes stop at their deadline, and are killed 20 s after it.
  async function storm(label, seconds, churnCount) {
    const durationMs = Math.round(seconds * 1000);
    const churner = spawn('churn client', LOAD, [], loadCpu);
    const attacker = spawn('attack client', LOAD, [], loadCpu);
    let churnProgress = { opened: 0, echoed: 0, active: 0 };
    churner.onNotice = (m) => {
      if (m.type === 'progress') churnProgress = m;
    };
    attacker.onNotice = () => {};
    const hard = setTimeout(() => {
      log(`${label}: clients still running 20 s past the deadline; killed`);
      for (const c of [churner, attacker]) c.kill('SIGKILL');
    }, durationMs + 20000);
    const samples = { rss: [], fds: [], connections: [] };
    let peakRss = 0;
    let sampling = true;
    const t0 = Date.now();
    const sampler = (async () => {
      let k = 0;
      while (sampling) {
        const m = child.readMem(pid);
        if (m.rss !== null) peakRss = Math.max(peakRss, m.rss);
        if (k % 10 === 0) {
          const t = (Date.now() - t0) / 1000;
          samples.rss.push([t, m.rss]);
          samples.fds.push([t, child.countFds(pid)]);
          try {
            const s = await stats();
            samples.connections.push([t, s.server.connections]);
            if (k % 50 === 0) log(`${label} ${Math.round(t)}/${seconds} s: churn ${churnProgress.opened} opened / ${churnProgress.echoed} echoed, server ${s.server.connections} connections, RSS ${mb(m.rss)}, ${samples.fds[samples.fds.length - 1][1]} fds`);
          } catch (err) {
            if (serverGone()) break;
          }
        }
        k++;
        await sleep(100);
      }
    })();
    try {
      const [c, a] = await Promise.all([
        child.request(churner, { cmd: 'start', role: 'churn', params: { ...base, nice: 10, addresses: range('127.0.1', o.churnAddresses), count: churnCount, inflight: o.churnInflight, durationMs, timeoutMs: 2000, bodyBytes: 16 } }, durationMs + 25000),
        child.request(attacker, { cmd: 'start', role: 'attack', params: { ...base, nice: 10, plan, durationMs } }, durationMs + 25000),
      ]);
      const ch = c.result;
      log(`${label} done: churn ${ch.opened} of ${ch.target} connected in ${ch.elapsedS.toFixed(1)} s (${ch.echoed} echoed, ${ch.closedBeforeReply + ch.connectFailed + ch.timeouts} refused or failed), peak RSS ${mb(peakRss)}`);
      return { churn: ch, attack: a.result, peakRss, samples, wallS: (Date.now() - t0) / 1000 };
    } finally {
      sampling = false;
      await sampler;
      clearTimeout(hard);
      await Promise.all([churner, attacker].map((c) => proc.stopChild(c, 2000)));
    }
  }

  // Waits until the server is down to `conns` connections (bounded), then collects garbage and
  // reads RSS and descriptors once a second for at least minMs and at most maxMs, stopping
  // between the two once RSS is at most `target` and the descriptors equal `wantFds` (each when
  // given). After a storm RSS stays up for about 6 s and then drops by some 25 MiB in one step,
  // with evwire and the plain Node server alike: V8 shrinks its heap spaces (anonymous mappings
  // in smaps) only then, whatever gc() does. A reading that is to be compared waits the full
  // settle.
  async function rest(conns, { target = null, wantFds = null, minMs = SETTLE_MS, maxMs = SETTLE_MS } = {}) {
    const t0 = Date.now();
    let s = await stats();
    while (s.server.connections > conns && Date.now() - t0 < SETTLE_MS) {
      await sleep(250);
      s = await stats();
    }
    const closedAfterS = (Date.now() - t0) / 1000;
    const series = [];
    const t1 = Date.now();
    let m;
    let fds;
    for (;;) {
      await gc();
      await sleep(1000);
      m = child.readMem(pid);
      fds = child.countFds(pid);
      series.push({ t: (Date.now() - t1) / 1000, rss: m.rss, fds, smaps: child.readSmaps(pid) });
      const rssOk = target === null ? true : m.rss <= target;
      const fdsOk = wantFds === null ? true : fds === wantFds;
      if ((rssOk && fdsOk && Date.now() - t1 >= minMs) || Date.now() - t1 >= maxMs) break;
    }
    s = await stats();
    return { rss: m.rss, fds, connections: s.server.connections, closedAfterS, settleS: (Date.now() - t1) / 1000, series, stats: s, smaps: child.readSmaps(pid) };
  }

  // --- warm-up, then the baseline ---
  // The warm-up is the storm itself, shorter: the same churn at the same concurrency (cut by
  // its deadline) and the same attack, so that what the server keeps after its first storm
  // (pools, allocator arenas, V8's heap) is in the baseline and the check looks for growth.
  // The IO threads' malloc arenas reach their high-water mark after about 10 s of storm on a
  // 2-CPU machine; after a 5 s warm-up the storm still added 10 MiB to them, after a 20 s one
  // 4.5 MiB (retention converging, not a leak growing with the connections served).
  if (o.warmup > 0) {
    await phase('warm-up');
    log(`warm-up: a ${o.warmup} s storm`);
    res.warmup = await storm('warm-up', o.warmup, o.churn);
    if (serverGone()) throw new Error(serverGone());
  }
  await phase('baseline');
  const before = await rest(1);
  res.baseline = before;
  log(`baseline: RSS ${mb(before.rss)}, ${before.fds} fds, ${before.connections} connection(s)`);

  // --- the storm ---
  await phase('storm');
  res.peakResetWorked = child.resetPeak(pid);
  log(`storm: ${o.duration} s, ${o.churn} churn connections (${o.churnInflight} in flight), attack from 50 addresses`);
  res.storm = await storm('storm', o.duration, o.churn);
  const hwm = child.readMem(pid).hwm;
  res.storm.hwm = res.peakResetWorked ? hwm : null;
  res.storm.peak = Math.max(res.storm.peakRss, res.peakResetWorked ? hwm : 0);
  if (serverGone()) throw new Error(serverGone());

  // --- after the storm ---
  await phase('settle');
  const target = Math.floor(before.rss * RSS_FACTOR);
  const after = await rest(before.connections, { target, wantFds: before.fds, minMs: 2000 });
  res.after = after;
  log(`after: RSS ${mb(after.rss)} (baseline ${mb(before.rss)}, ${(after.rss / before.rss).toFixed(3)}×), ${after.fds} fds (baseline ${before.fds}), settled in ${after.settleS.toFixed(1)} s`);

  // --- memory per idle connection ---
  if (!o.noIdle && o.idle > 0) {
    await phase('idle');
    const perAddress = Math.ceil(o.idle / o.idleAddresses);
    const relax = { idleTimeoutMs: 0, firstMessageTimeoutMs: 0 };
    if (ready.api.setLimits) await child.request(server, { cmd: 'setLimits', limits: relax }, RPC_MS);
    const i0 = await rest(before.connections);
    log(`idle: opening ${perAddress * o.idleAddresses} connections from ${o.idleAddresses} addresses`);
    const idler = spawn('idle client', LOAD, [], loadCpu);
    try {
      const opened = (await child.request(idler, { cmd: 'start', role: 'idle', params: { ...base, nice: 10, addresses: range('127.0.2', o.idleAddresses), perAddress, inflight: 500, timeoutMs: 60000 } }, 70000)).result;
      // The server has them once its count says so; accept is asynchronous to the client.
      const t0 = Date.now();
      let s = await stats();
      while (s.server.connections < before.connections + opened.opened && Date.now() - t0 < SETTLE_MS) {
        await sleep(250);
        s = await stats();
      }
      await gc();
      await sleep(1000);
      const m = child.readMem(pid);
      const fds = child.countFds(pid);
      s = await stats();
      const held = (await child.request(idler, { cmd: 'report' }, RPC_MS)).result;
      const closed = (await child.request(idler, { cmd: 'close' }, RPC_MS)).result;
      const i1 = await rest(before.connections, { minMs: 2000, maxMs: 2000 });
      const n = s.server.connections - i0.connections;
      res.idle = {
        target: perAddress * o.idleAddresses, addresses: o.idleAddresses, perAddress, opened, held, closed,
        serverConnections: s.server.connections, counted: n, rssBefore: i0.rss, rssWith: m.rss, rssAfter: i1.rss,
        fdsBefore: i0.fds, fdsWith: fds, fdsAfter: i1.fds, bytesPerConnection: n > 0 ? (m.rss - i0.rss) / n : null,
        jsHeapBefore: i0.stats.memory.heapUsed, jsHeapWith: s.memory.heapUsed,
      };
      log(`idle: ${n} connections held by the server, RSS +${mb(m.rss - i0.rss)}, ${res.idle.bytesPerConnection === null ? 'n/a' : Math.round(res.idle.bytesPerConnection)} bytes per connection`);
    } finally {
      await proc.stopChild(idler, 2000);
      if (ready.api.setLimits) await child.request(server, { cmd: 'setLimits', limits: { idleTimeoutMs: ready.limits.idleTimeoutMs, firstMessageTimeoutMs: ready.limits.firstMessageTimeoutMs } }, RPC_MS);
    }
  }

  // --- the canary's verdict, and the end ---
  await phase('end');
  res.canary = (await child.request(canary, { cmd: 'stop' }, RPC_MS)).result;
  const last = res.phases[res.phases.length - 1];
  last.stealPct = proc.stealPct(last.steal, proc.readSteal(), (Date.now() - last.t) / 1000);
  res.finalStats = await stats();
  await child.request(server, { cmd: 'close' }, RPC_MS).catch((err) => res.notes.push(`server close: ${err.message}`));
  await proc.stopChild(server, 3000);
  await proc.stopChild(canary, 2000);

  res.checks.push({ name: 'canary failures', pass: res.canary.failures.total === 0, value: String(res.canary.failures.total), limit: '0' });
  const ratio = after.rss / before.rss;
  res.checks.push({ name: 'final RSS / pre-storm baseline', pass: ratio <= RSS_FACTOR, value: `${mb(after.rss)} / ${mb(before.rss)} = ${ratio.toFixed(3)}`, limit: `≤ ${RSS_FACTOR.toFixed(2)}` });
  res.checks.push({ name: 'open fds after the storm = before', pass: after.fds === before.fds, value: `${after.fds} / ${before.fds}`, limit: 'equal' });

  const meta = {
    date: started.toISOString(),
    finished: new Date().toISOString(),
    commandLine: ['node', 'bench/storm/run.js', ...process.argv.slice(2)].join(' '),
    machine: machineInfo(),
    pinned,
    serverCpu,
    loadCpu,
    fdLimits: { soft: fdp.soft, hard: fdp.hard },
    options: o,
    plan,
    canaryAddress: CANARY_ADDRESS,
    source: sourceState(),
    rssFactor: RSS_FACTOR,
  };
  finish(meta, res, o);
  clearTimeout(watchdog);
}

// A path for messages: relative when it lies under the current directory, absolute otherwise.
function displayPath(p) {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

// Which code was measured: the commit, and the files changed on top of it (the report of a run
// on a work tree in progress says so).
function sourceState() {
  const git = (args) => {
    const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trimEnd() : null;
  };
  const commit = git(['rev-parse', '--short', 'HEAD']);
  const changed = (git(['status', '--porcelain', '--untracked-files=no', '--', 'lib', 'native', 'binding.gyp']) || '').split('\n').filter(Boolean).map((l) => l.slice(3));
  return { commit, changed };
}

function finish(meta, res, o) {
  const md = renderMarkdown(meta, res);
  process.stdout.write(md);
  if (!o.noWrite) {
    const out = path.resolve(process.cwd(), o.out);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, md);
    const json = path.resolve(process.cwd(), o.json);
    fs.mkdirSync(path.dirname(json), { recursive: true });
    fs.writeFileSync(json, `${JSON.stringify({ meta, results: res }, null, 2)}\n`);
    log(`wrote ${displayPath(out)}, ${displayPath(json)}`);
  }
  const failed = res.checks.filter((c) => !c.pass);
  if (failed.length) {
    log(`FAIL: ${failed.map((c) => `${c.name} (${c.value}, limit ${c.limit})`).join('; ')}`);
    process.exitCode = 1;
  } else log('PASS');
}

proc.runMain('storm', main);
