// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Side-by-side framed-echo benchmark: evwire with a JavaScript handler, the evwire core with a
// C consumer, and Node `net` written two ways, all driven by build-c/ew_loadgen in one run.
//   node bench/run.js [--quick] [--runs N] [--seconds S] [--warmup S] [--server-cpu N]
//                     [--load-cpu N] [--io-threads N] [--cases ids] [--servers names]
//                     [--out FILE] [--json FILE] [--no-write]
// Progress goes to stderr, the Markdown report to stdout and (unless --no-write) to --out.
// Exit status: 0 when every evwire run was valid (invalid peer runs are reported in the table),
// 1 when an evwire run was invalid or the run failed, 2 usage or missing build, 130 interrupted.
const fs = require('fs');
const { spawnSync } = require('child_process');
const os = require('os');
const path = require('path');
const proc = require('./lib/proc');
const { readOptions } = require('./lib/args');
const report = require('./lib/report');
const { machineInfo } = require('./lib/machine');
const chart = require('./lib/chart');
const wrk = require('./lib/wrk');

const ROOT = path.resolve(__dirname, '..');
const LOADGEN = path.join(ROOT, 'build-c', 'ew_loadgen');
const UDPGEN = path.join(ROOT, 'build-c', 'ew_udpgen');
const NATIVE = path.join(ROOT, 'build-c', 'ew_echo_native');
const EPOLL = path.join(ROOT, 'build-c', 'ew_epoll_echo');
const BUFFEREVENT = path.join(ROOT, 'build-c', 'ew_bufferevent_echo');
const DIST = path.join(ROOT, 'dist', 'index.js');
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 10000;
const STOP_GRACE_MS = 3000;
// The load generator's own limit is seconds + warmup; the slack covers connection setup,
// a slow teardown and a loaded machine, and still bounds a hung run.
const LOAD_SLACK_S = 15;
// The C reference peers take a --seconds safety bound, so that one left behind by a driver that
// was killed outright does not hold the server CPU for long: a whole load run, its slack, and a
// margin for the start and the stop.
const peerBound = (o) => String(Math.ceil(o.warmup + o.seconds) + LOAD_SLACK_S + 30);

// The default matrix. sameCpu marks the latency case, where the client shares the server's
// CPU so that the round trip includes no cross-CPU wakeup.
const CASES = [
  { id: 'c1', name: '64B c=1 d=1', conns: 1, depth: 1, size: 64, sameCpu: true },
  { id: 'c100d1', name: '64B c=100 d=1', conns: 100, depth: 1, size: 64 },
  { id: 'c100d16', name: '64B c=100 d=16', conns: 100, depth: 16, size: 64 },
  { id: 'burst', name: 'burst 64B c=100 d=256', conns: 100, depth: 256, size: 64, burst: true },
  { id: '4k', name: '4KiB c=16 d=16', conns: 16, depth: 16, size: 4096 },
  { id: '1m', name: '1MiB c=4 d=2', conns: 4, depth: 2, size: 1 << 20 },
  // HTTP: wrk (one thread) against servers answering GET / with "Hello, World!".
  { id: 'http', name: 'HTTP GET c=100', kind: 'http', conns: 100, depth: 1 },
  { id: 'http-pipe', name: 'HTTP GET c=100 pipelined 16', kind: 'http', conns: 100, depth: 16 },
  // HTTPS: the same, over TLS 1.3 (test/fixtures/tls, an ECDSA P-256 certificate), each server
  // terminating TLS itself (evwire on its IO thread, uWS.js SSLApp, Node https).
  { id: 'https', name: 'HTTPS GET c=100', kind: 'http', tls: true, conns: 100, depth: 1 },
  { id: 'https-pipe', name: 'HTTPS GET c=100 pipelined 16', kind: 'http', tls: true, conns: 100, depth: 16 },
  // UDP: build-c/ew_udpgen (16 connected sockets, 8 datagrams in flight each, every byte
  // checked) against servers echoing one frame per datagram.
  { id: 'udp', name: 'UDP echo 64B s=16 d=8', kind: 'udp', conns: 16, depth: 8, size: 64 },
];

