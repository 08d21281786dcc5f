/*
 * bench_store.c - what the durable store costs: a registry on the SQLite
 * backend (<failover/store.h>), measured against raw SQLite on the same
 * machine, in the same directory, in the same run.
 *
 * Figures (see bench/README.md):
 *   commit   single mutating calls per second on a durable registry (each
 *            one commit, synchronous=FULL, WAL; its log already full), and
 *            raw SQLite doing one row UPDATE per transaction with the same
 *            settings; interleaved rounds, medians, ratio = durable / raw
 *   batch    one batch of 10,000 fo_group_switch() calls, committed once
 *   fanout   fo_stack_add_server() of a load balancer on a stack that is the
 *            active slot of 100,000 groups, its commit included
 *   build    a store of 1,000,000 live groups and 100,000 tombstones over
 *            100 stacks, made in batches (not a goal)
 *   file     bytes of the main database file per group row (live groups and
 *            tombstones), after the store was closed and its WAL folded in
 *   open     fo_store_sqlite_open() + fo_registry_open() of that store
 *
 * The last line is machine-readable:
 *   store: groups=N open_ms=O file_bytes_per_group=F durable_ops_per_s=D
 *   sqlite_ops_per_s=Q ratio=R batch_10k_switch_ms=B fanout_100k_ms=M
 *
 * Goals are printed as PASS/MISS and never fail the run. The exit status is
 * non-zero only for a correctness failure: an unexpected error code from
 * the library or SQLite, a revision that did not move by exactly one per
 * commit, a wrong number of change events, or a reopened store that does
 * not hold what was written.
 *
 * Every file lives in a fresh directory (mkdtemp under $TMPDIR, else /tmp)
 * that is removed at exit, also after a failure.
 *
 * Usage: bench-store [--groups N] [--tombstones T] [--stacks S]
 *                    [--switch N] [--fanout N] [--batch B]
 *                    [--seconds X] [--rounds R] [--warmup W]
 */
#define _POSIX_C_SOURCE 200809L

#include <failover.h>

#include <sqlite3.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_GROUPS 1000000u
#define DEFAULT_TOMBSTONES 100000u
#define DEFAULT_STACKS 100u
#define DEFAULT_SWITCH 10000u
#define DEFAULT_FANOUT 100000u
#define DEFAULT_BATCH 10000u
#define DEFAULT_SECONDS 1.0
#define DEFAULT_ROUNDS 5
/* Commits made before the durable figure is taken: the SQLite backend keeps
 * the last 10,000 log entries, so from then on every commit also prunes
 * one, as in a store that has been running for a while. */
#define DEFAULT_WARMUP 10000u

#define GOAL_RATIO 0.8
#define GOAL_BATCH_MS 100.0
#define GOAL_OPEN_MS 3000.0
#define GOAL_FILE_BYTES 120.0
#define GOAL_FANOUT_MS 50.0

#define MAX_ROUNDS 15

static const char *const ZONE = "failover.example.net";

/* ---- helpers -------------------------------------------------------------- */

static char tmp_dir[4096];

/* Remove the benchmark's directory and whatever SQLite left in it (-wal,
 * -shm). Registered with atexit() so that a failed run cleans up too. */
static void remove_tmp_dir(void) {
  DIR *d;
  struct dirent *e;
  char path[4352];
  if (tmp_dir[0] == '\0')
    return;
  d = opendir(tmp_dir);
  if (d != NULL) {
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
      if (unlink(path) != 0)
        fprintf(stderr, "bench-store: cannot remove %s: %s\n", path,
                strerror(errno));
    }
    closedir(d);
  }
  if (rmdir(tmp_dir) != 0)
    fprintf(stderr, "bench-store: cannot remove %s: %s\n", tmp_dir,
            strerror(errno));
  tmp_dir[0] = '\0';
}

static void fail(const char *msg) {
  fprintf(stderr, "bench-store: FAILED: %s\n", msg);
  exit(1);
}

static void check(int rc, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "bench-store: %s failed: %s (%s)\n", what,
            fo_err_name(rc), fo_strerror(rc));
    exit(1);
  }
}

