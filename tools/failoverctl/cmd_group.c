/*
 * cmd_group.c - `failoverctl group ...`: reserve an address, attach and
 * detach stacks, flip the switch, settle, delete, list and show.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char *const usage =
    "group create [--primary STACK] [--backup STACK] | "
    "attach GROUP (--primary|--backup) STACK | "
    "detach GROUP (--primary|--backup) [--force] | "
    "switch GROUP --to primary|backup [--force] | settle GROUP | "
    "delete GROUP | list [--stack STACK] | show GROUP";

/* --primary / --backup as a slot; -1 when neither or both. */
static int slot_of(const args *a) {
  int p = args_has(a, "primary"), b = args_has(a, "backup");
  if (p == b)
    return -1;
  return p ? FO_SLOT_PRIMARY : FO_SLOT_BACKUP;
}

static void print_group_line(fo_group *g) {
  char addr[FO_NAME_BUFSIZE], gen[32];
  fo_stack *p = NULL, *b = NULL;
  fo_state st = FO_GROUP_RESERVED;
  fo_slot act = FO_SLOT_PRIMARY;
  const char *cells[5];
  fo_target t = FO_TARGET_INIT;
  fo_group_address(g, addr, sizeof(addr));
  fo_group_state(g, &st);
  fo_group_stack(g, FO_SLOT_PRIMARY, &p);
  fo_group_stack(g, FO_SLOT_BACKUP, &b);
  fo_group_target(g, &t);
  if (p || b)
    fo_group_active_slot(g, &act);
  snprintf(gen, sizeof(gen), "%s%s", (p || b) ? slot_name(act) : "-",
           st == FO_GROUP_SWITCHING ? " (switching)" : "");
  cells[0] = addr;
  cells[1] = stack_name_or(p, "-");
  cells[2] = stack_name_or(b, "-");
  cells[3] = gen;
  cells[4] = t.none == FO_NONE_NOT
                 ? (t.mode == FO_MODE_CNAME ? t.host_name
                                            : (t.ipv4 ? t.ipv4 : t.ipv6))
                 : fo_none_reason_name(t.none);
  tb_row(cells);
}

static int list_groups(session *s, const args *a) {
  static const char *const cols[] = {"group", "primary", "backup", "active",
                                     "points at"};
  const char *stack = args_get(a, "stack");
  fo_stack *st = NULL;
  fo_group *g;
  int code;
  if ((code = session_open(s, 1)) != 0)
    return code;
  if (stack != NULL && (st = find_stack(s, stack)) == NULL)
    return s->lookup_exit;
  if (s->json)
    js_begin_obj(NULL), js_begin_arr("groups");
  else
    tb_head(5, cols);
  for (g = st ? fo_stack_next_group(st, NULL) : fo_registry_next_group(s->reg, NULL);
       g != NULL;
       g = st ? fo_stack_next_group(st, g) : fo_registry_next_group(s->reg, g)) {
    if (s->json)
      js_group(NULL, g);
    else
      print_group_line(g);
  }
  if (s->json)
    js_end_arr(), js_end_obj(), js_done();
  else
    tb_print();
  return EXIT_DONE;
}

static int show_group(session *s, fo_group *g) {
  char text[1024];
  fo_rrset set = FO_RRSET_INIT;
  if (s->json) {
    js_begin_obj(NULL);
    js_group("group", g);
    js_end_obj();
    js_done();
    return EXIT_DONE;
  }
  {
    static const char *const cols[] = {"group", "primary", "backup", "active",
                                       "points at"};
    tb_head(5, cols);
    print_group_line(g);
    tb_print();
  }
  if (fo_group_records(g, &set) == 0 &&
      fo_rrset_format(&set, text, sizeof(text), NULL) == 0)
    printf("%s", text[0] ? text : "(no records)\n");
  return EXIT_DONE;
}

/* Print the changed group (JSON: inside the command's object), then
 * publish it and wait, and close the object. */
