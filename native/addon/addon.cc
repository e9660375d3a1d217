// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The N-API binding: thin by design. It converts types and calls the C core; validation and
// policy live in TypeScript (lib/). Per-environment state lives in the Napi::Addon instance, so
// the addon loads in worker_threads and several runtimes can share a process.
//
// Thread crossings are marked "THREAD:". The only functions IO threads call here are WakePort,
// OnStopped and LogSink::Push; each touches nothing but an atomic, a mutex-guarded queue and
// uv_async_send(), which libuv documents as callable from any thread.

#include <napi.h>
#include <uv.h>

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

extern "C" {
#include "ew.h"
#include "ew/wire.h"
#include "http.h"
#include <llhttp.h>
}

namespace {

// ---- errors --------------------------------------------------------------------------------

// The one factory for errors thrown by the binding: .code is ew_err_name(), never derived from
// the message text; TypeScript wraps it into the EvwireError class for its category.
Napi::Error MakeError(Napi::Env env, int err, const char *syscall, const char *address = nullptr) {
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

// The protection limits, JavaScript name -> ew_limits_t field, in one list for parsing and for
// the defaults.
#define EW_LIMIT_FIELDS(XX)                                                                        \
  XX(windowMs, window_ms, U32)                                                                     \
  XX(maxMessagesPerWindow, max_msgs_per_window, U32)                                               \
  XX(maxBytesPerWindow, max_bytes_per_window, U64)                                                 \
  XX(ipMessagesPerSecond, ip_msgs_per_sec, U32)                                                    \
  XX(ipMessageBurst, ip_msg_burst, U32)                                                            \
  XX(ipConnectionsPerSecond, ip_conns_per_sec, U32)                                                \
  XX(ipConnectionBurst, ip_conn_burst, U32)                                                        \
  XX(banMs, ban_ms, U32)                                                                           \
  XX(maxConnections, max_conns, U32)                                                               \
  XX(maxConnectionsPerIp, max_conns_per_ip, U32)                                                   \
  XX(sendBytesPerSecond, send_bytes_per_sec, U64)                                                  \
  XX(sendBurstBytes, send_burst, U64)                                                              \
  XX(serverSendBytesPerSecond, server_send_bytes_per_sec, U64)                                     \
  XX(serverSendBurstBytes, server_send_burst, U64)                                                 \
  XX(idleTimeoutMs, idle_timeout_ms, U32)                                                          \
  XX(partialFrameTimeoutMs, partial_timeout_ms, U32)                                               \
  XX(firstMessageTimeoutMs, first_msg_timeout_ms, U32)

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

// ---- process exit ----------------------------------------------------------------------------

// process.exit() on the main thread calls exit() without tearing the environment down, so IO
// threads would still be running while static destructors run. An atexit hook stops and joins
// every live runtime first.
std::mutex g_live_mu;
std::vector<ew_runtime_t *> g_live;
std::once_flag g_atexit_once;

void StopAllAtExit() {
  std::vector<ew_runtime_t *> live;
  {
    std::lock_guard<std::mutex> lock(g_live_mu);
    live.swap(g_live);
  }
  for (ew_runtime_t *rt : live) {
    ew_runtime_stop(rt, nullptr, nullptr);
    ew_runtime_join(rt);
  }
}

void TrackLive(ew_runtime_t *rt) {
  std::call_once(g_atexit_once, [] { atexit(StopAllAtExit); });
  std::lock_guard<std::mutex> lock(g_live_mu);
  g_live.push_back(rt);
}

void UntrackLive(ew_runtime_t *rt) {
  std::lock_guard<std::mutex> lock(g_live_mu);
  for (size_t i = 0; i < g_live.size(); i++) {
    if (g_live[i] == rt) {
      g_live[i] = g_live.back();
      g_live.pop_back();
      return;
    }
  }
}

// ---- runtimes shared with work threads ---------------------------------------------------------

// A work thread's addon instance attaches to the runtime its main thread started: the main
// thread's NativeRuntime registers it under a number (shareId()), which travels to the worker in
// workerData; the worker's NativeRuntime({ share }) looks it up and takes its own reference. An
// id whose runtime was torn down is gone from the table, so a late worker fails cleanly.
std::mutex g_shared_mu;
std::map<uint32_t, ew_runtime_t *> g_shared;
uint32_t g_next_share = 1;

uint32_t ShareRuntime(ew_runtime_t *rt) {
  std::lock_guard<std::mutex> lock(g_shared_mu);
  uint32_t id = g_next_share++;
  g_shared[id] = rt;
  return id;
}

void UnshareRuntime(uint32_t id) {
  std::lock_guard<std::mutex> lock(g_shared_mu);
  g_shared.erase(id);
}

ew_runtime_t *AcquireShared(uint32_t id) {
  std::lock_guard<std::mutex> lock(g_shared_mu);
  auto it = g_shared.find(id);
  if (it == g_shared.end()) return nullptr;
  ew_runtime_retain(it->second);
  return it->second;
}

// ---- native log lines -------------------------------------------------------------------------

// Native log lines are queued here by whichever thread logged and handed to pino on the JS
// thread. The queue is bounded: past the bound lines are counted, and the count is reported as
// a line of its own, so nothing is dropped silently.
struct LogSink {
  static constexpr size_t kMaxLines = 1000;
  std::mutex mu;
  std::deque<std::pair<int, std::string>> lines;
  uint64_t dropped = 0;
  uv_async_t *async = nullptr; // cleared before the handle is closed

  // THREAD: any thread (IO threads, the JS thread during ew_listen).
  static void Push(void *arg, int level, const char *msg) {
    LogSink *s = static_cast<LogSink *>(arg);
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->lines.size() >= kMaxLines) {
      s->dropped++;
    } else {
      s->lines.emplace_back(level, msg);
    }
    if (s->async != nullptr) uv_async_send(s->async);
  }
};

// ---- experiment: messages through a threadsafe function -----------------------------------

// The comparison point of the "rings vs threadsafe functions" experiment (docs/experiments.md):
// the conventional way to move messages from native threads to JavaScript. A native thread
// consumes a port's in rings, copies each message, and hands batches to JavaScript through a
// napi_threadsafe_function, where every message becomes an object with its own Buffer; replies
// come back in one sendBatch() call per batch that reads every element through N-API. It serves
// only that experiment (bench/peers/evwire-tsfn-echo.js); the runtime never uses it.
class TsfnBridge {
public:
  struct Msg {
    uint64_t conn;
    uint32_t type, seq;
    uint16_t flags;
    bool end;
    std::string body;
  };
  using Batch = std::vector<Msg>;

