/*
 * publish.c - the publisher engine: change feed -> coalesced, batched,
 * TSIG-signed RFC 2136 UPDATEs -> the zone's primary server.
 *
 * Every group the publisher has heard of has a record (fo__pubrec): the
 * generation the server last confirmed, whether it waits in the queue or
 * is in flight. A group is never in two messages at once: a change that
 * arrives while it is in flight re-queues it when the answer comes, and the
 * message then carries the newest records (read from the model at send
 * time), so the newest generation always wins.
 *
 * As in the verifier, transport callbacks only record the outcome; building
 * messages, user callbacks and retries run from a "kick" timer on the loop.
 */
#include "publish_internal.h"

#include "alloc.h"
#include "hostport.h"
#include "index.h"
#include "publish_judge.h"
#include "publish_probe.h"
#include "transport.h"
#include "random.h"
#include "reconcile.h"
#include "tsig.h"
#include "update.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_MS 2000u
#define DEFAULT_BATCH 250u
#define MAX_BATCH 1000u
#define DEFAULT_IN_FLIGHT 16u
#define MAX_IN_FLIGHT 64u
#define DEFAULT_RETRY_MIN_MS 100u
#define DEFAULT_RETRY_MAX_MS 10000u
#define MSG_CAP 65535u
#define TSIG_ROOM 400u /* TSIG RR: key and algorithm names, 64-byte MAC */
#define UDP_MAX 512u   /* larger messages go over TCP (RFC 1035 4.2.1) */
/* A TCP message waits at least this many times timeout_ms, and this many
 * times what the server has shown it takes per group: a slow primary
 * (PowerDNS applies 250 groups in a zone of 5,000 records in 2.3-2.7 s) is
 * never given up on while it may still apply the batch, which it would
 * then apply again. */
#define TCP_TIMEOUT_FACTOR 10u
#define TCP_TIMEOUT_PER_GROUP_FACTOR 8.0
#define TCP_TIMEOUT_MAX_MS 600000u
/* A refusal (NOTAUTH, REFUSED, a TSIG error) stops the publisher only when
 * this many answers in a row say so: those replies are unsigned (a server
 * cannot sign BADKEY), so one forged datagram must not halt publishing. */
#define STOP_CONFIRMATIONS 3u
#define NONE UINT32_MAX

/* A switch waiting for a group's generation to be published. Several may
 * wait on one group (a forced second switch). */
typedef struct fo__watch {
  struct fo__watch *next;
  uint64_t gen;
  fo__publish_watch_fn fn;
  void *userdata;
} fo__watch;

typedef struct fo__pubrec {
  fo_group *group;        /* NULL: a deleted group's name found by reconcile */
  char *name;             /* that name (group == NULL only) */
  uint64_t published_gen; /* last generation the server confirmed */
  fo__watch *watches;
  uint32_t qnext;         /* queue link */
  uint8_t queued;
  uint8_t in_flight;
  uint8_t notify;         /* in the notify list */
  uint8_t done;           /* a name-only record that was published */
} fo__pubrec;

typedef struct fo__pubmsg {
  fo_publisher *pub;
  uint32_t epoch; /* pub->epoch when sent */
  size_t count;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len;
  uint32_t *recs;
  uint64_t *gens;
  uint64_t sent_ns;
  int tcp;
} fo__pubmsg;

struct fo_publisher {
  fo_allocator alloc;
  uv_loop_t *loop;
  fo_registry *reg;
  uint32_t sub_id;
  char zone[FO_NAME_BUFSIZE];
  fo__hostport server;
  fo__tsig_key key;
  uint32_t timeout_ms, batch, max_in_flight, retry_min_ms, retry_max_ms;
  double tcp_ms_per_group; /* the server's recent commit time per group */
  fo_published_fn on_published;
  fo_publish_error_fn on_error;
  void *userdata;

  fo__dnsx *x; /* the transport to the primary */
  uv_timer_t kick;
  int kick_armed;

  fo__pubrec *recs;
  uint32_t nrecs, cap;
  fo__index by_group;
  uint32_t qhead, qtail;
  uint32_t in_flight;

  uint32_t *notify;
  uint32_t nnotify, notify_cap;

  int error;         /* stopped on this */
  int error_pending; /* on_error and watchers not yet told */
  int watch_error_pending; /* watches added while stopped: tell them */
  uint32_t epoch;    /* bumped by set_key and resume: older replies cannot
                        stop the publisher again */
  int lost_track;    /* a change could not be recorded (FO_ENOMEM) */
  unsigned failures; /* retryable failures in a row */
  unsigned refusals; /* stop verdicts in a row (STOP_CONFIRMATIONS) */
  uint64_t resume_ns;/* backoff: no sending before this */

  /* reconcile */
  fo__axfr *axfr;
  fo__reconcile *rc;
  int rc_apply;
  fo_plan_fn rc_cb;
  void *rc_userdata;

