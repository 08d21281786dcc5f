/*
 * verify.c - the verifier engine on the caller's libuv loop.
 *
 * A check runs in rounds: each server is sent an A query (and an AAAA
 * query when addresses matter); when all of a server's replies are in, the
 * round is judged. One-shot checks finish when every server finished one
 * round; converging checks ask unmatched servers again after an interval
 * until all matched or the deadline passed.
 *
 * Queries wait in one FIFO and at most max_in_flight are outstanding over
 * all servers, each server through its own transport (lib/dns/transport.h).
 * Transport callbacks only record replies; judging rounds, user callbacks
 * and sending more queries happen from a zero-delay "kick" timer, so user
 * code never runs inside the transport and may start, cancel or close from
 * its callback.
 */
#include "verify_internal.h"

#include "alloc.h"
#include "hostport.h"
#include "layout.h"
#include "names.h"
#include "random.h"
#include "transport.h"

#include <string.h>

#define DEFAULT_TIMEOUT_MS 1000u
#define DEFAULT_TRIES 2u
#define DEFAULT_IN_FLIGHT 100u
#define DEFAULT_INTERVAL_MS 1000u
#define MAX_TIMEOUT_MS 60000u
#define MAX_TRIES 10u
#define MAX_IN_FLIGHT 4096u
#define MAX_UNTIL_MS (24u * 3600u * 1000u)
#define SERVER_LABEL_MAX 64
#define NS_PER_MS 1000000.0

typedef struct fo__vserver {
  fo_verifier *v;
  char label[SERVER_LABEL_MAX];
  fo__hostport addr;
  fo__dnsx *x;
} fo__vserver;

typedef struct fo__query {
  struct fo__query *next, *prev; /* the wait queue */
  fo_check *check;
  uint8_t server;
  uint8_t aaaa;
  uint8_t queued;
  uint64_t sent_ns;
} fo__query;

typedef struct fo__sstate {
  fo__seen seen; /* the round in progress */
  fo__seen last; /* the last complete round: what is reported */
  fo_verify_status status;
  unsigned outstanding;
  int round_done;  /* a round completed and awaits judging */
  int matched;
  uint32_t rounds;
  double rtt_ms;
  double first_match_ms;
  uint64_t next_ns; /* converging: when to ask again; 0 = not waiting */
  fo__query q[2];
} fo__sstate;

struct fo_check {
  fo_verifier *v;
  fo_check *next, *prev;  /* live checks */
  fo_check *ready_next;   /* checks with judged-pending rounds */
  int in_ready;
  int done;               /* callback fired */
  int error;              /* pending error to report (FO_ENOMEM) */
  unsigned refs;          /* queries in flight + open timer */
  char *name;
  fo__expect expect;
  int wants_aaaa;
  uint32_t until_ms;
  uint32_t interval_ms;
  uint64_t start_ns;
  fo_verify_fn cb;
  void *userdata;
  int timer_open;
  uv_timer_t timer;
  fo__sstate s[]; /* one per server */
};

struct fo_verifier {
  fo_allocator alloc;
  uv_loop_t *loop;
  size_t server_count;
  fo__vserver servers[FO_VERIFY_SERVERS_MAX];
  uint32_t max_in_flight;
  uint32_t in_flight;
  int rd;
  fo__query *queue_head, *queue_tail;
  fo_check *checks;
  size_t pending;
  fo_check *ready;
  uv_timer_t kick;
  int kick_armed;
  int pumping;
  int closing;
  unsigned open;     /* handles whose close callback has not run */
  unsigned unfreed;  /* called-back checks still held by queries/timers */
  fo_verifier_closed_fn closed;
  void *closed_userdata;
  fo__close_listener *listeners;
  fo__random_pool pool;
  fo__dns_msg *msg;     /* parse scratch */
  fo__dns_chain *chain; /* chain scratch */
};

/* ---- options ----------------------------------------------------------------- */

