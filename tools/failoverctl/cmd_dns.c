/*
 * cmd_dns.c - the commands that talk to DNS or read the whole registry:
 * `switch --stack` (a lost data centre), `verify`, `reconcile`, `export`
 * and `status`.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

/* ---- switch --stack ---------------------------------------------------------- */

typedef struct bulk {
  session *s;
  fo_stack *stack;
  size_t total;
  int done;
  fo_switchover_report r;
} bulk;

static void on_bulk(const fo_switchover_report *r, void *userdata) {
  bulk *b = userdata;
  b->r = *r;
  b->done = 1;
}

/* A progress bar on a terminal: groups of the stack's set now settled. */
static void progress(void *arg) {
  bulk *b = arg;
  size_t left = 0, n;
  int i, width = 40, filled;
  fo_group *g;
  if (b->s->json || !isatty(STDERR_FILENO) || b->total == 0)
    return;
  for (g = fo_stack_next_group(b->stack, NULL); g != NULL;
       g = fo_stack_next_group(b->stack, g)) {
    fo_state st;
    if (fo_group_state(g, &st) == 0 && st == FO_GROUP_SWITCHING)
      left++;
  }
  n = b->total - (left < b->total ? left : b->total);
  filled = (int)((double)n / (double)b->total * width);
  fprintf(stderr, "\r[");
  for (i = 0; i < width; i++)
    fputc(i < filled ? '#' : '.', stderr);
  fprintf(stderr, "] %zu/%zu settled", n, b->total);
  fflush(stderr);
}

/* Every group serving from the lost stack switches in one commit; the
 * lease holder (an agent) publishes, verifies and settles them. This
 * process waits (unless --no-wait) until every server answers each. */
static int switch_for_holder(session *s, engines *e, bulk *b,
                             const char *name) {
  fo_group **groups = NULL, *g;
  char holder[sizeof(e->lease_holder)];
  size_t n = 0, refused = 0;
  double matched_ms = -1.0;
  int rc, confirmed = 0;
  memcpy(holder, e->lease_holder, sizeof(holder)); /* engines_close clears */
  fo_stack_group_count(b->stack, &b->total);
  if (b->total > 0 && (groups = calloc(b->total, sizeof(*groups))) == NULL) {
    engines_close(e);
    return fail(s, EXIT_STORE, FO_ENOMEM, "out of memory");
  }
  if ((rc = session_write_begin(s)) == 0) {
    for (g = fo_stack_next_group(b->stack, NULL); g != NULL && n < b->total;
         g = fo_stack_next_group(b->stack, g)) {
      fo_stack *active = NULL;
      fo_slot slot;
      if (fo_group_active_slot(g, &slot) != 0 ||
          fo_group_stack(g, slot, &active) != 0 || active != b->stack)
        continue;
      if (fo_group_switch(g, slot == FO_SLOT_PRIMARY ? FO_SLOT_BACKUP
                                                     : FO_SLOT_PRIMARY, 0) == 0)
        groups[n++] = g;
      else
        refused++;
    }
    rc = session_write_end(s, 0);
  }
  if (rc != 0) {
    free(groups);
    engines_close(e);
    return session_result(s, rc, "switch the stack's groups", NULL);
  }
  if (!s->no_wait && n > 0)
    confirmed = engines_confirm(e, groups, n, &matched_ms) == 0;
  engines_close(e);
  free(groups);
  if (s->json) {
    js_begin_obj(NULL);
    js_str("stack", name);
    js_int("groups", (long long)n);
    js_int("failed", (long long)refused);
    js_str("error", !s->no_wait && n > 0 && !confirmed ? "FO_ETIMEDOUT" : NULL);
    js_num("published_ms", -1.0);
    js_num("all_matched_ms", matched_ms);
    js_num("resolvers_follow_ms", -1.0);
    js_str("publisher", holder);
    js_end_obj();
    js_done();
  } else {
    printf("switched %zu groups off %s in the store (%zu refused); %s holds "
           "the publisher lease and publishes them", n, name, refused,
           holder);
    if (s->no_wait || n == 0)
      printf("\n");
    else if (confirmed)
      printf("; every server answers after %.1f ms\n", matched_ms);
    else
      printf("; not confirmed by every server within %u s\n",
             (unsigned)(s->timeout_ms / 1000));
  }
  /* Groups the rules refused (a switch still in flight) stay on the lost
   * stack: the operator must know, as with fo_switchover_stack(). */
  if (refused > 0)
    return EXIT_REFUSED;
  return s->no_wait || n == 0 || confirmed ? EXIT_DONE : EXIT_DNS;
}

