/*
 * test_store_etcd.c - durable registries on the etcd backend, against a real
 * etcd on loopback (tests/support/etcd_fixture.c): urls and flags, empty
 * and unreachable stores, reopen equals what was written (tombstones
 * too), stale writes and refresh, a large batch as one revision, the write
 * lock (waiting, FO_ELOCKED, a dead holder freed by its lease), the
 * publisher lease, application settings, a dead first endpoint, and a
 * three-member cluster that loses a member.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <valgrind/valgrind.h>

#include "dns_fixture.h"
#include "etcd_fixture.h"
#include "store_faults_util.h"
#include "store_scenarios.h"
#include "support.h"

static int slow(void) { return RUNNING_ON_VALGRIND || ft_under_valgrind(); }

/* ---- fixture: one etcd member per test ------------------------------------
 */

static ft_etcd etcd;

static void start_one(void) {
  cr_assert_eq(ft_etcd_start(&etcd, 1), 0, "etcd: %s", etcd.error);
}

static void stop_all(void) { ft_etcd_stop(&etcd); }

/* No Criterion timeouts here: ctest's TIMEOUT bounds the executable, and
 * Criterion's runner leaks a timeout record (48 bytes, reported by
 * LeakSanitizer) when several tests with timeouts run at once. */
TestSuite(store_etcd, .init = start_one, .fini = stop_all);

/* The url of `prefix` on the running cluster (a few live at once). */
static const char *url_of(const char *prefix) {
  static char u[4][1024];
  static int next;
  char *out = u[next++ % 4];
  ft_etcd_url(&etcd, prefix, out, sizeof u[0]);
  return out;
}

/* Stores on the prefix in url (also for the shared scenarios,
 * support/store_scenarios.c). */
static int etcd_open(fo_store **st, unsigned flags, const void *url) {
  return fo_store_etcd_open(st, url, flags);
}

static fo_registry *open_reg(const char *url, unsigned flags, fo_store **st) {
  fs_backend be = {etcd_open, url};
  return fs_open_reg(&be, flags, st);
}

/* A little of everything (support.c; also what test_store.c writes). */
static void populate(fo_registry *reg) { ft_populate(reg, ""); }

/* etcdctl against the cluster (to break things on purpose). */
static void etcdctl(const char *args) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:%d %s"
           " >/dev/null 2>&1",
           etcd.m[0].client_port, args);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* ---- opening
 * ------------------------------------------------------------------ */

Test(store_etcd, bad_urls_and_flags) {
  char long_prefix[300];
  memset(long_prefix, 'a', sizeof long_prefix);
  snprintf(long_prefix, sizeof long_prefix, "etcd://127.0.0.1:2379/%0201d", 7);
  const char *bad[] = {"",
                       "etcd://",
                       "etcd:///x",
                       "etcd://127.0.0.1/x",
                       "etcd://127.0.0.1:/x",
                       "etcd://127.0.0.1:0/x",
                       "etcd://127.0.0.1:65536/x",
                       "etcd://127.0.0.1:123456/x",
                       "etcd://127.0.0.1:2379",
                       "etcd://127.0.0.1:2379/",
                       "etcd://127.0.0.1:2379//x",
                       "etcd://127.0.0.1:2379/x/",
                       "etcd://127.0.0.1:2379/a//b",
                       "etcd://127.0.0.1:2379/a b",
                       "etcd://127.0.0.1:2379/a?b",
                       "http://127.0.0.1:2379/x",
                       "etcd://[::1/x",
                       "etcd://[]:2379/x",
                       "etcd://[::1]/x",
                       "etcd://127.0.0.1:2379,/x",
                       "etcd://,127.0.0.1:2379/x",
                       "etcd://127.0.0.1:2379,,127.0.0.1:2380/x",
                       "etcd://a_b:x/y",
                       "etcd://host name:1/x",
                       "etcd://user@host:1/x",
                       long_prefix};
  fo_store *st = (fo_store *)1;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    FT_RC(fo_store_etcd_open(&st, bad[i], FO_STORE_CREATE), FO_EINVAL);
    cr_assert_null(st, "%s", bad[i]);
    st = (fo_store *)1;
  }
  const char *url = url_of("flags");
  FT_RC(fo_store_etcd_open(NULL, url, 0), FO_EINVAL);
  FT_RC(fo_store_etcd_open(&st, NULL, 0), FO_EINVAL);
  FT_RC(fo_store_etcd_open(&st, url, 8), FO_EINVAL);
  FT_RC(fo_store_etcd_open(&st, url, FO_STORE_SYNC_NORMAL), FO_EINVAL);
  FT_RC(fo_store_etcd_open(&st, url, FO_STORE_CREATE | FO_STORE_READONLY),
        FO_EINVAL);
  /* a prefix of exactly 200 characters, names and IPv6 literals parse */
  char ok[400];
  snprintf(ok, sizeof ok, "etcd://localhost:%d,[::1]:%d/%0200d",
           etcd.m[0].client_port, etcd.m[0].client_port, 5);
  FT_OK(fo_store_etcd_open(&st, ok, FO_STORE_CREATE));
  fo_store_close(st);
  /* fo_store_open() picks this backend by the scheme */
  FT_OK(fo_store_open(&st, url, FO_STORE_CREATE));
  fo_store_close(st);
}

