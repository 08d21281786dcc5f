/*
 * test_store_publish.c - a durable registry, its publisher and a crash: the
 * switches a process committed to the store but never finished (no UPDATE
 * sent, or sent but never verified and settled) are finished by the next
 * process with fo_publisher_reconcile() and fo_switchover_resume(), against a
 * real knotd primary on loopback.
 *
 * Each test starts its own knotd (the crashes are the test process's own
 * children, forked after every handle was closed, so the server and the
 * store are all they share with the parent) and keeps the SQLite store in a
 * scratch directory.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <failover.h>
#include <failover/publish.h>
#include <failover/store.h>
#include <failover/verify.h>

#include "dns_fixture.h"
#include "support.h"

#define Z FT_DNS_DEFAULT_ZONE
#define N_GROUPS 20
/* Host names the default template gives the two stacks' web heads; the
 * zone holds them so that no CNAME dangles. */
#define OLD_TARGET "web1.east." Z
#define NEW_TARGET "web1.west." Z

/* ---- fixture: knotd and a scratch directory ------------------------------ */

static ft_dns_server srv;
static char dir[256];
static char db[512];

static void sp_setup(void) {
  memset(&srv, 0, sizeof srv);
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/fo-store-pub-XXXXXX", tmp ? tmp : "/tmp");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(db, sizeof db, "%s/registry.db", dir);
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  cfg.records_text = "web1.east 60 A 192.0.2.10\n"
                     "web1.west 60 A 192.0.2.20\n";
  cfg.no_ipv6 = 1;
  cr_assert_eq(ft_dns_start(&srv, FT_DNS_KNOT, &cfg), 0,
               "cannot start knotd: %s", srv.error);
}

static void sp_teardown(void) {
  ft_dns_stop(&srv);
  const char *suffix[] = {"", "-wal", "-shm", "-journal"};
  char p[600];
  for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
    snprintf(p, sizeof p, "%s%s", db, suffix[i]);
    unlink(p);
  }
  rmdir(dir);
}

TestSuite(store_publish, .init = sp_setup, .fini = sp_teardown, .timeout = 120);

/* ---- one process's view: store, registry, loop, publisher, verifier ------ */

typedef struct sp_ctx {
  fo_store *store;
  fo_registry *reg;
  uv_loop_t loop;
  int loop_open;
  uv_timer_t watchdog;
  int fired;
  fo_publisher *pub;
  fo_verifier *ver;
  fo_tsig_key *key;
  int closed;   /* closed callbacks received */
  int in_start; /* set around calls that must not call back */
  int pub_errors;
} sp_ctx;

static void sp_open(sp_ctx *c, unsigned flags) {
  FT_OK(fo_store_sqlite_open(&c->store, db, flags));
  fo_registry_options o = ft_options(NULL, NULL); /* kernel CSPRNG */
  int rc = fo_registry_open(&c->reg, &o, c->store);
  cr_assert_eq(rc, 0, "fo_registry_open: %s", fo_err_name(rc));
}

static void sp_close_store(sp_ctx *c) {
  fo_registry_free(c->reg);
  c->reg = NULL;
  fo_store_close(c->store);
  c->store = NULL;
}

static void sp_watchdog_cb(uv_timer_t *t) {
  sp_ctx *c = t->data;
  c->fired = 1;
  uv_stop(&c->loop);
}

static void sp_on_error(int error, void *userdata) {
  sp_ctx *c = userdata;
  cr_log_error("publisher stopped: %s", fo_err_name(error));
  c->pub_errors++;
}

static void sp_loop(sp_ctx *c) {
  cr_assert_eq(uv_loop_init(&c->loop), 0);
  cr_assert_eq(uv_timer_init(&c->loop, &c->watchdog), 0);
  c->watchdog.data = c;
  c->loop_open = 1;
}

/* A verifier asking knotd (no registry needed). */
static void sp_verifier(sp_ctx *c) {
  const char *servers[] = {srv.addr4};
  fo_verifier_options o;
  FT_OK(fo_verifier_options_init(&o, FO_VERIFIER_OPTIONS_VERSION));
  o.servers = servers;
  o.server_count = 1;
  o.timeout_ms = 1000;
  o.tries = 3;
  int rc = fo_verifier_new(&c->ver, &c->loop, &o);
  cr_assert_eq(rc, 0, "fo_verifier_new: %s", fo_err_name(rc));
}

