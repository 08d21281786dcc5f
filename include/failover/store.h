/*
 * failover/store.h - durable registries: the store and its backends.
 *
 * A store holds a registry's state outside the process: every stack, server
 * and group (deleted groups included, as tombstones), the registry settings,
 * a log of recent commits and the publisher lease. The store is the source
 * of truth; a registry opened on it is a cache that follows it.
 *
 * How a durable registry writes. Every public mutating call (fo_stack_*,
 * fo_group_*, fo_op_apply) runs: the pure check -> prepare (allocate, draw
 * the address) -> the store's `begin` (takes the write lock and compares
 * revisions) -> apply in memory -> the store's `commit` of the rows the call
 * changed. A call refused by a rule, by FO_ENOMEM before `begin`, by
 * FO_ESTALE or by a failed `begin` changes nothing, in memory or in the
 * store. If the commit fails after `begin` (write or fsync error, full disk,
 * or memory running out while the rows are built), the memory already
 * holds the change the store may or may not have: the call returns that
 * code and the registry is *poisoned*: every later mutation returns
 * FO_EPOISONED until the registry is freed and opened again from the store.
 * Nothing the store acknowledged is ever lost (with the SQLite backend:
 * under synchronous=FULL, the default; see FO_STORE_SYNC_NORMAL).
 *
 * Change events are delivered while the call runs, before its commit; they
 * report the registry's new desired state. Publishers send from the loop,
 * after the call returned; they do not send while a batch is open, nor from
 * a poisoned registry. Keep a batch within one turn of the loop: it holds
 * the store's write lock, so other processes' writes wait for it.
 *
 * State, not derived data: records follow from stacks and groups, so a new
 * load balancer that re-targets 100,000 groups writes one stack row.
 *
 * No libuv here: the store interface is synchronous. A backend may block
 * (SQLite waits up to its busy timeout for another writer's lock).
 */
#ifndef FAILOVER_STORE_H
#define FAILOVER_STORE_H

#include "common.h"
#include "group.h"
#include "registry.h"
#include "stack.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fo_store fo_store;

/* ---- rows: what a store holds ---------------------------------------------
 *
 * A commit hands the backend the full new image of every row it changed;
 * a backend stores rows by key (settings: one; stack: id; group: seq) and
 * needs to know nothing of the model. Structs the library fills and the
 * backend reads (commit), or the backend fills and the library reads (load).
 * Strings are NUL-terminated, valid for the duration of the call.
 */

/* The registry's settings; written once, when the store is created. */
typedef struct fo_store_settings {
  const char *zone;          /* lowercase, no trailing dot */
  uint32_t default_ttl;      /* FO_TTL_MIN..FO_TTL_MAX */
  const char *host_template; /* as in fo_registry_options */
} fo_store_settings;

/* Id counters: ids are never reused, even after a removal. */
typedef struct fo_store_counters {
  uint32_t next_stack_id;  /* every stack id is below this */
  uint32_t next_server_id; /* every server id is below this */
} fo_store_counters;

typedef struct fo_store_server_row {
  uint32_t id;          /* stable: renames keep it */
  fo_server_kind kind;  /* list it belongs to; list order is id order */
  const char *name;     /* label */
  const char *host_name; /* explicit host name, or NULL when templated */
  const char *ipv4;     /* NULL when unset */
  const char *ipv6;     /* NULL when unset */
} fo_store_server_row;

/* A live stack with all its servers (a stack row is written whole). */
typedef struct fo_store_stack_row {
  uint32_t id; /* 1.. ; stable across renames */
  const char *name;
  size_t server_count;
  const fo_store_server_row *servers;
} fo_store_stack_row;

/* A group, live or a tombstone (state FO_GROUP_DELETED, no stacks). */
typedef struct fo_store_group_row {
  uint32_t seq;           /* creation order, 0.. ; the row's key */
  uint32_t code;          /* the address, 0..999999999 ("DDD-DDD-DDD") */
  uint32_t primary_stack; /* stack id, 0 for an empty slot */
  uint32_t backup_stack;  /* stack id, 0 for an empty slot */
  uint32_t active_slot;   /* fo_slot */
  uint32_t state;         /* fo_state */
  uint32_t ttl;
  uint32_t mode;          /* fo_record_mode */
} fo_store_group_row;

