/*
 * switch.c - switchovers: switch in the model -> confirmed by the primary
 * -> verified on every server -> settled, with timings per group and for
 * the set; for one group, every group on a lost stack, or the switches a
 * previous process left.
 *
 * Every step is a public call: fo_group_switch(), fo_publisher_watch(),
 * fo_verify_group(), fo_check_cancel(), fo_group_settle() and the batch
 * calls. Two internal hooks remain, for the life cycle only: the
 * publisher's allocator (the caller's hooks serve this memory too) and the
 * verifier's close notification (a closing verifier must not be handed
 * new checks by a switchover that outlives it).
 */
#include "publish_internal.h"

#include "alloc.h"
#include "layout.h"
#include "verify_internal.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_MS 1000000.0
#define MAX_UNTIL_MS (24u * 3600u * 1000u)
#define MAX_INTERVAL_MS 60000u
#define DEFAULT_INTERVAL_MS 20u
/* Resolvers count TTLs in whole seconds and may serve a record up to about
 * a second past it (Unbound, ../REAL-DNS facts): the bound adds this. */
#define RESOLVER_ROUNDING_MS 1000.0

enum { WAITING, VERIFYING, SETTLING, DONE }; /* an item's phase */

typedef struct fo__switch_item {
  fo_switchover_group_result res; /* what the report shows */
  uint32_t ttl;            /* the group's TTL when switched */
  double caches_until_ms;  /* from start: earlier versions and negative
                              answers may sit in caches until then (read
                              from the publisher when it confirmed) */
  fo_switchover *op;
  fo_publish_watch *watch; /* while WAITING */
  fo_check *check;         /* while VERIFYING */
  uint64_t check_start_ns;
  int phase;
  int cancel_error; /* why the op cancelled the watch or the check */
} fo__switch_item;

struct fo_switchover {
  fo__close_listener on_verifier_close; /* first: the listener is the op */
  fo_allocator alloc; /* a copy: the publisher may be gone when we are freed */
  fo_publisher *pub;
  fo_registry *reg; /* the publisher's, kept: the publisher may close first */
  fo_verifier *verifier;
  fo_switchover_fn cb;
  void *userdata;
  uint32_t until_ms;
  uint32_t interval_ms;
  uint64_t t0;
  size_t count;     /* items switched */
  size_t published; /* of them, confirmed by the server */
  size_t finished;  /* of them, verified or failed */
  size_t failed;    /* items and groups that could not switch */
  int error;
  int reported;
  uint32_t ttl;
  double published_ms;
  double first_match_ms;
  uv_timer_t timer; /* the deadline; or completes an op with nothing to
                       wait for */
  uv_timer_t settle_timer; /* settles the verified items of a loop turn */
  size_t to_settle;        /* items in phase SETTLING */
  int open_handles;
  fo__switch_item *items;
  /* Per server of the verifier: the latest first match over the groups. */
  size_t nservers;
  fo_switchover_server_result servers[FO_VERIFY_SERVERS_MAX];
  char server_names[FO_VERIFY_SERVERS_MAX][64];
  int server_missed[FO_VERIFY_SERVERS_MAX];
  int servers_unknown; /* a group failed before any server was asked */
};

/* The report as handed to the callback: the public part first, the
 * items (each with its group result) behind it. */
typedef struct fo__switch_report {
  fo_switchover_report pub;
  const fo__switch_item *items;
  const fo_switchover_server_result *servers;
} fo__switch_report;

static const size_t options_sizes[] = {
  FO__SIZE_THROUGH(fo_switchover_options, interval_ms)
};
static const fo__layout options_layout = FO__LAYOUT(options_sizes);

int fo_switchover_options_init(fo_switchover_options *opts,
                               unsigned int version) {
  return fo__layout_init(&options_layout, opts, version);
}

const fo_switchover_server_result *fo_switchover_report_server(
    const fo_switchover_report *report, size_t index) {
  const fo__switch_report *full = (const fo__switch_report *)report;
  if (report == NULL || index >= report->servers)
    return NULL;
  return &full->servers[index];
}

const fo_switchover_group_result *fo_switchover_report_group(
    const fo_switchover_report *report, size_t index) {
  const fo__switch_report *full = (const fo__switch_report *)report;
  if (report == NULL || index >= report->groups)
    return NULL;
  return &full->items[index].res;
}

