// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// `evwire demo`: two services in one process. A backend service (framed TCP on 127.0.0.1)
// answers logins; the gateway clients talk to (framed TCP, and HTTP with --http-port) echoes
// every frame back with its type, seq and flags, except a Login, which it forwards to the backend
// over a link (rt.connect) and answers with the backend's LoginReply. Once a second the gateway
// reports its counters to a stats sink over UDP (127.0.0.1), all local. Logs are pino-pretty on a
// terminal, JSON lines otherwise; the first lines say where it listens and the exact client
// command to try.
import { createLogger, demo, ERROR_CODES, EvwireError, LOG_LEVELS, messageTypeId, Runtime, SystemError, type Link, type Logger } from '../index';
import { flag, int, oneOf, parseArgs, port, raw, str, UsageError, type OptionSpec } from './args';

export const DEMO_OPTIONS: readonly OptionSpec[] = [
  { name: 'port', value: true, env: 'EVWIRE_PORT' },
  { name: 'host', value: true, env: 'EVWIRE_HOST' },
  { name: 'http-port', value: true, env: 'EVWIRE_HTTP_PORT' },
  { name: 'backend-port', value: true, env: 'EVWIRE_BACKEND_PORT' },
  { name: 'io-threads', value: true, env: 'EVWIRE_IO_THREADS' },
  { name: 'affinity', value: true, env: 'EVWIRE_AFFINITY' },
  { name: 'log-level', value: true, env: 'EVWIRE_LOG_LEVEL' },
  { name: 'log-format', value: true, env: 'EVWIRE_LOG_FORMAT' },
  { name: 'help', short: 'h', value: false },
];

export const DEMO_USAGE = `Usage: evwire demo [options]

Starts the demo: a gateway that clients talk to, and a backend service it calls. Every frame
(12-byte header, docs/protocol.md) sent to the gateway comes back with its type, seq and flags,
except a Login, which the gateway forwards to the backend over a link (rt.connect) and answers
with the backend's LoginReply. Talk to it with \`evwire client\` (it prints the exact command)
or \`npm run demo:client\`. Stop it with Ctrl-C.

Options (environment variable in brackets):
  --port N         framed TCP port, 0: any free port [EVWIRE_PORT] (default 7000)
  --host H         name or address to listen on [EVWIRE_HOST] (default localhost)
  --http-port N    also serve HTTP on port N: GET / (hello), GET /stats, GET /metrics, POST /echo,
                   POST /login (JSON {user, token}, answered by the backend), GET /sink (the
                   last report each sender sent the UDP stats sink)
                   [EVWIRE_HTTP_PORT] (default: no HTTP)
  --backend-port N the backend service's port on 127.0.0.1, 0: any free port
                   [EVWIRE_BACKEND_PORT] (default 0)
  --io-threads N   native IO threads, 1..64 [EVWIRE_IO_THREADS] (default 2)
  --affinity A     auto, off, or CPUs such as 0,1 [EVWIRE_AFFINITY] (default off)
  --log-level L    ${[...Object.keys(LOG_LEVELS), 'silent'].join(', ')} [EVWIRE_LOG_LEVEL] (default info)
  --log-format F   pretty, json, or auto: pretty on a terminal, else JSON lines
                   [EVWIRE_LOG_FORMAT] (default auto)
  -h, --help       show this help

Examples:
  npx evwire demo
  npx evwire demo --port 0 --http-port 8080 --log-level debug
`;

type Level = keyof typeof LOG_LEVELS | 'silent';

/** The frame type of demo.Login. */
const LOGIN = messageTypeId(demo.Login)!;

/** Runs `evwire demo`: resolves once it listens (or with 0 after --help); the runtime then keeps
 * the process alive until SIGINT or SIGTERM. */
