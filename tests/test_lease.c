/*
 * test_lease.c - the publisher lease kept on a uv loop (fo_lease_keeper):
 * two stores on one SQLite file and one loop, exactly one holder at a time,
 * hand-over when the holder closes, a crashed holder's lease running out, a
 * stalled holder losing the lease, and a close from inside the callback.
 * No DNS server needed.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <failover/publish.h>

#include "store_faults_util.h"
#include "support.h"

/* Renewals come every ttl / 3; what a loaded machine (sanitizers,
 * valgrind) may add on top before a waiting keeper asks again. */
#define LK_SLACK_MS 250.0

/* ---- fixture: a scratch directory and a loop ---------------------------- */

static char *dir, *db;

static void make_dir(void) {
  dir = ft_scratch_dir("fo-lease");
  db = ft_scratch_path(dir, "lease.db");
}

static void remove_dir(void) {
  free(db);
  ft_scratch_remove(dir);
}

TestSuite(lease, .init = make_dir, .fini = remove_dir, .timeout = 60);

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0)
    ;
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- a keeper's events -------------------------------------------------- */

typedef struct lk_rec {
  const char *name;
  fo_lease_keeper *keeper;
  int taken, renewed, lost, waiting;
  int events;
  int lost_error; /* error of the last LOST */
  fo_lease_event first_event;
  int first_error;
  fo_store_lease first;   /* the lease with the first event */
  fo_lease_event seq[64]; /* the first events in order */
  fo_lease_event last_event;
  int last_error;
  fo_store_lease last;
  double taken_at; /* now_ms() of the last TAKEN */
  int held;
  int closed; /* fo_lease_keeper_close() was called: no more events */
  int close_on_taken;
  int *holders; /* keepers holding the lease now, over all records */
} lk_rec;

static void lk_cb(fo_lease_event ev, const fo_store_lease *lease, int error,
                  void *userdata) {
  lk_rec *r = userdata;
  cr_assert(!r->closed, "%s: event %d after close", r->name, (int)ev);
  cr_assert_not_null(lease);
  if (r->events < 64)
    r->seq[r->events] = ev;
  if (r->events++ == 0) {
    r->first_event = ev;
    r->first_error = error;
    r->first = *lease;
  }
  r->last_event = ev;
  r->last_error = error;
  r->last = *lease;
  switch (ev) {
  case FO_LEASE_TAKEN:
    cr_assert_eq(error, 0);
    cr_assert(!r->held, "%s: taken while held", r->name);
    cr_assert_str_eq(lease->holder, r->name);
    r->taken++;
    r->held = 1;
    r->taken_at = now_ms();
    (*r->holders)++;
    cr_assert_leq(*r->holders, 1, "two keepers hold the lease at once");
    break;
  case FO_LEASE_RENEWED:
    cr_assert_eq(error, 0);
    cr_assert(r->held, "%s: renewed what it did not hold", r->name);
    cr_assert_str_eq(lease->holder, r->name);
    r->renewed++;
    break;
  case FO_LEASE_LOST:
    cr_assert(r->held, "%s: lost what it did not hold", r->name);
    cr_assert_neq(error, 0);
    r->lost++;
    r->lost_error = error;
    r->held = 0;
    (*r->holders)--;
    break;
  case FO_LEASE_WAITING:
    cr_assert(!r->held, "%s: waiting while holding", r->name);
    cr_assert_neq(error, 0);
    r->waiting++;
    break;
  default:
    cr_assert_fail("%s: unknown event %d", r->name, (int)ev);
  }
  if (ev == FO_LEASE_TAKEN && r->close_on_taken) {
    /* Closing from the callback releases what is held. */
    r->closed = 1;
    r->held = 0;
    (*r->holders)--;
    fo_lease_keeper_close(r->keeper);
  }
}

typedef struct lk_env {
  uv_loop_t loop;
  uv_timer_t watchdog;
  int fired;
  int holders;
} lk_env;

static void lk_watchdog_cb(uv_timer_t *t) {
  lk_env *e = t->data;
  e->fired = 1;
  uv_stop(&e->loop);
}

static void lk_env_init(lk_env *e) {
  memset(e, 0, sizeof *e);
  cr_assert_eq(uv_loop_init(&e->loop), 0);
  cr_assert_eq(uv_timer_init(&e->loop, &e->watchdog), 0);
  e->watchdog.data = e;
}

