/*
 * alloc.c - the registry's allocator hooks, with overflow checks in one place.
 */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *std_malloc(size_t size, void *userdata) {
  (void)userdata;
  return malloc(size);
}

static void *std_realloc(void *ptr, size_t size, void *userdata) {
  (void)userdata;
  return realloc(ptr, size);
}

static void std_free(void *ptr, void *userdata) {
  (void)userdata;
  free(ptr);
}

void fo__alloc_default(fo_allocator *out) {
  out->malloc = std_malloc;
  out->realloc = std_realloc;
  out->free = std_free;
  out->userdata = NULL;
}

void *fo__malloc(const fo_allocator *a, size_t size) {
  return a->malloc(size ? size : 1, a->userdata);
}

void *fo__calloc(const fo_allocator *a, size_t count, size_t size) {
  void *p;
  if (size != 0 && count > SIZE_MAX / size)
    return NULL;
  p = fo__malloc(a, count * size);
  if (p != NULL)
    memset(p, 0, count * size);
  return p;
}

void *fo__realloc_array(const fo_allocator *a, void *ptr, size_t count,
                        size_t size) {
  size_t bytes;
  if (size != 0 && count > SIZE_MAX / size)
    return NULL;
  bytes = count * size;
  return a->realloc(ptr, bytes ? bytes : 1, a->userdata);
}

void fo__free(const fo_allocator *a, void *ptr) {
  if (ptr != NULL)
    a->free(ptr, a->userdata);
}

char *fo__strdup(const fo_allocator *a, const char *s) {
  size_t n = strlen(s) + 1;
  char *p = fo__malloc(a, n);
  if (p != NULL)
    memcpy(p, s, n);
  return p;
}