/* Sizes of the versions 1.. of the structs read here (see layout.h). */
static const size_t options_sizes[] = {
  FO__SIZE_THROUGH(fo_verifier_options, allocator)
};
static const fo__layout options_layout = FO__LAYOUT(options_sizes);
static const size_t params_sizes[] = {
  FO__SIZE_THROUGH(fo_verify_params, interval_ms)
};
static const fo__layout params_layout = FO__LAYOUT(params_sizes);

const fo_server_answer *fo_verify_result_server(const fo_verify_result *result,
                                                size_t index) {
  const fo__verify_result *full = (const fo__verify_result *)result;
  if (result == NULL || index >= result->server_count)
    return NULL;
  return &full->servers[index];
}

int fo_verifier_options_init(fo_verifier_options *opts, unsigned int version) {
  return fo__layout_init(&options_layout, opts, version);
}

const char *fo_verify_status_name(fo_verify_status status) {
  static const char *const names[] = {
      "pending",  "match",   "mismatch", "nxdomain",    "nodata",
      "dangling", "servfail", "refused", "timeout",     "unreachable",
      "malformed", "other-rcode", "too-large", "closed"};
  if ((unsigned)status < sizeof(names) / sizeof(names[0]))
    return names[status];
  return "unknown";
}

/* ---- the queue and the kick ----------------------------------------------------- */

static void kick_cb(uv_timer_t *t);

static void arm_kick(fo_verifier *v) {
  if (v->kick_armed || v->closing)
    return;
  v->kick_armed = 1;
  (void)uv_timer_start(&v->kick, kick_cb, 0, 0);
}

static void enqueue(fo_verifier *v, fo__query *q) {
  q->next = NULL;
  q->prev = v->queue_tail;
  if (v->queue_tail)
    v->queue_tail->next = q;
  else
    v->queue_head = q;
  v->queue_tail = q;
  q->queued = 1;
}

static void dequeue(fo_verifier *v, fo__query *q) {
  if (q->prev)
    q->prev->next = q->next;
  else
    v->queue_head = q->next;
  if (q->next)
    q->next->prev = q->prev;
  else
    v->queue_tail = q->prev;
  q->next = q->prev = NULL;
  q->queued = 0;
}

/* ---- check life cycle -------------------------------------------------------- */

static void free_check(fo_check *c) {
  fo_verifier *v = c->v;
  size_t i;
  for (i = 0; i < v->server_count; i++) {
    fo__seen_reset(&c->s[i].seen, &v->alloc);
    fo__seen_reset(&c->s[i].last, &v->alloc);
  }
  fo__expect_free(&c->expect, &v->alloc);
  fo__free(&v->alloc, c->name);
  fo__free(&v->alloc, c);
  v->unfreed--;
}

static void maybe_free_verifier(fo_verifier *v);

static void release(fo_check *c) {
  fo_verifier *v = c->v;
  if (--c->refs == 0 && c->done) {
    free_check(c);
    if (v->closing)
      maybe_free_verifier(v);
  }
}

static void check_timer_closed(uv_handle_t *h) { release(h->data); }

static double since_ms(const fo_check *c, uint64_t now) {
  return (double)(now - c->start_ns) / NS_PER_MS;
}

