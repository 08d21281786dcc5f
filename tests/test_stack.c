/*
 * test_stack.c - stacks, servers, web head selection, host names, removal.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void expect_head(const fo_stack *s, fo_web_head_rule want, const char *name,
                        const char *host) {
  fo_server_info head = FO_SERVER_INFO_INIT;
  fo_web_head_rule rule = 0;
  FT_OK(fo_stack_web_head(s, &head, &rule));
  cr_assert_eq((int)rule, (int)want, "web head rule %d, expected %d", (int)rule,
               (int)want);
  cr_assert_str_eq(head.name, name);
  cr_assert_str_eq(head.host_name, host);
  cr_assert_eq((int)head.kind,
               want == FO_WEB_HEAD_FIRST_LOAD_BALANCER ? FO_SERVER_LOAD_BALANCER
                                                       : FO_SERVER_WEB);
}

Test(web_head, none_without_servers) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 0, 0);
  fo_server_info head = FO_SERVER_INFO_INIT;
  fo_web_head_rule rule = 0;
  FT_RC(fo_stack_web_head(s, &head, &rule), FO_ENOWEBHEAD);
  fo_registry_free(reg);
}

Test(web_head, selection_rules) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 0, 0);
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "web1", NULL));
  expect_head(s, FO_WEB_HEAD_FIRST_WEB_SERVER, "web1", "web1.shop." FT_ZONE);
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "web2", NULL));
  expect_head(s, FO_WEB_HEAD_FIRST_WEB_SERVER, "web1", "web1.shop." FT_ZONE);
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  expect_head(s, FO_WEB_HEAD_FIRST_LOAD_BALANCER, "lb1", "lb1.shop." FT_ZONE);
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "lb2", NULL));
  expect_head(s, FO_WEB_HEAD_FIRST_LOAD_BALANCER, "lb1", "lb1.shop." FT_ZONE);
  /* remove the first LB: the second one takes over */
  FT_OK(fo_stack_remove_server(s, "lb1"));
  expect_head(s, FO_WEB_HEAD_FIRST_LOAD_BALANCER, "lb2", "lb2.shop." FT_ZONE);
  /* no LB left: back to the first web server */
  FT_OK(fo_stack_remove_server(s, "lb2"));
  expect_head(s, FO_WEB_HEAD_FIRST_WEB_SERVER, "web1", "web1.shop." FT_ZONE);
  FT_OK(fo_stack_remove_server(s, "web1"));
  expect_head(s, FO_WEB_HEAD_FIRST_WEB_SERVER, "web2", "web2.shop." FT_ZONE);
  FT_OK(fo_stack_remove_server(s, "web2"));
  fo_server_info head = FO_SERVER_INFO_INIT;
  fo_web_head_rule rule = 0;
  FT_RC(fo_stack_web_head(s, &head, &rule), FO_ENOWEBHEAD);
  /* LB only */
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "edge", NULL));
  expect_head(s, FO_WEB_HEAD_FIRST_LOAD_BALANCER, "edge", "edge.shop." FT_ZONE);
  fo_registry_free(reg);
}

Test(web_head, carries_addresses_and_explicit_host) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 0, 0);
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "web1", "origin.example.com"));
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.10", "2001:db8::10"));
  fo_server_info head = FO_SERVER_INFO_INIT;
  fo_web_head_rule rule = 0;
  FT_OK(fo_stack_web_head(s, &head, &rule));
  cr_assert_str_eq(head.host_name, "origin.example.com");
  cr_assert_eq(head.host_name_explicit, 1);
  cr_assert_str_eq(head.ipv4, "192.0.2.10");
  cr_assert_str_eq(head.ipv6, "2001:db8::10");
  fo_registry_free(reg);
}

