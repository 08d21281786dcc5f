/*
 * test_publish_fence.c - fencing in DNS itself (publisher options version
 * 3): a publisher with a fence epoch claims the zone's fence TXT before
 * anything else, and every UPDATE it sends carries the prerequisite that
 * the fence still holds its epoch, so that a deposed leader's UPDATEs are
 * refused by the server. Against a real knotd and a real named primary
 * (each test starts its own, on a random port):
 *
 *   claims_and_publishes    epoch 1 claims (the TXT reads "1"), publishes;
 *                           a custom fence name is honoured
 *   newer_leader_fences     epoch 2 claims on the same names; the epoch-1
 *                           publisher's next UPDATE is refused: FO_EFENCED,
 *                           its change kept, resume refused, and the zone
 *                           holds only what epoch 2 wrote
 *   older_epoch_never_sends epoch 1 started after 2 claimed stops with
 *                           FO_EFENCED and the zone's serial never moves
 *   no_fence_by_default     epoch 0 (and a version-2 struct): no TXT
 *   concurrent_claims       epochs 3 and 4 claim at once: 4 holds, 3 is
 *                           fenced, whichever swap the server took first
 *   failed_prereq_rcode     what each server answers to a failed
 *                           value-dependent prerequisite (NXRRSET) and to
 *                           a failed "RRset does not exist" (YXRRSET)
 * and, with no server, the options' checks and the judge's verdict on a
 * signed and a forged fence refusal.
 *
 * The two publishers of a test follow two registries with the same zone,
 * seeded alike, so that their groups have the same addresses: they write
 * the same names and disagree on the TTL.
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <failover/publish.h>

#include "dns_fixture.h"
#include "engine_support.h"
#include "publish_judge.h"
#include "support.h"
#include "tsig_server.h"

#define FENCE "_failover-epoch." FT_ZONE
#define WAIT_MS 10000

/* ---- a server, a loop, and publishers on registries ------------------------- */

typedef struct side {
  ft_rng rng;
  fo_registry *reg;
  fo_stack *a, *b;
  fo_group *g;
  fo_publisher *pub;
  int errors;     /* on_error calls */
  int last_error;
  int closed;
  int made;
} side;

typedef struct env {
  ft_dns_server srv;
  uv_loop_t loop;
  fo_tsig_key *key;
  side s[3];
} env;

static void on_error(int error, void *userdata) {
  side *s = userdata;
  s->errors++;
  s->last_error = error;
}

static void start(env *e, ft_dns_kind kind) {
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  memset(e, 0, sizeof(*e));
  cfg.zone = FT_ZONE;
  cfg.no_ipv6 = 1;
  cr_assert_eq(ft_dns_start(&e->srv, kind, &cfg), 0, "cannot start %s: %s",
               kind == FT_DNS_KNOT ? "knotd" : "named", e->srv.error);
  cr_assert_eq(uv_loop_init(&e->loop), 0);
  FT_OK(fo_tsig_key_new(&e->key, e->srv.key_name, "hmac-sha256",
                        e->srv.key_secret));
}

/* A registry seeded with `seed`, stacks a and b, one group (a, b). */
static void side_open(side *s, uint64_t seed) {
  ft_rng_init(&s->rng, seed);
  s->reg = ft_registry(&s->rng, NULL);
  s->a = ft_stack(s->reg, "a", 1, 0);
  s->b = ft_stack(s->reg, "b", 1, 0);
  s->g = ft_group(s->reg, s->a, s->b);
}

static fo_publisher_options pub_options(env *e, side *s, uint64_t epoch,
                                        const char *fence_name) {
  fo_publisher_options o;
  FT_OK(fo_publisher_options_init(&o, FO_PUBLISHER_OPTIONS_VERSION));
  o.server = e->srv.addr4;
  o.key = e->key;
  o.timeout_ms = 1000;
  o.retry_min_ms = 10;
  o.retry_max_ms = 50;
  o.on_error = on_error;
  o.userdata = s;
  o.fence_epoch = epoch;
  o.fence_name = fence_name;
  return o;
}

