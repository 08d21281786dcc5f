/*
 * test_transitions.c - every row of the transition table, allowed and refused,
 * through fo_op_check(), fo_op_apply() and the dedicated functions.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

/* ---- scenarios ----------------------------------------------------------- */

enum stk { S_NONE, S_A, S_B, S_C, S_E, S_REMOVED, S_FOREIGN };

enum grp {
  G_NONE,            /* no group (create, remove stack) */
  G_RESERVED,        /* () */
  G_A,               /* (a, -) serving from primary */
  G_B_BACKUP,        /* (-, b) serving from backup */
  G_AB,              /* (a, b) serving from primary */
  G_AB_SWITCHING,    /* (a, b) switched to backup, not settled */
  G_B_SWITCHING,     /* switched to backup, then primary detached */
  G_AE,              /* (a, e): backup e has no web head */
  G_AB_SW_A_NOHEAD,  /* switched to backup, then a lost its servers */
  G_DELETED          /* deleted */
};

typedef struct scen {
  fo_registry *reg, *reg2;
  fo_stack *a, *b, *c, *e, *removed, *foreign;
  fo_group *g;
  fo_group *other; /* a second group holding b in its backup slot */
} scen;

static fo_stack *stk_of(const scen *s, enum stk k) {
  switch (k) {
  case S_NONE: return NULL;
  case S_A: return s->a;
  case S_B: return s->b;
  case S_C: return s->c;
  case S_E: return s->e;
  case S_REMOVED: return s->removed;
  case S_FOREIGN: return s->foreign;
  }
  return NULL;
}

static void build(scen *s, enum grp g) {
  memset(s, 0, sizeof *s);
  s->reg = ft_registry(NULL, NULL);
  s->reg2 = ft_registry(NULL, NULL);
  s->a = ft_stack(s->reg, "a", 1, 0);
  s->b = ft_stack(s->reg, "b", 1, 1);
  s->c = ft_stack(s->reg, "c", 2, 0);
  s->e = ft_stack(s->reg, "e", 0, 0);
  s->removed = ft_stack(s->reg, "gone", 1, 0);
  FT_OK(fo_stack_remove(s->removed));
  s->foreign = ft_stack(s->reg2, "a", 1, 0); /* same name, other registry */
  switch (g) {
  case G_NONE:
    break;
  case G_RESERVED:
    s->g = ft_group(s->reg, NULL, NULL);
    break;
  case G_A:
    s->g = ft_group(s->reg, s->a, NULL);
    break;
  case G_B_BACKUP:
    s->g = ft_group(s->reg, NULL, s->b);
    break;
  case G_AB:
    s->g = ft_group(s->reg, s->a, s->b);
    break;
  case G_AB_SWITCHING:
    s->g = ft_group(s->reg, s->a, s->b);
    FT_OK(fo_group_switch(s->g, FO_SLOT_BACKUP, 0));
    break;
  case G_B_SWITCHING:
    s->g = ft_group(s->reg, s->a, s->b);
    FT_OK(fo_group_switch(s->g, FO_SLOT_BACKUP, 0));
    FT_OK(fo_group_detach(s->g, FO_SLOT_PRIMARY, 0));
    break;
  case G_AE:
    s->g = ft_group(s->reg, s->a, s->e);
    break;
  case G_AB_SW_A_NOHEAD:
    s->g = ft_group(s->reg, s->a, s->b);
    FT_OK(fo_group_switch(s->g, FO_SLOT_BACKUP, 0));
    FT_OK(fo_stack_remove_server(s->a, "web1"));
    break;
  case G_DELETED:
    s->g = ft_group(s->reg, NULL, NULL);
    FT_OK(fo_group_delete(s->g));
    break;
  }
  s->other = ft_group(s->reg, NULL, s->b);
}

static void teardown_scen(scen *s) {
  fo_registry_free(s->reg);
  fo_registry_free(s->reg2);
}

