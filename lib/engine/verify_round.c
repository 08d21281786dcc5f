/*
 * verify_round.c - fold one server's replies of a round into what it said,
 * and judge that against the expectation. No I/O: tested through the
 * verifier and usable on recorded replies.
 */
#include "verify_internal.h"

#include "alloc.h"

#include <string.h>

/* The blob (see fo__seen): uint32 TTLs of the hops, the chain's names,
 * then the addresses, each NUL-terminated. A later reply's addresses are
 * appended by building a new blob. */

void fo__seen_reset(fo__seen *s, const fo_allocator *a) {
  fo__free(a, s->blob);
  memset(s, 0, sizeof(*s));
  s->problem = FO_VERIFY_PENDING;
  s->rcode = -1;
}

/* The chain part lives at blob[0 .. chain_bytes); addresses after it. */
static size_t chain_bytes(const fo__seen *s) {
  size_t n = (size_t)s->hops * sizeof(uint32_t);
  unsigned i;
  for (i = 0; i <= s->hops && s->blob != NULL; i++)
    n += strlen(s->blob + n) + 1;
  return n;
}

static int rcode_rank(int rcode) {
  switch (rcode) {
  case -1:
    return 0;
  case FO__RCODE_NOERROR:
    return 1;
  case FO__RCODE_NXDOMAIN:
    return 2;
  case FO__RCODE_REFUSED:
  case FO__RCODE_NOTAUTH:
    return 4;
  case FO__RCODE_SERVFAIL:
    return 5;
  default:
    return 3;
  }
}

static fo_verify_status transport_status(int transport) {
  switch (transport) {
  case FO_ETIMEDOUT:
    return FO_VERIFY_TIMEOUT;
  case FO_EMALFORMED:
    return FO_VERIFY_MALFORMED;
  case FO__TRANSPORT_CLOSED:
    return FO_VERIFY_CLOSED;
  default:
    return FO_VERIFY_UNREACHABLE;
  }
}

int fo__seen_add(fo__seen *s, const fo_allocator *a, int transport,
                 const fo__dns_msg *msg, const char *qname, uint16_t qtype,
                 fo__dns_chain *c) {
  size_t keep, add = 0, i, at;
  int take_chain;
  char *blob;

  if (transport != 0) {
    if (s->problem == FO_VERIFY_PENDING)
      s->problem = transport_status(transport);
    return 0;
  }
  if (rcode_rank((int)msg->rcode) > rcode_rank(s->rcode))
    s->rcode = (int)msg->rcode;
  s->aa = msg->aa;
  fo__dns_follow_chain(msg, qname, qtype, c);
  if (c->loop && s->problem == FO_VERIFY_PENDING)
    s->problem = FO_VERIFY_MALFORMED; /* a CNAME loop is no answer */
  /* Records past the ones the parser keeps were counted, not read: judging
   * on part of an answer could call a different set a match. */
  if (msg->ancount > msg->answer_count && s->problem == FO_VERIFY_PENDING)
    s->problem = FO_VERIFY_TOO_LARGE;

  /* The first reply sets the chain, unless a later one shows a longer one
   * (they should agree; a server mid-update may not). */
  take_chain = s->blob == NULL || c->hops > s->hops;
  keep = s->blob ? (take_chain ? 0 : chain_bytes(s)) : 0;
  if (take_chain) {
    add += c->hops * sizeof(uint32_t);
    for (i = 0; i <= c->hops; i++)
      add += strlen(c->names[i]) + 1;
  }
  for (i = 0; i < c->address_count; i++)
    add += strlen(c->addresses[i]) + 1;

  /* New blob: chain part (kept or new), old addresses, new addresses. */
  {
    size_t old_addrs = s->blob ? s->blob_len - chain_bytes(s) : 0;
    size_t total = (take_chain ? 0 : keep) + old_addrs + add;
    blob = fo__malloc(a, total ? total : 1);
    if (blob == NULL)
      return FO_ENOMEM;
    at = 0;
    if (take_chain) {
      memcpy(blob, c->ttls, c->hops * sizeof(uint32_t));
      at = c->hops * sizeof(uint32_t);
      for (i = 0; i <= c->hops; i++) {
        size_t n = strlen(c->names[i]) + 1;
        memcpy(blob + at, c->names[i], n);
        at += n;
      }
    } else {
      memcpy(blob, s->blob, keep);
      at = keep;
    }
    if (old_addrs) {
      memcpy(blob + at, s->blob + s->blob_len - old_addrs, old_addrs);
      at += old_addrs;
    }
    for (i = 0; i < c->address_count; i++) {
      size_t n = strlen(c->addresses[i]) + 1;
      memcpy(blob + at, c->addresses[i], n);
      at += n;
    }
    fo__free(a, s->blob);
    s->blob = blob;
    s->blob_len = at;
  }
  if (take_chain)
    s->hops = (unsigned)c->hops;
  if (s->ttl == 0)
    s->ttl = c->hops ? c->ttls[0] : (c->address_count ? c->address_ttl : 0);
  s->address_count += (unsigned)c->address_count;
  return 0;
}

