/*
 * publish_fence.c - fencing in DNS itself (see publish_fence.h and
 * <failover/publish.h>).
 *
 * The claim: read the fence TXT (signed, like the probe's queries), then
 *   - an epoch above ours: a newer leader exists; stop with FO_EFENCED;
 *   - exactly our epoch: held;
 *   - anything else (none, older, not an epoch): swap it compare-and-swap
 *     style in one UPDATE: prerequisite "the TXT RRset is exactly what was
 *     read" (RRset exists, value dependent; "RRset does not exist" when
 *     none was), delete the TXT RRset, add TXT "E". A swap whose
 *     prerequisite failed lost a race with another claim: read again, up
 *     to FENCE_RACES times in a row.
 * Until it is held, nothing else goes out: the queue waits.
 */
#include "publish_engine.h"

#include "publish_judge.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define FENCE_RACES 5u
#define MSG_CAP 16384u /* the swap: up to 8 records read, each <= 256 octets */
#define UDP_MAX 512u

/* ---- the name ------------------------------------------------------------------- */

static int fence_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

/* A group address's label, "DDD-DDD-DDD": the publisher owns such names. */
static int address_form(const char *s, size_t n) {
  size_t i;
  if (n != FO_ADDRESS_LABEL_LEN)
    return 0;
  for (i = 0; i < n; i++)
    if ((i == 3 || i == 7) ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
      return 0;
  return 1;
}

int fo__fence_name(const char *zone, const char *opt,
                   char out[FO_NAME_BUFSIZE]) {
  char name[FO_NAME_BUFSIZE];
  size_t n, zl = strlen(zone), i, start = 0;
  int absolute, in_zone;
  if (opt == NULL)
    opt = FO__FENCE_LABEL;
  n = strlen(opt);
  absolute = n > 0 && opt[n - 1] == '.';
  if (absolute)
    n--;
  if (n == 0)
    return FO_EBADNAME;
  if (n > FO_NAME_MAX)
    return FO_ENAMETOOLONG;
  for (i = 0; i < n; i++) {
    char c = opt[i];
    name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  name[n] = '\0';
  /* Syntax before length, so that garbage is called garbage. */
  for (i = 0; i <= n; i++) {
    if (i < n && name[i] != '.') {
      if (!fence_char(name[i]))
        return FO_EBADNAME;
      continue;
    }
    if (i == start)
      return FO_EBADNAME; /* an empty label */
    if (i - start > FO_LABEL_MAX)
      return FO_ENAMETOOLONG;
    start = i + 1;
  }
  if (n == zl && strcmp(name, zone) == 0)
    return FO_EINVAL; /* the apex: its TXT RRset is not ours to replace */
  in_zone = n > zl && name[n - zl - 1] == '.' && strcmp(name + n - zl, zone) == 0;
  if (absolute && !in_zone)
    return FO_EBADNAME; /* another zone's: the server would say NOTZONE */
  if (!in_zone) {
    if (n + 1 + zl > FO_NAME_MAX)
      return FO_ENAMETOOLONG;
    name[n] = '.';
    memcpy(name + n + 1, zone, zl + 1);
  } else {
    n -= zl + 1; /* the part inside the zone */
  }
  if (address_form(name, n))
    return FO_EINVAL;
  strcpy(out, name);
  return 0;
}

/* ---- what the fence holds ----------------------------------------------------- */

/* The epoch one TXT RDATA holds: a single character-string of 1 to 20
 * decimal digits that fits 64 bits. 0 when it is anything else. */
static uint64_t epoch_of(const uint8_t *rdata, size_t len) {
  uint64_t e = 0;
  size_t i;
  if (len < 2 || rdata[0] != len - 1 || len - 1 > 20)
    return 0;
  for (i = 1; i < len; i++) {
    unsigned d;
    if (rdata[i] < '0' || rdata[i] > '9')
      return 0;
    d = (unsigned)(rdata[i] - '0');
    if (e > (UINT64_MAX - d) / 10u)
      return 0;
    e = e * 10u + d;
  }
  return e;
}

/* ---- the read --------------------------------------------------------------------- */

/* Any other answer to a read or a swap: weighed like an UPDATE's (a
 * refusal is believed on the third, a timeout backs off). */
static void retry_or_stop(fo_publisher *pub, int verdict) {
  verdict = fo__pub_weigh(pub, verdict, pub->fence_sent_epoch);
  if (verdict == 1)
    fo__pub_back_off(pub);
  else
    fo__pub_stop(pub, verdict);
}

static void read_cb(int verdict, const fo__probe_txt *set, void *userdata) {
  fo_publisher *pub = userdata;
  if (verdict == FO_ECANCELED || pub->closing)
    return;
  pub->fence_state = FO__FENCE_READ;
  if (verdict == 0) {
    pub->fence_read = *set;
    pub->fence_state = FO__FENCE_DECIDE;
  } else if (verdict == FO_ERANGE) {
    fo__pub_stop(pub, FO_ERANGE); /* signed: not a forgery */
  } else {
    retry_or_stop(pub, verdict);
  }
  fo__pub_arm_kick(pub);
}

/* ---- the swap ---------------------------------------------------------------------- */

static void claim_cb(int status, int detail, const unsigned char *abuf,
                     size_t alen, unsigned tries, void *arg) {
  fo_publisher *pub = arg;
  int verdict;
  (void)detail;
  (void)tries;
  if (status == FO_ECANCELED || pub->closing)
    return;
  /* A timeout or a lost connection leaves the outcome unknown: the next
   * read tells (our epoch: held). */
  verdict = fo__publish_judge_fenced(&pub->key, pub->fence_mac,
                                     pub->fence_mac_len, status, abuf, alen,
                                     (uint64_t)time(NULL), 1);
  pub->fence_state = FO__FENCE_READ;
  if (verdict == 0) {
    pub->fence_state = FO__FENCE_HELD;
    pub->fence_races = 0;
    pub->failures = 0;
    pub->refusals = 0;
    fo__notify_confirmed(pub->notify); /* the zone changed */
  } else if (verdict == FO_EFENCED) {
    /* The fence changed since it was read (signed: not a forgery). */
    if (++pub->fence_races >= FENCE_RACES)
      fo__pub_stop(pub, FO_EPREREQ);
  } else {
    retry_or_stop(pub, verdict);
  }
  fo__pub_arm_kick(pub);
}

/* The swap for what was read. Returns 0 or a builder, signing or transport
 * code (nothing sent). */
static int send_claim(fo_publisher *pub) {
  const fo__probe_txt *r = &pub->fence_read;
  uint8_t *buf = pub->buf; /* free here: the transport copies messages */
  fo__update u;
  uint16_t id = 0;
  size_t len, k;
  int rc;
  (void)fo__random_read(&pub->pool, &id, sizeof(id));
  rc = fo__update_begin(&u, buf, MSG_CAP - 400u, id, pub->zone);
  if (rc == 0 && r->count == 0)
    rc = fo__update_prereq_rrset_absent(&u, pub->fence_name, FO__TYPE_TXT);
  for (k = 0; rc == 0 && k < r->count; k++)
    rc = fo__update_prereq_rrset_value(&u, pub->fence_name, FO__TYPE_TXT,
                                       r->rdata[k], r->len[k]);
  if (rc == 0)
    rc = fo__update_delete_rrset(&u, pub->fence_name, FO__TYPE_TXT);
  if (rc == 0)
    rc = fo__update_add(&u, pub->fence_name, FO__TYPE_TXT, FO__FENCE_TTL,
                        pub->fence_text);
  if (rc != 0)
    return rc;
  len = fo__update_finish(&u);
  rc = fo__tsig_sign(&pub->key, buf, &len, MSG_CAP, (uint64_t)time(NULL),
                     pub->fence_mac, &pub->fence_mac_len);
  if (rc == 0)
    rc = fo__dnsx_send(pub->x, buf, len, len > UDP_MAX, claim_cb, pub);
  return rc;
}

/* ---- from the kick ------------------------------------------------------------------ */

/* What was read: stop, hold, or swap. */
static void decide(fo_publisher *pub) {
  const fo__probe_txt *r = &pub->fence_read;
  size_t k, tlen = strlen(pub->fence_text);
  uint64_t newest = 0;
  int rc;
  for (k = 0; k < r->count; k++) {
    uint64_t e = epoch_of(r->rdata[k], r->len[k]);
    if (e > newest)
      newest = e;
  }
  if (newest > pub->fence_epoch) {
    fo__pub_fenced(pub);
    fo__pub_arm_kick(pub);
    return;
  }
  /* Held only when the RRset is exactly what our prerequisites will say
   * ("01" is epoch 1 too, but would fail them all): else swapped. */
  if (r->count == 1 && r->len[0] == tlen + 1 && r->rdata[0][0] == tlen &&
      memcmp(r->rdata[0] + 1, pub->fence_text, tlen) == 0) {
    pub->fence_state = FO__FENCE_HELD;
    pub->fence_races = 0;
    return;
  }
  pub->fence_sent_epoch = pub->epoch;
  pub->fence_state = FO__FENCE_CLAIMING;
  if ((rc = send_claim(pub)) != 0) {
    /* Could not even go out (memory, the transport's table): later. */
    pub->fence_state = FO__FENCE_READ;
    fo__pub_back_off(pub);
    fo__pub_arm_kick(pub);
  }
}

int fo__fence_ready(fo_publisher *pub) {
  int rc;
  switch (pub->fence_state) {
  case FO__FENCE_OFF:
  case FO__FENCE_HELD:
    return 1;
  case FO__FENCE_READ:
    pub->fence_sent_epoch = pub->epoch;
    pub->fence_state = FO__FENCE_READING;
    rc = fo__probe_txt_start(pub->x, &pub->alloc, &pub->key, pub->fence_name,
                             read_cb, pub);
    if (rc != 0) {
      pub->fence_state = FO__FENCE_READ;
      fo__pub_back_off(pub);
      fo__pub_arm_kick(pub);
    }
    return 0;
  case FO__FENCE_DECIDE:
    decide(pub);
    return pub->fence_state == FO__FENCE_HELD;
  default: /* READING, CLAIMING: their answers kick again */
    return 0;
  }
}

int fo__fence_prereq(const fo_publisher *pub, fo__update *u) {
  uint8_t rdata[FO__FENCE_TEXT_MAX];
  size_t n;
  if (pub->fence_epoch == 0)
    return 0;
  n = strlen(pub->fence_text);
  rdata[0] = (uint8_t)n;
  memcpy(rdata + 1, pub->fence_text, n);
  return fo__update_prereq_rrset_value(u, pub->fence_name, FO__TYPE_TXT,
                                       rdata, n + 1);
}

int fo_publisher_fence_held(const fo_publisher *pub, uint64_t *epoch) {
  if (pub == NULL || epoch == NULL)
    return FO_EINVAL;
  *epoch = pub->fence_state == FO__FENCE_HELD && !pub->fenced
               ? pub->fence_epoch
               : 0;
  return 0;
}
