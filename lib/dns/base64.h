/*
 * base64.h - decoding the base64 (RFC 4648 4) of TSIG secrets.
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

#endif
