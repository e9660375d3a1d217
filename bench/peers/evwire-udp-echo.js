// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// evwire UDP echo server for evwire frames (one frame per datagram), the peer the udp case of
// bench/run.js drives against bench/peers/dgram-echo.js.
//   node bench/peers/evwire-udp-echo.js --port P [--io-threads N] [--host H]
// The IO threads check every datagram's frame header (a bad one is dropped); the handler sends
// the frame back, re-framed, to its source.
// Prints "listening <address> <port>" once ready; exits on SIGTERM/SIGINT.
const { Runtime } = require('../../dist/index.js');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

async function main() {
  const rt = await Runtime.start({ ioThreads: Number(opt('io-threads', '1')), logger: { level: 'warn' } });
  const udp = await rt.listen({ protocol: 'udp', host: opt('host', '127.0.0.1'), port: Number(opt('port', '0')) });
  udp.on('message', (msg, rinfo) => udp.send(msg.type, msg.body, { seq: msg.seq, flags: msg.flags }, rinfo.port, rinfo.address));
  const a = udp.address();
  console.log(`listening ${a.address} ${a.port}`);
  const stop = () => rt.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
