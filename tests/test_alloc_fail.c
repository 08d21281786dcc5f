/*
 * test_alloc_fail.c - allocation failure at every allocation of a scenario.
 *
 * A reference run counts the allocations each step makes. Then, for
 * n = 1, 2, ..., the scenario runs again with the n-th allocation failing:
 * the step that gets FO_ENOMEM must have left the registry exactly as it was
 * (snapshot compare), sent no event, and be documented to return FO_ENOMEM;
 * it is then retried (the allocator fails only once) and the scenario goes
 * on. After fo_registry_free() no block may be left, for every n.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define N_GROUPS 50
#define MAX_STEPS 512

typedef struct run {
  ft_alloc alloc;
  ft_rng rng;
  ft_events ev, ev2;
  fo_registry *reg;
  fo_stack *s[5];
  fo_group *g[N_GROUPS];
  uint32_t sub2;
  /* reference data (from the run without failures) */
  int reference;
  size_t ref_delta[MAX_STEPS];
  size_t n_steps_ref;
  /* this run */
  size_t step;
  size_t fail_at;
  int failed_step; /* step index that got FO_ENOMEM, or -1 */
  const char *failed_what;
  ft_buf undocumented; /* calls that returned FO_ENOMEM without documenting it */
} run;

static size_t sink_bytes;

static int sink_write(const char *data, size_t len, void *ud) {
  (void)data;
  (void)ud;
  sink_bytes += len;
  return 0;
}

/*
 * Run one step: `call` is evaluated again for the retry after FO_ENOMEM.
 * `enomem_ok`: the function documents FO_ENOMEM.
 */
