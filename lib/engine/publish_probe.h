/*
 * publish_probe.h - after an UPDATE whose outcome is unknown (a timeout, a
 * connection closed after sending), ask the zone's primary what each name
 * of the batch holds now, before anything is sent again: what is already
 * there counts as published (a switch that is in DNS is done), and only
 * the rest is sent again. Plain queries through the publisher's transport.
 *
 * The fence (publish_fence.c) is read the same way: one TXT question,
 * signed with the publisher's key, whose answer must verify.
 */
#ifndef FO_PUBLISH_PROBE_H
#define FO_PUBLISH_PROBE_H

#include <failover.h>

#include "transport.h"
#include "tsig.h"

typedef struct fo__probe fo__probe;

/* Told once with in_step[k] set for every name the server holds exactly as
 * desired: from a transport callback, or from fo__probe_start() itself
 * with `ok` 0 when not one query could be sent (in_step all 0). The probe
 * is freed after this. */
typedef void (*fo__probe_done_fn)(const uint8_t *in_step, int ok,
                                  void *userdata);

/*
 * Probe `count` names: names[k] with desired[k] (count 0: no records). The
 * arrays are copied. Returns 0 (the callback will come; on FO_ECANCELED of
 * the transport, with ok 0) or FO_ENOMEM / FO_EINVAL (no callback).
 */
int fo__probe_start(fo__dnsx *x, const fo_allocator *a,
                    const char *const *names, const fo_rrset *desired,
                    size_t count, fo__probe_done_fn done, void *userdata);

/* ---- one TXT RRset, read signed (the fence) --------------------------------- */

#define FO__PROBE_TXT_MAX 8         /* records of the set kept */
#define FO__PROBE_TXT_RDATA_MAX 256 /* RDATA octets of each */

/* The TXT records at the name, their RDATA in wire form (count 0: none). */
typedef struct fo__probe_txt {
  size_t count;
  uint16_t len[FO__PROBE_TXT_MAX];
  uint8_t rdata[FO__PROBE_TXT_MAX][FO__PROBE_TXT_RDATA_MAX];
} fo__probe_txt;

/* Told once, from a transport callback: `verdict` 0 with the set (a
 * NOERROR or NXDOMAIN answer signed with our key); otherwise `set` is
 * NULL and `verdict` is FO_ECANCELED (the transport closed), 1 (ask
 * again later: a timeout, a transport failure, SERVFAIL), FO_ERANGE (a set
 * larger than kept), or fo__publish_judge()'s stop code (unsigned or
 * forged, an error RCODE). */
typedef void (*fo__probe_txt_fn)(int verdict, const fo__probe_txt *set,
                                 void *userdata);

/* Ask for `name`'s TXT RRset, signed with `key` (copied). Returns 0 (the
 * callback will come) or FO_ENOMEM / FO_EINVAL / a signing or transport
 * code (no callback). */
int fo__probe_txt_start(fo__dnsx *x, const fo_allocator *a,
                        const fo__tsig_key *key, const char *name,
                        fo__probe_txt_fn done, void *userdata);

#endif
