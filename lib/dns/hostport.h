/*
 * hostport.h - "IP", "IP:PORT", "[IPv6]:PORT" server strings (pure).
 */
#ifndef FO_HOSTPORT_H
#define FO_HOSTPORT_H

#include <failover.h>

typedef struct fo__hostport {
  int family; /* AF_INET or AF_INET6 */
  unsigned char addr[16];
  uint16_t port;
} fo__hostport;

/* Parse `text`; port `default_port` when none is given. A bare IPv6
 * literal (with colons, no brackets) has no port. Returns 0 or FO_EBADADDR
 * (FO_EINVAL for NULL). */
int fo__hostport_parse(const char *text, uint16_t default_port,
                       fo__hostport *out);

#endif
