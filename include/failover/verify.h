/*
 * failover/verify.h - the asynchronous DNS verifier, on the caller's libuv
 * loop.
 *
 * "Is the name really pointing where it should?" A verifier asks each of
 * its servers directly (authoritative servers by default: recursion off)
 * what a name points at, parses the whole CNAME chain itself, and compares
 * it with an expectation: once, or again and again until every server
 * agrees or a deadline passes.
 *
 * This header includes <uv.h>; <failover.h> does not include it, so
 * model-only users need no libuv headers. Link with libuv (pkg-config:
 * libfailover pulls it in). Under strict C11, <uv.h> needs
 * POSIX declarations: define _POSIX_C_SOURCE 200809L (or use gnu11).
 *
 * Threading: a verifier belongs to its loop's thread, like any libuv handle.
 *
 * Callbacks: every check's callback fires exactly once: with the result,
 * when its deadline passes (result->error == FO_ETIMEDOUT, with the last
 * answers), or when it is cancelled (FO_ECANCELED) by fo_check_cancel() or
 * fo_verifier_close(). It always fires from the loop or from those two
 * calls, never from inside the call that started the check.
 */
#ifndef FAILOVER_VERIFY_H
#define FAILOVER_VERIFY_H

#include <uv.h>

#include "../failover.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fo_verifier fo_verifier;
typedef struct fo_check fo_check;

#define FO_VERIFIER_OPTIONS_VERSION 1
#define FO_VERIFY_SERVERS_MAX 16

typedef struct fo_verifier_options {
  /* FO_VERIFIER_OPTIONS_VERSION. */
  unsigned int version;
  /* Servers to ask: "192.0.2.1", "192.0.2.1:5300", "::1", "[::1]:5300".
   * 1..FO_VERIFY_SERVERS_MAX; port 53 when not given. Copied. */
  const char *const *servers;
  size_t server_count;
  /* Per query try; 0 selects 1000 ms. At most 60000. Every try waits the
   * same time (it never doubles): a query to a silent server ends after
   * timeout_ms x tries, plus the loop's latency; with the largest settings,
   * 10 minutes. A truncated UDP answer is asked again over TCP within the
   * same bound. */
  uint32_t timeout_ms;
  /* Tries per query (the first included); 0 selects 2. At most 10. UDP
   * queries are sent again on each try; a TCP query is sent once per
   * connection. */
  uint32_t tries;
  /* Queries in flight at once, over all servers; 0 selects 100. More than
   * a few hundred overflow a default UDP receive buffer. At most 4096. */
  uint32_t max_in_flight;
  /* Set the RD bit (ask resolvers). Off by default: authoritative checks. */
  int recursion_desired;
  /* Query over TCP instead of UDP. */
  int use_tcp;
  /* Allocator hooks for the verifier's own memory; NULL for malloc. */
  const fo_allocator *allocator;
} fo_verifier_options;

#define FO_VERIFIER_OPTIONS_INIT                                               \
  { FO_VERIFIER_OPTIONS_VERSION, NULL, 0, 0, 0, 0, 0, 0, NULL }

/* Defaults of options version `version`. Returns 0, FO_EINVAL,
 * FO_EVERSION. */
FO_EXTERN int fo_verifier_options_init(fo_verifier_options *opts,
                                       unsigned int version);

/*
 * Create a verifier on `loop`. Servers are parsed and validated here.
 *
 * Returns 0; FO_EINVAL (NULL, no server, too many); FO_EVERSION;
 * FO_EBADADDR (a server that is not an IP literal with optional port);
 * FO_ERANGE (timeout, tries or max_in_flight out of range); FO_ENOMEM;
 * FO_EIO (libuv refused to initialise). On failure the caller
 * has nothing to close; handles already set up are released as the loop
 * runs.
 */
FO_EXTERN int fo_verifier_new(fo_verifier **out, uv_loop_t *loop,
                              const fo_verifier_options *opts);

/* The 0.1 name of fo_closed_fn (<failover/common.h>); the same type. */
typedef fo_closed_fn fo_verifier_closed_fn;

