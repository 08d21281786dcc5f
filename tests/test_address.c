/*
 * test_address.c - group addresses: format, uniqueness, no reuse, lookup,
 * exhaustion, random-source failure, iteration.
 */
#include <criterion/criterion.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "testing.h"

static void upper(char *s) {
  for (; *s; s++)
    *s = (char)toupper((unsigned char)*s);
}

Test(address, format) {
  ft_rng rng;
  ft_rng_init(&rng, 1);
  fo_registry *reg = ft_registry(&rng, NULL);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  for (int i = 0; i < 200; i++) {
    fo_group *g = ft_group(reg, i % 2 ? s : NULL, NULL);
    char a[FO_NAME_BUFSIZE];
    ft_address(g, a);
    cr_assert(ft_is_address(a, FT_ZONE), "\"%s\" is not DDD-DDD-DDD." FT_ZONE, a);
    cr_assert_eq(strlen(a), FO_ADDRESS_LABEL_LEN + 1 + strlen(FT_ZONE));
  }
  fo_registry_free(reg);
  ft_rng_free(&rng);
}

Test(address, format_with_kernel_random) {
  fo_registry *reg = ft_registry(NULL, NULL);
  ft_strset seen = {0};
  for (int i = 0; i < 2000; i++) {
    fo_group *g = ft_group(reg, NULL, NULL);
    char a[FO_NAME_BUFSIZE];
    ft_address(g, a);
    cr_assert(ft_is_address(a, FT_ZONE), "\"%s\"", a);
    cr_assert(ft_strset_add(&seen, a), "address %s handed out twice", a);
  }
  ft_strset_free(&seen);
  fo_registry_free(reg);
}

Test(address, address_buffer_size) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_group *g = ft_group(reg, NULL, NULL);
  char a[FO_NAME_BUFSIZE];
  ft_address(g, a);
  size_t len = strlen(a);
  char small[FO_NAME_BUFSIZE];
  memset(small, '#', sizeof small);
  FT_RC(fo_group_address(g, small, len), FO_ENOSPC);
  for (size_t i = 0; i < sizeof small; i++)
    cr_assert_eq(small[i], '#', "fo_group_address wrote byte %zu on FO_ENOSPC", i);
  FT_RC(fo_group_address(g, small, 0), FO_ENOSPC);
  FT_RC(fo_group_address(g, small, 1), FO_ENOSPC);
  FT_OK(fo_group_address(g, small, len + 1));
  cr_assert_str_eq(small, a);
  fo_registry_free(reg);
}

Test(address, unique_over_20000_groups) {
  ft_rng rng;
  ft_rng_init(&rng, 20000);
  fo_registry *reg = ft_registry(&rng, NULL);
  ft_strset seen = {0};
  fo_group **gs = calloc(20000, sizeof *gs);
  for (int i = 0; i < 20000; i++) {
    gs[i] = ft_group(reg, NULL, NULL);
    char a[FO_NAME_BUFSIZE];
    ft_address(gs[i], a);
    cr_assert(ft_is_address(a, FT_ZONE), "\"%s\"", a);
    cr_assert(ft_strset_add(&seen, a), "address %s handed out twice (group %d)", a, i);
    /* delete every third one: tombstones must be skipped as well */
    if (i % 3 == 0)
      FT_OK(fo_group_delete(gs[i]));
  }
  size_t n = 0;
  FT_OK(fo_registry_group_count(reg, &n));
  cr_assert_eq(n, 20000 - 6667);
  /* every address still finds its group (or its tombstone) */
  for (int i = 0; i < 20000; i += 97) {
    char a[FO_NAME_BUFSIZE];
    ft_address(gs[i], a);
    fo_group *f = (fo_group *)(uintptr_t)0x1;
    int rc = fo_registry_find_group(reg, a, &f);
    if (i % 3 == 0) {
      cr_assert_eq(rc, FO_EDELETED, "%s: %s", a, fo_err_name(rc));
      cr_assert_null(f);
    } else {
      cr_assert_eq(rc, 0, "%s: %s", a, fo_err_name(rc));
      cr_assert_eq(f, gs[i]);
    }
  }
  free(gs);
  ft_strset_free(&seen);
  fo_registry_free(reg);
  ft_rng_free(&rng);
}

/* The random source hands the library the very bytes that produced a deleted
 * group's address: the library must not give that address out again. */
