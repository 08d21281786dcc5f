/*
 * transition.c - the transition table of DESIGN.md, as one check function
 * and one apply function per operation.
 *
 * Each row of the table is a check function and an apply function.
 * fo_op_apply() runs the row's check and then its apply: the public "would
 * it be allowed?" (fo_op_check) and every operation share the check, so
 * they can never disagree. An apply only runs after a successful check,
 * allocates before it changes anything, and then cannot fail.
 */
#include "internal.h"
#include "layout.h"

#include <string.h>

static int valid_slot(fo_slot slot) {
  return slot == FO_SLOT_PRIMARY || slot == FO_SLOT_BACKUP;
}

static fo_slot other(fo_slot slot) {
  return slot == FO_SLOT_PRIMARY ? FO_SLOT_BACKUP : FO_SLOT_PRIMARY;
}

/* A stack usable by a group of `reg`. */
static int check_stack_for(const fo_registry *reg, const fo_stack *stack) {
  int rc = fo__check_stack(stack);
  if (rc != 0)
    return rc;
  return stack->reg == reg ? 0 : FO_EFOREIGN;
}

/* A live group of an idle registry. */
static int check_group(const fo_group *g) {
  int rc = fo__check_group(g);
  return rc ? rc : fo__check_mutable(g->reg);
}

static int check_create(const fo_op *op) {
  int rc;
  if (op->registry == NULL)
    return FO_EINVAL;
  if (op->primary && (rc = check_stack_for(op->registry, op->primary)) != 0)
    return rc;
  if (op->backup && (rc = check_stack_for(op->registry, op->backup)) != 0)
    return rc;
  if ((rc = fo__check_mutable(op->registry)) != 0)
    return rc;
  if (op->primary != NULL && op->primary == op->backup)
    return FO_ESAMESTACK;
  if (op->registry->groups_total >= op->registry->address_space)
    return FO_EEXHAUSTED;
  return 0;
}

static int check_attach(const fo_op *op) {
  const fo_group *g = op->group;
  int rc;
  if (g == NULL || op->stack == NULL || !valid_slot(op->slot))
    return FO_EINVAL;
  if ((rc = fo__check_group(g)) != 0 ||
      (rc = check_stack_for(g->reg, op->stack)) != 0 ||
      (rc = fo__check_mutable(g->reg)) != 0)
    return rc;
  if (g->slot[op->slot] != NULL)
    return FO_ESLOTFULL;
  if (g->slot[other(op->slot)] == op->stack)
    return FO_ESAMESTACK;
  return 0;
}

static int check_detach(const fo_op *op) {
  const fo_group *g = op->group;
  int rc;
  if (g == NULL || !valid_slot(op->slot) || (op->flags & ~FO_FORCE) != 0)
    return FO_EINVAL;
  if ((rc = check_group(g)) != 0)
    return rc;
  if (g->slot[op->slot] == NULL)
    return FO_ESLOTEMPTY;
  if (g->active == op->slot && g->slot[other(op->slot)] != NULL &&
      !(op->flags & FO_FORCE))
    return FO_EACTIVE;
  return 0;
}

static int check_switch(const fo_op *op) {
  const fo_group *g = op->group;
  int force = (op->flags & FO_FORCE) != 0;
  int rc;
  if (g == NULL || !valid_slot(op->slot) || (op->flags & ~FO_FORCE) != 0)
    return FO_EINVAL;
  if ((rc = check_group(g)) != 0)
    return rc;
  if (g->slot[op->slot] == NULL)
    return FO_ESLOTEMPTY;
  if (g->active == op->slot)
    return FO_EALREADY;
  if (g->state == FO_GROUP_SWITCHING && !force)
    return FO_ESWITCHING;
  if (!g->slot[op->slot]->head.present && !force)
    return FO_ENOWEBHEAD;
  return 0;
}

static int check_settle(const fo_op *op) {
  int rc;
  if (op->group == NULL)
    return FO_EINVAL;
  if ((rc = check_group(op->group)) != 0)
    return rc;
  return op->group->state == FO_GROUP_SWITCHING ? 0 : FO_ENOTSWITCHING;
}

static int check_delete(const fo_op *op) {
  int rc;
  if (op->group == NULL)
    return FO_EINVAL;
  if ((rc = check_group(op->group)) != 0)
    return rc;
  if (op->group->slot[0] != NULL || op->group->slot[1] != NULL)
    return FO_EATTACHED;
  return 0;
}

static int check_remove_stack(const fo_op *op) {
  int rc;
  if ((rc = fo__check_stack(op->stack)) != 0)
    return rc;
  if ((rc = fo__check_mutable(op->stack->reg)) != 0)
    return rc;
  return op->stack->follower_count ? FO_EINUSE : 0;
}

