/*
 * verify_scenarios.c - see verify_scenarios.h.
 *
 * The zone (FT_DNS_DEFAULT_ZONE, which is also support.h's FT_ZONE):
 *
 *   www            60 CNAME web1.stack-a.<zone>.
 *   web1.stack-a   60 A     192.0.2.10
 *   web1.stack-b   60 A     192.0.2.11
 *   lb1.stack-b    60 A     192.0.2.12
 *   out            60 CNAME www.example.com.        (target outside the zone)
 *   txtonly        60 TXT   "hello"
 *   dangling       60 CNAME nowhere.<zone>.         (nowhere does not exist)
 *   hop1           60 CNAME hop2.<zone>.
 *   hop2          120 CNAME hop3.<zone>.
 *   hop3          300 A     192.0.2.33
 *   MiXeD          60 CNAME Web1.Stack-A.<zone>.
 *   dual           60 A     192.0.2.20
 *   dual           60 AAAA  2001:db8::20
 *   conv, sec      60 CNAME web1.stack-a.<zone>.    (changed by their tests)
 *   bulk0..1999    60 CNAME web1.stack-a.<zone>.
 *
 * Tests run in parallel workers against the same servers: a test that
 * changes records owns its names (conv, sec, the group's random address).
 */
#define _GNU_SOURCE
#include "verify_scenarios.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <criterion/logging.h>

#include <failover.h>
#include <failover/verify.h>

#include "dns_peer.h"
#include "support.h"

#define Z FT_DNS_DEFAULT_ZONE
#define BULK 2000

/* ---- servers (runner process) ------------------------------------------------ */

static ft_dns_server vs_primary, vs_secondary;
static int vs_started;

void ft_vs_servers_start(ft_dns_kind kind) {
  if (getenv("FT_DNS_P_PORT"))
    return; /* a worker, or servers provided from outside */
  static const char *const records[] = {
      "www 60 CNAME web1.stack-a." Z ".",
      "web1.stack-a 60 A 192.0.2.10",
      "web1.stack-b 60 A 192.0.2.11",
      "lb1.stack-b 60 A 192.0.2.12",
      "out 60 CNAME www.example.com.",
      "txtonly 60 TXT \"hello\"",
      "dangling 60 CNAME nowhere." Z ".",
      "hop1 60 CNAME hop2." Z ".",
      "hop2 120 CNAME hop3." Z ".",
      "hop3 300 A 192.0.2.33",
      "MiXeD 60 CNAME Web1.Stack-A." Z ".",
      "dual 60 A 192.0.2.20",
      "dual 60 AAAA 2001:db8::20",
      "conv 60 CNAME web1.stack-a." Z ".",
      "sec 60 CNAME web1.stack-a." Z ".",
      NULL};
  size_t cap = (size_t)BULK * 64 + 1;
  char *bulk = malloc(cap);
  size_t len = 0;
  if (bulk) {
    bulk[0] = '\0';
    for (int i = 0; i < BULK; i++)
      len += (size_t)snprintf(bulk + len, cap - len,
                              "bulk%d 60 CNAME web1.stack-a." Z ".\n", i);
  }
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  cfg.records = records;
  cfg.records_text = bulk;
  int rc = ft_dns_start_pair(&vs_primary, &vs_secondary, kind, &cfg);
  free(bulk);
  if (rc != 0) {
    fprintf(stderr, "verify scenarios: cannot start %s: %s\n",
            kind == FT_DNS_KNOT ? "knotd" : "named", vs_primary.error);
    setenv("FT_VS_ERROR", vs_primary.error, 1);
    return;
  }
  vs_started = 1;
  ft_dns_export(&vs_primary, "P");
  ft_dns_export(&vs_secondary, "S");
}

void ft_vs_servers_stop(void) {
  if (!vs_started)
    return;
  vs_started = 0;
  ft_dns_signal_stop(&vs_secondary);
  ft_dns_signal_stop(&vs_primary);
  ft_dns_stop(&vs_secondary);
  ft_dns_stop(&vs_primary);
}

/* In a worker: the servers the runner started. */
static void vs_env(ft_dns_kind kind, ft_dns_server *p, ft_dns_server *s) {
  const char *err = getenv("FT_VS_ERROR");
  cr_assert(err == NULL, "the DNS servers did not start: %s", err);
  cr_assert(ft_dns_import(p, "P") == 0 && ft_dns_import(s, "S") == 0,
            "FT_DNS_P_* / FT_DNS_S_* not in the environment: servers not "
            "started by ReportHook(PRE_ALL)?");
  cr_assert_eq(p->kind, kind);
}

/* ---- loop, verifier, results ----------------------------------------------------- */

#define VS_MAX_SERVERS 4
#define VS_MAX_CHAIN 8
#define VS_MAX_ADDRS 8

typedef struct vs_loop {
  uv_loop_t loop;
  fo_verifier *v;
  uv_timer_t watchdog;
  int watchdog_fired;
  int closed_calls;
  size_t server_count;
  char servers[VS_MAX_SERVERS][80];
} vs_loop;

typedef struct vs_answer {
  char server[80];
  fo_verify_status status;
  int rcode, authoritative;
  size_t chain_length;
  char chain[VS_MAX_CHAIN][256];
  uint32_t chain_ttls[VS_MAX_CHAIN];
  size_t address_count;
  char addresses[VS_MAX_ADDRS][64];
  uint32_t ttl;
  double rtt_ms, first_match_ms;
  uint32_t rounds;
} vs_answer;

typedef struct vs_result {
  vs_loop *L;
  int *counter;  /* incremented by every callback */
  int calls;
  int light;     /* only count, do not copy answers */
  int error;
  fo_verify_status status;
  double elapsed_ms, converged_ms;
  char name[256];
  size_t server_count;
  vs_answer servers[VS_MAX_SERVERS];
  /* Optional hook run inside the callback (after the copy). */
  void (*hook)(struct vs_result *r, void *arg);
  void *hook_arg;
} vs_result;

static int vs_in_start; /* set around fo_verify_name/group calls */

static const char *st(fo_verify_status s) { return fo_verify_status_name(s); }

static void vs_watchdog_cb(uv_timer_t *t) {
  vs_loop *L = t->data;
  L->watchdog_fired = 1;
  uv_stop(&L->loop);
}

static void vs_options(fo_verifier_options *o) {
  cr_assert_eq(fo_verifier_options_init(o, FO_VERIFIER_OPTIONS_VERSION), 0);
}

/* Open a loop and a verifier on `servers` with options `base` (servers are
 * filled in here; NULL base: defaults with timeout 1000 ms, 2 tries). */
static void vs_open(vs_loop *L, const char *const *servers, size_t n,
                    const fo_verifier_options *base) {
  memset(L, 0, sizeof *L);
  cr_assert(n >= 1 && n <= VS_MAX_SERVERS);
  cr_assert_eq(uv_loop_init(&L->loop), 0);
  uv_timer_init(&L->loop, &L->watchdog);
  L->watchdog.data = L;
  fo_verifier_options o;
  if (base)
    o = *base;
  else
    vs_options(&o);
  o.servers = servers;
  o.server_count = n;
  L->server_count = n;
  for (size_t i = 0; i < n; i++)
    snprintf(L->servers[i], sizeof L->servers[i], "%s", servers[i]);
  int rc = fo_verifier_new(&L->v, &L->loop, &o);
  cr_assert_eq(rc, 0, "fo_verifier_new: %s", fo_err_name(rc));
  cr_assert_not_null(L->v);
}

