// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

/* UDP sockets (ew/udp.h). A datagram is a whole message: there is no stream to cut, no
 * connection to keep state for and nothing to close when a peer misbehaves, so the module is
 * apart from the connections. What it shares with them is what a UDP socket is for the rest of
 * the runtime: a server in the table (its id, its per-thread rows of limits and counters, its
 * address table), the in rings (one DGRAM record per datagram, reserved and published like DATA)
 * and the out rings (DGRAM_SEND records, which conn.c's consumer hands over).
 *
 * Costs on the data path: one recvmmsg per batch of up to 64 datagrams, one record each, and,
 * only when a message rate is set or a ban exists, one lock of the address table per run of
 * datagrams from one source; one sendmmsg per batch of consecutive DGRAM_SEND records, straight
 * from ring memory as a connection's writev is. */

#define BATCH 64u              /* datagrams per recvmmsg and per sendmmsg */
#define SLAB_BYTES (4u << 20)  /* the most address space one receive batch takes */
#define READ_BATCHES 16        /* recvmmsg calls per socket per round; then the others' turn */
#define PEND_MAX (1u << 20)    /* bytes of sends kept while the kernel's send buffer is full */
#define ERRORS_PER_SECOND 100u /* error records per socket and second; the counters see all */
#define CTRL_BYTES CMSG_SPACE(sizeof(uint32_t))
/* A GSO send: at most this many datagrams (the kernel's UDP_MAX_SEGMENTS, 64 before Linux 6.9)
 * and bytes (one IP packet's worth, its headers aside). */
#define GSO_SEGMENTS 64u
#define GSO_BYTES 65000u
/* Only datagrams that fit any path's MTU unfragmented (1280 - 40 - 8, IPv6's minimum) are cut
 * by GSO, which refuses a segment above the route's MTU where a plain send would fragment. */
#define GSO_MAX_SEGMENT 1232u

static ew__srv_io_t *row(const ew__udp_t *u) {
  return &u->srv->prof.per_io[u->io->index];
}

static ew__udp_t *find(ew__io_t *io, uint32_t id) {
  ew__udp_t *u;
  LIST_FOREACH(u, &io->udps, link)
  if (u->srv->id == id) return u;
  return NULL;
}

/* The IO thread of socket `i` of a UDP socket: listening ones have one per thread, a connected
 * one lives on the thread its id picks. */
static uint32_t thread_of(const ew_runtime_t *rt, const ew__server_t *srv, int i) {
  return srv->o.reuse_port ? (uint32_t)i : srv->id % rt->nio;
}

/* ---- addresses ----------------------------------------------------------------------------- */

/* Parses a numeric IPv4 or IPv6 address (with an optional %scope, a number or an interface
 * name) into a socket address with `port`. Returns 0 or EW_EINVAL. */
static int parse_addr(const char *text, uint16_t port, struct sockaddr_storage *ss,
                      socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, text, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof *a4;
    return 0;
  }
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  size_t n = strlen(text);
  if (n >= sizeof buf) return EW_EINVAL;
  memcpy(buf, text, n + 1);
  char *pct = strchr(buf, '%');
  if (pct != NULL) *pct++ = '\0';
  if (inet_pton(AF_INET6, buf, &a6->sin6_addr) != 1) return EW_EINVAL;
  a6->sin6_family = AF_INET6;
  a6->sin6_port = htons(port);
  if (pct != NULL && *pct != '\0') {
    char *end;
    unsigned long scope = strtoul(pct, &end, 10);
    if (*end != '\0') scope = if_nametoindex(pct);
    if (scope == 0 || scope > UINT32_MAX) return EW_EINVAL;
    a6->sin6_scope_id = (uint32_t)scope;
  }
  *len = sizeof *a6;
  return 0;
}

/* Writes the address block of a DGRAM record (ew/udp.h): an IPv4-mapped IPv6 source as the
 * IPv4 address it is. */
static void write_prefix(uint8_t *p, const struct sockaddr *sa) {
  memset(p, 0, EW_DGRAM_PREFIX_BYTES);
  uint16_t port;
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
    port = ntohs(a->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      p[EW_DGRAM_OFF_FAMILY] = 4;
      memcpy(p + EW_DGRAM_OFF_ADDR, &a->sin6_addr.s6_addr[12], 4);
    } else {
      p[EW_DGRAM_OFF_FAMILY] = 6;
      memcpy(p + EW_DGRAM_OFF_SCOPE, &a->sin6_scope_id, 4);
      memcpy(p + EW_DGRAM_OFF_ADDR, &a->sin6_addr, 16);
    }
  } else {
    const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
    port = ntohs(a->sin_port);
    p[EW_DGRAM_OFF_FAMILY] = 4;
    memcpy(p + EW_DGRAM_OFF_ADDR, &a->sin_addr, 4);
  }
  memcpy(p + EW_DGRAM_OFF_PORT, &port, 2);
}

/* The destination of a DGRAM_SEND record as socket `u` needs it (an IPv4 address becomes
 * IPv4-mapped on an IPv6 socket). *len = 0: the connected peer. Returns 0, EW_EINVAL or
 * EW_EAFNOSUPPORT (IPv6 to an IPv4 socket). */
