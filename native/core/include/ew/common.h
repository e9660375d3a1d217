// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW_COMMON_H
#define EW_COMMON_H

/* Everything the core exports carries EW_EXTERN; the rest of the library is built with
 * -fvisibility=hidden so that bundled code never clashes with the symbols of the host
 * process (Node exports its own llhttp and OpenSSL). */
#if defined(__GNUC__)
#define EW_EXTERN __attribute__((visibility("default")))
#else
#define EW_EXTERN
#endif

#include <stddef.h>
#include <stdint.h>

#endif /* EW_COMMON_H */
