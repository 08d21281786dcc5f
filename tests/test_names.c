/*
 * test_names.c - validation of names, addresses, TTLs, templates, options and
 * arguments.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* A string of `n` copies of `c` (static ring of buffers). */
static const char *rep(char c, size_t n) {
  static char bufs[4][1024];
  static int next;
  char *b = bufs[next++ & 3];
  cr_assert_lt(n, sizeof bufs[0]);
  memset(b, c, n);
  b[n] = '\0';
  return b;
}

/* A zone of exactly `len` characters made of valid labels (63-char labels
 * separated by dots, the last one shorter). */
static void make_zone(char *out, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t left = len - i;
    size_t lab = left > 63 ? 63 : left;
    if (left > 63 && left - 63 == 1)
      lab = 61; /* never end with a lone dot */
    for (size_t k = 0; k < lab; k++)
      out[i++] = (char)('a' + (k % 26));
    if (i < len)
      out[i++] = '.';
  }
  out[len] = '\0';
  cr_assert_eq(strlen(out), len);
}

static int new_registry_with_zone(const char *zone, fo_registry **out) {
  fo_registry_options o = FO_REGISTRY_OPTIONS_INIT;
  o.zone = zone;
  *out = (fo_registry *)(uintptr_t)0x1;
  int rc = fo_registry_new(out, &o);
  if (rc != 0)
    cr_assert_null(*out, "*out is not NULL after failure (%s) for zone \"%s\"",
                   fo_err_name(rc), zone);
  return rc;
}

static void zone_rc(const char *zone, int expected) {
  fo_registry *reg = NULL;
  int rc = new_registry_with_zone(zone, &reg);
  cr_assert_eq(rc, expected, "zone \"%s\": got %s, expected %s", zone, fo_err_name(rc),
               fo_err_name(expected));
  fo_registry_free(reg);
}

/* ---- zone -------------------------------------------------------------- */

Test(zone, valid_zones_accepted) {
  zone_rc("failover.example.net", 0);
  zone_rc("example", 0);
  zone_rc("a-b.c0.net", 0);
  zone_rc("0.example.net", 0);
  char z[64 + 8];
  snprintf(z, sizeof z, "%s.net", rep('a', 63));
  zone_rc(z, 0);
}

Test(zone, bad_labels_refused) {
  static const char *bad[] = {"",
                              ".",
                              "..",
                              "failover..example.net",
                              ".failover.example.net",
                              "-failover.example.net",
                              "failover-.example.net",
                              "failover.example.net-",
                              "failover.-example.net",
                              "fail over.example.net",
                              "failover.exa$mple.net",
                              "failover.example.net..",
                              "fail/over.example.net",
                              "failover.example.n\xc3\xa9t",
                              "failover.example.net\t"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    zone_rc(bad[i], FO_EBADNAME);
}

Test(zone, label_of_64_chars_is_too_long) {
  char z[128];
  snprintf(z, sizeof z, "%s.net", rep('a', 64));
  zone_rc(z, FO_ENAMETOOLONG);
  snprintf(z, sizeof z, "example.%s", rep('b', 64));
  zone_rc(z, FO_ENAMETOOLONG);
}

Test(zone, length_limits) {
  char z[400];
  make_zone(z, 241);
  zone_rc(z, 0); /* "DDD-DDD-DDD." + 241 = 253 */
  make_zone(z, 242);
  zone_rc(z, FO_ENAMETOOLONG);
  make_zone(z, 253);
  zone_rc(z, FO_ENAMETOOLONG);
  make_zone(z, 254); /* a whole name over 253 */
  zone_rc(z, FO_ENAMETOOLONG);
  make_zone(z, 300);
  zone_rc(z, FO_ENAMETOOLONG);
}

Test(zone, trailing_dot_accepted_and_dropped) {
  fo_registry *reg = NULL;
  FT_OK(new_registry_with_zone("failover.example.net.", &reg));
  const char *z = NULL;
  FT_OK(fo_registry_zone(reg, &z));
  cr_assert_str_eq(z, "failover.example.net");
  fo_group *g = ft_group(reg, NULL, NULL);
  char a[FO_NAME_BUFSIZE];
  cr_assert(ft_is_address(ft_address(g, a), "failover.example.net"), "address %s", a);
  fo_registry_free(reg);
}

Test(zone, mixed_case_stored_lowercase) {
  fo_registry *reg = NULL;
  FT_OK(new_registry_with_zone("FailOver.EXAMPLE.Net", &reg));
  const char *z = NULL;
  FT_OK(fo_registry_zone(reg, &z));
  cr_assert_str_eq(z, "failover.example.net");
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.host_name, "web1.shop.failover.example.net");
  fo_registry_free(reg);
}

Test(zone, zone_is_copied) {
  char zone[] = "failover.example.net";
  fo_registry_options o = FO_REGISTRY_OPTIONS_INIT;
  o.zone = zone;
  fo_registry *reg = NULL;
  FT_OK(fo_registry_new(&reg, &o));
  memcpy(zone, "xxxxxxxx", 8);
  const char *z = NULL;
  FT_OK(fo_registry_zone(reg, &z));
  cr_assert_str_eq(z, "failover.example.net");
  fo_registry_free(reg);
}

/* ---- options ----------------------------------------------------------- */

