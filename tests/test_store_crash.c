/*
 * test_store_crash.c - durable registries killed with SIGKILL, again and
 * again, on one SQLite file.
 *
 * A child process runs random mutations of every kind (stacks, servers,
 * groups, settings; single calls, fo_op_apply() and explicit batches, some
 * nested) on a registry opened on the store file. The parent kills it with
 * SIGKILL after a random delay (tens of microseconds to tens of
 * milliseconds; a child spends most of its time in a commit's fsync, so
 * most kills land inside a commit), opens the file itself, checks it, and
 * the next child goes on with the same file.
 *
 * How the parent knows what must be in the file. It keeps a *model*: an
 * in-memory registry (fo_registry_new) to which it applies every operation
 * the store acknowledged. A child is a fork of the parent, so it starts
 * with a copy of the model, its *shadow*. For every operation the child
 *   1. generates it from the shadow's state and runs it on the shadow, so
 *      that its return codes, the addresses it draws and the state after
 *      it are known before the store is touched;
 *   2. writes an INTENT record (the operation, and the hash of that
 *      predicted state) to the pipe;
 *   3. runs it on the durable registry, which must return the same codes,
 *      draw the same addresses and end in the same state (checked in the
 *      child: a difference is reported as a failure record);
 *   4. writes an ACK record (the store revision and the state's hash).
 * After the kill the parent applies the acknowledged operations to the
 * model and opens the store. Its revision must be the last acknowledged
 * one - or one more, when the kill fell between the commit and the ACK.
 * That second case is accepted only when an INTENT came after the last
 * ACK (the child had started an operation, so a commit the parent never
 * heard of can exist), and the store must then hold exactly the state the
 * INTENT predicted; the operation is applied to the model. In both cases
 * the reopened registry's snapshot (ft_snapshot_stable) must equal the
 * model's: an acknowledged operation that got lost, an operation visible
 * without having been started, or part of an operation (one row of a
 * batch, a stack without its counters) all show up as a difference.
 *
 * Addresses. The child's random source offers, half of the time, a code
 * that any earlier incarnation drew (live or deleted) before a fresh one,
 * so that a tombstone lost in the store would make the durable registry
 * take a code the shadow refuses. The parent also checks that no created
 * group's address was ever seen before, and that every address ever drawn
 * answers the same (live or FO_EDELETED) in the reopened registry as in
 * the model.
 *
 * Followers. Each child also keeps a second registry on its own
 * connection that learns the commits only through fo_registry_refresh()
 * (the log entries written with each commit), after every acknowledged
 * operation; it must reach the predicted state too. Batches now and then
 * hand a stack name that a remove or rename freed to another stack, as
 * when a stack is replaced or two names are swapped. A follower failure is
 * reported apart from durability (cr_expect at the end), so that one does
 * not hide the other.
 *
 * Kills: FO_STORE_KILLS (default 200; 20 under valgrind, where a forked
 * child runs 20-50 times slower and delays are stretched as much) in the
 * main loop, FO_STORE_CREATE_KILLS (default 40; 15 under valgrind) while
 * the store file is being made. FO_STORE_SEED fixes the seed (printed):
 * the operations and the delays, not where a kill lands. A soak run:
 *   FO_STORE_KILLS=5000 ./test_store_crash --filter 'store_crash/sigkill_loop'
 */
#define _GNU_SOURCE /* ppoll(2) */
#include <criterion/criterion.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <failover.h>
#include <failover/store.h>

#include "store_faults_util.h"
#include "support.h"

/* Kill delays are tuned for a native build; AddressSanitizer makes a
 * child's operations (snapshots, mostly) a few times slower. */
#if defined(__SANITIZE_ADDRESS__)
#define CR_SANITIZER_SCALE 3.0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CR_SANITIZER_SCALE 3.0
#endif
#endif
#ifndef CR_SANITIZER_SCALE
#define CR_SANITIZER_SCALE 1.0
#endif

#define CR_TEMPLATE "{server}.{stack}.hosts.{zone}"
#define CR_DEFAULT_TTL 90u
/* Bounds that keep the registry small: snapshots and invariant checks are
 * linear or worse in its size, and they run after every operation. */
#define CR_MAX_STACKS 6
#define CR_MAX_GROUPS 10
#define CR_MAX_SERVERS 4
#define CR_MAX_SUB 6
/* A child that was never killed stops here (it should not happen: the
 * longest delay is far shorter). */
#define CR_MAX_OPS_PER_CHILD 20000

/* ---- a small deterministic stream --------------------------------------- */

typedef struct sm {
  uint64_t s;
} sm;

static uint64_t sm_next(sm *g) {
  uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint32_t sm_below(sm *g, uint32_t n) {
  return (uint32_t)(sm_next(g) % n);
}

static int sm_chance(sm *g, uint32_t percent) {
  return sm_below(g, 100) < percent;
}

/* ---- set of codes (addresses ever drawn) -------------------------------- */

typedef struct codeset {
  uint32_t *slots; /* code + 1; 0 is empty */
  size_t cap, n;
  uint32_t *list; /* insertion order, for random picks */
} codeset;

static int codeset_has(const codeset *s, uint32_t code) {
  size_t i;
  if (s->cap == 0)
    return 0;
  for (i = (code * 2654435761u) & (s->cap - 1); s->slots[i];
       i = (i + 1) & (s->cap - 1))
    if (s->slots[i] == code + 1)
      return 1;
  return 0;
}

static void codeset_put(codeset *s, uint32_t code) {
  size_t i;
  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 256, k;
    uint32_t *old = s->slots;
    s->slots = calloc(cap, sizeof(*s->slots));
    cr_assert_not_null(s->slots);
    for (k = 0; k < s->cap; k++) {
      if (old[k]) {
        for (i = ((old[k] - 1) * 2654435761u) & (cap - 1); s->slots[i];
             i = (i + 1) & (cap - 1))
          ;
        s->slots[i] = old[k];
      }
    }
    free(old);
    s->cap = cap;
    s->list = realloc(s->list, cap / 2 * sizeof(*s->list));
    cr_assert_not_null(s->list);
  }
  for (i = (code * 2654435761u) & (s->cap - 1); s->slots[i];
       i = (i + 1) & (s->cap - 1))
    ;
  s->slots[i] = code + 1;
  s->list[s->n++] = code;
}

static void codeset_free(codeset *s) {
  free(s->slots);
  free(s->list);
  memset(s, 0, sizeof(*s));
}

/* ---- random sources ----------------------------------------------------- */

/*
 * The model's source (shared by the shadow, which is the model's copy in
 * the child, hence one global). QUEUE: the parent replays an operation and
 * hands out exactly the code the child recorded (an empty queue fails the
 * draw, so a model that wants another code shows as FO_ERANDOM). OFFER: the
 * child's shadow draws; half of the draws offer a code some incarnation
 * drew before, and every byte handed out goes to the tape.
 */
enum { RAND_QUEUE, RAND_OFFER };

typedef struct cr_rand {
  int mode;
  unsigned char queue[4];
  size_t queue_len, queue_pos;
  sm stream;
  const codeset *seen;
  unsigned char *tape; /* OFFER: bytes handed to the shadow this operation */
  size_t tape_len, tape_cap;
  unsigned long offered; /* codes offered again (OFFER) */
} cr_rand;

static cr_rand g_rand;

static void put_be32(unsigned char *b, uint32_t v) {
  b[0] = (unsigned char)(v >> 24);
  b[1] = (unsigned char)(v >> 16);
  b[2] = (unsigned char)(v >> 8);
  b[3] = (unsigned char)v;
}

