// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "internal.h"

#include <errno.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* TLS as a transport (docs/tls.md): the connection and its codec see plaintext through the
 * transport table, whatever the protocol (frames, raw, HTTP: HTTPS). OpenSSL runs over a BIO
 * pair, so the socket calls stay ours (recv straight into the pair's buffer, send with
 * MSG_NOSIGNAL from it, no SIGPIPE and no copy) and the output OpenSSL makes is bounded by the
 * pair's buffer: what does not fit waits in the connection's output buffer, under its
 * watermarks, as for a plain socket. OpenSSL is node's own (native/openssl.js).
 *
 * OpenSSL's error queue is per thread and, inline, the JavaScript thread's: every path that
 * may leave an error on it clears it (as crypt.c does). */

/* Empties OpenSSL's error queue of this thread. Peeking first: clearing walks the whole queue
 * even when it is empty, which showed in the HTTPS profile. */
#define CLEAR_ERRORS()                                                                             \
  do {                                                                                             \
    if (ERR_peek_error() != 0) ERR_clear_error();                                                  \
  } while (0)

/* Buffers of the BIO pair: what OpenSSL writes for the socket (records, up to two full
 * ones), and what we read from the socket for OpenSSL (one full record and its header). */
#define OUT_BUF (32u << 10)
#define IN_BUF (16u << 10) + 2048u + 5u

/* ---- contexts --------------------------------------------------------------------------------
 * A generation: the contexts made from one set of options (the default one and one per SNI
 * name). A server's options can be replaced (ew_server_set_tls): connections keep the
 * generation they started with, by reference, while new ones take the current. */

typedef struct sni_s {
  char *name;
  SSL_CTX *ctx;
} sni_t;

typedef struct gen_s {
  _Atomic uint32_t refs;
  SSL_CTX *ctx;
  sni_t *sni;
  uint32_t nsni;
  uint32_t timeout_ms;
} gen_t;

struct ew__tls_cfg_s {
  pthread_mutex_t lock; /* gen and session; taken once per connection, at open */
  gen_t *gen;
  bool client;
  char *servername;     /* client: SNI and the name verified */
  SSL_SESSION *session; /* client: the last session, for resumption */
};

static int cfg_index = -1; /* SSL_CTX ex_data: the client's cfg (new-session callback) */
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void make_index(void) {
  cfg_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void gen_unref(gen_t *g) {
  if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1) return;
  SSL_CTX_free(g->ctx);
  for (uint32_t i = 0; i < g->nsni; i++) {
    free(g->sni[i].name);
    SSL_CTX_free(g->sni[i].ctx);
  }
  free(g->sni);
  free(g);
}

/* The server's certificate and key from PEM text: the chain's first certificate is the leaf. */
static bool load_cert_key(SSL_CTX *ctx, const char *cert, const char *key) {
  BIO *b = BIO_new_mem_buf(cert, -1);
  X509 *x = b != NULL ? PEM_read_bio_X509_AUX(b, NULL, NULL, NULL) : NULL;
  bool ok = x != NULL && SSL_CTX_use_certificate(ctx, x) == 1;
  X509_free(x);
  while (ok && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
      X509_free(x);
      ok = false;
    }
  }
  BIO_free(b);
  ERR_clear_error(); /* the end of the chain reads as an error */
  if (!ok) return false;
  b = BIO_new_mem_buf(key, -1);
  EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
  ok = k != NULL && SSL_CTX_use_PrivateKey(ctx, k) == 1 && SSL_CTX_check_private_key(ctx) == 1;
  EVP_PKEY_free(k);
  BIO_free(b);
  return ok;
}

/* Trusted certificates from PEM text, for verifying the peer (and, on a server that asks for
 * client certificates, the names it tells the client). */
static bool load_ca(SSL_CTX *ctx, const char *ca, bool server) {
  BIO *b = BIO_new_mem_buf(ca, -1);
  if (b == NULL) return false;
  X509_STORE *st = SSL_CTX_get_cert_store(ctx);
  X509 *x;
  int n = 0;
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
    X509_STORE_add_cert(st, x);
    if (server) SSL_CTX_add_client_CA(ctx, x);
    X509_free(x);
    n++;
  }
  BIO_free(b);
  ERR_clear_error();
  return n > 0;
}

static int accept_any(int ok, X509_STORE_CTX *x) {
  (void)ok;
  (void)x;
  return 1; /* reject_unauthorized off: the result is still recorded (SSL_get_verify_result) */
}

