/*
 * test_records.c - a group's target and records, presentation format, zone
 * export.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* Registry whose template gives "web1.shop.example.net". */
static fo_registry *registry_example_net(uint32_t ttl) {
  fo_registry_options o = ft_options(NULL, NULL);
  o.host_name_template = "{server}.{stack}.example.net";
  o.default_ttl = ttl;
  fo_registry *reg = NULL;
  FT_OK(fo_registry_new(&reg, &o));
  return reg;
}

static void expect_text(const fo_group *g, const char *expected) {
  char *text = ft_records_text(g);
  cr_assert_str_eq(text, expected);
  free(text);
}

static void expect_matches_model(const fo_group *g) {
  fo_rrset want = FO_RRSET_INIT, got = FO_RRSET_INIT;
  ft_expected_rrset(g, &want);
  memset(&got, 0x55, sizeof got); /* every field must be written */
  got.version = FO_RRSET_VERSION;
  FT_OK(fo_group_records(g, &got));
  char *w = ft_rrset_describe(&want), *h = ft_rrset_describe(&got);
  cr_assert(ft_rrset_equal(&want, &got), "records %s, expected %s", h, w);
  free(w);
  free(h);
}

Test(records, cname_mode) {
  fo_registry *reg = registry_example_net(0);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_group *g = ft_group(reg, s, NULL);
  char a[FO_NAME_BUFSIZE];
  ft_address(g, a);
  fo_rrset set = FO_RRSET_INIT;
  FT_OK(fo_group_records(g, &set));
  cr_assert_eq(set.count, 1);
  cr_assert_eq((int)set.none, FO_NONE_NOT);
  cr_assert_eq((int)set.records[0].type, FO_RR_CNAME);
  cr_assert_eq(set.records[0].ttl, 60);
  cr_assert_str_eq(set.records[0].owner, a);
  cr_assert_str_eq(set.records[0].data, "web1.shop.example.net");
  char expect[2048];
  snprintf(expect, sizeof expect, "%s. 60 IN CNAME web1.shop.example.net.\n", a);
  expect_text(g, expect);
  fo_target t = FO_TARGET_INIT;
  FT_OK(fo_group_target(g, &t));
  cr_assert_eq((int)t.none, FO_NONE_NOT);
  cr_assert_eq((int)t.mode, FO_MODE_CNAME);
  cr_assert_eq(t.ttl, 60);
  cr_assert_str_eq(t.host_name, "web1.shop.example.net");
  fo_record_mode m;
  FT_OK(fo_group_mode(g, &m));
  cr_assert_eq((int)m, FO_MODE_CNAME, "CNAME is the default mode");
  expect_matches_model(g);
  fo_registry_free(reg);
}

Test(records, cname_follows_web_head) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_group *g = ft_group(reg, s, NULL);
  char a[FO_NAME_BUFSIZE], expect[2048];
  ft_address(g, a);
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  snprintf(expect, sizeof expect, "%s. 60 IN CNAME lb1.shop.%s.\n", a, FT_ZONE);
  expect_text(g, expect);
  FT_OK(fo_stack_rename(s, "store"));
  snprintf(expect, sizeof expect, "%s. 60 IN CNAME lb1.store.%s.\n", a, FT_ZONE);
  expect_text(g, expect);
  FT_OK(fo_stack_set_server_host_name(s, "lb1", "edge.cdn.example"));
  snprintf(expect, sizeof expect, "%s. 60 IN CNAME edge.cdn.example.\n", a);
  expect_text(g, expect);
  FT_OK(fo_stack_remove_server(s, "lb1"));
  snprintf(expect, sizeof expect, "%s. 60 IN CNAME web1.store.%s.\n", a, FT_ZONE);
  expect_text(g, expect);
  expect_matches_model(g);
  fo_registry_free(reg);
}

