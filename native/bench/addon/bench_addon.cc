// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The benchmark-only addon: build/Release/bench/evwire_bench.node, binding.gyp's evwire_bench
// target. It holds what the design experiments (docs/experiments.md) need from native code and
// the runtime does not: today the threadsafe-function side of "rings vs threadsafe functions"
// (tsfn.h), served by bench/peers/evwire-tsfn-echo.js through bench/lib/bench-addon.js. It is
// never in the npm package or its prebuilds (the package ships no native/bench/).
//
// It links the C core itself and starts a runtime of its own, so it needs nothing of the
// production addon (evwire.node) at run time: a process serving the experiment loads this addon
// only. From the production addon's sources it reuses the error and option conversions
// (native/addon/options.cc), so errors carry the same .code, .errno and .syscall.
//
// Thread crossings are marked "THREAD:" (tsfn.h): IO threads only write the bridge's eventfd;
// the bridge's consumer thread calls no N-API function but the threadsafe function's.

#include "common.h"
#include "tsfn.h"

namespace evwire_bench {

using evwire_addon::Bool;
using evwire_addon::MakeError;
using evwire_addon::ThrowTypeError;
using evwire_addon::U32;

// new TsfnRuntime({ ioThreads, inRingBytes, outRingBytes, maxConnsPerThread, readBudget,
// levelTriggered, logLevel }): a runtime with one port, which attach() hands to a TsfnBridge.
// Native log lines go to stderr.
class TsfnRuntime : public Napi::ObjectWrap<TsfnRuntime> {
public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TsfnRuntime",
                       {
                           InstanceMethod("listen", &TsfnRuntime::Listen),
                           InstanceMethod("attach", &TsfnRuntime::Attach),
                           InstanceMethod("sendBatch", &TsfnRuntime::SendBatch),
                           InstanceMethod("dispose", &TsfnRuntime::Dispose),
                       });
  }

  TsfnRuntime(const Napi::CallbackInfo &info)
      : Napi::ObjectWrap<TsfnRuntime>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) {
      ThrowTypeError(env, "options must be an object");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    ew_runtime_opts_t opts;
    ew_runtime_opts_init(&opts);
    opts.io_threads = U32(o, "ioThreads", opts.io_threads);
    opts.ports = 1;
    opts.in_ring_bytes = U32(o, "inRingBytes", opts.in_ring_bytes);
    opts.out_ring_bytes = U32(o, "outRingBytes", opts.out_ring_bytes);
    opts.max_conns_per_thread = U32(o, "maxConnsPerThread", opts.max_conns_per_thread);
    opts.read_budget = U32(o, "readBudget", opts.read_budget);
    opts.level_triggered = Bool(o, "levelTriggered", false) ? 1 : 0;
    opts.log_level = static_cast<int>(U32(o, "logLevel", EW_LOG_LEVEL_WARN));
    int err = ew_runtime_start(&opts, &rt_);
    if (err != 0) {
      rt_ = nullptr;
      MakeError(env, err, "start").ThrowAsJavaScriptException();
      return;
    }
    napi_add_env_cleanup_hook(env, EnvCleanup, this);
    cleanup_hook_ = true;
  }

  ~TsfnRuntime() override {
    Teardown();
  }

