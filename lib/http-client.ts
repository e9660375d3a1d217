// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// HTTP/1.1 client links (docs/http.md, "The client"): rt.connect({ protocol: 'http' }) gives an
// HttpLink, a keep-alive connection to one server that reconnects like a TCP link. It drives a
// Link (lib/link.ts) of native framing FRAMING_HTTP_CLIENT: the Link resolves, connects, backs
// off and reconnects; this module formats requests (their heads in JavaScript, Content-Length
// bodies) and writes them flagged REQUEST_START, so that the IO thread's codec
// (native/core/src/codec_http_client.c) knows which request each response answers; the codec
// parses responses with llhttp, enforces the response limits and hands each complete response
// over as one HTTP_RES record. Here are the policies: the order of requests, pipelining, the
// queue while down, the request timeout, and which requests may go again over a new connection.
import { Buffer } from 'buffer';
import { EventEmitter } from 'events';
import * as net from 'net';
import type { CloseReason, Connection } from './connection';
import { ERROR_CODES, ProtocolError, check, makeError, type EvwireError } from './errors';
import type { Engine } from './internal/engine';
import { FRAMING_HTTP_CLIENT, HTTP_RES_F_KEEP_ALIVE, REC_F_NO_BODY, REC_F_REQUEST_START } from './gen/wire';
import { readResponseRecord } from './internal/http-record';
import { kDestroyWith, kHttpResponse, kMaxBuffered, kWrote } from './internal/symbols';
import type { ConnectOptions, Link, ReconnectInfo } from './link';
import type { NativeListenOptions } from './native';

/** rt.connect({ protocol: 'http', ... }): a link's options, and the client's own. */
export interface HttpConnectOptions extends Omit<ConnectOptions, 'protocol' | 'framing' | 'maxFrameBytes' | 'maxLineBytes' | 'lines' | 'allowHalfOpen' | 'decodeErrorPolicy'> {
  protocol: 'http';
  /** Requests written on the connection before their responses come (HTTP pipelining). 1 (the
   * default) writes a request only once the previous response is complete. At most 256. A
   * request that is not idempotent is written only on an idle connection, as undici does. */
  pipeline?: number;
  /** From request() to the complete response, queueing included; over it the request rejects
   * with TimeoutError EW_ETIMEDOUT and, if it was written, its connection closes (the link
   * reconnects). Default 30000; 0: none. A request may set its own (`timeoutMs`). */
  requestTimeoutMs?: number;
  /** Response limits, enforced on the IO thread: the head (status line, header lines, line
   * ends; trailers too) in bytes (default 16 KiB) and fields (default 100), EW_EHTTP_RES_HEADERS;
   * the body (default 16 MiB), EW_EHTTP_RES_BODY. The request rejects with the error and the
   * connection closes. */
  maxHeaderBytes?: number;
  maxHeaders?: number;
  maxBodyBytes?: number;
  /** The Host header of requests that set none. Default: host, with ":port" unless it is 80. */
  hostHeader?: string;
  /** A request written on a connection that dropped before its response is sent again, once,
   * over the next connection, if it is idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE, or
   * `idempotent: true`) and the drop says nothing against it (see docs/http.md). Default true;
   * false: it rejects with the close reason. A request never written is always kept. */
  retryIdempotent?: boolean;
}

/** One request. */
export interface HttpRequestOptions {
  /** Default 'GET'. Any token but CONNECT. */
  method?: string;
  /** The request target: path and query, as sent (no spaces or control characters). Default '/'. */
  path?: string;
  /** Header names are tokens; values have no CR, LF or other control character but tab. A
   * Content-Length, if given, must match the body; Transfer-Encoding and Upgrade are refused. */
  headers?: Readonly<Record<string, string | number | readonly string[]>>;
  /** Sent with a Content-Length. A string is UTF-8. */
  body?: Uint8Array | string;
  /** This request's timeout, instead of the link's requestTimeoutMs; 0: none. */
  timeoutMs?: number;
  /** Whether it may be sent again after a drop (retryIdempotent). Default: by its method. */
  idempotent?: boolean;
}

