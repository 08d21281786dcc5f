/*
 * test_property.c - random operations on a small registry, with the model's
 * invariants checked after every one.
 *
 * Seed: FO_TEST_SEED from the environment when set, else a fixed one; every
 * failure message names it. FO_TEST_OPS overrides the number of operations.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

#define MAX_STACKS 8
#define MAX_GROUPS 32
#define RING 16
/* Every operation is followed by the full invariant sweep. Every refusal is
 * checked against a binary picture of the group or stack it touched, the
 * event count, the counts and a weighted sum of all generations; every 64th
 * refusal also against a full text snapshot of the registry (the text
 * snapshot costs 5x the rest of the test, too much under valgrind). */
#define FULL_SWEEP_EVERY 1
#define FULL_SNAPSHOT_EVERY 64

/* ---- per-group generation tracking (pointer -> last generation) ---------- */

typedef struct gen_entry {
  const fo_group *g;
  uint64_t gen;
} gen_entry;

typedef struct world {
  uint64_t seed;
  unsigned long op_no;
  const char *op_name;
  ft_rng dice;   /* decisions */
  ft_rng lib;    /* the library's random source */
  fo_registry *reg;
  fo_stack *stacks[MAX_STACKS];
  size_t n_stacks;
  fo_stack *removed[RING];
  size_t n_removed;
  fo_group *groups[MAX_GROUPS];
  size_t n_groups;
  fo_group *deleted[RING];
  size_t n_deleted;
  ft_strset addresses; /* every address ever handed out */
  gen_entry *gens;
  size_t gens_cap, gens_n;
  unsigned long events;     /* events delivered */
  char feed_error[512];     /* first problem seen inside the callback */
  unsigned long refusals, full_compares, checks_agreed;
  unsigned long ok_by_kind[32], refused_by_kind[32];
} world;

#define W_FAIL(w, ...)                                                          \
  do {                                                                          \
    char w_msg_[1024];                                                          \
    snprintf(w_msg_, sizeof w_msg_, __VA_ARGS__);                               \
    cr_assert_fail("seed %" PRIu64 " (FO_TEST_SEED=%" PRIu64 "), op #%lu (%s): %s", \
                   (w)->seed, (w)->seed, (w)->op_no, (w)->op_name, w_msg_);     \
  } while (0)

#define W_CHECK(w, cond, ...)                                                   \
  do {                                                                          \
    if (!(cond))                                                                \
      W_FAIL(w, __VA_ARGS__);                                                   \
  } while (0)

static size_t ptr_hash(const void *p, size_t cap) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (size_t)x & (cap - 1);
}

static gen_entry *gen_slot(world *w, const fo_group *g, int insert) {
  if (insert && (w->gens_n + 1) * 2 > w->gens_cap) {
    size_t cap = w->gens_cap ? w->gens_cap * 2 : 4096;
    gen_entry *old = w->gens;
    size_t old_cap = w->gens_cap;
    w->gens = calloc(cap, sizeof *w->gens);
    cr_assert_not_null(w->gens);
    w->gens_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
      if (!old[i].g)
        continue;
      size_t j = ptr_hash(old[i].g, cap);
      while (w->gens[j].g)
        j = (j + 1) & (cap - 1);
      w->gens[j] = old[i];
    }
    free(old);
  }
  if (!w->gens_cap)
    return NULL;
  size_t j = ptr_hash(g, w->gens_cap);
  while (w->gens[j].g) {
    if (w->gens[j].g == g)
      return &w->gens[j];
    j = (j + 1) & (w->gens_cap - 1);
  }
  if (!insert)
    return NULL;
  w->gens[j].g = g;
  w->gens[j].gen = 0;
  w->gens_n++;
  return &w->gens[j];
}

