// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Summaries and the Markdown report of a benchmark run. Kept apart from the driver so that
// the numbers a reader sees are computed in one place, from the raw run records alone.

function median(xs) {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function fmtInt(x) {
  return x === null || x === undefined ? 'n/a' : Math.round(x).toLocaleString('en-US');
}

function fmtFixed(x, digits) {
  return x === null || x === undefined ? 'n/a' : x.toFixed(digits);
}

// Latencies below 10 µs keep a decimal so that the 1-connection case stays readable; above
// that the decimal is noise.
function fmtUs(x) {
  if (x === null || x === undefined) return 'n/a';
  return x < 10 ? x.toFixed(1) : fmtInt(x);
}

// Bulk cases reach thousands of MB/s, where the decimal only adds width.
function fmtMB(x) {
  if (x === null || x === undefined) return 'n/a';
  return x < 100 ? x.toFixed(1) : fmtInt(x);
}

// One summary per (case, server): medians over valid runs only, because an invalid run's
// throughput measures a failure rather than the server.
function summarize(runs, cases, servers) {
  const out = [];
  for (const c of cases) {
    const caseRuns = runs.filter((r) => r.caseId === c.id);
    const steals = caseRuns.map((r) => r.stealPct).filter((x) => x !== null);
    const perServer = [];
    for (const s of servers) {
      const rs = caseRuns.filter((r) => r.server === s.name);
      const ok = rs.filter((r) => r.valid);
      const rates = ok.map((r) => r.result.msgs_per_s);
      perServer.push({
        server: s.name,
        runs: rs.length,
        valid: ok.length,
        invalid: rs.length - ok.length,
        msgsPerS: median(rates),
        minMsgsPerS: rates.length ? Math.min(...rates) : null,
        maxMsgsPerS: rates.length ? Math.max(...rates) : null,
        mbPerS: median(ok.map((r) => r.result.mb_per_s)),
        p50: median(ok.map((r) => r.result.p50_us)),
        p99: median(ok.map((r) => r.result.p99_us)),
        stealPct: median(rs.map((r) => r.stealPct).filter((x) => x !== null)),
        serverProcPct: median(ok.map((r) => r.serverProcPct).filter((x) => x !== null && x !== undefined)),
        serverCpuBusyPct: median(ok.map((r) => r.serverCpuBusyPct).filter((x) => x !== null && x !== undefined)),
        loadCpuBusyPct: median(ok.map((r) => r.loadCpuBusyPct).filter((x) => x !== null && x !== undefined)),
        loadProcPct: median(ok.map((r) => r.loadProcPct).filter((x) => x !== null && x !== undefined)),
        otherSrvPct: median(ok.map((r) => otherWork(r).srv).filter((x) => x !== null)),
        otherLoadPct: median(ok.map((r) => otherWork(r).load).filter((x) => x !== null)),
        disturbed: ok.filter(isDisturbed).length,
      });
    }
    const get = (name) => {
      const p = perServer.find((x) => x.server === name);
      return p ? p.msgsPerS : null;
    };
    const pairs = {
      vsCorked: ['evwire-js', 'node-net-corked'],
      vsNet: ['evwire-js', 'node-net'],
      vsNative: ['evwire-js', 'evwire-native'],
      levelVsCorked: ['evwire-js-level', 'node-net-corked'],
      levelVsNative: ['evwire-js-level', 'evwire-native'],
      inlineVsCorked: ['evwire-js-inline', 'node-net-corked'],
      inlineVsJs: ['evwire-js-inline', 'evwire-js'],
      inlineVsEdge: ['evwire-js-inline', 'evwire-js-inline-edge'],
      inlineVsEpoll: ['evwire-js-inline', 'c-epoll'],
      inlineVsBufferevent: ['evwire-js-inline', 'c-bufferevent'],
      httpInlineVsUws: ['evwire-http-inline', 'uws'],
      w1VsJs: ['evwire-w1', 'evwire-js'],
      w2VsJs: ['evwire-w2', 'evwire-js'],
      spinVsJs: ['evwire-js-spin', 'evwire-js'],
      nativeSpinVsNative: ['evwire-native-spin', 'evwire-native'],
      jsVsEpoll: ['evwire-js', 'c-epoll'],
      nativeVsEpoll: ['evwire-native', 'c-epoll'],
      nativeInlineVsEpoll: ['evwire-native-inline', 'c-epoll'],
      nativeInlineVsNative: ['evwire-native-inline', 'evwire-native'],
      corkedVsEpoll: ['node-net-corked', 'c-epoll'],
      jsVsBufferevent: ['evwire-js', 'c-bufferevent'],
      nativeVsBufferevent: ['evwire-native', 'c-bufferevent'],
      httpVsUws: ['evwire-http', 'uws'],
      httpVsNode: ['evwire-http', 'node-http'],
      httpLevelVsUws: ['evwire-http-level', 'uws'],
      udpVsDgram: ['evwire-udp', 'node-dgram'],
    };
    const ratios = {};
    const ratioSpreads = {};
    for (const [key, [a, b]] of Object.entries(pairs)) {
      ratios[key] = ratio(get(a), get(b));
      ratioSpreads[key] = pairedSpread(caseRuns, a, b);
    }
    out.push({
      caseId: c.id,
      name: c.name,
      loadCpu: caseRuns.length ? caseRuns[0].loadCpu : null,
      stealPct: median(steals),
      perServer,
      ratios,
      ratioSpreads,
    });
  }
  return out;
}

// User and system time on the server's and the load generator's CPUs that neither of them used
// (other processes: other people's builds and tests on a shared VM), in percentage points of
// each CPU; null where a figure is missing (the c1 case shares one CPU, so only srv there).
function otherWork(r) {
  const pick = (busy, own) => (busy === null || busy === undefined || own === null || own === undefined ? null : Math.max(0, busy - own));
  if (r.loadCpu === r.serverCpu) {
    // One CPU for both: what neither the server nor the load generator used.
    const both = r.serverProcPct === null || r.serverProcPct === undefined || r.loadProcPct === null || r.loadProcPct === undefined ? null : r.serverProcPct + r.loadProcPct;
    return { srv: pick(r.serverCpuBusyPct, both), load: null };
  }
  return { srv: pick(r.serverCpuBusyPct, r.serverProcPct), load: pick(r.loadCpuBusyPct, r.loadProcPct) };
}

// A run is disturbed when other work took more than DISTURBED_PCT points of either CPU: the
// figure is kept (it is valid), counted and listed, so that a reader can discount it.
const DISTURBED_PCT = 10;
function isDisturbed(r) {
  const w = otherWork(r);
  return (w.srv !== null && w.srv > DISTURBED_PCT) || (w.load !== null && w.load > DISTURBED_PCT);
}

function ratio(a, b) {
  return a === null || b === null || !b ? null : a / b;
}

// The spread of a ratio: a / b within each repetition where both runs were valid (the two ran
// minutes apart at most, in the same rotation), as { min, max, n }; null without a pair.
function pairedSpread(caseRuns, a, b) {
  const xs = [];
  for (const ra of caseRuns) {
    if (ra.server !== a || !ra.valid) continue;
    const rb = caseRuns.find((r) => r.server === b && r.rep === ra.rep && r.valid);
    if (rb && rb.result.msgs_per_s > 0) xs.push(ra.result.msgs_per_s / rb.result.msgs_per_s);
  }
  return xs.length ? { min: Math.min(...xs), max: Math.max(...xs), n: xs.length } : null;
}

function fmtR(x) {
  return x === null ? 'n/a' : `${x.toFixed(2)}×`;
}

// A ratio of medians with the min–max of the per-repetition ratios after it, where there are
// two or more.
function fmtRS(c, key) {
  const x = c.ratios[key];
  const sp = c.ratioSpreads && c.ratioSpreads[key];
  if (x === null || !sp || sp.n < 2) return fmtR(x);
  return `${fmtR(x)} (${sp.min.toFixed(2)}–${sp.max.toFixed(2)})`;
}

function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  const sep = header.map((h, i) => (i === 0 ? '---' : '---:'));
  return [line(header), line(sep), ...rows.map(line)].join('\n');
}

