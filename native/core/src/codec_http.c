// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "http.h"
#include "hparse.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
  S_IDLE = 0, /* parsing: between requests, or inside one */
  S_READY,    /* a complete request waits in the parser for ring space */
  S_STOPPED,  /* no more requests: Connection: close, the last allowed request, or an error */
};

struct ew__http_s {
  ew__hparse_t hp;
  ew__conn_t *c;
  uint32_t push_off; /* how much of a READY request has been pushed (fragments) */
  uint8_t state;
  bool stop_after;
  bool draining; /* the server is closing: the request in progress is the last */
  bool continued;
  bool continue_owed; /* a 100 Continue to write once the parser returns */
  uint32_t requests;  /* requests parsed */
  uint32_t delivered; /* requests handed to the port */
  uint32_t done;      /* responses the port finished (RESPONSE_END) */
  int err_status;     /* a native answer owed after err_after responses; 0: none */
  uint32_t err_after;
  int err_reason;
};

/* The connection's HTTP state (allocated by init). */
static inline ew__http_t *H(const ew__conn_t *c) {
  return c->cs.p;
}

static const char *reason_phrase(int status) {
  switch (status) {
  case 400:
    return "Bad Request";
  case 408:
    return "Request Timeout";
  case 413:
    return "Content Too Large";
  case 429:
    return "Too Many Requests";
  case 414:
    return "URI Too Long";
  case 431:
    return "Request Header Fields Too Large";
  case 501:
    return "Not Implemented";
  case 505:
    return "HTTP Version Not Supported";
  default:
    return "Error";
  }
}

int ew__http_date(char *out) {
  /* One strftime a second per IO thread: the Date header is on every response. */
  static _Thread_local time_t cached_sec;
  static _Thread_local char cached[32];
  static _Thread_local int cached_len;
  time_t now = time(NULL);
  if (now != cached_sec || cached_len == 0) {
    struct tm tm;
    gmtime_r(&now, &tm);
    cached_len = (int)strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_sec = now;
  }
  memcpy(out, cached, (size_t)cached_len + 1);
  return cached_len;
}

/* ---- connection hooks --------------------------------------------------------------------- */

/* The two timers of an HTTP connection:
 *   tprog: the header timeout (from the accept, or a request's first byte, to its headers) and
 *          the body timeout (from the headers to the end of the body): 408 when they expire;
 *   tidle: while responses are owed, the response timeout (the connection closes with
 *          EW_ETIMEDOUT and JavaScript aborts what it owed: a handler that never answers holds
 *          a connection for a bounded time); with nothing owed and nothing begun, keep-alive. */
static void idle_arm(ew__conn_t *c) {
  ew__http_t *h = H(c);
  const ew_http_limits_t *lim = &c->prof->http;
  if (h->done < h->delivered) {
    if (lim->response_timeout_ms != 0)
      ew__io_arm(c->io, &c->tidle, lim->response_timeout_ms);
    else
      ew__tnode_disarm(&c->tidle);
  } else if (h->state == S_IDLE && !ew__hparse_midway(&h->hp) && !(c->flags & C_PEER_EOF)) {
    ew__io_arm(c->io, &c->tidle, lim->keepalive_timeout_ms);
  } else {
    ew__tnode_disarm(&c->tidle);
  }
}

static void on_begin(void *ud) {
  ew__conn_t *c = ud;
  ew__http_t *h = H(c);
  h->continued = false;
  /* Keep-alive ends with the first byte of a request (the response timer, if responses are
   * owed, runs on). The header timeout of the first request counts from the accept (armed
   * there); later ones count from their first byte. */
  if (h->done == h->delivered) ew__tnode_disarm(&c->tidle);
  if (!ew__tnode_armed(&c->tprog)) ew__io_arm(c->io, &c->tprog, c->prof->http.header_timeout_ms);
}

static int on_body_begins(void *ud, bool expect_continue) {
  ew__conn_t *c = ud;
  ew__http_t *h = H(c);
  ew__tnode_disarm(&c->tprog);
  ew__io_arm(c->io, &c->tprog, c->prof->http.body_timeout_ms);
  /* 100 Continue is an interim answer to *this* request: sent only when no earlier response is
   * still owed, or the client would take it for the answer to an earlier request. A client that
   * gets none sends its body after a short wait anyway (RFC 9110 10.1.1). */
  if (expect_continue && h->done == h->delivered) {
    /* Written once the parser returns, before the request is delivered: a write can close the
     * connection, which must not happen under the parser. */
    h->continue_owed = true;
    h->continued = true;
  }
  return 0;
}

