/*
 * test_wire.c - the DNS message codec (lib/dns/wire.h) on hand-built messages:
 * well-formed replies, compression, hostile pointers and lengths, CNAME
 * chains, and the query builder. Messages are assembled byte by byte here,
 * never with the encoder under test, so a bug cannot cancel itself out.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "wire.h"

/* ---- a byte-level message builder ------------------------------------- */

typedef struct msgbuf {
  uint8_t b[8192];
  size_t n;
} msgbuf;

static void u8(msgbuf *m, unsigned v) {
  cr_assert_lt(m->n, sizeof m->b);
  m->b[m->n++] = (uint8_t)v;
}

static void u16(msgbuf *m, unsigned v) {
  u8(m, v >> 8);
  u8(m, v & 0xff);
}

static void u32(msgbuf *m, uint32_t v) {
  u16(m, v >> 16);
  u16(m, v & 0xffff);
}

static void raw(msgbuf *m, const void *p, size_t n) {
  cr_assert_leq(m->n + n, sizeof m->b);
  memcpy(m->b + m->n, p, n);
  m->n += n;
}

static void header(msgbuf *m, unsigned id, unsigned flags, unsigned qd,
                   unsigned an, unsigned ns, unsigned ar) {
  m->n = 0;
  u16(m, id);
  u16(m, flags);
  u16(m, qd);
  u16(m, an);
  u16(m, ns);
  u16(m, ar);
}

/* Labels of a dotted name (no escapes), without the terminating zero. */
static void labels(msgbuf *m, const char *name) {
  while (*name != '\0') {
    const char *dot = strchr(name, '.');
    size_t len = dot ? (size_t)(dot - name) : strlen(name);
    u8(m, (unsigned)len);
    raw(m, name, len);
    name += len + (dot ? 1 : 0);
  }
}

/* A whole uncompressed name; returns its offset for later pointers. */
static size_t name(msgbuf *m, const char *dotted) {
  size_t at = m->n;
  labels(m, dotted);
  u8(m, 0);
  return at;
}

static void ptr(msgbuf *m, size_t to) {
  u16(m, 0xc000u | (unsigned)to);
}

static void question(msgbuf *m, const char *qname, unsigned qtype) {
  name(m, qname);
  u16(m, qtype);
  u16(m, FO__CLASS_IN);
}

/* Type, class IN, TTL; the caller writes rdlength and RDATA. */
static void rr_fixed(msgbuf *m, unsigned type, uint32_t ttl) {
  u16(m, type);
  u16(m, FO__CLASS_IN);
  u32(m, ttl);
}

static void rr_a(msgbuf *m, const char *owner, uint32_t ttl, unsigned a,
                 unsigned b, unsigned c, unsigned d) {
  name(m, owner);
  rr_fixed(m, FO__TYPE_A, ttl);
  u16(m, 4);
  u8(m, a);
  u8(m, b);
  u8(m, c);
  u8(m, d);
}

static void rr_cname(msgbuf *m, const char *owner, uint32_t ttl,
                     const char *target) {
  size_t len_at;
  name(m, owner);
  rr_fixed(m, FO__TYPE_CNAME, ttl);
  len_at = m->n;
  u16(m, 0);
  name(m, target);
  m->b[len_at] = (uint8_t)((m->n - len_at - 2) >> 8);
  m->b[len_at + 1] = (uint8_t)(m->n - len_at - 2);
}

static void set_count(msgbuf *m, size_t at, unsigned v) {
  m->b[at] = (uint8_t)(v >> 8);
  m->b[at + 1] = (uint8_t)v;
}

#define AN_AT 6 /* offset of ANCOUNT in the header */

static fo__dns_msg msg; /* 36 KB: not on Criterion's stack */
static fo__dns_chain chain;

static int parse(const msgbuf *m) {
  return fo__dns_parse(m->b, m->n, &msg);
}

/* Every strict prefix of `m` is malformed, and `m` itself parses. */
static void assert_prefixes_malformed(const msgbuf *m) {
  size_t cut;
  for (cut = 0; cut < m->n; cut++)
    cr_assert_eq(fo__dns_parse(m->b, cut, &msg), FO_EMALFORMED,
                 "prefix of %zu of %zu octets was accepted", cut, m->n);
  cr_assert_eq(fo__dns_parse(m->b, m->n, &msg), 0);
}

/* ---- well-formed replies ------------------------------------------------ */

/* www.example.com A -> 192.0.2.1, authoritative, RD+RA. */
static void plain_a(msgbuf *m) {
  header(m, 0xbeef, 0x8580, 1, 1, 0, 0);
  question(m, "www.example.com", FO__TYPE_A);
  rr_a(m, "www.example.com", 300, 192, 0, 2, 1);
}

