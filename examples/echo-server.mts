// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Echo server: every frame goes back with its type, seq and flags.
//   npm run example echo-server          (PORT=7000, HOST=localhost; PORT=0 picks a free port)
// Try it with `npm run example echo-client`. Ctrl-C (SIGINT) or SIGTERM stops it.
// #region echo
import { Runtime } from 'evwire';

const rt = await Runtime.start({ ioThreads: 2 });
const server = await rt.listen({ protocol: 'tcp', host: process.env.HOST ?? 'localhost', port: Number(process.env.PORT ?? 7000) });
server.on('connection', (conn) => {
  conn.on('message', (msg) => conn.send(msg.type, msg.body, { seq: msg.seq, flags: msg.flags }));
});
rt.logger.info({ port: server.address().port }, 'listening');
// #endregion echo

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void rt.close());
