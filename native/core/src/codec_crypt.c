// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include "crypt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Message encryption of framed connections (docs/encryption.md, which specifies every byte
 * written here). This codec sits where the frames codec would: it runs the handshake on type-0
 * frames, opens each encrypted frame whole (nothing of a frame is delivered before its tag
 * verified) into a buffer of plaintext frames, and hands that buffer to the frames codec's
 * delivery, so that records, fragments, limits and the guard's counts are the frames codec's.
 * Outbound, SEND records reach it through the seal op: each frame is sealed into the output
 * buffer, and what JavaScript sends before the keys exist waits here, counted as queued. */

/* ---- configuration (a profile's, shared by its connections read-only) ---------------------- */

struct ew__crypt_cfg_s {
  int mode;
  bool client;
  uint8_t ciphers[EW__CIPHER_MAX_LIST];
  uint32_t nciphers;
  EVP_PKEY *ed25519;  /* server: the signing key */
  uint8_t ed_pub[32]; /* client: the pinned key */
  bool has_ed25519;
  EVP_PKEY *rsa; /* server: private; client: the pinned public key */
  uint64_t rekey_after_bytes;
  uint32_t handshake_timeout_ms;
};

int ew__crypt_cfg_new(const ew_crypt_opts_t *o, bool client, ew__crypt_cfg_t **out) {
  *out = NULL;
  if (o->mode != EW_CRYPT_OPTIONAL && o->mode != EW_CRYPT_REQUIRED) return EW_EINVAL;
  if (client && o->mode != EW_CRYPT_REQUIRED) return EW_EINVAL;
  ew__crypt_cfg_t *g = calloc(1, sizeof *g);
  if (g == NULL) return EW_ENOMEM;
  g->mode = o->mode;
  g->client = client;
  for (uint32_t i = 0; i < EW__CIPHER_MAX_LIST && o->ciphers[i] != 0; i++) {
    if (o->ciphers[i] > EW_CIPHER_AES_256_CBC_HMAC) goto bad;
    g->ciphers[g->nciphers++] = o->ciphers[i];
  }
  if (g->nciphers == 0) {
    g->ciphers[g->nciphers++] = EW_CIPHER_AES_256_GCM;
    g->ciphers[g->nciphers++] = EW_CIPHER_CHACHA20_POLY1305;
  }
  if (o->has_ed25519) {
    g->has_ed25519 = true;
    if (client) {
      memcpy(g->ed_pub, o->ed25519, 32);
    } else if ((g->ed25519 = ew__pkey_ed25519(o->ed25519, 1)) == NULL) {
      goto bad;
    }
  }
  if (o->rsa_der != NULL && (g->rsa = ew__pkey_rsa(o->rsa_der, o->rsa_der_len, !client)) == NULL)
    goto bad;
  /* A server needs a key to offer; a link pins exactly one (Ed25519 first). */
  if (!g->has_ed25519 && g->rsa == NULL) goto bad;
  g->rekey_after_bytes = o->rekey_after_bytes != 0 ? o->rekey_after_bytes : 1ull << 30;
  g->handshake_timeout_ms = o->handshake_timeout_ms;
  *out = g;
  return 0;
bad:
  ew__crypt_cfg_free(g);
  return EW_EINVAL;
}

void ew__crypt_cfg_free(ew__crypt_cfg_t *g) {
  if (g == NULL) return;
  ew__pkey_free(g->ed25519);
  ew__pkey_free(g->rsa);
  free(g);
}

/* ---- per connection ------------------------------------------------------------------------- */

enum {
  ST_HELLO,  /* server: waits for the ClientHello (or, optional, a plaintext frame) */
  ST_SHELLO, /* client: sent its ClientHello, waits for the ServerHello */
  ST_OPEN,   /* keys agreed: every frame is encrypted */
  ST_PLAIN,  /* optional mode, the client spoke plaintext: frames for life */
};

#define HELLO_MAX 2048u                    /* a ClientHello with a 8192-bit RSA secret fits */
#define KEYS_MAX_FRAMES ((1ull << 24) - 1) /* then the key update is the 2^24th record */
#define MSG_CLIENT_HELLO 0x01u
#define MSG_SERVER_HELLO 0x02u
#define MSG_KEY_UPDATE 0x03u
#define VERSION 0x01u

