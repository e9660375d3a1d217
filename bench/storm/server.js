// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The server side of the storm test, started by bench/storm/run.js with an IPC channel.
//   node --expose-gc bench/storm/server.js --server evwire|node [--io-threads N] [--host H]
// evwire: a framed echo server with the storm's protection limits (STORM_LIMITS below).
// node:   a plain Node `net` framed echo server with no protection at all, to check the
//         harness's plumbing end to end and to show what the storm does to an unguarded server.
// Sends { type: 'ready', port, ... } over IPC once listening, then answers requests
// { id, cmd: 'stats' | 'gc' | 'setLimits' | 'close', ... } with { id, ok, ... }.
const net = require('net');
const path = require('path');
const { FrameReader } = require('./frames');

const MAX_FRAME_BYTES = 65536;

// The protection configuration under test. Per-connection windows of 1 s, IP buckets that a
// flooding address empties in about a second, bans of 2 s so that they expire and recur
// during the run, and timeouts that a slow partial frame trips while the canary (an echo every
// 10 ms, 100 messages/s from its own address) stays far inside every limit.
const STORM_LIMITS = {
  windowMs: 1000,
  maxMessagesPerWindow: 2000,
  maxBytesPerWindow: 4 << 20,
  ipMessagesPerSecond: 5000,
  ipMessageBurst: 10000,
  ipConnectionsPerSecond: 500,
  ipConnectionBurst: 1000,
  banMs: 2000,
  maxConnections: 15000,
  maxConnectionsPerIp: 1000,
  idleTimeoutMs: 10000,
  partialFrameTimeoutMs: 2000,
  firstMessageTimeoutMs: 5000,
};

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const kind = opt('server', 'evwire');
const host = opt('host', '127.0.0.1');
const ioThreads = Number(opt('io-threads', '2'));
// Connections from this address (the canary's) have their close reasons recorded one by one:
// a canary failure is then explained by the server's side of it.
const watch = opt('watch', null);

// Counted from the server's events, next to its own stats(): what the protection did, as a
// handler sees it.
const events = { kicked: {}, bans: {}, closes: {}, watched: [] };
const t0 = Date.now();
const watched = (address, code) => {
  if (address === watch && events.watched.length < 100) events.watched.push({ atMs: Date.now() - t0, code });
};
const bump = (o, k) => {
  o[k] = (o[k] || 0) + 1;
};

async function startEvwire() {
  const { Runtime } = require(path.join(__dirname, '..', '..', 'dist'));
  const rt = await Runtime.start({ ioThreads, logger: { level: 'error' } });
  const server = await rt.listen({
    protocol: 'tcp',
    host,
    port: 0,
    backlog: 4096,
    maxFrameBytes: MAX_FRAME_BYTES,
    maxTrackedIps: 65536,
    limits: STORM_LIMITS,
  });
  server.on('connection', (conn) => {
    // m.body is valid during the handler only; send() copies it.
    conn.on('message', (m) => conn.send(m.type, m.body, { seq: m.seq, flags: m.flags }));
    conn.on('close', (reason) => {
      const code = (reason && reason.code) || 'unknown';
      bump(events.closes, code);
      watched(conn.remoteAddress, code);
    });
  });
  server.on('kicked', (conn, info) => bump(events.kicked, (info && info.what) || 'unknown'));
  server.on('ban', (ban) => bump(events.bans, (ban && ban.reason) || 'unknown'));
  // Accept failures (EW_EMFILE) are counted, not thrown: an 'error' with no listener would
  // end the process.
  server.on('error', (err) => bump(events.closes, `accept:${err.code || 'error'}`));
  const api = {
    setLimits: typeof server.setLimits === 'function',
    bans: !!server.bans && typeof server.bans.list === 'function',
  };
  return {
    port: server.address().port,
    limits: STORM_LIMITS,
    api,
    stats: () => ({ server: server.stats(), runtime: typeof rt.stats === 'function' ? rt.stats() : null, activeBans: api.bans ? server.bans.list().length : null }),
    setLimits: (l) => {
      if (!api.setLimits) throw new Error('server.setLimits is not implemented');
      server.setLimits(l);
    },
    close: () => rt.close(),
  };
}

async function startNode() {
  const live = new Set();
  const counts = { accepted: 0, messagesIn: 0, bytesIn: 0 };
  const server = net.createServer({ noDelay: true }, (socket) => {
    counts.accepted++;
    live.add(socket);
    let why = 'EOF';
    // No limits of any kind: every frame is echoed, a frame that never completes is waited
    // for as long as the peer keeps the connection.
    const reader = new FrameReader((type, flags, seq, body) => {
      counts.messagesIn++;
      counts.bytesIn += body.length;
      const h = Buffer.allocUnsafe(12);
      h.writeUInt32BE(body.length, 0);
      h.writeUInt16BE(type, 4);
      h.writeUInt16BE(flags, 6);
      h.writeUInt32BE(seq, 8);
      socket.write(Buffer.concat([h, body]));
    }, { maxBody: 0xffffffff });
    socket.on('data', (chunk) => {
      socket.cork();
      reader.push(chunk);
      socket.uncork();
    });
    socket.on('error', (err) => {
      why = err.code || 'error';
      socket.destroy();
    });
    const from = socket.remoteAddress;
    socket.on('close', () => {
      live.delete(socket);
      bump(events.closes, why);
      watched(from, why);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host, backlog: 4096 }, resolve);
  });
  return {
    port: server.address().port,
    limits: null,
    api: { setLimits: false, bans: false },
    stats: () => ({ server: { connections: live.size, ...counts }, runtime: null, activeBans: null }),
    setLimits: () => {
      // Nothing to set: the plain server has no limits.
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of live) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function main() {
  if (!process.send) throw new Error('bench/storm/server.js is started by bench/storm/run.js (it needs an IPC channel)');
  const srv = kind === 'node' ? await startNode() : kind === 'evwire' ? await startEvwire() : null;
  if (!srv) throw new Error(`unknown --server ${kind}`);
  process.on('message', async (req) => {
    const reply = (r) => process.send({ id: req.id, ok: true, ...r });
    try {
      switch (req.cmd) {
        case 'stats':
          reply({ ...srv.stats(), events, memory: process.memoryUsage() });
          break;
        case 'gc':
          // Two passes: the first finds what the closed connections left, the second
          // collects what finalizers of the first released.
          if (global.gc) {
            global.gc();
            global.gc();
          }
          reply({ collected: !!global.gc });
          break;
        case 'setLimits':
          srv.setLimits(req.limits);
          reply({});
          break;
        case 'close':
          await srv.close();
          reply({});
          process.disconnect();
          setTimeout(() => process.exit(0), 100).unref();
          break;
        default:
          throw new Error(`unknown command ${req.cmd}`);
      }
    } catch (err) {
      process.send({ id: req.id, ok: false, error: err.message });
    }
  });
  process.send({ type: 'ready', port: srv.port, pid: process.pid, server: kind, limits: srv.limits, api: srv.api, maxFrameBytes: MAX_FRAME_BYTES, gc: !!global.gc, ioThreads: kind === 'evwire' ? ioThreads : null });
  console.log(`listening ${host} ${srv.port}`);
  // The orchestrator gone (killed, crashed) means nobody will ever stop this process.
  process.on('disconnect', () => setTimeout(() => process.exit(0), 200).unref());
  const stop = () => Promise.resolve(srv.close()).finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
