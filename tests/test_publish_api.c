/*
 * test_publish_api.c - regression tests of the publisher's life cycle with
 * no DNS server: sends that fail inside ares_send() (the limited broadcast
 * address), and the publisher closed from a change callback (an unused
 * port). The engines' memory comes from the fence allocator
 * (support/engine_support.h).
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <stdint.h>
#include <string.h>

#include <failover/publish.h>

#include "engine_support.h"
#include "support.h"

/* ---- 1. publisher: sends that fail inside ares_send() ----------------------- */

static void count_iter(uv_prepare_t *h) { (*(unsigned *)h->data)++; }

/* connect() of a UDP socket to the limited broadcast address fails with
 * EACCES (no SO_BROADCAST): every send fails synchronously, is put back at
 * once, and the kick used to send it again, forever, inside one callback. */
Test(publish_api, publisher_sync_send_failure_does_not_spin,
     .timeout = 30) {
  const fo_allocator *alloc = fence_init();
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_registry *reg = registry(alloc);
  fo_tsig_key *k = key();
  fo_publisher *pub = publisher(&loop, reg, "255.255.255.255", k, alloc);
  fo_group *g = NULL;
  FT_OK(fo_group_create(&g, reg, NULL, NULL)); /* something to publish */
  unsigned iterations = 0;
  uv_prepare_t prep;
  cr_assert_eq(uv_prepare_init(&loop, &prep), 0);
  prep.data = &iterations;
  cr_assert_eq(uv_prepare_start(&prep, count_iter), 0);
  watchdog wd;
  watchdog_start(&loop, &wd, 300);
  uint64_t t0 = uv_hrtime();
  run_until(&loop, &wd, &wd.fired, 1);
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  cr_log_info("300 ms watchdog after %.0f ms, %u loop iterations", ms,
              iterations);
  cr_assert(wd.fired);
  fo_publish_status st;
  FT_OK(fo_publisher_group_status(pub, g, &st));
  cr_assert(st.state == FO_PUBLISH_PENDING || st.state == FO_PUBLISH_FAILED,
            "group state %d: published or in flight?", (int)st.state);
  cr_assert_eq(st.published_generation, 0);
  size_t pending = 0;
  FT_OK(fo_publisher_pending(pub, &pending));
  cr_assert_eq(pending, 1);
  int closed = 0;
  fo_publisher_close(pub, count_cb, &closed);
  uv_close((uv_handle_t *)&prep, NULL);
  loop_done(&loop, &wd);
  cr_assert_eq(closed, 1);
  fo_registry_free(reg);
  fo_tsig_key_free(k);
  fence_done();
}

/* ---- 2. publisher closed from a change callback -------------------------------- */

typedef struct feed {
  fo_publisher *pub; /* closed by the first event */
  int events;
  int closed;
} feed;

static void closer_change_cb(const fo_change *ch, void *userdata) {
  feed *f = userdata;
  (void)ch;
  f->events++;
  if (f->pub != NULL) {
    fo_publisher *pub = f->pub;
    f->pub = NULL;
    fo_publisher_close(pub, count_cb, &f->closed);
  }
}

/* The registry refuses to unsubscribe from inside a change callback
 * (FO_EBUSY); the publisher ignored that, was freed by the loop, and the
 * next change called it. `before`: the test's subscriber comes first (the
 * publisher then gets the same event after being closed). */
static void close_from_change(int before) {
  const fo_allocator *alloc = fence_init();
  char dead[64];
  dead_server(dead, sizeof dead);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_registry *reg = registry(alloc);
  fo_tsig_key *k = key();
  feed f;
  memset(&f, 0, sizeof f);
  uint32_t id = 0;
  if (before)
    FT_OK(fo_registry_subscribe(reg, closer_change_cb, &f, &id));
  f.pub = publisher(&loop, reg, dead, k, alloc);
  if (!before)
    FT_OK(fo_registry_subscribe(reg, closer_change_cb, &f, &id));
  fo_group *g = NULL;
  FT_OK(fo_group_create(&g, reg, NULL, NULL)); /* closes the publisher */
  cr_assert_null(f.pub, "no change event");
  cr_assert_eq(f.closed, 0, "closed ran inside the change callback");
  fo_stack *s = ft_stack(reg, "dc1", 1, 0);
  FT_OK(fo_group_attach(g, FO_SLOT_PRIMARY, s)); /* closing, not freed */
  int before_loop = f.events;
  loop_done(&loop, NULL); /* frees the publisher */
  cr_assert_eq(f.closed, 1, "closed callback ran %d times", f.closed);
  /* Changes after the publisher is gone: it must not be called. */
  fo_group *h = ft_group(reg, NULL, NULL);
  FT_OK(fo_group_set_ttl(h, 120));
  FT_OK(fo_group_delete(h));
  FT_OK(fo_group_attach(g, FO_SLOT_BACKUP, ft_stack(reg, "dc2", 1, 0)));
  FT_OK(fo_group_switch(g, FO_SLOT_BACKUP, 0));
  cr_assert_gt(f.events, before_loop);
  FT_OK(fo_registry_unsubscribe(reg, id));
  cr_assert_eq(f.closed, 1);
  fo_registry_free(reg);
  fo_tsig_key_free(k);
  fence_done();
}

Test(publish_api, publisher_close_from_change_callback, .timeout = 30) {
  close_from_change(0);
}

Test(publish_api, publisher_close_from_earlier_subscriber,
     .timeout = 30) {
  close_from_change(1);
}