/* Run the loop until *count >= target; fails after `ms`. */
static void vs_run_until(vs_loop *L, const int *count, int target, int ms) {
  L->watchdog_fired = 0;
  uv_timer_start(&L->watchdog, vs_watchdog_cb, (uint64_t)ms, 0);
  while (*count < target) {
    int alive = uv_run(&L->loop, UV_RUN_ONCE);
    cr_assert(!L->watchdog_fired,
              "only %d of %d callbacks after %d ms", *count, target, ms);
    cr_assert(alive || *count >= target,
              "the loop ran out of work with %d of %d callbacks", *count,
              target);
  }
  uv_timer_stop(&L->watchdog);
}

static void vs_closed_cb(void *userdata) {
  vs_loop *L = userdata;
  L->closed_calls++;
}

static void vs_walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  cr_log_error("handle left open: %s (active %d, closing %d)",
               uv_handle_type_name(uv_handle_get_type(h)), uv_is_active(h),
               uv_is_closing(h));
}

/* Close the verifier, wait for its closed callback, and close the loop:
 * nothing may be left. */
static void vs_close(vs_loop *L) {
  fo_verifier_close(L->v, vs_closed_cb, L);
  L->v = NULL;
  vs_run_until(L, &L->closed_calls, 1, 10000);
  uv_close((uv_handle_t *)&L->watchdog, NULL);
  uv_run(&L->loop, UV_RUN_DEFAULT);
  cr_assert_eq(L->closed_calls, 1, "closed callback ran %d times",
               L->closed_calls);
  int rc = uv_loop_close(&L->loop);
  if (rc != 0)
    uv_walk(&L->loop, vs_walk_cb, NULL);
  cr_assert_eq(rc, 0, "uv_loop_close: %s (handles left by the verifier)",
               uv_err_name(rc));
}

static int is_lower(const char *s) {
  for (; *s; s++)
    if (isupper((unsigned char)*s))
      return 0;
  return 1;
}

static int is_ip(const char *s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* What every result must satisfy. */
static void vs_invariants(const fo_verify_result *r, const vs_loop *L) {
  cr_assert(!vs_in_start,
            "callback fired from inside the call that started the check");
  cr_assert_not_null(r);
  cr_assert_not_null(r->name);
  cr_assert(is_lower(r->name), "result name not lowercase: %s", r->name);
  cr_assert(r->error == 0 || r->error == FO_ETIMEDOUT ||
                r->error == FO_ECANCELED,
            "result error %s", fo_err_name(r->error));
  cr_assert_eq(r->server_count, L->server_count);
  cr_assert_not_null(fo_verify_result_server(r, 0));
  cr_assert_null(fo_verify_result_server(r, r->server_count));
  cr_assert(r->elapsed_ms >= 0.0, "elapsed %f", r->elapsed_ms);
  const fo_server_answer *first_bad = NULL;
  for (size_t i = 0; i < r->server_count; i++) {
    const fo_server_answer *a = fo_verify_result_server(r, i);
    cr_assert_not_null(a->server);
    cr_assert_str_eq(a->server, L->servers[i], "servers out of option order");
    if (a->status != FO_VERIFY_MATCH && !first_bad)
      first_bad = a;
    if (a->chain_length > 0) {
      cr_assert_not_null(a->chain);
      cr_assert_not_null(a->chain[0]);
      cr_assert(strcasecmp(a->chain[0], r->name) == 0,
                "chain[0] %s is not the name asked %s", a->chain[0], r->name);
      for (size_t j = 0; j < a->chain_length; j++)
        cr_assert_not_null(a->chain[j]);
    }
    if (a->chain_length > 1)
      cr_assert_not_null(a->chain_ttls);
    if (a->address_count > 0) {
      cr_assert_not_null(a->addresses);
      for (size_t j = 0; j < a->address_count; j++)
        cr_assert(is_ip(a->addresses[j]), "address %s", a->addresses[j]);
    }
    cr_assert(a->first_match_ms == -1.0 ||
                  (a->first_match_ms >= 0.0 &&
                   a->first_match_ms <= r->elapsed_ms + 1.0),
              "first_match_ms %f (elapsed %f)", a->first_match_ms,
              r->elapsed_ms);
    if (a->status == FO_VERIFY_MATCH)
      cr_assert(a->first_match_ms >= 0.0, "a match with first_match_ms %f",
                a->first_match_ms);
    cr_assert(a->rcode >= -1 && a->rcode <= 4095, "rcode %d", a->rcode);
    if (r->error != FO_ECANCELED)
      cr_assert(a->rounds >= 1, "server %s asked %u times", a->server,
                a->rounds);
  }
  if (first_bad)
    cr_assert_eq(r->status, first_bad->status,
                 "result status %s, first non-matching server %s says %s",
                 st(r->status), first_bad->server, st(first_bad->status));
  else
    cr_assert_eq(r->status, FO_VERIFY_MATCH, "all servers match, status %s",
                 st(r->status));
  if (r->error == 0)
    cr_assert_neq(r->status, FO_VERIFY_PENDING);
  if (r->error == 0 && r->status == FO_VERIFY_MATCH)
    cr_assert(r->converged_ms >= 0.0 && r->converged_ms <= r->elapsed_ms + 1.0,
              "converged_ms %f", r->converged_ms);
  if (r->status != FO_VERIFY_MATCH)
    cr_assert(r->converged_ms == -1.0, "no match but converged_ms %f",
              r->converged_ms);
}

static void vs_cb(const fo_verify_result *r, void *userdata) {
  vs_result *out = userdata;
  vs_invariants(r, out->L);
  out->calls++;
  if (out->counter)
    (*out->counter)++;
  cr_assert_eq(out->calls, 1, "callback of %s fired %d times", r->name,
               out->calls);
  out->error = r->error;
  out->status = r->status;
  out->elapsed_ms = r->elapsed_ms;
  out->converged_ms = r->converged_ms;
  out->server_count = r->server_count;
  if (!out->light) {
    snprintf(out->name, sizeof out->name, "%s", r->name);
    for (size_t i = 0; i < r->server_count && i < VS_MAX_SERVERS; i++) {
      const fo_server_answer *a = fo_verify_result_server(r, i);
      vs_answer *c = &out->servers[i];
      snprintf(c->server, sizeof c->server, "%s", a->server);
      c->status = a->status;
      c->rcode = a->rcode;
      c->authoritative = a->authoritative;
      c->chain_length = a->chain_length;
      for (size_t j = 0; j < a->chain_length && j < VS_MAX_CHAIN; j++) {
        snprintf(c->chain[j], sizeof c->chain[j], "%s", a->chain[j]);
        if (j + 1 < a->chain_length)
          c->chain_ttls[j] = a->chain_ttls[j];
      }
      c->address_count = a->address_count;
      for (size_t j = 0; j < a->address_count && j < VS_MAX_ADDRS; j++)
        snprintf(c->addresses[j], sizeof c->addresses[j], "%s",
                 a->addresses[j]);
      c->ttl = a->ttl;
      c->rtt_ms = a->rtt_ms;
      c->first_match_ms = a->first_match_ms;
      c->rounds = a->rounds;
    }
  }
  if (out->hook)
    out->hook(out, out->hook_arg);
}

static fo_check *vs_start(vs_loop *L, const char *name,
                          const fo_expectation *e,
                          const fo_verify_params *p, vs_result *res,
                          int *counter) {
  res->L = L;
  res->counter = counter;
  fo_check *check = NULL;
  vs_in_start = 1;
  int rc = fo_verify_name(&check, L->v, name, e, p, vs_cb, res);
  vs_in_start = 0;
  cr_assert_eq(rc, 0, "fo_verify_name(%s): %s", name, fo_err_name(rc));
  cr_assert_not_null(check);
  return check;
}

static fo_expectation vs_cname(const char *target) {
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_CNAME, target, NULL, 0};
  return e;
}

