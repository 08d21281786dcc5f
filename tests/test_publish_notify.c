/*
 * test_publish_notify.c - the publisher keeps the zone's secondaries in
 * step: a knotd primary that sends no NOTIFY of its own (so that only the
 * publisher's can move them), a Knot and a BIND secondary. Each change is
 * on both secondaries well within the 1.5 s bound instead of the zone's
 * refresh hour; the Knot secondary typically within 10-15 ms (its median
 * is checked) where Knot's own NOTIFY comes after about one second. (BIND
 * 9.18 as a secondary acts on every other NOTIFY at once and on the next
 * about 0.5 s later, whatever is sent: measured here, not hidden.) A
 * secondary that is down
 * during a change catches up once it is back, and the status says which
 * one lagged, by how much, and why.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <failover/publish.h>

#include <valgrind/valgrind.h>

#include "dns_fixture.h"
#include "engine_support.h"
#include "store_faults_util.h"
#include "support.h"

typedef struct env {
  ft_dns_server primary, knot2, bind2;
  int have_bind;
  uv_loop_t loop;
  fo_registry *reg;
  fo_tsig_key *key;
  fo_publisher *pub;
  fo_stack *a, *b;
  const char *secondaries[2];
  int published;
} env;

static void on_published(fo_group *g, uint64_t gen, void *userdata) {
  (void)g;
  (void)gen;
  ((env *)userdata)->published++;
}

static const char *const zone_records[] = {
    "web1.a 60 IN A 192.0.2.1", "web1.b 60 IN A 192.0.2.2", NULL};

static void start(env *e) {
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  char keyfile[600];
  memset(e, 0, sizeof(*e));
  cfg.zone = FT_ZONE;
  cfg.records = zone_records;
  cfg.no_ipv6 = 1;
  cr_assert_eq(ft_dns_start(&e->primary, FT_DNS_KNOT, &cfg), 0, "%s",
               e->primary.error);
  cfg.primary = &e->primary;
  cr_assert_eq(ft_dns_start(&e->knot2, FT_DNS_KNOT, &cfg), 0, "%s",
               e->knot2.error);
  e->have_bind = ft_dns_start(&e->bind2, FT_DNS_BIND, &cfg) == 0;
  cr_assert(e->have_bind, "named as a secondary: %s", e->bind2.error);
  cr_assert_eq(uv_loop_init(&e->loop), 0);
  e->reg = registry(NULL);
  snprintf(keyfile, sizeof keyfile, "%s/primary.key", e->primary.dir);
  cr_assert_eq(ft_dns_write_key_file(&e->primary, keyfile), 0);
  FT_OK(fo_tsig_key_load(&e->key, keyfile, NULL));
  e->secondaries[0] = e->knot2.addr4;
  e->secondaries[1] = e->bind2.addr4;
  {
    fo_publisher_options o = FO_PUBLISHER_OPTIONS_INIT;
    o.server = e->primary.addr4;
    o.key = e->key;
    o.secondaries = e->secondaries;
    o.secondary_count = 2;
    o.on_published = on_published;
    o.userdata = e;
    FT_OK(fo_publisher_new(&e->pub, &e->loop, e->reg, &o));
  }
  e->a = ft_stack(e->reg, "a", 1, 0);
  e->b = ft_stack(e->reg, "b", 1, 0);
}

static void stop(env *e) {
  int closed = 0;
  fo_publisher_close(e->pub, count_cb, &closed);
  loop_done(&e->loop, NULL);
  cr_assert_eq(closed, 1);
  fo_registry_free(e->reg);
  fo_tsig_key_free(e->key);
  ft_dns_signal_stop(&e->primary);
  ft_dns_signal_stop(&e->knot2);
  ft_dns_signal_stop(&e->bind2);
  ft_dns_stop(&e->primary);
  ft_dns_stop(&e->knot2);
  ft_dns_stop(&e->bind2);
}

static fo_secondary_status status_of(env *e, size_t i) {
  fo_secondary_status st = FO_SECONDARY_STATUS_INIT;
  FT_OK(fo_publisher_secondary(e->pub, i, &st));
  return st;
}

/* Run the loop until both secondaries are in step with a serial past
 * `after`, or `ms` pass. Returns 1 when they are. */
