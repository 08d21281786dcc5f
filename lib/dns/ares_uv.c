/*
 * ares_uv.c - c-ares driven by a libuv loop (see ares_uv.h).
 */
#include "ares_uv.h"

#include "alloc.h"

#include <string.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/uio.h>
#include <unistd.h>

struct fo__ares_sock {
  uv_poll_t poll;
  ares_socket_t fd;
  fo__ares_uv *au;
  fo__ares_sock *next;
};

static void handle_closed(fo__ares_uv *au) {
  if (--au->open_handles == 0 && au->on_closed != NULL)
    au->on_closed(au, au->closed_userdata);
}

static void sock_closed_cb(uv_handle_t *h) {
  fo__ares_sock *s = h->data;
  fo__ares_uv *au = s->au;
  fo__free(au->alloc, s);
  handle_closed(au);
}

static void timer_closed_cb(uv_handle_t *h) { handle_closed(h->data); }

static void timer_cb(uv_timer_t *t);

/* Re-arm the timer for c-ares' next timeout, or stop it when idle. */
static void arm_timer(fo__ares_uv *au) {
  struct timeval tv, *next;
  uint64_t ms;
  if (au->closing)
    return;
  next = ares_timeout(au->channel, NULL, &tv);
  if (next == NULL) {
    uv_timer_stop(&au->timer);
    return;
  }
  ms = (uint64_t)next->tv_sec * 1000u +
       ((uint64_t)next->tv_usec + 999u) / 1000u;
  /* Only fails for a closing handle, which arm_timer never sees. */
  (void)uv_timer_start(&au->timer, timer_cb, ms, 0);
}

static void timer_cb(uv_timer_t *t) {
  fo__ares_uv *au = t->data;
  ares_process_fd(au->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  arm_timer(au);
}

static void poll_cb(uv_poll_t *p, int status, int events) {
  fo__ares_sock *s = p->data;
  fo__ares_uv *au = s->au;
  ares_socket_t rd = ARES_SOCKET_BAD, wr = ARES_SOCKET_BAD;
  if (status < 0) {
    /* An error on the socket (ECONNREFUSED on UDP shows up as this): let
     * c-ares read and write so it sees the error now, not at a timeout. */
    rd = wr = s->fd;
  } else {
    if (events & UV_READABLE)
      rd = s->fd;
    if (events & UV_WRITABLE)
      wr = s->fd;
  }
  ares_process_fd(au->channel, rd, wr);
  arm_timer(au);
}

static fo__ares_sock **find_sock(fo__ares_uv *au, ares_socket_t fd) {
  fo__ares_sock **p;
  for (p = &au->socks; *p != NULL; p = &(*p)->next)
    if ((*p)->fd == fd)
      return p;
  return p;
}

/* c-ares' socket-state callback: only starts, changes or stops watching.
 * It runs inside c-ares, so it never calls back into c-ares. */
static void sock_state_cb(void *data, ares_socket_t fd, int readable,
                          int writable) {
  fo__ares_uv *au = data;
  fo__ares_sock **slot = find_sock(au, fd);
  fo__ares_sock *s = *slot;
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);

  if (events == 0) {
    if (s != NULL) {
      *slot = s->next;
      uv_poll_stop(&s->poll);
      uv_close((uv_handle_t *)&s->poll, sock_closed_cb);
    }
    return;
  }
  if (s == NULL) {
    s = fo__malloc(au->alloc, sizeof(*s));
    if (s == NULL) {
      au->degraded = 1; /* its queries will time out instead */
      return;
    }
    if (uv_poll_init_socket(au->loop, &s->poll, fd) != 0) {
      fo__free(au->alloc, s);
      au->degraded = 1;
      return;
    }
    s->fd = fd;
    s->au = au;
    s->poll.data = s;
    s->next = au->socks;
    au->socks = s;
    au->open_handles++;
  }
  if (uv_poll_start(&s->poll, events, poll_cb) != 0)
    au->degraded = 1;
}

/* c-ares 1.18 writes to TCP sockets with writev(), which raises SIGPIPE
 * when the server has gone away (a restart mid-run) and kills a process
 * that did not ignore it. Signal dispositions belong to the application,
 * so instead every socket call goes through these, and sends use
 * MSG_NOSIGNAL. c-ares configures nothing on sockets it did not open
 * itself, so opening does what it would: non-blocking, close-on-exec,
 * TCP_NODELAY, and the receive buffer asked for. */
static ares_socket_t sock_open(int domain, int type, int protocol,
                               void *userdata) {
  const fo__ares_uv *au = userdata;
  int one = 1, fd;
  fd = socket(domain, type, protocol);
  if (fd < 0)
    return ARES_SOCKET_BAD;
  if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
      fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
      (type == SOCK_STREAM &&
       setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0) ||
      (au->rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &au->rcvbuf,
                                    sizeof(au->rcvbuf)) != 0)) {
    close(fd);
    return ARES_SOCKET_BAD;
  }
  return fd;
}

