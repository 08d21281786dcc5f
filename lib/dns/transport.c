/*
 * transport.c - DNS exchanges with one server over UDP and TCP on a libuv
 * loop (see transport.h for the rules).
 *
 * Both sockets are plain non-blocking sockets watched with uv_poll_t (as
 * c-ares did), not uv_udp_t/uv_tcp_t: libuv writes to TCP streams with
 * writev(), which raises SIGPIPE once the server has reset the connection,
 * and signal dispositions belong to the application. Here every send uses
 * MSG_NOSIGNAL. Reading ourselves also lets one readiness callback drain a
 * socket to EAGAIN, so that an answer which arrived just before a reset is
 * read before the error is.
 *
 * fo__dnsx_send() does no I/O: it queues the query and starts an idle
 * handle whose callback sends. So no callback ever runs inside
 * fo__dnsx_send(), and a callback (which may send) only ever appends to
 * the queues: it never touches a socket or removes another query, which is
 * why every loop below that runs callbacks may keep its place in a list.
 *
 * Every query in flight is in the ID table and in the deadline list, kept
 * in deadline order (searched from the tail: with one timeout for all, a
 * new deadline is the latest), so one timer on its head is enough. That timer (active while queries
 * are in flight) and the idle handle keep the loop alive; the poll handles
 * are unreferenced, so an idle transport never holds uv_run() up.
 */
#include "transport.h"

#include "alloc.h"
#include "random.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ID_SPACE 65536u
#define MSG_MAX 65535u
/* UDP datagrams sent per loop iteration: replies are read between two
 * batches, so a burst of thousands of queries does not overflow our own
 * receive buffer with replies nobody reads yet. */
#define UDP_BATCH 64
/* Datagrams read per readiness callback (the poll is level-triggered, so
 * the rest comes at the next iteration). */
#define UDP_DRAIN 256
/* TCP reads per readiness callback, unless draining a dead socket. */
#define TCP_READS 64
#define TCP_READ_ROOM 4096

/* Where a query waits besides the ID table and the deadline list. */
enum { Q_NONE, Q_PENDING, Q_CONN };
enum { C_CONNECTING, C_OPEN, C_DEAD };

typedef struct dnsx_conn dnsx_conn;

typedef struct qlist {
  fo__dnsx_query *head, *tail;
} qlist;

struct fo__dnsx_query {
  fo__dnsx_query *dprev, *dnext; /* the deadline list */
  fo__dnsx_query *prev, *next;   /* a pending list or a connection's */
  dnsx_conn *conn;               /* with Q_CONN */
  uint64_t deadline;
  fo__dnsx_cb cb;
  void *arg;
  uint32_t tries_used; /* try periods begun */
  uint32_t timeout_ms; /* per try: the transport's, or the sender's own */
  unsigned sent;       /* UDP sends + TCP connections: the `tries` reported */
  uint16_t id;
  unsigned char where;
  unsigned char tcp;
  unsigned char written; /* copied into its connection's output */
  size_t len;
  unsigned char frame[]; /* the 2-byte TCP length, then the message */
};

struct dnsx_conn {
  uv_poll_t poll;
  fo__dnsx *x;
  int fd;
  int state;
  int events; /* what the poll handle watches now */
  qlist waiting;
  unsigned char *out;
  size_t out_off, out_len, out_cap;
  unsigned char *in;
  size_t in_len, in_cap;
};

struct fo__dnsx {
  uv_loop_t *loop;
  fo_allocator alloc;
  struct sockaddr_storage addr;
  socklen_t addr_len;
  uint32_t timeout_ms;
  uint32_t tries;
  int use_tcp;
  uv_timer_t timer;
  uv_idle_t idle;
  uv_poll_t udp_poll;
  int udp_fd; /* -1 with use_tcp */
  int udp_events;
  int udp_blocked; /* send() said EAGAIN: wait until writable */
  unsigned char *udp_buf;
  int rcvbuf; /* for the UDP socket, opened at the first datagram */
  dnsx_conn *conn; /* the open or opening connection */
  fo__dnsx_query *dhead, *dtail;
  qlist udp_pending;      /* to be sent (again) */
  qlist tcp_pending;      /* to be put on a connection */
  fo__dnsx_query **slots; /* ID table: open addressing by ID */
  size_t slot_cap;
  size_t count;
  fo__random_pool pool;
  uint16_t last_id;
  unsigned handles; /* handles whose close callback has not run */
  int closing;
  void (*closed)(void *userdata);
  void *closed_userdata;
};

