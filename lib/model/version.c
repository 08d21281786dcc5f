/*
 * version.c - the version the library was built with.
 */
#include <failover.h>

#define FO__STR2(x) #x
#define FO__STR(x) FO__STR2(x)

unsigned int fo_version(void) { return FO_VERSION_HEX; }

const char *fo_version_string(void) {
  return FO__STR(FO_VERSION_MAJOR) "." FO__STR(FO_VERSION_MINOR) "." FO__STR(
      FO_VERSION_PATCH) FO_VERSION_SUFFIX;
}
