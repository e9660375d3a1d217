// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_H
#define EW_H

/* The public C API of the evwire core. No libevent type appears in it: handles are opaque. */
#include "ew/common.h"
#include "ew/error.h"
#include "ew/frame.h"
#include "ew/guard.h"
#include "ew/log.h"
#include "ew/ring.h"
#include "ew/runtime.h"
#include "ew/udp.h"

#endif /* EW_H */