static void sp_publisher(sp_ctx *c) {
  int rc =
      fo_tsig_key_new(&c->key, srv.key_name, "hmac-sha256", srv.key_secret);
  cr_assert_eq(rc, 0, "fo_tsig_key_new: %s", fo_err_name(rc));
  fo_publisher_options o;
  FT_OK(fo_publisher_options_init(&o, FO_PUBLISHER_OPTIONS_VERSION));
  o.server = srv.addr4;
  o.key = c->key;
  o.timeout_ms = 1000;
  o.retry_min_ms = 50;
  o.retry_max_ms = 500;
  o.on_error = sp_on_error;
  o.userdata = c;
  c->in_start = 1;
  rc = fo_publisher_new(&c->pub, &c->loop, c->reg, &o);
  c->in_start = 0;
  cr_assert_eq(rc, 0, "fo_publisher_new: %s", fo_err_name(rc));
}

typedef int (*sp_pred)(sp_ctx *c, void *arg);

/* Run the loop until pred() holds; fails after ms. */
static void sp_run_until(sp_ctx *c, sp_pred pred, void *arg, int ms,
                         const char *what) {
  c->fired = 0;
  uv_timer_start(&c->watchdog, sp_watchdog_cb, (uint64_t)ms, 0);
  while (!pred(c, arg)) {
    int alive = uv_run(&c->loop, UV_RUN_ONCE);
    if (c->fired && !pred(c, arg)) {
      size_t pending = 0;
      if (c->pub)
        fo_publisher_pending(c->pub, &pending);
      cr_assert_fail("%s: not reached after %d ms (publisher error %s, %zu "
                     "pending)",
                     what, ms,
                     c->pub ? fo_err_name(fo_publisher_error(c->pub)) : "-",
                     pending);
    }
    cr_assert(alive || pred(c, arg), "%s: the loop ran out of work", what);
  }
  uv_timer_stop(&c->watchdog);
}

static void sp_closed_cb(void *userdata) { ((sp_ctx *)userdata)->closed++; }

static void sp_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  cr_log_error("handle left open: %s",
               uv_handle_type_name(uv_handle_get_type(h)));
}

/* Close publisher and verifier (each closed callback once) and the loop:
 * nothing may be left on it. The registry stays. */
static void sp_close_loop(sp_ctx *c) {
  int want = c->closed;
  if (c->pub) {
    fo_publisher_close(c->pub, sp_closed_cb, c);
    c->pub = NULL;
    want++;
  }
  if (c->ver) {
    fo_verifier_close(c->ver, sp_closed_cb, c);
    c->ver = NULL;
    want++;
  }
  c->fired = 0;
  uv_timer_start(&c->watchdog, sp_watchdog_cb, 10000, 0);
  while (c->closed < want && !c->fired)
    uv_run(&c->loop, UV_RUN_ONCE);
  cr_assert_eq(c->closed, want, "%d of %d closed callbacks", c->closed, want);
  uv_close((uv_handle_t *)&c->watchdog, NULL);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&c->loop);
  if (rc != 0)
    uv_walk(&c->loop, sp_walk_cb, NULL);
  cr_assert_eq(rc, 0, "uv_loop_close: %s", uv_err_name(rc));
  c->loop_open = 0;
  fo_tsig_key_free(c->key);
  c->key = NULL;
}

static int pred_published(sp_ctx *c, void *arg) {
  (void)arg;
  int err = fo_publisher_error(c->pub);
  cr_assert_eq(err, 0, "the publisher stopped: %s", fo_err_name(err));
  size_t n = 1;
  FT_OK(fo_publisher_pending(c->pub, &n));
  return n == 0;
}

/* ---- checking what knotd answers ----------------------------------------- */

typedef struct sp_check {
  int calls;
  int error;
  fo_verify_status status;
  char seen[FO_NAME_BUFSIZE + 64];
  int *done;
} sp_check;

