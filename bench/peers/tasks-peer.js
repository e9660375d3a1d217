// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// One measurement of bench/tasks.js: the main thread sends tasks to one work thread and awaits
// the replies, through evwire's scheduler (task rings) or through Node's postMessage (with a
// correlation id and a promise per request, the way an application would do it).
//   node bench/peers/tasks-peer.js --peer evwire|postmessage --payload number|small|move|bytes1k|obj16k
//        [--seconds S] [--window W] [--rtt N]
// Prints one JSON line: { tasksPerSec, rtt: { p50, p99, mean } } (microseconds).
const path = require('path');
const { Worker } = require('worker_threads');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

const PAYLOADS = {
  number: () => 12345.5,
  small: () => ({ player: 7, move: [3, 4], name: 'knight' }),
  // evwire: a protobuf-typed task (demo.Move both ways); postMessage: the same plain object.
  move: () => ({ player: 7, x: 3, y: -4 }),
  bytes1k: () => Buffer.alloc(1024, 7),
  obj16k: () => ({ list: Array.from({ length: 2000 }, (_, i) => i * 3), tag: 'x'.repeat(100) }),
};

async function evwire(payload) {
  const { Runtime } = require('../../dist/index.js');
  const { moveEcho } = require('./tasks-worker.js');
  const rt = await Runtime.start({ ioThreads: 1, workers: { count: 1, module: path.join(__dirname, 'tasks-worker.js') }, logger: { level: 'warn' } });
  const task = payload === 'move' ? moveEcho : 'echo';
  return { call: (p) => rt.tasks.schedule(task, p, { to: 1, timeoutMs: 0 }), close: () => rt.close() };
}

async function postmessage() {
  const w = new Worker(path.join(__dirname, 'pm-worker.js'));
  await new Promise((r) => w.once('online', r));
  const pending = new Map();
  let next = 1;
  w.on('message', (m) => {
    const resolve = pending.get(m.id);
    pending.delete(m.id);
    resolve(m.p);
  });
  return {
    call: (p) =>
      new Promise((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        w.postMessage({ id, p });
      }),
    close: () => w.terminate(),
  };
}

async function main() {
  const peer = opt('peer', 'evwire');
  const make = PAYLOADS[opt('payload', 'small')];
  if (make === undefined || (peer !== 'evwire' && peer !== 'postmessage')) throw new Error('bad --peer or --payload');
  const seconds = Number(opt('seconds', '3'));
  const window = Number(opt('window', '256'));
  const rttN = Number(opt('rtt', '2000'));
  const p = make();
  const t = peer === 'evwire' ? await evwire(opt('payload', 'small')) : await postmessage();
  // Warm-up: JIT and ring pages.
  for (let i = 0; i < 2000; i++) await t.call(p);

  // Throughput: `window` requests in flight for `seconds`.
  let done = 0;
  const end = Date.now() + seconds * 1000;
  const t0 = process.hrtime.bigint();
  await new Promise((resolve) => {
    let inflight = 0;
    const pump = () => {
      while (inflight < window && Date.now() < end) {
        inflight++;
        t.call(p).then(() => {
          inflight--;
          done++;
          if (Date.now() < end) pump();
          else if (inflight === 0) resolve();
        });
      }
    };
    pump();
  });
  const tasksPerSec = done / (Number(process.hrtime.bigint() - t0) / 1e9);

  // Latency: one request at a time.
  const us = [];
  for (let i = 0; i < rttN; i++) {
    const a = process.hrtime.bigint();
    await t.call(p);
    us.push(Number(process.hrtime.bigint() - a) / 1000);
  }
  us.sort((a, b) => a - b);
  const q = (f) => us[Math.min(us.length - 1, Math.floor(f * us.length))];
  const mean = us.reduce((a, b) => a + b, 0) / us.length;
  await t.close();
  console.log(JSON.stringify({ peer, payload: opt('payload', 'small'), tasksPerSec, rtt: { p50: q(0.5), p99: q(0.99), mean } }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
