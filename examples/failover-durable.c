/*
 * failover-durable.c - a registry that outlives the process.
 *
 *   failover-durable FILE
 *
 * The first run creates FILE (an SQLite store), two stacks and a failover
 * group. Every run then loads the store, prints what it holds, and flips
 * each group to its other slot in one batch (one store commit), settling it
 * at once (a real agent settles once the verifier confirmed DNS). Run it a
 * few times: the group keeps its address and alternates between the stacks,
 * and the file can be read with the sqlite3 tool:
 *
 *   sqlite3 -readonly FILE 'SELECT seq, code, state, active FROM groups'
 *
 * Only the model and the store are used: no network, no event loop.
 */
#include <failover.h>

#include <stdio.h>
#include <stdlib.h>

static void check(int rc, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "failover-durable: %s: %s (%s)\n", what, fo_err_name(rc),
            fo_strerror(rc));
    exit(1);
  }
}

static void first_run(fo_registry *reg) {
  fo_stack *east, *west;
  fo_group *g;
  check(fo_registry_batch_begin(reg), "batch");
  check(fo_stack_new(&east, reg, "east"), "stack east");
  check(fo_stack_add_server(east, FO_SERVER_WEB, "web1", NULL), "server");
  check(fo_stack_new(&west, reg, "west"), "stack west");
  check(fo_stack_add_server(west, FO_SERVER_WEB, "web1", NULL), "server");
  check(fo_group_create(&g, reg, east, west), "group");
  check(fo_registry_batch_commit(reg), "commit");
  printf("created the store: stacks east and west, one group\n");
}

static void show(fo_registry *reg) {
  fo_group *g;
  for (g = fo_registry_next_group(reg, NULL); g != NULL;
       g = fo_registry_next_group(reg, g)) {
    char addr[FO_NAME_BUFSIZE];
    fo_target t = FO_TARGET_INIT;
    fo_state st;
    check(fo_group_address(g, addr, sizeof addr), "address");
    check(fo_group_state(g, &st), "state");
    check(fo_group_target(g, &t), "target");
    printf("  %s  %-9s -> %s\n", addr, fo_state_name(st),
           t.host_name ? t.host_name : "(no records)");
  }
}

int main(int argc, char **argv) {
  fo_registry_options opts = FO_REGISTRY_OPTIONS_INIT;
  fo_registry *reg;
  fo_store *store;
  fo_group *g;
  uint64_t revision;
  size_t groups;

  if (argc != 2) {
    fprintf(stderr, "usage: failover-durable FILE\n");
    return 2;
  }
  opts.zone = "failover.example.net"; /* used when the store is new */
  check(fo_store_sqlite_open(&store, argv[1], FO_STORE_CREATE), "open store");
  check(fo_registry_open(&reg, &opts, store), "open registry");
  check(fo_registry_group_count(reg, &groups), "count");
  if (groups == 0)
    first_run(reg);
  check(fo_registry_revision(reg, &revision), "revision");
  printf("loaded revision %llu:\n", (unsigned long long)revision);
  show(reg);

  /* Flip every group; all of it is one commit. */
  check(fo_registry_batch_begin(reg), "batch");
  for (g = fo_registry_next_group(reg, NULL); g != NULL;
       g = fo_registry_next_group(reg, g)) {
    fo_slot active;
    check(fo_group_active_slot(g, &active), "active slot");
    check(fo_group_switch(g, active == FO_SLOT_PRIMARY ? FO_SLOT_BACKUP
                                                       : FO_SLOT_PRIMARY,
                          0),
          "switch");
    check(fo_group_settle(g), "settle");
  }
  check(fo_registry_batch_commit(reg), "commit");
  check(fo_registry_revision(reg, &revision), "revision");
  printf("switched, committed as revision %llu:\n",
         (unsigned long long)revision);
  show(reg);

  fo_registry_free(reg);
  fo_store_close(store);
  return 0;
}
