/*
 * publish_scenarios.c - see publish_scenarios.h.
 *
 * The zone (FT_DNS_DEFAULT_ZONE) holds the host names the stacks' web heads
 * get from the default template {server}.{stack}.{zone}, so that a group's
 * CNAME never dangles:
 *
 *   web1|web2|lb1 . shop|shop-dr|dc1|dc2|solo   60 A 192.0.2.x
 *
 * Group names are drawn by each test's registry from the kernel CSPRNG.
 */
#define _POSIX_C_SOURCE 200809L
#include "publish_scenarios.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <unistd.h>

#include <criterion/logging.h>

#include <failover.h>
#include <failover/publish.h>
#include <failover/verify.h>

#include "support.h"

#define Z FT_DNS_DEFAULT_ZONE

static const char *const ps_stack_names[] = {"shop", "shop-dr", "dc1", "dc2",
                                             "solo"};
static const char *const ps_server_names[] = {"web1", "web2", "lb1"};

/* ---- servers (runner process) ------------------------------------------------ */

static ft_dns_server ps_primary, ps_secondary;
static int ps_started;

/* The host records every scenario's stacks need, as zone-file text. */
static char *ps_host_records(void) {
  size_t cap = 4096, len = 0;
  char *text = malloc(cap);
  if (!text)
    return NULL;
  text[0] = '\0';
  int n = 10;
  for (size_t s = 0; s < sizeof ps_stack_names / sizeof *ps_stack_names; s++)
    for (size_t v = 0; v < sizeof ps_server_names / sizeof *ps_server_names;
         v++)
      len += (size_t)snprintf(text + len, cap - len, "%s.%s 60 A 192.0.2.%d\n",
                              ps_server_names[v], ps_stack_names[s], n++);
  return text;
}

void ft_ps_servers_start(ft_dns_kind kind) {
  if (getenv("FT_DNS_PP_PORT"))
    return; /* a worker, or servers provided from outside */
  char *hosts = ps_host_records();
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  cfg.records_text = hosts;
  int rc = hosts ? ft_dns_start_pair(&ps_primary, &ps_secondary, kind, &cfg)
                 : -1;
  free(hosts);
  if (rc != 0) {
    fprintf(stderr, "publish scenarios: cannot start %s: %s\n",
            kind == FT_DNS_KNOT ? "knotd" : "named", ps_primary.error);
    setenv("FT_PS_ERROR", ps_primary.error[0] ? ps_primary.error : "oom", 1);
    return;
  }
  ps_started = 1;
  ft_dns_export(&ps_primary, "PP");
  ft_dns_export(&ps_secondary, "PS");
}

void ft_ps_servers_stop(void) {
  if (!ps_started)
    return;
  ps_started = 0;
  ft_dns_signal_stop(&ps_secondary);
  ft_dns_signal_stop(&ps_primary);
  ft_dns_stop(&ps_secondary);
  ft_dns_stop(&ps_primary);
}

/* ---- the context of one scenario ---------------------------------------------- */

typedef struct ps_ctx {
  ft_dns_kind kind;
  ft_dns_server P, S; /* imported: not ours to stop */
  uv_loop_t loop;
  uv_timer_t watchdog;
  int watchdog_fired;
  fo_registry *reg;
  fo_publisher *pub;
  fo_verifier *ver;
  fo_tsig_key *key;      /* the right key */
  int closed;            /* closed callbacks received */
  int closing;           /* closed callbacks expected */
  int error_calls;       /* on_error */
  int last_error;
  size_t published_calls; /* on_published */
  int in_start;          /* set around calls that must not call back */
} ps_ctx;

static void ps_on_published(fo_group *g, uint64_t gen, void *userdata) {
  ps_ctx *c = userdata;
  cr_assert(!c->in_start, "on_published fired from inside a call");
  cr_assert_not_null(g);
  uint64_t now = 0;
  FT_OK(fo_group_generation(g, &now));
  cr_assert(gen >= 1 && gen <= now, "published generation %llu, group at %llu",
            (unsigned long long)gen, (unsigned long long)now);
  c->published_calls++;
}

static void ps_on_error(int error, void *userdata) {
  ps_ctx *c = userdata;
  cr_assert(!c->in_start, "on_error fired from inside a call");
  cr_assert_neq(error, 0);
  c->error_calls++;
  c->last_error = error;
}

static void ps_watchdog_cb(uv_timer_t *t) {
  ps_ctx *c = t->data;
  c->watchdog_fired = 1;
  uv_stop(&c->loop);
}

static fo_tsig_key *ps_key(const char *name, const char *secret) {
  fo_tsig_key *k = NULL;
  int rc = fo_tsig_key_new(&k, name, "hmac-sha256", secret);
  cr_assert_eq(rc, 0, "fo_tsig_key_new(%s): %s", name, fo_err_name(rc));
  return k;
}

/* Import the servers, open a loop and a registry. */
static void ps_init(ps_ctx *c, ft_dns_kind kind) {
  memset(c, 0, sizeof *c);
  c->kind = kind;
  const char *err = getenv("FT_PS_ERROR");
  cr_assert(err == NULL, "the DNS servers did not start: %s", err);
  cr_assert(ft_dns_import(&c->P, "PP") == 0 && ft_dns_import(&c->S, "PS") == 0,
            "FT_DNS_PP_* / FT_DNS_PS_* not in the environment: servers not "
            "started by ReportHook(PRE_ALL)?");
  cr_assert_eq(c->P.kind, kind);
  cr_assert_eq(uv_loop_init(&c->loop), 0);
  cr_assert_eq(uv_timer_init(&c->loop, &c->watchdog), 0);
  c->watchdog.data = c;
  c->reg = ft_registry(NULL, NULL); /* kernel CSPRNG: names of our own */
  c->key = ps_key(c->P.key_name, c->P.key_secret);
}

/* Options with short timeouts and backoff (loopback). */
static fo_publisher_options ps_pub_options(ps_ctx *c, const char *server,
                                           const fo_tsig_key *key) {
  fo_publisher_options o;
  FT_OK(fo_publisher_options_init(&o, FO_PUBLISHER_OPTIONS_VERSION));
  o.server = server;
  o.key = key;
  o.timeout_ms = 1000;
  o.retry_min_ms = 50;
  o.retry_max_ms = 500;
  o.on_published = ps_on_published;
  o.on_error = ps_on_error;
  o.userdata = c;
  return o;
}

static void ps_publisher_opts(ps_ctx *c, const fo_publisher_options *o) {
  c->in_start = 1;
  int rc = fo_publisher_new(&c->pub, &c->loop, c->reg, o);
  c->in_start = 0;
  cr_assert_eq(rc, 0, "fo_publisher_new(%s): %s", o->server, fo_err_name(rc));
  cr_assert_not_null(c->pub);
}

