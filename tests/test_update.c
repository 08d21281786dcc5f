/*
 * test_update.c - the RFC 2136 UPDATE builder (lib/dns/update.h) and the RR
 * walker (fo__dns_each_rr): byte-exact messages written out by hand here,
 * marks and rollback, FO_ENOSPC leaving a usable builder.
 */
#include <criterion/criterion.h>

#include <string.h>

#include "support.h"
#include "update.h"

#define ZONE_WIRE 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0
#define A_WIRE 1, 'a', ZONE_WIRE

/* Zone example.com, ID 0x1234: name a not in use, then delete its CNAME,
 * add A and AAAA, add a CNAME at b. */
static const uint8_t expected[] = {
    0x12, 0x34, 0x28, 0x00, 0, 1, 0, 1, 0, 4, 0, 0, /* header */
    ZONE_WIRE, 0, 6, 0, 1,                          /* zone SOA IN */
    A_WIRE, 0, 255, 0, 254, 0, 0, 0, 0, 0, 0,       /* NONE ANY */
    A_WIRE, 0, 5, 0, 255, 0, 0, 0, 0, 0, 0,         /* ANY CNAME */
    A_WIRE, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1,
    A_WIRE, 0, 28, 0, 1, 0, 0, 0x0e, 0x10, 0, 16,
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
    1, 'b', ZONE_WIRE, 0, 5, 0, 1, 0, 0, 1, 0, 0, 8,
    3, 'w', 'e', 'b', 2, 'n', 'l', 0};

static size_t build_expected(uint8_t *buf, size_t cap) {
  fo__update u;
  FT_OK(fo__update_begin(&u, buf, cap, 0x1234, "example.com."));
  FT_OK(fo__update_prereq_name_not_in_use(&u, "a.example.com"));
  FT_OK(fo__update_delete_rrset(&u, "a.example.com", FO__TYPE_CNAME));
  FT_OK(fo__update_add(&u, "a.example.com", FO__TYPE_A, 60, "192.0.2.1"));
  FT_OK(fo__update_add(&u, "a.example.com.", FO__TYPE_AAAA, 3600,
                       "2001:db8::1"));
  FT_OK(fo__update_add(&u, "b.example.com", FO__TYPE_CNAME, 256, "web.nl."));
  return fo__update_finish(&u);
}

Test(update, byte_exact) {
  uint8_t buf[512];
  size_t n;
  memset(buf, 0xee, sizeof buf);
  n = build_expected(buf, sizeof buf);
  cr_assert_eq(n, sizeof expected);
  cr_assert_eq(memcmp(buf, expected, n), 0);
}

Test(update, exact_fit_and_enospc_everywhere) {
  uint8_t full[512], buf[512];
  size_t n = build_expected(full, sizeof full), cap;
  cr_assert_eq(build_expected(buf, n), n);
  /* Every smaller buffer fails at some step with FO_ENOSPC and the
   * message finished there is a valid prefix of the full one. */
  for (cap = 0; cap < n; cap++) {
    fo__update u;
    int rc = fo__update_begin(&u, buf, cap, 0x1234, "example.com");
    size_t got;
    if (rc == 0)
      rc = fo__update_prereq_name_not_in_use(&u, "a.example.com");
    if (rc == 0)
      rc = fo__update_delete_rrset(&u, "a.example.com", FO__TYPE_CNAME);
    if (rc == 0)
      rc = fo__update_add(&u, "a.example.com", FO__TYPE_A, 60, "192.0.2.1");
    if (rc == 0)
      rc = fo__update_add(&u, "a.example.com", FO__TYPE_AAAA, 3600,
                          "2001:db8::1");
    if (rc == 0)
      rc = fo__update_add(&u, "b.example.com", FO__TYPE_CNAME, 256,
                          "web.nl");
    FT_RC(rc, FO_ENOSPC);
    got = fo__update_finish(&u);
    cr_assert_leq(got, cap);
    if (got > 0) {
      fo__dns_msg msg;
      cr_assert_eq(memcmp(buf + 12, full + 12, got - 12), 0);
      FT_OK(fo__dns_parse(buf, got, &msg));
      cr_assert_eq(msg.opcode, FO__OPCODE_UPDATE);
    }
  }
}

