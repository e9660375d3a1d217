// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "crypt.h"

#include "ew/error.h"
#include "ew/runtime.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

/* The record layer of docs/encryption.md and the primitives under it. OpenSSL does the
 * cryptography; this file only arranges bytes as the page says.
 *
 * Every failure clears OpenSSL's error queue before it returns (FAIL). The queue is per thread,
 * and inline (ioThreads: 0) this code runs on the JavaScript thread, whose node:crypto would
 * otherwise find our stale error and report it for its own next call (seen: a valid PEM key
 * refused with "wrong tag" after a refused X25519 key). */
#define FAIL(code) (ERR_clear_error(), (code))

/* ---- primitives ----------------------------------------------------------------------------- */

int ew__random(void *out, size_t len) {
  return RAND_bytes(out, (int)len) == 1 ? 0 : FAIL(EW_ENOMEM);
}

void ew__wipe(void *p, size_t len) {
  OPENSSL_cleanse(p, len);
}

int ew__equal_ct(const void *a, const void *b, size_t len) {
  return CRYPTO_memcmp(a, b, len) == 0;
}

int ew__sha256(const struct iovec *parts, int n, uint8_t out[32]) {
  EVP_MD_CTX *m = EVP_MD_CTX_new();
  int ok = m != NULL && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1;
  for (int i = 0; ok && i < n; i++)
    ok = EVP_DigestUpdate(m, parts[i].iov_base, parts[i].iov_len) == 1;
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(m, out, &len) == 1 && len == 32;
  EVP_MD_CTX_free(m);
  return ok ? 0 : FAIL(EW_ENOMEM);
}

/* HMAC is fetched from the provider once per process (a fetch costs microseconds). */
static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void fetch_hmac(void) {
  hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* A new HMAC-SHA256 context keyed with `key`, or NULL. */
static EVP_MAC_CTX *hmac_keyed(const uint8_t *key, size_t keylen) {
  pthread_once(&hmac_once, fetch_hmac);
  EVP_MAC_CTX *m = hmac_alg != NULL ? EVP_MAC_CTX_new(hmac_alg) : NULL;
  OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                    OSSL_PARAM_construct_end()};
  if (m != NULL && EVP_MAC_init(m, key, keylen, p) == 1) return m;
  EVP_MAC_CTX_free(m);
  return NULL;
}

/* Feeds `parts` to `m` (consumed) and writes the MAC. */
static int hmac_finish(EVP_MAC_CTX *m, const struct iovec *parts, int n, uint8_t out[32]) {
  int ok = m != NULL;
  for (int i = 0; ok && i < n; i++)
    ok = EVP_MAC_update(m, parts[i].iov_base, parts[i].iov_len) == 1;
  size_t len = 0;
  ok = ok && EVP_MAC_final(m, out, &len, 32) == 1 && len == 32;
  EVP_MAC_CTX_free(m);
  return ok ? 0 : FAIL(EW_ENOMEM);
}

int ew__hmac_sha256(const uint8_t *key, size_t keylen, const struct iovec *parts, int n,
                    uint8_t out[32]) {
  return hmac_finish(hmac_keyed(key, keylen), parts, n, out);
}

/* HKDF through OpenSSL's KDF, one mode at a time, as the page writes them. */
static int hkdf(int mode, const uint8_t *salt, size_t saltlen, const uint8_t *key, size_t keylen,
                const char *info, uint8_t *out, size_t len) {
  EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
  EVP_KDF_CTX *k = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
  OSSL_PARAM p[6], *q = p;
  *q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
  *q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
  *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
  if (salt != NULL)
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
  if (info != NULL)
    *q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info));
  *q = OSSL_PARAM_construct_end();
  int ok = k != NULL && EVP_KDF_derive(k, out, len, p) == 1;
  EVP_KDF_CTX_free(k);
  EVP_KDF_free(kdf);
  return ok ? 0 : FAIL(EW_ENOMEM);
}

int ew__hkdf_extract(const uint8_t *salt, size_t saltlen, const uint8_t *ikm, size_t ikmlen,
                     uint8_t prk[32]) {
  return hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, salt, saltlen, ikm, ikmlen, NULL, prk, 32);
}

int ew__hkdf_expand(const uint8_t prk[32], const char *label, uint8_t *out, size_t len) {
  return hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, NULL, 0, prk, 32, label, out, len);
}

