/*
 * failoverctl - the operator's command line for failover groups: a
 * durable store (--db STORE or FAILOVER_DB: an SQLite file or an etcd://
 * URL), the rules of the library, and DNS confirmed server by server. See
 * docs/failoverctl.md.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern int foctl_no_color;

static const struct {
  const char *name;
  command_fn fn;
  const char *help;
} commands[] = {
    {"init", cmd_init, "create the store: zone, primary, TSIG key file, verify servers"},
    {"stack", cmd_stack, "add, rename, remove, list, show stacks"},
    {"server", cmd_server, "add, remove, rename, set a stack's servers"},
    {"group", cmd_group, "create, attach, detach, switch, settle, delete, list, show groups"},
    {"switch", cmd_switch, "switch every group off a lost stack (--stack)"},
    {"verify", cmd_verify, "ask every server what a group's name answers"},
    {"reconcile", cmd_reconcile, "read the zone and repair what differs (--dry-run: plan only)"},
    {"export", cmd_export, "print the groups' records as a zone fragment"},
    {"status", cmd_status, "store, publisher lease, pending switches, last error"},
};

static void usage(FILE *f) {
  size_t i;
  fprintf(f,
          "usage: failoverctl [--db STORE] [--json] [--no-color] [--dry-run] "
          "[--no-wait] [--timeout SECONDS] COMMAND ...\n\n"
          "The store is --db STORE (or --store STORE), else $FAILOVER_DB: an "
          "SQLite file, or\netcd://HOST:PORT[,HOST:PORT...]/PREFIX for an "
          "etcd cluster. Every command takes\n--help.\n\ncommands:\n");
  for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
  fprintf(f, "\nexit codes: 0 done, 1 refused by a rule, 2 usage error, "
             "3 DNS not confirmed in time, 4 store or I/O error\n");
}

/* Take the global options out of argv, wherever they stand. */
static int globals(session *s, int *argc, char **argv) {
  int i, n = 0;
  for (i = 0; i < *argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--db") == 0 || strcmp(a, "--store") == 0 ||
        strcmp(a, "--timeout") == 0) {
      if (i + 1 >= *argc) {
        fprintf(stderr, "failoverctl: %s needs a value\n", a);
        return EXIT_USAGE;
      }
      if (strcmp(a, "--timeout") != 0) {
        s->db = argv[++i];
      } else {
        char *end;
        long v = strtol(argv[++i], &end, 10);
        if (*end != '\0' || v < 1 || v > 86400) {
          fprintf(stderr, "failoverctl: --timeout takes 1..86400 seconds\n");
          return EXIT_USAGE;
        }
        s->timeout_ms = (uint32_t)v * 1000u;
      }
    } else if (strcmp(a, "--json") == 0) {
      s->json = 1;
    } else if (strcmp(a, "--no-color") == 0) {
      foctl_no_color = 1;
    } else if (strcmp(a, "--dry-run") == 0) {
      s->dry_run = 1;
    } else if (strcmp(a, "--no-wait") == 0) {
      s->no_wait = 1;
    } else {
      argv[n++] = argv[i];
    }
  }
  *argc = n;
  return 0;
}

int main(int argc, char **argv) {
  session s;
  size_t i;
  int rc;
  memset(&s, 0, sizeof(s));
  s.timeout_ms = FO_VERIFY_PROMISE_MS;
  argc--;
  argv++;
  if ((rc = globals(&s, &argc, argv)) != 0)
    return rc;
  if (argc == 0 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ||
      strcmp(argv[0], "help") == 0) {
    usage(argc == 0 ? stderr : stdout);
    return argc == 0 ? EXIT_USAGE : EXIT_DONE;
  }
  if (strcmp(argv[0], "--version") == 0) {
    printf("failoverctl %s\n", fo_version_string());
    return EXIT_DONE;
  }
  if (s.db == NULL)
    s.db = getenv("FAILOVER_DB");
  for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
    if (strcmp(argv[0], commands[i].name) != 0)
      continue;
    if (s.db == NULL &&
        !(argc > 1 && (strcmp(argv[argc - 1], "--help") == 0 ||
                       strcmp(argv[argc - 1], "-h") == 0)))
      return fail(&s, EXIT_USAGE, 0, "no store: give --db STORE or set FAILOVER_DB");
    /* Another process may commit between our open and our write: the
     * store refuses it (FO_ESTALE) and the command runs again on a fresh
     * open, so that nothing is lost and nothing is done twice. */
    for (s.attempt = 1;; s.attempt++) {
      rc = commands[i].fn(&s, argc - 1, argv + 1);
      session_close(&s);
      if (rc != EXIT_RETRY)
        return rc;
      usleep((useconds_t)(1000 * (s.attempt * 3 + (getpid() % 7))));
    }
  }
  fprintf(stderr, "failoverctl: unknown command %s\n", argv[0]);
  usage(stderr);
  return EXIT_USAGE;
}
