/*
 * failover/group.h - failover groups and their transitions.
 *
 * A group is an address "DDD-DDD-DDD.<zone>", drawn once from the registry's
 * random source and never handed out again, with two slots (primary and
 * backup), each empty or holding one stack (never the same stack in both),
 * an active slot, a state and a TTL.
 *
 * Every operation is checked and applied by the same code: fo_op_check()
 * answers "would it be allowed, and if not why" without changing anything,
 * and the operation functions below return exactly the code fo_op_check()
 * would have returned for them. A refused operation changes nothing.
 *
 * Handles stay valid memory for the registry's lifetime: after
 * fo_group_delete() the address is a tombstone and every function changing
 * the group returns FO_EDELETED (fo_group_state() and fo_group_address()
 * still answer).
 */
#ifndef FAILOVER_GROUP_H
#define FAILOVER_GROUP_H

#include "common.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fo_slot {
  FO_SLOT_PRIMARY = 0,
  FO_SLOT_BACKUP = 1
} fo_slot;

typedef enum fo_state {
  FO_GROUP_RESERVED = 1,  /* no stack attached: the address is reserved */
  FO_GROUP_SERVING = 2,   /* the active slot's stack serves the name */
  FO_GROUP_SWITCHING = 3, /* switched; not yet confirmed in DNS (settle) */
  FO_GROUP_DELETED = 4    /* terminal; the address is gone for good */
} fo_state;

/* What a group's records are made of. */
typedef enum fo_record_mode {
  FO_MODE_CNAME = 1,  /* CNAME to the web head's host name (default) */
  FO_MODE_ADDRESS = 2 /* A/AAAA records of the web head's addresses */
} fo_record_mode;

/* Length of "DDD-DDD-DDD". */
#define FO_ADDRESS_LABEL_LEN 11

/* ---- operations --------------------------------------------------------- */

typedef enum fo_op_kind {
  FO_OP_CREATE = 1,      /* registry, primary?, backup? */
  FO_OP_ATTACH = 2,      /* group, slot, stack */
  FO_OP_DETACH = 3,      /* group, slot, flags (FO_FORCE) */
  FO_OP_SWITCH = 4,      /* group, slot (the target), flags (FO_FORCE) */
  FO_OP_SETTLE = 5,      /* group */
  FO_OP_DELETE = 6,      /* group */
  FO_OP_REMOVE_STACK = 7 /* stack */
} fo_op_kind;

/*
 * One operation of the transition table, as data. Fields an operation does
 * not use are ignored. Build it with fo_op_init() or FO_OP_INIT(kind) and
 * designated initialisers; it is only read, as far as its version reaches
 * (fields of later versions read as zero).
 */
#define FO_OP_VERSION 1

typedef struct fo_op {
  unsigned int version;  /* FO_OP_VERSION */
  fo_op_kind kind;
  fo_registry *registry; /* FO_OP_CREATE */
  fo_group *group;       /* ATTACH, DETACH, SWITCH, SETTLE, DELETE */
  fo_stack *stack;       /* ATTACH, REMOVE_STACK */
  fo_stack *primary;     /* CREATE; NULL for an empty slot */
  fo_stack *backup;      /* CREATE; NULL for an empty slot */
  fo_slot slot;          /* ATTACH, DETACH, SWITCH */
  unsigned int flags;    /* DETACH, SWITCH: 0 or FO_FORCE */
} fo_op;

#define FO_OP_INIT(kind) { FO_OP_VERSION, (kind), NULL, NULL, NULL, NULL, NULL, \
                           FO_SLOT_PRIMARY, 0u }

/* Zero `op` as version `version` (FO_OP_VERSION) and set its kind; never
 * writes past that version's size. Returns 0, FO_EINVAL (NULL, unknown
 * kind), FO_EVERSION. */
FO_EXTERN int fo_op_init(fo_op *op, unsigned int version, fo_op_kind kind);

/*
 * Would `op` be allowed now? Changes nothing. Returns 0 when it would be,
 * otherwise the exact code the operation would return (FO_ENOMEM and
 * FO_ERANDOM aside, which only doing it can tell); FO_EVERSION for an
 * unknown `op->version`.
 */
FO_EXTERN int fo_op_check(const fo_op *op);

/*
 * Check and apply `op`. For FO_OP_CREATE the new group is stored in
 * `*created` (which may be NULL for the other kinds). Same codes as the
 * dedicated functions below.
 */
FO_EXTERN int fo_op_apply(const fo_op *op, fo_group **created);

/*
 * Create a group with a fresh address. Either stack may be NULL: with none
 * the group is RESERVED; otherwise it is SERVING from the primary slot, or
 * from the backup slot when only that one is given.
 *
 * Returns 0; FO_EINVAL; FO_EFOREIGN (stack of another registry);
 * FO_EDELETED (removed stack); FO_ESAMESTACK; FO_EEXHAUSTED; FO_ERANDOM;
 * FO_EBUSY; FO_ENOMEM. Nothing is allocated on failure.
 */