  fo__random_pool pool;
  uint8_t *buf;
  int closing;
  unsigned open;
  fo_verifier_closed_fn closed;
  void *closed_userdata;
};

/* ---- records ----------------------------------------------------------------- */

static uint32_t ptr_tag(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return fo__index_tag(x);
}

static int rec_matches(const void *ctx, uint32_t item, const void *key) {
  const fo_publisher *pub = ctx;
  return pub->recs[item].group == key;
}

static const fo__index_ops rec_ops = {rec_matches};

static fo__pubrec *find_rec(const fo_publisher *pub, const fo_group *g,
                            uint32_t *idx) {
  uint32_t i = fo__index_find(&pub->by_group, ptr_tag(g), g, &rec_ops, pub);
  if (i == UINT32_MAX)
    return NULL;
  if (idx)
    *idx = i;
  return &pub->recs[i];
}

/* A new record slot (zeroed); grows the array. */
static int new_rec(fo_publisher *pub, uint32_t *idx) {
  if (pub->nrecs == pub->cap) {
    uint32_t cap = pub->cap ? pub->cap * 2 : 64;
    fo__pubrec *grown =
        fo__realloc_array(&pub->alloc, pub->recs, cap, sizeof(*grown));
    if (grown == NULL)
      return FO_ENOMEM;
    pub->recs = grown;
    pub->cap = cap;
  }
  memset(&pub->recs[pub->nrecs], 0, sizeof(pub->recs[0]));
  pub->recs[pub->nrecs].qnext = NONE;
  *idx = pub->nrecs++;
  return 0;
}

static int get_rec(fo_publisher *pub, fo_group *g, uint32_t *idx) {
  int rc;
  if (find_rec(pub, g, idx) != NULL)
    return 0;
  if ((rc = fo__index_reserve(&pub->by_group, &pub->alloc,
                              pub->by_group.len + 1)) != 0 ||
      (rc = new_rec(pub, idx)) != 0)
    return rc;
  pub->recs[*idx].group = g;
  fo__index_insert(&pub->by_group, ptr_tag(g), *idx);
  return 0;
}

static uint64_t generation_of(const fo__pubrec *r) {
  uint64_t gen = 0;
  if (r->group != NULL)
    fo_group_generation(r->group, &gen);
  return gen;
}

/* ---- queue, kick -------------------------------------------------------------- */

static void kick_cb(uv_timer_t *t);

static void arm_kick_in(fo_publisher *pub, uint64_t ms) {
  if (pub->closing)
    return;
  if (pub->kick_armed && ms > 0)
    return; /* an earlier kick will look again */
  pub->kick_armed = 1;
  (void)uv_timer_start(&pub->kick, kick_cb, ms, 0);
}

static void arm_kick(fo_publisher *pub) { arm_kick_in(pub, 0); }

static void push_back(fo_publisher *pub, uint32_t i) {
  fo__pubrec *r = &pub->recs[i];
  if (r->queued || r->in_flight)
    return;
  r->queued = 1;
  r->qnext = NONE;
  if (pub->qtail != NONE)
    pub->recs[pub->qtail].qnext = i;
  else
    pub->qhead = i;
  pub->qtail = i;
}

static void push_front(fo_publisher *pub, uint32_t i) {
  fo__pubrec *r = &pub->recs[i];
  r->queued = 1;
  r->qnext = pub->qhead;
  pub->qhead = i;
  if (pub->qtail == NONE)
    pub->qtail = i;
}

static uint32_t pop_front(fo_publisher *pub) {
  uint32_t i = pub->qhead;
  if (i == NONE)
    return NONE;
  pub->qhead = pub->recs[i].qnext;
  if (pub->qhead == NONE)
    pub->qtail = NONE;
  pub->recs[i].queued = 0;
  pub->recs[i].qnext = NONE;
  return i;
}

static void add_notify(fo_publisher *pub, uint32_t i) {
  if (pub->recs[i].notify)
    return;
  if (pub->nnotify == pub->notify_cap) {
    uint32_t cap = pub->notify_cap ? pub->notify_cap * 2 : 64;
    uint32_t *grown =
        fo__realloc_array(&pub->alloc, pub->notify, cap, sizeof(*grown));
    if (grown == NULL)
      return; /* only the callback is lost; the state is right */
    pub->notify = grown;
    pub->notify_cap = cap;
  }
  pub->recs[i].notify = 1;
  pub->notify[pub->nnotify++] = i;
}

/* ---- the change feed ------------------------------------------------------------ */

static void on_change(const fo_change *change, void *userdata) {
  fo_publisher *pub = userdata;
  uint32_t i;
  if (pub->closing)
    return;
  if (get_rec(pub, change->group, &i) != 0) {
    /* Cannot remember the change: stop loudly; resume re-reads all. */
    pub->lost_track = 1;
    if (!pub->error) {
      pub->error = FO_ENOMEM;
      pub->error_pending = 1;
    }
    arm_kick(pub);
    return;
  }
  push_back(pub, i);
  arm_kick(pub);
}

