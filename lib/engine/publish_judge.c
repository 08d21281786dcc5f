/*
 * publish_judge.c - what the answer to an UPDATE means, and nothing else:
 * no loop, no queue (bytes and the request's MAC in, a verdict out), so
 * that every RCODE's outcome is tested on its own.
 */
#include "publish_judge.h"

#include "wire.h"

int fo__rcode_error(unsigned rcode) {
  switch (rcode) {
  case FO__RCODE_NOERROR:
    return 0;
  case FO__RCODE_SERVFAIL:
    return FO_ESERVFAIL;
  case FO__RCODE_FORMERR:
    return FO_EFORMERR;
  case FO__RCODE_NOTIMP:
    return FO_ENOTIMP;
  case FO__RCODE_REFUSED:
    return FO_EREFUSED;
  case FO__RCODE_NOTAUTH:
    return FO_ENOTAUTH;
  case FO__RCODE_YXDOMAIN:
  case FO__RCODE_YXRRSET:
  case FO__RCODE_NXRRSET:
  case FO__RCODE_NXDOMAIN:
    return FO_EPREREQ;
  case FO__RCODE_NOTZONE:
    return FO_ENOTZONE;
  default:
    return FO_ERCODE;
  }
}

int fo__publish_judge(const fo__tsig_key *key, const uint8_t *mac,
                      size_t mac_len, int status, const unsigned char *abuf,
                      size_t alen, uint64_t now) {
  return fo__publish_judge_fenced(key, mac, mac_len, status, abuf, alen, now,
                                  0);
}

int fo__publish_judge_fenced(const fo__tsig_key *key, const uint8_t *mac,
                             size_t mac_len, int status,
                             const unsigned char *abuf, size_t alen,
                             uint64_t now, int fenced) {
  unsigned rcode;
  int verified, tsig_error;
  if (status != 0)
    return 1; /* timeout, connection refused or reset: try again */
  if (abuf == NULL || alen < FO__DNS_HEADER_LEN || !(abuf[2] & 0x80))
    return 1;
  rcode = abuf[3] & 0x0fu;
  if (rcode == FO__RCODE_NOERROR) {
    /* Only a reply signed with our key proves the change was made. */
    verified = fo__tsig_verify(key, abuf, alen, mac, mac_len, now);
    if (verified == 0 || verified == FO_EUNSIGNED || verified == FO_EBADKEY ||
        verified == FO_EBADSIG || verified == FO_EBADTIME)
      return verified;
    return FO_EMALFORMED;
  }
  if (rcode == FO__RCODE_SERVFAIL)
    return 1;
  /* An error reply is judged by its RCODE: a server that echoes our
   * request (TSIG RR included, as Unbound does with NOTIMP) has not
   * signed anything, and its NOTIMP is not a bad signature. Only the TSIG
   * error a NOTAUTH carries says the key itself was refused. */
  if (rcode == FO__RCODE_NOTAUTH &&
      (tsig_error = fo__tsig_error_of(abuf, alen)) != 0)
    return tsig_error;
  /* A fenced UPDATE's only prerequisite is the fence: the server says a
   * newer leader holds it. Believed at once only when signed with our key
   * against this request (servers sign error replies to a valid request);
   * a forged one is an ordinary refusal, believed on the third. */
  if (fenced && rcode != FO__RCODE_YXDOMAIN &&
      fo__rcode_error(rcode) == FO_EPREREQ &&
      fo__tsig_verify(key, abuf, alen, mac, mac_len, now) == 0)
    return FO_EFENCED;
  return fo__rcode_error(rcode);
}

