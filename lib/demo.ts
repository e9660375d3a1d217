// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// `npm start`: the demo echo server. Every frame is sent back with its type, seq and flags.
//   --port N (env EVWIRE_PORT, default 7000)   --host H (env EVWIRE_HOST, default localhost)
//   --io-threads N (env EVWIRE_IO_THREADS, default 2)   --affinity auto|off|0,1 (env EVWIRE_AFFINITY)
import { Runtime } from './index';

function option(name: string, env: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
  return process.env[env] ?? def;
}

async function main(): Promise<void> {
  const port = Number(option('port', 'EVWIRE_PORT', '7000'));
  const host = option('host', 'EVWIRE_HOST', 'localhost');
  const ioThreads = Number(option('io-threads', 'EVWIRE_IO_THREADS', '2'));
  const aff = option('affinity', 'EVWIRE_AFFINITY', 'off');
  const affinity = aff === 'auto' || aff === 'off' ? aff : aff.split(',').map(Number);

  const rt = await Runtime.start({ ioThreads, affinity });
  const server = await rt.listen({ protocol: 'tcp', host, port });
  server.on('connection', (conn) => {
    conn.on('message', (msg) => conn.send(msg.type, msg.body, { seq: msg.seq, flags: msg.flags }));
  });
  const a = server.address();
  rt.logger.always({ address: a.address, port: a.port, ioThreads }, `evwire echo server listening on ${a.address}:${a.port}`);

  // SIGINT / SIGTERM: a graceful close (queued replies are flushed), then exit 0.
  rt.closeOnSignals();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