Test(options, init_matches_macro) {
  fo_registry_options a = FO_REGISTRY_OPTIONS_INIT;
  fo_registry_options b;
  memset(&b, 0xa5, sizeof b);
  FT_OK(fo_registry_options_init(&b, FO_REGISTRY_OPTIONS_VERSION));
  cr_assert_eq(b.version, a.version);
  cr_assert_eq(b.version, FO_REGISTRY_OPTIONS_VERSION);
  cr_assert_null(b.zone);
  cr_assert_eq(b.default_ttl, 0);
  cr_assert_null(b.host_name_template);
  cr_assert_null(b.random);
  cr_assert_null(b.random_userdata);
  cr_assert_null(b.allocator);
}

Test(options, init_version_and_null) {
  fo_registry_options o;
  FT_RC(fo_registry_options_init(&o, 0), FO_EVERSION);
  FT_RC(fo_registry_options_init(&o, FO_REGISTRY_OPTIONS_VERSION + 1), FO_EVERSION);
  FT_RC(fo_registry_options_init(NULL, FO_REGISTRY_OPTIONS_VERSION), FO_EINVAL);
}

Test(options, version_mismatch_refused) {
  unsigned int versions[] = {0, FO_REGISTRY_OPTIONS_VERSION + 1, 1000};
  for (size_t i = 0; i < 3; i++) {
    fo_registry_options o = ft_options(NULL, NULL);
    o.version = versions[i];
    fo_registry *reg = (fo_registry *)(uintptr_t)0x1;
    FT_RC(fo_registry_new(&reg, &o), FO_EVERSION);
    cr_assert_null(reg);
  }
}

Test(options, null_arguments) {
  fo_registry_options o = ft_options(NULL, NULL);
  FT_RC(fo_registry_new(NULL, &o), FO_EINVAL);
  fo_registry *reg = (fo_registry *)(uintptr_t)0x1;
  FT_RC(fo_registry_new(&reg, NULL), FO_EINVAL);
  cr_assert_null(reg);
  o.zone = NULL;
  reg = (fo_registry *)(uintptr_t)0x1;
  FT_RC(fo_registry_new(&reg, &o), FO_EINVAL);
  cr_assert_null(reg);
}

Test(options, allocator_missing_function) {
  ft_alloc a;
  for (int missing = 0; missing < 3; missing++) {
    ft_alloc_init(&a);
    if (missing == 0)
      a.hooks.malloc = NULL;
    if (missing == 1)
      a.hooks.realloc = NULL;
    if (missing == 2)
      a.hooks.free = NULL;
    fo_registry_options o = ft_options(NULL, &a);
    fo_registry *reg = (fo_registry *)(uintptr_t)0x1;
    FT_RC(fo_registry_new(&reg, &o), FO_EINVAL);
    cr_assert_null(reg);
    cr_assert_eq(a.live, 0);
  }
}

Test(options, allocator_is_copied_and_used) {
  ft_alloc a;
  ft_alloc_init(&a);
  fo_allocator *hooks = malloc(sizeof *hooks);
  *hooks = a.hooks;
  fo_registry_options o = ft_options(NULL, NULL);
  o.allocator = hooks;
  fo_registry *reg = NULL;
  FT_OK(fo_registry_new(&reg, &o));
  memset(hooks, 0, sizeof *hooks);
  free(hooks);
  cr_assert_gt(a.live, 0, "the registry did not allocate through its allocator");
  ft_stack(reg, "shop", 2, 1);
  ft_group(reg, NULL, NULL);
  fo_registry_free(reg);
  cr_assert_eq(a.live, 0, "%zu blocks leaked", a.live);
  cr_assert_eq(a.bad_frees, 0);
}

/* ---- TTL ---------------------------------------------------------------- */

static int registry_with_ttl(uint32_t ttl, fo_registry **reg) {
  fo_registry_options o = ft_options(NULL, NULL);
  o.default_ttl = ttl;
  *reg = (fo_registry *)(uintptr_t)0x1;
  int rc = fo_registry_new(reg, &o);
  if (rc)
    cr_assert_null(*reg);
  return rc;
}

Test(ttl, registry_default_ttl) {
  fo_registry *reg = NULL;
  uint32_t t = 0;
  FT_OK(registry_with_ttl(0, &reg));
  FT_OK(fo_registry_default_ttl(reg, &t));
  cr_assert_eq(t, 60);
  cr_assert_eq(t, FO_TTL_DEFAULT);
  fo_group *g = ft_group(reg, NULL, NULL);
  FT_OK(fo_group_ttl(g, &t));
  cr_assert_eq(t, 60);
  fo_registry_free(reg);

  FT_OK(registry_with_ttl(1, &reg));
  FT_OK(fo_registry_default_ttl(reg, &t));
  cr_assert_eq(t, 1);
  fo_registry_free(reg);

  FT_OK(registry_with_ttl(300, &reg));
  FT_OK(fo_registry_default_ttl(reg, &t));
  cr_assert_eq(t, 300);
  g = ft_group(reg, NULL, NULL);
  FT_OK(fo_group_ttl(g, &t));
  cr_assert_eq(t, 300);
  fo_registry_free(reg);

  FT_RC(registry_with_ttl(301, &reg), FO_ERANGE);
  FT_RC(registry_with_ttl(3600, &reg), FO_ERANGE);
  FT_RC(registry_with_ttl(UINT32_MAX, &reg), FO_ERANGE);
}

