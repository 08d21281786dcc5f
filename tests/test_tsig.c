/*
 * test_tsig.c - TSIG (lib/dns/tsig.h): requests signed by the library and
 * replies signed here by a small "server" that computes its MAC with
 * OpenSSL's HMAC() straight from RFC 8945 4.3, so that the library's
 * layout is checked against an independent one; key-file text parsing.
 */
#include <criterion/criterion.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "base64.h"
#include "support.h"
#include "tsig.h"
#include "tsig_server.h"
#include "update.h"

Test(tsig, request_layout_matches_rfc) {
  fo__tsig_key key;
  fo__update u;
  bytes req, expect, unsigned_req;
  uint8_t mac[FO__TSIG_MAC_MAX], hm[EVP_MAX_MD_SIZE];
  size_t mac_len = 0;
  unsigned hm_len = 0;
  ft_make_key(&key, "HMAC-SHA256");
  FT_OK(fo__update_begin(&u, req.b, sizeof req.b, 0x4242, "example.com"));
  FT_OK(fo__update_delete_name(&u, "a.example.com"));
  req.n = fo__update_finish(&u);
  unsigned_req = req;
  FT_OK(fo__tsig_sign(&key, req.b, &req.n, sizeof req.b, 0x123456789aull,
                      mac, &mac_len));
  cr_assert_eq(mac_len, 32);
  /* The digest: message before the TSIG RR, then the variables. */
  expect.n = 0;
  ft_bytes_put(&expect, unsigned_req.b, unsigned_req.n);
  ft_bytes_put_name(&expect, "ft-key");
  ft_bytes_put16(&expect, 255);
  ft_bytes_put16(&expect, 0);
  ft_bytes_put16(&expect, 0);
  ft_bytes_put_name(&expect, "hmac-sha256");
  ft_bytes_put48(&expect, 0x123456789aull);
  ft_bytes_put16(&expect, 300);
  ft_bytes_put16(&expect, 0);
  ft_bytes_put16(&expect, 0);
  HMAC(EVP_sha256(), SECRET_BYTES, (int)strlen(SECRET_BYTES), expect.b,
       expect.n, hm, &hm_len);
  cr_assert_eq(hm_len, 32);
  cr_assert_eq(memcmp(mac, hm, 32), 0);
  /* The RR as appended. */
  expect.n = 0;
  ft_bytes_put(&expect, unsigned_req.b, unsigned_req.n);
  expect.b[11] = 1; /* ARCOUNT */
  ft_bytes_put_name(&expect, "ft-key");
  ft_bytes_put16(&expect, 250);
  ft_bytes_put16(&expect, 255);
  ft_bytes_put16(&expect, 0);
  ft_bytes_put16(&expect, 0);
  ft_bytes_put16(&expect, 13 + 6 + 2 + 2 + 32 + 6);
  ft_bytes_put_name(&expect, "hmac-sha256");
  ft_bytes_put48(&expect, 0x123456789aull);
  ft_bytes_put16(&expect, 300);
  ft_bytes_put16(&expect, 32);
  ft_bytes_put(&expect, hm, 32);
  ft_bytes_put16(&expect, 0x4242);
  ft_bytes_put16(&expect, 0);
  ft_bytes_put16(&expect, 0);
  cr_assert_eq(req.n, expect.n);
  cr_assert_eq(memcmp(req.b, expect.b, req.n), 0);
}

static void round_trip(const char *alg, size_t want_mac) {
  fo__tsig_key key;
  bytes req, reply;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len = 0;
  srv_sig s = ft_default_sig();
  ft_make_key(&key, alg);
  ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 0);
  cr_assert_eq(mac_len, want_mac);
  s.alg = alg;
  ft_server_sign(&reply, mac, mac_len, &s);
  FT_OK(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW));
  FT_OK(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW + 300));
  FT_OK(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW - 300));
  FT_RC(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW + 301),
        FO_EBADTIME);
  FT_RC(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW - 301),
        FO_EBADTIME);
  FT_RC(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, 0),
        FO_EBADTIME);
  /* Another request's MAC. */
  mac[0] ^= 1;
  FT_RC(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW),
        FO_EBADSIG);
}

Test(tsig, round_trip_sha256) { round_trip("hmac-sha256", 32); }
Test(tsig, round_trip_sha512) { round_trip("hmac-sha512", 64); }

Test(tsig, reply_id_rewritten) {
  /* A reply may come with another ID: the original ID is in the RR. */
  fo__tsig_key key;
  bytes req, reply;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len = 0;
  srv_sig s = ft_default_sig();
  ft_make_key(&key, "hmac-sha256");
  ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 0);
  ft_server_sign(&reply, mac, mac_len, &s);
  reply.b[0] = 0x11;
  reply.b[1] = 0x22;
  FT_OK(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW));
}

