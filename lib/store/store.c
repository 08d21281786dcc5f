/*
 * store.c - a store: a backend's function table and its state, and the
 * accessors backends use on change sets.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

int fo_store_new(fo_store **out, const fo_store_backend *backend,
                 void *self) {
  fo_store *s;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || backend == NULL)
    return FO_EINVAL;
  if (backend->version != FO_STORE_BACKEND_VERSION) {
    if (backend->close)
      backend->close(self);
    return FO_EVERSION;
  }
  if (!backend->load || !backend->begin || !backend->commit ||
      !backend->rollback || !backend->read_log || !backend->revision ||
      !backend->lease_acquire || !backend->lease_release ||
      !backend->lease_read || !backend->close) {
    if (backend->close)
      backend->close(self);
    return FO_EINVAL;
  }
  s = calloc(1, sizeof(*s));
  if (s == NULL) {
    backend->close(self);
    return FO_ENOMEM;
  }
  s->be = *backend;
  s->self = self;
  *out = s;
  return 0;
}

void fo_store_close(fo_store *store) {
  if (store == NULL)
    return;
  store->be.close(store->self);
  free(store);
}

int fo_store_revision(fo_store *store, uint64_t *out) {
  if (store == NULL || out == NULL)
    return FO_EINVAL;
  return store->be.revision(store->self, out);
}

size_t fo_store_changes_count(const fo_store_changes *changes) {
  return changes ? changes->count : 0;
}

const fo_store_row *fo_store_changes_row(const fo_store_changes *changes,
                                         size_t index) {
  if (changes == NULL || index >= changes->count)
    return NULL;
  return &changes->rows[index];
}

void fo_store_changes_log(const fo_store_changes *changes, const void **bytes,
                          size_t *len) {
  if (bytes)
    *bytes = changes ? changes->log : NULL;
  if (len)
    *len = changes ? changes->log_len : 0;
}

int fo__store_holder_valid(const char *holder) {
  size_t n;
  if (holder == NULL)
    return 0;
  for (n = 0; holder[n]; n++)
    if ((unsigned char)holder[n] < 0x21 || (unsigned char)holder[n] > 0x7e)
      return 0;
  return n >= 1 && n <= 63;
}

int fo_store_lease_acquire(fo_store *store, const char *holder,
                           uint32_t ttl_ms, fo_store_lease *out) {
  fo_store_lease tmp;
  if (store == NULL || !fo__store_holder_valid(holder) || ttl_ms == 0)
    return FO_EINVAL;
  return store->be.lease_acquire(store->self, holder, ttl_ms,
                                 out ? out : &tmp);
}

int fo_store_lease_release(fo_store *store, const char *holder) {
  if (store == NULL || !fo__store_holder_valid(holder))
    return FO_EINVAL;
  return store->be.lease_release(store->self, holder);
}

int fo_store_lease_read(fo_store *store, fo_store_lease *out) {
  if (store == NULL || out == NULL)
    return FO_EINVAL;
  return store->be.lease_read(store->self, out);
}
