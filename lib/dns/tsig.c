/*
 * tsig.c - signing requests and verifying replies with TSIG (RFC 8945).
 * The HMAC is OpenSSL's; this file only lays out what goes into it. Names
 * in the digest are in canonical form (lowercase, uncompressed), whatever
 * the message itself carries.
 */
#include "tsig.h"
#include "update.h" /* FO__CLASS_ANY */
#include "wire_internal.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#define NAME_WIRE_MAX 255
#define TIME_LEN 6                /* 48-bit time signed */
#define TAIL_LEN 6                /* original ID, error, other len */
#define TIME_FUDGE_LEN (TIME_LEN + 2)
/* key name, class, TTL, algorithm, time, fudge, error, other len */
#define VARS_MAX (2 * NAME_WIRE_MAX + 6 + TIME_FUDGE_LEN + 4)
#define PIECES_MAX 6

typedef struct piece {
  const uint8_t *p;
  size_t n;
} piece;

static const char *alg_text(fo__tsig_alg alg) {
  return alg == FO__TSIG_HMAC_SHA512 ? "hmac-sha512" : "hmac-sha256";
}

static size_t alg_mac_len(fo__tsig_alg alg) {
  return alg == FO__TSIG_HMAC_SHA512 ? 64 : 32;
}

static int key_usable(const fo__tsig_key *key) {
  return key != NULL && key->secret_len > 0 &&
         key->secret_len <= sizeof key->secret &&
         (key->alg == FO__TSIG_HMAC_SHA256 || key->alg == FO__TSIG_HMAC_SHA512);
}

/* Canonical wire form: uncompressed, ASCII lowercased (RFC 8945 4.3.3). */
static int canonical_name(const char *text, uint8_t out[NAME_WIRE_MAX]) {
  int n = fo__dns_write_name(text, out, NAME_WIRE_MAX), i = 0;
  if (n < 0)
    return n;
  while (out[i] != 0) {
    int j, lab = out[i];
    for (j = i + 1; j <= i + lab; j++)
      if (out[j] >= 'A' && out[j] <= 'Z')
        out[j] = (uint8_t)(out[j] - 'A' + 'a');
    i += lab + 1;
  }
  return n;
}

static int hmac(const fo__tsig_key *key, const piece *pieces, size_t count,
                uint8_t out[FO__TSIG_MAC_MAX], size_t *out_len) {
  char digest[8];
  OSSL_PARAM params[2];
  EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
  size_t i;
  int ok;
  memcpy(digest, key->alg == FO__TSIG_HMAC_SHA512 ? "SHA512" : "SHA256", 7);
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest,
                                               0);
  params[1] = OSSL_PARAM_construct_end();
  ok = ctx != NULL &&
       EVP_MAC_init(ctx, key->secret, key->secret_len, params) == 1;
  for (i = 0; ok && i < count; i++)
    if (pieces[i].n > 0)
      ok = EVP_MAC_update(ctx, pieces[i].p, pieces[i].n) == 1;
  ok = ok && EVP_MAC_final(ctx, out, out_len, FO__TSIG_MAC_MAX) == 1;
  /* The context holds the keyed state: freeing it cleanses it. */
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  return ok ? 0 : FO_ENOMEM;
}