Test(store_etcd, empty_prefix_without_create) {
  const char *url = url_of("empty/one");
  fo_store *st = NULL;
  FT_RC(fo_store_etcd_open(&st, url, 0), FO_ENOSTORE);
  cr_assert_null(st);
  FT_RC(fo_store_etcd_open(&st, url, FO_STORE_READONLY), FO_ENOSTORE);
  /* created: the revision key alone; opens without CREATE from now on */
  FT_OK(fo_store_etcd_open(&st, url, FO_STORE_CREATE));
  uint64_t rev = 99;
  FT_OK(fo_store_revision(st, &rev));
  cr_assert_eq(rev, 0);
  fo_store_close(st);
  FT_OK(fo_store_etcd_open(&st, url, FO_STORE_READONLY));
  fo_registry_options o = ft_options(NULL, NULL);
  fo_registry *reg = NULL;
  FT_RC(fo_registry_open(&reg, &o, st), FO_ENOSTORE); /* read-only, empty */
  fo_store_close(st);
  /* keys under the prefix that are not a store */
  etcdctl("put /empty/two/stray x");
  FT_RC(fo_store_etcd_open(&st, url_of("empty/two"), FO_STORE_CREATE),
        FO_ECORRUPT);
  /* a sibling prefix is another store */
  FT_RC(fo_store_etcd_open(&st, url_of("empty/on"), 0), FO_ENOSTORE);
}

Test(store_etcd, unreachable_endpoints) {
  char url[256];
  int dead = ft_dns_unused_port(), dead2 = ft_dns_unused_port();
  fo_store *st = (fo_store *)1;
  snprintf(url, sizeof url, "etcd://127.0.0.1:%d/x", dead);
  double t0 = ft_now();
  FT_RC(fo_store_etcd_open(&st, url, FO_STORE_CREATE), FO_ESTOREIO);
  cr_assert_null(st);
  snprintf(url, sizeof url, "etcd://127.0.0.1:%d,127.0.0.1:%d/x", dead, dead2);
  FT_RC(fo_store_etcd_open(&st, url, 0), FO_ESTOREIO);
  double took = ft_now() - t0;
  cr_assert_lt(took, 1.0, "refused connections took %.2f s", took);
  /* an endpoint that takes the connection and never answers: bounded by
   * the 2 s per request */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  socklen_t alen = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(listen(fd, 8), 0);
  cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
  snprintf(url, sizeof url, "etcd://127.0.0.1:%d/x", ntohs(a.sin_port));
  t0 = ft_now();
  FT_RC(fo_store_etcd_open(&st, url, FO_STORE_CREATE), FO_ESTOREIO);
  took = ft_now() - t0;
  cr_assert(took >= 1.9 && took < 3.5, "a silent endpoint took %.2f s", took);
  close(fd);
}

/* ---- state -----------------------------------------------------------------
 */

Test(store_etcd, reopen_equals_what_was_written) {
  fs_backend be = {etcd_open, url_of("reopen")};
  fs_reopen_equals_what_was_written(&be, 2);
}

