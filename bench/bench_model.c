/*
 * bench_model.c - how the pure model scales: 1,000,000 groups over 10,000
 * stacks by default.
 *
 * Figures (see bench/README.md):
 *   create    time to create every group (primary + backup each)
 *   memory    resident bytes per group, all-in (group, address index,
 *             per-stack membership, allocator overhead)
 *   switch    fo_group_switch() calls per second (switch all, settle all,
 *             switch all back, settle all; only the switch calls are timed
 *             into the rate)
 *   lookup    fo_registry_find_group() by address per second, in a shuffled
 *             order, each answer checked
 *   fanout    time for one fo_stack_add_server() on a "hot" stack that is the
 *             active primary of 100,000 groups, i.e. re-targeting them all
 *             and delivering 100,000 change events
 *
 * The last line is machine-readable:
 *   model: groups=N bytes_per_group=B switches_per_s=S lookups_per_s=L
 *   fanout_100k_ms=M
 *
 * Goals are printed as PASS/MISS and never fail the run. The exit status is
 * non-zero only for a correctness failure: an unexpected error code, a
 * look-up answering the wrong group, or a wrong number of change events.
 *
 * Usage: bench-model [--groups N] [--stacks M]
 */
#define _POSIX_C_SOURCE 200809L

#include <failover.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_GROUPS 1000000u
#define DEFAULT_STACKS 10000u
#define FANOUT_MAX 100000u

#define GOAL_BYTES_PER_GROUP 256.0
#define GOAL_SWITCHES_PER_S 2000000.0
#define GOAL_LOOKUPS_PER_S 2000000.0
#define GOAL_FANOUT_MS 50.0

/* Look-ups are repeated until this much work has been timed (or the pass
 * limit is reached), so that small runs still give a stable rate. */
#define LOOKUP_MIN_SECONDS 1.0
#define LOOKUP_MAX_PASSES 20

static const char *const ZONE = "failover.example.net";

/* ---- helpers -------------------------------------------------------------- */

static void check(int rc, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "bench-model: %s failed: %s (%s)\n", what,
            fo_err_name(rc), fo_strerror(rc));
    exit(1);
  }
}

static void fail(const char *msg) {
  fprintf(stderr, "bench-model: FAILED: %s\n", msg);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);
  if (p == NULL)
    fail("out of memory in the benchmark itself");
  /* Touch every page now so that the benchmark's own arrays are resident
   * before any RSS reading they must not pollute. */
  memset(p, 0, n);
  return p;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set size in bytes, from /proc/self/statm (second field, pages). */
static long long rss_bytes(void) {
  long long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return -1;
  if (fscanf(f, "%lld %lld", &size, &resident) != 2)
    resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * (long long)sysconf(_SC_PAGESIZE);
}

static const char *verdict(int pass) { return pass ? "PASS" : "MISS"; }

/* xorshift64*: a fast, seeded generator for the shuffle (not for security). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned long parse_count(const char *s, const char *opt) {
  char *end;
  unsigned long v;
  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v == 0 || v > 100000000ul) {
    fprintf(stderr, "bench-model: bad value for %s: '%s'\n", opt, s);
    exit(2);
  }
  return v;
}

/* ---- change feed ---------------------------------------------------------- */

/* A publisher is always subscribed in real use, so the benchmark keeps one
 * (trivial) subscriber for the whole run: every figure includes the cost of
 * building and delivering change events. */
typedef struct counter {
  unsigned long long by_reason[16];
  unsigned long long total;
} counter;

static void on_change(const fo_change *c, void *userdata) {
  counter *n = userdata;
  if ((unsigned)c->reason < 16)
    n->by_reason[c->reason]++;
  n->total++;
}

/* ---- main ----------------------------------------------------------------- */

