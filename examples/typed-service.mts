// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// A typed protobuf service on the demo messages (proto/evwire/v1/demo.proto): Login frames
// (type 1) are answered with a LoginReply (type 2), Move (3) with Moved (4), each reply with the
// request's seq and the reply flag. Frames of other types arrive as 'message' and are dropped.
//   npm run example typed-service        (PORT=7001, HOST=localhost)
import { Runtime, demo } from 'evwire';

const rt = await Runtime.start();
const server = await rt.listen({ protocol: 'tcp', host: process.env.HOST ?? 'localhost', port: Number(process.env.PORT ?? 7001) });
// #region typed
let sessions = 0;
server.handle(demo.Login, (conn, login, frame) => {     // login: demo.Login, already decoded
  const ok = login.user !== '' && login.token === 'secret';
  conn.send(demo.LoginReply, ok ? { ok, session: ++sessions } : { ok, error: 'bad credentials' }, { seq: frame.seq, flags: 2 });
});
server.handle(demo.Move, (conn, move, frame) => {
  conn.send(demo.Moved, { ok: Math.abs(move.x) <= 10 && Math.abs(move.y) <= 10, player: move.player }, { seq: frame.seq, flags: 2 });
});
// #endregion typed
rt.logger.info({ port: server.address().port }, 'listening');

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void rt.close());
