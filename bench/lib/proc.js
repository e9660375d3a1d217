// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Child-process plumbing for the benchmark driver: pinned spawns, readiness on the
// "listening" line, bounded stops and bounded load runs. Every child is tracked in one
// set so that the driver can kill all of them on any exit path, including Ctrl-C.
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const net = require('net');

const live = new Set();
const TAIL_BYTES = 4096;

// Spawns `cmd args` under `taskset -c cpu`. taskset execs the command, so the child's pid is
// the program's own pid and signals reach it directly rather than a wrapper.
function spawnPinned(cpu, cmd, args, opts) {
  const child = spawn('taskset', ['-c', String(cpu), cmd, ...args], {
    cwd: opts.cwd,
    // Extra variables (LD_PRELOAD for the allocator experiment) on top of this process's own.
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.exitInfo = null;
  child.exited = new Promise((resolve) => {
    // 'close' rather than 'exit': it comes after the pipes are drained, so the output
    // collected below is complete when the promise settles.
    child.on('close', (code, signal) => {
      live.delete(child);
      child.exitInfo = { code, signal };
      resolve(child.exitInfo);
    });
    // A spawn failure (taskset missing, say) emits 'error' and may never emit 'close'.
    child.on('error', (err) => {
      live.delete(child);
      child.exitInfo = { code: null, signal: null, error: err.message };
      resolve(child.exitInfo);
    });
  });
  return child;
}

// Keeps only the last few KiB of a stream, enough to explain a failure without letting a
// chatty child grow the driver's memory over a long run.
function tailCollector(stream) {
  let tail = '';
  stream.setEncoding('utf8');
  stream.on('data', (s) => {
    tail = (tail + s).slice(-TAIL_BYTES);
  });
  return () => tail;
}

function killAll(signal) {
  for (const child of live) {
    try {
      child.kill(signal);
    } catch {
      // The child may have gone between the set walk and the kill; nothing to do then.
    }
  }
}

// Asks the kernel for a free port by binding port 0 and releasing it. Another process could
// take it in the gap, but the readiness check below then fails loudly instead of measuring
// the wrong server.
function freePort(host) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Starts a server and resolves once it prints "listening <address> <port>" for the port it
// was given. Rejects, after killing the child, if the line does not come in time or the
// child exits first.
async function startServer({ cpu, cmd, args, cwd, port, readyTimeoutMs, env }) {
  const child = spawnPinned(cpu, cmd, args, { cwd, env });
  const stderrTail = tailCollector(child.stderr);
  const stdoutTail = tailCollector(child.stdout);
  child.stderrTail = stderrTail;
  child.stdoutTail = stdoutTail;
  const ready = await new Promise((resolve) => {
    let buf = '';
    const onData = (s) => {
      buf += s;
      const m = /^listening\s+(\S+)\s+(\d+)\s*$/m.exec(buf);
      if (m) finish({ ok: true, address: m[1], port: Number(m[2]) });
    };
    const timer = setTimeout(
      () => finish({ ok: false, why: `no "listening" line within ${readyTimeoutMs} ms` }),
      readyTimeoutMs
    );
    let done = false;
    function finish(r) {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolve(r);
    }
    child.stdout.on('data', onData);
    child.exited.then((info) => {
      const how = info.error ? info.error : info.signal ? `signal ${info.signal}` : `status ${info.code}`;
      finish({ ok: false, why: `exited (${how}) before printing "listening"` });
    });
  });
  if (ready.ok && ready.port !== port) {
    ready.ok = false;
    ready.why = `listening on port ${ready.port}, asked for ${port}`;
  }
  if (!ready.ok) {
    await stopChild(child, 0);
    const detail = (stderrTail() || stdoutTail()).trim();
    throw new Error(`${ready.why}${detail ? `; output: ${detail.split('\n').slice(-5).join(' | ')}` : ''}`);
  }
  return child;
}

// SIGTERM, then SIGKILL if the child is still there after graceMs. Resolves with how it
// ended and whether the hard kill was needed.
async function stopChild(child, graceMs) {
  if (child.exitInfo) return { ...child.exitInfo, killed: false, early: true };
  let killed = false;
  try {
    child.kill('SIGTERM');
  } catch {
    // Already gone; the exited promise settles on its own.
  }
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }, graceMs);
  const info = await child.exited;
  clearTimeout(timer);
  return { ...info, killed, early: false };
}

// Runs a program to completion under taskset with a hard wall-clock limit, collecting its
// whole stdout (the load generator prints one JSON line) and the tail of its stderr. With
// sampleCpu, its CPU time is read every 100 ms while it runs, and cpuPct (its CPU time per
// second of wall time up to the last reading, all threads) comes back with the result.
async function runBounded({ cpu, cmd, args, cwd, timeoutMs, sampleCpu = false }) {
  const t0 = process.hrtime.bigint();
  const child = spawnPinned(cpu, cmd, args, { cwd });
  let last = null;
  const sampler = sampleCpu
    ? setInterval(() => {
        const ticks = processTicks(child.pid);
        if (ticks !== null) last = { ticks, wallS: Number(process.hrtime.bigint() - t0) / 1e9 };
      }, 100)
    : null;
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s) => {
    stdout += s;
  });
  const stderrTail = tailCollector(child.stderr);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }, timeoutMs);
  const info = await child.exited;
  clearTimeout(timer);
  if (sampler) clearInterval(sampler);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuPct = last && last.wallS > 0.5 ? (last.ticks / clockTicks() / last.wallS) * 100 : null;
  return { ...info, timedOut, stdout, stderr: stderrTail(), wallS, cpuPct };
}