/* ALPN on a server: the first of its protocols that the client offers; none in common is a
 * fatal no_application_protocol alert, as in Node. */
static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
  (void)ssl;
  const uint8_t *list = arg;
  unsigned char *sel = NULL;
  if (SSL_select_next_proto(&sel, outlen, list + 1, list[0], in, inlen) != OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

static void free_alpn(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
  (void)parent;
  (void)ad;
  (void)idx;
  (void)argl;
  (void)argp;
  free(ptr);
}

static int alpn_index = -1;
static pthread_once_t alpn_once = PTHREAD_ONCE_INIT;

static void make_alpn_index(void) {
  alpn_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_alpn);
}

/* SNI on a server: a name of the generation switches the connection to its context. */
static int sni_select(SSL *ssl, int *alert, void *arg) {
  (void)alert;
  const gen_t *g = arg;
  const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == NULL) return SSL_TLSEXT_ERR_OK;
  for (uint32_t i = 0; i < g->nsni; i++) {
    if (strcasecmp(name, g->sni[i].name) == 0) {
      SSL_set_SSL_CTX(ssl, g->sni[i].ctx);
      break;
    }
  }
  return SSL_TLSEXT_ERR_OK;
}

/* A client keeps its latest session for the next connection (resumption). */
static int new_session(SSL *ssl, SSL_SESSION *sess) {
  ew__tls_cfg_t *g = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), cfg_index);
  if (g == NULL) return 0;
  pthread_mutex_lock(&g->lock);
  SSL_SESSION *old = g->session;
  g->session = sess;
  pthread_mutex_unlock(&g->lock);
  SSL_SESSION_free(old);
  return 1; /* we hold the reference */
}

static SSL_CTX *make_ctx(const ew_tls_opts_t *o, bool client, const char *cert, const char *key,
                         ew__tls_cfg_t *g) {
  SSL_CTX *ctx = SSL_CTX_new(client ? TLS_client_method() : TLS_server_method());
  if (ctx == NULL) {
    ERR_clear_error();
    return NULL;
  }
  bool ok = SSL_CTX_set_min_proto_version(ctx, o->min_version == EW_TLS_V1_3 ? TLS1_3_VERSION
                                                                             : TLS1_2_VERSION) == 1;
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                            SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (ok && cert != NULL) ok = load_cert_key(ctx, cert, key);
  if (ok && o->ca != NULL) ok = load_ca(ctx, o->ca, !client);
  if (ok && client && o->ca == NULL) ok = SSL_CTX_set_default_verify_paths(ctx) == 1;
  if (client) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, o->reject_unauthorized ? NULL : accept_any);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, new_session);
    pthread_once(&index_once, make_index);
    SSL_CTX_set_ex_data(ctx, cfg_index, g);
    if (ok && o->alpn_len > 0) ok = SSL_CTX_set_alpn_protos(ctx, o->alpn, o->alpn_len) == 0;
  } else {
    if (o->request_cert)
      SSL_CTX_set_verify(
          ctx, SSL_VERIFY_PEER | (o->reject_unauthorized ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
          o->reject_unauthorized ? NULL : accept_any);
    static const unsigned char sid[] = "evwire";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (ok && o->alpn_len > 0) {
      /* The select callback wants the list with its length in front, kept with the context. */
      uint8_t *list = malloc(o->alpn_len + 1);
      pthread_once(&alpn_once, make_alpn_index);
      ok = list != NULL && o->alpn_len <= 255;
      if (ok) {
        list[0] = (uint8_t)o->alpn_len;
        memcpy(list + 1, o->alpn, o->alpn_len);
        SSL_CTX_set_ex_data(ctx, alpn_index, list);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, list);
      } else {
        free(list);
      }
    }
  }
  ERR_clear_error(); /* key loads may leave entries even when they succeed */
  if (!ok) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static gen_t *make_gen(const ew_tls_opts_t *o, bool client, ew__tls_cfg_t *g) {
  if (!client && (o->cert == NULL || o->key == NULL)) return NULL;
  if ((o->cert == NULL) != (o->key == NULL)) return NULL;
  gen_t *n = calloc(1, sizeof *n);
  if (n == NULL) return NULL;
  atomic_store(&n->refs, 1);
  n->timeout_ms = o->handshake_timeout_ms;
  n->ctx = make_ctx(o, client, o->cert, o->key, g);
  bool ok = n->ctx != NULL;
  if (ok && !client && o->nsni > 0) {
    n->sni = calloc(o->nsni, sizeof *n->sni);
    ok = n->sni != NULL;
    for (uint32_t i = 0; ok && i < o->nsni; i++) {
      const ew_tls_sni_t *e = &o->sni[i];
      ok = e->name != NULL && e->cert != NULL && e->key != NULL;
      if (ok) {
        n->sni[i].name = strdup(e->name);
        n->sni[i].ctx = make_ctx(o, false, e->cert, e->key, g);
        n->nsni = i + 1;
        ok = n->sni[i].name != NULL && n->sni[i].ctx != NULL;
      }
    }
    if (ok) {
      SSL_CTX_set_tlsext_servername_callback(n->ctx, sni_select);
      SSL_CTX_set_tlsext_servername_arg(n->ctx, n);
    }
  }
  if (!ok) {
    gen_unref(n);
    return NULL;
  }
  return n;
}

