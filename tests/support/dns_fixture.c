/*
 * dns_fixture.c - see dns_fixture.h. Plain C11 + POSIX (Linux), no
 * Criterion, no libfailover.
 */
#define _GNU_SOURCE
#include "dns_fixture.h"
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
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- small utilities ------------------------------------------------------ */

double ft_dns_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void fill_random(void *buf, size_t len) {
  unsigned char *p = buf;
  while (len > 0) {
    ssize_t n = getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      /* Fall back to something: tests only need uniqueness. */
      for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(rand() ^ (int)getpid() ^ (int)i);
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

static void set_error(ft_dns_server *srv, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void set_error(ft_dns_server *srv, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(srv->error, sizeof srv->error, fmt, ap);
  va_end(ap);
}

static void base64(const unsigned char *in, size_t len, char *out) {
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = (unsigned)in[i] << 16;
    if (i + 1 < len)
      v |= (unsigned)in[i + 1] << 8;
    if (i + 2 < len)
      v |= in[i + 2];
    out[o++] = tab[(v >> 18) & 63];
    out[o++] = tab[(v >> 12) & 63];
    out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? tab[v & 63] : '=';
  }
  out[o] = '\0';
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  size_t n = strlen(text);
  int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
  if (fclose(f) != 0)
    rc = -1;
  return rc;
}

/* A growable string. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void sb_printf(sbuf *b, const char *fmt, ...) {
  for (;;) {
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if (b->p && (size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 1024;
    while (cap < b->len + (size_t)n + 1)
      cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
}

static void remove_tree(const char *dir) {
  if (!dir[0])
    return;
  if (getenv("FT_DNS_KEEP"))
    return;
  ft_remove_tree(dir);
}

/* ---- ports ------------------------------------------------------------------ */

static int can_bind(int family, int type, int port) {
  int fd = socket(family, type | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return 0;
  int ok;
  if (family == AF_INET) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  } else {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons((uint16_t)port);
    a.sin6_addr = in6addr_loopback;
    ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
  }
  close(fd);
  return ok;
}

int ft_dns_pick_port(int ipv6) {
  for (int attempt = 0; attempt < 200; attempt++) {
    uint32_t r;
    fill_random(&r, sizeof r);
    int port = FT_DNS_PORT_MIN +
               (int)(r % (uint32_t)(FT_DNS_PORT_MAX - FT_DNS_PORT_MIN + 1));
    if (!can_bind(AF_INET, SOCK_DGRAM, port) ||
        !can_bind(AF_INET, SOCK_STREAM, port))
      continue;
    if (ipv6 && (!can_bind(AF_INET6, SOCK_DGRAM, port) ||
                 !can_bind(AF_INET6, SOCK_STREAM, port)))
      continue;
    return port;
  }
  return -1;
}

int ft_dns_unused_port(void) {
  for (int attempt = 0; attempt < 50; attempt++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
      close(fd);
      return -1;
    }
    close(fd);
    int port = ntohs(a.sin_port);
    if (can_bind(AF_INET, SOCK_STREAM, port) &&
        can_bind(AF_INET, SOCK_DGRAM, port))
      return port;
  }
  return -1;
}

/* ---- a minimal SOA query --------------------------------------------------- */

static size_t encode_name(const char *name, unsigned char *out, size_t room) {
  size_t o = 0;
  const char *p = name;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t l = dot ? (size_t)(dot - p) : strlen(p);
    if (l == 0 || l > 63 || o + l + 2 > room)
      return 0;
    out[o++] = (unsigned char)l;
    memcpy(out + o, p, l);
    o += l;
    p += l;
    if (*p == '.')
      p++;
  }
  if (o + 1 > room)
    return 0;
  out[o++] = 0;
  return o;
}

/* Offset just past the (possibly compressed) name at `off`, or 0. */
static size_t skip_name(const unsigned char *m, size_t len, size_t off) {
  while (off < len) {
    unsigned c = m[off];
    if (c == 0)
      return off + 1;
    if ((c & 0xC0) == 0xC0)
      return off + 2 <= len ? off + 2 : 0;
    if (c & 0xC0)
      return 0;
    off += 1 + c;
  }
  return 0;
}

