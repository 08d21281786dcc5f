/*
 * fault_zone.c - see fault_zone.h and the zone mode in fault_peer.h.
 *
 * Everything here runs under the zone's lock: the peer thread handles
 * messages, the test thread adds RRs, sets plans and reads what the zone
 * holds. Nothing blocks while the lock is held (the peer sends afterwards).
 */
#define _GNU_SOURCE
#include "fault_zone.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAME_MAX_WIRE 255
#define RDATA_MAX 258
#define HEADER 12
#define FUDGE 300u
#define T_A 1
#define T_NS 2
#define T_CNAME 5
#define T_SOA 6
#define T_TXT 16
#define T_AAAA 28
#define T_TSIG 250
#define T_AXFR 252
#define T_ANY 255
#define C_IN 1
#define C_NONE 254
#define C_ANY 255
#define OP_QUERY 0
#define OP_UPDATE 5
#define R_FORMERR 1
#define R_SERVFAIL 2
#define R_NXDOMAIN 3
#define R_REFUSED 5
#define R_NOTAUTH 9
#define R_NOTZONE 10
#define TSIG_BADSIG 16
#define TSIG_BADKEY 17
#define TSIG_BADTIME 18
#define MAC_MAX 64

/* ---- growing buffer ---------------------------------------------------- */

typedef struct zbuf {
  unsigned char *b;
  size_t n, cap;
  int failed;
} zbuf;

static void zb_put(zbuf *z, const void *p, size_t n) {
  if (z->failed)
    return;
  if (z->cap - z->n < n) {
    size_t cap = z->cap ? z->cap : 512;
    while (cap - z->n < n)
      cap *= 2;
    unsigned char *b = realloc(z->b, cap);
    if (b == NULL) {
      z->failed = 1;
      return;
    }
    z->b = b;
    z->cap = cap;
  }
  if (n > 0)
    memcpy(z->b + z->n, p, n);
  z->n += n;
}

static void zb_put16(zbuf *z, unsigned v) {
  unsigned char b[2] = {(unsigned char)(v >> 8), (unsigned char)v};
  zb_put(z, b, 2);
}

static void zb_put32(zbuf *z, uint32_t v) {
  zb_put16(z, (unsigned)(v >> 16));
  zb_put16(z, (unsigned)(v & 0xFFFFu));
}

