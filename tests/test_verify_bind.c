/*
 * test_verify_bind.c - the DNS verifier against a real BIND (named) primary and
 * its secondary on loopback. The scenarios are in
 * tests/support/verify_scenarios.c, shared with test_verify_knot.c; this
 * file only chooses the server.
 */
#include "verify_scenarios.h"

#define FT_VS_SUITE verify_bind
#define FT_VS_KIND FT_DNS_BIND

FT_VS_START_SERVERS_HOOK()
FT_VS_STOP_SERVERS_HOOK()
FT_VS_TESTS()
