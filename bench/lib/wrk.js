// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// wrk, the HTTP load generator of bench/run.js and bench/experiments/accept.js: its command line
// and its result, as printed by bench/wrk/evwire.lua (one JSON line).
const path = require('path');
const { lastJson } = require('./proc');

const SCRIPT = path.join('bench', 'wrk', 'evwire.lua');

/** wrk's arguments: one thread, `conns` keep-alive connections, `depth` GET / per write;
 * `tls`: https (wrk's OpenSSL, one handshake per connection). */
function args({ host, port, conns, depth = 1, seconds, tls = false }) {
  return ['-t1', `-c${conns}`, `-d${seconds}s`, '--timeout', '5s', '-s', SCRIPT, `${tls ? 'https' : 'http'}://${host}:${port}/`, '--', String(depth)];
}

/** wrk's result in ew_loadgen's shape (msgs = requests), or null. `errors` counts socket
 * errors and timeouts, `status_errors` non-2xx answers. */
function parse(stdout) {
  const j = lastJson(stdout);
  if (!j || !(j.duration_us > 0)) return null;
  const s = j.duration_us / 1e6;
  return {
    msgs: j.requests, msgs_per_s: j.requests / s, mb_per_s: j.bytes / s / 1e6,
    // wrk measures a pipelined batch as one latency sample; its p99 of a batch is reported.
    // With pipelining wrk's p99 can come out as 0 (its histogram count and samples differ):
    // that is no measurement, so it is reported as n/a.
    p50_us: j.p50_us > 0 ? j.p50_us : null, p99_us: j.p99_us > 0 ? j.p99_us : null, max_us: j.max_us,
    errors: j.connect + j.read + j.write + j.timeout, status_errors: j.status, mismatches: 0, closed: 0,
  };
}

module.exports = { SCRIPT, args, parse };