int ft_dns_soa_serial(int port, const char *zone, int timeout_ms,
                      uint32_t *serial) {
  unsigned char q[512], r[4096];
  uint16_t id;
  fill_random(&id, sizeof id);
  memset(q, 0, 12);
  q[0] = (unsigned char)(id >> 8);
  q[1] = (unsigned char)id;
  q[5] = 1; /* QDCOUNT */
  size_t n = encode_name(zone, q + 12, sizeof q - 16);
  if (n == 0)
    return -1;
  size_t qlen = 12 + n;
  q[qlen++] = 0;
  q[qlen++] = 6; /* SOA */
  q[qlen++] = 0;
  q[qlen++] = 1; /* IN */

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = -1;
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      send(fd, q, qlen, 0) != (ssize_t)qlen)
    goto out;
  double deadline = ft_dns_now_ms() + timeout_ms;
  for (;;) {
    int left = (int)(deadline - ft_dns_now_ms());
    if (left <= 0)
      goto out;
    struct pollfd pfd = {fd, POLLIN, 0};
    int pr = poll(&pfd, 1, left);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      goto out;
    ssize_t got = recv(fd, r, sizeof r, 0);
    if (got < 0)
      goto out; /* ECONNREFUSED: nothing there */
    size_t len = (size_t)got;
    if (len < 12 || r[0] != q[0] || r[1] != q[1])
      continue; /* not ours */
    int rcode = r[3] & 0x0F;
    int aa = (r[2] & 0x04) != 0;
    unsigned qd = (unsigned)r[4] << 8 | r[5];
    unsigned an = (unsigned)r[6] << 8 | r[7];
    if (rcode != 0 || !aa || an == 0)
      goto out;
    size_t off = 12;
    for (unsigned i = 0; i < qd; i++) {
      off = skip_name(r, len, off);
      if (!off || off + 4 > len)
        goto out;
      off += 4;
    }
    for (unsigned i = 0; i < an; i++) {
      off = skip_name(r, len, off);
      if (!off || off + 10 > len)
        goto out;
      unsigned type = (unsigned)r[off] << 8 | r[off + 1];
      unsigned rdlen = (unsigned)r[off + 8] << 8 | r[off + 9];
      off += 10;
      if (off + rdlen > len)
        goto out;
      if (type == 6) {
        size_t p = skip_name(r, len, off);
        if (p)
          p = skip_name(r, len, p);
        if (!p || p + 4 > len)
          goto out;
        *serial = (uint32_t)r[p] << 24 | (uint32_t)r[p + 1] << 16 |
                  (uint32_t)r[p + 2] << 8 | r[p + 3];
        rc = 0;
        goto out;
      }
      off += rdlen;
    }
    goto out;
  }
out:
  close(fd);
  return rc;
}

/* ---- processes ------------------------------------------------------------ */

/* Wait for pid up to timeout_ms. Returns 1 when it exited (status in
 * *status), 0 when still running. */
static int wait_deadline(pid_t pid, int timeout_ms, int *status) {
  double deadline = ft_dns_now_ms() + timeout_ms;
  for (;;) {
    pid_t r = waitpid(pid, status, WNOHANG);
    if (r == pid)
      return 1;
    if (r < 0 && errno != EINTR)
      return 1; /* not our child any more */
    if (ft_dns_now_ms() >= deadline)
      return 0;
    sleep_ms(5);
  }
}

/* Run a command to completion (timeout_ms). Returns its exit status, or -1
 * (killed, not started). */
