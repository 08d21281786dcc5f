/*
 * engine_support.h - helpers shared by the engine tests that need no DNS
 * server (test_verify_close, test_publish_api, test_switch): a fencing
 * allocator, event loop helpers, and engines aimed at fake peers, unused
 * ports or a broadcast address.
 *
 * In a plain build the engines' memory comes from a "fence" allocator:
 * every block has pages of its own, and a freed block's pages are made
 * inaccessible and kept for a while. A use after free then crashes the test
 * at once instead of reading stale bytes that happen to look right. The
 * fence counts its live blocks and every test asserts none is left. Under
 * AddressSanitizer or Valgrind the engines use malloc instead, so that those
 * tools see (and check) their memory in full.
 */
#ifndef FT_ENGINE_SUPPORT_H
#define FT_ENGINE_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include <failover/publish.h>
#include <failover/verify.h>

/* ---- fence allocator -------------------------------------------------------- */

/* The allocator for this test's registries and engines; NULL (malloc)
 * when the fence is off. */
const fo_allocator *fence_init(void);
/* Every engine and registry freed: nothing may be left, nothing freed
 * wrongly. Unmaps the quarantine. */
void fence_done(void);

/* ---- loop helpers ---------------------------------------------------------------- */

typedef struct watchdog {
  uv_timer_t t;
  int fired;
} watchdog;

/* Timer callback: sets the watchdog's `fired` (t->data is the watchdog). */
void watchdog_cb(uv_timer_t *t);
/* Start a one-shot watchdog of `ms` milliseconds on `loop`. */
void watchdog_start(uv_loop_t *loop, watchdog *w, uint64_t ms);
/* A 10 ms repeating timer: a loop run UV_RUN_ONCE whose last awaited
 * callback came from a timer would otherwise block in the same iteration's
 * poll until the next timer (the watchdog). run_until() uses it. */
void tick_start(uv_loop_t *loop, uv_timer_t *tick);
void tick_stop(uv_loop_t *loop, uv_timer_t *tick);

/* Run the loop until *flag >= want or the watchdog fires. */
void run_until(uv_loop_t *loop, watchdog *w, const int *flag, int want);
/* Close the watchdog (NULL: none), run the loop dry, close it. */
void loop_done(uv_loop_t *loop, watchdog *w);
/* A close callback: increments the int at `userdata`. */
void count_cb(void *userdata);
/* "127.0.0.1:<port>" of a port nobody listens on, into buf. */
void dead_server(char *buf, size_t size);

/* ---- engines --------------------------------------------------------------------- */

/* A verifier asking `server` only; asserts success. */
fo_verifier *verifier(uv_loop_t *loop, const char *server,
                      const fo_allocator *alloc);
/* A registry with FT_ZONE; asserts success. */
fo_registry *registry(const fo_allocator *alloc);
/* A TSIG key (hmac-sha256); asserts success. */
fo_tsig_key *key(void);
/* A publisher sending to `server`, signed with `k`; asserts success. */
fo_publisher *publisher(uv_loop_t *loop, fo_registry *reg,
                        const char *server, const fo_tsig_key *k,
                        const fo_allocator *alloc);

#endif /* FT_ENGINE_SUPPORT_H */
