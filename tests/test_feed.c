/*
 * test_feed.c - the change feed: which changes send events, their content,
 * generations, subscribers, and FO_EBUSY from inside a callback.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static fo_registry *reg;
static ft_events ev;

static void setup(void) {
  memset(&ev, 0, sizeof ev);
  reg = ft_registry(NULL, NULL);
  FT_OK(fo_registry_subscribe(reg, ft_events_cb, &ev, NULL));
}

static void teardown(void) {
  fo_registry_free(reg);
  ft_events_free(&ev);
}

TestSuite(feed, .init = setup, .fini = teardown);

/* Exactly one event, for `g`, with `reason`; returns it. Checks the
 * generation moved by exactly one and the event describes the applied state. */
static const ft_event *one_event(const fo_group *g, fo_change_reason reason, uint64_t gen_before,
                                 const char *what) {
  cr_assert_eq(ev.n, 1, "%s: %zu events, expected 1", what, ev.n);
  const ft_event *e = &ev.ev[0];
  cr_assert_eq(e->group, g, "%s: event for another group", what);
  cr_assert_eq((int)e->reason, (int)reason, "%s: reason %s (%d), expected %s (%d)", what,
               fo_change_reason_name(e->reason), (int)e->reason,
               fo_change_reason_name(reason), (int)reason);
  cr_assert_eq(e->generation, gen_before + 1, "%s: generation %llu, expected %llu", what,
               (unsigned long long)e->generation, (unsigned long long)(gen_before + 1));
  cr_assert_eq(e->group_generation, e->generation,
               "%s: fo_group_generation in the callback (%llu) differs from the event's",
               what, (unsigned long long)e->group_generation);
  cr_assert_eq(ft_generation(g), e->generation, "%s: generation after the event", what);
  cr_assert(e->has_new, "%s: no new target", what);
  cr_assert(e->target_matches, "%s: new_target differs from fo_group_target() in the callback",
            what);
  return e;
}

static void no_event(const char *what) {
  cr_assert_eq(ev.n, 0, "%s: %zu events, expected none (first: %s)", what, ev.n,
               ev.n ? fo_change_reason_name(ev.ev[0].reason) : "");
}

Test(feed, create_events_and_generation_starts_at_1) {
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  no_event("creating a stack and servers");
  fo_group *g = ft_group(reg, NULL, NULL);
  const ft_event *e = one_event(g, FO_CHANGE_CREATE, 0, "create reserved");
  cr_assert_eq(e->generation, 1);
  cr_assert_eq((int)e->new_none, FO_NONE_RESERVED);
  ft_events_clear(&ev);
  fo_group *h = ft_group(reg, s, NULL);
  e = one_event(h, FO_CHANGE_CREATE, 0, "create with a stack");
  cr_assert_eq(e->generation, 1);
  cr_assert_eq((int)e->new_none, FO_NONE_NOT);
  cr_assert_str_eq(e->new_host, "web1.shop." FT_ZONE);
}

Test(feed, attach_into_active_slot_only) {
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_stack *b = ft_stack(reg, "b", 1, 0);
  fo_group *g = ft_group(reg, NULL, NULL);
  ft_events_clear(&ev);
  FT_OK(fo_group_attach(g, FO_SLOT_PRIMARY, a));
  const ft_event *e = one_event(g, FO_CHANGE_ATTACH, 1, "attach to reserved");
  cr_assert_eq((int)e->old_none, FO_NONE_RESERVED);
  cr_assert_str_eq(e->new_host, "web1.a." FT_ZONE);
  ft_events_clear(&ev);
  FT_OK(fo_group_attach(g, FO_SLOT_BACKUP, b));
  no_event("attaching a backup");
  cr_assert_eq(ft_generation(g), 2);
}

