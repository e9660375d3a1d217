// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The client side of the storm test: one process per role, started by bench/storm/run.js with
// an IPC channel. The orchestrator sends { id, cmd: 'start', role, params } and the role
// answers with its result; every role stops by itself at its deadline and its counts.
//   canary  one connection from its own address, an echo every intervalMs, latency and
//           failures (no reply within timeoutMs, a wrong reply, the connection closing);
//           runs until { cmd: 'stop' }, tags samples by { cmd: 'phase', name }.
//   churn   `count` connections, at most `inflight` at a time, each: connect, one echo, close.
//   attack  floods, garbage frames and slow partial frames from their own addresses (the plan
//           comes from run.js), until durationMs.
//   idle    `perAddress` connections from each address that send nothing; held until
//           { cmd: 'close' }.
// Roles other than the canary lower their own priority (params.nice), so that the canary,
// which shares their CPU, measures the server rather than its own neighbours.
const net = require('net');
const os = require('os');
const { frame, header, batch, garbage, GARBAGE_KINDS, FrameReader } = require('./frames');

const now = () => Number(process.hrtime.bigint() / 1000n) / 1000; // ms, monotonic
const bump = (o, k, n = 1) => {
  o[k] = (o[k] || 0) + n;
};

function send(msg) {
  if (process.connected) process.send(msg);
}

function connect(params, localAddress) {
  const s = net.connect({ host: params.host, port: params.port, localAddress, noDelay: true });
  return s;
}

// Exact percentiles from all samples (a 60 s canary takes about 6,000; sorting them is cheap).
function latencyStats(samples) {
  if (samples.length === 0) return { count: 0, p50: null, p99: null, p999: null, max: null, mean: null };
  const s = Float64Array.from(samples).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))];
  let sum = 0;
  for (const v of s) sum += v;
  return { count: s.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: s[s.length - 1], mean: sum / s.length };
}

// ---------------------------------------------------------------------------------------------
// canary

