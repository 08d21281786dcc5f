/*
 * durable.c - the write-ahead path between the model and a store.
 *
 * The model marks what a call changes (fo__dirty_*); this file turns the
 * marks into rows at commit, and rows from the store back into the model
 * (open, refresh). Order of every mutating call:
 *   check -> prepare -> fo__store_begin (lock + revision compare)
 *   -> apply in memory (cannot fail) -> fo__store_done (commit).
 * A commit that fails after the memory changed poisons the registry.
 */
#include "internal.h"
#include "names.h"
#include "store_internal.h"

#include <string.h>

static int grow(const fo_allocator *a, void **items, uint32_t *cap,
                uint32_t need, size_t size) {
  uint32_t n;
  void *grown;
  if (need <= *cap)
    return 0;
  n = *cap ? *cap * 2 : 64;
  while (n < need)
    n *= 2;
  grown = fo__realloc_array(a, *items, n, size);
  if (grown == NULL)
    return FO_ENOMEM;
  *items = grown;
  *cap = n;
  return 0;
}

/* A call marks at most one group and one stack: make room before it
 * changes anything, so that marking cannot fail. */
static int reserve_marks(fo_registry *reg) {
  void *g = reg->dirty_groups, *s = reg->dirty_stacks;
  int rc = grow(&reg->alloc, &g, &reg->dirty_group_cap,
                reg->dirty_group_count + 1, sizeof(uint32_t));
  reg->dirty_groups = g;
  if (rc == 0)
    rc = grow(&reg->alloc, &s, &reg->dirty_stack_cap,
              reg->dirty_stack_count + 1, sizeof(fo_stack *));
  reg->dirty_stacks = s;
  return rc;
}

static int tracking(const fo_registry *reg) {
  return reg->store != NULL && !reg->replaying;
}

void fo__dirty_group(fo_group *g) {
  fo_registry *reg = g->reg;
  if (!tracking(reg) || g->dirty)
    return;
  g->dirty = 1;
  reg->dirty_groups[reg->dirty_group_count++] = g->index;
}

void fo__dirty_stack(fo_stack *s) {
  fo_registry *reg = s->reg;
  if (!tracking(reg) || s->dirty)
    return;
  s->dirty = 1;
  reg->dirty_stacks[reg->dirty_stack_count++] = s;
}

void fo__dirty_counters(fo_registry *reg) {
  if (tracking(reg))
    reg->counters_dirty = 1;
}

int fo__store_begin(fo_registry *reg) {
  int rc;
  if (!tracking(reg))
    return 0;
  if (reg->poisoned)
    return FO_EPOISONED;
  if ((rc = reserve_marks(reg)) != 0)
    return rc;
  if (reg->txn_open)
    return 0;
  rc = reg->store->be.begin(reg->store->self, reg->revision);
  if (rc != 0)
    return rc;
  reg->txn_open = 1;
  return 0;
}

static void clear_marks(fo_registry *reg) {
  uint32_t i;
  for (i = 0; i < reg->dirty_group_count; i++)
    fo__group_at(reg, reg->dirty_groups[i])->dirty = 0;
  for (i = 0; i < reg->dirty_stack_count; i++)
    reg->dirty_stacks[i]->dirty = 0;
  reg->dirty_group_count = 0;
  reg->dirty_stack_count = 0;
  reg->settings_dirty = 0;
  reg->counters_dirty = 0;
}

static void group_row(const fo_group *g, fo_store_group_row *r) {
  r->seq = g->index;
  r->code = g->code;
  r->primary_stack = g->slot[0] ? g->slot[0]->id : 0;
  r->backup_stack = g->slot[1] ? g->slot[1]->id : 0;
  r->active_slot = g->active;
  r->state = g->state;
  r->ttl = g->ttl;
  r->mode = g->mode;
}

/* Row images of everything marked, in the order a follower applies them:
 * settings, counters, live stacks, groups, removed stacks (a stack is
 * removed only after its groups let go of it). */
