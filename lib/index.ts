// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The public API of evwire. Nothing outside this file's exports is supported; the package's
// `exports` map blocks deep imports.
export { Runtime } from './runtime';
export type { RuntimeOptions, IoThreadStats, ThreadInfo, RuntimeEvents, WorkerExitInfo, CloseOptions, CloseOnSignalsOptions } from './runtime';
export type { WorkersOptions } from './internal/pool';
export { worker, WorkerApi } from './worker';
export type { WorkerEvents } from './worker';
export { Tasks, taskType } from './tasks';
export type { TaskTarget, ScheduleOptions, TaskContext, TaskHandler, TaskType } from './tasks';
export { Server } from './server';
export type { ListenOptions, AddressInfo, FrameInfo, ServerStats, ServerEvents, Limits, KickInfo, BanInfo, BanEntry, Bans, PeerInfo, AcceptHook, BindPolicy } from './server';
export { HttpServer, HttpRequest, HttpResponse } from './http';
export type { HttpListenOptions, HttpLimits, HttpHandler, HttpServerStats, HttpResponseEvents, HttpHook, HttpHookName, RouteOptions } from './http';
export { LinesServer } from './lines';
export type { LinesListenOptions, LinesServerEvents } from './lines';
export { Link } from './link';
export { HttpLink, HttpClientResponse } from './http-client';
export type { HttpConnectOptions, HttpRequestOptions, HttpLinkEvents, HttpLinkStats } from './http-client';
export type { ConnectOptions, ReconnectOptions, ReconnectInfo, LinkStats, LinkEvents, LinkFrameInfo } from './link';
export { UdpSocket } from './udp';
export type { UdpListenOptions, UdpConnectOptions, UdpSocketOptions, RemoteInfo, UdpStats, UdpSocketEvents } from './udp';
export { Connection } from './connection';
export type { Message, SendOptions, CloseReason, ConnectionEvents, ConnectionStats, SecureInfo } from './connection';
export type { EncryptionOptions, CipherName, KeyInput } from './encryption';
export type { TlsServerOptions, TlsClientOptions, Pem } from './tls';
export {
  EvwireError,
  SystemError,
  ProtocolError,
  ClosedError,
  TimeoutError,
  LimitError,
  InvalidArgumentError,
  ERROR_CODES,
  errorName,
} from './errors';
export type { ErrorCategory, ErrorInfo } from './errors';
export { defineMessageType, messageTypeId } from './messages';
export type { MessageClass } from './messages';
export { createLogger, LOG_LEVELS } from './log';
export type { Logger, LoggerOptions } from './log';
export { demo } from './gen/demo.types';
export { collectMetrics, serverRows, TASK_BUCKETS } from './metrics';
export type { MetricsOptions, MetricsSource, ServerRow } from './metrics';
export type { TaskTally } from './tasks';
