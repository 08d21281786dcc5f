/*
 * publish_fence.h - fencing in DNS itself (publish_fence.c): a publisher
 * with a fence epoch claims the zone's fence TXT before it sends anything
 * else, and every UPDATE it sends afterwards carries the prerequisite that
 * the fence still holds its epoch, so that the server refuses the UPDATEs
 * of a leader that was deposed.
 */
#ifndef FO_PUBLISH_FENCE_H
#define FO_PUBLISH_FENCE_H

#include <failover/publish.h>

#include "update.h"

#define FO__FENCE_LABEL "_failover-epoch" /* the default, in the zone */
#define FO__FENCE_TTL 0u                  /* of the fence TXT */
#define FO__FENCE_TEXT_MAX 21             /* a uint64 in decimal, NUL */

/* Where a claim stands. */
typedef enum fo__fence_state {
  FO__FENCE_OFF = 0,  /* no fencing (epoch 0) */
  FO__FENCE_READ,     /* read the fence next */
  FO__FENCE_READING,  /* the read is out */
  FO__FENCE_DECIDE,   /* read: stop, hold, or swap */
  FO__FENCE_CLAIMING, /* the swap is out */
  FO__FENCE_HELD      /* the fence held our epoch when last asked */
} fo__fence_state;

/*
 * The fence's name for a registry's `zone` (lowercase, no trailing dot):
 * `opt` NULL is FO__FENCE_LABEL in the zone; a name ending in the zone is
 * taken as is, an absolute one ("x.other.") outside it is FO_EBADNAME,
 * anything else is relative to the zone. Labels of letters, digits, '-'
 * and '_'. The apex and names of the publisher's own (a group address's
 * form) are FO_EINVAL. Returns 0, FO_EBADNAME, FO_ENAMETOOLONG, FO_EINVAL.
 */
int fo__fence_name(const char *zone, const char *opt,
                   char out[FO_NAME_BUFSIZE]);

/* Called from the kick (not stopped, not closing, not backing off): 1 when
 * group messages may go (the fence is held, or fencing is off); else the
 * claim moves on (a read or the swap sent, or the stop taken) and 0. */
int fo__fence_ready(fo_publisher *pub);

/* A group message's fence prerequisite, written right after
 * fo__update_begin() (nothing when fencing is off). Returns 0 or the
 * builder's code. */
int fo__fence_prereq(const fo_publisher *pub, fo__update *u);

#endif
