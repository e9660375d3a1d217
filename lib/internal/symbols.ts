// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Keys of the members the runtime's classes share with each other but not with users
// (CONVENTIONS: private state under Symbols). State private to one class uses #fields.

// Connection
export const kIo = Symbol('evwire.io');
export const kSlot = Symbol('evwire.slot');
export const kGen = Symbol('evwire.gen');
export const kIdLo = Symbol('evwire.idLo');
export const kData = Symbol('evwire.data');
export const kPeerEnd = Symbol('evwire.peerEnd');
export const kFault = Symbol('evwire.fault');
export const kDrain = Symbol('evwire.drain');
export const kClosed = Symbol('evwire.closed');
export const kDestroyWith = Symbol('evwire.destroyWith');
export const kHttpData = Symbol('evwire.httpData');
export const kHttp = Symbol('evwire.http');
export const kWrote = Symbol('evwire.wrote');
export const kEndWith = Symbol('evwire.endWith');
export const kHttpResData = Symbol('evwire.httpResData');
export const kSecure = Symbol('evwire.secure');

// Server
export const kRaw = Symbol('evwire.raw');
export const kAllowHalfOpen = Symbol('evwire.allowHalfOpen');
export const kHighWatermark = Symbol('evwire.highWatermark');
export const kLowWatermark = Symbol('evwire.lowWatermark');
export const kMaxBuffered = Symbol('evwire.maxBuffered');
export const kRoute = Symbol('evwire.route');
export const kAccepted = Symbol('evwire.accepted');
export const kConnectionClosed = Symbol('evwire.connectionClosed');
export const kConnections = Symbol('evwire.connections');
export const kUnlistened = Symbol('evwire.unlistened');
export const kError = Symbol('evwire.error');
export const kHttpRequest = Symbol('evwire.httpRequest');
/** An HTTP_RES record for a client link's connection (lib/http-client.ts). */
export const kHttpResponse = Symbol('evwire.httpResponse');
export const kKicked = Symbol('evwire.kicked');
export const kOnAccept = Symbol('evwire.onAccept');
export const kDenied = Symbol('evwire.denied');
export const kLimits = Symbol('evwire.limits');
export const kDrainServer = Symbol('evwire.drainServer');
export const kDrainConn = Symbol('evwire.drainConn');
export const kCloseIdle = Symbol('evwire.closeIdle');
export const kEmpty = Symbol('evwire.empty');
/** A protocol that writes its connections through objects of its own (HTTP: HttpResponse):
 * the message send() and write() refuse with, or null. */
export const kOwnWriter = Symbol('evwire.ownWriter');

// Protocol handles that are not servers (UDP sockets)
/** A DGRAM record for a UDP socket (engine -> DgramSink). */
export const kDgram = Symbol('evwire.dgram');
/** Every native socket of a handle is closed (its UNLISTEN record). */
export const kNativeClosed = Symbol('evwire.nativeClosed');
/** The runtime stopped: the handle is closed, whatever it was doing. */
export const kStopped = Symbol('evwire.stopped');
