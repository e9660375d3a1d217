// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// HTTP/1.1 on the native core (DESIGN section 7). Requests are parsed by llhttp on the IO
// threads and arrive complete (method, URL, lower-cased headers, body); limits, malformed
// requests and timeouts were already answered natively. Here: routing, the request and response
// objects, and pipelining: responses leave in request order whatever order handlers finish in.
import { Buffer } from 'buffer';
import { EventEmitter } from 'events';
import type { Connection } from './connection';
import { InvalidArgumentError, check } from './errors';
import type { Engine } from './internal/engine';
import { kHttp, kHttpRequest, kWrote } from './internal/symbols';
import { native } from './native';
import { Server, type ServerHost, type ServerStats } from './server';

/** What listen({ protocol: 'http' }) takes. */
export interface HttpListenOptions {
  protocol: 'http';
  host?: string;
  port?: number;
  backlog?: number;
  reusePort?: boolean;
  distribution?: 'round-robin' | 'least-connections';
  /** Request line and headers, bytes. Default 16 KiB; above: 431. */
  maxHeaderBytes?: number;
  /** Header count. Default 100; above: 431. */
  maxHeaders?: number;
  /** URL bytes. Default 8 KiB; above: 414. */
  maxUrlBytes?: number;
  /** Body bytes. Default 1 MiB; above: 413. */
  maxBodyBytes?: number;
  /** From the accept (or a request's first byte) to the end of its headers. Default 60 s; 408. */
  headerTimeoutMs?: number;
  /** From the headers to the end of the body. Default 60 s; 408. */
  bodyTimeoutMs?: number;
  /** Idle time between requests before the connection is closed. Default 5 s. */
  keepAliveTimeoutMs?: number;
  /** Requests per connection, then Connection: close. Default 0 (no limit). */
  maxRequestsPerConnection?: number;
  highWatermark?: number;
  lowWatermark?: number;
  maxBufferedBytes?: number;
  noDelay?: boolean;
}

export type HttpHandler = (req: HttpRequest, res: HttpResponse) => unknown;

const REQ_FIXED = 20;
const F_KEEP_ALIVE = 1;
const F_LAST = 2;

/** Status reason phrases (RFC 9110). */
const REASONS: Record<number, string> = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted',
  203: 'Non-Authoritative Information', 204: 'No Content', 205: 'Reset Content', 206: 'Partial Content',
  300: 'Multiple Choices', 301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified',
  307: 'Temporary Redirect', 308: 'Permanent Redirect', 400: 'Bad Request', 401: 'Unauthorized',
  402: 'Payment Required', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  406: 'Not Acceptable', 408: 'Request Timeout', 409: 'Conflict', 410: 'Gone', 411: 'Length Required',
  412: 'Precondition Failed', 413: 'Content Too Large', 414: 'URI Too Long', 415: 'Unsupported Media Type',
  416: 'Range Not Satisfiable', 417: 'Expectation Failed', 421: 'Misdirected Request',
  422: 'Unprocessable Content', 425: 'Too Early', 426: 'Upgrade Required', 428: 'Precondition Required',
  429: 'Too Many Requests', 431: 'Request Header Fields Too Large', 451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable',
  504: 'Gateway Timeout', 505: 'HTTP Version Not Supported',
};

// A header name is a token; a value has no CR, LF or NUL (response splitting) and is latin1.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]|[^\t\x20-\xff]/;

let dateSec = 0;
let dateStr = '';
/** The Date header, formatted once a second. */
function httpDate(): string {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== dateSec) {
    dateSec = sec;
    dateStr = new Date(now).toUTCString();
  }
  return dateStr;
}

/** A request, complete: headers, body and all. Strings and body are copies, safe to keep. */
export class HttpRequest {
  readonly method: string;
  /** The request target as sent: path and query. */
  readonly url: string;
  readonly path: string;
  /** Route parameters (`/users/:id` gives `params.id`). */
  params: Record<string, string> = {};
  /** Header values by lower-cased name; a repeated header is an array of its values in order. */
  readonly headers: Record<string, string | string[]>;
  /** Every header as sent, name (lower-cased) and value, repeats kept: [name, value, ...]. */
  readonly rawHeaders: string[];
  readonly httpVersion: string;
  /** The connection the request came on (remote address and port). */
  readonly connection: Connection;
  #body: Buffer;
  #query: URLSearchParams | null = null;
  #res: HttpResponse | null = null;

