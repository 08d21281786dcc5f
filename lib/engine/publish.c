/*
 * publish.c - the publisher engine: change feed -> coalesced, batched,
 * TSIG-signed RFC 2136 UPDATEs -> the zone's primary server.
 *
 * The pending changes (a record per group, the queue, batches, what is in
 * flight) are publish_queue.c's; this file sends them, judges the answers,
 * retries and stops, and tells the watches and the user.
 *
 * As in the verifier, transport callbacks only record the outcome; building
 * messages, user callbacks and retries run from a "kick" timer on the loop.
 */
#include "publish_engine.h"

#include "alloc.h"
#include "layout.h"
#include "publish_judge.h"
#include "publish_probe.h"
#include "update.h"

#include <inttypes.h>
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
/* A TCP message is waited for as long as its connection is open, up to
 * tcp_wait_ms: a slow primary (PowerDNS applies 250 groups in a zone of
 * 5,000 records in 2.3-2.7 s) is never given up on while it may still
 * apply the batch. A shorter wait sized from the server's past commit
 * times was tried: a primary slower than its past self then applied the
 * old batch after a newer change sent over UDP (tests/test_engine_faults,
 * publisher_slow_tcp_primary_keeps_the_newest). */
#define DEFAULT_TCP_WAIT_MS 600000u
#define MIN_TCP_WAIT_MS 1000u
#define MAX_TCP_WAIT_MS 3600000u
/* A refusal (NOTAUTH, REFUSED, a TSIG error) stops the publisher only when
 * this many answers in a row say so: those replies are unsigned (a server
 * cannot sign BADKEY), so one forged datagram must not halt publishing. */
#define STOP_CONFIRMATIONS 3u

/* The sizes of each version of the structs callers hand in. */
static const size_t options_sizes[] = {
    FO__SIZE_THROUGH(fo_publisher_options, allocator),       /* 1 */
    FO__SIZE_THROUGH(fo_publisher_options, tcp_wait_ms),     /* 2 */
    FO__SIZE_THROUGH(fo_publisher_options, fence_name),      /* 3 */
};
static const fo__layout options_layout = FO__LAYOUT(options_sizes);

static const size_t status_sizes[] = {
    FO__SIZE_THROUGH(fo_publish_status, error),            /* 1 */
    FO__SIZE_THROUGH(fo_publish_status, negative_held_ms), /* 2 */
};
static const fo__layout status_layout = FO__LAYOUT(status_sizes);

static const size_t secondary_sizes[] = {
    FO__SIZE_THROUGH(fo_secondary_status, notifies), /* 1 */
};
static const fo__layout secondary_layout = FO__LAYOUT(secondary_sizes);

/* One UPDATE message out. */
typedef struct fo__pubmsg {
  fo_publisher *pub;
  uint32_t epoch; /* pub->epoch when sent */
  int fenced;     /* carries the fence prerequisite */
  fo__pubbatch batch;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len;
  int tcp;
} fo__pubmsg;

/* ---- the kick ------------------------------------------------------------------ */

static void kick_cb(uv_timer_t *t);

static void arm_kick_in(fo_publisher *pub, uint64_t ms) {
  if (pub->closing)
    return;
  if (pub->kick_armed && ms > 0)
    return; /* an earlier kick will look again */
  pub->kick_armed = 1;
  (void)uv_timer_start(&pub->kick, kick_cb, ms, 0);
}

void fo__pub_arm_kick(fo_publisher *pub) { arm_kick_in(pub, 0); }

static void stop_with(fo_publisher *pub, int error) {
  if (!pub->error) {
    pub->error = error;
    pub->error_pending = 1;
  }
}

void fo__pub_stop(fo_publisher *pub, int error) { stop_with(pub, error); }

/* A newer leader holds the fence: this publisher never sends again. The
 * code replaces an earlier stop's (which resume could have lifted). */
void fo__pub_fenced(fo_publisher *pub) {
  pub->fenced = 1;
  if (pub->error != FO_EFENCED) {
    pub->error = FO_EFENCED;
    pub->error_pending = 1;
  }
}

int fo__pub_weigh(fo_publisher *pub, int verdict, uint32_t sent_epoch) {
  if (verdict < 0 && verdict != FO_EFENCED && sent_epoch != pub->epoch)
    return 1; /* sent with the old key or before resuming: try again */
  if (verdict < 0 && verdict != FO_EFENCED &&
      ++pub->refusals < STOP_CONFIRMATIONS)
    return 1; /* ask again before believing it */
  return verdict;
}