static int changed(session *s, fo_group *g, const char *what) {
  int code;
  if (s->json) {
    js_begin_obj(NULL);
    js_group("group", g);
  } else {
    char addr[FO_NAME_BUFSIZE];
    fo_group_address(g, addr, sizeof(addr));
    printf("%s: done%s%s\n", what, strstr(what, addr) ? "" : " ",
           strstr(what, addr) ? "" : addr);
  }
  code = session_publish(s, &g, 1);
  if (s->json)
    js_end_obj(), js_done();
  return code;
}

/* A switch: published, verified everywhere and settled by a switchover
 * when this process may publish; otherwise committed and then waited for
 * in DNS while the lease holder publishes. */
static int switch_group(session *s, fo_group *g, fo_slot to, unsigned flags,
                        const char *what);

int cmd_group(session *s, int argc, char **argv) {
  static const char *const known[] = {"primary", "backup", "force", "to=",
                                      "stack=", NULL};
  static const char *const create_known[] = {"primary=", "backup=", NULL};
  char what[640], addr[FO_NAME_BUFSIZE];
  const char *verb;
  fo_group *g = NULL;
  args a;
  int rc, code, slot;
  if (argc >= 1 && strcmp(argv[0], "create") == 0) {
    fo_stack *p = NULL, *b = NULL;
    const char *pn, *bn;
    if ((rc = args_parse(&a, argc - 1, argv + 1, create_known, usage)) != 0)
      return rc < 0 ? EXIT_DONE : rc;
    if (a.npos != 0)
      return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", usage);
    if ((code = session_open(s, 0)) != 0)
      return code;
    pn = args_get(&a, "primary");
    bn = args_get(&a, "backup");
    if ((pn && (p = find_stack(s, pn)) == NULL) ||
        (bn && (b = find_stack(s, bn)) == NULL))
      return s->lookup_exit;
    WRITE(s, rc, fo_group_create(&g, s->reg, p, b));
    if (rc != 0 || s->dry_run)
      return session_result(s, rc, "create a group", NULL);
    fo_group_address(g, addr, sizeof(addr));
    if (!s->json)
      printf("%s\n", addr);
    if (s->json) {
      js_begin_obj(NULL);
      js_group("group", g);
    }
    code = (p || b) ? session_publish(s, &g, 1) : EXIT_DONE;
    if (s->json)
      js_end_obj(), js_done();
    return code;
  }
  if ((rc = args_parse(&a, argc, argv, known, usage)) != 0)
    return rc < 0 ? EXIT_DONE : rc;
  if (a.npos < 1)
    return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", usage);
  verb = a.pos[0];
  if (strcmp(verb, "list") == 0 && a.npos == 1)
    return list_groups(s, &a);
  if (a.npos < 2)
    return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", usage);
  if (strcmp(verb, "show") == 0 && a.npos == 2) {
    if ((code = session_open(s, 1)) != 0)
      return code;
    if ((g = find_group(s, a.pos[1])) == NULL)
      return s->lookup_exit;
    return show_group(s, g);
  }
  if ((code = session_open(s, 0)) != 0)
    return code;
  if ((g = find_group(s, a.pos[1])) == NULL)
    return s->lookup_exit;
  fo_group_address(g, addr, sizeof(addr));
  slot = slot_of(&a);
  if (strcmp(verb, "attach") == 0 && a.npos == 3 && slot >= 0) {
    fo_stack *st = find_stack(s, a.pos[2]);
    if (st == NULL)
      return s->lookup_exit;
    snprintf(what, sizeof(what), "attach stack %s to %s as %s", a.pos[2], addr,
             slot_name((fo_slot)slot));
    WRITE(s, rc, fo_group_attach(g, (fo_slot)slot, st));
  } else if (strcmp(verb, "detach") == 0 && a.npos == 2 && slot >= 0) {
    snprintf(what, sizeof(what), "detach the %s stack of %s",
             slot_name((fo_slot)slot), addr);
    WRITE(s, rc, fo_group_detach(g, (fo_slot)slot, args_has(&a, "force") ? FO_FORCE : 0));
  } else if (strcmp(verb, "switch") == 0 && a.npos == 2) {
    const char *to = args_get(&a, "to");
    if (to == NULL || (strcmp(to, "primary") != 0 && strcmp(to, "backup") != 0))
      return fail(s, EXIT_USAGE, 0, "say --to primary or --to backup");
    snprintf(what, sizeof(what), "switch %s to its %s", addr, to);
    return switch_group(s, g, to[0] == 'p' ? FO_SLOT_PRIMARY : FO_SLOT_BACKUP,
                        args_has(&a, "force") ? FO_FORCE : 0, what);
  } else if (strcmp(verb, "settle") == 0 && a.npos == 2) {
    snprintf(what, sizeof(what), "settle %s", addr);
    WRITE(s, rc, fo_group_settle(g));
  } else if (strcmp(verb, "delete") == 0 && a.npos == 2) {
    snprintf(what, sizeof(what), "delete %s", addr);
    WRITE(s, rc, fo_group_delete(g));
  } else {
    return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", usage);
  }
  if (rc != 0 || s->dry_run)
    return session_result(s, rc, what, g);
  return changed(s, g, what);
}

