/*
 * failover-story.c - the life of one failover group, step by step.
 *
 * A failover group is a DNS name (such as 414-262-781.failover.example.net)
 * that always points at the web head of one of at most two stacks. This
 * program walks through the story from the product description:
 *
 *   reserve an address -> attach a primary and a backup -> add a load
 *   balancer and rename the stack (the name follows by itself) -> switch to
 *   the backup -> detach -> delete, after which the address is gone for good.
 *
 * After each step it prints the group's state and the DNS records the group
 * should have right now. A change-feed subscriber prints every change of
 * those records, so you can see which steps re-target the name on their own.
 *
 * Only the model is used here: no network, no event loop. In a real agent a
 * publisher sends these records to the DNS server and a verifier confirms
 * them before a switch is settled.
 *
 * Build and run:  cmake --build build && ./build/examples/failover-story
 */
#include <failover.h>

#include <stdio.h>
#include <stdlib.h>

/* ---- small helpers -------------------------------------------------------- */

/* Every call returns 0 or a negative FO_E* code. A real program would handle
 * errors; an example that stops loudly keeps the story honest. */
static void check(int rc, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "unexpected error in %s: %s (%s)\n", what,
            fo_err_name(rc), fo_strerror(rc));
    exit(1);
  }
}

/* For steps that must be refused: the refusal is the point of the step. */
static void expect_refusal(int rc, int expected, const char *what) {
  if (rc != expected) {
    fprintf(stderr, "%s: expected %s, got %s (%s)\n", what,
            fo_err_name(expected), fo_err_name(rc), fo_strerror(rc));
    exit(1);
  }
  printf("  refused as expected: %s (%s)\n", fo_err_name(rc), fo_strerror(rc));
}

/* The headers give numbers for states and "no records" reasons; words read
 * better in a story. */
static const char *state_name(fo_state s) {
  switch (s) {
  case FO_GROUP_RESERVED: return "RESERVED";
  case FO_GROUP_SERVING: return "SERVING";
  case FO_GROUP_SWITCHING: return "SWITCHING";
  case FO_GROUP_DELETED: return "DELETED";
  }
  return "?";
}

static const char *none_name(fo_none_reason r) {
  switch (r) {
  case FO_NONE_NOT: return "has records";
  case FO_NONE_RESERVED: return "reserved, no stack attached";
  case FO_NONE_DELETED: return "deleted";
  case FO_NONE_NO_WEB_HEAD: return "active stack has no server";
  case FO_NONE_NO_ADDRESS: return "web head has no address";
  }
  return "?";
}

/* The stack name in a slot, or "-" when the slot is empty. */
static const char *slot_text(const fo_group *g, fo_slot slot) {
  fo_stack *s = NULL;
  const char *name = "-";
  check(fo_group_stack(g, slot, &s), "fo_group_stack");
  if (s != NULL)
    check(fo_stack_name(s, &name), "fo_stack_name");
  return name;
}

/* A step's heading, printed before the step so that the change-feed lines
 * the step causes appear under it. */
static void step(const char *title) { printf("\n== %s\n", title); }

/* The group's state, slots and the DNS records it should have right now. */
static void show(const fo_group *g) {
  fo_state state;
  fo_rrset set = FO_RRSET_INIT;
  char text[2 * 600];

  check(fo_group_state(g, &state), "fo_group_state");
  printf("  state: %s", state_name(state));
  if (state != FO_GROUP_DELETED) {
    fo_slot active;
    check(fo_group_active_slot(g, &active), "fo_group_active_slot");
    printf("  primary: %s  backup: %s", slot_text(g, FO_SLOT_PRIMARY),
           slot_text(g, FO_SLOT_BACKUP));
    /* The active slot only means something while a stack is attached. */
    if (state != FO_GROUP_RESERVED)
      printf("  active: %s",
             active == FO_SLOT_PRIMARY ? "primary" : "backup");
  }
  printf("\n");

  check(fo_group_records(g, &set), "fo_group_records");
  if (set.count == 0) {
    printf("  (no records: %s)\n", none_name(set.none));
    return;
  }
  check(fo_rrset_format(&set, text, sizeof text, NULL), "fo_rrset_format");
  printf("  %s", text); /* one record per line, each ends in '\n' */
}

/* ---- the change feed ------------------------------------------------------ */

static const char *target_text(const fo_target *t) {
  return t->none == FO_NONE_NOT ? t->host_name : "(nothing)";
}

/* Called synchronously, after each change is fully applied. A publisher
 * would queue an RFC 2136 UPDATE here and remember the generation, so that
 * it can drop stale work when a newer generation of the group arrives. */
static void on_change(const fo_change *c, void *userdata) {
  (void)userdata;
  printf("  feed: %-15s gen %llu  %s -> %s\n",
         fo_change_reason_name(c->reason), (unsigned long long)c->generation,
         target_text(c->old_target), target_text(c->new_target));
}

/* ---- the story ------------------------------------------------------------ */

