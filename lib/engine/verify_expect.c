/*
 * verify_expect.c - expectations in canonical, compact form.
 */
#include "verify_internal.h"
#include "layout.h"

#include "alloc.h"
#include "names.h"

#include <string.h>

/* Addresses are collected here before the exact-size copy is made. */
typedef struct address_set {
  size_t count;
  char items[FO_VERIFY_ADDRESSES_MAX * FO_RRSET_MAX][FO_IP_BUFSIZE];
} address_set;

static int add_address(address_set *set, const char *text) {
  char canon[FO_IP_BUFSIZE];
  size_t i;
  if (text == NULL)
    return FO_EINVAL;
  if (fo__ipv4_canonical(text, canon) != 0 &&
      fo__ipv6_canonical(text, canon) != 0)
    return FO_EBADADDR;
  for (i = 0; i < set->count; i++)
    if (strcmp(set->items[i], canon) == 0)
      return 0; /* a set: duplicates collapse */
  strcpy(set->items[set->count++], canon);
  return 0;
}

/* Fill `out` from a target or an address set, with one allocation. */
static int store(fo__expect *out, const fo_allocator *a, fo_expect_kind kind,
                 const char *target, const address_set *set) {
  size_t len = 0, i, at = 0;
  out->kind = kind;
  out->count = set ? set->count : 0;
  out->data = NULL;
  if (kind == FO_EXPECT_NONE)
    return 0;
  if (target != NULL)
    len = strlen(target) + 1;
  for (i = 0; set && i < set->count; i++)
    len += strlen(set->items[i]) + 1;
  if ((out->data = fo__malloc(a, len)) == NULL)
    return FO_ENOMEM;
  if (target != NULL)
    memcpy(out->data, target, len);
  for (i = 0; set && i < set->count; i++) {
    size_t n = strlen(set->items[i]) + 1;
    memcpy(out->data + at, set->items[i], n);
    at += n;
  }
  return 0;
}

/* Sizes of fo_expectation versions 1.. (see layout.h). */
static const size_t expect_sizes[] = {
  FO__SIZE_THROUGH(fo_expectation, address_count)
};
static const fo__layout expect_layout = FO__LAYOUT(expect_sizes);

int fo__expect_compile(const fo_expectation *caller, const fo_allocator *a,
                       fo__expect *out) {
  char target[FO_NAME_BUFSIZE];
  fo_expectation copy;
  const fo_expectation *in = &copy;
  address_set set;
  size_t i;
  int rc;
  memset(out, 0, sizeof(*out));
  if ((rc = fo__layout_read(&expect_layout, &copy, sizeof(copy), caller)) != 0)
    return rc;
  switch (in->kind) {
  case FO_EXPECT_CNAME:
    if ((rc = fo__name_normalize(in->target, target, NULL)) != 0)
      return rc;
    return store(out, a, in->kind, target, NULL);
  case FO_EXPECT_ADDRESSES:
    if (in->addresses == NULL)
      return FO_EINVAL;
    if (in->address_count == 0 || in->address_count > FO_VERIFY_ADDRESSES_MAX)
      return FO_ERANGE;
    set.count = 0;
    for (i = 0; i < in->address_count; i++)
      if ((rc = add_address(&set, in->addresses[i])) != 0)
        return rc;
    return store(out, a, in->kind, NULL, &set);
  case FO_EXPECT_NONE:
    return store(out, a, in->kind, NULL, NULL);
  }
  return FO_EINVAL;
}

int fo__expect_from_group(const fo_group *g, const fo_allocator *a,
                          fo__expect *out, char name[FO_NAME_BUFSIZE]) {
  address_set set;
  fo_rrset rr = FO_RRSET_INIT;
  size_t i;
  int rc;
  memset(out, 0, sizeof(*out));
  if ((rc = fo_group_records(g, &rr)) != 0 ||
      (rc = fo_group_address(g, name, FO_NAME_BUFSIZE)) != 0)
    return rc;
  if (rr.count == 0)
    return store(out, a, FO_EXPECT_NONE, NULL, NULL);
  if (rr.records[0].type == FO_RR_CNAME)
    return store(out, a, FO_EXPECT_CNAME, rr.records[0].data, NULL);
  set.count = 0;
  for (i = 0; i < rr.count; i++)
    if ((rc = add_address(&set, rr.records[i].data)) != 0)
      return rc;
  return store(out, a, FO_EXPECT_ADDRESSES, NULL, &set);
}

void fo__expect_free(fo__expect *e, const fo_allocator *a) {
  fo__free(a, e->data);
  e->data = NULL;
}

/* Both families are asked whenever addresses matter, so that an extra
 * AAAA record where only A was expected is seen as a mismatch. */
int fo__expect_wants_aaaa(const fo__expect *e) {
  return e->kind != FO_EXPECT_CNAME;
}

int fo__expect_has_address(const fo__expect *e, const char *address) {
  const char *p = e->data;
  size_t i;
  for (i = 0; i < e->count; i++, p += strlen(p) + 1)
    if (strcmp(p, address) == 0)
      return 1;
  return 0;
}
