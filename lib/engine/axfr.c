/*
 * axfr.c - read a zone by AXFR over TCP with TSIG (see axfr.h).
 *
 * One uv_tcp_t and one uv_timer_t (the deadline). Messages arrive
 * length-prefixed (RFC 1035 4.2.2) into one growing buffer; each complete
 * message is checked (ID, QR, opcode, RCODE, question, TSIG), then its
 * answer RRs go to rr_cb. The struct is freed once both handles are closed.
 *
 * TSIG (RFC 8945 5.3.1) is the TSIG module's: every message goes through
 * fo__tsig_stream_next(), which verifies the first against the request MAC
 * and the later ones with the chaining rule.
 */
#include "axfr.h"

#include "alloc.h"
#include "random.h"

#include <openssl/crypto.h>

#include <string.h>
#include <time.h>

#define AXFR_QTYPE 252
#define AXFR_DEFAULT_TIMEOUT_MS 10000u
#define AXFR_QUERY_CAP 1024
#define AXFR_READ_CHUNK 16384u

struct fo__axfr {
  fo_allocator alloc;
  uv_loop_t *loop;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_connect_t connect_req;
  uv_write_t write_req;
  int open_handles;
  int done;

  fo__axfr_rr_fn rr_cb;
  fo__axfr_done_fn done_cb;
  void *userdata;

  char zone[FO_NAME_BUFSIZE]; /* canonical: lowercase, no trailing dot */
  uint16_t id;
  uint8_t query[2 + AXFR_QUERY_CAP];
  size_t query_len; /* with the 2-byte prefix */

  /* TSIG */
  int signed_request;
  fo__tsig_key key;
  fo__tsig_stream stream;

  /* stream */
  uint8_t *rbuf;
  size_t rcap, rlen;
  size_t messages;  /* messages accepted so far */
  size_t soa_count; /* apex SOAs seen in accepted messages */
};

/* ---- teardown ------------------------------------------------------------ */

static void release(fo__axfr *x) {
  fo_allocator a = x->alloc;
  fo__tsig_stream_free(&x->stream);
  OPENSSL_cleanse(&x->key, sizeof(x->key));
  OPENSSL_cleanse(x->query, sizeof(x->query));
  fo__free(&a, x->rbuf);
  fo__free(&a, x);
}

static void handle_closed(uv_handle_t *h) {
  fo__axfr *x = h->data;
  if (--x->open_handles == 0)
    release(x);
}

static void close_handles(fo__axfr *x) {
  if (!uv_is_closing((uv_handle_t *)&x->tcp))
    uv_close((uv_handle_t *)&x->tcp, handle_closed);
  if (!uv_is_closing((uv_handle_t *)&x->timer))
    uv_close((uv_handle_t *)&x->timer, handle_closed);
}

/* done_cb exactly once; the handles close, the memory goes after. */
static void finish(fo__axfr *x, int error) {
  if (x->done)
    return;
  x->done = 1;
  uv_timer_stop(&x->timer);
  close_handles(x);
  x->done_cb(error, x->userdata);
}

void fo__axfr_cancel(fo__axfr *x) {
  if (x != NULL)
    finish(x, FO_ECANCELED);
}

/* ---- TSIG ------------------------------------------------------------------ */

