/*
 * switch.c - the switch workflow: switch in the model -> published ->
 * verified on every server -> settled, with timings; for one group or for
 * every group on a lost stack.
 *
 * It drives only public operations (fo_group_switch, fo_group_settle,
 * fo_verify_group) plus the publisher's watch hook.
 */
#include "publish_internal.h"

#include "alloc.h"
#include "verify_internal.h"

#include <string.h>

#define NS_PER_MS 1000000.0
#define MAX_UNTIL_MS (24u * 3600u * 1000u)

enum { WAITING, VERIFYING, SETTLING, DONE }; /* an item's phase */

typedef struct fo__switch_op fo__switch_op;

typedef struct fo__switch_item {
  fo__switch_op *op;
  fo_group *group;
  uint64_t check_start_ns;
  int phase;
} fo__switch_item;

struct fo__switch_op {
  fo__close_listener on_verifier_close; /* first: the listener is the op */
  fo_allocator alloc; /* a copy: the publisher may be gone when we are freed */
  fo_publisher *pub;
  fo_verifier *verifier;
  fo_switch_fn cb;
  void *userdata;
  uint32_t until_ms;
  uint64_t t0;
  size_t count;     /* items switched */
  size_t published; /* of them, confirmed by the server */
  size_t finished;  /* of them, verified or failed */
  size_t failed;    /* items and groups that could not switch */
  int error;
  uint32_t ttl;
  double published_ms;
  double first_match_ms;
  uv_timer_t timer; /* the deadline; or completes an op with nothing to
                       wait for */
  uv_timer_t settle_timer; /* settles the verified items of a loop turn */
  size_t to_settle;        /* items in phase SETTLING */
  int open_handles;
  fo__switch_item *items;
};

static double ms_since(uint64_t t0) {
  return (double)(uv_hrtime() - t0) / NS_PER_MS;
}

static void op_free(uv_handle_t *h) {
  fo__switch_op *op = h->data;
  fo_allocator a = op->alloc;
  if (--op->open_handles > 0)
    return;
  fo__free(&a, op->items);
  fo__free(&a, op);
}

/* Close both timers; the op is freed once both are closed. */
static void op_close(fo__switch_op *op) {
  uv_close((uv_handle_t *)&op->timer, op_free);
  uv_close((uv_handle_t *)&op->settle_timer, op_free);
}

static void finish(fo__switch_op *op) {
  fo_switch_report r;
  memset(&r, 0, sizeof(r));
  r.error = op->error;
  r.groups = op->count;
  r.failed = op->failed;
  r.ttl = op->ttl;
  r.published_ms = op->published == op->count ? op->published_ms : -1.0;
  r.first_match_ms = op->first_match_ms;
  r.all_matched_ms = op->failed == 0 ? ms_since(op->t0) : -1.0;
  r.resolvers_follow_ms =
      op->failed == 0 ? r.all_matched_ms + (double)op->ttl * 1000.0 : -1.0;
  if (op->verifier != NULL)
    fo__verifier_unlisten_close(op->verifier, &op->on_verifier_close);
  op->cb(&r, op->userdata);
  op_close(op);
}

static void item_failed(fo__switch_item *it, int error) {
  fo__switch_op *op = it->op;
  it->phase = DONE;
  op->failed++;
  if (op->error == 0)
    op->error = error;
  if (++op->finished == op->count)
    finish(op);
}

/* Open a batch; a durable registry behind its store catches up first. */
static int begin_settling(fo_registry *reg) {
  int rc = fo_registry_batch_begin(reg);
  if (rc == FO_ESTALE && fo_registry_refresh(reg) == 0)
    rc = fo_registry_batch_begin(reg);
  return rc;
}

static void settle_verified(uv_timer_t *t) {
  fo__switch_op *op = t->data;
  fo_registry *reg = fo__publisher_registry(op->pub);
  size_t k;
  int batch = begin_settling(reg) == 0;
  for (k = 0; k < op->count; k++) {
    fo__switch_item *it = &op->items[k];
    if (it->phase != SETTLING)
      continue;
    /* Another settle may have come first (FO_ENOTSWITCHING): that is no
     * failure of this switch. Without a batch (the store refused it),
     * each settle is tried on its own. */
    (void)fo_group_settle(it->group);
    it->phase = DONE;
    op->finished++;
  }
  op->to_settle = 0;
  if (batch)
    (void)fo_registry_batch_commit(reg);
  if (op->finished == op->count)
    finish(op);
}

static void verified(const fo_verify_result *res, void *userdata) {
  fo__switch_item *it = userdata;
  fo__switch_op *op = it->op;
  double first = -1.0;
  size_t k;
  if (res->error != 0 || res->status != FO_VERIFY_MATCH) {
    item_failed(it, res->error ? res->error : FO_ETIMEDOUT);
    return;
  }
  it->phase = DONE;
  for (k = 0; k < res->server_count; k++)
    if (first < 0 || res->servers[k].first_match_ms < first)
      first = res->servers[k].first_match_ms;
  first += (double)(it->check_start_ns - op->t0) / NS_PER_MS;
  if (op->first_match_ms < 0 || first < op->first_match_ms)
    op->first_match_ms = first;
  /* Confirmed in DNS: the switch is over. The items verified in one turn
   * of the loop are settled together, in one store commit. */
  it->phase = SETTLING;
  if (op->to_settle++ == 0)
    (void)uv_timer_start(&op->settle_timer, settle_verified, 0, 0);
}

