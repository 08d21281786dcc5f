/*
 * store_apply.c - one store row into a registry: used to load a store and
 * to follow other processes' commits (refresh). A row is checked against
 * every rule of the model before anything changes; the change feed fires
 * for each group whose records change, as for the calls that made it.
 */
#include "internal.h"

#include <string.h>

static int apply_counters(fo_registry *reg, const fo_store_counters *c) {
  if (c->next_stack_id == 0 || c->next_server_id == 0 ||
      c->next_stack_id < reg->next_stack_id ||
      c->next_server_id < reg->next_server_id)
    return FO_ECORRUPT; /* ids are never reused: counters only grow */
  reg->next_stack_id = c->next_stack_id;
  reg->next_server_id = c->next_server_id;
  return 0;
}

static fo_stack *stack_by_id(const fo_registry *reg, uint32_t id) {
  return id < reg->stack_by_id_cap ? reg->stack_by_id[id] : NULL;
}

static int apply_stack(fo_registry *reg, const fo_store_stack_row *row) {
  fo_stack *s = stack_by_id(reg, row->id);
  int rc;
  if (row->id == 0 || row->id >= reg->next_stack_id || row->name == NULL)
    return FO_ECORRUPT;
  if (s == NULL && (rc = fo__stack_create(reg, row->name, row->id, &s)) != 0)
    return rc;
  return fo__stack_set_image(s, row);
}

static int apply_stack_removed(fo_registry *reg, uint32_t id) {
  fo_stack *s = stack_by_id(reg, id);
  /* A stack made and removed within one batch was never seen here. */
  return s == NULL ? 0 : fo_stack_remove(s);
}

/* The rules of the model for one group row; stacks resolved into p[2]. */
static int check_group(const fo_registry *reg, const fo_store_group_row *r,
                       fo_stack *p[2]) {
  int has;
  if (r->state < FO_GROUP_RESERVED || r->state > FO_GROUP_DELETED ||
      r->active_slot > FO_SLOT_BACKUP ||
      (r->mode != FO_MODE_CNAME && r->mode != FO_MODE_ADDRESS))
    return FO_ECORRUPT;
  if (r->ttl < FO_TTL_MIN || r->ttl > FO_TTL_MAX ||
      r->code >= reg->address_space)
    return FO_ERANGE;
  p[0] = p[1] = NULL;
  if (r->primary_stack && (p[0] = stack_by_id(reg, r->primary_stack)) == NULL)
    return FO_ENOENT;
  if (r->backup_stack && (p[1] = stack_by_id(reg, r->backup_stack)) == NULL)
    return FO_ENOENT;
  if (p[0] != NULL && p[0] == p[1])
    return FO_ESAMESTACK;
  has = p[0] != NULL || p[1] != NULL;
  switch (r->state) {
  case FO_GROUP_RESERVED:
  case FO_GROUP_DELETED:
    return has ? FO_EATTACHED : 0;
  default: /* serving or switching: the active slot holds a stack */
    return p[r->active_slot] != NULL ? 0 : FO_ESLOTEMPTY;
  }
}

/* The event a follower reports for a group row that changed. */
static fo_change_reason reason_of(const fo_group *g,
                                  const fo_store_group_row *r,
                                  fo_stack *const p[2]) {
  if (g->active != r->active_slot)
    return FO_CHANGE_SWITCH;
  if (g->slot[0] != p[0] || g->slot[1] != p[1])
    return (p[0] && !g->slot[0]) || (p[1] && !g->slot[1]) ? FO_CHANGE_ATTACH
                                                          : FO_CHANGE_DETACH;
  if (g->ttl != r->ttl)
    return FO_CHANGE_TTL;
  return g->mode != r->mode ? FO_CHANGE_MODE : FO_CHANGE_SWITCH;
}

static void set_fields(fo_group *g, const fo_store_group_row *r,
                       fo_stack *const p[2]) {
  int k;
  for (k = 0; k < 2; k++) {
    if (g->slot[k] == p[k])
      continue;
    if (g->slot[k] != NULL)
      fo__unfollow(g, (fo_slot)k);
    if (p[k] != NULL)
      fo__follow(g, (fo_slot)k, p[k]);
  }
  g->active = (uint8_t)r->active_slot;
  g->ttl = (uint16_t)r->ttl;
  g->mode = (uint8_t)r->mode;
  g->state = (uint8_t)r->state;
  if (r->state == FO_GROUP_DELETED) {
    g->reg->groups_live--;
    fo__address_tombstone(g->reg, g);
  }
}