/** A complete response: status, headers and body; everything is a copy, safe to keep. */
export class HttpClientResponse {
  readonly status: number;
  /** The reason phrase ('OK'), as sent. */
  readonly statusMessage: string;
  /** '1.1' or '1.0'. */
  readonly httpVersion: string;
  /** Every header as sent, name (lower-cased) and value, repeats kept: [name, value, ...]. */
  readonly rawHeaders: readonly string[];
  /** Trailer fields of a chunked response, as rawHeaders. */
  readonly rawTrailers: readonly string[];
  /** The body, decoded from chunked; empty for HEAD, 204 and 304. */
  readonly body: Buffer;
  #headers: Record<string, string | string[]> | null = null;

  /** @internal */
  constructor(status: number, statusMessage: string, httpVersion: string, rawHeaders: string[], body: Buffer, rawTrailers: string[]) {
    this.status = status;
    this.statusMessage = statusMessage;
    this.httpVersion = httpVersion;
    this.rawHeaders = rawHeaders;
    this.body = body;
    this.rawTrailers = rawTrailers;
  }

  /** Header values by lower-cased name; a repeated header is an array of its values in order. */
  get headers(): Record<string, string | string[]> {
    return (this.#headers ??= fields(this.rawHeaders));
  }

  /** Trailer values by lower-cased name, like headers. */
  get trailers(): Record<string, string | string[]> {
    return fields(this.rawTrailers);
  }

  /** The first value of a header (case-insensitive name), or undefined. */
  header(name: string): string | undefined {
    const n = name.toLowerCase();
    const raw = this.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (raw[i] === n) return raw[i + 1];
    return undefined;
  }

  /** The body as UTF-8 text. */
  text(): string {
    return this.body.toString('utf8');
  }

  /** The body parsed as JSON; rejects with ProtocolError EW_EPROTO_DECODE if it is not JSON. */
  json<T = unknown>(): Promise<T> {
    try {
      return Promise.resolve(JSON.parse(this.body.toString('utf8')) as T);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      return Promise.reject(new ProtocolError('EW_EPROTO_DECODE', `response body is not JSON: ${detail}`, { cause: err }));
    }
  }
}

function fields(raw: readonly string[]): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i < raw.length; i += 2) {
    const prev = h[raw[i]];
    if (prev === undefined) h[raw[i]] = raw[i + 1];
    else if (typeof prev === 'string') h[raw[i]] = [prev, raw[i + 1]];
    else prev.push(raw[i + 1]);
  }
  return h;
}

export interface HttpLinkEvents {
  /** A connection is up (the first, or a reconnect); queued requests are being written. */
  connect: [];
  /** The connection dropped or was closed (a last response, a timeout); a reconnect follows
   * unless the link is closing. */
  disconnect: [reason: CloseReason];
  reconnecting: [info: ReconnectInfo];
  /** The link is finished (close(), destroy(), the runtime's close, reconnect off or
   * maxAttempts spent): `error` says why when it was not asked for. Emitted once. */
  close: [error: EvwireError | null];
}

export interface HttpLinkStats {
  /** Connections made, and attempts that failed. */
  connects: number;
  failedAttempts: number;
  /** Requests made, responses received, requests sent again after a drop, requests rejected. */
  requests: number;
  responses: number;
  retried: number;
  failed: number;
  /** Requests written and waiting for their responses now. */
  inFlight: number;
  /** Requests not yet written (the link is down, or the pipeline is full) and their bytes. */
  queued: number;
  queuedBytes: number;
  /** Requests refused because the queue was full while the link was down. */
  queueRefused: number;
}

/** What connectHttp needs of the calling thread (protocols.ts's ConnectContext). */
export interface HttpConnectContext {
  readonly engine: Engine;
  openLink(opts: ConnectOptions, framing: number, nativeOptions: Partial<NativeListenOptions>, setup?: (link: Link) => void): Promise<Link>;
}

interface Options {
  pipeline: number;
  timeoutMs: number;
  hostHeader: string;
  retry: boolean;
  queueBytes: number;
}