/*
 * Close a verifier: every pending check's callback fires now with
 * FO_ECANCELED, then the libuv handles are closed; `closed` (may be NULL)
 * runs from the loop once all are, and only then is the memory freed. New
 * checks are refused with FO_ECLOSING from the start of the call. NULL is a
 * no-op. Must not be called twice.
 */
FO_EXTERN void fo_verifier_close(fo_verifier *v, fo_closed_fn closed,
                                 void *userdata);

/* ---- expectations -------------------------------------------------------- */

typedef enum fo_expect_kind {
  FO_EXPECT_CNAME = 1,     /* the name is a CNAME to `target` */
  FO_EXPECT_ADDRESSES = 2, /* the name's A/AAAA set equals `addresses` */
  FO_EXPECT_NONE = 3       /* the name has no records (NXDOMAIN or NODATA) */
} fo_expect_kind;

/* What a check expects. The caller sets `version` (FO_EXPECTATION_INIT);
 * the library reads only that version's fields. */
#define FO_EXPECTATION_VERSION 1

typedef struct fo_expectation {
  unsigned int version;           /* FO_EXPECTATION_VERSION */
  fo_expect_kind kind;
  const char *target;             /* FO_EXPECT_CNAME */
  const char *const *addresses;   /* FO_EXPECT_ADDRESSES: IPv4/IPv6 */
  size_t address_count;           /* 1..FO_VERIFY_ADDRESSES_MAX */
} fo_expectation;

#define FO_EXPECTATION_INIT { FO_EXPECTATION_VERSION, FO_EXPECT_NONE, NULL, NULL, 0 }

#define FO_VERIFY_ADDRESSES_MAX 16

/* ---- results ---------------------------------------------------------------- */

typedef enum fo_verify_status {
  FO_VERIFY_PENDING = 0,      /* not answered yet */
  FO_VERIFY_MATCH = 1,        /* the answer is what was expected */
  FO_VERIFY_MISMATCH = 2,     /* records exist but differ */
  FO_VERIFY_NXDOMAIN = 3,     /* the name does not exist */
  FO_VERIFY_NODATA = 4,       /* the name exists with no such records */
  FO_VERIFY_DANGLING = 5,     /* a CNAME into a name the server says does
                                 not exist (NXDOMAIN), even if the CNAME
                                 itself is the one expected */
  FO_VERIFY_SERVFAIL = 6,
  FO_VERIFY_REFUSED = 7,      /* REFUSED or NOTAUTH: not served there */
  FO_VERIFY_TIMEOUT = 8,      /* no reply within timeout x tries */
  FO_VERIFY_UNREACHABLE = 9,  /* connection refused, network unreachable */
  FO_VERIFY_MALFORMED = 10,   /* a reply that is not a valid answer */
  FO_VERIFY_OTHER_RCODE = 11, /* any other RCODE (FORMERR, NOTIMP, ...) */
  FO_VERIFY_TOO_LARGE = 12,   /* more answer records than the verifier
                                 reads (64): not judged on part of them */
  FO_VERIFY_CLOSED = 13       /* the server closed or reset the TCP
                                 connection without answering */
} fo_verify_status;

/* A short lowercase name ("match", "nxdomain"); "unknown" otherwise. */
FO_EXTERN const char *fo_verify_status_name(fo_verify_status status);

/* What one server said. Pointers are valid during the callback only. The
 * library allocates it and may add fields at its end: reach it through
 * fo_verify_result_server(), never by indexing an array of it. */
