/*
 * fault_peer.c - see fault_peer.h.
 */
#define _GNU_SOURCE
#include "fault_peer.h"
#include "fault_zone.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define MAX_HELD 64

typedef struct peer_conn {
  int fd;
  unsigned gen;
  int stalled; /* zone mode: read and ignore everything from now on */
  unsigned char *in;
  size_t in_len, in_cap;
  unsigned char *held[MAX_HELD];
  size_t held_len[MAX_HELD];
  unsigned held_key[MAX_HELD];
  size_t nheld;
} peer_conn;

typedef struct delayed {
  uint64_t due;
  int tcp;
  unsigned gen; /* TCP: the connection it goes to */
  struct sockaddr_storage to;
  socklen_t to_len;
  unsigned key;
  int counts; /* a valid answer: counted as delivered once sent */
  unsigned char *data;
  size_t len;
  int zone;           /* a zone reply: `len` bytes of `data` exactly */
  ft_zone_conn after; /* zone reply: then this (TCP) */
} delayed;

struct ft_fault_peer {
  int port;
  int udp_fd, tcp_fd, stop_pipe[2];
  pthread_t thread;
  atomic_uint udp[FT_PEER_KEYS];
  atomic_uint tcp[FT_PEER_KEYS];
  atomic_uint delivered[FT_PEER_KEYS];
  atomic_uint connections;
  atomic_uint queries;
  pthread_mutex_t plan_lock;
  ft_fault_step *plan;
  size_t plan_len, plan_pos;
  ft_zone *zone; /* zone mode; set before the thread starts */
  atomic_uint lag_ms; /* zone mode: TCP requests handled this late */
  /* peer thread only */
  peer_conn conns[MAX_CONNS];
  size_t nconn;
  unsigned next_gen;
  delayed *later;
  size_t nlater, later_cap;
  struct lagged { /* TCP zone requests waiting for lag_ms, in order */
    uint64_t due;
    unsigned gen;
    unsigned char *q;
    size_t len;
  } *lag;
  size_t nlag, lag_cap;
};

