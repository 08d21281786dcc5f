/*
 * test_layout.c - structs that grow: every struct a caller allocates
 * carries its version, the library reads and writes only that version's
 * bytes, and an unknown version is refused with FO_EVERSION and nothing
 * written. The sizes below are version 1's, spelled out here on purpose:
 * if a later version grows a struct, these tests go on checking that a
 * version-1 caller's smaller struct is never touched past its end.
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <failover.h>
#include <failover/verify.h>

#include "layout.h"
#include "support.h"

#define END_OF(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))
#define CANARY 0xA5

/* A caller's struct of `size` bytes inside a buffer of canaries. */
typedef struct {
  unsigned char bytes[4096]; /* the largest struct checked is ~1 KiB */
} arena;

static void *arena_struct(arena *a, unsigned int version) {
  memset(a->bytes, CANARY, sizeof a->bytes);
  memcpy(a->bytes, &version, sizeof version);
  return a->bytes;
}

/* Nothing at or after `size` was written. */
static void expect_untouched_from(const arena *a, size_t size, const char *what) {
  cr_assert_lt(size + 64, sizeof a->bytes, "the arena is too small for %s", what);
  for (size_t i = size; i < sizeof a->bytes; i++)
    cr_assert_eq(a->bytes[i], CANARY, "%s wrote byte %zu, past version 1's %zu bytes",
                 what, i, size);
}

/* Nothing at all changed (a refused call). */
static void expect_untouched(const arena *a, unsigned int version, const char *what) {
  unsigned int v;
  memcpy(&v, a->bytes, sizeof v);
  cr_assert_eq(v, version, "%s changed the version field", what);
  expect_untouched_from(a, sizeof v, what);
}

/* ---- the mechanism, with a struct that has grown once ------------------ */

typedef struct demo {
  unsigned int version;
  int a;    /* version 1 ends here */
  double b; /* added by version 2 */
} demo;

static const size_t demo_sizes[] = {END_OF(demo, a), END_OF(demo, b)};
static const fo__layout demo_layout = FO__LAYOUT(demo_sizes);

Test(layout, fill_writes_only_the_callers_version) {
  demo full = {2, 7, 2.5};
  arena ar;
  demo *v1 = arena_struct(&ar, 1);
  FT_OK(fo__layout_fill(&demo_layout, v1, &full));
  cr_assert_eq(v1->version, 1, "the caller's version is kept");
  cr_assert_eq(v1->a, 7);
  expect_untouched_from(&ar, END_OF(demo, a), "fill of a version-1 demo");

  demo *v2 = arena_struct(&ar, 2);
  FT_OK(fo__layout_fill(&demo_layout, v2, &full));
  cr_assert_eq(v2->a, 7);
  cr_assert_eq(v2->b, 2.5);

  demo *v3 = arena_struct(&ar, 3);
  FT_RC(fo__layout_fill(&demo_layout, v3, &full), FO_EVERSION);
  expect_untouched(&ar, 3, "fill of an unknown version");
  demo *v0 = arena_struct(&ar, 0);
  FT_RC(fo__layout_fill(&demo_layout, v0, &full), FO_EVERSION);
  FT_RC(fo__layout_fill(&demo_layout, NULL, &full), FO_EINVAL);
}

Test(layout, read_zeroes_what_an_older_version_lacks) {
  demo v1 = {1, 9, 0};
  demo full;
  memset(&full, 0x5a, sizeof full);
  FT_OK(fo__layout_read(&demo_layout, &full, sizeof full, &v1));
  cr_assert_eq(full.version, 1);
  cr_assert_eq(full.a, 9);
  cr_assert_eq(full.b, 0.0, "a field version 1 lacks reads as zero");
  demo bad = {7, 1, 1};
  FT_RC(fo__layout_read(&demo_layout, &full, sizeof full, &bad), FO_EVERSION);
  FT_RC(fo__layout_read(&demo_layout, &full, sizeof full, NULL), FO_EINVAL);
}

Test(layout, init_zeroes_only_that_versions_size) {
  arena ar;
  demo *d = arena_struct(&ar, 0);
  FT_OK(fo__layout_init(&demo_layout, d, 1));
  cr_assert_eq(d->version, 1);
  cr_assert_eq(d->a, 0);
  expect_untouched_from(&ar, END_OF(demo, a), "init of version 1");
  arena_struct(&ar, 0);
  FT_RC(fo__layout_init(&demo_layout, ar.bytes, 3), FO_EVERSION);
  FT_RC(fo__layout_init(&demo_layout, ar.bytes, 0), FO_EVERSION);
  FT_RC(fo__layout_init(&demo_layout, NULL, 1), FO_EINVAL);
}

