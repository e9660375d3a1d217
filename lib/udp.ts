// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// UDP sockets (README "UDP", docs/protocol.md "Datagrams"): rt.listen({ protocol: 'udp' }) and
// rt.connect({ protocol: 'udp' }) through the protocol registry. The IO threads read and send in
// recvmmsg/sendmmsg batches and check every datagram (size, frame header, the source's ban and
// rate) before JavaScript sees it; a datagram reaches this module as one DGRAM record and leaves
// as one DGRAM_SEND record, written straight into ring memory.
import { Buffer } from 'buffer';
import { EventEmitter } from 'events';
import * as net from 'net';
import type { Message, SendOptions } from './connection';
import { ERROR_CODES, InvalidArgumentError, check, errorName, fromNative, makeError, type EvwireError } from './errors';
import { DGRAM_PREFIX_BYTES, FRAME_FLAGS_KNOWN, FRAME_FLAG_ENCRYPTED, FRAME_HEADER_BYTES, FRAMING_FRAMES, FRAMING_RAW, UDP_MAX_DATAGRAM } from './gen/wire';
import type { DgramSink, Engine } from './internal/engine';
import type { ProtocolHandle, ProtocolHost } from './internal/protocol-host';
import { kDgram, kNativeClosed, kStopped } from './internal/symbols';
import type { BanInfo, Limits } from './limits';
import { requireTypeId, type MessageClass } from './messages';
import { native, type NativeServerStats, type NativeUdpInfo } from './native';
import { mergeLimits, type AddressInfo, type BanEntry, type Bans } from './server';

/** Options of both a listening and a connected UDP socket. */
export interface UdpSocketOptions {
  /** 'frames': one frame (docs/protocol.md's 12-byte header, then exactly `length` body
   * bytes) per datagram, 'message' gets { type, flags, seq, body }; a datagram that is not one
   * valid frame is dropped and counted (stats().dropped.badHeader). 'raw': 'message' gets the
   * datagram's bytes. Default 'frames'. */
  framing?: 'frames' | 'raw';
  /** Larger datagrams are dropped and counted (stats().dropped.truncated), never delivered cut.
   * With 'frames' it includes the header. Default 65507 (the largest IPv4 UDP payload), or
   * what one record of the runtime's rings carries if that is less (inRingBytes / 4 - 48). */
  maxDatagramBytes?: number;
  /** SO_RCVBUF and SO_SNDBUF of each kernel socket, as Node's dgram.createSocket() takes them.
   * Default: the kernel's. */
  recvBufferSize?: number;
  sendBufferSize?: number;
  /** Per source address (docs/protection.md, "UDP"): ipMessagesPerSecond and ipMessageBurst
   * (datagrams over the rate are dropped; the source is banned for banMs when banMs is not 0),
   * banMs. The other limits concern connections and do nothing here. */
  limits?: Limits;
  /** Source addresses tracked for the rate and bans; the least recently seen is forgotten
   * beyond this. Default 65536. */
  maxTrackedIps?: number;
}

export interface UdpListenOptions extends UdpSocketOptions {
  protocol: 'udp';
  /** Host name or address to bind; omitted = all interfaces (IPv6 dual stack, else IPv4). */
  host?: string;
  /** 0 or omitted: the kernel picks; address() says which. */
  port?: number;
}

export interface UdpConnectOptions extends UdpSocketOptions {
  protocol: 'udp';
  /** The peer: a host name (resolved with dns.lookup) or an address. */
  host: string;
  port: number;
  /** Where to bind this end (numeric address); default: any, the peer's family. */
  localAddress?: string;
  /** Default 0: the kernel picks. */
  localPort?: number;
}

/** Where a datagram came from, as Node's dgram says it. */
export interface RemoteInfo {
  address: string;
  family: 'IPv4' | 'IPv6';
  port: number;
  /** The datagram's bytes (with 'frames', its header included). */
  size: number;
}

