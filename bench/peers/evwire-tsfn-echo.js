// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The "rings vs threadsafe functions" experiment's comparison server (docs/experiments.md):
// the same IO threads, but messages reach JavaScript the conventional way, in batches through
// a napi_threadsafe_function, each message an object with its own Buffer, and replies go back
// in one N-API call per batch that reads every element. Not part of the public API.
//   node bench/peers/evwire-tsfn-echo.js --port P [--io-threads N]
const { native } = require('../../dist/native.js');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

const nrt = new native.NativeRuntime({
  ioThreads: Number(opt('io-threads', '1')),
  ports: 1,
  affinity: 'off',
  inRingBytes: 4 << 20,
  outRingBytes: 4 << 20,
  maxConnsPerThread: 65536,
  readBudget: 64 << 10,
  serialStart: false,
  levelTriggered: false,
  logLevel: 40,
});
nrt.attachTsfn(0, (batch) => {
  const replies = new Array(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const m = batch[i];
    replies[i] = m.end ? { conn: m.conn, end: true } : { conn: m.conn, type: m.type, seq: m.seq, flags: m.flags, body: m.body };
  }
  nrt.tsfnSendBatch(replies);
});
const info = nrt.listen({
  host: opt('host', '127.0.0.1'),
  port: Number(opt('port', '0')),
  backlog: 511,
  reusePort: false,
  distribution: 0,
  framing: 0,
  maxFrameBytes: 16 << 20,
  highWatermark: 256 << 10,
  lowWatermark: 64 << 10,
  maxBufferedBytes: 16 << 20,
  noDelay: true,
  ownerPort: 0,
});
console.log(`listening ${info.address} ${info.port}`);
const stop = () => {
  nrt.dispose();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
