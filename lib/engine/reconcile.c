/*
 * reconcile.c - zone RRs at owned names vs. the registry's desired records
 * (see reconcile.h). Pure: no I/O.
 *
 * fo__reconcile_add() keeps the RRs whose owner the registry knows (a live
 * group or a tombstone) in one array; fo__reconcile_plan() sorts them by
 * owner, looks every owner up again (the registry may have changed while
 * the zone was being read), compares each name's RRs with the desired set
 * as a set of (type, TTL, data), and adds CREATE entries for live groups
 * the zone lacks. Entries come out sorted by name.
 */
#include "reconcile.h"

#include "alloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One kept RR: owner and data in one block ("owner\0data\0"). */
typedef struct kept_rr {
  uint16_t type;
  uint32_t ttl;
  const char *data; /* points into text, after the owner */
  char text[];      /* owner */
} kept_rr;

struct fo__reconcile {
  fo_allocator alloc;
  const fo_registry *reg;
  kept_rr **rrs;
  size_t count, cap;
  size_t zone_records;
  /* the last plan */
  fo_plan_entry *entries;
  size_t entry_count, entry_cap;
  char **strings; /* every string the entries point to */
  size_t string_count, string_cap;
};

int fo__reconcile_new(fo__reconcile **out, const fo_allocator *a,
                      const fo_registry *reg) {
  fo_allocator def;
  fo__reconcile *r;
  if (out == NULL || reg == NULL)
    return FO_EINVAL;
  *out = NULL;
  if (a == NULL) {
    fo__alloc_default(&def);
    a = &def;
  }
  r = fo__calloc(a, 1, sizeof(*r));
  if (r == NULL)
    return FO_ENOMEM;
  r->alloc = *a;
  r->reg = reg;
  *out = r;
  return 0;
}

static void free_plan(fo__reconcile *r) {
  size_t i;
  for (i = 0; i < r->string_count; i++)
    fo__free(&r->alloc, r->strings[i]);
  fo__free(&r->alloc, r->strings);
  fo__free(&r->alloc, r->entries);
  r->strings = NULL;
  r->string_count = r->string_cap = 0;
  r->entries = NULL;
  r->entry_count = r->entry_cap = 0;
}

void fo__reconcile_free(fo__reconcile *r) {
  fo_allocator a;
  size_t i;
  if (r == NULL)
    return;
  a = r->alloc;
  free_plan(r);
  for (i = 0; i < r->count; i++)
    fo__free(&a, r->rrs[i]);
  fo__free(&a, r->rrs);
  fo__free(&a, r);
}

/* 0 live (group in *g), 1 tombstone, -1 not owned. */
static int owner_status(const fo_registry *reg, const char *name,
                        fo_group **g) {
  int rc;
  *g = NULL;
  rc = fo_registry_find_group(reg, name, g);
  if (rc == 0 && *g != NULL)
    return 0;
  *g = NULL;
  return rc == FO_EDELETED ? 1 : -1;
}

int fo__reconcile_add(fo__reconcile *r, const fo__zone_rr *rr) {
  fo_group *g;
  kept_rr *k;
  size_t olen, dlen, i;
  const char *data;
  if (r == NULL || rr == NULL || rr->owner == NULL)
    return FO_EINVAL;
  r->zone_records++;
  if (owner_status(r->reg, rr->owner, &g) < 0)
    return 0;
  data = rr->data != NULL ? rr->data : "";
  olen = strlen(rr->owner);
  dlen = strlen(data);
  if (r->count == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    kept_rr **p = fo__realloc_array(&r->alloc, r->rrs, cap, sizeof(*p));
    if (p == NULL)
      return FO_ENOMEM;
    r->rrs = p;
    r->cap = cap;
  }
  k = fo__malloc(&r->alloc, sizeof(*k) + olen + dlen + 2);
  if (k == NULL)
    return FO_ENOMEM;
  k->type = rr->type;
  k->ttl = rr->ttl;
  for (i = 0; i < olen; i++) /* already lowercase from the codec; be sure */
    k->text[i] = (char)tolower((unsigned char)rr->owner[i]);
  k->text[olen] = '\0';
  /* a trailing dot never reaches here from the codec; drop one if given */
  if (olen > 0 && k->text[olen - 1] == '.')
    k->text[olen - 1] = '\0';
  memcpy(k->text + olen + 1, data, dlen + 1);
  k->data = k->text + olen + 1;
  r->rrs[r->count++] = k;
  return 0;
}

/* ---- comparing --------------------------------------------------------------- */

/* Compare record data of one type: addresses by value, names without case
 * or trailing dot, anything else as text. */
