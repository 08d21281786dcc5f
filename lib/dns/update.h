/*
 * update.h - RFC 2136 UPDATE messages (pure wire layer: no groups).
 *
 * A builder writes into a caller's buffer. Names are written uncompressed:
 * simple, and a 16 KiB message still holds about 100 group changes.
 *
 * Batching: take a mark before a group's records and roll back to it when
 * the group does not fit, so a message never holds half a group.
 */
#ifndef FO_UPDATE_H
#define FO_UPDATE_H

#include "wire.h"

#define FO__OPCODE_UPDATE 5
#define FO__TYPE_TXT 16
#define FO__TYPE_ANY 255
#define FO__CLASS_ANY 255
#define FO__CLASS_NONE 254

typedef struct fo__update {
  uint8_t *buf;
  size_t cap;
  size_t len;
  uint16_t prereqs; /* PRCOUNT (ANCOUNT) */
  uint16_t updates; /* UPCOUNT (NSCOUNT) */
} fo__update;

typedef struct fo__update_mark {
  size_t len;
  uint16_t prereqs, updates;
} fo__update_mark;

/* Start a message: header (ID, opcode UPDATE) and the zone section
 * (ZONE SOA IN). Returns 0, FO_EBADNAME, FO_ENAMETOOLONG, FO_ENOSPC. */
int fo__update_begin(fo__update *u, uint8_t *buf, size_t cap, uint16_t id,
                     const char *zone);

/* Prerequisites (RFC 2136 2.4): the name is in use / not in use. They
 * come before every update: FO_EINVAL once an update has been added. A
 * caller that batches writes its prerequisites once, right after begin,
 * and takes its marks after them: a rollback then keeps them. */
int fo__update_prereq_name_in_use(fo__update *u, const char *name);
int fo__update_prereq_name_not_in_use(fo__update *u, const char *name);

/* RRset exists, value dependent (2.4.2): one record of the RRset the zone
 * must hold exactly (class IN, TTL 0, `rdata` in wire form, at most 65535
 * octets); a set of several records is one call per record. RRset does
 * not exist (2.4.3): class NONE, `type`, no RDATA. Returns 0, FO_EINVAL,
 * FO_EBADNAME, FO_ENAMETOOLONG, FO_ENOSPC. */
int fo__update_prereq_rrset_value(fo__update *u, const char *name,
                                  uint16_t type, const uint8_t *rdata,
                                  size_t rdlen);
int fo__update_prereq_rrset_absent(fo__update *u, const char *name,
                                   uint16_t type);

/* Delete an RRset (class ANY, type), or every RRset of a name (type ANY). */
int fo__update_delete_rrset(fo__update *u, const char *name, uint16_t type);
int fo__update_delete_name(fo__update *u, const char *name);

/* Add an RR: CNAME (rdata a name), A or AAAA (rdata an IP literal), TXT
 * (rdata the text of one character-string, written as is).
 * Returns 0, FO_EINVAL (other type), FO_EBADNAME, FO_EBADADDR, FO_ERANGE
 * (TTL above 2^31 - 1, RFC 2181 8; a TXT text over 255 octets), FO_ENOSPC. Every call writes its record
 * whole or not at all; all fail with FO_EINVAL after a failed begin. */
int fo__update_add(fo__update *u, const char *name, uint16_t type,
                   uint32_t ttl, const char *rdata);

fo__update_mark fo__update_mark_get(const fo__update *u);
void fo__update_rollback(fo__update *u, fo__update_mark mark);

/* Write the counts into the header; returns the message length. */
size_t fo__update_finish(fo__update *u);

#endif