/* A new RESERVED group with `code` at the next slab position; the caller
 * ran fo__address_reserve(). Shared by create and by store loading. */
fo_group *fo__group_place(fo_registry *reg, uint32_t code) {
  fo_group *g = fo__group_at(reg, reg->groups_total);
  memset(g, 0, sizeof(*g));
  g->reg = reg;
  g->code = code;
  g->index = reg->groups_total++;
  g->ttl = (uint16_t)reg->default_ttl;
  g->mode = FO_MODE_CNAME;
  g->state = FO_GROUP_RESERVED;
  g->active = FO_SLOT_PRIMARY;
  reg->groups_live++;
  fo__address_index_insert(reg, g);
  return g;
}

/* Prepare of create: draw the address and make room, before the store's
 * begin, so that nothing can fail once the store holds its lock. */
static int prepare_create(const fo_op *op, uint32_t *code) {
  int rc = fo__address_draw(op->registry, code);
  return rc ? rc : fo__address_reserve(op->registry);
}

static int apply_create(const fo_op *op, uint32_t code, fo_group **created) {
  fo_registry *reg = op->registry;
  fo_target before;
  fo_group *g;

  g = fo__group_place(reg, code);
  if (op->primary)
    fo__follow(g, FO_SLOT_PRIMARY, op->primary);
  if (op->backup)
    fo__follow(g, FO_SLOT_BACKUP, op->backup);
  if (op->primary || op->backup) {
    g->state = FO_GROUP_SERVING;
    g->active = op->primary ? FO_SLOT_PRIMARY : FO_SLOT_BACKUP;
  }
  fo__dirty_group(g);
  if (created != NULL)
    *created = g;
  memset(&before, 0, sizeof(before));
  before.none = FO_NONE_RESERVED;
  before.mode = FO_MODE_CNAME;
  before.ttl = g->ttl;
  {
    fo_target after;
    fo__target_of(g, &after);
    fo__emit(g, FO_CHANGE_CREATE, &before, &after);
  }
  return 0;
}

static int apply_attach(const fo_op *op, uint32_t code, fo_group **created) {
  (void)code;
  (void)created;
  fo_group *g = op->group;
  fo_target before;
  fo__target_of(g, &before);
  if (g->slot[other(op->slot)] == NULL) {
    g->active = (uint8_t)op->slot;
    g->state = FO_GROUP_SERVING;
  }
  fo__follow(g, op->slot, op->stack);
  fo__emit_if_changed(g, FO_CHANGE_ATTACH, &before);
  return 0;
}

static int apply_detach(const fo_op *op, uint32_t code, fo_group **created) {
  (void)code;
  (void)created;
  fo_group *g = op->group;
  fo_target before;
  fo__target_of(g, &before);
  fo__unfollow(g, op->slot);
  if (g->active == op->slot) {
    if (g->slot[other(op->slot)] != NULL) { /* forced: traffic moves */
      g->active = (uint8_t)other(op->slot);
      g->state = FO_GROUP_SWITCHING;
    } else {
      g->active = FO_SLOT_PRIMARY;
      g->state = FO_GROUP_RESERVED;
    }
  }
  fo__emit_if_changed(g, FO_CHANGE_DETACH, &before);
  return 0;
}

static int apply_switch(const fo_op *op, uint32_t code, fo_group **created) {
  (void)code;
  (void)created;
  fo_group *g = op->group;
  fo_target before;
  fo__target_of(g, &before);
  g->active = (uint8_t)op->slot;
  g->state = FO_GROUP_SWITCHING;
  fo__emit_if_changed(g, FO_CHANGE_SWITCH, &before);
  return 0;
}

static int apply_delete(const fo_op *op, uint32_t code, fo_group **created) {
  (void)code;
  (void)created;
  fo_group *g = op->group;
  fo_target before, after;
  fo__target_of(g, &before);
  g->state = FO_GROUP_DELETED;
  g->reg->groups_live--;
  fo__address_tombstone(g->reg, g);
  fo__target_of(g, &after);
  fo__emit(g, FO_CHANGE_DELETE, &before, &after);
  return 0;
}

static int apply_remove_stack(const fo_op *op, uint32_t code, fo_group **created) {
  (void)code;
  (void)created;
  fo_stack *s = op->stack;
  fo__dirty_stack(s);
  fo__stack_index_remove(s->reg, s);
  s->reg->stack_by_id[s->id] = NULL;
  s->removed = 1;
  s->reg->stacks_live--;
  return 0;
}

static int apply_settle(const fo_op *op, uint32_t code, fo_group **created) {
  (void)code;
  (void)created;
  op->group->state = FO_GROUP_SERVING;
  return 0;
}

