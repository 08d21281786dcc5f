/*
 * engine_support.c - see engine_support.h.
 */
#define _GNU_SOURCE /* <uv.h> needs POSIX types under -std=c11; mmap */
#include "engine_support.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dns_fixture.h"
#include "support.h"

/* ---- fence allocator -------------------------------------------------------- */

#define FENCE_MAGIC 0x46454e43u
#define FENCE_QUARANTINE 4096 /* freed mappings kept inaccessible */

typedef union fence_hdr {
  struct {
    void *base;     /* the mapping */
    size_t map_len; /* its length, guard page included */
    size_t size;    /* bytes asked for */
    unsigned magic;
  } h;
  max_align_t align;
} fence_hdr;

typedef struct fence {
  size_t page;
  size_t live;   /* blocks handed out and not freed */
  size_t allocs; /* blocks handed out */
  size_t bad;    /* frees of blocks not ours, or freed twice */
  struct {
    void *base;
    size_t len;
  } dead[FENCE_QUARANTINE];
  size_t ndead, next; /* ring: the oldest is unmapped when full */
  fo_allocator hooks;
} fence;

static fence g_fence;

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

/* The block ends where a PROT_NONE guard page starts. */
static void *fence_malloc(size_t size, void *ud) {
  fence *f = ud;
  size_t body = round_up(size ? size : 1, alignof(max_align_t));
  size_t data = round_up(body + sizeof(fence_hdr), f->page);
  size_t len = data + f->page;
  unsigned char *base =
      mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
           0);
  if (base == MAP_FAILED)
    return NULL;
  if (mprotect(base + data, f->page, PROT_NONE) != 0) {
    munmap(base, len);
    return NULL;
  }
  unsigned char *block = base + data - body;
  fence_hdr *h = (fence_hdr *)block - 1;
  h->h.base = base;
  h->h.map_len = len;
  h->h.size = size;
  h->h.magic = FENCE_MAGIC;
  f->live++;
  f->allocs++;
  return block;
}

static void fence_free(void *ptr, void *ud) {
  fence *f = ud;
  if (ptr == NULL)
    return;
  fence_hdr *h = (fence_hdr *)ptr - 1;
  if (h->h.magic != FENCE_MAGIC) {
    f->bad++;
    return;
  }
  h->h.magic = 0;
  f->live--;
  void *base = h->h.base;
  size_t len = h->h.map_len;
  if (f->ndead == FENCE_QUARANTINE) { /* let the oldest go */
    munmap(f->dead[f->next].base, f->dead[f->next].len);
    f->ndead--;
  }
  mprotect(base, len, PROT_NONE);
  f->dead[f->next].base = base;
  f->dead[f->next].len = len;
  f->next = (f->next + 1) % FENCE_QUARANTINE;
  f->ndead++;
}

static void *fence_realloc(void *ptr, size_t size, void *ud) {
  fence *f = ud;
  if (ptr == NULL)
    return fence_malloc(size, ud);
  fence_hdr *h = (fence_hdr *)ptr - 1;
  if (h->h.magic != FENCE_MAGIC) {
    f->bad++;
    return NULL;
  }
  void *n = fence_malloc(size, ud);
  if (n == NULL)
    return NULL; /* the old block stays */
  memcpy(n, ptr, h->h.size < size ? h->h.size : size);
  fence_free(ptr, ud);
  return n;
}

#if defined(__SANITIZE_ADDRESS__)
#define FT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FT_ASAN 1
#endif
#endif

/* Not under ASan or Valgrind (its preload library is in LD_PRELOAD). */
static int fence_wanted(void) {
#ifdef FT_ASAN
  return 0;
#else
  const char *pre = getenv("LD_PRELOAD");
  return pre == NULL || strstr(pre, "vgpreload") == NULL;
#endif
}

/* The allocator for this test's registries and engines; NULL (malloc)
 * when the fence is off. */
const fo_allocator *fence_init(void) {
  fence *f = &g_fence;
  memset(f, 0, sizeof *f);
  if (!fence_wanted())
    return NULL;
  f->page = (size_t)sysconf(_SC_PAGESIZE);
  f->hooks.malloc = fence_malloc;
  f->hooks.realloc = fence_realloc;
  f->hooks.free = fence_free;
  f->hooks.userdata = f;
  return &f->hooks;
}

/* Every engine and registry freed: nothing may be left, nothing freed
 * wrongly. Unmaps the quarantine. */
