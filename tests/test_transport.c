/*
 * test_transport.c - the DNS transport (lib/dns/transport.h) against a
 * misbehaving peer on loopback (support/fault_peer.h): every rule of the
 * header, each with the fault that breaks it, then bursts of mixed faults
 * where every outcome is checked against what the peer did.
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <valgrind/valgrind.h>

#include "fault_peer.h"
#include "support.h"
#include "transport.h"
#include "wire.h"

typedef struct harness harness;

typedef struct outcome {
  harness *h;
  const char *name; /* what was asked (lowercase) */
  int tcp;          /* sent with force_tcp */
  int calls;
  int status, detail;
  unsigned tries;
  int rcode, tc;
  unsigned qdcount, ancount;
  char qname[FO_NAME_BUFSIZE];
  uint64_t at;                     /* uv_now() at the callback */
  long order;                      /* rank among all callbacks */
  void (*then)(struct outcome *o); /* runs after the outcome is recorded */
} outcome;

struct harness {
  uv_loop_t loop;
  ft_fault_peer *peer;
  fo__dnsx *x;
  ft_alloc mem;
  outcome *out;
  char (*names)[64];
  size_t n;
  int in_send;
  long calls;
  uint64_t t0;
  fo__dns_msg *msg;
  size_t next, window; /* bursts refilled from the callbacks */
};

/* ---- harness ------------------------------------------------------------- */

static void h_init(harness *h, size_t n, int with_peer) {
  memset(h, 0, sizeof *h);
  cr_assert_eq(uv_loop_init(&h->loop), 0);
  ft_alloc_init(&h->mem);
  h->n = n;
  h->out = calloc(n, sizeof *h->out);
  h->names = calloc(n, sizeof *h->names);
  h->msg = malloc(sizeof *h->msg);
  cr_assert(h->out && h->names && h->msg);
  for (size_t i = 0; i < n; i++)
    h->out[i].h = h;
  if (with_peer) {
    h->peer = ft_fault_peer_start();
    cr_assert_not_null(h->peer, "fault peer did not start");
  }
}

static int h_port(const harness *h) { return ft_fault_peer_port(h->peer); }

static fo__hostport loopback(int port) {
  fo__hostport hp;
  memset(&hp, 0, sizeof hp);
  hp.family = AF_INET;
  hp.addr[0] = 127;
  hp.addr[3] = 1;
  hp.port = (uint16_t)port;
  return hp;
}

static void h_transport_ex(harness *h, int port, uint32_t timeout_ms,
                           uint32_t tries, int use_tcp, int rcvbuf) {
  fo__hostport hp = loopback(port);
  fo__dnsx_config cfg = {&hp, timeout_ms, tries, use_tcp, rcvbuf};
  FT_OK(fo__dnsx_new(&h->x, &h->loop, &h->mem.hooks, &cfg));
}

static void h_transport(harness *h, uint32_t timeout_ms, uint32_t tries) {
  h_transport_ex(h, h_port(h), timeout_ms, tries, 0, 1 << 20);
}

static void record(int status, int detail, const unsigned char *reply,
                   size_t len, unsigned tries, void *arg) {
  outcome *o = arg;
  harness *h = o->h;
  cr_assert(!h->in_send, "callback of %s ran inside fo__dnsx_send", o->name);
  o->calls++;
  cr_assert_eq(o->calls, 1, "callback of %s ran %d times", o->name, o->calls);
  o->status = status;
  o->detail = detail;
  o->tries = tries;
  o->at = uv_now(&h->loop);
  o->order = h->calls++;
  if (status == 0) {
    cr_assert_not_null(reply);
    cr_assert_eq(fo__dns_parse(reply, len, h->msg), 0,
                 "reply to %s does not parse", o->name);
    o->rcode = (int)h->msg->rcode;
    o->tc = h->msg->tc;
    o->qdcount = h->msg->qdcount;
    o->ancount = h->msg->ancount;
    memcpy(o->qname, h->msg->qname, sizeof o->qname);
  } else {
    cr_assert_null(reply);
    cr_assert_eq(len, 0);
  }
  if (o->then != NULL)
    o->then(o);
}

/* Ask for `name` (A, message ID 0x1234 whatever the query). */
static int h_try_send(harness *h, size_t i, const char *name, int tcp) {
  unsigned char q[512];
  outcome *o = &h->out[i];
  int len, rc;
  snprintf(h->names[i], sizeof h->names[i], "%s", name);
  o->name = h->names[i];
  o->tcp = tcp;
  len = fo__dns_build_query(0x1234, name, FO__TYPE_A, 0, q, sizeof q);
  cr_assert_gt(len, 0, "%s", name);
  h->in_send = 1;
  rc = fo__dnsx_send(h->x, q, (size_t)len, tcp, record, o);
  h->in_send = 0;
  return rc;
}

static void h_send(harness *h, size_t i, const char *name, int tcp) {
  FT_OK(h_try_send(h, i, name, tcp));
}

/* "<fault>.q<i>.t" for query i. */
static void h_ask(harness *h, size_t i, const char *fault, int tcp) {
  char name[64];
  snprintf(name, sizeof name, "%s.q%zu.t", fault, i);
  h_send(h, i, name, tcp);
}

static void h_start_clock(harness *h) {
  uv_update_time(&h->loop);
  h->t0 = uv_now(&h->loop);
}

static uint64_t h_elapsed(const harness *h, size_t i) {
  return h->out[i].at - h->t0;
}

static void h_run(harness *h) { uv_run(&h->loop, UV_RUN_DEFAULT); }

