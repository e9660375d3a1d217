// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// Errors thrown by the binding, and the conversions of JavaScript option objects.

#include "common.h"

namespace evwire_addon {

// ---- errors --------------------------------------------------------------------------------

// The one factory for errors thrown by the binding: .code is ew_err_name(), never derived from
// the message text; TypeScript wraps it into the EvwireError class for its category.
Napi::Error MakeError(Napi::Env env, int err, const char *syscall, const char *address) {
  std::string msg = std::string(ew_strerror(err)) + " (" + syscall + ")";
  if (address != nullptr) msg += std::string(" ") + address;
  Napi::Error e = Napi::Error::New(env, msg);
  e.Set("code", Napi::String::New(env, ew_err_name(err)));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (address != nullptr) e.Set("address", Napi::String::New(env, address));
  return e;
}

// Takes a pending exception with the raw call: node-addon-api's GetAndClearPendingException()
// wraps a non-object exception by running JavaScript, which is fatal while a worker is being
// terminated (the pending "exception" is then the termination itself, not an object). A real
// error (a handler's throw, rethrown by the engine from a tick of its own so that the rest of
// its batch was still delivered) goes to 'uncaughtException', where the process's own policy
// decides, as for any Node callback: napi_make_callback leaves it pending for the caller, so
// dropping it here would lose it without a trace.
void ClearException(Napi::Env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  napi_value err;
  if (napi_get_and_clear_last_exception(env, &err) != napi_ok) return;
  napi_valuetype t;
  if (napi_typeof(env, err, &t) == napi_ok && (t == napi_object || t == napi_function))
    napi_fatal_exception(env, err);
}

void ThrowTypeError(Napi::Env env, const char *msg) {
  Napi::Error e = Napi::TypeError::New(env, msg);
  e.Set("code", Napi::String::New(env, "EW_EINVAL"));
  e.ThrowAsJavaScriptException();
}

uint32_t U32(Napi::Object o, const char *key, uint32_t def) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : def;
}

uint64_t U64(Napi::Object o, const char *key, uint64_t def) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) return def;
  double d = v.As<Napi::Number>().DoubleValue();
  return d <= 0 ? 0 : static_cast<uint64_t>(d);
}

void ParseLimits(Napi::Object o, ew_limits_t *l) {
#define XX(js, c, conv) l->c = conv(o, #js, l->c);
  EW_LIMIT_FIELDS(XX)
#undef XX
}

Napi::Object LimitsToJs(Napi::Env env, const ew_limits_t *l) {
  Napi::Object o = Napi::Object::New(env);
#define XX(js, c, conv) o.Set(#js, Napi::Number::New(env, static_cast<double>(l->c)));
  EW_LIMIT_FIELDS(XX)
#undef XX
  return o;
}

bool Bool(Napi::Object o, const char *key, bool def) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : def;
}

} // namespace evwire_addon