Test(wire, plain_a_answer) {
  msgbuf m;
  plain_a(&m);
  cr_assert_eq(parse(&m), 0);
  cr_assert_eq(msg.id, 0xbeef);
  cr_assert_eq(msg.flags, 0x8580);
  cr_assert_eq(msg.qr, 1);
  cr_assert_eq(msg.aa, 1);
  cr_assert_eq(msg.tc, 0);
  cr_assert_eq(msg.rd, 1);
  cr_assert_eq(msg.ra, 1);
  cr_assert_eq(msg.opcode, 0);
  cr_assert_eq(msg.rcode, FO__RCODE_NOERROR);
  cr_assert_eq(msg.qdcount, 1);
  cr_assert_eq(msg.ancount, 1);
  cr_assert_str_eq(msg.qname, "www.example.com");
  cr_assert_eq(msg.qtype, FO__TYPE_A);
  cr_assert_eq(msg.qclass, FO__CLASS_IN);
  cr_assert_eq(msg.answer_count, 1);
  cr_assert_str_eq(msg.answers[0].owner, "www.example.com");
  cr_assert_eq(msg.answers[0].type, FO__TYPE_A);
  cr_assert_eq(msg.answers[0].rclass, FO__CLASS_IN);
  cr_assert_eq(msg.answers[0].ttl, 300);
  cr_assert_eq(msg.answers[0].rdlength, 4);
  cr_assert_str_eq(msg.answers[0].address, "192.0.2.1");
  cr_assert_str_eq(msg.answers[0].target, "");

  fo__dns_follow_chain(&msg, "www.example.com", FO__TYPE_A, &chain);
  cr_assert_eq(chain.hops, 0);
  cr_assert_eq(chain.loop, 0);
  cr_assert_str_eq(chain.names[0], "www.example.com");
  cr_assert_eq(chain.address_count, 1);
  cr_assert_str_eq(chain.addresses[0], "192.0.2.1");
  cr_assert_eq(chain.address_ttl, 300);

  /* Asked for AAAA, the same reply has no addresses. */
  fo__dns_follow_chain(&msg, "www.example.com", FO__TYPE_AAAA, &chain);
  cr_assert_eq(chain.address_count, 0);
  cr_assert_eq(chain.loop, 0);
}

/*
 * www.example.com CNAME web.example.net (target compressed against nothing)
 * web.example.net CNAME lb.<ptr to example.net>
 * lb.example.net  A 192.0.2.10 (ttl 120), A 192.0.2.11 (ttl 60)
 * Owners after the first are pointers to names written earlier.
 */
static void cname_chain(msgbuf *m) {
  size_t q, web, lb, len_at;
  header(m, 7, 0x8400, 1, 4, 0, 0);
  q = m->n;
  question(m, "www.example.com", FO__TYPE_A);

  ptr(m, q); /* owner: www.example.com */
  rr_fixed(m, FO__TYPE_CNAME, 3600);
  len_at = m->n;
  u16(m, 0);
  web = name(m, "web.example.net");
  set_count(m, len_at, (unsigned)(m->n - len_at - 2));

  ptr(m, web); /* owner: web.example.net */
  rr_fixed(m, FO__TYPE_CNAME, 600);
  len_at = m->n;
  u16(m, 0);
  lb = m->n;
  labels(m, "lb");
  ptr(m, web + 4); /* "example.net" inside web.example.net */
  set_count(m, len_at, (unsigned)(m->n - len_at - 2));

  ptr(m, lb);
  rr_fixed(m, FO__TYPE_A, 120);
  u16(m, 4);
  raw(m, "\xc0\x00\x02\x0a", 4);
  ptr(m, lb);
  rr_fixed(m, FO__TYPE_A, 60);
  u16(m, 4);
  raw(m, "\xc0\x00\x02\x0b", 4);
}

Test(wire, cname_chain_with_compression) {
  msgbuf m;
  cname_chain(&m);
  cr_assert_eq(parse(&m), 0);
  cr_assert_eq(msg.answer_count, 4);
  cr_assert_str_eq(msg.answers[0].owner, "www.example.com");
  cr_assert_str_eq(msg.answers[0].target, "web.example.net");
  cr_assert_str_eq(msg.answers[1].owner, "web.example.net");
  cr_assert_str_eq(msg.answers[1].target, "lb.example.net");
  cr_assert_str_eq(msg.answers[2].owner, "lb.example.net");
  cr_assert_str_eq(msg.answers[3].address, "192.0.2.11");

  fo__dns_follow_chain(&msg, "www.example.com", FO__TYPE_A, &chain);
  cr_assert_eq(chain.loop, 0);
  cr_assert_eq(chain.hops, 2);
  cr_assert_str_eq(chain.names[0], "www.example.com");
  cr_assert_str_eq(chain.names[1], "web.example.net");
  cr_assert_str_eq(chain.names[2], "lb.example.net");
  cr_assert_eq(chain.ttls[0], 3600);
  cr_assert_eq(chain.ttls[1], 600);
  cr_assert_eq(chain.address_count, 2);
  cr_assert_str_eq(chain.addresses[0], "192.0.2.10");
  cr_assert_str_eq(chain.addresses[1], "192.0.2.11");
  cr_assert_eq(chain.address_ttl, 60);

  /* Starting in the middle of the chain works too. */
  fo__dns_follow_chain(&msg, "web.example.net.", FO__TYPE_A, &chain);
  cr_assert_eq(chain.hops, 1);
  cr_assert_eq(chain.address_count, 2);
}