static void side_publisher(env *e, side *s, uint64_t epoch,
                           const char *fence_name) {
  fo_publisher_options o = pub_options(e, s, epoch, fence_name);
  FT_OK(fo_publisher_new(&s->pub, &e->loop, s->reg, &o));
  s->made = 1;
}

static void stop(env *e) {
  size_t k;
  for (k = 0; k < 3; k++)
    if (e->s[k].pub != NULL)
      fo_publisher_close(e->s[k].pub, count_cb, &e->s[k].closed);
  loop_done(&e->loop, NULL);
  for (k = 0; k < 3; k++) {
    side *s = &e->s[k];
    if (s->made)
      cr_assert_eq(s->closed, 1, "publisher %zu closed %d times", k,
                   s->closed);
    if (s->reg != NULL) {
      fo_registry_free(s->reg);
      ft_rng_free(&s->rng);
    }
  }
  fo_tsig_key_free(e->key);
  ft_dns_stop(&e->srv);
}

/* ---- waiting ---------------------------------------------------------------------- */

typedef int (*pred_fn)(side *s);

static int is_published(side *s) {
  fo_publish_status st = FO_PUBLISH_STATUS_INIT;
  FT_OK(fo_publisher_group_status(s->pub, s->g, &st));
  return st.state == FO_PUBLISH_PUBLISHED;
}

static int is_stopped(side *s) { return fo_publisher_error(s->pub) != 0; }

static int wait_for(env *e, side *s, pred_fn pred, int ms) {
  double end = ft_dns_now_ms() + ms;
  uv_timer_t tick;
  int ok;
  tick_start(&e->loop, &tick);
  while (!(ok = pred(s)) && ft_dns_now_ms() < end)
    uv_run(&e->loop, UV_RUN_ONCE);
  tick_stop(&e->loop, &tick);
  return ok;
}

static void run_for(env *e, int ms) {
  double end = ft_dns_now_ms() + ms;
  uv_timer_t tick;
  tick_start(&e->loop, &tick);
  while (ft_dns_now_ms() < end)
    uv_run(&e->loop, UV_RUN_ONCE);
  tick_stop(&e->loop, &tick);
}

static void wait_published(env *e, side *s, const char *what) {
  cr_assert(wait_for(e, s, is_published, WAIT_MS),
            "%s: not published (publisher error %s)", what,
            fo_err_name(fo_publisher_error(s->pub)));
}

/* ---- what the zone holds ---------------------------------------------------------- */

/* The first line of kdig's answer for (name, type), "" when none. */
static void dig(const env *e, const char *name, const char *type, char *out,
                size_t size) {
  char cmd[1024];
  FILE *p;
  snprintf(cmd, sizeof cmd,
           "kdig +noall +answer +time=2 +retry=1 @127.0.0.1 -p %d %s %s",
           e->srv.port, name, type);
  p = popen(cmd, "r");
  cr_assert_not_null(p);
  if (fgets(out, (int)size, p) == NULL)
    out[0] = '\0';
  pclose(p);
  out[strcspn(out, "\n")] = '\0';
}

/* The fence TXT's text, without quotes ("" when there is none). */
static void fence_text(const env *e, const char *name, char *out,
                       size_t size) {
  char line[512], *q;
  dig(e, name, "TXT", line, sizeof line);
  out[0] = '\0';
  if ((q = strchr(line, '"')) != NULL) {
    snprintf(out, size, "%s", q + 1);
    out[strcspn(out, "\"")] = '\0';
  }
}

/* The TTL of the group's records in the zone, -1 when none. */
static long zone_ttl(const env *e, const side *s) {
  fo_rrset set = FO_RRSET_INIT;
  char name[FO_NAME_BUFSIZE], line[512];
  unsigned long ttl;
  FT_OK(fo_group_records(s->g, &set));
  cr_assert_gt(set.count, 0);
  ft_address(s->g, name);
  dig(e, name,
      set.records[0].type == FO_RR_CNAME  ? "CNAME"
      : set.records[0].type == FO_RR_AAAA ? "AAAA"
                                          : "A",
      line, sizeof line);
  if (sscanf(line, "%*s %lu", &ttl) != 1)
    return -1;
  return (long)ttl;
}

