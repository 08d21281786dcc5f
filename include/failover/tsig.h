/*
 * failover/tsig.h - TSIG keys (RFC 8945) for signed dynamic updates and
 * zone transfers. No libuv here: a key can be made, loaded and inspected
 * by programs that run no loop (a command line checking a key file).
 */
#ifndef FAILOVER_TSIG_H
#define FAILOVER_TSIG_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fo_tsig_key fo_tsig_key;

/*
 * A key from its name, algorithm ("hmac-sha256" or "hmac-sha512") and
 * base64 secret. The secret is wiped when the key is freed and never
 * printed. Returns 0, FO_EINVAL, FO_EBADNAME, FO_ERANGE (secret length),
 * FO_EBADKEY (algorithm or base64), FO_ENOMEM.
 */
FO_EXTERN int fo_tsig_key_new(fo_tsig_key **out, const char *name,
                              const char *algorithm,
                              const char *secret_base64);

/* A key from a BIND-style key file (`key "name" { algorithm ...; secret
 * "..."; };`, as written by tsig-keygen or keymgr -t): the key `name`, or
 * the first one when `name` is NULL. Returns the codes above, FO_ENOENT (no
 * such key or file), FO_EMALFORMED (unreadable file), FO_EIO. */
FO_EXTERN int fo_tsig_key_load(fo_tsig_key **out, const char *path,
                               const char *name);

/* Wipe and free. NULL is a no-op. */
FO_EXTERN void fo_tsig_key_free(fo_tsig_key *key);

/* The key's name (lowercase). Returns 0 or FO_EINVAL. */
FO_EXTERN int fo_tsig_key_name(const fo_tsig_key *key, const char **out);

#ifdef __cplusplus
}
#endif

#endif /* FAILOVER_TSIG_H */
