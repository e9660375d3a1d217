// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Protection: an echo server with tight limits, enforced on the IO threads before JavaScript
// sees a byte (docs/protection.md). A connection that sends more than 20 messages in a 10 s
// window is kicked ('kicked', closed with EW_EFLOOD); an address that sends more than 50
// messages a second is banned for 30 s ('ban'; its connections close with EW_EBANNED and new
// ones are refused at accept). Each event is logged as a JSON line.
//   npm run example protection           (PORT=7002, HOST=localhost)
import { Runtime } from 'evwire';

const rt = await Runtime.start();
// #region protection
const server = await rt.listen({
  protocol: 'tcp',
  host: process.env.HOST ?? 'localhost',
  port: Number(process.env.PORT ?? 7002),
  maxFrameBytes: 64 << 10,                           // a larger frame: closed with EW_EPROTO_LENGTH
  limits: {
    windowMs: 10_000, maxMessagesPerWindow: 20,      // per connection
    ipMessagesPerSecond: 50, banMs: 30_000,          // per source address
    maxConnections: 1000, maxConnectionsPerIp: 10,   // refused at accept
    idleTimeoutMs: 60_000,                           // closed with EW_ETIMEOUT_IDLE
  },
});
server.on('connection', (conn) => {
  conn.on('message', (m) => conn.send(m.type, m.body, { seq: m.seq }));
  conn.on('close', ({ code }) => rt.logger.info({ conn: conn.id, code }, 'closed'));
});
server.on('kicked', (conn, { what, messages, bytes, limit }) => {
  rt.logger.warn({ conn: conn.id, address: conn.remoteAddress, what, messages, bytes, limit }, 'kicked');
});
server.on('ban', ({ address, ms, reason }) => rt.logger.warn({ address, ms, reason }, 'banned'));
// #endregion protection
rt.logger.info({ port: server.address().port }, 'listening');

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void rt.close());