static void tape_add(cr_rand *r, const unsigned char *b, size_t len) {
  if (r->tape_len + len > r->tape_cap) {
    size_t cap = r->tape_cap ? r->tape_cap * 2 : 256;
    while (cap < r->tape_len + len)
      cap *= 2;
    r->tape = realloc(r->tape, cap);
    if (r->tape == NULL)
      abort();
    r->tape_cap = cap;
  }
  memcpy(r->tape + r->tape_len, b, len);
  r->tape_len += len;
}

static int model_random(void *buf, size_t len, void *userdata) {
  cr_rand *r = userdata;
  unsigned char *out = buf;
  size_t i;
  if (r->mode == RAND_QUEUE) {
    if (r->queue_len - r->queue_pos < len)
      return -1;
    memcpy(out, r->queue + r->queue_pos, len);
    r->queue_pos += len;
    return 0;
  }
  if (len == 4 && r->seen->n > 0 && sm_chance(&r->stream, 50)) {
    put_be32(out, r->seen->list[sm_below(&r->stream, (uint32_t)r->seen->n)]);
    r->offered++;
  } else {
    for (i = 0; i < len; i++)
      out[i] = (unsigned char)(sm_next(&r->stream) >> 56);
  }
  tape_add(r, out, len);
  return 0;
}

static void queue_code(uint32_t code) {
  put_be32(g_rand.queue, code);
  g_rand.queue_len = 4;
  g_rand.queue_pos = 0;
}

/* The child's durable registry: the shadow's tape, then (only after a
 * divergence) bytes the shadow never saw. */
typedef struct cr_tape {
  size_t pos;
  sm stream;
} cr_tape;

static cr_tape g_tape;

static int tape_random(void *buf, size_t len, void *userdata) {
  cr_tape *t = userdata;
  unsigned char *out = buf;
  size_t i;
  for (i = 0; i < len; i++) {
    if (t->pos < g_rand.tape_len)
      out[i] = g_rand.tape[t->pos++];
    else
      out[i] = (unsigned char)(sm_next(&t->stream) >> 56);
  }
  return 0;
}

static fo_registry_options cr_options(fo_random_fn fn, void *userdata) {
  fo_registry_options o = FO_REGISTRY_OPTIONS_INIT;
  o.zone = FT_ZONE;
  o.default_ttl = CR_DEFAULT_TTL;
  o.host_name_template = CR_TEMPLATE;
  o.random = fn;
  o.random_userdata = userdata;
  return o;
}

/* ---- operations as data ------------------------------------------------- */

enum {
  OP_STACK_NEW = 1,
  OP_STACK_RENAME,
  OP_STACK_REMOVE,
  OP_ADD_SERVER,
  OP_REMOVE_SERVER,
  OP_RENAME_SERVER,
  OP_SET_HOST,
  OP_SET_ADDR,
  OP_CREATE,
  OP_ATTACH,
  OP_DETACH,
  OP_SWITCH,
  OP_SETTLE,
  OP_DELETE,
  OP_SET_TTL,
  OP_SET_MODE,
  OP_KINDS
};

static const char *const op_names[OP_KINDS] = {
    "?",          "stack_new",     "stack_rename", "stack_remove",
    "add_server", "remove_server", "rename_server", "set_host",
    "set_addr",   "create",        "attach",        "detach",
    "switch",     "settle",        "delete",        "set_ttl",
    "set_mode"};

/* Objects are named by what survives a restart: stacks by id, groups by
 * code, servers by name. */
typedef struct cr_op {
  uint8_t kind;
  uint8_t slot;   /* ATTACH, DETACH, SWITCH */
  uint8_t flags;  /* DETACH, SWITCH: FO_FORCE */
  uint8_t via_op; /* through fo_op_apply() */
  uint8_t skind;  /* ADD_SERVER */
  uint32_t stack;  /* the stack; CREATE: primary (0: empty) */
  uint32_t stack2; /* CREATE: backup; ATTACH: the stack to attach */
  uint32_t code;   /* the group; CREATE: the code it drew */
  uint32_t value;  /* SET_TTL, SET_MODE */
  int32_t rc;      /* what the call returned on the shadow */
  char name[16], name2[16];
  char host[32]; /* "" for NULL */
  char v4[16], v6[40];
} cr_op;

enum { REC_READY = 1, REC_INTENT, REC_ACK, REC_FAIL, REC_FOLLOW };
#define REC_MAGIC 0x43524543u

typedef struct cr_rec {
  uint32_t magic, type;
  uint32_t nsub;   /* sub-operations; 1 for a single call */
  uint32_t batch;  /* 0: single call; 1, 2: batch nesting depth */
  uint64_t rev;    /* READY, ACK: the store revision */
  uint64_t hash;   /* INTENT: predicted state; ACK: state after */
  uint64_t offered; /* ACK: codes offered again so far in this child */
  cr_op sub[CR_MAX_SUB];
  char msg[600];   /* FAIL, FOLLOW */
} cr_rec;

static void code_label(uint32_t code, char out[16]) {
  snprintf(out, 16, "%03u-%03u-%03u", (unsigned)(code / 1000000u),
           (unsigned)(code / 1000u % 1000u), (unsigned)(code % 1000u));
}

static uint32_t group_code(const fo_group *g) {
  char addr[FO_NAME_BUFSIZE];
  uint32_t c = 0;
  int i;
  if (fo_group_address(g, addr, sizeof addr) != 0)
    return UINT32_MAX;
  for (i = 0; i < FO_ADDRESS_LABEL_LEN; i++)
    if (addr[i] >= '0' && addr[i] <= '9')
      c = c * 10u + (uint32_t)(addr[i] - '0');
  return c;
}

static int find_group(fo_registry *reg, uint32_t code, fo_group **out) {
  char label[16];
  code_label(code, label);
  return fo_registry_find_group(reg, label, out);
}

static const char *opt(const char *s) {
  return s[0] ? s : NULL;
}

