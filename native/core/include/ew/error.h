// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_ERROR_H
#define EW_ERROR_H

#include <errno.h>
#include "ew/common.h"

/* One table generates the error enum, ew_strerror() and ew_err_name(), and the addon exports
 * it so that the TypeScript table and docs/errors.md can be checked against it.
 *
 * Fallible functions return 0 or a negative EW_E* code. POSIX errors are the negated errno
 * (EW_ECONNRESET == -ECONNRESET), so a syscall failure translates with a single minus sign. The
 * runtime's own codes sit in the reserved range -3000 .. -3999, far from any errno. */
#define EW_ERRNO_MAP(XX)                                                                           \
  XX(EPERM, -EPERM, "operation not permitted")                                                     \
  XX(ENOENT, -ENOENT, "no such file or directory")                                                 \
  XX(EINTR, -EINTR, "interrupted system call")                                                     \
  XX(EIO, -EIO, "i/o error")                                                                       \
  XX(EBADF, -EBADF, "bad file descriptor")                                                         \
  XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                                          \
  XX(ENOMEM, -ENOMEM, "not enough memory")                                                         \
  XX(EACCES, -EACCES, "permission denied")                                                         \
  XX(EFAULT, -EFAULT, "bad address in system call argument")                                       \
  XX(EBUSY, -EBUSY, "resource busy or locked")                                                     \
  XX(EEXIST, -EEXIST, "file already exists")                                                       \
  XX(EINVAL, -EINVAL, "invalid argument")                                                          \
  XX(ENFILE, -ENFILE, "file table overflow")                                                       \
  XX(EMFILE, -EMFILE, "too many open files")                                                       \
  XX(ENOSPC, -ENOSPC, "no space left on device")                                                   \
  XX(EPIPE, -EPIPE, "broken pipe")                                                                 \
  XX(ERANGE, -ERANGE, "result too large")                                                          \
  XX(ENOSYS, -ENOSYS, "function not implemented")                                                  \
  XX(ENOTSOCK, -ENOTSOCK, "socket operation on non-socket")                                        \
  XX(EMSGSIZE, -EMSGSIZE, "message too long")                                                      \
  XX(EPROTONOSUPPORT, -EPROTONOSUPPORT, "protocol not supported")                                  \
  XX(ENOTSUP, -ENOTSUP, "operation not supported")                                                 \
  XX(EAFNOSUPPORT, -EAFNOSUPPORT, "address family not supported")                                  \
  XX(EADDRINUSE, -EADDRINUSE, "address already in use")                                            \
  XX(EADDRNOTAVAIL, -EADDRNOTAVAIL, "address not available")                                       \
  XX(ENETDOWN, -ENETDOWN, "network is down")                                                       \
  XX(ENETUNREACH, -ENETUNREACH, "network is unreachable")                                          \
  XX(ECONNABORTED, -ECONNABORTED, "software caused connection abort")                              \
  XX(ECONNRESET, -ECONNRESET, "connection reset by peer")                                          \
  XX(ENOBUFS, -ENOBUFS, "no buffer space available")                                               \
  XX(EISCONN, -EISCONN, "socket is already connected")                                             \
  XX(ENOTCONN, -ENOTCONN, "socket is not connected")                                               \
  XX(ETIMEDOUT, -ETIMEDOUT, "connection timed out")                                                \
  XX(ECONNREFUSED, -ECONNREFUSED, "connection refused")                                            \
  XX(EHOSTUNREACH, -EHOSTUNREACH, "host is unreachable")                                           \
  XX(EALREADY, -EALREADY, "connection already in progress")                                        \
  XX(EINPROGRESS, -EINPROGRESS, "operation in progress")                                           \
  XX(ECANCELED, -ECANCELED, "operation canceled")                                                  \
  XX(EOVERFLOW, -EOVERFLOW, "value too large for defined data type")                               \
  XX(EOF, -3000, "end of stream")                                                                  \
  XX(ECLOSED, -3001, "connection is closed")                                                       \
  XX(EPROTO_LENGTH, -3002, "frame above maxFrameBytes or line above maxLineBytes")                 \
  XX(EPROTO_FLAGS, -3003, "frame header has unknown flag bits")                                    \
  XX(EPROTO_TYPE, -3004, "frame uses the reserved type 0")                                         \
  XX(EPROTO_TRUNCATED, -3005, "connection ended inside a frame")                                   \
  XX(EPROTO_DECODE, -3006, "message body failed to decode")                                        \
  XX(ESLOW, -3007, "peer too slow: queued output above the hard cap")                              \
  XX(EFLOOD, -3008, "message or byte rate above the connection's limit")                           \
  XX(EBANNED, -3009, "peer address is banned")                                                     \
  XX(ELIMIT, -3010, "connection limit reached")                                                    \
  XX(ESHUTDOWN, -3011, "runtime is shutting down")                                                 \
  XX(ESTATE, -3012, "operation not valid in the current state")                                    \
  XX(EPROTO_HTTP, -3013, "malformed HTTP message or one over a limit")                             \
  XX(ETIMEOUT_IDLE, -3014, "no data received within the idle timeout")                             \
  XX(ETIMEOUT_PARTIAL, -3015, "a frame was begun and not finished within the partial timeout")     \
  XX(ETIMEOUT_FIRST, -3016, "no complete message within the first-message timeout")                \
  XX(EDENIED, -3017, "connection refused by the accept hook")                                      \
  XX(EWORKER, -3018, "the work thread exited")                                                     \
  XX(ENOTASK, -3019, "no task of that name on the target thread")                                  \
  XX(EAI_NONAME, -3020, "host name not found")                                                     \
  XX(EAI_AGAIN, -3021, "temporary failure in name resolution")                                     \
  XX(EAI_FAIL, -3022, "permanent failure in name resolution")                                      \
  XX(EAI_OTHER, -3023, "name resolution failed")                                                   \
  XX(EHTTP_RES_HEADERS, -3024, "HTTP response head above maxHeaderBytes or maxHeaders")            \
  XX(EHTTP_RES_BODY, -3025, "HTTP response body above maxBodyBytes")                               \
  XX(EPROTO_CRYPTO, -3026, "an encrypted frame did not verify")                                    \
  XX(EPROTO_HANDSHAKE, -3027, "message-encryption handshake failed")                               \
  XX(EPROTO_PLAINTEXT, -3028, "plaintext frame where encryption is required, or the reverse")      \
  XX(ETIMEOUT_HANDSHAKE, -3029, "encryption or TLS handshake not finished in time")                \
  XX(ETLS_HANDSHAKE, -3030, "TLS handshake failed")                                                \
  XX(ETLS_CERT, -3031, "TLS peer certificate missing or not valid")                                \
  XX(ETLS_VERSION, -3032, "TLS version below the minimum")                                         \
  XX(ETLS_PLAINTEXT, -3033, "not TLS: a plaintext client on a TLS port")                           \
  XX(ETLS, -3034, "TLS error after the handshake")

typedef enum {
  EW_OK = 0,
#define XX(name, value, msg) EW_##name = (value),
  EW_ERRNO_MAP(XX)
#undef XX
} ew_errno_t;

/* Returns a static, human-readable description of `err` ("connection reset by peer"). Any
 * thread; never NULL; an unknown code yields "unknown error". */
EW_EXTERN const char *ew_strerror(int err);

/* Returns the static symbolic name of `err` ("EW_ECONNRESET"), the `.code` JavaScript sees.
 * Any thread; never NULL; 0 yields "EW_OK" and an unknown code "EW_EUNKNOWN". */
EW_EXTERN const char *ew_err_name(int err);

/* Translates a positive errno from a failed syscall into an EW_* code. Unknown errno values
 * pass through negated, so no failure is ever reported as success. */
EW_EXTERN int ew_translate_sys_error(int sys_errno);

/* Calls `fn(arg, code, name, message)` once per entry of EW_ERRNO_MAP, in table order. Used by
 * the addon to export the table and by the test that checks the TS table and the docs. */
EW_EXTERN void ew_err_foreach(void (*fn)(void *arg, int code, const char *name, const char *msg),
                              void *arg);

#endif /* EW_ERROR_H */