static void closed_cb(void *userdata) { (*(int *)userdata)++; }

/* Close the transport, check that nothing is left: no handle, no block. */
static void h_done(harness *h) {
  int closed = 0;
  if (h->x != NULL) {
    fo__dnsx_close(h->x, closed_cb, &closed);
    cr_assert_eq(closed, 0, "closed callback ran inside fo__dnsx_close");
    h_run(h);
    cr_assert_eq(closed, 1);
  }
  cr_assert_eq(uv_loop_close(&h->loop), 0, "handles left open");
  cr_assert_eq(h->mem.live, 0, "%zu blocks leaked", h->mem.live);
  cr_assert_eq(h->mem.bad_frees, 0);
  for (size_t i = 0; i < h->n; i++)
    if (h->out[i].name != NULL)
      cr_assert_eq(h->out[i].calls, 1, "%s: %d callbacks", h->out[i].name,
                   h->out[i].calls);
  ft_fault_peer_stop(h->peer);
  free(h->out);
  free(h->names);
  free(h->msg);
}

static void expect_answer(const outcome *o) {
  cr_assert_eq(o->status, 0, "%s: %s (detail %d)", o->name,
               fo_err_name(o->status), o->detail);
  cr_assert_eq(o->rcode, 0, "%s: rcode %d", o->name, o->rcode);
  cr_assert_eq(o->tc, 0, "%s: TC", o->name);
  cr_assert_eq(o->ancount, 1, "%s: %u answers", o->name, o->ancount);
  cr_assert_str_eq(o->qname, o->name);
}

static void expect_status(const outcome *o, int status, int detail) {
  cr_assert_eq(o->status, status, "%s: %s, expected %s", o->name,
               fo_err_name(o->status), fo_err_name(status));
  cr_assert_eq(o->detail, detail, "%s: detail %d, expected %d", o->name,
               o->detail, detail);
}

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Slower machines (valgrind) get longer per-try timeouts. */
static uint32_t scaled(uint32_t ms) {
  return RUNNING_ON_VALGRIND ? ms * 4 : ms;
}

/* ---- configuration and messages ------------------------------------------ */

Test(transport, new_rejects_bad_config) {
  harness h;
  h_init(&h, 0, 0);
  fo__hostport hp = loopback(53);
  fo__dnsx_config cfg = {&hp, 100, 1, 0, 0};
  fo__dnsx *x = (fo__dnsx *)&h; /* must be reset to NULL */
  FT_RC(fo__dnsx_new(NULL, &h.loop, &h.mem.hooks, &cfg), FO_EINVAL);
  FT_RC(fo__dnsx_new(&x, NULL, &h.mem.hooks, &cfg), FO_EINVAL);
  cr_assert_null(x);
  FT_RC(fo__dnsx_new(&x, &h.loop, NULL, &cfg), FO_EINVAL);
  FT_RC(fo__dnsx_new(&x, &h.loop, &h.mem.hooks, NULL), FO_EINVAL);
  cfg.timeout_ms = 0;
  FT_RC(fo__dnsx_new(&x, &h.loop, &h.mem.hooks, &cfg), FO_EINVAL);
  cfg.timeout_ms = 100;
  cfg.tries = 0;
  FT_RC(fo__dnsx_new(&x, &h.loop, &h.mem.hooks, &cfg), FO_EINVAL);
  cfg.tries = 1;
  hp.family = 12345;
  FT_RC(fo__dnsx_new(&x, &h.loop, &h.mem.hooks, &cfg), FO_EINVAL);
  cfg.server = NULL;
  FT_RC(fo__dnsx_new(&x, &h.loop, &h.mem.hooks, &cfg), FO_EINVAL);
  cr_assert_null(x);
  cr_assert_eq(fo__dnsx_in_flight(NULL), 0);
  fo__dnsx_close(NULL, NULL, NULL);
  h_done(&h); /* nothing to close, nothing allocated */
}

/* Every allocation of fo__dnsx_new() and fo__dnsx_send() may fail: the
 * call says FO_ENOMEM and leaves nothing behind. */
Test(transport, out_of_memory_is_clean) {
  for (size_t fail = 1;; fail++) {
    harness h;
    h_init(&h, 1, 0);
    fo__hostport hp = loopback(ft_closed_port());
    fo__dnsx_config cfg = {&hp, 100, 1, 0, 0};
    h.mem.fail_at = fail;
    int rc = fo__dnsx_new(&h.x, &h.loop, &h.mem.hooks, &cfg);
    if (rc == FO_ENOMEM) {
      cr_assert_null(h.x);
      h_done(&h);
      continue;
    }
    FT_OK(rc);
    /* The first send needs the query block (the ID table has room). */
    h.mem.fail_at = h.mem.count + 1;
    FT_RC(h_try_send(&h, 0, "ok.q0.t", 0), FO_ENOMEM);
    cr_assert_eq(fo__dnsx_in_flight(h.x), 0);
    h.out[0].name = NULL; /* no callback expected */
    h_done(&h);
    break;
  }
}

/* A TCP connection that cannot be set up for lack of memory fails its
 * queries with FO_EIO / FO__DNSX_LOCAL, from the loop. */
Test(transport, connection_without_memory_fails_locally) {
  harness h;
  h_init(&h, 1, 1);
  h_transport(&h, 1000, 1);
  h_ask(&h, 0, "ok", 1);
  h.mem.fail_at = h.mem.count + 1; /* the connection's own block */
  h_run(&h);
  expect_status(&h.out[0], FO_EIO, FO__DNSX_LOCAL);
  cr_assert_eq(h.out[0].tries, 0);
  h.mem.fail_at = 0;
  h_done(&h);
}

