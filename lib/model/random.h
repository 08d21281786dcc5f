/*
 * random.h - the kernel CSPRNG, read in blocks: one getrandom(2) call per
 * 256 bytes instead of one per draw.
 */
#ifndef FO_RANDOM_H
#define FO_RANDOM_H

#include <failover.h>

typedef struct fo__random_pool {
  unsigned char buf[256];
  size_t left;
} fo__random_pool;

/* Fill `out` with `len` (<= 256) random bytes. Returns 0 or FO_ERANDOM. */
int fo__random_read(fo__random_pool *pool, void *out, size_t len);

#endif
