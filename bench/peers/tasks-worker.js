// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The work thread of bench/peers/tasks-peer.js (evwire): answers each task with its payload.
const { worker } = require('../../dist/index.js');

worker.tasks.define('echo', (p) => p);