/* ---- messages -------------------------------------------------------------------- */

/* Put one record's change into the update: delete everything at the name
 * (the publisher owns it), then add the desired records. */
static int add_change(fo_publisher *pub, fo__update *u, fo__pubrec *r,
                      uint64_t *gen) {
  char name[FO_NAME_BUFSIZE];
  fo_rrset set;
  size_t k;
  int rc;
  if (r->group == NULL) {
    *gen = 0;
    return fo__update_delete_name(u, r->name);
  }
  if ((rc = fo_group_address(r->group, name, sizeof(name))) != 0 ||
      (rc = fo_group_records(r->group, &set)) != 0)
    return rc;
  *gen = generation_of(r);
  if ((rc = fo__update_delete_name(u, name)) != 0)
    return rc;
  for (k = 0; k < set.count; k++) {
    const fo_record *rr = &set.records[k];
    rc = fo__update_add(u, name, (uint16_t)rr->type, rr->ttl, rr->data);
    if (rc != 0)
      return rc;
  }
  (void)pub;
  return 0;
}

static void reply_cb(int status, int detail, const unsigned char *abuf,
                     size_t alen, unsigned tries, void *arg);

static void free_msg(fo_publisher *pub, fo__pubmsg *m) {
  fo__free(&pub->alloc, m->recs);
  fo__free(&pub->alloc, m->gens);
  fo__free(&pub->alloc, m);
}

/* Build and send one UPDATE from the front of the queue. Returns 0, or
 * FO_ENOMEM (nothing taken from the queue then). */
static uint32_t tcp_timeout(const fo_publisher *pub, size_t groups) {
  double ms = TCP_TIMEOUT_PER_GROUP_FACTOR * pub->tcp_ms_per_group *
              (double)groups;
  double floor_ms = (double)pub->timeout_ms * TCP_TIMEOUT_FACTOR;
  if (ms < floor_ms)
    ms = floor_ms;
  return ms > TCP_TIMEOUT_MAX_MS ? TCP_TIMEOUT_MAX_MS : (uint32_t)ms;
}

/* What the server showed: the time per group of an answered TCP message.
 * The largest recent one counts; older ones fade. */
static void observe_commit(fo_publisher *pub, const fo__pubmsg *m) {
  double per_group;
  if (!m->tcp || m->count == 0)
    return;
  per_group = (double)(uv_hrtime() - m->sent_ns) / 1e6 / (double)m->count;
  pub->tcp_ms_per_group *= 0.9;
  if (per_group > pub->tcp_ms_per_group)
    pub->tcp_ms_per_group = per_group;
}

static int send_one(fo_publisher *pub) {
  fo__pubmsg *m;
  fo__update u;
  size_t len;
  uint16_t id = 0;
  int rc;

  m = fo__calloc(&pub->alloc, 1, sizeof(*m));
  if (m == NULL)
    return FO_ENOMEM;
  m->pub = pub;
  m->epoch = pub->epoch;
  m->recs = fo__calloc(&pub->alloc, pub->batch, sizeof(*m->recs));
  m->gens = fo__calloc(&pub->alloc, pub->batch, sizeof(*m->gens));
  if (m->recs == NULL || m->gens == NULL) {
    free_msg(pub, m);
    return FO_ENOMEM;
  }
  (void)fo__random_read(&pub->pool, &id, sizeof(id));
  if ((rc = fo__update_begin(&u, pub->buf, MSG_CAP - TSIG_ROOM, id,
                             pub->zone)) != 0) {
    free_msg(pub, m);
    return rc;
  }
  while (m->count < pub->batch && pub->qhead != NONE) {
    uint32_t i = pub->qhead;
    fo__update_mark mark = fo__update_mark_get(&u);
    uint64_t gen;
    if (add_change(pub, &u, &pub->recs[i], &gen) != 0) {
      fo__update_rollback(&u, mark);
      if (m->count == 0) { /* cannot happen: one group always fits */
        pop_front(pub);
        continue;
      }
      break;
    }
    pop_front(pub);
    pub->recs[i].in_flight = 1;
    m->recs[m->count] = i;
    m->gens[m->count] = gen;
    m->count++;
  }
  if (m->count == 0) {
    free_msg(pub, m);
    return 0;
  }
  len = fo__update_finish(&u);
  rc = fo__tsig_sign(&pub->key, pub->buf, &len, MSG_CAP,
                     (uint64_t)time(NULL), m->mac, &m->mac_len);
  pub->in_flight++;
  /* A message over 512 octets would come back truncated over UDP: it goes
   * over TCP at once, with a timeout sized for the server. A message the
   * transport cannot queue is judged now (put back, retried with backoff). */
  m->tcp = len > UDP_MAX;
  m->sent_ns = uv_hrtime();
  if (rc != 0 || fo__dnsx_send_timed(pub->x, pub->buf, len, m->tcp,
                                     m->tcp ? tcp_timeout(pub, m->count) : 0,
                                     reply_cb, m) != 0)
    reply_cb(FO_EIO, FO__DNSX_LOCAL, NULL, 0, 0, m);
  return 0;
}