/* An SQLite call must have returned `want` (SQLITE_OK, _DONE or _ROW). */
static void sq_check(sqlite3 *db, int rc, int want, const char *what) {
  if (rc != want) {
    fprintf(stderr, "bench-store: sqlite %s failed: %d (%s)\n", what, rc,
            db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    exit(1);
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *verdict(int pass) { return pass ? "PASS" : "MISS"; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of `n` values (sorts them in place). */
static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static unsigned long parse_count(const char *s, const char *opt, int zero_ok) {
  char *end;
  unsigned long v;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || (v == 0 && !zero_ok) ||
      v > 100000000ul) {
    fprintf(stderr, "bench-store: bad value for %s: '%s'\n", opt, s);
    exit(2);
  }
  return v;
}

static double parse_seconds(const char *s) {
  char *end;
  double v;
  errno = 0;
  v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v > 0.0) || v > 600.0) {
    fprintf(stderr, "bench-store: bad value for --seconds: '%s'\n", s);
    exit(2);
  }
  return v;
}

static void path_in_tmp(char *buf, size_t size, const char *name) {
  if ((size_t)snprintf(buf, size, "%s/%s", tmp_dir, name) >= size)
    fail("temporary path too long");
}

/* Size of a file, or -1 when it does not exist. */
static long long file_size(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    if (errno == ENOENT)
      return -1;
    fprintf(stderr, "bench-store: stat %s: %s\n", path, strerror(errno));
    exit(1);
  }
  return (long long)st.st_size;
}

static uint64_t revision_of(const fo_registry *reg) {
  uint64_t rev = 0;
  check(fo_registry_revision(reg, &rev), "fo_registry_revision");
  return rev;
}

/* A durable registry on a new store file (library defaults unless `flags`
 * adds FO_STORE_SYNC_NORMAL), zone as everywhere, kernel CSPRNG. */
static void open_new(const char *path, unsigned int flags, fo_store **st,
                     fo_registry **reg) {
  fo_registry_options opts = FO_REGISTRY_OPTIONS_INIT;
  opts.zone = ZONE;
  check(fo_store_sqlite_open(st, path, FO_STORE_CREATE | flags),
        "fo_store_sqlite_open (create)");
  check(fo_registry_open(reg, &opts, *st), "fo_registry_open (create)");
}

static void close_reg(fo_registry *reg, fo_store *st) {
  if (fo_registry_poisoned(reg))
    fail("registry poisoned by a failed commit");
  fo_registry_free(reg);
  fo_store_close(st);
}

static fo_stack *new_stack(fo_registry *reg, const char *name, int with_lb) {
  fo_stack *s;
  check(fo_stack_new(&s, reg, name), "fo_stack_new");
  check(fo_stack_add_server(s, FO_SERVER_WEB, "web1", NULL),
        "fo_stack_add_server (web)");
  if (with_lb)
    check(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "lb1", NULL),
          "fo_stack_add_server (load balancer)");
  return s;
}

/* Create `n` groups (primary, backup) in batches of `batch`: one commit per
 * batch, as a bulk import would, so that building is not fsync-bound. */
static void create_groups(fo_registry *reg, size_t n, size_t batch,
                          fo_stack *primary, fo_stack *backup,
                          fo_group **out) {
  size_t i = 0;
  while (i < n) {
    size_t end = i + batch < n ? i + batch : n;
    check(fo_registry_batch_begin(reg), "fo_registry_batch_begin");
    for (; i < end; i++) {
      fo_group *g;
      check(fo_group_create(&g, reg, primary, backup), "fo_group_create");
      if (out != NULL)
        out[i] = g;
    }
    check(fo_registry_batch_commit(reg), "fo_registry_batch_commit");
  }
}

/* ---- commit: single calls, durable registry vs raw SQLite ----------------- */

typedef struct raw_db {
  sqlite3 *db;
  sqlite3_stmt *begin, *update, *commit;
  unsigned long long ttl_flip;
} raw_db;

