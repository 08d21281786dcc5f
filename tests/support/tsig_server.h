/*
 * tsig_server.h - a small TSIG "server" for tests: replies signed here with
 * OpenSSL's HMAC() straight from RFC 8945 4.3, independent of the
 * library's own layout; message-building helpers and a test key.
 */
#ifndef FT_TSIG_SERVER_H
#define FT_TSIG_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "tsig.h"

#define NOW 1700000000u
#define SECRET "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTAxMjM0NTY3ODk="
#define SECRET_BYTES "secret-secret-secret-secret-0123456789"

typedef struct bytes {
  uint8_t b[2048];
  size_t n;
} bytes;

/* What a server signs and appends (RFC 8945 4.3.1, 4.3.3). */
typedef struct srv_sig {
  const char *key_name;
  const char *alg;        /* "hmac-sha256" */
  const char *secret;     /* raw bytes */
  uint64_t time;
  unsigned fudge;
  unsigned error;
  const uint8_t *other;
  size_t other_len;
  int no_mac;             /* unsigned error answer: MAC size 0 */
} srv_sig;

/* Build messages by hand. */
void ft_bytes_put(bytes *m, const void *p, size_t n);
void ft_bytes_put16(bytes *m, unsigned v);
void ft_bytes_put_name(bytes *m, const char *name);
void ft_bytes_put48(bytes *m, uint64_t v);
/* Append a TSIG RR signed with `s` over `reply` (prefixed by the request
 * MAC when req_mac_len > 0), as a server does. */
void ft_server_sign(bytes *reply, const uint8_t *req_mac, size_t req_mac_len,
                    const srv_sig *s);
/* ft-key, hmac-sha256, SECRET_BYTES, NOW, fudge 300. */
srv_sig ft_default_sig(void);
/* The library's key "ft-key" with SECRET and algorithm `alg`. */
void ft_make_key(fo__tsig_key *key, const char *alg);
/* A signed UPDATE request and its unsigned reply (QR, RCODE, zone
 * section only). */
void ft_request_and_reply(const fo__tsig_key *key, bytes *req,
                          uint8_t mac[FO__TSIG_MAC_MAX], size_t *mac_len,
                          bytes *reply, unsigned rcode);

#endif
