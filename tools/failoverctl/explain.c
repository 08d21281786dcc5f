/*
 * explain.c - a refusal in an operator's words: which rule said no, about
 * what, and what to do instead; and the exit code of each library code.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *slot_name(fo_slot slot) {
  return slot == FO_SLOT_BACKUP ? "backup" : "primary";
}

const char *stack_name_or(fo_stack *stack, const char *none) {
  const char *name = NULL;
  if (stack == NULL || fo_stack_name(stack, &name) != 0)
    return none;
  return name;
}

/* The stack a group holds in a slot, by name ("" when empty). */
static const char *slot_stack(fo_group *g, fo_slot slot) {
  fo_stack *st = NULL;
  if (g == NULL || fo_group_stack(g, slot, &st) != 0)
    return "";
  return stack_name_or(st, "");
}

void explain(int rc, fo_group *g, char *buf, size_t size) {
  char addr[FO_NAME_BUFSIZE] = "the group";
  fo_slot active = FO_SLOT_PRIMARY;
  if (g != NULL) {
    fo_group_address(g, addr, sizeof(addr));
    fo_group_active_slot(g, &active);
  }
  switch (rc) {
  case FO_EATTACHED:
    if (*slot_stack(g, FO_SLOT_PRIMARY))
      snprintf(buf, size, "the primary slot still holds stack %s; detach it first",
               slot_stack(g, FO_SLOT_PRIMARY));
    else
      snprintf(buf, size, "the backup slot still holds stack %s; detach it first",
               slot_stack(g, FO_SLOT_BACKUP));
    return;
  case FO_EACTIVE:
    snprintf(buf, size,
             "the %s slot (stack %s) is serving %s while the other slot holds "
             "stack %s; switch first, or detach with --force",
             slot_name(active), slot_stack(g, active), addr,
             slot_stack(g, active == FO_SLOT_PRIMARY ? FO_SLOT_BACKUP
                                                     : FO_SLOT_PRIMARY));
    return;
  case FO_EALREADY:
    snprintf(buf, size, "the %s slot is already the active one", slot_name(active));
    return;
  case FO_ESWITCHING:
    snprintf(buf, size, "a switch of %s is not confirmed in DNS yet; settle it "
             "first (or use --force)", addr);
    return;
  case FO_ENOTSWITCHING:
    snprintf(buf, size, "%s has no switch waiting to be settled", addr);
    return;
  case FO_ESLOTEMPTY:
    snprintf(buf, size, "that slot holds no stack; attach one first");
    return;
  case FO_ESLOTFULL:
    snprintf(buf, size, "that slot already holds stack %s; detach it first",
             g ? slot_stack(g, active) : "");
    return;
  case FO_ESAMESTACK:
    snprintf(buf, size, "a group cannot hold one stack in both slots");
    return;
  case FO_ENOWEBHEAD:
    snprintf(buf, size, "the stack has no server (no load balancer and no web "
             "server) to point at; add one first, or use --force");
    return;
  case FO_EINUSE:
    snprintf(buf, size, "groups still hold the stack; detach it from them first");
    return;
  case FO_EEXIST:
    snprintf(buf, size, "that name is taken already");
    return;
  case FO_ENOENT:
    snprintf(buf, size, "no such object");
    return;
  case FO_EDELETED:
    snprintf(buf, size, "it was deleted");
    return;
  case FO_ESTALE:
    snprintf(buf, size, "another process changed the store meanwhile; run the "
             "command again");
    return;
  default:
    snprintf(buf, size, "%s", fo_strerror(rc));
  }
}

int exit_code_of(int rc) {
  switch (rc) {
  case 0:
    return EXIT_DONE;
  case FO_EINVAL:
  case FO_EBADNAME:
  case FO_ENAMETOOLONG:
  case FO_EBADADDR:
  case FO_ERANGE:
  case FO_EBADTEMPLATE:
    return EXIT_USAGE;
  case FO_ETIMEDOUT:
    return EXIT_DNS;
  case FO_ESTOREIO:
  case FO_ECORRUPT:
  case FO_ENOTDB:
  case FO_ENOTOURS:
  case FO_ESCHEMA:
  case FO_EZONE:
  case FO_ENOSTORE:
  case FO_EREADONLY:
  case FO_ELOCKED:
  case FO_EPOISONED:
  case FO_ECOMPACTED:
  case FO_ENOMEM:
  case FO_EIO:
    return EXIT_STORE;
  default:
    return EXIT_REFUSED;
  }
}

int fail(session *s, int code, int rc, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (s != NULL && s->json) {
    /* Inside a command's document (publishing after a commit): a member
     * of it; else a document of its own. */
    int inner = js_depth() > 0;
    if (!inner)
      js_begin_obj(NULL);
    js_begin_obj("error");
    js_str("code", rc ? fo_err_name(rc) : NULL);
    js_int("exit", code);
    js_str("message", msg);
    js_end_obj();
    if (!inner) {
      js_end_obj();
      js_done();
    }
  } else {
    fprintf(stderr, "failoverctl: %s%s%s\n", c_bad(), msg, c_end());
  }
  return code;
}
