/*
 * publish_queue.c - the publisher's pending changes: records by group, the
 * FIFO that coalesces them, batches and what is in flight (see
 * publish_queue.h).
 */
#include "publish_queue.h"

#include "alloc.h"

#include <string.h>

#define NONE UINT32_MAX

/* ---- records ------------------------------------------------------------- */

static uint32_t ptr_tag(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return fo__index_tag(x);
}

static int rec_matches(const void *ctx, uint32_t item, const void *key) {
  const fo__pubq *q = ctx;
  return q->recs[item].group == key;
}

static const fo__index_ops rec_ops = {rec_matches};

void fo__pubq_init(fo__pubq *q, const fo_allocator *a) {
  memset(q, 0, sizeof(*q));
  q->alloc = a;
  q->head = q->tail = NONE;
}

void fo__pubq_free(fo__pubq *q) {
  uint32_t i;
  for (i = 0; i < q->nrecs; i++)
    fo__free(q->alloc, q->recs[i].name);
  fo__free(q->alloc, q->recs);
  fo__free(q->alloc, q->notify);
  fo__index_free(&q->by_group, q->alloc);
  q->recs = NULL;
  q->notify = NULL;
  q->nrecs = q->cap = q->nnotify = q->notify_cap = 0;
}

fo__pubrec *fo__pubq_find(const fo__pubq *q, const fo_group *g,
                          uint32_t *idx) {
  uint32_t i = fo__index_find(&q->by_group, ptr_tag(g), g, &rec_ops, q);
  if (i == UINT32_MAX)
    return NULL;
  if (idx)
    *idx = i;
  return &q->recs[i];
}

/* A new record slot (zeroed); grows the array. */
static int new_rec(fo__pubq *q, uint32_t *idx) {
  if (q->nrecs == q->cap) {
    uint32_t cap = q->cap ? q->cap * 2 : 64;
    fo__pubrec *grown =
        fo__realloc_array(q->alloc, q->recs, cap, sizeof(*grown));
    if (grown == NULL)
      return FO_ENOMEM;
    q->recs = grown;
    q->cap = cap;
  }
  memset(&q->recs[q->nrecs], 0, sizeof(q->recs[0]));
  q->recs[q->nrecs].qnext = NONE;
  *idx = q->nrecs++;
  return 0;
}

int fo__pubq_get(fo__pubq *q, fo_group *g, uint32_t *idx) {
  int rc;
  if (fo__pubq_find(q, g, idx) != NULL)
    return 0;
  if ((rc = fo__index_reserve(&q->by_group, q->alloc,
                              q->by_group.len + 1)) != 0 ||
      (rc = new_rec(q, idx)) != 0)
    return rc;
  q->recs[*idx].group = g;
  fo__index_insert(&q->by_group, ptr_tag(g), *idx);
  return 0;
}

int fo__pubq_add_name(fo__pubq *q, const char *name) {
  uint32_t i;
  int rc = new_rec(q, &i);
  if (rc != 0)
    return rc;
  if ((q->recs[i].name = fo__strdup(q->alloc, name)) == NULL) {
    q->nrecs--; /* give the slot back */
    return FO_ENOMEM;
  }
  fo__pubq_push(q, i);
  return 0;
}

uint64_t fo__pubq_generation(const fo__pubrec *r) {
  uint64_t gen = 0;
  if (r->group != NULL)
    fo_group_generation(r->group, &gen);
  return gen;
}

size_t fo__pubq_pending(const fo__pubq *q) {
  uint32_t i;
  size_t n = 0;
  for (i = 0; i < q->nrecs; i++) {
    const fo__pubrec *r = &q->recs[i];
    if (r->group != NULL ? fo__pubq_generation(r) != r->published_gen
                         : !r->done)
      n++;
  }
  return n;
}

void fo__pubq_in_step(fo__pubq *q, fo_group *g, uint32_t ttl) {
  uint32_t i;
  if (fo__pubq_get(q, g, &i) == 0 && !q->recs[i].in_flight &&
      !q->recs[i].queued) {
    q->recs[i].published_gen = fo__pubq_generation(&q->recs[i]);
    q->recs[i].serving = ttl > 0; /* since before us: first_served stays 0 */
    q->recs[i].served_ttl = ttl;
  }
}

int fo__pubq_repair(fo__pubq *q, fo_group *g) {
  uint32_t i;
  int rc = fo__pubq_get(q, g, &i);
  if (rc != 0)
    return rc;
  /* Status never runs ahead of the server, and a refused repair reads
   * failed, not published. */
  q->recs[i].published_gen = 0;
  fo__pubq_push(q, i);
  return 0;
}

/* ---- the queue ------------------------------------------------------------- */

void fo__pubq_push(fo__pubq *q, uint32_t i) {
  fo__pubrec *r = &q->recs[i];
  if (r->queued || r->in_flight)
    return;
  r->queued = 1;
  r->qnext = NONE;
  if (q->tail != NONE)
    q->recs[q->tail].qnext = i;
  else
    q->head = i;
  q->tail = i;
}

