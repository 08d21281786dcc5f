/*
 * test_store.c - durable registries on the SQLite store: reopen equals what
 * was written, tombstones survive restarts, bad files are refused without a
 * byte changed, stale writes and refresh, batches, several processes on one
 * file, read-only opens and the publisher lease.
 */
#define _DEFAULT_SOURCE
#include <criterion/criterion.h>

#include <sqlite3.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_scenarios.h"
#include "support.h"

/* ---- fixture: a scratch directory --------------------------------------- */

static char dir[256];

static void make_dir(void) {
  snprintf(dir, sizeof dir, "%s/fo-store-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

TestSuite(store, .init = make_dir, .fini = remove_dir);

static char *path_of(const char *name) {
  static char p[4][512];
  static int next;
  char *out = p[next++ % 4];
  snprintf(out, sizeof p[0], "%s/%s", dir, name);
  return out;
}

static fo_registry *open_reg(const char *path, unsigned flags, fo_store **st,
                             ft_rng *rng) {
  fo_registry_options o = ft_options(rng, NULL);
  fo_registry *reg = NULL;
  FT_OK(fo_store_sqlite_open(st, path, flags));
  FT_OK(fo_registry_open(&reg, &o, *st));
  return reg;
}

/* The shared scenarios (support/store_scenarios.c) on the file `path`. */
static int sqlite_open(fo_store **st, unsigned flags, const void *path) {
  return fo_store_sqlite_open(st, path, flags);
}

static fs_backend sqlite_at(const char *name) {
  fs_backend be = {sqlite_open, path_of(name)};
  return be;
}

/* Read a whole file (NUL-terminated for convenience). */
static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
  b[n] = 0;
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void sql(const char *path, const char *stmt) {
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  char *err = NULL;
  int rc = sqlite3_exec(db, stmt, NULL, NULL, &err);
  cr_assert_eq(rc, SQLITE_OK, "%s: %s", stmt, err ? err : "");
  sqlite3_close(db);
}

/* A store with a little of everything: stacks with web servers and load
 * balancers, explicit host names and addresses, groups in every state, a
 * removed stack and deleted groups. */
static void populate(fo_registry *reg) { ft_populate(reg, ""); }

Test(store, reopen_equals_what_was_written) {
  fs_backend be = sqlite_at("a.db");
  fs_reopen_equals_what_was_written(&be, 3);
}

Test(store, deleted_address_never_drawn_after_restarts) {
  fs_backend be = sqlite_at("t.db");
  fs_deleted_address_never_drawn_again(&be, 5, 5);
}

/* ---- files that are refused --------------------------------------------- */

static void expect_refused(const char *p, int code, const char *what) {
  size_t n1, n2;
  char *before = slurp(p, &n1);
  fo_store *st = NULL;
  fo_registry *reg = NULL;
  fo_registry_options o = ft_options(NULL, NULL);
  int rc = fo_store_sqlite_open(&st, p, 0);
  if (rc == 0) {
    rc = fo_registry_open(&reg, &o, st);
    cr_assert_null(rc ? reg : NULL);
    fo_registry_free(reg);
    fo_store_close(st);
  }
  cr_assert_eq(rc, code, "%s: got %s, expected %s", what, fo_err_name(rc),
               fo_err_name(code));
  char *after = slurp(p, &n2);
  cr_assert(n1 == n2 && memcmp(before, after, n1) == 0,
            "%s: the file changed", what);
  free(before);
  free(after);
}

static const char *written_store(const char *name) {
  const char *p = path_of(name);
  fo_store *st;
  fo_registry *reg = open_reg(p, FO_STORE_CREATE, &st, NULL);
  populate(reg);
  fs_close_reg(reg, st);
  return p;
}

Test(store, hand_edited_file_breaking_a_rule_is_refused) {
  const char *p = written_store("edit.db");
  /* One stack in both slots of a group. */
  sql(p, "UPDATE groups SET backup_stack = primary_stack"
         " WHERE primary_stack IS NOT NULL AND seq = 0");
  expect_refused(p, FO_ESAMESTACK, "one stack in both slots");
  sql(p, "UPDATE groups SET backup_stack = NULL WHERE seq = 0;"
         "UPDATE groups SET active = 1 WHERE seq = 0");
  expect_refused(p, FO_ESLOTEMPTY, "active slot empty");
  sql(p, "UPDATE groups SET active = 0 WHERE seq = 0");
  /* Now valid again: it loads. */
  fo_store *st;
  fo_registry *reg = open_reg(p, 0, &st, NULL);
  fs_close_reg(reg, st);
  sql(p, "UPDATE groups SET code = (SELECT code FROM groups WHERE seq = 1)"
         " WHERE seq = 2");
  expect_refused(p, FO_EEXIST, "an address drawn twice");
}

Test(store, more_hand_edits) {
  const char *p = written_store("edit2.db");
  sql(p, "UPDATE groups SET ttl = 100000 WHERE seq = 0");
  expect_refused(p, FO_ERANGE, "ttl out of range");
  sql(p, "UPDATE groups SET ttl = 60 WHERE seq = 0;"
         "UPDATE groups SET primary_stack = 999 WHERE seq = 0");
  expect_refused(p, FO_ENOENT, "slot naming no stack");
  sql(p, "UPDATE groups SET primary_stack = 1 WHERE seq = 0;"
         "UPDATE stacks SET name = 'not a label' WHERE id = 1");
  expect_refused(p, FO_EBADNAME, "bad stack name");
  sql(p, "UPDATE stacks SET name = 'shop' WHERE id = 1;"
         "UPDATE servers SET ipv4 = '300.1.1.1' WHERE ipv4 IS NOT NULL");
  expect_refused(p, FO_EBADADDR, "bad address");
  sql(p, "UPDATE servers SET ipv4 = '192.0.2.7' WHERE ipv4 IS NOT NULL;"
         "UPDATE groups SET state = 9 WHERE seq = 0");
  expect_refused(p, FO_ECORRUPT, "unknown state");
  sql(p, "UPDATE groups SET state = 3 WHERE seq = 0;"
         "DELETE FROM meta WHERE key = 'zone'");
  expect_refused(p, FO_ECORRUPT, "settings gone, rows left");
}

Test(store, not_sqlite_not_ours_newer_other_zone) {
  const char *p = path_of("text.db");
  FILE *f = fopen(p, "wb");
  for (int i = 0; i < 200; i++)
    fputs("this is not a database, just some text.\n", f);
  fclose(f);
  expect_refused(p, FO_ENOTDB, "a text file");

  p = path_of("other.db");
  sql(p, "CREATE TABLE t(x); INSERT INTO t VALUES(1)");
  expect_refused(p, FO_ENOTOURS, "another application's database");

  p = written_store("newer.db");
  sql(p, "PRAGMA user_version = 99");
  expect_refused(p, FO_ESCHEMA, "a newer schema");

  p = written_store("zone.db");
  size_t n1, n2;
  char *before = slurp(p, &n1);
  fo_store *st;
  fo_registry *reg = NULL;
  fo_registry_options o = ft_options(NULL, NULL);
  o.zone = "other.example.org";
  FT_OK(fo_store_sqlite_open(&st, p, 0));
  FT_RC(fo_registry_open(&reg, &o, st), FO_EZONE);
  cr_assert_null(reg);
  o.zone = NULL; /* take the stored zone */
  FT_OK(fo_registry_open(&reg, &o, st));
  const char *zone;
  FT_OK(fo_registry_zone(reg, &zone));
  cr_assert_str_eq(zone, FT_ZONE);
  fs_close_reg(reg, st);
  char *after = slurp(p, &n2);
  cr_assert(n1 == n2 && memcmp(before, after, n1) == 0);
  free(before);
  free(after);
}

Test(store, truncated_and_damaged_files) {
  const char *src = written_store("src.db");
  /* Enough groups that the file spans many pages. */
  {
    fo_store *st;
    fo_registry *reg = open_reg(src, 0, &st, NULL);
    FT_OK(fo_registry_batch_begin(reg));
    for (int i = 0; i < 3000; i++)
      ft_group(reg, NULL, NULL);
    FT_OK(fo_registry_batch_commit(reg));
    fs_close_reg(reg, st);
  }
  size_t len;
  char *good = slurp(src, &len);
  cr_assert_gt(len, 16384);

  /* Truncated at several points. */
  size_t cuts[] = {50, 100, 4096, len / 2, len - 4096};
  for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
    const char *p = path_of("cut.db");
    FILE *f = fopen(p, "wb");
    fwrite(good, 1, cuts[i], f);
    fclose(f);
    size_t n1, n2;
    char *before = slurp(p, &n1);
    fo_store *st = NULL;
    fo_registry *reg = NULL;
    fo_registry_options o = ft_options(NULL, NULL);
    int rc = fo_store_sqlite_open(&st, p, 0);
    if (rc == 0) {
      rc = fo_registry_open(&reg, &o, st);
      fo_registry_free(reg);
      fo_store_close(st);
    }
    cr_assert(rc == FO_ECORRUPT || rc == FO_ENOTDB || rc == FO_ENOTOURS,
              "truncated at %zu: %s", cuts[i], fo_err_name(rc));
    char *after = slurp(p, &n2);
    cr_assert(n1 == n2 && memcmp(before, after, n1) == 0,
              "truncated file changed");
    free(before);
    free(after);
    unlink(p);
  }

  /* Random bytes at random offsets: a specific error, or (the bytes hit
   * unused space or made another valid value) a registry that keeps every
   * rule. Never a crash, never a changed file. */
  ft_rng rng;
  ft_rng_init(&rng, 99);
  int refused = 0, loaded = 0;
  for (int round = 0; round < 60; round++) {
    const char *p = path_of("noise.db");
    char *copy = malloc(len);
    memcpy(copy, good, len);
    int hits = 1 + (int)ft_rng_below(&rng, 8);
    for (int h = 0; h < hits; h++) {
      size_t off = ft_rng_below(&rng, (uint32_t)len);
      size_t n = 1 + ft_rng_below(&rng, 16);
      for (size_t k = 0; k < n && off + k < len; k++)
        copy[off + k] = (char)ft_rng_below(&rng, 256);
    }
    FILE *f = fopen(p, "wb");
    fwrite(copy, 1, len, f);
    fclose(f);
    fo_store *st = NULL;
    fo_registry *reg = NULL;
    fo_registry_options o = ft_options(NULL, NULL);
    int rc = fo_store_sqlite_open(&st, p, 0);
    if (rc == 0)
      rc = fo_registry_open(&reg, &o, st);
    if (rc == 0) {
      char *bad = ft_invariant_violation(reg);
      cr_assert_null(bad, "damaged file loaded with broken rules: %s",
                     bad ? bad : "");
      loaded++;
    } else {
      cr_assert(rc == FO_ECORRUPT || rc == FO_ENOTDB || rc == FO_ENOTOURS ||
                    rc == FO_ESCHEMA || rc == FO_ESAMESTACK ||
                    rc == FO_EEXIST || rc == FO_ENOENT || rc == FO_ERANGE ||
                    rc == FO_EBADNAME || rc == FO_EBADADDR ||
                    rc == FO_EATTACHED || rc == FO_ESLOTEMPTY ||
                    rc == FO_EDELETED || rc == FO_EZONE ||
                    rc == FO_EBADTEMPLATE || rc == FO_ENAMETOOLONG,
                "damaged file: unexpected %s", fo_err_name(rc));
      refused++;
    }
    fo_registry_free(reg);
    fo_store_close(st);
    size_t n2;
    char *after = slurp(p, &n2);
    cr_assert(n2 == len && memcmp(after, copy, len) == 0,
              "damaged file changed on open");
    free(after);
    free(copy);
    unlink(p);
  }
  cr_log_info("damaged files: %d refused, %d loaded intact", refused, loaded);
  cr_assert_gt(refused, 0);
  ft_rng_free(&rng);
  free(good);
}

/* ---- bad input ------------------------------------------------------------ */

Test(store, bad_arguments) {
  fo_store *st = (fo_store *)1;
  FT_RC(fo_store_sqlite_open(NULL, "x", 0), FO_EINVAL);
  FT_RC(fo_store_sqlite_open(&st, NULL, 0), FO_EINVAL);
  cr_assert_null(st);
  FT_RC(fo_store_sqlite_open(&st, path_of("x.db"), 64), FO_EINVAL);
  FT_RC(fo_store_sqlite_open(&st, path_of("x.db"),
                             FO_STORE_CREATE | FO_STORE_READONLY),
        FO_EINVAL);
  FT_RC(fo_store_sqlite_open(&st, path_of("missing.db"), 0), FO_ENOENT);
  FT_RC(fo_store_sqlite_open(&st, path_of("missing.db"), FO_STORE_READONLY),
        FO_ENOENT);
  cr_assert_eq(access(path_of("missing.db"), F_OK), -1, "a file was made");

  fo_registry *reg = (fo_registry *)1;
  fo_registry_options o = ft_options(NULL, NULL);
  FT_OK(fo_store_sqlite_open(&st, path_of("x.db"), FO_STORE_CREATE));
  FT_RC(fo_registry_open(&reg, NULL, st), FO_EINVAL);
  cr_assert_null(reg);
  FT_RC(fo_registry_open(&reg, &o, NULL), FO_EINVAL);
  FT_RC(fo_registry_open(NULL, &o, st), FO_EINVAL);
  o.version = 99;
  FT_RC(fo_registry_open(&reg, &o, st), FO_EVERSION);
  o = ft_options(NULL, NULL);
  o.zone = "bad..zone";
  FT_RC(fo_registry_open(&reg, &o, st), FO_EBADNAME);
  o.zone = NULL; /* a new store needs a zone */
  FT_RC(fo_registry_open(&reg, &o, st), FO_EINVAL);
  fo_store_close(st);

  FT_RC(fo_registry_refresh(NULL), FO_EINVAL);
  FT_RC(fo_registry_batch_begin(NULL), FO_EINVAL);
  FT_RC(fo_registry_batch_commit(NULL), FO_EINVAL);
  cr_assert_eq(fo_registry_poisoned(NULL), 0);
  FT_RC(fo_store_lease_acquire(NULL, "a", 100, NULL), FO_EINVAL);
  fo_store_close(NULL);

  /* An in-memory registry: batches are accepted, refresh is a no-op. */
  fo_registry *mem = ft_registry(NULL, NULL);
  FT_RC(fo_registry_batch_commit(mem), FO_EINVAL);
  FT_OK(fo_registry_batch_begin(mem));
  ft_group(mem, NULL, NULL);
  FT_OK(fo_registry_batch_commit(mem));
  FT_OK(fo_registry_refresh(mem));
  fo_store *none = (fo_store *)1;
  FT_OK(fo_registry_store(mem, &none));
  cr_assert_null(none);
  fo_registry_free(mem);
}

Test(store, empty_file_without_create) {
  const char *p = path_of("empty.db");
  int fd = open(p, O_CREAT | O_WRONLY, 0600);
  close(fd);
  fo_store *st;
  FT_RC(fo_store_sqlite_open(&st, p, 0), FO_ENOSTORE);
  FT_RC(fo_store_sqlite_open(&st, p, FO_STORE_READONLY), FO_ENOSTORE);
  struct stat sb;
  stat(p, &sb);
  cr_assert_eq(sb.st_size, 0, "an empty file was written to");
}

/* ---- several registries on one store ------------------------------------ */

Test(store, stale_write_changes_nothing_and_refresh_catches_up) {
  fs_backend be = sqlite_at("two.db");
  fs_two t;
  fs_stale_write_changes_nothing_and_refresh_catches_up(&be, &t);
  fs_two_close(&t);
}

Test(store, refresh_follows_every_kind_of_change) {
  const char *p = path_of("follow.db");
  fo_store *sa, *sb;
  fo_registry *a = open_reg(p, FO_STORE_CREATE, &sa, NULL);
  fo_registry *b = open_reg(p, 0, &sb, NULL);
  populate(a);
  FT_OK(fo_registry_refresh(b));
  char *ta = ft_snapshot_stable(a), *tb = ft_snapshot_stable(b);
  cr_assert_str_eq(ta, tb);
  free(ta);
  free(tb);
  /* more changes, some in a batch */
  fo_stack *shop = NULL, *jour = NULL;
  FT_OK(fo_registry_find_stack(a, "shop", &shop));
  FT_OK(fo_registry_find_stack(a, "journal", &jour));
  FT_OK(fo_registry_batch_begin(a));
  FT_OK(fo_stack_remove_server(shop, "lb1"));
  FT_OK(fo_stack_set_server_host_name(jour, "web1", NULL));
  for (fo_group *g = fo_registry_next_group(a, NULL); g;
       g = fo_registry_next_group(a, g))
    if (ft_state(g) == FO_GROUP_SWITCHING)
      FT_OK(fo_group_settle(g));
  fo_group *t = ft_group(a, NULL, NULL);
  FT_OK(fo_group_delete(t));
  fo_stack *tmp = ft_stack(a, "tmp", 0, 0);
  FT_OK(fo_stack_remove(tmp));
  FT_OK(fo_registry_batch_commit(a));
  FT_OK(fo_registry_refresh(b));
  ta = ft_snapshot_stable(a);
  tb = ft_snapshot_stable(b);
  cr_assert_str_eq(ta, tb);
  /* and a fresh open agrees with both */
  fo_store *sc;
  fo_registry *c = open_reg(p, FO_STORE_READONLY, &sc, NULL);
  char *tc = ft_snapshot_stable(c);
  cr_assert_str_eq(tc, ta);
  free(ta);
  free(tb);
  free(tc);
  fs_close_reg(c, sc);
  fs_close_reg(a, sa);
  fs_close_reg(b, sb);
}

Test(store, batch_is_one_commit) {
  const char *p = path_of("batch.db");
  fo_store *st;
  fo_registry *reg = open_reg(p, FO_STORE_CREATE, &st, NULL);
  fo_stack *s1 = ft_stack(reg, "one", 1, 0), *s2 = ft_stack(reg, "two", 1, 0);
  uint64_t r0, r1;
  FT_OK(fo_registry_revision(reg, &r0));
  FT_OK(fo_registry_batch_begin(reg));
  FT_OK(fo_registry_batch_begin(reg)); /* nests */
  for (int i = 0; i < 500; i++)
    ft_group(reg, s1, s2);
  FT_OK(fo_registry_batch_commit(reg));
  FT_OK(fo_registry_revision(reg, &r1));
  cr_assert_eq(r1, r0, "an inner commit wrote");
  fo_group *g = fo_registry_next_group(reg, NULL);
  FT_RC(fo_group_settle(g), FO_ENOTSWITCHING); /* refused inside: goes on */
  FT_OK(fo_registry_batch_commit(reg));
  FT_OK(fo_registry_revision(reg, &r1));
  cr_assert_eq(r1, r0 + 1);
  FT_RC(fo_registry_batch_commit(reg), FO_EINVAL);
  FT_OK(fo_registry_batch_begin(reg));
  FT_RC(fo_registry_refresh(reg), FO_EBUSY);
  FT_OK(fo_registry_batch_commit(reg)); /* nothing changed: no revision */
  FT_OK(fo_registry_revision(reg, &r0));
  cr_assert_eq(r0, r1);
  /* The lock is held from begin: another registry's write waits, then is
   * stale. */
  char *before = ft_snapshot_stable(reg);
  fs_close_reg(reg, st);
  reg = open_reg(p, 0, &st, NULL);
  char *after = ft_snapshot_stable(reg);
  cr_assert_str_eq(after, before);
  free(before);
  free(after);
  fs_close_reg(reg, st);
}

Test(store, read_only_store) {
  const char *p = written_store("ro.db");
  fo_store *sw, *sr;
  fo_registry *w = open_reg(p, 0, &sw, NULL);
  fo_registry *r = open_reg(p, FO_STORE_READONLY, &sr, NULL);
  char *before = ft_snapshot_stable(r);
  fo_group *g = NULL;
  FT_RC(fo_group_create(&g, r, NULL, NULL), FO_EREADONLY);
  FS_SAME_STATE(before, r, "a read-only create");
  FT_RC(fo_store_lease_acquire(sr, "ro", 1000, NULL), FO_EREADONLY);
  /* the writer goes on; the reader follows */
  ft_group(w, NULL, NULL);
  FT_OK(fo_registry_refresh(r));
  char *tw = ft_snapshot_stable(w), *tr = ft_snapshot_stable(r);
  cr_assert_str_eq(tw, tr);
  free(tw);
  free(tr);
  free(before);
  fs_close_reg(r, sr);
  fs_close_reg(w, sw);
}

/* Application settings: kept in the file across opens, removed with NULL,
 * names and sizes checked, refused on a read-only store, no revision. */
Test(store, application_settings) {
  fs_backend be = sqlite_at("settings.db");
  fs_application_settings(&be);
}

Test(store, lease) {
  const char *p = path_of("lease.db");
  fo_store *a, *b;
  FT_OK(fo_store_sqlite_open(&a, p, FO_STORE_CREATE));
  FT_OK(fo_store_sqlite_open(&b, p, 0));
  fo_store_lease l;
  FT_OK(fo_store_lease_read(a, &l));
  cr_assert_str_eq(l.holder, "");
  FT_OK(fo_store_lease_acquire(a, "agent-a", 60000, &l));
  cr_assert_str_eq(l.holder, "agent-a");
  uint64_t epoch = l.epoch;
  FT_RC(fo_store_lease_acquire(b, "agent-b", 60000, &l), FO_ELOCKED);
  cr_assert_str_eq(l.holder, "agent-a", "the refusal names the holder");
  FT_OK(fo_store_lease_acquire(a, "agent-a", 60000, &l)); /* renew */
  cr_assert_eq(l.epoch, epoch, "a renewal changed the epoch");
  FT_OK(fo_store_lease_release(b, "agent-b")); /* not the holder: no-op */
  FT_RC(fo_store_lease_acquire(b, "agent-b", 60000, &l), FO_ELOCKED);
  FT_OK(fo_store_lease_release(a, "agent-a"));
  FT_OK(fo_store_lease_acquire(b, "agent-b", 50, &l));
  cr_assert_eq(l.epoch, epoch + 1);
  usleep(120 * 1000); /* b's lease runs out */
  FT_OK(fo_store_lease_acquire(a, "agent-a", 60000, &l));
  cr_assert_eq(l.epoch, epoch + 2);
  FT_RC(fo_store_lease_acquire(a, "", 100, NULL), FO_EINVAL);
  FT_RC(fo_store_lease_acquire(a, "has space", 100, NULL), FO_EINVAL);
  FT_RC(fo_store_lease_acquire(a, "x", 0, NULL), FO_EINVAL);
  fo_store_close(a);
  fo_store_close(b);
}

/* ---- two processes on one file ------------------------------------------ */

#define PER_PROCESS 10000

static void child_creates(const char *p, int seed, int ready_fd, int go_fd,
                          const char *dump) {
  ft_rng rng;
  ft_rng_init(&rng, (uint64_t)seed);
  fo_store *st = NULL;
  fo_registry *reg = NULL;
  fo_registry_options o = ft_options(&rng, NULL);
  if (fo_store_sqlite_open(&st, p, FO_STORE_SYNC_NORMAL) != 0 ||
      fo_registry_open(&reg, &o, st) != 0)
    _exit(10);
  int stale = 0;
  int rc = fs_create_groups(reg, PER_PROCESS, 0, &stale);
  if (rc != 0)
    _exit(10 + rc); /* 11: a refresh failed, 12: another error */
  char c = 1;
  if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1)
    _exit(13);
  if (fo_registry_refresh(reg) != 0)
    _exit(14);
  char *text = ft_snapshot_stable(reg);
  FILE *f = fopen(dump, "w");
  fputs(text, f);
  fclose(f);
  free(text);
  fo_registry_free(reg);
  fo_store_close(st);
  ft_rng_free(&rng);
  _exit(stale > 0 ? 0 : 15); /* 15: the processes never overlapped */
}