static void feed_cb(const fo_change *c, void *ud) {
  world *w = ud;
  w->events++;
  if (w->feed_error[0])
    return;
  gen_entry *e = gen_slot(w, c->group, 0);
  if (!e) {
    if (c->reason != FO_CHANGE_CREATE || c->generation != 1) {
      snprintf(w->feed_error, sizeof w->feed_error,
               "first event of a group: reason %s generation %" PRIu64
               " (expected create, 1)",
               fo_change_reason_name(c->reason), c->generation);
      return;
    }
    e = gen_slot(w, c->group, 1);
    e->gen = 1;
  } else {
    if (c->generation != e->gen + 1) {
      snprintf(w->feed_error, sizeof w->feed_error,
               "event %s: generation %" PRIu64 " after %" PRIu64,
               fo_change_reason_name(c->reason), c->generation, e->gen);
      return;
    }
    e->gen = c->generation;
  }
  uint64_t now = 0;
  if (fo_group_generation(c->group, &now) != 0 || now != c->generation)
    snprintf(w->feed_error, sizeof w->feed_error,
             "fo_group_generation in the callback %" PRIu64 ", event %" PRIu64, now,
             c->generation);
}

/* ---- checks ------------------------------------------------------------------ */

static void check_group(world *w, fo_group *g) {
  fo_state st = 0;
  W_CHECK(w, fo_group_state(g, &st) == 0, "fo_group_state failed");
  uint64_t gen = 0;
  W_CHECK(w, fo_group_generation(g, &gen) == 0, "fo_group_generation failed");
  gen_entry *e = gen_slot(w, g, 0);
  W_CHECK(w, e && e->gen == gen, "generation %" PRIu64 " but the feed said %" PRIu64, gen,
          e ? e->gen : 0);
  fo_rrset want = FO_RRSET_INIT, got = FO_RRSET_INIT;
  if (st == FO_GROUP_DELETED) {
    fo_stack *x;
    W_CHECK(w, fo_group_stack(g, FO_SLOT_PRIMARY, &x) == FO_EDELETED &&
                   fo_group_stack(g, FO_SLOT_BACKUP, &x) == FO_EDELETED,
            "a deleted group answers for its slots");
  } else {
    fo_stack *p = NULL, *b = NULL;
    W_CHECK(w, fo_group_stack(g, FO_SLOT_PRIMARY, &p) == 0, "fo_group_stack(primary)");
    W_CHECK(w, fo_group_stack(g, FO_SLOT_BACKUP, &b) == 0, "fo_group_stack(backup)");
    W_CHECK(w, !(p && p == b), "the same stack in both slots");
    if (!p && !b) {
      W_CHECK(w, st == FO_GROUP_RESERVED, "no stack but state %d", (int)st);
    } else {
      W_CHECK(w, st == FO_GROUP_SERVING || st == FO_GROUP_SWITCHING,
              "a stack attached but state %d", (int)st);
      fo_slot act = 0;
      W_CHECK(w, fo_group_active_slot(g, &act) == 0, "fo_group_active_slot");
      W_CHECK(w, (act == FO_SLOT_PRIMARY && p) || (act == FO_SLOT_BACKUP && b),
              "a slot holds a stack but the active slot %d is empty", (int)act);
    }
  }
  ft_expected_rrset(g, &want);
  memset(&got, 0, sizeof got);
  got.version = FO_RRSET_VERSION;
  W_CHECK(w, fo_group_records(g, &got) == 0, "fo_group_records");
  if (!ft_rrset_equal(&want, &got)) {
    char *a = ft_rrset_describe(&got), *b = ft_rrset_describe(&want);
    W_FAIL(w, "records %s, expected %s", a, b);
  }
  fo_target t = FO_TARGET_INIT;
  W_CHECK(w, fo_group_target(g, &t) == 0, "fo_group_target");
  W_CHECK(w, t.none == want.none, "target none %d, records none %d", (int)t.none,
          (int)want.none);
}

static int holds(fo_group *g, fo_stack *s) {
  fo_stack *p = NULL, *b = NULL;
  if (fo_group_stack(g, FO_SLOT_PRIMARY, &p) != 0)
    return 0;
  fo_group_stack(g, FO_SLOT_BACKUP, &b);
  return p == s || b == s;
}