/* ---- the switch ------------------------------------------------------------ */

typedef struct sw_wait {
  int done;
  int error;
  double all_matched_ms;
  double published_ms;
} sw_wait;

static void on_switched(const fo_switchover_report *r, void *userdata) {
  sw_wait *w = userdata;
  w->error = r->error;
  w->all_matched_ms = r->all_matched_ms;
  w->published_ms = r->published_ms;
  w->done = 1;
}

static int switch_group(session *s, fo_group *g, fo_slot to, unsigned flags,
                        const char *what) {
  fo_switchover_options o = FO_SWITCHOVER_OPTIONS_INIT;
  engines e;
  sw_wait w;
  int rc, code;
  fo_op op = FO_OP_INIT(FO_OP_SWITCH);
  op.group = g;
  op.slot = to;
  op.flags = flags;
  /* The rules first: a refused switch must not even take the lease. */
  if ((rc = fo_op_check(&op)) != 0)
    return session_result(s, rc, what, g);
  if (s->dry_run)
    return session_result(s, fo_group_switch(g, to, flags), what, g);
  if ((code = engines_open(&e, s, ENGINES_PUBLISH)) != 0)
    return code;
  if (!e.have_lease || s->no_wait) {
    /* Commit; the lease holder publishes (or, with --no-wait, this
     * process does and returns once the primary has it). */
    engines_close(&e);
    WRITE(s, rc, fo_group_switch(g, to, flags));
    if (rc != 0)
      return session_result(s, rc, what, g);
    return changed(s, g, what);
  }
  memset(&w, 0, sizeof(w));
  o.flags = flags;
  o.until_ms = s->timeout_ms;
  WRITE(s, rc, fo_switchover_group(NULL, e.pub, e.ver, g, to, &o, on_switched,
                                   &w));
  if (rc != 0) {
    engines_close(&e);
    return session_result(s, rc, what, g);
  }
  engines_run(&e, &w.done, s->timeout_ms + 2000u, NULL, NULL);
  engines_close(&e);
  if (s->json) {
    js_begin_obj(NULL);
    js_group("group", g);
    js_begin_obj("switch");
    js_str("error", w.error ? fo_err_name(w.error) : NULL);
    js_num("published_ms", w.published_ms);
    js_num("all_matched_ms", w.all_matched_ms);
    js_end_obj();
    js_end_obj();
    js_done();
  } else if (w.error == 0 && w.done) {
    printf("%s: done; primary confirmed after %.1f ms, every server answers "
           "after %.1f ms; settled\n", what, w.published_ms, w.all_matched_ms);
  }
  if (!w.done || w.error != 0) {
    if (!s->json)
      fprintf(stderr, "failoverctl: %s%s: switched in the store, not confirmed "
              "in DNS: %s%s\n", c_bad(), what,
              fo_strerror(w.done ? w.error : FO_ETIMEDOUT), c_end());
    return EXIT_DNS;
  }
  return EXIT_DONE;
}
