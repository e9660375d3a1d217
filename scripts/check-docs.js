// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// `node scripts/check-docs.js` (run by test/docs.test.ts under `npm test`): every code block in
// README.md and docs/*.md that claims to run is checked, so the docs cannot drift from the code.
//
// - A block right after `<!-- example: examples/<file>.mts -->` (or `...mts#<region>`, the lines
//   between `// #region <region>` and `// #endregion <region>` in that file) must be
//   byte-identical to the file or region. The examples themselves are runnable programs that
//   test/docs.test.ts runs and talks to.
// - Every other ```ts block is a fragment: it is written to build-docs/ as an ES module, with
//   one import line in front (the evwire exports it uses and does not import itself), and
//   type-checked together with the examples by tsc in strict mode, against globals that
//   build-docs/prelude.d.mts declares for the variables fragments use without defining (`rt`,
//   `server`, `conn`, ... see PRELUDE). A fragment that defines one of them shadows it.
// - README fragments are also run (`--run`, and test/docs.test.ts): each in its own Node process,
//   after RUN_PRELUDE has made those globals real (a runtime, a framed and an HTTP server on
//   loopback, a connection accepted from a real client); the process must exit 0 within 20 s.
//   The docs/*.md fragments mix main-thread and work-thread code and are type-checked only.
// - A ```ts no-check block is illustrative only and not compiled; keep them few.
// - `npm run <script>` in ```sh blocks must name a script of package.json; relative Markdown
//   links, and repository paths named in the text (docs/..., examples/..., scripts/...), must
//   point at files that exist.
// Problems are reported as <file>:<line>; the exit status is 1 if there is any. `--fix` first
// copies each example (or region) into the block after its marker.
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
const OUT = 'build-docs';

/** Variables doc fragments may use without defining them, as global declarations. */
const PRELUDE = `import type { Connection, HttpServer, Logger, Runtime, Server } from 'evwire';
declare global {
  const rt: Runtime;
  const server: Server;
  const http: HttpServer;
  const conn: Connection;
  /** conn.id of a connection, as handed from the thread that saw it. */
  const connId: number;
  const type: number;
  const body: Buffer;
  const seq: number;
  const flags: number;
  const log: Logger;
  const denylist: { has(address: string): Promise<boolean> };
}
export {};
`;

/** What README fragments run against: the globals of PRELUDE, made real. */
const RUN_PRELUDE = `import { Runtime } from 'evwire';
import net from 'node:net';
const rt = await Runtime.start({ logger: { level: 'silent' } });
const server = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
const http = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
const accepted = new Promise((resolve) => server.once('connection', resolve));
const client = net.connect(server.address().port, '127.0.0.1');
client.on('error', () => {});
client.resume();
const conn = await accepted;
Object.assign(globalThis, { rt, server, http, conn, connId: conn.id, type: 1, body: Buffer.from('hello'), seq: 1, flags: 0, log: rt.logger, denylist: { has: async () => false } });
export async function done() {
  client.destroy();
  await rt.close({ drainTimeoutMs: 0 });
}
`;

/** Runs the README fragments written by checkDocs(); returns problems as <file>:<line>. */
function runFragments(root = ROOT, fragments) {
  const ts = require(require.resolve('typescript', { paths: [root] }));
  const dir = path.join(root, OUT, 'run');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'prelude.mjs'), RUN_PRELUDE);
  const problems = [];
  for (const f of fragments.filter((x) => x.md === 'README.md')) {
    const src = fs.readFileSync(path.join(root, OUT, f.name), 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    const base = f.name.replace(/\.mts$/, '');
    fs.writeFileSync(path.join(dir, `${base}.mjs`), js);
    fs.writeFileSync(
      path.join(dir, `${base}.run.mjs`),
      `import { done } from './prelude.mjs';\ntry {\n  await import('./${base}.mjs');\n} finally {\n  await done();\n}\n// A fragment may leave handles (a runtime of its own, signal handlers): the run is over.\nprocess.exit(0);\n`,
    );
    const r = require('child_process').spawnSync(process.execPath, [path.join(dir, `${base}.run.mjs`)], { cwd: root, encoding: 'utf8', timeout: 20000 });
    if (r.status !== 0) {
      const why = r.error ? r.error.message : (r.stderr || r.stdout).trim().split('\n').slice(0, 6).join('\n  ');
      problems.push(`${f.md}:${f.line}: the block does not run (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n  ${why}`);
    }
  }
  return problems;
}