static int apply_new_group(fo_registry *reg, const fo_store_group_row *r,
                           fo_stack *const p[2]) {
  fo_target before, after;
  fo_group *g;
  int rc;
  if (fo__address_known(reg, r->code))
    return FO_EEXIST; /* an address drawn twice */
  if (reg->groups_total >= reg->address_space)
    return FO_EEXHAUSTED;
  if ((rc = fo__address_reserve(reg)) != 0)
    return rc;
  g = fo__group_place(reg, r->code);
  fo__target_of(g, &before);
  set_fields(g, r, p);
  if (r->state == FO_GROUP_DELETED)
    return 0; /* born and deleted within one commit: nothing to report */
  fo__target_of(g, &after);
  fo__emit(g, FO_CHANGE_CREATE, &before, &after);
  return 0;
}

static int apply_group(fo_registry *reg, const fo_store_group_row *r) {
  fo_stack *p[2];
  fo_target before, after;
  fo_change_reason reason;
  fo_group *g;
  int rc = check_group(reg, r, p);
  if (rc != 0)
    return rc;
  if (r->seq == reg->groups_total)
    return apply_new_group(reg, r, p);
  if (r->seq > reg->groups_total)
    return FO_ECORRUPT; /* a gap in creation order */
  g = fo__group_at(reg, r->seq);
  if (g->code != r->code)
    return FO_ECORRUPT;
  if (g->state == FO_GROUP_DELETED)
    return r->state == FO_GROUP_DELETED ? 0 : FO_EDELETED;
  fo__target_of(g, &before);
  reason = r->state == FO_GROUP_DELETED ? FO_CHANGE_DELETE
                                        : reason_of(g, r, p);
  set_fields(g, r, p);
  if (reason == FO_CHANGE_DELETE) {
    fo__target_of(g, &after);
    fo__emit(g, reason, &before, &after);
  } else {
    fo__emit_if_changed(g, reason, &before);
  }
  return 0;
}

/*
 * The rows of one commit. They are final images, so names may pass between
 * stacks within a commit (a name freed by a rename or a removal taken by
 * another stack; two stacks swapping names): the stacks that lose or change
 * their name in this commit leave the name index first (parked), and each
 * comes back under its new name as its row applies (a removed one never
 * does). Nothing is reported for parking: no name changed yet.
 */
int fo__rows_apply(fo_registry *reg, const fo_store_row *rows, size_t count) {
  size_t i;
  int rc = 0;
  for (i = 0; i < count; i++) {
    const fo_store_row *r = &rows[i];
    fo_stack *s;
    if (r->kind != FO_ROW_STACK && r->kind != FO_ROW_STACK_REMOVED)
      continue;
    s = stack_by_id(reg, r->stack.id);
    if (s == NULL || s->parked)
      continue;
    if (r->kind == FO_ROW_STACK_REMOVED ||
        (r->stack.name != NULL && strcmp(r->stack.name, s->name) != 0)) {
      fo__stack_index_remove(reg, s);
      s->parked = 1;
    }
  }
  for (i = 0; i < count && rc == 0; i++)
    rc = fo__row_apply(reg, &rows[i]);
  return rc;
}

int fo__row_apply(fo_registry *reg, const fo_store_row *row) {
  switch (row->kind) {
  case FO_ROW_SETTINGS:
    /* Written once, when the store was made; never changes. */
    return row->settings.zone && strcmp(row->settings.zone, reg->zone) == 0
               ? 0
               : FO_ECORRUPT;
  case FO_ROW_COUNTERS:
    return apply_counters(reg, &row->counters);
  case FO_ROW_STACK:
    return apply_stack(reg, &row->stack);
  case FO_ROW_STACK_REMOVED:
    return apply_stack_removed(reg, row->stack.id);
  case FO_ROW_GROUP:
    return apply_group(reg, &row->group);
  }
  return FO_ECORRUPT;
}
