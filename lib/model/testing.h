/*
 * testing.h - hooks for the library's own tests; not installed, not exported.
 * Tests link the static library to reach them.
 */
#ifndef FO_TESTING_H
#define FO_TESTING_H

#include <failover.h>

/* Shrink the address space from 10^9 to `size` codes (1..10^9) so that
 * exhaustion can be tested. Only valid on a registry with no group yet.
 * Returns 0, FO_EINVAL or FO_ERANGE. */
int fo__registry_set_address_space(fo_registry *reg, uint32_t size);

#endif