static int build_changes(fo_registry *reg, fo_store_changes *ch) {
  size_t nrows = 0, nserv = 0, s = 0;
  uint32_t i;
  memset(ch, 0, sizeof(*ch));
  for (i = 0; i < reg->dirty_stack_count; i++) {
    const fo_stack *st = reg->dirty_stacks[i];
    if (!st->removed)
      nserv += st->servers[0].len + st->servers[1].len;
  }
  nrows = 2 + reg->dirty_stack_count + reg->dirty_group_count;
  ch->rows = fo__calloc(&reg->alloc, nrows, sizeof(*ch->rows));
  ch->servers = fo__calloc(&reg->alloc, nserv ? nserv : 1,
                           sizeof(*ch->servers));
  if (ch->rows == NULL || ch->servers == NULL)
    return FO_ENOMEM;
  if (reg->settings_dirty) {
    fo_store_row *r = &ch->rows[ch->count++];
    r->kind = FO_ROW_SETTINGS;
    r->settings.zone = reg->zone;
    r->settings.default_ttl = reg->default_ttl;
    r->settings.host_template = reg->host_template;
  }
  if (reg->counters_dirty) {
    fo_store_row *r = &ch->rows[ch->count++];
    r->kind = FO_ROW_COUNTERS;
    r->counters.next_stack_id = reg->next_stack_id;
    r->counters.next_server_id = reg->next_server_id;
  }
  for (i = 0; i < reg->dirty_stack_count; i++) {
    const fo_stack *st = reg->dirty_stacks[i];
    fo_store_row *r;
    size_t k, j;
    if (st->removed)
      continue;
    r = &ch->rows[ch->count++];
    r->kind = FO_ROW_STACK;
    r->stack.id = st->id;
    r->stack.name = st->name;
    r->stack.servers = &ch->servers[s];
    for (k = 0; k < 2; k++) {
      for (j = 0; j < st->servers[k].len; j++) {
        const fo__server *sv = &st->servers[k].items[j];
        fo_store_server_row *o = &ch->servers[s++];
        o->id = sv->id;
        o->kind = (fo_server_kind)(k + 1);
        o->name = sv->name;
        o->host_name = sv->host_explicit ? sv->host_name : NULL;
        o->ipv4 = sv->ipv4[0] ? sv->ipv4 : NULL;
        o->ipv6 = sv->ipv6[0] ? sv->ipv6 : NULL;
        r->stack.server_count++;
      }
    }
  }
  for (i = 0; i < reg->dirty_group_count; i++) {
    fo_store_row *r = &ch->rows[ch->count++];
    r->kind = FO_ROW_GROUP;
    group_row(fo__group_at(reg, reg->dirty_groups[i]), &r->group);
  }
  for (i = 0; i < reg->dirty_stack_count; i++) {
    const fo_stack *st = reg->dirty_stacks[i];
    if (st->removed) {
      fo_store_row *r = &ch->rows[ch->count++];
      r->kind = FO_ROW_STACK_REMOVED;
      r->stack.id = st->id;
    }
  }
  return fo__log_encode(&reg->alloc, ch->rows, ch->count, &ch->log,
                        &ch->log_len);
}

static void changes_free(fo_registry *reg, fo_store_changes *ch) {
  fo__free(&reg->alloc, ch->rows);
  fo__free(&reg->alloc, ch->servers);
  fo__free(&reg->alloc, ch->log);
}

static int anything_marked(const fo_registry *reg) {
  return reg->dirty_group_count || reg->dirty_stack_count ||
         reg->settings_dirty || reg->counters_dirty;
}

/* Commit what is marked; the store's begin succeeded before. */
static int commit_now(fo_registry *reg) {
  const fo_store_backend *be = &reg->store->be;
  fo_store_changes ch;
  uint64_t revision = 0;
  int rc;
  if (!reg->txn_open)
    return 0;
  reg->txn_open = 0;
  if (!anything_marked(reg)) {
    be->rollback(reg->store->self);
    return 0;
  }
  rc = build_changes(reg, &ch);
  if (rc == 0)
    rc = be->commit(reg->store->self, &ch, &revision);
  else
    be->rollback(reg->store->self);
  changes_free(reg, &ch);
  clear_marks(reg);
  if (rc != 0) {
    reg->poisoned = 1;
    return rc;
  }
  reg->revision = revision;
  return 0;
}

int fo__store_done(fo_registry *reg) {
  if (!tracking(reg) || reg->batch_depth > 0)
    return 0;
  return commit_now(reg);
}

void fo__durable_free(fo_registry *reg) {
  if (reg->txn_open) {
    reg->store->be.rollback(reg->store->self);
    reg->txn_open = 0;
  }
  fo__free(&reg->alloc, reg->dirty_groups);
  fo__free(&reg->alloc, reg->dirty_stacks);
}

/* ---- batches ------------------------------------------------------------ */

int fo_registry_batch_begin(fo_registry *reg) {
  int rc;
  if (reg == NULL)
    return FO_EINVAL;
  if ((rc = fo__check_mutable(reg)) != 0)
    return rc;
  if (reg->batch_depth == UINT32_MAX)
    return FO_ERANGE;
  if (reg->batch_depth == 0 && (rc = fo__store_begin(reg)) != 0)
    return rc;
  reg->batch_depth++;
  return 0;
}

int fo_registry_batch_commit(fo_registry *reg) {
  if (reg == NULL || reg->batch_depth == 0)
    return FO_EINVAL;
  if (--reg->batch_depth > 0)
    return 0;
  return reg->store ? commit_now(reg) : 0;
}

/* ---- accessors ---------------------------------------------------------- */

int fo_registry_store(const fo_registry *reg, fo_store **out) {
  if (reg == NULL || out == NULL)
    return FO_EINVAL;
  *out = reg->store;
  return 0;
}

int fo_registry_revision(const fo_registry *reg, uint64_t *out) {
  if (reg == NULL || out == NULL)
    return FO_EINVAL;
  *out = reg->revision;
  return 0;
}

int fo__registry_in_batch(const fo_registry *reg) {
  return reg->batch_depth > 0;
}

int fo_registry_poisoned(const fo_registry *reg) {
  return reg != NULL && reg->poisoned;
}

