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

typedef struct ew__http_s ew__http_t;

/* The HTTP_REQ record format and its flags are in hparse.h. */
#include "hparse.h"

/* The HTTP codec is ew__codec_http (codec.h); what it exports besides is below. */

/* Formats the current Date header value (cached per second, per thread) into `out`
 * (at least 30 bytes). Returns its length. */
int ew__http_date(char *out);

#endif /* EW_HTTP_H */
