/*
 * failover/stack.h - stacks, their servers and their web head.
 *
 * A stack has a name (a single DNS label) and two ordered lists of servers:
 * web servers and load balancers. Its *web head* is its first load balancer,
 * else its first web server, else none. Every change below that moves the
 * web head (or its host name or addresses) re-targets every group whose
 * active slot holds the stack, and the change feed reports each group.
 *
 * Handles stay valid memory for the registry's lifetime: after
 * fo_stack_remove() every function given the stack returns FO_EDELETED.
 * Names are compared case-insensitively and stored lowercase.
 */
#ifndef FAILOVER_STACK_H
#define FAILOVER_STACK_H

#include "common.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fo_server_kind {
  FO_SERVER_WEB = 1,
  FO_SERVER_LOAD_BALANCER = 2
} fo_server_kind;

/* Why the web head is the server it is. */
typedef enum fo_web_head_rule {
  FO_WEB_HEAD_FIRST_LOAD_BALANCER = 1, /* the stack has a load balancer */
  FO_WEB_HEAD_FIRST_WEB_SERVER = 2     /* no load balancer: first web server */
} fo_web_head_rule;

/*
 * A server as the library sees it. Strings point into the registry and stay
 * valid until the stack next changes (or the registry is freed); copy them to
 * keep them. `ipv4`/`ipv6` are NULL when not set. The caller sets
 * `version` (FO_SERVER_INFO_INIT); the library fills only that version's
 * fields.
 */
#define FO_SERVER_INFO_VERSION 1

typedef struct fo_server_info {
  unsigned int version;  /* FO_SERVER_INFO_VERSION */
  fo_server_kind kind;
  const char *name;      /* label, lowercase */
  const char *host_name; /* explicit, or formed from the registry template */
  int host_name_explicit; /* 1 when set with a host name, 0 when templated */
  const char *ipv4;      /* canonical dotted quad */
  const char *ipv6;      /* canonical RFC 5952 text */
} fo_server_info;

#define FO_SERVER_INFO_INIT { FO_SERVER_INFO_VERSION, 0, NULL, NULL, 0, NULL, NULL }

/*
 * Create a stack named `name` (a DNS label: 1-63 letters, digits, hyphens,
 * not starting or ending with a hyphen).
 *
 * Returns 0; FO_EINVAL; FO_EBADNAME / FO_ENAMETOOLONG; FO_EEXIST (a live
 * stack has that name); FO_EBUSY (called from a change callback); FO_ENOMEM.
 */
FO_EXTERN int fo_stack_new(fo_stack **out, fo_registry *reg, const char *name);

/*
 * Remove a stack. Allowed only when no group holds it in either slot.
 * Its name becomes free for a new stack; the handle answers FO_EDELETED.
 *
 * Returns 0, FO_EINVAL, FO_EDELETED, FO_EINUSE, FO_EBUSY.
 */
FO_EXTERN int fo_stack_remove(fo_stack *stack);

/* Check fo_stack_remove() without doing it; same codes. */
FO_EXTERN int fo_stack_check_remove(const fo_stack *stack);

/*
 * Rename a stack. Templated host names follow, and so does every group that
 * points at its web head.
 *
 * Returns 0; FO_EINVAL; FO_EDELETED; FO_EBADNAME; FO_ENAMETOOLONG (the name,
 * or a server host name it would form); FO_EEXIST; FO_EBUSY; FO_ENOMEM.
 */
FO_EXTERN int fo_stack_rename(fo_stack *stack, const char *name);

/* The stack's name. Returns 0, FO_EINVAL, FO_EDELETED. */
FO_EXTERN int fo_stack_name(const fo_stack *stack, const char **out);

/* The registry a stack belongs to (also for removed stacks). */
FO_EXTERN int fo_stack_registry(const fo_stack *stack, fo_registry **out);