// Reads the aggregate "cpu" line of /proc/stat and returns its steal jiffies (the 8th value
// after the label), or null where /proc/stat does not exist or has no steal column.
function readSteal() {
  try {
    const first = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const f = first.trim().split(/\s+/);
    if (f[0] !== 'cpu' || f.length < 9) return null;
    return Number(f[8]);
  } catch {
    return null;
  }
}

// Ticks of every CPU from the cpuN lines of /proc/stat ({ 0: { busy, softirq, total } }): busy
// is user, nice and system time, the time that processes' utime and stime count; interrupts and
// softirqs are apart (on loopback the softirq of a send runs on the sender's CPU and counts to
// no process), and steal is reported on its own. Null where /proc/stat is unreadable.
function readCpuTicks() {
  try {
    const out = {};
    for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
      const m = /^cpu(\d+)\s+(.*)$/.exec(line);
      if (!m) continue;
      const v = m[2].trim().split(/\s+/).map(Number);
      // user nice system idle iowait irq softirq steal (guest time is inside user already)
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      out[m[1]] = { busy: v[0] + v[1] + v[2], softirq: v[5] + v[6], total };
    }
    return out;
  } catch {
    return null;
  }
}

/** Percentage of one CPU's time between two readCpuTicks() values that went to `field`. */
function cpuBusyPct(t0, t1, cpu, field = 'busy') {
  const a = t0 && t0[cpu];
  const b = t1 && t1[cpu];
  if (!a || !b || b.total <= a.total) return null;
  return ((b[field] - a[field]) / (b.total - a.total)) * 100;
}

/** utime + stime of a whole process (all its threads), in clock ticks; null once it is gone. */
function processTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return null;
  }
}

// The kernel reports /proc/stat in USER_HZ ticks; getconf says what they are, and Linux
// fixes them at 100 on every common architecture, which is the fallback.
let ticks = 0;
function clockTicks() {
  if (ticks === 0) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number((r.stdout || '').trim());
    ticks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticks;
}

/** The last line of `stdout` that parses as JSON, or null: a truncated line (a killed run) is
 * skipped in favour of an earlier complete one. ew_loadgen and bench/wrk/evwire.lua print their
 * results so. */
function lastJson(stdout) {
  const lines = stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i]);
    } catch {
      // try the line before
    }
  }
  return null;
}

/** CPU steal between two readSteal() values over `wallS` seconds, as a percentage of all CPU
 * time of the machine; null when either reading is missing. */
function stealPct(steal0, steal1, wallS) {
  if (steal0 === null || steal1 === null || !(wallS > 0)) return null;
  return ((steal1 - steal0) / (wallS * clockTicks() * os.cpus().length)) * 100;
}

/**
 * Every thread of a running process as { tid, name, allowed, lastCpu }: `allowed` is the
 * thread's Cpus_allowed_list from /proc/<pid>/task/<tid>/status (taskset's mask, which threads
 * inherit when they are created), `lastCpu` the CPU it last ran on (field 39 of its stat line).
 * Returns null where /proc cannot be read (the process is gone, or not Linux).
 */
function threadAffinity(pid) {
  let tids;
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const out = [];
  for (const tid of tids) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      // The name in stat is in brackets and may hold spaces; the fields after it are plain.
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({
        tid: Number(tid),
        name: (/^Name:\s*(.*)$/m.exec(status) || [])[1] || '?',
        allowed: (/^Cpus_allowed_list:\s*(.*)$/m.exec(status) || [])[1] || '?',
        lastCpu: Number(after[36]),
      });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

function commandExists(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0;
}

// Checks that taskset accepts a CPU, which covers both a CPU that does not exist and one
// outside this process's allowed set (a container's cpuset, say).
function cpuUsable(cpu) {
  const r = spawnSync('taskset', ['-c', String(cpu), 'true'], { encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr || `taskset exited with ${r.status}`).trim();
}

/**
 * Runs `main` as a benchmark's entry point. Ctrl-C (or a SIGTERM from a CI runner) must not
 * leave pinned servers behind; they would skew every later measurement on the same CPU.
 * SIGKILL is used because there is nothing in a peer worth waiting for, and a peer's own
 * SIGINT handler already ran if the terminal sent the signal to the whole process group. The
 * exit hook is the last line of defence: whatever the path out of the process, no child
 * survives it.
 */
function runMain(name, main) {
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
    process.on(sig, () => {
      process.stderr.write(`\n${name}: ${sig}, stopping ${live.size} child process(es)\n`);
      killAll('SIGKILL');
      process.exit(code);
    });
  }
  process.on('exit', () => killAll('SIGKILL'));
  main().catch((err) => {
    process.stderr.write(`${name}: ${err.stack || err.message}\n`);
    killAll('SIGKILL');
    process.exit(1);
  });
}

module.exports = {
  live,
  runMain,
  killAll,
  freePort,
  startServer,
  stopChild,
  runBounded,
  readSteal,
  clockTicks,
  stealPct,
  lastJson,
  commandExists,
  cpuUsable,
  threadAffinity,
  readCpuTicks,
  cpuBusyPct,
  processTicks,
};
