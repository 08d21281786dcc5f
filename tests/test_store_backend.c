/*
 * test_store_backend.c - a store backend of the test's own (no SQLite),
 * through the public table of <failover/store.h>: what a commit hands a
 * backend, and the promises of the write path that only a backend can
 * break on purpose: a failed commit poisons the registry, a publisher on a
 * poisoned registry stops with FO_EPOISONED and sends nothing, and a
 * publisher sends nothing of a batch before its commit.
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <failover/follow.h>
#include <failover/publish.h>

#include "engine_support.h"
#include "fault_peer.h"
#include "support.h"

/* ---- the backend: revisions and row kinds, in memory ------------------- */

typedef struct mem {
  uint64_t revision;
  int in_txn;
  int fail_commit;   /* the next commit fails (FO_ESTOREIO) */
  int fail_revision; /* revision reads fail (FO_ESTOREIO) while set */
  size_t commits;
  fo_store_row_kind kinds[16]; /* kinds of the last commit's rows */
  size_t nkinds;
  size_t log_bytes;  /* the last commit's log entry */
} mem;

static int mem_load(void *self, fo_store_loader *ld, uint64_t *revision) {
  mem *m = self;
  (void)ld;
  (void)revision;
  /* Nothing to hand back in this test: only a store never written. */
  cr_assert_eq(m->revision, 0, "reopening is not what this backend does");
  return FO_ENOSTORE;
}

static int mem_begin(void *self, uint64_t expected) {
  mem *m = self;
  cr_assert(!m->in_txn, "begin inside a begin");
  if (expected != m->revision)
    return FO_ESTALE;
  m->in_txn = 1;
  return 0;
}

static int mem_commit(void *self, const fo_store_changes *ch,
                      uint64_t *revision) {
  mem *m = self;
  const void *log = NULL;
  cr_assert(m->in_txn, "commit without begin");
  m->in_txn = 0;
  if (m->fail_commit) {
    m->fail_commit = 0;
    return FO_ESTOREIO;
  }
  m->nkinds = fo_store_changes_count(ch);
  cr_assert_leq(m->nkinds, 16);
  for (size_t i = 0; i < m->nkinds; i++)
    m->kinds[i] = fo_store_changes_row(ch, i)->kind;
  cr_assert_null(fo_store_changes_row(ch, m->nkinds));
  fo_store_changes_log(ch, &log, &m->log_bytes);
  cr_assert(log != NULL && m->log_bytes > 2);
  m->commits++;
  *revision = ++m->revision;
  return 0;
}

static void mem_rollback(void *self) { ((mem *)self)->in_txn = 0; }

static int mem_read_log(void *self, uint64_t after, fo_store_log_fn fn,
                        void *userdata) {
  (void)self;
  (void)after;
  (void)fn;
  (void)userdata;
  return 0; /* one process: nobody else commits */
}

static int mem_revision(void *self, uint64_t *out) {
  if (((mem *)self)->fail_revision)
    return FO_ESTOREIO;
  *out = ((mem *)self)->revision;
  return 0;
}

static int mem_lease_acquire(void *self, const char *holder, uint32_t ttl_ms,
                             fo_store_lease *out) {
  (void)self;
  (void)holder;
  (void)ttl_ms;
  (void)out;
  return FO_EREADONLY;
}

static int mem_lease_release(void *self, const char *holder) {
  (void)self;
  (void)holder;
  return FO_EREADONLY;
}

static int mem_lease_read(void *self, fo_store_lease *out) {
  (void)self;
  memset(out, 0, sizeof(*out));
  return 0;
}

static void mem_close(void *self) { (void)self; }

/* One application setting is enough to see the calls go through. */
static char mem_setting[64];

static int mem_setting_get(void *self, const char *name, char *buf,
                           size_t size, size_t *len) {
  (void)self;
  if (strcmp(name, "one") != 0 || mem_setting[0] == '\0')
    return FO_ENOENT;
  *len = strlen(mem_setting);
  if (*len >= size)
    return FO_ENOSPC;
  memcpy(buf, mem_setting, *len + 1);
  return 0;
}

