/*
 * test_verify_api.c - the verifier's argument checking and life cycle, with
 * no DNS server (fake peers on loopback at most). The scenarios against
 * real servers are in test_verify_knot.c / test_verify_bind.c.
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <failover/verify.h>

#include "dns_fixture.h"
#include "dns_peer.h"
#include "support.h"

static const char *const one_server[] = {"127.0.0.1:53"};

static fo_verifier_options opts(const char *const *servers, size_t n) {
  fo_verifier_options o;
  FT_OK(fo_verifier_options_init(&o, FO_VERIFIER_OPTIONS_VERSION));
  o.servers = servers;
  o.server_count = n;
  return o;
}

static void closed_cb(void *userdata) { (*(int *)userdata)++; }

static void finish(uv_loop_t *loop, fo_verifier *v) {
  int closed = 0;
  fo_verifier_close(v, closed_cb, &closed);
  uv_run(loop, UV_RUN_DEFAULT);
  cr_assert_eq(closed, 1);
  cr_assert_eq(uv_loop_close(loop), 0, "handles left open");
}

Test(verify_api, options_init) {
  fo_verifier_options o;
  FT_OK(fo_verifier_options_init(&o, FO_VERIFIER_OPTIONS_VERSION));
  cr_assert_eq(o.version, FO_VERIFIER_OPTIONS_VERSION);
  cr_assert_null(o.servers);
  FT_RC(fo_verifier_options_init(NULL, FO_VERIFIER_OPTIONS_VERSION),
        FO_EINVAL);
  FT_RC(fo_verifier_options_init(&o, 999), FO_EVERSION);
}

Test(verify_api, status_names) {
  cr_assert_str_eq(fo_verify_status_name(FO_VERIFY_MATCH), "match");
  cr_assert_str_eq(fo_verify_status_name(FO_VERIFY_NXDOMAIN), "nxdomain");
  cr_assert_str_eq(fo_verify_status_name((fo_verify_status)999), "unknown");
  for (int s = FO_VERIFY_PENDING; s <= FO_VERIFY_CLOSED; s++) {
    const char *n = fo_verify_status_name((fo_verify_status)s);
    cr_assert_not_null(n);
    cr_assert_str_neq(n, "unknown", "status %d has no name", s);
  }
}

Test(verify_api, new_rejects_bad_options) {
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier *v = (fo_verifier *)&loop; /* must be reset to NULL */
  fo_verifier_options o = opts(one_server, 1);
  FT_RC(fo_verifier_new(NULL, &loop, &o), FO_EINVAL);
  FT_RC(fo_verifier_new(&v, NULL, &o), FO_EINVAL);
  FT_RC(fo_verifier_new(&v, &loop, NULL), FO_EINVAL);
  o.server_count = 0;
  FT_RC(fo_verifier_new(&v, &loop, &o), FO_EINVAL);
  const char *many[FO_VERIFY_SERVERS_MAX + 1];
  for (size_t i = 0; i <= FO_VERIFY_SERVERS_MAX; i++)
    many[i] = "127.0.0.1";
  o = opts(many, FO_VERIFY_SERVERS_MAX + 1);
  FT_RC(fo_verifier_new(&v, &loop, &o), FO_EINVAL);
  const char *bad[] = {"localhost", "127.0.0.1:65536", "[::1]:x", "1.2.3",
                       "",          "127.0.0.1:53x",   "[127.0.0.1]:53",
                       "[::1]:",    "127.0.0.1:"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    o = opts(&bad[i], 1);
    FT_RC(fo_verifier_new(&v, &loop, &o), FO_EBADADDR);
  }
  o = opts(one_server, 1);
  o.timeout_ms = 60001;
  FT_RC(fo_verifier_new(&v, &loop, &o), FO_ERANGE);
  o = opts(one_server, 1);
  o.tries = 11;
  FT_RC(fo_verifier_new(&v, &loop, &o), FO_ERANGE);
  o = opts(one_server, 1);
  o.max_in_flight = 4097;
  FT_RC(fo_verifier_new(&v, &loop, &o), FO_ERANGE);
  o = opts(one_server, 1);
  o.version = 99;
  FT_RC(fo_verifier_new(&v, &loop, &o), FO_EVERSION);
  cr_assert_null(v, "*out not NULL after a failure");
  cr_assert_eq(uv_loop_close(&loop), 0, "a refused verifier left handles");
}

