/*
 * failover/errors.h - error codes.
 *
 * Every function that can fail returns 0 on success or one of the negative
 * FO_E* codes below. The numbers are part of the ABI: they never change and
 * are never reused once released; new codes are appended.
 */
#ifndef FAILOVER_ERRORS_H
#define FAILOVER_ERRORS_H

#include "common.h"

/* XX(name, number, message): the one table from which the enum,
 * fo_strerror() and fo_err_name() are generated. */
#define FO_ERRNO_MAP(XX)                                                       \
  XX(EINVAL, -1, "invalid argument")                                           \
  XX(ENOMEM, -2, "out of memory")                                              \
  XX(EBADNAME, -3, "malformed DNS name or label")                              \
  XX(ENAMETOOLONG, -4, "DNS name or label too long")                           \
  XX(ERANGE, -5, "value out of range")                                         \
  XX(EBADADDR, -6, "malformed IP address")                                     \
  XX(EEXIST, -7, "name already in use")                                        \
  XX(ENOENT, -8, "no such object")                                             \
  XX(EDELETED, -9, "object was deleted or removed")                            \
  XX(EFOREIGN, -10, "object belongs to another registry")                      \
  XX(ESAMESTACK, -11, "stack already in the other slot")                       \
  XX(ESLOTFULL, -12, "slot already holds a stack")                             \
  XX(ESLOTEMPTY, -13, "slot holds no stack")                                   \
  XX(EACTIVE, -14, "slot is active: switch first")                             \
  XX(ENOWEBHEAD, -15, "stack has no web head")                                 \
  XX(EALREADY, -16, "slot is already active")                                  \
  XX(ESWITCHING, -17, "a switch is in flight")                                 \
  XX(ENOTSWITCHING, -18, "no switch in flight")                                \
  XX(EATTACHED, -19, "group still has a stack attached")                       \
  XX(EINUSE, -20, "stack is attached to a group")                              \
  XX(EEXHAUSTED, -21, "address space exhausted")                               \
  XX(ERANDOM, -22, "random source failed")                                     \
  XX(ENOSPC, -23, "buffer too small")                                          \
  XX(EBUSY, -24, "registry is busy delivering change events")                  \
  XX(EVERSION, -25, "unsupported options version")                             \
  XX(EBADTEMPLATE, -26, "malformed host-name template")                       \
  XX(EMALFORMED, -27, "malformed DNS message")                                 \
  XX(ECANCELED, -28, "request cancelled")                                      \
  XX(ETIMEDOUT, -29, "deadline passed")                                        \
  XX(EIO, -30, "DNS transport or event loop failure")                         \
  XX(ECLOSING, -31, "engine is closing")                                       \
  XX(EBADKEY, -32, "TSIG key unknown to the peer (BADKEY)")                    \
  XX(EBADSIG, -33, "TSIG signature does not verify (BADSIG)")                  \
  XX(EBADTIME, -34, "TSIG time outside the fudge window (BADTIME)")            \
  XX(ENOTAUTH, -35, "server not authoritative or update not allowed")          \
  XX(EREFUSED, -36, "server refused the request")                              \
  XX(ESERVFAIL, -37, "server failure")                                         \
  XX(EUNSIGNED, -38, "reply not signed with the request's key")            \
  XX(ESTALE, -39, "store has changes this registry has not seen: refresh")   \
  XX(EPOISONED, -40, "a store commit failed: reopen the registry")           \
  XX(EREADONLY, -41, "store is open read-only")                              \
  XX(ENOTDB, -42, "file is not an SQLite database")                          \
  XX(ENOTOURS, -43, "database is not a libfailover store")                   \
  XX(ESCHEMA, -44, "store schema is newer than this library")                \
  XX(EZONE, -45, "store belongs to another zone")                            \
  XX(ECORRUPT, -46, "store content is damaged or inconsistent")              \
  XX(ESTOREIO, -47, "store I/O error")                                       \
  XX(ELOCKED, -48, "held by another process")                                \
  XX(ECOMPACTED, -49, "store log no longer reaches this revision: reopen")   \
  XX(ENOSTORE, -50, "store is empty and was not opened for creation")      \
  XX(ENOTIMP, -51, "server does not implement the request (NOTIMP)")        \
  XX(EFORMERR, -52, "server could not read the request (FORMERR)")          \
  XX(EPREREQ, -53, "update prerequisite not met (YXDOMAIN, YXRRSET, NXRRSET)") \
  XX(ENOTZONE, -54, "name outside the server's zone (NOTZONE)")            \
  XX(ERCODE, -55, "server answered with an RCODE this library does not know") \
  XX(ENOTSUP, -56, "the store's backend does not support this")            \
  XX(EFENCED, -57, "a newer leader holds the zone's fence: this one stopped")

typedef enum fo_errno {
#define FO__ERRNO_ENUM(name, num, msg) FO_##name = (num),
  FO_ERRNO_MAP(FO__ERRNO_ENUM)
#undef FO__ERRNO_ENUM
  FO_OK = 0
} fo_errno;

#ifdef __cplusplus
extern "C" {
#endif

/* A human-readable message for a return code: "success" for 0, a fixed
 * "unknown error" for anything not in the table. Static storage. */
FO_EXTERN const char *fo_strerror(int err);

/* The symbolic name ("FO_EINVAL") for a return code, "FO_OK" for 0, or
 * "FO_EUNKNOWN" for anything not in the table. Static storage. */
FO_EXTERN const char *fo_err_name(int err);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_ERRORS_H */
