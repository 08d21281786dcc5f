/*
 * stack.c - stacks and their servers.
 *
 * Every change follows one pattern: validate and allocate everything first
 * (a refusal or FO_ENOMEM leaves the stack as it was), then commit, then
 * recompute the web head and re-target the groups that follow the stack.
 */
#include "internal.h"
#include "layout.h"
#include "names.h"

#include <string.h>

#define LIST(stack, kind) (&(stack)->servers[(kind)-1])

static int valid_kind(fo_server_kind kind) {
  return kind == FO_SERVER_WEB || kind == FO_SERVER_LOAD_BALANCER;
}

/* Shared entry check of every changing stack function. */
static int check_change(const fo_stack *stack) {
  int rc = fo__check_stack(stack);
  return rc ? rc : fo__check_mutable(stack->reg);
}

/* Find a server by lowercase name in either list. */
static fo__server *find(const fo_stack *stack, const char *name,
                        fo_server_kind *kind, size_t *pos) {
  int k;
  size_t i;
  for (k = 0; k < 2; k++) {
    const fo__server_list *l = &stack->servers[k];
    for (i = 0; i < l->len; i++) {
      if (strcmp(l->items[i].name, name) == 0) {
        if (kind)
          *kind = (fo_server_kind)(k + 1);
        if (pos)
          *pos = i;
        return &l->items[i];
      }
    }
  }
  return NULL;
}

/* Normalise `name` and find that server; FO_ENOENT when absent. */
static int lookup(const fo_stack *stack, const char *name, fo__server **out,
                  fo_server_kind *kind, size_t *pos) {
  char lower[FO_LABEL_MAX + 1];
  int rc = fo__label_normalize(name, lower);
  if (rc == FO_ENAMETOOLONG)
    return FO_ENOENT;
  if (rc != 0)
    return rc;
  *out = find(stack, lower, kind, pos);
  return *out ? 0 : FO_ENOENT;
}

/* The store's begin for a change of `stack` that holds `owned` (freed if
 * the begin fails; may be NULL); the stack is then marked for the commit. */
static int begin_change(fo_stack *stack, char *owned) {
  int rc = fo__store_begin(stack->reg);
  if (rc != 0) {
    fo__free(&stack->reg->alloc, owned);
    return rc;
  }
  fo__dirty_stack(stack);
  return 0;
}

/* Commit point of every change: new head, then the groups follow it. */
static void head_changed(fo_stack *stack, fo_change_reason reason) {
  fo__head old = stack->head;
  fo__head_compute(stack, &stack->head);
  fo__stack_retarget(stack, &old, reason);
}

int fo__stack_create(fo_registry *reg, const char *name, uint32_t id,
                     fo_stack **out) {
  char lower[FO_LABEL_MAX + 1];
  fo_stack *stack;
  int rc;
  if ((rc = fo__label_normalize(name, lower)) != 0)
    return rc;
  if ((rc = fo__check_mutable(reg)) != 0)
    return rc;
  if (fo__stack_index_ops_find(reg, lower, NULL) == 0)
    return FO_EEXIST;
  if (id == 0)
    id = reg->next_stack_id;
  else if (id < reg->stack_by_id_cap && reg->stack_by_id[id] != NULL)
    return FO_EEXIST; /* a store row reusing a live stack's id */
  if (id == UINT32_MAX)
    return FO_ERANGE;
  if ((rc = fo__stack_reserve(reg, id)) != 0)
    return rc;
  stack = fo__calloc(&reg->alloc, 1, sizeof(*stack));
  if (stack == NULL)
    return FO_ENOMEM;
  if ((rc = fo__store_begin(reg)) != 0) {
    fo__free(&reg->alloc, stack);
    return rc;
  }
  stack->reg = reg;
  stack->index = reg->stacks_total;
  stack->id = id;
  memcpy(stack->name, lower, sizeof(lower));
  reg->stacks[reg->stacks_total++] = stack;
  reg->stacks_live++;
  reg->stack_by_id[id] = stack;
  if (id >= reg->next_stack_id)
    reg->next_stack_id = id + 1;
  fo__stack_index_insert(reg, stack);
  fo__dirty_stack(stack);
  fo__dirty_counters(reg);
  *out = stack;
  return fo__store_done(reg);
}