static fo_expectation vs_addrs(const char *const *a, size_t n) {
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_ADDRESSES, NULL, a, n};
  return e;
}

static fo_expectation vs_none(void) {
  fo_expectation e = {FO_EXPECTATION_VERSION, FO_EXPECT_NONE, NULL, NULL, 0};
  return e;
}

/* One check, one round, on `servers`: the whole loop life cycle. */
static void vs_once_opts(const char *const *servers, size_t n,
                         const fo_verifier_options *opts, const char *name,
                         fo_expectation e, vs_result *out) {
  memset(out, 0, sizeof *out);
  vs_loop L;
  vs_open(&L, servers, n, opts);
  int count = 0;
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  vs_start(&L, name, &e, &p, out, &count);
  vs_run_until(&L, &count, 1, 20000);
  vs_close(&L);
  cr_assert_eq(out->calls, 1);
  out->L = NULL;
}

static void vs_once(const char *server, const char *name, fo_expectation e,
                    vs_result *out) {
  const char *servers[] = {server};
  vs_once_opts(servers, 1, NULL, name, e, out);
}

#define VS_STATUS(res, want)                                                   \
  cr_assert_eq((res)->status, (want), "%s: status %s, expected %s",           \
               (res)->name, st((res)->status), st(want))

static void vs_expect_chain(const vs_answer *a, size_t n,
                            const char *const *names) {
  cr_assert_eq(a->chain_length, n, "chain length %zu, expected %zu",
               a->chain_length, n);
  for (size_t i = 0; i < n; i++)
    cr_assert(strcasecmp(a->chain[i], names[i]) == 0,
              "chain[%zu] = %s, expected %s", i, a->chain[i], names[i]);
}

/* ---- scenarios -------------------------------------------------------------- */

