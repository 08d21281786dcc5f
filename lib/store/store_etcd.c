/*
 * store_etcd.c - the etcd v3 backend of the store (see fo_store_etcd_open()
 * in <failover/store.h> for the contract; the HTTP/JSON requests, and why
 * libcurl and jansson, are in etcd_http.c; the keys and the store object
 * in store_etcd.h; the publisher lease in store_etcd_lease.c).
 *
 * One lock lease per store object is granted at the first begin and kept
 * alive (at most every LOCK_REFRESH_MS) by later begins instead of a grant
 * and a revoke per call: a mutation costs two requests (the lock txn, the
 * commit txn that also deletes the lock), and the lease still frees the
 * lock within LOCK_TTL_S (and etcd's expiry check) of its holder's death.
 */
#include "store_etcd.h"
#include "alloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_KEEP 100000
/* A writer that dies holding the lock blocks the others for up to the
 * lock lease's TTL (plus etcd's half-second expiry check), and a begin on
 * an agent's loop blocks that loop while it waits: both must stay well
 * under a publisher lease (5 s by default), so that a standby that waits
 * for a dead leader's lock still renews its own lease in time. The wait
 * is shorter than the TTL: a holder that keeps a batch open (alive, but
 * slow) is not robbed of its lock by a waiter; the waiter gets FO_ELOCKED
 * and its caller tries again later. */
#define LOCK_TTL_S 3
#define LOCK_WAIT_MS 2000   /* begin gives up (FO_ELOCKED) after this */
#define LOCK_REFRESH_MS 500 /* keep the lock lease alive when older */
#define PAGE 5000            /* keys per range request of a load */

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ms / 1000);
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- keys and JSON ------------------------------------------------------- */

void fo__et_key_of(const fo__et *s, fo__et_key *k, const char *suffix) {
  int n = snprintf(k->k, sizeof(k->k), "%s%s", s->prefix, suffix);
  k->n = n < 0 ? 0 : (size_t)n;
}

/* "DIR/NUMBER", the number zero-padded to `width` digits. */
static void key_num(const fo__et *s, fo__et_key *k, const char *dir, int width,
                    uint64_t num) {
  int n = snprintf(k->k, sizeof(k->k), "%s%s/%0*llu", s->prefix, dir, width,
                   (unsigned long long)num);
  k->n = n < 0 ? 0 : (size_t)n;
}

/* The end of the range of every key that starts with `k`. */
static void key_end(const fo__et_key *k, fo__et_key *end) {
  *end = *k;
  end->k[end->n - 1]++;
}

static int range(fo__et *s, const void *k, size_t kn, const fo__et_key *end,
                 int64_t rev, int64_t limit, json_t **ans) {
  fo__jbuf b = {NULL, 0, 0, 0};
  fo__etcd_j_range(&b, k, kn, end ? end->k : NULL, end ? end->n : 0, rev, limit,
                   0);
  return fo__etcd_call(s->c, "/v3/kv/range", &b, FO__ETCD_AGAIN, ans);
}

int fo__et_first_kv(fo__et *s, const json_t *range_answer) {
  const json_t *kvs = fo__etcd_kvs(range_answer);
  if (json_array_size(kvs) == 0)
    return FO_ENOENT;
  return fo__etcd_kv_read(json_array_get(kvs, 0), &s->kv);
}

/* A decimal number of at most 20 digits. */
static int parse_u64(const unsigned char *p, size_t n, uint64_t *out) {
  uint64_t v = 0;
  size_t i;
  if (n == 0 || n > 20)
    return FO_ECORRUPT;
  for (i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - (p[i] - '0')) / 10)
      return FO_ECORRUPT;
    v = v * 10 + (uint64_t)(p[i] - '0');
  }
  *out = v;
  return 0;
}

/* ---- the revision -------------------------------------------------------- */

/* PREFIX/rev now: its value and etcd's revision of the read. FO_ENOENT when
 * the key is missing. */