/* Invariants of one group. */
static void check_group_invariants(const fo_group *g) {
  fo_state st = ft_state(g);
  if (st == FO_GROUP_DELETED) {
    fo_stack *x;
    FT_RC(fo_group_stack(g, FO_SLOT_PRIMARY, &x), FO_EDELETED);
    return;
  }
  fo_stack *p = ft_slot(g, FO_SLOT_PRIMARY), *b = ft_slot(g, FO_SLOT_BACKUP);
  cr_assert(!(p && p == b), "the same stack is in both slots");
  if (!p && !b) {
    cr_assert_eq((int)st, FO_GROUP_RESERVED, "no stack but state %d", (int)st);
    return;
  }
  cr_assert((int)st == FO_GROUP_SERVING || (int)st == FO_GROUP_SWITCHING,
            "a stack is attached but state is %d", (int)st);
  fo_slot act = ft_active(g);
  cr_assert((act == FO_SLOT_PRIMARY && p) || (act == FO_SLOT_BACKUP && b),
            "invariant: a slot holds a stack but the active slot %d is empty", (int)act);
}

static void check_all_invariants(const fo_registry *reg) {
  for (fo_group *g = fo_registry_next_group(reg, NULL); g; g = fo_registry_next_group(reg, g))
    check_group_invariants(g);
}

/* ---- the table ------------------------------------------------------------ */

typedef struct tcase {
  const char *name;
  enum grp setup;
  fo_op_kind kind;
  enum stk primary, backup; /* CREATE */
  enum stk stack;           /* ATTACH, REMOVE_STACK */
  fo_slot slot;
  unsigned flags;
  int foreign_registry;     /* CREATE in reg2 */
  int expect;
  /* after success: */
  fo_state state;
  enum stk after_primary, after_backup;
  int after_active; /* -1: no stack attached (not checked) */
} tcase;

#define P FO_SLOT_PRIMARY
#define B FO_SLOT_BACKUP
#define F FO_FORCE

