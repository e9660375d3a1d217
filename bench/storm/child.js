// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Node child processes with an IPC channel for the storm test: pinned with taskset like
// bench/lib/proc.js's servers, tracked in proc.live so that the driver's exit paths kill them,
// and spoken to by request/reply. Also the /proc readings of the server: RSS, smaps, fds.
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const proc = require('../lib/proc');

const TAIL_BYTES = 4096;

/** The soft and hard limits on open descriptors of a process started from here. Node raises its
 * own soft limit to the hard one as it starts, so the hard limit is what a Node child can use. */
function fdLimits() {
  const r = spawnSync('bash', ['-c', 'ulimit -Sn; ulimit -Hn'], { encoding: 'utf8' });
  const [soft, hard] = (r.stdout || '').trim().split('\n').map((s) => (s === 'unlimited' ? Infinity : Number(s)));
  return { soft: Number.isFinite(soft) || soft === Infinity ? soft : null, hard: Number.isFinite(hard) || hard === Infinity ? hard : null };
}

/**
 * Starts `node [nodeArgs] script [args]` with stdio ignore/pipe/pipe/ipc, under taskset when cpu
 * (a taskset CPU list) is given. taskset execs node, so the child's pid is node's own and
 * /proc/<pid> describes it.
 */
function spawnNode({ name, cpu, nodeArgs = [], script, args = [], cwd }) {
  let cmd = process.execPath;
  let argv = [...nodeArgs, script, ...args];
  if (cpu !== null && cpu !== undefined) {
    argv = ['-c', String(cpu), cmd, ...argv];
    cmd = 'taskset';
  }
  const child = spawn(cmd, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  proc.live.add(child);
  child.label = name || 'child';
  child.exitInfo = null;
  let tail = '';
  for (const s of [child.stdout, child.stderr]) {
    s.setEncoding('utf8');
    s.on('data', (d) => {
      tail = (tail + d).slice(-TAIL_BYTES);
    });
  }
  child.outputTail = () => tail;
  const pending = new Map();
  let nextId = 1;
  child.rpcPending = pending;
  child.nextId = () => nextId++;
  child.notices = [];
  child.onNotice = null;
  child.on('message', (m) => {
    if (m && m.id !== undefined && pending.has(m.id)) {
      const p = pending.get(m.id);
      pending.delete(m.id);
      clearTimeout(p.timer);
      if (m.ok) p.resolve(m);
      else p.reject(new Error(m.error));
    } else if (child.onNotice) child.onNotice(m);
    else child.notices.push(m);
  });
  child.exited = new Promise((resolve) => {
    const done = (info) => {
      if (child.exitInfo) return;
      proc.live.delete(child);
      child.exitInfo = info;
      const why = info.error || (info.signal ? `signal ${info.signal}` : `status ${info.code}`);
      for (const p of pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`the ${child.label} exited (${why}) before answering; output: ${tail.trim().split('\n').slice(-5).join(' | ')}`));
      }
      pending.clear();
      resolve(info);
    };
    // 'exit' and the end of both output pipes rather than 'close': a child whose IPC channel
    // this side disconnected never gets 'close' (Node 20), and the run would wait for ever.
    const ended = [child.stdout, child.stderr].map((s) => new Promise((r) => s.once('close', r)));
    child.on('exit', (code, signal) => {
      const cap = new Promise((r) => setTimeout(r, 1000));
      Promise.race([Promise.all(ended), cap]).then(() => done({ code, signal }));
    });
    child.on('error', (err) => done({ code: null, signal: null, error: err.message }));
  });
  return child;
}

/** Sends { id, ...msg } and resolves with the reply, or rejects after timeoutMs. */
function request(child, msg, timeoutMs) {
  return new Promise((resolve, reject) => {
    if (child.exitInfo || !child.connected) {
      const info = child.exitInfo;
      const why = info ? ` (${info.error || (info.signal ? `signal ${info.signal}` : `status ${info.code}`)})` : '';
      reject(new Error(`the ${child.label} is gone${why}; output: ${child.outputTail().trim().split('\n').slice(-5).join(' | ')}`));
      return;
    }
    const id = child.nextId();
    const timer = setTimeout(() => {
      child.rpcPending.delete(id);
      reject(new Error(`the ${child.label} did not answer ${msg.cmd} within ${timeoutMs} ms`));
    }, timeoutMs);
    child.rpcPending.set(id, { resolve, reject, timer });
    child.send({ id, ...msg });
  });
}