int fo_stack_new(fo_stack **out, fo_registry *reg, const char *name) {
  if (out != NULL)
    *out = NULL;
  if (out == NULL || reg == NULL || name == NULL)
    return FO_EINVAL;
  return fo__stack_create(reg, name, 0, out);
}

int fo_stack_remove(fo_stack *stack) {
  fo_op op;
  fo_op_init(&op, FO_OP_VERSION, FO_OP_REMOVE_STACK);
  op.stack = stack;
  return fo_op_apply(&op, NULL);
}

int fo_stack_check_remove(const fo_stack *stack) {
  fo_op op;
  fo_op_init(&op, FO_OP_VERSION, FO_OP_REMOVE_STACK);
  op.stack = (fo_stack *)stack;
  return fo_op_check(&op);
}

int fo_stack_rename(fo_stack *stack, const char *name) {
  char lower[FO_LABEL_MAX + 1];
  char host[FO_NAME_BUFSIZE];
  fo_registry *reg;
  fo_stack *other;
  char **hosts;
  size_t total, k, i, n;
  int rc;

  if (name == NULL)
    return FO_EINVAL;
  if ((rc = check_change(stack)) != 0)
    return rc;
  if ((rc = fo__label_normalize(name, lower)) != 0)
    return rc;
  reg = stack->reg;
  if (fo__stack_index_ops_find(reg, lower, &other) == 0)
    return other == stack ? 0 : FO_EEXIST;

  /* Form every templated host name under the new name before committing. */
  total = stack->servers[0].len + stack->servers[1].len;
  hosts = fo__calloc(&reg->alloc, total ? total : 1, sizeof(*hosts));
  if (hosts == NULL)
    return FO_ENOMEM;
  for (n = 0, k = 0; k < 2; k++) {
    for (i = 0; i < stack->servers[k].len; i++, n++) {
      const fo__server *s = &stack->servers[k].items[i];
      if (s->host_explicit)
        continue;
      rc = fo__templated_host(reg, lower, s->name, host);
      if (rc == 0 && (hosts[n] = fo__strdup(&reg->alloc, host)) == NULL)
        rc = FO_ENOMEM;
      if (rc != 0) {
        for (i = 0; i < total; i++)
          fo__free(&reg->alloc, hosts[i]);
        fo__free(&reg->alloc, hosts);
        return rc;
      }
    }
  }

  if ((rc = fo__store_begin(reg)) != 0) {
    for (i = 0; i < total; i++)
      fo__free(&reg->alloc, hosts[i]);
    fo__free(&reg->alloc, hosts);
    return rc;
  }
  fo__dirty_stack(stack);
  fo__stack_index_remove(reg, stack);
  memcpy(stack->name, lower, sizeof(lower));
  fo__stack_index_insert(reg, stack);
  for (n = 0, k = 0; k < 2; k++) {
    for (i = 0; i < stack->servers[k].len; i++, n++) {
      fo__server *s = &stack->servers[k].items[i];
      if (hosts[n] != NULL) {
        fo__free(&reg->alloc, s->host_name);
        s->host_name = hosts[n];
      }
    }
  }
  fo__free(&reg->alloc, hosts);
  head_changed(stack, FO_CHANGE_STACK_RENAMED);
  return fo__store_done(reg);
}

int fo_stack_name(const fo_stack *stack, const char **out) {
  int rc;
  if (out == NULL)
    return FO_EINVAL;
  if ((rc = fo__check_stack(stack)) != 0)
    return rc;
  *out = stack->name;
  return 0;
}

int fo_stack_registry(const fo_stack *stack, fo_registry **out) {
  if (stack == NULL || out == NULL)
    return FO_EINVAL;
  *out = stack->reg;
  return 0;
}