static const tcase cases[] = {
    /* create(primary?, backup?): stacks exist and differ */
    {"create empty", G_NONE, FO_OP_CREATE, S_NONE, S_NONE, 0, 0, 0, 0, 0, FO_GROUP_RESERVED, S_NONE, S_NONE, -1},
    {"create primary", G_NONE, FO_OP_CREATE, S_A, S_NONE, 0, 0, 0, 0, 0, FO_GROUP_SERVING, S_A, S_NONE, P},
    {"create backup only", G_NONE, FO_OP_CREATE, S_NONE, S_B, 0, 0, 0, 0, 0, FO_GROUP_SERVING, S_NONE, S_B, B},
    {"create both", G_NONE, FO_OP_CREATE, S_A, S_B, 0, 0, 0, 0, 0, FO_GROUP_SERVING, S_A, S_B, P},
    {"create no web head", G_NONE, FO_OP_CREATE, S_E, S_NONE, 0, 0, 0, 0, 0, FO_GROUP_SERVING, S_E, S_NONE, P},
    {"create same stack", G_NONE, FO_OP_CREATE, S_A, S_A, 0, 0, 0, 0, FO_ESAMESTACK, 0, 0, 0, 0},
    {"create foreign primary", G_NONE, FO_OP_CREATE, S_FOREIGN, S_NONE, 0, 0, 0, 0, FO_EFOREIGN, 0, 0, 0, 0},
    {"create foreign backup", G_NONE, FO_OP_CREATE, S_A, S_FOREIGN, 0, 0, 0, 0, FO_EFOREIGN, 0, 0, 0, 0},
    {"create in other registry", G_NONE, FO_OP_CREATE, S_A, S_NONE, 0, 0, 0, 1, FO_EFOREIGN, 0, 0, 0, 0},
    {"create removed primary", G_NONE, FO_OP_CREATE, S_REMOVED, S_NONE, 0, 0, 0, 0, FO_EDELETED, 0, 0, 0, 0},
    {"create removed backup", G_NONE, FO_OP_CREATE, S_A, S_REMOVED, 0, 0, 0, 0, FO_EDELETED, 0, 0, 0, 0},
    {"create removed backup only", G_NONE, FO_OP_CREATE, S_NONE, S_REMOVED, 0, 0, 0, 0, FO_EDELETED, 0, 0, 0, 0},
    /* attach(slot, stack): slot empty, stack not in the other slot, group not deleted */
    {"attach primary to reserved", G_RESERVED, FO_OP_ATTACH, 0, 0, S_A, P, 0, 0, 0, FO_GROUP_SERVING, S_A, S_NONE, P},
    {"attach backup to reserved", G_RESERVED, FO_OP_ATTACH, 0, 0, S_B, B, 0, 0, 0, FO_GROUP_SERVING, S_NONE, S_B, B},
    {"attach backup", G_A, FO_OP_ATTACH, 0, 0, S_B, B, 0, 0, 0, FO_GROUP_SERVING, S_A, S_B, P},
    {"attach no-web-head backup", G_A, FO_OP_ATTACH, 0, 0, S_E, B, 0, 0, 0, FO_GROUP_SERVING, S_A, S_E, P},
    {"attach primary beside backup", G_B_BACKUP, FO_OP_ATTACH, 0, 0, S_A, P, 0, 0, 0, FO_GROUP_SERVING, S_A, S_B, B},
    {"attach while switching", G_B_SWITCHING, FO_OP_ATTACH, 0, 0, S_C, P, 0, 0, 0, FO_GROUP_SWITCHING, S_C, S_B, B},
    {"attach slot full", G_A, FO_OP_ATTACH, 0, 0, S_C, P, 0, 0, FO_ESLOTFULL, 0, 0, 0, 0},
    {"attach slot full (same stack)", G_A, FO_OP_ATTACH, 0, 0, S_A, P, 0, 0, FO_ESLOTFULL, 0, 0, 0, 0},
    {"attach backup slot full", G_AB, FO_OP_ATTACH, 0, 0, S_C, B, 0, 0, FO_ESLOTFULL, 0, 0, 0, 0},
    {"attach same stack other slot", G_A, FO_OP_ATTACH, 0, 0, S_A, B, 0, 0, FO_ESAMESTACK, 0, 0, 0, 0},
    {"attach same stack other slot (backup)", G_B_BACKUP, FO_OP_ATTACH, 0, 0, S_B, P, 0, 0, FO_ESAMESTACK, 0, 0, 0, 0},
    {"attach to deleted group", G_DELETED, FO_OP_ATTACH, 0, 0, S_A, P, 0, 0, FO_EDELETED, 0, 0, 0, 0},
    {"attach removed stack", G_A, FO_OP_ATTACH, 0, 0, S_REMOVED, B, 0, 0, FO_EDELETED, 0, 0, 0, 0},
    {"attach removed stack to reserved", G_RESERVED, FO_OP_ATTACH, 0, 0, S_REMOVED, P, 0, 0, FO_EDELETED, 0, 0, 0, 0},
    {"attach foreign stack", G_A, FO_OP_ATTACH, 0, 0, S_FOREIGN, B, 0, 0, FO_EFOREIGN, 0, 0, 0, 0},
    {"attach foreign stack to reserved", G_RESERVED, FO_OP_ATTACH, 0, 0, S_FOREIGN, P, 0, 0, FO_EFOREIGN, 0, 0, 0, 0},
    /* detach(slot): holds a stack, not the active slot of a group with another stack */
    {"detach empty slot (reserved)", G_RESERVED, FO_OP_DETACH, 0, 0, 0, P, 0, 0, FO_ESLOTEMPTY, 0, 0, 0, 0},
    {"detach empty slot (reserved, force)", G_RESERVED, FO_OP_DETACH, 0, 0, 0, B, F, 0, FO_ESLOTEMPTY, 0, 0, 0, 0},
    {"detach empty backup", G_A, FO_OP_DETACH, 0, 0, 0, B, 0, 0, FO_ESLOTEMPTY, 0, 0, 0, 0},
    {"detach empty backup (force)", G_A, FO_OP_DETACH, 0, 0, 0, B, F, 0, FO_ESLOTEMPTY, 0, 0, 0, 0},
    {"detach inactive backup", G_AB, FO_OP_DETACH, 0, 0, 0, B, 0, 0, 0, FO_GROUP_SERVING, S_A, S_NONE, P},
    {"detach inactive backup (force)", G_AB, FO_OP_DETACH, 0, 0, 0, B, F, 0, 0, FO_GROUP_SERVING, S_A, S_NONE, P},
    {"detach active with other", G_AB, FO_OP_DETACH, 0, 0, 0, P, 0, 0, FO_EACTIVE, 0, 0, 0, 0},
    {"detach active with other (switching)", G_AB_SWITCHING, FO_OP_DETACH, 0, 0, 0, B, 0, 0, FO_EACTIVE, 0, 0, 0, 0},
    {"detach active forced", G_AB, FO_OP_DETACH, 0, 0, 0, P, F, 0, 0, FO_GROUP_SWITCHING, S_NONE, S_B, B},
    {"detach active forced (switching)", G_AB_SWITCHING, FO_OP_DETACH, 0, 0, 0, B, F, 0, 0, FO_GROUP_SWITCHING, S_A, S_NONE, P},
    {"detach inactive while switching", G_AB_SWITCHING, FO_OP_DETACH, 0, 0, 0, P, 0, 0, 0, FO_GROUP_SWITCHING, S_NONE, S_B, B},
    {"detach only stack", G_A, FO_OP_DETACH, 0, 0, 0, P, 0, 0, 0, FO_GROUP_RESERVED, S_NONE, S_NONE, -1},
    {"detach only stack (force)", G_A, FO_OP_DETACH, 0, 0, 0, P, F, 0, 0, FO_GROUP_RESERVED, S_NONE, S_NONE, -1},
    {"detach only backup stack", G_B_BACKUP, FO_OP_DETACH, 0, 0, 0, B, 0, 0, 0, FO_GROUP_RESERVED, S_NONE, S_NONE, -1},
    {"detach only stack while switching", G_B_SWITCHING, FO_OP_DETACH, 0, 0, 0, B, 0, 0, 0, FO_GROUP_RESERVED, S_NONE, S_NONE, -1},
    {"detach deleted", G_DELETED, FO_OP_DETACH, 0, 0, 0, P, 0, 0, FO_EDELETED, 0, 0, 0, 0},
    {"detach deleted (force)", G_DELETED, FO_OP_DETACH, 0, 0, 0, P, F, 0, FO_EDELETED, 0, 0, 0, 0},
    /* switch(to): target holds a stack with a web head, not active, no switch in flight */
    {"switch to backup", G_AB, FO_OP_SWITCH, 0, 0, 0, B, 0, 0, 0, FO_GROUP_SWITCHING, S_A, S_B, B},
    {"switch to backup (force)", G_AB, FO_OP_SWITCH, 0, 0, 0, B, F, 0, 0, FO_GROUP_SWITCHING, S_A, S_B, B},
    {"switch reserved", G_RESERVED, FO_OP_SWITCH, 0, 0, 0, P, 0, 0, FO_ESLOTEMPTY, 0, 0, 0, 0},
    {"switch reserved (force)", G_RESERVED, FO_OP_SWITCH, 0, 0, 0, B, F, 0, FO_ESLOTEMPTY, 0, 0, 0, 0},
    {"switch to empty slot", G_A, FO_OP_SWITCH, 0, 0, 0, B, 0, 0, FO_ESLOTEMPTY, 0, 0, 0, 0},
    {"switch to empty slot (force)", G_A, FO_OP_SWITCH, 0, 0, 0, B, F, 0, FO_ESLOTEMPTY, 0, 0, 0, 0},
    {"switch to empty slot while switching", G_B_SWITCHING, FO_OP_SWITCH, 0, 0, 0, P, 0, 0, FO_ESLOTEMPTY, 0, 0, 0, 0},
    {"switch already active", G_AB, FO_OP_SWITCH, 0, 0, 0, P, 0, 0, FO_EALREADY, 0, 0, 0, 0},
    {"switch already active (force)", G_AB, FO_OP_SWITCH, 0, 0, 0, P, F, 0, FO_EALREADY, 0, 0, 0, 0},
    {"switch already active, single", G_A, FO_OP_SWITCH, 0, 0, 0, P, 0, 0, FO_EALREADY, 0, 0, 0, 0},
    {"switch already active while switching", G_AB_SWITCHING, FO_OP_SWITCH, 0, 0, 0, B, 0, 0, FO_EALREADY, 0, 0, 0, 0},
    {"switch while switching", G_AB_SWITCHING, FO_OP_SWITCH, 0, 0, 0, P, 0, 0, FO_ESWITCHING, 0, 0, 0, 0},
    {"switch while switching (force)", G_AB_SWITCHING, FO_OP_SWITCH, 0, 0, 0, P, F, 0, 0, FO_GROUP_SWITCHING, S_A, S_B, P},
    {"switch no web head", G_AE, FO_OP_SWITCH, 0, 0, 0, B, 0, 0, FO_ENOWEBHEAD, 0, 0, 0, 0},
    {"switch no web head (force)", G_AE, FO_OP_SWITCH, 0, 0, 0, B, F, 0, 0, FO_GROUP_SWITCHING, S_A, S_E, B},
    {"switch in flight before web head", G_AB_SW_A_NOHEAD, FO_OP_SWITCH, 0, 0, 0, P, 0, 0, FO_ESWITCHING, 0, 0, 0, 0},
    {"switch in flight + no web head (force)", G_AB_SW_A_NOHEAD, FO_OP_SWITCH, 0, 0, 0, P, F, 0, 0, FO_GROUP_SWITCHING, S_A, S_B, P},
    {"switch deleted", G_DELETED, FO_OP_SWITCH, 0, 0, 0, P, 0, 0, FO_EDELETED, 0, 0, 0, 0},
    {"switch deleted (force)", G_DELETED, FO_OP_SWITCH, 0, 0, 0, P, F, 0, FO_EDELETED, 0, 0, 0, 0},
    /* settle: a switch is in flight */
    {"settle switching", G_AB_SWITCHING, FO_OP_SETTLE, 0, 0, 0, 0, 0, 0, 0, FO_GROUP_SERVING, S_A, S_B, B},
    {"settle switching, single", G_B_SWITCHING, FO_OP_SETTLE, 0, 0, 0, 0, 0, 0, 0, FO_GROUP_SERVING, S_NONE, S_B, B},
    {"settle serving", G_AB, FO_OP_SETTLE, 0, 0, 0, 0, 0, 0, FO_ENOTSWITCHING, 0, 0, 0, 0},
    {"settle reserved", G_RESERVED, FO_OP_SETTLE, 0, 0, 0, 0, 0, 0, FO_ENOTSWITCHING, 0, 0, 0, 0},
    {"settle deleted", G_DELETED, FO_OP_SETTLE, 0, 0, 0, 0, 0, 0, FO_EDELETED, 0, 0, 0, 0},
    /* delete: no stack attached */
    {"delete reserved", G_RESERVED, FO_OP_DELETE, 0, 0, 0, 0, 0, 0, 0, FO_GROUP_DELETED, 0, 0, -1},
    {"delete with primary", G_A, FO_OP_DELETE, 0, 0, 0, 0, 0, 0, FO_EATTACHED, 0, 0, 0, 0},
    {"delete with backup", G_B_BACKUP, FO_OP_DELETE, 0, 0, 0, 0, 0, 0, FO_EATTACHED, 0, 0, 0, 0},
    {"delete with both", G_AB, FO_OP_DELETE, 0, 0, 0, 0, 0, 0, FO_EATTACHED, 0, 0, 0, 0},
    {"delete switching", G_AB_SWITCHING, FO_OP_DELETE, 0, 0, 0, 0, 0, 0, FO_EATTACHED, 0, 0, 0, 0},
    {"delete deleted", G_DELETED, FO_OP_DELETE, 0, 0, 0, 0, 0, 0, FO_EDELETED, 0, 0, 0, 0},
    /* remove stack: attached to no group */
    {"remove unused stack", G_A, FO_OP_REMOVE_STACK, 0, 0, S_C, 0, 0, 0, 0, 0, 0, 0, 0},
    {"remove unused stack, no servers", G_A, FO_OP_REMOVE_STACK, 0, 0, S_E, 0, 0, 0, 0, 0, 0, 0, 0},
    {"remove stack in primary", G_A, FO_OP_REMOVE_STACK, 0, 0, S_A, 0, 0, 0, FO_EINUSE, 0, 0, 0, 0},
    {"remove stack in backup", G_AB, FO_OP_REMOVE_STACK, 0, 0, S_B, 0, 0, 0, FO_EINUSE, 0, 0, 0, 0},
    {"remove stack in inactive slot only", G_AE, FO_OP_REMOVE_STACK, 0, 0, S_E, 0, 0, 0, FO_EINUSE, 0, 0, 0, 0},
    {"remove removed stack", G_A, FO_OP_REMOVE_STACK, 0, 0, S_REMOVED, 0, 0, 0, FO_EDELETED, 0, 0, 0, 0},
};
#define NCASES (sizeof cases / sizeof cases[0])

