/*
 * test_publish_judge.c - the publisher's verdict on an UPDATE's answer
 * (lib/engine/publish_judge.h), on its own: signed and unsigned NOERROR,
 * every error RCODE with and without a question, echoes of the request,
 * and the TSIG errors a NOTAUTH carries. Replies are signed by the test's
 * own TSIG "server" (support/tsig_server.h).
 */
#include <criterion/criterion.h>

#include <string.h>

#include "publish_judge.h"
#include "support.h"
#include "tsig_server.h"
#include "wire.h"

typedef struct exchange {
  fo__tsig_key key;
  bytes req, reply;
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len;
} exchange;

static void make(exchange *x, unsigned rcode) {
  ft_make_key(&x->key, "hmac-sha256");
  ft_request_and_reply(&x->key, &x->req, x->mac, &x->mac_len, &x->reply,
                       rcode);
}

static int judge(const exchange *x, const bytes *reply) {
  return fo__publish_judge(&x->key, x->mac, x->mac_len, 0, reply->b,
                           reply->n, NOW);
}

Test(publish_judge, signed_noerror_is_published) {
  exchange x;
  make(&x, 0);
  srv_sig s = ft_default_sig();
  ft_server_sign(&x.reply, x.mac, x.mac_len, &s);
  FT_RC(judge(&x, &x.reply), 0);
}

Test(publish_judge, noerror_must_be_signed_by_our_key) {
  exchange x;
  make(&x, 0);
  FT_RC(judge(&x, &x.reply), FO_EUNSIGNED);
  bytes wrong = x.reply;
  srv_sig s = ft_default_sig();
  s.secret = "another-secret-another-secret-012345";
  ft_server_sign(&wrong, x.mac, x.mac_len, &s);
  FT_RC(judge(&x, &wrong), FO_EBADSIG);
  bytes late = x.reply;
  s = ft_default_sig();
  s.time = NOW - 3600;
  ft_server_sign(&late, x.mac, x.mac_len, &s);
  FT_RC(judge(&x, &late), FO_EBADTIME);
}

Test(publish_judge, transport_failures_and_servfail_are_retried) {
  exchange x;
  make(&x, 2);
  FT_RC(fo__publish_judge(&x.key, x.mac, x.mac_len, FO_ETIMEDOUT, NULL, 0,
                          NOW),
        1);
  FT_RC(fo__publish_judge(&x.key, x.mac, x.mac_len, FO_EIO, NULL, 0, NOW), 1);
  FT_RC(judge(&x, &x.reply), 1); /* SERVFAIL */
  bytes query = x.reply;
  query.b[2] &= 0x7f; /* not a reply (QR clear) */
  FT_RC(judge(&x, &query), 1);
}

/* Every error RCODE stops with its own code, whether the reply has the
 * zone section, no question at all, or echoes the whole signed request. */
Test(publish_judge, each_error_rcode_has_its_code) {
  static const struct {
    unsigned rcode;
    int want;
  } cases[] = {{1, FO_EFORMERR}, {3, FO_EPREREQ},  {4, FO_ENOTIMP},
               {5, FO_EREFUSED}, {6, FO_EPREREQ},  {7, FO_EPREREQ},
               {8, FO_EPREREQ},  {9, FO_ENOTAUTH}, {10, FO_ENOTZONE},
               {11, FO_ERCODE},  {15, FO_ERCODE}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    exchange x;
    make(&x, cases[i].rcode);
    FT_RC(judge(&x, &x.reply), cases[i].want);
    bytes bare = x.reply; /* header only: QDCOUNT 0 */
    bare.n = FO__DNS_HEADER_LEN;
    bare.b[4] = bare.b[5] = 0;
    FT_RC(judge(&x, &bare), cases[i].want);
    bytes echo = x.req; /* the request back, its TSIG RR included */
    echo.b[2] |= 0x80;
    echo.b[3] = (uint8_t)((echo.b[3] & 0xf0) | cases[i].rcode);
    FT_RC(judge(&x, &echo), cases[i].want);
  }
}

Test(publish_judge, notauth_with_a_tsig_error_names_it) {
  static const struct {
    unsigned error;
    int want;
  } cases[] = {{FO__TSIG_BADKEY, FO_EBADKEY},
               {FO__TSIG_BADSIG, FO_EBADSIG},
               {FO__TSIG_BADTIME, FO_EBADTIME}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    exchange x;
    make(&x, 9);
    srv_sig s = ft_default_sig();
    s.error = cases[i].error;
    s.no_mac = 1; /* a server cannot sign these */
    ft_server_sign(&x.reply, NULL, 0, &s);
    FT_RC(judge(&x, &x.reply), cases[i].want);
  }
}
