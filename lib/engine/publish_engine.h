/*
 * publish_engine.h - the publisher object, shared by its pieces only:
 *
 *   publish_queue.c      pending changes: records, coalescing, batches,
 *                        what is in flight (no I/O; publish_queue.h)
 *   publish_judge.c      the verdict on an UPDATE's answer (pure)
 *   publish_probe.c      what the zone holds after an unknown outcome
 *   publish_watch.c      watches: told once a group's generation is
 *                        confirmed, or why it will not be
 *   publish_reconcile.c  read the zone (AXFR), plan, queue the plan
 *   publish_notify.c     secondaries: NOTIFY, then their SOA serials
 *   publish_fence.c      the fence: claimed first, then every UPDATE's
 *                        prerequisite
 *   publish.c            the engine: life cycle, the kick, messages,
 *                        answers, retries and stops, status
 */
#ifndef FO_PUBLISH_ENGINE_H
#define FO_PUBLISH_ENGINE_H

#include "publish_internal.h"

#include "axfr.h"
#include "hostport.h"
#include "publish_fence.h"
#include "publish_notify.h"
#include "publish_probe.h"
#include "publish_queue.h"
#include "random.h"
#include "reconcile.h"
#include "transport.h"
#include "tsig.h"

struct fo_publisher {
  fo_allocator alloc;
  uv_loop_t *loop;
  fo_registry *reg;
  uint32_t sub_id;
  char zone[FO_NAME_BUFSIZE];
  fo__hostport server;
  fo__tsig_key key;
  uint32_t timeout_ms, batch, max_in_flight, retry_min_ms, retry_max_ms;
  uint32_t tcp_wait_ms; /* an UPDATE over an open TCP connection */
  fo_published_fn on_published;
  fo_publish_error_fn on_error;
  void *userdata;

  fo__dnsx *x; /* the transport to the primary */
  fo__notify *notify; /* the secondaries (publish_notify.c), or NULL */
  uv_timer_t kick;
  int kick_armed;

  fo__pubq q;         /* pending changes */
  uint32_t in_flight; /* messages (and probes) outstanding */

  /* watches (publish_watch.c): decided, to be called from the loop */
  fo_publish_watch *due, *due_tail;
  uint64_t due_seq;   /* watches decided so far */
  size_t watching;    /* on records' lists, not yet decided */
  int watch_backlog;  /* confirmations whose watches wait for the SOA */

  int error;         /* stopped on this */
  int error_pending; /* on_error and watchers not yet told */
  int watch_error_pending; /* watches added while stopped: tell them */
  uint32_t epoch;    /* bumped by set_key and resume: older replies cannot
                        stop the publisher again */
  int lost_track;    /* a change could not be recorded (FO_ENOMEM) */
  unsigned failures; /* retryable failures in a row */
  unsigned refusals; /* stop verdicts in a row (STOP_CONFIRMATIONS) */
  uint64_t resume_ns;/* backoff: no sending before this */

  /* the fence (publish_fence.c) */
  uint64_t fence_epoch;     /* 0: no fencing */
  char fence_name[FO_NAME_BUFSIZE];
  char fence_text[FO__FENCE_TEXT_MAX]; /* the epoch in decimal */
  fo__fence_state fence_state;
  unsigned fence_races;     /* swaps in a row whose prerequisite failed */
  uint32_t fence_sent_epoch;/* pub->epoch when the read or swap went out */
  uint8_t fence_mac[FO__TSIG_MAC_MAX]; /* the swap's request MAC */
  size_t fence_mac_len;
  fo__probe_txt fence_read; /* what the fence held (FO__FENCE_DECIDE) */
  int fenced;               /* a newer leader holds the fence: final */

  /* reconcile (publish_reconcile.c) */
  fo__axfr *axfr;
  fo__reconcile *rc;
  int rc_apply;
  fo_plan_fn rc_cb;
  void *rc_userdata;

  fo__random_pool pool;
  uint8_t *buf;
  int closing;
  unsigned open;
  fo_closed_fn closed;
  void *closed_userdata;
};

/* publish.c: look at the queue, the notifications and the watches from
 * the loop, as soon as possible. */
void fo__pub_arm_kick(fo_publisher *pub);

/* publish.c, for the fence: stop with `error` (reported from the kick);
 * the fence is lost for good (FO_EFENCED, which resume does not lift);
 * back off before sending again; and the verdict on an answer once the
 * rule of STOP_CONFIRMATIONS refusals in a row (and that of answers to
 * messages sent before set_key / resume, `sent_epoch`) applied: a stop
 * code, or 1 to try again. */
void fo__pub_stop(fo_publisher *pub, int error);
void fo__pub_fenced(fo_publisher *pub);
void fo__pub_back_off(fo_publisher *pub);
int fo__pub_weigh(fo_publisher *pub, int verdict, uint32_t sent_epoch);

/* publish_watch.c, called by the engine: */
/* Record i was confirmed: its watches that are satisfied become due. */
void fo__pubwatch_confirmed(fo_publisher *pub, uint32_t i);
/* Every watch still waiting becomes due with `error` (a stop). */
void fo__pubwatch_fail_all(fo_publisher *pub, int error);
/* Call the due watches (from the kick; callbacks may do anything). */
void fo__pubwatch_fire(fo_publisher *pub);
/* Closing: every watch not yet called is called now with FO_ECANCELED. */
void fo__pubwatch_cancel_all(fo_publisher *pub);

#endif