static void sp_check_cb(const fo_verify_result *r, void *userdata) {
  sp_check *k = userdata;
  k->calls++;
  cr_assert_eq(k->calls, 1, "a check called back twice");
  k->error = r->error;
  k->status = r->status;
  const fo_server_answer *a = fo_verify_result_server(r, 0);
  snprintf(k->seen, sizeof k->seen, "%s: %s, chain ends at %s", r->name,
           a ? fo_verify_status_name(a->status) : "-",
           a && a->chain_length > 1 ? a->chain[a->chain_length - 1] : "-");
  (*k->done)++;
}

static int pred_count(sp_ctx *c, void *arg) {
  (void)c;
  const int *want = arg;
  return want[0] >= want[1];
}

/* Every name is a CNAME to `target` on knotd (one round each). */
static void sp_expect_cname(sp_ctx *c, char (*names)[FO_NAME_BUFSIZE], size_t n,
                            const char *target) {
  sp_check k[N_GROUPS];
  cr_assert_leq(n, N_GROUPS);
  memset(k, 0, sizeof k);
  int count[2] = {0, (int)n};
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, target, NULL, 0};
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  for (size_t i = 0; i < n; i++) {
    k[i].done = &count[0];
    int rc = fo_verify_name(NULL, c->ver, names[i], &e, &p, sp_check_cb, &k[i]);
    cr_assert_eq(rc, 0, "fo_verify_name(%s): %s", names[i], fo_err_name(rc));
  }
  sp_run_until(c, pred_count, count, 20000, "the checks");
  for (size_t i = 0; i < n; i++)
    cr_assert(k[i].error == 0 && k[i].status == FO_VERIFY_MATCH,
              "expected CNAME %s: %s (%s)", target, k[i].seen,
              fo_err_name(k[i].error));
}

/* Every group of the registry answers what the model says (fo_verify_group,
 * until it does or until_ms). */
static void sp_expect_groups(sp_ctx *c, uint32_t until_ms) {
  sp_check k[N_GROUPS];
  memset(k, 0, sizeof k);
  int count[2] = {0, 0};
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  p.until_ms = until_ms;
  p.interval_ms = 50;
  for (fo_group *g = fo_registry_next_group(c->reg, NULL); g;
       g = fo_registry_next_group(c->reg, g)) {
    cr_assert_lt(count[1], N_GROUPS);
    k[count[1]].done = &count[0];
    int rc = fo_verify_group(NULL, c->ver, g, &p, sp_check_cb, &k[count[1]]);
    cr_assert_eq(rc, 0, "fo_verify_group: %s", fo_err_name(rc));
    count[1]++;
  }
  cr_assert_eq(count[1], N_GROUPS);
  sp_run_until(c, pred_count, count, (int)until_ms + 20000, "the checks");
  for (int i = 0; i < count[1]; i++)
    cr_assert(k[i].error == 0 && k[i].status == FO_VERIFY_MATCH, "%s (%s)",
              k[i].seen, fo_err_name(k[i].error));
}

/* ---- the registry's state ------------------------------------------------ */

/* The addresses of every live group, in creation order. */
static size_t sp_addresses(fo_registry *reg, char (*out)[FO_NAME_BUFSIZE]) {
  size_t n = 0;
  for (fo_group *g = fo_registry_next_group(reg, NULL); g;
       g = fo_registry_next_group(reg, g)) {
    cr_assert_lt(n, N_GROUPS);
    ft_address(g, out[n++]);
  }
  return n;
}

/* Every group is in `state` with `slot` active; the addresses are those
 * written by the first process. */
static void sp_expect_state(fo_registry *reg, char (*names)[FO_NAME_BUFSIZE],
                            fo_state state, fo_slot slot, const char *what) {
  size_t n = 0;
  FT_OK(fo_registry_group_count(reg, &n));
  cr_assert_eq(n, N_GROUPS, "%s: %zu groups", what, n);
  for (size_t i = 0; i < N_GROUPS; i++) {
    fo_group *g = NULL;
    int rc = fo_registry_find_group(reg, names[i], &g);
    cr_assert_eq(rc, 0, "%s: %s: %s", what, names[i], fo_err_name(rc));
    fo_state st = ft_state(g);
    cr_assert_eq(st, state, "%s: %s is %s, expected %s", what, names[i],
                 fo_state_name(st), fo_state_name(state));
    cr_assert_eq(ft_active(g), slot, "%s: %s: active slot %d", what, names[i],
                 (int)ft_active(g));
  }
}

