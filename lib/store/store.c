/*
 * store.c - a store: a backend's function table and its state, and the
 * accessors backends use on change sets.
 */
#include "store_internal.h"

#include "layout.h"

#include <stdlib.h>
#include <string.h>

/* Sizes of the backend table's versions 1.. (see layout.h): a table built
 * against an older header is read no further than it reaches. */
static const size_t backend_sizes[] = {
  FO__SIZE_THROUGH(fo_store_backend, close),
  FO__SIZE_THROUGH(fo_store_backend, setting_put),
};
static const fo__layout backend_layout = FO__LAYOUT(backend_sizes);

int fo_store_new(fo_store **out, const fo_store_backend *caller,
                 void *self) {
  fo_store_backend table;
  const fo_store_backend *backend = &table;
  fo_store *s;
  int rc;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || caller == NULL)
    return FO_EINVAL;
  if ((rc = fo__layout_read(&backend_layout, &table, sizeof(table),
                            caller)) != 0) {
    if (caller->close) /* in every version */
      caller->close(self);
    return rc;
  }
  if ((backend->version >= 2 &&
       (!backend->setting_get || !backend->setting_put)) ||
      !backend->load || !backend->begin || !backend->commit ||
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

/* 1..63 of [a-z0-9._-]. */
static int check_setting_name(const char *name) {
  size_t i;
  for (i = 0; name[i] != '\0'; i++) {
    char c = name[i];
    if (i >= FO_STORE_SETTING_NAME_MAX ||
        !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return FO_EBADNAME;
  }
  return i == 0 ? FO_EBADNAME : 0;
}

int fo_store_setting_get(fo_store *store, const char *name, char *buf,
                         size_t size, size_t *len) {
  size_t n = 0;
  int rc;
  if (store == NULL || name == NULL || buf == NULL || size == 0)
    return FO_EINVAL;
  if ((rc = check_setting_name(name)) != 0)
    return rc;
  if (store->be.setting_get == NULL)
    return FO_ENOTSUP;
  buf[0] = '\0';
  rc = store->be.setting_get(store->self, name, buf, size, &n);
  if (rc == FO_ENOSPC)
    buf[0] = '\0';
  if (len != NULL)
    *len = n;
  return rc;
}

int fo_store_setting_put(fo_store *store, const char *name,
                         const char *value) {
  int rc;
  if (store == NULL || name == NULL)
    return FO_EINVAL;
  if ((rc = check_setting_name(name)) != 0)
    return rc;
  if (value != NULL && strlen(value) > FO_STORE_SETTING_VALUE_MAX)
    return FO_ERANGE;
  if (store->be.setting_put == NULL)
    return FO_ENOTSUP;
  return store->be.setting_put(store->self, name, value);
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

int fo_store_open(fo_store **out, const char *where, unsigned int flags) {
  static const char etcd_scheme[] = "etcd://";
  if (out != NULL)
    *out = NULL;
  if (out == NULL || where == NULL)
    return FO_EINVAL;
  if (strncmp(where, etcd_scheme, sizeof(etcd_scheme) - 1) == 0)
    return fo_store_etcd_open(out, where, flags);
  return fo_store_sqlite_open(out, where, flags);
}
