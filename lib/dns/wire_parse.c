/*
 * wire_parse.c - reading DNS messages (RFC 1035 4.1). Nothing read from the
 * wire is trusted: every count and length is checked against the bytes
 * that are really there before anything is read.
 */
#include "wire_internal.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>

#define NAME_WIRE_MAX 255 /* RFC 1035 2.3.4, length octets included */
#define SOA_FIXED_LEN 20  /* serial, refresh, retry, expire, minimum */
#define TTL_MAX 0x7fffffffu

static int plain_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

/* Append one label to the presentation form in `out` (`*n` characters so
 * far). Bytes other than LDH and '_' become \DDD, so that a '.' inside a
 * label can never pass for a label boundary. Returns -1 if it won't fit. */
static int put_label(char *out, size_t *n, const uint8_t *label, size_t len) {
  size_t i, at = *n;
  if (at > 0) {
    if (at + 1 >= FO_NAME_BUFSIZE)
      return -1;
    out[at++] = '.';
  }
  for (i = 0; i < len; i++) {
    unsigned char c = label[i];
    if (c >= 'A' && c <= 'Z')
      c = (unsigned char)(c - 'A' + 'a');
    if (plain_char(c)) {
      if (at + 1 >= FO_NAME_BUFSIZE)
        return -1;
      out[at++] = (char)c;
    } else {
      if (at + 4 >= FO_NAME_BUFSIZE)
        return -1;
      out[at++] = '\\';
      out[at++] = (char)('0' + c / 100);
      out[at++] = (char)('0' + c / 10 % 10);
      out[at++] = (char)('0' + c % 10);
    }
  }
  *n = at;
  return 0;
}

/*
 * Walk the name at `*off`; with `out`, also write its presentation form.
 * Each pointer must point strictly before the start of the run of labels it
 * ends (the first such run starts at `*off`), so the position read from
 * falls at every jump and no input can loop. Without `out`, only the wire
 * rules are checked: a name whose escaped text would not fit in
 * FO_NAME_BUFSIZE is still well formed on the wire.
 */
int fo__dns_walk_name(const uint8_t *msg, size_t len, size_t *off,
                      char *out) {
  size_t pos = *off, start = *off, end = 0, wire = 0, n = 0;
  int jumped = 0;
  for (;;) {
    unsigned c;
    if (pos >= len)
      return FO_EMALFORMED;
    c = msg[pos];
    if ((c & 0xc0) == 0xc0) {
      size_t target;
      if (len - pos < 2)
        return FO_EMALFORMED;
      target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
      if (target >= start)
        return FO_EMALFORMED;
      if (!jumped)
        end = pos + 2;
      jumped = 1;
      pos = start = target;
      continue;
    }
    /* 0x40 (RFC 6891 extended) and 0x80 (reserved) label types. */
    if (c & 0xc0)
      return FO_EMALFORMED;
    wire += 1 + c;
    if (wire > NAME_WIRE_MAX)
      return FO_EMALFORMED;
    if (c == 0)
      break;
    if (len - pos - 1 < c)
      return FO_EMALFORMED;
    if (out != NULL && put_label(out, &n, msg + pos + 1, c) != 0)
      return FO_EMALFORMED;
    pos += 1 + c;
  }
  if (!jumped)
    end = pos + 1;
  if (out != NULL)
    out[n] = '\0';
  *off = end;
  return 0;
}

int fo__dns_read_name(const uint8_t *msg, size_t len, size_t *off,
                      char out[FO_NAME_BUFSIZE]) {
  if (msg == NULL || off == NULL || out == NULL)
    return FO_EMALFORMED;
  out[0] = '\0';
  return fo__dns_walk_name(msg, len, off, out);
}

/* A name that must fill the RDATA exactly (CNAME, NS), or run up to `end`
 * and leave the rest for fixed fields (SOA). */
static int rdata_name(const uint8_t *msg, size_t len, size_t *off, size_t end,
                      char *out) {
  int rc = fo__dns_walk_name(msg, len, off, out);
  if (rc != 0)
    return rc;
  return *off <= end ? 0 : FO_EMALFORMED;
}

/* Check (and, with `rr`, decode) the RDATA of one record. The type-specific
 * rules apply to class IN for A/AAAA (other classes give those types other
 * layouts) and to any class for the name-only types. */