Test(servers, order_is_stable) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 0, 0);
  static const char *webs[] = {"zeta", "alpha", "mid", "beta"};
  static const char *lbs[] = {"lbz", "lba"};
  for (int i = 0; i < 4; i++)
    FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, webs[i], NULL));
  for (int i = 0; i < 2; i++)
    FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, lbs[i], NULL));
  size_t n = 0;
  FT_OK(fo_stack_server_count(s, FO_SERVER_WEB, &n));
  cr_assert_eq(n, 4);
  FT_OK(fo_stack_server_count(s, FO_SERVER_LOAD_BALANCER, &n));
  cr_assert_eq(n, 2);
  fo_server_info info = FO_SERVER_INFO_INIT;
  for (size_t i = 0; i < 4; i++) {
    FT_OK(fo_stack_server_at(s, FO_SERVER_WEB, i, &info));
    cr_assert_str_eq(info.name, webs[i]);
    cr_assert_eq((int)info.kind, FO_SERVER_WEB);
  }
  FT_RC(fo_stack_server_at(s, FO_SERVER_WEB, 4, &info), FO_ERANGE);
  FT_RC(fo_stack_server_at(s, FO_SERVER_WEB, (size_t)-1, &info), FO_ERANGE);
  for (size_t i = 0; i < 2; i++) {
    FT_OK(fo_stack_server_at(s, FO_SERVER_LOAD_BALANCER, i, &info));
    cr_assert_str_eq(info.name, lbs[i]);
    cr_assert_eq((int)info.kind, FO_SERVER_LOAD_BALANCER);
  }
  FT_RC(fo_stack_server_at(s, FO_SERVER_LOAD_BALANCER, 2, &info), FO_ERANGE);
  /* rename keeps the position; removal keeps the others' order */
  FT_OK(fo_stack_rename_server(s, "alpha", "omega"));
  FT_OK(fo_stack_remove_server(s, "mid"));
  static const char *after[] = {"zeta", "omega", "beta"};
  FT_OK(fo_stack_server_count(s, FO_SERVER_WEB, &n));
  cr_assert_eq(n, 3);
  for (size_t i = 0; i < 3; i++) {
    FT_OK(fo_stack_server_at(s, FO_SERVER_WEB, i, &info));
    cr_assert_str_eq(info.name, after[i]);
  }
  /* an added server goes to the end */
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "mid", NULL));
  FT_OK(fo_stack_server_at(s, FO_SERVER_WEB, 3, &info));
  cr_assert_str_eq(info.name, "mid");
  fo_registry_free(reg);
}

Test(servers, find_server_and_count) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 2, 1);
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_find_server(s, "lb1", &info));
  cr_assert_eq((int)info.kind, FO_SERVER_LOAD_BALANCER);
  cr_assert_str_eq(info.host_name, "lb1.shop." FT_ZONE);
  cr_assert_eq(info.host_name_explicit, 0);
  FT_OK(fo_stack_find_server(s, "WEB2", &info));
  cr_assert_eq((int)info.kind, FO_SERVER_WEB);
  cr_assert_str_eq(info.name, "web2");
  FT_RC(fo_stack_find_server(s, "web3", &info), FO_ENOENT);
  FT_RC(fo_stack_remove_server(s, "web3"), FO_ENOENT);
  FT_RC(fo_stack_rename_server(s, "web3", "web4"), FO_ENOENT);
  FT_OK(fo_stack_remove_server(s, "WEB1"));
  FT_RC(fo_stack_find_server(s, "web1", &info), FO_ENOENT);
  size_t n;
  FT_OK(fo_stack_server_count(s, FO_SERVER_WEB, &n));
  cr_assert_eq(n, 1);
  /* a removed server's name is free again, in either kind */
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "web1", NULL));
  FT_OK(fo_stack_server_count(s, FO_SERVER_LOAD_BALANCER, &n));
  cr_assert_eq(n, 2);
  fo_registry_free(reg);
}

