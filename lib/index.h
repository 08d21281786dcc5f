/*
 * index.h - an open-addressing hash index of 32-bit item numbers.
 *
 * The index stores only item numbers (+1, so 0 means empty); the owner
 * keeps the items and answers "what is item i's hash" and "does item i match
 * this key" through fo__index_ops. That lets one index type serve both the
 * address index (items are group slab positions) and the stack-name index
 * (items are stack numbers) at 4 bytes per slot.
 *
 * Growth is separated from insertion: fo__index_reserve() may fail, insert
 * and remove never do, so callers reserve before they change anything.
 */
#ifndef FO_INDEX_H
#define FO_INDEX_H

#include <failover.h>

typedef struct fo__index {
  uint32_t *slots;
  uint32_t cap; /* 0 or a power of two */
  uint32_t len;
} fo__index;

typedef struct fo__index_ops {
  uint64_t (*hash_item)(const void *ctx, uint32_t item);
  int (*item_matches)(const void *ctx, uint32_t item, const void *key);
} fo__index_ops;

/* Make room for `count` items in total (load kept at or under 1/2).
 * Returns 0 or FO_ENOMEM; the index is unchanged on failure. */
int fo__index_reserve(fo__index *ix, const fo_allocator *a, uint32_t count,
                      const fo__index_ops *ops, const void *ctx);

/* The item matching `key`, or UINT32_MAX. */
uint32_t fo__index_find(const fo__index *ix, uint64_t hash, const void *key,
                        const fo__index_ops *ops, const void *ctx);

/* Insert an item; requires a prior successful reserve. */
void fo__index_insert(fo__index *ix, uint64_t hash, uint32_t item);

/* Remove an item that is present (backward-shift deletion). */
void fo__index_remove(fo__index *ix, uint64_t hash, uint32_t item,
                      const fo__index_ops *ops, const void *ctx);

void fo__index_free(fo__index *ix, const fo_allocator *a);

#endif
