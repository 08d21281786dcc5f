/*
 * bench_failover.c - how fast a data centre's failover groups move: the
 * publisher (RFC 2136 + TSIG) and the switch workflow against a real knotd
 * on loopback, compared with nsupdate sending the same changes; with
 * --secondaries, also a Knot and a BIND secondary of that knotd, kept in
 * step by the publisher's NOTIFYs and checked by the verifier.
 *
 * Starts knotd (tests/support/dns_fixture.c) with a zone holding the two
 * stacks' host names (and, with --secondaries, a knotd and a named
 * secondary of it), builds a registry with stacks dc1 and dc2 (one web
 * server each) and N groups (10,000 by default) on dc1 with dc2 as backup,
 * publishes them all (publish_all, waited for, not timed) and verifies
 * them on every server, then measures, in --passes passes (5):
 *
 *   switch   fo_switchover_stack() of the active stack: every group to the
 *            other stack, published, verified on every server, settled.
 *            publish_ms = report.published_ms; total_ms = the primary's
 *            all-matched time (fo_switchover_report_server(0)), verify_ms =
 *            total_ms - publish_ms; bulk_all_servers_ms = report.all_matched_ms
 *            (every server; the primary's alone without --secondaries).
 *   nsupdate the baseline: BIND's nsupdate (or knsupdate with --knsupdate)
 *            sends the changes that switch makes (delete + add CNAME per
 *            group, to the other stack's host) in messages of 250 changes,
 *            signed with the same key, one process, one `send` per message:
 *            wall time from start to exit. The zone is then put back by the
 *            publisher (publish_all, untimed) and the secondaries brought in
 *            step before anything else is timed.
 *
 * Fairness: knotd 3.2 times its zone events in whole seconds; an UPDATE
 * arriving less than 1 s after a commit, but in the next calendar second,
 * waits until 1 s after that commit. Every timed phase (each switch, each
 * nsupdate run, each single switch) therefore starts after the same idle
 * gap (--gap, 1,100 ms, the loop running) since the last UPDATE, the two
 * sides alternate which goes first from pass to pass, and the figures are
 * medians over the passes. A pass whose figure is more than STALL_MS (400)
 * over that figure's first quartile is counted as stalled, per figure
 * (shorter waits of the same cause are not counted: the timer can hold an
 * UPDATE anywhere from a few ms to 1 s).
 *
 *   single   fo_switchover_group() of one group, --single times (21), slots
 *            alternating, each after the idle gap (--single-gap, default
 *            --gap): median of the primary's all-matched time
 *            (single_switch_ms) and of all_matched_ms over every server
 *            (single_all_servers_ms).
 *
 * The last line is machine-readable:
 *
 *   failover: groups=N publish_ms=P verify_ms=V total_ms=T single_switch_ms=S single_all_servers_ms=A bulk_all_servers_ms=B nsupdate_ms=U
 *
 * (medians; without --secondaries A and B are the primary's: A = S, B = T).
 * Goals, printed PASS/MISS and never failing the run: total_ms <= 1,000;
 * publish_ms <= nsupdate_ms; single_switch_ms <= 20; single_all_servers_ms
 * <= 50; bulk_all_servers_ms <= 1,500.
 * Exit status 1 on a correctness failure (a group not published or not
 * verified, a failed call, a handle left open, a server or nsupdate
 * failing), 77 (skipped) when knotd, named (--secondaries) or the baseline
 * tool is not installed.
 *
 * Usage: bench-failover [--groups N] [--batch B] [--in-flight K]
 *                       [--single R] [--passes P] [--gap MS]
 *                       [--single-gap MS] [--interval MS]
 *                       [--verify-in-flight K] [--secondaries]
 *                       [--primary-notify] [--sweep] [--knsupdate]
 *                       [--no-baseline]
 *
 *   --batch, --in-flight  the publisher's batch_groups and max_in_flight
 *                         (default: the library's defaults, 250 and 16)
 *   --interval MS         the switchovers' interval_ms (library default 20)
 *   --verify-in-flight K  the verifier's max_in_flight, over all its
 *                         servers (library default 100)
 *   --secondaries         a Knot and a BIND secondary: the publisher NOTIFYs
 *                         them, the verifier asks all three servers
 *   --primary-notify      with --secondaries: knotd notifies both
 *                         secondaries itself too (about 1 s after each
 *                         change); by default it notifies nobody, so only
 *                         the publisher's NOTIFYs move them
 *   --sweep               first switch the whole stack back and forth once
 *                         per batch 50/100/250/500/1000 x in flight 1/4/16,
 *                         then measure with the fastest pair (unless
 *                         --batch or --in-flight was given)
 */
#define _POSIX_C_SOURCE 200809L

#include <failover.h>
#include <failover/publish.h>

#include "dns_fixture.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define Z FT_DNS_DEFAULT_ZONE
#define EXIT_SKIP 77
#define NSUPDATE_CHANGES 250
#define GOAL_TOTAL_MS 1000.0
#define GOAL_SINGLE_MS 20.0
#define GOAL_SINGLE_ALL_MS 50.0
#define GOAL_BULK_ALL_MS 1500.0
#define STALL_MS 400.0
#define MAX_SINGLE 101
#define MAX_PASSES 25
#define NSERVERS_MAX 3