static int data_cmp(uint16_t type, const char *a, const char *b) {
  if (type == FO_RR_A || type == FO_RR_AAAA) {
    unsigned char x[16], y[16];
    int af = type == FO_RR_A ? AF_INET : AF_INET6;
    size_t n = type == FO_RR_A ? 4 : 16;
    if (inet_pton(af, a, x) == 1 && inet_pton(af, b, y) == 1)
      return memcmp(x, y, n);
    return strcmp(a, b);
  }
  if (type == FO_RR_CNAME) {
    size_t la = strlen(a), lb = strlen(b), i;
    if (la > 0 && a[la - 1] == '.')
      la--;
    if (lb > 0 && b[lb - 1] == '.')
      lb--;
    for (i = 0; i < la && i < lb; i++) {
      int ca = tolower((unsigned char)a[i]), cb = tolower((unsigned char)b[i]);
      if (ca != cb)
        return ca < cb ? -1 : 1;
    }
    return la == lb ? 0 : (la < lb ? -1 : 1);
  }
  return strcmp(a, b);
}

static int kept_cmp(const void *pa, const void *pb) {
  const kept_rr *a = *(const kept_rr *const *)pa;
  const kept_rr *b = *(const kept_rr *const *)pb;
  int c = strcmp(a->text, b->text);
  if (c != 0)
    return c;
  if (a->type != b->type)
    return a->type < b->type ? -1 : 1;
  c = data_cmp(a->type, a->data, b->data);
  if (c != 0)
    return c;
  return a->ttl == b->ttl ? 0 : (a->ttl < b->ttl ? -1 : 1);
}

static int entry_cmp(const void *pa, const void *pb) {
  const fo_plan_entry *a = pa, *b = pb;
  return strcmp(a->name, b->name);
}

/* Do the zone's RRs rrs[0..n) (sorted, same owner) equal `set`? */
static int same_set(kept_rr *const *rrs, size_t n, const fo_rrset *set) {
  size_t i, j, distinct = 0;
  for (i = 0; i < n; i++) {
    int found = 0;
    if (i > 0 && kept_cmp(&rrs[i - 1], &rrs[i]) == 0)
      continue; /* a duplicate RR counts once, as in an RRset */
    distinct++;
    for (j = 0; j < set->count; j++) {
      const fo_record *d = &set->records[j];
      if ((uint16_t)d->type == rrs[i]->type && d->ttl == rrs[i]->ttl &&
          data_cmp(rrs[i]->type, rrs[i]->data, d->data) == 0) {
        found = 1;
        break;
      }
    }
    if (!found)
      return 0;
  }
  return distinct == set->count;
}

/* ---- building the plan ----------------------------------------------------- */

static int keep_string(fo__reconcile *r, char *s) {
  if (r->string_count == r->string_cap) {
    size_t cap = r->string_cap ? r->string_cap * 2 : 16;
    char **p = fo__realloc_array(&r->alloc, r->strings, cap, sizeof(*p));
    if (p == NULL)
      return FO_ENOMEM;
    r->strings = p;
    r->string_cap = cap;
  }
  r->strings[r->string_count++] = s;
  return 0;
}

/* One presentation line of a zone RR into buf (NULL: just measure). */
static size_t format_rr(const kept_rr *k, char *buf, size_t size) {
  const char *t = fo_rr_type_name((fo_rr_type)k->type);
  int n;
  if (t == NULL)
    n = snprintf(buf, size, "%s. %u IN TYPE%u\n", k->text, (unsigned)k->ttl,
                 (unsigned)k->type);
  else
    n = snprintf(buf, size, "%s. %u IN %s %s%s\n", k->text, (unsigned)k->ttl,
                 t, k->data, k->type == FO_RR_CNAME ? "." : "");
  return n < 0 ? 0 : (size_t)n;
}

static int format_current(fo__reconcile *r, kept_rr *const *rrs, size_t n,
                          const char **out) {
  size_t i, total = 0, at = 0;
  char *s;
  for (i = 0; i < n; i++)
    total += format_rr(rrs[i], NULL, 0);
  s = fo__malloc(&r->alloc, total + 1);
  if (s == NULL)
    return FO_ENOMEM;
  s[0] = '\0';
  for (i = 0; i < n; i++)
    at += format_rr(rrs[i], s + at, total + 1 - at);
  if (keep_string(r, s) != 0) {
    fo__free(&r->alloc, s);
    return FO_ENOMEM;
  }
  *out = s;
  return 0;
}

static int format_desired(fo__reconcile *r, const fo_rrset *set,
                          const char **out) {
  size_t len = 0;
  char *s;
  int rc;
  if (set->count == 0) {
    *out = "";
    return 0;
  }
  rc = fo_rrset_format(set, NULL, 0, &len);
  if ((rc != 0 && rc != FO_ENOSPC) || len == 0) {
    *out = "";
    return 0;
  }
  s = fo__malloc(&r->alloc, len + 1);
  if (s == NULL)
    return FO_ENOMEM;
  if (fo_rrset_format(set, s, len + 1, NULL) != 0)
    s[0] = '\0';
  if (keep_string(r, s) != 0) {
    fo__free(&r->alloc, s);
    return FO_ENOMEM;
  }
  *out = s;
  return 0;
}