Test(update, mark_and_rollback) {
  uint8_t buf[200];
  fo__update u;
  fo__update_mark m;
  size_t before, n, i;
  FT_OK(fo__update_begin(&u, buf, sizeof buf, 7, "example.com"));
  FT_OK(fo__update_delete_name(&u, "x.example.com"));
  m = fo__update_mark_get(&u);
  before = u.len;
  /* A group that does not fit: roll back, finish what came before. */
  for (i = 0; i < 10; i++) {
    int rc = fo__update_add(&u, "long-name-of-a-host.example.com",
                            FO__TYPE_AAAA, 60, "2001:db8::2");
    if (rc != 0) {
      FT_RC(rc, FO_ENOSPC);
      break;
    }
  }
  cr_assert_lt(i, 10);
  fo__update_rollback(&u, m);
  cr_assert_eq(u.len, before);
  cr_assert_eq(u.updates, 1);
  /* Still usable: something small fits; prerequisites only come first. */
  FT_RC(fo__update_prereq_name_in_use(&u, "y.example.com"), FO_EINVAL);
  FT_OK(fo__update_delete_rrset(&u, "y.example.com", FO__TYPE_A));
  n = fo__update_finish(&u);
  cr_assert_eq(buf[6], 0);
  cr_assert_eq(buf[7], 0); /* PRCOUNT */
  cr_assert_eq(buf[9], 2); /* UPCOUNT */
  cr_assert_eq(buf[11], 0);
  {
    fo__dns_msg msg;
    FT_OK(fo__dns_parse(buf, n, &msg));
    cr_assert_eq(msg.answer_count, 0);
    cr_assert_eq(msg.nscount, 2);
  }
  /* A mark from the future is ignored. */
  m.len = u.len + 10;
  fo__update_rollback(&u, m);
  cr_assert_eq(u.len, n);
}

Test(update, bad_arguments) {
  uint8_t buf[300];
  fo__update u;
  FT_RC(fo__update_begin(&u, buf, sizeof buf, 1, "bad..zone"), FO_EBADNAME);
  FT_RC(fo__update_add(&u, "a.example.com", FO__TYPE_A, 1, "192.0.2.1"),
        FO_EINVAL);
  cr_assert_eq(fo__update_finish(&u), 0);
  FT_RC(fo__update_begin(&u, buf, 10, 1, "example.com"), FO_ENOSPC);
  FT_OK(fo__update_begin(&u, buf, sizeof buf, 1, "example.com"));
  FT_RC(fo__update_add(&u, "a.example.com", FO__TYPE_NS, 1, "x.y"),
        FO_EINVAL);
  FT_RC(fo__update_add(&u, "a.example.com", FO__TYPE_A, 1, "2001:db8::1"),
        FO_EBADADDR);
  FT_RC(fo__update_add(&u, "a.example.com", FO__TYPE_AAAA, 1, "192.0.2.1"),
        FO_EBADADDR);
  FT_RC(fo__update_add(&u, "a.example.com", FO__TYPE_A, 1, "192.0.2"),
        FO_EBADADDR);
  FT_RC(fo__update_add(&u, "a..example.com", FO__TYPE_A, 1, "192.0.2.1"),
        FO_EBADNAME);
  FT_RC(fo__update_add(&u, "a.example.com", FO__TYPE_CNAME, 1, "x..y"),
        FO_EBADNAME);
  FT_RC(fo__update_add(&u, "a.example.com", FO__TYPE_A, 0x80000000u,
                       "192.0.2.1"),
        FO_ERANGE);
  FT_RC(fo__update_delete_rrset(&u, NULL, FO__TYPE_A), FO_EINVAL);
  cr_assert_eq(u.updates, 0);
  cr_assert_eq(fo__update_finish(&u), 12 + 13 + 4);
}

/* ---- fencing: value-dependent and absent RRsets, TXT ---------------------- */

#define F_WIRE 1, 'f', ZONE_WIRE

/* The publisher's fence swap: TXT at f must be "1" (RRset exists, value
 * dependent: class IN, TTL 0), then delete the TXT RRset and add "2". */
