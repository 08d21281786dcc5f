/*
 * test_publish_watch.c - fo_publisher_watch() against a real knotd primary
 * on loopback (each test starts its own): a watch fires exactly once, from
 * the loop, when its generation (or a later one) is confirmed; at once from
 * the loop when it is confirmed already; now with FO_ECANCELED when
 * cancelled or when the publisher closes; with the stop code when the
 * publisher stops. Refused watches return their code and change nothing.
 * Thousands of watches on one group each fire once, also when their
 * callbacks cancel one another or close the publisher.
 *
 * The engines' memory comes from the fence allocator
 * (support/engine_support.h), except where a failing allocator is the
 * point.
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <failover/publish.h>

#include "dns_fixture.h"
#include "engine_support.h"

/* No Criterion .timeout (see test_publish_api.c): every wait has its own
 * watchdog, and ctest's TIMEOUT bounds the file. */
#include "support.h"

/* ---- fixture: knotd ------------------------------------------------------------ */

static ft_dns_server srv;

static void w_setup(void) {
  memset(&srv, 0, sizeof srv);
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  cfg.no_ipv6 = 1;
  cr_assert_eq(ft_dns_start(&srv, FT_DNS_KNOT, &cfg), 0,
               "cannot start knotd: %s", srv.error);
}

static void w_teardown(void) { ft_dns_stop(&srv); }

TestSuite(publish_watch, .init = w_setup, .fini = w_teardown);

/* ---- a registry, a loop and a publisher aimed at knotd ------------------------ */

typedef struct wctx {
  uv_loop_t loop;
  watchdog wd;
  fo_registry *reg;
  fo_tsig_key *key;
  fo_publisher *pub;
  fo_stack *shop;
  int stop_error; /* on_error's code */
  int made;       /* a publisher was made */
  int closed;
} wctx;

static void on_error(int error, void *userdata) {
  ((wctx *)userdata)->stop_error = error;
}

/* The registry (FT_ZONE is the fixture's zone) and the loop; the key named
 * `key_name` (NULL: the server's). */
static void w_open(wctx *c, const char *key_name, const fo_allocator *alloc) {
  memset(c, 0, sizeof *c);
  cr_assert_eq(uv_loop_init(&c->loop), 0);
  cr_assert_eq(uv_timer_init(&c->loop, &c->wd.t), 0);
  c->wd.t.data = &c->wd;
  c->reg = registry(alloc);
  FT_OK(fo_tsig_key_new(&c->key, key_name ? key_name : srv.key_name,
                        "hmac-sha256", srv.key_secret));
  c->shop = ft_stack(c->reg, "shop", 1, 0);
}

static void w_publisher(wctx *c, const fo_allocator *alloc) {
  fo_publisher_options o = FO_PUBLISHER_OPTIONS_INIT;
  o.server = srv.addr4;
  o.key = c->key;
  o.timeout_ms = 1000;
  o.retry_min_ms = 10;
  o.retry_max_ms = 50;
  o.on_error = on_error;
  o.userdata = c;
  o.allocator = alloc;
  FT_OK(fo_publisher_new(&c->pub, &c->loop, c->reg, &o));
  c->made = 1;
}

/* Run the loop until *flag >= want; fail after `ms`. */
static void w_wait(wctx *c, const int *flag, int want, uint64_t ms,
                   const char *what) {
  c->wd.fired = 0;
  cr_assert_eq(uv_timer_start(&c->wd.t, watchdog_cb, ms, 0), 0);
  run_until(&c->loop, &c->wd, flag, want);
  uv_timer_stop(&c->wd.t);
  cr_assert_geq(*flag, want, "%s: not within %llu ms (%d of %d)", what,
                (unsigned long long)ms, *flag, want);
}

static void w_run_for(wctx *c, uint64_t ms) {
  int never = 0;
  c->wd.fired = 0;
  cr_assert_eq(uv_timer_start(&c->wd.t, watchdog_cb, ms, 0), 0);
  run_until(&c->loop, &c->wd, &never, 1);
}

