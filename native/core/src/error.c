// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "ew/error.h"

const char *ew_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define XX(name, value, msg)                                                                       \
  case EW_##name:                                                                                  \
    return msg;
    EW_ERRNO_MAP(XX)
#undef XX
  default:
    return "unknown error";
  }
}

const char *ew_err_name(int err) {
  switch (err) {
  case 0:
    return "EW_OK";
#define XX(name, value, msg)                                                                       \
  case EW_##name:                                                                                  \
    return "EW_" #name;
    EW_ERRNO_MAP(XX)
#undef XX
  default:
    return "EW_EUNKNOWN";
  }
}

int ew_translate_sys_error(int sys_errno) {
  /* EWOULDBLOCK equals EAGAIN on Linux; mapping it explicitly keeps other platforms honest. */
  if (sys_errno == EWOULDBLOCK) return EW_EAGAIN;
  return sys_errno > 0 ? -sys_errno : EW_EIO;
}

void ew_err_foreach(void (*fn)(void *arg, int code, const char *name, const char *msg), void *arg) {
#define XX(name, value, msg) fn(arg, EW_##name, "EW_" #name, msg);
  EW_ERRNO_MAP(XX)
#undef XX
}