static uint32_t serial_of(const env *e) {
  uint32_t serial = 0;
  cr_assert_eq(ft_dns_soa_serial(e->srv.port, FT_ZONE, 2000, &serial), 0);
  return serial;
}

/* ---- (a) claim, then publish ------------------------------------------------------ */

static void claims_and_publishes(ft_dns_kind kind) {
  env e;
  char txt[64];
  start(&e, kind);
  fence_text(&e, FENCE, txt, sizeof txt);
  cr_assert_str_empty(txt, "a fence before any publisher: %s", txt);
  side_open(&e.s[0], 7);
  FT_OK(fo_group_set_ttl(e.s[0].g, 111));
  side_publisher(&e, &e.s[0], 1, NULL);
  FT_OK(fo_publisher_publish_all(e.s[0].pub));
  wait_published(&e, &e.s[0], "epoch 1");
  fence_text(&e, FENCE, txt, sizeof txt);
  cr_assert_str_eq(txt, "1");
  {
    uint64_t held = 9;
    FT_OK(fo_publisher_fence_held(e.s[0].pub, &held));
    cr_assert_eq(held, 1, "fence_held says %llu", (unsigned long long)held);
    FT_RC(fo_publisher_fence_held(NULL, &held), FO_EINVAL);
    FT_RC(fo_publisher_fence_held(e.s[0].pub, NULL), FO_EINVAL);
  }
  cr_assert_eq(zone_ttl(&e, &e.s[0]), 111);
  /* Later changes go out with the prerequisite, and are applied. */
  FT_OK(fo_group_set_ttl(e.s[0].g, 112));
  wait_published(&e, &e.s[0], "epoch 1, second change");
  cr_assert_eq(zone_ttl(&e, &e.s[0]), 112);
  cr_assert_eq(e.s[0].errors, 0);

  /* A fence of its own name: relative to the zone, another registry. */
  side_open(&e.s[1], 8);
  side_publisher(&e, &e.s[1], 7, "_fence.ops");
  FT_OK(fo_publisher_publish_all(e.s[1].pub));
  wait_published(&e, &e.s[1], "epoch 7, own fence name");
  fence_text(&e, "_fence.ops." FT_ZONE, txt, sizeof txt);
  cr_assert_str_eq(txt, "7");
  fence_text(&e, FENCE, txt, sizeof txt);
  cr_assert_str_eq(txt, "1", "the other fence was touched: %s", txt);
  stop(&e);
}

Test(publish_fence, claims_and_publishes_knot) {
  claims_and_publishes(FT_DNS_KNOT);
}
Test(publish_fence, claims_and_publishes_bind) {
  claims_and_publishes(FT_DNS_BIND);
}

/* ---- (b) a newer leader fences the older one -------------------------------------- */