int main(int argc, char **argv) {
  size_t ngroups = DEFAULT_GROUPS, nstacks = DEFAULT_STACKS, nfan;
  fo_registry_options opts = FO_REGISTRY_OPTIONS_INIT;
  fo_registry *reg;
  fo_stack **stacks, *hot;
  fo_group **groups, **expect;
  counter events;
  char name[32];
  size_t i, stride;
  long long rss_before, rss_after;
  double t0, t1, create_s, bytes_per_group, switch_s = 0, settle_s = 0;
  double switches_per_s, lookups_per_s, lookup_s, fanout_ms;
  unsigned long long before, lookups, mismatches;
  char *addrs;
  uint32_t *order;
  int pass, passes;

  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--groups") == 0 && a + 1 < argc)
      ngroups = parse_count(argv[++a], "--groups");
    else if (strcmp(argv[a], "--stacks") == 0 && a + 1 < argc)
      nstacks = parse_count(argv[++a], "--stacks");
    else {
      fprintf(stderr, "usage: %s [--groups N] [--stacks M]\n", argv[0]);
      return 2;
    }
  }
  if (nstacks < 2) {
    fprintf(stderr, "bench-model: --stacks must be at least 2 (primary and "
                    "backup must differ)\n");
    return 2;
  }
  /* A tenth of the groups (at most 100,000) follow the hot stack. They are
   * part of the N groups, so every other figure covers them too. */
  nfan = ngroups / 10 < FANOUT_MAX ? ngroups / 10 : FANOUT_MAX;

  printf("bench-model: libfailover %s, %zu groups, %zu stacks, fan-out %zu\n",
         fo_version_string(), ngroups, nstacks, nfan);

  memset(&events, 0, sizeof events);
  opts.zone = ZONE; /* default TTL and the kernel CSPRNG, as in production */
  check(fo_registry_new(&reg, &opts), "fo_registry_new");
  check(fo_registry_subscribe(reg, on_change, &events, NULL),
        "fo_registry_subscribe");

  /* Stacks, each with one web server (its web head). */
  stacks = xmalloc(nstacks * sizeof *stacks);
  for (i = 0; i < nstacks; i++) {
    snprintf(name, sizeof name, "s%zu", i);
    check(fo_stack_new(&stacks[i], reg, name), "fo_stack_new");
    check(fo_stack_add_server(stacks[i], FO_SERVER_WEB, "web1", NULL),
          "fo_stack_add_server");
  }
  check(fo_stack_new(&hot, reg, "hot"), "fo_stack_new");
  check(fo_stack_add_server(hot, FO_SERVER_WEB, "web1", NULL),
        "fo_stack_add_server");

  /* The handle array is the benchmark's, not the library's: allocate and
   * touch it before the baseline so that it is not charged to the groups. */
  groups = xmalloc(ngroups * sizeof *groups);

  /* ---- create ------------------------------------------------------------ */
  rss_before = rss_bytes();
  t0 = now();
  for (i = 0; i < ngroups; i++) {
    /* Groups [0, nfan) have the hot stack as primary; the rest have stack i
     * as primary and i+1 as backup, so every stack is in ~2N/M groups. */
    fo_stack *primary = i < nfan ? hot : stacks[i % nstacks];
    fo_stack *backup = i < nfan ? stacks[i % nstacks]
                                : stacks[(i + 1) % nstacks];
    check(fo_group_create(&groups[i], reg, primary, backup),
          "fo_group_create");
  }
  t1 = now();
  rss_after = rss_bytes();
  create_s = t1 - t0;
  printf("create:  %zu groups in %.1f ms (%.0f groups/s)\n", ngroups,
         create_s * 1e3, (double)ngroups / create_s);
  if (events.by_reason[FO_CHANGE_CREATE] != ngroups)
    fail("wrong number of create events");

  if (rss_before < 0 || rss_after < 0) {
    printf("memory:  /proc/self/statm unavailable; not measured\n");
    bytes_per_group = 0;
  } else {
    bytes_per_group = (double)(rss_after - rss_before) / (double)ngroups;
    printf("memory:  RSS +%.1f MiB for %zu groups = %.0f bytes/group "
           "(goal <= %.0f: %s)\n",
           (double)(rss_after - rss_before) / (1024.0 * 1024.0), ngroups,
           bytes_per_group, GOAL_BYTES_PER_GROUP,
           verdict(bytes_per_group <= GOAL_BYTES_PER_GROUP));
  }

  /* ---- switch ------------------------------------------------------------ */
  /* Done properly, without FO_FORCE: switch every group, settle every group
   * (as the verifier would once DNS agrees), then the same back. Only the
   * switch calls count towards the rate; settling is reported apart. */
  before = events.by_reason[FO_CHANGE_SWITCH];
  for (int round = 0; round < 2; round++) {
    fo_slot to = round == 0 ? FO_SLOT_BACKUP : FO_SLOT_PRIMARY;
    t0 = now();
    for (i = 0; i < ngroups; i++)
      check(fo_group_switch(groups[i], to, 0), "fo_group_switch");
    t1 = now();
    switch_s += t1 - t0;
    for (i = 0; i < ngroups; i++)
      check(fo_group_settle(groups[i]), "fo_group_settle");
    settle_s += now() - t1;
  }
  if (events.by_reason[FO_CHANGE_SWITCH] - before != 2ull * ngroups)
    fail("wrong number of switch events");
  switches_per_s = 2.0 * (double)ngroups / switch_s;
  printf("switch:  %zu switch calls in %.1f ms = %.0f switches/s "
         "(goal >= %.0f: %s)\n",
         2 * ngroups, switch_s * 1e3, switches_per_s, GOAL_SWITCHES_PER_S,
         verdict(switches_per_s >= GOAL_SWITCHES_PER_S));
  printf("settle:  %zu settle calls in %.1f ms = %.0f settles/s (not a goal)\n",
         2 * ngroups, settle_s * 1e3, 2.0 * (double)ngroups / settle_s);

  /* ---- lookup ------------------------------------------------------------ */
  /* The groups are visited in a shuffled order, so that the library's tables
   * are hit at random as a DNS-driven look-up would hit them, rather than in
   * creation order, which would flatter any table laid out that way.
   * The addresses are copied out first, already in that order, next to the
   * expected handles: the benchmark then walks its own arrays sequentially
   * (as a caller holding a freshly parsed query name in cache would) and
   * only fo_registry_find_group() is timed. */
  order = xmalloc(ngroups * sizeof *order);
  for (i = 0; i < ngroups; i++)
    order[i] = (uint32_t)i;
  for (i = ngroups - 1; i > 0; i--) {
    size_t j = (size_t)(rng() % (i + 1));
    uint32_t tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }
  stride = strlen(ZONE) + FO_ADDRESS_LABEL_LEN + 2; /* label '.' zone NUL */
  addrs = xmalloc(ngroups * stride);
  expect = xmalloc(ngroups * sizeof *expect);
  for (i = 0; i < ngroups; i++) {
    expect[i] = groups[order[i]];
    check(fo_group_address(expect[i], addrs + i * stride, stride),
          "fo_group_address");
  }
  free(order);
  lookups = 0;
  mismatches = 0;
  lookup_s = 0;
  passes = 0;
  for (pass = 0; pass < LOOKUP_MAX_PASSES && lookup_s < LOOKUP_MIN_SECONDS;
       pass++) {
    t0 = now();
    for (i = 0; i < ngroups; i++) {
      fo_group *found = NULL;
      int rc = fo_registry_find_group(reg, addrs + i * stride, &found);
      if (rc != 0 || found != expect[i])
        mismatches++;
    }
    lookup_s += now() - t0;
    lookups += ngroups;
    passes++;
  }
  lookups_per_s = (double)lookups / lookup_s;
  printf("lookup:  %llu look-ups (%d pass%s, shuffled) in %.1f ms = %.0f "
         "lookups/s (goal >= %.0f: %s)\n",
         lookups, passes, passes == 1 ? "" : "es", lookup_s * 1e3,
         lookups_per_s, GOAL_LOOKUPS_PER_S,
         verdict(lookups_per_s >= GOAL_LOOKUPS_PER_S));
  if (mismatches != 0) {
    fprintf(stderr, "bench-model: %llu look-ups failed or found the wrong "
                    "group\n", mismatches);
    fail("look-up answered the wrong group");
  }
  free(expect);
  free(addrs);

  /* ---- fan-out ----------------------------------------------------------- */
  /* A load balancer becomes the hot stack's web head: every group whose
   * active slot holds it is re-targeted and announced in the change feed,
   * inside this one call. */
  {
    size_t count;
    check(fo_stack_group_count(hot, &count), "fo_stack_group_count");
    if (count != nfan)
      fail("hot stack has the wrong number of groups");
  }
  before = events.total;
  t0 = now();
  check(fo_stack_add_server(hot, FO_SERVER_LOAD_BALANCER, "lb1", NULL),
        "fo_stack_add_server");
  t1 = now();
  fanout_ms = (t1 - t0) * 1e3;
  if (events.total - before != nfan ||
      events.by_reason[FO_CHANGE_SERVER_ADDED] != nfan) {
    fprintf(stderr, "bench-model: expected %zu server-added events, saw %llu "
                    "(of %llu events)\n", nfan,
            events.by_reason[FO_CHANGE_SERVER_ADDED], events.total - before);
    fail("wrong number of fan-out events");
  }
  printf("fanout:  1 load balancer added, %zu groups re-targeted in %.3f ms "
         "(goal <= %.0f ms at 100000 groups: %s)\n",
         nfan, fanout_ms, GOAL_FANOUT_MS,
         nfan == FANOUT_MAX ? verdict(fanout_ms <= GOAL_FANOUT_MS)
                            : "n/a, smaller run");

  /* Spot-check that a fanned-out group really points at the new web head. */
  if (nfan > 0) {
    fo_target t = FO_TARGET_INIT;
    check(fo_group_target(groups[0], &t), "fo_group_target");
    if (t.none != FO_NONE_NOT || t.host_name == NULL ||
        strncmp(t.host_name, "lb1.hot.", 8) != 0)
      fail("fanned-out group does not point at the load balancer");
  }

  t0 = now();
  fo_registry_free(reg);
  printf("free:    registry freed in %.1f ms (not a goal)\n",
         (now() - t0) * 1e3);
  free(groups);
  free(stacks);

  printf("model: groups=%zu bytes_per_group=%.0f switches_per_s=%.0f "
         "lookups_per_s=%.0f fanout_100k_ms=%.1f\n",
         ngroups, bytes_per_group, switches_per_s, lookups_per_s, fanout_ms);
  return 0;
}
