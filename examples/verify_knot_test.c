/*
 * verify_knot_test.c - test driver for the failover-verify example (not an
 * example itself): starts knotd on loopback with a small zone through the
 * test fixture (tests/support/dns_fixture.c), runs the failover-verify
 * program given as argv[1] against it with several expectations, and checks
 * each exit status and verdict line.
 *
 * Exit status: 0 all cases behaved, 1 otherwise, 77 (skip) without knotd.
 *
 * Usage: verify-knot-test PATH/TO/failover-verify
 */
#define _POSIX_C_SOURCE 200809L

#include "dns_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_SKIP 77

static const char *prog;
static int failures;

/* Run `prog ARGS` through the shell, echo its output, and check its exit
 * status and (if not NULL) that the output contains `want`. */
static void run_case(const char *title, const char *args, int want_status,
                     const char *want) {
  char cmd[2048], line[1024];
  int found = want == NULL, status, code;
  FILE *f;

  snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", prog, args);
  printf("\n### %s\n$ failover-verify %s\n", title, args);
  fflush(stdout);
  f = popen(cmd, "r");
  if (f == NULL) {
    perror("popen");
    exit(1);
  }
  while (fgets(line, sizeof line, f) != NULL) {
    fputs(line, stdout);
    if (want != NULL && strstr(line, want) != NULL)
      found = 1;
  }
  status = pclose(f);
  code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  if (code != want_status || !found) {
    printf("### FAILED: %s: exit status %d (want %d)%s%s%s\n", title, code,
           want_status, found ? "" : ", no line containing '",
           found ? "" : want, found ? "" : "'");
    failures++;
  } else {
    printf("### ok: exit status %d\n", code);
  }
}

static int have_knotd(void) {
  static const char *const dirs[] = {"/usr/sbin", "/usr/local/sbin", "/sbin",
                                     "/usr/bin", "/usr/local/bin"};
  char path[256];
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    snprintf(path, sizeof path, "%s/knotd", dirs[i]);
    if (access(path, X_OK) == 0)
      return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  static const char *const records[] = {
      "www 60 IN CNAME web1",
      "web1 300 IN A 192.0.2.10",
      "addr 120 IN A 192.0.2.20",
      "addr 120 IN A 192.0.2.21",
      "dangling 60 IN CNAME nowhere",
      NULL};
  ft_dns_config cfg = FT_DNS_CONFIG_INIT;
  ft_dns_server srv;
  char args[1024], want[640], both[160];
  int unused;

  if (argc != 2) {
    fprintf(stderr, "usage: %s PATH/TO/failover-verify\n", argv[0]);
    return 2;
  }
  prog = argv[1];
  if (!have_knotd()) {
    printf("SKIP: knotd is not installed\n");
    return EXIT_SKIP;
  }

  cfg.records = records;
  if (ft_dns_start(&srv, FT_DNS_KNOT, &cfg) != 0) {
    fprintf(stderr, "cannot start knotd: %s\n", srv.error);
    return 1;
  }
  printf("knotd pid %ld serving %s on %s%s%s\n", (long)srv.pid, srv.zone,
         srv.addr4, srv.ipv6 ? " and " : "", srv.ipv6 ? srv.addr6 : "");
  /* The servers on both addresses, when ::1 is there. */
  snprintf(both, sizeof both, "@%s%s%s", srv.addr4, srv.ipv6 ? " @" : "",
           srv.ipv6 ? srv.addr6 : "");

  snprintf(args, sizeof args, "www.%s --expect web1.%s %s", srv.zone,
           srv.zone, both);
  snprintf(want, sizeof want, "@%s: match", srv.addr4);
  run_case("CNAME as expected", args, 0, want);

  snprintf(args, sizeof args, "www.%s --expect web1.%s @%s --tcp --until 5",
           srv.zone, srv.zone, srv.addr4);
  run_case("CNAME as expected, over TCP, with --until", args, 0, want);

  snprintf(args, sizeof args,
           "addr.%s --expect-address 192.0.2.21 192.0.2.20 @%s", srv.zone,
           srv.addr4);
  run_case("address set as expected", args, 0, want);

  snprintf(args, sizeof args, "gone.%s --expect-none @%s", srv.zone,
           srv.addr4);
  run_case("no records as expected (NXDOMAIN)", args, 0, want);

  snprintf(args, sizeof args, "www.%s --expect web2.%s @%s", srv.zone,
           srv.zone, srv.addr4);
  snprintf(want, sizeof want, "@%s: mismatch: CNAME to web1.%s.", srv.addr4,
           srv.zone);
  run_case("CNAME elsewhere", args, 1, want);

  snprintf(args, sizeof args, "addr.%s --expect-address 192.0.2.20 @%s",
           srv.zone, srv.addr4);
  snprintf(want, sizeof want, "@%s: mismatch:", srv.addr4);
  run_case("address set differs", args, 1, want);

  snprintf(args, sizeof args, "dangling.%s --expect nowhere.%s @%s",
           srv.zone, srv.zone, srv.addr4);
  run_case("dangling CNAME", args, 1, "dangling");

  snprintf(args, sizeof args, "www.%s --expect-none @%s", srv.zone,
           srv.addr4);
  run_case("records where none are expected", args, 1, want);

  /* One good server and one where nothing listens: not every server
   * matches, so the exit status is 1. */
  unused = ft_dns_unused_port();
  snprintf(args, sizeof args,
           "www.%s --expect web1.%s @%s @127.0.0.1:%d --timeout 200 "
           "--tries 1",
           srv.zone, srv.zone, srv.addr4, unused);
  snprintf(want, sizeof want, "@127.0.0.1:%d: mismatch", unused);
  run_case("one server down", args, 1, want);

  ft_dns_stop(&srv);
  printf("\n%s: %d failed\n", failures ? "FAILED" : "passed", failures);
  return failures ? 1 : 0;
}
