// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The "rings vs threadsafe functions" experiment's comparison server (docs/experiments.md):
// the same IO threads, but messages reach JavaScript the conventional way, in batches through
// a napi_threadsafe_function, each message an object with its own Buffer, and replies go back
// in one N-API call per batch that reads every element. It runs on the benchmark-only addon
// (bench/lib/bench-addon.js, build/Release/evwire_bench.node), never on evwire's own.
//   node bench/peers/evwire-tsfn-echo.js --port P [--io-threads N]
// Prints "listening <address> <port>" once ready; exits on SIGTERM/SIGINT.
const { loadBenchAddon } = require('../lib/bench-addon');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

const { TsfnRuntime } = loadBenchAddon();
const rt = new TsfnRuntime({
  ioThreads: Number(opt('io-threads', '1')),
  inRingBytes: 4 << 20,
  outRingBytes: 4 << 20,
  maxConnsPerThread: 65536,
  readBudget: 64 << 10,
  levelTriggered: false,
  logLevel: 40,
});
rt.attach((batch) => {
  const replies = new Array(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const m = batch[i];
    replies[i] = m.end ? { conn: m.conn, end: true } : { conn: m.conn, type: m.type, seq: m.seq, flags: m.flags, body: m.body };
  }
  rt.sendBatch(replies);
});
const info = rt.listen({
  host: opt('host', '127.0.0.1'),
  port: Number(opt('port', '0')),
  maxFrameBytes: 16 << 20,
  highWatermark: 256 << 10,
  lowWatermark: 64 << 10,
  maxBufferedBytes: 16 << 20,
  noDelay: true,
});
console.log(`listening ${info.address} ${info.port}`);
const stop = () => {
  rt.dispose();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
