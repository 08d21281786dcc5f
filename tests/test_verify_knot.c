/*
 * test_verify_knot.c - the DNS verifier against a real Knot DNS (knotd) primary and
 * its secondary on loopback. The scenarios are in
 * tests/support/verify_scenarios.c, shared with test_verify_bind.c; this
 * file only chooses the server.
 */
#include "verify_scenarios.h"

#define FT_VS_SUITE verify_knot
#define FT_VS_KIND FT_DNS_KNOT

FT_VS_START_SERVERS_HOOK()
FT_VS_STOP_SERVERS_HOOK()
FT_VS_TESTS()
