// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The storm test's Markdown report (bench/storm/RESULTS.md): the verdict first, then what the
// canary saw, what load was achieved, what the protection counted, and memory and descriptors.
const { fmtInt, reportHeader } = require('../lib/report');

// Counters that are levels, not running totals: their value at the end is reported, a
// difference between two readings would mean nothing.
const GAUGES = new Set(['connections', 'bans.active', 'trackedIps']);

const mib = (b) => (b === null || b === undefined ? 'n/a' : `${(b / 1048576).toFixed(1)} MiB`);
const ms = (x) => (x === null || x === undefined ? 'n/a' : x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : fmtInt(x));
const msUnit = (x) => (x === null || x === undefined ? 'n/a' : `${ms(x)} ms`);
const num = (x) => (x === null || x === undefined ? 'n/a' : fmtInt(x));

// align: one letter per column, l or r; by default the first column left, the others right.
function table(header, rows, align = null) {
  const al = header.map((h, i) => ((align ? align[i] : i === 0 ? 'l' : 'r') === 'r' ? '---:' : '---'));
  return [`| ${header.join(' | ')} |`, `| ${al.join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

// { a: { b: 1 }, c: 2 } -> { 'a.b': 1, c: 2 }, numbers only.
function flatten(o, prefix = '', out = {}) {
  if (!o || typeof o !== 'object') return out;
  for (const [k, v] of Object.entries(o)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number') out[key] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
  }
  return out;
}

const counts = (o) => (o && Object.keys(o).length ? Object.entries(o).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${fmtInt(v)}`).join(', ') : 'none');

function diff(after, before) {
  const a = flatten(after);
  const b = flatten(before);
  const out = {};
  for (const k of Object.keys(a)) out[k] = GAUGES.has(k) ? a[k] : a[k] - (b[k] || 0);
  return out;
}

