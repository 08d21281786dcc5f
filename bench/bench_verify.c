/*
 * bench_verify.c - how fast the verifier checks names against a real
 * authoritative server, compared with dnsperf against the same server.
 *
 * Starts knotd on loopback (tests/support/dns_fixture.c) with a zone of N
 * names (100,000 by default), each a CNAME to one of H hosts that have an A
 * record in the same zone:
 *
 *   n0.failover.example.net.  300 IN CNAME h0.failover.example.net.
 *   h0.failover.example.net.  300 IN A     10.0.0.0
 *
 * then, in the same run and against the same server:
 *
 *   verify   one verifier (one server, default timeout and tries,
 *            max_in_flight 100) checks every name once with
 *            FO_EXPECT_CNAME to its host: qps = N / elapsed, from the first
 *            fo_verify_name() to the last callback. Every result must be
 *            FO_VERIFY_MATCH.
 *   dnsperf  dnsperf -c 1 -q 100 -n 1 over the same N names (type A, one
 *            pass): its "Queries per second".
 *   c-ares   (when built with c-ares, unless --no-cares) the bare c-ares +
 *            libuv loop REAL-DNS.md describes: one uv_poll per socket, one
 *            timer from ares_timeout(), ares_query() type A with 100 in
 *            flight, refilled from the callback; it only counts replies (no
 *            parsing, no comparison): the aim, not a goal.
 *
 * All are repeated (--repeat, 5 by default), interleaved (verify, dnsperf,
 * c-ares, verify, ...), and the medians compared. The last line is
 * machine-readable:
 *
 *   verify: names=N qps=Q dnsperf_qps=D ratio=R
 *
 * The goal (verify at least as fast as dnsperf, ratio >= 1.00) is printed as
 * PASS/MISS and never fails the run. The exit status is 1 on a correctness
 * failure (any result that is not a match, a failed call, a loop left with
 * open handles) or when the server or dnsperf cannot be run, and 77 (skip)
 * when knotd or dnsperf is not installed.
 *
 * Usage: bench-verify [--names N] [--hosts H] [--in-flight K] [--repeat R]
 *                     [--window W] [--sweep] [--no-dnsperf] [--no-cares]
 *
 *   --window W    submit at most W checks at a time (more from the callbacks)
 *                 instead of all N up front
 *   --sweep       first run the verifier once at each in-flight limit of
 *                 25, 50, 100, 200 and 400
 *   --no-dnsperf  verifier only (for profiling); dnsperf_qps=0 ratio=0.00
 *   --no-cares    leave out the bare c-ares loop
 */
#define _POSIX_C_SOURCE 200809L

#include <failover.h>
#include <failover/verify.h>

#include "dns_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef BENCH_HAVE_CARES
#include <sys/select.h> /* fd_set, struct timeval for <ares.h> */
#include <sys/time.h>
#include <ares.h>
#endif

#define DEFAULT_NAMES 100000u
#define DEFAULT_HOSTS 1000u
#define DEFAULT_IN_FLIGHT 100u
#define DEFAULT_REPEAT 5
#define MAX_REPEAT 15
#define EXIT_SKIP 77

#define GOAL_RATIO 1.0

static const char *const ZONE = FT_DNS_DEFAULT_ZONE;

/* In-flight limits tried by --sweep. */
static const unsigned SWEEP[] = {25, 50, 100, 200, 400};

/* ---- helpers -------------------------------------------------------------- */

static void fail(const char *msg) {
  fprintf(stderr, "bench-verify: FAILED: %s\n", msg);
  exit(1);
}

static void check(int rc, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "bench-verify: %s failed: %s (%s)\n", what,
            fo_err_name(rc), fo_strerror(rc));
    exit(1);
  }
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL)
    fail("out of memory in the benchmark itself");
  return p;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long parse_count(const char *s, const char *opt,
                                 unsigned long max) {
  char *end;
  unsigned long v;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v == 0 ||
      v > max) {
    fprintf(stderr, "bench-verify: bad value for %s: '%s'\n", opt, s);
    exit(2);
  }
  return v;
}