static int read_rev(fo__et *s, uint64_t *rev, int64_t *at) {
  fo__et_key k;
  json_t *ans = NULL;
  int rc;
  fo__et_key_of(s, &k, "rev");
  if ((rc = range(s, k.k, k.n, NULL, 0, 0, &ans)) != 0)
    return rc;
  rc = fo__etcd_header_revision(ans, at);
  if (rc == 0)
    rc = fo__et_first_kv(s, ans);
  if (rc == 0)
    rc = parse_u64(s->kv.value, s->kv.value_len, rev);
  json_decref(ans);
  return rc;
}

static int et_revision(void *self, uint64_t *out) {
  int64_t at;
  int rc = read_rev(self, out, &at);
  return rc == FO_ENOENT ? FO_ECORRUPT : rc;
}

/* ---- load ---------------------------------------------------------------- */

/* Decode s->kv's value as one row of `kind`. */
static int decode_row(fo__et *s, fo_store_row_kind kind, fo__decoded *d) {
  int rc = fo__log_decode(&s->alloc, s->kv.value, s->kv.value_len, d);
  if (rc == 0 && (d->count != 1 || d->rows[0].kind != kind)) {
    fo__decoded_free(&s->alloc, d);
    rc = FO_ECORRUPT;
  }
  return rc;
}

/* The row under `suffix` at `at` into the loader; `*missing` when there
 * is none. */
static int load_one(fo__et *s, fo_store_loader *ld, const char *suffix,
                    fo_store_row_kind kind, int64_t at, int *missing) {
  fo__et_key k;
  json_t *ans = NULL;
  fo__decoded d;
  int rc;
  fo__et_key_of(s, &k, suffix);
  *missing = 0;
  if ((rc = range(s, k.k, k.n, NULL, at, 0, &ans)) != 0)
    return rc;
  rc = fo__et_first_kv(s, ans);
  json_decref(ans);
  if (rc == FO_ENOENT) {
    *missing = 1;
    return 0;
  }
  if (rc == 0 && (rc = decode_row(s, kind, &d)) == 0) {
    rc = fo_store_loader_row(ld, &d.rows[0]);
    fo__decoded_free(&s->alloc, &d);
  }
  return rc;
}

/* Every key under DIR/ from `from` on (NULL: all) at `at`, in key order,
 * `page` keys per request; for each, `fn` with the number its key ends
 * with (s->kv holds the value). */
static int scan(fo__et *s, const char *dir, int width, const fo__et_key *from,
                int64_t at, int64_t page, int (*fn)(fo__et *, uint64_t, void *),
                void *arg) {
  fo__et_key k, end;
  unsigned char start[FO__ET_KEY_MAX + 1];
  size_t start_n, i, plen;
  int rc = 0, more = 1;
  fo__et_key_of(s, &k, dir);
  key_end(&k, &end);
  plen = k.n;
  if (from != NULL)
    k = *from;
  memcpy(start, k.k, k.n);
  start_n = k.n;
  while (rc == 0 && more) {
    json_t *ans = NULL;
    const json_t *kvs;
    size_t n;
    if ((rc = range(s, start, start_n, &end, at, page, &ans)) != 0)
      break;
    kvs = fo__etcd_kvs(ans);
    n = json_array_size(kvs);
    more = json_is_true(json_object_get(ans, "more"));
    for (i = 0; rc == 0 && i < n; i++) {
      uint64_t num = 0;
      rc = fo__etcd_kv_read(json_array_get(kvs, i), &s->kv);
      if (rc == 0 && (s->kv.key_len != plen + (size_t)width ||
                      parse_u64(s->kv.key + plen, (size_t)width, &num) != 0))
        rc = FO_ECORRUPT;
      if (rc == 0)
        rc = fn(s, num, arg);
      if (rc == 0 && i + 1 == n) {
        /* the next page starts just after this key */
        memcpy(start, s->kv.key, s->kv.key_len);
        start[s->kv.key_len] = '\0';
        start_n = s->kv.key_len + 1;
      }
    }
    if (rc == 0 && more && n == 0)
      rc = FO_ESTOREIO;
    json_decref(ans);
  }
  return rc;
}

typedef struct load_arg {
  fo_store_loader *ld;
  fo_store_row_kind kind;
} load_arg;

