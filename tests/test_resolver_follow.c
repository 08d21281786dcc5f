/*
 * test_resolver_follow.c - the switchover's "resolvers follow by" bound,
 * held against a real resolver: Unbound on loopback with a stub zone
 * pointing at a knotd primary. Before each switch the resolver caches the
 * name; in half of the rounds the TTL is first raised, the longer-lived
 * copy cached, and the TTL lowered again just before the switch (a bound
 * taken from the TTL at the moment of the switch is then too short); in
 * some rounds the name is new, and the resolver had cached its NXDOMAIN
 * (the zone's negative TTL counts). Every round, the resolver must answer
 * the new target no later than the reported resolvers_follow_ms.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <failover/publish.h>

#include <valgrind/valgrind.h>

#include "dns_fixture.h"
#include "engine_support.h"
#include "store_faults_util.h"
#include "support.h"

/* At least 20 switches; under valgrind (minutes per round otherwise
 * spent on the same checks) 6: memory is what that run checks. */
#define ROUNDS_MAX 20
#define ROUNDS_SLOW 6
#define NEGATIVE_TTL 2 /* the zone's SOA MINIMUM, seconds */

/* ---- an Unbound on loopback ------------------------------------------------ */

typedef struct resolver {
  pid_t pid;
  int port;
  char dir[256];
} resolver;

/* The CNAME target the resolver answers for `name` ("" for none) and, if
 * `ttl` is not NULL, the TTL it gives it. */
static int resolver_answer(const resolver *r, const char *name, char *out,
                           size_t size, unsigned *ttl) {
  char cmd[768], line[512], owner[300], cls[16], type[16], target[300];
  unsigned t = 0;
  FILE *p;
  snprintf(cmd, sizeof cmd,
           "kdig +noall +answer +time=1 +retry=0 @127.0.0.1 -p %d %s CNAME "
           "2>/dev/null", r->port, name);
  out[0] = '\0';
  p = popen(cmd, "r");
  if (p == NULL)
    return -1;
  while (fgets(line, sizeof line, p) != NULL)
    if (sscanf(line, "%299s %u %15s %15s %299s", owner, &t, cls, type,
               target) == 5 && strcmp(type, "CNAME") == 0) {
      snprintf(out, size, "%s", target);
      if (ttl != NULL)
        *ttl = t;
    }
  return pclose(p) == 0 ? 0 : -1;
}

static int resolver_answers(const resolver *r, const char *name, char *out,
                            size_t size) {
  return resolver_answer(r, name, out, size, NULL);
}