int cmd_switch(session *s, int argc, char **argv) {
  static const char *const known[] = {"stack=", NULL};
  static const char *const usage = "switch --stack STACK";
  fo_switchover_options o = FO_SWITCHOVER_OPTIONS_INIT;
  const char *name;
  engines e;
  bulk b;
  args a;
  int rc, code;
  if ((rc = args_parse(&a, argc, argv, known, usage)) != 0)
    return rc < 0 ? EXIT_DONE : rc;
  if ((name = args_get(&a, "stack")) == NULL || a.npos != 0)
    return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", usage);
  if ((code = session_open(s, 0)) != 0)
    return code;
  memset(&b, 0, sizeof(b));
  b.s = s;
  if ((b.stack = find_stack(s, name)) == NULL)
    return s->lookup_exit;
  if (s->dry_run) {
    /* Every group of the stack whose switch the rules allow. */
    size_t ok = 0, refused = 0;
    fo_group *g;
    for (g = fo_stack_next_group(b.stack, NULL); g != NULL;
         g = fo_stack_next_group(b.stack, g)) {
      fo_stack *active = NULL;
      fo_slot slot;
      if (fo_group_active_slot(g, &slot) != 0 ||
          fo_group_stack(g, slot, &active) != 0 || active != b.stack)
        continue;
      rc = fo_group_switch(g, slot == FO_SLOT_PRIMARY ? FO_SLOT_BACKUP
                                                      : FO_SLOT_PRIMARY, 0);
      if (rc == FO_EREADONLY)
        ok++;
      else
        refused++;
    }
    if (s->json) {
      js_begin_obj(NULL);
      js_bool("allowed", refused == 0);
      js_int("groups", (long long)ok);
      js_int("refused", (long long)refused);
      js_end_obj();
      js_done();
    } else {
      printf("%s: %zu groups would switch, %zu cannot\n",
             refused ? "partly allowed" : "allowed", ok, refused);
    }
    return refused ? EXIT_REFUSED : EXIT_DONE;
  }
  if ((code = engines_open(&e, s, ENGINES_PUBLISH)) != 0)
    return code;
  if (!e.have_lease)
    return switch_for_holder(s, &e, &b, name);
  o.until_ms = s->timeout_ms;
  fo_stack_group_count(b.stack, &b.total);
  rc = fo_switchover_stack(NULL, e.pub, e.ver, b.stack, &o, on_bulk, &b);
  if (rc != 0) {
    engines_close(&e);
    return session_result(s, rc, "switch the stack's groups", NULL);
  }
  engines_run(&e, &b.done, s->timeout_ms + 2000u, progress, &b);
  if (!s->json && isatty(STDERR_FILENO))
    fputc('\n', stderr);
  engines_close(&e);
  if (s->json) {
    js_begin_obj(NULL);
    js_str("stack", name);
    js_int("groups", (long long)b.r.groups);
    js_int("failed", (long long)b.r.failed);
    js_str("error", b.r.error ? fo_err_name(b.r.error) : NULL);
    js_num("published_ms", b.r.published_ms);
    js_num("all_matched_ms", b.r.all_matched_ms);
    js_num("resolvers_follow_ms", b.r.resolvers_follow_ms);
    js_end_obj();
    js_done();
  } else {
    printf("switched %zu groups off %s (%zu failed): primary confirmed after "
           "%.1f ms, every server after %.1f ms\n", b.r.groups, name,
           b.r.failed, b.r.published_ms, b.r.all_matched_ms);
  }
  return b.done && b.r.failed == 0 && b.r.error == 0 ? EXIT_DONE
         : b.done && b.r.groups == 0 ? EXIT_REFUSED : EXIT_DNS;
}

/* ---- verify -------------------------------------------------------------------- */

typedef struct vwait {
  session *s;
  int done;
  int match;
} vwait;

