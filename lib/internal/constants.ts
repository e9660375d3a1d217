// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The shared-memory format as JavaScript sees it (native/core/include/ew/ring.h). These are
// hard-coded because they are read on the hot path; test/errors.test.ts compares them with the
// values the addon exports from the C headers.
export const RING_HEADER_BYTES = 256;
export const RING_OFF_CAP = 8;
export const RING_OFF_MAX_BODY = 12;
export const RING_OFF_TAIL = 64;
export const RING_OFF_HEAD = 128;
export const REC_HEADER_BYTES = 24;
export const REC_PAD = 1;
export const REC_OPEN = 2;
export const REC_DATA = 3;
export const REC_HTTP_REQ = 7;
export const REC_END = 4;
export const REC_CLOSE = 5;
export const REC_DRAIN = 6;
export const REC_UNLISTEN = 13;
export const REC_FAULT = 14;
export const REC_ACCEPT_ERROR = 15;
export const REC_SEND = 16;
export const REC_SHUTDOWN = 17;
export const REC_DESTROY = 18;
export const REC_WATCH = 19;
export const REC_F_MORE = 0x100;
export const REC_F_RESPONSE_END = 0x200;
export const FRAME_HEADER_BYTES = 12;
export const FRAME_FLAGS_KNOWN = 0x7;
export const SHM_IO_CTL_BYTES = 512;
export const SHM_IO_STATS = 64;
export const SHM_SLOT_BYTES = 64;
export const SHM_SLOT_GEN = 0;
export const SHM_SLOT_WRITTEN = 1;
export const SHM_SLOT_MSGS_IN = 2;
export const SHM_SLOT_BYTES_IN = 4;
export const SHM_SLOT_WIN_MSGS = 6;
export const SHM_SLOT_WIN_BYTES = 8;
export const SHM_SLOT_WIN_START = 10;
export const SHM_SLOT_BYTES_OUT = 12;
export const REC_BAN = 20;
export const REC_TASK = 10;
export const REC_REPLY = 11;
export const REC_ADMIT = 21;
export const REC_VERDICT = 22;
export const REC_CONN_OPT = 23;
export const CONN_OPT_PAUSE = 1;
export const CONN_OPT_NODELAY = 2;
export const CONN_OPT_KEEPALIVE = 3;
export const CONN_OPT_KEEPIDLE = 4;
export const CONN_OPT_CLOSE_IF_IDLE = 5;
export const SHM_SLOT_PORT = 14;
export const SHM_PORT_CTL_BYTES = 64;
export const SHM_PORT_EPOCH = 4;
export const SHM_PORT_CONNS = 8;
export const SHM_PORT_ATTACHED = 12;
export const BIND_ROUND_ROBIN = 0;
export const BIND_LEAST_CONNS = 1;
export const BIND_LEAST_BACKLOG = 2;
export const KICK_MESSAGES = 1;
export const KICK_BYTES = 2;
export const BAN_MESSAGES = 1;
export const BAN_CONNECTIONS = 2;
export const DIST_ROUND_ROBIN = 0;
export const DIST_LEAST_CONNS = 1;
export const FRAMING_FRAMES = 0;
export const FRAMING_RAW = 1;
export const FRAMING_HTTP = 2;

/** Control words per IO thread in the ctl buffer shared with the addon. */
export const CTL_IN_TAIL = 0;
export const CTL_IN_HEAD = 1;
export const CTL_OUT_HEAD = 2;
export const CTL_OUT_TAIL = 3;
export const CTL_STRIDE = 4;

/** Bytes a record with `body` body bytes occupies (EW_REC_SIZE). */
export function recSize(body: number): number {
  return (body + REC_HEADER_BYTES + 7) & ~7;
}