static uint16_t get16(const uint8_t *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint64_t now_seconds(void) {
  time_t t = time(NULL);
  return t < 0 ? 0 : (uint64_t)t;
}

/* ---- one message -------------------------------------------------------------- */

typedef struct scan_state {
  fo__axfr *x;
  int first;              /* first message of the stream */
  size_t answers;         /* answer RRs seen */
  size_t final_index;     /* 1-based answer index of the closing SOA, or 0 */
  size_t soa_count;       /* x->soa_count + apex SOAs of this message */
  size_t tsig_count;
  int last_section;
  uint16_t last_type;
  size_t last_offset;
} scan_state;

static int scan_rr(int section, const fo__dns_rr *rr, size_t rr_offset,
                   void *userdata) {
  scan_state *s = userdata;
  s->last_section = section;
  s->last_type = rr->type;
  s->last_offset = rr_offset;
  if (rr->type == FO__TYPE_TSIG)
    s->tsig_count++;
  if (section != 1 || s->final_index != 0)
    return 0;
  s->answers++;
  if (rr->type == FO__TYPE_SOA && strcmp(rr->owner, s->x->zone) == 0) {
    if (++s->soa_count == 2)
      s->final_index = s->answers;
  } else if (s->soa_count == 0) {
    return FO_EMALFORMED; /* a zone transfer starts with the apex SOA */
  }
  return 0;
}

typedef struct deliver_state {
  fo__axfr *x;
  size_t index;
  size_t final_index;
} deliver_state;

static int deliver_rr(int section, const fo__dns_rr *rr, size_t rr_offset,
                      void *userdata) {
  deliver_state *d = userdata;
  fo__zone_rr z;
  (void)rr_offset;
  if (section != 1)
    return 1; /* answers come first: nothing more to hand out */
  if (++d->index == d->final_index)
    return 1;
  if (d->x->rr_cb == NULL)
    return 0;
  z.owner = rr->owner;
  z.type = rr->type;
  z.ttl = rr->ttl;
  if (rr->rclass == FO__CLASS_IN && rr->type == FO__TYPE_CNAME)
    z.data = rr->target;
  else if (rr->rclass == FO__CLASS_IN &&
           (rr->type == FO__TYPE_A || rr->type == FO__TYPE_AAAA))
    z.data = rr->address;
  else
    z.data = "";
  d->x->rr_cb(&z, d->x->userdata);
  return d->x->done ? 1 : 0; /* cancelled from rr_cb */
}

static int rcode_error(unsigned rcode) {
  switch (rcode) {
  case FO__RCODE_REFUSED:
    return FO_EREFUSED;
  case FO__RCODE_NOTAUTH:
    return FO_ENOTAUTH;
  case FO__RCODE_SERVFAIL:
    return FO_ESERVFAIL;
  default: /* FORMERR, NOTIMP, NXDOMAIN, ...: asking again will not help */
    return FO_EREFUSED;
  }
}

/* Returns 0 to go on, 1 when the zone is complete, or an error. */
static int handle_message(fo__axfr *x, const uint8_t *m, size_t len) {
  scan_state s;
  size_t tsig_off = 0;
  uint16_t flags, qdcount;
  int rc;

  if (len < FO__DNS_HEADER_LEN)
    return FO_EMALFORMED;
  flags = get16(m + 2);
  if (get16(m) != x->id || !(flags & 0x8000u) || ((flags >> 11) & 0xFu) != 0)
    return FO_EMALFORMED;

  memset(&s, 0, sizeof(s));
  s.x = x;
  s.first = x->messages == 0;
  s.soa_count = x->soa_count;
  rc = fo__dns_each_rr(m, len, scan_rr, &s);
  if (rc != 0)
    return rc < 0 ? rc : FO_EMALFORMED;
  if (s.tsig_count > 1 ||
      (s.tsig_count == 1 &&
       (s.last_section != 3 || s.last_type != FO__TYPE_TSIG)))
    return FO_EMALFORMED;
  if (s.tsig_count == 1)
    tsig_off = s.last_offset;

  if ((flags & 0xFu) != FO__RCODE_NOERROR) {
    /* NOTAUTH with a TSIG error says why: the key was refused. */
    if ((flags & 0xFu) == FO__RCODE_NOTAUTH && tsig_off != 0 &&
        (rc = fo__tsig_error_of(m, len)) != 0)
      return rc;
    return rcode_error(flags & 0xFu);
  }

  /* The question: copied into the first message, optional afterwards. */
  qdcount = get16(m + 4);
  if (qdcount > 1 || (s.first && qdcount == 0))
    return FO_EMALFORMED;
  if (qdcount == 1) {
    char qname[FO_NAME_BUFSIZE];
    size_t off = FO__DNS_HEADER_LEN;
    if (fo__dns_read_name(m, len, &off, qname) != 0 || len - off < 4)
      return FO_EMALFORMED;
    if (strcmp(qname, x->zone) != 0 || get16(m + off) != AXFR_QTYPE ||
        get16(m + off + 2) != FO__CLASS_IN)
      return FO_EMALFORMED;
  }
  if (s.first && s.answers == 0)
    return FO_EMALFORMED;

  if (x->signed_request) {
    rc = fo__tsig_stream_next(&x->stream, m, len, s.final_index != 0,
                              now_seconds());
    if (rc != 0)
      return rc;
  }

  x->messages++;
  x->soa_count = s.soa_count;
  {
    deliver_state d;
    d.x = x;
    d.index = 0;
    d.final_index = s.final_index;
    rc = fo__dns_each_rr(m, len, deliver_rr, &d);
    if (rc < 0)
      return rc;
  }
  return s.final_index != 0 ? 1 : 0;
}

/* ---- libuv ------------------------------------------------------------------ */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  fo__axfr *x = h->data;
  (void)suggested;
  if (x->rcap - x->rlen < AXFR_READ_CHUNK) {
    size_t cap = x->rlen + AXFR_READ_CHUNK;
    uint8_t *p = fo__realloc_array(&x->alloc, x->rbuf, cap, 1);
    if (p == NULL) {
      *buf = uv_buf_init(NULL, 0); /* read_cb gets UV_ENOBUFS */
      return;
    }
    x->rbuf = p;
    x->rcap = cap;
  }
  *buf = uv_buf_init((char *)x->rbuf + x->rlen,
                     (unsigned int)(x->rcap - x->rlen));
}

