// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// HTTP/1.1 on the native core (docs/http.md). Requests are parsed by llhttp on the IO
// threads and arrive complete (method, URL, lower-cased headers, body); limits, malformed
// requests and timeouts were already answered natively. Here: routing, the request and response
// objects, and pipelining: responses leave in request order whatever order handlers finish in.
import type { TlsServerOptions } from './tls';
import { Buffer } from 'buffer';
import { EventEmitter } from 'events';
import type { Connection } from './connection';
import { ERROR_CODES, InvalidArgumentError, check } from './errors';
import type { Engine } from './internal/engine';
import { F_KEEP_ALIVE, F_LAST, readRequestRecord } from './internal/http-record';
import { CONN_OPT_CLOSE_IF_IDLE } from './gen/wire';
import { kCloseIdle, kDestroyWith, kDrainConn, kHttp, kHttpRequest, kOwnWriter, kWrote } from './internal/symbols';
import { native } from './native';
import { Server, type DrainMode, type ServerHost, type ServerStats } from './server';

/** What listen({ protocol: 'http' }) takes. */
export interface HttpListenOptions extends HttpLimits {
  protocol: 'http';
  /** TLS: HTTPS (docs/tls.md). */
  tls?: TlsServerOptions;
  host?: string;
  port?: number;
  backlog?: number;
  reusePort?: boolean;
  distribution?: 'round-robin' | 'least-connections';
  highWatermark?: number;
  lowWatermark?: number;
  maxBufferedBytes?: number;
  noDelay?: boolean;
  /** Protection limits (docs/protection.md): windows count requests, rates and bans apply. */
  limits?: Limits;
  maxTrackedIps?: number;
}

import type { HttpLimits, Limits } from './limits';
export type { HttpLimits } from './limits';

export type HttpHandler = (req: HttpRequest, res: HttpResponse) => unknown;

/** A hook: sync, or async (a returned promise is awaited). One that answers (ends the response
 * or sends its head) ends the chain: the hooks and the handler after it do not run. */
export type HttpHook = (req: HttpRequest, res: HttpResponse) => unknown;

/** Server-level hooks (addHook). Per request, in this order: the route is matched (req.params
 * is set), then every 'onRequest' hook, every 'preHandler' hook, the route's own preHandler(s),
 * the handler; 'onResponse' hooks run once the response is complete ('finish'), whoever
 * answered, and what they throw is logged. */
export type HttpHookName = 'onRequest' | 'preHandler' | 'onResponse';

/** Options of one route: hooks of its own, after the server's. */
export interface RouteOptions {
  preHandler?: HttpHook | HttpHook[];
}


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

/** No CR, LF, NUL or other control character but tab, nothing above latin1 (a loop: faster than
 * a regular expression on the short values headers have). */
function validValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c > 0xff) return false;
  }
  return true;
}

let dateSec = 0;
let dateStr = '';
let dateTimer: NodeJS.Timeout | null = null;
/** The Date header. While HTTP servers listen, an unreferenced one-second timer keeps it (and
 * dateSec, the head cache's key) current, so a response reads no clock; without the timer (none
 * listening) it is computed on demand. */
function httpDate(): string {
  if (dateTimer === null) updateDate();
  return dateStr;
}

function updateDate(): void {
  const now = Date.now();
  const sec = Math.floor(now / 1000);
  if (sec !== dateSec) {
    dateSec = sec;
    dateStr = new Date(now).toUTCString();
  }
}