Test(address, no_reuse_after_delete) {
  ft_rng rng;
  ft_rng_init(&rng, 77);
  fo_registry *reg = ft_registry(&rng, NULL);
  for (int i = 0; i < 5; i++)
    ft_group(reg, NULL, NULL);
  size_t from = rng.produced;
  fo_group *a = ft_group(reg, NULL, NULL);
  size_t to = rng.produced;
  cr_assert_gt(to, from, "creating a group drew no random bytes");
  char aa[FO_NAME_BUFSIZE];
  ft_address(a, aa);
  FT_OK(fo_group_delete(a));

  for (int round = 0; round < 3; round++) {
    ft_rng_replay(&rng, from, to);
    size_t start = rng.produced;
    fo_group *b = ft_group(reg, NULL, NULL);
    char bb[FO_NAME_BUFSIZE];
    ft_address(b, bb);
    cr_assert_str_neq(bb, aa, "deleted group's address %s was handed out again", aa);
    cr_assert(ft_is_address(bb, FT_ZONE));
    if (rng.produced - start <= to - from)
      cr_log_warn("replaying the bytes of %s did not make the library draw again: "
                  "the address is not a plain function of the random bytes", aa);
  }
  fo_group *f = (fo_group *)(uintptr_t)0x1;
  FT_RC(fo_registry_find_group(reg, aa, &f), FO_EDELETED);
  cr_assert_null(f);
  /* the deleted handle still tells its address */
  char again[FO_NAME_BUFSIZE];
  cr_assert_str_eq(ft_address(a, again), aa);
  fo_registry_free(reg);
  ft_rng_free(&rng);
}

/* Same with a live group: replaying its bytes must not produce a duplicate. */
Test(address, no_duplicate_of_live_group) {
  ft_rng rng;
  ft_rng_init(&rng, 78);
  fo_registry *reg = ft_registry(&rng, NULL);
  size_t from = rng.produced;
  fo_group *a = ft_group(reg, NULL, NULL);
  size_t to = rng.produced;
  char aa[FO_NAME_BUFSIZE];
  ft_address(a, aa);
  ft_rng_replay(&rng, from, to);
  fo_group *b = ft_group(reg, NULL, NULL);
  char bb[FO_NAME_BUFSIZE];
  ft_address(b, bb);
  cr_assert_str_neq(aa, bb);
  fo_group *f = NULL;
  FT_OK(fo_registry_find_group(reg, aa, &f));
  cr_assert_eq(f, a);
  FT_OK(fo_registry_find_group(reg, bb, &f));
  cr_assert_eq(f, b);
  fo_registry_free(reg);
  ft_rng_free(&rng);
}

Test(lookup, find_group_forms) {
  ft_rng rng;
  ft_rng_init(&rng, 5);
  fo_registry *reg = ft_registry(&rng, NULL);
  ft_group(reg, NULL, NULL);
  fo_group *g = ft_group(reg, NULL, NULL);
  ft_group(reg, NULL, NULL);
  char a[FO_NAME_BUFSIZE];
  ft_address(g, a);
  char form[FO_NAME_BUFSIZE + 8];
  fo_group *f = NULL;

  FT_OK(fo_registry_find_group(reg, a, &f));
  cr_assert_eq(f, g);

  f = NULL;
  snprintf(form, sizeof form, "%s.", a);
  FT_OK(fo_registry_find_group(reg, form, &f));
  cr_assert_eq(f, g, "trailing dot");

  f = NULL;
  snprintf(form, sizeof form, "%s", a);
  upper(form);
  FT_OK(fo_registry_find_group(reg, form, &f));
  cr_assert_eq(f, g, "upper case");

  f = NULL;
  snprintf(form, sizeof form, "%s.", a);
  upper(form);
  FT_OK(fo_registry_find_group(reg, form, &f));
  cr_assert_eq(f, g, "upper case with trailing dot");

  f = NULL;
  snprintf(form, sizeof form, "%.*s", FO_ADDRESS_LABEL_LEN, a);
  FT_OK(fo_registry_find_group(reg, form, &f));
  cr_assert_eq(f, g, "bare label");

  fo_registry_free(reg);
  ft_rng_free(&rng);
}

