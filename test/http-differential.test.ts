// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// Differential test: the same hostile requests go to evwire and to Node's own http server
// (llhttp 9 inside Node), each on a fresh connection; both must take the same decision, accept
// (the handler runs) or reject (an error status, or a close without an answer), except where
// evwire is deliberately stricter, listed in STRICTER with the reason (also in docs/http.md).
import { strict as assert } from 'assert';
import { once } from 'events';
import * as http from 'http';
import * as net from 'net';
import { Runtime } from '../dist/index';

type Decision = 'accept' | 'reject';

const CASES: Record<string, string> = {
  'plain GET': 'GET / HTTP/1.1\r\nHost: x\r\n\r\n',
  'HTTP/1.0 without Host': 'GET / HTTP/1.0\r\n\r\n',
  'POST with Content-Length': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
  'chunked with extension and trailer': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX-T: 1\r\n\r\n',
  'empty lines before the request line': '\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n',
  'obs-fold continuation': 'GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n',
  'obs-fold smuggled Content-Length': 'POST /sp HTTP/1.1\r\nHost: x\r\n Content-Length: 30\r\n\r\n',
  'obs-fold Transfer-Encoding': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n',
  'bare LF after the request line': 'GET / HTTP/1.1\nHost: x\r\n\r\n',
  'bare LF after a header': 'GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n',
  'bare CR in a header line': 'GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n',
  'empty header name': 'GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n',
  'space before the colon': 'GET / HTTP/1.1\r\nHost: x\r\nX-A : 1\r\n\r\n',
  'missing Host in HTTP/1.1': 'GET / HTTP/1.1\r\n\r\n',
  'Content-Length and Transfer-Encoding': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'two different Content-Lengths': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
  'Content-Length with a sign': 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc',
  'Transfer-Encoding not ending in chunked': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n',
  'chunk size with junk': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3x\r\nabc\r\n0\r\n\r\n',
  'chunk extensions above 16 KiB': `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;${'e'.repeat(20000)}\r\na\r\n0\r\n\r\n`,
  'NUL in a header value': 'GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n',
  'HTTP/2.0 version': 'GET / HTTP/2.0\r\nHost: x\r\n\r\n',
  'HTTP/1.2 version': 'GET / HTTP/1.2\r\nHost: x\r\n\r\n',
  'unknown method': 'FOO / HTTP/1.1\r\nHost: x\r\n\r\n',
  'Upgrade: h2c': 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n',
  'Upgrade: websocket': 'GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  'CONNECT': 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
  'space in the URL': 'GET /a b HTTP/1.1\r\nHost: x\r\n\r\n',
  'duplicate Host': 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n',
  'HTTP/1.0 with chunked Transfer-Encoding': 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n',
  'Content-Length trailer': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nContent-Length: 5\r\n\r\n',
  'Host trailer': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nHost: evil\r\n\r\n',
  'GET with an RTSP/1.0 request line': 'GET / RTSP/1.0\r\n\r\n',
  'SOURCE with an ICE/1.0 request line': 'SOURCE / ICE/1.0\r\n\r\n',
  'a 20 KiB head, most of it whitespace before a value': `GET / HTTP/1.1\r\nHost: x\r\nX:${' '.repeat(20000)}a\r\n\r\n`,
  'Connection: close followed by HTAB': 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\t\r\n\r\n',
  'chunked, then an empty Transfer-Encoding line': 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: \r\n\r\n0\r\n\r\n',
};

/** Where evwire rejects what Node accepts, on purpose. */
const STRICTER: Record<string, string> = {
  'duplicate Host': 'RFC 9112 3.2: a server MUST answer 400 to more than one Host; Node checks presence only',
  'HTTP/1.0 with chunked Transfer-Encoding': 'RFC 9112 6.1 calls the framing faulty; nginx answers 400, Node serves it and closes',
  'HTTP/2.0 version': 'a request line of major version 2 is not HTTP/1.x: 505 (RFC 9110 15.6.6); Node serves it as HTTP/1.1',
  'Host trailer': 'RFC 9110 6.5.1: routing fields may not be trailers; Node keeps them in req.trailers',
  'GET with an RTSP/1.0 request line': 'not HTTP (RFC 9112 2.3: HTTP-version is "HTTP/" DIGIT "." DIGIT); llhttp parses RTSP and Node serves it as HTTP/1.0',
  'SOURCE with an ICE/1.0 request line': 'not HTTP, as above; llhttp parses ICE (SHOUTcast) and Node serves it',
  'chunked, then an empty Transfer-Encoding line':
    'the last Transfer-Encoding line must end in chunked: llhttp (and Node) frame the body chunked after an empty line, where a proxy that reads the last line would not (smuggling); fuzzing finding 6',
  'a 20 KiB head, most of it whitespace before a value': 'maxHeaderBytes (16 KiB) counts every byte of the head; Node counts only the bytes llhttp hands over, not the whitespace it skips',
};

/** Sends `bytes` on a fresh connection and tells what the server decided. */
async function decide(port: number, bytes: string, handled: () => number): Promise<Decision> {
  const before = handled();
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => undefined);
  await once(s, 'connect');
  let got = '';
  s.on('data', (d: Buffer) => (got += d.toString('latin1')));
  s.write(bytes);
  // Either side ends the exchange: the first status line read, or the close.
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (/^HTTP\/1\.[01] \d{3}/.test(got) || s.destroyed) resolve();
    };
    s.on('data', check);
    s.on('close', resolve);
    check();
  });
  s.destroy();
  const status = Number(got.slice(9, 12));
  if (status >= 200 && status < 300 && handled() > before) return 'accept';
  return 'reject';
}

describe('http: differential test against Node http', () => {
  let rt: Runtime;
  let node: http.Server;
  let evPort = 0;
  let nodePort = 0;
  let evHandled = 0;
  let nodeHandled = 0;

  before(async () => {
    rt = await Runtime.start({ ioThreads: 1, logger: { level: 'silent' } });
    const server = await rt.listen({ protocol: 'http', host: '127.0.0.1', port: 0 });
    server.fallback((_req, res) => {
      evHandled++;
      res.end('ok');
    });
    evPort = server.address().port;
    node = http.createServer((req, res) => {
      nodeHandled++;
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    node.on('clientError', (_err, socket) => socket.destroy());
    node.listen(0, '127.0.0.1');
    await once(node, 'listening');
    nodePort = (node.address() as net.AddressInfo).port;
  });

  after(async () => {
    node.close();
    await rt.close();
  });

  it('takes the same accept/reject decision as Node for every hostile request, except the documented ones', async () => {
    const table: string[] = [];
    const mismatches: string[] = [];
    for (const [name, bytes] of Object.entries(CASES)) {
      const ev = await decide(evPort, bytes, () => evHandled);
      const nd = await decide(nodePort, bytes, () => nodeHandled);
      table.push(`${name}: evwire ${ev}, node ${nd}`);
      if (STRICTER[name] !== undefined) {
        if (!(ev === 'reject' && nd === 'accept')) mismatches.push(`${name}: listed as stricter than Node, but evwire ${ev}, node ${nd}`);
      } else if (ev !== nd) mismatches.push(`${name}: evwire ${ev}, node ${nd}`);
    }
    assert.deepEqual(mismatches, [], table.join('\n'));
  });
});
