// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { once } from 'events';
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import * as readline from 'readline';
import { ClosedError, Runtime, demo } from '../dist/index';
import { FrameReader, closed, connect, frame } from './helpers';

// The docs run: every code block of README.md and docs/*.md that claims to run is either a
// byte-identical copy of an examples/ program or a fragment that type-checks
// (scripts/check-docs.js), and every example program runs here, as a child process, and is
// talked to over loopback, then stopped by pid. The examples are compiled into dist-examples/
// (tsc -p tsconfig.examples.json, also part of `npm test`'s pretest).

const root = path.join(__dirname, '..');
const EXAMPLES = path.join(root, 'dist-examples');

interface DocsResult {
  problems: string[];
  fragments: number;
  includes: number;
  noCheck: number;
  written: { name: string; md: string; line: number }[];
}
interface DocsChecker {
  checkDocs(o?: { files?: string[]; read?: (rel: string) => string; compile?: boolean }): DocsResult;
  runFragments(root: string, fragments: DocsResult['written']): string[];
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const docs = require(path.join(root, 'scripts', 'check-docs.js')) as DocsChecker;

type Line = Record<string, unknown>;

/** An example running as a child process; its pino lines (stdout) are parsed as they come. */
class Example {
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  stderr = '';
  #waiters: { pred: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(name: string, env: Record<string, string> = {}) {
    const file = path.join(EXAMPLES, `${name}.mjs`);
    assert.ok(fs.existsSync(file), `${file} is missing: npm run build:examples`);
    this.child = spawn(process.execPath, [file], { cwd: root, env: { ...process.env, HOST: '127.0.0.1', PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = once(this.child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    readline.createInterface({ input: this.child.stdout! }).on('line', (text) => {
      let l: Line;
      try {
        l = JSON.parse(text) as Line;
      } catch {
        l = { msg: text };
      }
      this.lines.push(l);
      this.#waiters = this.#waiters.filter((w) => (w.pred(l) ? (w.resolve(l), false) : true));
    });
  }

  /** The first line (already printed or to come) that matches, within `ms`. */
  line(pred: (l: Line) => boolean, what: string, ms = 20000): Promise<Line> {
    const found = this.lines.find(pred);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; output: ${JSON.stringify(this.lines)} ${this.stderr}`)), ms);
      const w = { pred, resolve: (l: Line) => (clearTimeout(timer), resolve(l)) };
      this.#waiters.push(w);
      void this.exited.then(({ code }) => reject(new Error(`exited (${code}) before ${what}: ${this.stderr}`)));
    });
  }

  async port(key = 'port'): Promise<number> {
    const l = await this.line((x) => x.msg === 'listening', 'the listening line');
    return Number(l[key]);
  }

  /** SIGTERM by pid, and the exit status once it stopped by itself (SIGKILL after 10 s). */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) process.kill(this.child.pid!, 'SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
    const r = await this.exited;
    clearTimeout(timer);
    return r;
  }
}

/** One HTTP request; resolves with the status, headers and whole body. */
function request(port: number, method: string, p: string, body?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: p, agent: false, headers: body === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(20000, () => req.destroy(new Error(`${method} ${p}: no complete response in 20 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

describe('docs', function () {
  this.timeout(60_000);

  describe('code blocks (scripts/check-docs.js)', function () {
    it('every block that claims to run is a copy of an example or a fragment that compiles', () => {
      const r = docs.checkDocs();
      assert.deepEqual(r.problems, []);
      assert.ok(r.includes >= 6, `blocks copied from examples: ${r.includes}`);
      assert.ok(r.fragments >= 10, `fragments compiled: ${r.fragments}`);
      assert.ok(r.noCheck <= 3, `no-check blocks: ${r.noCheck} (keep them few)`);
    });

    it("README's fragments run, each in its own process against a real runtime, servers and connection; one that throws fails", function () {
      this.timeout(120_000);
      const r = docs.checkDocs();
      const readme = r.written.filter((f) => f.md === 'README.md');
      assert.ok(readme.length >= 5, `README fragments: ${readme.length}`);
      assert.deepEqual(docs.runFragments(root, r.written), []);
      // The same run fails for a fragment that throws: write() on the framed connection.
      const broken = readme[0];
      const file = path.join(root, 'build-docs', broken.name);
      fs.appendFileSync(file, "\nconn.write('raw bytes on a framed connection');\n");
      const problems = docs.runFragments(root, [broken]);
      assert.equal(problems.length, 1);
      assert.match(problems[0], new RegExp(`^README\\.md:${broken.line}: the block does not run`));
      assert.match(problems[0], /framing: 'frames'/);
    });

    it('fails on a block that drifted from its example, a fragment that does not compile, a dead link or path and an unknown npm script', () => {
      const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
      const workers = fs.readFileSync(path.join(root, 'docs', 'workers.md'), 'utf8');
      const drifted = readme.replace("res.end('Hello, World!')", "res.end('Hello, world')").replace('[docs/http.md](docs/http.md)', '[docs/operations.md](docs/operations.md)').replace('npm run build:native', 'npm run build:nativ');
      assert.notEqual(drifted, readme);
      // A fragment that passes an untyped payload's field where none exists (the README's old
      // mistake): the payload is unknown.
      const broken = workers.replace("worker.tasks.define<{ player: number }>('score', async ({ player }, ctx)", "worker.tasks.define('score', async ({ player }, ctx)");
      assert.notEqual(broken, workers);
      const r = docs.checkDocs({ files: ['README.md', 'docs/workers.md'], read: (rel) => (rel === 'README.md' ? drifted : rel === 'docs/workers.md' ? broken : fs.readFileSync(path.join(root, rel), 'utf8')) });
      const line = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;
      const http = /^README\.md:(\d+): the block differs from examples\/http-api\.mts#http at its line \d+:/;
      assert.ok(r.problems.some((p) => http.test(p)), r.problems.join('\n'));
      assert.ok(r.problems.includes(`README.md:${line(drifted, '[docs/operations.md]')}: link to docs/operations.md, which does not exist`), r.problems.join('\n'));
      assert.ok(r.problems.includes(`README.md:${line(drifted, '[docs/operations.md]')}: docs/operations.md is named but does not exist`), r.problems.join('\n'));
      assert.ok(r.problems.some((p) => /^README\.md:\d+: npm run build:nativ: no such script/.test(p)), r.problems.join('\n'));
      const at = line(broken, "worker.tasks.define('score'");
      assert.ok(r.problems.some((p) => p.startsWith(`docs/workers.md:${at}: error TS2345`)), r.problems.join('\n'));
      assert.equal(r.problems.length, 5, r.problems.join('\n'));
    });
  });

  describe('examples', function () {
    const running: Example[] = [];
    // Compiled here too, so that a run of this file alone never tests stale programs.
    before(() => {
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.examples.json')], { cwd: root, stdio: 'pipe' });
    });
    const sockets: net.Socket[] = [];
    const start = (name: string, env?: Record<string, string>): Example => {
      const e = new Example(name, env);
      running.push(e);
      return e;
    };

    afterEach(async () => {
      for (const s of sockets.splice(0)) s.destroy();
      // Each one closes its runtime on SIGTERM and exits by itself, with status 0.
      const stops = await Promise.all(running.splice(0).map(async (e) => [e.child.spawnargs[1], await e.stop(), e.stderr] as const));
      for (const [file, r, stderr] of stops) assert.deepEqual(r, { code: 0, signal: null }, `${path.basename(file)} did not stop cleanly: ${stderr}`);
    });

    it('echo-server echoes what echo-client sends', async () => {
      const server = start('echo-server');
      const port = await server.port();
      const client = start('echo-client', { PORT: String(port), COUNT: '20' });
      const { code } = await client.exited;
      assert.equal(code, 0, client.stderr);
      assert.ok(client.lines.some((l) => l.msg === '20 frames echoed'), JSON.stringify(client.lines));
    });

    it('typed-service answers Login and Move with typed replies', async () => {
      const ex = start('typed-service');
      const s = await connect(await ex.port());
      sockets.push(s);
      const r = new FrameReader(s);
      s.write(frame(1, demo.Login.encode({ user: 'ada', token: 'secret' }).finish(), 11));
      s.write(frame(1, demo.Login.encode({ user: 'bob', token: 'guess' }).finish(), 12));
      s.write(frame(3, demo.Move.encode({ player: 4, x: 3, y: -20 }).finish(), 13));
      s.write(frame(6, 'a frame nobody handles', 14));
      s.write(frame(3, demo.Move.encode({ player: 5, x: 1, y: 1 }).finish(), 15));
      const f = await r.waitFrames(4);
      assert.deepEqual(f.map((x) => [x.type, x.seq, x.flags]), [[2, 11, 2], [2, 12, 2], [4, 13, 2], [4, 15, 2]]);
      const ok = demo.LoginReply.decode(f[0].body);
      assert.equal(ok.ok, true);
      assert.equal(Number(ok.session), 1);
      assert.deepEqual(demo.LoginReply.toObject(demo.LoginReply.decode(f[1].body)), { error: 'bad credentials' });
      assert.deepEqual(demo.Moved.toObject(demo.Moved.decode(f[2].body)), { player: 4 });
      assert.deepEqual(demo.Moved.toObject(demo.Moved.decode(f[3].body)), { ok: true, player: 5 });
    });

    it('http-api serves its JSON routes and a streamed response that finishes, also past the high watermark', async () => {
      const ex = start('http-api');
      const port = await ex.port();
      assert.deepEqual(await request(port, 'GET', '/hello').then((r) => [r.status, r.body]), [200, 'Hello, World!']);
      const created = await request(port, 'POST', '/users/7', '{"name":"ada"}');
      assert.equal(created.status, 201);
      assert.match(String(created.headers['content-type']), /^application\/json/);
      assert.deepEqual(JSON.parse(created.body), { id: '7', body: { name: 'ada' } });
      const small = await request(port, 'GET', '/stream');
      assert.equal(small.headers['transfer-encoding'], 'chunked');
      assert.equal(small.body, 'part 1\npart 2\npart 3\npart 4\npart 5\ndone\n');
      // ~1.2 MB of parts: write() returns false on the way, and 'drain' resumes it.
      const n = 100_000;
      const big = await request(port, 'GET', `/stream?parts=${n}`);
      const parts = big.body.split('\n');
      assert.equal(parts.length, n + 2);
      assert.equal(parts[n - 1], `part ${n}`);
      assert.equal(parts[n], 'done');
      const missing = await request(port, 'GET', '/nope');
      assert.deepEqual([missing.status, JSON.parse(missing.body)], [404, { error: 'no route for GET /nope' }]);
    });

    it('work-threads: typed tasks, a buddy task by the connection id a work thread handed over, HTTP routes on the work threads', async () => {
      const ex = start('work-threads');
      const port = await ex.port();
      const httpPort = Number((await ex.line((l) => l.msg === 'listening', 'listening')).httpPort);
      const login = async (user: string) => {
        const s = await connect(port);
        sockets.push(s);
        const r = new FrameReader(s);
        s.write(frame(1, demo.Login.encode({ user, token: 't' }).finish(), 1));
        const [reply] = await r.waitFrames(1);
        assert.deepEqual([reply.type, reply.seq, reply.flags], [2, 1, 2]);
        return { s, r, session: Number(demo.LoginReply.decode(reply.body).session) };
      };
      const ada = await login('ada');
      const joined = await ex.line((l) => l.msg === 'joined' && l.user === 'ada', "ada's joined line");
      assert.equal(joined.connId, ada.session, 'the main thread got the id of the connection the work thread served');
      assert.ok([1, 2].includes(Number(joined.servedBy)), 'a work thread served it');
      assert.deepEqual([joined.total, joined.moved], [30, true], 'score (generic-typed) and move (protobuf-typed) ran on work threads');
      const intruder = await login('intruder');
      const kicked = await ex.line((l) => l.msg === 'kicked' && l.user === 'intruder', 'the kick');
      assert.equal(kicked.connId, intruder.session);
      assert.ok([1, 2].includes(Number(kicked.thread)));
      const [, chat] = await intruder.r.waitFrames(2);
      assert.equal(chat.type, 5);
      assert.equal(demo.Chat.decode(chat.body).text, 'not welcome');
      assert.equal((await closed(intruder.s)).hadError, false, 'the buddy task ended the connection on its owning thread');
      assert.equal(ada.s.destroyed, false, 'the other connection stays');
      const threads = new Set<number>();
      for (let i = 0; i < 12 && threads.size < 2; i++) {
        const who = await request(httpPort, 'GET', '/who');
        assert.equal(who.status, 200);
        threads.add((JSON.parse(who.body) as { thread: number }).thread);
      }
      assert.deepEqual([...threads].sort(), [1, 2], 'both work threads answer HTTP with the routes they registered');
      assert.ok(!ex.lines.some((l) => /never used/.test(String(l.msg))), 'no route was registered on the main thread');
    });

    it("protection: a connection over its window is kicked, an address over its rate is banned", async () => {
      const ex = start('protection');
      const port = await ex.port();
      const flood = await connect(port);
      sockets.push(flood);
      flood.on('error', () => {});
      flood.resume(); // read the echoes, and so the FIN
      flood.write(Buffer.concat(Array.from({ length: 25 }, (_, i) => frame(1, 'x', i + 1))));
      await closed(flood);
      const kicked = await ex.line((l) => l.msg === 'kicked', 'the kicked line');
      assert.deepEqual([kicked.what, kicked.limit], ['messages', 20]);
      await ex.line((l) => l.msg === 'closed' && l.code === 'EW_EFLOOD', 'the close with EW_EFLOOD');
      // 3 connections x 19 messages from 127.0.0.2: within each window, above 50 a second.
      const socks = await Promise.all([0, 1, 2].map(() => connect(port, '127.0.0.1', '127.0.0.2')));
      for (const s of socks) {
        sockets.push(s);
        s.on('error', () => {});
        s.resume();
        s.write(Buffer.concat(Array.from({ length: 19 }, (_, i) => frame(1, 'y', i + 1))));
      }
      const ban = await ex.line((l) => l.msg === 'banned', 'the ban line');
      assert.deepEqual([ban.address, ban.reason, ban.ms], ['127.0.0.2', 'messages', 30000]);
      await Promise.all(socks.map((s) => closed(s)));
      const again = await connect(port, '127.0.0.1', '127.0.0.2');
      sockets.push(again);
      again.on('error', () => {});
      again.resume();
      await closed(again); // refused at accept while banned
    });
  });

  describe('what the docs say', function () {
    it('listen() on a closed runtime rejects with ClosedError EW_ESHUTDOWN (docs/errors.md)', async () => {
      const rt = await Runtime.start({ logger: { level: 'silent' } });
      await rt.close();
      await assert.rejects(rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 }), (e: unknown) => e instanceof ClosedError && e.code === 'EW_ESHUTDOWN');
      const row = fs.readFileSync(path.join(root, 'docs', 'errors.md'), 'utf8').split('\n').find((l) => l.startsWith('| `EW_ESHUTDOWN`'));
      assert.match(row ?? '', /`rt\.listen\(\)` on a closing or closed runtime/);
    });
  });
});