Test(lookup, find_group_enoent) {
  ft_rng rng;
  ft_rng_init(&rng, 6);
  fo_registry *reg = ft_registry(&rng, NULL);
  ft_strset used = {0};
  for (int i = 0; i < 10; i++) {
    char a[FO_NAME_BUFSIZE];
    ft_address(ft_group(reg, NULL, NULL), a);
    ft_strset_add(&used, a);
  }
  static const char *candidates[] = {"000-000-000", "999-999-999", "123-456-789",
                                     "500-000-001"};
  int tested = 0;
  for (size_t i = 0; i < 4; i++) {
    char full[FO_NAME_BUFSIZE];
    snprintf(full, sizeof full, "%s.%s", candidates[i], FT_ZONE);
    if (ft_strset_has(&used, full))
      continue;
    fo_group *f = (fo_group *)(uintptr_t)0x1;
    FT_RC(fo_registry_find_group(reg, full, &f), FO_ENOENT);
    FT_RC(fo_registry_find_group(reg, candidates[i], &f), FO_ENOENT);
    tested++;
  }
  cr_assert_gt(tested, 0);
  ft_strset_free(&used);
  fo_registry_free(reg);
  ft_rng_free(&rng);
}

Test(lookup, find_group_bad_names) {
  fo_registry *reg = ft_registry(NULL, NULL);
  ft_group(reg, NULL, NULL);
  static const char *bad[] = {"",
                              "hello",
                              "12-345-678",
                              "1234-567-890",
                              "123-456-7890",
                              "123-456-78",
                              "123-456-78a",
                              "123_456_789",
                              "123456789",
                              "123-456-789-",
                              "-123-456-789",
                              "123-456-789..",
                              "123--456-789",
                              " 123-456-789",
                              "123-456-789 ",
                              "shop"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    fo_group *f = (fo_group *)(uintptr_t)0x1;
    int rc = fo_registry_find_group(reg, bad[i], &f);
    cr_assert_eq(rc, FO_EBADNAME, "find_group(\"%s\"): %s", bad[i], fo_err_name(rc));
  }
  fo_registry_free(reg);
}

/* The bare label with a trailing dot is the documented short form. */
Test(lookup, find_group_bare_label_trailing_dot) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_group *g = ft_group(reg, NULL, NULL);
  char a[FO_NAME_BUFSIZE], form[FO_NAME_BUFSIZE];
  snprintf(form, sizeof form, "%.*s.", FO_ADDRESS_LABEL_LEN, ft_address(g, a));
  fo_group *f = NULL;
  FT_OK(fo_registry_find_group(reg, form, &f));
  cr_assert_eq(f, g);
  FT_RC(fo_registry_find_group(reg, "123-456-789.", &f), FO_ENOENT);
  fo_registry_free(reg);
}

/* A random source whose every value is thrown away by the rejection
 * sampling (all 0xFF bytes) must not hang create: rejected draws count
 * toward the fallback. */
static int all_ff(void *buf, size_t len, void *userdata) {
  (void)userdata;
  memset(buf, 0xFF, len);
  return 0;
}

Test(address, source_rejected_forever_still_creates, .timeout = 10) {
  fo_registry_options o = ft_options(NULL, NULL);
  o.random = all_ff;
  fo_registry *reg = NULL;
  FT_OK(fo_registry_new(&reg, &o));
  ft_strset seen = {0};
  for (int i = 0; i < 50; i++) {
    fo_group *g = ft_group(reg, NULL, NULL);
    char a[FO_NAME_BUFSIZE];
    cr_assert(ft_strset_add(&seen, ft_address(g, a)), "%s twice", a);
  }
  ft_strset_free(&seen);
  fo_registry_free(reg);
}

/* "<label>.<zone>.." has an empty last label: malformed, not merely unknown. */
Test(lookup, find_group_double_trailing_dot) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_group *g = ft_group(reg, NULL, NULL);
  char a[FO_NAME_BUFSIZE], bad[FO_NAME_BUFSIZE + 4];
  snprintf(bad, sizeof bad, "%s..", ft_address(g, a));
  fo_group *f = (fo_group *)(uintptr_t)0x1;
  FT_RC(fo_registry_find_group(reg, bad, &f), FO_EBADNAME);
  FT_RC(fo_registry_find_group(reg, "123-456-789." FT_ZONE "..", &f), FO_EBADNAME);
  fo_registry_free(reg);
}

/* An address under another zone: the header allows reading it as "never
 * allocated here" (FO_ENOENT) or "not an address of this registry's form"
 * (FO_EBADNAME); either is accepted, but it must never find a group. */
