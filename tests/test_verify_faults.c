/*
 * test_verify_faults.c - the verifier engine against a misbehaving DNS peer
 * on loopback (support/fault_peer.h): for every fault the peer can play,
 * the status the verifier reports must be exactly the one the fault
 * implies; then bursts of thousands of checks with random faults mixed,
 * over UDP and over TCP, where every callback fires once, nothing is lost,
 * and TCP trouble never reaches UDP checks. No real DNS server.
 *
 * The peer answers "ok" with one A record 192.0.2.1, whatever type was
 * asked: the verifier's AAAA query (sent for address expectations) gets
 * that A record too, which the verifier ignores (not the type asked), so
 * the name's address set is {192.0.2.1}. A fault applies to the A and the
 * AAAA query of a check alike (both carry its key); "x<limit>" counts the
 * arrivals of both.
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/valgrind.h>

#include <failover/verify.h>

#include "engine_support.h"
#include "fault_peer.h"
#include "store_faults_util.h"
#include "support.h"

/* ---- common -------------------------------------------------------------- */

static int slow(void) { return RUNNING_ON_VALGRIND || ft_under_valgrind(); }

/* Per-try timeouts: longer under valgrind. */
static uint32_t scaled(uint32_t ms) { return slow() ? ms * 4 : ms; }

static const char *const peer_address[] = {"192.0.2.1"};

enum { EXPECT_ADDR = 0, EXPECT_CNAME, EXPECT_NONE };

static fo_expectation expectation(int kind) {
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_ADDRESSES, NULL, peer_address, 1};
  if (kind == EXPECT_CNAME) {
    e.kind = FO_EXPECT_CNAME;
    e.target = "target.example.net";
    e.addresses = NULL;
    e.address_count = 0;
  } else if (kind == EXPECT_NONE) {
    e.kind = FO_EXPECT_NONE;
    e.addresses = NULL;
    e.address_count = 0;
  }
  return e;
}

static fo_verifier *new_verifier(uv_loop_t *loop, const fo_allocator *alloc,
                                 int port, uint32_t timeout_ms, uint32_t tries,
                                 int use_tcp, uint32_t max_in_flight) {
  char server[64];
  const char *servers[1] = {server};
  fo_verifier_options o;
  fo_verifier *v = NULL;
  snprintf(server, sizeof server, "127.0.0.1:%d", port);
  FT_OK(fo_verifier_options_init(&o, FO_VERIFIER_OPTIONS_VERSION));
  o.servers = servers;
  o.server_count = 1;
  o.timeout_ms = timeout_ms;
  o.tries = tries;
  o.use_tcp = use_tcp;
  o.max_in_flight = max_in_flight;
  o.allocator = alloc;
  FT_OK(fo_verifier_new(&v, loop, &o));
  return v;
}

/* Close every verifier, run the loop dry: no handle may be left, every
 * closed callback ran once, and the engines' memory is all back. */