/* ---- phase 1: a published registry --------------------------------------- */

/* Create the store: stacks east and west, N groups east -> west, published
 * to knotd and verified; everything closed again. */
static void sp_create_published(char (*names)[FO_NAME_BUFSIZE]) {
  sp_ctx c;
  memset(&c, 0, sizeof c);
  sp_open(&c, FO_STORE_CREATE);
  fo_stack *east = ft_stack(c.reg, "east", 1, 0);
  fo_stack *west = ft_stack(c.reg, "west", 1, 0);
  for (int i = 0; i < N_GROUPS; i++)
    ft_group(c.reg, east, west);
  cr_assert_eq(sp_addresses(c.reg, names), N_GROUPS);
  sp_loop(&c);
  sp_publisher(&c);
  sp_verifier(&c);
  c.in_start = 1;
  FT_OK(fo_publisher_publish_all(c.pub));
  c.in_start = 0;
  sp_run_until(&c, pred_published, NULL, 20000, "everything published");
  sp_expect_groups(&c, 5000);
  sp_expect_cname(&c, names, N_GROUPS, OLD_TARGET);
  cr_assert_eq(c.pub_errors, 0);
  sp_close_loop(&c);
  sp_close_store(&c);
}

/* ---- the crashing children ----------------------------------------------- */

/* Exit codes of a child that failed before it could crash on purpose. */
enum {
  CHILD_OPEN = 10,
  CHILD_BATCH,
  CHILD_SWITCH,
  CHILD_COMMIT,
  CHILD_LOOP,
  CHILD_PUBLISH,
  CHILD_TIMEOUT
};

/* Commit the switch of every group to the backup in one batch, then die
 * before any loop ran: nothing was sent. */
static void child_commit_and_die(void) {
  fo_store *st = NULL;
  fo_registry *reg = NULL;
  fo_registry_options o = ft_options(NULL, NULL);
  if (fo_store_sqlite_open(&st, db, 0) != 0 ||
      fo_registry_open(&reg, &o, st) != 0)
    _exit(CHILD_OPEN);
  if (fo_registry_batch_begin(reg) != 0)
    _exit(CHILD_BATCH);
  for (fo_group *g = fo_registry_next_group(reg, NULL); g;
       g = fo_registry_next_group(reg, g))
    if (fo_group_switch(g, FO_SLOT_BACKUP, 0) != 0)
      _exit(CHILD_SWITCH);
  if (fo_registry_batch_commit(reg) != 0)
    _exit(CHILD_COMMIT);
  raise(SIGKILL);
  _exit(CHILD_TIMEOUT);
}

typedef struct child_ctx {
  size_t published;
} child_ctx;

/* The server confirmed the switch of the last group: die now, before any
 * verification could settle a group. */
static void child_on_published(fo_group *g, uint64_t gen, void *userdata) {
  (void)g;
  (void)gen;
  child_ctx *k = userdata;
  if (++k->published == N_GROUPS)
    raise(SIGKILL);
}

static void child_switch_noop(const fo_switchover_report *r, void *userdata) {
  (void)r;
  (void)userdata;
  _exit(CHILD_TIMEOUT); /* the switch ended: it must not have */
}

/* Switch the lost stack east with fo_switchover_stack() (one commit), let the
 * publisher send the UPDATE and die once the server confirmed it. Its
 * verifier asks a port where nothing listens, so no group can be verified
 * and settled before the crash. */