Test(ttl, group_set_ttl_range) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_group *g = ft_group(reg, s, NULL);
  char *before = ft_snapshot(reg);
  FT_RC(fo_group_set_ttl(g, 0), FO_ERANGE);
  FT_RC(fo_group_set_ttl(g, 301), FO_ERANGE);
  FT_RC(fo_group_set_ttl(g, UINT32_MAX), FO_ERANGE);
  FT_UNCHANGED(before, reg, "refused set_ttl");
  free(before);
  uint32_t t = 0;
  FT_OK(fo_group_set_ttl(g, 1));
  FT_OK(fo_group_ttl(g, &t));
  cr_assert_eq(t, 1);
  FT_OK(fo_group_set_ttl(g, 300));
  FT_OK(fo_group_ttl(g, &t));
  cr_assert_eq(t, 300);
  fo_registry_free(reg);
}

/* ---- stack and server names -------------------------------------------- */

static const char *bad_labels[] = {"",     "-a",  "a-",   "-",   "a.b",  "a_b", "a b",
                                   "a*b",  "a/b", "shop.", ".shop", "\xc3\xa9", "a\n"};

Test(labels, stack_names) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = NULL;
  for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++) {
    s = (fo_stack *)(uintptr_t)0x1;
    int rc = fo_stack_new(&s, reg, bad_labels[i]);
    cr_assert_eq(rc, FO_EBADNAME, "stack name \"%s\": %s", bad_labels[i], fo_err_name(rc));
  }
  FT_RC(fo_stack_new(&s, reg, rep('a', 64)), FO_ENAMETOOLONG);
  FT_RC(fo_stack_new(&s, reg, rep('a', 300)), FO_ENAMETOOLONG);
  size_t n = 99;
  FT_OK(fo_registry_stack_count(reg, &n));
  cr_assert_eq(n, 0);

  static const char *good[] = {"a", "shop", "web-1", "123", "a--b", "x9"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    FT_OK(fo_stack_new(&s, reg, good[i]));
  FT_OK(fo_stack_new(&s, reg, rep('b', 63)));
  const char *name = NULL;
  FT_OK(fo_stack_name(s, &name));
  cr_assert_str_eq(name, rep('b', 63));
  fo_registry_free(reg);
}

Test(labels, stack_name_stored_lowercase_and_unique_case_insensitive) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = NULL, *t = NULL;
  FT_OK(fo_stack_new(&s, reg, "ShOp-EU"));
  const char *name = NULL;
  FT_OK(fo_stack_name(s, &name));
  cr_assert_str_eq(name, "shop-eu");
  char *before = ft_snapshot(reg);
  t = (fo_stack *)(uintptr_t)0x1;
  FT_RC(fo_stack_new(&t, reg, "shop-eu"), FO_EEXIST);
  FT_RC(fo_stack_new(&t, reg, "SHOP-EU"), FO_EEXIST);
  FT_UNCHANGED(before, reg, "duplicate stack name");
  free(before);
  fo_stack *f = NULL;
  FT_OK(fo_registry_find_stack(reg, "SHOP-eu", &f));
  cr_assert_eq(f, s);
  FT_RC(fo_registry_find_stack(reg, "nope", &f), FO_ENOENT);
  FT_RC(fo_registry_find_stack(reg, "bad_name", &f), FO_EBADNAME);
  FT_RC(fo_registry_find_stack(reg, "", &f), FO_EBADNAME);
  /* rename onto an existing name */
  FT_OK(fo_stack_new(&t, reg, "other"));
  FT_RC(fo_stack_rename(t, "SHOP-EU"), FO_EEXIST);
  FT_RC(fo_stack_rename(t, "bad name"), FO_EBADNAME);
  FT_RC(fo_stack_rename(t, rep('c', 64)), FO_ENAMETOOLONG);
  FT_OK(fo_stack_name(t, &name));
  cr_assert_str_eq(name, "other");
  /* renaming a stack to its own name in another case is not a conflict */
  FT_OK(fo_stack_rename(t, "OTHER"));
  FT_OK(fo_stack_name(t, &name));
  cr_assert_str_eq(name, "other");
  fo_registry_free(reg);
}

Test(labels, server_names) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 0, 0);
  for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++) {
    int rc = fo_stack_add_server(s, FO_SERVER_WEB, bad_labels[i], NULL);
    cr_assert_eq(rc, FO_EBADNAME, "server name \"%s\": %s", bad_labels[i], fo_err_name(rc));
    rc = fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, bad_labels[i], NULL);
    cr_assert_eq(rc, FO_EBADNAME, "lb name \"%s\": %s", bad_labels[i], fo_err_name(rc));
  }
  FT_RC(fo_stack_add_server(s, FO_SERVER_WEB, rep('w', 64), NULL), FO_ENAMETOOLONG);
  size_t n = 9;
  FT_OK(fo_stack_server_count(s, FO_SERVER_WEB, &n));
  cr_assert_eq(n, 0);
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "Web1", NULL));
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_server_at(s, FO_SERVER_WEB, 0, &info));
  cr_assert_str_eq(info.name, "web1");
  cr_assert_str_eq(info.host_name, "web1.shop." FT_ZONE);
  FT_RC(fo_stack_find_server(s, "bad_name", &info), FO_EBADNAME);
  FT_RC(fo_stack_remove_server(s, "bad_name"), FO_EBADNAME);
  FT_RC(fo_stack_rename_server(s, "bad_name", "ok"), FO_EBADNAME);
  FT_RC(fo_stack_rename_server(s, "web1", "bad_name"), FO_EBADNAME);
  FT_RC(fo_stack_rename_server(s, "web1", rep('x', 64)), FO_ENAMETOOLONG);
  FT_RC(fo_stack_set_server_host_name(s, "bad_name", "h.example.com"), FO_EBADNAME);
  FT_RC(fo_stack_set_server_addresses(s, "bad_name", "192.0.2.1", NULL), FO_EBADNAME);
  FT_OK(fo_stack_find_server(s, "WEB1", &info));
  cr_assert_str_eq(info.name, "web1");
  fo_registry_free(reg);
}