static int load_row(fo__et *s, uint64_t num, void *arg) {
  load_arg *a = arg;
  fo__decoded d;
  int rc = decode_row(s, a->kind, &d);
  if (rc != 0)
    return rc;
  if (num !=
      (a->kind == FO_ROW_GROUP ? d.rows[0].group.seq : d.rows[0].stack.id))
    rc = FO_ECORRUPT;
  else
    rc = fo_store_loader_row(a->ld, &d.rows[0]);
  fo__decoded_free(&s->alloc, &d);
  return rc;
}

/* Rows without settings: an empty store, unless stacks or groups exist. */
static int any_rows(fo__et *s, int64_t at) {
  static const char *const dirs[] = {"stack/", "group/"};
  size_t i;
  for (i = 0; i < 2; i++) {
    fo__et_key k, end;
    json_t *ans = NULL;
    int rc, n;
    fo__et_key_of(s, &k, dirs[i]);
    key_end(&k, &end);
    if ((rc = range(s, k.k, k.n, &end, at, 1, &ans)) != 0)
      return rc;
    n = (int)json_array_size(fo__etcd_kvs(ans));
    json_decref(ans);
    if (n > 0)
      return FO_ECORRUPT;
  }
  return FO_ENOSTORE;
}

static int et_load(void *self, fo_store_loader *ld, uint64_t *revision) {
  fo__et *s = self;
  uint64_t rev = 0;
  int64_t at = 0;
  load_arg a;
  /* Every read after the first is pinned to etcd's revision of the first:
   * one consistent snapshot, however many requests it takes. */
  int missing = 0, rc = read_rev(s, &rev, &at);
  if (rc == FO_ENOENT)
    return FO_ENOSTORE; /* the prefix was emptied since the open */
  if (rc == 0)
    rc = load_one(s, ld, "settings", FO_ROW_SETTINGS, at, &missing);
  if (rc == 0 && missing)
    return any_rows(s, at); /* created, never written */
  if (rc == 0)
    rc = load_one(s, ld, "counters", FO_ROW_COUNTERS, at, &missing);
  if (rc == 0 && missing)
    rc = FO_ECORRUPT;
  a.ld = ld;
  a.kind = FO_ROW_STACK;
  if (rc == 0)
    rc = scan(s, "stack/", 10, NULL, at, PAGE, load_row, &a);
  a.kind = FO_ROW_GROUP;
  if (rc == 0)
    rc = scan(s, "group/", 10, NULL, at, PAGE, load_row, &a);
  if (rc == 0)
    *revision = rev;
  return rc;
}

/* ---- the log ------------------------------------------------------------- */

typedef struct log_arg {
  uint64_t next; /* the revision the next entry must have */
  uint64_t after;
  fo_store_log_fn fn;
  void *userdata;
} log_arg;

static int log_entry(fo__et *s, uint64_t num, void *arg) {
  log_arg *a = arg;
  if (num != a->next)
    return a->next == a->after + 1 ? FO_ECOMPACTED : FO_ECORRUPT;
  a->next++;
  return a->fn(num, s->kv.value, s->kv.value_len, a->userdata);
}

static int et_read_log(void *self, uint64_t after, fo_store_log_fn fn,
                       void *userdata) {
  fo__et *s = self;
  uint64_t rev = 0;
  int64_t at = 0;
  log_arg a;
  fo__et_key from;
  int rc = read_rev(s, &rev, &at);
  if (rc == FO_ENOENT)
    rc = FO_ECORRUPT;
  if (rc != 0 || rev <= after)
    return rc;
  a.next = after + 1;
  a.after = after;
  a.fn = fn;
  a.userdata = userdata;
  key_num(s, &from, "log", 20, after + 1);
  /* Entries can be large (a batch of 10,000 groups): smaller pages. */
  rc = scan(s, "log/", 20, &from, at, PAGE / 10, log_entry, &a);
  if (rc == 0 && a.next != rev + 1)
    rc = a.next == after + 1 ? FO_ECOMPACTED : FO_ECORRUPT;
  return rc;
}

/* ---- the lock lease ------------------------------------------------------ */

