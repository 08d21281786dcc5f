/*
 * random.c - buffered kernel randomness.
 */
#include "random.h"

#include <string.h>
#include <sys/random.h>

int fo__random_read(fo__random_pool *pool, void *out, size_t len) {
  if (len > sizeof(pool->buf))
    return FO_ERANDOM;
  if (pool->left < len) {
    size_t got = 0;
    while (got < sizeof(pool->buf)) {
      ssize_t r = getrandom(pool->buf + got, sizeof(pool->buf) - got, 0);
      if (r <= 0)
        return FO_ERANDOM;
      got += (size_t)r;
    }
    pool->left = sizeof(pool->buf);
  }
  memcpy(out, pool->buf + sizeof(pool->buf) - pool->left, len);
  pool->left -= len;
  return 0;
}
