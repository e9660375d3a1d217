// SPDX-License-Identifier: MIT
// Copyright (c) 2026 evwire contributors
#include "crypt.h"
#include "test.h"

#include "ew.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

/* The record layer and its primitives (docs/encryption.md): RFC known-answer vectors for the
 * primitives, then the record layer's own properties: a round trip for each cipher, and every
 * tampering the page names refused with the one code. */

static size_t unhex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  for (; s[0] != 0 && s[1] != 0; s += 2) {
    unsigned v;
    if (sscanf(s, "%2x", &v) != 1 || n == cap) abort();
    out[n++] = (uint8_t)v;
  }
  return n;
}

static void test_hkdf_rfc5869_case1(void) {
  uint8_t ikm[22], salt[13], info[11] = {0}, prk[32], okm[42], want[42];
  memset(ikm, 0x0b, sizeof ikm);
  for (int i = 0; i < 13; i++)
    salt[i] = (uint8_t)i;
  for (int i = 0; i < 10; i++)
    info[i] = (uint8_t)(0xf0 + i); /* no zero byte: usable as the label */
  ASSERT_OK(ew__hkdf_extract(salt, sizeof salt, ikm, sizeof ikm, prk));
  uint8_t wprk[32];
  unhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", wprk, 32);
  ASSERT_MEM_EQ(prk, wprk, 32);
  ASSERT_OK(ew__hkdf_expand(prk, (const char *)info, okm, sizeof okm));
  unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
        want, sizeof want);
  ASSERT_MEM_EQ(okm, want, sizeof want);
}

static void test_x25519_rfc7748(void) {
  uint8_t a[32], b[32], apub[32], bpub[32], want[32], out[32];
  unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
  unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", apub, 32);
  unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
  unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f", bpub, 32);
  unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", want, 32);
  ASSERT_OK(ew__x25519_raw(a, bpub, out));
  ASSERT_MEM_EQ(out, want, 32);
  ASSERT_OK(ew__x25519_raw(b, apub, out));
  ASSERT_MEM_EQ(out, want, 32);
  /* A low-order point (here 0, RFC 7748 §6.1's check) gives an all-zero secret: refused. */
  uint8_t zero[32] = {0};
  ASSERT_EQ(ew__x25519_raw(a, zero, out), EW_EPROTO_HANDSHAKE);
  /* Failures leave OpenSSL's per-thread error queue empty: inline, it is node:crypto's too. */
  ASSERT_UEQ(ERR_peek_error(), 0);
}

static void test_aes_256_gcm_kat(void) {
  /* McGrew and Viega, "The Galois/Counter Mode of Operation", test case 16. */
  uint8_t key[32], iv[12], aad[20], pt[60], want[60], tag[16], out[76];
  unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", key, 32);
  unhex("cafebabefacedbaddecaf888", iv, 12);
  unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2", aad, 20);
  unhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e"
        "2449a6b525b16aedf5aa0de657ba637b39",
        pt, 60);
  unhex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b"
        "1056828838c5f61e6393ba7a0abcc9f662",
        want, 60);
  unhex("76fc6ece0f4e1768cddf8853bb2d551b", tag, 16);
  ew__dir_t e = {0}, d = {0};
  ASSERT_OK(ew__dir_set_keys(&e, EW_CIPHER_AES_256_GCM, key, iv, 1));
  ASSERT_OK(ew__aead_seal(&e, iv, aad, sizeof aad, pt, sizeof pt, out));
  ASSERT_MEM_EQ(out, want, 60);
  ASSERT_MEM_EQ(out + 60, tag, 16);
  ASSERT_OK(ew__dir_set_keys(&d, EW_CIPHER_AES_256_GCM, key, iv, 0));
  ASSERT_OK(ew__aead_open(&d, iv, aad, sizeof aad, out, 60, out));
  ASSERT_MEM_EQ(out, pt, 60);
  ew__dir_free(&e);
  ew__dir_free(&d);
}