static int run(char *const argv[], const char *dir, const char *in_path,
               const char *log_path, int timeout_ms) {
  pid_t pid = ft_spawn(argv, dir, in_path, log_path);
  if (pid < 0)
    return -1;
  int status = 0;
  if (!wait_deadline(pid, timeout_ms, &status)) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ft_dns_log_tail(const ft_dns_server *srv, char *buf, size_t size) {
  ft_file_tail(srv->log, buf, size);
}

static int log_contains(const ft_dns_server *srv, const char *needle) {
  char tail[8192];
  ft_dns_log_tail(srv, tail, sizeof tail);
  return strstr(tail, needle) != NULL;
}

/* ---- configuration ---------------------------------------------------------- */

static int write_zone(ft_dns_server *srv, const ft_dns_config *cfg) {
  sbuf b = {0};
  sb_printf(&b, "$ORIGIN %s.\n$TTL 60\n", srv->zone);
  sb_printf(&b,
            "@ 3600 IN SOA ns.%s. hostmaster.%s. %u 3600 900 604800 %u\n"
            "@ 3600 IN NS ns.%s.\n"
            "ns 3600 IN A 127.0.0.1\n",
            srv->zone, srv->zone, (unsigned)srv->serial,
            cfg->soa_minimum ? cfg->soa_minimum : 60u, srv->zone);
  if (cfg->records)
    for (const char *const *r = cfg->records; *r; r++)
      sb_printf(&b, "%s\n", *r);
  if (cfg->records_text)
    sb_printf(&b, "%s\n", cfg->records_text);
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.zone", srv->dir, srv->zone);
  int rc = b.oom ? -1 : write_file(path, b.p);
  free(b.p);
  return rc;
}

static int write_knot_conf(ft_dns_server *srv, const ft_dns_config *cfg) {
  sbuf b = {0};
  sb_printf(&b,
            "server:\n"
            "    rundir: \"%s\"\n"
            "    pidfile: \"%s/knot.pid\"\n"
            "    listen: 127.0.0.1@%d\n",
            srv->dir, srv->dir, srv->port);
  if (srv->ipv6)
    sb_printf(&b, "    listen: ::1@%d\n", srv->port);
  sb_printf(&b,
            "control:\n"
            "    listen: \"%s/knot.sock\"\n"
            "log:\n"
            "  - target: stderr\n"
            "    any: info\n"
            "database:\n"
            "    storage: \"%s\"\n"
            "key:\n"
            "  - id: %s\n"
            "    algorithm: hmac-sha256\n"
            "    secret: %s\n",
            srv->dir, srv->dir, srv->key_name, srv->key_secret);
  sb_printf(&b, "remote:\n");
  if (cfg->primary)
    sb_printf(&b,
              "  - id: primary\n"
              "    address: 127.0.0.1@%d\n",
              cfg->primary->port);
  if (cfg->notify_port)
    sb_printf(&b,
              "  - id: secondary\n"
              "    address: 127.0.0.1@%d\n",
              cfg->notify_port);
  if (!cfg->primary && !cfg->notify_port)
    sb_printf(&b,
              "  - id: nobody\n"
              "    address: 127.0.0.1@9\n");
  sb_printf(&b,
            "acl:\n"
            "  - id: update\n"
            "    key: %s\n"
            "    action: update\n"
            "  - id: transfer\n"
            "    address: [127.0.0.0/8, ::1]\n"
            "    action: transfer\n"
            /* A rule without a key matches unsigned requests only: signed
             * transfers (the AXFR client) need their own rule. */
            "  - id: transfer-key\n"
            "    key: %s\n"
            "    action: transfer\n"
            "  - id: notify\n"
            "    address: [127.0.0.0/8, ::1]\n"
            "    action: notify\n"
            "template:\n"
            "  - id: default\n"
            "    storage: \"%s\"\n"
            "    file: \"%%s.zone\"\n"
            "    zonefile-sync: -1\n"
            "    zonefile-load: whole\n"
            "    journal-content: changes\n"
            "    semantic-checks: off\n"
            "zone:\n"
            "  - domain: %s\n",
            srv->key_name, srv->key_name, srv->dir, srv->zone);
  if (cfg->primary)
    sb_printf(&b,
              "    master: primary\n"
              "    acl: [notify, transfer, transfer-key, update]\n");
  else
    sb_printf(&b, "    acl: [update, transfer, transfer-key]\n");
  if (cfg->notify_port)
    sb_printf(&b, "    notify: secondary\n");
  if (cfg->extra_conf)
    sb_printf(&b, "%s\n", cfg->extra_conf);
  int rc = b.oom ? -1 : write_file(srv->conf, b.p);
  free(b.p);
  return rc;
}

static int write_bind_conf(ft_dns_server *srv, const ft_dns_config *cfg) {
  sbuf b = {0};
  sb_printf(&b,
            "options {\n"
            "  directory \"%s\";\n"
            "  pid-file \"%s/named.pid\";\n"
            "  session-keyfile \"%s/session.key\";\n"
            "  managed-keys-directory \"%s\";\n"
            "  dump-file \"%s/named.dump\";\n"
            "  statistics-file \"%s/named.stats\";\n"
            "  listen-on port %d { 127.0.0.1; };\n",
            srv->dir, srv->dir, srv->dir, srv->dir, srv->dir, srv->dir,
            srv->port);
  if (srv->ipv6)
    sb_printf(&b, "  listen-on-v6 port %d { ::1; };\n", srv->port);
  else
    sb_printf(&b, "  listen-on-v6 { none; };\n");
  sb_printf(&b,
            "  recursion no;\n"
            "  dnssec-validation no;\n"
            "  allow-query { any; };\n"
            "  notify-delay 0;\n"
            "  minimal-responses no;\n"
            "};\n"
            "controls { };\n"
            "key \"%s\" { algorithm hmac-sha256; secret \"%s\"; };\n",
            srv->key_name, srv->key_secret);
  if (cfg->primary) {
    sb_printf(&b,
              "zone \"%s\" {\n"
              "  type secondary;\n"
              "  file \"%s.zone\";\n"
              "  primaries port %d { 127.0.0.1; };\n"
              "  allow-notify { 127.0.0.1; };\n"
              "};\n",
              srv->zone, srv->zone, cfg->primary->port);
  } else {
    sb_printf(&b,
              "zone \"%s\" {\n"
              "  type primary;\n"
              "  file \"%s.zone\";\n"
              "  update-policy { grant %s zonesub ANY; };\n"
              "  allow-transfer { key %s; 127.0.0.0/8; ::1; };\n",
              srv->zone, srv->zone, srv->key_name, srv->key_name);
    if (cfg->notify_port)
      sb_printf(&b,
                "  notify explicit;\n"
                "  also-notify { 127.0.0.1 port %d; };\n",
                cfg->notify_port);
    else
      sb_printf(&b, "  notify no;\n");
    sb_printf(&b, "};\n");
  }
  if (cfg->extra_conf)
    sb_printf(&b, "%s\n", cfg->extra_conf);
  int rc = b.oom ? -1 : write_file(srv->conf, b.p);
  free(b.p);
  return rc;
}

/* ---- start / stop --------------------------------------------------------- */

static int start_once(ft_dns_server *srv, const ft_dns_config *cfg,
                      int port) {
  srv->port = port;
  snprintf(srv->addr4, sizeof srv->addr4, "127.0.0.1:%d", port);
  if (srv->ipv6)
    snprintf(srv->addr6, sizeof srv->addr6, "[::1]:%d", port);
  else
    srv->addr6[0] = '\0';
  int wrc = srv->kind == FT_DNS_KNOT ? write_knot_conf(srv, cfg)
                                     : write_bind_conf(srv, cfg);
  if (wrc != 0) {
    set_error(srv, "cannot write %s: %s", srv->conf, strerror(errno));
    return -1;
  }
  /* Start the log afresh for this attempt. */
  write_file(srv->log, "");
  char *knot_argv[] = {"knotd", "-c", srv->conf, NULL};
  char *bind_argv[] = {"named", "-g", "-c", srv->conf, NULL};
  char *const *argv = srv->kind == FT_DNS_KNOT ? knot_argv : bind_argv;
  pid_t pid = ft_spawn(argv, srv->dir, NULL, srv->log);
  if (pid < 0) {
    set_error(srv, "fork: %s", strerror(errno));
    return -1;
  }
  srv->pid = pid;
  int timeout = cfg->ready_timeout_ms > 0 ? cfg->ready_timeout_ms : 10000;
  double deadline = ft_dns_now_ms() + timeout;
  uint32_t want = srv->serial;
  for (;;) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      srv->pid = 0;
      char tail[400];
      ft_dns_log_tail(srv, tail, sizeof tail);
      set_error(srv, "%s exited (status %d) before it was ready: ...%s",
                argv[0], status, tail);
      return 1; /* retryable */
    }
    uint32_t serial;
    if (ft_dns_soa_serial(port, srv->zone, 100, &serial) == 0 &&
        serial == want)
      break;
    if (log_contains(srv, "in use") || log_contains(srv, "cannot bind") ||
        log_contains(srv, "failed to bind")) {
      set_error(srv, "%s could not bind port %d", argv[0], port);
      ft_dns_stop(srv);
      return 1;
    }
    if (ft_dns_now_ms() >= deadline) {
      char tail[400];
      ft_dns_log_tail(srv, tail, sizeof tail);
      set_error(srv, "%s on port %d not ready (SOA serial %u) after %d ms: ...%s",
                argv[0], port, (unsigned)want, timeout, tail);
      char keep[sizeof srv->error];
      memcpy(keep, srv->error, sizeof keep);
      ft_dns_signal_stop(srv);
      int st;
      if (!wait_deadline(srv->pid, 3000, &st)) {
        kill(srv->pid, SIGKILL);
        waitpid(srv->pid, &st, 0);
      }
      srv->pid = 0;
      memcpy(srv->error, keep, sizeof keep);
      return 1;
    }
    sleep_ms(10);
  }
  return 0;
}