static void published(fo_group *g, int error, void *userdata) {
  fo__switch_item *it = userdata;
  fo__switch_op *op = it->op;
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  uint64_t spent;
  int rc;
  (void)g;
  if (error != 0) {
    item_failed(it, error);
    return;
  }
  it->phase = VERIFYING;
  if (++op->published == op->count)
    op->published_ms = ms_since(op->t0);
  /* Keep asking until every server answers the new target, within what
   * is left of the deadline. */
  spent = (uv_hrtime() - op->t0) / 1000000u;
  p.until_ms = spent < op->until_ms ? op->until_ms - (uint32_t)spent : 1u;
  p.interval_ms = 20;
  it->check_start_ns = uv_hrtime();
  rc = op->verifier == NULL
           ? FO_ECANCELED
           : fo_verify_group(NULL, op->verifier, it->group, &p, verified, it);
  if (rc != 0)
    item_failed(it, rc);
}

static void nothing_to_wait_for(uv_timer_t *t) { finish(t->data); }

/* Fail the items still waiting to be published. Items being verified end
 * through their checks. */
static void fail_waiting(fo__switch_op *op, int error) {
  size_t k, n = op->count;
  for (k = 0; k < n; k++) {
    fo__switch_item *it = &op->items[k];
    if (it->phase == WAITING &&
        fo__publisher_unwatch(op->pub, it->group, it) == 0)
      item_failed(it, error); /* may finish the op: the last one */
  }
}

/* The verifier is closing: nothing may use it from now on (it is freed
 * once the loop runs, perhaps before this op reports). */
static void verifier_closing(fo__close_listener *l) {
  fo__switch_op *op = (fo__switch_op *)(void *)l;
  op->verifier = NULL;
  fail_waiting(op, FO_ECANCELED);
}

/* The deadline also covers publishing: a primary that stays down (retried
 * forever by the publisher) fails the switch in time. Items being verified
 * end on their own: their checks have the same deadline. */
static void deadline(uv_timer_t *t) { fail_waiting(t->data, FO_ETIMEDOUT); }

static int op_new(fo__switch_op **out, fo_publisher *pub, fo_verifier *v,
                  size_t capacity, uint32_t until_ms, fo_switch_fn cb,
                  void *userdata) {
  const fo_allocator *a = fo__publisher_alloc(pub);
  fo__switch_op *op;
  if (until_ms > MAX_UNTIL_MS)
    return FO_ERANGE;
  if (fo__publisher_closing(pub) || fo__verifier_closing(v))
    return FO_ECLOSING;
  op = fo__calloc(a, 1, sizeof(*op));
  if (op == NULL)
    return FO_ENOMEM;
  op->items = fo__calloc(a, capacity ? capacity : 1, sizeof(*op->items));
  if (op->items == NULL) {
    fo__free(a, op);
    return FO_ENOMEM;
  }
  if (uv_timer_init(fo__publisher_loop(pub), &op->timer) != 0) {
    fo__free(a, op->items);
    fo__free(a, op);
    return FO_EIO;
  }
  op->timer.data = op;
  op->alloc = *a;
  if (uv_timer_init(fo__publisher_loop(pub), &op->settle_timer) != 0) {
    op->open_handles = 1;
    uv_close((uv_handle_t *)&op->timer, op_free);
    return FO_EIO;
  }
  op->settle_timer.data = op;
  op->open_handles = 2;
  op->pub = pub;
  op->verifier = v;
  op->cb = cb;
  op->userdata = userdata;
  op->until_ms = until_ms ? until_ms : FO_VERIFY_PROMISE_MS;
  op->first_match_ms = -1.0;
  op->t0 = uv_hrtime();
  op->on_verifier_close.fn = verifier_closing;
  fo__verifier_listen_close(v, &op->on_verifier_close);
  *out = op;
  return 0;
}

/* Follow a switched group through publishing, verifying and settling. */
static void watch_item(fo__switch_op *op, fo_group *g) {
  fo__switch_item *it = &op->items[op->count];
  uint64_t gen;
  uint32_t ttl;
  int rc;
  fo_group_generation(g, &gen);
  fo_group_ttl(g, &ttl);
  if (ttl > op->ttl)
    op->ttl = ttl;
  it->op = op;
  it->group = g;
  op->count++;
  it->phase = WAITING;
  rc = fo__publisher_watch(op->pub, g, gen, published, it);
  if (rc != 0) { /* switched, but we cannot follow it: say so */
    it->phase = DONE;
    op->failed++;
    op->finished++;
    if (op->error == 0)
      op->error = rc;
  }
}

