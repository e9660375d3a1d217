// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#ifndef EW__CRYPT_H
#define EW__CRYPT_H

/* Message encryption (docs/encryption.md): the primitives and the record layer, over OpenSSL's
 * EVP API. The core is compiled against the OpenSSL headers that Node ships and links no
 * OpenSSL: inside the addon the symbols come from the running node binary (one OpenSSL per
 * process), and the C tests link the system's libcrypto.so.3 of the same 3.0 series.
 *
 * Every function may be called from any thread; the EVP keys of a configuration are shared by
 * the IO threads read-only (OpenSSL 3's keys are safe to use concurrently: each operation
 * makes its own context). A direction (ew__dir_t) belongs to one connection, hence to its IO
 * thread. Functions return 0 or a negative EW_* code. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ew/runtime.h"

typedef struct ew__crypt_cfg_s ew__crypt_cfg_t;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_mac_ctx_st EVP_MAC_CTX;

enum {
  EW__KEX_X25519 = 1, /* ephemeral X25519, the server signs with its static Ed25519 key */
  EW__KEX_RSA = 2,    /* the client sends a secret under the server's RSA key (OAEP, SHA-256) */
};

#define EW__CIPHER_MAX_LIST 8u
#define EW__AEAD_TAG 16u
#define EW__CBC_MIN_BODY 64u /* IV, one block, MAC */
/* Bytes an encrypted body may exceed its plaintext by: the CBC mode's worst case. */
#define EW__SEAL_MAX_OVERHEAD (16u + 16u + 32u)

/* ---- primitives ----------------------------------------------------------------------------- */

int ew__random(void *out, size_t len);
/* Clears secrets in a way the compiler keeps; compares in constant time (1: equal). */
void ew__wipe(void *p, size_t len);
int ew__equal_ct(const void *a, const void *b, size_t len);

int ew__sha256(const struct iovec *parts, int n, uint8_t out[32]);
int ew__hmac_sha256(const uint8_t *key, size_t keylen, const struct iovec *parts, int n,
                    uint8_t out[32]);
/* RFC 5869 with SHA-256. Expand takes an ASCII label as its info and writes up to 255*32 bytes. */
int ew__hkdf_extract(const uint8_t *salt, size_t saltlen, const uint8_t *ikm, size_t ikmlen,
                     uint8_t prk[32]);
int ew__hkdf_expand(const uint8_t prk[32], const char *label, uint8_t *out, size_t len);
/* A fresh X25519 key pair: the private key object (free with ew__pkey_free) and its public
 * key. */
int ew__x25519_keypair(EVP_PKEY **priv, uint8_t pub[32]);
/* The shared secret of `priv` and the peer's public key; EW_EPROTO_HANDSHAKE for a low-order
 * peer key (an all-zero secret). */
int ew__x25519_derive(EVP_PKEY *priv, const uint8_t peer[32], uint8_t out[32]);
/* X25519 from raw keys (RFC 7748 vectors). */
int ew__x25519_raw(const uint8_t priv[32], const uint8_t peer[32], uint8_t out[32]);
int ew__ed25519_sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t sig[64]);
/* 0 when `sig` is `pub`'s signature of msg, else EW_EPROTO_HANDSHAKE. */
int ew__ed25519_verify(const uint8_t pub[32], const uint8_t *msg, size_t len,
                       const uint8_t sig[64]);
/* Keys from bytes: an Ed25519 private seed or public key (raw 32 bytes), an RSA private key
 * (PKCS#8 DER) or public key (SubjectPublicKeyInfo DER). NULL when they do not parse (or an
 * RSA key is under 2048 bits). */
EVP_PKEY *ew__pkey_ed25519(const uint8_t raw[32], int is_private);
EVP_PKEY *ew__pkey_rsa(const uint8_t *der, size_t len, int is_private);
void ew__pkey_free(EVP_PKEY *k);
/* The RSA key's modulus in bytes. */
size_t ew__rsa_size(EVP_PKEY *k);
/* RSA-OAEP with SHA-256 and MGF1-SHA-256, empty label. `out` holds ew__rsa_size() bytes. */
int ew__rsa_encrypt(EVP_PKEY *pub, const uint8_t *in, size_t len, uint8_t *out, size_t *outlen);
/* Decrypts into out (cap bytes); every failure is the same EW_EPROTO_HANDSHAKE. */
int ew__rsa_decrypt(EVP_PKEY *priv, const uint8_t *in, size_t len, uint8_t *out, size_t cap,
                    size_t *outlen);