/* ---- the change feed ------------------------------------------------------------ */

static void on_change(const fo_change *change, void *userdata) {
  fo_publisher *pub = userdata;
  uint32_t i;
  if (pub->closing)
    return;
  if (fo__pubq_get(&pub->q, change->group, &i) != 0) {
    /* Cannot remember the change: stop loudly; resume re-reads all. */
    pub->lost_track = 1;
    stop_with(pub, FO_ENOMEM);
    fo__pub_arm_kick(pub);
    return;
  }
  fo__pubq_push(&pub->q, i);
  fo__pub_arm_kick(pub);
}

/* ---- messages -------------------------------------------------------------------- */

/* Put one record's change into the update: delete everything at the name
 * (the publisher owns it), then add the desired records. On failure the
 * update is rolled back to where it was. */
static int add_change(const fo__pubrec *r, uint64_t *gen, uint32_t *ttl,
                      void *ctx) {
  fo__update *u = ctx;
  fo__update_mark mark = fo__update_mark_get(u);
  char name[FO_NAME_BUFSIZE];
  fo_rrset set = FO_RRSET_INIT;
  size_t k;
  int rc;
  if (r->group == NULL) {
    *gen = 0;
    rc = fo__update_delete_name(u, r->name);
  } else if ((rc = fo_group_address(r->group, name, sizeof(name))) == 0 &&
             (rc = fo_group_records(r->group, &set)) == 0) {
    *gen = fo__pubq_generation(r);
    *ttl = set.count > 0 ? set.records[0].ttl : 0;
    rc = fo__update_delete_name(u, name);
    for (k = 0; rc == 0 && k < set.count; k++) {
      const fo_record *rr = &set.records[k];
      rc = fo__update_add(u, name, (uint16_t)rr->type, rr->ttl, rr->data);
    }
  }
  if (rc != 0)
    fo__update_rollback(u, mark);
  return rc;
}

static void reply_cb(int status, int detail, const unsigned char *abuf,
                     size_t alen, unsigned tries, void *arg);

static void free_msg(fo_publisher *pub, fo__pubmsg *m) {
  fo__pubq_batch_free(&pub->q, &m->batch);
  fo__free(&pub->alloc, m);
}


