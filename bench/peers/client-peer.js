// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// One measurement of bench/client.js: a framed-echo client with CONNS connections, DEPTH frames
// in flight on each, SIZE-byte bodies, for SECONDS, against a server given by port. Every echoed
// frame is checked (length, seq, the body's bytes); the replacements of what one read brought
// back are sent together (evwire: send() per frame within one tick, which the engine writes in
// one batch; Node net: one write() of the frames concatenated). Prints one JSON line:
// { msgsPerSec, frames, errors }.
//   node bench/peers/client-peer.js --peer evwire|net --port P [--conns C] [--depth D]
//        [--size S] [--seconds T] [--warmup W] [--io-threads N]
const net = require('net');
const path = require('path');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const peer = opt('--peer', 'evwire');
const port = Number(opt('--port', '0'));
const conns = Number(opt('--conns', '16'));
const depth = Number(opt('--depth', '16'));
const size = Number(opt('--size', '64'));
const seconds = Number(opt('--seconds', '3'));
const warmup = Number(opt('--warmup', '1'));
const ioThreads = Number(opt('--io-threads', '1'));

const HEADER = 12;
const body = Buffer.alloc(size);
for (let i = 0; i < size; i++) body[i] = (i * 31 + 7) & 0xff;

let counting = false;
let frames = 0;
let errors = 0;

function check(seq, b, expectSeq) {
  if (seq !== expectSeq || b.length !== size || (size > 0 && (b[0] !== body[0] || b[size - 1] !== body[size - 1] || !b.equals(body)))) errors++;
}

async function runEvwire() {
  const { Runtime } = require(path.join(__dirname, '..', '..', 'dist', 'index.js'));
  const rt = await Runtime.start({ ioThreads, logger: { level: 'silent' } });
  const links = [];
  for (let c = 0; c < conns; c++) {
    const link = await rt.connect({ protocol: 'tcp', host: '127.0.0.1', port, reconnect: false, maxFrameBytes: Math.max(size, 1 << 20) });
    let next = 1;
    let expect = 1;
    link.on('message', (m) => {
      check(m.seq, m.body, expect++);
      if (counting) frames++;
      link.send(9, body, { seq: next++ });
    });
    for (let i = 0; i < depth; i++) link.send(9, body, { seq: next++ });
    links.push(link);
  }
  return async () => {
    for (const l of links) l.destroy();
    await rt.close({ drainTimeoutMs: 0 });
  };
}

async function runNet() {
  const sockets = [];
  const frame = (seq) => {
    const f = Buffer.allocUnsafe(HEADER + size);
    f.writeUInt32BE(size, 0);
    f.writeUInt16BE(9, 4);
    f.writeUInt16BE(0, 6);
    f.writeUInt32BE(seq >>> 0, 8);
    body.copy(f, HEADER);
    return f;
  };
  for (let c = 0; c < conns; c++) {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    await new Promise((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    let next = 1;
    let expect = 1;
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      const out = [];
      let off = 0;
      while (buf.length - off >= HEADER) {
        const len = buf.readUInt32BE(off);
        if (buf.length - off < HEADER + len) break;
        check(buf.readUInt32BE(off + 8), buf.subarray(off + HEADER, off + HEADER + len), expect++);
        if (counting) frames++;
        out.push(frame(next++));
        off += HEADER + len;
      }
      buf = buf.subarray(off);
      if (out.length) s.write(out.length === 1 ? out[0] : Buffer.concat(out));
    });
    s.on('error', () => errors++);
    const first = [];
    for (let i = 0; i < depth; i++) first.push(frame(next++));
    s.write(Buffer.concat(first));
    sockets.push(s);
  }
  return async () => {
    for (const s of sockets) s.destroy();
  };
}

(async () => {
  const stop = peer === 'evwire' ? await runEvwire() : await runNet();
  await new Promise((r) => setTimeout(r, warmup * 1000));
  counting = true;
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  const n = frames;
  await stop();
  process.stdout.write(`${JSON.stringify({ peer, msgsPerSec: n / dt, frames: n, errors })}\n`);
  process.exit(0);
})().catch((err) => {
  process.stderr.write(`client-peer: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
