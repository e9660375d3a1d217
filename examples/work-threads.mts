// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Work threads, tasks and buddy tasks: two work threads serve the connections
// (examples/work-threads-worker.mts); the main thread owns the server and runs the 'joined'
// task that the work threads schedule when a client logs in (a demo.Login frame, type 1). It
// then schedules a typed task to any work thread and one to thread 1, and kicks a user named
// 'intruder' with a buddy task on the thread that owns that connection. The HTTP server's
// routes are registered by the work threads: `curl localhost:8083/who` says which one answered.
//   npm run example work-threads         (PORT=7003, HTTP_PORT=8083, HOST=localhost)
// #region main
import { Runtime } from 'evwire';
import { joined, kick, move, score } from './work-threads-tasks.mjs';

const rt = await Runtime.start({
  ioThreads: 2,
  workers: { count: 2, module: new URL('./work-threads-worker.mjs', import.meta.url) },
  bind: 'least-loaded',    // 'round-robin' (default), 'least-backlog', or (peer) => index (sticky)
});
const server = await rt.listen({ protocol: 'tcp', host: process.env.HOST ?? 'localhost', port: Number(process.env.PORT ?? 7003) });
server.onAccept((peer) => peer.address !== '203.0.113.7');   // on the main thread; may return a Promise
const api = await rt.listen({ protocol: 'http', host: process.env.HOST ?? 'localhost', port: Number(process.env.HTTP_PORT ?? 8083) });

rt.tasks.define(joined, async ({ connId, user }, ctx) => {
  const { total, thread } = await rt.tasks.schedule(score, { player: user.length }, { to: 'any', timeoutMs: 1000 });
  const moved = await rt.tasks.schedule(move, { player: 7, x: 3, y: -4 }, { to: 1 });   // moved: demo.Moved
  rt.logger.info({ user, connId, servedBy: ctx.from, total, scoredBy: thread, moved: moved.ok }, 'joined');
  if (user === 'intruder') {
    const r = await rt.tasks.buddy(connId, kick, { reason: 'not welcome' });   // on the owning thread
    rt.logger.info({ user, connId, thread: r.thread }, 'kicked');
  }
});
rt.on('workerExit', ({ index, code, replaced }) => rt.logger.warn({ index, code, replaced }, 'work thread exited'));
// #endregion main
rt.logger.info({ port: server.address().port, httpPort: api.address().port }, 'listening');

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void rt.close());
