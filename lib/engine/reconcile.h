/*
 * reconcile.h - compare what a zone holds at the names a registry owns with
 * what the registry wants there, and build the plan (create, change,
 * delete). Uses only the public model API; no I/O (the zone's RRs come from
 * axfr.c, or from a test).
 *
 * Owned names: "DDD-DDD-DDD.<zone>" names that fo_registry_find_group()
 * answers with a group (live) or FO_EDELETED (a tombstone). Every other name
 * is ignored: it is never planned for, whatever it holds.
 */
#ifndef FO_RECONCILE_H
#define FO_RECONCILE_H

#include <failover/publish.h>

#include "axfr.h"

typedef struct fo__reconcile fo__reconcile;

int fo__reconcile_new(fo__reconcile **out, const fo_allocator *a,
                      const fo_registry *reg);

/* Feed one RR of the zone (any type; only owned names are kept).
 * Returns 0 or FO_ENOMEM. */
int fo__reconcile_add(fo__reconcile *r, const fo__zone_rr *rr);

/*
 * Build the plan: an entry for every owned name whose records differ from
 * the desired ones (CNAME or A/AAAA with TTL; any other type at an owned
 * name is a difference too, since publishing replaces the whole name), and
 * for every live group with records that the zone lacks. `out` and its
 * entries stay valid until fo__reconcile_free(). Groups found in step are
 * reported through `in_step` (may be NULL).
 * Returns 0 or FO_ENOMEM.
 */
/* A plan as handed to callbacks: the public part first (what callers
 * see), the entries behind it (reached through fo_plan_entry_at()). */
typedef struct fo__plan {
  fo_plan pub;
  const fo_plan_entry *entries;
} fo__plan;

int fo__reconcile_plan(fo__reconcile *r, fo__plan *out,
                       void (*in_step)(fo_group *g, void *userdata),
                       void *userdata);

void fo__reconcile_free(fo__reconcile *r);

#endif