/** Resolves with the first notice of `type` the child sends, or rejects after timeoutMs or
 * when the child exits first. */
function waitNotice(child, type, timeoutMs) {
  return new Promise((resolve, reject) => {
    const i = child.notices.findIndex((m) => m && m.type === type);
    if (i >= 0) {
      resolve(child.notices.splice(i, 1)[0]);
      return;
    }
    const timer = setTimeout(() => {
      child.onNotice = null;
      reject(new Error(`no "${type}" within ${timeoutMs} ms; output: ${child.outputTail().trim().split('\n').slice(-5).join(' | ')}`));
    }, timeoutMs);
    child.onNotice = (m) => {
      if (m && m.type === type) {
        clearTimeout(timer);
        child.onNotice = null;
        resolve(m);
      }
    };
    child.exited.then((info) => {
      clearTimeout(timer);
      reject(new Error(`exited (${info.error || info.signal || `status ${info.code}`}) before "${type}"; output: ${child.outputTail().trim().split('\n').slice(-5).join(' | ')}`));
    });
  });
}

/** Resident set size and its high-water mark of a process, in bytes, from /proc/<pid>/status:
 * what the kernel charges the process, native allocations included. */
function readMem(pid) {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => {
      const m = new RegExp(`^${k}:\\s+(\\d+)\\s+kB`, 'm').exec(s);
      return m ? Number(m[1]) * 1024 : null;
    };
    return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
  } catch {
    return { rss: null, hwm: null };
  }
}

/** Resets the process's VmHWM to its current RSS (Linux 4.0+); false where that is refused. */
function resetPeak(pid) {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * Resident bytes of a process by kind of mapping, from /proc/<pid>/smaps: the main thread's
 * malloc heap ('[heap]'), other threads' malloc arenas (glibc maps them 64 MiB-aligned, the
 * used part followed by an inaccessible reserve up to 64 MiB), other anonymous memory (V8's heap
 * spaces, large malloc blocks mapped on their own, ...), shared memory (evwire's memfd segment
 * of rings and slots), file mappings (code, libraries) and stacks. Tells retained memory's likely owner; null where smaps cannot be read.
 */
function readSmaps(pid) {
  let text;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return null;
  }
  const maps = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) maps.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perm: m[3], name: m[4].trim(), rss: 0 });
    else if (maps.length && line.startsWith('Rss:')) maps[maps.length - 1].rss = Number(line.split(/\s+/)[1]) * 1024;
  }
  const ARENA = 64n << 20n;
  const out = { heap: 0, arenas: 0, anon: 0, shm: 0, file: 0, stack: 0 };
  maps.forEach((m, i) => {
    let kind;
    if (m.name === '[heap]') kind = 'heap';
    else if (m.name.startsWith('[stack')) kind = 'stack';
    else if (m.name === '' || m.name.startsWith('[anon')) {
      const next = maps[i + 1];
      const arena = m.start % ARENA === 0n && m.perm.startsWith('rw') && ((next && next.start === m.end && next.perm.startsWith('---') && next.end - m.start === ARENA) || m.end - m.start === ARENA);
      kind = arena ? 'arenas' : 'anon';
    } else if (m.name.startsWith('[')) kind = 'anon';
    else if (m.name.startsWith('/memfd:') || m.name.startsWith('/dev/shm/')) kind = 'shm';
    else kind = 'file';
    out[kind] += m.rss;
  });
  return out;
}

/** Open descriptors of a process: the entries of /proc/<pid>/fd. */
function countFds(pid) {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

module.exports = { fdLimits, spawnNode, request, waitNotice, readMem, readSmaps, resetPeak, countFds };