Test(lookup, find_group_other_zone) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_group *g = ft_group(reg, NULL, NULL);
  char a[FO_NAME_BUFSIZE], other[FO_NAME_BUFSIZE + 16];
  ft_address(g, a);
  static const char *zones[] = {"other.example", ("x." FT_ZONE), "example.net"};
  for (int i = 0; i < 3; i++) {
    snprintf(other, sizeof other, "%.*s.%s", FO_ADDRESS_LABEL_LEN, a, zones[i]);
    fo_group *f = (fo_group *)(uintptr_t)0x1;
    int rc = fo_registry_find_group(reg, other, &f);
    cr_assert(rc == FO_ENOENT || rc == FO_EBADNAME, "find_group(\"%s\"): %s", other,
              fo_err_name(rc));
    cr_assert_null(f);
  }
  fo_registry_free(reg);
}

/* ---- exhaustion ------------------------------------------------------------ */

Test(exhaustion, address_space_of_10) {
  ft_rng rng;
  ft_rng_init(&rng, 10);
  ft_alloc al;
  ft_alloc_init(&al);
  fo_registry *reg = ft_registry(&rng, &al);
  FT_OK(fo__registry_set_address_space(reg, 10));
  ft_strset seen = {0};
  fo_group *gs[10];
  for (int i = 0; i < 10; i++) {
    gs[i] = ft_group(reg, NULL, NULL);
    char a[FO_NAME_BUFSIZE];
    ft_address(gs[i], a);
    cr_assert(ft_is_address(a, FT_ZONE), "\"%s\"", a);
    cr_assert(ft_strset_add(&seen, a), "%s handed out twice", a);
  }
  char *before = ft_snapshot(reg);
  size_t live = al.live;
  fo_group *g = (fo_group *)(uintptr_t)0x1;
  FT_RC(fo_group_create(&g, reg, NULL, NULL), FO_EEXHAUSTED);
  cr_assert_null(g);
  fo_op op;
  FT_OK(fo_op_init(&op, FO_OP_VERSION, FO_OP_CREATE));
  op.registry = reg;
  FT_RC(fo_op_check(&op), FO_EEXHAUSTED);
  FT_UNCHANGED(before, reg, "create in an exhausted address space");
  cr_assert_eq(al.live, live, "a refused create left %zu blocks allocated", al.live - live);
  free(before);
  /* tombstones count: deleting does not free an address */
  FT_OK(fo_group_delete(gs[3]));
  FT_OK(fo_group_delete(gs[7]));
  before = ft_snapshot(reg);
  g = (fo_group *)(uintptr_t)0x1;
  FT_RC(fo_group_create(&g, reg, NULL, NULL), FO_EEXHAUSTED);
  cr_assert_null(g);
  FT_RC(fo_op_check(&op), FO_EEXHAUSTED);
  FT_RC(fo_op_apply(&op, &g), FO_EEXHAUSTED);
  FT_UNCHANGED(before, reg, "create after deletes in an exhausted address space");
  free(before);
  /* every deleted address answers as a tombstone */
  char a[FO_NAME_BUFSIZE];
  FT_RC(fo_registry_find_group(reg, ft_address(gs[3], a), &g), FO_EDELETED);
  fo_registry_free(reg);
  cr_assert_eq(al.live, 0);
  ft_strset_free(&seen);
  ft_rng_free(&rng);
}

Test(exhaustion, address_space_of_1) {
  fo_registry *reg = ft_registry(NULL, NULL);
  FT_OK(fo__registry_set_address_space(reg, 1));
  fo_group *g = ft_group(reg, NULL, NULL);
  fo_group *h = NULL;
  FT_RC(fo_group_create(&h, reg, NULL, NULL), FO_EEXHAUSTED);
  FT_OK(fo_group_delete(g));
  FT_RC(fo_group_create(&h, reg, NULL, NULL), FO_EEXHAUSTED);
  fo_registry_free(reg);
}

Test(exhaustion, set_address_space_arguments) {
  fo_registry *reg = ft_registry(NULL, NULL);
  FT_RC(fo__registry_set_address_space(NULL, 10), FO_EINVAL);
  FT_RC(fo__registry_set_address_space(reg, 0), FO_ERANGE);
  FT_RC(fo__registry_set_address_space(reg, 1000000001u), FO_ERANGE);
  FT_OK(fo__registry_set_address_space(reg, 1000000000u));
  ft_group(reg, NULL, NULL);
  FT_RC(fo__registry_set_address_space(reg, 10), FO_EINVAL);
  fo_registry_free(reg);
}

