// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The protocol registry: what `listen({ protocol })` and `connect({ protocol })` need to know
// of each protocol, in one entry. The runtime and the work threads create servers through it, so a new protocol is an
// entry here (with its server module and, natively, its codec) instead of a branch in each of
// them (docs/design-notes.md, the layers).
import { encryptionNative, type EncryptionOptions } from './encryption';
import { InvalidArgumentError, check } from './errors';
import { HttpServer, type HttpListenOptions } from './http';
import { connectHttp } from './http-client';
import type { Engine } from './internal/engine';
import type { ProtocolHost } from './internal/protocol-host';
import { FRAMING_FRAMES, FRAMING_HTTP, FRAMING_LINES, FRAMING_RAW } from './gen/wire';
import { LinesServer, linesNativeOptions } from './lines';
import type { ConnectOptions, Link } from './link';
import { native, type NativeListenOptions } from './native';
import { Server, type ListenOptions, type ServerHost } from './server';
import { connectUdp, listenUdp } from './udp';

/** The options every server object takes (listen() has validated them). */
export type ServerObjectOptions = ConstructorParameters<typeof Server>[3];

/** What a protocol's options may depend on besides the options themselves. */
export interface ListenContext {
  /** The largest body one record of the in rings carries (engine.inMax). */
  readonly maxRecordBody: number;
}

export interface Protocol {
  /** Listen options the protocol fixes, whatever the caller passed (HTTP: whole requests are
   * framed natively, undecodable bodies do not arise, and a connection ends after the responses
   * it owes rather than at the peer's FIN). */
  readonly fixed: Partial<Pick<ServerObjectOptions, 'framing' | 'decodeErrorPolicy' | 'allowHalfOpen'>>;
  /** The native framing of its connections (the IO threads' codec). */
  nativeFraming(framing: 'frames' | 'raw'): number;
  /** Its own native listen options, validated (HTTP: the request limits; lines: the line
   * limit, which cannot exceed what one record carries). */
  nativeOptions(opts: object, ctx: ListenContext): Partial<NativeListenOptions>;
  /** Its server object, on the main thread and on each work thread alike. */
  create(host: ServerHost, engine: Engine, id: number, addr: ConstructorParameters<typeof Server>[2], opts: ServerObjectOptions): Server;
  /** A protocol whose listen() makes something other than a stream server (UDP) takes
   * rt.listen() over: it validates its own options and resolves with its own object. */
  listen?(ctx: ProtocolHost, opts: object): Promise<unknown>;
  /** Its client side (rt.connect), where it has one. */
  connect?(ctx: ConnectContext, opts: object): Promise<unknown>;
}

/** What a protocol's connect() gets from the calling thread (its ThreadContext): what every
 * protocol hook gets (ProtocolHost: the native side, the engine, the record size, name
 * resolution, handles), and links. */
export interface ConnectContext extends ProtocolHost {
  /** Makes a link (outbound connections, lib/link.ts) of native framing `framing`, with the
   * protocol's own native options, delivered to the calling thread; resolves once connected.
   * `setup` gets the link before its first attempt (a protocol that drives it: HttpLink). */
  openLink(opts: ConnectOptions, framing: number, nativeOptions: Partial<NativeListenOptions>, setup?: (link: Link) => void): Promise<Link>;
}

/** Message encryption (lib/encryption.ts) of a framed TCP server or link. */
function tcpEncryption(o: { encryption?: EncryptionOptions; framing?: 'frames' | 'raw'; tls?: unknown; maxFrameBytes?: number }, client: boolean): Partial<NativeListenOptions> {
  const encryption = encryptionNative(o.encryption, client);
  if (encryption === null) return {};
  check((o.framing ?? 'frames') === 'frames', "encryption protects frames: it needs framing: 'frames'", o.framing);
  check(o.tls === undefined || o.tls === false, 'encryption and tls together: TLS protects the frames already; choose one');
  // An encrypted frame is held whole until it verifies (docs/encryption.md).
  check(o.maxFrameBytes === undefined || o.maxFrameBytes <= 64 << 20, 'maxFrameBytes with encryption must be at most 64 MiB', o.maxFrameBytes);
  return { encryption };
}