int ew__x25519_keypair(EVP_PKEY **priv, uint8_t pub[32]) {
  *priv = NULL;
  EVP_PKEY_CTX *k = EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, NULL);
  int ok = k != NULL && EVP_PKEY_keygen_init(k) == 1 && EVP_PKEY_keygen(k, priv) == 1;
  EVP_PKEY_CTX_free(k);
  size_t len = 32;
  if (ok && EVP_PKEY_get_raw_public_key(*priv, pub, &len) == 1 && len == 32) return 0;
  EVP_PKEY_free(*priv);
  *priv = NULL;
  return FAIL(EW_ENOMEM);
}

int ew__x25519_derive(EVP_PKEY *priv, const uint8_t peer[32], uint8_t out[32]) {
  EVP_PKEY *pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, 32);
  EVP_PKEY_CTX *k = pk != NULL ? EVP_PKEY_CTX_new(priv, NULL) : NULL;
  size_t len = 32;
  int ok = k != NULL && EVP_PKEY_derive_init(k) == 1 && EVP_PKEY_derive_set_peer(k, pk) == 1 &&
           EVP_PKEY_derive(k, out, &len) == 1 && len == 32;
  EVP_PKEY_CTX_free(k);
  EVP_PKEY_free(pk);
  /* A low-order peer key gives an all-zero secret (OpenSSL refuses it too, RFC 7748 §6.1):
   * the check is ours as well, so that the rule holds whatever the library version. */
  uint8_t zero = 0;
  for (int i = 0; i < 32; i++)
    zero |= out[i];
  return ok && zero != 0 ? 0 : FAIL(EW_EPROTO_HANDSHAKE);
}

int ew__x25519_raw(const uint8_t priv[32], const uint8_t peer[32], uint8_t out[32]) {
  EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, 32);
  if (k == NULL) return FAIL(EW_ENOMEM);
  int err = ew__x25519_derive(k, peer, out);
  EVP_PKEY_free(k);
  return err;
}

int ew__ed25519_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[64]) {
  EVP_MD_CTX *m = EVP_MD_CTX_new();
  size_t slen = 64;
  int ok = m != NULL && EVP_DigestSignInit(m, NULL, NULL, NULL, key) == 1 &&
           EVP_DigestSign(m, sig, &slen, msg, len) == 1 && slen == 64;
  EVP_MD_CTX_free(m);
  return ok ? 0 : FAIL(EW_ENOMEM);
}

int ew__ed25519_verify(const uint8_t pub[32], const uint8_t *msg, size_t len,
                       const uint8_t sig[64]) {
  EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
  EVP_MD_CTX *m = k != NULL ? EVP_MD_CTX_new() : NULL;
  int ok = m != NULL && EVP_DigestVerifyInit(m, NULL, NULL, NULL, k) == 1 &&
           EVP_DigestVerify(m, sig, 64, msg, len) == 1;
  EVP_MD_CTX_free(m);
  EVP_PKEY_free(k);
  return ok ? 0 : FAIL(EW_EPROTO_HANDSHAKE);
}

EVP_PKEY *ew__pkey_ed25519(const uint8_t raw[32], int is_private) {
  EVP_PKEY *k = is_private ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw, 32)
                           : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, 32);
  return k != NULL ? k : FAIL(NULL);
}

EVP_PKEY *ew__pkey_rsa(const uint8_t *der, size_t len, int is_private) {
  const unsigned char *p = der;
  EVP_PKEY *k =
      is_private ? d2i_AutoPrivateKey(NULL, &p, (long)len) : d2i_PUBKEY(NULL, &p, (long)len);
  if (k != NULL && (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA || EVP_PKEY_get_bits(k) < 2048)) {
    EVP_PKEY_free(k);
    k = NULL;
  }
  return k != NULL ? k : FAIL(NULL);
}

void ew__pkey_free(EVP_PKEY *k) {
  EVP_PKEY_free(k);
}

size_t ew__rsa_size(EVP_PKEY *k) {
  return (size_t)EVP_PKEY_get_size(k);
}

static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *k, int encrypt) {
  EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
  if (c == NULL) return FAIL(NULL);
  int ok = (encrypt ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) == 1 &&
           EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) == 1;
  if (!ok) {
    EVP_PKEY_CTX_free(c);
    return FAIL(NULL);
  }
  return c;
}