/* The host name a server would have: explicit (normalised) or templated. */
static int form_host(const fo_stack *stack, const char *server_name,
                     const char *explicit_host, char out[FO_NAME_BUFSIZE]) {
  if (explicit_host != NULL)
    return fo__name_normalize(explicit_host, out, NULL);
  return fo__templated_host(stack->reg, stack->name, server_name, out);
}

int fo_stack_add_server(fo_stack *stack, fo_server_kind kind,
                        const char *name, const char *host_name) {
  char lower[FO_LABEL_MAX + 1];
  char host[FO_NAME_BUFSIZE];
  fo__server_list *list;
  fo__server *s;
  char *host_copy;
  int rc;

  if (name == NULL || !valid_kind(kind))
    return FO_EINVAL;
  if ((rc = check_change(stack)) != 0)
    return rc;
  if ((rc = fo__label_normalize(name, lower)) != 0)
    return rc;
  if ((rc = form_host(stack, lower, host_name, host)) != 0)
    return rc;
  if (find(stack, lower, NULL, NULL) != NULL)
    return FO_EEXIST;

  list = LIST(stack, kind);
  if (list->len == list->cap) {
    size_t cap = list->cap ? list->cap * 2 : 2;
    fo__server *grown = fo__realloc_array(&stack->reg->alloc, list->items,
                                          cap, sizeof(*grown));
    if (grown == NULL)
      return FO_ENOMEM;
    list->items = grown;
    list->cap = cap;
  }
  if ((host_copy = fo__strdup(&stack->reg->alloc, host)) == NULL)
    return FO_ENOMEM;
  if ((rc = begin_change(stack, host_copy)) != 0)
    return rc;
  fo__dirty_counters(stack->reg);

  s = &list->items[list->len++];
  memset(s, 0, sizeof(*s));
  s->id = stack->reg->next_server_id++;
  memcpy(s->name, lower, sizeof(lower));
  s->host_name = host_copy;
  s->host_explicit = host_name != NULL;
  head_changed(stack, FO_CHANGE_SERVER_ADDED);
  return fo__store_done(stack->reg);
}

int fo_stack_remove_server(fo_stack *stack, const char *name) {
  fo__server_list *list;
  fo__server *s;
  fo_server_kind kind;
  size_t pos;
  int rc;

  if (name == NULL)
    return FO_EINVAL;
  if ((rc = check_change(stack)) != 0)
    return rc;
  if ((rc = lookup(stack, name, &s, &kind, &pos)) != 0)
    return rc;
  if ((rc = begin_change(stack, NULL)) != 0)
    return rc;
  list = LIST(stack, kind);
  fo__free(&stack->reg->alloc, s->host_name);
  memmove(&list->items[pos], &list->items[pos + 1],
          (list->len - pos - 1) * sizeof(*s));
  list->len--;
  head_changed(stack, FO_CHANGE_SERVER_REMOVED);
  return fo__store_done(stack->reg);
}

int fo_stack_rename_server(fo_stack *stack, const char *name,
                           const char *new_name) {
  char lower[FO_LABEL_MAX + 1];
  char host[FO_NAME_BUFSIZE];
  fo__server *s, *other;
  char *host_copy = NULL;
  int rc;

  if (name == NULL || new_name == NULL)
    return FO_EINVAL;
  if ((rc = check_change(stack)) != 0)
    return rc;
  if ((rc = lookup(stack, name, &s, NULL, NULL)) != 0)
    return rc;
  if ((rc = fo__label_normalize(new_name, lower)) != 0)
    return rc;
  other = find(stack, lower, NULL, NULL);
  if (other == s)
    return 0;
  if (other != NULL)
    return FO_EEXIST;
  if (!s->host_explicit) {
    if ((rc = fo__templated_host(stack->reg, stack->name, lower, host)) != 0)
      return rc;
    if ((host_copy = fo__strdup(&stack->reg->alloc, host)) == NULL)
      return FO_ENOMEM;
  }
  if ((rc = begin_change(stack, host_copy)) != 0)
    return rc;
  if (host_copy != NULL) {
    fo__free(&stack->reg->alloc, s->host_name);
    s->host_name = host_copy;
  }
  memcpy(s->name, lower, sizeof(lower));
  head_changed(stack, FO_CHANGE_SERVER_RENAMED);
  return fo__store_done(stack->reg);
}

