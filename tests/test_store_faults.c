/*
 * test_store_faults.c - durable registries on a disk that fails.
 *
 * A shim over SQLite's default VFS, registered as the default VFS of this
 * process (the library and the test share the one shared libsqlite3), fails
 * one I/O call on purpose: the n-th xWrite (SQLITE_IOERR_WRITE), the n-th
 * xSync (SQLITE_IOERR_FSYNC), or - a disk that fills up and stays full -
 * every xWrite from the n-th on (SQLITE_FULL).
 *
 * A scenario is a short program on a store: open (or create) it, a few
 * mutating calls or batches, close. It runs once without a fault to count
 * its writes and syncs, then once for every n in 1..count of each fault
 * kind, each time on a fresh copy of the same starting file. In every run
 * each call must end in one of three ways:
 *   - 0: the change is acknowledged and must survive;
 *   - an error with the registry not poisoned: nothing changed in memory
 *     (the snapshot before and after the call are equal);
 *   - an error with the registry poisoned: the outcome is unknown (the
 *     medium may have kept the commit or not); every later mutation
 *     returns FO_EPOISONED.
 * Runs end in turn in one of three ways: the store is closed (its WAL
 * checkpoint runs with the fault still armed); or, after a poisoning, the
 * registry is freed and a new one opened on the same store, which must
 * hold the state before or after the failed call and accept a new
 * mutation, then the store is closed; or the process dies (a forked child,
 * killed with SIGKILL: no close, no checkpoint). Then the file is opened
 * again on a healthy disk: it must hold exactly the last acknowledged
 * state (or, after a poisoning without a recovery commit, the state before
 * or after the failed call), and every rule of the model must hold.
 *
 * Each test reports its runs and the number of I/O calls failed on
 * purpose. FO_STORE_FAULT_STRIDE=k fails only every k-th call.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <failover.h>
#include <failover/store.h>

#include "store_faults_util.h"
#include "support.h"

/* ---- the fault-injecting VFS -------------------------------------------- */

enum { FAULT_NONE, FAULT_WRITE, FAULT_SYNC, FAULT_FULL, FAULT_KINDS };

static const char *const fault_names[FAULT_KINDS] = {
    "none", "xWrite IOERR", "xSync IOERR", "disk full"};

typedef struct fault_plan {
  int armed;               /* count (and fail) only while set */
  int kind;                /* FAULT_* */
  unsigned long at;        /* 1-based number of the call to fail */
  unsigned long writes;    /* xWrite calls while armed */
  unsigned long syncs;     /* xSync calls while armed */
  unsigned long injected;  /* calls failed on purpose */
} fault_plan;

static fault_plan g_fault;
static sqlite3_vfs *g_real;
static sqlite3_vfs g_shim;

/* The shim's file: its methods, then the real VFS's file right after. */
typedef struct shim_file {
  sqlite3_file base;
  sqlite3_file *real;
} shim_file;

#define REAL(f) (((shim_file *)(void *)(f))->real)

static int shim_close(sqlite3_file *f) {
  return REAL(f)->pMethods->xClose(REAL(f));
}