static int check_rdata(const uint8_t *msg, size_t len, size_t at,
                       size_t rdlen, uint16_t type, uint16_t rclass,
                       fo__dns_rr *rr) {
  size_t end = at + rdlen, off = at;
  /* RFC 2136 2.4 / 2.5: UPDATE messages carry empty RDATA in classes ANY
   * and NONE (RRset exists, delete RRset): no name to read there. */
  if (rdlen == 0 && (rclass == 255 || rclass == 254))
    return 0;
  switch (type) {
  case FO__TYPE_A:
  case FO__TYPE_AAAA: {
    size_t want = type == FO__TYPE_A ? 4 : 16;
    if (rclass != FO__CLASS_IN)
      return 0;
    if (rdlen != want)
      return FO_EMALFORMED;
    if (rr != NULL &&
        inet_ntop(type == FO__TYPE_A ? AF_INET : AF_INET6, msg + at,
                  rr->address, sizeof rr->address) == NULL)
      return FO_EMALFORMED;
    return 0;
  }
  case FO__TYPE_CNAME:
  case FO__TYPE_NS:
    if (rdata_name(msg, len, &off, end, rr ? rr->target : NULL) != 0)
      return FO_EMALFORMED;
    return off == end ? 0 : FO_EMALFORMED;
  case FO__TYPE_SOA:
    if (rdata_name(msg, len, &off, end, NULL) != 0 ||
        rdata_name(msg, len, &off, end, NULL) != 0)
      return FO_EMALFORMED;
    return end - off == SOA_FIXED_LEN ? 0 : FO_EMALFORMED;
  default:
    return 0;
  }
}

/* One resource record at `*off`. With `rr` it is decoded, otherwise only
 * checked (records of other sections, answers beyond the kept ones). */
int fo__dns_parse_rr(const uint8_t *msg, size_t len, size_t *off,
                     fo__dns_rr *rr) {
  uint16_t type, rclass, rdlen;
  uint32_t ttl;
  const uint8_t *p;
  if (rr != NULL)
    rr->target[0] = rr->address[0] = '\0';
  if (fo__dns_walk_name(msg, len, off, rr ? rr->owner : NULL) != 0)
    return FO_EMALFORMED;
  if (len - *off < FO__RR_FIXED_LEN)
    return FO_EMALFORMED;
  p = msg + *off;
  type = fo__get16(p);
  rclass = fo__get16(p + 2);
  ttl = fo__get32(p + 4);
  rdlen = fo__get16(p + 8);
  *off += FO__RR_FIXED_LEN;
  if (len - *off < rdlen)
    return FO_EMALFORMED;
  if (check_rdata(msg, len, *off, rdlen, type, rclass, rr) != 0)
    return FO_EMALFORMED;
  *off += rdlen;
  if (rr != NULL) {
    rr->type = type;
    rr->rclass = rclass;
    /* RFC 2181 8: a TTL with the top bit set is to be read as zero. */
    rr->ttl = ttl > TTL_MAX ? 0 : ttl;
    rr->rdlength = rdlen;
  }
  return 0;
}

static void parse_header(const uint8_t *buf, fo__dns_msg *out) {
  uint16_t f = fo__get16(buf + 2);
  out->id = fo__get16(buf);
  out->flags = f;
  out->qr = (f >> 15) & 1;
  out->opcode = (f >> 11) & 0xfu;
  out->aa = (f >> 10) & 1;
  out->tc = (f >> 9) & 1;
  out->rd = (f >> 8) & 1;
  out->ra = (f >> 7) & 1;
  out->rcode = f & 0xfu;
  out->qdcount = fo__get16(buf + 4);
  out->ancount = fo__get16(buf + 6);
  out->nscount = fo__get16(buf + 8);
  out->arcount = fo__get16(buf + 10);
}

int fo__dns_parse(const uint8_t *buf, size_t len, fo__dns_msg *out) {
  size_t off = FO__DNS_HEADER_LEN, i, rest;
  if (buf == NULL || out == NULL)
    return FO_EMALFORMED;
  /* Only the fixed part: clearing all 64 answer slots (36 KiB) per reply
   * was a measurable share of the verifier's time. Each kept answer is
   * cleared as it is parsed. */
  memset(out, 0, offsetof(fo__dns_msg, answers));
  if (len < FO__DNS_HEADER_LEN)
    return FO_EMALFORMED;
  parse_header(buf, out);

  for (i = 0; i < out->qdcount; i++) {
    if (fo__dns_walk_name(buf, len, &off, i == 0 ? out->qname : NULL) != 0)
      return FO_EMALFORMED;
    if (len - off < 4)
      return FO_EMALFORMED;
    if (i == 0) {
      out->qtype = fo__get16(buf + off);
      out->qclass = fo__get16(buf + off + 2);
    }
    off += 4;
  }

  for (i = 0; i < out->ancount; i++) {
    fo__dns_rr *rr = NULL;
    if (out->answer_count < FO__DNS_MAX_ANSWERS)
      rr = &out->answers[out->answer_count];
    if (fo__dns_parse_rr(buf, len, &off, rr) != 0)
      return FO_EMALFORMED;
    if (rr != NULL)
      out->answer_count++;
  }

  /* Authority and additional records are checked, not kept. */
  rest = (size_t)out->nscount + out->arcount;
  for (i = 0; i < rest; i++)
    if (fo__dns_parse_rr(buf, len, &off, NULL) != 0)
      return FO_EMALFORMED;

  /* Bytes after the last section are ignored, as most resolvers do. */
  return 0;
}
