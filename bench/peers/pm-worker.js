// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The worker of bench/peers/tasks-peer.js (postMessage): answers each message with its payload.
const { parentPort } = require('worker_threads');

parentPort.on('message', (m) => parentPort.postMessage({ id: m.id, p: m.p }));
