/*
 * test_publish_knot.c - the publisher (RFC 2136 + TSIG) and the switch
 * workflow against a real Knot DNS (knotd) primary and its secondary on
 * loopback. The scenarios are in tests/support/publish_scenarios.c, shared
 * with test_publish_bind.c; this file only chooses the server.
 */
#include "publish_scenarios.h"

#define FT_PS_SUITE publish_knot
#define FT_PS_KIND FT_DNS_KNOT

FT_PS_START_SERVERS_HOOK()
FT_PS_STOP_SERVERS_HOOK()
FT_PS_TESTS()