static void ps_publisher(ps_ctx *c) {
  fo_publisher_options o = ps_pub_options(c, c->P.addr4, c->key);
  ps_publisher_opts(c, &o);
}

static void ps_verifier(ps_ctx *c, int with_secondary) {
  const char *servers[] = {c->P.addr4, c->S.addr4};
  fo_verifier_options o;
  FT_OK(fo_verifier_options_init(&o, FO_VERIFIER_OPTIONS_VERSION));
  o.servers = servers;
  o.server_count = with_secondary ? 2 : 1;
  o.timeout_ms = 1000;
  o.tries = 3;
  int rc = fo_verifier_new(&c->ver, &c->loop, &o);
  cr_assert_eq(rc, 0, "fo_verifier_new: %s", fo_err_name(rc));
}

typedef int (*ps_pred)(ps_ctx *c, void *arg);

/* Run the loop until pred() holds; fails after ms. */
static void ps_run_until(ps_ctx *c, ps_pred pred, void *arg, int ms,
                         const char *what) {
  c->watchdog_fired = 0;
  uv_timer_start(&c->watchdog, ps_watchdog_cb, (uint64_t)ms, 0);
  while (!pred(c, arg)) {
    int alive = uv_run(&c->loop, UV_RUN_ONCE);
    if (c->watchdog_fired) {
      size_t pending = 0;
      if (c->pub)
        fo_publisher_pending(c->pub, &pending);
      cr_assert_fail("%s: not reached after %d ms (publisher error %s, %zu "
                     "pending)",
                     what, ms, c->pub ? fo_err_name(fo_publisher_error(c->pub))
                                      : "-",
                     pending);
    }
    cr_assert(alive || pred(c, arg), "%s: the loop ran out of work", what);
  }
  uv_timer_stop(&c->watchdog);
}

/* Run the loop for `ms` whatever happens. */
static void ps_run_for(ps_ctx *c, int ms) {
  c->watchdog_fired = 0;
  uv_timer_start(&c->watchdog, ps_watchdog_cb, (uint64_t)ms, 0);
  while (!c->watchdog_fired)
    uv_run(&c->loop, UV_RUN_ONCE);
}

static int pred_all_published(ps_ctx *c, void *arg) {
  (void)arg;
  int err = fo_publisher_error(c->pub);
  cr_assert_eq(err, 0, "the publisher stopped: %s (%s)", fo_err_name(err),
               fo_strerror(err));
  size_t n = 1;
  FT_OK(fo_publisher_pending(c->pub, &n));
  return n == 0;
}

static int pred_stopped(ps_ctx *c, void *arg) {
  (void)arg;
  return fo_publisher_error(c->pub) != 0 && c->error_calls > 0;
}

typedef struct ps_count {
  const int *count;
  int target;
} ps_count;

static int pred_count(ps_ctx *c, void *arg) {
  (void)c;
  const ps_count *k = arg;
  return *k->count >= k->target;
}

static void ps_wait_published(ps_ctx *c, int ms) {
  ps_run_until(c, pred_all_published, NULL, ms, "every change published");
}

static void ps_closed_cb(void *userdata) {
  ps_ctx *c = userdata;
  c->closed++;
}

static void ps_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  cr_log_error("handle left open: %s (active %d, closing %d)",
               uv_handle_type_name(uv_handle_get_type(h)), uv_is_active(h),
               uv_is_closing(h));
}

/* Close the engines (each closed callback exactly once), the loop (nothing
 * may be left), the registry and the key. */
static void ps_close(ps_ctx *c) {
  int want = c->closed; /* engines closed by the scenario itself */
  if (c->pub) {
    fo_publisher_close(c->pub, ps_closed_cb, c);
    c->pub = NULL;
    want++;
  }
  if (c->ver) {
    fo_verifier_close(c->ver, ps_closed_cb, c);
    c->ver = NULL;
    want++;
  }
  c->watchdog_fired = 0;
  uv_timer_start(&c->watchdog, ps_watchdog_cb, 10000, 0);
  while (c->closed < want && !c->watchdog_fired)
    uv_run(&c->loop, UV_RUN_ONCE);
  cr_assert_eq(c->closed, want, "%d of %d closed callbacks", c->closed, want);
  uv_close((uv_handle_t *)&c->watchdog, NULL);
  uv_run(&c->loop, UV_RUN_DEFAULT);
  cr_assert_eq(c->closed, want, "a closed callback ran twice");
  int rc = uv_loop_close(&c->loop);
  if (rc != 0)
    uv_walk(&c->loop, ps_walk_cb, NULL);
  cr_assert_eq(rc, 0, "uv_loop_close: %s (handles left by the engines)",
               uv_err_name(rc));
  fo_registry_free(c->reg);
  c->reg = NULL;
  fo_tsig_key_free(c->key);
  c->key = NULL;
}

/* ---- status ----------------------------------------------------------------- */

static void ps_assert_published(ps_ctx *c, const fo_group *g) {
  fo_publish_status s = FO_PUBLISH_STATUS_INIT;
  FT_OK(fo_publisher_group_status(c->pub, g, &s));
  uint64_t gen = 0;
  FT_OK(fo_group_generation(g, &gen));
  char addr[FO_NAME_BUFSIZE];
  fo_group_address(g, addr, sizeof addr);
  cr_assert_eq(s.state, FO_PUBLISH_PUBLISHED, "%s: publish state %d", addr,
               (int)s.state);
  cr_assert_eq(s.generation, gen);
  cr_assert_eq(s.published_generation, gen,
               "%s: published generation %llu, group at %llu", addr,
               (unsigned long long)s.published_generation,
               (unsigned long long)gen);
  cr_assert_eq(s.error, 0);
}

static size_t ps_pending(ps_ctx *c) {
  size_t n = 0;
  FT_OK(fo_publisher_pending(c->pub, &n));
  return n;
}

/* ---- verifying groups ----------------------------------------------------------- */

typedef struct ps_check {
  int calls;
  int error;
  fo_verify_status status;
  char name[FO_NAME_BUFSIZE];
  char seen[FO_NAME_BUFSIZE]; /* end of the chain on the first server */
  int *count;
  ps_ctx *c;
} ps_check;

static void ps_check_cb(const fo_verify_result *r, void *userdata) {
  ps_check *k = userdata;
  cr_assert(!k->c->in_start, "a check called back from inside its call");
  k->calls++;
  cr_assert_eq(k->calls, 1, "check of %s called back twice", r->name);
  k->error = r->error;
  k->status = r->status;
  snprintf(k->name, sizeof k->name, "%s", r->name);
  k->seen[0] = '\0';
  for (size_t i = 0; i < r->server_count; i++) {
    const fo_server_answer *a = fo_verify_result_server(r, i);
    if (a->status != FO_VERIFY_MATCH || i == 0)
      snprintf(k->seen, sizeof k->seen, "%s says %s, %s", a->server,
               fo_verify_status_name(a->status),
               a->chain_length > 1 ? a->chain[a->chain_length - 1] : "-");
    if (a->status != FO_VERIFY_MATCH)
      break;
  }
  (*k->count)++;
}