static void full_sweep(world *w) {
  size_t n = 0;
  W_CHECK(w, fo_registry_group_count(w->reg, &n) == 0 && n == w->n_groups,
          "group count %zu, expected %zu", n, w->n_groups);
  W_CHECK(w, fo_registry_stack_count(w->reg, &n) == 0 && n == w->n_stacks,
          "stack count %zu, expected %zu", n, w->n_stacks);
  size_t i = 0;
  for (fo_group *g = fo_registry_next_group(w->reg, NULL); g;
       g = fo_registry_next_group(w->reg, g), i++) {
    W_CHECK(w, i < w->n_groups, "iteration yields more groups than live");
  }
  W_CHECK(w, i == w->n_groups, "iteration yields %zu groups, %zu live", i, w->n_groups);
  for (i = 0; i < w->n_groups; i++)
    check_group(w, w->groups[i]);
  for (i = 0; i < w->n_deleted; i++)
    check_group(w, w->deleted[i]);
  for (size_t k = 0; k < w->n_stacks; k++) {
    size_t want = 0, got = 0;
    for (i = 0; i < w->n_groups; i++)
      want += (size_t)holds(w->groups[i], w->stacks[k]);
    W_CHECK(w, fo_stack_group_count(w->stacks[k], &got) == 0 && got == want,
            "fo_stack_group_count %zu, %zu groups hold it", got, want);
  }
  for (i = 0; i < w->n_removed; i++) {
    const char *nm;
    W_CHECK(w, fo_stack_name(w->removed[i], &nm) == FO_EDELETED, "removed stack answers");
  }
}

/* ---- picking -------------------------------------------------------------------- */

static uint32_t roll(world *w, uint32_t n) { return ft_rng_below(&w->dice, n); }

static fo_stack *pick_stack(world *w, int allow_null) {
  uint32_t r = roll(w, 100);
  if (allow_null && r < 25)
    return NULL;
  if (r >= 95 && w->n_removed)
    return w->removed[roll(w, (uint32_t)w->n_removed)];
  if (!w->n_stacks)
    return w->n_removed ? w->removed[0] : NULL;
  return w->stacks[roll(w, (uint32_t)w->n_stacks)];
}

static fo_group *pick_group(world *w) {
  if ((roll(w, 100) < 4 || !w->n_groups) && w->n_deleted)
    return w->deleted[roll(w, (uint32_t)w->n_deleted)];
  if (!w->n_groups)
    return NULL;
  return w->groups[roll(w, (uint32_t)w->n_groups)];
}

static const char *stack_names[] = {"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8",
                                    "s9", "S3", "alpha", "beta"};
static const char *server_names[] = {"w0", "w1", "w2", "w3", "l0", "l1", "l2", "W1"};
static const char *ipv4s[] = {"192.0.2.1", "192.0.2.2", "198.51.100.9", "300.1.1.1", NULL};
static const char *ipv6s[] = {"2001:db8::1", "2001:db8::2", "::1", "2001:db8::zz", NULL};

#define PICK(w, arr) (arr)[roll((w), (uint32_t)(sizeof(arr) / sizeof((arr)[0])))]

static void remember_deleted(world *w, fo_group *g) {
  if (w->n_deleted < RING)
    w->deleted[w->n_deleted++] = g;
  else
    w->deleted[roll(w, RING)] = g;
}

static void remember_removed(world *w, fo_stack *s) {
  if (w->n_removed < RING)
    w->removed[w->n_removed++] = s;
  else
    w->removed[roll(w, RING)] = s;
}

static void drop_group(world *w, fo_group *g) {
  for (size_t i = 0; i < w->n_groups; i++)
    if (w->groups[i] == g) {
      w->groups[i] = w->groups[--w->n_groups];
      remember_deleted(w, g);
      return;
    }
  W_FAIL(w, "deleted a group the test did not know as live");
}

static void drop_stack(world *w, fo_stack *s) {
  for (size_t i = 0; i < w->n_stacks; i++)
    if (w->stacks[i] == s) {
      w->stacks[i] = w->stacks[--w->n_stacks];
      remember_removed(w, s);
      return;
    }
  W_FAIL(w, "removed a stack the test did not know as live");
}

static uint64_t gen_sum(world *w) {
  uint64_t sum = 0;
  for (size_t i = 0; i < w->n_groups; i++) {
    uint64_t g = 0;
    fo_group_generation(w->groups[i], &g);
    sum += g * (i + 1);
  }
  return sum;
}

/* A cheap binary picture of one group (the string snapshot is too slow to
 * take on every operation under valgrind). */
typedef struct group_print {
  int rc_state, rc_gen, rc_ttl, rc_mode, rc_p, rc_b, rc_act, rc_rec, rc_tgt;
  fo_state state;
  uint64_t gen;
  uint32_t ttl;
  fo_record_mode mode;
  fo_stack *p, *b;
  fo_slot act;
  fo_rrset rec;
  fo_none_reason tnone;
} group_print;

