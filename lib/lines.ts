// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The 'lines' protocol (docs/protocol.md, "Lines"): newline-delimited text or bytes, as Netty's
// LineBasedFrameDecoder or Node's readline over a socket. The IO thread cuts the lines (native
// codec_lines.c): each arrives here as one DATA record without its terminator and is emitted as
// 'line', on the connection first, then on the server. Output is plain bytes: conn.write().
import type { Buffer } from 'buffer';
import type { EventEmitter } from 'events';
import type { Connection } from './connection';
import { check } from './errors';
import { kRoute } from './internal/symbols';
import type { NativeListenOptions } from './native';
import { Server, type ListenOptions, type ServerEvents } from './server';

declare module './connection' {
  interface ConnectionEvents {
    /** protocol 'lines': one line, without its "\n" or "\r\n". A Buffer over ring memory,
     * valid until the listener returns: `line.toString()` or `Buffer.from(line)` keeps it. */
    line: [line: Buffer];
  }
}

/** The default of maxLineBytes (Netty's examples and most line protocols stay far below). */
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

export interface LinesListenOptions extends Omit<ListenOptions, 'protocol' | 'framing' | 'maxFrameBytes' | 'decodeErrorPolicy'> {
  protocol: 'lines';
  /** A longer line (terminator excluded) closes the connection with EW_EPROTO_LENGTH, after the
   * lines before it were handled. Default 64 KiB; at most what one record of the runtime's in
   * ring carries (about inRingBytes / 4), since a line is delivered whole. */
  maxLineBytes?: number;
}

export interface LinesServerEvents extends ServerEvents {
  line: [conn: Connection, line: Buffer];
}

/** @internal The native options of a lines server: maxLineBytes, validated, travels as the
 * profile's frame limit. `maxRecordBody`: the largest body one in record carries. */
export function linesNativeOptions(opts: object, maxRecordBody: number): Partial<NativeListenOptions> {
  const given = (opts as LinesListenOptions).maxLineBytes;
  if (given === undefined) return { maxFrameBytes: Math.min(DEFAULT_MAX_LINE_BYTES, maxRecordBody) };
  check(Number.isInteger(given) && given >= 1 && given <= maxRecordBody, `maxLineBytes must be an integer in 1..${maxRecordBody} (a line travels in one record of the in ring: raise inRingBytes for longer ones)`, given);
  return { maxFrameBytes: given };
}

/**
 * A server of newline-delimited lines (`protocol: 'lines'`). Each line is emitted as 'line'
 * on its connection (`conn.on('line', (line) => ...)`), then on the server
 * (`server.on('line', (conn, line) => ...)`); replies are bytes, `conn.write('ok\n')`.
 */
export class LinesServer extends Server {
  override readonly protocol = 'lines';

  /** @internal One line of `conn`. */
  override [kRoute](conn: Connection, type: number, flags: number, seq: number, line: Buffer): void {
    conn.emit('line', line);
    (this as EventEmitter).emit('line', conn, line);
  }

  // The server's events with 'line', typed (the class inherits EventEmitter<ServerEvents>).
  override on<K extends keyof LinesServerEvents>(event: K, listener: (...args: LinesServerEvents[K]) => void): this {
    return super.on(event as keyof ServerEvents, listener as never);
  }

  override once<K extends keyof LinesServerEvents>(event: K, listener: (...args: LinesServerEvents[K]) => void): this {
    return super.once(event as keyof ServerEvents, listener as never);
  }

  override off<K extends keyof LinesServerEvents>(event: K, listener: (...args: LinesServerEvents[K]) => void): this {
    return super.off(event as keyof ServerEvents, listener as never);
  }
}