static void newer_leader_fences(ft_dns_kind kind) {
  env e;
  char a0[FO_NAME_BUFSIZE], a1[FO_NAME_BUFSIZE], txt[64];
  side *old = &e.s[0], *new = &e.s[1];
  fo_publish_status st = FO_PUBLISH_STATUS_INIT;
  size_t pending = 0;
  uint32_t serial;
  start(&e, kind);
  side_open(old, 42);
  side_open(new, 42); /* the same addresses */
  cr_assert_str_eq(ft_address(old->g, a0), ft_address(new->g, a1));

  side_publisher(&e, old, 1, NULL);
  FT_OK(fo_group_set_ttl(old->g, 100));
  wait_published(&e, old, "epoch 1");
  cr_assert_eq(zone_ttl(&e, old), 100);

  side_publisher(&e, new, 2, NULL);
  FT_OK(fo_group_set_ttl(new->g, 222));
  wait_published(&e, new, "epoch 2");
  fence_text(&e, FENCE, txt, sizeof txt);
  cr_assert_str_eq(txt, "2");
  cr_assert_eq(zone_ttl(&e, new), 222);
  serial = serial_of(&e);

  /* The deposed leader's next change is refused by the server. */
  FT_OK(fo_group_set_ttl(old->g, 111));
  cr_assert(wait_for(&e, old, is_stopped, WAIT_MS),
            "the deposed publisher did not stop");
  run_for(&e, 50); /* the kick tells on_error */
  FT_RC(fo_publisher_error(old->pub), FO_EFENCED);
  cr_assert_eq(old->errors, 1, "on_error ran %d times", old->errors);
  FT_RC(old->last_error, FO_EFENCED);
  FT_OK(fo_publisher_group_status(old->pub, old->g, &st));
  cr_assert_eq(st.state, FO_PUBLISH_FAILED);
  FT_RC(st.error, FO_EFENCED);
  FT_OK(fo_publisher_pending(old->pub, &pending));
  cr_assert_eq(pending, 1, "the refused change is kept");
  /* Final: resuming is refused, nothing more is sent. */
  FT_RC(fo_publisher_resume(old->pub), FO_EFENCED);
  {
    uint64_t held = 9;
    FT_OK(fo_publisher_fence_held(old->pub, &held));
    cr_assert_eq(held, 0, "a fenced publisher holds no fence");
    FT_OK(fo_publisher_fence_held(new->pub, &held));
    cr_assert_eq(held, 2);
  }
  run_for(&e, 100);
  FT_RC(fo_publisher_error(old->pub), FO_EFENCED);

  /* Only what epoch 2 wrote: the deposed TTL never reached the zone. */
  cr_assert_eq(zone_ttl(&e, new), 222);
  cr_assert_eq(serial_of(&e), serial, "the zone changed after epoch 2's");
  fence_text(&e, FENCE, txt, sizeof txt);
  cr_assert_str_eq(txt, "2");

  /* The new leader goes on publishing. */
  FT_OK(fo_group_set_ttl(new->g, 223));
  wait_published(&e, new, "epoch 2, after the fence");
  cr_assert_eq(zone_ttl(&e, new), 223);
  cr_assert_eq(new->errors, 0);
  stop(&e);
}

Test(publish_fence, newer_leader_fences_knot) {
  newer_leader_fences(FT_DNS_KNOT);
}
Test(publish_fence, newer_leader_fences_bind) {
  newer_leader_fences(FT_DNS_BIND);
}

/* ---- (c) an older epoch never sends ----------------------------------------------- */

static void older_epoch_never_sends(ft_dns_kind kind) {
  env e;
  char txt[64];
  uint32_t serial;
  side *leader = &e.s[0], *late = &e.s[1];
  start(&e, kind);
  side_open(leader, 1);
  side_open(late, 2); /* other addresses */
  side_publisher(&e, leader, 2, NULL);
  FT_OK(fo_publisher_publish_all(leader->pub));
  wait_published(&e, leader, "epoch 2");
  serial = serial_of(&e);

  side_publisher(&e, late, 1, NULL);
  FT_OK(fo_publisher_publish_all(late->pub));
  cr_assert(wait_for(&e, late, is_stopped, WAIT_MS),
            "the older epoch did not stop");
  run_for(&e, 50);
  FT_RC(fo_publisher_error(late->pub), FO_EFENCED);
  cr_assert_eq(late->errors, 1);
  FT_RC(fo_publisher_resume(late->pub), FO_EFENCED);
  cr_assert_eq(zone_ttl(&e, late), -1, "the older epoch's group is in DNS");
  cr_assert_eq(serial_of(&e), serial, "the older epoch changed the zone");
  fence_text(&e, FENCE, txt, sizeof txt);
  cr_assert_str_eq(txt, "2");
  stop(&e);
}

