// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_HTTP_H
#define EW_HTTP_H

/* HTTP/1.1 on the IO threads (DESIGN section 7): llhttp parses requests as bytes arrive; a
 * complete request (method, URL, headers with lower-cased names, body) travels to JavaScript as
 * one HTTP_REQ record (several with EW_REC_F_MORE when it is larger than a record). Limits,
 * malformed requests and timeouts are answered here, with the status codes of the RFCs and
 * without JavaScript; pipelined requests are answered in order, including those native
 * answers, which wait for the responses to the requests before them. */

#include <stdbool.h>
#include <stdint.h>

typedef struct ew__conn_s ew__conn_t;
typedef struct ew__http_s ew__http_t;

/* HTTP_REQ record body (host byte order), then the URL, the headers and the body:
 *   u8 method (llhttp_method_t), u8 version major, u8 version minor, u8 flags (EW_HTTP_F_*),
 *   u16 header count, u16 URL bytes, u32 body bytes, u32 header bytes (the section below),
 *   URL, then per header: u16 name bytes, u16 value bytes, name (lower case), value; then body. */
#define EW_HTTP_REQ_FIXED 16u
#define EW_HTTP_F_KEEP_ALIVE 0x1u /* the connection stays open after the response */
#define EW_HTTP_F_LAST 0x2u       /* maxRequests reached: answer with Connection: close */
#define EW_HTTP_F_CONTINUED 0x4u  /* a 100 Continue was sent for this request */

/* Set on the last SEND record of a response, so the IO thread knows where responses end:
 * that is what lets a native answer (an error, a timeout) wait its turn behind pipelined
 * responses that JavaScript is still producing. */
#define EW_REC_F_RESPONSE_END 0x200u

/* Creates the parser state of an HTTP connection. Returns 0 or EW_ENOMEM. */
int ew__http_init(ew__conn_t *c);
void ew__http_free(ew__conn_t *c);

/* Parses what c->in holds and delivers complete requests. Returns 0 when it needs more bytes,
 * 1 when the ring is full (the connection is blocked), -1 when the connection stopped reading
 * (an error being answered, or Connection: close). */
int ew__http_deliver(ew__conn_t *c);

/* The peer sent FIN. Returns true if the HTTP layer closed or is closing the connection (a
 * request was cut short), false if the usual END record should go to the port. */
bool ew__http_eof(ew__conn_t *c);

/* `n` responses were completely handed to the connection (SEND records with RESPONSE_END).
 * Returns -1 if the connection was closed, else 0. */
int ew__http_responses_done(ew__conn_t *c, uint32_t n);

/* A timeout of this connection expired (header, body or keep-alive). Closes or answers. */
void ew__http_timeout(ew__conn_t *c, bool progress);

/* Formats the current Date header value (cached per second, per thread) into `out`
 * (at least 30 bytes). Returns its length. */
int ew__http_date(char *out);

#endif /* EW_HTTP_H */