static const uint8_t fence_expected[] = {
    0xab, 0xcd, 0x28, 0x00, 0, 1, 0, 1, 0, 2, 0, 0, /* header */
    ZONE_WIRE, 0, 6, 0, 1,                          /* zone SOA IN */
    F_WIRE, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, '1',  /* IN TXT "1" */
    F_WIRE, 0, 16, 0, 255, 0, 0, 0, 0, 0, 0,        /* ANY TXT */
    F_WIRE, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, '2'}; /* add TXT "2" */

Test(update, fence_swap_byte_exact) {
  static const uint8_t one[] = {1, '1'};
  uint8_t buf[256];
  fo__update u;
  size_t n;
  FT_OK(fo__update_begin(&u, buf, sizeof buf, 0xabcd, "example.com"));
  FT_OK(fo__update_prereq_rrset_value(&u, "f.example.com", FO__TYPE_TXT, one,
                                      sizeof one));
  FT_OK(fo__update_delete_rrset(&u, "f.example.com", FO__TYPE_TXT));
  FT_OK(fo__update_add(&u, "f.example.com", FO__TYPE_TXT, 0, "2"));
  n = fo__update_finish(&u);
  cr_assert_eq(n, sizeof fence_expected);
  cr_assert_eq(memcmp(buf, fence_expected, n), 0);
}

Test(update, rrset_absent_byte_exact) {
  static const uint8_t want[] = {
      0, 9, 0x28, 0x00, 0, 1, 0, 1, 0, 0, 0, 0, ZONE_WIRE, 0, 6, 0, 1,
      F_WIRE, 0, 16, 0, 254, 0, 0, 0, 0, 0, 0}; /* NONE TXT, no RDATA */
  uint8_t buf[128];
  fo__update u;
  FT_OK(fo__update_begin(&u, buf, sizeof buf, 9, "example.com"));
  FT_OK(fo__update_prereq_rrset_absent(&u, "f.example.com", FO__TYPE_TXT));
  cr_assert_eq(fo__update_finish(&u), sizeof want);
  cr_assert_eq(memcmp(buf, want, sizeof want), 0);
}

/* The prerequisite is written once, before the batch: a rollback to a mark
 * taken after it keeps it, and no prerequisite comes after an update. */
Test(update, prereq_survives_rollback) {
  static const uint8_t e[] = {2, '4', '2'};
  uint8_t buf[160];
  fo__update u;
  fo__update_mark m;
  size_t len;
  int rc = 0, i;
  FT_OK(fo__update_begin(&u, buf, sizeof buf, 1, "example.com"));
  FT_OK(fo__update_prereq_rrset_value(&u, "f.example.com", FO__TYPE_TXT, e,
                                      sizeof e));
  len = u.len;
  m = fo__update_mark_get(&u);
  for (i = 0; i < 20 && rc == 0; i++)
    rc = fo__update_add(&u, "host.example.com", FO__TYPE_A, 60, "192.0.2.7");
  FT_RC(rc, FO_ENOSPC);
  fo__update_rollback(&u, m);
  cr_assert_eq(u.len, len);
  cr_assert_eq(u.prereqs, 1);
  cr_assert_eq(u.updates, 0);
  FT_OK(fo__update_delete_name(&u, "host.example.com"));
  FT_RC(fo__update_prereq_rrset_value(&u, "f.example.com", FO__TYPE_TXT, e,
                                      sizeof e),
        FO_EINVAL);
  FT_RC(fo__update_prereq_rrset_absent(&u, "f.example.com", FO__TYPE_TXT),
        FO_EINVAL);
  cr_assert_eq(fo__update_finish(&u), len + 18 + 10);
  cr_assert_eq(buf[7], 1); /* PRCOUNT */
  cr_assert_eq(buf[9], 1); /* UPCOUNT */
}