Test(tsig, tampered_bytes) {
  fo__tsig_key key;
  bytes req, reply;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len = 0, i;
  srv_sig s = ft_default_sig();
  ft_make_key(&key, "hmac-sha256");
  ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 0);
  ft_server_sign(&reply, mac, mac_len, &s);
  /* Any flipped bit anywhere but the ID fails (the original ID is in the
   * RR); in the flags, the zone section and the MAC it is a bad
   * signature. */
  for (i = 2; i < reply.n; i++) {
    int rc;
    reply.b[i] ^= 0x01;
    rc = fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW);
    cr_assert_neq(rc, 0, "byte %zu", i);
    /* Flags, zone name characters, MAC, original ID, error. */
    if (i < 4 || (i > 12 && i < 20) || (i >= reply.n - 38 && i < reply.n - 2))
      cr_assert_eq(rc, FO_EBADSIG, "byte %zu: %s", i, fo_err_name(rc));
    reply.b[i] ^= 0x01;
  }
  FT_OK(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW));
}

Test(tsig, key_or_algorithm_mismatch) {
  fo__tsig_key key;
  bytes req, reply, r2;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len = 0;
  srv_sig s = ft_default_sig();
  ft_make_key(&key, "hmac-sha256");
  ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 0);
  r2 = reply;
  s.key_name = "other-key";
  ft_server_sign(&reply, mac, mac_len, &s);
  FT_RC(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW),
        FO_EBADKEY);
  s = ft_default_sig();
  s.alg = "hmac-sha512";
  ft_server_sign(&r2, mac, mac_len, &s);
  FT_RC(fo__tsig_verify(&key, r2.b, r2.n, mac, mac_len, NOW), FO_EBADKEY);
  /* Same name in another case: the same key. */
  reply = r2;
  ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 0);
  s = ft_default_sig();
  s.key_name = "FT-KEY";
  ft_server_sign(&reply, mac, mac_len, &s);
  FT_OK(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW));
}

Test(tsig, unsigned_reply) {
  fo__tsig_key key;
  bytes req, reply;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len = 0;
  ft_make_key(&key, "hmac-sha256");
  ft_request_and_reply(&key, &req, mac, &mac_len, &reply, FO__RCODE_NOTAUTH);
  FT_RC(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW),
        FO_EUNSIGNED);
  FT_RC(fo__tsig_verify(&key, reply.b, 11, mac, mac_len, NOW),
        FO_EMALFORMED);
}

Test(tsig, error_answers) {
  static const unsigned errors[] = {FO__TSIG_BADSIG, FO__TSIG_BADKEY,
                                    FO__TSIG_BADTIME, FO__TSIG_BADTRUNC};
  static const int codes[] = {FO_EBADSIG, FO_EBADKEY, FO_EBADTIME,
                              FO_EBADSIG};
  fo__tsig_key key;
  size_t i;
  ft_make_key(&key, "hmac-sha256");
  for (i = 0; i < 4; i++) {
    bytes req, reply;
    uint8_t mac[FO__TSIG_MAC_MAX];
    size_t mac_len = 0;
    srv_sig s = ft_default_sig();
    ft_request_and_reply(&key, &req, mac, &mac_len, &reply, FO__RCODE_NOTAUTH);
    /* Unsigned (MAC size 0): the error, not FO_EBADSIG. */
    s.error = errors[i];
    s.no_mac = 1;
    ft_server_sign(&reply, mac, mac_len, &s);
    FT_RC(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW),
          codes[i]);
  }
  {
    /* BADTIME is signed and carries the server's clock. */
    bytes req, reply;
    uint8_t mac[FO__TSIG_MAC_MAX], clock[6] = {0, 0, 0x65, 0x53, 0xf1, 0};
    size_t mac_len = 0;
    srv_sig s = ft_default_sig();
    ft_request_and_reply(&key, &req, mac, &mac_len, &reply, FO__RCODE_NOTAUTH);
    s.error = FO__TSIG_BADTIME;
    s.other = clock;
    s.other_len = sizeof clock;
    ft_server_sign(&reply, mac, mac_len, &s);
    FT_RC(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW),
          FO_EBADTIME);
    reply.b[reply.n - 1] ^= 1; /* forged other data */
    FT_RC(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW),
          FO_EBADSIG);
  }
  {
    /* A truncated MAC (RFC 8945 5.2.2.1) is not accepted. */
    bytes req, reply;
    uint8_t mac[FO__TSIG_MAC_MAX];
    size_t mac_len = 0;
    srv_sig s = ft_default_sig();
    ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 0);
    ft_server_sign(&reply, mac, mac_len, &s);
    FT_OK(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW));
    s.no_mac = 1;
    ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 0);
    ft_server_sign(&reply, mac, mac_len, &s);
    FT_RC(fo__tsig_verify(&key, reply.b, reply.n, mac, mac_len, NOW),
          FO_EBADSIG);
  }
}