static void raw_exec(sqlite3 *db, const char *sql) {
  sq_check(db, sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, sql);
}

static void raw_prepare(raw_db *r, const char *sql, sqlite3_stmt **st) {
  sq_check(r->db, sqlite3_prepare_v3(r->db, sql, -1,
                                     SQLITE_PREPARE_PERSISTENT, st, NULL),
           SQLITE_OK, sql);
}

/* The baseline: the same settings as the backend (WAL, synchronous=FULL,
 * a busy timeout, no mutex) and a table shaped like its `groups` table, so
 * that only what the library adds on top differs. Statements, BEGIN and
 * COMMIT included, are prepared once: the best a hand-written caller does. */
static void raw_open(raw_db *r, const char *path) {
  sqlite3_stmt *st;
  const unsigned char *mode;
  memset(r, 0, sizeof *r);
  sq_check(NULL,
           sqlite3_open_v2(path, &r->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                               SQLITE_OPEN_NOMUTEX,
                           NULL),
           SQLITE_OK, "open");
  sq_check(r->db, sqlite3_busy_timeout(r->db, 10000), SQLITE_OK,
           "busy_timeout");
  sq_check(r->db,
           sqlite3_prepare_v2(r->db, "PRAGMA journal_mode=WAL", -1, &st, NULL),
           SQLITE_OK, "PRAGMA journal_mode");
  sq_check(r->db, sqlite3_step(st), SQLITE_ROW, "PRAGMA journal_mode");
  mode = sqlite3_column_text(st, 0);
  if (mode == NULL || strcmp((const char *)mode, "wal") != 0)
    fail("raw SQLite file is not in WAL mode");
  sq_check(r->db, sqlite3_finalize(st), SQLITE_OK, "finalize");
  raw_exec(r->db, "PRAGMA synchronous=FULL");
  raw_exec(r->db,
           "CREATE TABLE groups(seq INTEGER PRIMARY KEY, code INTEGER NOT "
           "NULL, primary_stack INTEGER, backup_stack INTEGER, active INTEGER "
           "NOT NULL, state INTEGER NOT NULL, ttl INTEGER NOT NULL, mode "
           "INTEGER NOT NULL);"
           "INSERT INTO groups VALUES(0, 414262781, 1, NULL, 0, 2, 60, 1);");
  raw_prepare(r, "BEGIN IMMEDIATE", &r->begin);
  raw_prepare(r, "UPDATE groups SET ttl = ?1 WHERE seq = 0", &r->update);
  raw_prepare(r, "COMMIT", &r->commit);
}

static void raw_step_done(raw_db *r, sqlite3_stmt *st, const char *what) {
  sq_check(r->db, sqlite3_step(st), SQLITE_DONE, what);
  sq_check(r->db, sqlite3_reset(st), SQLITE_OK, what);
}

/* One transaction writing one row, as the durable call below does. */
static void raw_one(raw_db *r) {
  raw_step_done(r, r->begin, "BEGIN IMMEDIATE");
  sq_check(r->db,
           sqlite3_bind_int(r->update, 1, 60 + (int)(++r->ttl_flip & 1)),
           SQLITE_OK, "bind");
  raw_step_done(r, r->update, "UPDATE");
  if (sqlite3_changes(r->db) != 1)
    fail("raw UPDATE changed no row");
  raw_step_done(r, r->commit, "COMMIT");
}

static void raw_close(raw_db *r) {
  sqlite3_finalize(r->begin);
  sqlite3_finalize(r->update);
  sqlite3_finalize(r->commit);
  sq_check(NULL, sqlite3_close(r->db), SQLITE_OK, "close");
}

/* Ops per second of `seconds` of raw single-row transactions. */
static double raw_run(raw_db *r, double seconds, unsigned long long *ops) {
  double t0 = now(), t;
  unsigned long long n = 0;
  do {
    raw_one(r);
    n++;
  } while ((t = now()) - t0 < seconds);
  *ops = n;
  return (double)n / (t - t0);
}