static void on_verify(const fo_verify_result *r, void *userdata) {
  vwait *w = userdata;
  static const char *const cols[] = {"server", "status", "answer", "ttl", "rtt ms"};
  size_t i, k;
  w->match = r->error == 0 && r->status == FO_VERIFY_MATCH;
  if (w->s->json) {
    js_begin_obj(NULL);
    js_str("name", r->name);
    js_str("status", fo_verify_status_name(r->status));
    js_bool("match", w->match);
    js_begin_arr("servers");
  } else {
    tb_head(5, cols);
  }
  for (i = 0; i < r->server_count; i++) {
    const fo_server_answer *a = fo_verify_result_server(r, i);
    char answer[1024] = "", ttl[16], rtt[32];
    const char *last = a->chain_length > 1 ? a->chain[a->chain_length - 1] : NULL;
    if (last != NULL)
      snprintf(answer, sizeof(answer), "CNAME %s", last);
    for (k = 0; k < a->address_count; k++)
      snprintf(answer + strlen(answer), sizeof(answer) - strlen(answer),
               "%s%s", answer[0] ? " " : "", a->addresses[k]);
    snprintf(ttl, sizeof(ttl), "%u", (unsigned)a->ttl);
    snprintf(rtt, sizeof(rtt), "%.2f", a->rtt_ms);
    if (w->s->json) {
      js_begin_obj(NULL);
      js_str("server", a->server);
      js_str("status", fo_verify_status_name(a->status));
      js_str("answer", answer);
      js_int("ttl", a->ttl);
      js_num("rtt_ms", a->rtt_ms);
      js_end_obj();
    } else {
      const char *cells[5];
      char status[64];
      snprintf(status, sizeof(status), "%s%s%s",
               a->status == FO_VERIFY_MATCH ? c_ok() : c_bad(),
               fo_verify_status_name(a->status), c_end());
      cells[0] = a->server;
      cells[1] = status;
      cells[2] = answer[0] ? answer : "(none)";
      cells[3] = ttl;
      cells[4] = rtt;
      tb_row(cells);
    }
  }
  if (w->s->json) {
    js_end_arr();
    js_end_obj();
    js_done();
  } else {
    tb_print();
  }
  w->done = 1;
}

int cmd_verify(session *s, int argc, char **argv) {
  static const char *const known[] = {NULL};
  static const char *const usage = "verify GROUP";
  fo_verify_params p = FO_VERIFY_PARAMS_INIT;
  engines e;
  vwait w;
  fo_group *g;
  args a;
  int rc, code;
  if ((rc = args_parse(&a, argc, argv, known, usage)) != 0)
    return rc < 0 ? EXIT_DONE : rc;
  if (a.npos != 1)
    return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", usage);
  if ((code = session_open(s, 1)) != 0)
    return code;
  if ((g = find_group(s, a.pos[0])) == NULL)
    return s->lookup_exit;
  if ((code = engines_open(&e, s, ENGINES_VERIFY)) != 0)
    return code;
  memset(&w, 0, sizeof(w));
  w.s = s;
  if ((rc = fo_verify_group(NULL, e.ver, g, &p, on_verify, &w)) != 0) {
    engines_close(&e);
    return fail(s, exit_code_of(rc), rc, "cannot verify: %s", fo_strerror(rc));
  }
  engines_run(&e, &w.done, 60000, NULL, NULL);
  engines_close(&e);
  return w.match ? EXIT_DONE : EXIT_DNS;
}

/* ---- reconcile ------------------------------------------------------------------- */

typedef struct pwait {
  session *s;
  int done;
  int error;
  size_t count;
} pwait;

static const char *action_name(fo_plan_action a) {
  return a == FO_PLAN_CREATE ? "create" : a == FO_PLAN_CHANGE ? "change" : "delete";
}

/* "a\nb\n" -> "a; b" for a table cell. */
static void one_line(const char *in, char *out, size_t size) {
  size_t n = 0;
  for (; *in && n + 3 < size; in++) {
    if (*in == '\n') {
      if (in[1] != '\0')
        out[n++] = ';', out[n++] = ' ';
    } else {
      out[n++] = *in;
    }
  }
  out[n] = '\0';
}