Test(feed, detach) {
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_stack *b = ft_stack(reg, "b", 1, 0);
  fo_group *g = ft_group(reg, a, b);
  ft_events_clear(&ev);
  FT_OK(fo_group_detach(g, FO_SLOT_BACKUP, 0));
  no_event("detaching the inactive slot");
  FT_OK(fo_group_detach(g, FO_SLOT_PRIMARY, 0));
  const ft_event *e = one_event(g, FO_CHANGE_DETACH, 1, "detaching the only stack");
  cr_assert_str_eq(e->old_host, "web1.a." FT_ZONE);
  cr_assert_eq((int)e->new_none, FO_NONE_RESERVED);
  /* forced detach of the active slot moves the records: one event */
  FT_OK(fo_group_attach(g, FO_SLOT_PRIMARY, a));
  FT_OK(fo_group_attach(g, FO_SLOT_BACKUP, b));
  ft_events_clear(&ev);
  uint64_t gen = ft_generation(g);
  FT_OK(fo_group_detach(g, FO_SLOT_PRIMARY, FO_FORCE));
  cr_assert_eq(ev.n, 1, "forced detach: %zu events", ev.n);
  cr_assert_eq(ev.ev[0].generation, gen + 1);
  cr_assert_str_eq(ev.ev[0].old_host, "web1.a." FT_ZONE);
  cr_assert_str_eq(ev.ev[0].new_host, "web1.b." FT_ZONE);
}

Test(feed, switch_and_settle) {
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_stack *b = ft_stack(reg, "b", 1, 1);
  fo_group *g = ft_group(reg, a, b);
  ft_events_clear(&ev);
  FT_OK(fo_group_switch(g, FO_SLOT_BACKUP, 0));
  const ft_event *e = one_event(g, FO_CHANGE_SWITCH, 1, "switch");
  cr_assert_str_eq(e->old_host, "web1.a." FT_ZONE);
  cr_assert_str_eq(e->new_host, "lb1.b." FT_ZONE);
  ft_events_clear(&ev);
  FT_OK(fo_group_settle(g));
  no_event("settle (records unchanged)");
  FT_OK(fo_group_switch(g, FO_SLOT_PRIMARY, 0));
  one_event(g, FO_CHANGE_SWITCH, 2, "switch back");
}

Test(feed, delete) {
  fo_group *g = ft_group(reg, NULL, NULL);
  ft_events_clear(&ev);
  FT_OK(fo_group_delete(g));
  const ft_event *e = one_event(g, FO_CHANGE_DELETE, 1, "delete");
  cr_assert_eq((int)e->new_none, FO_NONE_DELETED);
}

Test(feed, load_balancer_added_retargets_followers) {
  fo_stack *s = ft_stack(reg, "shop", 2, 0);
  fo_stack *o = ft_stack(reg, "other", 1, 0);
  fo_group *f1 = ft_group(reg, s, NULL);
  fo_group *f2 = ft_group(reg, NULL, s);
  fo_group *f3 = ft_group(reg, o, s);
  FT_OK(fo_group_switch(f3, FO_SLOT_BACKUP, 0));
  fo_group *inactive = ft_group(reg, o, s); /* s in the inactive slot */
  fo_group *unrelated = ft_group(reg, o, NULL);
  (void)unrelated;
  uint64_t g1 = ft_generation(f1), g2 = ft_generation(f2), g3 = ft_generation(f3);
  uint64_t gi = ft_generation(inactive);
  ft_events_clear(&ev);
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  cr_assert_eq(ev.n, 3, "LB added: %zu events, expected one per following group", ev.n);
  fo_group *want[3] = {f1, f2, f3};
  uint64_t gens[3] = {g1, g2, g3};
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(ft_events_for(&ev, want[i]), 1, "group %d: not exactly one event", i);
  }
  for (size_t i = 0; i < ev.n; i++) {
    const ft_event *e = &ev.ev[i];
    cr_assert_eq((int)e->reason, FO_CHANGE_SERVER_ADDED);
    cr_assert_str_eq(e->old_host, "web1.shop." FT_ZONE);
    cr_assert_str_eq(e->new_host, "lb1.shop." FT_ZONE);
    cr_assert(e->target_matches);
    int k = e->group == f1 ? 0 : e->group == f2 ? 1 : 2;
    cr_assert_eq(e->generation, gens[k] + 1);
    cr_assert_eq(ft_generation(e->group), gens[k] + 1);
  }
  cr_assert_eq(ft_events_for(&ev, inactive), 0, "event for a group with the stack inactive");
  cr_assert_eq(ft_generation(inactive), gi, "inactive group's generation moved");
  ft_events_clear(&ev);
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "lb2", NULL));
  no_event("adding a second load balancer");
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "web3", NULL));
  no_event("adding another web server");
}

