/*
 * wire_rr.c - walking every record of a message. Zone transfers put
 * thousands of RRs in one message and TSIG needs the last one, so records
 * are handed to a callback one at a time instead of being kept.
 */
#include "wire_internal.h"

#define QUESTION_FIXED_LEN 4 /* qtype, qclass */

int fo__dns_skip_questions(const uint8_t *msg, size_t len, size_t *off,
                           unsigned count) {
  unsigned i;
  for (i = 0; i < count; i++) {
    if (fo__dns_walk_name(msg, len, off, NULL) != 0)
      return FO_EMALFORMED;
    if (len - *off < QUESTION_FIXED_LEN)
      return FO_EMALFORMED;
    *off += QUESTION_FIXED_LEN;
  }
  return 0;
}

int fo__dns_each_rr(const uint8_t *buf, size_t len, fo__dns_rr_fn fn,
                    void *userdata) {
  size_t off = FO__DNS_HEADER_LEN;
  unsigned counts[3];
  int section;
  if (buf == NULL || len < FO__DNS_HEADER_LEN)
    return FO_EMALFORMED;
  counts[0] = fo__get16(buf + 6);
  counts[1] = fo__get16(buf + 8);
  counts[2] = fo__get16(buf + 10);
  if (fo__dns_skip_questions(buf, len, &off, fo__get16(buf + 4)) != 0)
    return FO_EMALFORMED;
  for (section = 1; section <= 3; section++) {
    unsigned i;
    for (i = 0; i < counts[section - 1]; i++) {
      /* One record at a time: 2 x 256 + 46 bytes, reused for every RR. */
      fo__dns_rr rr;
      size_t at = off;
      int rc;
      if (fo__dns_parse_rr(buf, len, &off, &rr) != 0)
        return FO_EMALFORMED;
      if (fn != NULL && (rc = fn(section, &rr, at, userdata)) != 0)
        return rc;
    }
  }
  /* Bytes after the last section are ignored, as fo__dns_parse does. */
  return 0;
}