typedef struct bench {
  uv_loop_t loop;
  uv_timer_t wd;
  int wd_fired;
  ft_dns_server srv;            /* the primary */
  ft_dns_server sec[2];         /* knot2, bind2 (--secondaries) */
  size_t nsec;
  const char *sec_addr[2];
  const char *label[NSERVERS_MAX]; /* primary, knot2, bind2 */
  size_t nservers;              /* the verifier's: 1 + nsec */
  fo_tsig_key *key;
  fo_registry *reg;
  fo_stack *dc1, *dc2;
  fo_group **g;
  size_t n;
  fo_publisher *pub;
  fo_verifier *ver;
  uint32_t interval_ms;
  int closed;
  int pub_error;
  int zone_dirty;               /* the primary holds what nsupdate sent */
  /* the operation waited for */
  int done;
  fo_switchover_report report;
  double server_ms[NSERVERS_MAX]; /* the report's per-server all_matched_ms */
  size_t checks_done, checks_bad;
  fo_verify_status first_bad;
} bench;

static int failures;

static void fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench-failover: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  failures++;
}

static void wd_cb(uv_timer_t *t) {
  bench *b = t->data;
  b->wd_fired = 1;
  uv_stop(&b->loop);
}

typedef int (*pred_fn)(bench *b);

/* Run the loop until pred() holds: 0, or -1 after ms or a publisher stop. */
static int run_until(bench *b, pred_fn pred, uint64_t ms) {
  b->wd_fired = 0;
  uv_timer_start(&b->wd, wd_cb, ms, 0);
  while (!pred(b) && !b->wd_fired && !b->pub_error)
    uv_run(&b->loop, UV_RUN_ONCE);
  uv_timer_stop(&b->wd);
  return pred(b) ? 0 : -1;
}

static int pred_never(bench *b) {
  (void)b;
  return 0;
}

/* Let the loop run for ms with nothing new started: the idle gap before a
 * timed phase (the publisher may still poll its secondaries). */
static void idle(bench *b, uint64_t ms) {
  if (ms == 0)
    return;
  int err = b->pub_error;
  (void)run_until(b, pred_never, ms);
  if (!err && b->pub_error)
    fail("publisher stopped during the idle gap");
}

static int pred_published(bench *b) {
  size_t n = 1;
  return fo_publisher_pending(b->pub, &n) == 0 && n == 0;
}
static int pred_done(bench *b) { return b->done; }
static int pred_checks(bench *b) { return b->checks_done >= b->n; }
static int pred_closed(bench *b) { return b->closed > 0; }

static void on_error(int error, void *userdata) {
  bench *b = userdata;
  b->pub_error = error;
  fprintf(stderr, "bench-failover: publisher stopped: %s\n",
          fo_strerror(error));
}

static void closed_cb(void *userdata) { ((bench *)userdata)->closed++; }

static int open_publisher(bench *b, uint32_t batch, uint32_t in_flight) {
  fo_publisher_options o = FO_PUBLISHER_OPTIONS_INIT;
  o.server = b->srv.addr4;
  o.key = b->key;
  o.batch_groups = batch;
  o.max_in_flight = in_flight;
  o.on_error = on_error;
  o.userdata = b;
  o.secondaries = b->nsec ? b->sec_addr : NULL;
  o.secondary_count = b->nsec;
  int rc = fo_publisher_new(&b->pub, &b->loop, b->reg, &o);
  if (rc != 0)
    fail("fo_publisher_new: %s", fo_strerror(rc));
  return rc;
}

static void close_publisher(bench *b) {
  /* Let switch operations that have reported release their handles first:
   * lib/engine/switch.c's op_free() reads the publisher's allocator, so closing
   * the publisher in the same loop pass as a switch report crashes
   * (reported; tests/support/publish_scenarios.c close_with_work shows
   * it). */
  uv_run(&b->loop, UV_RUN_NOWAIT);
  b->closed = 0;
  b->pub_error = 0; /* reported already; wait for the close regardless */
  fo_publisher_close(b->pub, closed_cb, b);
  b->pub = NULL;
  if (run_until(b, pred_closed, 10000) != 0)
    fail("publisher close: no closed callback");
}

static void check_cb(const fo_verify_result *r, void *userdata) {
  bench *b = userdata;
  b->checks_done++;
  if (r->error != 0 || r->status != FO_VERIFY_MATCH) {
    if (b->checks_bad++ == 0)
      b->first_bad = r->status;
  }
}

/* Every group, one round each, on every server (published already). */
static int verify_all(bench *b, double *ms) {
  b->checks_done = b->checks_bad = 0;
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  p.until_ms = 5000;
  p.interval_ms = 50;
  double t0 = ft_dns_now_ms();
  for (size_t i = 0; i < b->n; i++) {
    int rc = fo_verify_group(NULL, b->ver, b->g[i], &p, check_cb, b);
    if (rc != 0) {
      fail("fo_verify_group: %s", fo_strerror(rc));
      return -1;
    }
  }
  if (run_until(b, pred_checks, 30000) != 0 || b->checks_bad) {
    fail("verify: %s groups did not match (first: %s)",
         b->checks_bad ? "some" : "not all",
         fo_verify_status_name(b->first_bad));
    return -1;
  }
  *ms = ft_dns_now_ms() - t0;
  return 0;
}

/* Every secondary's SOA serial equals the primary's (asked directly, not
 * through the library). Blocks the loop for a few ms: untimed phases only. */