/* Ops per second of `seconds` of fo_group_set_ttl() on a durable registry,
 * alternating 61 and 60 so that every call changes the row (a call that
 * changes nothing commits nothing). The revision must move by exactly one
 * per call: each call was its own commit. */
static double durable_run(fo_registry *reg, fo_group *g, double seconds,
                          unsigned long long *ops) {
  uint64_t rev0 = revision_of(reg);
  uint32_t ttl;
  double t0, t;
  unsigned long long n = 0;
  check(fo_group_ttl(g, &ttl), "fo_group_ttl");
  t0 = now();
  do {
    ttl = ttl == 60 ? 61 : 60;
    check(fo_group_set_ttl(g, ttl), "fo_group_set_ttl");
    n++;
  } while ((t = now()) - t0 < seconds);
  if (revision_of(reg) - rev0 != n)
    fail("durable calls did not commit once each");
  *ops = n;
  return (double)n / (t - t0);
}

static void bench_commits(double seconds, int rounds, size_t warmup,
                          double *durable_rate, double *raw_rate) {
  char dpath[4352], rpath[4352];
  double d[MAX_ROUNDS], q[MAX_ROUNDS], t0;
  fo_registry_options opts = FO_REGISTRY_OPTIONS_INIT;
  fo_store *st;
  fo_registry *reg;
  fo_stack *s;
  fo_group *g;
  raw_db raw;
  unsigned long long dn, qn;
  size_t i;
  int r;

  path_in_tmp(dpath, sizeof dpath, "commit-durable.db");
  path_in_tmp(rpath, sizeof rpath, "commit-raw.db");

  /* Warm-up: `warmup` single commits with synchronous=NORMAL (no fsync
   * each, so this takes a fraction of a second), then the store is
   * reopened with the library defaults for the measurement. */
  t0 = now();
  open_new(dpath, FO_STORE_SYNC_NORMAL, &st, &reg);
  s = new_stack(reg, "s1", 0);
  check(fo_group_create(&g, reg, s, NULL), "fo_group_create");
  for (i = 0; i < warmup; i++)
    check(fo_group_set_ttl(g, 60 + (uint32_t)(i % 2 == 0)),
          "fo_group_set_ttl");
  close_reg(reg, st);
  opts.zone = ZONE;
  check(fo_store_sqlite_open(&st, dpath, 0), "fo_store_sqlite_open");
  check(fo_registry_open(&reg, &opts, st), "fo_registry_open");
  g = fo_registry_next_group(reg, NULL);
  if (g == NULL)
    fail("reopened store lost its group");
  printf("commit:  warm-up: %zu commits (synchronous=NORMAL), revision %llu, "
         "in %.0f ms\n",
         warmup, (unsigned long long)revision_of(reg), (now() - t0) * 1e3);
  raw_open(&raw, rpath);

  /* Interleaved, the order swapped every round, so that neither side
   * always runs on a disk still busy with the other's writes. */
  for (r = 0; r < rounds; r++) {
    if (r % 2 == 0) {
      d[r] = durable_run(reg, g, seconds, &dn);
      q[r] = raw_run(&raw, seconds, &qn);
    } else {
      q[r] = raw_run(&raw, seconds, &qn);
      d[r] = durable_run(reg, g, seconds, &dn);
    }
    printf("commit:  round %d: durable %llu calls = %.0f/s, sqlite %llu "
           "transactions = %.0f/s, ratio %.2f\n",
           r + 1, dn, d[r], qn, q[r], d[r] / q[r]);
  }
  *durable_rate = median(d, rounds);
  *raw_rate = median(q, rounds);
  raw_close(&raw);
  close_reg(reg, st);
}

/* ---- batch: 10,000 switches, one commit ----------------------------------- */

