/*
 * test_axfr.c - the AXFR client (lib/engine/axfr.c) against real knotd and named on
 * loopback, and against fake peers (tests/support/dns_peer.h).
 *
 * Servers: one knotd and one named, started once in the Criterion runner
 * (ReportHook(PRE_ALL)) and handed to the workers through the environment
 * (ft_dns_export tags "K" and "B"), as in tests/support/verify_scenarios.c.
 * Each serves three zones:
 *
 *   failover.example.net (the fixture's zone): SOA, NS, ns A and 351 more
 *     RRs (CNAME, A, AAAA, TXT, a mixed-case owner); transfers allowed to
 *     loopback unsigned and with the key (the fixture's configuration);
 *   big.test: 20,000 CNAMEs (about 900 KB: many messages); key only;
 *   locked.test: a handful of RRs; key only.
 *
 * The two extra zones come through ft_dns_config.extra_conf, from zone
 * files in a directory of this runner ($FT_AXFR_DIR).
 *
 * Every test runs its own uv_loop, checks that done_cb ran exactly once and
 * that uv_loop_close() returns 0.
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <uv.h>

#include "axfr.h"
#include "dns_fixture.h"
#include "dns_peer.h"
#include "hostport.h"
#include "support.h"
#include "tsig.h"

#define Z FT_DNS_DEFAULT_ZONE
#define BIG_ZONE "big.test"
#define BIG_COUNT 20000
#define LOCKED_ZONE "locked.test"
#define N_CNAME 100
#define N_ADDR 100
#define N_TXT 50
/* Ours, plus SOA, NS and ns A from the fixture (the closing SOA is not
 * handed out). */
#define MAIN_RRS (N_CNAME + 2 * N_ADDR + N_TXT + 1 + 3)

/* ---- zone contents (runner and workers) -------------------------------------- */

static char *main_records(void) {
  ft_buf b = {0};
  int i;
  for (i = 0; i < N_CNAME; i++)
    ft_buf_printf(&b, "c%d 60 CNAME web%d.stack-a.example.org.\n", i, i);
  for (i = 0; i < N_ADDR; i++) {
    ft_buf_printf(&b, "v%d 120 A 192.0.2.%d\n", i, i + 1);
    ft_buf_printf(&b, "v%d 120 AAAA 2001:db8::%x\n", i, i + 1);
  }
  for (i = 0; i < N_TXT; i++)
    ft_buf_printf(&b, "t%d 300 TXT \"text %d\"\n", i, i);
  ft_buf_printf(&b, "MiXeD 60 CNAME Web.Example.ORG.\n");
  return ft_buf_take(&b);
}

/* What rr_cb must deliver for the main zone, one line per RR. */
static void main_expected(ft_buf *b) {
  int i;
  ft_buf_printf(b, "%s 6 3600 \n", Z);
  ft_buf_printf(b, "%s 2 3600 \n", Z);
  ft_buf_printf(b, "ns.%s 1 3600 127.0.0.1\n", Z);
  for (i = 0; i < N_CNAME; i++)
    ft_buf_printf(b, "c%d.%s 5 60 web%d.stack-a.example.org\n", i, Z, i);
  for (i = 0; i < N_ADDR; i++) {
    ft_buf_printf(b, "v%d.%s 1 120 192.0.2.%d\n", i, Z, i + 1);
    ft_buf_printf(b, "v%d.%s 28 120 2001:db8::%x\n", i, Z, i + 1);
  }
  for (i = 0; i < N_TXT; i++)
    ft_buf_printf(b, "t%d.%s 16 300 \n", i, Z);
  ft_buf_printf(b, "mixed.%s 5 60 web.example.org\n", Z);
}

static int write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL)
    return -1;
  int ok = fputs(text, f) >= 0;
  return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int write_extra_zones(const char *dir) {
  char path[1024];
  ft_buf b = {0};
  int i, rc;
  ft_buf_printf(&b,
                "$ORIGIN " BIG_ZONE ".\n$TTL 60\n"
                "@ 3600 IN SOA ns hostmaster 1 3600 900 604800 60\n"
                "@ 3600 IN NS ns\nns 3600 IN A 127.0.0.1\n");
  for (i = 0; i < BIG_COUNT; i++)
    ft_buf_printf(&b, "b%d 60 IN CNAME web%d.stack-b.example.org.\n", i,
                  i % 7);
  snprintf(path, sizeof path, "%s/" BIG_ZONE ".zone", dir);
  rc = write_text(path, b.p);
  ft_buf_free(&b);
  if (rc != 0)
    return rc;
  snprintf(path, sizeof path, "%s/" LOCKED_ZONE ".zone", dir);
  return write_text(path,
                    "$ORIGIN " LOCKED_ZONE ".\n$TTL 60\n"
                    "@ 3600 IN SOA ns hostmaster 1 3600 900 604800 60\n"
                    "@ 3600 IN NS ns\nns 3600 IN A 127.0.0.1\n"
                    "www 60 IN CNAME web1.example.org.\n");
}

