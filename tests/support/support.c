/*
 * support.c - shared helpers for libfailover's Criterion tests.
 */
#include "support.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* ---- growable string ---------------------------------------------------- */

static void buf_reserve(ft_buf *b, size_t extra) {
  if (b->len + extra + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1)
    cap *= 2;
  char *p = realloc(b->p, cap);
  cr_assert_not_null(p, "test support: out of memory");
  b->p = p;
  b->cap = cap;
}

void ft_buf_append(ft_buf *b, const char *data, size_t len) {
  buf_reserve(b, len);
  memcpy(b->p + b->len, data, len);
  b->len += len;
  b->p[b->len] = '\0';
}

void ft_buf_printf(ft_buf *b, const char *fmt, ...) {
  va_list ap;
  if (b->cap - b->len < 64)
    buf_reserve(b, 64);
  va_start(ap, fmt);
  int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  cr_assert(n >= 0, "test support: vsnprintf failed");
  if ((size_t)n >= b->cap - b->len) {
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  b->len += (size_t)n;
}

void ft_buf_free(ft_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

char *ft_buf_take(ft_buf *b) {
  if (!b->p)
    ft_buf_append(b, "", 0);
  char *p = b->p;
  b->p = NULL;
  b->len = b->cap = 0;
  return p;
}

/* ---- deterministic random source --------------------------------------- */

void ft_rng_init(ft_rng *r, uint64_t seed) {
  memset(r, 0, sizeof *r);
  r->state = seed ^ 0x6a09e667f3bcc909ull;
}

void ft_rng_free(ft_rng *r) {
  free(r->log);
  free(r->replay);
  memset(r, 0, sizeof *r);
}

uint64_t ft_rng_next(ft_rng *r) {
  uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint32_t ft_rng_below(ft_rng *r, uint32_t n) {
  return (uint32_t)(ft_rng_next(r) % n);
}

int ft_rng_fill(void *buf, size_t len, void *userdata) {
  ft_rng *r = userdata;
  r->calls++;
  if (r->fail)
    return -1;
  unsigned char *out = buf;
  if (r->produced + len > r->log_cap) {
    size_t cap = r->log_cap ? r->log_cap : 4096;
    while (cap < r->produced + len)
      cap *= 2;
    unsigned char *p = realloc(r->log, cap);
    cr_assert_not_null(p, "test support: out of memory");
    r->log = p;
    r->log_cap = cap;
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c;
    if (r->replay_pos < r->replay_len) {
      c = r->replay[r->replay_pos++];
    } else {
      c = (unsigned char)(ft_rng_next(r) >> 56);
    }
    out[i] = c;
    r->log[r->produced + i] = c;
  }
  r->produced += len;
  return 0;
}

void ft_rng_replay(ft_rng *r, size_t from, size_t to) {
  cr_assert(from <= to && to <= r->produced, "test support: bad replay range");
  free(r->replay);
  r->replay_len = to - from;
  r->replay_pos = 0;
  r->replay = malloc(r->replay_len ? r->replay_len : 1);
  cr_assert_not_null(r->replay);
  memcpy(r->replay, r->log + from, r->replay_len);
}

/* ---- counting, failing allocator --------------------------------------- */

#define FT_MAGIC 0x464f414c4c4f4321ull
#define FT_DEAD 0x4445414444454144ull

typedef union ft_hdr {
  struct {
    uint64_t magic;
    size_t size;
  } h;
  max_align_t align;
} ft_hdr;

static int alloc_should_fail(ft_alloc *a) {
  a->count++;
  if (a->fail_at && (a->count == a->fail_at ||
                     (a->fail_all_after && a->count > a->fail_at))) {
    a->failures++;
    return 1;
  }
  return 0;
}

static void *ft_malloc(size_t size, void *ud) {
  ft_alloc *a = ud;
  if (size == 0)
    a->bad_frees++; /* sizes are documented never to be 0: count as misuse */
  if (alloc_should_fail(a))
    return NULL;
  ft_hdr *h = malloc(sizeof(ft_hdr) + size);
  if (!h)
    return NULL;
  h->h.magic = FT_MAGIC;
  h->h.size = size;
  a->live++;
  a->live_bytes += size;
  return h + 1;
}

static void ft_free(void *ptr, void *ud) {
  ft_alloc *a = ud;
  if (!ptr)
    return;
  ft_hdr *h = (ft_hdr *)ptr - 1;
  if (h->h.magic != FT_MAGIC) {
    a->bad_frees++;
    return;
  }
  h->h.magic = FT_DEAD;
  a->live--;
  a->live_bytes -= h->h.size;
  free(h);
}

static void *ft_realloc(void *ptr, size_t size, void *ud) {
  ft_alloc *a = ud;
  if (!ptr)
    return ft_malloc(size, ud);
  ft_hdr *h = (ft_hdr *)ptr - 1;
  if (h->h.magic != FT_MAGIC) {
    a->bad_frees++;
    return NULL;
  }
  if (size == 0)
    a->bad_frees++;
  if (alloc_should_fail(a))
    return NULL; /* old block intact */
  size_t old = h->h.size;
  ft_hdr *n = realloc(h, sizeof(ft_hdr) + size);
  if (!n)
    return NULL;
  n->h.size = size;
  a->live_bytes = a->live_bytes - old + size;
  return n + 1;
}

void ft_alloc_init(ft_alloc *a) {
  memset(a, 0, sizeof *a);
  a->hooks.malloc = ft_malloc;
  a->hooks.realloc = ft_realloc;
  a->hooks.free = ft_free;
  a->hooks.userdata = a;
}

/* ---- registry / stack helpers ------------------------------------------ */

fo_registry_options ft_options(ft_rng *rng, ft_alloc *alloc) {
  fo_registry_options o = FO_REGISTRY_OPTIONS_INIT;
  o.zone = FT_ZONE;
  if (rng) {
    o.random = ft_rng_fill;
    o.random_userdata = rng;
  }
  if (alloc)
    o.allocator = &alloc->hooks;
  return o;
}

fo_registry *ft_registry(ft_rng *rng, ft_alloc *alloc) {
  fo_registry_options o = ft_options(rng, alloc);
  fo_registry *reg = NULL;
  FT_OK(fo_registry_new(&reg, &o));
  cr_assert_not_null(reg);
  return reg;
}

fo_stack *ft_stack(fo_registry *reg, const char *name, int n_web, int n_lb) {
  fo_stack *s = NULL;
  int rc = fo_stack_new(&s, reg, name);
  cr_assert_eq(rc, 0, "fo_stack_new(%s): %s", name, fo_err_name(rc));
  cr_assert_not_null(s);
  char n[32];
  for (int i = 1; i <= n_web; i++) {
    snprintf(n, sizeof n, "web%d", i);
    rc = fo_stack_add_server(s, FO_SERVER_WEB, n, NULL);
    cr_assert_eq(rc, 0, "add web server %s to %s: %s", n, name, fo_err_name(rc));
  }
  for (int i = 1; i <= n_lb; i++) {
    snprintf(n, sizeof n, "lb%d", i);
    rc = fo_stack_add_server(s, FO_SERVER_LOAD_BALANCER, n, NULL);
    cr_assert_eq(rc, 0, "add load balancer %s to %s: %s", n, name, fo_err_name(rc));
  }
  return s;
}

fo_group *ft_group(fo_registry *reg, fo_stack *primary, fo_stack *backup) {
  fo_group *g = NULL;
  int rc = fo_group_create(&g, reg, primary, backup);
  cr_assert_eq(rc, 0, "fo_group_create: %s", fo_err_name(rc));
  cr_assert_not_null(g);
  return g;
}

const char *ft_address(const fo_group *g, char *buf) {
  int rc = fo_group_address(g, buf, FO_NAME_BUFSIZE);
  cr_assert_eq(rc, 0, "fo_group_address: %s", fo_err_name(rc));
  return buf;
}

fo_state ft_state(const fo_group *g) {
  fo_state s = 0;
  int rc = fo_group_state(g, &s);
  cr_assert_eq(rc, 0, "fo_group_state: %s", fo_err_name(rc));
  return s;
}

fo_slot ft_active(const fo_group *g) {
  fo_slot s = 0;
  int rc = fo_group_active_slot(g, &s);
  cr_assert_eq(rc, 0, "fo_group_active_slot: %s", fo_err_name(rc));
  return s;
}

fo_stack *ft_slot(const fo_group *g, fo_slot slot) {
  fo_stack *s = (fo_stack *)(uintptr_t)1;
  int rc = fo_group_stack(g, slot, &s);
  cr_assert_eq(rc, 0, "fo_group_stack: %s", fo_err_name(rc));
  return s;
}

uint64_t ft_generation(const fo_group *g) {
  uint64_t v = 0;
  int rc = fo_group_generation(g, &v);
  cr_assert_eq(rc, 0, "fo_group_generation: %s", fo_err_name(rc));
  return v;
}

char *ft_records_text(const fo_group *g) {
  fo_rrset set = FO_RRSET_INIT;
  int rc = fo_group_records(g, &set);
  cr_assert_eq(rc, 0, "fo_group_records: %s", fo_err_name(rc));
  size_t len = 0;
  char probe[1];
  rc = fo_rrset_format(&set, probe, sizeof probe, &len);
  cr_assert(rc == 0 || rc == FO_ENOSPC, "fo_rrset_format: %s", fo_err_name(rc));
  char *text = malloc(len + 1);
  cr_assert_not_null(text);
  rc = fo_rrset_format(&set, text, len + 1, NULL);
  cr_assert_eq(rc, 0, "fo_rrset_format: %s", fo_err_name(rc));
  return text;
}

int ft_is_address_label(const char *s) {
  for (int i = 0; i < FO_ADDRESS_LABEL_LEN; i++) {
    if (i == 3 || i == 7) {
      if (s[i] != '-')
        return 0;
    } else if (s[i] < '0' || s[i] > '9') {
      return 0;
    }
  }
  return s[FO_ADDRESS_LABEL_LEN] == '\0';
}

int ft_is_address(const char *s, const char *zone) {
  if (strlen(s) < FO_ADDRESS_LABEL_LEN + 1)
    return 0;
  char label[FO_ADDRESS_LABEL_LEN + 1];
  memcpy(label, s, FO_ADDRESS_LABEL_LEN);
  label[FO_ADDRESS_LABEL_LEN] = '\0';
  if (!ft_is_address_label(label))
    return 0;
  if (s[FO_ADDRESS_LABEL_LEN] != '.')
    return 0;
  return strcmp(s + FO_ADDRESS_LABEL_LEN + 1, zone) == 0;
}

/* ---- snapshots ----------------------------------------------------------- */

static const char *str_or(const char *s) { return s ? s : "(null)"; }

static void server_into(ft_buf *b, const fo_server_info *i) {
  ft_buf_printf(b, "kind=%d name=%s host=%s explicit=%d v4=%s v6=%s", (int)i->kind,
                str_or(i->name), str_or(i->host_name), i->host_name_explicit,
                str_or(i->ipv4), str_or(i->ipv6));
}

void ft_snapshot_stack_into(ft_buf *b, const fo_stack *s) {
  const char *name = NULL;
  int rc = fo_stack_name(s, &name);
  ft_buf_printf(b, "stack rc=%d name=%s\n", rc, rc == 0 ? str_or(name) : "-");
  size_t gc = 0;
  rc = fo_stack_group_count(s, &gc);
  ft_buf_printf(b, "  groups rc=%d n=%zu\n", rc, rc == 0 ? gc : 0);
  static const fo_server_kind kinds[2] = {FO_SERVER_WEB, FO_SERVER_LOAD_BALANCER};
  for (int k = 0; k < 2; k++) {
    size_t n = 0;
    rc = fo_stack_server_count(s, kinds[k], &n);
    ft_buf_printf(b, "  kind %d rc=%d count=%zu\n", (int)kinds[k], rc, rc == 0 ? n : 0);
    if (rc != 0)
      continue;
    for (size_t i = 0; i < n; i++) {
      fo_server_info info = FO_SERVER_INFO_INIT;
      rc = fo_stack_server_at(s, kinds[k], i, &info);
      ft_buf_printf(b, "   [%zu] rc=%d ", i, rc);
      if (rc == 0)
        server_into(b, &info);
      ft_buf_printf(b, "\n");
    }
  }
  fo_server_info head = FO_SERVER_INFO_INIT;
  fo_web_head_rule rule = 0;
  rc = fo_stack_web_head(s, &head, &rule);
  ft_buf_printf(b, "  web head rc=%d", rc);
  if (rc == 0) {
    ft_buf_printf(b, " rule=%d ", (int)rule);
    server_into(b, &head);
  }
  ft_buf_printf(b, "\n");
}

void ft_snapshot_group_into(ft_buf *b, const fo_group *g) {
  char addr[FO_NAME_BUFSIZE] = "";
  int rc = fo_group_address(g, addr, sizeof addr);
  ft_buf_printf(b, "group rc=%d %s\n", rc, addr);
  fo_state st = 0;
  rc = fo_group_state(g, &st);
  ft_buf_printf(b, "  state rc=%d %d\n", rc, (int)st);
  if (!ft_snapshot_skip_generations) {
    uint64_t gen = 0;
    rc = fo_group_generation(g, &gen);
    ft_buf_printf(b, "  generation rc=%d %llu\n", rc, (unsigned long long)gen);
  }
  uint32_t ttl = 0;
  rc = fo_group_ttl(g, &ttl);
  ft_buf_printf(b, "  ttl rc=%d %u\n", rc, (unsigned)ttl);
  fo_record_mode mode = 0;
  rc = fo_group_mode(g, &mode);
  ft_buf_printf(b, "  mode rc=%d %d\n", rc, (int)mode);
  int any = 0;
  for (int slot = 0; slot < 2; slot++) {
    fo_stack *s = NULL;
    rc = fo_group_stack(g, (fo_slot)slot, &s);
    const char *name = NULL;
    int nrc = s ? fo_stack_name(s, &name) : 0;
    if (s)
      any = 1;
    ft_buf_printf(b, "  slot %d rc=%d stack=%s (name rc=%d)\n", slot, rc,
                  s ? str_or(name) : "-", nrc);
  }
  if (any) {
    fo_slot active = 0;
    rc = fo_group_active_slot(g, &active);
    ft_buf_printf(b, "  active rc=%d %d\n", rc, (int)active);
  }
  fo_target t = FO_TARGET_INIT;
  rc = fo_group_target(g, &t);
  ft_buf_printf(b, "  target rc=%d none=%d mode=%d ttl=%u host=%s v4=%s v6=%s\n", rc,
                (int)t.none, (int)t.mode, (unsigned)t.ttl, str_or(t.host_name),
                str_or(t.ipv4), str_or(t.ipv6));
  fo_rrset set = FO_RRSET_INIT;
  rc = fo_group_records(g, &set);
  ft_buf_printf(b, "  records rc=%d count=%zu none=%d\n", rc, set.count, (int)set.none);
  if (rc == 0) {
    char text[2 * (2 * FO_NAME_BUFSIZE + 64)];
    size_t len = 0;
    rc = fo_rrset_format(&set, text, sizeof text, &len);
    ft_buf_printf(b, "  format rc=%d len=%zu\n%s", rc, len, rc == 0 ? text : "");
  }
}

char *ft_snapshot(const fo_registry *reg) {
  ft_buf b = {0};
  const char *zone = NULL;
  int rc = fo_registry_zone(reg, &zone);
  ft_buf_printf(&b, "zone rc=%d %s\n", rc, rc == 0 ? str_or(zone) : "-");
  uint32_t ttl = 0;
  rc = fo_registry_default_ttl(reg, &ttl);
  ft_buf_printf(&b, "default ttl rc=%d %u\n", rc, (unsigned)ttl);
  size_t n = 0;
  rc = fo_registry_group_count(reg, &n);
  ft_buf_printf(&b, "groups rc=%d %zu\n", rc, n);
  rc = fo_registry_stack_count(reg, &n);
  ft_buf_printf(&b, "stacks rc=%d %zu\n", rc, n);
  size_t seen = 0;
  for (fo_stack *s = fo_registry_next_stack(reg, NULL); s;
       s = fo_registry_next_stack(reg, s)) {
    ft_snapshot_stack_into(&b, s);
    if (++seen > 1000000)
      cr_assert_fail("stack iteration does not end");
  }
  seen = 0;
  for (fo_group *g = fo_registry_next_group(reg, NULL); g;
       g = fo_registry_next_group(reg, g)) {
    ft_snapshot_group_into(&b, g);
    if (++seen > 10000000)
      cr_assert_fail("group iteration does not end");
  }
  return ft_buf_take(&b);
}

int ft_snapshot_skip_generations;

char *ft_snapshot_stable(const fo_registry *reg) {
  char *text;
  ft_snapshot_skip_generations = 1;
  text = ft_snapshot(reg);
  ft_snapshot_skip_generations = 0;
  {
    ft_buf b = {0};
    ft_buf_append(&b, text, strlen(text));
    free(text);
    for (fo_stack *s = fo_registry_next_stack(reg, NULL); s;
         s = fo_registry_next_stack(reg, s)) {
      uint32_t id = 0;
      const char *name = "";
      fo_stack_id(s, &id);
      fo_stack_name(s, &name);
      ft_buf_printf(&b, "stack id %s=%u\n", name, (unsigned)id);
      for (int k = FO_SERVER_WEB; k <= FO_SERVER_LOAD_BALANCER; k++) {
        size_t n = 0;
        fo_stack_server_count(s, (fo_server_kind)k, &n);
        for (size_t i = 0; i < n; i++) {
          fo_server_info info = FO_SERVER_INFO_INIT;
          uint32_t sid = 0;
          if (fo_stack_server_at(s, (fo_server_kind)k, i, &info) == 0 &&
              fo_stack_server_id(s, info.name, &sid) == 0)
            ft_buf_printf(&b, "  server id %s=%u\n", info.name, (unsigned)sid);
        }
      }
    }
    return ft_buf_take(&b);
  }
}

char *ft_invariant_violation(const fo_registry *reg) {
  ft_buf b = {0};
  ft_strset seen = {0};
  size_t live = 0, count = 0;
  for (fo_group *g = fo_registry_next_group(reg, NULL); g;
       g = fo_registry_next_group(reg, g)) {
    char addr[FO_NAME_BUFSIZE];
    fo_stack *slot[2] = {NULL, NULL};
    fo_state st = 0;
    fo_slot active = FO_SLOT_PRIMARY;
    live++;
    if (fo_group_address(g, addr, sizeof addr) != 0 ||
        fo_group_state(g, &st) != 0) {
      ft_buf_printf(&b, "group without address or state\n");
      break;
    }
    if (!ft_strset_add(&seen, addr))
      ft_buf_printf(&b, "%s: address twice\n", addr);
    fo_group_stack(g, FO_SLOT_PRIMARY, &slot[0]);
    fo_group_stack(g, FO_SLOT_BACKUP, &slot[1]);
    fo_group_active_slot(g, &active);
    if (slot[0] && slot[0] == slot[1])
      ft_buf_printf(&b, "%s: one stack in both slots\n", addr);
    if (st == FO_GROUP_RESERVED && (slot[0] || slot[1]))
      ft_buf_printf(&b, "%s: reserved with a stack\n", addr);
    if ((st == FO_GROUP_SERVING || st == FO_GROUP_SWITCHING) &&
        slot[active] == NULL)
      ft_buf_printf(&b, "%s: active slot empty while %s\n", addr,
                    fo_state_name(st));
    for (int k = 0; k < 2; k++) {
      const char *name;
      if (slot[k] && fo_stack_name(slot[k], &name) != 0)
        ft_buf_printf(&b, "%s: slot %d holds a removed stack\n", addr, k);
    }
    fo_rrset want = FO_RRSET_INIT, have = FO_RRSET_INIT;
    ft_expected_rrset(g, &want);
    if (fo_group_records(g, &have) != 0 || !ft_rrset_equal(&want, &have))
      ft_buf_printf(&b, "%s: records differ from the web head\n", addr);
  }
  fo_registry_group_count(reg, &count);
  if (count != live)
    ft_buf_printf(&b, "group count %zu, iterated %zu\n", count, live);
  for (fo_stack *s = fo_registry_next_stack(reg, NULL); s;
       s = fo_registry_next_stack(reg, s)) {
    size_t holders = 0, n = 0;
    const char *name = "";
    fo_stack_name(s, &name);
    for (fo_group *g = fo_registry_next_group(reg, NULL); g;
         g = fo_registry_next_group(reg, g)) {
      fo_stack *a = NULL, *c = NULL;
      fo_group_stack(g, FO_SLOT_PRIMARY, &a);
      fo_group_stack(g, FO_SLOT_BACKUP, &c);
      holders += (a == s) + (c == s);
    }
    fo_stack_group_count(s, &n);
    if (n != holders)
      ft_buf_printf(&b, "stack %s: group count %zu, held %zu times\n", name, n,
                    holders);
  }
  ft_strset_free(&seen);
  if (b.len == 0) {
    ft_buf_free(&b);
    return NULL;
  }
  return ft_buf_take(&b);
}

char *ft_snapshot_group(const fo_group *g) {
  ft_buf b = {0};
  ft_snapshot_group_into(&b, g);
  return ft_buf_take(&b);
}

char *ft_snapshot_stack(const fo_stack *s) {
  ft_buf b = {0};
  ft_snapshot_stack_into(&b, s);
  return ft_buf_take(&b);
}

/* ---- expected records ---------------------------------------------------- */

static void set_record(fo_record *r, fo_rr_type type, uint32_t ttl, const char *owner,
                       const char *data) {
  memset(r, 0, sizeof *r);
  r->type = type;
  r->ttl = ttl;
  size_t n = strlen(owner), m = strlen(data);
  cr_assert_lt(n, sizeof r->owner);
  cr_assert_lt(m, sizeof r->data);
  memcpy(r->owner, owner, n + 1);
  memcpy(r->data, data, m + 1);
}

void ft_expected_rrset(const fo_group *g, fo_rrset *out) {
  memset(out, 0, sizeof *out);
  out->version = FO_RRSET_VERSION;
  fo_state st = ft_state(g);
  if (st == FO_GROUP_DELETED) {
    out->none = FO_NONE_DELETED;
    return;
  }
  fo_stack *p = ft_slot(g, FO_SLOT_PRIMARY);
  fo_stack *bk = ft_slot(g, FO_SLOT_BACKUP);
  if (!p && !bk) {
    out->none = FO_NONE_RESERVED;
    return;
  }
  fo_slot act = ft_active(g);
  fo_stack *s = act == FO_SLOT_PRIMARY ? p : bk;
  cr_assert_not_null(s, "invariant: a slot holds a stack but the active slot (%d) is empty",
                     (int)act);
  fo_server_info head = FO_SERVER_INFO_INIT;
  int rc = fo_stack_web_head(s, &head, NULL);
  if (rc == FO_ENOWEBHEAD) {
    out->none = FO_NONE_NO_WEB_HEAD;
    return;
  }
  cr_assert_eq(rc, 0, "fo_stack_web_head: %s", fo_err_name(rc));
  uint32_t ttl = 0;
  FT_OK(fo_group_ttl(g, &ttl));
  fo_record_mode mode = 0;
  FT_OK(fo_group_mode(g, &mode));
  char addr[FO_NAME_BUFSIZE];
  ft_address(g, addr);
  if (mode == FO_MODE_CNAME) {
    out->count = 1;
    set_record(&out->records[0], FO_RR_CNAME, ttl, addr, head.host_name);
    return;
  }
  cr_assert_eq((int)mode, (int)FO_MODE_ADDRESS, "unknown mode %d", (int)mode);
  if (head.ipv4)
    set_record(&out->records[out->count++], FO_RR_A, ttl, addr, head.ipv4);
  if (head.ipv6)
    set_record(&out->records[out->count++], FO_RR_AAAA, ttl, addr, head.ipv6);
  if (out->count == 0)
    out->none = FO_NONE_NO_ADDRESS;
}

int ft_rrset_equal(const fo_rrset *a, const fo_rrset *b) {
  if (a->count != b->count || a->none != b->none)
    return 0;
  for (size_t i = 0; i < a->count && i < FO_RRSET_MAX; i++) {
    const fo_record *x = &a->records[i], *y = &b->records[i];
    if (x->type != y->type || x->ttl != y->ttl || strcmp(x->owner, y->owner) != 0 ||
        strcmp(x->data, y->data) != 0)
      return 0;
  }
  return 1;
}

char *ft_rrset_describe(const fo_rrset *set) {
  ft_buf b = {0};
  ft_buf_printf(&b, "{count=%zu none=%d", set->count, (int)set->none);
  for (size_t i = 0; i < set->count && i < FO_RRSET_MAX; i++) {
    const fo_record *r = &set->records[i];
    ft_buf_printf(&b, " [type=%d ttl=%u %s -> %s]", (int)r->type, (unsigned)r->ttl,
                  r->owner, r->data);
  }
  ft_buf_printf(&b, "}");
  return ft_buf_take(&b);
}

/* ---- change-feed recorder ---------------------------------------------- */

static void copy_str(char *dst, size_t size, const char *src) {
  snprintf(dst, size, "%s", src ? src : "");
}

static int same_str(const char *a, const char *b) {
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

static void record_event(ft_events *e, const fo_change *c, int tag) {
  if (e->n == e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 64;
    ft_event *p = realloc(e->ev, cap * sizeof *p);
    cr_assert_not_null(p);
    e->ev = p;
    e->cap = cap;
  }
  ft_event *ev = &e->ev[e->n++];
  memset(ev, 0, sizeof *ev);
  ev->group = c->group;
  ev->reason = c->reason;
  ev->generation = c->generation;
  ev->tag = tag;
  uint64_t gen = 0;
  if (fo_group_generation(c->group, &gen) == 0)
    ev->group_generation = gen;
  if (c->old_target) {
    ev->has_old = 1;
    ev->old_none = c->old_target->none;
    copy_str(ev->old_host, sizeof ev->old_host, c->old_target->host_name);
  }
  if (c->new_target) {
    ev->has_new = 1;
    ev->new_none = c->new_target->none;
    copy_str(ev->new_host, sizeof ev->new_host, c->new_target->host_name);
    copy_str(ev->new_ipv4, sizeof ev->new_ipv4, c->new_target->ipv4);
    copy_str(ev->new_ipv6, sizeof ev->new_ipv6, c->new_target->ipv6);
    ev->new_ttl = c->new_target->ttl;
    ev->new_mode = c->new_target->mode;
    fo_target now = FO_TARGET_INIT;
    if (fo_group_target(c->group, &now) == 0) {
      const fo_target *t = c->new_target;
      ev->target_matches = now.none == t->none && now.mode == t->mode &&
                           now.ttl == t->ttl && same_str(now.host_name, t->host_name) &&
                           same_str(now.ipv4, t->ipv4) && same_str(now.ipv6, t->ipv6);
    }
  }
}

void ft_events_cb(const fo_change *c, void *userdata) {
  ft_events *e = userdata;
  record_event(e, c, e->tag);
  if (e->shared)
    record_event(e->shared, c, e->tag);
}

void ft_events_clear(ft_events *e) { e->n = 0; }

void ft_events_free(ft_events *e) {
  free(e->ev);
  e->ev = NULL;
  e->n = e->cap = 0;
}

size_t ft_events_for(const ft_events *e, const fo_group *g) {
  size_t n = 0;
  for (size_t i = 0; i < e->n; i++)
    if (e->ev[i].group == g)
      n++;
  return n;
}

/* ---- string set ---------------------------------------------------------- */

static uint64_t fnv(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

static int strset_insert(ft_strset *s, char *str) {
  size_t mask = s->cap - 1;
  for (size_t i = (size_t)fnv(str) & mask;; i = (i + 1) & mask) {
    if (!s->slots[i]) {
      s->slots[i] = str;
      s->n++;
      return 1;
    }
    if (strcmp(s->slots[i], str) == 0)
      return 0;
  }
}

int ft_strset_has(const ft_strset *s, const char *str) {
  if (!s->cap)
    return 0;
  size_t mask = s->cap - 1;
  for (size_t i = (size_t)fnv(str) & mask;; i = (i + 1) & mask) {
    if (!s->slots[i])
      return 0;
    if (strcmp(s->slots[i], str) == 0)
      return 1;
  }
}

int ft_strset_add(ft_strset *s, const char *str) {
  if (ft_strset_has(s, str))
    return 0;
  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    ft_strset old = *s;
    s->slots = calloc(cap, sizeof *s->slots);
    cr_assert_not_null(s->slots);
    s->cap = cap;
    s->n = 0;
    for (size_t i = 0; i < old.cap; i++)
      if (old.slots[i])
        strset_insert(s, old.slots[i]);
    free(old.slots);
  }
  size_t len = strlen(str);
  char *copy = malloc(len + 1);
  cr_assert_not_null(copy);
  memcpy(copy, str, len + 1);
  return strset_insert(s, copy);
}

void ft_strset_free(ft_strset *s) {
  for (size_t i = 0; i < s->cap; i++)
    free(s->slots[i]);
  free(s->slots);
  memset(s, 0, sizeof *s);
}

/* ---- durable-store fixtures ---------------------------------------------- */

void ft_populate(fo_registry *reg, const char *tag) {
  char name[3][32];
  snprintf(name[0], sizeof name[0], "shop%s", tag);
  snprintf(name[1], sizeof name[1], "blog%s", tag);
  snprintf(name[2], sizeof name[2], "gone%s", tag);
  fo_stack *shop = ft_stack(reg, name[0], 2, 1);
  fo_stack *blog = ft_stack(reg, name[1], 1, 0);
  fo_stack *gone = ft_stack(reg, name[2], 1, 0);
  FT_OK(fo_stack_set_server_host_name(blog, "web1", "www.blog.example.org"));
  FT_OK(fo_stack_set_server_addresses(shop, "lb1", "192.0.2.7", "2001:db8::7"));
  FT_OK(fo_stack_rename_server(shop, "web2", "web9"));
  fo_group *a = ft_group(reg, shop, blog);
  fo_group *b = ft_group(reg, blog, NULL);
  ft_group(reg, NULL, NULL);
  fo_group *d = ft_group(reg, NULL, NULL);
  fo_group *e = ft_group(reg, shop, NULL);
  FT_OK(fo_group_switch(a, FO_SLOT_BACKUP, 0));
  FT_OK(fo_group_set_ttl(b, 120));
  FT_OK(fo_group_set_mode(e, FO_MODE_ADDRESS));
  FT_OK(fo_group_delete(d));
  FT_OK(fo_stack_remove(gone));
  snprintf(name[1], sizeof name[1], "journal%s", tag);
  FT_OK(fo_stack_rename(blog, name[1]));
}
