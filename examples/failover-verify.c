/*
 * failover-verify.c - ask DNS servers directly whether a name points where
 * it should, in the spirit of dig.
 *
 *   failover-verify NAME (--expect TARGET | --expect-address IP [...] |
 *                         --expect-none) @SERVER[:PORT] [@SERVER...]
 *                   [--until SECONDS] [--interval MS] [--timeout MS]
 *                   [--tries N] [--tcp] [--rd]
 *
 * For each server it prints what the server answered (status, RCODE, the AA
 * flag, the CNAME chain and the addresses at its end as zone-file lines, the
 * round trip, how many times it was asked and, with --until, when it first
 * matched) and a one-line verdict:
 *
 *   @127.0.0.1:5300: match
 *   @[::1]:5300: mismatch: CNAME to old.example.net. (expected new.example.net.)
 *
 * then one overall line. Without --until every server is asked once (with
 * its tries); with --until SECONDS a server that does not match yet is asked
 * again every --interval until it does or the deadline passes: that is how an
 * agent confirms that a switch has reached every server.
 *
 * Exit status: 0 when every server matches, 1 when any does not (or on a
 * run-time failure), 2 on a usage error.
 *
 * The program owns its libuv loop: it creates the verifier on it, starts one
 * check, runs the loop until the check's callback has fired and the verifier
 * has closed, and closes the loop (which fails if anything was left open).
 * Ctrl-C cancels the check: the callback then fires with FO_ECANCELED and
 * whatever the servers had said so far is printed.
 *
 * Build and run:
 *   cmake --build build --target failover-verify
 *   ./build/examples/failover-verify www.example.net --expect web.example.net \
 *       @127.0.0.1:5300
 */
#define _POSIX_C_SOURCE 200809L

#include <failover.h>
#include <failover/verify.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_MATCH 0
#define EXIT_MISMATCH 1
#define EXIT_USAGE 2

/* ---- command line -------------------------------------------------------- */

typedef struct args {
  const char *name;
  fo_expectation expect;
  const char *addresses[FO_VERIFY_ADDRESSES_MAX];
  const char *servers[FO_VERIFY_SERVERS_MAX];
  size_t server_count;
  double until_s; /* 0: one round */
  fo_verifier_options opts;
  fo_verify_params params;
} args;

static const char *prog = "failover-verify";

static void usage(FILE *f) {
  fprintf(f,
    "usage: %s NAME EXPECTATION @SERVER[:PORT] [@SERVER...] [OPTIONS]\n"
    "\n"
    "EXPECTATION, exactly one of:\n"
    "  --expect TARGET         NAME is a CNAME to TARGET\n"
    "  --expect-address IP...  NAME's A/AAAA set is exactly these addresses\n"
    "                          (list several, or repeat the option; at most %d)\n"
    "  --expect-none           NAME has no records (NXDOMAIN or NODATA)\n"
    "\n"
    "SERVER: an IP literal with an optional port (53 by default), at most %d:\n"
    "  @192.0.2.1  @127.0.0.1:5300  @::1  @[::1]:5300\n"
    "\n"
    "OPTIONS:\n"
    "  --until SECONDS   ask again until every server matches or SECONDS\n"
    "                    pass (the product's promise is %u); default: once\n"
    "  --interval MS     pause between rounds (default 1000)\n"
    "  --timeout MS      per query try (default 1000, at most 60000)\n"
    "  --tries N         tries per query, the first included (default 2)\n"
    "  --tcp             query over TCP instead of UDP\n"
    "  --rd              set RD, to ask a resolver (default: off,\n"
    "                    authoritative servers)\n"
    "  -h, --help        this text\n"
    "\n"
    "Exit status: 0 every server matches, 1 some server does not, 2 usage.\n",
    prog, FO_VERIFY_ADDRESSES_MAX, FO_VERIFY_SERVERS_MAX,
    FO_VERIFY_PROMISE_MS / 1000u);
}

