// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Prometheus metrics through prom-client. Nothing is counted twice: the collectors read, at
// scrape time, the counters the runtime keeps anyway (the IO threads' stats page in shared
// memory, each server's stats(), the task scheduler's tallies), so a runtime nobody scrapes
// pays nothing. Counters are counters and levels are gauges; the help text of the IO-thread
// counters is the C core's own (EW_IO_STATS_MAP in native/core/include/ew/runtime.h).
import type { Counter, Registry } from 'prom-client';
import { native } from './native';
import type { HttpServerStats } from './http';
import type { Server, ServerStats } from './server';
import type { TaskTally } from './tasks';
import type { LinkStats } from './link';

type AnyServerStats = ServerStats & Partial<HttpServerStats>;

/** One server as the collectors see it. */
export interface ServerRow {
  id: number;
  protocol: string;
  stats: AnyServerStats;
}

/** One link (rt.connect) as the collectors see it. */
export interface LinkRow {
  id: number;
  /** host:port it connects to. */
  peer: string;
  connected: boolean;
  stats: LinkStats;
}

/** A work thread's own counters of one server (its view's stats()). */
export interface ThreadServerStats {
  id: number;
  stats: AnyServerStats;
}

/** What the collectors read at scrape time (rt.metrics() passes the runtime's). Each may answer
 * with a promise: a runtime with work threads asks them. */
export interface MetricsSource {
  /** Per IO thread counters, camelCase names of the native EW_IO_STATS_MAP. */
  stats(): readonly object[];
  /** Every server with its counters. */
  serverStats(): readonly ServerRow[] | Promise<readonly ServerRow[]>;
  /** The links (outbound connections) of the main thread, with their counters. */
  links?(): readonly LinkRow[];
  /** Tasks scheduled, per target thread. */
  taskTallies?(): readonly TaskTally[] | Promise<readonly TaskTally[]>;
  /** Calls `fn` with the target thread and the seconds each task scheduled from now on took. */
  observeTasks?(fn: (thread: number, seconds: number) => void): void;
}

export interface MetricsOptions {
  /** The registry to register with; default: a new one (rt.metrics() keeps one per runtime). */
  registry?: Registry;
  /** Prefix of every metric name; default 'evwire_'. */
  prefix?: string;
}

/** Buckets of evwire_task_duration_seconds: 50 µs to 10 s. */
export const TASK_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/** Rows for servers of one thread, read now. */
export function serverRows(servers: readonly Server[]): ServerRow[] {
  return servers.map((s) => ({ id: s.id, protocol: s.protocol, stats: s.stats() as AnyServerStats }));
}

/** Adds to `rows` what other threads count on their own (connections, accepts, decode errors,
 * HTTP requests, handler errors and responses); the native counters (kicks, bans, refusals,
 * timeouts, messages and bytes in) are the runtime's already and are not added again. */
export function addThreadStats(rows: ServerRow[], others: readonly (readonly ThreadServerStats[])[]): ServerRow[] {
  const out = rows.map((r) => ({ ...r, stats: { ...r.stats, responses: r.stats.responses === undefined ? undefined : { ...r.stats.responses } } as AnyServerStats }));
  const byId = new Map(out.map((r) => [r.id, r.stats]));
  for (const list of others) {
    for (const { id, stats: t } of list) {
      const s = byId.get(id);
      if (s === undefined) continue;
      s.connections += t.connections;
      s.accepted += t.accepted;
      s.decodeErrors += t.decodeErrors;
      if (s.requests !== undefined && t.requests !== undefined) s.requests += t.requests;
      if (s.handlerErrors !== undefined && t.handlerErrors !== undefined) s.handlerErrors += t.handlerErrors;
      if (s.responses !== undefined && t.responses !== undefined)
        for (const k of Object.keys(s.responses) as (keyof HttpServerStats['responses'])[]) s.responses[k] += t.responses[k] ?? 0;
    }
  }
  return out;
}

/** Tallies of several threads summed per target thread. */
export function addTallies(lists: readonly (readonly TaskTally[])[]): TaskTally[] {
  const by = new Map<number, TaskTally>();
  for (const list of lists)
    for (const t of list) {
      const a = by.get(t.thread);
      if (a === undefined) by.set(t.thread, { ...t });
      else {
        a.ok += t.ok;
        a.failed += t.failed;
        a.timedOut += t.timedOut;
        a.inFlight += t.inFlight;
      }
    }
  return [...by.values()].sort((a, b) => a.thread - b.thread);
}

const camel = (n: string): string => n.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** IO-thread counters that are levels, not totals. */
const IO_GAUGES = new Set(['live']);

/** `f`, read once per scrape: every family's collector of one registry.metrics() call shares
 * the value (read then, at the first collector), and the next scrape reads afresh. */
function perScrape<T>(f: () => T): () => T {
  let cached: { v: T } | null = null;
  return () => {
    if (cached === null) {
      cached = { v: f() };
      setImmediate(() => (cached = null));
    }
    return cached.v;
  };
}

