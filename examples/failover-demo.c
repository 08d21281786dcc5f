/*
 * failover-demo - the product's headline as one program, against a real
 * authoritative DNS server:
 *
 *   failover-demo @127.0.0.1:5300 --zone failover.example.net \
 *                 --key-file demo.key [--secondary @127.0.0.1:5301 ...]
 *
 * It builds a registry for the zone with two stacks, "shop" and "shop-dr"
 * (each with a web server web1), and a failover group with shop as primary
 * and shop-dr as backup; then, with a publisher (RFC 2136 UPDATE signed
 * with the TSIG key) and a verifier asking every server given:
 *
 *   1. publishes the group and shows what each server answers;
 *   2. adds a load balancer to shop: the group follows on its own;
 *   3. switches to the backup with fo_switchover_group() and prints the
 *      timings (published, first server, every server, resolvers);
 *   4. removes the group again (the zone is left as it was found).
 *
 * The zone must hold the stacks' host names (web1.shop.ZONE,
 * lb1.shop.ZONE, web1.shop-dr.ZONE), or the CNAMEs would dangle; .ci/demo
 * starts a knotd with such a zone. Exit status: 0 when every step was
 * confirmed by every server, 1 otherwise, 2 on a usage error.
 *
 * Only public headers: <failover.h> and <failover/publish.h> (which brings
 * <failover/verify.h> and <uv.h>).
 */
#define _POSIX_C_SOURCE 200809L

#include <failover.h>
#include <failover/publish.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERVERS 8

static const char *prog = "failover-demo";

typedef struct demo {
  uv_loop_t loop;
  uv_timer_t deadline;
  int timed_out;
  fo_registry *reg;
  fo_publisher *pub;
  fo_verifier *ver;
  int pub_error;   /* on_error */
  int closed;
  /* the step being waited for */
  int check_done;
  int check_ok;
  int switch_done;
  fo_switchover_report report;
  uint32_t wait_ms;
} demo;

static void usage(FILE *f) {
  fprintf(f,
          "usage: %s @PRIMARY[:PORT] --zone ZONE --key-file FILE\n"
          "          [--key-name NAME] [--secondary @SERVER[:PORT]]...\n"
          "          [--timeout SECONDS]\n"
          "\n"
          "Publishes a failover group into ZONE on the primary (RFC 2136,\n"
          "TSIG key from FILE: `key \"name\" { ... };` as tsig-keygen writes,\n"
          "or what `keymgr -t NAME hmac-sha256` prints), adds a load\n"
          "balancer, switches to the backup stack and removes the group,\n"
          "checking every step on the primary and each secondary.\n"
          "The zone must hold web1.shop, lb1.shop and web1.shop-dr.\n",
          prog);
}

static int usage_error(const char *what, const char *arg) {
  fprintf(stderr, "%s: %s%s%s%s\n\n", prog, what, arg ? " '" : "",
          arg ? arg : "", arg ? "'" : "");
  usage(stderr);
  return 2;
}

/* ---- the loop --------------------------------------------------------------- */

static void deadline_cb(uv_timer_t *t) {
  demo *d = t->data;
  d->timed_out = 1;
  uv_stop(&d->loop);
}

/* Run until *flag is set, the publisher stops, or the step's time is up. */
static int run_until(demo *d, const int *flag) {
  d->timed_out = 0;
  uv_timer_start(&d->deadline, deadline_cb, d->wait_ms, 0);
  while (!*flag && !d->timed_out && d->pub_error == 0)
    uv_run(&d->loop, UV_RUN_ONCE);
  uv_timer_stop(&d->deadline);
  return *flag ? 0 : -1;
}

static void on_error(int error, void *userdata) {
  demo *d = userdata;
  d->pub_error = error;
  fprintf(stderr, "%s: the publisher stopped: %s (%s)\n", prog,
          fo_err_name(error), fo_strerror(error));
}

/* ---- steps --------------------------------------------------------------------- */

static double now_ms(void) { return (double)uv_hrtime() / 1e6; }

