// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_INTERNAL_H
#define EW_INTERNAL_H

/* The core's internal headers, one per module (docs/architecture.md has the map):
 *   base.h       names, logging, segment layout, clocks
 *   codec.h      the codec interface (codec_frames.c, codec_raw.c, codec_http.c,
 *                codec_lines.c; codec.c is the registry)
 *   transport.h  the transport interface (transport_socket.c)
 *   server.h     servers, listeners, connection profiles (server.c, listener.c)
 *   conn.h       connections (conn.c)
 *   io.h         IO threads, their commands and rings (io.c)
 *   guard.h      protection decisions (guard.c)
 *   udp.h        UDP sockets on the IO threads (udp.c)
 *   rt.h         the runtime and its ports (runtime.c, port.c) */

#include "base.h"
#include "codec.h"
#include "conn.h"
#include "guard.h"
#include "io.h"
#include "rt.h"
#include "server.h"
#include "transport.h"
#include "udp.h"

#endif /* EW_INTERNAL_H */