typedef struct crypt_s {
  ew__frames_state_t fr;
  const ew__crypt_cfg_t *cfg;
  int state;
  bool keys;              /* tx and rx are set up */
  struct evbuffer *plain; /* opened frames on their way to the ring */
  struct evbuffer *hold;  /* outbound plaintext: before the keys, or a frame not yet whole */
  ew__dir_t tx, rx;
  /* A client's handshake, until the ServerHello. */
  EVP_PKEY *eph;
  uint8_t secret[32];
  uint8_t *ch;
  uint32_t ch_len;
} crypt_t;

static inline crypt_t *cs(const ew__conn_t *c) {
  return c->cs.p;
}

static uint32_t rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* A header's fields as they are: ew_frame_decode() validates for the frames codec, and would
 * refuse type 0 and the encrypted flag, which are this codec's. */
static ew_frame_header_t fields(const uint8_t *p) {
  ew_frame_header_t h = {.length = rd32(p),
                         .type = (uint16_t)((p[4] << 8) | p[5]),
                         .flags = (uint16_t)((p[6] << 8) | p[7]),
                         .seq = rd32(p + 8)};
  return h;
}

static void hdr(uint8_t *p, uint32_t len, uint16_t type, uint16_t flags, uint32_t seq) {
  ew_frame_header_t h = {.length = len, .type = type, .flags = flags, .seq = seq};
  ew_frame_encode(p, &h);
}

/* The connection failed: `reason`, counted; the port hears FAULT as for any protocol error. */
static int fail(ew__conn_t *c, int reason) {
  ew__conn_handshake_done(c);
  EW__STAT(c->io, crypto_failures)++;
  EW_LOG_DEBUG(c->io->rt, "connection %llu: message encryption: %s", (unsigned long long)c->id,
               ew_strerror(reason));
  ew__conn_fault(c, reason);
  return -1;
}

/* Writes a handshake frame as it is (the output buffer holds nothing sealed yet). Returns 0,
 * or -1 if the connection closed. */
static int write_frame(ew__conn_t *c, const uint8_t *body, uint32_t len) {
  uint8_t f[12 + HELLO_MAX];
  hdr(f, len, 0, 0, 0);
  memcpy(f + 12, body, len);
  return ew__conn_write(c, f, 12 + len);
}

/* Seals one whole frame (header and body at `f`) into the output buffer. */
static int seal_frame(ew__conn_t *c, const uint8_t *f) {
  crypt_t *s = cs(c);
  ew_frame_header_t h = fields(f);
  if (s->tx.bytes >= s->cfg->rekey_after_bytes || s->tx.n >= KEYS_MAX_FRAMES) {
    /* The key update, sealed under the old key; the new one seals what follows. */
    static const uint8_t ku = MSG_KEY_UPDATE;
    uint8_t out[12 + EW__SEAL_MAX_OVERHEAD + 1];
    if (ew__seal(&s->tx, 0, 0, 0, &ku, 1, out) != 0 ||
        evbuffer_add(c->out, out, 12 + ew__sealed_len(s->tx.cipher, 1)) != 0 ||
        ew__dir_update(&s->tx, 1) != 0)
      return EW_ENOMEM;
  }
  uint32_t total = 12 + ew__sealed_len(s->tx.cipher, h.length);
  struct evbuffer_iovec v;
  /* One vector: libevent hands out contiguous space of the size asked. */
  if (evbuffer_reserve_space(c->out, total, &v, 1) != 1) return EW_ENOMEM;
  if (ew__seal(&s->tx, h.type, h.flags, h.seq, f + 12, h.length, v.iov_base) != 0) {
    evbuffer_commit_space(c->out, &v, 0);
    return EW_ENOMEM;
  }
  v.iov_len = total;
  return evbuffer_commit_space(c->out, &v, 1) == 0 ? 0 : EW_ENOMEM;
}

/* Seals every whole frame waiting in hold. */
static int seal_held(ew__conn_t *c) {
  crypt_t *s = cs(c);
  for (;;) {
    size_t have = evbuffer_get_length(s->hold);
    if (have < 12) return 0;
    uint8_t h[12];
    evbuffer_copyout(s->hold, h, 12);
    size_t need = 12 + (size_t)rd32(h);
    if (have < need) return 0;
    const uint8_t *f = evbuffer_pullup(s->hold, (ev_ssize_t)need);
    if (f == NULL) return EW_ENOMEM;
    int err = seal_frame(c, f);
    if (err != 0) return err;
    evbuffer_drain(s->hold, need);
  }
}