static void child_publish_and_die(int dead_port) {
  fo_store *st = NULL;
  fo_registry *reg = NULL;
  fo_registry_options o = ft_options(NULL, NULL);
  if (fo_store_sqlite_open(&st, db, 0) != 0 ||
      fo_registry_open(&reg, &o, st) != 0)
    _exit(CHILD_OPEN);
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0)
    _exit(CHILD_LOOP);
  fo_tsig_key *key = NULL;
  if (fo_tsig_key_new(&key, srv.key_name, "hmac-sha256", srv.key_secret) != 0)
    _exit(CHILD_PUBLISH);
  child_ctx k = {0};
  fo_publisher_options po;
  fo_publisher_options_init(&po, FO_PUBLISHER_OPTIONS_VERSION);
  po.server = srv.addr4;
  po.key = key;
  po.timeout_ms = 1000;
  po.retry_min_ms = 50;
  po.retry_max_ms = 500;
  po.on_published = child_on_published;
  po.userdata = &k;
  fo_publisher *pub = NULL;
  if (fo_publisher_new(&pub, &loop, reg, &po) != 0)
    _exit(CHILD_PUBLISH);
  char nowhere[64];
  snprintf(nowhere, sizeof nowhere, "127.0.0.1:%d", dead_port);
  const char *servers[] = {nowhere};
  fo_verifier_options vo;
  fo_verifier_options_init(&vo, FO_VERIFIER_OPTIONS_VERSION);
  vo.servers = servers;
  vo.server_count = 1;
  fo_verifier *ver = NULL;
  if (fo_verifier_new(&ver, &loop, &vo) != 0)
    _exit(CHILD_PUBLISH);
  fo_stack *east = NULL;
  if (fo_registry_find_stack(reg, "east", &east) != 0)
    _exit(CHILD_OPEN);
  if (fo_switchover_stack(NULL, pub, ver, east,
                          FT_SWOPTS(0, 60000), child_switch_noop, NULL) != 0)
    _exit(CHILD_SWITCH);
  double deadline = ft_dns_now_ms() + 20000;
  while (ft_dns_now_ms() < deadline) {
    uv_run(&loop, UV_RUN_ONCE);
    if (fo_publisher_error(pub) != 0)
      _exit(CHILD_PUBLISH);
  }
  _exit(CHILD_TIMEOUT);
}

/* Fork `fn` and expect it to die by SIGKILL. */
static void sp_crash(void (*fn)(int), int arg) {
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0)
    fn(arg);
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
            "the child did not crash as planned: %s %d",
            WIFEXITED(status) ? "exit" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

static void run_commit_and_die(int arg) {
  (void)arg;
  child_commit_and_die();
}

static void run_publish_and_die(int port) { child_publish_and_die(port); }

/* ---- phase 3: the next process finishes the switch ----------------------- */

typedef struct sp_plan {
  int calls;
  int error;
  size_t count;
  sp_ctx *c;
} sp_plan;

static void sp_plan_cb(const fo_plan *plan, void *userdata) {
  sp_plan *p = userdata;
  cr_assert(!p->c->in_start, "plan from inside the call");
  p->calls++;
  cr_assert_eq(p->calls, 1, "plan reported twice");
  p->error = plan->error;
  p->count = plan->count;
  for (size_t i = 0; i < plan->count; i++) {
    const fo_plan_entry *e = fo_plan_entry_at(plan, i);
    cr_log_info("plan: %d %s [%s] -> [%s]", (int)e->action, e->name,
                e->current, e->desired);
  }
}

static int pred_planned(sp_ctx *c, void *arg) {
  (void)c;
  return ((sp_plan *)arg)->calls > 0;
}

typedef struct sp_switch {
  int calls;
  fo_switchover_report r;
  sp_ctx *c;
} sp_switch;

static void sp_switch_cb(const fo_switchover_report *r, void *userdata) {
  sp_switch *s = userdata;
  cr_assert(!s->c->in_start, "switch report from inside the call");
  s->calls++;
  cr_assert_eq(s->calls, 1, "switch reported %d times", s->calls);
  s->r = *r;
}

static int pred_switched(sp_ctx *c, void *arg) {
  (void)c;
  return ((sp_switch *)arg)->calls > 0;
}

/* Reopen, reconcile (apply) and resume: every group left SWITCHING is
 * published if needed, verified and settled. `plan_changes` is how many
 * names reconcile must find out of step; SP_NO_RECONCILE resumes at once. */
