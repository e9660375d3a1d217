// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "tcp.h"
#include "echo_port.h"
#include "internal.h"

static void test_id_layout(void) {
  uint64_t id = EW__ID(EW__GEN_MASK, 63, 0xffffffu);
  ASSERT_UEQ(EW__ID_GEN(id), EW__GEN_MASK);
  ASSERT_UEQ(EW__ID_IO(id), 63);
  ASSERT_UEQ(EW__ID_SLOT(id), 0xffffffu);
  /* Every id is a safe JavaScript integer. */
  ASSERT_LT(id, 1ull << 53);
}

static uint64_t stat_of(ew_runtime_t *rt, uint32_t io, int stat) {
  ew_shm_layout_t l;
  ew_runtime_layout(rt, &l);
  uint8_t *shm = ew_runtime_shm(rt, NULL);
  uint64_t v;
  memcpy(&v, shm + l.io_ctl + io * EW_SHM_IO_CTL_BYTES + EW_SHM_IO_STATS + stat * 8, 8);
  return v;
}

/* With four slots, 40 sequential connections reuse each slot ten times; every id differs, and
 * a send aimed at a closed connection's id never reaches the connection now in its slot. */
static void test_generations_make_stale_ids_harmless(void) {
  ew_runtime_t *rt;
  ew_runtime_opts_t o;
  ew_runtime_opts_init(&o);
  o.max_conns_per_thread = 4;
  o.log_level = EW_LOG_LEVEL_ERROR;
  ASSERT_OK(ew_runtime_start(&o, &rt));
  static ew_echo_port_t ep;
  ep.end_on_peer_end = 1;
  ASSERT_OK(ew_echo_port_start(&ep, rt, 0));
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.host = "127.0.0.1";
  ew_listen_info_t info;
  ASSERT_OK(ew_listen(rt, &lo, &info));

  uint64_t ids[40];
  for (int i = 0; i < 40; i++) {
    int fd = tcp_connect(info.port);
    WAIT_FOR(atomic_load(&ep.opened) == (uint64_t)i + 1);
    ids[i] = atomic_load(&ep.last_open_id);
    close(fd);
    WAIT_FOR(atomic_load(&ep.closed) == (uint64_t)i + 1);
  }
  for (int i = 0; i < 40; i++) {
    ASSERT_LT(EW__ID_SLOT(ids[i]), 4);
    for (int j = i + 1; j < 40; j++)
      ASSERT_NE(ids[i], ids[j]);
  }

  /* A fifth concurrent connection finds no slot and is refused, counted. */
  int held[4];
  for (int i = 0; i < 4; i++)
    held[i] = tcp_connect(info.port);
  WAIT_FOR(atomic_load(&ep.opened) == 44);
  int extra = tcp_connect(info.port);
  ASSERT_EQ(tcp_wait_closed(extra), 0);
  close(extra);
  ASSERT_UEQ(stat_of(rt, 0, EW_STAT_limit_rejects), 1);

  /* Stop the port thread so this thread can write into its rings, then aim a send at the
   * stale id of a slot that now holds a live connection. */
  uint64_t live = atomic_load(&ep.last_open_id);
  uint64_t stale = 0;
  for (int i = 0; i < 40; i++)
    if (EW__ID_SLOT(ids[i]) == EW__ID_SLOT(live)) stale = ids[i];
  ASSERT_NE(stale, 0);
  ew_echo_port_stop(&ep);
  ew_ring_producer_t out;
  ew_ring_producer_init(&out, ew_port_out(ew_runtime_port(rt, 0), 0));
  ew_rec_t *rec = ew_ring_reserve(&out, 5);
  rec->kind = EW_REC_SEND;
  rec->conn = stale;
  memcpy(rec + 1, "stale", 5);
  rec = ew_ring_reserve(&out, 4);
  rec->kind = EW_REC_SEND;
  rec->conn = live;
  memcpy(rec + 1, "live", 4);
  ew_ring_publish(&out);
  ew_port_kick(ew_runtime_port(rt, 0), 0);
  int live_fd = -1;
  char buf[8];
  for (int i = 0; i < 4 && live_fd < 0; i++) {
    struct timeval tv = {.tv_usec = 300000};
    setsockopt(held[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t r = recv(held[i], buf, sizeof buf, 0);
    if (r > 0) {
      ASSERT_EQ(r, 4);
      ASSERT_MEM_EQ(buf, "live", 4);
      live_fd = held[i];
    }
  }
  ASSERT_GE(live_fd, 0);
  ASSERT_UEQ(stat_of(rt, 0, EW_STAT_stale_sends), 1);
  for (int i = 0; i < 4; i++)
    close(held[i]);
  ew_runtime_release(rt);
}

EW_TEST_MAIN(EW_TEST(test_id_layout), EW_TEST(test_generations_make_stale_ids_harmless))