static int shim_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off) {
  return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int shim_write(sqlite3_file *f, const void *buf, int amt,
                      sqlite3_int64 off) {
  if (g_fault.armed) {
    g_fault.writes++;
    if (g_fault.kind == FAULT_WRITE && g_fault.writes == g_fault.at) {
      g_fault.injected++;
      return SQLITE_IOERR_WRITE;
    }
    if (g_fault.kind == FAULT_FULL && g_fault.writes >= g_fault.at) {
      g_fault.injected++;
      return SQLITE_FULL;
    }
  }
  return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
}

static int shim_truncate(sqlite3_file *f, sqlite3_int64 size) {
  return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int shim_sync(sqlite3_file *f, int flags) {
  if (g_fault.armed) {
    g_fault.syncs++;
    if (g_fault.kind == FAULT_SYNC && g_fault.syncs == g_fault.at) {
      g_fault.injected++;
      return SQLITE_IOERR_FSYNC;
    }
  }
  return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size) {
  return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int shim_lock(sqlite3_file *f, int level) {
  return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int shim_unlock(sqlite3_file *f, int level) {
  return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int shim_check_reserved(sqlite3_file *f, int *out) {
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int shim_file_control(sqlite3_file *f, int op, void *arg) {
  return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int shim_sector_size(sqlite3_file *f) {
  return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int shim_device_chars(sqlite3_file *f) {
  return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int shim_shm_map(sqlite3_file *f, int page, int size, int extend,
                        void volatile **out) {
  return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, out);
}

static int shim_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
  return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void shim_shm_barrier(sqlite3_file *f) {
  REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int shim_shm_unmap(sqlite3_file *f, int del) {
  return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **p) {
  return REAL(f)->pMethods->xFetch(REAL(f), off, amt, p);
}

static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) {
  return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

/* One table per method-table version of the real files (the unix VFS uses
 * version 3 for every file; older versions only if another default VFS
 * is in use). */
static sqlite3_io_methods g_methods[4];

static const sqlite3_io_methods *methods_for(int version) {
  sqlite3_io_methods *m = &g_methods[version < 1 ? 1 : version > 3 ? 3
                                                                   : version];
  m->iVersion = version < 1 ? 1 : version > 3 ? 3 : version;
  m->xClose = shim_close;
  m->xRead = shim_read;
  m->xWrite = shim_write;
  m->xTruncate = shim_truncate;
  m->xSync = shim_sync;
  m->xFileSize = shim_file_size;
  m->xLock = shim_lock;
  m->xUnlock = shim_unlock;
  m->xCheckReservedLock = shim_check_reserved;
  m->xFileControl = shim_file_control;
  m->xSectorSize = shim_sector_size;
  m->xDeviceCharacteristics = shim_device_chars;
  if (m->iVersion >= 2) {
    m->xShmMap = shim_shm_map;
    m->xShmLock = shim_shm_lock;
    m->xShmBarrier = shim_shm_barrier;
    m->xShmUnmap = shim_shm_unmap;
  }
  if (m->iVersion >= 3) {
    m->xFetch = shim_fetch;
    m->xUnfetch = shim_unfetch;
  }
  return m;
}

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file,
                     int flags, int *out_flags) {
  shim_file *f = (shim_file *)(void *)file;
  int rc;
  (void)vfs;
  f->real = (sqlite3_file *)(void *)(f + 1);
  memset(f->real, 0, (size_t)g_real->szOsFile);
  rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  /* SQLite calls xClose when pMethods is set, also after a failed open:
   * mirror the real file. */
  f->base.pMethods =
      f->real->pMethods ? methods_for(f->real->pMethods->iVersion) : NULL;
  return rc;
}

/* The rest go to the real VFS with the real VFS as their `vfs`: the unix
 * VFS reads its own pAppData. */
static int shim_delete(sqlite3_vfs *v, const char *name, int sync_dir) {
  (void)v;
  return g_real->xDelete(g_real, name, sync_dir);
}

static int shim_access(sqlite3_vfs *v, const char *name, int flags,
                       int *out) {
  (void)v;
  return g_real->xAccess(g_real, name, flags, out);
}

static int shim_full_pathname(sqlite3_vfs *v, const char *name, int n,
                              char *out) {
  (void)v;
  return g_real->xFullPathname(g_real, name, n, out);
}

static void *shim_dl_open(sqlite3_vfs *v, const char *name) {
  (void)v;
  return g_real->xDlOpen(g_real, name);
}

static void shim_dl_error(sqlite3_vfs *v, int n, char *msg) {
  (void)v;
  g_real->xDlError(g_real, n, msg);
}

static void (*shim_dl_sym(sqlite3_vfs *v, void *h, const char *sym))(void) {
  (void)v;
  return g_real->xDlSym(g_real, h, sym);
}

static void shim_dl_close(sqlite3_vfs *v, void *h) {
  (void)v;
  g_real->xDlClose(g_real, h);
}

static int shim_randomness(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  return g_real->xRandomness(g_real, n, out);
}

static int shim_sleep(sqlite3_vfs *v, int us) {
  (void)v;
  return g_real->xSleep(g_real, us);
}

static int shim_current_time(sqlite3_vfs *v, double *out) {
  (void)v;
  return g_real->xCurrentTime(g_real, out);
}

static int shim_last_error(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  return g_real->xGetLastError(g_real, n, out);
}

static int shim_current_time64(sqlite3_vfs *v, sqlite3_int64 *out) {
  (void)v;
  return g_real->xCurrentTimeInt64(g_real, out);
}

static int shim_set_syscall(sqlite3_vfs *v, const char *name,
                            sqlite3_syscall_ptr p) {
  (void)v;
  return g_real->xSetSystemCall(g_real, name, p);
}

static sqlite3_syscall_ptr shim_get_syscall(sqlite3_vfs *v,
                                            const char *name) {
  (void)v;
  return g_real->xGetSystemCall(g_real, name);
}

static const char *shim_next_syscall(sqlite3_vfs *v, const char *name) {
  (void)v;
  return g_real->xNextSystemCall(g_real, name);
}

/* Make the shim the process's default VFS (once per test process). */
static void shim_install(void) {
  if (g_real != NULL)
    return;
  cr_assert_eq(sqlite3_initialize(), SQLITE_OK);
  g_real = sqlite3_vfs_find(NULL);
  cr_assert_not_null(g_real);
  cr_assert_geq(g_real->iVersion, 2);
  memset(&g_shim, 0, sizeof g_shim);
  g_shim.iVersion = g_real->iVersion;
  g_shim.szOsFile = (int)sizeof(shim_file) + g_real->szOsFile;
  g_shim.mxPathname = g_real->mxPathname;
  g_shim.zName = "fo-fault-shim";
  g_shim.xOpen = shim_open;
  g_shim.xDelete = shim_delete;
  g_shim.xAccess = shim_access;
  g_shim.xFullPathname = shim_full_pathname;
  g_shim.xDlOpen = g_real->xDlOpen ? shim_dl_open : NULL;
  g_shim.xDlError = g_real->xDlError ? shim_dl_error : NULL;
  g_shim.xDlSym = g_real->xDlSym ? shim_dl_sym : NULL;
  g_shim.xDlClose = g_real->xDlClose ? shim_dl_close : NULL;
  g_shim.xRandomness = shim_randomness;
  g_shim.xSleep = shim_sleep;
  g_shim.xCurrentTime = shim_current_time;
  g_shim.xGetLastError = shim_last_error;
  g_shim.xCurrentTimeInt64 = shim_current_time64;
  if (g_real->iVersion >= 3) {
    g_shim.xSetSystemCall = shim_set_syscall;
    g_shim.xGetSystemCall = shim_get_syscall;
    g_shim.xNextSystemCall = shim_next_syscall;
  }
  cr_assert_eq(sqlite3_vfs_register(&g_shim, 1), SQLITE_OK);
}

static void fault_arm(int kind, unsigned long at) {
  memset(&g_fault, 0, sizeof g_fault);
  g_fault.kind = kind;
  g_fault.at = at;
  g_fault.armed = 1;
}

static void fault_disarm(void) {
  g_fault.armed = 0;
}

/* ---- scenarios ---------------------------------------------------------- */

#define SKIP 1 /* a step whose object an earlier failed step did not make */

typedef struct fx {
  fo_registry *reg;
  fo_store *store;
  fo_stack *web, *dr, *spare;
  fo_group *g1, *g2;
} fx;

typedef int (*step_fn)(fx *f);

typedef struct scenario {
  const char *name;
  int create;                  /* the faulted part makes the store */
  void (*setup)(fo_registry *); /* the starting state (unfaulted) */
  const step_fn *steps;
  size_t nsteps;
} scenario;

static ft_rng g_rng;

static fo_registry_options fx_options(void) {
  fo_registry_options o = FO_REGISTRY_OPTIONS_INIT;
  o.zone = FT_ZONE;
  o.random = ft_rng_fill;
  o.random_userdata = &g_rng;
  return o;
}

/* Stacks "web" (web1, web2, lb1) and "dr" (web1), group g1 serving from
 * web with dr as backup, and a deleted group (a tombstone). */
static void setup_pair(fo_registry *reg) {
  fo_stack *web, *dr;
  fo_group *g1, *gone;
  FT_OK(fo_stack_new(&web, reg, "web"));
  FT_OK(fo_stack_add_server(web, FO_SERVER_WEB, "web1", NULL));
  FT_OK(fo_stack_add_server(web, FO_SERVER_WEB, "web2", NULL));
  FT_OK(fo_stack_add_server(web, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  FT_OK(fo_stack_set_server_addresses(web, "lb1", "192.0.2.1", NULL));
  FT_OK(fo_stack_new(&dr, reg, "dr"));
  FT_OK(fo_stack_add_server(dr, FO_SERVER_WEB, "web1", "dr.example.org"));
  FT_OK(fo_group_create(&g1, reg, web, dr));
  FT_OK(fo_group_create(&gone, reg, NULL, NULL));
  FT_OK(fo_group_delete(gone));
}

/* Find the setup's objects in a registry opened on the store. */
static void fx_bind(fx *f, fo_registry *reg, fo_store *store) {
  memset(f, 0, sizeof *f);
  f->reg = reg;
  f->store = store;
  if (fo_registry_find_stack(reg, "web", &f->web) != 0)
    f->web = NULL;
  if (fo_registry_find_stack(reg, "dr", &f->dr) != 0)
    f->dr = NULL;
  f->g1 = fo_registry_next_group(reg, NULL);
}

/* single calls */
static int st_stack_new(fx *f) {
  return fo_stack_new(&f->spare, f->reg, "spare");
}
static int st_add_server(fx *f) {
  return f->spare ? fo_stack_add_server(f->spare, FO_SERVER_WEB, "web1", NULL)
                  : SKIP;
}
static int st_set_addresses(fx *f) {
  return fo_stack_set_server_addresses(f->web, "lb1", "192.0.2.10",
                                       "2001:db8::10");
}
static int st_create(fx *f) {
  return fo_group_create(&f->g2, f->reg, f->spare, NULL);
}
static int st_switch(fx *f) {
  return fo_group_switch(f->g1, FO_SLOT_BACKUP, 0);
}
static int st_settle(fx *f) {
  return fo_group_settle(f->g1);
}
static int st_ttl(fx *f) {
  return fo_group_set_ttl(f->g1, 120);
}
static int st_detach(fx *f) {
  fo_stack *s = NULL;
  if (f->g2 == NULL || fo_group_stack(f->g2, FO_SLOT_PRIMARY, &s) != 0 || !s)
    return SKIP;
  return fo_group_detach(f->g2, FO_SLOT_PRIMARY, 0);
}
static int st_delete(fx *f) {
  return f->g2 ? fo_group_delete(f->g2) : SKIP;
}
static int st_rename(fx *f) {
  return fo_stack_rename(f->dr, "dr2");
}
static int st_remove_stack(fx *f) {
  return f->spare ? fo_stack_remove(f->spare) : SKIP;
}
/* The lease writes on the same connection outside the registry: a failed
 * lease write must leave the connection usable for the next commit. */
static int st_lease(fx *f) {
  return fo_store_lease_acquire(f->store, "publisher-1", 60000, NULL);
}

static const step_fn single_steps[] = {
    st_stack_new, st_add_server, st_set_addresses, st_create,
    st_lease,     st_switch,     st_settle,        st_ttl,
    st_detach,    st_delete,     st_rename,        st_remove_stack};

/* batches: the step's result is the outermost commit's */
static int st_batch_build(fx *f) {
  int rc = fo_registry_batch_begin(f->reg);
  if (rc != 0)
    return rc;
  /* Inside a batch a refused call changes nothing and the batch goes on:
   * the calls' own codes are not the step's. */
  if (fo_stack_new(&f->spare, f->reg, "spare") == 0) {
    fo_stack_add_server(f->spare, FO_SERVER_LOAD_BALANCER, "lb1",
                        "lb.example.org");
    fo_group_create(&f->g2, f->reg, f->spare, f->web);
  }
  fo_group_switch(f->g1, FO_SLOT_BACKUP, FO_FORCE);
  fo_group_set_mode(f->g1, FO_MODE_ADDRESS);
  fo_stack_remove_server(f->web, "web2");
  return fo_registry_batch_commit(f->reg);
}
static int st_batch_nested(fx *f) {
  int rc;
  if (f->g2 == NULL)
    return SKIP;
  if ((rc = fo_registry_batch_begin(f->reg)) != 0)
    return rc;
  fo_registry_batch_begin(f->reg); /* nested: the store is not touched */
  fo_group_detach(f->g2, FO_SLOT_BACKUP, 0);
  if ((rc = fo_registry_batch_commit(f->reg)) != 0)
    return rc; /* inner: writes nothing */
  fo_group_set_ttl(f->g2, 30);
  fo_stack_rename(f->web, "www");
  return fo_registry_batch_commit(f->reg);
}
static int st_batch_refused(fx *f) {
  int rc = fo_registry_batch_begin(f->reg);
  if (rc != 0)
    return rc;
  /* Every call refused: the commit has nothing to write. */
  fo_group_delete(f->g1);
  fo_stack_remove(f->dr);
  return fo_registry_batch_commit(f->reg);
}

static const step_fn batch_steps[] = {st_batch_build,   st_settle,
                                      st_batch_nested,  st_batch_refused,
                                      st_detach,        st_delete};

static int st_first_stack(fx *f) {
  return fo_stack_new(&f->web, f->reg, "web");
}
static int st_first_server(fx *f) {
  return f->web ? fo_stack_add_server(f->web, FO_SERVER_WEB, "web1", NULL)
                : SKIP;
}

static const step_fn create_steps[] = {st_first_stack, st_first_server};

static const scenario scenarios[] = {
    {"create", 1, NULL, create_steps,
     sizeof create_steps / sizeof create_steps[0]},
    {"single calls", 0, setup_pair, single_steps,
     sizeof single_steps / sizeof single_steps[0]},
    {"batches", 0, setup_pair, batch_steps,
     sizeof batch_steps / sizeof batch_steps[0]},
};

/* ---- one run ------------------------------------------------------------ */

typedef struct stats {
  unsigned long runs, faulted_runs, injected, acked, clean, poisoned,
      recovered_after, recovered_before, reopened_after, crashed, failures;
  char first[1024];
} stats;

typedef struct run_ctx {
  const scenario *sc;
  char *path, *setup_path;
  const char *start; /* the starting state (stable snapshot) */
  int kind;
  unsigned long at;
  stats *st;
  char msg[900];
} run_ctx;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void run_fail(run_ctx *c, const char *fmt, ...) {
  va_list ap;
  if (c->msg[0])
    return; /* the first problem of a run is the one reported */
  va_start(ap, fmt);
  vsnprintf(c->msg, sizeof c->msg, fmt, ap);
  va_end(ap);
}

static void remove_store(const char *path) {
  char extra[1024];
  unlink(path);
  snprintf(extra, sizeof extra, "%s-wal", path);
  unlink(extra);
  snprintf(extra, sizeof extra, "%s-shm", path);
  unlink(extra);
}

static void copy_file(const char *from, const char *to) {
  char buf[65536];
  int in = open(from, O_RDONLY), out;
  ssize_t n;
  cr_assert(in >= 0, "open %s: %s", from, strerror(errno));
  out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  cr_assert(out >= 0, "open %s: %s", to, strerror(errno));
  while ((n = read(in, buf, sizeof buf)) > 0)
    cr_assert_eq(write(out, buf, (size_t)n), n);
  cr_assert_eq(n, 0);
  close(in);
  close(out);
}

static char *snap(const fo_registry *reg) {
  return ft_snapshot_stable(reg);
}

/* How a run ends after a poisoning (the fault's number picks one). */
enum {
  END_CLOSE,   /* free the registry, close the store */
  END_RECOVER, /* open a new registry on the same store, commit, close */
  END_CRASH    /* the process dies with SIGKILL, nothing closed */
};

/* What the faulted part leaves to check: the acknowledged state and, after
 * a poisoning without a recovery commit, the failed call's state. */
typedef struct outcome {
  char *acked, *alt;
} outcome;

/*
 * Open (or create) the store and run the steps under the planned fault;
 * then end as `end` says (END_CRASH: returns with the store open, for the
 * caller to die). Returns the store still open, or NULL.
 */
static fo_store *faulted_part(run_ctx *c, int end, outcome *out) {
  const scenario *sc = c->sc;
  fo_registry_options o = fx_options();
  fo_registry *reg = NULL;
  fo_store *store = NULL;
  int rc, poisoned = 0;
  size_t i;
  fx f;

  out->acked = strdup(c->start);
  out->alt = NULL;
  ft_rng_free(&g_rng);
  ft_rng_init(&g_rng, 42);
  fault_arm(c->kind, c->at);

  rc = fo_store_sqlite_open(&store, c->path, sc->create ? FO_STORE_CREATE : 0);
  if (rc == 0) {
    rc = fo_registry_open(&reg, &o, store);
    if (rc != 0 && reg != NULL)
      run_fail(c, "fo_registry_open failed (%s) but set *out",
               fo_err_name(rc));
  } else if (store != NULL) {
    run_fail(c, "fo_store_sqlite_open failed (%s) but set *out",
             fo_err_name(rc));
  }
  if (rc != 0 && c->kind == FAULT_NONE)
    run_fail(c, "opening returned %s without a fault", fo_err_name(rc));
  if (rc != 0)
    c->st->clean++; /* nothing was acknowledged: the start must remain */

  for (i = 0; reg != NULL && i < sc->nsteps && !poisoned; i++) {
    char *before, *after;
    if (i == 0)
      fx_bind(&f, reg, store);
    before = snap(reg);
    rc = sc->steps[i](&f);
    if (rc == SKIP) {
      free(before);
      continue;
    }
    after = snap(reg);
    if (rc != 0 && c->kind == FAULT_NONE)
      run_fail(c, "step %zu returned %s without a fault", i + 1,
               fo_err_name(rc));
    if (rc == 0 && !fo_registry_poisoned(reg)) {
      free(out->acked);
      out->acked = after;
      after = NULL;
      c->st->acked++;
    } else if (rc == 0) {
      run_fail(c, "step %zu returned 0 on a poisoned registry", i + 1);
    } else if (!fo_registry_poisoned(reg)) {
      /* A clean error: nothing may have changed. */
      if (strcmp(before, after) != 0)
        run_fail(c, "step %zu failed with %s, not poisoned, but changed "
                 "the registry", i + 1, fo_err_name(rc));
      c->st->clean++;
    } else {
      fo_stack *late = NULL;
      char *still;
      poisoned = 1;
      c->st->poisoned++;
      if (strcmp(before, out->acked) != 0)
        run_fail(c, "step %zu: memory before it was not the acknowledged "
                 "state", i + 1);
      out->alt = after;
      after = NULL;
      if ((rc = fo_stack_new(&late, reg, "late")) != FO_EPOISONED)
        run_fail(c, "after a poisoning commit a mutation returned %s",
                 fo_err_name(rc));
      if ((rc = fo_registry_batch_begin(reg)) != FO_EPOISONED)
        run_fail(c, "after a poisoning commit batch_begin returned %s",
                 fo_err_name(rc));
      if ((rc = fo_registry_refresh(reg)) != FO_EPOISONED)
        run_fail(c, "after a poisoning commit refresh returned %s",
                 fo_err_name(rc));
      still = snap(reg);
      if (strcmp(still, out->alt) != 0)
        run_fail(c, "a refused call changed a poisoned registry");
      free(still);
    }
    free(before);
    free(after);
  }

  if (poisoned && end == END_RECOVER) {
    /* Free it and open a new registry from the same store, as the API
     * says, on a healthy disk again. */
    fo_stack *s = NULL;
    char *now;
    fault_disarm();
    fo_registry_free(reg);
    reg = NULL;
    rc = fo_registry_open(&reg, &o, store);
    if (rc != 0) {
      run_fail(c, "reopening a registry on the store after poisoning: %s",
               fo_err_name(rc));
    } else {
      now = snap(reg);
      if (strcmp(now, out->acked) == 0)
        c->st->recovered_before++;
      else if (strcmp(now, out->alt) == 0)
        c->st->recovered_after++;
      else
        run_fail(c, "after poisoning the store holds neither the state "
                 "before nor after the failed call");
      free(now);
      rc = fo_stack_new(&s, reg, "recovered");
      if (rc != 0) {
        run_fail(c, "a registry reopened after poisoning refuses a "
                 "mutation: %s", fo_err_name(rc));
      } else {
        free(out->acked);
        out->acked = snap(reg);
        free(out->alt);
        out->alt = NULL;
      }
    }
  }
  if (end == END_CRASH)
    return store;
  fo_registry_free(reg);
  /* The last connection's close checkpoints the WAL: still under the
   * fault unless a recovery disarmed it. */
  fo_store_close(store);
  return NULL;
}

/* The faulted part in a child that the parent kills with SIGKILL when it
 * is done (a crash: no close, no checkpoint; the WAL stays as the fault
 * left it). It sends back its counters, message and outcome. The parent
 * kills it because valgrind treats a process that kills itself as an exit
 * and checks it for leaks. */
static void faulted_crash(run_ctx *c, outcome *out) {
  ft_buf buf = {0};
  int fds[2], status;
  pid_t pid;
  cr_assert_eq(pipe(fds), 0);
  fflush(NULL);
  pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    size_t len[2];
    close(fds[0]);
    faulted_part(c, END_CRASH, out);
    len[0] = strlen(out->acked);
    len[1] = out->alt ? strlen(out->alt) : (size_t)-1;
    /* Pipe writes of a dying process: short ones are fine, the parent
     * checks the lengths. */
    if (write(fds[1], c->st, sizeof *c->st) < 0 ||
        write(fds[1], &g_fault, sizeof g_fault) < 0 ||
        write(fds[1], c->msg, sizeof c->msg) < 0 ||
        write(fds[1], len, sizeof len) < 0 ||
        write(fds[1], out->acked, len[0]) < 0 ||
        (out->alt && write(fds[1], out->alt, len[1]) < 0))
      _exit(5);
    close(fds[1]);
    for (;;)
      pause();
  }
  close(fds[1]);
  for (;;) {
    char chunk[8192];
    ssize_t n = read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    cr_assert(n >= 0);
    if (n == 0)
      break;
    ft_buf_append(&buf, chunk, (size_t)n);
  }
  close(fds[0]);
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0)
    cr_assert_eq(errno, EINTR);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
            "the crashing child ended with status 0x%x", (unsigned)status);
  {
    size_t head = sizeof *c->st + sizeof g_fault + sizeof c->msg, len[2];
    const char *p = buf.p;
    cr_assert_geq(buf.len, head + sizeof len);
    memcpy(c->st, p, sizeof *c->st);
    memcpy(&g_fault, p + sizeof *c->st, sizeof g_fault);
    memcpy(c->msg, p + sizeof *c->st + sizeof g_fault, sizeof c->msg);
    memcpy(len, p + head, sizeof len);
    p += head + sizeof len;
    cr_assert_eq(buf.len, head + sizeof len + len[0] +
                              (len[1] == (size_t)-1 ? 0 : len[1]));
    out->acked = strndup(p, len[0]);
    out->alt = len[1] == (size_t)-1 ? NULL : strndup(p + len[0], len[1]);
  }
  ft_buf_free(&buf);
}

/*
 * Run the scenario with the fault planned in `c` (FAULT_NONE: count), end
 * it as `end` says, and open the file again on a healthy disk. On return
 * c->msg names the first broken promise, or is empty.
 */
static void run_once(run_ctx *c, int end) {
  const scenario *sc = c->sc;
  fo_registry_options o = fx_options();
  fo_registry *reg = NULL;
  fo_store *store = NULL;
  outcome out;
  int rc;

  c->msg[0] = '\0';
  remove_store(c->path);
  if (!sc->create)
    copy_file(c->setup_path, c->path);
  if (end == END_CRASH) {
    faulted_crash(c, &out);
    c->st->crashed++;
  } else {
    faulted_part(c, end, &out);
  }
  fault_disarm();
  c->st->runs++;
  c->st->injected += g_fault.injected;
  c->st->faulted_runs += g_fault.injected > 0;

  /* A healthy disk again: the next process opens the file. */
  rc = fo_store_sqlite_open(&store, c->path, sc->create ? FO_STORE_CREATE : 0);
  if (rc != 0) {
    run_fail(c, "reopening the file: fo_store_sqlite_open returned %s",
             fo_err_name(rc));
  } else if ((rc = fo_registry_open(&reg, &o, store)) != 0) {
    run_fail(c, "reopening the file: fo_registry_open returned %s",
             fo_err_name(rc));
  } else {
    char *now = snap(reg), *bad;
    if (out.alt != NULL && strcmp(now, out.alt) == 0)
      c->st->reopened_after++;
    if (strcmp(now, out.acked) != 0 &&
        (out.alt == NULL || strcmp(now, out.alt) != 0)) {
      cr_log_error("%s, %s at %lu: reopened\n%s\n--- acknowledged\n%s",
                   sc->name, fault_names[c->kind], c->at, now, out.acked);
      run_fail(c, "the reopened store is not the acknowledged state%s",
               out.alt ? " (nor the failed call's)" : "");
    }
    bad = ft_invariant_violation(reg);
    if (bad != NULL)
      run_fail(c, "the reopened registry breaks the model: %s", bad);
    free(bad);
    free(now);
  }
  fo_registry_free(reg);
  fo_store_close(store);
  free(out.acked);
  free(out.alt);
}

/* The scratch directory of the running test, removed by the suite's fini
 * also when an assertion ended the test early. */
static char *g_dir;

static void remove_scratch(void) {
  ft_scratch_remove(g_dir);
  g_dir = NULL;
}

TestSuite(store_faults, .fini = remove_scratch);

/* Count the scenario's I/O, then fail each call in turn. */
static void run_scenario(const scenario *sc, unsigned long stride,
                         stats *st) {
  char *dir = g_dir = ft_scratch_dir("fo-faults");
  fo_registry_options o = fx_options();
  fo_registry *reg = NULL;
  fo_store *store = NULL;
  unsigned long writes, syncs, n;
  run_ctx c;
  int kind;

  memset(&c, 0, sizeof c);
  c.sc = sc;
  c.st = st;
  c.path = ft_scratch_path(dir, "store.db");
  c.setup_path = ft_scratch_path(dir, "setup.db");
  ft_rng_free(&g_rng);
  ft_rng_init(&g_rng, 42);
  if (sc->create) {
    FT_OK(fo_registry_new(&reg, &o));
    c.start = snap(reg);
    fo_registry_free(reg);
  } else {
    /* The starting file, made once and copied for every run (a clean close
     * leaves one file, the WAL checkpointed into it). */
    FT_OK(fo_store_sqlite_open(&store, c.setup_path, FO_STORE_CREATE));
    FT_OK(fo_registry_open(&reg, &o, store));
    sc->setup(reg);
    c.start = snap(reg);
    fo_registry_free(reg);
    fo_store_close(store);
  }

  c.kind = FAULT_NONE;
  run_once(&c, END_CLOSE);
  cr_assert_eq(c.msg[0], '\0', "%s without a fault: %s", sc->name, c.msg);
  writes = g_fault.writes;
  syncs = g_fault.syncs;
  cr_assert_gt(writes, 0);
  cr_assert_gt(syncs, 0);
  for (kind = FAULT_WRITE; kind < FAULT_KINDS; kind++) {
    unsigned long count = kind == FAULT_SYNC ? syncs : writes, k = 0;
    for (n = 1; n <= count; n += stride, k++) {
      c.kind = kind;
      c.at = n;
      /* The three endings take turns from one position to the next. */
      run_once(&c, (int)(k % 3));
      if (c.msg[0]) {
        if (st->failures++ == 0)
          snprintf(st->first, sizeof st->first, "%s, %s at call %lu: %s",
                   sc->name, fault_names[kind], n, c.msg);
        cr_log_error("%s, %s at call %lu: %s", sc->name, fault_names[kind],
                     n, c.msg);
      }
    }
  }
  ft_report("%s: %lu writes, %lu syncs without a fault", sc->name, writes,
            syncs);
  free((char *)c.start);
  free(c.path);
  free(c.setup_path);
}

static void run_and_report(const scenario *sc) {
  /* Every call is failed, also under valgrind (a scenario stays under
   * half a minute there); FO_STORE_FAULT_STRIDE=k fails every k-th only. */
  unsigned long stride = ft_env_count("FO_STORE_FAULT_STRIDE", 1);
  stats st;
  double t0 = ft_now();
  if (stride == 0)
    stride = 1;
  memset(&st, 0, sizeof st);
  shim_install();
  run_scenario(sc, stride, &st);
  ft_rng_free(&g_rng);
  ft_report("%s: %lu runs, %lu with a fault, %lu faults injected; "
            "%lu calls acknowledged, %lu clean errors, %lu poisoned "
            "(a new registry on the store found the state before the "
            "call %lu times, after it %lu times; the reopened file held "
            "the failed call %lu times); %lu runs ended in a crash; "
            "%.1f s",
            sc->name, st.runs, st.faulted_runs, st.injected, st.acked,
            st.clean, st.poisoned, st.recovered_before, st.recovered_after,
            st.reopened_after, st.crashed, ft_now() - t0);
  cr_expect_gt(st.faulted_runs, 0, "%s: no fault was injected", sc->name);
  cr_expect_eq(st.failures, 0, "%s: %lu of %lu runs broke a promise; first: %s",
               sc->name, st.failures, st.runs, st.first);
}

Test(store_faults, create, .timeout = 250) {
  run_and_report(&scenarios[0]);
}

Test(store_faults, single_calls, .timeout = 250) {
  run_and_report(&scenarios[1]);
}

Test(store_faults, batches, .timeout = 250) {
  run_and_report(&scenarios[2]);
}