static fo_op make_op(const scen *s, const tcase *c) {
  fo_op op;
  FT_OK(fo_op_init(&op, FO_OP_VERSION, c->kind));
  cr_assert_eq((int)op.kind, (int)c->kind);
  op.registry = c->foreign_registry ? s->reg2 : s->reg;
  op.group = s->g;
  op.stack = stk_of(s, c->stack);
  op.primary = stk_of(s, c->primary);
  op.backup = stk_of(s, c->backup);
  op.slot = c->slot;
  op.flags = c->flags;
  return op;
}

/* Run the operation with its dedicated function. */
static int run_dedicated(const fo_op *op, fo_group **created) {
  switch (op->kind) {
  case FO_OP_CREATE: return fo_group_create(created, op->registry, op->primary, op->backup);
  case FO_OP_ATTACH: return fo_group_attach(op->group, op->slot, op->stack);
  case FO_OP_DETACH: return fo_group_detach(op->group, op->slot, op->flags);
  case FO_OP_SWITCH: return fo_group_switch(op->group, op->slot, op->flags);
  case FO_OP_SETTLE: return fo_group_settle(op->group);
  case FO_OP_DELETE: return fo_group_delete(op->group);
  case FO_OP_REMOVE_STACK: return fo_stack_remove(op->stack);
  }
  return -999;
}

