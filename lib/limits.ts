// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The option and event types of protection and HTTP limits: plain types that the native
// binding (native.ts), the engine and the servers all speak, so they live below all of them
// (docs/design-notes.md, the layers). server.ts and http.ts re-export them.

/**
 * Protection (docs/protection.md), enforced on the IO threads before JavaScript sees a byte.
 * 0 turns a limit off. Every value can change at run time with server.setLimits().
 */
export interface Limits {
  /** Length of a connection's statistics window, ms. Default 30000. */
  windowMs?: number;
  /** More messages (frames, raw chunks, HTTP requests) in one window: the connection is closed
   * with EW_EFLOOD and 'kicked' fires. Default 0. */
  maxMessagesPerWindow?: number;
  /** More bytes read in one window: closed with EW_EFLOOD, 'kicked'. Default 0. */
  maxBytesPerWindow?: number;
  /** Messages per second per source address (token bucket; burst ipMessageBurst, default one
   * second's worth). Over it the address is banned for banMs and its connections are closed
   * with EW_EBANNED; 'ban' fires. Default 0. */
  ipMessagesPerSecond?: number;
  ipMessageBurst?: number;
  /** New connections per second per source address (burst ipConnectionBurst); same
   * consequence. Default 0. */
  ipConnectionsPerSecond?: number;
  ipConnectionBurst?: number;
  /** How long an automatic ban lasts, ms. Default 60000. */
  banMs?: number;
  /** Open connections of this server; more are closed at accept (EW_ELIMIT, counted). */
  maxConnections?: number;
  /** Open connections per source address; more are closed at accept. */
  maxConnectionsPerIp?: number;
  /** Response rate per connection, bytes/s (token bucket; burst sendBurstBytes, default one
   * second's worth). Output above it waits, under the watermarks; nothing is dropped. */
  sendBytesPerSecond?: number;
  sendBurstBytes?: number;
  /** Response rate of the whole server, bytes/s, shared evenly among the IO threads and, on
   * each, among the connections waiting for it. */
  serverSendBytesPerSecond?: number;
  serverSendBurstBytes?: number;
  /** No inbound byte for this long: closed with EW_ETIMEOUT_IDLE. Framed and raw servers
   * (HTTP has keepAliveTimeoutMs). Default 0. */
  idleTimeoutMs?: number;
  /** A frame begun and not finished within this: EW_ETIMEOUT_PARTIAL. Default 30000. */
  partialFrameTimeoutMs?: number;
  /** No complete message this long after the accept: EW_ETIMEOUT_FIRST. Default 0. */
  firstMessageTimeoutMs?: number;
}

/** The figures of a connection closed for flooding its window ('kicked'). */
export interface KickInfo {
  /** Which limit was exceeded. */
  what: 'messages' | 'bytes';
  /** Messages and bytes received in the window so far. */
  messages: number;
  bytes: number;
  windowMs: number;
  /** The limit that was exceeded. */
  limit: number;
}

/** An automatic ban ('ban'). */
export interface BanInfo {
  address: string;
  /** How long it lasts. */
  ms: number;
  /** 'messages' (ipMessagesPerSecond) or 'connections' (ipConnectionsPerSecond). */
  reason: 'messages' | 'connections';
}

/** The HTTP limits, each answered natively (README "HTTP/1.1"). */
export interface HttpLimits {
  /** The request head in bytes, every byte of it (request line, header lines, line ends, the
   * whitespace around values); the names and values of trailers count too. Default 16 KiB;
   * above: 431. */
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
  /** From a request's delivery to the end of its response (for pipelined requests, the clock
   * of the next one starts when the one before it is answered). A handler that never answers
   * holds its connection no longer: it closes with EW_ETIMEDOUT and 'abort' fires on every
   * response still owed. Default 120 s; 0 turns it off. */
  responseTimeoutMs?: number;
}