Test(store, two_processes_create_concurrently, .timeout = 240) {
  const char *p = path_of("many.db");
  {
    fo_store *st;
    fo_registry *reg = open_reg(p, FO_STORE_CREATE, &st, NULL);
    fs_close_reg(reg, st);
  }
  int ready[2], go[2];
  cr_assert_eq(pipe(ready), 0);
  cr_assert_eq(pipe(go), 0);
  char dumps[2][512];
  pid_t pids[2];
  for (int i = 0; i < 2; i++) {
    snprintf(dumps[i], sizeof dumps[i], "%s/dump%d.txt", dir, i);
    pids[i] = fork();
    cr_assert_neq(pids[i], -1);
    if (pids[i] == 0)
      child_creates(p, 100 + i, ready[1], go[0], dumps[i]);
  }
  char c;
  for (int i = 0; i < 2; i++)
    cr_assert_eq(read(ready[0], &c, 1), 1, "a child died");
  cr_assert_eq(write(go[1], "gg", 2), 2);
  int stale_free = 0;
  for (int i = 0; i < 2; i++) {
    int status = 0;
    waitpid(pids[i], &status, 0);
    cr_assert(WIFEXITED(status), "child %d crashed", i);
    if (WEXITSTATUS(status) == 15)
      stale_free++;
    else
      cr_assert_eq(WEXITSTATUS(status), 0, "child %d exit %d", i,
                   WEXITSTATUS(status));
  }
  if (stale_free)
    cr_log_warn("a process never met a stale write: no overlap this run");

  fo_store *st;
  fo_registry *reg = open_reg(p, FO_STORE_READONLY, &st, NULL);
  size_t n = 0;
  FT_OK(fo_registry_group_count(reg, &n));
  cr_assert_eq(n, 2 * PER_PROCESS);
  ft_strset seen = {0};
  for (fo_group *g = fo_registry_next_group(reg, NULL); g;
       g = fo_registry_next_group(reg, g)) {
    char a[FO_NAME_BUFSIZE];
    cr_assert(ft_strset_add(&seen, ft_address(g, a)), "%s drawn twice", a);
  }
  ft_strset_free(&seen);
  char *fresh = ft_snapshot_stable(reg);
  for (int i = 0; i < 2; i++) {
    size_t len;
    char *text = slurp(dumps[i], &len);
    cr_assert(strcmp(text, fresh) == 0,
              "process %d's registry differs from a fresh open", i);
    free(text);
  }
  free(fresh);
  fs_close_reg(reg, st);
}