int ew__tls_cfg_new(const ew_tls_opts_t *o, bool client, ew__tls_cfg_t **out) {
  *out = NULL;
  ew__tls_cfg_t *g = calloc(1, sizeof *g);
  if (g == NULL) return EW_ENOMEM;
  pthread_mutex_init(&g->lock, NULL);
  g->client = client;
  if (client && o->servername != NULL && (g->servername = strdup(o->servername)) == NULL) {
    ew__tls_cfg_free(g);
    return EW_ENOMEM;
  }
  g->gen = make_gen(o, client, g);
  if (g->gen == NULL) {
    ew__tls_cfg_free(g);
    return EW_EINVAL;
  }
  *out = g;
  return 0;
}

int ew__tls_cfg_set(ew__tls_cfg_t *g, const ew_tls_opts_t *o) {
  gen_t *n = make_gen(o, g->client, g);
  if (n == NULL) return EW_EINVAL;
  pthread_mutex_lock(&g->lock);
  gen_t *old = g->gen;
  g->gen = n;
  pthread_mutex_unlock(&g->lock);
  gen_unref(old);
  return 0;
}

void ew__tls_cfg_free(ew__tls_cfg_t *g) {
  if (g == NULL) return;
  gen_unref(g->gen);
  SSL_SESSION_free(g->session);
  free(g->servername);
  pthread_mutex_destroy(&g->lock);
  free(g);
}

/* ---- the transport ----------------------------------------------------------------------------
 */

typedef struct tls_s {
  SSL *ssl;
  BIO *net; /* our end of the pair; OpenSSL's end belongs to ssl */
  gen_t *gen;
  int reason;          /* the EW_* reason of a failure reported as EPROTO */
  bool done;           /* the handshake finished */
  bool fed;            /* a byte came from the socket */
  bool plaintext;      /* a server's first byte was not a TLS handshake record */
  bool drained;        /* the last read saw the socket's EAGAIN after data ... */
  uint64_t drained_at; /* ... in this loop round: the next read of the same round (the
                          connection reads on to EAGAIN) needs no syscall to know */
} tls_t;

static inline tls_t *ts(const ew__conn_t *c) {
  return c->ts;
}

static int tls_open(ew__conn_t *c) {
  ew__tls_cfg_t *g = c->prof->tls;
  tls_t *s = calloc(1, sizeof *s);
  if (s == NULL) return EW_ENOMEM;
  c->ts = s;
  pthread_mutex_lock(&g->lock);
  s->gen = g->gen;
  atomic_fetch_add(&s->gen->refs, 1);
  SSL_SESSION *sess = g->session;
  if (sess != NULL) SSL_SESSION_up_ref(sess);
  pthread_mutex_unlock(&g->lock);
  BIO *inner = NULL;
  s->ssl = SSL_new(s->gen->ctx);
  bool ok = s->ssl != NULL && BIO_new_bio_pair(&inner, OUT_BUF, &s->net, IN_BUF) == 1;
  if (ok) SSL_set_bio(s->ssl, inner, inner);
  if (ok && g->client) {
    SSL_set_connect_state(s->ssl);
    if (g->servername != NULL) {
      ok = SSL_set_tlsext_host_name(s->ssl, g->servername) == 1 &&
           SSL_set1_host(s->ssl, g->servername) == 1;
    } else {
      /* No name: the address connected to is what the certificate must name. */
      struct sockaddr_storage ss;
      socklen_t len = sizeof ss;
      char ip[64];
      ok = getpeername(c->fd, (struct sockaddr *)&ss, &len) == 0 &&
           getnameinfo((struct sockaddr *)&ss, len, ip, sizeof ip, NULL, 0, NI_NUMERICHOST) == 0 &&
           X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), ip) == 1;
    }
    if (ok && sess != NULL) SSL_set_session(s->ssl, sess);
    /* The ClientHello, into the pair: it leaves once the socket is watched. */
    if (ok) SSL_do_handshake(s->ssl);
  } else if (ok) {
    SSL_set_accept_state(s->ssl);
  }
  SSL_SESSION_free(sess);
  ERR_clear_error();
  if (!ok) return EW_ENOMEM;
  /* On the thread's timeout lists, as every connection timeout: a sweep, no libevent timer. */
  ew__conn_handshake_arm(c, s->gen->timeout_ms);
  return 0;
}

