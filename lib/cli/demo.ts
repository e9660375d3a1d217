// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// `evwire demo`: the demo echo server. Every frame is sent back with its type, seq and flags;
// `--http-port` adds a small HTTP endpoint. Logs are pino-pretty on a terminal, JSON lines
// otherwise; the first lines say where it listens and the exact client command to try.
import { createLogger, ERROR_CODES, EvwireError, LOG_LEVELS, Runtime, SystemError, type Logger } from '../index';
import { flag, int, oneOf, parseArgs, port, raw, str, UsageError, type OptionSpec } from './args';

export const DEMO_OPTIONS: readonly OptionSpec[] = [
  { name: 'port', value: true, env: 'EVWIRE_PORT' },
  { name: 'host', value: true, env: 'EVWIRE_HOST' },
  { name: 'http-port', value: true, env: 'EVWIRE_HTTP_PORT' },
  { name: 'io-threads', value: true, env: 'EVWIRE_IO_THREADS' },
  { name: 'affinity', value: true, env: 'EVWIRE_AFFINITY' },
  { name: 'log-level', value: true, env: 'EVWIRE_LOG_LEVEL' },
  { name: 'log-format', value: true, env: 'EVWIRE_LOG_FORMAT' },
  { name: 'help', short: 'h', value: false },
];

export const DEMO_USAGE = `Usage: evwire demo [options]

Starts the demo echo server: every frame (12-byte header, docs/protocol.md) comes back with
its type, seq and flags. Talk to it with \`evwire client\`; it prints the exact command.
Stop it with Ctrl-C.

Options (environment variable in brackets):
  --port N         framed TCP port, 0: any free port [EVWIRE_PORT] (default 7000)
  --host H         name or address to listen on [EVWIRE_HOST] (default localhost)
  --http-port N    also serve HTTP on port N: GET / (hello), GET /stats, GET /metrics, POST /echo
                   [EVWIRE_HTTP_PORT] (default: no HTTP)
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
    const server = await where(host, portNo, () => rt.listen({ protocol: 'tcp', host, port: portNo }));
    server.on('connection', (conn) => {
      const peer = `${conn.remoteAddress}:${conn.remotePort}`;
      rt.logger.info({ conn: conn.id, peer }, `connection from ${peer}`);
      conn.on('message', (msg) => {
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