/* Run one operation; lookups that fail return their code like a refusal. */
static int cr_apply(fo_registry *reg, const cr_op *o, uint32_t *created) {
  fo_stack *s = NULL, *s2 = NULL;
  fo_group *g = NULL;
  fo_op op;
  int rc = 0;
  if (o->kind <= OP_SET_ADDR && o->kind != OP_STACK_NEW &&
      (rc = fo_registry_find_stack_id(reg, o->stack, &s)) != 0)
    return rc;
  if (o->kind >= OP_ATTACH && (rc = find_group(reg, o->code, &g)) != 0)
    return rc;
  if (o->kind == OP_CREATE) {
    if ((o->stack && (rc = fo_registry_find_stack_id(reg, o->stack, &s))) ||
        (o->stack2 && (rc = fo_registry_find_stack_id(reg, o->stack2, &s2))))
      return rc;
  }
  if (o->kind == OP_ATTACH &&
      (rc = fo_registry_find_stack_id(reg, o->stack2, &s2)) != 0)
    return rc;
  switch (o->kind) {
  case OP_STACK_NEW:
    return fo_stack_new(&s, reg, o->name);
  case OP_STACK_RENAME:
    return fo_stack_rename(s, o->name);
  case OP_STACK_REMOVE:
    if (!o->via_op)
      return fo_stack_remove(s);
    fo_op_init(&op, FO_OP_VERSION, FO_OP_REMOVE_STACK);
    op.stack = s;
    return fo_op_apply(&op, NULL);
  case OP_ADD_SERVER:
    return fo_stack_add_server(s, (fo_server_kind)o->skind, o->name,
                               opt(o->host));
  case OP_REMOVE_SERVER:
    return fo_stack_remove_server(s, o->name);
  case OP_RENAME_SERVER:
    return fo_stack_rename_server(s, o->name, o->name2);
  case OP_SET_HOST:
    return fo_stack_set_server_host_name(s, o->name, opt(o->host));
  case OP_SET_ADDR:
    return fo_stack_set_server_addresses(s, o->name, opt(o->v4), opt(o->v6));
  case OP_CREATE:
    if (o->via_op) {
      fo_op_init(&op, FO_OP_VERSION, FO_OP_CREATE);
      op.registry = reg;
      op.primary = s;
      op.backup = s2;
      rc = fo_op_apply(&op, &g);
    } else {
      rc = fo_group_create(&g, reg, s, s2);
    }
    if (rc == 0)
      *created = group_code(g);
    return rc;
  case OP_SET_TTL:
    return fo_group_set_ttl(g, o->value);
  case OP_SET_MODE:
    return fo_group_set_mode(g, (fo_record_mode)o->value);
  default:
    break;
  }
  if (!o->via_op) {
    switch (o->kind) {
    case OP_ATTACH:
      return fo_group_attach(g, (fo_slot)o->slot, s2);
    case OP_DETACH:
      return fo_group_detach(g, (fo_slot)o->slot, o->flags);
    case OP_SWITCH:
      return fo_group_switch(g, (fo_slot)o->slot, o->flags);
    case OP_SETTLE:
      return fo_group_settle(g);
    case OP_DELETE:
      return fo_group_delete(g);
    default:
      return FO_EINVAL;
    }
  }
  fo_op_init(&op, FO_OP_VERSION, o->kind == OP_ATTACH   ? FO_OP_ATTACH
                  : o->kind == OP_DETACH ? FO_OP_DETACH
                  : o->kind == OP_SWITCH ? FO_OP_SWITCH
                  : o->kind == OP_SETTLE ? FO_OP_SETTLE
                                         : FO_OP_DELETE);
  op.group = g;
  op.stack = s2;
  op.slot = (fo_slot)o->slot;
  op.flags = o->flags;
  return fo_op_apply(&op, NULL);
}

/* ---- generating operations from a registry's state ---------------------- */

static const char *const stack_names[] = {"alpha", "bravo", "charlie",
                                          "delta", "echo",  "foxtrot",
                                          "golf",  "hotel"};
static const char *const server_names[] = {"web1", "web2", "web3",
                                           "lb1",  "lb2",  "app"};