static void on_plan(const fo_plan *plan, void *userdata) {
  pwait *w = userdata;
  static const char *const cols[] = {"action", "name", "in the zone", "wanted"};
  size_t i;
  w->error = plan->error;
  w->count = plan->count;
  if (w->s->json) {
    js_begin_obj(NULL);
    js_bool("applied", !w->s->dry_run && plan->error == 0);
    js_str("error", plan->error ? fo_err_name(plan->error) : NULL);
    js_int("zone_records", (long long)plan->zone_records);
    js_int("owned_names", (long long)plan->owned_names);
    js_begin_arr("entries");
  } else if (plan->error == 0) {
    tb_head(4, cols);
  }
  for (i = 0; i < plan->count; i++) {
    const fo_plan_entry *en = fo_plan_entry_at(plan, i);
    if (w->s->json) {
      js_begin_obj(NULL);
      js_str("action", action_name(en->action));
      js_str("name", en->name);
      js_str("current", en->current);
      js_str("desired", en->desired);
      js_end_obj();
    } else {
      char cur[512], want[512];
      const char *cells[4];
      one_line(en->current, cur, sizeof(cur));
      one_line(en->desired, want, sizeof(want));
      cells[0] = action_name(en->action);
      cells[1] = en->name;
      cells[2] = cur[0] ? cur : "-";
      cells[3] = want[0] ? want : "-";
      tb_row(cells);
    }
  }
  if (w->s->json) {
    js_end_arr();
    js_end_obj();
    js_done();
  } else if (plan->error == 0) {
    tb_print();
    printf("%zu zone records, %zu names owned by groups, %zu to %s\n",
           plan->zone_records, plan->owned_names, plan->count,
           w->s->dry_run ? "repair (dry run: nothing sent)" : "repair");
  }
  w->done = 1;
}

int cmd_reconcile(session *s, int argc, char **argv) {
  static const char *const known[] = {NULL};
  static const char *const usage = "reconcile [--dry-run]";
  engines e;
  pwait w;
  args a;
  int rc, code, dry = s->dry_run;
  if ((rc = args_parse(&a, argc, argv, known, usage)) != 0)
    return rc < 0 ? EXIT_DONE : rc;
  if (a.npos != 0)
    return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", usage);
  /* A dry run reads the zone and sends nothing: no lease, a read-only
   * store. Applied, it publishes: the lease. */
  if ((code = session_open(s, dry)) != 0)
    return code;
  if ((code = engines_open(&e, s, dry ? ENGINES_READ_ZONE : ENGINES_PUBLISH)) != 0)
    return code;
  if (!dry && !e.have_lease) {
    engines_close(&e);
    return fail(s, EXIT_STORE, FO_ELOCKED, "%s holds the publisher lease and "
                "reconciles itself", e.lease_holder);
  }
  memset(&w, 0, sizeof(w));
  w.s = s;
  if ((rc = fo_publisher_reconcile(e.pub, !dry, on_plan, &w)) != 0) {
    engines_close(&e);
    return fail(s, EXIT_DNS, rc, "cannot read the zone: %s", fo_strerror(rc));
  }
  engines_run(&e, &w.done, s->timeout_ms, NULL, NULL);
  if (w.done && w.error == 0 && !dry) {
    /* Wait until the repairs are confirmed. */
    size_t pending = 1;
    uint64_t end = uv_now(e.loop) + s->timeout_ms;
    while (fo_publisher_pending(e.pub, &pending) == 0 && pending > 0 &&
           fo_publisher_error(e.pub) == 0 && uv_now(e.loop) < end)
      uv_run(e.loop, UV_RUN_ONCE);
    if (pending > 0)
      w.error = fo_publisher_error(e.pub) ? fo_publisher_error(e.pub)
                                          : FO_ETIMEDOUT;
  }
  engines_close(&e);
  if (!w.done)
    return fail(s, EXIT_DNS, FO_ETIMEDOUT, "the zone could not be read in time");
  if (w.error != 0)
    return fail(s, EXIT_DNS, w.error, "reconcile failed: %s",
                fo_strerror(w.error));
  return EXIT_DONE;
}

/* ---- export ---------------------------------------------------------------------- */

static int write_text(const char *data, size_t len, void *userdata) {
  (void)userdata;
  return fwrite(data, 1, len, stdout) == len ? 0 : -1;
}

static int write_json_lines(const char *data, size_t len, void *userdata) {
  char line[1024];
  size_t i, start = 0;
  (void)userdata;
  for (i = 0; i < len; i++) {
    if (data[i] == '\n') {
      size_t n = i - start < sizeof(line) - 1 ? i - start : sizeof(line) - 1;
      memcpy(line, data + start, n);
      line[n] = '\0';
      if (line[0] != ';')
        js_str(NULL, line);
      start = i + 1;
    }
  }
  return 0;
}