Test(tsig, tsig_must_be_last_and_alone) {
  fo__tsig_key key;
  bytes req, reply, r;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len = 0;
  srv_sig s = ft_default_sig();
  ft_make_key(&key, "hmac-sha256");
  ft_request_and_reply(&key, &req, mac, &mac_len, &reply, 0);
  ft_server_sign(&reply, mac, mac_len, &s);
  /* Bytes after it. */
  r = reply;
  ft_bytes_put16(&r, 0);
  FT_RC(fo__tsig_verify(&key, r.b, r.n, mac, mac_len, NOW), FO_EMALFORMED);
  /* Another record after it. */
  r = reply;
  ft_bytes_put(&r, "\0\0\1\0\1\0\0\0\0\0\4\1\2\3\4", 15);
  r.b[11]++;
  FT_RC(fo__tsig_verify(&key, r.b, r.n, mac, mac_len, NOW), FO_EMALFORMED);
  /* Two TSIGs. */
  r = reply;
  ft_server_sign(&r, mac, mac_len, &s);
  FT_RC(fo__tsig_verify(&key, r.b, r.n, mac, mac_len, NOW), FO_EMALFORMED);
  /* In the answer section. */
  r = reply;
  r.b[7] = 1;
  r.b[11] = 0;
  FT_RC(fo__tsig_verify(&key, r.b, r.n, mac, mac_len, NOW), FO_EMALFORMED);
  /* RDATA shorter than its fields, whatever the cut. */
  {
    size_t cut;
    for (cut = 1; cut < reply.n - 12; cut++) {
      r = reply;
      r.n -= cut;
      cr_assert_neq(fo__tsig_verify(&key, r.b, r.n, mac, mac_len, NOW), 0);
    }
  }
}

Test(tsig, sign_errors) {
  fo__tsig_key key, wiped;
  fo__update u;
  bytes req, copy;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len = 0, len;
  ft_make_key(&key, "hmac-sha256");
  memset(req.b, 0, sizeof req.b);
  FT_OK(fo__update_begin(&u, req.b, sizeof req.b, 1, "example.com"));
  req.n = fo__update_finish(&u);
  copy = req;
  len = req.n;
  FT_RC(fo__tsig_sign(&key, req.b, &len, req.n + 78, NOW, mac, &mac_len),
        FO_ENOSPC);
  cr_assert_eq(len, req.n);
  cr_assert_eq(memcmp(req.b, copy.b, sizeof req.b), 0);
  FT_OK(fo__tsig_sign(&key, req.b, &len, req.n + 79, NOW, mac, &mac_len));
  cr_assert_eq(len, req.n + 79);
  len = 11;
  FT_RC(fo__tsig_sign(&key, req.b, &len, sizeof req.b, NOW, mac, &mac_len),
        FO_EINVAL);
  wiped = key;
  fo__tsig_key_wipe(&wiped);
  len = req.n;
  FT_RC(fo__tsig_sign(&wiped, req.b, &len, sizeof req.b, NOW, mac, &mac_len),
        FO_EINVAL);
}

Test(tsig, wipe) {
  fo__tsig_key key;
  size_t i;
  ft_make_key(&key, "hmac-sha512");
  fo__tsig_key_wipe(&key);
  cr_assert_eq(key.secret_len, 0);
  for (i = 0; i < sizeof key.secret; i++)
    cr_assert_eq(key.secret[i], 0);
  cr_assert_str_eq(key.name, "ft-key");
  fo__tsig_key_wipe(NULL);
}

/* ---- keys ---------------------------------------------------------------- */