static const char *const hosts[] = {"edge.example.org", "h1.example.com",
                                    "h2.example.com"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static size_t stack_count(fo_registry *reg) {
  size_t n = 0;
  fo_registry_stack_count(reg, &n);
  return n;
}

static size_t group_count(fo_registry *reg) {
  size_t n = 0;
  fo_registry_group_count(reg, &n);
  return n;
}

static fo_stack *nth_stack(fo_registry *reg, size_t k) {
  fo_stack *s = fo_registry_next_stack(reg, NULL);
  while (s && k--)
    s = fo_registry_next_stack(reg, s);
  return s;
}

static fo_group *nth_group(fo_registry *reg, size_t k) {
  fo_group *g = fo_registry_next_group(reg, NULL);
  while (g && k--)
    g = fo_registry_next_group(reg, g);
  return g;
}

static uint32_t stack_id_of(const fo_stack *s) {
  uint32_t id = 0;
  if (s)
    fo_stack_id(s, &id);
  return id;
}

/* A live stack's id (now and then one that names nothing). */
static uint32_t pick_stack(fo_registry *reg, sm *g) {
  size_t n = stack_count(reg);
  if (n == 0 || sm_chance(g, 3))
    return 999999;
  return stack_id_of(nth_stack(reg, sm_below(g, (uint32_t)n)));
}

/* What an operation wants of its group, so that most calls are allowed. */
enum { WANT_ANY, WANT_EMPTY_SLOT, WANT_STACK, WANT_BOTH, WANT_SWITCHING,
       WANT_RESERVED };

static int group_is(const fo_group *gr, int want) {
  fo_stack *p = NULL, *b = NULL;
  fo_state st = 0;
  fo_group_stack(gr, FO_SLOT_PRIMARY, &p);
  fo_group_stack(gr, FO_SLOT_BACKUP, &b);
  fo_group_state(gr, &st);
  switch (want) {
  case WANT_EMPTY_SLOT:
    return !p || !b;
  case WANT_STACK:
    return p || b;
  case WANT_BOTH:
    return p && b;
  case WANT_SWITCHING:
    return st == FO_GROUP_SWITCHING;
  case WANT_RESERVED:
    return st == FO_GROUP_RESERVED;
  default:
    return 1;
  }
}

/* A live group as `want` asks when there is one (NULL: none at all). */
static fo_group *pick_group(fo_registry *reg, sm *g, int want, int *found) {
  size_t n = group_count(reg), i, start;
  *found = 0;
  if (n == 0)
    return NULL;
  start = sm_below(g, (uint32_t)n);
  for (i = 0; i < n; i++) {
    fo_group *gr = nth_group(reg, (start + i) % n);
    if (group_is(gr, want)) {
      *found = 1;
      return gr;
    }
  }
  return nth_group(reg, start);
}

/* A stack no group holds, when there is one. */
static uint32_t pick_free_stack(fo_registry *reg, sm *g) {
  size_t n = stack_count(reg), i, start, held = 1;
  if (n == 0)
    return pick_stack(reg, g);
  start = sm_below(g, (uint32_t)n);
  for (i = 0; i < n; i++) {
    fo_stack *s = nth_stack(reg, (start + i) % n);
    fo_stack_group_count(s, &held);
    if (held == 0)
      return stack_id_of(s);
  }
  return pick_stack(reg, g);
}

static size_t server_total(const fo_stack *s) {
  size_t a = 0, b = 0;
  fo_stack_server_count(s, FO_SERVER_WEB, &a);
  fo_stack_server_count(s, FO_SERVER_LOAD_BALANCER, &b);
  return a + b;
}

/* A server name of the stack, or (now and then) one it lacks. */
static void pick_server(fo_registry *reg, uint32_t id, sm *g, char out[16]) {
  fo_stack *s = NULL;
  size_t n;
  snprintf(out, 16, "%s", server_names[sm_below(g, COUNT(server_names))]);
  if (fo_registry_find_stack_id(reg, id, &s) != 0 || sm_chance(g, 10))
    return;
  n = server_total(s);
  if (n > 0) {
    size_t k = sm_below(g, (uint32_t)n), webs = 0;
    fo_server_info info = FO_SERVER_INFO_INIT;
    fo_stack_server_count(s, FO_SERVER_WEB, &webs);
    if ((k < webs ? fo_stack_server_at(s, FO_SERVER_WEB, k, &info)
                  : fo_stack_server_at(s, FO_SERVER_LOAD_BALANCER, k - webs,
                                       &info)) == 0)
      snprintf(out, 16, "%s", info.name);
  }
}

/* A stack name no live stack has (mostly), or any name of the pool. */
/* Stack names that a remove or a rename freed earlier in the batch being
 * generated: a batch that gives such a name to another stack (replace a
 * stack, swap two names) is a log entry whose rows only make sense
 * together. */
static struct {
  char names[CR_MAX_SUB][16];
  size_t n;
} g_freed;

static void pick_stack_name(fo_registry *reg, sm *g, int reuse,
                            char out[16]) {
  size_t k = sm_below(g, COUNT(stack_names)), i;
  fo_stack *s;
  if (g_freed.n > 0 && (reuse || sm_chance(g, 60))) {
    snprintf(out, 16, "%s", g_freed.names[sm_below(g, (uint32_t)g_freed.n)]);
    return;
  }
  for (i = 0; i < COUNT(stack_names) && sm_chance(g, 85); i++) {
    const char *name = stack_names[(k + i) % COUNT(stack_names)];
    if (fo_registry_find_stack(reg, name, &s) == FO_ENOENT) {
      k = (k + i) % COUNT(stack_names);
      break;
    }
  }
  snprintf(out, 16, "%s", stack_names[k % COUNT(stack_names)]);
}

/* The same for server names within one stack. */
static void pick_server_name(fo_registry *reg, uint32_t id, sm *g,
                             char out[16]) {
  size_t k = sm_below(g, COUNT(server_names)), i;
  fo_server_info info = FO_SERVER_INFO_INIT;
  fo_stack *s = NULL;
  if (fo_registry_find_stack_id(reg, id, &s) == 0) {
    for (i = 0; i < COUNT(server_names) && sm_chance(g, 85); i++) {
      const char *name = server_names[(k + i) % COUNT(server_names)];
      if (fo_stack_find_server(s, name, &info) == FO_ENOENT) {
        k = (k + i) % COUNT(server_names);
        break;
      }
    }
  }
  snprintf(out, 16, "%s", server_names[k % COUNT(server_names)]);
}

static const uint8_t weights[OP_KINDS] = {
    0, /* unused */
    4, /* stack_new */
    3, /* stack_rename */
    3, /* stack_remove */
    6, /* add_server */
    3, /* remove_server */
    2, /* rename_server */
    2, /* set_host */
    4, /* set_addr */
    6, /* create */
    5, /* attach */
    5, /* detach */
    5, /* switch */
    4, /* settle */
    4, /* delete */
    3, /* set_ttl */
    2, /* set_mode */
};

static int pick_kind(sm *g) {
  unsigned total = 0, k, r;
  for (k = 1; k < OP_KINDS; k++)
    total += weights[k];
  r = sm_below(g, total);
  for (k = 1; k < OP_KINDS; k++) {
    if (r < weights[k])
      return (int)k;
    r -= weights[k];
  }
  return OP_STACK_NEW;
}

/* Mostly operations that succeed, some that a rule refuses. */
static void cr_generate(fo_registry *reg, sm *g, const codeset *seen,
                        cr_op *o) {
  int kind = pick_kind(g), reuse = 0;
  size_t nstacks = stack_count(reg), ngroups = group_count(reg);
  fo_group *gr = NULL;
  memset(o, 0, sizeof(*o));
  /* In a batch that freed a stack name, often hand it to another stack. */
  if (g_freed.n > 0 && sm_chance(g, 40)) {
    kind = sm_chance(g, 50) ? OP_STACK_NEW : OP_STACK_RENAME;
    reuse = 1;
  }
  if (kind == OP_STACK_NEW && nstacks >= CR_MAX_STACKS)
    kind = OP_STACK_REMOVE;
  if (kind == OP_CREATE && ngroups >= CR_MAX_GROUPS)
    kind = sm_chance(g, 50) ? OP_DELETE : OP_DETACH;
  if (kind != OP_STACK_NEW && kind <= OP_SET_ADDR && nstacks == 0)
    kind = OP_STACK_NEW;
  if (kind >= OP_ATTACH && ngroups == 0)
    kind = OP_CREATE;
  o->kind = (uint8_t)kind;
  o->via_op = (uint8_t)sm_chance(g, 30);
  if (kind <= OP_SET_ADDR && kind != OP_STACK_NEW)
    o->stack = kind == OP_STACK_REMOVE && sm_chance(g, 85)
                   ? pick_free_stack(reg, g)
                   : pick_stack(reg, g);
  if (kind >= OP_ATTACH) {
    int want = kind == OP_ATTACH   ? WANT_EMPTY_SLOT
               : kind == OP_DETACH ? WANT_STACK
               : kind == OP_SWITCH ? WANT_BOTH
               : kind == OP_SETTLE ? WANT_SWITCHING
               : kind == OP_DELETE ? WANT_RESERVED
                                   : WANT_ANY;
    int found = 0;
    if (sm_chance(g, 15))
      want = WANT_ANY; /* some calls a rule refuses */
    gr = pick_group(reg, g, want, &found);
    /* Nothing to settle or delete: move a group towards it instead. */
    if (!found && kind == OP_SETTLE) {
      kind = OP_SWITCH;
      gr = pick_group(reg, g, WANT_BOTH, &found);
    }
    if (!found && kind == OP_DELETE) {
      kind = OP_DETACH;
      gr = pick_group(reg, g, WANT_STACK, &found);
    }
    o->kind = (uint8_t)kind;
    o->code = group_code(gr);
    /* Now and then an address of any incarnation, deleted ones included. */
    if (seen->n > 0 && sm_chance(g, 5))
      o->code = seen->list[sm_below(g, (uint32_t)seen->n)];
  }
  switch (kind) {
  case OP_STACK_NEW:
  case OP_STACK_RENAME:
    pick_stack_name(reg, g, reuse, o->name);
    break;
  case OP_ADD_SERVER: {
    fo_stack *s = NULL;
    if (fo_registry_find_stack_id(reg, o->stack, &s) == 0 &&
        server_total(s) >= CR_MAX_SERVERS) {
      o->kind = OP_REMOVE_SERVER;
      pick_server(reg, o->stack, g, o->name);
      break;
    }
    o->skind = (uint8_t)(sm_chance(g, 60) ? FO_SERVER_WEB
                                          : FO_SERVER_LOAD_BALANCER);
    pick_server_name(reg, o->stack, g, o->name);
    if (sm_chance(g, 30))
      snprintf(o->host, sizeof o->host, "%s",
               hosts[sm_below(g, COUNT(hosts))]);
    break;
  }
  case OP_REMOVE_SERVER:
    pick_server(reg, o->stack, g, o->name);
    break;
  case OP_RENAME_SERVER:
    pick_server(reg, o->stack, g, o->name);
    pick_server_name(reg, o->stack, g, o->name2);
    break;
  case OP_SET_HOST:
    pick_server(reg, o->stack, g, o->name);
    if (sm_chance(g, 60))
      snprintf(o->host, sizeof o->host, "%s",
               hosts[sm_below(g, COUNT(hosts))]);
    break;
  case OP_SET_ADDR:
    pick_server(reg, o->stack, g, o->name);
    if (sm_chance(g, 75))
      snprintf(o->v4, sizeof o->v4, "192.0.2.%u",
               (unsigned)sm_below(g, 255) + (sm_chance(g, 3) ? 300u : 1u));
    if (sm_chance(g, 50))
      snprintf(o->v6, sizeof o->v6, "2001:db8::%x",
               (unsigned)sm_below(g, 0xffff) + 1u);
    break;
  case OP_CREATE:
    if (nstacks > 0 && sm_chance(g, 70))
      o->stack = stack_id_of(nth_stack(reg, sm_below(g, (uint32_t)nstacks)));
    if (nstacks > 0 && sm_chance(g, 50))
      o->stack2 = stack_id_of(nth_stack(reg, sm_below(g, (uint32_t)nstacks)));
    break;
  case OP_ATTACH: {
    fo_stack *p = NULL, *b = NULL;
    if (gr) {
      fo_group_stack(gr, FO_SLOT_PRIMARY, &p);
      fo_group_stack(gr, FO_SLOT_BACKUP, &b);
    }
    o->slot = (uint8_t)(p && !b ? FO_SLOT_BACKUP
                        : !p && b ? FO_SLOT_PRIMARY
                                  : sm_below(g, 2));
    o->stack2 = pick_stack(reg, g);
    /* Mostly a stack the other slot does not hold. */
    if (stack_id_of(o->slot ? p : b) == o->stack2 && sm_chance(g, 85))
      o->stack2 = pick_stack(reg, g);
    break;
  }
  case OP_DETACH:
  case OP_SWITCH: {
    fo_slot active = FO_SLOT_PRIMARY;
    fo_stack *other = NULL;
    fo_group_active_slot(gr, &active);
    fo_group_stack(gr, (fo_slot)(1 - active), &other);
    /* Mostly the inactive slot (switch to it; detach it when it holds a
     * stack, else the active one). */
    o->slot = (uint8_t)(1 - active);
    if (kind == OP_DETACH && !other)
      o->slot = (uint8_t)active;
    if (sm_chance(g, 15))
      o->slot = (uint8_t)sm_below(g, 2);
    o->flags = sm_chance(g, 30) ? FO_FORCE : 0;
    break;
  }
  case OP_SET_TTL:
    o->value = sm_chance(g, 5) ? FO_TTL_MAX + 1 : sm_below(g, FO_TTL_MAX) + 1;
    break;
  case OP_SET_MODE:
    o->value = sm_chance(g, 50) ? FO_MODE_CNAME : FO_MODE_ADDRESS;
    break;
  default:
    break;
  }
}

/* ---- running a record on a registry ------------------------------------- */

/* Generate and run one operation (single or batch) on the shadow, filling
 * `r` with what happened. */
static void run_generate(fo_registry *reg, sm *g, const codeset *seen,
                         cr_rec *r) {
  uint32_t i, d;
  memset(r, 0, sizeof(*r));
  r->magic = REC_MAGIC;
  r->type = REC_INTENT;
  r->nsub = 1;
  if (sm_chance(g, 20)) {
    r->batch = sm_chance(g, 20) ? 2 : 1;
    r->nsub = 2 + sm_below(g, CR_MAX_SUB - 1);
  }
  g_rand.tape_len = 0;
  g_freed.n = 0;
  for (d = 0; d < r->batch; d++)
    fo_registry_batch_begin(reg); /* in memory: always 0 */
  for (i = 0; i < r->nsub; i++) {
    cr_op *o = &r->sub[i];
    uint32_t code = 0;
    char old[16] = "";
    fo_stack *s = NULL;
    cr_generate(reg, g, seen, o);
    if ((o->kind == OP_STACK_RENAME || o->kind == OP_STACK_REMOVE) &&
        fo_registry_find_stack_id(reg, o->stack, &s) == 0) {
      const char *name = "";
      fo_stack_name(s, &name);
      snprintf(old, sizeof old, "%s", name);
    }
    o->rc = cr_apply(reg, o, &code);
    if (o->kind == OP_CREATE && o->rc == 0)
      o->code = code;
    if (r->batch && o->rc == 0 && old[0] && g_freed.n < CR_MAX_SUB)
      snprintf(g_freed.names[g_freed.n++], 16, "%s", old);
  }
  g_freed.n = 0;
  for (d = 0; d < r->batch; d++)
    fo_registry_batch_commit(reg);
}

/* Run `r` again on `reg`: every rc and every drawn code must be the
 * recorded one. `queue` hands each create its recorded code (the model);
 * without it the registry draws from its own source (the child's durable
 * registry, fed the shadow's tape). 0, or a message in `err`. */
static int run_replay(fo_registry *reg, const cr_rec *r, int queue,
                      char *err, size_t errlen) {
  uint32_t i, d;
  int rc;
  for (d = 0; d < r->batch; d++) {
    if ((rc = fo_registry_batch_begin(reg)) != 0) {
      snprintf(err, errlen, "batch_begin returned %s", fo_err_name(rc));
      return -1;
    }
  }
  for (i = 0; i < r->nsub; i++) {
    const cr_op *o = &r->sub[i];
    uint32_t code = 0;
    if (queue && o->kind == OP_CREATE && o->rc == 0)
      queue_code(o->code);
    rc = cr_apply(reg, o, &code);
    if (rc != o->rc) {
      snprintf(err, errlen, "%s (%u of %u, batch %u) returned %s, expected %s",
               op_names[o->kind], (unsigned)i + 1, (unsigned)r->nsub,
               (unsigned)r->batch, fo_err_name(rc), fo_err_name(o->rc));
      return -1;
    }
    if (o->kind == OP_CREATE && rc == 0 && code != o->code) {
      snprintf(err, errlen, "create drew %09u, the shadow drew %09u",
               (unsigned)code, (unsigned)o->code);
      return -1;
    }
  }
  for (d = 0; d < r->batch; d++) {
    if ((rc = fo_registry_batch_commit(reg)) != 0) {
      snprintf(err, errlen, "batch_commit returned %s", fo_err_name(rc));
      return -1;
    }
  }
  return 0;
}

/* "batch(stack_rename #3 'bravo' ok, stack_new 'alpha' FO_EEXIST)". */
static void describe(const cr_rec *r, char *out, size_t len) {
  size_t used = 0;
  uint32_t i;
  used += (size_t)snprintf(out, len, "%s", r->batch ? "batch(" : "");
  for (i = 0; i < r->nsub && used < len; i++) {
    const cr_op *o = &r->sub[i];
    used += (size_t)snprintf(out + used, len - used, "%s%s", i ? ", " : "",
                             op_names[o->kind]);
    if (used < len && o->kind <= OP_SET_ADDR && o->kind != OP_STACK_NEW)
      used += (size_t)snprintf(out + used, len - used, " #%u",
                               (unsigned)o->stack);
    if (used < len && o->kind >= OP_CREATE)
      used += (size_t)snprintf(out + used, len - used, " %09u",
                               (unsigned)o->code);
    if (used < len && o->name[0])
      used += (size_t)snprintf(out + used, len - used, " '%s'", o->name);
    if (used < len && o->name2[0])
      used += (size_t)snprintf(out + used, len - used, " '%s'", o->name2);
    if (used < len)
      used += (size_t)snprintf(out + used, len - used, " %s",
                               o->rc ? fo_err_name(o->rc) : "ok");
  }
  if (used < len && r->batch)
    snprintf(out + used, len - used, ")");
}

static uint64_t state_hash(const fo_registry *reg) {
  char *text = ft_snapshot_stable(reg);
  uint64_t h = ft_hash_text(text);
  free(text);
  return h;
}

/* The first line where two snapshots differ, for messages. */
static void first_difference(const char *a, const char *b, char *out,
                             size_t len) {
  size_t i = 0, line = 0;
  const char *ea, *eb;
  while (a[i] && a[i] == b[i]) {
    if (a[i] == '\n')
      line = i + 1;
    i++;
  }
  ea = strchr(a + line, '\n');
  eb = strchr(b + line, '\n');
  snprintf(out, len, "'%.*s' vs '%.*s'",
           (int)(ea ? (size_t)(ea - a) - line : strlen(a + line)), a + line,
           (int)(eb ? (size_t)(eb - b) - line : strlen(b + line)), b + line);
}

/* ---- the child ---------------------------------------------------------- */

static void write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      _exit(4); /* the parent is gone */
    p += n;
    len -= (size_t)n;
  }
}