interface Req {
  method: string;
  idempotent: boolean;
  noBody: boolean;
  /** The request asks for the connection to end after its response (Connection: close). */
  close: boolean;
  head: Buffer;
  body: Buffer | null;
  size: number;
  resolve: (res: HttpClientResponse) => void;
  reject: (err: EvwireError) => void;
  timer: ReturnType<typeof setTimeout> | null;
  retried: boolean;
  done: boolean;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const DEFAULT_QUEUE = 1 << 20;
const MAX_PIPELINE = 256;

/** No CR, LF, NUL or other control character but tab, nothing above latin1. */
function validValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** A request target: visible ASCII only (no space, control character or non-ASCII). */
function validTarget(v: string): boolean {
  if (v.length === 0) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/** Whether a Connection header value holds the option `opt` (lower case). */
function hasOption(value: string, opt: string): boolean {
  return value.split(',').some((o) => o.trim().toLowerCase() === opt);
}

function u32(v: unknown, name: string, min: number, max: number): number {
  check(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max, `${name} must be an integer in ${min}..${max}`, v);
  return v;
}

/** The close reasons after which a request that was being answered may be sent again: the
 * server dropped the connection without a byte of its response (a keep-alive connection it
 * closed as the request went out). */
const RETRY_HEAD = new Set(['EW_EOF', 'EW_ECONNRESET', 'EW_EPIPE']);

/**
 * A keep-alive HTTP/1.1 connection to one server that reconnects. request() resolves with the
 * complete response; requests are answered in order, one at a time or `pipeline` at once.
 * Events: 'connect', 'disconnect', 'reconnecting', 'close'.
 */
export class HttpLink extends EventEmitter<HttpLinkEvents> {
  readonly protocol = 'http' as const;
  readonly #link: Link;
  readonly #engine: Engine;
  readonly #o: Options;
  /** The connection requests are written to; null while down, or once it is being closed. */
  #conn: Connection | null = null;
  /** What the requests still in flight on a connection we close reject with (when they may
   * not go again). */
  #dropError: EvwireError | null = null;
  #queue: Req[] = [];
  #qhead = 0;
  #queuedBytes = 0;
  #inflight: Req[] = [];
  #frags: Buffer[] | null = null;
  /** The connection's output is above its highWatermark: nothing more is written until 'drain'. */
  #blocked = false;
  /** No new requests (close(), destroy(), the link closed). */
  #closing = false;
  /** Nothing goes again after a drop (destroy(), the link closed). */
  #final = false;
  #closed = false;
  /** Settling the requests of a dropped connection: close() must not find the link idle before
   * those that go again are queued. */
  #settling = false;
  #idle: (() => void) | null = null;
  #finishing: Promise<void> | null = null;
  #stats = { requests: 0, responses: 0, retried: 0, failed: 0, queueRefused: 0 };

  /** @internal Made by connectHttp with its link, before the link's first attempt. */
  constructor(link: Link, engine: Engine, o: Options) {
    super();
    this.#link = link;
    this.#engine = engine;
    this.#o = o;
    link[kHttpResponse] = (conn, buf, off, len, more) => this.#response(conn, buf, off, len, more);
    link.on('connect', () => this.#connected());
    link.on('disconnect', (reason) => this.emit('disconnect', reason));
    link.on('reconnecting', (info) => this.emit('reconnecting', info));
    link.on('close', (err) => this.#linkClosed(err));
  }

  /** Where the link connects to. */
  get host(): string {
    return this.#link.host;
  }

  get port(): number {
    return this.#link.port;
  }

  /** Whether a connection is up now. */
  get connected(): boolean {
    return this.#link.connected;
  }

  /** True once 'close' has been emitted. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The connection's peer, while one is up. */
  get remoteAddress(): string | undefined {
    return this.#link.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.#link.remotePort;
  }

  stats(): HttpLinkStats {
    const l = this.#link.stats();
    return {
      connects: l.connects,
      failedAttempts: l.failedAttempts,
      ...this.#stats,
      inFlight: this.#inflight.reduce((n, r) => (r.done ? n : n + 1), 0),
      queued: this.#queue.length - this.#qhead,
      queuedBytes: this.#queuedBytes,
    };
  }

  /**
   * Sends a request and resolves with its complete response (any status: a 404 or a 500
   * resolves too). Rejects with InvalidArgumentError for a bad method, path, header or body
   * (nothing is sent); TimeoutError EW_ETIMEDOUT after the request timeout; ProtocolError for a
   * response over a limit (EW_EHTTP_RES_HEADERS, EW_EHTTP_RES_BODY) or malformed
   * (EW_EPROTO_HTTP, EW_EPROTO_TRUNCATED); the close reason when the connection drops before the
   * response and the request may not go again (EW_EOF, EW_ECONNRESET, ...); SystemError
   * EW_ENOBUFS when the link is down and its queue is full; ClosedError once the link is
   * closing (EW_ECLOSED) or the runtime is (EW_ESHUTDOWN).
   */
  request(opts: HttpRequestOptions = {}): Promise<HttpClientResponse> {
    let r: Req;
    let timeoutMs: number;
    try {
      check(typeof opts === 'object' && opts !== null, 'request options must be an object', opts);
      const built = this.#build(opts);
      r = built.req;
      timeoutMs = built.timeoutMs;
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#closing || this.#closed) return Promise.reject(makeError('EW_ECLOSED', `the HTTP link to ${this.host}:${this.port} is closed`));
    if (!this.#link.connected && this.#queuedBytes + r.size > this.#o.queueBytes) {
      this.#stats.queueRefused++;
      return Promise.reject(makeError('EW_ENOBUFS', `the link to ${this.host}:${this.port} is down and its request queue is full (queueWhileDisconnected: ${this.#o.queueBytes} bytes)`));
    }
    const p = new Promise<HttpClientResponse>((resolve, reject) => {
      r.resolve = resolve;
      r.reject = reject;
    });
    this.#stats.requests++;
    if (timeoutMs > 0) {
      r.timer = setTimeout(() => this.#timedOut(r, timeoutMs), timeoutMs);
      r.timer.unref();
    }
    this.#queue.push(r);
    this.#queuedBytes += r.size;
    this.#pump();
    return p;
  }

  /** Validates and formats a request: its head as latin1 bytes, its body as bytes. */
  #build(opts: HttpRequestOptions): { req: Req; timeoutMs: number } {
    const method = opts.method ?? 'GET';
    check(typeof method === 'string' && TOKEN.test(method), 'method must be a token', method);
    const upper = method.toUpperCase();
    check(upper !== 'CONNECT', 'CONNECT is not supported (no tunnels)', method);
    const path = opts.path ?? '/';
    check(typeof path === 'string' && validTarget(path), 'path must be a non-empty string of visible ASCII (no spaces or control characters; percent-encode the rest)', path);
    let body: Buffer | null = null;
    if (opts.body !== undefined) {
      if (typeof opts.body === 'string') body = Buffer.from(opts.body, 'utf8');
      else if (opts.body instanceof Uint8Array) body = Buffer.from(opts.body.buffer, opts.body.byteOffset, opts.body.byteLength);
      else check(false, 'body must be a Uint8Array or a string', opts.body);
    }
    const timeoutMs = opts.timeoutMs === undefined ? this.#o.timeoutMs : u32(opts.timeoutMs, 'timeoutMs', 0, 0x7fffffff);
    const idempotent = opts.idempotent ?? IDEMPOTENT.has(upper);
    check(typeof idempotent === 'boolean', 'idempotent must be a boolean', idempotent);
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let host = false;
    let close = false;
    let length: string | null = null;
    const headers = opts.headers ?? {};
    check(typeof headers === 'object' && headers !== null, 'headers must be an object', headers);
    for (const name of Object.keys(headers)) {
      check(TOKEN.test(name), 'header names must be tokens', name);
      const raw = headers[name];
      const values = Array.isArray(raw) ? (raw as readonly unknown[]) : [raw];
      const lower = name.toLowerCase();
      check(lower !== 'transfer-encoding', 'Transfer-Encoding is not supported: bodies are sent whole, with a Content-Length');
      check(lower !== 'upgrade', 'Upgrade is not supported (the connection stays HTTP/1.1)');
      for (const v of values) {
        check(typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)), `header ${name} must be a string, a number or an array of them`, v);
        const s = String(v);
        check(validValue(s), `header ${name} has a control character (CR, LF, NUL, ...) or a character above latin1`, s);
        if (lower === 'content-length') {
          length = s;
          continue; // written below, once
        }
        if (lower === 'host') host = true;
        if (lower === 'connection') {
          check(!hasOption(s, 'upgrade'), 'Connection: upgrade is not supported', s);
          if (hasOption(s, 'close')) close = true;
        }
        head += `${name}: ${s}\r\n`;
      }
    }
    const blen = body === null ? 0 : body.length;
    if (length !== null) check(length === String(blen), `Content-Length ${length} does not match the body (${blen} bytes)`, length);
    if (!host) head += `Host: ${this.#o.hostHeader}\r\n`;
    // As undici: a body always has its length, and POST, PUT and PATCH say 0 when they have none.
    if (body !== null || length !== null || upper === 'POST' || upper === 'PUT' || upper === 'PATCH') head += `Content-Length: ${blen}\r\n`;
    head += '\r\n';
    const h = Buffer.from(head, 'latin1');
    const size = h.length + blen;
    const max = this.#link[kMaxBuffered];
    if (size > max) throw makeError('EW_EMSGSIZE', `a request of ${size} bytes exceeds the link's maxBufferedBytes (${max}); nothing was sent`);
    const req: Req = {
      method: upper,
      idempotent,
      noBody: upper === 'HEAD',
      close,
      head: h,
      body: blen === 0 ? null : body,
      size,
      resolve: () => undefined,
      reject: () => undefined,
      timer: null,
      retried: false,
      done: false,
    };
    return { req, timeoutMs };
  }

  /**
   * Closes the link once the requests already made are answered (those still queued are
   * written first, over a reconnect if the link is down); new requests reject with EW_ECLOSED.
   * Resolves once 'close' has been emitted. Idempotent.
   */
  close(): Promise<void> {
    if (this.#finishing !== null) return this.#finishing;
    this.#closing = true;
    this.#finishing = new Promise<void>((resolve) => {
      if (this.#closed) {
        resolve();
        return;
      }
      this.once('close', () => resolve());
      const done = (): void => {
        this.#idle = null;
        this.#dropError = makeError('EW_ECLOSED', 'the HTTP link was closed');
        void this.#link.close();
      };
      if (this.#pendingCount() === 0) done();
      else this.#idle = done;
    });
    return this.#finishing;
  }

  /** Closes now: requests queued or in flight reject with ClosedError EW_ECLOSED. */
  destroy(): void {
    this.#closing = true;
    this.#final = true;
    this.#idle = null;
    const err = makeError('EW_ECLOSED', 'the HTTP link was destroyed');
    this.#dropError = err;
    this.#failAll(err);
    this.#link.destroy();
  }

  // ---- writing ---------------------------------------------------------------------------------

  #pendingCount(): number {
    return this.#queue.length - this.#qhead + this.#inflight.length;
  }

  #shift(): Req {
    const r = this.#queue[this.#qhead];
    this.#queue[this.#qhead++] = undefined as unknown as Req;
    if (this.#qhead === this.#queue.length) {
      this.#queue = [];
      this.#qhead = 0;
    } else if (this.#qhead >= 1024 && this.#qhead * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#qhead);
      this.#qhead = 0;
    }
    this.#queuedBytes -= r.size;
    return r;
  }

  /** Writes queued requests while the connection and the pipeline allow. */
  #pump(): void {
    const conn = this.#conn;
    if (conn === null || conn.ended || this.#blocked) return;
    const inflight = this.#inflight;
    while (this.#qhead < this.#queue.length && inflight.length < this.#o.pipeline) {
      const r = this.#queue[this.#qhead];
      if (r.done) {
        this.#shift();
        continue;
      }
      // A request that is not idempotent is written alone, on an idle connection (as undici):
      // if the connection drops, the requests before it cannot make it ambiguous. Nothing is
      // written after one that asks to close the connection.
      if (inflight.length > 0 && (!r.idempotent || inflight[inflight.length - 1].close)) break;
      this.#shift();
      this.#engine.sendHttp(conn, r.head, r.body, null, false, REC_F_REQUEST_START | (r.noBody ? REC_F_NO_BODY : 0));
      inflight.push(r);
      // Backpressure as for send(): above the highWatermark, the rest waits for 'drain' (the
      // IO thread closes a connection whose output passes maxBufferedBytes).
      if (!conn[kWrote](r.size, true)) this.#blocked = true;
      if (r.close || this.#blocked) break;
    }
  }

  // ---- the link's events -------------------------------------------------------------------------

  #connected(): void {
    const conn = this.#link.connection;
    if (conn === null) return;
    this.#conn = conn;
    this.#dropError = null;
    this.#frags = null;
    this.#blocked = false;
    conn.once('close', (reason) => this.#dropped(conn, reason));
    conn.on('drain', () => {
      this.#blocked = false;
      this.#pump();
    });
    this.#pump();
    this.emit('connect');
  }

  /** The connection is gone: each request in flight on it goes again (see retryIdempotent) or
   * rejects with the close reason. */
  #dropped(conn: Connection, reason: CloseReason): void {
    if (this.#conn === conn) this.#conn = null;
    this.#frags = null;
    this.#blocked = false;
    const inflight = this.#inflight;
    this.#inflight = [];
    const err = this.#closeError(reason);
    // Sent again only while the link lives on; the first request still owed an answer only if
    // the server dropped the connection without answering.
    const again = this.#o.retry && !this.#final && reason.code !== 'EW_ESHUTDOWN' && !(reason.code === 'EW_OK' && this.#dropError === null);
    const retry: Req[] = [];
    let first = true;
    this.#settling = true;
    for (const r of inflight) {
      if (r.done) continue;
      const ok = again && r.idempotent && !r.retried && (!first || RETRY_HEAD.has(reason.code) || this.#dropError !== null);
      first = false;
      if (ok) {
        r.retried = true;
        this.#stats.retried++;
        retry.push(r);
      } else {
        this.#fail(r, err);
      }
    }
    this.#settling = false;
    if (retry.length !== 0) {
      this.#queue = [...retry, ...this.#queue.slice(this.#qhead)];
      this.#qhead = 0;
      for (const r of retry) this.#queuedBytes += r.size;
    }
    this.#dropError = null;
    this.#checkIdle();
  }

  /** What a request that was in flight rejects with when its connection closed. */
  #closeError(reason: CloseReason): EvwireError {
    const where = `${this.host}:${this.port}`;
    if (reason.code === 'EW_OK') return this.#dropError ?? makeError('EW_ESHUTDOWN', `the runtime closed the HTTP link to ${where} before the response`);
    if (reason.code === 'EW_EOF') return makeError('EW_EOF', `the server ${where} closed the connection before the response`);
    const e = reason.error ?? makeError(reason.code);
    return makeError(reason.code, `${ERROR_CODES[reason.code]?.message ?? 'connection closed'} (HTTP response from ${where})`, { cause: e, errno: reason.errno });
  }

  #linkClosed(err: EvwireError | null): void {
    this.#closing = true;
    this.#final = true;
    this.#failAll(err ?? makeError(this.#finishing !== null ? 'EW_ECLOSED' : 'EW_ESHUTDOWN', `the HTTP link to ${this.host}:${this.port} was closed`));
    this.#closed = true;
    this.emit('close', err);
  }

  #failAll(err: EvwireError): void {
    const all = [...this.#queue.slice(this.#qhead), ...this.#inflight];
    this.#queue = [];
    this.#qhead = 0;
    this.#queuedBytes = 0;
    // In-flight requests stay listed until their connection's close (it may still deliver a
    // response already on its way, which is then dropped); they are settled now.
    for (const r of all) this.#fail(r, err);
  }

  // ---- responses ---------------------------------------------------------------------------------

  #response(conn: Connection, buf: Buffer, off: number, len: number, more: boolean): void {
    if (conn !== this.#conn) return; // a connection being closed: what it still delivers is late
    if (more) {
      (this.#frags ??= []).push(Buffer.from(buf.subarray(off, off + len)));
      return;
    }
    let b = buf;
    if (this.#frags !== null) {
      this.#frags.push(buf.subarray(off, off + len));
      b = Buffer.concat(this.#frags);
      this.#frags = null;
      off = 0;
      len = b.length;
    }
    const r = this.#inflight.shift();
    let rec;
    try {
      if (r === undefined) throw new ProtocolError('EW_EPROTO_HTTP', 'a response to no request');
      rec = readResponseRecord(b, off, len);
    } catch (err) {
      this.#dropError = err as EvwireError;
      if (r !== undefined) this.#fail(r, err as EvwireError);
      this.#conn = null;
      conn.destroy();
      return;
    }
    this.#stats.responses++;
    // The strings are copies; the body is copied out of ring memory (a joined body already is).
    const body = b === buf ? Buffer.from(rec.body) : rec.body;
    const res = new HttpClientResponse(rec.status, rec.reason, `${rec.major}.${rec.minor}`, rec.headers, body, rec.trailers);
    if (!r.done) {
      r.done = true;
      if (r.timer !== null) clearTimeout(r.timer);
      r.resolve(res);
    }
    if (!(rec.flags & HTTP_RES_F_KEEP_ALIVE) || r.close) {
      // The server ends the connection after this response: nothing more goes out on it; the
      // link reconnects, and requests written behind this one go again or reject.
      this.#dropError = makeError('EW_ECLOSED', `the server ${this.host}:${this.port} ended the connection after an earlier response`);
      this.#conn = null;
      conn.destroy();
      return;
    }
    this.#pump();
    this.#checkIdle();
  }

  #timedOut(r: Req, ms: number): void {
    r.timer = null;
    if (r.done) return;
    const err = makeError('EW_ETIMEDOUT', `no response from ${this.host}:${this.port} within ${ms} ms (${r.method})`);
    const conn = this.#conn;
    const q = this.#queue.indexOf(r, this.#qhead);
    if (q >= 0) {
      // Not written yet (the link is down, or the pipeline is full): it leaves the queue.
      this.#queue.splice(q, 1);
      this.#queuedBytes -= r.size;
    } else if (conn !== null && this.#inflight.includes(r)) {
      // Written: its connection cannot be used again (the response may still come), so it
      // closes; the link reconnects.
      this.#dropError = makeError('EW_ETIMEDOUT', `the connection to ${this.host}:${this.port} was closed: an earlier request timed out`);
      this.#conn = null;
      conn[kDestroyWith](ERROR_CODES.EW_ETIMEDOUT.errno);
    }
    this.#fail(r, err);
  }

  #fail(r: Req, err: EvwireError): void {
    if (r.done) return;
    r.done = true;
    if (r.timer !== null) clearTimeout(r.timer);
    this.#stats.failed++;
    r.reject(err);
    this.#checkIdle();
  }

  /** close() waits for this: nothing queued, nothing in flight. */
  #checkIdle(): void {
    if (this.#idle === null || this.#settling) return;
    for (let i = this.#qhead; i < this.#queue.length; i++) if (!this.#queue[i].done) return;
    for (const r of this.#inflight) if (!r.done) return;
    this.#idle();
  }
}

/** @internal rt.connect({ protocol: 'http' }): validates the client's options, opens its link
 * and resolves once the first connection is up. */
export function connectHttp(ctx: HttpConnectContext, opts: object): Promise<HttpLink> {
  const o = opts as HttpConnectOptions;
  let hl: HttpLink | null = null;
  try {
    check(typeof o.host === 'string' && o.host !== '', 'host must be a non-empty string', o.host);
    const port = u32(o.port, 'port', 1, 65535);
    const pipeline = u32(o.pipeline ?? 1, 'pipeline', 1, MAX_PIPELINE);
    const timeoutMs = u32(o.requestTimeoutMs ?? 30000, 'requestTimeoutMs', 0, 0x7fffffff);
    const maxHeaderBytes = u32(o.maxHeaderBytes ?? 16 << 10, 'maxHeaderBytes', 64, 0xffffffff);
    const maxHeaders = u32(o.maxHeaders ?? 100, 'maxHeaders', 1, 0xffffffff);
    const maxBodyBytes = u32(o.maxBodyBytes ?? 16 << 20, 'maxBodyBytes', 0, 0xffffffff);
    const retry = o.retryIdempotent ?? true;
    check(typeof retry === 'boolean', 'retryIdempotent must be a boolean', retry);
    const queueBytes = u32(o.queueWhileDisconnected ?? DEFAULT_QUEUE, 'queueWhileDisconnected', 0, Number.MAX_SAFE_INTEGER);
    const h = net.isIP(o.host) === 6 ? `[${o.host}]` : o.host;
    const hostHeader = o.hostHeader ?? (port === 80 ? h : `${h}:${port}`);
    check(typeof hostHeader === 'string' && hostHeader !== '' && validValue(hostHeader), 'hostHeader must be a non-empty string without control characters', hostHeader);
    // The link's own options (connectTimeoutMs, reconnect, watermarks, limits...); its framing is
    // the codec's, and a connection ends when the server's does.
    const linkOpts = { ...o, protocol: 'tcp', framing: 'frames', lines: false, allowHalfOpen: false, decodeErrorPolicy: 'close' } as ConnectOptions;
    return ctx
      .openLink(linkOpts, FRAMING_HTTP_CLIENT, { maxHeaderBytes, maxHeaders, maxBodyBytes }, (link) => {
        hl = new HttpLink(link, ctx.engine, { pipeline, timeoutMs, hostHeader, retry, queueBytes });
      })
      .then(() => hl!);
  } catch (err) {
    return Promise.reject(err);
  }
}