int fo_stack_set_server_host_name(fo_stack *stack, const char *name,
                                  const char *host_name) {
  char host[FO_NAME_BUFSIZE];
  fo__server *s;
  char *host_copy;
  int rc;

  if (name == NULL)
    return FO_EINVAL;
  if ((rc = check_change(stack)) != 0)
    return rc;
  if ((rc = lookup(stack, name, &s, NULL, NULL)) != 0)
    return rc;
  if ((rc = form_host(stack, s->name, host_name, host)) != 0)
    return rc;
  if ((host_copy = fo__strdup(&stack->reg->alloc, host)) == NULL)
    return FO_ENOMEM;
  if ((rc = begin_change(stack, host_copy)) != 0)
    return rc;
  fo__free(&stack->reg->alloc, s->host_name);
  s->host_name = host_copy;
  s->host_explicit = host_name != NULL;
  head_changed(stack, FO_CHANGE_SERVER_UPDATED);
  return fo__store_done(stack->reg);
}

int fo_stack_set_server_addresses(fo_stack *stack, const char *name,
                                  const char *ipv4, const char *ipv6) {
  char v4[FO__IPV4_TEXT], v6[FO_IP_BUFSIZE];
  fo__server *s;
  int rc;

  if (name == NULL)
    return FO_EINVAL;
  if ((rc = check_change(stack)) != 0)
    return rc;
  if ((rc = lookup(stack, name, &s, NULL, NULL)) != 0)
    return rc;
  if ((rc = fo__ipv4_canonical(ipv4, v4)) != 0 ||
      (rc = fo__ipv6_canonical(ipv6, v6)) != 0)
    return rc;
  if ((rc = begin_change(stack, NULL)) != 0)
    return rc;
  memcpy(s->ipv4, v4, sizeof(v4));
  memcpy(s->ipv6, v6, sizeof(v6));
  head_changed(stack, FO_CHANGE_SERVER_UPDATED);
  return fo__store_done(stack->reg);
}

int fo_stack_server_count(const fo_stack *stack, fo_server_kind kind,
                          size_t *out) {
  int rc;
  if (out == NULL || !valid_kind(kind))
    return FO_EINVAL;
  if ((rc = fo__check_stack(stack)) != 0)
    return rc;
  *out = LIST(stack, kind)->len;
  return 0;
}

/* Sizes of fo_server_info versions 1.. (see layout.h). */
static const size_t info_sizes[] = { FO__SIZE_THROUGH(fo_server_info, ipv6) };
static const fo__layout info_layout = FO__LAYOUT(info_sizes);

/* Fill the caller's `out` as far as its version reaches. */
static int fill_info(const fo__server *s, fo_server_kind kind,
                     fo_server_info *out) {
  fo_server_info full;
  full.version = FO_SERVER_INFO_VERSION;
  full.kind = kind;
  full.name = s->name;
  full.host_name = s->host_name;
  full.host_name_explicit = s->host_explicit;
  full.ipv4 = s->ipv4[0] ? s->ipv4 : NULL;
  full.ipv6 = s->ipv6[0] ? s->ipv6 : NULL;
  return fo__layout_fill(&info_layout, out, &full);
}

int fo_stack_server_at(const fo_stack *stack, fo_server_kind kind,
                       size_t index, fo_server_info *out) {
  int rc;
  if (out == NULL || !valid_kind(kind))
    return FO_EINVAL;
  if (fo__layout_size(&info_layout, out) == 0)
    return FO_EVERSION;
  if ((rc = fo__check_stack(stack)) != 0)
    return rc;
  if (index >= LIST(stack, kind)->len)
    return FO_ERANGE;
  return fill_info(&LIST(stack, kind)->items[index], kind, out);
}