typedef struct fo_server_answer {
  const char *server;          /* as given in the options */
  fo_verify_status status;
  int rcode;                   /* last reply's RCODE, -1 if none */
  int authoritative;           /* AA bit of the last reply */
  /* The CNAME chain: chain[0] is the name asked, chain[i] the target of
   * hop i. chain_length is hops + 1 (1 when there is no CNAME). */
  size_t chain_length;
  const char *const *chain;
  const uint32_t *chain_ttls;  /* TTL of hop i (chain_length - 1 entries) */
  /* Addresses at the end of the chain (A, then AAAA when asked). */
  size_t address_count;
  const char *const *addresses;
  /* TTL of the name's own record (first CNAME hop, else its addresses);
   * 0 for negative answers and when nothing was seen. */
  uint32_t ttl;
  double rtt_ms;               /* round trip of the last answered query */
  /* Convergence: milliseconds from the start of the check to this server's
   * first match, or -1 if it never matched. */
  double first_match_ms;
  uint32_t rounds;             /* how many times this server was asked */
} fo_server_answer;

typedef struct fo_verify_result {
  const char *name;            /* the name checked, lowercase */
  /* 0 when the check completed (one round, or converged), FO_ETIMEDOUT when
   * the deadline passed first, FO_ECANCELED when cancelled, FO_ENOMEM when
   * a reply could not be recorded. */
  int error;
  /* FO_VERIFY_MATCH when every server matched; else the status of the
   * first server (in option order) that did not. */
  fo_verify_status status;
  double elapsed_ms;           /* from the start of the check */
  /* Convergence: milliseconds until every server had matched, -1 if not. */
  double converged_ms;
  size_t server_count;         /* see fo_verify_result_server() */
} fo_verify_result;

/* The answer of the `index`-th server (option order), or NULL past
 * `server_count` or for NULL. Valid during the callback only. */
FO_EXTERN const fo_server_answer *fo_verify_result_server(
    const fo_verify_result *result, size_t index);

typedef void (*fo_verify_fn)(const fo_verify_result *result, void *userdata);

/* ---- checks ------------------------------------------------------------------ */

#define FO_VERIFY_PARAMS_VERSION 1

typedef struct fo_verify_params {
  unsigned int version;        /* FO_VERIFY_PARAMS_VERSION */
  /* 0: one round (each server asked once, with its tries). Otherwise keep
   * asking until every server matched or this many ms passed (the
   * product's promise is 300000). */
  uint32_t until_ms;
  /* Pause between rounds for a server that did not match yet; 0 selects
   * 1000 ms. With recursion on, a server that returned a TTL is asked again
   * only once that TTL has run out (at least this interval). */
  uint32_t interval_ms;
} fo_verify_params;

#define FO_VERIFY_PARAMS_INIT { FO_VERIFY_PARAMS_VERSION, 0, 0 }
#define FO_VERIFY_PROMISE_MS 300000u

/*
 * Check `name` against `expect` on every server. The callback fires once,
 * later, from the loop. `*out` (may be NULL) receives a handle valid until
 * the callback has returned, for fo_check_cancel().
 *
 * Returns 0; FO_EINVAL; FO_EBADNAME / FO_ENAMETOOLONG (name or target);
 * FO_EBADADDR (an expected address); FO_ERANGE (address count);
 * FO_EVERSION (params or expectation); FO_ECLOSING; FO_ENOMEM; FO_EIO (a timer could not
 * be set up). On failure the callback never fires.
 */
FO_EXTERN int fo_verify_name(fo_check **out, fo_verifier *v, const char *name,
                             const fo_expectation *expect,
                             const fo_verify_params *params, fo_verify_fn cb,
                             void *userdata);

/*
 * Check a group of the model: the name is its address and the expectation
 * its desired records right now (CNAME target, addresses, or none for a
 * reserved or deleted group or one whose active stack has no web head).
 * The group is read at this call only. Same codes as fo_verify_name().
 */
FO_EXTERN int fo_verify_group(fo_check **out, fo_verifier *v,
                              const fo_group *group,
                              const fo_verify_params *params, fo_verify_fn cb,
                              void *userdata);

/* Cancel a pending check: its callback fires now with FO_ECANCELED.
 * Returns 0 or FO_EINVAL. Calling it after the callback ran is undefined:
 * the handle is gone then. */
FO_EXTERN int fo_check_cancel(fo_check *check);

/* Checks started and not yet called back. */
FO_EXTERN int fo_verifier_pending(const fo_verifier *v, size_t *out);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_VERIFY_H */
