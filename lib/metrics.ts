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

/** What the collectors read: a Runtime is one (rt.metrics() passes itself). */
export interface MetricsSource {
  /** Per IO thread counters, camelCase names of the native EW_IO_STATS_MAP. */
  stats(): readonly object[];
  /** Servers of this thread, listening or with open connections. */
  servers(): readonly Server[];
  /** Tasks this thread scheduled, per target thread. */
  taskTallies?(): readonly TaskTally[];
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

const camel = (n: string): string => n.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

/** IO-thread counters that are levels, not totals. */
const IO_GAUGES = new Set(['live']);

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
  const { Counter, Gauge, Histogram, Registry } = require('prom-client') as typeof import('prom-client');
  const registry = opts.registry ?? new Registry();
  const p = opts.prefix ?? 'evwire_';
  const names: string[] = native.constants.IO_STATS;
  const help: string[] = native.constants.IO_STATS_HELP;

  // Per IO thread, straight from the stats page.
  names.forEach((name, i) => {
    const key = camel(name);
    const read = (): [Record<string, string>, number][] =>
      source.stats().map((t, k) => [{ thread: String(k) }, (t as Record<string, number>)[key] ?? 0]);
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

  // Per server: `server` is its id, `protocol` tcp or http.
  const servers = (): { labels: Record<string, string>; s: ServerStats & Partial<HttpServerStats> }[] =>
    source.servers().map((srv) => ({ labels: { server: String(srv.id), protocol: srv.protocol }, s: srv.stats() as ServerStats & Partial<HttpServerStats> }));
  const counter = (name: string, helpText: string, extra: string[], values: (s: ServerStats & Partial<HttpServerStats>) => [Record<string, string>, number][]): void => {
    new Counter({
      name: `${p}${name}`,
      help: helpText,
      labelNames: ['server', 'protocol', ...extra],
      registers: [registry],
      collect() {
        const all: [Record<string, string>, number][] = [];
        for (const { labels, s } of servers()) for (const [l, v] of values(s)) all.push([{ ...labels, ...l }, v]);
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
      collect() {
        this.reset();
        for (const { labels, s } of servers()) this.set(labels, value(s));
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

  // Tasks this thread scheduled, by target thread (0 is the main thread).
  if (source.taskTallies !== undefined) {
    const tallies = () => source.taskTallies!();
    new Counter({
      name: `${p}tasks_total`,
      help: 'Tasks scheduled from this thread, by target thread and outcome',
      labelNames: ['thread', 'outcome'],
      registers: [registry],
      collect() {
        const all: [Record<string, string>, number][] = [];
        for (const t of tallies()) {
          all.push([{ thread: String(t.thread), outcome: 'ok' }, t.ok]);
          all.push([{ thread: String(t.thread), outcome: 'error' }, t.failed]);
          all.push([{ thread: String(t.thread), outcome: 'timeout' }, t.timedOut]);
        }
        setCounter(this, all);
      },
    });
    new Gauge({
      name: `${p}tasks_in_flight`,
      help: 'Tasks scheduled from this thread and not answered yet, by target thread',
      labelNames: ['thread'],
      registers: [registry],
      collect() {
        this.reset();
        for (const t of tallies()) this.set({ thread: String(t.thread) }, t.inFlight);
      },
    });
    // Durations are observed as tasks are answered, from registration on (a histogram cannot be
    // set from counts): the scheduler calls the hook, the only per-task cost of metrics.
    const hist = new Histogram({
      name: `${p}task_duration_seconds`,
      help: 'Time from scheduling a task to its answer (or its failure or timeout), by target thread',
      labelNames: ['thread'],
      buckets: TASK_BUCKETS,
      registers: [registry],
    });
    source.observeTasks?.((thread, seconds) => hist.observe({ thread: String(thread) }, seconds));
  }
  return registry;
}
