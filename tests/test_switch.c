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

#define SW_GROUPS_MAX 8

typedef struct sw {
  int calls;
  fo_switchover_report r;
  fo_switchover_group_result g[SW_GROUPS_MAX]; /* copied from the report */
  fo_switchover *handle;     /* to try cancelling from the callback */
  int cancel_in_callback_rc; /* what that returned */
} sw;

static void sw_cb(const fo_switchover_report *r, void *userdata) {
  sw *s = userdata;
  s->calls++;
  s->r = *r;
  cr_assert_leq(r->groups, SW_GROUPS_MAX);
  for (size_t i = 0; i < r->groups; i++) {
    const fo_switchover_group_result *g = fo_switchover_report_group(r, i);
    cr_assert_not_null(g, "group result %zu of %zu missing", i, r->groups);
    s->g[i] = *g;
  }
  cr_assert_null(fo_switchover_report_group(r, r->groups));
  /* The dead server never answered: its time is -1, or it was never asked
   * (no server known). */
  for (size_t i = 0; i < r->servers; i++)
    cr_assert_eq(fo_switchover_report_server(r, i)->all_matched_ms, -1.0);
  cr_assert_null(fo_switchover_report_server(r, r->servers));
  if (s->handle != NULL)
    s->cancel_in_callback_rc = fo_switchover_cancel(s->handle);
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
  FT_OK(fo_switchover_group(NULL, c.pub, c.ver, c.g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 300), sw_cb, &s));
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
  fo_publish_status st = FO_PUBLISH_STATUS_INIT;
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
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, c.g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, day + 1), sw_cb, &s),
        FO_ERANGE);
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, c.g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, UINT32_MAX), sw_cb, &s),
        FO_ERANGE);
  FT_RC(fo_switchover_stack(NULL, c.pub, c.ver, c.dc1,
                            FT_SWOPTS(0, day + 1), sw_cb, &s), FO_ERANGE);
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
  FT_OK(fo_switchover_group(NULL, c.pub, c.ver, c.g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 24u * 3600u * 1000u), sw_cb, &s));
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
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, og, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 1000), sw_cb, &s),
        FO_EFOREIGN);
  FT_RC(fo_switchover_stack(NULL, c.pub, c.ver, o1,
                            FT_SWOPTS(0, 1000), sw_cb, &s), FO_EFOREIGN);
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
  FT_RC(fo_switchover_group(NULL, c.pub, ver, c.g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 1000), sw_cb, &s),
        FO_ECLOSING);
  FT_RC(fo_switchover_stack(NULL, c.pub, ver, c.dc1,
                            FT_SWOPTS(0, 1000), sw_cb, &s), FO_ECLOSING);
  FT_UNCHANGED(before, c.reg, "a refused switch");
  free(before);
  cr_assert_eq(ft_state(c.g), FO_GROUP_SERVING);
  cr_assert_eq(ft_active(c.g), FO_SLOT_PRIMARY);
  sw_teardown(&c);
  cr_assert_eq(s.calls, 0, "a refused switch reported");
}

/* Cancel: the report comes from inside the call, with FO_ECANCELED for the
 * group; the switch stays in the model (SWITCHING) for a later resume; a
 * second cancel, from the callback, is refused. */
Test(switch, cancel_reports_now_and_keeps_the_switch) {
  swctx c;
  sw_setup(&c);
  sw s;
  memset(&s, 0, sizeof s);
  fo_switchover *h = NULL;
  FT_OK(fo_switchover_group(&h, c.pub, c.ver, c.g, FO_SLOT_BACKUP,
                            FT_SWOPTS(0, 60000), sw_cb, &s));
  cr_assert_not_null(h);
  uv_run(&c.loop, UV_RUN_NOWAIT);
  cr_assert_eq(s.calls, 0);
  s.handle = h;
  FT_OK(fo_switchover_cancel(h));
  cr_assert_eq(s.calls, 1, "no report from inside fo_switchover_cancel");
  FT_RC(s.cancel_in_callback_rc, FO_EINVAL);
  FT_RC(s.r.error, FO_ECANCELED);
  cr_assert_eq(s.r.groups, 1);
  cr_assert_eq(s.r.failed, 1);
  cr_assert_eq(s.g[0].group, c.g);
  FT_RC(s.g[0].error, FO_ECANCELED);
  cr_assert_eq(s.g[0].published_ms, -1.0);
  cr_assert_eq(s.g[0].all_matched_ms, -1.0);
  cr_assert_eq(ft_state(c.g), FO_GROUP_SWITCHING,
               "a cancelled switchover undid the switch");
  cr_assert_eq(ft_active(c.g), FO_SLOT_BACKUP);
  FT_RC(fo_switchover_cancel(NULL), FO_EINVAL);
  sw_teardown(&c);
  cr_assert_eq(s.calls, 1, "reported again after a cancel");
}