/* ---- servers (runner) ------------------------------------------------------------ */

static ft_dns_server knot_srv, bind_srv;
static char extra_dir[512];

static int wait_zone(const ft_dns_server *srv, const char *zone) {
  double deadline = ft_dns_now_ms() + 15000;
  uint32_t serial;
  while (ft_dns_now_ms() < deadline) {
    if (ft_dns_soa_serial(srv->port, zone, 200, &serial) == 0)
      return 0;
    usleep(20000);
  }
  return -1;
}

static int start_one(ft_dns_server *srv, ft_dns_kind kind,
                     const char *records) {
  char conf[2048];
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  if (kind == FT_DNS_KNOT)
    /* Appended inside the fixture's zone list; transfer-key is the
     * fixture's key-only transfer rule. */
    snprintf(conf, sizeof conf,
             "  - domain: " BIG_ZONE "\n"
             "    file: \"%s/" BIG_ZONE ".zone\"\n"
             "    acl: [transfer-key]\n"
             "  - domain: " LOCKED_ZONE "\n"
             "    file: \"%s/" LOCKED_ZONE ".zone\"\n"
             "    acl: [transfer-key]\n",
             extra_dir, extra_dir);
  else
    snprintf(conf, sizeof conf,
             "zone \"" BIG_ZONE "\" { type primary; file \"%s/" BIG_ZONE
             ".zone\";\n  allow-transfer { key " FT_DNS_KEY_NAME "; }; };\n"
             "zone \"" LOCKED_ZONE "\" { type primary; file \"%s/" LOCKED_ZONE
             ".zone\";\n  allow-transfer { key " FT_DNS_KEY_NAME "; }; };\n",
             extra_dir, extra_dir);
  cfg.records_text = records;
  cfg.extra_conf = conf;
  if (ft_dns_start(srv, kind, &cfg) != 0)
    return -1;
  if (wait_zone(srv, BIG_ZONE) != 0 || wait_zone(srv, LOCKED_ZONE) != 0) {
    snprintf(srv->error, sizeof srv->error, "extra zones not loaded");
    return -1;
  }
  return 0;
}

