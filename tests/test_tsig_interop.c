/*
 * test_tsig_interop.c - UPDATE messages from lib/dns/update.h, signed with
 * lib/dns/tsig.h, sent over plain UDP to a real knotd and a real named on
 * loopback; their signed replies verified with fo__tsig_verify(), and the
 * records looked up afterwards. Also what the servers say to a wrong
 * secret, an unknown key, a stale clock and no signature at all.
 *
 * Both servers start once, in the Criterion runner (ReportHook PRE_ALL),
 * and reach the workers through the environment (ft_dns_export, tags K
 * and B), as in tests/support/verify_scenarios.c.
 */
#define _POSIX_C_SOURCE 200809L

#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns_fixture.h"
#include "support.h"
#include "tsig.h"
#include "update.h"

static ft_dns_server knot_srv, bind_srv;

ReportHook(PRE_ALL)(struct criterion_test_set *set) {
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  static const char *const records[] = {"taken 60 A 192.0.2.99", NULL};
  (void)set;
  if (getenv("FT_DNS_K_PORT") != NULL)
    return; /* a worker */
  cfg.records = records;
  if (ft_dns_start(&knot_srv, FT_DNS_KNOT, &cfg) == 0)
    ft_dns_export(&knot_srv, "K");
  else
    setenv("FT_TI_ERROR_K", knot_srv.error, 1);
  if (ft_dns_start(&bind_srv, FT_DNS_BIND, &cfg) == 0)
    ft_dns_export(&bind_srv, "B");
  else
    setenv("FT_TI_ERROR_B", bind_srv.error, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats) {
  (void)stats;
  ft_dns_signal_stop(&knot_srv);
  ft_dns_signal_stop(&bind_srv);
  ft_dns_stop(&knot_srv);
  ft_dns_stop(&bind_srv);
}

static void server(ft_dns_server *srv, ft_dns_kind kind) {
  const char *tag = kind == FT_DNS_KNOT ? "K" : "B";
  if (ft_dns_import(srv, tag) != 0) {
    const char *why =
        getenv(kind == FT_DNS_KNOT ? "FT_TI_ERROR_K" : "FT_TI_ERROR_B");
    cr_assert_fail("%s did not start: %s",
                   kind == FT_DNS_KNOT ? "knotd" : "named", why ? why : "?");
  }
}

static uint64_t now(void) {
  return (uint64_t)time(NULL);
}

/* One UDP exchange with 127.0.0.1:port; a lost datagram is sent again. */
static size_t exchange(int port, const uint8_t *msg, size_t len,
                       uint8_t *reply, size_t cap) {
  struct sockaddr_in sa;
  int fd = socket(AF_INET, SOCK_DGRAM, 0), tries;
  cr_assert_geq(fd, 0);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  for (tries = 0; tries < 3; tries++) {
    struct pollfd p = {fd, POLLIN, 0};
    cr_assert_eq(send(fd, msg, len, 0), (ssize_t)len);
    while (poll(&p, 1, 2000) == 1) {
      ssize_t n = recv(fd, reply, cap, 0);
      /* Only the reply to this message (same ID). */
      if (n >= FO__DNS_HEADER_LEN && memcmp(reply, msg, 2) == 0) {
        close(fd);
        return (size_t)n;
      }
    }
  }
  close(fd);
  cr_assert_fail("no reply from 127.0.0.1:%d", port);
  return 0;
}

static uint16_t next_id(void) {
  static uint16_t id;
  if (id == 0)
    id = (uint16_t)(getpid() * 31u + (unsigned)time(NULL));
  return ++id;
}

typedef struct result {
  unsigned rcode;
  int verify;
  uint8_t reply[4096];
  size_t len;
} result;

/* Finish, sign (unless key is NULL), send, verify. */
static result send_update(const ft_dns_server *srv, fo__update *u,
                          const fo__tsig_key *key, uint64_t signed_at) {
  result r;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t len = fo__update_finish(u), mac_len = 0;
  fo__dns_msg msg;
  cr_assert_gt(len, 0);
  if (key != NULL)
    FT_OK(fo__tsig_sign(key, u->buf, &len, u->cap, signed_at, mac, &mac_len));
  r.len = exchange(srv->port, u->buf, len, r.reply, sizeof r.reply);
  FT_OK(fo__dns_parse(r.reply, r.len, &msg));
  cr_assert(msg.qr);
  cr_assert_eq(msg.opcode, FO__OPCODE_UPDATE);
  r.rcode = msg.rcode;
  r.verify = key != NULL
                 ? fo__tsig_verify(key, r.reply, r.len, mac, mac_len, now())
                 : FO_EUNSIGNED;
  return r;
}

/* The first answer of `qtype` for `name` ("" when none), and the RCODE. */
static unsigned lookup(const ft_dns_server *srv, const char *name,
                       uint16_t qtype, char out[FO_NAME_BUFSIZE]) {
  uint8_t q[512], reply[4096];
  fo__dns_msg msg;
  size_t i, n;
  int qlen = fo__dns_build_query(next_id(), name, qtype, 0, q, sizeof q);
  cr_assert_gt(qlen, 0);
  n = exchange(srv->port, q, (size_t)qlen, reply, sizeof reply);
  FT_OK(fo__dns_parse(reply, n, &msg));
  cr_assert(msg.aa, "%s is not authoritative for %s", srv->conf, name);
  out[0] = '\0';
  for (i = 0; i < msg.answer_count; i++)
    if (msg.answers[i].type == qtype) {
      snprintf(out, FO_NAME_BUFSIZE, "%s",
               qtype == FO__TYPE_CNAME ? msg.answers[i].target
                                       : msg.answers[i].address);
      break;
    }
  return msg.rcode;
}

static void name_in_zone(char *out, const ft_dns_server *srv,
                         const char *label) {
  int n = snprintf(out, FO_NAME_BUFSIZE, "%s.%s", label, srv->zone);
  cr_assert(n > 0 && n < FO_NAME_BUFSIZE);
}

static void server_key(const ft_dns_server *srv, fo__tsig_key *key) {
  FT_OK(fo__tsig_key_init(key, srv->key_name, "hmac-sha256",
                          srv->key_secret));
}

static void signed_update(ft_dns_kind kind) {
  ft_dns_server srv;
  fo__tsig_key key;
  fo__update u;
  uint8_t buf[1024];
  char host[FO_NAME_BUFSIZE], alias[FO_NAME_BUFSIZE], got[FO_NAME_BUFSIZE];
  result r;
  server(&srv, kind);
  server_key(&srv, &key);
  name_in_zone(host, &srv, "tsig-host");
  name_in_zone(alias, &srv, "tsig-alias");

  /* Add A, AAAA and a CNAME, on condition the names are free. */
  FT_OK(fo__update_begin(&u, buf, sizeof buf, next_id(), srv.zone));
  FT_OK(fo__update_prereq_name_not_in_use(&u, host));
  FT_OK(fo__update_prereq_name_not_in_use(&u, alias));
  FT_OK(fo__update_add(&u, host, FO__TYPE_A, 60, "192.0.2.10"));
  FT_OK(fo__update_add(&u, host, FO__TYPE_AAAA, 60, "2001:db8::10"));
  FT_OK(fo__update_add(&u, alias, FO__TYPE_CNAME, 120, "web.example.org."));
  r = send_update(&srv, &u, &key, now());
  FT_OK(r.verify);
  cr_assert_eq(r.rcode, FO__RCODE_NOERROR);
  cr_assert_eq(lookup(&srv, host, FO__TYPE_A, got), FO__RCODE_NOERROR);
  cr_assert_str_eq(got, "192.0.2.10");
  lookup(&srv, host, FO__TYPE_AAAA, got);
  cr_assert_str_eq(got, "2001:db8::10");
  lookup(&srv, alias, FO__TYPE_CNAME, got);
  cr_assert_str_eq(got, "web.example.org");

  /* The same again: its prerequisite fails (YXDOMAIN), signed. */
  FT_OK(fo__update_begin(&u, buf, sizeof buf, next_id(), srv.zone));
  FT_OK(fo__update_prereq_name_not_in_use(&u, host));
  FT_OK(fo__update_add(&u, host, FO__TYPE_A, 60, "192.0.2.11"));
  r = send_update(&srv, &u, &key, now());
  FT_OK(r.verify);
  cr_assert_eq(r.rcode, 6 /* YXDOMAIN */);

  /* Delete the A RRset and the whole alias name. */
  FT_OK(fo__update_begin(&u, buf, sizeof buf, next_id(), srv.zone));
  FT_OK(fo__update_prereq_name_in_use(&u, host));
  FT_OK(fo__update_delete_rrset(&u, host, FO__TYPE_A));
  FT_OK(fo__update_delete_name(&u, alias));
  r = send_update(&srv, &u, &key, now());
  FT_OK(r.verify);
  cr_assert_eq(r.rcode, FO__RCODE_NOERROR);
  cr_assert_eq(lookup(&srv, host, FO__TYPE_A, got), FO__RCODE_NOERROR);
  cr_assert_str_eq(got, "");
  lookup(&srv, host, FO__TYPE_AAAA, got);
  cr_assert_str_eq(got, "2001:db8::10");
  cr_assert_eq(lookup(&srv, alias, FO__TYPE_CNAME, got),
               FO__RCODE_NXDOMAIN);
  fo__tsig_key_wipe(&key);
}

/* An update of `taken` that must not happen. */
static result refused_update(const ft_dns_server *srv,
                             const fo__tsig_key *key, uint64_t signed_at) {
  fo__update u;
  uint8_t buf[1024];
  char host[FO_NAME_BUFSIZE], got[FO_NAME_BUFSIZE];
  result r;
  name_in_zone(host, srv, "taken");
  FT_OK(fo__update_begin(&u, buf, sizeof buf, next_id(), srv->zone));
  FT_OK(fo__update_delete_rrset(&u, host, FO__TYPE_A));
  r = send_update(srv, &u, key, signed_at);
  lookup(srv, host, FO__TYPE_A, got);
  cr_assert_str_eq(got, "192.0.2.99");
  return r;
}

static void wrong_secret(ft_dns_kind kind) {
  ft_dns_server srv;
  fo__tsig_key key;
  result r;
  server(&srv, kind);
  /* Right name, another secret: BADSIG, unsigned. */
  FT_OK(fo__tsig_key_init(&key, srv.key_name, "hmac-sha256",
                          "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw=="));
  r = refused_update(&srv, &key, now());
  cr_assert_eq(r.rcode, FO__RCODE_NOTAUTH);
  FT_RC(r.verify, FO_EBADSIG);
}

static void unknown_key(ft_dns_kind kind) {
  ft_dns_server srv;
  fo__tsig_key key;
  result r;
  server(&srv, kind);
  FT_OK(fo__tsig_key_init(&key, "no-such-key", "hmac-sha256",
                          srv.key_secret));
  r = refused_update(&srv, &key, now());
  cr_assert_eq(r.rcode, FO__RCODE_NOTAUTH);
  FT_RC(r.verify, FO_EBADKEY);
}

static void stale_clock(ft_dns_kind kind) {
  ft_dns_server srv;
  fo__tsig_key key;
  result r;
  server(&srv, kind);
  server_key(&srv, &key);
  /* Signed an hour ago: the server answers BADTIME, signed. */
  r = refused_update(&srv, &key, now() - 3600);
  cr_assert_eq(r.rcode, FO__RCODE_NOTAUTH);
  FT_RC(r.verify, FO_EBADTIME);
}

static void unsigned_update(ft_dns_kind kind) {
  ft_dns_server srv;
  result r;
  server(&srv, kind);
  r = refused_update(&srv, NULL, 0);
  cr_assert_eq(r.rcode, kind == FT_DNS_KNOT ? FO__RCODE_NOTAUTH
                                            : FO__RCODE_REFUSED);
  {
    /* And the unsigned answer, checked as if we had signed. */
    fo__tsig_key key;
    uint8_t mac[32] = {0};
    server_key(&srv, &key);
    FT_RC(fo__tsig_verify(&key, r.reply, r.len, mac, sizeof mac, now()),
          FO_EUNSIGNED);
  }
}

Test(tsig_knot, signed_update, .timeout = 30) { signed_update(FT_DNS_KNOT); }
Test(tsig_knot, wrong_secret, .timeout = 30) { wrong_secret(FT_DNS_KNOT); }
Test(tsig_knot, unknown_key, .timeout = 30) { unknown_key(FT_DNS_KNOT); }
Test(tsig_knot, stale_clock, .timeout = 30) { stale_clock(FT_DNS_KNOT); }
Test(tsig_knot, unsigned_update, .timeout = 30) {
  unsigned_update(FT_DNS_KNOT);
}
Test(tsig_bind, signed_update, .timeout = 30) { signed_update(FT_DNS_BIND); }
Test(tsig_bind, wrong_secret, .timeout = 30) { wrong_secret(FT_DNS_BIND); }
Test(tsig_bind, unknown_key, .timeout = 30) { unknown_key(FT_DNS_BIND); }
Test(tsig_bind, stale_clock, .timeout = 30) { stale_clock(FT_DNS_BIND); }
Test(tsig_bind, unsigned_update, .timeout = 30) {
  unsigned_update(FT_DNS_BIND);
}