export interface UdpStats {
  /** Datagrams handed to this socket's 'message', and their bytes. */
  messagesIn: number;
  bytesIn: number;
  /** Datagrams the kernel took, and their bytes. */
  messagesOut: number;
  bytesOut: number;
  /** Datagrams dropped on the IO threads, by reason: larger than maxDatagramBytes, not one
   * valid frame, from a banned source, over the source's rate; and those the kernel dropped
   * because the socket's receive buffer was full (SO_RXQ_OVFL, as far as it has been seen). */
  dropped: { truncated: number; badHeader: number; banned: number; rate: number; kernel: number };
  /** Datagrams not sent: refused by the kernel, or over the 1 MiB kept while its send buffer
   * was full. */
  sendErrors: number;
  /** Errors the kernel reported on the socket (a connected socket's ICMP port unreachable, a
   * refused send); 'error' events, when listened to, say which. */
  errors: number;
  /** Sources banned for their rate, and bans in force now (manual ones included). */
  bans: { messages: number; active: number };
  /** Source addresses tracked now, and those forgotten to stay within maxTrackedIps. */
  trackedIps: number;
  ipEvictions: number;
}

export interface UdpSocketEvents<M> {
  /** A datagram: a Message ({ type, flags, seq, body }) with framing 'frames', a Buffer with
   * 'raw'. Either body is a view into ring memory, valid until the listener returns: copy it
   * (Buffer.from) to keep it. */
  message: [msg: M, rinfo: RemoteInfo];
  /** An error the kernel reported (EW_ECONNREFUSED on a connected socket whose peer has no
   * socket, a send refused). Emitted only while a listener is registered; counted always. */
  error: [err: EvwireError];
  /** An address was banned for its rate. */
  ban: [info: BanInfo];
  /** Every kernel socket is closed (close(), or the runtime's close). */
  close: [];
}

const enum State {
  Open = 0,
  Closing = 1,
  Closed = 2,
}

/** A destination as DGRAM_SEND carries it. */
interface Dest {
  family: 4 | 6;
  bytes: Uint8Array;
  scope: number;
}

/** Parsed destinations kept per socket (a peer sent to once is likely sent to again). */
const DEST_CACHE = 1024;
/** Formatted IPv4 sources kept per socket. */
const SOURCE_CACHE = 4096;

/**
 * A UDP socket of the runtime (rt.listen or rt.connect with `protocol: 'udp'`). A listening one
 * is one kernel socket per IO thread on the same address (SO_REUSEPORT); a connected one is one
 * kernel socket that sends to, and hears only, its peer. Datagrams are handled on the JS thread
 * that opened it (the main thread). Events: 'message', 'error', 'ban', 'close'. An open UDP
 * socket keeps the process alive, like a dgram socket, until it or the runtime is closed.
 */
export class UdpSocket<M extends Message | Buffer = Message> extends EventEmitter<UdpSocketEvents<M>> {
  /** Its id among the runtime's servers (logs, BAN records). */
  readonly id: number;
  readonly protocol = 'udp' as const;
  readonly framing: 'frames' | 'raw';
  readonly maxDatagramBytes: number;
  /** The banned source addresses. */
  readonly bans: Bans;
  readonly #host: ProtocolHost;
  readonly #engine: Engine;
  readonly #shm: Buffer;
  readonly #ab: ArrayBuffer;
  readonly #dv: DataView;
  readonly #raw: boolean;
  readonly #addr: AddressInfo;
  readonly #peer: AddressInfo | null;
  /** The IO thread of a connected socket: its sends go there. */
  readonly #io: number;
  /** A listening socket answers through the IO thread that delivered the last datagram: a
   * reply from a 'message' listener leaves from the thread (and kernel socket) its request
   * came to. */
  #lastIo = 0;
  #limits: Required<Limits>;
  #last: NativeServerStats | null = null;
  #state = State.Open;
  #closing: Promise<void> | null = null;
  #resolveClose: (() => void) | null = null;
  readonly #sources = new Map<number, string>();
  readonly #dests = new Map<string, Dest>();