private:
  // listen({ host, port, maxFrameBytes, highWatermark, lowWatermark, maxBufferedBytes, noDelay })
  // -> { address, port }: a framed (docs/protocol.md) TCP server, round-robin over the IO
  // threads, every other option the core's default.
  Napi::Value Listen(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "listen");
    if (!info[0].IsObject()) {
      ThrowTypeError(env, "options must be an object");
      return env.Undefined();
    }
    Napi::Object o = info[0].As<Napi::Object>();
    ew_listen_opts_t lo;
    ew_listen_opts_init(&lo);
    std::string host = o.Get("host").IsString() ? o.Get("host").As<Napi::String>().Utf8Value() : "";
    lo.host = host.c_str();
    lo.port = static_cast<uint16_t>(U32(o, "port", 0));
    lo.framing = EW_FRAMING_FRAMES;
    lo.max_frame_bytes = U32(o, "maxFrameBytes", lo.max_frame_bytes);
    lo.high_watermark = U32(o, "highWatermark", lo.high_watermark);
    lo.low_watermark = U32(o, "lowWatermark", lo.low_watermark);
    lo.max_buffered = U32(o, "maxBufferedBytes", lo.max_buffered);
    lo.no_delay = Bool(o, "noDelay", true) ? 1 : 0;
    ew_listen_info_t li;
    int err = ew_listen(rt_, &lo, &li);
    if (err != 0) {
      std::string where = host + ":" + std::to_string(lo.port);
      MakeError(env, err, "listen", where.c_str()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("port", li.port);
    r.Set("address", li.address);
    return r;
  }

  // attach(fn): consumes the port through a TsfnBridge, calling fn(batch) on the JS thread for
  // each batch: [{ conn, type, seq, flags, body } | { conn, end: true }]. Once only.
  Napi::Value Attach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr || bridge_ != nullptr) return Fail(env, EW_ESTATE, "attach");
    if (!info[0].IsFunction()) {
      ThrowTypeError(env, "attach(fn) needs a function");
      return env.Undefined();
    }
    napi_threadsafe_function tsfn;
    napi_status st = napi_create_threadsafe_function(env, info[0], nullptr,
                                                     Napi::String::New(env, "evwire-tsfn"), 64, 1,
                                                     nullptr, nullptr, nullptr, CallJsBatch, &tsfn);
    if (st != napi_ok) return Fail(env, EW_ENOMEM, "attach");
    TsfnBridge *bridge = new TsfnBridge(rt_, ew_runtime_port(rt_, 0));
    int err = bridge->Start(tsfn);
    if (err != 0) {
      delete bridge;
      return Fail(env, err, "attach");
    }
    bridge_ = bridge;
    return env.Undefined();
  }

  // sendBatch(replies): the replies of one batch, [{ conn, type, seq, flags, body } | { conn,
  // end: true }], each read through N-API (the cost the experiment measures).
  Napi::Value SendBatch(const Napi::CallbackInfo &info) {
    if (bridge_ != nullptr && info[0].IsArray())
      bridge_->SendBatch(info.Env(), info[0].As<Napi::Array>());
    return info.Env().Undefined();
  }

  // Stops the consumer thread and the runtime, and joins them. Idempotent.
  Napi::Value Dispose(const Napi::CallbackInfo &info) {
    Teardown();
    return info.Env().Undefined();
  }

  static Napi::Value Fail(Napi::Env env, int err, const char *syscall) {
    MakeError(env, err, syscall).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  static void EnvCleanup(void *arg) {
    TsfnRuntime *self = static_cast<TsfnRuntime *>(arg);
    self->cleanup_hook_ = false;
    self->Teardown();
  }

  void Teardown() {
    if (rt_ == nullptr) return;
    if (cleanup_hook_) {
      napi_remove_env_cleanup_hook(env_, EnvCleanup, this);
      cleanup_hook_ = false;
    }
    if (bridge_ != nullptr) {
      bridge_->Stop();
      delete bridge_;
      bridge_ = nullptr;
    }
    ew_runtime_stop(rt_, nullptr, nullptr);
    ew_runtime_join(rt_);
    ew_runtime_release(rt_);
    rt_ = nullptr;
  }

  Napi::Env env_;
  ew_runtime_t *rt_ = nullptr;
  TsfnBridge *bridge_ = nullptr;
  bool cleanup_hook_ = false;
};

// ---- module -----------------------------------------------------------------------------------

class BenchAddon : public Napi::Addon<BenchAddon> {
public:
  BenchAddon(Napi::Env env, Napi::Object exports) {
    exports.Set("TsfnRuntime", TsfnRuntime::Define(env));
  }
};

} // namespace evwire_bench

using evwire_bench::BenchAddon;

NODE_API_ADDON(BenchAddon)
