/*
 * failover/registry.h - the registry: owner of every stack and group.
 *
 * A registry is not thread-safe. Like a libuv loop, it has one owner thread;
 * every function taking a registry, or an object of it, must be called from
 * that thread.
 */
#ifndef FAILOVER_REGISTRY_H
#define FAILOVER_REGISTRY_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fo_registry fo_registry;
typedef struct fo_stack fo_stack;
typedef struct fo_group fo_group;

/*
 * Allocator hooks, per registry (never process-global). All three functions
 * are required when a fo_allocator is given. `realloc` follows C's realloc:
 * realloc(NULL, n) allocates, and it returns NULL (leaving the old block
 * intact) on failure. Sizes are never 0.
 */
typedef struct fo_allocator {
  void *(*malloc)(size_t size, void *userdata);
  void *(*realloc)(void *ptr, size_t size, void *userdata);
  void (*free)(void *ptr, void *userdata);
  void *userdata;
} fo_allocator;

/*
 * Random source used to draw group addresses. Fills `len` bytes of `buf` and
 * returns 0, or returns non-zero on failure (the caller then gets
 * FO_ERANDOM and nothing changes). The default is the kernel CSPRNG
 * (getrandom(2)); tests inject a deterministic one.
 */
typedef int (*fo_random_fn)(void *buf, size_t len, void *userdata);

#define FO_REGISTRY_OPTIONS_VERSION 1

/* Default TTL of a group's records, and the accepted range. The upper bound
 * keeps the 5-minute promise: a resolver never holds an answer longer. */
#define FO_TTL_DEFAULT 60u
#define FO_TTL_MIN 1u
#define FO_TTL_MAX 300u

/* Default host-name template of servers without an explicit host name. */
#define FO_HOST_TEMPLATE_DEFAULT "{server}.{stack}.{zone}"

typedef struct fo_registry_options {
  /* FO_REGISTRY_OPTIONS_VERSION; lets the struct grow compatibly. */
  unsigned int version;
  /* Zone the group names live under, e.g. "failover.example.net"; required.
   * At most 241 characters so that "DDD-DDD-DDD." + zone fits a DNS name. */
  const char *zone;
  /* TTL of new groups' records: 0 selects FO_TTL_DEFAULT, otherwise
   * FO_TTL_MIN..FO_TTL_MAX. */
  uint32_t default_ttl;
  /* How a server's host name is formed when it has no explicit one.
   * Placeholders: {server}, {stack}, {zone}; {server} and {stack} are
   * required and must be in different labels ("{server}-{stack}" is
   * refused: "a-b" of "c" and "a" of "b-c" would collide), so that host
   * names of different servers cannot collide; everything else is literal
   * and must form valid DNS labels. NULL selects
   * FO_HOST_TEMPLATE_DEFAULT. */
  const char *host_name_template;
  /* Random source for addresses; NULL selects the kernel CSPRNG. */
  fo_random_fn random;
  void *random_userdata;
  /* Allocator hooks; NULL selects malloc/realloc/free. Copied. */
  const fo_allocator *allocator;
} fo_registry_options;

#define FO_REGISTRY_OPTIONS_INIT                                               \
  { FO_REGISTRY_OPTIONS_VERSION, NULL, 0, NULL, NULL, NULL, NULL }

/*
 * Initialise `opts` to the defaults of options version `version`
 * (pass FO_REGISTRY_OPTIONS_VERSION). For callers that cannot use the
 * _INIT macro, such as FFI users.
 *
 * Returns 0, FO_EINVAL (NULL) or FO_EVERSION.
 */
FO_EXTERN int fo_registry_options_init(fo_registry_options *opts,
                                       unsigned int version);

/*
 * Create a registry. The zone and template are validated and copied.
 *
 * Returns 0, FO_EINVAL (NULL argument or allocator missing a function),
 * FO_EVERSION, FO_EBADNAME / FO_ENAMETOOLONG (zone), FO_ERANGE (TTL),
 * FO_EBADTEMPLATE, FO_ENOMEM. `*out` is NULL on failure.
 */
FO_EXTERN int fo_registry_new(fo_registry **out,
                              const fo_registry_options *opts);

/* Free the registry with every stack and group it owns, deleted ones
 * included. Every handle of it becomes invalid. NULL is a no-op. Must not be
 * called from inside a change callback. */
FO_EXTERN void fo_registry_free(fo_registry *reg);

/* The zone, lowercase, without trailing dot. Returns 0 or FO_EINVAL. */
FO_EXTERN int fo_registry_zone(const fo_registry *reg, const char **out);

/* The default TTL of new groups. Returns 0 or FO_EINVAL. */
FO_EXTERN int fo_registry_default_ttl(const fo_registry *reg, uint32_t *out);

/* Number of live (not deleted) groups and of live (not removed) stacks. */
FO_EXTERN int fo_registry_group_count(const fo_registry *reg, size_t *out);
FO_EXTERN int fo_registry_stack_count(const fo_registry *reg, size_t *out);

/*
 * Look up a group by its address: the full name ("414-262-781.zone", with or
 * without trailing dot, any case) or the bare label ("414-262-781", also
 * with a trailing dot).
 *
 * Returns 0 with `*out` set; FO_ENOENT (never allocated here, or a name in
 * another zone); FO_EDELETED (a tombstone: the address belonged to a deleted
 * group and will never be handed out again; `*out` is NULL); FO_EBADNAME
 * (not of the form DDD-DDD-DDD[.zone][.]); FO_EINVAL.
 */
FO_EXTERN int fo_registry_find_group(const fo_registry *reg,
                                     const char *address, fo_group **out);

/* Look up a live stack by name (any case). Returns 0, FO_ENOENT,
 * FO_EBADNAME, FO_EINVAL. */
FO_EXTERN int fo_registry_find_stack(const fo_registry *reg, const char *name,
                                     fo_stack **out);

/*
 * Iterate live groups in creation order: pass NULL for the first, then the
 * previous result. Returns the next live group or NULL at the end (or on a
 * NULL registry). Deleting the current group while iterating is allowed, and
 * groups created meanwhile are visited at the end.
 */
FO_EXTERN fo_group *fo_registry_next_group(const fo_registry *reg,
                                           const fo_group *prev);

/* Iterate live stacks in creation order, as fo_registry_next_group(). */
FO_EXTERN fo_stack *fo_registry_next_stack(const fo_registry *reg,
                                           const fo_stack *prev);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_REGISTRY_H */