/* A lock lease with at least LOCK_TTL_S - LOCK_REFRESH_MS to live. */
static int lock_lease(fo__et *s) {
  int64_t t0 = mono_ms();
  int rc;
  if (s->lock_lease != 0 && t0 - s->lock_lease_at < LOCK_REFRESH_MS)
    return 0;
  if (s->lock_lease != 0) {
    rc = fo__etcd_lease_keepalive(s->c, s->lock_lease);
    if (rc != FO_ENOENT) {
      if (rc == 0)
        s->lock_lease_at = t0;
      return rc;
    }
    s->lock_lease = 0;
  }
  rc = fo__etcd_lease_grant(s->c, LOCK_TTL_S, &s->lock_lease, NULL);
  if (rc != 0)
    s->lock_lease = 0;
  s->lock_lease_at = t0;
  return rc;
}

/* ---- begin, commit, rollback --------------------------------------------- */

/* One attempt at the lock: 0 (held), FO_ESTALE, FO_ELOCKED, FO_ENOENT (our
 * lease is gone), FO_ESTOREIO. */
static int try_lock(fo__et *s, uint64_t expected) {
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  char want[24];
  fo__et_key lock, rev;
  uint64_t now = 0;
  int rc;
  fo__et_key_of(s, &lock, "lock");
  fo__et_key_of(s, &rev, "rev");
  snprintf(want, sizeof(want), "%llu", (unsigned long long)expected);
  fo__jbuf_raw(&b, "{\"compare\":[");
  fo__etcd_j_compare(&b, rev.k, rev.n, "VALUE", want, 0);
  fo__jbuf_raw(&b, ",");
  fo__etcd_j_compare(&b, lock.k, lock.n, "CREATE", NULL, 0);
  fo__jbuf_raw(&b, "],\"success\":[");
  fo__etcd_j_put(&b, lock.k, lock.n, s->lock_value, strlen(s->lock_value),
                 s->lock_lease);
  fo__jbuf_raw(&b, "],\"failure\":[{\"request_range\":");
  fo__etcd_j_range(&b, rev.k, rev.n, NULL, 0, 0, 0, 0);
  fo__jbuf_raw(&b, "},{\"request_range\":");
  fo__etcd_j_range(&b, lock.k, lock.n, NULL, 0, 0, 0, 0);
  fo__jbuf_raw(&b, "}]}");
  /* Repeatable: a repeat finds the lock on our own lease (below). */
  rc = fo__etcd_call(s->c, "/v3/kv/txn", &b, FO__ETCD_AGAIN, &ans);
  if (rc == FO_ESTOREIO && fo__etcd_code(s->c) == 5)
    return FO_ENOENT; /* "requested lease not found" */
  if (rc != 0 || fo__etcd_succeeded(ans)) {
    json_decref(ans);
    return rc;
  }
  rc = fo__et_first_kv(s, fo__etcd_txn_range(ans, 0));
  if (rc == 0)
    rc = parse_u64(s->kv.value, s->kv.value_len, &now);
  if (rc == 0 && now != expected)
    rc = FO_ESTALE;
  if (rc == FO_ENOENT) /* no PREFIX/rev: emptied under us */
    rc = FO_ESTALE;
  if (rc == 0) {
    rc = fo__et_first_kv(s, fo__etcd_txn_range(ans, 1));
    if (rc == 0)
      rc = s->kv.lease == s->lock_lease ? 0 : FO_ELOCKED;
    else if (rc == FO_ENOENT)
      rc = FO_ELOCKED; /* released since: try again */
  }
  json_decref(ans);
  return rc;
}

static int et_begin(void *self, uint64_t expected) {
  fo__et *s = self;
  int64_t start = mono_ms(), delay = 5;
  int rc, lease_lost = 0;
  if (s->readonly)
    return FO_EREADONLY;
  if (s->in_txn)
    return FO_EBUSY;
  for (;;) {
    if ((rc = lock_lease(s)) != 0)
      return rc;
    rc = try_lock(s, expected);
    if (rc == FO_ENOENT && !lease_lost++) {
      s->lock_lease = 0; /* expired between our keepalives */
      continue;
    }
    if (rc == FO_ENOENT)
      rc = FO_ESTOREIO;
    if (rc != FO_ELOCKED)
      break;
    if (mono_ms() - start >= LOCK_WAIT_MS)
      return FO_ELOCKED;
    sleep_ms(delay);
    delay = delay * 2 > 50 ? 50 : delay * 2;
  }
  if (rc == 0) {
    s->in_txn = 1;
    s->expected = expected;
  }
  return rc;
}