/* An executable called `prog` in $PATH or in the sbin directories (knotd
 * lives in /usr/sbin, which is not always in a test's PATH). */
static int have_program(const char *prog) {
  const char *path = getenv("PATH");
  char buf[4096];
  const char *extra = "/usr/local/sbin:/usr/sbin:/sbin";
  for (int round = 0; round < 2; round++) {
    const char *p = round == 0 ? (path ? path : "") : extra;
    while (*p != '\0') {
      const char *colon = strchr(p, ':');
      size_t len = colon ? (size_t)(colon - p) : strlen(p);
      if (len > 0 && len + strlen(prog) + 2 < sizeof buf) {
        memcpy(buf, p, len);
        buf[len] = '/';
        strcpy(buf + len + 1, prog);
        if (access(buf, X_OK) == 0)
          return 1;
      }
      p += len;
      if (*p == ':')
        p++;
    }
  }
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* ---- the zone ------------------------------------------------------------- */

typedef struct zone_names {
  size_t n, hosts;
  char *buf;           /* every name and host, NUL-separated */
  const char **name;   /* n: "n<i>.<zone>" */
  const char **target; /* n: the host of name i */
  const char **host;   /* hosts: "h<j>.<zone>" */
} zone_names;

static void make_names(zone_names *z, size_t n, size_t hosts) {
  size_t per = strlen(ZONE) + 24, off = 0, i;
  z->n = n;
  z->hosts = hosts;
  z->buf = xmalloc((n + hosts) * per);
  z->name = xmalloc(n * sizeof *z->name);
  z->target = xmalloc(n * sizeof *z->target);
  z->host = xmalloc(hosts * sizeof *z->host);
  for (i = 0; i < hosts; i++) {
    z->host[i] = z->buf + off;
    off += (size_t)sprintf(z->buf + off, "h%zu.%s", i, ZONE) + 1;
  }
  for (i = 0; i < n; i++) {
    z->name[i] = z->buf + off;
    off += (size_t)sprintf(z->buf + off, "n%zu.%s", i, ZONE) + 1;
    z->target[i] = z->host[i % hosts];
  }
}

/* Zone-file lines for the fixture: relative owners, absolute targets. */
static char *zone_text(const zone_names *z) {
  size_t cap = (z->n + z->hosts) * (2 * strlen(ZONE) + 64) + 1, len = 0, i;
  char *text = xmalloc(cap);
  for (i = 0; i < z->hosts; i++)
    len += (size_t)sprintf(text + len, "h%zu 300 IN A 10.%u.%u.%u\n", i,
                           (unsigned)(i >> 16) & 255u,
                           (unsigned)(i >> 8) & 255u, (unsigned)i & 255u);
  for (i = 0; i < z->n; i++)
    len += (size_t)sprintf(text + len, "n%zu 300 IN CNAME %s.\n", i,
                           z->target[i]);
  return text;
}

/* ---- one verifier pass ---------------------------------------------------- */

typedef struct vpass {
  const zone_names *z;
  fo_verifier *v;
  fo_verify_params params;
  size_t next, done, window;
  unsigned long long by_status[16];
  unsigned long long errors; /* result->error != 0 */
  char first_bad[512];
  int closed;
  double t1;
} vpass;

static void on_closed(void *userdata) { ((vpass *)userdata)->closed = 1; }

static void on_result(const fo_verify_result *r, void *userdata);

static void submit(vpass *p) {
  size_t i = p->next++;
  fo_expectation e = FO_EXPECTATION_INIT;
  e.kind = FO_EXPECT_CNAME;
  e.target = p->z->target[i];
  check(fo_verify_name(NULL, p->v, p->z->name[i], &e, &p->params, on_result,
                       p),
        "fo_verify_name");
}

static void on_result(const fo_verify_result *r, void *userdata) {
  vpass *p = userdata;
  p->by_status[(unsigned)r->status < 16 ? (unsigned)r->status : 15]++;
  if (r->error != 0)
    p->errors++;
  if ((r->status != FO_VERIFY_MATCH || r->error != 0) &&
      p->first_bad[0] == '\0') {
    const fo_server_answer *s = fo_verify_result_server(r, 0);
    snprintf(p->first_bad, sizeof p->first_bad,
             "%s: %s, error %s, rcode %d, chain %zu, rounds %lu", r->name,
             fo_verify_status_name(r->status), fo_err_name(r->error),
             s ? s->rcode : -1, s ? s->chain_length : 0,
             s ? (unsigned long)s->rounds : 0ul);
  }
  p->done++;
  if (p->window != 0 && p->next < p->z->n)
    submit(p);
  if (p->done == p->z->n) {
    p->t1 = now();
    fo_verifier_close(p->v, on_closed, p);
  }
}

typedef struct vresult {
  double qps, elapsed_s, submit_s, cpu_us_per_name;
  unsigned long long non_match;
} vresult;

static vresult run_verify(const zone_names *z, const char *server,
                          unsigned in_flight, size_t window, int quiet) {
  uv_loop_t loop;
  fo_verifier_options opts;
  const char *servers[1];
  vpass p;
  vresult res;
  double t0, ts, c0, c1;
  size_t first;
  int rc;

  memset(&p, 0, sizeof p);
  p.z = z;
  p.window = window;
  p.params.version = FO_VERIFY_PARAMS_VERSION; /* one round */

  if (uv_loop_init(&loop) != 0)
    fail("uv_loop_init");
  check(fo_verifier_options_init(&opts, FO_VERIFIER_OPTIONS_VERSION),
        "fo_verifier_options_init");
  servers[0] = server;
  opts.servers = servers;
  opts.server_count = 1;
  opts.max_in_flight = in_flight;
  check(fo_verifier_new(&p.v, &loop, &opts), "fo_verifier_new");

  first = window != 0 && window < z->n ? window : z->n;
  c0 = cpu_now();
  t0 = now();
  while (p.next < first)
    submit(&p);
  ts = now();
  uv_run(&loop, UV_RUN_DEFAULT);
  c1 = cpu_now();

  if (p.done != z->n || !p.closed)
    fail("the loop stopped before every check was called back and the "
         "verifier closed");
  rc = uv_loop_close(&loop);
  if (rc != 0) {
    fprintf(stderr, "bench-verify: uv_loop_close: %s\n", uv_strerror(rc));
    fail("a libuv handle was left open after fo_verifier_close()");
  }

  res.elapsed_s = p.t1 - t0;
  res.submit_s = ts - t0;
  res.qps = (double)z->n / res.elapsed_s;
  res.cpu_us_per_name = (c1 - c0) * 1e6 / (double)z->n;
  res.non_match = (unsigned long long)z->n - p.by_status[FO_VERIFY_MATCH] +
                  p.errors;
  if (!quiet || res.non_match != 0) {
    printf("verify   in_flight=%-4u names=%zu elapsed=%.3f s (submit %.3f s) "
           "qps=%.0f cpu=%.2f us/name match=%llu",
           in_flight, z->n, res.elapsed_s, res.submit_s, res.qps,
           res.cpu_us_per_name,
           p.by_status[FO_VERIFY_MATCH]);
    for (unsigned s = 0; s < 16; s++)
      if (s != FO_VERIFY_MATCH && p.by_status[s] != 0)
        printf(" %s=%llu", fo_verify_status_name((fo_verify_status)s),
               p.by_status[s]);
    if (p.errors)
      printf(" errors=%llu", p.errors);
    printf("\n");
    if (p.first_bad[0] != '\0')
      printf("         first non-match: %s\n", p.first_bad);
  }
  fflush(stdout);
  return res;
}

/* ---- dnsperf ------------------------------------------------------------- */

static void write_dnsperf_input(const zone_names *z, const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    fail("cannot write the dnsperf input file");
  }
  for (size_t i = 0; i < z->n; i++)
    fprintf(f, "%s A\n", z->name[i]);
  if (fclose(f) != 0)
    fail("cannot write the dnsperf input file");
}