/* The keys exist: what waited goes out sealed. Returns 0 or -1 (closed). */
static int keys_ready(ew__conn_t *c) {
  crypt_t *s = cs(c);
  s->state = ST_OPEN;
  s->keys = true;
  ew__conn_handshake_done(c);
  EW__STAT(c->io, handshakes)++;
  ew__slot_store(c->io, c->slot, EW_SHM_SLOT_STATE, EW_SLOT_STATE_ENCRYPTED);
  /* SECURE, as TLS sends it: protocol, cipher, no ALPN, no server name. */
  static const char *const names[] = {"", "aes-256-gcm", "chacha20-poly1305",
                                      "aes-256-cbc-hmac-sha256"};
  char body[64];
  int n = snprintf(body, sizeof body, "evwire-v1%c%s%c%c", 0, names[s->tx.cipher], 0, 0);
  ew__io_push_ctrl(c->io, c->port, EW_REC_SECURE, c->id, 0, 0, body, (uint32_t)n + 1);
  if (seal_held(c) != 0) {
    ew__conn_close(c, EW_ENOMEM, 0);
    return -1;
  }
  return ew__conn_flush(c);
}

/* Both directions from the transcript hash and the shared secret (docs/encryption.md, "Key
 * schedule"). */
static int derive(crypt_t *s, int cipher, const uint8_t th[32], const uint8_t shared[32],
                  uint8_t prk[32]) {
  uint8_t c2s[32], s2c[32];
  int err = ew__schedule(th, shared, prk, c2s, s2c);
  if (err == 0) err = ew__dir_init(&s->tx, cipher, s->cfg->client ? c2s : s2c, 1);
  if (err == 0) err = ew__dir_init(&s->rx, cipher, s->cfg->client ? s2c : c2s, 0);
  ew__wipe(c2s, sizeof c2s);
  ew__wipe(s2c, sizeof s2c);
  return err;
}

/* The server's side: answers a ClientHello (body `ch`). Returns 0 or an EW_* reason. */
static int on_client_hello(ew__conn_t *c, const uint8_t *ch, uint32_t len, uint8_t *sh,
                           uint32_t *sh_len) {
  crypt_t *s = cs(c);
  const ew__crypt_cfg_t *g = s->cfg;
  if (len < 4 || ch[0] != MSG_CLIENT_HELLO || ch[1] != VERSION) return EW_EPROTO_HANDSHAKE;
  uint32_t kex = ch[2], n = ch[3];
  if (n == 0 || n > EW__CIPHER_MAX_LIST || len < 36 + n) return EW_EPROTO_HANDSHAKE;
  /* The first of the server's ciphers that the client offered; ids it does not know are
   * skipped, so that a newer client can offer more. */
  int cipher = 0;
  for (uint32_t i = 0; i < g->nciphers && cipher == 0; i++)
    if (memchr(ch + 4, g->ciphers[i], n) != NULL) cipher = g->ciphers[i];
  if (cipher == 0) return EW_EPROTO_HANDSHAKE;
  const uint8_t *kx = ch + 36 + n;
  sh[0] = MSG_SERVER_HELLO;
  sh[1] = VERSION;
  sh[2] = (uint8_t)kex;
  sh[3] = (uint8_t)cipher;
  if (ew__random(sh + 4, 32) != 0) return EW_ENOMEM;
  uint8_t shared[32], th[32], prk[32];
  int err;
  if (kex == EW__KEX_X25519) {
    if (g->ed25519 == NULL || len != 36 + n + 32) return EW_EPROTO_HANDSHAKE;
    EVP_PKEY *eph = NULL;
    err = ew__x25519_keypair(&eph, sh + 36);
    if (err == 0) err = ew__x25519_derive(eph, kx, shared);
    ew__pkey_free(eph);
    if (err == 0) err = ew__transcript(ch, len, sh, 68, th);
    uint8_t msg[EW__SIG_INPUT];
    if (err == 0) ew__sig_input(th, msg);
    if (err == 0) err = ew__ed25519_sign(g->ed25519, msg, sizeof msg, sh + 68);
    *sh_len = 36 + 32 + 64;
  } else if (kex == EW__KEX_RSA) {
    if (g->rsa == NULL || len < 38 + n) return EW_EPROTO_HANDSHAKE;
    uint32_t clen = ((uint32_t)kx[0] << 8) | kx[1];
    if (len != 38 + n + clen || clen != ew__rsa_size(g->rsa)) return EW_EPROTO_HANDSHAKE;
    uint8_t out[1024];
    size_t olen = 0;
    err = ew__rsa_decrypt(g->rsa, kx + 2, clen, out, sizeof out, &olen);
    if (err == 0 && olen != 32) err = EW_EPROTO_HANDSHAKE;
    if (err == 0) memcpy(shared, out, 32);
    ew__wipe(out, sizeof out);
    if (err == 0) err = ew__transcript(ch, len, sh, 36, th);
    *sh_len = 36 + 32;
  } else {
    return EW_EPROTO_HANDSHAKE;
  }
  if (err == 0) err = derive(s, cipher, th, shared, prk);
  if (err == 0 && kex == EW__KEX_RSA) err = ew__confirm(prk, th, sh + 36);
  ew__wipe(shared, sizeof shared);
  ew__wipe(prk, sizeof prk);
  return err;
}

