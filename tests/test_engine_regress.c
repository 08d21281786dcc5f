/*
 * test_engine_regress.c - regression tests for engine bugs found in review
 * (verifier, publisher, switch workflow). No DNS server: fake peers on
 * loopback (support/dns_peer.h), unused ports and a broadcast address.
 *
 * In a plain build the engines' memory comes from a "fence" allocator
 * (below): every block has pages of its own, and a freed block's pages are
 * made inaccessible and kept for a while. A use after free then crashes
 * the test at once instead of reading stale bytes that happen to look
 * right. The fence counts its live blocks and every test asserts none is
 * left. Under AddressSanitizer or Valgrind the engines use malloc instead,
 * so that those tools see (and check) their memory in full.
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11; mmap */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <failover/publish.h>
#include <failover/verify.h>

#include "dns_fixture.h"
#include "dns_peer.h"
#include "support.h"

/* ---- fence allocator -------------------------------------------------------- */

#define FENCE_MAGIC 0x46454e43u
#define FENCE_QUARANTINE 4096 /* freed mappings kept inaccessible */

typedef union fence_hdr {
  struct {
    void *base;     /* the mapping */
    size_t map_len; /* its length, guard page included */
    size_t size;    /* bytes asked for */
    unsigned magic;
  } h;
  max_align_t align;
} fence_hdr;

typedef struct fence {
  size_t page;
  size_t live;   /* blocks handed out and not freed */
  size_t allocs; /* blocks handed out */
  size_t bad;    /* frees of blocks not ours, or freed twice */
  struct {
    void *base;
    size_t len;
  } dead[FENCE_QUARANTINE];
  size_t ndead, next; /* ring: the oldest is unmapped when full */
  fo_allocator hooks;
} fence;

static fence g_fence;

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* The block ends where a PROT_NONE guard page starts. */
static void *fence_malloc(size_t size, void *ud) {
  fence *f = ud;
  size_t body = round_up(size ? size : 1, alignof(max_align_t));
  size_t data = round_up(body + sizeof(fence_hdr), f->page);
  size_t len = data + f->page;
  unsigned char *base =
      mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
           0);
  if (base == MAP_FAILED)
    return NULL;
  if (mprotect(base + data, f->page, PROT_NONE) != 0) {
    munmap(base, len);
    return NULL;
  }
  unsigned char *block = base + data - body;
  fence_hdr *h = (fence_hdr *)block - 1;
  h->h.base = base;
  h->h.map_len = len;
  h->h.size = size;
  h->h.magic = FENCE_MAGIC;
  f->live++;
  f->allocs++;
  return block;
}

static void fence_free(void *ptr, void *ud) {
  fence *f = ud;
  if (ptr == NULL)
    return;
  fence_hdr *h = (fence_hdr *)ptr - 1;
  if (h->h.magic != FENCE_MAGIC) {
    f->bad++;
    return;
  }
  h->h.magic = 0;
  f->live--;
  void *base = h->h.base;
  size_t len = h->h.map_len;
  if (f->ndead == FENCE_QUARANTINE) { /* let the oldest go */
    munmap(f->dead[f->next].base, f->dead[f->next].len);
    f->ndead--;
  }
  mprotect(base, len, PROT_NONE);
  f->dead[f->next].base = base;
  f->dead[f->next].len = len;
  f->next = (f->next + 1) % FENCE_QUARANTINE;
  f->ndead++;
}

static void *fence_realloc(void *ptr, size_t size, void *ud) {
  fence *f = ud;
  if (ptr == NULL)
    return fence_malloc(size, ud);
  fence_hdr *h = (fence_hdr *)ptr - 1;
  if (h->h.magic != FENCE_MAGIC) {
    f->bad++;
    return NULL;
  }
  void *n = fence_malloc(size, ud);
  if (n == NULL)
    return NULL; /* the old block stays */
  memcpy(n, ptr, h->h.size < size ? h->h.size : size);
  fence_free(ptr, ud);
  return n;
}

#if defined(__SANITIZE_ADDRESS__)
#define FT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FT_ASAN 1
#endif
#endif

/* Not under ASan or Valgrind (its preload library is in LD_PRELOAD). */
static int fence_wanted(void) {
#ifdef FT_ASAN
  return 0;
#else
  const char *pre = getenv("LD_PRELOAD");
  return pre == NULL || strstr(pre, "vgpreload") == NULL;
#endif
}