/* One pass of dnsperf over the file: its queries per second, or exit. */
static double run_dnsperf(const char *input, int port, unsigned in_flight,
                          size_t n) {
  char cmd[2048], line[512], out[8192];
  size_t out_len = 0;
  double qps = -1, completed = -1, lost = -1;
  FILE *f;
  int status;

  snprintf(cmd, sizeof cmd,
           "dnsperf -s 127.0.0.1 -p %d -d '%s' -c 1 -q %u -n 1 2>&1", port,
           input, in_flight);
  f = popen(cmd, "r");
  if (f == NULL)
    fail("popen(dnsperf)");
  while (fgets(line, sizeof line, f) != NULL) {
    size_t len = strlen(line);
    const char *p;
    if (out_len + len < sizeof out) {
      memcpy(out + out_len, line, len + 1);
      out_len += len;
    }
    if ((p = strstr(line, "Queries per second:")) != NULL)
      qps = strtod(p + strlen("Queries per second:"), NULL);
    else if ((p = strstr(line, "Queries completed:")) != NULL)
      completed = strtod(p + strlen("Queries completed:"), NULL);
    else if ((p = strstr(line, "Queries lost:")) != NULL)
      lost = strtod(p + strlen("Queries lost:"), NULL);
  }
  status = pclose(f);
  if (status != 0 || qps <= 0) {
    fprintf(stderr, "bench-verify: %s\n%s", cmd, out);
    fail("dnsperf failed or printed no \"Queries per second:\"");
  }
  printf("dnsperf  in_flight=%-4u names=%zu completed=%.0f lost=%.0f "
         "qps=%.0f\n",
         in_flight, n, completed, lost, qps);
  fflush(stdout);
  return qps;
}