function renderMarkdown(meta, res) {
  const L = [];
  const o = meta.options;
  const pass = res.checks.every((c) => c.pass);
  reportHeader(L, `evwire storm test (${res.server.kind === 'node' ? 'plain Node net server, no protection' : 'evwire with protection'})`, meta);
  if (meta.source && meta.source.commit) L.push(`- Source: commit ${meta.source.commit}${meta.source.changed.length ? `, with uncommitted changes to ${meta.source.changed.join(', ')}` : ''}`);
  L.push(`- Machine: ${meta.machine.model}, ${meta.machine.cpus} CPUs, Linux ${meta.machine.kernel}, Node ${meta.machine.node}`);
  L.push(`- ${meta.pinned ? `Server pinned to CPU ${meta.serverCpu}, every client process to CPU ${meta.loadCpu} (taskset -c); the storm's clients at nice 10, the canary at normal priority` : 'No CPU pinning (fewer than 2 CPUs or no taskset)'}`);
  L.push(`- Server: \`bench/storm/server.js --server ${res.server.kind}\`${res.server.kind === 'evwire' ? `, ${res.server.ioThreads} IO threads` : ''}, maxFrameBytes ${fmtInt(res.server.maxFrameBytes)}, listening on 127.0.0.1; RSS and descriptors read from /proc/${'<pid>'}; garbage collected with --expose-gc before every memory reading${res.server.gc ? '' : ' (gc was not available)'}`);
  L.push(`- Descriptor limit: soft ${meta.fdLimits.soft}, hard ${meta.fdLimits.hard} (Node raises its soft limit to the hard one)`);
  L.push(`- Warm-up: a ${o.warmup} s storm (the same churn and attack, cut by the deadline${res.warmup ? `: ${fmtInt(res.warmup.churn.opened)} churn connections, peak RSS ${mib(res.warmup.peakRss)}` : ''}); storm: ${o.duration} s. The baseline (and the reading before the idle connections) is the RSS after a 10 s settle with a gc every second; after the storm, RSS is read every second for 2 to 10 s, until it is within ${meta.rssFactor}× the baseline and the descriptors are back`);
  for (const n of res.notes) L.push(`- Note: ${n}`);
  L.push('');

  L.push(`## Verdict: ${pass ? 'PASS' : 'FAIL'}`);
  L.push('');
  L.push(table(['Check', 'Result', 'Measured', 'Limit'], res.checks.map((c) => [c.name, c.pass ? 'pass' : '**FAIL**', c.value, c.limit]), 'llrr'));
  L.push('');

  const c = res.canary;
  L.push('## Canary');
  L.push('');
  L.push(`One connection from ${meta.canaryAddress}, a 32-byte echo every ${c.intervalMs} ms from before the warm-up to the end of the run; a failure is a reply not back within ${c.timeoutMs} ms, a wrong reply, the connection closing, or an echo in flight when it did. Latencies are round trips in ms, measured in the canary's process (on the clients' CPU).`);
  L.push('');
  const steal = Object.fromEntries((res.phases || []).map((p) => [p.name, p.stealPct]));
  const pct = (x) => (x === null || x === undefined ? 'n/a' : `${x.toFixed(1)}%`);
  const phaseRows = Object.entries(c.phases).map(([name, p]) => [name, num(p.sent), num(p.received), num(p.failures), ms(p.latencyMs.p50), ms(p.latencyMs.p99), ms(p.latencyMs.p999), ms(p.latencyMs.max), pct(steal[name])]);
  phaseRows.push(['**whole run**', num(Object.values(c.phases).reduce((a, p) => a + p.sent, 0)), num(c.latencyMs.count), num(c.failures.total), ms(c.latencyMs.p50), ms(c.latencyMs.p99), ms(c.latencyMs.p999), ms(c.latencyMs.max), '']);
  L.push(table(['Phase', 'Sent', 'Echoed', 'Failures', 'p50', 'p99', 'p99.9', 'max', 'CPU steal'], phaseRows));
  L.push('');
  const worst = c.perSecond.map((x, sec) => ({ sec, n: x[0], max: x[1], phase: x[2] })).filter((x) => x.max !== null).sort((a, b) => b.max - a.max).slice(0, 5);
  if (worst.length) L.push(`Slowest seconds of the run (second: slowest echo, phase): ${worst.map((x) => `${x.sec}: ${ms(x.max)} ms, ${x.phase}`).join('; ')}.`);
  L.push('');
  const { total, ...kinds } = c.failures;
  L.push(`Failures by kind: ${counts(Object.fromEntries(Object.entries(kinds).filter(([, v]) => v > 0)))}; replies that came after their timeout: ${c.lateReplies}; reconnects: ${c.reconnects}.`);
  const w = res.finalStats && res.finalStats.events.watched;
  if (w && w.length && c.failures.total > 0) L.push(`The server's side of the canary's connections closing (ms since the server started: reason): ${w.map((x) => `${fmtInt(x.atMs)}: ${x.code}`).join('; ')}.`);
  if (c.firstFailures.length) {
    L.push('');
    L.push('First failures:');
    L.push('');
    for (const f of c.firstFailures) L.push(`- ${(f.atMs / 1000).toFixed(2)} s (${f.phase}): ${f.kind}: ${f.detail}`);
  }
  L.push('');

  const s = res.storm;
  L.push('## Load achieved during the storm');
  L.push('');
  const ch = s.churn;
  L.push(`Churn from ${ch.addresses} addresses (127.0.1.x), at most ${ch.inflight} in flight, each connection one 16-byte echo and a close:`);
  L.push('');
  L.push(table(['Target', 'Started', 'Connected', 'Echoed', 'Closed before the echo', 'Connect failed', 'Timed out (2 s)', 'Seconds', 'Connected/s'],
    [[num(ch.target), num(ch.started), num(ch.opened), num(ch.echoed), num(ch.closedBeforeReply), num(ch.connectFailed), num(ch.timeouts), ch.elapsedS.toFixed(1), num(ch.openedPerS)]]));
  L.push('');
  L.push(`Client-side errors: ${counts(ch.errors)}.`);
  L.push('');
  L.push('Attack from 50 addresses, 127.0.0.2 to 127.0.0.51 (each group stops at the deadline; a closed connection reconnects after a pause):');
  L.push('');
  const g = s.attack.groups;
  const planByName = Object.fromEntries(meta.plan.map((p) => [p.name, p]));
  const rows = [];
  for (const [name, r] of Object.entries(g)) {
    const p = planByName[name];
    if (r.kind === 'flood') rows.push([name, num(r.addresses), `${num(r.connects)} connects, ${num(r.serverClosed)} closed by the server (median life ${msUnit(r.medianLifetimeMs)}), ${num(r.framesSent)} frames / ${mib(r.bytesSent)} sent, ${mib(r.bytesReceived)} echoed, ${num(r.connectFailed)} connect failures; errors: ${counts(r.errors)}`, p.aim]);
    else if (r.kind === 'connflood') rows.push([name, num(r.addresses), `${num(r.attempts)} attempts, ${num(r.connected)} connected, ${num(r.connectFailed)} failed; errors: ${counts(r.errors)}`, p.aim]);
    else if (r.kind === 'garbage') rows.push([name, num(r.addresses), `sent: ${counts(r.sent)}; closed by the server: ${counts(r.serverClosed)}; still open after ${p.waitMs} ms: ${counts(r.notClosed)}; errors: ${counts(r.errors)}`, p.aim]);
    else if (r.kind === 'slow') rows.push([name, num(r.addresses), `${num(r.connects)} connects, ${num(r.serverClosed)} closed by the server (median life ${msUnit(r.medianLifetimeMs)}, max ${msUnit(r.maxLifetimeMs)}), ${num(r.bytesTrickled)} bytes trickled; errors: ${counts(r.errors)}`, p.aim]);
  }
  L.push(table(['Group', 'Addresses', 'Achieved', 'Aim'], rows, 'lrll'));
  L.push('');

  L.push('## Protection counters');
  L.push('');
  L.push("`server.stats()` over the storm and the settle (difference between the readings at the baseline and after the settle; levels such as `connections` at the end), and what the server's event handlers counted over the same span:");
  L.push('');
  const d = diff(res.after.stats.server, res.baseline.stats.server);
  L.push(table(['Counter', 'Storm', 'Since start'], Object.keys(d).map((k) => [`\`${k}\``, num(d[k]), num(flatten(res.after.stats.server)[k])])));
  L.push('');
  const ev = (k) => {
    const a = res.after.stats.events[k] || {};
    const b = res.baseline.stats.events[k] || {};
    return Object.fromEntries(Object.keys(a).map((x) => [x, a[x] - (b[x] || 0)]).filter(([, v]) => v > 0));
  };
  L.push(`- 'kicked' events by \`info.what\`: ${counts(ev('kicked'))}`);
  L.push(`- 'ban' events by \`reason\`: ${counts(ev('bans'))}`);
  L.push(`- Connections closed, by \`reason.code\`: ${counts(ev('closes'))}`);
  L.push('');

  const rt0 = res.baseline.stats.runtime;
  const rt1 = res.after.stats.runtime;
  if (Array.isArray(rt1) && Array.isArray(rt0)) {
    const keys = ['accepted', 'closed', 'framesIn', 'protocolErrors', 'kicks', 'bans', 'guardRejects', 'timeouts', 'ringFull', 'slowCloses', 'acceptErrors'];
    L.push('Per IO thread (`rt.stats()`, storm and settle):');
    L.push('');
    L.push(table(['Thread', ...keys.map((k) => `\`${k}\``)], rt1.map((t, i) => [String(i), ...keys.map((k) => num((t[k] || 0) - ((rt0[i] && rt0[i][k]) || 0)))])));
    L.push('');
  }

  L.push('## Memory and descriptors');
  L.push('');
  const b = res.baseline;
  const a = res.after;
  L.push(table(['', 'RSS', 'Descriptors', 'JS heap used', 'Connections'], [
    ...(res.cold ? [['at start (the canary connected, before the warm-up)', mib(res.cold.rss), num(res.cold.fds), '', '1']] : []),
    ['pre-storm baseline (after the warm-up)', mib(b.rss), num(b.fds), mib(b.stats.memory.heapUsed), num(b.connections)],
    ['peak during the storm', mib(s.peak), `${num(Math.max(...s.samples.fds.map((x) => x[1] || 0)))} (max sampled)`, '', num(Math.max(...s.samples.connections.map((x) => x[1] || 0)))],
    [`after the storm (settled in ${a.settleS.toFixed(1)} s, connections closed ${a.closedAfterS.toFixed(1)} s after the storm)`, `${mib(a.rss)} (${(a.rss / b.rss).toFixed(3)}×)`, num(a.fds), mib(a.stats.memory.heapUsed), num(a.connections)],
  ]));
  L.push('');
  if (b.smaps && a.smaps) {
    const names = { heap: 'main thread\'s malloc heap', arenas: 'other threads\' malloc arenas', anon: 'other anonymous (V8 heap, large mallocs)', shm: 'shared memory (evwire\'s ring segment)', file: 'file mappings', stack: 'stacks' };
    L.push('RSS by mapping (/proc/<pid>/smaps), baseline → after the storm:');
    L.push('');
    L.push(table(['Mapping', 'Baseline', 'After', 'Change'], Object.keys(names).map((k) => [names[k], mib(b.smaps[k]), mib(a.smaps[k]), `${a.smaps[k] >= b.smaps[k] ? '+' : '−'}${mib(Math.abs(a.smaps[k] - b.smaps[k]))}`])));
    L.push('');
  }
  L.push(`Peak RSS is the larger of a 100 ms sampling of VmRSS and ${res.peakResetWorked ? 'VmHWM reset just before the storm' : 'nothing else (VmHWM could not be reset)'}. RSS readings while settling (s: MiB): ${a.series.map((x) => `${x.t.toFixed(1)}: ${(x.rss / 1048576).toFixed(1)}`).join(', ')}.`);
  L.push('');

  if (res.idle) {
    const i = res.idle;
    L.push('## Memory per idle connection');
    L.push('');
    L.push(`${fmtInt(i.target)} connections from ${i.addresses} addresses (127.0.2.x, ${i.perAddress} each) that send nothing${res.server.api.setLimits ? ', with idleTimeoutMs and firstMessageTimeoutMs set to 0 by `setLimits()` for the measurement and restored after it' : ''}; opened in ${i.opened.openS.toFixed(1)} s (${num(i.opened.opened)} connected, ${num(i.opened.connectFailed)} failed; errors: ${counts(i.opened.errors)}), ${num(i.held.closedByServer)} closed by the server while held.`);
    L.push('');
    L.push(table(['', 'RSS', 'Descriptors', 'JS heap used'], [
      ['before', mib(i.rssBefore), num(i.fdsBefore), mib(i.jsHeapBefore)],
      [`with ${fmtInt(i.counted)} idle connections (server count)`, mib(i.rssWith), num(i.fdsWith), mib(i.jsHeapWith)],
      ['after closing them', mib(i.rssAfter), num(i.fdsAfter), ''],
    ]));
    L.push('');
    L.push(`**${i.bytesPerConnection === null ? 'n/a' : `${fmtInt(i.bytesPerConnection)} bytes`} of server RSS per idle connection** ((RSS with − RSS before) / connections; kernel socket buffers are not in RSS).`);
    L.push('');
  }

  L.push('## Configuration');
  L.push('');
  if (res.server.limits) {
    L.push('`limits` of the evwire server (bench/storm/server.js, STORM_LIMITS):');
    L.push('');
    L.push('```json');
    L.push(JSON.stringify(res.server.limits, null, 2));
    L.push('```');
  } else L.push('The plain Node server has no limits.');
  L.push('');
  return `${L.join('\n')}\n`;
}

module.exports = { renderMarkdown };
