// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Node `http`: GET / answers "Hello, World!" (text/plain), the peer evwire's HTTP server is
// measured against.
//   node bench/peers/node-http.js --port P [--tls DIR]   (Node https with DIR/server.pem, DIR/server.key)
// Prints "listening <address> <port>" once ready; exits on SIGTERM/SIGINT.
const fs = require('fs');
const http = require('http');
const https = require('https');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const hello = Buffer.from('Hello, World!');
const tlsDir = opt('tls', null);
const handler = (req, res) => {
  if (req.method === 'GET' && req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': hello.length });
    res.end(hello);
  } else {
    res.writeHead(404, { 'content-length': 0 });
    res.end();
  }
};
const server = tlsDir ? https.createServer({ cert: fs.readFileSync(`${tlsDir}/server.pem`), key: fs.readFileSync(`${tlsDir}/server.key`) }, handler) : http.createServer(handler);
server.keepAliveTimeout = 60_000;
server.listen(Number(opt('port', '0')), opt('host', '127.0.0.1'), () => {
  const a = server.address();
  console.log(`listening ${a.address} ${a.port}`);
});
const stop = () => server.close(() => process.exit(0)) && server.closeAllConnections();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