static uint64_t backoff_ms(fo_publisher *pub) {
  uint64_t ms = pub->retry_min_ms;
  uint16_t r = 0;
  unsigned k;
  for (k = 1; k < pub->failures && ms < pub->retry_max_ms; k++)
    ms *= 2;
  if (ms > pub->retry_max_ms)
    ms = pub->retry_max_ms;
  /* Jitter: between half and all of it, so that many publishers that lost
   * the same server do not come back in step. */
  (void)fo__random_read(&pub->pool, &r, sizeof(r));
  return ms / 2 + (ms / 2) * r / 65535u;
}

/* Group k of the message is in the zone as sent. */
static void confirmed(fo_publisher *pub, fo__pubmsg *m, size_t k) {
  fo__pubrec *r = &pub->recs[m->recs[k]];
  r->in_flight = 0;
  if (m->gens[k] > r->published_gen)
    r->published_gen = m->gens[k];
  if (r->group == NULL)
    r->done = 1;
  else if (generation_of(r) > r->published_gen)
    push_back(pub, m->recs[k]); /* changed meanwhile: send again */
  add_notify(pub, m->recs[k]);
}

/* Group k goes back to the front of the queue (call in reverse order to
 * keep the batch's order). */
static void put_back(fo_publisher *pub, fo__pubmsg *m, size_t k) {
  pub->recs[m->recs[k]].in_flight = 0;
  push_front(pub, m->recs[k]);
}

/* The answer to the probe of an UPDATE whose outcome was unknown: what the
 * zone already holds as sent is confirmed, the rest goes back. */
static void probed(const uint8_t *in_step, int ok, void *userdata) {
  fo__pubmsg *m = userdata;
  fo_publisher *pub = m->pub;
  size_t k, back = 0;
  pub->in_flight--;
  if (pub->closing) {
    free_msg(pub, m);
    return;
  }
  for (k = m->count; k-- > 0;) {
    fo__pubrec *r = &pub->recs[m->recs[k]];
    if (ok && in_step[k] &&
        (r->group == NULL || generation_of(r) == m->gens[k])) {
      confirmed(pub, m, k);
    } else {
      put_back(pub, m, k);
      back++;
    }
  }
  if (back > 0) {
    pub->failures++;
    pub->resume_ns = uv_hrtime() + backoff_ms(pub) * 1000000u;
  } else {
    pub->failures = 0;
  }
  free_msg(pub, m);
  arm_kick(pub);
}

/* A timeout or a connection lost after sending: the server may have
 * applied the UPDATE. Ask the zone before sending it again. Returns 0 when
 * the probe runs (it answers through probed()). */
static int probe_unknown(fo_publisher *pub, fo__pubmsg *m) {
  const char **names;
  fo_rrset *desired;
  char (*buf)[FO_NAME_BUFSIZE];
  size_t k;
  int rc = FO_ENOMEM;
  names = fo__calloc(&pub->alloc, m->count, sizeof(*names));
  desired = fo__calloc(&pub->alloc, m->count, sizeof(*desired));
  buf = fo__calloc(&pub->alloc, m->count, sizeof(*buf));
  if (names != NULL && desired != NULL && buf != NULL) {
    for (k = 0; k < m->count; k++) {
      const fo__pubrec *r = &pub->recs[m->recs[k]];
      if (r->group != NULL) {
        fo_group_address(r->group, buf[k], sizeof(buf[k]));
        fo_group_records(r->group, &desired[k]);
      } else {
        snprintf(buf[k], sizeof(buf[k]), "%s", r->name);
        desired[k].count = 0; /* a deleted group's name: nothing */
      }
      names[k] = buf[k];
    }
    pub->in_flight++; /* the message stays out until the probe answers */
    rc = fo__probe_start(pub->x, &pub->alloc, names, desired, m->count,
                         probed, m);
    if (rc != 0)
      pub->in_flight--;
  }
  fo__free(&pub->alloc, names);
  fo__free(&pub->alloc, desired);
  fo__free(&pub->alloc, buf);
  return rc;
}

static int outcome_unknown(int status, int detail) {
  return status == FO_ETIMEDOUT ||
         (status == FO_EIO &&
          (detail == FO__DNSX_CLOSED || detail == FO__DNSX_GARBAGE));
}