static int secondaries_in_step(bench *b) {
  uint32_t want, got;
  if (b->nsec == 0)
    return 1;
  if (ft_dns_soa_serial(b->srv.port, b->srv.zone, 500, &want) != 0)
    return 0;
  for (size_t i = 0; i < b->nsec; i++)
    if (ft_dns_soa_serial(b->sec[i].port, b->sec[i].zone, 500, &got) != 0 ||
        got != want)
      return 0;
  return 1;
}

/* Untimed: the primary holds what the registry says (put back by the
 * publisher after nsupdate changed it) and every secondary has the
 * primary's serial. The publisher's NOTIFYs after publish_all are what
 * brings the secondaries in step when nsupdate moved the primary. */
static int sync_zone(bench *b) {
  if (b->zone_dirty) {
    int rc = fo_publisher_publish_all(b->pub);
    if (rc != 0) {
      fail("fo_publisher_publish_all: %s", fo_strerror(rc));
      return -1;
    }
    if (run_until(b, pred_published, 60000) != 0) {
      fail("restore after nsupdate: not every group confirmed");
      return -1;
    }
    b->zone_dirty = 0;
  }
  double end = ft_dns_now_ms() + 20000;
  while (!secondaries_in_step(b)) {
    if (ft_dns_now_ms() > end) {
      fail("secondaries not in step with the primary after 20 s");
      return -1;
    }
    idle(b, 10);
  }
  return 0;
}

static void switch_cb(const fo_switchover_report *r, void *userdata) {
  bench *b = userdata;
  b->report = *r;
  for (size_t k = 0; k < NSERVERS_MAX; k++) {
    const fo_switchover_server_result *s = fo_switchover_report_server(r, k);
    b->server_ms[k] = s ? s->all_matched_ms : -1.0;
  }
  b->done = 1;
}

static void switch_options(const bench *b, fo_switchover_options *o,
                           uint32_t until_ms) {
  fo_switchover_options d = FO_SWITCHOVER_OPTIONS_INIT;
  *o = d;
  o->until_ms = until_ms;
  o->interval_ms = b->interval_ms;
}

/* Switch every group active on `from` to its other stack. */
static int switch_stack(bench *b, fo_stack *from) {
  b->done = 0;
  fo_switchover_options o;
  switch_options(b, &o, 60000);
  int rc = fo_switchover_stack(NULL, b->pub, b->ver, from, &o, switch_cb, b);
  if (rc != 0) {
    fail("fo_switchover_stack: %s", fo_strerror(rc));
    return -1;
  }
  if (run_until(b, pred_done, 90000) != 0) {
    fail("fo_switchover_stack: no report");
    return -1;
  }
  const fo_switchover_report *r = &b->report;
  if (r->error != 0 || r->failed != 0 || r->groups != b->n ||
      r->servers != b->nservers) {
    char what[160];
    snprintf(what, sizeof what, "%zu groups, %zu failed, %zu servers",
             r->groups, r->failed, r->servers);
    fail("fo_switchover_stack: %s: %s", what, fo_strerror(r->error));
    return -1;
  }
  return 0;
}

static int switch_one(bench *b, fo_group *g, fo_slot to) {
  b->done = 0;
  fo_switchover_options o;
  switch_options(b, &o, 10000);
  int rc = fo_switchover_group(NULL, b->pub, b->ver, g, to, &o, switch_cb, b);
  if (rc != 0) {
    fail("fo_switchover_group: %s", fo_strerror(rc));
    return -1;
  }
  if (run_until(b, pred_done, 20000) != 0 || b->report.error != 0 ||
      b->report.failed != 0 || b->report.servers != b->nservers) {
    fail("fo_switchover_group: %s", fo_strerror(b->report.error));
    return -1;
  }
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median of n values (sorted copy); -1 for none. */
static double median(const double *v, int n) {
  double s[MAX_SINGLE > MAX_PASSES ? MAX_SINGLE : MAX_PASSES];
  if (n <= 0)
    return -1;
  memcpy(s, v, (size_t)n * sizeof *v);
  qsort(s, (size_t)n, sizeof s[0], cmp_double);
  return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double min_of(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++)
    if (v[i] < m)
      m = v[i];
  return m;
}

static double max_of(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++)
    if (v[i] > m)
      m = v[i];
  return m;
}

/* Stalled passes: more than STALL_MS over the first quartile (the pass
 * at index (n-1)/4 in increasing order: the second fastest of 5, the
 * third of 9), so that a pass is judged against the unstalled ones even
 * when half of them stalled. */
static int stalls(const double *v, int n) {
  double s[MAX_SINGLE > MAX_PASSES ? MAX_SINGLE : MAX_PASSES];
  int k = 0;
  memcpy(s, v, (size_t)n * sizeof *v);
  qsort(s, (size_t)n, sizeof s[0], cmp_double);
  for (int i = 0; i < n; i++)
    if (v[i] > s[(n - 1) / 4] + STALL_MS)
      k++;
  return k;
}

static int have_program(const char *name) {
  const char *path = getenv("PATH");
  char buf[4096];
  snprintf(buf, sizeof buf, "%s:/usr/sbin:/usr/local/sbin:/sbin",
           path ? path : "/usr/bin:/bin");
  for (char *dir = strtok(buf, ":"); dir; dir = strtok(NULL, ":")) {
    char file[4200];
    snprintf(file, sizeof file, "%s/%s", dir, name);
    if (access(file, X_OK) == 0)
      return 1;
  }
  return 0;
}