function canary(params, control) {
  const BODY = params.bodyBytes || 32;
  const phases = new Map(); // name -> { samples: [], sent, received, failures }
  let phase = 'start';
  const phaseRec = () => {
    let r = phases.get(phase);
    if (!r) phases.set(phase, (r = { samples: [], sent: 0, received: 0, failures: 0 }));
    return r;
  };
  const failures = { timeout: 0, wrong: 0, closed: 0, lost: 0, connect: 0 };
  // Per second of the run: [echoes, slowest ms], to find when a slow stretch happened.
  const timeline = [];
  const firstFailures = []; // the first few, with detail, for the report
  let lateReplies = 0;
  let reconnects = 0;
  let seq = 0;
  let socket = null;
  let connected = false;
  let stopped = false;
  let outstanding = new Map(); // seq -> { t: send time (ms), phase }
  const timedOut = new Set();
  let onConnected = null;

  const fail = (kind, detail) => {
    failures[kind]++;
    phaseRec().failures++;
    if (firstFailures.length < 20) firstFailures.push({ atMs: Math.round(now() - t0), phase, kind, detail });
  };
  const bodyFor = (n) => {
    const b = Buffer.alloc(BODY, 0x63);
    b.writeUInt32BE(n >>> 0, 0);
    return b;
  };
  const t0 = now();

  function open() {
    if (stopped) return;
    connected = false;
    const s = connect(params, params.address);
    socket = s;
    const reader = new FrameReader((type, flags, rseq, body) => {
      const out = outstanding.get(rseq);
      if (out === undefined) {
        if (timedOut.delete(rseq)) lateReplies++;
        else fail('wrong', `reply with unknown seq ${rseq}`);
        return;
      }
      outstanding.delete(rseq);
      if (type !== 1 || !body.equals(bodyFor(rseq))) {
        fail('wrong', `seq ${rseq}: type ${type}, ${body.length} body bytes differ`);
        return;
      }
      const r = phases.get(out.phase);
      const rtt = now() - out.t;
      r.received++;
      r.samples.push(rtt);
      const sec = Math.floor((out.t - t0) / 1000);
      const slot = timeline[sec] || (timeline[sec] = [0, 0, out.phase]);
      slot[0]++;
      if (rtt > slot[1]) slot[1] = rtt;
    }, { maxBody: 1 << 20, onError: (err) => fail('wrong', err.message) });
    s.on('connect', () => {
      connected = true;
      if (onConnected) {
        onConnected();
        onConnected = null;
      }
    });
    s.on('data', (c) => reader.push(c));
    s.on('error', (err) => {
      if (!connected && !stopped) fail('connect', err.code || err.message);
    });
    s.on('close', () => {
      if (s !== socket) return;
      if (stopped) return;
      if (connected) fail('closed', 'the server closed the canary connection');
      // What was in flight will never come back on a new connection.
      for (const q of outstanding.keys()) fail('lost', `seq ${q} in flight when the connection closed`);
      outstanding = new Map();
      connected = false;
      reconnects++;
      setTimeout(open, 100);
    });
  }

  const tick = setInterval(() => {
    const t = now();
    // Insertion order is seq order, so the oldest outstanding echo is first.
    for (const [q, out] of outstanding) {
      if (t - out.t <= params.timeoutMs) break;
      outstanding.delete(q);
      timedOut.add(q);
      fail('timeout', `seq ${q}: no reply within ${params.timeoutMs} ms`);
    }
    if (!connected) return;
    const n = ++seq;
    phaseRec().sent++;
    outstanding.set(n, { t: now(), phase });
    socket.write(frame(1, 0, n, bodyFor(n)));
  }, params.intervalMs);

  control.phase = (name) => {
    phase = name;
    phaseRec();
  };
  const report = () => {
    const byPhase = {};
    const all = [];
    for (const [name, r] of phases) {
      byPhase[name] = { sent: r.sent, received: r.received, failures: r.failures, latencyMs: latencyStats(r.samples) };
      for (const v of r.samples) all.push(v);
    }
    const total = Object.values(failures).reduce((a, b) => a + b, 0);
    const perSecond = Array.from(timeline, (x) => (x ? [x[0], Math.round(x[1] * 100) / 100, x[2]] : [0, null, null]));
    return { address: params.address, intervalMs: params.intervalMs, timeoutMs: params.timeoutMs, failures: { total, ...failures }, firstFailures, lateReplies, reconnects, inFlight: outstanding.size, phases: byPhase, latencyMs: latencyStats(all), perSecond };
  };
  control.report = report;
  control.stop = () => {
    // Replies still in flight get one timeout's grace before they count as failures.
    return new Promise((resolve) => {
      const deadline = now() + params.timeoutMs;
      const wait = setInterval(() => {
        if (outstanding.size === 0 || now() > deadline) {
          clearInterval(wait);
          clearInterval(tick);
          for (const q of outstanding.keys()) fail('timeout', `seq ${q}: no reply before the canary stopped`);
          outstanding = new Map();
          stopped = true;
          if (socket) socket.destroy();
          resolve(report());
        }
      }, 10);
    });
  };
  return new Promise((resolve, reject) => {
    onConnected = resolve;
    setTimeout(() => reject(new Error(`canary: no connection within ${params.timeoutMs} ms`)), params.timeoutMs).unref();
    open();
  });
}

// ---------------------------------------------------------------------------------------------
// churn