/* ---- refresh: others' commits from the log ------------------------------ */

typedef struct refresh_ctx {
  fo_registry *reg;
  size_t applied;
} refresh_ctx;

static int apply_rows(fo_registry *reg, const fo_store_row *rows,
                      size_t count) {
  int rc;
  reg->replaying = 1;
  if (count == 1)
    rc = fo__row_apply(reg, rows);
  else
    rc = fo__rows_apply(reg, rows, count);
  reg->replaying = 0;
  return rc;
}

static int refresh_entry(uint64_t revision, const void *bytes, size_t len,
                         void *userdata) {
  refresh_ctx *ctx = userdata;
  fo_registry *reg = ctx->reg;
  fo__decoded d;
  int rc;
  if (revision != reg->revision + 1)
    return FO_ECORRUPT;
  if ((rc = fo__log_decode(&reg->alloc, bytes, len, &d)) != 0)
    return rc;
  ctx->applied++; /* from here a failure leaves memory half-way */
  rc = apply_rows(reg, d.rows, d.count);
  fo__decoded_free(&reg->alloc, &d);
  if (rc == 0)
    reg->revision = revision;
  return rc;
}

int fo_registry_refresh(fo_registry *reg) {
  refresh_ctx ctx;
  int rc;
  if (reg == NULL)
    return FO_EINVAL;
  if (reg->busy || reg->batch_depth > 0)
    return FO_EBUSY;
  if (reg->store == NULL)
    return 0;
  if (reg->poisoned)
    return FO_EPOISONED;
  ctx.reg = reg;
  ctx.applied = 0;
  rc = reg->store->be.read_log(reg->store->self, reg->revision,
                               refresh_entry, &ctx);
  if (rc != 0 && ctx.applied > 0)
    reg->poisoned = 1;
  return rc;
}

/* ---- open: load, or create ---------------------------------------------- */

struct fo_store_loader {
  const fo_registry_options *opts;
  fo_registry *reg;
  int seen_counters;
};

int fo_store_loader_row(fo_store_loader *ld, const fo_store_row *row) {
  if (ld == NULL || row == NULL)
    return FO_EINVAL;
  if (row->kind == FO_ROW_SETTINGS) {
    fo_registry_options o = *ld->opts;
    if (ld->reg != NULL || row->settings.zone == NULL)
      return FO_ECORRUPT;
    if (ld->opts->zone != NULL) {
      char zone[FO_NAME_BUFSIZE];
      int rc = fo__name_normalize(ld->opts->zone, zone, NULL);
      if (rc != 0)
        return rc;
      if (strcmp(zone, row->settings.zone) != 0)
        return FO_EZONE;
    }
    o.zone = row->settings.zone;
    o.default_ttl = row->settings.default_ttl;
    o.host_name_template = row->settings.host_template;
    if (o.default_ttl == 0)
      return FO_ERANGE;
    return fo_registry_new(&ld->reg, &o);
  }
  if (ld->reg == NULL)
    return FO_ECORRUPT; /* rows before the settings */
  if (row->kind == FO_ROW_COUNTERS)
    ld->seen_counters = 1;
  else if (!ld->seen_counters)
    return FO_ECORRUPT;
  return apply_rows(ld->reg, row, 1);
}

static int create_in(fo_registry **out, const fo_registry_options *opts,
                     fo_store *store) {
  fo_registry *reg;
  int rc;
  if (opts->zone == NULL)
    return FO_EINVAL;
  if ((rc = fo_registry_new(&reg, opts)) != 0)
    return rc;
  rc = store->be.begin(store->self, 0);
  if (rc != 0) {
    fo_registry_free(reg);
    return rc == FO_EREADONLY ? FO_ENOSTORE : rc;
  }
  reg->store = store;
  reg->txn_open = 1;
  reg->settings_dirty = 1;
  reg->counters_dirty = 1;
  if ((rc = commit_now(reg)) != 0) {
    fo_registry_free(reg);
    return rc;
  }
  *out = reg;
  return 0;
}

int fo_registry_open(fo_registry **out, const fo_registry_options *opts,
                     fo_store *store) {
  fo_store_loader ld;
  uint64_t revision = 0;
  int rc, attempt;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || opts == NULL || store == NULL)
    return FO_EINVAL;
  if (opts->version != FO_REGISTRY_OPTIONS_VERSION)
    return FO_EVERSION;
  for (attempt = 0; attempt < 2; attempt++) {
    memset(&ld, 0, sizeof(ld));
    ld.opts = opts;
    rc = store->be.load(store->self, &ld, &revision);
    if (rc == FO_ENOSTORE) {
      rc = create_in(out, opts, store);
      if (rc == FO_ESTALE)
        continue; /* another process created it meanwhile: load that */
      return rc;
    }
    if (rc == 0 && (ld.reg == NULL || !ld.seen_counters))
      rc = FO_ECORRUPT;
    if (rc != 0) {
      fo_registry_free(ld.reg);
      return rc;
    }
    ld.reg->store = store;
    ld.reg->revision = revision;
    *out = ld.reg;
    return 0;
  }
  return FO_ESTALE;
}