int ft_dns_start(ft_dns_server *srv, ft_dns_kind kind,
                 const ft_dns_config *cfg_in) {
  ft_dns_config defaults = FT_DNS_CONFIG_INIT;
  const ft_dns_config *cfg = cfg_in ? cfg_in : &defaults;
  memset(srv, 0, sizeof *srv);
  srv->kind = kind;
  if (kind != FT_DNS_KNOT && kind != FT_DNS_BIND) {
    set_error(srv, "unknown server kind %d", (int)kind);
    return -1;
  }
  const char *zone = cfg->zone ? cfg->zone : FT_DNS_DEFAULT_ZONE;
  size_t zl = strlen(zone);
  if (zl == 0 || zl >= sizeof srv->zone) {
    set_error(srv, "bad zone");
    return -1;
  }
  memcpy(srv->zone, zone, zl + 1);
  if (srv->zone[zl - 1] == '.')
    srv->zone[zl - 1] = '\0';
  srv->ipv6 = !cfg->no_ipv6;

  const char *tmp = getenv("TMPDIR");
  if (!tmp || !tmp[0])
    tmp = "/tmp";
  snprintf(srv->dir, sizeof srv->dir, "%s/ft-dns-%s-XXXXXX", tmp,
           kind == FT_DNS_KNOT ? "knot" : "bind");
  if (!mkdtemp(srv->dir)) {
    set_error(srv, "mkdtemp %s: %s", srv->dir, strerror(errno));
    srv->dir[0] = '\0';
    return -1;
  }
  snprintf(srv->conf, sizeof srv->conf, "%s/%s", srv->dir,
           kind == FT_DNS_KNOT ? "knot.conf" : "named.conf");
  snprintf(srv->log, sizeof srv->log, "%s/server.log", srv->dir);
  snprintf(srv->key_name, sizeof srv->key_name, "%s", FT_DNS_KEY_NAME);
  unsigned char secret[32];
  fill_random(secret, sizeof secret);
  base64(secret, sizeof secret, srv->key_secret);

  if (cfg->primary) {
    /* The zone comes by transfer: same zone, same key. */
    memcpy(srv->zone, cfg->primary->zone, sizeof srv->zone);
    memcpy(srv->key_secret, cfg->primary->key_secret, sizeof srv->key_secret);
    if (ft_dns_soa_serial(cfg->primary->port, srv->zone, 1000,
                          &srv->serial) != 0) {
      set_error(srv, "primary on port %d does not answer",
                cfg->primary->port);
      remove_tree(srv->dir);
      return -1;
    }
  } else {
    uint32_t r;
    fill_random(&r, sizeof r);
    srv->serial = 1000000u + r % 1000000000u;
    if (write_zone(srv, cfg) != 0) {
      set_error(srv, "cannot write the zone file in %s", srv->dir);
      remove_tree(srv->dir);
      return -1;
    }
  }

  int attempts = cfg->port ? 1 : 5;
  for (int i = 0; i < attempts; i++) {
    int port = cfg->port ? cfg->port : ft_dns_pick_port(srv->ipv6);
    if (port < 0) {
      set_error(srv, "no free port");
      break;
    }
    int rc = start_once(srv, cfg, port);
    if (rc == 0)
      return 0;
    if (rc < 0)
      break;
  }
  char keep[sizeof srv->error];
  memcpy(keep, srv->error, sizeof keep);
  ft_dns_stop(srv);
  memcpy(srv->error, keep, sizeof keep);
  return -1;
}