/* Delete the lock if it is still ours. */
static void unlock(fo__et *s) {
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  fo__et_key lock;
  fo__et_key_of(s, &lock, "lock");
  fo__jbuf_raw(&b, "{\"compare\":[");
  fo__etcd_j_compare(&b, lock.k, lock.n, "LEASE", NULL, s->lock_lease);
  fo__jbuf_raw(&b, "],\"success\":[");
  fo__etcd_j_delete(&b, lock.k, lock.n, NULL, 0);
  fo__jbuf_raw(&b, "]}");
  if (fo__etcd_call(s->c, "/v3/kv/txn", &b, FO__ETCD_AGAIN, &ans) == 0)
    json_decref(ans);
}

static void et_rollback(void *self) {
  fo__et *s = self;
  if (!s->in_txn)
    return;
  s->in_txn = 0;
  unlock(s);
}

/* The key of a row. */
static void row_key(const fo__et *s, const fo_store_row *r, fo__et_key *k) {
  switch (r->kind) {
  case FO_ROW_SETTINGS:
    fo__et_key_of(s, k, "settings");
    break;
  case FO_ROW_COUNTERS:
    fo__et_key_of(s, k, "counters");
    break;
  case FO_ROW_STACK:
  case FO_ROW_STACK_REMOVED:
    key_num(s, k, "stack", 10, r->stack.id);
    break;
  case FO_ROW_GROUP:
    key_num(s, k, "group", 10, r->group.seq);
    break;
  }
}

/* The commit as one txn: rows, log entry, revision, the lock's release and
 * the log's pruning, if the lock is still ours and the revision unmoved. */
static int commit_body(fo__et *s, const fo_store_changes *ch, uint64_t rev,
                       fo__jbuf *b) {
  size_t i, n = fo_store_changes_count(ch), log_len = 0;
  const void *log = NULL;
  char num[24];
  fo__et_key k, lock;
  fo__et_key_of(s, &lock, "lock");
  fo__et_key_of(s, &k, "rev");
  snprintf(num, sizeof(num), "%llu", (unsigned long long)(rev - 1));
  fo__jbuf_raw(b, "{\"compare\":[");
  fo__etcd_j_compare(b, lock.k, lock.n, "LEASE", NULL, s->lock_lease);
  fo__jbuf_raw(b, ",");
  fo__etcd_j_compare(b, k.k, k.n, "VALUE", num, 0);
  fo__jbuf_raw(b, "],\"success\":[");
  for (i = 0; i < n; i++) {
    const fo_store_row *r = fo_store_changes_row(ch, i);
    row_key(s, r, &k);
    if (r->kind == FO_ROW_STACK_REMOVED) {
      fo__etcd_j_delete(b, k.k, k.n, NULL, 0);
    } else {
      unsigned char *bytes = NULL;
      size_t len = 0;
      int rc = fo__log_encode(&s->alloc, r, 1, &bytes, &len);
      if (rc != 0)
        return rc;
      fo__etcd_j_put(b, k.k, k.n, bytes, len, 0);
      fo__free(&s->alloc, bytes);
    }
    fo__jbuf_raw(b, ",");
  }
  fo_store_changes_log(ch, &log, &log_len);
  key_num(s, &k, "log", 20, rev);
  fo__etcd_j_put(b, k.k, k.n, log, log_len, 0);
  fo__jbuf_raw(b, ",");
  fo__et_key_of(s, &k, "rev");
  snprintf(num, sizeof(num), "%llu", (unsigned long long)rev);
  fo__etcd_j_put(b, k.k, k.n, num, strlen(num), 0);
  fo__jbuf_raw(b, ",");
  fo__etcd_j_delete(b, lock.k, lock.n, NULL, 0);
  if (rev > LOG_KEEP) {
    fo__et_key end;
    fo__et_key_of(s, &k, "log/");
    key_num(s, &end, "log", 20, rev - LOG_KEEP + 1);
    fo__jbuf_raw(b, ",");
    fo__etcd_j_delete(b, k.k, k.n, end.k, end.n);
  }
  fo__jbuf_raw(b, "]}");
  return b->failed ? FO_ENOMEM : 0;
}

