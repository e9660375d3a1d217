// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The shape of the benchmark-only addon (bench-addon.js loads it; native/bench/addon/
// bench_addon.cc defines it). Not part of evwire's API: lib/native.ts declares the runtime's
// addon, which has none of this.

/** A message as the threadsafe function hands it to JavaScript, or a peer's end. */
export type TsfnMessage = { conn: number; type: number; seq: number; flags: number; body: Buffer; end?: undefined } | { conn: number; end: true };

/** A reply: a frame to send on `conn`, or `end: true` to shut its sending side. */
export type TsfnReply = { conn: number; type: number; seq: number; flags: number; body: Buffer } | { conn: number; end: true };

export interface TsfnRuntimeOptions {
  ioThreads?: number;
  inRingBytes?: number;
  outRingBytes?: number;
  maxConnsPerThread?: number;
  readBudget?: number;
  levelTriggered?: boolean;
  /** EW_LOG_LEVEL_*; native lines go to stderr. Default 40 (warn). */
  logLevel?: number;
}

export interface TsfnListenOptions {
  host?: string;
  port?: number;
  maxFrameBytes?: number;
  highWatermark?: number;
  lowWatermark?: number;
  maxBufferedBytes?: number;
  noDelay?: boolean;
}

/** The "rings vs threadsafe functions" experiment's comparison (docs/experiments.md): a runtime
 * of its own with one port, consumed by a native thread that hands batches to JavaScript
 * through a napi_threadsafe_function. */
export interface TsfnRuntime {
  /** A framed TCP server (docs/protocol.md). Throws an Error with .code (EW_*) on failure. */
  listen(opts: TsfnListenOptions): { address: string; port: number };
  /** Starts the consumer thread; `onBatch` runs on this thread once per batch. Once only. */
  attach(onBatch: (batch: TsfnMessage[]) => void): void;
  /** Writes one batch's replies, each element read through N-API. */
  sendBatch(replies: TsfnReply[]): void;
  /** Stops the consumer thread and the runtime. Idempotent. */
  dispose(): void;
}

export interface BenchAddon {
  TsfnRuntime: new (opts: TsfnRuntimeOptions) => TsfnRuntime;
}

/** build/Release/evwire_bench.node */
export const FILE: string;
/** Loads the addon; throws, saying how to build it, when it is missing. */
export function loadBenchAddon(): BenchAddon;
