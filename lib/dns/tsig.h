/*
 * tsig.h - TSIG (RFC 8945) with hmac-sha256 and hmac-sha512, HMACs from
 * OpenSSL's libcrypto. Pure: bytes in, bytes out; the time is passed in.
 */
#ifndef FO_TSIG_H
#define FO_TSIG_H

#include "wire.h"

#define FO__TYPE_TSIG 250
#define FO__TSIG_FUDGE 300
#define FO__TSIG_MAC_MAX 64
#define FO__TSIG_SECRET_MAX 128

/* TSIG error codes of the TSIG RR (RFC 8945 3). */
#define FO__TSIG_BADSIG 16
#define FO__TSIG_BADKEY 17
#define FO__TSIG_BADTIME 18
#define FO__TSIG_BADTRUNC 22

typedef enum fo__tsig_alg {
  FO__TSIG_HMAC_SHA256 = 1,
  FO__TSIG_HMAC_SHA512 = 2
} fo__tsig_alg;

typedef struct fo__tsig_key {
  char name[FO_NAME_BUFSIZE]; /* lowercase, no trailing dot */
  fo__tsig_alg alg;
  unsigned char secret[FO__TSIG_SECRET_MAX];
  size_t secret_len;
} fo__tsig_key;

/* Build a key from its name, algorithm ("hmac-sha256", "hmac-sha512", any
 * case) and base64 secret. Returns 0, FO_EINVAL, FO_EBADNAME, FO_ERANGE
 * (secret empty or too long), FO_EBADKEY (unknown algorithm, bad base64). */
int fo__tsig_key_init(fo__tsig_key *key, const char *name, const char *alg,
                      const char *secret_base64);

/* Parse BIND-style key-file text (key "name" { algorithm ...; secret
 * "..."; };, also what keymgr -t prints): the key named `name`, or the first
 * when `name` is NULL. Returns 0, FO_ENOENT (no such key), FO_EMALFORMED,
 * or an fo__tsig_key_init() code. */
int fo__tsig_key_parse_text(fo__tsig_key *key, const char *text,
                            const char *name);

/* Overwrite the secret so it does not linger in freed memory. */
void fo__tsig_key_wipe(fo__tsig_key *key);

/*
 * Sign the message in buf[0..*len) (its ID as it will be sent): append a
 * TSIG RR with `now` (seconds since the epoch) and fudge FO__TSIG_FUDGE,
 * increment ARCOUNT, and update *len. The request MAC is copied to `mac`
 * (`*mac_len` bytes) for verifying the reply.
 * Returns 0, FO_ENOSPC (buf unchanged), FO_EINVAL (no usable key, message
 * shorter than a header), FO_ERANGE (ARCOUNT full), FO_ENOMEM (libcrypto).
 */
int fo__tsig_sign(const fo__tsig_key *key, uint8_t *buf, size_t *len,
                  size_t cap, uint64_t now, uint8_t mac[FO__TSIG_MAC_MAX],
                  size_t *mac_len);

/*
 * Verify a signed reply to a request whose MAC was `req_mac`: the TSIG RR
 * must be the last additional record, name the same key and algorithm, MAC
 * the message (ARCOUNT decremented, original ID) prefixed by the request
 * MAC, in constant time, and be within the fudge of `now`.
 *
 * `req_mac_len` 0 leaves the request MAC (and its length) out of the
 * digest, as for a message that answers nothing.
 *
 * Returns 0; FO_EUNSIGNED (no TSIG RR); FO_EBADKEY / FO_EBADSIG /
 * FO_EBADTIME (the server's TSIG error, or our own finding); FO_EMALFORMED
 * (also: TSIG not last, or bytes after it); FO_EINVAL; FO_ENOMEM.
 * An unsigned reply to a signed request (e.g. the server's BADKEY answer,
 * which it cannot sign) is reported through the TSIG error field when the
 * RR is present, else FO_EUNSIGNED.
 */
int fo__tsig_verify(const fo__tsig_key *key, const uint8_t *msg, size_t len,
                    const uint8_t *req_mac, size_t req_mac_len, uint64_t now);

/* The TSIG error (BADKEY, BADSIG, BADTIME) a message's TSIG RR carries, as
 * FO_EBADKEY / FO_EBADSIG / FO_EBADTIME, unverified (a server cannot sign
 * those); 0 when there is none or no well-formed TSIG RR. */
int fo__tsig_error_of(const uint8_t *msg, size_t len);

/*
 * A stream of signed messages answering one signed request (a zone
 * transfer, RFC 8945 5.3.1). The first message is verified against the
 * request MAC as fo__tsig_verify() does. Every later message that carries
 * a TSIG RR is verified with the chaining rule: the HMAC over the prior MAC
 * (length + MAC), every unsigned message since the last signed one (as
 * received), the message without its TSIG RR (ARCOUNT - 1, original ID),
 * then only the timers (time signed, fudge). At most
 * FO__TSIG_MAX_UNSIGNED_RUN unsigned messages may come in a row, and the
 * last message must be signed.
 */
#define FO__TSIG_MAX_UNSIGNED_RUN 99

typedef struct fo__tsig_stream {
  const fo__tsig_key *key; /* not owned: must outlive the stream */
  uint8_t prior_mac[FO__TSIG_MAC_MAX];
  size_t prior_mac_len;
  size_t unsigned_run;
  size_t messages; /* accepted so far */
  /* OpenSSL's EVP_MAC and EVP_MAC_CTX (the running digest), as void
   * pointers so that this header needs no OpenSSL one. */
  void *mac;
  void *ctx;
} fo__tsig_stream;

/* Start with the request's MAC. Returns 0, FO_EINVAL, FO_ENOMEM; nothing to
 * free on failure. */
int fo__tsig_stream_init(fo__tsig_stream *s, const fo__tsig_key *key,
                         const uint8_t *req_mac, size_t req_mac_len);

/* Verify the next message of the stream (`last`: it ends the stream).
 * Returns 0, FO_EUNSIGNED, FO_EBADKEY / FO_EBADSIG / FO_EBADTIME,
 * FO_EMALFORMED, FO_EINVAL, FO_ENOMEM. After a failure the stream is not
 * to be used again (free it). */
int fo__tsig_stream_next(fo__tsig_stream *s, const uint8_t *msg, size_t len,
                         int last, uint64_t now);

/* Release the digest (cleansed). NULL and a failed init are no-ops. */
void fo__tsig_stream_free(fo__tsig_stream *s);

/* The key inside a public fo_tsig_key (tsig_key.c). */
struct fo_tsig_key;
const fo__tsig_key *fo__tsig_key_of(const struct fo_tsig_key *key);

#endif
