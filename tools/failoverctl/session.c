/*
 * session.c - one command's store and registry, its settings, look-ups
 * with an operator's error messages, and how a mutation's result is told.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int session_open(session *s, int readonly) {
  fo_registry_options o = FO_REGISTRY_OPTIONS_INIT;
  unsigned flags = (readonly || s->dry_run) ? FO_STORE_READONLY : 0;
  int rc = fo_store_open(&s->store, s->db, flags);
  if (rc == FO_ENOENT || rc == FO_ENOSTORE)
    return fail(s, EXIT_STORE, rc, "no failover store at %s; run `failoverctl init` first",
                s->db);
  if (rc != 0)
    return fail(s, EXIT_STORE, rc, "cannot open the store %s: %s", s->db,
                fo_strerror(rc));
  rc = fo_registry_open(&s->reg, &o, s->store);
  if (rc != 0) {
    fo_store_close(s->store);
    s->store = NULL;
    if (rc == FO_ENOSTORE)
      return fail(s, EXIT_STORE, rc, "the store %s holds no registry; run "
                  "`failoverctl init` first", s->db);
    return fail(s, EXIT_STORE, rc, "cannot load the store %s: %s", s->db,
                fo_strerror(rc));
  }
  {
    const char *zone = "";
    fo_registry_zone(s->reg, &zone);
    snprintf(s->zone, sizeof(s->zone), "%s", zone);
  }
  return 0;
}

void session_close(session *s) {
  fo_registry_free(s->reg);
  fo_store_close(s->store);
  s->reg = NULL;
  s->store = NULL;
}

/* Refreshes before giving up on a store that keeps moving. */
#define CATCH_UP_MAX 64

int session_write_begin(session *s) {
  int i, rc = FO_ESTALE;
  if (s->dry_run)
    return 0;
  for (i = 0; i < CATCH_UP_MAX && rc == FO_ESTALE; i++) {
    rc = fo_registry_batch_begin(s->reg);
    if (rc == FO_ESTALE && fo_registry_refresh(s->reg) != 0)
      break;
  }
  return rc;
}

int session_write_end(session *s, int rc) {
  int crc;
  if (s->dry_run)
    return rc;
  crc = fo_registry_batch_commit(s->reg);
  return rc != 0 ? rc : crc;
}

void session_setting(session *s, const char *name, char *buf, size_t size) {
  if (fo_store_setting_get(s->store, name, buf, size, NULL) != 0)
    buf[0] = '\0';
}

fo_stack *find_stack(session *s, const char *name) {
  fo_stack *st = NULL;
  int rc = fo_registry_find_stack(s->reg, name, &st);
  if (rc == 0)
    return st;
  s->lookup_exit = rc == FO_ENOENT ? EXIT_REFUSED : EXIT_USAGE;
  fail(s, s->lookup_exit, rc,
       rc == FO_ENOENT ? "no stack named %s" : "bad stack name %s: %s", name,
       fo_strerror(rc));
  return NULL;
}

fo_group *find_group(session *s, const char *address) {
  fo_group *g = NULL;
  int rc = fo_registry_find_group(s->reg, address, &g);
  if (rc == 0)
    return g;
  s->lookup_exit = rc == FO_ENOENT || rc == FO_EDELETED ? EXIT_REFUSED : EXIT_USAGE;
  fail(s, s->lookup_exit, rc,
       rc == FO_ENOENT ? "no group %s" : "bad group address %s: %s", address,
       fo_strerror(rc));
  return NULL;
}

int session_result(session *s, int rc, const char *what, fo_group *group) {
  char why[512];
  if (s->dry_run && (rc == FO_EREADONLY || rc == 0)) {
    /* The store was opened read-only: every rule passed and only the
     * write itself was refused. */
    if (s->json) {
      js_begin_obj(NULL);
      js_bool("allowed", 1);
      js_str("operation", what);
      js_end_obj();
      js_done();
    } else {
      printf("allowed: %s\n", what);
    }
    return EXIT_DONE;
  }
  if (rc == 0)
    return EXIT_DONE;
  if (rc == FO_ESTALE && s->attempt < ATTEMPTS_MAX)
    return EXIT_RETRY; /* nothing printed, nothing changed: run again */
  explain(rc, group, why, sizeof(why));
  if (s->dry_run && s->json) {
    js_begin_obj(NULL);
    js_bool("allowed", 0);
    js_str("operation", what);
    js_str("code", fo_err_name(rc));
    js_str("reason", why);
    js_end_obj();
    js_done();
    return exit_code_of(rc);
  }
  return fail(s, exit_code_of(rc), rc, "cannot %s: %s", what, why);
}

/* ---- a group as JSON ------------------------------------------------------ */

void js_group(const char *key, fo_group *g) {
  char addr[FO_NAME_BUFSIZE], text[1024];
  fo_stack *p = NULL, *b = NULL;
  fo_state st = FO_GROUP_RESERVED;
  fo_slot active = FO_SLOT_PRIMARY;
  fo_rrset set = FO_RRSET_INIT;
  uint32_t ttl = 0;
  fo_group_address(g, addr, sizeof(addr));
  fo_group_state(g, &st);
  fo_group_stack(g, FO_SLOT_PRIMARY, &p);
  fo_group_stack(g, FO_SLOT_BACKUP, &b);
  fo_group_ttl(g, &ttl);
  js_begin_obj(key);
  js_str("address", addr);
  js_str("state", fo_state_name(st));
  if ((p || b) && fo_group_active_slot(g, &active) == 0)
    js_str("active", slot_name(active));
  else
    js_str("active", NULL);
  js_str("primary", stack_name_or(p, NULL));
  js_str("backup", stack_name_or(b, NULL));
  js_int("ttl", ttl);
  js_begin_arr("records");
  if (fo_group_records(g, &set) == 0 &&
      fo_rrset_format(&set, text, sizeof(text), NULL) == 0) {
    char *line = text, *nl;
    while ((nl = strchr(line, '\n')) != NULL) {
      *nl = '\0';
      js_str(NULL, line);
      line = nl + 1;
    }
  }
  js_end_arr();
  js_end_obj();
}
