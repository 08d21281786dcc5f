/*
 * headertest.c - <failover.h> and nothing else, compiled as strict C11
 * (-std=c11 -Wall -Wextra -pedantic -Werror). Including no other header
 * makes sure failover.h brings everything its declarations use.
 */
#include <failover.h>

int main(void) {
  fo_registry_options opts = FO_REGISTRY_OPTIONS_INIT;
  const char *v = fo_version_string();
  if (v == NULL || v[0] == '\0' || fo_version() != FO_VERSION_HEX)
    return 1;
  return opts.version == FO_REGISTRY_OPTIONS_VERSION ? 0 : 1;
}