/* After a commit whose answer was lost: did it land? (The log entry of
 * `rev` holds exactly our bytes.) */
static int landed(fo__et *s, const fo_store_changes *ch, uint64_t rev) {
  const void *log = NULL;
  size_t log_len = 0;
  json_t *ans = NULL;
  fo__et_key k;
  int yes;
  fo_store_changes_log(ch, &log, &log_len);
  key_num(s, &k, "log", 20, rev);
  if (range(s, k.k, k.n, NULL, 0, 0, &ans) != 0)
    return 0;
  yes = fo__et_first_kv(s, ans) == 0 && s->kv.value_len == log_len &&
        memcmp(s->kv.value, log, log_len) == 0;
  json_decref(ans);
  return yes;
}

static int et_commit(void *self, const fo_store_changes *ch,
                     uint64_t *revision) {
  fo__et *s = self;
  uint64_t rev = s->expected + 1;
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  int rc;
  if (!s->in_txn)
    return FO_EINVAL;
  s->in_txn = 0;
  rc = commit_body(s, ch, rev, &b);
  if (rc != 0) {
    fo__jbuf_free(&b);
    unlock(s);
    return rc;
  }
  /* Not repeated on another endpoint once it may have been sent: a repeat
   * would fail its compares even when the first one landed. */
  rc = fo__etcd_call(s->c, "/v3/kv/txn", &b, FO__ETCD_ONCE, &ans);
  if (rc == 0 && !fo__etcd_succeeded(ans))
    rc = FO_ESTALE; /* the lock expired (and maybe another wrote) */
  json_decref(ans);
  if (rc == FO_ESTOREIO && fo__etcd_code(s->c) == 0 && landed(s, ch, rev))
    rc = 0;
  if (rc != 0) {
    unlock(s);
    return rc == FO_ENOMEM   ? FO_ENOMEM
           : rc == FO_ESTALE ? FO_ESTALE
                             : FO_ESTOREIO;
  }
  *revision = rev;
  return 0;
}

/* ---- application settings ------------------------------------------------ */

static void setting_key(const fo__et *s, fo__et_key *k, const char *name) {
  char suffix[FO_STORE_SETTING_NAME_MAX + 8];
  snprintf(suffix, sizeof(suffix), "app/%s", name);
  fo__et_key_of(s, k, suffix);
}

static int et_setting_get(void *self, const char *name, char *buf, size_t size,
                          size_t *len) {
  fo__et *s = self;
  json_t *ans = NULL;
  fo__et_key k;
  int rc;
  setting_key(s, &k, name);
  if ((rc = range(s, k.k, k.n, NULL, 0, 0, &ans)) != 0)
    return rc;
  rc = fo__et_first_kv(s, ans);
  json_decref(ans);
  if (rc != 0)
    return rc;
  *len = s->kv.value_len;
  if (s->kv.value_len >= size)
    return FO_ENOSPC;
  memcpy(buf, s->kv.value, s->kv.value_len + 1);
  return 0;
}

static int et_setting_put(void *self, const char *name, const char *value) {
  fo__et *s = self;
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  fo__et_key k;
  int rc;
  if (s->readonly)
    return FO_EREADONLY;
  setting_key(s, &k, name);
  if (value == NULL) {
    fo__jbuf_raw(&b, "{");
    fo__etcd_j_key(&b, "key", k.k, k.n);
    fo__jbuf_raw(&b, "}");
    rc = fo__etcd_call(s->c, "/v3/kv/deleterange", &b, FO__ETCD_AGAIN, &ans);
  } else {
    fo__jbuf_raw(&b, "{");
    fo__etcd_j_key(&b, "key", k.k, k.n);
    fo__jbuf_raw(&b, ",");
    fo__etcd_j_key(&b, "value", value, strlen(value));
    fo__jbuf_raw(&b, "}");
    rc = fo__etcd_call(s->c, "/v3/kv/put", &b, FO__ETCD_AGAIN, &ans);
  }
  json_decref(ans);
  return rc;
}

