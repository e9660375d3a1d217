// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// A framed echo load made of evwire links, for the one load ew_loadgen cannot make: message
// encryption (and TLS), where the client must run the handshake and seal every frame. Each of
// --conns links keeps --depth frames of --size bytes in flight, checks every echoed body, and
// the whole is measured over --seconds after --warmup.
//   node bench/peers/sealed-client.js --port P [--conns 16] [--depth 16] [--size 64]
//        [--seconds 3] [--warmup 1] [--encryption CIPHER | --tls DIR]
// Prints one JSON line: { msgs, msgs_per_s, mismatches }.
const fs = require('fs');
const path = require('path');
const { Runtime } = require('../../dist/index.js');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};

async function main() {
  const port = Number(opt('port'));
  const conns = Number(opt('conns', '16'));
  const depth = Number(opt('depth', '16'));
  const size = Number(opt('size', '64'));
  const seconds = Number(opt('seconds', '3'));
  const warmup = Number(opt('warmup', '1'));
  const cipher = opt('encryption', null);
  const tlsDir = opt('tls', null);
  const rt = await Runtime.start({ logger: { level: 'warn' } });
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = (i * 31) & 0xff;
  let counted = 0;
  let counting = false;
  let mismatches = 0;
  const links = [];
  for (let c = 0; c < conns; c++) {
    const link = await rt.connect({
      protocol: 'tcp',
      host: '127.0.0.1',
      port,
      reconnect: false,
      maxFrameBytes: 16 << 20,
      encryption: cipher === null ? undefined : { mode: 'required', cipher, keys: { ed25519: fs.readFileSync(path.join(__dirname, '..', '..', 'test', 'fixtures', 'crypto', 'ed25519.pub.pem')) } },
      tls: tlsDir === null ? undefined : { ca: fs.readFileSync(path.join(tlsDir, 'ca.pem')), servername: 'localhost' },
    });
    link.on('message', (m) => {
      if (m.body.length !== size || Buffer.compare(m.body, body) !== 0) mismatches++;
      if (counting) counted++;
      link.send(1, body);
    });
    links.push(link);
  }
  for (const link of links) for (let d = 0; d < depth; d++) link.send(1, body);
  await new Promise((r) => setTimeout(r, warmup * 1000));
  counting = true;
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ msgs: counted, msgs_per_s: counted / s, mismatches }));
  await rt.close({ drainTimeoutMs: 0 });
  process.exit(0);
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
