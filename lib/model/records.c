/*
 * records.c - a group's target and records, and their presentation form.
 */
#include "internal.h"
#include "layout.h"

#include <stdio.h>
#include <string.h>

const char *fo_none_reason_name(fo_none_reason reason) {
  switch (reason) {
  case FO_NONE_NOT:
    return "has-records";
  case FO_NONE_RESERVED:
    return "reserved";
  case FO_NONE_DELETED:
    return "deleted";
  case FO_NONE_NO_WEB_HEAD:
    return "no-web-head";
  case FO_NONE_NO_ADDRESS:
    return "no-address";
  }
  return "unknown";
}

/* Sizes of the versions 1.. of the structs filled here (see layout.h). */
static const size_t target_sizes[] = { FO__SIZE_THROUGH(fo_target, ipv6) };
static const fo__layout target_layout = FO__LAYOUT(target_sizes);
static const size_t rrset_sizes[] = { FO__SIZE_THROUGH(fo_rrset, records) };
static const fo__layout rrset_layout = FO__LAYOUT(rrset_sizes);

int fo_group_target(const fo_group *g, fo_target *out) {
  fo_target full;
  if (g == NULL || out == NULL)
    return FO_EINVAL;
  fo__target_of(g, &full);
  return fo__layout_fill(&target_layout, out, &full);
}

static void add_record(fo_rrset *set, const char *owner, fo_rr_type type,
                       uint32_t ttl, const char *data) {
  fo_record *r = &set->records[set->count++];
  r->type = type;
  r->ttl = ttl;
  strcpy(r->owner, owner);
  strcpy(r->data, data);
}

int fo_group_records(const fo_group *g, fo_rrset *out) {
  char owner[FO_NAME_BUFSIZE];
  fo_rrset full;
  fo_target t;
  if (g == NULL || out == NULL)
    return FO_EINVAL;
  memset(&full, 0, sizeof(full));
  fo__target_of(g, &t);
  full.none = t.none;
  if (t.none == FO_NONE_NOT) {
    fo_group_address(g, owner, sizeof(owner));
    if (t.mode == FO_MODE_CNAME) {
      add_record(&full, owner, FO_RR_CNAME, t.ttl, t.host_name);
    } else {
      if (t.ipv4)
        add_record(&full, owner, FO_RR_A, t.ttl, t.ipv4);
      if (t.ipv6)
        add_record(&full, owner, FO_RR_AAAA, t.ttl, t.ipv6);
    }
  }
  return fo__layout_fill(&rrset_layout, out, &full);
}

const char *fo_rr_type_name(fo_rr_type type) {
  switch (type) {
  case FO_RR_A:
    return "A";
  case FO_RR_AAAA:
    return "AAAA";
  case FO_RR_CNAME:
    return "CNAME";
  }
  return NULL;
}

int fo_rrset_format(const fo_rrset *set, char *buf, size_t size,
                    size_t *len) {
  size_t i, total = 0;
  if (set == NULL || (buf == NULL && size > 0) || set->count > FO_RRSET_MAX)
    return FO_EINVAL;
  if (fo__layout_size(&rrset_layout, set) == 0)
    return FO_EVERSION;
  for (i = 0; i < set->count; i++)
    if (fo_rr_type_name(set->records[i].type) == NULL)
      return FO_EINVAL;
  if (size > 0)
    buf[0] = '\0';
  for (i = 0; i < set->count; i++) {
    const fo_record *r = &set->records[i];
    char *at = (buf && total < size) ? buf + total : NULL;
    size_t room = at ? size - total : 0;
    int n = snprintf(at, room, "%s. %u IN %s %s%s\n", r->owner,
                     (unsigned)r->ttl, fo_rr_type_name(r->type), r->data,
                     r->type == FO_RR_CNAME ? "." : "");
    if (n < 0)
      return FO_EINVAL;
    total += (size_t)n;
  }
  if (len != NULL)
    *len = total;
  return total < size ? 0 : FO_ENOSPC;
}

int fo_registry_export_zone(const fo_registry *reg, fo_write_fn write,
                            void *userdata) {
  char text[FO_RRSET_MAX * (2 * FO_NAME_BUFSIZE + 32)];
  const fo_group *g;
  int n, rc;
  if (reg == NULL || write == NULL)
    return FO_EINVAL;
  n = snprintf(text, sizeof(text), "; failover groups under %s.\n",
               reg->zone);
  if ((rc = write(text, (size_t)n, userdata)) != 0)
    return rc;
  for (g = fo_registry_next_group(reg, NULL); g != NULL;
       g = fo_registry_next_group(reg, g)) {
    fo_rrset set = FO_RRSET_INIT;
    size_t len;
    fo_group_records(g, &set);
    if (set.count == 0)
      continue;
    fo_rrset_format(&set, text, sizeof(text), &len);
    if ((rc = write(text, len, userdata)) != 0)
      return rc;
  }
  return 0;
}
