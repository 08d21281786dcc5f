/*
 * publish_notify.c - secondaries in step. Knot and NSD act on a change of
 * their primary about a second later on their own (a fixed delay before
 * the NOTIFY, or before acting on it); a NOTIFY sent the moment the
 * primary confirms brings that to tens of milliseconds. Each secondary's
 * SOA is then asked every POLL_MS until it shows the primary's serial, so
 * that its lag is measured, not assumed.
 */
#include "publish_notify.h"

#include "alloc.h"
#include "publish_judge.h"
#include "random.h"
#include "wire.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define POLL_MS 10u
/* A secondary still behind this long after a NOTIFY gets another (it may
 * have been down, or lost it). */
#define RENOTIFY_MS 200u
#define QUERY_CAP 512
#define SERVER_LABEL_MAX 64
#define FACTS_TRIES 5
#define FACTS_WAIT_MS 500u

typedef struct fo__secondary {
  fo__notify *n;
  char label[SERVER_LABEL_MAX];
  fo__hostport addr;
  fo__dnsx *x;
  uv_timer_t poll;
  uint32_t serial;
  int have_serial;
  int behind;          /* target set, not reached */
  uint64_t since_ns;   /* the confirmation it is behind since */
  uint64_t notified_ns;/* last NOTIFY sent */
  double lag_ms;       /* of the last catch-up; -1 before any */
  int error;
  uint32_t notifies;
  int notify_in_flight;
  int soa_in_flight;
} fo__secondary;

struct fo__notify {
  fo_allocator alloc;
  uv_loop_t *loop;
  char zone[FO_NAME_BUFSIZE];
  fo__tsig_key key;        /* alg 0: unsigned NOTIFYs */
  fo__dnsx *primary;       /* ours: SOA queries to the primary */
  fo__random_pool pool;
  uint32_t target;
  int have_target;
  uint64_t pending_ns;     /* first confirmation the target does not cover */
  uint32_t negative_ttl_ms;/* the zone's, 0 while unknown */
  int facts_tries;         /* SOA reads for it so far */
  int facts_in_flight;
  uint64_t facts_asked_ns; /* the first read, 0 before */
  int primary_in_flight;
  int primary_again;
  size_t count;
  fo__secondary *sec;
  int closing;
  unsigned open;
  void (*closed)(void *);
  void *closed_userdata;
};

static uint16_t new_id(fo__notify *n) {
  uint16_t id = 0;
  (void)fo__random_read(&n->pool, &id, sizeof(id));
  return id;
}

static double ms_between(uint64_t from_ns, uint64_t to_ns) {
  return (double)(to_ns - from_ns) / 1e6;
}

/* The error of a reply's RCODE (0 for NOERROR). */
static int rcode_error(const unsigned char *reply, size_t len) {
  if (len < FO__DNS_HEADER_LEN)
    return FO_EMALFORMED;
  return fo__rcode_error(reply[3] & 0x0fu);
}

/* Send an SOA query for the zone on `x`. */
static int ask_soa(fo__notify *n, fo__dnsx *x, fo__dnsx_cb cb, void *arg) {
  uint8_t q[QUERY_CAP];
  int len = fo__dns_build_query(new_id(n), n->zone, FO__TYPE_SOA, 0, q,
                                sizeof(q));
  if (len < 0)
    return len;
  return fo__dnsx_send(x, q, (size_t)len, 0, cb, arg);
}

/* ---- one secondary ----------------------------------------------------------- */

static void notify_cb(int status, int detail, const unsigned char *reply,
                      size_t len, unsigned tries, void *arg) {
  fo__secondary *s = arg;
  (void)detail;
  s->notify_in_flight = 0;
  if (tries > 1)
    s->notifies += tries - 1;
  if (status == FO_ECANCELED)
    return;
  s->error = status != 0 ? status : rcode_error(reply, len);
}

static void send_notify(fo__secondary *s) {
  fo__notify *n = s->n;
  uint8_t msg[QUERY_CAP];
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t len, mac_len = 0;
  int rc;
  if (s->notify_in_flight || n->closing)
    return;
  rc = fo__dns_build_notify(new_id(n), n->zone, msg, sizeof(msg));
  if (rc < 0) {
    s->error = rc;
    return;
  }
  len = (size_t)rc;
  if (n->key.alg != 0 &&
      (rc = fo__tsig_sign(&n->key, msg, &len, sizeof(msg),
                          (uint64_t)time(NULL), mac, &mac_len)) != 0) {
    s->error = rc;
    return;
  }
  if ((rc = fo__dnsx_send(s->x, msg, len, 0, notify_cb, s)) != 0) {
    s->error = rc;
    return;
  }
  s->notify_in_flight = 1;
  s->notifies++;
  s->notified_ns = uv_hrtime();
}

