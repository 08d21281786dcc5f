/*
 * base64.h - base64 (RFC 4648 4): decoding TSIG secrets and etcd's JSON
 * values, encoding etcd's keys and values. A pure codec (no I/O), in the
 * model layer so that both the DNS layer and the store backends use it.
 */
#ifndef FO_BASE64_H
#define FO_BASE64_H

#include <stddef.h>

/*
 * Decode `n` characters of base64 text into `out` (room for `cap` octets),
 * skipping whitespace; the final padding may be left out. `*outlen` gets
 * the number of octets. On failure `out` may hold part of the result: a
 * caller decoding a secret wipes it.
 * Returns 0, FO_EINVAL (not base64) or FO_ERANGE (more than `cap` octets).
 */
int fo__base64_decode(const char *in, size_t n, unsigned char *out,
                      size_t cap, size_t *outlen);

/* Characters fo__base64_encode() writes for `n` octets (padded), without
 * a terminating NUL. */
#define FO__BASE64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)

/* Encode `n` octets into `out` (room for FO__BASE64_ENCODED_LEN(n)
 * characters; no NUL is written), padded with '='. */
void fo__base64_encode(const void *in, size_t n, char *out);

#endif
