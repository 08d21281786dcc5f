/*
 * internal.h - the model's data structures, shared by lib/ modules only.
 *
 * Memory layout is chosen for the benchmark's budget (<= 256 bytes per group
 * all-in): groups live in slabs that are never freed before the registry
 * (deleted groups are tombstones, so handles never dangle), and the address
 * index stores 32-bit slab positions instead of pointers.
 */
#ifndef FO_INTERNAL_H
#define FO_INTERNAL_H

#include <failover.h>
#include <failover/store.h>

#include "alloc.h"
#include "index.h"
#include "random.h"

#define FO__ZONE_MAX (FO_NAME_MAX - FO_ADDRESS_LABEL_LEN - 1)
#define FO__ADDRESS_SPACE 1000000000u
#define FO__GROUP_SLAB 4096u
#define FO__IPV4_BUFSIZE 16

/* A server, inline in its stack's list. */
typedef struct fo__server {
  uint32_t id; /* stable, never reused; list order is id order */
  char name[FO_LABEL_MAX + 1];
  char *host_name;   /* always set: explicit, or formed from the template */
  int host_explicit; /* 1 when set by the user */
  char ipv4[FO__IPV4_BUFSIZE]; /* "" when unset */
  char ipv6[FO_IP_BUFSIZE];    /* "" when unset */
} fo__server;

typedef struct fo__server_list {
  fo__server *items;
  size_t len;
  size_t cap;
} fo__server_list;

/* A stack's web head, cached so that targets can point at stable strings. */
typedef struct fo__head {
  int present;
  fo_web_head_rule rule;
  fo_server_kind kind;
  size_t server_index;
  char host_name[FO_NAME_BUFSIZE];
  char ipv4[FO__IPV4_BUFSIZE];
  char ipv6[FO_IP_BUFSIZE];
} fo__head;

struct fo_stack {
  fo_registry *reg;
  uint32_t index; /* position in reg->stacks, for iteration */
  uint32_t id;    /* stable id (store rows), never reused */
  uint8_t removed;
  uint8_t dirty; /* changed since the last store commit */
  uint8_t parked; /* out of the name index while a store entry applies */
  char name[FO_LABEL_MAX + 1];
  fo__server_list servers[2]; /* [0] web servers, [1] load balancers */
  fo__head head;
  fo_group *followers[2]; /* groups holding this stack in slot 0 / slot 1 */
  size_t follower_count;
};

struct fo_group {
  fo_registry *reg;
  fo_stack *slot[2];
  fo_group *next[2]; /* follower list of slot[i] */
  fo_group *prev[2];
  uint64_t generation;
  uint32_t code;  /* the address: 0..999999999 -> "DDD-DDD-DDD" */
  uint32_t index; /* position in the slabs, also the address index value */
  uint16_t ttl;
  uint8_t state;  /* fo_state */
  uint8_t active; /* fo_slot */
  uint8_t mode;   /* fo_record_mode */
  uint8_t dirty;  /* changed since the last store commit */
};

typedef struct fo__subscriber {
  uint32_t id;
  fo_change_fn fn;
  void *userdata;
} fo__subscriber;

struct fo_registry {
  fo_allocator alloc;
  char zone[FO_NAME_BUFSIZE];
  size_t zone_len;
  char *host_template;
  uint32_t default_ttl;

  fo_random_fn random;
  void *random_userdata;
  fo__random_pool pool; /* the default source: buffered kernel randomness */
  uint32_t address_space;

  fo_group **slabs; /* groups in creation order, FO__GROUP_SLAB per slab */
  uint32_t slab_count;
  uint32_t groups_total; /* live and deleted */
  uint32_t groups_live;
  fo__index by_code;     /* code -> slab position; tag is the code itself */
  uint64_t *tombstones;  /* a bit per slab position: group deleted */

  fo_stack **stacks; /* creation order, removed ones included */
  uint32_t stacks_total;
  uint32_t stacks_cap;
  uint32_t stacks_live;
  fo__index by_name;

  fo__subscriber *subs;
  uint32_t sub_count;
  uint32_t sub_cap;
  uint32_t next_sub_id;
  int busy; /* delivering change events: mutations refused */

  /* Stable ids of stacks and servers; stack_by_id[id] is NULL once removed. */
  uint32_t next_stack_id;
  uint32_t next_server_id;
  fo_stack **stack_by_id;
  uint32_t stack_by_id_cap;