Test(labels, duplicate_server_names_across_kinds) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 1); /* web1, lb1 */
  char *before = ft_snapshot(reg);
  FT_RC(fo_stack_add_server(s, FO_SERVER_WEB, "web1", NULL), FO_EEXIST);
  FT_RC(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "web1", NULL), FO_EEXIST);
  FT_RC(fo_stack_add_server(s, FO_SERVER_WEB, "LB1", NULL), FO_EEXIST);
  FT_RC(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "Lb1", "lb.example.com"), FO_EEXIST);
  FT_RC(fo_stack_rename_server(s, "web1", "LB1"), FO_EEXIST);
  FT_RC(fo_stack_rename_server(s, "lb1", "web1"), FO_EEXIST);
  FT_UNCHANGED(before, reg, "duplicate server names");
  free(before);
  /* the same name is fine in another stack */
  fo_stack *t = ft_stack(reg, "other", 1, 1);
  (void)t;
  /* renaming a server to its own name (other case) is no conflict */
  FT_OK(fo_stack_rename_server(s, "web1", "WEB1"));
  fo_registry_free(reg);
}

/* ---- explicit host names ----------------------------------------------- */

Test(host_names, explicit_valid) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 0, 0);
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "web1", "www.example.com"));
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "web2", "origin.example.org."));
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.host_name, "www.example.com");
  cr_assert_eq(info.host_name_explicit, 1);
  FT_OK(fo_stack_find_server(s, "web2", &info));
  cr_assert_str_eq(info.host_name, "origin.example.org",
                   "explicit host name kept its trailing dot: \"%s\"", info.host_name);
  char h[300];
  snprintf(h, sizeof h, "%s.example.com", rep('h', 63));
  FT_OK(fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, "lb1", h));
  fo_registry_free(reg);
}

Test(host_names, explicit_invalid) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  static const char *bad[] = {"",
                              ".",
                              "www..example.com",
                              ".www.example.com",
                              "-www.example.com",
                              "www-.example.com",
                              "www.exa mple.com",
                              "www.exa_mple.com",
                              "www.example.com..",
                              "www.ex@mple.com"};
  char *before = ft_snapshot(reg);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = fo_stack_add_server(s, FO_SERVER_WEB, "web2", bad[i]);
    cr_assert_eq(rc, FO_EBADNAME, "host name \"%s\": %s", bad[i], fo_err_name(rc));
    rc = fo_stack_set_server_host_name(s, "web1", bad[i]);
    cr_assert_eq(rc, FO_EBADNAME, "set host name \"%s\": %s", bad[i], fo_err_name(rc));
  }
  char h[400];
  snprintf(h, sizeof h, "%s.example.com", rep('h', 64));
  FT_RC(fo_stack_add_server(s, FO_SERVER_WEB, "web2", h), FO_ENAMETOOLONG);
  FT_RC(fo_stack_set_server_host_name(s, "web1", h), FO_ENAMETOOLONG);
  /* 254 characters of valid labels */
  char z[400];
  make_zone(z, 254);
  FT_RC(fo_stack_add_server(s, FO_SERVER_WEB, "web2", z), FO_ENAMETOOLONG);
  FT_RC(fo_stack_set_server_host_name(s, "web1", z), FO_ENAMETOOLONG);
  FT_UNCHANGED(before, reg, "refused host names");
  free(before);
  make_zone(z, 253);
  FT_OK(fo_stack_set_server_host_name(s, "web1", z));
  FT_RC(fo_stack_set_server_host_name(s, "nope", "x.example.com"), FO_ENOENT);
  fo_registry_free(reg);
}

Test(host_names, set_and_clear_explicit) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_set_server_host_name(s, "web1", "www.example.com"));
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.host_name, "www.example.com");
  cr_assert_eq(info.host_name_explicit, 1);
  FT_OK(fo_stack_set_server_host_name(s, "web1", NULL));
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.host_name, "web1.shop." FT_ZONE);
  cr_assert_eq(info.host_name_explicit, 0);
  fo_registry_free(reg);
}

/* ---- IP literals -------------------------------------------------------- */

Test(addresses, valid_literals_canonical) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_null(info.ipv4);
  cr_assert_null(info.ipv6);
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.1", "2001:DB8:0:0:0:0:0:1"));
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.ipv4, "192.0.2.1");
  cr_assert_str_eq(info.ipv6, "2001:db8::1");
  FT_OK(fo_stack_set_server_addresses(s, "web1", "0.0.0.0",
                                      "2001:0db8:0000:0000:0001:0000:0000:0001"));
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.ipv4, "0.0.0.0");
  cr_assert_str_eq(info.ipv6, "2001:db8::1:0:0:1");
  FT_OK(fo_stack_set_server_addresses(s, "web1", "255.255.255.255", "::"));
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.ipv4, "255.255.255.255");
  cr_assert_str_eq(info.ipv6, "::");
  /* only one family */
  FT_OK(fo_stack_set_server_addresses(s, "web1", NULL, "::1"));
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_null(info.ipv4);
  cr_assert_str_eq(info.ipv6, "::1");
  FT_OK(fo_stack_set_server_addresses(s, "web1", "10.0.0.1", NULL));
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.ipv4, "10.0.0.1");
  cr_assert_null(info.ipv6);
  FT_OK(fo_stack_set_server_addresses(s, "web1", NULL, NULL));
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_null(info.ipv4);
  cr_assert_null(info.ipv6);
  FT_RC(fo_stack_set_server_addresses(s, "nope", "10.0.0.1", NULL), FO_ENOENT);
  fo_registry_free(reg);
}