static void lk_rec_init(lk_rec *r, lk_env *e, const char *name) {
  memset(r, 0, sizeof *r);
  r->name = name;
  r->holders = &e->holders;
}

static void lk_keeper(lk_env *e, lk_rec *r, fo_store *st, uint32_t ttl) {
  int rc =
      fo_lease_keeper_new(&r->keeper, &e->loop, st, r->name, ttl, lk_cb, r);
  cr_assert_eq(rc, 0, "fo_lease_keeper_new(%s): %s", r->name, fo_err_name(rc));
  cr_assert_not_null(r->keeper);
  /* The first attempt runs from the loop, not from inside the call. */
  cr_assert_eq(r->events, 0);
}

static void lk_close(lk_env *e, lk_rec *r) {
  if (r->closed)
    return;
  r->closed = 1;
  if (r->held) {
    r->held = 0;
    e->holders--;
  }
  fo_lease_keeper_close(r->keeper);
}

typedef int (*lk_pred)(void *arg);

/* Run the loop until pred() holds; fails after ms. */
static void lk_run_until(lk_env *e, lk_pred pred, void *arg, int ms,
                         const char *what) {
  e->fired = 0;
  uv_timer_start(&e->watchdog, lk_watchdog_cb, (uint64_t)ms, 0);
  while (!pred(arg)) {
    uv_run(&e->loop, UV_RUN_ONCE);
    cr_assert(!e->fired || pred(arg), "%s: not reached after %d ms", what, ms);
  }
  uv_timer_stop(&e->watchdog);
}

/* Run the loop for ms whatever happens. */
static void lk_run_for(lk_env *e, int ms) {
  e->fired = 0;
  uv_timer_start(&e->watchdog, lk_watchdog_cb, (uint64_t)ms, 0);
  while (!e->fired)
    uv_run(&e->loop, UV_RUN_ONCE);
}

/* Close the watchdog and run the loop dry: every keeper's handle must be
 * gone (a leak would show under ASan and valgrind). */
static void lk_env_close(lk_env *e) {
  uv_close((uv_handle_t *)&e->watchdog, NULL);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&e->loop), 0, "handles left on the loop");
}

static int pred_events(void *arg) { return ((lk_rec *)arg)->events > 0; }
static int pred_taken(void *arg) { return ((lk_rec *)arg)->taken > 0; }
static int pred_lost(void *arg) { return ((lk_rec *)arg)->lost > 0; }
/* A loss after the one counted in `lost_before` (set by the test). */
static int lost_before;
static int pred_lost_again(void *arg) {
  return ((lk_rec *)arg)->lost > lost_before;
}

static void lk_stores(fo_store **a, fo_store **b) {
  FT_OK(fo_store_sqlite_open(a, db, FO_STORE_CREATE));
  FT_OK(fo_store_sqlite_open(b, db, 0));
}

/* The lease as stored is expired (released, or ran out). */
static void lk_assert_free(fo_store *st, const char *what) {
  fo_store_lease l;
  FT_OK(fo_store_lease_read(st, &l));
  cr_assert_leq(l.expires_ms, wall_ms(), "%s: the lease (%s) still runs", what,
                l.holder);
}

/* ---- tests --------------------------------------------------------------- */