static void soa_cb(int status, int detail, const unsigned char *reply,
                   size_t len, unsigned tries, void *arg) {
  fo__secondary *s = arg;
  fo__notify *n = s->n;
  uint32_t serial;
  int rc;
  (void)detail;
  (void)tries;
  s->soa_in_flight = 0;
  if (status == FO_ECANCELED || n->closing)
    return;
  if (status != 0) {
    s->error = status;
    return;
  }
  if ((rc = rcode_error(reply, len)) != 0 ||
      (rc = fo__dns_soa_serial(reply, len, n->zone, &serial)) != 0) {
    s->error = rc;
    return;
  }
  s->serial = serial;
  s->have_serial = 1;
  if (s->behind && !fo__serial_lt(serial, n->target)) {
    s->behind = 0;
    s->lag_ms = ms_between(s->since_ns, uv_hrtime());
    uv_timer_stop(&s->poll);
  }
}

static void poll_cb(uv_timer_t *t) {
  fo__secondary *s = t->data;
  if (!s->behind || s->n->closing) {
    uv_timer_stop(t);
    return;
  }
  if (uv_hrtime() - s->notified_ns > (uint64_t)RENOTIFY_MS * 1000000u)
    send_notify(s);
  if (!s->soa_in_flight && ask_soa(s->n, s->x, soa_cb, s) == 0)
    s->soa_in_flight = 1;
}

/* The primary is at `target`: a secondary not there yet is notified and
 * watched. */
static void chase(fo__secondary *s, uint64_t since_ns) {
  fo__notify *n = s->n;
  if (s->have_serial && !fo__serial_lt(s->serial, n->target))
    return; /* there already */
  if (!s->behind) {
    s->behind = 1;
    s->since_ns = since_ns;
  }
  send_notify(s);
  uv_timer_start(&s->poll, poll_cb, POLL_MS, POLL_MS);
}

/* ---- the primary's serial ------------------------------------------------------ */

static void ask_primary(fo__notify *n);

static void facts_cb(int status, int detail, const unsigned char *reply,
                     size_t len, unsigned tries, void *arg) {
  fo__notify *n = arg;
  fo__dns_soa_info soa;
  (void)detail;
  (void)tries;
  n->facts_in_flight = 0;
  if (status == FO_ECANCELED || n->closing)
    return;
  if (status == 0 && rcode_error(reply, len) == 0 &&
      fo__dns_soa(reply, len, n->zone, &soa) == 0) {
    uint32_t s = soa.minimum < soa.ttl ? soa.minimum : soa.ttl;
    n->negative_ttl_ms = s > UINT32_MAX / 1000u ? UINT32_MAX : s * 1000u;
    if (n->negative_ttl_ms == 0)
      n->negative_ttl_ms = 1; /* known, and (next to) nothing */
    } else if (++n->facts_tries < FACTS_TRIES &&
             ask_soa(n, n->primary, facts_cb, n) == 0) {
    n->facts_in_flight = 1;
  }
}

static void primary_cb(int status, int detail, const unsigned char *reply,
                       size_t len, unsigned tries, void *arg) {
  fo__notify *n = arg;
  uint64_t since = n->pending_ns;
  uint32_t serial;
  size_t i;
  (void)detail;
  (void)tries;
  n->primary_in_flight = 0;
  if (status == FO_ECANCELED || n->closing)
    return;
  if (status == 0 && rcode_error(reply, len) == 0 &&
      fo__dns_soa_serial(reply, len, n->zone, &serial) == 0) {
    n->pending_ns = 0;
    if (!n->have_target || fo__serial_lt(n->target, serial))
      n->target = serial;
    n->have_target = 1;
    for (i = 0; i < n->count; i++)
      chase(&n->sec[i], since);
  } else {
    n->primary_again = 1; /* the confirmation still needs its serial */
  }
  if (n->primary_again)
    ask_primary(n);
}

static void ask_primary(fo__notify *n) {
  if (n->primary_in_flight || n->closing)
    return;
  n->primary_again = 0;
  if (ask_soa(n, n->primary, primary_cb, n) == 0)
    n->primary_in_flight = 1;
}

void fo__notify_confirmed(fo__notify *n) {
  if (n == NULL || n->closing)
    return;
  /* The zone's negative TTL, read once something was published (not at
   * start: a publisher that never publishes sends nothing). */
  if (n->negative_ttl_ms == 0 && !n->facts_in_flight &&
      n->facts_tries < FACTS_TRIES && ask_soa(n, n->primary, facts_cb, n) == 0) {
    n->facts_in_flight = 1;
    if (n->facts_asked_ns == 0)
      n->facts_asked_ns = uv_hrtime();
  }
  if (n->count == 0)
    return;
  if (n->pending_ns == 0)
    n->pending_ns = uv_hrtime();
  if (n->primary_in_flight)
    n->primary_again = 1; /* its answer may predate this change */
  else
    ask_primary(n);
}

/* ---- life cycle ----------------------------------------------------------------- */