  /* Durability (durable.c). The core only marks what changed; the store
   * (through its backend table) does the I/O. */
  fo_store *store;
  uint64_t revision;     /* store revision this registry has seen */
  int poisoned;          /* a commit failed: mutations refused */
  int replaying;         /* applying store rows: no commits, no marks */
  int txn_open;          /* the store's begin succeeded, commit pending */
  uint32_t batch_depth;  /* fo_registry_batch_begin() nesting */
  int settings_dirty;    /* a new store: write the settings row */
  int counters_dirty;
  uint32_t *dirty_groups; /* slab positions of changed groups */
  uint32_t dirty_group_count, dirty_group_cap;
  fo_stack **dirty_stacks;
  uint32_t dirty_stack_count, dirty_stack_cap;
};

/* registry.c */
fo_group *fo__group_at(const fo_registry *reg, uint32_t index);
uint64_t fo__hash_name(const char *name);
int fo__stack_index_ops_find(const fo_registry *reg, const char *lower_name,
                             fo_stack **out);
void fo__stack_index_remove(fo_registry *reg, fo_stack *stack);
void fo__stack_index_insert(fo_registry *reg, fo_stack *stack);
int fo__stack_reserve(fo_registry *reg, uint32_t id);

/* address.c */
int fo__address_draw(fo_registry *reg, uint32_t *code);
int fo__address_reserve(fo_registry *reg);
void fo__address_format(uint32_t code, char out[FO_ADDRESS_LABEL_LEN + 1]);
int fo__address_parse(const fo_registry *reg, const char *text,
                      uint32_t *code);
int fo__address_lookup(const fo_registry *reg, uint32_t code,
                       fo_group **out);
void fo__address_index_insert(fo_registry *reg, fo_group *group);
void fo__address_tombstone(fo_registry *reg, fo_group *group);
int fo__address_known(const fo_registry *reg, uint32_t code);

/* webhead.c */
int fo__templated_host(const fo_registry *reg, const char *stack_name,
                       const char *server_name, char out[FO_NAME_BUFSIZE]);
void fo__head_compute(const fo_stack *stack, fo__head *out);
int fo__template_validate(const char *tmpl, const char *zone);
void fo__stack_retarget(fo_stack *stack, const fo__head *old_head,
                        fo_change_reason reason);

/* target.c: a group's target (from its active stack's head, or why it has
 * none) and target equality, shared by every file that reports changes. */
void fo__target_of(const fo_group *group, fo_target *out);
int fo__target_equal(const fo_target *a, const fo_target *b);
void fo__target_from_head(const fo__head *head, const fo_group *group,
                          fo_target *out);

/* feed.c */
void fo__emit(fo_group *group, fo_change_reason reason,
              const fo_target *old_target, const fo_target *new_target);
void fo__emit_if_changed(fo_group *group, fo_change_reason reason,
                         const fo_target *old_target);

/* group.c */
void fo__follow(fo_group *group, fo_slot slot, fo_stack *stack);
void fo__unfollow(fo_group *group, fo_slot slot);

/* durable.c: the write-ahead path of every mutating call. After its checks
 * and allocations, a call runs fo__store_begin() (may fail: nothing
 * changed), marks what it changes, and returns fo__store_done(). */
int fo__store_begin(fo_registry *reg);
int fo__store_done(fo_registry *reg);
void fo__dirty_group(fo_group *group);
void fo__dirty_stack(fo_stack *stack);
void fo__dirty_counters(fo_registry *reg);
void fo__durable_free(fo_registry *reg);
/* Also declared for the engines in publish_internal.h. */
int fo__registry_in_batch(const fo_registry *reg);

/* stack.c: creation with a given id (0: the next one), and a stack's whole
 * state from a store row (load and refresh). */
int fo__stack_create(fo_registry *reg, const char *name, uint32_t id,
                     fo_stack **out);
int fo__stack_set_image(fo_stack *stack, const fo_store_stack_row *row);

/* transition.c: a new group at the next slab position (reserved already). */
fo_group *fo__group_place(fo_registry *reg, uint32_t code);

/* store_apply.c: one store row into the registry (load and refresh), and
 * the rows of one commit (refresh). */
int fo__row_apply(fo_registry *reg, const fo_store_row *row);
int fo__rows_apply(fo_registry *reg, const fo_store_row *rows, size_t count);

/* Common handle checks; return 0 or a negative code. */
int fo__check_stack(const fo_stack *stack);
int fo__check_group(const fo_group *group);
int fo__check_mutable(const fo_registry *reg);

#endif /* FO_INTERNAL_H */
