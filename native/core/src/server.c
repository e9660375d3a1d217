// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Servers and profiles. A listening server (listener.c opens and closes its sockets) is a
 * profile for its connections plus what only a listener has: an id in the runtime's table,
 * admission, the per-address table of its peers. It lives while the table, a listener, a
 * command or a connection holds a reference. */

/* ---- profiles ------------------------------------------------------------------------------ */

int ew__profile_init(ew__profile_t *p, const ew_listen_opts_t *o, uint32_t nio, bool client) {
  p->codec = ew__codec_for(o->framing);
  if (p->codec == NULL) return EW_EINVAL;
  p->crypt = NULL;
  if (o->crypt.mode != EW_CRYPT_OFF) {
    /* Message encryption is the frames codec's: a framed connection with it runs the
     * encrypting codec, which delivers through the frames codec. */
    /* Frames only, not also under TLS (which protects them already, and whose handshake
     * deadline is the same node), and frames small enough to be held whole until they
     * verify. */
    if (o->framing != EW_FRAMING_FRAMES || o->tls.enabled ||
        o->max_frame_bytes > EW__CRYPT_MAX_FRAME)
      return EW_EINVAL;
    int err = ew__crypt_cfg_new(&o->crypt, client, &p->crypt);
    if (err != 0) return err;
    p->codec = &ew__codec_frames_crypt;
  }
  p->tls = NULL;
  if (o->tls.enabled) {
    int err = ew__tls_cfg_new(&o->tls, client, &p->tls);
    if (err != 0) {
      ew__crypt_cfg_free(p->crypt);
      p->crypt = NULL;
      return err;
    }
  }
  p->max_frame_bytes = o->max_frame_bytes;
  p->low_watermark = o->low_watermark;
  p->max_buffered = o->max_buffered;
  p->no_delay = o->no_delay;
  p->bind = o->bind;
  p->bind_ports = o->bind_ports;
  p->http = o->http;
  p->per_io = aligned_alloc(64, (size_t)nio * sizeof *p->per_io);
  if (p->per_io == NULL) {
    ew__crypt_cfg_free(p->crypt);
    p->crypt = NULL;
    ew__tls_cfg_free(p->tls);
    p->tls = NULL;
    return EW_ENOMEM;
  }
  memset(p->per_io, 0, (size_t)nio * sizeof *p->per_io);
  for (uint32_t k = 0; k < nio; k++)
    p->per_io[k].lim = o->limits;
  return 0;
}

void ew__profile_destroy(ew__profile_t *p) {
  free(p->per_io);
  p->per_io = NULL;
  ew__crypt_cfg_free(p->crypt);
  p->crypt = NULL;
  ew__tls_cfg_free(p->tls);
  p->tls = NULL;
}

static int server_init(ew__server_t *srv, uint32_t nio) {
  int err = ew__profile_init(&srv->prof, &srv->o, nio, false);
  if (err != 0) return err;
  uint32_t max = srv->o.max_tracked_ips != 0 ? srv->o.max_tracked_ips : 65536;
  if (ew__iptab_init(&srv->ips, max) != 0) {
    ew__profile_destroy(&srv->prof);
    return EW_ENOMEM;
  }
  return 0;
}

static void server_destroy(ew__server_t *srv) {
  if (srv->prof.per_io == NULL) return;
  ew__iptab_destroy(&srv->ips);
  ew__profile_destroy(&srv->prof);
}

/* ---- lifetime and lookup --------------------------------------------------------------------- */

static void server_free(ew__server_t *srv) {
  server_destroy(srv);
  free(srv);
}

void ew__server_unref(ew__server_t *srv) {
  if (atomic_fetch_sub(&srv->refs, 1) == 1) server_free(srv);
}

/* A connection's reference to its profile is one to the server that embeds it. */
static void server_prof_release(ew__profile_t *p) {
  ew__server_unref((ew__server_t *)((char *)p - offsetof(ew__server_t, prof)));
}

int ew__server_new(ew_runtime_t *rt, const ew_listen_opts_t *o, ew__server_t **out) {
  ew__server_t *srv = calloc(1, sizeof *srv);
  if (srv == NULL) return EW_ENOMEM;
  srv->rt = rt;
  srv->prof.release = server_prof_release;
  srv->o = *o;
  srv->o.host = NULL;
  srv->nfds = o->reuse_port ? (int)rt->nio : 1;
  atomic_store(&srv->refs, 1);
  atomic_store(&srv->admit, o->admit ? 1 : 0);
  int err = server_init(srv, rt->nio);
  srv->o.crypt.rsa_der = NULL; /* the profile keeps its own copy of the key */
  srv->o.crypt.rsa_der_len = 0;
  memset(&srv->o.tls, 0, sizeof srv->o.tls); /* and its own TLS contexts */
  if (err != 0) {
    free(srv);
    return err;
  }
  *out = srv;
  return 0;
}

/* Finds a listening server and takes a reference. */
ew__server_t *ew__server_find(ew_runtime_t *rt, uint32_t id) {
  ew__server_t *srv = NULL;
  pthread_mutex_lock(&rt->lock);
  for (uint32_t i = 0; i < rt->nservers; i++) {
    if (rt->servers[i] != NULL && rt->servers[i]->id == id) {
      srv = rt->servers[i];
      atomic_fetch_add(&srv->refs, 1);
      break;
    }
  }
  pthread_mutex_unlock(&rt->lock);
  return srv;
}

int ew_server_set_tls(ew_runtime_t *rt, uint32_t id, const ew_tls_opts_t *o) {
  if (o == NULL || !o->enabled) return EW_EINVAL;
  ew__server_t *srv = ew__server_find(rt, id);
  if (srv == NULL) return EW_ENOENT;
  int err = srv->prof.tls != NULL ? ew__tls_cfg_set(srv->prof.tls, o) : EW_EINVAL;
  ew__server_unref(srv);
  return err;
}

int ew_server_set_admit(ew_runtime_t *rt, uint32_t id, int on) {
  ew__server_t *srv = ew__server_find(rt, id);
  if (srv == NULL) return EW_ENOENT;
  atomic_store(&srv->admit, on ? 1 : 0);
  ew__server_unref(srv);
  return 0;
}

ew__server_t *ew__server_take(ew_runtime_t *rt, uint32_t id, bool udp_only) {
  ew__server_t *srv = NULL;
  pthread_mutex_lock(&rt->lock);
  for (uint32_t i = 0; i < rt->nservers; i++) {
    ew__server_t *s = rt->servers[i];
    if (s != NULL && s->id == id && (!udp_only || s->udp)) {
      srv = s;
      rt->servers[i] = rt->servers[--rt->nservers];
      break;
    }
  }
  pthread_mutex_unlock(&rt->lock);
  return srv;
}