int ew__rsa_encrypt(EVP_PKEY *pub, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen) {
  EVP_PKEY_CTX *c = oaep_ctx(pub, 1);
  *outlen = ew__rsa_size(pub);
  int ok = c != NULL && EVP_PKEY_encrypt(c, out, outlen, in, len) == 1;
  EVP_PKEY_CTX_free(c);
  return ok ? 0 : FAIL(EW_ENOMEM);
}

int ew__rsa_decrypt(EVP_PKEY *priv, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                    size_t *outlen) {
  /* OpenSSL decodes OAEP in constant time and reports one error for every padding failure;
   * the caller turns any failure into the same close. */
  EVP_PKEY_CTX *c = oaep_ctx(priv, 0);
  *outlen = cap;
  int ok = c != NULL && EVP_PKEY_decrypt(c, out, outlen, in, len) == 1;
  EVP_PKEY_CTX_free(c);
  return ok ? 0 : FAIL(EW_EPROTO_HANDSHAKE);
}

/* ---- the key schedule ------------------------------------------------------------------------ */

int ew__transcript(const uint8_t *ch, uint32_t ch_len, const uint8_t *sh, uint32_t sh_len,
                   uint8_t th[32]) {
  struct iovec parts[2] = {{(void *)ch, ch_len}, {(void *)sh, sh_len}};
  return ew__sha256(parts, 2, th);
}

int ew__schedule(const uint8_t th[32], const uint8_t shared[32], uint8_t prk[32], uint8_t c2s[32],
                 uint8_t s2c[32]) {
  int err = ew__hkdf_extract(th, 32, shared, 32, prk);
  if (err == 0) err = ew__hkdf_expand(prk, "evwire v1 c2s", c2s, 32);
  if (err == 0) err = ew__hkdf_expand(prk, "evwire v1 s2c", s2c, 32);
  return err;
}

int ew__confirm(const uint8_t prk[32], const uint8_t th[32], uint8_t out[32]) {
  uint8_t k[32];
  int err = ew__hkdf_expand(prk, "evwire v1 confirm", k, 32);
  struct iovec part = {(void *)th, 32};
  if (err == 0) err = ew__hmac_sha256(k, 32, &part, 1, out);
  ew__wipe(k, sizeof k);
  return err;
}

void ew__sig_input(const uint8_t th[32], uint8_t out[EW__SIG_INPUT]) {
  static const char label[] = "evwire v1 server signature";
  _Static_assert(sizeof label - 1 + 32 == EW__SIG_INPUT, "label length");
  memcpy(out, label, sizeof label - 1);
  memcpy(out + sizeof label - 1, th, 32);
}

/* ---- the record layer ----------------------------------------------------------------------- */

static const EVP_CIPHER *evp_cipher(int cipher) {
  switch (cipher) {
  case EW_CIPHER_AES_256_GCM:
    return EVP_aes_256_gcm();
  case EW_CIPHER_CHACHA20_POLY1305:
    return EVP_chacha20_poly1305();
  case EW_CIPHER_AES_256_CBC_HMAC:
    return EVP_aes_256_cbc();
  default:
    return NULL;
  }
}

int ew__dir_set_keys(ew__dir_t *d, int cipher, const uint8_t key[32], const uint8_t *aux,
                     int encrypt) {
  const EVP_CIPHER *evp = evp_cipher(cipher);
  if (evp == NULL) return EW_EINVAL;
  const bool legacy = cipher == EW_CIPHER_AES_256_CBC_HMAC;
  d->cipher = cipher;
  if (key != d->key) memcpy(d->key, key, 32);
  if (aux != d->aux) memcpy(d->aux, aux, legacy ? 32 : 12);
  d->n = 0;
  d->bytes = 0;
  if (d->ctx == NULL && (d->ctx = EVP_CIPHER_CTX_new()) == NULL) return FAIL(EW_ENOMEM);
  if (EVP_CipherInit_ex(d->ctx, evp, NULL, d->key, NULL, encrypt) != 1) return FAIL(EW_ENOMEM);
  if (legacy) {
    /* The MAC key's HMAC state, made once per key: each record copies it. */
    EVP_MAC_CTX_free(d->mac);
    if ((d->mac = hmac_keyed(d->aux, 32)) == NULL) return FAIL(EW_ENOMEM);
  }
  /* The legacy mode checks the padding itself, in constant time, after the MAC. */
  if (legacy) EVP_CIPHER_CTX_set_padding(d->ctx, encrypt);
  return 0;
}