Test(records, ttl_appears) {
  fo_registry *reg = registry_example_net(120);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_group *g = ft_group(reg, s, NULL);
  char a[FO_NAME_BUFSIZE], expect[2048];
  ft_address(g, a);
  snprintf(expect, sizeof expect, "%s. 120 IN CNAME web1.shop.example.net.\n", a);
  expect_text(g, expect);
  FT_OK(fo_group_set_ttl(g, 300));
  snprintf(expect, sizeof expect, "%s. 300 IN CNAME web1.shop.example.net.\n", a);
  expect_text(g, expect);
  FT_OK(fo_group_set_ttl(g, 1));
  fo_rrset set = FO_RRSET_INIT;
  FT_OK(fo_group_records(g, &set));
  cr_assert_eq(set.records[0].ttl, 1);
  fo_target t = FO_TARGET_INIT;
  FT_OK(fo_group_target(g, &t));
  cr_assert_eq(t.ttl, 1);
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.1", "2001:db8::1"));
  FT_OK(fo_group_set_mode(g, FO_MODE_ADDRESS));
  snprintf(expect, sizeof expect, "%s. 1 IN A 192.0.2.1\n%s. 1 IN AAAA 2001:db8::1\n", a, a);
  expect_text(g, expect);
  fo_registry_free(reg);
}

Test(records, address_mode) {
  fo_registry *reg = registry_example_net(0);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_group *g = ft_group(reg, s, NULL);
  FT_OK(fo_group_set_mode(g, FO_MODE_ADDRESS));
  fo_record_mode m;
  FT_OK(fo_group_mode(g, &m));
  cr_assert_eq((int)m, FO_MODE_ADDRESS);
  char a[FO_NAME_BUFSIZE], expect[2048];
  ft_address(g, a);
  fo_rrset set = FO_RRSET_INIT;
  fo_target t = FO_TARGET_INIT;

  /* no address */
  FT_OK(fo_group_records(g, &set));
  cr_assert_eq(set.count, 0);
  cr_assert_eq((int)set.none, FO_NONE_NO_ADDRESS);
  FT_OK(fo_group_target(g, &t));
  cr_assert_eq((int)t.none, FO_NONE_NO_ADDRESS);
  cr_assert_eq((int)t.mode, FO_MODE_ADDRESS);
  expect_text(g, "");
  expect_matches_model(g);

  /* both */
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.1", "2001:DB8::1"));
  FT_OK(fo_group_records(g, &set));
  cr_assert_eq(set.count, 2);
  cr_assert_eq((int)set.none, FO_NONE_NOT);
  cr_assert_eq((int)set.records[0].type, FO_RR_A);
  cr_assert_str_eq(set.records[0].owner, a);
  cr_assert_str_eq(set.records[0].data, "192.0.2.1");
  cr_assert_eq(set.records[0].ttl, 60);
  cr_assert_eq((int)set.records[1].type, FO_RR_AAAA);
  cr_assert_str_eq(set.records[1].owner, a);
  cr_assert_str_eq(set.records[1].data, "2001:db8::1");
  snprintf(expect, sizeof expect, "%s. 60 IN A 192.0.2.1\n%s. 60 IN AAAA 2001:db8::1\n", a, a);
  expect_text(g, expect);
  FT_OK(fo_group_target(g, &t));
  cr_assert_eq((int)t.none, FO_NONE_NOT);
  cr_assert_str_eq(t.ipv4, "192.0.2.1");
  cr_assert_str_eq(t.ipv6, "2001:db8::1");
  cr_assert_str_eq(t.host_name, "web1.shop.example.net");
  expect_matches_model(g);

  /* only IPv4 */
  FT_OK(fo_stack_set_server_addresses(s, "web1", "198.51.100.7", NULL));
  FT_OK(fo_group_records(g, &set));
  cr_assert_eq(set.count, 1);
  cr_assert_eq((int)set.records[0].type, FO_RR_A);
  snprintf(expect, sizeof expect, "%s. 60 IN A 198.51.100.7\n", a);
  expect_text(g, expect);
  FT_OK(fo_group_target(g, &t));
  cr_assert_null(t.ipv6);

  /* only IPv6 */
  FT_OK(fo_stack_set_server_addresses(s, "web1", NULL, "2001:db8:0:0:1::2"));
  FT_OK(fo_group_records(g, &set));
  cr_assert_eq(set.count, 1);
  cr_assert_eq((int)set.records[0].type, FO_RR_AAAA);
  snprintf(expect, sizeof expect, "%s. 60 IN AAAA 2001:db8::1:0:0:2\n", a);
  expect_text(g, expect);
  FT_OK(fo_group_target(g, &t));
  cr_assert_null(t.ipv4);

  /* back to CNAME mode */
  FT_OK(fo_group_set_mode(g, FO_MODE_CNAME));
  snprintf(expect, sizeof expect, "%s. 60 IN CNAME web1.shop.example.net.\n", a);
  expect_text(g, expect);
  fo_registry_free(reg);
}

