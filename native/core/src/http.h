// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_HTTP_H
#define EW_HTTP_H

/* HTTP/1.1 on the IO threads (docs/http.md): llhttp parses requests as bytes arrive; a
 * complete request (method, URL, headers with lower-cased names, body) travels to JavaScript as
 * one HTTP_REQ record (several with EW_REC_F_MORE when it is larger than a record). Limits,
 * malformed requests and timeouts are answered here, with the status codes of the RFCs and
 * without JavaScript; pipelined requests are answered in order, including those native
 * answers, which wait for the responses to the requests before them. */

#include <stdbool.h>
#include <stdint.h>

typedef struct ew__conn_s ew__conn_t;
typedef struct ew__http_s ew__http_t;

/* The HTTP_REQ record format and its flags are in hparse.h. */
#include "hparse.h"

/* Set on the last SEND record of a response, so the IO thread knows where responses end:
 * that is what lets a native answer (an error, a timeout) wait its turn behind pipelined
 * responses that JavaScript is still producing. */

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

/* The connection flooded its window: it reads no more, and once the responses owed before it
 * are written it gets 429 and closes with EW_EFLOOD. Returns -1. */
int ew__http_kick(ew__conn_t *c);

/* The server is closing (EW_CONN_OPT_CLOSE_IF_IDLE). Returns true if the connection is idle:
 * nothing owed, nothing begun, nothing parsed and waiting; the caller then ends it. Otherwise
 * the request in progress becomes the last (EW_HTTP_F_LAST) and no further one is read. */
bool ew__http_drain(ew__conn_t *c);

/* A timeout of this connection expired (header, body or keep-alive). Closes or answers. */
void ew__http_timeout(ew__conn_t *c, bool progress);

/* Formats the current Date header value (cached per second, per thread) into `out`
 * (at least 30 bytes). Returns its length. */
int ew__http_date(char *out);

#endif /* EW_HTTP_H */