/* A stack with one web server that has an IPv4 address. */
static fo_stack *make_stack(fo_registry *reg, const char *name,
                            const char *ipv4) {
  fo_stack *s;
  check(fo_stack_new(&s, reg, name), "fo_stack_new");
  /* NULL host name: formed from the template {server}.{stack}.{zone}, which
   * is why renaming the stack later changes where the group points. */
  check(fo_stack_add_server(s, FO_SERVER_WEB, "web1", NULL),
        "fo_stack_add_server");
  check(fo_stack_set_server_addresses(s, "web1", ipv4, NULL),
        "fo_stack_set_server_addresses");
  return s;
}

int main(void) {
  fo_registry_options opts = FO_REGISTRY_OPTIONS_INIT;
  fo_registry *reg;
  fo_stack *shop, *shop_dr;
  fo_group *g, *found;
  char address[FO_NAME_BUFSIZE];
  int rc;

  printf("libfailover %s\n", fo_version_string());

  /* The registry owns everything; group names live under its zone. The
   * other options keep their defaults (TTL 60 s, kernel random source). */
  opts.zone = "failover.example.net";
  check(fo_registry_new(&reg, &opts), "fo_registry_new");
  check(fo_registry_subscribe(reg, on_change, NULL, NULL),
        "fo_registry_subscribe");

  /* Two stacks: the one we run on and its disaster-recovery twin. */
  shop = make_stack(reg, "shop", "192.0.2.10");
  shop_dr = make_stack(reg, "shop-dr", "198.51.100.10");

  /* 1. Reserve an address with no stack: the customer can CNAME their own
   *    domain to it today, before any stack is ready. */
  step("1. reserve an address (no stacks)");
  check(fo_group_create(&g, reg, NULL, NULL), "fo_group_create");
  check(fo_group_address(g, address, sizeof address), "fo_group_address");
  printf("  address: %s\n", address);
  show(g);

  /* 2. Attach the primary: the group starts serving from it. */
  step("2. attach primary 'shop'");
  check(fo_group_attach(g, FO_SLOT_PRIMARY, shop), "fo_group_attach");
  show(g);

  /* 3. Attach the backup. It is not active, so the records do not change
   *    and the feed stays quiet. */
  step("3. attach backup 'shop-dr' (records unchanged, no event)");
  check(fo_group_attach(g, FO_SLOT_BACKUP, shop_dr), "fo_group_attach");
  show(g);

  /* 4. A load balancer becomes the stack's web head; every group following
   *    the stack is re-targeted without any call on the group. */
  step("4. add load balancer 'lb1' to 'shop' (the name follows)");
  check(fo_stack_add_server(shop, FO_SERVER_LOAD_BALANCER, "lb1", NULL),
        "fo_stack_add_server");
  show(g);

  /* 5. Renaming the stack changes its templated host names; again the group
   *    follows by itself. */
  step("5. rename stack 'shop' to 'store' (the name follows)");
  check(fo_stack_rename(shop, "store"), "fo_stack_rename");
  show(g);

  /* 6. Flip the switch. The records point at the backup at once, but the
   *    group stays SWITCHING until DNS is confirmed to answer that way. */
  step("6. switch to the backup");
  check(fo_group_switch(g, FO_SLOT_BACKUP, 0), "fo_group_switch");
  show(g);

  /* 7. In real life the verifier asks every authoritative server and the
   *    switch is settled only once they all answer with the new target.
   *    With no network here, we settle at once. */
  step("7. settle the switch (normally after the verifier confirms DNS)");
  check(fo_group_settle(g), "fo_group_settle");
  show(g);

  /* 8. The old primary is no longer active, so it may be detached. */
  step("8. detach the old primary 'store'");
  check(fo_group_detach(g, FO_SLOT_PRIMARY, 0), "fo_group_detach");
  show(g);

  /* 9. A group that still points at a stack cannot be deleted: that would
   *    pull the name from under live traffic. A refusal changes nothing. */
  step("9. try to delete while 'shop-dr' is attached");
  expect_refusal(fo_group_delete(g), FO_EATTACHED, "fo_group_delete");
  show(g);

  /* 10. Detaching the last stack is allowed; the records go away and the
   *     address is reserved again. */
  step("10. detach the backup 'shop-dr'");
  check(fo_group_detach(g, FO_SLOT_BACKUP, 0), "fo_group_detach");
  show(g);

  /* 11. Now the group can be deleted. The handle stays valid memory: it
   *     answers FO_EDELETED to changes and still reports its address. */
  step("11. delete the group");
  check(fo_group_delete(g), "fo_group_delete");
  show(g);

  /* 12. The address is a tombstone: it will never be handed out again, and
   *     a look-up says so instead of "never existed". */
  step("12. look the address up again");
  rc = fo_registry_find_group(reg, address, &found);
  if (rc != FO_EDELETED) {
    fprintf(stderr, "look-up: expected FO_EDELETED, got %s\n",
            fo_err_name(rc));
    return 1;
  }
  printf("  %s: %s (%s)\n", address, fo_err_name(rc), fo_strerror(rc));

  /* The stacks are free again and can be removed; freeing the registry
   * would release them anyway. */
  check(fo_stack_remove(shop), "fo_stack_remove");
  check(fo_stack_remove(shop_dr), "fo_stack_remove");
  fo_registry_free(reg);
  return 0;
}