/* ---- the bare c-ares + libuv loop ------------------------------------------ */

#ifdef BENCH_HAVE_CARES
typedef struct cpass cpass;

typedef struct csock {
  uv_poll_t poll;
  ares_socket_t fd;
  cpass *c;
  struct csock *next;
} csock;

struct cpass {
  uv_loop_t loop;
  uv_timer_t timer;
  ares_channel ch;
  csock *socks;
  const zone_names *z;
  size_t next, done, ok;
  double t1;
};

static void c_arm_timer(cpass *c);

static void c_timer_cb(uv_timer_t *t) {
  cpass *c = t->data;
  ares_process_fd(c->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  c_arm_timer(c);
}

static void c_arm_timer(cpass *c) {
  struct timeval tv, *tvp = ares_timeout(c->ch, NULL, &tv);
  if (tvp == NULL) {
    uv_timer_stop(&c->timer);
    return;
  }
  uv_timer_start(&c->timer, c_timer_cb,
                 (uint64_t)tvp->tv_sec * 1000u +
                     ((uint64_t)tvp->tv_usec + 999u) / 1000u,
                 0);
}

static void c_poll_cb(uv_poll_t *h, int status, int events) {
  csock *s = h->data;
  cpass *c = s->c;
  ares_socket_t r = ARES_SOCKET_BAD, w = ARES_SOCKET_BAD;
  if (status < 0) {
    r = w = s->fd; /* c-ares must see the error itself */
  } else {
    if (events & UV_READABLE)
      r = s->fd;
    if (events & UV_WRITABLE)
      w = s->fd;
  }
  ares_process_fd(c->ch, r, w);
  c_arm_timer(c);
}

static void c_free_sock(uv_handle_t *h) { free(h->data); }

static void c_sock_state(void *data, ares_socket_t fd, int readable,
                         int writable) {
  cpass *c = data;
  csock **pp = &c->socks, *s;
  while (*pp != NULL && (*pp)->fd != fd)
    pp = &(*pp)->next;
  s = *pp;
  if (readable || writable) {
    if (s == NULL) {
      s = xmalloc(sizeof *s);
      memset(s, 0, sizeof *s);
      s->fd = fd;
      s->c = c;
      if (uv_poll_init_socket(&c->loop, &s->poll, fd) != 0)
        fail("uv_poll_init_socket (c-ares)");
      s->poll.data = s;
      s->next = c->socks;
      c->socks = s;
    }
    uv_poll_start(&s->poll,
                  (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
                  c_poll_cb);
  } else if (s != NULL) {
    *pp = s->next;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, c_free_sock);
  }
}

static void c_submit(cpass *c);

static void c_cb(void *arg, int status, int timeouts, unsigned char *abuf,
                 int alen) {
  cpass *c = arg;
  (void)timeouts;
  (void)abuf;
  (void)alen;
  if (status == ARES_EDESTRUCTION)
    return;
  c->done++;
  if (status == ARES_SUCCESS)
    c->ok++;
  if (c->next < c->z->n)
    c_submit(c);
  if (c->done == c->z->n)
    c->t1 = now();
}

static void c_submit(cpass *c) {
  size_t i = c->next++;
  ares_query(c->ch, c->z->name[i], 1 /* C_IN */, 1 /* T_A */, c_cb, c);
}

/* One pass of the bare loop: its queries per second. */
static double run_cares(const zone_names *z, int port, unsigned in_flight) {
  static int inited;
  cpass c;
  struct ares_options o;
  char csv[64];
  double t0;
  if (!inited) {
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
      fail("ares_library_init");
    inited = 1;
  }
  memset(&c, 0, sizeof c);
  memset(&o, 0, sizeof o);
  c.z = z;
  if (uv_loop_init(&c.loop) != 0 || uv_timer_init(&c.loop, &c.timer) != 0)
    fail("uv_loop_init (c-ares)");
  c.timer.data = &c;
  o.timeout = 1000;
  o.tries = 3;
  o.sock_state_cb = c_sock_state;
  o.sock_state_cb_data = &c;
  if (ares_init_options(&c.ch, &o,
                        ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
                            ARES_OPT_SOCK_STATE_CB) != ARES_SUCCESS)
    fail("ares_init_options");
  snprintf(csv, sizeof csv, "127.0.0.1:%d", port);
  if (ares_set_servers_ports_csv(c.ch, csv) != ARES_SUCCESS)
    fail("ares_set_servers_ports_csv");
  t0 = now();
  while (c.next < z->n && c.next < in_flight)
    c_submit(&c);
  c_arm_timer(&c);
  while (c.done < z->n)
    uv_run(&c.loop, UV_RUN_ONCE);
  ares_destroy(c.ch);
  uv_close((uv_handle_t *)&c.timer, NULL);
  uv_run(&c.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&c.loop) != 0)
    fail("c-ares loop: handles left open");
  double qps = (double)z->n / (c.t1 - t0);
  printf("c-ares   in_flight=%-4u names=%zu elapsed=%.3f s qps=%.0f "
         "answered=%zu\n",
         in_flight, z->n, c.t1 - t0, qps, c.ok);
  if (c.ok != z->n)
    fail("the bare c-ares loop did not get every answer");
  fflush(stdout);
  return qps;
}
#endif

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv) {
  size_t nnames = DEFAULT_NAMES, nhosts = DEFAULT_HOSTS, window = 0;
  unsigned in_flight = DEFAULT_IN_FLIGHT;
  int repeat = DEFAULT_REPEAT, sweep = 0, dnsperf = 1, r;
#ifdef BENCH_HAVE_CARES
  int cares = 1;
#else
  int cares = 0;
#endif
  zone_names z;
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  ft_dns_server srv;
  char *text, input[700];
  double t0, t1, vq[MAX_REPEAT], dq[MAX_REPEAT], cq[MAX_REPEAT], q, d, c;
  unsigned long long bad = 0;

  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--names") == 0 && a + 1 < argc)
      nnames = parse_count(argv[++a], "--names", 10000000ul);
    else if (strcmp(argv[a], "--hosts") == 0 && a + 1 < argc)
      nhosts = parse_count(argv[++a], "--hosts", 1000000ul);
    else if (strcmp(argv[a], "--in-flight") == 0 && a + 1 < argc)
      in_flight = (unsigned)parse_count(argv[++a], "--in-flight", 4096ul);
    else if (strcmp(argv[a], "--repeat") == 0 && a + 1 < argc)
      repeat = (int)parse_count(argv[++a], "--repeat", MAX_REPEAT);
    else if (strcmp(argv[a], "--window") == 0 && a + 1 < argc)
      window = parse_count(argv[++a], "--window", 10000000ul);
    else if (strcmp(argv[a], "--sweep") == 0)
      sweep = 1;
    else if (strcmp(argv[a], "--no-dnsperf") == 0)
      dnsperf = 0; /* for profiling the verifier alone */
    else if (strcmp(argv[a], "--no-cares") == 0)
      cares = 0;
    else {
      fprintf(stderr,
              "usage: %s [--names N] [--hosts H] [--in-flight K] "
              "[--repeat R] [--window W] [--sweep] [--no-dnsperf] "
              "[--no-cares]\n",
              argv[0]);
      return 2;
    }
  }
  if (nhosts > nnames)
    nhosts = nnames;

  if (!have_program("knotd") || (dnsperf && !have_program("dnsperf"))) {
    printf("bench-verify: SKIP: knotd and dnsperf are needed "
           "(Debian: knot, dnsperf)\n");
    return EXIT_SKIP;
  }

  printf("bench-verify: libfailover %s, %zu names (CNAME -> A, %zu hosts), "
         "in flight %u, %d repeats\n",
         fo_version_string(), nnames, nhosts, in_flight, repeat);

  /* The zone, and knotd serving it. */
  make_names(&z, nnames, nhosts);
  text = zone_text(&z);
  cfg.zone = ZONE;
  cfg.records_text = text;
  cfg.no_ipv6 = 1;
  cfg.ready_timeout_ms = 60000;
  t0 = now();
  if (ft_dns_start(&srv, FT_DNS_KNOT, &cfg) != 0) {
    fprintf(stderr, "bench-verify: knotd: %s\n", srv.error);
    fail("cannot start knotd");
  }
  t1 = now();
  free(text);
  printf("knotd    port=%d zone=%s records=%zu ready in %.2f s\n", srv.port,
         ZONE, nnames + nhosts, t1 - t0);

  snprintf(input, sizeof input, "%s/dnsperf-input.txt", srv.dir);
  write_dnsperf_input(&z, input);

  /* Optional: the verifier at several in-flight limits, once each. */
  if (sweep) {
    for (size_t i = 0; i < sizeof SWEEP / sizeof SWEEP[0]; i++)
      bad += run_verify(&z, srv.addr4, SWEEP[i], window, 0).non_match;
  }

  /* Interleaved, so that a noisy neighbour hurts both alike. */
  for (r = 0; r < repeat; r++) {
    vresult v = run_verify(&z, srv.addr4, in_flight, window, 0);
    bad += v.non_match;
    vq[r] = v.qps;
    dq[r] = dnsperf ? run_dnsperf(input, srv.port, in_flight, z.n) : 0;
#ifdef BENCH_HAVE_CARES
    cq[r] = cares ? run_cares(&z, srv.port, in_flight) : 0;
#else
    cq[r] = 0;
#endif
  }

  ft_dns_stop(&srv);

  q = median(vq, repeat);
  d = median(dq, repeat);
  c = median(cq, repeat);
  if (dnsperf)
    printf("median   of %d interleaved passes: verify=%.0f qps dnsperf=%.0f "
           "qps: goal verify >= dnsperf: %s\n",
           repeat, q, d, q >= GOAL_RATIO * d ? "PASS" : "MISS");
  if (cares)
    printf("median   c-ares=%.0f qps (%.2fx dnsperf): verify/c-ares=%.2f "
           "(the aim: 1.00)\n",
           c, d > 0 ? c / d : 0.0, c > 0 ? q / c : 0.0);
  if (repeat > 1) {
    printf("spread   verify %.0f-%.0f", vq[0], vq[repeat - 1]);
    if (dnsperf)
      printf(", dnsperf %.0f-%.0f", dq[0], dq[repeat - 1]);
    if (cares)
      printf(", c-ares %.0f-%.0f", cq[0], cq[repeat - 1]);
    printf(" qps\n");
  }
  if (bad != 0)
    fprintf(stderr, "bench-verify: FAILED: %llu results were not a match\n",
            bad);
  printf("verify: names=%zu qps=%.0f dnsperf_qps=%.0f ratio=%.2f\n", z.n, q,
         d, d > 0 ? q / d : 0.0);

  free(z.buf);
  free(z.name);
  free(z.target);
  free(z.host);
  return bad != 0 ? 1 : 0;
}
