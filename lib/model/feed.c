/*
 * feed.c - change-feed subscriptions and delivery.
 */
#include "internal.h"

#include <string.h>

int fo_registry_subscribe(fo_registry *reg, fo_change_fn fn, void *userdata,
                          uint32_t *id) {
  int rc;
  if (reg == NULL || fn == NULL)
    return FO_EINVAL;
  if ((rc = fo__check_mutable(reg)) != 0)
    return rc;
  if (reg->sub_count == reg->sub_cap) {
    uint32_t cap = reg->sub_cap ? reg->sub_cap * 2 : 4;
    fo__subscriber *grown =
        fo__realloc_array(&reg->alloc, reg->subs, cap, sizeof(*grown));
    if (grown == NULL)
      return FO_ENOMEM;
    reg->subs = grown;
    reg->sub_cap = cap;
  }
  reg->subs[reg->sub_count].id = reg->next_sub_id;
  reg->subs[reg->sub_count].fn = fn;
  reg->subs[reg->sub_count].userdata = userdata;
  reg->sub_count++;
  if (id != NULL)
    *id = reg->next_sub_id;
  reg->next_sub_id++;
  return 0;
}

int fo_registry_unsubscribe(fo_registry *reg, uint32_t id) {
  uint32_t i;
  int rc;
  if (reg == NULL)
    return FO_EINVAL;
  if ((rc = fo__check_mutable(reg)) != 0)
    return rc;
  for (i = 0; i < reg->sub_count; i++) {
    if (reg->subs[i].id == id) {
      memmove(&reg->subs[i], &reg->subs[i + 1],
              (reg->sub_count - i - 1) * sizeof(reg->subs[0]));
      reg->sub_count--;
      return 0;
    }
  }
  return FO_ENOENT;
}

void fo__emit(fo_group *g, fo_change_reason reason, const fo_target *old_target,
              const fo_target *new_target) {
  fo_registry *reg = g->reg;
  fo_change change;
  uint32_t i;
  g->generation++;
  if (reg->sub_count == 0)
    return;
  change.group = g;
  change.reason = reason;
  change.generation = g->generation;
  change.old_target = old_target;
  change.new_target = new_target;
  reg->busy = 1;
  for (i = 0; i < reg->sub_count; i++)
    reg->subs[i].fn(&change, reg->subs[i].userdata);
  reg->busy = 0;
}

void fo__emit_if_changed(fo_group *g, fo_change_reason reason,
                         const fo_target *old_target) {
  fo_target now;
  fo__target_of(g, &now);
  if (!fo__target_equal(old_target, &now))
    fo__emit(g, reason, old_target, &now);
}

const char *fo_change_reason_name(fo_change_reason reason) {
  switch (reason) {
  case FO_CHANGE_CREATE:
    return "create";
  case FO_CHANGE_ATTACH:
    return "attach";
  case FO_CHANGE_DETACH:
    return "detach";
  case FO_CHANGE_SWITCH:
    return "switch";
  case FO_CHANGE_DELETE:
    return "delete";
  case FO_CHANGE_SERVER_ADDED:
    return "server-added";
  case FO_CHANGE_SERVER_REMOVED:
    return "server-removed";
  case FO_CHANGE_SERVER_RENAMED:
    return "server-renamed";
  case FO_CHANGE_SERVER_UPDATED:
    return "server-updated";
  case FO_CHANGE_STACK_RENAMED:
    return "stack-renamed";
  case FO_CHANGE_TTL:
    return "ttl";
  case FO_CHANGE_MODE:
    return "mode";
  }
  return "unknown";
}
