/*
 * group.c - group accessors, settings and follower-list links.
 */
#include "internal.h"

#include <string.h>

void fo__follow(fo_group *g, fo_slot slot, fo_stack *stack) {
  g->slot[slot] = stack;
  g->prev[slot] = NULL;
  g->next[slot] = stack->followers[slot];
  if (g->next[slot] != NULL)
    g->next[slot]->prev[slot] = g;
  stack->followers[slot] = g;
  stack->follower_count++;
}

void fo__unfollow(fo_group *g, fo_slot slot) {
  fo_stack *stack = g->slot[slot];
  if (g->prev[slot] != NULL)
    g->prev[slot]->next[slot] = g->next[slot];
  else
    stack->followers[slot] = g->next[slot];
  if (g->next[slot] != NULL)
    g->next[slot]->prev[slot] = g->prev[slot];
  g->next[slot] = g->prev[slot] = NULL;
  g->slot[slot] = NULL;
  stack->follower_count--;
}

static int valid_slot(fo_slot slot) {
  return slot == FO_SLOT_PRIMARY || slot == FO_SLOT_BACKUP;
}

/* Entry check of the setters: a live group of an idle registry. */
static int check_change(const fo_group *g) {
  int rc = fo__check_group(g);
  return rc ? rc : fo__check_mutable(g->reg);
}

int fo_group_set_ttl(fo_group *g, uint32_t ttl) {
  fo_target old;
  int rc;
  if ((rc = check_change(g)) != 0)
    return rc;
  if (ttl < FO_TTL_MIN || ttl > FO_TTL_MAX)
    return FO_ERANGE;
  if ((rc = fo__store_begin(g->reg)) != 0)
    return rc;
  fo__target_of(g, &old);
  fo__dirty_group(g);
  g->ttl = (uint16_t)ttl;
  fo__emit_if_changed(g, FO_CHANGE_TTL, &old);
  return fo__store_done(g->reg);
}

int fo_group_set_mode(fo_group *g, fo_record_mode mode) {
  fo_target old;
  int rc;
  if (g != NULL && mode != FO_MODE_CNAME && mode != FO_MODE_ADDRESS)
    return FO_EINVAL;
  if ((rc = check_change(g)) != 0)
    return rc;
  if ((rc = fo__store_begin(g->reg)) != 0)
    return rc;
  fo__target_of(g, &old);
  fo__dirty_group(g);
  g->mode = (uint8_t)mode;
  fo__emit_if_changed(g, FO_CHANGE_MODE, &old);
  return fo__store_done(g->reg);
}

const char *fo_state_name(fo_state state) {
  switch (state) {
  case FO_GROUP_RESERVED:
    return "reserved";
  case FO_GROUP_SERVING:
    return "serving";
  case FO_GROUP_SWITCHING:
    return "switching";
  case FO_GROUP_DELETED:
    return "deleted";
  }
  return "unknown";
}

int fo_group_state(const fo_group *g, fo_state *out) {
  if (g == NULL || out == NULL)
    return FO_EINVAL;
  *out = (fo_state)g->state;
  return 0;
}

int fo_group_address(const fo_group *g, char *buf, size_t size) {
  size_t need;
  if (g == NULL || buf == NULL)
    return FO_EINVAL;
  need = FO_ADDRESS_LABEL_LEN + 1 + g->reg->zone_len + 1;
  if (size < need)
    return FO_ENOSPC;
  fo__address_format(g->code, buf);
  buf[FO_ADDRESS_LABEL_LEN] = '.';
  memcpy(buf + FO_ADDRESS_LABEL_LEN + 1, g->reg->zone, g->reg->zone_len + 1);
  return 0;
}

int fo_group_stack(const fo_group *g, fo_slot slot, fo_stack **out) {
  int rc;
  if (out == NULL || !valid_slot(slot))
    return FO_EINVAL;
  if ((rc = fo__check_group(g)) != 0)
    return rc;
  *out = g->slot[slot];
  return 0;
}

int fo_group_active_slot(const fo_group *g, fo_slot *out) {
  int rc;
  if (out == NULL)
    return FO_EINVAL;
  if ((rc = fo__check_group(g)) != 0)
    return rc;
  *out = (fo_slot)g->active;
  return 0;
}

int fo_group_ttl(const fo_group *g, uint32_t *out) {
  if (g == NULL || out == NULL)
    return FO_EINVAL;
  *out = g->ttl;
  return 0;
}

int fo_group_mode(const fo_group *g, fo_record_mode *out) {
  if (g == NULL || out == NULL)
    return FO_EINVAL;
  *out = (fo_record_mode)g->mode;
  return 0;
}

int fo_group_generation(const fo_group *g, uint64_t *out) {
  if (g == NULL || out == NULL)
    return FO_EINVAL;
  *out = g->generation;
  return 0;
}

int fo_group_registry(const fo_group *g, fo_registry **out) {
  if (g == NULL || out == NULL)
    return FO_EINVAL;
  *out = g->reg;
  return 0;
}