typedef enum fo_store_row_kind {
  FO_ROW_SETTINGS = 1,
  FO_ROW_COUNTERS = 2,
  FO_ROW_STACK = 3,         /* put `stack` (insert or replace) */
  FO_ROW_STACK_REMOVED = 4, /* delete the stack `stack.id` and its servers */
  FO_ROW_GROUP = 5          /* put `group` */
} fo_store_row_kind;

/* One row; only the member named by `kind` is meaningful. */
typedef struct fo_store_row {
  fo_store_row_kind kind;
  fo_store_settings settings;
  fo_store_counters counters;
  fo_store_stack_row stack;
  fo_store_group_row group;
} fo_store_row;

/* ---- what a backend receives and gives ------------------------------------ */

/* The rows of one commit, in the order a follower must apply them. */
typedef struct fo_store_changes fo_store_changes;

FO_EXTERN size_t fo_store_changes_count(const fo_store_changes *changes);
/* The `index`-th row, or NULL past the end. */
FO_EXTERN const fo_store_row *fo_store_changes_row(
    const fo_store_changes *changes, size_t index);
/*
 * The commit encoded as one opaque log entry (the library's own format):
 * a backend stores these bytes under the new revision and hands them back
 * from `read_log`. Valid until the commit call returns.
 */
FO_EXTERN void fo_store_changes_log(const fo_store_changes *changes,
                                    const void **bytes, size_t *len);

/* A backend's `load` feeds the store's rows through this, settings first,
 * then counters, stacks (each whole), then groups in seq order. */
typedef struct fo_store_loader fo_store_loader;

/* Returns 0, or a code the backend must return from `load` at once (the
 * row breaks a rule of the model: FO_ECORRUPT, FO_ESAMESTACK, ...). */
FO_EXTERN int fo_store_loader_row(fo_store_loader *loader,
                                  const fo_store_row *row);

/* Receives one log entry of `read_log`. Returns 0 to go on. */
typedef int (*fo_store_log_fn)(uint64_t revision, const void *bytes,
                               size_t len, void *userdata);

/* The publisher lease as stored. */
typedef struct fo_store_lease {
  char holder[64]; /* "" when nobody ever held it */
  uint64_t epoch;  /* grows by one whenever another holder takes it */
  int64_t expires_ms; /* CLOCK_REALTIME milliseconds */
} fo_store_lease;

#define FO_STORE_BACKEND_VERSION 2

/* Application settings (fo_store_setting_get/put): names are 1..63 of
 * [a-z0-9._-], values text of at most this many bytes. */
#define FO_STORE_SETTING_NAME_MAX 63
#define FO_STORE_SETTING_VALUE_MAX 4096

/*
 * A backend: a table of functions over the backend's own `self`. Every
 * function returns 0 or a negative FO_E* code. Revisions start at 0 (an
 * empty store) and each commit adds exactly one.
 */