Test(transport, send_rejects_bad_messages) {
  harness h;
  h_init(&h, 1, 0);
  h_transport_ex(&h, ft_closed_port(), 100, 1, 0, 0);
  unsigned char q[600];
  int len = fo__dns_build_query(7, "ok.q0.t", FO__TYPE_A, 0, q, sizeof q);
  cr_assert_gt(len, 0);
  outcome *o = &h.out[0];
  FT_RC(fo__dnsx_send(NULL, q, (size_t)len, 0, record, o), FO_EINVAL);
  FT_RC(fo__dnsx_send(h.x, NULL, (size_t)len, 0, record, o), FO_EINVAL);
  FT_RC(fo__dnsx_send(h.x, q, (size_t)len, 0, NULL, o), FO_EINVAL);
  FT_RC(fo__dnsx_send(h.x, q, 11, 0, record, o), FO_EINVAL);
  FT_RC(fo__dnsx_send(h.x, q, (size_t)len - 1, 0, record, o), FO_EINVAL);
  FT_RC(fo__dnsx_send(h.x, q, 65536, 0, record, o), FO_EINVAL);
  unsigned char noq[12];
  memcpy(noq, q, 12);
  noq[5] = 0; /* QDCOUNT 0 */
  FT_RC(fo__dnsx_send(h.x, noq, sizeof noq, 0, record, o), FO_EINVAL);
  unsigned char bad[64];
  memcpy(bad, q, (size_t)len);
  bad[12] = 0xC0; /* a compression pointer forward: not a name */
  bad[13] = 0x20;
  FT_RC(fo__dnsx_send(h.x, bad, (size_t)len, 0, record, o), FO_EINVAL);
  cr_assert_eq(fo__dnsx_in_flight(h.x), 0);
  int closed = 0;
  fo__dnsx_close(h.x, closed_cb, &closed);
  FT_RC(fo__dnsx_send(h.x, q, (size_t)len, 0, record, o), FO_ECLOSING);
  h_run(&h);
  cr_assert_eq(closed, 1);
  h.x = NULL;
  h_done(&h);
}

/* ---- answers ------------------------------------------------------------- */

Test(transport, udp_answer) {
  harness h;
  h_init(&h, 1, 1);
  h_transport(&h, 1000, 3);
  h_ask(&h, 0, "ok", 0);
  cr_assert_eq(fo__dnsx_in_flight(h.x), 1);
  h_run(&h);
  expect_answer(&h.out[0]);
  cr_assert_eq(h.out[0].tries, 1);
  cr_assert_eq(ft_fault_peer_udp(h.peer, 0), 1);
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 0), 0);
  cr_assert_eq(fo__dnsx_in_flight(h.x), 0);
  h_done(&h);
}

Test(transport, tcp_answer_forced_and_configured) {
  harness h;
  h_init(&h, 2, 1);
  h_transport(&h, 1000, 3);
  h_ask(&h, 0, "ok", 1);
  h_run(&h);
  expect_answer(&h.out[0]);
  cr_assert_eq(h.out[0].tries, 1);
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 0), 1);
  cr_assert_eq(ft_fault_peer_udp(h.peer, 0), 0);
  fo__dnsx_close(h.x, NULL, NULL);
  h_run(&h);
  /* use_tcp: every query over TCP, no UDP socket at all. */
  h_transport_ex(&h, h_port(&h), 1000, 3, 1, 0);
  h_ask(&h, 1, "ok", 0);
  h_run(&h);
  expect_answer(&h.out[1]);
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 1), 1);
  cr_assert_eq(ft_fault_peer_udp(h.peer, 1), 0);
  h_done(&h);
}

/* Callbacks may send: follow-ups chain from inside callbacks, over UDP
 * and TCP, and each callback runs once, never inside fo__dnsx_send(). */
static void chain_next(outcome *o) {
  harness *h = o->h;
  size_t i = (size_t)(o - h->out);
  if (i + 2 < h->n)
    h_ask(h, i + 2, "ok", (int)((i + 2) % 2));
}

Test(transport, callbacks_send_more) {
  harness h;
  h_init(&h, 200, 1);
  h_transport(&h, 1000, 2);
  for (size_t i = 0; i < h.n; i++)
    h.out[i].then = chain_next;
  h_ask(&h, 0, "ok", 0);
  h_ask(&h, 1, "ok", 1);
  h_run(&h);
  for (size_t i = 0; i < h.n; i++)
    expect_answer(&h.out[i]);
  cr_assert_eq(h.calls, 200);
  cr_assert_eq(ft_fault_peer_connections(h.peer), 1, "one TCP connection");
  h_done(&h);
}

/* ---- the rules ----------------------------------------------------------- */

Test(transport, truncated_reply_is_asked_again_over_tcp) {
  harness h;
  h_init(&h, 2, 1);
  h_transport(&h, 1000, 3);
  h_ask(&h, 0, "tc", 0);
  h_run(&h);
  expect_answer(&h.out[0]);
  cr_assert_eq(h.out[0].tries, 2, "one datagram + one connection");
  cr_assert_eq(ft_fault_peer_udp(h.peer, 0), 1);
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 0), 1);
  fo__dnsx_close(h.x, NULL, NULL);
  h_run(&h);
  /* With a single try, TCP still gets the rest of it. */
  h_transport(&h, 1000, 1);
  h_ask(&h, 1, "tc", 0);
  h_run(&h);
  expect_answer(&h.out[1]);
  h_done(&h);
}