static double bench_batch(size_t n, size_t batch, int rounds) {
  char path[4352];
  double ms[MAX_ROUNDS];
  fo_store *st;
  fo_registry *reg;
  fo_stack *a, *b;
  fo_group **groups;
  size_t i;
  int r;

  path_in_tmp(path, sizeof path, "batch.db");
  open_new(path, 0, &st, &reg);
  a = new_stack(reg, "a", 0);
  b = new_stack(reg, "b", 0);
  groups = calloc(n, sizeof *groups);
  if (groups == NULL)
    fail("out of memory in the benchmark itself");
  create_groups(reg, n, batch, a, b, groups);

  /* Back and forth: each round switches every group (timed: begin, the N
   * calls, the one commit), then settles them in a batch of its own. */
  for (r = 0; r < rounds; r++) {
    fo_slot to = r % 2 == 0 ? FO_SLOT_BACKUP : FO_SLOT_PRIMARY;
    uint64_t rev0 = revision_of(reg);
    double t0 = now();
    check(fo_registry_batch_begin(reg), "fo_registry_batch_begin");
    for (i = 0; i < n; i++)
      check(fo_group_switch(groups[i], to, 0), "fo_group_switch");
    check(fo_registry_batch_commit(reg), "fo_registry_batch_commit");
    ms[r] = (now() - t0) * 1e3;
    if (revision_of(reg) != rev0 + 1)
      fail("a batch did not commit exactly once");
    check(fo_registry_batch_begin(reg), "fo_registry_batch_begin");
    for (i = 0; i < n; i++)
      check(fo_group_settle(groups[i]), "fo_group_settle");
    check(fo_registry_batch_commit(reg), "fo_registry_batch_commit");
    printf("batch:   round %d: %zu switches in one batch: %.1f ms\n", r + 1,
           n, ms[r]);
  }
  free(groups);
  close_reg(reg, st);
  return median(ms, rounds);
}

/* ---- fanout: a load balancer re-targets 100,000 groups -------------------- */

typedef struct counter {
  unsigned long long total, server_added;
} counter;

/* A publisher is subscribed in real use: the figure includes building and
 * delivering one change event per re-targeted group. */
static void on_change(const fo_change *c, void *userdata) {
  counter *n = userdata;
  n->total++;
  if (c->reason == FO_CHANGE_SERVER_ADDED)
    n->server_added++;
}

static double bench_fanout(size_t n, size_t batch, int rounds) {
  char path[4352];
  double ms[MAX_ROUNDS];
  fo_store *st;
  fo_registry *reg;
  fo_stack *hot, *cold;
  fo_group *first;
  counter events;
  int r;

  path_in_tmp(path, sizeof path, "fanout.db");
  open_new(path, 0, &st, &reg);
  hot = new_stack(reg, "hot", 0);
  cold = new_stack(reg, "cold", 0);
  check(fo_group_create(&first, reg, hot, cold), "fo_group_create");
  create_groups(reg, n - 1, batch, hot, cold, NULL);
  memset(&events, 0, sizeof events);
  check(fo_registry_subscribe(reg, on_change, &events, NULL),
        "fo_registry_subscribe");

  /* Each round adds the load balancer (timed: the call, its n events and
   * its commit) and removes it again, untimed, for the next round. */
  for (r = 0; r < rounds; r++) {
    uint64_t rev0 = revision_of(reg);
    unsigned long long before = events.server_added;
    fo_target t = FO_TARGET_INIT;
    double t0 = now();
    check(fo_stack_add_server(hot, FO_SERVER_LOAD_BALANCER, "lb1", NULL),
          "fo_stack_add_server (load balancer)");
    ms[r] = (now() - t0) * 1e3;
    if (revision_of(reg) != rev0 + 1)
      fail("the fan-out call did not commit exactly once");
    if (events.server_added - before != n) {
      fprintf(stderr, "bench-store: expected %zu server-added events, saw "
                      "%llu\n", n, events.server_added - before);
      fail("wrong number of fan-out events");
    }
    check(fo_group_target(first, &t), "fo_group_target");
    if (t.host_name == NULL || strncmp(t.host_name, "lb1.hot.", 8) != 0)
      fail("a fanned-out group does not point at the load balancer");
    printf("fanout:  round %d: load balancer added, %zu groups re-targeted "
           "and committed in %.2f ms\n", r + 1, n, ms[r]);
    check(fo_stack_remove_server(hot, "lb1"), "fo_stack_remove_server");
  }
  close_reg(reg, st);
  return median(ms, rounds);
}