  TsfnBridge(ew_runtime_t *rt, ew_port_t *port) : rt_(rt), port_(port) {
    nio_ = ew_runtime_io_threads(rt);
    for (uint32_t k = 0; k < nio_; k++) {
      ew_ring_consumer_init(&in_[k], ew_port_in(port, k));
      ew_ring_producer_init(&out_[k], ew_port_out(port, k));
    }
    efd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  }

  int Start(napi_threadsafe_function tsfn) {
    tsfn_ = tsfn;
    int err = ew_port_attach(
        port_, [](void *a) { static_cast<TsfnBridge *>(a)->Wake(); }, this);
    if (err != 0) return err;
    started_ = pthread_create(&thread_, nullptr, Main, this) == 0;
    return started_ ? 0 : EW_ENOMEM;
  }

  // JS thread: stops the consumer thread; the threadsafe function is released by it.
  void Stop() {
    if (!started_) return;
    stop_.store(true);
    Wake();
    pthread_join(thread_, nullptr);
    started_ = false;
    ew_port_detach(port_);
  }

  ~TsfnBridge() {
    Stop();
    if (efd_ >= 0) close(efd_);
  }

  // JS thread: the replies of one batch, [{ conn, type, seq, flags, body } | { conn, end }].
  void SendBatch(Napi::Env env, Napi::Array a) {
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Object m = a.Get(i).As<Napi::Object>();
      uint64_t conn = static_cast<uint64_t>(m.Get("conn").As<Napi::Number>().Int64Value());
      uint32_t k = static_cast<uint32_t>((conn >> 24) & 0xffu);
      if (k >= nio_) continue;
      if (m.Get("end").ToBoolean().Value()) {
        ew_rec_t *rec = Reserve(k, 0);
        *rec = ew_rec_t{0, EW_REC_SHUTDOWN, 0, conn, 0, 0};
        continue;
      }
      Napi::Buffer<uint8_t> body = m.Get("body").As<Napi::Buffer<uint8_t>>();
      ew_frame_header_t h;
      h.length = static_cast<uint32_t>(body.Length());
      h.type = static_cast<uint16_t>(m.Get("type").As<Napi::Number>().Uint32Value());
      h.flags = static_cast<uint16_t>(m.Get("flags").As<Napi::Number>().Uint32Value());
      h.seq = m.Get("seq").As<Napi::Number>().Uint32Value();
      ew_rec_t *rec = Reserve(k, h.length + EW_FRAME_HEADER_BYTES);
      *rec = ew_rec_t{h.length + EW_FRAME_HEADER_BYTES, EW_REC_SEND, 0, conn, 0, 0};
      ew_frame_encode(reinterpret_cast<uint8_t *>(rec + 1), &h);
      memcpy(reinterpret_cast<uint8_t *>(rec + 1) + EW_FRAME_HEADER_BYTES, body.Data(), h.length);
    }
    for (uint32_t k = 0; k < nio_; k++)
      if (ew_ring_publish(&out_[k])) ew_port_kick(port_, k);
    (void)env;
  }

private:
  // Frames up to a quarter ring: enough for the experiment's cases.
  ew_rec_t *Reserve(uint32_t k, uint32_t len) {
    for (;;) {
      ew_rec_t *rec = ew_ring_reserve(&out_[k], len);
      if (rec != nullptr) return rec;
      if (ew_ring_publish(&out_[k])) ew_port_kick(port_, k);
      if (!ew_ring_wait_space(&out_[k], len)) sched_yield();
    }
  }

  // THREAD: IO threads and the JS thread.
  void Wake() {
    uint64_t one = 1;
    ssize_t r = write(efd_, &one, sizeof one);
    (void)r;
  }

  static void *Main(void *arg) {
    TsfnBridge *b = static_cast<TsfnBridge *>(arg);
    // prepare_sleep also reads the task rings' heads after the IO ones; this experiment never
    // uses task rings, whose positions stay 0.
    uint32_t heads[EW_MAX_IO_THREADS + EW_MAX_PORTS] = {0};
    while (!b->stop_.load()) {
      Batch *batch = new Batch();
      for (uint32_t k = 0; k < b->nio_; k++) {
        const ew_rec_t *rec;
        while (batch->size() < 4096 && (rec = ew_ring_next(&b->in_[k])) != nullptr) {
          if (rec->kind == EW_REC_DATA)
            batch->push_back(Msg{rec->conn, rec->type, rec->seq,
                                 static_cast<uint16_t>(rec->flags & 0xffu), false,
                                 std::string(reinterpret_cast<const char *>(rec + 1), rec->len)});
          else if (rec->kind == EW_REC_END)
            batch->push_back(Msg{rec->conn, 0, 0, 0, true, std::string()});
          ew_ring_advance(&b->in_[k], rec);
        }
        if (ew_ring_release(&b->in_[k])) ew_port_kick(b->port_, k);
        heads[k] = b->in_[k].head;
      }
      if (!batch->empty()) {
        napi_call_threadsafe_function(b->tsfn_, batch, napi_tsfn_blocking);
        continue;
      }
      delete batch;
      if (ew_port_prepare_sleep(b->port_, heads)) continue;
      struct pollfd pfd = {b->efd_, POLLIN, 0};
      poll(&pfd, 1, 50);
      uint64_t v;
      ssize_t r = read(b->efd_, &v, sizeof v);
      (void)r;
      ew_port_awake(b->port_);
    }
    napi_release_threadsafe_function(b->tsfn_, napi_tsfn_release);
    return nullptr;
  }