static void send_rec(int fd, uint32_t type, uint64_t rev, uint64_t hash) {
  cr_rec r;
  memset(&r, 0, sizeof r);
  r.magic = REC_MAGIC;
  r.type = type;
  r.rev = rev;
  r.hash = hash;
  r.offered = g_rand.offered;
  write_all(fd, &r, sizeof r);
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3), noreturn))
#endif
static void child_fail(int fd, const char *fmt, ...) {
  cr_rec r;
  va_list ap;
  memset(&r, 0, sizeof r);
  r.magic = REC_MAGIC;
  r.type = REC_FAIL;
  va_start(ap, fmt);
  vsnprintf(r.msg, sizeof r.msg, fmt, ap);
  va_end(ap);
  write_all(fd, &r, sizeof r);
  _exit(3);
}

/*
 * Catch the follower up with the commit of `r` (fo_registry_refresh: the
 * log entries, not the tables) and compare it with the predicted state.
 * A failure is reported in a FOLLOW record, separately from durability,
 * and the follower is opened again from the store.
 */
static void follow(int fd, fo_registry **follower, fo_store *fstore,
                   const fo_registry *shadow, const cr_rec *r) {
  fo_registry_options fo = cr_options(NULL, NULL);
  cr_rec out;
  char what[300];
  int rc = fo_registry_refresh(*follower);
  if (rc == 0 && state_hash(*follower) == r->hash)
    return;
  memset(&out, 0, sizeof out);
  out.magic = REC_MAGIC;
  out.type = REC_FOLLOW;
  describe(r, what, sizeof what);
  if (rc != 0) {
    snprintf(out.msg, sizeof out.msg, "refresh after %s returned %s%s", what,
             fo_err_name(rc),
             fo_registry_poisoned(*follower) ? " (follower poisoned)" : "");
  } else {
    char *a = ft_snapshot_stable(*follower), *b = ft_snapshot_stable(shadow);
    char diff[120];
    first_difference(a, b, diff, sizeof diff);
    snprintf(out.msg, sizeof out.msg,
             "after %s the follower differs from the writer: %s", what, diff);
    free(a);
    free(b);
  }
  write_all(fd, &out, sizeof out);
  fo_registry_free(*follower);
  *follower = NULL;
  if ((rc = fo_registry_open(follower, &fo, fstore)) != 0)
    child_fail(fd, "reopening the follower: %s", fo_err_name(rc));
}