static void read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
  fo__axfr *x = stream->data;
  size_t pos = 0;
  (void)buf;
  if (x->done)
    return;
  if (nread < 0) {
    finish(x, nread == UV_ENOBUFS ? FO_ENOMEM : FO_EIO);
    return;
  }
  x->rlen += (size_t)nread;
  while (x->rlen - pos >= 2) {
    size_t mlen = get16(x->rbuf + pos);
    int rc;
    if (x->rlen - pos - 2 < mlen)
      break;
    rc = handle_message(x, x->rbuf + pos + 2, mlen);
    if (x->done) /* cancelled from rr_cb */
      return;
    if (rc != 0) {
      finish(x, rc == 1 ? 0 : rc);
      return;
    }
    pos += 2 + mlen;
  }
  if (pos > 0) {
    memmove(x->rbuf, x->rbuf + pos, x->rlen - pos);
    x->rlen -= pos;
  }
}

static void write_cb(uv_write_t *req, int status) {
  fo__axfr *x = req->data;
  if (status < 0 && !x->done)
    finish(x, FO_EIO);
}

static void connect_cb(uv_connect_t *req, int status) {
  fo__axfr *x = req->data;
  uv_buf_t b;
  if (x->done)
    return;
  if (status < 0) {
    finish(x, FO_EIO);
    return;
  }
  b = uv_buf_init((char *)x->query, (unsigned int)x->query_len);
  if (uv_write(&x->write_req, (uv_stream_t *)&x->tcp, &b, 1, write_cb) != 0 ||
      uv_read_start((uv_stream_t *)&x->tcp, alloc_cb, read_cb) != 0)
    finish(x, FO_EIO);
}

static void timer_cb(uv_timer_t *t) { finish(t->data, FO_ETIMEDOUT); }

/* ---- start ------------------------------------------------------------------ */

