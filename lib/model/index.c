/*
 * index.c - open addressing with linear probing and backward-shift deletion
 * (no tombstones, so lookups stay short after removals).
 */
#include "index.h"

#include "alloc.h"

#include <string.h>

static uint32_t home(const fo__index *ix, uint32_t tag) {
  return tag & (ix->cap - 1);
}

static void put(fo__index *ix, uint32_t tag, uint32_t item1) {
  uint32_t i = home(ix, tag);
  while (ix->slots[i].item != 0)
    i = (i + 1) & (ix->cap - 1);
  ix->slots[i].item = item1;
  ix->slots[i].tag = tag;
  ix->len++;
}

int fo__index_reserve(fo__index *ix, const fo_allocator *a, uint32_t count) {
  uint32_t cap = ix->cap ? ix->cap : 16;
  fo__index grown;
  uint32_t i;

  while ((uint64_t)count * 2 > cap) {
    if (cap >= (1u << 31))
      return FO_ENOMEM;
    cap <<= 1;
  }
  if (cap == ix->cap)
    return 0;
  grown.slots = fo__calloc(a, cap, sizeof(*grown.slots));
  if (grown.slots == NULL)
    return FO_ENOMEM;
  grown.cap = cap;
  grown.len = 0;
  for (i = 0; i < ix->cap; i++)
    if (ix->slots[i].item != 0)
      put(&grown, ix->slots[i].tag, ix->slots[i].item);
  fo__free(a, ix->slots);
  *ix = grown;
  return 0;
}

uint32_t fo__index_find(const fo__index *ix, uint32_t tag, const void *key,
                        const fo__index_ops *ops, const void *ctx) {
  uint32_t i;
  if (ix->cap == 0)
    return UINT32_MAX;
  for (i = home(ix, tag);; i = (i + 1) & (ix->cap - 1)) {
    const fo__index_slot *s = &ix->slots[i];
    if (s->item == 0)
      return UINT32_MAX;
    if (s->tag == tag &&
        (ops == NULL || ops->item_matches(ctx, s->item - 1, key)))
      return s->item - 1;
  }
}

void fo__index_insert(fo__index *ix, uint32_t tag, uint32_t item) {
  put(ix, tag, item + 1);
}

void fo__index_remove(fo__index *ix, uint32_t tag, uint32_t item) {
  uint32_t mask = ix->cap - 1;
  uint32_t i = home(ix, tag);
  uint32_t j;

  while (ix->slots[i].item != item + 1)
    i = (i + 1) & mask;
  /* Pull later members of the probe run back into the hole when their home
   * position does not lie cyclically between the hole and themselves. */
  for (j = (i + 1) & mask; ix->slots[j].item != 0; j = (j + 1) & mask) {
    uint32_t h = home(ix, ix->slots[j].tag);
    int between = (i <= j) ? (i < h && h <= j) : (i < h || h <= j);
    if (!between) {
      ix->slots[i] = ix->slots[j];
      i = j;
    }
  }
  ix->slots[i].item = 0;
  ix->slots[i].tag = 0;
  ix->len--;
}

void fo__index_free(fo__index *ix, const fo_allocator *a) {
  fo__free(a, ix->slots);
  memset(ix, 0, sizeof(*ix));
}