/* The client's side: checks the ServerHello (body `sh`) against what it sent and pinned. */
static int on_server_hello(ew__conn_t *c, const uint8_t *sh, uint32_t len) {
  crypt_t *s = cs(c);
  const ew__crypt_cfg_t *g = s->cfg;
  const uint8_t *ch = s->ch;
  uint32_t kex = ch[2], n = ch[3];
  if (len < 36 || sh[0] != MSG_SERVER_HELLO || sh[1] != VERSION || sh[2] != kex ||
      memchr(ch + 4, sh[3], n) == NULL)
    return EW_EPROTO_HANDSHAKE;
  uint8_t shared[32], th[32], prk[32];
  int err;
  if (kex == EW__KEX_X25519) {
    if (len != 36 + 32 + 64) return EW_EPROTO_HANDSHAKE;
    err = ew__transcript(ch, s->ch_len, sh, 68, th);
    uint8_t msg[EW__SIG_INPUT];
    if (err == 0) ew__sig_input(th, msg);
    if (err == 0) err = ew__ed25519_verify(g->ed_pub, msg, sizeof msg, sh + 68);
    if (err == 0) err = ew__x25519_derive(s->eph, sh + 36, shared);
  } else {
    if (len != 36 + 32) return EW_EPROTO_HANDSHAKE;
    memcpy(shared, s->secret, 32);
    err = ew__transcript(ch, s->ch_len, sh, 36, th);
  }
  if (err == 0) err = derive(s, sh[3], th, shared, prk);
  if (err == 0 && kex == EW__KEX_RSA) {
    uint8_t want[32];
    err = ew__confirm(prk, th, want);
    if (err == 0 && !ew__equal_ct(want, sh + 36, 32)) err = EW_EPROTO_HANDSHAKE;
  }
  ew__wipe(shared, sizeof shared);
  ew__wipe(prk, sizeof prk);
  return err;
}

static int client_hello(ew__conn_t *c) {
  crypt_t *s = cs(c);
  const ew__crypt_cfg_t *g = s->cfg;
  uint8_t ch[36 + EW__CIPHER_MAX_LIST + 2 + 1024];
  uint32_t n = g->nciphers;
  ch[0] = MSG_CLIENT_HELLO;
  ch[1] = VERSION;
  ch[2] = g->has_ed25519 ? EW__KEX_X25519 : EW__KEX_RSA;
  ch[3] = (uint8_t)n;
  memcpy(ch + 4, g->ciphers, n);
  if (ew__random(ch + 4 + n, 32) != 0) return EW_ENOMEM;
  uint8_t *kx = ch + 36 + n;
  uint32_t len;
  if (g->has_ed25519) {
    if (ew__x25519_keypair(&s->eph, kx) != 0) return EW_ENOMEM;
    len = 36 + n + 32;
  } else {
    size_t clen = 0;
    if (ew__rsa_size(g->rsa) > 1024 || ew__random(s->secret, 32) != 0 ||
        ew__rsa_encrypt(g->rsa, s->secret, 32, kx + 2, &clen) != 0)
      return EW_ENOMEM;
    kx[0] = (uint8_t)(clen >> 8);
    kx[1] = (uint8_t)clen;
    len = 38 + n + (uint32_t)clen;
  }
  s->ch = malloc(len);
  if (s->ch == NULL) return EW_ENOMEM;
  memcpy(s->ch, ch, len);
  s->ch_len = len;
  s->state = ST_SHELLO;
  /* Queued, not written: init must not close the connection; it leaves once it is watched. */
  uint8_t h[12];
  hdr(h, len, 0, 0, 0);
  if (evbuffer_add(c->out, h, 12) != 0 || evbuffer_add(c->out, ch, len) != 0) return EW_ENOMEM;
  return 0;
}

