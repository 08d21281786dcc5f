/*
 * store_etcd_lease.c - the publisher lease of the etcd backend (the
 * backend's lease_acquire, lease_release and lease_read; the rest of the
 * backend is in store_etcd.c, the keys in store_etcd.h).
 *
 * PREFIX/leader lives on an etcd lease of the holder's ttl (whole
 * seconds, at least LEASE_TTL_MIN_S): etcd deletes it when the holder stops
 * renewing or releases. PREFIX/epoch outlives it and names the holder of
 * the last take. Both are read in one request and written in one txn that
 * compares the mod_revision of each as it was read, so two takers cannot
 * both win.
 */
#include "store_etcd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEASE_TTL_MIN_S 2

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct lease_view {
  int held;           /* PREFIX/leader exists */
  int64_t id;         /* its etcd lease */
  int64_t leader_mod; /* its mod_revision (0: absent) */
  int64_t expires_ms;
  int64_t ttl_s;
  char holder[64];
  int64_t epoch_mod; /* PREFIX/epoch's mod_revision (0: absent) */
  uint64_t epoch;
  char last[64]; /* the holder of the last take */
} lease_view;

/* "NUMBER[ NUMBER] NAME" into numbers and a name of 1..63 characters. */
static int parse_lease_value(const fo__etcd_kv *kv, int64_t *a, int64_t *b,
                             char name[64]) {
  const char *p = (const char *)kv->value;
  char *end;
  long long x;
  size_t n;
  errno = 0;
  x = strtoll(p, &end, 10);
  if (errno != 0 || end == p || *end != ' ' || x < 0)
    return FO_ECORRUPT;
  *a = x;
  p = end + 1;
  if (b != NULL) {
    x = strtoll(p, &end, 10);
    if (errno != 0 || end == p || *end != ' ' || x < 0)
      return FO_ECORRUPT;
    *b = x;
    p = end + 1;
  }
  n = kv->value_len - (size_t)(p - (const char *)kv->value);
  if (n == 0 || n > 63 || memchr(p, '\0', n) != NULL)
    return FO_ECORRUPT;
  memcpy(name, p, n);
  name[n] = '\0';
  return 0;
}

static int lease_view_read(fo__et *s, lease_view *v) {
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  fo__et_key leader, epoch;
  int rc;
  memset(v, 0, sizeof(*v));
  fo__et_key_of(s, &leader, "leader");
  fo__et_key_of(s, &epoch, "epoch");
  /* Both keys from one read: a txn of two ranges and no compare. */
  fo__jbuf_raw(&b, "{\"success\":[{\"request_range\":");
  fo__etcd_j_range(&b, leader.k, leader.n, NULL, 0, 0, 0, 0);
  fo__jbuf_raw(&b, "},{\"request_range\":");
  fo__etcd_j_range(&b, epoch.k, epoch.n, NULL, 0, 0, 0, 0);
  fo__jbuf_raw(&b, "}]}");
  if ((rc = fo__etcd_call(s->c, "/v3/kv/txn", &b, FO__ETCD_AGAIN, &ans)) != 0)
    return rc;
  rc = fo__et_first_kv(s, fo__etcd_txn_range(ans, 0));
  if (rc == 0) {
    v->held = 1;
    v->id = s->kv.lease;
    v->leader_mod = s->kv.mod_revision;
    rc = parse_lease_value(&s->kv, &v->expires_ms, &v->ttl_s, v->holder);
  }
  if (rc == FO_ENOENT)
    rc = 0;
  if (rc == 0 && (rc = fo__et_first_kv(s, fo__etcd_txn_range(ans, 1))) == 0) {
    int64_t e = 0;
    v->epoch_mod = s->kv.mod_revision;
    rc = parse_lease_value(&s->kv, &e, NULL, v->last);
    v->epoch = (uint64_t)e;
  }
  if (rc == FO_ENOENT)
    rc = 0;
  json_decref(ans);
  return rc;
}

static void lease_out(const lease_view *v, fo_store_lease *out) {
  memset(out, 0, sizeof(*out));
  snprintf(out->holder, sizeof(out->holder), "%s",
           v->held ? v->holder : v->last);
  out->epoch = v->epoch;
  out->expires_ms = v->held ? v->expires_ms : 0;
}

/* Put PREFIX/leader on lease `id` if it is still as `v` saw it (and with
 * `new_epoch` PREFIX/epoch too). 0, or FO_ELOCKED when something moved. */
