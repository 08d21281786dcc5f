/*
 * test_switch.c - regression tests of the switch workflow
 * (fo_switch_group, fo_switch_stack): the deadline covers publishing too,
 * and refused switches (deadline out of range, a foreign group, a closing
 * verifier) change nothing and report nothing. No DNS server: the
 * publisher and the verifier are aimed at an unused port. The engines'
 * memory comes from the fence allocator (support/engine_support.h).
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <failover/publish.h>
#include <failover/verify.h>

#include "engine_support.h"
#include "support.h"

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
Test(switch, switch_times_out_while_primary_down, .timeout = 30) {
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

Test(switch, switch_until_out_of_range_changes_nothing,
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
Test(switch, switch_until_one_day_accepted, .timeout = 30) {
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

Test(switch, switch_foreign_group_changes_nothing, .timeout = 30) {
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
Test(switch, switch_closing_verifier_changes_nothing,
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