typedef struct fo_store_backend {
  unsigned int version; /* FO_STORE_BACKEND_VERSION */
  /* Feed every row through `loader` from one consistent snapshot and set
   * `*revision`. FO_ENOSTORE for a store that was never written. */
  int (*load)(void *self, fo_store_loader *loader, uint64_t *revision);
  /* Take the write lock and check that the store is still at `expected`:
   * FO_ESTALE (nothing held) when it is not; FO_EREADONLY; FO_ELOCKED
   * (the lock could not be had in time); FO_ESTOREIO. */
  int (*begin)(void *self, uint64_t expected);
  /* Write `changes` (rows and log entry) as revision expected + 1, make it
   * durable and release the lock. On failure the lock is released too and
   * the store is either untouched or, if the outcome is unknown, whatever
   * the medium kept. */
  int (*commit)(void *self, const fo_store_changes *changes,
                uint64_t *revision);
  /* Release the lock of a `begin` without writing. */
  void (*rollback)(void *self);
  /* Call `fn` for every log entry after `after`, in order. FO_ECOMPACTED
   * when entries after `after` were already pruned. */
  int (*read_log)(void *self, uint64_t after, fo_store_log_fn fn,
                  void *userdata);
  /* The current revision (cheap). */
  int (*revision)(void *self, uint64_t *out);
  /* Take or renew the lease for `holder` for `ttl_ms`; FO_ELOCKED (with
   * `*out` telling the holder) while another holder's lease runs. */
  int (*lease_acquire)(void *self, const char *holder, uint32_t ttl_ms,
                       fo_store_lease *out);
  /* Give the lease up if `holder` holds it (expires it now). */
  int (*lease_release)(void *self, const char *holder);
  /* Read the lease. */
  int (*lease_read)(void *self, fo_store_lease *out);
  /* Free `self`. */
  void (*close)(void *self);
  /* ---- version 2 (a version-1 table ends above; its store answers
   * FO_ENOTSUP for settings) ---- */
  /* Copy the setting `name` into `buf` (NUL-terminated, `size` > 0) and
   * its length into `*len`; FO_ENOENT when unset; FO_ENOSPC when `buf`
   * is too small (`*len` still tells the length). */
  int (*setting_get)(void *self, const char *name, char *buf, size_t size,
                     size_t *len);
  /* Set `name` to `value`, or remove it for NULL, durably; FO_EREADONLY. */
  int (*setting_put)(void *self, const char *name, const char *value);
} fo_store_backend;

/*
 * Wrap a backend as a store. The table is copied; `self` is owned by the
 * store from now on (closed by fo_store_close(), also on failure here).
 * Returns 0, FO_EINVAL, FO_EVERSION, FO_ENOMEM.
 */
FO_EXTERN int fo_store_new(fo_store **out, const fo_store_backend *backend,
                           void *self);

/* The store's current revision: a follower whose fo_registry_revision()
 * is lower has commits to fetch with fo_registry_refresh(). Returns 0,
 * FO_EINVAL, FO_ESTOREIO. */
FO_EXTERN int fo_store_revision(fo_store *store, uint64_t *out);

/* Close a store (and its backend). Every registry opened on it must be
 * freed first. NULL is a no-op. */
FO_EXTERN void fo_store_close(fo_store *store);

/* ---- application settings ----------------------------------------------- */

/*
 * Small named text values an application keeps beside its registry in the
 * store: failoverctl keeps there the zone's primary, the path of its TSIG
 * key file (never the secret) and the servers to verify. They are not part
 * of the registry: no revision, no log entry, no change feed; read them
 * when they are needed. Names are 1..FO_STORE_SETTING_NAME_MAX characters
 * of [a-z0-9._-]; values at most FO_STORE_SETTING_VALUE_MAX bytes.
 *
 * get: the value into `buf` (NUL-terminated) and its length into `*len`
 * (may be NULL). Returns 0; FO_EINVAL (NULL, size 0); FO_EBADNAME;
 * FO_ENOENT (unset); FO_ENOSPC (`buf` too small; `*len` tells the length
 * needed, `buf` holds "" then); FO_ENOTSUP (a version-1 backend);
 * FO_ESTOREIO.
 */
FO_EXTERN int fo_store_setting_get(fo_store *store, const char *name,
                                   char *buf, size_t size, size_t *len);

/* Set (or with NULL remove) a setting, durably. Returns 0, FO_EINVAL,
 * FO_EBADNAME, FO_ERANGE (value too long), FO_EREADONLY, FO_ENOTSUP,
 * FO_ESTOREIO. */
FO_EXTERN int fo_store_setting_put(fo_store *store, const char *name,
                                   const char *value);

/* ---- the SQLite backend --------------------------------------------------- */