static void reply_cb(int status, int detail, const unsigned char *abuf,
                     size_t alen, unsigned tries, void *arg) {
  fo__pubmsg *m = arg;
  fo_publisher *pub = m->pub;
  size_t k;
  int verdict;
  (void)tries;

  pub->in_flight--;
  if (status == FO_ECANCELED || pub->closing) {
    free_msg(pub, m);
    return;
  }
  if (outcome_unknown(status, detail) && probe_unknown(pub, m) == 0)
    return;
  if (status == 0)
    observe_commit(pub, m);
  verdict = fo__publish_judge(&pub->key, m->mac, m->mac_len, status, abuf,
                              alen, (uint64_t)time(NULL));
  if (verdict < 0 && m->epoch != pub->epoch)
    verdict = 1; /* sent with the old key or before resuming: try again */
  if (verdict < 0 && ++pub->refusals < STOP_CONFIRMATIONS)
    verdict = 1; /* ask again before believing it */
  if (verdict == 0) {
    pub->failures = 0;
    pub->refusals = 0;
    for (k = 0; k < m->count; k++)
      confirmed(pub, m, k);
  } else {
    /* Put the batch back in front, in its order: nothing is lost. */
    for (k = m->count; k-- > 0;)
      put_back(pub, m, k);
    if (verdict == 1) {
      pub->failures++;
      pub->resume_ns = uv_hrtime() + backoff_ms(pub) * 1000000u;
    } else if (!pub->error) {
      pub->error = verdict;
      pub->error_pending = 1;
    }
  }
  free_msg(pub, m);
  arm_kick(pub);
}

/* Take the watches of record i that are due (all of them when `all`) out
 * of its list: callbacks may add watches and grow the record array. */
static fo__watch *take_watches(fo_publisher *pub, uint32_t i, int all) {
  fo__watch **p = &pub->recs[i].watches, *due = NULL;
  while (*p != NULL) {
    fo__watch *w = *p;
    if (all || w->gen <= pub->recs[i].published_gen) {
      *p = w->next;
      w->next = due;
      due = w;
    } else {
      p = &w->next;
    }
  }
  return due;
}

static void call_watches(fo_publisher *pub, fo_group *g, fo__watch *due,
                         int error) {
  while (due != NULL) {
    fo__watch *w = due;
    due = w->next;
    w->fn(g, error, w->userdata);
    fo__free(&pub->alloc, w);
  }
}

static void tell_watchers(fo_publisher *pub, int error) {
  uint32_t i;
  for (i = 0; i < pub->nrecs; i++)
    if (pub->recs[i].watches != NULL)
      call_watches(pub, pub->recs[i].group, take_watches(pub, i, 1), error);
}

static void kick_cb(uv_timer_t *t) {
  fo_publisher *pub = t->data;
  uint32_t n, k;
  pub->kick_armed = 0;

  /* A failed store commit left memory ahead of the store: DNS must never
   * get ahead of the store, so stop loudly until the registry is reopened
   * (with a new publisher, whose reconcile brings DNS in step). */
  if (!pub->error && fo_registry_poisoned(pub->reg)) {
    pub->error = FO_EPOISONED;
    pub->error_pending = 1;
  }
  /* Changes of an open batch are not in the store yet: wait for its
   * commit before sending any of them. */
  if (!pub->error && fo__registry_in_batch(pub->reg)) {
    arm_kick_in(pub, 1);
    return;
  }

  /* Published groups: the watchers (switch workflow), then the user. The
   * list is taken first: callbacks may change the registry, which queues
   * more work and more notifications. */
  n = pub->nnotify;
  for (k = 0; k < n && !pub->closing; k++) {
    uint32_t i = pub->notify[k];
    fo__pubrec *r = &pub->recs[i];
    r->notify = 0;
    if (r->group == NULL)
      continue;
    if (r->watches != NULL) {
      call_watches(pub, r->group, take_watches(pub, i, 0), 0);
      r = &pub->recs[i]; /* the callbacks may have grown the array */
    }
    if (pub->on_published && !pub->closing)
      pub->on_published(r->group, r->published_gen, pub->userdata);
  }
  if (!pub->closing && n > 0) {
    memmove(pub->notify, pub->notify + n,
            (pub->nnotify - n) * sizeof(pub->notify[0]));
    pub->nnotify -= n;
  }
  if (pub->error_pending && !pub->closing) {
    pub->error_pending = 0;
    tell_watchers(pub, pub->error);
    if (pub->on_error)
      pub->on_error(pub->error, pub->userdata);
  }
  if (pub->watch_error_pending && !pub->closing) {
    pub->watch_error_pending = 0;
    if (pub->error)
      tell_watchers(pub, pub->error);
  }
  if (pub->closing || pub->error)
    return;
  if (pub->resume_ns > uv_hrtime()) {
    arm_kick_in(pub, (pub->resume_ns - uv_hrtime()) / 1000000u + 1);
    return;
  }
  /* A send can fail at once and be judged at once (put back, backoff or
   * stop): look at that before sending again. */
  while (!pub->error && pub->resume_ns <= uv_hrtime() &&
         pub->in_flight < pub->max_in_flight && pub->qhead != NONE)
    if (send_one(pub) != 0)
      break;
  if (!pub->error && pub->resume_ns > uv_hrtime() && pub->qhead != NONE)
    arm_kick_in(pub, (pub->resume_ns - uv_hrtime()) / 1000000u + 1);
  if (pub->nnotify > 0)
    arm_kick(pub);
}