Test(feed, stack_renamed) {
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_stack *x = ft_stack(reg, "explicit", 0, 0);
  FT_OK(fo_stack_add_server(x, FO_SERVER_WEB, "web1", "www.customer.example"));
  fo_group *g = ft_group(reg, s, NULL);
  fo_group *h = ft_group(reg, x, NULL);
  fo_group *inactive = ft_group(reg, x, s);
  (void)inactive;
  ft_events_clear(&ev);
  FT_OK(fo_stack_rename(s, "store"));
  const ft_event *e = one_event(g, FO_CHANGE_STACK_RENAMED, 1, "stack renamed");
  cr_assert_str_eq(e->old_host, "web1.shop." FT_ZONE);
  cr_assert_str_eq(e->new_host, "web1.store." FT_ZONE);
  ft_events_clear(&ev);
  FT_OK(fo_stack_rename(x, "explicit2"));
  no_event("renaming a stack whose web head has an explicit host name");
  cr_assert_eq(ft_generation(h), 1);
}

Test(feed, server_renamed) {
  fo_stack *s = ft_stack(reg, "shop", 2, 0);
  fo_group *g = ft_group(reg, s, NULL);
  ft_events_clear(&ev);
  FT_OK(fo_stack_rename_server(s, "web2", "app2"));
  no_event("renaming a server that is not the web head");
  FT_OK(fo_stack_rename_server(s, "web1", "app1"));
  const ft_event *e = one_event(g, FO_CHANGE_SERVER_RENAMED, 1, "web head renamed");
  cr_assert_str_eq(e->old_host, "web1.shop." FT_ZONE);
  cr_assert_str_eq(e->new_host, "app1.shop." FT_ZONE);
}

Test(feed, server_removed) {
  fo_stack *s = ft_stack(reg, "shop", 2, 1);
  fo_group *g = ft_group(reg, s, NULL);
  ft_events_clear(&ev);
  FT_OK(fo_stack_remove_server(s, "web2"));
  no_event("removing a server that is not the web head");
  FT_OK(fo_stack_remove_server(s, "lb1"));
  const ft_event *e = one_event(g, FO_CHANGE_SERVER_REMOVED, 1, "web head removed");
  cr_assert_str_eq(e->old_host, "lb1.shop." FT_ZONE);
  cr_assert_str_eq(e->new_host, "web1.shop." FT_ZONE);
  ft_events_clear(&ev);
  FT_OK(fo_stack_remove_server(s, "web1"));
  e = one_event(g, FO_CHANGE_SERVER_REMOVED, 2, "last server removed");
  cr_assert_eq((int)e->new_none, FO_NONE_NO_WEB_HEAD);
}

Test(feed, addresses_and_host_names) {
  fo_stack *s = ft_stack(reg, "shop", 2, 0);
  fo_group *cn = ft_group(reg, s, NULL);
  fo_group *am = ft_group(reg, NULL, s);
  FT_OK(fo_group_set_mode(am, FO_MODE_ADDRESS));
  uint64_t gam = ft_generation(am);
  ft_events_clear(&ev);
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.1", NULL));
  const ft_event *e = one_event(am, FO_CHANGE_SERVER_UPDATED, gam, "address set (address mode)");
  cr_assert_str_eq(e->new_ipv4, "192.0.2.1");
  cr_assert_eq(ft_generation(cn), 1, "CNAME-mode group moved on an address change");
  ft_events_clear(&ev);
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.1", NULL));
  no_event("setting the same address again");
  FT_OK(fo_stack_set_server_addresses(s, "web2", "192.0.2.2", "2001:db8::2"));
  no_event("addresses of a server that is not the web head");
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.1", "2001:db8::1"));
  e = one_event(am, FO_CHANGE_SERVER_UPDATED, gam + 1, "ipv6 added (address mode)");
  cr_assert_str_eq(e->new_ipv6, "2001:db8::1");
  ft_events_clear(&ev);
  /* explicit host name of the web head: CNAME group follows */
  FT_OK(fo_stack_set_server_host_name(s, "web1", "www.customer.example"));
  e = one_event(cn, FO_CHANGE_SERVER_UPDATED, 1, "web head host name set (CNAME mode)");
  cr_assert_str_eq(e->old_host, "web1.shop." FT_ZONE);
  cr_assert_str_eq(e->new_host, "www.customer.example");
  ft_events_clear(&ev);
  FT_OK(fo_stack_set_server_host_name(s, "web2", "other.customer.example"));
  no_event("host name of a server that is not the web head");
}

