/*
 * wire_build.c - writing names and queries (RFC 1035 4.1). Names are never
 * compressed: a query holds one name, and uncompressed output is the one
 * form every server accepts.
 */
#include "wire.h"

#include <string.h>

#define NAME_WIRE_MAX 255
#define QUESTION_FIXED_LEN 4 /* qtype, qclass */

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* Decode one character of presentation text at `*p`: a plain printable
 * character, \DDD (decimal, at most 255) or \X for a literal X. Space,
 * control and non-ASCII bytes must be escaped: they are not written bare
 * by fo__dns_read_name either. Returns the octet, or -1. */
static int next_octet(const char **p) {
  const char *s = *p;
  int v;
  if (*s != '\\') {
    unsigned char c = (unsigned char)*s;
    if (c <= 0x20 || c >= 0x7f)
      return -1;
    *p = s + 1;
    return c;
  }
  s++;
  if (is_digit(s[0])) {
    if (!is_digit(s[1]) || !is_digit(s[2]))
      return -1;
    v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (v > 255)
      return -1;
    *p = s + 3;
    return v;
  }
  if (*s == '\0')
    return -1;
  *p = s + 1;
  return (unsigned char)*s;
}

/*
 * Encode into `wire` (NAME_WIRE_MAX octets). Syntax errors win over length
 * so that garbage is called garbage, as in names.c; the whole text is
 * scanned even after the name is known to be too long.
 */
static int encode_name(const char *name, uint8_t wire[NAME_WIRE_MAX]) {
  const char *p = name;
  size_t n = 0, lab = 0, lablen = 0;
  int too_long = 0;
  if (name[0] == '\0' || (name[0] == '.' && name[1] == '\0')) {
    wire[0] = 0;
    return 1;
  }
  n = 1; /* room for the first length octet at wire[0] */
  for (;;) {
    if (*p == '.' || *p == '\0') {
      int last = *p == '\0' || p[1] == '\0';
      if (lablen == 0)
        return FO_EBADNAME;
      if (lablen > FO_LABEL_MAX)
        too_long = 1;
      else if (lab < NAME_WIRE_MAX)
        wire[lab] = (uint8_t)lablen;
      if (last)
        break;
      p++;
      lab = n++;
      lablen = 0;
      continue;
    }
    {
      int o = next_octet(&p);
      if (o < 0)
        return FO_EBADNAME;
      if (n < NAME_WIRE_MAX)
        wire[n] = (uint8_t)o;
      n++;
      lablen++;
    }
  }
  if (too_long || n + 1 > NAME_WIRE_MAX)
    return FO_ENAMETOOLONG;
  wire[n++] = 0;
  return (int)n;
}

int fo__dns_write_name(const char *name, uint8_t *out, size_t size) {
  uint8_t wire[NAME_WIRE_MAX];
  int n;
  if (name == NULL || (out == NULL && size > 0))
    return FO_EINVAL;
  n = encode_name(name, wire);
  if (n < 0)
    return n;
  if ((size_t)n > size)
    return FO_ENOSPC;
  memcpy(out, wire, (size_t)n);
  return n;
}

int fo__dns_build_query(uint16_t id, const char *name, uint16_t qtype, int rd,
                        uint8_t *out, size_t size) {
  uint8_t wire[NAME_WIRE_MAX];
  size_t total;
  int n;
  if (name == NULL || (out == NULL && size > 0))
    return FO_EINVAL;
  n = encode_name(name, wire);
  if (n < 0)
    return n;
  total = FO__DNS_HEADER_LEN + (size_t)n + QUESTION_FIXED_LEN;
  if (total > size)
    return FO_ENOSPC;
  memset(out, 0, FO__DNS_HEADER_LEN);
  put16(out, id);
  /* QR=0, opcode QUERY, only RD may be set; no EDNS. */
  put16(out + 2, rd ? 0x0100u : 0u);
  put16(out + 4, 1);
  memcpy(out + FO__DNS_HEADER_LEN, wire, (size_t)n);
  put16(out + FO__DNS_HEADER_LEN + n, qtype);
  put16(out + FO__DNS_HEADER_LEN + n + 2, FO__CLASS_IN);
  return (int)total;
}
