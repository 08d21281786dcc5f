/*
 * cli.h - what failoverctl's files share: the session (store, registry,
 * settings), the output (tables or JSON), arguments and exit codes.
 *
 * failoverctl uses the public API only (<failover.h>, <failover/switch.h>).
 */
#ifndef FOCTL_CLI_H
#define FOCTL_CLI_H

#define _DEFAULT_SOURCE /* realpath, gethostname, strtok_r; <uv.h> under -std=c11 */
#include <stddef.h>
#include <stdint.h>

#include <failover.h>
#include <failover/publish.h>

/* Exit codes (docs/failoverctl.md). */
enum {
  EXIT_DONE = 0,      /* success (verify: every server matched) */
  EXIT_REFUSED = 1,   /* a rule of the model refused it */
  EXIT_USAGE = 2,     /* bad command line or argument */
  EXIT_DNS = 3,       /* DNS did not confirm in time (or did not match) */
  EXIT_STORE = 4,     /* store, key file or other I/O error */
  EXIT_RETRY = 100    /* internal: another process committed first; main()
                         reopens the store and runs the command again */
};

/* Runs of one command that meet FO_ESTALE before one gives up. */
#define ATTEMPTS_MAX 8

/* Store settings kept by `init` (fo_store_setting_*). */
#define SET_PRIMARY "ctl.primary"
#define SET_KEY_FILE "ctl.key-file"
#define SET_VERIFY "ctl.verify"
#define SET_LAST_ERROR "ctl.last-error"

/* ---- arguments --------------------------------------------------------- */

#define ARGS_MAX 32

/* One command's arguments: positionals and --options (value or flag). */
typedef struct args {
  int npos;
  const char *pos[ARGS_MAX];
  int nopt;
  const char *opt[ARGS_MAX]; /* "--to" */
  const char *val[ARGS_MAX]; /* its value, or NULL for a flag */
} args;

/* Options a command accepts: "to=" takes a value, "force" is a flag.
 * Returns 0, or prints the usage error and returns EXIT_USAGE. */
int args_parse(args *a, int argc, char **argv, const char *const *known,
               const char *usage);
/* The value of --name (last given), or NULL. */
const char *args_get(const args *a, const char *name);
/* Whether --name was given. */
int args_has(const args *a, const char *name);
/* Every value of a repeatable --name into out (at most max). */
int args_all(const args *a, const char *name, const char **out, int max);

/* ---- output ------------------------------------------------------------ */

/* JSON written straight to stdout, commas and escapes handled. */
void js_begin_obj(const char *key);
void js_end_obj(void);
void js_begin_arr(const char *key);
void js_end_arr(void);
void js_str(const char *key, const char *v); /* NULL writes null */
void js_int(const char *key, long long v);
void js_num(const char *key, double v); /* negative writes null */
void js_bool(const char *key, int v);
void js_done(void); /* ends the document with a newline */
int js_depth(void); /* 0 outside any object or array */

/* An aligned table: set the header, add rows, print. */
void tb_head(int ncol, const char *const *cols);
void tb_row(const char *const *cells);
void tb_print(void);

/* Colour only on a terminal and without NO_COLOR (or --no-color). */
const char *c_ok(void);
const char *c_bad(void);
const char *c_dim(void);
const char *c_end(void);

/* ---- the session --------------------------------------------------------- */

typedef struct session {
  const char *db;      /* store path */
  int json;            /* --json */
  int dry_run;         /* --dry-run: the store is opened read-only */
  int no_wait;         /* --no-wait */
  uint32_t timeout_ms; /* --timeout (default: the 5-minute promise) */
  fo_store *store;
  fo_registry *reg;
  char zone[FO_NAME_BUFSIZE];
  int attempt;         /* 1.. (see EXIT_RETRY) */
  int lookup_exit;     /* the exit code of the last failed find_*() */
} session;

/* Open the store and its registry (read-only with dry_run or `readonly`).
 * Returns 0 or an exit code (the error printed). */
int session_open(session *s, int readonly);
void session_close(session *s);

/* Around one mutation: take the store's write lock (a batch), catching up
 * with other processes' commits first when the store moved on (refresh,
 * then try again), so that the mutation cannot be stale; then commit.
 * With --dry-run both do nothing. end returns `rc`, else the commit's
 * code. */