void ft_vs_match_cname(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  vs_once(p.addr4, "www." Z, vs_cname("web1.stack-a." Z), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_eq(r.error, 0);
  cr_assert_str_eq(r.name, "www." Z);
  const vs_answer *a = &r.servers[0];
  cr_assert_eq(a->rcode, 0);
  cr_assert_eq(a->authoritative, 1, "AA bit not reported");
  cr_assert_geq(a->chain_length, 2);
  cr_assert(strcasecmp(a->chain[1], "web1.stack-a." Z) == 0, "chain[1] %s",
            a->chain[1]);
  cr_assert_eq(a->chain_ttls[0], 60);
  cr_assert_eq(a->ttl, 60);
  cr_assert_eq(a->rounds, 1);
  cr_assert(a->rtt_ms > 0.0, "rtt %f", a->rtt_ms);
  cr_assert(a->first_match_ms >= 0.0);
  /* The trailing dot is allowed on both the name and the target. */
  vs_once(p.addr4, "www." Z ".", vs_cname("web1.stack-a." Z "."), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_str_eq(r.name, "www." Z);
}

void ft_vs_match_out_of_zone_target(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  /* The server answers with the CNAME alone (it is not authoritative for
   * example.com): the chain ends there. */
  vs_once(p.addr4, "out." Z, vs_cname("www.example.com"), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  const char *chain[] = {"out." Z, "www.example.com"};
  vs_expect_chain(&r.servers[0], 2, chain);
  cr_assert_eq(r.servers[0].address_count, 0);
  vs_once(p.addr4, "out." Z, vs_cname("www.example.org"), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
}

void ft_vs_mismatch(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  vs_once(p.addr4, "www." Z, vs_cname("web1.stack-b." Z), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
  cr_assert_eq(r.error, 0, "one round completes with error 0");
  cr_assert(strcasecmp(r.servers[0].chain[1], "web1.stack-a." Z) == 0,
            "the answer seen is reported: chain[1] = %s",
            r.servers[0].chain[1]);
  cr_assert_eq(r.servers[0].first_match_ms, -1.0);
  cr_assert_eq(r.converged_ms, -1.0);
  /* Addresses expected where a CNAME is. */
  const char *a[] = {"192.0.2.10"};
  vs_once(p.addr4, "www." Z, vs_addrs(a, 1), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
  /* A CNAME expected where addresses are. */
  vs_once(p.addr4, "web1.stack-a." Z, vs_cname("www." Z), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
}

void ft_vs_nxdomain(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  vs_once(p.addr4, "missing." Z, vs_cname("web1.stack-a." Z), &r);
  VS_STATUS(&r, FO_VERIFY_NXDOMAIN);
  cr_assert_eq(r.servers[0].rcode, 3);
  cr_assert_eq(r.servers[0].authoritative, 1);
  cr_assert_eq(r.servers[0].address_count, 0);
  /* Negative answer: the SOA minimum (60) when known, else 0. */
  cr_assert(r.servers[0].ttl == 60 || r.servers[0].ttl == 0, "ttl %u",
            r.servers[0].ttl);
  const char *a[] = {"192.0.2.10"};
  vs_once(p.addr4, "missing." Z, vs_addrs(a, 1), &r);
  VS_STATUS(&r, FO_VERIFY_NXDOMAIN);
}

void ft_vs_nodata(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  const char *a[] = {"192.0.2.10"};
  vs_once(p.addr4, "txtonly." Z, vs_addrs(a, 1), &r);
  VS_STATUS(&r, FO_VERIFY_NODATA);
  cr_assert_eq(r.servers[0].rcode, 0);
  cr_assert_eq(r.servers[0].address_count, 0);
  vs_once(p.addr4, "txtonly." Z, vs_cname("web1.stack-a." Z), &r);
  VS_STATUS(&r, FO_VERIFY_NODATA);
  /* The zone apex has SOA/NS but no A. */
  vs_once(p.addr4, Z, vs_addrs(a, 1), &r);
  VS_STATUS(&r, FO_VERIFY_NODATA);
}

void ft_vs_dangling(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  /* Both servers answer CNAME + RCODE NXDOMAIN (RFC 6604). */
  const char *a[] = {"192.0.2.10"};
  vs_once(p.addr4, "dangling." Z, vs_addrs(a, 1), &r);
  VS_STATUS(&r, FO_VERIFY_DANGLING);
  const char *chain[] = {"dangling." Z, "nowhere." Z};
  vs_expect_chain(&r.servers[0], 2, chain);
  cr_assert_eq(r.servers[0].address_count, 0);
  /* Even when the CNAME itself is the one expected, the name leads
   * nowhere: dangling, not a match (the library's reading of the header;
   * see the report). */
  vs_once(p.addr4, "dangling." Z, vs_cname("nowhere." Z), &r);
  VS_STATUS(&r, FO_VERIFY_DANGLING);
}

void ft_vs_two_hop_chain(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  vs_once(p.addr4, "hop1." Z, vs_cname("hop2." Z), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  const vs_answer *a = &r.servers[0];
  const char *chain[] = {"hop1." Z, "hop2." Z, "hop3." Z};
  vs_expect_chain(a, 3, chain);
  cr_assert_eq(a->chain_ttls[0], 60, "hop 0 ttl %u", a->chain_ttls[0]);
  cr_assert_eq(a->chain_ttls[1], 120, "hop 1 ttl %u", a->chain_ttls[1]);
  cr_assert_eq(a->address_count, 1);
  cr_assert_str_eq(a->addresses[0], "192.0.2.33");
  cr_assert_eq(a->ttl, 60, "ttl of the name's own record: %u", a->ttl);
  /* The expectation is about the first hop only. */
  vs_once(p.addr4, "hop1." Z, vs_cname("hop3." Z), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
  vs_expect_chain(&r.servers[0], 3, chain);
  vs_once(p.addr4, "hop2." Z, vs_cname("hop3." Z), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_eq(r.servers[0].ttl, 120);
}

void ft_vs_mixed_case(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  /* Record written in mixed case, expectation in another mix. */
  vs_once(p.addr4, "mixed." Z, vs_cname("WEB1.stack-a.FAILOVER.example.net"),
          &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  vs_once(p.addr4, "MIXED.Failover.Example.NET", vs_cname("web1.stack-a." Z),
          &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_str_eq(r.name, "mixed." Z, "the name is reported lowercase");
  vs_once(p.addr4, "WWW.failover.EXAMPLE.net",
          vs_cname("Web1.Stack-A.Failover.Example.Net."), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_str_eq(r.name, "www." Z);
}

void ft_vs_addresses(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  const char *both[] = {"2001:db8::20", "192.0.2.20"};
  vs_once(p.addr4, "dual." Z, vs_addrs(both, 2), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  const vs_answer *a = &r.servers[0];
  cr_assert_eq(a->chain_length, 1);
  cr_assert_eq(a->address_count, 2);
  cr_assert_str_eq(a->addresses[0], "192.0.2.20", "A first");
  cr_assert_str_eq(a->addresses[1], "2001:db8::20", "then AAAA");
  cr_assert_eq(a->ttl, 60);
  /* A subset is not the set. */
  const char *v4[] = {"192.0.2.20"};
  vs_once(p.addr4, "dual." Z, vs_addrs(v4, 1), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
  const char *v6[] = {"2001:db8::20"};
  vs_once(p.addr4, "dual." Z, vs_addrs(v6, 1), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
  /* A superset neither. */
  const char *three[] = {"192.0.2.20", "2001:db8::20", "192.0.2.21"};
  vs_once(p.addr4, "dual." Z, vs_addrs(three, 3), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
  /* Non-canonical IPv6 spelling and duplicates still name the same set. */
  const char *odd[] = {"192.0.2.20", "2001:DB8:0:0::20", "192.0.2.20"};
  vs_once(p.addr4, "dual." Z, vs_addrs(odd, 3), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  /* An IPv4-only name. */
  const char *one[] = {"192.0.2.10"};
  vs_once(p.addr4, "web1.stack-a." Z, vs_addrs(one, 1), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_eq(r.servers[0].address_count, 1);
  const char *wrong[] = {"192.0.2.99"};
  vs_once(p.addr4, "web1.stack-a." Z, vs_addrs(wrong, 1), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
}

void ft_vs_expect_none(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  vs_once(p.addr4, "missing." Z, vs_none(), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_eq(r.error, 0);
  /* A name with only a TXT record has no CNAME/A/AAAA. */
  vs_once(p.addr4, "txtonly." Z, vs_none(), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  vs_once(p.addr4, "www." Z, vs_none(), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
  vs_once(p.addr4, "dual." Z, vs_none(), &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
}

void ft_vs_unreachable(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  int port = ft_dns_unused_port();
  cr_assert_gt(port, 0);
  char server[64];
  snprintf(server, sizeof server, "127.0.0.1:%d", port);
  vs_result r;
  vs_once(server, "www." Z, vs_cname("web1.stack-a." Z), &r);
  VS_STATUS(&r, FO_VERIFY_UNREACHABLE);
  cr_assert_eq(r.error, 0);
  cr_assert_eq(r.servers[0].rcode, -1);
  cr_assert_eq(r.servers[0].first_match_ms, -1.0);
}

void ft_vs_silent_timeout(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  ft_dns_peer peer;
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_SILENT), 0);
  fo_verifier_options o;
  vs_options(&o);
  o.timeout_ms = 200;
  o.tries = 1;
  const char *servers[] = {peer.addr};
  vs_result r;
  vs_once_opts(servers, 1, &o, "www." Z, vs_cname("web1.stack-a." Z), &r);
  VS_STATUS(&r, FO_VERIFY_TIMEOUT);
  cr_assert_eq(r.error, 0);
  cr_assert_eq(r.servers[0].rcode, -1);
  cr_assert_geq(ft_dns_peer_queries(&peer), 1);
  /* tries = 3: the server is asked three times (per query type). */
  unsigned before = ft_dns_peer_queries(&peer);
  o.timeout_ms = 100;
  o.tries = 3;
  vs_once_opts(servers, 1, &o, "www." Z, vs_cname("web1.stack-a." Z), &r);
  VS_STATUS(&r, FO_VERIFY_TIMEOUT);
  cr_assert_geq(ft_dns_peer_queries(&peer) - before, 3,
                "tries = 3 sent %u queries", ft_dns_peer_queries(&peer) - before);
  ft_dns_peer_stop(&peer);
}

void ft_vs_refused_zone_not_served(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_result r;
  /* Knot and BIND (recursion no) both answer REFUSED here. */
  vs_once(p.addr4, "www.not-served.example.org",
          vs_cname("web1.stack-a." Z), &r);
  VS_STATUS(&r, FO_VERIFY_REFUSED);
  cr_assert(r.servers[0].rcode == 5 || r.servers[0].rcode == 9, "rcode %d",
            r.servers[0].rcode);
}

static void vs_peer_once(ft_dns_peer_mode mode, int rcode,
                         const fo_verifier_options *o, fo_verify_status want,
                         int want_rcode) {
  ft_dns_peer peer;
  peer.rcode = rcode;
  cr_assert_eq(ft_dns_peer_start(&peer, mode), 0);
  const char *servers[] = {peer.addr};
  vs_result r;
  vs_once_opts(servers, 1, o, "www." Z, vs_cname("web1.stack-a." Z), &r);
  unsigned queries = ft_dns_peer_queries(&peer);
  ft_dns_peer_stop(&peer);
  cr_assert_eq(r.status, want, "peer mode %d rcode %d: status %s, expected %s",
               (int)mode, rcode, st(r.status), st(want));
  cr_assert_eq(r.error, 0);
  cr_assert_geq(queries, 1);
  if (want_rcode != -2)
    cr_assert_eq(r.servers[0].rcode, want_rcode,
                 "peer mode %d rcode %d: rcode %d, expected %d", (int)mode,
                 rcode, r.servers[0].rcode, want_rcode);
}

void ft_vs_malformed_replies(ft_dns_kind kind) {
  (void)kind; /* fake peers only */
  fo_verifier_options o;
  vs_options(&o);
  o.timeout_ms = 300;
  o.tries = 1;
  /* Right ID and question, broken answer section. */
  vs_peer_once(FT_PEER_TRUNCATED_RR, 0, &o, FO_VERIFY_MALFORMED, -2);
  vs_peer_once(FT_PEER_POINTER_LOOP, 0, &o, FO_VERIFY_MALFORMED, -2);
  vs_peer_once(FT_PEER_BAD_RDATA, 0, &o, FO_VERIFY_MALFORMED, -2);
  /* 70 addresses: more than the verifier reads; said so, not judged on the
   * first 64 (which would call a set that differs only beyond them a
   * match). */
  vs_peer_once(FT_PEER_MANY_ADDRESSES, 0, &o, FO_VERIFY_TOO_LARGE, 0);
}

void ft_vs_dropped_replies(ft_dns_kind kind) {
  (void)kind;
  fo_verifier_options o;
  vs_options(&o);
  o.timeout_ms = 200;
  o.tries = 1;
  /* Replies the transport discards (a wrong ID, shorter than a header):
   * the client sees nothing, so a timeout. */
  vs_peer_once(FT_PEER_GARBAGE, 0, &o, FO_VERIFY_TIMEOUT, -1);
  vs_peer_once(FT_PEER_SHORT, 0, &o, FO_VERIFY_TIMEOUT, -1);
  /* No question section: an error reply says what it is (NOTIMP, REFUSED,
   * FORMERR answers often have none; c-ares dropped them, which read as a
   * timeout); a NOERROR answer without its question is no answer. */
  vs_peer_once(FT_PEER_NO_QUESTION, 0, &o, FO_VERIFY_MALFORMED, -2);
  vs_peer_once(FT_PEER_NO_QUESTION, 4, &o, FO_VERIFY_OTHER_RCODE, 4);
  vs_peer_once(FT_PEER_NO_QUESTION, 5, &o, FO_VERIFY_REFUSED, 5);
  vs_peer_once(FT_PEER_NO_QUESTION, 1, &o, FO_VERIFY_OTHER_RCODE, 1);
}

void ft_vs_rcodes(ft_dns_kind kind) {
  (void)kind;
  fo_verifier_options o;
  vs_options(&o);
  o.timeout_ms = 300;
  o.tries = 1;
  vs_peer_once(FT_PEER_RCODE, 2, &o, FO_VERIFY_SERVFAIL, 2);
  vs_peer_once(FT_PEER_RCODE, 5, &o, FO_VERIFY_REFUSED, 5);
  vs_peer_once(FT_PEER_RCODE, 9, &o, FO_VERIFY_REFUSED, 9);
  vs_peer_once(FT_PEER_RCODE, 4, &o, FO_VERIFY_OTHER_RCODE, 4);
  vs_peer_once(FT_PEER_RCODE, 1, &o, FO_VERIFY_OTHER_RCODE, 1);
  /* With the default two tries a SERVFAIL stays a SERVFAIL. */
  o.tries = 2;
  vs_peer_once(FT_PEER_RCODE, 2, &o, FO_VERIFY_SERVFAIL, 2);
}

void ft_vs_recursion_flag(ft_dns_kind kind) {
  (void)kind;
  fo_verifier_options o;
  vs_options(&o);
  o.timeout_ms = 300;
  o.tries = 1;
  for (int rd = 0; rd <= 1; rd++) {
    ft_dns_peer peer;
    peer.rcode = 2;
    cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_RCODE), 0);
    o.recursion_desired = rd;
    const char *servers[] = {peer.addr};
    vs_result r;
    vs_once_opts(servers, 1, &o, "www." Z, vs_cname("web1.stack-a." Z), &r);
    int flags = atomic_load(&peer.last_flags);
    ft_dns_peer_stop(&peer);
    cr_assert_neq(flags, -1, "no query seen");
    cr_assert_eq((flags & 0x0100) != 0, rd, "RD bit %d, recursion_desired %d",
                 (flags & 0x0100) != 0, rd);
    cr_assert_eq((flags >> 11) & 0xF, 0, "opcode QUERY");
  }
}

void ft_vs_several_servers_order(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  ft_dns_peer peer;
  peer.rcode = 2;
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_RCODE), 0);
  fo_verifier_options o;
  vs_options(&o);
  o.timeout_ms = 300;
  o.tries = 1;
  vs_result r;
  const char *good_first[] = {p.addr4, peer.addr, s.addr4};
  vs_once_opts(good_first, 3, &o, "www." Z, vs_cname("web1.stack-a." Z), &r);
  cr_assert_eq(r.server_count, 3);
  cr_assert_eq(r.servers[0].status, FO_VERIFY_MATCH);
  cr_assert_eq(r.servers[1].status, FO_VERIFY_SERVFAIL);
  cr_assert_eq(r.servers[2].status, FO_VERIFY_MATCH);
  VS_STATUS(&r, FO_VERIFY_SERVFAIL);
  cr_assert_eq(r.converged_ms, -1.0);
  const char *bad_first[] = {peer.addr, p.addr4};
  vs_once_opts(bad_first, 2, &o, "missing." Z, vs_cname("web1.stack-a." Z),
               &r);
  VS_STATUS(&r, FO_VERIFY_SERVFAIL);
  cr_assert_eq(r.servers[1].status, FO_VERIFY_NXDOMAIN);
  /* Every server matches. */
  const char *both[] = {p.addr4, s.addr4};
  vs_once_opts(both, 2, &o, "www." Z, vs_cname("web1.stack-a." Z), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert(r.converged_ms >= 0.0);
  ft_dns_peer_stop(&peer);
}

/* ---- convergence ----------------------------------------------------------- */

typedef struct vs_updater {
  uv_timer_t timer;
  ft_dns_server *srv;
  const char *lines;
  vs_result *watch; /* must still be pending when the update runs */
  int done;
  int rc;
  char error[512];
} vs_updater;

static void vs_update_cb(uv_timer_t *t) {
  vs_updater *u = t->data;
  u->rc = ft_dns_update(u->srv, u->lines);
  if (u->rc != 0)
    snprintf(u->error, sizeof u->error, "%s", u->srv->error);
  u->done = 1;
  cr_assert_eq(u->watch->calls, 0,
               "the check finished before the record changed");
  uv_close((uv_handle_t *)&u->timer, NULL);
}

static void vs_updater_start(vs_updater *u, vs_loop *L, ft_dns_server *srv,
                             const char *lines, vs_result *watch,
                             uint64_t after_ms) {
  memset(u, 0, sizeof *u);
  u->srv = srv;
  u->lines = lines;
  u->watch = watch;
  uv_timer_init(&L->loop, &u->timer);
  u->timer.data = u;
  uv_timer_start(&u->timer, vs_update_cb, after_ms, 0);
}

void ft_vs_convergence(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_loop L;
  const char *servers[] = {p.addr4};
  vs_open(&L, servers, 1, NULL);
  fo_verify_params prm = FO_VERIFY_PARAMS_INIT;
  prm.until_ms = 10000;
  prm.interval_ms = 200;
  fo_expectation e = vs_cname("web1.stack-b." Z);
  vs_result r;
  memset(&r, 0, sizeof r);
  int count = 0;
  vs_start(&L, "conv." Z, &e, &prm, &r, &count);
  vs_updater u;
  vs_updater_start(&u, &L, &p,
                   "update delete conv CNAME\n"
                   "update add conv 60 CNAME web1.stack-b." Z ".\n",
                   &r, 500);
  vs_run_until(&L, &count, 1, 15000);
  cr_assert(u.done, "the update never ran");
  cr_assert_eq(u.rc, 0, "update failed: %s", u.error);
  vs_close(&L);
  cr_assert_eq(r.error, 0, "error %s", fo_err_name(r.error));
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert(r.servers[0].first_match_ms > 0.0, "first_match_ms %f",
            r.servers[0].first_match_ms);
  cr_assert(r.servers[0].first_match_ms >= 400.0,
            "matched at %f ms, before the update at 500 ms",
            r.servers[0].first_match_ms);
  cr_assert_geq(r.servers[0].rounds, 2);
  cr_assert(r.converged_ms >= r.servers[0].first_match_ms - 0.001,
            "converged %f, first match %f", r.converged_ms,
            r.servers[0].first_match_ms);
  cr_assert(r.elapsed_ms < 10000.0, "elapsed %f", r.elapsed_ms);
}

void ft_vs_deadline(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_loop L;
  const char *servers[] = {p.addr4};
  vs_open(&L, servers, 1, NULL);
  fo_verify_params prm = FO_VERIFY_PARAMS_INIT;
  prm.until_ms = 600;
  prm.interval_ms = 100;
  fo_expectation e = vs_cname("never.example.net");
  vs_result r;
  memset(&r, 0, sizeof r);
  int count = 0;
  vs_start(&L, "www." Z, &e, &prm, &r, &count);
  vs_run_until(&L, &count, 1, 10000);
  /* Give a second callback a chance to show up. */
  uv_timer_start(&L.watchdog, vs_watchdog_cb, 300, 0);
  uv_run(&L.loop, UV_RUN_DEFAULT);
  vs_close(&L);
  cr_assert_eq(r.calls, 1);
  cr_assert_eq(r.error, FO_ETIMEDOUT, "error %s", fo_err_name(r.error));
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
  cr_assert(r.elapsed_ms >= 590.0, "gave up after %f ms, until_ms 600",
            r.elapsed_ms);
  cr_assert_geq(r.servers[0].rounds, 2, "rounds %u", r.servers[0].rounds);
  cr_assert(strcasecmp(r.servers[0].chain[1], "web1.stack-a." Z) == 0,
            "the last answer is reported");
  cr_assert_eq(r.converged_ms, -1.0);
}

void ft_vs_primary_and_secondary(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_loop L;
  const char *servers[] = {p.addr4, s.addr4};
  vs_open(&L, servers, 2, NULL);
  fo_verify_params prm = FO_VERIFY_PARAMS_INIT;
  prm.until_ms = 10000;
  prm.interval_ms = 100;
  fo_expectation e = vs_cname("lb1.stack-b." Z);
  vs_result r;
  memset(&r, 0, sizeof r);
  int count = 0;
  vs_start(&L, "sec." Z, &e, &prm, &r, &count);
  /* Updated on the primary only; the secondary follows by NOTIFY + IXFR
   * (Knot: knotc zone-notify right after the update; BIND: notify-delay
   * 0). */
  vs_updater u;
  vs_updater_start(&u, &L, &p,
                   "update delete sec CNAME\n"
                   "update add sec 60 CNAME lb1.stack-b." Z ".\n",
                   &r, 300);
  vs_run_until(&L, &count, 1, 15000);
  cr_assert_eq(u.rc, 0, "update failed: %s", u.error);
  vs_close(&L);
  cr_assert_eq(r.error, 0, "error %s", fo_err_name(r.error));
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_eq(r.server_count, 2);
  double last = 0;
  for (int i = 0; i < 2; i++) {
    cr_assert_eq(r.servers[i].status, FO_VERIFY_MATCH);
    cr_assert(r.servers[i].first_match_ms >= 200.0, "server %d matched at %f",
              i, r.servers[i].first_match_ms);
    cr_assert_geq(r.servers[i].rounds, 2);
    if (r.servers[i].first_match_ms > last)
      last = r.servers[i].first_match_ms;
  }
  cr_assert(r.converged_ms >= last - 0.001,
            "converged at %f before the last server matched at %f",
            r.converged_ms, last);
}

void ft_vs_ipv6(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  cr_assert(p.ipv6 && p.addr6[0]);
  vs_result r;
  vs_once(p.addr6, "www." Z, vs_cname("web1.stack-a." Z), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_str_eq(r.servers[0].server, p.addr6);
  const char *both[] = {p.addr6, p.addr4};
  vs_once_opts(both, 2, NULL, "missing." Z, vs_none(), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
}

void ft_vs_tcp(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  fo_verifier_options o;
  vs_options(&o);
  o.use_tcp = 1;
  o.timeout_ms = 500;
  o.tries = 1;
  const char *servers[] = {p.addr4};
  vs_result r;
  vs_once_opts(servers, 1, &o, "hop1." Z, vs_cname("hop2." Z), &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_eq(r.servers[0].chain_length, 3);
  vs_once_opts(servers, 1, &o, "missing." Z, vs_cname("hop2." Z), &r);
  VS_STATUS(&r, FO_VERIFY_NXDOMAIN);
  /* The queries really go over TCP. */
  ft_dns_peer peer;
  peer.rcode = 2;
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_RCODE), 0);
  const char *ps[] = {peer.addr};
  vs_once_opts(ps, 1, &o, "www." Z, vs_cname("hop2." Z), &r);
  unsigned udp = atomic_load(&peer.udp_queries),
           tcp = atomic_load(&peer.tcp_queries);
  ft_dns_peer_stop(&peer);
  VS_STATUS(&r, FO_VERIFY_SERVFAIL);
  cr_assert_eq(udp, 0, "%u UDP queries with use_tcp", udp);
  cr_assert_geq(tcp, 1);
  /* A silent TCP peer: a timeout, not a hang. */
  cr_assert_eq(ft_dns_peer_start(&peer, FT_PEER_SILENT), 0);
  o.timeout_ms = 200;
  vs_once_opts(ps, 1, &o, "www." Z, vs_cname("hop2." Z), &r);
  ft_dns_peer_stop(&peer);
  VS_STATUS(&r, FO_VERIFY_TIMEOUT);
  /* Nothing listening on TCP: unreachable. */
  int port = ft_dns_unused_port();
  char server[64];
  snprintf(server, sizeof server, "127.0.0.1:%d", port);
  const char *none[] = {server};
  vs_once_opts(none, 1, &o, "www." Z, vs_cname("hop2." Z), &r);
  VS_STATUS(&r, FO_VERIFY_UNREACHABLE);
}

/* ---- groups from the model ----------------------------------------------------- */

static void vs_group_once(const char *server, const fo_group *g,
                          const fo_verify_params *prm, vs_result *out) {
  memset(out, 0, sizeof *out);
  vs_loop L;
  const char *servers[] = {server};
  vs_open(&L, servers, 1, NULL);
  int count = 0;
  out->L = &L;
  out->counter = &count;
  fo_check *check = NULL;
  vs_in_start = 1;
  int rc = fo_verify_group(&check, L.v, g, prm, vs_cb, out);
  vs_in_start = 0;
  cr_assert_eq(rc, 0, "fo_verify_group: %s", fo_err_name(rc));
  vs_run_until(&L, &count, 1, 15000);
  vs_close(&L);
}

void ft_vs_group(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *a = ft_stack(reg, "stack-a", 1, 0); /* head web1.stack-a */
  fo_stack *b = ft_stack(reg, "stack-b", 1, 1); /* head lb1.stack-b */
  fo_group *g = ft_group(reg, a, b);
  char addr[FO_NAME_BUFSIZE];
  ft_address(g, addr);
  fo_verify_params prm = FO_VERIFY_PARAMS_INIT;
  vs_result r;

  /* Not in DNS yet: NXDOMAIN. */
  vs_group_once(p.addr4, g, &prm, &r);
  VS_STATUS(&r, FO_VERIFY_NXDOMAIN);
  cr_assert_str_eq(r.name, addr);

  /* Published: a match. */
  char lines[1024];
  snprintf(lines, sizeof lines, "update add %s. 60 CNAME web1.stack-a.%s.\n",
           addr, Z);
  cr_assert_eq(ft_dns_update(&p, lines), 0, "%s", p.error);
  vs_group_once(p.addr4, g, &prm, &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);

  /* Switched in the model, not in DNS: a mismatch. Then published and
   * waited for. */
  FT_OK(fo_group_switch(g, FO_SLOT_BACKUP, 0));
  vs_group_once(p.addr4, g, &prm, &r);
  VS_STATUS(&r, FO_VERIFY_MISMATCH);
  snprintf(lines, sizeof lines,
           "update delete %s. CNAME\nupdate add %s. 60 CNAME lb1.stack-b.%s.\n",
           addr, addr, Z);
  cr_assert_eq(ft_dns_update(&p, lines), 0, "%s", p.error);
  prm.until_ms = 5000;
  prm.interval_ms = 100;
  vs_group_once(p.addr4, g, &prm, &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  FT_OK(fo_group_settle(g));

  /* The group is read at the call only: changing the model after the
   * check started does not change what is expected. */
  {
    vs_loop L;
    const char *servers[] = {p.addr4};
    vs_open(&L, servers, 1, NULL);
    int count = 0;
    memset(&r, 0, sizeof r);
    r.L = &L;
    r.counter = &count;
    fo_verify_params one = FO_VERIFY_PARAMS_INIT;
    vs_in_start = 1;
    FT_OK(fo_verify_group(NULL, L.v, g, &one, vs_cb, &r));
    vs_in_start = 0;
    FT_OK(fo_group_switch(g, FO_SLOT_PRIMARY, 0));
    vs_run_until(&L, &count, 1, 15000);
    vs_close(&L);
    VS_STATUS(&r, FO_VERIFY_MATCH);
  }

  /* A reserved group (no stack) expects no records: its never-published
   * name matches. */
  fo_group *reserved = NULL;
  FT_OK(fo_group_create(&reserved, reg, NULL, NULL));
  prm.until_ms = 0;
  vs_group_once(p.addr4, reserved, &prm, &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);

  /* Address mode: the expectation is the web head's addresses. */
  fo_stack *c = ft_stack(reg, "stack-c", 1, 0);
  FT_OK(fo_stack_set_server_addresses(c, "web1", "192.0.2.20",
                                      "2001:db8::20"));
  fo_group *ga = ft_group(reg, c, NULL);
  FT_OK(fo_group_set_mode(ga, FO_MODE_ADDRESS));
  char addr2[FO_NAME_BUFSIZE];
  ft_address(ga, addr2);
  snprintf(lines, sizeof lines,
           "update add %s. 60 A 192.0.2.20\nupdate add %s. 60 AAAA "
           "2001:db8::20\n",
           addr2, addr2);
  cr_assert_eq(ft_dns_update(&p, lines), 0, "%s", p.error);
  vs_group_once(p.addr4, ga, &prm, &r);
  VS_STATUS(&r, FO_VERIFY_MATCH);
  cr_assert_eq(r.servers[0].address_count, 2);
  fo_registry_free(reg);
}

/* ---- many, cancel, close ---------------------------------------------------- */

void ft_vs_many_at_once(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  enum { N = BULK };
  fo_verifier_options o;
  vs_options(&o);
  o.max_in_flight = 100;
  o.timeout_ms = 2000;
  o.tries = 3;
  vs_loop L;
  const char *servers[] = {p.addr4};
  vs_open(&L, servers, 1, &o);
  vs_result *res = calloc(N, sizeof *res);
  cr_assert_not_null(res);
  int count = 0;
  fo_verify_params prm = FO_VERIFY_PARAMS_INIT;
  fo_expectation good = vs_cname("web1.stack-a." Z);
  fo_expectation bad = vs_cname("web1.stack-b." Z);
  char name[64];
  for (int i = 0; i < N; i++) {
    res[i].light = 1;
    snprintf(name, sizeof name, "bulk%d." Z, i);
    vs_start(&L, name, i % 10 == 9 ? &bad : &good, &prm, &res[i], &count);
  }
  size_t pending = 0;
  FT_OK(fo_verifier_pending(L.v, &pending));
  cr_assert_eq(pending, (size_t)N, "pending %zu", pending);
  vs_run_until(&L, &count, N, 50000);
  FT_OK(fo_verifier_pending(L.v, &pending));
  cr_assert_eq(pending, 0);
  vs_close(&L);
  int match = 0, mismatch = 0;
  for (int i = 0; i < N; i++) {
    cr_assert_eq(res[i].calls, 1, "check %d called back %d times", i,
                 res[i].calls);
    cr_assert_eq(res[i].error, 0);
    if (res[i].status == FO_VERIFY_MATCH)
      match++;
    else if (res[i].status == FO_VERIFY_MISMATCH)
      mismatch++;
    else
      cr_assert_fail("check %d: status %s", i, st(res[i].status));
    cr_assert_eq(res[i].status,
                 i % 10 == 9 ? FO_VERIFY_MISMATCH : FO_VERIFY_MATCH,
                 "check %d", i);
  }
  cr_assert_eq(match, N - N / 10);
  cr_assert_eq(mismatch, N / 10);
  free(res);
}

typedef struct vs_cancel_ctx {
  fo_check *victim;
  vs_result *victim_res;
  int cancel_rc;
} vs_cancel_ctx;

static void vs_cancel_timer_cb(uv_timer_t *t) {
  vs_cancel_ctx *c = t->data;
  cr_assert_eq(c->victim_res->calls, 0);
  c->cancel_rc = fo_check_cancel(c->victim);
  cr_assert_eq(c->victim_res->calls, 1,
               "fo_check_cancel did not fire the callback at once");
  uv_close((uv_handle_t *)t, NULL);
}

void ft_vs_cancel(ft_dns_kind kind) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  vs_loop L;
  const char *servers[] = {p.addr4};
  vs_open(&L, servers, 1, NULL);
  fo_verify_params once = FO_VERIFY_PARAMS_INIT;
  fo_verify_params wait = FO_VERIFY_PARAMS_INIT;
  wait.until_ms = 8000;
  wait.interval_ms = 100;
  fo_expectation good = vs_cname("web1.stack-a." Z);
  fo_expectation never = vs_cname("never.example.net");
  vs_result r[4];
  memset(r, 0, sizeof r);
  int count = 0;
  vs_start(&L, "www." Z, &good, &once, &r[0], &count);
  fo_check *now = vs_start(&L, "www." Z, &never, &wait, &r[1], &count);
  fo_check *later = vs_start(&L, "hop1." Z, &never, &wait, &r[2], &count);
  vs_start(&L, "hop1." Z, &good, &wait, &r[3], &count);

  /* Cancelled before the loop ever ran: the callback fires inside the
   * cancel call, once. */
  FT_OK(fo_check_cancel(now));
  cr_assert_eq(r[1].calls, 1, "cancel: callback fired %d times", r[1].calls);
  cr_assert_eq(r[1].error, FO_ECANCELED, "error %s", fo_err_name(r[1].error));
  size_t pending = 0;
  FT_OK(fo_verifier_pending(L.v, &pending));
  cr_assert_eq(pending, 3);

  /* Cancelled mid-wait from a timer on the loop. */
  vs_cancel_ctx c = {later, &r[2], -1};
  uv_timer_t t;
  uv_timer_init(&L.loop, &t);
  t.data = &c;
  uv_timer_start(&t, vs_cancel_timer_cb, 400, 0);

  /* r[3] (hop1 -> hop2, expected web1.stack-a) never matches: still
   * pending at the end, cancelled by the verifier's close. */
  vs_run_until(&L, &count, 3, 15000);
  cr_assert_eq(c.cancel_rc, 0);
  cr_assert_eq(r[2].calls, 1);
  cr_assert_eq(r[2].error, FO_ECANCELED);
  /* (How many rounds fit in 400 ms is timing, not asserted: one under
   * valgrind.) */
  cr_assert_geq(r[2].servers[0].rounds, 1);
  /* The others are unaffected. */
  cr_assert_eq(r[0].calls, 1);
  cr_assert_eq(r[0].error, 0);
  VS_STATUS(&r[0], FO_VERIFY_MATCH);
  cr_assert_eq(r[3].calls, 0, "r[3] should still be pending");
  FT_OK(fo_verifier_pending(L.v, &pending));
  cr_assert_eq(pending, 1);
  cr_assert_eq(fo_check_cancel(NULL), FO_EINVAL);
  vs_close(&L);
  cr_assert_eq(r[3].calls, 1);
  cr_assert_eq(r[3].error, FO_ECANCELED);
  for (int i = 0; i < 4; i++)
    cr_assert_eq(r[i].calls, 1, "check %d called back %d times", i,
                 r[i].calls);
}

#define VS_CLOSE_N 20

typedef struct vs_close_ctx {
  fo_verifier *v;
  int tries;
  int rcs[VS_CLOSE_N];
  /* Results of the checks started from inside the callbacks (they must be
   * refused; if not, their callbacks land here). */
  vs_result extra[VS_CLOSE_N];
} vs_close_ctx;

static void vs_close_hook(vs_result *r, void *arg) {
  vs_close_ctx *c = arg;
  cr_assert_eq(r->error, FO_ECANCELED, "error %s", fo_err_name(r->error));
  /* New checks are refused from the start of fo_verifier_close(). */
  fo_expectation e = vs_none();
  fo_verify_params prm = FO_VERIFY_PARAMS_INIT;
  int i = c->tries++;
  cr_assert_lt(i, VS_CLOSE_N);
  c->extra[i].L = r->L;
  c->rcs[i] = fo_verify_name(NULL, c->v, "www." Z, &e, &prm, vs_cb,
                             &c->extra[i]);
}

/* Both close scenarios: a verifier asking the real server and a silent
 * peer, VS_CLOSE_N checks (every other one converging) pending with their
 * queries out; `hook` (may be NULL) runs in every check's callback. */
static void vs_close_setup(ft_dns_kind kind, vs_loop *L, ft_dns_peer *peer,
                           vs_result *r, int *count,
                           void (*hook)(vs_result *, void *), void *hook_arg,
                           fo_verifier **v_out) {
  ft_dns_server p, s;
  vs_env(kind, &p, &s);
  cr_assert_eq(ft_dns_peer_start(peer, FT_PEER_SILENT), 0);
  fo_verifier_options o;
  vs_options(&o);
  o.timeout_ms = 5000;
  o.tries = 2;
  const char *servers[] = {p.addr4, peer->addr};
  vs_open(L, servers, 2, &o);
  if (v_out)
    *v_out = L->v;
  memset(r, 0, VS_CLOSE_N * sizeof(*r));
  *count = 0;
  fo_verify_params prm = FO_VERIFY_PARAMS_INIT;
  fo_expectation e = vs_cname("web1.stack-a." Z);
  for (int i = 0; i < VS_CLOSE_N; i++) {
    r[i].hook = hook;
    r[i].hook_arg = hook_arg;
    if (i % 2)
      prm.until_ms = 20000;
    vs_start(L, "www." Z, &e, &prm, &r[i], count);
  }
  /* Let the queries go out (the real server answers, the peer never). */
  uv_timer_start(&L->watchdog, vs_watchdog_cb, 200, 0);
  uv_run(&L->loop, UV_RUN_DEFAULT);
  cr_assert_eq(*count, 0, "%d checks finished early", *count);
  size_t pending = 0;
  FT_OK(fo_verifier_pending(L->v, &pending));
  cr_assert_eq(pending, (size_t)VS_CLOSE_N);
}

/* After fo_verifier_close() returned: every check was called back once,
 * cancelled, with the real server's answer kept; then the closed callback,
 * and the loop closes with no handle left. */
static void vs_close_finish(vs_loop *L, ft_dns_peer *peer, const vs_result *r,
                            int count) {
  cr_assert_eq(count, VS_CLOSE_N, "close called back %d of %d checks", count,
               VS_CLOSE_N);
  cr_assert_eq(L->closed_calls, 0, "closed callback ran inside the close call");
  L->v = NULL;
  vs_run_until(L, &L->closed_calls, 1, 10000);
  uv_close((uv_handle_t *)&L->watchdog, NULL);
  uv_run(&L->loop, UV_RUN_DEFAULT);
  cr_assert_eq(L->closed_calls, 1);
  int rc = uv_loop_close(&L->loop);
  if (rc != 0)
    uv_walk(&L->loop, vs_walk_cb, NULL);
  cr_assert_eq(rc, 0, "uv_loop_close: %s", uv_err_name(rc));
  ft_dns_peer_stop(peer);
  for (int i = 0; i < VS_CLOSE_N; i++) {
    cr_assert_eq(r[i].calls, 1);
    cr_assert_eq(r[i].error, FO_ECANCELED);
    /* The real server had answered: its answer is in the result. */
    cr_assert_eq(r[i].servers[0].status, FO_VERIFY_MATCH,
                 "check %d: server 0 %s", i, st(r[i].servers[0].status));
    cr_assert_eq(r[i].servers[1].status, FO_VERIFY_PENDING);
  }
}

void ft_vs_close_with_pending(ft_dns_kind kind) {
  vs_loop L;
  ft_dns_peer peer;
  vs_result r[VS_CLOSE_N];
  int count;
  vs_close_setup(kind, &L, &peer, r, &count, NULL, NULL, NULL);
  fo_verifier_close(L.v, vs_closed_cb, &L);
  vs_close_finish(&L, &peer, r, count);
}

/* fo_verifier_close: "New checks are refused with FO_ECLOSING from the start
 * of the call" - also from the callbacks of the checks it cancels. */
void ft_vs_close_refuses_new_checks(ft_dns_kind kind) {
  vs_loop L;
  ft_dns_peer peer;
  vs_result r[VS_CLOSE_N];
  int count;
  static vs_close_ctx c; /* outlives the test if a new check slips in */
  memset(&c, 0, sizeof c);
  vs_close_setup(kind, &L, &peer, r, &count, vs_close_hook, &c, &c.v);
  fo_verifier_close(L.v, vs_closed_cb, &L);
  for (int i = 0; i < c.tries; i++)
    cr_assert_eq(c.rcs[i], FO_ECLOSING,
                 "fo_verify_name from the callback of cancelled check %d "
                 "during fo_verifier_close returned %s, expected FO_ECLOSING",
                 i, fo_err_name(c.rcs[i]));
  vs_close_finish(&L, &peer, r, count);
  cr_assert_eq(c.tries, VS_CLOSE_N);
}
