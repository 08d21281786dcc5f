/*
 * failover/switch.h - the switch workflow: switch in the model, publish,
 * verify on every server, settle; with timings, for one group, for every
 * group of a lost stack, or for the switches a previous process left.
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

typedef struct fo_switch_report {
  int error;                  /* 0, or the first error met */
  size_t groups;              /* groups switched */
  size_t failed;              /* groups that did not complete */
  uint32_t ttl;               /* largest TTL of the switched groups */
  double published_ms;        /* switch -> the server confirmed (all) */
  double first_match_ms;      /* switch -> first server answered the new
                                 target (first group) */
  double all_matched_ms;      /* switch -> every server, every group */
  /* Worst case until resolvers follow: all_matched_ms + TTL. Under the
   * 5-minute promise for the default TTL. */
  double resolvers_follow_ms;
} fo_switch_report;

typedef void (*fo_switch_fn)(const fo_switch_report *report, void *userdata);

/*
 * Switch `group` to slot `to` (fo_group_switch() with `flags`), publish it,
 * verify with `verifier` on every server it lists (primary and
 * secondaries) until all answer the new target, then settle the group.
 * `until_ms` (0: 300000, at most 24 h) bounds the whole: publishing
 * (retried while the primary is down) and verifying. `cb` runs once with
 * the timings: from the loop, or from fo_publisher_close() or
 * fo_verifier_close() (closing either makes the switch report
 * FO_ECANCELED).
 *
 * Returns 0 (the callback will come) or, with nothing changed: what
 * fo_group_switch() returned, FO_EINVAL, FO_EFOREIGN (a group of another
 * registry than the publisher's), FO_ERANGE (until_ms), FO_ECLOSING,
 * FO_ENOMEM, FO_EIO.
 */
FO_EXTERN int fo_switch_group(fo_publisher *pub, fo_verifier *verifier,
                              fo_group *group, fo_slot to, unsigned int flags,
                              uint32_t until_ms, fo_switch_fn cb,
                              void *userdata);

/*
 * A data centre is lost: switch every group whose active stack is `failed`
 * and that has a stack in its other slot, publish, verify and settle them
 * all, and report once for the whole set. Groups that cannot switch (no
 * backup, no web head) count as failed; the others go on.
 *
 * On a durable registry every switch goes into one store commit (a
 * batch); a stale registry gets FO_ESTALE before anything changed.
 *
 * Returns 0 (the callback will come), FO_EINVAL, FO_EDELETED, FO_EFOREIGN,
 * FO_ERANGE, FO_ECLOSING, FO_ENOMEM, FO_EIO, FO_ESTALE, FO_EPOISONED,
 * FO_EREADONLY, FO_ELOCKED, FO_ESTOREIO.
 */
FO_EXTERN int fo_switch_stack(fo_publisher *pub, fo_verifier *verifier,
                              fo_stack *failed, uint32_t until_ms,
                              fo_switch_fn cb, void *userdata);

/*
 * Finish the switches a previous process left: every group in state
 * SWITCHING is published (if the server does not have it yet), verified
 * on every server and settled, and one report comes for the set. This is
 * what an agent runs after opening a durable registry (and, first,
 * fo_publisher_reconcile()): a crash between a switch's commit and its
 * UPDATE then loses nothing. With no such group the report comes at once
 * from the loop, with `groups` 0.
 *
 * Returns 0 (the callback will come), FO_EINVAL, FO_ERANGE, FO_ECLOSING,
 * FO_ENOMEM, FO_EIO.
 */
FO_EXTERN int fo_switch_resume(fo_publisher *pub, fo_verifier *verifier,
                               uint32_t until_ms, fo_switch_fn cb,
                               void *userdata);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_SWITCH_H */
