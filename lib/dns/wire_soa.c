/*
 * wire_soa.c - the zone's SOA serial in a reply, and NOTIFY messages
 * (RFC 1996): what keeping secondaries in step needs from the wire.
 */
#include "wire_internal.h"

#include <string.h>
#include <strings.h>

#define OPCODE_NOTIFY 4u
#define FLAG_AA 0x0400u

int fo__dns_build_notify(uint16_t id, const char *zone, uint8_t *out,
                         size_t size) {
  int n = fo__dns_build_query(id, zone, FO__TYPE_SOA, 0, out, size);
  if (n < 0)
    return n;
  /* QR=0, opcode NOTIFY, AA (RFC 1996 3.7); the question names the zone. */
  fo__put16(out + 2, (OPCODE_NOTIFY << 11) | FLAG_AA);
  return n;
}

typedef struct soa_find {
  const uint8_t *buf;
  size_t len;
  const char *zone;
  fo__dns_soa_info info;
  int found;
} soa_find;

/* RDATA: MNAME, RNAME (names, maybe compressed), then SERIAL. */
static int on_rr(int section, const fo__dns_rr *rr, size_t rr_offset,
                 void *userdata) {
  soa_find *f = userdata;
  size_t off = rr_offset;
  char name[FO_NAME_BUFSIZE];
  if (section != 1 || rr->type != FO__TYPE_SOA || rr->rclass != FO__CLASS_IN ||
      strcasecmp(rr->owner, f->zone) != 0 || f->found)
    return 0;
  /* owner, type, class, TTL, RDLENGTH */
  if (fo__dns_walk_name(f->buf, f->len, &off, NULL) != 0 || f->len - off < 10)
    return FO_EMALFORMED;
  off += 10;
  if (fo__dns_read_name(f->buf, f->len, &off, name) != 0 ||
      fo__dns_read_name(f->buf, f->len, &off, name) != 0 || f->len - off < 20)
    return FO_EMALFORMED;
  /* SERIAL REFRESH RETRY EXPIRE MINIMUM */
  f->info.serial = fo__get32(f->buf + off);
  f->info.minimum = fo__get32(f->buf + off + 16);
  f->info.ttl = rr->ttl;
  f->found = 1;
  return 0;
}

int fo__dns_soa(const uint8_t *buf, size_t len, const char *zone,
                fo__dns_soa_info *out) {
  soa_find f;
  int rc;
  if (buf == NULL || zone == NULL || out == NULL)
    return FO_EINVAL;
  memset(&f, 0, sizeof(f));
  f.buf = buf;
  f.len = len;
  f.zone = zone;
  if ((rc = fo__dns_each_rr(buf, len, on_rr, &f)) != 0)
    return rc;
  if (!f.found)
    return FO_ENOENT;
  *out = f.info;
  return 0;
}

int fo__dns_soa_serial(const uint8_t *buf, size_t len, const char *zone,
                       uint32_t *serial) {
  fo__dns_soa_info info;
  int rc = fo__dns_soa(buf, len, zone, &info);
  if (rc == 0)
    *serial = info.serial;
  return rc;
}

int fo__serial_lt(uint32_t a, uint32_t b) {
  /* RFC 1982 serial number arithmetic, SERIAL_BITS 32. */
  return a != b && (int32_t)(b - a) > 0;
}
