/*
 * hostport.c - server strings for the engines.
 */
#include "hostport.h"

#include <arpa/inet.h>
#include <string.h>

static int parse_port(const char *s, uint16_t *out) {
  unsigned long v = 0;
  if (*s == '\0')
    return FO_EBADADDR;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return FO_EBADADDR;
    v = v * 10u + (unsigned long)(*s - '0');
    if (v > 65535u)
      return FO_EBADADDR;
  }
  if (v == 0)
    return FO_EBADADDR;
  *out = (uint16_t)v;
  return 0;
}

int fo__hostport_parse(const char *text, uint16_t default_port,
                       fo__hostport *out) {
  char host[FO_IP_BUFSIZE];
  const char *colon, *port = NULL;
  int bracketed = text != NULL && text[0] == '[';
  size_t n;

  if (text == NULL || out == NULL)
    return FO_EINVAL;
  memset(out, 0, sizeof(*out));
  out->port = default_port;
  if (bracketed) {
    const char *close = strchr(text, ']');
    if (close == NULL)
      return FO_EBADADDR;
    n = (size_t)(close - text - 1);
    if (close[1] == ':')
      port = close + 2;
    else if (close[1] != '\0')
      return FO_EBADADDR;
    text++;
  } else if ((colon = strchr(text, ':')) != NULL &&
             strchr(colon + 1, ':') == NULL) {
    n = (size_t)(colon - text); /* one colon: IPv4 with a port */
    port = colon + 1;
  } else {
    n = strlen(text); /* no colon, or a bare IPv6 literal */
  }
  if (n == 0 || n >= sizeof(host))
    return FO_EBADADDR;
  memcpy(host, text, n);
  host[n] = '\0';
  if (port != NULL && parse_port(port, &out->port) != 0)
    return FO_EBADADDR;
  if (inet_pton(AF_INET, host, out->addr) == 1)
    out->family = AF_INET;
  else if (inet_pton(AF_INET6, host, out->addr) == 1)
    out->family = AF_INET6;
  else
    return FO_EBADADDR;
  /* "[1.2.3.4]" is not a form anyone writes; refuse it. */
  if (bracketed && out->family != AF_INET6)
    return FO_EBADADDR;
  return 0;
}
