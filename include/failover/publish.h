/*
 * failover/publish.h - keep authoritative DNS in step with a registry
 * (RFC 2136 dynamic UPDATE signed with TSIG), and the switch workflow.
 *
 * A publisher is bound to a registry and to the caller's libuv loop. It
 * follows the registry's change feed, coalesces several changes of a group
 * (the newest generation wins), batches groups into UPDATE messages to the
 * zone's primary server, and counts a group as published only once the
 * server answered NOERROR, with a verified signature, for that generation.
 * Secondaries follow the primary by NOTIFY/IXFR.
 *
 * It only ever touches names it owns: the addresses of the registry's
 * groups, live or deleted, and, when fenced (below), the fence's TXT.
 * Every other name of the zone is left alone.
 *
 * Fencing (options version 3, fence_epoch E > 0): the zone itself refuses
 * the UPDATEs of a leader that was deposed or paused. The fence is a TXT
 * record at fence_name (default "_failover-epoch.<zone>") holding the
 * current leader's epoch in decimal, TTL 0; operators see it with
 * `dig TXT _failover-epoch.<zone> @primary`. Before anything else the
 * publisher reads it (a query signed with the key):
 *   - an epoch above E: a newer leader exists; it stops with FO_EFENCED
 *     without sending anything;
 *   - E: claimed;
 *   - none, an older epoch, or anything else: it swaps it in one UPDATE,
 *     compare-and-swap style (prerequisite: the TXT RRset is exactly what
 *     was read, or does not exist; then the TXT RRset is deleted and "E"
 *     added). When that prerequisite fails (another publisher swapped it
 *     in between) it reads again, up to 5 times in a row, then stops with
 *     FO_EPREREQ (resumable).
 * Group changes wait in the queue until the claim is confirmed. Then
 * every UPDATE it sends (changes, reconcile's repairs, re-sends after an
 * unknown outcome) carries the prerequisite "the fence TXT is exactly E":
 * once a publisher with a higher epoch has claimed the fence, the server
 * refuses (NXRRSET) and nothing of that UPDATE is applied. Such a refusal,
 * signed with the key, stops the publisher at once with FO_EFENCED (an
 * unsigned one is a refusal like any other: believed on the third); every
 * pending change is kept, but a fenced publisher is finished:
 * fo_publisher_resume() returns FO_EFENCED; close it. Queries (probes,
 * the reconcile's AXFR, the SOA) carry no prerequisite. Epochs come from
 * the caller (the store's lease epoch, say) and must grow with every new
 * leader; two publishers with the same epoch are not fenced from each
 * other. Deleting the TXT by hand lets any epoch claim again. The key
 * must be allowed to update the fence's name (any name of the zone, with
 * the usual Knot and BIND update ACLs).
 *
 * Failures: timeouts, SERVFAIL and transport errors are retried with
 * exponential backoff and jitter. When the outcome of an UPDATE is unknown
 * (a timeout, a connection closed after sending), the primary is asked
 * what each name of the batch holds first: a name already holding what
 * was sent counts as published (a switch that is in DNS is done) and only
 * the others are sent again. Every other error RCODE would fail
 * again: once three answers in a row say so (such replies are unsigned,
 * so a single forged one must not be believed), the publisher stops,
 * reports the error (fo_publisher_error(), the on_error callback), keeps
 * every pending change, and resumes on fo_publisher_resume() (after
 * fo_publisher_set_key(), say). The error names the RCODE, whether or not
 * the reply carries a question or echoes our request:
 *   FORMERR -> FO_EFORMERR       NOTIMP  -> FO_ENOTIMP
 *   REFUSED -> FO_EREFUSED       NOTAUTH -> FO_ENOTAUTH, or FO_EBADKEY /
 *   NOTZONE -> FO_ENOTZONE          FO_EBADSIG / FO_EBADTIME when its TSIG
 *   YXDOMAIN, YXRRSET, NXRRSET,     RR carries that error
 *   NXDOMAIN -> FO_EPREREQ       any other -> FO_ERCODE
 * A NOERROR reply counts only when its TSIG verifies against our request
 * (else FO_EUNSIGNED, FO_EBADSIG, FO_EBADKEY, FO_EBADTIME, or
 * FO_EMALFORMED when its TSIG RR is cut short, not last, or followed by
 * bytes).
 *
 * Same header rules as <failover/verify.h>: includes <uv.h>; one owner
 * thread.
 */
#ifndef FAILOVER_PUBLISH_H
#define FAILOVER_PUBLISH_H

#include "verify.h"
#include "reconcile.h"
#include "store.h"
#include "tsig.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the publisher --------------------------------------------------------- */

