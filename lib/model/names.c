/*
 * names.c - DNS name syntax. Kept free of resolver headers: only inet_pton
 * and inet_ntop from <arpa/inet.h> are used for IP literals.
 */
#include "names.h"

#include <arpa/inet.h>
#include <string.h>

static int is_ldh(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-';
}

static char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Check one label of `n` characters. */
static int check_label(const char *s, size_t n) {
  size_t i;
  if (n == 0)
    return FO_EBADNAME;
  for (i = 0; i < n; i++)
    if (!is_ldh((unsigned char)s[i]))
      return FO_EBADNAME;
  if (s[0] == '-' || s[n - 1] == '-')
    return FO_EBADNAME;
  if (n > FO_LABEL_MAX)
    return FO_ENAMETOOLONG;
  return 0;
}

int fo__label_normalize(const char *in, char out[FO_LABEL_MAX + 1]) {
  size_t n, i;
  int rc;
  if (in == NULL || out == NULL)
    return FO_EINVAL;
  n = strlen(in);
  rc = check_label(in, n);
  if (rc != 0)
    return rc;
  for (i = 0; i < n; i++)
    out[i] = lower(in[i]);
  out[n] = '\0';
  return 0;
}

int fo__name_normalize_n(const char *in, size_t n, char out[FO_NAME_BUFSIZE],
                         size_t *len) {
  size_t start = 0, i;
  int too_long = 0;
  if (in == NULL || out == NULL)
    return FO_EINVAL;
  if (n > 0 && in[n - 1] == '.')
    n--;
  if (n == 0)
    return FO_EBADNAME;
  /* Syntax errors win over length so that garbage is called garbage. */
  for (i = 0; i <= n; i++) {
    if (i == n || in[i] == '.') {
      int rc = check_label(in + start, i - start);
      if (rc == FO_ENAMETOOLONG)
        too_long = 1;
      else if (rc != 0)
        return rc;
      start = i + 1;
    }
  }
  if (too_long || n > FO_NAME_MAX)
    return FO_ENAMETOOLONG;
  for (i = 0; i < n; i++)
    out[i] = lower(in[i]);
  out[n] = '\0';
  if (len != NULL)
    *len = n;
  return 0;
}

int fo__name_normalize(const char *in, char out[FO_NAME_BUFSIZE],
                       size_t *len) {
  if (in == NULL)
    return FO_EINVAL;
  return fo__name_normalize_n(in, strlen(in), out, len);
}

int fo__ascii_eq_n(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (lower(a[i]) != lower(b[i]))
      return 0;
  return 1;
}

static int canonical(int family, const char *in, char *out, size_t size) {
  unsigned char bin[16];
  if (in == NULL) {
    out[0] = '\0';
    return 0;
  }
  if (inet_pton(family, in, bin) != 1)
    return FO_EBADADDR;
  if (inet_ntop(family, bin, out, (socklen_t)size) == NULL)
    return FO_EBADADDR;
  return 0;
}

int fo__ipv4_canonical(const char *in, char out[FO__IPV4_TEXT]) {
  return canonical(AF_INET, in, out, FO__IPV4_TEXT);
}

int fo__ipv6_canonical(const char *in, char out[FO_IP_BUFSIZE]) {
  return canonical(AF_INET6, in, out, FO_IP_BUFSIZE);
}