/* Verify every group (one verifier, many checks at once) until all match,
 * within until_ms. */
static void ps_verify_groups(ps_ctx *c, fo_group *const *groups, size_t n,
                             uint32_t until_ms) {
  ps_check *k = calloc(n ? n : 1, sizeof *k);
  cr_assert_not_null(k);
  int count = 0;
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  p.until_ms = until_ms;
  p.interval_ms = 50;
  for (size_t i = 0; i < n; i++) {
    k[i].count = &count;
    k[i].c = c;
    c->in_start = 1;
    int rc = fo_verify_group(NULL, c->ver, groups[i], &p, ps_check_cb, &k[i]);
    c->in_start = 0;
    cr_assert_eq(rc, 0, "fo_verify_group: %s", fo_err_name(rc));
  }
  ps_count want = {&count, (int)n};
  ps_run_until(c, pred_count, &want, (int)until_ms + 20000,
               "verification callbacks");
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(k[i].calls, 1);
    cr_assert(k[i].error == 0 && k[i].status == FO_VERIFY_MATCH,
              "%s: %s, %s (%s)", k[i].name, fo_err_name(k[i].error),
              fo_verify_status_name(k[i].status), k[i].seen);
  }
  free(k);
}

/* One group. */
static void ps_verify(ps_ctx *c, fo_group *g, uint32_t until_ms) {
  ps_verify_groups(c, &g, 1, until_ms);
}

/* A name against an expectation, one round; returns the status. */
static fo_verify_status ps_verify_name(ps_ctx *c, const char *name,
                                       const fo_expectation *e) {
  ps_check k;
  memset(&k, 0, sizeof k);
  int count = 0;
  k.count = &count;
  k.c = c;
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  int rc = fo_verify_name(NULL, c->ver, name, e, &p, ps_check_cb, &k);
  cr_assert_eq(rc, 0, "fo_verify_name(%s): %s", name, fo_err_name(rc));
  ps_count want = {&count, 1};
  ps_run_until(c, pred_count, &want, 10000, "a check");
  cr_assert_eq(k.error, 0);
  return k.status;
}

/* ---- switch reports ---------------------------------------------------------- */

typedef struct ps_switch {
  int calls;
  fo_switchover_report r;
  ps_ctx *c;
} ps_switch;

static void ps_switch_cb(const fo_switchover_report *r, void *userdata) {
  ps_switch *s = userdata;
  cr_assert(!s->c->in_start, "switch report from inside the call");
  s->calls++;
  cr_assert_eq(s->calls, 1, "switch reported %d times", s->calls);
  s->r = *r;
}

static int pred_switched(ps_ctx *c, void *arg) {
  (void)c;
  return ((ps_switch *)arg)->calls > 0;
}

static void ps_report_ok(const ps_switch *s, size_t groups, const char *what) {
  const fo_switchover_report *r = &s->r;
  cr_log_info("%s: groups %zu failed %zu ttl %u published %.1f ms, first "
              "match %.1f ms, all matched %.1f ms, resolvers follow %.1f ms",
              what, r->groups, r->failed, r->ttl, r->published_ms,
              r->first_match_ms, r->all_matched_ms, r->resolvers_follow_ms);
  cr_assert_eq(r->error, 0, "%s: report error %s", what, fo_err_name(r->error));
  cr_assert_eq(r->groups, groups, "%s: %zu groups switched", what, r->groups);
  cr_assert_eq(r->failed, 0, "%s: %zu failed", what, r->failed);
  cr_assert(r->published_ms >= 0.0, "published_ms %f", r->published_ms);
  cr_assert(r->first_match_ms >= 0.0, "first_match_ms %f", r->first_match_ms);
  cr_assert(r->all_matched_ms >= r->published_ms - 0.001,
            "all matched %f before published %f", r->all_matched_ms,
            r->published_ms);
  cr_assert(r->first_match_ms <= r->all_matched_ms + 0.001,
            "first match %f after all matched %f", r->first_match_ms,
            r->all_matched_ms);
  /* At least: all matched + TTL + 1 s of resolvers' rounding (more when
   * an earlier version or a fresh name's NXDOMAIN may still be cached:
   * tests/test_resolver_follow.c holds the bound against Unbound). */
  double want = r->all_matched_ms + (double)r->ttl * 1000.0 + 1000.0;
  cr_assert(r->resolvers_follow_ms > want - 0.01,
            "resolvers_follow_ms %f, all + TTL + 1 s = %f",
            r->resolvers_follow_ms, want);
  cr_assert(r->resolvers_follow_ms < 300000.0, "the 5-minute promise: %f",
            r->resolvers_follow_ms);
}

/* ---- reconcile plans ------------------------------------------------------------ */

typedef struct ps_entry {
  fo_plan_action action;
  char name[FO_NAME_BUFSIZE];
  fo_group *group;
  char *current, *desired;
} ps_entry;

typedef struct ps_plan {
  int calls;
  int error;
  size_t zone_records, owned_names, count;
  ps_entry *e;
  ps_ctx *c;
  size_t pending_at_plan;   /* fo_publisher_pending() inside the callback */
  fo_publish_state *states; /* state of each entry's group in the callback */
} ps_plan;

static void ps_plan_cb(const fo_plan *plan, void *userdata) {
  ps_plan *p = userdata;
  cr_assert(!p->c->in_start, "plan from inside the call");
  p->calls++;
  cr_assert_eq(p->calls, 1, "plan reported twice");
  p->error = plan->error;
  p->zone_records = plan->zone_records;
  p->owned_names = plan->owned_names;
  p->count = plan->count;
  p->e = calloc(plan->count ? plan->count : 1, sizeof *p->e);
  cr_assert_not_null(p->e);
  for (size_t i = 0; i < plan->count; i++) {
    const fo_plan_entry *e = fo_plan_entry_at(plan, i);
    cr_assert_not_null(e->name);
    cr_assert_not_null(e->current);
    cr_assert_not_null(e->desired);
    p->e[i].action = e->action;
    snprintf(p->e[i].name, sizeof p->e[i].name, "%s", e->name);
    p->e[i].group = e->group;
    p->e[i].current = strdup(e->current);
    p->e[i].desired = strdup(e->desired);
  }
  /* What a user sees the moment the plan is reported: nothing was sent
   * yet, so nothing the plan repairs may read as published. */
  cr_assert_eq(fo_publisher_pending(p->c->pub, &p->pending_at_plan), 0);
  p->states = calloc(plan->count ? plan->count : 1, sizeof *p->states);
  cr_assert_not_null(p->states);
  for (size_t i = 0; i < plan->count; i++) {
    fo_publish_status st = FO_PUBLISH_STATUS_INIT;
    const fo_plan_entry *e = fo_plan_entry_at(plan, i);
    if (e->group == NULL)
      continue;
    FT_OK(fo_publisher_group_status(p->c->pub, e->group, &st));
    p->states[i] = st.state;
  }
}