Test(addresses, invalid_literals_refused) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  FT_OK(fo_stack_set_server_addresses(s, "web1", "192.0.2.7", "2001:db8::7"));
  static const char *bad4[] = {"",        "256.0.0.1", "1.2.3",  "1.2.3.4.5", "a.b.c.d",
                               " 1.2.3.4", "1.2.3.4 ", "1..2.3", "1.2.3.-4",  "::1",
                               "2001:db8::1", "::ffff:1.2.3.4", "1.2.3.4/24", "localhost"};
  static const char *bad6[] = {"",          "2001:db8::1::2", "12345::", "g::1", ":::",
                               "1.2.3.4",   "192.0.2.1",      "2001:db8:1:2:3:4:5:6:7",
                               "2001:db8::1/64", " ::1",      "fe80::1%eth0x x"};
  char *before = ft_snapshot(reg);
  for (size_t i = 0; i < sizeof bad4 / sizeof bad4[0]; i++) {
    int rc = fo_stack_set_server_addresses(s, "web1", bad4[i], NULL);
    cr_assert_eq(rc, FO_EBADADDR, "ipv4 \"%s\": %s", bad4[i], fo_err_name(rc));
    /* a good IPv6 next to it is not stored either */
    rc = fo_stack_set_server_addresses(s, "web1", bad4[i], "2001:db8::99");
    cr_assert_eq(rc, FO_EBADADDR, "ipv4 \"%s\" + good ipv6: %s", bad4[i], fo_err_name(rc));
  }
  for (size_t i = 0; i < sizeof bad6 / sizeof bad6[0]; i++) {
    int rc = fo_stack_set_server_addresses(s, "web1", NULL, bad6[i]);
    cr_assert_eq(rc, FO_EBADADDR, "ipv6 \"%s\": %s", bad6[i], fo_err_name(rc));
    rc = fo_stack_set_server_addresses(s, "web1", "198.51.100.1", bad6[i]);
    cr_assert_eq(rc, FO_EBADADDR, "good ipv4 + ipv6 \"%s\": %s", bad6[i], fo_err_name(rc));
  }
  FT_UNCHANGED(before, reg, "refused addresses");
  free(before);
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.ipv4, "192.0.2.7");
  cr_assert_str_eq(info.ipv6, "2001:db8::7");
  fo_registry_free(reg);
}

/* ---- host-name templates ------------------------------------------------ */

static int registry_with_template(const char *tmpl, const char *zone, fo_registry **reg) {
  fo_registry_options o = ft_options(NULL, NULL);
  o.host_name_template = tmpl;
  if (zone)
    o.zone = zone;
  *reg = (fo_registry *)(uintptr_t)0x1;
  int rc = fo_registry_new(reg, &o);
  if (rc)
    cr_assert_null(*reg);
  return rc;
}

Test(templates, bad_templates_refused) {
  static const char *bad[] = {"",
                              "{server}.{stack}.{zone",
                              "{server.{stack}.{zone}",
                              "{server}.{bogus}.{zone}",
                              "{}.{zone}",
                              "{server}..{zone}",
                              ".{server}.{zone}",
                              "{server}_x.{zone}",
                              "{server} .{zone}",
                              "-{server}.{zone}",
                              "{server}-.{zone}",
                              "{server}.{stack}.{zone}}",
                              "{server}.exa$mple.com",
                              /* {server} and {stack} sharing a label could
                               * collide ("a-b" of "c" vs "a" of "b-c") */
                              "{server}-{stack}.{zone}",
                              "{stack}{server}.{zone}",
                              "x.{server}-y-{stack}.{zone}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fo_registry *reg = NULL;
    int rc = registry_with_template(bad[i], NULL, &reg);
    cr_assert_eq(rc, FO_EBADTEMPLATE, "template \"%s\": %s", bad[i], fo_err_name(rc));
  }
}

Test(templates, custom_template_forms_host_names) {
  fo_registry *reg = NULL;
  FT_OK(registry_with_template("{server}-www.hosts-{stack}.{zone}", NULL, &reg));
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.host_name, "web1-www.hosts-shop." FT_ZONE);
  cr_assert_eq(info.host_name_explicit, 0);
  fo_registry_free(reg);

  FT_OK(registry_with_template("{server}.{stack}.example.org", NULL, &reg));
  s = ft_stack(reg, "shop", 1, 0);
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.host_name, "web1.shop.example.org");
  fo_registry_free(reg);

  FT_OK(registry_with_template(FO_HOST_TEMPLATE_DEFAULT, NULL, &reg));
  s = ft_stack(reg, "shop", 1, 0);
  FT_OK(fo_stack_find_server(s, "web1", &info));
  cr_assert_str_eq(info.host_name, "web1.shop." FT_ZONE);
  fo_registry_free(reg);
}

Test(templates, templated_host_name_too_long) {
  /* A label formed from a placeholder and 41 literal characters. */
  fo_registry *reg = NULL;
  FT_OK(registry_with_template(
      "{server}-0123456789012345678901234567890123456789.{stack}.{zone}", NULL, &reg));
  char stack_name[64];
  snprintf(stack_name, sizeof stack_name, "%s", rep('s', 40));
  fo_stack *s = ft_stack(reg, stack_name, 0, 0);
  char *before = ft_snapshot(reg);
  FT_RC(fo_stack_add_server(s, FO_SERVER_WEB, rep('w', 30), NULL), FO_ENAMETOOLONG);
  FT_UNCHANGED(before, reg, "add_server with a too long templated host name");
  free(before);
  /* with an explicit host name the template is not used */
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, rep('w', 30), "www.example.com"));
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, rep('v', 22), NULL)); /* 22+41 = 63 */
  fo_registry_free(reg);
}

