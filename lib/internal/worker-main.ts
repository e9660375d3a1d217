// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The entry point of every work thread: attach this thread's port, learn the servers, load the
// user's module, and answer the main thread's control messages (lib/internal/pool.ts).
import { parentPort, workerData } from 'worker_threads';
import { worker, WorkThread } from '../worker';
import type { ToWorker, WorkData } from './pool';
import { kLimits } from './symbols';

// TypeScript compiles import() to require() for CommonJS output, which cannot load an ES
// module; a Function keeps the real dynamic import.
const dynamicImport = new Function('u', 'return import(u)') as (u: string) => Promise<unknown>;

async function main(): Promise<void> {
  const data = workerData as WorkData;
  const port = parentPort!;
  const t = new WorkThread(data, worker);
  worker.thread = t;
  worker.data = data.data;
  // A rejected promise in a handler is logged, like a throw, instead of ending the thread.
  process.on('unhandledRejection', (err) => t.logger.error({ err }, 'unhandled rejection on a work thread'));
  for (const desc of data.servers) t.addServer(desc);
  port.on('message', (m: ToWorker) => {
    switch (m.t) {
      case 'server':
        if (!t.servers.has(m.desc.id)) t.addServer(m.desc);
        port.postMessage({ t: 'ack', seq: m.seq });
        break;
      case 'limits':
        t.servers.get(m.id)?.[kLimits](m.limits);
        break;
      case 'unlistened':
        void t.unlistenedServer(m.id).then(() => port.postMessage({ t: 'ack', seq: m.seq }));
        break;
      case 'count':
        port.postMessage({ t: 'ack', seq: m.seq, value: t.servers.get(m.id)?.stats().connections ?? 0 });
        break;
      case 'closeConns': {
        const s = t.servers.get(m.id);
        if (m.idleOnly) s?.closeIdleConnections();
        else s?.closeAllConnections();
        break;
      }
      case 'drainConns':
        void t.drainConnections(m.ms).then(() => port.postMessage({ t: 'ack', seq: m.seq }));
        break;
      case 'died':
        t.tasks.threadDied(m.index, m.epoch);
        break;
      case 'drain':
        t.tasks.drain(m.ms).then(() => port.postMessage({ t: 'ack', seq: m.seq }));
        break;
      case 'stopped':
        t.stopped();
        port.postMessage({ t: 'ack', seq: m.seq });
        break;
    }
  });
  try {
    if (data.module !== '') await dynamicImport(data.module);
  } catch (err) {
    const e = err as Error;
    port.postMessage({ t: 'failed', message: e?.message ?? String(err), stack: e?.stack });
    return;
  }
  port.postMessage({ t: 'ready' });
}

main().catch((err) => parentPort!.postMessage({ t: 'failed', message: (err as Error)?.message ?? String(err) }));
