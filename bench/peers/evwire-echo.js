// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// evwire echo server with a JavaScript handler, the peer the benchmarks drive.
//   node bench/peers/evwire-echo.js --port P [--io-threads N] [--affinity auto|off|0,1]
//        [--read-budget BYTES] [--ring-bytes BYTES] [--triggering edge|level] [--workers N]
//        [--spin-us US]          the IO threads' spin before sleeping (the spinUs option)
//        [--encryption CIPHER]   message encryption required (test/fixtures/crypto's Ed25519 key)
//        [--tls DIR]             TLS with DIR/server.pem and DIR/server.key
// With --workers N the echo runs on N work threads (bench/peers/evwire-echo-worker.js) and the
// main thread only starts them.
// Prints "listening <address> <port>" once ready; exits on SIGTERM/SIGINT.
const fs = require('fs');
const path = require('path');
const { Runtime } = require('../../dist/index.js');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

async function main() {
  const aff = opt('affinity', 'off');
  const ring = opt('ring-bytes', undefined);
  const rt = await Runtime.start({
    ioThreads: Number(opt('io-threads', '1')),
    affinity: aff === 'auto' || aff === 'off' ? aff : aff.split(',').map(Number),
    readBudget: opt('read-budget', undefined) === undefined ? undefined : Number(opt('read-budget')),
    inRingBytes: ring === undefined ? undefined : Number(ring),
    outRingBytes: ring === undefined ? undefined : Number(ring),
    spinUs: opt('spin-us', undefined) === undefined ? undefined : Number(opt('spin-us')),
    triggering: opt('triggering', undefined), // the runtime's default: edge with IO threads, level inline
    logger: { level: 'warn' },
    workers: { count: Number(opt('workers', '0')), module: path.join(__dirname, 'evwire-echo-worker.js') },
  });
  const server = await rt.listen({
    protocol: 'tcp',
    host: opt('host', '127.0.0.1'),
    port: Number(opt('port', '0')),
    maxFrameBytes: 16 << 20,
    encryption: opt('encryption', null) === null ? undefined : { mode: 'required', cipher: opt('encryption'), keys: { ed25519: fs.readFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', 'crypto', 'ed25519.pem')) } },
    tls: opt('tls', null) === null ? undefined : { cert: fs.readFileSync(path.join(opt('tls'), 'server.pem')), key: fs.readFileSync(path.join(opt('tls'), 'server.key')) },
  });
  server.on('connection', (conn) => {
    conn.on('message', (msg) => conn.send(msg.type, msg.body, { seq: msg.seq, flags: msg.flags }));
  });
  const a = server.address();
  console.log(`listening ${a.address} ${a.port}`);
  const stop = () => rt.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
