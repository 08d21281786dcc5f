/*
 * failover-agent.c - the daemon an orchestration agent would run: one of
 * several processes on one store, of which exactly one publishes.
 *
 *   failover-agent --store etcd://127.0.0.1:2379/failover [--name NAME]
 *                  [--lease-ms 5000] [--follow-ms 100]
 *                  [--server IP:PORT] [--key FILE] [--verify IP:PORT ...]
 *
 * The store is set up with `failoverctl --db STORE init ...`; the agent
 * reads the zone's primary, the key file and the servers to verify from
 * the store's settings (the options override them). Then:
 *
 *   - it follows the store (fo_store_follower): commits made by failoverctl
 *     or by other agents reach its registry within --follow-ms;
 *   - it keeps trying to take the publisher lease (fo_lease_keeper). The
 *     holder creates a publisher fenced with the lease's epoch (an UPDATE
 *     from an older epoch is refused by the DNS server itself), reconciles
 *     the zone, resumes every switch a predecessor left unfinished
 *     (fo_switchover_resume), and from then on publishes every change;
 *   - while it leads, it also finishes the switches other processes commit
 *     (failoverctl switches in the store when an agent holds the lease):
 *     published, verified on every server, settled;
 *   - when it loses the lease, or the fence says a newer leader exists, it
 *     stops publishing at once and waits as a standby;
 *   - SIGTERM or SIGINT: it gives the lease up (a standby takes over at
 *     once), closes everything and exits 0.
 *
 * Each event is one line on stdout, `key=value` fields, `t` the wall clock
 * in ms, for operators and for the tests that read them:
 *
 *   failover-agent: t=... name=a event=leader epoch=7
 *   failover-agent: t=... name=a event=reconciled changes=2
 *   failover-agent: t=... name=a event=resumed groups=1 failed=0
 *   failover-agent: t=... name=a event=caught-up pending=0
 *   failover-agent: t=... name=a event=standby holder=b epoch=7
 *   failover-agent: t=... name=a event=lost epoch=7 error=FO_ELOCKED
 *   failover-agent: t=... name=a event=fenced epoch=7
 *   failover-agent: t=... name=a event=reopen error=FO_EPOISONED
 *   failover-agent: t=... name=a event=stopped
 */
#define _POSIX_C_SOURCE 200809L
#include <failover.h>
#include <failover/follow.h>
#include <failover/publish.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define VERIFY_MAX 16
#define SETTING_MAX 1024