int cmd_export(session *s, int argc, char **argv) {
  static const char *const known[] = {NULL};
  args a;
  int rc, code;
  if ((rc = args_parse(&a, argc, argv, known, "export")) != 0)
    return rc < 0 ? EXIT_DONE : rc;
  if ((code = session_open(s, 1)) != 0)
    return code;
  if (s->json) {
    js_begin_obj(NULL);
    js_str("zone", s->zone);
    js_begin_arr("records");
    fo_registry_export_zone(s->reg, write_json_lines, NULL);
    js_end_arr();
    js_end_obj();
    js_done();
    return EXIT_DONE;
  }
  return fo_registry_export_zone(s->reg, write_text, NULL) == 0 ? EXIT_DONE
                                                                : EXIT_STORE;
}

/* ---- status ---------------------------------------------------------------------- */

int cmd_status(session *s, int argc, char **argv) {
  static const char *const known[] = {NULL};
  char primary[128], verify[FO_STORE_SETTING_VALUE_MAX + 1], keyfile[1024];
  char last[512];
  fo_store_lease lease;
  size_t counts[5] = {0, 0, 0, 0, 0};
  uint64_t rev = 0;
  struct timeval tv;
  long long now_ms, left_ms;
  fo_group *g;
  args a;
  int rc, code;
  if ((rc = args_parse(&a, argc, argv, known, "status")) != 0)
    return rc < 0 ? EXIT_DONE : rc;
  if ((code = session_open(s, 1)) != 0)
    return code;
  session_setting(s, SET_PRIMARY, primary, sizeof(primary));
  session_setting(s, SET_VERIFY, verify, sizeof(verify));
  session_setting(s, SET_KEY_FILE, keyfile, sizeof(keyfile));
  session_setting(s, SET_LAST_ERROR, last, sizeof(last));
  memset(&lease, 0, sizeof(lease));
  fo_store_lease_read(s->store, &lease);
  fo_registry_revision(s->reg, &rev);
  gettimeofday(&tv, NULL);
  now_ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
  left_ms = lease.expires_ms - now_ms;
  for (g = fo_registry_next_group(s->reg, NULL); g != NULL;
       g = fo_registry_next_group(s->reg, g)) {
    fo_state st;
    if (fo_group_state(g, &st) == 0 && st >= 1 && st <= 4)
      counts[st]++;
  }
  if (s->json) {
    js_begin_obj(NULL);
    js_str("store", s->db);
    js_int("revision", (long long)rev);
    js_str("zone", s->zone);
    js_str("primary", primary);
    js_str("verify", verify);
    js_str("key_file", keyfile);
    js_begin_obj("lease");
    js_str("holder", lease.holder[0] && left_ms > 0 ? lease.holder : NULL);
    js_int("epoch", (long long)lease.epoch);
    js_int("expires_in_ms", left_ms > 0 ? left_ms : 0);
    js_end_obj();
    js_begin_obj("groups");
    js_int("reserved", (long long)counts[FO_GROUP_RESERVED]);
    js_int("serving", (long long)counts[FO_GROUP_SERVING]);
    js_int("switching", (long long)counts[FO_GROUP_SWITCHING]);
    js_end_obj();
    js_begin_arr("pending");
    for (g = fo_registry_next_group(s->reg, NULL); g != NULL;
         g = fo_registry_next_group(s->reg, g)) {
      fo_state st;
      char addr[FO_NAME_BUFSIZE];
      if (fo_group_state(g, &st) == 0 && st == FO_GROUP_SWITCHING) {
        fo_group_address(g, addr, sizeof(addr));
        js_str(NULL, addr);
      }
    }
    js_end_arr();
    js_str("last_error", last[0] ? last : NULL);
    js_end_obj();
    js_done();
    return EXIT_DONE;
  }
  printf("store      %s (revision %llu)\n", s->db, (unsigned long long)rev);
  printf("zone       %s\nprimary    %s\nverify     %s\nkey file   %s\n", s->zone,
         primary, verify[0] ? verify : "-", keyfile);
  if (lease.holder[0] && left_ms > 0)
    printf("publisher  %s (epoch %llu, %lld ms left)\n", lease.holder,
           (unsigned long long)lease.epoch, left_ms);
  else
    printf("publisher  none (the next mutating command publishes)\n");
  printf("groups     %zu serving, %zu switching (not settled), %zu reserved\n",
         counts[FO_GROUP_SERVING], counts[FO_GROUP_SWITCHING],
         counts[FO_GROUP_RESERVED]);
  printf("last error %s%s%s\n", last[0] ? c_bad() : "", last[0] ? last : "none",
         last[0] ? c_end() : "");
  return EXIT_DONE;
}