static int sock_close(ares_socket_t fd, void *userdata) {
  (void)userdata;
  return close(fd);
}

static int sock_connect(ares_socket_t fd, const struct sockaddr *addr,
                        ares_socklen_t len, void *userdata) {
  (void)userdata;
  return connect(fd, addr, len);
}

static ares_ssize_t sock_recvfrom(ares_socket_t fd, void *buf, size_t len,
                                  int flags, struct sockaddr *from,
                                  ares_socklen_t *from_len, void *userdata) {
  (void)userdata;
  return recvfrom(fd, buf, len, flags, from, from_len);
}

static ares_ssize_t sock_sendv(ares_socket_t fd, const struct iovec *vec,
                               int count, void *userdata) {
  struct msghdr msg;
  (void)userdata;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = (struct iovec *)(uintptr_t)vec;
  msg.msg_iovlen = (size_t)count;
  return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

static const struct ares_socket_functions socket_functions = {
    sock_open, sock_close, sock_connect, sock_recvfrom, sock_sendv};

int fo__ares_uv_init(fo__ares_uv *au, uv_loop_t *loop,
                     const fo_allocator *alloc,
                     const fo__ares_uv_config *cfg) {
  struct ares_options o;
  struct ares_addr_port_node node;
  int mask, rc;

  memset(au, 0, sizeof(*au));
  au->loop = loop;
  au->alloc = alloc;
  au->rcvbuf = cfg->rcvbuf;
  if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
    return FO_EIO;

  memset(&o, 0, sizeof(o));
  o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES |
            (cfg->use_tcp ? ARES_FLAG_USEVC | ARES_FLAG_STAYOPEN : 0) |
            (cfg->raw_replies ? ARES_FLAG_NOCHECKRESP : 0);
  o.timeout = (int)cfg->timeout_ms;
  o.tries = (int)cfg->tries;
  o.sock_state_cb = sock_state_cb;
  o.sock_state_cb_data = au;
  mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
         ARES_OPT_SOCK_STATE_CB; /* the receive buffer: see sock_open() */
  rc = ares_init_options(&au->channel, &o, mask);
  if (rc != ARES_SUCCESS) {
    ares_library_cleanup();
    return rc == ARES_ENOMEM ? FO_ENOMEM : FO_EIO;
  }

  ares_set_socket_functions(au->channel, &socket_functions, au);

  memset(&node, 0, sizeof(node));
  node.family = cfg->server->family;
  memcpy(&node.addr, cfg->server->addr,
         node.family == AF_INET ? 4u : 16u);
  node.udp_port = cfg->server->port;
  node.tcp_port = cfg->server->port;
  rc = ares_set_servers_ports(au->channel, &node);
  if (rc == ARES_SUCCESS && uv_timer_init(loop, &au->timer) != 0)
    rc = ARES_ENOMEM;
  if (rc != ARES_SUCCESS) {
    ares_destroy(au->channel);
    ares_library_cleanup();
    return rc == ARES_ENOMEM ? FO_ENOMEM : FO_EIO;
  }
  au->timer.data = au;
  au->open_handles = 1;
  return 0;
}

void fo__ares_uv_send(fo__ares_uv *au, const unsigned char *msg, int len,
                      ares_callback cb, void *arg) {
  ares_send(au->channel, msg, len, cb, arg);
}

void fo__ares_uv_arm(fo__ares_uv *au) { arm_timer(au); }

void fo__ares_uv_close(fo__ares_uv *au,
                       void (*on_closed)(fo__ares_uv *au, void *userdata),
                       void *userdata) {
  au->on_closed = on_closed;
  au->closed_userdata = userdata;
  uv_timer_stop(&au->timer);
  /* Pending queries are called back with ARES_EDESTRUCTION, and c-ares
   * reports every socket closed, which closes its poll handle. */
  ares_destroy(au->channel);
  au->channel = NULL;
  au->closing = 1;
  ares_library_cleanup();
  /* Sockets c-ares did not report closed (none expected) are closed here. */
  while (au->socks != NULL) {
    fo__ares_sock *s = au->socks;
    au->socks = s->next;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, sock_closed_cb);
  }
  uv_close((uv_handle_t *)&au->timer, timer_closed_cb);
}

int fo__ares_status_code(int status) {
  switch (status) {
  case ARES_SUCCESS:
    return 0;
  case ARES_ETIMEOUT:
    return FO_ETIMEDOUT;
  case ARES_ECANCELLED:
  case ARES_EDESTRUCTION:
    return FO_ECANCELED;
  case ARES_ENOMEM:
    return FO_ENOMEM;
  case ARES_EBADRESP:
    return FO_EMALFORMED;
  default:
    return FO_EIO;
  }
}
