/*
 * wire_internal.h - pieces of the DNS codec shared between its files
 * (wire_parse.c, wire_rr.c, wire_update.c), so that an RR is decoded by
 * one piece of code whichever walker reads it.
 */
#ifndef FO_WIRE_INTERNAL_H
#define FO_WIRE_INTERNAL_H

#include "wire.h"

#define FO__RR_FIXED_LEN 10 /* type, class, TTL, rdlength */

static inline uint16_t fo__get16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t fo__get32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static inline void fo__put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static inline void fo__put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Walk the (possibly compressed) name at `*off`, writing its presentation
 * form to `out` when not NULL, and move `*off` past it. Returns 0 or
 * FO_EMALFORMED. */
int fo__dns_walk_name(const uint8_t *msg, size_t len, size_t *off,
                      char *out);

/* Check one resource record at `*off` and move past it; with `rr`, also
 * decode it. Returns 0 or FO_EMALFORMED. */
int fo__dns_parse_rr(const uint8_t *msg, size_t len, size_t *off,
                     fo__dns_rr *rr);

/* Skip `count` questions starting at `*off`. Returns 0 or FO_EMALFORMED. */
int fo__dns_skip_questions(const uint8_t *msg, size_t len, size_t *off,
                           unsigned count);

#endif