const SERVERS = [
  {
    name: 'evwire-js',
    about: 'evwire, IO threads in C, the handler in JavaScript.',
    command: (port, o) => [process.execPath, [path.join('bench', 'peers', 'evwire-echo.js'), '--port', String(port), '--io-threads', String(o.ioThreads)]],
    display: (o) => `node bench/peers/evwire-echo.js --port P --io-threads ${o.ioThreads}`,
  },
  {
    name: 'evwire-js-inline',
    about: 'evwire-js with the IO loop inline on the JavaScript thread (`ioThreads: 0`, level-triggered connections, its default): no IO thread, no hand-off.',
    command: (port) => [process.execPath, [path.join('bench', 'peers', 'evwire-echo.js'), '--port', String(port), '--io-threads', '0']],
    display: () => 'node bench/peers/evwire-echo.js --port P --io-threads 0',
  },
  {
    name: 'evwire-js-inline-edge',
    about: 'evwire-js-inline with edge-triggered connections (inline defaults to level-triggered).',
    command: (port) => [process.execPath, [path.join('bench', 'peers', 'evwire-echo.js'), '--port', String(port), '--io-threads', '0', '--triggering', 'edge']],
    display: () => 'node bench/peers/evwire-echo.js --port P --io-threads 0 --triggering edge',
  },
  {
    name: 'evwire-js-level',
    about: "evwire-js with level-triggered connections (`triggering: 'level'`).",
    command: (port, o) => [process.execPath, [path.join('bench', 'peers', 'evwire-echo.js'), '--port', String(port), '--io-threads', String(o.ioThreads), '--triggering', 'level']],
    display: (o) => `node bench/peers/evwire-echo.js --port P --io-threads ${o.ioThreads} --triggering level`,
  },
  {
    name: 'evwire-w1',
    about: 'evwire-js with the handler on 1 work thread (`workers: { count: 1 }`); the main thread idles.',
    command: (port, o) => [process.execPath, [path.join('bench', 'peers', 'evwire-echo.js'), '--port', String(port), '--io-threads', String(o.ioThreads), '--workers', '1']],
    display: (o) => `node bench/peers/evwire-echo.js --port P --io-threads ${o.ioThreads} --workers 1`,
  },
  {
    name: 'evwire-w2',
    about: 'evwire-js with the handler on 2 work threads, connections bound round-robin.',
    command: (port, o) => [process.execPath, [path.join('bench', 'peers', 'evwire-echo.js'), '--port', String(port), '--io-threads', String(o.ioThreads), '--workers', '2']],
    display: (o) => `node bench/peers/evwire-echo.js --port P --io-threads ${o.ioThreads} --workers 2`,
  },
  {
    name: 'evwire-js-spin',
    optional: true, // only when named in --servers
    about: 'evwire-js with the IO thread spinning up to 20 µs before it sleeps, while spins pay (`spinUs: 20`, docs/design-notes.md "Spinning before sleep").',
    command: (port, o) => [process.execPath, [path.join('bench', 'peers', 'evwire-echo.js'), '--port', String(port), '--io-threads', String(o.ioThreads), '--spin-us', '20']],
    display: (o) => `node bench/peers/evwire-echo.js --port P --io-threads ${o.ioThreads} --spin-us 20`,
  },
  {
    name: 'evwire-native',
    about: 'The same core with a C consumer and no JavaScript: the ceiling for evwire-js.',
    command: (port, o) => [NATIVE, ['--port', String(port), '--io-threads', String(o.ioThreads)]],
    display: (o) => `build-c/ew_echo_native --port P --io-threads ${o.ioThreads}`,
  },
  {
    name: 'evwire-native-inline',
    about: 'evwire-native with the IO loop and the C consumer on one thread in turns (`--inline`, as `ioThreads: 0` for JavaScript): no thread hand-off.',
    command: (port) => [NATIVE, ['--port', String(port), '--inline']],
    display: () => 'build-c/ew_echo_native --port P --inline',
  },
  {
    name: 'evwire-native-spin',
    optional: true,
    about: 'evwire-native with the IO thread and the C consumer spinning up to 20 µs before they sleep, while spins pay (`--spin-us 20`).',
    command: (port, o) => [NATIVE, ['--port', String(port), '--io-threads', String(o.ioThreads), '--spin-us', '20']],
    display: (o) => `build-c/ew_echo_native --port P --io-threads ${o.ioThreads} --spin-us 20`,
  },
  {
    name: 'c-epoll',
    about: 'Reference peer, the C limit: one thread, edge-triggered epoll, every byte read written straight back (no framing); unsent bytes wait for EPOLLOUT, a connection over 16 MiB of them is closed.',
    command: (port, o) => [EPOLL, ['--port', String(port), '--seconds', peerBound(o)]],
    display: (o) => `build-c/ew_epoll_echo --port P --seconds ${peerBound(o)}`,
  },
  {
    name: 'c-bufferevent',
    about: "Reference peer: the textbook libevent echo, one thread, evconnlistener and a bufferevent per connection whose read callback moves the input to the output (evbuffer_add_buffer); reading pauses above 1 MiB of output. libevent's defaults, so at most 4 KiB per read (libevent 2.1).",
    command: (port, o) => [BUFFEREVENT, ['--port', String(port), '--seconds', peerBound(o)]],
    display: (o) => `build-c/ew_bufferevent_echo --port P --seconds ${peerBound(o)}`,
  },
  {
    name: 'node-net',
    about: 'Node `net`, one socket.write() per echoed frame.',
    command: (port) => [process.execPath, [path.join('bench', 'peers', 'net-echo.js'), '--port', String(port), '--mode', 'per-frame']],
    display: () => 'node bench/peers/net-echo.js --port P --mode per-frame',
  },
  {
    name: 'node-net-corked',
    about: "Node `net`, the frames of one 'data' chunk written between cork() and uncork().",
    command: (port) => [process.execPath, [path.join('bench', 'peers', 'net-echo.js'), '--port', String(port), '--mode', 'corked']],
    display: () => 'node bench/peers/net-echo.js --port P --mode corked',
  },
  {
    name: 'evwire-http',
    kind: 'http',
    about: 'evwire HTTP: llhttp on the IO thread, the handler in JavaScript.',
    command: (port, o, c) => [process.execPath, [path.join('bench', 'peers', 'evwire-http.js'), '--port', String(port), '--io-threads', String(o.ioThreads), ...tlsArgs(c)]],
    display: (o) => `node bench/peers/evwire-http.js --port P --io-threads ${o.ioThreads}`,
  },
  {
    name: 'evwire-http-inline',
    kind: 'http',
    about: 'evwire-http with the IO loop inline on the JavaScript thread (`ioThreads: 0`).',
    command: (port, _o, c) => [process.execPath, [path.join('bench', 'peers', 'evwire-http.js'), '--port', String(port), '--io-threads', '0', ...tlsArgs(c)]],
    display: () => 'node bench/peers/evwire-http.js --port P --io-threads 0',
  },
  {
    name: 'evwire-http-level',
    kind: 'http',
    about: "evwire-http with level-triggered connections (`triggering: 'level'`).",
    command: (port, o, c) => [process.execPath, [path.join('bench', 'peers', 'evwire-http.js'), '--port', String(port), '--io-threads', String(o.ioThreads), '--triggering', 'level', ...tlsArgs(c)]],
    display: (o) => `node bench/peers/evwire-http.js --port P --io-threads ${o.ioThreads} --triggering level`,
  },
  {
    name: 'uws',
    kind: 'http',
    about: 'uWebSockets.js 20 (npm `uws-pack`), one thread, the handler in JavaScript, response corked; HTTPS cases: its SSLApp.',
    command: (port, _o, c) => [process.execPath, [path.join('bench', 'peers', 'uws-http.mjs'), '--port', String(port), ...tlsArgs(c)]],
    display: () => 'node bench/peers/uws-http.mjs --port P',
  },
  {
    name: 'evwire-udp',
    kind: 'udp',
    about: 'evwire UDP: recvmmsg/sendmmsg on the IO thread, frame headers checked there, the handler in JavaScript.',
    command: (port, o) => [process.execPath, [path.join('bench', 'peers', 'evwire-udp-echo.js'), '--port', String(port), '--io-threads', String(o.ioThreads)]],
    display: (o) => `node bench/peers/evwire-udp-echo.js --port P --io-threads ${o.ioThreads}`,
  },
  {
    name: 'node-dgram',
    kind: 'udp',
    about: 'Node `dgram`, the frame header checked in JavaScript, the datagram sent back as it came.',
    command: (port) => [process.execPath, [path.join('bench', 'peers', 'dgram-echo.js'), '--port', String(port)]],
    display: () => 'node bench/peers/dgram-echo.js --port P',
  },
  {
    name: 'node-http',
    kind: 'http',
    about: 'Node `http`; HTTPS cases: Node `https`.',
    command: (port, _o, c) => [process.execPath, [path.join('bench', 'peers', 'node-http.js'), '--port', String(port), ...tlsArgs(c)]],
    display: () => 'node bench/peers/node-http.js --port P',
  },
];
const kindOf = (x) => x.kind || 'echo';
// The HTTPS cases' certificate and key (test-only), handed to each HTTP server.
const TLS_DIR = path.join('test', 'fixtures', 'tls');
const tlsArgs = (c) => (c && c.tls ? ['--tls', TLS_DIR] : []);
const WRK = 'wrk';

