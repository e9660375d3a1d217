// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The work thread of bench/peers/tasks-peer.js (evwire): answers each task with its payload.
const { demo, taskType, worker } = require('../../dist/index.js');

/** demo.Move both ways, as protobuf bytes (the main thread requires this module for it). */
const moveEcho = taskType('echo-move', { request: demo.Move, reply: demo.Move });
module.exports = { moveEcho };

if (worker.isWorkThread) {
  worker.tasks.define('echo', (p) => p);
  worker.tasks.define(moveEcho, (m) => m);
}