/* The allocator for this test's registries and engines; NULL (malloc)
 * when the fence is off. */
static const fo_allocator *fence_init(void) {
  fence *f = &g_fence;
  memset(f, 0, sizeof *f);
  if (!fence_wanted())
    return NULL;
  f->page = (size_t)sysconf(_SC_PAGESIZE);
  f->hooks.malloc = fence_malloc;
  f->hooks.realloc = fence_realloc;
  f->hooks.free = fence_free;
  f->hooks.userdata = f;
  return &f->hooks;
}

/* Every engine and registry freed: nothing may be left, nothing freed
 * wrongly. Unmaps the quarantine. */
static void fence_done(void) {
  fence *f = &g_fence;
  size_t k, i = (f->next + FENCE_QUARANTINE - f->ndead) % FENCE_QUARANTINE;
  for (k = 0; k < f->ndead; k++, i = (i + 1) % FENCE_QUARANTINE)
    munmap(f->dead[i].base, f->dead[i].len);
  f->ndead = 0;
  cr_assert_eq(f->bad, 0, "%zu bad frees", f->bad);
  cr_assert_eq(f->live, 0, "%zu of %zu blocks leaked", f->live, f->allocs);
}

/* ---- loop helpers ---------------------------------------------------------------- */

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

typedef struct watchdog {
  uv_timer_t t;
  int fired;
} watchdog;

static void watchdog_cb(uv_timer_t *t) { ((watchdog *)t->data)->fired = 1; }

static void watchdog_start(uv_loop_t *loop, watchdog *w, uint64_t ms) {
  w->fired = 0;
  cr_assert_eq(uv_timer_init(loop, &w->t), 0);
  w->t.data = w;
  cr_assert_eq(uv_timer_start(&w->t, watchdog_cb, ms, 0), 0);
}

/* Run the loop until *flag >= want or the watchdog fires. */
static void run_until(uv_loop_t *loop, watchdog *w, const int *flag,
                      int want) {
  while (*flag < want && !w->fired)
    uv_run(loop, UV_RUN_ONCE);
}

static void walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  cr_log_error("handle left open: %s (active %d, closing %d)",
               uv_handle_type_name(uv_handle_get_type(h)), uv_is_active(h),
               uv_is_closing(h));
}

/* Close the watchdog (NULL: none), run the loop dry, close it. */
static void loop_done(uv_loop_t *loop, watchdog *w) {
  if (w != NULL)
    uv_close((uv_handle_t *)&w->t, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(loop);
  if (rc != 0)
    uv_walk(loop, walk_cb, NULL);
  cr_assert_eq(rc, 0, "uv_loop_close: %s", uv_err_name(rc));
}

static void count_cb(void *userdata) { (*(int *)userdata)++; }

static void dead_server(char *buf, size_t size) {
  int port = ft_dns_unused_port();
  cr_assert_gt(port, 0, "no unused port");
  snprintf(buf, size, "127.0.0.1:%d", port);
}

static fo_verifier *verifier(uv_loop_t *loop, const char *server,
                             const fo_allocator *alloc) {
  const char *servers[] = {server};
  fo_verifier_options o;
  FT_OK(fo_verifier_options_init(&o, FO_VERIFIER_OPTIONS_VERSION));
  o.servers = servers;
  o.server_count = 1;
  o.allocator = alloc;
  fo_verifier *v = NULL;
  FT_OK(fo_verifier_new(&v, loop, &o));
  return v;
}

static fo_registry *registry(const fo_allocator *alloc) {
  fo_registry_options o = FO_REGISTRY_OPTIONS_INIT;
  o.zone = FT_ZONE;
  o.allocator = alloc;
  fo_registry *reg = NULL;
  FT_OK(fo_registry_new(&reg, &o));
  return reg;
}

static fo_tsig_key *key(void) {
  fo_tsig_key *k = NULL;
  FT_OK(fo_tsig_key_new(&k, "ft-key", "hmac-sha256",
                        "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"));
  return k;
}

static fo_publisher *publisher(uv_loop_t *loop, fo_registry *reg,
                               const char *server, const fo_tsig_key *k,
                               const fo_allocator *alloc) {
  fo_publisher_options o;
  FT_OK(fo_publisher_options_init(&o, FO_PUBLISHER_OPTIONS_VERSION));
  o.server = server;
  o.key = k;
  o.allocator = alloc;
  fo_publisher *pub = NULL;
  FT_OK(fo_publisher_new(&pub, loop, reg, &o));
  return pub;
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
  fo_expectation e = {FO_EXPECT_NONE, NULL, NULL, 0};
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

Test(engine_regress, verifier_close_before_loop_unused_port, .timeout = 30) {
  char dead[64];
  dead_server(dead, sizeof dead);
  close_after_start(dead, 1, 0);
}

Test(engine_regress, verifier_close_before_loop_silent_peer, .timeout = 30) {
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_SILENT), 0);
  close_after_start(peer.addr, 1, 0);
  ft_dns_peer_stop(&peer);
}