static void usage_error(const char *fmt_what, const char *arg) {
  fprintf(stderr, "%s: %s%s%s%s\n\n", prog, fmt_what, arg ? " '" : "",
          arg ? arg : "", arg ? "'" : "");
  usage(stderr);
  exit(EXIT_USAGE);
}

static uint32_t parse_u32(const char *s, const char *opt, unsigned long min,
                          unsigned long max) {
  char *end;
  unsigned long v;
  if (s == NULL)
    usage_error("missing value for", opt);
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min ||
      v > max)
    usage_error("bad value for", opt);
  return (uint32_t)v;
}

/* An IPv4 or IPv6 literal, as an expected address. */
static int is_ip(const char *s) {
  unsigned char buf[16];
  return s != NULL && s[0] != '-' && s[0] != '@' &&
         (uv_inet_pton(AF_INET, s, buf) == 0 ||
          uv_inet_pton(AF_INET6, s, buf) == 0);
}

static void set_kind(args *a, fo_expect_kind kind) {
  if (a->expect.kind != 0 && a->expect.kind != kind)
    usage_error("give exactly one of --expect, --expect-address and "
                "--expect-none", NULL);
  if (a->expect.kind == kind && kind != FO_EXPECT_ADDRESSES)
    usage_error("expectation given twice", NULL);
  a->expect.kind = kind;
}

static void add_address(args *a, const char *ip) {
  if (a->expect.address_count == FO_VERIFY_ADDRESSES_MAX)
    usage_error("too many expected addresses", NULL);
  a->addresses[a->expect.address_count++] = ip;
}

static void parse_args(args *a, int argc, char **argv) {
  memset(a, 0, sizeof *a);
  fo_verifier_options_init(&a->opts, FO_VERIFIER_OPTIONS_VERSION);
  a->params.version = FO_VERIFY_PARAMS_VERSION;
  a->expect.version = FO_EXPECTATION_VERSION;
  a->expect.addresses = a->addresses;

  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      usage(stdout);
      exit(EXIT_MATCH);
    } else if (arg[0] == '@') {
      if (a->server_count == FO_VERIFY_SERVERS_MAX)
        usage_error("too many servers", NULL);
      if (arg[1] == '\0')
        usage_error("empty server", arg);
      a->servers[a->server_count++] = arg + 1;
    } else if (strcmp(arg, "--expect") == 0) {
      set_kind(a, FO_EXPECT_CNAME);
      if (val == NULL)
        usage_error("missing value for", arg);
      a->expect.target = val;
      i++;
    } else if (strcmp(arg, "--expect-address") == 0) {
      set_kind(a, FO_EXPECT_ADDRESSES);
      if (!is_ip(val))
        usage_error("--expect-address needs an IPv4 or IPv6 address, not",
                    val ? val : "(nothing)");
      /* One or more addresses: every following IP literal belongs here. */
      while (is_ip(val)) {
        add_address(a, val);
        i++;
        val = i + 1 < argc ? argv[i + 1] : NULL;
      }
    } else if (strcmp(arg, "--expect-none") == 0) {
      set_kind(a, FO_EXPECT_NONE);
    } else if (strcmp(arg, "--until") == 0) {
      char *end;
      if (val == NULL)
        usage_error("missing value for", arg);
      errno = 0;
      a->until_s = strtod(val, &end);
      /* The parameter is in ms and must fit a uint32_t. */
      if (errno != 0 || end == val || *end != '\0' || !(a->until_s > 0) ||
          a->until_s > 4000000.0)
        usage_error("bad value for --until", val);
      a->params.until_ms = (uint32_t)(a->until_s * 1000.0 + 0.5);
      if (a->params.until_ms == 0)
        a->params.until_ms = 1;
      i++;
    } else if (strcmp(arg, "--interval") == 0) {
      a->params.interval_ms = parse_u32(val, arg, 1, 86400000ul);
      i++;
    } else if (strcmp(arg, "--timeout") == 0) {
      a->opts.timeout_ms = parse_u32(val, arg, 1, 60000ul);
      i++;
    } else if (strcmp(arg, "--tries") == 0) {
      a->opts.tries = parse_u32(val, arg, 1, 10ul);
      i++;
    } else if (strcmp(arg, "--tcp") == 0) {
      a->opts.use_tcp = 1;
    } else if (strcmp(arg, "--rd") == 0) {
      a->opts.recursion_desired = 1;
    } else if (arg[0] == '-' && arg[1] != '\0') {
      usage_error("unknown option", arg);
    } else if (a->name == NULL) {
      a->name = arg;
    } else {
      usage_error("unexpected argument (one NAME only)", arg);
    }
  }
  if (a->name == NULL)
    usage_error("no NAME given", NULL);
  if (a->expect.kind == 0)
    usage_error("no expectation given (--expect, --expect-address or "
                "--expect-none)", NULL);
  if (a->server_count == 0)
    usage_error("no @SERVER given", NULL);
  if (a->params.interval_ms != 0 && a->params.until_ms == 0)
    usage_error("--interval needs --until", NULL);
  a->opts.servers = a->servers;
  a->opts.server_count = a->server_count;
}