/* fo_store_sqlite_open() flags. */
#define FO_STORE_CREATE 1u   /* create the file (and schema) if missing */
#define FO_STORE_READONLY 2u /* never write; mutations get FO_EREADONLY */
/*
 * synchronous=NORMAL instead of FULL: commits do not wait for fsync; a
 * power loss (not a process crash) may lose the last commits made since
 * the last WAL checkpoint, but never leaves the file inconsistent.
 */
#define FO_STORE_SYNC_NORMAL 4u

/* The file's `PRAGMA application_id` ("FOVR") and schema version
 * (`PRAGMA user_version`). */
#define FO_STORE_SQLITE_APPLICATION_ID 0x464F5652
#define FO_STORE_SQLITE_SCHEMA 1

/*
 * Open (or with FO_STORE_CREATE, create) a store in the SQLite file `path`,
 * in WAL mode, synchronous=FULL unless FO_STORE_SYNC_NORMAL. Several
 * processes may open one file; their writes are serialised by SQLite's lock
 * and ordered by revision. A file that is refused is left byte for byte as
 * it was.
 *
 * Returns 0; FO_EINVAL (NULL, unknown flag, CREATE with READONLY);
 * FO_ENOENT (no such file without CREATE); FO_ENOSTORE (an empty file
 * without CREATE); FO_ENOTDB (not SQLite);
 * FO_ENOTOURS (SQLite, not ours); FO_ESCHEMA (newer schema); FO_ECORRUPT
 * (damaged); FO_ESTOREIO; FO_ENOMEM.
 */
FO_EXTERN int fo_store_sqlite_open(fo_store **out, const char *path,
                                   unsigned int flags);

/* ---- the etcd backend ------------------------------------------------------ */

/*
 * Open (or with FO_STORE_CREATE, create) a store kept in an etcd v3 cluster,
 * reached through its HTTP/JSON gateway (etcd 3.4: /v3/kv/range, /v3/kv/txn,
 * /v3/lease/...). `url` is
 *
 *     etcd://HOST:PORT[,HOST:PORT...]/PREFIX
 *
 * (HOST an IPv4 literal, a name or a bracketed IPv6 literal; PREFIX 1..200
 * characters of [A-Za-z0-9._/-], no "//"). Every key the store writes lies
 * under "/PREFIX/", so several registries can share one cluster. A request
 * goes to the endpoint that answered last; one that cannot be reached is
 * skipped for the next, so losing a member of the cluster costs one
 * connection attempt, not the store.
 *
 * How it maps the store's contract onto etcd:
 *   - revisions: the store's own dense counter (key PREFIX/rev), moved by
 *     exactly one per commit as the interface promises; etcd's cluster-wide
 *     revision also moves for the write lock and the lease, so it cannot
 *     be the registry's revision itself. An open with FO_STORE_CREATE
 *     writes PREFIX/rev = 0 (and nothing else) when it is missing, as the
 *     SQLite backend writes its schema; the registry's settings come with
 *     the first commit. Every row write is one etcd txn
 *     that compares PREFIX/rev with the revision the registry has seen:
 *     another writer's commit turns it into FO_ESTALE, as with SQLite;
 *   - the write lock of `begin` is the key PREFIX/lock attached to an etcd
 *     lease (3 s; one per store object, kept alive by later begins): a
 *     writer that dies holding it blocks others at most that long, plus
 *     etcd's half-second expiry check (another begin waits up to 2 s, then
 *     FO_ELOCKED: its caller tries again), and a writer that was paused
 *     past it finds at commit that its lock is gone: nothing is written and
 *     the commit returns FO_ESTALE (its registry is poisoned, as after any
 *     failed commit: reopen it);
 *   - rows are keys (PREFIX/settings, PREFIX/counters, PREFIX/stack/ID,
 *     PREFIX/group/SEQ, tombstones included: no process ever draws a
 *     deleted address again), the log is PREFIX/log/REVISION (the newest
 *     100,000 entries are kept); a load reads them all from one etcd
 *     revision;
 *   - the publisher lease is the key PREFIX/leader attached to an etcd
 *     lease of ttl_ms rounded up to whole seconds (at least 2 s); etcd
 *     deletes it when its holder stops renewing. The epoch (PREFIX/epoch,
 *     with the name of the last holder) grows by one with every new take;
 *     `expires_ms` is the holder's clock at its last take or renewal plus
 *     that whole-second ttl (0 once etcd deleted the key);
 *   - application settings are keys PREFIX/app/NAME.
 *
 * Blocking: every store call is synchronous and waits for etcd, each HTTP
 * request at most 2 s (then the next endpoint is tried, each once; a
 * commit that may have reached a member is not repeated but checked: the
 * log entry of its revision tells whether it landed). On loopback a
 * mutating call costs two round trips (the lock txn; the commit txn, which
 * also releases the lock) of well under 1 ms each, plus a renewal of the
 * lock's lease at most every 2 s; a batch
 * (fo_registry_batch_begin/commit) pays them once for all of its calls. A
 * commit touches one key per changed row: etcd's own limits apply (run it
 * with --max-txn-ops at least twice the largest batch of groups plus 8, and
 * --max-request-bytes of 1 KiB per group in a batch; see
 * docs/operating-several-agents.md). A txn etcd refuses is FO_ESTOREIO and
 * changes nothing.
 *
 * libcurl is initialised once per process (curl_global_init under
 * pthread_once) at the first open; the library never calls
 * curl_global_cleanup, which belongs to the application.
 *
 * Returns 0; FO_EINVAL (NULL, unknown flag - FO_STORE_SYNC_NORMAL is
 * SQLite's -, CREATE with READONLY, a bad url); FO_ENOSTORE (nothing under
 * PREFIX without CREATE); FO_ECORRUPT (keys under PREFIX but no
 * PREFIX/rev: not a store); FO_ESTOREIO (no endpoint answered);
 * FO_ENOMEM.
 */