  ew_runtime_t *rt_;
  ew_port_t *port_;
  uint32_t nio_ = 0;
  int efd_ = -1;
  pthread_t thread_{};
  bool started_ = false;
  std::atomic<bool> stop_{false};
  napi_threadsafe_function tsfn_ = nullptr;
  ew_ring_consumer_t in_[EW_MAX_IO_THREADS];
  ew_ring_producer_t out_[EW_MAX_IO_THREADS];
};

// Runs on the JS thread for each batch: one object and one Buffer copy per message.
void CallJsBatch(napi_env env, napi_value js_cb, void *, void *data) {
  auto *batch = static_cast<TsfnBridge::Batch *>(data);
  if (env != nullptr && js_cb != nullptr) {
    Napi::Env e(env);
    Napi::HandleScope scope(e);
    Napi::Array a = Napi::Array::New(e, batch->size());
    for (size_t i = 0; i < batch->size(); i++) {
      const TsfnBridge::Msg &m = (*batch)[i];
      Napi::Object o = Napi::Object::New(e);
      o.Set("conn", Napi::Number::New(e, static_cast<double>(m.conn)));
      if (m.end) {
        o.Set("end", Napi::Boolean::New(e, true));
      } else {
        o.Set("type", m.type);
        o.Set("seq", m.seq);
        o.Set("flags", m.flags);
        o.Set("body", Napi::Buffer<uint8_t>::Copy(
                          e, reinterpret_cast<const uint8_t *>(m.body.data()), m.body.size()));
      }
      a.Set(static_cast<uint32_t>(i), o);
    }
    napi_value result;
    napi_value argv[1] = {a};
    napi_call_function(env, a, js_cb, 1, argv, &result);
    ClearException(e);
  }
  delete batch;
}

// ---- the runtime wrapper ------------------------------------------------------------------------

// ctl words per IO thread (EW_CTL_* in ew/wire.h), shared with lib/internal/engine.ts on the JS
// thread (no atomics needed there: native code and JS touch them only from this one thread).
constexpr uint32_t kCtlInTail = EW_CTL_IN_TAIL;
constexpr uint32_t kCtlInHead = EW_CTL_IN_HEAD;
constexpr uint32_t kCtlOutHead = EW_CTL_OUT_HEAD;
constexpr uint32_t kCtlOutTail = EW_CTL_OUT_TAIL;
constexpr uint32_t kCtlStride = EW_CTL_STRIDE;
constexpr uint32_t kMaxChannels = EW_MAX_IO_THREADS + EW_MAX_PORTS;

class Runtime : public Napi::ObjectWrap<Runtime> {
public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeRuntime",
                       {
                           InstanceMethod("attach", &Runtime::Attach),
                           InstanceMethod("flush", &Runtime::Flush),
                           InstanceMethod("space", &Runtime::Space),
                           InstanceMethod("listen", &Runtime::Listen),
                           InstanceMethod("unlisten", &Runtime::Unlisten),
                           InstanceMethod("setLimits", &Runtime::SetLimits),
                           InstanceMethod("serverStats", &Runtime::ServerStats),
                           InstanceMethod("banAdd", &Runtime::BanAdd),
                           InstanceMethod("banRemove", &Runtime::BanRemove),
                           InstanceMethod("banList", &Runtime::BanList),
                           InstanceMethod("stop", &Runtime::Stop),
                           InstanceMethod("dispose", &Runtime::Dispose),
                           InstanceMethod("threads", &Runtime::Threads),
                           InstanceMethod("setRef", &Runtime::SetRef),
                           InstanceMethod("setLogLevel", &Runtime::SetLogLevel),
                           InstanceMethod("attachTsfn", &Runtime::AttachTsfn),
                           InstanceMethod("shareId", &Runtime::ShareId),
                           InstanceMethod("portReset", &Runtime::PortReset),
                           InstanceMethod("setAdmit", &Runtime::SetAdmit),
                           InstanceMethod("tsfnSendBatch", &Runtime::TsfnSendBatch),
                       });
  }

  Runtime(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Runtime>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) {
      ThrowTypeError(env, "options must be an object");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    if (o.Get("share").IsNumber()) {
      // A work thread: the runtime runs already; this instance only attaches a port to it.
      rt_ = AcquireShared(o.Get("share").As<Napi::Number>().Uint32Value());
      if (rt_ == nullptr) {
        MakeError(env, EW_ESTATE, "attach").ThrowAsJavaScriptException();
        return;
      }
      owner_ = false;
      nio_ = ew_runtime_io_threads(rt_);
      napi_add_env_cleanup_hook(env, EnvCleanup, this);
      cleanup_hook_ = true;
      return;
    }
    ew_runtime_opts_t opts;
    ew_runtime_opts_init(&opts);
    opts.io_threads = U32(o, "ioThreads", opts.io_threads);
    opts.ports = U32(o, "ports", opts.ports);
    opts.task_ring_bytes = U32(o, "taskRingBytes", opts.task_ring_bytes);
    opts.in_ring_bytes = U32(o, "inRingBytes", opts.in_ring_bytes);
    opts.out_ring_bytes = U32(o, "outRingBytes", opts.out_ring_bytes);
    opts.max_conns_per_thread = U32(o, "maxConnsPerThread", opts.max_conns_per_thread);
    opts.read_budget = U32(o, "readBudget", opts.read_budget);
    opts.serial_start = Bool(o, "serialStart", false) ? 1 : 0;
    opts.level_triggered = Bool(o, "levelTriggered", false) ? 1 : 0;
    opts.log_level = static_cast<int>(U32(o, "logLevel", EW_LOG_LEVEL_INFO));
    std::vector<int> cpus;
    Napi::Value aff = o.Get("affinity");
    if (aff.IsString() && aff.As<Napi::String>().Utf8Value() == "auto") {
      opts.affinity = EW_AFFINITY_AUTO;
    } else if (aff.IsArray()) {
      Napi::Array a = aff.As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++)
        cpus.push_back(a.Get(i).As<Napi::Number>().Int32Value());
      opts.affinity = EW_AFFINITY_LIST;
      opts.cpus = cpus.data();
      opts.ncpus = static_cast<uint32_t>(cpus.size());
    }
    sink_ = new LogSink();
    opts.log_cb = LogSink::Push;
    opts.log_arg = sink_;
    int err = ew_runtime_start(&opts, &rt_);
    if (err != 0) {
      delete sink_;
      sink_ = nullptr;
      rt_ = nullptr;
      MakeError(env, err, "start").ThrowAsJavaScriptException();
      return;
    }
    nio_ = ew_runtime_io_threads(rt_);
    TrackLive(rt_);
    napi_add_env_cleanup_hook(env, EnvCleanup, this);
    cleanup_hook_ = true;
  }

  ~Runtime() override {
    Teardown();
  }