int ft_dns_start_pair(ft_dns_server *primary, ft_dns_server *secondary,
                      ft_dns_kind kind, const ft_dns_config *cfg_in) {
  ft_dns_config cfg = cfg_in ? *cfg_in : (ft_dns_config)FT_DNS_CONFIG_INIT;
  memset(secondary, 0, sizeof *secondary);
  for (int attempt = 0; attempt < 3; attempt++) {
    int sport = ft_dns_pick_port(!cfg.no_ipv6);
    if (sport < 0)
      break;
    cfg.notify_port = sport;
    if (ft_dns_start(primary, kind, &cfg) != 0)
      return -1;
    ft_dns_config scfg = FT_DNS_CONFIG_INIT;
    scfg.primary = primary;
    scfg.port = sport;
    scfg.no_ipv6 = cfg.no_ipv6;
    scfg.ready_timeout_ms = cfg.ready_timeout_ms;
    if (ft_dns_start(secondary, kind, &scfg) == 0)
      return 0;
    char why[sizeof primary->error];
    memcpy(why, secondary->error, sizeof why);
    ft_dns_stop(primary);
    memcpy(primary->error, why, sizeof why);
  }
  if (!primary->error[0])
    set_error(primary, "no free port for the secondary");
  return -1;
}

void ft_dns_signal_stop(ft_dns_server *srv) {
  if (srv->pid > 0)
    kill(srv->pid, SIGTERM);
}

