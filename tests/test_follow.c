/*
 * test_follow.c - a store follower (fo_store_follower): a registry on one
 * SQLite store follows another process's commits on the loop, firing its
 * change feed; bad arguments.
 * No DNS server needed.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <failover/follow.h>

#include "engine_support.h"
#include "store_faults_util.h"
#include "support.h"

static char *dir, *db;

static void make_dir(void) {
  dir = ft_scratch_dir("fo-follow");
  db = ft_scratch_path(dir, "follow.db");
}

static void remove_dir(void) {
  free(db);
  ft_scratch_remove(dir);
}

TestSuite(follow, .init = make_dir, .fini = remove_dir);

typedef struct side {
  fo_store *store;
  fo_registry *reg;
} side;

static void open_side(side *s, unsigned flags) {
  FT_OK(fo_store_sqlite_open(&s->store, db, flags));
  fo_registry_options o = ft_options(NULL, NULL);
  FT_OK(fo_registry_open(&s->reg, &o, s->store));
}

static void close_side(side *s) {
  fo_registry_free(s->reg);
  fo_store_close(s->store);
}

typedef struct reports {
  int count, last_error;
  uint64_t last_revision;
} reports;

static void on_follow(int error, uint64_t revision, void *userdata) {
  reports *r = userdata;
  r->count++;
  r->last_error = error;
  r->last_revision = revision;
}

Test(follow, applies_others_commits_and_fires_the_feed) {
  side writer, reader;
  open_side(&writer, FO_STORE_CREATE);
  open_side(&reader, 0);
  ft_events ev;
  memset(&ev, 0, sizeof ev);
  uint32_t sub;
  FT_OK(fo_registry_subscribe(reader.reg, ft_events_cb, &ev, &sub));

  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  reports r = {0, 0, 0};
  fo_store_follower *f;
  FT_OK(fo_store_follower_new(&f, &loop, reader.reg, 10, on_follow, &r));

  fo_stack *s = ft_stack(writer.reg, "shop", 1, 0);
  for (int i = 0; i < 3; i++)
    ft_group(writer.reg, s, NULL);
  uint64_t want;
  FT_OK(fo_registry_revision(writer.reg, &want));

  watchdog wd;
  watchdog_start(&loop, &wd, 5000);
  while (!wd.fired && r.last_revision < want)
    uv_run(&loop, UV_RUN_ONCE);
  cr_assert_eq(r.last_error, 0, "%s", fo_err_name(r.last_error));
  cr_assert_eq(r.last_revision, want, "followed to %llu of %llu",
               (unsigned long long)r.last_revision, (unsigned long long)want);
  cr_assert_eq(ev.n, 3, "%zu change events for 3 new groups", ev.n);
  char *a = ft_snapshot(writer.reg), *b = ft_snapshot(reader.reg);
  cr_assert_str_eq(a, b);
  free(a);
  free(b);

  /* A check on demand refreshes before it returns. */
  ft_group(writer.reg, s, NULL);
  FT_OK(fo_store_follower_check(f));
  cr_assert_eq(ev.n, 4);

  fo_store_follower_close(f);
  loop_done(&loop, &wd);
  FT_OK(fo_registry_unsubscribe(reader.reg, sub));
  ft_events_free(&ev);
  close_side(&reader);
  close_side(&writer);
}

Test(follow, bad_arguments) {
  side one;
  open_side(&one, FO_STORE_CREATE);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_store_follower *f = (fo_store_follower *)&loop; /* set to NULL */
  FT_RC(fo_store_follower_new(NULL, &loop, one.reg, 0, NULL, NULL), FO_EINVAL);
  FT_RC(fo_store_follower_new(&f, NULL, one.reg, 0, NULL, NULL), FO_EINVAL);
  cr_assert_null(f);
  FT_RC(fo_store_follower_new(&f, &loop, NULL, 0, NULL, NULL), FO_EINVAL);
  fo_registry *mem = ft_registry(NULL, NULL); /* in memory: no store */
  FT_RC(fo_store_follower_new(&f, &loop, mem, 0, NULL, NULL), FO_EINVAL);
  FT_RC(fo_store_follower_new(&f, &loop, one.reg, FO_FOLLOW_INTERVAL_MIN - 1,
                              NULL, NULL),
        FO_ERANGE);
  FT_RC(fo_store_follower_new(&f, &loop, one.reg, FO_FOLLOW_INTERVAL_MAX + 1,
                              NULL, NULL),
        FO_ERANGE);
  cr_assert_null(f);
  FT_RC(fo_store_follower_check(NULL), FO_EINVAL);
  fo_store_follower_close(NULL);
  /* The default interval, no callback, closed before it ever ran. */
  FT_OK(fo_store_follower_new(&f, &loop, one.reg, 0, NULL, NULL));
  FT_OK(fo_store_follower_check(f));
  fo_store_follower_close(f);
  loop_done(&loop, NULL);
  fo_registry_free(mem);
  close_side(&one);
}