function caseTables(L, summary, rate) {
  for (const c of summary) {
    L.push('');
    L.push(`### ${c.name} (\`${c.caseId}\`)`);
    L.push('');
    L.push(
      `Load generator on CPU ${c.loadCpu}; median steal ${fmtFixed(c.stealPct, 1)}%.`
    );
    L.push('');
    L.push(
      table(
        ['Server', rate, 'spread', 'MB/s', 'p50 µs', 'p99 µs', 'server %', 'loadgen %', 'other srv/load %', 'steal %', 'disturbed', 'invalid'],
        c.perServer.map((p) => [
          `\`${p.server}\``,
          fmtInt(p.msgsPerS),
          p.valid > 1 ? `${fmtInt(p.minMsgsPerS)}–${fmtInt(p.maxMsgsPerS)}` : p.valid ? '(1 run)' : 'n/a',
          fmtMB(p.mbPerS),
          fmtUs(p.p50),
          fmtUs(p.p99),
          fmtFixed(p.serverProcPct, 0),
          fmtFixed(p.loadProcPct, 0),
          `${fmtFixed(p.otherSrvPct, 0)}/${fmtFixed(p.otherLoadPct, 0)}`,
          fmtFixed(p.stealPct, 1),
          `${p.disturbed}/${p.valid}`,
          `${p.invalid}/${p.runs}`,
        ])
      )
    );
  }
}