/* The baseline: one nsupdate/knsupdate process sending every group's
 * change to the other stack's host (what a switch of the active stack
 * sends), NSUPDATE_CHANGES per message. The script is written first,
 * untimed. */
static int baseline(bench *b, const char *tool, double *ms) {
  char script[1024], out[1024];
  snprintf(script, sizeof script, "%s/bench-baseline.txt", b->srv.dir);
  snprintf(out, sizeof out, "%s/bench-baseline.log", b->srv.dir);
  FILE *f = fopen(script, "w");
  if (!f) {
    fail("cannot write %s", script);
    return -1;
  }
  fprintf(f, "server 127.0.0.1 %d\nzone %s.\n", b->srv.port, Z);
  for (size_t i = 0; i < b->n; i++) {
    char addr[FO_NAME_BUFSIZE];
    fo_slot active;
    fo_group_address(b->g[i], addr, sizeof addr);
    fo_group_active_slot(b->g[i], &active);
    /* To the stack that is not active now. */
    const char *host = active == FO_SLOT_PRIMARY ? "web1.dc2." Z "."
                                                 : "web1.dc1." Z ".";
    fprintf(f, "update delete %s. CNAME\nupdate add %s. 60 CNAME %s\n", addr,
            addr, host);
    if ((i + 1) % NSUPDATE_CHANGES == 0 || i + 1 == b->n)
      fprintf(f, "send\n");
  }
  if (fclose(f) != 0) {
    fail("cannot write %s", script);
    return -1;
  }
  char key[256];
  snprintf(key, sizeof key, "hmac-sha256:%s:%s", b->srv.key_name,
           b->srv.key_secret);
  fflush(stdout); /* or the child's stdio would write it out again */
  fflush(stderr);
  b->zone_dirty = 1; /* even a failed run may have changed some names */
  double t0 = ft_dns_now_ms();
  pid_t pid = fork();
  if (pid < 0) {
    fail("fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    FILE *o = freopen(out, "w", stdout);
    (void)o;
    dup2(1, 2);
    execlp(tool, tool, "-y", key, script, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  *ms = ft_dns_now_ms() - t0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    char msg[300] = "";
    FILE *l = fopen(out, "r");
    if (l) {
      size_t k = fread(msg, 1, sizeof msg - 1, l);
      msg[k] = '\0';
      fclose(l);
    }
    fail("%s failed: %s", tool, msg);
    return -1;
  }
  remove(script);
  remove(out);
  return 0;
}

/* The secondaries' lag as the publisher measured it (its own SOA polls),
 * into lag[i]; -1 when unknown. */
static void secondary_lags(bench *b, double *lag) {
  for (size_t i = 0; i < b->nsec; i++) {
    fo_secondary_status st = FO_SECONDARY_STATUS_INIT;
    lag[i] = fo_publisher_secondary(b->pub, i, &st) == 0 && st.in_step
                 ? st.lag_ms
                 : -1.0;
  }
}

static void print_servers(const bench *b) {
  for (size_t k = 0; k < b->nservers; k++)
    printf("%s %s %.1f", k ? "," : "", b->label[k], b->server_ms[k]);
}

static void usage(FILE *f) {
  fprintf(f, "usage: bench-failover [--groups N] [--batch B] [--in-flight K]\n"
             "                      [--single R] [--passes P] [--gap MS] "
             "[--single-gap MS]\n"
             "                      [--interval MS] [--verify-in-flight K] "
             "[--secondaries]\n"
             "                      [--primary-notify]\n"
             "                      [--sweep] [--knsupdate] "
             "[--no-baseline]\n");
}

static long arg_num(const char *s, long lo, long hi) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == '\0' || *end || v < lo || v > hi) {
    fprintf(stderr, "bench-failover: bad number '%s' (%ld..%ld)\n", s, lo, hi);
    exit(2);
  }
  return v;
}

/* The fixture's knotd notifies one port (remote "secondary"); add a
 * second remote "bind2" at `port` to its configuration and the zone's
 * notify list (Knot wants a remote defined before it is referred to, so
 * the lines go into the file), then `knotc reload`. */
static int notify_second(const ft_dns_server *srv, int port) {
  FILE *f = fopen(srv->conf, "r");
  char *text = NULL, *out = NULL;
  size_t len = 0, cap = 0;
  int rc = -1;
  if (!f)
    return -1;
  for (;;) {
    if (len + 4096 > cap) {
      char *p = realloc(text, cap = cap * 2 + 8192);
      if (!p)
        goto done;
      text = p;
    }
    size_t k = fread(text + len, 1, cap - len - 1, f);
    if (k == 0)
      break;
    len += k;
  }
  text[len] = '\0';
  const char *remote = strstr(text, "remote:\n");
  const char *notify = strstr(text, "    notify: secondary\n");
  if (!remote || !notify || notify < remote)
    goto done;
  out = malloc(len + 256);
  if (!out)
    goto done;
  remote += strlen("remote:\n");
  int n = snprintf(out, len + 256,
                   "%.*s  - id: bind2\n    address: 127.0.0.1@%d\n"
                   "%.*s    notify: [secondary, bind2]\n%s",
                   (int)(remote - text), text, port, (int)(notify - remote),
                   remote, notify + strlen("    notify: secondary\n"));
  FILE *w = fopen(srv->conf, "w");
  if (!w)
    goto done;
  if (fwrite(out, 1, (size_t)n, w) != (size_t)n) {
    fclose(w);
    goto done;
  }
  if (fclose(w) != 0)
    goto done;
  char cmd[1600];
  snprintf(cmd, sizeof cmd, "knotc -s '%s/knot.sock' reload >/dev/null 2>&1",
           srv->dir);
  fflush(stdout);
  rc = system(cmd) == 0 ? 0 : -1;
done:
  fclose(f);
  free(text);
  free(out);
  return rc;
}

