/*
 * publish_internal.h - what the switch workflow (switch.c) needs from the
 * publisher beyond <failover/publish.h> (watches, the registry and the loop
 * are public: fo_publisher_watch() and friends).
 */
#ifndef FO_PUBLISH_INTERNAL_H
#define FO_PUBLISH_INTERNAL_H

#include <failover/publish.h>

const fo_allocator *fo__publisher_alloc(const fo_publisher *pub);
int fo__publisher_closing(const fo_publisher *pub);

/* durable.c: 1 while a batch is open on `reg` (its changes are not in the
 * store yet, so the publisher holds them back). */
int fo__registry_in_batch(const fo_registry *reg);

#endif
