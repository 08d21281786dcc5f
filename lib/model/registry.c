/*
 * registry.c - registry life cycle, look-ups and iteration.
 */
#include "internal.h"
#include "layout.h"
#include "names.h"
#include "testing.h"

#include <string.h>

/* Sizes of the options' versions 1.. (see layout.h). */
static const size_t options_sizes[] = {
  FO__SIZE_THROUGH(fo_registry_options, allocator)
};
static const fo__layout options_layout = FO__LAYOUT(options_sizes);

int fo_registry_options_init(fo_registry_options *opts, unsigned int version) {
  return fo__layout_init(&options_layout, opts, version);
}

static int check_allocator(const fo_allocator *a) {
  if (a == NULL)
    return 0;
  return (a->malloc && a->realloc && a->free) ? 0 : FO_EINVAL;
}

int fo_registry_new(fo_registry **out, const fo_registry_options *in) {
  fo_registry_options copy;
  const fo_registry_options *opts = &copy;
  fo_allocator alloc;
  char zone[FO_NAME_BUFSIZE];
  size_t zone_len;
  uint32_t ttl;
  const char *tmpl;
  fo_registry *reg;
  int rc;

  if (out == NULL)
    return FO_EINVAL;
  *out = NULL;
  if ((rc = fo__layout_read(&options_layout, &copy, sizeof(copy), in)) != 0)
    return rc;
  if (opts->zone == NULL)
    return FO_EINVAL;
  if ((rc = check_allocator(opts->allocator)) != 0)
    return rc;
  if ((rc = fo__name_normalize(opts->zone, zone, &zone_len)) != 0)
    return rc;
  if (zone_len > FO__ZONE_MAX)
    return FO_ENAMETOOLONG;
  ttl = opts->default_ttl ? opts->default_ttl : FO_TTL_DEFAULT;
  if (ttl < FO_TTL_MIN || ttl > FO_TTL_MAX)
    return FO_ERANGE;
  tmpl = opts->host_name_template ? opts->host_name_template
                                  : FO_HOST_TEMPLATE_DEFAULT;
  if ((rc = fo__template_validate(tmpl, zone)) != 0)
    return rc;

  if (opts->allocator)
    alloc = *opts->allocator;
  else
    fo__alloc_default(&alloc);
  reg = fo__calloc(&alloc, 1, sizeof(*reg));
  if (reg == NULL)
    return FO_ENOMEM;
  reg->alloc = alloc;
  reg->host_template = fo__strdup(&alloc, tmpl);
  if (reg->host_template == NULL) {
    fo__free(&alloc, reg);
    return FO_ENOMEM;
  }
  memcpy(reg->zone, zone, zone_len + 1);
  reg->zone_len = zone_len;
  reg->default_ttl = ttl;
  reg->random = opts->random;
  reg->random_userdata = opts->random_userdata;
  reg->address_space = FO__ADDRESS_SPACE;
  reg->next_sub_id = 1;
  reg->next_stack_id = 1;
  reg->next_server_id = 1;
  *out = reg;
  return 0;
}

static void free_stack(fo_registry *reg, fo_stack *s) {
  size_t k, i;
  for (k = 0; k < 2; k++) {
    for (i = 0; i < s->servers[k].len; i++)
      fo__free(&reg->alloc, s->servers[k].items[i].host_name);
    fo__free(&reg->alloc, s->servers[k].items);
  }
  fo__free(&reg->alloc, s);
}

void fo_registry_free(fo_registry *reg) {
  uint32_t i;
  fo_allocator alloc;
  if (reg == NULL)
    return;
  alloc = reg->alloc;
  for (i = 0; i < reg->stacks_total; i++)
    free_stack(reg, reg->stacks[i]);
  fo__free(&alloc, reg->stacks);
  for (i = 0; i < reg->slab_count; i++)
    fo__free(&alloc, reg->slabs[i]);
  fo__free(&alloc, reg->slabs);
  fo__free(&alloc, reg->tombstones);
  fo__index_free(&reg->by_code, &alloc);
  fo__index_free(&reg->by_name, &alloc);
  fo__free(&alloc, reg->subs);
  fo__free(&alloc, reg->stack_by_id);
  fo__durable_free(reg);
  fo__free(&alloc, reg->host_template);
  fo__free(&alloc, reg);
}

int fo_registry_zone(const fo_registry *reg, const char **out) {
  if (reg == NULL || out == NULL)
    return FO_EINVAL;
  *out = reg->zone;
  return 0;
}

int fo_registry_default_ttl(const fo_registry *reg, uint32_t *out) {
  if (reg == NULL || out == NULL)
    return FO_EINVAL;
  *out = reg->default_ttl;
  return 0;
}

int fo_registry_group_count(const fo_registry *reg, size_t *out) {
  if (reg == NULL || out == NULL)
    return FO_EINVAL;
  *out = reg->groups_live;
  return 0;
}

int fo_registry_stack_count(const fo_registry *reg, size_t *out) {
  if (reg == NULL || out == NULL)
    return FO_EINVAL;
  *out = reg->stacks_live;
  return 0;
}

fo_group *fo__group_at(const fo_registry *reg, uint32_t index) {
  return &reg->slabs[index / FO__GROUP_SLAB][index % FO__GROUP_SLAB];
}

/* ---- stack-name index ---------------------------------------------------- */

uint64_t fo__hash_name(const char *name) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *name; name++) {
    h ^= (unsigned char)*name;
    h *= 1099511628211ull;
  }
  return h;
}

