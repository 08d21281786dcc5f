/*
 * engines.c - the DNS side of a command: a private libuv loop with the
 * publisher (only while this process holds the store's publisher lease)
 * and a verifier over the primary and the verify servers; publishing a
 * committed change and waiting until every server answers it.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS 100u

static void count_closed(void *userdata) { (*(int *)userdata)++; }

/* Split the stored "A B C" verify list into e->servers after the primary. */
static void add_servers(engines *e, const char *primary, const char *list) {
  char buf[FO_STORE_SETTING_VALUE_MAX + 1];
  char *tok, *save = NULL;
  e->nservers = 0;
  if (primary[0] != '\0') {
    snprintf(e->server_buf[0], sizeof(e->server_buf[0]), "%s", primary);
    e->servers[e->nservers++] = e->server_buf[0];
  }
  snprintf(buf, sizeof(buf), "%s", list);
  for (tok = strtok_r(buf, " ", &save); tok && e->nservers < 16;
       tok = strtok_r(NULL, " ", &save)) {
    snprintf(e->server_buf[e->nservers], sizeof(e->server_buf[0]), "%s", tok);
    e->servers[e->nservers] = e->server_buf[e->nservers];
    e->nservers++;
  }
}

static int take_lease(engines *e) {
  fo_store_lease lease;
  char host[32] = "host";
  uint32_t ttl = e->s->timeout_ms + 30000u;
  int rc;
  gethostname(host, sizeof(host) - 1);
  host[sizeof(host) - 1] = '\0';
  snprintf(e->holder, sizeof(e->holder), "failoverctl:%s:%ld", host,
           (long)getpid());
  memset(&lease, 0, sizeof(lease));
  rc = fo_store_lease_acquire(e->s->store, e->holder, ttl, &lease);
  if (rc == 0) {
    e->have_lease = 1;
    e->lease_epoch = lease.epoch;
    return 0;
  }
  if (rc == FO_ELOCKED) {
    snprintf(e->lease_holder, sizeof(e->lease_holder), "%s", lease.holder);
    return 0;
  }
  return rc;
}

/* Servers are IP literals with an optional port: let a verifier parse them
 * (the library's own rules), then close it. */