/** The Markdown files whose blocks are checked. */
function docFiles(root = ROOT) {
  const docs = fs.existsSync(path.join(root, 'docs')) ? fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`) : [];
  return ['README.md', ...docs].filter((f) => fs.existsSync(path.join(root, f)));
}

/**
 * The fenced code blocks of a Markdown text: { lang, info, line (of the opening fence, 1-based),
 * text (the lines between the fences, each ending in \n), marker ({ file, region } from an
 * `<!-- example: ... -->` comment on the last non-blank line before the fence, or null) }.
 */
function codeBlocks(md) {
  const lines = md.split('\n');
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([^`]*)$/.exec(lines[i]);
    if (open === null) continue;
    const fence = open[1];
    const info = open[2].trim();
    let j = i + 1;
    while (j < lines.length && !(lines[j].startsWith(fence) && lines[j].slice(fence.length).trim() === '')) j++;
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const m = k >= 0 ? /^<!--\s*example:\s*([^\s#]+)(?:#([\w-]+))?\s*-->$/.exec(lines[k].trim()) : null;
    out.push({
      lang: info.split(/\s+/)[0] ?? '',
      info,
      line: i + 1,
      text: lines.slice(i + 1, j).map((l) => `${l}\n`).join(''),
      marker: m === null ? null : { file: m[1], region: m[2] ?? null },
    });
    i = j;
  }
  return out;
}

/** The text of a whole file, or of its region `name` (the lines between `// #region name` and
 * `// #endregion name`, markers excluded); null if there is no such region. */
function regionText(src, name) {
  if (name === null) return src;
  const lines = src.split('\n');
  const a = lines.findIndex((l) => l.trim() === `// #region ${name}`);
  const b = lines.findIndex((l, i) => i > a && l.trim() === `// #endregion ${name}`);
  if (a < 0 || b < 0) return null;
  return lines.slice(a + 1, b).map((l) => `${l}\n`).join('');
}

/** The names lib/index.ts exports (values and types). */
function exportedNames(root = ROOT) {
  const src = fs.readFileSync(path.join(root, 'lib', 'index.ts'), 'utf8');
  const names = new Set();
  for (const m of src.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of m[1].split(',')) {
      const n = part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop();
      if (n) names.add(n);
    }
  }
  return [...names];
}

/** The import line put in front of a fragment: what it uses from evwire and neither imports
 * nor defines itself. */
function importLine(fragment, names) {
  const imported = new Set();
  for (const m of fragment.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'evwire'/g)) {
    for (const part of m[1].split(',')) imported.add(part.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop());
  }
  const need = names.filter((n) => !imported.has(n) && new RegExp(`\\b${n}\\b`).test(fragment) && !new RegExp(`\\b(const|let|var|function|class)\\s+${n}\\b`).test(fragment));
  return need.length ? `import { ${need.join(', ')} } from 'evwire';` : '';
}

/**
 * Checks the blocks of `files` (Markdown paths relative to root): example markers, fragments,
 * npm scripts and links. `read(rel)` reads a file (tests substitute broken copies). Returns
 * { problems: string[], fragments, includes, noCheck }; with compile: false, fragments are
 * written but not compiled.
 */
