/*
 * support.h - shared helpers for libfailover's Criterion tests.
 *
 * Compiled into every test executable (every .c file under tests/support). Only the public
 * headers (and lib/model/testing.h where a test needs it) are used: the helpers
 * see the library exactly as a user does.
 */
#ifndef FT_SUPPORT_H
#define FT_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <failover.h>

#define FT_ZONE "failover.example.net"

/* Assert that `expr` returns `expected`, naming both codes on failure. */
#define FT_RC(expr, expected)                                                  \
  do {                                                                         \
    int ft_rc_ = (expr);                                                       \
    int ft_exp_ = (expected);                                                  \
    cr_assert_eq(ft_rc_, ft_exp_, "%s:%d: %s\n  returned %s (%d), expected %s (%d)", \
                 __FILE__, __LINE__, #expr, fo_err_name(ft_rc_), ft_rc_,      \
                 fo_err_name(ft_exp_), ft_exp_);                               \
  } while (0)

#define FT_OK(expr) FT_RC(expr, 0)

/* ---- growable string ---------------------------------------------------- */

typedef struct ft_buf {
  char *p;
  size_t len;
  size_t cap;
} ft_buf;

void ft_buf_printf(ft_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void ft_buf_append(ft_buf *b, const char *data, size_t len);
void ft_buf_free(ft_buf *b);
/* Hand the string over (never NULL); the buffer is reset. */
char *ft_buf_take(ft_buf *b);

/* ---- deterministic random source --------------------------------------- */

/*
 * A splitmix64 stream. Every byte handed to the library is logged so that a
 * test can replay the bytes that produced an earlier address (to make the
 * library draw a deleted group's code again).
 */
typedef struct ft_rng {
  uint64_t state;
  int fail;              /* non-zero: every fill fails */
  unsigned long calls;   /* fill calls, failed ones included */
  size_t produced;       /* bytes handed out (offset in the log) */
  unsigned char *log;
  size_t log_cap;
  unsigned char *replay; /* bytes to hand out before fresh ones */
  size_t replay_len;
  size_t replay_pos;
} ft_rng;

void ft_rng_init(ft_rng *r, uint64_t seed);
void ft_rng_free(ft_rng *r);
uint64_t ft_rng_next(ft_rng *r);
/* Uniform-ish value in [0, n). n > 0. */
uint32_t ft_rng_below(ft_rng *r, uint32_t n);
/* fo_random_fn; userdata is an ft_rng. */
int ft_rng_fill(void *buf, size_t len, void *userdata);
/* Queue the logged bytes [from, to) to be handed out again first. */
void ft_rng_replay(ft_rng *r, size_t from, size_t to);

/* ---- counting, failing allocator --------------------------------------- */

typedef struct ft_alloc {
  size_t live;        /* blocks allocated and not freed */
  size_t live_bytes;
  size_t count;       /* allocation attempts (malloc, realloc(NULL) and growing reallocs) */
  size_t fail_at;     /* 1-based attempt number to fail; 0: never */
  int fail_all_after; /* non-zero: every attempt >= fail_at fails */
  size_t failures;    /* attempts failed */
  size_t bad_frees;   /* frees/reallocs of blocks this allocator did not hand out */
  fo_allocator hooks; /* pass &hooks in fo_registry_options */
} ft_alloc;

void ft_alloc_init(ft_alloc *a);

/* ---- registry / stack helpers ------------------------------------------ */

/* fo_registry_options with FT_ZONE and the given rng / allocator (either may
 * be NULL). */
fo_registry_options ft_options(ft_rng *rng, ft_alloc *alloc);
/* Create a registry with FT_ZONE; asserts success. */
fo_registry *ft_registry(ft_rng *rng, ft_alloc *alloc);
/* Create a stack with web servers web1..web<n_web> and load balancers
 * lb1..lb<n_lb>; asserts success. */
fo_stack *ft_stack(fo_registry *reg, const char *name, int n_web, int n_lb);
/* Create a group; asserts success. */
fo_group *ft_group(fo_registry *reg, fo_stack *primary, fo_stack *backup);
/* The group's address into buf (FO_NAME_BUFSIZE); asserts success. */
const char *ft_address(const fo_group *g, char *buf);
fo_state ft_state(const fo_group *g);
fo_slot ft_active(const fo_group *g);
fo_stack *ft_slot(const fo_group *g, fo_slot slot);
uint64_t ft_generation(const fo_group *g);
/* Records rendered as presentation text (static buffer per call site is not
 * used: the result is malloc'ed). */
char *ft_records_text(const fo_group *g);

/* 1 when s is "DDD-DDD-DDD.<zone>" (zone compared exactly), else 0. */
int ft_is_address(const char *s, const char *zone);
/* 1 when s is "DDD-DDD-DDD". */
int ft_is_address_label(const char *s);

/* ---- snapshots ----------------------------------------------------------- */

/*
 * Serialise everything the public API shows about a registry: zone, default
 * TTL, counts, every live stack with its servers and web head, every live
 * group with state, slots, active slot, TTL, mode, generation, target and
 * records. malloc'ed; free() it.
 */
char *ft_snapshot(const fo_registry *reg);
/* The same for one group (deleted groups included). */
char *ft_snapshot_group(const fo_group *g);
/* Same for one stack (removed included). */
char *ft_snapshot_stack(const fo_stack *s);
void ft_snapshot_group_into(ft_buf *b, const fo_group *g);
/* When non-zero, snapshots leave out generations (they are per process). */
extern int ft_snapshot_skip_generations;
/* ft_snapshot() without generations, plus stack and server ids: equal for
 * two registries that hold the same durable state. malloc'ed. */
char *ft_snapshot_stable(const fo_registry *reg);
/* NULL when every rule of the model holds, else a description of what is
 * broken (malloc'ed). Linear in groups x stacks: for small registries. */
char *ft_invariant_violation(const fo_registry *reg);
void ft_snapshot_stack_into(ft_buf *b, const fo_stack *s);

/* Switchover options (<failover/switch.h>) as an expression: `flags` and
 * `until_ms`, the rest defaults. */
#define FT_SWOPTS(flags, until)                                                \
  (&(fo_switchover_options){FO_SWITCHOVER_OPTIONS_VERSION, (flags), (until), 0})

/* Assert that the registry's snapshot equals `before`; frees nothing. */
#define FT_UNCHANGED(before, reg, what)                                        \
  do {                                                                         \
    char *ft_after_ = ft_snapshot(reg);                                        \
    int ft_same_ = strcmp((before), ft_after_) == 0;                           \
    if (!ft_same_)                                                             \
      cr_log_error("%s:%d: %s changed the registry\n--- before\n%s\n--- after\n%s", \
                   __FILE__, __LINE__, (what), (before), ft_after_);           \
    free(ft_after_);                                                           \
    cr_assert(ft_same_, "%s:%d: %s changed the registry", __FILE__, __LINE__,  \
              (what));                                                         \
  } while (0)

/* ---- expected records (computed independently of fo_group_records) ----- */

/*
 * What the group's records must be, from its state, active stack, the
 * stack's web head (fo_stack_web_head), mode, TTL and address. Asserts that
 * the accessors it uses succeed.
 */
void ft_expected_rrset(const fo_group *g, fo_rrset *out);
/* 1 when equal (count, none, each record's type/ttl/owner/data). */
int ft_rrset_equal(const fo_rrset *a, const fo_rrset *b);
/* Human-readable form for messages; malloc'ed. */
char *ft_rrset_describe(const fo_rrset *set);

/* ---- change-feed recorder ---------------------------------------------- */

typedef struct ft_event {
  fo_group *group;
  fo_change_reason reason;
  uint64_t generation;
  uint64_t group_generation; /* fo_group_generation() inside the callback */
  int tag;                   /* the recorder's tag */
  int has_old, has_new;
  fo_none_reason old_none, new_none;
  char old_host[FO_NAME_BUFSIZE], new_host[FO_NAME_BUFSIZE];
  char new_ipv4[FO_IP_BUFSIZE], new_ipv6[FO_IP_BUFSIZE];
  uint32_t new_ttl;
  fo_record_mode new_mode;
  int target_matches; /* fo_group_target() inside the callback == new_target */
} ft_event;

typedef struct ft_events {
  ft_event *ev;
  size_t n, cap;
  int tag;
  /* When set, events from every recorder are also appended here (to check
   * the order between subscribers). */
  struct ft_events *shared;
} ft_events;

/* fo_change_fn; userdata is an ft_events. */
void ft_events_cb(const fo_change *c, void *userdata);
void ft_events_clear(ft_events *e);
void ft_events_free(ft_events *e);
/* Number of recorded events for `g`. */
size_t ft_events_for(const ft_events *e, const fo_group *g);

/* ---- string set (addresses ever seen) ---------------------------------- */

typedef struct ft_strset {
  char **slots;
  size_t cap, n;
} ft_strset;

/* 1 when added, 0 when already present. */
int ft_strset_add(ft_strset *s, const char *str);
int ft_strset_has(const ft_strset *s, const char *str);
void ft_strset_free(ft_strset *s);

/* ---- durable-store fixtures -------------------------------------------- */

/* A registry with every kind of row: stacks (one renamed, one removed),
 * servers with explicit host names, addresses and a rename, groups in
 * every state (one switched, one deleted, one in address mode). `tag` is
 * appended to the stack names, so that one registry can be populated
 * twice ("" for none). */
void ft_populate(fo_registry *reg, const char *tag);


#endif
