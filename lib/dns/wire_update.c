/*
 * wire_update.c - RFC 2136 UPDATE messages. Every record is written whole
 * or not at all, so a caller that hits FO_ENOSPC can roll back to a mark
 * and still finish a valid message.
 */
#include "update.h"
#include "wire_internal.h"

#include <arpa/inet.h>
#include <string.h>

#define NAME_WIRE_MAX 255
#define ZONE_FIXED_LEN 4     /* ztype, zclass */
#define TTL_MAX 0x7fffffffu  /* RFC 2181 8 */
#define FLAGS_UPDATE (FO__OPCODE_UPDATE << 11)

/* Append one RR: owner, fixed part, then `rdlen` bytes of rdata (NULL for
 * none). The message never grows past 65535 octets, so neither can the
 * counts, which each need at least 11 octets per record. */
static int put_rr(fo__update *u, const char *name, uint16_t type,
                  uint16_t rclass, uint32_t ttl, const uint8_t *rdata,
                  size_t rdlen) {
  uint8_t owner[NAME_WIRE_MAX];
  size_t cap = u->cap < FO__DNS_MAX_UDP ? u->cap : FO__DNS_MAX_UDP;
  uint8_t *p;
  int n;
  if (u->buf == NULL || u->len < FO__DNS_HEADER_LEN)
    return FO_EINVAL;
  n = fo__dns_write_name(name, owner, sizeof owner);
  if (n < 0)
    return n;
  if (cap - u->len < (size_t)n + FO__RR_FIXED_LEN + rdlen)
    return FO_ENOSPC;
  p = u->buf + u->len;
  memcpy(p, owner, (size_t)n);
  p += n;
  fo__put16(p, type);
  fo__put16(p + 2, rclass);
  fo__put32(p + 4, ttl);
  fo__put16(p + 8, (unsigned)rdlen);
  if (rdlen > 0)
    memcpy(p + FO__RR_FIXED_LEN, rdata, rdlen);
  u->len += (size_t)n + FO__RR_FIXED_LEN + rdlen;
  return 0;
}

int fo__update_begin(fo__update *u, uint8_t *buf, size_t cap, uint16_t id,
                     const char *zone) {
  uint8_t wire[NAME_WIRE_MAX];
  int n;
  if (u == NULL || zone == NULL || (buf == NULL && cap > 0))
    return FO_EINVAL;
  /* An unusable builder until the header is written: every later call
   * fails with FO_EINVAL and finish returns 0. */
  memset(u, 0, sizeof *u);
  n = fo__dns_write_name(zone, wire, sizeof wire);
  if (n < 0)
    return n;
  if (cap < FO__DNS_HEADER_LEN + (size_t)n + ZONE_FIXED_LEN)
    return FO_ENOSPC;
  memset(buf, 0, FO__DNS_HEADER_LEN);
  fo__put16(buf, id);
  fo__put16(buf + 2, FLAGS_UPDATE);
  fo__put16(buf + 4, 1); /* ZOCOUNT */
  memcpy(buf + FO__DNS_HEADER_LEN, wire, (size_t)n);
  fo__put16(buf + FO__DNS_HEADER_LEN + n, FO__TYPE_SOA);
  fo__put16(buf + FO__DNS_HEADER_LEN + n + 2, FO__CLASS_IN);
  u->buf = buf;
  u->cap = cap;
  u->len = FO__DNS_HEADER_LEN + (size_t)n + ZONE_FIXED_LEN;
  return 0;
}

/* RFC 2136 2.4.4 / 2.4.5: class ANY or NONE, type ANY, no RDATA. */
static int prereq(fo__update *u, const char *name, uint16_t rclass) {
  int rc;
  /* Records are appended in call order and the prerequisite section
   * comes before the update section. */
  if (u == NULL || name == NULL || u->updates > 0)
    return FO_EINVAL;
  rc = put_rr(u, name, FO__TYPE_ANY, rclass, 0, NULL, 0);
  if (rc == 0)
    u->prereqs++;
  return rc;
}

int fo__update_prereq_name_in_use(fo__update *u, const char *name) {
  return prereq(u, name, FO__CLASS_ANY);
}

int fo__update_prereq_name_not_in_use(fo__update *u, const char *name) {
  return prereq(u, name, FO__CLASS_NONE);
}

