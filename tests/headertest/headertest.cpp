// headertest.cpp - <failover.h> and nothing else, compiled as strict C++11
// (-std=c++11 -Wall -Wextra -pedantic -Werror): the header must be usable
// from C++, with C linkage for every function.
#include <failover.h>

int main() {
  fo_registry_options opts = FO_REGISTRY_OPTIONS_INIT;
  const char *v = fo_version_string();
  if (v == 0 || v[0] == '\0' || fo_version() != FO_VERSION_HEX)
    return 1;
  return opts.version == FO_REGISTRY_OPTIONS_VERSION ? 0 : 1;
}