#ifndef FO__PUBLISHER_DECLARED /* also declared by <failover/switch.h> */
#define FO__PUBLISHER_DECLARED
typedef struct fo_publisher fo_publisher;
#endif

typedef enum fo_publish_state {
  FO_PUBLISH_PUBLISHED = 1, /* the server confirmed the current generation */
  FO_PUBLISH_PENDING = 2,   /* a change waits to be sent (or retried) */
  FO_PUBLISH_IN_FLIGHT = 3, /* sent, no answer yet */
  FO_PUBLISH_FAILED = 4     /* the publisher stopped; the change is kept */
} fo_publish_state;

/* Version 2 added what resolvers may still hold. */
#define FO_PUBLISH_STATUS_VERSION 2

/* Where a group stands (fo_publisher_group_status()). The caller sets
 * `version` to the FO_PUBLISH_STATUS_VERSION it was built with
 * (FO_PUBLISH_STATUS_INIT does); the library writes only the fields that
 * version has, so later versions add fields at the end without breaking
 * programs built against an older header. */
typedef struct fo_publish_status {
  unsigned int version;          /* FO_PUBLISH_STATUS_VERSION */
  fo_publish_state state;
  uint64_t generation;           /* the group's generation now */
  uint64_t published_generation; /* last one the server confirmed, or 0 */
  int error;                     /* FO_PUBLISH_FAILED: why */
  /* ---- version 2: caches, counted from now ---- */
  /* An earlier version of the name's records (one the primary served
   * before the one it confirmed last) may sit in resolvers' caches this
   * many ms longer: the latest (replaced + its TTL) - now, 0 if none.
   * Only what this publisher saw replaced counts. */
  uint32_t earlier_held_ms;
  /* An NXDOMAIN cached just before the name first got records through
   * this publisher may sit in caches this many ms longer: first confirmed
   * + the zone's negative TTL (min of the SOA's TTL and MINIMUM) - now; 0
   * when that passed or the name had records before. The SOA is read from
   * the primary at the first confirmed change; until it answers,
   * FO_TTL_MAX seconds are assumed (a zone whose negative TTL is longer
   * cannot keep the 5-minute promise for new names anyway). */
  uint32_t negative_held_ms;
} fo_publish_status;

/* Every field named, so that callers built with -Wextra get no
 * missing-initializer warning. */
#define FO_PUBLISH_STATUS_INIT                                                 \
  { FO_PUBLISH_STATUS_VERSION, (fo_publish_state)0, 0, 0, 0, 0, 0 }

/* A group's generation was confirmed by the server. */
typedef void (*fo_published_fn)(fo_group *group, uint64_t generation,
                                void *userdata);
/* The publisher stopped on an error that retrying cannot fix. */
typedef void (*fo_publish_error_fn)(int error, void *userdata);

/* Version 2 added the secondaries (a version-1 struct still works: it
 * publishes to the primary only); version 3 the fence (versions 1 and 2
 * are not fenced). */
#define FO_PUBLISHER_OPTIONS_VERSION 3

/* Secondaries one publisher keeps in step, at most. */
#define FO_PUBLISHER_SECONDARIES_MAX 16