/* ---- allocation failures on a durable registry -------------------------- */

/* One scripted sequence of every kind of call; returns the first failing
 * code, with `*done` the number of calls that succeeded. */
static int script(fo_registry *reg, int *done) {
  fo_stack *a = NULL, *b = NULL;
  fo_group *g = NULL, *h = NULL;
  int rc;
#define STEP(call)                                                             \
  do {                                                                         \
    if ((rc = (call)) != 0)                                                    \
      return rc;                                                               \
    ++*done;                                                                   \
  } while (0)
  STEP(fo_stack_new(&a, reg, "alpha"));
  STEP(fo_stack_new(&b, reg, "beta"));
  STEP(fo_stack_add_server(a, FO_SERVER_WEB, "web1", NULL));
  STEP(fo_stack_add_server(b, FO_SERVER_WEB, "web1", "www.example.org"));
  STEP(fo_group_create(&g, reg, a, b));
  STEP(fo_group_create(&h, reg, NULL, NULL));
  STEP(fo_registry_batch_begin(reg));
  STEP(fo_group_switch(g, FO_SLOT_BACKUP, 0));
  STEP(fo_stack_add_server(a, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  STEP(fo_registry_batch_commit(reg));
  STEP(fo_group_settle(g));
  STEP(fo_stack_rename(a, "gamma"));
  STEP(fo_stack_rename_server(b, "web1", "web2"));
  STEP(fo_stack_set_server_addresses(a, "lb1", "192.0.2.1", NULL));
  STEP(fo_group_set_ttl(g, 30));
  STEP(fo_group_delete(h));
#undef STEP
  return 0;
}

Test(store, allocation_failures_change_nothing_or_poison) {
  int poisoned = 0, clean = 0;
  for (size_t n = 1;; n++) {
    const char *p = path_of("alloc.db");
    unlink(p);
    ft_alloc al;
    ft_alloc_init(&al);
    fo_registry_options o = ft_options(NULL, &al);
    fo_store *st;
    fo_registry *reg = NULL;
    FT_OK(fo_store_sqlite_open(&st, p, FO_STORE_CREATE));
    al.fail_at = n;
    int rc = fo_registry_open(&reg, &o, st);
    if (rc != 0) {
      FT_RC(rc, FO_ENOMEM);
      fo_store_close(st);
      cr_assert_eq(al.live, 0, "open failure leaked %zu blocks", al.live);
      continue;
    }
    int done = 0;
    char *before = NULL;
    rc = script(reg, &done);
    if (rc == 0 && al.failures == 0) {
      fs_close_reg(reg, st);
      cr_log_info("allocation failures: %zu points, %d clean, %d poisoned",
                  n - 1, clean, poisoned);
      break;
    }
    cr_assert(rc == FO_ENOMEM || rc == 0, "step %d: %s", done,
              fo_err_name(rc));
    al.fail_at = 0;
    char *mem = ft_snapshot_stable(reg);
    int was_poisoned = fo_registry_poisoned(reg);
    if (was_poisoned) {
      poisoned++;
      fo_group *x = NULL;
      FT_RC(fo_group_create(&x, reg, NULL, NULL), FO_EPOISONED);
    } else {
      clean++;
    }
    /* A batch the failure interrupted is still open: close it. */
    while (fo_registry_batch_commit(reg) == 0)
      ;
    if (!was_poisoned) {
      free(mem);
      mem = ft_snapshot_stable(reg);
    }
    fs_close_reg(reg, st);
    cr_assert_eq(al.live, 0, "fail_at %zu leaked %zu blocks", n, al.live);
    fo_store *st2;
    fo_registry *again = open_reg(p, 0, &st2, NULL);
    char *disk = ft_snapshot_stable(again);
    if (!was_poisoned)
      cr_assert_str_eq(disk, mem, "fail_at %zu: memory and disk differ", n);
    char *bad = ft_invariant_violation(again);
    cr_assert_null(bad, "%s", bad ? bad : "");
    free(disk);
    free(mem);
    free(before);
    fs_close_reg(again, st2);
    cr_assert_lt(n, 100000);
  }
}

/* ---- state, not derived data -------------------------------------------- */

static int64_t sql_int(const char *path, const char *query) {
  sqlite3 *db;
  sqlite3_stmt *st;
  int64_t v = -1;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
               SQLITE_OK);
  cr_assert_eq(sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

Test(store, a_new_load_balancer_writes_one_stack_not_every_group) {
  const char *p = path_of("fanout.db");
  fo_store *st;
  fo_registry *reg = open_reg(p, FO_STORE_CREATE, &st, NULL);
  fo_stack *shop = ft_stack(reg, "shop", 1, 0);
  FT_OK(fo_registry_batch_begin(reg));
  for (int i = 0; i < 2000; i++)
    ft_group(reg, shop, NULL);
  FT_OK(fo_registry_batch_commit(reg));
  ft_events ev = {0};
  FT_OK(fo_registry_subscribe(reg, ft_events_cb, &ev, NULL));
  FT_OK(fo_stack_add_server(shop, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  cr_assert_eq(ev.n, 2000, "every group follows the new web head");
  /* The commit is the stack row (with its two servers) and the counters:
   * a few dozen bytes, not 2000 group rows. */
  int64_t entry = sql_int(p, "SELECT length(entry) FROM log"
                             " ORDER BY revision DESC LIMIT 1");
  cr_assert(entry > 0 && entry < 100, "the commit logged %lld bytes",
            (long long)entry);
  ft_events_free(&ev);
  fs_close_reg(reg, st);
  /* and the reopened registry derives the new targets */
  reg = open_reg(p, 0, &st, NULL);
  fo_group *g = fo_registry_next_group(reg, NULL);
  fo_target t = FO_TARGET_INIT;
  FT_OK(fo_group_target(g, &t));
  cr_assert_str_eq(t.host_name, "lb1.shop." FT_ZONE);
  fs_close_reg(reg, st);
}

Test(store, refresh_follows_names_passed_between_stacks_in_a_batch) {
  const char *p = path_of("names.db");
  fo_store *sa, *sb;
  fo_registry *a = open_reg(p, FO_STORE_CREATE, &sa, NULL);
  fo_registry *b = open_reg(p, 0, &sb, NULL);
  fo_stack *x = ft_stack(a, "x", 1, 0), *y = ft_stack(a, "y", 1, 0);
  fo_stack *z = ft_stack(a, "z", 1, 0);
  ft_group(a, x, y);
  FT_OK(fo_registry_refresh(b));
  /* one batch: swap x and y (through a third name), remove z and make a
   * new stack called z */
  FT_OK(fo_registry_batch_begin(a));
  FT_OK(fo_stack_rename(x, "tmp"));
  FT_OK(fo_stack_rename(y, "x"));
  FT_OK(fo_stack_rename(x, "y"));
  FT_OK(fo_stack_remove(z));
  ft_stack(a, "z", 0, 1);
  FT_OK(fo_registry_batch_commit(a));
  FT_OK(fo_registry_refresh(b));
  cr_assert_eq(fo_registry_poisoned(b), 0);
  char *ta = ft_snapshot_stable(a), *tb = ft_snapshot_stable(b);
  cr_assert_str_eq(tb, ta);
  free(ta);
  free(tb);
  fs_close_reg(a, sa);
  fs_close_reg(b, sb);
}