Test(store_etcd, deleted_address_never_drawn_again) {
  fs_backend be = {etcd_open, url_of("tomb")};
  fs_deleted_address_never_drawn_again(&be, 11, 2);
}

/* ---- two registries -------------------------------------------------------
 */

Test(store_etcd, stale_write_changes_nothing_and_refresh_catches_up) {
  fs_backend be = {etcd_open, url_of("two")};
  fs_two t;
  fs_stale_write_changes_nothing_and_refresh_catches_up(&be, &t);
  fo_registry *a = t.a, *b = t.b;

  /* every kind of change, some in a batch, followed */
  ft_populate(a, "2");
  FT_OK(fo_registry_batch_begin(a));
  fo_stack *tmp = ft_stack(a, "tmp", 0, 0);
  FT_OK(fo_stack_remove(tmp));
  for (fo_group *g = fo_registry_next_group(a, NULL); g;
       g = fo_registry_next_group(a, g))
    if (ft_state(g) == FO_GROUP_SWITCHING)
      FT_OK(fo_group_settle(g));
  FT_OK(fo_registry_batch_commit(a));
  FT_OK(fo_registry_refresh(b));
  fs_assert_same(a, b, "after populate");
  fs_two_close(&t);
}

/* The log pruned past a registry: FO_ECOMPACTED (by hand here: 100,000
 * commits would take too long). A damaged row is refused at load. */
Test(store_etcd, compacted_log_and_damaged_rows) {
  const char *url = url_of("compact");
  fo_store *sa, *sb;
  fo_registry *a = open_reg(url, FO_STORE_CREATE, &sa);
  fo_registry *b = open_reg(url, 0, &sb);
  ft_group(a, NULL, NULL);
  ft_group(a, NULL, NULL);
  etcdctl("del /compact/log/00000000000000000002");
  FT_RC(fo_registry_refresh(b), FO_ECOMPACTED);
  cr_assert(!fo_registry_poisoned(b));
  fs_close_reg(b, sb);
  b = open_reg(url, 0, &sb); /* a reopen has everything */
  fs_assert_same(a, b, "reopened after compaction");
  fs_close_reg(b, sb);
  fs_close_reg(a, sa);

  etcdctl("put /compact/group/0000000000 garbage");
  fo_store *st;
  fo_registry *reg = NULL;
  fo_registry_options o = ft_options(NULL, NULL);
  FT_OK(fo_store_etcd_open(&st, url, 0));
  FT_RC(fo_registry_open(&reg, &o, st), FO_ECORRUPT);
  cr_assert_null(reg);
  fo_store_close(st);
}

Test(store_etcd, batch_is_one_revision) {
  int n = (int)ft_env_count("FT_ETCD_BATCH", slow() ? 300 : 2000);
  const char *url = url_of("batch");
  fo_store *sa, *sb;
  fo_registry *a = open_reg(url, FO_STORE_CREATE, &sa);
  fo_registry *b = open_reg(url, 0, &sb);
  fo_stack *s1 = ft_stack(a, "one", 1, 0), *s2 = ft_stack(a, "two", 1, 0);
  uint64_t r0, r1;
  FT_OK(fo_registry_refresh(b));
  ft_events ev = {0};
  FT_OK(fo_registry_subscribe(b, ft_events_cb, &ev, NULL));
  FT_OK(fo_registry_revision(a, &r0));
  double t0 = ft_now();
  FT_OK(fo_registry_batch_begin(a));
  for (int i = 0; i < n; i++)
    ft_group(a, s1, s2);
  double t1 = ft_now();
  FT_OK(fo_registry_batch_commit(a));
  double t2 = ft_now();
  FT_OK(fo_registry_revision(a, &r1));
  cr_assert_eq(r1, r0 + 1);
  FT_OK(fo_store_revision(sb, &r1));
  cr_assert_eq(r1, r0 + 1);
  double t3 = ft_now();
  FT_OK(fo_registry_refresh(b));
  double t4 = ft_now();
  cr_assert_eq(ev.n, (size_t)n, "refresh fired %zu events", ev.n);
  fs_assert_same(a, b, "after the batch");
  /* single-group commits, for the record */
  double t5 = ft_now();
  for (int i = 0; i < 20; i++)
    ft_group(a, s1, NULL);
  double t6 = ft_now();
  fo_store *sc;
  double t7 = ft_now();
  fo_registry *c = open_reg(url, FO_STORE_READONLY, &sc);
  double t8 = ft_now();
  fs_assert_same(a, c, "a fresh open");
  fprintf(stderr,
          "store_etcd: %d groups: batch build %.1f ms, commit %.1f ms, "
          "refresh %.1f ms; single-group commit %.2f ms; open of %d groups "
          "%.1f ms\n",
          n, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (t4 - t3) * 1e3,
          (t6 - t5) * 1e3 / 20, n + 20, (t8 - t7) * 1e3);
  ft_events_free(&ev);
  fs_close_reg(c, sc);
  fs_close_reg(a, sa);
  fs_close_reg(b, sb);
}

