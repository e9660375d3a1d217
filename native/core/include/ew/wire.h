// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_WIRE_H
#define EW_WIRE_H

/* The wire format as JavaScript sees it, in one list. Every constant of the shared-memory format
 * (rings, records, slots and ports, frames, the HTTP_REQ and HTTP_RES records, the ctl words the
 * addon shares with the engine) that JavaScript reads or writes is named here once, with the C
 * macro or enumerator that defines it. The addon exports exactly this list (its `constants`), and
 * scripts/gen-wire.js writes lib/gen/wire.ts from the addon at build time, so C, the addon and
 * TypeScript cannot disagree; test/errors.test.ts checks the generated file against the addon.
 * The values themselves stay with the headers that own them (ring.h, runtime.h, frame.h, and
 * the HTTP_REQ layout and ctl words below). */

#include "ew/frame.h"
#include "ew/ring.h"
#include "ew/runtime.h"
#include "ew/udp.h"

/* HTTP_REQ record body (host byte order):
 *   u8 method (llhttp_method_t), u8 version major, u8 version minor, u8 flags (EW_HTTP_F_*),
 *   u32 header count, u32 URL bytes, u32 body bytes, u32 header section bytes,
 *   u32 trailer count,
 *   then the URL, the header section (per header: u32 name bytes, u32 value bytes, name in
 *   lower case, value), the body, and the trailer section (the same entry format). */
#define EW_HTTP_REQ_FIXED 24u
#define EW_HTTP_F_KEEP_ALIVE 0x1u /* the connection stays open after the response */
#define EW_HTTP_F_LAST 0x2u       /* the connection's last request: answer with Connection: close */
#define EW_HTTP_F_CONTINUED 0x4u  /* a 100 Continue was sent for this request */

/* HTTP_RES record body (host byte order), a response as an HTTP client link receives it:
 *   u16 status, u8 version major, u8 version minor, u32 flags (EW_HTTP_RES_F_*),
 *   u32 reason phrase bytes, u32 header count, u32 header section bytes, u32 body bytes,
 *   u32 trailer count,
 *   then the reason phrase, the header section (per header: u32 name bytes, u32 value bytes,
 *   name in lower case, value), the body (decoded from chunked), and the trailer section (the
 *   same entry format). Interim (1xx) responses are not delivered. */
#define EW_HTTP_RES_FIXED 28u
#define EW_HTTP_RES_F_KEEP_ALIVE 0x1u /* the connection persists after this response */

/* The addon's ctl words per channel (IO thread or task ring), shared with the engine on the JS
 * thread: the in ring's tail and head, the out ring's head and tail. */
#define EW_CTL_IN_TAIL 0u
#define EW_CTL_IN_HEAD 1u
#define EW_CTL_OUT_HEAD 2u
#define EW_CTL_OUT_TAIL 3u
#define EW_CTL_STRIDE 4u