static size_t tls_pending(const ew__conn_t *c) {
  const tls_t *s = ts(c);
  return s != NULL && s->net != NULL ? BIO_ctrl_pending(s->net) : 0;
}

static int tls_flush(ew__conn_t *c) {
  tls_t *s = ts(c);
  for (;;) {
    char *p;
    int n = BIO_nread0(s->net, &p);
    if (n <= 0) return 0;
    ssize_t w;
    do
      w = send(c->fd, p, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (w < 0 && errno == EINTR);
    if (w < 0) return -1;
    BIO_nread(s->net, &p, (int)w);
    if (w < n) {
      errno = EAGAIN;
      return -1;
    }
  }
}

/* Reads from the socket into the pair. Returns the bytes read, 0 at EOF, -1 with errno. */
static ssize_t feed(ew__conn_t *c) {
  tls_t *s = ts(c);
  char *p;
  int room = BIO_nwrite0(s->net, &p);
  if (room <= 0) {
    errno = ENOBUFS; /* OpenSSL did not take what it asked for: cannot happen */
    return -1;
  }
  ssize_t r;
  do
    r = recv(c->fd, p, (size_t)room, MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  if (r > 0) {
    if (!s->fed && !ts(c)->done && !c->prof->tls->client && (unsigned char)p[0] != 0x16)
      s->plaintext = true; /* not a handshake record: HTTP, or any plaintext */
    s->fed = true;
    BIO_nwrite(s->net, &p, (int)r);
  }
  return r;
}

/* Why the session failed, as a close reason. */
static int classify(ew__conn_t *c) {
  tls_t *s = ts(c);
  unsigned long e = ERR_peek_last_error();
  int r = ERR_GET_REASON(e);
  int why;
  if (s->plaintext) {
    why = EW_ETLS_PLAINTEXT;
  } else if (r == SSL_R_UNSUPPORTED_PROTOCOL || r == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION ||
             r == SSL_R_NO_PROTOCOLS_AVAILABLE || r == SSL_R_VERSION_TOO_LOW) {
    why = EW_ETLS_VERSION;
  } else if (SSL_get_verify_result(s->ssl) != X509_V_OK || r == SSL_R_CERTIFICATE_VERIFY_FAILED ||
             r == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE ||
             r == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE || r == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
             r == SSL_R_TLSV1_ALERT_UNKNOWN_CA || r == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
             r == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN) {
    why = EW_ETLS_CERT;
  } else {
    why = s->done ? EW_ETLS : EW_ETLS_HANDSHAKE;
  }
  char text[160];
  ERR_error_string_n(e, text, sizeof text);
  EW_LOG_DEBUG(c->io->rt, "connection %llu: TLS: %s (%s)", (unsigned long long)c->id,
               ew_err_name(why), text);
  ERR_clear_error();
  return why;
}

/* The handshake finished: the port hears SECURE with what was agreed. */
static void finished(ew__conn_t *c) {
  tls_t *s = ts(c);
  s->done = true;
  ew__conn_handshake_done(c);
  EW__STAT(c->io, tls_handshakes)++;
  uint32_t flags = EW_SECURE_TLS;
  if (SSL_session_reused(s->ssl)) flags |= EW_SECURE_REUSED;
  X509 *peer = SSL_get0_peer_certificate(s->ssl);
  if (peer != NULL && SSL_get_verify_result(s->ssl) == X509_V_OK) flags |= EW_SECURE_PEER_CERT;
  const unsigned char *alpn = NULL;
  unsigned int alen = 0;
  SSL_get0_alpn_selected(s->ssl, &alpn, &alen);
  const char *name = SSL_get_servername(s->ssl, TLSEXT_NAMETYPE_host_name);
  /* The cipher suite by its IANA name (as Node's getCipher().standardName). */
  const char *texts[] = {SSL_get_version(s->ssl),
                         SSL_CIPHER_standard_name(SSL_get_current_cipher(s->ssl))};
  char body[320]; /* texts capped at 64 + 64 + 64 + 100 bytes and their NULs */
  size_t n = 0;
  for (int i = 0; i < 2; i++) {
    size_t l = texts[i] != NULL ? strlen(texts[i]) : 0;
    if (l > 64) l = 64;
    memcpy(body + n, texts[i], l);
    n += l;
    body[n++] = 0;
  }
  if (alen > 64) alen = 64;
  memcpy(body + n, alpn, alen);
  n += alen;
  body[n++] = 0;
  size_t l = name != NULL ? strlen(name) : 0;
  if (l > 100) l = 100;
  memcpy(body + n, name, l);
  n += l;
  body[n++] = 0;
  ew__io_push_ctrl(c->io, c->port, EW_REC_SECURE, c->id, flags, 0, body, (uint32_t)n);
}

static ssize_t fail(ew__conn_t *c, size_t got) {
  tls_t *s = ts(c);
  s->reason = classify(c);
  EW__STAT(c->io, tls_failures)++;
  tls_flush(c); /* the alert, if OpenSSL made one */
  ERR_clear_error();
  if (got > 0) return (ssize_t)got; /* the failure repeats on the next read */
  errno = EPROTO;
  return -1;
}

static bool tls_buffered(const ew__conn_t *c);

static ssize_t tls_readv(ew__conn_t *c, const struct iovec *iov, int n) {
  tls_t *s = ts(c);
  CLEAR_ERRORS(); /* SSL_get_error needs an empty queue; inline it is node's thread's */
  if (s->drained) {
    /* The read before this one, in the same loop round, ended on the socket's EAGAIN: unless
     * OpenSSL still holds input, this one would only repeat it; a byte that came since is a
     * new edge, reported in a later round. */
    s->drained = false;
    if (s->drained_at == EW__STAT(c->io, loops) && !tls_buffered(c)) {
      errno = EAGAIN;
      return -1;
    }
  }
  size_t got = 0, off = 0;
  int i = 0;
  for (;;) {
    while (i < n) {
      size_t rd = 0;
      if (SSL_read_ex(s->ssl, (char *)iov[i].iov_base + off, iov[i].iov_len - off, &rd) != 1) break;
      got += rd;
      off += rd;
      if (off == iov[i].iov_len) {
        i++;
        off = 0;
      }
    }
    if (!s->done && SSL_is_init_finished(s->ssl)) finished(c);
    if (i == n) break;
    int e = SSL_get_error(s->ssl, 0);
    if (e == SSL_ERROR_WANT_READ) {
      /* What the handshake wrote goes first; a full socket leaves it pending (the
       * connection then waits for a write edge). */
      if (tls_flush(c) < 0 && errno != EAGAIN) break;
      ssize_t r = feed(c);
      if (r > 0) continue;
      if (r == 0) break; /* the peer's FIN without close_notify: EOF all the same */
      if (errno == EAGAIN && got == 0) {
        CLEAR_ERRORS();
        return -1;
      }
      if (errno == EAGAIN) {
        s->drained = true;
        s->drained_at = EW__STAT(c->io, loops);
      }
      break;
    }
    if (e == SSL_ERROR_ZERO_RETURN) break; /* close_notify: the peer's end of stream */
    if (e == SSL_ERROR_WANT_WRITE) {
      if (tls_flush(c) == 0) continue;
      if (got == 0) errno = EAGAIN;
      CLEAR_ERRORS();
      return got > 0 ? (ssize_t)got : -1;
    }
    return fail(c, got);
  }
  tls_flush(c); /* session tickets, key updates: best effort, the rest stays pending */
  CLEAR_ERRORS();
  return (ssize_t)got;
}

/* A TLS record's overhead on the wire, with a margin: header, content type and tag (TLS 1.3),
 * explicit nonce, IV, MAC and padding (TLS 1.2 suites). */
#define RECORD_OVERHEAD 256u /* TLS 1.2 CBC-SHA384 takes 85: a wide margin */
#define RECORD_MAX 16384u

/* Writes application bytes as records. Small pieces (a pipelined batch of responses, one SEND
 * record each) are gathered into one record, as a corked socket would send them, instead of a
 * record and an AEAD operation each. A record is made only when the pair has room for all of
 * it, so OpenSSL never stops half-way through one (no write retry to honour): what does not fit
 * is left to the connection's output buffer. */
static ssize_t tls_writev(ew__conn_t *c, const struct iovec *iov, int n) {
  static _Thread_local char stage[RECORD_MAX];
  tls_t *s = ts(c);
  CLEAR_ERRORS();
  if (!s->done) {
    errno = EAGAIN;
    return -1;
  }
  if (tls_flush(c) < 0) return -1;
  BIO *w = SSL_get_wbio(s->ssl);
  size_t taken = 0, off = 0;
  int i = 0;
  while (i < n) {
    size_t room = BIO_ctrl_get_write_guarantee(w);
    if (room < 1024 + RECORD_OVERHEAD) {
      if (tls_flush(c) == 0 && BIO_ctrl_get_write_guarantee(w) >= 1024 + RECORD_OVERHEAD) continue;
      break; /* the socket is full: the rest waits for a write edge */
    }
    size_t cap = room - RECORD_OVERHEAD;
    if (cap > RECORD_MAX) cap = RECORD_MAX;
    const char *p = (const char *)iov[i].iov_base + off;
    size_t len = iov[i].iov_len - off;
    if (len >= cap || i + 1 == n) {
      if (len > cap) len = cap; /* straight from ring memory */
    } else {
      len = 0;
      while (i < n && len < cap) {
        size_t k = iov[i].iov_len - off;
        if (k > cap - len) k = cap - len;
        memcpy(stage + len, (const char *)iov[i].iov_base + off, k);
        len += k;
        off += k;
        if (off == iov[i].iov_len) {
          i++;
          off = 0;
        }
      }
      p = stage;
      size_t wr = 0;
      if (SSL_write_ex(s->ssl, p, len, &wr) != 1 || wr != len) return fail(c, taken);
      taken += len;
      continue;
    }
    size_t wr = 0;
    if (SSL_write_ex(s->ssl, p, len, &wr) != 1 || wr != len) return fail(c, taken);
    taken += len;
    off += len;
    if (off == iov[i].iov_len) {
      i++;
      off = 0;
    }
  }
  tls_flush(c); /* best effort: what the socket does not take stays pending */
  CLEAR_ERRORS();
  if (taken == 0) {
    errno = EAGAIN;
    return -1;
  }
  return (ssize_t)taken;
}

static int tls_shutdown(ew__conn_t *c) {
  tls_t *s = ts(c);
  if (s->done) {
    SSL_shutdown(s->ssl); /* close_notify, into the pair */
    if (tls_flush(c) != 0) {
      /* The socket is full (the application's bytes are all out: the connection flushes
       * before it ends): the close_notify is dropped rather than sent after our FIN. */
      char *p;
      int n;
      while ((n = BIO_nread0(s->net, &p)) > 0)
        BIO_nread(s->net, &p, n);
    }
    CLEAR_ERRORS();
  }
  return shutdown(c->fd, SHUT_WR) != 0 && errno != ENOTCONN ? -1 : 0;
}

static void tls_close(ew__conn_t *c) {
  tls_t *s = ts(c);
  if (s != NULL) {
    SSL_free(s->ssl); /* and OpenSSL's end of the pair */
    BIO_free(s->net);
    gen_unref(s->gen);
    free(s);
    c->ts = NULL;
    CLEAR_ERRORS();
  }
  close(c->fd);
}

static bool tls_writable(const ew__conn_t *c) {
  return ts(c)->done;
}

static bool tls_buffered(const ew__conn_t *c) {
  const tls_t *s = ts(c);
  return SSL_has_pending(s->ssl) || BIO_ctrl_pending(SSL_get_rbio(s->ssl)) > 0;
}

static int tls_reason(const ew__conn_t *c) {
  const tls_t *s = ts(c);
  return s != NULL && s->reason != 0 ? s->reason : EW_ETLS;
}

const ew__transport_t ew__transport_tls = {
    .name = "tls",
    .readv = tls_readv,
    .writev = tls_writev,
    .shutdown = tls_shutdown,
    .close = tls_close,
    .open = tls_open,
    .pending = tls_pending,
    .flush = tls_flush,
    .writable = tls_writable,
    .buffered = tls_buffered,
    .reason = tls_reason,
};