static void ps_plan_free(ps_plan *p) {
  for (size_t i = 0; i < p->count; i++) {
    free(p->e[i].current);
    free(p->e[i].desired);
  }
  free(p->e);
  free(p->states);
  memset(p, 0, sizeof *p);
}

static int pred_planned(ps_ctx *c, void *arg) {
  (void)c;
  return ((ps_plan *)arg)->calls > 0;
}

static void ps_reconcile(ps_ctx *c, int apply, ps_plan *out) {
  memset(out, 0, sizeof *out);
  out->c = c;
  c->in_start = 1;
  int rc = fo_publisher_reconcile(c->pub, apply, ps_plan_cb, out);
  c->in_start = 0;
  cr_assert_eq(rc, 0, "fo_publisher_reconcile: %s", fo_err_name(rc));
  ps_run_until(c, pred_planned, out, 20000, "the reconcile plan");
  cr_assert_eq(out->error, 0, "plan error %s (%s)", fo_err_name(out->error),
               fo_strerror(out->error));
}

static const ps_entry *ps_plan_find(const ps_plan *p, const char *name) {
  for (size_t i = 0; i < p->count; i++)
    if (strcasecmp(p->e[i].name, name) == 0 ||
        (strncasecmp(p->e[i].name, name, strlen(name)) == 0 &&
         strcmp(p->e[i].name + strlen(name), ".") == 0))
      return &p->e[i];
  return NULL;
}

static void ps_plan_log(const ps_plan *p) {
  cr_log_info("plan: %zu zone records, %zu owned names, %zu entries",
              p->zone_records, p->owned_names, p->count);
  for (size_t i = 0; i < p->count; i++)
    cr_log_info("  %d %s current [%s] desired [%s]", (int)p->e[i].action,
                p->e[i].name, p->e[i].current, p->e[i].desired);
}

/* ---- small helpers ------------------------------------------------------------ */

static fo_stack *ps_stack(ps_ctx *c, const char *name, int web, int lb) {
  return ft_stack(c->reg, name, web, lb);
}

static const char *ps_addr(const fo_group *g, char *buf) {
  return ft_address(g, buf);
}

static void ps_update(ft_dns_server *srv, const char *lines) {
  cr_assert_eq(ft_dns_update(srv, lines), 0, "ft_dns_update: %s", srv->error);
}

/* ---- scenarios ------------------------------------------------------------------ */

void ft_ps_create_change_delete(ft_dns_kind kind) {
  ps_ctx c;
  ps_init(&c, kind);
  fo_stack *shop = ps_stack(&c, "shop", 1, 0);
  fo_stack *dr = ps_stack(&c, "shop-dr", 1, 0);
  ps_publisher(&c);
  ps_verifier(&c, 0);

  /* Create: published through the change feed. */
  fo_group *g = ft_group(c.reg, shop, dr);
  fo_publish_status s = FO_PUBLISH_STATUS_INIT;
  FT_OK(fo_publisher_group_status(c.pub, g, &s));
  cr_assert(s.state == FO_PUBLISH_PENDING || s.state == FO_PUBLISH_IN_FLIGHT,
            "a new group is %d before the loop ran", (int)s.state);
  cr_assert_eq(s.published_generation, 0);
  cr_assert_eq(ps_pending(&c), 1);
  ps_wait_published(&c, 10000);
  ps_assert_published(&c, g);
  cr_assert_eq(ft_generation(g), 1);
  cr_assert_geq(c.published_calls, 1);
  ps_verify(&c, g, 5000);
  fo_expectation web1 = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, "web1.shop." Z, NULL, 0};
  char addr[FO_NAME_BUFSIZE];
  ps_addr(g, addr);
  cr_assert_eq(ps_verify_name(&c, addr, &web1), FO_VERIFY_MATCH);

  /* A load balancer added to the primary: the group follows. */
  FT_OK(fo_stack_add_server(shop, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  cr_assert_eq(ft_generation(g), 2);
  ps_wait_published(&c, 10000);
  ps_assert_published(&c, g);
  fo_expectation lb1 = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, "lb1.shop." Z, NULL, 0};
  cr_assert_eq(ps_verify_name(&c, addr, &lb1), FO_VERIFY_MATCH);

  /* Switch to the backup: published, verified, settled. */
  ps_switch sw = {0};
  sw.c = &c;
  c.in_start = 1;
  int rc = fo_switchover_group(NULL, c.pub, c.ver, g, FO_SLOT_BACKUP,
                               FT_SWOPTS(0, 20000), ps_switch_cb, &sw);
  c.in_start = 0;
  FT_OK(rc);
  cr_assert_eq(ft_state(g), FO_GROUP_SWITCHING);
  ps_run_until(&c, pred_switched, &sw, 30000, "the switch report");
  ps_report_ok(&sw, 1, "switch");
  cr_assert_eq(sw.r.ttl, 60);
  cr_assert_eq(ft_state(g), FO_GROUP_SERVING);
  cr_assert_eq(ft_active(g), FO_SLOT_BACKUP);
  ps_assert_published(&c, g);
  fo_expectation dr1 = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, "web1.shop-dr." Z, NULL, 0};
  cr_assert_eq(ps_verify_name(&c, addr, &dr1), FO_VERIFY_MATCH);

  /* TTL change is published too. */
  FT_OK(fo_group_set_ttl(g, 30));
  ps_wait_published(&c, 10000);
  ps_verify(&c, g, 5000);

  /* Detach both, delete: the name goes away. */
  FT_OK(fo_group_detach(g, FO_SLOT_PRIMARY, 0));
  FT_OK(fo_group_detach(g, FO_SLOT_BACKUP, 0));
  cr_assert_eq(ft_state(g), FO_GROUP_RESERVED);
  ps_wait_published(&c, 10000);
  ps_assert_published(&c, g);
  ps_verify(&c, g, 5000); /* expects no records */
  FT_OK(fo_group_delete(g));
  ps_wait_published(&c, 10000);
  ps_assert_published(&c, g);
  ps_verify(&c, g, 5000);
  fo_expectation none = {FO_EXPECTATION_VERSION, FO_EXPECT_NONE, NULL, NULL, 0};
  cr_assert_eq(ps_verify_name(&c, addr, &none), FO_VERIFY_MATCH);
  cr_assert_eq(c.error_calls, 0);
  ps_close(&c);
}