/* Fire the callback once, then let go of everything the check holds. */
static void finish(fo_check *c, int error) {
  fo_verifier *v = c->v;
  const char *chains[FO_VERIFY_SERVERS_MAX][FO__DNS_MAX_CHAIN + 1];
  const char *addrs[FO_VERIFY_SERVERS_MAX][FO__DNS_MAX_ANSWERS * 2];
  fo_server_answer answers[FO_VERIFY_SERVERS_MAX];
  fo__verify_result full;
  fo_verify_result *r = &full.pub;
  uint64_t now = uv_hrtime();
  double converged = 0;
  size_t i;
  int all = 1;

  memset(&full, 0, sizeof(full));
  r->name = c->name;
  r->error = error;
  r->status = FO_VERIFY_MATCH;
  r->elapsed_ms = since_ms(c, now);
  r->server_count = v->server_count;
  full.servers = answers;
  for (i = 0; i < v->server_count; i++) {
    fo__sstate *s = &c->s[i];
    fo_server_answer *a = &answers[i];
    memset(a, 0, sizeof(*a));
    fo__seen_describe(&s->last, a, chains[i], addrs[i]);
    a->server = v->servers[i].label;
    a->status = s->status;
    a->rcode = s->last.rcode;
    a->authoritative = s->last.aa;
    a->ttl = s->last.ttl;
    a->rtt_ms = s->rtt_ms;
    a->first_match_ms = s->first_match_ms;
    a->rounds = s->rounds;
    if (!s->matched)
      all = 0;
    else if (s->first_match_ms > converged)
      converged = s->first_match_ms;
    if (a->status != FO_VERIFY_MATCH && r->status == FO_VERIFY_MATCH)
      r->status = a->status;
  }
  r->converged_ms = all ? converged : -1.0;

  c->done = 1;
  v->pending--;
  v->unfreed++;
  if (c->prev)
    c->prev->next = c->next;
  else
    v->checks = c->next;
  if (c->next)
    c->next->prev = c->prev;
  for (i = 0; i < v->server_count; i++) {
    int k;
    for (k = 0; k < 2; k++)
      if (c->s[i].q[k].queued)
        dequeue(v, &c->s[i].q[k]);
  }
  c->cb(r, c->userdata);

  c->refs++; /* held across the close below */
  if (c->timer_open) {
    c->timer_open = 0;
    uv_close((uv_handle_t *)&c->timer, check_timer_closed);
  }
  release(c);
}

/* Start a round on server i: queue its queries. */
static void start_round(fo_check *c, size_t i) {
  fo__sstate *s = &c->s[i];
  fo__seen_reset(&s->seen, &c->v->alloc);
  s->next_ns = 0;
  s->rounds++;
  s->outstanding = c->wants_aaaa ? 2u : 1u;
  enqueue(c->v, &s->q[0]);
  if (c->wants_aaaa)
    enqueue(c->v, &s->q[1]);
}

static void check_timer_cb(uv_timer_t *t);

/* Converging checks: arm the timer for the next due server or the
 * deadline, whichever comes first. */
static void arm_check_timer(fo_check *c, uint64_t now) {
  uint64_t deadline = c->start_ns + (uint64_t)c->until_ms * 1000000u;
  uint64_t next = deadline, delay_ms;
  size_t i;
  for (i = 0; i < c->v->server_count; i++)
    if (c->s[i].next_ns && c->s[i].next_ns < next)
      next = c->s[i].next_ns;
  delay_ms = next > now ? (next - now + 999999u) / 1000000u : 0;
  (void)uv_timer_start(&c->timer, check_timer_cb, delay_ms, 0);
}

static void check_timer_cb(uv_timer_t *t) {
  fo_check *c = t->data;
  uint64_t now = uv_hrtime();
  size_t i;
  if (now >= c->start_ns + (uint64_t)c->until_ms * 1000000u) {
    finish(c, FO_ETIMEDOUT);
    return;
  }
  for (i = 0; i < c->v->server_count; i++)
    if (c->s[i].next_ns && c->s[i].next_ns <= now)
      start_round(c, i);
  arm_check_timer(c, now);
  arm_kick(c->v);
}

/* Judge completed rounds; finish or schedule the next ones. */
static void judge(fo_check *c) {
  uint64_t now = uv_hrtime();
  size_t i, done = 0, matched = 0;
  if (c->error) {
    finish(c, c->error);
    return;
  }
  for (i = 0; i < c->v->server_count; i++) {
    fo__sstate *s = &c->s[i];
    if (s->round_done) {
      s->round_done = 0;
      s->status = fo__seen_status(&s->last, &c->expect);
      if (s->status == FO_VERIFY_MATCH && !s->matched) {
        s->matched = 1;
        s->first_match_ms = since_ms(c, now);
      }
      if (c->until_ms && !s->matched) {
        uint64_t wait = (uint64_t)c->interval_ms;
        if (c->v->rd && (uint64_t)s->last.ttl * 1000u > wait)
          wait = (uint64_t)s->last.ttl * 1000u; /* the resolver's cache */
        s->next_ns = now + wait * 1000000u;
      }
    }
    done += s->rounds > 0 && s->outstanding == 0;
    matched += (size_t)s->matched;
  }
  if (matched == c->v->server_count ||
      (c->until_ms == 0 && done == c->v->server_count)) {
    finish(c, 0);
    return;
  }
  if (c->until_ms)
    arm_check_timer(c, now);
}