static double ms_since(uint64_t t0) {
  return (double)(uv_hrtime() - t0) / NS_PER_MS;
}

static void op_free(uv_handle_t *h) {
  fo_switchover *op = h->data;
  fo_allocator a = op->alloc;
  if (--op->open_handles > 0)
    return;
  fo__free(&a, op->items);
  fo__free(&a, op);
}

/* Close both timers; the op is freed once both are closed. */
static void op_close(fo_switchover *op) {
  uv_close((uv_handle_t *)&op->timer, op_free);
  uv_close((uv_handle_t *)&op->settle_timer, op_free);
}

/* The latest moment a resolver may still answer a group's old target (see
 * <failover/switch.h>), in ms from the start; -1 if not all matched. */
static double follow_bound(const fo__switch_item *it) {
  double bound;
  if (it->res.error != 0 || it->res.all_matched_ms < 0)
    return -1.0;
  bound = it->res.all_matched_ms + (double)it->ttl * 1000.0;
  if (it->caches_until_ms > bound)
    bound = it->caches_until_ms;
  return bound + RESOLVER_ROUNDING_MS;
}

static void finish(fo_switchover *op) {
  fo__switch_report full;
  fo_switchover_report *r = &full.pub;
  double worst = 0, matched = 0;
  size_t k;
  if (op->reported)
    return;
  op->reported = 1;
  memset(&full, 0, sizeof(full));
  full.items = op->items;
  full.servers = op->servers;
  for (k = 0; k < op->nservers; k++)
    if (op->server_missed[k] || op->servers_unknown)
      op->servers[k].all_matched_ms = -1.0;
  for (k = 0; k < op->count; k++) {
    fo__switch_item *it = &op->items[k];
    it->res.resolvers_follow_ms = follow_bound(it);
    if (it->res.resolvers_follow_ms > worst)
      worst = it->res.resolvers_follow_ms;
    if (it->res.all_matched_ms > matched)
      matched = it->res.all_matched_ms;
  }
  r->error = op->error;
  r->groups = op->count;
  r->failed = op->failed;
  r->ttl = op->ttl;
  r->published_ms = op->published == op->count ? op->published_ms : -1.0;
  r->first_match_ms = op->first_match_ms;
  /* When the last group was answered by the last server (not when the
   * report is made: settling comes after). */
  r->all_matched_ms = op->failed == 0 ? matched : -1.0;
  r->resolvers_follow_ms = op->failed == 0 ? worst : -1.0;
  r->servers = op->nservers;
  if (op->verifier != NULL)
    fo__verifier_unlisten_close(op->verifier, &op->on_verifier_close);
  (void)uv_timer_stop(&op->timer);
  (void)uv_timer_stop(&op->settle_timer);
  op->cb(r, op->userdata);
  op_close(op);
}