Test(verify_api, new_accepts_good_servers) {
  const char *good[] = {"127.0.0.1", "127.0.0.1:5300", "::1", "[::1]:5300",
                        "192.0.2.1:65535", "2001:db8::1"};
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier_options o = opts(good, sizeof good / sizeof good[0]);
  o.timeout_ms = 60000;
  o.tries = 10;
  o.max_in_flight = 4096;
  fo_verifier *v = NULL;
  FT_OK(fo_verifier_new(&v, &loop, &o));
  size_t pending = 99;
  FT_OK(fo_verifier_pending(v, &pending));
  cr_assert_eq(pending, 0);
  FT_RC(fo_verifier_pending(NULL, &pending), FO_EINVAL);
  FT_RC(fo_verifier_pending(v, NULL), FO_EINVAL);
  /* Closing an idle verifier: closed runs from the loop. */
  int closed = 0;
  fo_verifier_close(v, closed_cb, &closed);
  cr_assert_eq(closed, 0, "closed callback ran inside fo_verifier_close");
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(closed, 1);
  cr_assert_eq(uv_loop_close(&loop), 0);
  fo_verifier_close(NULL, NULL, NULL); /* no-op */
}

static int never_calls;
static void never_cb(const fo_verify_result *r, void *u) {
  (void)r;
  (void)u;
  never_calls++;
}

Test(verify_api, verify_name_rejects_bad_arguments) {
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier_options o = opts(one_server, 1);
  fo_verifier *v = NULL;
  FT_OK(fo_verifier_new(&v, &loop, &o));
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, "web1.example.net", NULL, 0};
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  fo_check *c = NULL;
  FT_RC(fo_verify_name(&c, NULL, "www.example.net", &e, &p, never_cb, NULL),
        FO_EINVAL);
  FT_RC(fo_verify_name(&c, v, NULL, &e, &p, never_cb, NULL), FO_EINVAL);
  FT_RC(fo_verify_name(&c, v, "www.example.net", NULL, &p, never_cb, NULL),
        FO_EINVAL);
  FT_RC(fo_verify_name(&c, v, "www.example.net", &e, &p, NULL, NULL),
        FO_EINVAL);
  FT_RC(fo_verify_name(&c, v, "bad name.example.net", &e, &p, never_cb, NULL),
        FO_EBADNAME);
  FT_RC(fo_verify_name(&c, v, "a..b", &e, &p, never_cb, NULL), FO_EBADNAME);
  char longname[300];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  for (size_t i = 60; i < sizeof longname - 1; i += 61)
    longname[i] = '.';
  FT_RC(fo_verify_name(&c, v, longname, &e, &p, never_cb, NULL),
        FO_ENAMETOOLONG);
  fo_expectation bad_target = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, "under_score..x", NULL, 0};
  FT_RC(fo_verify_name(&c, v, "www.example.net", &bad_target, &p, never_cb,
                       NULL),
        FO_EBADNAME);
  fo_expectation no_target = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, NULL, NULL, 0};
  cr_assert_neq(fo_verify_name(&c, v, "www.example.net", &no_target, &p,
                               never_cb, NULL),
                0);
  const char *addrs[FO_VERIFY_ADDRESSES_MAX + 1];
  for (size_t i = 0; i <= FO_VERIFY_ADDRESSES_MAX; i++)
    addrs[i] = "192.0.2.1";
  fo_expectation a0 = {FO_EXPECTATION_VERSION, FO_EXPECT_ADDRESSES, NULL, addrs, 0};
  FT_RC(fo_verify_name(&c, v, "www.example.net", &a0, &p, never_cb, NULL),
        FO_ERANGE);
  fo_expectation a17 = {FO_EXPECTATION_VERSION, FO_EXPECT_ADDRESSES, NULL, addrs,
                        FO_VERIFY_ADDRESSES_MAX + 1};
  FT_RC(fo_verify_name(&c, v, "www.example.net", &a17, &p, never_cb, NULL),
        FO_ERANGE);
  const char *badaddr[] = {"192.0.2.1", "192.0.2"};
  fo_expectation ab = {FO_EXPECTATION_VERSION, FO_EXPECT_ADDRESSES, NULL, badaddr, 2};
  FT_RC(fo_verify_name(&c, v, "www.example.net", &ab, &p, never_cb, NULL),
        FO_EBADADDR);
  fo_expectation kind = {FO_EXPECTATION_VERSION, (fo_expect_kind)42, "x.example.net", NULL, 0};
  FT_RC(fo_verify_name(&c, v, "www.example.net", &kind, &p, never_cb, NULL),
        FO_EINVAL);
  fo_verify_params pv = {99, 0, 0};
  FT_RC(fo_verify_name(&c, v, "www.example.net", &e, &pv, never_cb, NULL),
        FO_EVERSION);
  size_t pending = 9;
  FT_OK(fo_verifier_pending(v, &pending));
  cr_assert_eq(pending, 0, "refused checks are pending");
  finish(&loop, v);
  cr_assert_eq(never_calls, 0, "a refused check called back");
}

