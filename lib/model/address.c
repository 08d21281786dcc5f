/*
 * address.c - group addresses "DDD-DDD-DDD": drawing, formatting, parsing
 * and the code -> group index.
 *
 * A code is drawn uniformly from the address space with the registry's
 * random source. Codes of deleted groups stay in the index as tombstones, so
 * a drawn code is fresh only if the index has never seen it: an address is
 * never handed out twice in a registry's life.
 */
#include "internal.h"
#include "names.h"
#include "random.h"

#include <string.h>

/* After this many colliding draws, take the next free code after the last
 * draw instead: terminates even with a poor random source or a nearly
 * full space, at the cost of a tiny bias nobody relies on. */
#define FO__DRAW_TRIES 64

/* Codes are drawn uniformly and unique, so the code itself is the index
 * tag and its low bits the home slot: a look-up reads only the slot array
 * and the tombstone bitmap, never the group. */

int fo__address_lookup(const fo_registry *reg, uint32_t code,
                       fo_group **out) {
  uint32_t item = fo__index_find(&reg->by_code, code, NULL, NULL, NULL);
  if (item == UINT32_MAX)
    return FO_ENOENT;
  if (reg->tombstones[item / 64] >> (item % 64) & 1u)
    return FO_EDELETED;
  if (out != NULL)
    *out = fo__group_at(reg, item);
  return 0;
}

int fo__address_known(const fo_registry *reg, uint32_t code) {
  return fo__index_find(&reg->by_code, code, NULL, NULL, NULL) != UINT32_MAX;
}

void fo__address_index_insert(fo_registry *reg, fo_group *group) {
  fo__index_insert(&reg->by_code, group->code, group->index);
}

void fo__address_tombstone(fo_registry *reg, fo_group *group) {
  reg->tombstones[group->index / 64] |= (uint64_t)1 << (group->index % 64);
}

/* Room for one more group: a slab with a free place, its tombstone bits and
 * an index slot. */
int fo__address_reserve(fo_registry *reg) {
  uint32_t n = reg->groups_total;
  if (n % FO__GROUP_SLAB == 0 && n / FO__GROUP_SLAB == reg->slab_count) {
    size_t words = (size_t)(reg->slab_count + 1) * (FO__GROUP_SLAB / 64);
    fo_group **slabs;
    fo_group *slab;
    uint64_t *bits;
    slabs = fo__realloc_array(&reg->alloc, reg->slabs, reg->slab_count + 1,
                              sizeof(*slabs));
    if (slabs == NULL)
      return FO_ENOMEM;
    reg->slabs = slabs;
    bits = fo__realloc_array(&reg->alloc, reg->tombstones, words,
                             sizeof(*bits));
    if (bits == NULL)
      return FO_ENOMEM;
    reg->tombstones = bits;
    memset(bits + words - FO__GROUP_SLAB / 64, 0,
           FO__GROUP_SLAB / 64 * sizeof(*bits));
    slab = fo__realloc_array(&reg->alloc, NULL, FO__GROUP_SLAB, sizeof(*slab));
    if (slab == NULL)
      return FO_ENOMEM;
    reg->slabs[reg->slab_count++] = slab;
  }
  return fo__index_reserve(&reg->by_code, &reg->alloc, n + 1);
}

static int random_bytes(fo_registry *reg, void *buf, size_t len) {
  if (reg->random != NULL)
    return reg->random(buf, len, reg->random_userdata) == 0 ? 0 : FO_ERANDOM;
  return fo__random_read(&reg->pool, buf, len);
}

int fo__address_draw(fo_registry *reg, uint32_t *code) {
  uint32_t space = reg->address_space;
  /* Largest multiple of `space` that fits: rejection keeps draws uniform. */
  uint32_t limit = (uint32_t)(UINT32_MAX - (UINT32_MAX % space + 1) % space);
  uint32_t c = 0;
  int tries, rc;

  if (reg->groups_total >= space)
    return FO_EEXHAUSTED;
  /* Every draw counts, rejected ones too: a source that only ever yields
   * values above the limit (all 0xFF bytes) still ends in the fallback. */
  for (tries = 0; tries < FO__DRAW_TRIES; tries++) {
    unsigned char b[4];
    uint32_t v;
    if ((rc = random_bytes(reg, b, sizeof(b))) != 0)
      return rc;
    v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
        (uint32_t)b[3];
    c = v % space;
    if (v <= limit && !fo__address_known(reg, c)) {
      *code = c;
      return 0;
    }
  }
  while (fo__address_known(reg, c))
    c = (c + 1) % space;
  *code = c;
  return 0;
}

void fo__address_format(uint32_t code, char out[FO_ADDRESS_LABEL_LEN + 1]) {
  uint32_t parts[3];
  int i, p;
  parts[0] = code / 1000000u;
  parts[1] = code / 1000u % 1000u;
  parts[2] = code % 1000u;
  for (p = 0, i = 0; p < 3; p++) {
    out[i++] = (char)('0' + parts[p] / 100u);
    out[i++] = (char)('0' + parts[p] / 10u % 10u);
    out[i++] = (char)('0' + parts[p] % 10u);
    if (p < 2)
      out[i++] = '-';
  }
  out[i] = '\0';
}

int fo__address_parse(const fo_registry *reg, const char *text,
                      uint32_t *code) {
  uint32_t c = 0;
  size_t i, n = strlen(text);
  const char *rest;
  size_t rest_len;

  if (n < FO_ADDRESS_LABEL_LEN)
    return FO_EBADNAME;
  for (i = 0; i < FO_ADDRESS_LABEL_LEN; i++) {
    char ch = text[i];
    if (i == 3 || i == 7) {
      if (ch != '-')
        return FO_EBADNAME;
    } else if (ch >= '0' && ch <= '9') {
      c = c * 10u + (uint32_t)(ch - '0');
    } else {
      return FO_EBADNAME;
    }
  }
  rest = text + FO_ADDRESS_LABEL_LEN;
  rest_len = n - FO_ADDRESS_LABEL_LEN;
  if (rest_len > 0 && rest[rest_len - 1] == '.')
    rest_len--;
  if (rest_len > 0) {
    char other[FO_NAME_BUFSIZE];
    if (rest[0] != '.' || rest[rest_len - 1] == '.')
      return FO_EBADNAME; /* no label glued on, no second trailing dot */
    rest++;
    rest_len--;
    if (rest_len == reg->zone_len && fo__ascii_eq_n(rest, reg->zone, rest_len))
      ; /* our zone */
    else if (fo__name_normalize_n(rest, rest_len, other, NULL) == 0 &&
             FO_ADDRESS_LABEL_LEN + 1 + rest_len <= FO_NAME_MAX)
      return FO_ENOENT; /* a well-formed name, but another zone's */
    else
      return FO_EBADNAME;
  }
  /* "DDD-DDD-DDD." is the bare label with a trailing dot, as documented. */
  *code = c;
  return 0;
}
