/*
 * failover/switch.h - switchovers: switch in the model, publish, verify on
 * every server, settle; with timings, for one group, for every group of a
 * lost stack, or for the switches a previous process left.
 *
 * Includes <uv.h> (through <failover/verify.h>); one owner thread.
 */
#ifndef FAILOVER_SWITCH_H
#define FAILOVER_SWITCH_H

#include "verify.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef FO__PUBLISHER_DECLARED /* also declared by <failover/publish.h> */
#define FO__PUBLISHER_DECLARED
typedef struct fo_publisher fo_publisher;
#endif

/*
 * A switchover: the workflow around the model's fo_group_switch(). The
 * model's switch only changes which slot is active; a switchover switches,
 * waits until the publisher's server confirmed the change (through
 * fo_publisher_watch()), checks every server the verifier lists until all
 * answer the new target (fo_verify_group()), then settles the group, and
 * reports timings once, per group and for the whole set.
 */
typedef struct fo_switchover fo_switchover;

/* What happened to one group of a switchover. Allocated by the library;
 * reach it through fo_switchover_report_group(). */
typedef struct fo_switchover_group_result {
  fo_group *group;
  int error;               /* 0: switched, confirmed everywhere, settled */
  double published_ms;     /* start -> the primary confirmed it, or -1 */
  double all_matched_ms;   /* start -> every server answered it, or -1 */
  /* start -> the latest moment a resolver may still answer with the old
   * target (see fo_switchover_report), or -1 when not all matched. */
  double resolvers_follow_ms;
} fo_switchover_group_result;

/* One authoritative server of a switchover (the verifier's, in its
 * order). Allocated by the library; see fo_switchover_report_server(). */
typedef struct fo_switchover_server_result {
  const char *server;      /* as given to the verifier */
  /* start -> this server answered the new records of every switched
   * group (the latest of its first matches), or -1 if it never did for
   * some group. */
  double all_matched_ms;
} fo_switchover_server_result;

/* The report, allocated by the library (it may grow at its end); valid
 * during the callback only. */
typedef struct fo_switchover_report {
  int error;                  /* 0, or the first error met */
  size_t groups;              /* groups switched (see _report_group()) */
  size_t failed;              /* groups that did not complete, including
                                 groups of a lost stack that could not
                                 switch (those are not in the list) */
  uint32_t ttl;               /* largest TTL of the switched groups */
  double published_ms;        /* start -> the server confirmed all, or -1 */
  double first_match_ms;      /* start -> first server answered the new
                                 target (first group), or -1 */
  double all_matched_ms;      /* start -> every server, every group, or -1 */
  /*
   * The latest moment (ms from start) a resolver may still answer with the
   * old target: for each group, the largest of
   *   all_matched_ms + TTL        (a copy fetched from the last server
   *                                just before it changed),
   *   now + the time any earlier version of the name's records may still
   *   sit in caches             (replaced + its TTL: after a TTL was
   *                                lowered, the old, longer one counts),
   *   now + what remains of the zone's negative-caching time (min of the
   *   SOA's TTL and MINIMUM, RFC 2308) since the name first got records
   *   (an NXDOMAIN cached just before it existed),
   * plus 1 s (resolvers count TTLs in whole seconds and may serve a record
   * up to a second past it); the report gives the largest over the groups.
   * `now` is when the report is made; the publisher's state comes from
   * fo_publisher_group_status(). -1 when not all matched. Under the
   * 5-minute promise for TTLs up to FO_TTL_MAX and a zone whose negative
   * TTL is shorter.
   */
  double resolvers_follow_ms;
  size_t servers;             /* see fo_switchover_report_server() */
} fo_switchover_report;

/* The `index`-th switched group (in the order they were switched), or NULL
 * past `groups` or for NULL. */
FO_EXTERN const fo_switchover_group_result *fo_switchover_report_group(
    const fo_switchover_report *report, size_t index);

/* The `index`-th server (verifier order), or NULL past `servers` or for
 * NULL. */
FO_EXTERN const fo_switchover_server_result *fo_switchover_report_server(
    const fo_switchover_report *report, size_t index);

/* Runs exactly once per started switchover, from the loop. */
typedef void (*fo_switchover_fn)(const fo_switchover_report *report,
                                 void *userdata);

#define FO_SWITCHOVER_OPTIONS_VERSION 1

