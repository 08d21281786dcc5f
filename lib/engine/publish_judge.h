/*
 * publish_judge.h - the verdict on the answer to an UPDATE (publish.c).
 */
#ifndef FO_PUBLISH_JUDGE_H
#define FO_PUBLISH_JUDGE_H

#include "tsig.h"

/*
 * What an answer means: 0 published (NOERROR, signed with our key against
 * the request's MAC), 1 retry later (a transport failure, SERVFAIL, an
 * answer that is not a reply), or the code to stop with: FO_EUNSIGNED /
 * FO_EBADSIG / FO_EBADKEY / FO_EBADTIME / FO_EMALFORMED for a NOERROR that
 * does not verify, and one code per error RCODE (see <failover/publish.h>).
 * `status` is the transport's (0 with the reply); `now` in seconds.
 */
/* The code of an error RCODE (publish.h lists them; SERVFAIL is
 * FO_ESERVFAIL), 0 for NOERROR. For every reply the publisher judges,
 * NOTIFY answers included. */
int fo__rcode_error(unsigned rcode);

int fo__publish_judge(const fo__tsig_key *key, const uint8_t *mac,
                      size_t mac_len, int status, const unsigned char *abuf,
                      size_t alen, uint64_t now);

/* The same for an UPDATE that carried a fence prerequisite (`fenced`
 * nonzero; 0 is fo__publish_judge()): a prerequisite failure (NXRRSET,
 * YXRRSET, NXDOMAIN: not YXDOMAIN, which only "name not in use" gives)
 * whose TSIG verifies against our request is FO_EFENCED, final at once;
 * unsigned or forged, it is FO_EPREREQ like any other refusal. */
int fo__publish_judge_fenced(const fo__tsig_key *key, const uint8_t *mac,
                             size_t mac_len, int status,
                             const unsigned char *abuf, size_t alen,
                             uint64_t now, int fenced);

#endif