int engines_check_server(const char *server) {
  uv_loop_t loop;
  fo_verifier_options vo = FO_VERIFIER_OPTIONS_INIT;
  fo_verifier *v = NULL;
  int rc, closed = 0;
  const char *list[1];
  list[0] = server;
  vo.servers = list;
  vo.server_count = 1;
  if (uv_loop_init(&loop) != 0)
    return FO_EIO;
  rc = fo_verifier_new(&v, &loop, &vo);
  if (v != NULL)
    fo_verifier_close(v, count_closed, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return rc;
}

int engines_open(engines *e, session *s, int mode) {
  char primary[128], verify[FO_STORE_SETTING_VALUE_MAX + 1], keyfile[1024];
  fo_verifier_options vo = FO_VERIFIER_OPTIONS_INIT;
  uv_loop_t *loop;
  int rc;
  memset(e, 0, sizeof(*e));
  e->s = s;
  session_setting(s, SET_PRIMARY, primary, sizeof(primary));
  session_setting(s, SET_VERIFY, verify, sizeof(verify));
  session_setting(s, SET_KEY_FILE, keyfile, sizeof(keyfile));
  if (primary[0] == '\0')
    return fail(s, EXIT_STORE, 0, "the store names no primary server; run "
                "`failoverctl init --server ...`");
  add_servers(e, primary, verify);
  loop = malloc(sizeof(*loop));
  if (loop == NULL || uv_loop_init(loop) != 0) {
    free(loop);
    return fail(s, EXIT_STORE, FO_EIO, "cannot start an event loop");
  }
  e->loop = loop;
  vo.servers = e->servers;
  vo.server_count = (size_t)e->nservers;
  if ((rc = fo_verifier_new(&e->ver, loop, &vo)) != 0) {
    engines_close(e);
    return fail(s, EXIT_USAGE, rc, "bad server list (%s %s): %s", primary,
                verify, fo_strerror(rc));
  }
  if (mode == ENGINES_VERIFY || (mode == ENGINES_PUBLISH && s->dry_run))
    return 0;
  if (mode == ENGINES_PUBLISH && (rc = take_lease(e)) != 0) {
    engines_close(e);
    return fail(s, EXIT_STORE, rc, "cannot read the publisher lease: %s",
                fo_strerror(rc));
  }
  if (mode == ENGINES_PUBLISH && !e->have_lease)
    return 0;
  if ((rc = fo_tsig_key_load(&e->key, keyfile, NULL)) != 0) {
    engines_close(e);
    return fail(s, EXIT_STORE, rc, "cannot read the TSIG key file %s: %s",
                keyfile, fo_strerror(rc));
  }
  {
    fo_publisher_options po = FO_PUBLISHER_OPTIONS_INIT;
    po.server = primary;
    po.key = e->key;
    /* The verify servers are the zone's secondaries: NOTIFY them at once
     * instead of waiting for the primary's own (Knot: ~1 s later). */
    po.secondaries = e->servers + 1;
    po.secondary_count = e->nservers > 0 ? (size_t)e->nservers - 1 : 0;
    /* Fenced like an agent: an UPDATE of ours applies only while no
     * later lease holder has claimed the zone's fence. */
    po.fence_epoch = e->lease_epoch;
    if ((rc = fo_publisher_new(&e->pub, loop, s->reg, &po)) != 0) {
      engines_close(e);
      return fail(s, EXIT_USAGE, rc, "cannot publish to %s: %s", primary,
                  fo_strerror(rc));
    }
  }
  return 0;
}

void engines_close(engines *e) {
  int closed = 0, want = 0;
  if (e->pub != NULL) {
    fo_publisher_close(e->pub, count_closed, &closed);
    want++;
  }
  if (e->ver != NULL) {
    fo_verifier_close(e->ver, count_closed, &closed);
    want++;
  }
  if (e->loop != NULL) {
    while (closed < want)
      uv_run(e->loop, UV_RUN_ONCE);
    uv_run(e->loop, UV_RUN_NOWAIT);
    uv_loop_close(e->loop);
    free(e->loop);
  }
  if (e->have_lease)
    fo_store_lease_release(e->s->store, e->holder);
  fo_tsig_key_free(e->key);
  memset(e, 0, sizeof(*e));
}

typedef struct tick {
  void (*progress)(void *);
  void *arg;
} tick;

static void on_tick(uv_timer_t *t) {
  tick *k = t->data;
  if (k->progress != NULL)
    k->progress(k->arg);
}

int engines_run(engines *e, const int *flag, uint32_t deadline_ms,
                void (*progress)(void *), void *arg) {
  uv_timer_t timer;
  tick k = {progress, arg};
  uint64_t end = uv_now(e->loop) + deadline_ms;
  uv_timer_init(e->loop, &timer);
  timer.data = &k;
  uv_timer_start(&timer, on_tick, TICK_MS, TICK_MS);
  while (*flag == 0 && uv_now(e->loop) < end)
    uv_run(e->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&timer, NULL);
  uv_run(e->loop, UV_RUN_NOWAIT);
  return *flag ? 0 : -1;
}

/* ---- publish and wait ----------------------------------------------------- */

typedef struct waiter {
  int planned;     /* reconcile called back */
  int plan_error;
  size_t pending;  /* watches not called back */
  int watch_error; /* first error of a watch */
  int done;        /* pending reached 0 */
  size_t checks;   /* verifications not called back */
  int verified;
  int all_match;
  size_t row;
  fo_group *const *groups;
  int quiet;       /* no per-group table (bulk switches) */
} waiter;

static void on_plan(const fo_plan *plan, void *userdata) {
  waiter *w = userdata;
  w->plan_error = plan->error;
  w->planned = 1;
}

static void on_watch(fo_group *g, uint64_t gen, int error, void *userdata) {
  waiter *w = userdata;
  (void)g;
  (void)gen;
  if (error != 0 && w->watch_error == 0)
    w->watch_error = error;
  if (--w->pending == 0)
    w->done = 1;
}

/* Bring the zone in step with the store (the publisher is new: it has seen
 * none of the commits before it), then wait until the primary confirmed
 * each group. Returns 0 or a library code. */
static int publish_groups(engines *e, waiter *w, fo_group *const *groups,
                          size_t n) {
  size_t i;
  int rc = fo_publisher_reconcile(e->pub, 1, on_plan, w);
  if (rc != 0)
    return rc;
  if (engines_run(e, &w->planned, e->s->timeout_ms, NULL, NULL) != 0)
    return FO_ETIMEDOUT;
  if (w->plan_error != 0)
    return w->plan_error;
  for (i = 0; i < n; i++) {
    uint64_t gen = 0;
    fo_group_generation(groups[i], &gen);
    if (gen == 0)
      continue;
    w->pending++;
    if ((rc = fo_publisher_watch(NULL, e->pub, groups[i], gen, on_watch, w)) != 0) {
      w->pending--;
      return rc;
    }
  }
  if (w->pending == 0)
    return 0;
  if (engines_run(e, &w->done, e->s->timeout_ms, NULL, NULL) != 0)
    return FO_ETIMEDOUT;
  return w->watch_error;
}

typedef struct check_ctx {
  waiter *w;
  engines *e;
  char addr[FO_NAME_BUFSIZE];
} check_ctx;

static void on_verified(const fo_verify_result *r, void *userdata) {
  check_ctx *c = userdata;
  waiter *w = c->w;
  size_t i;
  for (i = 0; i < r->server_count && !w->quiet; i++) {
    const fo_server_answer *a = fo_verify_result_server(r, i);
    char ms[32];
    snprintf(ms, sizeof(ms), "%.1f", a->first_match_ms);
    if (c->e->s->json) {
      js_begin_obj(NULL);
      js_str("group", c->addr);
      js_str("server", a->server);
      js_str("status", fo_verify_status_name(a->status));
      js_num("first_match_ms", a->first_match_ms);
      js_end_obj();
    } else {
      const char *cells[4];
      cells[0] = c->addr;
      cells[1] = a->server;
      cells[2] = fo_verify_status_name(a->status);
      cells[3] = a->first_match_ms >= 0 ? ms : "-";
      tb_row(cells);
    }
  }
  if (r->error != 0 || r->status != FO_VERIFY_MATCH)
    w->all_match = 0;
  if (--w->checks == 0)
    w->verified = 1;
  free(c);
}

/* Ask every server until each answers each group's records. */
static int wait_everywhere(engines *e, waiter *w, fo_group *const *groups,
                           size_t n) {
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  static const char *const cols[] = {"group", "server", "status", "first match ms"};
  size_t i;
  int rc;
  p.until_ms = e->s->timeout_ms;
  p.interval_ms = 50;
  w->all_match = 1;
  if (w->quiet)
    ;
  else if (e->s->json)
    js_begin_arr("servers");
  else
    tb_head(4, cols);
  for (i = 0; i < n; i++) {
    check_ctx *c = calloc(1, sizeof(*c));
    if (c == NULL)
      return FO_ENOMEM;
    c->w = w;
    c->e = e;
    fo_group_address(groups[i], c->addr, sizeof(c->addr));
    w->checks++;
    if ((rc = fo_verify_group(NULL, e->ver, groups[i], &p, on_verified, c)) != 0) {
      w->checks--;
      free(c);
      w->all_match = 0;
    }
  }
  if (w->checks > 0)
    engines_run(e, &w->verified, e->s->timeout_ms + 1000u, NULL, NULL);
  if (w->quiet)
    ;
  else if (e->s->json)
    js_end_arr();
  else
    tb_print();
  return w->all_match && w->checks == 0 ? 0 : FO_ETIMEDOUT;
}

static void note_error(session *s, const char *what, int rc) {
  char buf[256];
  snprintf(buf, sizeof(buf), "%s: %s (%s)", what, fo_strerror(rc),
           fo_err_name(rc));
  fo_store_setting_put(s->store, SET_LAST_ERROR, buf);
}

int session_publish(session *s, fo_group *const *groups, size_t n) {
  engines e;
  waiter w;
  int rc, code = EXIT_DONE;
  if (s->dry_run)
    return EXIT_DONE;
  if ((rc = engines_open(&e, s, ENGINES_PUBLISH)) != 0)
    return rc;
  memset(&w, 0, sizeof(w));
  if (s->json) {
    js_begin_obj("publish");
    js_str("publisher", e.have_lease ? e.holder : e.lease_holder);
    js_bool("published_here", e.have_lease);
  } else if (!e.have_lease) {
    printf("%spublishing is left to %s, which holds the publisher lease%s\n",
           c_dim(), e.lease_holder, c_end());
  }
  if (e.have_lease && (rc = publish_groups(&e, &w, groups, n)) != 0) {
    note_error(s, "publish", rc);
    code = exit_code_of(rc) == EXIT_REFUSED ? EXIT_DNS : exit_code_of(rc);
    if (s->json) {
      js_str("error", fo_err_name(rc));
    } else {
      fprintf(stderr, "failoverctl: %spublishing failed: %s%s\n", c_bad(),
              fo_strerror(rc), c_end());
    }
  }
  if (code == EXIT_DONE && !s->no_wait &&
      (rc = wait_everywhere(&e, &w, groups, n)) != 0) {
    note_error(s, "confirm in DNS", rc);
    code = EXIT_DNS;
    if (!s->json)
      fprintf(stderr, "failoverctl: %snot every server answers the change "
              "within %u s%s\n", c_bad(), (unsigned)(s->timeout_ms / 1000),
              c_end());
  }
  if (s->json)
    js_end_obj();
  engines_close(&e);
  return code;
}

int engines_confirm(engines *e, fo_group *const *groups, size_t n,
                    double *all_matched_ms) {
  waiter w;
  uint64_t start = uv_hrtime();
  int rc;
  memset(&w, 0, sizeof(w));
  w.quiet = 1;
  rc = wait_everywhere(e, &w, groups, n);
  *all_matched_ms = rc == 0 ? (double)(uv_hrtime() - start) / 1e6 : -1.0;
  return rc;
}