private:
  // attach(portIndex, onWake, onLog) -> { shm, ctl, layout }
  Napi::Value Attach(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr || attached_) return Fail(env, EW_ESTATE, "attach");
    uint32_t index = info[0].As<Napi::Number>().Uint32Value();
    port_ = ew_runtime_port(rt_, index);
    if (port_ == nullptr) return Fail(env, EW_EINVAL, "attach");
    // Weak until setRef(true): an idle runtime that JavaScript dropped must be collectable
    // (the JS Runtime holds these functions itself), while a referenced one (listening, open
    // connections) is kept alive by the loop, as a net.Server is.
    on_wake_ = Napi::Weak(info[1].As<Napi::Function>());
    on_log_ = Napi::Weak(info[2].As<Napi::Function>());
    recv_ = Napi::Persistent(Napi::Object::New(env));
    async_ctx_ = new Napi::AsyncContext(env, "evwire");
    nports_ = ew_runtime_ports(rt_);
    nch_ = nio_ + (ew_runtime_has_task_rings(rt_) ? nports_ : 0);

    uv_loop_t *loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    async_ = new uv_async_t;
    async_->data = this;
    uv_async_init(loop, async_, OnAsync);
    uv_unref(reinterpret_cast<uv_handle_t *>(async_));
    if (sink_ != nullptr) {
      std::lock_guard<std::mutex> lock(sink_->mu);
      sink_->async = async_;
      if (!sink_->lines.empty()) uv_async_send(async_);
    }
    // Channels: 0 .. nio-1 are the IO threads' rings, nio + j the task rings with port j.
    for (uint32_t k = 0; k < nch_; k++) {
      ew_ring_consumer_init(&in_[k], InRing(k));
      ew_ring_producer_init(&out_[k], OutRing(k));
    }
    ctl_ref_ = Napi::Persistent(Napi::ArrayBuffer::New(env, nch_ * kCtlStride * 4));
    ctl_ = static_cast<uint32_t *>(ctl_ref_.Value().Data());
    for (uint32_t k = 0; k < nch_; k++) {
      ctl_[k * kCtlStride + kCtlInTail] = in_[k].head;
      ctl_[k * kCtlStride + kCtlInHead] = in_[k].head;
      ctl_[k * kCtlStride + kCtlOutHead] = out_[k].head_cache;
      ctl_[k * kCtlStride + kCtlOutTail] = out_[k].tail;
    }
    int err = ew_port_attach(port_, WakePort, this);
    if (err != 0) return Fail(env, err, "attach");
    attached_ = true;
    // From here on JS is idle in the event loop, which for the ring protocol means asleep: say
    // so, or the first records would never wake us.
    uint32_t heads[kMaxChannels];
    for (uint32_t k = 0; k < nch_; k++)
      heads[k] = in_[k].head;
    if (ew_port_prepare_sleep(port_, heads)) uv_async_send(async_);

    // The segment is handed to JavaScript as an external buffer; its finalizer drops the
    // runtime reference it holds, so the memory outlives every view JS keeps of it.
    size_t bytes = 0;
    void *shm = ew_runtime_shm(rt_, &bytes);
    ew_runtime_retain(rt_);
    Napi::Buffer<uint8_t> shm_buf = Napi::Buffer<uint8_t>::New(
        env, static_cast<uint8_t *>(shm), bytes,
        [](Napi::Env, uint8_t *, ew_runtime_t *rt) { ew_runtime_release(rt); }, rt_);

    ew_shm_layout_t layout;
    ew_runtime_layout(rt_, &layout);
    Napi::Object r = Napi::Object::New(env);
    r.Set("shm", shm_buf);
    r.Set("ctl", ctl_ref_.Value());
    r.Set("ioThreads", nio_);
    r.Set("ports", nports_);
    r.Set("index", index);
    r.Set("channels", nch_);
    r.Set("portCtl", layout.port_ctl);
    Napi::Array in_off = Napi::Array::New(env, nch_);
    Napi::Array out_off = Napi::Array::New(env, nch_);
    for (uint32_t k = 0; k < nch_; k++) {
      in_off.Set(k,
                 k < nio_ ? ew_port_in_offset(port_, k) : ew_port_task_in_offset(port_, k - nio_));
      out_off.Set(k, k < nio_ ? ew_port_out_offset(port_, k)
                              : ew_port_task_out_offset(port_, k - nio_));
    }
    r.Set("inOffsets", in_off);
    r.Set("outOffsets", out_off);
    r.Set("ioCtl", layout.io_ctl);
    r.Set("slots", layout.slots);
    r.Set("slotsStride", layout.slots_stride);
    return r;
  }

  // Publishes the out rings JS wrote since the last call and refreshes its view of their heads.
  Napi::Value Flush(const Napi::CallbackInfo &info) {
    if (attached_) PublishOut();
    return info.Env().Undefined();
  }

  // space(io, bodyBytes): publishes that out ring, then asks to be woken when a record of
  // bodyBytes fits. Returns true when it already fits (JS retries at once).
  Napi::Value Space(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (!attached_) return Napi::Boolean::New(env, false);
    uint32_t k = info[0].As<Napi::Number>().Uint32Value();
    uint32_t len = info[1].As<Napi::Number>().Uint32Value();
    if (k >= nch_) return Napi::Boolean::New(env, false);
    PublishOut();
    bool fits = ew_ring_wait_space(&out_[k], len) != 0;
    ctl_[k * kCtlStride + kCtlOutHead] = out_[k].head_cache;
    return Napi::Boolean::New(env, fits);
  }

  Napi::Value Listen(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "listen");
    Napi::Object o = info[0].As<Napi::Object>();
    ew_listen_opts_t lo;
    ew_listen_opts_init(&lo);
    std::string host = o.Get("host").IsString() ? o.Get("host").As<Napi::String>().Utf8Value() : "";
    lo.host = host.c_str();
    lo.port = static_cast<uint16_t>(U32(o, "port", 0));
    lo.backlog = static_cast<int>(U32(o, "backlog", 511));
    lo.reuse_port = Bool(o, "reusePort", false) ? 1 : 0;
    lo.distribution = static_cast<int>(U32(o, "distribution", EW_DIST_ROUND_ROBIN));
    lo.framing = static_cast<int>(U32(o, "framing", EW_FRAMING_FRAMES));
    lo.max_frame_bytes = U32(o, "maxFrameBytes", lo.max_frame_bytes);
    lo.high_watermark = U32(o, "highWatermark", lo.high_watermark);
    lo.low_watermark = U32(o, "lowWatermark", lo.low_watermark);
    lo.max_buffered = U32(o, "maxBufferedBytes", lo.max_buffered);
    lo.no_delay = Bool(o, "noDelay", true) ? 1 : 0;
    lo.owner_port = U32(o, "ownerPort", 0);
    lo.bind = static_cast<int>(U32(o, "bind", EW_BIND_ROUND_ROBIN));
    lo.admit = Bool(o, "admit", false) ? 1 : 0;
    if (o.Get("bindPorts").IsArray()) {
      Napi::Array a = o.Get("bindPorts").As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) {
        uint32_t j = a.Get(i).As<Napi::Number>().Uint32Value();
        if (j < 64) lo.bind_ports |= 1ull << j;
      }
    }
    lo.http.max_header_bytes = U32(o, "maxHeaderBytes", lo.http.max_header_bytes);
    lo.http.max_headers = U32(o, "maxHeaders", lo.http.max_headers);
    lo.http.max_url_bytes = U32(o, "maxUrlBytes", lo.http.max_url_bytes);
    lo.http.max_body_bytes = U32(o, "maxBodyBytes", lo.http.max_body_bytes);
    lo.http.header_timeout_ms = U32(o, "headerTimeoutMs", lo.http.header_timeout_ms);
    lo.http.body_timeout_ms = U32(o, "bodyTimeoutMs", lo.http.body_timeout_ms);
    lo.http.keepalive_timeout_ms = U32(o, "keepAliveTimeoutMs", lo.http.keepalive_timeout_ms);
    lo.http.max_requests = U32(o, "maxRequestsPerConnection", lo.http.max_requests);
    lo.http.response_timeout_ms = U32(o, "responseTimeoutMs", lo.http.response_timeout_ms);
    if (o.Get("limits").IsObject()) ParseLimits(o.Get("limits").As<Napi::Object>(), &lo.limits);
    lo.max_tracked_ips = U32(o, "maxTrackedIps", lo.max_tracked_ips);
    ew_listen_info_t li;
    int err = ew_listen(rt_, &lo, &li);
    if (err != 0) {
      std::string where = host + ":" + std::to_string(lo.port);
      MakeError(env, err, "listen", where.c_str()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("id", li.id);
    r.Set("family", li.family);
    r.Set("port", li.port);
    r.Set("address", li.address);
    return r;
  }

  Napi::Value Unlisten(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "unlisten");
    int err = ew_unlisten(rt_, info[0].As<Napi::Number>().Uint32Value());
    if (err != 0) return Fail(env, err, "unlisten");
    return env.Undefined();
  }

  // setLimits(id, limits): the whole set (TypeScript merges a partial change first).
  Napi::Value SetLimits(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "setLimits");
    ew_limits_t l;
    ew_limits_init(&l);
    ParseLimits(info[1].As<Napi::Object>(), &l);
    int err = ew_server_set_limits(rt_, info[0].As<Napi::Number>().Uint32Value(), &l);
    if (err != 0) return Fail(env, err, "setLimits");
    return env.Undefined();
  }

  Napi::Value ServerStats(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "serverStats");
    uint64_t v[EW_SRV_STAT__COUNT];
    uint32_t tracked = 0;
    int err = ew_server_stats(rt_, info[0].As<Napi::Number>().Uint32Value(), v, &tracked);
    if (err != 0) return Fail(env, err, "serverStats");
    Napi::Object o = Napi::Object::New(env);
