/*
 * publish_queue.h - the publisher's pending changes (publish_queue.c): one
 * record per group it has heard of, a FIFO of records waiting to be sent,
 * the batches in flight and the records confirmed since the engine last
 * looked. No I/O and no knowledge of the publisher.
 *
 * Coalescing: a record is queued at most once, and never while it is in a
 * message. A change that arrives meanwhile re-queues it when the message
 * is confirmed; the records sent are read from the model when a batch is
 * filled, so the newest generation always wins.
 */
#ifndef FO_PUBLISH_QUEUE_H
#define FO_PUBLISH_QUEUE_H

#include <failover/publish.h>

#include "index.h"

typedef struct fo__pubrec {
  fo_group *group;        /* NULL: a deleted group's name found by reconcile */
  char *name;             /* that name (group == NULL only) */
  uint64_t published_gen; /* last generation the server confirmed */
  fo_publish_watch *watches; /* publish_watch.c's, of this group */
  uint32_t qnext;         /* queue link */
  uint8_t queued;
  uint8_t in_flight;
  uint8_t notify;         /* in the notify list */
  uint8_t done;           /* a name-only record that was published */
  uint8_t serving;        /* the zone has records at the name (as far as
                             this publisher confirmed) */
  uint32_t served_ttl;    /* their TTL */
  uint64_t hold_until_ns; /* earlier versions may sit in resolvers' caches
                             until then (replaced + TTL, the latest) */
  uint64_t first_served_ns; /* first confirmed with records here, 0 never */
} fo__pubrec;

typedef struct fo__pubq {
  const fo_allocator *alloc; /* the publisher's */
  fo__pubrec *recs;          /* indices are stable: records are never removed */
  uint32_t nrecs, cap;
  fo__index by_group;
  uint32_t head, tail;       /* the FIFO of queued records */
  uint32_t *notify;          /* records confirmed, not yet reported */
  uint32_t nnotify, notify_cap;
} fo__pubq;

/* The records of one UPDATE message and the generation each carries. */
typedef struct fo__pubbatch {
  size_t count;
  uint32_t *recs;
  uint64_t *gens;
  uint32_t *ttls; /* TTL of the records sent, 0 when the name gets none */
} fo__pubbatch;

void fo__pubq_init(fo__pubq *q, const fo_allocator *a);
/* Frees the records (their watch lists must be empty) and every array. */
void fo__pubq_free(fo__pubq *q);

/* The record of `g`, or NULL; its index into *idx (may be NULL). */
fo__pubrec *fo__pubq_find(const fo__pubq *q, const fo_group *g,
                          uint32_t *idx);
/* The record of `g`, made when missing. Returns 0 or FO_ENOMEM (nothing
 * added then). */
int fo__pubq_get(fo__pubq *q, fo_group *g, uint32_t *idx);
/* A record for a name that belongs to no live group (a deleted group's
 * name that still holds records), queued. Returns 0 or FO_ENOMEM. */
int fo__pubq_add_name(fo__pubq *q, const char *name);
/* The group's generation now; 0 for a name-only record. */
uint64_t fo__pubq_generation(const fo__pubrec *r);

/* Queue record i at the back, unless it is queued or in flight already. */
void fo__pubq_push(fo__pubq *q, uint32_t i);
int fo__pubq_empty(const fo__pubq *q);
/* Records whose newest generation is not yet confirmed. */
size_t fo__pubq_pending(const fo__pubq *q);

/* A reconcile found the zone in step with `g` (neither queued nor in
 * flight): its generation now counts as published. */
void fo__pubq_in_step(fo__pubq *q, fo_group *g, uint32_t ttl);
/* A reconcile found the zone differs from `g`: no longer published until
 * the repair is confirmed; queued. Returns 0 or FO_ENOMEM. */
int fo__pubq_repair(fo__pubq *q, fo_group *g);

/* ---- batches ------------------------------------------------------------- */

/* Room for `cap` records. Returns 0 or FO_ENOMEM. */
int fo__pubq_batch_new(fo__pubq *q, fo__pubbatch *b, size_t cap);
void fo__pubq_batch_free(fo__pubq *q, fo__pubbatch *b);

/* Put one record into the message being built; *gen gets the generation
 * it carries. Nonzero when it does not fit (the message left as it was). */
typedef int (*fo__pubq_add_fn)(const fo__pubrec *r, uint64_t *gen,
                               uint32_t *ttl, void *ctx);

/* Move records from the front of the queue into `b` (at most `max`) while
 * `add` takes them, marking each in flight. */
void fo__pubq_fill(fo__pubq *q, fo__pubbatch *b, size_t max,
                   fo__pubq_add_fn add, void *ctx);
/* Record k of `b` is in the zone as sent: no longer in flight, its
 * generation published, queued again when the group changed meanwhile,
 * and listed for the engine's notifications. */
void fo__pubq_confirm(fo__pubq *q, const fo__pubbatch *b, size_t k,
                      uint64_t now_ns);
/* Record k of `b` goes back to the front of the queue. Call for the last
 * one first to keep the batch's order. */
void fo__pubq_put_back(fo__pubq *q, const fo__pubbatch *b, size_t k);

/* ---- confirmed records, for the engine's notifications ---------------------- */

/* for (k = 0, n = fo__pubq_notify_count(q); k < n; k++)
 *   i = fo__pubq_notify_at(q, k);   (the callbacks may add more)
 * fo__pubq_notify_drop(q, n); */
uint32_t fo__pubq_notify_count(const fo__pubq *q);
uint32_t fo__pubq_notify_at(fo__pubq *q, uint32_t k);
void fo__pubq_notify_drop(fo__pubq *q, uint32_t n);

#endif