Test(feed, ttl_and_mode) {
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.1", NULL));
  fo_group *g = ft_group(reg, s, NULL);
  ft_events_clear(&ev);
  FT_OK(fo_group_set_ttl(g, 120));
  const ft_event *e = one_event(g, FO_CHANGE_TTL, 1, "ttl");
  cr_assert_eq(e->new_ttl, 120);
  ft_events_clear(&ev);
  FT_OK(fo_group_set_ttl(g, 120));
  no_event("same ttl");
  FT_OK(fo_group_set_mode(g, FO_MODE_ADDRESS));
  e = one_event(g, FO_CHANGE_MODE, 2, "mode");
  cr_assert_eq((int)e->new_mode, FO_MODE_ADDRESS);
  cr_assert_str_eq(e->new_ipv4, "192.0.2.1");
  ft_events_clear(&ev);
  FT_OK(fo_group_set_mode(g, FO_MODE_ADDRESS));
  no_event("same mode");
  FT_OK(fo_group_set_mode(g, FO_MODE_CNAME));
  one_event(g, FO_CHANGE_MODE, 3, "mode back");
}

Test(feed, generation_plus_one_per_event) {
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_stack *b = ft_stack(reg, "b", 1, 0);
  fo_group *g = ft_group(reg, a, b);
  fo_group *h = ft_group(reg, NULL, a);
  FT_OK(fo_group_switch(g, FO_SLOT_BACKUP, 0));
  FT_OK(fo_group_settle(g));
  FT_OK(fo_stack_add_server(a, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  FT_OK(fo_group_switch(g, FO_SLOT_PRIMARY, 0));
  FT_OK(fo_stack_rename(a, "aa"));
  FT_OK(fo_group_set_ttl(h, 200));
  FT_OK(fo_group_detach(g, FO_SLOT_BACKUP, 0));
  FT_OK(fo_group_detach(g, FO_SLOT_PRIMARY, 0));
  FT_OK(fo_group_delete(g));
  fo_group *groups[2] = {g, h};
  for (int k = 0; k < 2; k++) {
    uint64_t last = 0;
    size_t n = 0;
    for (size_t i = 0; i < ev.n; i++) {
      if (ev.ev[i].group != groups[k])
        continue;
      cr_assert_eq(ev.ev[i].generation, last + 1, "group %d event %zu: generation %llu after %llu",
                   k, n, (unsigned long long)ev.ev[i].generation, (unsigned long long)last);
      last = ev.ev[i].generation;
      n++;
    }
    cr_assert_gt(n, 1);
    cr_assert_eq(ft_generation(groups[k]), last);
  }
}

Test(feed, refused_operations_send_nothing) {
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_stack *b = ft_stack(reg, "b", 1, 0);
  fo_group *g = ft_group(reg, a, b);
  ft_events_clear(&ev);
  FT_RC(fo_group_detach(g, FO_SLOT_PRIMARY, 0), FO_EACTIVE);
  FT_RC(fo_group_switch(g, FO_SLOT_PRIMARY, 0), FO_EALREADY);
  FT_RC(fo_group_delete(g), FO_EATTACHED);
  FT_RC(fo_group_set_ttl(g, 0), FO_ERANGE);
  FT_RC(fo_stack_remove(a), FO_EINUSE);
  no_event("refused operations");
  cr_assert_eq(ft_generation(g), 1);
}

Test(feed, subscribers_in_order_and_unsubscribe) {
  ft_events all = {0}, s1 = {0}, s2 = {0};
  s1.tag = 1;
  s2.tag = 2;
  s1.shared = &all;
  s2.shared = &all;
  uint32_t id1 = 0, id2 = 0;
  FT_OK(fo_registry_subscribe(reg, ft_events_cb, &s1, &id1));
  FT_OK(fo_registry_subscribe(reg, ft_events_cb, &s2, &id2));
  cr_assert_neq(id1, id2, "two subscriptions got the same id");
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_group *g = ft_group(reg, s, NULL);
  ft_group(reg, NULL, s);
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "lb1", NULL)); /* two events */
  cr_assert_eq(s1.n, 4);
  cr_assert_eq(s2.n, 4);
  cr_assert_eq(all.n, 8);
  for (size_t i = 0; i < all.n; i += 2) {
    cr_assert_eq(all.ev[i].tag, 1, "subscriber order: event %zu went to %d first", i / 2,
                 all.ev[i].tag);
    cr_assert_eq(all.ev[i + 1].tag, 2);
    cr_assert_eq(all.ev[i].group, all.ev[i + 1].group);
    cr_assert_eq(all.ev[i].generation, all.ev[i + 1].generation);
  }
  /* one change is delivered completely (to every subscriber) before the next */
  cr_assert_eq(s1.ev[0].group, g);
  FT_OK(fo_registry_unsubscribe(reg, id1));
  FT_RC(fo_registry_unsubscribe(reg, id1), FO_ENOENT);
  FT_RC(fo_registry_unsubscribe(reg, id1 + id2 + 1000), FO_ENOENT);
  FT_OK(fo_group_set_ttl(g, 99));
  cr_assert_eq(s1.n, 4, "an unsubscribed callback was called");
  cr_assert_eq(s2.n, 5);
  FT_OK(fo_registry_unsubscribe(reg, id2));
  FT_OK(fo_group_set_ttl(g, 98));
  cr_assert_eq(s2.n, 5);
  /* the fixture's subscriber still hears everything */
  cr_assert_gt(ev.n, 5);
  ft_events_free(&all);
  ft_events_free(&s1);
  ft_events_free(&s2);
}