/* Two processes write at once, each refreshing on FO_ESTALE: every
 * commit lands exactly once and both end with the same state. */
static void child_writes(const char *url, int n, int seed, int ready_fd,
                         int go_fd) {
  ft_rng rng;
  ft_rng_init(&rng, (uint64_t)seed);
  fo_store *st = NULL;
  fo_registry *reg = NULL;
  fo_registry_options o = ft_options(&rng, NULL);
  char c = 0;
  if (fo_store_etcd_open(&st, url, 0) != 0 ||
      fo_registry_open(&reg, &o, st) != 0)
    _exit(10);
  if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1)
    _exit(11);
  int stale = 0; /* (FO_ELOCKED: the other kept the lock 2 s) */
  int rc = fs_create_groups(reg, n, 1, &stale);
  if (rc != 0)
    _exit(11 + rc); /* 12: a refresh failed, 13: another error */
  fo_registry_free(reg);
  fo_store_close(st);
  ft_rng_free(&rng);
  _exit(stale > 0 ? 0 : 20); /* 20: it never saw the other's commits */
}

Test(store_etcd, two_processes_write_at_once) {
  int n = slow() ? 40 : 200;
  const char *url = url_of("many");
  fo_store *st;
  fo_registry *reg = open_reg(url, FO_STORE_CREATE, &st);
  fs_close_reg(reg, st);
  int ready[2], go[2];
  cr_assert_eq(pipe(ready), 0);
  cr_assert_eq(pipe(go), 0);
  pid_t pid[2];
  for (int i = 0; i < 2; i++) {
    pid[i] = fork();
    cr_assert_geq(pid[i], 0);
    if (pid[i] == 0)
      child_writes(url, n, 100 + i, ready[1], go[0]);
  }
  char c[2];
  cr_assert_eq(read(ready[0], c, 1), 1);
  cr_assert_eq(read(ready[0], c, 1), 1);
  cr_assert_eq(write(go[1], "gg", 2), 2);
  int overlapped = 0;
  for (int i = 0; i < 2; i++) {
    int status = 0;
    cr_assert_eq(waitpid(pid[i], &status, 0), pid[i]);
    cr_assert(WIFEXITED(status) &&
                  (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 20),
              "child %d: status %d", i, status);
    overlapped += WEXITSTATUS(status) == 0;
  }
  /* (The one that commits keeps winning the lock while the other backs
   * off, so only one of them may have seen the other's commits.) */
  cr_assert_gt(overlapped, 0, "the two never wrote at the same time");
  close(ready[0]);
  close(ready[1]);
  close(go[0]);
  close(go[1]);
  reg = open_reg(url, FO_STORE_READONLY, &st);
  size_t live = 0;
  for (fo_group *g = fo_registry_next_group(reg, NULL); g;
       g = fo_registry_next_group(reg, g))
    live++;
  cr_assert_eq(live, (size_t)(2 * n));
  uint64_t rev = 0;
  FT_OK(fo_registry_revision(reg, &rev));
  cr_assert_eq(rev, (uint64_t)(2 * n + 1)); /* + the creating commit */
  char *bad = ft_invariant_violation(reg);
  cr_assert_null(bad, "%s", bad ? bad : "");
  fs_close_reg(reg, st);
}