FO_EXTERN int fo_group_create(fo_group **out, fo_registry *reg,
                              fo_stack *primary, fo_stack *backup);

/*
 * Put `stack` into the empty `slot`. A RESERVED group becomes SERVING with
 * that slot active.
 *
 * Returns 0, FO_EINVAL, FO_EDELETED (group or stack), FO_EFOREIGN,
 * FO_ESLOTFULL, FO_ESAMESTACK (stack is in the other slot), FO_EBUSY.
 */
FO_EXTERN int fo_group_attach(fo_group *group, fo_slot slot, fo_stack *stack);

/*
 * Empty `slot`. The inactive slot may always be emptied. The active slot may
 * be emptied when it is the group's only stack (the group becomes RESERVED
 * and its records go away); while the other slot holds a stack it is refused
 * with FO_EACTIVE (switch first) unless `flags` has FO_FORCE, which drops
 * the active stack's traffic on purpose and makes the other slot active
 * (state SWITCHING, to be settled once DNS confirms).
 *
 * Returns 0, FO_EINVAL, FO_EDELETED, FO_ESLOTEMPTY, FO_EACTIVE, FO_EBUSY.
 */
FO_EXTERN int fo_group_detach(fo_group *group, fo_slot slot,
                              unsigned int flags);

/*
 * Make `to` the active slot; the group becomes SWITCHING until
 * fo_group_settle(). Checked in this order: the slot holds a stack
 * (FO_ESLOTEMPTY), it is not already active (FO_EALREADY), no switch is in
 * flight (FO_ESWITCHING), its stack has a web head (FO_ENOWEBHEAD). FO_FORCE
 * overrides the last two.
 *
 * Returns 0 or one of those, FO_EINVAL, FO_EDELETED, FO_EBUSY.
 */
FO_EXTERN int fo_group_switch(fo_group *group, fo_slot to,
                              unsigned int flags);

/* Confirm a switch in DNS: SWITCHING -> SERVING. Returns 0, FO_EINVAL,
 * FO_EDELETED, FO_ENOTSWITCHING, FO_EBUSY. */
FO_EXTERN int fo_group_settle(fo_group *group);

/* Delete a group with no stack attached. Its address is never reused.
 * Returns 0, FO_EINVAL, FO_EDELETED, FO_EATTACHED, FO_EBUSY. */
FO_EXTERN int fo_group_delete(fo_group *group);

/* ---- settings ----------------------------------------------------------- */

/* Set the TTL of the group's records (FO_TTL_MIN..FO_TTL_MAX).
 * Returns 0, FO_EINVAL, FO_EDELETED, FO_ERANGE, FO_EBUSY. */
FO_EXTERN int fo_group_set_ttl(fo_group *group, uint32_t ttl);

/* Choose CNAME or address records. Returns 0, FO_EINVAL, FO_EDELETED,
 * FO_EBUSY. */
FO_EXTERN int fo_group_set_mode(fo_group *group, fo_record_mode mode);

/* ---- accessors (all return 0 or FO_EINVAL unless noted) ----------------- */

/* A short lowercase name for a state ("serving"); "unknown" otherwise. */
FO_EXTERN const char *fo_state_name(fo_state state);

/* State; answers FO_GROUP_DELETED for deleted groups. */
FO_EXTERN int fo_group_state(const fo_group *group, fo_state *out);

/*
 * The full address "DDD-DDD-DDD.<zone>" (no trailing dot), also of deleted
 * groups, NUL-terminated into `buf`. Returns 0, FO_EINVAL, or FO_ENOSPC
 * when `size` is under the length + 1 (nothing written then).
 */
FO_EXTERN int fo_group_address(const fo_group *group, char *buf, size_t size);

/* The stack in `slot` (NULL when empty). Returns 0, FO_EINVAL,
 * FO_EDELETED. */
FO_EXTERN int fo_group_stack(const fo_group *group, fo_slot slot,
                             fo_stack **out);

/* The active slot. Meaningful when a slot holds a stack.
 * Returns 0, FO_EINVAL, FO_EDELETED. */
FO_EXTERN int fo_group_active_slot(const fo_group *group, fo_slot *out);

FO_EXTERN int fo_group_ttl(const fo_group *group, uint32_t *out);
FO_EXTERN int fo_group_mode(const fo_group *group, fo_record_mode *out);

/* Generation of the group's desired records: starts at 1 on creation and
 * increases by one with every change event. Also for deleted groups. */
FO_EXTERN int fo_group_generation(const fo_group *group, uint64_t *out);

/* The registry a group belongs to (also for deleted groups). */
FO_EXTERN int fo_group_registry(const fo_group *group, fo_registry **out);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_GROUP_H */
