// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
'use strict';
// Writes the seed corpus of the libFuzzer harnesses (docs/fuzzing.md):
//   native/fuzz/corpus/frame/seed-NNN   for native/fuzz/fuzz_frame.c
//   native/fuzz/corpus/http/seed-NNN    for native/fuzz/fuzz_http.c
// The output is deterministic (the same files, byte for byte, on every run), and the corpus is
// committed: `node scripts/fuzz-seeds.js` after a change here, then commit both directories.
// Files named seed-* that the script no longer writes are removed; any other file in those
// directories (an input worth keeping that a fuzz run found) is left alone.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

// ---- frames: u32 max_frame_bytes (big-endian), then a byte stream of frames ----------------

function u32(v) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

// One frame: the 12-byte header (length defaults to the body's size) and the body.
function frame({ type = 1, flags = 0, seq = 0, body = '', length } = {}) {
  const payload = Buffer.from(body);
  const h = Buffer.alloc(12);
  h.writeUInt32BE((length === undefined ? payload.length : length) >>> 0, 0);
  h.writeUInt16BE(type, 4);
  h.writeUInt16BE(flags, 6);
  h.writeUInt32BE(seq >>> 0, 8);
  return Buffer.concat([h, payload]);
}

function frameSeed(max, ...frames) {
  return Buffer.concat([u32(max), ...frames.map((f) => (Buffer.isBuffer(f) ? f : frame(f)))]);
}

const MB = 1 << 20;
const frameSeeds = [
  frameSeed(MB, {}),
  frameSeed(MB, { body: 'hello' }),
  frameSeed(MB, { type: 7, seq: 1, body: 'a protobuf body would go here' }),
  frameSeed(MB, { type: 0xffff, seq: 0xffffffff, body: 'x' }),
  ...[0, 1, 2, 3, 4, 5, 6, 7].map((flags) => frameSeed(MB, { flags, seq: flags + 1, body: 'f' })),
  frameSeed(MB, { body: 'one' }, { type: 2, body: 'two' }),
  frameSeed(MB, { seq: 1, body: 'a' }, { seq: 2, flags: 2, body: 'b' }, { seq: 3, flags: 6, body: 'c' }),
  frameSeed(MB, ...Array.from({ length: 8 }, (_, i) => ({ type: i + 1, seq: i, body: 'y'.repeat(i) }))),
  frameSeed(MB, {}, {}, {}, {}),
  // Lengths at and around the maximum.
  frameSeed(5, { body: '12345' }),
  frameSeed(4, { body: '12345' }),
  frameSeed(0, {}),
  frameSeed(0, { body: 'z' }),
  frameSeed(16, { length: 17 }),
  frameSeed(MB, { length: MB + 1 }),
  frameSeed(MB, { length: 0xffffffff }),
  frameSeed(0xffffffff, { length: 0xffffffff }),
  frameSeed(0xffffffff, { length: 0xfffffff4, body: 'short' }),
  frameSeed(0x7fffffff, { length: 0x80000000 }),
  // Unknown flag bits, alone and with the other errors (the length is reported first, then the
  // flags, then the type).
  frameSeed(MB, { flags: 0x8 }),
  frameSeed(MB, { flags: 0x10 }),
  frameSeed(MB, { flags: 0x8000 }),
  frameSeed(MB, { flags: 0xffff }),
  frameSeed(MB, { flags: 0xfff8, body: 'q' }),
  frameSeed(MB, { flags: 0x8, type: 0 }),
  frameSeed(16, { flags: 0x8, length: 17 }),
  frameSeed(16, { flags: 0x8, type: 0, length: 17 }),
  // The reserved type 0.
  frameSeed(MB, { type: 0 }),
  frameSeed(MB, { type: 0, body: 'runtime' }),
  frameSeed(MB, { type: 0, flags: 7 }),
  frameSeed(16, { type: 0, length: 17 }),
  // Good frames, then a bad one: the walk stops there.
  frameSeed(MB, { body: 'ok' }, { type: 0 }, { body: 'never read' }),
  frameSeed(MB, { body: 'ok' }, { flags: 0x40 }),
  frameSeed(64, { body: 'ok' }, { length: 65 }),
  // Truncated streams: a header cut short, a body cut short.
  u32(MB),
  Buffer.concat([u32(MB), frame({ body: 'abc' }).subarray(0, 7)]),
  Buffer.concat([u32(MB), frame({ body: 'abcdef' }).subarray(0, 15)]),
  Buffer.concat([u32(MB), frame({ body: 'ok' }), frame({ body: 'abcdef' }).subarray(0, 12)]),
  frameSeed(MB, { length: 100, body: 'not a hundred bytes' }),
  // Bodies that look like headers.
  frameSeed(MB, { body: frame({ type: 0, flags: 0xffff, length: 0xffffffff }) }),
  frameSeed(MB, { length: 12, body: frame({ type: 3 }) }, { type: 4 }),
  // A larger body, and a stream of many small frames.
  frameSeed(MB, { type: 9, body: 'b'.repeat(300) }),
  frameSeed(256, ...Array.from({ length: 20 }, (_, i) => ({ type: 1 + (i % 3), flags: i % 8, seq: i, body: String(i) }))),
  // Random-looking bytes.
  Buffer.from('00000100deadbeefcafebabe0123456789abcdef', 'hex'),
  Buffer.from('ffffffff' + 'ff'.repeat(24), 'hex'),
  Buffer.from('00000000' + '00'.repeat(24), 'hex'),
];