static int leader_put(fo__et *s, const lease_view *v, int64_t id, int64_t ttl_s,
                      int64_t expires, const char *holder, int new_epoch) {
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  char value[128];
  fo__et_key leader, epoch;
  int rc;
  fo__et_key_of(s, &leader, "leader");
  fo__et_key_of(s, &epoch, "epoch");
  fo__jbuf_raw(&b, "{\"compare\":[");
  fo__etcd_j_compare(&b, leader.k, leader.n, "MOD", NULL, v->leader_mod);
  fo__jbuf_raw(&b, ",");
  fo__etcd_j_compare(&b, epoch.k, epoch.n, "MOD", NULL, v->epoch_mod);
  fo__jbuf_raw(&b, "],\"success\":[");
  snprintf(value, sizeof(value), "%lld %lld %s", (long long)expires,
           (long long)ttl_s, holder);
  fo__etcd_j_put(&b, leader.k, leader.n, value, strlen(value), id);
  if (new_epoch) {
    snprintf(value, sizeof(value), "%llu %s",
             (unsigned long long)(v->epoch + 1), holder);
    fo__jbuf_raw(&b, ",");
    fo__etcd_j_put(&b, epoch.k, epoch.n, value, strlen(value), 0);
  }
  fo__jbuf_raw(&b, "]}");
  if ((rc = fo__etcd_call(s->c, "/v3/kv/txn", &b, FO__ETCD_AGAIN, &ans)) != 0)
    return rc == FO_ESTOREIO && fo__etcd_code(s->c) == 5 ? FO_ELOCKED : rc;
  rc = fo__etcd_succeeded(ans) ? 0 : FO_ELOCKED;
  json_decref(ans);
  return rc;
}

/* One attempt: 0, FO_ELOCKED (held by another: `v` tells), FO_EAGAIN-like
 * FO_EBUSY (something moved: read again), FO_ESTOREIO. */
static int acquire_once(fo__et *s, const char *holder, int64_t ttl_s,
                        lease_view *v, fo_store_lease *out) {
  int64_t t0, id = 0, granted = 0;
  int rc, ours;
  if ((rc = lease_view_read(s, v)) != 0)
    return rc;
  ours = v->held && strcmp(v->holder, holder) == 0;
  if (v->held && !ours)
    return FO_ELOCKED;
  t0 = wall_ms();
  if (ours && v->ttl_s == ttl_s) {
    /* A renewal: the same etcd lease, its expiry written for readers. */
    rc = fo__etcd_lease_keepalive(s->c, v->id);
    if (rc == 0) {
      rc = leader_put(s, v, v->id, ttl_s, t0 + ttl_s * 1000, holder, 0);
      if (rc == 0) {
        v->expires_ms = t0 + ttl_s * 1000;
        lease_out(v, out);
      }
      return rc == FO_ELOCKED ? FO_EBUSY : rc;
    }
    if (rc != FO_ENOENT)
      return rc;
    /* It ran out: taken again below, as a new take (the epoch grows). */
    ours = 0;
  }
  if ((rc = fo__etcd_lease_grant(s->c, ttl_s, &id, &granted)) != 0)
    return rc;
  /* A new ttl for a running lease keeps the epoch; anything else is a
   * take. */
  rc = leader_put(s, v, id, granted, t0 + granted * 1000, holder, !ours);
  if (rc != 0) {
    fo__etcd_lease_revoke(s->c, id);
    return rc == FO_ELOCKED ? FO_EBUSY : rc;
  }
  if (ours)
    fo__etcd_lease_revoke(s->c, v->id);
  else
    v->epoch++;
  snprintf(v->holder, sizeof(v->holder), "%s", holder);
  v->held = 1;
  v->expires_ms = t0 + granted * 1000;
  lease_out(v, out);
  return 0;
}

int fo__et_lease_acquire(void *self, const char *holder, uint32_t ttl_ms,
                         fo_store_lease *out) {
  fo__et *s = self;
  int64_t ttl_s = ((int64_t)ttl_ms + 999) / 1000;
  lease_view v;
  int rc = FO_EBUSY, attempt;
  if (s->readonly)
    return FO_EREADONLY;
  if (ttl_s < LEASE_TTL_MIN_S)
    ttl_s = LEASE_TTL_MIN_S;
  for (attempt = 0; attempt < 5 && rc == FO_EBUSY; attempt++)
    rc = acquire_once(s, holder, ttl_s, &v, out);
  if (rc == FO_ELOCKED)
    lease_out(&v, out);
  return rc == FO_EBUSY ? FO_ESTOREIO : rc;
}

int fo__et_lease_release(void *self, const char *holder) {
  fo__et *s = self;
  lease_view v;
  int rc;
  if (s->readonly)
    return FO_EREADONLY;
  if ((rc = lease_view_read(s, &v)) != 0)
    return rc;
  /* Revoking the etcd lease deletes PREFIX/leader; PREFIX/epoch keeps the
   * holder's name, as the SQLite backend keeps it after a release. */
  if (v.held && strcmp(v.holder, holder) == 0)
    fo__etcd_lease_revoke(s->c, v.id);
  return 0;
}

int fo__et_lease_read(void *self, fo_store_lease *out) {
  lease_view v;
  int rc = lease_view_read(self, &v);
  if (rc == 0)
    lease_out(&v, out);
  return rc;
}