static void print_group(const fo_group *g, group_print *out) {
  memset(out, 0, sizeof *out);
  out->rc_state = fo_group_state(g, &out->state);
  out->rc_gen = fo_group_generation(g, &out->gen);
  out->rc_ttl = fo_group_ttl(g, &out->ttl);
  out->rc_mode = fo_group_mode(g, &out->mode);
  out->rc_p = fo_group_stack(g, FO_SLOT_PRIMARY, &out->p);
  out->rc_b = fo_group_stack(g, FO_SLOT_BACKUP, &out->b);
  if (out->p || out->b)
    out->rc_act = fo_group_active_slot(g, &out->act);
  out->rec.version = FO_RRSET_VERSION;
  out->rc_rec = fo_group_records(g, &out->rec);
  fo_target t = FO_TARGET_INIT;
  out->rc_tgt = fo_group_target(g, &t);
  out->tnone = t.none;
}

static int same_print(const group_print *a, const group_print *b) {
  return a->rc_state == b->rc_state && a->rc_gen == b->rc_gen && a->rc_ttl == b->rc_ttl &&
         a->rc_mode == b->rc_mode && a->rc_p == b->rc_p && a->rc_b == b->rc_b &&
         a->rc_act == b->rc_act && a->rc_rec == b->rc_rec && a->rc_tgt == b->rc_tgt &&
         a->state == b->state && a->gen == b->gen && a->ttl == b->ttl && a->mode == b->mode &&
         a->p == b->p && a->b == b->b && a->act == b->act && a->tnone == b->tnone &&
         ft_rrset_equal(&a->rec, &b->rec);
}

/* The same for a stack, as a string built without printf. */
static void fp_str(ft_buf *b, const char *str) {
  if (!str)
    str = "(null)";
  ft_buf_append(b, str, strlen(str));
  ft_buf_append(b, "|", 1);
}