Test(feed, subscribe_same_callback_twice) {
  ft_events x = {0};
  uint32_t i1, i2;
  FT_OK(fo_registry_subscribe(reg, ft_events_cb, &x, &i1));
  FT_OK(fo_registry_subscribe(reg, ft_events_cb, &x, &i2));
  cr_assert_neq(i1, i2);
  ft_group(reg, NULL, NULL);
  cr_assert_eq(x.n, 2, "each subscription is called");
  FT_OK(fo_registry_subscribe(reg, ft_events_cb, &x, NULL)); /* id may be NULL */
  ft_events_free(&x);
}

/* ---- FO_EBUSY from inside a callback ------------------------------------- */

enum { N_BUSY = 22 };

typedef struct busy_ctx {
  fo_registry *reg;
  fo_stack *stack, *spare;
  fo_group *group, *reserved;
  uint32_t sub_id;
  int done;
  int rcs[N_BUSY];
  int read_rc;
  int unchanged;
  char *before, *after;
} busy_ctx;

static void nop_cb(const fo_change *c, void *ud) {
  (void)c;
  (void)ud;
}

static void busy_cb(const fo_change *c, void *ud) {
  busy_ctx *x = ud;
  (void)c;
  if (x->done)
    return;
  x->done = 1;
  x->before = ft_snapshot(x->reg);
  fo_stack *ns = NULL;
  fo_group *ng = NULL;
  fo_op op;
  int i = 0;
  x->rcs[i++] = fo_stack_new(&ns, x->reg, "fresh");
  x->rcs[i++] = fo_stack_remove(x->spare);
  x->rcs[i++] = fo_stack_rename(x->stack, "renamed");
  x->rcs[i++] = fo_stack_add_server(x->stack, FO_SERVER_LOAD_BALANCER, "lb9", NULL);
  x->rcs[i++] = fo_stack_remove_server(x->stack, "web2");
  x->rcs[i++] = fo_stack_rename_server(x->stack, "web2", "web9");
  x->rcs[i++] = fo_stack_set_server_host_name(x->stack, "web1", "h.example.com");
  x->rcs[i++] = fo_stack_set_server_addresses(x->stack, "web1", "192.0.2.1", NULL);
  x->rcs[i++] = fo_group_create(&ng, x->reg, NULL, NULL);
  x->rcs[i++] = fo_group_attach(x->group, FO_SLOT_BACKUP, x->spare);
  x->rcs[i++] = fo_group_detach(x->group, FO_SLOT_PRIMARY, 0);
  x->rcs[i++] = fo_group_switch(x->group, FO_SLOT_BACKUP, FO_FORCE);
  x->rcs[i++] = fo_group_settle(x->group);
  x->rcs[i++] = fo_group_delete(x->reserved);
  x->rcs[i++] = fo_group_set_ttl(x->group, 200);
  x->rcs[i++] = fo_group_set_mode(x->group, FO_MODE_ADDRESS);
  x->rcs[i++] = fo_registry_subscribe(x->reg, nop_cb, NULL, NULL);
  x->rcs[i++] = fo_registry_unsubscribe(x->reg, x->sub_id);
  fo_op_init(&op, FO_OP_VERSION, FO_OP_CREATE);
  op.registry = x->reg;
  x->rcs[i++] = fo_op_apply(&op, &ng);
  fo_op_init(&op, FO_OP_VERSION, FO_OP_DELETE);
  op.group = x->reserved;
  x->rcs[i++] = fo_op_apply(&op, NULL);
  fo_op_init(&op, FO_OP_VERSION, FO_OP_REMOVE_STACK);
  op.stack = x->spare;
  x->rcs[i++] = fo_op_apply(&op, NULL);
  x->rcs[i++] = fo_group_attach(x->reserved, FO_SLOT_PRIMARY, x->spare);
  cr_assert_eq(i, N_BUSY);
  /* reading is allowed */
  fo_state st;
  x->read_rc = fo_group_state(x->group, &st);
  x->after = ft_snapshot(x->reg);
}