/* ---- the write lock ---------------------------------------------------------
 */

typedef struct later {
  fo_registry *reg;
  int delay_ms;
  int rc;
} later;

static void *commit_later(void *arg) {
  later *l = arg;
  usleep((useconds_t)l->delay_ms * 1000);
  l->rc = fo_registry_batch_commit(l->reg);
  return NULL;
}

Test(store_etcd, lock_waits_then_elocked_or_succeeds) {
  const char *url = url_of("lock");
  fo_store *sa, *sb;
  fo_registry *a = open_reg(url, FO_STORE_CREATE, &sa);
  fo_registry *b = open_reg(url, 0, &sb);
  /* a holds the lock for a whole batch: b waits its bound, then gives up */
  FT_OK(fo_registry_batch_begin(a));
  char *before = ft_snapshot_stable(b);
  fo_group *g = NULL;
  double t0 = ft_now();
  FT_RC(fo_group_create(&g, b, NULL, NULL), FO_ELOCKED);
  double waited = ft_now() - t0;
  cr_assert(waited >= 1.9 && waited < 4.0, "waited %.2f s", waited);
  FS_SAME_STATE(before, b, "a locked-out create");
  free(before);
  cr_assert(!fo_registry_poisoned(b));
  /* a's batch ends without a change (a rollback) while b waits: b goes on */
  pthread_t th;
  later l = {a, 300, -1};
  cr_assert_eq(pthread_create(&th, NULL, commit_later, &l), 0);
  t0 = ft_now();
  FT_OK(fo_group_create(&g, b, NULL, NULL));
  waited = ft_now() - t0;
  pthread_join(th, NULL);
  FT_OK(l.rc);
  cr_assert(waited >= 0.25 && waited < 3.0, "waited %.2f s", waited);
  /* a's next write is stale, then fine after refresh */
  FT_RC(fo_group_create(&g, a, NULL, NULL), FO_ESTALE);
  FT_OK(fo_registry_refresh(a));
  FT_OK(fo_group_create(&g, a, NULL, NULL));
  FT_OK(fo_registry_refresh(b));
  fs_assert_same(a, b, "after the lock");

  /* a writer whose lock is gone at commit (its lease ran out while it was
   * paused; here the key is deleted by hand) writes nothing: FO_ESTALE,
   * and its registry is poisoned */
  uint64_t r0 = 0, r1 = 0;
  FT_OK(fo_store_revision(sb, &r0));
  FT_OK(fo_registry_batch_begin(a));
  ft_group(a, NULL, NULL);
  etcdctl("del /lock/lock");
  FT_RC(fo_registry_batch_commit(a), FO_ESTALE);
  cr_assert(fo_registry_poisoned(a));
  FT_OK(fo_store_revision(sb, &r1));
  cr_assert_eq(r1, r0, "a commit without its lock wrote");
  FT_OK(fo_registry_refresh(b));
  FT_OK(fo_group_create(&g, b, NULL, NULL)); /* and nothing is left locked */
  fs_close_reg(a, sa);
  fs_close_reg(b, sb);
}

Test(store_etcd, lock_of_a_dead_holder_is_freed_by_its_lease) {
  const char *url = url_of("dead");
  fo_store *sb;
  fo_registry *b = open_reg(url, FO_STORE_CREATE, &sb);
  int ready[2];
  cr_assert_eq(pipe(ready), 0);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    /* takes the lock and dies holding it */
    fo_store *st = NULL;
    fo_registry *reg = NULL;
    fo_registry_options o = ft_options(NULL, NULL);
    char c = 1;
    if (fo_store_etcd_open(&st, url, 0) != 0 ||
        fo_registry_open(&reg, &o, st) != 0 ||
        fo_registry_batch_begin(reg) != 0)
      c = 0;
    if (write(ready[1], &c, 1) != 1)
      _exit(2);
    pause();
    _exit(0);
  }
  char c = 0;
  cr_assert_eq(read(ready[0], &c, 1), 1);
  cr_assert_eq(c, 1, "the child could not take the lock");
  double t0 = ft_now();
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  close(ready[0]);
  close(ready[1]);
  fo_group *g = NULL;
  int rc;
  while ((rc = fo_group_create(&g, b, NULL, NULL)) == FO_ELOCKED)
    cr_assert_lt(ft_now() - t0, 20.0, "the lock was never freed");
  FT_OK(rc);
  double freed = ft_now() - t0;
  cr_assert(freed > 1.5 && freed < 6.0, "freed after %.2f s", freed);
  fs_close_reg(b, sb);
}