/* ---- every public struct the caller allocates -------------------------- */

Test(layout, options_init_never_writes_past_version_1) {
  arena ar;
  FT_OK(fo_registry_options_init(arena_struct(&ar, 0), 1));
  expect_untouched_from(&ar, END_OF(fo_registry_options, allocator),
                        "fo_registry_options_init");
  FT_OK(fo_verifier_options_init(arena_struct(&ar, 0), 1));
  expect_untouched_from(&ar, END_OF(fo_verifier_options, allocator),
                        "fo_verifier_options_init");
  FT_OK(fo_op_init(arena_struct(&ar, 0), 1, FO_OP_SETTLE));
  expect_untouched_from(&ar, END_OF(fo_op, flags), "fo_op_init");
  FT_RC(fo_op_init(arena_struct(&ar, 0), 2, FO_OP_SETTLE), FO_EVERSION);
  expect_untouched(&ar, 0, "fo_op_init of an unknown version");
  FT_RC(fo_op_init(arena_struct(&ar, 0), 1, (fo_op_kind)99), FO_EINVAL);
  expect_untouched(&ar, 0, "fo_op_init of an unknown kind");
}

typedef struct {
  fo_registry *reg;
  fo_stack *shop;
  fo_group *g;
} model;

static model make_model(void) {
  model m;
  m.reg = ft_registry(NULL, NULL);
  m.shop = ft_stack(m.reg, "shop", 1, 1);
  FT_OK(fo_stack_set_server_addresses(m.shop, "lb1", "192.0.2.1", "2001:db8::1"));
  FT_OK(fo_group_create(&m.g, m.reg, m.shop, NULL));
  return m;
}

Test(layout, model_fills_only_version_1) {
  model m = make_model();
  char *before = ft_snapshot(m.reg);
  arena ar;

  fo_target *t = arena_struct(&ar, FO_TARGET_VERSION);
  FT_OK(fo_group_target(m.g, t));
  cr_assert_eq(t->none, FO_NONE_NOT);
  cr_assert_str_eq(t->host_name, "lb1.shop." FT_ZONE);
  expect_untouched_from(&ar, END_OF(fo_target, ipv6), "fo_group_target");

  fo_rrset *set = arena_struct(&ar, FO_RRSET_VERSION);
  FT_OK(fo_group_records(m.g, set));
  cr_assert_eq(set->count, 1);
  expect_untouched_from(&ar, END_OF(fo_rrset, records), "fo_group_records");

  fo_server_info *info = arena_struct(&ar, FO_SERVER_INFO_VERSION);
  FT_OK(fo_stack_server_at(m.shop, FO_SERVER_WEB, 0, info));
  cr_assert_str_eq(info->name, "web1");
  expect_untouched_from(&ar, END_OF(fo_server_info, ipv6), "fo_stack_server_at");
  info = arena_struct(&ar, FO_SERVER_INFO_VERSION);
  FT_OK(fo_stack_find_server(m.shop, "lb1", info));
  cr_assert_str_eq(info->ipv4, "192.0.2.1");
  expect_untouched_from(&ar, END_OF(fo_server_info, ipv6), "fo_stack_find_server");
  fo_web_head_rule rule = 0;
  info = arena_struct(&ar, FO_SERVER_INFO_VERSION);
  FT_OK(fo_stack_web_head(m.shop, info, &rule));
  cr_assert_eq(rule, FO_WEB_HEAD_FIRST_LOAD_BALANCER);
  cr_assert_str_eq(info->name, "lb1");
  expect_untouched_from(&ar, END_OF(fo_server_info, ipv6), "fo_stack_web_head");
  FT_OK(fo_stack_web_head(m.shop, info, NULL)); /* the rule is optional */

  FT_UNCHANGED(before, m.reg, "reading the model");
  free(before);
  fo_registry_free(m.reg);
}