int ft_dns_stop(ft_dns_server *srv) {
  int rc = 0;
  if (srv->pid > 0) {
    int status;
    kill(srv->pid, SIGTERM);
    if (!wait_deadline(srv->pid, 5000, &status)) {
      kill(srv->pid, SIGKILL);
      waitpid(srv->pid, &status, 0);
      rc = -1;
    }
    srv->pid = 0;
  }
  remove_tree(srv->dir);
  srv->dir[0] = '\0';
  return rc;
}

/* ---- updates -------------------------------------------------------------- */

int ft_dns_update(ft_dns_server *srv, const char *lines) {
  if (!srv->dir[0]) {
    set_error(srv, "server has no directory");
    return -1;
  }
  char script[1024], out[1024];
  uint32_t r;
  fill_random(&r, sizeof r);
  snprintf(script, sizeof script, "%s/update-%08x.txt", srv->dir,
           (unsigned)r);
  snprintf(out, sizeof out, "%s/update-%08x.log", srv->dir, (unsigned)r);
  sbuf b = {0};
  sb_printf(&b, "server 127.0.0.1 %d\nzone %s.\n", srv->port, srv->zone);
  if (srv->kind == FT_DNS_KNOT)
    sb_printf(&b, "origin %s.\n", srv->zone);
  /* nsupdate has no "origin": qualify relative owners ourselves. */
  const char *p = lines;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char line[1024];
    if (len >= sizeof line)
      len = sizeof line - 1;
    memcpy(line, p, len);
    line[len] = '\0';
    p += len + (nl ? 1 : 0);
    if (srv->kind == FT_DNS_BIND) {
      /* "update add|delete OWNER rest": make OWNER absolute. */
      char cmd[32], op[32], owner[300];
      int consumed = 0;
      if (sscanf(line, "%31s %31s %299s%n", cmd, op, owner, &consumed) == 3 &&
          strcmp(cmd, "update") == 0 && owner[strlen(owner) - 1] != '.') {
        sb_printf(&b, "%s %s %s.%s.%s\n", cmd, op, owner, srv->zone,
                  line + consumed);
        continue;
      }
    }
    sb_printf(&b, "%s\n", line);
  }
  sb_printf(&b, "send\n");
  int wrc = b.oom ? -1 : write_file(script, b.p);
  free(b.p);
  if (wrc != 0) {
    set_error(srv, "cannot write %s", script);
    return -1;
  }
  char key[200];
  snprintf(key, sizeof key, "hmac-sha256:%s:%s", srv->key_name,
           srv->key_secret);
  char *kargv[] = {"knsupdate", "-y", key, script, NULL};
  char *nargv[] = {"nsupdate", "-y", key, script, NULL};
  int rc = run(srv->kind == FT_DNS_KNOT ? kargv : nargv, srv->dir, NULL, out,
               10000);
  if (rc != 0) {
    FILE *f = fopen(out, "r");
    char msg[300] = "";
    if (f) {
      size_t n = fread(msg, 1, sizeof msg - 1, f);
      msg[n] = '\0';
      fclose(f);
    }
    set_error(srv, "%s exited %d: %s",
              srv->kind == FT_DNS_KNOT ? "knsupdate" : "nsupdate", rc, msg);
    return -1;
  }
  remove(script);
  remove(out);
  if (srv->kind == FT_DNS_KNOT) {
    char sock[1024];
    snprintf(sock, sizeof sock, "%s/knot.sock", srv->dir);
    char zone[300];
    snprintf(zone, sizeof zone, "%s.", srv->zone);
    char *cargv[] = {"knotc", "-s", sock, "zone-notify", zone, NULL};
    run(cargv, srv->dir, NULL, "/dev/null", 5000); /* best effort */
  }
  return 0;
}

