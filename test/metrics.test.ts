// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import { Registry } from 'prom-client';
import * as net from 'net';
import * as path from 'path';
import { Runtime, collectMetrics, serverRows } from '../dist/index';
import { FrameReader, connect, frame, ioLoops } from './helpers';

// Prometheus metrics (docs/metrics.md): scraped over a real socket from an evwire HTTP server and
// parsed by the reference parser of the text format, prometheus_client's (Debian's
// python3-prometheus-client, which scripts/install-deps.sh installs), never by regexes.
const PARSER = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "help": f.documentation, "type": f.type,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
`;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'unknown';
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

/** Parses the text format; families by the name of their samples' stem (a counter's family is
 * named without _total by the parser, as the format defines). */
function parse(text: string): Map<string, Family> {
  const r = spawnSync('/usr/bin/python3', ['-c', PARSER], { input: text, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `the parser refused the text: ${r.stderr}`);
  return new Map((JSON.parse(r.stdout) as Family[]).map((f) => [f.name, f]));
}

async function scrape(port: number): Promise<{ contentType: string; families: Map<string, Family> }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  return { contentType: res.headers.get('content-type') ?? '', families: parse(text) };
}

/** The sum of the samples named `sample` whose labels include `where`. */
function total(fams: Map<string, Family>, sample: string, where: Record<string, string> = {}): number {
  const f = fams.get(sample) ?? fams.get(sample.replace(/_(total|count|sum|bucket)$/, ''));
  assert.ok(f !== undefined, `${sample} is there`);
  return f.samples.filter((m) => m.name === sample && Object.entries(where).every(([k, v]) => m.labels[k] === v)).reduce((a, m) => a + m.value, 0);
}

describe('metrics', function () {
  let rt: Runtime | null = null;
  const sockets: net.Socket[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await rt?.close({ drainTimeoutMs: 200 });
    rt = null;
  });

  it('serves the IO threads, servers and tasks as typed Prometheus families with the C help text', async () => {
    rt = await Runtime.start({ ioThreads: 2, logger: { level: 'silent' } });
    const tcp = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    tcp.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body)));
    const http = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    http.get('/ok', (_req, res) => res.end('ok'));
    http.get('/boom', () => {
      throw new Error('boom');
    });
    http.metrics('/metrics');
    const hport = http.address().port;

    // Tasks counted from the first rt.metrics() on (the registry's duration histogram).
    rt.metrics();
    rt.tasks.define('one', () => 1);
    rt.tasks.define('fails', () => {
      throw new Error('no');
    });
    rt.tasks.define('never', () => new Promise(() => undefined));
    for (let i = 0; i < 3; i++) assert.equal(await rt.tasks.schedule('one'), 1);
    await assert.rejects(rt.tasks.schedule('fails'));
    await assert.rejects(rt.tasks.schedule('never', null, { timeoutMs: 30 }));

    // Traffic: three framed echoes, HTTP answers of three classes, one request refused natively.
    const s = await connect(tcp.address().port);
    sockets.push(s);
    const r = new FrameReader(s);
    s.write(Buffer.concat([frame(1, 'a'), frame(1, 'b'), frame(1, 'c')]));
    await r.waitFrames(3);
    for (const p of ['/ok', '/ok', '/nothing', '/boom']) await (await fetch(`http://127.0.0.1:${hport}${p}`)).text();
    const bad = await connect(hport);
    sockets.push(bad);
    bad.resume(); // read (and drop) the 400, so the FIN after it is seen
    bad.write('GET / HTTP/1.1\r\n\r\n'); // no Host: 400 from the IO thread
    await new Promise((resolve) => bad.once('close', resolve));

    const { contentType, families: f } = await scrape(hport);
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    for (const fam of f.values()) {
      assert.ok(fam.name.startsWith('evwire_'), fam.name);
      assert.ok(fam.help.length > 0, `${fam.name} has help text`);
    }
    // IO threads: counters and the connections gauge, one sample per thread, C help text.
    const acc = f.get('evwire_io_accepted')!;
    assert.equal(acc.type, 'counter');
    assert.equal(acc.help, 'IO thread: connections accepted or adopted');
    assert.deepEqual(acc.samples.filter((m) => m.name === 'evwire_io_accepted_total').map((m) => m.labels.thread).sort(), ioLoops(2) === 2 ? ['0', '1'] : ['0']);
    const accepted = total(f, 'evwire_io_accepted_total');
    assert.ok(accepted >= 4, 'the framed client, the fetches (one kept-alive connection at least), the bad one, this scrape');
    assert.equal(f.get('evwire_io_connections')!.type, 'gauge');
    assert.equal(total(f, 'evwire_io_frames_in_total'), 3);
    assert.equal(total(f, 'evwire_io_http_errors_total'), 1);
    // Servers.
    const conns = f.get('evwire_server_connections')!;
    assert.equal(conns.type, 'gauge');
    assert.deepEqual(conns.samples.map((m) => m.labels.protocol).sort(), ['http', 'tcp']);
    assert.equal(total(f, 'evwire_server_messages_in_total', { protocol: 'tcp' }), 3);
    assert.equal(f.get('evwire_http_responses')!.type, 'counter');
    assert.equal(total(f, 'evwire_http_responses_total', { code: '2xx' }), 2);
    assert.equal(total(f, 'evwire_http_responses_total', { code: '4xx' }), 1);
    assert.equal(total(f, 'evwire_http_responses_total', { code: '5xx' }), 1);
    assert.equal(total(f, 'evwire_http_handler_errors_total'), 1);
    assert.ok(total(f, 'evwire_http_requests_total') >= 4);
    assert.equal(f.get('evwire_server_kicks')!.samples.filter((m) => m.name === 'evwire_server_kicks_total').length, 4, 'two limits for each of the two servers');
    // Tasks, by target thread and outcome, and their durations.
    assert.equal(total(f, 'evwire_tasks_total', { thread: '0', outcome: 'ok' }), 3);
    assert.equal(total(f, 'evwire_tasks_total', { thread: '0', outcome: 'error' }), 1);
    assert.equal(total(f, 'evwire_tasks_total', { thread: '0', outcome: 'timeout' }), 1);
    assert.equal(f.get('evwire_task_duration_seconds')!.type, 'histogram');
    assert.equal(total(f, 'evwire_task_duration_seconds_count', { thread: '0' }), 5);
    assert.equal(total(f, 'evwire_task_duration_seconds_bucket', { thread: '0', le: '+Inf' }), 5);
    assert.ok(total(f, 'evwire_task_duration_seconds_sum', { thread: '0' }) >= 0.03, 'the timed-out task took its 30 ms');
    // Scraped again, counters only grow and the registry is the same one.
    assert.equal(rt.metrics(), rt.metrics());
    const again = await scrape(hport);
    assert.ok(total(again.families, 'evwire_io_accepted_total') >= accepted);
  });

  it('serves each link: up, connects, failed attempts, the queue while down, messages', async () => {
    rt = await Runtime.start({ ioThreads: 1, logger: { level: 'silent' } });
    const backend = await rt.listen({ protocol: 'tcp', host: '127.0.0.1', port: 0 });
    backend.on('connection', (c) => c.on('message', (m) => c.send(m.type, m.body)));
    const http = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    http.metrics('/metrics');
    const port = backend.address().port;
    const link = await rt.connect({ protocol: 'tcp', host: '127.0.0.1', port });
    const echoed = new Promise((r) => link.once('message', r));
    link.send(4, 'x');
    await echoed;
    const labels = { link: String(link.id), peer: `127.0.0.1:${port}` };
    const { families: f } = await scrape(http.address().port);
    assert.equal(f.get('evwire_link_up')!.type, 'gauge');
    assert.equal(total(f, 'evwire_link_up', labels), 1);
    assert.equal(f.get('evwire_link_connects')!.type, 'counter');
    assert.equal(total(f, 'evwire_link_connects_total', labels), 1);
    assert.equal(total(f, 'evwire_link_failed_attempts_total', labels), 0);
    assert.equal(total(f, 'evwire_link_messages_in_total', labels), 1);
    assert.equal(total(f, 'evwire_link_messages_out_total', labels), 1);
    await link.close();
    const after = await scrape(http.address().port);
    assert.equal(after.families.get('evwire_link_up')?.samples.length ?? 0, 0, 'a closed link is no longer served');
  });

  it('collectMetrics() registers with a registry of the caller, under a prefix of its choice', async () => {
    rt = await Runtime.start({ logger: { level: 'silent' } });
    const registry = new Registry();
    collectMetrics({ stats: () => rt!.stats(), serverStats: () => serverRows(rt!.servers()) }, { registry, prefix: 'app_evwire_' });
    const fams = [...parse(await registry.metrics()).values()];
    assert.ok(fams.some((x) => x.name === 'app_evwire_io_accepted'));
    assert.ok(fams.every((x) => x.name.startsWith('app_evwire_')));
    assert.ok(!fams.some((x) => x.name.includes('task')), 'no task families without a task source');
  });

  it('a work thread serves the same registry, and what the work threads count is added in', async () => {
    rt = await Runtime.start({
      ioThreads: 2,
      logger: { level: 'silent' },
      workers: { count: 2, module: path.join(__dirname, 'fixtures', 'work-thread.js'), logger: { level: 'silent' } },
    });
    rt.metrics();
    const http = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    const port = http.address().port;
    // The work threads register the route as the server reaches them: until then, 404.
    for (const to of [1, 2]) assert.equal(await rt.tasks.schedule('whoami', null, { to }), to);
    let scraped: Map<string, Family> | null = null;
    for (let i = 0; i < 100 && scraped === null; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      const text = await res.text();
      if (res.status === 200) scraped = parse(text);
      else await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(scraped !== null, 'a work thread answered /metrics');
    // Requests the work threads served (the scrapes themselves are answered as they are counted:
    // only the /who requests are known for sure).
    for (let i = 0; i < 4; i++) assert.match(await (await fetch(`http://127.0.0.1:${port}/who`)).text(), /^thread [12]$/);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    scraped = parse(await res.text());
    assert.ok(total(scraped, 'evwire_http_responses_total', { code: '2xx' }) >= 4 + 1, 'the /who answers and the first scrape, counted on the work threads');
    assert.ok(total(scraped, 'evwire_http_requests_total') >= 5);
    assert.equal(total(scraped, 'evwire_tasks_total', { thread: '1', outcome: 'ok' }), 1);
    assert.equal(total(scraped, 'evwire_tasks_total', { thread: '2', outcome: 'ok' }), 1);
    assert.ok(total(scraped, 'evwire_io_accepted_total') >= 1);
  });
});