Test(layout, unknown_versions_are_refused_and_nothing_written) {
  model m = make_model();
  char *before = ft_snapshot(m.reg);
  static const unsigned int bad[] = {0, 2, 0xA5A5A5A5u};
  arena ar;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    unsigned int v = bad[i];
    FT_RC(fo_group_target(m.g, arena_struct(&ar, v)), FO_EVERSION);
    expect_untouched(&ar, v, "fo_group_target");
    FT_RC(fo_group_records(m.g, arena_struct(&ar, v)), FO_EVERSION);
    expect_untouched(&ar, v, "fo_group_records");
    FT_RC(fo_stack_server_at(m.shop, FO_SERVER_WEB, 0, arena_struct(&ar, v)),
          FO_EVERSION);
    expect_untouched(&ar, v, "fo_stack_server_at");
    FT_RC(fo_stack_find_server(m.shop, "web1", arena_struct(&ar, v)), FO_EVERSION);
    expect_untouched(&ar, v, "fo_stack_find_server");
    fo_web_head_rule rule = (fo_web_head_rule)77;
    FT_RC(fo_stack_web_head(m.shop, arena_struct(&ar, v), &rule), FO_EVERSION);
    expect_untouched(&ar, v, "fo_stack_web_head");
    cr_assert_eq((int)rule, 77, "a refused call wrote the rule");

    /* Structs the library reads. */
    fo_rrset set = FO_RRSET_INIT;
    set.version = v;
    char buf[64] = "untouched";
    FT_RC(fo_rrset_format(&set, buf, sizeof buf, NULL), FO_EVERSION);
    cr_assert_str_eq(buf, "untouched");
    fo_op op = FO_OP_INIT(FO_OP_SETTLE);
    op.group = m.g;
    op.version = v;
    FT_RC(fo_op_check(&op), FO_EVERSION);
    FT_RC(fo_op_apply(&op, NULL), FO_EVERSION);
    fo_registry_options ro = FO_REGISTRY_OPTIONS_INIT;
    fo_registry *r2 = (fo_registry *)&ro;
    ro.zone = "x.example.net";
    ro.version = v;
    FT_RC(fo_registry_new(&r2, &ro), FO_EVERSION);
    cr_assert_null(r2);
  }
  FT_UNCHANGED(before, m.reg, "calls refused for their version");
  free(before);
  fo_registry_free(m.reg);
}

Test(layout, op_init_macro_is_version_1) {
  model m = make_model();
  fo_op op = FO_OP_INIT(FO_OP_DETACH);
  cr_assert_eq(op.version, FO_OP_VERSION);
  op.group = m.g;
  op.slot = FO_SLOT_PRIMARY;
  /* The only stack of the group may be detached: the op is read whole. */
  FT_OK(fo_op_check(&op));
  FT_OK(fo_op_apply(&op, NULL));
  fo_state st;
  FT_OK(fo_group_state(m.g, &st));
  cr_assert_eq(st, FO_GROUP_RESERVED);
  fo_registry_free(m.reg);
}

/* ---- the verifier's structs --------------------------------------------- */

static void never_cb(const fo_verify_result *r, void *userdata) {
  (void)r;
  (void)userdata;
  cr_assert_fail("a refused check called back");
}

static void closed_cb(void *userdata) { (*(int *)userdata)++; }

Test(layout, verifier_reads_only_known_versions) {
  static const char *const servers[] = {"127.0.0.1:9"};
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier_options o = FO_VERIFIER_OPTIONS_INIT;
  o.servers = servers;
  o.server_count = 1;
  fo_verifier *v = (fo_verifier *)&o;
  o.version = 2;
  FT_RC(fo_verifier_new(&v, &loop, &o), FO_EVERSION);
  cr_assert_null(v);
  o.version = FO_VERIFIER_OPTIONS_VERSION;
  FT_OK(fo_verifier_new(&v, &loop, &o));

  fo_expectation e = FO_EXPECTATION_INIT;
  e.kind = FO_EXPECT_CNAME;
  e.target = "web1.example.net";
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  e.version = 0;
  FT_RC(fo_verify_name(NULL, v, "a.example.net", &e, &p, never_cb, NULL), FO_EVERSION);
  e.version = 2;
  FT_RC(fo_verify_name(NULL, v, "a.example.net", &e, &p, never_cb, NULL), FO_EVERSION);
  e.version = FO_EXPECTATION_VERSION;
  p.version = 2;
  FT_RC(fo_verify_name(NULL, v, "a.example.net", &e, &p, never_cb, NULL), FO_EVERSION);
  size_t pending = 9;
  FT_OK(fo_verifier_pending(v, &pending));
  cr_assert_eq(pending, 0, "a refused check is pending");

  cr_assert_null(fo_verify_result_server(NULL, 0));
  cr_assert_null(fo_plan_entry_at(NULL, 0));

  int closed = 0;
  fo_verifier_close(v, closed_cb, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(closed, 1);
  cr_assert_eq(uv_loop_close(&loop), 0);
}