/* Switch one group and watch it. Returns fo_group_switch()'s code. */
static int switch_item(fo__switch_op *op, fo_group *g, fo_slot to,
                       unsigned flags) {
  int rc = fo_group_switch(g, to, flags);
  if (rc == 0)
    watch_item(op, g);
  return rc;
}

static int is_switching(const fo_group *g) {
  fo_state st;
  return fo_group_state(g, &st) == 0 && st == FO_GROUP_SWITCHING;
}

static void start_or_complete(fo__switch_op *op) {
  if (op->finished == op->count) /* nothing in flight: report from the loop */
    (void)uv_timer_start(&op->timer, nothing_to_wait_for, 0, 0);
  else
    (void)uv_timer_start(&op->timer, deadline, op->until_ms, 0);
}

/* Refuse before anything changes: objects of another registry. */
static int check_registry(const fo_publisher *pub, fo_registry *reg) {
  return reg == fo__publisher_registry(pub) ? 0 : FO_EFOREIGN;
}

int fo_switch_group(fo_publisher *pub, fo_verifier *verifier, fo_group *group,
                    fo_slot to, unsigned int flags, uint32_t until_ms,
                    fo_switch_fn cb, void *userdata) {
  fo__switch_op *op;
  int rc;
  fo_registry *reg;
  if (pub == NULL || verifier == NULL || group == NULL || cb == NULL)
    return FO_EINVAL;
  if ((rc = fo_group_registry(group, &reg)) != 0 ||
      (rc = check_registry(pub, reg)) != 0)
    return rc;
  if ((rc = op_new(&op, pub, verifier, 1, until_ms, cb, userdata)) != 0)
    return rc;
  if ((rc = switch_item(op, group, to, flags)) != 0) {
    /* Refused: nothing changed, no callback. */
    fo__verifier_unlisten_close(verifier, &op->on_verifier_close);
    op_close(op);
    return rc;
  }
  start_or_complete(op);
  return 0;
}

int fo_switch_stack(fo_publisher *pub, fo_verifier *verifier, fo_stack *failed,
                    uint32_t until_ms, fo_switch_fn cb, void *userdata) {
  fo_registry *reg;
  fo__switch_op *op;
  fo_group *g;
  size_t n = 0;
  int rc;
  if (pub == NULL || verifier == NULL || failed == NULL || cb == NULL)
    return FO_EINVAL;
  if ((rc = fo_stack_group_count(failed, &n)) != 0)
    return rc;
  fo_stack_registry(failed, &reg);
  if ((rc = check_registry(pub, reg)) != 0)
    return rc;
  /* One store commit for the whole set (and FO_ESTALE before anything). */
  if ((rc = fo_registry_batch_begin(reg)) != 0)
    return rc;
  if ((rc = op_new(&op, pub, verifier, n, until_ms, cb, userdata)) != 0) {
    fo_registry_batch_commit(reg); /* nothing changed: writes nothing */
    return rc;
  }
  /* The stack's own followers: a lost stack with 10 groups in a registry
   * of a million costs 10 look-ups, not a million. */
  for (g = fo_stack_next_group(failed, NULL); g != NULL;
       g = fo_stack_next_group(failed, g)) {
    fo_stack *active = NULL, *other = NULL;
    fo_slot slot;
    if (fo_group_active_slot(g, &slot) != 0 ||
        fo_group_stack(g, slot, &active) != 0 || active != failed)
      continue;
    slot = slot == FO_SLOT_PRIMARY ? FO_SLOT_BACKUP : FO_SLOT_PRIMARY;
    fo_group_stack(g, slot, &other);
    rc = other ? switch_item(op, g, slot, 0) : FO_ESLOTEMPTY;
    if (rc != 0) { /* no backup, no web head, already switching */
      op->failed++;
      if (op->error == 0)
        op->error = rc;
    }
  }
  /* A failed commit poisons the registry; the publisher then stops with
   * FO_EPOISONED and every item fails through it: nothing that is not in
   * the store reaches DNS. */
  if ((rc = fo_registry_batch_commit(reg)) != 0 && op->error == 0)
    op->error = rc;
  start_or_complete(op);
  return 0;
}

int fo_switch_resume(fo_publisher *pub, fo_verifier *verifier,
                     uint32_t until_ms, fo_switch_fn cb, void *userdata) {
  fo_registry *reg;
  fo__switch_op *op;
  fo_group *g;
  size_t n = 0;
  int rc;
  if (pub == NULL || verifier == NULL || cb == NULL)
    return FO_EINVAL;
  reg = fo__publisher_registry(pub);
  for (g = fo_registry_next_group(reg, NULL); g != NULL;
       g = fo_registry_next_group(reg, g))
    n += is_switching(g);
  if ((rc = op_new(&op, pub, verifier, n, until_ms, cb, userdata)) != 0)
    return rc;
  for (g = fo_registry_next_group(reg, NULL); g != NULL;
       g = fo_registry_next_group(reg, g))
    if (is_switching(g))
      watch_item(op, g);
  start_or_complete(op);
  return 0;
}