Test(templates, templated_host_name_over_253) {
  char zone[256];
  make_zone(zone, 200);
  fo_registry *reg = NULL;
  FT_OK(registry_with_template(NULL, zone, &reg));
  fo_stack *s = ft_stack(reg, rep('s', 40), 0, 0);
  /* web1. + 40 + . + 200 = 246: fits */
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, "web1", NULL));
  char *before = ft_snapshot(reg);
  /* 12 + 1 + 40 + 1 + 200 = 254 */
  FT_RC(fo_stack_add_server(s, FO_SERVER_WEB, rep('w', 12), NULL), FO_ENAMETOOLONG);
  /* a rename that would make web1's templated host name 5+50+1+200 = 256 */
  FT_RC(fo_stack_rename(s, rep('t', 50)), FO_ENAMETOOLONG);
  /* a server rename likewise */
  FT_RC(fo_stack_rename_server(s, "web1", rep('x', 20)), FO_ENAMETOOLONG);
  /* clearing an explicit host name back to the template is checked too */
  FT_UNCHANGED(before, reg, "too long templated host names");
  free(before);
  FT_OK(fo_stack_add_server(s, FO_SERVER_WEB, rep('w', 12), "www.example.com"));
  FT_RC(fo_stack_set_server_host_name(s, rep('w', 12), NULL), FO_ENAMETOOLONG);
  fo_server_info info = FO_SERVER_INFO_INIT;
  FT_OK(fo_stack_find_server(s, rep('w', 12), &info));
  cr_assert_str_eq(info.host_name, "www.example.com");
  fo_registry_free(reg);
}

/* ---- NULL arguments ------------------------------------------------------ */

Test(null_args, registry_functions) {
  fo_registry *reg = ft_registry(NULL, NULL);
  const char *z;
  uint32_t t;
  size_t n;
  fo_group *g;
  fo_stack *s;
  FT_RC(fo_registry_zone(NULL, &z), FO_EINVAL);
  FT_RC(fo_registry_zone(reg, NULL), FO_EINVAL);
  FT_RC(fo_registry_default_ttl(NULL, &t), FO_EINVAL);
  FT_RC(fo_registry_default_ttl(reg, NULL), FO_EINVAL);
  FT_RC(fo_registry_group_count(NULL, &n), FO_EINVAL);
  FT_RC(fo_registry_group_count(reg, NULL), FO_EINVAL);
  FT_RC(fo_registry_stack_count(NULL, &n), FO_EINVAL);
  FT_RC(fo_registry_stack_count(reg, NULL), FO_EINVAL);
  FT_RC(fo_registry_find_group(NULL, "123-456-789", &g), FO_EINVAL);
  FT_RC(fo_registry_find_group(reg, NULL, &g), FO_EINVAL);
  FT_RC(fo_registry_find_group(reg, "123-456-789", NULL), FO_EINVAL);
  FT_RC(fo_registry_find_stack(NULL, "shop", &s), FO_EINVAL);
  FT_RC(fo_registry_find_stack(reg, NULL, &s), FO_EINVAL);
  FT_RC(fo_registry_find_stack(reg, "shop", NULL), FO_EINVAL);
  cr_assert_null(fo_registry_next_group(NULL, NULL));
  cr_assert_null(fo_registry_next_stack(NULL, NULL));
  fo_registry_free(NULL); /* no-op */
  FT_RC(fo_registry_export_zone(NULL, NULL, NULL), FO_EINVAL);
  FT_RC(fo_registry_export_zone(reg, NULL, NULL), FO_EINVAL);
  FT_RC(fo_registry_subscribe(NULL, ft_events_cb, NULL, NULL), FO_EINVAL);
  FT_RC(fo_registry_subscribe(reg, NULL, NULL, NULL), FO_EINVAL);
  FT_RC(fo_registry_unsubscribe(NULL, 1), FO_EINVAL);
  fo_registry_free(reg);
}

