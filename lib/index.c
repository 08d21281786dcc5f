/*
 * index.c - open addressing with linear probing and backward-shift deletion
 * (no tombstones, so lookups stay short after removals).
 */
#include "index.h"

#include "alloc.h"

#include <string.h>

#define EMPTY 0u

static uint32_t home(const fo__index *ix, uint64_t hash) {
  return (uint32_t)(hash >> 32 ^ hash) & (ix->cap - 1);
}

int fo__index_reserve(fo__index *ix, const fo_allocator *a, uint32_t count,
                      const fo__index_ops *ops, const void *ctx) {
  uint32_t cap = ix->cap ? ix->cap : 16;
  uint32_t *slots;
  fo__index grown;
  uint32_t i;

  while ((uint64_t)count * 2 > cap) {
    if (cap >= (1u << 31))
      return FO_ENOMEM;
    cap <<= 1;
  }
  if (cap == ix->cap)
    return 0;
  slots = fo__calloc(a, cap, sizeof(*slots));
  if (slots == NULL)
    return FO_ENOMEM;
  grown.slots = slots;
  grown.cap = cap;
  grown.len = 0;
  for (i = 0; i < ix->cap; i++)
    if (ix->slots[i] != EMPTY)
      fo__index_insert(&grown, ops->hash_item(ctx, ix->slots[i] - 1),
                       ix->slots[i] - 1);
  fo__free(a, ix->slots);
  *ix = grown;
  return 0;
}

uint32_t fo__index_find(const fo__index *ix, uint64_t hash, const void *key,
                        const fo__index_ops *ops, const void *ctx) {
  uint32_t i;
  if (ix->cap == 0)
    return UINT32_MAX;
  for (i = home(ix, hash);; i = (i + 1) & (ix->cap - 1)) {
    uint32_t v = ix->slots[i];
    if (v == EMPTY)
      return UINT32_MAX;
    if (ops->item_matches(ctx, v - 1, key))
      return v - 1;
  }
}

void fo__index_insert(fo__index *ix, uint64_t hash, uint32_t item) {
  uint32_t i = home(ix, hash);
  while (ix->slots[i] != EMPTY)
    i = (i + 1) & (ix->cap - 1);
  ix->slots[i] = item + 1;
  ix->len++;
}

void fo__index_remove(fo__index *ix, uint64_t hash, uint32_t item,
                      const fo__index_ops *ops, const void *ctx) {
  uint32_t mask = ix->cap - 1;
  uint32_t i = home(ix, hash);
  uint32_t j;

  while (ix->slots[i] != item + 1)
    i = (i + 1) & mask;
  /* Pull later members of the probe run back into the hole when their home
   * position does not lie cyclically between the hole and themselves. */
  for (j = (i + 1) & mask; ix->slots[j] != EMPTY; j = (j + 1) & mask) {
    uint32_t h = home(ix, ops->hash_item(ctx, ix->slots[j] - 1));
    int between = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
    if (!between) {
      ix->slots[i] = ix->slots[j];
      i = j;
    }
  }
  ix->slots[i] = EMPTY;
  ix->len--;
}

void fo__index_free(fo__index *ix, const fo_allocator *a) {
  fo__free(a, ix->slots);
  memset(ix, 0, sizeof(*ix));
}
