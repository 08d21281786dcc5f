/*
 * publish_scenarios.h - the publisher's and the switch workflow's
 * integration scenarios against real servers, shared by
 * tests/test_publish_knot.c and tests/test_publish_bind.c, which differ only
 * in the server kind and the suite name.
 *
 * Servers: as in verify_scenarios.h, a primary and its secondary are started
 * once per test executable in the Criterion runner (ReportHook PRE_ALL),
 * passed to the workers through the environment (tags "PP" and "PS") and
 * stopped in ReportHook(POST_ALL). The one scenario that stops and restarts
 * a server (server_restart) starts its own primary inside the worker.
 *
 * Tests run in parallel workers against the same zone; each scenario has its
 * own registry whose addresses are drawn from the kernel CSPRNG, so the
 * names one test publishes are never another test's.
 *
 * Every scenario runs its own uv loop, closes the publisher and the verifier
 * and asserts uv_loop_close() == 0 (and, under ASan, no leak).
 *
 * Compiled only into the test_publish_<server> executables.
 */
#ifndef FT_PUBLISH_SCENARIOS_H
#define FT_PUBLISH_SCENARIOS_H

#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include "dns_fixture.h"

void ft_ps_servers_start(ft_dns_kind kind);
void ft_ps_servers_stop(void);

#define FT_PS_LIST(X)                                                          \
  X(create_change_delete)                                                      \
  X(key_file)                                                                  \
  X(batch_1000)                                                                \
  X(wrong_secret)                                                              \
  X(unknown_key)                                                               \
  X(server_restart)                                                            \
  X(secondary_switch)                                                          \
  X(reconcile)                                                                 \
  X(switch_stack_50)                                                           \
  X(second_switch_refused)                                                     \
  X(forced_second_switch)                                                      \
  X(close_with_work)

#define FT_PS_DECLARE(name) void ft_ps_##name(ft_dns_kind kind);
FT_PS_LIST(FT_PS_DECLARE)
#undef FT_PS_DECLARE

#define FT_PS_TEST(name)                                                       \
  Test(FT_PS_SUITE, name, .timeout = 90) { ft_ps_##name(FT_PS_KIND); }

/*
 * In a test file:
 *   #define FT_PS_SUITE publish_knot
 *   #define FT_PS_KIND FT_DNS_KNOT
 *   FT_PS_START_SERVERS_HOOK()
 *   FT_PS_STOP_SERVERS_HOOK()
 *   FT_PS_TESTS()
 */
#define FT_PS_START_SERVERS_HOOK()                                             \
  ReportHook(PRE_ALL)(struct criterion_test_set *ft_set_) {                    \
    (void)ft_set_;                                                             \
    ft_ps_servers_start(FT_PS_KIND);                                           \
  }
#define FT_PS_STOP_SERVERS_HOOK()                                              \
  ReportHook(POST_ALL)(struct criterion_global_stats *ft_stats_) {             \
    (void)ft_stats_;                                                           \
    ft_ps_servers_stop();                                                      \
  }
#define FT_PS_TESTS() FT_PS_LIST(FT_PS_TEST)

#endif
