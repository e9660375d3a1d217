// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// An HTTP/1.1 API: JSON routes and a streamed response that honours backpressure and ends.
//   npm run example http-api             (PORT=8080, HOST=localhost)
//   curl localhost:8080/hello; curl -d '{"name":"ada"}' localhost:8080/users/7; curl localhost:8080/stream
import { Runtime } from 'evwire';

const rt = await Runtime.start();
// #region http
const http = await rt.listen({ protocol: 'http', host: process.env.HOST ?? 'localhost', port: Number(process.env.PORT ?? 8080) });
http.route('GET', '/hello', (req, res) => res.end('Hello, World!'));
http.route('POST', '/users/:id', async (req, res) => {
  const body = await req.json();            // also req.body() (Buffer) and req.text()
  res.status(201).json({ id: req.params.id, body });
});
http.get('/stream', (req, res) => {
  res.setHeader('Content-Type', 'text/plain');
  const parts = Number(req.query.get('parts') ?? 5);
  let sent = 0;
  const pump = (): void => {
    while (sent < parts) {
      // write() sends a chunk (chunked encoding); false: above the high watermark, wait for 'drain'.
      if (!res.write(`part ${++sent}\n`)) return;
    }
    res.end('done\n');                       // every part written: finish the response
  };
  res.on('drain', pump);
  res.on('abort', () => { /* the client went away: res.aborted is true, writes are no-ops */ });
  pump();
});
http.fallback((req, res) => res.status(404).json({ error: `no route for ${req.method} ${req.path}` }));
// #endregion http
rt.logger.info({ port: http.address().port }, 'listening');

for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void rt.close());