/* The transition table: row k is operation kind k. */
static const struct {
  int (*check)(const fo_op *op);
  int (*apply)(const fo_op *op, uint32_t code, fo_group **created);
} rows[] = {
    {NULL, NULL},
    {check_create, apply_create},
    {check_attach, apply_attach},
    {check_detach, apply_detach},
    {check_switch, apply_switch},
    {check_settle, apply_settle},
    {check_delete, apply_delete},
    {check_remove_stack, apply_remove_stack},
};

static int valid_kind(const fo_op *op) {
  return op != NULL && op->kind >= FO_OP_CREATE &&
         op->kind <= FO_OP_REMOVE_STACK;
}

/* Sizes of fo_op versions 1.. (see layout.h). */
static const size_t op_sizes[] = { FO__SIZE_THROUGH(fo_op, flags) };
static const fo__layout op_layout = FO__LAYOUT(op_sizes);

int fo_op_init(fo_op *op, unsigned int version, fo_op_kind kind) {
  int rc;
  if (op == NULL || kind < FO_OP_CREATE || kind > FO_OP_REMOVE_STACK)
    return FO_EINVAL;
  if ((rc = fo__layout_init(&op_layout, op, version)) != 0)
    return rc;
  op->kind = kind;
  return 0;
}

/* The caller's operation, of whatever version, as the current one. */
static int read_op(const fo_op *in, fo_op *op) {
  int rc = fo__layout_read(&op_layout, op, sizeof(*op), in);
  if (rc != 0)
    return rc;
  return valid_kind(op) ? 0 : FO_EINVAL;
}

int fo_op_check(const fo_op *in) {
  fo_op op;
  int rc = read_op(in, &op);
  return rc != 0 ? rc : rows[op.kind].check(&op);
}

static fo_registry *registry_of(const fo_op *op) {
  switch (op->kind) {
  case FO_OP_CREATE:
    return op->registry;
  case FO_OP_REMOVE_STACK:
    return op->stack->reg;
  default:
    return op->group->reg;
  }
}

/* check -> prepare -> store begin -> apply (cannot fail) -> store commit */
int fo_op_apply(const fo_op *in, fo_group **created) {
  fo_registry *reg;
  uint32_t code = 0;
  fo_op copy;
  const fo_op *op = &copy;
  int rc = read_op(in, &copy);
  if (created != NULL)
    *created = NULL;
  if (rc == 0)
    rc = rows[op->kind].check(op);
  if (rc != 0)
    return rc;
  reg = registry_of(op);
  if (op->kind == FO_OP_CREATE && (rc = prepare_create(op, &code)) != 0)
    return rc;
  if ((rc = fo__store_begin(reg)) != 0)
    return rc;
  /* The group (or stack) this operation changes goes into the commit; a
   * created group is marked by its apply, once it exists. */
  if (op->kind != FO_OP_CREATE && op->kind != FO_OP_REMOVE_STACK)
    fo__dirty_group(op->group);
  rows[op->kind].apply(op, code, created);
  return fo__store_done(reg);
}

/* ---- the operations as functions ---------------------------------------- */

int fo_group_create(fo_group **out, fo_registry *reg, fo_stack *primary,
                    fo_stack *backup) {
  fo_op op;
  if (out == NULL)
    return FO_EINVAL;
  fo_op_init(&op, FO_OP_VERSION, FO_OP_CREATE);
  op.registry = reg;
  op.primary = primary;
  op.backup = backup;
  return fo_op_apply(&op, out);
}

static int run_on_group(fo_op_kind kind, fo_group *g, fo_slot slot,
                        fo_stack *stack, unsigned int flags) {
  fo_op op;
  fo_op_init(&op, FO_OP_VERSION, kind);
  op.group = g;
  op.slot = slot;
  op.stack = stack;
  op.flags = flags;
  return fo_op_apply(&op, NULL);
}

int fo_group_attach(fo_group *g, fo_slot slot, fo_stack *stack) {
  return run_on_group(FO_OP_ATTACH, g, slot, stack, 0);
}

int fo_group_detach(fo_group *g, fo_slot slot, unsigned int flags) {
  return run_on_group(FO_OP_DETACH, g, slot, NULL, flags);
}

int fo_group_switch(fo_group *g, fo_slot to, unsigned int flags) {
  return run_on_group(FO_OP_SWITCH, g, to, NULL, flags);
}

int fo_group_settle(fo_group *g) {
  return run_on_group(FO_OP_SETTLE, g, FO_SLOT_PRIMARY, NULL, 0);
}

int fo_group_delete(fo_group *g) {
  return run_on_group(FO_OP_DELETE, g, FO_SLOT_PRIMARY, NULL, 0);
}