static void w_close_publisher(wctx *c) {
  if (c->pub != NULL)
    fo_publisher_close(c->pub, count_cb, &c->closed);
  c->pub = NULL;
}

static void w_done(wctx *c) {
  w_close_publisher(c);
  uv_close((uv_handle_t *)&c->wd.t, NULL);
  loop_done(&c->loop, NULL);
  if (c->made)
    cr_assert_eq(c->closed, 1, "closed callback ran %d times", c->closed);
  fo_registry_free(c->reg);
  fo_tsig_key_free(c->key);
}

static fo_publish_status w_status(wctx *c, fo_group *g) {
  fo_publish_status st = FO_PUBLISH_STATUS_INIT;
  FT_OK(fo_publisher_group_status(c->pub, g, &st));
  return st;
}

/* ---- what each watch was told ---------------------------------------------------- */

/* Set around calls that must not call back (and inside change callbacks). */
static int g_quiet;

typedef struct wrec {
  int calls;
  int error;
  uint64_t generation;
  fo_group *group;
  int loud;                /* called while g_quiet was set */
  fo_publish_watch *handle;
  int cancel_self_rc;      /* fo_publish_watch_cancel(handle) inside */
  int try_cancel_self;
} wrec;

static void watch_cb(fo_group *g, uint64_t generation, int error,
                     void *userdata) {
  wrec *w = userdata;
  w->calls++;
  w->error = error;
  w->generation = generation;
  w->group = g;
  if (g_quiet)
    w->loud++;
  if (w->try_cancel_self)
    w->cancel_self_rc = fo_publish_watch_cancel(w->handle);
}

/* Watch from the test: the call itself must not call back. */
static void w_watch(wctx *c, fo_group *g, uint64_t gen, wrec *w) {
  g_quiet++;
  FT_OK(fo_publisher_watch(&w->handle, c->pub, g, gen, watch_cb, w));
  g_quiet--;
  cr_assert_not_null(w->handle);
  cr_assert_eq(w->calls, 0, "called from inside fo_publisher_watch()");
}

static void assert_told(const wrec *w, int error, const char *what) {
  cr_assert_eq(w->calls, 1, "%s: called %d times", what, w->calls);
  cr_assert_eq(w->error, error, "%s: %s, want %s", what,
               fo_err_name(w->error), fo_err_name(error));
  cr_assert_eq(w->loud, 0, "%s: called inside a call", what);
}

/* A change subscriber that watches the group's new generation from inside
 * the change callback. */
typedef struct change_watch {
  wctx *c;
  fo_group *g;
  wrec w;
  int made;
} change_watch;

static void change_watch_cb(const fo_change *ch, void *userdata) {
  change_watch *x = userdata;
  if (ch->group != x->g || x->made || x->c->pub == NULL)
    return;
  x->made = 1;
  g_quiet++; /* nothing may be called back inside a change callback */
  FT_OK(fo_publisher_watch(NULL, x->c->pub, ch->group, ch->generation,
                           watch_cb, &x->w));
  g_quiet--;
}

/* ---- 1. confirmed: once, from the loop -------------------------------------- */