/*
 * The child: `shadow` is its copy of the parent's model (fork), `seen`
 * the codes every incarnation drew. Never returns; ends by SIGKILL, or
 * _exit(3) after a failure record. No Criterion assertion may run here: the
 * child is not a test worker.
 */
static void cr_child(fo_registry *shadow, const codeset *seen,
                     const char *path, uint64_t seed, int fd) {
  fo_registry_options o = cr_options(tape_random, &g_tape);
  fo_registry_options fo = cr_options(NULL, NULL);
  fo_registry *reg = NULL, *follower = NULL;
  fo_store *store = NULL, *fstore = NULL;
  sm g = {seed};
  uint64_t rev = 0;
  char err[200], what[300];
  unsigned long n;
  int rc;

  g_rand.mode = RAND_OFFER;
  g_rand.seen = seen;
  g_rand.stream.s = seed ^ 0x5eed5eed5eedull;
  g_tape.stream.s = seed ^ 0xd1ffe7e47ull;
  if ((rc = fo_store_sqlite_open(&store, path, FO_STORE_CREATE)) != 0)
    child_fail(fd, "fo_store_sqlite_open: %s", fo_err_name(rc));
  if ((rc = fo_registry_open(&reg, &o, store)) != 0)
    child_fail(fd, "fo_registry_open: %s", fo_err_name(rc));
  {
    char *a = ft_snapshot_stable(reg), *b = ft_snapshot_stable(shadow);
    if (strcmp(a, b) != 0) {
      first_difference(a, b, err, sizeof err);
      child_fail(fd, "opened store differs from the model: %s", err);
    }
    free(a);
    free(b);
  }
  fo_registry_revision(reg, &rev);
  send_rec(fd, REC_READY, rev, 0);
  /* A second process-like reader: its own connection, following the
   * store through the log only. */
  if ((rc = fo_store_sqlite_open(&fstore, path, 0)) != 0 ||
      (rc = fo_registry_open(&follower, &fo, fstore)) != 0)
    child_fail(fd, "opening the follower: %s", fo_err_name(rc));

  for (n = 0; n < CR_MAX_OPS_PER_CHILD; n++) {
    cr_rec r;
    char *a, *b;
    run_generate(shadow, &g, seen, &r);
    r.hash = state_hash(shadow);
    write_all(fd, &r, sizeof r);
    g_tape.pos = 0;
    describe(&r, what, sizeof what);
    if (run_replay(reg, &r, 0, err, sizeof err) != 0)
      child_fail(fd, "durable registry, %s: %s", what, err);
    if (fo_registry_poisoned(reg))
      child_fail(fd, "registry poisoned without a fault after %s", what);
    a = ft_snapshot_stable(reg);
    b = ft_snapshot_stable(shadow);
    if (strcmp(a, b) != 0) {
      first_difference(a, b, err, sizeof err);
      child_fail(fd, "after %s the durable registry differs from the "
                 "shadow: %s", what, err);
    }
    free(a);
    free(b);
    fo_registry_revision(reg, &rev);
    send_rec(fd, REC_ACK, rev, r.hash);
    follow(fd, &follower, fstore, shadow, &r);
  }
  fo_registry_free(follower);
  fo_store_close(fstore);
  fo_registry_free(reg);
  fo_store_close(store);
  _exit(0);
}

/* ---- the parent --------------------------------------------------------- */

typedef struct cr_world {
  fo_registry *model;
  codeset seen;
  char *dir, *path;
  uint64_t rev; /* the store revision the model matches */
  sm g;
  double time_scale; /* kill delays are for native speed: stretch them */
  /* statistics */
  unsigned long kills, exited, in_open, ops_started, ops_acked, batches,
      calls, refused, committed_unacked, started_not_committed,
      offered, follow_failures;
  char follow_first[700];
} cr_world;

/* Apply an operation the store holds to the model. */
static void model_apply(cr_world *w, const cr_rec *r, const char *why) {
  char err[200];
  uint32_t i;
  for (i = 0; i < r->nsub; i++) {
    const cr_op *o = &r->sub[i];
    if (o->kind == OP_CREATE && o->rc == 0) {
      cr_assert(!codeset_has(&w->seen, o->code),
                "%s: a group was created with address %09u, which was "
                "drawn before", why, (unsigned)o->code);
      codeset_put(&w->seen, o->code);
    }
  }
  g_rand.mode = RAND_QUEUE;
  cr_assert_eq(run_replay(w->model, r, 1, err, sizeof err), 0,
               "%s: the model does not replay the operation: %s", why, err);
  for (i = 0; i < r->nsub; i++)
    w->refused += r->sub[i].rc != 0;
  w->calls += r->nsub;
  w->batches += r->batch != 0;
}

