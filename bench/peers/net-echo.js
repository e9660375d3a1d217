// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Node `net` echo server for evwire frames, the peer evwire is measured against.
//   node bench/peers/net-echo.js --port P [--mode per-frame|corked]
// per-frame: one socket.write() per echoed frame (what a straightforward server does).
// corked: the frames of one 'data' chunk are written between cork() and uncork(), so one
//         writev leaves per chunk (what a careful server does).
// Prints "listening <address> <port>" once ready; exits on SIGTERM/SIGINT.
const net = require('net');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const port = Number(opt('port', '0'));
const host = opt('host', '127.0.0.1');
const mode = opt('mode', 'corked');
if (mode !== 'per-frame' && mode !== 'corked') {
  console.error(`net-echo: unknown --mode ${mode}`);
  process.exit(2);
}
const HEADER = 12;

const server = net.createServer({ noDelay: true }, (socket) => {
  let pending = null; // bytes of an unfinished frame
  socket.on('data', (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    let off = 0;
    if (mode === 'corked') socket.cork();
    while (buf.length - off >= HEADER) {
      const len = buf.readUInt32BE(off);
      if (buf.length - off < HEADER + len) break;
      // A frame is echoed as it came: header and body in one slice, no copy.
      socket.write(buf.subarray(off, off + HEADER + len));
      off += HEADER + len;
    }
    if (mode === 'corked') socket.uncork();
    if (off < buf.length) pending = Buffer.from(buf.subarray(off));
  });
  socket.on('error', () => socket.destroy());
});
server.listen(port, host, () => {
  const a = server.address();
  console.log(`listening ${a.address} ${a.port}`);
});
const stop = () => server.close(() => process.exit(0)) && setTimeout(() => process.exit(0), 500).unref();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