static uint16_t get16(const unsigned char *p) {
  return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put16(unsigned char *p, size_t v) {
  p[0] = (unsigned char)(v >> 8);
  p[1] = (unsigned char)v;
}

static const unsigned char *query_msg(const fo__dnsx_query *q) {
  return q->frame + 2;
}

/* ---- lists --------------------------------------------------------------- */

static void qlist_append(qlist *l, fo__dnsx_query *q) {
  q->next = NULL;
  q->prev = l->tail;
  if (l->tail != NULL)
    l->tail->next = q;
  else
    l->head = q;
  l->tail = q;
}

static void qlist_remove(qlist *l, fo__dnsx_query *q) {
  if (q->prev != NULL)
    q->prev->next = q->next;
  else
    l->head = q->next;
  if (q->next != NULL)
    q->next->prev = q->prev;
  else
    l->tail = q->prev;
  q->prev = q->next = NULL;
}

/* Into the deadline list, in order. Searched from the tail: with one
 * timeout for every query (the verifier) a new deadline is the latest and
 * this is O(1); only a sender's longer or shorter timeouts walk. */
static void deadline_insert(fo__dnsx *x, fo__dnsx_query *q) {
  fo__dnsx_query *after = x->dtail;
  while (after != NULL && after->deadline > q->deadline)
    after = after->dprev;
  q->dprev = after;
  q->dnext = after != NULL ? after->dnext : x->dhead;
  if (q->dnext != NULL)
    q->dnext->dprev = q;
  else
    x->dtail = q;
  if (after != NULL)
    after->dnext = q;
  else
    x->dhead = q;
}

static void deadline_remove(fo__dnsx *x, fo__dnsx_query *q) {
  if (q->dprev != NULL)
    q->dprev->dnext = q->dnext;
  else
    x->dhead = q->dnext;
  if (q->dnext != NULL)
    q->dnext->dprev = q->dprev;
  else
    x->dtail = q->dprev;
  q->dprev = q->dnext = NULL;
}

/* A new try period: now + the query's timeout. */
static void begin_try(fo__dnsx *x, fo__dnsx_query *q) {
  q->tries_used++;
  q->deadline = uv_now(x->loop) + q->timeout_ms;
  deadline_remove(x, q);
  deadline_insert(x, q);
}

static qlist *pending_list(fo__dnsx *x, const fo__dnsx_query *q) {
  return q->tcp ? &x->tcp_pending : &x->udp_pending;
}

static void make_pending(fo__dnsx *x, fo__dnsx_query *q) {
  q->where = Q_PENDING;
  qlist_append(pending_list(x, q), q);
}

/* ---- the ID table -------------------------------------------------------- */

static fo__dnsx_query *ids_find(const fo__dnsx *x, uint16_t id) {
  size_t mask = x->slot_cap - 1, i = id & mask;
  while (x->slots[i] != NULL) {
    if (x->slots[i]->id == id)
      return x->slots[i];
    i = (i + 1) & mask;
  }
  return NULL;
}

static void ids_put(fo__dnsx_query **slots, size_t cap, fo__dnsx_query *q) {
  size_t i = q->id & (cap - 1);
  while (slots[i] != NULL)
    i = (i + 1) & (cap - 1);
  slots[i] = q;
}

/* Room for one more entry at a load of at most 1/2. */
static int ids_reserve(fo__dnsx *x) {
  fo__dnsx_query **slots;
  size_t cap = x->slot_cap * 2, i;
  if ((x->count + 1) * 2 <= x->slot_cap)
    return 0;
  slots = fo__calloc(&x->alloc, cap, sizeof(*slots));
  if (slots == NULL)
    return FO_ENOMEM;
  for (i = 0; i < x->slot_cap; i++)
    if (x->slots[i] != NULL)
      ids_put(slots, cap, x->slots[i]);
  fo__free(&x->alloc, x->slots);
  x->slots = slots;
  x->slot_cap = cap;
  return 0;
}

/* Linear probing with backward-shift deletion: no tombstones, so lookups
 * never slow down after many queries came and went. */
static void ids_remove(fo__dnsx *x, const fo__dnsx_query *q) {
  size_t mask = x->slot_cap - 1, i = q->id & mask, j;
  while (x->slots[i] != q)
    i = (i + 1) & mask;
  x->slots[i] = NULL;
  for (j = (i + 1) & mask; x->slots[j] != NULL; j = (j + 1) & mask) {
    size_t home = x->slots[j]->id & mask;
    /* Entry j may move to the hole at i unless its home lies in (i, j]. */
    int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
    if (!stays) {
      x->slots[i] = x->slots[j];
      x->slots[j] = NULL;
      i = j;
    }
  }
  x->count--;
}

/* A random ID (replies are harder to spoof) not in flight; after a few
 * draws that hit busy IDs, the next free one (the table is not full). */
static uint16_t draw_id(fo__dnsx *x) {
  uint16_t id = (uint16_t)(x->last_id + 1);
  int i;
  for (i = 0; i < 8; i++) {
    if (fo__random_read(&x->pool, &id, sizeof(id)) != 0)
      id = (uint16_t)(x->last_id + 1 + (unsigned)i);
    if (ids_find(x, id) == NULL)
      return x->last_id = id;
  }
  while (ids_find(x, id) != NULL)
    id++;
  return x->last_id = id;
}

/* ---- questions ----------------------------------------------------------- */

/* The first question's name (lowercase) and where it ends; its type and
 * class must follow. */
static int read_question(const unsigned char *m, size_t len,
                         char name[FO_NAME_BUFSIZE], size_t *end) {
  size_t off = FO__DNS_HEADER_LEN;
  if (len < FO__DNS_HEADER_LEN || get16(m + 4) == 0 ||
      fo__dns_read_name(m, len, &off, name) != 0 || len - off < 4)
    return -1;
  *end = off;
  return 0;
}

/* A reply without a question is accepted (NOTIMP, FORMERR and REFUSED
 * often have none); one with a question must echo ours. */
static int question_matches(const fo__dnsx_query *q, const unsigned char *r,
                            size_t len) {
  char want[FO_NAME_BUFSIZE], got[FO_NAME_BUFSIZE];
  size_t want_end, got_end;
  if (get16(r + 4) == 0)
    return 1;
  if (read_question(r, len, got, &got_end) != 0 ||
      read_question(query_msg(q), q->len, want, &want_end) != 0)
    return 0;
  return strcmp(want, got) == 0 &&
         memcmp(query_msg(q) + want_end, r + got_end, 4) == 0;
}

/* ---- completion ---------------------------------------------------------- */

static void unlink_query(fo__dnsx *x, fo__dnsx_query *q) {
  ids_remove(x, q);
  deadline_remove(x, q);
  if (q->where == Q_PENDING)
    qlist_remove(pending_list(x, q), q);
  else if (q->where == Q_CONN)
    qlist_remove(&q->conn->waiting, q);
  q->where = Q_NONE;
  q->conn = NULL;
  if (x->dhead == NULL)
    uv_timer_stop(&x->timer); /* nothing in flight: let uv_run() return */
}

/* The one way a query ends: unlinked first, so the callback sees a
 * consistent transport and may send. */
static void finish(fo__dnsx *x, fo__dnsx_query *q, int status, int detail,
                   const unsigned char *reply, size_t len) {
  unlink_query(x, q);
  q->cb(status, detail, reply, len, q->sent, q->arg);
  fo__free(&x->alloc, q);
}

static int unreachable_errno(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH ||
         err == ETIMEDOUT;
}

/* ---- timer and idle handles ---------------------------------------------- */

static void timer_cb(uv_timer_t *t);

static void arm_timer(fo__dnsx *x) {
  uint64_t now = uv_now(x->loop);
  if (x->closing)
    return;
  if (x->dhead == NULL) {
    uv_timer_stop(&x->timer);
    return;
  }
  (void)uv_timer_start(&x->timer, timer_cb,
                       x->dhead->deadline > now ? x->dhead->deadline - now : 0,
                       0);
}

static void idle_cb(uv_idle_t *h);

static void update_idle(fo__dnsx *x) {
  int work = x->tcp_pending.head != NULL ||
             (x->udp_pending.head != NULL && !x->udp_blocked);
  if (x->closing)
    return;
  if (work)
    (void)uv_idle_start(&x->idle, idle_cb);
  else
    uv_idle_stop(&x->idle);
}

/* A try ran out. UDP queries are sent again; a TCP query is never re-sent
 * on its open connection (the server may still be applying it), it just
 * waits one more period. */
static void expire(fo__dnsx *x, fo__dnsx_query *q) {
  if (q->tries_used >= x->tries) {
    finish(x, q, FO_ETIMEDOUT, FO__DNSX_OK, NULL, 0);
    return;
  }
  begin_try(x, q);
  if (!q->tcp && q->where == Q_NONE)
    make_pending(x, q);
}

static void timer_cb(uv_timer_t *t) {
  fo__dnsx *x = t->data;
  uint64_t now = uv_now(x->loop);
  /* A new try's deadline is later than `now`, as is that of any query a
   * callback sends, so this ends. */
  while (x->dhead != NULL && x->dhead->deadline <= now)
    expire(x, x->dhead);
  arm_timer(x);
  update_idle(x);
}

/* ---- sockets ------------------------------------------------------------- */

/* Non-blocking and close-on-exec (as c-ares opened its own), connected to the
 * server. Returns the descriptor, or -1 with errno set. */
static int open_socket(const fo__dnsx *x, int type, int rcvbuf) {
  int fd, one = 1, err, stream = type == SOCK_STREAM;
#ifdef SOCK_CLOEXEC
  type |= SOCK_CLOEXEC; /* no window for a fork() in another thread */
#endif
  fd = socket(x->addr.ss_family, type, 0);
  if (fd < 0)
    return -1;
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
      (stream &&
       setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) ||
      (rcvbuf > 0 &&
       setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) != 0) ||
      (connect(fd, (const struct sockaddr *)&x->addr, x->addr_len) != 0 &&
       errno != EINPROGRESS)) {
    err = errno;
    close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

static void set_events(uv_poll_t *p, int *now, int want, uv_poll_cb cb) {
  if (*now == want)
    return;
  /* Starting again re-registers the descriptor: only on a change. */
  if (want == 0)
    uv_poll_stop(p);
  else
    (void)uv_poll_start(p, want, cb);
  *now = want;
}

static void handle_closed(fo__dnsx *x) {
  fo_allocator alloc;
  void (*closed)(void *);
  void *userdata;
  if (--x->handles > 0)
    return;
  alloc = x->alloc;
  closed = x->closed;
  userdata = x->closed_userdata;
  fo__free(&alloc, x->udp_buf);
  fo__free(&alloc, x->slots);
  fo__free(&alloc, x);
  if (closed != NULL)
    closed(userdata);
}

static void handle_closed_cb(uv_handle_t *h) { handle_closed(h->data); }

/* ---- UDP ----------------------------------------------------------------- */

static void udp_poll_cb(uv_poll_t *p, int status, int events);

static void udp_update_events(fo__dnsx *x) {
  set_events(&x->udp_poll, &x->udp_events,
             UV_READABLE | (x->udp_blocked ? UV_WRITABLE : 0), udp_poll_cb);
}

/* The server's port is closed (ICMP): every UDP query sent there fails.
 * The kernel does not say which datagram the ICMP answered, and the
 * replies to the others will not come either. Queries sent by callbacks
 * here have not been sent yet and are kept. */
static void udp_unreachable(fo__dnsx *x) {
  fo__dnsx_query *q = x->dhead, *next;
  for (; q != NULL; q = next) {
    next = q->dnext;
    if (!q->tcp && q->sent > 0)
      finish(x, q, FO_EIO, FO__DNSX_UNREACHABLE, NULL, 0);
  }
}

static void flush_udp(fo__dnsx *x) {
  fo__dnsx_query *q;
  int n = 0;
  while (n < UDP_BATCH && !x->udp_blocked &&
         (q = x->udp_pending.head) != NULL) {
    ssize_t rc = send(x->udp_fd, query_msg(q), q->len, MSG_NOSIGNAL);
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      x->udp_blocked = 1;
      udp_update_events(x);
      break;
    }
    n++;
    qlist_remove(&x->udp_pending, q);
    q->where = Q_NONE;
    q->sent++;
    /* ENOBUFS: the datagram is lost; the try times out and sends again. */
    if (rc >= 0 || errno == ENOBUFS)
      continue;
    if (unreachable_errno(errno))
      udp_unreachable(x); /* an ICMP error that a send picked up */
    else
      finish(x, q, FO_EIO, FO__DNSX_LOCAL, NULL, 0);
  }
}