/* ---- life cycle --------------------------------------------------------------- */

int fo_publisher_options_init(fo_publisher_options *opts,
                              unsigned int version) {
  return fo__options_init(opts, sizeof(*opts), version,
                          FO_PUBLISHER_OPTIONS_VERSION);
}

static int check_options(const fo_publisher_options *o) {
  if (o->version != FO_PUBLISHER_OPTIONS_VERSION)
    return FO_EVERSION;
  if (o->server == NULL || o->key == NULL)
    return FO_EINVAL;
  if (o->allocator &&
      (!o->allocator->malloc || !o->allocator->realloc || !o->allocator->free))
    return FO_EINVAL;
  if (o->batch_groups > MAX_BATCH || o->max_in_flight > MAX_IN_FLIGHT ||
      o->timeout_ms > 60000u ||
      (o->retry_min_ms && o->retry_max_ms && o->retry_min_ms > o->retry_max_ms))
    return FO_ERANGE;
  return 0;
}

static void maybe_free(fo_publisher *pub) {
  fo_verifier_closed_fn closed = pub->closed;
  void *userdata = pub->closed_userdata;
  fo_allocator alloc = pub->alloc;
  uint32_t i;
  if (pub->open != 0)
    return;
  if (pub->sub_id != 0)
    fo_registry_unsubscribe(pub->reg, pub->sub_id);
  for (i = 0; i < pub->nrecs; i++) {
    fo__free(&alloc, pub->recs[i].name);
    while (pub->recs[i].watches != NULL) { /* none after close; be sure */
      fo__watch *w = pub->recs[i].watches;
      pub->recs[i].watches = w->next;
      fo__free(&alloc, w);
    }
  }
  fo__free(&alloc, pub->recs);
  fo__free(&alloc, pub->notify);
  fo__index_free(&pub->by_group, &alloc);
  fo__free(&alloc, pub->buf);
  fo__tsig_key_wipe(&pub->key);
  fo__free(&alloc, pub);
  if (closed)
    closed(userdata);
}

static void handle_closed(uv_handle_t *h) {
  fo_publisher *pub = h->data;
  pub->open--;
  maybe_free(pub);
}

static void channel_closed(void *userdata) {
  fo_publisher *pub = userdata;
  pub->open--;
  maybe_free(pub);
}

int fo_publisher_new(fo_publisher **out, uv_loop_t *loop, fo_registry *reg,
                     const fo_publisher_options *o) {
  fo__dnsx_config cfg;
  fo_publisher *pub;
  fo_allocator alloc;
  const char *zone;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || loop == NULL || reg == NULL || o == NULL)
    return FO_EINVAL;
  if ((rc = check_options(o)) != 0)
    return rc;
  if (o->allocator)
    alloc = *o->allocator;
  else
    fo__alloc_default(&alloc);
  if ((pub = fo__calloc(&alloc, 1, sizeof(*pub))) == NULL)
    return FO_ENOMEM;
  pub->alloc = alloc;
  pub->loop = loop;
  pub->reg = reg;
  pub->qhead = pub->qtail = NONE;
  pub->key = *fo__tsig_key_of(o->key);
  pub->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
  pub->batch = o->batch_groups ? o->batch_groups : DEFAULT_BATCH;
  pub->max_in_flight = o->max_in_flight ? o->max_in_flight : DEFAULT_IN_FLIGHT;
  pub->retry_min_ms = o->retry_min_ms ? o->retry_min_ms : DEFAULT_RETRY_MIN_MS;
  pub->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : DEFAULT_RETRY_MAX_MS;
  pub->on_published = o->on_published;
  pub->on_error = o->on_error;
  pub->userdata = o->userdata;
  fo_registry_zone(reg, &zone);
  strcpy(pub->zone, zone);
  rc = fo__hostport_parse(o->server, 53, &pub->server);
  if (rc == 0 && (pub->buf = fo__malloc(&alloc, MSG_CAP)) == NULL)
    rc = FO_ENOMEM;
  if (rc == 0 && uv_timer_init(loop, &pub->kick) != 0)
    rc = FO_EIO;
  if (rc != 0) {
    fo__free(&alloc, pub->buf);
    fo__tsig_key_wipe(&pub->key);
    fo__free(&alloc, pub);
    return rc;
  }
  pub->kick.data = pub;
  pub->open = 1;

  memset(&cfg, 0, sizeof(cfg));
  cfg.server = &pub->server;
  cfg.timeout_ms = pub->timeout_ms;
  cfg.tries = 1; /* retries are ours: with backoff, and re-signed */
  rc = fo__dnsx_new(&pub->x, loop, &pub->alloc, &cfg);
  if (rc == 0)
    rc = fo_registry_subscribe(reg, on_change, pub, &pub->sub_id);
  if (rc != 0) {
    pub->sub_id = 0;
    fo_publisher_close(pub, NULL, NULL);
    return rc;
  }
  *out = pub;
  return 0;
}