int fo_stack_find_server(const fo_stack *stack, const char *name,
                         fo_server_info *out) {
  fo__server *s;
  fo_server_kind kind;
  int rc;
  if (name == NULL || out == NULL)
    return FO_EINVAL;
  if (fo__layout_size(&info_layout, out) == 0)
    return FO_EVERSION;
  if ((rc = fo__check_stack(stack)) != 0)
    return rc;
  if ((rc = lookup(stack, name, &s, &kind, NULL)) != 0)
    return rc;
  return fill_info(s, kind, out);
}

int fo_stack_web_head(const fo_stack *stack, fo_server_info *out,
                      fo_web_head_rule *rule) {
  const fo__head *h;
  int rc;
  if (out == NULL)
    return FO_EINVAL;
  if (fo__layout_size(&info_layout, out) == 0)
    return FO_EVERSION;
  if ((rc = fo__check_stack(stack)) != 0)
    return rc;
  h = &stack->head;
  if (!h->present)
    return FO_ENOWEBHEAD;
  if (rule != NULL)
    *rule = h->rule;
  return fill_info(&LIST(stack, h->kind)->items[h->server_index], h->kind,
                   out);
}

fo_group *fo_stack_next_group(const fo_stack *stack, const fo_group *prev) {
  int slot;
  if (stack == NULL || stack->removed)
    return NULL;
  if (prev == NULL)
    slot = 0;
  else if (prev->slot[0] == stack && prev->next[0] != NULL)
    return prev->next[0];
  else if (prev->slot[0] == stack)
    slot = 1;
  else if (prev->slot[1] == stack)
    return prev->next[1];
  else
    return NULL; /* prev does not hold the stack */
  for (; slot < 2; slot++)
    if (stack->followers[slot] != NULL)
      return stack->followers[slot];
  return NULL;
}

int fo_stack_group_count(const fo_stack *stack, size_t *out) {
  int rc;
  if (out == NULL)
    return FO_EINVAL;
  if ((rc = fo__check_stack(stack)) != 0)
    return rc;
  *out = stack->follower_count;
  return 0;
}

/* ---- stable ids and store images ----------------------------------------- */

int fo_stack_id(const fo_stack *stack, uint32_t *out) {
  int rc;
  if (out == NULL)
    return FO_EINVAL;
  if ((rc = fo__check_stack(stack)) != 0)
    return rc;
  *out = stack->id;
  return 0;
}

int fo_stack_server_id(const fo_stack *stack, const char *name,
                       uint32_t *out) {
  fo__server *s;
  int rc;
  if (name == NULL || out == NULL)
    return FO_EINVAL;
  if ((rc = fo__check_stack(stack)) != 0)
    return rc;
  if ((rc = lookup(stack, name, &s, NULL, NULL)) != 0)
    return rc;
  *out = s->id;
  return 0;
}

int fo_registry_find_stack_id(const fo_registry *reg, uint32_t id,
                              fo_stack **out) {
  if (out != NULL)
    *out = NULL;
  if (reg == NULL || out == NULL)
    return FO_EINVAL;
  if (id >= reg->stack_by_id_cap || reg->stack_by_id[id] == NULL)
    return FO_ENOENT;
  *out = reg->stack_by_id[id];
  return 0;
}

static void free_lists(const fo_allocator *a, fo__server_list lists[2]) {
  size_t k, i;
  for (k = 0; k < 2; k++) {
    for (i = 0; i < lists[k].len; i++)
      fo__free(a, lists[k].items[i].host_name);
    fo__free(a, lists[k].items);
    lists[k].items = NULL;
    lists[k].len = lists[k].cap = 0;
  }
}

static int name_taken(const fo__server_list lists[2], const char *name) {
  size_t k, i;
  for (k = 0; k < 2; k++)
    for (i = 0; i < lists[k].len; i++)
      if (strcmp(lists[k].items[i].name, name) == 0)
        return 1;
  return 0;
}