const HTTP_LIMIT_KEYS = ['maxHeaderBytes', 'maxHeaders', 'maxUrlBytes', 'maxBodyBytes', 'headerTimeoutMs', 'bodyTimeoutMs', 'keepAliveTimeoutMs', 'maxRequestsPerConnection', 'responseTimeoutMs'] as const;

const PROTOCOLS = new Map<string, Protocol>([
  [
    'tcp',
    {
      fixed: {},
      nativeFraming: (framing) => (framing === 'raw' ? FRAMING_RAW : FRAMING_FRAMES),
      nativeOptions: (o) => tcpEncryption(o as ListenOptions, false),
      create: (host, _engine, id, addr, opts) => new Server(host, id, addr, opts),
      connect: (ctx, o) => {
        const co = o as ConnectOptions;
        return ctx.openLink(co, co.framing === 'raw' ? FRAMING_RAW : FRAMING_FRAMES, tcpEncryption(co, true));
      },
    },
  ],
  [
    'http',
    {
      fixed: { framing: 'frames', decodeErrorPolicy: 'close', allowHalfOpen: true },
      nativeFraming: () => FRAMING_HTTP,
      nativeOptions: (o) => {
        const hopts = o as HttpListenOptions;
        const out: Partial<NativeListenOptions> = {};
        for (const key of HTTP_LIMIT_KEYS) {
          const v = hopts[key] ?? native.defaults.listen[key];
          check(Number.isInteger(v) && v >= 0 && v <= 0xffffffff, `${key} must be an integer in 0..2^32-1`, v);
          out[key] = v;
        }
        check(out.maxHeaderBytes! >= 64 && out.maxHeaders! >= 1 && out.maxUrlBytes! >= 1, 'HTTP header limits are too small to parse a request');
        return out;
      },
      create: (host, engine, id, addr, opts) => new HttpServer(host, engine, id, addr, { ...opts, allowHalfOpen: true }),
      connect: (ctx, o) => connectHttp(ctx, o),
    },
  ],
  [
    'lines',
    {
      fixed: { framing: 'raw', decodeErrorPolicy: 'close' },
      nativeFraming: () => FRAMING_LINES,
      nativeOptions: (o, ctx) => linesNativeOptions(o, ctx.maxRecordBody),
      create: (host, _engine, id, addr, opts) => new LinesServer(host, id, addr, opts),
      // A link of lines: each line is a 'line' event on the link; write() sends bytes.
      connect: (ctx, o) => ctx.openLink({ ...(o as ConnectOptions), protocol: 'tcp', framing: 'raw', lines: true } as ConnectOptions, FRAMING_LINES, linesNativeOptions(o, ctx.maxRecordBody)),
    },
  ],
  [
    'udp',
    {
      fixed: {},
      nativeFraming: (framing) => (framing === 'raw' ? FRAMING_RAW : FRAMING_FRAMES),
      nativeOptions: () => ({}),
      create: () => {
        throw new InvalidArgumentError('EW_EINVAL', "a 'udp' socket is made by rt.listen() or rt.connect(), never as a stream server");
      },
      listen: listenUdp,
      connect: connectUdp,
    },
  ],
]);

/** The entry of protocol `name`; InvalidArgumentError (EW_EINVAL) naming it if there is none. */
export function protocolOf(name: unknown): Protocol {
  const p = typeof name === 'string' ? PROTOCOLS.get(name) : undefined;
  check(p !== undefined, `protocol must be one of ${[...PROTOCOLS.keys()].map((k) => `'${k}'`).join(', ')}`, name);
  return p;
}
