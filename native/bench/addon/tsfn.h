// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EVWIRE_BENCH_TSFN_H
#define EVWIRE_BENCH_TSFN_H

// Part of the benchmark-only addon (bench_addon.cc has the overview); never in evwire.node.

#include "common.h" // native/addon/common.h: the production addon's includes and conversions

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace evwire_bench {

using evwire_addon::ClearException;

// ---- experiment: messages through a threadsafe function -----------------------------------

// The comparison point of the "rings vs threadsafe functions" experiment (docs/experiments.md):
// the conventional way to move messages from native threads to JavaScript. A native thread
// consumes a port's in rings, copies each message, and hands batches to JavaScript through a
// napi_threadsafe_function, where every message becomes an object with its own Buffer; replies
// come back in one sendBatch() call per batch that reads every element through N-API. It serves
// only that experiment (bench/peers/evwire-tsfn-echo.js, through bench_addon.cc's TsfnRuntime);
// the runtime never uses it.
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

  // JS thread: takes over `tsfn` (its one thread reference is the consumer thread's), attaches
  // the port and starts the consumer thread. On an error the function is released here.
  int Start(napi_threadsafe_function tsfn) {
    tsfn_ = tsfn;
    int err = ew_port_attach(
        port_, [](void *a) { static_cast<TsfnBridge *>(a)->Wake(); }, this);
    if (err == 0) {
      started_ = pthread_create(&thread_, nullptr, Main, this) == 0;
      if (!started_) {
        ew_port_detach(port_);
        err = EW_ENOMEM;
      }
    }
    if (err != 0) napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
    return err;
  }

  // JS thread: stops the consumer thread; the threadsafe function is released by it. The
  // consumer may be blocked in a full queue that only this thread drains, so the function is
  // aborted first (through a reference of our own, so that it stays allocated until the
  // consumer's release): that call returns napi_closing and the consumer sees stop_.
  void Stop() {
    if (!started_) return;
    stop_.store(true);
    if (napi_acquire_threadsafe_function(tsfn_) == napi_ok)
      napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
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

  // THREAD: the consumer thread. It calls nothing of N-API but the threadsafe function's.
  static void *Main(void *arg) {
    TsfnBridge *b = static_cast<TsfnBridge *>(arg);
    bool closing = false;
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
          else if (rec->kind == EW_REC_FRAMES) {
            const uint8_t *body = reinterpret_cast<const uint8_t *>(rec + 1);
            uint32_t at = 0;
            ew_frame_header_t h;
            const uint8_t *fb;
            while (ew_frames_next(body, rec->len, &at, &h, &fb))
              batch->push_back(Msg{rec->conn, h.type, h.seq, static_cast<uint16_t>(h.flags & 0xffu),
                                   false,
                                   std::string(reinterpret_cast<const char *>(fb), h.length)});
          } else if (rec->kind == EW_REC_END)
            batch->push_back(Msg{rec->conn, 0, 0, 0, true, std::string()});
          ew_ring_advance(&b->in_[k], rec);
        }
        if (ew_ring_release(&b->in_[k])) ew_port_kick(b->port_, k);
        heads[k] = b->in_[k].head;
      }
      if (!batch->empty()) {
        if (napi_call_threadsafe_function(b->tsfn_, batch, napi_tsfn_blocking) == napi_ok) continue;
        // napi_closing: aborted (Stop) or the environment is going; the function must not be
        // touched again, not even released.
        delete batch;
        closing = true;
        break;
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
    if (!closing) napi_release_threadsafe_function(b->tsfn_, napi_tsfn_release);
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

// Runs on the JS thread for each batch: one object and one Buffer copy per message. With a null
// env (the function closed with batches still queued) it only frees the batch.
inline void CallJsBatch(napi_env env, napi_value js_cb, void *, void *data) {
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

} // namespace evwire_bench

#endif // EVWIRE_BENCH_TSFN_H