typedef struct agent {
  /* configuration */
  const char *store_name;
  char name[64];
  uint32_t lease_ms;
  uint32_t follow_ms;
  char server[SETTING_MAX];
  char key_file[SETTING_MAX];
  char verify_list[SETTING_MAX];
  const char *verify[VERIFY_MAX];
  size_t verify_count;
  /* parts */
  uv_loop_t *loop;
  fo_store *store;
  fo_registry *reg;
  fo_tsig_key *key;
  fo_store_follower *follower;
  fo_lease_keeper *keeper;
  fo_verifier *verifier;
  fo_publisher *pub;
  fo_switchover *resume;
  uv_signal_t sigterm, sigint;
  uv_timer_t progress;
  uv_timer_t retry;      /* resume again after a failed one; reopen */
  /* state */
  uint64_t epoch;        /* of the lease this process holds, or 0 */
  int waiting_reported;  /* a standby says so once per holder */
  char holder_seen[64];
  int reconciled;         /* the leader's reconcile has run */
  int resumed_once;       /* the first resume after taking over reported */
  int resume_again;       /* a commit came while a resume ran */
  fo_store_lease lease;   /* the lease as last taken */
  int held;               /* the keeper holds the lease */
  int pubs_open;          /* publishers whose close has not finished */
  int reopening;          /* the registry is being opened again */
  int caught_up_reported;
  int stopping;
} agent;

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void say(const agent *a, const char *fmt, ...) {
  va_list ap;
  printf("failover-agent: t=%lld name=%s ", (long long)wall_ms(), a->name);
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void die(const char *what, int rc) {
  fprintf(stderr, "failover-agent: %s: %s (%s)\n", what, fo_err_name(rc),
          fo_strerror(rc));
  exit(1);
}

/* ---- leading: the publisher and what it does first ------------------------ */

static void stop_leading(agent *a, const char *event, int error);

static void resume_switches(agent *a);
static void retry_cb(uv_timer_t *t);

static void on_resumed(const fo_switchover_report *r, void *userdata) {
  agent *a = userdata;
  a->resume = NULL;
  if (r->groups > 0 || r->error != 0 || !a->resumed_once)
    say(a, "event=resumed groups=%zu failed=%zu error=%s", r->groups,
        r->failed, fo_err_name(r->error));
  a->resumed_once = 1;
  if (a->pub == NULL || r->error == FO_ECANCELED)
    return;
  if (a->resume_again)
    resume_switches(a);
  else if (r->failed > 0) /* the store was busy, say: again in a second */
    uv_timer_start(&a->retry, retry_cb, 1000, 0);
}

/* Finish every switch in state SWITCHING: the ones a predecessor left, and
 * the ones other processes commit (failoverctl switches in the store and
 * leaves publishing, verifying and settling to the lease holder). One
 * resume at a time; a commit seen meanwhile asks for another. */
static void resume_switches(agent *a) {
  fo_switchover_options so = FO_SWITCHOVER_OPTIONS_INIT;
  int rc;
  if (a->resume != NULL) {
    a->resume_again = 1;
    return;
  }
  a->resume_again = 0;
  rc = fo_switchover_resume(&a->resume, a->pub, a->verifier, &so, on_resumed,
                            a);
  if (rc != 0) {
    a->resume = NULL;
    say(a, "event=resume-failed error=%s", fo_err_name(rc));
  }
}

static void on_reconciled(const fo_plan *plan, void *userdata) {
  agent *a = userdata;
  if (a->pub == NULL || plan->error == FO_ECANCELED)
    return; /* stopped leading meanwhile */
  a->reconciled = 1;
  say(a, "event=reconciled changes=%zu error=%s", plan->count,
      fo_err_name(plan->error));
  a->resumed_once = 0;
  resume_switches(a);
}

static void on_publish_error(int error, void *userdata) {
  agent *a = userdata;
  if (error == FO_EFENCED) {
    /* A newer leader claimed the zone's fence: nothing of ours can be
     * applied any more. The lease keeper reports the loss too, later. */
    stop_leading(a, "fenced", error);
    return;
  }
  say(a, "event=publisher-error error=%s", fo_err_name(error));
}

/* Says once when everything pending reached the primary: the fence
 * claimed, the reconcile done (it queues what the zone lacks), nothing
 * unconfirmed. */
static void progress_cb(uv_timer_t *t) {
  agent *a = t->data;
  size_t pending = 0;
  uint64_t fence = 0;
  if (a->pub == NULL || !a->reconciled ||
      fo_publisher_fence_held(a->pub, &fence) != 0 || fence != a->epoch ||
      fo_publisher_pending(a->pub, &pending) != 0)
    return;
  if (pending == 0 && !a->caught_up_reported) {
    a->caught_up_reported = 1;
    say(a, "event=caught-up pending=0 epoch=%llu",
        (unsigned long long)a->epoch);
  } else if (pending > 0) {
    a->caught_up_reported = 0;
  }
}

static void start_leading(agent *a, const fo_store_lease *lease) {
  fo_publisher_options o = FO_PUBLISHER_OPTIONS_INIT;
  int rc;
  a->epoch = lease->epoch;
  a->reconciled = 0;
  a->caught_up_reported = 0;
  say(a, "event=leader epoch=%llu", (unsigned long long)lease->epoch);
  /* The registry first learns what the previous leader committed last. */
  (void)fo_store_follower_check(a->follower);
  o.server = a->server;
  o.key = a->key;
  o.on_error = on_publish_error;
  o.userdata = a;
  o.fence_epoch = lease->epoch;
  if ((rc = fo_publisher_new(&a->pub, a->loop, a->reg, &o)) != 0) {
    say(a, "event=publisher-failed error=%s", fo_err_name(rc));
    a->pub = NULL;
    return;
  }
  /* Reconcile first (the zone may lack what the predecessor committed but
   * never sent), then finish the switches it left. */
  if ((rc = fo_publisher_reconcile(a->pub, 1, on_reconciled, a)) != 0)
    say(a, "event=reconcile-failed error=%s", fo_err_name(rc));
}

static void publisher_closed(void *userdata) {
  agent *a = userdata;
  a->pubs_open--;
}

static void stop_leading(agent *a, const char *event, int error) {
  if (a->resume != NULL) {
    fo_switchover *s = a->resume;
    a->resume = NULL;
    (void)fo_switchover_cancel(s);
  }
  if (a->pub != NULL) {
    /* Cleared first: closing calls the reconcile back (FO_ECANCELED). */
    fo_publisher *p = a->pub;
    a->pub = NULL;
    a->pubs_open++;
    fo_publisher_close(p, publisher_closed, a);
  }
  if (event != NULL)
    say(a, "event=%s epoch=%llu error=%s", event,
        (unsigned long long)a->epoch, fo_err_name(error));
  a->epoch = 0;
}

static void on_lease(fo_lease_event ev, const fo_store_lease *lease,
                     int error, void *userdata) {
  agent *a = userdata;
  switch (ev) {
  case FO_LEASE_TAKEN:
    a->waiting_reported = 0;
    a->lease = *lease;
    a->held = 1;
    if (!a->reopening)
      start_leading(a, lease);
    break;
  case FO_LEASE_LOST:
    a->held = 0;
    stop_leading(a, "lost", error);
    break;
  case FO_LEASE_WAITING:
    if (!a->waiting_reported || strcmp(a->holder_seen, lease->holder) != 0) {
      a->waiting_reported = 1;
      snprintf(a->holder_seen, sizeof(a->holder_seen), "%s", lease->holder);
      say(a, "event=standby holder=%s epoch=%llu error=%s", lease->holder,
          (unsigned long long)lease->epoch, fo_err_name(error));
    }
    break;
  case FO_LEASE_RENEWED:
    break;
  }
}

static void on_follow(int error, uint64_t revision, void *userdata);

/* A registry that a failed commit poisoned, or whose log entries the store
 * pruned before it read them, is opened again from the store: publishing
 * stops, and starts again on the new registry once the publisher's close
 * has finished (the registry must outlive it). */
static void reopen_step(agent *a) {
  fo_registry_options ro = FO_REGISTRY_OPTIONS_INIT;
  int rc;
  if (a->pubs_open > 0 || a->resume != NULL) {
    uv_timer_start(&a->retry, retry_cb, 10, 0);
    return;
  }
  fo_registry_free(a->reg);
  a->reg = NULL;
  if ((rc = fo_registry_open(&a->reg, &ro, a->store)) != 0 ||
      (rc = fo_store_follower_new(&a->follower, a->loop, a->reg, a->follow_ms,
                                  on_follow, a)) != 0) {
    say(a, "event=reopen-failed error=%s", fo_err_name(rc));
    a->reg = NULL;
    uv_timer_start(&a->retry, retry_cb, 1000, 0);
    return;
  }
  a->reopening = 0;
  say(a, "event=reopened");
  if (a->held)
    start_leading(a, &a->lease);
}

static void reopen_registry(agent *a, int why) {
  if (a->reopening)
    return;
  a->reopening = 1;
  say(a, "event=reopen error=%s", fo_err_name(why));
  stop_leading(a, NULL, 0);
  fo_store_follower_close(a->follower);
  a->follower = NULL;
  uv_timer_start(&a->retry, retry_cb, 0, 0);
}

static void retry_cb(uv_timer_t *t) {
  agent *a = t->data;
  if (a->stopping)
    return;
  if (a->reopening)
    reopen_step(a);
  else if (a->pub != NULL && a->reconciled)
    resume_switches(a);
}

static void on_follow(int error, uint64_t revision, void *userdata) {
  agent *a = userdata;
  (void)revision;
  if (error == FO_EPOISONED || error == FO_ECOMPACTED)
    reopen_registry(a, error);
  else if (error != 0)
    say(a, "event=follow-failed error=%s", fo_err_name(error));
  else if (a->pub != NULL && a->reconciled)
    resume_switches(a); /* a standby only keeps its registry warm */
}

/* ---- start and stop -------------------------------------------------------- */

static void on_signal(uv_signal_t *h, int signum) {
  agent *a = h->data;
  (void)signum;
  if (a->stopping)
    return;
  a->stopping = 1;
  stop_leading(a, NULL, 0);
  fo_lease_keeper_close(a->keeper); /* gives the lease up */
  a->keeper = NULL;
  fo_store_follower_close(a->follower);
  a->follower = NULL;
  fo_verifier_close(a->verifier, NULL, NULL);
  a->verifier = NULL;
  uv_close((uv_handle_t *)&a->sigterm, NULL);
  uv_close((uv_handle_t *)&a->sigint, NULL);
  uv_close((uv_handle_t *)&a->progress, NULL);
  uv_close((uv_handle_t *)&a->retry, NULL);
}

static void setting(agent *a, const char *name, char *buf, size_t size) {
  if (buf[0] != '\0')
    return; /* given on the command line */
  if (fo_store_setting_get(a->store, name, buf, size, NULL) != 0)
    buf[0] = '\0';
}

static void split_verify(agent *a) {
  char *save = NULL, *tok;
  for (tok = strtok_r(a->verify_list, " ", &save);
       tok != NULL && a->verify_count < VERIFY_MAX;
       tok = strtok_r(NULL, " ", &save))
    a->verify[a->verify_count++] = tok;
}

static int usage(void) {
  fprintf(stderr,
          "usage: failover-agent --store STORE [--name NAME] [--lease-ms MS]\n"
          "                      [--follow-ms MS] [--server IP:PORT]\n"
          "                      [--key FILE] [--verify IP:PORT ...]\n"
          "STORE is an SQLite file or etcd://HOST:PORT[,HOST:PORT...]/PREFIX,\n"
          "set up with `failoverctl --db STORE init`.\n");
  return 2;
}

static int parse_ms(const char *s, uint32_t *out) {
  char *end;
  unsigned long v = strtoul(s, &end, 10);
  if (*s == '\0' || *end != '\0' || v == 0 || v > 3600000)
    return -1;
  *out = (uint32_t)v;
  return 0;
}

static int parse_args(agent *a, int argc, char **argv) {
  int i;
  size_t used = 0;
  for (i = 1; i < argc; i++) {
    const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (val == NULL)
      return -1;
    i++;
    if (strcmp(opt, "--store") == 0)
      a->store_name = val;
    else if (strcmp(opt, "--name") == 0)
      snprintf(a->name, sizeof(a->name), "%s", val);
    else if (strcmp(opt, "--lease-ms") == 0) {
      if (parse_ms(val, &a->lease_ms) != 0)
        return -1;
    } else if (strcmp(opt, "--follow-ms") == 0) {
      if (parse_ms(val, &a->follow_ms) != 0)
        return -1;
    } else if (strcmp(opt, "--server") == 0)
      snprintf(a->server, sizeof(a->server), "%s", val);
    else if (strcmp(opt, "--key") == 0)
      snprintf(a->key_file, sizeof(a->key_file), "%s", val);
    else if (strcmp(opt, "--verify") == 0) {
      int n = snprintf(a->verify_list + used, sizeof(a->verify_list) - used,
                       "%s%s", used ? " " : "", val);
      if (n < 0 || (size_t)n >= sizeof(a->verify_list) - used)
        return -1;
      used += (size_t)n;
    } else
      return -1;
  }
  return a->store_name != NULL ? 0 : -1;
}

int main(int argc, char **argv) {
  static agent a; /* zeroed */
  fo_registry_options ro = FO_REGISTRY_OPTIONS_INIT;
  fo_verifier_options vo = FO_VERIFIER_OPTIONS_INIT;
  int rc;

  a.lease_ms = 5000;
  a.follow_ms = FO_FOLLOW_INTERVAL_DEFAULT;
  if (parse_args(&a, argc, argv) != 0)
    return usage();
  if (a.name[0] == '\0') {
    char host[48] = "agent";
    (void)gethostname(host, sizeof(host) - 1);
    snprintf(a.name, sizeof(a.name), "%s-%ld", host, (long)getpid());
  }
  a.loop = uv_default_loop();
  if ((rc = fo_store_open(&a.store, a.store_name, 0)) != 0)
    die("open the store", rc);
  if ((rc = fo_registry_open(&a.reg, &ro, a.store)) != 0)
    die("load the registry", rc);
  setting(&a, "ctl.primary", a.server, sizeof(a.server));
  setting(&a, "ctl.key-file", a.key_file, sizeof(a.key_file));
  setting(&a, "ctl.verify", a.verify_list, sizeof(a.verify_list));
  split_verify(&a);
  if (a.server[0] == '\0' || a.key_file[0] == '\0') {
    fprintf(stderr, "failover-agent: no primary or key: give --server and "
                    "--key, or run `failoverctl init` on the store\n");
    return 2;
  }
  if ((rc = fo_tsig_key_load(&a.key, a.key_file, NULL)) != 0)
    die("load the TSIG key", rc);
  if (a.verify_count == 0)
    a.verify[a.verify_count++] = a.server; /* at least the primary */
  vo.servers = a.verify;
  vo.server_count = a.verify_count;
  if ((rc = fo_verifier_new(&a.verifier, a.loop, &vo)) != 0)
    die("start the verifier", rc);
  if ((rc = fo_store_follower_new(&a.follower, a.loop, a.reg, a.follow_ms,
                                  on_follow, &a)) != 0)
    die("follow the store", rc);
  if ((rc = fo_lease_keeper_new(&a.keeper, a.loop, a.store, a.name,
                                a.lease_ms, on_lease, &a)) != 0)
    die("start the lease keeper", rc);
  uv_signal_init(a.loop, &a.sigterm);
  uv_signal_init(a.loop, &a.sigint);
  a.sigterm.data = a.sigint.data = &a;
  uv_signal_start(&a.sigterm, on_signal, SIGTERM);
  uv_signal_start(&a.sigint, on_signal, SIGINT);
  uv_timer_init(a.loop, &a.retry);
  a.retry.data = &a;
  uv_timer_init(a.loop, &a.progress);
  a.progress.data = &a;
  uv_timer_start(&a.progress, progress_cb, 10, 10);
  say(&a, "event=started store=%s lease_ms=%u", a.store_name,
      (unsigned)a.lease_ms);

  uv_run(a.loop, UV_RUN_DEFAULT);

  fo_registry_free(a.reg);
  fo_tsig_key_free(a.key);
  fo_store_close(a.store);
  uv_loop_close(a.loop);
  say(&a, "event=stopped");
  return 0;
}