Test(publish_watch, fires_once_when_confirmed) {
  const fo_allocator *alloc = fence_init();
  wctx c;
  w_open(&c, NULL, alloc);
  w_publisher(&c, alloc);
  cr_assert_eq(fo_publisher_registry(c.pub), c.reg);
  cr_assert_eq(fo_publisher_loop(c.pub), &c.loop);
  cr_assert_null(fo_publisher_registry(NULL));
  cr_assert_null(fo_publisher_loop(NULL));

  g_quiet++;
  fo_group *g = ft_group(c.reg, c.shop, NULL);
  g_quiet--;
  cr_assert_eq(ft_generation(g), 1);
  wrec w;
  memset(&w, 0, sizeof w);
  w_watch(&c, g, 1, &w);
  w_wait(&c, &w.calls, 1, 10000, "confirmation");
  assert_told(&w, 0, "confirmed");
  cr_assert_eq(w.generation, 1);
  cr_assert_eq(w.group, g);
  fo_publish_status st = w_status(&c, g);
  cr_assert_eq(st.state, FO_PUBLISH_PUBLISHED);
  cr_assert_eq(st.published_generation, 1);

  /* A watch made inside a change callback fires later, from the loop. */
  change_watch x;
  memset(&x, 0, sizeof x);
  x.c = &c;
  x.g = g;
  uint32_t sub = 0;
  FT_OK(fo_registry_subscribe(c.reg, change_watch_cb, &x, &sub));
  g_quiet++;
  FT_OK(fo_group_set_ttl(g, 120));
  g_quiet--;
  cr_assert(x.made);
  cr_assert_eq(x.w.calls, 0);
  w_wait(&c, &x.w.calls, 1, 10000, "the change callback's watch");
  assert_told(&x.w, 0, "watch from a change callback");
  cr_assert_eq(x.w.generation, 2);
  FT_OK(fo_registry_unsubscribe(c.reg, sub));

  /* Once only: not again as the loop runs, nor when closing. */
  w_run_for(&c, 200);
  w_close_publisher(&c);
  assert_told(&w, 0, "confirmed, after closing");
  assert_told(&x.w, 0, "change callback's, after closing");
  w_done(&c);
  fence_done();
}

/* A later generation confirmed satisfies an earlier watch (the queue
 * coalesces: the earlier one may never be sent on its own). */
Test(publish_watch, later_generation_completes_it) {
  const fo_allocator *alloc = fence_init();
  wctx c;
  w_open(&c, NULL, alloc);
  w_publisher(&c, alloc);
  fo_group *g = ft_group(c.reg, c.shop, NULL);
  wrec w;
  memset(&w, 0, sizeof w);
  w_watch(&c, g, 1, &w);
  FT_OK(fo_group_set_ttl(g, 120));
  FT_OK(fo_group_set_ttl(g, 180));
  cr_assert_eq(ft_generation(g), 3);
  w_wait(&c, &w.calls, 1, 10000, "confirmation");
  assert_told(&w, 0, "earlier generation");
  cr_assert_geq(w.generation, 1);
  cr_assert_leq(w.generation, 3);
  w_done(&c);
  fence_done();
}

/* ---- 2. confirmed already: from the loop, not inside the call --------------- */

Test(publish_watch, already_confirmed_fires_from_the_loop) {
  const fo_allocator *alloc = fence_init();
  wctx c;
  w_open(&c, NULL, alloc);
  w_publisher(&c, alloc);
  fo_group *g = ft_group(c.reg, c.shop, NULL);
  FT_OK(fo_group_set_ttl(g, 120));
  wrec first;
  memset(&first, 0, sizeof first);
  w_watch(&c, g, 2, &first);
  w_wait(&c, &first.calls, 1, 10000, "confirmation");
  assert_told(&first, 0, "first");

  /* Generation 1 and 2 are both confirmed (2 is). */
  wrec old, cur;
  memset(&old, 0, sizeof old);
  memset(&cur, 0, sizeof cur);
  w_watch(&c, g, 1, &old);
  w_watch(&c, g, 2, &cur);
  w_wait(&c, &cur.calls, 1, 1000, "already confirmed");
  w_wait(&c, &old.calls, 1, 1000, "already confirmed (older)");
  assert_told(&old, 0, "older generation");
  assert_told(&cur, 0, "current generation");
  cr_assert_eq(old.generation, 2, "told %llu, the confirmed one is 2",
               (unsigned long long)old.generation);
  cr_assert_eq(cur.generation, 2);

  /* A deleted group: its deletion is a generation that gets published. */
  fo_group *h = ft_group(c.reg, NULL, NULL); /* reserved: deletable */
  wrec del;
  memset(&del, 0, sizeof del);
  FT_OK(fo_group_delete(h));
  uint64_t gen = ft_generation(h);
  cr_assert_eq(gen, 2);
  w_watch(&c, h, gen, &del);
  w_wait(&c, &del.calls, 1, 10000, "the deletion");
  assert_told(&del, 0, "deleted group");
  cr_assert_eq(del.generation, gen);
  cr_assert_eq(w_status(&c, h).state, FO_PUBLISH_PUBLISHED);
  w_run_for(&c, 100);
  assert_told(&old, 0, "older generation, later");
  assert_told(&cur, 0, "current generation, later");
  w_done(&c);
  fence_done();
}

