/*
 * failover/records.h - the DNS records a group must have right now.
 *
 * CNAME mode: "<address>. <ttl> IN CNAME <web head host name>."
 * Address mode: an A and/or AAAA record per address of the web head.
 * A reserved or deleted group has no records, and neither has a group whose
 * active stack has no web head (or, in address mode, no address): the
 * target then says why.
 */
#ifndef FAILOVER_RECORDS_H
#define FAILOVER_RECORDS_H

#include "common.h"
#include "group.h"
#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why a group has no records (FO_NONE_NOT if it has some). */
typedef enum fo_none_reason {
  FO_NONE_NOT = 0,        /* the group has records */
  FO_NONE_RESERVED = 1,   /* no stack attached */
  FO_NONE_DELETED = 2,    /* the group was deleted */
  FO_NONE_NO_WEB_HEAD = 3,/* the active stack has no server */
  FO_NONE_NO_ADDRESS = 4  /* address mode; the web head has no address */
} fo_none_reason;

/*
 * What a group's name points at. Strings point into the registry and are
 * valid until its next change (in a change callback: until it returns).
 * In CNAME mode only `host_name` forms records; in address mode `ipv4` and
 * `ipv6` (either may be NULL). When `none` is not FO_NONE_NOT the group has
 * no records; `host_name` etc. may still describe the web head.
 *
 * Like every struct the caller allocates, it starts with the version the
 * caller was built with (FO_TARGET_INIT sets it): the library fills only
 * the fields that version has, so the struct can grow at its end without
 * breaking programs built against an older header.
 */
#define FO_TARGET_VERSION 1

typedef struct fo_target {
  unsigned int version; /* FO_TARGET_VERSION */
  fo_none_reason none;
  fo_record_mode mode;
  uint32_t ttl;
  const char *host_name; /* web head host name, no trailing dot, or NULL */
  const char *ipv4;      /* web head IPv4 literal or NULL */
  const char *ipv6;      /* web head IPv6 literal or NULL */
} fo_target;

#define FO_TARGET_INIT { FO_TARGET_VERSION, FO_NONE_NOT, 0, 0, NULL, NULL, NULL }

/* DNS RR type numbers (RFC 1035, RFC 3596). */
typedef enum fo_rr_type {
  FO_RR_A = 1,
  FO_RR_CNAME = 5,
  FO_RR_AAAA = 28
} fo_rr_type;

/* "A", "AAAA" or "CNAME"; NULL for any other type. */
FO_EXTERN const char *fo_rr_type_name(fo_rr_type type);

/* One record of a group; owner and data without trailing dot. Its layout
 * is part of fo_rrset's version: a grown record comes with a new
 * FO_RRSET_VERSION, and callers of the older one keep getting this one. */
typedef struct fo_record {
  fo_rr_type type;
  uint32_t ttl;
  char owner[FO_NAME_BUFSIZE];
  char data[FO_NAME_BUFSIZE];
} fo_record;

/* At most two records: one CNAME, or an A and an AAAA. */
#define FO_RRSET_MAX 2

#define FO_RRSET_VERSION 1

typedef struct fo_rrset {
  unsigned int version;    /* FO_RRSET_VERSION (FO_RRSET_INIT sets it) */
  size_t count;            /* 0..FO_RRSET_MAX */
  fo_none_reason none;     /* why count is 0; FO_NONE_NOT otherwise */
  fo_record records[FO_RRSET_MAX];
} fo_rrset;

#define FO_RRSET_INIT { FO_RRSET_VERSION, 0, FO_NONE_NOT, { { 0, 0, "", "" } } }

/* A short lowercase name for a reason ("no-web-head"); "unknown" otherwise. */
FO_EXTERN const char *fo_none_reason_name(fo_none_reason reason);

/* The group's target, filled as far as `out->version` reaches. Returns 0,
 * FO_EINVAL or FO_EVERSION (unknown version; nothing written). Deleted
 * groups answer with none = FO_NONE_DELETED. */
FO_EXTERN int fo_group_target(const fo_group *group, fo_target *out);

/* The group's desired records, copied into `out` (whose version the
 * caller set). Returns 0, FO_EINVAL, FO_EVERSION (nothing written). */
FO_EXTERN int fo_group_records(const fo_group *group, fo_rrset *out);

/*
 * Render `set` as RFC 1035 presentation lines, one per record, each ending
 * in '\n' ("<owner>. <ttl> IN CNAME <data>.\n"); an empty set renders as "".
 * Writes at most `size` bytes including the NUL; `*len` (if not NULL)
 * receives the length the full text needs, without the NUL, as snprintf.
 *
 * Returns 0, FO_EINVAL, FO_EVERSION, FO_ENOSPC (truncated; `*len` tells
 * the size needed).
 */
FO_EXTERN int fo_rrset_format(const fo_rrset *set, char *buf, size_t size,
                              size_t *len);

/* Receives a chunk of text; returns 0 to go on, non-zero to stop. */
typedef int (*fo_write_fn)(const char *data, size_t len, void *userdata);

/*
 * Export every live group's records as a zone fragment: a comment line
 * naming the zone, then the records of each group in creation order. The
 * text is handed to `write` in chunks.
 *
 * Returns 0, FO_EINVAL, or whatever non-zero value `write` returned
 * (export stops there).
 */
FO_EXTERN int fo_registry_export_zone(const fo_registry *reg,
                                      fo_write_fn write, void *userdata);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_RECORDS_H */