Test(wire, mixed_case_names_are_lowered_and_followed) {
  msgbuf m;
  header(&m, 1, 0x8000, 1, 2, 0, 0);
  question(&m, "WwW.ExAmple.COM", FO__TYPE_A);
  rr_cname(&m, "WWW.example.Com", 30, "Web.EXAMPLE.net");
  rr_a(&m, "WEB.example.NET", 40, 198, 51, 100, 7);
  cr_assert_eq(parse(&m), 0);
  cr_assert_str_eq(msg.qname, "www.example.com");
  cr_assert_str_eq(msg.answers[0].owner, "www.example.com");
  cr_assert_str_eq(msg.answers[0].target, "web.example.net");
  cr_assert_str_eq(msg.answers[1].owner, "web.example.net");

  fo__dns_follow_chain(&msg, "WWW.EXAMPLE.COM.", FO__TYPE_A, &chain);
  cr_assert_str_eq(chain.names[0], "www.example.com");
  cr_assert_eq(chain.hops, 1);
  cr_assert_eq(chain.address_count, 1);
  cr_assert_str_eq(chain.addresses[0], "198.51.100.7");
  cr_assert_eq(chain.address_ttl, 40);
}

/* NXDOMAIN for nope.example.com with the zone's SOA in authority
 * (mname and rname compressed against the question). */
static void nxdomain(msgbuf *m) {
  size_t q, len_at;
  header(m, 0x1234, 0x8583, 1, 0, 1, 0);
  q = m->n;
  question(m, "nope.example.com", FO__TYPE_A);
  ptr(m, q + 5); /* example.com */
  rr_fixed(m, FO__TYPE_SOA, 900);
  len_at = m->n;
  u16(m, 0);
  labels(m, "ns1");
  ptr(m, q + 5);
  labels(m, "hostmaster");
  ptr(m, q + 5);
  u32(m, 2024010101);
  u32(m, 7200);
  u32(m, 3600);
  u32(m, 1209600);
  u32(m, 300);
  set_count(m, len_at, (unsigned)(m->n - len_at - 2));
}

Test(wire, nxdomain_with_soa) {
  msgbuf m;
  nxdomain(&m);
  cr_assert_eq(parse(&m), 0);
  cr_assert_eq(msg.rcode, FO__RCODE_NXDOMAIN);
  cr_assert_eq(msg.aa, 1);
  cr_assert_eq(msg.ancount, 0);
  cr_assert_eq(msg.nscount, 1);
  cr_assert_eq(msg.answer_count, 0);
  cr_assert_str_eq(msg.qname, "nope.example.com");
  fo__dns_follow_chain(&msg, "nope.example.com", FO__TYPE_A, &chain);
  cr_assert_eq(chain.hops, 0);
  cr_assert_eq(chain.address_count, 0);
  cr_assert_eq(chain.loop, 0);
}

Test(wire, soa_rdata_must_be_exact) {
  msgbuf m;
  /* The RDATA is 39 octets (ns1+ptr, hostmaster+ptr, 20 fixed); the low
   * octet of its rdlength is 40 from the end. */
  nxdomain(&m);
  cr_assert_eq(m.b[m.n - 40], 39);
  /* One octet too few: the fixed fields come up short. */
  m.b[m.n - 40]--;
  cr_assert_eq(parse(&m), FO_EMALFORMED);
  nxdomain(&m);
  /* One octet too many inside the RDATA. */
  m.b[m.n - 40]++;
  u8(&m, 0);
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, truncated_at_every_offset) {
  msgbuf m;
  plain_a(&m);
  assert_prefixes_malformed(&m);
  cname_chain(&m);
  assert_prefixes_malformed(&m);
  nxdomain(&m);
  assert_prefixes_malformed(&m);
}

Test(wire, header_only_and_short_header) {
  msgbuf m;
  header(&m, 9, 0, 0, 0, 0, 0);
  cr_assert_eq(parse(&m), 0);
  cr_assert_str_eq(msg.qname, "");
  cr_assert_eq(msg.qtype, 0);
  cr_assert_eq(fo__dns_parse(m.b, 11, &msg), FO_EMALFORMED);
  cr_assert_eq(fo__dns_parse(m.b, 0, &msg), FO_EMALFORMED);
}

Test(wire, trailing_garbage_is_ignored) {
  msgbuf m;
  plain_a(&m);
  raw(&m, "\xff\xff\xff", 3);
  cr_assert_eq(parse(&m), 0);
  cr_assert_eq(msg.answer_count, 1);
}