Test(transport, reply_without_question_gives_its_rcode) {
  static const int rcodes[] = {FO__RCODE_NOTIMP, FO__RCODE_FORMERR,
                               FO__RCODE_REFUSED};
  harness h;
  h_init(&h, 6, 1);
  h_transport(&h, 1000, 2);
  for (size_t i = 0; i < 6; i++) {
    char fault[16];
    snprintf(fault, sizeof fault, "noq%d", rcodes[i % 3]);
    h_ask(&h, i, fault, (int)(i / 3));
  }
  h_start_clock(&h);
  h_run(&h);
  for (size_t i = 0; i < 6; i++) {
    const outcome *o = &h.out[i];
    cr_assert_eq(o->status, 0, "%s: %s", o->name, fo_err_name(o->status));
    cr_assert_eq(o->rcode, rcodes[i % 3]);
    cr_assert_eq(o->qdcount, 0);
    cr_assert_eq(o->tries, 1);
    cr_assert_lt(h_elapsed(&h, i), 500, "%s took a timeout", o->name);
  }
  h_done(&h);
}

Test(transport, wrong_id_is_ignored) {
  harness h;
  h_init(&h, 3, 1);
  h_transport(&h, scaled(100), 2);
  h_ask(&h, 0, "wrongid", 0);   /* always wrong: times out */
  h_ask(&h, 1, "wrongidx1", 0); /* right on the second try */
  h_ask(&h, 2, "wrongid", 1);   /* TCP: ignored, never re-sent */
  h_run(&h);
  expect_status(&h.out[0], FO_ETIMEDOUT, FO__DNSX_OK);
  cr_assert_eq(h.out[0].tries, 2);
  cr_assert_eq(ft_fault_peer_udp(h.peer, 0), 2);
  expect_answer(&h.out[1]);
  cr_assert_eq(h.out[1].tries, 2);
  expect_status(&h.out[2], FO_ETIMEDOUT, FO__DNSX_OK);
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 2), 1);
  h_done(&h);
}

Test(transport, wrong_question_is_ignored) {
  harness h;
  h_init(&h, 5, 1);
  h_transport(&h, scaled(100), 2);
  h_ask(&h, 0, "wrongq", 0);
  h_ask(&h, 1, "wrongname", 0);
  h_ask(&h, 2, "wrongqx1", 0);
  h_ask(&h, 3, "wrongnamex1", 0);
  h_ask(&h, 4, "wrongq", 1);
  h_run(&h);
  expect_status(&h.out[0], FO_ETIMEDOUT, FO__DNSX_OK);
  expect_status(&h.out[1], FO_ETIMEDOUT, FO__DNSX_OK);
  expect_answer(&h.out[2]);
  expect_answer(&h.out[3]);
  cr_assert_eq(h.out[2].tries, 2);
  expect_status(&h.out[4], FO_ETIMEDOUT, FO__DNSX_OK);
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 4), 1);
  h_done(&h);
}

Test(transport, question_matches_whatever_the_case) {
  harness h;
  h_init(&h, 2, 1);
  h_transport(&h, 1000, 1);
  h_ask(&h, 0, "upper", 0);
  h_ask(&h, 1, "upper", 1);
  h_run(&h);
  expect_status(&h.out[0], 0, FO__DNSX_OK);
  expect_status(&h.out[1], 0, FO__DNSX_OK);
  cr_assert_str_eq(h.out[0].qname, "upper.q0.t"); /* parse lowercases */
  h_done(&h);
}

/* timeout x tries, not doubling: 200 ms x 3 ends after 600 ms, and well
 * before the 1400 ms that 200 + 400 + 800 would take. UDP is sent again
 * on each try. */
Test(transport, silent_udp_server_times_out_after_timeout_times_tries) {
  harness h;
  h_init(&h, 2, 1);
  h_transport(&h, 200, 3);
  h_start_clock(&h);
  h_ask(&h, 0, "drop", 0);
  h_ask(&h, 1, "dropx2", 0); /* answered on the third try */
  h_run(&h);
  expect_status(&h.out[0], FO_ETIMEDOUT, FO__DNSX_OK);
  uint64_t took = h_elapsed(&h, 0);
  cr_assert_geq(took, 600, "timed out after %llu ms", (unsigned long long)took);
  cr_assert_lt(took, RUNNING_ON_VALGRIND ? 1000 : 800,
               "timed out after %llu ms", (unsigned long long)took);
  cr_assert_eq(h.out[0].tries, 3);
  cr_assert_eq(ft_fault_peer_udp(h.peer, 0), 3, "one datagram per try");
  expect_answer(&h.out[1]);
  cr_assert_eq(h.out[1].tries, 3);
  cr_assert_geq(h_elapsed(&h, 1), 400);
  h_done(&h);
}

/* A TCP query is written once per connection: a silent server that keeps
 * the connection open sees it once, and it still ends at timeout x tries. */