#define SP_NO_RECONCILE ((size_t)-1)
static void sp_resume(char (*names)[FO_NAME_BUFSIZE], size_t plan_changes) {
  sp_ctx c;
  memset(&c, 0, sizeof c);
  sp_open(&c, 0);
  sp_expect_state(c.reg, names, FO_GROUP_SWITCHING, FO_SLOT_BACKUP,
                  "after the crash");
  sp_loop(&c);
  sp_publisher(&c);
  sp_verifier(&c);

  int rc;
  if (plan_changes != SP_NO_RECONCILE) {
    sp_plan plan = {0};
    plan.c = &c;
    c.in_start = 1;
    rc = fo_publisher_reconcile(c.pub, 1, sp_plan_cb, &plan);
    c.in_start = 0;
    cr_assert_eq(rc, 0, "fo_publisher_reconcile: %s", fo_err_name(rc));
    sp_run_until(&c, pred_planned, &plan, 20000, "the reconcile plan");
    cr_assert_eq(plan.error, 0, "plan error %s", fo_err_name(plan.error));
    cr_assert_eq(plan.count, plan_changes, "%zu plan entries, expected %zu",
                 plan.count, plan_changes);
  }

  sp_switch sw = {0};
  sw.c = &c;
  double t0 = ft_dns_now_ms();
  c.in_start = 1;
  rc = fo_switchover_resume(NULL, c.pub, c.ver, FT_SWOPTS(0, 30000), sp_switch_cb, &sw);
  c.in_start = 0;
  cr_assert_eq(rc, 0, "fo_switch_resume: %s", fo_err_name(rc));
  sp_run_until(&c, pred_switched, &sw, 40000, "the resume report");
  cr_log_info("resume: groups %zu failed %zu error %s ttl %u, published %.1f "
              "ms, all matched %.1f ms (%.1f ms wall)",
              sw.r.groups, sw.r.failed, fo_err_name(sw.r.error), sw.r.ttl,
              sw.r.published_ms, sw.r.all_matched_ms, ft_dns_now_ms() - t0);
  cr_assert_eq(sw.r.error, 0, "report error %s", fo_err_name(sw.r.error));
  cr_assert_eq(sw.r.groups, N_GROUPS, "%zu groups resumed", sw.r.groups);
  cr_assert_eq(sw.r.failed, 0, "%zu failed", sw.r.failed);
  cr_assert(sw.r.published_ms >= 0.0, "published_ms %f", sw.r.published_ms);
  cr_assert(sw.r.all_matched_ms >= 0.0, "all_matched_ms %f",
            sw.r.all_matched_ms);
  cr_assert_eq(sw.r.ttl, 60);

  sp_expect_state(c.reg, names, FO_GROUP_SERVING, FO_SLOT_BACKUP,
                  "after resume");
  sp_expect_cname(&c, names, N_GROUPS, NEW_TARGET);
  sp_expect_groups(&c, 0);
  cr_assert_eq(c.pub_errors, 0);
  sp_close_loop(&c);
  sp_close_store(&c);

  /* The settles were committed: a fresh open sees SERVING, and a resume
   * there has nothing to do (an empty report, from the loop). */
  memset(&c, 0, sizeof c);
  sp_open(&c, 0);
  sp_expect_state(c.reg, names, FO_GROUP_SERVING, FO_SLOT_BACKUP,
                  "reopened after resume");
  sp_loop(&c);
  sp_publisher(&c);
  sp_verifier(&c);
  sp_switch none = {0};
  none.c = &c;
  c.in_start = 1;
  FT_OK(fo_switchover_resume(NULL, c.pub, c.ver,
                             FT_SWOPTS(0, 1000), sp_switch_cb, &none));
  c.in_start = 0;
  sp_run_until(&c, pred_switched, &none, 5000, "the empty report");
  cr_assert_eq(none.r.groups, 0);
  cr_assert_eq(none.r.failed, 0);
  cr_assert_eq(none.r.error, 0);
  sp_close_loop(&c);
  sp_close_store(&c);
}

/* What knotd answers now, without a registry. */
static void sp_expect_dns(char (*names)[FO_NAME_BUFSIZE], const char *target) {
  sp_ctx c;
  memset(&c, 0, sizeof c);
  sp_loop(&c);
  sp_verifier(&c);
  sp_expect_cname(&c, names, N_GROUPS, target);
  sp_close_loop(&c);
}

/* ---- tests --------------------------------------------------------------- */

