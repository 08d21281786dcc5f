/*
 * cmd_stack.c - `failoverctl stack ...` and `failoverctl server ...`:
 * stacks and their servers. A change that moves a stack's web head
 * re-targets its groups, which are then published.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stack_usage =
    "stack add NAME | rename NAME NEW | remove NAME | list | show NAME";
static const char *const server_usage =
    "server add STACK NAME (--lb|--web) [--host HOST] [--ip IP ...] | "
    "remove STACK NAME | rename STACK NAME NEW | "
    "set STACK NAME [--host HOST | --templated] [--ip IP ...] [--no-ip]";

/* The groups following a stack, to publish after a change. */
static int publish_followers(session *s, fo_stack *st) {
  fo_group **gs;
  fo_group *g;
  size_t n = 0, cap = 0;
  int code;
  if (s->dry_run)
    return EXIT_DONE;
  fo_stack_group_count(st, &cap);
  gs = calloc(cap ? cap : 1, sizeof(*gs));
  if (gs == NULL)
    return fail(s, EXIT_STORE, FO_ENOMEM, "out of memory");
  for (g = fo_stack_next_group(st, NULL); g != NULL && n < cap;
       g = fo_stack_next_group(st, g))
    gs[n++] = g;
  code = n ? session_publish(s, gs, n) : EXIT_DONE;
  free(gs);
  return code;
}

/* Begin the command's JSON object (closed by finish()). */
static void begin(session *s) {
  if (s->json)
    js_begin_obj(NULL);
}

static int finish(session *s, int code) {
  if (s->json) {
    js_end_obj();
    js_done();
  }
  return code;
}

static void js_server(const fo_server_info *i, uint32_t id) {
  js_begin_obj(NULL);
  js_str("name", i->name);
  js_str("kind", i->kind == FO_SERVER_LOAD_BALANCER ? "lb" : "web");
  js_int("id", id);
  js_str("host_name", i->host_name);
  js_bool("host_name_explicit", i->host_name_explicit);
  js_str("ipv4", i->ipv4);
  js_str("ipv6", i->ipv6);
  js_end_obj();
}

static void show_stack(session *s, fo_stack *st, int with_servers) {
  static const fo_server_kind kinds[2] = {FO_SERVER_LOAD_BALANCER,
                                          FO_SERVER_WEB};
  fo_server_info head = FO_SERVER_INFO_INIT;
  fo_web_head_rule rule = 0;
  size_t groups = 0, nweb = 0, nlb = 0, i;
  uint32_t id = 0;
  int k, has_head = fo_stack_web_head(st, &head, &rule) == 0;
  const char *name = stack_name_or(st, "?");
  fo_stack_group_count(st, &groups);
  fo_stack_server_count(st, FO_SERVER_WEB, &nweb);
  fo_stack_server_count(st, FO_SERVER_LOAD_BALANCER, &nlb);
  fo_stack_id(st, &id);
  if (s->json) {
    js_begin_obj(with_servers ? "stack" : NULL);
    js_str("name", name);
    js_int("id", id);
    js_int("groups", (long long)groups);
    js_int("web_servers", (long long)nweb);
    js_int("load_balancers", (long long)nlb);
    if (has_head) {
      js_begin_obj("web_head");
      js_str("server", head.name);
      js_str("host_name", head.host_name);
      js_str("rule", rule == FO_WEB_HEAD_FIRST_LOAD_BALANCER
                         ? "first load balancer" : "first web server");
      js_end_obj();
    } else {
      js_str("web_head", NULL);
    }
    if (with_servers) {
      js_begin_arr("servers");
      for (k = 0; k < 2; k++) {
        size_t n = 0;
        fo_stack_server_count(st, kinds[k], &n);
        for (i = 0; i < n; i++) {
          fo_server_info info = FO_SERVER_INFO_INIT;
          uint32_t sid = 0;
          fo_stack_server_at(st, kinds[k], i, &info);
          fo_stack_server_id(st, info.name, &sid);
          js_server(&info, sid);
        }
      }
      js_end_arr();
    }
    js_end_obj();
    return;
  }
  if (!with_servers) {
    char g[32], w[32], l[32];
    const char *cells[5];
    snprintf(g, sizeof(g), "%zu", groups);
    snprintf(w, sizeof(w), "%zu", nweb);
    snprintf(l, sizeof(l), "%zu", nlb);
    cells[0] = name;
    cells[1] = g;
    cells[2] = l;
    cells[3] = w;
    cells[4] = has_head ? head.host_name : "(none)";
    tb_row(cells);
    return;
  }
  printf("stack %s (id %u): %zu groups; web head %s\n", name, (unsigned)id,
         groups, has_head ? head.host_name : "(none: no server)");
  {
    static const char *const cols[] = {"server", "kind", "host name", "ipv4",
                                       "ipv6"};
    tb_head(5, cols);
    for (k = 0; k < 2; k++) {
      size_t n = 0;
      fo_stack_server_count(st, kinds[k], &n);
      for (i = 0; i < n; i++) {
        fo_server_info info = FO_SERVER_INFO_INIT;
        const char *cells[5];
        fo_stack_server_at(st, kinds[k], i, &info);
        cells[0] = info.name;
        cells[1] = kinds[k] == FO_SERVER_LOAD_BALANCER ? "lb" : "web";
        cells[2] = info.host_name;
        cells[3] = info.ipv4 ? info.ipv4 : "-";
        cells[4] = info.ipv6 ? info.ipv6 : "-";
        tb_row(cells);
      }
    }
    tb_print();
  }
}