/* Derives the keys of the direction's current secret and keys its cipher context. */
static int dir_keys(ew__dir_t *d, int encrypt) {
  const bool legacy = d->cipher == EW_CIPHER_AES_256_CBC_HMAC;
  int err = ew__hkdf_expand(d->secret, "key", d->key, 32);
  if (err == 0) err = ew__hkdf_expand(d->secret, legacy ? "mac" : "iv", d->aux, legacy ? 32 : 12);
  if (err != 0) return err;
  return ew__dir_set_keys(d, d->cipher, d->key, d->aux, encrypt);
}

int ew__dir_init(ew__dir_t *d, int cipher, const uint8_t secret[32], int encrypt) {
  memset(d, 0, sizeof *d);
  if (evp_cipher(cipher) == NULL) return EW_EINVAL;
  d->cipher = cipher;
  memcpy(d->secret, secret, 32);
  return dir_keys(d, encrypt);
}

int ew__dir_update(ew__dir_t *d, int encrypt) {
  uint8_t next[32];
  int err = ew__hkdf_expand(d->secret, "update", next, 32);
  if (err != 0) return err;
  memcpy(d->secret, next, 32);
  OPENSSL_cleanse(next, sizeof next);
  return dir_keys(d, encrypt);
}

void ew__dir_free(ew__dir_t *d) {
  EVP_CIPHER_CTX_free(d->ctx);
  EVP_MAC_CTX_free(d->mac);
  OPENSSL_cleanse(d, sizeof *d);
}

uint32_t ew__sealed_len(int cipher, uint32_t len) {
  if (cipher == EW_CIPHER_AES_256_CBC_HMAC) return 16 + (len / 16 + 1) * 16 + 32;
  return len + EW__AEAD_TAG;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)(v >> 32));
  put32(p + 4, (uint32_t)v);
}

static void nonce(const ew__dir_t *d, uint8_t out[12]) {
  uint8_t n[8];
  put64(n, d->n);
  memcpy(out, d->aux, 12);
  for (int i = 0; i < 8; i++)
    out[4 + i] ^= n[i];
}

/* HMAC(mac, u64 n || header || IV || ciphertext) of a legacy record laid out at `frame`. */
static int cbc_mac(const ew__dir_t *d, const uint8_t *frame, uint32_t ct_len, uint8_t out[32]) {
  uint8_t n[8];
  put64(n, d->n);
  struct iovec parts[2] = {{n, 8}, {(void *)frame, 12 + 16 + (size_t)ct_len}};
  return hmac_finish(EVP_MAC_CTX_dup(d->mac), parts, 2, out);
}

int ew__aead_seal(ew__dir_t *d, const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
                  const uint8_t *pt, uint32_t len, uint8_t *out) {
  int a = 0, b = 0;
  if (EVP_CipherInit_ex(d->ctx, NULL, NULL, NULL, iv, 1) != 1 ||
      EVP_CipherUpdate(d->ctx, NULL, &a, aad, (int)aad_len) != 1 ||
      (len != 0 && EVP_CipherUpdate(d->ctx, out, &a, pt, (int)len) != 1) ||
      EVP_CipherFinal_ex(d->ctx, out + len, &b) != 1 ||
      EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_GET_TAG, EW__AEAD_TAG, out + len) != 1)
    return FAIL(EW_ENOMEM);
  return 0;
}

int ew__aead_open(ew__dir_t *d, const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
                  const uint8_t *ct, uint32_t len, uint8_t *out) {
  int a = 0, b = 0;
  uint8_t tag[EW__AEAD_TAG];
  memcpy(tag, ct + len, sizeof tag); /* out may be ct: keep the tag out of its way */
  if (EVP_CipherInit_ex(d->ctx, NULL, NULL, NULL, iv, 0) != 1 ||
      EVP_CipherUpdate(d->ctx, NULL, &a, aad, (int)aad_len) != 1 ||
      (len != 0 && EVP_CipherUpdate(d->ctx, out, &a, ct, (int)len) != 1) ||
      EVP_CIPHER_CTX_ctrl(d->ctx, EVP_CTRL_AEAD_SET_TAG, EW__AEAD_TAG, tag) != 1)
    return FAIL(EW_ENOMEM);
  return EVP_CipherFinal_ex(d->ctx, out + len, &b) == 1 ? 0 : FAIL(EW_EPROTO_CRYPTO);
}