static void test_chacha20_poly1305_rfc8439(void) {
  /* RFC 8439 §2.8.2. */
  static const char text[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
                             "only one tip for the future, sunscreen would be it.";
  uint8_t key[32], iv[12], aad[12], want[114], tag[16], out[130];
  for (int i = 0; i < 32; i++)
    key[i] = (uint8_t)(0x80 + i);
  unhex("070000004041424344454647", iv, 12);
  unhex("50515253c0c1c2c3c4c5c6c7", aad, 12);
  unhex("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb"
        "69da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad6"
        "75945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116",
        want, sizeof want);
  unhex("1ae10b594f09e26a7e902ecbd0600691", tag, 16);
  ASSERT_EQ(sizeof text - 1, 114);
  ew__dir_t e = {0};
  ASSERT_OK(ew__dir_set_keys(&e, EW_CIPHER_CHACHA20_POLY1305, key, iv, 1));
  ASSERT_OK(ew__aead_seal(&e, iv, aad, sizeof aad, (const uint8_t *)text, 114, out));
  ASSERT_MEM_EQ(out, want, 114);
  ASSERT_MEM_EQ(out + 114, tag, 16);
  ew__dir_free(&e);
}

static void test_ed25519_rfc8032_test1(void) {
  /* RFC 8032 §7.1, TEST 1 (the empty message). */
  uint8_t seed[32], pub[32], want[64], sig[64];
  unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed, 32);
  unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pub, 32);
  unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
        "1cf9b46bd25bf5f0595bbe24655141438e7a100b",
        want, 64);
  EVP_PKEY *k = ew__pkey_ed25519(seed, 1);
  ASSERT_NOT_NULL(k);
  ASSERT_OK(ew__ed25519_sign(k, (const uint8_t *)"", 0, sig));
  ASSERT_MEM_EQ(sig, want, 64);
  ASSERT_OK(ew__ed25519_verify(pub, (const uint8_t *)"", 0, sig));
  sig[10] ^= 1;
  ASSERT_EQ(ew__ed25519_verify(pub, (const uint8_t *)"", 0, sig), EW_EPROTO_HANDSHAKE);
  ew__pkey_free(k);
}

static void test_rsa_oaep_round_trip(void) {
  EVP_PKEY *k = EVP_RSA_gen(2048);
  ASSERT_NOT_NULL(k);
  uint8_t *der = NULL;
  int n = i2d_PrivateKey(k, &der);
  ASSERT_GT(n, 0);
  uint8_t *pder = NULL;
  int pn = i2d_PUBKEY(k, &pder);
  ASSERT_GT(pn, 0);
  EVP_PKEY *priv = ew__pkey_rsa(der, (size_t)n, 1);
  EVP_PKEY *pub = ew__pkey_rsa(pder, (size_t)pn, 0);
  ASSERT_NOT_NULL(priv);
  ASSERT_NOT_NULL(pub);
  ASSERT_EQ(ew__rsa_size(pub), 256);
  uint8_t secret[32], ct[256], back[256];
  memset(secret, 0x5a, sizeof secret);
  size_t clen = 0, blen = 0;
  ASSERT_OK(ew__rsa_encrypt(pub, secret, 32, ct, &clen));
  ASSERT_EQ(clen, 256);
  ASSERT_OK(ew__rsa_decrypt(priv, ct, clen, back, sizeof back, &blen));
  ASSERT_EQ(blen, 32);
  ASSERT_MEM_EQ(back, secret, 32);
  ct[100] ^= 0x40;
  ASSERT_EQ(ew__rsa_decrypt(priv, ct, clen, back, sizeof back, &blen), EW_EPROTO_HANDSHAKE);
  ASSERT_UEQ(ERR_peek_error(), 0);
  /* Garbage and short keys are refused. */
  ASSERT_NULL(ew__pkey_rsa(der, 10, 1));
  ASSERT_UEQ(ERR_peek_error(), 0);
  EVP_PKEY *small = EVP_RSA_gen(1024);
  uint8_t *sder = NULL;
  int sn = i2d_PUBKEY(small, &sder);
  ASSERT_NULL(ew__pkey_rsa(sder, (size_t)sn, 0));
  OPENSSL_free(sder);
  EVP_PKEY_free(small);
  OPENSSL_free(der);
  OPENSSL_free(pder);
  ew__pkey_free(priv);
  ew__pkey_free(pub);
  EVP_PKEY_free(k);
}

static const int ciphers[] = {EW_CIPHER_AES_256_GCM, EW_CIPHER_CHACHA20_POLY1305,
                              EW_CIPHER_AES_256_CBC_HMAC};