static void check_after(const scen *s, const tcase *c, const fo_op *op, fo_group *created,
                        const char *how) {
  if (c->kind == FO_OP_REMOVE_STACK) {
    const char *n;
    FT_RC(fo_stack_name(op->stack, &n), FO_EDELETED);
    return;
  }
  const fo_group *g = c->kind == FO_OP_CREATE ? created : s->g;
  cr_assert_not_null(g, "[%s via %s] no group", c->name, how);
  fo_state st = ft_state(g);
  cr_assert_eq((int)st, (int)c->state, "[%s via %s] state %d, expected %d", c->name, how,
               (int)st, (int)c->state);
  if (c->state == FO_GROUP_DELETED) {
    check_group_invariants(g);
    return;
  }
  fo_stack *p = ft_slot(g, FO_SLOT_PRIMARY), *b = ft_slot(g, FO_SLOT_BACKUP);
  cr_assert_eq(p, stk_of(s, c->after_primary), "[%s via %s] primary slot", c->name, how);
  cr_assert_eq(b, stk_of(s, c->after_backup), "[%s via %s] backup slot", c->name, how);
  if (c->after_active >= 0)
    cr_assert_eq((int)ft_active(g), c->after_active, "[%s via %s] active slot", c->name, how);
  check_group_invariants(g);
}