export async function runDemo(argv: readonly string[], out: (s: string) => void): Promise<number | undefined> {
  const p = parseArgs(argv, DEMO_OPTIONS);
  if (flag(p, 'help')) {
    out(DEMO_USAGE);
    return 0;
  }
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}"`);
  const portNo = port(p, 'port', 7000);
  const host = str(p, 'host', 'localhost');
  const httpPort = port(p, 'http-port', undefined);
  const backendPort = port(p, 'backend-port', 0);
  const ioThreads = int(p, 'io-threads', 2, 1, 64, 'a thread count (1..64)');
  const affinity = parseAffinity(raw(p, 'affinity'));
  const level = oneOf<Level>(p, 'log-level', 'info', [...(Object.keys(LOG_LEVELS) as Level[]), 'silent']);
  const format = oneOf(p, 'log-format', 'auto', ['auto', 'pretty', 'json'] as const);

  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true);
  const logger = await makeLogger(level, pretty);
  // Fields of the startup lines are for machines; on a terminal the message says it all.
  const fields = (o: object) => (pretty ? {} : o);
  const rt = await Runtime.start({ ioThreads, affinity, logger });
  // SIGINT / SIGTERM: a graceful close (replies in flight are flushed), then exit 0; a second
  // signal exits at once.
  rt.closeOnSignals();

  try {
    // The backend service: answers logins (token "secret"), numbering the sessions.
    const backend = await where('127.0.0.1', backendPort, () => rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: backendPort }));
    let sessions = 0;
    backend.handle(demo.Login, (conn, login, frame) => {
      const ok = login.user !== '' && login.token === 'secret';
      rt.logger.debug({ user: login.user, ok }, 'backend: login');
      conn.send(demo.LoginReply, ok ? { ok, session: ++sessions } : { ok, error: 'bad credentials' }, { seq: frame.seq, flags: 2 });
    });
    const b = backend.address();
    rt.logger.always(fields({ backendAddress: b.address, backendPort: b.port }), `backend service on ${b.address}:${b.port}`);

    // The gateway's link to it: one connection, reconnecting; replies come back by seq.
    const link = await rt.connect({ protocol: 'tcp', host: '127.0.0.1', port: b.port, connectTimeoutMs: 3000 });
    const calls = backendCalls(link);
    link.on('reconnecting', ({ attempt, delayMs, error }) => rt.logger.warn({ attempt, delayMs, code: error.code }, 'gateway: backend unreachable, retrying'));

    // The stats sink: a UDP socket that keeps the last report each sender sent (GET /sink).
    const sink = await rt.listen({ protocol: 'udp', host: '127.0.0.1', port: 0, framing: 'raw' });
    const reports = new Map<string, unknown>();
    sink.on('message', (datagram, rinfo) => {
      try {
        reports.set(`${rinfo.address}:${rinfo.port}`, JSON.parse(datagram.toString()));
      } catch {
        rt.logger.debug({ from: rinfo.address }, 'stats sink: not JSON; ignored');
      }
    });
    const reporter = await rt.connect({ protocol: 'udp', host: '127.0.0.1', port: sink.address().port, framing: 'raw' });
    const counts = { connections: 0, frames: 0, logins: 0 };
    const report = setInterval(() => {
      reporter.send(Buffer.from(JSON.stringify({ service: 'gateway', at: new Date().toISOString(), ...counts, backendUp: link.connected })));
    }, 1000);
    report.unref(); // once the runtime is closed, send() returns false and the process may exit

    const server = await where(host, portNo, () => rt.listen({ protocol: 'tcp', host, port: portNo }));
    server.on('connection', (conn) => {
      counts.connections++;
      const peer = `${conn.remoteAddress}:${conn.remotePort}`;
      rt.logger.info({ conn: conn.id, peer }, `connection from ${peer}`);
      conn.on('message', (msg) => {
        counts.frames++;
        if (msg.type === LOGIN) {
          counts.logins++;
          // Forwarded to the backend; its reply goes back with the client's seq and flags.
          const seq = msg.seq;
          const flags = msg.flags;
          calls
            .login(demo.Login.decode(msg.body))
            .then((reply) => conn.send(demo.LoginReply, reply, { seq, flags: flags | 2 }))
            .catch((err: EvwireError) => conn.send(demo.LoginReply, { ok: false, error: `backend: ${err.code}` }, { seq, flags: flags | 6 }));
          return;
        }
        rt.logger.debug({ conn: conn.id, type: msg.type, seq: msg.seq, flags: msg.flags, bytes: msg.body.length }, 'echo');
        conn.send(msg.type, msg.body, { seq: msg.seq, flags: msg.flags });
      });
      conn.on('close', (reason) => rt.logger.info({ conn: conn.id, peer, code: reason.code }, `connection from ${peer} closed (${reason.code})`));
    });
    const a = server.address();
    rt.logger.always(fields({ address: a.address, port: a.port, ioThreads }), `evwire echo server listening on ${a.address}:${a.port}`);

    if (httpPort !== undefined) {
      const http = await where(host, httpPort, () => rt.listen({ protocol: 'http', host, port: httpPort }));
      http.get('/', (_req, res) => res.end('evwire demo: GET /stats for the IO threads\' counters, GET /metrics for Prometheus, POST /echo to get the body back\n'));
      http.get('/stats', (_req, res) => res.json(rt.stats()));
      http.metrics('/metrics');
      http.post('/echo', async (req, res) => res.end(await req.body()));
      http.get('/sink', (_req, res) => res.json(Object.fromEntries(reports)));
      http.post('/login', async (req, res) => {
        const body = (await req.json()) as { user?: unknown; token?: unknown };
        const reply = await calls.login({ user: String(body.user ?? ''), token: String(body.token ?? '') });
        res.status(reply.ok ? 200 : 401).json({ ok: reply.ok, session: Number(reply.session ?? 0), error: reply.error || undefined });
      });
      const h = http.address();
      rt.logger.always(fields({ address: h.address, httpPort: h.port }), `HTTP on http://${urlHost(h.address)}:${h.port}/ (try: curl http://${urlHost(clientHost(host, h.address))}:${h.port}/)`);
    }
    const hostArg = clientHost(host, a.address) === 'localhost' ? '' : ` --host ${clientHost(host, a.address)}`;
    rt.logger.always(`talk to it: npx evwire client${hostArg} --port ${a.port} 'Chat={"from":"me","text":"hello"}' Ping 9=hello`);
  } catch (err) {
    await rt.close();
    throw err;
  }
  return undefined;
}