int ew__seal(ew__dir_t *d, uint16_t type, uint16_t flags, uint32_t seq, const uint8_t *pt,
             uint32_t len, uint8_t *out) {
  uint32_t body = ew__sealed_len(d->cipher, len);
  put32(out, body);
  out[4] = (uint8_t)(type >> 8);
  out[5] = (uint8_t)type;
  flags |= 0x1u;
  out[6] = (uint8_t)(flags >> 8);
  out[7] = (uint8_t)flags;
  put32(out + 8, seq);
  int a = 0, b = 0;
  if (d->cipher == EW_CIPHER_AES_256_CBC_HMAC) {
    uint8_t *iv = out + 12;
    if (ew__random(iv, 16) != 0) return EW_ENOMEM;
    uint8_t *ct = iv + 16;
    if (EVP_CipherInit_ex(d->ctx, NULL, NULL, NULL, iv, 1) != 1 ||
        EVP_CipherUpdate(d->ctx, ct, &a, pt, (int)len) != 1 ||
        EVP_CipherFinal_ex(d->ctx, ct + a, &b) != 1 || (uint32_t)(a + b) != body - 48)
      return FAIL(EW_ENOMEM);
    if (cbc_mac(d, out, body - 48, ct + a + b) != 0) return EW_ENOMEM;
  } else {
    uint8_t iv[12];
    nonce(d, iv);
    if (ew__aead_seal(d, iv, out, 12, pt, len, out + 12) != 0) return EW_ENOMEM;
  }
  d->n++;
  d->bytes += len;
  return 0;
}

/* Checks PKCS#7 padding of the last block without a branch on its bytes: returns the padding
 * length, or 0 when it is bad. */
static uint32_t cbc_unpad(const uint8_t *last) {
  uint32_t p = last[15];
  uint32_t bad = ((p - 1u) >> 31) | ((16u - p) >> 31); /* p == 0 or p > 16 */
  for (uint32_t i = 0; i < 16; i++) {
    uint32_t in_pad = (15u - i - p) >> 31; /* position counted from the end < p */
    bad |= in_pad & ((uint32_t)(last[i] ^ p) + 0xffu) >> 8;
  }
  return p & (bad - 1u);
}

int ew__open(ew__dir_t *d, uint8_t *frame, uint32_t body_len, uint32_t *len) {
  uint8_t *body = frame + 12;
  int a = 0, b = 0;
  if (d->cipher == EW_CIPHER_AES_256_CBC_HMAC) {
    if (body_len < EW__CBC_MIN_BODY || (body_len - 48) % 16 != 0) return EW_EPROTO_CRYPTO;
    uint32_t ct_len = body_len - 48;
    uint8_t mac[32];
    if (cbc_mac(d, frame, ct_len, mac) != 0) return EW_ENOMEM;
    int mac_ok = CRYPTO_memcmp(mac, body + 16 + ct_len, 32) == 0;
    /* Decrypting and checking the padding happen whatever the MAC said, so that a bad MAC and
     * bad padding cost the same work and end the same way. */
    uint8_t *ct = body + 16;
    if (EVP_CipherInit_ex(d->ctx, NULL, NULL, NULL, body, 0) != 1 ||
        EVP_CipherUpdate(d->ctx, ct, &a, ct, (int)ct_len) != 1 ||
        EVP_CipherFinal_ex(d->ctx, ct + a, &b) != 1 || (uint32_t)(a + b) != ct_len)
      return FAIL(EW_ENOMEM);
    uint32_t pad = cbc_unpad(ct + ct_len - 16);
    if (!mac_ok || pad == 0) return EW_EPROTO_CRYPTO;
    memmove(body, ct, ct_len - pad);
    *len = ct_len - pad;
  } else {
    if (body_len < EW__AEAD_TAG) return EW_EPROTO_CRYPTO;
    uint8_t iv[12];
    nonce(d, iv);
    int err = ew__aead_open(d, iv, frame, 12, body, body_len - EW__AEAD_TAG, body);
    if (err != 0) return err;
    *len = body_len - EW__AEAD_TAG;
  }
  d->n++;
  d->bytes += *len;
  return 0;
}