/* A sender and a receiver of one direction, from the same secret. */
static void pair(int cipher, ew__dir_t *tx, ew__dir_t *rx) {
  uint8_t secret[32];
  for (int i = 0; i < 32; i++)
    secret[i] = (uint8_t)(i * 7 + cipher);
  ASSERT_OK(ew__dir_init(tx, cipher, secret, 1));
  ASSERT_OK(ew__dir_init(rx, cipher, secret, 0));
}

static void test_records_round_trip(void) {
  static uint8_t pt[70000], frame[12 + 70000 + EW__SEAL_MAX_OVERHEAD];
  for (size_t i = 0; i < sizeof pt; i++)
    pt[i] = (uint8_t)(i * 31);
  const uint32_t sizes[] = {0, 1, 15, 16, 17, 64, 4096, 70000};
  for (size_t k = 0; k < sizeof ciphers / sizeof ciphers[0]; k++) {
    ew__dir_t tx, rx;
    pair(ciphers[k], &tx, &rx);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
      uint32_t len = sizes[i];
      ASSERT_OK(ew__seal(&tx, 7, EW_FRAME_FLAG_REPLY, 99, pt, len, frame));
      uint32_t body = ew__sealed_len(ciphers[k], len);
      ew_frame_header_t h;
      /* A plain connection's decoder refuses what only message encryption reads. */
      ASSERT_EQ(ew_frame_decode(frame, UINT32_MAX, &h), EW_EPROTO_PLAINTEXT);
      ASSERT_UEQ(h.length, body);
      ASSERT_UEQ(h.flags, EW_FRAME_FLAG_REPLY | EW_FRAME_FLAG_ENCRYPTED);
      ASSERT_UEQ(h.seq, 99);
      uint32_t got = 0;
      ASSERT_OK(ew__open(&rx, frame, body, &got));
      ASSERT_UEQ(got, len);
      ASSERT_MEM_EQ(frame + 12, pt, len);
    }
    /* Both sides update and stay in step. */
    ASSERT_OK(ew__dir_update(&tx, 1));
    ASSERT_OK(ew__dir_update(&rx, 0));
    ASSERT_MEM_EQ(tx.secret, rx.secret, 32);
    ASSERT_UEQ(tx.n, 0);
    ASSERT_OK(ew__seal(&tx, 1, 0, 0, pt, 100, frame));
    uint32_t got = 0;
    ASSERT_OK(ew__open(&rx, frame, ew__sealed_len(ciphers[k], 100), &got));
    ASSERT_MEM_EQ(frame + 12, pt, 100);
    ew__dir_free(&tx);
    ew__dir_free(&rx);
  }
}

/* Every bit of a sealed frame matters: header (authenticated data), IV, ciphertext, tag. */
static void test_records_refuse_tampering(void) {
  uint8_t pt[40], frame[12 + 40 + EW__SEAL_MAX_OVERHEAD], copy[sizeof frame];
  memset(pt, 0x33, sizeof pt);
  for (size_t k = 0; k < sizeof ciphers / sizeof ciphers[0]; k++) {
    uint32_t body = ew__sealed_len(ciphers[k], sizeof pt);
    for (uint32_t bit = 0; bit < (12 + body) * 8; bit += 5) {
      if (bit < 32) continue; /* the length field: the codec frames by it before opening */
      ew__dir_t tx, rx;
      pair(ciphers[k], &tx, &rx);
      ASSERT_OK(ew__seal(&tx, 3, 0, 1, pt, sizeof pt, frame));
      memcpy(copy, frame, 12 + body);
      copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
      uint32_t got = 0;
      ASSERT_EQ(ew__open(&rx, copy, body, &got), EW_EPROTO_CRYPTO);
      ASSERT_UEQ(ERR_peek_error(), 0);
      ew__dir_free(&tx);
      ew__dir_free(&rx);
    }
  }
}