int session_write_begin(session *s);
int session_write_end(session *s, int rc);
#define WRITE(s, rc, call)                                                     \
  do {                                                                         \
    (rc) = session_write_begin(s);                                             \
    if ((rc) == 0)                                                             \
      (rc) = session_write_end((s), (call));                                   \
  } while (0)

/* A setting into buf ("" when unset). */
void session_setting(session *s, const char *name, char *buf, size_t size);

/* Lookups with an operator's error message; return NULL after printing,
 * with the exit code in s->lookup_exit. */
fo_stack *find_stack(session *s, const char *name);
fo_group *find_group(session *s, const char *address);

/* After a committed change to `groups`: publish (if no other process holds
 * the publisher lease) and, unless --no-wait, wait until every server
 * answers each group's records; prints per-server timings. Returns an exit
 * code. */
int session_publish(session *s, fo_group *const *groups, size_t n);

/* The result of a mutating call: 0 done (or allowed, for --dry-run), else
 * prints why in words (explain.c) and returns the exit code. `what`
 * describes the operation ("delete 414-262-781"). */
int session_result(session *s, int rc, const char *what, fo_group *group);

/* ---- errors in words (explain.c) --------------------------------------- */

/* The sentence for a refusal of `rc` on `group` (may be NULL). */
void explain(int rc, fo_group *group, char *buf, size_t size);
/* The exit code for a library code. */
int exit_code_of(int rc);
/* Print an error (JSON or text) and return `code`. */
int fail(session *s, int code, int rc, const char *fmt, ...);

/* ---- shared formatting --------------------------------------------------- */

const char *slot_name(fo_slot slot);
const char *stack_name_or(fo_stack *stack, const char *none);
/* A group as a JSON object (under `key`, NULL inside an array). */
void js_group(const char *key, fo_group *g);

/* ---- commands ------------------------------------------------------------ */

typedef int (*command_fn)(session *s, int argc, char **argv);

int cmd_init(session *s, int argc, char **argv);
int cmd_stack(session *s, int argc, char **argv);
int cmd_server(session *s, int argc, char **argv);
int cmd_group(session *s, int argc, char **argv);
int cmd_switch(session *s, int argc, char **argv);
int cmd_verify(session *s, int argc, char **argv);
int cmd_reconcile(session *s, int argc, char **argv);
int cmd_export(session *s, int argc, char **argv);
int cmd_status(session *s, int argc, char **argv);

/* ---- the loop (engines.c) ------------------------------------------------ */

/* Engines for one command on a private loop: the publisher (when `publish`
 * and the lease could be had) and a verifier over the primary and the
 * verify servers. */
typedef struct engines {
  session *s;
  void *loop; /* uv_loop_t */
  fo_publisher *pub;
  fo_verifier *ver;
  fo_tsig_key *key;
  char holder[64];
  char lease_holder[64]; /* who holds it when not us */
  int have_lease;
  uint64_t lease_epoch;  /* ours, when held: the publisher's fence */
  int nservers;
  const char *servers[17];
  char server_buf[17][160];
} engines;

/* What engines_open() sets up besides the verifier. */
enum {
  ENGINES_VERIFY = 0,   /* the verifier only */
  ENGINES_PUBLISH = 1,  /* and the publisher, if the lease could be had */
  ENGINES_READ_ZONE = 2 /* and a publisher that only reads (a dry-run
                           reconcile): no lease needed */
};

int engines_open(engines *e, session *s, int mode);
void engines_close(engines *e);
/* 0 when `server` is a server the library accepts ("IP", "IP:port",
 * "[v6]:port"), else its code. */
int engines_check_server(const char *server);
/* Ask every server, quietly, until each answers each group's records (the
 * lease holder publishes them). 0, or FO_ETIMEDOUT after the session's
 * timeout; *all_matched_ms is the time it took (-1 on failure). */
int engines_confirm(engines *e, fo_group *const *groups, size_t n,
                    double *all_matched_ms);
/* Run the loop until *flag becomes non-zero or the deadline passes.
 * Returns 0, or -1 on timeout. `progress` (may be NULL) runs every 100 ms. */
int engines_run(engines *e, const int *flag, uint32_t deadline_ms,
                void (*progress)(void *), void *arg);

#endif