Test(records, address_mode_uses_web_head_addresses) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.1", NULL));
  fo_group *g = ft_group(reg, s, NULL);
  FT_OK(fo_group_set_mode(g, FO_MODE_ADDRESS));
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  /* the LB is the web head now and has no address */
  fo_rrset set = FO_RRSET_INIT;
  FT_OK(fo_group_records(g, &set));
  cr_assert_eq(set.count, 0);
  cr_assert_eq((int)set.none, FO_NONE_NO_ADDRESS);
  FT_OK(fo_stack_set_server_addresses(s, "lb1", "203.0.113.5", NULL));
  FT_OK(fo_group_records(g, &set));
  cr_assert_eq(set.count, 1);
  cr_assert_str_eq(set.records[0].data, "203.0.113.5");
  expect_matches_model(g);
  fo_registry_free(reg);
}

Test(records, none_reasons) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *empty = ft_stack(reg, "empty", 0, 0);
  fo_group *reserved = ft_group(reg, NULL, NULL);
  fo_group *nohead = ft_group(reg, empty, NULL);
  fo_group *deleted = ft_group(reg, NULL, NULL);
  FT_OK(fo_group_delete(deleted));
  fo_rrset set = FO_RRSET_INIT;
  fo_target t = FO_TARGET_INIT;

  FT_OK(fo_group_records(reserved, &set));
  cr_assert_eq(set.count, 0);
  cr_assert_eq((int)set.none, FO_NONE_RESERVED);
  FT_OK(fo_group_target(reserved, &t));
  cr_assert_eq((int)t.none, FO_NONE_RESERVED);
  expect_text(reserved, "");

  FT_OK(fo_group_records(nohead, &set));
  cr_assert_eq(set.count, 0);
  cr_assert_eq((int)set.none, FO_NONE_NO_WEB_HEAD);
  FT_OK(fo_group_target(nohead, &t));
  cr_assert_eq((int)t.none, FO_NONE_NO_WEB_HEAD);
  cr_assert_null(t.host_name);
  expect_text(nohead, "");
  /* in address mode too */
  FT_OK(fo_group_set_mode(nohead, FO_MODE_ADDRESS));
  FT_OK(fo_group_records(nohead, &set));
  cr_assert_eq((int)set.none, FO_NONE_NO_WEB_HEAD);

  FT_OK(fo_group_records(deleted, &set));
  cr_assert_eq(set.count, 0);
  cr_assert_eq((int)set.none, FO_NONE_DELETED);
  FT_OK(fo_group_target(deleted, &t));
  cr_assert_eq((int)t.none, FO_NONE_DELETED);
  expect_text(deleted, "");

  /* a web head appears: records appear */
  FT_OK(fo_stack_add_server(empty, FO_SERVER_WEB, "web1", NULL));
  FT_OK(fo_group_set_mode(nohead, FO_MODE_CNAME));
  FT_OK(fo_group_records(nohead, &set));
  cr_assert_eq(set.count, 1);
  cr_assert_eq((int)set.none, FO_NONE_NOT);
  expect_matches_model(nohead);
  expect_matches_model(reserved);
  expect_matches_model(deleted);
  fo_registry_free(reg);
}

Test(records, follows_active_slot) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_stack *b = ft_stack(reg, "b", 1, 1);
  fo_group *g = ft_group(reg, a, b);
  fo_target t = FO_TARGET_INIT;
  FT_OK(fo_group_target(g, &t));
  cr_assert_str_eq(t.host_name, "web1.a." FT_ZONE);
  FT_OK(fo_group_switch(g, FO_SLOT_BACKUP, 0));
  FT_OK(fo_group_target(g, &t));
  cr_assert_str_eq(t.host_name, "lb1.b." FT_ZONE, "records do not follow the switch at once");
  expect_matches_model(g);
  FT_OK(fo_group_settle(g));
  expect_matches_model(g);
  FT_OK(fo_group_detach(g, FO_SLOT_BACKUP, FO_FORCE));
  FT_OK(fo_group_target(g, &t));
  cr_assert_str_eq(t.host_name, "web1.a." FT_ZONE);
  FT_OK(fo_group_detach(g, FO_SLOT_PRIMARY, 0));
  FT_OK(fo_group_target(g, &t));
  cr_assert_eq((int)t.none, FO_NONE_RESERVED);
  fo_registry_free(reg);
}