function checkDocs({ root = ROOT, files = docFiles(root), read = (rel) => fs.readFileSync(path.join(root, rel), 'utf8'), compile = true } = {}) {
  const problems = [];
  const scripts = JSON.parse(read('package.json')).scripts ?? {};
  const names = exportedNames(root);
  const outDir = path.join(root, OUT);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const fragments = [];
  let includes = 0;
  let noCheck = 0;
  for (const md of files) {
    const text = read(md);
    for (const link of text.matchAll(/\]\(([^)\s#]+)(?:#[^)]*)?\)/g)) {
      const target = link[1];
      if (/^[a-z]+:/i.test(target)) continue;
      if (!fs.existsSync(path.resolve(root, path.dirname(md), target))) {
        problems.push(`${md}:${text.slice(0, link.index).split('\n').length}: link to ${target}, which does not exist`);
      }
    }
    // Paths named in the text ("see docs/operations") must exist too, with or without .md;
    // generated output (bench/out, lib/gen) is not in a fresh clone and is skipped.
    for (const m of text.matchAll(/(?<![\w/.-])((?:docs|examples|scripts|bench|test|lib|native|proto)\/[\w./-]*\w)/g)) {
      const p = m[1];
      if (/^(bench\/out|lib\/gen)(\/|$)/.test(p)) continue;
      if (!fs.existsSync(path.join(root, p)) && !fs.existsSync(path.join(root, `${p}.md`))) {
        problems.push(`${md}:${text.slice(0, m.index).split('\n').length}: ${p} is named but does not exist`);
      }
    }
    for (const b of codeBlocks(text)) {
      const where = `${md}:${b.line}`;
      if (b.marker !== null) {
        includes++;
        const file = path.join(root, b.marker.file);
        if (!fs.existsSync(file)) {
          problems.push(`${where}: the example ${b.marker.file} does not exist`);
          continue;
        }
        const want = regionText(read(b.marker.file), b.marker.region);
        if (want === null) problems.push(`${where}: ${b.marker.file} has no region ${b.marker.region}`);
        else if (want !== b.text) {
          const got = b.text.split('\n');
          const exp = want.split('\n');
          const at = got.findIndex((l, i) => l !== exp[i]);
          problems.push(`${where}: the block differs from ${b.marker.file}${b.marker.region ? `#${b.marker.region}` : ''} at its line ${at + 1}:\n  doc:     ${JSON.stringify(got[at])}\n  example: ${JSON.stringify(exp[at])}\n  (the example is what runs: 'node scripts/check-docs.js --fix' copies it into the block)`);
        }
        continue;
      }
      if (b.lang === 'sh') {
        for (const m of b.text.matchAll(/npm run ([\w:.-]+)/g)) if (scripts[m[1]] === undefined) problems.push(`${where}: npm run ${m[1]}: no such script in package.json`);
        continue;
      }
      if (b.lang !== 'ts' && b.lang !== 'typescript') continue;
      if (/\bno-check\b/.test(b.info)) {
        noCheck++;
        continue;
      }
      const name = `${md.replace(/\.md$/, '').replace(/[^\w]/g, '_')}_L${b.line}.mts`;
      // One line in front, so fragment line n is Markdown line b.line + n.
      fs.writeFileSync(path.join(outDir, name), `${importLine(b.text, names)}\n${b.text}export {};\n`);
      fragments.push({ name, md, line: b.line });
    }
  }
  fs.writeFileSync(path.join(outDir, 'prelude.d.mts'), PRELUDE);
  fs.writeFileSync(
    path.join(outDir, 'tsconfig.json'),
    JSON.stringify(
      {
        compilerOptions: { target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', lib: ['ES2022'], types: ['node'], strict: true, noEmit: true, skipLibCheck: true },
        include: ['*.mts', '../examples/**/*.mts'],
      },
      null,
      2,
    ),
  );
  if (compile && fragments.length > 0) {
    try {
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [root] }), '-p', path.join(outDir, 'tsconfig.json'), '--pretty', 'false'], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      const out = `${err.stdout ?? ''}${err.stderr ?? ''}`;
      const byName = new Map(fragments.map((f) => [f.name, f]));
      for (const l of out.split('\n').filter(Boolean)) {
        if (/^\s/.test(l) && problems.length > 0) {
          problems[problems.length - 1] += `\n${l}`;
          continue;
        }
        const m = /^(?:.*\/)?([^/(]+\.mts)\((\d+),(\d+)\): (.*)$/.exec(l);
        const f = m && byName.get(m[1]);
        if (f) problems.push(`${f.md}:${f.line + Number(m[2]) - 1}: ${m[4]}`);
        else problems.push(l);
      }
      if (problems.length === 0) problems.push(`tsc failed: ${out || err.message}`);
    }
  }
  return { problems: [...new Set(problems)], fragments: fragments.length, includes, noCheck, written: fragments };
}

/** `--fix`: rewrites every block that follows an example marker with the example's text. */
function syncIncludes(root = ROOT, files = docFiles(root)) {
  for (const md of files) {
    const lines = fs.readFileSync(path.join(root, md), 'utf8').split('\n');
    // Bottom-up, so the line numbers of the blocks above stay valid.
    for (const b of codeBlocks(lines.join('\n')).reverse()) {
      if (b.marker === null || !fs.existsSync(path.join(root, b.marker.file))) continue;
      const want = regionText(fs.readFileSync(path.join(root, b.marker.file), 'utf8'), b.marker.region);
      if (want === null) continue;
      const n = b.text === '' ? 0 : b.text.split('\n').length - 1;
      lines.splice(b.line, n, ...want.split('\n').slice(0, -1));
    }
    fs.writeFileSync(path.join(root, md), lines.join('\n'));
  }
}

module.exports = { checkDocs, runFragments, syncIncludes, codeBlocks, regionText, importLine, exportedNames, docFiles, PRELUDE, RUN_PRELUDE };

if (require.main === module) {
  if (process.argv.includes('--fix')) syncIncludes();
  const r = checkDocs();
  const ran = r.problems.length === 0 ? runFragments(ROOT, r.written) : [];
  r.problems.push(...ran);
  if (r.problems.length > 0) {
    console.error(r.problems.join('\n'));
    console.error(`check-docs: ${r.problems.length} problem(s)`);
    process.exit(1);
  }
  const readme = r.written.filter((f) => f.md === 'README.md').length;
  console.log(`check-docs: ${r.includes} blocks match their examples, ${r.fragments} fragments compile (the ${readme} of README.md also run), ${r.noCheck} marked no-check`);
}