static void maybe_free(fo__notify *n) {
  void (*closed)(void *) = n->closed;
  void *userdata = n->closed_userdata;
  fo_allocator a = n->alloc;
  if (n->open != 0)
    return;
  fo__tsig_key_wipe(&n->key);
  fo__free(&a, n->sec);
  fo__free(&a, n);
  if (closed)
    closed(userdata);
}

static void one_closed(void *userdata) {
  fo__notify *n = userdata;
  n->open--;
  maybe_free(n);
}

static void timer_closed(uv_handle_t *h) {
  fo__secondary *s = h->data;
  one_closed(s->n);
}

void fo__notify_close(fo__notify *n, void (*closed)(void *userdata),
                      void *userdata) {
  size_t i;
  if (n == NULL) {
    if (closed)
      closed(userdata);
    return;
  }
  n->closing = 1;
  n->closed = closed;
  n->closed_userdata = userdata;
  n->open++; /* held while closing starts */
  for (i = 0; i < n->count; i++) {
    fo__secondary *s = &n->sec[i];
    if (s->x != NULL) {
      n->open++;
      fo__dnsx_close(s->x, one_closed, n);
      s->x = NULL;
    }
    if (s->poll.data != NULL) {
      n->open++;
      uv_close((uv_handle_t *)&s->poll, timer_closed);
    }
  }
  if (n->primary != NULL) {
    n->open++;
    fo__dnsx_close(n->primary, one_closed, n);
    n->primary = NULL;
  }
  one_closed(n);
}

int fo__notify_new(fo__notify **out, uv_loop_t *loop, const fo_allocator *a,
                   const char *zone, const fo__tsig_key *key,
                   const fo__hostport *primary, uint32_t timeout_ms,
                   const char *const *servers, size_t count) {
  fo__dnsx_config cfg;
  fo__notify *n;
  size_t i;
  int rc = 0;
  *out = NULL;
  if (count > 0 && servers == NULL)
    return FO_EINVAL;
  if (count > FO_PUBLISHER_SECONDARIES_MAX)
    return FO_ERANGE;
  if ((n = fo__calloc(a, 1, sizeof(*n))) == NULL)
    return FO_ENOMEM;
  n->alloc = *a;
  n->loop = loop;
  if (key != NULL)
    n->key = *key;
  snprintf(n->zone, sizeof(n->zone), "%s", zone);
  if ((n->sec = fo__calloc(a, count ? count : 1, sizeof(*n->sec))) == NULL) {
    fo__free(a, n);
    return FO_ENOMEM;
  }
  for (i = 0; i < count && rc == 0; i++) {
    fo__secondary *s = &n->sec[i];
    s->n = n;
    s->lag_ms = -1.0;
    if (servers[i] == NULL || strlen(servers[i]) >= SERVER_LABEL_MAX)
      rc = FO_EBADADDR;
    else
      rc = fo__hostport_parse(servers[i], 53, &s->addr);
    if (rc == 0)
      snprintf(s->label, sizeof(s->label), "%s", servers[i]);
  }
  n->count = count;
  memset(&cfg, 0, sizeof(cfg));
  cfg.timeout_ms = timeout_ms;
  cfg.tries = 3;
  for (i = 0; i < count && rc == 0; i++) {
    fo__secondary *s = &n->sec[i];
    cfg.server = &s->addr;
    rc = fo__dnsx_new(&s->x, loop, &n->alloc, &cfg);
    if (rc == 0 && uv_timer_init(loop, &s->poll) != 0)
      rc = FO_EIO;
    else if (rc == 0)
      s->poll.data = s;
  }
  if (rc == 0) {
    cfg.server = primary;
    rc = fo__dnsx_new(&n->primary, loop, &n->alloc, &cfg);
  }

  if (rc != 0) {
    fo__notify_close(n, NULL, NULL);
    return rc;
  }
  *out = n;
  return 0;
}

size_t fo__notify_count(const fo__notify *n) { return n ? n->count : 0; }

uint32_t fo__notify_negative_ttl_ms(const fo__notify *n) {
  return n ? n->negative_ttl_ms : 0;
}

int fo__notify_facts_settled(const fo__notify *n, uint64_t now_ns) {
  return n == NULL || n->negative_ttl_ms != 0 || n->facts_asked_ns == 0 ||
         !n->facts_in_flight ||
         now_ns - n->facts_asked_ns > (uint64_t)FACTS_WAIT_MS * 1000000u;
}

void fo__notify_status(const fo__notify *n, size_t i,
                       fo_secondary_status *out) {
  const fo__secondary *s = &n->sec[i];
  memset(out, 0, sizeof(*out));
  out->version = FO_SECONDARY_STATUS_VERSION;
  out->server = s->label;
  out->serial = s->serial;
  out->target_serial = n->have_target ? n->target : 0;
  out->in_step = n->have_target && s->have_serial &&
                 !fo__serial_lt(s->serial, n->target);
  out->lag_ms = s->behind ? ms_between(s->since_ns, uv_hrtime()) : s->lag_ms;
  out->error = s->error;
  out->notifies = s->notifies;
}
