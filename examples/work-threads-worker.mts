// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The module each work thread of examples/work-threads.mts loads. The connections bound to
// this thread arrive here, and the tasks defined here run here.
// #region worker
import { HttpServer, demo, worker, type Server } from 'evwire';
import { joined, kick, move, score } from './work-threads-tasks.mjs';

worker.handle(demo.Login, (conn, login, frame) => {
  conn.send(demo.LoginReply, { ok: true, session: conn.id }, { seq: frame.seq, flags: 2 });
  // conn.id names the connection from any thread: the main thread keeps it for buddy tasks.
  void worker.tasks.schedule(joined, { connId: conn.id, user: login.user }, { to: 0 });
});
worker.tasks.define(score, ({ player }) => ({ total: player * 10, thread: worker.index }));
worker.tasks.define(move, (m) => ({ ok: m.x >= 0, player: m.player }));   // m: demo.Move
worker.tasks.define(kick, ({ reason }, ctx) => {
  ctx.conn?.send(demo.Chat, { from: 'server', text: reason });            // ctx.conn: buddy tasks
  ctx.conn?.end();
  return { thread: worker.index };
});

// HTTP routes run on the thread that serves the request's connection, so with work threads they
// are registered here, on this thread's view of each HTTP server (never on the main thread).
const routes = (server: Server): void => {
  if (server instanceof HttpServer) server.get('/who', (req, res) => res.json({ thread: worker.index }));
};
worker.servers().forEach(routes);   // servers that listened before this thread started
worker.on('server', routes);        // and those that listen later
// #endregion worker