function churn(params) {
  return new Promise((resolve) => {
    const t0 = now();
    const deadline = t0 + params.durationMs;
    const r = { target: params.count, started: 0, opened: 0, echoed: 0, closedBeforeReply: 0, connectFailed: 0, timeouts: 0, errors: {} };
    let active = 0;
    let done = false;
    const addrs = params.addresses;
    const live = new Set();
    const body = Buffer.alloc(params.bodyBytes || 16, 0x62);
    const progress = setInterval(() => send({ type: 'progress', role: 'churn', started: r.started, opened: r.opened, echoed: r.echoed, active }), 1000);

    function finish() {
      if (done) return;
      done = true;
      clearInterval(progress);
      clearTimeout(hard);
      send({ type: 'progress', role: 'churn', started: r.started, opened: r.opened, echoed: r.echoed, active });
      const elapsedS = (now() - t0) / 1000;
      resolve({ ...r, addresses: addrs.length, inflight: params.inflight, elapsedS, openedPerS: r.opened / elapsedS });
    }
    // Anything still open a few seconds past the deadline is cut: the run is bounded.
    const hard = setTimeout(() => {
      for (const s of live) s.destroy();
      setTimeout(finish, 200);
    }, params.durationMs + params.timeoutMs + 1000);

    function launch() {
      while (active < params.inflight && r.started < params.count && now() < deadline) {
        const i = r.started++;
        active++;
        const s = connect(params, addrs[i % addrs.length]);
        live.add(s);
        let connected = false;
        let echoed = false;
        const timer = setTimeout(() => {
          r.timeouts++;
          s.destroy();
        }, params.timeoutMs);
        const reader = new FrameReader((type, flags, seq) => {
          if (seq === i >>> 0 && !echoed) {
            echoed = true;
            r.echoed++;
            s.destroy();
          }
        }, { maxBody: 1 << 20 });
        s.on('connect', () => {
          connected = true;
          r.opened++;
          s.write(frame(1, 0, i, body));
        });
        s.on('data', (c) => reader.push(c));
        s.on('error', (err) => bump(r.errors, err.code || 'error'));
        s.on('close', () => {
          clearTimeout(timer);
          live.delete(s);
          if (!connected) r.connectFailed++;
          else if (!echoed) r.closedBeforeReply++;
          active--;
          if (!done) launch();
          if (active === 0 && (r.started >= params.count || now() >= deadline)) finish();
        });
      }
      if (active === 0) finish();
    }
    launch();
  });
}

// ---------------------------------------------------------------------------------------------
// attack

// A flooder: `conns` connections per address, each writing a prebuilt batch of frames every
// everyMs while the socket takes it (a full socket buffer skips the tick, so the client never
// queues without bound), reading and discarding the echoes, reconnecting reconnectMs after the
// server closes it.
/**
 * The life of an attacking connection: counted when it connects (then `onUp`), its errors
 * tallied, and when the server closes it (or the connect fails) counted, `onGone`, and opened
 * again after `reconnectMs` unless the run is stopping.
 */
function reconnecting(s, st, ctx, reopen, reconnectMs, onUp, onGone) {
  let up = false;
  let t = 0;
  s.on('connect', () => {
    up = true;
    t = now();
    st.connects++;
    onUp();
  });
  s.on('error', (err) => bump(st.errors, err.code || 'error'));
  s.on('close', () => {
    onGone();
    if (ctx.stopping) return;
    if (up) {
      st.serverClosed++;
      st.lifetimeMs.push(now() - t);
    } else st.connectFailed++;
    ctx.later(reopen, reconnectMs);
  });
}

function floodGroup(g, params, ctx) {
  const st = { addresses: g.addresses.length, conns: g.conns, framesPerSecondPerConn: Math.round((g.batch * 1000) / g.everyMs), bodyBytes: g.body, connects: 0, connectFailed: 0, serverClosed: 0, framesSent: 0, bytesSent: 0, bytesReceived: 0, skippedTicks: 0, lifetimeMs: [], errors: {} };
  const buf = batch(g.batch, g.body);
  const frames = g.batch;
  const sockets = new Set();
  const open = (addr) => {
    if (ctx.stopping) return;
    const s = connect(params, addr);
    reconnecting(s, st, ctx, () => open(addr), g.reconnectMs, () => sockets.add(s), () => sockets.delete(s));
    s.on('data', (c) => {
      st.bytesReceived += c.length;
    });
  };
  for (const a of g.addresses) for (let i = 0; i < g.conns; i++) open(a);
  ctx.every(g.everyMs, () => {
    for (const s of sockets) {
      if (s.writableNeedDrain) {
        st.skippedTicks++;
        continue;
      }
      s.write(buf);
      st.framesSent += frames;
      st.bytesSent += buf.length;
    }
  });
  ctx.onStop(() => {
    for (const s of sockets) s.destroy();
  });
  return () => {
    const l = st.lifetimeMs.sort((a, b) => a - b);
    const { lifetimeMs, ...rest } = st;
    return { ...rest, medianLifetimeMs: l.length ? l[Math.floor(l.length / 2)] : null };
  };
}