/* Start the primary and, with --secondaries, a Knot and a BIND secondary
 * of it (ports picked first when the primary must notify them). */
static int start_servers(bench *b, int secondaries, int primary_notify) {
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  int port2[2] = {0, 0};
  cfg.records_text = "web1.dc1 60 A 192.0.2.1\nweb1.dc2 60 A 192.0.2.2";
  cfg.no_ipv6 = 1;
  if (secondaries && primary_notify) {
    for (int i = 0; i < 2; i++)
      if ((port2[i] = ft_dns_pick_port(0)) < 0 ||
          (i == 1 && port2[1] == port2[0])) {
        fprintf(stderr, "bench-failover: no free port\n");
        return -1;
      }
    cfg.notify_port = port2[0];
  }
  double t0 = ft_dns_now_ms();
  if (ft_dns_start(&b->srv, FT_DNS_KNOT, &cfg) != 0) {
    fprintf(stderr, "bench-failover: knotd: %s\n", b->srv.error);
    return -1;
  }
  if (secondaries && primary_notify && notify_second(&b->srv, port2[1]) != 0) {
    fprintf(stderr, "bench-failover: knotd: cannot add the second NOTIFY "
                    "target (%s, knotc reload)\n", b->srv.conf);
    return -1;
  }
  printf("knotd     %s (primary%s), ready in %.0f ms\n", b->srv.addr4,
         !secondaries     ? ""
         : primary_notify ? ", notifies both secondaries itself too"
                          : ", notifies nobody itself",
         ft_dns_now_ms() - t0);
  b->label[0] = "primary";
  b->nservers = 1;
  if (!secondaries)
    return 0;
  static const ft_dns_kind kinds[2] = {FT_DNS_KNOT, FT_DNS_BIND};
  static const char *const names[2] = {"knot2", "bind2"};
  for (int i = 0; i < 2; i++) {
    ft_dns_config s = FT_DNS_CONFIG_INIT;
    s.primary = &b->srv;
    s.no_ipv6 = 1;
    s.port = port2[i];
    t0 = ft_dns_now_ms();
    if (ft_dns_start(&b->sec[i], kinds[i], &s) != 0) {
      fprintf(stderr, "bench-failover: %s secondary: %s\n", names[i],
              b->sec[i].error);
      return -1;
    }
    printf("%-9s %s (%s secondary), ready in %.0f ms\n", names[i],
           b->sec[i].addr4, i == 0 ? "knotd" : "named",
           ft_dns_now_ms() - t0);
    b->sec_addr[i] = b->sec[i].addr4;
    b->label[1 + i] = names[i];
    b->nsec = (size_t)i + 1;
    b->nservers = 2 + (size_t)i;
  }
  return 0;
}

static void stop_servers(bench *b) {
  for (size_t i = 0; i < b->nsec; i++)
    ft_dns_signal_stop(&b->sec[i]);
  ft_dns_signal_stop(&b->srv);
  for (size_t i = 0; i < b->nsec; i++)
    ft_dns_stop(&b->sec[i]);
  ft_dns_stop(&b->srv);
}