static int add_entry(fo__reconcile *r, fo_plan_action action,
                     const char *name, fo_group *g, const char *current,
                     const char *desired) {
  fo_plan_entry *e;
  char *n;
  if (r->entry_count == r->entry_cap) {
    size_t cap = r->entry_cap ? r->entry_cap * 2 : 16;
    fo_plan_entry *p =
        fo__realloc_array(&r->alloc, r->entries, cap, sizeof(*p));
    if (p == NULL)
      return FO_ENOMEM;
    r->entries = p;
    r->entry_cap = cap;
  }
  n = fo__strdup(&r->alloc, name);
  if (n == NULL)
    return FO_ENOMEM;
  if (keep_string(r, n) != 0) {
    fo__free(&r->alloc, n);
    return FO_ENOMEM;
  }
  e = &r->entries[r->entry_count++];
  e->action = action;
  e->name = n;
  e->group = g;
  e->current = current;
  e->desired = desired;
  return 0;
}

static void group_rrset(fo_group *g, fo_rrset *set) {
  memset(set, 0, sizeof(*set));
  set->version = FO_RRSET_VERSION;
  if (g == NULL || fo_group_records(g, set) != 0)
    set->count = 0;
}

/* Is `name` an owner in the sorted array? */
static int zone_has(const fo__reconcile *r, const char *name) {
  size_t lo = 0, hi = r->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(r->rrs[mid]->text, name);
    if (c == 0)
      return 1;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return 0;
}

const fo_plan_entry *fo_plan_entry_at(const fo_plan *plan, size_t index) {
  const fo__plan *full = (const fo__plan *)plan;
  if (plan == NULL || index >= plan->count)
    return NULL;
  return &full->entries[index];
}

int fo__reconcile_plan(fo__reconcile *r, fo__plan *out,
                       void (*in_step)(fo_group *g, void *userdata),
                       void *userdata) {
  size_t i, j, names = 0;
  fo_group *g;
  int rc;

  if (r == NULL || out == NULL)
    return FO_EINVAL;
  memset(out, 0, sizeof(*out));
  free_plan(r);
  if (r->count > 1)
    qsort(r->rrs, r->count, sizeof(*r->rrs), kept_cmp);

  /* Names the zone has. */
  for (i = 0; i < r->count; i = j) {
    fo_rrset set;
    const char *cur, *want;
    int st;
    for (j = i + 1; j < r->count && strcmp(r->rrs[j]->text, r->rrs[i]->text) == 0;
         j++)
      ;
    st = owner_status(r->reg, r->rrs[i]->text, &g);
    if (st < 0)
      continue; /* no longer owned (cannot happen: tombstones stay) */
    names++;
    group_rrset(g, &set);
    if (same_set(r->rrs + i, j - i, &set)) {
      if (g != NULL && in_step != NULL)
        in_step(g, userdata);
      continue;
    }
    if ((rc = format_current(r, r->rrs + i, j - i, &cur)) != 0 ||
        (rc = format_desired(r, &set, &want)) != 0 ||
        (rc = add_entry(r, set.count == 0 ? FO_PLAN_DELETE : FO_PLAN_CHANGE,
                        r->rrs[i]->text, g, cur, want)) != 0)
      goto fail;
  }

  /* Live groups the zone lacks. */
  for (g = fo_registry_next_group(r->reg, NULL); g != NULL;
       g = fo_registry_next_group(r->reg, g)) {
    char name[FO_NAME_BUFSIZE];
    fo_rrset set;
    const char *want;
    if (fo_group_address(g, name, sizeof(name)) != 0)
      continue;
    for (i = 0; name[i] != '\0'; i++)
      name[i] = (char)tolower((unsigned char)name[i]);
    if (zone_has(r, name))
      continue;
    group_rrset(g, &set);
    if (set.count == 0) {
      if (in_step != NULL)
        in_step(g, userdata); /* nothing wanted, nothing there */
      continue;
    }
    if ((rc = format_desired(r, &set, &want)) != 0 ||
        (rc = add_entry(r, FO_PLAN_CREATE, name, g, "", want)) != 0)
      goto fail;
  }

  if (r->entry_count > 1)
    qsort(r->entries, r->entry_count, sizeof(*r->entries), entry_cmp);
  out->pub.zone_records = r->zone_records;
  out->pub.owned_names = names;
  out->pub.count = r->entry_count;
  out->entries = r->entries;
  return 0;

fail:
  free_plan(r);
  memset(out, 0, sizeof(*out));
  return rc;
}