Test(transport, tcp_query_is_not_resent_on_open_connection) {
  harness h;
  h_init(&h, 2, 1);
  h_transport(&h, 150, 3);
  h_start_clock(&h);
  h_ask(&h, 0, "drop", 1);
  h_ask(&h, 1, "delay200", 1); /* answered during its second try */
  h_run(&h);
  expect_status(&h.out[0], FO_ETIMEDOUT, FO__DNSX_OK);
  uint64_t took = h_elapsed(&h, 0);
  cr_assert_geq(took, 450, "timed out after %llu ms", (unsigned long long)took);
  cr_assert_lt(took, RUNNING_ON_VALGRIND ? 850 : 650);
  cr_assert_eq(h.out[0].tries, 1, "one connection used");
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 0), 1, "written once");
  expect_answer(&h.out[1]);
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 1), 1);
  cr_assert_eq(ft_fault_peer_connections(h.peer), 1);
  h_done(&h);
}

/* Nothing listens: ICMP port unreachable (UDP) and a refused connect (TCP)
 * end the queries at once, not after 3 x 2 s. */
Test(transport, unreachable_port_fails_promptly) {
  harness h;
  h_init(&h, 6, 0);
  h_transport_ex(&h, ft_closed_port(), 2000, 3, 0, 0);
  h_start_clock(&h);
  for (size_t i = 0; i < 6; i++)
    h_ask(&h, i, "ok", i >= 4);
  h_run(&h);
  for (size_t i = 0; i < 6; i++) {
    expect_status(&h.out[i], FO_EIO, FO__DNSX_UNREACHABLE);
    cr_assert_lt(h_elapsed(&h, i), 1000, "%s after %llu ms", h.out[i].name,
                 (unsigned long long)h_elapsed(&h, i));
    cr_assert_eq(h.out[i].tries, 1);
  }
  h_done(&h);
}

/* The same over IPv6, where the host has it. */
Test(transport, unreachable_port_ipv6) {
  int fd = socket(AF_INET6, SOCK_DGRAM, 0), port = -1;
  struct sockaddr_in6 a;
  socklen_t alen = sizeof a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
    port = ntohs(a.sin6_port);
  if (fd >= 0)
    close(fd);
  if (port < 0)
    cr_skip_test("no IPv6 loopback");
  harness h;
  h_init(&h, 2, 0);
  fo__hostport hp;
  memset(&hp, 0, sizeof hp);
  hp.family = AF_INET6;
  hp.addr[15] = 1;
  hp.port = (uint16_t)port;
  fo__dnsx_config cfg = {&hp, 2000, 3, 0, 0};
  FT_OK(fo__dnsx_new(&h.x, &h.loop, &h.mem.hooks, &cfg));
  h_start_clock(&h);
  h_ask(&h, 0, "ok", 0);
  h_ask(&h, 1, "ok", 1);
  h_run(&h);
  for (size_t i = 0; i < 2; i++) {
    expect_status(&h.out[i], FO_EIO, FO__DNSX_UNREACHABLE);
    cr_assert_lt(h_elapsed(&h, i), 1000);
  }
  h_done(&h);
}

/* Answers written just before the peer closes or resets are read whole,
 * a 48 KB one included. (A transport per query: reusing the connection
 * would race the peer's close.) */
Test(transport, tcp_answer_then_close_or_reset_is_read) {
  harness h;
  h_init(&h, 41, 1);
  for (size_t i = 0; i < 41; i++) {
    h_transport(&h, scaled(1000), 1);
    h_ask(&h, i, i == 40 ? "bigrst3000" : i % 2 ? "ansrst" : "ansclose", 1);
    h_run(&h);
    cr_assert_eq(h.out[i].status, 0, "%s: %s", h.out[i].name,
                 fo_err_name(h.out[i].status));
    cr_assert_eq(h.out[i].tries, 1);
    fo__dnsx_close(h.x, NULL, NULL);
    h_run(&h);
    h.x = NULL;
  }
  for (size_t i = 0; i < 40; i++)
    expect_answer(&h.out[i]);
  cr_assert_eq(h.out[40].ancount, 3000);
  cr_assert_eq(ft_fault_peer_connections(h.peer), 41);
  h_done(&h);
}

/* An idle connection the server has closed is noticed before a query is
 * written on it: the query goes to a new connection and is answered even
 * with a single try. */
Test(transport, idle_connection_closed_by_server_is_not_reused) {
  harness h;
  h_init(&h, 2, 1);
  h_transport(&h, scaled(1000), 1);
  h_ask(&h, 0, "ansclose", 1);
  h_run(&h);
  expect_answer(&h.out[0]);
  usleep(RUNNING_ON_VALGRIND ? 300000 : 50000); /* the FIN arrives */
  h_ask(&h, 1, "ok", 1);
  h_run(&h);
  expect_answer(&h.out[1]);
  cr_assert_eq(h.out[1].tries, 1);
  cr_assert_eq(ft_fault_peer_connections(h.peer), 2);
  h_done(&h);
}

/* Pipelined queries answered before a reset are delivered; the ones the
 * peer never answered fail with FO__DNSX_CLOSED (one try) or go to a new
 * connection (more tries). */
Test(transport, tcp_reset_fails_only_unanswered_queries) {
  harness h;
  h_init(&h, 40, 1);
  h_transport(&h, scaled(1000), 1);
  for (size_t i = 0; i < 20; i++)
    h_ask(&h, i, i == 10 ? "ansrst" : "ok", 1);
  h_run(&h);
  for (size_t i = 0; i < 20; i++) {
    if (ft_fault_peer_delivered(h.peer, (unsigned)i))
      expect_answer(&h.out[i]);
    else
      expect_status(&h.out[i], FO_EIO, FO__DNSX_CLOSED);
  }
  for (size_t i = 0; i <= 10; i++)
    expect_answer(&h.out[i]);
  fo__dnsx_close(h.x, NULL, NULL);
  h_run(&h);
  /* Two tries: the unanswered ones go to a second connection, where the
   * reset query is answered too. */
  h_transport(&h, scaled(1000), 2);
  for (size_t i = 20; i < 40; i++)
    h_ask(&h, i, i == 30 ? "rstx1" : "ok", 1);
  h_run(&h);
  for (size_t i = 20; i < 40; i++) {
    expect_answer(&h.out[i]);
    cr_assert_eq(h.out[i].tries, i < 30 ? 1u : 2u, "%s", h.out[i].name);
    cr_assert_leq(ft_fault_peer_tcp(h.peer, (unsigned)i), h.out[i].tries);
  }
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 30), 2);
  cr_assert_eq(ft_fault_peer_connections(h.peer), 3);
  h_done(&h);
}