/* ---- 3. cancel ------------------------------------------------------------------ */

Test(publish_watch, cancel_fires_now_and_once) {
  const fo_allocator *alloc = fence_init();
  wctx c;
  w_open(&c, NULL, alloc);
  w_publisher(&c, alloc);
  fo_group *g = ft_group(c.reg, c.shop, NULL);
  FT_RC(fo_publish_watch_cancel(NULL), FO_EINVAL);

  /* Waiting: called inside the cancel, with the generation watched. */
  wrec a;
  memset(&a, 0, sizeof a);
  w_watch(&c, g, 1, &a);
  FT_OK(fo_publish_watch_cancel(a.handle));
  cr_assert_eq(a.calls, 1, "not called inside fo_publish_watch_cancel()");
  cr_assert_eq(a.error, FO_ECANCELED);
  cr_assert_eq(a.generation, 1);

  /* Cancelling itself from its own callback: FO_EINVAL, no second call. */
  wrec self;
  memset(&self, 0, sizeof self);
  self.try_cancel_self = 1;
  self.cancel_self_rc = 12345;
  w_watch(&c, g, 1, &self);
  w_wait(&c, &self.calls, 1, 10000, "confirmation");
  assert_told(&self, 0, "self-cancelling watch");
  FT_RC(self.cancel_self_rc, FO_EINVAL);

  /* Decided (confirmed already) but not yet told: cancelled all the same,
   * now, and not told again from the loop. */
  wrec due;
  memset(&due, 0, sizeof due);
  w_watch(&c, g, 1, &due);
  FT_OK(fo_publish_watch_cancel(due.handle));
  cr_assert_eq(due.calls, 1);
  cr_assert_eq(due.error, FO_ECANCELED);
  cr_assert_eq(due.generation, 1);
  w_run_for(&c, 200);
  cr_assert_eq(a.calls, 1, "the cancelled watch was called again");
  cr_assert_eq(due.calls, 1, "the cancelled due watch was called again");
  cr_assert_eq(self.calls, 1);
  w_done(&c);
  fence_done();
}

/* ---- 4. the publisher closes ---------------------------------------------------- */

Test(publish_watch, close_cancels_every_watch) {
  const fo_allocator *alloc = fence_init();
  wctx c;
  w_open(&c, NULL, alloc);
  w_publisher(&c, alloc);
  fo_group *g = ft_group(c.reg, c.shop, NULL);
  wrec done;
  memset(&done, 0, sizeof done);
  w_watch(&c, g, 1, &done);
  w_wait(&c, &done.calls, 1, 10000, "confirmation");
  FT_OK(fo_group_set_ttl(g, 120));
  wrec waiting, due;
  memset(&waiting, 0, sizeof waiting);
  memset(&due, 0, sizeof due);
  w_watch(&c, g, 2, &waiting); /* not sent yet */
  w_watch(&c, g, 1, &due);     /* confirmed, not yet told */
  fo_publisher *pub = c.pub;
  fo_publisher_close(pub, count_cb, &c.closed);
  c.pub = NULL;
  cr_assert_eq(waiting.calls, 1, "not called inside fo_publisher_close()");
  cr_assert_eq(waiting.error, FO_ECANCELED);
  cr_assert_eq(waiting.generation, 2);
  cr_assert_eq(due.calls, 1, "not called inside fo_publisher_close()");
  cr_assert_eq(due.error, FO_ECANCELED);
  /* Closing: no new watch, and nothing touched. */
  wrec late;
  memset(&late, 0, sizeof late);
  fo_publish_watch *h = (fo_publish_watch *)&late;
  FT_RC(fo_publisher_watch(&h, pub, g, 2, watch_cb, &late), FO_ECLOSING);
  cr_assert_null(h);
  cr_assert_eq(c.closed, 0);
  w_done(&c);
  assert_told(&done, 0, "confirmed before closing");
  cr_assert_eq(waiting.calls, 1);
  cr_assert_eq(due.calls, 1);
  cr_assert_eq(late.calls, 0);
  fence_done();
}