static int mem_setting_put(void *self, const char *name, const char *value) {
  (void)self;
  cr_assert_str_eq(name, "one");
  snprintf(mem_setting, sizeof mem_setting, "%s", value ? value : "");
  return 0;
}

static const fo_store_backend mem_backend = {
    FO_STORE_BACKEND_VERSION, mem_load,     mem_begin,
    mem_commit,               mem_rollback, mem_read_log,
    mem_revision,             mem_lease_acquire, mem_lease_release,
    mem_lease_read,           mem_close,    mem_setting_get,
    mem_setting_put,
};

static fo_registry *open_on(mem *m, fo_store **st, const char *zone) {
  fo_registry_options o = ft_options(NULL, NULL);
  fo_registry *reg = NULL;
  memset(m, 0, sizeof(*m));
  FT_OK(fo_store_new(st, &mem_backend, m));
  o.zone = zone;
  FT_OK(fo_registry_open(&reg, &o, *st));
  return reg;
}

/* ---- the interface ---------------------------------------------------- */

Test(store_backend, commits_hand_over_row_images) {
  mem m;
  fo_store *st;
  fo_registry *reg = open_on(&m, &st, FT_ZONE);
  /* Creating the store: the settings and the id counters. */
  cr_assert_eq(m.commits, 1);
  cr_assert(m.nkinds == 2 && m.kinds[0] == FO_ROW_SETTINGS &&
            m.kinds[1] == FO_ROW_COUNTERS);
  uint64_t rev = 0;
  FT_OK(fo_store_revision(st, &rev));
  cr_assert_eq(rev, 1);
  FT_OK(fo_registry_revision(reg, &rev));
  cr_assert_eq(rev, 1);

  fo_stack *s = ft_stack(reg, "shop", 0, 0); /* a new id: counters too */
  cr_assert(m.nkinds == 2 && m.kinds[0] == FO_ROW_COUNTERS &&
            m.kinds[1] == FO_ROW_STACK);
  ft_group(reg, s, NULL);
  cr_assert(m.nkinds == 1 && m.kinds[0] == FO_ROW_GROUP);
  /* A new load balancer: the stack row, not the groups that follow it. */
  for (int i = 0; i < 5; i++)
    ft_group(reg, s, NULL);
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  cr_assert(m.nkinds == 2 && m.kinds[0] == FO_ROW_COUNTERS &&
            m.kinds[1] == FO_ROW_STACK);
  /* A stack removed after its group let go: groups first, removal last. */
  fo_stack *t = ft_stack(reg, "tmp", 0, 0);
  fo_group *g = ft_group(reg, t, NULL);
  FT_OK(fo_registry_batch_begin(reg));
  FT_OK(fo_group_detach(g, FO_SLOT_PRIMARY, 0));
  FT_OK(fo_stack_remove(t));
  FT_OK(fo_registry_batch_commit(reg));
  cr_assert(m.nkinds == 2 && m.kinds[0] == FO_ROW_GROUP &&
            m.kinds[1] == FO_ROW_STACK_REMOVED);
  FT_OK(fo_registry_revision(reg, &rev));
  cr_assert_eq(rev, m.revision);
  cr_assert_eq(fo_registry_poisoned(reg), 0);
  fo_registry_free(reg);
  fo_store_close(st);
}

Test(store_backend, a_table_missing_a_function_is_refused) {
  fo_store_backend b = mem_backend;
  fo_store *st = (fo_store *)1;
  mem m;
  b.commit = NULL;
  FT_RC(fo_store_new(&st, &b, &m), FO_EINVAL);
  cr_assert_null(st);
  b = mem_backend;
  b.version = 99;
  FT_RC(fo_store_new(&st, &b, &m), FO_EVERSION);
  b = mem_backend;
  b.setting_put = NULL; /* version 2 has settings */
  FT_RC(fo_store_new(&st, &b, &m), FO_EINVAL);
  FT_RC(fo_store_revision(NULL, NULL), FO_EINVAL);
}

/* A table built against the version-1 header ends after `close`: the
 * store reads no further (ASan and valgrind see the heap block end there)
 * and answers FO_ENOTSUP for what version 2 added. */