/*
 * Append a server to the end of its kind's list. `host_name` is an explicit
 * DNS name, or NULL to form it from the registry's template.
 *
 * Returns 0; FO_EINVAL (NULL, bad kind); FO_EDELETED; FO_EBADNAME /
 * FO_ENAMETOOLONG (name, host name or the templated host name); FO_EEXIST
 * (a server of either kind has the name); FO_EBUSY; FO_ENOMEM.
 */
FO_EXTERN int fo_stack_add_server(fo_stack *stack, fo_server_kind kind,
                                  const char *name, const char *host_name);

/* Remove a server by name. Returns 0, FO_EINVAL, FO_EDELETED, FO_EBADNAME,
 * FO_ENOENT, FO_EBUSY. */
FO_EXTERN int fo_stack_remove_server(fo_stack *stack, const char *name);

/* Rename a server; its position is kept. Returns 0, FO_EINVAL, FO_EDELETED,
 * FO_EBADNAME, FO_ENAMETOOLONG, FO_ENOENT, FO_EEXIST, FO_EBUSY, FO_ENOMEM. */
FO_EXTERN int fo_stack_rename_server(fo_stack *stack, const char *name,
                                     const char *new_name);

/* Set (or with NULL, clear back to the template) a server's explicit host
 * name. Returns 0, FO_EINVAL, FO_EDELETED, FO_EBADNAME, FO_ENAMETOOLONG,
 * FO_ENOENT, FO_EBUSY, FO_ENOMEM. */
FO_EXTERN int fo_stack_set_server_host_name(fo_stack *stack, const char *name,
                                            const char *host_name);

/*
 * Set a server's addresses: `ipv4` a dotted quad, `ipv6` an IPv6 literal;
 * NULL clears that family. Both are validated before either is stored.
 *
 * Returns 0, FO_EINVAL, FO_EDELETED, FO_EBADNAME, FO_ENOENT, FO_EBADADDR
 * (not a literal of that family), FO_EBUSY.
 */
FO_EXTERN int fo_stack_set_server_addresses(fo_stack *stack, const char *name,
                                            const char *ipv4,
                                            const char *ipv6);

/* Number of servers of a kind. Returns 0, FO_EINVAL, FO_EDELETED. */
FO_EXTERN int fo_stack_server_count(const fo_stack *stack, fo_server_kind kind,
                                    size_t *out);

/* The `index`-th server of a kind (0-based, in order of addition).
 * Returns 0, FO_EINVAL, FO_EVERSION (`out->version`), FO_EDELETED,
 * FO_ERANGE (index past the end). */
FO_EXTERN int fo_stack_server_at(const fo_stack *stack, fo_server_kind kind,
                                 size_t index, fo_server_info *out);

/* A server by name. Returns 0, FO_EINVAL, FO_EVERSION, FO_EDELETED,
 * FO_EBADNAME, FO_ENOENT. */
FO_EXTERN int fo_stack_find_server(const fo_stack *stack, const char *name,
                                   fo_server_info *out);

/*
 * The stack's web head: its first load balancer, else its first web server,
 * into `out` (version set by the caller); `*rule` (may be NULL) says which
 * rule chose it.
 *
 * Returns 0, FO_EINVAL, FO_EVERSION, FO_EDELETED, FO_ENOWEBHEAD (no server
 * at all). Nothing is written on failure.
 */
FO_EXTERN int fo_stack_web_head(const fo_stack *stack, fo_server_info *out,
                                fo_web_head_rule *rule);

/* Number of live groups holding the stack in either slot. */
FO_EXTERN int fo_stack_group_count(const fo_stack *stack, size_t *out);

/*
 * Iterate the groups holding the stack in either slot (each once; those
 * with it in the primary slot first), without scanning every group of the
 * registry: pass NULL for the first, then the previous result. Returns the
 * next group, or NULL at the end (or for a NULL or removed stack). Calls
 * that change which groups hold the stack (attach, detach, delete) must not
 * run while iterating; switches, settles and stack changes may.
 */
FO_EXTERN fo_group *fo_stack_next_group(const fo_stack *stack,
                                        const fo_group *prev);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_STACK_H */
