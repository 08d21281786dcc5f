/*
 * etcd_fixture.c - see etcd_fixture.h. Plain C11 + POSIX (Linux).
 */
#define _GNU_SOURCE
#include "etcd_fixture.h"
#include "dns_fixture.h" /* ft_dns_unused_port() */
#include "fixture_proc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_MS 20000

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void nap_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void set_error(ft_etcd *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void set_error(ft_etcd *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->error, sizeof e->error, fmt, ap);
  va_end(ap);
}

/* ---- /health over a plain socket
 * --------------------------------------------- */

/* One GET /health; 1 when it says true. */
static int health_once(int port, int timeout_ms) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in a;
  char buf[2048];
  size_t got = 0;
  double deadline = now_ms() + timeout_ms;
  int ok = 0;
  if (fd < 0)
    return 0;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 &&
      errno != EINPROGRESS) {
    close(fd);
    return 0;
  }
  struct pollfd p = {fd, POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) != 1 || (p.revents & (POLLERR | POLLHUP))) {
    close(fd);
    return 0;
  }
  static const char req[] = "GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) !=
      (ssize_t)(sizeof req - 1)) {
    close(fd);
    return 0;
  }
  for (;;) {
    int left = (int)(deadline - now_ms());
    if (left <= 0)
      break;
    p.events = POLLIN;
    if (poll(&p, 1, left) != 1)
      break;
    ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
    if (n <= 0)
      break;
    got += (size_t)n;
    if (got == sizeof buf - 1)
      break;
  }
  buf[got] = '\0';
  ok = strstr(buf, " 200 ") != NULL && strstr(buf, "\"health\":\"true\"");
  close(fd);
  return ok;
}

int ft_etcd_healthy(const ft_etcd *e, int i, int timeout_ms) {
  double deadline = now_ms() + timeout_ms;
  do {
    if (health_once(e->m[i].client_port, 1000))
      return 1;
    nap_ms(20);
  } while (now_ms() < deadline);
  return 0;
}

/* ---- members
 * ----------------------------------------------------------------- */

static int start_member(ft_etcd *e, int i) {
  ft_etcd_member *m = &e->m[i];
  char client[64], peer[64], txn[] = "50000", bytes[] = "33554432";
  snprintf(client, sizeof client, "http://127.0.0.1:%d", m->client_port);
  snprintf(peer, sizeof peer, "http://127.0.0.1:%d", m->peer_port);
  /* Through env: valgrind's --trace-children-skip has env. */
  char *argv[] = {"/usr/bin/env",
                  "etcd",
                  "--name",
                  m->name,
                  "--data-dir",
                  m->data,
                  "--listen-client-urls",
                  client,
                  "--advertise-client-urls",
                  client,
                  "--listen-peer-urls",
                  peer,
                  "--initial-advertise-peer-urls",
                  peer,
                  "--initial-cluster",
                  e->cluster,
                  "--initial-cluster-token",
                  e->token,
                  "--initial-cluster-state",
                  "new",
                  "--max-txn-ops",
                  txn,
                  "--max-request-bytes",
                  bytes,
                  "--logger",
                  "zap",
                  "--log-level",
                  "warn",
                  NULL};
  m->pid = ft_spawn(argv, NULL, NULL, m->log);
  if (m->pid < 0) {
    m->pid = 0;
    set_error(e, "fork: %s", strerror(errno));
    return -1;
  }
  return 0;
}

static void kill_member(ft_etcd_member *m, int sig) {
  int status;
  if (m->pid <= 0)
    return;
  kill(m->pid, sig);
  if (sig != SIGKILL) {
    double deadline = now_ms() + 5000;
    while (waitpid(m->pid, &status, WNOHANG) == 0) {
      if (now_ms() > deadline) {
        kill(m->pid, SIGKILL);
        break;
      }
      nap_ms(10);
    }
  }
  waitpid(m->pid, &status, 0);
  m->pid = 0;
}

static int exited(ft_etcd *e, int i) {
  int status;
  if (e->m[i].pid > 0 &&
      waitpid(e->m[i].pid, &status, WNOHANG) == e->m[i].pid) {
    char tail[300];
    e->m[i].pid = 0;
    ft_file_tail(e->m[i].log, tail, sizeof tail);
    set_error(e, "etcd %s exited (status %d): ...%s", e->m[i].name, status,
              tail);
    return 1;
  }
  return 0;
}

static const char *tmp_root(void) {
  const char *t = getenv("FT_ETCD_TMPDIR");
  if (t && t[0])
    return t;
  if (access("/dev/shm", W_OK) == 0)
    return "/dev/shm";
  t = getenv("TMPDIR");
  return t && t[0] ? t : "/tmp";
}

/* One attempt on fresh ports: 0, 1 (retry: a port clash or an early
 * exit), -1. */
