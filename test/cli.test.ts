// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// `evwire` on the command line: node dist/cli.js in child processes. Help and usage errors, the
// demo server (JSON logs off a terminal, the bound port in a parseable line), the client against
// it, and the client's failures (timeout, refused, closed) against plain `net` servers.
// Every child is killed in afterEach; every wait has a bound.
import * as assert from 'assert';
import * as net from 'net';
import * as fs from 'fs';
import * as path from 'path';
import { spawn, type ChildProcess } from 'child_process';
import { once } from 'events';

const CLI = path.join(__dirname, '..', 'dist', 'cli.js');
const VERSION = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
const WAIT_MS = 30_000;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Without EVWIRE_* from the environment running the tests.
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EVWIRE_')) e[k] = v;
  return { ...e, ...extra };
}

describe('cli', function () {
  const children: ChildProcess[] = [];
  const servers: net.Server[] = [];

  function start(args: string[], extraEnv: Record<string, string> = {}): ChildProcess & { out: string; err: string } {
    const child = spawn(process.execPath, [CLI, ...args], { env: env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { out: string; err: string };
    child.out = '';
    child.err = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (child.out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (child.err += d));
    children.push(child);
    return child;
  }

  /** Runs the CLI to its end (at most WAIT_MS). */
  async function run(args: string[], extraEnv: Record<string, string> = {}): Promise<Result> {
    const child = start(args, extraEnv);
    const code = await bounded(
      new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c))),
      `evwire ${args.join(' ')} did not exit`,
    );
    return { code, stdout: child.out, stderr: child.err };
  }

  function bounded<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
    let timer: NodeJS.Timeout;
    const t = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms)));
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
  }

  /** Resolves with the first JSON line on the child's stdout that `pred` accepts. */
  function jsonLine(child: ChildProcess & { out: string; err: string }, pred: (o: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const find = () => {
      for (const l of child.out.split('\n')) {
        if (!l.startsWith('{')) continue;
        const o = JSON.parse(l) as Record<string, unknown>;
        if (pred(o)) return o;
      }
      return undefined;
    };
    return bounded(
      new Promise((resolve, reject) => {
        const check = () => {
          const o = find();
          if (o !== undefined) {
            child.stdout!.off('data', check);
            resolve(o);
          }
        };
        child.stdout!.on('data', check);
        child.once('close', (c) => reject(new Error(`exited with ${c} before the line; stderr: ${child.err}`)));
        check();
      }),
      'no such log line',
    );
  }

  async function netServer(onConnection: (s: net.Socket) => void): Promise<number> {
    const server = net.createServer(onConnection);
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as net.AddressInfo).port;
  }

  afterEach(async () => {
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) {
        process.kill(c.pid!, 'SIGKILL');
        await bounded(once(c, 'close'), 'a killed child did not close');
      }
    }
    for (const s of servers.splice(0)) {
      s.close();
      (s as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    }
  });

  function assertNoStack(s: string): void {
    assert.doesNotMatch(s, /^\s+at /m, `stack trace in: ${s}`);
  }

  describe('help', () => {
    for (const [args, title] of [
      [['--help'], 'Usage: evwire <command>'],
      [['-h'], 'Usage: evwire <command>'],
      [['help'], 'Usage: evwire <command>'],
      [['help', 'client'], 'Usage: evwire client'],
      [['demo', '--help'], 'Usage: evwire demo'],
      [['demo', '-h'], 'Usage: evwire demo'],
      [['client', '--help'], 'Usage: evwire client'],
      [['client', '-h'], 'Usage: evwire client'],
    ] as [string[], string][]) {
      it(`evwire ${args.join(' ')} prints usage and exits 0`, async () => {
        const r = await run(args);
        assert.strictEqual(r.code, 0, r.stderr);
        assert.ok(r.stdout.startsWith(title), r.stdout);
        assert.strictEqual(r.stderr, '');
      });
    }

    it('no command: usage on stderr, exit code 2', async () => {
      const r = await run([]);
      assert.strictEqual(r.code, 2);
      assert.match(r.stderr, /^Usage: evwire <command>/);
    });

    it('--version prints the package version', async () => {
      const r = await run(['--version']);
      assert.strictEqual(r.code, 0);
      assert.strictEqual(r.stdout.trim(), VERSION);
    });
  });

  describe('usage errors: exit code 2, one line naming the value, no stack', () => {
    const cases: { args: string[]; env?: Record<string, string>; says: string[] }[] = [
      { args: ['demo', '--port', 'abc'], says: ['--port: "abc" is not a port (0..65535)'] },
      { args: ['demo', '--port=70000'], says: ['"70000"'] },
      { args: ['demo'], env: { EVWIRE_PORT: 'abc' }, says: ['EVWIRE_PORT: "abc"'] },
      { args: ['demo', '--io-threads', '0'], says: ['--io-threads: "0"'] },
      { args: ['demo', '--affinity', 'x,y'], says: ['"x,y"'] },
      { args: ['demo', '--log-level', 'loud'], says: ['"loud"'] },
      { args: ['demo', '--nope'], says: ['unknown option --nope'] },
      { args: ['demo', '--port'], says: ['--port needs a value'] },
      { args: ['bogus'], says: ['unknown command "bogus"'] },
      { args: ['help', 'bogus'], says: ['"bogus"'] },
      { args: ['client'], says: ['no FRAME'] },
      { args: ['client', '--timeout', 'soon', 'Ping'], says: ['--timeout: "soon"'] },
      { args: ['client', '--port', '0', 'Ping'], says: ['--port: "0"'] },
      { args: ['client', 'Ping'], env: { EVWIRE_PORT: '0' }, says: ['EVWIRE_PORT: "0"'] },
      { args: ['client', 'Nope'], says: ['"Nope"', 'Chat=5'] },
      { args: ['client', '0=x'], says: ['type 0'] },
      { args: ['client', 'Chat={oops'], says: ['Chat', 'not JSON'] },
      { args: ['client', 'Chat={"txt":"x"}'], says: ['"txt"', 'fields: from, text, to'] },
      { args: ['client', '9=hex:zz'], says: ['"zz" is not hex'] },
      { args: ['client', '9=@/nonexistent/evwire-body'], says: ['/nonexistent/evwire-body', 'ENOENT'] },
    ];
    for (const c of cases) {
      it(`${c.env ? `${Object.entries(c.env).map(([k, v]) => `${k}=${v} `).join('')}` : ''}evwire ${c.args.join(' ')}`, async () => {
        const r = await run(c.args, c.env);
        assert.strictEqual(r.code, 2, r.stderr);
        const lines = r.stderr.trim().split('\n');
        assert.strictEqual(lines.length, 2, r.stderr);
        assert.ok(lines[0].startsWith('evwire: '), r.stderr);
        for (const s of c.says) assert.ok(lines[0].includes(s), `"${s}" not in: ${lines[0]}`);
        assert.match(lines[1], /^usage: evwire/);
        assert.strictEqual(r.stdout, '');
        assertNoStack(r.stderr);
      });
    }
  });

  describe('demo and client', () => {
    async function startDemo(extra: string[] = []) {
      const demo = start(['demo', '--host', '127.0.0.1', '--port', '0', '--io-threads', '1', ...extra]);
      const line = await jsonLine(demo, (o) => typeof o.port === 'number');
      return { demo, port: line.port as number, line };
    }

    it('logs JSON lines when stdout is not a terminal, with the always level named', async () => {
      const { demo, port, line } = await startDemo();
      assert.strictEqual(line.level, 100);
      assert.strictEqual(line.levelName, 'always');
      assert.strictEqual(line.address, '127.0.0.1');
      assert.ok(port > 0);
      const hint = await jsonLine(demo, (o) => typeof o.msg === 'string' && o.msg.includes('npx evwire client'));
      assert.ok((hint.msg as string).includes(`--host 127.0.0.1 --port ${port} `), hint.msg as string);
    });

    it('--http-port: the demo serves its Prometheus metrics at GET /metrics', async () => {
      const { demo } = await startDemo(['--http-port', '0']);
      const h = await jsonLine(demo, (o) => typeof o.httpPort === 'number');
      const res = await fetch(`http://127.0.0.1:${h.httpPort as number}/metrics`);
      assert.strictEqual(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      for (const family of ['evwire_io_accepted_total counter', 'evwire_io_connections gauge', 'evwire_server_connections gauge', 'evwire_http_responses_total counter']) {
        assert.ok(text.includes(`# TYPE ${family}`), family);
      }
    });

    it('--log-format pretty: readable lines, the always level named', async () => {
      const demo = start(['demo', '--host', '127.0.0.1', '--port', '0', '--io-threads', '1', '--log-format', 'pretty']);
      await bounded(
        new Promise<void>((resolve, reject) => {
          const check = () => demo.out.includes('talk to it: npx evwire client') && resolve();
          demo.stdout!.on('data', check);
          demo.once('close', (c) => reject(new Error(`exited with ${c}; stderr: ${demo.err}`)));
        }),
        'no hint line',
      );
      assert.match(demo.out, /ALWAYS \(evwire\): evwire echo server listening on 127\.0\.0\.1:\d+/);
      assert.doesNotMatch(demo.out, /USERLVL|^\{/m);
    });

    it('the client sends typed and raw frames and prints the echoed replies decoded', async () => {
      const { port } = await startDemo();
      const r = await run([
        'client', '--host', '127.0.0.1', '--port', String(port), '--json', '--repeat', '2',
        'Chat={"from":"ann","text":"hello","to":["bob"]}', 'Ping', 'move={"player":7,"x":-3}', '9=hello', '9=hex:00ff',
      ]);
      assert.strictEqual(r.code, 0, r.stderr);
      const replies = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.strictEqual(replies.length, 10);
      assert.deepStrictEqual(replies.map((x) => x.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.deepStrictEqual(replies[0], { type: 5, seq: 1, flags: 0, bytes: replies[0].bytes, name: 'Chat', body: { from: 'ann', text: 'hello', to: ['bob'] } });
      assert.deepStrictEqual([replies[1].name, replies[1].body], ['Ping', {}]);
      assert.deepStrictEqual([replies[2].name, replies[2].type, replies[2].body], ['Move', 3, { player: 7, x: -3 }]);
      assert.deepStrictEqual([replies[3].type, replies[3].text], [9, 'hello']);
      assert.deepStrictEqual([replies[4].type, replies[4].hex], [9, '00ff']);
      assert.deepStrictEqual(replies[5].body, replies[0].body);
    });

    it('two services: a Login goes through the gateway to the backend over a link, by frame and by HTTP', async () => {
      const { demo, port } = await startDemo(['--http-port', '0']);
      const h = await jsonLine(demo, (o) => typeof o.httpPort === 'number');
      const r = await run(['client', '--host', '127.0.0.1', '--port', String(port), '--json', 'Login={"user":"ann","token":"secret"}', 'Login={"user":"bob","token":"wrong"}', 'Ping']);
      assert.strictEqual(r.code, 0, r.stderr);
      const replies = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
      const bySeq = new Map(replies.map((x) => [x.seq, x]));
      assert.deepStrictEqual([bySeq.get(1).name, bySeq.get(1).body], ['LoginReply', { ok: true, session: '1' }]);
      assert.deepStrictEqual([bySeq.get(2).name, bySeq.get(2).body], ['LoginReply', { error: 'bad credentials' }]);
      assert.strictEqual(bySeq.get(1).flags & 2, 2);
      assert.strictEqual(bySeq.get(3).name, 'Ping');
      const res = await fetch(`http://127.0.0.1:${h.httpPort as number}/login`, { method: 'POST', body: JSON.stringify({ user: 'cy', token: 'secret' }) });
      assert.strictEqual(res.status, 200);
      assert.deepStrictEqual(await res.json(), { ok: true, session: 2 });
      const bad = await fetch(`http://127.0.0.1:${h.httpPort as number}/login`, { method: 'POST', body: JSON.stringify({ user: 'cy', token: 'x' }) });
      assert.strictEqual(bad.status, 401);
      // The gateway's reports reach the UDP stats sink (once a second): the counts include the logins.
      const deadline = Date.now() + 10000;
      let seen: { service: string; logins: number; backendUp: boolean } | undefined;
      while (seen === undefined && Date.now() < deadline) {
        const sink = (await (await fetch(`http://127.0.0.1:${h.httpPort as number}/sink`)).json()) as Record<string, { service: string; logins: number; backendUp: boolean }>;
        seen = Object.values(sink).find((x) => x.service === 'gateway' && x.logins >= 2);
        if (seen === undefined) await new Promise((res) => setTimeout(res, 200));
      }
      assert.ok(seen !== undefined, 'a gateway report at the stats sink within 10 s');
      assert.strictEqual(seen.backendUp, true);
    });

    it('the client prints readable lines and keeps seq and flags', async () => {
      const { port } = await startDemo();
      const r = await run(['client', '--host', '127.0.0.1', '--port', String(port), '--seq', '40', '--flags', '2', 'Chat={"text":"hi"}', '300=text:@x', 'ping={"sent_at_ns":"5"}']);
      assert.strictEqual(r.code, 0, r.stderr);
      assert.deepStrictEqual(r.stdout.trim().split('\n'), [
        'Chat (type 5) seq 40 flags 0x2: {"text":"hi"}',
        'type 300 seq 41 flags 0x2, 2 bytes: "@x"',
        'Ping (type 6) seq 42 flags 0x2: {"sentAtNs":"5"}',
      ]);
    });

    it('a port in use: exit code 1, one line with the code and the port', async () => {
      const busy = await netServer(() => {});
      const r = await run(['demo', '--host', '127.0.0.1', '--port', String(busy), '--io-threads', '1']);
      assert.strictEqual(r.code, 1);
      assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busy}: .*\\(EW_EADDRINUSE\\)`));
      assertNoStack(r.stderr);
    });
  });

  describe('client failures: exit code 1 and one clear line', () => {
    it('times out against a server that never answers', async () => {
      const port = await netServer(() => {});
      const r = await run(['client', '--host', '127.0.0.1', '--port', String(port), '--timeout', '200', 'Ping', '9=x']);
      assert.strictEqual(r.code, 1);
      assert.strictEqual(r.stdout, '');
      assert.match(r.stderr.trim(), /^evwire: timed out after 200 ms: 0 of 2 replies arrived .*\(EW_ETIMEDOUT\)$/);
      assertNoStack(r.stderr);
    });

    it('reports a server that closes before all replies', async () => {
      const port = await netServer((s) => s.end());
      const r = await run(['client', '--host', '127.0.0.1', '--port', String(port), 'Ping']);
      assert.strictEqual(r.code, 1);
      assert.match(r.stderr.trim(), /^evwire: 127\.0\.0\.1:\d+ closed the connection after 0 of 1 replies \(EW_EOF\)$/);
    });

    it('reports a refused connection', async () => {
      // A port that was just free: listen, note it, close.
      const port = await netServer(() => {});
      const s = servers.pop()!;
      await new Promise((resolve) => s.close(resolve));
      const r = await run(['client', '--host', '127.0.0.1', '--port', String(port), 'Ping']);
      assert.strictEqual(r.code, 1);
      assert.match(r.stderr.trim(), /^evwire: cannot connect to 127\.0\.0\.1:\d+: connection refused \(EW_ECONNREFUSED\)$/);
    });
  });
});
