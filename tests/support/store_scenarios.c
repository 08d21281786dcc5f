/*
 * store_scenarios.c - see store_scenarios.h.
 */
#define _DEFAULT_SOURCE
#include "store_scenarios.h"

#include <stdlib.h>
#include <string.h>

fo_registry *fs_open_reg(const fs_backend *be, unsigned flags, fo_store **st) {
  fo_registry_options o = ft_options(NULL, NULL);
  fo_registry *reg = NULL;
  FT_OK(be->open(st, flags, be->userdata));
  FT_OK(fo_registry_open(&reg, &o, *st));
  return reg;
}

void fs_close_reg(fo_registry *reg, fo_store *st) {
  fo_registry_free(reg);
  fo_store_close(st);
}

void fs_assert_same(fo_registry *a, fo_registry *b, const char *what) {
  char *ta = ft_snapshot_stable(a), *tb = ft_snapshot_stable(b);
  cr_assert_str_eq(ta, tb, "%s", what);
  free(ta);
  free(tb);
}

void fs_two_close(fs_two *t) {
  fs_close_reg(t->a, t->sa);
  fs_close_reg(t->b, t->sb);
  memset(t, 0, sizeof *t);
}

/* ---- state --------------------------------------------------------------- */

void fs_reopen_equals_what_was_written(const fs_backend *be, int rounds) {
  fo_store *st;
  fo_registry *reg = fs_open_reg(be, FO_STORE_CREATE, &st);
  ft_populate(reg, "");
  char *before = ft_snapshot_stable(reg);
  uint64_t rev = 0, srev = 0;
  FT_OK(fo_registry_revision(reg, &rev));
  FT_OK(fo_store_revision(st, &srev));
  cr_assert_gt(rev, 10);
  cr_assert_eq(srev, rev);
  fo_store *st2;
  fo_registry *again = fs_open_reg(be, FO_STORE_READONLY, &st2);
  FS_SAME_STATE(before, again, "a second open");
  fs_close_reg(again, st2);
  fs_close_reg(reg, st);
  for (int round = 0; round < rounds; round++) {
    reg = fs_open_reg(be, 0, &st);
    char *after = ft_snapshot_stable(reg);
    cr_assert_str_eq(after, before, "reopen %d differs", round);
    uint64_t rev2 = 0;
    FT_OK(fo_registry_revision(reg, &rev2));
    cr_assert_eq(rev2, rev);
    char *bad = ft_invariant_violation(reg);
    cr_assert_null(bad, "%s", bad ? bad : "");
    free(after);
    ft_group(reg, NULL, NULL); /* and it goes on writing */
    char *more = ft_snapshot_stable(reg);
    free(before);
    before = more;
    FT_OK(fo_registry_revision(reg, &rev));
    fs_close_reg(reg, st);
  }
  free(before);
}

/* A random source that offers a chosen code first (big-endian, as the
 * library reads four bytes per draw), then a deterministic stream. */
typedef struct offer {
  uint32_t code;
  int pending;
  ft_rng rng;
} offer;

static int offer_fill(void *buf, size_t len, void *userdata) {
  offer *o = userdata;
  if (len == 4 && o->pending) {
    unsigned char *b = buf;
    o->pending = 0;
    b[0] = (unsigned char)(o->code >> 24);
    b[1] = (unsigned char)(o->code >> 16);
    b[2] = (unsigned char)(o->code >> 8);
    b[3] = (unsigned char)o->code;
    return 0;
  }
  return ft_rng_fill(buf, len, &o->rng);
}

void fs_deleted_address_never_drawn_again(const fs_backend *be, uint64_t seed,
                                          int rounds) {
  offer o;
  memset(&o, 0, sizeof o);
  ft_rng_init(&o.rng, seed);
  fo_registry_options opts = ft_options(NULL, NULL);
  opts.random = offer_fill;
  opts.random_userdata = &o;
  fo_store *st;
  fo_registry *reg = NULL;
  FT_OK(be->open(&st, FO_STORE_CREATE, be->userdata));
  FT_OK(fo_registry_open(&reg, &opts, st));
  fo_group *g = ft_group(reg, NULL, NULL);
  char gone[FO_NAME_BUFSIZE];
  ft_address(g, gone);
  o.code =
      (uint32_t)(atoi(gone) * 1000000 + atoi(gone + 4) * 1000 + atoi(gone + 8));
  FT_OK(fo_group_delete(g));
  fs_close_reg(reg, st);
  /* another process's registry, opened after the delete, and restarts */
  for (int round = 0; round < rounds; round++) {
    FT_OK(be->open(&st, 0, be->userdata));
    FT_OK(fo_registry_open(&reg, &opts, st));
    fo_group *f = NULL;
    FT_RC(fo_registry_find_group(reg, gone, &f), FO_EDELETED);
    o.pending = 1; /* the deleted code is offered first */
    fo_group *n = ft_group(reg, NULL, NULL);
    cr_assert_eq(o.pending, 0, "the offered code was not drawn");
    char addr[FO_NAME_BUFSIZE];
    cr_assert_str_neq(ft_address(n, addr), gone, "round %d handed out %s again",
                      round, gone);
    fs_close_reg(reg, st);
  }
  ft_rng_free(&o.rng);
}