static void put48(uint8_t *p, uint64_t v) {
  int i;
  for (i = 5; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

static uint64_t get48(const uint8_t *p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 6; i++)
    v = v << 8 | p[i];
  return v;
}

/* The TSIG variables up to the other data (RFC 8945 4.3.3), from the key
 * and the raw class, TTL, time, fudge and error fields. */
static size_t put_vars(uint8_t *out, const uint8_t *key_wire, size_t key_n,
                       const uint8_t *alg_wire, size_t alg_n,
                       const uint8_t class_ttl[6],
                       const uint8_t time_fudge[TIME_FUDGE_LEN],
                       const uint8_t error_other_len[4]) {
  size_t n = 0;
  memcpy(out, key_wire, key_n);
  n += key_n;
  memcpy(out + n, class_ttl, 6);
  n += 6;
  memcpy(out + n, alg_wire, alg_n);
  n += alg_n;
  memcpy(out + n, time_fudge, TIME_FUDGE_LEN);
  n += TIME_FUDGE_LEN;
  memcpy(out + n, error_other_len, 4);
  return n + 4;
}

int fo__tsig_sign(const fo__tsig_key *key, uint8_t *buf, size_t *len,
                  size_t cap, uint64_t now, uint8_t mac[FO__TSIG_MAC_MAX],
                  size_t *mac_len) {
  static const uint8_t class_ttl[6] = {0, FO__CLASS_ANY, 0, 0, 0, 0};
  static const uint8_t no_error[4] = {0, 0, 0, 0};
  uint8_t key_wire[NAME_WIRE_MAX], alg_wire[NAME_WIRE_MAX];
  uint8_t time_fudge[TIME_FUDGE_LEN], vars[VARS_MAX], digest[FO__TSIG_MAC_MAX];
  piece pieces[2];
  size_t key_n, alg_n, rdlen, need, digest_len = 0, at;
  unsigned arcount;
  int n, rc;
  if (!key_usable(key) || buf == NULL || len == NULL || mac == NULL ||
      mac_len == NULL || *len < FO__DNS_HEADER_LEN || *len > cap)
    return FO_EINVAL;
  arcount = fo__get16(buf + 10);
  if (arcount == 0xffff)
    return FO_ERANGE;
  if ((n = canonical_name(key->name, key_wire)) < 0)
    return FO_EINVAL;
  key_n = (size_t)n;
  alg_n = (size_t)canonical_name(alg_text(key->alg), alg_wire);
  rdlen = alg_n + TIME_FUDGE_LEN + 2 + alg_mac_len(key->alg) + TAIL_LEN;
  need = key_n + FO__RR_FIXED_LEN + rdlen;
  if (cap > FO__DNS_MAX_UDP)
    cap = FO__DNS_MAX_UDP;
  if (*len > cap || cap - *len < need)
    return FO_ENOSPC;

  put48(time_fudge, now);
  fo__put16(time_fudge + TIME_LEN, FO__TSIG_FUDGE);
  pieces[0].p = buf;
  pieces[0].n = *len;
  pieces[1].p = vars;
  pieces[1].n = put_vars(vars, key_wire, key_n, alg_wire, alg_n, class_ttl,
                         time_fudge, no_error);
  rc = hmac(key, pieces, 2, digest, &digest_len);
  if (rc != 0)
    return rc;

  at = *len;
  memcpy(buf + at, key_wire, key_n);
  at += key_n;
  fo__put16(buf + at, FO__TYPE_TSIG);
  fo__put16(buf + at + 2, FO__CLASS_ANY);
  fo__put32(buf + at + 4, 0);
  fo__put16(buf + at + 8, (unsigned)rdlen);
  at += FO__RR_FIXED_LEN;
  memcpy(buf + at, alg_wire, alg_n);
  at += alg_n;
  memcpy(buf + at, time_fudge, TIME_FUDGE_LEN);
  at += TIME_FUDGE_LEN;
  fo__put16(buf + at, (unsigned)digest_len);
  memcpy(buf + at + 2, digest, digest_len);
  at += 2 + digest_len;
  memcpy(buf + at, buf, 2); /* original ID */
  fo__put16(buf + at + 2, 0); /* error */
  fo__put16(buf + at + 4, 0); /* other len */
  at += TAIL_LEN;
  fo__put16(buf + 10, arcount + 1);
  *len = at;
  memcpy(mac, digest, digest_len);
  *mac_len = digest_len;
  return 0;
}

/* ---- verifying a reply --------------------------------------------------- */

typedef struct tsig_find {
  size_t count;      /* records seen */
  size_t tsigs;      /* TSIG records seen */
  size_t index;      /* position of the (last) TSIG record */
  size_t offset;     /* its offset */
  int section;
} tsig_find;

static int find_tsig(int section, const fo__dns_rr *rr, size_t rr_offset,
                     void *userdata) {
  tsig_find *f = userdata;
  if (rr->type == FO__TYPE_TSIG) {
    f->tsigs++;
    f->index = f->count;
    f->offset = rr_offset;
    f->section = section;
  }
  f->count++;
  return 0;
}

/* The fields of the TSIG RR, pointing into the message. */
typedef struct tsig_rr {
  char owner[FO_NAME_BUFSIZE];
  char alg[FO_NAME_BUFSIZE];
  const uint8_t *class_ttl;  /* 6 octets */
  const uint8_t *time_fudge; /* 8 octets */
  const uint8_t *mac;
  size_t mac_len;
  const uint8_t *tail;       /* original ID, error, other len: 6 octets */
  const uint8_t *other;
  size_t other_len;
} tsig_rr;

/* Read the TSIG RR at `off`, which must end the message exactly: bytes
 * after it would not be covered by the MAC. */
static int read_tsig(const uint8_t *msg, size_t len, size_t off, tsig_rr *t) {
  size_t end;
  if (fo__dns_walk_name(msg, len, &off, t->owner) != 0 ||
      len - off < FO__RR_FIXED_LEN)
    return FO_EMALFORMED;
  t->class_ttl = msg + off + 2;
  end = off + FO__RR_FIXED_LEN + fo__get16(msg + off + 8);
  if (fo__get16(t->class_ttl) != FO__CLASS_ANY || end != len)
    return FO_EMALFORMED;
  off += FO__RR_FIXED_LEN;
  /* Reading with `end` as the limit keeps the name inside the RDATA. */
  if (fo__dns_walk_name(msg, end, &off, t->alg) != 0 ||
      end - off < TIME_FUDGE_LEN + 2)
    return FO_EMALFORMED;
  t->time_fudge = msg + off;
  t->mac_len = fo__get16(msg + off + TIME_FUDGE_LEN);
  off += TIME_FUDGE_LEN + 2;
  if (end - off < t->mac_len)
    return FO_EMALFORMED;
  t->mac = msg + off;
  off += t->mac_len;
  if (end - off < TAIL_LEN)
    return FO_EMALFORMED;
  t->tail = msg + off;
  t->other_len = fo__get16(t->tail + 4);
  off += TAIL_LEN;
  if (end - off != t->other_len)
    return FO_EMALFORMED;
  t->other = msg + off;
  return 0;
}

static int tsig_error(unsigned error) {
  switch (error) {
  case FO__TSIG_BADKEY:
    return FO_EBADKEY;
  case FO__TSIG_BADTIME:
    return FO_EBADTIME;
  default: /* BADSIG, BADTRUNC, anything newer */
    return FO_EBADSIG;
  }
}

/* Where the message's TSIG RR is, decoded: FO_EUNSIGNED when there is
 * none. RFC 8945 5.1: one TSIG, the last record of the additional
 * section, ending the message. */
static int locate_tsig(const uint8_t *msg, size_t len, size_t *offset,
                       tsig_rr *t) {
  tsig_find f;
  memset(&f, 0, sizeof f);
  if (fo__dns_each_rr(msg, len, find_tsig, &f) != 0)
    return FO_EMALFORMED;
  if (f.tsigs == 0)
    return FO_EUNSIGNED;
  if (f.tsigs > 1 || f.index + 1 != f.count || f.section != 3)
    return FO_EMALFORMED;
  if (read_tsig(msg, len, f.offset, t) != 0)
    return FO_EMALFORMED;
  *offset = f.offset;
  return 0;
}

/* The key's name and algorithm in canonical wire form. */
typedef struct key_wire {
  uint8_t name[NAME_WIRE_MAX], alg[NAME_WIRE_MAX];
  size_t name_n, alg_n;
} key_wire;

static int key_to_wire(const fo__tsig_key *key, key_wire *w) {
  int n = canonical_name(key->name, w->name);
  if (n < 0)
    return FO_EINVAL;
  w->name_n = (size_t)n;
  w->alg_n = (size_t)canonical_name(alg_text(key->alg), w->alg);
  return 0;
}

/* The RR names our key (owner) and its algorithm, and is not an error the
 * server could not sign. Returns 0 or the code to report. */
static int check_rr(const fo__tsig_key *key, const key_wire *w,
                    const tsig_rr *t) {
  uint8_t owner_wire[256];
  unsigned error;
  /* The owner as read is lowercase text: encode it again to compare the
   * wire forms, which escapes cannot disguise. */
  int n = fo__dns_write_name(t->owner, owner_wire, sizeof owner_wire);
  if (n < 0 || (size_t)n != w->name_n ||
      memcmp(owner_wire, w->name, w->name_n) != 0 ||
      strcmp(t->alg, alg_text(key->alg)) != 0)
    return FO_EBADKEY;
  error = fo__get16(t->tail + 2);
  /* A server cannot sign its BADKEY or BADSIG answer (RFC 8945 5.3.2):
   * the error is all there is to report. */
  if (error != 0 && t->mac_len == 0)
    return tsig_error(error);
  /* Truncated MACs (RFC 8945 5.2.2.1) are not accepted: full length only. */
  return t->mac_len == alg_mac_len(key->alg) ? 0 : FO_EBADSIG;
}

/* After the MAC verified: a signed error, or a time outside the fudge (the
 * sender's, but never more than ours). */
static int check_signed(const tsig_rr *t, uint64_t now) {
  unsigned error = fo__get16(t->tail + 2);
  uint64_t signed_at, fudge, skew;
  if (error != 0) /* BADTIME carries the server's clock in other data */
    return tsig_error(error);
  signed_at = get48(t->time_fudge);
  fudge = fo__get16(t->time_fudge + TIME_LEN);
  if (fudge > FO__TSIG_FUDGE)
    fudge = FO__TSIG_FUDGE;
  skew = now > signed_at ? now - signed_at : signed_at - now;
  return skew > fudge ? FO_EBADTIME : 0;
}

/* The message as it was before the TSIG RR was added: the header with the
 * original ID and ARCOUNT - 1. */
static void unsigned_header(const uint8_t *msg, const tsig_rr *t,
                            uint8_t header[FO__DNS_HEADER_LEN]) {
  memcpy(header, msg, FO__DNS_HEADER_LEN);
  memcpy(header, t->tail, 2);
  fo__put16(header + 10, fo__get16(msg + 10) - 1u);
}

int fo__tsig_verify(const fo__tsig_key *key, const uint8_t *msg, size_t len,
                    const uint8_t *req_mac, size_t req_mac_len, uint64_t now) {
  uint8_t prefix[2], header[FO__DNS_HEADER_LEN], vars[VARS_MAX];
  uint8_t digest[FO__TSIG_MAC_MAX];
  piece pieces[PIECES_MAX];
  key_wire w;
  tsig_rr t;
  size_t offset = 0, digest_len = 0, np = 0;
  int rc;
  if (!key_usable(key) || msg == NULL || req_mac_len > FO__TSIG_MAC_MAX ||
      (req_mac == NULL && req_mac_len > 0))
    return FO_EINVAL;
  if ((rc = locate_tsig(msg, len, &offset, &t)) != 0)
    return rc;
  if ((rc = key_to_wire(key, &w)) != 0 || (rc = check_rr(key, &w, &t)) != 0)
    return rc;

  if (req_mac_len > 0) {
    fo__put16(prefix, (unsigned)req_mac_len);
    pieces[np].p = prefix;
    pieces[np++].n = 2;
    pieces[np].p = req_mac;
    pieces[np++].n = req_mac_len;
  }
  unsigned_header(msg, &t, header);
  pieces[np].p = header;
  pieces[np++].n = FO__DNS_HEADER_LEN;
  pieces[np].p = msg + FO__DNS_HEADER_LEN;
  pieces[np++].n = offset - FO__DNS_HEADER_LEN;
  pieces[np].p = vars;
  pieces[np++].n = put_vars(vars, w.name, w.name_n, w.alg, w.alg_n,
                            t.class_ttl, t.time_fudge, t.tail + 2);
  pieces[np].p = t.other;
  pieces[np++].n = t.other_len;
  rc = hmac(key, pieces, np, digest, &digest_len);
  if (rc != 0)
    return rc;
  if (digest_len != t.mac_len || CRYPTO_memcmp(digest, t.mac, t.mac_len) != 0)
    return FO_EBADSIG;
  return check_signed(&t, now);
}

int fo__tsig_error_of(const uint8_t *msg, size_t len) {
  tsig_rr t;
  size_t offset;
  unsigned error;
  if (msg == NULL || locate_tsig(msg, len, &offset, &t) != 0)
    return 0;
  error = fo__get16(t.tail + 2);
  return error == FO__TSIG_BADKEY || error == FO__TSIG_BADSIG ||
                 error == FO__TSIG_BADTIME
             ? tsig_error(error)
             : 0;
}

/* ---- streams (zone transfers) ------------------------------------------ */

/* Start the next digest of the chain: HMAC(prior MAC length, prior MAC). */
static int chain_start(fo__tsig_stream *s) {
  char digest[8];
  OSSL_PARAM params[2];
  uint8_t len2[2];
  memcpy(digest, s->key->alg == FO__TSIG_HMAC_SHA512 ? "SHA512" : "SHA256", 7);
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest,
                                               0);
  params[1] = OSSL_PARAM_construct_end();
  fo__put16(len2, (unsigned)s->prior_mac_len);
  if (EVP_MAC_init(s->ctx, s->key->secret, s->key->secret_len, params) != 1 ||
      EVP_MAC_update(s->ctx, len2, 2) != 1 ||
      EVP_MAC_update(s->ctx, s->prior_mac, s->prior_mac_len) != 1)
    return FO_ENOMEM;
  return 0;
}