void fence_done(void) {
  fence *f = &g_fence;
  size_t k, i = (f->next + FENCE_QUARANTINE - f->ndead) % FENCE_QUARANTINE;
  for (k = 0; k < f->ndead; k++, i = (i + 1) % FENCE_QUARANTINE)
    munmap(f->dead[i].base, f->dead[i].len);
  f->ndead = 0;
  cr_assert_eq(f->bad, 0, "%zu bad frees", f->bad);
  cr_assert_eq(f->live, 0, "%zu of %zu blocks leaked", f->live, f->allocs);
}

/* ---- loop helpers ---------------------------------------------------------------- */

void watchdog_cb(uv_timer_t *t) { ((watchdog *)t->data)->fired = 1; }

void watchdog_start(uv_loop_t *loop, watchdog *w, uint64_t ms) {
  w->fired = 0;
  cr_assert_eq(uv_timer_init(loop, &w->t), 0);
  w->t.data = w;
  cr_assert_eq(uv_timer_start(&w->t, watchdog_cb, ms, 0), 0);
}

/* Run the loop until *flag >= want or the watchdog fires. */
static void tick_cb(uv_timer_t *t) { (void)t; }

void tick_start(uv_loop_t *loop, uv_timer_t *tick) {
  cr_assert_eq(uv_timer_init(loop, tick), 0);
  cr_assert_eq(uv_timer_start(tick, tick_cb, 10, 10), 0);
}

void tick_stop(uv_loop_t *loop, uv_timer_t *tick) {
  uv_close((uv_handle_t *)tick, NULL);
  uv_run(loop, UV_RUN_NOWAIT); /* the close completes: `tick` may go */
}

void run_until(uv_loop_t *loop, watchdog *w, const int *flag, int want) {
  uv_timer_t tick;
  tick_start(loop, &tick);
  while (*flag < want && !w->fired)
    uv_run(loop, UV_RUN_ONCE);
  tick_stop(loop, &tick);
}

static void walk_cb(uv_handle_t *h, void *arg) {
  (void)arg;
  cr_log_error("handle left open: %s (active %d, closing %d)",
               uv_handle_type_name(uv_handle_get_type(h)), uv_is_active(h),
               uv_is_closing(h));
}

/* Close the watchdog (NULL: none), run the loop dry, close it. */
void loop_done(uv_loop_t *loop, watchdog *w) {
  if (w != NULL)
    uv_close((uv_handle_t *)&w->t, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(loop);
  if (rc != 0)
    uv_walk(loop, walk_cb, NULL);
  cr_assert_eq(rc, 0, "uv_loop_close: %s", uv_err_name(rc));
}

void count_cb(void *userdata) { (*(int *)userdata)++; }

void dead_server(char *buf, size_t size) {
  int port = ft_dns_unused_port();
  cr_assert_gt(port, 0, "no unused port");
  snprintf(buf, size, "127.0.0.1:%d", port);
}

fo_verifier *verifier(uv_loop_t *loop, const char *server,
                      const fo_allocator *alloc) {
  const char *servers[] = {server};
  fo_verifier_options o;
  FT_OK(fo_verifier_options_init(&o, FO_VERIFIER_OPTIONS_VERSION));
  o.servers = servers;
  o.server_count = 1;
  o.allocator = alloc;
  fo_verifier *v = NULL;
  FT_OK(fo_verifier_new(&v, loop, &o));
  return v;
}

fo_registry *registry(const fo_allocator *alloc) {
  fo_registry_options o = FO_REGISTRY_OPTIONS_INIT;
  o.zone = FT_ZONE;
  o.allocator = alloc;
  fo_registry *reg = NULL;
  FT_OK(fo_registry_new(&reg, &o));
  return reg;
}

fo_tsig_key *key(void) {
  fo_tsig_key *k = NULL;
  FT_OK(fo_tsig_key_new(&k, "ft-key", "hmac-sha256",
                        "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"));
  return k;
}

fo_publisher *publisher(uv_loop_t *loop, fo_registry *reg,
                        const char *server, const fo_tsig_key *k,
                        const fo_allocator *alloc) {
  fo_publisher_options o;
  FT_OK(fo_publisher_options_init(&o, FO_PUBLISHER_OPTIONS_VERSION));
  o.server = server;
  o.key = k;
  o.allocator = alloc;
  fo_publisher *pub = NULL;
  FT_OK(fo_publisher_new(&pub, loop, reg, &o));
  return pub;
}
