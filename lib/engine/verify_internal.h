/*
 * verify_internal.h - the verifier's pieces, shared by lib/verify*.c only.
 *
 *   verify_expect.c  expectations: validated, canonical, from a group too
 *   verify_round.c   one server's replies of one round -> a status and a
 *                    compact record of what was seen (pure: no I/O)
 *   verify.c         the engine: checks, rounds, the in-flight bound,
 *                    timers and callbacks on the caller's loop
 */
#ifndef FO_VERIFY_INTERNAL_H
#define FO_VERIFY_INTERNAL_H

#include <failover/verify.h>

#include "wire.h"

/* An expectation, validated and in canonical form, compact because
 * thousands of checks may wait at once: `data` holds the CNAME target, or
 * `count` canonical addresses, each NUL-terminated. */
typedef struct fo__expect {
  fo_expect_kind kind;
  size_t count;
  char *data;
} fo__expect;

/* A result as handed to callbacks: the public part first, the answers
 * behind it (reached through fo_verify_result_server()). */
typedef struct fo__verify_result {
  fo_verify_result pub;
  const fo_server_answer *servers;
} fo__verify_result;

int fo__expect_compile(const fo_expectation *in, const fo_allocator *a,
                       fo__expect *out);
/* The group's desired records as an expectation; `name` gets its address. */
int fo__expect_from_group(const fo_group *g, const fo_allocator *a,
                          fo__expect *out, char name[FO_NAME_BUFSIZE]);
void fo__expect_free(fo__expect *e, const fo_allocator *a);
/* Whether a round also asks AAAA (the A query is always sent). */
int fo__expect_wants_aaaa(const fo__expect *e);
/* Whether `address` (canonical text) is in the expected set. */
int fo__expect_has_address(const fo__expect *e, const char *address);

/*
 * What one server said in one round, folded from its replies (A, then
 * AAAA when asked). Strings live in one allocated blob:
 *   uint32_t ttls[hops] | chain names | addresses, each NUL-terminated.
 */
typedef struct fo__seen {
  fo_verify_status problem; /* first transport/parse problem, or PENDING */
  int rcode;                /* worst RCODE seen, -1 before any reply */
  int aa;
  unsigned hops;
  unsigned address_count;
  uint32_t ttl;
  size_t blob_len;
  char *blob;
} fo__seen;

void fo__seen_reset(fo__seen *s, const fo_allocator *a);

/* `transport` of fo__seen_add() for a TCP peer that closed or reset the
 * connection without answering (FO_VERIFY_CLOSED); the other values are
 * FO_E* codes. */
#define FO__TRANSPORT_CLOSED (-1000)

/* Fold one reply in. `transport` is 0 or FO_ETIMEDOUT / FO_EIO /
 * FO_EMALFORMED / FO_ECANCELED; `msg` the parsed reply when it is 0.
 * `scratch` is working memory. Returns 0 or FO_ENOMEM. */
int fo__seen_add(fo__seen *s, const fo_allocator *a, int transport,
                 const fo__dns_msg *msg, const char *qname, uint16_t qtype,
                 fo__dns_chain *scratch);

/* The status of a finished round against `e`. */
fo_verify_status fo__seen_status(const fo__seen *s, const fo__expect *e);

/* Point `chain`/`addresses` (arrays of at least FO__DNS_MAX_CHAIN + 1 and
 * FO__DNS_MAX_ANSWERS * 2 entries) into the blob and fill `out`. */
void fo__seen_describe(const fo__seen *s, fo_server_answer *out,
                       const char **chain, const char **addresses);

/* Whether fo_verifier_close() was called (for the switch workflow). */
int fo__verifier_closing(const fo_verifier *v);

/* Told once, at the start of fo_verifier_close(), so that work holding the
 * verifier (a switch waiting to be published) lets go of it in time. */
typedef struct fo__close_listener {
  struct fo__close_listener *next, *prev;
  int linked;
  void (*fn)(struct fo__close_listener *l);
} fo__close_listener;

void fo__verifier_listen_close(fo_verifier *v, fo__close_listener *l);
/* Safe to call after the listener was told (it is unlinked then). */
void fo__verifier_unlisten_close(fo_verifier *v, fo__close_listener *l);

#endif