Test(transport, tcp_close_without_answer) {
  harness h;
  h_init(&h, 4, 1);
  h_transport(&h, scaled(1000), 1);
  h_ask(&h, 0, "close", 1);
  h_run(&h);
  expect_status(&h.out[0], FO_EIO, FO__DNSX_CLOSED);
  cr_assert_eq(h.out[0].tries, 1);
  fo__dnsx_close(h.x, NULL, NULL);
  h_run(&h);
  h_transport(&h, scaled(1000), 3);
  h_ask(&h, 1, "close", 1);
  h_run(&h);
  expect_status(&h.out[1], FO_EIO, FO__DNSX_CLOSED);
  cr_assert_eq(h.out[1].tries, 3, "three connections");
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 1), 3);
  h_ask(&h, 2, "closex1", 1);
  h_run(&h);
  expect_answer(&h.out[2]);
  cr_assert_eq(h.out[2].tries, 2);
  h_ask(&h, 3, "rstx2", 1);
  h_run(&h);
  expect_answer(&h.out[3]);
  cr_assert_eq(h.out[3].tries, 3);
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 3), 3);
  h_done(&h);
}

Test(transport, tcp_reset_without_answer) {
  harness h;
  h_init(&h, 1, 1);
  h_transport(&h, scaled(1000), 1);
  h_ask(&h, 0, "rst", 1);
  h_run(&h);
  expect_status(&h.out[0], FO_EIO, FO__DNSX_CLOSED);
  h_done(&h);
}

Test(transport, tcp_garbage) {
  harness h;
  h_init(&h, 2, 1);
  h_transport(&h, scaled(300), 1);
  h_ask(&h, 0, "garbage", 1);
  h_run(&h);
  expect_status(&h.out[0], FO_EIO, FO__DNSX_GARBAGE);
  /* UDP junk is just ignored. */
  h_ask(&h, 1, "garbage", 0);
  h_run(&h);
  expect_status(&h.out[1], FO_ETIMEDOUT, FO__DNSX_OK);
  h_done(&h);
}

Test(transport, tcp_answer_in_pieces) {
  harness h;
  h_init(&h, 3, 1);
  h_transport(&h, scaled(1000), 1);
  h_ask(&h, 0, "pieces1", 1);
  h_ask(&h, 1, "pieces3", 1);
  h_ask(&h, 2, "pieces1", 1);
  h_run(&h);
  for (size_t i = 0; i < 3; i++)
    expect_answer(&h.out[i]);
  cr_assert_eq(ft_fault_peer_connections(h.peer), 1);
  h_done(&h);
}

/* Ten held answers come after the eleventh, last held first. */
Test(transport, tcp_answers_out_of_order) {
  harness h;
  h_init(&h, 11, 1);
  h_transport(&h, scaled(1000), 1);
  for (size_t i = 0; i < 10; i++)
    h_ask(&h, i, "hold", 1);
  h_ask(&h, 10, "release", 1);
  h_run(&h);
  for (size_t i = 0; i < 11; i++)
    expect_answer(&h.out[i]);
  cr_assert_eq(h.out[10].order, 0);
  for (size_t i = 0; i < 10; i++)
    cr_assert_eq(h.out[i].order, (long)(10 - i), "%s came %ld", h.out[i].name,
                 h.out[i].order);
  cr_assert_eq(ft_fault_peer_connections(h.peer), 1);
  h_done(&h);
}

/* A scripted plan: the same name, a different fault on each arrival. */
Test(transport, scripted_plan) {
  static const ft_fault_step plan[] = {
      {FT_FAULT_DROP, 0}, {FT_FAULT_WRONG_ID, 0}, {FT_FAULT_TC, 0}};
  harness h;
  h_init(&h, 1, 1);
  ft_fault_peer_plan(h.peer, plan, 3);
  h_transport(&h, scaled(100), 3);
  h_send(&h, 0, "plan.q0.t", 0);
  h_run(&h);
  expect_answer(&h.out[0]); /* the third datagram got TC, then TCP */
  cr_assert_eq(h.out[0].tries, 4);
  cr_assert_eq(ft_fault_peer_udp(h.peer, 0), 3);
  cr_assert_eq(ft_fault_peer_tcp(h.peer, 0), 1);
  h_done(&h);
}

/* 1,000 queries in ten waves, a third over TCP with one reset in each
 * wave: every UDP query is answered, and a TCP query fails only when the
 * peer never answered it. */