static void remove_extra_dir(void) {
  char path[1024];
  if (!extra_dir[0])
    return;
  snprintf(path, sizeof path, "%s/" BIG_ZONE ".zone", extra_dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/" LOCKED_ZONE ".zone", extra_dir);
  unlink(path);
  rmdir(extra_dir);
  extra_dir[0] = '\0';
}

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  (void)set;
  if (getenv("FT_DNS_K_PORT"))
    return;
  const char *tmp = getenv("TMPDIR");
  snprintf(extra_dir, sizeof extra_dir, "%s/ft-axfr-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  char *records = main_records();
  const char *err = NULL;
  if (mkdtemp(extra_dir) == NULL) {
    extra_dir[0] = '\0';
    err = "mkdtemp failed";
  } else if (write_extra_zones(extra_dir) != 0) {
    err = "cannot write the extra zones";
  } else if (start_one(&knot_srv, FT_DNS_KNOT, records) != 0) {
    err = knot_srv.error;
  } else if (start_one(&bind_srv, FT_DNS_BIND, records) != 0) {
    err = bind_srv.error;
  }
  free(records);
  if (err) {
    setenv("FT_AXFR_ERROR", err, 1);
    return;
  }
  ft_dns_export(&knot_srv, "K");
  ft_dns_export(&bind_srv, "B");
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  ft_dns_signal_stop(&knot_srv);
  ft_dns_signal_stop(&bind_srv);
  ft_dns_stop(&knot_srv);
  ft_dns_stop(&bind_srv);
  remove_extra_dir();
}

/* ---- worker side ------------------------------------------------------------------ */

static void server_of(ft_dns_kind kind, ft_dns_server *srv) {
  const char *err = getenv("FT_AXFR_ERROR");
  cr_assert(err == NULL, "the DNS servers did not start: %s", err);
  cr_assert(ft_dns_import(srv, kind == FT_DNS_KNOT ? "K" : "B") == 0,
            "servers not in the environment (ReportHook(PRE_ALL)?)");
  cr_assert_eq(srv->kind, kind);
}

static void key_of(const ft_dns_server *srv, fo__tsig_key *key) {
  FT_OK(fo__tsig_key_init(key, srv->key_name, "hmac-sha256",
                          srv->key_secret));
}

typedef struct xfer {
  uv_loop_t loop;
  fo__axfr *x;
  int done_calls;
  int error;
  size_t rrs;
  size_t cancel_after; /* cancel from rr_cb after this many RRs; 0: never */
  int keep_lines;
  ft_buf lines;
  double t0, elapsed_ms;
} xfer;

static void on_rr(const fo__zone_rr *rr, void *userdata) {
  xfer *t = userdata;
  cr_assert_eq(t->done_calls, 0, "rr_cb after done_cb");
  cr_assert_not_null(rr->owner);
  cr_assert_not_null(rr->data);
  t->rrs++;
  if (t->keep_lines)
    ft_buf_printf(&t->lines, "%s %u %u %s\n", rr->owner, (unsigned)rr->type,
                  (unsigned)rr->ttl, rr->data);
  if (t->cancel_after != 0 && t->rrs == t->cancel_after)
    fo__axfr_cancel(t->x);
}

static void on_done(int error, void *userdata) {
  xfer *t = userdata;
  t->done_calls++;
  t->error = error;
  t->elapsed_ms = ft_dns_now_ms() - t->t0;
}

static int start(xfer *t, const char *server, const char *zone,
                 const fo__tsig_key *key, uint32_t timeout_ms) {
  fo__hostport hp;
  FT_OK(fo__hostport_parse(server, 53, &hp));
  t->t0 = ft_dns_now_ms();
  return fo__axfr_start(&t->x, &t->loop, NULL, &hp, zone, key, timeout_ms,
                        on_rr, on_done, t);
}

static void xfer_init(xfer *t) {
  memset(t, 0, sizeof(*t));
  cr_assert_eq(uv_loop_init(&t->loop), 0);
}

static void xfer_finish(xfer *t) {
  cr_assert_eq(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(t->done_calls, 1, "done_cb ran %d times", t->done_calls);
  cr_assert_eq(uv_loop_close(&t->loop), 0);
  ft_buf_free(&t->lines);
}

/* Transfer and return the error; `t` keeps the RRs. */
static int run(xfer *t, const char *server, const char *zone,
               const fo__tsig_key *key, uint32_t timeout_ms) {
  FT_OK(start(t, server, zone, key, timeout_ms));
  cr_assert_eq(uv_run(&t->loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(t->done_calls, 1, "done_cb ran %d times", t->done_calls);
  return t->error;
}

static int line_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Split text into sorted lines (pointers into text). */
static char **sorted_lines(char *text, size_t *n) {
  size_t cap = 16, count = 0;
  char **v = malloc(cap * sizeof(*v));
  char *save = NULL, *line;
  cr_assert_not_null(v);
  for (line = strtok_r(text, "\n", &save); line != NULL;
       line = strtok_r(NULL, "\n", &save)) {
    if (count == cap) {
      cap *= 2;
      v = realloc(v, cap * sizeof(*v));
      cr_assert_not_null(v);
    }
    v[count++] = line;
  }
  qsort(v, count, sizeof(*v), line_cmp);
  *n = count;
  return v;
}

/* Note: strtok_r drops the trailing space of "owner 6 3600 " lines on
 * neither side (it splits on newlines only), so both compare alike. */
static void expect_main_zone(xfer *t) {
  ft_buf want = {0};
  size_t nw, ng, i;
  main_expected(&want);
  char *got_text = ft_buf_take(&t->lines);
  char *want_text = ft_buf_take(&want);
  char **w = sorted_lines(want_text, &nw);
  char **g = sorted_lines(got_text, &ng);
  cr_assert_eq(nw, MAIN_RRS);
  for (i = 0; i < nw && i < ng; i++)
    cr_assert_str_eq(g[i], w[i], "RR %zu: got \"%s\", expected \"%s\"", i,
                     g[i], w[i]);
  cr_assert_eq(ng, nw, "%zu RRs, expected %zu", ng, nw);
  free(w);
  free(g);
  free(got_text);
  free(want_text);
}

/* ---- scenarios, for each server ---------------------------------------------------- */

static void full_zone(ft_dns_kind kind, int ipv6, int signed_request) {
  ft_dns_server srv;
  fo__tsig_key key;
  xfer t;
  server_of(kind, &srv);
  key_of(&srv, &key);
  xfer_init(&t);
  t.keep_lines = 1;
  if (ipv6)
    cr_assert(srv.addr6[0] != '\0', "server not on ::1");
  FT_OK(run(&t, ipv6 ? srv.addr6 : srv.addr4, Z,
            signed_request ? &key : NULL, 0));
  cr_assert_eq(t.rrs, MAIN_RRS);
  expect_main_zone(&t);
  xfer_finish(&t);
}

static void big_zone(ft_dns_kind kind) {
  ft_dns_server srv;
  fo__tsig_key key;
  xfer t;
  server_of(kind, &srv);
  key_of(&srv, &key);
  xfer_init(&t);
  t.keep_lines = 1;
  FT_OK(run(&t, srv.addr4, BIG_ZONE, &key, 30000));
  cr_assert_eq(t.rrs, BIG_COUNT + 3);
  /* Spot checks: first, last, and that every name came once. */
  char *text = ft_buf_take(&t.lines);
  cr_assert_not_null(strstr(text, "b0.big.test 5 60 web0.stack-b.example.org\n"));
  cr_assert_not_null(
      strstr(text, "b19999.big.test 5 60 web0.stack-b.example.org\n"));
  size_t n, i;
  char **v = sorted_lines(text, &n);
  cr_assert_eq(n, BIG_COUNT + 3);
  for (i = 1; i < n; i++)
    cr_assert(strcmp(v[i - 1], v[i]) != 0, "duplicate RR %s", v[i]);
  free(v);
  free(text);
  xfer_finish(&t);
}

/*
 * A wrong key. Both servers answer NOTAUTH with the TSIG error in an
 * unsigned TSIG RR (RFC 8945 5.2): an unknown key name gives BADKEY, a known
 * name with another secret BADSIG; the client reports the TSIG error.
 */
static void wrong_key(ft_dns_kind kind) {
  ft_dns_server srv;
  fo__tsig_key bad_secret, bad_name;
  xfer t;
  server_of(kind, &srv);
  FT_OK(fo__tsig_key_init(&bad_secret, srv.key_name, "hmac-sha256",
                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
  FT_OK(fo__tsig_key_init(&bad_name, "no-such-key", "hmac-sha256",
                          srv.key_secret));

  xfer_init(&t);
  FT_RC(run(&t, srv.addr4, Z, &bad_secret, 0), FO_EBADSIG);
  cr_assert_eq(t.rrs, 0);
  xfer_finish(&t);

  xfer_init(&t);
  FT_RC(run(&t, srv.addr4, Z, &bad_name, 0), FO_EBADKEY);
  cr_assert_eq(t.rrs, 0);
  xfer_finish(&t);

  /* Same on a key-only zone. */
  xfer_init(&t);
  FT_RC(run(&t, srv.addr4, LOCKED_ZONE, &bad_secret, 0), FO_EBADSIG);
  xfer_finish(&t);
}

/*
 * No key where the zone requires one: Knot answers NOTAUTH (its ACL denies
 * the transfer), BIND answers REFUSED (allow-transfer denies it).
 */
static void key_required(ft_dns_kind kind, int expected) {
  ft_dns_server srv;
  fo__tsig_key key;
  xfer t;
  server_of(kind, &srv);
  key_of(&srv, &key);
  xfer_init(&t);
  FT_RC(run(&t, srv.addr4, LOCKED_ZONE, NULL, 0), expected);
  cr_assert_eq(t.rrs, 0);
  xfer_finish(&t);
  /* With the key it works. */
  xfer_init(&t);
  t.keep_lines = 1;
  FT_OK(run(&t, srv.addr4, LOCKED_ZONE, &key, 0));
  cr_assert_eq(t.rrs, 4);
  cr_assert_not_null(
      strstr(t.lines.p, "www.locked.test 5 60 web1.example.org\n"));
  xfer_finish(&t);
}

/* A zone the server does not serve: both answer NOTAUTH. */
static void zone_not_served(ft_dns_kind kind) {
  ft_dns_server srv;
  fo__tsig_key key;
  xfer t;
  server_of(kind, &srv);
  key_of(&srv, &key);
  xfer_init(&t);
  FT_RC(run(&t, srv.addr4, "not-served.test", &key, 0), FO_ENOTAUTH);
  xfer_finish(&t);
}

/* Cancel from rr_cb in the middle of a long transfer. */
static void cancel_midway(ft_dns_kind kind) {
  ft_dns_server srv;
  fo__tsig_key key;
  xfer t;
  server_of(kind, &srv);
  key_of(&srv, &key);
  xfer_init(&t);
  t.cancel_after = 1000;
  FT_RC(run(&t, srv.addr4, BIG_ZONE, &key, 0), FO_ECANCELED);
  cr_assert_eq(t.rrs, 1000);
  xfer_finish(&t);
}

/* Every test has the same .timeout: Criterion 2.4's runner leaks a timeout
 * record (LeakSanitizer fails the run) when tests with different timeouts
 * run in parallel. */
#define SERVER_TESTS(name, kind, not_allowed)                                  \
  Test(axfr, name##_full_zone, .timeout = 60) { full_zone(kind, 0, 1); }     \
  Test(axfr, name##_full_zone_ipv6, .timeout = 60) {                         \
    full_zone(kind, 1, 1);                                                   \
  }                                                                          \
  Test(axfr, name##_unsigned_allowed, .timeout = 60) {                       \
    full_zone(kind, 0, 0);                                                   \
  }                                                                          \
  Test(axfr, name##_big_zone, .timeout = 60)  { big_zone(kind); }            \
  Test(axfr, name##_wrong_key, .timeout = 60) { wrong_key(kind); }           \
  Test(axfr, name##_key_required, .timeout = 60) {                           \
    key_required(kind, not_allowed);                                         \
  }                                                                          \
  Test(axfr, name##_zone_not_served, .timeout = 60) {                        \
    zone_not_served(kind);                                                   \
  }                                                                          \
  Test(axfr, name##_cancel_midway, .timeout = 60) { cancel_midway(kind); }

SERVER_TESTS(knot, FT_DNS_KNOT, FO_ENOTAUTH)
SERVER_TESTS(bind, FT_DNS_BIND, FO_EREFUSED)

/* ---- without a real server ------------------------------------------------------------ */

Test(axfr, nothing_listening_is_eio_quickly, .timeout = 60) {
  char server[64];
  int port = ft_dns_unused_port();
  cr_assert_gt(port, 0);
  snprintf(server, sizeof server, "127.0.0.1:%d", port);
  xfer t;
  xfer_init(&t);
  FT_RC(run(&t, server, Z, NULL, 5000), FO_EIO);
  cr_assert_lt(t.elapsed_ms, 1000.0, "took %.0f ms", t.elapsed_ms);
  xfer_finish(&t);
}

Test(axfr, silent_peer_times_out, .timeout = 60) {
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_SILENT), 0);
  xfer t;
  xfer_init(&t);
  FT_RC(run(&t, peer.addr, Z, NULL, 300), FO_ETIMEDOUT);
  cr_assert_geq(t.elapsed_ms, 250.0, "took %.0f ms", t.elapsed_ms);
  cr_assert_lt(t.elapsed_ms, 3000.0, "took %.0f ms", t.elapsed_ms);
  xfer_finish(&t);
  cr_assert_geq(ft_dns_peer_queries(&peer), 1u);
  ft_dns_peer_stop(&peer);
}

static void peer_case(ft_dns_peer_mode mode, int rcode, int expected) {
  ft_dns_peer peer;
  fo__tsig_key key;
  FT_OK(fo__tsig_key_init(&key, "k", "hmac-sha256",
                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
  peer.rcode = rcode; /* read by the RCODE, NO_QUESTION and ECHO modes */
  cr_assert_eq(ft_dns_peer_start(&peer, mode), 0);
  xfer t;
  xfer_init(&t);
  FT_RC(run(&t, peer.addr, Z, &key, 2000), expected);
  cr_assert_eq(t.rrs, 0);
  xfer_finish(&t);
  ft_dns_peer_stop(&peer);
}

Test(axfr, peer_rcodes, .timeout = 60) {
  peer_case(FT_PEER_RCODE, 5, FO_EREFUSED);
  peer_case(FT_PEER_RCODE, 9, FO_ENOTAUTH);
  peer_case(FT_PEER_RCODE, 2, FO_ESERVFAIL);
  peer_case(FT_PEER_RCODE, 4, FO_EREFUSED); /* NOTIMP */
  /* NOERROR but no answer, no signature: not a transfer. */
  peer_case(FT_PEER_RCODE, 0, FO_EMALFORMED);
}

Test(axfr, peer_malformed, .timeout = 60) {
  peer_case(FT_PEER_SHORT, 0, FO_EMALFORMED);
  peer_case(FT_PEER_TRUNCATED_RR, 0, FO_EMALFORMED);
  peer_case(FT_PEER_POINTER_LOOP, 0, FO_EMALFORMED);
  peer_case(FT_PEER_BAD_RDATA, 0, FO_EMALFORMED);
  peer_case(FT_PEER_NO_QUESTION, 0, FO_EMALFORMED);
  peer_case(FT_PEER_GARBAGE, 0, FO_EMALFORMED);
}

Test(axfr, cancel_before_connect, .timeout = 60) {
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_SILENT), 0);
  xfer t;
  xfer_init(&t);
  FT_OK(start(&t, peer.addr, Z, NULL, 0));
  fo__axfr_cancel(t.x); /* done_cb runs now */
  cr_assert_eq(t.done_calls, 1);
  FT_RC(t.error, FO_ECANCELED);
  xfer_finish(&t);
  ft_dns_peer_stop(&peer);
}

Test(axfr, bad_arguments, .timeout = 60) {
  uv_loop_t loop;
  fo__hostport hp;
  fo__axfr *x = NULL;
  xfer t;
  cr_assert_eq(uv_loop_init(&loop), 0);
  FT_OK(fo__hostport_parse("127.0.0.1:9", 53, &hp));
  memset(&t, 0, sizeof t);
  FT_RC(fo__axfr_start(NULL, &loop, NULL, &hp, Z, NULL, 0, on_rr, on_done,
                       &t),
        FO_EINVAL);
  FT_RC(fo__axfr_start(&x, NULL, NULL, &hp, Z, NULL, 0, on_rr, on_done, &t),
        FO_EINVAL);
  FT_RC(fo__axfr_start(&x, &loop, NULL, NULL, Z, NULL, 0, on_rr, on_done,
                       &t),
        FO_EINVAL);
  FT_RC(fo__axfr_start(&x, &loop, NULL, &hp, NULL, NULL, 0, on_rr, on_done,
                       &t),
        FO_EINVAL);
  FT_RC(fo__axfr_start(&x, &loop, NULL, &hp, Z, NULL, 0, on_rr, NULL, &t),
        FO_EINVAL);
  FT_RC(fo__axfr_start(&x, &loop, NULL, &hp, "bad..name", NULL, 0, on_rr,
                       on_done, &t),
        FO_EBADNAME);
  cr_assert_null(x);
  fo__axfr_cancel(NULL);
  cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
  cr_assert_eq(t.done_calls, 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

/* ---- TSIG chaining with unsigned messages in between (fake primary) --------------- */

/*
 * Real servers sign every message of a transfer (knotd and named both do),
 * so the RFC 8945 5.3.1 case of unsigned intermediate messages is checked
 * against this in-process primary. It signs as the RFC describes: the first
 * message over the request MAC and the full TSIG variables, every later
 * signed one over the prior MAC, the unsigned messages since, itself and
 * the timers only.
 */
#define CP_ZONE "chain.test"
#define CP_MAX 200

typedef struct chain_peer {
  int lfd;
  int port;
  char addr[64];
  pthread_t thread;
  fo__tsig_key key;
  /* the script: sig[i] 1 when message i is signed; the last one closes */
  int messages;
  unsigned char sig[CP_MAX];
  int tamper; /* flip a byte of message `tamper` after signing (0: none) */
  int first_rrs_only_soa;
} chain_peer;

typedef struct wbuf {
  uint8_t b[4096];
  size_t n;
} wbuf;

static void put(wbuf *w, const void *p, size_t n) {
  cr_assert_leq(w->n + n, sizeof(w->b));
  memcpy(w->b + w->n, p, n);
  w->n += n;
}
static void put16(wbuf *w, unsigned v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  put(w, b, 2);
}
static void put32(wbuf *w, uint32_t v) {
  put16(w, v >> 16);
  put16(w, v & 0xFFFF);
}
static void put_name(wbuf *w, const char *name) {
  uint8_t b[256];
  int n = fo__dns_write_name(name, b, sizeof b);
  cr_assert_gt(n, 0);
  put(w, b, (size_t)n);
}
static void put_a(wbuf *w, const char *owner, uint32_t ttl, unsigned last) {
  put_name(w, owner);
  put16(w, 1);
  put16(w, 1);
  put32(w, ttl);
  put16(w, 4);
  uint8_t a[4] = {192, 0, 2, (uint8_t)last};
  put(w, a, 4);
}
static void put_soa(wbuf *w) {
  wbuf rd = {{0}, 0};
  put_name(&rd, "ns." CP_ZONE);
  put_name(&rd, "hostmaster." CP_ZONE);
  put32(&rd, 1);
  put32(&rd, 3600);
  put32(&rd, 900);
  put32(&rd, 604800);
  put32(&rd, 60);
  put_name(w, CP_ZONE);
  put16(w, 6);
  put16(w, 1);
  put32(w, 3600);
  put16(w, (unsigned)rd.n);
  put(w, rd.b, rd.n);
}

/* The query's ID, question bytes and request MAC. */
typedef struct cp_query {
  uint16_t id;
  uint8_t question[300];
  size_t qlen;
  uint8_t mac[64];
  size_t mac_len;
} cp_query;

static int last_rr(int section, const fo__dns_rr *rr, size_t off, void *ud) {
  (void)section;
  if (rr->type == FO__TYPE_TSIG)
    *(size_t *)ud = off;
  return 0;
}

static void parse_query(const uint8_t *q, size_t len, cp_query *out) {
  char name[FO_NAME_BUFSIZE];
  size_t off = FO__DNS_HEADER_LEN, tsig = 0;
  out->id = (uint16_t)(q[0] << 8 | q[1]);
  cr_assert_eq(fo__dns_read_name(q, len, &off, name), 0);
  off += 4;
  out->qlen = off - FO__DNS_HEADER_LEN;
  memcpy(out->question, q + FO__DNS_HEADER_LEN, out->qlen);
  cr_assert_eq(fo__dns_each_rr(q, len, last_rr, &tsig), 0);
  cr_assert_gt(tsig, 0, "query not signed");
  cr_assert_eq(fo__dns_read_name(q, len, &tsig, name), 0);
  tsig += 10;
  cr_assert_eq(fo__dns_read_name(q, len, &tsig, name), 0);
  tsig += 8;
  out->mac_len = (size_t)(q[tsig] << 8 | q[tsig + 1]);
  cr_assert_leq(out->mac_len, sizeof out->mac);
  memcpy(out->mac, q + tsig + 2, out->mac_len);
}

static size_t hmac256(const fo__tsig_key *k, const uint8_t *d, size_t n,
                      uint8_t out[64]) {
  unsigned int len = 0;
  cr_assert_not_null(HMAC(EVP_sha256(), k->secret, (int)k->secret_len, d, n,
                          out, &len));
  return len;
}

/* Append the TSIG RR with `mac` to message m (ARCOUNT + 1). */
static void add_tsig(wbuf *m, const fo__tsig_key *k, uint64_t now,
                     uint16_t id, const uint8_t *mac, size_t mac_len) {
  wbuf rd = {{0}, 0};
  put_name(&rd, "hmac-sha256");
  put16(&rd, (unsigned)(now >> 32));
  put32(&rd, (uint32_t)now);
  put16(&rd, 300);
  put16(&rd, (unsigned)mac_len);
  put(&rd, mac, mac_len);
  put16(&rd, id);
  put16(&rd, 0);
  put16(&rd, 0);
  put_name(m, k->name);
  put16(m, FO__TYPE_TSIG);
  put16(m, 255);
  put32(m, 0);
  put16(m, (unsigned)rd.n);
  put(m, rd.b, rd.n);
  unsigned ar = (unsigned)(m->b[10] << 8 | m->b[11]) + 1;
  m->b[10] = (uint8_t)(ar >> 8);
  m->b[11] = (uint8_t)ar;
}

static void *chain_peer_main(void *arg) {
  chain_peer *p = arg;
  int c = accept(p->lfd, NULL, NULL);
  if (c < 0)
    return NULL;
  uint8_t q[2048];
  size_t got = 0;
  while (got < 2 || got < 2 + (size_t)(q[0] << 8 | q[1])) {
    ssize_t n = recv(c, q + got, sizeof q - got, 0);
    if (n <= 0) {
      close(c);
      return NULL;
    }
    got += (size_t)n;
  }
  cp_query cq;
  parse_query(q + 2, (size_t)(q[0] << 8 | q[1]), &cq);

  static uint8_t stream[CP_MAX * 4200], digest[CP_MAX * 4200];
  size_t slen = 0, dlen = 0;
  uint8_t prior[64];
  size_t prior_len = 0;
  uint64_t now = (uint64_t)time(NULL);
  for (int i = 0; i < p->messages; i++) {
    wbuf m = {{0}, 0};
    int last = i == p->messages - 1;
    put16(&m, cq.id);
    put16(&m, 0x8400); /* QR, AA */
    put16(&m, i == 0 ? 1 : 0);
    put16(&m, 0);
    put16(&m, 0);
    put16(&m, 0);
    if (i == 0)
      put(&m, cq.question, cq.qlen);
    unsigned an = 0;
    if (i == 0) {
      put_soa(&m);
      an++;
    }
    char owner[64];
    for (int j = 0; j < 3; j++) {
      snprintf(owner, sizeof owner, "h%d-%d." CP_ZONE, i, j);
      put_a(&m, owner, 60, (unsigned)(j + 1));
      an++;
    }
    if (last) {
      put_soa(&m);
      an++;
    }
    m.b[6] = (uint8_t)(an >> 8);
    m.b[7] = (uint8_t)an;
    if (p->sig[i]) {
      /* digest: prior MAC (request MAC first), unsigned messages since,
       * this message, then the variables (first) or timers (later). */
      wbuf v = {{0}, 0};
      uint8_t *d = digest + dlen;
      size_t pre = dlen;
      (void)d;
      const uint8_t *pm = i == 0 ? cq.mac : prior;
      size_t pml = i == 0 ? cq.mac_len : prior_len;
      static uint8_t full[CP_MAX * 4200 + 512];
      size_t fl = 0;
      full[fl++] = (uint8_t)(pml >> 8);
      full[fl++] = (uint8_t)pml;
      memcpy(full + fl, pm, pml);
      fl += pml;
      memcpy(full + fl, digest, pre);
      fl += pre;
      memcpy(full + fl, m.b, m.n);
      fl += m.n;
      if (i == 0) {
        put_name(&v, p->key.name);
        put16(&v, 255);
        put32(&v, 0);
        put_name(&v, "hmac-sha256");
      }
      put16(&v, (unsigned)(now >> 32));
      put32(&v, (uint32_t)now);
      put16(&v, 300);
      if (i == 0) {
        put16(&v, 0);
        put16(&v, 0);
      }
      memcpy(full + fl, v.b, v.n);
      fl += v.n;
      prior_len = hmac256(&p->key, full, fl, prior);
      add_tsig(&m, &p->key, now, cq.id, prior, prior_len);
      dlen = 0;
    } else {
      memcpy(digest + dlen, m.b, m.n);
      dlen += m.n;
    }
    if (p->tamper == i + 1 && i > 0)
      m.b[FO__DNS_HEADER_LEN + 20] ^= 1; /* inside the first RR */
    stream[slen++] = (uint8_t)(m.n >> 8);
    stream[slen++] = (uint8_t)m.n;
    memcpy(stream + slen, m.b, m.n);
    slen += m.n;
  }
  (void)!send(c, stream, slen, MSG_NOSIGNAL);
  /* Wait for the client to close. */
  while (recv(c, q, sizeof q, 0) > 0)
    ;
  close(c);
  return NULL;
}

static void chain_peer_start(chain_peer *p) {
  struct sockaddr_in sin;
  socklen_t sl = sizeof sin;
  p->lfd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(p->lfd, 0);
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(bind(p->lfd, (struct sockaddr *)&sin, sizeof sin), 0);
  cr_assert_eq(listen(p->lfd, 4), 0);
  cr_assert_eq(getsockname(p->lfd, (struct sockaddr *)&sin, &sl), 0);
  p->port = ntohs(sin.sin_port);
  snprintf(p->addr, sizeof p->addr, "127.0.0.1:%d", p->port);
  cr_assert_eq(pthread_create(&p->thread, NULL, chain_peer_main, p), 0);
}

static void chain_peer_stop(chain_peer *p) {
  pthread_join(p->thread, NULL);
  close(p->lfd);
}

/* Run a script ("S" signed, "u" unsigned per message); returns the error
 * and the number of RRs delivered in *rrs. */
static int chain_run(const char *script, int tamper, size_t *rrs) {
  chain_peer p;
  memset(&p, 0, sizeof p);
  FT_OK(fo__tsig_key_init(&p.key, "chain-key", "hmac-sha256",
                          "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXh4eHg="));
  p.messages = (int)strlen(script);
  cr_assert_leq(p.messages, CP_MAX);
  for (int i = 0; i < p.messages; i++)
    p.sig[i] = script[i] == 'S';
  p.tamper = tamper;
  chain_peer_start(&p);
  xfer t;
  xfer_init(&t);
  int rc = run(&t, p.addr, CP_ZONE, &p.key, 5000);
  *rrs = t.rrs;
  xfer_finish(&t); /* closes the connection: the peer thread ends */
  chain_peer_stop(&p);
  return rc;
}

Test(axfr_chain, every_message_signed, .timeout = 60) {
  size_t rrs;
  FT_OK(chain_run("SSSS", 0, &rrs));
  cr_assert_eq(rrs, 1 + 4 * 3); /* first SOA + 3 A per message */
}

Test(axfr_chain, unsigned_messages_in_between, .timeout = 60) {
  size_t rrs;
  FT_OK(chain_run("SuuSuS", 0, &rrs));
  cr_assert_eq(rrs, 1 + 6 * 3);
}

Test(axfr_chain, single_message, .timeout = 60) {
  size_t rrs;
  FT_OK(chain_run("S", 0, &rrs));
  cr_assert_eq(rrs, 1 + 3);
}

Test(axfr_chain, tampered_unsigned_message_fails_next_signature,
     .timeout = 60) {
  size_t rrs;
  FT_RC(chain_run("SuuS", 2, &rrs), FO_EBADSIG);
  FT_RC(chain_run("SSS", 2, &rrs), FO_EBADSIG);
}

Test(axfr_chain, unsigned_first_or_last_message, .timeout = 60) {
  size_t rrs;
  FT_RC(chain_run("uS", 0, &rrs), FO_EUNSIGNED);
  cr_assert_eq(rrs, 0);
  FT_RC(chain_run("SSu", 0, &rrs), FO_EUNSIGNED);
}

Test(axfr_chain, at_most_99_unsigned_in_a_row, .timeout = 60) {
  char script[CP_MAX + 1];
  size_t rrs;
  memset(script, 'u', sizeof script);
  script[0] = 'S';
  script[100] = 'S'; /* 99 unsigned, then signed: fine */
  script[101] = '\0';
  FT_OK(chain_run(script, 0, &rrs));
  cr_assert_eq(rrs, 1 + 101 * 3);
  script[100] = 'u';
  script[101] = 'S'; /* 100 unsigned */
  script[102] = '\0';
  FT_RC(chain_run(script, 0, &rrs), FO_EUNSIGNED);
}