Test(host_names, templated_and_explicit) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 0, 0);
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "web1", NULL));
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "web2", "www.customer.example"));
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.host_name, "web1.shop." FT_ZONE);
  cr_assert_eq(info.host_name_explicit, 0);
  FT_OK(fo_stack_find_server(s, "web2", &info));
  cr_assert_str_eq(info.host_name, "www.customer.example");
  cr_assert_eq(info.host_name_explicit, 1);
  /* renaming a server changes its templated host name only */
  FT_OK(fo_stack_rename_server(s, "web1", "app1"));
  FT_OK(fo_stack_find_server(s, "app1", &info));
  cr_assert_str_eq(info.host_name, "app1.shop." FT_ZONE);
  FT_OK(fo_stack_rename_server(s, "web2", "app2"));
  FT_OK(fo_stack_find_server(s, "app2", &info));
  cr_assert_str_eq(info.host_name, "www.customer.example");
  cr_assert_eq(info.host_name_explicit, 1);
  fo_registry_free(reg);
}

Test(host_names, rename_stack_changes_templated_only) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 1);
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "web2", "www.customer.example"));
  FT_OK(fo_stack_rename(s, "Store"));
  const char *name;
  FT_OK(fo_stack_name(s, &name));
  cr_assert_str_eq(name, "store");
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.host_name, "web1.store." FT_ZONE);
  FT_OK(fo_stack_find_server(s, "lb1", &info));
  cr_assert_str_eq(info.host_name, "lb1.store." FT_ZONE);
  FT_OK(fo_stack_find_server(s, "web2", &info));
  cr_assert_str_eq(info.host_name, "www.customer.example");
  fo_server_info head = FO_SERVER_INFO_INIT;
  fo_web_head_rule rule = 0;
  FT_OK(fo_stack_web_head(s, &head, &rule));
  cr_assert_str_eq(head.host_name, "lb1.store." FT_ZONE);
  /* old name is free, new one is taken */
  fo_stack *f = NULL;
  FT_RC(fo_registry_find_stack(reg, "shop", &f), FO_ENOENT);
  FT_OK(fo_registry_find_stack(reg, "store", &f));
  cr_assert_eq(f, s);
  fo_stack *t = NULL;
  FT_OK(fo_stack_new(&t, reg, "shop"));
  FT_RC(fo_stack_new(&t, reg, "store"), FO_EEXIST);
  fo_registry_free(reg);
}

Test(remove, stack_in_use_refused) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_stack *b = ft_stack(reg, "b", 1, 0);
  fo_group *g = ft_group(reg, a, b);
  size_t n = 0;
  FT_OK(fo_stack_group_count(a, &n));
  cr_assert_eq(n, 1);
  FT_OK(fo_stack_group_count(b, &n));
  cr_assert_eq(n, 1);
  ft_group(reg, NULL, b);
  FT_OK(fo_stack_group_count(b, &n));
  cr_assert_eq(n, 2);
  char *before = ft_snapshot(reg);
  FT_RC(fo_stack_check_remove(a), FO_EINUSE);
  FT_RC(fo_stack_remove(a), FO_EINUSE);
  FT_RC(fo_stack_check_remove(b), FO_EINUSE);
  FT_RC(fo_stack_remove(b), FO_EINUSE);
  FT_UNCHANGED(before, reg, "removing stacks in use");
  free(before);
  FT_OK(fo_group_detach(g, FO_SLOT_BACKUP, 0));
  FT_RC(fo_stack_remove(b), FO_EINUSE); /* still in the second group */
  FT_OK(fo_group_detach(g, FO_SLOT_PRIMARY, 0));
  FT_OK(fo_stack_group_count(a, &n));
  cr_assert_eq(n, 0);
  FT_OK(fo_stack_check_remove(a));
  FT_OK(fo_stack_remove(a));
  fo_registry_free(reg);
}

Test(remove, deleted_group_does_not_hold_stack) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_group *g = ft_group(reg, a, NULL);
  FT_OK(fo_group_detach(g, FO_SLOT_PRIMARY, 0));
  FT_OK(fo_group_delete(g));
  size_t n = 9;
  FT_OK(fo_stack_group_count(a, &n));
  cr_assert_eq(n, 0);
  FT_OK(fo_stack_remove(a));
  fo_registry_free(reg);
}