Test(wire, several_questions_keep_the_first) {
  msgbuf m;
  header(&m, 1, 0x8000, 2, 0, 0, 0);
  question(&m, "first.example", FO__TYPE_AAAA);
  question(&m, "second.example", FO__TYPE_A);
  cr_assert_eq(parse(&m), 0);
  cr_assert_eq(msg.qdcount, 2);
  cr_assert_str_eq(msg.qname, "first.example");
  cr_assert_eq(msg.qtype, FO__TYPE_AAAA);
  /* The second question is still checked. */
  m.n -= 3;
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, aaaa_answer_and_high_ttl) {
  msgbuf m;
  static const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                 0,    0,    0,    0,    0, 0, 0, 1};
  header(&m, 1, 0x8000, 1, 1, 0, 0);
  question(&m, "v6.example", FO__TYPE_AAAA);
  name(&m, "v6.example");
  rr_fixed(&m, FO__TYPE_AAAA, 0x80000000u);
  u16(&m, 16);
  raw(&m, v6, 16);
  cr_assert_eq(parse(&m), 0);
  cr_assert_str_eq(msg.answers[0].address, "2001:db8::1");
  /* RFC 2181 8: a TTL with the top bit set reads as zero. */
  cr_assert_eq(msg.answers[0].ttl, 0);
  fo__dns_follow_chain(&msg, "v6.example", FO__TYPE_AAAA, &chain);
  cr_assert_eq(chain.address_count, 1);
  cr_assert_str_eq(chain.addresses[0], "2001:db8::1");
}

/* ---- hostile names --------------------------------------------------- */

Test(wire, pointer_to_itself) {
  msgbuf m;
  header(&m, 1, 0, 1, 0, 0, 0);
  ptr(&m, 12);
  u16(&m, 1);
  u16(&m, 1);
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, pointer_forward) {
  msgbuf m;
  header(&m, 1, 0, 1, 0, 0, 0);
  ptr(&m, 18); /* to the "a" name written after the question */
  u16(&m, 1);
  u16(&m, 1);
  name(&m, "a");
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, pointers_at_each_other) {
  msgbuf m;
  size_t a, b, off;
  char out[FO_NAME_BUFSIZE];
  /* Question "x" then <ptr to b> at a, and at b: <ptr to a>. */
  header(&m, 1, 0x8000, 1, 1, 0, 0);
  question(&m, "x", FO__TYPE_A);
  a = m.n;
  ptr(&m, a + 2);
  b = m.n;
  ptr(&m, a);
  rr_fixed(&m, FO__TYPE_A, 1);
  u16(&m, 4);
  u32(&m, 0);
  /* The owner starts at a (a forward pointer)... */
  cr_assert_eq(parse(&m), FO_EMALFORMED);
  /* ...and read from b, the pointer back to a is fine but a's is not. */
  off = b;
  cr_assert_eq(fo__dns_read_name(m.b, m.n, &off, out), FO_EMALFORMED);
}

Test(wire, pointer_chain_going_back_is_fine) {
  msgbuf m;
  size_t off, c, b, a;
  char out[FO_NAME_BUFSIZE];
  header(&m, 1, 0, 0, 0, 0, 0);
  c = name(&m, "c");
  b = m.n;
  labels(&m, "b");
  ptr(&m, c);
  a = m.n;
  labels(&m, "a");
  ptr(&m, b);
  off = a;
  cr_assert_eq(fo__dns_read_name(m.b, m.n, &off, out), 0);
  cr_assert_str_eq(out, "a.b.c");
  cr_assert_eq(off, m.n);
}

Test(wire, pointer_back_into_current_run_loops) {
  msgbuf m;
  size_t off;
  char out[FO_NAME_BUFSIZE];
  /* "a" then a pointer to "a" itself: later than the run's start - 1. */
  header(&m, 1, 0, 0, 0, 0, 0);
  labels(&m, "a");
  ptr(&m, 12);
  off = 12;
  cr_assert_eq(fo__dns_read_name(m.b, m.n, &off, out), FO_EMALFORMED);
  /* Jump back, then try to jump to where the first jump came from. */
  header(&m, 1, 0, 0, 0, 0, 0);
  labels(&m, "a");     /* 12: "a" */
  ptr(&m, 18);         /* 14: -> 18 (forward from 12's run: refused) */
  labels(&m, "b");     /* 16: "b" */
  ptr(&m, 12);         /* 18: -> 12 */
  off = 16;
  cr_assert_eq(fo__dns_read_name(m.b, m.n, &off, out), FO_EMALFORMED);
}

/* Pointers only, no labels: the name-length limit never trips, so only the
 * "strictly before the run's start" rule ends this. */
Test(wire, pointer_only_cycle_behind_the_start, .timeout = 10) {
  msgbuf m;
  size_t off;
  char out[FO_NAME_BUFSIZE];
  header(&m, 1, 0, 0, 0, 0, 0);
  ptr(&m, 14); /* 12 -> 14 */
  ptr(&m, 12); /* 14 -> 12 */
  ptr(&m, 14); /* 16 -> 14 */
  off = 16;
  cr_assert_eq(fo__dns_read_name(m.b, m.n, &off, out), FO_EMALFORMED);
}

