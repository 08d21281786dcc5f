/*
 * store_internal.h - the store object, change sets and the log codec,
 * shared by durable.c, store.c and the backends.
 */
#ifndef FO_STORE_INTERNAL_H
#define FO_STORE_INTERNAL_H

#include <failover.h>
#include <failover/store.h>

struct fo_store {
  fo_store_backend be;
  void *self;
};

/* The rows of one commit and its encoded log entry. */
struct fo_store_changes {
  fo_store_row *rows;
  size_t count;
  fo_store_server_row *servers; /* storage the stack rows point into */
  unsigned char *log;
  size_t log_len;
};

/* A decoded log entry: rows whose strings point into `arena`. */
typedef struct fo__decoded {
  fo_store_row *rows;
  size_t count;
  fo_store_server_row *servers;
  char *arena;
} fo__decoded;

/* The lease's rule for holders: 1..63 printable characters, no space. */
int fo__store_holder_valid(const char *holder);

/* Encode `rows` as one log entry. Returns 0 or FO_ENOMEM. */
int fo__log_encode(const fo_allocator *a, const fo_store_row *rows,
                   size_t count, unsigned char **out, size_t *len);

/* Decode a log entry. Returns 0, FO_ECORRUPT (malformed), FO_ENOMEM. */
int fo__log_decode(const fo_allocator *a, const void *bytes, size_t len,
                   fo__decoded *out);
void fo__decoded_free(const fo_allocator *a, fo__decoded *d);

#endif