Test(null_args, stack_functions) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  char *before = ft_snapshot(reg);
  fo_stack *o = NULL;
  const char *str;
  fo_registry *r;
  size_t n;
  fo_server_info info = FO_SERVER_INFO_INIT;
  fo_web_head_rule rule;
  FT_RC(fo_stack_new(NULL, reg, "x"), FO_EINVAL);
  FT_RC(fo_stack_new(&o, NULL, "x"), FO_EINVAL);
  FT_RC(fo_stack_new(&o, reg, NULL), FO_EINVAL);
  FT_RC(fo_stack_remove(NULL), FO_EINVAL);
  FT_RC(fo_stack_check_remove(NULL), FO_EINVAL);
  FT_RC(fo_stack_rename(NULL, "x"), FO_EINVAL);
  FT_RC(fo_stack_rename(s, NULL), FO_EINVAL);
  FT_RC(fo_stack_name(NULL, &str), FO_EINVAL);
  FT_RC(fo_stack_name(s, NULL), FO_EINVAL);
  FT_RC(fo_stack_registry(NULL, &r), FO_EINVAL);
  FT_RC(fo_stack_registry(s, NULL), FO_EINVAL);
  FT_RC(fo_stack_add_server(NULL, FO_SERVER_WEB, "x", NULL), FO_EINVAL);
  FT_RC(fo_stack_add_server(s, FO_SERVER_WEB, NULL, NULL), FO_EINVAL);
  FT_RC(fo_stack_remove_server(NULL, "web1"), FO_EINVAL);
  FT_RC(fo_stack_remove_server(s, NULL), FO_EINVAL);
  FT_RC(fo_stack_rename_server(NULL, "web1", "x"), FO_EINVAL);
  FT_RC(fo_stack_rename_server(s, NULL, "x"), FO_EINVAL);
  FT_RC(fo_stack_rename_server(s, "web1", NULL), FO_EINVAL);
  FT_RC(fo_stack_set_server_host_name(NULL, "web1", "h.example.com"), FO_EINVAL);
  FT_RC(fo_stack_set_server_host_name(s, NULL, "h.example.com"), FO_EINVAL);
  FT_RC(fo_stack_set_server_addresses(NULL, "web1", "192.0.2.1", NULL), FO_EINVAL);
  FT_RC(fo_stack_set_server_addresses(s, NULL, "192.0.2.1", NULL), FO_EINVAL);
  FT_RC(fo_stack_server_count(NULL, FO_SERVER_WEB, &n), FO_EINVAL);
  FT_RC(fo_stack_server_count(s, FO_SERVER_WEB, NULL), FO_EINVAL);
  FT_RC(fo_stack_server_at(NULL, FO_SERVER_WEB, 0, &info), FO_EINVAL);
  FT_RC(fo_stack_server_at(s, FO_SERVER_WEB, 0, NULL), FO_EINVAL);
  FT_RC(fo_stack_find_server(NULL, "web1", &info), FO_EINVAL);
  FT_RC(fo_stack_find_server(s, NULL, &info), FO_EINVAL);
  FT_RC(fo_stack_find_server(s, "web1", NULL), FO_EINVAL);
  FT_RC(fo_stack_web_head(NULL, &info, &rule), FO_EINVAL);
  FT_RC(fo_stack_web_head(s, NULL, &rule), FO_EINVAL);
  FT_RC(fo_stack_group_count(NULL, &n), FO_EINVAL);
  FT_RC(fo_stack_group_count(s, NULL), FO_EINVAL);
  FT_UNCHANGED(before, reg, "NULL arguments");
  free(before);
  fo_registry_free(reg);
}

Test(null_args, group_functions) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_group *g = ft_group(reg, s, NULL);
  char *before = ft_snapshot(reg);
  fo_group *o = NULL;
  fo_state st;
  char buf[FO_NAME_BUFSIZE];
  fo_stack *so;
  fo_slot sl;
  uint32_t t;
  fo_record_mode m;
  uint64_t gen;
  fo_registry *r;
  fo_target tg = FO_TARGET_INIT;
  fo_rrset set = FO_RRSET_INIT;
  fo_op op;
  size_t len;
  FT_RC(fo_op_init(NULL, FO_OP_VERSION, FO_OP_CREATE), FO_EINVAL);
  FT_RC(fo_op_check(NULL), FO_EINVAL);
  FT_RC(fo_op_apply(NULL, NULL), FO_EINVAL);
  FT_RC(fo_group_create(NULL, reg, NULL, NULL), FO_EINVAL);
  FT_RC(fo_group_create(&o, NULL, NULL, NULL), FO_EINVAL);
  FT_RC(fo_group_attach(NULL, FO_SLOT_BACKUP, s), FO_EINVAL);
  FT_RC(fo_group_attach(g, FO_SLOT_BACKUP, NULL), FO_EINVAL);
  FT_RC(fo_group_detach(NULL, FO_SLOT_PRIMARY, 0), FO_EINVAL);
  FT_RC(fo_group_switch(NULL, FO_SLOT_BACKUP, 0), FO_EINVAL);
  FT_RC(fo_group_settle(NULL), FO_EINVAL);
  FT_RC(fo_group_delete(NULL), FO_EINVAL);
  FT_RC(fo_group_set_ttl(NULL, 60), FO_EINVAL);
  FT_RC(fo_group_set_mode(NULL, FO_MODE_CNAME), FO_EINVAL);
  FT_RC(fo_group_state(NULL, &st), FO_EINVAL);
  FT_RC(fo_group_state(g, NULL), FO_EINVAL);
  FT_RC(fo_group_address(NULL, buf, sizeof buf), FO_EINVAL);
  FT_RC(fo_group_address(g, NULL, sizeof buf), FO_EINVAL);
  FT_RC(fo_group_stack(NULL, FO_SLOT_PRIMARY, &so), FO_EINVAL);
  FT_RC(fo_group_stack(g, FO_SLOT_PRIMARY, NULL), FO_EINVAL);
  FT_RC(fo_group_active_slot(NULL, &sl), FO_EINVAL);
  FT_RC(fo_group_active_slot(g, NULL), FO_EINVAL);
  FT_RC(fo_group_ttl(NULL, &t), FO_EINVAL);
  FT_RC(fo_group_ttl(g, NULL), FO_EINVAL);
  FT_RC(fo_group_mode(NULL, &m), FO_EINVAL);
  FT_RC(fo_group_mode(g, NULL), FO_EINVAL);
  FT_RC(fo_group_generation(NULL, &gen), FO_EINVAL);
  FT_RC(fo_group_generation(g, NULL), FO_EINVAL);
  FT_RC(fo_group_registry(NULL, &r), FO_EINVAL);
  FT_RC(fo_group_registry(g, NULL), FO_EINVAL);
  FT_RC(fo_group_target(NULL, &tg), FO_EINVAL);
  FT_RC(fo_group_target(g, NULL), FO_EINVAL);
  FT_RC(fo_group_records(NULL, &set), FO_EINVAL);
  FT_RC(fo_group_records(g, NULL), FO_EINVAL);
  FT_OK(fo_group_records(g, &set));
  FT_RC(fo_rrset_format(NULL, buf, sizeof buf, &len), FO_EINVAL);
  FT_RC(fo_rrset_format(&set, NULL, sizeof buf, &len), FO_EINVAL);
  /* ops with NULL handles */
  FT_OK(fo_op_init(&op, FO_OP_VERSION, FO_OP_CREATE));
  FT_RC(fo_op_check(&op), FO_EINVAL); /* no registry */
  FT_RC(fo_op_apply(&op, &o), FO_EINVAL);
  static const fo_op_kind group_kinds[] = {FO_OP_ATTACH, FO_OP_DETACH, FO_OP_SWITCH,
                                           FO_OP_SETTLE, FO_OP_DELETE};
  for (size_t i = 0; i < 5; i++) {
    FT_OK(fo_op_init(&op, FO_OP_VERSION, group_kinds[i]));
    op.stack = s;
    FT_RC(fo_op_check(&op), FO_EINVAL);
    FT_RC(fo_op_apply(&op, NULL), FO_EINVAL);
  }
  FT_OK(fo_op_init(&op, FO_OP_VERSION, FO_OP_ATTACH));
  op.group = g;
  op.slot = FO_SLOT_BACKUP;
  FT_RC(fo_op_check(&op), FO_EINVAL); /* no stack */
  FT_RC(fo_op_apply(&op, NULL), FO_EINVAL);
  FT_OK(fo_op_init(&op, FO_OP_VERSION, FO_OP_REMOVE_STACK));
  FT_RC(fo_op_check(&op), FO_EINVAL);
  FT_RC(fo_op_apply(&op, NULL), FO_EINVAL);
  FT_UNCHANGED(before, reg, "NULL arguments");
  free(before);
  fo_registry_free(reg);
}

