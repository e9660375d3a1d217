#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Turns `perf script` output (or already folded stacks) into folded stacks and an SVG flame
// graph, the picture Brendan Gregg's stackcollapse-perf.pl + flamegraph.pl draw.
//   node scripts/profile/flamegraph.js --in perf.script --folded out.folded --svg out.svg
//        [--title T] [--folded-in] [--no-comm] [--width PX]
// --folded-in reads "frame;frame;frame count" lines (google-pprof --collapsed writes them)
// instead of perf script text (best from `perf script -F comm,pid,tid,ip,sym,dso`). Frames run
// root first; the root of each perf stack is the thread ("node main thread", "node thread
// 1234") unless --no-comm.
//
// Why a script of our own: Debian 12 packages no flame graph tool, only the npm registry is
// reachable here, and what npm offers either pulls a tree of 2014-era stream packages
// (flamegraph), a whole object-store client (stackvis), a browserify/d3 toolchain that
// profiles through V8's tick log instead of perf (0x), or is an interactive viewer rather than
// a file (speedscope). Folding and drawing rectangles is a hundred lines with no dependency.
const fs = require('fs');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const flag = (name) => args.includes(`--${name}`);
const input = opt('in');
if (!input || (!opt('folded') && !opt('svg'))) {
  console.error('usage: flamegraph.js --in FILE [--folded-in] [--folded OUT] [--svg OUT] [--title T] [--no-comm] [--width PX]');
  process.exit(2);
}

// perf prints "addr symbol+0xoff (dso)" per frame; the offset makes every sample of one
// function a different frame, so it goes. Frames perf cannot name keep their object's name,
// which is what tells a stripped library from JIT code without a map.
function frameName(line) {
  const m = /^\s*[0-9a-f]+\s+(.*?)\s+\(([^)]*)\)\s*$/.exec(line);
  if (!m) return line.trim();
  let sym = m[1].replace(/\+0x[0-9a-f]+$/, '');
  const dso = m[2];
  if (sym === '[unknown]') sym = `[${dso.split('/').pop()}]`;
  if (dso === '[kernel.kallsyms]' && !sym.endsWith('_[k]')) sym += '_[k]';
  return sym;
}

function foldPerf(text) {
  const counts = new Map();
  for (const block of text.split(/\n\s*\n/)) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    if (lines.length === 0) continue;
    // The header: "comm pid/tid ..." (perf script -F comm,pid,tid,...) or "comm tid ...";
    // comm may contain spaces. Node's threads are all called "node", so the root says which
    // one it was: the main thread (tid = pid, where JavaScript runs) or another by its tid.
    const head = /^(.*?)\s+(\d+)(?:\/(\d+))?(?:\s|$)/.exec(lines[0]);
    let comm = lines[0].trim();
    if (head) {
      const [, name, pid, tid] = head;
      comm = tid === undefined ? `${name.trim()} ${pid}` : tid === pid ? `${name.trim()} main thread` : `${name.trim()} thread ${tid}`;
    }
    const frames = lines.slice(1).map(frameName).reverse();
    if (!flag('no-comm')) frames.unshift(comm);
    if (frames.length === 0) continue;
    const key = frames.join(';');
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  return counts;
}

function readFolded(text) {
  const counts = new Map();
  for (const line of text.split('\n')) {
    const m = /^(.*)\s+(\d+)$/.exec(line.trim());
    if (!m) continue;
    // google-pprof appends each function's address ("uv_run<00000000018ac720>"); the name
    // alone is what a reader looks for, and frames that differ only there merge.
    const key = m[1].replace(/<[0-9a-f]{8,}>/g, '');
    counts.set(key, (counts.get(key) || 0) + Number(m[2]));
  }
  return counts;
}

const text = fs.readFileSync(input, 'utf8');
const counts = flag('folded-in') ? readFolded(text) : foldPerf(text);
if (counts.size === 0) {
  console.error(`flamegraph: no stacks in ${input}`);
  process.exit(1);
}