/* Read the child's records until the deadline, kill it, read the rest. */
static void collect(pid_t pid, int fd, double delay, int from_fork,
                    ft_buf *out, int *killed, int *status) {
  double deadline = from_fork ? ft_now() + delay : -1;
  int eof = 0;
  *killed = 0;
  while (!eof) {
    struct pollfd p = {fd, POLLIN, 0};
    struct timespec ts, *tp = NULL;
    char chunk[16384];
    ssize_t n;
    if (deadline >= 0) {
      double left = deadline - ft_now();
      if (left <= 0) {
        kill(pid, SIGKILL);
        *killed = 1;
        break;
      }
      ts.tv_sec = (time_t)left;
      ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
      tp = &ts;
    }
    if (ppoll(&p, 1, tp, NULL) < 0 && errno != EINTR)
      cr_assert_fail("ppoll: %s", strerror(errno));
    if (!(p.revents & (POLLIN | POLLHUP)))
      continue;
    n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    cr_assert(n >= 0, "read: %s", strerror(errno));
    if (n == 0)
      eof = 1;
    ft_buf_append(out, chunk, (size_t)n);
    /* The delay runs from READY: the store is open, operations begin. */
    if (deadline < 0 && out->len >= sizeof(cr_rec))
      deadline = ft_now() + delay;
  }
  /* After SIGKILL the pipe ends when the child is gone: drain it. */
  while (!eof) {
    char chunk[16384];
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR)
      continue;
    cr_assert(n >= 0, "read: %s", strerror(errno));
    if (n == 0)
      break;
    ft_buf_append(out, chunk, (size_t)n);
  }
  while (waitpid(pid, status, 0) < 0)
    cr_assert_eq(errno, EINTR, "waitpid: %s", strerror(errno));
}

/* Open the store as the next incarnation would and compare it with the
 * model; `pending` is the operation started after the last ACK (or NULL). */
static void verify_store(cr_world *w, unsigned round, const cr_rec *pending) {
  fo_registry_options o = cr_options(NULL, NULL);
  fo_registry *reg = NULL;
  fo_store *store = NULL;
  uint64_t rev = 0;
  char *a, *b, *bad;
  size_t i;
  int rc;

  rc = fo_store_sqlite_open(&store, w->path, 0);
  cr_assert_eq(rc, 0, "round %u: reopening the store: %s", round,
               fo_err_name(rc));
  rc = fo_registry_open(&reg, &o, store);
  cr_assert_eq(rc, 0, "round %u: fo_registry_open: %s", round,
               fo_err_name(rc));
  FT_OK(fo_registry_revision(reg, &rev));
  if (rev == w->rev) {
    w->started_not_committed += pending != NULL;
  } else {
    /* A commit the child never acknowledged: it must be the operation it
     * had started, whole. */
    cr_assert(rev == w->rev + 1 && pending != NULL,
              "round %u: store at revision %" PRIu64 ", last acknowledged %"
              PRIu64 ", %s", round, rev, w->rev,
              pending ? "one operation started after it"
                      : "no operation started after it");
    model_apply(w, pending, "unacknowledged commit");
    cr_assert_eq(state_hash(w->model), pending->hash,
                 "round %u: the model after the unacknowledged operation is "
                 "not the state the child predicted", round);
    w->rev = rev;
    w->committed_unacked++;
  }
  a = ft_snapshot_stable(reg);
  b = ft_snapshot_stable(w->model);
  if (strcmp(a, b) != 0) {
    char diff[512];
    first_difference(a, b, diff, sizeof diff);
    cr_log_error("round %u: reopened store\n%s\n--- model\n%s", round, a, b);
    cr_assert_fail("round %u (revision %" PRIu64 "): the reopened store is "
                   "not the acknowledged state: %s", round, rev, diff);
  }
  free(a);
  free(b);
  bad = ft_invariant_violation(reg);
  cr_assert_null(bad, "round %u: reopened registry breaks the model: %s",
                 round, bad);
  /* Every address ever drawn: live in both, or a tombstone in both. */
  for (i = 0; i < w->seen.n; i++) {
    fo_group *g1 = NULL, *g2 = NULL;
    uint32_t c = w->seen.list[i];
    int r1 = find_group(w->model, c, &g1), r2 = find_group(reg, c, &g2);
    cr_assert_eq(r2, r1, "round %u: address %09u: %s in the store, %s in "
                 "the model", round, (unsigned)c, fo_err_name(r2),
                 fo_err_name(r1));
  }
  fo_registry_free(reg);
  fo_store_close(store);
}

static void cr_round(cr_world *w, unsigned round) {
  cr_rec *recs;
  const cr_rec *pending = NULL;
  ft_buf buf = {0};
  double delay;
  int fds[2], killed, status, from_fork;
  size_t nrec, i;
  uint64_t seed = sm_next(&w->g), offered = 0;
  pid_t pid;

  /* Mostly from READY, log-uniform over 30 us..60 ms: inside commits.
   * Sometimes from the fork: inside open, load and WAL recovery. */
  from_fork = sm_chance(&w->g, 15);
  if (from_fork)
    delay = (double)sm_below(&w->g, 3000) / 1e6;
  else
    delay = 30e-6 * (double)(1u << sm_below(&w->g, 11)) *
            (1.0 + (double)sm_below(&w->g, 1000) / 1000.0);
  delay *= w->time_scale;
  cr_assert_eq(pipe(fds), 0);
  fflush(NULL);
  pid = fork();
  cr_assert(pid >= 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    cr_child(w->model, &w->seen, w->path, seed, fds[1]);
  }
  close(fds[1]);
  collect(pid, fds[0], delay, from_fork, &buf, &killed, &status);
  close(fds[0]);

  recs = (cr_rec *)(void *)buf.p;
  nrec = buf.len / sizeof(cr_rec);
  /* A record cut short by the kill is ignored: an INTENT cut short means
   * the operation was not started; an ACK cut short, that its commit is
   * done (the pending INTENT then explains the extra revision). */
  for (i = 0; i < nrec; i++) {
    const cr_rec *r = &recs[i];
    cr_assert_eq(r->magic, REC_MAGIC, "round %u: bad record", round);
    if (r->type == REC_FAIL)
      cr_assert_fail("round %u (seed %" PRIu64 "): child: %s", round, seed,
                     r->msg);
    cr_assert(i > 0 || r->type == REC_READY, "round %u: no READY", round);
    switch (r->type) {
    case REC_READY:
      cr_assert_eq(r->rev, w->rev, "round %u: child opened revision %" PRIu64
                   ", the store was verified at %" PRIu64, round, r->rev,
                   w->rev);
      break;
    case REC_FOLLOW:
      if (w->follow_failures++ == 0)
        snprintf(w->follow_first, sizeof w->follow_first, "round %u: %s",
                 round, r->msg);
      break;
    case REC_INTENT:
      cr_assert_null(pending, "round %u: two INTENTs", round);
      pending = r;
      w->ops_started++;
      break;
    case REC_ACK:
      cr_assert_not_null(pending, "round %u: ACK without INTENT", round);
      model_apply(w, pending, "acknowledged operation");
      cr_assert(r->rev == w->rev || r->rev == w->rev + 1,
                "round %u: acknowledged revision %" PRIu64 " after %" PRIu64,
                round, r->rev, w->rev);
      w->rev = r->rev;
      cr_assert_eq(state_hash(w->model), r->hash,
                   "round %u: the model differs from the acknowledged state",
                   round);
      w->ops_acked++;
      offered = r->offered;
      pending = NULL;
      break;
    default:
      cr_assert_fail("round %u: record type %u", round, (unsigned)r->type);
    }
  }
  if (killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
    w->kills++;
    w->in_open += nrec == 0;
  } else {
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "round %u: child ended with status 0x%x", round,
              (unsigned)status);
    w->exited++;
  }
  w->offered += offered;
  verify_store(w, round, pending);
  ft_buf_free(&buf);
}

/* The scratch directory of the running test, removed by the suite's fini
 * also when an assertion ended the test early. */
static char *g_dir;

static void remove_scratch(void) {
  ft_scratch_remove(g_dir);
  g_dir = NULL;
}

