// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <stddef.h>
#include <string.h>

/* The codec registry: one line per protocol (docs/architecture.md, "Adding a protocol"). */
static const ew__codec_t *const codecs[] = {
    [EW_FRAMING_FRAMES] = &ew__codec_frames,
    [EW_FRAMING_RAW] = &ew__codec_raw,
    [EW_FRAMING_HTTP] = &ew__codec_http,
    [EW_FRAMING_LINES] = &ew__codec_lines,
    [EW_FRAMING_HTTP_CLIENT] = &ew__codec_http_client,
};

int ew__codec_init_zero(ew__conn_t *c) {
  memset(&c->cs, 0, sizeof c->cs);
  return 0;
}

void ew__codec_free_none(ew__conn_t *c) {
  (void)c;
}

int ew__codec_kick_fault(ew__conn_t *c) {
  ew__conn_fault(c, EW_EFLOOD);
  return -1;
}

bool ew__codec_drain_idle(ew__conn_t *c) {
  (void)c;
  return true;
}

const ew__codec_t *ew__codec_for(int framing) {
  if (framing < 0 || (size_t)framing >= sizeof codecs / sizeof codecs[0]) return NULL;
  return codecs[framing];
}
