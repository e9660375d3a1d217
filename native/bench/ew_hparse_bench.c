// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
//
// ew_hparse_bench: the HTTP request parser alone (hparse.c: llhttp, evwire's strictness checks
// and the HTTP_REQ record writer), and bare llhttp with no callbacks as its floor, on the request
// shapes of the benchmarks. scripts/profile/callgrind-http.sh runs it under callgrind and divides
// the instructions of parse_loop() by the requests parsed: that figure is deterministic, where a
// timing on this VM is not.
//
//   ew_hparse_bench <case> <mode> <count>
//     case:  wrk | browser | post | chunked
//     mode:  hparse (evwire's parser) | llhttp (llhttp_execute with no callbacks but the pause
//            after each message, the least any llhttp-based server does)
//     count: requests to parse (each case's bytes hold one request; it is parsed `count` times)
#include "hparse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char WRK[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";
static const char BROWSER[] =
    "GET /static/app.js?v=3 HTTP/1.1\r\n"
    "Host: example.test\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Referer: https://example.test/index.html\r\n"
    "Cookie: session=0123456789abcdef; theme=dark\r\n"
    "Connection: keep-alive\r\n"
    "Cache-Control: max-age=0\r\n"
    "\r\n";
static const char POST[] = "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: "
                           "application/octet-stream\r\nContent-Length: 64\r\n\r\n"
                           "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
static const char CHUNKED[] = "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nTransfer-Encoding: "
                              "chunked\r\n\r\n20\r\n0123456789abcdef0123456789abcdef\r\n"
                              "20\r\n0123456789abcdef0123456789abcdef\r\n0\r\n\r\n";

static int bare_complete(llhttp_t *p) {
  (void)p;
  return HPE_PAUSED;
}

/* Kept out of line so that callgrind's --toggle-collect can count it alone. */
__attribute__((noinline)) static long parse_loop(const char *req, size_t len, int bare,
                                                 long count) {
  static const ew__hparse_ops_t ops = {0};
  ew_http_limits_t lim;
  memset(&lim, 0, sizeof lim);
  lim.max_header_bytes = 16u << 10;
  lim.max_headers = 100;
  lim.max_url_bytes = 8u << 10;
  lim.max_body_bytes = 1u << 20;
  long ok = 0;
  if (bare) {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_complete = bare_complete;
    llhttp_t p;
    llhttp_init(&p, HTTP_REQUEST, &s);
    for (long i = 0; i < count; i++) {
      if (llhttp_execute(&p, req, len) == HPE_PAUSED) ok++;
      llhttp_resume(&p);
    }
    return ok;
  }
  ew__hparse_t hp;
  ew__hparse_init(&hp, &lim, &ops, NULL);
  for (long i = 0; i < count; i++) {
    size_t used;
    if (ew__hparse_execute(&hp, req, len, &used) == EW__HPARSE_DONE && used == len) ok++;
    ew__hparse_next(&hp);
  }
  ew__hparse_free(&hp);
  return ok;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: ew_hparse_bench wrk|browser|post|chunked hparse|llhttp COUNT\n");
    return 2;
  }
  const char *req = NULL;
  size_t len = 0;
#define CASE(name, s)                                                                              \
  if (strcmp(argv[1], name) == 0) req = s, len = sizeof s - 1;
  CASE("wrk", WRK)
  CASE("browser", BROWSER)
  CASE("post", POST)
  CASE("chunked", CHUNKED)
#undef CASE
  int bare = strcmp(argv[2], "llhttp") == 0;
  long count = strtol(argv[3], NULL, 10);
  if (req == NULL || (!bare && strcmp(argv[2], "hparse") != 0) || count <= 0) {
    fprintf(stderr, "ew_hparse_bench: bad arguments\n");
    return 2;
  }
  long ok = parse_loop(req, len, bare, count);
  printf("%s %s %ld parsed of %ld\n", argv[1], argv[2], ok, count);
  return ok == count ? 0 : 1;
}
