/*
 * failover/common.h - export macro and types shared by every public header.
 */
#ifndef FAILOVER_COMMON_H
#define FAILOVER_COMMON_H

#include <stddef.h>
#include <stdint.h>

/*
 * FO_EXTERN marks every public symbol. The library is built with hidden
 * visibility, so anything without it stays internal. Static users define
 * FO_STATIC (the CMake target failover::failover_static and the .pc file's
 * static flags do that for them).
 */
#if defined(_WIN32) && !defined(FO_STATIC)
#  if defined(FO_BUILDING_LIBRARY)
#    define FO_EXTERN __declspec(dllexport)
#  else
#    define FO_EXTERN __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define FO_EXTERN __attribute__((visibility("default")))
#else
#  define FO_EXTERN
#endif

/* Longest DNS name in presentation form without the trailing dot
 * (RFC 1035 2.3.4 gives 255 octets on the wire, i.e. 253 characters). */
#define FO_NAME_MAX 253
/* A buffer that holds any name with its trailing dot and NUL. */
#define FO_NAME_BUFSIZE 256
/* Longest label (RFC 1035 2.3.4). Stack and server names are single labels. */
#define FO_LABEL_MAX 63

/* Longest IPv6 literal plus NUL (INET6_ADDRSTRLEN without <netinet/in.h>). */
#define FO_IP_BUFSIZE 46

/* Flag for fo_group_detach() and fo_group_switch(): override the checks the
 * transition table lets an operator override on purpose. */
#define FO_FORCE 1u

/* Every asynchronous close (verifier, publisher) calls this once, from the
 * loop, after the engine released everything it held. */
typedef void (*fo_closed_fn)(void *userdata);

#endif /* FAILOVER_COMMON_H */