static const ew__hparse_ops_t parse_ops = {.begin = on_begin, .body_begins = on_body_begins};

static int http_init(ew__conn_t *c) {
  ew__http_t *h = calloc(1, sizeof *h);
  if (h == NULL) return EW_ENOMEM;
  ew__hparse_init(&h->hp, &c->prof->http, &parse_ops, c);
  h->c = c;
  c->cs.p = h;
  /* A connection that never sends a request is held to the header timeout (slowloris). */
  ew__io_arm(c->io, &c->tprog, c->prof->http.header_timeout_ms);
  return 0;
}

static void http_free(ew__conn_t *c) {
  ew__http_t *h = H(c);
  if (h == NULL) return;
  ew__hparse_free(&h->hp);
  free(h);
  c->cs.p = NULL;
}

/* Writes the owed native answer and closes once it is flushed. */
static int answer_error(ew__conn_t *c) {
  ew__http_t *h = H(c);
  char date[32];
  ew__http_date(date);
  char resp[256];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                   h->err_status, reason_phrase(h->err_status), date);
  EW__STAT(c->io, http_errors)++;
  int reason = h->err_reason;
  h->err_status = 0;
  h->state = S_STOPPED;
  if (ew__conn_write(c, resp, (size_t)n) != 0) return -1;
  return ew__conn_end_with(c, reason);
}

/* Stops reading for good and answers `status` natively (closing with `reason`), now or once the
 * responses owed before it are written. */
static int stop_with(ew__conn_t *c, int status, int reason) {
  ew__http_t *h = H(c);
  if (h->err_status == 0) {
    h->err_status = status;
    h->err_reason = reason;
  }
  h->state = S_STOPPED;
  h->err_after = h->delivered;
  ew__tnode_disarm(&c->tprog);
  idle_arm(c);
  ew__conn_stop_reading(c);
  if (h->done >= h->err_after) answer_error(c);
  return -1;
}

static int http_kick(ew__conn_t *c) {
  return stop_with(c, 429, EW_EFLOOD);
}

static int push_request(ew__conn_t *c) {
  ew__http_t *h = H(c);
  const uint8_t *buf = h->hp.buf;
  uint32_t len = h->hp.len;
  while (h->push_off < len) {
    uint32_t rest = len - h->push_off;
    uint32_t n = rest;
    ew_rec_t *rec = ew__conn_reserve(c, &n);
    if (rec == NULL) return 1;
    rec->kind = EW_REC_HTTP_REQ;
    rec->flags = (uint16_t)(n < rest ? EW_REC_F_MORE : 0);
    rec->conn = c->id;
    rec->type = 0;
    rec->seq = h->delivered;
    memcpy(rec + 1, buf + h->push_off, n);
    h->push_off += n;
  }
  h->delivered++;
  EW__STAT(c->io, http_requests)++;
  return 0;
}

/* A request is complete in the parser: its flags say how the connection goes on. */
static void request_complete(ew__conn_t *c) {
  ew__http_t *h = H(c);
  ew__tnode_disarm(&c->tprog);
  uint8_t *flags = &h->hp.buf[3];
  if (!(*flags & EW_HTTP_F_KEEP_ALIVE)) h->stop_after = true;
  h->requests++;
  uint32_t max = c->prof->http.max_requests;
  if ((max != 0 && h->requests >= max) || h->draining) {
    *flags = (uint8_t)((*flags & ~EW_HTTP_F_KEEP_ALIVE) | EW_HTTP_F_LAST);
    h->stop_after = true;
  }
  if (h->continued) *flags |= EW_HTTP_F_CONTINUED;
  h->state = S_READY;
  h->push_off = 0;
}

