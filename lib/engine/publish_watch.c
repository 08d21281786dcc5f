/*
 * publish_watch.c - watches on the publisher: each is told exactly once
 * that a generation of its group was confirmed by the server, or why it
 * will not be (the publisher stopped or closed, or the watch was
 * cancelled).
 *
 * A watch waits on its group's record in the queue. Once decided it moves
 * to the publisher's due list, which the kick calls: so a watch is never
 * called inside the transport, a change callback or the call that made it.
 * Only fo_publish_watch_cancel() and fo_publisher_close() call at once, as
 * fo_check_cancel() and fo_verifier_close() do.
 */
#include "publish_engine.h"

#include "alloc.h"

enum { NEW = 0, WAITING, DUE, FIRING };

struct fo_publish_watch {
  fo_publish_watch *next, *prev; /* on its record's list, or the due list */
  fo_publisher *pub;
  fo_group *group;
  fo_publish_watch_fn cb;
  void *userdata;
  uint64_t want; /* the generation waited for */
  uint64_t got;  /* due with 0: the generation confirmed */
  uint64_t seq;  /* due: the order it was decided in */
  uint32_t rec;  /* its group's record */
  int error;     /* due: what the callback gets */
  int state;
};

static fo_publish_watch **head_of(fo_publisher *pub, fo_publish_watch *w) {
  return w->state == WAITING ? &pub->q.recs[w->rec].watches : &pub->due;
}

static void unlink_watch(fo_publisher *pub, fo_publish_watch *w) {
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    *head_of(pub, w) = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  else if (w->state == DUE)
    pub->due_tail = w->prev;
  if (w->state == WAITING)
    pub->watching--;
  w->next = w->prev = NULL;
}

/* Newest first on the record's list. */
static void link_waiting(fo_publisher *pub, fo_publish_watch *w) {
  fo_publish_watch **head = &pub->q.recs[w->rec].watches;
  w->state = WAITING;
  w->prev = NULL;
  w->next = *head;
  if (*head != NULL)
    (*head)->prev = w;
  *head = w;
  pub->watching++;
}

/* Decided: the kick calls it (in the order decided). */
static void make_due(fo_publisher *pub, fo_publish_watch *w, uint64_t got,
                     int error) {
  if (w->state == WAITING)
    unlink_watch(pub, w);
  w->state = DUE;
  w->seq = ++pub->due_seq;
  w->got = got;
  w->error = error;
  w->next = NULL;
  w->prev = pub->due_tail;
  if (pub->due_tail != NULL)
    pub->due_tail->next = w;
  else
    pub->due = w;
  pub->due_tail = w;
  fo__pub_arm_kick(pub);
}

/* Call and free. The publisher outlives the call: even when the callback
 * closes it, it is freed only from the loop. */
static void call(fo_publisher *pub, fo_publish_watch *w, int error) {
  uint64_t gen = error == 0 ? w->got : w->want;
  if (w->state == WAITING || w->state == DUE)
    unlink_watch(pub, w);
  w->state = FIRING; /* cancelling it from its own callback: FO_EINVAL */
  w->cb(w->group, gen, error, w->userdata);
  fo__free(&pub->alloc, w);
}

/* The oldest watch of record i (its list's last), or NULL. */
static fo_publish_watch *oldest(fo_publisher *pub, uint32_t i) {
  fo_publish_watch *w = pub->q.recs[i].watches;
  while (w != NULL && w->next != NULL)
    w = w->next;
  return w;
}

void fo__pubwatch_confirmed(fo_publisher *pub, uint32_t i) {
  uint64_t published = pub->q.recs[i].published_gen;
  fo_publish_watch *w = oldest(pub, i), *newer;
  for (; w != NULL; w = newer) {
    newer = w->prev;
    if (w->want <= published)
      make_due(pub, w, published, 0);
  }
}

void fo__pubwatch_fail_all(fo_publisher *pub, int error) {
  uint32_t i;
  for (i = 0; i < pub->q.nrecs && pub->watching > 0; i++) {
    fo_publish_watch *w = oldest(pub, i), *newer;
    for (; w != NULL; w = newer) {
      newer = w->prev;
      make_due(pub, w, 0, error);
    }
  }
}

void fo__pubwatch_fire(fo_publisher *pub) {
  /* Only those decided so far: a callback that keeps watching what is
   * confirmed already must not hold the loop here (the next kick calls
   * those). */
  uint64_t last = pub->due_seq;
  while (pub->due != NULL && pub->due->seq <= last && !pub->closing)
    call(pub, pub->due, pub->due->error);
}

void fo__pubwatch_cancel_all(fo_publisher *pub) {
  fo__pubwatch_fail_all(pub, FO_ECANCELED);
  /* Decided or not: closing answers FO_ECANCELED. A callback may cancel
   * another watch of the list (called at once, unlinked) but not add one
   * (FO_ECLOSING). */
  while (pub->due != NULL)
    call(pub, pub->due, FO_ECANCELED);
}

/* ---- the public functions -------------------------------------------------- */

int fo_publisher_watch(fo_publish_watch **out, fo_publisher *pub,
                       fo_group *group, uint64_t generation,
                       fo_publish_watch_fn cb, void *userdata) {
  fo_publish_watch *w;
  fo_registry *reg;
  uint64_t now = 0;
  uint32_t i;
  int rc;
  if (out != NULL)
    *out = NULL;
  if (pub == NULL || group == NULL || cb == NULL)
    return FO_EINVAL;
  if (pub->closing)
    return FO_ECLOSING;
  if (fo_group_registry(group, &reg) != 0 || reg != pub->reg)
    return FO_EFOREIGN;
  fo_group_generation(group, &now);
  if (generation == 0 || generation > now)
    return FO_ERANGE;
  if ((w = fo__calloc(&pub->alloc, 1, sizeof(*w))) == NULL)
    return FO_ENOMEM;
  if ((rc = fo__pubq_get(&pub->q, group, &i)) != 0) {
    fo__free(&pub->alloc, w);
    return rc;
  }
  w->pub = pub;
  w->group = group;
  w->cb = cb;
  w->userdata = userdata;
  w->want = generation;
  w->rec = i;
  if (pub->q.recs[i].published_gen >= generation) {
    make_due(pub, w, pub->q.recs[i].published_gen, 0); /* from the loop */
  } else {
    link_waiting(pub, w);
    /* A change that sent no event (or came before this publisher) still
     * gets sent. */
    fo__pubq_push(&pub->q, i);
    if (pub->error && !pub->error_pending)
      pub->watch_error_pending = 1; /* stopped already: fail it from the loop */
    fo__pub_arm_kick(pub);
  }
  if (out != NULL)
    *out = w;
  return 0;
}

int fo_publish_watch_cancel(fo_publish_watch *watch) {
  if (watch == NULL || watch->state == FIRING)
    return FO_EINVAL;
  call(watch->pub, watch, FO_ECANCELED);
  return 0;
}
