/*
 * etcd_http.h - requests to an etcd v3 cluster through its HTTP/JSON
 * gateway, for the etcd backend of the store (store_etcd.c and
 * store_etcd_lease.c): the endpoints of an etcd:// url, one POST with
 * endpoint failover, JSON bodies built in a growing buffer, and the base64
 * etcd wants for keys and values.
 */
#ifndef FO_ETCD_HTTP_H
#define FO_ETCD_HTTP_H

#include <jansson.h>

#include <stddef.h>
#include <stdint.h>

/* Longest PREFIX of an etcd:// url (see <failover/store.h>). */
#define FO__ETCD_PREFIX_MAX 200
/* At most this many endpoints in one url. */
#define FO__ETCD_ENDPOINTS_MAX 16
/* Each HTTP request's bound. */
#define FO__ETCD_REQUEST_MS 2000

typedef struct fo__etcd fo__etcd;

/*
 * Parse `url` ("etcd://HOST:PORT[,HOST:PORT...]/PREFIX") into a connection
 * (no request is made) and the key prefix "/PREFIX/" (NUL-terminated, into
 * `prefix`, room for FO__ETCD_PREFIX_MAX + 3). Returns 0, FO_EINVAL (a bad
 * url), FO_ENOMEM, FO_ESTOREIO (libcurl would not start).
 */
int fo__etcd_open(fo__etcd **out, const char *url, char *prefix);
void fo__etcd_close(fo__etcd *e);

/* A JSON request body under construction; `failed` once memory ran out. */
typedef struct fo__jbuf {
  char *p;
  size_t len, cap;
  int failed;
} fo__jbuf;

void fo__jbuf_raw(fo__jbuf *b, const char *text);
/* `data` as a JSON string of its base64. */
void fo__jbuf_b64(fo__jbuf *b, const void *data, size_t len);
/* A decimal number as a JSON string (etcd's int64 fields). */
void fo__jbuf_i64(fo__jbuf *b, int64_t v);
void fo__jbuf_free(fo__jbuf *b);

/* How a request may be repeated on the next endpoint. */
typedef enum fo__etcd_retry {
  /* Only if it never reached a server (connection refused, no route, name
   * unknown): a write whose outcome must not be guessed. */
  FO__ETCD_ONCE = 0,
  /* Also after a timeout, a broken connection or an etcd "unavailable":
   * reads, and writes the caller recognises as its own when repeated. */
  FO__ETCD_AGAIN = 1
} fo__etcd_retry;

/*
 * POST `body` to `path` ("/v3/kv/range", ...) of the endpoint that answered
 * last, then of the next ones, each once, as `retry` allows; `body` is
 * freed. On 0, `*out` is the answer (json_decref() it). Returns 0;
 * FO_ESTOREIO (no endpoint answered, an etcd error: see fo__etcd_code(),
 * or not JSON); FO_ENOMEM.
 */
int fo__etcd_call(fo__etcd *e, const char *path, fo__jbuf *body,
                  fo__etcd_retry retry, json_t **out);

/* The gRPC status code of the last etcd error answer (5 NotFound: e.g.
 * "requested lease not found"), 0 after a success or a transport failure. */
int fo__etcd_code(const fo__etcd *e);

/* ---- etcd's request objects (keys and values are bytes) ----------------- */

/* "field":"<base64 of k>" */
void fo__etcd_j_key(fo__jbuf *b, const char *field, const void *k, size_t n);
/* A RangeRequest: [k, end) (end NULL: the key alone) at `rev` (0: now), at
 * most `limit` keys (0: all), or only their count. */
void fo__etcd_j_range(fo__jbuf *b, const void *k, size_t kn, const void *end,
                      size_t en, int64_t rev, int64_t limit, int count_only);
/* A txn's put operation (`lease` 0: none). */
void fo__etcd_j_put(fo__jbuf *b, const void *k, size_t kn, const void *v,
                    size_t vn, int64_t lease);
/* A txn's delete_range operation (end NULL: the key alone). */
void fo__etcd_j_delete(fo__jbuf *b, const void *k, size_t kn, const void *end,
                       size_t en);
/* An EQUAL compare: `target` "VALUE" (with `value`), or "CREATE", "MOD",
 * "LEASE" (with `num`). */
void fo__etcd_j_compare(fo__jbuf *b, const void *k, size_t kn,
                        const char *target, const char *value, int64_t num);

/* Leases: grant (`*granted`, may be NULL, gets etcd's TTL, which may be
 * longer than asked: etcd's minimum), keepalive (0, or FO_ENOENT when the
 * lease is gone), revoke (best effort). */
int fo__etcd_lease_grant(fo__etcd *e, int64_t ttl_s, int64_t *id,
                         int64_t *granted);
int fo__etcd_lease_keepalive(fo__etcd *e, int64_t id);
void fo__etcd_lease_revoke(fo__etcd *e, int64_t id);

/* ---- reading answers ---------------------------------------------------- */

/* A txn answer's outcome: 1 when its compares held. */
int fo__etcd_succeeded(const json_t *txn);
/* The range answer of the `i`-th operation of a txn answer (or NULL). */
const json_t *fo__etcd_txn_range(const json_t *txn, size_t i);
/* The etcd revision an answer was read at. Returns 0 or FO_ESTOREIO. */
int fo__etcd_header_revision(const json_t *answer, int64_t *out);

/* An int64 field (etcd sends them as strings); absent: 0. Returns 0 or
 * FO_ESTOREIO (not a number). */
int fo__etcd_i64(const json_t *obj, const char *name, int64_t *out);

/* One key-value of a range answer, its key and value decoded into buffers
 * it owns (reused by the next fo__etcd_kv_read). */
typedef struct fo__etcd_kv {
  unsigned char *key, *value; /* NUL-terminated for convenience */
  size_t key_len, value_len;
  size_t key_cap, value_cap;
  int64_t lease, create_revision, mod_revision;
} fo__etcd_kv;

/* Decode `kv` (an element of "kvs"). Returns 0, FO_ESTOREIO, FO_ENOMEM. */
int fo__etcd_kv_read(const json_t *kv, fo__etcd_kv *out);
void fo__etcd_kv_free(fo__etcd_kv *kv);

/* The "kvs" array of a range answer; NULL when it has none (jansson's
 * json_array_size() of NULL is 0). */
const json_t *fo__etcd_kvs(const json_t *range);

#endif