static void test_records_refuse_replay_reorder_truncation(void) {
  uint8_t pt[10] = "0123456789";
  for (size_t k = 0; k < sizeof ciphers / sizeof ciphers[0]; k++) {
    ew__dir_t tx, rx;
    pair(ciphers[k], &tx, &rx);
    uint32_t body = ew__sealed_len(ciphers[k], sizeof pt);
    uint8_t a[128], b[128], keep[128];
    ASSERT_OK(ew__seal(&tx, 1, 0, 1, pt, sizeof pt, a));
    ASSERT_OK(ew__seal(&tx, 1, 0, 2, pt, sizeof pt, b));
    memcpy(keep, a, 12 + body);
    uint32_t got;
    /* Reordered: b before a. */
    ASSERT_EQ(ew__open(&rx, b, body, &got), EW_EPROTO_CRYPTO);
    ASSERT_OK(ew__open(&rx, a, body, &got));
    /* Replayed: a again where b is due. */
    ASSERT_EQ(ew__open(&rx, keep, body, &got), EW_EPROTO_CRYPTO);
    /* Truncated: the body cut short (the length field says the shorter length). */
    ew__dir_t tx2, rx2;
    pair(ciphers[k], &tx2, &rx2);
    ASSERT_OK(ew__seal(&tx2, 1, 0, 1, pt, sizeof pt, a));
    ASSERT_EQ(ew__open(&rx2, a, body - 1, &got), EW_EPROTO_CRYPTO);
    ASSERT_EQ(ew__open(&rx2, a, 3, &got), EW_EPROTO_CRYPTO);
    ew__dir_free(&tx);
    ew__dir_free(&rx);
    ew__dir_free(&tx2);
    ew__dir_free(&rx2);
  }
}

/* Legacy mode: a record with a good MAC over bad padding (which only a key holder can make)
 * and one with a bad MAC fail alike. */
/* A legacy record built by hand: `padded` (32 bytes, padding included) encrypted without
 * padding, then MACed correctly under counter 0. */
static void cbc_by_hand(const ew__dir_t *tx, const uint8_t padded[32], uint8_t frame[92]) {
  uint8_t hdr[12] = {0, 0, 0, 16 + 32 + 32, 0, 1, 0, 1, 0, 0, 0, 9};
  memcpy(frame, hdr, 12);
  uint8_t *iv = frame + 12;
  memset(iv, 0x11, 16);
  EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new();
  int a = 0, b = 0;
  ASSERT_EQ(EVP_EncryptInit_ex(e, EVP_aes_256_cbc(), NULL, tx->key, iv), 1);
  EVP_CIPHER_CTX_set_padding(e, 0);
  ASSERT_EQ(EVP_EncryptUpdate(e, frame + 28, &a, padded, 32), 1);
  ASSERT_EQ(EVP_EncryptFinal_ex(e, frame + 28 + a, &b), 1);
  EVP_CIPHER_CTX_free(e);
  uint8_t n[8] = {0};
  struct iovec parts[2] = {{n, 8}, {frame, 12 + 16 + 32}};
  ASSERT_OK(ew__hmac_sha256(tx->aux, 32, parts, 2, frame + 12 + 16 + 32));
}

static void test_cbc_bad_padding_and_bad_mac_look_alike(void) {
  ew__dir_t tx, rx;
  uint8_t frame[12 + 16 + 32 + 32], padded[32];
  uint32_t got;
  /* The construction is right: with good padding the record opens. */
  pair(EW_CIPHER_AES_256_CBC_HMAC, &tx, &rx);
  memset(padded, 0x41, sizeof padded);
  memset(padded + 20, 12, 12);
  cbc_by_hand(&tx, padded, frame);
  ASSERT_OK(ew__open(&rx, frame, 80, &got));
  ASSERT_EQ(got, 20);
  ew__dir_free(&tx);
  ew__dir_free(&rx);
  /* Bad padding under a good MAC, then a bad MAC: the same failure. */
  pair(EW_CIPHER_AES_256_CBC_HMAC, &tx, &rx);
  padded[31] = 0x00;
  cbc_by_hand(&tx, padded, frame);
  uint8_t bad_mac[sizeof frame];
  memcpy(bad_mac, frame, sizeof frame);
  bad_mac[sizeof frame - 1] ^= 1;
  ASSERT_EQ(ew__open(&rx, frame, 80, &got), EW_EPROTO_CRYPTO);
  padded[31] = 17; /* above the block size */
  ew__dir_free(&tx);
  ew__dir_free(&rx);
  pair(EW_CIPHER_AES_256_CBC_HMAC, &tx, &rx);
  cbc_by_hand(&tx, padded, frame);
  ASSERT_EQ(ew__open(&rx, frame, 80, &got), EW_EPROTO_CRYPTO);
  ew__dir_t rx2, tx2;
  pair(EW_CIPHER_AES_256_CBC_HMAC, &tx2, &rx2);
  ASSERT_EQ(ew__open(&rx2, bad_mac, 80, &got), EW_EPROTO_CRYPTO);
  /* Lengths that cannot be a record. */
  ASSERT_EQ(ew__open(&rx2, frame, 63, &got), EW_EPROTO_CRYPTO);
  ASSERT_EQ(ew__open(&rx2, frame, 70, &got), EW_EPROTO_CRYPTO);
  ew__dir_free(&tx);
  ew__dir_free(&rx);
  ew__dir_free(&tx2);
  ew__dir_free(&rx2);
}

