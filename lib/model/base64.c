/*
 * base64.c - base64 for TSIG secrets and etcd's JSON. Key files written by
 * hand or by other tools wrap and indent secrets, so the decoder skips
 * whitespace; anything else outside the alphabet is refused rather than
 * ignored.
 */
#include "base64.h"

#include <failover.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

int fo__base64_decode(const char *in, size_t n, unsigned char *out,
                      size_t cap, size_t *outlen) {
  unsigned long acc = 0;
  size_t i, got = 0, quad = 0, pad = 0;
  *outlen = 0;
  for (i = 0; i < n; i++) {
    int v;
    if (is_space(in[i]))
      continue;
    if (in[i] == '=') {
      /* Padding only completes a group of two or three characters. */
      if (quad + pad < 2)
        return FO_EINVAL;
      pad++;
      if (quad + pad > 4)
        return FO_EINVAL;
      continue;
    }
    if (pad > 0)
      return FO_EINVAL; /* data after padding */
    v = value(in[i]);
    if (v < 0)
      return FO_EINVAL;
    acc = acc << 6 | (unsigned long)v;
    if (++quad == 4) {
      if (cap - got < 3)
        return FO_ERANGE;
      out[got++] = (unsigned char)(acc >> 16);
      out[got++] = (unsigned char)(acc >> 8);
      out[got++] = (unsigned char)acc;
      quad = 0;
      acc = 0;
    }
  }
  /* A last group of 2 or 3 characters (padded to 4 or not) holds 1 or 2
   * octets; a lone character holds none and is an error. */
  if (quad == 1 || (pad > 0 && quad + pad != 4))
    return FO_EINVAL;
  if (quad >= 2) {
    acc <<= 6 * (4 - quad);
    if (cap - got < quad - 1)
      return FO_ERANGE;
    out[got++] = (unsigned char)(acc >> 16);
    if (quad == 3)
      out[got++] = (unsigned char)(acc >> 8);
  }
  *outlen = got;
  return 0;
}

void fo__base64_encode(const void *in, size_t n, char *out) {
  const unsigned char *p = in;
  size_t i;
  for (i = 0; i + 2 < n; i += 3) {
    unsigned long v =
        (unsigned long)p[i] << 16 | (unsigned long)p[i + 1] << 8 | p[i + 2];
    *out++ = alphabet[v >> 18 & 63];
    *out++ = alphabet[v >> 12 & 63];
    *out++ = alphabet[v >> 6 & 63];
    *out++ = alphabet[v & 63];
  }
  if (i < n) {
    unsigned long v = (unsigned long)p[i] << 16;
    if (i + 1 < n)
      v |= (unsigned long)p[i + 1] << 8;
    *out++ = alphabet[v >> 18 & 63];
    *out++ = alphabet[v >> 12 & 63];
    *out++ = i + 1 < n ? alphabet[v >> 6 & 63] : '=';
    *out = '=';
  }
}