static void fallback_to_tcp(fo__dnsx *x, fo__dnsx_query *q) {
  if (q->where == Q_PENDING)
    qlist_remove(&x->udp_pending, q);
  q->tcp = 1;
  /* TCP is a new try; in the last one it gets what is left of it, so the
   * query still ends within timeout_ms x tries. */
  if (q->tries_used < x->tries)
    begin_try(x, q);
  make_pending(x, q);
}

static void udp_reply(fo__dnsx *x, const unsigned char *r, size_t len) {
  fo__dnsx_query *q;
  if (len < FO__DNS_HEADER_LEN || !(r[2] & 0x80))
    return; /* not a reply */
  q = ids_find(x, get16(r));
  /* A late UDP reply to a query that went on over TCP is stale. */
  if (q == NULL || q->tcp || q->sent == 0 || !question_matches(q, r, len))
    return;
  if (r[2] & 0x02)
    fallback_to_tcp(x, q);
  else
    finish(x, q, 0, FO__DNSX_OK, r, len);
}

static void udp_read(fo__dnsx *x) {
  int i;
  for (i = 0; i < UDP_DRAIN; i++) {
    ssize_t n = recv(x->udp_fd, x->udp_buf, MSG_MAX + 1, 0);
    if (n >= 0) {
      udp_reply(x, x->udp_buf, (size_t)n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else if (unreachable_errno(errno)) {
      udp_unreachable(x);
    } else if (errno != EINTR) {
      return;
    }
  }
}

static void udp_poll_cb(uv_poll_t *p, int status, int events) {
  fo__dnsx *x = p->data;
  /* On POLLERR (an ICMP error) libuv stops the handle and says UV_EBADF;
   * recv() then reports the error itself. */
  if (status < 0)
    x->udp_events = 0;
  if (status < 0 || (events & UV_READABLE))
    udp_read(x);
  if (events & UV_WRITABLE)
    x->udp_blocked = 0;
  udp_update_events(x);
  update_idle(x);
}

static int udp_open(fo__dnsx *x, int rcvbuf) {
  if (x->udp_buf == NULL &&
      (x->udp_buf = fo__malloc(&x->alloc, MSG_MAX + 1)) == NULL)
    return FO_ENOMEM;
  x->udp_fd = open_socket(x, SOCK_DGRAM, rcvbuf);
  if (x->udp_fd < 0)
    return unreachable_errno(errno) ? FO__DNSX_UNREACHABLE : FO__DNSX_LOCAL;
  if (uv_poll_init_socket(x->loop, &x->udp_poll, x->udp_fd) != 0) {
    close(x->udp_fd);
    x->udp_fd = -1;
    return FO_EIO;
  }
  x->udp_poll.data = x;
  uv_unref((uv_handle_t *)&x->udp_poll);
  x->handles++;
  return 0;
}

/* ---- TCP ----------------------------------------------------------------- */

static void conn_poll_cb(uv_poll_t *p, int status, int events);
static int conn_read(dnsx_conn *c, size_t max_reads);

static void conn_update_events(dnsx_conn *c) {
  int want = c->state == C_CONNECTING
                 ? UV_WRITABLE
                 : UV_READABLE | (c->out_len > c->out_off ? UV_WRITABLE : 0);
  set_events(&c->poll, &c->events, want, conn_poll_cb);
}

static void conn_closed_cb(uv_handle_t *h) {
  dnsx_conn *c = h->data;
  fo__dnsx *x = c->x;
  close(c->fd);
  fo__free(&x->alloc, c->in);
  fo__free(&x->alloc, c->out);
  fo__free(&x->alloc, c);
  handle_closed(x);
}

/* Stop using `c`; its memory lives until the close callback. */
static void conn_close(dnsx_conn *c) {
  if (c->state == C_DEAD)
    return;
  c->state = C_DEAD;
  if (c->x->conn == c)
    c->x->conn = NULL;
  uv_close((uv_handle_t *)&c->poll, conn_closed_cb);
}

/* The connection failed: only the queries still waiting on it are
 * affected. Each goes to a new connection as its next try when it has one
 * left, except after a refused connect (the server is not there). */
static void conn_fail(dnsx_conn *c, int detail) {
  fo__dnsx *x = c->x;
  qlist gone = c->waiting;
  fo__dnsx_query *q;
  if (c->state == C_DEAD)
    return;
  conn_close(c);
  c->waiting.head = c->waiting.tail = NULL;
  while ((q = gone.head) != NULL) {
    qlist_remove(&gone, q);
    q->where = Q_NONE;
    q->conn = NULL;
    q->written = 0;
    if (detail != FO__DNSX_UNREACHABLE && q->tries_used < x->tries) {
      begin_try(x, q);
      make_pending(x, q);
    } else {
      finish(x, q, FO_EIO, detail, NULL, 0);
    }
  }
  update_idle(x);
}

static int send_failure(int err) {
  return err == EPIPE || err == ECONNRESET || err == ENOTCONN ||
                 err == ETIMEDOUT
             ? FO__DNSX_CLOSED
             : FO__DNSX_LOCAL;
}

static void conn_write(dnsx_conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n =
        send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n >= 0) {
      c->out_off += (size_t)n;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else if (errno != EINTR) {
      int detail = send_failure(errno);
      /* Answers the server sent before it went away are read first. */
      if (conn_read(c, SIZE_MAX) == 0)
        conn_fail(c, detail);
      return;
    }
  }
  if (c->out_off == c->out_len)
    c->out_off = c->out_len = 0;
  conn_update_events(c);
}

/* Append q's frame to the output. Returns 0 or FO_ENOMEM. */
static int conn_frame(dnsx_conn *c, fo__dnsx_query *q) {
  size_t need = q->len + 2;
  if (c->out_off > 0 && c->out_cap - c->out_len < need) {
    memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
    c->out_len -= c->out_off;
    c->out_off = 0;
  }
  if (c->out_cap - c->out_len < need) {
    size_t cap = c->out_cap ? c->out_cap * 2 : 4096;
    unsigned char *out;
    while (cap - c->out_len < need)
      cap *= 2;
    out = fo__realloc_array(&c->x->alloc, c->out, cap, 1);
    if (out == NULL)
      return FO_ENOMEM;
    c->out = out;
    c->out_cap = cap;
  }
  memcpy(c->out + c->out_len, q->frame, need);
  c->out_len += need;
  q->written = 1;
  return 0;
}

/* Frame every query not written yet (all of them once connected). */
static void conn_frame_all(dnsx_conn *c) {
  fo__dnsx_query *q = c->waiting.head, *next;
  for (; q != NULL; q = next) {
    next = q->next;
    if (!q->written && conn_frame(c, q) != 0)
      finish(c->x, q, FO_EIO, FO__DNSX_LOCAL, NULL, 0);
  }
}

static int conn_open(fo__dnsx *x, int *detail) {
  dnsx_conn *c = fo__calloc(&x->alloc, 1, sizeof(*c));
  int fd;
  *detail = FO__DNSX_LOCAL;
  if (c == NULL)
    return -1;
  fd = open_socket(x, SOCK_STREAM, 0);
  if (fd < 0) {
    if (unreachable_errno(errno))
      *detail = FO__DNSX_UNREACHABLE;
    fo__free(&x->alloc, c);
    return -1;
  }
  if (uv_poll_init_socket(x->loop, &c->poll, fd) != 0) {
    close(fd);
    fo__free(&x->alloc, c);
    return -1;
  }
  c->poll.data = c;
  uv_unref((uv_handle_t *)&c->poll);
  x->handles++;
  c->x = x;
  c->fd = fd;
  c->state = C_CONNECTING; /* even if connect() finished: poll tells */
  conn_update_events(c);
  x->conn = c;
  return 0;
}

/* Put every pending TCP query on the connection (opened if need be). */
static void flush_tcp(fo__dnsx *x) {
  qlist batch = x->tcp_pending;
  fo__dnsx_query *q;
  int detail;
  if (batch.head == NULL)
    return;
  x->tcp_pending.head = x->tcp_pending.tail = NULL;
  /* An idle connection may have been closed by the server (idle timeout)
   * with the loop not having looked since: find out before writing on it,
   * or the queries would fail on a connection that was already gone. */
  if (x->conn != NULL && x->conn->state == C_OPEN &&
      x->conn->waiting.head == NULL)
    (void)conn_read(x->conn, TCP_READS);
  if (x->conn == NULL && conn_open(x, &detail) != 0) {
    while ((q = batch.head) != NULL) {
      qlist_remove(&batch, q);
      q->where = Q_NONE;
      finish(x, q, FO_EIO, detail, NULL, 0);
    }
    return;
  }
  while ((q = batch.head) != NULL) {
    qlist_remove(&batch, q);
    q->where = Q_CONN;
    q->conn = x->conn;
    q->sent++; /* one more connection used */
    qlist_append(&x->conn->waiting, q);
  }
  if (x->conn->state == C_OPEN) {
    conn_frame_all(x->conn);
    conn_write(x->conn);
  }
}

static void conn_connected(dnsx_conn *c, int status) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
    err = errno;
  if (err == 0 && status < 0)
    err = ECONNREFUSED; /* an error libuv saw but the socket no longer has */
  if (err != 0) {
    conn_fail(c,
              unreachable_errno(err) ? FO__DNSX_UNREACHABLE : FO__DNSX_LOCAL);
    return;
  }
  c->state = C_OPEN;
#ifdef TCP_QUICKACK /* Linux: ACK each reply at once (knotd writes replies one by one without TCP_NODELAY: each would wait ~40 ms for our delayed ACK) */
  (void)setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
#endif
  conn_frame_all(c);
  conn_write(c);
}