static void pump(fo_verifier *v);

/* ---- sending and receiving ----------------------------------------------------- */

/* What the transport said, as the code fo__seen_add() reads: a peer that
 * closed or reset TCP without answering is neither unreachable nor a
 * timeout; garbage on TCP is a malformed reply. */
static int transport_code(int status, int detail) {
  if (status != FO_EIO)
    return status;
  switch (detail) {
  case FO__DNSX_CLOSED:
    return FO__TRANSPORT_CLOSED;
  case FO__DNSX_GARBAGE:
    return FO_EMALFORMED;
  default:
    return FO_EIO; /* unreachable, or a socket error here */
  }
}

static void reply_cb(int status, int detail, const unsigned char *abuf,
                     size_t alen, unsigned tries, void *arg) {
  fo__query *q = arg;
  fo_check *c = q->check;
  fo_verifier *v = c->v;
  fo__sstate *s = &c->s[q->server];
  int transport = transport_code(status, detail);
  int closing = v->closing;
  (void)tries;

  v->in_flight--;
  if (!c->done) {
    if (transport == 0) {
      /* Error replies may come without a question (their RCODE counts);
       * a NOERROR reply must echo it to be an answer. */
      if (abuf == NULL || fo__dns_parse(abuf, alen, v->msg) != 0 ||
          !v->msg->qr ||
          (v->msg->qdcount == 0 && v->msg->rcode == FO__RCODE_NOERROR))
        transport = FO_EMALFORMED;
      else
        s->rtt_ms = (double)(uv_hrtime() - q->sent_ns) / NS_PER_MS;
    }
    if (fo__seen_add(&s->seen, &v->alloc, transport, v->msg, c->name,
                     q->aaaa ? FO__TYPE_AAAA : FO__TYPE_A, v->chain) != 0)
      c->error = FO_ENOMEM;
    if (--s->outstanding == 0) {
      fo__seen tmp = s->last;
      s->last = s->seen;
      s->seen = tmp;
      s->round_done = 1;
      if (!c->in_ready) {
        c->in_ready = 1;
        c->refs++; /* the ready list holds it until the kick judged it */
        c->ready_next = v->ready;
        v->ready = c;
      }
    }
  }
  release(c);
  if (closing) /* v may be gone now */
    return;
  pump(v);
  if (v->ready != NULL)
    arm_kick(v);
}

static void send_query(fo_verifier *v, fo__query *q) {
  fo_check *c = q->check;
  unsigned char msg[FO__DNS_HEADER_LEN + FO_NAME_BUFSIZE + 4];
  uint16_t id = 0;
  int len;
  (void)fo__random_read(&v->pool, &id, sizeof(id)); /* any ID works */
  len = fo__dns_build_query(id, c->name, q->aaaa ? FO__TYPE_AAAA : FO__TYPE_A,
                            v->rd, msg, sizeof(msg));
  v->in_flight++;
  c->refs++;
  q->sent_ns = uv_hrtime();
  /* A query that cannot even be queued (no memory, closing) is answered
   * at once; pump() keeps that from recursing. */
  if (len < 0 || fo__dnsx_send(v->servers[q->server].x, msg, (size_t)len, 0,
                               reply_cb, q) != 0)
    reply_cb(FO_EIO, FO__DNSX_LOCAL, NULL, 0, 0, q);
}

