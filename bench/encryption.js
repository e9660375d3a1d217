// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// The cost of message encryption and of TLS on a framed echo: the evwire echo server
// (bench/peers/evwire-echo.js) plaintext, with each cipher, and over TLS, driven by the same
// load of evwire links (bench/peers/sealed-client.js, which seals and verifies every frame as a
// real client does). Server on one CPU, load on another (taskset), runs interleaved.
//   node bench/encryption.js [--runs 5] [--seconds 3] [--sizes 64,4096] [--conns 16] [--depth 16]
//        [--server-cpu 1] [--load-cpu 0] [--out bench/RESULTS-encryption.md]
// Prints a Markdown table (median req/s, min–max, and the ratio to plaintext) and writes it.
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const runs = Number(opt('runs', '5'));
const seconds = Number(opt('seconds', '3'));
const sizes = opt('sizes', '64,4096').split(',').map(Number);
const conns = opt('conns', '16');
const depth = opt('depth', '16');
const serverCpu = opt('server-cpu', '1');
const loadCpu = opt('load-cpu', '0');
const out = opt('out', path.join('bench', 'RESULTS-encryption.md'));
const TLS_DIR = path.join('test', 'fixtures', 'tls');
const MODES = [
  { name: 'plaintext', server: [], client: [] },
  { name: 'aes-256-gcm', server: ['--encryption', 'aes-256-gcm'], client: ['--encryption', 'aes-256-gcm'] },
  { name: 'chacha20-poly1305', server: ['--encryption', 'chacha20-poly1305'], client: ['--encryption', 'chacha20-poly1305'] },
  { name: 'aes-256-cbc-hmac-sha256 (legacy)', server: ['--encryption', 'aes-256-cbc-hmac-sha256'], client: ['--encryption', 'aes-256-cbc-hmac-sha256'] },
  { name: 'TLS 1.3', server: ['--tls', TLS_DIR], client: ['--tls', TLS_DIR] },
];

function startServer(mode) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', serverCpu, process.execPath, path.join('bench', 'peers', 'evwire-echo.js'), '--port', '0', '--io-threads', '1', ...mode.server], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    const timer = setTimeout(() => reject(new Error('server did not start within 10 s')), 10000);
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /listening \S+ (\d+)/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
}

async function one(mode, size) {
  const { child, port } = await startServer(mode);
  try {
    const res = execFileSync('taskset', ['-c', loadCpu, process.execPath, path.join('bench', 'peers', 'sealed-client.js'), '--port', String(port), '--conns', conns, '--depth', depth, '--size', String(size), '--seconds', String(seconds), ...mode.client], { cwd: ROOT, timeout: (seconds + 30) * 1000 });
    const j = JSON.parse(res.toString().trim().split('\n').pop());
    if (j.mismatches) throw new Error(`${j.mismatches} echoed bodies differ`);
    return j.msgs_per_s;
  } finally {
    child.kill('SIGTERM');
  }
}

async function main() {
  const results = {};
  for (let r = 0; r < runs; r++) {
    for (const size of sizes) {
      for (const mode of MODES) {
        const key = `${size}|${mode.name}`;
        (results[key] ??= []).push(await one(mode, size));
        process.stderr.write(`run ${r + 1}/${runs} ${size} B ${mode.name}: ${Math.round(results[key].at(-1))} msgs/s\n`);
      }
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  let md = `# Message encryption and TLS: cost on a framed echo\n\n${new Date().toISOString().slice(0, 10)}; ${runs} interleaved runs of ${seconds} s, ${conns} links × ${depth} frames in flight; server (evwire-echo, one IO thread) on CPU ${serverCpu}, load (evwire links: bench/peers/sealed-client.js) on CPU ${loadCpu}.\n\nCommand: \`node bench/encryption.js ${args.join(' ')}\`\n\n`;
  md += '| body | mode | msgs/s (median) | min–max | vs plaintext |\n| ---: | --- | ---: | ---: | ---: |\n';
  for (const size of sizes) {
    const base = median(results[`${size}|plaintext`]);
    for (const mode of MODES) {
      const a = results[`${size}|${mode.name}`];
      md += `| ${size} B | ${mode.name} | ${fmt(median(a))} | ${fmt(Math.min(...a))}–${fmt(Math.max(...a))} | ${(median(a) / base).toFixed(2)}× |\n`;
    }
  }
  md += '\nThe load generator seals and opens every frame too, on its own CPU: where it is the bottleneck, the ratio shows the cost on both sides, not the server\'s alone. `build-c/ew_crypt_bench` gives the record layer\'s own cost per frame.\n';
  process.stdout.write(md);
  fs.writeFileSync(path.resolve(ROOT, out), md);
}
main().catch((err) => {
  console.error(err);
  process.exit(1);
});