/* ---- printing ------------------------------------------------------------ */

static const char *rcode_name(int rcode) {
  static const char *const names[] = {
      "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",  "NOTZONE"};
  if (rcode < 0)
    return "none";
  if ((size_t)rcode < sizeof names / sizeof names[0])
    return names[rcode];
  return "RCODE?";
}

/* Names as in a zone file: absolute, with the trailing dot. */
static void print_fqdn(const char *name) {
  size_t n = strlen(name);
  printf("%s%s", name, n > 0 && name[n - 1] == '.' ? "" : ".");
}

static const char *rr_type(const char *address) {
  return strchr(address, ':') != NULL ? "AAAA" : "A";
}

/* The records a server gave, as zone-file lines: each CNAME hop with its
 * TTL, then the addresses at the end of the chain. An address's TTL is known
 * only when it is the name's own record (no CNAME). */
static void print_records(const fo_server_answer *s) {
  const char *last;
  size_t i;
  if (s->chain_length == 0 || s->chain == NULL)
    return;
  for (i = 0; i + 1 < s->chain_length; i++) {
    print_fqdn(s->chain[i]);
    printf("\t%lu\tIN\tCNAME\t", (unsigned long)s->chain_ttls[i]);
    print_fqdn(s->chain[i + 1]);
    printf("\n");
  }
  last = s->chain[s->chain_length - 1];
  for (i = 0; i < s->address_count; i++) {
    print_fqdn(last);
    if (s->chain_length == 1)
      printf("\t%lu", (unsigned long)s->ttl);
    else
      printf("\t");
    printf("\tIN\t%s\t%s\n", rr_type(s->addresses[i]), s->addresses[i]);
  }
}

static void print_address_list(size_t n, const char *const *addresses) {
  for (size_t i = 0; i < n; i++)
    printf("%s%s", i ? ", " : "", addresses[i]);
}

/* What the server has instead of the expectation, for the verdict line. */
static void print_found(const fo_server_answer *s) {
  if (s->chain_length > 1) {
    printf("CNAME to ");
    print_fqdn(s->chain[1]);
  } else if (s->address_count > 0) {
    printf("no CNAME, addresses ");
    print_address_list(s->address_count, s->addresses);
  } else {
    printf("no records");
  }
}

static void print_expected(const fo_expectation *e) {
  switch (e->kind) {
  case FO_EXPECT_CNAME:
    printf("CNAME to ");
    print_fqdn(e->target);
    break;
  case FO_EXPECT_ADDRESSES:
    printf("addresses ");
    print_address_list(e->address_count, e->addresses);
    break;
  case FO_EXPECT_NONE:
    printf("no records");
    break;
  }
}