Test(publish_fence, older_epoch_never_sends_knot) {
  older_epoch_never_sends(FT_DNS_KNOT);
}
Test(publish_fence, older_epoch_never_sends_bind) {
  older_epoch_never_sends(FT_DNS_BIND);
}

/* ---- two claims at once ------------------------------------------------------------ */

/* Epochs 3 and 4 start together: both read no fence and both send the
 * swap "TXT does not exist"; one loses (YXRRSET), reads again, and either
 * swaps 3 for 4 or finds 4. Whatever the order: 4 holds, 3 is fenced
 * (at once, or at its next UPDATE), and the zone has 4's records. */
static void concurrent_claims(ft_dns_kind kind) {
  env e;
  char txt[64];
  side *p3 = &e.s[0], *p4 = &e.s[1];
  start(&e, kind);
  side_open(p3, 11);
  side_open(p4, 11);
  side_publisher(&e, p3, 3, NULL);
  side_publisher(&e, p4, 4, NULL);
  FT_OK(fo_group_set_ttl(p3->g, 33));
  FT_OK(fo_group_set_ttl(p4->g, 44));
  wait_published(&e, p4, "epoch 4");
  /* Epoch 3 may have held the fence for a moment (and published) before 4
   * took it: its next change tells it, at the latest. */
  if (!is_stopped(p3))
    FT_OK(fo_group_set_ttl(p3->g, 34));
  cr_assert(wait_for(&e, p3, is_stopped, WAIT_MS), "epoch 3 did not stop");
  run_for(&e, 50);
  FT_RC(fo_publisher_error(p3->pub), FO_EFENCED);
  cr_assert_eq(p3->errors, 1);
  cr_assert_eq(p4->errors, 0);
  fence_text(&e, FENCE, txt, sizeof txt);
  cr_assert_str_eq(txt, "4");
  cr_assert_eq(zone_ttl(&e, p4), 44);
  stop(&e);
}

Test(publish_fence, concurrent_claims_knot) { concurrent_claims(FT_DNS_KNOT); }
Test(publish_fence, concurrent_claims_bind) { concurrent_claims(FT_DNS_BIND); }

/* ---- (d) no fencing by default ------------------------------------------------------ */

static void no_fence_by_default(ft_dns_kind kind) {
  env e;
  char txt[64];
  void *v2;
  size_t v2_size = offsetof(fo_publisher_options, tcp_wait_ms) +
                   sizeof(((fo_publisher_options *)0)->tcp_wait_ms);
  start(&e, kind);
  {
    fo_publisher_options o = FO_PUBLISHER_OPTIONS_INIT;
    cr_assert_eq(o.fence_epoch, 0);
    cr_assert_null(o.fence_name);
  }
  side_open(&e.s[0], 5);
  side_publisher(&e, &e.s[0], 0, NULL);
  FT_OK(fo_publisher_publish_all(e.s[0].pub));
  wait_published(&e, &e.s[0], "epoch 0");
  fence_text(&e, FENCE, txt, sizeof txt);
  cr_assert_str_empty(txt, "epoch 0 wrote a fence: %s", txt);

  /* A version-2 struct, in a block of exactly its size: not fenced (a
   * fence in the zone does not matter to it). */
  cr_assert_eq(ft_dns_update(&e.srv, "update add _failover-epoch 0 TXT 9\n"),
               0, "%s", e.srv.error);
  side_open(&e.s[1], 6);
  v2 = malloc(v2_size);
  cr_assert_not_null(v2);
  {
    fo_publisher_options o = pub_options(&e, &e.s[1], 0, NULL);
    o.version = 2;
    memcpy(v2, &o, v2_size);
  }
  FT_OK(fo_publisher_new(&e.s[1].pub, &e.loop, e.s[1].reg, v2));
  free(v2);
  e.s[1].made = 1;
  FT_OK(fo_publisher_publish_all(e.s[1].pub));
  wait_published(&e, &e.s[1], "version 2");
  fence_text(&e, FENCE, txt, sizeof txt);
  cr_assert_str_eq(txt, "9");
  cr_assert_eq(e.s[0].errors + e.s[1].errors, 0);
  stop(&e);
}

