// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The one place that loads the addon (node-gyp-build: a prebuilt binary when one matches, else
// the local build) and declares its shape. Everything else imports `native` from here.
import * as fs from 'fs';
import * as path from 'path';
import { makeError } from './errors';
import type { HttpLimits, Limits } from './limits';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load: { (dir: string): unknown; path(dir: string): string } = require('node-gyp-build');

export interface NativeAttach {
  shm: Buffer;
  ctl: ArrayBuffer;
  ioThreads: number;
  /** The one IO loop runs inline on this thread (the runtime's owner). */
  inline: boolean;
  /** Ports (JS threads) of the runtime, this one's index, and its channels: the IO threads'
   * rings first, then (with task rings) one per port. */
  ports: number;
  index: number;
  channels: number;
  portCtl: number;
  inOffsets: number[];
  outOffsets: number[];
  ioCtl: number;
  slots: number;
  slotsStride: number;
}

/** Message encryption as listen and linkOpen take it (runtime.cc, ParseCrypt; lib/encryption.ts
 * validates and converts the keys). */
export interface NativeEncryption {
  mode: number;
  ciphers: number[];
  ed25519?: Buffer;
  rsa?: Buffer;
  rekeyAfterBytes: number;
  handshakeTimeoutMs: number;
}

/** TLS as listen, linkOpen and setTls take it (runtime.cc, ParseTls; lib/tls.ts validates). */
export interface NativeTls {
  cert?: string;
  key?: string;
  ca?: string;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
  minVersion: number;
  alpn?: Buffer;
  servername?: string;
  sni?: { name: string; cert: string; key: string }[];
  handshakeTimeoutMs: number;
}

export interface NativeListenOptions extends HttpLimits {
  host: string;
  port: number;
  backlog: number;
  reusePort: boolean;
  distribution: number;
  framing: number;
  maxFrameBytes: number;
  highWatermark: number;
  lowWatermark: number;
  maxBufferedBytes: number;
  noDelay: boolean;
  ownerPort: number;
  bind: number;
  bindPorts: number[];
  admit: boolean;
  limits: Required<Limits>;
  maxTrackedIps: number;
  encryption?: NativeEncryption;
  tls?: NativeTls;
}

/** Per-server counters (EW_SERVER_STATS_MAP) and the number of addresses tracked. */
export interface NativeServerStats {
  messages_in: number;
  bytes_in: number;
  kicked_messages: number;
  kicked_bytes: number;
  bans_messages: number;
  bans_connections: number;
  banned_closes: number;
  rejected_banned: number;
  rejected_max_conns: number;
  rejected_max_conns_per_ip: number;
  timeouts_idle: number;
  timeouts_partial: number;
  timeouts_first: number;
  throttled: number;
  ip_evictions: number;
  dgrams_out: number;
  dgram_bytes_out: number;
  dgram_send_errors: number;
  dgram_truncated: number;
  dgram_bad_header: number;
  dgram_banned: number;
  dgram_rate: number;
  dgram_kernel_drops: number;
  dgram_errors: number;
  trackedIps: number;
}

/** A UDP socket (ew_udp_opts_t): listening, or connected when `peer` is not ''. */
export interface NativeUdpOptions {
  host: string;
  port: number;
  peer: string;
  peerPort: number;
  framing: number;
  maxDatagramBytes: number;
  recvBufferSize: number;
  sendBufferSize: number;
  ownerPort: number;
  limits: Required<Limits>;
  maxTrackedIps: number;
  encryption?: NativeEncryption;
}

export interface NativeUdpInfo {
  id: number;
  family: 4 | 6;
  port: number;
  address: string;
  /** The IO thread of a connected socket. */
  io: number;
}

export interface NativeListenInfo {
  id: number;
  family: 4 | 6;
  port: number;
  address: string;
}

export interface NativeRuntimeOptions {
  ioThreads: number;
  /** Run the one IO loop on this thread, driven from libuv (ioThreads must be 1). */
  inlineIo: boolean;
  ports: number;
  affinity: 'auto' | 'off' | number[];
  inRingBytes: number;
  outRingBytes: number;
  maxConnsPerThread: number;
  readBudget: number;
  levelTriggered: boolean;
  /** The longest an IO thread spins before blocking (ew_runtime_opts_t.spin_us). */
  spinUs: number;
  logLevel: number;
  taskRingBytes: number;
}

export interface NativeRuntime {
  attach(port: number, onWake: () => void, onLog: (level: number, msg: string) => void): NativeAttach;
  flush(): void;
  space(io: number, bodyBytes: number): boolean;
  listen(opts: NativeListenOptions): NativeListenInfo;
  unlisten(id: number): void;
  /** A link (outbound connections) whose connections run by `opts` and go to port
   * opts.ownerPort; its id is from the servers' id space. */
  linkOpen(opts: Partial<NativeListenOptions>): number;
  /** One connection attempt on IO thread `io`: the numeric addresses in turn, sharing
   * `timeoutMs` (0: none). The outcome comes as an OPEN or a LINK_FAIL record. */
  linkConnect(id: number, addresses: string[], port: number, timeoutMs: number, io: number): void;
  /** Abandons the link's attempts in flight; its connections stay until closed. */
  linkClose(id: number): void;
  setLimits(id: number, limits: Required<Limits>): void;
  serverStats(id: number): NativeServerStats;
  banAdd(id: number, address: string, ms: number): void;
  banRemove(id: number, address: string): boolean;
  banList(id: number): { address: string; remainingMs: number }[];
  stop(): Promise<void>;
  dispose(): void;
  threads(): { tid: number; cpu: number }[];
  setRef(ref: boolean): void;
  setLogLevel(level: number): void;
  /** Main thread: the number a work thread attaches with. */
  shareId(): number;
  /** Cleans up after a port whose consumer died; resolves when every IO thread is done. */
  portReset(index: number, reason: number): Promise<void>;
  setAdmit(id: number, on: boolean): void;
  setTls(id: number, tls: NativeTls): void;
  udpOpen(opts: NativeUdpOptions): NativeUdpInfo;
  udpClose(id: number): void;
}