#define XX(name, doc)                                                                              \
  o.Set(#name, Napi::Number::New(env, static_cast<double>(v[EW_SRV_STAT_##name])));
    EW_SERVER_STATS_MAP(XX)
#undef XX
    o.Set("trackedIps", tracked);
    return o;
  }

  Napi::Value BanAdd(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "ban");
    std::string addr = info[1].As<Napi::String>().Utf8Value();
    int err = ew_ban_add(rt_, info[0].As<Napi::Number>().Uint32Value(), addr.c_str(),
                         info[2].As<Napi::Number>().Uint32Value());
    if (err != 0) {
      MakeError(env, err, "ban", addr.c_str()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return env.Undefined();
  }

  // banRemove(id, addr) -> true if a ban was lifted, false if the address was not banned.
  Napi::Value BanRemove(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "unban");
    std::string addr = info[1].As<Napi::String>().Utf8Value();
    int err = ew_ban_remove(rt_, info[0].As<Napi::Number>().Uint32Value(), addr.c_str());
    if (err == EW_ENOENT) return Napi::Boolean::New(env, false);
    if (err != 0) {
      MakeError(env, err, "unban", addr.c_str()).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Boolean::New(env, true);
  }

  Napi::Value BanList(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "bans");
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    std::vector<ew_ban_t> bans(64);
    size_t n = 0;
    for (;;) {
      int err = ew_ban_list(rt_, id, bans.data(), bans.size(), &n);
      if (err != 0) return Fail(env, err, "bans");
      if (n <= bans.size()) break;
      bans.resize(n + 64);
    }
    Napi::Array a = Napi::Array::New(env, n);
    for (size_t i = 0; i < n; i++) {
      Napi::Object b = Napi::Object::New(env);
      b.Set("address", bans[i].address);
      b.Set("remainingMs", Napi::Number::New(env, static_cast<double>(bans[i].remaining_ms)));
      a.Set(static_cast<uint32_t>(i), b);
    }
    return a;
  }

  // stop() -> Promise<void>, resolved on the JS thread once every IO thread has exited and the
  // records they produced before exiting have been drained.
  Napi::Value Stop(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
    if (rt_ == nullptr || !owner_ || !attached_ || stop_deferred_ != nullptr) {
      d.Reject(MakeError(env, EW_ESTATE, "stop").Value());
      return d.Promise();
    }
    // Keep the loop and the callbacks alive until the answer arrives.
    Strong(true);
    stop_deferred_ = new Napi::Promise::Deferred(d);
    int err = ew_runtime_stop(rt_, OnStopped, this);
    if (err != 0) {
      delete stop_deferred_;
      stop_deferred_ = nullptr;
      d.Reject(MakeError(env, err, "stop").Value());
    }
    return d.Promise();
  }

  // Releases everything once stopped: the port, the async handle, the runtime reference.
  Napi::Value Dispose(const Napi::CallbackInfo &info) {
    Teardown();
    return info.Env().Undefined();
  }

  Napi::Value Threads(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Array a = Napi::Array::New(env, nio_);
    for (uint32_t k = 0; rt_ != nullptr && k < nio_; k++) {
      int tid = 0, cpu = -1;
      ew_runtime_thread_info(rt_, k, &tid, &cpu);
      Napi::Object t = Napi::Object::New(env);
      t.Set("tid", tid);
      t.Set("cpu", cpu);
      a.Set(k, t);
    }
    return a;
  }

  Napi::Value SetRef(const Napi::CallbackInfo &info) {
    if (async_ != nullptr && stop_deferred_ == nullptr) Strong(info[0].ToBoolean().Value());
    return info.Env().Undefined();
  }

  // Referenced: the loop stays alive and the callbacks are strong. Unreferenced: neither.
  void Strong(bool on) {
    if (on == strong_) return;
    strong_ = on;
    if (on) {
      uv_ref(reinterpret_cast<uv_handle_t *>(async_));
      on_wake_.Ref();
      on_log_.Ref();
    } else {
      uv_unref(reinterpret_cast<uv_handle_t *>(async_));
      on_wake_.Unref();
      on_log_.Unref();
    }
  }

  // The callback behind a (possibly weak) reference, or nullptr once collected.
  static napi_value Get(Napi::Env env, const Napi::FunctionReference &ref) {
    napi_value v = nullptr;
    if (ref.IsEmpty() || napi_get_reference_value(env, ref, &v) != napi_ok) return nullptr;
    return v;
  }

  Napi::Value SetLogLevel(const Napi::CallbackInfo &info) {
    // The level lives in the runtime so that IO threads skip formatting disabled lines.
    if (rt_ != nullptr) ew_runtime_set_log_level(rt_, info[0].As<Napi::Number>().Int32Value());
    return info.Env().Undefined();
  }

  // Experiment only: consume port `index` through TsfnBridge, calling `fn(batch)` per batch.
  Napi::Value AttachTsfn(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr || bridge_ != nullptr) return Fail(env, EW_ESTATE, "attachTsfn");
    ew_port_t *port = ew_runtime_port(rt_, info[0].As<Napi::Number>().Uint32Value());
    if (port == nullptr) return Fail(env, EW_EINVAL, "attachTsfn");
    napi_threadsafe_function tsfn;
    napi_status st = napi_create_threadsafe_function(env, info[1], nullptr,
                                                     Napi::String::New(env, "evwire-tsfn"), 64, 1,
                                                     nullptr, nullptr, nullptr, CallJsBatch, &tsfn);
    if (st != napi_ok) return Fail(env, EW_ENOMEM, "attachTsfn");
    bridge_ = new TsfnBridge(rt_, port);
    int err = bridge_->Start(tsfn);
    if (err != 0) return Fail(env, err, "attachTsfn");
    return env.Undefined();
  }

  Napi::Value TsfnSendBatch(const Napi::CallbackInfo &info) {
    if (bridge_ != nullptr) bridge_->SendBatch(info.Env(), info[0].As<Napi::Array>());
    return info.Env().Undefined();
  }

  // shareId() -> the number a work thread passes as { share } to attach to this runtime.
  Napi::Value ShareId(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr || !owner_) return Fail(env, EW_ESTATE, "shareId");
    if (share_id_ == 0) share_id_ = ShareRuntime(rt_);
    return Napi::Number::New(env, share_id_);
  }

  // portReset(index, reason) -> Promise<void>: the port's consumer is gone (a work thread
  // died); resolves on this thread once every IO thread has closed its connections.
  Napi::Value PortReset(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
    uint32_t index = info[0].As<Napi::Number>().Uint32Value();
    int reason = info[1].As<Napi::Number>().Int32Value();
    ew_port_t *p = rt_ == nullptr ? nullptr : ew_runtime_port(rt_, index);
    if (p == nullptr || !attached_ || index >= 64 || resets_[index] != nullptr) {
      d.Reject(MakeError(env, p == nullptr ? EW_EINVAL : EW_ESTATE, "portReset").Value());
      return d.Promise();
    }
    resets_[index] = new Napi::Promise::Deferred(d);
    reset_ctx_[index].self = this;
    reset_ctx_[index].index = index;
    int err = ew_port_reset(p, reason, OnPortReset, &reset_ctx_[index]);
    if (err != 0) {
      delete resets_[index];
      resets_[index] = nullptr;
      d.Reject(MakeError(env, err, "portReset").Value());
    }
    return d.Promise();
  }

  Napi::Value SetAdmit(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "setAdmit");
    int err = ew_server_set_admit(rt_, info[0].As<Napi::Number>().Uint32Value(),
                                  info[1].ToBoolean().Value() ? 1 : 0);
    if (err != 0) return Fail(env, err, "setAdmit");
    return env.Undefined();
  }

  struct ResetCtx {
    Runtime *self;
    uint32_t index;
  };

  // THREAD: the last IO thread to finish the reset. Only atomics and uv_async_send.
  static void OnPortReset(void *arg) {
    ResetCtx *c = static_cast<ResetCtx *>(arg);
    c->self->resets_done_.fetch_or(1ull << c->index);
    uv_async_send(c->self->async_);
  }

  void SettleResets() {
    uint64_t done = resets_done_.exchange(0);
    for (uint32_t j = 0; done != 0 && j < 64; j++) {
      if (!((done >> j) & 1u) || resets_[j] == nullptr) continue;
      Napi::Promise::Deferred *d = resets_[j];
      resets_[j] = nullptr;
      d->Resolve(env_.Undefined());
      delete d;
    }
  }

  ew_ring_t *InRing(uint32_t k) {
    return k < nio_ ? ew_port_in(port_, k) : ew_port_task_in(port_, k - nio_);
  }
  ew_ring_t *OutRing(uint32_t k) {
    return k < nio_ ? ew_port_out(port_, k) : ew_port_task_out(port_, k - nio_);
  }

  // Wakes whoever consumes channel k's out ring, or produces into its in ring.
  void Signal(uint32_t k) {
    if (k < nio_)
      ew_port_kick(port_, k);
    else
      ew_port_signal(port_, k - nio_);
  }

  Napi::Value Fail(Napi::Env env, int err, const char *syscall) {
    MakeError(env, err, syscall).ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // ---- rings ------------------------------------------------------------------------------

  void PublishOut() {
    for (uint32_t k = 0; k < nch_; k++) {
      uint32_t *c = ctl_ + k * kCtlStride;
      out_[k].tail = c[kCtlOutTail];
      if (ew_ring_publish(&out_[k])) Signal(k);
      // Acquire: JS may reuse the space only after the IO thread is done reading it.
      out_[k].head_cache =
          __atomic_load_n(reinterpret_cast<uint32_t *>(reinterpret_cast<uint8_t *>(out_[k].ring) +
                                                       EW_RING_OFF_HEAD),
                          __ATOMIC_ACQUIRE);
      c[kCtlOutHead] = out_[k].head_cache;
    }
  }

  void ReleaseIn() {
    for (uint32_t k = 0; k < nch_; k++) {
      in_[k].head = ctl_[k * kCtlStride + kCtlInHead];
      if (!ew_ring_release(&in_[k])) continue;
      // The producer waits for space. An IO thread is kicked (it checks space every round); a
      // JS thread may be running rather than asleep, so it is woken outright.
      if (k < nio_)
        ew_port_kick(port_, k);
      else
        ew_port_wake(port_, k - nio_);
    }
  }

  // Calls JavaScript's drain with fresh tails, then publishes what it consumed and produced.
  // MakeCallback runs the nextTick and microtask queues afterwards and routes a throw to
  // 'uncaughtException', as for any Node callback; the heads JS recorded record by record are
  // published either way, so a throwing handler loses nothing and replays nothing.
  void Drain() {
    Napi::Env env = env_;
    ew_port_awake(port_);
    for (uint32_t k = 0; k < nch_; k++) {
      uint32_t *c = ctl_ + k * kCtlStride;
      c[kCtlInTail] = __atomic_load_n(
          reinterpret_cast<uint32_t *>(reinterpret_cast<uint8_t *>(in_[k].ring) + EW_RING_OFF_TAIL),
          __ATOMIC_ACQUIRE);
      c[kCtlOutHead] =
          __atomic_load_n(reinterpret_cast<uint32_t *>(reinterpret_cast<uint8_t *>(out_[k].ring) +
                                                       EW_RING_OFF_HEAD),
                          __ATOMIC_ACQUIRE);
    }
    // Raw N-API: the node-addon-api wrappers turn a failed call into a new Error, which needs
    // JavaScript and is fatal while a worker is being terminated.
    napi_value fn = Get(env, on_wake_);
    if (fn == nullptr) return; // the Runtime was collected; its finalizer tears down
    napi_value result;
    napi_make_callback(env, *async_ctx_, recv_.Value(), fn, 0, nullptr, &result);
    ClearException(env);
    if (!attached_) return; // JS disposed us inside the callback
    PublishOut();
    ReleaseIn();
    uint32_t heads[kMaxChannels];
    for (uint32_t k = 0; k < nch_; k++)
      heads[k] = ctl_[k * kCtlStride + kCtlInHead];
    // More arrived while JS ran: come back through the loop rather than looping here, so timers
    // and other IO get their turn.
    if (ew_port_prepare_sleep(port_, heads)) uv_async_send(async_);
  }

  void DeliverLogs() {
    std::deque<std::pair<int, std::string>> lines;
    uint64_t dropped;
    {
      std::lock_guard<std::mutex> lock(sink_->mu);
      lines.swap(sink_->lines);
      dropped = sink_->dropped;
      sink_->dropped = 0;
    }
    if (lines.empty() && dropped == 0) return;
    Napi::Env env = env_;
    if (dropped != 0)
      lines.emplace_back(EW_LOG_LEVEL_WARN,
                         std::to_string(dropped) + " native log lines dropped (queue full)");
    napi_value fn = Get(env, on_log_);
    if (fn == nullptr) return;
    for (auto &l : lines) {
      napi_value argv[2] = {Napi::Number::New(env, l.first), Napi::String::New(env, l.second)};
      napi_value result;
      napi_call_function(env, recv_.Value(), fn, 2, argv, &result);
      ClearException(env);
    }
  }

  static void OnAsync(uv_async_t *h) {
    Runtime *self = static_cast<Runtime *>(h->data);
    Napi::HandleScope scope(self->env_);
    if (self->sink_ != nullptr && !self->on_log_.IsEmpty()) self->DeliverLogs();
    if (self->resets_done_.load() != 0) self->SettleResets();
    if (self->attached_) self->Drain();
    if (self->stopped_.load() && self->stop_deferred_ != nullptr) {
      // The IO threads are gone: a last drain hands JS everything they produced, then the
      // promise settles.
      ew_runtime_join(self->rt_);
      if (self->attached_) self->Drain();
      Napi::Promise::Deferred *d = self->stop_deferred_;
      self->stop_deferred_ = nullptr;
      self->Strong(false);
      d->Resolve(self->env_.Undefined());
      delete d;
    }
  }

  // THREAD: IO threads (ew__port_wake). Only uv_async_send, which is thread-safe.
  static void WakePort(void *arg) {
    uv_async_send(static_cast<Runtime *>(arg)->async_);
  }

  // THREAD: the last IO thread to exit.
  static void OnStopped(void *arg) {
    Runtime *self = static_cast<Runtime *>(arg);
    self->stopped_.store(true);
    uv_async_send(self->async_);
  }

  static void EnvCleanup(void *arg) {
    Runtime *self = static_cast<Runtime *>(arg);
    self->cleanup_hook_ = false;
    self->Teardown();
  }

  // Idempotent: stops the runtime if it still runs, waits for the IO threads, detaches the port
  // (no wake after that), closes the async handle and drops this wrapper's reference.
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
    if (owner_) {
      if (share_id_ != 0) UnshareRuntime(share_id_);
      ew_runtime_stop(rt_, nullptr, nullptr); // EW_ESTATE if already stopping: fine
      ew_runtime_join(rt_);
    }
    if (attached_) {
      ew_port_detach(port_);
      attached_ = false;
    }
    for (uint32_t j = 0; j < 64; j++) {
      if (resets_[j] == nullptr) continue;
      resets_[j]->Resolve(env_.Undefined());
      delete resets_[j];
      resets_[j] = nullptr;
    }
    if (sink_ != nullptr) {
      std::lock_guard<std::mutex> lock(sink_->mu);
      sink_->async = nullptr;
    }
    if (async_ != nullptr) {
      uv_close(reinterpret_cast<uv_handle_t *>(async_),
               [](uv_handle_t *h) { delete reinterpret_cast<uv_async_t *>(h); });
      async_ = nullptr;
    }
    if (stop_deferred_ != nullptr) {
      stop_deferred_->Resolve(env_.Undefined());
      delete stop_deferred_;
      stop_deferred_ = nullptr;
    }
    delete async_ctx_;
    async_ctx_ = nullptr;
    on_wake_.Reset();
    on_log_.Reset();
    recv_.Reset();
    ctl_ref_.Reset();
    ctl_ = nullptr;
    if (owner_) UntrackLive(rt_);
    ew_runtime_t *rt = rt_;
    rt_ = nullptr;
    ew_runtime_release(rt); // the segment lives on while JS holds its buffer
    delete sink_;           // no thread can log any more: they are joined
    sink_ = nullptr;
  }

  Napi::Env env_;
  TsfnBridge *bridge_ = nullptr;
  ew_runtime_t *rt_ = nullptr;
  ew_port_t *port_ = nullptr;
  uint32_t nio_ = 0;
  bool attached_ = false;
  bool cleanup_hook_ = false;
  bool strong_ = false;
  LogSink *sink_ = nullptr;
  uv_async_t *async_ = nullptr;
  Napi::AsyncContext *async_ctx_ = nullptr;
  Napi::FunctionReference on_wake_;
  Napi::FunctionReference on_log_;
  Napi::ObjectReference recv_;
  Napi::Reference<Napi::ArrayBuffer> ctl_ref_;
  uint32_t *ctl_ = nullptr;
  std::atomic<bool> stopped_{false};
  Napi::Promise::Deferred *stop_deferred_ = nullptr;
  bool owner_ = true; // started the runtime (main thread); false in a work thread
  uint32_t share_id_ = 0;
  uint32_t nports_ = 0;
  uint32_t nch_ = 0; // channels: IO rings, then task rings
  std::atomic<uint64_t> resets_done_{0};
  Napi::Promise::Deferred *resets_[64] = {};
  ResetCtx reset_ctx_[64] = {};
  ew_ring_consumer_t in_[kMaxChannels];
  ew_ring_producer_t out_[kMaxChannels];
};

// ---- module -----------------------------------------------------------------------------------

class Addon : public Napi::Addon<Addon> {
public:
  Addon(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = Runtime::Define(env);
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

NODE_API_ADDON(Addon)