/* Every change confirmed by the primary? */
static int wait_published(demo *d, const char *what) {
  double t0 = now_ms();
  size_t n = 1;
  d->timed_out = 0;
  uv_timer_start(&d->deadline, deadline_cb, d->wait_ms, 0);
  for (;;) {
    if (fo_publisher_pending(d->pub, &n) != 0 || n == 0 || d->timed_out ||
        d->pub_error != 0)
      break;
    uv_run(&d->loop, UV_RUN_ONCE);
  }
  uv_timer_stop(&d->deadline);
  if (n != 0) {
    printf("  publish (%s): NOT confirmed: %zu change(s) pending%s%s\n", what,
           n, d->pub_error ? ", publisher stopped: " : " after the timeout",
           d->pub_error ? fo_strerror(d->pub_error) : "");
    return -1;
  }
  printf("  publish (%s): confirmed by the primary in %.1f ms\n", what,
         now_ms() - t0);
  return 0;
}

static void print_answer(const fo_server_answer *a) {
  printf("  @%-22s %-9s", a->server, fo_verify_status_name(a->status));
  if (a->chain_length > 1)
    printf(" CNAME %s.", a->chain[1]);
  else if (a->address_count > 0)
    printf(" %s", a->addresses[0]);
  else
    printf(" (no records)");
  if (a->ttl > 0)
    printf("  TTL %lu", (unsigned long)a->ttl);
  if (a->rtt_ms >= 0.0)
    printf("  rtt %.2f ms", a->rtt_ms);
  if (a->first_match_ms >= 0.0 && a->rounds > 1)
    printf("  (matched after %.0f ms, %lu rounds)", a->first_match_ms,
           (unsigned long)a->rounds);
  printf("\n");
}

static void check_cb(const fo_verify_result *r, void *userdata) {
  demo *d = userdata;
  for (size_t i = 0; i < r->server_count; i++)
    print_answer(fo_verify_result_server(r, i));
  d->check_ok = r->error == 0 && r->status == FO_VERIFY_MATCH;
  if (!d->check_ok)
    printf("  verify: NOT matched: %s%s%s\n", fo_verify_status_name(r->status),
           r->error ? ", " : "", r->error ? fo_strerror(r->error) : "");
  else
    printf("  verify: every server matches (%.1f ms)\n", r->converged_ms);
  d->check_done = 1;
}

/* Ask every server what the group's name points at, until they all say
 * what the model says (secondaries may need a NOTIFY round). */
static int verify_group(demo *d, fo_group *g) {
  fo_target t = FO_TARGET_INIT;
  fo_group_target(g, &t);
  if (t.none == FO_NONE_NOT)
    printf("  expect: CNAME %s.\n", t.host_name);
  else
    printf("  expect: no records (%s)\n", fo_none_reason_name(t.none));
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  p.until_ms = d->wait_ms;
  p.interval_ms = 50;
  d->check_done = d->check_ok = 0;
  int rc = fo_verify_group(NULL, d->ver, g, &p, check_cb, d);
  if (rc != 0) {
    printf("  verify: cannot start: %s\n", fo_strerror(rc));
    return -1;
  }
  if (run_until(d, &d->check_done) != 0) {
    printf("  verify: no result in time\n");
    return -1;
  }
  return d->check_ok ? 0 : -1;
}

static void switch_cb(const fo_switchover_report *r, void *userdata) {
  demo *d = userdata;
  d->report = *r;
  d->switch_done = 1;
}

static int do_switch(demo *d, fo_group *g) {
  d->switch_done = 0;
  fo_switchover_options o = FO_SWITCHOVER_OPTIONS_INIT;
  o.until_ms = d->wait_ms;
  int rc = fo_switchover_group(NULL, d->pub, d->ver, g, FO_SLOT_BACKUP, &o,
                               switch_cb, d);
  if (rc != 0) {
    printf("  switch: refused: %s (%s)\n", fo_err_name(rc), fo_strerror(rc));
    return -1;
  }
  fo_state st;
  fo_group_state(g, &st);
  printf("  switch: group is %s\n", fo_state_name(st));
  if (run_until(d, &d->switch_done) != 0) {
    printf("  switch: no report in time\n");
    return -1;
  }
  const fo_switchover_report *r = &d->report;
  printf("  published after            %8.1f ms\n", r->published_ms);
  printf("  first server matched after %8.1f ms\n", r->first_match_ms);
  printf("  all servers matched after  %8.1f ms\n", r->all_matched_ms);
  printf("  resolvers follow within    %8.1f ms (+ TTL %lu s; promise: "
         "300000 ms)\n",
         r->resolvers_follow_ms, (unsigned long)r->ttl);
  fo_group_state(g, &st);
  printf("  switch: %zu group(s), %zu failed%s%s; group is %s\n", r->groups,
         r->failed, r->error ? ": " : "", r->error ? fo_strerror(r->error) : "",
         fo_state_name(st));
  return r->error == 0 && r->failed == 0 && st == FO_GROUP_SERVING &&
                 r->resolvers_follow_ms < 300000.0
             ? 0
             : -1;
}