// ---- HTTP: 8 limit bytes (fuzz_http.c reads them), then what the client sends ------------

// The limit bytes. Values are chosen so that fuzz_http.c's formulas give them back exactly.
// `split`: 0 parses everything in one read, 1..15 cuts it into split + 1 reads at points derived
// from the input, 0xf0 + k cuts it into reads of k + 1 bytes.
function limits({ headerBytes = 16384, headers = 100, url = 8192, body = 65536, split = 0 } = {}) {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(headerBytes - 64, 0);
  b[2] = headers - 1;
  b.writeUInt16BE(url - 1, 3);
  b.writeUInt16BE(body === 65536 ? 0xffff : body, 5);
  b[7] = split;
  return b;
}

function httpSeed(text, lim = {}) {
  return Buffer.concat([limits(lim), Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1')]);
}

const CRLF = '\r\n';
const req = (line, headers = [], body = '') => `${line}${CRLF}${headers.map((h) => h + CRLF).join('')}${CRLF}${body}`;
const get = (url = '/', headers = []) => req(`GET ${url} HTTP/1.1`, ['Host: example.com', ...headers]);
const post = (body, headers = []) =>
  req('POST /submit HTTP/1.1', ['Host: example.com', `Content-Length: ${Buffer.byteLength(body)}`, ...headers], body);
const chunked = (chunks, trailers = [], headers = []) =>
  req('POST /upload HTTP/1.1', ['Host: example.com', 'Transfer-Encoding: chunked', ...headers]) +
  chunks.map((c) => (typeof c === 'string' ? `${Buffer.byteLength(c).toString(16)}${CRLF}${c}${CRLF}` : c.raw)).join('') +
  `0${CRLF}${trailers.map((t) => t + CRLF).join('')}${CRLF}`;

const httpSeeds = [
  // Plain requests.
  httpSeed(get()),
  httpSeed(get('/search?q=evwire&lang=en', ['User-Agent: seed/1.0', 'Accept: */*', 'Accept-Encoding: gzip, br'])),
  httpSeed(post('name=value&other=1')),
  httpSeed(post('{"a":1}', ['Content-Type: application/json']), { split: 3 }),
  httpSeed(req('POST /empty HTTP/1.1', ['Host: a', 'Content-Length: 0'])),
  httpSeed(req('POST /zeros HTTP/1.1', ['Host: a', 'Content-Length: 007'], '1234567')),
  httpSeed(req('HEAD /x HTTP/1.1', ['Host: a'])),
  httpSeed(req('PUT /x HTTP/1.1', ['Host: a', 'Content-Length: 3'], 'put')),
  httpSeed(req('DELETE /x/1 HTTP/1.1', ['Host: a'])),
  httpSeed(req('PATCH /x HTTP/1.1', ['Host: a', 'Content-Length: 2'], '{}')),
  httpSeed(req('OPTIONS * HTTP/1.1', ['Host: a'])),
  httpSeed(req('M-SEARCH * HTTP/1.1', ['Host: 239.255.255.250:1900', 'MAN: "ssdp:discover"', 'MX: 1', 'ST: ssdp:all'])),
  httpSeed(req('GET http://example.com/abs?x=1 HTTP/1.1', ['Host: example.com'])),
  httpSeed(req('GET / HTTP/1.0', [])),
  httpSeed(req('GET / HTTP/1.0', ['Host: a'])),
  // Keep-alive, close, pipelining.
  httpSeed(req('GET / HTTP/1.0', ['Connection: keep-alive']) + req('GET /2 HTTP/1.0', ['Connection: keep-alive'])),
  httpSeed(get('/', ['Connection: close']) + get('/after-close')),
  httpSeed(get('/1') + get('/2')),
  httpSeed(get('/1') + get('/2'), { split: 0xf0 }),
  httpSeed(post('abc') + get('/next'), { split: 5 }),
  httpSeed(get('/1') + post('xyz') + get('/3', ['Connection: close'])),
  httpSeed(get('/a', ['Connection: keep-alive']) + req('GET /b HTTP/1.0', [])),
  httpSeed(CRLF + CRLF + get('/after-empty-lines')),
  httpSeed(get('/1') + CRLF + get('/2')),
  // Chunked bodies, extensions, trailers.
  httpSeed(chunked(['hello', ' world'])),
  httpSeed(chunked([{ raw: `5;name=value${CRLF}hello${CRLF}` }, { raw: `6;a;b="quoted value"${CRLF} world${CRLF}` }], ['X-Checksum: abc123', 'X-Count: 2'])),
  httpSeed(chunked(['abc'], ['X-Trailer: 1']), { split: 0xf0 }),
  httpSeed(chunked([], ['X-Only-Trailer: yes'])),
  httpSeed(chunked(['0123456789abcdef'.repeat(4)]), { split: 0xf6 }),
  httpSeed(chunked(['x'], [], ['Trailer: X-Sum']) + get('/next')),
  httpSeed(chunked(['data'], ['Content-Length: 4'])),
  httpSeed(chunked(['data'], ['Host: evil'])),
  httpSeed(req('POST /te HTTP/1.1', ['Host: a', 'Transfer-Encoding: gzip, chunked']) + `2${CRLF}gz${CRLF}0${CRLF}${CRLF}`),
  httpSeed(req('POST /te HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked', 'Transfer-Encoding: chunked']) + `0${CRLF}${CRLF}`),
  httpSeed(req('POST /te HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked']) + `zz${CRLF}oops${CRLF}0${CRLF}${CRLF}`),
  httpSeed(req('POST /te HTTP/1.1', ['Host: a', 'Transfer-Encoding: chunked']) + `3${CRLF}abcdef${CRLF}0${CRLF}${CRLF}`),
  // Strictness: each of these is answered 400 (or 501, 505).
  httpSeed(req('GET / HTTP/1.1', ['Host: a', 'X-Folded: first', ' continued'])),
  httpSeed('GET / HTTP/1.1\nHost: a\r\n\r\n'),
  httpSeed('GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n'),
  httpSeed('GET / HTTP/1.1\r\nHost: a\r\n\n'),
  httpSeed('GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n'),
  httpSeed(req('GET / HTTP/1.1', ['Accept: */*'])),
  httpSeed(req('GET / HTTP/1.1', ['Host: a', 'Host: b'])),
  httpSeed(req('POST / HTTP/1.1', ['Host: a', 'Content-Length: 3', 'Transfer-Encoding: chunked'], `3${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  httpSeed(req('POST / HTTP/1.1', ['Host: a', 'Content-Length: 3', 'Content-Length: 3'], 'abc')),
  httpSeed(req('POST / HTTP/1.0', ['Transfer-Encoding: chunked'], `3${CRLF}abc${CRLF}0${CRLF}${CRLF}`)),
  httpSeed(req('POST / HTTP/1.1', ['Host: a', 'Transfer-Encoding: gzip'], 'abc')),
  httpSeed(req('POST / HTTP/1.1', ['Host: a', 'Content-Length: 5a'], 'abcde')),
  httpSeed(req('POST / HTTP/1.1', ['Host: a', 'Content-Length: -1'])),
  httpSeed(req('GET / HTTP/1.1', ['Host: a', 'Bad Name: x'])),
  httpSeed(req('GET / HTTP/1.1', ['Host: a', ':no-name'])),
  httpSeed(req('GET / HTTP/1.1', ['Host: a', 'X: nul\0here'])),
  httpSeed(req('GET  / HTTP/1.1', ['Host: a'])),
  httpSeed(req('get / HTTP/1.1', ['Host: a'])),
  httpSeed(req('CONNECT example.com:443 HTTP/1.1', ['Host: example.com:443'])),
  httpSeed(req('GET / HTTP/2.0', ['Host: a'])),
  httpSeed(req('GET / HTTP/1.2', ['Host: a'])),
  httpSeed(req('DESCRIBE rtsp://example.com/media RTSP/1.0', ['CSeq: 1'])),
  // Expect, Upgrade.
  httpSeed(post('expected body', ['Expect: 100-continue'])),
  httpSeed(get('/', ['Expect: 100-continue'])),
  httpSeed(get('/', ['Connection: Upgrade, HTTP2-Settings', 'Upgrade: h2c', 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA']) + get('/after-upgrade')),
  httpSeed(get('/chat', ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'])),
  // Field shapes.
  httpSeed(get('/', ['X-Empty:', 'X-Spaces:    padded   ', 'X-Tab:\tvalue\twith\ttabs'])),
  httpSeed(get('/', ['X-Obs-Text: caf\xe9 \xff\x80'])),
  httpSeed(get('/', ['CONTENT-TYPE: text/plain', 'X-MiXeD-CaSe: 1', "x-token!#$%&'*+-.^_`|~: ok"])),
  httpSeed(get('/', Array.from({ length: 12 }, (_, i) => `X-H${i}: ${i}`))),
  // Limits: each is hit.
  httpSeed(get('/', [`X-Long: ${'v'.repeat(200)}`]), { headerBytes: 128 }),
  httpSeed(get('/' + 'u'.repeat(100)), { url: 64 }),
  httpSeed(get('/', ['A: 1', 'B: 2', 'C: 3']), { headers: 3 }),
  httpSeed(chunked(['abc'], ['X-T: 1']), { headers: 2 }),
  httpSeed(post('0123456789'), { body: 9 }),
  httpSeed(post('x'), { body: 0 }),
  httpSeed(chunked(['12345', '67890']), { body: 8, split: 2 }),
  httpSeed(req('GET / HTTP/1.1', ['Host: a']), { headerBytes: 64, headers: 1, url: 1, body: 0 }),
  // Incomplete: the parser waits for more.
  httpSeed('GET /incomplete HTTP/1.1\r\nHost: a\r\n'),
  httpSeed(req('POST / HTTP/1.1', ['Host: a', 'Content-Length: 10'], 'short')),
  // Connection options that llhttp 9.2 reads differently from RFC 9112 9.3 (docs/fuzzing.md,
  // finding 3): an option followed by HTAB, and HTTP/1.0 with both options.
  httpSeed(get('/', ['Connection: close\t']) + get('/after-close')),
  httpSeed(req('GET / HTTP/1.0', ['Connection: keep-alive\t']) + req('GET /2 HTTP/1.0', [])),
  httpSeed(req('GET / HTTP/1.0', ['Connection: keep-alive, close']) + req('GET /2 HTTP/1.0', [])),
  httpSeed(get('/', ['Connection: foo , CLOSE ']) + get('/after-close')),
  // Request lines of other protocols that llhttp parses (finding 1), and near misses.
  httpSeed(req('GET / RTSP/1.0', [])),
  httpSeed(req('SOURCE /stream ICE/1.0', [])),
  httpSeed(req('GET /HTTP/1.1', ['Host: a'])),
  httpSeed(req('GET / http/1.1', ['Host: a'])),
  // Heads whose bytes llhttp skips (finding 4): whitespace before a value, between the method
  // and the URL, and empty lines before the request line, each over a 128-byte limit.
  httpSeed(get('/', [`X:${' '.repeat(200)}a`]), { headerBytes: 128 }),
  httpSeed(req(`GET${' '.repeat(200)}/ HTTP/1.1`, ['Host: a']), { headerBytes: 128 }),
  httpSeed('\r\n'.repeat(100) + get('/'), { headerBytes: 128 }),
];

// ---- writing -------------------------------------------------------------------------------

function write(dir, seeds) {
  const abs = path.join(root, dir);
  fs.mkdirSync(abs, { recursive: true });
  for (const f of fs.readdirSync(abs)) if (/^seed-\d+$/.test(f)) fs.rmSync(path.join(abs, f));
  seeds.forEach((b, i) => fs.writeFileSync(path.join(abs, `seed-${String(i + 1).padStart(3, '0')}`), b));
  const bytes = seeds.reduce((n, b) => n + b.length, 0);
  console.log(`fuzz-seeds: ${seeds.length} seeds (${bytes} bytes) in ${dir}`);
}

write('native/fuzz/corpus/frame', frameSeeds);
write('native/fuzz/corpus/http', httpSeeds);