/* Fill the in-flight window from the queue. Called from the kick and from
 * reply callbacks: refilling as soon as a reply is read keeps us and the
 * server working at the same time instead of taking turns. A query that
 * cannot be queued calls reply_cb() at once: `pumping` stops that from
 * recursing once per queued query. */
static void pump(fo_verifier *v) {
  if (v->pumping)
    return;
  v->pumping = 1;
  while (v->queue_head != NULL && v->in_flight < v->max_in_flight &&
         !v->closing) {
    fo__query *q = v->queue_head;
    dequeue(v, q);
    send_query(v, q);
  }
  v->pumping = 0;
}

static void kick_cb(uv_timer_t *t) {
  fo_verifier *v = t->data;
  v->kick_armed = 0;
  while (v->ready != NULL && !v->closing) {
    fo_check *c = v->ready;
    v->ready = c->ready_next;
    c->in_ready = 0;
    if (!c->done) /* a callback may have cancelled it meanwhile */
      judge(c);
    release(c);
  }
  pump(v);
}

/* ---- verifier life cycle ----------------------------------------------------- */

static void maybe_free_verifier(fo_verifier *v) {
  fo_verifier_closed_fn closed = v->closed;
  void *userdata = v->closed_userdata;
  fo_allocator alloc;
  if (v->open != 0 || v->unfreed != 0)
    return;
  alloc = v->alloc;
  fo__free(&alloc, v->msg);
  fo__free(&alloc, v->chain);
  fo__free(&alloc, v);
  if (closed)
    closed(userdata);
}

static void server_closed(void *userdata) {
  fo_verifier *v = userdata;
  v->open--;
  maybe_free_verifier(v);
}

static void kick_closed(uv_handle_t *h) {
  fo_verifier *v = h->data;
  v->open--;
  maybe_free_verifier(v);
}

static int check_options(const fo_verifier_options *o) {
  if (o->servers == NULL || o->server_count == 0 ||
      o->server_count > FO_VERIFY_SERVERS_MAX)
    return FO_EINVAL;
  if (o->allocator &&
      (!o->allocator->malloc || !o->allocator->realloc || !o->allocator->free))
    return FO_EINVAL;
  if (o->timeout_ms > MAX_TIMEOUT_MS || o->tries > MAX_TRIES ||
      o->max_in_flight > MAX_IN_FLIGHT)
    return FO_ERANGE;
  return 0;
}

int fo_verifier_new(fo_verifier **out, uv_loop_t *loop,
                    const fo_verifier_options *in) {
  fo_verifier_options copy;
  const fo_verifier_options *o = &copy;
  fo_verifier *v;
  fo_allocator alloc;
  fo__dnsx_config cfg;
  size_t i;
  int rc;

  if (out != NULL)
    *out = NULL;
  if (out == NULL || loop == NULL || in == NULL)
    return FO_EINVAL;
  if ((rc = fo__layout_read(&options_layout, &copy, sizeof(copy), in)) != 0 ||
      (rc = check_options(o)) != 0)
    return rc;
  if (o->allocator)
    alloc = *o->allocator;
  else
    fo__alloc_default(&alloc);
  v = fo__calloc(&alloc, 1, sizeof(*v));
  if (v == NULL)
    return FO_ENOMEM;
  v->alloc = alloc;
  v->loop = loop;
  v->server_count = o->server_count;
  v->max_in_flight = o->max_in_flight ? o->max_in_flight : DEFAULT_IN_FLIGHT;
  v->rd = o->recursion_desired != 0;
  for (i = 0; i < o->server_count && rc == 0; i++) {
    if (o->servers[i] == NULL)
      rc = FO_EINVAL;
    else if (strlen(o->servers[i]) >= SERVER_LABEL_MAX)
      rc = FO_EBADADDR;
    else
      rc = fo__hostport_parse(o->servers[i], 53, &v->servers[i].addr);
    if (rc == 0)
      strcpy(v->servers[i].label, o->servers[i]);
  }
  v->msg = fo__malloc(&alloc, sizeof(*v->msg));
  v->chain = fo__malloc(&alloc, sizeof(*v->chain));
  if (rc == 0 && (v->msg == NULL || v->chain == NULL))
    rc = FO_ENOMEM;
  if (rc == 0 && uv_timer_init(loop, &v->kick) != 0)
    rc = FO_EIO;
  if (rc != 0) {
    fo__free(&alloc, v->msg);
    fo__free(&alloc, v->chain);
    fo__free(&alloc, v);
    return rc;
  }
  v->kick.data = v;

  memset(&cfg, 0, sizeof(cfg));
  cfg.timeout_ms = o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
  cfg.tries = o->tries ? o->tries : DEFAULT_TRIES;
  cfg.use_tcp = o->use_tcp != 0;
  /* Room for a full window of replies in the socket buffer: a default one
   * overflows at a few hundred in flight (REAL-DNS.md). */
  cfg.rcvbuf = 1 << 20;
  for (i = 0; i < v->server_count; i++) {
    v->servers[i].v = v;
    cfg.server = &v->servers[i].addr;
    rc = fo__dnsx_new(&v->servers[i].x, loop, &v->alloc, &cfg);
    if (rc != 0)
      break;
  }
  if (rc != 0) {
    /* Tear down what was set up, through the normal close path. */
    fo_verifier_close(v, NULL, NULL);
    return rc;
  }
  *out = v;
  return 0;
}

