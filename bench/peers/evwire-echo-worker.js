// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The work thread of bench/peers/evwire-echo.js --workers N: the same echo handler.
const { worker } = require('../../dist/index.js');

worker.on('connection', (conn) => {
  conn.on('message', (msg) => conn.send(msg.type, msg.body, { seq: msg.seq, flags: msg.flags }));
});