/* One TCP message. Returns 0, or -1 when it cannot come from a DNS server
 * (not a reply), after which the stream cannot be trusted. */
static int conn_message(dnsx_conn *c, const unsigned char *r, size_t len) {
  fo__dnsx_query *q;
  if (!(r[2] & 0x80))
    return -1;
  q = ids_find(c->x, get16(r));
  /* Unknown IDs are answers to queries that timed out: skipped. */
  if (q != NULL && q->where == Q_CONN && q->conn == c &&
      question_matches(q, r, len))
    finish(c->x, q, 0, FO__DNSX_OK, r, len);
  return 0;
}

/* Deliver the complete frames of the input. Returns 0, or -1 after failing
 * the connection (garbage). */
static int conn_frames(dnsx_conn *c) {
  size_t off = 0;
  while (c->in_len - off >= 2) {
    size_t len = get16(c->in + off);
    if (len < FO__DNS_HEADER_LEN) {
      conn_fail(c, FO__DNSX_GARBAGE);
      return -1;
    }
    if (c->in_len - off - 2 < len)
      break;
    if (conn_message(c, c->in + off + 2, len) != 0) {
      conn_fail(c, FO__DNSX_GARBAGE);
      return -1;
    }
    off += 2 + len;
  }
  memmove(c->in, c->in + off, c->in_len - off);
  c->in_len -= off;
  return 0;
}

