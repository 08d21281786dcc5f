/*
 * dns_peer.c - see dns_peer.h.
 */
#define _GNU_SOURCE
#include "dns_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER_MAX_CONN 32

/* Offset past the question section of query q (QDCOUNT 1 assumed), or 0. */
static size_t question_end(const unsigned char *q, size_t len) {
  size_t off = 12;
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

/* Build the reply to query q into r (room >= 600). Returns its length, or 0
 * for no reply. */
static size_t make_reply(ft_dns_peer *peer, const unsigned char *q,
                         size_t qlen, unsigned char *r) {
  if (qlen < 12)
    return 0;
  atomic_store(&peer->last_flags, (int)((unsigned)q[2] << 8 | q[3]));
  size_t qend = question_end(q, qlen);
  if (qend >= 4)
    atomic_store(&peer->last_qtype,
                 (int)((unsigned)q[qend - 4] << 8 | q[qend - 3]));
  switch (peer->mode) {
  case FT_PEER_SILENT:
    return 0;
  case FT_PEER_ECHO:
    if (qlen > 4094) /* the TCP reply buffer, after its length prefix */
      return 0;
    memcpy(r, q, qlen);
    r[2] |= 0x80;
    r[3] = (unsigned char)((r[3] & 0xF0) | (peer->rcode & 0x0F));
    return qlen;
  case FT_PEER_GARBAGE: {
    unsigned char n;
    if (getrandom(&n, 1, 0) != 1)
      n = 42;
    size_t len = 1u + n % 100u;
    if (getrandom(r, len, 0) != (ssize_t)len)
      memset(r, 0xA5, len);
    return len;
  }
  case FT_PEER_SHORT:
    memcpy(r, q, 6);
    r[2] |= 0x80;
    return 6;
  default:
    break;
  }
  if (!qend)
    return 0;
  memcpy(r, q, qend);
  r[2] = (unsigned char)(0x80 | 0x04 | (q[2] & 0x79)); /* QR, AA, opcode, RD */
  r[3] = 0;
  r[4] = 0;
  r[5] = 1;                   /* QDCOUNT 1 */
  memset(r + 6, 0, 6);        /* AN, NS, AR */
  size_t o = qend;
  static const unsigned char cname_hdr[] = {0xC0, 0x0C, 0x00, 0x05, 0x00,
                                            0x01, 0x00, 0x00, 0x00, 0x3C};
  switch (peer->mode) {
  case FT_PEER_TRUNCATED_RR:
    r[7] = 1;
    memcpy(r + o, cname_hdr, sizeof cname_hdr);
    o += sizeof cname_hdr;
    r[o++] = 0;
    r[o++] = 50;  /* RDLENGTH 50 ... */
    r[o++] = 3;   /* ... but only 3 bytes follow */
    r[o++] = 'a';
    r[o++] = 'b';
    return o;
  case FT_PEER_POINTER_LOOP:
    r[7] = 1;
    /* Owner: a pointer to itself. */
    r[o] = (unsigned char)(0xC0 | ((o >> 8) & 0x3F));
    r[o + 1] = (unsigned char)(o & 0xFF);
    o += 2;
    memcpy(r + o, cname_hdr + 2, sizeof cname_hdr - 2);
    o += sizeof cname_hdr - 2;
    r[o++] = 0;
    r[o++] = 2;
    r[o++] = 0xC0; /* target: the question name */
    r[o++] = 0x0C;
    return o;
  case FT_PEER_BAD_RDATA:
    r[7] = 1;
    memcpy(r + o, cname_hdr, sizeof cname_hdr);
    o += sizeof cname_hdr;
    r[o++] = 0;
    r[o++] = 2; /* RDLENGTH 2, the name below is 11 bytes */
    memcpy(r + o, "\x03" "www" "\x05" "other" "\x00", 11);
    o += 11;
    return o;
  case FT_PEER_RCODE:
    r[3] = (unsigned char)(peer->rcode & 0x0F);
    return o;
  case FT_PEER_NO_QUESTION:
    r[3] = (unsigned char)(peer->rcode & 0x0F);
    r[5] = 0;
    return 12;
  case FT_PEER_MANY_ADDRESSES:
    r[7] = FT_PEER_MANY_COUNT;
    for (int i = 0; i < FT_PEER_MANY_COUNT; i++) {
      static const unsigned char a_hdr[] = {0xC0, 0x0C, 0x00, 0x01, 0x00, 0x01,
                                            0x00, 0x00, 0x00, 0x3C, 0x00, 0x04};
      memcpy(r + o, a_hdr, sizeof a_hdr);
      o += sizeof a_hdr;
      r[o++] = 192;
      r[o++] = 0;
      r[o++] = 2;
      r[o++] = (unsigned char)(i + 1);
    }
    return o;
  default:
    return 0;
  }
}

static void *peer_main(void *arg) {
  ft_dns_peer *peer = arg;
  int conns[PEER_MAX_CONN];
  size_t nconn = 0;
  unsigned char buf[65536 + 2], reply[4096];
  for (;;) {
    struct pollfd pfd[3 + PEER_MAX_CONN];
    pfd[0] = (struct pollfd){peer->stop_pipe[0], POLLIN, 0};
    pfd[1] = (struct pollfd){peer->udp_fd, POLLIN, 0};
    pfd[2] = (struct pollfd){peer->tcp_fd, POLLIN, 0};
    for (size_t i = 0; i < nconn; i++)
      pfd[3 + i] = (struct pollfd){conns[i], POLLIN, 0};
    int n = poll(pfd, (nfds_t)(3 + nconn), -1);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (pfd[0].revents)
      break;
    if (pfd[1].revents & POLLIN) {
      struct sockaddr_storage from;
      socklen_t flen = sizeof from;
      ssize_t got = recvfrom(peer->udp_fd, buf, sizeof buf, 0,
                             (struct sockaddr *)&from, &flen);
      if (got > 0) {
        atomic_fetch_add(&peer->udp_queries, 1u);
        size_t rl = make_reply(peer, buf, (size_t)got, reply);
        if (rl)
          sendto(peer->udp_fd, reply, rl, 0, (struct sockaddr *)&from, flen);
      }
    }
    /* Connections polled this round (accepted ones join the next round). */
    size_t polled = nconn;
    for (size_t i = 0; i < polled; i++) {
      if (!pfd[3 + i].revents)
        continue;
      /* One read per wakeup; a message is assumed to arrive whole
       * (loopback, small queries). */
      ssize_t got = recv(conns[i], buf, sizeof buf, 0);
      if (got <= 0) {
        close(conns[i]);
        conns[i] = -1;
        continue;
      }
      size_t off = 0;
      while (off + 2 <= (size_t)got) {
        size_t mlen = (size_t)buf[off] << 8 | buf[off + 1];
        if (off + 2 + mlen > (size_t)got)
          break;
        atomic_fetch_add(&peer->tcp_queries, 1u);
        size_t rl = make_reply(peer, buf + off + 2, mlen, reply + 2);
        if (rl) {
          reply[0] = (unsigned char)(rl >> 8);
          reply[1] = (unsigned char)rl;
          (void)!send(conns[i], reply, rl + 2, MSG_NOSIGNAL);
        }
        off += 2 + mlen;
      }
    }
    size_t kept = 0;
    for (size_t i = 0; i < nconn; i++)
      if (conns[i] >= 0)
        conns[kept++] = conns[i];
    nconn = kept;
    if (pfd[2].revents & POLLIN) {
      int c = accept4(peer->tcp_fd, NULL, NULL, SOCK_CLOEXEC);
      if (c >= 0) {
        atomic_fetch_add(&peer->tcp_connections, 1u);
        if (nconn < PEER_MAX_CONN)
          conns[nconn++] = c;
        else
          close(c);
      }
    }
  }
  for (size_t i = 0; i < nconn; i++)
    close(conns[i]);
  return NULL;
}

static int bind_pair(ft_dns_peer *peer) {
  for (int attempt = 0; attempt < 50; attempt++) {
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (u < 0 || t < 0) {
      if (u >= 0)
        close(u);
      if (t >= 0)
        close(t);
      return -1;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    int one = 1;
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(u, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(u, (struct sockaddr *)&a, &alen) == 0 &&
        bind(t, (struct sockaddr *)&a, sizeof a) == 0 && listen(t, 16) == 0) {
      peer->udp_fd = u;
      peer->tcp_fd = t;
      peer->port = ntohs(a.sin_port);
      return 0;
    }
    close(u);
    close(t);
  }
  errno = EADDRINUSE;
  return -1;
}

int ft_dns_peer_start(ft_dns_peer *peer, ft_dns_peer_mode mode) {
  int rcode = peer->rcode;
  memset(peer, 0, sizeof *peer);
  peer->mode = mode;
  peer->rcode = mode == FT_PEER_RCODE || mode == FT_PEER_NO_QUESTION ||
                        mode == FT_PEER_ECHO
                    ? rcode
                    : 0;
  atomic_init(&peer->udp_queries, 0u);
  atomic_init(&peer->tcp_queries, 0u);
  atomic_init(&peer->tcp_connections, 0u);
  atomic_init(&peer->last_flags, -1);
  atomic_init(&peer->last_qtype, -1);
  peer->udp_fd = peer->tcp_fd = -1;
  if (pipe2(peer->stop_pipe, O_CLOEXEC) != 0)
    return -1;
  if (bind_pair(peer) != 0)
    goto fail;
  snprintf(peer->addr, sizeof peer->addr, "127.0.0.1:%d", peer->port);
  if (pthread_create(&peer->thread, NULL, peer_main, peer) != 0)
    goto fail;
  peer->running = 1;
  return 0;
fail:
  close(peer->stop_pipe[0]);
  close(peer->stop_pipe[1]);
  if (peer->udp_fd >= 0)
    close(peer->udp_fd);
  if (peer->tcp_fd >= 0)
    close(peer->tcp_fd);
  return -1;
}

int ft_dns_peer_start_rcode(ft_dns_peer *peer, int rcode) {
  peer->rcode = rcode;
  return ft_dns_peer_start(peer, FT_PEER_RCODE);
}

void ft_dns_peer_stop(ft_dns_peer *peer) {
  if (!peer->running)
    return;
  peer->running = 0;
  (void)!write(peer->stop_pipe[1], "x", 1);
  pthread_join(peer->thread, NULL);
  close(peer->stop_pipe[0]);
  close(peer->stop_pipe[1]);
  close(peer->udp_fd);
  close(peer->tcp_fd);
}

unsigned ft_dns_peer_queries(ft_dns_peer *peer) {
  return atomic_load(&peer->udp_queries) + atomic_load(&peer->tcp_queries);
}