void ft_ps_key_file(ft_dns_kind kind) {
  ps_ctx c;
  ps_init(&c, kind);
  char dir[] = "/tmp/ft-key-XXXXXX";
  cr_assert_not_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/ft.key", dir);
  cr_assert_eq(ft_dns_write_key_file(&c.P, path), 0);
  fo_tsig_key *k = NULL, *k2 = NULL;
  FT_OK(fo_tsig_key_load(&k, path, NULL));
  FT_OK(fo_tsig_key_load(&k2, path, c.P.key_name));
  fo_tsig_key *none = NULL;
  FT_RC(fo_tsig_key_load(&none, path, "other-key"), FO_ENOENT);
  cr_assert_null(none);
  snprintf(path, sizeof path, "%s/missing.key", dir);
  FT_RC(fo_tsig_key_load(&none, path, NULL), FO_ENOENT);
  snprintf(path, sizeof path, "%s/ft.key", dir);
  unlink(path);
  rmdir(dir);
  const char *name = NULL;
  FT_OK(fo_tsig_key_name(k, &name));
  cr_assert_str_eq(name, c.P.key_name);
  fo_tsig_key_free(k2);

  fo_stack *shop = ps_stack(&c, "shop", 1, 0);
  fo_publisher_options o = ps_pub_options(&c, c.P.addr4, k);
  ps_publisher_opts(&c, &o);
  fo_tsig_key_free(k); /* the publisher copied it */
  ps_verifier(&c, 0);
  fo_group *g = ft_group(c.reg, shop, NULL);
  ps_wait_published(&c, 10000);
  ps_assert_published(&c, g);
  ps_verify(&c, g, 5000);
  ps_close(&c);
}

void ft_ps_batch_1000(ft_dns_kind kind) {
  enum { N = 1000 };
  ps_ctx c;
  ps_init(&c, kind);
  fo_stack *a = ps_stack(&c, "dc1", 1, 0);
  fo_stack *b = ps_stack(&c, "dc2", 1, 0);
  fo_group **g = calloc(N, sizeof *g);
  cr_assert_not_null(g);
  /* Half exist before the publisher (publish_all), half are created with
   * the publisher attached (change feed). */
  for (int i = 0; i < N / 2; i++)
    g[i] = ft_group(c.reg, i % 2 ? a : b, i % 2 ? b : a);
  ps_publisher(&c);
  ps_verifier(&c, 0);
  cr_assert_eq(ps_pending(&c), 0, "groups before the publisher are unknown");
  fo_publish_status s = FO_PUBLISH_STATUS_INIT;
  FT_OK(fo_publisher_group_status(c.pub, g[0], &s));
  cr_assert_eq(s.state, FO_PUBLISH_PENDING);
  c.in_start = 1;
  FT_OK(fo_publisher_publish_all(c.pub));
  c.in_start = 0;
  for (int i = N / 2; i < N; i++)
    g[i] = ft_group(c.reg, i % 2 ? a : b, i % 2 ? b : a);
  cr_assert_eq(ps_pending(&c), (size_t)N);
  double t0 = ft_dns_now_ms();
  ps_wait_published(&c, 30000);
  double t1 = ft_dns_now_ms();
  for (int i = 0; i < N; i++)
    ps_assert_published(&c, g[i]);
  cr_assert_geq(c.published_calls, (size_t)N);
  ps_verify_groups(&c, g, N, 10000);
  cr_log_info("%d groups published in %.1f ms, verified in %.1f ms", N,
              t1 - t0, ft_dns_now_ms() - t1);
  free(g);
  ps_close(&c);
}

/* A key the server does not accept: the publisher stops with `want`,
 * keeps everything, and (if fix) resumes with the right key. */