/* A lost stack with three groups, the primary down: one result per
 * switched group, in switch order, each with its own error; a group that
 * could not switch (no backup) counts as failed but has no result. */
Test(switch, stack_report_has_a_result_per_group) {
  swctx c;
  sw_setup(&c);
  fo_group *g2 = ft_group(c.reg, c.dc1, c.dc2);
  fo_group *g3 = ft_group(c.reg, c.dc2, c.dc1); /* not on dc1: untouched */
  fo_group *lone = ft_group(c.reg, c.dc1, NULL); /* cannot switch */
  sw s;
  memset(&s, 0, sizeof s);
  FT_OK(fo_switchover_stack(NULL, c.pub, c.ver, c.dc1, FT_SWOPTS(0, 300),
                            sw_cb, &s));
  watchdog wd;
  watchdog_start(&c.loop, &wd, 5000);
  run_until(&c.loop, &wd, &s.calls, 1);
  uv_close((uv_handle_t *)&wd.t, NULL);
  cr_assert_eq(s.calls, 1);
  cr_assert_eq(s.r.groups, 2, "switched %zu groups", s.r.groups);
  cr_assert_eq(s.r.failed, 3, "2 timed out + 1 without a backup");
  int seen_g = 0, seen_g2 = 0;
  for (size_t i = 0; i < s.r.groups; i++) {
    seen_g += s.g[i].group == c.g;
    seen_g2 += s.g[i].group == g2;
    FT_RC(s.g[i].error, FO_ETIMEDOUT);
  }
  cr_assert(seen_g == 1 && seen_g2 == 1, "results name the switched groups");
  cr_assert_eq(ft_state(g3), FO_GROUP_SERVING);
  cr_assert_eq(ft_state(lone), FO_GROUP_SERVING);
  sw_teardown(&c);
}

/* Options: versioned, checked, NULL for the defaults; a refusal changes
 * nothing and never reports. */
Test(switch, options_are_checked) {
  swctx c;
  sw_setup(&c);
  char *before = ft_snapshot(c.reg);
  sw s;
  memset(&s, 0, sizeof s);
  fo_switchover_options o = FO_SWITCHOVER_OPTIONS_INIT;
  fo_switchover *h = (fo_switchover *)&o;
  o.version = 2;
  FT_RC(fo_switchover_group(&h, c.pub, c.ver, c.g, FO_SLOT_BACKUP, &o, sw_cb,
                            &s),
        FO_EVERSION);
  cr_assert_null(h, "a refused switchover left a handle");
  o.version = 0;
  FT_RC(fo_switchover_stack(NULL, c.pub, c.ver, c.dc1, &o, sw_cb, &s),
        FO_EVERSION);
  o.version = FO_SWITCHOVER_OPTIONS_VERSION;
  o.interval_ms = 60001;
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, c.g, FO_SLOT_BACKUP, &o,
                            sw_cb, &s),
        FO_ERANGE);
  o.interval_ms = 0;
  o.flags = 2; /* not a flag */
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, c.g, FO_SLOT_BACKUP, &o,
                            sw_cb, &s),
        FO_EINVAL);
  o.flags = FO_FORCE; /* single groups only */
  FT_RC(fo_switchover_stack(NULL, c.pub, c.ver, c.dc1, &o, sw_cb, &s),
        FO_EINVAL);
  FT_RC(fo_switchover_resume(NULL, c.pub, c.ver, &o, sw_cb, &s), FO_EINVAL);
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, NULL, FO_SLOT_BACKUP, NULL,
                            sw_cb, &s),
        FO_EINVAL);
  FT_RC(fo_switchover_group(NULL, c.pub, c.ver, c.g, FO_SLOT_BACKUP, NULL,
                            NULL, &s),
        FO_EINVAL);
  FT_UNCHANGED(before, c.reg, "refused switchovers");
  free(before);

  FT_RC(fo_switchover_options_init(NULL, 1), FO_EINVAL);
  FT_RC(fo_switchover_options_init(&o, 2), FO_EVERSION);
  FT_OK(fo_switchover_options_init(&o, FO_SWITCHOVER_OPTIONS_VERSION));
  cr_assert_eq(o.until_ms, 0);
  /* NULL options: the defaults (5 minutes), accepted. */
  FT_OK(fo_switchover_group(&h, c.pub, c.ver, c.g, FO_SLOT_BACKUP, NULL,
                            sw_cb, &s));
  cr_assert_not_null(h);
  FT_OK(fo_switchover_cancel(h));
  cr_assert_eq(s.calls, 1);
  sw_teardown(&c);
  cr_assert_eq(s.calls, 1);
}