// Connection flood: new connections from each address at up to perSecond, at most inflight at
// once, each reset as soon as it is up (no TIME_WAIT left on the client's ports).
function connFloodGroup(g, params, ctx) {
  const st = { addresses: g.addresses.length, perSecondPerAddress: g.perSecond, attempts: 0, connected: 0, connectFailed: 0, errors: {} };
  for (const addr of g.addresses) {
    let active = 0;
    let tokens = 0;
    ctx.every(10, () => {
      tokens = Math.min(tokens + g.perSecond / 100, g.perSecond / 10);
      while (tokens >= 1 && active < g.inflight && !ctx.stopping) {
        tokens--;
        active++;
        st.attempts++;
        const s = connect(params, addr);
        let up = false;
        s.on('connect', () => {
          up = true;
          st.connected++;
          s.resetAndDestroy();
        });
        s.on('error', (err) => bump(st.errors, err.code || 'error'));
        s.on('close', () => {
          active--;
          if (!up) st.connectFailed++;
        });
      }
    });
  }
  return () => st;
}

// Garbage: connect, write one malformed input (the kinds cycle), and wait up to waitMs for the
// server to close; then the next, everyMs later.
function garbageGroup(g, params, ctx) {
  const st = { addresses: g.addresses.length, sent: {}, serverClosed: {}, notClosed: {}, connectFailed: 0, errors: {} };
  let k = 0;
  const one = (addr) => {
    if (ctx.stopping) return;
    const kind = GARBAGE_KINDS[k++ % GARBAGE_KINDS.length];
    const s = connect(params, addr);
    let up = false;
    let gaveUp = false;
    let timer = null;
    s.on('connect', () => {
      up = true;
      bump(st.sent, kind);
      s.write(garbage(kind, params.maxFrameBytes));
      timer = setTimeout(() => {
        gaveUp = true;
        s.destroy();
      }, g.waitMs);
    });
    s.resume();
    s.on('error', (err) => bump(st.errors, err.code || 'error'));
    s.on('close', () => {
      clearTimeout(timer);
      if (!up) st.connectFailed++;
      else if (gaveUp) bump(st.notClosed, kind);
      else if (!ctx.stopping) bump(st.serverClosed, kind);
      ctx.later(() => one(addr), g.everyMs);
    });
    ctx.track(s);
  };
  for (const a of g.addresses) one(a);
  return () => st;
}

// Slow partial frames: a header announcing `bodyBytes`, then one byte every byteEveryMs, never
// the whole body. With echoFirst, one complete frame goes first, so that the partial frame is
// not the connection's first message. Reconnects after the server closes.
function slowGroup(g, params, ctx) {
  const st = { addresses: g.addresses.length, conns: g.conns, byteEveryMs: g.byteEveryMs, echoFirst: !!g.echoFirst, connects: 0, connectFailed: 0, serverClosed: 0, bytesTrickled: 0, lifetimeMs: [], errors: {} };
  const first = g.echoFirst ? frame(1, 0, 1, Buffer.from('hello')) : Buffer.alloc(0);
  const sockets = new Map(); // socket -> bytes of the body sent
  const open = (addr) => {
    if (ctx.stopping) return;
    const s = connect(params, addr);
    const up = () => {
      s.write(Buffer.concat([first, header(g.bodyBytes, 1, 0, 2), Buffer.from('s')]));
      sockets.set(s, 1);
    };
    reconnecting(s, st, ctx, () => open(addr), g.reconnectMs, up, () => sockets.delete(s));
    s.resume();
  };
  for (const a of g.addresses) for (let i = 0; i < g.conns; i++) open(a);
  ctx.every(g.byteEveryMs, () => {
    for (const [s, n] of sockets) {
      // One byte short of the body at most: the frame is never completed.
      if (n >= g.bodyBytes - 1) continue;
      s.write('s');
      sockets.set(s, n + 1);
      st.bytesTrickled++;
    }
  });
  ctx.onStop(() => {
    for (const s of sockets.keys()) s.destroy();
  });
  return () => {
    const l = st.lifetimeMs.sort((a, b) => a - b);
    const { lifetimeMs, ...rest } = st;
    return { ...rest, medianLifetimeMs: l.length ? l[Math.floor(l.length / 2)] : null, maxLifetimeMs: l.length ? l[l.length - 1] : null };
  };
}

