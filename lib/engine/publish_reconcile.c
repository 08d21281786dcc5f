/*
 * publish_reconcile.c - bring the zone in step with the registry: read it
 * by AXFR, plan with reconcile.c, and queue what the plan says must change
 * (groups found in step count as published).
 */
#include "publish_engine.h"

#include <string.h>

static void reconcile_rr(const fo__zone_rr *rr, void *userdata) {
  fo_publisher *pub = userdata;
  if (fo__reconcile_add(pub->rc, rr) != 0) {
    /* The plan would be wrong: report it rather than plan from half. */
    pub->rc_apply = -1;
  }
}

static void mark_in_step(fo_group *g, void *userdata) {
  fo_publisher *pub = userdata;
  fo_rrset set = FO_RRSET_INIT;
  uint32_t ttl = 0;
  if (fo_group_records(g, &set) == 0 && set.count > 0)
    ttl = set.records[0].ttl;
  fo__pubq_in_step(&pub->q, g, ttl);
}

/* Queue what the plan says must change. */
static int apply_plan(fo_publisher *pub, const fo_plan *plan) {
  size_t k;
  for (k = 0; k < plan->count; k++) {
    const fo_plan_entry *e = fo_plan_entry_at(plan, k);
    int rc = e->group != NULL ? fo__pubq_repair(&pub->q, e->group)
                              : fo__pubq_add_name(&pub->q, e->name);
    if (rc != 0)
      return rc;
  }
  fo__pub_arm_kick(pub);
  return 0;
}

static void reconcile_done(int error, void *userdata) {
  fo_publisher *pub = userdata;
  fo_plan_fn cb = pub->rc_cb;
  void *cb_userdata = pub->rc_userdata;
  fo__reconcile *rc = pub->rc;
  fo__plan plan;
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
    error = apply_plan(pub, &plan.pub);
  plan.pub.error = error;
  pub->rc = NULL; /* the callback may start the next reconcile */
  cb(&plan.pub, cb_userdata);
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
