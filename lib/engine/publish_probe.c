/*
 * publish_probe.c - see publish_probe.h.
 *
 * Each name is asked three times (CNAME, A, AAAA): a stale CNAME hides
 * behind an A query, and a stale A behind a CNAME one. A name is in step
 * when every record of those types the answers show at that name is one of
 * the desired records (same type, data and TTL) and every desired record
 * was seen; NXDOMAIN and NODATA show nothing. Anything else (an error
 * RCODE, no answer, a malformed one) is not in step: it is sent again.
 */
#include "publish_probe.h"

#include "alloc.h"
#include "publish_judge.h"
#include "update.h"
#include "wire.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#define QUERY_CAP (FO__DNS_HEADER_LEN + FO_NAME_BUFSIZE + 4 + 400) /* + TSIG */

/* One question about `name` to the primary, signed when `key` is given
 * (the request's MAC into mac/mac_len): the one path of both probes. */
static int ask(fo__dnsx *x, const char *name, uint16_t type,
               const fo__tsig_key *key, uint8_t *mac, size_t *mac_len,
               fo__dnsx_cb cb, void *arg) {
  unsigned char q[QUERY_CAP];
  size_t len;
  int n = fo__dns_build_query(0, name, type, 0, q, sizeof(q));
  if (n < 0)
    return n;
  len = (size_t)n;
  if (key != NULL) {
    int rc = fo__tsig_sign(key, q, &len, sizeof(q), (uint64_t)time(NULL), mac,
                           mac_len);
    if (rc != 0)
      return rc;
  }
  return fo__dnsx_send(x, q, len, 0, cb, arg);
}

#define PROBE_TYPES 3
static const uint16_t probe_types[PROBE_TYPES] = {FO__TYPE_CNAME, FO__TYPE_A,
                                                  FO__TYPE_AAAA};

typedef struct probe_query {
  fo__probe *p;
  size_t k;
} probe_query;

struct fo__probe {
  fo_allocator alloc;
  size_t count, left;
  char (*names)[FO_NAME_BUFSIZE];
  fo_rrset *desired;
  uint8_t *seen;  /* a bit per desired record that an answer showed */
  uint8_t *bad;   /* something else showed, or no usable answer */
  probe_query *queries;
  fo__dns_msg *msg;
  fo__probe_done_fn done;
  void *userdata;
};

static void probe_free(fo__probe *p) {
  fo_allocator a = p->alloc;
  fo__free(&a, p->names);
  fo__free(&a, p->desired);
  fo__free(&a, p->seen);
  fo__free(&a, p->bad);
  fo__free(&a, p->queries);
  fo__free(&a, p->msg);
  fo__free(&a, p);
}

/* The answer's records at the name, against the desired ones. */
static void compare(fo__probe *p, size_t k, const fo__dns_msg *msg) {
  const fo_rrset *want = &p->desired[k];
  size_t i, j;
  if (msg->rcode != FO__RCODE_NOERROR && msg->rcode != FO__RCODE_NXDOMAIN) {
    p->bad[k] = 1;
    return;
  }
  if (msg->ancount > msg->answer_count) {
    p->bad[k] = 1; /* more than the parser keeps: cannot tell */
    return;
  }
  for (i = 0; i < msg->answer_count; i++) {
    const fo__dns_rr *rr = &msg->answers[i];
    int found = 0;
    if (rr->rclass != FO__CLASS_IN || strcasecmp(rr->owner, p->names[k]) != 0 ||
        (rr->type != FO__TYPE_CNAME && rr->type != FO__TYPE_A &&
         rr->type != FO__TYPE_AAAA))
      continue;
    for (j = 0; j < want->count && !found; j++) {
      const fo_record *w = &want->records[j];
      const char *data = rr->type == FO__TYPE_CNAME ? rr->target : rr->address;
      /* fo_rr_type values are the wire type numbers. */
      if ((uint16_t)w->type == rr->type && rr->ttl == w->ttl &&
          strcasecmp(data, w->data) == 0) {
        p->seen[k] |= (uint8_t)(1u << j);
        found = 1;
      }
    }
    if (!found)
      p->bad[k] = 1;
  }
}

static void finish(fo__probe *p) {
  size_t k;
  uint8_t *in_step = p->bad; /* reused: 1 where in step */
  for (k = 0; k < p->count; k++) {
    uint8_t all = (uint8_t)((1u << p->desired[k].count) - 1u);
    in_step[k] = !p->bad[k] && p->seen[k] == all;
  }
  p->done(in_step, 1, p->userdata);
  probe_free(p);
}

static void probe_cb(int status, int detail, const unsigned char *reply,
                     size_t len, unsigned tries, void *arg) {
  probe_query *q = arg;
  fo__probe *p = q->p;
  (void)detail;
  (void)tries;
  if (status == FO_ECANCELED) {
    p->bad[q->k] = 1;
  } else if (status != 0 || fo__dns_parse(reply, len, p->msg) != 0 ||
             !p->msg->qr || p->msg->qdcount == 0) {
    p->bad[q->k] = 1;
  } else {
    compare(p, q->k, p->msg);
  }
  if (--p->left == 0)
    finish(p);
}