typedef struct fo_publisher_options {
  unsigned int version;    /* FO_PUBLISHER_OPTIONS_VERSION */
  const char *server;      /* the zone's primary: "IP", "IP:port", "[v6]:port" */
  const fo_tsig_key *key;  /* required; copied */
  /* Per message try over UDP; 0 selects 2000. A message over 512 octets
   * goes over TCP and is waited for as long as its connection is open, up
   * to tcp_wait_ms (below): a slow primary is never given up on while it
   * may still apply a batch (a message sent again, or a newer change sent
   * another way, could then be applied twice or out of order). */
  uint32_t timeout_ms;
  uint32_t batch_groups;   /* groups per UPDATE; 0 selects 250 (1..1000) */
  uint32_t max_in_flight;  /* UPDATE messages outstanding; 0 selects 16 */
  uint32_t retry_min_ms;   /* first backoff; 0 selects 100 */
  uint32_t retry_max_ms;   /* backoff cap; 0 selects 10000 */
  fo_published_fn on_published;
  fo_publish_error_fn on_error;
  void *userdata;          /* for both callbacks */
  const fo_allocator *allocator;
  /* ---- version 2 ----
   * The zone's secondaries ("IP", "IP:port", "[v6]:port"; copied), 0 to
   * FO_PUBLISHER_SECONDARIES_MAX. Once the primary confirms an UPDATE,
   * the publisher reads the primary's SOA serial and sends each secondary
   * a NOTIFY at once (RFC 1996), sent again when unanswered, then asks
   * each secondary's SOA every 10 ms (another NOTIFY every 200 ms while
   * it lags) until its serial reaches the primary's:
   * fo_publisher_secondary() tells how far each one is. Secondaries must
   * accept the NOTIFY: Knot an `acl` with `action: notify` (an address
   * rule for unsigned NOTIFYs, a `key` rule for signed ones), BIND
   * `allow-notify { ...; }` (or `allow-notify { key NAME; }`); without it
   * they still follow, on their own schedule (Knot: about 1 s). */
  const char *const *secondaries;
  size_t secondary_count;
  /* Sign the NOTIFYs with this key (copied); NULL sends them unsigned. */
  const fo_tsig_key *notify_key;
  /* How long an UPDATE over TCP is waited for while its connection stays
   * open; 0 selects 600000 (10 minutes), 1000..3600000. When it passes,
   * the publisher asks the zone what it holds and sends again only what
   * is missing; a primary that applies a message later still could apply
   * it after a newer one. Version 1 callers get the default. */
  uint32_t tcp_wait_ms;
  /* ---- version 3 ----
   * The leader's epoch for fencing (see the top of this header); 0, the
   * default, is no fencing: no fence is read, written or required. */
  uint64_t fence_epoch;
  /* The fence's name (copied): NULL selects "_failover-epoch" in the
   * registry's zone; a relative name ("fence", "_epoch.ops") is taken in
   * the zone, a name ending in the zone as is. Labels of letters, digits,
   * '-' and '_'. A name outside the zone ("x.example.org.") or malformed
   * is FO_EBADNAME (FO_ENAMETOOLONG when too long); the apex, a group
   * address's form, or a name with fence_epoch 0 is FO_EINVAL. */
  const char *fence_name;
} fo_publisher_options;

#define FO_PUBLISHER_OPTIONS_INIT                                              \
  { FO_PUBLISHER_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0, 0,                 \
    NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, 0, NULL }

/* Zero `opts` as far as `version`'s struct reaches (nothing past it) and
 * set its version. Returns 0, FO_EINVAL (NULL), FO_EVERSION (unknown). */
FO_EXTERN int fo_publisher_options_init(fo_publisher_options *opts,
                                        unsigned int version);

/*
 * Create a publisher for `reg` (whose zone is the one updated) on `loop`.
 * `opts` is read as far as its version's struct reaches (an unknown
 * version is FO_EVERSION).
 * Like fo_verifier_new(), a failure after libuv handles were set up
 * releases them as the loop runs; the caller has nothing to close.
 * It subscribes to the change feed at once; groups changed from now on are
 * published. To bring the zone in step with what exists already, call
 * fo_publisher_reconcile() (reads the zone first) or
 * fo_publisher_publish_all().
 *
 * Returns 0, FO_EINVAL, FO_EVERSION, FO_EBADADDR (server), FO_ERANGE,
 * FO_EBADNAME / FO_ENAMETOOLONG (fence_name), FO_EBUSY (called from a
 * change callback), FO_ENOMEM, FO_EIO.
 */
FO_EXTERN int fo_publisher_new(fo_publisher **out, uv_loop_t *loop,
                               fo_registry *reg,
                               const fo_publisher_options *opts);

/*
 * Close: unsubscribe, stop sending, and free once every handle is closed;
 * `closed` then runs from the loop. Changes not yet published are dropped
 * (the registry still has them: a new publisher's reconcile finds them).
 * Every watch not yet called back is called from inside this call with
 * FO_ECANCELED, and a running reconcile's callback gets FO_ECANCELED.
 * Must be called before the registry is freed. It may be called from a
 * change callback; the registry must then stay alive until `closed` ran.
 */
FO_EXTERN void fo_publisher_close(fo_publisher *pub,
                                  fo_closed_fn closed,
                                  void *userdata);

/* Queue every live group of the registry. (Names of deleted groups that
 * still hold records are found and cleaned by fo_publisher_reconcile(),
 * which reads the zone.) Returns 0, FO_EINVAL, FO_ENOMEM, FO_ECLOSING. */
FO_EXTERN int fo_publisher_publish_all(fo_publisher *pub);

/* Where a group stands, into `out`, whose version the caller set (only
 * that version's fields are written). A group the publisher has not sent
 * yet is PENDING, unless an applied reconcile found the zone already in
 * step with it (PUBLISHED, published_generation then being its generation
 * at that time). Returns 0, FO_EINVAL, FO_EVERSION (unknown version:
 * nothing written), FO_EFOREIGN. */