FO_EXTERN int fo_store_etcd_open(fo_store **out, const char *url,
                                 unsigned int flags);

/* ---- opening a store by name ------------------------------------------------ */

/*
 * Open the store `where` names: an etcd cluster for "etcd://..." (see
 * fo_store_etcd_open()), else the SQLite file at that path. Flags as
 * there. This is what tools and agents take on their command line (the
 * failoverctl --db option, the failover-agent --store option), so that one
 * string chooses the backend. Returns what the chosen open returns.
 */
FO_EXTERN int fo_store_open(fo_store **out, const char *where,
                            unsigned int flags);

/* ---- durable registries ----------------------------------------------------- */

/*
 * Open a registry on `store`. A store that holds no registry yet (a file
 * made with FO_STORE_CREATE) is initialised from `opts`, unless it is
 * read-only: zone, default TTL and host-name template are
 * kept in the store. A store that has state is loaded: `opts->zone` must
 * name its zone (NULL accepts the stored one) and the stored TTL and
 * template win over `opts`; the random source and allocator come from
 * `opts`. Every row is checked against every rule of the model; tombstones
 * load too, so a deleted address is never drawn again.
 *
 * The store must outlive the registry. The registry follows the store from
 * the revision it loaded: see fo_registry_refresh().
 *
 * Returns 0; FO_EINVAL; FO_EVERSION; FO_ENOSTORE (empty store opened
 * without FO_STORE_CREATE, or read-only); FO_EZONE (another zone);
 * FO_ECORRUPT (damaged or inconsistent rows); a code of the rule a row
 * breaks (FO_ESAMESTACK: one stack in both slots of a group; FO_EEXIST: a
 * duplicate address, stack name or server name; FO_EBADNAME,
 * FO_EBADADDR, FO_ERANGE: a bad name, address or value; FO_ENOENT: a slot
 * naming no stack); FO_ESTOREIO; FO_ENOMEM. `*out` is NULL on failure.
 */
FO_EXTERN int fo_registry_open(fo_registry **out,
                               const fo_registry_options *opts,
                               fo_store *store);