Test(format, enospc_reports_needed_length) {
  fo_registry *reg = registry_example_net(0);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_group *g = ft_group(reg, s, NULL);
  char a[FO_NAME_BUFSIZE], expect[2048];
  ft_address(g, a);
  int n = snprintf(expect, sizeof expect, "%s. 60 IN CNAME web1.shop.example.net.\n", a);
  fo_rrset set = FO_RRSET_INIT;
  FT_OK(fo_group_records(g, &set));
  char buf[512];
  size_t len = 0;
  FT_OK(fo_rrset_format(&set, buf, sizeof buf, &len));
  cr_assert_eq(len, (size_t)n);
  cr_assert_str_eq(buf, expect);
  /* exactly enough */
  len = 0;
  FT_OK(fo_rrset_format(&set, buf, (size_t)n + 1, &len));
  cr_assert_eq(len, (size_t)n);
  cr_assert_str_eq(buf, expect);
  /* one short: truncated like snprintf */
  memset(buf, '#', sizeof buf);
  len = 0;
  FT_RC(fo_rrset_format(&set, buf, (size_t)n, &len), FO_ENOSPC);
  cr_assert_eq(len, (size_t)n, "needed length %zu, expected %d", len, n);
  cr_assert_eq(buf[n - 1], '\0', "truncated output is not NUL-terminated");
  cr_assert_eq(strncmp(buf, expect, (size_t)n - 1), 0, "truncated output is not a prefix");
  cr_assert_eq(buf[n], '#', "wrote past size");
  /* tiny buffers */
  memset(buf, '#', sizeof buf);
  len = 0;
  FT_RC(fo_rrset_format(&set, buf, 1, &len), FO_ENOSPC);
  cr_assert_eq(len, (size_t)n);
  cr_assert_eq(buf[0], '\0');
  cr_assert_eq(buf[1], '#');
  len = 0;
  FT_RC(fo_rrset_format(&set, buf, 10, NULL), FO_ENOSPC);
  /* two records */
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.1", "2001:db8::1"));
  FT_OK(fo_group_set_mode(g, FO_MODE_ADDRESS));
  FT_OK(fo_group_records(g, &set));
  n = snprintf(expect, sizeof expect, "%s. 60 IN A 192.0.2.1\n%s. 60 IN AAAA 2001:db8::1\n", a, a);
  len = 0;
  FT_RC(fo_rrset_format(&set, buf, 20, &len), FO_ENOSPC);
  cr_assert_eq(len, (size_t)n);
  FT_OK(fo_rrset_format(&set, buf, len + 1, NULL));
  cr_assert_str_eq(buf, expect);
  fo_registry_free(reg);
}

Test(format, empty_set) {
  fo_rrset set = FO_RRSET_INIT;
  set.none = FO_NONE_RESERVED;
  char buf[8];
  memset(buf, '#', sizeof buf);
  size_t len = 99;
  FT_OK(fo_rrset_format(&set, buf, sizeof buf, &len));
  cr_assert_eq(len, 0);
  cr_assert_str_eq(buf, "");
  FT_OK(fo_rrset_format(&set, buf, 1, &len));
  cr_assert_eq(len, 0);
}

Test(format, hand_built_set) {
  fo_rrset set = FO_RRSET_INIT;
  set.count = 1;
  set.records[0].type = FO_RR_CNAME;
  set.records[0].ttl = 42;
  strcpy(set.records[0].owner, "111-222-333.z.example");
  strcpy(set.records[0].data, "target.example");
  char buf[256];
  size_t len = 0;
  FT_OK(fo_rrset_format(&set, buf, sizeof buf, &len));
  cr_assert_str_eq(buf, "111-222-333.z.example. 42 IN CNAME target.example.\n");
  cr_assert_eq(len, strlen(buf));
  set.count = 3; /* over FO_RRSET_MAX */
  FT_RC(fo_rrset_format(&set, buf, sizeof buf, &len), FO_EINVAL);
}

/* ---- export ---------------------------------------------------------------- */

typedef struct sink {
  ft_buf text;
  int calls;
  int stop_at;   /* 1-based call that returns `stop_rc`; 0: never */
  int stop_rc;
} sink;