static int read_prefix(const ew__udp_t *u, const uint8_t *p, struct sockaddr_storage *ss,
                       socklen_t *len) {
  uint16_t port;
  memcpy(&port, p + EW_DGRAM_OFF_PORT, 2);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  switch (p[EW_DGRAM_OFF_FAMILY]) {
  case 0:
    *len = 0;
    return u->connected ? 0 : EW_EINVAL;
  case 4:
    if (u->family == AF_INET6) {
      memset(a6, 0, sizeof *a6);
      a6->sin6_family = AF_INET6;
      a6->sin6_port = htons(port);
      a6->sin6_addr.s6_addr[10] = 0xff;
      a6->sin6_addr.s6_addr[11] = 0xff;
      memcpy(&a6->sin6_addr.s6_addr[12], p + EW_DGRAM_OFF_ADDR, 4);
      *len = sizeof *a6;
    } else {
      memset(a4, 0, sizeof *a4);
      a4->sin_family = AF_INET;
      a4->sin_port = htons(port);
      memcpy(&a4->sin_addr, p + EW_DGRAM_OFF_ADDR, 4);
      *len = sizeof *a4;
    }
    return 0;
  case 6:
    if (u->family != AF_INET6) return EW_EAFNOSUPPORT;
    memset(a6, 0, sizeof *a6);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    memcpy(&a6->sin6_scope_id, p + EW_DGRAM_OFF_SCOPE, 4);
    memcpy(&a6->sin6_addr, p + EW_DGRAM_OFF_ADDR, 16);
    *len = sizeof *a6;
    return 0;
  default:
    return EW_EINVAL;
  }
}

/* ---- errors -------------------------------------------------------------------------------- */

/* An error the kernel reported on the socket (a connected socket's ICMP port unreachable, a send
 * it refused): counted always, and told to the owner port, as Node's dgram emits 'error', at
 * most ERRORS_PER_SECOND a second so that a peer cannot make it a flood. */
static void report_error(ew__udp_t *u, int e) {
  ew__io_t *io = u->io;
  row(u)->stats[EW_SRV_STAT_dgram_errors]++;
  uint64_t now = ew__coarse_ms();
  if (now - u->err_ms >= 1000) {
    u->err_ms = now;
    u->err_count = 0;
  }
  if (u->err_count >= ERRORS_PER_SECOND) return;
  u->err_count++;
  uint8_t body[EW_DGRAM_PREFIX_BYTES];
  memset(body, 0, sizeof body); /* family 0: not a datagram */
  ew__io_push_ctrl(io, u->srv->o.owner_port, EW_REC_DGRAM, u->srv->id, 0, (uint32_t)e, body,
                   sizeof body);
}

/* The socket's drop count, as SO_RXQ_OVFL stamps it on received datagrams or SO_MEMINFO reads
 * it: what grew since the last look is counted. */
static void note_drops(ew__udp_t *u, uint32_t total) {
  uint32_t fresh = total - u->drops_seen;
  if (fresh == 0 || fresh > (1u << 31)) return;
  u->drops_seen = total;
  row(u)->stats[EW_SRV_STAT_dgram_kernel_drops] += fresh;
}

