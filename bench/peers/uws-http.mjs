// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
// uWebSockets.js (npm uws-pack, a devDependency used only here): GET / answers "Hello, World!"
// (text/plain), the peer evwire's HTTP server is measured against.
//   node bench/peers/uws-http.mjs --port P [--tls DIR]   (SSLApp with DIR/server.pem, DIR/server.key)
// Prints "listening <address> <port>" once ready; exits on SIGTERM/SIGINT.
import { App, SSLApp, us_listen_socket_close, us_socket_local_port } from 'uws-pack';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const host = opt('host', '127.0.0.1');
const port = Number(opt('port', '0'));
const hello = Buffer.from('Hello, World!');
let listenSocket = null;
const tlsDir = opt('tls', null);
(tlsDir ? SSLApp({ cert_file_name: `${tlsDir}/server.pem`, key_file_name: `${tlsDir}/server.key` }) : App())
  .get('/', (res) => {
    res.cork(() => res.writeHeader('content-type', 'text/plain').end(hello));
  })
  .listen(host, port, (s) => {
    if (!s) {
      console.error(`uws-http: cannot listen on ${host}:${port}`);
      process.exit(1);
    }
    listenSocket = s;
    console.log(`listening ${host} ${us_socket_local_port(s)}`);
  });
const stop = () => {
  if (listenSocket) us_listen_socket_close(listenSocket);
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