/* ---- callbacks from callbacks ---------------------------------------------- */

typedef struct nest {
  fo_verifier *v;
  fo_check *other;
  int calls[3];
  int errors[3];
  int close_from_cb;
} nest;

static nest *g_nest;

static void nest_cb(const fo_verify_result *r, void *userdata) {
  int i = (int)(intptr_t)userdata;
  nest *n = g_nest;
  n->calls[i]++;
  n->errors[i] = r->error;
  if (i == 0 && n->other) {
    /* Cancel another pending check from inside a callback. */
    FT_OK(fo_check_cancel(n->other));
    n->other = NULL;
  }
  if (i == 0 && n->close_from_cb)
    fo_verifier_close(n->v, NULL, NULL);
}

/* Check 0 (unreachable: answered at once) cancels check 1 (silent peer,
 * long timeout) from its callback; check 2 goes on. */
Test(verify_api, cancel_from_a_callback) {
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_SILENT), 0);
  int port = ft_dns_unused_port();
  char dead[64];
  snprintf(dead, sizeof dead, "127.0.0.1:%d", port);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  const char *s_dead[] = {dead};
  const char *s_peer[] = {peer.addr};
  fo_verifier_options o = opts(s_dead, 1);
  fo_verifier *vd = NULL, *vp = NULL;
  FT_OK(fo_verifier_new(&vd, &loop, &o));
  o = opts(s_peer, 1);
  o.timeout_ms = 300;
  o.tries = 1;
  FT_OK(fo_verifier_new(&vp, &loop, &o));
  nest n;
  memset(&n, 0, sizeof n);
  g_nest = &n;
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_NONE, NULL, NULL, 0};
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  fo_verify_params longer = FO_VERIFY_PARAMS_INIT;
  longer.until_ms = 5000;
  FT_OK(fo_verify_name(&n.other, vp, "a.example.net", &e, &longer, nest_cb,
                       (void *)(intptr_t)1));
  FT_OK(fo_verify_name(NULL, vp, "b.example.net", &e, &p, nest_cb,
                       (void *)(intptr_t)2));
  FT_OK(fo_verify_name(NULL, vd, "c.example.net", &e, &p, nest_cb,
                       (void *)(intptr_t)0));
  while (n.calls[2] == 0 && uv_run(&loop, UV_RUN_ONCE))
    ;
  cr_assert_eq(n.calls[0], 1);
  cr_assert_eq(n.calls[1], 1);
  cr_assert_eq(n.errors[1], FO_ECANCELED);
  cr_assert_eq(n.calls[2], 1);
  cr_assert_eq(n.errors[2], 0);
  fo_verifier_close(vd, NULL, NULL);
  fo_verifier_close(vp, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
  ft_dns_peer_stop(&peer);
}

/* Closing the verifier from inside one of its check callbacks: the other
 * pending check is cancelled, and the loop ends clean. */
Test(verify_api, close_from_a_callback) {
  int port = ft_dns_unused_port();
  char dead[64];
  snprintf(dead, sizeof dead, "127.0.0.1:%d", port);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  const char *servers[] = {dead};
  fo_verifier_options o = opts(servers, 1);
  o.timeout_ms = 300;
  o.tries = 1;
  nest n;
  memset(&n, 0, sizeof n);
  g_nest = &n;
  n.close_from_cb = 1;
  FT_OK(fo_verifier_new(&n.v, &loop, &o));
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_NONE, NULL, NULL, 0};
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  fo_verify_params longer = FO_VERIFY_PARAMS_INIT;
  longer.until_ms = 5000;
  longer.interval_ms = 100;
  FT_OK(fo_verify_name(NULL, n.v, "c.example.net", &e, &p, nest_cb,
                       (void *)(intptr_t)0));
  /* Never matches (unreachable): still polling when check 0 closes. */
  FT_OK(fo_verify_name(NULL, n.v, "d.example.net", &e, &longer, nest_cb,
                       (void *)(intptr_t)2));
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(n.calls[0], 1);
  cr_assert_eq(n.calls[2], 1);
  cr_assert_eq(n.errors[2], FO_ECANCELED);
  cr_assert_eq(uv_loop_close(&loop), 0);
}