/* ---- open and close ------------------------------------------------------ */

static void et_close(void *self) {
  fo__et *s = self;
  if (s == NULL)
    return;
  et_rollback(s);
  if (s->lock_lease != 0)
    fo__etcd_lease_revoke(s->c,
                          s->lock_lease); /* else it expires in LOCK_TTL_S */
  fo__etcd_close(s->c);
  fo__etcd_kv_free(&s->kv);
  free(s);
}

static const fo_store_backend etcd_backend = {
    FO_STORE_BACKEND_VERSION,
    et_load,
    et_begin,
    et_commit,
    et_rollback,
    et_read_log,
    et_revision,
    fo__et_lease_acquire,
    fo__et_lease_release,
    fo__et_lease_read,
    et_close,
    et_setting_get,
    et_setting_put,
};

/* Is anything stored under the prefix? */
static int prefix_used(fo__et *s, int *used) {
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  fo__et_key k, end;
  int64_t count = 0;
  int rc;
  fo__et_key_of(s, &k, "");
  key_end(&k, &end);
  fo__etcd_j_range(&b, k.k, k.n, end.k, end.n, 0, 0, 1);
  if ((rc = fo__etcd_call(s->c, "/v3/kv/range", &b, FO__ETCD_AGAIN, &ans)) != 0)
    return rc;
  rc = fo__etcd_i64(ans, "count", &count);
  *used = count > 0;
  json_decref(ans);
  return rc;
}

/* Write PREFIX/rev = 0 unless it exists (another process may create the
 * same store at the same time: whichever txn comes first writes it). */
static int create(fo__et *s) {
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  fo__et_key rev;
  int rc;
  fo__et_key_of(s, &rev, "rev");
  fo__jbuf_raw(&b, "{\"compare\":[");
  fo__etcd_j_compare(&b, rev.k, rev.n, "CREATE", NULL, 0);
  fo__jbuf_raw(&b, "],\"success\":[");
  fo__etcd_j_put(&b, rev.k, rev.n, "0", 1, 0);
  fo__jbuf_raw(&b, "]}");
  rc = fo__etcd_call(s->c, "/v3/kv/txn", &b, FO__ETCD_AGAIN, &ans);
  json_decref(ans);
  return rc;
}

/* The first request: the store is there (or made), and its revision is
 * a number. */
static int probe(fo__et *s, unsigned int flags) {
  uint64_t rev;
  int64_t at;
  int rc = read_rev(s, &rev, &at), used = 0;
  if (rc != FO_ENOENT)
    return rc;
  if ((rc = prefix_used(s, &used)) != 0)
    return rc;
  if (used)
    return FO_ECORRUPT; /* keys, but no revision: not a store of ours */
  if (!(flags & FO_STORE_CREATE))
    return FO_ENOSTORE;
  return create(s);
}

int fo_store_etcd_open(fo_store **out, const char *url, unsigned int flags) {
  char host[64];
  fo__et *s;
  int rc;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || url == NULL ||
      (flags & ~(FO_STORE_CREATE | FO_STORE_READONLY)) ||
      ((flags & FO_STORE_CREATE) && (flags & FO_STORE_READONLY)))
    return FO_EINVAL;
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return FO_ENOMEM;
  fo__alloc_default(&s->alloc);
  s->readonly = (flags & FO_STORE_READONLY) != 0;
  if (gethostname(host, sizeof(host)) != 0)
    host[0] = '\0';
  host[sizeof(host) - 1] = '\0';
  snprintf(s->lock_value, sizeof(s->lock_value), "%s:%ld", host,
           (long)getpid());
  rc = fo__etcd_open(&s->c, url, s->prefix);
  if (rc == 0)
    rc = probe(s, flags);
  if (rc != 0) {
    et_close(s);
    return rc;
  }
  return fo_store_new(out, &etcd_backend, s);
}
