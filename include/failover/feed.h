/*
 * failover/feed.h - the change feed.
 *
 * Subscribers hear about every change of a group's desired records, and
 * about the creation and deletion of every group: one event per group per
 * change, after the change is fully applied. A change that leaves the
 * records as they were (attaching a backup, adding a second web server)
 * sends no event. Each event carries the group's new generation; a
 * publisher drops work for older generations.
 *
 * Callbacks run synchronously on the registry's thread. From inside a
 * callback, reading is allowed but every changing call returns FO_EBUSY:
 * one change is delivered completely before the next begins.
 */
#ifndef FAILOVER_FEED_H
#define FAILOVER_FEED_H

#include "common.h"
#include "group.h"
#include "records.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fo_change_reason {
  FO_CHANGE_CREATE = 1,          /* group created (with or without a stack) */
  FO_CHANGE_ATTACH = 2,          /* a stack attached into the active slot */
  FO_CHANGE_DETACH = 3,          /* the active stack detached */
  FO_CHANGE_SWITCH = 4,          /* the active slot moved */
  FO_CHANGE_DELETE = 5,          /* group deleted */
  FO_CHANGE_SERVER_ADDED = 6,    /* web head moved: server added */
  FO_CHANGE_SERVER_REMOVED = 7,  /* web head moved: server removed */
  FO_CHANGE_SERVER_RENAMED = 8,  /* web head's host name changed */
  FO_CHANGE_SERVER_UPDATED = 9,  /* web head's host name or address set */
  FO_CHANGE_STACK_RENAMED = 10,  /* templated host name followed the stack */
  FO_CHANGE_TTL = 11,            /* group TTL changed */
  FO_CHANGE_MODE = 12            /* CNAME/address mode changed */
} fo_change_reason;

typedef struct fo_change {
  fo_group *group;
  fo_change_reason reason;
  uint64_t generation;       /* the group's generation after the change */
  const fo_target *old_target;
  const fo_target *new_target;
} fo_change;

/* The event and everything it points to are valid only during the call. */
typedef void (*fo_change_fn)(const fo_change *change, void *userdata);

/* Subscribe; `*id` (if not NULL) receives a handle for unsubscribing.
 * Subscribers are called in subscription order. Returns 0, FO_EINVAL,
 * FO_EBUSY, FO_ENOMEM. */
FO_EXTERN int fo_registry_subscribe(fo_registry *reg, fo_change_fn fn,
                                    void *userdata, uint32_t *id);

/* Unsubscribe. Returns 0, FO_EINVAL, FO_ENOENT, FO_EBUSY. */
FO_EXTERN int fo_registry_unsubscribe(fo_registry *reg, uint32_t id);

/* A short lowercase name for a reason ("switch"); "unknown" otherwise. */
FO_EXTERN const char *fo_change_reason_name(fo_change_reason reason);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_FEED_H */