/* Build and send one UPDATE from the front of the queue. Returns 0, or
 * FO_ENOMEM (nothing taken from the queue then). */
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
  if (fo__pubq_batch_new(&pub->q, &m->batch, pub->batch) != 0) {
    free_msg(pub, m);
    return FO_ENOMEM;
  }
  (void)fo__random_read(&pub->pool, &id, sizeof(id));
  /* The fence's prerequisite first, once: add_change's marks come after
   * it, so a group that does not fit never takes it away. */
  if ((rc = fo__update_begin(&u, pub->buf, MSG_CAP - TSIG_ROOM, id,
                             pub->zone)) != 0 ||
      (rc = fo__fence_prereq(pub, &u)) != 0) {
    free_msg(pub, m);
    return rc;
  }
  m->fenced = pub->fence_epoch != 0;
  fo__pubq_fill(&pub->q, &m->batch, pub->batch, add_change, &u);
  if (m->batch.count == 0) {
    free_msg(pub, m);
    return 0;
  }
  len = fo__update_finish(&u);
  rc = fo__tsig_sign(&pub->key, pub->buf, &len, MSG_CAP,
                     (uint64_t)time(NULL), m->mac, &m->mac_len);
  pub->in_flight++;
  /* A message over 512 octets would come back truncated over UDP: it goes
   * over TCP at once, waited for while its connection is open. A message the
   * transport cannot queue is judged now (put back, retried with backoff). */
  m->tcp = len > UDP_MAX;
  if (rc != 0 ||
      fo__dnsx_send_timed(pub->x, pub->buf, len, m->tcp,
                          m->tcp ? pub->tcp_wait_ms : 0,
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

static void back_off(fo_publisher *pub) {
  pub->failures++;
  pub->resume_ns = uv_hrtime() + backoff_ms(pub) * 1000000u;
}

void fo__pub_back_off(fo_publisher *pub) { back_off(pub); }

/* The answer to the probe of an UPDATE whose outcome was unknown: what the
 * zone already holds as sent is confirmed, the rest goes back. */
static void probed(const uint8_t *in_step, int ok, void *userdata) {
  fo__pubmsg *m = userdata;
  fo_publisher *pub = m->pub;
  const fo__pubbatch *b = &m->batch;
  size_t k, back = 0;
  pub->in_flight--;
  if (pub->closing) {
    free_msg(pub, m);
    return;
  }
  for (k = b->count; k-- > 0;) {
    const fo__pubrec *r = &pub->q.recs[b->recs[k]];
    if (ok && in_step[k] &&
        (r->group == NULL || fo__pubq_generation(r) == b->gens[k])) {
      fo__pubq_confirm(&pub->q, b, k, uv_hrtime());
    } else {
      fo__pubq_put_back(&pub->q, b, k);
      back++;
    }
  }
  if (back > 0)
    back_off(pub);
  else
    pub->failures = 0;
  free_msg(pub, m);
  fo__pub_arm_kick(pub);
}

/* A timeout or a connection lost after sending: the server may have
 * applied the UPDATE. Ask the zone before sending it again. Returns 0 when
 * the probe runs (it answers through probed()). */
static int probe_unknown(fo_publisher *pub, fo__pubmsg *m) {
  size_t n = m->batch.count;
  const char **names;
  fo_rrset *desired;
  char (*buf)[FO_NAME_BUFSIZE];
  size_t k;
  int rc = FO_ENOMEM;
  names = fo__calloc(&pub->alloc, n, sizeof(*names));
  desired = fo__calloc(&pub->alloc, n, sizeof(*desired));
  buf = fo__calloc(&pub->alloc, n, sizeof(*buf));
  if (names != NULL && desired != NULL && buf != NULL) {
    for (k = 0; k < n; k++) {
      const fo__pubrec *r = &pub->q.recs[m->batch.recs[k]];
      if (r->group != NULL) {
        fo_group_address(r->group, buf[k], sizeof(buf[k]));
        desired[k].version = FO_RRSET_VERSION;
        fo_group_records(r->group, &desired[k]);
      } else {
        snprintf(buf[k], sizeof(buf[k]), "%s", r->name);
        desired[k].count = 0; /* a deleted group's name: nothing */
      }
      names[k] = buf[k];
    }
    pub->in_flight++; /* the message stays out until the probe answers */
    rc = fo__probe_start(pub->x, &pub->alloc, names, desired, n, probed, m);
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
  verdict = fo__publish_judge_fenced(&pub->key, m->mac, m->mac_len, status,
                                     abuf, alen, (uint64_t)time(NULL),
                                     m->fenced);
  verdict = fo__pub_weigh(pub, verdict, m->epoch);
  if (verdict == 0) {
    pub->failures = 0;
    pub->refusals = 0;
    for (k = 0; k < m->batch.count; k++)
      fo__pubq_confirm(&pub->q, &m->batch, k, uv_hrtime());
    fo__notify_confirmed(pub->notify);
  } else {
    /* Put the batch back in front, in its order: nothing is lost. */
    for (k = m->batch.count; k-- > 0;)
      fo__pubq_put_back(&pub->q, &m->batch, k);
    if (verdict == 1)
      back_off(pub);
    else if (verdict == FO_EFENCED)
      fo__pub_fenced(pub); /* signed: a newer leader claimed the fence */
    else
      stop_with(pub, verdict);
  }
  free_msg(pub, m);
  fo__pub_arm_kick(pub);
}

/* Published groups: the watches, then the user. The list is read as it
 * stands: callbacks may change the registry, which queues more work and
 * more notifications. While `watches` is 0 (the zone's SOA not read yet)
 * the watches are left for later (watch_backlog). */
static void notify_published(fo_publisher *pub, int watches) {
  uint32_t n = fo__pubq_notify_count(&pub->q), k;
  for (k = 0; k < n && !pub->closing; k++) {
    uint32_t i = fo__pubq_notify_at(&pub->q, k);
    if (pub->q.recs[i].group == NULL)
      continue;
    if (pub->q.recs[i].watches != NULL) {
      if (watches) {
        fo__pubwatch_confirmed(pub, i);
        fo__pubwatch_fire(pub);
      } else {
        pub->watch_backlog = 1;
      }
    }
    /* The callbacks may have grown the record array: index again. */
    if (pub->on_published && !pub->closing)
      pub->on_published(pub->q.recs[i].group, pub->q.recs[i].published_gen,
                        pub->userdata);
  }
  if (!pub->closing)
    fo__pubq_notify_drop(&pub->q, n);
}

/* The watches left while the zone's SOA was read: every record's, once. */
static void confirm_backlog(fo_publisher *pub) {
  uint32_t i;
  pub->watch_backlog = 0;
  for (i = 0; i < pub->q.nrecs && !pub->closing; i++)
    if (pub->q.recs[i].watches != NULL)
      fo__pubwatch_confirmed(pub, i);
  fo__pubwatch_fire(pub);
}

static void kick_cb(uv_timer_t *t) {
  fo_publisher *pub = t->data;
  int holding;
  pub->kick_armed = 0;

  /* A failed store commit left memory ahead of the store: DNS must never
   * get ahead of the store, so stop loudly until the registry is reopened
   * (with a new publisher, whose reconcile brings DNS in step). */
  if (!pub->error && fo_registry_poisoned(pub->reg))
    stop_with(pub, FO_EPOISONED);
  /* Changes of an open batch are not in the store yet: wait for its
   * commit before sending any of them. */
  if (!pub->error && fo__registry_in_batch(pub->reg)) {
    arm_kick_in(pub, 1);
    return;
  }

  /* Watches of the first confirmations wait (briefly) for the zone's SOA,
   * so that a watcher reading the status gets the zone's negative TTL;
   * on_published does not wait. (Looked at again in a millisecond: a
   * timer re-armed at 0 from its own callback would keep libuv in its
   * timer phase, and the SOA's answer unread.) */
  holding = !fo__notify_facts_settled(pub->notify, uv_hrtime());
  if (holding)
    arm_kick_in(pub, 1);
  notify_published(pub, !holding);
  if (!holding && pub->watch_backlog)
    confirm_backlog(pub);
  if (pub->error_pending && !pub->closing) {
    pub->error_pending = 0;
    fo__pubwatch_fail_all(pub, pub->error);
    fo__pubwatch_fire(pub);
    if (pub->on_error && !pub->closing)
      pub->on_error(pub->error, pub->userdata);
  }
  if (pub->watch_error_pending && !pub->closing) {
    pub->watch_error_pending = 0;
    if (pub->error)
      fo__pubwatch_fail_all(pub, pub->error);
  }
  if (!holding)
    fo__pubwatch_fire(pub); /* those decided since (already confirmed) */
  if (pub->closing || pub->error)
    return;
  if (pub->resume_ns > uv_hrtime()) {
    arm_kick_in(pub, (pub->resume_ns - uv_hrtime()) / 1000000u + 1);
    return;
  }
  /* Fenced: nothing goes out before the fence holds our epoch. */
  if (!fo__fence_ready(pub)) {
    if (!holding && (fo__pubq_notify_count(&pub->q) > 0 || pub->due != NULL))
      fo__pub_arm_kick(pub);
    return;
  }
  /* A send can fail at once and be judged at once (put back, backoff or
   * stop): look at that before sending again. */
  while (!pub->error && pub->resume_ns <= uv_hrtime() &&
         pub->in_flight < pub->max_in_flight && !fo__pubq_empty(&pub->q))
    if (send_one(pub) != 0)
      break;
  if (!pub->error && pub->resume_ns > uv_hrtime() && !fo__pubq_empty(&pub->q))
    arm_kick_in(pub, (pub->resume_ns - uv_hrtime()) / 1000000u + 1);
  if (!holding && (fo__pubq_notify_count(&pub->q) > 0 || pub->due != NULL))
    fo__pub_arm_kick(pub);
}

/* ---- life cycle --------------------------------------------------------------- */

int fo_publisher_options_init(fo_publisher_options *opts,
                              unsigned int version) {
  return fo__layout_init(&options_layout, opts, version);
}

static int check_options(const fo_publisher_options *o) {
  if (o->server == NULL || o->key == NULL)
    return FO_EINVAL;
  if (o->allocator &&
      (!o->allocator->malloc || !o->allocator->realloc || !o->allocator->free))
    return FO_EINVAL;
  if (o->secondary_count > FO_PUBLISHER_SECONDARIES_MAX ||
      (o->tcp_wait_ms != 0 &&
       (o->tcp_wait_ms < MIN_TCP_WAIT_MS || o->tcp_wait_ms > MAX_TCP_WAIT_MS)))
    return FO_ERANGE;
  if (o->secondary_count > 0 && o->secondaries == NULL)
    return FO_EINVAL;
  if (o->fence_name != NULL && o->fence_epoch == 0)
    return FO_EINVAL; /* a name for no fence: a mistake, said at once */
  if (o->batch_groups > MAX_BATCH || o->max_in_flight > MAX_IN_FLIGHT ||
      o->timeout_ms > 60000u ||
      (o->retry_min_ms && o->retry_max_ms && o->retry_min_ms > o->retry_max_ms))
    return FO_ERANGE;
  return 0;
}

static void maybe_free(fo_publisher *pub) {
  fo_closed_fn closed = pub->closed;
  void *userdata = pub->closed_userdata;
  fo_allocator alloc = pub->alloc;
  if (pub->open != 0)
    return;
  if (pub->sub_id != 0)
    fo_registry_unsubscribe(pub->reg, pub->sub_id);
  /* Every watch was called when closing began (none can be added since). */
  fo__pubq_free(&pub->q);
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
                     const fo_publisher_options *opts) {
  fo_publisher_options full; /* the caller's version, the rest zero */
  const fo_publisher_options *o = &full;
  fo__dnsx_config cfg;
  fo_publisher *pub;
  fo_allocator alloc;
  const char *zone;
  size_t size;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || loop == NULL || reg == NULL || opts == NULL)
    return FO_EINVAL;
  if ((size = fo__layout_size(&options_layout, opts)) == 0)
    return FO_EVERSION;
  memset(&full, 0, sizeof(full));
  memcpy(&full, opts, size);
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
  fo__pubq_init(&pub->q, &pub->alloc);
  pub->key = *fo__tsig_key_of(o->key);
  pub->timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
  pub->batch = o->batch_groups ? o->batch_groups : DEFAULT_BATCH;
  pub->max_in_flight = o->max_in_flight ? o->max_in_flight : DEFAULT_IN_FLIGHT;
  pub->retry_min_ms = o->retry_min_ms ? o->retry_min_ms : DEFAULT_RETRY_MIN_MS;
  pub->retry_max_ms = o->retry_max_ms ? o->retry_max_ms : DEFAULT_RETRY_MAX_MS;
  pub->tcp_wait_ms = o->tcp_wait_ms ? o->tcp_wait_ms : DEFAULT_TCP_WAIT_MS;
  pub->on_published = o->on_published;
  pub->on_error = o->on_error;
  pub->userdata = o->userdata;
  fo_registry_zone(reg, &zone);
  strcpy(pub->zone, zone);
  pub->fence_epoch = o->fence_epoch;
  rc = 0;
  if (pub->fence_epoch != 0) {
    pub->fence_state = FO__FENCE_READ;
    snprintf(pub->fence_text, sizeof(pub->fence_text), "%" PRIu64,
             pub->fence_epoch);
    rc = fo__fence_name(pub->zone, o->fence_name, pub->fence_name);
  }
  if (rc == 0)
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
    rc = fo__notify_new(&pub->notify, loop, &pub->alloc, pub->zone,
                        o->notify_key ? fo__tsig_key_of(o->notify_key) : NULL,
                        &pub->server, pub->timeout_ms, o->secondaries,
                        o->secondary_count);
  if (rc == 0)
    rc = fo_registry_subscribe(reg, on_change, pub, &pub->sub_id);
  if (rc != 0) {
    pub->sub_id = 0;
    fo_publisher_close(pub, NULL, NULL);
    return rc;
  }
  if (pub->fence_epoch != 0)
    fo__pub_arm_kick(pub); /* claim the fence at once */
  *out = pub;
  return 0;
}

void fo_publisher_close(fo_publisher *pub, fo_closed_fn closed,
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
  fo__pubwatch_cancel_all(pub);
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
  if (pub->notify != NULL) {
    fo__notify *n = pub->notify;
    pub->open++;
    pub->notify = NULL;
    fo__notify_close(n, channel_closed, pub);
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
    if (fo__pubq_get(&pub->q, g, &i) != 0)
      return FO_ENOMEM; /* those queued so far stay queued */
    fo__pubq_push(&pub->q, i);
  }
  pub->lost_track = 0;
  fo__pub_arm_kick(pub);
  return 0;
}

/* Milliseconds from `now` until `then` (rounded up), 0 when passed. */
static uint32_t ms_until(uint64_t now, uint64_t then) {
  uint64_t ms;
  if (then <= now)
    return 0;
  ms = (then - now + 999999u) / 1000000u;
  return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

int fo_publisher_group_status(const fo_publisher *pub, const fo_group *g,
                              fo_publish_status *out) {
  fo_publish_status st; /* the current version, copied out as far as the
                           caller's reaches */
  const fo__pubrec *r;
  fo_registry *reg;
  if (pub == NULL || g == NULL || out == NULL)
    return FO_EINVAL;
  if (fo__layout_size(&status_layout, out) == 0)
    return FO_EVERSION;
  if (fo_group_registry(g, &reg) != 0 || reg != pub->reg)
    return FO_EFOREIGN;
  memset(&st, 0, sizeof(st));
  st.version = FO_PUBLISH_STATUS_VERSION;
  fo_group_generation(g, &st.generation);
  r = fo__pubq_find(&pub->q, g, NULL);
  if (r != NULL)
    st.published_generation = r->published_gen;
  if (r != NULL && r->published_gen == st.generation)
    st.state = FO_PUBLISH_PUBLISHED;
  else if (pub->error)
    st.state = FO_PUBLISH_FAILED;
  else if (r != NULL && r->in_flight)
    st.state = FO_PUBLISH_IN_FLIGHT;
  else
    st.state = FO_PUBLISH_PENDING;
  st.error = st.state == FO_PUBLISH_FAILED ? pub->error : 0;
  if (r != NULL) {
    uint64_t now = uv_hrtime();
    uint32_t neg = fo__notify_negative_ttl_ms(pub->notify);
    if (neg == 0) /* not read yet: the longest the promise allows */
      neg = FO_TTL_MAX * 1000u;
    st.earlier_held_ms = ms_until(now, r->hold_until_ns);
    if (r->first_served_ns != 0)
      st.negative_held_ms =
          ms_until(now, r->first_served_ns + (uint64_t)neg * 1000000u);
  }
  return fo__layout_fill(&status_layout, out, &st);
}

int fo_publisher_secondary_count(const fo_publisher *pub, size_t *out) {
  if (pub == NULL || out == NULL)
    return FO_EINVAL;
  *out = fo__notify_count(pub->notify);
  return 0;
}

int fo_publisher_secondary(const fo_publisher *pub, size_t index,
                           fo_secondary_status *out) {
  fo_secondary_status full;
  if (pub == NULL || out == NULL)
    return FO_EINVAL;
  if (fo__layout_size(&secondary_layout, out) == 0)
    return FO_EVERSION;
  if (index >= fo__notify_count(pub->notify))
    return FO_ERANGE;
  fo__notify_status(pub->notify, index, &full);
  return fo__layout_fill(&secondary_layout, out, &full);
}

int fo_publisher_pending(const fo_publisher *pub, size_t *out) {
  if (pub == NULL || out == NULL)
    return FO_EINVAL;
  *out = fo__pubq_pending(&pub->q);
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
  if (pub->fenced)
    return FO_EFENCED; /* final: a newer leader publishes */
  lost = pub->lost_track;
  pub->epoch++;
  pub->refusals = 0;
  pub->error = 0;
  pub->error_pending = 0;
  pub->failures = 0;
  pub->resume_ns = 0;
  if (lost)
    return fo_publisher_publish_all(pub);
  fo__pub_arm_kick(pub);
  return 0;
}

/* ---- accessors ------------------------------------------------------------------ */

fo_registry *fo_publisher_registry(const fo_publisher *pub) {
  return pub == NULL ? NULL : pub->reg;
}

uv_loop_t *fo_publisher_loop(const fo_publisher *pub) {
  return pub == NULL ? NULL : pub->loop;
}

const fo_allocator *fo__publisher_alloc(const fo_publisher *pub) {
  return &pub->alloc;
}

int fo__publisher_closing(const fo_publisher *pub) { return pub->closing; }