Test(wire, pointer_past_the_end) {
  msgbuf m;
  header(&m, 1, 0, 1, 0, 0, 0);
  ptr(&m, 0x3fff);
  u16(&m, 1);
  u16(&m, 1);
  cr_assert_eq(parse(&m), FO_EMALFORMED);
  /* Half a pointer as the last octet. */
  header(&m, 1, 0, 1, 0, 0, 0);
  u8(&m, 0xc0);
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, pointer_in_rdata_past_the_end) {
  msgbuf m;
  header(&m, 1, 0x8000, 0, 1, 0, 0);
  name(&m, "a");
  rr_fixed(&m, FO__TYPE_CNAME, 1);
  u16(&m, 2);
  ptr(&m, 0x300);
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, label_types_and_63_octet_label) {
  msgbuf m;
  char label[64];
  memset(label, 'x', 63);
  label[63] = '\0';
  header(&m, 1, 0, 1, 0, 0, 0);
  question(&m, label, FO__TYPE_A);
  cr_assert_eq(parse(&m), 0);
  cr_assert_eq(strlen(msg.qname), 63);

  /* Length octet 64 is the 0x40 label type; 0x80 is reserved. */
  header(&m, 1, 0, 1, 0, 0, 0);
  u8(&m, 64);
  for (int i = 0; i < 64; i++)
    u8(&m, 'x');
  u8(&m, 0);
  u16(&m, 1);
  u16(&m, 1);
  cr_assert_eq(parse(&m), FO_EMALFORMED);
  m.b[12] = 0x80;
  cr_assert_eq(parse(&m), FO_EMALFORMED);
  m.b[12] = 0x41;
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

/* A name of `wire` octets on the wire: 63-octet labels then one shorter
 * label (never of length 0), then the root. */
static void long_name(msgbuf *m, size_t wire) {
  size_t left = wire - 1;
  while (left > 0) {
    size_t lab = left > 64 ? 63 : left - 1;
    if (left > 64 && left - 64 == 1)
      lab = 61; /* leave room for a 1-octet label, not an empty one */
    u8(m, (unsigned)lab);
    for (size_t i = 0; i < lab; i++)
      u8(m, 'a' + (unsigned)(i % 26));
    left -= lab + 1;
  }
  u8(m, 0);
}

Test(wire, name_of_255_and_256_octets) {
  msgbuf m;
  header(&m, 1, 0, 1, 0, 0, 0);
  long_name(&m, 255);
  cr_assert_eq(m.n, 12 + 255);
  u16(&m, 1);
  u16(&m, 1);
  cr_assert_eq(parse(&m), 0);
  cr_assert_eq(strlen(msg.qname), 253);

  header(&m, 1, 0, 1, 0, 0, 0);
  long_name(&m, 256);
  cr_assert_eq(m.n, 12 + 256);
  u16(&m, 1);
  u16(&m, 1);
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, name_too_long_through_pointers) {
  msgbuf m;
  size_t first;
  /* 200 octets of labels, then a pointer to a name of 100: 300 in all. */
  header(&m, 1, 0, 1, 0, 0, 0);
  first = m.n;
  long_name(&m, 100);
  u16(&m, 1);
  u16(&m, 1);
  m.b[11] = 1; /* one additional record, owner built below */
  long_name(&m, 201);
  m.n--; /* drop its root: the pointer ends the name instead */
  ptr(&m, first);
  rr_fixed(&m, 99, 0);
  u16(&m, 0);
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, read_name_escapes_hostile_labels) {
  msgbuf m;
  size_t off;
  char out[FO_NAME_BUFSIZE];
  uint8_t back[300];
  header(&m, 1, 0, 0, 0, 0, 0);
  /* "A.b" as ONE label, then "_Srv", "x\\y" with a backslash, a 0xff. */
  raw(&m, "\x03" "A.b" "\x04" "_Srv" "\x03" "x\\y" "\x01" "\xff" "\x00", 16);
  off = 12;
  cr_assert_eq(fo__dns_read_name(m.b, m.n, &off, out), 0);
  cr_assert_str_eq(out, "a\\046b._srv.x\\092y.\\255");
  cr_assert_eq(off, m.n);

  /* The text writes back to the same labels (lowercased). */
  cr_assert_eq(fo__dns_write_name(out, back, sizeof back), 16);
  cr_assert_eq(memcmp(back, "\x03" "a.b" "\x04" "_srv" "\x03" "x\\y"
                            "\x01" "\xff" "\x00", 16), 0);

  /* The root. */
  header(&m, 1, 0, 0, 0, 0, 0);
  u8(&m, 0);
  off = 12;
  cr_assert_eq(fo__dns_read_name(m.b, m.n, &off, out), 0);
  cr_assert_str_eq(out, "");
  cr_assert_eq(off, 13);

  /* Out of range offsets. */
  off = m.n;
  cr_assert_eq(fo__dns_read_name(m.b, m.n, &off, out), FO_EMALFORMED);
}

Test(wire, escaped_text_too_long_for_the_buffer) {
  msgbuf m;
  size_t off;
  char out[FO_NAME_BUFSIZE];
  /* 100 octets of 0x01 (4 characters each once escaped): fine on the wire,
   * unrepresentable as text. read_name refuses it; in the additional
   * section, where nothing is decoded, the message is still fine. */
  header(&m, 1, 0, 0, 0, 0, 1);
  u8(&m, 50);
  for (int i = 0; i < 50; i++)
    u8(&m, 1);
  u8(&m, 50);
  for (int i = 0; i < 50; i++)
    u8(&m, 1);
  u8(&m, 0);
  rr_fixed(&m, 99, 0);
  u16(&m, 0);
  off = 12;
  cr_assert_eq(fo__dns_read_name(m.b, m.n, &off, out), FO_EMALFORMED);
  cr_assert_eq(parse(&m), 0);
  /* As an answer owner it would have to be decoded. */
  m.b[7] = 1;
  m.b[11] = 0;
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

/* ---- RDATA ----------------------------------------------------------- */

static void a_with_rdlength(msgbuf *m, unsigned type, unsigned rdlen) {
  header(m, 1, 0x8000, 1, 1, 0, 0);
  question(m, "h.example", type);
  name(m, "h.example");
  rr_fixed(m, type, 60);
  u16(m, rdlen);
  for (unsigned i = 0; i < rdlen; i++)
    u8(m, i);
}

Test(wire, wrong_address_lengths) {
  msgbuf m;
  static const unsigned bad_a[] = {0, 3, 5, 16};
  static const unsigned bad_aaaa[] = {0, 4, 15, 17};
  for (size_t i = 0; i < 4; i++) {
    a_with_rdlength(&m, FO__TYPE_A, bad_a[i]);
    cr_assert_eq(parse(&m), FO_EMALFORMED, "A rdlength %u", bad_a[i]);
    a_with_rdlength(&m, FO__TYPE_AAAA, bad_aaaa[i]);
    cr_assert_eq(parse(&m), FO_EMALFORMED, "AAAA rdlength %u", bad_aaaa[i]);
  }
  a_with_rdlength(&m, FO__TYPE_A, 4);
  cr_assert_eq(parse(&m), 0);
  cr_assert_str_eq(msg.answers[0].address, "0.1.2.3");
  a_with_rdlength(&m, FO__TYPE_AAAA, 16);
  cr_assert_eq(parse(&m), 0);
  cr_assert_str_eq(msg.answers[0].address, "1:203:405:607:809:a0b:c0d:e0f");
}

Test(wire, wrong_lengths_in_other_sections) {
  msgbuf m;
  a_with_rdlength(&m, FO__TYPE_A, 5);
  /* The same bad record as an additional one. */
  m.b[7] = 0;
  m.b[11] = 1;
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, rdata_beyond_the_message) {
  msgbuf m;
  a_with_rdlength(&m, FO__TYPE_A, 4);
  m.n--;
  cr_assert_eq(parse(&m), FO_EMALFORMED);
  a_with_rdlength(&m, 99, 10);
  m.b[m.n - 11] = 11; /* rdlength one more than there is */
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, cname_must_fill_its_rdata) {
  msgbuf m;
  size_t len_at;

  /* rdlength one too long: the next octet would be swallowed. */
  header(&m, 1, 0x8000, 0, 1, 0, 0);
  name(&m, "a.example");
  rr_fixed(&m, FO__TYPE_CNAME, 5);
  len_at = m.n;
  u16(&m, 0);
  name(&m, "b.example");
  set_count(&m, len_at, (unsigned)(m.n - len_at - 2 + 1));
  u8(&m, 0);
  cr_assert_eq(parse(&m), FO_EMALFORMED);

  /* rdlength one too short: the name runs past the RDATA. */
  m.n--;
  set_count(&m, len_at, (unsigned)(m.n - len_at - 2 - 1));
  cr_assert_eq(parse(&m), FO_EMALFORMED);

  /* Exactly right. */
  set_count(&m, len_at, (unsigned)(m.n - len_at - 2));
  cr_assert_eq(parse(&m), 0);
  cr_assert_str_eq(msg.answers[0].target, "b.example");
}

/* ---- chains ---------------------------------------------------------- */

Test(wire, cname_loop) {
  msgbuf m;
  header(&m, 1, 0x8000, 1, 4, 0, 0);
  question(&m, "a.example", FO__TYPE_A);
  rr_cname(&m, "a.example", 10, "b.example");
  rr_cname(&m, "b.example", 10, "A.EXAMPLE");
  rr_a(&m, "a.example", 10, 192, 0, 2, 1);
  rr_a(&m, "b.example", 10, 192, 0, 2, 2);
  cr_assert_eq(parse(&m), 0);
  fo__dns_follow_chain(&msg, "a.example", FO__TYPE_A, &chain);
  cr_assert_eq(chain.loop, 1);
  cr_assert_eq(chain.hops, 1);
  cr_assert_eq(chain.address_count, 0);

  /* A name that is its own CNAME. */
  header(&m, 1, 0x8000, 1, 1, 0, 0);
  question(&m, "self.example", FO__TYPE_A);
  rr_cname(&m, "self.example", 10, "self.example");
  cr_assert_eq(parse(&m), 0);
  fo__dns_follow_chain(&msg, "self.example", FO__TYPE_A, &chain);
  cr_assert_eq(chain.loop, 1);
  cr_assert_eq(chain.hops, 0);
}

/* n0 -> n1 -> ... -> n<hops>, and an A record at the end. */
static void long_chain(msgbuf *m, unsigned hops) {
  char owner[32], target[32];
  header(m, 1, 0x8000, 1, (unsigned)hops + 1, 0, 0);
  question(m, "n0.example", FO__TYPE_A);
  for (unsigned i = 0; i < hops; i++) {
    snprintf(owner, sizeof owner, "n%u.example", i);
    snprintf(target, sizeof target, "n%u.example", i + 1);
    rr_cname(m, owner, 100 + i, target);
  }
  snprintf(owner, sizeof owner, "n%u.example", hops);
  rr_a(m, owner, 5, 203, 0, 113, 1);
}

Test(wire, chain_of_16_hops_is_followed) {
  msgbuf m;
  long_chain(&m, FO__DNS_MAX_CHAIN);
  cr_assert_eq(parse(&m), 0);
  fo__dns_follow_chain(&msg, "n0.example", FO__TYPE_A, &chain);
  cr_assert_eq(chain.loop, 0);
  cr_assert_eq(chain.hops, 16);
  cr_assert_str_eq(chain.names[16], "n16.example");
  cr_assert_eq(chain.ttls[15], 115);
  cr_assert_eq(chain.address_count, 1);
  cr_assert_eq(chain.address_ttl, 5);
}

Test(wire, chain_of_17_hops_is_too_long) {
  msgbuf m;
  long_chain(&m, FO__DNS_MAX_CHAIN + 1);
  cr_assert_eq(parse(&m), 0);
  fo__dns_follow_chain(&msg, "n0.example", FO__TYPE_A, &chain);
  cr_assert_eq(chain.loop, 1);
  cr_assert_eq(chain.hops, 16);
  cr_assert_eq(chain.address_count, 0);
}

Test(wire, more_than_64_answers) {
  msgbuf m;
  header(&m, 1, 0x8000, 1, 70, 0, 0);
  question(&m, "many.example", FO__TYPE_A);
  for (unsigned i = 0; i < 70; i++) {
    ptr(&m, 12);
    rr_fixed(&m, FO__TYPE_A, 1000 - i);
    u16(&m, 4);
    u8(&m, 10);
    u8(&m, 0);
    u8(&m, 0);
    u8(&m, i);
  }
  cr_assert_eq(parse(&m), 0);
  cr_assert_eq(msg.ancount, 70);
  cr_assert_eq(msg.answer_count, FO__DNS_MAX_ANSWERS);
  cr_assert_str_eq(msg.answers[63].address, "10.0.0.63");
  fo__dns_follow_chain(&msg, "many.example", FO__TYPE_A, &chain);
  cr_assert_eq(chain.address_count, 64);
  cr_assert_eq(chain.address_ttl, 1000 - 63);

  /* Answers beyond the kept ones are still checked. */
  m.b[m.n - 5] = 5;
  u8(&m, 0);
  cr_assert_eq(parse(&m), FO_EMALFORMED);
}

Test(wire, chain_ignores_other_classes_and_null_input) {
  msgbuf m;
  header(&m, 1, 0x8000, 1, 1, 0, 0);
  question(&m, "c.example", FO__TYPE_A);
  name(&m, "c.example");
  u16(&m, FO__TYPE_A);
  u16(&m, 3); /* CH */
  u32(&m, 1);
  u16(&m, 4);
  u32(&m, 0x01020304);
  cr_assert_eq(parse(&m), 0);
  fo__dns_follow_chain(&msg, "c.example", FO__TYPE_A, &chain);
  cr_assert_eq(chain.address_count, 0);
  fo__dns_follow_chain(&msg, NULL, FO__TYPE_A, &chain);
  cr_assert_eq(chain.address_count, 0);
  cr_assert_eq(chain.hops, 0);
}

/* ---- building -------------------------------------------------------- */

Test(wire, query_round_trip) {
  uint8_t q[512];
  int n = fo__dns_build_query(0xabcd, "Www.Example.COM.", FO__TYPE_AAAA, 1, q,
                              sizeof q);
  cr_assert_eq(n, 12 + 17 + 4);
  cr_assert_eq(fo__dns_parse(q, (size_t)n, &msg), 0);
  cr_assert_eq(msg.id, 0xabcd);
  cr_assert_eq(msg.qr, 0);
  cr_assert_eq(msg.opcode, 0);
  cr_assert_eq(msg.rd, 1);
  cr_assert_eq(msg.flags, 0x0100);
  cr_assert_eq(msg.qdcount, 1);
  cr_assert_eq(msg.ancount + msg.nscount + msg.arcount, 0);
  cr_assert_str_eq(msg.qname, "www.example.com");
  cr_assert_eq(msg.qtype, FO__TYPE_AAAA);
  cr_assert_eq(msg.qclass, FO__CLASS_IN);
  /* The name goes out as given: case is preserved on the wire. */
  cr_assert_eq(memcmp(q + 12, "\x03Www\x07" "Example\x03" "COM\x00", 17), 0);

  n = fo__dns_build_query(1, "a.example", FO__TYPE_A, 0, q, sizeof q);
  cr_assert_gt(n, 0);
  cr_assert_eq(fo__dns_parse(q, (size_t)n, &msg), 0);
  cr_assert_eq(msg.rd, 0);
  cr_assert_eq(msg.flags, 0);

  /* Exactly enough room, and one octet less. */
  cr_assert_eq(fo__dns_build_query(1, "a.example", FO__TYPE_A, 0, q, 27), 27);
  cr_assert_eq(fo__dns_build_query(1, "a.example", FO__TYPE_A, 0, q, 26),
               FO_ENOSPC);
  cr_assert_eq(fo__dns_build_query(1, "a..example", FO__TYPE_A, 0, q, 512),
               FO_EBADNAME);
}

Test(wire, write_name) {
  uint8_t w[300];
  char lab64[80], big[400];
  cr_assert_eq(fo__dns_write_name("", w, sizeof w), 1);
  cr_assert_eq(w[0], 0);
  cr_assert_eq(fo__dns_write_name(".", w, sizeof w), 1);
  cr_assert_eq(fo__dns_write_name("a.b", w, sizeof w), 5);
  cr_assert_eq(memcmp(w, "\x01" "a\x01" "b\x00", 5), 0);
  cr_assert_eq(fo__dns_write_name("a.b.", w, sizeof w), 5);
  cr_assert_eq(fo__dns_write_name("a\\.b", w, sizeof w), 5);
  cr_assert_eq(memcmp(w, "\x03" "a.b\x00", 5), 0);
  cr_assert_eq(fo__dns_write_name("\\000\\255", w, sizeof w), 4);
  cr_assert_eq(memcmp(w, "\x02\x00\xff\x00", 4), 0);

  cr_assert_eq(fo__dns_write_name("a..b", w, sizeof w), FO_EBADNAME);
  cr_assert_eq(fo__dns_write_name(".a", w, sizeof w), FO_EBADNAME);
  cr_assert_eq(fo__dns_write_name("..", w, sizeof w), FO_EBADNAME);
  cr_assert_eq(fo__dns_write_name("a b", w, sizeof w), FO_EBADNAME);
  cr_assert_eq(fo__dns_write_name("a\\", w, sizeof w), FO_EBADNAME);
  cr_assert_eq(fo__dns_write_name("a\\25", w, sizeof w), FO_EBADNAME);
  cr_assert_eq(fo__dns_write_name("a\\256", w, sizeof w), FO_EBADNAME);
  cr_assert_eq(fo__dns_write_name("caf\xc3\xa9", w, sizeof w), FO_EBADNAME);
  cr_assert_eq(fo__dns_write_name(NULL, w, sizeof w), FO_EINVAL);

  memset(lab64, 'x', 64);
  lab64[64] = '\0';
  cr_assert_eq(fo__dns_write_name(lab64, w, sizeof w), FO_ENAMETOOLONG);
  lab64[63] = '\0';
  cr_assert_eq(fo__dns_write_name(lab64, w, sizeof w), 65);

  /* 253 characters is 255 octets; 254 is too long. */
  for (size_t i = 0; i < 253; i++)
    big[i] = (i % 64 == 63) ? '.' : 'y';
  big[253] = '\0';
  cr_assert_eq(fo__dns_write_name(big, w, sizeof w), 255);
  big[253] = 'z';
  big[254] = '\0';
  cr_assert_eq(fo__dns_write_name(big, w, sizeof w), FO_ENAMETOOLONG);
  /* Far too long, and syntax errors still win over length. */
  memset(big, 'q', 399);
  big[399] = '\0';
  cr_assert_eq(fo__dns_write_name(big, w, sizeof w), FO_ENAMETOOLONG);
  big[390] = ' ';
  cr_assert_eq(fo__dns_write_name(big, w, sizeof w), FO_EBADNAME);

  /* Buffer too small: nothing written past it. */
  memset(w, 0xee, sizeof w);
  cr_assert_eq(fo__dns_write_name("abc.def", w, 8), FO_ENOSPC);
  cr_assert_eq(w[0], 0xee);
  cr_assert_eq(fo__dns_write_name("abc.def", w, 9), 9);
  cr_assert_eq(fo__dns_write_name("abc.def", NULL, 0), FO_ENOSPC);
}
