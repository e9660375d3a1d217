// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// An ES module user of the package by its name (the "import" condition of package.json's
// exports: dist/index.mjs and dist/index.d.mts); test/types/tsconfig.node16.json compiles it.
import { ClosedError, Runtime, demo, type Connection } from 'evwire';

const rt = await Runtime.start({ logger: { level: 'silent' } });
const server = await rt.listen({ protocol: 'tcp', port: 0 });
server.handle(demo.Login, (conn: Connection, login) => conn.send(demo.LoginReply, { ok: login.user !== '' }));
const e: unknown = null;
if (e instanceof ClosedError) console.log(e.code);
await rt.close();