static void close_all(uv_loop_t *loop, fo_verifier **v, size_t n,
                      watchdog *wd) {
  int closed = 0;
  for (size_t i = 0; i < n; i++) {
    size_t pending = 99;
    FT_OK(fo_verifier_pending(v[i], &pending));
    cr_assert_eq(pending, 0, "verifier %zu: %zu checks pending", i, pending);
    fo_verifier_close(v[i], count_cb, &closed);
  }
  cr_assert_eq(closed, 0, "closed callback ran inside fo_verifier_close");
  loop_done(loop, wd);
  cr_assert_eq(closed, (int)n, "%d closed callbacks for %zu verifiers",
               closed, n);
  fence_done();
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* What one check's callback said. */
typedef struct outcome {
  int calls;
  int error;
  fo_verify_status status;
  int rcode;
  size_t address_count;
  int addresses_ok; /* every address reported is 192.0.2.1 */
  double elapsed_ms;
  int *done; /* incremented per callback */
} outcome;

static void record(outcome *o, const fo_verify_result *r) {
  o->calls++;
  o->error = r->error;
  o->status = r->status;
  o->elapsed_ms = r->elapsed_ms;
  cr_assert_eq(r->server_count, 1);
  const fo_server_answer *a = fo_verify_result_server(r, 0);
  o->rcode = a->rcode;
  o->address_count = a->address_count;
  o->addresses_ok = 1;
  for (size_t i = 0; i < a->address_count; i++)
    if (strcmp(a->addresses[i], "192.0.2.1") != 0)
      o->addresses_ok = 0;
  cr_assert_eq(a->status, r->status);
  (*o->done)++;
}

/* ---- one fault per check ------------------------------------------------- */

/* One case: a check of "<fault>.q<key>.t" on a verifier and a peer of its
 * own (so that a connection one fault kills carries no other case). Times are in
 * tenths of the per-try timeout T. */
typedef struct fcase {
  const char *fault; /* first label; with delay_t: "delay<ms>" */
  unsigned delay_t;  /* the delay, tenths of T */
  int expect;        /* EXPECT_* */
  fo_verify_status want;
  int rcode;           /* servers[0].rcode wanted */
  unsigned naddr;      /* addresses reported (ANY_N: any) */
  unsigned min_t;      /* elapsed at least (0: no bound) */
  unsigned max_t;      /* elapsed below */
  int udp, tcp;        /* arrivals of the key at the peer (-1: any) */
} fcase;

#define M FO_VERIFY_MATCH
#define ANY_N 99
#define T_OUT FO_VERIFY_TIMEOUT
/* A timeout ends after T x 2 tries (less what the loop's clock lags, a few
 * ms at most), well before T x 4. */
#define TIMED_OUT 19, 40

typedef struct ctx {
  outcome o;
  const fcase *fc;
  char name[64];
} ctx;

static void fcase_cb(const fo_verify_result *r, void *userdata) {
  ctx *c = userdata;
  record(&c->o, r);
  cr_assert_eq(c->o.calls, 1, "%s: %d callbacks", c->name, c->o.calls);
}

static void fcase_check(const ctx *c, uint32_t t, const ft_fault_peer *peer,
                        unsigned key) {
  const fcase *f = c->fc;
  const outcome *o = &c->o;
  cr_assert_eq(o->calls, 1, "%s: %d callbacks", c->name, o->calls);
  FT_RC(o->error, 0);
  cr_assert_eq(o->status, f->want, "%s: %s, expected %s", c->name,
               fo_verify_status_name(o->status),
               fo_verify_status_name(f->want));
  cr_assert_eq(o->rcode, f->rcode, "%s: rcode %d, expected %d", c->name,
               o->rcode, f->rcode);
  if (f->naddr != ANY_N)
    cr_assert_eq(o->address_count, f->naddr, "%s: %zu addresses", c->name,
                 o->address_count);
  cr_assert(o->addresses_ok, "%s: an address other than 192.0.2.1", c->name);
  if (f->min_t)
    cr_assert_geq(o->elapsed_ms, (double)t * f->min_t / 10.0,
                  "%s: ended after %.1f ms (T = %u ms)", c->name,
                  o->elapsed_ms, t);
  /* Valgrind's loop latency: half as much again. */
  if (f->max_t)
    cr_assert_lt(o->elapsed_ms, (double)t * f->max_t / (slow() ? 6.67 : 10.0),
                 "%s: ended after %.1f ms (T = %u ms)", c->name, o->elapsed_ms,
                 t);
  if (f->udp >= 0)
    cr_assert_eq(ft_fault_peer_udp(peer, key), (unsigned)f->udp,
                 "%s: %u UDP arrivals", c->name, ft_fault_peer_udp(peer, key));
  if (f->tcp >= 0)
    cr_assert_eq(ft_fault_peer_tcp(peer, key), (unsigned)f->tcp,
                 "%s: %u TCP arrivals", c->name, ft_fault_peer_tcp(peer, key));
}

/* Run every case at once, each on its own verifier (T, 2 tries). */
static void run_cases(const fcase *cases, size_t n, int use_tcp, uint32_t t) {
  const fo_allocator *alloc = fence_init();
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier **v = calloc(n, sizeof *v);
  ft_fault_peer **peer = calloc(n, sizeof *peer);
  ctx *c = calloc(n, sizeof *c);
  cr_assert(v != NULL && peer != NULL && c != NULL);
  int done = 0;
  for (size_t i = 0; i < n; i++) {
    char word[32];
    if (cases[i].delay_t)
      snprintf(word, sizeof word, "delay%u", t * cases[i].delay_t / 10);
    else
      snprintf(word, sizeof word, "%s", cases[i].fault);
    snprintf(c[i].name, sizeof c[i].name, "%s.q%zu.t", word, i);
    c[i].fc = &cases[i];
    c[i].o.done = &done;
    /* A peer of its own too: "pieces" holds up the peer's only thread. */
    peer[i] = ft_fault_peer_start();
    cr_assert_not_null(peer[i], "fault peer did not start");
    v[i] = new_verifier(&loop, alloc, ft_fault_peer_port(peer[i]), t, 2,
                        use_tcp, 0);
  }
  /* All set up first: a check's clock starts here. */
  for (size_t i = 0; i < n; i++) {
    fo_expectation e = expectation(cases[i].expect);
    FT_OK(fo_verify_name(NULL, v[i], c[i].name, &e, NULL, fcase_cb, &c[i]));
  }
  watchdog wd;
  watchdog_start(&loop, &wd, 30000);
  run_until(&loop, &wd, &done, (int)n);
  cr_assert(!wd.fired, "%d of %zu callbacks after 30 s", done, n);
  for (size_t i = 0; i < n; i++) {
    cr_log_info("%-5s %-22s %-12s rcode %2d  %7.1f ms", use_tcp ? "tcp" : "udp",
                c[i].name, fo_verify_status_name(c[i].o.status), c[i].o.rcode,
                c[i].o.elapsed_ms);
  }
  for (size_t i = 0; i < n; i++)
    fcase_check(&c[i], t, peer[i], (unsigned)i);
  close_all(&loop, v, n, &wd);
  for (size_t i = 0; i < n; i++)
    ft_fault_peer_stop(peer[i]);
  free(v);
  free(peer);
  free(c);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* T of the cases: 100 ms; under valgrind, where three dozen verifiers and
 * peers starting at once take most of a second, 1 s. */
static uint32_t case_timeout(void) { return slow() ? 1000 : 100; }

/* Over UDP. Retries keep the query's ID, so an answer to an earlier try
 * that comes late (delay 1.5 T) still counts. */
static const fcase udp_cases[] = {
    /* fault, delay_t, expect, want, rcode, naddr, min_t, max_t, udp, tcp */
    {"ok", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 2, 0},
    {"upper", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 2, 0},
    {"delay", 3, EXPECT_ADDR, M, 0, 1, 3, 10, 2, 0},
    {"delay", 15, EXPECT_ADDR, M, 0, 1, 15, 20, 4, 0},
    {"delay", 30, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 4, 0},
    {"drop", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 4, 0},
    {"dropx1", 0, EXPECT_ADDR, M, 0, 1, 10, 20, 3, 0},
    {"dropx2", 0, EXPECT_ADDR, M, 0, 1, 10, 20, 4, 0},
    /* One of the two queries is dropped on both tries. */
    {"dropx3", 0, EXPECT_ADDR, T_OUT, 0, ANY_N, TIMED_OUT, 4, 0},
    {"tc", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 2, 2},
    {"wrongid", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 4, 0},
    {"wrongidx1", 0, EXPECT_ADDR, M, 0, 1, 10, 20, 3, 0},
    {"wrongq", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 4, 0},
    {"wrongqx2", 0, EXPECT_ADDR, M, 0, 1, 10, 20, 4, 0},
    {"wrongname", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 4, 0},
    {"garbage", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 4, 0},
    {"close", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 4, 0}, /* UDP: drop */
    {"rst", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 4, 0},
    {"ansrst", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 2, 0}, /* UDP: ok */
    {"noq0", 0, EXPECT_ADDR, FO_VERIFY_MALFORMED, -1, 0, 0, 10, 2, 0},
    {"noq1", 0, EXPECT_ADDR, FO_VERIFY_OTHER_RCODE, 1, 0, 0, 10, 2, 0},
    {"noq2", 0, EXPECT_ADDR, FO_VERIFY_SERVFAIL, 2, 0, 0, 10, 2, 0},
    {"noq3", 0, EXPECT_ADDR, FO_VERIFY_NXDOMAIN, 3, 0, 0, 10, 2, 0},
    {"noq4", 0, EXPECT_ADDR, FO_VERIFY_OTHER_RCODE, 4, 0, 0, 10, 2, 0},
    {"noq5", 0, EXPECT_ADDR, FO_VERIFY_REFUSED, 5, 0, 0, 10, 2, 0},
    {"noq9", 0, EXPECT_ADDR, FO_VERIFY_REFUSED, 9, 0, 0, 10, 2, 0},
    {"big3", 0, EXPECT_ADDR, M, 0, 3, 0, 10, 2, 0},
    /* The first 64 addresses are reported, not judged. */
    {"big70", 0, EXPECT_ADDR, FO_VERIFY_TOO_LARGE, 0, ANY_N, 0, 10, 2, 0},
    /* Other expectations: CNAME asks A only. */
    {"ok", 0, EXPECT_CNAME, FO_VERIFY_MISMATCH, 0, 1, 0, 10, 1, 0},
    {"ok", 0, EXPECT_NONE, FO_VERIFY_MISMATCH, 0, 1, 0, 10, 2, 0},
    {"noq3", 0, EXPECT_NONE, M, 3, 0, 0, 10, 2, 0},
    {"noq3", 0, EXPECT_CNAME, FO_VERIFY_NXDOMAIN, 3, 0, 0, 10, 1, 0},
    {"drop", 0, EXPECT_CNAME, T_OUT, -1, 0, TIMED_OUT, 2, 0},
};

Test(verify_faults, each_fault_over_udp) {
  run_cases(udp_cases, N(udp_cases), 0, case_timeout());
}

/* Over TCP (use_tcp): a query is written once per connection and waits
 * there T x tries, so a 1.5 T delay is answered on the first connection;
 * a connection that dies unanswered is a try, a new connection the next. */
static const fcase tcp_cases[] = {
    {"ok", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 0, 2},
    {"upper", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 0, 2},
    {"tc", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 0, 2},
    {"delay", 3, EXPECT_ADDR, M, 0, 1, 3, 10, 0, 2},
    {"delay", 15, EXPECT_ADDR, M, 0, 1, 15, 20, 0, 2},
    {"delay", 30, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 0, 2},
    {"drop", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 0, 2},
    {"wrongid", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 0, 2},
    {"wrongq", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 0, 2},
    {"wrongname", 0, EXPECT_ADDR, T_OUT, -1, 0, TIMED_OUT, 0, 2},
    {"close", 0, EXPECT_ADDR, FO_VERIFY_CLOSED, -1, 0, 0, 10, 0, -1},
    {"rst", 0, EXPECT_ADDR, FO_VERIFY_CLOSED, -1, 0, 0, 10, 0, -1},
    {"garbage", 0, EXPECT_ADDR, FO_VERIFY_MALFORMED, -1, 0, 0, 10, 0, -1},
    {"closex1", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 0, -1},
    {"rstx1", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 0, -1},
    {"garbagex1", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 0, -1},
    {"ansclose", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 0, -1},
    {"ansrst", 0, EXPECT_ADDR, M, 0, 1, 0, 10, 0, -1},
    {"pieces3", 0, EXPECT_ADDR, M, 0, 1, 0, 20, 0, 2},
    {"noq0", 0, EXPECT_ADDR, FO_VERIFY_MALFORMED, -1, 0, 0, 10, 0, 2},
    {"noq1", 0, EXPECT_ADDR, FO_VERIFY_OTHER_RCODE, 1, 0, 0, 10, 0, 2},
    {"noq2", 0, EXPECT_ADDR, FO_VERIFY_SERVFAIL, 2, 0, 0, 10, 0, 2},
    {"noq4", 0, EXPECT_ADDR, FO_VERIFY_OTHER_RCODE, 4, 0, 0, 10, 0, 2},
    {"noq5", 0, EXPECT_ADDR, FO_VERIFY_REFUSED, 5, 0, 0, 10, 0, 2},
    {"big3", 0, EXPECT_ADDR, M, 0, 3, 0, 10, 0, 2},
    {"big70", 0, EXPECT_ADDR, FO_VERIFY_TOO_LARGE, 0, ANY_N, 0, 10, 0, 2},
    {"bigrst70", 0, EXPECT_ADDR, FO_VERIFY_TOO_LARGE, 0, ANY_N, 0, 10, 0, -1},
    {"ok", 0, EXPECT_CNAME, FO_VERIFY_MISMATCH, 0, 1, 0, 10, 0, 1},
    {"close", 0, EXPECT_CNAME, FO_VERIFY_CLOSED, -1, 0, 0, 10, 0, 2},
    {"noq3", 0, EXPECT_NONE, M, 3, 0, 0, 10, 0, 2},
};

Test(verify_faults, each_fault_over_tcp) {
  run_cases(tcp_cases, N(tcp_cases), 1, case_timeout());
}

/* Answers held by the peer and released by a later query on the same
 * connection come back last first: both checks match. */
Test(verify_faults, tcp_answers_out_of_order) {
  const fo_allocator *alloc = fence_init();
  ft_fault_peer *peer = ft_fault_peer_start();
  cr_assert_not_null(peer);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier *v = new_verifier(&loop, alloc, ft_fault_peer_port(peer),
                                scaled(2000), 2, 1, 0);
  fo_expectation e = expectation(EXPECT_ADDR);
  ctx c[2];
  int done = 0;
  memset(c, 0, sizeof c);
  static const fcase held = {"hold", 0, EXPECT_ADDR, M, 0, 1, 0, 0, 0, 2};
  static const fcase rel = {"release", 0, EXPECT_ADDR, M, 0, 1, 0, 0, 0, 2};
  c[0].fc = &held;
  c[1].fc = &rel;
  for (size_t i = 0; i < 2; i++) {
    snprintf(c[i].name, sizeof c[i].name, "%s.q%zu.t", c[i].fc->fault, i);
    c[i].o.done = &done;
    FT_OK(fo_verify_name(NULL, v, c[i].name, &e, NULL, fcase_cb, &c[i]));
  }
  watchdog wd;
  watchdog_start(&loop, &wd, 20000);
  run_until(&loop, &wd, &done, 2);
  cr_assert(!wd.fired);
  for (size_t i = 0; i < 2; i++)
    fcase_check(&c[i], scaled(2000), peer, (unsigned)i);
  cr_assert_eq(ft_fault_peer_connections(peer), 1);
  close_all(&loop, &v, 1, &wd);
  ft_fault_peer_stop(peer);
}

/* Nothing listens: ICMP port unreachable (UDP) and a refused connect (TCP)
 * end the check at once, not after 2 s x 3 tries. */
Test(verify_faults, closed_port_is_unreachable_promptly) {
  const fo_allocator *alloc = fence_init();
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  int port = ft_closed_port();
  cr_assert_gt(port, 0);
  uint32_t t = scaled(2000);
  fo_verifier *v[2];
  ctx c[4];
  int done = 0;
  static const fcase want = {"ok", 0, EXPECT_ADDR, FO_VERIFY_UNREACHABLE,
                             -1, 0, 0, 5, -1, -1};
  static const fcase want_a = {"ok", 0, EXPECT_CNAME, FO_VERIFY_UNREACHABLE,
                               -1, 0, 0, 5, -1, -1};
  memset(c, 0, sizeof c);
  for (int tcp = 0; tcp < 2; tcp++) {
    v[tcp] = new_verifier(&loop, alloc, port, t, 3, tcp, 0);
    for (int k = 0; k < 2; k++) {
      ctx *x = &c[tcp * 2 + k];
      fo_expectation e = expectation(k ? EXPECT_CNAME : EXPECT_ADDR);
      x->fc = k ? &want_a : &want;
      x->o.done = &done;
      snprintf(x->name, sizeof x->name, "ok.q%d.t", tcp * 2 + k);
      FT_OK(fo_verify_name(NULL, v[tcp], x->name, &e, NULL, fcase_cb, x));
    }
  }
  watchdog wd;
  watchdog_start(&loop, &wd, 20000);
  run_until(&loop, &wd, &done, 4);
  cr_assert(!wd.fired);
  for (size_t i = 0; i < 4; i++) {
    cr_log_info("%s %s: %s after %.1f ms", i < 2 ? "udp" : "tcp", c[i].name,
                fo_verify_status_name(c[i].o.status), c[i].o.elapsed_ms);
    fcase_check(&c[i], t, NULL, 0);
  }
  close_all(&loop, v, 2, &wd);
}

/* ---- bursts -------------------------------------------------------------- */

/* A fault of a burst: `want` is the status when the peer handed over valid
 * answers to both queries (TCP) or always (UDP). */
typedef struct bfault {
  const char *fault;
  fo_verify_status want;
  int rcode;
  unsigned weight;
  int kills; /* TCP: kills its connection without answering (CLOSED) */
  int silent; /* never answered validly: TIMEOUT, or CLOSED over TCP */
  int answer_problem; /* the answer itself is a problem (too large) */
} bfault;

static const bfault udp_pool[] = {
    {"ok", M, 0, 40, 0, 0, 0},
    {"upper", M, 0, 3, 0, 0, 0},
    {"delay20", M, 0, 3, 0, 0, 0},
    {"tc", M, 0, 3, 0, 0, 0},
    {"dropx1", M, 0, 2, 0, 0, 0},
    {"wrongidx1", M, 0, 2, 0, 0, 0},
    {"wrongnamex2", M, 0, 1, 0, 0, 0},
    {"big3", M, 0, 2, 0, 0, 0},
    {"noq0", FO_VERIFY_MALFORMED, -1, 2, 0, 0, 0},
    {"noq1", FO_VERIFY_OTHER_RCODE, 1, 1, 0, 0, 0},
    {"noq2", FO_VERIFY_SERVFAIL, 2, 1, 0, 0, 0},
    {"noq3", FO_VERIFY_NXDOMAIN, 3, 1, 0, 0, 0},
    {"noq4", FO_VERIFY_OTHER_RCODE, 4, 1, 0, 0, 0},
    {"noq5", FO_VERIFY_REFUSED, 5, 2, 0, 0, 0},
    {"big70", FO_VERIFY_TOO_LARGE, 0, 1, 0, 0, 1},
    {"drop", T_OUT, -1, 2, 0, 1, 0},
    {"dropx3", T_OUT, 0, 1, 0, 1, 0},
    {"wrongid", T_OUT, -1, 1, 0, 1, 0},
    {"wrongq", T_OUT, -1, 1, 0, 1, 0},
    {"wrongname", T_OUT, -1, 1, 0, 1, 0},
    {"garbage", T_OUT, -1, 1, 0, 1, 0},
    {"rst", T_OUT, -1, 1, 0, 1, 0},
};

/* No garbage here: a connection it kills fails the other queries on it
 * MALFORMED, where every other killer leaves CLOSED (see tcp_garbage). */
static const bfault tcp_pool[] = {
    {"ok", M, 0, 500, 0, 0, 0},
    {"upper", M, 0, 10, 0, 0, 0},
    {"delay20", M, 0, 10, 0, 0, 0},
    {"tc", M, 0, 10, 0, 0, 0},
    {"big3", M, 0, 10, 0, 0, 0},
    {"pieces16", M, 0, 3, 0, 0, 0},
    {"ansclose", M, 0, 3, 0, 0, 0},
    {"ansrst", M, 0, 3, 0, 0, 0},
    {"closex1", M, 0, 2, 0, 0, 0},
    {"rstx1", M, 0, 2, 0, 0, 0},
    {"noq4", FO_VERIFY_OTHER_RCODE, 4, 5, 0, 0, 0},
    {"noq5", FO_VERIFY_REFUSED, 5, 10, 0, 0, 0},
    {"big70", FO_VERIFY_TOO_LARGE, 0, 5, 0, 0, 1},
    {"close", FO_VERIFY_CLOSED, -1, 1, 1, 0, 0},
    {"rst", FO_VERIFY_CLOSED, -1, 1, 1, 0, 0},
    {"drop", T_OUT, -1, 5, 0, 1, 0},
    {"wrongid", T_OUT, -1, 5, 0, 1, 0},
};

static const bfault garbage_pool[] = {
    {"ok", M, 0, 20, 0, 0, 0},
    {"upper", M, 0, 2, 0, 0, 0},
    {"delay20", M, 0, 2, 0, 0, 0},
    {"noq5", FO_VERIFY_REFUSED, 5, 2, 0, 0, 0},
    {"garbagex1", M, 0, 1, 0, 0, 0},
    {"garbage", FO_VERIFY_MALFORMED, -1, 1, 1, 0, 0},
};

typedef struct burst burst;

typedef struct bcheck {
  burst *b;
  const bfault *f;
  unsigned key;
  char name[48];
  outcome o;
} bcheck;

struct burst {
  const char *label;
  fo_verifier *v;
  ft_fault_peer *peer;
  int tcp;
  fo_verify_status collateral; /* a TCP check whose connections died */
  bcheck *c;
  size_t n, next, window;
  int done;
  int in_call;
};

static void burst_submit(burst *b, size_t i);

static void burst_cb(const fo_verify_result *r, void *userdata) {
  bcheck *c = userdata;
  burst *b = c->b;
  cr_assert(!b->in_call, "%s: callback inside fo_verify_name", c->name);
  record(&c->o, r);
  cr_assert_eq(c->o.calls, 1, "%s: %d callbacks", c->name, c->o.calls);
  /* Refill: one new check per check done, from the callback. */
  if (b->next < b->n)
    burst_submit(b, b->next++);
}

static void burst_submit(burst *b, size_t i) {
  bcheck *c = &b->c[i];
  fo_expectation e = expectation(EXPECT_ADDR);
  b->in_call = 1;
  FT_OK(fo_verify_name(NULL, b->v, c->name, &e, NULL, burst_cb, c));
  b->in_call = 0;
}

static const bfault *pick(const bfault *pool, size_t n, uint64_t *seed) {
  unsigned total = 0, r;
  for (size_t i = 0; i < n; i++)
    total += pool[i].weight;
  r = (unsigned)(splitmix(seed) % total);
  for (size_t i = 0; i < n; i++) {
    if (r < pool[i].weight)
      return &pool[i];
    r -= pool[i].weight;
  }
  return &pool[0];
}

static void burst_init(burst *b, const char *label, fo_verifier *v,
                       ft_fault_peer *peer, int tcp, const bfault *pool,
                       size_t pool_len, size_t n, unsigned key0,
                       size_t window, uint64_t seed) {
  memset(b, 0, sizeof *b);
  b->label = label;
  b->v = v;
  b->peer = peer;
  b->tcp = tcp;
  b->collateral = FO_VERIFY_CLOSED;
  b->n = n;
  b->window = window < n ? window : n;
  b->c = calloc(n, sizeof *b->c);
  cr_assert_not_null(b->c);
  cr_assert_leq(key0 + n, FT_PEER_KEYS);
  for (size_t i = 0; i < n; i++) {
    bcheck *c = &b->c[i];
    c->b = b;
    /* Every fault of the pool once, then a random mix. */
    c->f = i < pool_len ? &pool[i] : pick(pool, pool_len, &seed);
    c->key = key0 + (unsigned)i;
    c->o.done = &b->done;
    snprintf(c->name, sizeof c->name, "%s.q%u.t", c->f->fault, c->key);
  }
}

static void burst_start(burst *b) {
  for (b->next = 0; b->next < b->window; b->next++)
    burst_submit(b, b->next);
}

/* Per status: how many. */
typedef struct tally {
  size_t by_status[FO_VERIFY_CLOSED + 1];
  size_t collateral; /* TCP answers lost to another check's fault */
} tally;

static void burst_verify(const burst *b, tally *t) {
  memset(t, 0, sizeof *t);
  cr_assert_eq(b->done, (int)b->n, "%s: %d callbacks for %zu checks",
               b->label, b->done, b->n);
  cr_assert_eq(b->next, b->n, "%s: %zu of %zu checks started", b->label,
               b->next, b->n);
  for (size_t i = 0; i < b->n; i++) {
    const bcheck *c = &b->c[i];
    const bfault *f = c->f;
    const outcome *o = &c->o;
    unsigned udp = ft_fault_peer_udp(b->peer, c->key);
    unsigned tcp = ft_fault_peer_tcp(b->peer, c->key);
    unsigned delivered = ft_fault_peer_delivered(b->peer, c->key);
    cr_assert_eq(o->calls, 1, "%s: %d callbacks", c->name, o->calls);
    FT_RC(o->error, 0);
    cr_assert((unsigned)o->status <= FO_VERIFY_CLOSED);
    t->by_status[o->status]++;
    cr_assert(o->addresses_ok, "%s: an address not 192.0.2.1", c->name);
    if (!b->tcp) {
      /* UDP: exactly what the fault implies, whatever else goes on. */
      cr_assert_eq(o->status, f->want, "%s: %s, expected %s (udp %u, tcp %u, "
                   "delivered %u)", c->name, fo_verify_status_name(o->status),
                   fo_verify_status_name(f->want), udp, tcp, delivered);
      cr_assert_eq(o->rcode, f->rcode, "%s: rcode %d", c->name, o->rcode);
      if (o->status == M)
        cr_assert_geq(o->address_count, 1, "%s", c->name);
      if (strcmp(f->fault, "tc") == 0)
        cr_assert_eq(tcp, 2, "%s: %u TCP arrivals", c->name, tcp);
      else
        cr_assert_eq(tcp, 0, "%s: went over TCP", c->name);
      continue;
    }
    cr_assert_eq(udp, 0, "%s: went over UDP", c->name);
    if (f->kills) {
      cr_assert_eq(o->status, f->want, "%s: %s, expected %s", c->name,
                   fo_verify_status_name(o->status),
                   fo_verify_status_name(f->want));
    } else if (f->silent) {
      cr_assert(o->status == f->want || o->status == b->collateral,
                "%s: %s, expected %s (or %s: connection killed)", c->name,
                fo_verify_status_name(o->status),
                fo_verify_status_name(f->want),
                fo_verify_status_name(b->collateral));
    } else if (delivered >= 2) {
      /* Both answers reached us: the fault's own status. */
      cr_assert_eq(o->status, f->want,
                   "%s: %s, expected %s (peer delivered %u answers)", c->name,
                   fo_verify_status_name(o->status),
                   fo_verify_status_name(f->want), delivered);
      cr_assert_eq(o->rcode, f->rcode, "%s: rcode %d", c->name, o->rcode);
    } else if (delivered == 1 && f->answer_problem) {
      /* One answer in (itself a problem), the other lost: whichever came
       * first is the round's problem. */
      cr_assert(o->status == f->want || o->status == b->collateral,
                "%s: %s with 1 answer delivered", c->name,
                fo_verify_status_name(o->status));
      t->collateral++;
    } else {
      /* An answer never handed over: its connections were all killed by
       * other checks' faults (tries exhausted). */
      cr_assert_eq(o->status, b->collateral,
                   "%s: %s with %u answers delivered, expected %s", c->name,
                   fo_verify_status_name(o->status), delivered,
                   fo_verify_status_name(b->collateral));
      t->collateral++;
    }
  }
}

static void tally_log(const burst *b, const tally *t, double ms) {
  cr_log_info("%s: %zu checks in %.0f ms: match %zu, timeout %zu, closed %zu, "
              "malformed %zu, refused %zu, other-rcode %zu, servfail %zu, "
              "nxdomain %zu, too-large %zu; %zu lost to other checks' faults; "
              "peer: %u queries, %u connections",
              b->label, b->n, ms, t->by_status[M], t->by_status[T_OUT],
              t->by_status[FO_VERIFY_CLOSED], t->by_status[FO_VERIFY_MALFORMED],
              t->by_status[FO_VERIFY_REFUSED],
              t->by_status[FO_VERIFY_OTHER_RCODE],
              t->by_status[FO_VERIFY_SERVFAIL],
              t->by_status[FO_VERIFY_NXDOMAIN],
              t->by_status[FO_VERIFY_TOO_LARGE], t->collateral,
              ft_fault_peer_queries(b->peer),
              ft_fault_peer_connections(b->peer));
}

/* Every status a pool can give was seen at least once (over TCP, where
 * other checks' faults decide how many answers get through, the answered
 * kind and the failed kind). */
static void tally_covers(const burst *b, const tally *t, const bfault *pool,
                         size_t n) {
  if (b->tcp) {
    cr_assert(t->by_status[M] > 0, "%s: nothing matched", b->label);
    cr_assert(t->by_status[b->collateral] > 0, "%s: no %s", b->label,
              fo_verify_status_name(b->collateral));
    return;
  }
  for (size_t i = 0; i < n; i++)
    cr_assert(t->by_status[pool[i].want] > 0, "%s: no %s in the burst",
              b->label, fo_verify_status_name(pool[i].want));
}

static size_t burst_size(size_t full, size_t under_valgrind) {
  return slow() ? under_valgrind : full;
}

#define MAX_IN_FLIGHT 200
#define WINDOW 400 /* checks started and not called back: 800 queries */

/* One verifier, one burst; `pool` decides the mix. */
static void run_burst(const char *label, int tcp, const bfault *pool,
                      size_t pool_len, size_t n, uint32_t t, uint32_t tries,
                      fo_verify_status collateral, uint64_t seed) {
  const fo_allocator *alloc = fence_init();
  ft_fault_peer *peer = ft_fault_peer_start();
  cr_assert_not_null(peer);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier *v = new_verifier(&loop, alloc, ft_fault_peer_port(peer), t,
                                tries, tcp, MAX_IN_FLIGHT);
  burst b;
  burst_init(&b, label, v, peer, tcp, pool, pool_len, n, 0, WINDOW, seed);
  b.collateral = collateral;
  uint64_t t0 = uv_hrtime();
  burst_start(&b);
  watchdog wd;
  watchdog_start(&loop, &wd, 120000);
  run_until(&loop, &wd, &b.done, (int)n);
  cr_assert(!wd.fired, "%s: %d of %zu callbacks after 120 s", label, b.done,
            n);
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  tally tl;
  burst_verify(&b, &tl);
  tally_log(&b, &tl, ms);
  tally_covers(&b, &tl, pool, pool_len);
  close_all(&loop, &v, 1, &wd);
  ft_fault_peer_stop(peer);
  free(b.c);
}

Test(verify_faults, burst_udp) {
  run_burst("udp burst", 0, udp_pool, N(udp_pool), burst_size(3000, 300),
            scaled(200), 2, FO_VERIFY_CLOSED, 0x5EED01);
}

Test(verify_faults, burst_tcp) {
  run_burst("tcp burst", 1, tcp_pool, N(tcp_pool), burst_size(3000, 300),
            scaled(300), 3, FO_VERIFY_CLOSED, 0x5EED02);
}

/* Garbage kills a connection: the other queries on it fail MALFORMED,
 * like the garbage check itself. */
Test(verify_faults, burst_tcp_garbage) {
  run_burst("tcp garbage burst", 1, garbage_pool, N(garbage_pool),
            burst_size(600, 100), scaled(300), 3, FO_VERIFY_MALFORMED,
            0x5EED03);
}

/* Two verifiers on one loop to the same peer: one over UDP, one over TCP
 * with connections dying all the time. Every UDP check gets exactly the
 * status of its fault. */
Test(verify_faults, burst_mixed_udp_and_tcp) {
  const fo_allocator *alloc = fence_init();
  ft_fault_peer *peer = ft_fault_peer_start();
  cr_assert_not_null(peer);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  int port = ft_fault_peer_port(peer);
  fo_verifier *v[2];
  v[0] = new_verifier(&loop, alloc, port, scaled(200), 2, 0, MAX_IN_FLIGHT);
  v[1] = new_verifier(&loop, alloc, port, scaled(300), 3, 1, MAX_IN_FLIGHT);
  size_t n = burst_size(2000, 200);
  burst b[2];
  burst_init(&b[0], "mixed: udp", v[0], peer, 0, udp_pool, N(udp_pool), n, 0,
             WINDOW, 0x5EED04);
  burst_init(&b[1], "mixed: tcp", v[1], peer, 1, tcp_pool, N(tcp_pool), n,
             (unsigned)n, WINDOW, 0x5EED05);
  uint64_t t0 = uv_hrtime();
  burst_start(&b[0]);
  burst_start(&b[1]);
  watchdog wd;
  watchdog_start(&loop, &wd, 120000);
  uv_timer_t tick;
  tick_start(&loop, &tick);
  while ((b[0].done < (int)n || b[1].done < (int)n) && !wd.fired)
    uv_run(&loop, UV_RUN_ONCE);
  tick_stop(&loop, &tick);
  cr_assert(!wd.fired, "callbacks after 120 s: udp %d, tcp %d of %zu",
            b[0].done, b[1].done, n);
  double ms = (double)(uv_hrtime() - t0) / 1e6;
  for (int k = 0; k < 2; k++) {
    tally tl;
    burst_verify(&b[k], &tl);
    tally_log(&b[k], &tl, ms);
    if (k == 1)
      cr_assert_gt(tl.by_status[FO_VERIFY_CLOSED], 0, "no TCP trouble");
  }
  close_all(&loop, v, 2, &wd);
  ft_fault_peer_stop(peer);
  free(b[0].c);
  free(b[1].c);
}

/* ---- TCP trouble on a UDP verifier's own transport ---------------------- */

/* A UDP verifier falls back to TCP for a truncated answer; here the peer
 * resets that connection ("plan": TC over UDP, then reset over TCP) while
 * a hundred UDP checks are in flight on the same verifier. The fallback
 * check fails CLOSED (its two tries are used: UDP, then TCP); no UDP check
 * notices. */
Test(verify_faults, tcp_reset_on_fallback_spares_udp) {
  const fo_allocator *alloc = fence_init();
  ft_fault_peer *peer = ft_fault_peer_start();
  cr_assert_not_null(peer);
  uv_loop_t loop;
  cr_assert_eq(uv_loop_init(&loop), 0);
  fo_verifier *v = new_verifier(&loop, alloc, ft_fault_peer_port(peer),
                                scaled(1000), 2, 0, MAX_IN_FLIGHT);
  const size_t rounds = slow() ? 2 : 5, per = 100;
  ctx *c = calloc(rounds * (per + 1), sizeof *c);
  cr_assert_not_null(c);
  static const fcase plan_case = {"plan", 0, EXPECT_CNAME, FO_VERIFY_CLOSED,
                                  -1, 0, 0, 0, 1, 1};
  static const fcase ok_case = {"ok", 0, EXPECT_ADDR, M, 0, 1, 0, 0, 2, 0};
  static const ft_fault_step steps[] = {{FT_FAULT_TC, 0},
                                        {FT_FAULT_RESET, 0}};
  int done = 0;
  watchdog wd;
  watchdog_start(&loop, &wd, 50000);
  for (size_t r = 0; r < rounds; r++) {
    ft_fault_peer_plan(peer, steps, N(steps));
    int want = done + (int)per + 1;
    for (size_t i = 0; i <= per; i++) {
      size_t k = r * (per + 1) + i;
      ctx *x = &c[k];
      /* The plan check first: its TCP query meets the UDP ones. */
      x->fc = i == 0 ? &plan_case : &ok_case;
      x->o.done = &done;
      snprintf(x->name, sizeof x->name, "%s.q%zu.t", x->fc->fault, k);
      fo_expectation e = expectation(x->fc->expect);
      FT_OK(fo_verify_name(NULL, v, x->name, &e, NULL, fcase_cb, x));
    }
    run_until(&loop, &wd, &done, want);
    cr_assert(!wd.fired, "round %zu: %d callbacks", r, done);
  }
  for (size_t k = 0; k < rounds * (per + 1); k++)
    fcase_check(&c[k], scaled(1000), peer, (unsigned)k);
  cr_assert_eq(ft_fault_peer_connections(peer), rounds);
  close_all(&loop, &v, 1, &wd);
  ft_fault_peer_stop(peer);
  free(c);
}