Test(publish_fence, no_fence_by_default_knot) {
  no_fence_by_default(FT_DNS_KNOT);
}
Test(publish_fence, no_fence_by_default_bind) {
  no_fence_by_default(FT_DNS_BIND);
}

/* ---- what the servers answer to a failed value-dependent prerequisite -------------- */

static void failed_prereq_rcode(ft_dns_kind kind) {
  env e;
  start(&e, kind);
  cr_assert_eq(ft_dns_update(&e.srv, "update add _failover-epoch 0 TXT 2\n"),
               0, "%s", e.srv.error);
  /* RFC 2136 3.2.5: NXRRSET, from both. */
  cr_assert_neq(ft_dns_update(&e.srv,
                              "prereq yxrrset " FENCE ". TXT 1\n"
                              "update add x 60 A 192.0.2.1\n"),
                0);
  cr_log_info("%s: %s", kind == FT_DNS_KNOT ? "knotd" : "named",
              e.srv.error);
  cr_assert_not_null(strstr(e.srv.error, "NXRRSET"), "%s", e.srv.error);
  /* No such RRset at all: NXRRSET too. */
  cr_assert_neq(ft_dns_update(&e.srv,
                              "prereq yxrrset _nothing-here." FT_ZONE ". TXT 1\n"
                              "update add x 60 A 192.0.2.1\n"),
                0);
  cr_log_info("%s: %s", kind == FT_DNS_KNOT ? "knotd" : "named",
              e.srv.error);
  cr_assert_not_null(strstr(e.srv.error, "NXRRSET"), "%s", e.srv.error);
  /* The claim's "RRset does not exist" when it does: YXRRSET. */
  cr_assert_neq(ft_dns_update(&e.srv, "prereq nxrrset " FENCE ". TXT\n"
                                      "update add x 60 A 192.0.2.1\n"),
                0);
  cr_log_info("%s: %s", kind == FT_DNS_KNOT ? "knotd" : "named",
              e.srv.error);
  cr_assert_not_null(strstr(e.srv.error, "YXRRSET"), "%s", e.srv.error);
  stop(&e);
}

Test(publish_fence, failed_prereq_rcode_knot) {
  failed_prereq_rcode(FT_DNS_KNOT);
}
Test(publish_fence, failed_prereq_rcode_bind) {
  failed_prereq_rcode(FT_DNS_BIND);
}

/* ---- (e) options ------------------------------------------------------------------ */

Test(publish_fence, bad_options) {
  static const struct {
    const char *name;
    uint64_t epoch;
    int want;
  } cases[] = {
      {"x.example.org.", 1, FO_EBADNAME},
      {"failover.example.org.", 1, FO_EBADNAME},
      {"bad..name", 1, FO_EBADNAME},
      {".", 1, FO_EBADNAME},
      {"", 1, FO_EBADNAME},
      {"sp ace", 1, FO_EBADNAME},
      {"semi;colon", 1, FO_EBADNAME},
      {"-x-.." FT_ZONE, 1, FO_EBADNAME},
      {"a123456789012345678901234567890123456789012345678901234567890123",
       1, FO_ENAMETOOLONG},
      {FT_ZONE, 1, FO_EINVAL},
      {FT_ZONE ".", 1, FO_EINVAL},
      {"123-456-789", 1, FO_EINVAL},
      {"123-456-789." FT_ZONE ".", 1, FO_EINVAL},
      {"fence", 0, FO_EINVAL},
  };
  uv_loop_t loop;
  ft_rng rng;
  fo_registry *reg;
  fo_tsig_key *k = key();
  char server[64];
  size_t i;
  int closed = 0;
  cr_assert_eq(uv_loop_init(&loop), 0);
  ft_rng_init(&rng, 1);
  reg = ft_registry(&rng, NULL);
  dead_server(server, sizeof server);
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fo_publisher_options o = FO_PUBLISHER_OPTIONS_INIT;
    fo_publisher *pub = (fo_publisher *)&o;
    o.server = server;
    o.key = k;
    o.fence_epoch = cases[i].epoch;
    o.fence_name = cases[i].name;
    FT_RC(fo_publisher_new(&pub, &loop, reg, &o), cases[i].want);
    cr_assert_null(pub, "case %zu", i);
  }
  /* Accepted: relative, absolute in the zone, underscores, mixed case. */
  {
    static const char *const good[] = {"fence", "_a._b",
                                       "_Fence.Ops." FT_ZONE ".",
                                       "x.failover.example.net", NULL};
    for (i = 0; good[i] != NULL; i++) {
      fo_publisher_options o = FO_PUBLISHER_OPTIONS_INIT;
      fo_publisher *pub = NULL;
      o.server = server;
      o.key = k;
      o.fence_epoch = UINT64_MAX;
      o.fence_name = good[i];
      FT_OK(fo_publisher_new(&pub, &loop, reg, &o));
      fo_publisher_close(pub, count_cb, &closed);
    }
  }
  loop_done(&loop, NULL);
  cr_assert_eq(closed, 4);
  fo_registry_free(reg);
  ft_rng_free(&rng);
  fo_tsig_key_free(k);
}