static int keep_mac(fo__tsig_stream *s, const tsig_rr *t) {
  memcpy(s->prior_mac, t->mac, t->mac_len);
  s->prior_mac_len = t->mac_len;
  s->unsigned_run = 0;
  return chain_start(s);
}

int fo__tsig_stream_init(fo__tsig_stream *s, const fo__tsig_key *key,
                         const uint8_t *req_mac, size_t req_mac_len) {
  if (s == NULL)
    return FO_EINVAL;
  memset(s, 0, sizeof(*s));
  if (!key_usable(key) || req_mac == NULL || req_mac_len == 0 ||
      req_mac_len > FO__TSIG_MAC_MAX)
    return FO_EINVAL;
  s->key = key;
  memcpy(s->prior_mac, req_mac, req_mac_len);
  s->prior_mac_len = req_mac_len;
  s->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  s->ctx = s->mac != NULL ? EVP_MAC_CTX_new(s->mac) : NULL;
  if (s->ctx == NULL) {
    fo__tsig_stream_free(s);
    return FO_ENOMEM;
  }
  return 0;
}

/* A later message that carries a TSIG RR: the chained digest is the prior
 * MAC, the unsigned messages since, this message without its TSIG RR, and
 * only the timers of the RR (RFC 8945 5.3.1). */