/* The store a registry was opened on (NULL for fo_registry_new()). */
FO_EXTERN int fo_registry_store(const fo_registry *reg, fo_store **out);

/* The store revision the registry has seen (0 for in-memory ones). */
FO_EXTERN int fo_registry_revision(const fo_registry *reg, uint64_t *out);

/* 1 when a failed commit poisoned the registry, else 0 (also on NULL). */
FO_EXTERN int fo_registry_poisoned(const fo_registry *reg);

/*
 * Catch up with commits other processes made: apply every log entry after
 * the registry's revision, in order, firing the change feed for each group
 * whose records change, exactly as if the calls were made here. A call that
 * returned FO_ESTALE may be retried after this.
 *
 * Returns 0 (also when nothing was new, and for in-memory registries);
 * FO_EINVAL; FO_EBUSY (from a change callback, or inside a batch);
 * FO_ECOMPACTED (the log was pruned past this registry's revision: reopen);
 * FO_EPOISONED; FO_ESTOREIO; FO_ECORRUPT. Any failure after a first entry
 * was applied poisons the registry.
 */
FO_EXTERN int fo_registry_refresh(fo_registry *reg);

/*
 * Group every mutation until fo_registry_batch_commit() into one store
 * commit (fo_switchover_stack() does this; reconcile changes no state). begin takes the store's
 * write lock and checks the revision now, so FO_ESTALE comes here, not
 * later; other processes' writes wait until commit. Batches nest: only the
 * outermost commit writes. A refused call inside a batch changes nothing
 * and the batch goes on. A batch cannot be rolled back. In-memory
 * registries accept batches too (they commit nothing).
 *
 * begin returns 0, FO_EINVAL, FO_EBUSY, FO_ESTALE, FO_EPOISONED,
 * FO_EREADONLY, FO_ELOCKED, FO_ESTOREIO, FO_ENOMEM.
 */
FO_EXTERN int fo_registry_batch_begin(fo_registry *reg);

/* Commit the batch (outermost level). Returns 0, FO_EINVAL (no batch open),
 * or the store's failure code (the registry is then poisoned). */
FO_EXTERN int fo_registry_batch_commit(fo_registry *reg);

/* ---- stable ids --------------------------------------------------------- */

/* A stack's id: assigned at creation, kept across renames, never reused.
 * Returns 0, FO_EINVAL, FO_EDELETED. */
FO_EXTERN int fo_stack_id(const fo_stack *stack, uint32_t *out);

/* A server's id, by name. Returns 0, FO_EINVAL, FO_EDELETED, FO_EBADNAME,
 * FO_ENOENT. */
FO_EXTERN int fo_stack_server_id(const fo_stack *stack, const char *name,
                                 uint32_t *out);

/* A live stack by id. Returns 0, FO_EINVAL, FO_ENOENT. */
FO_EXTERN int fo_registry_find_stack_id(const fo_registry *reg, uint32_t id,
                                        fo_stack **out);

/* ---- the publisher lease ------------------------------------------------ */

/*
 * Take, or renew, the lease that makes one process the publisher. `holder`
 * names the process (1..63 printable characters). Taking it from another
 * holder whose lease expired increases the epoch.
 *
 * Returns 0 with `*out` (may be NULL) filled; FO_ELOCKED while another
 * holder's lease runs (`*out` names it); FO_EINVAL; FO_EREADONLY;
 * FO_ESTOREIO.
 */
FO_EXTERN int fo_store_lease_acquire(fo_store *store, const char *holder,
                                     uint32_t ttl_ms, fo_store_lease *out);

/* Give the lease up. Returns 0 (also when `holder` did not hold it),
 * FO_EINVAL, FO_EREADONLY, FO_ESTOREIO. */
FO_EXTERN int fo_store_lease_release(fo_store *store, const char *holder);

/* Read the lease. Returns 0, FO_EINVAL, FO_ESTOREIO. */
FO_EXTERN int fo_store_lease_read(fo_store *store, fo_store_lease *out);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_STORE_H */