typedef struct fo_switchover_options {
  unsigned int version; /* FO_SWITCHOVER_OPTIONS_VERSION */
  /* Passed to fo_group_switch(): 0 or FO_FORCE. Single groups only. */
  unsigned int flags;
  /* Bounds the whole: publishing (retried while the primary is down) and
   * verifying. 0 selects FO_VERIFY_PROMISE_MS (5 minutes); at most 24 h. */
  uint32_t until_ms;
  /* Pause between verification rounds of a server that does not answer
   * the new target yet; 0 selects 20 ms. At most 60000. */
  uint32_t interval_ms;
} fo_switchover_options;

#define FO_SWITCHOVER_OPTIONS_INIT { FO_SWITCHOVER_OPTIONS_VERSION, 0, 0, 0 }

/* Defaults of options version `version`; never writes past that version's
 * size. Returns 0, FO_EINVAL, FO_EVERSION. */
FO_EXTERN int fo_switchover_options_init(fo_switchover_options *opts,
                                         unsigned int version);

/*
 * Switch `group` to slot `to`, publish, verify on every server `verifier`
 * lists (primary and secondaries) until all answer the new target, then
 * settle. `opts` may be NULL (defaults). `*out` (may be NULL) receives a
 * handle for fo_switchover_cancel(), valid until `cb` has returned.
 * Closing the verifier ends every group not yet confirmed everywhere with
 * FO_ECANCELED; closing the publisher ends those it has not confirmed
 * yet (groups already confirmed go on being verified and settled).
 *
 * Returns 0 (the callback will come) or, with nothing changed: what
 * fo_group_switch() returned, FO_EINVAL, FO_EVERSION, FO_EFOREIGN (a group
 * of another registry than the publisher's), FO_ERANGE (until_ms,
 * interval_ms), FO_ECLOSING, FO_ENOMEM, FO_EIO.
 */
FO_EXTERN int fo_switchover_group(fo_switchover **out, fo_publisher *pub,
                                  fo_verifier *verifier, fo_group *group,
                                  fo_slot to,
                                  const fo_switchover_options *opts,
                                  fo_switchover_fn cb, void *userdata);

/*
 * A data centre is lost: switch every group whose active stack is `failed`
 * and that has a stack in its other slot (walking the stack's own groups,
 * not the registry), publish, verify and settle them all, and report once
 * for the whole set. Groups that cannot switch (no backup, no web head)
 * count as failed; the others go on. `opts->flags` must be 0.
 *
 * On a durable registry every switch goes into one store commit (a
 * batch); a stale registry gets FO_ESTALE before anything changed.
 *
 * Returns 0 (the callback will come), FO_EINVAL, FO_EVERSION, FO_EDELETED,
 * FO_EFOREIGN, FO_ERANGE, FO_ECLOSING, FO_ENOMEM, FO_EIO, FO_ESTALE,
 * FO_EPOISONED, FO_EREADONLY, FO_ELOCKED, FO_ESTOREIO.
 */
FO_EXTERN int fo_switchover_stack(fo_switchover **out, fo_publisher *pub,
                                  fo_verifier *verifier, fo_stack *failed,
                                  const fo_switchover_options *opts,
                                  fo_switchover_fn cb, void *userdata);

/*
 * Finish the switches a previous process left: every group in state
 * SWITCHING is published (if the server does not have it yet), verified
 * on every server and settled, and one report comes for the set. This is
 * what an agent runs after opening a durable registry (and, first,
 * fo_publisher_reconcile()): a crash between a switch's commit and its
 * UPDATE then loses nothing. With no such group the report comes at once
 * from the loop, with `groups` 0. `opts->flags` must be 0.
 *
 * Returns 0 (the callback will come), FO_EINVAL, FO_EVERSION, FO_ERANGE,
 * FO_ECLOSING, FO_ENOMEM, FO_EIO.
 */
FO_EXTERN int fo_switchover_resume(fo_switchover **out, fo_publisher *pub,
                                   fo_verifier *verifier,
                                   const fo_switchover_options *opts,
                                   fo_switchover_fn cb, void *userdata);

/*
 * Cancel: the callback runs now, with FO_ECANCELED for every group not yet
 * settled. Groups already switched in the model stay SWITCHING (their
 * change is still published); fo_switchover_resume() finishes them later.
 * Returns 0 or FO_EINVAL. Calling it after the callback ran is undefined:
 * the handle is gone then.
 */
FO_EXTERN int fo_switchover_cancel(fo_switchover *switchover);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_SWITCH_H */