static void push_front(fo__pubq *q, uint32_t i) {
  fo__pubrec *r = &q->recs[i];
  r->queued = 1;
  r->qnext = q->head;
  q->head = i;
  if (q->tail == NONE)
    q->tail = i;
}

static void pop_front(fo__pubq *q) {
  uint32_t i = q->head;
  q->head = q->recs[i].qnext;
  if (q->head == NONE)
    q->tail = NONE;
  q->recs[i].queued = 0;
  q->recs[i].qnext = NONE;
}

int fo__pubq_empty(const fo__pubq *q) { return q->head == NONE; }

/* ---- batches ------------------------------------------------------------- */

int fo__pubq_batch_new(fo__pubq *q, fo__pubbatch *b, size_t cap) {
  b->count = 0;
  b->recs = fo__calloc(q->alloc, cap, sizeof(*b->recs));
  b->gens = fo__calloc(q->alloc, cap, sizeof(*b->gens));
  b->ttls = fo__calloc(q->alloc, cap, sizeof(*b->ttls));
  if (b->recs == NULL || b->gens == NULL || b->ttls == NULL) {
    fo__pubq_batch_free(q, b);
    return FO_ENOMEM;
  }
  return 0;
}

void fo__pubq_batch_free(fo__pubq *q, fo__pubbatch *b) {
  fo__free(q->alloc, b->recs);
  fo__free(q->alloc, b->gens);
  fo__free(q->alloc, b->ttls);
  b->recs = NULL;
  b->gens = NULL;
  b->ttls = NULL;
  b->count = 0;
}

void fo__pubq_fill(fo__pubq *q, fo__pubbatch *b, size_t max,
                   fo__pubq_add_fn add, void *ctx) {
  while (b->count < max && q->head != NONE) {
    uint32_t i = q->head;
    uint64_t gen;
    uint32_t ttl = 0;
    if (add(&q->recs[i], &gen, &ttl, ctx) != 0) {
      if (b->count == 0) { /* cannot happen: one group always fits */
        pop_front(q);
        continue;
      }
      break;
    }
    pop_front(q);
    q->recs[i].in_flight = 1;
    b->recs[b->count] = i;
    b->gens[b->count] = gen;
    b->ttls[b->count] = ttl;
    b->count++;
  }
}

static void add_notify(fo__pubq *q, uint32_t i) {
  if (q->recs[i].notify)
    return;
  if (q->nnotify == q->notify_cap) {
    uint32_t cap = q->notify_cap ? q->notify_cap * 2 : 64;
    uint32_t *grown =
        fo__realloc_array(q->alloc, q->notify, cap, sizeof(*grown));
    if (grown == NULL)
      return; /* only the callback is lost; the state is right */
    q->notify = grown;
    q->notify_cap = cap;
  }
  q->recs[i].notify = 1;
  q->notify[q->nnotify++] = i;
}

/* A new version of the name's records is in the zone: the one it replaces
 * may stay in resolvers' caches for its TTL from now. */
static void served(fo__pubrec *r, uint32_t ttl, uint64_t now_ns) {
  if (r->serving) {
    uint64_t until = now_ns + (uint64_t)r->served_ttl * 1000000000u;
    if (until > r->hold_until_ns)
      r->hold_until_ns = until;
  }
  r->serving = ttl > 0;
  r->served_ttl = ttl;
  if (r->serving && r->first_served_ns == 0)
    r->first_served_ns = now_ns;
}

void fo__pubq_confirm(fo__pubq *q, const fo__pubbatch *b, size_t k,
                      uint64_t now_ns) {
  fo__pubrec *r = &q->recs[b->recs[k]];
  r->in_flight = 0;
  if (b->gens[k] > r->published_gen || (r->group == NULL && !r->done)) {
    r->published_gen = b->gens[k];
    served(r, b->ttls[k], now_ns);
  }
  if (r->group == NULL)
    r->done = 1;
  else if (fo__pubq_generation(r) > r->published_gen)
    fo__pubq_push(q, b->recs[k]); /* changed meanwhile: send again */
  add_notify(q, b->recs[k]);
}

void fo__pubq_put_back(fo__pubq *q, const fo__pubbatch *b, size_t k) {
  q->recs[b->recs[k]].in_flight = 0;
  push_front(q, b->recs[k]);
}

/* ---- confirmed records --------------------------------------------------------- */

uint32_t fo__pubq_notify_count(const fo__pubq *q) { return q->nnotify; }

uint32_t fo__pubq_notify_at(fo__pubq *q, uint32_t k) {
  uint32_t i = q->notify[k];
  q->recs[i].notify = 0;
  return i;
}

void fo__pubq_notify_drop(fo__pubq *q, uint32_t n) {
  if (n == 0)
    return;
  memmove(q->notify, q->notify + n, (q->nnotify - n) * sizeof(q->notify[0]));
  q->nnotify -= n;
}