static void resolver_start(resolver *r, int stub_port) {
  char conf[512], ans[256];
  FILE *f;
  snprintf(r->dir, sizeof r->dir, "/tmp/fo-unbound.XXXXXX");
  cr_assert_not_null(mkdtemp(r->dir));
  for (int attempt = 0; attempt < 5; attempt++) {
    r->port = ft_dns_pick_port(0);
    snprintf(conf, sizeof conf, "%s/unbound.conf", r->dir);
    f = fopen(conf, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "server:\n"
            "  interface: 127.0.0.1\n  port: %d\n  do-ip6: no\n"
            "  access-control: 127.0.0.0/8 allow\n"
            "  username: \"\"\n  chroot: \"\"\n  directory: \"%s\"\n"
            "  pidfile: \"%s/unbound.pid\"\n  use-syslog: no\n"
            "  logfile: \"\"\n  verbosity: 0\n  do-daemonize: no\n"
            "  module-config: \"iterator\"\n  qname-minimisation: no\n"
            "  do-not-query-localhost: no\n  prefetch: no\n"
            "  serve-expired: no\n  cache-min-ttl: 0\n"
            "  cache-max-negative-ttl: 3600\n"
            "stub-zone:\n  name: \"%s\"\n  stub-addr: 127.0.0.1@%d\n"
            "remote-control:\n  control-enable: no\n",
            r->port, r->dir, r->dir, FT_ZONE, stub_port);
    fclose(f);
    r->pid = fork();
    cr_assert_neq(r->pid, -1);
    if (r->pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      freopen("/dev/null", "w", stdout);
      freopen("/dev/null", "w", stderr);
      execl("/usr/sbin/unbound", "unbound", "-d", "-c", conf, (char *)NULL);
      _exit(127);
    }
    for (int i = 0; i < 100; i++) {
      usleep(50000);
      if (resolver_answers(r, "ns." FT_ZONE, ans, sizeof ans) == 0)
        return;
      if (waitpid(r->pid, NULL, WNOHANG) == r->pid)
        break;
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
  }
  cr_assert_fail("unbound did not start");
}

static void resolver_stop(resolver *r) {
  char cmd[300];
  kill(r->pid, SIGTERM);
  waitpid(r->pid, NULL, 0);
  snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
  (void)system(cmd);
}

/* ---- the switchovers ---------------------------------------------------------- */

typedef struct round_result {
  int done;
  fo_switchover_report r;
  double group_bound;
  double server_ms; /* the one server's all_matched_ms */
} round_result;

static void on_switched(const fo_switchover_report *r, void *userdata) {
  round_result *out = userdata;
  out->r = *r;
  out->group_bound = fo_switchover_report_group(r, 0)->resolvers_follow_ms;
  cr_assert_eq(r->servers, 1);
  cr_assert_null(fo_switchover_report_server(r, 1));
  out->server_ms = fo_switchover_report_server(r, 0)->all_matched_ms;
  out->done = 1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

Test(resolver_follow, unbound_follows_within_the_reported_bound) {
  static const char *const recs[] = {"web1.a 60 IN A 192.0.2.1",
                                     "web1.b 60 IN A 192.0.2.2", NULL};
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  ft_dns_server ns;
  resolver res;
  cfg.zone = FT_ZONE;
  cfg.records = recs;
  cfg.no_ipv6 = 1;
  cfg.soa_minimum = NEGATIVE_TTL;
  cr_assert_eq(ft_dns_start(&ns, FT_DNS_KNOT, &cfg), 0, "%s", ns.error);
  resolver_start(&res, ns.port);

  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_registry *reg = registry(NULL);
  char keyfile[600];
  snprintf(keyfile, sizeof keyfile, "%s/k.key", ns.dir);
  cr_assert_eq(ft_dns_write_key_file(&ns, keyfile), 0);
  fo_tsig_key *k;
  FT_OK(fo_tsig_key_load(&k, keyfile, NULL));
  fo_publisher_options po = FO_PUBLISHER_OPTIONS_INIT;
  po.server = ns.addr4;
  po.key = k;
  fo_publisher *pub;
  FT_OK(fo_publisher_new(&pub, &loop, reg, &po));
  fo_verifier *ver = verifier(&loop, ns.addr4, NULL);
  fo_stack *a = ft_stack(reg, "a", 1, 0), *b = ft_stack(reg, "b", 1, 0);
  watchdog wd;
  uv_timer_t tick;

  double margins[ROUNDS_MAX], worst_margin = 1e9;
  const int rounds =
      RUNNING_ON_VALGRIND || ft_under_valgrind() ? ROUNDS_SLOW : ROUNDS_MAX;
  int lowered_rounds = 0, new_name_rounds = 0;
  fo_group *g = NULL;
  char name[FO_NAME_BUFSIZE], got[512], want[300];
  for (int round = 0; round < rounds; round++) {
    int new_name = round % 6 == 0;
    int lowered = !new_name && round % 2 == 1;
    if (new_name) {
      /* A name the resolver asked for before it existed. */
      if (g != NULL)
        FT_OK(fo_group_detach(g, FO_SLOT_BACKUP, 0));
      fo_group *fresh;
      FT_OK(fo_group_create(&fresh, reg, NULL, NULL));
      ft_address(fresh, name);
      cr_assert_eq(resolver_answers(&res, name, got, sizeof got), 0);
      cr_assert_str_eq(got, "", "a reserved name answers %s", got);
      FT_OK(fo_group_attach(fresh, FO_SLOT_PRIMARY, a));
      FT_OK(fo_group_attach(fresh, FO_SLOT_BACKUP, b));
      FT_OK(fo_group_set_ttl(fresh, 1));
      g = fresh;
      new_name_rounds++;
    } else if (lowered) {
      /* The resolver caches a copy with TTL 3; then the TTL is lowered to
       * 1 and published, and the switch comes right after. */
      FT_OK(fo_group_set_ttl(g, 3));
    }
    /* Published, and cached by the resolver (except a new name's NXDOMAIN,
     * which stays cached). */
    {
      int pub_done = 0;
      uint64_t gen;
      fo_group_generation(g, &gen);
      watchdog_start(&loop, &wd, 10000);
      tick_start(&loop, &tick);
      while (!wd.fired && !pub_done) {
        fo_publish_status st = FO_PUBLISH_STATUS_INIT;
        uv_run(&loop, UV_RUN_ONCE);
        FT_OK(fo_publisher_group_status(pub, g, &st));
        pub_done = st.state == FO_PUBLISH_PUBLISHED;
      }
      tick_stop(&loop, &tick);
      uv_close((uv_handle_t *)&wd.t, NULL);
      uv_run(&loop, UV_RUN_NOWAIT); /* closed before the next start */
      cr_assert(pub_done, "round %d: not published", round);
    }
    if (lowered) {
      /* Until the resolver holds the TTL-3 copy (its TTL-1 copy of the
       * round before must run out first). */
      unsigned ttl = 0;
      double until = ft_dns_now_ms() + 5000;
      while (ttl < 2 && ft_dns_now_ms() < until) {
        cr_assert_eq(resolver_answer(&res, name, got, sizeof got, &ttl), 0);
        if (ttl < 2)
          usleep(100000);
      }
      cr_assert_geq(ttl, 2, "round %d: the resolver did not take TTL 3", round);
    } else if (!new_name) {
      cr_assert_eq(resolver_answers(&res, name, got, sizeof got), 0);
    }
    if (lowered) {
      FT_OK(fo_group_set_ttl(g, 1));
      lowered_rounds++;
    }
    fo_slot active;
    FT_OK(fo_group_active_slot(g, &active));
    fo_slot to = active == FO_SLOT_PRIMARY ? FO_SLOT_BACKUP : FO_SLOT_PRIMARY;
    snprintf(want, sizeof want, "web1.%s.%s.", to == FO_SLOT_PRIMARY ? "a" : "b",
             FT_ZONE);

    round_result rr;
    memset(&rr, 0, sizeof rr);
    double t0 = ft_dns_now_ms();
    FT_OK(fo_switchover_group(NULL, pub, ver, g, to, FT_SWOPTS(0, 20000),
                              on_switched, &rr));
    watchdog_start(&loop, &wd, 25000);
    run_until(&loop, &wd, &rr.done, 1);
    uv_close((uv_handle_t *)&wd.t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert(rr.done, "round %d: no report", round);
    FT_OK(rr.r.error);
    cr_assert_geq(rr.r.resolvers_follow_ms, rr.r.all_matched_ms + 1000.0);
    cr_assert_eq(rr.r.resolvers_follow_ms, rr.group_bound);
    cr_assert(rr.server_ms >= 0 && rr.server_ms <= rr.r.all_matched_ms,
              "the server's time %.1f ms, all matched at %.1f ms", rr.server_ms,
              rr.r.all_matched_ms);
    /* Poll the resolver (its cache only: an answer it holds is not
     * refreshed by asking) until it answers the new target. The bound is
     * broken when a query sent after it still gets the old answer: what
     * counts is when the last query with the old answer was sent (the
     * resolver looked at its cache after that, before answering). */
    double followed = -1, last_old_sent = 0;
    while (ft_dns_now_ms() - t0 < rr.r.resolvers_follow_ms + 5000) {
      double sent = ft_dns_now_ms() - t0;
      if (resolver_answers(&res, name, got, sizeof got) == 0 &&
          strcmp(got, want) == 0) {
        followed = sent;
        break;
      }
      last_old_sent = sent;
      usleep(10000);
    }
    cr_assert_geq(followed, 0, "round %d: the resolver never followed", round);
    margins[round] = rr.r.resolvers_follow_ms - last_old_sent;
    cr_log_info("round %2d (%s): last old answer to a query sent at %6.0f ms, "
                "new at %6.0f ms; bound %6.0f ms, margin %6.0f ms", round,
                new_name ? "new name" : lowered ? "TTL lowered" : "plain",
                last_old_sent, followed, rr.r.resolvers_follow_ms,
                margins[round]);
    cr_assert_leq(last_old_sent, rr.r.resolvers_follow_ms,
                  "round %d: a query sent at %.0f ms still got the old target, "
                  "past the reported bound of %.0f ms", round, last_old_sent,
                  rr.r.resolvers_follow_ms);
    if (margins[round] < worst_margin)
      worst_margin = margins[round];
  }
  qsort(margins, (size_t)rounds, sizeof margins[0], cmp_double);
  cr_log_info("%d switches (%d after a lowered TTL, %d on new names): worst "
              "margin %.0f ms, median %.0f ms", rounds, lowered_rounds,
              new_name_rounds, worst_margin,
              (margins[rounds / 2 - 1] + margins[rounds / 2]) / 2);

  int closed = 0;
  fo_publisher_close(pub, count_cb, &closed);
  fo_verifier_close(ver, count_cb, &closed);
  loop_done(&loop, NULL);
  cr_assert_eq(closed, 2);
  fo_registry_free(reg);
  fo_tsig_key_free(k);
  resolver_stop(&res);
  ft_dns_stop(&ns);
}
