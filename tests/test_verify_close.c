/*
 * test_verify_close.c - regression tests of the verifier's life cycle:
 * closing it right after checks started, and cancelling a check or closing
 * the verifier while answered checks wait to be judged. No DNS server: fake
 * peers on loopback (support/dns_peer.h) and unused ports. The engines'
 * memory comes from the fence allocator (support/engine_support.h).
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <failover/verify.h>

#include "dns_peer.h"
#include "engine_support.h"
#include "support.h"

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

/* ---- 1. verifier closed right after a one-shot check started ---------------- */

typedef struct vres {
  int calls;
  int error;
  fo_verify_status status;
} vres;

static void vres_cb(const fo_verify_result *r, void *userdata) {
  vres *x = userdata;
  x->calls++;
  x->error = r->error;
  x->status = r->status;
}

/* Before the loop ran the check holds no reference of a query: cancelling
 * it freed it, and with it the (closing, idle) verifier, inside
 * fo_verifier_close(), which then wrote to the freed verifier. `sent`: run
 * the loop once first, so that the queries are out. */
static void close_after_start(const char *server, int nchecks, int sent) {
  const fo_allocator *alloc = fence_init();
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier *v = verifier(&loop, server, alloc);
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_NONE, NULL, NULL, 0};
  vres res[3];
  memset(res, 0, sizeof res);
  cr_assert(nchecks <= 3);
  for (int i = 0; i < nchecks; i++) {
    char name[64];
    snprintf(name, sizeof name, "c%d.example.net", i);
    FT_OK(fo_verify_name(NULL, v, name, &e, NULL, vres_cb, &res[i]));
  }
  if (sent)
    uv_run(&loop, UV_RUN_NOWAIT);
  int closed = 0;
  fo_verifier_close(v, count_cb, &closed);
  for (int i = 0; i < nchecks; i++) {
    cr_assert_eq(res[i].calls, 1, "check %d: %d callbacks in close", i,
                 res[i].calls);
    FT_RC(res[i].error, FO_ECANCELED);
  }
  cr_assert_eq(closed, 0, "closed ran inside fo_verifier_close");
  loop_done(&loop, NULL);
  cr_assert_eq(closed, 1, "closed callback ran %d times", closed);
  for (int i = 0; i < nchecks; i++)
    cr_assert_eq(res[i].calls, 1, "check %d: %d callbacks", i, res[i].calls);
  fence_done();
}

Test(verify_close, verifier_close_before_loop_unused_port, .timeout = 30) {
  char dead[64];
  dead_server(dead, sizeof dead);
  close_after_start(dead, 1, 0);
}

Test(verify_close, verifier_close_before_loop_silent_peer, .timeout = 30) {
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_SILENT), 0);
  close_after_start(peer.addr, 1, 0);
  ft_dns_peer_stop(&peer);
}

Test(verify_close, verifier_close_before_loop_three_checks, .timeout = 30) {
  char dead[64];
  dead_server(dead, sizeof dead);
  close_after_start(dead, 3, 0);
}

/* Not the bug (the queries hold the checks then), the same contract. */
Test(verify_close, verifier_close_with_queries_out, .timeout = 30) {
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_SILENT), 0);
  close_after_start(peer.addr, 2, 1);
  ft_dns_peer_stop(&peer);
}

/* ---- 2. checks answered in one iteration: cancel / close before judging --------- */

/*
 * How to land in the window: a check's round is answered (reply callback:
 * the check goes on the verifier's ready list, its query's reference is
 * dropped) and judged later, from the kick timer. Both checks' queries are
 * queued by the kick and sent by the transport in the idle phase of the
 * same loop iteration; a prepare handle (it runs after idle, before the
 * poll) blocks the loop until the peer has answered both, so that the
 * poll reads both replies, and the next kick judges both, one after the
 * other.
 */
typedef struct window {
  ft_dns_peer *peer;
  unsigned want; /* peer's query count once both are in */
  int reached;
  int held;
  uv_prepare_t hold;
} window;

static void hold_cb(uv_prepare_t *t) {
  window *w = t->data;
  uv_prepare_stop(t); /* once: the iteration that sent the queries */
  for (int i = 0; i < 5000 && ft_dns_peer_queries(w->peer) < w->want; i++)
    sleep_ms(1);
  w->reached = ft_dns_peer_queries(w->peer) >= w->want;
  sleep_ms(50); /* the peer answers right after counting */
  w->held = 1;
}

static void window_arm(uv_loop_t *loop, window *w, ft_dns_peer *peer,
                       unsigned queries) {
  memset(w, 0, sizeof *w);
  w->peer = peer;
  w->want = ft_dns_peer_queries(peer) + queries;
  cr_assert_eq(uv_prepare_init(loop, &w->hold), 0);
  w->hold.data = w;
  cr_assert_eq(uv_prepare_start(&w->hold, hold_cb), 0);
}

typedef struct race race;
typedef struct racer {
  race *r;
  int i;
} racer;

struct race {
  fo_check *check[2];
  racer who[2];
  int calls[2];
  int error[2];
  int total;
  int cancel_rc;
  int cancelled; /* index cancelled by the first callback, -1: none */
};