static unsigned get16(const unsigned char *p) {
  return (unsigned)p[0] << 8 | p[1];
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void set16(unsigned char *p, unsigned v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
}

/* ---- names ------------------------------------------------------------- */

/* A name at *off (compression pointers allowed) in canonical wire form:
 * uncompressed, ASCII lowercase. */
static int read_name(const unsigned char *m, size_t len, size_t *off,
                     unsigned char *w, size_t *wlen) {
  size_t o = *off, n = 0;
  int jumped = 0;
  unsigned hops = 0;
  for (;;) {
    unsigned c;
    if (o >= len)
      return -1;
    c = m[o];
    if ((c & 0xC0) == 0xC0) {
      if (o + 1 >= len || ++hops > 64)
        return -1;
      if (!jumped)
        *off = o + 2;
      jumped = 1;
      o = (size_t)(c & 0x3F) << 8 | m[o + 1];
      continue;
    }
    if (c & 0xC0)
      return -1;
    if (c == 0) {
      if (n + 1 > NAME_MAX_WIRE)
        return -1;
      w[n++] = 0;
      if (!jumped)
        *off = o + 1;
      *wlen = n;
      return 0;
    }
    if (o + 1 + c > len || n + 1 + c > NAME_MAX_WIRE)
      return -1;
    w[n++] = (unsigned char)c;
    for (unsigned i = 0; i < c; i++) {
      unsigned char ch = m[o + 1 + i];
      w[n++] = ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
    }
    o += 1 + c;
  }
}

static void wire_to_text(const unsigned char *w, char *out) {
  size_t o = 0, t = 0;
  while (w[o] != 0) {
    if (t > 0)
      out[t++] = '.';
    memcpy(out + t, w + o + 1, w[o]);
    t += w[o];
    o += 1u + w[o];
  }
  out[t] = '\0';
}

static int text_to_wire(const char *text, unsigned char *w, size_t *wlen) {
  size_t n = 0;
  while (*text != '\0') {
    const char *dot = strchr(text, '.');
    size_t l = dot ? (size_t)(dot - text) : strlen(text);
    if (l == 0 || l > 63 || n + 1 + l + 1 > NAME_MAX_WIRE)
      return -1;
    w[n++] = (unsigned char)l;
    for (size_t i = 0; i < l; i++) {
      char ch = text[i];
      w[n++] = (unsigned char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    }
    text += l + (dot ? 1 : 0);
  }
  w[n++] = 0;
  *wlen = n;
  return 0;
}

/* `name` is `zone` or a name under it (both canonical wire). */
static int in_zone(const unsigned char *name, size_t nlen,
                   const unsigned char *zone, size_t zlen) {
  size_t o = 0;
  while (nlen - o >= zlen) {
    if (nlen - o == zlen)
      return memcmp(name + o, zone, zlen) == 0;
    if (name[o] == 0)
      return 0;
    o += 1u + name[o];
  }
  return 0;
}

/* ---- the zone ------------------------------------------------------------ */

typedef struct zrr {
  uint16_t type;
  uint32_t ttl;
  uint16_t rdlen;
  unsigned char rdata[RDATA_MAX];
} zrr;

typedef struct zname {
  char text[256];
  unsigned char wire[NAME_MAX_WIRE];
  size_t wlen;
  zrr *rrs;
  size_t nrr, cap;
  ft_zone_name_counts counts;
  unsigned mark; /* touched by the update being handled */
} zname;

typedef struct zplan {
  ft_fault_step *steps;
  size_t n, pos;
  ft_fault_step otherwise;
} zplan;

struct ft_zone {
  pthread_mutex_t lock;
  char text[256];
  unsigned char wire[NAME_MAX_WIRE];
  size_t wlen;
  unsigned char key[NAME_MAX_WIRE], alg[NAME_MAX_WIRE];
  size_t key_len, alg_len, mac_len;
  const EVP_MD *md;
  unsigned char secret[128];
  size_t secret_len;
  unsigned chunk;
  uint32_t serial;
  zname *names;
  size_t nnames, cap;
  uint32_t *slots; /* index + 1; 0 empty */
  size_t nslots;
  unsigned mark;
  size_t *touched;
  size_t ntouched, touched_cap;
  zplan plans[3];
  ft_zone_stats stats;
};

static uint64_t hash_text(const char *s) {
  uint64_t h = 1469598103934665603ull;
  while (*s)
    h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

static long find_name(const ft_zone *z, const char *text) {
  size_t mask = z->nslots - 1, i;
  if (z->nslots == 0)
    return -1;
  for (i = hash_text(text) & mask; z->slots[i] != 0; i = (i + 1) & mask)
    if (strcmp(z->names[z->slots[i] - 1].text, text) == 0)
      return (long)(z->slots[i] - 1);
  return -1;
}

static int grow_slots(ft_zone *z) {
  size_t cap = z->nslots ? z->nslots * 2 : 1024;
  uint32_t *s = calloc(cap, sizeof *s);
  if (s == NULL)
    return -1;
  for (size_t k = 0; k < z->nnames; k++) {
    size_t i = hash_text(z->names[k].text) & (cap - 1);
    while (s[i] != 0)
      i = (i + 1) & (cap - 1);
    s[i] = (uint32_t)k + 1;
  }
  free(z->slots);
  z->slots = s;
  z->nslots = cap;
  return 0;
}

/* The name's index, added when new. -1: out of memory. */
static long get_name(ft_zone *z, const unsigned char *wire, size_t wlen) {
  char text[256];
  long at;
  zname *n;
  wire_to_text(wire, text);
  if ((at = find_name(z, text)) >= 0)
    return at;
  if ((z->nnames + 1) * 2 > z->nslots && grow_slots(z) != 0)
    return -1;
  if (z->nnames == z->cap) {
    size_t cap = z->cap ? z->cap * 2 : 256;
    zname *g = realloc(z->names, cap * sizeof *g);
    if (g == NULL)
      return -1;
    z->names = g;
    z->cap = cap;
  }
  n = &z->names[z->nnames];
  memset(n, 0, sizeof *n);
  strcpy(n->text, text);
  memcpy(n->wire, wire, wlen);
  n->wlen = wlen;
  {
    size_t i = hash_text(text) & (z->nslots - 1);
    while (z->slots[i] != 0)
      i = (i + 1) & (z->nslots - 1);
    z->slots[i] = (uint32_t)z->nnames + 1;
  }
  return (long)z->nnames++;
}

static int same_rdata(const zrr *r, uint16_t type, const unsigned char *rd,
                      size_t rdlen) {
  return r->type == type && r->rdlen == rdlen && memcmp(r->rdata, rd, rdlen) == 0;
}

/* RFC 2136 3.4.2.2: a CNAME replaces the CNAME; the same RDATA replaces
 * the RR (its TTL). */
static int add_rr(zname *n, uint16_t type, uint32_t ttl,
                  const unsigned char *rd, size_t rdlen) {
  if (rdlen > RDATA_MAX)
    return -1;
  for (size_t i = 0; i < n->nrr; i++) {
    zrr *r = &n->rrs[i];
    if ((type == T_CNAME && r->type == T_CNAME) ||
        same_rdata(r, type, rd, rdlen)) {
      r->ttl = ttl;
      r->rdlen = (uint16_t)rdlen;
      memcpy(r->rdata, rd, rdlen);
      return 0;
    }
  }
  if (n->nrr == n->cap) {
    size_t cap = n->cap ? n->cap * 2 : 2;
    zrr *g = realloc(n->rrs, cap * sizeof *g);
    if (g == NULL)
      return -1;
    n->rrs = g;
    n->cap = cap;
  }
  n->rrs[n->nrr].type = type;
  n->rrs[n->nrr].ttl = ttl;
  n->rrs[n->nrr].rdlen = (uint16_t)rdlen;
  memcpy(n->rrs[n->nrr].rdata, rd, rdlen);
  n->nrr++;
  return 0;
}

/* Delete the RRs of `type` (T_ANY: all), or only the one with `rd`. */
static void delete_rrs(zname *n, uint16_t type, const unsigned char *rd,
                       size_t rdlen) {
  size_t kept = 0;
  for (size_t i = 0; i < n->nrr; i++) {
    zrr *r = &n->rrs[i];
    int hit = rd != NULL ? same_rdata(r, type, rd, rdlen)
                         : (type == T_ANY || r->type == type);
    if (!hit)
      n->rrs[kept++] = *r;
  }
  n->nrr = kept;
}

ft_zone *ft_zone_new(const ft_zone_config *cfg) {
  ft_zone *z;
  if (cfg == NULL || cfg->zone == NULL || cfg->key_name == NULL ||
      cfg->secret == NULL || cfg->secret_len == 0 ||
      cfg->secret_len > sizeof z->secret)
    return NULL;
  z = calloc(1, sizeof *z);
  if (z == NULL)
    return NULL;
  const char *alg = cfg->algorithm ? cfg->algorithm : "hmac-sha256";
  z->md = strcmp(alg, "hmac-sha512") == 0 ? EVP_sha512() : EVP_sha256();
  z->mac_len = strcmp(alg, "hmac-sha512") == 0 ? 64 : 32;
  if (text_to_wire(cfg->zone, z->wire, &z->wlen) != 0 ||
      text_to_wire(cfg->key_name, z->key, &z->key_len) != 0 ||
      text_to_wire(alg, z->alg, &z->alg_len) != 0) {
    free(z);
    return NULL;
  }
  wire_to_text(z->wire, z->text);
  memcpy(z->secret, cfg->secret, cfg->secret_len);
  z->secret_len = cfg->secret_len;
  z->chunk = cfg->axfr_chunk ? cfg->axfr_chunk : 20;
  z->serial = 1;
  pthread_mutex_init(&z->lock, NULL);
  return z;
}

void ft_zone_free(ft_zone *z) {
  if (z == NULL)
    return;
  for (size_t i = 0; i < z->nnames; i++)
    free(z->names[i].rrs);
  free(z->names);
  free(z->slots);
  free(z->touched);
  for (int k = 0; k < 3; k++)
    free(z->plans[k].steps);
  pthread_mutex_destroy(&z->lock);
  free(z);
}

/* ---- presentation ------------------------------------------------------ */

static int type_of(const char *t) {
  if (strcmp(t, "A") == 0)
    return T_A;
  if (strcmp(t, "AAAA") == 0)
    return T_AAAA;
  if (strcmp(t, "CNAME") == 0)
    return T_CNAME;
  if (strcmp(t, "NS") == 0)
    return T_NS;
  if (strcmp(t, "TXT") == 0)
    return T_TXT;
  return -1;
}

static void format_rr(const zrr *r, char *out, size_t size) {
  char data[300] = "";
  const char *tn = NULL;
  switch (r->type) {
  case T_A:
    tn = "A";
    inet_ntop(AF_INET, r->rdata, data, sizeof data);
    break;
  case T_AAAA:
    tn = "AAAA";
    inet_ntop(AF_INET6, r->rdata, data, sizeof data);
    break;
  case T_CNAME:
  case T_NS:
    tn = r->type == T_CNAME ? "CNAME" : "NS";
    wire_to_text(r->rdata, data);
    break;
  case T_TXT:
    tn = "TXT";
    if (r->rdlen > 0) {
      memcpy(data, r->rdata + 1, r->rdata[0]);
      data[r->rdata[0]] = '\0';
    }
    break;
  default:
    break;
  }
  if (tn != NULL)
    snprintf(out, size, "%s %u %s\n", tn, (unsigned)r->ttl, data);
  else
    snprintf(out, size, "TYPE%u %u\n", (unsigned)r->type, (unsigned)r->ttl);
}

static int cmp_lines(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- TSIG ---------------------------------------------------------------- */

/* What one message holds, as far as the zone needs it. */
typedef struct zmsg {
  unsigned id, flags, qd, an, ns, ar;
  size_t qend; /* past the first question */
  unsigned char qname[NAME_MAX_WIRE];
  size_t qname_len;
  unsigned qtype, qclass;
  size_t body_end; /* where the TSIG RR starts, or the message length */
  int has_tsig;
  unsigned char key[NAME_MAX_WIRE], alg[NAME_MAX_WIRE];
  size_t key_len, alg_len;
  const unsigned char *time_fudge;
  const unsigned char *mac;
  size_t mac_len;
  unsigned orig_id, error, other_len;
  const unsigned char *other;
} zmsg;

/* Skip one RR at *off; its fields out. */
static int walk_rr(const unsigned char *m, size_t len, size_t *off,
                   unsigned char *owner, size_t *olen, unsigned *type,
                   unsigned *cls, uint32_t *ttl, size_t *rd, size_t *rdlen) {
  if (read_name(m, len, off, owner, olen) != 0 || len - *off < 10)
    return -1;
  *type = get16(m + *off);
  *cls = get16(m + *off + 2);
  *ttl = get32(m + *off + 4);
  *rdlen = get16(m + *off + 8);
  *rd = *off + 10;
  if (len - *rd < *rdlen)
    return -1;
  *off = *rd + *rdlen;
  return 0;
}

static int parse_msg(const unsigned char *m, size_t len, zmsg *p) {
  size_t off = HEADER, total, k;
  memset(p, 0, sizeof *p);
  if (len < HEADER)
    return -1;
  p->id = get16(m);
  p->flags = get16(m + 2);
  p->qd = get16(m + 4);
  p->an = get16(m + 6);
  p->ns = get16(m + 8);
  p->ar = get16(m + 10);
  p->body_end = len;
  if (p->qd != 1 ||
      read_name(m, len, &off, p->qname, &p->qname_len) != 0 || len - off < 4)
    return -1;
  p->qtype = get16(m + off);
  p->qclass = get16(m + off + 2);
  off += 4;
  p->qend = off;
  total = (size_t)p->an + p->ns + p->ar;
  for (k = 0; k < total; k++) {
    unsigned char owner[NAME_MAX_WIRE];
    size_t olen, rd, rdlen, start = off;
    unsigned type, cls;
    uint32_t ttl;
    if (walk_rr(m, len, &off, owner, &olen, &type, &cls, &ttl, &rd,
                &rdlen) != 0)
      return -1;
    if (type != T_TSIG)
      continue;
    if (k + 1 != total || p->ar == 0 || off != len)
      return -1; /* TSIG: the last RR, ending the message */
    size_t o = rd, end = rd + rdlen;
    memcpy(p->key, owner, olen);
    p->key_len = olen;
    if (read_name(m, end, &o, p->alg, &p->alg_len) != 0 || end - o < 10)
      return -1;
    p->time_fudge = m + o;
    p->mac_len = get16(m + o + 8);
    o += 10;
    if (end - o < p->mac_len + 6)
      return -1;
    p->mac = m + o;
    o += p->mac_len;
    p->orig_id = get16(m + o);
    p->error = get16(m + o + 2);
    p->other_len = get16(m + o + 4);
    o += 6;
    if (end - o != p->other_len)
      return -1;
    p->other = m + o;
    p->has_tsig = 1;
    p->body_end = start;
  }
  return off == len ? 0 : -1;
}

static uint64_t get48(const unsigned char *p) {
  return (uint64_t)get16(p) << 32 | get32(p + 2);
}

static uint64_t now_s(void) { return (uint64_t)time(NULL); }

static int hmac(const ft_zone *z, const zbuf *d, unsigned char *mac,
                size_t *mac_len) {
  unsigned int n = 0;
  if (d->failed ||
      HMAC(z->md, z->secret, (int)z->secret_len, d->b, d->n, mac, &n) == NULL)
    return -1;
  *mac_len = n;
  return 0;
}

/* 0, or the TSIG error a server answers (BADKEY, BADSIG, BADTIME); -1
 * when the request carries no TSIG. */
static int verify_request(const ft_zone *z, const unsigned char *m,
                          const zmsg *p) {
  unsigned char header[HEADER], mac[MAC_MAX];
  size_t mac_len = 0;
  zbuf d = {0};
  int rc;
  uint64_t t, skew;
  if (!p->has_tsig)
    return -1;
  if (p->key_len != z->key_len || memcmp(p->key, z->key, z->key_len) != 0 ||
      p->alg_len != z->alg_len || memcmp(p->alg, z->alg, z->alg_len) != 0)
    return TSIG_BADKEY;
  memcpy(header, m, HEADER);
  set16(header, p->orig_id);
  set16(header + 10, p->ar - 1);
  zb_put(&d, header, HEADER);
  zb_put(&d, m + HEADER, p->body_end - HEADER);
  zb_put(&d, z->key, z->key_len);
  zb_put16(&d, C_ANY);
  zb_put32(&d, 0);
  zb_put(&d, z->alg, z->alg_len);
  zb_put(&d, p->time_fudge, 8);
  zb_put16(&d, p->error);
  zb_put16(&d, p->other_len);
  zb_put(&d, p->other, p->other_len);
  rc = hmac(z, &d, mac, &mac_len);
  free(d.b);
  if (rc != 0 || mac_len != p->mac_len || memcmp(mac, p->mac, mac_len) != 0)
    return TSIG_BADSIG;
  t = get48(p->time_fudge);
  skew = t > now_s() ? t - now_s() : now_s() - t;
  return skew > get16(p->time_fudge + 6) ? TSIG_BADTIME : 0;
}

typedef struct zsig {
  const unsigned char *prior; /* request MAC or the prior message's MAC */
  size_t prior_len;
  const zbuf *between;        /* unsigned messages since (chained) */
  int timers_only;            /* a later message of a stream */
  uint64_t time;
  unsigned error;
  int no_mac;                 /* an error the server cannot sign */
} zsig;

/* Sign the message b[start..n) and append its TSIG RR; the MAC out. */
static void sign(const ft_zone *z, zbuf *b, size_t start, const zsig *s,
                 unsigned char mac[MAC_MAX], size_t *mac_len) {
  zbuf d = {0};
  unsigned char time_fudge[8];
  size_t n = 0;
  if (b->failed)
    return;
  for (int i = 5; i >= 0; i--)
    time_fudge[5 - i] = (unsigned char)(s->time >> (8 * i));
  set16(time_fudge + 6, FUDGE);
  if (!s->no_mac) {
    if (s->prior_len > 0) {
      zb_put16(&d, (unsigned)s->prior_len);
      zb_put(&d, s->prior, s->prior_len);
    }
    if (s->between != NULL)
      zb_put(&d, s->between->b, s->between->n);
    zb_put(&d, b->b + start, b->n - start);
    if (s->timers_only) {
      zb_put(&d, time_fudge, 8);
    } else {
      zb_put(&d, z->key, z->key_len);
      zb_put16(&d, C_ANY);
      zb_put32(&d, 0);
      zb_put(&d, z->alg, z->alg_len);
      zb_put(&d, time_fudge, 8);
      zb_put16(&d, s->error);
      zb_put16(&d, 0);
    }
    if (hmac(z, &d, mac, &n) != 0)
      b->failed = 1;
    free(d.b);
  }
  *mac_len = n;
  unsigned id = get16(b->b + start), ar = get16(b->b + start + 10);
  zb_put(b, z->key, z->key_len);
  zb_put16(b, T_TSIG);
  zb_put16(b, C_ANY);
  zb_put32(b, 0);
  zb_put16(b, (unsigned)(z->alg_len + 10 + n + 6));
  zb_put(b, z->alg, z->alg_len);
  zb_put(b, time_fudge, 8);
  zb_put16(b, (unsigned)n);
  zb_put(b, mac, n);
  zb_put16(b, id);
  zb_put16(b, s->error);
  zb_put16(b, 0);
  if (!b->failed)
    set16(b->b + start + 10, ar + 1);
}

/* ---- replies ----------------------------------------------------------- */

/* Start a message in b (TCP: after room for its length prefix). Returns
 * where the message starts. */
static size_t msg_begin(zbuf *b, int tcp, unsigned id, unsigned flags,
                        unsigned qd, unsigned an) {
  size_t start;
  if (tcp)
    zb_put16(b, 0);
  start = b->n;
  zb_put16(b, id);
  zb_put16(b, flags);
  zb_put16(b, qd);
  zb_put16(b, an);
  zb_put16(b, 0);
  zb_put16(b, 0);
  return start;
}

static void msg_end(zbuf *b, size_t start, int tcp) {
  if (tcp && !b->failed)
    set16(b->b + start - 2, (unsigned)(b->n - start));
}

static void out_take(ft_zone_out *out, zbuf *b) {
  if (b->failed) {
    free(b->b);
    return;
  }
  out->data = b->b;
  out->len = out->send_len = b->n;
}

/* An unsigned error reply; with `question`, the question echoed. */
static void error_reply(const unsigned char *m, const zmsg *p, int tcp,
                        unsigned rcode, int question, ft_zone_out *out) {
  zbuf b = {0};
  unsigned flags = 0x8000u | (p->flags & 0x7900u) | (rcode & 0xFu);
  size_t start = msg_begin(&b, tcp, p->id, flags, question ? 1 : 0, 0);
  if (question)
    zb_put(&b, m + HEADER, p->qend - HEADER);
  msg_end(&b, start, tcp);
  out_take(out, &b);
}

/* NOTAUTH with the TSIG error, no MAC (RFC 8945 5.3.2). */
static void tsig_error_reply(const ft_zone *z, const unsigned char *m,
                             const zmsg *p, int tcp, unsigned error,
                             ft_zone_out *out) {
  zbuf b = {0};
  unsigned char mac[MAC_MAX];
  size_t mac_len;
  zsig s = {NULL, 0, NULL, 0, now_s(), error, 1};
  unsigned flags = 0x8000u | (p->flags & 0x7900u) | R_NOTAUTH;
  size_t start = msg_begin(&b, tcp, p->id, flags, 1, 0);
  zb_put(&b, m + HEADER, p->qend - HEADER);
  sign(z, &b, start, &s, mac, &mac_len);
  msg_end(&b, start, tcp);
  out_take(out, &b);
}

static void garbage_reply(int tcp, ft_zone_out *out) {
  zbuf b = {0};
  if (tcp) {
    zb_put(&b, "\x00\x05hello", 7);
    out->after = FT_ZC_CLOSE;
  } else {
    zb_put(&b, "garbage", 7);
  }
  out_take(out, &b);
}

static ft_fault_step take_step(ft_zone *z, ft_zone_kind kind) {
  zplan *pl = &z->plans[kind];
  return pl->pos < pl->n ? pl->steps[pl->pos++] : pl->otherwise;
}

/* ---- UPDATE -------------------------------------------------------------- */

static void touch(ft_zone *z, size_t idx) {
  if (z->names[idx].mark == z->mark)
    return;
  if (z->ntouched == z->touched_cap) {
    size_t cap = z->touched_cap ? z->touched_cap * 2 : 16;
    size_t *t = realloc(z->touched, cap * sizeof *t);
    if (t == NULL)
      return;
    z->touched = t;
    z->touched_cap = cap;
  }
  z->names[idx].mark = z->mark;
  z->touched[z->ntouched++] = idx;
}

/* The update section, checked whole (`apply` 0) or applied. Returns an
 * RCODE. Names it touches are in z->touched. */
static unsigned run_update(ft_zone *z, const unsigned char *m, size_t len,
                           const zmsg *p, int apply) {
  size_t off = p->qend, k;
  unsigned total = p->an + p->ns;
  for (k = 0; k < total; k++) {
    unsigned char owner[NAME_MAX_WIRE], rd[RDATA_MAX];
    size_t olen, rdo, rdlen, rdn = 0;
    unsigned type, cls;
    uint32_t ttl;
    long idx;
    if (walk_rr(m, p->body_end, &off, owner, &olen, &type, &cls, &ttl, &rdo,
                &rdlen) != 0)
      return R_FORMERR;
    if (k < p->an)
      continue; /* prerequisites: not checked */
    if (!in_zone(owner, olen, z->wire, z->wlen))
      return R_NOTZONE;
    if (type == T_CNAME || type == T_NS) {
      size_t o = rdo;
      if (rdlen > 0 && read_name(m, rdo + rdlen, &o, rd, &rdn) != 0)
        return R_FORMERR;
    } else {
      if (rdlen > RDATA_MAX)
        return R_FORMERR;
      memcpy(rd, m + rdo, rdlen);
      rdn = rdlen;
    }
    if (cls == C_IN && ((type == T_A && rdn != 4) ||
                        (type == T_AAAA && rdn != 16) || type == T_ANY))
      return R_FORMERR;
    if (cls != C_IN && cls != C_ANY && cls != C_NONE)
      return R_FORMERR;
    if ((idx = get_name(z, owner, olen)) < 0)
      return R_SERVFAIL;
    touch(z, (size_t)idx);
    if (!apply)
      continue;
    zname *n = &z->names[idx];
    if (cls == C_ANY)
      delete_rrs(n, (uint16_t)type, NULL, 0);
    else if (cls == C_NONE)
      delete_rrs(n, (uint16_t)type, rd, rdn);
    else if (add_rr(n, (uint16_t)type, ttl, rd, rdn) != 0)
      return R_SERVFAIL;
  }
  (void)len;
  return 0;
}

static void handle_update(ft_zone *z, const unsigned char *m, size_t len,
                          const zmsg *p, int tcp, ft_zone_out *out) {
  ft_fault_step st = take_step(z, FT_ZONE_UPDATE);
  unsigned rcode, tsig_err;
  int apply = 1;
  z->stats.update_faults[st.fault < FT_FAULT_COUNT ? st.fault : 0]++;
  if (tcp)
    z->stats.updates_tcp++;
  else
    z->stats.updates_udp++;
  z->mark++;
  z->ntouched = 0;
  switch (st.fault) {
  case FT_FAULT_DROP:
  case FT_FAULT_NO_QUESTION:
  case FT_FAULT_RCODE:
    apply = 0;
    break;
  case FT_FAULT_CLOSE:
    apply = 0;
    break;
  default:
    break;
  }
  tsig_err = (unsigned)verify_request(z, m, p);
  if (tsig_err != 0) {
    z->stats.bad_requests++;
    if (tsig_err == (unsigned)-1)
      error_reply(m, p, tcp, R_REFUSED, 1, out);
    else
      tsig_error_reply(z, m, p, tcp, tsig_err, out);
    return;
  }
  rcode = run_update(z, m, len, p, 0);
  if (rcode == 0 && apply) {
    rcode = run_update(z, m, len, p, 1);
    z->serial++;
    z->stats.applied++;
  }
  if (rcode != 0)
    z->stats.bad_requests++;
  for (size_t i = 0; i < z->ntouched; i++) {
    ft_zone_name_counts *c = &z->names[z->touched[i]].counts;
    c->updates++;
    if (rcode == 0 && apply)
      c->applied++;
  }
  switch (st.fault) {
  case FT_FAULT_DROP:
    return;
  case FT_FAULT_CLOSE:
  case FT_FAULT_RESET:
    out->before = st.fault == FT_FAULT_CLOSE ? FT_ZC_CLOSE : FT_ZC_RESET;
    return;
  case FT_FAULT_LOST:
    return;
  case FT_FAULT_NO_QUESTION:
    error_reply(m, p, tcp, st.arg, 0, out);
    return;
  case FT_FAULT_RCODE:
    error_reply(m, p, tcp, st.arg, 1, out);
    return;
  case FT_FAULT_GARBAGE:
    garbage_reply(tcp, out);
    return;
  default:
    break;
  }
  /* The answer: the zone section, signed over the request MAC. */
  zbuf b = {0};
  unsigned char mac[MAC_MAX];
  size_t mac_len = 0;
  unsigned flags = 0x8000u | (OP_UPDATE << 11) | (rcode & 0xFu);
  zsig s = {p->mac, p->mac_len, NULL, 0, now_s(), 0, 0};
  size_t start = msg_begin(&b, tcp, p->id, flags, 1, 0);
  zb_put(&b, m + HEADER, p->qend - HEADER);
  if (st.fault == FT_FAULT_WRONG_QUESTION && !b.failed) /* another zone */
    b.b[start + HEADER + 1] = b.b[start + HEADER + 1] == 'x' ? 'y' : 'x';
  if (st.fault == FT_FAULT_BAD_TIME)
    s.time -= 3600;
  if (st.fault != FT_FAULT_UNSIGNED)
    sign(z, &b, start, &s, mac, &mac_len);
  if (st.fault == FT_FAULT_BAD_MAC && mac_len > 0 && !b.failed)
    b.b[b.n - 6 - mac_len / 2] ^= 0x5A;
  if (st.fault == FT_FAULT_WRONG_ID && !b.failed)
    set16(b.b + start, (p->id + 1u) & 0xFFFFu);
  if (st.fault == FT_FAULT_TRUNCATED && b.n - start > HEADER + 7)
    b.n -= 7;
  msg_end(&b, start, tcp);
  if (st.fault == FT_FAULT_DELAY)
    out->delay_ms = st.arg;
  if (st.fault == FT_FAULT_ANSWER_CLOSE)
    out->after = FT_ZC_CLOSE;
  if (rcode == 0 &&
      (st.fault == FT_FAULT_OK || st.fault == FT_FAULT_DELAY ||
       st.fault == FT_FAULT_ANSWER_CLOSE)) {
    z->stats.answered++;
    for (size_t i = 0; i < z->ntouched; i++)
      z->names[z->touched[i]].counts.answered++;
  }
  out_take(out, &b);
}

/* ---- queries ------------------------------------------------------------- */

static void put_rr(zbuf *b, const unsigned char *owner, size_t olen,
                   const zrr *r) {
  zb_put(b, owner, olen);
  zb_put16(b, r->type);
  zb_put16(b, C_IN);
  zb_put32(b, r->ttl);
  zb_put16(b, r->rdlen);
  zb_put(b, r->rdata, r->rdlen);
}

static void soa_rr(const ft_zone *z, zrr *r) {
  zbuf d = {0};
  unsigned char w[NAME_MAX_WIRE];
  size_t wl;
  char name[300];
  snprintf(name, sizeof name, "ns1.%s", z->text);
  if (text_to_wire(name, w, &wl) == 0)
    zb_put(&d, w, wl);
  snprintf(name, sizeof name, "hostmaster.%s", z->text);
  if (text_to_wire(name, w, &wl) == 0)
    zb_put(&d, w, wl);
  zb_put32(&d, z->serial);
  zb_put32(&d, 3600);
  zb_put32(&d, 600);
  zb_put32(&d, 86400);
  zb_put32(&d, 60);
  memset(r, 0, sizeof *r);
  r->type = T_SOA;
  r->ttl = 3600;
  if (!d.failed && d.n <= RDATA_MAX) {
    memcpy(r->rdata, d.b, d.n);
    r->rdlen = (uint16_t)d.n;
  }
  free(d.b);
}

static void handle_query(ft_zone *z, const unsigned char *m,
                         const zmsg *p, int tcp, ft_zone_out *out) {
  ft_fault_step st = take_step(z, FT_ZONE_QUERY);
  z->stats.queries++;
  z->stats.query_faults[st.fault < FT_FAULT_COUNT ? st.fault : 0]++;
  switch (st.fault) {
  case FT_FAULT_DROP:
    return;
  case FT_FAULT_GARBAGE:
    garbage_reply(tcp, out);
    return;
  case FT_FAULT_NO_QUESTION:
    error_reply(m, p, tcp, st.arg, 0, out);
    return;
  case FT_FAULT_RCODE:
    error_reply(m, p, tcp, st.arg, 1, out);
    return;
  default:
    break;
  }
  char text[256];
  wire_to_text(p->qname, text);
  long idx = find_name(z, text);
  int apex = p->qname_len == z->wlen && memcmp(p->qname, z->wire, z->wlen) == 0;
  zbuf b = {0};
  size_t start, count = 0;
  static const unsigned char self[2] = {0xC0, 0x0C};
  unsigned rcode = 0;
  start = msg_begin(&b, tcp, p->id, 0x8000u | 0x0400u | (p->flags & 0x0100u),
                    1, 0);
  zb_put(&b, m + HEADER, p->qend - HEADER);
  if (apex && (p->qtype == T_SOA || p->qtype == T_ANY)) {
    zrr soa;
    soa_rr(z, &soa);
    put_rr(&b, self, 2, &soa);
    count++;
  }
  if (idx >= 0) {
    const zname *n = &z->names[idx];
    for (size_t i = 0; i < n->nrr; i++)
      if (n->rrs[i].type == p->qtype || p->qtype == T_ANY) {
        put_rr(&b, self, 2, &n->rrs[i]);
        count++;
      }
    if (count == 0)
      for (size_t i = 0; i < n->nrr; i++)
        if (n->rrs[i].type == T_CNAME) {
          put_rr(&b, self, 2, &n->rrs[i]);
          count++;
        }
    if (n->nrr == 0 && !apex)
      rcode = R_NXDOMAIN; /* emptied by an UPDATE */
  } else if (!apex) {
    rcode = R_NXDOMAIN;
  }
  if (!b.failed) {
    set16(b.b + start + 2, get16(b.b + start + 2) | rcode);
    set16(b.b + start + 6, (unsigned)count);
  }
  if (st.fault == FT_FAULT_WRONG_ID && !b.failed)
    set16(b.b + start, (p->id + 1u) & 0xFFFFu);
  msg_end(&b, start, tcp);
  if (st.fault == FT_FAULT_DELAY)
    out->delay_ms = st.arg;
  out_take(out, &b);
}

/* ---- AXFR ------------------------------------------------------------------ */

typedef struct axrr {
  const unsigned char *owner;
  size_t olen;
  const zrr *rr;
} axrr;

static void handle_axfr(ft_zone *z, const unsigned char *m, const zmsg *p,
                        int tcp, ft_zone_out *out) {
  ft_fault_step st = take_step(z, FT_ZONE_AXFR);
  unsigned tsig_err;
  z->stats.transfers++;
  z->stats.axfr_faults[st.fault < FT_FAULT_COUNT ? st.fault : 0]++;
  if (!tcp) {
    error_reply(m, p, tcp, R_REFUSED, 1, out);
    return;
  }
  tsig_err = (unsigned)verify_request(z, m, p);
  if (tsig_err != 0) {
    z->stats.bad_requests++;
    if (tsig_err == (unsigned)-1)
      error_reply(m, p, tcp, R_REFUSED, 1, out);
    else
      tsig_error_reply(z, m, p, tcp, tsig_err, out);
    return;
  }
  if (st.fault == FT_FAULT_RCODE) {
    error_reply(m, p, tcp, st.arg, 1, out);
    return;
  }
  if (st.fault == FT_FAULT_BADKEY) {
    tsig_error_reply(z, m, p, tcp, TSIG_BADKEY, out);
    return;
  }

  /* Every RR: SOA, the names in order, SOA. */
  zrr soa, extra;
  size_t total = 2, k = 0, nmsg, i;
  int trailing = st.fault == FT_FAULT_TRAILING;
  soa_rr(z, &soa);
  for (i = 0; i < z->nnames; i++)
    total += z->names[i].nrr;
  axrr *all = malloc((total + 1) * sizeof *all);
  nmsg = (total + z->chunk - 1) / z->chunk;
  size_t *frame = malloc((nmsg + 1) * sizeof *frame);
  if (all == NULL || frame == NULL) {
    free(all);
    free(frame);
    return;
  }
  all[k++] = (axrr){z->wire, z->wlen, &soa};
  for (i = 0; i < z->nnames; i++)
    for (size_t r = 0; r < z->names[i].nrr; r++)
      all[k++] = (axrr){z->names[i].wire, z->names[i].wlen,
                        &z->names[i].rrs[r]};
  all[k++] = (axrr){z->wire, z->wlen, &soa};
  if (trailing) { /* after the closing SOA, in its message */
    memset(&extra, 0, sizeof extra);
    extra.type = T_A;
    extra.ttl = 7;
    extra.rdlen = 4;
    memcpy(extra.rdata, "\xC0\x00\x02\xFA", 4); /* 192.0.2.250 */
    all[k] = all[k - 2]; /* at the name of the zone's last RR */
    all[k++].rr = &extra;
  }
  if (st.fault == FT_FAULT_WRONG_NAME && total > 2) { /* SOA not first */
    axrr t = all[0];
    all[0] = all[1];
    all[1] = t;
  }

  size_t hit = st.arg < nmsg ? st.arg : nmsg - 1; /* the message faulted */
  unsigned every = st.fault == FT_FAULT_SPARSE && st.arg > 0 ? st.arg : 1;
  if (st.fault == FT_FAULT_TAMPER)
    every = st.arg > 2 ? st.arg : 2;
  zbuf b = {0}, between = {0};
  unsigned char prior[MAC_MAX];
  size_t prior_len = p->mac_len;
  memcpy(prior, p->mac, p->mac_len);
  for (i = 0; i < nmsg; i++) {
    size_t first = i * z->chunk, n = total - first < z->chunk ? total - first
                                                             : z->chunk;
    int last = i + 1 == nmsg;
    if (last && trailing)
      n++;
    int sig = (i % every == 0 || last) &&
              !(st.fault == FT_FAULT_UNSIGNED && last);
    frame[i] = b.n;
    size_t start =
        msg_begin(&b, 1, p->id, 0x8000u | 0x0400u, i == 0 ? 1 : 0,
                  (unsigned)n);
    if (i == 0) {
      zb_put(&b, m + HEADER, p->qend - HEADER);
      if (st.fault == FT_FAULT_WRONG_QUESTION && !b.failed)
        b.b[b.n - 3] ^= 1; /* low byte of QTYPE */
    }
    size_t ttl_at = 0; /* the last RR's TTL */
    for (size_t r = first; r < first + n; r++) {
      ttl_at = b.n + all[r].olen + 4;
      put_rr(&b, all[r].owner, all[r].olen, all[r].rr);
    }
    if (sig) {
      unsigned char mac[MAC_MAX];
      size_t mac_len = 0;
      zsig s = {prior, prior_len, &between, i > 0, now_s(), 0, 0};
      if (st.fault == FT_FAULT_BAD_TIME && i == hit)
        s.time -= 3600;
      sign(z, &b, start, &s, mac, &mac_len);
      memcpy(prior, mac, mac_len);
      prior_len = mac_len;
      between.n = 0;
      if (st.fault == FT_FAULT_BAD_MAC && i == hit && !b.failed)
        b.b[b.n - 6 - mac_len / 2] ^= 0x5A;
    } else {
      zb_put(&between, b.b + start, b.n - start);
    }
    if (st.fault == FT_FAULT_TAMPER && i == 1 && !b.failed)
      b.b[ttl_at + 3] ^= 1; /* after the chain took the original */
    if (st.fault == FT_FAULT_WRONG_ID && i == hit && !b.failed)
      set16(b.b + start, (p->id + 1u) & 0xFFFFu);
    if (st.fault == FT_FAULT_TRUNCATED && i == hit)
      b.n -= 7;
    msg_end(&b, start, 1);
  }
  frame[nmsg] = b.n;
  z->stats.axfr_messages += (unsigned)nmsg;
  free(between.b);
  free(all);
  if (b.failed) {
    free(frame);
    free(b.b);
    return;
  }
  out_take(out, &b);
  switch (st.fault) {
  case FT_FAULT_CLOSE:
  case FT_FAULT_RESET:
  case FT_FAULT_STALL:
    out->send_len = frame[hit];
    out->after = st.fault == FT_FAULT_CLOSE   ? FT_ZC_CLOSE
                 : st.fault == FT_FAULT_RESET ? FT_ZC_RESET
                                              : FT_ZC_STALL;
    break;
  case FT_FAULT_CUT:
    out->send_len = frame[hit] + (frame[hit + 1] - frame[hit]) / 2;
    out->after = FT_ZC_CLOSE;
    break;
  case FT_FAULT_GARBAGE:
    /* <hit> messages, then the garbage frame in place of the rest */
    memcpy(out->data + frame[hit], "\x00\x05hello", 7);
    out->send_len = frame[hit] + 7;
    out->after = FT_ZC_CLOSE;
    break;
  case FT_FAULT_DELAY:
    out->delay_ms = st.arg;
    break;
  default:
    break;
  }
  free(frame);
}

/* ---- entry points ------------------------------------------------------------ */

int ft_zone_wants(ft_zone *z, const unsigned char *m, size_t len) {
  unsigned char name[NAME_MAX_WIRE];
  size_t off = HEADER, nlen;
  if (z == NULL || len < HEADER || get16(m + 4) != 1 ||
      read_name(m, len, &off, name, &nlen) != 0)
    return 0;
  return in_zone(name, nlen, z->wire, z->wlen);
}

void ft_zone_handle(ft_zone *z, const unsigned char *m, size_t len, int tcp,
                    ft_zone_out *out) {
  zmsg p;
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&z->lock);
  if (parse_msg(m, len, &p) != 0 || (p.flags & 0x8000u)) {
    z->stats.bad_requests++;
  } else if (((p.flags >> 11) & 0xFu) == OP_UPDATE) {
    handle_update(z, m, len, &p, tcp, out);
  } else if (((p.flags >> 11) & 0xFu) == OP_QUERY && p.qtype == T_AXFR) {
    handle_axfr(z, m, &p, tcp, out);
  } else if (((p.flags >> 11) & 0xFu) == OP_QUERY) {
    handle_query(z, m, &p, tcp, out);
  } else {
    z->stats.bad_requests++;
  }
  pthread_mutex_unlock(&z->lock);
}

int ft_zone_add_rr(ft_zone *z, const char *name, const char *type, uint32_t ttl,
                const char *data) {
  unsigned char w[NAME_MAX_WIRE], rd[RDATA_MAX];
  size_t wl, rdn = 0;
  int t = type_of(type), rc = -1;
  long idx;
  if (t < 0 || text_to_wire(name, w, &wl) != 0)
    return -1;
  switch (t) {
  case T_A:
    if (inet_pton(AF_INET, data, rd) != 1)
      return -1;
    rdn = 4;
    break;
  case T_AAAA:
    if (inet_pton(AF_INET6, data, rd) != 1)
      return -1;
    rdn = 16;
    break;
  case T_CNAME:
  case T_NS:
    if (text_to_wire(data, rd, &rdn) != 0)
      return -1;
    break;
  default: /* TXT: one character-string */
    rdn = strlen(data);
    if (rdn > 255)
      return -1;
    rd[0] = (unsigned char)rdn;
    memcpy(rd + 1, data, rdn);
    rdn++;
    break;
  }
  pthread_mutex_lock(&z->lock);
  if (in_zone(w, wl, z->wire, z->wlen) && (idx = get_name(z, w, wl)) >= 0)
    rc = add_rr(&z->names[idx], (uint16_t)t, ttl, rd, rdn);
  pthread_mutex_unlock(&z->lock);
  return rc;
}

void ft_zone_set_plan(ft_zone *z, ft_zone_kind kind, const ft_fault_step *steps,
                  size_t n, ft_fault_step otherwise) {
  ft_fault_step *copy = n ? malloc(n * sizeof *copy) : NULL;
  if (copy != NULL)
    memcpy(copy, steps, n * sizeof *copy);
  pthread_mutex_lock(&z->lock);
  free(z->plans[kind].steps);
  z->plans[kind].steps = copy;
  z->plans[kind].n = copy != NULL ? n : 0;
  z->plans[kind].pos = 0;
  z->plans[kind].otherwise = otherwise;
  pthread_mutex_unlock(&z->lock);
}

int ft_zone_get_name(ft_zone *z, const char *name, char *buf, size_t size,
                   ft_zone_name_counts *counts) {
  unsigned char w[NAME_MAX_WIRE];
  char text[256];
  size_t wl, at = 0;
  int rc = 0;
  long idx;
  if (size == 0 || text_to_wire(name, w, &wl) != 0)
    return -1;
  wire_to_text(w, text);
  buf[0] = '\0';
  if (counts != NULL)
    memset(counts, 0, sizeof *counts);
  pthread_mutex_lock(&z->lock);
  idx = find_name(z, text);
  if (idx >= 0) {
    const zname *n = &z->names[idx];
    char **lines = calloc(n->nrr ? n->nrr : 1, sizeof *lines);
    if (counts != NULL)
      *counts = n->counts;
    for (size_t i = 0; lines != NULL && i < n->nrr; i++) {
      lines[i] = malloc(320);
      if (lines[i] != NULL)
        format_rr(&n->rrs[i], lines[i], 320);
    }
    if (lines != NULL)
      qsort(lines, n->nrr, sizeof *lines, cmp_lines);
    for (size_t i = 0; lines != NULL && i < n->nrr; i++) {
      size_t l = lines[i] ? strlen(lines[i]) : 0;
      if (at + l + 1 > size)
        rc = -1;
      else if (l > 0) {
        memcpy(buf + at, lines[i], l + 1);
        at += l;
      }
      free(lines[i]);
    }
    if (lines == NULL)
      rc = -1;
    free(lines);
  }
  pthread_mutex_unlock(&z->lock);
  return rc;
}

void ft_zone_get_stats(ft_zone *z, ft_zone_stats *out) {
  pthread_mutex_lock(&z->lock);
  *out = z->stats;
  pthread_mutex_unlock(&z->lock);
}