Test(lease, one_holder_then_hand_over_on_close) {
  enum { TTL = 300 };
  fo_store *sa, *sb;
  lk_stores(&sa, &sb);
  lk_env e;
  lk_env_init(&e);
  lk_rec ra, rb;
  lk_rec_init(&ra, &e, "agent-a");
  lk_rec_init(&rb, &e, "agent-b");
  lk_keeper(&e, &ra, sa, TTL);
  lk_keeper(&e, &rb, sb, TTL);
  lk_run_until(&e, pred_events, &ra, 5000, "agent-a's first attempt");
  lk_run_until(&e, pred_events, &rb, 5000, "agent-b's first attempt");

  /* Exactly one took it; the other waits and is told who holds it. (A
   * single uv_run may see more than one attempt: count nothing else.) */
  cr_assert_eq(ra.taken + rb.taken, 1, "taken: a %d, b %d", ra.taken, rb.taken);
  lk_rec *holder = ra.taken ? &ra : &rb;
  lk_rec *other = ra.taken ? &rb : &ra;
  fo_store *other_store = ra.taken ? sb : sa;
  cr_assert_eq(holder->first_event, FO_LEASE_TAKEN);
  cr_assert_eq(other->first_event, FO_LEASE_WAITING);
  cr_assert_eq(other->first_error, FO_ELOCKED, "waiting with %s",
               fo_err_name(other->first_error));
  cr_assert_str_eq(other->first.holder, holder->name);
  uint64_t epoch = holder->first.epoch;
  cr_assert_gt(epoch, 0);

  /* Over a few renewal periods the holder renews with the same epoch and
   * the other keeps waiting. */
  lk_run_for(&e, TTL + TTL / 2);
  cr_assert_geq(holder->renewed, 2, "%d renewals in %d ms", holder->renewed,
                TTL + TTL / 2);
  cr_assert_eq(holder->last.epoch, epoch, "a renewal changed the epoch");
  cr_assert_eq(holder->lost, 0);
  cr_assert_eq(other->taken, 0);
  cr_assert_geq(other->waiting, 2);

  /* The holder closes: released at once, so the other takes it at its next
   * attempt, within ttl / 3, with the next epoch. */
  int holder_events = holder->events;
  double t0 = now_ms();
  lk_close(&e, holder);
  lk_assert_free(other_store, "after the holder's close");
  lk_run_until(&e, pred_taken, other, 5000, "the hand-over");
  double dt = other->taken_at - t0;
  cr_log_info("lease handed over %.1f ms after the holder closed (ttl %d)", dt,
              TTL);
  cr_assert_leq(dt, TTL / 3.0 + LK_SLACK_MS, "hand-over took %.1f ms", dt);
  cr_assert_eq(other->last.epoch, epoch + 1);
  cr_assert_str_eq(other->last.holder, other->name);
  cr_assert_eq(holder->events, holder_events, "the closed keeper called back");

  lk_run_for(&e, TTL / 2);
  cr_assert_geq(other->renewed, 1);
  cr_assert_eq(other->lost, 0);
  cr_assert_eq(other->last.epoch, epoch + 1);
  lk_close(&e, other);
  lk_env_close(&e);
  lk_assert_free(sa, "after both closed");
  fo_store_close(sa);
  fo_store_close(sb);
}

Test(lease, crashed_holder_runs_out) {
  enum { TTL = 300 };
  fo_store *sa, *sb;
  lk_stores(&sa, &sb);
  /* A holder that took the lease and then died: it never renews. */
  fo_store_lease l;
  /* Before the call: the expiry counts from inside it, and a slow run
   * (valgrind) may spend a while there. */
  double t0 = now_ms();
  FT_OK(fo_store_lease_acquire(sa, "crashed", TTL, &l));
  lk_env e;
  lk_env_init(&e);
  lk_rec rb;
  lk_rec_init(&rb, &e, "agent-b");
  lk_keeper(&e, &rb, sb, TTL);
  lk_run_until(&e, pred_events, &rb, 5000, "the first attempt");
  cr_assert_eq(rb.first_event, FO_LEASE_WAITING);
  cr_assert_eq(rb.first_error, FO_ELOCKED);
  cr_assert_str_eq(rb.first.holder, "crashed");
  lk_run_until(&e, pred_taken, &rb, 5000, "taking the lapsed lease");
  double dt = rb.taken_at - t0;
  cr_log_info("lapsed lease taken %.1f ms after the crash (ttl %d)", dt, TTL);
  cr_assert_geq(dt, TTL - 20.0, "taken %.1f ms after, before expiry", dt);
  cr_assert_leq(dt, TTL + TTL / 3.0 + LK_SLACK_MS, "taken %.1f ms after", dt);
  cr_assert_eq(rb.last.epoch, l.epoch + 1);
  cr_assert_eq(rb.lost, 0);
  lk_close(&e, &rb);
  lk_env_close(&e);
  fo_store_close(sa);
  fo_store_close(sb);
}

/* A standby asks again just after the holder's lease runs out, not at its
 * next third-of-a-ttl tick: with the keeper started half a second after
 * the holder's last renewal, ticks every ttl / 3 would come 500 ms after
 * the expiry. */