// Renders the whole RESULTS.md. `meta` carries the machine, the options and the command
// line; `summary` comes from summarize(); `runs` are the raw records for the invalid list.
// `http` is the summary of the HTTP cases (empty when none ran).
/** The title and the command line that produced a report, pushed onto `L`. */
function reportHeader(L, title, meta) {
  L.push(`# ${title}`, '', `Generated ${meta.date} by:`, '', '```sh', meta.commandLine, '```', '');
}

function renderMarkdown(meta, summary, runs, http = [], udp = []) {
  const o = meta.options;
  const L = [];
  reportHeader(L, summary.length || http.length || !udp.length ? 'evwire framed-echo benchmark' : 'evwire UDP echo benchmark', meta);
  L.push(
    `> **Read the ratios, not the absolute figures.** This machine is ${meta.machine.cpus === 2 ? 'a 2-vCPU VM' : `a ${meta.machine.cpus}-CPU machine`} ` +
      'whose CPU time is shared with the rest of the host (see the steal column), so msgs/s moves from run to ' +
      'run. Every server below was measured in the same run, interleaved, on the same pinned CPU, ' +
      'so the ratios between them are the comparable figures.' +
      (o.quick ? ' This was a `--quick` run (one repetition, short runs, no 1 MiB case); a full run gives steadier medians.' : '')
  );
  L.push('');
  L.push('## Machine');
  L.push('');
  L.push(`- CPU: ${meta.machine.model} (model name from /proc/cpuinfo)`);
  L.push(`- CPUs: ${meta.machine.cpus} (nproc)`);
  L.push(`- Kernel: ${meta.machine.kernel}`);
  L.push(`- Node: ${meta.machine.node}`);
  const steals = runs.map((r) => r.stealPct).filter((x) => x !== null);
  if (steals.length === 0) {
    L.push('- CPU steal: not measured (no steal column in /proc/stat)');
  } else if (Math.max(...steals) > 0) {
    L.push(
      `- CPU steal: observed, median ${fmtFixed(median(steals), 1)}% and at most ${fmtFixed(Math.max(...steals), 1)}% ` +
        'of all CPU time during a load run'
    );
  } else {
    L.push('- CPU steal: none observed during the load runs');
  }
  L.push('');
  L.push('## Method');
  L.push('');
  L.push('Servers, each echoing evwire frames (12-byte header, body) back unchanged:');
  L.push('');
  for (const s of meta.servers) L.push(`- \`${s.name}\`: \`${s.display}\`. ${s.about}`);
  L.push('');
  L.push(
    `- Pinning: each server runs under \`taskset -c ${o.serverCpu}\` and the load generator ` +
      `(${summary.length || !udp.length ? '`build-c/ew_loadgen`' : '`build-c/ew_udpgen`'}, one thread) under \`taskset -c ${o.loadCpu}\`, so client and server ` +
      'do not compete for a CPU.' +
      (o.cases.includes('c1')
        ? ' The exception is the 1-connection latency case, where the load ' +
          `generator shares CPU ${o.serverCpu} with the server, as a client on the same CPU would.`
        : '')
  );
  const checked = runs.filter((r) => r.threadsConfined !== null && r.threadsConfined !== undefined);
  if (checked.length) {
    const most = {};
    for (const r of checked) most[r.server] = Math.max(most[r.server] || 0, r.threads);
    const confined = checked.filter((r) => r.threadsConfined).length;
    L.push(
      '- Threads: after each load run, every thread of the server process was read back from ' +
        '`/proc/<pid>/task` (its `Cpus_allowed_list` and the CPU it last ran on). ' +
        `${confined} of ${checked.length} runs had all their threads confined to CPU ${o.serverCpu}` +
        `${confined < checked.length ? ' (the others are invalid)' : ''}, so an evwire server's IO thread and JavaScript thread share one CPU as Node's single thread has one. ` +
        `Threads per server process, at most: ${Object.entries(most).map(([k, v]) => `${k} ${v}`).join(', ')}.`
    );
  }
  L.push(
    `- Each load run: ${o.warmup} s of unmeasured warmup, then ${o.seconds} s measured. The load ` +
      'generator verifies every echoed byte; a run with any error, mismatch, closed connection, ' +
      'non-zero exit, timeout or server crash is counted as invalid and left out of the medians.'
  );
  L.push(
    `- Repetitions: ${o.runs} per case and server. For each case and repetition every server is ` +
      'started fresh on a free port, driven once and stopped (SIGTERM, SIGKILL after 3 s); the ' +
      'server order is rotated from one repetition (and case) to the next so that no server ' +
      "always goes first, which spreads the machine's noise across servers."
  );
  L.push(
    '- Steal: the `steal` column of the `cpu` line of /proc/stat is read before and after each ' +
      'load run and reported as a percentage of the run\'s wall time × CPUs ' +
      `(${meta.clockTicks} ticks/s).`
  );
  L.push(`- evwire IO threads: ${o.ioThreads}.`);
  L.push('');
  // The framed-echo sections, when framed-echo cases ran (a --cases udp run has none).
  if (summary.length) {
    L.push('## Results');
    if (meta.chart) {
      L.push('');
      L.push(`![msgs/s per case and server](${meta.chart})`);
    }
    L.push('');
    L.push(
      'msgs/s is echoed frames per second (median of the valid runs, spread is min–max); MB/s is ' +
        'body bytes echoed per second; p50 and p99 are round-trip latencies in µs (medians of the ' +
        'per-run percentiles). Over each load run (warmup included), medians again: server % is the ' +
        "server process's CPU time (all its threads) per second of wall time, loadgen % the load " +
        "generator's; other srv/load % is the rest of the user and system time of the server's and " +
        "the load generator's CPUs (/proc/stat): other processes, such as other people's builds and " +
        'tests on a shared VM, which steal does not show. A server well below 100% did not set the rate by itself; a loadgen near ' +
        `100% did. A run with more than ${DISTURBED_PCT} points of other work on either CPU counts as ` +
        'disturbed: it stays in the medians and is listed below.'
    );
    caseTables(L, summary, 'msgs/s');
    L.push('');
    L.push('## Ratios (same run)');
    L.push('');
    L.push(
      'Ratios of median msgs/s, above 1× meaning evwire-js echoed more frames per second. The `-level` columns are the same JavaScript server with level-triggered connections. ' +
        'In brackets, the min–max of the ratio taken within each repetition (the two servers ran back to back in the same rotation): where it straddles 1×, the run did not separate the two.'
    );
    L.push('');
    L.push(
      table(
        ['Case', 'evwire-js / node-net-corked', 'evwire-js / node-net', 'evwire-js / evwire-native', 'evwire-js-level / node-net-corked', 'evwire-js-level / evwire-native', 'steal %'],
        summary.map((c) => [
          `${c.name}`,
          fmtRS(c, 'vsCorked'),
          fmtRS(c, 'vsNet'),
          fmtRS(c, 'vsNative'),
          fmtRS(c, 'levelVsCorked'),
          fmtRS(c, 'levelVsNative'),
          fmtFixed(c.stealPct, 1),
        ])
      )
    );
    const refKeys = ['jsVsEpoll', 'nativeVsEpoll', 'corkedVsEpoll', 'jsVsBufferevent', 'nativeVsBufferevent'];
    if (summary.some((c) => refKeys.some((k) => c.ratios[k] !== null))) {
      L.push('');
      L.push(
        'Against the C reference peers (`c-epoll`, `c-bufferevent`): how close each server comes to a plain one-thread C echo on the same CPU. ' +
          'These peers echo bytes without parsing frames, so they are limits, not like-for-like servers.'
      );
      L.push('');
      L.push(
        table(
          ['Case', 'evwire-js / c-epoll', 'evwire-native / c-epoll', 'node-net-corked / c-epoll', 'evwire-js / c-bufferevent', 'evwire-native / c-bufferevent'],
          summary.map((c) => [`${c.name}`, ...refKeys.map((k) => fmtRS(c, k))])
        )
      );
    }
    if (summary.some((c) => c.ratios.nativeInlineVsEpoll !== null)) {
      L.push('');
      L.push('Native inline: `evwire-native-inline` is evwire-native with the IO loop and the C consumer on one thread in turns (`--inline`), as `ioThreads: 0` does for JavaScript.');
      L.push('');
      L.push(table(['Case', 'evwire-native-inline / c-epoll', 'evwire-native-inline / evwire-native'], summary.map((c) => [`${c.name}`, fmtRS(c, 'nativeInlineVsEpoll'), fmtRS(c, 'nativeInlineVsNative')])));
    }
    const inlineKeys = ['inlineVsCorked', 'inlineVsJs', 'inlineVsEdge', 'inlineVsEpoll', 'inlineVsBufferevent'];
    if (summary.some((c) => inlineKeys.some((k) => c.ratios[k] !== null))) {
      L.push('');
      L.push('Inline: `evwire-js-inline` is evwire-js with `ioThreads: 0`, the IO loop run on the JavaScript thread (no IO thread, no hand-off between threads), with level-triggered connections, its default; `evwire-js-inline-edge` is the same with edge-triggered ones.');
      L.push('');
      L.push(
        table(
          ['Case', 'evwire-js-inline / node-net-corked', 'evwire-js-inline / evwire-js', 'evwire-js-inline / evwire-js-inline-edge', 'evwire-js-inline / c-epoll', 'evwire-js-inline / c-bufferevent'],
          summary.map((c) => [`${c.name}`, ...inlineKeys.map((k) => fmtRS(c, k))])
        )
      );
    }
    if (summary.some((c) => c.ratios.spinVsJs !== null || c.ratios.nativeSpinVsNative !== null)) {
      L.push('');
      L.push('Spinning before sleep: the same servers with `spinUs: 20` (`--spin-us 20`), the IO thread (and the C consumer) polling up to 20 µs before blocking while spins find work (docs/design-notes.md, "Spinning before sleep"). The server is pinned to one CPU, so its threads share it.');
      L.push('');
      L.push(table(['Case', 'evwire-js-spin / evwire-js', 'evwire-native-spin / evwire-native'], summary.map((c) => [`${c.name}`, fmtRS(c, 'spinVsJs'), fmtRS(c, 'nativeSpinVsNative')])));
    }
    if (summary.some((c) => c.ratios.w1VsJs !== null || c.ratios.w2VsJs !== null)) {
      L.push('');
      L.push('Work threads: the same echo handler on 1 or 2 work threads, against evwire-js (the handler on the main thread). The server process is pinned to one CPU, so this measures the cost of the work-thread path, not scaling across cores.');
      L.push('');
      L.push(table(['Case', 'evwire-w1 / evwire-js', 'evwire-w2 / evwire-js'], summary.map((c) => [`${c.name}`, fmtRS(c, 'w1VsJs'), fmtRS(c, 'w2VsJs')])));
    }
  }
  if (http.length) {
    L.push('');
    L.push('## HTTP');
    L.push('');
    L.push(
      `wrk (\`taskset -c ${o.loadCpu} wrk -t1 -cN -dS --timeout 5s -s bench/wrk/evwire.lua http://127.0.0.1:P/ -- DEPTH\`) ` +
        'against servers answering `GET /` with `200 Hello, World!` (text/plain, Content-Length, Date), each pinned to ' +
        `CPU ${o.serverCpu}. Before each run one GET / must return exactly that body. Pipelined: DEPTH requests per ` +
        "write, as TechEmpower's pipeline.lua; wrk then times a whole batch as one latency sample. A run with any wrk " +
        'socket error, timeout or non-2xx answer is invalid. req/s is requests answered per second (median of the valid runs).'
    );
    if (meta.httpChart) {
      L.push('');
      L.push(`![req/s per case and server](${meta.httpChart})`);
    }
    caseTables(L, http, 'req/s');
    L.push('');
    L.push('### HTTP ratios (same run)');
    L.push('');
    L.push(
      table(
        ['Case', 'evwire-http / uws', 'evwire-http / node-http', 'evwire-http-level / uws', 'evwire-http-inline / uws', 'steal %'],
        http.map((c) => [c.name, fmtRS(c, 'httpVsUws'), fmtRS(c, 'httpVsNode'), fmtRS(c, 'httpLevelVsUws'), fmtRS(c, 'httpInlineVsUws'), fmtFixed(c.stealPct, 1)])
      )
    );
  }
  const disturbed = runs.filter((r) => r.valid && isDisturbed(r));
  if (disturbed.length) {
    L.push('');
    L.push('## Disturbed runs');
    L.push('');
    L.push(`Valid runs during which other work took more than ${DISTURBED_PCT} points of the server's or the load generator's CPU (kept in the medians):`);
    L.push('');
    for (const r of disturbed) {
      const w = otherWork(r);
      L.push(`- ${r.caseId} run ${r.rep} \`${r.server}\`: ${fmtInt(r.result.msgs_per_s)} msgs/s; other work ${fmtFixed(w.srv, 0)}% of the server CPU, ${fmtFixed(w.load, 0)}% of the load CPU; server ${fmtFixed(r.serverProcPct, 0)}%`);
    }
  }
  if (udp.length) {
    L.push('');
    L.push('## UDP');
    L.push('');
    L.push(
      `\`build-c/ew_udpgen\` (\`taskset -c ${o.loadCpu}\`, one thread, recvmmsg/sendmmsg) keeps DEPTH datagrams in flight on each ` +
        'of N connected UDP sockets, each datagram one evwire frame (12-byte header, 64-byte body derived from its seq), and ' +
        `checks every byte of every echo; servers are pinned to CPU ${o.serverCpu} and check each frame header themselves ` +
        '(evwire on its IO thread, Node in the handler). A datagram not echoed within 200 ms counts as lost and is replaced; ' +
        'losses cost throughput, a mismatch invalidates the run. msgs/s is datagrams echoed per second (median of the valid runs).'
    );
    caseTables(L, udp, 'msgs/s');
    L.push('');
    L.push('### UDP ratio (same run)');
    L.push('');
    L.push(table(['Case', 'evwire-udp / node-dgram', 'steal %'], udp.map((c) => [c.name, fmtRS(c, 'udpVsDgram'), fmtFixed(c.stealPct, 1)])));
  }
  const bad = runs.filter((r) => !r.valid);
  if (bad.length) {
    L.push('');
    L.push('## Invalid runs');
    L.push('');
    for (const r of bad) L.push(`- ${r.caseId} run ${r.rep} \`${r.server}\`: ${r.reason}`);
  }
  L.push('');
  L.push('## How to reproduce');
  L.push('');
  L.push('```sh');
  L.push('npm run build        # addon and dist/');
  L.push('npm run build:c      # build-c/ew_loadgen, ew_udpgen, ew_echo_native, ew_epoll_echo, ew_bufferevent_echo');
  L.push('npm run bench        # full matrix, writes bench/RESULTS.md');
  L.push('npm run bench -- --quick --no-write   # a check in under a minute, printed only');
  L.push('```');
  L.push('');
  L.push('See bench/README.md for the options.');
  L.push('');
  return L.join('\n');
}

module.exports = { median, summarize, renderMarkdown, reportHeader, fmtInt, fmtUs, fmtFixed };