if (opt('folded')) {
  const lines = [...counts].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => `${k} ${v}`);
  fs.writeFileSync(opt('folded'), lines.join('\n') + '\n');
}

// A tree of frames. Children are drawn in alphabetical order, as flamegraph.pl does, so that
// the same profile always draws the same picture (x position is not time).
const root = { name: 'all', value: 0, children: new Map() };
for (const [stack, n] of counts) {
  root.value += n;
  let node = root;
  for (const f of stack.split(';')) {
    let c = node.children.get(f);
    if (!c) node.children.set(f, (c = { name: f, value: 0, children: new Map() }));
    c.value += n;
    node = c;
  }
}

const WIDTH = Number(opt('width', '1200'));
const PAD = 10;
const FRAME_H = 16;
const FONT = 11;
const CHAR_W = FONT * 0.59;
const title = opt('title', 'Flame graph');
let depth = 0;
(function measure(n, d) {
  depth = Math.max(depth, d);
  for (const c of n.children.values()) measure(c, d + 1);
})(root, 0);
const HEIGHT = (depth + 1) * FRAME_H + 60;
const scale = (WIDTH - 2 * PAD) / root.value;

const esc = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
// Colours say what kind of code a frame is: kernel orange, JavaScript (V8's perf map names
// start with "JS:" or carry a file:line) green, V8's builtins and interpreter aqua, the rest of
// native code (C, C++, libc) red; the hash varies the shade per name so that neighbours stay
// distinguishable.
function colour(name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  const v = (h % 1000) / 1000;
  const rgb = (r, g, b) => `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
  if (name.endsWith('_[k]')) return rgb(235 + 20 * v, 150 + 40 * v, 40 + 20 * v);
  if (/^(JS:|LazyCompile:|Function:)|\.js:\d+/.test(name)) return rgb(60 + 50 * v, 180 + 50 * v, 60 + 30 * v);
  if (/^(Builtins_|Builtin:|v8::|Stub:|BytecodeHandler:)/.test(name)) return rgb(70 + 40 * v, 190 + 40 * v, 200 + 40 * v);
  return rgb(200 + 55 * v, 50 + 70 * v, 50 + 30 * v);
}

const out = [];
out.push(`<?xml version="1.0" standalone="no"?>`);
out.push(`<svg version="1.1" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" xmlns="http://www.w3.org/2000/svg" font-family="Verdana, sans-serif" font-size="${FONT}">`);
out.push(`<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#f8f8f0"/>`);
out.push(`<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="16">${esc(title)}</text>`);
out.push(`<text x="${PAD}" y="${HEIGHT - 10}" fill="#555">${root.value} samples; hover a frame for its name and share. Callees above callers. Red: native code, orange: kernel, green: JavaScript, aqua: V8 builtins.</text>`);
(function draw(n, x, d) {
  const w = n.value * scale;
  if (w < 0.1) return;
  const y = HEIGHT - 40 - (d + 1) * FRAME_H;
  const pct = ((100 * n.value) / root.value).toFixed(2);
  out.push(`<g><title>${esc(n.name)} (${n.value} samples, ${pct}%)</title>`);
  out.push(`<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${FRAME_H - 1}" rx="2" fill="${colour(n.name)}"/>`);
  const fit = Math.floor((w - 6) / CHAR_W);
  if (fit >= 3) {
    const label = n.name.length <= fit ? n.name : n.name.slice(0, fit - 2) + '..';
    out.push(`<text x="${(x + 3).toFixed(2)}" y="${y + FRAME_H - 4}">${esc(label)}</text>`);
  }
  out.push('</g>');
  let cx = x;
  for (const c of [...n.children.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    draw(c, cx, d + 1);
    cx += c.value * scale;
  }
})(root, PAD, 0);
out.push('</svg>');
if (opt('svg')) fs.writeFileSync(opt('svg'), out.join('\n') + '\n');
console.error(`flamegraph: ${root.value} samples, ${counts.size} distinct stacks, depth ${depth}`);