/* ---- the publisher lease
 * ------------------------------------------------------ */

Test(store_etcd, publisher_lease) {
  const char *url = url_of("lease");
  fo_store *a, *b, *ro;
  FT_OK(fo_store_etcd_open(&a, url, FO_STORE_CREATE));
  FT_OK(fo_store_etcd_open(&b, url, 0));
  FT_OK(fo_store_etcd_open(&ro, url, FO_STORE_READONLY));
  fo_store_lease l;
  FT_OK(fo_store_lease_read(a, &l));
  cr_assert_str_eq(l.holder, "");
  cr_assert_eq(l.epoch, 0);
  FT_RC(fo_store_lease_acquire(ro, "ro", 5000, &l), FO_EREADONLY);
  FT_RC(fo_store_lease_release(ro, "ro"), FO_EREADONLY);

  int64_t t0 = (int64_t)time(NULL) * 1000;
  FT_OK(fo_store_lease_acquire(a, "agent-a", 60000, &l));
  cr_assert_str_eq(l.holder, "agent-a");
  cr_assert_eq(l.epoch, 1);
  cr_assert(l.expires_ms >= t0 + 59000 && l.expires_ms <= t0 + 62000);
  FT_RC(fo_store_lease_acquire(b, "agent-b", 60000, &l), FO_ELOCKED);
  cr_assert_str_eq(l.holder, "agent-a", "the refusal names the holder");
  cr_assert_eq(l.epoch, 1);
  FT_OK(fo_store_lease_acquire(a, "agent-a", 60000, &l)); /* renew */
  cr_assert_eq(l.epoch, 1, "a renewal changed the epoch");
  FT_OK(fo_store_lease_acquire(a, "agent-a", 30000, &l)); /* a new ttl */
  cr_assert_eq(l.epoch, 1, "a new ttl changed the epoch");
  FT_OK(fo_store_lease_read(ro, &l));
  cr_assert_str_eq(l.holder, "agent-a");
  cr_assert(l.expires_ms <= t0 + 32000);
  FT_OK(fo_store_lease_release(b, "agent-b")); /* not the holder: no-op */
  FT_RC(fo_store_lease_acquire(b, "agent-b", 60000, &l), FO_ELOCKED);
  FT_OK(fo_store_lease_release(a, "agent-a"));
  FT_OK(fo_store_lease_read(b, &l));
  cr_assert_str_eq(l.holder, "agent-a", "the last holder is remembered");
  cr_assert_eq(l.expires_ms, 0);

  /* b takes it with a short ttl (2 s at least) and stops renewing */
  FT_OK(fo_store_lease_acquire(b, "agent-b", 100, &l));
  cr_assert_eq(l.epoch, 2);
  int64_t b_expires = l.expires_ms;
  cr_assert(b_expires - (int64_t)time(NULL) * 1000 <= 3000);
  FT_RC(fo_store_lease_acquire(a, "agent-a", 60000, &l), FO_ELOCKED);
  cr_assert_str_eq(l.holder, "agent-b");
  cr_assert_eq(l.expires_ms, b_expires, "the waiter learns the expiry");
  double w0 = ft_now();
  int rc;
  while ((rc = fo_store_lease_acquire(a, "agent-a", 60000, &l)) == FO_ELOCKED) {
    cr_assert_lt(ft_now() - w0, 10.0, "b's lease never ran out");
    usleep(50 * 1000);
  }
  FT_OK(rc);
  double took = ft_now() - w0;
  cr_assert(took > 1.0 && took < 5.0, "b's 2 s lease ran out after %.2f s",
            took);
  cr_assert_eq(l.epoch, 3);
  cr_assert_str_eq(l.holder, "agent-a");

  /* a's own lease running out: taking it again is a new epoch */
  FT_OK(fo_store_lease_acquire(a, "agent-a", 2000, &l));
  cr_assert_eq(l.epoch, 3);
  w0 = ft_now();
  for (;;) {
    fo_store_lease r;
    FT_OK(fo_store_lease_read(b, &r));
    if (r.expires_ms == 0)
      break; /* etcd deleted the key */
    cr_assert_lt(ft_now() - w0, 10.0);
    usleep(100 * 1000);
  }
  FT_OK(fo_store_lease_acquire(a, "agent-a", 2000, &l));
  cr_assert_eq(l.epoch, 4);
  FT_RC(fo_store_lease_acquire(a, "", 100, NULL), FO_EINVAL);
  FT_RC(fo_store_lease_acquire(a, "has space", 100, NULL), FO_EINVAL);
  fo_store_close(a);
  fo_store_close(b);
  fo_store_close(ro);
}

