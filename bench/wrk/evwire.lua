-- SPDX-License-Identifier: MIT
-- Copyright (c) 2026 evwire contributors
-- wrk script for the evwire HTTP benchmark: GET / with `depth` requests per write (the first
-- script argument, default 1: plain keep-alive; 16: pipelined), and one JSON line at the end.
--   wrk -t1 -c100 -d5s -s bench/wrk/evwire.lua http://127.0.0.1:P/ -- 16
local req

function init(args)
  local depth = tonumber(args[1] or "1") or 1
  local parts = {}
  for i = 1, depth do parts[i] = wrk.format("GET", "/") end
  req = table.concat(parts)
end

function request()
  return req
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%.1f,"p99_us":%.1f,"max_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99.0), latency.max))
end