void fo_publisher_close(fo_publisher *pub, fo_verifier_closed_fn closed,
                        void *userdata) {
  if (pub == NULL || pub->closing)
    return;
  /* From inside a change callback the registry answers FO_EBUSY; then the
   * subscription goes when the memory does (on_change ignores events
   * meanwhile). */
  if (pub->sub_id != 0 && fo_registry_unsubscribe(pub->reg, pub->sub_id) == 0)
    pub->sub_id = 0;
  /* Closing from here on, so that callbacks below cannot start new work. */
  pub->closing = 1;
  tell_watchers(pub, FO_ECANCELED);
  if (pub->axfr != NULL)
    fo__axfr_cancel(pub->axfr); /* the plan callback gets FO_ECANCELED */
  pub->closed = closed;
  pub->closed_userdata = userdata;
  uv_timer_stop(&pub->kick);
  uv_close((uv_handle_t *)&pub->kick, handle_closed);
  if (pub->x != NULL) {
    fo__dnsx *x = pub->x;
    pub->open++;
    pub->x = NULL;
    fo__dnsx_close(x, channel_closed, pub);
  }
}

/* ---- queries and controls ------------------------------------------------------ */

int fo_publisher_publish_all(fo_publisher *pub) {
  fo_group *g;
  if (pub == NULL)
    return FO_EINVAL;
  if (pub->closing)
    return FO_ECLOSING;
  for (g = fo_registry_next_group(pub->reg, NULL); g != NULL;
       g = fo_registry_next_group(pub->reg, g)) {
    uint32_t i;
    if (get_rec(pub, g, &i) != 0)
      return FO_ENOMEM; /* those queued so far stay queued */
    push_back(pub, i);
  }
  pub->lost_track = 0;
  arm_kick(pub);
  return 0;
}

int fo_publisher_group_status(const fo_publisher *pub, const fo_group *g,
                              fo_publish_status *out) {
  const fo__pubrec *r;
  fo_registry *reg;
  if (pub == NULL || g == NULL || out == NULL)
    return FO_EINVAL;
  if (fo_group_registry(g, &reg) != 0 || reg != pub->reg)
    return FO_EFOREIGN;
  memset(out, 0, sizeof(*out));
  fo_group_generation(g, &out->generation);
  r = find_rec(pub, g, NULL);
  if (r != NULL)
    out->published_generation = r->published_gen;
  if (r != NULL && r->published_gen == out->generation)
    out->state = FO_PUBLISH_PUBLISHED;
  else if (pub->error)
    out->state = FO_PUBLISH_FAILED;
  else if (r != NULL && r->in_flight)
    out->state = FO_PUBLISH_IN_FLIGHT;
  else
    out->state = FO_PUBLISH_PENDING;
  out->error = out->state == FO_PUBLISH_FAILED ? pub->error : 0;
  return 0;
}

int fo_publisher_pending(const fo_publisher *pub, size_t *out) {
  uint32_t i;
  size_t n = 0;
  if (pub == NULL || out == NULL)
    return FO_EINVAL;
  for (i = 0; i < pub->nrecs; i++) {
    const fo__pubrec *r = &pub->recs[i];
    if (r->group != NULL ? generation_of(r) != r->published_gen : !r->done)
      n++;
  }
  *out = n;
  return 0;
}

int fo_publisher_error(const fo_publisher *pub) {
  return pub == NULL ? FO_EINVAL : pub->error;
}

int fo_publisher_set_key(fo_publisher *pub, const fo_tsig_key *key) {
  if (pub == NULL || key == NULL)
    return FO_EINVAL;
  fo__tsig_key_wipe(&pub->key);
  pub->key = *fo__tsig_key_of(key);
  pub->epoch++;
  return 0;
}

int fo_publisher_resume(fo_publisher *pub) {
  int lost;
  if (pub == NULL)
    return FO_EINVAL;
  if (pub->closing)
    return FO_ECLOSING;
  lost = pub->lost_track;
  pub->epoch++;
  pub->refusals = 0;
  pub->error = 0;
  pub->error_pending = 0;
  pub->failures = 0;
  pub->resume_ns = 0;
  if (lost)
    return fo_publisher_publish_all(pub);
  arm_kick(pub);
  return 0;
}

/* ---- the switch workflow's hooks ------------------------------------------------ */

int fo__publisher_watch(fo_publisher *pub, fo_group *g, uint64_t gen,
                        fo__publish_watch_fn fn, void *userdata) {
  fo__watch *w;
  uint32_t i;
  int rc;
  if (pub->closing)
    return FO_ECLOSING;
  if ((w = fo__malloc(&pub->alloc, sizeof(*w))) == NULL)
    return FO_ENOMEM;
  if ((rc = get_rec(pub, g, &i)) != 0) {
    fo__free(&pub->alloc, w);
    return rc;
  }
  w->gen = gen;
  w->fn = fn;
  w->userdata = userdata;
  w->next = pub->recs[i].watches;
  pub->recs[i].watches = w;
  if (pub->recs[i].published_gen >= gen)
    add_notify(pub, i); /* already there: say so from the loop */
  else
    push_back(pub, i); /* a change that sent no event still gets sent */
  if (pub->error && !pub->error_pending)
    pub->watch_error_pending = 1; /* stopped already: fail it from the loop */
  arm_kick(pub);
  return 0;
}