  /** @internal */
  constructor(host: ProtocolHost, info: NativeUdpInfo, opts: { framing: 'frames' | 'raw'; maxDatagramBytes: number; limits: Required<Limits>; peer: AddressInfo | null }) {
    super();
    this.#host = host;
    this.#engine = host.engine;
    this.#shm = host.engine.shm;
    this.#ab = host.engine.ab;
    this.#dv = new DataView(this.#ab);
    this.id = info.id;
    this.framing = opts.framing;
    this.#raw = opts.framing === 'raw';
    this.maxDatagramBytes = opts.maxDatagramBytes;
    this.#limits = opts.limits;
    this.#addr = { address: info.address, family: info.family === 6 ? 'IPv6' : 'IPv4', port: info.port };
    this.#peer = opts.peer;
    this.#io = info.io;
    const guard = host.guard;
    this.bans = {
      add: (address: string, ms?: number): void => {
        check(typeof address === 'string' && net.isIP(address) !== 0, `not a numeric IP address: ${JSON.stringify(address)}`);
        const t = ms ?? this.#limits.banMs;
        check(Number.isInteger(t) && t >= 1 && t <= 0xffffffff, 'ban ms must be an integer in 1..2^32-1', t);
        guard.banAdd(this.id, address, t);
      },
      remove: (address: string): boolean => {
        check(typeof address === 'string' && net.isIP(address) !== 0, `not a numeric IP address: ${JSON.stringify(address)}`);
        return guard.banRemove(this.id, address);
      },
      list: (): BanEntry[] => guard.banList(this.id),
    };
    this.#engine.dgrams.set(this.id, this);
  }