Test(remove, removed_handle_answers_edeleted) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 2, 1);
  fo_stack *other = ft_stack(reg, "other", 1, 0);
  FT_OK(fo_stack_remove(s));
  char *before = ft_snapshot(reg);
  const char *name;
  size_t n;
  fo_server_info info = FO_SERVER_INFO_INIT;
  fo_server_info head = FO_SERVER_INFO_INIT;
  fo_web_head_rule rule = 0;
  FT_RC(fo_stack_remove(s), FO_EDELETED);
  FT_RC(fo_stack_check_remove(s), FO_EDELETED);
  FT_RC(fo_stack_rename(s, "x"), FO_EDELETED);
  FT_RC(fo_stack_name(s, &name), FO_EDELETED);
  FT_RC(fo_stack_add_server(s, FO_SERVER_WEB, "web9", NULL), FO_EDELETED);
  FT_RC(fo_stack_remove_server(s, "web1"), FO_EDELETED);
  FT_RC(fo_stack_rename_server(s, "web1", "web7"), FO_EDELETED);
  FT_RC(fo_stack_set_server_host_name(s, "web1", "h.example.com"), FO_EDELETED);
  FT_RC(fo_stack_set_server_addresses(s, "web1", "192.0.2.1", NULL), FO_EDELETED);
  FT_RC(fo_stack_server_count(s, FO_SERVER_WEB, &n), FO_EDELETED);
  FT_RC(fo_stack_server_at(s, FO_SERVER_WEB, 0, &info), FO_EDELETED);
  FT_RC(fo_stack_find_server(s, "web1", &info), FO_EDELETED);
  FT_RC(fo_stack_web_head(s, &head, &rule), FO_EDELETED);
  FT_RC(fo_stack_group_count(s, &n), FO_EDELETED);
  /* the registry is still known */
  fo_registry *r = NULL;
  FT_OK(fo_stack_registry(s, &r));
  cr_assert_eq(r, reg);
  /* and it cannot be used in groups */
  fo_group *g = (fo_group *)(uintptr_t)0x1;
  FT_RC(fo_group_create(&g, reg, s, NULL), FO_EDELETED);
  FT_RC(fo_group_create(&g, reg, other, s), FO_EDELETED);
  fo_group *h = ft_group(reg, NULL, NULL);
  free(before);
  before = ft_snapshot(reg);
  FT_RC(fo_group_attach(h, FO_SLOT_PRIMARY, s), FO_EDELETED);
  FT_UNCHANGED(before, reg, "removed stack handle");
  free(before);
  fo_registry_free(reg);
}

Test(remove, name_reusable_after_removal) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  FT_OK(fo_stack_remove(s));
  fo_stack *f = NULL;
  FT_RC(fo_registry_find_stack(reg, "shop", &f), FO_ENOENT);
  fo_stack *t = NULL;
  FT_OK(fo_stack_new(&t, reg, "SHOP"));
  cr_assert_neq(t, s);
  FT_OK(fo_registry_find_stack(reg, "shop", &f));
  cr_assert_eq(f, t);
  size_t n = 9;
  FT_OK(fo_stack_server_count(t, FO_SERVER_WEB, &n));
  cr_assert_eq(n, 0, "the new stack inherited servers");
  /* the old handle still answers EDELETED, the new one works */
  const char *name;
  FT_RC(fo_stack_name(s, &name), FO_EDELETED);
  FT_OK(fo_stack_name(t, &name));
  cr_assert_str_eq(name, "shop");
  /* a renamed-away stack frees its name too */
  FT_OK(fo_stack_rename(t, "store"));
  fo_stack *u = NULL;
  FT_OK(fo_stack_new(&u, reg, "shop"));
  fo_registry_free(reg);
}