static void ps_bad_key(ft_dns_kind kind, const char *key_name,
                       const char *secret, int want) {
  enum { N = 20 };
  ps_ctx c;
  ps_init(&c, kind);
  fo_stack *shop = ps_stack(&c, "shop", 1, 0);
  fo_stack *dr = ps_stack(&c, "shop-dr", 1, 0);
  fo_tsig_key *bad = ps_key(key_name ? key_name : c.P.key_name,
                            secret ? secret : c.P.key_secret);
  fo_publisher_options o = ps_pub_options(&c, c.P.addr4, bad);
  ps_publisher_opts(&c, &o);
  ps_verifier(&c, 0);
  fo_group *g[N];
  for (int i = 0; i < N; i++)
    g[i] = ft_group(c.reg, shop, dr);
  ps_run_until(&c, pred_stopped, NULL, 10000, "the publisher stops");
  int err = fo_publisher_error(c.pub);
  cr_log_info("%s key %s: publisher stopped with %s",
              kind == FT_DNS_KNOT ? "knot" : "bind",
              key_name ? "unknown" : "wrong secret", fo_err_name(err));
  cr_assert_eq(err, want, "stopped with %s, expected %s", fo_err_name(err),
               fo_err_name(want));
  cr_assert_eq(c.last_error, want);
  /* Stopping is loud but once; nothing else happens while stopped. */
  ps_run_for(&c, 300);
  cr_assert_eq(c.error_calls, 1, "on_error called %d times", c.error_calls);
  cr_assert_eq(c.published_calls, 0);
  cr_assert_eq(ps_pending(&c), (size_t)N, "nothing lost");
  for (int i = 0; i < N; i++) {
    fo_publish_status s = FO_PUBLISH_STATUS_INIT;
    FT_OK(fo_publisher_group_status(c.pub, g[i], &s));
    cr_assert_eq(s.state, FO_PUBLISH_FAILED);
    cr_assert_eq(s.error, want);
    cr_assert_eq(s.published_generation, 0);
  }
  /* A change while stopped is kept too. */
  FT_OK(fo_stack_add_server(shop, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  cr_assert_eq(ps_pending(&c), (size_t)N);
  ps_run_for(&c, 100);
  cr_assert_eq(fo_publisher_error(c.pub), want);
  /* Not in DNS. */
  fo_expectation none = {FO_EXPECTATION_VERSION, FO_EXPECT_NONE, NULL, NULL, 0};
  char addr[FO_NAME_BUFSIZE];
  cr_assert_eq(ps_verify_name(&c, ps_addr(g[0], addr), &none),
               FO_VERIFY_MATCH);

  /* The right key, resume: everything is published. */
  FT_OK(fo_publisher_set_key(c.pub, c.key));
  fo_tsig_key_free(bad);
  c.in_start = 1;
  FT_OK(fo_publisher_resume(c.pub));
  c.in_start = 0;
  cr_assert_eq(fo_publisher_error(c.pub), 0);
  ps_wait_published(&c, 10000);
  for (int i = 0; i < N; i++)
    ps_assert_published(&c, g[i]);
  ps_verify_groups(&c, g, N, 5000);
  cr_assert_eq(c.error_calls, 1);
  ps_close(&c);
}

void ft_ps_wrong_secret(ft_dns_kind kind) {
  /* Both servers answer NOTAUTH with TSIG error BADSIG. */
  ps_bad_key(kind, NULL, "c2VjcmV0LXRoYXQtaXMtbm90LXRoZS1zZXJ2ZXJzLWtleQ==",
             FO_EBADSIG);
}

void ft_ps_unknown_key(ft_dns_kind kind) {
  /* Both servers answer NOTAUTH with TSIG error BADKEY. */
  ps_bad_key(kind, "no-such-key", NULL, FO_EBADKEY);
}

void ft_ps_server_restart(ft_dns_kind kind) {
  enum { N1 = 200, N2 = 50 };
  ps_ctx c;
  ps_init(&c, kind);
  /* A primary of our own: this test stops it. */
  ft_dns_server own;
  char *hosts = ps_host_records();
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  cfg.records_text = hosts;
  cfg.no_ipv6 = 1;
  int rc = ft_dns_start(&own, kind, &cfg);
  free(hosts);
  cr_assert_eq(rc, 0, "ft_dns_start: %s", own.error);
  fo_tsig_key_free(c.key);
  c.key = ps_key(own.key_name, own.key_secret);
  c.P = own; /* ps_verifier asks c.P */
  c.P.pid = 0;

  fo_stack *shop = ps_stack(&c, "shop", 1, 0);
  fo_stack *dr = ps_stack(&c, "shop-dr", 1, 0);
  fo_publisher_options o = ps_pub_options(&c, own.addr4, c.key);
  o.timeout_ms = 300;
  o.max_in_flight = 2;
  o.batch_groups = 20;
  ps_publisher_opts(&c, &o);
  ps_verifier(&c, 0);

  fo_group *g[N1 + N2];
  for (int i = 0; i < N1; i++)
    g[i] = ft_group(c.reg, shop, dr);
  /* Mid-run: the first messages are out, most are still queued. */
  uv_run(&c.loop, UV_RUN_NOWAIT);
  size_t before = ps_pending(&c);
  cr_assert_gt(before, 0);
  cr_assert_eq(ft_dns_halt(&own), 0, "server stop");
  /* More work while it is down: new groups, and every group re-targeted. */
  for (int i = N1; i < N1 + N2; i++)
    g[i] = ft_group(c.reg, shop, dr);
  FT_OK(fo_stack_add_server(shop, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  ps_run_for(&c, 1500);
  cr_assert_eq(fo_publisher_error(c.pub), 0,
               "timeouts and refusals are retried, not fatal: %s",
               fo_err_name(fo_publisher_error(c.pub)));
  cr_assert_eq(c.error_calls, 0);
  size_t down = ps_pending(&c);
  cr_assert_eq(down, (size_t)(N1 + N2), "pending while down: %zu", down);
  fo_publish_status s = FO_PUBLISH_STATUS_INIT;
  FT_OK(fo_publisher_group_status(c.pub, g[N1], &s));
  cr_assert(s.state == FO_PUBLISH_PENDING || s.state == FO_PUBLISH_IN_FLIGHT,
            "state %d", (int)s.state);

  cr_assert_eq(ft_dns_restart(&own, 10000), 0, "restart: %s", own.error);
  double t0 = ft_dns_now_ms();
  ps_wait_published(&c, 20000);
  cr_log_info("%s: everything published %.0f ms after the restart",
              kind == FT_DNS_KNOT ? "knot" : "bind", ft_dns_now_ms() - t0);
  for (int i = 0; i < N1 + N2; i++)
    ps_assert_published(&c, g[i]);
  ps_verify_groups(&c, g, N1 + N2, 5000);
  cr_assert_eq(c.error_calls, 0);
  ps_close(&c);
  ft_dns_stop(&own);
}

void ft_ps_secondary_switch(ft_dns_kind kind) {
  ps_ctx c;
  ps_init(&c, kind);
  fo_stack *shop = ps_stack(&c, "shop", 1, 0);
  fo_stack *dr = ps_stack(&c, "shop-dr", 1, 0);
  ps_publisher(&c);
  ps_verifier(&c, 1); /* primary and secondary */
  fo_group *g = ft_group(c.reg, shop, dr);
  ps_wait_published(&c, 10000);
  ps_verify(&c, g, 20000); /* the secondary follows by NOTIFY/IXFR */

  ps_switch sw = {0};
  sw.c = &c;
  c.in_start = 1;
  FT_OK(fo_switchover_group(NULL, c.pub, c.ver, g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 60000), ps_switch_cb, &sw));
  c.in_start = 0;
  ps_run_until(&c, pred_switched, &sw, 70000, "the switch report");
  ps_report_ok(&sw, 1, kind == FT_DNS_KNOT ? "knot primary+secondary"
                                           : "bind primary+secondary");
  cr_assert_eq(sw.r.ttl, 60);
  cr_assert(sw.r.resolvers_follow_ms >= 60000.0);
  cr_assert_eq(ft_state(g), FO_GROUP_SERVING);
  /* Both servers answer the backup now. */
  ps_verify(&c, g, 0);
  ps_close(&c);
}

void ft_ps_reconcile(ft_dns_kind kind) {
  ps_ctx c;
  ps_init(&c, kind);
  fo_stack *shop = ps_stack(&c, "shop", 2, 0);
  fo_stack *dr = ps_stack(&c, "shop-dr", 1, 0);
  /* Never published: created before the publisher. */
  fo_group *gn = ft_group(c.reg, shop, dr);
  ps_publisher(&c);
  ps_verifier(&c, 0);
  fo_group *ga = ft_group(c.reg, shop, dr); /* edited by hand */
  fo_group *gb = ft_group(c.reg, dr, shop); /* stays in step */
  fo_group *gd = ft_group(c.reg, shop, NULL); /* deleted */
  ps_wait_published(&c, 10000);
  FT_OK(fo_group_detach(gd, FO_SLOT_PRIMARY, 0));
  FT_OK(fo_group_delete(gd));
  ps_wait_published(&c, 10000);
  fo_group *live[] = {ga, gb};
  ps_verify_groups(&c, live, 2, 5000);

  char a[FO_NAME_BUFSIZE], b[FO_NAME_BUFSIZE], d[FO_NAME_BUFSIZE],
      n[FO_NAME_BUFSIZE];
  ps_addr(ga, a);
  ps_addr(gb, b);
  ps_addr(gd, d);
  ps_addr(gn, n);
  uint32_t r;
  cr_assert_eq(getrandom(&r, sizeof r, 0), (ssize_t)sizeof r);
  char unrelated[64];
  snprintf(unrelated, sizeof unrelated, "unrelated-%08x." Z, (unsigned)r);

  /* By hand: a changed CNAME, an unrelated name, a stray record at a
   * deleted group's address. */
  char lines[2048];
  snprintf(lines, sizeof lines,
           "update delete %s. CNAME\n"
           "update add %s. 60 CNAME web2.shop." Z ".\n"
           "update add %s. 60 A 192.0.2.99\n"
           "update add %s. 60 TXT \"stray\"\n",
           a, a, unrelated, d);
  ps_update(&c.P, lines);
  fo_expectation web2 = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, "web2.shop." Z, NULL, 0};
  cr_assert_eq(ps_verify_name(&c, a, &web2), FO_VERIFY_MATCH);

  /* Dry run: exactly three entries. */
  ps_plan p;
  ps_reconcile(&c, 0, &p);
  ps_plan_log(&p);
  cr_assert_eq(p.count, 3, "%zu plan entries", p.count);
  cr_assert_eq(p.owned_names, 3, "owned names %zu (a, b, d)", p.owned_names);
  cr_assert_geq(p.zone_records, 6);
  const ps_entry *ea = ps_plan_find(&p, a), *ed = ps_plan_find(&p, d),
                 *en = ps_plan_find(&p, n);
  cr_assert(ea && ed && en, "plan lacks %s%s%s", ea ? "" : "the change ",
            ed ? "" : "the delete ", en ? "" : "the create");
  cr_assert_eq(ea->action, FO_PLAN_CHANGE);
  cr_assert_eq(ea->group, ga);
  cr_assert(strstr(ea->current, "web2.shop") != NULL, "current [%s]",
            ea->current);
  cr_assert(strstr(ea->desired, "web1.shop") != NULL, "desired [%s]",
            ea->desired);
  cr_assert_eq(ed->action, FO_PLAN_DELETE);
  cr_assert_null(ed->group);
  /* The stray TXT record is what the zone holds there (presentation form
   * "TXT" or the RFC 3597 generic "TYPE16 \# ..."). */
  cr_assert(strstr(ed->current, "TXT") != NULL ||
                strstr(ed->current, "TYPE16") != NULL,
            "current [%s]", ed->current);
  cr_assert_str_eq(ed->desired, "");
  cr_assert_eq(en->action, FO_PLAN_CREATE);
  cr_assert_eq(en->group, gn);
  cr_assert_str_eq(en->current, "");
  cr_assert(strstr(en->desired, "CNAME") != NULL, "desired [%s]",
            en->desired);
  cr_assert_null(ps_plan_find(&p, b));
  cr_assert_null(ps_plan_find(&p, unrelated));
  ps_plan_free(&p);
  /* A dry run changes nothing. */
  ps_run_for(&c, 100);
  cr_assert_eq(ps_pending(&c), 0);
  cr_assert_eq(ps_verify_name(&c, a, &web2), FO_VERIFY_MATCH);

  /* Apply: the same plan, then published. Status never runs ahead of the
   * server: when the plan is reported, every repair it queued is pending
   * (the hand-edited group was published before, and is not any more). */
  ps_reconcile(&c, 1, &p);
  cr_assert_eq(p.count, 3, "%zu plan entries", p.count);
  cr_assert_geq(p.pending_at_plan, 3, "pending %zu when the plan came",
                p.pending_at_plan);
  for (size_t i = 0; i < p.count; i++)
    if (p.e[i].group != NULL)
      cr_assert_neq(p.states[i], FO_PUBLISH_PUBLISHED,
                    "%s reads published before the repair was sent",
                    p.e[i].name);
  ps_plan_free(&p);
  ps_wait_published(&c, 10000);
  fo_group *all[] = {ga, gb, gn, gd};
  ps_verify_groups(&c, all, 4, 5000);
  for (int i = 0; i < 3; i++)
    ps_assert_published(&c, all[i]);
  const char *ip[] = {"192.0.2.99"};
  fo_expectation un = {FO_EXPECTATION_VERSION, FO_EXPECT_ADDRESSES, NULL, ip, 1};
  cr_assert_eq(ps_verify_name(&c, unrelated, &un), FO_VERIFY_MATCH,
               "the unrelated name was touched");
  /* In step now: an empty plan. */
  ps_reconcile(&c, 0, &p);
  cr_assert_eq(p.count, 0, "%zu plan entries after apply", p.count);
  ps_plan_free(&p);
  ps_update(&c.P, (snprintf(lines, sizeof lines, "update delete %s. A\n",
                            unrelated),
                   lines));
  ps_close(&c);
}

void ft_ps_switch_stack_50(ft_dns_kind kind) {
  enum { N = 50 };
  ps_ctx c;
  ps_init(&c, kind);
  fo_stack *dc1 = ps_stack(&c, "dc1", 1, 0);
  fo_stack *dc2 = ps_stack(&c, "dc2", 1, 0);
  fo_group *g[N];
  for (int i = 0; i < N; i++)
    g[i] = ft_group(c.reg, dc1, dc2);
  fo_group *other = ft_group(c.reg, dc2, dc1); /* not on the lost stack */
  ps_publisher(&c);
  ps_verifier(&c, 1);
  FT_OK(fo_publisher_publish_all(c.pub));
  ps_wait_published(&c, 10000);
  ps_verify_groups(&c, g, N, 20000);
  uint64_t other_gen = ft_generation(other);

  ps_switch sw = {0};
  sw.c = &c;
  c.in_start = 1;
  FT_OK(fo_switchover_stack(NULL, c.pub, c.ver, dc1,
                            FT_SWOPTS(0, 60000), ps_switch_cb, &sw));
  c.in_start = 0;
  for (int i = 0; i < N; i++)
    cr_assert_eq(ft_state(g[i]), FO_GROUP_SWITCHING);
  ps_run_until(&c, pred_switched, &sw, 70000, "the stack switch report");
  ps_report_ok(&sw, N, "switch_stack");
  for (int i = 0; i < N; i++) {
    cr_assert_eq(ft_state(g[i]), FO_GROUP_SERVING);
    cr_assert_eq(ft_active(g[i]), FO_SLOT_BACKUP);
    ps_assert_published(&c, g[i]);
  }
  cr_assert_eq(ft_generation(other), other_gen);
  cr_assert_eq(ft_active(other), FO_SLOT_PRIMARY);
  ps_verify_groups(&c, g, N, 0);

  /* Nothing left on dc1: an empty report, from the loop. */
  ps_switch none = {0};
  none.c = &c;
  c.in_start = 1;
  FT_OK(fo_switchover_stack(NULL, c.pub, c.ver, dc1,
                            FT_SWOPTS(0, 1000), ps_switch_cb, &none));
  c.in_start = 0;
  ps_run_until(&c, pred_switched, &none, 5000, "the empty report");
  cr_assert_eq(none.r.groups, 0);
  cr_assert_eq(none.r.failed, 0);
  ps_close(&c);
}

/* A publisher and a verifier, stacks shop and shop-dr, and one group on
 * both, published. */
static fo_group *ps_published_pair(ps_ctx *c, ft_dns_kind kind) {
  ps_init(c, kind);
  fo_stack *shop = ps_stack(c, "shop", 1, 0);
  fo_stack *dr = ps_stack(c, "shop-dr", 1, 0);
  ps_publisher(c);
  ps_verifier(c, 0);
  fo_group *g = ft_group(c->reg, shop, dr);
  ps_wait_published(c, 10000);
  return g;
}

void ft_ps_second_switch_refused(ft_dns_kind kind) {
  ps_ctx c;
  fo_group *g = ps_published_pair(&c, kind);

  ps_switch sw = {0}, sw2 = {0};
  sw.c = sw2.c = &c;
  FT_OK(fo_switchover_group(NULL, c.pub, c.ver, g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 20000), ps_switch_cb, &sw));
  uint64_t gen = ft_generation(g);
  /* While SWITCHING: refused, nothing changed, no callback. */
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, g, FO_SLOT_PRIMARY,
                            FT_SWOPTS(0, 20000), ps_switch_cb, &sw2),
        FO_ESWITCHING);
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 20000), ps_switch_cb, &sw2),
        FO_EALREADY);
  cr_assert_eq(ft_generation(g), gen);
  cr_assert_eq(ft_active(g), FO_SLOT_BACKUP);
  cr_assert_eq(ft_state(g), FO_GROUP_SWITCHING);
  ps_run_until(&c, pred_switched, &sw, 30000, "the switch report");
  ps_report_ok(&sw, 1, "first switch");
  cr_assert_eq(sw2.calls, 0, "a refused switch called back");
  cr_assert_eq(ft_state(g), FO_GROUP_SERVING);
  /* Settled: switching back is allowed. */
  FT_OK(fo_switchover_group(NULL, c.pub, c.ver, g, FO_SLOT_PRIMARY,
                            FT_SWOPTS(0, 20000), ps_switch_cb, &sw2));
  ps_run_until(&c, pred_switched, &sw2, 30000, "the switch back");
  ps_report_ok(&sw2, 1, "switch back");
  fo_expectation web1 = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, "web1.shop." Z, NULL, 0};
  char addr[FO_NAME_BUFSIZE];
  cr_assert_eq(ps_verify_name(&c, ps_addr(g, addr), &web1), FO_VERIFY_MATCH);
  /* An empty slot, a stack without web head: refused. */
  fo_stack *empty = ps_stack(&c, "solo", 0, 0);
  fo_stack *shop = NULL;
  FT_OK(fo_group_stack(g, FO_SLOT_PRIMARY, &shop));
  fo_group *h = ft_group(c.reg, shop, NULL);
  ps_switch sw3 = {0};
  sw3.c = &c;
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, h, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 1000), ps_switch_cb, &sw3),
        FO_ESLOTEMPTY);
  FT_OK(fo_group_attach(h, FO_SLOT_BACKUP, empty));
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, h, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 1000), ps_switch_cb, &sw3),
        FO_ENOWEBHEAD);
  ps_run_for(&c, 50);
  cr_assert_eq(sw3.calls, 0);
  ps_wait_published(&c, 10000);
  ps_close(&c);
}