/* RFC 2136 2.4.2: class IN, TTL 0, the record's RDATA. */
int fo__update_prereq_rrset_value(fo__update *u, const char *name,
                                  uint16_t type, const uint8_t *rdata,
                                  size_t rdlen) {
  int rc;
  if (u == NULL || name == NULL || (rdata == NULL && rdlen > 0) ||
      rdlen > UINT16_MAX || u->updates > 0)
    return FO_EINVAL;
  rc = put_rr(u, name, type, FO__CLASS_IN, 0, rdata, rdlen);
  if (rc == 0)
    u->prereqs++;
  return rc;
}

/* RFC 2136 2.4.3: class NONE, TTL 0, no RDATA. */
int fo__update_prereq_rrset_absent(fo__update *u, const char *name,
                                   uint16_t type) {
  int rc;
  if (u == NULL || name == NULL || u->updates > 0)
    return FO_EINVAL;
  rc = put_rr(u, name, type, FO__CLASS_NONE, 0, NULL, 0);
  if (rc == 0)
    u->prereqs++;
  return rc;
}

/* RFC 2136 2.5.2 / 2.5.3: class ANY, TTL 0, no RDATA. */
int fo__update_delete_rrset(fo__update *u, const char *name, uint16_t type) {
  int rc;
  if (u == NULL || name == NULL)
    return FO_EINVAL;
  rc = put_rr(u, name, type, FO__CLASS_ANY, 0, NULL, 0);
  if (rc == 0)
    u->updates++;
  return rc;
}

int fo__update_delete_name(fo__update *u, const char *name) {
  return fo__update_delete_rrset(u, name, FO__TYPE_ANY);
}

/* RDATA of an added record. A CNAME target is written uncompressed, like
 * every name here: no record points into another, so rolling back to a
 * mark can never leave a pointer to bytes that are gone. */
static int encode_rdata(uint16_t type, const char *text, uint8_t *out,
                        size_t *outlen) {
  size_t len;
  int n;
  switch (type) {
  case FO__TYPE_TXT:
    /* One character-string: a length octet, then the text. */
    len = strlen(text);
    if (len > 255)
      return FO_ERANGE;
    out[0] = (uint8_t)len;
    memcpy(out + 1, text, len);
    *outlen = len + 1;
    return 0;
  case FO__TYPE_CNAME:
    n = fo__dns_write_name(text, out, NAME_WIRE_MAX);
    if (n < 0)
      return n;
    *outlen = (size_t)n;
    return 0;
  case FO__TYPE_A:
    if (inet_pton(AF_INET, text, out) != 1)
      return FO_EBADADDR;
    *outlen = 4;
    return 0;
  case FO__TYPE_AAAA:
    if (inet_pton(AF_INET6, text, out) != 1)
      return FO_EBADADDR;
    *outlen = 16;
    return 0;
  default:
    return FO_EINVAL;
  }
}

int fo__update_add(fo__update *u, const char *name, uint16_t type,
                   uint32_t ttl, const char *rdata) {
  uint8_t wire[NAME_WIRE_MAX + 1]; /* a name, or a TXT string and its length */
  size_t n = 0;
  int rc;
  if (u == NULL || name == NULL || rdata == NULL)
    return FO_EINVAL;
  if (ttl > TTL_MAX)
    return FO_ERANGE;
  rc = encode_rdata(type, rdata, wire, &n);
  if (rc != 0)
    return rc;
  rc = put_rr(u, name, type, FO__CLASS_IN, ttl, wire, n);
  if (rc == 0)
    u->updates++;
  return rc;
}

fo__update_mark fo__update_mark_get(const fo__update *u) {
  fo__update_mark m;
  m.len = u->len;
  m.prereqs = u->prereqs;
  m.updates = u->updates;
  return m;
}

void fo__update_rollback(fo__update *u, fo__update_mark mark) {
  /* A mark from the future (or another builder) is ignored: rolling
   * "forward" would expose bytes that were never written. */
  if (mark.len > u->len || mark.len < FO__DNS_HEADER_LEN)
    return;
  u->len = mark.len;
  u->prereqs = mark.prereqs;
  u->updates = mark.updates;
}

size_t fo__update_finish(fo__update *u) {
  if (u == NULL || u->buf == NULL || u->len < FO__DNS_HEADER_LEN)
    return 0;
  fo__put16(u->buf + 6, u->prereqs);
  fo__put16(u->buf + 8, u->updates);
  fo__put16(u->buf + 10, 0);
  return u->len;
}
