/*
 * index.h - an open-addressing hash index of 32-bit item numbers.
 *
 * A slot holds an item number (+1, so 0 means empty) and the item's 32-bit
 * tag: a well-mixed value the owner derives from the key (fo__index_tag()
 * folds a 64-bit hash). The owner keeps the items and answers "does item i
 * match this key" through fo__index_ops; the tag spares that call (and the
 * random memory access behind it) for nearly every non-matching probe, and
 * lets the index grow and delete without asking for hashes again. When the
 * tag is the key itself (unique, uniformly drawn group codes), ops may be
 * NULL and a look-up touches nothing but the slot array. One index
 * type serves both the address index (items are group slab positions) and
 * the stack-name index (items are stack numbers) at 8 bytes per slot.
 *
 * Growth is separated from insertion: fo__index_reserve() may fail, insert
 * and remove never do, so callers reserve before they change anything.
 */
#ifndef FO_INDEX_H
#define FO_INDEX_H

#include <failover.h>

typedef struct fo__index_slot {
  uint32_t item; /* item number + 1; 0 when empty */
  uint32_t tag;
} fo__index_slot;

typedef struct fo__index {
  fo__index_slot *slots;
  uint32_t cap; /* 0 or a power of two */
  uint32_t len;
} fo__index;

typedef struct fo__index_ops {
  int (*item_matches)(const void *ctx, uint32_t item, const void *key);
} fo__index_ops;

/* Make room for `count` items in total (load kept at or under 1/2).
 * Returns 0 or FO_ENOMEM; the index is unchanged on failure. */
int fo__index_reserve(fo__index *ix, const fo_allocator *a, uint32_t count);

/* Fold a 64-bit hash into a tag. */
static inline uint32_t fo__index_tag(uint64_t hash) {
  return (uint32_t)(hash >> 32 ^ hash);
}

/* The item with `tag` matching `key` (any item with `tag` when `ops` is
 * NULL), or UINT32_MAX. */
uint32_t fo__index_find(const fo__index *ix, uint32_t tag, const void *key,
                        const fo__index_ops *ops, const void *ctx);

/* Insert an item; requires a prior successful reserve. */
void fo__index_insert(fo__index *ix, uint32_t tag, uint32_t item);

/* Remove an item that is present (backward-shift deletion). */
void fo__index_remove(fo__index *ix, uint32_t tag, uint32_t item);

void fo__index_free(fo__index *ix, const fo_allocator *a);

#endif