/* ---- halt / restart, key file ------------------------------------------------ */

int ft_dns_write_key_file(const ft_dns_server *srv, const char *path) {
  char text[512];
  snprintf(text, sizeof text,
           "key \"%s\" {\n\talgorithm hmac-sha256;\n\tsecret \"%s\";\n};\n",
           srv->key_name, srv->key_secret);
  return write_file(path, text);
}

int ft_dns_halt(ft_dns_server *srv) {
  int rc = 0;
  if (srv->pid > 0) {
    int status;
    kill(srv->pid, SIGTERM);
    if (!wait_deadline(srv->pid, 5000, &status)) {
      kill(srv->pid, SIGKILL);
      waitpid(srv->pid, &status, 0);
      rc = -1;
    }
    srv->pid = 0;
  }
  return rc;
}

int ft_dns_restart(ft_dns_server *srv, int timeout_ms) {
  if (!srv->dir[0]) {
    set_error(srv, "server has no directory");
    return -1;
  }
  if (srv->pid > 0)
    ft_dns_halt(srv);
  char *knot_argv[] = {"knotd", "-c", srv->conf, NULL};
  char *bind_argv[] = {"named", "-g", "-c", srv->conf, NULL};
  char *const *argv = srv->kind == FT_DNS_KNOT ? knot_argv : bind_argv;
  double deadline = ft_dns_now_ms() + (timeout_ms > 0 ? timeout_ms : 10000);
  /* The port may take a moment to be free again: retry the start. */
  for (;;) {
    pid_t pid = ft_spawn(argv, srv->dir, NULL, srv->log);
    if (pid < 0) {
      set_error(srv, "fork: %s", strerror(errno));
      return -1;
    }
    srv->pid = pid;
    for (;;) {
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        srv->pid = 0;
        break; /* exited: try again below */
      }
      uint32_t serial;
      if (ft_dns_soa_serial(srv->port, srv->zone, 100, &serial) == 0 &&
          serial >= srv->serial)
        return 0;
      if (ft_dns_now_ms() >= deadline) {
        char tail[400];
        ft_dns_log_tail(srv, tail, sizeof tail);
        ft_dns_halt(srv);
        set_error(srv, "%s on port %d not ready again after restart: ...%s",
                  argv[0], srv->port, tail);
        return -1;
      }
      sleep_ms(10);
    }
    if (ft_dns_now_ms() >= deadline) {
      char tail[400];
      ft_dns_log_tail(srv, tail, sizeof tail);
      set_error(srv, "%s exited at restart on port %d: ...%s", argv[0],
                srv->port, tail);
      return -1;
    }
    sleep_ms(50);
  }
}