Test(iteration, stack_count_and_order) {
  fo_registry *reg = ft_registry(NULL, NULL);
  size_t n = 9;
  FT_OK(fo_registry_stack_count(reg, &n));
  cr_assert_eq(n, 0);
  cr_assert_null(fo_registry_next_stack(reg, NULL));
  fo_stack *s[6];
  char name[16];
  for (int i = 0; i < 6; i++) {
    snprintf(name, sizeof name, "s%d", 5 - i); /* names not in creation order */
    s[i] = ft_stack(reg, name, 0, 0);
  }
  FT_OK(fo_registry_stack_count(reg, &n));
  cr_assert_eq(n, 6);
  FT_OK(fo_stack_remove(s[1]));
  FT_OK(fo_stack_remove(s[4]));
  FT_OK(fo_registry_stack_count(reg, &n));
  cr_assert_eq(n, 4);
  fo_stack *later = ft_stack(reg, "s4", 0, 0); /* reuses a removed name */
  fo_stack *expect[] = {s[0], s[2], s[3], s[5], later};
  size_t i = 0;
  for (fo_stack *it = fo_registry_next_stack(reg, NULL); it;
       it = fo_registry_next_stack(reg, it)) {
    cr_assert_lt(i, 5, "iteration yields more than the 5 live stacks");
    cr_assert_eq(it, expect[i], "stack #%zu out of order", i);
    i++;
  }
  cr_assert_eq(i, 5);
  /* removing the current stack while iterating */
  i = 0;
  for (fo_stack *it = fo_registry_next_stack(reg, NULL); it;
       it = fo_registry_next_stack(reg, it)) {
    cr_assert_eq(it, expect[i]);
    FT_OK(fo_stack_remove(it));
    i++;
  }
  cr_assert_eq(i, 5);
  FT_OK(fo_registry_stack_count(reg, &n));
  cr_assert_eq(n, 0);
  cr_assert_null(fo_registry_next_stack(reg, NULL));
  fo_registry_free(reg);
}

Test(registry, stack_belongs_to_registry) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 0, 0);
  fo_registry *r = NULL;
  FT_OK(fo_stack_registry(s, &r));
  cr_assert_eq(r, reg);
  fo_registry_free(reg);
}

Test(stack, next_group_walks_the_followers_only) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *a = ft_stack(reg, "a", 1, 0), *b = ft_stack(reg, "b", 1, 0);
  fo_stack *c = ft_stack(reg, "c", 1, 0);
  fo_group *ab = ft_group(reg, a, b), *ba = ft_group(reg, b, a);
  fo_group *cb = ft_group(reg, c, b);
  fo_group *a_only = ft_group(reg, a, NULL);
  ft_group(reg, NULL, NULL);
  size_t seen = 0;
  int got_ab = 0, got_ba = 0, got_a = 0;
  for (fo_group *g = fo_stack_next_group(a, NULL); g != NULL;
       g = fo_stack_next_group(a, g)) {
    got_ab += g == ab;
    got_ba += g == ba;
    got_a += g == a_only;
    cr_assert_neq(g, cb, "a group that does not hold the stack");
    cr_assert_lt(++seen, 10u, "iteration does not end");
  }
  cr_assert_eq(seen, 3);
  cr_assert(got_ab == 1 && got_ba == 1 && got_a == 1);
  /* every group of b, and each once */
  seen = 0;
  for (fo_group *g = fo_stack_next_group(b, NULL); g != NULL;
       g = fo_stack_next_group(b, g))
    seen++;
  cr_assert_eq(seen, 3);
  /* switches while iterating are allowed */
  seen = 0;
  for (fo_group *g = fo_stack_next_group(b, NULL); g != NULL;
       g = fo_stack_next_group(b, g)) {
    fo_slot act;
    FT_OK(fo_group_active_slot(g, &act));
    (void)fo_group_switch(g, act == FO_SLOT_PRIMARY ? FO_SLOT_BACKUP
                                                    : FO_SLOT_PRIMARY, 0);
    seen++;
  }
  cr_assert_eq(seen, 3);
  cr_assert_null(fo_stack_next_group(NULL, NULL));
  cr_assert_null(fo_stack_next_group(c, ab), "prev not holding the stack");
  FT_OK(fo_group_detach(cb, FO_SLOT_PRIMARY, FO_FORCE));
  fo_stack *d = ft_stack(reg, "d", 0, 0);
  cr_assert_null(fo_stack_next_group(d, NULL));
  FT_OK(fo_stack_remove(d));
  cr_assert_null(fo_stack_next_group(d, NULL));
  fo_registry_free(reg);
}