/* ---- two registries ------------------------------------------------------ */

void fs_stale_write_changes_nothing_and_refresh_catches_up(
    const fs_backend *be, fs_two *out) {
  fo_store *sa, *sb;
  fo_registry *a = fs_open_reg(be, FO_STORE_CREATE, &sa);
  fo_stack *shop = ft_stack(a, "shop", 1, 0);
  fo_registry *b = fs_open_reg(be, 0, &sb);
  ft_events ev = {0};
  uint32_t ev_id = 0;
  FT_OK(fo_registry_subscribe(b, ft_events_cb, &ev, &ev_id));

  /* a moves on; b has not seen it */
  fo_group *ga = ft_group(a, shop, NULL);
  uint64_t ra = 0, rb = 0, rs = 0;
  FT_OK(fo_registry_revision(a, &ra));
  FT_OK(fo_registry_revision(b, &rb));
  FT_OK(fo_store_revision(sb, &rs));
  cr_assert_eq(rs, ra, "b's store sees a's commit");
  cr_assert_eq(rb + 1, ra);
  char *before = ft_snapshot_stable(b);
  fo_group *gb = NULL;
  FT_RC(fo_group_create(&gb, b, NULL, NULL), FO_ESTALE);
  cr_assert_null(gb);
  FT_RC(fo_stack_new(&shop, b, "other"), FO_ESTALE);
  FT_RC(fo_registry_batch_begin(b), FO_ESTALE);
  FS_SAME_STATE(before, b, "a stale write");
  free(before);
  uint64_t rs2 = 0;
  FT_OK(fo_store_revision(sa, &rs2));
  cr_assert_eq(rs2, ra, "a stale write moved the store");

  FT_OK(fo_registry_refresh(b));
  cr_assert_eq(ev.n, 1, "refresh fired %zu events", ev.n);
  cr_assert_eq(ev.ev[0].reason, FO_CHANGE_CREATE);
  char addr[FO_NAME_BUFSIZE];
  fo_group *found = NULL;
  FT_OK(fo_registry_find_group(b, ft_address(ga, addr), &found));
  cr_assert_eq(ft_state(found), FO_GROUP_SERVING);
  FT_OK(fo_group_create(&gb, b, NULL, NULL));

  /* b's stack gets a load balancer: a's group follows after refresh. */
  fo_stack *shop_b = NULL;
  FT_OK(fo_registry_find_stack(b, "shop", &shop_b));
  FT_OK(fo_stack_add_server(shop_b, FO_SERVER_LOAD_BALANCER, "lb1", NULL));
  ft_events eva = {0};
  uint32_t eva_id = 0;
  FT_OK(fo_registry_subscribe(a, ft_events_cb, &eva, &eva_id));
  FT_OK(fo_registry_refresh(a));
  cr_assert_eq(ft_events_for(&eva, ga), 1, "the group did not follow");
  fo_target t = FO_TARGET_INIT;
  FT_OK(fo_group_target(ga, &t));
  cr_assert_str_eq(t.host_name, "lb1.shop." FT_ZONE);
  FT_OK(fo_registry_refresh(a)); /* nothing new: no-op */
  cr_assert_eq(ft_events_for(&eva, ga), 1, "a no-op refresh fired events");
  fs_assert_same(a, b, "after refresh");

  FT_OK(fo_registry_unsubscribe(b, ev_id));
  FT_OK(fo_registry_unsubscribe(a, eva_id));
  ft_events_free(&ev);
  ft_events_free(&eva);
  out->a = a;
  out->sa = sa;
  out->b = b;
  out->sb = sb;
}

/* ---- application settings ------------------------------------------------ */