/* ---- bad enum values ----------------------------------------------------- */

Test(bad_enums, refused_with_einval) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_stack *b = ft_stack(reg, "backup", 1, 0);
  fo_group *g = ft_group(reg, s, NULL);
  char *before = ft_snapshot(reg);
  size_t n;
  fo_server_info info = FO_SERVER_INFO_INIT;
  fo_stack *so;
  fo_op op;
  static const int bad_kinds[] = {0, 3, -1, 100};
  for (size_t i = 0; i < 4; i++) {
    fo_server_kind k = (fo_server_kind)bad_kinds[i];
    FT_RC(fo_stack_add_server(s, k, "x", NULL), FO_EINVAL);
    FT_RC(fo_stack_server_count(s, k, &n), FO_EINVAL);
    FT_RC(fo_stack_server_at(s, k, 0, &info), FO_EINVAL);
  }
  static const int bad_slots[] = {2, -1, 7};
  for (size_t i = 0; i < 3; i++) {
    fo_slot sl = (fo_slot)bad_slots[i];
    FT_RC(fo_group_attach(g, sl, b), FO_EINVAL);
    FT_RC(fo_group_detach(g, sl, 0), FO_EINVAL);
    FT_RC(fo_group_detach(g, sl, FO_FORCE), FO_EINVAL);
    FT_RC(fo_group_switch(g, sl, 0), FO_EINVAL);
    FT_RC(fo_group_switch(g, sl, FO_FORCE), FO_EINVAL);
    FT_RC(fo_group_stack(g, sl, &so), FO_EINVAL);
    FT_OK(fo_op_init(&op, FO_OP_VERSION, FO_OP_ATTACH));
    op.group = g;
    op.stack = b;
    op.slot = sl;
    FT_RC(fo_op_check(&op), FO_EINVAL);
    FT_RC(fo_op_apply(&op, NULL), FO_EINVAL);
  }
  FT_RC(fo_group_set_mode(g, (fo_record_mode)0), FO_EINVAL);
  FT_RC(fo_group_set_mode(g, (fo_record_mode)3), FO_EINVAL);
  FT_RC(fo_op_init(&op, FO_OP_VERSION, (fo_op_kind)0), FO_EINVAL);
  FT_RC(fo_op_init(&op, FO_OP_VERSION, (fo_op_kind)8), FO_EINVAL);
  memset(&op, 0, sizeof op);
  op.version = FO_OP_VERSION;
  op.kind = (fo_op_kind)99;
  op.group = g;
  op.registry = reg;
  FT_RC(fo_op_check(&op), FO_EINVAL);
  FT_RC(fo_op_apply(&op, NULL), FO_EINVAL);
  FT_UNCHANGED(before, reg, "bad enum values");
  free(before);
  fo_registry_free(reg);
}

/* "flags: 0 or FO_FORCE": unknown flag bits are taken as invalid arguments
 * (the header documents only those two values). */
Test(bad_enums, unknown_flag_bits) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  fo_stack *b = ft_stack(reg, "backup", 1, 0);
  fo_group *g = ft_group(reg, s, b);
  char *before = ft_snapshot(reg);
  FT_RC(fo_group_switch(g, FO_SLOT_BACKUP, 2u), FO_EINVAL);
  FT_RC(fo_group_detach(g, FO_SLOT_BACKUP, 0x80u), FO_EINVAL);
  FT_UNCHANGED(before, reg, "unknown flags");
  free(before);
  fo_registry_free(reg);
}
