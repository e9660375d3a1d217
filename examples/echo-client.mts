// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Echo client: sends COUNT frames (default 5) to the echo server at HOST:PORT (default
// localhost:7000), checks that each comes back intact and in order, then exits (0 when all did).
// evwire's wire format (docs/protocol.md) is simple enough for Node's own `net`: a 12-byte
// header (u32 body length, u16 type, u16 flags, u32 seq, big-endian), then the body.
//   npm run example echo-client
import * as net from 'node:net';
import { once } from 'node:events';

const HEADER = 12;
const port = Number(process.env.PORT ?? 7000);
const host = process.env.HOST ?? 'localhost';
const count = Number(process.env.COUNT ?? 5);

function frame(type: number, seq: number, body: Buffer): Buffer {
  const h = Buffer.alloc(HEADER);
  h.writeUInt32BE(body.length, 0);
  h.writeUInt16BE(type, 4);
  h.writeUInt16BE(0, 6);
  h.writeUInt32BE(seq, 8);
  return Buffer.concat([h, body]);
}

const socket = net.connect({ port, host, noDelay: true });
await once(socket, 'connect');
let pending = Buffer.alloc(0);
let received = 0;
const done = new Promise<void>((resolve, reject) => {
  socket.on('error', reject);
  socket.on('close', () => reject(new Error(`connection closed after ${received} of ${count} echoes`)));
  socket.on('data', (d: Buffer) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length >= HEADER && pending.length >= HEADER + pending.readUInt32BE(0)) {
      const len = pending.readUInt32BE(0);
      const seq = pending.readUInt32BE(8);
      const body = pending.subarray(HEADER, HEADER + len).toString();
      pending = pending.subarray(HEADER + len);
      received++;
      if (seq !== received || body !== `hello ${seq}`) reject(new Error(`echo ${received}: got seq ${seq} ${JSON.stringify(body)}`));
      console.log(`echo ${seq}: ${body}`);
      if (received === count) resolve();
    }
  });
});
for (let seq = 1; seq <= count; seq++) socket.write(frame(1, seq, Buffer.from(`hello ${seq}`)));
try {
  await done;
  console.log(`${count} frames echoed`);
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
}
socket.destroy();