/* ---- the test vectors of docs/encryption.md --------------------------------------------------
 * test/fixtures/crypto/vectors.json comes from the reference client written with node:crypto
 * from the page alone (test/crypto-ref.ts, scripts/encryption-vectors.js): the same bytes from
 * this implementation show that both read the page alike. The file is generated, so a tiny
 * reader of its fixed layout is enough: a field is the first "key": "hex" after a position. */

static char *vectors;

static const char *field(const char *from, const char *key, uint8_t *out, size_t cap, size_t *len) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": \"", key);
  const char *p = strstr(from, pat);
  ASSERT_NOT_NULL(p);
  p += strlen(pat);
  const char *q = strchr(p, '"');
  char hex[4096];
  ASSERT_LT((size_t)(q - p), sizeof hex);
  memcpy(hex, p, (size_t)(q - p));
  hex[q - p] = 0;
  *len = unhex(hex, out, cap);
  return q;
}

static void load_vectors(void) {
  FILE *f = fopen(EW_SOURCE_DIR "/test/fixtures/crypto/vectors.json", "rb");
  ASSERT_NOT_NULL(f);
  static char buf[1 << 17];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  ASSERT_LT(n, sizeof buf - 1);
  buf[n] = 0;
  vectors = buf;
}

/* Opens `frame` (hex field "frame" after `at`) and checks its plaintext; for the AEAD ciphers
 * also seals the plaintext again and expects the very same bytes. */
static const char *check_frame(const char *at, ew__dir_t *rx, ew__dir_t *tx) {
  uint8_t frame[256], pt[256], sealed[256];
  size_t flen = 0, plen = 0;
  field(at, "plaintext", pt, sizeof pt, &plen);
  const char *end = field(at, "frame", frame, sizeof frame, &flen);
  ew_frame_header_t h;
  h.length = (uint32_t)flen - 12;
  h.type = (uint16_t)((frame[4] << 8) | frame[5]);
  h.flags = (uint16_t)((frame[6] << 8) | frame[7]);
  h.seq = ((uint32_t)frame[8] << 24) | ((uint32_t)frame[9] << 16) | ((uint32_t)frame[10] << 8) |
          frame[11];
  if (tx != NULL && tx->cipher != EW_CIPHER_AES_256_CBC_HMAC) {
    ASSERT_OK(ew__seal(tx, h.type, h.flags & ~EW_FRAME_FLAG_ENCRYPTED, h.seq, pt, (uint32_t)plen,
                       sealed));
    ASSERT_MEM_EQ(sealed, frame, flen);
  } else if (tx != NULL) {
    tx->n++; /* stays in step; the legacy IV is random, so the bytes cannot match */
  }
  uint32_t got = 0;
  ASSERT_OK(ew__open(rx, frame, h.length, &got));
  ASSERT_UEQ(got, plen);
  ASSERT_MEM_EQ(frame + 12, pt, plen);
  return end;
}