int main(int argc, char **argv) {
  size_t n = 10000;
  uint32_t batch = 0, in_flight = 0;
  int single = 21, sweep = 0, no_baseline = 0, passes = 5;
  int secondaries = 0, primary_notify = 0;
  long gap = 1100, single_gap = -1, interval = 0, ver_in_flight = 0;
  const char *tool = "nsupdate";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--groups") == 0 && i + 1 < argc)
      n = (size_t)arg_num(argv[++i], 1, 1000000);
    else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
      batch = (uint32_t)arg_num(argv[++i], 1, 1000);
    else if (strcmp(argv[i], "--in-flight") == 0 && i + 1 < argc)
      in_flight = (uint32_t)arg_num(argv[++i], 1, 64);
    else if (strcmp(argv[i], "--single") == 0 && i + 1 < argc)
      single = (int)arg_num(argv[++i], 1, MAX_SINGLE);
    else if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc)
      passes = (int)arg_num(argv[++i], 1, MAX_PASSES);
    else if (strcmp(argv[i], "--gap") == 0 && i + 1 < argc)
      gap = arg_num(argv[++i], 0, 60000);
    else if (strcmp(argv[i], "--single-gap") == 0 && i + 1 < argc)
      single_gap = arg_num(argv[++i], 0, 60000);
    else if (strcmp(argv[i], "--interval") == 0 && i + 1 < argc)
      interval = arg_num(argv[++i], 1, 60000);
    else if (strcmp(argv[i], "--verify-in-flight") == 0 && i + 1 < argc)
      ver_in_flight = arg_num(argv[++i], 1, 4096);
    else if (strcmp(argv[i], "--secondaries") == 0)
      secondaries = 1;
    else if (strcmp(argv[i], "--primary-notify") == 0)
      primary_notify = 1;
    else if (strcmp(argv[i], "--sweep") == 0)
      sweep = 1;
    else if (strcmp(argv[i], "--knsupdate") == 0)
      tool = "knsupdate";
    else if (strcmp(argv[i], "--no-baseline") == 0)
      no_baseline = 1;
    else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (single_gap < 0)
    single_gap = gap;
  if (primary_notify && !secondaries) {
    fprintf(stderr, "bench-failover: --primary-notify needs --secondaries\n");
    return 2;
  }
  if (!have_program("knotd") || (!no_baseline && !have_program(tool)) ||
      (secondaries && !have_program("named"))) {
    printf("bench-failover: knotd, %s%s not installed: skipped\n", tool,
           secondaries ? " or named" : "");
    return EXIT_SKIP;
  }

  static bench B;
  bench *b = &B;
  b->n = n;
  b->interval_ms = (uint32_t)interval;
  if (start_servers(b, secondaries, primary_notify) != 0) {
    stop_servers(b);
    return 1;
  }

  int rc;
  fo_registry_options ro = FO_REGISTRY_OPTIONS_INIT;
  ro.zone = Z;
  if ((rc = fo_tsig_key_new(&b->key, b->srv.key_name, "hmac-sha256",
                            b->srv.key_secret)) != 0 ||
      (rc = fo_registry_new(&b->reg, &ro)) != 0 ||
      (rc = fo_stack_new(&b->dc1, b->reg, "dc1")) != 0 ||
      (rc = fo_stack_add_server(b->dc1, FO_SERVER_WEB, "web1", NULL)) != 0 ||
      (rc = fo_stack_new(&b->dc2, b->reg, "dc2")) != 0 ||
      (rc = fo_stack_add_server(b->dc2, FO_SERVER_WEB, "web1", NULL)) != 0) {
    fprintf(stderr, "bench-failover: setup: %s\n", fo_strerror(rc));
    stop_servers(b);
    return 1;
  }
  b->g = calloc(n, sizeof *b->g);
  if (!b->g)
    return 1;
  double t0 = ft_dns_now_ms();
  for (size_t i = 0; i < n; i++)
    if ((rc = fo_group_create(&b->g[i], b->reg, b->dc1, b->dc2)) != 0) {
      fprintf(stderr, "bench-failover: group: %s\n", fo_strerror(rc));
      stop_servers(b);
      return 1;
    }
  printf("model     %zu groups on dc1 (backup dc2) in %.1f ms\n", n,
         ft_dns_now_ms() - t0);

  uv_loop_init(&b->loop);
  uv_timer_init(&b->loop, &b->wd);
  b->wd.data = b;
  const char *servers[NSERVERS_MAX] = {b->srv.addr4, b->sec_addr[0],
                                       b->sec_addr[1]};
  fo_verifier_options vo = FO_VERIFIER_OPTIONS_INIT;
  vo.servers = servers;
  vo.server_count = b->nservers;
  vo.timeout_ms = 1000;
  vo.tries = 3;
  vo.max_in_flight = (uint32_t)ver_in_flight;
  if ((rc = fo_verifier_new(&b->ver, &b->loop, &vo)) != 0) {
    fprintf(stderr, "bench-failover: verifier: %s\n", fo_strerror(rc));
    stop_servers(b);
    return 1;
  }

  double publish_ms = -1, verify_ms = -1, total_ms = -1, single_ms = -1,
         single_all_ms = -1, bulk_all_ms = -1, nsupdate_ms = -1;
  fo_stack *active = b->dc1;

  /* Initial publish: not timed as a goal. */
  if (open_publisher(b, batch, in_flight) != 0)
    goto out;
  t0 = ft_dns_now_ms();
  fo_publisher_publish_all(b->pub);
  if (run_until(b, pred_published, 60000) != 0) {
    fail("initial publish: not every group confirmed");
    goto out;
  }
  double ms;
  printf("publish   %zu groups (publish_all) in %.1f ms\n", n,
         ft_dns_now_ms() - t0);
  if (sync_zone(b) != 0)
    goto out;
  if (b->nsec)
    printf("in step   both secondaries have the primary's serial after "
           "%.1f ms\n", ft_dns_now_ms() - t0);
  if (verify_all(b, &ms) != 0)
    goto out;
  printf("verify    %zu groups, one round on %zu server%s, in %.1f ms\n", n,
         b->nservers, b->nservers > 1 ? "s" : "", ms);

  if (sweep) {
    static const uint32_t batches[] = {50, 100, 250, 500, 1000};
    static const uint32_t flights[] = {1, 4, 16};
    double best = 1e30;
    uint32_t best_b = 0, best_k = 0;
    printf("sweep     fo_switchover_stack of %zu groups, back and forth "
           "(no idle gap):\n", n);
    close_publisher(b);
    for (size_t i = 0; i < sizeof batches / sizeof *batches; i++)
      for (size_t k = 0; k < sizeof flights / sizeof *flights; k++) {
        if (open_publisher(b, batches[i], flights[k]) != 0)
          goto out;
        if (switch_stack(b, active) != 0)
          goto out;
        active = active == b->dc1 ? b->dc2 : b->dc1;
        printf("  batch %4u in-flight %2u: publish %7.1f ms, primary %7.1f ms, "
               "all servers %7.1f ms\n",
               (unsigned)batches[i], (unsigned)flights[k],
               b->report.published_ms, b->server_ms[0],
               b->report.all_matched_ms);
        if (b->server_ms[0] < best) {
          best = b->server_ms[0];
          best_b = batches[i];
          best_k = flights[k];
        }
        close_publisher(b);
      }
    printf("  best: batch %u in-flight %u (primary %.1f ms)\n",
           (unsigned)best_b, (unsigned)best_k, best);
    /* The measured run below uses the best pair unless one was given. */
    if (!batch && !in_flight) {
      batch = best_b;
      in_flight = best_k;
    }
    if (open_publisher(b, batch, in_flight) != 0)
      goto out;
  }

  /* The measured passes: a switch of the whole stack and nsupdate sending
   * the same changes, each after the idle gap, alternating which goes
   * first. */
  double p_pub[MAX_PASSES], p_ver[MAX_PASSES], p_tot[MAX_PASSES],
      p_all[MAX_PASSES], p_ns[MAX_PASSES],
      p_srv[NSERVERS_MAX][MAX_PASSES], p_lag[2][MAX_PASSES];
  if (batch || in_flight)
    printf("switch    fo_switchover_stack, batch %u, in flight %u",
           (unsigned)batch, (unsigned)in_flight);
  else
    printf("switch    fo_switchover_stack, the publisher's default batch and "
           "in-flight window");
  printf("; %d passes, idle gap %ld ms before each timed phase\n", passes,
         gap);
  for (int p = 0; p < passes; p++) {
    int ns_first = !no_baseline && p % 2 == 1;
    for (int side = 0; side < 2; side++) {
      int is_ns = side == 0 ? ns_first : !ns_first;
      if (is_ns && no_baseline)
        continue;
      if (sync_zone(b) != 0)
        goto out;
      idle(b, (uint64_t)gap);
      if (is_ns) {
        if (baseline(b, tool, &p_ns[p]) != 0)
          goto out;
        printf("%-9s pass %d: %zu changes in %zu messages of %d: %.1f ms\n",
               tool, p + 1, n, (n + NSUPDATE_CHANGES - 1) / NSUPDATE_CHANGES,
               NSUPDATE_CHANGES, p_ns[p]);
      } else {
        const char *from = active == b->dc1 ? "dc1" : "dc2";
        if (switch_stack(b, active) != 0)
          goto out;
        active = active == b->dc1 ? b->dc2 : b->dc1;
        p_pub[p] = b->report.published_ms;
        p_tot[p] = b->server_ms[0];
        p_ver[p] = p_tot[p] - p_pub[p];
        p_all[p] = b->report.all_matched_ms;
        for (size_t k = 0; k < b->nservers; k++)
          p_srv[k][p] = b->server_ms[k];
        printf("switch    pass %d (%s): published %.1f ms, first match %.1f "
               "ms, all matched:",
               p + 1, from, p_pub[p], b->report.first_match_ms);
        print_servers(b);
        printf(", every server %.1f ms; resolvers follow within %.0f ms\n",
               p_all[p], b->report.resolvers_follow_ms);
        if (b->nsec) {
          double lag[2];
          if (sync_zone(b) != 0)
            goto out;
          secondary_lags(b, lag);
          for (size_t i = 0; i < b->nsec; i++)
            p_lag[i][p] = lag[i];
          printf("          publisher's secondary lag (last catch-up): "
                 "knot2 %.1f ms, bind2 %.1f ms\n", lag[0], lag[1]);
        }
      }
    }
  }
  publish_ms = median(p_pub, passes);
  total_ms = median(p_tot, passes);
  verify_ms = median(p_ver, passes);
  bulk_all_ms = median(p_all, passes);
  nsupdate_ms = no_baseline ? 0 : median(p_ns, passes);
  printf("median    of %d passes (stalled: more than %.0f ms over the "
         "first quartile): publish %.1f ms (%d stalled), primary %.1f ms (%d)",
         passes, STALL_MS, publish_ms, stalls(p_pub, passes), total_ms,
         stalls(p_tot, passes));
  if (b->nsec) {
    for (size_t k = 1; k < b->nservers; k++)
      printf(", %s %.1f ms (%d)", b->label[k], median(p_srv[k], passes),
             stalls(p_srv[k], passes));
    printf(", every server %.1f ms (%d)", bulk_all_ms,
           stalls(p_all, passes));
  }
  if (!no_baseline)
    printf(", %s %.1f ms (%d stalled)", tool, nsupdate_ms,
           stalls(p_ns, passes));
  printf("\n");
  printf("spread    publish %.1f-%.1f ms, primary %.1f-%.1f ms",
         min_of(p_pub, passes), max_of(p_pub, passes), min_of(p_tot, passes),
         max_of(p_tot, passes));
  if (b->nsec)
    printf(", every server %.1f-%.1f ms", min_of(p_all, passes),
           max_of(p_all, passes));
  if (!no_baseline)
    printf(", %s %.1f-%.1f ms", tool, min_of(p_ns, passes),
           max_of(p_ns, passes));
  printf("\n");
  if (b->nsec)
    printf("          publisher's secondary lag, median: knot2 %.1f ms, "
           "bind2 %.1f ms\n", median(p_lag[0], passes),
           median(p_lag[1], passes));

  /* One group, again and again, each after the idle gap. */
  {
    double t[MAX_SINGLE], ta[MAX_SINGLE], ts[NSERVERS_MAX][MAX_SINGLE],
        lag[2][MAX_SINGLE];
    fo_group *one = b->g[n / 2];
    if (sync_zone(b) != 0) /* nsupdate may have gone last */
      goto out;
    for (int i = 0; i < single; i++) {
      fo_slot cur;
      idle(b, (uint64_t)single_gap);
      if (i > 0 && b->nsec) {
        double l[2];
        secondary_lags(b, l);
        lag[0][i - 1] = l[0];
        lag[1][i - 1] = l[1];
      }
      fo_group_active_slot(one, &cur);
      if (switch_one(b, one,
                     cur == FO_SLOT_PRIMARY ? FO_SLOT_BACKUP
                                            : FO_SLOT_PRIMARY) != 0)
        goto out;
      t[i] = b->server_ms[0];
      ta[i] = b->report.all_matched_ms;
      for (size_t k = 0; k < b->nservers; k++)
        ts[k][i] = b->server_ms[k];
    }
    if (b->nsec) {
      double l[2];
      idle(b, 100);
      secondary_lags(b, l);
      lag[0][single - 1] = l[0];
      lag[1][single - 1] = l[1];
    }
    single_ms = median(t, single);
    single_all_ms = median(ta, single);
    printf("single    fo_switchover_group x %d, idle gap %ld ms before each: "
           "primary min %.2f, median %.2f, max %.2f ms\n",
           single, single_gap, min_of(t, single), single_ms,
           max_of(t, single));
    if (b->nsec) {
      for (size_t k = 1; k < b->nservers; k++)
        printf("          %s: min %.2f, median %.2f, max %.2f ms "
               "(publisher's lag: median %.2f, max %.2f ms)\n",
               b->label[k], min_of(ts[k], single), median(ts[k], single),
               max_of(ts[k], single), median(lag[k - 1], single),
               max_of(lag[k - 1], single));
      int over = 0;
      for (int i = 0; i < single; i++)
        over += ta[i] > GOAL_SINGLE_ALL_MS;
      printf("          every server: min %.2f, median %.2f, max %.2f ms, "
             "%d of %d over %.0f ms; each:",
             min_of(ta, single), single_all_ms, max_of(ta, single), over,
             single, GOAL_SINGLE_ALL_MS);
      for (int i = 0; i < single; i++)
        printf(" %.0f", ta[i]);
      printf("\n");
    }
  }

  /* Untimed: every server holds what the registry says. */
  if (sync_zone(b) != 0 || verify_all(b, &ms) != 0)
    goto out;
  printf("check     %zu groups, one round on %zu server%s: all match\n", n,
         b->nservers, b->nservers > 1 ? "s" : "");

  printf("goal      all %zu published and verified on the primary within "
         "%.0f ms (median): %.1f ms %s\n",
         n, GOAL_TOTAL_MS, total_ms,
         total_ms <= GOAL_TOTAL_MS ? "PASS" : "MISS");
  if (!no_baseline)
    printf("goal      publish no slower than %s (medians): %.1f vs %.1f ms "
           "%s\n",
           tool, publish_ms, nsupdate_ms,
           publish_ms <= nsupdate_ms ? "PASS" : "MISS");
  printf("goal      single switch within %.0f ms on the primary (median): "
         "%.2f ms %s\n",
         GOAL_SINGLE_MS, single_ms, single_ms <= GOAL_SINGLE_MS ? "PASS" : "MISS");
  printf("goal      single switch within %.0f ms on every server (median%s): "
         "%.2f ms %s\n",
         GOAL_SINGLE_ALL_MS, b->nsec ? "" : ", primary only", single_all_ms,
         single_all_ms <= GOAL_SINGLE_ALL_MS ? "PASS" : "MISS");
  printf("goal      all %zu on every server within %.0f ms (median%s): "
         "%.1f ms %s\n",
         n, GOAL_BULK_ALL_MS, b->nsec ? "" : ", primary only", bulk_all_ms,
         bulk_all_ms <= GOAL_BULK_ALL_MS ? "PASS" : "MISS");

out:
  if (b->pub)
    close_publisher(b);
  b->closed = 0;
  b->pub_error = 0;
  fo_verifier_close(b->ver, closed_cb, b);
  if (run_until(b, pred_closed, 10000) != 0)
    fail("verifier close: no closed callback");
  uv_close((uv_handle_t *)&b->wd, NULL);
  uv_run(&b->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&b->loop) != 0)
    fail("handles left open at the end");
  fo_registry_free(b->reg);
  fo_tsig_key_free(b->key);
  free(b->g);
  stop_servers(b);
  printf("failover: groups=%zu publish_ms=%.1f verify_ms=%.1f total_ms=%.1f "
         "single_switch_ms=%.2f single_all_servers_ms=%.2f "
         "bulk_all_servers_ms=%.1f nsupdate_ms=%.1f\n",
         n, publish_ms, verify_ms, total_ms, single_ms, single_all_ms,
         bulk_all_ms, nsupdate_ms);
  return failures ? 1 : 0;
}