export interface NativeConstants {
  RING_HEADER_BYTES: number;
  RING_OFF_CAP: number;
  RING_OFF_MAX_BODY: number;
  RING_OFF_TAIL: number;
  RING_OFF_HEAD: number;
  REC_HEADER_BYTES: number;
  REC_PAD: number;
  REC_OPEN: number;
  REC_DATA: number;
  REC_FRAMES: number;
  REC_END: number;
  REC_CLOSE: number;
  REC_DRAIN: number;
  REC_UNLISTEN: number;
  REC_FAULT: number;
  REC_ACCEPT_ERROR: number;
  REC_SEND: number;
  REC_SHUTDOWN: number;
  REC_DESTROY: number;
  REC_WATCH: number;
  REC_F_MORE: number;
  FRAME_HEADER_BYTES: number;
  FRAME_FLAGS_KNOWN: number;
  SHM_IO_CTL_BYTES: number;
  SHM_IO_STATS: number;
  SHM_SLOT_BYTES: number;
  SHM_SLOT_GEN: number;
  SHM_SLOT_WRITTEN: number;
  SHM_SLOT_MSGS_IN: number;
  SHM_SLOT_BYTES_IN: number;
  SHM_SLOT_WIN_MSGS: number;
  SHM_SLOT_WIN_BYTES: number;
  SHM_SLOT_WIN_START: number;
  SHM_SLOT_BYTES_OUT: number;
  REC_BAN: number;
  KICK_MESSAGES: number;
  KICK_BYTES: number;
  BAN_MESSAGES: number;
  BAN_CONNECTIONS: number;
  DIST_LEAST_CONNS: number;
  FRAMING_RAW: number;
  FRAMING_HTTP: number;
  REC_HTTP_REQ: number;
  REC_F_RESPONSE_END: number;
  REC_TASK: number;
  REC_REPLY: number;
  REC_ADMIT: number;
  REC_VERDICT: number;
  SHM_SLOT_PORT: number;
  SHM_PORT_CTL_BYTES: number;
  SHM_PORT_EPOCH: number;
  SHM_PORT_CONNS: number;
  SHM_PORT_ATTACHED: number;
  BIND_LEAST_CONNS: number;
  BIND_LEAST_BACKLOG: number;
  HTTP_METHODS: string[];
  IO_STATS: string[];
  /** The help text of each IO_STATS counter, from the same C table. */
  IO_STATS_HELP: string[];
}

/** The C core's defaults (ew_runtime_opts_init / ew_listen_opts_init), each chosen by an
 * experiment (docs/experiments.md). */
export interface NativeDefaults {
  runtime: {
    ioThreads: number;
    inRingBytes: number;
    outRingBytes: number;
    maxConnsPerThread: number;
    readBudget: number;
    levelTriggered: boolean;
    spinUs: number;
  };
  listen: {
    backlog: number;
    maxFrameBytes: number;
    highWatermark: number;
    lowWatermark: number;
    maxBufferedBytes: number;
    noDelay: boolean;
    leastConnections: boolean;
    maxHeaderBytes: number;
    maxHeaders: number;
    maxUrlBytes: number;
    maxBodyBytes: number;
    headerTimeoutMs: number;
    bodyTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxRequestsPerConnection: number;
    responseTimeoutMs: number;
    maxTrackedIps: number;
    limits: Required<Limits>;
  };
}

export interface NativeAddon {
  NativeRuntime: new (opts: NativeRuntimeOptions | { share: number }) => NativeRuntime;
  errors(): { errno: number; code: string; message: string }[];
  constants: NativeConstants;
  defaults: NativeDefaults;
}

/** The package root: the nearest directory above this file that holds package.json. */
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw makeError('EW_ENOENT', `evwire: cannot find the package root (package.json) above ${__dirname} to load the addon from`);
    dir = up;
  }
  return dir;
}

function loadAddon(): NativeAddon {
  const root = packageRoot();
  let addon: Partial<NativeAddon>;
  try {
    addon = load(root) as Partial<NativeAddon>;
  } catch (err) {
    throw makeError(
      'EW_ENOENT',
      `evwire: no usable native addon in ${root} for ${process.platform}-${process.arch}, Node ${process.versions.node} ` +
        `(ABI ${process.versions.modules}): build it with \`npm rebuild evwire\` (needs a C compiler, libevent-dev, pkg-config; ` +
        `see the README's Quick start). The loader said: ${(err as Error)?.message ?? String(err)}`,
      { cause: err },
    );
  }
  // node-gyp-build loads the first *.node of build/Release by name: evwire.node, before the
  // benchmark-only evwire_bench.node a checkout builds beside it (binding.gyp). Say so loudly
  // if that ever picks another addon.
  if (typeof addon.NativeRuntime !== 'function') {
    throw makeError('EW_ENOENT', `evwire: the native addon node-gyp-build loaded from ${root} is not evwire's runtime addon (no NativeRuntime): ${load.path(root)}`);
  }
  return addon as NativeAddon;
}

export const native = loadAddon();