Test(store_backend, a_version_1_table_is_read_to_its_end_only) {
  size_t v1_size = offsetof(fo_store_backend, close) + sizeof(void (*)(void *));
  fo_store_backend table = mem_backend;
  void *v1 = malloc(v1_size);
  cr_assert_not_null(v1);
  table.version = 1;
  memcpy(v1, &table, v1_size);
  mem m;
  memset(&m, 0, sizeof m);
  fo_store *st = NULL;
  FT_OK(fo_store_new(&st, v1, &m));
  free(v1); /* the table was copied */
  char buf[16];
  FT_RC(fo_store_setting_get(st, "one", buf, sizeof buf, NULL), FO_ENOTSUP);
  FT_RC(fo_store_setting_put(st, "one", "x"), FO_ENOTSUP);
  fo_registry_options o = ft_options(NULL, NULL);
  fo_registry *reg = NULL;
  FT_OK(fo_registry_open(&reg, &o, st)); /* the rest works as before */
  ft_group(reg, NULL, NULL);
  fo_registry_free(reg);
  fo_store_close(st);
}

Test(store_backend, settings_go_through_the_table) {
  mem m;
  fo_store *st;
  fo_registry *reg = open_on(&m, &st, FT_ZONE);
  char buf[8];
  size_t len = 0;
  mem_setting[0] = '\0';
  FT_RC(fo_store_setting_get(st, "one", buf, sizeof buf, &len), FO_ENOENT);
  FT_OK(fo_store_setting_put(st, "one", "value"));
  FT_OK(fo_store_setting_get(st, "one", buf, sizeof buf, &len));
  cr_assert_str_eq(buf, "value");
  cr_assert_eq(len, 5);
  FT_OK(fo_store_setting_put(st, "one", "a longer value"));
  FT_RC(fo_store_setting_get(st, "one", buf, sizeof buf, &len), FO_ENOSPC);
  cr_assert_eq(len, 14, "the length needed is told");
  cr_assert_str_eq(buf, "", "a value that does not fit is not half written");
  fo_registry_free(reg);
  fo_store_close(st);
}

/* ---- a failed commit ---------------------------------------------------- */

static void stop_cb(int error, void *userdata) { *(int *)userdata = error; }

typedef struct pub_env {
  ft_fault_peer *peer;
  uv_loop_t loop;
  fo_tsig_key *k;
  fo_publisher *pub;
  int stopped;
} pub_env;

/* A publisher for `reg` towards a fault peer answering "ok" (its key is 3:
 * the zone is "ok.q3.test"). */
static void pub_env_start(pub_env *e, fo_registry *reg) {
  memset(e, 0, sizeof(*e));
  e->peer = ft_fault_peer_start();
  cr_assert_not_null(e->peer);
  char server[64];
  snprintf(server, sizeof server, "127.0.0.1:%d",
           ft_fault_peer_port(e->peer));
  cr_assert_eq(uv_loop_init(&e->loop), 0);
  e->k = key();
  fo_publisher_options o;
  FT_OK(fo_publisher_options_init(&o, FO_PUBLISHER_OPTIONS_VERSION));
  o.server = server;
  o.key = e->k;
  o.on_error = stop_cb;
  o.userdata = &e->stopped;
  FT_OK(fo_publisher_new(&e->pub, &e->loop, reg, &o));
}

static unsigned updates_seen(const pub_env *e) {
  return ft_fault_peer_udp(e->peer, 3) + ft_fault_peer_tcp(e->peer, 3);
}

static void run_for(pub_env *e, uint64_t ms) {
  watchdog wd;
  watchdog_start(&e->loop, &wd, ms);
  run_until(&e->loop, &wd, &wd.fired, 1);
  uv_close((uv_handle_t *)&wd.t, NULL);
  uv_run(&e->loop, UV_RUN_NOWAIT);
}

static void pub_env_stop(pub_env *e) {
  int closed = 0;
  fo_publisher_close(e->pub, count_cb, &closed);
  loop_done(&e->loop, NULL);
  cr_assert_eq(closed, 1);
  fo_tsig_key_free(e->k);
  ft_fault_peer_stop(e->peer);
}