int cmd_stack(session *s, int argc, char **argv) {
  static const char *const known[] = {NULL};
  char what[640];
  const char *verb;
  fo_stack *st = NULL;
  args a;
  int rc, code;
  if ((rc = args_parse(&a, argc, argv, known, stack_usage)) != 0)
    return rc < 0 ? EXIT_DONE : rc;
  if (a.npos < 1)
    return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", stack_usage);
  verb = a.pos[0];
  if (strcmp(verb, "list") == 0 && a.npos == 1) {
    static const char *const cols[] = {"stack", "groups", "lbs", "webs",
                                       "web head"};
    if ((code = session_open(s, 1)) != 0)
      return code;
    if (s->json)
      js_begin_obj(NULL), js_begin_arr("stacks");
    else
      tb_head(5, cols);
    for (st = fo_registry_next_stack(s->reg, NULL); st != NULL;
         st = fo_registry_next_stack(s->reg, st))
      show_stack(s, st, 0);
    if (s->json)
      js_end_arr(), js_end_obj(), js_done();
    else
      tb_print();
    return EXIT_DONE;
  }
  if (strcmp(verb, "show") == 0 && a.npos == 2) {
    if ((code = session_open(s, 1)) != 0)
      return code;
    if ((st = find_stack(s, a.pos[1])) == NULL)
      return s->lookup_exit;
    begin(s);
    show_stack(s, st, 1);
    return finish(s, EXIT_DONE);
  }
  if (strcmp(verb, "add") == 0 && a.npos == 2) {
    if ((code = session_open(s, 0)) != 0)
      return code;
    snprintf(what, sizeof(what), "add stack %s", a.pos[1]);
    WRITE(s, rc, fo_stack_new(&st, s->reg, a.pos[1]));
    if (rc != 0 || s->dry_run)
      return session_result(s, rc, what, NULL);
    begin(s);
    if (s->json)
      show_stack(s, st, 1);
    else
      printf("added stack %s\n", a.pos[1]);
    return finish(s, EXIT_DONE);
  }
  if ((strcmp(verb, "rename") == 0 && a.npos == 3) ||
      (strcmp(verb, "remove") == 0 && a.npos == 2)) {
    int rename = verb[2] == 'n';
    if ((code = session_open(s, 0)) != 0)
      return code;
    if ((st = find_stack(s, a.pos[1])) == NULL)
      return s->lookup_exit;
    if (rename) {
      snprintf(what, sizeof(what), "rename stack %s to %s", a.pos[1], a.pos[2]);
      WRITE(s, rc, fo_stack_rename(st, a.pos[2]));
    } else {
      snprintf(what, sizeof(what), "remove stack %s", a.pos[1]);
      WRITE(s, rc, fo_stack_remove(st));
    }
    if (rc != 0 || s->dry_run)
      return session_result(s, rc, what, NULL);
    begin(s);
    if (s->json)
      js_str("done", what);
    else
      printf("%s: done\n", what);
    return finish(s, rename ? publish_followers(s, st) : EXIT_DONE);
  }
  return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", stack_usage);
}