static int http_deliver(ew__conn_t *c) {
  ew__http_t *h = H(c);
  for (;;) {
    if (h->state == S_READY) {
      /* A request counts against the connection's message window before it is delivered. */
      if (h->push_off == 0 && ew__conn_msg(c) != 0) return -1;
      if (push_request(c) != 0) return 1;
      ew__guard_delivered(c, 1);
      ew__hparse_next(&h->hp);
      h->state = h->stop_after ? S_STOPPED : S_IDLE;
      if (h->delivered - h->done == 1) idle_arm(c); /* the response clock starts */
      if (h->stop_after) {
        /* Nothing after this request is read; once its response is written, our FIN goes out
         * and the connection lingers (discarding) until the peer's FIN or a short timeout. */
        ew__conn_stop_reading(c);
        return -1;
      }
    }
    if (h->state == S_STOPPED) return -1;
    struct evbuffer_iovec v;
    if (evbuffer_peek(c->in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) return 0;
    size_t used = 0;
    int r = ew__hparse_execute(&h->hp, v.iov_base, v.iov_len, &used);
    evbuffer_drain(c->in, used);
    if (h->continue_owed) {
      static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
      h->continue_owed = false;
      if (ew__conn_write(c, cont, sizeof cont - 1) != 0) return -1; /* closed */
    }
    if (r == EW__HPARSE_MORE) continue;
    if (r == EW__HPARSE_DONE) {
      request_complete(c);
      continue;
    }
    /* A limit or malformed input. */
    int status = h->hp.status;
    EW_LOG_DEBUG(c->io->rt, "connection %llu: HTTP %d (%s)", (unsigned long long)c->id, status,
                 llhttp_errno_name(llhttp_get_errno(&h->hp.parser)));
    return stop_with(c, status, EW_EPROTO_HTTP);
  }
}

static bool http_eof(ew__conn_t *c) {
  ew__http_t *h = H(c);
  if (h->state == S_IDLE && ew__hparse_midway(&h->hp)) {
    /* The client gave up in the middle of a request: there is nobody to answer. */
    ew__conn_close(c, EW_EPROTO_TRUNCATED, 0);
    return true;
  }
  ew__tnode_disarm(&c->tprog);
  /* With responses owed, the response timer runs on: JavaScript hears END and aborts them (as
   * Node does for a client that half-closes), or answers and ends. */
  idle_arm(c);
  return false;
}

static int http_sent(ew__conn_t *c, uint32_t n) {
  ew__http_t *h = H(c);
  h->done += n;
  if (h->err_status != 0 && h->state == S_STOPPED && h->done >= h->err_after)
    return answer_error(c);
  /* The next owed response gets a full period; with none owed, keep-alive. */
  idle_arm(c);
  return 0;
}

static bool http_drain(ew__conn_t *c) {
  ew__http_t *h = H(c);
  if (h->state == S_STOPPED) return h->delivered == h->done && h->err_status == 0;
  bool midway = ew__hparse_midway(&h->hp);
  if (h->state == S_IDLE && !midway && h->delivered == h->done) return true;
  h->draining = true;
  if (h->state == S_READY && h->push_off == 0) {
    /* Parsed, not yet handed over (its record waits for ring room): it is the last. */
    uint8_t *flags = &h->hp.buf[3];
    *flags = (uint8_t)((*flags & ~EW_HTTP_F_KEEP_ALIVE) | EW_HTTP_F_LAST);
    h->stop_after = true;
  } else if (h->state == S_IDLE && !midway) {
    /* Only responses owed (their requests may still be on their way to JavaScript): those are
     * answered, and nothing more is read. */
    h->stop_after = true;
    h->state = S_STOPPED;
    ew__conn_stop_reading(c);
  }
  /* Midway: request_complete() marks it the last once it is whole. */
  return false;
}

static void http_timeout(ew__conn_t *c, bool progress) {
  ew__http_t *h = H(c);
  EW__STAT(c->io, timeouts)++;
  if (!progress) {
    /* Keep-alive (nothing owed, nothing started), or a response that never came. */
    if (h->done < h->delivered)
      EW_LOG_DEBUG(c->io->rt, "connection %llu: no response within %u ms; closing",
                   (unsigned long long)c->id, c->prof->http.response_timeout_ms);
    ew__conn_close(c, EW_ETIMEDOUT, 0);
    return;
  }
  /* Headers or body too slow (slowloris), or not a byte since the accept: 408 and close. */
  stop_with(c, 408, EW_ETIMEDOUT);
}

/* The head and body held by the parser are its business: the guard's partial-frame timeout
 * does not apply (EW__CODEC_OWN_TIMERS), and a FIN midway is handled by http_eof. */
static bool http_partial(const ew__conn_t *c) {
  return ew__hparse_midway(&H(c)->hp);
}

const ew__codec_t ew__codec_http = {
    .name = "http",
    .flags = EW__CODEC_OWN_TIMERS,
    .init = http_init,
    .free = http_free,
    .deliver = http_deliver,
    .eof = http_eof,
    .partial = http_partial,
    .timeout = http_timeout,
    .sent = http_sent,
    .kick = http_kick,
    .drain = http_drain,
};