TestSuite(store_crash, .fini = remove_scratch);

static uint64_t test_seed(void) {
  unsigned long s = ft_env_count("FO_STORE_SEED", 0);
  if (s != 0)
    return s;
  return (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

Test(store_crash, sigkill_loop, .timeout = 280) {
  /* Under valgrind every forked child runs under valgrind too (20-50 times
   * slower): fewer kills, after delays stretched as much, still cover
   * kills in commits and in opens. */
  int vg = ft_under_valgrind();
  unsigned long kills = ft_env_count("FO_STORE_KILLS", vg ? 20 : 200);
  fo_registry_options mo = cr_options(model_random, &g_rand);
  fo_registry *reg = NULL;
  fo_store *store = NULL;
  cr_world w;
  uint64_t seed = test_seed();
  double t0 = ft_now();
  unsigned round;
  char *bad;

  memset(&w, 0, sizeof w);
  w.g.s = seed;
  w.time_scale = vg ? 40.0 : CR_SANITIZER_SCALE;
  w.dir = g_dir = ft_scratch_dir("fo-crash");
  w.path = ft_scratch_path(w.dir, "store.db");
  FT_OK(fo_registry_new(&w.model, &mo));
  /* The store is made here, unkilled (killed_while_creating covers that);
   * the loop starts from revision 1. */
  FT_OK(fo_store_sqlite_open(&store, w.path, FO_STORE_CREATE));
  FT_OK(fo_registry_open(&reg, &mo, store));
  FT_OK(fo_registry_revision(reg, &w.rev));
  fo_registry_free(reg);
  fo_store_close(store);
  ft_report("store crash loop: seed %" PRIu64 " (FO_STORE_SEED), %lu kills",
            seed, kills);

  for (round = 0; w.kills < kills; round++) {
    cr_assert(round < kills * 3 + 10, "children keep ending unkilled");
    cr_round(&w, round);
  }
  bad = ft_invariant_violation(w.model);
  cr_assert_null(bad, "the model breaks its rules: %s", bad);
  ft_report("store crash loop: %lu kills (%lu before READY), %lu children "
            "ended by themselves; %lu operations started, %lu "
            "acknowledged, %lu batches, %lu calls (%lu refused); kill "
            "between commit and ACK %lu times, inside an uncommitted "
            "operation %lu times; %zu addresses drawn, "
            "%lu old ones offered again; revision %" PRIu64 "; %lu "
            "follower failures; %.1f s",
            w.kills, w.in_open, w.exited, w.ops_started, w.ops_acked,
            w.batches, w.calls, w.refused, w.committed_unacked,
            w.started_not_committed, w.seen.n,
            w.offered, w.rev, w.follow_failures, ft_now() - t0);
  /* Durability held (the asserts above); a follower that cannot replay
   * the log is a separate defect, reported without hiding the rest. */
  cr_expect_eq(w.follow_failures, 0,
               "%lu times a registry following the store through "
               "fo_registry_refresh() failed or diverged; first: %s",
               w.follow_failures, w.follow_first);
  fo_registry_free(w.model);
  codeset_free(&w.seen);
  free(g_rand.tape);
  free(w.path);
}

/* ---- kills while the store file is being made --------------------------- */

/* The child makes the store and waits to be killed (so that it never exits
 * on its own: under valgrind an exit would run a leak check on a copy of
 * the test). */
static void create_child(const char *path, int fd) {
  fo_registry_options o = cr_options(NULL, NULL);
  fo_registry *reg = NULL;
  fo_store *store = NULL;
  char done = 1;
  if (fo_store_sqlite_open(&store, path, FO_STORE_CREATE) == 0 &&
      fo_registry_open(&reg, &o, store) == 0)
    write_all(fd, &done, 1);
  for (;;)
    pause();
}

Test(store_crash, killed_while_creating, .timeout = 200) {
  unsigned long n =
      ft_env_count("FO_STORE_CREATE_KILLS", ft_under_valgrind() ? 15 : 40);
  fo_registry_options o = cr_options(NULL, NULL);
  fo_registry *fresh = NULL;
  char *dir = g_dir = ft_scratch_dir("fo-crash-create"), *want;
  char first[256] = "";
  double t_create = 1e9;
  unsigned long i, refused = 0, created = 0;
  sm g = {test_seed()};

  FT_OK(fo_registry_new(&fresh, &o));
  want = ft_snapshot_stable(fresh);
  fo_registry_free(fresh);
  /* How long making a store takes here (the fastest of three: the first
   * one also pays for warming up, which a forked child inherits): kills
   * are spread over that. */
  for (i = 0; i < 3; i++) {
    char name[32], *path;
    fo_registry *reg = NULL;
    fo_store *store = NULL;
    double t;
    snprintf(name, sizeof name, "probe-%lu.db", i);
    path = ft_scratch_path(dir, name);
    t = ft_now();
    FT_OK(fo_store_sqlite_open(&store, path, FO_STORE_CREATE));
    FT_OK(fo_registry_open(&reg, &o, store));
    t = ft_now() - t;
    if (t < t_create)
      t_create = t;
    fo_registry_free(reg);
    fo_store_close(store);
    free(path);
  }

  for (i = 0; i < n; i++) {
    char name[32], *path;
    fo_registry *reg = NULL;
    fo_store *store = NULL;
    double delay = t_create * 1.3 * (double)sm_below(&g, 1000) / 1000.0;
    int fds[2], status, rc;
    struct pollfd p;
    char c;
    pid_t pid;

    snprintf(name, sizeof name, "create-%lu.db", i);
    path = ft_scratch_path(dir, name);
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      create_child(path, fds[1]);
    }
    close(fds[1]);
    {
      struct timespec ts = {(time_t)delay,
                            (long)((delay - (double)(time_t)delay) * 1e9)};
      nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0)
      cr_assert_eq(errno, EINTR);
    p.fd = fds[0];
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, 0) == 1 && read(fds[0], &c, 1) == 1)
      created++;
    close(fds[0]);

    /* The next process must be able to open (or make) the store. */
    rc = fo_store_sqlite_open(&store, path, FO_STORE_CREATE);
    if (rc != 0) {
      if (refused++ == 0)
        snprintf(first, sizeof first,
                 "kill %lu after %.0f us (store creation takes %.0f us): "
                 "fo_store_sqlite_open(FO_STORE_CREATE) returned %s",
                 i, delay * 1e6, t_create * 1e6, fo_err_name(rc));
      free(path);
      continue;
    }
    rc = fo_registry_open(&reg, &o, store);
    cr_assert_eq(rc, 0, "kill %lu: fo_registry_open: %s", i, fo_err_name(rc));
    {
      char *have = ft_snapshot_stable(reg), *bad;
      uint64_t rev = 0;
      FT_OK(fo_registry_revision(reg, &rev));
      cr_assert_eq(rev, 1, "kill %lu: revision %" PRIu64, i, rev);
      cr_assert_str_eq(have, want, "kill %lu: not a fresh registry", i);
      bad = ft_invariant_violation(reg);
      cr_assert_null(bad, "kill %lu: %s", i, bad);
      free(have);
    }
    fo_registry_free(reg);
    fo_store_close(store);
    free(path);
  }
  ft_report("store creation: %lu kills over %.0f us, %lu after the store "
            "was made, %lu files refused on reopen",
            n, t_create * 1e6, created, refused);
  cr_expect_eq(refused, 0,
               "%lu of %lu stores killed while being created cannot be "
               "opened again; first: %s", refused, n, first);
  free(want);
}