/* ---- 5. the publisher stops ---------------------------------------------------- */

Test(publish_watch, stop_error_reaches_every_watch) {
  const fo_allocator *alloc = fence_init();
  wctx c;
  w_open(&c, "no-such-key", alloc); /* knotd answers NOTAUTH, BADKEY */
  w_publisher(&c, alloc);
  fo_group *g = ft_group(c.reg, c.shop, NULL);
  wrec before;
  memset(&before, 0, sizeof before);
  w_watch(&c, g, 1, &before);
  w_wait(&c, &before.calls, 1, 10000, "the stop");
  assert_told(&before, FO_EBADKEY, "watch before the stop");
  cr_assert_eq(before.generation, 1);
  FT_RC(c.stop_error, FO_EBADKEY);
  FT_RC(fo_publisher_error(c.pub), FO_EBADKEY);
  fo_publish_status st = w_status(&c, g);
  cr_assert_eq(st.state, FO_PUBLISH_FAILED);
  FT_RC(st.error, FO_EBADKEY);

  /* Made while stopped: told from the loop, not inside the call. */
  wrec after;
  memset(&after, 0, sizeof after);
  w_watch(&c, g, 1, &after);
  w_wait(&c, &after.calls, 1, 1000, "watch while stopped");
  assert_told(&after, FO_EBADKEY, "watch while stopped");

  /* The right key and a resume: a new watch is confirmed; the old ones
   * are not told again. */
  fo_tsig_key *good = NULL;
  FT_OK(fo_tsig_key_new(&good, srv.key_name, "hmac-sha256", srv.key_secret));
  FT_OK(fo_publisher_set_key(c.pub, good));
  fo_tsig_key_free(good);
  FT_OK(fo_publisher_resume(c.pub));
  wrec resumed;
  memset(&resumed, 0, sizeof resumed);
  w_watch(&c, g, 1, &resumed);
  w_wait(&c, &resumed.calls, 1, 10000, "confirmation after resume");
  assert_told(&resumed, 0, "watch after resume");
  assert_told(&before, FO_EBADKEY, "watch before the stop, later");
  assert_told(&after, FO_EBADKEY, "watch while stopped, later");
  w_done(&c);
  fence_done();
}

/* ---- 6. refused: each code, nothing changed ----------------------------------- */