/* ---- the judge on a fenced UPDATE's refusal ----------------------------------------- */

Test(publish_fence, judge_believes_only_signed_refusals) {
  static const unsigned fence_rcodes[] = {3, 7, 8}; /* NXDOMAIN YXRRSET NXRRSET */
  fo__tsig_key key;
  size_t i;
  ft_make_key(&key, "hmac-sha256");
  for (i = 0; i < 3; i++) {
    bytes req, reply, forged;
    uint8_t mac[FO__TSIG_MAC_MAX];
    size_t mac_len;
    srv_sig s = ft_default_sig();
    ft_request_and_reply(&key, &req, mac, &mac_len, &reply, fence_rcodes[i]);
    forged = reply;
    ft_server_sign(&reply, mac, mac_len, &s);
    FT_RC(fo__publish_judge_fenced(&key, mac, mac_len, 0, reply.b, reply.n,
                                   NOW, 1),
          FO_EFENCED);
    /* Not fenced: an ordinary refusal. Unsigned or forged: the same. */
    FT_RC(fo__publish_judge_fenced(&key, mac, mac_len, 0, reply.b, reply.n,
                                   NOW, 0),
          FO_EPREREQ);
    FT_RC(fo__publish_judge_fenced(&key, mac, mac_len, 0, forged.b, forged.n,
                                   NOW, 1),
          FO_EPREREQ);
    s.secret = "another-secret-another-secret-012345";
    ft_server_sign(&forged, mac, mac_len, &s);
    FT_RC(fo__publish_judge_fenced(&key, mac, mac_len, 0, forged.b, forged.n,
                                   NOW, 1),
          FO_EPREREQ);
  }
  /* YXDOMAIN is no fence's answer; NOERROR and SERVFAIL as ever. */
  {
    bytes req, reply;
    uint8_t mac[FO__TSIG_MAC_MAX];
    size_t mac_len;
    srv_sig s = ft_default_sig();
    ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 6);
    ft_server_sign(&reply, mac, mac_len, &s);
    FT_RC(fo__publish_judge_fenced(&key, mac, mac_len, 0, reply.b, reply.n,
                                   NOW, 1),
          FO_EPREREQ);
    ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 0);
    ft_server_sign(&reply, mac, mac_len, &s);
    FT_RC(fo__publish_judge_fenced(&key, mac, mac_len, 0, reply.b, reply.n,
                                   NOW, 1),
          0);
    ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 2);
    FT_RC(fo__publish_judge_fenced(&key, mac, mac_len, 0, reply.b, reply.n,
                                   NOW, 1),
          1);
  }
  fo__tsig_key_wipe(&key);
}