/* "match", or "mismatch: " and why. */
static void print_verdict(const fo_server_answer *s, const fo_expectation *e) {
  printf("@%s: ", s->server);
  switch (s->status) {
  case FO_VERIFY_MATCH:
    printf("match\n");
    return;
  case FO_VERIFY_MISMATCH:
    printf("mismatch: ");
    print_found(s);
    printf(" (expected ");
    print_expected(e);
    printf(")\n");
    return;
  case FO_VERIFY_DANGLING:
    printf("mismatch: dangling: CNAME chain ends at ");
    print_fqdn(s->chain[s->chain_length - 1]);
    printf(", which does not exist\n");
    return;
  case FO_VERIFY_PENDING:
    printf("mismatch: no answer yet\n");
    return;
  case FO_VERIFY_TIMEOUT:
    printf("mismatch: timeout: no reply after %lu %s\n",
           (unsigned long)s->rounds, s->rounds == 1 ? "round" : "rounds");
    return;
  case FO_VERIFY_REFUSED:
    printf("mismatch: refused (%s): the server does not serve the name\n",
           rcode_name(s->rcode));
    return;
  default:
    printf("mismatch: %s", fo_verify_status_name(s->status));
    if (s->rcode >= 0)
      printf(" (%s)", rcode_name(s->rcode));
    printf("\n");
    return;
  }
}

static void print_server(const fo_server_answer *s, const fo_expectation *e,
                         int until) {
  printf("\n;; SERVER: %s\n", s->server);
  printf(";; status: %s, rcode: %s", fo_verify_status_name(s->status),
         rcode_name(s->rcode));
  if (s->rcode >= 0)
    printf(", flags:%s", s->authoritative ? " aa" : " (not authoritative)");
  printf(", rounds: %lu", (unsigned long)s->rounds);
  if (s->rcode >= 0)
    printf(", rtt: %.2f ms", s->rtt_ms);
  printf("\n");
  if (until) {
    if (s->first_match_ms >= 0)
      printf(";; first match: %.1f ms\n", s->first_match_ms);
    else
      printf(";; first match: never\n");
  }
  if (s->chain_length > 1 || s->address_count > 0) {
    printf(";; ANSWER:\n");
    print_records(s);
  } else if (s->rcode >= 0) {
    printf(";; (no records");
    if (s->ttl != 0)
      printf("; negative TTL %lu", (unsigned long)s->ttl);
    printf(")\n");
  }
  print_verdict(s, e);
}

/* ---- the run --------------------------------------------------------------- */

typedef struct run {
  const args *a;
  fo_verifier *verifier;
  fo_check *check;     /* NULL once the callback has fired */
  uv_signal_t sigint;
  int exit_code;
  int closed;          /* the verifier's closed callback ran */
} run;

static void on_verifier_closed(void *userdata) {
  run *r = userdata;
  r->closed = 1;
}

static void on_result(const fo_verify_result *res, void *userdata) {
  run *r = userdata;
  size_t matched = 0, i;

  r->check = NULL; /* the handle is gone once we return */
  for (i = 0; i < res->server_count; i++) {
    const fo_server_answer *a = fo_verify_result_server(res, i);
    print_server(a, &r->a->expect, r->a->params.until_ms != 0);
    if (a->status == FO_VERIFY_MATCH)
      matched++;
  }

  printf("\n%s: %s: %zu of %zu servers match, %.1f ms",
         "overall", matched == res->server_count && res->error == 0
                        ? "match" : "mismatch",
         matched, res->server_count, res->elapsed_ms);
  if (res->error == FO_ETIMEDOUT)
    printf(", deadline of %g s passed", r->a->until_s);
  else if (res->error == FO_ECANCELED)
    printf(", cancelled");
  else if (res->error != 0)
    printf(", %s", fo_strerror(res->error));
  if (r->a->params.until_ms != 0 && res->converged_ms >= 0)
    printf(", converged after %.1f ms", res->converged_ms);
  printf("\n");

  r->exit_code = matched == res->server_count && res->error == 0
                     ? EXIT_MATCH : EXIT_MISMATCH;

  /* Done: let the loop run dry. Closing the verifier from inside its own
   * callback is allowed; its handles close from the loop. */
  uv_close((uv_handle_t *)&r->sigint, NULL);
  fo_verifier_close(r->verifier, on_verifier_closed, r);
}

