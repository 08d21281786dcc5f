/*
 * verify_scenarios.h - the DNS verifier's integration scenarios, shared by
 * tests/test_verify_knot.c and tests/test_verify_bind.c, which differ only
 * in the server kind they pass to FT_VS_TESTS() and the hooks.
 *
 * Servers: started once per test executable, in the Criterion *runner*
 * process, from a ReportHook(PRE_ALL) (before any worker is spawned), and
 * stopped in ReportHook(POST_ALL) (which runs whether tests passed,
 * failed or crashed). Criterion 2.4 workers are fork+exec'ed, so the
 * servers' ports, zone, directory and TSIG key reach them through
 * environment variables (ft_dns_export / ft_dns_import, tags "P" for the
 * primary and "S" for its secondary). PR_SET_PDEATHSIG kills the servers if
 * the runner dies without running POST_ALL (a crash, a SIGKILL from ctest's
 * timeout).
 *
 * Every scenario runs its own uv_loop, checks that each callback fires
 * exactly once (and never from inside the call that started the check),
 * closes the verifier and asserts uv_loop_close() == 0.
 *
 * Compiled only into the test_verify_<server> executables (see
 * tests/CMakeLists.txt), not into every test.
 */
#ifndef FT_VERIFY_SCENARIOS_H
#define FT_VERIFY_SCENARIOS_H

#include <criterion/criterion.h>
#include <criterion/hooks.h>

#include "dns_fixture.h"

/* Start / stop the primary and its secondary (runner process). */
void ft_vs_servers_start(ft_dns_kind kind);
void ft_vs_servers_stop(void);

/* Every scenario; `kind` is the server the executable started. */
#define FT_VS_LIST(X)                                                          \
  X(match_cname)                                                               \
  X(match_out_of_zone_target)                                                  \
  X(mismatch)                                                                  \
  X(nxdomain)                                                                  \
  X(nodata)                                                                    \
  X(dangling)                                                                  \
  X(two_hop_chain)                                                             \
  X(mixed_case)                                                                \
  X(addresses)                                                                 \
  X(expect_none)                                                               \
  X(unreachable)                                                               \
  X(silent_timeout)                                                            \
  X(refused_zone_not_served)                                                   \
  X(malformed_replies)                                                         \
  X(dropped_replies)                                                           \
  X(rcodes)                                                                    \
  X(recursion_flag)                                                            \
  X(several_servers_order)                                                     \
  X(convergence)                                                               \
  X(deadline)                                                                  \
  X(primary_and_secondary)                                                     \
  X(ipv6)                                                                      \
  X(tcp)                                                                       \
  X(group)                                                                     \
  X(many_at_once)                                                              \
  X(cancel)                                                                    \
  X(close_with_pending)                                                        \
  X(close_refuses_new_checks)

#define FT_VS_DECLARE(name) void ft_vs_##name(ft_dns_kind kind);
FT_VS_LIST(FT_VS_DECLARE)
#undef FT_VS_DECLARE

#define FT_VS_TEST(name)                                                       \
  Test(FT_VS_SUITE, name, .timeout = 60) { ft_vs_##name(FT_VS_KIND); }

/*
 * In a test file (three lines: Criterion names hooks after __LINE__):
 *   #define FT_VS_SUITE verify_knot
 *   #define FT_VS_KIND FT_DNS_KNOT
 *   FT_VS_START_SERVERS_HOOK()
 *   FT_VS_STOP_SERVERS_HOOK()
 *   FT_VS_TESTS()
 */
#define FT_VS_START_SERVERS_HOOK()                                             \
  ReportHook(PRE_ALL)(struct criterion_test_set *ft_set_) {                    \
    (void)ft_set_;                                                             \
    ft_vs_servers_start(FT_VS_KIND);                                           \
  }
#define FT_VS_STOP_SERVERS_HOOK()                                              \
  ReportHook(POST_ALL)(struct criterion_global_stats *ft_stats_) {             \
    (void)ft_stats_;                                                           \
    ft_vs_servers_stop();                                                      \
  }
#define FT_VS_TESTS() FT_VS_LIST(FT_VS_TEST)

#endif