static void forget_hello(crypt_t *s) {
  ew__pkey_free(s->eph);
  s->eph = NULL;
  free(s->ch);
  s->ch = NULL;
  memset(s->secret, 0, sizeof s->secret);
}

static int crypt_init(ew__conn_t *c) {
  crypt_t *s = calloc(1, sizeof *s);
  if (s == NULL) return EW_ENOMEM;
  c->cs.p = s;
  s->cfg = c->prof->crypt;
  s->plain = evbuffer_new();
  s->hold = evbuffer_new();
  if (s->plain == NULL || s->hold == NULL) return EW_ENOMEM;
  ew__conn_handshake_arm(c, s->cfg->handshake_timeout_ms);
  s->state = ST_HELLO;
  return s->cfg->client ? client_hello(c) : 0;
}

static void crypt_free(ew__conn_t *c) {
  crypt_t *s = cs(c);
  if (s == NULL) return;
  if (s->plain != NULL) evbuffer_free(s->plain);
  if (s->hold != NULL) evbuffer_free(s->hold);
  if (s->keys) {
    ew__dir_free(&s->tx);
    ew__dir_free(&s->rx);
  }
  forget_hello(s);
  free(s);
  c->cs.p = NULL;
}

/* Takes the next frame off the input: a handshake message, or an encrypted frame opened into
 * `plain`. Returns 1 when it took one, 0 when the frame is not all there, -1 when the
 * connection failed. */
static int take_frame(ew__conn_t *c) {
  crypt_t *s = cs(c);
  size_t avail = evbuffer_get_length(c->in);
  if (avail < 12) return 0;
  uint8_t h[12];
  evbuffer_copyout(c->in, h, 12);
  const ew_frame_header_t fh = fields(h);
  uint32_t len = fh.length;
  uint16_t type = fh.type;
  uint16_t flags = fh.flags;
  bool enc = (flags & EW_FRAME_FLAG_ENCRYPTED) != 0;
  uint32_t max = c->prof->max_frame_bytes;
  uint64_t cap = type == 0 && !enc ? HELLO_MAX : (uint64_t)max + EW__SEAL_MAX_OVERHEAD;
  if (len > cap) return fail(c, EW_EPROTO_LENGTH);
  if (flags & ~EW_FRAME_FLAGS_KNOWN) return fail(c, EW_EPROTO_FLAGS);
  bool hello = type == 0 && !enc;
  uint32_t seq = fh.seq;
  switch (s->state) {
  case ST_HELLO:
  case ST_SHELLO:
    if (!hello) {
      if (s->state == ST_HELLO && s->cfg->mode == EW_CRYPT_OPTIONAL && type != 0 && !enc) {
        /* Optional, and the client speaks plaintext: frames for life, and what JavaScript
         * sent meanwhile goes out as it is. */
        s->state = ST_PLAIN;
        ew__conn_handshake_done(c);
        if (evbuffer_add_buffer(c->out, s->hold) != 0) {
          ew__conn_close(c, EW_ENOMEM, 0);
          return -1;
        }
        return ew__conn_flush(c) == 0 ? 1 : -1;
      }
      return fail(c, type != 0 && !enc ? EW_EPROTO_PLAINTEXT : EW_EPROTO_HANDSHAKE);
    }
    if (flags != 0 || seq != 0) return fail(c, EW_EPROTO_HANDSHAKE);
    break;
  case ST_OPEN:
    /* Every frame is encrypted from now on, handshake messages included. */
    if (!enc) return fail(c, EW_EPROTO_PLAINTEXT);
    break;
  default:
    return 0;
  }
  if (avail - 12 < len) return 0;
  uint8_t *f = evbuffer_pullup(c->in, 12 + (ev_ssize_t)len);
  if (f == NULL) {
    ew__conn_close(c, EW_ENOMEM, 0);
    return -1;
  }
  int err;
  if (s->state == ST_HELLO) {
    uint8_t sh[36 + 32 + 64];
    uint32_t sh_len = 0;
    err = on_client_hello(c, f + 12, len, sh, &sh_len);
    if (err != 0) return fail(c, err);
    evbuffer_drain(c->in, 12 + (size_t)len);
    /* The ServerHello leaves before anything sealed: the output holds nothing yet. */
    if (write_frame(c, sh, sh_len) != 0) return -1;
    return keys_ready(c) == 0 ? 1 : -1;
  }
  if (s->state == ST_SHELLO) {
    err = on_server_hello(c, f + 12, len);
    forget_hello(s);
    if (err != 0) return fail(c, err);
    evbuffer_drain(c->in, 12 + (size_t)len);
    return keys_ready(c) == 0 ? 1 : -1;
  }
  uint32_t plen = 0;
  err = ew__open(&s->rx, f, len, &plen);
  if (err != 0) return fail(c, err == EW_ENOMEM ? EW_EPROTO_CRYPTO : err);
  if (type == 0) {
    if (plen != 1 || f[12] != MSG_KEY_UPDATE || flags != EW_FRAME_FLAG_ENCRYPTED || seq != 0)
      return fail(c, EW_EPROTO_HANDSHAKE);
    if (ew__dir_update(&s->rx, 0) != 0) {
      ew__conn_close(c, EW_ENOMEM, 0);
      return -1;
    }
  } else {
    if (plen > max) return fail(c, EW_EPROTO_LENGTH);
    hdr(f, plen, type, flags & ~EW_FRAME_FLAG_ENCRYPTED, seq);
    if (evbuffer_add(s->plain, f, 12 + (size_t)plen) != 0) {
      ew__conn_close(c, EW_ENOMEM, 0);
      return -1;
    }
  }
  evbuffer_drain(c->in, 12 + (size_t)len);
  return 1;
}