/* One server of a store row into `lists`, validated like the calls that
 * made it. `stack_name` forms templated host names. */
static int image_server(fo_stack *stack, const char *stack_name,
                        const fo_store_server_row *r,
                        fo__server_list lists[2]) {
  const fo_allocator *a = &stack->reg->alloc;
  char host[FO_NAME_BUFSIZE];
  fo__server_list *list;
  fo__server *s;
  int rc;
  if (!valid_kind(r->kind) || r->name == NULL || r->id == 0 ||
      r->id >= stack->reg->next_server_id)
    return FO_ECORRUPT;
  list = &lists[r->kind - 1];
  if (list->len > 0 && list->items[list->len - 1].id >= r->id)
    return FO_ECORRUPT; /* list order is id order */
  if (list->len == list->cap) {
    size_t cap = list->cap ? list->cap * 2 : 2;
    fo__server *grown = fo__realloc_array(a, list->items, cap, sizeof(*grown));
    if (grown == NULL)
      return FO_ENOMEM;
    list->items = grown;
    list->cap = cap;
  }
  s = &list->items[list->len];
  memset(s, 0, sizeof(*s));
  s->id = r->id;
  if ((rc = fo__label_normalize(r->name, s->name)) != 0)
    return rc;
  if (name_taken(lists, s->name))
    return FO_EEXIST;
  if (r->host_name != NULL)
    rc = fo__name_normalize(r->host_name, host, NULL);
  else
    rc = fo__templated_host(stack->reg, stack_name, s->name, host);
  if (rc != 0)
    return rc;
  {
    char v4[FO__IPV4_TEXT];
    if ((rc = fo__ipv4_canonical(r->ipv4, v4)) != 0 ||
        (rc = fo__ipv6_canonical(r->ipv6, s->ipv6)) != 0)
      return rc;
    memcpy(s->ipv4, v4, sizeof(v4));
  }
  if ((s->host_name = fo__strdup(a, host)) == NULL)
    return FO_ENOMEM;
  s->host_explicit = r->host_name != NULL;
  list->len++;
  return 0;
}

int fo__stack_set_image(fo_stack *stack, const fo_store_stack_row *row) {
  fo_registry *reg = stack->reg;
  char lower[FO_LABEL_MAX + 1];
  fo__server_list lists[2];
  fo__server_list old[2];
  fo_change_reason reason;
  size_t i, before;
  fo_stack *other;
  int rc;

  if (row->name == NULL || (row->server_count && row->servers == NULL))
    return FO_ECORRUPT;
  if ((rc = fo__label_normalize(row->name, lower)) != 0)
    return rc;
  if (fo__stack_index_ops_find(reg, lower, &other) == 0 && other != stack)
    return FO_EEXIST;
  memset(lists, 0, sizeof(lists));
  for (i = 0; i < row->server_count; i++) {
    if ((rc = image_server(stack, lower, &row->servers[i], lists)) != 0) {
      free_lists(&reg->alloc, lists);
      return rc;
    }
  }
  before = stack->servers[0].len + stack->servers[1].len;
  if (stack->parked && strcmp(lower, stack->name) == 0)
    fo__stack_index_insert(reg, stack); /* back under its own name */
  if (strcmp(lower, stack->name) != 0) {
    reason = FO_CHANGE_STACK_RENAMED;
    fo__stack_index_remove(reg, stack);
    memcpy(stack->name, lower, sizeof(lower));
    fo__stack_index_insert(reg, stack);
  } else if (row->server_count > before) {
    reason = FO_CHANGE_SERVER_ADDED;
  } else if (row->server_count < before) {
    reason = FO_CHANGE_SERVER_REMOVED;
  } else {
    reason = FO_CHANGE_SERVER_UPDATED;
  }
  memcpy(old, stack->servers, sizeof(old));
  memcpy(stack->servers, lists, sizeof(lists));
  free_lists(&reg->alloc, old);
  head_changed(stack, reason);
  return 0;
}