Test(store_publish, crash_between_commit_and_publish) {
  char names[N_GROUPS][FO_NAME_BUFSIZE];
  double t0 = ft_dns_now_ms();
  sp_create_published(names);
  double t1 = ft_dns_now_ms();
  sp_crash(run_commit_and_die, 0);
  /* Committed, never sent: DNS still has the old targets. */
  sp_expect_dns(names, OLD_TARGET);
  double t2 = ft_dns_now_ms();
  /* Reconcile finds every group out of step with the store. */
  sp_resume(names, N_GROUPS);
  cr_log_info("setup %.0f ms, crash %.0f ms, resume %.0f ms", t1 - t0, t2 - t1,
              ft_dns_now_ms() - t2);
}

Test(store_publish, crash_between_publish_and_settle) {
  char names[N_GROUPS][FO_NAME_BUFSIZE];
  double t0 = ft_dns_now_ms();
  sp_create_published(names);
  int dead = ft_dns_unused_port();
  cr_assert_gt(dead, 0);
  double t1 = ft_dns_now_ms();
  sp_crash(run_publish_and_die, dead);
  /* Sent and confirmed, never verified: DNS has the new targets, the store
   * still says SWITCHING (checked by sp_resume). */
  sp_expect_dns(names, NEW_TARGET);
  double t2 = ft_dns_now_ms();
  /* Reconcile finds the zone in step; resume verifies and settles. */
  sp_resume(names, 0);
  cr_log_info("setup %.0f ms, crash %.0f ms, resume %.0f ms", t1 - t0, t2 - t1,
              ft_dns_now_ms() - t2);
}

Test(store_publish, resume_without_reconcile) {
  /* Resume alone must still send what the server lacks: the groups are
   * unknown to a fresh publisher until resume watches them. */
  char names[N_GROUPS][FO_NAME_BUFSIZE];
  sp_create_published(names);
  sp_crash(run_commit_and_die, 0);
  sp_expect_dns(names, OLD_TARGET);
  sp_resume(names, SP_NO_RECONCILE);
}

Test(store_publish, bulk_switch_commits_in_batches) {
  /* Switching every group off a lost stack is one commit, and the settles
   * of the groups verified in one loop turn are one more each turn: far
   * fewer commits than groups (one per settle would be N + 1). */
  char names[N_GROUPS][FO_NAME_BUFSIZE];
  sp_create_published(names);
  sp_ctx c;
  memset(&c, 0, sizeof c);
  sp_open(&c, 0);
  sp_loop(&c);
  sp_publisher(&c);
  sp_verifier(&c);
  uint64_t r0 = 0, r1 = 0;
  FT_OK(fo_registry_revision(c.reg, &r0));
  fo_stack *east = NULL;
  FT_OK(fo_registry_find_stack(c.reg, "east", &east));
  sp_switch sw = {0};
  sw.c = &c;
  c.in_start = 1;
  int rc = fo_switchover_stack(NULL, c.pub, c.ver, east,
                               FT_SWOPTS(0, 30000), sp_switch_cb, &sw);
  c.in_start = 0;
  cr_assert_eq(rc, 0, "fo_switch_stack: %s", fo_err_name(rc));
  FT_OK(fo_registry_revision(c.reg, &r1));
  cr_assert_eq(r1, r0 + 1, "the switches took %llu commits",
               (unsigned long long)(r1 - r0));
  sp_run_until(&c, pred_switched, &sw, 40000, "the switch report");
  cr_assert_eq(sw.r.error, 0, "report error %s", fo_err_name(sw.r.error));
  cr_assert_eq(sw.r.groups, N_GROUPS);
  cr_assert_eq(sw.r.failed, 0);
  FT_OK(fo_registry_revision(c.reg, &r1));
  cr_log_info("bulk switch of %d groups: %llu commits", N_GROUPS,
              (unsigned long long)(r1 - r0));
  cr_assert_lt(r1 - r0, (uint64_t)N_GROUPS + 1, "one commit per settle");
  sp_expect_state(c.reg, names, FO_GROUP_SERVING, FO_SLOT_BACKUP,
                  "after the bulk switch");
  sp_close_loop(&c);
  sp_close_store(&c);
  /* and the store agrees */
  memset(&c, 0, sizeof c);
  sp_open(&c, 0);
  sp_expect_state(c.reg, names, FO_GROUP_SERVING, FO_SLOT_BACKUP,
                  "reopened after the bulk switch");
  sp_close_store(&c);
}