const USAGE = `Usage: node bench/run.js [options]   (or: npm run bench -- [options])

Runs the framed-echo matrix against evwire-js (and its variants), evwire-native,
node-net, node-net-corked and the C reference peers (c-epoll, c-bufferevent), and the
HTTP cases against evwire-http, uws and node-http, in one interleaved run, and writes a
Markdown report.

  --quick            1 run, 1 s measured, 0.5 s warmup (none for wrk), no 1 MiB case,
                     no -level variants (under a minute)
  --runs N           repetitions per case and server (default 5)
  --seconds S        measured seconds per load run (default 5)
  --warmup S         unmeasured warmup seconds per load run (default 1)
  --server-cpu N     CPU the servers are pinned to (default 1)
  --load-cpu N       CPU the load generator is pinned to (default 0; the c1 case
                     uses the server CPU)
  --io-threads N     evwire IO threads (default 1)
  --cases LIST       comma-separated case ids: ${CASES.map((c) => c.id).join(', ')}
  --servers LIST     comma-separated servers: ${SERVERS.map((s) => s.name).join(', ')}
  --out FILE         Markdown report (default bench/RESULTS.md)
  --json FILE        also write the raw results as JSON
  --no-write         print the report only; do not write --out (--json still applies)
  --no-tasks         skip bench/tasks.js (tasks between JS threads against postMessage), which
                     otherwise runs after the matrix unless --cases or --servers pick a subset
  --no-client        skip bench/client.js (evwire links as the client against Node net as the
                     client, the same C echo server), which runs after the matrix likewise
  --no-encryption    skip bench/encryption.js (the framed echo plaintext, with each cipher of
                     message encryption and over TLS), which runs after the matrix likewise
  -h, --help         show this help
`;

