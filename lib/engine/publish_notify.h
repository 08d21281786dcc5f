/*
 * publish_notify.h - keeping the zone's secondaries in step (RFC 1996):
 * after the primary confirms an UPDATE, read its SOA serial, NOTIFY every
 * secondary at once and ask each one's SOA until it has that serial.
 * Used by publish.c only.
 */
#ifndef FO_PUBLISH_NOTIFY_H
#define FO_PUBLISH_NOTIFY_H

#include <failover/publish.h>

#include "hostport.h"
#include "transport.h"
#include "tsig.h"

typedef struct fo__notify fo__notify;

/* Set up the secondaries on `loop` (servers as in the options, maybe
 * none); the zone's SOA is read from the primary at the first
 * confirmation, for its negative TTL. `zone` and `key`
 * is the publisher's; `key` (NULL: unsigned NOTIFYs) is copied.
 * Returns 0, FO_EINVAL, FO_EBADADDR, FO_ERANGE, FO_ENOMEM, FO_EIO. */
int fo__notify_new(fo__notify **out, uv_loop_t *loop, const fo_allocator *a,
                   const char *zone, const fo__tsig_key *key,
                   const fo__hostport *primary, uint32_t timeout_ms,
                   const char *const *servers, size_t count);

/* The primary confirmed an UPDATE: read its serial (one SOA query, shared
 * by the confirmations of one loop turn), then notify and watch. */
void fo__notify_confirmed(fo__notify *n);

size_t fo__notify_count(const fo__notify *n);
/* The zone's negative-caching TTL in ms (min of the SOA's TTL and
 * MINIMUM), or 0 while not known. */
uint32_t fo__notify_negative_ttl_ms(const fo__notify *n);
/* Whether confirmations may be reported: the SOA read that the first one
 * started has answered, failed for good, or taken longer than a short
 * wait. Holding the first report back that long keeps a status read in
 * a watch callback from seeing the zone's negative TTL unknown. */
int fo__notify_facts_settled(const fo__notify *n, uint64_t now_ns);
/* Fill `out` (current version) for secondary `i`. */
void fo__notify_status(const fo__notify *n, size_t i,
                       fo_secondary_status *out);

/* Stop: cancel everything; `closed` runs from the loop once every handle
 * is closed and the memory freed. The primary's transport is not ours. */
void fo__notify_close(fo__notify *n, void (*closed)(void *userdata),
                      void *userdata);

#endif