Test(transport, tcp_failures_spare_udp) {
  harness h;
  size_t n = 1000, collateral = 0;
  h_init(&h, n, 1);
  h_transport(&h, scaled(2000), 1);
  for (size_t wave = 0; wave < 10; wave++) {
    for (size_t i = wave * 100; i < wave * 100 + 100; i++) {
      int tcp = i % 100 % 3 == 0;
      h_ask(&h, i, i % 100 == 51 ? "rst" : "ok", tcp);
    }
    cr_assert_eq(fo__dnsx_in_flight(h.x), 100);
    h_run(&h);
  }
  for (size_t i = 0; i < n; i++) {
    const outcome *o = &h.out[i];
    if (!o->tcp) {
      expect_answer(o);
      cr_assert_eq(o->tries, 1);
    } else if (ft_fault_peer_delivered(h.peer, (unsigned)i)) {
      expect_answer(o);
    } else {
      expect_status(o, FO_EIO, FO__DNSX_CLOSED);
      collateral += strncmp(o->name, "ok", 2) == 0;
    }
  }
  cr_assert_gt(collateral, 0, "no TCP query was caught in a reset");
  cr_assert_eq(ft_fault_peer_connections(h.peer), 10, "%u connections",
               ft_fault_peer_connections(h.peer));
  h_done(&h);
}

/* ---- close --------------------------------------------------------------- */

static void send_on_cancel(outcome *o) {
  FT_RC(h_try_send(o->h, o->h->n - 1, "ok.q99.t", 0), FO_ECLOSING);
  o->h->out[o->h->n - 1].name = NULL;
}

