/*
 * publish_internal.h - what the switch workflow (switch.c) needs from the
 * publisher (publish.c).
 */
#ifndef FO_PUBLISH_INTERNAL_H
#define FO_PUBLISH_INTERNAL_H

#include <failover/publish.h>

/* Told when a watched group is published at or past a generation, or when
 * the publisher stops (error != 0). Runs from the loop, never inside
 * the transport or a change callback. */
typedef void (*fo__publish_watch_fn)(fo_group *group, int error,
                                     void *userdata);

/* Watch `group` until generation `gen` is published; each watch is told
 * exactly once. Returns 0, FO_ENOMEM, FO_ECLOSING. */
int fo__publisher_watch(fo_publisher *pub, fo_group *group, uint64_t gen,
                        fo__publish_watch_fn fn, void *userdata);

/* Remove the watch of `group` made with `userdata` (no call follows).
 * Returns 0 or FO_ENOENT. */
int fo__publisher_unwatch(fo_publisher *pub, fo_group *group, void *userdata);

fo_registry *fo__publisher_registry(const fo_publisher *pub);
uv_loop_t *fo__publisher_loop(const fo_publisher *pub);
const fo_allocator *fo__publisher_alloc(const fo_publisher *pub);
int fo__publisher_closing(const fo_publisher *pub);

/* durable.c: 1 while a batch is open on `reg` (its changes are not in the
 * store yet, so the publisher holds them back). */
int fo__registry_in_batch(const fo_registry *reg);

#endif