/* XX(name as JavaScript has it, C value). */
#define EW_WIRE_CONSTANTS(XX)                                                                      \
  XX(RING_HEADER_BYTES, EW_RING_HEADER_BYTES)                                                      \
  XX(RING_OFF_CAP, EW_RING_OFF_CAP)                                                                \
  XX(RING_OFF_MAX_BODY, EW_RING_OFF_MAX_BODY)                                                      \
  XX(RING_OFF_TAIL, EW_RING_OFF_TAIL)                                                              \
  XX(RING_OFF_HEAD, EW_RING_OFF_HEAD)                                                              \
  XX(REC_HEADER_BYTES, EW_REC_HEADER_BYTES)                                                        \
  XX(REC_PAD, EW_REC_PAD)                                                                          \
  XX(REC_OPEN, EW_REC_OPEN)                                                                        \
  XX(REC_DATA, EW_REC_DATA)                                                                        \
  XX(REC_FRAMES, EW_REC_FRAMES)                                                                    \
  XX(REC_END, EW_REC_END)                                                                          \
  XX(REC_CLOSE, EW_REC_CLOSE)                                                                      \
  XX(REC_DRAIN, EW_REC_DRAIN)                                                                      \
  XX(REC_HTTP_REQ, EW_REC_HTTP_REQ)                                                                \
  XX(REC_HTTP_RES, EW_REC_HTTP_RES)                                                                \
  XX(REC_TASK, EW_REC_TASK)                                                                        \
  XX(REC_REPLY, EW_REC_REPLY)                                                                      \
  XX(REC_UNLISTEN, EW_REC_UNLISTEN)                                                                \
  XX(REC_FAULT, EW_REC_FAULT)                                                                      \
  XX(REC_ACCEPT_ERROR, EW_REC_ACCEPT_ERROR)                                                        \
  XX(REC_SEND, EW_REC_SEND)                                                                        \
  XX(REC_SHUTDOWN, EW_REC_SHUTDOWN)                                                                \
  XX(REC_DESTROY, EW_REC_DESTROY)                                                                  \
  XX(REC_WATCH, EW_REC_WATCH)                                                                      \
  XX(REC_BAN, EW_REC_BAN)                                                                          \
  XX(REC_ADMIT, EW_REC_ADMIT)                                                                      \
  XX(REC_VERDICT, EW_REC_VERDICT)                                                                  \
  XX(REC_CONN_OPT, EW_REC_CONN_OPT)                                                                \
  XX(REC_LINK_FAIL, EW_REC_LINK_FAIL)                                                              \
  XX(REC_SECURE, EW_REC_SECURE)                                                                    \
  XX(SECURE_TLS, EW_SECURE_TLS)                                                                    \
  XX(SECURE_REUSED, EW_SECURE_REUSED)                                                              \
  XX(SECURE_PEER_CERT, EW_SECURE_PEER_CERT)                                                        \
  XX(TLS_V1_2, EW_TLS_V1_2)                                                                        \
  XX(TLS_V1_3, EW_TLS_V1_3)                                                                        \
  XX(REC_DGRAM, EW_REC_DGRAM)                                                                      \
  XX(REC_DGRAM_SEND, EW_REC_DGRAM_SEND)                                                            \
  XX(DGRAM_PREFIX_BYTES, EW_DGRAM_PREFIX_BYTES)                                                    \
  XX(UDP_MAX_DATAGRAM, EW_UDP_MAX_DATAGRAM)                                                        \
  XX(REC_F_MORE, EW_REC_F_MORE)                                                                    \
  XX(REC_F_RESPONSE_END, EW_REC_F_RESPONSE_END)                                                    \
  XX(REC_F_REQUEST_START, EW_REC_F_REQUEST_START)                                                  \
  XX(REC_F_NO_BODY, EW_REC_F_NO_BODY)                                                              \
  XX(CONN_OPT_PAUSE, EW_CONN_OPT_PAUSE)                                                            \
  XX(CONN_OPT_NODELAY, EW_CONN_OPT_NODELAY)                                                        \
  XX(CONN_OPT_KEEPALIVE, EW_CONN_OPT_KEEPALIVE)                                                    \
  XX(CONN_OPT_KEEPIDLE, EW_CONN_OPT_KEEPIDLE)                                                      \
  XX(CONN_OPT_CLOSE_IF_IDLE, EW_CONN_OPT_CLOSE_IF_IDLE)                                            \
  XX(KICK_MESSAGES, EW_KICK_MESSAGES)                                                              \
  XX(KICK_BYTES, EW_KICK_BYTES)                                                                    \
  XX(BAN_MESSAGES, EW_BAN_MESSAGES)                                                                \
  XX(BAN_CONNECTIONS, EW_BAN_CONNECTIONS)                                                          \
  XX(FRAME_HEADER_BYTES, EW_FRAME_HEADER_BYTES)                                                    \
  XX(FRAME_FLAGS_KNOWN, EW_FRAME_FLAGS_KNOWN)                                                      \
  XX(FRAME_FLAG_ENCRYPTED, EW_FRAME_FLAG_ENCRYPTED)                                                \
  XX(SHM_IO_CTL_BYTES, EW_SHM_IO_CTL_BYTES)                                                        \
  XX(SHM_IO_STATS, EW_SHM_IO_STATS)                                                                \
  XX(SHM_SLOT_BYTES, EW_SHM_SLOT_BYTES)                                                            \
  XX(SHM_SLOT_GEN, EW_SHM_SLOT_GEN)                                                                \
  XX(SHM_SLOT_WRITTEN, EW_SHM_SLOT_WRITTEN)                                                        \
  XX(SHM_SLOT_MSGS_IN, EW_SHM_SLOT_MSGS_IN)                                                        \
  XX(SHM_SLOT_BYTES_IN, EW_SHM_SLOT_BYTES_IN)                                                      \
  XX(SHM_SLOT_WIN_MSGS, EW_SHM_SLOT_WIN_MSGS)                                                      \
  XX(SHM_SLOT_WIN_BYTES, EW_SHM_SLOT_WIN_BYTES)                                                    \
  XX(SHM_SLOT_WIN_START, EW_SHM_SLOT_WIN_START)                                                    \
  XX(SHM_SLOT_BYTES_OUT, EW_SHM_SLOT_BYTES_OUT)                                                    \
  XX(SHM_SLOT_PORT, EW_SHM_SLOT_PORT)                                                              \
  XX(SHM_SLOT_STATE, EW_SHM_SLOT_STATE)                                                            \
  XX(SLOT_STATE_ENCRYPTED, EW_SLOT_STATE_ENCRYPTED)                                                \
  XX(SHM_PORT_CTL_BYTES, EW_SHM_PORT_CTL_BYTES)                                                    \
  XX(SHM_PORT_EPOCH, EW_SHM_PORT_EPOCH)                                                            \
  XX(SHM_PORT_CONNS, EW_SHM_PORT_CONNS)                                                            \
  XX(SHM_PORT_ATTACHED, EW_SHM_PORT_ATTACHED)                                                      \
  XX(BIND_ROUND_ROBIN, EW_BIND_ROUND_ROBIN)                                                        \
  XX(BIND_LEAST_CONNS, EW_BIND_LEAST_CONNS)                                                        \
  XX(BIND_LEAST_BACKLOG, EW_BIND_LEAST_BACKLOG)                                                    \
  XX(DIST_ROUND_ROBIN, EW_DIST_ROUND_ROBIN)                                                        \
  XX(DIST_LEAST_CONNS, EW_DIST_LEAST_CONNS)                                                        \
  XX(FRAMING_FRAMES, EW_FRAMING_FRAMES)                                                            \
  XX(FRAMING_RAW, EW_FRAMING_RAW)                                                                  \
  XX(FRAMING_HTTP, EW_FRAMING_HTTP)                                                                \
  XX(FRAMING_LINES, EW_FRAMING_LINES)                                                              \
  XX(FRAMING_HTTP_CLIENT, EW_FRAMING_HTTP_CLIENT)                                                  \
  XX(CRYPT_OFF, EW_CRYPT_OFF)                                                                      \
  XX(CRYPT_OPTIONAL, EW_CRYPT_OPTIONAL)                                                            \
  XX(CRYPT_REQUIRED, EW_CRYPT_REQUIRED)                                                            \
  XX(CIPHER_AES_256_GCM, EW_CIPHER_AES_256_GCM)                                                    \
  XX(CIPHER_CHACHA20_POLY1305, EW_CIPHER_CHACHA20_POLY1305)                                        \
  XX(CIPHER_AES_256_CBC_HMAC, EW_CIPHER_AES_256_CBC_HMAC)                                          \
  XX(HTTP_REQ_FIXED, EW_HTTP_REQ_FIXED)                                                            \
  XX(HTTP_F_KEEP_ALIVE, EW_HTTP_F_KEEP_ALIVE)                                                      \
  XX(HTTP_F_LAST, EW_HTTP_F_LAST)                                                                  \
  XX(HTTP_F_CONTINUED, EW_HTTP_F_CONTINUED)                                                        \
  XX(HTTP_RES_FIXED, EW_HTTP_RES_FIXED)                                                            \
  XX(HTTP_RES_F_KEEP_ALIVE, EW_HTTP_RES_F_KEEP_ALIVE)                                              \
  XX(CTL_IN_TAIL, EW_CTL_IN_TAIL)                                                                  \
  XX(CTL_IN_HEAD, EW_CTL_IN_HEAD)                                                                  \
  XX(CTL_OUT_HEAD, EW_CTL_OUT_HEAD)                                                                \
  XX(CTL_OUT_TAIL, EW_CTL_OUT_TAIL)                                                                \
  XX(CTL_STRIDE, EW_CTL_STRIDE)

#endif /* EW_WIRE_H */
