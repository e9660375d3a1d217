// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Node dgram echo server for evwire frames (one frame per datagram), the peer evwire's UDP
// echo is measured against.
//   node bench/peers/dgram-echo.js --port P [--host H]
// Like evwire's IO threads it checks every datagram's frame header (length, type, flags) and
// drops a bad one; a good one goes back to its source as it came.
// Prints "listening <address> <port>" once ready; exits on SIGTERM/SIGINT.
const dgram = require('dgram');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const HEADER = 12;
const host = opt('host', '127.0.0.1');
const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
let dropped = 0;
socket.on('message', (msg, rinfo) => {
  if (msg.length < HEADER || msg.readUInt32BE(0) !== msg.length - HEADER || msg.readUInt16BE(4) === 0 || msg.readUInt16BE(6) > 7) {
    dropped++;
    return;
  }
  socket.send(msg, rinfo.port, rinfo.address);
});
socket.bind(Number(opt('port', '0')), host, () => {
  const a = socket.address();
  console.log(`listening ${a.address} ${a.port}`);
});
const stop = () => {
  if (dropped) console.error(`dgram-echo: ${dropped} bad datagrams dropped`);
  socket.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