/** Sets a counter to the absolute values read at scrape time. */
function setCounter(c: Counter<string>, values: [Record<string, string>, number][]): void {
  c.reset();
  for (const [labels, v] of values) c.inc(labels, v);
}

/**
 * Registers the collectors of `source` (a Runtime) with a prom-client registry and returns it.
 * `registry.metrics()` renders the text format; `http.metrics('/metrics')` serves it.
 */
export function collectMetrics(source: MetricsSource, opts: MetricsOptions = {}): Registry {
  // prom-client is loaded here, on first use: a program that never asks for metrics never loads it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Counter, Gauge, Histogram, Registry } = require('prom-client') as typeof import('prom-client');
  const registry = opts.registry ?? new Registry();
  const p = opts.prefix ?? 'evwire_';
  const ioStats = perScrape(() => source.stats());
  const serverStats = perScrape(() => Promise.resolve(source.serverStats()));
  const names: string[] = native.constants.IO_STATS;
  const help: string[] = native.constants.IO_STATS_HELP;

  // Per IO thread, straight from the stats page.
  names.forEach((name, i) => {
    const key = camel(name);
    const read = (): [Record<string, string>, number][] =>
      ioStats().map((t, k) => [{ thread: String(k) }, (t as Record<string, number>)[key] ?? 0]);
    if (IO_GAUGES.has(name)) {
      new Gauge({
        name: `${p}io_connections`,
        help: `IO thread: ${help[i]}`,
        labelNames: ['thread'],
        registers: [registry],
        collect() {
          this.reset();
          for (const [l, v] of read()) this.set(l, v);
        },
      });
    } else {
      new Counter({
        name: `${p}io_${name}_total`,
        help: `IO thread: ${help[i]}`,
        labelNames: ['thread'],
        registers: [registry],
        collect() {
          setCounter(this, read());
        },
      });
    }
  });

  // Per server: `server` is its id, `protocol` its registry name (tcp, http, lines).
  const servers = async (): Promise<{ labels: Record<string, string>; s: AnyServerStats }[]> =>
    (await serverStats()).map((r) => ({ labels: { server: String(r.id), protocol: r.protocol }, s: r.stats }));
  const counter = (name: string, helpText: string, extra: string[], values: (s: ServerStats & Partial<HttpServerStats>) => [Record<string, string>, number][]): void => {
    new Counter({
      name: `${p}${name}`,
      help: helpText,
      labelNames: ['server', 'protocol', ...extra],
      registers: [registry],
      async collect() {
        const all: [Record<string, string>, number][] = [];
        for (const { labels, s } of await servers()) for (const [l, v] of values(s)) all.push([{ ...labels, ...l }, v]);
        setCounter(this, all);
      },
    });
  };
  const gauge = (name: string, helpText: string, value: (s: ServerStats) => number): void => {
    new Gauge({
      name: `${p}${name}`,
      help: helpText,
      labelNames: ['server', 'protocol'],
      registers: [registry],
      async collect() {
        const rows = await servers();
        this.reset();
        for (const { labels, s } of rows) this.set(labels, value(s));
      },
    });
  };
  gauge('server_connections', 'Server: connections open now on this thread', (s) => s.connections);
  counter('server_accepted_total', 'Server: connections accepted', [], (s) => [[{}, s.accepted]]);
  counter('server_denied_total', 'Server: connections refused by the accept hook', [], (s) => [[{}, s.denied]]);
  counter('server_messages_in_total', 'Server: messages (frames, chunks, HTTP requests) delivered', [], (s) => [[{}, s.messagesIn]]);
  counter('server_bytes_in_total', 'Server: bytes read', [], (s) => [[{}, s.bytesIn]]);
  counter('server_decode_errors_total', 'Server: bodies a typed handler could not decode', [], (s) => [[{}, s.decodeErrors]]);
  counter('server_kicks_total', 'Server: connections closed with EW_EFLOOD, by the limit exceeded', ['limit'], (s) => [
    [{ limit: 'messages' }, s.kicks.messages],
    [{ limit: 'bytes' }, s.kicks.bytes],
  ]);
  counter('server_bans_total', 'Server: source addresses banned automatically, by reason', ['reason'], (s) => [
    [{ reason: 'messages' }, s.bans.messages],
    [{ reason: 'connections' }, s.bans.connections],
  ]);
  gauge('server_bans_active', 'Server: bans in force now (manual ones included)', (s) => s.bans.active);
  counter('server_banned_closes_total', 'Server: open connections closed because their address was banned', [], (s) => [[{}, s.bannedCloses]]);
  counter('server_rejected_total', 'Server: connections refused at accept, by reason', ['reason'], (s) => [
    [{ reason: 'banned' }, s.rejected.banned],
    [{ reason: 'maxConnections' }, s.rejected.maxConnections],
    [{ reason: 'maxConnectionsPerIp' }, s.rejected.maxConnectionsPerIp],
  ]);
  counter('server_timeouts_total', 'Server: connections closed by a timeout, by kind', ['kind'], (s) => [
    [{ kind: 'idle' }, s.timeouts.idle],
    [{ kind: 'partialFrame' }, s.timeouts.partialFrame],
    [{ kind: 'firstMessage' }, s.timeouts.firstMessage],
  ]);
  counter('server_throttled_total', "Server: times a connection's output waited for the response rate", [], (s) => [[{}, s.throttled]]);
  gauge('server_tracked_ips', 'Server: source addresses tracked now', (s) => s.trackedIps);
  counter('server_ip_evictions_total', 'Server: tracked addresses forgotten to stay within maxTrackedIps', [], (s) => [[{}, s.ipEvictions]]);
  // HTTP servers only.
  const httpOnly = (f: (s: HttpServerStats) => [Record<string, string>, number][]) => (s: ServerStats & Partial<HttpServerStats>) =>
    s.requests === undefined ? [] : f(s as HttpServerStats);
  counter('http_requests_total', 'HTTP server: requests handed to handlers', [], httpOnly((s) => [[{}, s.requests]]));
  counter('http_handler_errors_total', 'HTTP server: handlers that threw or rejected', [], httpOnly((s) => [[{}, s.handlerErrors]]));
  counter('http_responses_total', 'HTTP server: responses sent by handlers, by status class', ['code'], httpOnly((s) => Object.entries(s.responses).map(([code, n]) => [{ code }, n])));

  // Links (outbound connections) of the main thread: `link` is its id, `peer` host:port.
  if (source.links !== undefined) {
    const links = perScrape(() => source.links!());
    const linkLabels = (r: LinkRow): Record<string, string> => ({ link: String(r.id), peer: r.peer });
    const linkCounter = (name: string, helpText: string, value: (s: LinkStats) => number): void => {
      new Counter({
        name: `${p}${name}`,
        help: helpText,
        labelNames: ['link', 'peer'],
        registers: [registry],
        collect() {
          setCounter(this, links().map((r) => [linkLabels(r), value(r.stats)]));
        },
      });
    };
    const linkGauge = (name: string, helpText: string, value: (r: LinkRow) => number): void => {
      new Gauge({
        name: `${p}${name}`,
        help: helpText,
        labelNames: ['link', 'peer'],
        registers: [registry],
        collect() {
          this.reset();
          for (const r of links()) this.set(linkLabels(r), value(r));
        },
      });
    };
    linkGauge('link_up', 'Link: 1 while its connection is up, 0 while connecting or waiting to reconnect', (r) => (r.connected ? 1 : 0));
    linkCounter('link_connects_total', 'Link: connections made (the first and each reconnect)', (s) => s.connects);
    linkCounter('link_failed_attempts_total', 'Link: connection attempts that failed', (s) => s.failedAttempts);
    linkGauge('link_queued_bytes', 'Link: bytes queued while disconnected', (r) => r.stats.queuedBytes);
    linkCounter('link_queue_refused_total', 'Link: messages refused while disconnected because the queue was full', (s) => s.queueRefused);
    linkCounter('link_messages_in_total', 'Link: messages received', (s) => s.messagesIn);
    linkCounter('link_messages_out_total', 'Link: messages sent', (s) => s.messagesOut);
  }

  // Tasks this thread scheduled, by target thread (0 is the main thread).
  if (source.taskTallies !== undefined) {
    const tallies = perScrape(() => Promise.resolve(source.taskTallies!()));
    new Counter({
      name: `${p}tasks_total`,
      help: 'Tasks scheduled by the JS threads, by target thread (0: the main thread) and outcome',
      labelNames: ['thread', 'outcome'],
      registers: [registry],
      async collect() {
        const all: [Record<string, string>, number][] = [];
        for (const t of await tallies()) {
          all.push([{ thread: String(t.thread), outcome: 'ok' }, t.ok]);
          all.push([{ thread: String(t.thread), outcome: 'error' }, t.failed]);
          all.push([{ thread: String(t.thread), outcome: 'timeout' }, t.timedOut]);
        }
        setCounter(this, all);
      },
    });
    new Gauge({
      name: `${p}tasks_in_flight`,
      help: 'Tasks scheduled by the JS threads and not answered yet, by target thread',
      labelNames: ['thread'],
      registers: [registry],
      async collect() {
        const list = await tallies();
        this.reset();
        for (const t of list) this.set({ thread: String(t.thread) }, t.inFlight);
      },
    });
    // Durations are observed as tasks are answered, from registration on (a histogram cannot be
    // set from counts): the scheduler calls the hook, the only per-task cost of metrics.
    const hist = new Histogram({
      name: `${p}task_duration_seconds`,
      help: 'Time from scheduling a task on the main thread to its answer (or its failure or timeout), by target thread',
      labelNames: ['thread'],
      buckets: TASK_BUCKETS,
      registers: [registry],
    });
    source.observeTasks?.((thread, seconds) => hist.observe({ thread: String(thread) }, seconds));
  }
  return registry;
}