static int crypt_deliver(ew__conn_t *c) {
  crypt_t *s = cs(c);
  for (;;) {
    if (s->state == ST_PLAIN) return ew__frames_deliver(c, c->in, &s->fr);
    /* What was opened goes to the ring first: `plain` never holds more than one frame. */
    int d = ew__frames_deliver(c, s->plain, &s->fr);
    if (d != 0) return d;
    int t = take_frame(c);
    if (t <= 0) return t;
  }
}

static bool crypt_partial(const ew__conn_t *c) {
  const crypt_t *s = cs(c);
  return s->fr.have_hdr || evbuffer_get_length(c->in) > 0 || evbuffer_get_length(s->plain) > 0;
}

static bool crypt_eof(ew__conn_t *c) {
  if (!crypt_partial(c)) return false;
  ew__conn_fault(c, EW_EPROTO_TRUNCATED);
  return true;
}

/* Outbound: frames of the SEND records are sealed one by one as soon as each is whole. */
static int crypt_seal(ew__conn_t *c, const struct iovec *iov, int n) {
  crypt_t *s = cs(c);
  int err = 0;
  for (int i = 0; i < n && err == 0; i++) {
    const uint8_t *p = iov[i].iov_base;
    size_t len = iov[i].iov_len;
    if (s->state == ST_PLAIN) {
      err = evbuffer_add(c->out, p, len) == 0 ? 0 : EW_ENOMEM;
      continue;
    }
    /* Whole frames straight from ring memory into the output, while nothing waits before
     * them. */
    while (s->state == ST_OPEN && evbuffer_get_length(s->hold) == 0 && len >= 12 &&
           len - 12 >= rd32(p) && err == 0) {
      size_t f = 12 + (size_t)rd32(p);
      err = seal_frame(c, p);
      p += f;
      len -= f;
    }
    if (len != 0 && err == 0 && evbuffer_add(s->hold, p, len) != 0) err = EW_ENOMEM;
  }
  if (err == 0 && s->state == ST_OPEN) err = seal_held(c);
  if (err != 0) {
    ew__conn_close(c, EW_ENOMEM, 0);
    return -1;
  }
  return 0;
}

static size_t crypt_held(const ew__conn_t *c) {
  const crypt_t *s = cs(c);
  return s != NULL ? evbuffer_get_length(s->hold) : 0;
}

const ew__codec_t ew__codec_frames_crypt = {
    .name = "frames+encryption",
    .flags = 0,
    .init = crypt_init,
    .free = crypt_free,
    .deliver = crypt_deliver,
    .eof = crypt_eof,
    .partial = crypt_partial,
    .timeout = NULL, /* the guard's, as for frames; the handshake's deadline is thand */
    .sent = NULL,
    .kick = ew__codec_kick_fault,
    .drain = ew__codec_drain_idle,
    .seal = crypt_seal,
    .held = crypt_held,
};