Test(lease, waiting_keeper_asks_at_expiry) {
  enum { TTL = 3000 };
  fo_store *sa, *sb;
  lk_stores(&sa, &sb);
  fo_store_lease l;
  double t0 = now_ms();
  FT_OK(fo_store_lease_acquire(sa, "crashed", TTL, &l));
  sleep_ms(500);
  lk_env e;
  lk_env_init(&e);
  lk_rec rb;
  lk_rec_init(&rb, &e, "agent-b");
  lk_keeper(&e, &rb, sb, TTL);
  lk_run_until(&e, pred_taken, &rb, 10000, "taking the lapsed lease");
  double dt = rb.taken_at - t0;
  cr_log_info("lapsed lease taken %.1f ms after the last renewal (ttl %d)",
              dt, TTL);
  cr_assert_geq(dt, TTL - 20.0, "taken %.1f ms after, before expiry", dt);
  cr_assert_leq(dt, TTL + LK_SLACK_MS, "taken %.1f ms after", dt);
  cr_assert_eq(rb.first_event, FO_LEASE_WAITING);
  cr_assert_eq(rb.last.epoch, l.epoch + 1);
  lk_close(&e, &rb);
  lk_env_close(&e);
  fo_store_close(sa);
  fo_store_close(sb);
}

Test(lease, stalled_holder_loses_it) {
  /* Long enough that a slow run (valgrind) still renews in time before the
   * stall: a renewal late past its own expiry is a loss of its own. */
  enum { TTL = 600 };
  fo_store *sa, *sb;
  lk_stores(&sa, &sb);
  lk_env e;
  lk_env_init(&e);
  lk_rec ra;
  lk_rec_init(&ra, &e, "agent-a");
  lk_keeper(&e, &ra, sa, TTL);
  lk_run_until(&e, pred_taken, &ra, 5000, "taking the lease");
  uint64_t epoch = ra.last.epoch;
  lost_before = ra.lost;
  int taken_before = ra.taken;
  /* The loop stalls past the expiry; another process takes the lease. */
  sleep_ms(3 * TTL);
  fo_store_lease l;
  FT_OK(fo_store_lease_acquire(sb, "agent-b", 60000, &l));
  cr_assert_eq(l.epoch, epoch + 1);
  lk_run_until(&e, pred_lost_again, &ra, 5000, "the loss");
  cr_assert_eq(ra.lost_error, FO_ELOCKED, "lost with %s",
               fo_err_name(ra.lost_error));
  cr_assert_str_eq(ra.last.holder, "agent-b");
  cr_assert_eq(ra.taken, taken_before);
  /* Then it waits: agent-b's lease runs for a minute. */
  int waiting = ra.waiting;
  lk_run_for(&e, TTL);
  cr_assert_gt(ra.waiting, waiting);
  cr_assert_eq(ra.taken, taken_before);
  lk_close(&e, &ra);
  lk_env_close(&e);
  FT_OK(fo_store_lease_read(sa, &l));
  cr_assert_str_eq(l.holder, "agent-b", "a close released another's lease");
  cr_assert_gt(l.expires_ms, wall_ms());
  fo_store_close(sa);
  fo_store_close(sb);
}

Test(lease, late_renewal_is_lost_then_taken) {
  enum { TTL = 90 };
  fo_store *sa, *sb;
  lk_stores(&sa, &sb);
  lk_env e;
  lk_env_init(&e);
  lk_rec ra;
  lk_rec_init(&ra, &e, "agent-a");
  lk_keeper(&e, &ra, sa, TTL);
  lk_run_until(&e, pred_taken, &ra, 5000, "taking the lease");
  uint64_t epoch = ra.last.epoch;
  /* Nobody else took it, but it lapsed: another process may have seen it
   * free, so the keeper must say it was lost before it holds it again. */
  sleep_ms(3 * TTL);
  lk_run_until(&e, pred_lost, &ra, 5000, "the loss");
  cr_assert_eq(ra.lost_error, FO_ETIMEDOUT, "lost with %s",
               fo_err_name(ra.lost_error));
  cr_assert_eq(ra.taken, 2, "LOST then TAKEN: taken %d", ra.taken);
  int i = 0;
  while (i < ra.events && i < 63 && ra.seq[i] != FO_LEASE_LOST)
    i++;
  cr_assert(i < 63 && ra.seq[i] == FO_LEASE_LOST &&
                ra.seq[i + 1] == FO_LEASE_TAKEN,
            "LOST not followed by TAKEN");
  cr_assert_eq(ra.last.epoch, epoch + 1);
  lk_close(&e, &ra);
  lk_env_close(&e);
  lk_assert_free(sb, "after close");
  fo_store_close(sa);
  fo_store_close(sb);
}