static void on_sigint(uv_signal_t *handle, int signum) {
  run *r = handle->data;
  (void)signum;
  if (r->check != NULL)
    fo_check_cancel(r->check); /* the callback fires from this call */
}

int main(int argc, char **argv) {
  args a;
  run r;
  uv_loop_t loop;
  int rc;

  if (argc > 0 && argv[0] != NULL && argv[0][0] != '\0') {
    const char *slash = strrchr(argv[0], '/');
    prog = slash ? slash + 1 : argv[0];
  }
  parse_args(&a, argc, argv);

  memset(&r, 0, sizeof r);
  r.a = &a;
  r.exit_code = EXIT_MISMATCH;

  rc = uv_loop_init(&loop);
  if (rc != 0) {
    fprintf(stderr, "%s: uv_loop_init: %s\n", prog, uv_strerror(rc));
    return EXIT_MISMATCH;
  }

  rc = fo_verifier_new(&r.verifier, &loop, &a.opts);
  if (rc != 0) {
    int code = rc == FO_EBADADDR || rc == FO_ERANGE || rc == FO_EINVAL
                   ? EXIT_USAGE : EXIT_MISMATCH;
    fprintf(stderr, "%s: %s: %s\n", prog, fo_err_name(rc), fo_strerror(rc));
    if (code == EXIT_USAGE)
      usage(stderr);
    uv_loop_close(&loop);
    return code;
  }

  printf("; <<>> %s %s <<>> ", prog, fo_version_string());
  print_fqdn(a.name);
  printf(" expect ");
  print_expected(&a.expect);
  printf("\n;; %zu %s, %s, %s, ", a.server_count,
         a.server_count == 1 ? "server" : "servers",
         a.opts.use_tcp ? "tcp" : "udp", a.opts.recursion_desired ? "rd" : "no rd");
  if (a.params.until_ms != 0)
    printf("until %g s, interval %lu ms\n", a.until_s,
           (unsigned long)(a.params.interval_ms ? a.params.interval_ms : 1000));
  else
    printf("one round\n");
  fflush(stdout);

  rc = fo_verify_name(&r.check, r.verifier, a.name, &a.expect, &a.params,
                      on_result, &r);
  if (rc != 0) {
    fprintf(stderr, "%s: %s: %s (%s)\n", prog, a.name, fo_err_name(rc),
            fo_strerror(rc));
    r.exit_code = rc == FO_EBADNAME || rc == FO_ENAMETOOLONG ||
                          rc == FO_EBADADDR || rc == FO_ERANGE ||
                          rc == FO_EINVAL
                      ? EXIT_USAGE : EXIT_MISMATCH;
    r.check = NULL;
    fo_verifier_close(r.verifier, on_verifier_closed, &r);
  } else {
    /* Ctrl-C cancels the check (useful with a long --until). */
    uv_signal_init(&loop, &r.sigint);
    r.sigint.data = &r;
    uv_signal_start(&r.sigint, on_sigint, SIGINT);
  }

  uv_run(&loop, UV_RUN_DEFAULT);

  if (!r.closed) {
    fprintf(stderr, "%s: the loop stopped before the verifier closed\n", prog);
    return EXIT_MISMATCH;
  }
  rc = uv_loop_close(&loop);
  if (rc != 0) {
    fprintf(stderr, "%s: uv_loop_close: %s (a handle was left open)\n", prog,
            uv_strerror(rc));
    return EXIT_MISMATCH;
  }
  return r.exit_code;
}