static void fp_num(ft_buf *b, long long v) {
  char tmp[24];
  int i = (int)sizeof tmp;
  int neg = v < 0;
  unsigned long long u = neg ? (unsigned long long)(-(v + 1)) + 1 : (unsigned long long)v;
  do {
    tmp[--i] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (neg)
    tmp[--i] = '-';
  ft_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
  ft_buf_append(b, "|", 1);
}

static char *print_stack(const fo_stack *s) {
  ft_buf b = {0};
  const char *name = NULL;
  int rc = fo_stack_name(s, &name);
  fp_num(&b, rc);
  fp_str(&b, rc == 0 ? name : "-");
  size_t gc = 0;
  fp_num(&b, fo_stack_group_count(s, &gc));
  fp_num(&b, (long long)gc);
  static const fo_server_kind kinds[2] = {FO_SERVER_WEB, FO_SERVER_LOAD_BALANCER};
  for (int k = 0; k < 2; k++) {
    size_t n = 0;
    rc = fo_stack_server_count(s, kinds[k], &n);
    fp_num(&b, rc);
    fp_num(&b, (long long)n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
      fo_server_info info = FO_SERVER_INFO_INIT;
      fp_num(&b, fo_stack_server_at(s, kinds[k], i, &info));
      fp_num(&b, (long long)info.kind);
      fp_str(&b, info.name);
      fp_str(&b, info.host_name);
      fp_num(&b, info.host_name_explicit);
      fp_str(&b, info.ipv4);
      fp_str(&b, info.ipv6);
    }
  }
  fo_server_info head = FO_SERVER_INFO_INIT;
  fo_web_head_rule rule = 0;
  rc = fo_stack_web_head(s, &head, &rule);
  fp_num(&b, rc);
  if (rc == 0) {
    fp_num(&b, (long long)rule);
    fp_str(&b, head.name);
  }
  return ft_buf_take(&b);
}

/* ---- one operation ------------------------------------------------------------- */

enum kind {
  K_CREATE, K_ATTACH, K_DETACH, K_SWITCH, K_SETTLE, K_DELETE, K_REMOVE_STACK,
  K_ADD_SERVER, K_REMOVE_SERVER, K_RENAME_SERVER, K_RENAME_STACK, K_SET_ADDRESSES,
  K_SET_HOST, K_SET_TTL, K_SET_MODE, K_NEW_STACK, K_COUNT
};

static const char *kind_names[K_COUNT] = {
    "create", "attach", "detach", "switch", "settle", "delete", "remove stack",
    "add server", "remove server", "rename server", "rename stack", "set addresses",
    "set host name", "set ttl", "set mode", "new stack"};

static const unsigned weights[K_COUNT] = {8, 10, 9, 10, 6, 6, 3, 6, 4, 3, 3, 4, 2, 3, 3, 3};

static enum kind pick_kind(world *w) {
  unsigned total = 0;
  for (int k = 0; k < K_COUNT; k++)
    total += weights[k];
  unsigned r = roll(w, total);
  for (int k = 0; k < K_COUNT; k++) {
    if (r < weights[k])
      return (enum kind)k;
    r -= weights[k];
  }
  return K_CREATE;
}

static void one_op(world *w) {
  enum kind k = pick_kind(w);
  if (k == K_CREATE && w->n_groups >= MAX_GROUPS)
    k = K_DELETE;
  if (k == K_NEW_STACK && w->n_stacks >= MAX_STACKS)
    k = K_REMOVE_STACK;
  w->op_name = kind_names[k];

  fo_op op;
  int is_op = 1;
  fo_group *g = NULL;
  fo_stack *s = NULL;
  switch (k) {
  case K_CREATE: fo_op_init(&op, FO_OP_VERSION, FO_OP_CREATE); break;
  case K_ATTACH: fo_op_init(&op, FO_OP_VERSION, FO_OP_ATTACH); break;
  case K_DETACH: fo_op_init(&op, FO_OP_VERSION, FO_OP_DETACH); break;
  case K_SWITCH: fo_op_init(&op, FO_OP_VERSION, FO_OP_SWITCH); break;
  case K_SETTLE: fo_op_init(&op, FO_OP_VERSION, FO_OP_SETTLE); break;
  case K_DELETE: fo_op_init(&op, FO_OP_VERSION, FO_OP_DELETE); break;
  case K_REMOVE_STACK: fo_op_init(&op, FO_OP_VERSION, FO_OP_REMOVE_STACK); break;
  default: is_op = 0; memset(&op, 0, sizeof op); break;
  }
  if (is_op) {
    op.registry = w->reg;
    op.primary = pick_stack(w, 1);
    op.backup = roll(w, 10) == 0 && op.primary ? op.primary : pick_stack(w, 1);
    op.slot = roll(w, 2) ? FO_SLOT_BACKUP : FO_SLOT_PRIMARY;
    op.flags = roll(w, 10) < 3 ? FO_FORCE : 0;
    op.stack = pick_stack(w, 0);
    if (k != K_CREATE && k != K_REMOVE_STACK) {
      op.group = g = pick_group(w);
      if (!g)
        return;
    }
    if (k == K_REMOVE_STACK) {
      s = op.stack;
      if (!s)
        return;
    }
  } else if (k == K_SET_TTL || k == K_SET_MODE) {
    g = pick_group(w);
    if (!g)
      return;
  } else if (k != K_NEW_STACK) {
    s = pick_stack(w, 0);
    if (!s)
      return;
  }

  /* What to compare on a refusal: the touched group or stack, the counts and
   * the generations of every live group (a refused op sends no event). */
  size_t n_groups_before = w->n_groups, n_stacks_before = w->n_stacks;
  unsigned long events_before = w->events;

  int chk = 1;
  char *full_before = NULL;
  uint64_t gens_before = 0;
  if (is_op) {
    chk = fo_op_check(&op);
    if (chk != 0 && (w->refusals % FULL_SNAPSHOT_EVERY) == 0)
      full_before = ft_snapshot(w->reg);
  }
  gens_before = gen_sum(w);
  /* Operations with a check function are snapshotted when the check predicts
   * a refusal (a refusal it did not predict fails the agreement check); the
   * others always. */
  char *small_before = NULL;
  group_print gp_before;
  int have_gp = 0;
  if (!is_op || chk != 0) {
    if (g) {
      print_group(g, &gp_before);
      have_gp = 1;
    }
    if (s && (!g || !is_op))
      small_before = print_stack(s);
  }

  int rc = 0;
  fo_group *created = NULL;
  int via_apply = is_op && roll(w, 2);
  if (via_apply) {
    rc = fo_op_apply(&op, &created);
  } else {
    switch (k) {
    case K_CREATE: rc = fo_group_create(&created, w->reg, op.primary, op.backup); break;
    case K_ATTACH: rc = fo_group_attach(g, op.slot, op.stack); break;
    case K_DETACH: rc = fo_group_detach(g, op.slot, op.flags); break;
    case K_SWITCH: rc = fo_group_switch(g, op.slot, op.flags); break;
    case K_SETTLE: rc = fo_group_settle(g); break;
    case K_DELETE: rc = fo_group_delete(g); break;
    case K_REMOVE_STACK: rc = fo_stack_remove(s); break;
    case K_ADD_SERVER:
      rc = fo_stack_add_server(s, roll(w, 3) ? FO_SERVER_WEB : FO_SERVER_LOAD_BALANCER,
                               PICK(w, server_names),
                               roll(w, 5) ? NULL : "www.customer.example");
      break;
    case K_REMOVE_SERVER: rc = fo_stack_remove_server(s, PICK(w, server_names)); break;
    case K_RENAME_SERVER:
      rc = fo_stack_rename_server(s, PICK(w, server_names), PICK(w, server_names));
      break;
    case K_RENAME_STACK: rc = fo_stack_rename(s, PICK(w, stack_names)); break;
    case K_SET_ADDRESSES:
      rc = fo_stack_set_server_addresses(s, PICK(w, server_names), PICK(w, ipv4s),
                                         PICK(w, ipv6s));
      break;
    case K_SET_HOST:
      rc = fo_stack_set_server_host_name(s, PICK(w, server_names),
                                         roll(w, 2) ? NULL : "origin.customer.example");
      break;
    case K_SET_TTL: {
      uint32_t ttls[] = {0, 1, 30, 60, 120, 300, 301, 86400};
      rc = fo_group_set_ttl(g, PICK(w, ttls));
      break;
    }
    case K_SET_MODE:
      rc = fo_group_set_mode(g, roll(w, 2) ? FO_MODE_ADDRESS : FO_MODE_CNAME);
      break;
    case K_NEW_STACK: {
      fo_stack *ns = NULL;
      rc = fo_stack_new(&ns, w->reg, PICK(w, stack_names));
      if (rc == 0) {
        W_CHECK(w, ns != NULL, "fo_stack_new succeeded without a stack");
        w->stacks[w->n_stacks++] = ns;
        int n_web = (int)roll(w, 3);
        for (int i = 0; i < n_web; i++)
          fo_stack_add_server(ns, FO_SERVER_WEB, server_names[i], NULL);
      }
      break;
    }
    case K_COUNT: break;
    }
  }

  W_CHECK(w, !w->feed_error[0], "change feed: %s", w->feed_error);
  W_CHECK(w, rc <= 0 && rc != FO_ENOMEM && rc != FO_ERANDOM && rc != FO_EINVAL &&
                 rc != FO_EBUSY && rc >= FO_EBADTEMPLATE,
          "unexpected code %s (%d)", fo_err_name(rc), rc);
  if (is_op) {
    W_CHECK(w, rc == chk, "fo_op_check said %s, the operation (%s) returned %s",
            fo_err_name(chk), via_apply ? "fo_op_apply" : "dedicated function",
            fo_err_name(rc));
    w->checks_agreed++;
  }

  if (rc != 0) {
    w->refusals++;
    w->refused_by_kind[k]++;
    W_CHECK(w, w->events == events_before, "a refused operation (%s) sent %lu events",
            fo_err_name(rc), w->events - events_before);
    W_CHECK(w, created == NULL, "a refused create stored a group");
    if (have_gp) {
      group_print gp_after;
      print_group(g, &gp_after);
      if (!same_print(&gp_before, &gp_after)) {
        char *now = ft_snapshot_group(g);
        W_FAIL(w, "refused with %s but the group changed; now:\n%s", fo_err_name(rc), now);
      }
    }
    if (small_before) {
      char *after = print_stack(s);
      if (strcmp(after, small_before) != 0)
        W_FAIL(w, "refused with %s but changed:\n--- before\n%s--- after\n%s", fo_err_name(rc),
               small_before, after);
      free(after);
    }
    W_CHECK(w, gen_sum(w) == gens_before, "a refused operation moved generations");
    if (full_before) {
      char *after = ft_snapshot(w->reg);
      if (strcmp(after, full_before) != 0)
        W_FAIL(w, "refused with %s but the registry changed:\n--- before\n%s--- after\n%s",
               fo_err_name(rc), full_before, after);
      free(after);
      w->full_compares++;
    }
    W_CHECK(w, w->n_groups == n_groups_before && w->n_stacks == n_stacks_before,
            "bookkeeping");
  } else {
    w->ok_by_kind[k]++;
    if (k == K_CREATE) {
      W_CHECK(w, created != NULL, "create succeeded without a group");
      char a[FO_NAME_BUFSIZE];
      W_CHECK(w, fo_group_address(created, a, sizeof a) == 0, "address");
      W_CHECK(w, ft_is_address(a, FT_ZONE), "bad address \"%s\"", a);
      W_CHECK(w, ft_strset_add(&w->addresses, a), "address %s handed out again", a);
      w->groups[w->n_groups++] = created;
      check_group(w, created);
    } else if (k == K_DELETE) {
      drop_group(w, g);
      check_group(w, g);
      char a[FO_NAME_BUFSIZE];
      fo_group *f = (fo_group *)(uintptr_t)1;
      fo_group_address(g, a, sizeof a);
      W_CHECK(w, fo_registry_find_group(w->reg, a, &f) == FO_EDELETED && f == NULL,
              "a deleted address is not a tombstone");
    } else if (k == K_REMOVE_STACK) {
      drop_stack(w, s);
    } else if (g) {
      check_group(w, g);
    }
  }
  /* A stack change re-targets every group holding the stack. */
  if (s && !g) {
    for (size_t i = 0; i < w->n_groups; i++)
      if (holds(w->groups[i], s))
        check_group(w, w->groups[i]);
  }
  if (is_op && op.group == NULL && k == K_CREATE) {
    for (size_t i = 0; i < w->n_groups && i < 4; i++)
      check_group(w, w->groups[i]);
  }
  free(small_before);
  free(full_before);
}

static uint64_t env_u64(const char *name, uint64_t dflt) {
  const char *v = getenv(name);
  if (!v || !*v)
    return dflt;
  return (uint64_t)strtoull(v, NULL, 0);
}

Test(property, random_operations, .timeout = 600) {
  world *w = calloc(1, sizeof *w);
  cr_assert_not_null(w);
  w->seed = env_u64("FO_TEST_SEED", 0x5eed2096ull);
  unsigned long nops = (unsigned long)env_u64("FO_TEST_OPS", 100000);
  cr_log_info("property test: seed %" PRIu64 ", %lu operations", w->seed, nops);
  ft_rng_init(&w->dice, w->seed);
  ft_rng_init(&w->lib, w->seed ^ 0xabcdefull);
  fo_registry_options o = ft_options(&w->lib, NULL);
  FT_OK(fo_registry_new(&w->reg, &o));
  FT_OK(fo_registry_subscribe(w->reg, feed_cb, w, NULL));
  w->op_name = "setup";
  for (int i = 0; i < 4; i++) {
    char name[8];
    snprintf(name, sizeof name, "s%d", i);
    w->stacks[w->n_stacks++] = ft_stack(w->reg, name, i % 3, i == 2);
  }
  for (w->op_no = 1; w->op_no <= nops; w->op_no++) {
    one_op(w);
    if (w->op_no % FULL_SWEEP_EVERY == 0)
      full_sweep(w);
  }
  w->op_name = "final sweep";
  full_sweep(w);
  cr_log_info("property test: %lu refusals, %lu full compares, %lu check/apply pairs, %lu events",
              w->refusals, w->full_compares, w->checks_agreed, w->events);
  /* the run must have exercised both outcomes of the main operations */
  for (int k = 0; k < K_COUNT; k++) {
    cr_assert_gt(w->ok_by_kind[k], 0, "seed %" PRIu64 ": no %s ever succeeded", w->seed,
                 kind_names[k]);
    if (k != K_NEW_STACK)
      cr_assert_gt(w->refused_by_kind[k], 0, "seed %" PRIu64 ": no %s was ever refused",
                   w->seed, kind_names[k]);
  }
  fo_registry_free(w->reg);
  ft_strset_free(&w->addresses);
  free(w->gens);
  ft_rng_free(&w->dice);
  ft_rng_free(&w->lib);
  free(w);
}