Test(lease, close_from_the_callback_releases) {
  fo_store *sa, *sb;
  lk_stores(&sa, &sb);
  lk_env e;
  lk_env_init(&e);
  lk_rec ra;
  lk_rec_init(&ra, &e, "agent-a");
  ra.close_on_taken = 1;
  lk_keeper(&e, &ra, sa, 60000);
  lk_run_until(&e, pred_taken, &ra, 5000, "taking the lease");
  lk_assert_free(sb, "closed from its TAKEN callback");
  /* No callback after the close (lk_cb asserts it). */
  lk_run_for(&e, 100);
  cr_assert_eq(ra.events, 1);
  lk_env_close(&e);
  /* Another process takes it at once. */
  fo_store_lease l;
  FT_OK(fo_store_lease_acquire(sb, "agent-b", 1000, &l));
  fo_store_close(sa);
  fo_store_close(sb);
}

Test(lease, bad_arguments) {
  fo_store *sa, *sb;
  lk_stores(&sa, &sb);
  lk_env e;
  lk_env_init(&e);
  lk_rec r;
  lk_rec_init(&r, &e, "x");
  fo_lease_keeper *k = (fo_lease_keeper *)&r; /* must be reset to NULL */
  FT_RC(fo_lease_keeper_new(&k, &e.loop, sa, "agent", 29, lk_cb, &r),
        FO_EINVAL);
  cr_assert_null(k);
  FT_RC(fo_lease_keeper_new(&k, NULL, sa, "agent", 300, lk_cb, &r), FO_EINVAL);
  FT_RC(fo_lease_keeper_new(&k, &e.loop, NULL, "agent", 300, lk_cb, &r),
        FO_EINVAL);
  FT_RC(fo_lease_keeper_new(&k, &e.loop, sa, NULL, 300, lk_cb, &r), FO_EINVAL);
  FT_RC(fo_lease_keeper_new(&k, &e.loop, sa, "", 300, lk_cb, &r), FO_EINVAL);
  FT_RC(fo_lease_keeper_new(&k, &e.loop, sa, "agent", 300, NULL, &r),
        FO_EINVAL);
  char longname[80];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  FT_RC(fo_lease_keeper_new(&k, &e.loop, sa, longname, 300, lk_cb, &r),
        FO_EINVAL);
  FT_RC(fo_lease_keeper_new(NULL, &e.loop, sa, "agent", 300, lk_cb, &r),
        FO_EINVAL);
  fo_lease_keeper_close(NULL);
  cr_assert_eq(r.events, 0);
  lk_env_close(&e);
  fo_store_close(sa);
  fo_store_close(sb);
}

Test(lease, holder_the_store_would_refuse) {
  /* "1..63 printable characters", as fo_store_lease_acquire() checks: a
   * holder with a space or a control character must be refused up front,
   * not accepted and then reported as WAITING forever. */
  fo_store *sa, *sb;
  lk_stores(&sa, &sb);
  FT_RC(fo_store_lease_acquire(sa, "has space", 300, NULL), FO_EINVAL);
  lk_env e;
  lk_env_init(&e);
  const char *bad[] = {"has space", "tab\there", "del\x7f"};
  int accepted = 0;
  char which[128] = "";
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    lk_rec r;
    lk_rec_init(&r, &e, bad[i]);
    int rc =
        fo_lease_keeper_new(&r.keeper, &e.loop, sa, bad[i], 300, lk_cb, &r);
    if (rc == 0) {
      /* Accepted: see what it does, then clean up before failing. */
      lk_run_until(&e, pred_events, &r, 5000, "the first attempt");
      cr_log_error("holder \"%s\" accepted; first event %d with %s", bad[i],
                   (int)r.last_event, fo_err_name(r.last_error));
      lk_close(&e, &r);
      uv_run(&e.loop, UV_RUN_NOWAIT);
      accepted++;
      snprintf(which + strlen(which), sizeof which - strlen(which), " [%s]",
               bad[i]);
    } else {
      cr_assert_eq(rc, FO_EINVAL, "holder \"%s\": %s", bad[i], fo_err_name(rc));
      cr_assert_null(r.keeper);
    }
  }
  lk_env_close(&e);
  fo_store_close(sa);
  fo_store_close(sb);
  cr_assert_eq(accepted, 0,
               "fo_lease_keeper_new accepted holders the store refuses:%s",
               which);
}