static void closed_cb(void *userdata) { ((demo *)userdata)->closed++; }

/* ---- main ------------------------------------------------------------------------ */

static int step_result(int *ok, int rc) {
  if (rc != 0)
    *ok = 0;
  return rc;
}

int main(int argc, char **argv) {
  const char *primary = NULL, *zone = NULL, *key_file = NULL,
             *key_name = NULL;
  const char *servers[MAX_SERVERS];
  size_t nservers = 0;
  long timeout_s = 30;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--zone") == 0 && i + 1 < argc) {
      zone = argv[++i];
    } else if (strcmp(a, "--key-file") == 0 && i + 1 < argc) {
      key_file = argv[++i];
    } else if (strcmp(a, "--key-name") == 0 && i + 1 < argc) {
      key_name = argv[++i];
    } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
      char *end;
      timeout_s = strtol(argv[++i], &end, 10);
      if (*end || timeout_s < 1 || timeout_s > 300)
        return usage_error("bad --timeout (1..300 seconds)", argv[i]);
    } else if (strcmp(a, "--secondary") == 0 && i + 1 < argc) {
      const char *s = argv[++i];
      if (s[0] != '@' || !s[1])
        return usage_error("a server is @IP[:PORT]", s);
      if (nservers + 1 >= MAX_SERVERS)
        return usage_error("too many servers", s);
      if (nservers == 0)
        nservers = 1; /* slot 0 is the primary's */
      servers[nservers++] = s + 1;
    } else if (a[0] == '@' && a[1] && !primary) {
      primary = a + 1;
    } else {
      return usage_error("unexpected argument", a);
    }
  }
  if (!primary)
    return usage_error("no primary server (@IP[:PORT])", NULL);
  if (!zone)
    return usage_error("no --zone", NULL);
  if (!key_file)
    return usage_error("no --key-file", NULL);
  servers[0] = primary;
  if (nservers == 0)
    nservers = 1;

  fo_tsig_key *key = NULL;
  int rc = fo_tsig_key_load(&key, key_file, key_name);
  if (rc != 0) {
    fprintf(stderr, "%s: cannot load key %s%s from %s: %s\n", prog,
            key_name ? "named " : "", key_name ? key_name : "", key_file,
            fo_strerror(rc));
    return 1;
  }
  const char *kname = "";
  fo_tsig_key_name(key, &kname);

  demo d;
  memset(&d, 0, sizeof d);
  d.wait_ms = (uint32_t)timeout_s * 1000u;
  int ok = 1;

  printf("%s %s: zone %s, primary %s", prog, fo_version_string(), zone,
         primary);
  for (size_t i = 1; i < nservers; i++)
    printf(", secondary %s", servers[i]);
  printf(", key %s\n", kname);

  /* The model: a registry, two stacks, one group. */
  fo_registry_options ro = FO_REGISTRY_OPTIONS_INIT;
  ro.zone = zone;
  fo_stack *shop = NULL, *dr = NULL;
  fo_group *g = NULL;
  if ((rc = fo_registry_new(&d.reg, &ro)) != 0 ||
      (rc = fo_stack_new(&shop, d.reg, "shop")) != 0 ||
      (rc = fo_stack_add_server(shop, FO_SERVER_WEB, "web1", NULL)) != 0 ||
      (rc = fo_stack_new(&dr, d.reg, "shop-dr")) != 0 ||
      (rc = fo_stack_add_server(dr, FO_SERVER_WEB, "web1", NULL)) != 0 ||
      (rc = fo_group_create(&g, d.reg, shop, dr)) != 0) {
    fprintf(stderr, "%s: model: %s (%s)\n", prog, fo_err_name(rc),
            fo_strerror(rc));
    fo_registry_free(d.reg);
    fo_tsig_key_free(key);
    return 1;
  }
  char addr[FO_NAME_BUFSIZE];
  fo_group_address(g, addr, sizeof addr);
  printf("\ngroup %s: primary shop (web1), backup shop-dr (web1)\n", addr);

  /* The engines, on our loop. */
  if (uv_loop_init(&d.loop) != 0 || uv_timer_init(&d.loop, &d.deadline) != 0) {
    fprintf(stderr, "%s: cannot set up the event loop\n", prog);
    return 1;
  }
  d.deadline.data = &d;
  fo_publisher_options po = FO_PUBLISHER_OPTIONS_INIT;
  po.server = primary;
  po.key = key;
  po.on_error = on_error;
  po.userdata = &d;
  fo_verifier_options vo = FO_VERIFIER_OPTIONS_INIT;
  vo.servers = servers;
  vo.server_count = nservers;
  if ((rc = fo_publisher_new(&d.pub, &d.loop, d.reg, &po)) != 0) {
    fprintf(stderr, "%s: publisher: %s (%s)\n", prog, fo_err_name(rc),
            fo_strerror(rc));
    ok = 0;
  } else if ((rc = fo_verifier_new(&d.ver, &d.loop, &vo)) != 0) {
    fprintf(stderr, "%s: verifier: %s (%s)\n", prog, fo_err_name(rc),
            fo_strerror(rc));
    ok = 0;
  }
  fo_tsig_key_free(key); /* the publisher has its own copy */

  if (ok) {
    printf("\n1. publish the group\n");
    rc = fo_publisher_publish_all(d.pub);
    if (step_result(&ok, rc) == 0 &&
        step_result(&ok, wait_published(&d, "create")) == 0)
      step_result(&ok, verify_group(&d, g));
  }
  if (ok) {
    printf("\n2. add a load balancer to shop: the group follows\n");
    rc = fo_stack_add_server(shop, FO_SERVER_LOAD_BALANCER, "lb1", NULL);
    if (rc != 0)
      printf("  add lb1: %s\n", fo_strerror(rc));
    if (step_result(&ok, rc) == 0 &&
        step_result(&ok, wait_published(&d, "load balancer")) == 0)
      step_result(&ok, verify_group(&d, g));
  }
  if (ok) {
    printf("\n3. switch to the backup stack (shop-dr)\n");
    step_result(&ok, do_switch(&d, g));
    printf("\n   and what the servers answer now:\n");
    step_result(&ok, verify_group(&d, g));
  }
  /* Clean up: leave the zone as we found it, whatever happened. */
  if (d.pub && d.pub_error == 0) {
    printf("\n4. remove the group (detach both stacks, delete)\n");
    fo_slot active = FO_SLOT_PRIMARY;
    fo_group_active_slot(g, &active);
    fo_slot other = active == FO_SLOT_PRIMARY ? FO_SLOT_BACKUP
                                              : FO_SLOT_PRIMARY;
    if ((rc = fo_group_detach(g, other, 0)) != 0 ||
        (rc = fo_group_detach(g, active, 0)) != 0 ||
        (rc = fo_group_delete(g)) != 0) {
      printf("  %s\n", fo_strerror(rc));
      ok = 0;
    } else if (step_result(&ok, wait_published(&d, "delete")) == 0) {
      step_result(&ok, verify_group(&d, g));
    }
  }

  /* Close everything; the loop must end empty. */
  int want = 0;
  if (d.pub) {
    fo_publisher_close(d.pub, closed_cb, &d);
    want++;
  }
  if (d.ver) {
    fo_verifier_close(d.ver, closed_cb, &d);
    want++;
  }
  uv_close((uv_handle_t *)&d.deadline, NULL);
  uv_run(&d.loop, UV_RUN_DEFAULT);
  if (d.closed != want || uv_loop_close(&d.loop) != 0) {
    fprintf(stderr, "%s: handles left open at the end\n", prog);
    ok = 0;
  }
  fo_registry_free(d.reg);
  printf("\n%s: %s\n", prog,
         ok ? "every step confirmed by every server"
            : "FAILED: a step was not confirmed");
  return ok ? 0 : 1;
}