static void test_vectors_of_the_reference_client(void) {
  load_vectors();
  uint8_t ed_pub[32], cpriv[32], spub[32];
  size_t len;
  field(vectors, "ed25519_public", ed_pub, 32, &len);
  field(vectors, "client_x25519_private", cpriv, 32, &len);
  field(vectors, "server_x25519_public", spub, 32, &len);
  int cases = 0;
  for (const char *c = strstr(vectors, "\"name\": \"kex"); c != NULL;
       c = strstr(c + 1, "\"name\": \"kex")) {
    cases++;
    int kex = c[12] - '0';
    uint8_t ch[1024], sh[256], shared[32], th[32], prk[32], c2s[32], s2c[32], want[32];
    size_t ch_len, sh_len;
    field(c, "CH", ch, sizeof ch, &ch_len);
    field(c, "SH", sh, sizeof sh, &sh_len);
    field(c, "shared", shared, 32, &len);
    int cipher = sh[3];
    uint32_t star = kex == EW__KEX_X25519 ? 68 : 36;
    ASSERT_UEQ(sh_len, star + (kex == EW__KEX_X25519 ? 64 : 32));
    ASSERT_OK(ew__transcript(ch, (uint32_t)ch_len, sh, star, th));
    field(c, "th", want, 32, &len);
    ASSERT_MEM_EQ(th, want, 32);
    ASSERT_OK(ew__schedule(th, shared, prk, c2s, s2c));
    field(c, "prk", want, 32, &len);
    ASSERT_MEM_EQ(prk, want, 32);
    field(c, "c2s", want, 32, &len);
    ASSERT_MEM_EQ(c2s, want, 32);
    field(c, "s2c", want, 32, &len);
    ASSERT_MEM_EQ(s2c, want, 32);
    if (kex == EW__KEX_X25519) {
      uint8_t mine[32], msg[EW__SIG_INPUT];
      ASSERT_OK(ew__x25519_raw(cpriv, spub, mine));
      ASSERT_MEM_EQ(mine, shared, 32);
      ew__sig_input(th, msg);
      ASSERT_OK(ew__ed25519_verify(ed_pub, msg, sizeof msg, sh + 68));
    } else {
      uint8_t conf[32];
      ASSERT_OK(ew__confirm(prk, th, conf));
      ASSERT_MEM_EQ(conf, sh + 36, 32);
    }
    ew__dir_t ctx_tx, srv_rx, srv_tx, ctx_rx;
    ASSERT_OK(ew__dir_init(&ctx_tx, cipher, c2s, 1));
    ASSERT_OK(ew__dir_init(&srv_rx, cipher, c2s, 0));
    ASSERT_OK(ew__dir_init(&srv_tx, cipher, s2c, 1));
    ASSERT_OK(ew__dir_init(&ctx_rx, cipher, s2c, 0));
    field(c, "c2s_key", want, 32, &len);
    ASSERT_MEM_EQ(srv_rx.key, want, 32);
    const char *at = strstr(c, "\"client_frames\"");
    at = check_frame(at, &srv_rx, &ctx_tx);
    at = check_frame(at, &srv_rx, &ctx_tx);
    check_frame(strstr(c, "\"server_frames\""), &ctx_rx, &srv_tx);
    check_frame(strstr(c, "\"client_key_update\""), &srv_rx, &ctx_tx);
    ASSERT_OK(ew__dir_update(&srv_rx, 0));
    ASSERT_OK(ew__dir_update(&ctx_tx, 1));
    field(c, "c2s_updated", want, 32, &len);
    ASSERT_MEM_EQ(srv_rx.secret, want, 32);
    check_frame(strstr(c, "\"client_frame_after_update\""), &srv_rx, &ctx_tx);
    ew__dir_free(&ctx_tx);
    ew__dir_free(&srv_rx);
    ew__dir_free(&srv_tx);
    ew__dir_free(&ctx_rx);
  }
  ASSERT_EQ(cases, 6);
}

EW_TEST_MAIN(EW_TEST(test_hkdf_rfc5869_case1), EW_TEST(test_x25519_rfc7748),
             EW_TEST(test_aes_256_gcm_kat), EW_TEST(test_chacha20_poly1305_rfc8439),
             EW_TEST(test_ed25519_rfc8032_test1), EW_TEST(test_rsa_oaep_round_trip),
             EW_TEST(test_records_round_trip), EW_TEST(test_records_refuse_tampering),
             EW_TEST(test_records_refuse_replay_reorder_truncation),
             EW_TEST(test_cbc_bad_padding_and_bad_mac_look_alike),
             EW_TEST(test_vectors_of_the_reference_client))