int fo__probe_start(fo__dnsx *x, const fo_allocator *a,
                    const char *const *names, const fo_rrset *desired,
                    size_t count, fo__probe_done_fn done, void *userdata) {
  fo__probe *p;
  size_t k, t, sent = 0;
  if (x == NULL || a == NULL || names == NULL || desired == NULL ||
      count == 0 || done == NULL)
    return FO_EINVAL;
  p = fo__calloc(a, 1, sizeof(*p));
  if (p == NULL)
    return FO_ENOMEM;
  p->alloc = *a;
  p->count = count;
  p->done = done;
  p->userdata = userdata;
  p->names = fo__calloc(a, count, sizeof(*p->names));
  p->desired = fo__calloc(a, count, sizeof(*p->desired));
  p->seen = fo__calloc(a, count, 1);
  p->bad = fo__calloc(a, count, 1);
  p->queries = fo__calloc(a, count * PROBE_TYPES, sizeof(*p->queries));
  p->msg = fo__malloc(a, sizeof(*p->msg));
  if (p->names == NULL || p->desired == NULL || p->seen == NULL ||
      p->bad == NULL || p->queries == NULL || p->msg == NULL) {
    probe_free(p);
    return FO_ENOMEM;
  }
  for (k = 0; k < count; k++) {
    if (strlen(names[k]) >= FO_NAME_BUFSIZE) {
      probe_free(p);
      return FO_EINVAL;
    }
    strcpy(p->names[k], names[k]);
    p->desired[k] = desired[k];
  }
  /* Counted before the first send: a callback never comes from inside a
   * send, but the count must be whole before any can come. */
  p->left = count * PROBE_TYPES;
  for (k = 0; k < count; k++) {
    for (t = 0; t < PROBE_TYPES; t++) {
      probe_query *pq = &p->queries[k * PROBE_TYPES + t];
      pq->p = p;
      pq->k = k;
      if (ask(x, p->names[k], probe_types[t], NULL, NULL, NULL, probe_cb,
              pq) != 0) {
        p->bad[k] = 1;
        p->left--;
        continue;
      }
      sent++;
    }
  }
  if (sent == 0) {
    /* Nothing went out: no callback will come from the transport. `seen`
     * is all 0 here: nothing is in step. */
    done(p->seen, 0, userdata);
    probe_free(p);
  }
  return 0;
}

/* ---- one TXT RRset, read signed ------------------------------------------------ */

typedef struct txt_probe {
  fo_allocator alloc;
  fo__tsig_key key;
  char name[FO_NAME_BUFSIZE];
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t mac_len;
  const unsigned char *reply; /* during txt_cb only */
  size_t reply_len;
  fo__probe_txt set;
  int too_many;
  fo__probe_txt_fn done;
  void *userdata;
} txt_probe;

static void txt_free(txt_probe *t) {
  fo_allocator a = t->alloc;
  fo__tsig_key_wipe(&t->key);
  fo__free(&a, t);
}

/* Each TXT record at the name in the answer section: its RDATA, as is. */
static int txt_rr(int section, const fo__dns_rr *rr, size_t off,
                  void *userdata) {
  txt_probe *t = userdata;
  char owner[FO_NAME_BUFSIZE];
  size_t k = t->set.count;
  if (section != 1 || rr->type != FO__TYPE_TXT ||
      rr->rclass != FO__CLASS_IN || strcasecmp(rr->owner, t->name) != 0)
    return 0;
  if (k == FO__PROBE_TXT_MAX || rr->rdlength > FO__PROBE_TXT_RDATA_MAX) {
    t->too_many = 1;
    return 0;
  }
  /* The walker checked the RR whole: past its owner, the fixed part. */
  if (fo__dns_read_name(t->reply, t->reply_len, &off, owner) != 0)
    return FO_EMALFORMED;
  memcpy(t->set.rdata[k], t->reply + off + 10, rr->rdlength);
  t->set.len[k] = rr->rdlength;
  t->set.count++;
  return 0;
}

static void txt_cb(int status, int detail, const unsigned char *reply,
                   size_t len, unsigned tries, void *arg) {
  txt_probe *t = arg;
  uint64_t now = (uint64_t)time(NULL);
  int verdict;
  (void)detail;
  (void)tries;
  if (status == FO_ECANCELED) {
    verdict = FO_ECANCELED;
  } else if (status == 0 && len >= FO__DNS_HEADER_LEN && (reply[2] & 0x80) &&
             (reply[3] & 0x0fu) == FO__RCODE_NXDOMAIN) {
    /* No such name: no fence yet (only a signed answer says so). */
    verdict = fo__tsig_verify(&t->key, reply, len, t->mac, t->mac_len, now);
    if (verdict != 0 && verdict != FO_EUNSIGNED && verdict != FO_EBADKEY &&
        verdict != FO_EBADSIG && verdict != FO_EBADTIME)
      verdict = FO_EMALFORMED;
  } else {
    verdict = fo__publish_judge(&t->key, t->mac, t->mac_len, status, reply,
                                len, now);
  }
  if (verdict == 0 && (reply[3] & 0x0fu) == FO__RCODE_NOERROR) {
    t->reply = reply;
    t->reply_len = len;
    if (fo__dns_each_rr(reply, len, txt_rr, t) != 0)
      verdict = FO_EMALFORMED;
    else if (t->too_many)
      verdict = FO_ERANGE;
  }
  t->done(verdict, verdict == 0 ? &t->set : NULL, t->userdata);
  txt_free(t);
}

int fo__probe_txt_start(fo__dnsx *x, const fo_allocator *a,
                        const fo__tsig_key *key, const char *name,
                        fo__probe_txt_fn done, void *userdata) {
  txt_probe *t;
  int rc;
  if (x == NULL || a == NULL || key == NULL || name == NULL || done == NULL ||
      strlen(name) >= FO_NAME_BUFSIZE)
    return FO_EINVAL;
  if ((t = fo__calloc(a, 1, sizeof(*t))) == NULL)
    return FO_ENOMEM;
  t->alloc = *a;
  t->key = *key;
  strcpy(t->name, name);
  t->done = done;
  t->userdata = userdata;
  rc = ask(x, t->name, FO__TYPE_TXT, &t->key, t->mac, &t->mac_len, txt_cb, t);
  if (rc != 0)
    txt_free(t);
  return rc;
}
