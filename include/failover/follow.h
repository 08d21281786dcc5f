/*
 * failover/follow.h - keep a durable registry in step with its store on the
 * caller's libuv loop.
 *
 * Several processes may write one store (failoverctl, agents on other
 * machines through etcd). A registry sees their commits only when it is
 * refreshed (fo_registry_refresh()); a follower does that for it: every
 * interval it reads the store's revision (one cheap read: a row of SQLite,
 * one range request to etcd) and, when the store is ahead, refreshes the
 * registry, which fires the change feed for every group whose records
 * changed, so that a publisher on the registry publishes them.
 *
 * Same header rules as <failover/verify.h>: includes <uv.h>; one owner
 * thread. The read blocks the loop for as long as the store takes (see
 * <failover/store.h> for each backend's bound).
 */
#ifndef FAILOVER_FOLLOW_H
#define FAILOVER_FOLLOW_H

#include <uv.h>

#include "errors.h"
#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fo_store_follower fo_store_follower;

/*
 * Reports a refresh. `error` is 0 when commits were applied (`revision` is
 * the registry's new one), or the code of a refresh or revision read that
 * failed (FO_ECOMPACTED: the log was pruned past the registry, reopen it;
 * FO_EPOISONED; FO_ESTOREIO; FO_ECORRUPT), reported once until a later
 * check succeeds (then a new failure is reported again). A registry inside a batch is left alone until it
 * commits (no report).
 */
typedef void (*fo_follow_fn)(int error, uint64_t revision, void *userdata);

/* Default and bounds of a follower's interval, in milliseconds. */
#define FO_FOLLOW_INTERVAL_DEFAULT 100
#define FO_FOLLOW_INTERVAL_MIN 5
#define FO_FOLLOW_INTERVAL_MAX 60000

/*
 * Follow `reg`'s store every `interval_ms` (0 selects the default) on
 * `loop`; the first check runs at once. `cb` may be NULL. The registry must
 * be a durable one (fo_registry_open()) and outlive the follower.
 *
 * Returns 0; FO_EINVAL (NULL, an in-memory registry); FO_ERANGE (interval);
 * FO_ENOMEM; FO_EIO.
 */
FO_EXTERN int fo_store_follower_new(fo_store_follower **out, uv_loop_t *loop,
                                    fo_registry *reg, uint32_t interval_ms,
                                    fo_follow_fn cb, void *userdata);

/* Check now instead of at the next tick (after a lease was taken, say):
 * the registry is refreshed before this returns. Returns the refresh's
 * code (0 when nothing was new). */
FO_EXTERN int fo_store_follower_check(fo_store_follower *follower);

/* Stop and free from the loop. No callback runs after this. NULL is a
 * no-op. */
FO_EXTERN void fo_store_follower_close(fo_store_follower *follower);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_FOLLOW_H */