function attack(params) {
  return new Promise((resolve) => {
    const t0 = now();
    const timers = new Set();
    const stoppers = [];
    const tracked = new Set();
    const ctx = {
      stopping: false,
      every(ms, fn) {
        timers.add(setInterval(fn, ms));
      },
      later(fn, ms) {
        if (ctx.stopping) return;
        const t = setTimeout(() => {
          timers.delete(t);
          fn();
        }, ms);
        timers.add(t);
      },
      onStop(fn) {
        stoppers.push(fn);
      },
      track(s) {
        tracked.add(s);
        s.once('close', () => tracked.delete(s));
      },
    };
    const builders = { flood: floodGroup, connflood: connFloodGroup, garbage: garbageGroup, slow: slowGroup };
    const groups = params.plan.map((g) => ({ g, result: builders[g.kind](g, params, ctx) }));
    const progress = setInterval(() => send({ type: 'progress', role: 'attack' }), 1000);
    setTimeout(() => {
      ctx.stopping = true;
      clearInterval(progress);
      for (const t of timers) {
        clearInterval(t);
        clearTimeout(t);
      }
      for (const fn of stoppers) fn();
      for (const s of tracked) s.destroy();
      // Let the destroyed sockets' 'close' events run before the counts are read.
      setTimeout(() => {
        const out = {};
        for (const { g, result } of groups) out[g.name] = { kind: g.kind, ...result() };
        resolve({ elapsedS: (now() - t0) / 1000, groups: out });
      }, 200);
    }, params.durationMs);
  });
}

// ---------------------------------------------------------------------------------------------
// idle

function idle(params, control) {
  const sockets = new Set();
  const r = { target: params.addresses.length * params.perAddress, opened: 0, connectFailed: 0, closedByServer: 0, errors: {} };
  let closing = false;
  const opened = new Promise((resolve) => {
    const t0 = now();
    const jobs = [];
    for (const a of params.addresses) for (let i = 0; i < params.perAddress; i++) jobs.push(a);
    let next = 0;
    let active = 0;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      resolve({ ...r, openS: (now() - t0) / 1000 });
    };
    const launch = () => {
      while (active < params.inflight && next < jobs.length && now() - t0 < params.timeoutMs) {
        const s = connect(params, jobs[next++]);
        active++;
        let up = false;
        s.on('connect', () => {
          up = true;
          r.opened++;
          sockets.add(s);
          active--;
          launch();
        });
        s.on('error', (err) => bump(r.errors, err.code || 'error'));
        s.on('close', () => {
          sockets.delete(s);
          if (!up) {
            r.connectFailed++;
            active--;
            launch();
          } else if (!closing) r.closedByServer++;
        });
      }
      if (active === 0) done();
    };
    launch();
    setTimeout(done, params.timeoutMs + 1000);
  });
  control.report = () => ({ ...r, open: sockets.size });
  control.close = () =>
    new Promise((resolve) => {
      closing = true;
      const all = [...sockets];
      if (all.length === 0) return resolve({ ...r, open: 0 });
      const t = setTimeout(() => resolve({ ...r, open: sockets.size }), 5000);
      for (const s of all) {
        s.once('close', () => {
          if (sockets.size === 0) {
            clearTimeout(t);
            resolve({ ...r, open: 0 });
          }
        });
        s.destroy();
      }
    });
  return opened;
}

// ---------------------------------------------------------------------------------------------

const ROLES = { canary, churn, attack, idle };
const control = {};

process.on('message', async (req) => {
  const reply = (r) => send({ id: req.id, ok: true, ...r });
  try {
    switch (req.cmd) {
      case 'start': {
        const fn = ROLES[req.role];
        if (!fn) throw new Error(`unknown role ${req.role}`);
        if (req.params.nice) {
          try {
            os.setPriority(req.params.nice);
          } catch {
            // Not allowed here; the role still runs, only at normal priority.
          }
        }
        reply({ result: await fn(req.params, control) });
        break;
      }
      case 'phase':
        control.phase(req.name);
        reply({});
        break;
      case 'report':
        reply({ result: control.report() });
        break;
      case 'stop':
        reply({ result: await control.stop() });
        break;
      case 'close':
        reply({ result: await control.close() });
        break;
      default:
        throw new Error(`unknown command ${req.cmd}`);
    }
  } catch (err) {
    send({ id: req.id, ok: false, error: err.message });
  }
});
// The orchestrator gone means nobody will stop this process: it stops itself.
process.on('disconnect', () => process.exit(0));
if (!process.send) {
  process.stderr.write('bench/storm/load.js is started by bench/storm/run.js (it needs an IPC channel)\n');
  process.exit(2);
}
