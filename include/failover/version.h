/*
 * failover/version.h - compile-time and run-time version of libfailover.
 *
 * The shared library's SONAME major is FO_VERSION_MAJOR: the build reads it
 * from this file, so there is exactly one place that decides ABI breaks.
 */
#ifndef FAILOVER_VERSION_H
#define FAILOVER_VERSION_H

#include "common.h"

#define FO_VERSION_MAJOR 0
#define FO_VERSION_MINOR 2
#define FO_VERSION_PATCH 0

/* Suffix such as "-dev"; empty for releases. */
#define FO_VERSION_SUFFIX ""

/* 0xMMmmpp: comparable with < and >. */
#define FO_VERSION_HEX                                                        \
  ((FO_VERSION_MAJOR << 16) | (FO_VERSION_MINOR << 8) | (FO_VERSION_PATCH))

#ifdef __cplusplus
extern "C" {
#endif

/* The FO_VERSION_HEX value the running library was built with. Compare it
 * with the header's FO_VERSION_HEX to detect a header/library mismatch. */
FO_EXTERN unsigned int fo_version(void);

/* "MAJOR.MINOR.PATCH[SUFFIX]" of the running library; static storage. */
FO_EXTERN const char *fo_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_VERSION_H */