/* ---- servers --------------------------------------------------------------- */

/* Split --ip values into one IPv4 and one IPv6 (either may stay NULL). */
static int split_ips(session *s, const args *a, const char **v4,
                     const char **v6) {
  const char *ips[4];
  unsigned char buf[16];
  int i, n = args_all(a, "ip", ips, 4);
  *v4 = *v6 = NULL;
  for (i = 0; i < n; i++) {
    if (inet_pton(AF_INET, ips[i], buf) == 1 && *v4 == NULL)
      *v4 = ips[i];
    else if (inet_pton(AF_INET6, ips[i], buf) == 1 && *v6 == NULL)
      *v6 = ips[i];
    else
      return fail(s, EXIT_USAGE, FO_EBADADDR,
                  "bad --ip %s (one IPv4 and one IPv6 address at most)", ips[i]);
  }
  return 0;
}

int cmd_server(session *s, int argc, char **argv) {
  static const char *const known[] = {"lb", "web", "host=", "ip=", "templated",
                                      "no-ip", NULL};
  char what[640];
  const char *verb, *v4, *v6, *host;
  fo_stack *st;
  args a;
  int rc, code;
  if ((rc = args_parse(&a, argc, argv, known, server_usage)) != 0)
    return rc < 0 ? EXIT_DONE : rc;
  if (a.npos < 3)
    return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", server_usage);
  verb = a.pos[0];
  if ((rc = split_ips(s, &a, &v4, &v6)) != 0)
    return rc;
  host = args_get(&a, "host");
  if ((code = session_open(s, 0)) != 0)
    return code;
  if ((st = find_stack(s, a.pos[1])) == NULL)
    return s->lookup_exit;
  if (strcmp(verb, "add") == 0 && a.npos == 3) {
    fo_server_kind kind = args_has(&a, "lb") ? FO_SERVER_LOAD_BALANCER
                                             : FO_SERVER_WEB;
    if (args_has(&a, "lb") == args_has(&a, "web"))
      return fail(s, EXIT_USAGE, 0, "say --lb or --web");
    snprintf(what, sizeof(what), "add %s %s to stack %s",
             kind == FO_SERVER_LOAD_BALANCER ? "load balancer" : "web server",
             a.pos[2], a.pos[1]);
    if ((rc = session_write_begin(s)) != 0)
      return session_result(s, rc, what, NULL);
    rc = fo_stack_add_server(st, kind, a.pos[2], host);
    if (rc == 0 && (v4 || v6))
      rc = fo_stack_set_server_addresses(st, a.pos[2], v4, v6);
    rc = session_write_end(s, rc);
  } else if (strcmp(verb, "remove") == 0 && a.npos == 3) {
    snprintf(what, sizeof(what), "remove server %s from stack %s", a.pos[2],
             a.pos[1]);
    WRITE(s, rc, fo_stack_remove_server(st, a.pos[2]));
  } else if (strcmp(verb, "rename") == 0 && a.npos == 4) {
    snprintf(what, sizeof(what), "rename server %s of stack %s to %s",
             a.pos[2], a.pos[1], a.pos[3]);
    WRITE(s, rc, fo_stack_rename_server(st, a.pos[2], a.pos[3]));
  } else if (strcmp(verb, "set") == 0 && a.npos == 3) {
    snprintf(what, sizeof(what), "set server %s of stack %s", a.pos[2],
             a.pos[1]);
    if ((rc = session_write_begin(s)) != 0)
      return session_result(s, rc, what, NULL);
    if (host != NULL || args_has(&a, "templated"))
      rc = fo_stack_set_server_host_name(st, a.pos[2], host);
    if ((rc == 0 || (s->dry_run && rc == FO_EREADONLY)) &&
        (v4 || v6 || args_has(&a, "no-ip")))
      rc = fo_stack_set_server_addresses(st, a.pos[2], v4, v6);
    rc = session_write_end(s, rc);
  } else {
    return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", server_usage);
  }
  if (rc != 0 || s->dry_run)
    return session_result(s, rc, what, NULL);
  begin(s);
  if (s->json)
    js_str("done", what);
  else
    printf("%s: done\n", what);
  return finish(s, publish_followers(s, st));
}