Test(publish_watch, bad_arguments_change_nothing) {
  const fo_allocator *alloc = fence_init();
  wctx c;
  w_open(&c, NULL, alloc);
  /* Created before the publisher: it has not heard of the group. */
  fo_group *g = ft_group(c.reg, c.shop, NULL);
  w_publisher(&c, alloc);
  fo_registry *other = registry(alloc);
  fo_group *foreign = ft_group(other, NULL, NULL);
  uint32_t serial = 0;
  cr_assert_eq(ft_dns_soa_serial(srv.port, srv.zone, 2000, &serial), 0);

  wrec w;
  memset(&w, 0, sizeof w);
  fo_publish_watch *sentinel = (fo_publish_watch *)&w, *h;
#define REFUSED(call, code)                                                    \
  do {                                                                         \
    h = sentinel;                                                              \
    FT_RC(call, code);                                                         \
    cr_assert_null(h, "*out not cleared on %s", #code);                        \
  } while (0)
  REFUSED(fo_publisher_watch(&h, NULL, g, 1, watch_cb, &w), FO_EINVAL);
  REFUSED(fo_publisher_watch(&h, c.pub, NULL, 1, watch_cb, &w), FO_EINVAL);
  REFUSED(fo_publisher_watch(&h, c.pub, g, 1, NULL, &w), FO_EINVAL);
  REFUSED(fo_publisher_watch(&h, c.pub, foreign, 1, watch_cb, &w),
          FO_EFOREIGN);
  REFUSED(fo_publisher_watch(&h, c.pub, g, 0, watch_cb, &w), FO_ERANGE);
  REFUSED(fo_publisher_watch(&h, c.pub, g, 2, watch_cb, &w), FO_ERANGE);
  REFUSED(fo_publisher_watch(&h, c.pub, g, UINT64_MAX, watch_cb, &w),
          FO_ERANGE);
#undef REFUSED
  FT_RC(fo_publisher_watch(NULL, c.pub, g, 0, watch_cb, &w), FO_ERANGE);

  /* Nothing queued, nothing sent, nothing called. */
  size_t pending = 99;
  FT_OK(fo_publisher_pending(c.pub, &pending));
  cr_assert_eq(pending, 0, "a refused watch queued the group");
  w_run_for(&c, 300);
  cr_assert_eq(w.calls, 0, "a refused watch was called");
  FT_OK(fo_publisher_pending(c.pub, &pending));
  cr_assert_eq(pending, 0);
  uint32_t now = 0;
  cr_assert_eq(ft_dns_soa_serial(srv.port, srv.zone, 2000, &now), 0);
  cr_assert_eq(now, serial, "the zone changed (serial %u -> %u)", serial,
               now);
  fo_publish_status st = w_status(&c, g);
  cr_assert_eq(st.state, FO_PUBLISH_PENDING);
  cr_assert_eq(st.published_generation, 0);

  /* The same group, watched right: queued and sent. */
  w_watch(&c, g, 1, &w);
  FT_OK(fo_publisher_pending(c.pub, &pending));
  cr_assert_eq(pending, 1);
  w_wait(&c, &w.calls, 1, 10000, "confirmation");
  assert_told(&w, 0, "the group nobody changed");
  w_done(&c);
  fo_registry_free(other);
  fence_done();
}

/* FO_ENOMEM at each allocation a watch makes: refused, nothing changed;
 * then it works. */
Test(publish_watch, out_of_memory_changes_nothing) {
  ft_alloc fa;
  ft_alloc_init(&fa);
  wctx c;
  w_open(&c, NULL, NULL);
  fo_group *g = ft_group(c.reg, c.shop, NULL);
  w_publisher(&c, &fa.hooks);
  wrec w;
  memset(&w, 0, sizeof w);
  int refused = 0;
  for (size_t k = 1;; k++) {
    fo_publish_watch *h = (fo_publish_watch *)&w;
    fa.fail_at = fa.count + k;
    int rc = fo_publisher_watch(&h, c.pub, g, 1, watch_cb, &w);
    fa.fail_at = 0;
    if (rc == 0) {
      w.handle = h;
      break;
    }
    FT_RC(rc, FO_ENOMEM);
    cr_assert_null(h);
    size_t pending = 99;
    FT_OK(fo_publisher_pending(c.pub, &pending));
    cr_assert_eq(pending, 0, "a refused watch queued the group");
    refused++;
    cr_assert_lt(k, 20, "still failing after %zu allocations", k);
  }
  cr_assert_geq(refused, 1, "the watch allocates nothing?");
  cr_assert_eq(w.calls, 0);
  w_wait(&c, &w.calls, 1, 10000, "confirmation");
  assert_told(&w, 0, "after the failures");
  w_done(&c);
  cr_assert_eq(fa.live, 0, "%zu blocks leaked", fa.live);
  cr_assert_eq(fa.bad_frees, 0);
}

/* ---- 7. thousands on one group ------------------------------------------------- */

enum { MANY = 4000 };

typedef struct many {
  wrec w[MANY];
  int total;
  int cancel_next;  /* even ones cancel the next (odd) one */
  wctx *close_from; /* the first one called closes the publisher */
} many;

static many *g_many;

static void many_cb(fo_group *g, uint64_t generation, int error,
                    void *userdata) {
  wrec *w = userdata;
  many *m = g_many;
  size_t k = (size_t)(w - m->w);
  watch_cb(g, generation, error, userdata);
  m->total++;
  if (m->cancel_next && k % 2 == 0 && k + 1 < MANY &&
      m->w[k + 1].calls == 0)
    FT_OK(fo_publish_watch_cancel(m->w[k + 1].handle));
  if (m->close_from != NULL && m->close_from->pub != NULL) {
    fo_publisher *pub = m->close_from->pub;
    m->close_from->pub = NULL;
    fo_publisher_close(pub, count_cb, &m->close_from->closed);
  }
}

static void many_watch(wctx *c, many *m, fo_group *g, uint64_t gen) {
  memset(m->w, 0, sizeof m->w);
  m->total = 0;
  g_quiet++;
  for (size_t k = 0; k < MANY; k++)
    FT_OK(fo_publisher_watch(&m->w[k].handle, c->pub, g, gen, many_cb,
                             &m->w[k]));
  g_quiet--;
  cr_assert_eq(m->total, 0);
}

Test(publish_watch, thousands_on_one_group_fire_once) {
  const fo_allocator *alloc = fence_init();
  many *m = calloc(1, sizeof *m);
  cr_assert_not_null(m);
  g_many = m;
  wctx c;
  w_open(&c, NULL, alloc);
  w_publisher(&c, alloc);
  fo_group *g = ft_group(c.reg, c.shop, NULL);

  /* Waiting, confirmed together; each even one cancels the next. */
  m->cancel_next = 1;
  many_watch(&c, m, g, 1);
  w_wait(&c, &m->total, MANY, 20000, "every watch");
  w_run_for(&c, 100);
  cr_assert_eq(m->total, MANY);
  for (size_t k = 0; k < MANY; k++) {
    assert_told(&m->w[k], k % 2 == 0 ? 0 : FO_ECANCELED, "one of many");
    cr_assert_eq(m->w[k].generation, 1);
  }
  m->cancel_next = 0;

  /* A later generation, all confirmed. */
  FT_OK(fo_group_set_ttl(g, 120));
  many_watch(&c, m, g, 2);
  w_wait(&c, &m->total, MANY, 20000, "every watch of generation 2");
  for (size_t k = 0; k < MANY; k++) {
    assert_told(&m->w[k], 0, "one of many, generation 2");
    cr_assert_eq(m->w[k].generation, 2);
  }

  /* Confirmed already; the first one called closes the publisher: it is
   * told 0, every other one FO_ECANCELED from inside that close. */
  m->close_from = &c;
  many_watch(&c, m, g, 2);
  w_wait(&c, &m->total, MANY, 5000, "every watch, closing");
  assert_told(&m->w[0], 0, "the one that closed");
  for (size_t k = 1; k < MANY; k++)
    cr_assert_eq(m->w[k].calls, 1, "watch %zu called %d times", k,
                 m->w[k].calls);
  for (size_t k = 1; k < MANY; k++)
    cr_assert_eq(m->w[k].error, FO_ECANCELED);
  cr_assert_null(c.pub);
  w_done(&c);
  cr_assert_eq(m->total, MANY);
  free(m);
  fence_done();
}
