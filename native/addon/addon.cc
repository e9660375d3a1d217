// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The N-API binding: thin by design. It converts types and calls the C core; validation and
// policy live in TypeScript (lib/). Per-environment state lives in the Napi::Addon instance, so
// the addon loads in worker_threads and several runtimes can share a process.
//
// Thread crossings are marked "THREAD:". The only functions IO threads call here are WakePort,
// OnStopped and LogSink::Push; each touches nothing but an atomic, a mutex-guarded queue and
// uv_async_send(), which libuv documents as callable from any thread.

#include "common.h"

namespace evwire_addon {
namespace {

// ---- module -----------------------------------------------------------------------------------

class Addon : public Napi::Addon<Addon> {
public:
  Addon(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = DefineRuntime(env);
    runtime_ctor_ = Napi::Persistent(ctor);
    exports.Set("NativeRuntime", ctor);
    DefineAddon(exports, {InstanceMethod("errors", &Addon::Errors)});
    exports.Set("constants", Constants(env));
    exports.Set("defaults", Defaults(env));
  }

private:
  // Every entry of EW_ERRNO_MAP, for the TypeScript table and the docs check.
  Napi::Value Errors(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Array a = Napi::Array::New(env);
    struct Ctx {
      Napi::Env env;
      Napi::Array a;
    } ctx{env, a};
    ew_err_foreach(
        [](void *arg, int code, const char *name, const char *msg) {
          Ctx *c = static_cast<Ctx *>(arg);
          Napi::Object e = Napi::Object::New(c->env);
          e.Set("errno", code);
          e.Set("code", name);
          e.Set("message", msg);
          c->a.Set(c->a.Length(), e);
        },
        &ctx);
    return a;
  }

  // The core's defaults (ew_runtime_opts_init, ew_listen_opts_init): TypeScript fills in what
  // the caller left out from these, so each default lives in one place, the C core, with the
  // experiment that chose it.
  static Napi::Object Defaults(Napi::Env env) {
    ew_runtime_opts_t ro;
    ew_runtime_opts_init(&ro);
    ew_listen_opts_t lo;
    ew_listen_opts_init(&lo);
    Napi::Object r = Napi::Object::New(env);
    r.Set("ioThreads", ro.io_threads);
    r.Set("inRingBytes", ro.in_ring_bytes);
    r.Set("outRingBytes", ro.out_ring_bytes);
    r.Set("maxConnsPerThread", ro.max_conns_per_thread);
    r.Set("readBudget", ro.read_budget);
    r.Set("levelTriggered", Napi::Boolean::New(env, ro.level_triggered != 0));
    r.Set("spinUs", ro.spin_us);
    Napi::Object l = Napi::Object::New(env);
    l.Set("backlog", lo.backlog);
    l.Set("maxFrameBytes", lo.max_frame_bytes);
    l.Set("highWatermark", lo.high_watermark);
    l.Set("lowWatermark", lo.low_watermark);
    l.Set("maxBufferedBytes", lo.max_buffered);
    l.Set("noDelay", Napi::Boolean::New(env, lo.no_delay != 0));
    l.Set("leastConnections", Napi::Boolean::New(env, lo.distribution == EW_DIST_LEAST_CONNS));
    l.Set("maxHeaderBytes", lo.http.max_header_bytes);
    l.Set("maxHeaders", lo.http.max_headers);
    l.Set("maxUrlBytes", lo.http.max_url_bytes);
    l.Set("maxBodyBytes", lo.http.max_body_bytes);
    l.Set("headerTimeoutMs", lo.http.header_timeout_ms);
    l.Set("bodyTimeoutMs", lo.http.body_timeout_ms);
    l.Set("keepAliveTimeoutMs", lo.http.keepalive_timeout_ms);
    l.Set("maxRequestsPerConnection", lo.http.max_requests);
    l.Set("responseTimeoutMs", lo.http.response_timeout_ms);
    l.Set("maxTrackedIps", lo.max_tracked_ips);
    l.Set("limits", LimitsToJs(env, &lo.limits));
    Napi::Object d = Napi::Object::New(env);
    d.Set("runtime", r);
    d.Set("listen", l);
    return d;
  }

  // The wire format's constants, exactly the list of ew/wire.h: scripts/gen-wire.js writes
  // lib/gen/wire.ts from them at build time.
  static Napi::Object Constants(Napi::Env env) {
    Napi::Object c = Napi::Object::New(env);
#define XX(name, value) c.Set(#name, static_cast<uint32_t>(value));
    EW_WIRE_CONSTANTS(XX)
#undef XX
    Napi::Array methods = Napi::Array::New(env);
    for (int m = 0; m <= HTTP_FLUSH; m++)
      methods.Set(static_cast<uint32_t>(m),
                  Napi::String::New(env, llhttp_method_name(static_cast<llhttp_method_t>(m))));
    c.Set("HTTP_METHODS", methods);
    Napi::Array stats = Napi::Array::New(env);
#define XX(name, doc) stats.Set(stats.Length(), Napi::String::New(env, #name));
    EW_IO_STATS_MAP(XX)
#undef XX
    c.Set("IO_STATS", stats);
    Napi::Array statsHelp = Napi::Array::New(env);
#define XX(name, doc) statsHelp.Set(statsHelp.Length(), Napi::String::New(env, doc));
    EW_IO_STATS_MAP(XX)
#undef XX
    c.Set("IO_STATS_HELP", statsHelp);
    return c;
  }

  Napi::FunctionReference runtime_ctor_;
};

} // namespace
} // namespace evwire_addon

using evwire_addon::Addon;

NODE_API_ADDON(Addon)