static void read_drops(ew__udp_t *u) {
#ifdef SO_MEMINFO
  uint32_t mem[SK_MEMINFO_VARS];
  socklen_t len = sizeof mem;
  if (getsockopt(u->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 &&
      len > SK_MEMINFO_DROPS * sizeof mem[0])
    note_drops(u, mem[SK_MEMINFO_DROPS]);
#else
  (void)u;
#endif
}

/* ---- sending ------------------------------------------------------------------------------- */

static void sent(ew__udp_t *u, uint32_t bytes) {
  ew__srv_io_t *sio = row(u);
  sio->stats[EW_SRV_STAT_dgrams_out]++;
  sio->stats[EW_SRV_STAT_dgram_bytes_out] += bytes;
  EW__STAT(u->io, dgrams_out)++;
  EW__STAT(u->io, bytes_out) += bytes;
}

static void send_failed(ew__udp_t *u, int e) {
  row(u)->stats[EW_SRV_STAT_dgram_send_errors]++;
  EW_LOG_DEBUG(u->io->rt, "UDP socket %u: a datagram was not sent: %s", u->srv->id, strerror(e));
  report_error(u, e);
}

/* Keeps a copy of a datagram the kernel could not take yet, behind the others, within
 * PEND_MAX bytes; beyond, it is not sent and counted. */
static void queue(ew__udp_t *u, const struct msghdr *h) {
  uint32_t len = (uint32_t)h->msg_iov[0].iov_len;
  ew__udp_pend_t *p = u->pend_bytes + len <= PEND_MAX ? malloc(sizeof *p + len) : NULL;
  if (p == NULL) {
    row(u)->stats[EW_SRV_STAT_dgram_send_errors]++;
    return;
  }
  p->next = NULL;
  p->tolen = h->msg_namelen;
  if (p->tolen != 0) memcpy(&p->to, h->msg_name, p->tolen);
  p->len = len;
  memcpy(p->bytes, h->msg_iov[0].iov_base, len);
  if (u->pend_tail != NULL)
    u->pend_tail->next = p;
  else
    u->pend_head = p;
  u->pend_tail = p;
  u->pend_bytes += len;
}

static void pend_pop(ew__udp_t *u) {
  ew__udp_pend_t *p = u->pend_head;
  u->pend_head = p->next;
  if (u->pend_head == NULL) u->pend_tail = NULL;
  u->pend_bytes -= p->len;
  free(p);
}

/* Sends what waits in the queue, on a write edge; stops at the first EAGAIN. */
static void flush_pend(ew__udp_t *u) {
  struct mmsghdr mm[BATCH];
  struct iovec iov[BATCH];
  while (u->pend_head != NULL) {
    unsigned n = 0;
    for (ew__udp_pend_t *p = u->pend_head; p != NULL && n < BATCH; p = p->next, n++) {
      iov[n].iov_base = p->bytes;
      iov[n].iov_len = p->len;
      memset(&mm[n], 0, sizeof mm[n]);
      mm[n].msg_hdr.msg_name = p->tolen != 0 ? &p->to : NULL;
      mm[n].msg_hdr.msg_namelen = p->tolen;
      mm[n].msg_hdr.msg_iov = &iov[n];
      mm[n].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(u->fd, mm, n, MSG_DONTWAIT);
    if (r > 0) {
      for (int i = 0; i < r; i++) {
        sent(u, u->pend_head->len);
        pend_pop(u);
      }
      continue;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) return;
    send_failed(u, e);
    pend_pop(u);
  }
}

/* Sends `n` datagrams in as few sendmmsg calls as the kernel allows. A datagram it refuses with
 * an error is counted and skipped; those it cannot take yet (EAGAIN) wait, copied, for the next
 * write edge, and so does everything after them, in order. */
static void send_plain(ew__udp_t *u, struct mmsghdr *mm, unsigned n) {
  unsigned i = 0;
  while (i < n) {
    int r = sendmmsg(u->fd, mm + i, n - i, MSG_DONTWAIT);
    if (r > 0) {
      for (unsigned j = i; j < i + (unsigned)r; j++)
        sent(u, mm[j].msg_len);
      i += (unsigned)r;
      continue;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      for (; i < n; i++)
        queue(u, &mm[i].msg_hdr);
      return;
    }
    send_failed(u, e);
    i++;
  }
}

static bool same_dest(const struct msghdr *a, const struct msghdr *b) {
  return a->msg_namelen == b->msg_namelen &&
         (a->msg_namelen == 0 || memcmp(a->msg_name, b->msg_name, a->msg_namelen) == 0);
}

/* As send_plain(), but a run of consecutive datagrams of one size to one destination (a burst
 * of replies to one peer) leaves as one UDP_SEGMENT (GSO) message: the kernel builds and routes
 * one packet and cuts it into the datagrams on its way, instead of walking the whole output
 * path per datagram. The receiver sees the same datagrams. A kernel that refuses GSO turns it
 * off for the socket and the datagrams go out one by one. */
static void send_batch(ew__udp_t *u, struct mmsghdr *mm, unsigned n) {
  if (u->pend_head != NULL) {
    for (unsigned i = 0; i < n; i++)
      queue(u, &mm[i].msg_hdr);
    flush_pend(u);
    return;
  }
  if (u->no_gso || n == 1) {
    send_plain(u, mm, n);
    return;
  }
  struct mmsghdr gm[BATCH];
  unsigned first[BATCH + 1];
  union {
    char buf[CMSG_SPACE(sizeof(uint16_t))];
    struct cmsghdr align;
  } ctl[BATCH];
  unsigned ng = 0;
  for (unsigned i = 0; i < n;) {
    size_t seg = mm[i].msg_hdr.msg_iov[0].iov_len;
    size_t total = seg;
    unsigned j = i + 1;
    while (j < n && j - i < GSO_SEGMENTS && seg != 0 && seg <= GSO_MAX_SEGMENT &&
           mm[j].msg_hdr.msg_iov[0].iov_len == seg && total + seg <= GSO_BYTES &&
           same_dest(&mm[i].msg_hdr, &mm[j].msg_hdr)) {
      total += seg;
      j++;
    }
    gm[ng] = mm[i];
    gm[ng].msg_hdr.msg_iovlen = j - i; /* the run's iovecs are consecutive */
    if (j - i > 1) {
      struct cmsghdr *c = &ctl[ng].align;
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t size = (uint16_t)seg;
      memcpy(CMSG_DATA(c), &size, sizeof size);
      gm[ng].msg_hdr.msg_control = ctl[ng].buf;
      gm[ng].msg_hdr.msg_controllen = sizeof ctl[ng].buf;
    }
    first[ng++] = i;
    i = j;
  }
  first[ng] = n;
  unsigned g = 0;
  while (g < ng) {
    int r = sendmmsg(u->fd, gm + g, ng - g, MSG_DONTWAIT);
    if (r > 0) {
      for (unsigned k = g; k < g + (unsigned)r; k++)
        for (unsigned d = first[k]; d < first[k + 1]; d++)
          sent(u, (uint32_t)mm[d].msg_hdr.msg_iov[0].iov_len);
      g += (unsigned)r;
      continue;
    }
    int e = errno;
    if (e == EINTR) continue;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      for (unsigned d = first[g]; d < n; d++)
        queue(u, &mm[d].msg_hdr);
      return;
    }
    if (first[g + 1] - first[g] > 1 && (e == EINVAL || e == EIO || e == ENOPROTOOPT)) {
      /* No GSO here (an old kernel, a route through IPsec): one by one from now on. */
      u->no_gso = true;
      EW_LOG_DEBUG(u->io->rt, "UDP socket %u: no UDP_SEGMENT (%s); sending datagrams one by one",
                   u->srv->id, strerror(e));
      send_plain(u, mm + first[g], n - first[g]);
      return;
    }
    for (unsigned d = first[g]; d < first[g + 1]; d++)
      send_failed(u, e);
    g++;
  }
}

uint32_t ew__udp_consume(ew__io_t *io, ew_ring_consumer_t *cons, const ew_rec_t *rec) {
  uint32_t id = (uint32_t)rec->conn;
  ew__udp_t *u = find(io, id);
  struct mmsghdr mm[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_storage to[BATCH];
  unsigned n = 0;
  uint32_t consumed = 0;
  /* Advancing is safe: the records' memory stays ours until ew_ring_release(), after the
   * sendmmsg below. */
  for (;;) {
    consumed++;
    if (u != NULL) {
      const uint8_t *b = (const uint8_t *)(rec + 1);
      socklen_t tolen = 0;
      int err = rec->len < EW_DGRAM_PREFIX_BYTES ? EW_EINVAL : read_prefix(u, b, &to[n], &tolen);
      if (err != 0) {
        send_failed(u, -err);
      } else {
        iov[n].iov_base = (void *)(b + EW_DGRAM_PREFIX_BYTES);
        iov[n].iov_len = rec->len - EW_DGRAM_PREFIX_BYTES;
        memset(&mm[n], 0, sizeof mm[n]);
        mm[n].msg_hdr.msg_name = tolen != 0 ? &to[n] : NULL;
        mm[n].msg_hdr.msg_namelen = tolen;
        mm[n].msg_hdr.msg_iov = &iov[n];
        mm[n].msg_hdr.msg_iovlen = 1;
        n++;
      }
    }
    ew_ring_advance(cons, rec);
    if (n == BATCH || consumed == 4 * BATCH) break;
    rec = ew_ring_next(cons);
    if (rec == NULL || rec->kind != EW_REC_DGRAM_SEND || (uint32_t)rec->conn != id) break;
  }
  EW__STAT(io, send_records) += consumed;
  if (u == NULL) {
    /* Closed meanwhile (a race no program can avoid): dropped, as a closed connection's. */
    EW__STAT(io, stale_sends) += consumed;
    return consumed;
  }
  if (n != 0) send_batch(u, mm, n);
  return consumed;
}

/* ---- receiving ----------------------------------------------------------------------------- */

/* Receives a batch into the slab. Returns how many datagrams came, 0 when the socket has no
 * more (EAGAIN), or -1 after an error the kernel reported (it is cleared by the report: read
 * again). */
static int receive(ew__udp_t *u) {
  for (uint32_t i = 0; i < u->nslots; i++) {
    u->msgs[i].msg_hdr.msg_namelen = sizeof u->names[i];
    u->msgs[i].msg_hdr.msg_controllen = CTRL_BYTES;
    u->msgs[i].msg_hdr.msg_flags = 0;
  }
  int n;
  do {
    /* With MSG_TRUNC a datagram larger than its slot reports its real length; MSG_TRUNC in its
     * msg_flags is what marks it as cut (deliver() drops it). */
    n = recvmmsg(u->fd, u->msgs, u->nslots, MSG_DONTWAIT | MSG_TRUNC, NULL);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return n;
  int e = errno;
  if (e == EAGAIN || e == EWOULDBLOCK) return 0;
  report_error(u, e);
  return -1;
}

/* Runs the guard over a fresh batch: one call per run of datagrams from the same source. */
static void guard_batch(ew__udp_t *u, uint32_t n) {
  uint32_t j;
  for (uint32_t i = 0; i < n; i = j) {
    ew__ipkey_t k, next;
    ew__ipkey_from_sockaddr(&k, (struct sockaddr *)&u->names[i]);
    for (j = i + 1; j < n; j++) {
      ew__ipkey_from_sockaddr(&next, (struct sockaddr *)&u->names[j]);
      if (memcmp(&next, &k, sizeof k) != 0) break;
    }
    uint32_t pass = ew__guard_datagrams(u->io, u->srv, &k, j - i);
    for (uint32_t m = i; m < j; m++)
      u->pass[m] = m - i < pass;
  }
}

/* Looks at the control messages of datagram `i`: the socket's drop count. */
static void read_cmsgs(ew__udp_t *u, uint32_t i) {
  struct msghdr *h = &u->msgs[i].msg_hdr;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      uint32_t v;
      memcpy(&v, CMSG_DATA(c), sizeof v);
      note_drops(u, v);
    }
  }
}

/* Hands datagram `i` to the owner port, or drops and counts it. Returns -1 when its record does
 * not fit the ring now (u->need says how much it needs). */
static int deliver(ew__udp_t *u, uint32_t i) {
  ew__io_t *io = u->io;
  ew__server_t *srv = u->srv;
  ew__srv_io_t *sio = row(u);
  if (u->guarded && !u->pass[i]) return 0; /* counted by the guard */
  const struct mmsghdr *m = &u->msgs[i];
  uint32_t n = m->msg_len;
  if ((m->msg_hdr.msg_flags & MSG_TRUNC) || n > u->max_dgram) {
    sio->stats[EW_SRV_STAT_dgram_truncated]++;
    EW__STAT(io, dgram_drops)++;
    return 0;
  }
  const uint8_t *d = u->slab + (size_t)i * u->slot_bytes;
  ew_frame_header_t h = {0, 0, 0, 0};
  uint32_t skip = 0;
  if (srv->o.framing == EW_FRAMING_FRAMES) {
    /* One frame per datagram: its length must be the datagram's, or it is not one. */
    if (n < EW_FRAME_HEADER_BYTES || ew_frame_decode(d, u->max_dgram, &h) != 0 ||
        h.length != n - EW_FRAME_HEADER_BYTES) {
      sio->stats[EW_SRV_STAT_dgram_bad_header]++;
      EW__STAT(io, dgram_drops)++;
      return 0;
    }
    skip = EW_FRAME_HEADER_BYTES;
  }
  ew__io_port_t *ip = &io->ports[srv->o.owner_port];
  uint32_t len = EW_DGRAM_PREFIX_BYTES + n - skip;
  /* Behind queued control records nothing may overtake them. */
  ew_rec_t *rec = ip->ovf_head == NULL ? ew_ring_reserve(&ip->prod, len) : NULL;
  if (rec == NULL) {
    u->need = len;
    return -1;
  }
  rec->kind = EW_REC_DGRAM;
  rec->flags = h.flags;
  rec->conn = srv->id;
  rec->type = h.type;
  rec->seq = h.seq;
  uint8_t *body = (uint8_t *)(rec + 1);
  write_prefix(body, (const struct sockaddr *)&u->names[i]);
  memcpy(body + EW_DGRAM_PREFIX_BYTES, d + skip, n - skip);
  ip->dirty = true;
  sio->stats[EW_SRV_STAT_messages_in]++;
  sio->stats[EW_SRV_STAT_bytes_in] += n;
  EW__STAT(io, dgrams_in)++;
  EW__STAT(io, bytes_in) += n;
  return 0;
}

/* Reads and delivers until the socket has nothing more, the round's budget is spent (then it
 * reads again next round) or the ring is full (then it waits for room). */
static void pump(ew__udp_t *u) {
  /* Commands first: new limits posted before a datagram arrived apply to it. The next round
   * runs them, then reads (the socket stays ready meanwhile). on_event runs them itself. */
  if (ew__inbox_pending(&u->io->inbox)) {
    u->flags |= U_READY;
    return;
  }
  u->flags &= ~U_READY;
  for (int b = 0; b < READ_BATCHES; b++) {
    if (u->pos == u->count) {
      int n = receive(u);
      if (n == 0) return;
      if (n < 0) continue;
      u->pos = 0;
      u->count = (uint32_t)n;
      const ew_limits_t *l = &row(u)->lim;
      u->guarded = l->ip_msgs_per_sec != 0 ||
                   atomic_load_explicit(&u->srv->ips.ever_banned, memory_order_relaxed);
      if (u->guarded) guard_batch(u, u->count);
      for (uint32_t i = 0; i < u->count; i++)
        if (u->msgs[i].msg_hdr.msg_controllen != 0) read_cmsgs(u, i);
    }
    for (; u->pos < u->count; u->pos++) {
      if (deliver(u, u->pos) != 0) {
        u->flags |= U_BLOCKED;
        EW__STAT(u->io, ring_full)++;
        /* Asks the port to wake this thread when it frees room; the loop looks each round. */
        ew_ring_wait_space(&u->io->ports[u->srv->o.owner_port].prod, u->need);
        return;
      }
    }
  }
  u->flags |= U_READY;
}

static bool has_room(ew__udp_t *u) {
  ew__io_port_t *ip = &u->io->ports[u->srv->o.owner_port];
  return ip->ovf_head == NULL && ew_ring_wait_space(&ip->prod, u->need);
}

static void on_event(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  ew__udp_t *u = arg;
  ew__io_t *io = u->io;
  /* Commands posted before these datagrams were sent (new limits, a close) apply before they
   * are read, as for a connection (conn.c's inbox_first): the loop runs the inbox only at the
   * top of a round, after every event epoll reported in it. A command may close the socket. */
  if (ew__inbox_pending(&io->inbox)) {
    uint32_t id = u->srv->id;
    ew__io_run_inbox(io);
    if (find(io, id) != u) return;
  }
  if ((what & EV_WRITE) && u->pend_head != NULL) flush_pend(u);
  if ((what & EV_READ) && !(u->flags & U_BLOCKED)) pump(u);
}

void ew__udp_run(ew__io_t *io) {
  ew__udp_t *u;
  LIST_FOREACH(u, &io->udps, link) {
    if (u->flags & U_BLOCKED) {
      if (!has_room(u)) continue;
      u->flags &= ~U_BLOCKED;
      pump(u);
    } else if (u->flags & U_READY) {
      pump(u);
    }
  }
}

bool ew__udp_ready(const ew__io_t *io) {
  const ew__udp_t *u;
  LIST_FOREACH(u, &io->udps, link)
  if ((u->flags & (U_READY | U_BLOCKED)) == U_READY) return true;
  return false;
}

bool ew__udp_has_work(ew__io_t *io) {
  ew__udp_t *u;
  LIST_FOREACH(u, &io->udps, link)
  if ((u->flags & U_BLOCKED) && has_room(u)) return true;
  return false;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static void sock_free(ew__udp_t *u) {
  if (u->ev != NULL) event_free(u->ev);
  while (u->pend_head != NULL)
    pend_pop(u);
  free(u->slab);
  free(u->msgs);
  free(u->iov);
  free(u->names);
  free(u->ctrl);
  free(u->pass);
  free(u);
}

static int sock_init(ew__udp_t *u, ew__io_t *io, const ew__cmd_udp_t *cmd) {
  u->srv = cmd->srv;
  u->io = io;
  u->fd = cmd->fd;
  u->connected = cmd->connected;
  u->max_dgram = cmd->max_dgram;
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  if (getsockname(u->fd, (struct sockaddr *)&ss, &sl) != 0) return ew_translate_sys_error(errno);
  u->family = ss.ss_family;
  u->slot_bytes = (u->max_dgram + 63u) & ~63u;
  u->nslots = SLAB_BYTES / u->slot_bytes;
  if (u->nslots > BATCH) u->nslots = BATCH;
  if (u->nslots == 0) u->nslots = 1;
  u->slab = malloc((size_t)u->nslots * u->slot_bytes);
  u->msgs = calloc(u->nslots, sizeof *u->msgs);
  u->iov = calloc(u->nslots, sizeof *u->iov);
  u->names = calloc(u->nslots, sizeof *u->names);
  u->ctrl = calloc(u->nslots, CTRL_BYTES);
  u->pass = calloc(u->nslots, 1);
  if (!u->slab || !u->msgs || !u->iov || !u->names || !u->ctrl || !u->pass) return EW_ENOMEM;
  for (uint32_t i = 0; i < u->nslots; i++) {
    u->iov[i].iov_base = u->slab + (size_t)i * u->slot_bytes;
    u->iov[i].iov_len = u->max_dgram; /* one byte more and the kernel says MSG_TRUNC */
    struct msghdr *h = &u->msgs[i].msg_hdr;
    h->msg_name = &u->names[i];
    h->msg_iov = &u->iov[i];
    h->msg_iovlen = 1;
    h->msg_control = u->ctrl + (size_t)i * CTRL_BYTES;
  }
  u->ev = event_new(io->base, u->fd, EV_READ | EV_WRITE | EV_ET | EV_PERSIST, on_event, u);
  if (u->ev == NULL || event_add(u->ev, NULL) != 0) return EW_ENOMEM;
  return 0;
}

static void announce_closed(ew__io_t *io, ew__server_t *srv) {
  if (atomic_fetch_sub(&srv->open_fds, 1) == 1)
    ew__io_push_ctrl(io, srv->o.owner_port, EW_REC_UNLISTEN, 0, srv->id, 0, NULL, 0);
}

void ew__udp_run_open(ew__io_t *io, ew__cmd_udp_t *cmd) {
  ew__server_t *srv = cmd->srv;
  if (io->stopping) {
    close(cmd->fd);
    ew__server_unref(srv);
    return;
  }
  ew__udp_t *u = calloc(1, sizeof *u);
  int err = u != NULL ? sock_init(u, io, cmd) : EW_ENOMEM;
  if (err != 0) {
    EW_LOG_ERROR(io->rt, "UDP socket %u: cannot watch its socket on IO thread %u: %s", srv->id,
                 io->index, ew_strerror(err));
    if (u != NULL) sock_free(u);
    close(cmd->fd);
    announce_closed(io, srv);
    ew__server_unref(srv);
    return;
  }
  /* The socket takes over the command's reference. */
  LIST_INSERT_HEAD(&io->udps, u, link);
  /* Datagrams may have arrived between the bind and now: read them this round, once the
   * commands behind this one (limits set right after the open) have run. */
  u->flags |= U_READY;
}

static void sock_close(ew__udp_t *u, bool announce) {
  ew__io_t *io = u->io;
  ew__server_t *srv = u->srv;
  read_drops(u);
  LIST_REMOVE(u, link);
  close(u->fd);
  sock_free(u);
  if (announce) announce_closed(io, srv);
  ew__server_unref(srv);
}

void ew__udp_run_close(ew__io_t *io, ew__server_t *srv) {
  ew__udp_t *u;
  LIST_FOREACH(u, &io->udps, link)
  if (u->srv == srv) break;
  if (u != NULL) sock_close(u, true);
  ew__server_unref(srv); /* the command's */
}

void ew__udp_shutdown(ew__io_t *io) {
  ew__udp_t *u;
  while ((u = LIST_FIRST(&io->udps)) != NULL)
    sock_close(u, false);
}

/* ---- the public API ------------------------------------------------------------------------ */

void ew_udp_opts_init(ew_udp_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->framing = EW_FRAMING_FRAMES;
  o->max_datagram = EW_UDP_MAX_DATAGRAM;
  ew_limits_init(&o->limits);
  o->max_tracked_ips = 65536;
}

/* How a kernel socket joins the SO_REUSEPORT group of a listening UDP socket. */
enum { REUSE_NONE = 0, REUSE_FIRST, REUSE_OTHER };

/* Opens one kernel socket of a UDP socket, bound (and connected) on the caller's thread.
 *
 * The first socket of a group binds without SO_REUSEPORT and sets it afterwards; the others set
 * it before binding and join. Bound alone, the first one fails with EW_EADDRINUSE where any
 * socket holds the port (another UDP socket of this process with SO_REUSEPORT would otherwise
 * quietly join the group and take a share of the datagrams), and port 0 gets a port nobody
 * holds; the kernel makes the group when the second socket joins. */
static int open_sock(const struct sockaddr *sa, socklen_t len, bool bind_it, const ew_udp_opts_t *o,
                     int reuse, bool wildcard6, const struct sockaddr *peer, socklen_t peerlen,
                     int *out) {
  int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ew_translate_sys_error(errno);
  int one = 1, zero = 0;
  if (reuse == REUSE_OTHER && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    goto fail;
  if (wildcard6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) != 0) goto fail;
  if (o->rcvbuf != 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof o->rcvbuf) != 0)
    goto fail;
  if (o->sndbuf != 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf, sizeof o->sndbuf) != 0)
    goto fail;
  /* The kernel's drop count on every datagram: the socket's own figure of what it lost.
   * Optional: an old kernel without it only leaves dgram_kernel_drops at 0. */
  (void)setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one);
  if (bind_it && bind(fd, sa, len) != 0) goto fail;
  if (reuse == REUSE_FIRST && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
    goto fail;
  if (peer != NULL && connect(fd, peer, peerlen) != 0) goto fail;
  *out = fd;
  return 0;
fail:;
  int err = ew_translate_sys_error(errno);
  close(fd);
  return err;
}

