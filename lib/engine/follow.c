/*
 * follow.c - a store follower: one timer on the caller's loop that reads the
 * store's revision and refreshes the registry when the store is ahead.
 */
#include <failover/follow.h>

#include <stdlib.h>

struct fo_store_follower {
  uv_timer_t timer;
  fo_registry *reg;
  fo_store *store;
  fo_follow_fn cb;
  void *userdata;
  int reported; /* the error last reported, 0 once a refresh succeeded */
  int closing;
};

static void report(fo_store_follower *f, int rc, uint64_t revision) {
  if (rc != 0 && rc == f->reported)
    return; /* once per failure, until a check succeeds */
  f->reported = rc;
  if (rc == 0 && revision == 0)
    return; /* nothing new */
  if (f->cb != NULL)
    f->cb(rc, revision, f->userdata);
}

/* Refresh when the store is ahead. Returns the refresh's code; `*applied`
 * is the registry's new revision when commits were applied, else 0. */
static int check(fo_store_follower *f, uint64_t *applied) {
  uint64_t ours = 0, theirs = 0;
  int rc;
  *applied = 0;
  if ((rc = fo_store_revision(f->store, &theirs)) != 0)
    return rc;
  (void)fo_registry_revision(f->reg, &ours);
  if (theirs <= ours)
    return 0;
  rc = fo_registry_refresh(f->reg);
  if (rc == FO_EBUSY)
    return 0; /* inside a batch: its commit comes first; ask again later */
  if (rc == 0)
    (void)fo_registry_revision(f->reg, applied);
  return rc;
}

static void tick(uv_timer_t *t) {
  fo_store_follower *f = t->data;
  uint64_t applied;
  int rc = check(f, &applied);
  report(f, rc, applied);
}

int fo_store_follower_check(fo_store_follower *f) {
  uint64_t applied;
  int rc;
  if (f == NULL || f->closing)
    return FO_EINVAL;
  rc = check(f, &applied);
  report(f, rc, applied);
  return rc;
}

static void closed_cb(uv_handle_t *h) { free(h->data); }

int fo_store_follower_new(fo_store_follower **out, uv_loop_t *loop,
                          fo_registry *reg, uint32_t interval_ms,
                          fo_follow_fn cb, void *userdata) {
  fo_store_follower *f;
  fo_store *store = NULL;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || loop == NULL || reg == NULL)
    return FO_EINVAL;
  if (fo_registry_store(reg, &store) != 0 || store == NULL)
    return FO_EINVAL;
  if (interval_ms == 0)
    interval_ms = FO_FOLLOW_INTERVAL_DEFAULT;
  if (interval_ms < FO_FOLLOW_INTERVAL_MIN ||
      interval_ms > FO_FOLLOW_INTERVAL_MAX)
    return FO_ERANGE;
  if ((f = calloc(1, sizeof(*f))) == NULL)
    return FO_ENOMEM;
  f->reg = reg;
  f->store = store;
  f->cb = cb;
  f->userdata = userdata;
  if (uv_timer_init(loop, &f->timer) != 0) {
    free(f);
    return FO_EIO;
  }
  f->timer.data = f;
  if (uv_timer_start(&f->timer, tick, 0, interval_ms) != 0) {
    uv_close((uv_handle_t *)&f->timer, closed_cb);
    return FO_EIO;
  }
  *out = f;
  return 0;
}

void fo_store_follower_close(fo_store_follower *f) {
  if (f == NULL || f->closing)
    return;
  f->closing = 1;
  uv_timer_stop(&f->timer);
  uv_close((uv_handle_t *)&f->timer, closed_cb);
}