void fs_application_settings(const fs_backend *be) {
  fo_store *st;
  fo_registry *reg = fs_open_reg(be, FO_STORE_CREATE, &st);
  uint64_t rev0 = 0, rev1 = 0;
  FT_OK(fo_store_revision(st, &rev0));
  char buf[64];
  size_t len = 99;
  FT_RC(fo_store_setting_get(st, "primary", buf, sizeof buf, &len), FO_ENOENT);
  FT_OK(fo_store_setting_put(st, "primary", "127.0.0.1:5300"));
  FT_OK(fo_store_setting_put(st, "key-file", "/etc/knot/failover.key"));
  FT_OK(fo_store_setting_put(st, "primary", "127.0.0.1:5301")); /* replaced */
  FT_OK(fo_store_setting_put(st, "empty", ""));
  FT_OK(fo_store_revision(st, &rev1));
  cr_assert_eq(rev0, rev1, "a setting is not a registry commit");
  fs_close_reg(reg, st);

  reg = fs_open_reg(be, FO_STORE_READONLY, &st);
  FT_OK(fo_store_setting_get(st, "primary", buf, sizeof buf, &len));
  cr_assert_str_eq(buf, "127.0.0.1:5301");
  cr_assert_eq(len, strlen("127.0.0.1:5301"));
  FT_OK(fo_store_setting_get(st, "empty", buf, sizeof buf, &len));
  cr_assert_str_eq(buf, "");
  cr_assert_eq(len, 0);
  FT_RC(fo_store_setting_put(st, "primary", "x"), FO_EREADONLY);
  FT_RC(fo_store_setting_get(st, "primary", buf, 4, &len), FO_ENOSPC);
  cr_assert_eq(len, strlen("127.0.0.1:5301"));
  cr_assert_str_eq(buf, "");
  fs_close_reg(reg, st);

  reg = fs_open_reg(be, 0, &st);
  FT_OK(fo_store_setting_put(st, "primary", NULL));
  FT_RC(fo_store_setting_get(st, "primary", buf, sizeof buf, NULL), FO_ENOENT);
  FT_OK(fo_store_setting_put(st, "primary", NULL)); /* removing twice */
  FT_OK(fo_store_setting_get(st, "key-file", buf, sizeof buf, NULL));
  cr_assert_str_eq(buf, "/etc/knot/failover.key");
  static const char *const bad[] = {"", "Upper", "has space", "a/b",
      "0123456789012345678901234567890123456789012345678901234567890123"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    FT_RC(fo_store_setting_put(st, bad[i], "x"), FO_EBADNAME);
    FT_RC(fo_store_setting_get(st, bad[i], buf, sizeof buf, NULL), FO_EBADNAME);
  }
  char *big = malloc(FO_STORE_SETTING_VALUE_MAX + 2);
  memset(big, 'v', FO_STORE_SETTING_VALUE_MAX + 1);
  big[FO_STORE_SETTING_VALUE_MAX + 1] = '\0';
  FT_RC(fo_store_setting_put(st, "big", big), FO_ERANGE);
  big[FO_STORE_SETTING_VALUE_MAX] = '\0';
  FT_OK(fo_store_setting_put(st, "big", big));
  char *back = malloc(FO_STORE_SETTING_VALUE_MAX + 1);
  FT_OK(fo_store_setting_get(st, "big", back, FO_STORE_SETTING_VALUE_MAX + 1,
                             &len));
  cr_assert_eq(len, FO_STORE_SETTING_VALUE_MAX);
  cr_assert_str_eq(back, big);
  free(back);
  free(big);
  FT_RC(fo_store_setting_put(NULL, "x", "y"), FO_EINVAL);
  FT_RC(fo_store_setting_put(st, NULL, "y"), FO_EINVAL);
  FT_RC(fo_store_setting_get(st, "x", NULL, 1, NULL), FO_EINVAL);
  FT_RC(fo_store_setting_get(st, "x", buf, 0, NULL), FO_EINVAL);
  fs_close_reg(reg, st);
}

/* ---- processes ----------------------------------------------------------- */

int fs_create_groups(fo_registry *reg, int n, int retry_locked, int *stale) {
  int made = 0;
  *stale = 0;
  while (made < n) {
    fo_group *g = NULL;
    int rc = fo_group_create(&g, reg, NULL, NULL);
    if (rc == 0) {
      made++;
    } else if (rc == FO_ESTALE) {
      ++*stale;
      if (fo_registry_refresh(reg) != 0)
        return FS_CREATE_EREFRESH;
    } else if (!(retry_locked && rc == FO_ELOCKED)) {
      return FS_CREATE_EOTHER;
    }
  }
  return 0;
}