void ft_ps_forced_second_switch(ft_dns_kind kind) {
  ps_ctx c;
  fo_group *g = ps_published_pair(&c, kind);

  ps_switch sw = {0}, sw2 = {0};
  sw.c = sw2.c = &c;
  FT_OK(fo_switchover_group(NULL, c.pub, c.ver, g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 10000), ps_switch_cb, &sw));
  /* Forced while the first is in flight: allowed. Each switch reports
   * exactly once; the group ends on the primary, confirmed in DNS. */
  FT_OK(fo_switchover_group(NULL, c.pub, c.ver, g, FO_SLOT_PRIMARY,
                            FT_SWOPTS(FO_FORCE, 10000), ps_switch_cb, &sw2));
  ps_run_until(&c, pred_switched, &sw2, 20000, "the forced switch report");
  ps_report_ok(&sw2, 1, "forced switch");
  ps_run_until(&c, pred_switched, &sw, 20000,
               "the first switch's report (superseded by a forced one)");
  cr_log_info("superseded switch: error %s, failed %zu",
              fo_err_name(sw.r.error), sw.r.failed);
  cr_assert_eq(ft_state(g), FO_GROUP_SERVING);
  cr_assert_eq(ft_active(g), FO_SLOT_PRIMARY);
  fo_expectation web1 = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, "web1.shop." Z, NULL, 0};
  char addr[FO_NAME_BUFSIZE];
  cr_assert_eq(ps_verify_name(&c, ps_addr(g, addr), &web1), FO_VERIFY_MATCH);
  ps_close(&c);
}