#define STEP(r, enomem_ok, call)                                                \
  do {                                                                          \
    size_t st_ = (r)->step++;                                                   \
    cr_assert_lt(st_, MAX_STEPS);                                               \
    size_t count0_ = (r)->alloc.count;                                          \
    char *before_ = NULL;                                                       \
    int predicted_ = 0;                                                         \
    if (!(r)->reference && (r)->alloc.failures == 0 && st_ < (r)->n_steps_ref && \
        (r)->fail_at > count0_ && (r)->fail_at <= count0_ + (r)->ref_delta[st_]) { \
      predicted_ = 1;                                                           \
      before_ = ft_snapshot((r)->reg);                                          \
      cr_assert_eq((r)->alloc.count, count0_,                                   \
                   "reading the registry (snapshot) allocated through its allocator"); \
    }                                                                           \
    size_t events0_ = (r)->ev.n;                                                \
    int rc_ = (call);                                                           \
    if (rc_ == FO_ENOMEM) {                                                     \
      cr_assert((r)->alloc.failures == 1,                                       \
                "step %zu (%s): FO_ENOMEM without an allocation failure", st_, #call); \
      if (!(enomem_ok) && !strstr((r)->undocumented.p ? (r)->undocumented.p : "", #call)) \
        ft_buf_printf(&(r)->undocumented, "  %s\n", #call);                    \
      cr_assert(predicted_, "step %zu (%s): FO_ENOMEM at a step the reference run did " \
                "not predict (n = %zu): allocation pattern is not deterministic", st_, \
                #call, (r)->fail_at);                                           \
      cr_assert_eq((r)->ev.n, events0_, "step %zu (%s): events sent for a failed change", \
                   st_, #call);                                                 \
      FT_UNCHANGED(before_, (r)->reg, #call " failing with FO_ENOMEM");         \
      (r)->failed_step = (int)st_;                                              \
      (r)->failed_what = #call;                                                 \
      rc_ = (call);                                                             \
    }                                                                           \
    cr_assert_eq(rc_, 0, "step %zu: %s returned %s (n = %zu)", st_, #call,      \
                 fo_err_name(rc_), (r)->fail_at);                               \
    free(before_);                                                              \
    if ((r)->reference)                                                         \
      (r)->ref_delta[st_] = (r)->alloc.count - count0_;                         \
  } while (0)

static void scenario(run *r) {
  static const char *stack_names[5] = {"shop", "api", "blog", "spare", "empty"};
  char name[32];
  for (int i = 0; i < 5; i++)
    STEP(r, 1, fo_stack_new(&r->s[i], r->reg, stack_names[i]));
  STEP(r, 1, fo_registry_subscribe(r->reg, ft_events_cb, &r->ev, NULL));
  for (int i = 0; i < 4; i++) {
    for (int k = 1; k <= 3; k++) {
      snprintf(name, sizeof name, "web%d", k);
      STEP(r, 1, fo_stack_add_server(r->s[i], FO_SERVER_WEB, name,
                                     k == 3 ? "www.customer.example" : NULL));
    }
  }
  STEP(r, 1, fo_stack_add_server(r->s[1], FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  STEP(r, 0, fo_stack_set_server_addresses(r->s[0], "web1", "192.0.2.1", "2001:db8::1"));
  STEP(r, 0, fo_stack_set_server_addresses(r->s[1], "lb1", "192.0.2.2", NULL));
  for (int i = 0; i < N_GROUPS; i++) {
    fo_stack *p = NULL, *b = NULL;
    switch (i % 5) {
    case 0: break;
    case 1: p = r->s[0]; break;
    case 2: p = r->s[0]; b = r->s[1]; break;
    case 3: p = r->s[1]; b = r->s[2]; break;
    case 4: b = r->s[2]; break;
    }
    STEP(r, 1, fo_group_create(&r->g[i], r->reg, p, b));
  }
  for (int i = 2; i < N_GROUPS; i += 5)
    STEP(r, 0, fo_group_switch(r->g[i], FO_SLOT_BACKUP, 0));
  for (int i = 2; i < N_GROUPS; i += 10)
    STEP(r, 0, fo_group_settle(r->g[i]));
  for (int i = 1; i < N_GROUPS; i += 10)
    STEP(r, 0, fo_group_set_mode(r->g[i], FO_MODE_ADDRESS));
  for (int i = 1; i < N_GROUPS; i += 7)
    STEP(r, 0, fo_group_set_ttl(r->g[i], 120));
  for (int i = 0; i < N_GROUPS; i += 5)
    STEP(r, 0, fo_group_attach(r->g[i], FO_SLOT_PRIMARY, r->s[3]));
  STEP(r, 1, fo_stack_rename(r->s[0], "store"));
  STEP(r, 1, fo_stack_rename_server(r->s[0], "web1", "app1"));
  STEP(r, 1, fo_stack_add_server(r->s[0], FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  STEP(r, 1, fo_stack_set_server_host_name(r->s[0], "lb1", "edge.cdn.example"));
  STEP(r, 1, fo_stack_set_server_host_name(r->s[0], "lb1", NULL));
  STEP(r, 0, fo_stack_remove_server(r->s[0], "web2"));
  STEP(r, 1, fo_registry_subscribe(r->reg, ft_events_cb, &r->ev2, &r->sub2));
  STEP(r, 1, fo_stack_rename(r->s[2], "journal"));
  STEP(r, 0, fo_registry_unsubscribe(r->reg, r->sub2));
  for (int i = 3; i < N_GROUPS; i += 5)
    STEP(r, 0, fo_group_detach(r->g[i], FO_SLOT_BACKUP, 0));
  for (int i = 0; i < N_GROUPS; i += 5) {
    STEP(r, 0, fo_group_detach(r->g[i], FO_SLOT_PRIMARY, 0));
    STEP(r, 0, fo_group_delete(r->g[i]));
  }
  STEP(r, 0, fo_stack_remove(r->s[4]));
  STEP(r, 0, fo_stack_remove(r->s[3]));
  STEP(r, 1, fo_stack_new(&r->s[3], r->reg, "spare"));
  STEP(r, 1, fo_group_create(&r->g[0], r->reg, r->s[3], NULL));
  sink_bytes = 0;
  STEP(r, 0, fo_registry_export_zone(r->reg, sink_write, NULL));
  cr_assert_gt(sink_bytes, 0);
}

/* Runs the whole scenario with the fail_at-th allocation failing. Returns the
 * number of allocation attempts. */
static size_t run_once(run *r, size_t fail_at) {
  ft_alloc_init(&r->alloc);
  r->alloc.fail_at = fail_at;
  ft_rng_init(&r->rng, 99);
  memset(&r->ev, 0, sizeof r->ev);
  memset(&r->ev2, 0, sizeof r->ev2);
  r->reg = NULL;
  r->step = 0;
  r->fail_at = fail_at;
  r->failed_step = -1;
  r->failed_what = NULL;
  memset(r->s, 0, sizeof r->s);
  memset(r->g, 0, sizeof r->g);

  fo_registry_options o = ft_options(&r->rng, &r->alloc);
  int rc = fo_registry_new(&r->reg, &o);
  if (rc == FO_ENOMEM) {
    cr_assert_null(r->reg, "*out not NULL after FO_ENOMEM");
    cr_assert_eq(r->alloc.live, 0, "fo_registry_new failing with FO_ENOMEM (n = %zu) leaked %zu "
                 "blocks", fail_at, r->alloc.live);
    r->failed_step = 0;
    r->failed_what = "fo_registry_new";
    rc = fo_registry_new(&r->reg, &o);
  }
  cr_assert_eq(rc, 0, "fo_registry_new: %s (n = %zu)", fo_err_name(rc), fail_at);
  scenario(r);
  size_t total = r->alloc.count;
  fo_registry_free(r->reg);
  cr_assert_eq(r->alloc.live, 0, "n = %zu (failure at %s): %zu blocks (%zu bytes) leaked", fail_at,
               r->failed_what ? r->failed_what : "none", r->alloc.live, r->alloc.live_bytes);
  cr_assert_eq(r->alloc.bad_frees, 0, "n = %zu: %zu frees/reallocs of foreign blocks or zero sizes",
               fail_at, r->alloc.bad_frees);
  ft_events_free(&r->ev);
  ft_events_free(&r->ev2);
  ft_rng_free(&r->rng);
  return total;
}

static run *run_all(void) {
  run *r = calloc(1, sizeof *r);
  cr_assert_not_null(r);
  r->reference = 1;
  size_t total = run_once(r, 0);
  r->n_steps_ref = r->step;
  r->reference = 0;
  cr_assert_gt(total, 0, "the scenario allocated nothing through the allocator hooks");
  cr_log_info("alloc_fail: %zu allocations in %zu steps", total, r->n_steps_ref);
  size_t n;
  size_t failing_runs = 0;
  for (n = 1; n < 1000000; n++) {
    run_once(r, n);
    if (r->alloc.failures == 0)
      break; /* the scenario completed with no failure injected */
    failing_runs++;
    cr_assert_eq(r->alloc.failures, 1);
    cr_assert_neq(r->failed_step, -1, "n = %zu: an allocation failed but no step reported "
                  "FO_ENOMEM (the library hid the failure)", n);
  }
  cr_assert_eq(n, total + 1, "the scenario stopped failing at n = %zu but made %zu allocations",
               n, total);
  cr_assert_eq(failing_runs, total);
  return r;
}

/* Consistency and leaks, whichever function reports FO_ENOMEM. */
Test(alloc_fail, every_allocation_of_the_scenario, .timeout = 600) {
  run *r = run_all();
  if (r->undocumented.p)
    cr_log_warn("FO_ENOMEM from functions that do not document it:\n%s", r->undocumented.p);
  ft_buf_free(&r->undocumented);
  free(r);
}

/* Only functions whose header lists FO_ENOMEM may return it. */
Test(alloc_fail, enomem_only_where_documented, .timeout = 600) {
  static char text[4096];
  run *r = run_all();
  int clean = r->undocumented.p == NULL;
  snprintf(text, sizeof text, "%s", clean ? "" : r->undocumented.p);
  ft_buf_free(&r->undocumented);
  free(r);
  cr_assert(clean, "FO_ENOMEM returned by functions whose header does not list it:\n%s", text);
}

/* A failing allocation in a create leaves the registry as it was and sends
 * nothing; failing the same way again and again does not pile up memory
 * (capacity the registry keeps for later is fine, a block per failure is
 * not). */
Test(alloc_fail, create_fails_cleanly) {
  ft_alloc al;
  ft_alloc_init(&al);
  fo_registry *reg = ft_registry(NULL, &al);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  ft_events ev = {0};
  FT_OK(fo_registry_subscribe(reg, ft_events_cb, &ev, NULL));
  for (size_t k = 1; k < 64; k++) {
    size_t live_first = 0;
    int succeeded = 0;
    for (int rep = 0; rep < 20; rep++) {
      char *before = ft_snapshot(reg);
      al.failures = 0;
      al.fail_at = al.count + k;
      fo_group *g = (fo_group *)(uintptr_t)0x1;
      int rc = fo_group_create(&g, reg, s, NULL);
      al.fail_at = 0;
      if (rc == 0) {
        cr_assert_eq(al.failures, 0, "create succeeded although allocation %zu failed", k);
        free(before);
        succeeded = 1;
        break;
      }
      FT_RC(rc, FO_ENOMEM);
      cr_assert_null(g);
      FT_UNCHANGED(before, reg, "fo_group_create failing with FO_ENOMEM");
      cr_assert_eq(ev.n, 0, "events for a failed create");
      free(before);
      if (rep == 0)
        live_first = al.live;
      else
        cr_assert_eq(al.live, live_first, "failing create #%d (allocation %zu) keeps %zu more "
                     "blocks each time", rep + 1, k, al.live - live_first);
    }
    if (succeeded)
      break;
  }
  fo_registry_free(reg);
  cr_assert_eq(al.live, 0);
  ft_events_free(&ev);
}

/* Every allocation failing: nothing can be created, nothing leaks. */
Test(alloc_fail, all_allocations_fail) {
  ft_alloc al;
  ft_alloc_init(&al);
  al.fail_at = 1;
  al.fail_all_after = 1;
  fo_registry_options o = ft_options(NULL, &al);
  fo_registry *reg = (fo_registry *)(uintptr_t)0x1;
  FT_RC(fo_registry_new(&reg, &o), FO_ENOMEM);
  cr_assert_null(reg);
  cr_assert_eq(al.live, 0);
}