/* ---- the key schedule (docs/encryption.md, "Key schedule") ---------------------------------- */

/* th = SHA-256(CH || SH*). */
int ew__transcript(const uint8_t *ch, uint32_t ch_len, const uint8_t *sh, uint32_t sh_len,
                   uint8_t th[32]);
/* prk = HKDF-Extract(th, shared); c2s and s2c, the first traffic secrets. */
int ew__schedule(const uint8_t th[32], const uint8_t shared[32], uint8_t prk[32], uint8_t c2s[32],
                 uint8_t s2c[32]);
/* Key exchange 2's confirmation: HMAC(HKDF-Expand(prk, "evwire v1 confirm", 32), th). */
int ew__confirm(const uint8_t prk[32], const uint8_t th[32], uint8_t out[32]);
/* What the server signs in key exchange 1: "evwire v1 server signature" || th. */
#define EW__SIG_INPUT (26u + 32u)
void ew__sig_input(const uint8_t th[32], uint8_t out[EW__SIG_INPUT]);

/* ---- the record layer ----------------------------------------------------------------------- */

/* One direction of a connection: its traffic secret, the keys derived from it and its record
 * counter. */
typedef struct ew__dir_s {
  int cipher;          /* EW_CIPHER_* */
  uint8_t secret[32];  /* the traffic secret S */
  uint8_t key[32];     /* HKDF-Expand(S, "key") */
  uint8_t aux[32];     /* AEAD: the 12-byte iv; legacy: the MAC key */
  uint64_t n;          /* records under this key */
  uint64_t bytes;      /* plaintext bytes under this key */
  EVP_CIPHER_CTX *ctx; /* keyed once per key */
  EVP_MAC_CTX *mac;    /* legacy: HMAC keyed once per key, copied per record */
} ew__dir_t;

/* Sets up a direction for `cipher` from its first traffic secret. */
int ew__dir_init(ew__dir_t *d, int cipher, const uint8_t secret[32], int encrypt);
/* Keys a direction from raw keys (known-answer tests; ew__dir_init derives them): `aux` is the
 * iv (12 bytes) or the legacy MAC key (32). */
int ew__dir_set_keys(ew__dir_t *d, int cipher, const uint8_t key[32], const uint8_t *aux,
                     int encrypt);
/* One AEAD operation with the direction's key: `out` receives len bytes and, sealing, the
 * 16-byte tag after them; opening, `ct` is followed by its tag and `out` may be `ct`. Open
 * returns EW_EPROTO_CRYPTO when the tag does not verify. */
int ew__aead_seal(ew__dir_t *d, const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
                  const uint8_t *pt, uint32_t len, uint8_t *out);
int ew__aead_open(ew__dir_t *d, const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
                  const uint8_t *ct, uint32_t len, uint8_t *out);
/* The key update: S' = HKDF-Expand(S, "update", 32), counter 0. */
int ew__dir_update(ew__dir_t *d, int encrypt);
void ew__dir_free(ew__dir_t *d);
/* The body length of a sealed record whose plaintext is `len` bytes. */
uint32_t ew__sealed_len(int cipher, uint32_t len);
/* Seals the frame (type, flags, seq; the encrypted flag is added) whose plaintext is `pt`
 * (len bytes) into `out`, which holds 12 + ew__sealed_len() bytes: header, then body. */
int ew__seal(ew__dir_t *d, uint16_t type, uint16_t flags, uint32_t seq, const uint8_t *pt,
             uint32_t len, uint8_t *out);
/* Opens the encrypted frame `frame` (its 12-byte header and `body_len` body bytes, contiguous)
 * in place: the plaintext is left at frame + 12, *len bytes. EW_EPROTO_CRYPTO for anything that
 * does not verify (one code whatever failed); nothing is written outside the frame. */
int ew__open(ew__dir_t *d, uint8_t *frame, uint32_t body_len, uint32_t *len);

#endif /* EW__CRYPT_H */
