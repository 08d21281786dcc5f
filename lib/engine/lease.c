/*
 * lease.c - the publisher lease kept on the caller's loop: one timer that
 * renews the store's lease every ttl / 3 while it is held, and while another
 * holds it asks again just after that holder's lease runs out (so that a
 * standby takes over within the ttl of the holder's last renewal, not a
 * third of a ttl later); transitions are reported.
 */
#include <failover/publish.h>

#include "store_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fo_lease_keeper {
  uv_timer_t timer;
  fo_store *store;
  char holder[64];
  uint32_t ttl_ms;
  fo_lease_fn cb;
  void *userdata;
  int held;
  uint64_t epoch;
  int closing;
};

/* While another holds the lease, the next attempt comes this long after
 * the stored expiry (clocks and a store's whole-second TTLs round), and
 * never sooner than RETRY_MIN_MS after the last one. */
#define AFTER_EXPIRY_MS 20
#define RETRY_MIN_MS 50

static int64_t wall_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* When to ask next: a third of the ttl while held (or on a store error);
 * while another holds it, just after its lease runs out. */
static uint64_t next_attempt_ms(const fo_lease_keeper *k, int rc,
                                const fo_store_lease *l) {
  uint64_t renew = k->ttl_ms / 3;
  if (rc == FO_ELOCKED) {
    int64_t left = l->expires_ms - wall_now_ms() + AFTER_EXPIRY_MS;
    if (left < RETRY_MIN_MS)
      left = RETRY_MIN_MS;
    if ((uint64_t)left < renew)
      return (uint64_t)left;
  }
  return renew;
}

static void attempt(uv_timer_t *t);

static void schedule(fo_lease_keeper *k, int rc, const fo_store_lease *l) {
  if (!k->closing)
    (void)uv_timer_start(&k->timer, attempt, next_attempt_ms(k, rc, l), 0);
}

static void attempt(uv_timer_t *t) {
  fo_lease_keeper *k = t->data;
  fo_store_lease l;
  int rc, was_held = k->held;
  memset(&l, 0, sizeof(l));
  rc = fo_store_lease_acquire(k->store, k->holder, k->ttl_ms, &l);
  /* State first, then the callback: it may close the keeper, which must
   * then release what is held. */
  k->held = rc == 0;
  schedule(k, rc, &l); /* first: the callback may close the keeper */
  if (rc == 0 && was_held && l.epoch != k->epoch) {
    /* It ran out between renewals: another may have published. */
    k->epoch = l.epoch;
    k->cb(FO_LEASE_LOST, &l, FO_ETIMEDOUT, k->userdata);
    if (!k->closing)
      k->cb(FO_LEASE_TAKEN, &l, 0, k->userdata);
    return;
  }
  if (rc == 0) {
    k->epoch = l.epoch;
    k->cb(was_held ? FO_LEASE_RENEWED : FO_LEASE_TAKEN, &l, 0, k->userdata);
  } else {
    k->cb(was_held ? FO_LEASE_LOST : FO_LEASE_WAITING, &l, rc, k->userdata);
  }
}

static void keeper_closed(uv_handle_t *h) { free(h->data); }

int fo_lease_keeper_new(fo_lease_keeper **out, uv_loop_t *loop,
                        fo_store *store, const char *holder, uint32_t ttl_ms,
                        fo_lease_fn cb, void *userdata) {
  fo_lease_keeper *k;
  size_t n;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || loop == NULL || store == NULL || cb == NULL ||
      ttl_ms < 30 || !fo__store_holder_valid(holder))
    return FO_EINVAL;
  n = strlen(holder);
  k = calloc(1, sizeof(*k));
  if (k == NULL)
    return FO_ENOMEM;
  memcpy(k->holder, holder, n + 1);
  k->store = store;
  k->ttl_ms = ttl_ms;
  k->cb = cb;
  k->userdata = userdata;
  if (uv_timer_init(loop, &k->timer) != 0) {
    free(k);
    return FO_EIO;
  }
  k->timer.data = k;
  if (uv_timer_start(&k->timer, attempt, 0, 0) != 0) {
    uv_close((uv_handle_t *)&k->timer, keeper_closed);
    return FO_EIO;
  }
  *out = k;
  return 0;
}

void fo_lease_keeper_close(fo_lease_keeper *k) {
  if (k == NULL || k->closing)
    return;
  k->closing = 1;
  uv_timer_stop(&k->timer);
  if (k->held)
    (void)fo_store_lease_release(k->store, k->holder);
  uv_close((uv_handle_t *)&k->timer, keeper_closed);
}