/* ---- random source failure -------------------------------------------------- */

Test(random_source, failure_allocates_nothing) {
  ft_rng rng;
  ft_rng_init(&rng, 3);
  ft_alloc al;
  ft_alloc_init(&al);
  fo_registry *reg = ft_registry(&rng, &al);
  fo_stack *s = ft_stack(reg, "shop", 1, 0);
  ft_group(reg, s, NULL);
  ft_events ev = {0};
  FT_OK(fo_registry_subscribe(reg, ft_events_cb, &ev, NULL));
  char *before = ft_snapshot(reg);
  size_t live = al.live, bytes = al.live_bytes;
  rng.fail = 1;
  unsigned long calls = rng.calls;
  fo_group *g = (fo_group *)(uintptr_t)0x1;
  FT_RC(fo_group_create(&g, reg, s, NULL), FO_ERANDOM);
  cr_assert_null(g);
  cr_assert_gt(rng.calls, calls, "the random source was not asked");
  fo_op op;
  FT_OK(fo_op_init(&op, FO_OP_VERSION, FO_OP_CREATE));
  op.registry = reg;
  FT_RC(fo_op_apply(&op, &g), FO_ERANDOM);
  cr_assert_eq(al.live, live, "FO_ERANDOM left %zu blocks allocated", al.live - live);
  cr_assert_eq(al.live_bytes, bytes);
  FT_UNCHANGED(before, reg, "create with a failing random source");
  cr_assert_eq(ev.n, 0, "an event was sent for a refused create");
  size_t n = 0;
  FT_OK(fo_registry_group_count(reg, &n));
  cr_assert_eq(n, 1);
  free(before);
  rng.fail = 0;
  ft_group(reg, NULL, s);
  fo_registry_free(reg);
  cr_assert_eq(al.live, 0);
  ft_events_free(&ev);
  ft_rng_free(&rng);
}

/* ---- iteration ---------------------------------------------------------------- */

Test(iteration, creation_order_skipping_deleted) {
  fo_registry *reg = ft_registry(NULL, NULL);
  cr_assert_null(fo_registry_next_group(reg, NULL));
  fo_group *g[8];
  for (int i = 0; i < 8; i++)
    g[i] = ft_group(reg, NULL, NULL);
  FT_OK(fo_group_delete(g[0]));
  FT_OK(fo_group_delete(g[4]));
  FT_OK(fo_group_delete(g[7]));
  fo_group *expect[] = {g[1], g[2], g[3], g[5], g[6]};
  size_t i = 0;
  for (fo_group *it = fo_registry_next_group(reg, NULL); it;
       it = fo_registry_next_group(reg, it)) {
    cr_assert_lt(i, 5, "iteration visits more than the live groups");
    cr_assert_eq(it, expect[i], "group #%zu out of order", i);
    i++;
  }
  cr_assert_eq(i, 5);
  fo_registry_free(reg);
}

Test(iteration, delete_current_and_create_while_iterating) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_group *g[6];
  for (int i = 0; i < 6; i++)
    g[i] = ft_group(reg, NULL, NULL);
  fo_group *created[2] = {NULL, NULL};
  size_t i = 0, n_created = 0;
  for (fo_group *it = fo_registry_next_group(reg, NULL); it;
       it = fo_registry_next_group(reg, it)) {
    cr_assert_lt(i, 8, "iteration does not end");
    if (i < 6) {
      cr_assert_eq(it, g[i], "group #%zu out of order", i);
    } else {
      cr_assert_eq(it, created[i - 6], "group created meanwhile #%zu", i - 6);
    }
    if (i % 2 == 0)
      FT_OK(fo_group_delete(it)); /* delete the current one */
    if (i == 2 || i == 3)
      created[n_created++] = ft_group(reg, NULL, NULL);
    i++;
  }
  cr_assert_eq(i, 8, "visited %zu groups, expected 6 + 2 created meanwhile", i);
  size_t n = 0;
  FT_OK(fo_registry_group_count(reg, &n));
  cr_assert_eq(n, 4);
  fo_registry_free(reg);
}
