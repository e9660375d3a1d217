// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The one place that loads the addon (node-gyp-build: a prebuilt binary when one matches, else
// the local build) and declares its shape. Everything else imports `native` from here.
import * as fs from 'fs';
import * as path from 'path';
import type { HttpLimits } from './http';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const load: (dir: string) => unknown = require('node-gyp-build');

export interface NativeAttach {
  shm: Buffer;
  ctl: ArrayBuffer;
  ioThreads: number;
  inOffsets: number[];
  outOffsets: number[];
  ioCtl: number;
  slots: number;
  slotsStride: number;
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
}

export interface NativeListenInfo {
  id: number;
  family: 4 | 6;
  port: number;
  address: string;
}

export interface NativeRuntimeOptions {
  ioThreads: number;
  ports: number;
  affinity: 'auto' | 'off' | number[];
  inRingBytes: number;
  outRingBytes: number;
  maxConnsPerThread: number;
  readBudget: number;
  serialStart: boolean;
  levelTriggered: boolean;
  logLevel: number;
}

export interface NativeRuntime {
  attach(port: number, onWake: () => void, onLog: (level: number, msg: string) => void): NativeAttach;
  flush(): void;
  space(io: number, bodyBytes: number): boolean;
  listen(opts: NativeListenOptions): NativeListenInfo;
  unlisten(id: number): void;
  stop(): Promise<void>;
  dispose(): void;
  threads(): { tid: number; cpu: number }[];
  setRef(ref: boolean): void;
  setLogLevel(level: number): void;
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
  DIST_LEAST_CONNS: number;
  FRAMING_RAW: number;
  FRAMING_HTTP: number;
  REC_HTTP_REQ: number;
  REC_F_RESPONSE_END: number;
  HTTP_METHODS: string[];
  IO_STATS: string[];
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
  };
}

export interface NativeAddon {
  NativeRuntime: new (opts: NativeRuntimeOptions) => NativeRuntime;
  errors(): { errno: number; code: string; message: string }[];
  constants: NativeConstants;
  defaults: NativeDefaults;
}

/** The package root: the nearest directory above this file that holds package.json. */
function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('evwire: cannot find the package root to load the addon from');
    dir = up;
  }
  return dir;
}

export const native = load(packageRoot()) as NativeAddon;