static int stack_matches(const void *ctx, uint32_t item, const void *key) {
  const fo_registry *reg = ctx;
  return strcmp(reg->stacks[item]->name, key) == 0;
}

static const fo__index_ops stack_index_ops = {stack_matches};

int fo__stack_index_ops_find(const fo_registry *reg, const char *lower_name,
                             fo_stack **out) {
  uint32_t item =
      fo__index_find(&reg->by_name, fo__index_tag(fo__hash_name(lower_name)),
                     lower_name, &stack_index_ops, reg);
  if (item == UINT32_MAX)
    return FO_ENOENT;
  if (out != NULL)
    *out = reg->stacks[item];
  return 0;
}

void fo__stack_index_remove(fo_registry *reg, fo_stack *stack) {
  if (stack->parked) { /* out of the index already */
    stack->parked = 0;
    return;
  }
  fo__index_remove(&reg->by_name, fo__index_tag(fo__hash_name(stack->name)),
                   stack->index);
}

void fo__stack_index_insert(fo_registry *reg, fo_stack *stack) {
  stack->parked = 0;
  fo__index_insert(&reg->by_name, fo__index_tag(fo__hash_name(stack->name)),
                   stack->index);
}

/* Room for one more stack in the list, the name index and the id map
 * (up to `id`). */
int fo__stack_reserve(fo_registry *reg, uint32_t id) {
  if (id >= reg->stack_by_id_cap) {
    uint32_t cap = reg->stack_by_id_cap ? reg->stack_by_id_cap : 16;
    fo_stack **grown;
    while (cap <= id)
      cap = cap > UINT32_MAX / 2 ? id + 1 : cap * 2;
    grown = fo__realloc_array(&reg->alloc, reg->stack_by_id, cap,
                              sizeof(*grown));
    if (grown == NULL)
      return FO_ENOMEM;
    memset(grown + reg->stack_by_id_cap, 0,
           (cap - reg->stack_by_id_cap) * sizeof(*grown));
    reg->stack_by_id = grown;
    reg->stack_by_id_cap = cap;
  }
  if (reg->stacks_total == reg->stacks_cap) {
    uint32_t cap = reg->stacks_cap ? reg->stacks_cap * 2 : 16;
    fo_stack **grown =
        fo__realloc_array(&reg->alloc, reg->stacks, cap, sizeof(*grown));
    if (grown == NULL)
      return FO_ENOMEM;
    reg->stacks = grown;
    reg->stacks_cap = cap;
  }
  return fo__index_reserve(&reg->by_name, &reg->alloc, reg->stacks_live + 1);
}

/* ---- look-ups and iteration ---------------------------------------------- */

int fo_registry_find_group(const fo_registry *reg, const char *address,
                           fo_group **out) {
  uint32_t code;
  fo_group *g;
  int rc;
  if (out != NULL)
    *out = NULL;
  if (reg == NULL || address == NULL || out == NULL)
    return FO_EINVAL;
  if ((rc = fo__address_parse(reg, address, &code)) != 0)
    return rc;
  if ((rc = fo__address_lookup(reg, code, &g)) != 0)
    return rc;
  *out = g;
  return 0;
}

int fo_registry_find_stack(const fo_registry *reg, const char *name,
                           fo_stack **out) {
  char lower[FO_LABEL_MAX + 1];
  int rc;
  if (out != NULL)
    *out = NULL;
  if (reg == NULL || name == NULL || out == NULL)
    return FO_EINVAL;
  rc = fo__label_normalize(name, lower);
  if (rc == FO_ENAMETOOLONG)
    return FO_ENOENT; /* no stack can have such a name */
  if (rc != 0)
    return rc;
  return fo__stack_index_ops_find(reg, lower, out);
}

fo_group *fo_registry_next_group(const fo_registry *reg,
                                 const fo_group *prev) {
  uint32_t i;
  if (reg == NULL || (prev != NULL && prev->reg != reg))
    return NULL;
  for (i = prev ? prev->index + 1 : 0; i < reg->groups_total; i++) {
    fo_group *g = fo__group_at(reg, i);
    if (g->state != FO_GROUP_DELETED)
      return g;
  }
  return NULL;
}

fo_stack *fo_registry_next_stack(const fo_registry *reg,
                                 const fo_stack *prev) {
  uint32_t i;
  if (reg == NULL || (prev != NULL && prev->reg != reg))
    return NULL;
  for (i = prev ? prev->index + 1 : 0; i < reg->stacks_total; i++)
    if (!reg->stacks[i]->removed)
      return reg->stacks[i];
  return NULL;
}

/* ---- handle checks shared by every module -------------------------------- */

int fo__check_stack(const fo_stack *stack) {
  if (stack == NULL)
    return FO_EINVAL;
  return stack->removed ? FO_EDELETED : 0;
}

int fo__check_group(const fo_group *group) {
  if (group == NULL)
    return FO_EINVAL;
  return group->state == FO_GROUP_DELETED ? FO_EDELETED : 0;
}

int fo__check_mutable(const fo_registry *reg) {
  return reg->busy ? FO_EBUSY : 0;
}

int fo__registry_set_address_space(fo_registry *reg, uint32_t size) {
  if (reg == NULL || reg->groups_total != 0)
    return FO_EINVAL;
  if (size == 0 || size > FO__ADDRESS_SPACE)
    return FO_ERANGE;
  reg->address_space = size;
  return 0;
}