static void race_cb(const fo_verify_result *res, void *userdata) {
  racer *me = userdata;
  race *r = me->r;
  int i = me->i, other = 1 - i;
  r->calls[i]++;
  r->error[i] = res->error;
  r->total++;
  r->check[i] = NULL; /* the handle goes when we return */
  if (r->total == 1 && r->check[other] != NULL) {
    /* The other check was answered in the same poll: judged next. */
    r->cancelled = other;
    r->cancel_rc = fo_check_cancel(r->check[other]);
    r->check[other] = NULL;
  }
}

Test(verify_close, cancel_check_answered_not_yet_judged, .timeout = 30) {
  const fo_allocator *alloc = fence_init();
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start_rcode(&peer, 3 /* NXDOMAIN */), 0);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier *v = verifier(&loop, peer.addr, alloc);
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, "target.example.net", NULL, 0};
  int hits = 0;
  for (int round = 0; round < 4; round++) {
    race r;
    memset(&r, 0, sizeof r);
    r.cancelled = -1;
    r.cancel_rc = -999;
    for (int i = 0; i < 2; i++) {
      char name[64];
      snprintf(name, sizeof name, "r%d-%d.example.net", round, i);
      r.who[i].r = &r;
      r.who[i].i = i;
      FT_OK(fo_verify_name(&r.check[i], v, name, &e, NULL, race_cb,
                           &r.who[i]));
    }
    window w;
    window_arm(&loop, &w, &peer, 2); /* one query (A) per check */
    watchdog wd;
    watchdog_start(&loop, &wd, 10000);
    run_until(&loop, &wd, &r.total, 2);
    cr_assert(!wd.fired, "round %d: callbacks %d, %d after 10 s", round,
              r.calls[0], r.calls[1]);
    cr_assert(w.held);
    uv_close((uv_handle_t *)&w.hold, NULL);
    /* A little longer: a second callback would come now. */
    uv_timer_start(&wd.t, watchdog_cb, 50, 0);
    wd.fired = 0;
    run_until(&loop, &wd, &wd.fired, 1);
    uv_close((uv_handle_t *)&wd.t, NULL);
    uv_run(&loop, UV_RUN_NOWAIT);
    cr_assert_eq(r.calls[0], 1, "round %d: first check called %d times",
                 round, r.calls[0]);
    cr_assert_eq(r.calls[1], 1, "round %d: second check called %d times",
                 round, r.calls[1]);
    cr_assert_neq(r.cancelled, -1, "round %d: both judged in one call?",
                  round);
    FT_RC(r.cancel_rc, 0);
    int first = 1 - r.cancelled;
    FT_RC(r.error[first], 0); /* judged: NXDOMAIN, no error */
    cr_assert(r.error[r.cancelled] == 0 ||
                  r.error[r.cancelled] == FO_ECANCELED,
              "round %d: cancelled check: %s", round,
              fo_err_name(r.error[r.cancelled]));
    hits += w.reached;
  }
  cr_assert_gt(hits, 0, "the peer never saw both queries in time");
  int closed = 0;
  fo_verifier_close(v, count_cb, &closed);
  loop_done(&loop, NULL);
  cr_assert_eq(closed, 1);
  ft_dns_peer_stop(&peer);
  fence_done();
}

/* Close the verifier in the same window: after the poll that read both
 * replies (a check handle runs right after the poll), before the kick. */
typedef struct closer {
  uv_check_t check;
  window *w;
  fo_verifier *v;
  int closed;
  int did_close;
} closer;

static void closer_check_cb(uv_check_t *h) {
  closer *c = h->data;
  if (c->did_close || !c->w->held)
    return;
  c->did_close = 1;
  fo_verifier_close(c->v, count_cb, &c->closed);
  uv_check_stop(h);
}

Test(verify_close, close_verifier_answered_not_yet_judged, .timeout = 30) {
  const fo_allocator *alloc = fence_init();
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start_rcode(&peer, 3 /* NXDOMAIN */), 0);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier *v = verifier(&loop, peer.addr, alloc);
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, "target.example.net", NULL, 0};
  vres res[2];
  memset(res, 0, sizeof res);
  FT_OK(fo_verify_name(NULL, v, "a.example.net", &e, NULL, vres_cb, &res[0]));
  FT_OK(fo_verify_name(NULL, v, "b.example.net", &e, NULL, vres_cb, &res[1]));
  window w;
  window_arm(&loop, &w, &peer, 2);
  closer c;
  memset(&c, 0, sizeof c);
  c.w = &w;
  c.v = v;
  cr_assert_eq(uv_check_init(&loop, &c.check), 0);
  c.check.data = &c;
  cr_assert_eq(uv_check_start(&c.check, closer_check_cb), 0);
  watchdog wd;
  watchdog_start(&loop, &wd, 10000);
  run_until(&loop, &wd, &c.closed, 1);
  cr_assert(!wd.fired, "verifier not closed after 10 s (closed %d)",
            c.did_close);
  cr_assert(w.reached, "the peer did not get both queries");
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(res[i].calls, 1, "check %d: %d callbacks", i, res[i].calls);
    FT_RC(res[i].error, FO_ECANCELED);
  }
  uv_close((uv_handle_t *)&c.check, NULL);
  uv_close((uv_handle_t *)&w.hold, NULL);
  loop_done(&loop, &wd);
  cr_assert_eq(c.closed, 1);
  for (int i = 0; i < 2; i++)
    cr_assert_eq(res[i].calls, 1, "check %d: %d callbacks", i, res[i].calls);
  ft_dns_peer_stop(&peer);
  fence_done();
}