Test(tsig_key, init_errors) {
  fo__tsig_key key;
  FT_RC(fo__tsig_key_init(&key, NULL, "hmac-sha256", SECRET), FO_EINVAL);
  FT_RC(fo__tsig_key_init(&key, "a..b", "hmac-sha256", SECRET),
        FO_EBADNAME);
  FT_RC(fo__tsig_key_init(&key, ".", "hmac-sha256", SECRET), FO_EBADNAME);
  FT_RC(fo__tsig_key_init(&key, "k", "hmac-md5", SECRET), FO_EBADKEY);
  FT_RC(fo__tsig_key_init(&key, "k", "hmac-sha256-128", SECRET), FO_EBADKEY);
  FT_RC(fo__tsig_key_init(&key, "k", "hmac-sha256", "not base64!"),
        FO_EBADKEY);
  FT_RC(fo__tsig_key_init(&key, "k", "hmac-sha256", "QUJD="), FO_EBADKEY);
  FT_RC(fo__tsig_key_init(&key, "k", "hmac-sha256", "Q"), FO_EBADKEY);
  FT_RC(fo__tsig_key_init(&key, "k", "hmac-sha256", "QQ=x"), FO_EBADKEY);
  FT_RC(fo__tsig_key_init(&key, "k", "hmac-sha256", ""), FO_ERANGE);
  FT_RC(fo__tsig_key_init(&key, "k", "hmac-sha256", "  \n"), FO_ERANGE);
  cr_assert_eq(key.secret_len, 0);
  {
    char big[400];
    memset(big, 'A', sizeof big);
    big[172] = '\0'; /* 129 octets */
    FT_RC(fo__tsig_key_init(&key, "k", "hmac-sha256", big), FO_ERANGE);
    big[168] = '\0'; /* 126 octets */
    FT_OK(fo__tsig_key_init(&key, "k", "hmac-sha256", big));
    cr_assert_eq(key.secret_len, 126);
  }
  /* Whitespace inside, padding left out. */
  FT_OK(fo__tsig_key_init(&key, "k", "Hmac-Sha512.", " QUJD\n RA "));
  cr_assert_eq(key.alg, FO__TSIG_HMAC_SHA512);
  cr_assert_eq(key.secret_len, 4);
  cr_assert_eq(memcmp(key.secret, "ABCD", 4), 0);
  FT_OK(fo__tsig_key_init(&key, "k", "hmac-sha256", "QUJDRA=="));
  cr_assert_eq(key.secret_len, 4);
}

static void parse_ok(const char *text, const char *want, const char *name,
                     fo__tsig_alg alg, const char *secret) {
  fo__tsig_key key;
  int rc = fo__tsig_key_parse_text(&key, text, want);
  cr_assert_eq(rc, 0, "%s for:\n%s", fo_err_name(rc), text);
  cr_assert_str_eq(key.name, name);
  cr_assert_eq(key.alg, alg);
  cr_assert_eq(key.secret_len, strlen(secret));
  cr_assert_eq(memcmp(key.secret, secret, key.secret_len), 0);
}

Test(tsig_key, bind_style) {
  parse_ok("key \"ft-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"" SECRET
           "\";\n};\n",
           NULL, "ft-key", FO__TSIG_HMAC_SHA256, SECRET_BYTES);
  /* Compact, unquoted name, comments of all kinds, trailing dot. */
  parse_ok("# a key\n// another comment\n/* multi\nline */key k1.{algorithm "
           "HMAC-SHA512;secret\"QUJD\";};",
           "K1", "k1", FO__TSIG_HMAC_SHA512, "ABC");
  /* Several keys, other statements around them. */
  parse_ok("options { directory \"/tmp\"; listen-on { 127.0.0.1; }; };\n"
           "key \"one\" { algorithm hmac-sha256; secret \"QUJD\"; };\n"
           "key \"two\" { algorithm hmac-sha512; /* c */ secret \"RUZH\"; };\n"
           "zone \"x\" { type primary; file \"x.zone\"; };\n",
           "two.", "two", FO__TSIG_HMAC_SHA512, "EFG");
  parse_ok("key \"one\" { algorithm hmac-sha256; secret \"QUJD\"; };\n"
           "key \"two\" { algorithm hmac-sha512; secret \"RUZH\"; };\n",
           NULL, "one", FO__TSIG_HMAC_SHA256, "ABC");
  /* The secret split over lines inside its quotes. */
  parse_ok("key x { secret \"QU\n  JD\"; algorithm hmac-sha256; }",
           "x", "x", FO__TSIG_HMAC_SHA256, "ABC");
}

