// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// evwire HTTP server with a JavaScript handler: GET / answers "Hello, World!" (text/plain).
//   node bench/peers/evwire-http.js --port P [--io-threads N] [--triggering edge|level] [--stats-file F]
//                                   [--tls DIR]   (HTTPS with DIR/server.pem and DIR/server.key)
// Prints "listening <address> <port>" once ready; on SIGTERM/SIGINT writes the requests each IO
// thread handled to --stats-file (JSON), then exits.
const fs = require('fs');
const { Runtime } = require('../../dist/index.js');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

async function main() {
  const ioThreads = Number(opt('io-threads', '1'));
  const rt = await Runtime.start({ ioThreads, affinity: opt('affinity', 'off'), triggering: opt('triggering', undefined), logger: { level: 'warn' } });
  const tlsDir = opt('tls', null);
  const tls = tlsDir ? { cert: fs.readFileSync(`${tlsDir}/server.pem`), key: fs.readFileSync(`${tlsDir}/server.key`) } : undefined;
  const http = await rt.listen({ protocol: 'http', host: opt('host', '127.0.0.1'), port: Number(opt('port', '0')), tls });
  // Requests and connections per IO thread (the IO thread index is in the connection id).
  const perIo = new Array(Math.max(1, ioThreads)).fill(0); // ioThreads 0: one loop, inline
  const connsPerIo = new Array(Math.max(1, ioThreads)).fill(0);
  http.on('connection', (conn) => connsPerIo[conn.ioThread]++);
  const hello = Buffer.from('Hello, World!');
  http.get('/', (req, res) => {
    perIo[req.connection.ioThread]++;
    res.setHeader('content-type', 'text/plain').end(hello);
  });
  const a = http.address();
  console.log(`listening ${a.address} ${a.port}`);
  const statsFile = opt('stats-file', null);
  const stop = () => {
    if (statsFile) fs.writeFileSync(statsFile, JSON.stringify({ requestsPerIo: perIo, connectionsPerIo: connsPerIo }));
    rt.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