static int start_once(ft_etcd *e) {
  size_t off = 0;
  unsigned char rnd[8];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
    memset(rnd, 7, sizeof rnd);
  snprintf(e->token, sizeof e->token, "ft-%02x%02x%02x%02x%02x%02x%02x%02x",
           rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
  e->cluster[0] = '\0';
  for (int i = 0; i < e->n; i++) {
    ft_etcd_member *m = &e->m[i];
    snprintf(m->name, sizeof m->name, "m%d", i);
    m->client_port = ft_dns_unused_port();
    m->peer_port = ft_dns_unused_port();
    if (m->client_port <= 0 || m->peer_port <= 0 ||
        m->client_port == m->peer_port)
      return 1;
    char name[sizeof m->name];
    memcpy(name, m->name, sizeof name); /* (GCC: -Wrestrict on e's fields) */
    snprintf(m->data, sizeof m->data, "%s/%s.%s", e->dir, name, e->token);
    snprintf(m->log, sizeof m->log, "%s/%s.log", e->dir, name);
    remove(m->log);
    off += (size_t)snprintf(e->cluster + off, sizeof e->cluster - off,
                            "%s%s=http://127.0.0.1:%d", i ? "," : "", m->name,
                            m->peer_port);
  }
  for (int i = 0; i < e->n; i++)
    if (start_member(e, i) != 0)
      return -1;
  double deadline = now_ms() + READY_MS;
  for (int i = 0; i < e->n; i++) {
    for (;;) {
      for (int j = 0; j < e->n; j++)
        if (exited(e, j))
          return 1;
      if (health_once(e->m[i].client_port, 500))
        break;
      if (now_ms() > deadline) {
        char tail[300];
        ft_file_tail(e->m[i].log, tail, sizeof tail);
        set_error(e, "etcd %s not healthy after %d ms: ...%s", e->m[i].name,
                  READY_MS, tail);
        return -1;
      }
      nap_ms(20);
    }
  }
  return 0;
}

int ft_etcd_start(ft_etcd *e, int members) {
  memset(e, 0, sizeof *e);
  if (members < 1 || members > FT_ETCD_MAX_MEMBERS) {
    set_error(e, "members: 1..%d", FT_ETCD_MAX_MEMBERS);
    return -1;
  }
  e->n = members;
  snprintf(e->dir, sizeof e->dir, "%s/ft-etcd-XXXXXX", tmp_root());
  if (!mkdtemp(e->dir)) {
    set_error(e, "mkdtemp %s: %s", e->dir, strerror(errno));
    e->dir[0] = '\0';
    return -1;
  }
  for (int attempt = 0; attempt < 5; attempt++) {
    int rc = start_once(e);
    if (rc == 0)
      return 0;
    char keep[sizeof e->error];
    memcpy(keep, e->error, sizeof keep);
    for (int i = 0; i < e->n; i++)
      kill_member(&e->m[i], SIGKILL);
    memcpy(e->error, keep, sizeof keep);
    if (rc < 0)
      break;
  }
  char keep[sizeof e->error];
  memcpy(keep, e->error, sizeof keep);
  ft_etcd_stop(e);
  memcpy(e->error, keep, sizeof keep);
  return -1;
}

void ft_etcd_stop(ft_etcd *e) {
  for (int i = 0; i < e->n; i++)
    if (e->m[i].pid > 0)
      kill(e->m[i].pid, SIGTERM);
  for (int i = 0; i < e->n; i++)
    kill_member(&e->m[i], SIGTERM);
  if (e->dir[0] && !getenv("FT_ETCD_KEEP"))
    ft_remove_tree(e->dir);
  e->dir[0] = '\0';
  e->n = 0;
}

int ft_etcd_kill(ft_etcd *e, int i) {
  if (i < 0 || i >= e->n || e->m[i].pid <= 0) {
    set_error(e, "member %d is not running", i);
    return -1;
  }
  kill_member(&e->m[i], SIGKILL);
  return 0;
}

int ft_etcd_restart(ft_etcd *e, int i, int timeout_ms) {
  if (i < 0 || i >= e->n || e->m[i].pid > 0) {
    set_error(e, "member %d is running or unknown", i);
    return -1;
  }
  if (start_member(e, i) != 0)
    return -1;
  double deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : READY_MS);
  while (!health_once(e->m[i].client_port, 500)) {
    if (exited(e, i))
      return -1;
    if (now_ms() > deadline) {
      set_error(e, "etcd %s not healthy after a restart", e->m[i].name);
      return -1;
    }
    nap_ms(20);
  }
  return 0;
}

void ft_etcd_url(const ft_etcd *e, const char *prefix, char *buf, size_t size) {
  size_t off = (size_t)snprintf(buf, size, "etcd://");
  for (int i = 0; i < e->n && off < size; i++)
    off += (size_t)snprintf(buf + off, size - off, "%s127.0.0.1:%d",
                            i ? "," : "", e->m[i].client_port);
  if (off < size)
    snprintf(buf + off, size - off, "/%s", prefix);
}