/* Room to read into; what is left after conn_frames() is one partial
 * frame, so the buffer stays under 64 KiB + TCP_READ_ROOM. */
static int conn_reserve(dnsx_conn *c) {
  size_t cap;
  unsigned char *in;
  if (c->in_cap - c->in_len >= TCP_READ_ROOM)
    return 0;
  cap = c->in_len + TCP_READ_ROOM;
  if (cap < c->in_cap * 2)
    cap = c->in_cap * 2;
  in = fo__realloc_array(&c->x->alloc, c->in, cap, 1);
  if (in == NULL)
    return FO_ENOMEM;
  c->in = in;
  c->in_cap = cap;
  return 0;
}

/* Read and deliver until EAGAIN (or max_reads reads). Every byte the
 * server sent before closing or resetting is read before the close is
 * acted on. Returns 0 while the connection lives, -1 once it failed. */
static int conn_read(dnsx_conn *c, size_t max_reads) {
  size_t i;
  for (i = 0; i < max_reads; i++) {
    ssize_t n;
    if (conn_reserve(c) != 0) {
      conn_fail(c, FO__DNSX_LOCAL);
      return -1;
    }
    n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    if (n > 0) {
#ifdef TCP_QUICKACK /* Linux clears it: re-armed after every read */
      (void)setsockopt(c->fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
#endif
      c->in_len += (size_t)n;
      if (conn_frames(c) != 0)
        return -1;
    } else if (n == 0) {
      conn_fail(c, FO__DNSX_CLOSED);
      return -1;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return 0;
    } else if (errno != EINTR) {
      conn_fail(c, FO__DNSX_CLOSED);
      return -1;
    }
  }
  return 0;
}

static void conn_poll_cb(uv_poll_t *p, int status, int events) {
  dnsx_conn *c = p->data;
  if (status < 0)
    c->events = 0; /* libuv stopped the handle (POLLERR) */
  if (c->state == C_CONNECTING) {
    if (status < 0 || (events & UV_WRITABLE))
      conn_connected(c, status);
    return;
  }
  if (status < 0) {
    /* An error is pending: read what came before it, then fail. */
    if (conn_read(c, SIZE_MAX) == 0)
      conn_fail(c, FO__DNSX_CLOSED);
    return;
  }
  if ((events & (UV_READABLE | UV_DISCONNECT)) && conn_read(c, TCP_READS))
    return;
  if (events & UV_WRITABLE)
    conn_write(c);
}

/* ---- sending ------------------------------------------------------------- */

/* The UDP socket is opened for the first datagram, not by fo__dnsx_new():
 * a server that cannot be reached now (network down, an address this host
 * may not send to) fails the queries, from the loop, and the next query
 * tries again; the engine made on it stays usable. */
static int udp_ready(fo__dnsx *x) {
  int rc;
  fo__dnsx_query *q;
  if (x->udp_fd >= 0)
    return 1;
  rc = udp_open(x, x->rcvbuf);
  if (rc == 0) {
    udp_update_events(x);
    return 1;
  }
  while ((q = x->udp_pending.head) != NULL) {
    qlist_remove(&x->udp_pending, q);
    q->where = Q_NONE;
    finish(x, q, FO_EIO,
           rc == FO__DNSX_UNREACHABLE ? FO__DNSX_UNREACHABLE : FO__DNSX_LOCAL,
           NULL, 0);
  }
  return 0;
}

static void idle_cb(uv_idle_t *h) {
  fo__dnsx *x = h->data;
  flush_tcp(x);
  if (x->udp_pending.head != NULL && udp_ready(x))
    flush_udp(x);
  update_idle(x);
}

int fo__dnsx_send(fo__dnsx *x, const unsigned char *msg, size_t len,
                  int force_tcp, fo__dnsx_cb cb, void *arg) {
  return fo__dnsx_send_timed(x, msg, len, force_tcp, 0, cb, arg);
}

int fo__dnsx_send_timed(fo__dnsx *x, const unsigned char *msg, size_t len,
                        int force_tcp, uint32_t timeout_ms, fo__dnsx_cb cb,
                        void *arg) {
  char name[FO_NAME_BUFSIZE];
  size_t qname_end;
  fo__dnsx_query *q;
  if (x == NULL || msg == NULL || cb == NULL)
    return FO_EINVAL;
  if (x->closing)
    return FO_ECLOSING;
  if (len > MSG_MAX || read_question(msg, len, name, &qname_end) != 0)
    return FO_EINVAL;
  if (x->count >= ID_SPACE)
    return FO_ERANGE;
  if (ids_reserve(x) != 0)
    return FO_ENOMEM;
  q = fo__malloc(&x->alloc, offsetof(fo__dnsx_query, frame) + 2 + len);
  if (q == NULL)
    return FO_ENOMEM;
  memset(q, 0, offsetof(fo__dnsx_query, frame));
  put16(q->frame, len);
  memcpy(q->frame + 2, msg, len);
  q->len = len;
  q->cb = cb;
  q->arg = arg;
  q->tcp = force_tcp || x->use_tcp;
  q->id = draw_id(x);
  put16(q->frame + 2, q->id);
  q->tries_used = 1;
  q->timeout_ms = timeout_ms ? timeout_ms : x->timeout_ms;
  q->deadline = uv_now(x->loop) + q->timeout_ms;
  deadline_insert(x, q);
  ids_put(x->slots, x->slot_cap, q);
  x->count++;
  make_pending(x, q);
  /* The first deadline may be this one now. */
  if (!uv_is_active((uv_handle_t *)&x->timer) || x->dhead == q)
    arm_timer(x);
  update_idle(x);
  return 0;
}

size_t fo__dnsx_in_flight(const fo__dnsx *x) { return x ? x->count : 0; }

/* ---- life cycle ---------------------------------------------------------- */

static int set_address(fo__dnsx *x, const fo__hostport *hp) {
  memset(&x->addr, 0, sizeof(x->addr));
  if (hp->family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&x->addr;
    a->sin_family = AF_INET;
    a->sin_port = htons(hp->port);
    memcpy(&a->sin_addr, hp->addr, 4);
    x->addr_len = sizeof(*a);
    return 0;
  }
  if (hp->family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&x->addr;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(hp->port);
    memcpy(&a->sin6_addr, hp->addr, 16);
    x->addr_len = sizeof(*a);
    return 0;
  }
  return FO_EINVAL;
}

static void free_unopened(fo__dnsx *x) {
  fo__free(&x->alloc, x->udp_buf);
  fo__free(&x->alloc, x->slots);
  fo__free(&x->alloc, x);
}

int fo__dnsx_new(fo__dnsx **out, uv_loop_t *loop, const fo_allocator *alloc,
                 const fo__dnsx_config *cfg) {
  fo__dnsx *x;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || loop == NULL || alloc == NULL || cfg == NULL ||
      cfg->server == NULL || cfg->timeout_ms == 0 || cfg->tries == 0)
    return FO_EINVAL;
  x = fo__calloc(alloc, 1, sizeof(*x));
  if (x == NULL)
    return FO_ENOMEM;
  x->alloc = *alloc;
  x->loop = loop;
  x->timeout_ms = cfg->timeout_ms;
  x->tries = cfg->tries;
  x->use_tcp = cfg->use_tcp != 0;
  x->udp_fd = -1;
  x->slot_cap = 16;
  x->slots = fo__calloc(alloc, x->slot_cap, sizeof(*x->slots));
  if (x->slots == NULL) {
    free_unopened(x);
    return FO_ENOMEM;
  }
  if (set_address(x, cfg->server) != 0) {
    free_unopened(x);
    return FO_EINVAL;
  }
  x->rcvbuf = cfg->rcvbuf;
  uv_timer_init(loop, &x->timer);
  uv_idle_init(loop, &x->idle);
  x->timer.data = x;
  x->idle.data = x;
  x->handles += 2;
  *out = x;
  return 0;
}

static void udp_closed_cb(uv_handle_t *h) {
  fo__dnsx *x = h->data;
  close(x->udp_fd);
  handle_closed(x);
}

void fo__dnsx_close(fo__dnsx *x, void (*closed)(void *userdata),
                    void *userdata) {
  if (x == NULL || x->closing)
    return;
  x->closing = 1;
  x->closed = closed;
  x->closed_userdata = userdata;
  while (x->dhead != NULL)
    finish(x, x->dhead, FO_ECANCELED, FO__DNSX_OK, NULL, 0);
  if (x->conn != NULL)
    conn_close(x->conn);
  if (x->udp_fd >= 0)
    uv_close((uv_handle_t *)&x->udp_poll, udp_closed_cb);
  uv_close((uv_handle_t *)&x->timer, handle_closed_cb);
  uv_close((uv_handle_t *)&x->idle, handle_closed_cb);
}