void fo__seen_describe(const fo__seen *s, fo_server_answer *out,
                       const char **chain, const char **addresses) {
  size_t at = (size_t)s->hops * sizeof(uint32_t);
  unsigned i;
  out->chain_length = 0;
  out->address_count = 0;
  out->chain = chain;
  out->addresses = addresses;
  out->chain_ttls = (const uint32_t *)(const void *)s->blob;
  if (s->blob == NULL)
    return;
  for (i = 0; i <= s->hops; i++) {
    chain[i] = s->blob + at;
    at += strlen(s->blob + at) + 1;
  }
  out->chain_length = s->hops + 1u;
  for (i = 0; i < s->address_count; i++) {
    addresses[i] = s->blob + at;
    at += strlen(s->blob + at) + 1;
  }
  out->address_count = s->address_count;
}

/* Seen addresses equal the expected set (duplicates in answers allowed). */
static int same_addresses(const fo__seen *s, const fo__expect *e) {
  const char *chain[FO__DNS_MAX_CHAIN + 1];
  const char *addrs[FO__DNS_MAX_ANSWERS * 2];
  const char *want = e->data;
  fo_server_answer d;
  size_t i, j;
  fo__seen_describe(s, &d, chain, addrs);
  for (i = 0; i < d.address_count; i++)
    if (!fo__expect_has_address(e, addrs[i]))
      return 0;
  for (j = 0; j < e->count; j++, want += strlen(want) + 1) {
    int found = 0;
    for (i = 0; i < d.address_count && !found; i++)
      found = strcmp(addrs[i], want) == 0;
    if (!found)
      return 0;
  }
  return 1;
}

fo_verify_status fo__seen_status(const fo__seen *s, const fo__expect *e) {
  const char *first_target;
  if (s->problem != FO_VERIFY_PENDING)
    return s->problem;
  switch (s->rcode) {
  case FO__RCODE_NOERROR:
  case FO__RCODE_NXDOMAIN:
    break;
  case FO__RCODE_SERVFAIL:
    return FO_VERIFY_SERVFAIL;
  case FO__RCODE_REFUSED:
  case FO__RCODE_NOTAUTH:
    return FO_VERIFY_REFUSED;
  case -1:
    return FO_VERIFY_PENDING;
  default:
    return FO_VERIFY_OTHER_RCODE;
  }
  if (s->rcode == FO__RCODE_NXDOMAIN) {
    if (s->hops > 0)
      return FO_VERIFY_DANGLING; /* a CNAME into a name that is not there */
    return e->kind == FO_EXPECT_NONE ? FO_VERIFY_MATCH : FO_VERIFY_NXDOMAIN;
  }
  if (e->kind == FO_EXPECT_NONE)
    return (s->hops == 0 && s->address_count == 0) ? FO_VERIFY_MATCH
                                                   : FO_VERIFY_MISMATCH;
  if (s->hops == 0 && s->address_count == 0)
    return FO_VERIFY_NODATA;
  if (e->kind == FO_EXPECT_CNAME) {
    if (s->hops == 0)
      return FO_VERIFY_MISMATCH; /* addresses where a CNAME belongs */
    first_target = s->blob + s->hops * sizeof(uint32_t);
    first_target += strlen(first_target) + 1; /* skip the name asked */
    return strcmp(first_target, e->data) == 0 ? FO_VERIFY_MATCH
                                                : FO_VERIFY_MISMATCH;
  }
  if (s->hops > 0)
    return FO_VERIFY_MISMATCH; /* a CNAME where addresses belong */
  return same_addresses(s, e) ? FO_VERIFY_MATCH : FO_VERIFY_MISMATCH;
}
