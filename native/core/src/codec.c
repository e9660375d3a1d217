// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "codec.h"
#include "ew.h"

#include <stddef.h>

/* The codec registry: one line per protocol (docs/architecture.md, "Adding a protocol"). */
static const ew__codec_t *const codecs[] = {
    [EW_FRAMING_FRAMES] = &ew__codec_frames,
    [EW_FRAMING_RAW] = &ew__codec_raw,
    [EW_FRAMING_HTTP] = &ew__codec_http,
    [EW_FRAMING_LINES] = &ew__codec_lines,
    [EW_FRAMING_HTTP_CLIENT] = &ew__codec_http_client,
};

const ew__codec_t *ew__codec_for(int framing) {
  if (framing < 0 || (size_t)framing >= sizeof codecs / sizeof codecs[0]) return NULL;
  return codecs[framing];
}
