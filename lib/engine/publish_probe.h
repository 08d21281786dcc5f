/*
 * publish_probe.h - after an UPDATE whose outcome is unknown (a timeout, a
 * connection closed after sending), ask the zone's primary what each name
 * of the batch holds now, before anything is sent again: what is already
 * there counts as published (a switch that is in DNS is done), and only
 * the rest is sent again. Plain queries through the publisher's transport.
 */
#ifndef FO_PUBLISH_PROBE_H
#define FO_PUBLISH_PROBE_H

#include <failover.h>

#include "transport.h"

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

#endif