function usageError(msg) {
  process.stderr.write(`bench: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = {
    quick: false,
    runs: null,
    seconds: null,
    warmup: null,
    serverCpu: 1,
    loadCpu: 0,
    ioThreads: 1,
    cases: null,
    servers: null,
    out: path.join('bench', 'RESULTS.md'),
    json: null,
    write: true,
    tasks: null,
    client: null,
    encryption: null,
  };
  const flags = { '--quick': 'quick', '--no-write': 'noWrite', '--no-tasks': 'noTasks', '--no-client': 'noClient', '--no-encryption': 'noEncryption' };
  const valued = {
    '--runs': 'runs',
    '--seconds': 'seconds',
    '--warmup': 'warmup',
    '--server-cpu': 'serverCpu',
    '--load-cpu': 'loadCpu',
    '--io-threads': 'ioThreads',
    '--cases': 'cases',
    '--servers': 'servers',
    '--out': 'out',
    '--json': 'json',
  };
  const known = (a) => {
    if (!flags[a] && !valued[a]) usageError(`unknown option ${a}`);
    return !!flags[a];
  };
  for (const [a, v] of readOptions(argv, { isFlag: known, usage: USAGE, fail: usageError })) {
    if (a === '--quick') o.quick = true;
    else if (a === '--no-write') o.write = false;
    else if (a === '--no-tasks') o.tasks = false;
    else if (a === '--no-client') o.client = false;
    else if (a === '--no-encryption') o.encryption = false;
    else o[valued[a]] = v;
  }

  const num = (name, v, { int = false, min = 0, strictMin = false }) => {
    const n = Number(v);
    const bad = !Number.isFinite(n) || (int && !Number.isInteger(n)) || (strictMin ? n <= min : n < min);
    if (bad) usageError(`${name} must be ${int ? 'an integer' : 'a number'} ${strictMin ? '>' : '>='} ${min}, got ${v}`);
    return n;
  };
  // Explicit options win over --quick's defaults, whatever their order on the line.
  o.runs = num('--runs', o.runs ?? (o.quick ? 1 : 5), { int: true, min: 1 });
  o.seconds = num('--seconds', o.seconds ?? (o.quick ? 1 : 5), { min: 0, strictMin: true });
  o.warmup = num('--warmup', o.warmup ?? (o.quick ? 0.5 : 1), { min: 0 });
  o.serverCpu = num('--server-cpu', o.serverCpu, { int: true, min: 0 });
  o.loadCpu = num('--load-cpu', o.loadCpu, { int: true, min: 0 });
  o.ioThreads = num('--io-threads', o.ioThreads, { int: true, min: 1 });

  const pick = (list, all, key, what) => {
    if (list === null) return null;
    const ids = list.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = ids.filter((id) => !all.some((x) => x[key] === id));
    if (unknown.length || ids.length === 0) {
      usageError(`unknown ${what} ${unknown.join(', ') || '(empty list)'}; known: ${all.map((x) => x[key]).join(', ')}`);
    }
    // Declaration order, not command-line order, so reports from different runs line up.
    return all.filter((x) => ids.includes(x[key]));
  };
  const namedCases = pick(o.cases, CASES, 'id', 'case');
  // --quick drops the 1 MiB case only from the default matrix; naming it keeps it.
  o.caseList = namedCases ?? CASES.filter((c) => !(o.quick && c.id === '1m'));
  // --quick leaves out the level-triggered variants unless they are named, to stay under a minute.
  o.serverList = pick(o.servers, SERVERS, 'name', 'server') ?? SERVERS.filter((s) => !s.optional && !(o.quick && s.name.endsWith('-level')));
  return o;
}

// Everything the run needs must exist before the first server starts; a missing piece is
// reported with the command that builds it, and nothing is measured.
function preflight(o) {
  const problems = [];
  const fixes = new Set();
  if (!proc.commandExists('taskset')) {
    problems.push('taskset not found (it is in util-linux)');
  } else {
    const ncpu = os.cpus().length;
    for (const [flag, cpu] of [['--server-cpu', o.serverCpu], ['--load-cpu', o.loadCpu]]) {
      if (cpu >= ncpu) {
        problems.push(`${flag} ${cpu}: this machine has CPUs 0-${ncpu - 1}`);
        continue;
      }
      const err = proc.cpuUsable(cpu);
      if (err) problems.push(`${flag} ${cpu}: taskset refuses it: ${err}`);
    }
  }
  const need = [];
  if (o.caseList.some((c) => kindOf(c) === 'echo')) need.push([LOADGEN, 'npm run build:c']);
  if (o.caseList.some((c) => kindOf(c) === 'udp')) need.push([UDPGEN, 'npm run build:c']);
  if (o.caseList.some((c) => kindOf(c) === 'http')) {
    if (!proc.commandExists(WRK)) {
      problems.push('wrk not found');
      fixes.add('sudo bash scripts/install-bench-deps.sh');
    }
    if (o.serverList.some((s) => s.name === 'uws') && !fs.existsSync(path.join(ROOT, 'node_modules', 'uws-pack'))) {
      problems.push('node_modules/uws-pack is missing (a devDependency)');
      fixes.add('npm install');
    }
  }
  if (o.serverList.some((s) => s.name === 'evwire-native')) need.push([NATIVE, 'npm run build:c']);
  if (o.serverList.some((s) => s.name === 'c-epoll')) need.push([EPOLL, 'npm run build:c']);
  if (o.serverList.some((s) => s.name === 'c-bufferevent')) need.push([BUFFEREVENT, 'npm run build:c']);
  if (o.serverList.some((s) => s.name.startsWith('evwire-') && s.name !== 'evwire-native')) need.push([DIST, 'npm run build']);
  for (const [file, fix] of need) {
    if (!fs.existsSync(file)) {
      problems.push(`${path.relative(ROOT, file)} is missing`);
      fixes.add(fix);
    }
  }
  if (problems.length === 0) return;
  process.stderr.write(`bench: cannot run:\n${problems.map((p) => `  - ${p}\n`).join('')}`);
  if (fixes.size) process.stderr.write(`Build first:\n${[...fixes].map((f) => `  ${f}\n`).join('')}`);
  process.exit(2);
}


// Quotes an argument for the report's command line only where a shell would need it.
function shellQuote(s) {
  return /^[A-Za-z0-9_\-.,/=:@%+]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

// A path for messages: relative when it lies under the current directory, absolute otherwise.
function displayPath(p) {
  const rel = path.relative(process.cwd(), p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

function loadgenArgs(c, port, o) {
  const a = ['--host', HOST, '--port', String(port), '--conns', String(c.conns), '--depth', String(c.depth),
    '--size', String(c.size), '--seconds', String(o.seconds), '--warmup', String(o.warmup), '--json'];
  if (c.burst) a.push('--burst');
  return a;
}

// UDP cases: ew_udpgen takes the same options (--conns is its --socks) and prints the same JSON
// fields, plus the datagrams it counted lost.
const generatorOf = (c) => (kindOf(c) === 'udp' ? UDPGEN : LOADGEN);

// One GET / before the load: the answer must be 200 "Hello, World!", or the run measures
// something else. wrk itself counts status and socket errors, not bodies.
function checkHello(port, tls) {
  return new Promise((resolve) => {
    const get = tls ? require('https').get : require('http').get;
    const req = get({ host: HOST, port, path: '/', agent: false, timeout: 5000, rejectUnauthorized: false }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        resolve(res.statusCode === 200 && body === 'Hello, World!' ? null : `GET / answered ${res.statusCode} ${JSON.stringify(body.slice(0, 40))}`);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve(`GET / failed: ${err.message}`));
  });
}

async function measureHttp(c, rec, o) {
  const bad = await checkHello(rec.port, c.tls === true);
  if (bad) {
    rec.reason = bad;
    return;
  }
  // wrk takes whole seconds: a warmup under 1 s (--quick) is skipped rather than doubled.
  if (o.warmup >= 1) {
    await proc.runBounded({ cpu: rec.loadCpu, cmd: WRK, args: wrk.args({ host: HOST, port: rec.port, conns: c.conns, depth: c.depth, seconds: Math.max(1, Math.round(o.warmup)), tls: c.tls === true }), cwd: ROOT, timeoutMs: (o.warmup + LOAD_SLACK_S) * 1000 });
  }
  const seconds = Math.max(1, Math.round(o.seconds));
  const steal0 = proc.readSteal();
  const run = await proc.runBounded({ cpu: rec.loadCpu, cmd: WRK, args: wrk.args({ host: HOST, port: rec.port, conns: c.conns, depth: c.depth, seconds, tls: c.tls === true }), cwd: ROOT, timeoutMs: (seconds + LOAD_SLACK_S) * 1000, sampleCpu: true });
  rec.loadProcPct = run.cpuPct;
  const steal1 = proc.readSteal();
  rec.wallS = run.wallS;
  rec.loadgenExit = { code: run.code, signal: run.signal };
  rec.stealPct = proc.stealPct(steal0, steal1, run.wallS);
  rec.result = wrk.parse(run.stdout);
  if (run.timedOut) rec.reason = `wrk killed after ${seconds + LOAD_SLACK_S} s`;
  else if (run.error) rec.reason = `wrk did not run: ${run.error}`;
  else if (run.code !== 0) rec.reason = `wrk exit ${run.code ?? run.signal}: ${run.stderr.trim().split('\n')[0]}`;
  else if (!rec.result) rec.reason = 'wrk printed no JSON result';
  else if (rec.result.errors || rec.result.status_errors) rec.reason = `wrk errors: ${rec.result.errors} socket, ${rec.result.status_errors} non-2xx`;
  else if (!(rec.result.msgs > 0)) rec.reason = 'no requests answered';
  else rec.valid = true;
}

// Reads back, right after the load run, the CPUs that every thread of the server process may
// use: taskset's mask is inherited by every thread the server starts (evwire's IO threads,
// libuv's and V8's), unless a thread sets its own affinity, which would let an evwire server use
// a second CPU that Node's single thread does not get. Such a run is invalid.
function checkConfinement(child, rec, o) {
  const threads = proc.threadAffinity(child.pid);
  if (!threads) return null;
  rec.threads = threads.length;
  const cpu = String(o.serverCpu);
  const loose = threads.filter((t) => t.allowed !== cpu || t.lastCpu !== o.serverCpu);
  rec.threadsConfined = loose.length === 0;
  if (!loose.length) return null;
  const t = loose[0];
  return `${loose.length} of ${threads.length} server threads not confined to CPU ${cpu} (thread ${t.tid} "${t.name}": allowed ${t.allowed}, last ran on ${t.lastCpu})`;
}

// One measurement: a fresh server, one load run, a stop. Never throws; every failure comes
// back as an invalid record with its reason, so one bad run cannot lose the others.
async function measure(c, server, rep, o) {
  const loadCpu = c.sameCpu ? o.serverCpu : o.loadCpu;
  const rec = {
    caseId: c.id, caseName: c.name, rep, server: server.name, serverCpu: o.serverCpu, loadCpu,
    port: null, valid: false, reason: null, result: null, stealPct: null, wallS: null,
    loadgenExit: null, serverExit: null, threads: null, threadsConfined: null,
    serverProcPct: null, serverCpuBusyPct: null, loadCpuBusyPct: null, loadProcPct: null,
    serverCpuSoftirqPct: null,
  };
  let child = null;
  try {
    rec.port = await proc.freePort(HOST);
    const [cmd, args] = server.command(rec.port, o, c);
    try {
      child = await proc.startServer({ cpu: o.serverCpu, cmd, args, cwd: ROOT, port: rec.port, readyTimeoutMs: READY_TIMEOUT_MS });
    } catch (err) {
      rec.reason = `server did not start: ${err.message}`;
      return rec;
    }
    // CPU use over the load run (warmup included): the server process's own time, and the
    // user and system time of the server's and the load generator's CPUs, whoever spent it; the
    // difference is other work on those CPUs (report.js). A server well below 100% did not
    // limit the rate by itself.
    const cpu0 = proc.readCpuTicks();
    const ticks0 = proc.processTicks(child.pid);
    const t0 = process.hrtime.bigint();
    const cpuUse = () => {
      const ticks1 = proc.processTicks(child.pid);
      const cpu1 = proc.readCpuTicks();
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      if (ticks0 !== null && ticks1 !== null && wall > 0) rec.serverProcPct = ((ticks1 - ticks0) / proc.clockTicks() / wall) * 100;
      rec.serverCpuBusyPct = proc.cpuBusyPct(cpu0, cpu1, o.serverCpu);
      rec.loadCpuBusyPct = loadCpu === o.serverCpu ? null : proc.cpuBusyPct(cpu0, cpu1, loadCpu);
      rec.serverCpuSoftirqPct = proc.cpuBusyPct(cpu0, cpu1, o.serverCpu, 'softirq');
    };
    if (kindOf(c) === 'http') {
      await measureHttp(c, rec, o);
      cpuUse();
      const loose = child.exitInfo === null ? checkConfinement(child, rec, o) : null;
      if (rec.valid && child.exitInfo !== null) {
        rec.valid = false;
        rec.reason = `server exited during the run (${child.exitInfo.signal || `status ${child.exitInfo.code}`})`;
      } else if (rec.valid && loose) {
        rec.valid = false;
        rec.reason = loose;
      }
      return rec;
    }
    const steal0 = proc.readSteal();
    const run = await proc.runBounded({
      cpu: loadCpu, cmd: generatorOf(c), args: loadgenArgs(c, rec.port, o), cwd: ROOT,
      timeoutMs: (o.seconds + o.warmup + LOAD_SLACK_S) * 1000, sampleCpu: true,
    });
    rec.loadProcPct = run.cpuPct;
    const steal1 = proc.readSteal();
    cpuUse();
    const loose = child.exitInfo === null ? checkConfinement(child, rec, o) : null;
    rec.wallS = run.wallS;
    rec.loadgenExit = { code: run.code, signal: run.signal };
    rec.stealPct = proc.stealPct(steal0, steal1, run.wallS);
    rec.result = proc.lastJson(run.stdout);
    // The server must have lived through the whole run; one that crashed late could still
    // leave the load generator with a clean record if every frame had already come back.
    const crashed = child.exitInfo !== null;
    const firstErr = run.stderr.split('\n').map((l) => l.trim()).find(Boolean) || '';
    if (run.timedOut) rec.reason = `load generator killed after ${o.seconds + o.warmup + LOAD_SLACK_S} s`;
    else if (run.error) rec.reason = `load generator did not run: ${run.error}`;
    else if (crashed) rec.reason = `server exited during the run (${child.exitInfo.signal || `status ${child.exitInfo.code}`})`;
    else if (run.code !== 0) {
      // The first described error says what went wrong; the JSON count says how often.
      const count = rec.result ? ` (${rec.result.errors} errors, ${rec.result.mismatches} mismatches, ${rec.result.closed} closed)` : '';
      rec.reason = `load generator exit ${run.code ?? run.signal}${count}${firstErr ? `: ${firstErr}` : ''}`;
    }
    else if (!rec.result) rec.reason = 'load generator printed no JSON result';
    else if (rec.result.errors || rec.result.mismatches || rec.result.closed) {
      rec.reason = `errors ${rec.result.errors}, mismatches ${rec.result.mismatches}, closed ${rec.result.closed}`;
    } else if (!(rec.result.msgs > 0)) rec.reason = 'no frames echoed';
    else if (loose) rec.reason = loose;
    else rec.valid = true;
    return rec;
  } catch (err) {
    rec.valid = false;
    rec.reason = `driver error: ${err.message}`;
    return rec;
  } finally {
    if (child) {
      const stop = await proc.stopChild(child, STOP_GRACE_MS);
      rec.serverExit = stop;
      if (stop.killed) process.stderr.write(`bench: ${server.name} ignored SIGTERM for ${STOP_GRACE_MS} ms; killed\n`);
    }
  }
}

function progressLine(i, total, rec) {
  const head = `[${String(i).padStart(String(total).length)}/${total}] ${rec.caseId} run ${rec.rep} ${rec.server}`;
  const steal = rec.stealPct === null ? '' : `, steal ${rec.stealPct.toFixed(1)}%`;
  if (!rec.valid) return `${head}: INVALID: ${rec.reason}${steal}`;
  const r = rec.result;
  return `${head}: ${report.fmtInt(r.msgs_per_s)} msgs/s, p50 ${report.fmtUs(r.p50_us)} µs, p99 ${report.fmtUs(r.p99_us)} µs${steal}`;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  preflight(o);
  const ticks = proc.clockTicks();
  const servers = o.serverList;
  const serversFor = (c) => servers.filter((s) => kindOf(s) === kindOf(c));
  const total = o.caseList.reduce((n, c) => n + o.runs * serversFor(c).length, 0);
  const perRun = o.seconds + o.warmup;
  process.stderr.write(
    `bench: ${o.caseList.length} cases × ${o.runs} runs × ${servers.length} servers = ${total} load runs ` +
      `of ${perRun} s (about ${Math.ceil((total * (perRun + 0.5)) / 60)} min); servers on CPU ${o.serverCpu}, ` +
      `load generator on CPU ${o.loadCpu}\n`
  );
  const started = new Date();
  const runs = [];
  let n = 0;
  for (const [ci, c] of o.caseList.entries()) {
    for (let rep = 1; rep <= o.runs; rep++) {
      // Rotating by case as well as by repetition means that even a single-run --quick
      // matrix does not always start with the same server.
      const mine = serversFor(c);
      if (mine.length === 0) continue;
      const k = (ci + rep - 1) % mine.length;
      const order = mine.slice(k).concat(mine.slice(0, k));
      for (const server of order) {
        const rec = await measure(c, server, rep, o);
        runs.push(rec);
        process.stderr.write(`${progressLine(++n, total, rec)}\n`);
      }
    }
  }

  const meta = {
    date: started.toISOString(),
    finished: new Date().toISOString(),
    commandLine: ['node', 'bench/run.js', ...process.argv.slice(2)].map(shellQuote).join(' '),
    machine: machineInfo(),
    clockTicks: ticks,
    options: {
      quick: o.quick, runs: o.runs, seconds: o.seconds, warmup: o.warmup, serverCpu: o.serverCpu,
      loadCpu: o.loadCpu, ioThreads: o.ioThreads,
      cases: o.caseList.map((c) => c.id), servers: servers.map((s) => s.name),
    },
    // The servers of the kinds that ran: a --cases udp run describes the UDP peers only.
    servers: servers.filter((s) => o.caseList.some((c) => kindOf(c) === kindOf(s))).map((s) => ({ name: s.name, display: s.display(o), about: s.about })),
    cases: o.caseList,
  };
  const echoCases = o.caseList.filter((c) => kindOf(c) === 'echo');
  const httpCases = o.caseList.filter((c) => kindOf(c) === 'http');
  const echoServers = servers.filter((s) => kindOf(s) === 'echo');
  const httpServers = servers.filter((s) => kindOf(s) === 'http');
  const udpCases = o.caseList.filter((c) => kindOf(c) === 'udp');
  const udpServers = servers.filter((s) => kindOf(s) === 'udp');
  const summary = report.summarize(runs, echoCases, echoServers);
  const httpSummary = report.summarize(runs, httpCases, httpServers);
  const udpSummary = udpCases.length && udpServers.length ? report.summarize(runs, udpCases, udpServers) : [];
  // The chart sits beside the report, same name with .svg, and the report links it.
  const out = path.resolve(process.cwd(), o.out);
  const svgPath = out.replace(/\.md$/, '') + '.svg';
  meta.chart = path.basename(svgPath);
  const httpSvgPath = out.replace(/\.md$/, '') + '-http.svg';
  if (httpCases.length && httpServers.length) meta.httpChart = path.basename(httpSvgPath);
  if (!echoCases.length || !echoServers.length) delete meta.chart;
  const md = report.renderMarkdown(meta, summary, runs, httpCases.length && httpServers.length ? httpSummary : [], udpSummary);
  process.stdout.write(md);
  if (o.write) {
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, md);
    const wrote = [displayPath(out)];
    if (meta.chart) {
      fs.writeFileSync(svgPath, chart.renderSvg(summary, echoServers.map((s) => s.name), `evwire framed echo, msgs/s (median, line = min–max), ${meta.date.slice(0, 10)}`));
      wrote.push(displayPath(svgPath));
    }
    if (meta.httpChart) {
      fs.writeFileSync(httpSvgPath, chart.renderSvg(httpSummary, httpServers.map((s) => s.name), `evwire HTTP, requests/s (median, line = min–max), ${meta.date.slice(0, 10)}`));
      wrote.push(displayPath(httpSvgPath));
    }
    process.stderr.write(`bench: wrote ${wrote.join(', ')}\n`);
  }
  if (o.json) {
    const out = path.resolve(process.cwd(), o.json);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, `${JSON.stringify({ meta, summary, runs }, null, 2)}\n`);
    process.stderr.write(`bench: wrote ${displayPath(out)}\n`);
  }
  // An invalid run of a peer (Node's per-frame server starving connections under a 256-deep
  // burst, say) is a result, reported as such; an invalid evwire run is a failure.
  const invalid = runs.filter((r) => !r.valid);
  if (invalid.length) {
    process.stderr.write(`bench: ${invalid.length} of ${runs.length} runs were invalid; see the report\n`);
    if (invalid.some((r) => String(r.server).startsWith('evwire'))) process.exitCode = 1;
  }
  // evwire as the client (links) against Node net as the client, the same server.
  if (o.client ?? (o.cases === null && o.servers === null)) {
    const args = [path.join(__dirname, 'client.js'), '--runs', String(Math.max(o.runs, 5)), '--server-cpu', String(o.serverCpu), '--load-cpu', String(o.loadCpu)];
    if (o.quick) args.push('--quick');
    if (!o.write) args.push('--no-write');
    const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', timeout: 60 * 60 * 1000 });
    if (r.status !== 0) {
      process.stderr.write(`bench: bench/client.js failed (${r.status ?? r.signal})\n`);
      process.exitCode = 1;
    }
  }
  // The cost of message encryption and TLS on a framed echo (bench/README.md).
  if (o.encryption ?? (o.cases === null && o.servers === null)) {
    const args = [path.join(__dirname, 'encryption.js'), '--runs', String(o.quick ? 1 : Math.max(o.runs, 5)), '--seconds', String(o.quick ? 1 : o.seconds), '--server-cpu', String(o.serverCpu), '--load-cpu', String(o.loadCpu)];
    if (!o.write) args.push('--out', path.join(os.tmpdir(), 'evwire-RESULTS-encryption.md'));
    const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', timeout: 60 * 60 * 1000 });
    if (r.status !== 0) {
      process.stderr.write(`bench: bench/encryption.js failed (${r.status ?? r.signal})
`);
      process.exitCode = 1;
    }
  }
  // Tasks between JS threads, with the same --quick / --runs / --no-write.
  if (o.tasks ?? (o.cases === null && o.servers === null)) {
    const args = [path.join(__dirname, 'tasks.js'), '--runs', String(o.runs), '--cpus', `${o.loadCpu},${o.serverCpu}`];
    if (o.quick) args.push('--quick');
    if (!o.write) args.push('--no-write');
    const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'inherit', timeout: 60 * 60 * 1000 });
    if (r.status !== 0) {
      process.stderr.write(`bench: bench/tasks.js failed (${r.status ?? r.signal})\n`);
      process.exitCode = 1;
    }
  }
}

proc.runMain('bench', main);
