/*
 * names.h - validation and normalisation of DNS names, labels and IP
 * literals (RFC 1035 2.3.1 / RFC 1123 2.1 host-name syntax).
 */
#ifndef FO_NAMES_H
#define FO_NAMES_H

#include <failover.h>

#define FO__IPV4_TEXT 16

/* Validate a single label and copy it lowercase into `out`.
 * Returns 0, FO_EINVAL (NULL), FO_EBADNAME, FO_ENAMETOOLONG. */
int fo__label_normalize(const char *in, char out[FO_LABEL_MAX + 1]);

/* Validate a name of one or more labels (one trailing dot accepted) and copy
 * it lowercase without the dot into `out`; `*len` gets its length.
 * Returns 0, FO_EINVAL, FO_EBADNAME, FO_ENAMETOOLONG. */
int fo__name_normalize(const char *in, char out[FO_NAME_BUFSIZE],
                       size_t *len);

/* Same for a name given as (text, length), not NUL-terminated. */
int fo__name_normalize_n(const char *in, size_t n, char out[FO_NAME_BUFSIZE],
                         size_t *len);

/* Case-insensitive equality of two ASCII strings of length n. */
int fo__ascii_eq_n(const char *a, const char *b, size_t n);

/* Parse an IPv4 / IPv6 literal into canonical text ("" for NULL input).
 * Returns 0 or FO_EBADADDR. */
int fo__ipv4_canonical(const char *in, char out[FO__IPV4_TEXT]);
int fo__ipv6_canonical(const char *in, char out[FO_IP_BUFSIZE]);

#endif