static void item_failed(fo__switch_item *it, int error) {
  fo_switchover *op = it->op;
  if (it->phase != VERIFYING)
    op->servers_unknown = 1; /* no server was asked about this group */
  it->phase = DONE;
  it->res.error = error;
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

/* Settle every verified item, in one store commit. */
static void settle_now(fo_switchover *op) {
  fo_registry *reg = op->reg;
  size_t k;
  int batch = begin_settling(reg) == 0;
  for (k = 0; k < op->count; k++) {
    fo__switch_item *it = &op->items[k];
    if (it->phase != SETTLING)
      continue;
    /* Another settle may have come first (FO_ENOTSWITCHING): that is no
     * failure of this switch. Without a batch (the store refused it),
     * each settle is tried on its own. */
    (void)fo_group_settle(it->res.group);
    it->phase = DONE;
    op->finished++;
  }
  op->to_settle = 0;
  if (batch)
    (void)fo_registry_batch_commit(reg);
}

static void settle_verified(uv_timer_t *t) {
  fo_switchover *op = t->data;
  settle_now(op);
  if (op->finished == op->count)
    finish(op);
}

/* Each server's first match of this group, into the per-server results. */
static void note_servers(fo_switchover *op, const fo__switch_item *it,
                         const fo_verify_result *res) {
  double start = (double)(it->check_start_ns - op->t0) / NS_PER_MS;
  size_t k;
  if (op->nservers == 0) {
    op->nservers = res->server_count < FO_VERIFY_SERVERS_MAX
                       ? res->server_count : FO_VERIFY_SERVERS_MAX;
    for (k = 0; k < op->nservers; k++) {
      snprintf(op->server_names[k], sizeof(op->server_names[k]), "%s",
               fo_verify_result_server(res, k)->server);
      op->servers[k].server = op->server_names[k];
      op->servers[k].all_matched_ms = -1.0;
    }
  }
  for (k = 0; k < op->nservers && k < res->server_count; k++) {
    const fo_server_answer *a = fo_verify_result_server(res, k);
    if (a->first_match_ms < 0) {
      op->server_missed[k] = 1;
    } else if (start + a->first_match_ms > op->servers[k].all_matched_ms) {
      op->servers[k].all_matched_ms = start + a->first_match_ms;
    }
  }
}

static void verified(const fo_verify_result *res, void *userdata) {
  fo__switch_item *it = userdata;
  fo_switchover *op = it->op;
  double first = -1.0;
  size_t k;
  it->check = NULL;
  note_servers(op, it, res);
  if (res->error != 0 || res->status != FO_VERIFY_MATCH) {
    int error = res->error ? res->error : FO_ETIMEDOUT;
    if (error == FO_ECANCELED && it->cancel_error != 0)
      error = it->cancel_error;
    item_failed(it, error);
    return;
  }
  for (k = 0; k < res->server_count; k++) {
    const fo_server_answer *a = fo_verify_result_server(res, k);
    if (first < 0 || a->first_match_ms < first)
      first = a->first_match_ms;
  }
  first += (double)(it->check_start_ns - op->t0) / NS_PER_MS;
  if (op->first_match_ms < 0 || first < op->first_match_ms)
    op->first_match_ms = first;
  it->res.all_matched_ms = ms_since(op->t0);
  /* Confirmed in DNS: the switch is over. The items verified in one turn
   * of the loop are settled together, in one store commit. */
  it->phase = SETTLING;
  if (op->to_settle++ == 0)
    (void)uv_timer_start(&op->settle_timer, settle_verified, 0, 0);
}

static void published(fo_group *g, uint64_t generation, int error,
                      void *userdata) {
  fo__switch_item *it = userdata;
  fo_switchover *op = it->op;
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  uint64_t spent;
  int rc;
  (void)g;
  (void)generation;
  it->watch = NULL;
  if (error == FO_ECANCELED && it->cancel_error != 0)
    error = it->cancel_error;
  if (error != 0) {
    item_failed(it, error);
    return;
  }
  it->phase = VERIFYING;
  it->res.published_ms = ms_since(op->t0);
  {
    /* What caches may hold, as the publisher knows it now: the version
     * the switch replaced (and any before it) and a negative answer from
     * before the name existed. */
    fo_publish_status st = FO_PUBLISH_STATUS_INIT;
    if (fo_publisher_group_status(op->pub, it->res.group, &st) == 0) {
      double held = st.earlier_held_ms > st.negative_held_ms
                        ? st.earlier_held_ms : st.negative_held_ms;
      it->caches_until_ms = it->res.published_ms + held;
    }
  }
  if (++op->published == op->count)
    op->published_ms = it->res.published_ms;
  /* Keep asking until every server answers the new target, within what
   * is left of the deadline. */
  spent = (uv_hrtime() - op->t0) / 1000000u;
  p.until_ms = spent < op->until_ms ? op->until_ms - (uint32_t)spent : 1u;
  p.interval_ms = op->interval_ms;
  it->check_start_ns = uv_hrtime();
  rc = op->verifier == NULL ? FO_ECANCELED
                            : fo_verify_group(&it->check, op->verifier,
                                              it->res.group, &p, verified, it);
  if (rc != 0)
    item_failed(it, rc);
}

static void nothing_to_wait_for(uv_timer_t *t) { finish(t->data); }

/* End every item still waiting to be published, or (with `checks` too)
 * being verified, with `error`; each ends through its own callback, which
 * runs now. The last one reports. */
static void cancel_items(fo_switchover *op, int error, int checks) {
  size_t k, n = op->count;
  for (k = 0; k < n && !op->reported; k++) {
    fo__switch_item *it = &op->items[k];
    it->cancel_error = error;
    if (it->phase == WAITING && it->watch != NULL)
      (void)fo_publish_watch_cancel(it->watch);
    else if (checks && it->phase == VERIFYING && it->check != NULL)
      (void)fo_check_cancel(it->check);
  }
}

/* The verifier is closing: nothing may use it from now on (it is freed
 * once the loop runs, perhaps before this op reports). Its checks end
 * with FO_ECANCELED on their own. */
static void verifier_closing(fo__close_listener *l) {
  fo_switchover *op = (fo_switchover *)(void *)l;
  op->verifier = NULL;
  cancel_items(op, FO_ECANCELED, 0);
}

/* The deadline also covers publishing: a primary that stays down (retried
 * forever by the publisher) fails the switch in time. Items being verified
 * end on their own: their checks have the same deadline. */
static void deadline(uv_timer_t *t) {
  cancel_items(t->data, FO_ETIMEDOUT, 0);
}

int fo_switchover_cancel(fo_switchover *op) {
  if (op == NULL || op->reported)
    return FO_EINVAL;
  /* Verified groups are in DNS everywhere: settle them rather than call
   * them cancelled. Everything else ends with FO_ECANCELED, now. */
  settle_now(op);
  if (op->finished == op->count)
    finish(op);
  else
    cancel_items(op, FO_ECANCELED, 1);
  return 0;
}

/* Options of any known version (NULL: the defaults), checked. */
static int read_options(const fo_switchover_options *in,
                        fo_switchover_options *o) {
  int rc;
  if (in == NULL) {
    memset(o, 0, sizeof(*o));
    o->version = FO_SWITCHOVER_OPTIONS_VERSION;
  } else if ((rc = fo__layout_read(&options_layout, o, sizeof(*o), in)) != 0) {
    return rc;
  }
  if (o->until_ms > MAX_UNTIL_MS || o->interval_ms > MAX_INTERVAL_MS)
    return FO_ERANGE;
  if (o->flags & ~FO_FORCE)
    return FO_EINVAL;
  if (o->until_ms == 0)
    o->until_ms = FO_VERIFY_PROMISE_MS;
  if (o->interval_ms == 0)
    o->interval_ms = DEFAULT_INTERVAL_MS;
  return 0;
}

static int op_new(fo_switchover **out, fo_publisher *pub, fo_verifier *v,
                  size_t capacity, const fo_switchover_options *o,
                  fo_switchover_fn cb, void *userdata) {
  const fo_allocator *a = fo__publisher_alloc(pub);
  fo_switchover *op;
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
  if (uv_timer_init(fo_publisher_loop(pub), &op->timer) != 0) {
    fo__free(a, op->items);
    fo__free(a, op);
    return FO_EIO;
  }
  op->timer.data = op;
  op->alloc = *a;
  if (uv_timer_init(fo_publisher_loop(pub), &op->settle_timer) != 0) {
    op->open_handles = 1;
    uv_close((uv_handle_t *)&op->timer, op_free);
    return FO_EIO;
  }
  op->settle_timer.data = op;
  op->open_handles = 2;
  op->pub = pub;
  op->reg = fo_publisher_registry(pub);
  op->verifier = v;
  op->cb = cb;
  op->userdata = userdata;
  op->until_ms = o->until_ms;
  op->interval_ms = o->interval_ms;
  op->first_match_ms = -1.0;
  op->t0 = uv_hrtime();
  op->on_verifier_close.fn = verifier_closing;
  fo__verifier_listen_close(v, &op->on_verifier_close);
  *out = op;
  return 0;
}

/* Undo op_new() for a switchover refused before anything changed. */
static void op_discard(fo_switchover *op) {
  fo__verifier_unlisten_close(op->verifier, &op->on_verifier_close);
  op->reported = 1;
  op_close(op);
}

/* Follow a switched group through publishing, verifying and settling. */
static void watch_item(fo_switchover *op, fo_group *g) {
  fo__switch_item *it = &op->items[op->count];
  uint64_t gen;
  uint32_t ttl;
  int rc;
  fo_group_generation(g, &gen);
  fo_group_ttl(g, &ttl);
  if (ttl > op->ttl)
    op->ttl = ttl;
  it->op = op;
  it->ttl = ttl;
  it->res.group = g;
  it->res.published_ms = -1.0;
  it->res.all_matched_ms = -1.0;
  op->count++;
  it->phase = WAITING;
  rc = fo_publisher_watch(&it->watch, op->pub, g, gen, published, it);
  if (rc != 0) { /* switched, but we cannot follow it: say so */
    it->phase = DONE;
    it->res.error = rc;
    op->failed++;
    op->finished++;
    if (op->error == 0)
      op->error = rc;
  }
}

/* Switch one group and watch it. Returns fo_group_switch()'s code. */
static int switch_item(fo_switchover *op, fo_group *g, fo_slot to,
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

static void start_or_complete(fo_switchover **out, fo_switchover *op) {
  if (out != NULL)
    *out = op;
  if (op->finished == op->count) /* nothing in flight: report from the loop */
    (void)uv_timer_start(&op->timer, nothing_to_wait_for, 0, 0);
  else
    (void)uv_timer_start(&op->timer, deadline, op->until_ms, 0);
}

/* Refuse before anything changes: objects of another registry. */
static int check_registry(const fo_publisher *pub, fo_registry *reg) {
  return reg == fo_publisher_registry(pub) ? 0 : FO_EFOREIGN;
}

/* What every entry point checks first. */
static int check_common(fo_switchover **out, fo_publisher *pub,
                        fo_verifier *verifier, fo_switchover_fn cb,
                        const fo_switchover_options *in,
                        fo_switchover_options *o) {
  if (out != NULL)
    *out = NULL;
  if (pub == NULL || verifier == NULL || cb == NULL)
    return FO_EINVAL;
  return read_options(in, o);
}

int fo_switchover_group(fo_switchover **out, fo_publisher *pub,
                        fo_verifier *verifier, fo_group *group, fo_slot to,
                        const fo_switchover_options *opts,
                        fo_switchover_fn cb, void *userdata) {
  fo_switchover_options o;
  fo_switchover *op;
  fo_registry *reg;
  int rc;
  if ((rc = check_common(out, pub, verifier, cb, opts, &o)) != 0)
    return rc;
  if (group == NULL)
    return FO_EINVAL;
  if ((rc = fo_group_registry(group, &reg)) != 0 ||
      (rc = check_registry(pub, reg)) != 0)
    return rc;
  if ((rc = op_new(&op, pub, verifier, 1, &o, cb, userdata)) != 0)
    return rc;
  if ((rc = switch_item(op, group, to, o.flags)) != 0) {
    op_discard(op); /* refused: nothing changed, no callback */
    return rc;
  }
  start_or_complete(out, op);
  return 0;
}

int fo_switchover_stack(fo_switchover **out, fo_publisher *pub,
                        fo_verifier *verifier, fo_stack *failed,
                        const fo_switchover_options *opts,
                        fo_switchover_fn cb, void *userdata) {
  fo_switchover_options o;
  fo_registry *reg;
  fo_switchover *op;
  fo_group *g;
  size_t n = 0;
  int rc;
  if ((rc = check_common(out, pub, verifier, cb, opts, &o)) != 0)
    return rc;
  if (failed == NULL || o.flags != 0)
    return FO_EINVAL;
  if ((rc = fo_stack_group_count(failed, &n)) != 0)
    return rc;
  fo_stack_registry(failed, &reg);
  if ((rc = check_registry(pub, reg)) != 0)
    return rc;
  /* One store commit for the whole set (and FO_ESTALE before anything). */
  if ((rc = fo_registry_batch_begin(reg)) != 0)
    return rc;
  if ((rc = op_new(&op, pub, verifier, n, &o, cb, userdata)) != 0) {
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
  start_or_complete(out, op);
  return 0;
}

int fo_switchover_resume(fo_switchover **out, fo_publisher *pub,
                         fo_verifier *verifier,
                         const fo_switchover_options *opts,
                         fo_switchover_fn cb, void *userdata) {
  fo_switchover_options o;
  fo_registry *reg;
  fo_switchover *op;
  fo_group *g;
  size_t n = 0;
  int rc;
  if ((rc = check_common(out, pub, verifier, cb, opts, &o)) != 0)
    return rc;
  if (o.flags != 0)
    return FO_EINVAL;
  reg = fo_publisher_registry(pub);
  for (g = fo_registry_next_group(reg, NULL); g != NULL;
       g = fo_registry_next_group(reg, g))
    n += is_switching(g);
  if ((rc = op_new(&op, pub, verifier, n, &o, cb, userdata)) != 0)
    return rc;
  for (g = fo_registry_next_group(reg, NULL); g != NULL;
       g = fo_registry_next_group(reg, g))
    if (is_switching(g))
      watch_item(op, g);
  start_or_complete(out, op);
  return 0;
}