/** Calls to the backend over `link`: each request gets a seq of its own, and its reply resolves
 * it (or the link's close, or 5 s, reject it). */
function backendCalls(link: Link): { login(l: { user: string; token: string }): Promise<demo.LoginReply> } {
  let next = 0;
  const pending = new Map<number, { resolve: (r: demo.LoginReply) => void; reject: (e: EvwireError) => void; timer: ReturnType<typeof setTimeout> }>();
  link.handle(demo.LoginReply, (_link, reply, frame) => {
    const p = pending.get(frame.seq);
    if (p === undefined) return;
    pending.delete(frame.seq);
    clearTimeout(p.timer);
    p.resolve(reply);
  });
  link.on('close', () => {
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new SystemError('EW_ECLOSED', 'the backend link closed'));
    }
    pending.clear();
  });
  return {
    login(l) {
      next = (next % 0xffffffff) + 1;
      const seq = next;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(seq);
          reject(new SystemError('EW_ETIMEDOUT', 'the backend did not answer within 5 s'));
        }, 5000);
        pending.set(seq, { resolve, reject, timer });
        if (!link.send(demo.Login, l, { seq })) {
          // Down with a full queue: refused now rather than after the timeout.
          pending.delete(seq);
          clearTimeout(timer);
          reject(new SystemError('EW_ENOBUFS', 'the backend link is down and its queue is full'));
        }
      });
    },
  };
}

// Adds the address to a listen error (EW_EADDRINUSE alone does not say which port).
async function where<T>(host: string, portNo: number, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    if (!(err instanceof EvwireError)) throw err;
    const text = ERROR_CODES[err.code]?.message ?? err.message;
    throw new SystemError(err.code, `cannot listen on ${host}:${portNo}: ${text}`, { cause: err });
  }
}

function parseAffinity(r: { value: string; where: string } | undefined): 'auto' | 'off' | number[] {
  if (r === undefined) return 'off';
  if (r.value === 'auto' || r.value === 'off') return r.value;
  if (!/^\d+(,\d+)*$/.test(r.value)) throw new UsageError(`${r.where}: "${r.value}" is not auto, off or a list of CPUs such as 0,1`);
  return r.value.split(',').map(Number);
}

/** The host a client on this machine should use to reach a listener. */
function clientHost(host: string, bound: string): string {
  if (bound === '0.0.0.0' || bound === '::') return 'localhost';
  return host;
}

function urlHost(h: string): string {
  return h.includes(':') ? `[${h}]` : h;
}

// On a terminal pino-pretty, told about the `always` level (else it shows USERLVL); otherwise
// JSON lines to stdout, each with the level's name next to its number.
async function makeLogger(level: Level, pretty: boolean): Promise<Logger> {
  if (pretty) {
    const { default: build } = await import('pino-pretty');
    const stream = build({
      customLevels: LOG_LEVELS,
      customColors: 'trace:gray,debug:blue,info:green,warn:yellow,error:red,fatal:bgRed,always:cyan',
      useOnlyCustomProps: false,
      ignore: 'pid,hostname',
      translateTime: 'SYS:HH:MM:ss.l',
      sync: true,
    });
    return createLogger({ level }, stream);
  }
  return createLogger({ level, formatters: { level: (label: string, n: number) => ({ level: n, levelName: label }) } });
}