Test(update, txt_bounds) {
  char text[300];
  uint8_t buf[700];
  fo__update u;
  FT_OK(fo__update_begin(&u, buf, sizeof buf, 1, "example.com"));
  memset(text, 'x', sizeof text);
  text[256] = '\0';
  FT_RC(fo__update_add(&u, "t.example.com", FO__TYPE_TXT, 0, text),
        FO_ERANGE);
  text[255] = '\0';
  FT_OK(fo__update_add(&u, "t.example.com", FO__TYPE_TXT, 0, text));
  FT_OK(fo__update_add(&u, "t.example.com", FO__TYPE_TXT, 0, ""));
  cr_assert_eq(u.updates, 2);
  /* rdlength 256 (length octet + 255), then the empty string's 1 */
  cr_assert_eq(buf[12 + 13 + 4 + 15 + 8], 1);
  cr_assert_eq(buf[12 + 13 + 4 + 15 + 9], 0);
  FT_RC(fo__update_prereq_rrset_value(&u, NULL, FO__TYPE_TXT, NULL, 0),
        FO_EINVAL);
  FT_RC(fo__update_prereq_rrset_value(NULL, "t.example.com", FO__TYPE_TXT,
                                      NULL, 0),
        FO_EINVAL);
}

/* ---- fo__dns_each_rr ----------------------------------------------------- */

typedef struct seen {
  int sections[8];
  uint16_t types[8];
  size_t offsets[8];
  char text[8][2 * FO_NAME_BUFSIZE + FO_IP_BUFSIZE];
  size_t n;
  size_t stop_at;
} seen;

static int collect(int section, const fo__dns_rr *rr, size_t off, void *ud) {
  seen *s = ud;
  cr_assert_lt(s->n, 8);
  s->sections[s->n] = section;
  s->types[s->n] = rr->type;
  s->offsets[s->n] = off;
  snprintf(s->text[s->n], sizeof s->text[s->n], "%s %s%s", rr->owner,
           rr->target, rr->address);
  s->n++;
  return s->n == s->stop_at ? 42 : 0;
}

Test(each_rr, sections_offsets_and_stop) {
  uint8_t buf[512];
  size_t n = build_expected(buf, sizeof buf);
  seen s;
  memset(&s, 0, sizeof s);
  FT_OK(fo__dns_each_rr(buf, n, collect, &s));
  cr_assert_eq(s.n, 5);
  cr_assert_eq(s.sections[0], 1);
  cr_assert_eq(s.types[0], FO__TYPE_ANY);
  cr_assert_eq(s.offsets[0], 12 + 13 + 4);
  cr_assert_eq(s.offsets[1], 12 + 13 + 4 + 25);
  cr_assert_eq(s.sections[1], 2);
  cr_assert_eq(s.sections[4], 2);
  cr_assert_str_eq(s.text[2], "a.example.com 192.0.2.1");
  cr_assert_str_eq(s.text[3], "a.example.com 2001:db8::1");
  cr_assert_str_eq(s.text[4], "b.example.com web.nl");
  /* The callback's non-zero value stops the walk and is returned. */
  memset(&s, 0, sizeof s);
  s.stop_at = 2;
  cr_assert_eq(fo__dns_each_rr(buf, n, collect, &s), 42);
  cr_assert_eq(s.n, 2);
  /* A NULL callback only checks. */
  FT_OK(fo__dns_each_rr(buf, n, NULL, NULL));
}

Test(each_rr, truncated_everywhere) {
  uint8_t buf[512];
  size_t n = build_expected(buf, sizeof buf), cut;
  for (cut = 0; cut < n; cut++)
    FT_RC(fo__dns_each_rr(buf, cut, NULL, NULL), FO_EMALFORMED);
  FT_RC(fo__dns_each_rr(NULL, 12, NULL, NULL), FO_EMALFORMED);
}

Test(each_rr, additional_and_compression) {
  /* Query-style reply: a question, one answer pointing at it, an
   * additional record with a pointer. */
  static const uint8_t msg[] = {
      0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 1,
      3, 'w', 'w', 'w', 2, 'n', 'l', 0, 0, 1, 0, 1,
      0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 9, 0, 6, 3, 'f', 'o', 'o', 0xc0, 16,
      0xc0, 36, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 10, 0, 0, 1};
  seen s;
  memset(&s, 0, sizeof s);
  FT_OK(fo__dns_each_rr(msg, sizeof msg, collect, &s));
  cr_assert_eq(s.n, 2);
  cr_assert_eq(s.sections[0], 1);
  cr_assert_eq(s.sections[1], 3);
  cr_assert_str_eq(s.text[0], "www.nl foo.nl");
  cr_assert_str_eq(s.text[1], "foo.nl 10.0.0.1");
  cr_assert_eq(s.offsets[1], 42);
}