/* What one query asks for. */
typedef struct request {
  ft_fault fault;
  unsigned arg;
  unsigned key; /* FT_PEER_KEYS: none */
  size_t qend;  /* past the question */
} request;

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms) {
  struct timespec ts = {0, (long)ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- reading the request out of the name --------------------------------- */

static const struct {
  const char *word;
  ft_fault fault;
} words[] = {
    {"ok", FT_FAULT_OK},
    {"drop", FT_FAULT_DROP},
    {"delay", FT_FAULT_DELAY},
    {"tc", FT_FAULT_TC},
    {"ansclose", FT_FAULT_ANSWER_CLOSE},
    {"ansrst", FT_FAULT_ANSWER_RESET},
    {"close", FT_FAULT_CLOSE},
    {"rst", FT_FAULT_RESET},
    {"garbage", FT_FAULT_GARBAGE},
    {"wrongid", FT_FAULT_WRONG_ID},
    {"wrongq", FT_FAULT_WRONG_QUESTION},
    {"wrongname", FT_FAULT_WRONG_NAME},
    {"noq", FT_FAULT_NO_QUESTION},
    {"upper", FT_FAULT_UPPER},
    {"pieces", FT_FAULT_PIECES},
    {"hold", FT_FAULT_HOLD},
    {"release", FT_FAULT_RELEASE},
    {"big", FT_FAULT_BIG},
    {"bigrst", FT_FAULT_BIG_RESET},
};

static int find_word(const char *w, size_t n, ft_fault *out) {
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (strlen(words[i].word) == n && memcmp(words[i].word, w, n) == 0) {
      *out = words[i].fault;
      return 0;
    }
  return -1;
}

static unsigned read_number(const char *s, size_t n, size_t *at) {
  unsigned v = 0;
  while (*at < n && s[*at] >= '0' && s[*at] <= '9')
    v = v * 10u + (unsigned)(s[(*at)++] - '0');
  return v;
}

/* "<word>[<arg>][x<limit>]"; limit 0 means always. */
static int parse_fault(const char *s, size_t n, ft_fault *fault, unsigned *arg,
                       unsigned *limit) {
  size_t w = 0, at;
  while (w < n && s[w] >= 'a' && s[w] <= 'z')
    w++;
  *arg = *limit = 0;
  if (find_word(s, w, fault) != 0) {
    /* "dropx2": the letters ran into the limit's 'x'. */
    if (w < 2 || s[w - 1] != 'x' || find_word(s, w - 1, fault) != 0)
      return -1;
    at = w;
    *limit = read_number(s, n, &at);
    return at == n ? 0 : -1;
  }
  at = w;
  *arg = read_number(s, n, &at);
  if (at < n && s[at] == 'x') {
    at++;
    *limit = read_number(s, n, &at);
  }
  return at == n ? 0 : -1;
}

static size_t question_end(const unsigned char *q, size_t len) {
  size_t off = 12;
  if (len < 12 || q[4] != 0 || q[5] == 0)
    return 0;
  while (off < len && q[off] != 0) {
    if (q[off] & 0xC0)
      return 0;
    off += 1u + q[off];
  }
  if (off >= len)
    return 0;
  off += 1 + 4;
  return off <= len ? off : 0;
}

static ft_fault_step next_step(ft_fault_peer *p) {
  ft_fault_step s = {FT_FAULT_OK, 0};
  pthread_mutex_lock(&p->plan_lock);
  if (p->plan_pos < p->plan_len)
    s = p->plan[p->plan_pos++];
  pthread_mutex_unlock(&p->plan_lock);
  return s;
}

/* Count the arrival and decide what to do with it. Returns -1 for a
 * message that is no query. */
static int read_request(ft_fault_peer *p, const unsigned char *q, size_t len,
                        int tcp, request *r) {
  const char *l1, *l2;
  size_t n1, n2, at = 1;
  unsigned limit = 0, arrivals;
  r->fault = FT_FAULT_OK;
  r->arg = 0;
  r->key = FT_PEER_KEYS;
  r->qend = question_end(q, len);
  if (r->qend == 0)
    return -1;
  atomic_fetch_add(&p->queries, 1u);
  l1 = (const char *)q + 13;
  n1 = q[12];
  if (n1 == 0)
    return 0;
  l2 = l1 + n1 + 1;
  n2 = (unsigned char)l1[n1];
  if (n2 > 1 && l2[0] == 'q') {
    unsigned key = read_number(l2, n2, &at);
    if (at == n2 && key < FT_PEER_KEYS)
      r->key = key;
  }
  if (r->key < FT_PEER_KEYS)
    atomic_fetch_add(tcp ? &p->tcp[r->key] : &p->udp[r->key], 1u);
  if (n1 == 4 && memcmp(l1, "plan", 4) == 0) {
    ft_fault_step s = next_step(p);
    r->fault = s.fault;
    r->arg = s.arg;
    return 0;
  }
  if (parse_fault(l1, n1, &r->fault, &r->arg, &limit) != 0) {
    r->fault = FT_FAULT_OK;
    return 0;
  }
  if (limit > 0 && r->key < FT_PEER_KEYS) {
    arrivals = atomic_load(&p->udp[r->key]) + atomic_load(&p->tcp[r->key]);
    if (arrivals > limit)
      r->fault = FT_FAULT_OK;
  }
  return 0;
}

/* ---- building replies ---------------------------------------------------- */

static const unsigned char a_record[] = {0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01,
                                         0x00, 0x00, 0x00, 0x3C, 0x00, 0x04,
                                         192,  0,    2,    1};

/* The answer (`records` A records, TC flag) into a new buffer with room
 * for a 2-byte TCP prefix before it: *out points at the prefix. */
static size_t build_answer(const unsigned char *q, const request *r,
                           unsigned records, int tc, unsigned char **out) {
  size_t len = r->qend + (size_t)records * sizeof a_record;
  unsigned char *b = malloc(2 + len), *m = b + 2;
  if (b == NULL)
    return 0;
  memcpy(m, q, r->qend);
  m[2] = (unsigned char)(0x80 | (q[2] & 0x78) | 0x04 | (tc ? 0x02 : 0) |
                         (q[2] & 0x01));
  m[3] = 0;
  m[4] = 0;
  m[5] = 1;
  m[6] = (unsigned char)(records >> 8);
  m[7] = (unsigned char)records;
  memset(m + 8, 0, 4);
  for (unsigned i = 0; i < records; i++)
    memcpy(m + r->qend + i * sizeof a_record, a_record, sizeof a_record);
  b[0] = (unsigned char)(len >> 8);
  b[1] = (unsigned char)len;
  *out = b;
  return len;
}

/* The reply a fault calls for (prefix room included, see build_answer).
 * Sets *valid when a client must accept it. 0: no reply. */
static size_t build_reply(const unsigned char *q, const request *r, int tcp,
                          unsigned char **out, int *valid) {
  size_t len;
  unsigned char *m;
  *valid = 0;
  switch (r->fault) {
  case FT_FAULT_DROP:
  case FT_FAULT_CLOSE:
  case FT_FAULT_RESET:
  case FT_FAULT_GARBAGE:
    return 0;
  case FT_FAULT_TC:
    *valid = tcp;
    return build_answer(q, r, tcp ? 1 : 0, !tcp, out);
  case FT_FAULT_NO_QUESTION:
    len = build_answer(q, r, 0, 0, out);
    if (len == 0)
      return 0;
    m = *out + 2;
    m[3] = (unsigned char)(r->arg & 0x0F);
    m[5] = 0;
    (*out)[0] = 0;
    (*out)[1] = 12;
    *valid = 1;
    return 12;
  case FT_FAULT_BIG:
  case FT_FAULT_BIG_RESET:
    *valid = 1;
    return build_answer(q, r, r->arg, 0, out);
  default:
    break;
  }
  len = build_answer(q, r, 1, 0, out);
  if (len == 0)
    return 0;
  m = *out + 2;
  *valid = 1;
  switch (r->fault) {
  case FT_FAULT_WRONG_ID:
    m[1] = (unsigned char)(m[1] + 1);
    if (m[1] == 0)
      m[0]++;
    *valid = 0;
    break;
  case FT_FAULT_WRONG_QUESTION:
    m[r->qend - 3]++; /* low byte of QTYPE */
    *valid = 0;
    break;
  case FT_FAULT_WRONG_NAME:
    m[13] = 'x'; /* first character of the first label */
    *valid = 0;
    break;
  case FT_FAULT_UPPER:
    for (size_t i = 12; i < r->qend - 4; i++)
      if (m[i] >= 'a' && m[i] <= 'z')
        m[i] = (unsigned char)(m[i] - 'a' + 'A');
    break;
  default:
    break;
  }
  return len;
}

/* ---- TCP connections ----------------------------------------------------- */

static void wait_sent(int fd);

static void conn_close(peer_conn *c, int reset, int wait);

/* Close or reset, but only once everything written has left: a client
 * must be able to read every answer counted as delivered. */
static void conn_drop(peer_conn *c, int reset) { conn_close(c, reset, 1); }

/* The client closed or reset the connection: what is still queued can
 * never be acknowledged, so waiting for it would only stall the peer. */
static void conn_gone(peer_conn *c) { conn_close(c, 0, 0); }

static void conn_close(peer_conn *c, int reset, int wait) {
  if (c->fd < 0)
    return;
  if (wait)
    wait_sent(c->fd);
  if (reset) {
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  close(c->fd);
  c->fd = -1;
  for (size_t i = 0; i < c->nheld; i++)
    free(c->held[i]);
  c->nheld = 0;
}

static int send_all(int fd, const unsigned char *b, size_t len) {
  while (len > 0) {
    ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    b += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Until everything written left the socket (acknowledged), so that a reset
 * right after cannot discard it. */
static void wait_sent(int fd) {
  for (int i = 0; i < 2000; i++) {
    int pending = 0;
    if (ioctl(fd, TIOCOUTQ, &pending) != 0 || pending == 0)
      return;
    sleep_ms(1);
  }
}

static void tcp_deliver(ft_fault_peer *p, peer_conn *c, unsigned char *frame,
                        size_t len, unsigned key, int valid) {
  if (c->fd >= 0 && send_all(c->fd, frame, len + 2) == 0 && valid &&
      key < FT_PEER_KEYS)
    atomic_fetch_add(&p->delivered[key], 1u);
  free(frame);
}

static void tcp_pieces(ft_fault_peer *p, peer_conn *c, unsigned char *frame,
                       size_t len, unsigned key, unsigned piece) {
  size_t off = 0, total = len + 2;
  if (piece == 0)
    piece = 1;
  while (off < total && c->fd >= 0) {
    size_t n = total - off < piece ? total - off : piece;
    if (send_all(c->fd, frame + off, n) != 0)
      break;
    off += n;
    if (off < total)
      sleep_ms(2);
  }
  if (off == total && key < FT_PEER_KEYS)
    atomic_fetch_add(&p->delivered[key], 1u);
  free(frame);
}

static void schedule(ft_fault_peer *p, const delayed *d) {
  if (p->nlater == p->later_cap) {
    size_t cap = p->later_cap ? p->later_cap * 2 : 64;
    delayed *l = realloc(p->later, cap * sizeof *l);
    if (l == NULL) {
      free(d->data);
      return;
    }
    p->later = l;
    p->later_cap = cap;
  }
  p->later[p->nlater++] = *d;
}

/* ---- zone mode ------------------------------------------------------------ */

/* What a zone reply asks of the connection once sent. Returns -1 once the
 * connection is gone. */
static int zone_after(peer_conn *c, ft_zone_conn after) {
  switch (after) {
  case FT_ZC_CLOSE:
  case FT_ZC_RESET:
    conn_drop(c, after == FT_ZC_RESET);
    return -1;
  case FT_ZC_STALL:
    c->stalled = 1;
    return 0;
  default:
    return c->fd >= 0 ? 0 : -1;
  }
}

/* Send a zone reply over TCP. Returns -1 once the connection is gone. */
static int zone_tcp_out(ft_fault_peer *p, peer_conn *c, ft_zone_out out) {
  if (out.before == FT_ZC_CLOSE || out.before == FT_ZC_RESET) {
    free(out.data);
    conn_drop(c, out.before == FT_ZC_RESET);
    return -1;
  }
  if (out.data == NULL)
    return zone_after(c, out.after);
  if (out.delay_ms > 0) {
    delayed d = {now_ms() + out.delay_ms, 1, c->gen, {0}, 0, FT_PEER_KEYS,
                 0, out.data, out.send_len, 1, out.after};
    schedule(p, &d);
    return 0;
  }
  if (send_all(c->fd, out.data, out.send_len) != 0) {
    free(out.data);
    conn_gone(c);
    return -1;
  }
  free(out.data);
  return zone_after(c, out.after);
}

static int zone_tcp(ft_fault_peer *p, peer_conn *c, const unsigned char *q,
                    size_t len) {
  ft_zone_out out;
  unsigned lag = atomic_load(&p->lag_ms);
  if (lag > 0) { /* a slow primary: later, in arrival order */
    unsigned char *copy = malloc(len);
    if (p->nlag == p->lag_cap) {
      size_t cap = p->lag_cap ? p->lag_cap * 2 : 16;
      struct lagged *l = realloc(p->lag, cap * sizeof *l);
      if (l != NULL) {
        p->lag = l;
        p->lag_cap = cap;
      }
    }
    if (copy != NULL && p->nlag < p->lag_cap) {
      memcpy(copy, q, len);
      p->lag[p->nlag].due = now_ms() + lag;
      p->lag[p->nlag].gen = c->gen;
      p->lag[p->nlag].q = copy;
      p->lag[p->nlag++].len = len;
      return 0;
    }
    free(copy);
  }
  ft_zone_handle(p->zone, q, len, 1, &out);
  return zone_tcp_out(p, c, out);
}

/* Lagged TCP requests now due: handled (applied) even when their
 * connection is gone, answered when it is not. */
static void run_lagged(ft_fault_peer *p) {
  uint64_t now = now_ms();
  while (p->nlag > 0 && p->lag[0].due <= now) {
    struct lagged l = p->lag[0];
    ft_zone_out out;
    peer_conn *c = NULL;
    memmove(p->lag, p->lag + 1, (p->nlag - 1) * sizeof *p->lag);
    p->nlag--;
    ft_zone_handle(p->zone, l.q, l.len, 1, &out);
    free(l.q);
    for (size_t k = 0; k < p->nconn; k++)
      if (p->conns[k].gen == l.gen && p->conns[k].fd >= 0)
        c = &p->conns[k];
    if (c != NULL)
      (void)zone_tcp_out(p, c, out);
    else
      free(out.data);
  }
}

static void zone_udp(ft_fault_peer *p, const unsigned char *q, size_t len,
                     const struct sockaddr_storage *from, socklen_t flen) {
  ft_zone_out out;
  ft_zone_handle(p->zone, q, len, 0, &out);
  if (out.data == NULL || out.before != FT_ZC_KEEP) {
    free(out.data);
    return;
  }
  if (out.delay_ms > 0) {
    delayed d = {now_ms() + out.delay_ms, 0, 0, *from, flen, FT_PEER_KEYS,
                 0, out.data, out.send_len, 1, FT_ZC_KEEP};
    schedule(p, &d);
    return;
  }
  (void)sendto(p->udp_fd, out.data, out.send_len, 0,
               (const struct sockaddr *)from, flen);
  free(out.data);
}

/* One query over TCP. Returns -1 once the connection is gone. */
static int tcp_query(ft_fault_peer *p, peer_conn *c, const unsigned char *q,
                     size_t len) {
  request r;
  unsigned char *frame = NULL;
  size_t rl;
  int valid;
  if (p->zone != NULL && ft_zone_wants(p->zone, q, len))
    return zone_tcp(p, c, q, len);
  if (read_request(p, q, len, 1, &r) != 0)
    return 0;
  switch (r.fault) {
  case FT_FAULT_CLOSE:
    conn_drop(c, 0);
    return -1;
  case FT_FAULT_RESET:
    conn_drop(c, 1);
    return -1;
  case FT_FAULT_GARBAGE:
    (void)send_all(c->fd, (const unsigned char *)"\x00\x05hello", 7);
    conn_drop(c, 0);
    return -1;
  default:
    break;
  }
  rl = build_reply(q, &r, 1, &frame, &valid);
  if (rl == 0)
    return 0;
  switch (r.fault) {
  case FT_FAULT_DELAY: {
    delayed d = {now_ms() + r.arg, 1, c->gen, {0}, 0, r.key, valid, frame, rl,
                 0, FT_ZC_KEEP};
    schedule(p, &d);
    return 0;
  }
  case FT_FAULT_PIECES:
    tcp_pieces(p, c, frame, rl, r.key, r.arg);
    return c->fd >= 0 ? 0 : -1;
  case FT_FAULT_HOLD:
    if (c->nheld < MAX_HELD) {
      c->held[c->nheld] = frame;
      c->held_len[c->nheld] = rl;
      c->held_key[c->nheld++] = r.key;
    } else {
      free(frame);
    }
    return 0;
  case FT_FAULT_RELEASE:
    tcp_deliver(p, c, frame, rl, r.key, valid);
    while (c->nheld > 0) {
      size_t i = --c->nheld;
      tcp_deliver(p, c, c->held[i], c->held_len[i], c->held_key[i], 1);
    }
    return 0;
  case FT_FAULT_ANSWER_CLOSE:
  case FT_FAULT_ANSWER_RESET:
  case FT_FAULT_BIG_RESET:
    tcp_deliver(p, c, frame, rl, r.key, valid);
    conn_drop(c, r.fault != FT_FAULT_ANSWER_CLOSE);
    return -1;
  default:
    tcp_deliver(p, c, frame, rl, r.key, valid);
    return c->fd >= 0 ? 0 : -1;
  }
}

/* Read what came and answer every complete frame. */
static void tcp_readable(ft_fault_peer *p, peer_conn *c) {
  size_t off = 0;
  ssize_t n;
  if (c->in_cap - c->in_len < 4096) {
    size_t cap = c->in_cap ? c->in_cap * 2 : 8192;
    unsigned char *in = realloc(c->in, cap);
    if (in == NULL) {
      conn_drop(c, 0);
      return;
    }
    c->in = in;
    c->in_cap = cap;
  }
  n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
  if (n <= 0) {
    if (n == 0 || (errno != EINTR && errno != EAGAIN))
      conn_gone(c);
    return;
  }
  c->in_len += (size_t)n;
  while (c->in_len - off >= 2 && !c->stalled) {
    size_t len = (size_t)c->in[off] << 8 | c->in[off + 1];
    if (c->in_len - off - 2 < len)
      break;
    if (tcp_query(p, c, c->in + off + 2, len) != 0)
      return;
    off += 2 + len;
  }
  if (c->stalled) /* zone mode: what comes from now on is never read */
    off = c->in_len;
  memmove(c->in, c->in + off, c->in_len - off);
  c->in_len -= off;
}

static void tcp_accept(ft_fault_peer *p) {
  int one = 1, fd = accept4(p->tcp_fd, NULL, NULL, SOCK_CLOEXEC);
  if (fd < 0)
    return;
  atomic_fetch_add(&p->connections, 1u);
  if (p->nconn == MAX_CONNS) {
    close(fd);
    return;
  }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  memset(&p->conns[p->nconn], 0, sizeof p->conns[0]);
  p->conns[p->nconn].fd = fd;
  p->conns[p->nconn].gen = ++p->next_gen;
  p->nconn++;
}

/* Forget connections that were dropped. */
static void tcp_sweep(ft_fault_peer *p) {
  size_t kept = 0;
  for (size_t i = 0; i < p->nconn; i++) {
    if (p->conns[i].fd < 0) {
      free(p->conns[i].in);
      continue;
    }
    p->conns[kept++] = p->conns[i];
  }
  p->nconn = kept;
}

/* ---- UDP ----------------------------------------------------------------- */

static void udp_readable(ft_fault_peer *p) {
  unsigned char q[65536], *reply = NULL;
  struct sockaddr_storage from;
  socklen_t flen = sizeof from;
  request r;
  int valid;
  size_t rl;
  ssize_t n = recvfrom(p->udp_fd, q, sizeof q, MSG_DONTWAIT,
                       (struct sockaddr *)&from, &flen);
  if (n > 0 && p->zone != NULL && ft_zone_wants(p->zone, q, (size_t)n)) {
    zone_udp(p, q, (size_t)n, &from, flen);
    return;
  }
  if (n <= 0 || read_request(p, q, (size_t)n, 0, &r) != 0)
    return;
  if (r.fault == FT_FAULT_GARBAGE) {
    (void)sendto(p->udp_fd, "garbage", 7, 0, (struct sockaddr *)&from, flen);
    return;
  }
  rl = build_reply(q, &r, 0, &reply, &valid);
  if (rl == 0)
    return;
  if (r.fault == FT_FAULT_DELAY) {
    delayed d = {now_ms() + r.arg, 0, 0, from, flen, r.key, valid, reply, rl,
                 0, FT_ZC_KEEP};
    schedule(p, &d);
    return;
  }
  if (sendto(p->udp_fd, reply + 2, rl, 0, (struct sockaddr *)&from, flen) ==
          (ssize_t)rl &&
      valid && r.key < FT_PEER_KEYS)
    atomic_fetch_add(&p->delivered[r.key], 1u);
  free(reply);
}

/* ---- the thread ---------------------------------------------------------- */

static void run_due(ft_fault_peer *p) {
  uint64_t now = now_ms();
  size_t i = 0;
  while (i < p->nlater) {
    delayed d = p->later[i];
    if (d.due > now) {
      i++;
      continue;
    }
    p->later[i] = p->later[--p->nlater];
    if (d.zone && !d.tcp) {
      (void)sendto(p->udp_fd, d.data, d.len, 0, (struct sockaddr *)&d.to,
                   d.to_len);
      free(d.data);
      continue;
    }
    if (!d.tcp) {
      if (sendto(p->udp_fd, d.data + 2, d.len, 0, (struct sockaddr *)&d.to,
                 d.to_len) == (ssize_t)d.len &&
          d.counts && d.key < FT_PEER_KEYS)
        atomic_fetch_add(&p->delivered[d.key], 1u);
      free(d.data);
      continue;
    }
    peer_conn *c = NULL;
    for (size_t k = 0; k < p->nconn; k++)
      if (p->conns[k].gen == d.gen && p->conns[k].fd >= 0)
        c = &p->conns[k];
    if (c != NULL && d.zone) {
      if (send_all(c->fd, d.data, d.len) != 0)
        conn_gone(c);
      else
        (void)zone_after(c, d.after);
      free(d.data);
    } else if (c != NULL) {
      tcp_deliver(p, c, d.data, d.len, d.key, d.counts);
    } else {
      free(d.data);
    }
  }
}

static int poll_timeout(const ft_fault_peer *p) {
  uint64_t now = now_ms(), first = UINT64_MAX;
  for (size_t i = 0; i < p->nlater; i++)
    if (p->later[i].due < first)
      first = p->later[i].due;
  if (p->nlag > 0 && p->lag[0].due < first)
    first = p->lag[0].due;
  if (first == UINT64_MAX)
    return -1;
  return first <= now ? 0 : (int)(first - now);
}

static void *peer_main(void *arg) {
  ft_fault_peer *p = arg;
  struct pollfd pfd[3 + MAX_CONNS];
  for (;;) {
    size_t polled = p->nconn;
    pfd[0] = (struct pollfd){p->stop_pipe[0], POLLIN, 0};
    pfd[1] = (struct pollfd){p->udp_fd, POLLIN, 0};
    pfd[2] = (struct pollfd){p->tcp_fd, POLLIN, 0};
    for (size_t i = 0; i < polled; i++)
      pfd[3 + i] = (struct pollfd){p->conns[i].fd, POLLIN, 0};
    int n = poll(pfd, (nfds_t)(3 + polled), poll_timeout(p));
    if (n < 0 && errno != EINTR)
      break;
    if (n > 0 && pfd[0].revents)
      break;
    run_due(p);
    run_lagged(p);
    if (n <= 0)
      continue;
    if (pfd[1].revents & POLLIN)
      for (int k = 0; k < 64; k++)
        udp_readable(p);
    for (size_t i = 0; i < polled; i++)
      if (pfd[3 + i].revents && p->conns[i].fd >= 0)
        tcp_readable(p, &p->conns[i]);
    tcp_sweep(p);
    if (pfd[2].revents & POLLIN)
      tcp_accept(p);
  }
  for (size_t i = 0; i < p->nconn; i++)
    conn_drop(&p->conns[i], 0);
  tcp_sweep(p);
  for (size_t i = 0; i < p->nlater; i++)
    free(p->later[i].data);
  free(p->later);
  for (size_t i = 0; i < p->nlag; i++)
    free(p->lag[i].q);
  free(p->lag);
  return NULL;
}

static int bind_pair(ft_fault_peer *p) {
  for (int attempt = 0; attempt < 50; attempt++) {
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int one = 1, big = 4 << 20;
    if (u < 0 || t < 0) {
      if (u >= 0)
        close(u);
      if (t >= 0)
        close(t);
      return -1;
    }
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(u, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    if (bind(u, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(u, (struct sockaddr *)&a, &alen) == 0 &&
        bind(t, (struct sockaddr *)&a, sizeof a) == 0 && listen(t, 64) == 0) {
      p->udp_fd = u;
      p->tcp_fd = t;
      p->port = ntohs(a.sin_port);
      return 0;
    }
    close(u);
    close(t);
  }
  errno = EADDRINUSE;
  return -1;
}

static ft_fault_peer *start_peer(ft_zone *zone) {
  ft_fault_peer *p = calloc(1, sizeof *p);
  if (p == NULL) {
    ft_zone_free(zone);
    return NULL;
  }
  p->zone = zone;
  for (size_t i = 0; i < FT_PEER_KEYS; i++) {
    atomic_init(&p->udp[i], 0u);
    atomic_init(&p->tcp[i], 0u);
    atomic_init(&p->delivered[i], 0u);
  }
  atomic_init(&p->connections, 0u);
  atomic_init(&p->lag_ms, 0u);
  atomic_init(&p->queries, 0u);
  pthread_mutex_init(&p->plan_lock, NULL);
  if (pipe2(p->stop_pipe, O_CLOEXEC) != 0)
    goto fail_pipe;
  if (bind_pair(p) != 0)
    goto fail;
  if (pthread_create(&p->thread, NULL, peer_main, p) != 0) {
    close(p->udp_fd);
    close(p->tcp_fd);
    goto fail;
  }
  return p;
fail:
  close(p->stop_pipe[0]);
  close(p->stop_pipe[1]);
fail_pipe:
  pthread_mutex_destroy(&p->plan_lock);
  ft_zone_free(p->zone);
  free(p);
  return NULL;
}

ft_fault_peer *ft_fault_peer_start(void) { return start_peer(NULL); }

ft_fault_peer *ft_fault_peer_start_zone(const ft_zone_config *cfg) {
  ft_zone *z = ft_zone_new(cfg);
  return z != NULL ? start_peer(z) : NULL;
}

void ft_fault_peer_stop(ft_fault_peer *p) {
  if (p == NULL)
    return;
  (void)!write(p->stop_pipe[1], "x", 1);
  pthread_join(p->thread, NULL);
  close(p->stop_pipe[0]);
  close(p->stop_pipe[1]);
  close(p->udp_fd);
  close(p->tcp_fd);
  pthread_mutex_destroy(&p->plan_lock);
  free(p->plan);
  ft_zone_free(p->zone);
  free(p);
}

int ft_fault_peer_port(const ft_fault_peer *p) { return p->port; }

void ft_fault_peer_plan(ft_fault_peer *p, const ft_fault_step *steps,
                        size_t n) {
  ft_fault_step *copy = n ? malloc(n * sizeof *copy) : NULL;
  if (copy != NULL)
    memcpy(copy, steps, n * sizeof *copy);
  pthread_mutex_lock(&p->plan_lock);
  free(p->plan);
  p->plan = copy;
  p->plan_len = copy != NULL ? n : 0;
  p->plan_pos = 0;
  pthread_mutex_unlock(&p->plan_lock);
}

static unsigned counter(const atomic_uint *a, unsigned key) {
  return key < FT_PEER_KEYS ? atomic_load(&a[key]) : 0;
}

unsigned ft_fault_peer_udp(const ft_fault_peer *p, unsigned key) {
  return counter(p->udp, key);
}

unsigned ft_fault_peer_tcp(const ft_fault_peer *p, unsigned key) {
  return counter(p->tcp, key);
}

unsigned ft_fault_peer_delivered(const ft_fault_peer *p, unsigned key) {
  return counter(p->delivered, key);
}

unsigned ft_fault_peer_connections(const ft_fault_peer *p) {
  return atomic_load(&p->connections);
}

unsigned ft_fault_peer_queries(const ft_fault_peer *p) {
  return atomic_load(&p->queries);
}

int ft_closed_port(void) {
  for (int attempt = 0; attempt < 50; attempt++) {
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int port = -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Both protocols free on the same port, then both released. */
    if (u >= 0 && t >= 0 && bind(u, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(u, (struct sockaddr *)&a, &alen) == 0 &&
        bind(t, (struct sockaddr *)&a, sizeof a) == 0)
      port = ntohs(a.sin_port);
    if (u >= 0)
      close(u);
    if (t >= 0)
      close(t);
    if (port > 0)
      return port;
  }
  return -1;
}

/* ---- zone mode: the test's side ------------------------------------------- */

int ft_fault_peer_zone_add(ft_fault_peer *p, const char *name,
                           const char *type, uint32_t ttl, const char *data) {
  return p->zone != NULL ? ft_zone_add_rr(p->zone, name, type, ttl, data) : -1;
}

void ft_fault_peer_zone_plan(ft_fault_peer *p, ft_zone_kind kind,
                             const ft_fault_step *steps, size_t n,
                             ft_fault_step otherwise) {
  if (p->zone != NULL)
    ft_zone_set_plan(p->zone, kind, steps, n, otherwise);
}

int ft_fault_peer_zone_lookup(ft_fault_peer *p, const char *name, char *buf,
                              size_t size, ft_zone_name_counts *counts) {
  return p->zone != NULL ? ft_zone_get_name(p->zone, name, buf, size, counts)
                         : -1;
}

void ft_fault_peer_zone_stats(ft_fault_peer *p, ft_zone_stats *out) {
  memset(out, 0, sizeof *out);
  if (p->zone != NULL)
    ft_zone_get_stats(p->zone, out);
}

void ft_fault_peer_zone_tcp_lag(ft_fault_peer *p, unsigned ms) {
  atomic_store(&p->lag_ms, ms);
}
