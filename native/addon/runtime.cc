// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors

// The NativeRuntime class: a runtime of the C core, this thread's port of it, and the calls
// JavaScript makes on them (addon.cc has the overview and the thread crossings).

#include "common.h"

namespace evwire_addon {

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
                           InstanceMethod("linkOpen", &Runtime::LinkOpen),
                           InstanceMethod("linkConnect", &Runtime::LinkConnect),
                           InstanceMethod("linkClose", &Runtime::LinkClose),
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
                           InstanceMethod("shareId", &Runtime::ShareId),
                           InstanceMethod("portReset", &Runtime::PortReset),
                           InstanceMethod("setAdmit", &Runtime::SetAdmit),
                           InstanceMethod("setTls", &Runtime::SetTls),
                           InstanceMethod("udpOpen", &Runtime::UdpOpen),
                           InstanceMethod("udpClose", &Runtime::UdpClose),
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
    opts.level_triggered = Bool(o, "levelTriggered", false) ? 1 : 0;
    opts.spin_us = U32(o, "spinUs", opts.spin_us);
    inline_ = Bool(o, "inlineIo", false);
    if (inline_) {
      opts.inline_io = 1;
      opts.io_threads = 1;
    }
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
    js_thread_ = pthread_self();
    int err = ew_port_attach(port_, WakePort, this);
    if (err != 0) return Fail(env, err, "attach");
    attached_ = true;
    if (inline_) StartInline(loop);
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
    r.Set("inline", inline_);
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
    WakeLater();
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
    WakeLater();
    bool fits = ew_ring_wait_space(&out_[k], len) != 0;
    ctl_[k * kCtlStride + kCtlOutHead] = out_[k].head_cache;
    return Napi::Boolean::New(env, fits);
  }

  // The options of ew_listen_opts_t a connection runs by (and the listener's), from the object
  // listen() and connect() pass; the host and port are the caller's.
  // TLS options' text, kept alive until the native call that copies it returns.
  struct TlsHold {
    std::string cert, key, ca, servername, alpn;
    std::vector<std::string> names, certs, keys;
    std::vector<ew_tls_sni_t> sni;
  };

  static const char *Text(Napi::Object o, const char *key, std::string *keep) {
    Napi::Value v = o.Get(key);
    if (!v.IsString()) return nullptr;
    *keep = v.As<Napi::String>().Utf8Value();
    return keep->c_str();
  }

  // TLS, validated by TypeScript (lib/tls.ts): PEM text, ALPN in wire format.
  static void ParseTls(Napi::Object o, ew_tls_opts_t *t, TlsHold *h) {
    t->enabled = 1;
    t->cert = Text(o, "cert", &h->cert);
    t->key = Text(o, "key", &h->key);
    t->ca = Text(o, "ca", &h->ca);
    t->servername = Text(o, "servername", &h->servername);
    t->request_cert = Bool(o, "requestCert", false) ? 1 : 0;
    t->reject_unauthorized = Bool(o, "rejectUnauthorized", true) ? 1 : 0;
    t->min_version = static_cast<int>(U32(o, "minVersion", EW_TLS_V1_2));
    t->handshake_timeout_ms = U32(o, "handshakeTimeoutMs", 0);
    if (o.Get("alpn").IsBuffer()) {
      Napi::Buffer<uint8_t> b = o.Get("alpn").As<Napi::Buffer<uint8_t>>();
      h->alpn.assign(reinterpret_cast<const char *>(b.Data()), b.Length());
      t->alpn = reinterpret_cast<const uint8_t *>(h->alpn.data());
      t->alpn_len = static_cast<uint32_t>(h->alpn.size());
    }
    if (o.Get("sni").IsArray()) {
      Napi::Array a = o.Get("sni").As<Napi::Array>();
      uint32_t n = a.Length();
      h->names.resize(n);
      h->certs.resize(n);
      h->keys.resize(n);
      h->sni.resize(n);
      for (uint32_t i = 0; i < n; i++) {
        Napi::Object e = a.Get(i).As<Napi::Object>();
        h->sni[i].name = Text(e, "name", &h->names[i]);
        h->sni[i].cert = Text(e, "cert", &h->certs[i]);
        h->sni[i].key = Text(e, "key", &h->keys[i]);
      }
      t->sni = h->sni.data();
      t->nsni = n;
    }
  }

  static void ParseConnOpts(Napi::Object o, ew_listen_opts_t *lo, TlsHold *tls) {
    lo->backlog = static_cast<int>(U32(o, "backlog", 511));
    lo->reuse_port = Bool(o, "reusePort", false) ? 1 : 0;
    lo->distribution = static_cast<int>(U32(o, "distribution", EW_DIST_ROUND_ROBIN));
    lo->framing = static_cast<int>(U32(o, "framing", EW_FRAMING_FRAMES));
    lo->max_frame_bytes = U32(o, "maxFrameBytes", lo->max_frame_bytes);
    lo->high_watermark = U32(o, "highWatermark", lo->high_watermark);
    lo->low_watermark = U32(o, "lowWatermark", lo->low_watermark);
    lo->max_buffered = U32(o, "maxBufferedBytes", lo->max_buffered);
    lo->no_delay = Bool(o, "noDelay", true) ? 1 : 0;
    lo->owner_port = U32(o, "ownerPort", 0);
    lo->bind = static_cast<int>(U32(o, "bind", EW_BIND_ROUND_ROBIN));
    lo->admit = Bool(o, "admit", false) ? 1 : 0;
    if (o.Get("bindPorts").IsArray()) {
      Napi::Array a = o.Get("bindPorts").As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length(); i++) {
        uint32_t j = a.Get(i).As<Napi::Number>().Uint32Value();
        if (j < 64) lo->bind_ports |= 1ull << j;
      }
    }
    lo->http.max_header_bytes = U32(o, "maxHeaderBytes", lo->http.max_header_bytes);
    lo->http.max_headers = U32(o, "maxHeaders", lo->http.max_headers);
    lo->http.max_url_bytes = U32(o, "maxUrlBytes", lo->http.max_url_bytes);
    lo->http.max_body_bytes = U32(o, "maxBodyBytes", lo->http.max_body_bytes);
    lo->http.header_timeout_ms = U32(o, "headerTimeoutMs", lo->http.header_timeout_ms);
    lo->http.body_timeout_ms = U32(o, "bodyTimeoutMs", lo->http.body_timeout_ms);
    lo->http.keepalive_timeout_ms = U32(o, "keepAliveTimeoutMs", lo->http.keepalive_timeout_ms);
    lo->http.max_requests = U32(o, "maxRequestsPerConnection", lo->http.max_requests);
    lo->http.response_timeout_ms = U32(o, "responseTimeoutMs", lo->http.response_timeout_ms);
    if (o.Get("limits").IsObject()) ParseLimits(o.Get("limits").As<Napi::Object>(), &lo->limits);
    lo->max_tracked_ips = U32(o, "maxTrackedIps", lo->max_tracked_ips);
    if (o.Get("encryption").IsObject())
      ParseCrypt(o.Get("encryption").As<Napi::Object>(), &lo->crypt);
    if (o.Get("tls").IsObject()) ParseTls(o.Get("tls").As<Napi::Object>(), &lo->tls, tls);
  }

  // Message encryption, validated by TypeScript (lib/encryption.ts): the key bytes point into
  // the caller's Buffers, which outlive the listen or linkOpen call that copies them.
  static void ParseCrypt(Napi::Object o, ew_crypt_opts_t *c) {
    c->mode = static_cast<int>(U32(o, "mode", EW_CRYPT_OFF));
    if (o.Get("ciphers").IsArray()) {
      Napi::Array a = o.Get("ciphers").As<Napi::Array>();
      for (uint32_t i = 0; i < a.Length() && i < sizeof c->ciphers; i++)
        c->ciphers[i] = static_cast<uint8_t>(a.Get(i).As<Napi::Number>().Uint32Value());
    }
    if (o.Get("ed25519").IsBuffer()) {
      Napi::Buffer<uint8_t> b = o.Get("ed25519").As<Napi::Buffer<uint8_t>>();
      if (b.Length() == sizeof c->ed25519) {
        memcpy(c->ed25519, b.Data(), sizeof c->ed25519);
        c->has_ed25519 = 1;
      }
    }
    if (o.Get("rsa").IsBuffer()) {
      Napi::Buffer<uint8_t> b = o.Get("rsa").As<Napi::Buffer<uint8_t>>();
      c->rsa_der = b.Data();
      c->rsa_der_len = static_cast<uint32_t>(b.Length());
    }
    c->rekey_after_bytes = U64(o, "rekeyAfterBytes", 0);
    c->handshake_timeout_ms = U32(o, "handshakeTimeoutMs", 0);
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
    TlsHold tls;
    ParseConnOpts(o, &lo, &tls);
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

  // linkOpen(opts): a link (outbound connections) whose connections go to port opts.ownerPort.
  Napi::Value LinkOpen(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "linkOpen");
    ew_listen_opts_t lo;
    ew_listen_opts_init(&lo);
    TlsHold tls;
    ParseConnOpts(info[0].As<Napi::Object>(), &lo, &tls);
    uint32_t id = 0;
    int err = ew_link_open(rt_, &lo, &id);
    if (err != 0) return Fail(env, err, "linkOpen");
    return Napi::Number::New(env, id);
  }

  // linkConnect(id, addresses: string[], port, timeoutMs, io): one attempt; the outcome comes
  // as an OPEN or a LINK_FAIL record.
  Napi::Value LinkConnect(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "linkConnect");
    Napi::Array a = info[1].As<Napi::Array>();
    std::vector<std::string> texts;
    for (uint32_t i = 0; i < a.Length() && i < EW_LINK_MAX_ADDRS + 1; i++)
      texts.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    std::vector<const char *> ptrs;
    for (const std::string &t : texts)
      ptrs.push_back(t.c_str());
    int err = ew_link_connect(rt_, info[0].As<Napi::Number>().Uint32Value(), ptrs.data(),
                              static_cast<uint32_t>(ptrs.size()),
                              static_cast<uint16_t>(info[2].As<Napi::Number>().Uint32Value()),
                              info[3].As<Napi::Number>().Uint32Value(),
                              info[4].As<Napi::Number>().Uint32Value());
    if (err != 0) return Fail(env, err, "linkConnect");
    return env.Undefined();
  }

  Napi::Value LinkClose(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "linkClose");
    int err = ew_link_close(rt_, info[0].As<Napi::Number>().Uint32Value());
    if (err != 0 && err != EW_ENOENT) return Fail(env, err, "linkClose");
    return env.Undefined();
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

  // setTls(id, tls): new certificates and settings for the connections accepted from now on.
  Napi::Value SetTls(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "setTls");
    ew_tls_opts_t t;
    memset(&t, 0, sizeof t);
    TlsHold hold;
    ParseTls(info[1].As<Napi::Object>(), &t, &hold);
    int err = ew_server_set_tls(rt_, info[0].As<Napi::Number>().Uint32Value(), &t);
    if (err != 0) return Fail(env, err, "setTls");
    return env.Undefined();
  }

  Napi::Value SetAdmit(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "setAdmit");
    int err = ew_server_set_admit(rt_, info[0].As<Napi::Number>().Uint32Value(),
                                  info[1].ToBoolean().Value() ? 1 : 0);
    if (err != 0) return Fail(env, err, "setAdmit");
    return env.Undefined();
  }

  // udpOpen(opts) -> { id, family, port, address, io }: a UDP socket (ew/udp.h).
  Napi::Value UdpOpen(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "udp");
    Napi::Object o = info[0].As<Napi::Object>();
    ew_udp_opts_t uo;
    ew_udp_opts_init(&uo);
    std::string host = o.Get("host").IsString() ? o.Get("host").As<Napi::String>().Utf8Value() : "";
    std::string peer = o.Get("peer").IsString() ? o.Get("peer").As<Napi::String>().Utf8Value() : "";
    uo.host = host.c_str();
    uo.port = static_cast<uint16_t>(U32(o, "port", 0));
    uo.peer = peer.empty() ? nullptr : peer.c_str();
    uo.peer_port = static_cast<uint16_t>(U32(o, "peerPort", 0));
    uo.framing = static_cast<int>(U32(o, "framing", EW_FRAMING_FRAMES));
    uo.max_datagram = U32(o, "maxDatagramBytes", uo.max_datagram);
    uo.rcvbuf = U32(o, "recvBufferSize", 0);
    uo.sndbuf = U32(o, "sendBufferSize", 0);
    uo.owner_port = U32(o, "ownerPort", 0);
    if (o.Get("limits").IsObject()) ParseLimits(o.Get("limits").As<Napi::Object>(), &uo.limits);
    uo.max_tracked_ips = U32(o, "maxTrackedIps", uo.max_tracked_ips);
    ew_udp_info_t ui;
    int err = ew_udp_open(rt_, &uo, &ui);
    if (err != 0) {
      std::string where = peer.empty() ? host + ":" + std::to_string(uo.port)
                                       : peer + ":" + std::to_string(uo.peer_port);
      MakeError(env, err, peer.empty() ? "bind" : "connect", where.c_str())
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("id", ui.id);
    r.Set("family", ui.family);
    r.Set("port", ui.port);
    r.Set("address", ui.address);
    r.Set("io", ui.io);
    return r;
  }

  Napi::Value UdpClose(const Napi::CallbackInfo &info) {
    Napi::Env env = info.Env();
    if (rt_ == nullptr) return Fail(env, EW_ESTATE, "udpClose");
    int err = ew_udp_close(rt_, info[0].As<Napi::Number>().Uint32Value());
    if (err != 0) return Fail(env, err, "udpClose");
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
      out_[k].tail = ctl_[k * kCtlStride + kCtlOutTail];
      if (!ew_ring_publish(&out_[k])) continue;
      // Inline: the loop runs right here instead of being woken.
      if (inline_ && k < nio_)
        step_due_ = true;
      else
        Signal(k);
    }
    if (step_due_) Step(EW_INLINE_NO_POLL);
    for (uint32_t k = 0; k < nch_; k++) {
      uint32_t *c = ctl_ + k * kCtlStride;
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
      // JS thread may be running rather than asleep, so it is woken outright. The inline loop
      // runs after this.
      if (inline_ && k < nio_)
        step_due_ = true;
      else if (k < nio_)
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
    if (step_due_) Step(EW_INLINE_NO_POLL);
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

  // THREAD: IO threads (ew__port_wake). Only uv_async_send, which is thread-safe. Inline, the
  // loop's round runs on this very thread: the wake is noted, and the drain follows the round.
  static void WakePort(void *arg) {
    Runtime *self = static_cast<Runtime *>(arg);
    if (self->inline_ && pthread_equal(pthread_self(), self->js_thread_) && self->stepping_) {
      self->self_wake_ = true;
      return;
    }
    uv_async_send(self->async_);
  }

  // ---- inline mode: the IO loop on this thread, driven from libuv -----------------------------

  // The loop's fd in libuv's poll set, and a timer for the loop's own timers. Neither keeps
  // the process alive: the async handle's reference (setRef) says whether the runtime does.
  void StartInline(uv_loop_t *loop) {
    poll_ = new uv_poll_t;
    poll_->data = this;
    if (uv_poll_init(loop, poll_, ew_runtime_inline_fd(rt_)) != 0) {
      delete poll_;
      poll_ = nullptr;
      return;
    }
    uv_unref(reinterpret_cast<uv_handle_t *>(poll_));
    uv_poll_start(poll_, UV_READABLE, OnPoll);
    timer_ = new uv_timer_t;
    timer_->data = this;
    uv_timer_init(loop, timer_);
    uv_unref(reinterpret_cast<uv_handle_t *>(timer_));
    // Commands posted before the poll started (none are lost: the fd stays readable).
    uv_timer_start(timer_, OnTimer, 0, 0);
  }

  // Before the loop's fd is closed (libuv must not poll a closed fd).
  void StopInline() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t *>(poll_),
               [](uv_handle_t *h) { delete reinterpret_cast<uv_poll_t *>(h); });
      poll_ = nullptr;
    }
    if (timer_ != nullptr) {
      uv_timer_stop(timer_);
      uv_close(reinterpret_cast<uv_handle_t *>(timer_),
               [](uv_handle_t *h) { delete reinterpret_cast<uv_timer_t *>(h); });
      timer_ = nullptr;
    }
  }

  // One round of the inline loop: what JS published goes out, what arrived is read. After a
  // publish the sockets are not looked at (EW_INLINE_NO_POLL): the poll handle sees them.
  void Step(int flags) {
    step_due_ = false;
    if (!inline_ || rt_ == nullptr || stepping_ || poll_ == nullptr) return;
    stepping_ = true;
    int32_t next = -1;
    int r = ew_runtime_inline_run(rt_, flags, &next);
    if (r == EW_INLINE_STOPPING) {
      StopInline();
      r = ew_runtime_inline_run(rt_, 0, &next);
    }
    stepping_ = false;
    if (r == EW_INLINE_STOPPED || r < 0) {
      StopInline();
      return;
    }
    if (r == EW_INLINE_MORE)
      uv_timer_start(timer_, OnTimer, 0, 0);
    else if (next >= 0)
      uv_timer_start(timer_, OnTimer, static_cast<uint64_t>(next), 0);
    else
      uv_timer_stop(timer_);
  }

  // A round run from a JS call (flush, space) woke this port: drain on the next loop turn,
  // not inside the caller.
  void WakeLater() {
    if (!self_wake_) return;
    self_wake_ = false;
    uv_async_send(async_);
  }

  static void RunInline(Runtime *self) {
    Napi::HandleScope scope(self->env_);
    self->Step(0);
    if (self->self_wake_ && self->attached_) {
      self->self_wake_ = false;
      self->Drain();
    }
  }

  static void OnPoll(uv_poll_t *h, int, int) {
    RunInline(static_cast<Runtime *>(h->data));
  }

  static void OnTimer(uv_timer_t *h) {
    RunInline(static_cast<Runtime *>(h->data));
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
    StopInline(); // the join below closes an inline loop here, fd included
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
  ew_runtime_t *rt_ = nullptr;
  ew_port_t *port_ = nullptr;
  uint32_t nio_ = 0;
  bool attached_ = false;
  bool cleanup_hook_ = false;
  bool strong_ = false;
  LogSink *sink_ = nullptr;
  uv_async_t *async_ = nullptr;
  // Inline mode (owner only): the IO loop runs on this thread.
  bool inline_ = false;
  uv_poll_t *poll_ = nullptr;
  uv_timer_t *timer_ = nullptr;
  pthread_t js_thread_{};
  bool stepping_ = false;  // inside ew_runtime_inline_run
  bool self_wake_ = false; // the round woke this port
  bool step_due_ = false;  // JS published to the loop or released its space
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

Napi::Function DefineRuntime(Napi::Env env) {
  return Runtime::Define(env);
}

} // namespace evwire_addon
