/*
 * wire_chain.c - the CNAME chain of a parsed reply. Only class IN records
 * count: the question the verifier asks is always class IN, and a record of
 * another class says nothing about where an IN name points.
 */
#include "wire.h"

#include <string.h>

static char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive (ASCII) equality. Parsed names are lowercase already;
 * this is for names the caller gives. */
static int same_name(const char *a, const char *b) {
  size_t i = 0;
  for (; a[i] != '\0' && b[i] != '\0'; i++)
    if (lower(a[i]) != lower(b[i]))
      return 0;
  return a[i] == b[i];
}

/* The CNAME record owned by `name`, if any (the first one: a name with
 * several CNAMEs is broken, and the first is as good as any). */
static const fo__dns_rr *cname_of(const fo__dns_msg *msg, const char *name) {
  size_t i;
  for (i = 0; i < msg->answer_count; i++) {
    const fo__dns_rr *rr = &msg->answers[i];
    if (rr->type == FO__TYPE_CNAME && rr->rclass == FO__CLASS_IN &&
        same_name(rr->owner, name))
      return rr;
  }
  return NULL;
}

/* Copy `qname` lowercased without its trailing dot (the form parsed names
 * have); 0 if it does not fit. */
static int set_qname(char out[FO_NAME_BUFSIZE], const char *qname) {
  size_t n = strlen(qname), i;
  if (n > 0 && qname[n - 1] == '.')
    n--;
  if (n >= FO_NAME_BUFSIZE)
    return 0;
  for (i = 0; i < n; i++)
    out[i] = lower(qname[i]);
  out[n] = '\0';
  return 1;
}

static void collect(const fo__dns_msg *msg, const char *name, uint16_t qtype,
                    fo__dns_chain *out) {
  size_t i;
  if (qtype != FO__TYPE_A && qtype != FO__TYPE_AAAA)
    return;
  for (i = 0; i < msg->answer_count; i++) {
    const fo__dns_rr *rr = &msg->answers[i];
    if (rr->type != qtype || rr->rclass != FO__CLASS_IN ||
        !same_name(rr->owner, name))
      continue;
    if (out->address_count == 0 || rr->ttl < out->address_ttl)
      out->address_ttl = rr->ttl;
    memcpy(out->addresses[out->address_count], rr->address,
           sizeof rr->address);
    out->address_count++;
  }
}

void fo__dns_follow_chain(const fo__dns_msg *msg, const char *qname,
                          uint16_t qtype, fo__dns_chain *out) {
  const char *cur;
  if (out == NULL)
    return;
  /* Not a memset of the whole 7 KiB: the fields below are all that is read
   * before being written. */
  out->hops = 0;
  out->loop = 0;
  out->address_count = 0;
  out->address_ttl = 0;
  out->names[0][0] = '\0';
  if (msg == NULL || qname == NULL || !set_qname(out->names[0], qname))
    return;
  cur = out->names[0];
  for (;;) {
    const fo__dns_rr *rr = cname_of(msg, cur);
    size_t i;
    if (rr == NULL)
      break;
    if (out->hops == FO__DNS_MAX_CHAIN) {
      out->loop = 1;
      break;
    }
    for (i = 0; i <= out->hops; i++)
      if (same_name(out->names[i], rr->target))
        out->loop = 1;
    if (out->loop)
      break;
    out->ttls[out->hops] = rr->ttl;
    out->hops++;
    memcpy(out->names[out->hops], rr->target, sizeof rr->target);
    cur = out->names[out->hops];
  }
  /* A looping or overlong chain has no final name to take addresses of. */
  if (!out->loop)
    collect(msg, cur, qtype, out);
}