static int both_in_step(env *e, uint32_t after, int ms) {
  double end = ft_dns_now_ms() + ms;
  uv_timer_t tick;
  int ok = 0;
  tick_start(&e->loop, &tick);
  while (!ok && ft_dns_now_ms() < end) {
    uv_run(&e->loop, UV_RUN_ONCE);
    fo_secondary_status s0 = status_of(e, 0), s1 = status_of(e, 1);
    ok = s0.in_step && s1.in_step && s0.target_serial != after &&
         s1.target_serial != after;
  }
  tick_stop(&e->loop, &tick);
  return ok;
}

/* What a server answers for a name, as a CNAME target (kdig +short). */
static int answers(const ft_dns_server *srv, const char *name,
                   const char *target) {
  char cmd[1024], out[512] = "";
  FILE *p;
  snprintf(cmd, sizeof cmd, "kdig +short +time=1 @127.0.0.1 -p %d %s CNAME",
           srv->port, name);
  p = popen(cmd, "r");
  cr_assert_not_null(p);
  if (fgets(out, sizeof out, p) == NULL)
    out[0] = '\0';
  pclose(p);
  out[strcspn(out, "\n")] = '\0';
  return strcmp(out, target) == 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

Test(publish_notify, secondaries_follow_within_tens_of_ms) {
  env e;
  start(&e);
  fo_group *g = ft_group(e.reg, e.a, e.b);
  char name[FO_NAME_BUFSIZE];
  ft_address(g, name);
  cr_assert(both_in_step(&e, 0, 10000), "secondaries not in step after 10 s");
  fo_secondary_status s0 = status_of(&e, 0), s1 = status_of(&e, 1);
  cr_log_info("create: knot secondary %.1f ms, bind secondary %.1f ms "
              "(serial %u, %u notifies / %u)",
              s0.lag_ms, s1.lag_ms, s0.serial, s0.notifies, s1.notifies);
  cr_assert_str_eq(s0.server, e.knot2.addr4);
  cr_assert_eq(s0.serial, s0.target_serial);
  cr_assert_eq(s0.error, 0, "%s", fo_err_name(s0.error));
  cr_assert_eq(s1.error, 0, "%s", fo_err_name(s1.error));
  cr_assert_geq(s0.notifies, 1);
  /* Without the publisher's NOTIFY the primary tells nobody: a lag under
   * Knot's own one-second delay shows that ours moved them. */
  cr_assert_lt(s0.lag_ms, 1500.0, "knot secondary lagged %.1f ms", s0.lag_ms);
  cr_assert_lt(s1.lag_ms, 1500.0, "bind secondary lagged %.1f ms", s1.lag_ms);
  char want[FO_NAME_BUFSIZE + 2];
  snprintf(want, sizeof want, "web1.a.%s.", FT_ZONE);
  cr_assert(answers(&e.knot2, name, want), "knot secondary lacks %s", name);
  cr_assert(answers(&e.bind2, name, want), "bind secondary lacks %s", name);

  /* Twenty switches: each on both secondaries; Knot's median in tens of
   * ms (without our NOTIFY: ~1 s at best). */
  double worst = 0, knot[20];
  for (int i = 0; i < 20; i++) {
    uint32_t before = status_of(&e, 0).target_serial;
    FT_OK(fo_group_switch(g, i % 2 ? FO_SLOT_PRIMARY : FO_SLOT_BACKUP, 0));
    FT_OK(fo_group_settle(g));
    cr_assert(both_in_step(&e, before, 10000), "switch %d: not in step", i);
    s0 = status_of(&e, 0);
    s1 = status_of(&e, 1);
    cr_log_info("switch %d: knot %.1f ms, bind %.1f ms", i, s0.lag_ms, s1.lag_ms);
    knot[i] = s0.lag_ms;
    if (s0.lag_ms > worst)
      worst = s0.lag_ms;
    if (s1.lag_ms > worst)
      worst = s1.lag_ms;
  }
  qsort(knot, 20, sizeof knot[0], cmp_double);
  cr_log_info("20 switches: knot median %.1f ms, worst secondary lag %.1f ms",
              (knot[9] + knot[10]) / 2, worst);
  if (!RUNNING_ON_VALGRIND && !ft_under_valgrind())
    cr_assert_lt((knot[9] + knot[10]) / 2, 50.0, "knot secondary median lag");
  cr_assert_lt(worst, 1500.0);
  stop(&e);
}

Test(publish_notify, a_secondary_down_catches_up_and_is_named) {
  env e;
  start(&e);
  fo_group *g = ft_group(e.reg, e.a, e.b);
  cr_assert(both_in_step(&e, 0, 10000));
  cr_assert_eq(ft_dns_halt(&e.knot2), 0, "%s", e.knot2.error);
  uint32_t before = status_of(&e, 0).target_serial;
  double t_switch = ft_dns_now_ms();
  FT_OK(fo_group_switch(g, FO_SLOT_BACKUP, 0));
  /* The BIND secondary follows; the Knot one is down: behind, an error. */
  double end = ft_dns_now_ms() + 5000;
  uv_timer_t tick;
  tick_start(&e.loop, &tick);
  while (ft_dns_now_ms() < end &&
         !(status_of(&e, 1).in_step && status_of(&e, 1).target_serial != before &&
           status_of(&e, 0).error != 0))
    uv_run(&e.loop, UV_RUN_ONCE);
  tick_stop(&e.loop, &tick);
  /* The primary had confirmed by now (the other secondary has it). */
  double t_confirmed_before = ft_dns_now_ms();
  fo_secondary_status down = status_of(&e, 0), up = status_of(&e, 1);
  cr_assert(up.in_step, "the running secondary did not follow");
  cr_assert(!down.in_step, "a stopped secondary reads in step");
  cr_assert_neq(down.error, 0, "no error for a stopped secondary");
  cr_assert_gt(down.lag_ms, 0.0);
  cr_log_info("down: lag so far %.0f ms, error %s", down.lag_ms,
              fo_err_name(down.error));
  /* Back: it is notified again (once a second) and catches up. */
  cr_assert_eq(ft_dns_restart(&e.knot2, 10000), 0, "%s", e.knot2.error);
  double t_back = ft_dns_now_ms();
  cr_assert(both_in_step(&e, before, 15000), "the restarted secondary did not catch up");
  down = status_of(&e, 0);
  cr_log_info("restarted secondary caught up, lag %.0f ms (down %.0f ms), %u notifies",
              down.lag_ms, t_back - t_switch, down.notifies);
  cr_assert_geq(down.lag_ms, t_back - t_confirmed_before,
                "the lag covers the time it was down");
  stop(&e);
}

Test(publish_notify, options_and_status_are_checked) {
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_registry *reg = registry(NULL);
  fo_tsig_key *k = key();
  char dead[64];
  dead_server(dead, sizeof dead);
  const char *bad[] = {"not-an-ip"};
  const char *many[17];
  for (int i = 0; i < 17; i++)
    many[i] = "127.0.0.1:9";
  fo_publisher_options o = FO_PUBLISHER_OPTIONS_INIT;
  fo_publisher *pub = NULL;
  o.server = dead;
  o.key = k;
  o.secondaries = bad;
  o.secondary_count = 1;
  FT_RC(fo_publisher_new(&pub, &loop, reg, &o), FO_EBADADDR);
  o.secondaries = many;
  o.secondary_count = 17;
  FT_RC(fo_publisher_new(&pub, &loop, reg, &o), FO_ERANGE);
  o.secondaries = NULL;
  o.secondary_count = 1;
  FT_RC(fo_publisher_new(&pub, &loop, reg, &o), FO_EINVAL);
  /* A version-1 caller's struct: no secondaries, read no further. */
  void *v1 = malloc(offsetof(fo_publisher_options, secondaries));
  o.version = 1;
  memcpy(v1, &o, offsetof(fo_publisher_options, secondaries));
  o.version = FO_PUBLISHER_OPTIONS_VERSION;
  FT_OK(fo_publisher_new(&pub, &loop, reg, v1));
  free(v1);
  size_t n = 9;
  FT_OK(fo_publisher_secondary_count(pub, &n));
  cr_assert_eq(n, 0);
  fo_secondary_status st = FO_SECONDARY_STATUS_INIT;
  FT_RC(fo_publisher_secondary(pub, 0, &st), FO_ERANGE);
  st.version = 2;
  FT_RC(fo_publisher_secondary(pub, 0, &st), FO_EVERSION);
  FT_RC(fo_publisher_secondary(NULL, 0, &st), FO_EINVAL);
  FT_RC(fo_publisher_secondary_count(pub, NULL), FO_EINVAL);
  int closed = 0;
  fo_publisher_close(pub, count_cb, &closed);
  /* With secondaries, nothing published yet: not in step, no target. */
  o.secondaries = many;
  o.secondary_count = 2;
  o.notify_key = k;
  FT_OK(fo_publisher_new(&pub, &loop, reg, &o));
  FT_OK(fo_publisher_secondary_count(pub, &n));
  cr_assert_eq(n, 2);
  st.version = FO_SECONDARY_STATUS_VERSION;
  FT_OK(fo_publisher_secondary(pub, 1, &st));
  cr_assert_eq(st.target_serial, 0);
  cr_assert_eq(st.in_step, 0);
  cr_assert_eq(st.lag_ms, -1.0);
  cr_assert_str_eq(st.server, "127.0.0.1:9");
  fo_publisher_close(pub, count_cb, &closed);
  loop_done(&loop, NULL);
  cr_assert_eq(closed, 2);
  fo_registry_free(reg);
  fo_tsig_key_free(k);
}

/* ---- switchovers over mixed secondaries ------------------------------------ */

typedef struct sw_done {
  int done;
  fo_switchover_report r;
  double server_ms[3];
  size_t servers;
} sw_done;

static void on_sw(const fo_switchover_report *r, void *userdata) {
  sw_done *d = userdata;
  d->r = *r;
  d->servers = r->servers;
  for (size_t i = 0; i < r->servers && i < 3; i++)
    d->server_ms[i] = fo_switchover_report_server(r, i)->all_matched_ms;
  d->done = 1;
}

/* A verifier asking the primary and both secondaries. */
static fo_verifier *all_servers(env *e) {
  const char *servers[3] = {e->primary.addr4, e->knot2.addr4, e->bind2.addr4};
  fo_verifier_options vo = FO_VERIFIER_OPTIONS_INIT;
  fo_verifier *v;
  vo.servers = servers;
  vo.server_count = 3;
  vo.max_in_flight = 1000;
  FT_OK(fo_verifier_new(&v, &e->loop, &vo));
  return v;
}

static sw_done run_switchover(env *e, fo_verifier *v, fo_group *single,
                              fo_stack *lost, int ms) {
  sw_done d;
  watchdog wd;
  memset(&d, 0, sizeof d);
  if (single != NULL)
    FT_OK(fo_switchover_group(NULL, e->pub, v, single, FO_SLOT_BACKUP,
                              FT_SWOPTS(0, (uint32_t)ms), on_sw, &d));
  else
    FT_OK(fo_switchover_stack(NULL, e->pub, v, lost, FT_SWOPTS(0, (uint32_t)ms),
                              on_sw, &d));
  watchdog_start(&e->loop, &wd, (uint64_t)ms + 5000);
  run_until(&e->loop, &wd, &d.done, 1);
  uv_close((uv_handle_t *)&wd.t, NULL);
  uv_run(&e->loop, UV_RUN_NOWAIT);
  cr_assert(d.done, "no switchover report");
  return d;
}

Test(publish_notify, bulk_switch_of_10000_groups_reaches_every_server) {
  env e;
  start(&e);
  fo_verifier *v = all_servers(&e);
  /* Under valgrind a tenth: the run checks memory, not the time. */
  size_t n = RUNNING_ON_VALGRIND || ft_under_valgrind() ? 1000 : 10000;
  FT_OK(fo_registry_batch_begin(e.reg));
  for (size_t i = 0; i < n; i++)
    ft_group(e.reg, e.a, e.b);
  FT_OK(fo_registry_batch_commit(e.reg));
  cr_assert(both_in_step(&e, 0, 60000), "10,000 groups not on the secondaries");
  double t0 = ft_dns_now_ms();
  sw_done d = run_switchover(&e, v, NULL, e.a, 60000);
  cr_log_info("10,000 groups: published %.0f ms, every server %.0f ms "
              "(primary %.0f, knot %.0f, bind %.0f), wall %.0f ms",
              d.r.published_ms, d.r.all_matched_ms, d.server_ms[0],
              d.server_ms[1], d.server_ms[2], ft_dns_now_ms() - t0);
  FT_OK(d.r.error);
  cr_assert_eq(d.r.groups, n);
  cr_assert_eq(d.r.failed, 0);
  cr_assert_eq(d.servers, 3);
  for (int i = 0; i < 3; i++)
    cr_assert(d.server_ms[i] >= 0 && d.server_ms[i] <= d.r.all_matched_ms + 0.01,
              "server %d: %.1f ms", i, d.server_ms[i]);
  int closed = 0;
  fo_verifier_close(v, count_cb, &closed);
  stop(&e);
}

Test(publish_notify, a_secondary_down_during_a_switchover_is_named) {
  env e;
  start(&e);
  fo_verifier *v = all_servers(&e);
  fo_group *g = ft_group(e.reg, e.a, e.b);
  cr_assert(both_in_step(&e, 0, 10000));
  /* BIND down while the switch goes out; back 1.5 s later. */
  cr_assert_eq(ft_dns_halt(&e.bind2), 0, "%s", e.bind2.error);
  sw_done d;
  memset(&d, 0, sizeof d);
  FT_OK(fo_switchover_group(NULL, e.pub, v, g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 20000), on_sw, &d));
  watchdog wd;
  watchdog_start(&e.loop, &wd, 1500);
  run_until(&e.loop, &wd, &wd.fired, 1);
  uv_close((uv_handle_t *)&wd.t, NULL);
  uv_run(&e.loop, UV_RUN_NOWAIT);
  cr_assert(!d.done, "reported while a server was down");
  cr_assert_eq(ft_dns_restart(&e.bind2, 10000), 0, "%s", e.bind2.error);
  watchdog_start(&e.loop, &wd, 25000);
  run_until(&e.loop, &wd, &d.done, 1);
  uv_close((uv_handle_t *)&wd.t, NULL);
  uv_run(&e.loop, UV_RUN_NOWAIT);
  cr_assert(d.done, "no report after the secondary came back");
  FT_OK(d.r.error);
  cr_log_info("secondary down: primary %.0f ms, knot %.0f ms, bind %.0f ms",
              d.server_ms[0], d.server_ms[1], d.server_ms[2]);
  cr_assert_gt(d.server_ms[2], 1400.0, "the lagging server is the one that was down");
  cr_assert_lt(d.server_ms[0], d.server_ms[2]);
  cr_assert_lt(d.server_ms[1], d.server_ms[2]);
  /* Its SOA is asked every 10 ms: in step right after, if not already. */
  fo_secondary_status st = status_of(&e, 1);
  double until = ft_dns_now_ms() + 5000;
  uv_timer_t tick;
  tick_start(&e.loop, &tick);
  while (!st.in_step && ft_dns_now_ms() < until) {
    uv_run(&e.loop, UV_RUN_ONCE);
    st = status_of(&e, 1);
  }
  tick_stop(&e.loop, &tick);
  cr_assert(st.in_step, "the BIND secondary is in step again");
  int closed = 0;
  fo_verifier_close(v, count_cb, &closed);
  stop(&e);
}
