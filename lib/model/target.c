/*
 * target.c - what a group's name points at: the one home of the target
 * helpers that records, the change feed, web-head re-targeting, the
 * transitions and store loading all use (none of those files calls into
 * another for them).
 */
#include "internal.h"

#include <string.h>

/* Fill a target from a head, for a group's mode and TTL. */
void fo__target_from_head(const fo__head *head, const fo_group *g,
                          fo_target *t) {
  t->version = FO_TARGET_VERSION; /* the feed hands these out as they are */
  t->mode = (fo_record_mode)g->mode;
  t->ttl = g->ttl;
  if (!head->present) {
    t->none = FO_NONE_NO_WEB_HEAD;
    t->host_name = t->ipv4 = t->ipv6 = NULL;
    return;
  }
  t->host_name = head->host_name;
  t->ipv4 = head->ipv4[0] ? head->ipv4 : NULL;
  t->ipv6 = head->ipv6[0] ? head->ipv6 : NULL;
  t->none = FO_NONE_NOT;
  if (g->mode == FO_MODE_ADDRESS && !t->ipv4 && !t->ipv6)
    t->none = FO_NONE_NO_ADDRESS;
}

void fo__target_of(const fo_group *g, fo_target *t) {
  if (g->state == FO_GROUP_DELETED || g->slot[g->active] == NULL) {
    memset(t, 0, sizeof(*t));
    t->version = FO_TARGET_VERSION;
    t->mode = (fo_record_mode)g->mode;
    t->ttl = g->ttl;
    t->none = g->state == FO_GROUP_DELETED ? FO_NONE_DELETED
                                           : FO_NONE_RESERVED;
    return;
  }
  fo__target_from_head(&g->slot[g->active]->head, g, t);
}

static int str_eq(const char *a, const char *b) {
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp(a, b) == 0;
}

/* Equal when they produce the same records (two "no records" are equal,
 * whatever the reason). */
int fo__target_equal(const fo_target *a, const fo_target *b) {
  int a_has = a->none == FO_NONE_NOT, b_has = b->none == FO_NONE_NOT;
  if (!a_has || !b_has)
    return a_has == b_has;
  if (a->mode != b->mode || a->ttl != b->ttl)
    return 0;
  if (a->mode == FO_MODE_CNAME)
    return str_eq(a->host_name, b->host_name);
  return str_eq(a->ipv4, b->ipv4) && str_eq(a->ipv6, b->ipv6);
}