Test(tsig_key, knot_style) {
  /* What `keymgr -t test hmac-sha256` prints (Knot 3.2). */
  parse_ok("# hmac-sha256:test:jINRuxEoaAoFTRYTbWwrZS/B2Ce5F0rBCTWuGkS7gwc=\n"
           "key:\n"
           "  - id: test\n"
           "    algorithm: hmac-sha256\n"
           "    secret: jINRuxEoaAoFTRYTbWwrZS/B2Ce5F0rBCTWuGkS7gwc=\n",
           "test", "test", FO__TSIG_HMAC_SHA256,
           "\x8c\x83\x51\xbb\x11\x28\x68\x0a\x05\x4d\x16\x13\x6d\x6c\x2b\x65"
           "\x2f\xc1\xd8\x27\xb9\x17\x4a\xc1\x09\x35\xae\x1a\x44\xbb\x83\x07");
  /* A knot.conf: other sections, two keys, quotes, comments, '//' in a
   * secret (not a comment in YAML). */
  parse_ok("server:\n    rundir: \"/tmp\"\n    listen: 127.0.0.1@53\n"
           "key:\n"
           "  - id: a\n    algorithm: hmac-sha256\n    secret: QUJD\n"
           "  # second\n\n"
           "  - id: \"b\"   # the one\n    secret: \"//8/\"\n"
           "    algorithm: hmac-sha512\n"
           "acl:\n  - id: upd\n    key: b\n    action: update\n",
           "b", "b", FO__TSIG_HMAC_SHA512, "\xff\xff\x3f");
  /* The -y form. */
  parse_ok("hmac-sha512:y-key:QUJD\n", NULL, "y-key", FO__TSIG_HMAC_SHA512,
           "ABC");
}

Test(tsig_key, parse_errors) {
  fo__tsig_key key;
  FT_RC(fo__tsig_key_parse_text(&key, "", NULL), FO_ENOENT);
  FT_RC(fo__tsig_key_parse_text(&key, "# nothing\n", NULL), FO_ENOENT);
  FT_RC(fo__tsig_key_parse_text(
            &key, "key a { algorithm hmac-sha256; secret \"QUJD\"; };", "b"),
        FO_ENOENT);
  FT_RC(fo__tsig_key_parse_text(&key, "key a { algorithm hmac-sha256; };",
                                NULL),
        FO_EMALFORMED);
  FT_RC(fo__tsig_key_parse_text(&key, "key a { algorithm hmac-sha256; secret",
                                NULL),
        FO_EMALFORMED);
  FT_RC(fo__tsig_key_parse_text(&key, "key a algorithm", NULL),
        FO_EMALFORMED);
  FT_RC(fo__tsig_key_parse_text(&key, "/* open", NULL), FO_EMALFORMED);
  FT_RC(fo__tsig_key_parse_text(&key, "key \"a { };", NULL), FO_EMALFORMED);
  FT_RC(fo__tsig_key_parse_text(&key, "options { };};", NULL),
        FO_EMALFORMED);
  FT_RC(fo__tsig_key_parse_text(
            &key, "key a { algorithm hmac-md5; secret \"QUJD\"; };", NULL),
        FO_EBADKEY);
  FT_RC(fo__tsig_key_parse_text(
            &key, "key a { algorithm hmac-sha256; secret \"QU*D\"; };", NULL),
        FO_EBADKEY);
  FT_RC(fo__tsig_key_parse_text(&key, "key:\n  - id: a\n    secret: QUJD\n",
                                NULL),
        FO_EMALFORMED);
  FT_RC(fo__tsig_key_parse_text(&key, "key:\n  - id: a\n    nonsense\n",
                                NULL),
        FO_EMALFORMED);
  FT_RC(fo__tsig_key_parse_text(NULL, "", NULL), FO_EINVAL);
  cr_assert_eq(key.secret_len, 0);
}

/* The codec both TSIG secrets and the etcd store use: RFC 4648's test
 * vectors both ways, and what the encoder writes decodes to its input for
 * every length and byte value. */
Test(tsig, base64_both_ways) {
  static const char *const vectors[][2] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
      {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  char text[64];
  unsigned char raw[300], back[300];
  size_t i, n, len;
  for (i = 0; i < sizeof vectors / sizeof *vectors; i++) {
    n = strlen(vectors[i][0]);
    memset(text, 0, sizeof text);
    fo__base64_encode(vectors[i][0], n, text);
    cr_assert_str_eq(text, vectors[i][1]);
    cr_assert_eq(strlen(text), FO__BASE64_ENCODED_LEN(n));
  }
  for (n = 0; n < sizeof raw; n++) {
    char enc[FO__BASE64_ENCODED_LEN(sizeof raw) + 1];
    for (i = 0; i < n; i++)
      raw[i] = (unsigned char)(i * 37 + n);
    fo__base64_encode(raw, n, enc);
    FT_OK(fo__base64_decode(enc, FO__BASE64_ENCODED_LEN(n), back, sizeof back,
                            &len));
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(raw, back, n), 0, "length %zu", n);
  }
}