int ft_dns_wait_serial(const ft_dns_server *srv, uint32_t min_serial,
                       int timeout_ms) {
  double deadline = ft_dns_now_ms() + timeout_ms;
  for (;;) {
    uint32_t s;
    if (ft_dns_soa_serial(srv->port, srv->zone, 100, &s) == 0 &&
        s >= min_serial)
      return 0;
    if (ft_dns_now_ms() >= deadline)
      return -1;
    sleep_ms(10);
  }
}

/* ---- environment ----------------------------------------------------------- */

static void env_set(const char *tag, const char *field, const char *value) {
  char name[128];
  snprintf(name, sizeof name, "FT_DNS_%s_%s", tag, field);
  setenv(name, value, 1);
}

static const char *env_get(const char *tag, const char *field) {
  char name[128];
  snprintf(name, sizeof name, "FT_DNS_%s_%s", tag, field);
  return getenv(name);
}

void ft_dns_export(const ft_dns_server *srv, const char *tag) {
  char num[32];
  snprintf(num, sizeof num, "%ld", (long)srv->pid);
  env_set(tag, "PID", num);
  snprintf(num, sizeof num, "%d", srv->port);
  env_set(tag, "PORT", num);
  snprintf(num, sizeof num, "%d", (int)srv->kind);
  env_set(tag, "KIND", num);
  snprintf(num, sizeof num, "%d", srv->ipv6);
  env_set(tag, "IPV6", num);
  snprintf(num, sizeof num, "%u", (unsigned)srv->serial);
  env_set(tag, "SERIAL", num);
  env_set(tag, "ZONE", srv->zone);
  env_set(tag, "DIR", srv->dir);
  env_set(tag, "KEY", srv->key_name);
  env_set(tag, "SECRET", srv->key_secret);
}

int ft_dns_import(ft_dns_server *srv, const char *tag) {
  memset(srv, 0, sizeof *srv);
  const char *port = env_get(tag, "PORT"), *kind = env_get(tag, "KIND"),
             *ipv6 = env_get(tag, "IPV6"), *serial = env_get(tag, "SERIAL"),
             *zone = env_get(tag, "ZONE"), *dir = env_get(tag, "DIR"),
             *key = env_get(tag, "KEY"), *secret = env_get(tag, "SECRET");
  if (!port || !kind || !ipv6 || !serial || !zone || !dir || !key || !secret) {
    set_error(srv, "FT_DNS_%s_* not set", tag);
    return -1;
  }
  srv->pid = 0;
  srv->port = atoi(port);
  srv->kind = (ft_dns_kind)atoi(kind);
  srv->ipv6 = atoi(ipv6);
  srv->serial = (uint32_t)strtoul(serial, NULL, 10);
  snprintf(srv->zone, sizeof srv->zone, "%s", zone);
  snprintf(srv->dir, sizeof srv->dir, "%s", dir);
  snprintf(srv->key_name, sizeof srv->key_name, "%s", key);
  snprintf(srv->key_secret, sizeof srv->key_secret, "%s", secret);
  snprintf(srv->conf, sizeof srv->conf, "%s/%s", srv->dir,
           srv->kind == FT_DNS_KNOT ? "knot.conf" : "named.conf");
  snprintf(srv->log, sizeof srv->log, "%s/server.log", srv->dir);
  snprintf(srv->addr4, sizeof srv->addr4, "127.0.0.1:%d", srv->port);
  if (srv->ipv6)
    snprintf(srv->addr6, sizeof srv->addr6, "[::1]:%d", srv->port);
  return 0;
}