FO_EXTERN int fo_publisher_group_status(const fo_publisher *pub,
                                        const fo_group *group,
                                        fo_publish_status *out);

/* Groups whose current generation is not yet confirmed. */
FO_EXTERN int fo_publisher_pending(const fo_publisher *pub, size_t *out);

/* The epoch the zone's fence held for this publisher when last asked: its
 * fence_epoch once the claim is confirmed (and until a refusal says a
 * newer leader took it), else 0; always 0 without fencing. A leader is in
 * step when this is its epoch and nothing is pending. Returns 0 or
 * FO_EINVAL. */
FO_EXTERN int fo_publisher_fence_held(const fo_publisher *pub,
                                      uint64_t *epoch);

/* ---- secondaries -------------------------------------------------------- */

/* Where one secondary stands. Filled as far as `version` reaches. */
#define FO_SECONDARY_STATUS_VERSION 1

typedef struct fo_secondary_status {
  unsigned int version;   /* FO_SECONDARY_STATUS_VERSION */
  const char *server;     /* as given in the options */
  uint32_t serial;        /* its SOA serial when last asked (0: never seen) */
  uint32_t target_serial; /* the primary's serial after the last confirmed
                             UPDATE (0: nothing published yet) */
  int in_step;            /* serial has reached target_serial */
  /* Milliseconds from the primary's confirmation to this secondary
   * answering with the new serial: of the last catch-up when in step;
   * how long it has been behind so far when not; -1 before any. */
  double lag_ms;
  int error;              /* last NOTIFY or SOA failure, 0 if none */
  uint32_t notifies;      /* NOTIFY messages sent (tries included) */
} fo_secondary_status;

#define FO_SECONDARY_STATUS_INIT                                               \
  { FO_SECONDARY_STATUS_VERSION, NULL, 0, 0, 0, 0.0, 0, 0 }

/* Secondaries given in the options. Returns 0, FO_EINVAL. */
FO_EXTERN int fo_publisher_secondary_count(const fo_publisher *pub,
                                           size_t *out);

/* The `index`-th secondary (options order). `out->server` is valid while
 * the publisher is. Returns 0, FO_EINVAL, FO_ERANGE (index),
 * FO_EVERSION (nothing written). */
FO_EXTERN int fo_publisher_secondary(const fo_publisher *pub, size_t index,
                                     fo_secondary_status *out);

/* 0 while running, else the error it stopped on. */
FO_EXTERN int fo_publisher_error(const fo_publisher *pub);

/* Replace the key (copied), e.g. after FO_EBADKEY. Returns 0, FO_EINVAL,
 * FO_ENOMEM. */
FO_EXTERN int fo_publisher_set_key(fo_publisher *pub, const fo_tsig_key *key);

/* Resume after a stop: everything pending is sent again (a fenced
 * publisher claims the fence again first unless it held it). A publisher
 * stopped with FO_EFENCED stays stopped: a newer leader owns the zone;
 * close it. Returns 0, FO_EINVAL, FO_ECLOSING, FO_EFENCED. */
FO_EXTERN int fo_publisher_resume(fo_publisher *pub);

/* ---- watches ------------------------------------------------------------- */

/*
 * A watch waits until the server has confirmed a generation of one group
 * (fo_group_generation(); every change of the group's desired records is
 * a generation of its own). The switch workflow waits this way.
 */
typedef struct fo_publish_watch fo_publish_watch;

/*
 * Called exactly once per watch, with `error`:
 *   0             confirmed: `generation` is the generation the server
 *                 confirmed, the one watched or a later one;
 *   a stop code   the publisher stopped on an error retrying cannot fix
 *                 (FO_EBADKEY, FO_EREFUSED, FO_EPOISONED, ... as
 *                 fo_publisher_error() says); `generation` is the one
 *                 watched. Watches made while it is stopped get the same.
 *                 fo_publisher_resume() does not revive them: watch again;
 *   FO_ECANCELED  fo_publish_watch_cancel() or fo_publisher_close(), from
 *                 inside that call; `generation` is the one watched.
 * Otherwise it fires from the loop: never inside fo_publisher_watch(),
 * (the very first confirmations of a publisher wait until the zone's SOA
 * was read, at most 500 ms, so that fo_publisher_group_status() in the
 * callback knows the zone's negative TTL),
 * the transport or a change callback. It may call anything, the
 * publisher's functions included (fo_publisher_close() too).
 */
typedef void (*fo_publish_watch_fn)(fo_group *group, uint64_t generation,
                                    int error, void *userdata);