/* ---- build, file, open: a store of 1,000,000 groups ----------------------- */

typedef struct big_result {
  double bytes_per_group;
  double open_ms;
} big_result;

static void bench_big(size_t ngroups, size_t ntomb, size_t nstacks,
                      size_t batch, int rounds, big_result *out) {
  char path[4352], wal[4400], name[32];
  char live_addr[64], tomb_addr[64];
  double t0, build_ms, ms[MAX_ROUNDS];
  fo_registry_options opts = FO_REGISTRY_OPTIONS_INIT;
  fo_store *st;
  fo_registry *reg;
  fo_stack **stacks;
  fo_group **tombs;
  size_t total = ngroups + ntomb, i, live = 0, dead = 0, count;
  long long size, wal_size;
  int r;

  path_in_tmp(path, sizeof path, "big.db");
  snprintf(wal, sizeof wal, "%s-wal", path);
  stacks = calloc(nstacks, sizeof *stacks);
  tombs = calloc(ntomb ? ntomb : 1, sizeof *tombs);
  if (stacks == NULL || tombs == NULL)
    fail("out of memory in the benchmark itself");

  /* Building is a bulk import, not what is measured: synchronous=NORMAL
   * (no fsync per commit; a checkpoint still syncs) and batches of
   * `batch` creates, one commit each. */
  t0 = now();
  open_new(path, FO_STORE_SYNC_NORMAL, &st, &reg);
  check(fo_registry_batch_begin(reg), "fo_registry_batch_begin");
  for (i = 0; i < nstacks; i++) {
    snprintf(name, sizeof name, "s%zu", i);
    stacks[i] = new_stack(reg, name, 1);
  }
  check(fo_registry_batch_commit(reg), "fo_registry_batch_commit");

  /* Tombstones are spread evenly through creation order (every 11th group
   * at the defaults), as deletions over a store's life would be: those
   * groups are created without stacks, so that they can be deleted. */
  i = 0;
  while (i < total) {
    size_t end = i + batch < total ? i + batch : total;
    check(fo_registry_batch_begin(reg), "fo_registry_batch_begin");
    for (; i < end; i++) {
      int tomb = (unsigned long long)(i + 1) * ntomb / total >
                 (unsigned long long)i * ntomb / total;
      if (tomb) {
        check(fo_group_create(&tombs[dead], reg, NULL, NULL),
              "fo_group_create (reserved)");
        dead++;
      } else {
        fo_stack *p = stacks[live % nstacks];
        fo_stack *b = stacks[(live + 1) % nstacks];
        fo_group *g;
        check(fo_group_create(&g, reg, p, b), "fo_group_create");
        if (live == 0)
          check(fo_group_address(g, live_addr, sizeof live_addr),
                "fo_group_address");
        live++;
      }
    }
    check(fo_registry_batch_commit(reg), "fo_registry_batch_commit");
  }
  if (live != ngroups || dead != ntomb)
    fail("wrong number of groups created");
  for (i = 0; i < ntomb;) {
    size_t end = i + batch < ntomb ? i + batch : ntomb;
    check(fo_registry_batch_begin(reg), "fo_registry_batch_begin");
    for (; i < end; i++)
      check(fo_group_delete(tombs[i]), "fo_group_delete");
    check(fo_registry_batch_commit(reg), "fo_registry_batch_commit");
  }
  tomb_addr[0] = '\0';
  if (ntomb > 0)
    check(fo_group_address(tombs[0], tomb_addr, sizeof tomb_addr),
          "fo_group_address");
  check(fo_registry_group_count(reg, &count), "fo_registry_group_count");
  if (count != ngroups)
    fail("wrong live group count after building");
  close_reg(reg, st);
  build_ms = (now() - t0) * 1e3;
  free(tombs);
  free(stacks);
  printf("build:   %zu groups + %zu tombstones over %zu stacks, batches of "
         "%zu, synchronous=NORMAL: %.0f ms (not a goal)\n",
         ngroups, ntomb, nstacks, batch, build_ms);

  /* The last connection's close checkpoints the WAL into the main file and
   * deletes it: the main file is then the whole store. */
  size = file_size(path);
  wal_size = file_size(wal);
  if (size <= 0)
    fail("store file missing after close");
  if (wal_size > 0)
    fail("WAL not folded into the store file on close");
  out->bytes_per_group = (double)size / (double)total;
  printf("file:    %lld bytes = %.1f MiB for %zu group rows (%zu live + %zu "
         "tombstones) = %.1f bytes/group (goal <= %.0f: %s)\n",
         size, (double)size / (1024.0 * 1024.0), total, ngroups, ntomb,
         out->bytes_per_group, GOAL_FILE_BYTES,
         verdict(out->bytes_per_group <= GOAL_FILE_BYTES));

  /* Open as a process starting up would: the store with library defaults,
   * then the registry, which loads and checks every row. */
  opts.zone = ZONE;
  for (r = 0; r < rounds; r++) {
    fo_group *g = NULL;
    double t1;
    t0 = now();
    check(fo_store_sqlite_open(&st, path, 0), "fo_store_sqlite_open");
    check(fo_registry_open(&reg, &opts, st), "fo_registry_open");
    ms[r] = (now() - t0) * 1e3;
    check(fo_registry_group_count(reg, &count), "fo_registry_group_count");
    if (count != ngroups)
      fail("reopened store has the wrong live group count");
    check(fo_registry_stack_count(reg, &count), "fo_registry_stack_count");
    if (count != nstacks)
      fail("reopened store has the wrong stack count");
    check(fo_registry_find_group(reg, live_addr, &g),
          "fo_registry_find_group (live)");
    if (ntomb > 0 &&
        fo_registry_find_group(reg, tomb_addr, &g) != FO_EDELETED)
      fail("a tombstone did not load as a tombstone");
    t1 = now();
    close_reg(reg, st);
    printf("open:    round %d: store + registry opened in %.1f ms (freed "
           "and closed in %.1f ms)\n",
           r + 1, ms[r], (now() - t1) * 1e3);
  }
  out->open_ms = median(ms, rounds);
}

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv) {
  size_t ngroups = DEFAULT_GROUPS, ntomb = DEFAULT_TOMBSTONES;
  size_t nstacks = DEFAULT_STACKS, nswitch = DEFAULT_SWITCH;
  size_t nfan = DEFAULT_FANOUT, batch = DEFAULT_BATCH;
  size_t warmup = DEFAULT_WARMUP;
  double seconds = DEFAULT_SECONDS, durable_rate, raw_rate, ratio;
  double batch_ms, fanout_ms;
  int rounds = DEFAULT_ROUNDS, full;
  big_result big;
  const char *base;

  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--groups") == 0 && a + 1 < argc)
      ngroups = parse_count(argv[++a], "--groups", 0);
    else if (strcmp(argv[a], "--tombstones") == 0 && a + 1 < argc)
      ntomb = parse_count(argv[++a], "--tombstones", 1);
    else if (strcmp(argv[a], "--stacks") == 0 && a + 1 < argc)
      nstacks = parse_count(argv[++a], "--stacks", 0);
    else if (strcmp(argv[a], "--switch") == 0 && a + 1 < argc)
      nswitch = parse_count(argv[++a], "--switch", 0);
    else if (strcmp(argv[a], "--fanout") == 0 && a + 1 < argc)
      nfan = parse_count(argv[++a], "--fanout", 0);
    else if (strcmp(argv[a], "--batch") == 0 && a + 1 < argc)
      batch = parse_count(argv[++a], "--batch", 0);
    else if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc)
      seconds = parse_seconds(argv[++a]);
    else if (strcmp(argv[a], "--rounds") == 0 && a + 1 < argc)
      rounds = (int)parse_count(argv[++a], "--rounds", 0);
    else if (strcmp(argv[a], "--warmup") == 0 && a + 1 < argc)
      warmup = parse_count(argv[++a], "--warmup", 1);
    else {
      fprintf(stderr,
              "usage: %s [--groups N] [--tombstones T] [--stacks S] "
              "[--switch N] [--fanout N] [--batch B] [--seconds X] "
              "[--rounds R] [--warmup W]\n",
              argv[0]);
      return 2;
    }
  }
  if (nstacks < 2) {
    fprintf(stderr, "bench-store: --stacks must be at least 2 (primary and "
                    "backup must differ)\n");
    return 2;
  }
  if (rounds > MAX_ROUNDS) {
    fprintf(stderr, "bench-store: --rounds must be at most %d\n", MAX_ROUNDS);
    return 2;
  }
  full = ngroups == DEFAULT_GROUPS && ntomb == DEFAULT_TOMBSTONES &&
         nswitch == DEFAULT_SWITCH && nfan == DEFAULT_FANOUT;

  base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0')
    base = "/tmp";
  if ((size_t)snprintf(tmp_dir, sizeof tmp_dir, "%s/bench-store.XXXXXX",
                       base) >= sizeof tmp_dir) {
    tmp_dir[0] = '\0';
    fail("TMPDIR too long");
  }
  if (mkdtemp(tmp_dir) == NULL) {
    fprintf(stderr, "bench-store: mkdtemp %s: %s\n", tmp_dir,
            strerror(errno));
    tmp_dir[0] = '\0';
    return 1;
  }
  if (atexit(remove_tmp_dir) != 0) {
    remove_tmp_dir();
    fail("atexit");
  }

  printf("bench-store: libfailover %s, SQLite %s, directory %s\n",
         fo_version_string(), sqlite3_libversion(), tmp_dir);
  printf("bench-store: %zu groups + %zu tombstones over %zu stacks, batch "
         "switch %zu, fan-out %zu, commits %d x %.2f s per side\n",
         ngroups, ntomb, nstacks, nswitch, nfan, rounds, seconds);

  bench_commits(seconds, rounds, warmup, &durable_rate, &raw_rate);
  ratio = durable_rate / raw_rate;
  printf("commit:  median durable %.0f/s, sqlite %.0f/s, ratio %.2f "
         "(goal >= %.1f: %s)\n",
         durable_rate, raw_rate, ratio, GOAL_RATIO,
         verdict(ratio >= GOAL_RATIO));

  batch_ms = bench_batch(nswitch, batch, rounds);
  printf("batch:   median %.1f ms for %zu switches (goal <= %.0f ms at "
         "10000: %s)\n",
         batch_ms, nswitch, GOAL_BATCH_MS,
         nswitch == DEFAULT_SWITCH ? verdict(batch_ms <= GOAL_BATCH_MS)
                                   : "n/a, smaller run");

  fanout_ms = bench_fanout(nfan, batch, rounds);
  printf("fanout:  median %.2f ms for %zu groups (goal <= %.0f ms at "
         "100000: %s)\n",
         fanout_ms, nfan, GOAL_FANOUT_MS,
         nfan == DEFAULT_FANOUT ? verdict(fanout_ms <= GOAL_FANOUT_MS)
                                : "n/a, smaller run");

  bench_big(ngroups, ntomb, nstacks, batch, rounds, &big);
  printf("open:    median %.1f ms for %zu groups + %zu tombstones (goal <= "
         "%.0f ms at 1000000: %s)\n",
         big.open_ms, ngroups, ntomb, GOAL_OPEN_MS,
         full ? verdict(big.open_ms <= GOAL_OPEN_MS) : "n/a, smaller run");

  printf("store: groups=%zu open_ms=%.1f file_bytes_per_group=%.1f "
         "durable_ops_per_s=%.0f sqlite_ops_per_s=%.0f ratio=%.2f "
         "batch_10k_switch_ms=%.1f fanout_100k_ms=%.2f\n",
         ngroups, big.open_ms, big.bytes_per_group, durable_rate, raw_rate,
         ratio, batch_ms, fanout_ms);
  return 0;
}