static int verify_chained(fo__tsig_stream *s, const uint8_t *msg,
                          size_t offset, const tsig_rr *t, uint64_t now) {
  uint8_t header[FO__DNS_HEADER_LEN], digest[EVP_MAX_MD_SIZE];
  size_t digest_len = 0;
  key_wire w;
  int rc;
  if ((rc = key_to_wire(s->key, &w)) != 0 ||
      (rc = check_rr(s->key, &w, t)) != 0)
    return rc;
  unsigned_header(msg, t, header);
  if (EVP_MAC_update(s->ctx, header, sizeof(header)) != 1 ||
      EVP_MAC_update(s->ctx, msg + sizeof(header), offset - sizeof(header)) !=
          1 ||
      EVP_MAC_update(s->ctx, t->time_fudge, TIME_FUDGE_LEN) != 1 ||
      EVP_MAC_final(s->ctx, digest, &digest_len, sizeof(digest)) != 1)
    return FO_ENOMEM;
  if (digest_len != t->mac_len ||
      CRYPTO_memcmp(digest, t->mac, t->mac_len) != 0)
    return FO_EBADSIG;
  return check_signed(t, now);
}

int fo__tsig_stream_next(fo__tsig_stream *s, const uint8_t *msg, size_t len,
                         int last, uint64_t now) {
  tsig_rr t;
  size_t offset = 0;
  int rc;
  if (s == NULL || s->ctx == NULL || msg == NULL)
    return FO_EINVAL;
  if (s->messages == 0) {
    /* The first answers the request: its MAC starts the digest. */
    rc = fo__tsig_verify(s->key, msg, len, s->prior_mac, s->prior_mac_len,
                         now);
    if (rc == 0)
      rc = locate_tsig(msg, len, &offset, &t);
  } else {
    rc = locate_tsig(msg, len, &offset, &t);
    if (rc == FO_EUNSIGNED) {
      /* Covered by the next signed one; the last must be signed, and at
       * most FO__TSIG_MAX_UNSIGNED_RUN may come in a row. */
      if (last || ++s->unsigned_run > FO__TSIG_MAX_UNSIGNED_RUN)
        return FO_EUNSIGNED;
      s->messages++;
      return EVP_MAC_update(s->ctx, msg, len) == 1 ? 0 : FO_ENOMEM;
    }
    if (rc == 0)
      rc = verify_chained(s, msg, offset, &t, now);
  }
  if (rc == 0)
    rc = keep_mac(s, &t);
  if (rc == 0)
    s->messages++;
  return rc;
}

void fo__tsig_stream_free(fo__tsig_stream *s) {
  if (s == NULL)
    return;
  EVP_MAC_CTX_free(s->ctx); /* cleanses the keyed state */
  EVP_MAC_free(s->mac);
  OPENSSL_cleanse(s->prior_mac, sizeof(s->prior_mac));
  s->ctx = NULL;
  s->mac = NULL;
}