static void run_case(const tcase *c, int dedicated) {
  const char *how = dedicated ? "dedicated function" : "fo_op_apply";
  scen s;
  build(&s, c->setup);
  fo_op op = make_op(&s, c);
  fo_registry *target_reg = c->foreign_registry ? s.reg2 : s.reg;
  char *before = ft_snapshot(s.reg);
  char *before2 = ft_snapshot(s.reg2);
  int chk = fo_op_check(&op);
  cr_assert_eq(chk, c->expect, "[%s] fo_op_check returned %s, expected %s", c->name,
               fo_err_name(chk), fo_err_name(c->expect));
  FT_UNCHANGED(before, s.reg, "fo_op_check");
  FT_UNCHANGED(before2, s.reg2, "fo_op_check");
  fo_group *created = (fo_group *)(uintptr_t)0x1;
  int rc = dedicated ? run_dedicated(&op, &created) : fo_op_apply(&op, &created);
  cr_assert_eq(rc, chk, "[%s via %s] returned %s but fo_op_check said %s", c->name, how,
               fo_err_name(rc), fo_err_name(chk));
  cr_assert_eq(rc, c->expect, "[%s via %s] returned %s, expected %s", c->name, how,
               fo_err_name(rc), fo_err_name(c->expect));
  if (rc != 0) {
    FT_UNCHANGED(before, s.reg, c->name);
    FT_UNCHANGED(before2, s.reg2, c->name);
    if (c->kind == FO_OP_CREATE && dedicated)
      cr_assert_null(created, "[%s] *out not NULL after a refused create", c->name);
  } else {
    if (c->kind == FO_OP_CREATE) {
      cr_assert(created != NULL && created != (fo_group *)(uintptr_t)0x1,
                "[%s via %s] created group not stored", c->name, how);
      fo_registry *r = NULL;
      FT_OK(fo_group_registry(created, &r));
      cr_assert_eq(r, target_reg);
    }
    check_after(&s, c, &op, created, how);
  }
  check_all_invariants(s.reg);
  free(before);
  free(before2);
  teardown_scen(&s);
}