static int sink_write(const char *data, size_t len, void *ud) {
  sink *k = ud;
  k->calls++;
  ft_buf_append(&k->text, data, len);
  if (k->stop_at && k->calls == k->stop_at)
    return k->stop_rc;
  return 0;
}

/* The first line: a comment naming the zone. Returns the rest. */
static const char *after_comment(const char *text) {
  cr_assert_eq(text[0], ';', "export does not start with a comment line: \"%s\"", text);
  const char *nl = strchr(text, '\n');
  cr_assert_not_null(nl, "the comment line does not end");
  size_t n = (size_t)(nl - text);
  char *line = malloc(n + 1);
  memcpy(line, text, n);
  line[n] = '\0';
  cr_assert_not_null(strstr(line, FT_ZONE), "comment line \"%s\" does not name the zone", line);
  free(line);
  return nl + 1;
}

Test(export, empty_registry) {
  fo_registry *reg = ft_registry(NULL, NULL);
  sink k = {0};
  FT_OK(fo_registry_export_zone(reg, sink_write, &k));
  const char *rest = after_comment(k.text.p ? k.text.p : "");
  cr_assert_str_eq(rest, "");
  ft_buf_free(&k.text);
  fo_registry_free(reg);
}

Test(export, small_registry_exact_text) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *shop = ft_stack(reg, "shop", 1, 0);
  fo_stack *api = ft_stack(reg, "api", 1, 1);
  FT_OK(fo_stack_set_server_addresses(api, "lb1", "192.0.2.44", "2001:db8::44"));
  fo_group *g1 = ft_group(reg, shop, api);
  fo_group *g2 = ft_group(reg, NULL, NULL);       /* reserved: no records */
  fo_group *g3 = ft_group(reg, api, NULL);
  FT_OK(fo_group_set_mode(g3, FO_MODE_ADDRESS));
  FT_OK(fo_group_set_ttl(g3, 30));
  fo_group *g4 = ft_group(reg, NULL, NULL);
  FT_OK(fo_group_delete(g4));                     /* deleted: not exported */
  fo_group *g5 = ft_group(reg, NULL, shop);
  (void)g2;
  char a1[FO_NAME_BUFSIZE], a3[FO_NAME_BUFSIZE], a5[FO_NAME_BUFSIZE];
  ft_address(g1, a1);
  ft_address(g3, a3);
  ft_address(g5, a5);
  char expect[2048];
  snprintf(expect, sizeof expect,
           "%s. 60 IN CNAME web1.shop.%s.\n"
           "%s. 30 IN A 192.0.2.44\n"
           "%s. 30 IN AAAA 2001:db8::44\n"
           "%s. 60 IN CNAME web1.shop.%s.\n",
           a1, FT_ZONE, a3, a3, a5, FT_ZONE);
  sink k = {0};
  FT_OK(fo_registry_export_zone(reg, sink_write, &k));
  cr_assert_gt(k.calls, 0);
  const char *rest = after_comment(k.text.p);
  cr_assert_str_eq(rest, expect);
  ft_buf_free(&k.text);
  fo_registry_free(reg);
}

Test(export, writer_stops_export) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  for (int i = 0; i < 5; i++)
    ft_group(reg, s, NULL);
  sink full = {0};
  FT_OK(fo_registry_export_zone(reg, sink_write, &full));
  cr_assert_gt(full.calls, 1, "export handed everything in one chunk; cannot test stopping");
  static const int rcs[] = {42, -1, 7};
  for (int i = 0; i < 3; i++) {
    for (int at = 1; at <= 2; at++) {
      sink k = {0};
      k.stop_at = at;
      k.stop_rc = rcs[i];
      int rc = fo_registry_export_zone(reg, sink_write, &k);
      cr_assert_eq(rc, rcs[i], "export returned %d, the writer %d", rc, rcs[i]);
      cr_assert_eq(k.calls, at, "writer called %d times after returning non-zero on call %d",
                   k.calls, at);
      ft_buf_free(&k.text);
    }
  }
  ft_buf_free(&full.text);
  fo_registry_free(reg);
}

Test(export, changes_nothing) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  ft_group(reg, s, NULL);
  char *before = ft_snapshot(reg);
  sink k = {0};
  FT_OK(fo_registry_export_zone(reg, sink_write, &k));
  FT_UNCHANGED(before, reg, "export");
  free(before);
  ft_buf_free(&k.text);
  fo_registry_free(reg);
}