static int build_query(fo__axfr *x, const char *zone, const fo__tsig_key *key) {
  fo__random_pool pool;
  size_t len, off = 2 + FO__DNS_HEADER_LEN;
  uint8_t *q = x->query + 2;
  int n;

  pool.left = 0;
  if (fo__random_read(&pool, &x->id, sizeof(x->id)) != 0)
    return FO_EIO;
  OPENSSL_cleanse(&pool, sizeof(pool));
  n = fo__dns_build_query(x->id, zone, AXFR_QTYPE, 0, q, AXFR_QUERY_CAP);
  if (n < 0)
    return n == FO_ENOSPC ? FO_EBADNAME : n;
  /* The zone as the codec reads it back: lowercase, no trailing dot. */
  if (fo__dns_read_name(x->query, 2 + (size_t)n, &off, x->zone) != 0)
    return FO_EBADNAME;
  len = (size_t)n;
  if (key != NULL) {
    x->signed_request = 1;
    x->key = *key;
    uint8_t mac[FO__TSIG_MAC_MAX];
    size_t mac_len = 0;
    int rc;
    if (fo__tsig_sign(&x->key, q, &len, AXFR_QUERY_CAP, now_seconds(), mac,
                      &mac_len) != 0)
      return FO_EINVAL;
    rc = fo__tsig_stream_init(&x->stream, &x->key, mac, mac_len);
    OPENSSL_cleanse(mac, sizeof(mac));
    if (rc != 0)
      return rc;
  }
  x->query[0] = (uint8_t)(len >> 8);
  x->query[1] = (uint8_t)len;
  x->query_len = 2 + len;
  return 0;
}

int fo__axfr_start(fo__axfr **out, uv_loop_t *loop, const fo_allocator *a,
                   const fo__hostport *server, const char *zone,
                   const fo__tsig_key *key, uint32_t timeout_ms,
                   fo__axfr_rr_fn rr_cb, fo__axfr_done_fn done_cb,
                   void *userdata) {
  fo_allocator def;
  fo__axfr *x;
  struct sockaddr_storage ss;
  int rc;

  if (out == NULL || loop == NULL || server == NULL || zone == NULL ||
      done_cb == NULL)
    return FO_EINVAL;
  *out = NULL;
  if (server->family != AF_INET && server->family != AF_INET6)
    return FO_EINVAL;
  if (a == NULL) {
    fo__alloc_default(&def);
    a = &def;
  }
  x = fo__calloc(a, 1, sizeof(*x));
  if (x == NULL)
    return FO_ENOMEM;
  x->alloc = *a;
  x->loop = loop;
  x->rr_cb = rr_cb;
  x->done_cb = done_cb;
  x->userdata = userdata;
  rc = build_query(x, zone, key);
  if (rc != 0) {
    release(x);
    return rc;
  }

  memset(&ss, 0, sizeof(ss));
  if (server->family == AF_INET) {
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(server->port);
    memcpy(&sin->sin_addr, server->addr, 4);
  } else {
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(server->port);
    memcpy(&sin6->sin6_addr, server->addr, 16);
  }

  if (uv_timer_init(loop, &x->timer) != 0) {
    release(x);
    return FO_EIO;
  }
  x->timer.data = x;
  x->open_handles = 1;
  if (uv_tcp_init(loop, &x->tcp) != 0) {
    x->done = 1;
    uv_close((uv_handle_t *)&x->timer, handle_closed);
    return FO_EIO;
  }
  x->tcp.data = x;
  x->open_handles = 2;
  x->connect_req.data = x;
  x->write_req.data = x;
  if (uv_tcp_connect(&x->connect_req, &x->tcp, (const struct sockaddr *)&ss,
                     connect_cb) != 0 ||
      uv_timer_start(&x->timer, timer_cb,
                     timeout_ms ? timeout_ms : AXFR_DEFAULT_TIMEOUT_MS,
                     0) != 0) {
    /* No callback: the caller sees the error; memory goes with the handles. */
    x->done = 1;
    close_handles(x);
    return FO_EIO;
  }
  *out = x;
  return 0;
}