Test(transport, close_cancels_everything) {
  harness h;
  size_t n = 13;
  h_init(&h, n + 1, 1);
  h_transport(&h, 5000, 3);
  for (size_t i = 0; i < 10; i++)
    h_ask(&h, i, "drop", i >= 5);
  /* Let the peer see the first ten. */
  for (int spin = 0; spin < 5000 && ft_fault_peer_queries(h.peer) < 10;
       spin++) {
    uv_run(&h.loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  cr_assert_eq(ft_fault_peer_queries(h.peer), 10);
  for (size_t i = 10; i < n; i++)
    h_ask(&h, i, "ok", i % 2); /* never sent */
  cr_assert_eq(fo__dnsx_in_flight(h.x), n);
  h.out[0].then = send_on_cancel;
  int closed = 0;
  fo__dnsx_close(h.x, closed_cb, &closed);
  for (size_t i = 0; i < n; i++) {
    expect_status(&h.out[i], FO_ECANCELED, FO__DNSX_OK);
  }
  cr_assert_eq(closed, 0);
  h_run(&h);
  cr_assert_eq(closed, 1);
  h.x = NULL;
  h_done(&h);
}

Test(transport, close_right_after_new) {
  harness h;
  h_init(&h, 0, 1);
  h_transport(&h, 100, 1);
  h_done(&h);
}

/* ---- IDs ----------------------------------------------------------------- */

/* 5,000 queries all carrying ID 0x1234, all in flight at once: the
 * transport gives each its own ID, so each gets its own answer. */
static void same_id_burst(int tcp) {
  harness h;
  size_t n = 5000;
  h_init(&h, n, 1);
  h_transport(&h, scaled(2000), 3);
  for (size_t i = 0; i < n; i++)
    h_ask(&h, i, "ok", tcp);
  cr_assert_eq(fo__dnsx_in_flight(h.x), n);
  h_run(&h);
  for (size_t i = 0; i < n; i++)
    expect_answer(&h.out[i]);
  cr_assert_eq(fo__dnsx_in_flight(h.x), 0);
  h_done(&h);
}

Test(transport, unique_ids_udp) { same_id_burst(0); }

Test(transport, unique_ids_tcp) { same_id_burst(1); }

/* All 65,536 IDs in use: the next send says FO_ERANGE. */
static void count_cancel(int status, int detail, const unsigned char *reply,
                         size_t len, unsigned tries, void *arg) {
  (void)detail;
  (void)reply;
  (void)len;
  (void)tries;
  cr_assert_eq(status, FO_ECANCELED);
  (*(size_t *)arg)++;
}

Test(transport, id_space_full) {
  harness h;
  size_t cancelled = 0;
  h_init(&h, 0, 0);
  h_transport_ex(&h, ft_closed_port(), 1000, 1, 0, 0);
  unsigned char q[64];
  int len = fo__dns_build_query(1, "ok.q0.t", FO__TYPE_A, 0, q, sizeof q);
  for (size_t i = 0; i < 65536; i++)
    FT_OK(fo__dnsx_send(h.x, q, (size_t)len, 0, count_cancel, &cancelled));
  cr_assert_eq(fo__dnsx_in_flight(h.x), 65536);
  FT_RC(fo__dnsx_send(h.x, q, (size_t)len, 0, count_cancel, &cancelled),
        FO_ERANGE);
  fo__dnsx_close(h.x, NULL, NULL);
  cr_assert_eq(cancelled, 65536);
  h_run(&h);
  h.x = NULL;
  h_done(&h);
}

/* ---- a burst of mixed faults --------------------------------------------- */

#define BURST_TRIES 2

typedef struct burst_pick {
  const char *fault;
  int tcp;
} burst_pick;

static const char *const udp_faults[] = {
    "ok",   "ok", "ok",        "ok",   "ok",      "delay20", "upper",
    "noq5", "tc", "wrongidx1", "drop", "wrongid", "wrongq",  "garbage"};
static const char *const tcp_faults[] = {
    "ok",    "ok",    "ok",       "ok",     "ok",     "delay20",
    "upper", "noq5",  "ansclose", "ansrst", "rstx1",  "closex1",
    "rst",   "close", "garbage",  "drop",   "wrongid"};

static int is(const char *fault, const char *word) {
  return strcmp(fault, word) == 0;
}

/* UDP faults the peer never answers correctly: the query times out. */
static int udp_silent(const char *f) {
  return is(f, "drop") || is(f, "wrongid") || is(f, "wrongq") ||
         is(f, "garbage");
}

static burst_pick *burst_plan;

static void burst_send(harness *h, size_t i) {
  h_ask(h, i, burst_plan[i].fault, burst_plan[i].tcp);
}

static void burst_next(outcome *o) {
  harness *h = o->h;
  if (h->next < h->n)
    burst_send(h, h->next++);
}

static void burst_check(const harness *h, size_t i) {
  const outcome *o = &h->out[i];
  const char *f = burst_plan[i].fault;
  unsigned key = (unsigned)i;
  unsigned delivered = ft_fault_peer_delivered(h->peer, key);
  unsigned udp = ft_fault_peer_udp(h->peer, key);
  unsigned tcp = ft_fault_peer_tcp(h->peer, key);
  cr_assert_eq(o->calls, 1, "%s: %d callbacks", o->name, o->calls);
  cr_assert_neq(o->status, FO_ECANCELED, "%s", o->name);
  /* Answered exactly when the peer handed over a valid answer. */
  cr_assert_eq(o->status == 0, delivered > 0,
               "%s: %s (detail %d) but the peer delivered %u answers", o->name,
               fo_err_name(o->status), o->detail, delivered);
  if (o->status == 0) {
    cr_assert_eq(o->rcode, is(f, "noq5") ? 5 : 0, "%s", o->name);
    if (!is(f, "noq5"))
      expect_answer(o);
  }
  if (!burst_plan[i].tcp && !is(f, "tc")) {
    /* UDP alone: never touched by TCP trouble. */
    cr_assert_eq(tcp, 0);
    cr_assert_eq(o->tries, udp, "%s: %u tries, %u datagrams", o->name, o->tries,
                 udp);
    if (udp_silent(f)) {
      expect_status(o, FO_ETIMEDOUT, FO__DNSX_OK);
      cr_assert_eq(o->tries, BURST_TRIES);
    } else {
      cr_assert_eq(o->status, 0, "%s: %s", o->name, fo_err_name(o->status));
    }
    return;
  }
  /* TCP: every connection carried it at most once. */
  cr_assert_leq(tcp + udp, o->tries, "%s: %u tries, peer saw %u + %u", o->name,
                o->tries, udp, tcp);
  cr_assert_leq(o->tries, BURST_TRIES + (unsigned)is(f, "tc"), "%s", o->name);
  if (o->status == FO_EIO) {
    cr_assert(o->detail == FO__DNSX_CLOSED || o->detail == FO__DNSX_GARBAGE,
              "%s: detail %d", o->name, o->detail);
  } else if (o->status == FO_ETIMEDOUT) {
    cr_assert(is(f, "drop") || is(f, "wrongid"), "%s timed out", o->name);
  } else {
    cr_assert_eq(o->status, 0, "%s: %s", o->name, fo_err_name(o->status));
  }
  /* Their last connection may have died of another query's fault. */
  if (is(f, "rst") || is(f, "close") || is(f, "garbage"))
    cr_assert_eq(o->status, FO_EIO, "%s", o->name);
}

Test(transport, burst_of_random_faults) {
  harness h;
  size_t n = RUNNING_ON_VALGRIND ? 1500 : 3000;
  size_t counts[2] = {0, 0};
  uint64_t seed = 0x5EED;
  h_init(&h, n, 1);
  burst_plan = calloc(n, sizeof *burst_plan);
  cr_assert_not_null(burst_plan);
  for (size_t i = 0; i < n; i++) {
    int tcp = splitmix(&seed) % 10 < 3;
    uint64_t r = splitmix(&seed);
    burst_plan[i].tcp = tcp;
    burst_plan[i].fault =
        tcp ? tcp_faults[r % (sizeof tcp_faults / sizeof tcp_faults[0])]
            : udp_faults[r % (sizeof udp_faults / sizeof udp_faults[0])];
    counts[tcp]++;
    h.out[i].then = burst_next;
  }
  h_transport(&h, scaled(500), BURST_TRIES);
  /* A window of queries in flight, refilled from the callbacks. */
  h.window = 400;
  for (h.next = 0; h.next < h.window; h.next++)
    burst_send(&h, h.next);
  h_run(&h);
  cr_assert_eq(h.calls, (long)n, "%ld callbacks for %zu queries", h.calls, n);
  size_t seen[5] = {0, 0, 0, 0, 0}; /* ok, timeout, closed, garbage, retried */
  for (size_t i = 0; i < n; i++) {
    const outcome *o = &h.out[i];
    burst_check(&h, i);
    seen[0] += o->status == 0;
    seen[1] += o->status == FO_ETIMEDOUT;
    seen[2] += o->status == FO_EIO && o->detail == FO__DNSX_CLOSED;
    seen[3] += o->status == FO_EIO && o->detail == FO__DNSX_GARBAGE;
    seen[4] += o->tcp && o->status == 0 && o->tries > 1;
  }
  cr_log_info("burst: %zu UDP, %zu TCP; %zu answered, %zu timed out, %zu "
              "closed, %zu garbage, %zu TCP answered on a later connection",
              counts[0], counts[1], seen[0], seen[1], seen[2], seen[3],
              seen[4]);
  for (size_t k = 0; k < 5; k++)
    cr_assert_gt(seen[k], 0, "outcome %zu never happened", k);
  free(burst_plan);
  h_done(&h);
}