Test(feed, ebusy_inside_callback) {
  busy_ctx x;
  memset(&x, 0, sizeof x);
  x.reg = reg;
  x.stack = ft_stack(reg, "shop", 2, 0);
  x.spare = ft_stack(reg, "spare", 1, 0);
  x.group = ft_group(reg, x.stack, NULL);
  x.reserved = ft_group(reg, NULL, NULL);
  FT_OK(fo_registry_subscribe(reg, busy_cb, &x, &x.sub_id));
  fo_group *g = ft_group(reg, NULL, NULL); /* triggers the callback */
  cr_assert(x.done, "callback not called");
  for (int i = 0; i < N_BUSY; i++)
    cr_assert_eq(x.rcs[i], FO_EBUSY, "call #%d inside the callback returned %s, expected FO_EBUSY",
                 i, fo_err_name(x.rcs[i]));
  FT_OK(x.read_rc);
  cr_assert_str_eq(x.after, x.before, "calls from inside the callback changed the registry");
  /* after the callback, everything works again */
  FT_OK(fo_group_delete(g));
  FT_OK(fo_stack_rename(x.stack, "renamed"));
  FT_OK(fo_registry_unsubscribe(reg, x.sub_id));
  free(x.before);
  free(x.after);
}

Test(feed, event_after_change_fully_applied) {
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_stack *b = ft_stack(reg, "b", 1, 0);
  fo_group *g = ft_group(reg, a, b);
  FT_OK(fo_group_switch(g, FO_SLOT_BACKUP, 0));
  FT_OK(fo_stack_add_server(b, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  FT_OK(fo_group_detach(g, FO_SLOT_PRIMARY, 0));
  FT_OK(fo_group_detach(g, FO_SLOT_BACKUP, 0));
  FT_OK(fo_group_delete(g));
  cr_assert_gt(ev.n, 4);
  for (size_t i = 0; i < ev.n; i++) {
    cr_assert(ev.ev[i].target_matches, "event %zu (%s): new_target is not the applied state", i,
              fo_change_reason_name(ev.ev[i].reason));
    cr_assert_eq(ev.ev[i].group_generation, ev.ev[i].generation);
  }
}