void fo_verifier_close(fo_verifier *v, fo_verifier_closed_fn closed,
                       void *userdata) {
  size_t i;
  if (v == NULL || v->closing)
    return;
  /* Closing from here on: a callback below that starts a check gets
   * FO_ECLOSING. The callbacks run while the channels are still open. */
  v->closing = 1;
  v->open++; /* the kick timer: also keeps v alive through the loop below */
  v->closed = closed;
  v->closed_userdata = userdata;
  while (v->listeners != NULL) {
    fo__close_listener *l = v->listeners;
    fo__verifier_unlisten_close(v, l);
    l->fn(l);
  }
  while (v->checks != NULL)
    finish(v->checks, FO_ECANCELED);
  while (v->ready != NULL) { /* the kick will not run again */
    fo_check *c = v->ready;
    v->ready = c->ready_next;
    c->in_ready = 0;
    release(c);
  }
  uv_timer_stop(&v->kick);
  uv_close((uv_handle_t *)&v->kick, kick_closed);
  /* Cancelled checks still held by queries in flight are freed when the
   * transports call those queries back with FO_ECANCELED. */
  for (i = 0; i < v->server_count; i++) {
    fo__dnsx *x = v->servers[i].x;
    if (x == NULL)
      continue;
    v->open++;
    v->servers[i].x = NULL;
    fo__dnsx_close(x, server_closed, v);
  }
}

/* ---- checks ----------------------------------------------------------------- */