Test(store_backend, failed_commit_poisons_and_nothing_reaches_dns) {
  mem m;
  fo_store *st;
  fo_registry *reg = open_on(&m, &st, "ok.q3.test");
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  pub_env e;
  pub_env_start(&e, reg);
  /* The commit fails after the group was made in memory: the call says
   * so, and the registry refuses every later change. */
  m.fail_commit = 1;
  fo_group *g = NULL;
  FT_RC(fo_group_create(&g, reg, s, NULL), FO_ESTOREIO);
  cr_assert_eq(fo_registry_poisoned(reg), 1);
  fo_group *h = NULL;
  FT_RC(fo_group_create(&h, reg, s, NULL), FO_EPOISONED);
  FT_RC(fo_stack_rename(s, "other"), FO_EPOISONED);
  FT_RC(fo_registry_batch_begin(reg), FO_EPOISONED);
  FT_RC(fo_registry_refresh(reg), FO_EPOISONED);
  /* The change the store may not hold never reaches DNS. */
  run_for(&e, 300);
  cr_assert_eq(e.stopped, FO_EPOISONED, "publisher: %s",
               fo_err_name(e.stopped));
  FT_RC(fo_publisher_error(e.pub), FO_EPOISONED);
  cr_assert_eq(updates_seen(&e), 0, "%u UPDATEs sent from a poisoned registry",
               updates_seen(&e));
  pub_env_stop(&e);
  fo_registry_free(reg);
  fo_store_close(st);
}

Test(store_backend, nothing_of_an_open_batch_is_sent) {
  mem m;
  fo_store *st;
  fo_registry *reg = open_on(&m, &st, "ok.q3.test");
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  pub_env e;
  pub_env_start(&e, reg);
  FT_OK(fo_registry_batch_begin(reg));
  for (int i = 0; i < 3; i++)
    ft_group(reg, s, NULL);
  run_for(&e, 300); /* the loop turns while the batch is open */
  cr_assert_eq(updates_seen(&e), 0, "%u UPDATEs sent before the commit",
               updates_seen(&e));
  size_t before = m.commits;
  FT_OK(fo_registry_batch_commit(reg));
  cr_assert_eq(m.commits, before + 1);
  /* The first UPDATE may wait for the zone's SOA (500 ms at most), and
   * longer under valgrind: wait for it, up to a bound far past both. */
  for (int waited = 0; updates_seen(&e) == 0 && waited < 10000; waited += 100)
    run_for(&e, 100);
  cr_assert_geq(updates_seen(&e), 1, "nothing sent after the commit");
  pub_env_stop(&e);
  fo_registry_free(reg);
  fo_store_close(st);
}

/* A store follower reports a failing store once, not at every check, and
 * again after the store came back and failed anew. */
typedef struct follow_reports {
  int count, last;
} follow_reports;

static void on_follow_report(int error, uint64_t revision, void *userdata) {
  follow_reports *r = userdata;
  (void)revision;
  r->count++;
  r->last = error;
}

Test(store_backend, follower_reports_a_failure_once) {
  mem m;
  fo_store *st;
  fo_registry *reg = open_on(&m, &st, FT_ZONE);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  follow_reports r = {0, 0};
  fo_store_follower *f;
  FT_OK(fo_store_follower_new(&f, &loop, reg, FO_FOLLOW_INTERVAL_MIN,
                              on_follow_report, &r));
  m.fail_revision = 1;
  watchdog wd;
  watchdog_start(&loop, &wd, 200); /* about 40 checks */
  run_until(&loop, &wd, &wd.fired, 1);
  uv_close((uv_handle_t *)&wd.t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  cr_assert_eq(r.count, 1, "%d reports of one failure", r.count);
  FT_RC(r.last, FO_ESTOREIO);
  m.fail_revision = 0;
  FT_OK(fo_store_follower_check(f)); /* in step again: nothing to report */
  cr_assert_eq(r.count, 1);
  m.fail_revision = 1;
  FT_RC(fo_store_follower_check(f), FO_ESTOREIO);
  cr_assert_eq(r.count, 2, "a new failure after a good check is reported");
  FT_RC(fo_store_follower_check(f), FO_ESTOREIO);
  cr_assert_eq(r.count, 2);
  fo_store_follower_close(f);
  loop_done(&loop, NULL);
  fo_registry_free(reg);
  fo_store_close(st);
}