/* ---- application settings
 * ------------------------------------------------------ */

Test(store_etcd, application_settings) {
  fs_backend be = {etcd_open, url_of("settings")};
  fs_application_settings(&be);
}

/* ---- endpoints
 * ------------------------------------------------------------------ */

Test(store_etcd, dead_first_endpoint) {
  char url[256];
  snprintf(url, sizeof url, "etcd://127.0.0.1:%d,127.0.0.1:%d/deadfirst",
           ft_dns_unused_port(), etcd.m[0].client_port);
  double t0 = ft_now();
  fo_store *st;
  fo_registry *reg = open_reg(url, FO_STORE_CREATE, &st);
  populate(reg);
  char *before = ft_snapshot_stable(reg);
  fs_close_reg(reg, st);
  reg = open_reg(url, 0, &st);
  FS_SAME_STATE(before, reg, "a reopen through the second endpoint");
  free(before);
  fs_close_reg(reg, st);
  double took = ft_now() - t0;
  cr_assert_lt(took, slow() ? 30.0 : 5.0, "took %.2f s", took);
}

/* A cluster of three: a member (the one answering) dies, the store goes
 * on through the others; it comes back and catches up. */
Test(store_etcd_cluster, three_members_lose_one) {
  ft_etcd c;
  cr_assert_eq(ft_etcd_start(&c, 3), 0, "etcd: %s", c.error);
  char url[1024];
  ft_etcd_url(&c, "ha", url, sizeof url);
  fo_store *sa, *sb;
  fo_registry *a = open_reg(url, FO_STORE_CREATE, &sa);
  fo_registry *b = open_reg(url, 0, &sb);
  populate(a);
  fo_store_lease l;
  FT_OK(fo_store_lease_acquire(sa, "agent-a", 10000, &l));

  cr_assert_eq(ft_etcd_kill(&c, 0), 0, "%s", c.error);
  double t0 = ft_now();
  for (int i = 0; i < 10; i++)
    ft_group(a, NULL, NULL);
  FT_OK(fo_store_lease_acquire(sa, "agent-a", 10000, &l));
  FT_RC(fo_store_lease_acquire(sb, "agent-b", 10000, &l), FO_ELOCKED);
  FT_OK(fo_registry_refresh(b));
  fs_assert_same(a, b, "with a member down");
  double took = ft_now() - t0;
  cr_assert_lt(took, slow() ? 60.0 : 10.0, "took %.2f s", took);

  cr_assert_eq(ft_etcd_restart(&c, 0, 0), 0, "%s", c.error);
  cr_assert_eq(ft_etcd_kill(&c, 1), 0, "%s", c.error);
  ft_group(b, NULL, NULL);
  FT_OK(fo_registry_refresh(a));
  fs_assert_same(a, b, "member 0 back, member 1 down");
  fs_close_reg(a, sa);
  fs_close_reg(b, sb);
  /* only the restarted member and one other: a fresh open reads it all */
  char one[256];
  snprintf(one, sizeof one, "etcd://127.0.0.1:%d/ha", c.m[0].client_port);
  fo_store *sc;
  fo_registry *r = open_reg(one, FO_STORE_READONLY, &sc);
  fs_close_reg(r, sc);
  ft_etcd_stop(&c);
}