Test(table, every_case_via_op_check_and_apply) {
  for (size_t i = 0; i < NCASES; i++)
    run_case(&cases[i], 0);
}

Test(table, every_case_via_dedicated_functions) {
  for (size_t i = 0; i < NCASES; i++)
    run_case(&cases[i], 1);
}

/* ---- details around the table ------------------------------------------- */

Test(transitions, op_init_zeroes) {
  fo_op op;
  memset(&op, 0x5a, sizeof op);
  FT_OK(fo_op_init(&op, FO_OP_VERSION, FO_OP_SWITCH));
  cr_assert_eq((int)op.kind, FO_OP_SWITCH);
  cr_assert_null(op.registry);
  cr_assert_null(op.group);
  cr_assert_null(op.stack);
  cr_assert_null(op.primary);
  cr_assert_null(op.backup);
  cr_assert_eq((int)op.slot, 0);
  cr_assert_eq(op.flags, 0);
}

Test(transitions, deleted_group_refuses_every_change) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_group *g = ft_group(reg, NULL, NULL);
  char addr[FO_NAME_BUFSIZE];
  ft_address(g, addr);
  uint64_t gen_before = ft_generation(g);
  FT_OK(fo_group_delete(g));
  char *before = ft_snapshot(reg);
  char *gbefore = ft_snapshot_group(g);
  FT_RC(fo_group_attach(g, FO_SLOT_PRIMARY, a), FO_EDELETED);
  FT_RC(fo_group_detach(g, FO_SLOT_PRIMARY, 0), FO_EDELETED);
  FT_RC(fo_group_detach(g, FO_SLOT_PRIMARY, FO_FORCE), FO_EDELETED);
  FT_RC(fo_group_switch(g, FO_SLOT_BACKUP, 0), FO_EDELETED);
  FT_RC(fo_group_switch(g, FO_SLOT_BACKUP, FO_FORCE), FO_EDELETED);
  FT_RC(fo_group_settle(g), FO_EDELETED);
  FT_RC(fo_group_delete(g), FO_EDELETED);
  FT_RC(fo_group_set_ttl(g, 120), FO_EDELETED);
  FT_RC(fo_group_set_mode(g, FO_MODE_ADDRESS), FO_EDELETED);
  FT_UNCHANGED(before, reg, "changes to a deleted group");
  char *gafter = ft_snapshot_group(g);
  cr_assert_str_eq(gafter, gbefore);
  free(gafter);
  free(gbefore);
  free(before);
  /* accessors that still answer */
  cr_assert_eq((int)ft_state(g), FO_GROUP_DELETED);
  char addr2[FO_NAME_BUFSIZE];
  cr_assert_str_eq(ft_address(g, addr2), addr);
  fo_registry *r = NULL;
  FT_OK(fo_group_registry(g, &r));
  cr_assert_eq(r, reg);
  cr_assert_gt(ft_generation(g), gen_before, "deleting did not move the generation");
  fo_stack *x;
  fo_slot sl;
  FT_RC(fo_group_stack(g, FO_SLOT_PRIMARY, &x), FO_EDELETED);
  FT_RC(fo_group_active_slot(g, &sl), FO_EDELETED);
  fo_target t = FO_TARGET_INIT;
  FT_OK(fo_group_target(g, &t));
  cr_assert_eq((int)t.none, FO_NONE_DELETED);
  size_t n = 9;
  FT_OK(fo_registry_group_count(reg, &n));
  cr_assert_eq(n, 0);
  fo_registry_free(reg);
}