/*
 * Watch `group` until its generation `generation`, or a later one, is
 * confirmed by the server. A generation confirmed already is reported too,
 * from the loop. A group the publisher has not queued is queued, so that
 * it gets sent. A deleted group is watched like any other: its deletion
 * is a generation, published like the others (its records removed), and
 * completes the watch with 0.
 *
 * `*out` (may be NULL) receives a handle valid until the callback has
 * returned, for fo_publish_watch_cancel(). Any number of watches may wait
 * on one group.
 *
 * Returns 0; FO_EINVAL (pub, group or cb NULL); FO_ECLOSING (the
 * publisher is closing); FO_EFOREIGN (a group of another registry);
 * FO_ERANGE (generation 0, or beyond the group's current generation);
 * FO_ENOMEM. On failure nothing changed and the callback never fires.
 */
FO_EXTERN int fo_publisher_watch(fo_publish_watch **out, fo_publisher *pub,
                                 fo_group *group, uint64_t generation,
                                 fo_publish_watch_fn cb, void *userdata);

/* Cancel a watch: its callback fires now with FO_ECANCELED (also when the
 * watch was decided and waits for the loop to be told). Returns 0, or
 * FO_EINVAL for NULL or from inside the watch's own callback. Calling it
 * after the callback returned is undefined: the handle is gone then. */
FO_EXTERN int fo_publish_watch_cancel(fo_publish_watch *watch);

/* The registry and the loop the publisher was made with (NULL for NULL). */
FO_EXTERN fo_registry *fo_publisher_registry(const fo_publisher *pub);
FO_EXTERN uv_loop_t *fo_publisher_loop(const fo_publisher *pub);

/* ---- reconcile ----------------------------------------------------------- */

/*
 * Read the zone from the server by AXFR over TCP, signed with the key,
 * compare every owned name with the registry, and call `cb` once with the
 * plan. With `apply`, the planned groups are then queued for publishing
 * (groups found in step count as published). Without, it is a dry run.
 *
 * Returns 0 (the callback will come), FO_EINVAL, FO_ECLOSING, FO_ENOMEM,
 * FO_EBUSY (a reconcile is already running), FO_EIO (the connection could
 * not even be started).
 */
FO_EXTERN int fo_publisher_reconcile(fo_publisher *pub, int apply,
                                     fo_plan_fn cb, void *userdata);

/* ---- the publisher lease, kept on the loop -------------------------------- */

typedef struct fo_lease_keeper fo_lease_keeper;

typedef enum fo_lease_event {
  FO_LEASE_TAKEN = 1,   /* this process holds the lease now: publish */
  FO_LEASE_RENEWED = 2, /* still held, expiry moved on */
  FO_LEASE_LOST = 3,    /* no longer held (another took it, it ran out
                           before a renewal, or the store failed): stop
                           publishing at once */
  FO_LEASE_WAITING = 4  /* another process holds it; asked again later */
} fo_lease_event;

/* `lease` is the stored lease after the attempt; `error` is 0, or the
 * store's code for LOST/WAITING (FO_ELOCKED: another holder). */
typedef void (*fo_lease_fn)(fo_lease_event event, const fo_store_lease *lease,
                            int error, void *userdata);

/*
 * Keep trying to take, then renew, the store's publisher lease as `holder`
 * on `loop`, reporting each outcome through `cb` (from the loop; the first
 * attempt runs at once). A held lease is renewed every ttl_ms / 3; while
 * another process holds it, the keeper asks again 20 ms after that lease's
 * stored expiry (at most every ttl_ms / 3, at least 50 ms apart), so a
 * standby takes over within about the holder's ttl after its last renewal. Exactly one process holds an
 * unexpired lease; epochs grow with every change of holder. A renewal that
 * comes after expiry is reported as LOST then TAKEN with the new epoch.
 * The store must outlive the keeper.
 *
 * Returns 0, FO_EINVAL (NULL, bad holder, ttl_ms under 30), FO_ENOMEM,
 * FO_EIO.
 */
FO_EXTERN int fo_lease_keeper_new(fo_lease_keeper **out, uv_loop_t *loop,
                                  fo_store *store, const char *holder,
                                  uint32_t ttl_ms, fo_lease_fn cb,
                                  void *userdata);

/* Stop: release the lease if held (another process may take it at once)
 * and free the keeper from the loop. No callback runs after this. NULL is a
 * no-op. */
FO_EXTERN void fo_lease_keeper_close(fo_lease_keeper *keeper);

#ifdef __cplusplus
}
#endif

/* The switch workflow (fo_switchover_group() and friends) has its own header;
 * included here so that 0.1 sources that only include this one build. */
#include "switch.h"

#endif /* FAILOVER_PUBLISH_H */