Test(engine_regress, verifier_close_before_loop_three_checks, .timeout = 30) {
  char dead[64];
  dead_server(dead, sizeof dead);
  close_after_start(dead, 3, 0);
}

/* Not the bug (the queries hold the checks then), the same contract. */
Test(engine_regress, verifier_close_with_queries_out, .timeout = 30) {
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_SILENT), 0);
  close_after_start(peer.addr, 2, 1);
  ft_dns_peer_stop(&peer);
}

/* ---- 2. checks answered in one iteration: cancel / close before judging --------- */

/*
 * How to land in the window: a check's round is answered (reply callback:
 * the check goes on the verifier's ready list, its query's reference is
 * dropped) and judged later, from the kick timer. Both checks' queries go
 * out from the kick; a timer started after the checks (same timeout,
 * started later: it runs right after the kick) blocks the loop until the
 * peer has answered both, so that the next poll reads both replies, and
 * the next kick judges both, one after the other.
 */
typedef struct window {
  ft_dns_peer *peer;
  unsigned want; /* peer's query count once both are in */
  int reached;
  int held;
  uv_timer_t hold;
} window;

static void hold_cb(uv_timer_t *t) {
  window *w = t->data;
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
  cr_assert_eq(uv_timer_init(loop, &w->hold), 0);
  w->hold.data = w;
  cr_assert_eq(uv_timer_start(&w->hold, hold_cb, 0, 0), 0);
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

Test(engine_regress, cancel_check_answered_not_yet_judged, .timeout = 30) {
  const fo_allocator *alloc = fence_init();
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start_rcode(&peer, 3 /* NXDOMAIN */), 0);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier *v = verifier(&loop, peer.addr, alloc);
  fo_expectation e = {FO_EXPECT_CNAME, "target.example.net", NULL, 0};
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

Test(engine_regress, close_verifier_answered_not_yet_judged, .timeout = 30) {
  const fo_allocator *alloc = fence_init();
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start_rcode(&peer, 3 /* NXDOMAIN */), 0);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier *v = verifier(&loop, peer.addr, alloc);
  fo_expectation e = {FO_EXPECT_CNAME, "target.example.net", NULL, 0};
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

/* ---- 3. publisher: sends that fail inside ares_send() ----------------------- */

static void count_iter(uv_prepare_t *h) { (*(unsigned *)h->data)++; }

/* connect() of a UDP socket to the limited broadcast address fails with
 * EACCES (no SO_BROADCAST): every send fails synchronously, is put back at
 * once, and the kick used to send it again, forever, inside one callback. */
Test(engine_regress, publisher_sync_send_failure_does_not_spin,
     .timeout = 30) {
  const fo_allocator *alloc = fence_init();
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_registry *reg = registry(alloc);
  fo_tsig_key *k = key();
  fo_publisher *pub = publisher(&loop, reg, "255.255.255.255", k, alloc);
  fo_group *g = NULL;
  FT_OK(fo_group_create(&g, reg, NULL, NULL)); /* something to publish */
  unsigned iterations = 0;
  uv_prepare_t prep;
  cr_assert_eq(uv_prepare_init(&loop, &prep), 0);
  prep.data = &iterations;
  cr_assert_eq(uv_prepare_start(&prep, count_iter), 0);
  watchdog wd;
  watchdog_start(&loop, &wd, 300);
  uint64_t t0 = uv_hrtime();
  run_until(&loop, &wd, &wd.fired, 1);
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  cr_log_info("300 ms watchdog after %.0f ms, %u loop iterations", ms,
              iterations);
  cr_assert(wd.fired);
  fo_publish_status st;
  FT_OK(fo_publisher_group_status(pub, g, &st));
  cr_assert(st.state == FO_PUBLISH_PENDING || st.state == FO_PUBLISH_FAILED,
            "group state %d: published or in flight?", (int)st.state);
  cr_assert_eq(st.published_generation, 0);
  size_t pending = 0;
  FT_OK(fo_publisher_pending(pub, &pending));
  cr_assert_eq(pending, 1);
  int closed = 0;
  fo_publisher_close(pub, count_cb, &closed);
  uv_close((uv_handle_t *)&prep, NULL);
  loop_done(&loop, &wd);
  cr_assert_eq(closed, 1);
  fo_registry_free(reg);
  fo_tsig_key_free(k);
  fence_done();
}

/* ---- 4. publisher closed from a change callback -------------------------------- */

typedef struct feed {
  fo_publisher *pub; /* closed by the first event */
  int events;
  int closed;
} feed;

static void closer_change_cb(const fo_change *ch, void *userdata) {
  feed *f = userdata;
  (void)ch;
  f->events++;
  if (f->pub != NULL) {
    fo_publisher *pub = f->pub;
    f->pub = NULL;
    fo_publisher_close(pub, count_cb, &f->closed);
  }
}

/* The registry refuses to unsubscribe from inside a change callback
 * (FO_EBUSY); the publisher ignored that, was freed by the loop, and the
 * next change called it. `before`: the test's subscriber comes first (the
 * publisher then gets the same event after being closed). */
static void close_from_change(int before) {
  const fo_allocator *alloc = fence_init();
  char dead[64];
  dead_server(dead, sizeof dead);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_registry *reg = registry(alloc);
  fo_tsig_key *k = key();
  feed f;
  memset(&f, 0, sizeof f);
  uint32_t id = 0;
  if (before)
    FT_OK(fo_registry_subscribe(reg, closer_change_cb, &f, &id));
  f.pub = publisher(&loop, reg, dead, k, alloc);
  if (!before)
    FT_OK(fo_registry_subscribe(reg, closer_change_cb, &f, &id));
  fo_group *g = NULL;
  FT_OK(fo_group_create(&g, reg, NULL, NULL)); /* closes the publisher */
  cr_assert_null(f.pub, "no change event");
  cr_assert_eq(f.closed, 0, "closed ran inside the change callback");
  fo_stack *s = ft_stack(reg, "dc1", 1, 0);
  FT_OK(fo_group_attach(g, FO_SLOT_PRIMARY, s)); /* closing, not freed */
  int before_loop = f.events;
  loop_done(&loop, NULL); /* frees the publisher */
  cr_assert_eq(f.closed, 1, "closed callback ran %d times", f.closed);
  /* Changes after the publisher is gone: it must not be called. */
  fo_group *h = ft_group(reg, NULL, NULL);
  FT_OK(fo_group_set_ttl(h, 120));
  FT_OK(fo_group_delete(h));
  FT_OK(fo_group_attach(g, FO_SLOT_BACKUP, ft_stack(reg, "dc2", 1, 0)));
  FT_OK(fo_group_switch(g, FO_SLOT_BACKUP, 0));
  cr_assert_gt(f.events, before_loop);
  FT_OK(fo_registry_unsubscribe(reg, id));
  cr_assert_eq(f.closed, 1);
  fo_registry_free(reg);
  fo_tsig_key_free(k);
  fence_done();
}

Test(engine_regress, publisher_close_from_change_callback, .timeout = 30) {
  close_from_change(0);
}

Test(engine_regress, publisher_close_from_earlier_subscriber,
     .timeout = 30) {
  close_from_change(1);
}

/* ---- 5. and 6. the switch workflow ------------------------------------------------ */

typedef struct sw {
  int calls;
  fo_switch_report r;
} sw;

static void sw_cb(const fo_switch_report *r, void *userdata) {
  sw *s = userdata;
  s->calls++;
  s->r = *r;
}

typedef struct swctx {
  uv_loop_t loop;
  fo_registry *reg;
  fo_tsig_key *key;
  fo_publisher *pub;
  fo_verifier *ver;
  fo_stack *dc1, *dc2;
  fo_group *g;
  const fo_allocator *alloc;
  int closed;
  int want_closed;
} swctx;

/* A group SERVING on dc1 with dc2 as backup; publisher and verifier aimed
 * at an unused port. */
static void sw_setup(swctx *c) {
  const fo_allocator *alloc = fence_init();
  char dead[64];
  dead_server(dead, sizeof dead);
  memset(c, 0, sizeof *c);
  c->alloc = alloc;
  cr_assert_eq(uv_loop_init(&c->loop), 0);
  c->reg = registry(alloc);
  c->key = key();
  c->dc1 = ft_stack(c->reg, "dc1", 1, 0);
  c->dc2 = ft_stack(c->reg, "dc2", 1, 0);
  c->g = ft_group(c->reg, c->dc1, c->dc2);
  cr_assert_eq(ft_state(c->g), FO_GROUP_SERVING);
  c->pub = publisher(&c->loop, c->reg, dead, c->key, alloc);
  c->ver = verifier(&c->loop, dead, alloc);
}

static void sw_teardown(swctx *c) {
  if (c->pub) {
    fo_publisher_close(c->pub, count_cb, &c->closed);
    c->want_closed++;
  }
  if (c->ver) {
    fo_verifier_close(c->ver, count_cb, &c->closed);
    c->want_closed++;
  }
  loop_done(&c->loop, NULL);
  cr_assert_eq(c->closed, c->want_closed, "%d of %d closed callbacks",
               c->closed, c->want_closed);
  fo_registry_free(c->reg);
  fo_tsig_key_free(c->key);
  fence_done();
}

/* The deadline used to cover verifying only: with the primary down the
 * publisher retries forever and the switch never reported. */
Test(engine_regress, switch_times_out_while_primary_down, .timeout = 30) {
  swctx c;
  sw_setup(&c);
  sw s;
  memset(&s, 0, sizeof s);
  FT_OK(fo_switch_group(c.pub, c.ver, c.g, FO_SLOT_BACKUP, 0, 300, sw_cb,
                        &s));
  cr_assert_eq(s.calls, 0, "reported from inside fo_switch_group");
  watchdog wd;
  watchdog_start(&c.loop, &wd, 5000);
  uint64_t t0 = uv_hrtime();
  run_until(&c.loop, &wd, &s.calls, 1);
  cr_log_info("switch reported after %.0f ms",
              (double)(uv_hrtime() - t0) / 1e6);
  cr_assert(!wd.fired, "no switch report 5 s after a 300 ms deadline");
  cr_assert_eq(s.calls, 1);
  FT_RC(s.r.error, FO_ETIMEDOUT);
  cr_assert_eq(s.r.groups, 1);
  cr_assert_eq(s.r.failed, 1);
  /* The publisher goes on (still retrying the change). */
  FT_OK(fo_publisher_error(c.pub));
  fo_publish_status st;
  FT_OK(fo_publisher_group_status(c.pub, c.g, &st));
  cr_assert_neq(st.state, FO_PUBLISH_PUBLISHED);
  /* Once only: nothing more for a while, nor when closing. */
  uv_timer_start(&wd.t, watchdog_cb, 400, 0);
  wd.fired = 0;
  run_until(&c.loop, &wd, &wd.fired, 1);
  cr_assert_eq(s.calls, 1, "switch reported %d times", s.calls);
  uv_close((uv_handle_t *)&wd.t, NULL);
  sw_teardown(&c);
  cr_assert_eq(s.calls, 1, "switch reported again when closing");
}

Test(engine_regress, switch_until_out_of_range_changes_nothing,
     .timeout = 30) {
  swctx c;
  sw_setup(&c);
  sw s;
  memset(&s, 0, sizeof s);
  char *before = ft_snapshot(c.reg);
  const uint32_t day = 24u * 3600u * 1000u;
  FT_RC(fo_switch_group(c.pub, c.ver, c.g, FO_SLOT_BACKUP, 0, day + 1, sw_cb,
                        &s),
        FO_ERANGE);
  FT_RC(fo_switch_group(c.pub, c.ver, c.g, FO_SLOT_BACKUP, 0, UINT32_MAX,
                        sw_cb, &s),
        FO_ERANGE);
  FT_RC(fo_switch_stack(c.pub, c.ver, c.dc1, day + 1, sw_cb, &s), FO_ERANGE);
  FT_UNCHANGED(before, c.reg, "a refused switch");
  free(before);
  cr_assert_eq(ft_state(c.g), FO_GROUP_SERVING);
  cr_assert_eq(ft_active(c.g), FO_SLOT_PRIMARY);
  uv_run(&c.loop, UV_RUN_NOWAIT);
  cr_assert_eq(s.calls, 0, "a refused switch reported");
  sw_teardown(&c);
  cr_assert_eq(s.calls, 0, "a refused switch reported");
}

/* The limit itself is accepted; closing the publisher cancels it. */
Test(engine_regress, switch_until_one_day_accepted, .timeout = 30) {
  swctx c;
  sw_setup(&c);
  sw s;
  memset(&s, 0, sizeof s);
  FT_OK(fo_switch_group(c.pub, c.ver, c.g, FO_SLOT_BACKUP, 0,
                        24u * 3600u * 1000u, sw_cb, &s));
  cr_assert_eq(ft_active(c.g), FO_SLOT_BACKUP);
  uv_run(&c.loop, UV_RUN_NOWAIT);
  cr_assert_eq(s.calls, 0);
  fo_publisher_close(c.pub, count_cb, &c.closed);
  c.pub = NULL;
  c.want_closed++;
  watchdog wd;
  watchdog_start(&c.loop, &wd, 5000);
  run_until(&c.loop, &wd, &s.calls, 1);
  cr_assert_eq(s.calls, 1, "no report after closing the publisher");
  FT_RC(s.r.error, FO_ECANCELED);
  uv_close((uv_handle_t *)&wd.t, NULL);
  sw_teardown(&c);
  cr_assert_eq(s.calls, 1);
}

Test(engine_regress, switch_foreign_group_changes_nothing, .timeout = 30) {
  swctx c;
  sw_setup(&c);
  fo_registry *other = registry(c.alloc);
  fo_stack *o1 = ft_stack(other, "o1", 1, 0);
  fo_stack *o2 = ft_stack(other, "o2", 1, 0);
  fo_group *og = ft_group(other, o1, o2);
  char *before = ft_snapshot(c.reg);
  char *before_other = ft_snapshot(other);
  sw s;
  memset(&s, 0, sizeof s);
  FT_RC(fo_switch_group(c.pub, c.ver, og, FO_SLOT_BACKUP, 0, 1000, sw_cb, &s),
        FO_EFOREIGN);
  FT_RC(fo_switch_stack(c.pub, c.ver, o1, 1000, sw_cb, &s), FO_EFOREIGN);
  FT_UNCHANGED(before, c.reg, "a refused switch");
  FT_UNCHANGED(before_other, other, "a refused switch");
  free(before);
  free(before_other);
  cr_assert_eq(ft_state(og), FO_GROUP_SERVING);
  cr_assert_eq(ft_active(og), FO_SLOT_PRIMARY);
  uv_run(&c.loop, UV_RUN_NOWAIT);
  cr_assert_eq(s.calls, 0, "a refused switch reported");
  fo_registry_free(other);
  sw_teardown(&c);
  cr_assert_eq(s.calls, 0, "a refused switch reported");
}

/* A verifier being closed cannot verify: refused before switching (it used
 * to switch, then fail to verify). */
Test(engine_regress, switch_closing_verifier_changes_nothing,
     .timeout = 30) {
  swctx c;
  sw_setup(&c);
  char *before = ft_snapshot(c.reg);
  fo_verifier *ver = c.ver; /* valid until the loop ran its close */
  fo_verifier_close(ver, count_cb, &c.closed);
  c.ver = NULL;
  c.want_closed++;
  sw s;
  memset(&s, 0, sizeof s);
  FT_RC(fo_switch_group(c.pub, ver, c.g, FO_SLOT_BACKUP, 0, 1000, sw_cb, &s),
        FO_ECLOSING);
  FT_RC(fo_switch_stack(c.pub, ver, c.dc1, 1000, sw_cb, &s), FO_ECLOSING);
  FT_UNCHANGED(before, c.reg, "a refused switch");
  free(before);
  cr_assert_eq(ft_state(c.g), FO_GROUP_SERVING);
  cr_assert_eq(ft_active(c.g), FO_SLOT_PRIMARY);
  sw_teardown(&c);
  cr_assert_eq(s.calls, 0, "a refused switch reported");
}