static void fill_info(int fd, ew_udp_info_t *info) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0) return;
  if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    info->family = 6;
    info->port = ntohs(a->sin6_port);
    inet_ntop(AF_INET6, &a->sin6_addr, info->address, sizeof info->address);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    info->family = 4;
    info->port = ntohs(a->sin_port);
    inet_ntop(AF_INET, &a->sin_addr, info->address, sizeof info->address);
  }
}

static void set_port(struct sockaddr_storage *ss, uint16_t port) {
  if (ss->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
  else
    ((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static int validate(ew_runtime_t *rt, const ew_udp_opts_t *o) {
  if (o->owner_port >= rt->nports) return EW_EINVAL;
  if (o->framing != EW_FRAMING_FRAMES && o->framing != EW_FRAMING_RAW) return EW_EINVAL;
  uint32_t min = o->framing == EW_FRAMING_FRAMES ? EW_FRAME_HEADER_BYTES : 1;
  if (o->max_datagram < min || o->max_datagram > EW_UDP_MAX_DATAGRAM) return EW_EINVAL;
  uint32_t max_body = ew_ring_max_body(ew_port_in(&rt->ports[0], 0));
  if (o->max_datagram + EW_DGRAM_PREFIX_BYTES > max_body) return EW_EINVAL;
  if (o->limits.window_ms == 0) return EW_EINVAL;
  if (o->rcvbuf > INT32_MAX || o->sndbuf > INT32_MAX) return EW_EINVAL;
  return 0;
}

/* Where to bind: the host, or the wildcard (IPv6 dual stack where the system has IPv6; for a
 * connected socket, the peer's family). *bind_it is false for a connected socket with neither
 * host nor port: connect() picks both. */
static int local_addr(const ew_udp_opts_t *o, const struct sockaddr_storage *peer,
                      struct sockaddr_storage *ss, socklen_t *len, bool *wildcard6, bool *bind_it) {
  *wildcard6 = false;
  *bind_it = true;
  if (o->host != NULL && o->host[0] != '\0') {
    int err = parse_addr(o->host, o->port, ss, len);
    if (err != 0) return err;
    if (peer != NULL && peer->ss_family != ss->ss_family) return EW_EINVAL;
    if (ss->ss_family == AF_INET6)
      *wildcard6 = IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)ss)->sin6_addr) && !peer;
    return 0;
  }
  if (peer != NULL) {
    *bind_it = o->port != 0;
    return parse_addr(peer->ss_family == AF_INET6 ? "::" : "0.0.0.0", o->port, ss, len);
  }
  int probe = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (probe >= 0) {
    close(probe);
    *wildcard6 = true;
    return parse_addr("::", o->port, ss, len);
  }
  return parse_addr("0.0.0.0", o->port, ss, len);
}

int ew_udp_open(ew_runtime_t *rt, const ew_udp_opts_t *o, ew_udp_info_t *info) {
  if (atomic_load(&rt->state) != EW__RT_RUNNING) return EW_ESTATE;
  int err = validate(rt, o);
  if (err != 0) return err;
  bool connected = o->peer != NULL && o->peer[0] != '\0';
  struct sockaddr_storage peer, local;
  socklen_t peerlen = 0, locallen = 0;
  if (connected && (err = parse_addr(o->peer, o->peer_port, &peer, &peerlen)) != 0) return err;
  if (connected && o->peer_port == 0) return EW_EINVAL;
  bool wildcard6, bind_it;
  err = local_addr(o, connected ? &peer : NULL, &local, &locallen, &wildcard6, &bind_it);
  if (err != 0) return err;

  /* The server behind it: id, limits, counters, address table. reuse_port stands for "one
   * kernel socket per IO thread" (thread_of()). */
  ew_listen_opts_t lo;
  ew_listen_opts_init(&lo);
  lo.framing = o->framing;
  lo.max_frame_bytes = o->max_datagram;
  lo.owner_port = o->owner_port;
  lo.limits = o->limits;
  lo.max_tracked_ips = o->max_tracked_ips;
  lo.reuse_port = !connected;
  ew__server_t *srv = NULL;
  err = ew__server_new(rt, &lo, &srv);
  if (err != 0) return err;
  srv->udp = true;
  pthread_mutex_lock(&rt->lock);
  srv->id = rt->next_server_id++;
  srv->prof.id = srv->id;
  pthread_mutex_unlock(&rt->lock);

  memset(info, 0, sizeof *info);
  int fds[EW_MAX_IO_THREADS];
  int nopen = 0;
  for (int i = 0; i < srv->nfds; i++) {
    int reuse = srv->nfds == 1 ? REUSE_NONE : i == 0 ? REUSE_FIRST : REUSE_OTHER;
    err = open_sock((struct sockaddr *)&local, locallen, bind_it, o, reuse, wildcard6,
                    connected ? (struct sockaddr *)&peer : NULL, peerlen, &fds[i]);
    if (err != 0) break;
    nopen++;
    if (i == 0) {
      /* Port 0 asks the kernel for one; the other SO_REUSEPORT sockets must share it. */
      fill_info(fds[0], info);
      set_port(&local, info->port);
    }
  }
  if (err == 0) {
    pthread_mutex_lock(&rt->lock);
    ew__server_t **grown = realloc(rt->servers, (rt->nservers + 1) * sizeof *grown);
    if (grown != NULL) {
      rt->servers = grown;
      rt->servers[rt->nservers++] = srv;
    } else {
      err = EW_ENOMEM;
    }
    pthread_mutex_unlock(&rt->lock);
  }
  if (err != 0) {
    for (int i = 0; i < nopen; i++)
      close(fds[i]);
    ew__server_unref(srv);
    return err;
  }
  info->id = srv->id;
  info->io = thread_of(rt, srv, 0);
  atomic_store(&srv->open_fds, srv->nfds);
  for (int i = 0; i < srv->nfds; i++) {
    uint32_t k = thread_of(rt, srv, i);
    ew__cmd_udp_t *cmd = calloc(1, sizeof *cmd);
    if (cmd == NULL) {
      /* Registered, so ew_udp_close() closes the sockets that did start; this one never does. */
      close(fds[i]);
      announce_closed(&rt->io[k], srv);
      continue;
    }
    cmd->base.kind = EW__CMD_UDP_OPEN;
    cmd->fd = fds[i];
    cmd->srv = srv;
    cmd->connected = connected;
    cmd->max_dgram = o->max_datagram;
    atomic_fetch_add(&srv->refs, 1);
    ew__io_post(&rt->io[k], &cmd->base);
  }
  EW_LOG_DEBUG(rt, "UDP socket %u on %s port %u (%d socket%s%s)", srv->id, info->address,
               info->port, srv->nfds, srv->nfds == 1 ? "" : "s", connected ? ", connected" : "");
  return 0;
}

int ew_udp_close(ew_runtime_t *rt, uint32_t id) {
  ew__server_t *srv = ew__server_take(rt, id, true);
  if (srv == NULL) return EW_ENOENT;
  if (atomic_load(&rt->state) != EW__RT_RUNNING) {
    ew__server_unref(srv);
    return EW_ESTATE;
  }
  atomic_store(&srv->unlistened, 1);
  for (int i = 0; i < srv->nfds; i++) {
    ew__cmd_udp_t *cmd = calloc(1, sizeof *cmd);
    if (cmd == NULL) {
      ew__server_unref(srv);
      return EW_ENOMEM;
    }
    cmd->base.kind = EW__CMD_UDP_CLOSE;
    cmd->fd = -1;
    cmd->srv = srv;
    atomic_fetch_add(&srv->refs, 1);
    ew__io_post(&rt->io[thread_of(rt, srv, i)], &cmd->base);
  }
  ew__server_unref(srv); /* the table's */
  return 0;
}