let dateUsers = 0;
/** @internal An HTTP server started (+1) or stopped (-1) listening. */
export function dateClock(delta: number): void {
  dateUsers += delta;
  if (dateUsers > 0 && dateTimer === null) {
    updateDate();
    // Fires just after each second turns, so the header is at most a few ms late.
    const tick = (): void => {
      updateDate();
      dateTimer = setTimeout(tick, 1000 - (Date.now() % 1000) + 1);
      dateTimer.unref();
    };
    dateTimer = setTimeout(tick, 1000 - (Date.now() % 1000) + 1);
    dateTimer.unref();
  } else if (dateUsers <= 0 && dateTimer !== null) {
    clearTimeout(dateTimer);
    dateTimer = null;
    dateUsers = 0;
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF_LAST_CHUNK = Buffer.from('\r\n0\r\n\r\n', 'latin1');

// Recently sent heads, as bytes, keyed by what made them: status, connection mode, the header
// list (compared entry by entry; values are usually the same string constants) and the second of
// the Date header. A server answering alike requests encodes its head once a second, not once
// per response, and a lookup hashes nothing. Bounded: HEAD_CACHE_MAX entries, replaced in turn.
interface HeadEntry {
  status: number;
  mode: number;
  sec: number;
  headers: string[];
  bytes: Buffer;
}
const HEAD_CACHE_MAX = 8;
const heads: HeadEntry[] = [];
let headNext = 0;

function cachedHead(status: number, mode: number, h: readonly (string | string[])[]): Buffer | null {
  for (let k = 0; k < heads.length; k++) {
    const e = heads[k];
    if (e.status !== status || e.mode !== mode || e.sec !== dateSec || e.headers.length !== h.length) continue;
    let i = 0;
    while (i < h.length && e.headers[i] === h[i]) i++;
    if (i === h.length) return e.bytes;
  }
  return null;
}

function rememberHead(status: number, mode: number, h: readonly (string | string[])[], bytes: Buffer): void {
  for (const v of h) if (typeof v !== 'string') return; // repeated headers: not worth keeping
  const e: HeadEntry = { status, mode, sec: dateSec, headers: h.slice() as string[], bytes };
  if (heads.length < HEAD_CACHE_MAX) heads.push(e);
  else {
    heads[headNext] = e;
    headNext = (headNext + 1) % HEAD_CACHE_MAX;
  }
}

// Header names already checked; a handful in practice, bounded all the same.
const goodNames = new Map<string, string>();
/** The lower-cased form of a valid header name, or null for an invalid one. Names seen before
 * come from a map (most handlers set the same few names on every response), which saves the
 * token test and the lower-casing per response. */
function lowerName(name: string): string | null {
  const hit = goodNames.get(name);
  if (hit !== undefined) return hit;
  if (!TOKEN.test(name)) return null;
  const lower = name.toLowerCase();
  if (goodNames.size < 1024) goodNames.set(name, lower);
  return lower;
}

/** A request, complete: headers, body and all. Strings and body are copies, safe to keep. */
export class HttpRequest {
  readonly method: string;
  /** The request target as sent: path and query. */
  readonly url: string;
  readonly path: string;
  /** Route parameters (`/users/:id` gives `params.id`). */
  params: Record<string, string> = {};
  /** Every header as sent, name (lower-cased) and value, repeats kept: [name, value, ...]. */
  readonly rawHeaders: string[];
  readonly httpVersion: string;
  /** Trailer fields of a chunked request, as rawHeaders: [name, value, ...]; empty if none.
   * Fields that would change framing, routing or handling (Content-Length, Host, ...) are
   * refused with 400 before the handler runs (RFC 9110 6.5.1). */
  readonly rawTrailers: string[];
  /** The connection the request came on (remote address and port). */
  readonly connection: Connection;
  #headers: Record<string, string | string[]> | null = null;
  #body: Buffer;
  #query: URLSearchParams | null = null;
  #res: HttpResponse | null = null;

  /** @internal */
  constructor(conn: Connection, method: string, url: string, version: string, raw: string[], body: Buffer, trailers: string[]) {
    this.connection = conn;
    this.rawTrailers = trailers;
    this.method = method;
    this.url = url;
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.httpVersion = version;
    this.rawHeaders = raw;
    this.#body = body;
  }

  /** Header values by lower-cased name; a repeated header is an array of its values in order.
   * Built on first use (most handlers never look), from rawHeaders. */
  get headers(): Record<string, string | string[]> {
    if (this.#headers === null) {
      const raw = this.rawHeaders;
      const h: Record<string, string | string[]> = Object.create(null);
      for (let i = 0; i < raw.length; i += 2) {
        const prev = h[raw[i]];
        if (prev === undefined) h[raw[i]] = raw[i + 1];
        else if (typeof prev === 'string') h[raw[i]] = [prev, raw[i + 1]];
        else prev.push(raw[i + 1]);
      }
      this.#headers = h;
    }
    return this.#headers;
  }

  /** Trailer values by lower-cased name (a repeated one is an array), like headers. */
  get trailers(): Record<string, string | string[]> {
    const h: Record<string, string | string[]> = Object.create(null);
    const raw = this.rawTrailers;
    for (let i = 0; i < raw.length; i += 2) {
      const prev = h[raw[i]];
      if (prev === undefined) h[raw[i]] = raw[i + 1];
      else if (typeof prev === 'string') h[raw[i]] = [prev, raw[i + 1]];
      else prev.push(raw[i + 1]);
    }
    return h;
  }

  /** The first value of a header (case-insensitive name), or undefined. */
  header(name: string): string | undefined {
    const n = name.toLowerCase();
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (raw[i] === n) return raw[i + 1];
    return undefined;
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

  /** The body parsed as JSON; rejects with InvalidArgumentError (EW_EINVAL, statusCode 400) on
   * bad JSON: a handler that lets it through answers 400 Bad Request, as fastify does. */
  json<T = unknown>(): Promise<T> {
    try {
      return Promise.resolve(JSON.parse(this.#body.toString('utf8')) as T);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      return Promise.reject(new InvalidArgumentError('EW_EINVAL', `request body is not JSON: ${detail}`, { cause: err, statusCode: 400 }));
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
 * (chunked, or as long as a Content-Length set beforehand says; to an HTTP/1.0 client, until the
 * connection closes). After the client aborts, `aborted` is true, 'abort' fires once, and
 * further writes do nothing, never throw.
 *
 * The response never lies about its framing: a body longer or shorter than the Content-Length
 * set throws (nothing of the offending write is sent; once headers are out, the connection is
 * destroyed, since the client could not tell where the response ends); a Transfer-Encoding set
 * by the handler must end in chunked, and evwire then chunks the body itself; `Connection:
 * close`, set by the handler or owed to the client, closes the connection after the response.
 */
export class HttpResponse extends EventEmitter<HttpResponseEvents> {
  statusCode = 200;
  /** True once the response is complete (end() was called). */
  finished = false;
  /** True once the client went away before the response was delivered. */
  aborted = false;
  readonly #pipe: HttpPipeline;
  readonly #head: boolean;
  #keepAlive: boolean;
  readonly #http10: boolean;
  /** [lower-cased name, name as given, value, ...]: few entries, so a scan beats a Map. */
  #headers: (string | string[])[] = [];
  #headersSent = false;
  #chunked = false;
  /** The Content-Length the head declared (-1: none), and the body bytes counted against it. */
  #declared = -1;
  #sent = 0;
  #closeAfter = false;
  /** Bytes produced while an earlier response still owns the connection. */
  #held: { head: Uint8Array | null; body: Uint8Array | null; tail: Uint8Array | null; end: boolean }[] | null = null;

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
    if (this.#headersSent) throw new InvalidArgumentError('EW_EINVAL', 'headers were already sent');
    const lower = typeof name === 'string' ? lowerName(name) : null;
    if (lower === null) throw new InvalidArgumentError('EW_EINVAL', `invalid header name ${JSON.stringify(name)}`);
    let v: string | string[];
    if (Array.isArray(value)) {
      v = value.map(String);
      for (const x of v) if (!validValue(x)) throw new InvalidArgumentError('EW_EINVAL', `invalid value for header ${name}`);
    } else {
      v = typeof value === 'string' ? value : String(value);
      if (!validValue(v)) throw new InvalidArgumentError('EW_EINVAL', `invalid value for header ${name}`);
    }
    this.#set(lower, name, v);
    return this;
  }

  getHeader(name: string): string | string[] | undefined {
    const i = this.#find(name.toLowerCase());
    return i < 0 ? undefined : this.#headers[i + 2];
  }

  removeHeader(name: string): this {
    check(!this.#headersSent, 'headers were already sent');
    const i = this.#find(name.toLowerCase());
    if (i >= 0) this.#headers.splice(i, 3);
    return this;
  }

  #find(lower: string): number {
    const h = this.#headers;
    for (let i = 0; i < h.length; i += 3) if (h[i] === lower) return i;
    return -1;
  }

  #has(lower: string): boolean {
    return this.#find(lower) >= 0;
  }

  #set(lower: string, name: string, v: string | string[]): void {
    const i = this.#find(lower);
    if (i >= 0) {
      this.#headers[i + 1] = name;
      this.#headers[i + 2] = v;
    } else {
      const h = this.#headers;
      const n = h.length;
      h[n] = lower;
      h[n + 1] = name;
      h[n + 2] = v;
    }
  }

  /** Sets the status and headers at once. Chainable. */
  writeHead(status: number, headers?: Record<string, string | number | readonly string[]>): this {
    this.status(status);
    if (headers !== undefined) for (const [k, v] of Object.entries(headers)) this.setHeader(k, v);
    return this;
  }

  /** Whether the body is sent at all (not for HEAD, 1xx, 204 or 304). */
  #bodyAllowed(): boolean {
    return !this.#head && !this.#noBodyStatus();
  }

  /** Decides the framing from the headers the handler set, before the head is formatted:
   * Content-Length, a handler's Transfer-Encoding (must end in chunked; not to HTTP/1.0), and
   * Connection (close honoured; a keep-alive claim on a closing connection corrected). Throws
   * InvalidArgumentError, with nothing sent, for framing that cannot be honest. `streaming`:
   * write() before end(). */
  #frame(streaming: boolean): void {
    const h = this.#headers;
    this.#declared = -1;
    this.#chunked = false;
    let cl = -1;
    let te = -1;
    let conn = -1;
    for (let i = 0; i < h.length; i += 3) {
      if (h[i] === 'content-length') cl = i;
      else if (h[i] === 'transfer-encoding') te = i;
      else if (h[i] === 'connection') conn = i;
    }
    if (cl >= 0) {
      const v = h[cl + 2];
      if (typeof v !== 'string' || !/^\d{1,15}$/.test(v.trim())) throw new InvalidArgumentError('EW_EINVAL', `invalid Content-Length ${JSON.stringify(v)}`);
      if (te >= 0) throw new InvalidArgumentError('EW_EINVAL', 'a response cannot have both Content-Length and Transfer-Encoding');
      this.#declared = Number(v.trim());
    }
    if (te >= 0) {
      const v = h[te + 2];
      const codings = (Array.isArray(v) ? v.join(',') : v).toLowerCase().split(',').map((x) => x.trim()).filter((x) => x !== '');
      if (codings[codings.length - 1] !== 'chunked') throw new InvalidArgumentError('EW_EINVAL', `Transfer-Encoding must end in chunked (evwire chunks the body), got ${JSON.stringify(v)}`);
      if (this.#http10) {
        // An HTTP/1.0 client knows no chunks: the body is delimited by the close instead.
        h.splice(te, 3);
        if (conn > te) conn -= 3;
        this.#keepAlive = false;
      } else this.#chunked = true;
    } else if (streaming && cl < 0 && this.#bodyAllowed()) {
      if (this.#http10) this.#keepAlive = false; // the close delimits the body
      else {
        this.#chunked = true;
        h.push('transfer-encoding', 'Transfer-Encoding', 'chunked');
      }
    }
    if (conn >= 0) {
      const v = h[conn + 2];
      const tokens = (Array.isArray(v) ? v.join(',') : v).toLowerCase().split(',').map((x) => x.trim());
      if (tokens.includes('close')) this.#keepAlive = false;
      else if (!this.#keepAlive) h[conn + 2] = 'close';
    }
  }

  /** Counts `n` body bytes against a declared Content-Length; throws (before they are sent)
   * if they go past it. */
  #count(n: number): void {
    if (this.#declared < 0 || !this.#bodyAllowed()) return;
    if (this.#sent + n > this.#declared) {
      throw new InvalidArgumentError('EW_EINVAL', `response body of ${this.#sent + n} bytes exceeds its Content-Length of ${this.#declared}`);
    }
    this.#sent += n;
  }

  /** Streams a chunk (chunked transfer encoding unless Content-Length was set). Returns false
   * when the connection's output is above its high watermark: wait for 'drain'. */
  write(chunk: Uint8Array | string): boolean {
    if (this.finished || this.aborted) return false;
    const body = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let head: Uint8Array | null = null;
    if (!this.#headersSent) {
      this.#frame(true);
      this.#count(body.length);
      head = this.#formatHead();
    } else this.#count(body.length);
    if (!this.#bodyAllowed() || body.length === 0) {
      if (head !== null) this.#out(head, null, null, false);
      return this.#pipe.writable();
    }
    if (this.#chunked) {
      const size = Buffer.from(`${body.length.toString(16)}\r\n`, 'latin1');
      this.#out(head === null ? size : Buffer.concat([head, size]), body, CRLF, false);
    } else this.#out(head, body, null, false);
    return this.#pipe.writable();
  }

  /** Finishes the response, with an optional last body. Idempotent. */
  end(body?: Uint8Array | string): void {
    if (this.finished || this.aborted) return;
    const b = body === undefined ? null : typeof body === 'string' ? Buffer.from(body) : body;
    const n = b === null ? 0 : b.length;
    if (!this.#headersSent) {
      // The whole response at once: Content-Length (unless the handler chose chunked), one record.
      this.#frame(false);
      if (this.#declared >= 0 && this.#bodyAllowed() && n !== this.#declared) {
        throw new InvalidArgumentError('EW_EINVAL', `response body of ${n} bytes does not match its Content-Length of ${this.#declared}`);
      }
      if (!this.#chunked && this.#declared < 0 && !this.#noBodyStatus()) this.#headers.push('content-length', 'Content-Length', String(n));
      this.finished = true;
      const head = this.#formatHead();
      if (!this.#bodyAllowed()) this.#out(head, null, null, true);
      else if (this.#chunked) {
        if (n !== 0) this.#out(Buffer.concat([head, Buffer.from(`${n.toString(16)}\r\n`, 'latin1')]), b, CRLF_LAST_CHUNK, true);
        else this.#out(head, null, LAST_CHUNK, true);
      } else this.#out(head, b, null, true);
    } else if (this.#chunked) {
      this.finished = true;
      if (b !== null && n !== 0 && this.#bodyAllowed()) this.#out(Buffer.from(`${n.toString(16)}\r\n`, 'latin1'), b, CRLF_LAST_CHUNK, true);
      else this.#out(null, null, LAST_CHUNK, true);
    } else {
      if (this.#declared >= 0 && this.#bodyAllowed() && this.#sent + n !== this.#declared) {
        // The head promised more (or less) than there is: the client could not tell where this
        // response ends and the next begins, so the connection cannot be used again.
        const err = new InvalidArgumentError('EW_EINVAL', `response body of ${this.#sent + n} bytes does not match its Content-Length of ${this.#declared}`);
        this.#pipe.destroy();
        throw err;
      }
      this.#sent += n;
      this.finished = true;
      this.#out(null, this.#bodyAllowed() ? b : null, null, true);
    }
    this.emit('finish');
  }

  /** Sends `value` as JSON (application/json). */
  json(value: unknown): void {
    if (!this.#has('content-type')) this.#headers.push('content-type', 'Content-Type', 'application/json; charset=utf-8');
    this.end(JSON.stringify(value));
  }

  #noBodyStatus(): boolean {
    return this.statusCode === 204 || this.statusCode === 304 || (this.statusCode >= 100 && this.statusCode < 200);
  }

  /** The status line and headers as bytes. The same text (the same status and headers in the
   * same second) gives the same bytes from a small cache, so a server answering alike requests
   * encodes its head once a second, not once per response. */
  #formatHead(): Uint8Array {
    this.#headersSent = true;
    this.#pipe.statusClasses[(this.statusCode / 100) | 0]++;
    const h = this.#headers;
    httpDate(); // brings dateSec up to date for the cache key
    const mode = (this.#keepAlive ? 0 : 1) | (this.#http10 ? 2 : 0);
    const hit = cachedHead(this.statusCode, mode, h);
    if (hit !== null) return hit;
    let s = `HTTP/1.1 ${this.statusCode} ${REASONS[this.statusCode] ?? 'Unknown'}\r\n`;
    let date = true;
    let conn = true;
    for (let i = 0; i < h.length; i += 3) {
      const lower = h[i] as string;
      if (lower === 'date') date = false;
      else if (lower === 'connection') conn = false;
      const name = h[i + 1] as string;
      const v = h[i + 2];
      if (typeof v === 'string') s += name + ': ' + v + '\r\n';
      else for (const x of v) s += name + ': ' + x + '\r\n';
    }
    if (date) s += `Date: ${httpDate()}\r\n`;
    if (conn) {
      if (!this.#keepAlive) s += 'Connection: close\r\n';
      else if (this.#http10) s += 'Connection: keep-alive\r\n';
    }
    s += '\r\n';
    const bytes = Buffer.from(s, 'latin1');
    rememberHead(this.statusCode, mode, h, bytes);
    return bytes;
  }

  /** Writes now if this response owns the connection, else keeps the bytes for its turn. */
  #out(head: Uint8Array | null, body: Uint8Array | null, tail: Uint8Array | null, end: boolean): void {
    if (this.#pipe.isHead(this)) this.#pipe.send(head, body, tail, end);
    else (this.#held ??= []).push({ head, body: body === null ? null : Buffer.from(body), tail, end });
    if (end) this.#pipe.finished(this);
  }

  /** @internal This response now owns the connection: write what it produced meanwhile. */
  flushHeld(): void {
    const held = this.#held;
    if (held === null) return;
    this.#held = null;
    for (const h of held) this.#pipe.send(h.head, h.body, h.tail, h.end);
  }

  /** @internal */
  abort(): void {
    if (this.aborted || this.finished) return;
    this.aborted = true;
    this.#held = null;
    this.emit('abort');
  }

  /** @internal The connection closes after this response (the server is closing): the head
   * says `Connection: close` unless it is already out. */
  closeAfter(): void {
    this.#closeAfter = true;
    if (!this.#headersSent) this.#keepAlive = false;
  }

  /** @internal */
  get closesConnection(): boolean {
    return !this.#keepAlive || this.#closeAfter;
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
  /** The server is closing: no request after those already dispatched (or the one being
   * reassembled) is served. */
  #draining = false;
  #lastOne = false;
  #writable = true;

  /** The server's responses by status class (index 1..5): counted as each head goes out. */
  readonly statusClasses: number[];

  constructor(conn: Connection, engine: Engine, statusClasses: number[]) {
    this.statusClasses = statusClasses;
    this.#conn = conn;
    this.#engine = engine;
  }

  /** The connection ends after the responses already begun: later requests are not served. */
  get closing(): boolean {
    return this.#closing || this.#draining;
  }

  /** No request is being answered or received in fragments. */
  get idle(): boolean {
    return this.#queue.length === 0 && this.#chunks === null && !this.#lastOne;
  }

  /** The server is closing: an idle connection is closed with EW_ESHUTDOWN once its output is
   * out; a busy one answers what it owes (the last response with Connection: close), then
   * ends. */
  serverClosing(): void {
    if (this.#closing) return;
    if (this.idle) {
      this.closeIdle(ERROR_CODES.EW_ESHUTDOWN.errno);
      return;
    }
    if (this.#draining || this.#lastOne) return;
    const last = this.#queue[this.#queue.length - 1];
    // The responses owed are served; the connection ends after the last of them (its head says
    // so unless it went out already). A request still arriving in fragments is the last one.
    if (last !== undefined) {
      this.#draining = true;
      last.closeAfter();
    } else this.#lastOne = true;
  }

  /** Closes the connection if idle: at once (errno 0, closeIdleConnections), or flushed, then
   * closed with `errno` (the server is closing). Idle here means idle as JavaScript sees it; a
   * request the IO thread has already read may still be on its way. So the graceful close is
   * the IO thread's to judge (CONN_OPT CLOSE_IF_IDLE): idle there too, it ends the connection;
   * otherwise that request comes, is served as the last one (Connection: close), and the
   * connection ends after its response. */
  closeIdle(errno: number): void {
    if (!this.idle || this.#closing) return;
    if (errno === 0) {
      this.#closing = true;
      this.#conn.destroy();
      return;
    }
    this.#lastOne = true;
    this.#engine.option(this.#conn, CONN_OPT_CLOSE_IF_IDLE, errno >>> 0);
  }

  /** The request being dispatched is the last one of a closing connection. */
  takeLastOne(): boolean {
    if (!this.#lastOne) return false;
    this.#lastOne = false;
    this.#draining = true;
    return true;
  }

  isHead(res: HttpResponse): boolean {
    return this.#queue[0] === res;
  }

  /** Whether the connection is below its high watermark after the last write. */
  writable(): boolean {
    return this.#writable;
  }

  send(head: Uint8Array | null, body: Uint8Array | null, tail: Uint8Array | null, end: boolean): void {
    if (this.#conn.closed) return;
    this.#engine.sendHttp(this.#conn, head, body, tail, end);
    this.#writable = this.#conn[kWrote]((head === null ? 0 : head.length) + (body === null ? 0 : body.length) + (tail === null ? 0 : tail.length), end);
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

  /** A fragment of a request record too big for one ring record: kept until the last one. */
  fragment(shm: Buffer, off: number, len: number): void {
    (this.#chunks ??= []).push(Buffer.from(shm.subarray(off, off + len)));
  }

  /** The last part of a fragmented request record: the whole record. Null if not fragmented. */
  assemble(shm: Buffer, off: number, len: number): Buffer | null {
    if (this.#chunks === null) return null;
    this.#chunks.push(shm.subarray(off, off + len));
    const all = Buffer.concat(this.#chunks);
    this.#chunks = null;
    return all;
  }

  /** The client sent FIN. As Node's server does (and uWebSockets.js, which closes): what is
   * still owed is aborted ('abort' fires; writes become no-ops) and the connection ends. */
  peerEnded(): void {
    this.#peerEnded = true;
    if (this.#closing) return;
    this.#closing = true;
    const owed = this.#queue.splice(0);
    for (const r of owed) r.abort();
    this.#conn.end();
  }

  /** A response broke its framing after its head went out: the connection cannot go on. */
  destroy(): void {
    this.#closing = true;
    this.#conn.destroy();
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
  readonly #exact = new Map<string, Map<string, HttpHandler>>();
  readonly #params = new Map<string, Route[]>();

  add(method: string, path: string, handler: HttpHandler): void {
    check(typeof path === 'string' && path.startsWith('/'), `route path must start with /, got ${JSON.stringify(path)}`);
    check(typeof handler === 'function', 'route handler must be a function', handler);
    const m = method.toUpperCase();
    if (!path.includes('/:')) {
      let byPath = this.#exact.get(m);
      if (byPath === undefined) this.#exact.set(m, (byPath = new Map()));
      byPath.set(path, handler);
      return;
    }
    let list = this.#params.get(m);
    if (list === undefined) this.#params.set(m, (list = []));
    list.push({ segments: path.split('/').slice(1), handler });
  }

  /** The handler for `method` and `req.path`, setting req.params; null if none. */
  match(method: string, req: HttpRequest): HttpHandler | null {
    const path = req.path;
    const exact = this.#exact.get(method)?.get(path);
    if (exact !== undefined) return exact;
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
      if (ok) {
        req.params = params;
        return r.handler;
      }
    }
    return null;
  }
}

/** Whether a hook answered: the chain stops there. */
function answered(res: HttpResponse): boolean {
  return res.finished || res.aborted || res.headersSent;
}

/** Runs hooks[i..] then `last`, synchronously while the hooks are; a hook that returns a
 * promise continues the chain when it resolves. Returns what the last function called returned
 * (a promise if any step was async), so that the caller sees every rejection. */
/** A promise or any other thenable (what `await` would wait for). */
function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

function runChain(hooks: readonly HttpHook[], i: number, req: HttpRequest, res: HttpResponse, last: HttpHandler): unknown {
  for (; i < hooks.length; i++) {
    const r = hooks[i](req, res);
    if (isThenable(r)) {
      const next = i + 1;
      return Promise.resolve(r).then(() => (answered(res) ? undefined : runChain(hooks, next, req, res, last)));
    }
    if (answered(res)) return undefined;
  }
  return last(req, res);
}

function hookList(name: string, h: HttpHook | HttpHook[] | undefined): HttpHook[] {
  const list = h === undefined ? [] : Array.isArray(h) ? h : [h];
  for (const f of list) check(typeof f === 'function', `${name} must be a function or an array of functions, got ${typeof f}`);
  return list;
}

const notFound: HttpHandler = (_req, res) => {
  res.status(404).setHeader('Content-Type', 'text/plain; charset=utf-8').end('Not Found');
};

export interface HttpServerStats extends ServerStats {
  /** Responses sent by handlers (their head went out), by status class. Answers the IO thread
   * gives itself (400, 408, 413, 414, 431, 501, 505) are counted natively: rt.stats()[k].httpErrors. */
  responses: { '1xx': number; '2xx': number; '3xx': number; '4xx': number; '5xx': number; other: number };
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
  /** onRequest then preHandler hooks, in order; empty (the common case) costs one length test. */
  readonly #onRequest: HttpHook[] = [];
  readonly #preHandler: HttpHook[] = [];
  #before: HttpHook[] = [];
  readonly #onResponse: HttpHook[] = [];
  #requests = 0;
  #handlerErrors = 0;
  readonly #metrics: (() => Promise<{ contentType: string; body: string }>) | null;
  /** Responses whose head went out, by status class: index 1 (1xx) to 5 (5xx), 6..9 for the
   * codes 600..999 that status() also accepts. */
  readonly #statusClasses: number[] = new Array<number>(10).fill(0);
  readonly #engine: Engine;
  readonly #logger: ServerHost['logger'];
  readonly #servesConnections: () => boolean;
  #unservedWarned = false;

  /** @internal */
  constructor(host: ServerHost, engine: Engine, id: number, addr: ConstructorParameters<typeof Server>[2], opts: ConstructorParameters<typeof Server>[3]) {
    super(host, id, addr, opts);
    this.#engine = engine;
    this.#logger = host.logger;
    this.#servesConnections = () => host.servesConnections?.() ?? true;
    this.#metrics = host.metricsText?.bind(host) ?? null;
    this.on('connection', (conn) => this.#attach(conn));
    dateClock(1);
    this.once('close', () => dateClock(-1));
  }

  /**
   * Adds a route. `path` may hold `:name` segments (req.params.name); method '*' matches every
   * method (all()), after the routes of the request's own method (and, for HEAD, GET's).
   * `opts.preHandler` runs before the handler, after the server's hooks. Chainable.
   */
  route(method: string, path: string, handler: HttpHandler): this;
  route(method: string, path: string, opts: RouteOptions, handler: HttpHandler): this;
  route(method: string, path: string, a: HttpHandler | RouteOptions, b?: HttpHandler): this {
    check(typeof method === 'string' && TOKEN.test(method), `invalid method ${JSON.stringify(method)}`);
    let handler: HttpHandler;
    if (typeof a === 'function') handler = a;
    else {
      check(a !== null && typeof a === 'object', `route options must be an object, got ${a === null ? 'null' : typeof a}`);
      check(typeof b === 'function', `route handler must be a function, got ${typeof b}`);
      const pre = hookList('preHandler', a.preHandler);
      const h = b!;
      // The route's own hooks are folded into its handler: a route without any costs nothing.
      handler = pre.length === 0 ? h : (req, res) => runChain(pre, 0, req, res, h);
    }
    this.#router.add(method, path, handler);
    this.#warnUnserved();
    return this;
  }

  get(path: string, handler: HttpHandler): this;
  get(path: string, opts: RouteOptions, handler: HttpHandler): this;
  get(path: string, a: HttpHandler | RouteOptions, b?: HttpHandler): this {
    return this.route('GET', path, a as RouteOptions, b as HttpHandler);
  }

  post(path: string, handler: HttpHandler): this;
  post(path: string, opts: RouteOptions, handler: HttpHandler): this;
  post(path: string, a: HttpHandler | RouteOptions, b?: HttpHandler): this {
    return this.route('POST', path, a as RouteOptions, b as HttpHandler);
  }

  put(path: string, handler: HttpHandler): this;
  put(path: string, opts: RouteOptions, handler: HttpHandler): this;
  put(path: string, a: HttpHandler | RouteOptions, b?: HttpHandler): this {
    return this.route('PUT', path, a as RouteOptions, b as HttpHandler);
  }

  delete(path: string, handler: HttpHandler): this;
  delete(path: string, opts: RouteOptions, handler: HttpHandler): this;
  delete(path: string, a: HttpHandler | RouteOptions, b?: HttpHandler): this {
    return this.route('DELETE', path, a as RouteOptions, b as HttpHandler);
  }

  patch(path: string, handler: HttpHandler): this;
  patch(path: string, opts: RouteOptions, handler: HttpHandler): this;
  patch(path: string, a: HttpHandler | RouteOptions, b?: HttpHandler): this {
    return this.route('PATCH', path, a as RouteOptions, b as HttpHandler);
  }

  /** HEAD requests to `path` (without one, HEAD is served by the GET route, body omitted). */
  head(path: string, handler: HttpHandler): this;
  head(path: string, opts: RouteOptions, handler: HttpHandler): this;
  head(path: string, a: HttpHandler | RouteOptions, b?: HttpHandler): this {
    return this.route('HEAD', path, a as RouteOptions, b as HttpHandler);
  }

  options(path: string, handler: HttpHandler): this;
  options(path: string, opts: RouteOptions, handler: HttpHandler): this;
  options(path: string, a: HttpHandler | RouteOptions, b?: HttpHandler): this {
    return this.route('OPTIONS', path, a as RouteOptions, b as HttpHandler);
  }

  /** Every method to `path`; a route for the request's own method wins. */
  all(path: string, handler: HttpHandler): this;
  all(path: string, opts: RouteOptions, handler: HttpHandler): this;
  all(path: string, a: HttpHandler | RouteOptions, b?: HttpHandler): this {
    return this.route('*', path, a as RouteOptions, b as HttpHandler);
  }

  /**
   * Adds a server-level hook (fastify's names and order; see HttpHookName): 'onRequest' and
   * 'preHandler' run before every handler, the fallback included; one that answers ends the
   * chain, and one that throws or rejects is answered as a handler error would be.
   * 'onResponse' runs after each response is complete. Chainable.
   */
  addHook(name: HttpHookName, hook: HttpHook): this {
    check(name === 'onRequest' || name === 'preHandler' || name === 'onResponse', `unknown hook ${JSON.stringify(name)}: use 'onRequest', 'preHandler' or 'onResponse'`);
    check(typeof hook === 'function', `${name} hook must be a function, got ${typeof hook}`);
    if (name === 'onResponse') this.#onResponse.push(hook);
    else {
      (name === 'onRequest' ? this.#onRequest : this.#preHandler).push(hook);
      this.#before = [...this.#onRequest, ...this.#preHandler];
    }
    return this;
  }

  /**
   * Serves the runtime's Prometheus metrics (rt.metrics(), prom-client's text format) at `path`
   * (GET, default '/metrics'). On a work thread the main thread renders them, so every thread's
   * server shows the same figures. Chainable.
   */
  metrics(path = '/metrics'): this {
    const render = this.#metrics;
    check(render !== null, 'this server has no runtime to take metrics from');
    return this.get(path, async (_req, res) => {
      const m = await render();
      res.setHeader('Content-Type', m.contentType).end(m.body);
    });
  }

  /** The handler of requests no route matches (default: 404 Not Found). Chainable. */
  fallback(handler: HttpHandler): this {
    check(typeof handler === 'function', 'fallback must be a function', handler);
    this.#fallback = handler;
    this.#warnUnserved();
    return this;
  }

  /** Requests run the routes of the thread that serves their connection. On the main thread
   * while work threads serve, routes are never used: say so once per server, and where they
   * belong (docs/workers.md, "HTTP on work threads"). */
  #warnUnserved(): void {
    if (this.#unservedWarned || this.#servesConnections()) return;
    this.#unservedWarned = true;
    this.#logger.warn(
      { server: this.id },
      "HTTP routes added on the main thread are never used while work threads serve the connections: register them in the work-thread module, on worker.servers() and worker.on('server') (docs/workers.md)",
    );
  }

  /** @internal Responses are written through HttpResponse, never by the connection. */
  override get [kOwnWriter](): string | null {
    return 'an HTTP connection is written through its HttpResponse';
  }

  override stats(): HttpServerStats {
    const c = this.#statusClasses;
    return {
      ...super.stats(),
      requests: this.#requests,
      handlerErrors: this.#handlerErrors,
      responses: { '1xx': c[1], '2xx': c[2], '3xx': c[3], '4xx': c[4], '5xx': c[5], other: c[6] + c[7] + c[8] + c[9] },
    };
  }

  /** @internal */
  override [kDrainConn](conn: Connection, mode: DrainMode): void {
    void mode; // HTTP connections end alike for server.close() and the runtime's close
    (conn as unknown as { [kHttp]?: HttpPipeline })[kHttp]?.serverClosing();
  }

  /** @internal */
  override [kCloseIdle](conn: Connection, errno: number): void {
    (conn as unknown as { [kHttp]?: HttpPipeline })[kHttp]?.closeIdle(errno);
  }

  #attach(conn: Connection): void {
    const pipe = new HttpPipeline(conn, this.#engine, this.#statusClasses);
    (conn as unknown as { [kHttp]: HttpPipeline })[kHttp] = pipe;
    conn.on('end', () => pipe.peerEnded());
    conn.on('drain', () => pipe.drain());
    conn.on('close', () => pipe.closed());
  }

  /** @internal One HTTP_REQ record (or fragment) of `conn`. */
  override [kHttpRequest](conn: Connection, shm: Buffer, off: number, len: number, more: boolean): void {
    const pipe = (conn as unknown as { [kHttp]?: HttpPipeline })[kHttp];
    // A request pipelined behind a response that closes the connection is never answered, so
    // its handler does not run either (nor one behind the last of a closing server).
    if (pipe === undefined || pipe.closing) return;
    if (more) {
      pipe.fragment(shm, off, len);
      return;
    }
    // The record is read where it lies (ring memory, valid until this returns) unless it came
    // in fragments.
    let b = shm;
    const whole = pipe.assemble(shm, off, len);
    if (whole !== null) {
      b = whole;
      off = 0;
      len = whole.length;
    }
    let rec;
    try {
      rec = readRequestRecord(b, off, len);
    } catch (err) {
      // Never half-used: the connection is ended rather than left with a request that has no
      // answer, whose absence the client would pair with the next response.
      this.#logger.error({ conn: conn.id, err }, 'HTTP request record unreadable; connection destroyed');
      conn[kDestroyWith](ERROR_CODES.EW_EPROTO_HTTP.errno);
      return;
    }
    const method = METHODS[rec.method] ?? 'GET';
    const major = rec.major;
    const minor = rec.minor;
    const flags = rec.flags;
    // The body lives in ring memory only until this returns: keep a copy.
    const body = rec.body.length === 0 ? EMPTY : Buffer.from(rec.body);
    const version = major === 1 ? (minor === 1 ? '1.1' : minor === 0 ? '1.0' : `1.${minor}`) : `${major}.${minor}`;
    const req = new HttpRequest(conn, method, rec.url, version, rec.headers, body, rec.trailers);
    const keepAlive = (flags & F_KEEP_ALIVE) !== 0 && (flags & F_LAST) === 0;
    const res = new HttpResponse(pipe, method === 'HEAD', keepAlive, major === 1 && minor === 0);
    req.setResponse(res);
    if (pipe.takeLastOne()) res.closeAfter();
    pipe.push(res);
    this.#requests++;
    let handler = this.#router.match(method, req);
    if (handler === null && method === 'HEAD') handler = this.#router.match('GET', req);
    if (handler === null) handler = this.#router.match('*', req);
    if (handler === null) handler = this.#fallback;
    if (this.#onResponse.length !== 0) this.#watch(req, res);
    try {
      const before = this.#before;
      const r = before.length === 0 ? handler(req, res) : runChain(before, 0, req, res, handler);
      if (isThenable(r)) Promise.resolve(r).catch((err) => this.#failed(conn, res, err));
    } catch (err) {
      this.#failed(conn, res, err);
    }
  }

  /** Runs the onResponse hooks once `res` is complete. */
  #watch(req: HttpRequest, res: HttpResponse): void {
    const hooks = this.#onResponse;
    res.once('finish', () => {
      const fail = (err: unknown): void => this.#logger.error({ conn: req.connection.id, err }, 'HTTP onResponse hook failed');
      // Every one runs (the response is complete: "answered" ends nothing here), each on its own.
      for (const h of hooks) {
        try {
          const r = h(req, res);
          if (isThenable(r)) Promise.resolve(r).catch(fail);
        } catch (err) {
          fail(err);
        }
      }
    });
  }

  /** A handler (or hook) threw or rejected. An error with a 4xx statusCode (req.json() on a
   * body that is not JSON: 400) is the client's: answered with that status and its message,
   * not counted or logged as a handler error. Anything else: 500 if nothing was sent yet, else
   * the connection is closed (a half-sent response cannot be repaired); logged with the
   * connection id. */
  #failed(conn: Connection, res: HttpResponse, err: unknown): void {
    const status = (err as { statusCode?: unknown } | null)?.statusCode;
    if (typeof status === 'number' && status >= 400 && status <= 499 && Number.isInteger(status)) {
      this.#logger.debug({ conn: conn.id, err }, `HTTP request answered ${status}`);
      if (res.finished || res.aborted) return;
      const message = err instanceof Error ? err.message : (REASONS[status] ?? 'Client Error');
      this.#answerError(conn, res, status, message, false);
      return;
    }
    this.#handlerErrors++;
    this.#logger.error({ conn: conn.id, err }, 'HTTP handler failed');
    if (res.finished || res.aborted) return;
    this.#answerError(conn, res, 500, 'Internal Server Error', true);
  }

  /** Answers a failed request with `status` and `message`, whatever the handler had set: its
   * framing headers (a Content-Length for the body it meant to send, a Transfer-Encoding) would
   * make the error's own body a lie, so they go. A response already begun cannot be repaired:
   * the connection is destroyed, as it is if the answer itself cannot be written. */
  #answerError(conn: Connection, res: HttpResponse, status: number, message: string, close: boolean): void {
    if (res.finished || res.aborted) return;
    if (res.headersSent) {
      conn.destroy();
      return;
    }
    try {
      res.removeHeader('Content-Length').removeHeader('Transfer-Encoding');
      res.status(status).setHeader('Content-Type', 'text/plain; charset=utf-8');
      if (close) res.setHeader('Connection', 'close');
      res.end(message);
    } catch (err) {
      this.#logger.error({ conn: conn.id, err }, 'HTTP error answer failed; closing the connection');
      conn.destroy();
    }
  }
}

const EMPTY = Buffer.alloc(0);
const METHODS: readonly string[] = native.constants.HTTP_METHODS;