  /** Where the socket is bound (the real port when 0 was asked for). */
  address(): AddressInfo {
    return { ...this.#addr };
  }

  /** The peer of a connected socket; InvalidArgumentError (EW_ENOTCONN) on a listening one. */
  remoteAddress(): AddressInfo {
    if (this.#peer === null) throw new InvalidArgumentError('EW_ENOTCONN', 'remoteAddress(): this UDP socket is not connected');
    return { ...this.#peer };
  }

  /** Whether it was made by rt.connect(). */
  get connected(): boolean {
    return this.#peer !== null;
  }

  /** True until close() (or the runtime's close). */
  get isOpen(): boolean {
    return this.#state === State.Open;
  }

  /**
   * Sends one datagram. With framing 'frames': `send(type, body?, opts?, port, address)` (or a
   * MessageClass and an object to encode instead of type and body), one frame; with 'raw':
   * `send(bytes, port, address)`. A connected socket sends to its peer: leave port and address
   * out. `address` is numeric (resolve names first, with dns.lookup); it defaults, as in
   * Node's dgram, to '127.0.0.1' on an IPv4 socket and '::1' on an IPv6 one. Returns true once
   * the datagram is queued for its IO thread (nothing is dropped on the way to the kernel; the
   * kernel itself may drop, as UDP does), false on a closed socket. Throws InvalidArgumentError
   * for bad arguments, EW_EMSGSIZE for a datagram above 65507 bytes or a ring record.
   */
  send(type: number, body?: Uint8Array | string, opts?: SendOptions, port?: number, address?: string): boolean;
  send<T, I>(cls: MessageClass<T, I>, message: I, opts?: SendOptions, port?: number, address?: string): boolean;
  send(bytes: Uint8Array | string, port?: number, address?: string): boolean;
  send(a0: unknown, a1?: unknown, a2?: unknown, a3?: unknown, a4?: unknown): boolean {
    // Plain tests rather than check(): no message string is built on the hot path.
    let type = 0;
    let flags = 0;
    let seq = 0;
    let bytes: Uint8Array;
    let port: unknown;
    let address: unknown;
    if (typeof a0 === 'number' || typeof a0 === 'function') {
      if (this.#raw) throw invalid("send(type, ...) sends a frame, but this socket has framing: 'raw': use send(bytes, port, address)");
      if (typeof a0 === 'number') {
        type = a0;
        if (type !== (type & 0xffff) || type === 0) throw invalid(`frame type must be 1..65535, got ${a0}`);
        if (a1 instanceof Uint8Array) bytes = a1;
        else if (a1 === undefined) bytes = EMPTY;
        else if (typeof a1 === 'string') bytes = Buffer.from(a1);
        else throw invalid('body must be a Uint8Array or a string');
      } else {
        const cls = a0 as unknown as MessageClass<unknown, unknown>;
        type = requireTypeId(cls);
        bytes = cls.encode(a1).finish();
      }
      const opts = a2 as SendOptions | undefined;
      if (opts !== undefined && opts !== null) {
        if (opts.flags !== undefined) {
          flags = opts.flags;
          if (flags !== (flags & FRAME_FLAGS_KNOWN & ~FRAME_FLAG_ENCRYPTED)) throw invalid('frame flags must be within 0x6 (reply, error): the encrypted flag is set by message encryption, not by send()');
        }
        if (opts.seq !== undefined) {
          seq = opts.seq;
          if (seq !== seq >>> 0) throw invalid('seq must be a u32');
        }
      }
      port = a3;
      address = a4;
    } else {
      if (!this.#raw) throw invalid("send(bytes, ...) sends raw bytes, but this socket has framing: 'frames': use send(type, body, opts, port, address)");
      if (a0 instanceof Uint8Array) bytes = a0;
      else if (typeof a0 === 'string') bytes = Buffer.from(a0);
      else throw invalid('the datagram must be a Uint8Array or a string');
      port = a1;
      address = a2;
    }
    const size = bytes.length + (type !== 0 ? FRAME_HEADER_BYTES : 0);
    const k = this.#peer !== null ? this.#io : this.#lastIo;
    if (size > UDP_MAX_DATAGRAM || size + DGRAM_PREFIX_BYTES > this.#engine.outMax[k]) {
      throw new InvalidArgumentError('EW_EMSGSIZE', `a datagram of ${size} bytes is larger than ${Math.min(UDP_MAX_DATAGRAM, this.#engine.outMax[k] - DGRAM_PREFIX_BYTES)}; nothing was sent`);
    }
    let dest: Dest | null = null;
    let p = 0;
    if (this.#peer !== null) {
      if (port !== undefined || address !== undefined) throw invalid('a connected UDP socket sends to its peer only: leave port and address out');
    } else {
      if (typeof port !== 'number' || port !== (port & 0xffff) || port === 0) throw invalid(`port must be an integer in 1..65535, got ${String(port)}`);
      p = port;
      dest = this.#destOf(address === undefined ? (this.#addr.family === 'IPv6' ? '::1' : '127.0.0.1') : address);
    }
    if (this.#state !== State.Open) return false;
    if (dest === null) this.#engine.sendDgram(k, this.id, 0, 0, 0, null, type, flags, seq, bytes);
    else this.#engine.sendDgram(k, this.id, dest.family, p, dest.scope, dest.bytes, type, flags, seq, bytes);
    return true;
  }

  #destOf(address: unknown): Dest {
    if (typeof address !== 'string') throw invalid(`address must be a string, got ${typeof address}`);
    let d = this.#dests.get(address);
    if (d === undefined) {
      d = parseAddress(address);
      if (d.family === 6 && this.#addr.family === 'IPv4') throw invalid(`cannot send to the IPv6 address ${address} from an IPv4 socket`);
      if (this.#dests.size >= DEST_CACHE) this.#dests.clear();
      this.#dests.set(address, d);
    }
    return d;
  }

  /** The limits in force (a copy). */
  get limits(): Required<Limits> {
    return { ...this.#limits };
  }

  /** Changes the per-source limits while the socket runs (merged over the current ones); each
   * IO thread applies them before its next read. */
  setLimits(change: Limits): void {
    const next = mergeLimits(this.#limits, change);
    this.#host.guard.setLimits(this.id, next);
    this.#limits = next;
  }

  stats(): UdpStats {
    // The native counters live while the socket is open; afterwards the last ones read stand.
    const n = (this.#state === State.Closed ? null : this.#host.guard.stats(this.id)) ?? this.#last;
    if (n !== null) this.#last = n;
    const z = (v: number | undefined): number => v ?? 0;
    return {
      messagesIn: z(n?.messages_in),
      bytesIn: z(n?.bytes_in),
      messagesOut: z(n?.dgrams_out),
      bytesOut: z(n?.dgram_bytes_out),
      dropped: { truncated: z(n?.dgram_truncated), badHeader: z(n?.dgram_bad_header), banned: z(n?.dgram_banned), rate: z(n?.dgram_rate), kernel: z(n?.dgram_kernel_drops) },
      sendErrors: z(n?.dgram_send_errors),
      errors: z(n?.dgram_errors),
      bans: { messages: z(n?.bans_messages), active: this.#state === State.Closed ? 0 : this.bans.list().length },
      trackedIps: z(n?.trackedIps),
      ipEvictions: z(n?.ip_evictions),
    };
  }

  /** Closes the socket on every IO thread: datagrams not yet delivered and sends not yet
   * written are dropped, and no 'message' follows. Resolves, and 'close' fires, once every
   * kernel socket is closed. Idempotent. */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closing = new Promise<void>((resolve) => (this.#resolveClose = resolve));
    if (this.#state === State.Open) {
      this.stats(); // the figures as they stand: the native counters go with the socket
      this.#state = State.Closing;
      try {
        this.#host.nrt.udpClose(this.id);
      } catch (err) {
        // The runtime is stopping (its stop closes the socket: [kStopped] follows) or the
        // socket is gone natively already.
        if ((fromNative(err) as { code?: string }).code !== 'EW_ESTATE') this.#finish();
      }
    }
    return this.#closing;
  }

  /** @internal */
  [kNativeClosed](): void {
    this.#finish();
  }

  /** @internal */
  [kStopped](): void {
    this.#finish();
  }

  #finish(): void {
    if (this.#state === State.Closed) return;
    if (this.#state === State.Open) this.#closing ??= Promise.resolve();
    this.stats(); // the last figures, while the native side still knows them
    this.#state = State.Closed;
    this.#engine.dgrams.delete(this.id);
    this.#host.remove(this);
    this.#resolveClose?.();
    this.#resolveClose = null;
    this.emit('close');
  }

  /** @internal A DGRAM record (see DgramSink). */
  [kDgram](io: number, flags: number, type: number, seq: number, off: number, len: number): void {
    const shm = this.#shm;
    const family = shm[off];
    if (family === 0) {
      this.#error(seq);
      return;
    }
    if (this.#state !== State.Open) return;
    this.#lastIo = io;
    const port = this.#dv.getUint16(off + 2, true);
    let address: string;
    if (family === 4) {
      const key = this.#dv.getUint32(off + 8);
      address = this.#sources.get(key) ?? this.#source4(key, off + 8);
    } else {
      address = formatIpv6(shm, off + 8);
    }
    const at = off + DGRAM_PREFIX_BYTES;
    const n = len - DGRAM_PREFIX_BYTES;
    const body = new RingView(this.#ab, at, n);
    const rinfo: RemoteInfo = { address, family: family === 4 ? 'IPv4' : 'IPv6', port, size: this.#raw ? n : n + FRAME_HEADER_BYTES };
    const msg = (this.#raw ? body : { type, flags: flags & 0xff, seq, body }) as M;
    // The common case, one 'message' listener, is called directly, as Server does for frames.
    const l = (this as unknown as { _events?: { message?: unknown } })._events?.message;
    if (typeof l === 'function') (l as (m: M, r: RemoteInfo) => void).call(this, msg, rinfo);
    else this.emit('message', ...([msg, rinfo] as UdpSocketEvents<M>['message']));
  }

  #source4(key: number, at: number): string {
    const s = this.#shm;
    const text = `${s[at]}.${s[at + 1]}.${s[at + 2]}.${s[at + 3]}`;
    if (this.#sources.size >= SOURCE_CACHE) this.#sources.clear();
    this.#sources.set(key, text);
    return text;
  }

  /** An error record: the kernel reported errno `sysErrno` (positive) on the socket. */
  #error(sysErrno: number): void {
    if (this.#state === State.Closed || this.listenerCount('error') === 0) return;
    const errno = -sysErrno;
    const code = errorName(errno);
    const where = this.#peer !== null ? ` ${this.#peer.address}:${this.#peer.port}` : '';
    const err = makeError(code, `${ERROR_CODES[code]?.message ?? `socket error ${sysErrno}`} (udp)${where}`, { errno, syscall: 'udp', address: this.#peer?.address });
    this.emit('error', err);
  }
}

const EMPTY = Buffer.alloc(0);

/** A Buffer over ring memory made without Buffer.from's checks (see lib/connection.ts). */
const RingView = (() => {
  class View extends Uint8Array {}
  Object.setPrototypeOf(View.prototype, Buffer.prototype);
  return View as unknown as new (ab: ArrayBuffer, offset: number, length: number) => Buffer;
})();

function invalid(message: string): InvalidArgumentError {
  return new InvalidArgumentError('EW_EINVAL', message);
}

/** A numeric address (IPv4, IPv6 with an optional numeric %scope) as DGRAM_SEND carries it; an
 * IPv4-mapped IPv6 address is the IPv4 address it maps. */
function parseAddress(address: string): Dest {
  let text = address;
  let scope = 0;
  const pct = address.indexOf('%');
  if (pct >= 0) {
    text = address.slice(0, pct);
    const z = address.slice(pct + 1);
    scope = /^[0-9]{1,10}$/.test(z) ? Number(z) : -1;
    if (!(scope >= 0 && scope <= 0xffffffff)) throw invalid(`an IPv6 scope must be a number (an interface index), got ${JSON.stringify(address)}`);
  }
  const v = net.isIP(text);
  const bytes = new Uint8Array(16);
  if (v === 4 && pct < 0) {
    const q = text.split('.');
    for (let i = 0; i < 4; i++) bytes[i] = Number(q[i]);
    return { family: 4, bytes, scope: 0 };
  }
  if (v !== 6) throw invalid(`not a numeric IP address: ${JSON.stringify(address)} (resolve names first, with dns.lookup)`);
  const groups = ipv6Groups(text);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = groups[i] >> 8;
    bytes[2 * i + 1] = groups[i] & 0xff;
  }
  const mapped = groups[5] === 0xffff && groups.slice(0, 5).every((g) => g === 0);
  if (mapped) {
    const v4 = new Uint8Array(16);
    v4.set(bytes.subarray(12, 16), 0);
    return { family: 4, bytes: v4, scope: 0 };
  }
  return { family: 6, bytes, scope };
}

/** The eight 16-bit groups of a valid IPv6 address (net.isIP said so). */
function ipv6Groups(text: string): number[] {
  const parse = (s: string): number[] => {
    if (s === '') return [];
    const out: number[] = [];
    for (const part of s.split(':')) {
      if (part.includes('.')) {
        const q = part.split('.').map(Number);
        out.push((q[0] << 8) | q[1], (q[2] << 8) | q[3]);
      } else {
        out.push(parseInt(part, 16));
      }
    }
    return out;
  };
  const dbl = text.indexOf('::');
  if (dbl < 0) return parse(text);
  const head = parse(text.slice(0, dbl));
  const tail = parse(text.slice(dbl + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/** 16 address bytes at `at` as RFC 5952 text (what inet_ntop writes): lower-case hex, the
 * longest run of two or more zero groups as '::'. */
function formatIpv6(b: Uint8Array, at: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[at + 2 * i] << 8) | b[at + 2 * i + 1]);
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (x: number): string => x.toString(16);
  if (bestLen < 2) return g.map(hex).join(':');
  return `${g.slice(0, best).map(hex).join(':')}::${g.slice(best + bestLen).map(hex).join(':')}`;
}

/** Validates the options both hooks share and opens the socket natively. */
async function open(host: ProtocolHost, o: UdpListenOptions | UdpConnectOptions, connect: boolean): Promise<UdpSocket<Message | Buffer>> {
  check(typeof o === 'object' && o !== null, `${connect ? 'connect' : 'listen'} options must be an object`, o);
  host.checkOpen();
  const framing = o.framing ?? 'frames';
  check(framing === 'frames' || framing === 'raw', "framing must be 'frames' or 'raw'", framing);
  const ceiling = Math.min(UDP_MAX_DATAGRAM, host.maxRecordBody - DGRAM_PREFIX_BYTES);
  const floor = framing === 'frames' ? FRAME_HEADER_BYTES : 1;
  const maxDatagramBytes = o.maxDatagramBytes ?? ceiling;
  check(Number.isInteger(maxDatagramBytes) && maxDatagramBytes >= floor && maxDatagramBytes <= ceiling, `maxDatagramBytes must be an integer in ${floor}..${ceiling}`, maxDatagramBytes);
  for (const key of ['recvBufferSize', 'sendBufferSize'] as const) {
    const v = o[key] ?? 0;
    check(Number.isInteger(v) && v >= 0 && v <= 0x7fffffff, `${key} must be an integer in 0..2^31-1`, v);
  }
  const limits = mergeLimits(native.defaults.listen.limits, o.limits);
  const maxTrackedIps = o.maxTrackedIps ?? native.defaults.listen.maxTrackedIps;
  check(Number.isInteger(maxTrackedIps) && maxTrackedIps >= 16 && maxTrackedIps <= 1 << 24, 'maxTrackedIps must be an integer in 16..2^24', maxTrackedIps);
  let bindHost = '';
  let bindPort = 0;
  let peer: AddressInfo | null = null;
  if (connect) {
    const c = o as UdpConnectOptions;
    check(typeof c.host === 'string' && c.host !== '', 'host (the peer) must be a non-empty string', c.host);
    check(Number.isInteger(c.port) && c.port >= 1 && c.port <= 65535, 'port must be an integer in 1..65535', c.port);
    bindPort = c.localPort ?? 0;
    check(Number.isInteger(bindPort) && bindPort >= 0 && bindPort <= 65535, 'localPort must be an integer in 0..65535', bindPort);
    if (c.localAddress !== undefined) {
      check(typeof c.localAddress === 'string' && net.isIP(c.localAddress) !== 0, 'localAddress must be a numeric IP address', c.localAddress);
      bindHost = c.localAddress;
    }
    const address = await host.resolve(c.host);
    peer = { address, family: net.isIPv6(address) ? 'IPv6' : 'IPv4', port: c.port };
  } else {
    const l = o as UdpListenOptions;
    bindPort = l.port ?? 0;
    check(Number.isInteger(bindPort) && bindPort >= 0 && bindPort <= 65535, 'port must be an integer in 0..65535', bindPort);
    if (l.host !== undefined && l.host !== '') {
      check(typeof l.host === 'string', 'host must be a string', l.host);
      bindHost = await host.resolve(l.host);
    }
  }
  host.checkOpen();
  let info: NativeUdpInfo;
  try {
    info = host.nrt.udpOpen({
      host: bindHost,
      port: bindPort,
      peer: peer?.address ?? '',
      peerPort: peer?.port ?? 0,
      framing: framing === 'raw' ? FRAMING_RAW : FRAMING_FRAMES,
      maxDatagramBytes,
      recvBufferSize: o.recvBufferSize ?? 0,
      sendBufferSize: o.sendBufferSize ?? 0,
      ownerPort: host.portIndex,
      limits,
      maxTrackedIps,
    });
  } catch (err) {
    throw fromNative(err);
  }
  const sock = new UdpSocket<Message | Buffer>(host, info, { framing, maxDatagramBytes, limits, peer });
  host.add(sock);
  host.logger.debug({ udp: info.id, address: info.address, port: info.port, peer }, connect ? 'UDP socket connected' : 'UDP socket listening');
  return sock;
}

// A UdpSocket is the engine's DgramSink and the runtime's ProtocolHandle; checked here rather than
// with `implements`, which would name internal members in the published declarations.
// eslint-disable-next-line @typescript-eslint/no-unused-vars
const contracts = (u: UdpSocket): [DgramSink, ProtocolHandle] => [u, u];

/** @internal rt.listen({ protocol: 'udp' }) (the registry's hook). */
export function listenUdp(host: ProtocolHost, opts: object): Promise<UdpSocket<Message | Buffer>> {
  return open(host, opts as UdpListenOptions, false);
}

/** @internal rt.connect({ protocol: 'udp' }) (the registry's hook). */
export function connectUdp(host: ProtocolHost, opts: object): Promise<UdpSocket<Message | Buffer>> {
  return open(host, opts as UdpConnectOptions, true);
}