static int start_check(fo_check **out, fo_verifier *v, const char *name,
                       const fo__expect *expect, const fo_verify_params *p,
                       fo_verify_fn cb, void *userdata) {
  char norm[FO_NAME_BUFSIZE];
  fo_verify_params params;
  fo_check *c;
  size_t i, len;
  int rc;

  if ((rc = fo__name_normalize(name, norm, &len)) != 0)
    return rc;
  if (p != NULL &&
      (rc = fo__layout_read(&params_layout, &params, sizeof(params), p)) != 0)
    return rc;
  if (p != NULL)
    p = &params;
  if (p != NULL && p->until_ms > MAX_UNTIL_MS)
    return FO_ERANGE;
  c = fo__calloc(&v->alloc, 1,
                 sizeof(*c) + v->server_count * sizeof(c->s[0]));
  if (c == NULL)
    return FO_ENOMEM;
  c->name = fo__strdup(&v->alloc, norm);
  if (c->name == NULL) {
    fo__free(&v->alloc, c);
    return FO_ENOMEM;
  }
  c->v = v;
  c->expect = *expect; /* takes ownership of its data */
  c->wants_aaaa = fo__expect_wants_aaaa(expect);
  c->until_ms = p ? p->until_ms : 0;
  c->interval_ms = (p && p->interval_ms) ? p->interval_ms : DEFAULT_INTERVAL_MS;
  c->cb = cb;
  c->userdata = userdata;
  c->start_ns = uv_hrtime();
  if (c->until_ms) {
    if (uv_timer_init(v->loop, &c->timer) != 0) {
      fo__free(&v->alloc, c->name);
      fo__free(&v->alloc, c);
      return FO_EIO;
    }
    c->timer.data = c;
    c->timer_open = 1;
    c->refs = 1;
    arm_check_timer(c, c->start_ns);
  }
  for (i = 0; i < v->server_count; i++) {
    fo__sstate *s = &c->s[i];
    int k;
    fo__seen_reset(&s->seen, &v->alloc);
    fo__seen_reset(&s->last, &v->alloc);
    s->status = FO_VERIFY_PENDING;
    s->first_match_ms = -1.0;
    for (k = 0; k < 2; k++) {
      s->q[k].check = c;
      s->q[k].server = (uint8_t)i;
      s->q[k].aaaa = (uint8_t)k;
    }
    start_round(c, i);
  }
  c->next = v->checks;
  if (v->checks)
    v->checks->prev = c;
  v->checks = c;
  v->pending++;
  if (out != NULL)
    *out = c;
  arm_kick(v);
  return 0;
}

static int check_call(fo_check **out, const fo_verifier *v,
                      const fo_verify_fn cb) {
  if (out != NULL)
    *out = NULL;
  if (v == NULL || cb == NULL)
    return FO_EINVAL;
  return v->closing ? FO_ECLOSING : 0;
}

int fo_verify_name(fo_check **out, fo_verifier *v, const char *name,
                   const fo_expectation *expect, const fo_verify_params *params,
                   fo_verify_fn cb, void *userdata) {
  fo__expect e;
  int rc;
  if ((rc = check_call(out, v, cb)) != 0)
    return rc;
  if (name == NULL || expect == NULL)
    return FO_EINVAL;
  if ((rc = fo__expect_compile(expect, &v->alloc, &e)) != 0)
    return rc;
  rc = start_check(out, v, name, &e, params, cb, userdata);
  if (rc != 0)
    fo__expect_free(&e, &v->alloc);
  return rc;
}

int fo_verify_group(fo_check **out, fo_verifier *v, const fo_group *group,
                    const fo_verify_params *params, fo_verify_fn cb,
                    void *userdata) {
  char name[FO_NAME_BUFSIZE];
  fo__expect e;
  int rc;
  if ((rc = check_call(out, v, cb)) != 0)
    return rc;
  if (group == NULL)
    return FO_EINVAL;
  if ((rc = fo__expect_from_group(group, &v->alloc, &e, name)) != 0)
    return rc;
  rc = start_check(out, v, name, &e, params, cb, userdata);
  if (rc != 0)
    fo__expect_free(&e, &v->alloc);
  return rc;
}

int fo_check_cancel(fo_check *check) {
  if (check == NULL || check->done)
    return FO_EINVAL;
  finish(check, FO_ECANCELED);
  return 0;
}

int fo_verifier_pending(const fo_verifier *v, size_t *out) {
  if (v == NULL || out == NULL)
    return FO_EINVAL;
  *out = v->pending;
  return 0;
}

int fo__verifier_closing(const fo_verifier *v) { return v->closing; }

void fo__verifier_listen_close(fo_verifier *v, fo__close_listener *l) {
  l->prev = NULL;
  l->next = v->listeners;
  if (v->listeners)
    v->listeners->prev = l;
  v->listeners = l;
  l->linked = 1;
}

void fo__verifier_unlisten_close(fo_verifier *v, fo__close_listener *l) {
  if (!l->linked)
    return;
  if (l->prev)
    l->prev->next = l->next;
  else
    v->listeners = l->next;
  if (l->next)
    l->next->prev = l->prev;
  l->linked = 0;
}