Test(transitions, foreign_group_and_stack) {
  fo_registry *r1 = ft_registry(NULL, NULL);
  fo_registry *r2 = ft_registry(NULL, NULL);
  fo_stack *s2 = ft_stack(r2, "s", 1, 0);
  fo_group *g1 = ft_group(r1, NULL, NULL);
  char *b1 = ft_snapshot(r1), *b2 = ft_snapshot(r2);
  FT_RC(fo_group_attach(g1, FO_SLOT_PRIMARY, s2), FO_EFOREIGN);
  fo_group *g = (fo_group *)(uintptr_t)0x1;
  FT_RC(fo_group_create(&g, r1, s2, NULL), FO_EFOREIGN);
  cr_assert_null(g);
  FT_UNCHANGED(b1, r1, "foreign stack");
  FT_UNCHANGED(b2, r2, "foreign stack");
  free(b1);
  free(b2);
  size_t n = 9;
  FT_OK(fo_stack_group_count(s2, &n));
  cr_assert_eq(n, 0);
  fo_registry_free(r1);
  fo_registry_free(r2);
}

Test(transitions, full_lifecycle) {
  fo_registry *reg = ft_registry(NULL, NULL);
  fo_stack *a = ft_stack(reg, "a", 1, 0);
  fo_stack *b = ft_stack(reg, "b", 1, 0);
  fo_group *g = ft_group(reg, NULL, NULL);
  cr_assert_eq((int)ft_state(g), FO_GROUP_RESERVED);
  FT_OK(fo_group_attach(g, FO_SLOT_PRIMARY, a));
  cr_assert_eq((int)ft_state(g), FO_GROUP_SERVING);
  FT_OK(fo_group_attach(g, FO_SLOT_BACKUP, b));
  cr_assert_eq((int)ft_state(g), FO_GROUP_SERVING);
  cr_assert_eq((int)ft_active(g), FO_SLOT_PRIMARY);
  FT_OK(fo_group_switch(g, FO_SLOT_BACKUP, 0));
  cr_assert_eq((int)ft_state(g), FO_GROUP_SWITCHING);
  FT_OK(fo_group_settle(g));
  cr_assert_eq((int)ft_state(g), FO_GROUP_SERVING);
  cr_assert_eq((int)ft_active(g), FO_SLOT_BACKUP);
  FT_OK(fo_group_switch(g, FO_SLOT_PRIMARY, 0));
  FT_OK(fo_group_settle(g));
  FT_RC(fo_group_detach(g, FO_SLOT_PRIMARY, 0), FO_EACTIVE);
  FT_OK(fo_group_detach(g, FO_SLOT_BACKUP, 0));
  FT_OK(fo_group_detach(g, FO_SLOT_PRIMARY, 0));
  cr_assert_eq((int)ft_state(g), FO_GROUP_RESERVED);
  check_group_invariants(g);
  FT_OK(fo_stack_remove(a));
  FT_OK(fo_group_delete(g));
  cr_assert_eq((int)ft_state(g), FO_GROUP_DELETED);
  fo_registry_free(reg);
}

Test(transitions, group_count_follows_create_and_delete) {
  fo_registry *reg = ft_registry(NULL, NULL);
  size_t n = 9;
  FT_OK(fo_registry_group_count(reg, &n));
  cr_assert_eq(n, 0);
  fo_group *g1 = ft_group(reg, NULL, NULL);
  ft_group(reg, NULL, NULL);
  FT_OK(fo_registry_group_count(reg, &n));
  cr_assert_eq(n, 2);
  FT_OK(fo_group_delete(g1));
  FT_OK(fo_registry_group_count(reg, &n));
  cr_assert_eq(n, 1);
  fo_registry_free(reg);
}
