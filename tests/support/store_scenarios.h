/*
 * store_scenarios.h - scenarios that every durable store backend must pass
 * the same way (test_store.c on SQLite, test_store_etcd.c on etcd). A
 * scenario opens its stores through an fs_backend: each test keeps what
 * is particular to its backend (file checks, etcdctl) to itself.
 */
#ifndef FT_STORE_SCENARIOS_H
#define FT_STORE_SCENARIOS_H

#include <string.h>

#include "support.h"

/* Open a store on the test's one backing store (a file, an etcd prefix)
 * with `flags` (FO_STORE_CREATE, FO_STORE_READONLY, ...): an fo_ code. */
typedef int (*fs_open_fn)(fo_store **st, unsigned flags,
                          const void *userdata);

typedef struct fs_backend {
  fs_open_fn open;
  const void *userdata;
} fs_backend;

/* A registry (default options) on a new store of `be`; asserts. */
fo_registry *fs_open_reg(const fs_backend *be, unsigned flags, fo_store **st);
/* Free the registry, then close its store. */
void fs_close_reg(fo_registry *reg, fo_store *st);

/* Durable state unchanged (generations aside, which are per process). */
#define FS_SAME_STATE(before, reg, what)                                       \
  do {                                                                         \
    char *now_ = ft_snapshot_stable(reg);                                      \
    int same_ = strcmp((before), now_) == 0;                                   \
    free(now_);                                                                \
    cr_assert(same_, "%s changed the registry", (what));                       \
  } while (0)

/* The two registries hold the same durable state. */
void fs_assert_same(fo_registry *a, fo_registry *b, const char *what);

/* Two registries on one store, each with its own store handle. */
typedef struct fs_two {
  fo_store *sa, *sb;
  fo_registry *a, *b;
} fs_two;

void fs_two_close(fs_two *t);

/* A populated store reopened `rounds` times (and once more, read-only,
 * while the writer is still open) equals what was written: same snapshot,
 * same revision (the store's too), every rule kept; each reopen goes on
 * writing. */
void fs_reopen_equals_what_was_written(const fs_backend *be, int rounds);

/* A deleted group's address is never handed out again: the registry that
 * deleted it is closed, then `rounds` registries open the store, see the
 * tombstone and are offered the deleted code first (random stream `seed`).
 */
void fs_deleted_address_never_drawn_again(const fs_backend *be, uint64_t seed,
                                          int rounds);

/* Registry a creates the store and a stack "shop" (one web server), b
 * opens it, then a writes a group: b's writes are FO_ESTALE and change
 * nothing (neither b nor the store); a refresh catches b up and fires the
 * change feed; b's stack gets a load balancer and a's group follows after
 * a's refresh. The two are left open, in the same state, in `out`
 * (fs_two_close). */
void fs_stale_write_changes_nothing_and_refresh_catches_up(
    const fs_backend *be, fs_two *out);

/* Application settings: kept across opens, removed with NULL (twice is
 * fine), empty values, names and sizes checked, refused on a read-only
 * store, no revision, bad arguments. */
void fs_application_settings(const fs_backend *be);

/* Create `n` groups in `reg`, refreshing on FO_ESTALE (and, with
 * `retry_locked`, trying again on FO_ELOCKED); counts the stale writes in
 * *stale. For a child process (no asserts): 0, FS_CREATE_EREFRESH when a
 * refresh failed, FS_CREATE_EOTHER on any other error. */
#define FS_CREATE_EREFRESH 1
#define FS_CREATE_EOTHER 2
int fs_create_groups(fo_registry *reg, int n, int retry_locked, int *stale);

#endif