  /** @internal */
  constructor(conn: Connection, method: string, url: string, version: string, raw: string[], body: Buffer) {
    this.connection = conn;
    this.method = method;
    this.url = url;
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.httpVersion = version;
    this.rawHeaders = raw;
    const h: Record<string, string | string[]> = Object.create(null);
    for (let i = 0; i < raw.length; i += 2) {
      const prev = h[raw[i]];
      if (prev === undefined) h[raw[i]] = raw[i + 1];
      else if (typeof prev === 'string') h[raw[i]] = [prev, raw[i + 1]];
      else prev.push(raw[i + 1]);
    }
    this.headers = h;
    this.#body = body;
  }

  /** The first value of a header (case-insensitive name), or undefined. */
  header(name: string): string | undefined {
    const v = this.headers[name.toLowerCase()];
    return Array.isArray(v) ? v[0] : v;
  }

  /** The query string, parsed. */
  get query(): URLSearchParams {
    if (this.#query === null) {
      const q = this.url.indexOf('?');
      this.#query = new URLSearchParams(q < 0 ? '' : this.url.slice(q + 1));
    }
    return this.#query;
  }

  /** The body (already complete when the handler runs). */
  body(): Promise<Buffer> {
    return Promise.resolve(this.#body);
  }

  text(): Promise<string> {
    return Promise.resolve(this.#body.toString('utf8'));
  }

  /** The body parsed as JSON; rejects with InvalidArgumentError on bad JSON. */
  json<T = unknown>(): Promise<T> {
    try {
      return Promise.resolve(JSON.parse(this.#body.toString('utf8')) as T);
    } catch (err) {
      return Promise.reject(new InvalidArgumentError('EW_EINVAL', 'request body is not JSON', { cause: err }));
    }
  }

  /** True once the client has gone (the response can no longer be delivered). */
  get aborted(): boolean {
    return this.#res?.aborted ?? false;
  }

  /** @internal */
  setResponse(res: HttpResponse): void {
    this.#res = res;
  }
}

export interface HttpResponseEvents {
  abort: [];
  finish: [];
  drain: [];
}

/**
 * A response. end() sends it whole (one write, Content-Length); write() before end() streams it
 * (chunked). After the client aborts, `aborted` is true, 'abort' fires once, and further writes
 * do nothing, never throw.
 */
export class HttpResponse extends EventEmitter<HttpResponseEvents> {
  statusCode = 200;
  /** True once the response is complete (end() was called). */
  finished = false;
  /** True once the client went away before the response was delivered. */
  aborted = false;
  readonly #pipe: HttpPipeline;
  readonly #head: boolean;
  readonly #keepAlive: boolean;
  readonly #http10: boolean;
  #headers = new Map<string, [string, string | string[]]>();
  #headersSent = false;
  #chunked = false;
  /** Bytes produced while an earlier response still owns the connection. */
  #held: { head: string; body: Uint8Array | null; tail: string; end: boolean }[] = [];

  /** @internal */
  constructor(pipe: HttpPipeline, head: boolean, keepAlive: boolean, http10: boolean) {
    super();
    this.#pipe = pipe;
    this.#head = head;
    this.#keepAlive = keepAlive;
    this.#http10 = http10;
  }

  get headersSent(): boolean {
    return this.#headersSent;
  }

  /** Sets the status code. Chainable. */
  status(code: number): this {
    check(Number.isInteger(code) && code >= 100 && code <= 999, `status must be an integer 100..999, got ${code}`);
    this.statusCode = code;
    return this;
  }

  /** Sets a header (replacing one of the same name). Chainable. */
  setHeader(name: string, value: string | number | readonly string[]): this {
    check(!this.#headersSent, 'headers were already sent');
    check(typeof name === 'string' && TOKEN.test(name), `invalid header name ${JSON.stringify(name)}`);
    const v = Array.isArray(value) ? value.map(String) : String(value);
    for (const x of Array.isArray(v) ? v : [v]) check(!BAD_VALUE.test(x), `invalid value for header ${name}`);
    this.#headers.set(name.toLowerCase(), [name, v]);
    return this;
  }

  getHeader(name: string): string | string[] | undefined {
    return this.#headers.get(name.toLowerCase())?.[1];
  }

  removeHeader(name: string): this {
    check(!this.#headersSent, 'headers were already sent');
    this.#headers.delete(name.toLowerCase());
    return this;
  }

  /** Sets the status and headers at once. Chainable. */
  writeHead(status: number, headers?: Record<string, string | number | readonly string[]>): this {
    this.status(status);
    if (headers !== undefined) for (const [k, v] of Object.entries(headers)) this.setHeader(k, v);
    return this;
  }

  /** Streams a chunk (chunked transfer encoding unless Content-Length was set). Returns false
   * when the connection's output is above its high watermark: wait for 'drain'. */
  write(chunk: Uint8Array | string): boolean {
    if (this.finished || this.aborted) return false;
    const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let head = '';
    if (!this.#headersSent) {
      if (!this.#headers.has('content-length') && !this.#http10) {
        this.#chunked = true;
        this.#headers.set('transfer-encoding', ['Transfer-Encoding', 'chunked']);
      }
      head = this.#formatHead();
    }
    if (this.#head || body.length === 0) {
      if (head !== '') this.#out(head, null, '', false);
      return this.#pipe.writable();
    }
    if (this.#chunked) this.#out(`${head}${body.length.toString(16)}\r\n`, body, '\r\n', false);
    else this.#out(head, body, '', false);
    return this.#pipe.writable();
  }

  /** Finishes the response, with an optional last body. Idempotent. */
  end(body?: Uint8Array | string): void {
    if (this.finished || this.aborted) return;
    const b = body === undefined ? null : typeof body === 'string' ? Buffer.from(body) : body;
    this.finished = true;
    if (!this.#headersSent) {
      // The whole response at once: Content-Length, one record.
      if (!this.#headers.has('content-length') && !this.#noBodyStatus())
        this.#headers.set('content-length', ['Content-Length', String(b === null ? 0 : b.length)]);
      const head = this.#formatHead();
      this.#out(head, this.#head || this.#noBodyStatus() ? null : b, '', true);
    } else if (this.#chunked) {
      const last = b !== null && b.length !== 0 && !this.#head ? `${b.length.toString(16)}\r\n` : '';
      this.#out(last, last === '' ? null : b, last === '' ? '0\r\n\r\n' : '\r\n0\r\n\r\n', true);
    } else {
      this.#out('', this.#head ? null : b, '', true);
    }
    this.emit('finish');
  }

  /** Sends `value` as JSON (application/json). */
  json(value: unknown): void {
    if (!this.#headers.has('content-type')) this.setHeader('Content-Type', 'application/json; charset=utf-8');
    this.end(JSON.stringify(value));
  }

  #noBodyStatus(): boolean {
    return this.statusCode === 204 || this.statusCode === 304 || (this.statusCode >= 100 && this.statusCode < 200);
  }

  #formatHead(): string {
    this.#headersSent = true;
    const close = !this.#keepAlive;
    let s = `HTTP/1.1 ${this.statusCode} ${REASONS[this.statusCode] ?? 'Unknown'}\r\n`;
    for (const [, [name, v]] of this.#headers) {
      if (Array.isArray(v)) for (const x of v) s += `${name}: ${x}\r\n`;
      else s += `${name}: ${v}\r\n`;
    }
    if (!this.#headers.has('date')) s += `Date: ${httpDate()}\r\n`;
    if (!this.#headers.has('connection')) {
      if (close) s += 'Connection: close\r\n';
      else if (this.#http10) s += 'Connection: keep-alive\r\n';
    }
    return `${s}\r\n`;
  }

  /** Writes now if this response owns the connection, else keeps the bytes for its turn. */
  #out(head: string, body: Uint8Array | null, tail: string, end: boolean): void {
    if (this.#pipe.isHead(this)) this.#pipe.send(head, body, tail, end);
    else this.#held.push({ head, body: body === null ? null : Buffer.from(body), tail, end });
    if (end) this.#pipe.finished(this);
  }

  /** @internal This response now owns the connection: write what it produced meanwhile. */
  flushHeld(): void {
    for (const h of this.#held) this.#pipe.send(h.head, h.body, h.tail, h.end);
    this.#held = [];
  }

  /** @internal */
  abort(): void {
    if (this.aborted || this.finished) return;
    this.aborted = true;
    this.#held = [];
    this.emit('abort');
  }

  /** @internal */
  get closesConnection(): boolean {
    return !this.#keepAlive;
  }
}

/** Per-connection state: the responses owed, in request order. */
class HttpPipeline {
  readonly #conn: Connection;
  readonly #engine: Engine;
  readonly #queue: HttpResponse[] = [];
  #chunks: Buffer[] | null = null;
  #peerEnded = false;
  #closing = false;
  #writable = true;

  constructor(conn: Connection, engine: Engine) {
    this.#conn = conn;
    this.#engine = engine;
  }

  isHead(res: HttpResponse): boolean {
    return this.#queue[0] === res;
  }

  /** Whether the connection is below its high watermark after the last write. */
  writable(): boolean {
    return this.#writable;
  }

  send(head: string, body: Uint8Array | null, tail: string, end: boolean): void {
    if (this.#conn.closed) return;
    this.#engine.sendHttp(this.#conn, head, body, tail, end);
    this.#writable = this.#conn[kWrote](head.length + (body === null ? 0 : body.length) + tail.length);
  }

  /** `res` ended. If it is at the head, the responses behind it that are done follow at once. */
  finished(res: HttpResponse): void {
    if (!this.isHead(res)) return;
    while (this.#queue.length !== 0 && this.#queue[0].finished) {
      const done = this.#queue.shift()!;
      if (done.closesConnection) {
        this.#closing = true;
        this.#conn.end();
        for (const r of this.#queue) r.abort();
        this.#queue.length = 0;
        return;
      }
      const next = this.#queue[0];
      if (next !== undefined) next.flushHeld();
    }
    if (this.#queue.length === 0 && this.#peerEnded) this.#conn.end();
  }

  push(res: HttpResponse): void {
    this.#queue.push(res);
  }

  /** A request record or fragment. Returns the complete bytes, or null while fragments come. */
  collect(shm: Buffer, off: number, len: number, more: boolean): Buffer | null {
    if (more) {
      (this.#chunks ??= []).push(Buffer.from(shm.subarray(off, off + len)));
      return null;
    }
    if (this.#chunks !== null) {
      this.#chunks.push(shm.subarray(off, off + len));
      const all = Buffer.concat(this.#chunks);
      this.#chunks = null;
      return all;
    }
    return shm.subarray(off, off + len);
  }

  peerEnded(): void {
    this.#peerEnded = true;
    if (this.#queue.length === 0 && !this.#closing) this.#conn.end();
  }

  drain(): void {
    this.#writable = true;
    this.#queue[0]?.emit('drain');
  }

  closed(): void {
    for (const r of this.#queue) r.abort();
    this.#queue.length = 0;
  }
}

interface Route {
  segments: string[]; // ':name' for a parameter
  handler: HttpHandler;
}

/** Routes by method and path: exact paths from a map, parameterised ones by segment. */
class Router {
  readonly #exact = new Map<string, HttpHandler>();
  readonly #params = new Map<string, Route[]>();

  add(method: string, path: string, handler: HttpHandler): void {
    check(typeof path === 'string' && path.startsWith('/'), `route path must start with /, got ${JSON.stringify(path)}`);
    check(typeof handler === 'function', 'route handler must be a function');
    const m = method.toUpperCase();
    if (!path.includes('/:')) {
      this.#exact.set(`${m} ${path}`, handler);
      return;
    }
    let list = this.#params.get(m);
    if (list === undefined) this.#params.set(m, (list = []));
    list.push({ segments: path.split('/').slice(1), handler });
  }

  match(method: string, path: string): { handler: HttpHandler; params: Record<string, string> } | null {
    const exact = this.#exact.get(`${method} ${path}`);
    if (exact !== undefined) return { handler: exact, params: {} };
    const list = this.#params.get(method);
    if (list === undefined) return null;
    const parts = path.split('/').slice(1);
    for (const r of list) {
      if (r.segments.length !== parts.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < parts.length && ok; i++) {
        const s = r.segments[i];
        if (s.startsWith(':')) {
          try {
            params[s.slice(1)] = decodeURIComponent(parts[i]);
          } catch {
            params[s.slice(1)] = parts[i];
          }
        } else if (s !== parts[i]) ok = false;
      }
      if (ok) return { handler: r.handler, params };
    }
    return null;
  }
}

const notFound: HttpHandler = (_req, res) => {
  res.status(404).setHeader('Content-Type', 'text/plain; charset=utf-8').end('Not Found');
};

export interface HttpServerStats extends ServerStats {
  /** Requests handed to handlers. */
  requests: number;
  /** Handlers that threw or rejected (answered 500, or the connection closed). */
  handlerErrors: number;
}

/**
 * An HTTP/1.1 server. route(method, path, handler) with `:params`; fallback(handler) for
 * everything else (404 by default). Handlers may be async; responses go out in request order.
 */
export class HttpServer extends Server {
  override readonly protocol: 'tcp' | 'http' = 'http';
  readonly #router = new Router();
  #fallback: HttpHandler = notFound;
  #requests = 0;
  #handlerErrors = 0;
  readonly #engine: Engine;
  readonly #logger: ServerHost['logger'];

  /** @internal */
  constructor(host: ServerHost, engine: Engine, id: number, addr: ConstructorParameters<typeof Server>[2], opts: ConstructorParameters<typeof Server>[3]) {
    super(host, id, addr, opts);
    this.#engine = engine;
    this.#logger = host.logger;
    this.on('connection', (conn) => this.#attach(conn));
  }

  /** Adds a route. `path` may hold `:name` segments (req.params.name). Chainable. */
  route(method: string, path: string, handler: HttpHandler): this {
    check(typeof method === 'string' && TOKEN.test(method), `invalid method ${JSON.stringify(method)}`);
    this.#router.add(method, path, handler);
    return this;
  }

  get(path: string, handler: HttpHandler): this {
    return this.route('GET', path, handler);
  }

  post(path: string, handler: HttpHandler): this {
    return this.route('POST', path, handler);
  }

  put(path: string, handler: HttpHandler): this {
    return this.route('PUT', path, handler);
  }

  delete(path: string, handler: HttpHandler): this {
    return this.route('DELETE', path, handler);
  }

  patch(path: string, handler: HttpHandler): this {
    return this.route('PATCH', path, handler);
  }

  /** The handler of requests no route matches (default: 404 Not Found). Chainable. */
  fallback(handler: HttpHandler): this {
    check(typeof handler === 'function', 'fallback must be a function');
    this.#fallback = handler;
    return this;
  }

  override stats(): HttpServerStats {
    return { ...super.stats(), requests: this.#requests, handlerErrors: this.#handlerErrors };
  }

  #attach(conn: Connection): void {
    const pipe = new HttpPipeline(conn, this.#engine);
    (conn as unknown as { [kHttp]: HttpPipeline })[kHttp] = pipe;
    conn.on('end', () => pipe.peerEnded());
    conn.on('drain', () => pipe.drain());
    conn.on('close', () => pipe.closed());
  }

  /** @internal One HTTP_REQ record (or fragment) of `conn`. */
  override [kHttpRequest](conn: Connection, shm: Buffer, off: number, len: number, more: boolean): void {
    const pipe = (conn as unknown as { [kHttp]?: HttpPipeline })[kHttp];
    if (pipe === undefined) return;
    const b = pipe.collect(shm, off, len, more);
    if (b === null) return;
    const method = METHODS[b[0]] ?? 'GET';
    const flags = b[3];
    const nheaders = b.readUInt32LE(4);
    const urlLen = b.readUInt32LE(8);
    const bodyLen = b.readUInt32LE(12);
    let at = REQ_FIXED;
    const url = b.toString('latin1', at, at + urlLen);
    at += urlLen;
    const raw: string[] = new Array(nheaders * 2);
    for (let i = 0; i < nheaders; i++) {
      const nl = b.readUInt32LE(at);
      const vl = b.readUInt32LE(at + 4);
      at += 8;
      raw[2 * i] = b.toString('latin1', at, at + nl);
      raw[2 * i + 1] = b.toString('latin1', at + nl, at + nl + vl);
      at += nl + vl;
    }
    // The body lives in ring memory only until this returns: keep a copy.
    const body = bodyLen === 0 ? EMPTY : Buffer.from(b.subarray(at, at + bodyLen));
    const version = `${b[1]}.${b[2]}`;
    const req = new HttpRequest(conn, method, url, version, raw, body);
    const keepAlive = (flags & F_KEEP_ALIVE) !== 0 && (flags & F_LAST) === 0;
    const res = new HttpResponse(pipe, method === 'HEAD', keepAlive, b[1] === 1 && b[2] === 0);
    req.setResponse(res);
    pipe.push(res);
    this.#requests++;
    let m = this.#router.match(method, req.path);
    if (m === null && method === 'HEAD') m = this.#router.match('GET', req.path);
    const handler = m === null ? this.#fallback : m.handler;
    if (m !== null) req.params = m.params;
    try {
      const r = handler(req, res);
      if (r instanceof Promise) r.catch((err) => this.#failed(conn, res, err));
    } catch (err) {
      this.#failed(conn, res, err);
    }
  }

  /** A handler threw or rejected: 500 if nothing was sent yet, else the connection is closed
   * (a half-sent response cannot be repaired). Logged with the connection id. */
  #failed(conn: Connection, res: HttpResponse, err: unknown): void {
    this.#handlerErrors++;
    this.#logger.error({ conn: conn.id, err }, 'HTTP handler failed');
    if (res.finished || res.aborted) return;
    if (!res.headersSent) {
      res.status(500).setHeader('Content-Type', 'text/plain; charset=utf-8').setHeader('Connection', 'close').end('Internal Server Error');
    } else {
      conn.destroy();
    }
  }
}

const EMPTY = Buffer.alloc(0);
const METHODS: readonly string[] = native.constants.HTTP_METHODS;
