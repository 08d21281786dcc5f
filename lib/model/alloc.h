/*
 * alloc.h - allocation through a registry's fo_allocator hooks.
 */
#ifndef FO_ALLOC_H
#define FO_ALLOC_H

#include <failover.h>

/* Fill `out` with malloc/realloc/free. */
void fo__alloc_default(fo_allocator *out);

void *fo__malloc(const fo_allocator *a, size_t size);
void *fo__calloc(const fo_allocator *a, size_t count, size_t size);
/* Grow an array to `count` elements of `size`; NULL on overflow or
 * failure, the old block left intact. */
void *fo__realloc_array(const fo_allocator *a, void *ptr, size_t count,
                        size_t size);
void fo__free(const fo_allocator *a, void *ptr);
char *fo__strdup(const fo_allocator *a, const char *s);

#endif