void ft_ps_close_with_work(ft_dns_kind kind) {
  enum { N = 300 };
  ps_ctx c;
  ps_init(&c, kind);
  fo_stack *dc1 = ps_stack(&c, "dc1", 1, 0);
  fo_stack *dc2 = ps_stack(&c, "dc2", 1, 0);
  ps_publisher(&c);
  ps_verifier(&c, 0);
  for (int i = 0; i < N; i++)
    ft_group(c.reg, dc1, dc2);
  ps_switch sw = {0};
  sw.c = &c;
  ps_plan p;
  memset(&p, 0, sizeof p);
  p.c = &c;
  FT_OK(fo_switchover_stack(NULL, c.pub, c.ver, dc1,
                            FT_SWOPTS(0, 10000), ps_switch_cb, &sw));
  FT_OK(fo_publisher_reconcile(c.pub, 1, ps_plan_cb, &p));
  FT_RC(fo_publisher_reconcile(c.pub, 0, ps_plan_cb, &p), FO_EBUSY);
  uv_run(&c.loop, UV_RUN_NOWAIT);
  /* Close with messages in flight, a switch and a reconcile running: every
   * callback still comes, once. */
  fo_publisher *pub = c.pub;
  fo_publisher_close(pub, ps_closed_cb, &c);
  c.pub = NULL;
  fo_verifier_close(c.ver, ps_closed_cb, &c);
  c.ver = NULL;
  c.watchdog_fired = 0;
  uv_timer_start(&c.watchdog, ps_watchdog_cb, 10000, 0);
  while ((c.closed < 2 || sw.calls == 0 || p.calls == 0) && !c.watchdog_fired)
    uv_run(&c.loop, UV_RUN_ONCE);
  cr_assert_eq(sw.calls, 1, "switch report after close: %d", sw.calls);
  cr_assert_eq(p.calls, 1, "plan after close: %d", p.calls);
  cr_log_info("after close: switch error %s (%zu of %zu failed), plan %s",
              fo_err_name(sw.r.error), sw.r.failed, sw.r.groups,
              fo_err_name(p.error));
  cr_assert_neq(sw.r.error, 0);
  cr_assert_eq(sw.r.groups, (size_t)N);
  cr_assert_neq(p.error, 0);
  ps_plan_free(&p);
  ps_close(&c); /* nothing left to close: checks the loop */
}
