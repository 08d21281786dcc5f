/*
 * tsig_server.c - see tsig_server.h.
 */
#include <criterion/criterion.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "support.h"
#include "tsig_server.h"
#include "update.h"

void ft_bytes_put(bytes *m, const void *p, size_t n) {
  if (n == 0)
    return;
  cr_assert_leq(m->n + n, sizeof m->b);
  memcpy(m->b + m->n, p, n);
  m->n += n;
}

void ft_bytes_put16(bytes *m, unsigned v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  ft_bytes_put(m, b, 2);
}

/* A dotted name without escapes, in wire form. */
void ft_bytes_put_name(bytes *m, const char *name) {
  while (*name != '\0') {
    const char *dot = strchr(name, '.');
    size_t len = dot ? (size_t)(dot - name) : strlen(name);
    uint8_t l = (uint8_t)len;
    ft_bytes_put(m, &l, 1);
    ft_bytes_put(m, name, len);
    name += len + (dot ? 1 : 0);
  }
  ft_bytes_put(m, "", 1);
}

void ft_bytes_put48(bytes *m, uint64_t v) {
  ft_bytes_put16(m, (unsigned)(v >> 32));
  ft_bytes_put16(m, (unsigned)(v >> 16) & 0xffff);
  ft_bytes_put16(m, (unsigned)v & 0xffff);
}

void ft_server_sign(bytes *reply, const uint8_t *req_mac,
                        size_t req_mac_len, const srv_sig *s) {
  bytes d, rdata;
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned mac_len = 0;
  const EVP_MD *md =
      strcmp(s->alg, "hmac-sha512") == 0 ? EVP_sha512() : EVP_sha256();
  unsigned arcount = (unsigned)reply->b[10] << 8 | reply->b[11];
  char lower[256];
  size_t i;
  /* The digest has the key name in canonical (lowercase) form. */
  for (i = 0; s->key_name[i] != '\0' && i + 1 < sizeof lower; i++)
    lower[i] = (char)(s->key_name[i] >= 'A' && s->key_name[i] <= 'Z'
                          ? s->key_name[i] - 'A' + 'a'
                          : s->key_name[i]);
  lower[i] = '\0';
  d.n = rdata.n = 0;
  if (req_mac_len > 0) {
    ft_bytes_put16(&d, (unsigned)req_mac_len);
    ft_bytes_put(&d, req_mac, req_mac_len);
  }
  ft_bytes_put(&d, reply->b, reply->n);
  ft_bytes_put_name(&d, lower);
  ft_bytes_put16(&d, 255);
  ft_bytes_put16(&d, 0);
  ft_bytes_put16(&d, 0);
  ft_bytes_put_name(&d, s->alg);
  ft_bytes_put48(&d, s->time);
  ft_bytes_put16(&d, s->fudge);
  ft_bytes_put16(&d, s->error);
  ft_bytes_put16(&d, (unsigned)s->other_len);
  ft_bytes_put(&d, s->other, s->other_len);
  if (!s->no_mac)
    cr_assert_not_null(HMAC(md, s->secret, (int)strlen(s->secret), d.b, d.n,
                            mac, &mac_len));
  ft_bytes_put_name(&rdata, s->alg);
  ft_bytes_put48(&rdata, s->time);
  ft_bytes_put16(&rdata, s->fudge);
  ft_bytes_put16(&rdata, mac_len);
  ft_bytes_put(&rdata, mac, mac_len);
  ft_bytes_put(&rdata, reply->b, 2);
  ft_bytes_put16(&rdata, s->error);
  ft_bytes_put16(&rdata, (unsigned)s->other_len);
  ft_bytes_put(&rdata, s->other, s->other_len);
  ft_bytes_put_name(reply, s->key_name);
  ft_bytes_put16(reply, FO__TYPE_TSIG);
  ft_bytes_put16(reply, 255);
  ft_bytes_put16(reply, 0);
  ft_bytes_put16(reply, 0);
  ft_bytes_put16(reply, (unsigned)rdata.n);
  ft_bytes_put(reply, rdata.b, rdata.n);
  reply->b[10] = (uint8_t)((arcount + 1) >> 8);
  reply->b[11] = (uint8_t)(arcount + 1);
}

srv_sig ft_default_sig(void) {
  srv_sig s;
  memset(&s, 0, sizeof s);
  s.key_name = "ft-key";
  s.alg = "hmac-sha256";
  s.secret = SECRET_BYTES;
  s.time = NOW;
  s.fudge = 300;
  return s;
}

void ft_make_key(fo__tsig_key *key, const char *alg) {
  FT_OK(fo__tsig_key_init(key, "FT-Key.", alg, SECRET));
  cr_assert_str_eq(key->name, "ft-key");
  cr_assert_eq(key->secret_len, strlen(SECRET_BYTES));
  cr_assert_eq(memcmp(key->secret, SECRET_BYTES, key->secret_len), 0);
}

/* A signed request and the unsigned reply (QR, RCODE, zone section). */
void ft_request_and_reply(const fo__tsig_key *key, bytes *req,
                              uint8_t mac[FO__TSIG_MAC_MAX], size_t *mac_len,
                              bytes *reply, unsigned rcode) {
  fo__update u;
  size_t zone_end;
  FT_OK(fo__update_begin(&u, req->b, sizeof req->b, 0xbeef, "example.com"));
  zone_end = u.len;
  FT_OK(fo__update_add(&u, "www.example.com", FO__TYPE_A, 60, "192.0.2.7"));
  req->n = fo__update_finish(&u);
  FT_OK(fo__tsig_sign(key, req->b, &req->n, sizeof req->b, NOW, mac,
                      mac_len));
  reply->n = 0;
  ft_bytes_put(reply, req->b, zone_end);
  reply->b[2] |= 0x80;
  reply->b[3] = (uint8_t)rcode;
  memset(reply->b + 6, 0, 6);
}