int fo__publisher_unwatch(fo_publisher *pub, fo_group *g, void *userdata) {
  fo__pubrec *r = find_rec(pub, g, NULL);
  fo__watch **p;
  if (r == NULL)
    return FO_ENOENT;
  for (p = &r->watches; *p != NULL; p = &(*p)->next) {
    if ((*p)->userdata == userdata) {
      fo__watch *w = *p;
      *p = w->next;
      fo__free(&pub->alloc, w);
      return 0;
    }
  }
  return FO_ENOENT;
}

fo_registry *fo__publisher_registry(const fo_publisher *pub) {
  return pub->reg;
}

uv_loop_t *fo__publisher_loop(const fo_publisher *pub) { return pub->loop; }

const fo_allocator *fo__publisher_alloc(const fo_publisher *pub) {
  return &pub->alloc;
}

int fo__publisher_closing(const fo_publisher *pub) { return pub->closing; }

/* ---- reconcile ------------------------------------------------------------------ */

static void reconcile_rr(const fo__zone_rr *rr, void *userdata) {
  fo_publisher *pub = userdata;
  if (fo__reconcile_add(pub->rc, rr) != 0) {
    /* The plan would be wrong: report it rather than plan from half. */
    pub->rc_apply = -1;
  }
}

static void mark_in_step(fo_group *g, void *userdata) {
  fo_publisher *pub = userdata;
  uint32_t i;
  if (get_rec(pub, g, &i) == 0 && !pub->recs[i].in_flight &&
      !pub->recs[i].queued)
    pub->recs[i].published_gen = generation_of(&pub->recs[i]);
}

/* Queue what the plan says must change. */
static int apply_plan(fo_publisher *pub, const fo_plan *plan) {
  size_t k;
  for (k = 0; k < plan->count; k++) {
    const fo_plan_entry *e = &plan->entries[k];
    uint32_t i;
    int rc;
    if (e->group != NULL) {
      rc = get_rec(pub, e->group, &i);
      /* The zone differs from what was confirmed: the group is no longer
       * published until this repair is (status never runs ahead of the
       * server, and a refused repair reads failed, not published). */
      if (rc == 0)
        pub->recs[i].published_gen = 0;
    } else {
      rc = new_rec(pub, &i);
      if (rc == 0 &&
          (pub->recs[i].name = fo__strdup(&pub->alloc, e->name)) == NULL) {
        pub->nrecs--; /* give the slot back */
        rc = FO_ENOMEM;
      }
    }
    if (rc != 0)
      return rc;
    push_back(pub, i);
  }
  arm_kick(pub);
  return 0;
}

static void reconcile_done(int error, void *userdata) {
  fo_publisher *pub = userdata;
  fo_plan_fn cb = pub->rc_cb;
  void *cb_userdata = pub->rc_userdata;
  fo__reconcile *rc = pub->rc;
  fo_plan plan;
  pub->axfr = NULL;
  memset(&plan, 0, sizeof(plan));
  if (error == 0 && pub->rc_apply == -1)
    error = FO_ENOMEM;
  if (error == 0 && pub->closing)
    error = FO_ECANCELED;
  if (error == 0)
    error = fo__reconcile_plan(rc, &plan, pub->rc_apply ? mark_in_step : NULL,
                               pub);
  if (error == 0 && pub->rc_apply)
    error = apply_plan(pub, &plan);
  plan.error = error;
  pub->rc = NULL; /* the callback may start the next reconcile */
  cb(&plan, cb_userdata);
  fo__reconcile_free(rc);
}

int fo_publisher_reconcile(fo_publisher *pub, int apply, fo_plan_fn cb,
                           void *userdata) {
  int rc;
  if (pub == NULL || cb == NULL)
    return FO_EINVAL;
  if (pub->closing)
    return FO_ECLOSING;
  if (pub->rc != NULL)
    return FO_EBUSY;
  if ((rc = fo__reconcile_new(&pub->rc, &pub->alloc, pub->reg)) != 0)
    return rc;
  pub->rc_apply = apply != 0;
  pub->rc_cb = cb;
  pub->rc_userdata = userdata;
  rc = fo__axfr_start(&pub->axfr, pub->loop, &pub->alloc, &pub->server,
                      pub->zone, &pub->key, pub->timeout_ms * 5u,
                      reconcile_rr, reconcile_done, pub);
  if (rc != 0) {
    fo__reconcile_free(pub->rc);
    pub->rc = NULL;
    pub->axfr = NULL;
  }
  return rc;
}
