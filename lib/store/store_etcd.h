/*
 * store_etcd.h - the etcd backend's store object and its keys, shared by
 * store_etcd.c (open, load, the log, begin/commit, application settings)
 * and store_etcd_lease.c (the publisher lease).
 *
 * Keys, all under "/PREFIX/":
 *   rev                  the store's revision, decimal; written "0" by a
 *                        CREATE open, so that every txn can compare it
 *                        (etcd fails a VALUE compare on a missing key)
 *   lock                 the write lock, on our lock lease (10 s)
 *   settings, counters   one row each      } each value is the row as a
 *   stack/ID, group/SEQ  ID, SEQ %010u     } one-row log entry
 *                                            (fo__log_encode)
 *   log/REV              REV %020llu, the commit's log entry as is
 *   leader               "EXPIRES_MS TTL_S HOLDER" on the holder's lease
 *   epoch                "EPOCH HOLDER" of the last take
 *   app/NAME             application settings, the value as is
 * Zero-padded numbers make etcd's key order the order of ids, seqs and
 * revisions, so loads and the log read in order without sorting.
 */
#ifndef FO_STORE_ETCD_H
#define FO_STORE_ETCD_H

#include "etcd_http.h"
#include "store_internal.h"

#include <stddef.h>
#include <stdint.h>

#define FO__ET_KEY_MAX                                                         \
  (FO__ETCD_PREFIX_MAX + 3 + FO_STORE_SETTING_NAME_MAX + 32)

/* The backend's state behind a fo_store (its `self`). */
typedef struct fo__et {
  fo__etcd *c;
  fo_allocator alloc;
  char prefix[FO__ETCD_PREFIX_MAX + 3]; /* "/PREFIX/" */
  int readonly;
  int in_txn;
  uint64_t expected;
  int64_t lock_lease;    /* our lease for the lock key; 0: none */
  int64_t lock_lease_at; /* monotonic ms of its grant or last keepalive */
  char lock_value[96];   /* "HOST:PID", for whoever looks at the lock */
  fo__etcd_kv kv;        /* scratch for decoded keys and values */
} fo__et;

/* A whole key, prefix included. */
typedef struct fo__et_key {
  char k[FO__ET_KEY_MAX];
  size_t n;
} fo__et_key;

/* PREFIX + `suffix`. */
void fo__et_key_of(const fo__et *s, fo__et_key *k, const char *suffix);

/* The first key-value of a range answer into s->kv: 0 or FO_ENOENT. */
int fo__et_first_kv(fo__et *s, const json_t *range_answer);

/* store_etcd_lease.c: the backend's lease_acquire, lease_release and
 * lease_read (see fo_store_backend in <failover/store.h>). */
int fo__et_lease_acquire(void *self, const char *holder, uint32_t ttl_ms,
                         fo_store_lease *out);
int fo__et_lease_release(void *self, const char *holder);
int fo__et_lease_read(void *self, fo_store_lease *out);

#endif
