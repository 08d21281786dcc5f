/*
 * fuzz_store_log.c - libFuzzer target for the store's log entry decoder
 * (fo__log_decode): the bytes come from a file other processes write, so
 * they are not trusted.
 *
 * Beyond "no crash, no leak": whatever decodes must encode again and
 * decode to the same rows, and that encoding must be a fixed point
 * (encode(decode(e)) == e for every e the encoder produced).
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "store_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b) {
  return (a == NULL && b == NULL) ||
         (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static int same_row(const fo_store_row *a, const fo_store_row *b) {
  size_t i;
  if (a->kind != b->kind)
    return 0;
  switch (a->kind) {
  case FO_ROW_SETTINGS:
    return same_str(a->settings.zone, b->settings.zone) &&
           a->settings.default_ttl == b->settings.default_ttl &&
           same_str(a->settings.host_template, b->settings.host_template);
  case FO_ROW_COUNTERS:
    return memcmp(&a->counters, &b->counters, sizeof(a->counters)) == 0;
  case FO_ROW_STACK_REMOVED:
    return a->stack.id == b->stack.id;
  case FO_ROW_GROUP:
    return memcmp(&a->group, &b->group, sizeof(a->group)) == 0;
  case FO_ROW_STACK:
    if (a->stack.id != b->stack.id || !same_str(a->stack.name, b->stack.name) ||
        a->stack.server_count != b->stack.server_count)
      return 0;
    for (i = 0; i < a->stack.server_count; i++) {
      const fo_store_server_row *x = &a->stack.servers[i];
      const fo_store_server_row *y = &b->stack.servers[i];
      if (x->id != y->id || x->kind != y->kind || !same_str(x->name, y->name) ||
          !same_str(x->host_name, y->host_name) || !same_str(x->ipv4, y->ipv4) ||
          !same_str(x->ipv6, y->ipv6))
        return 0;
    }
    return 1;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fo_allocator a;
  fo__decoded d1, d2, d3;
  unsigned char *e1 = NULL, *e2 = NULL;
  size_t n1 = 0, n2 = 0, i;
  fo__alloc_default(&a);
  if (fo__log_decode(&a, data, size, &d1) != 0)
    return 0;
  if (fo__log_encode(&a, d1.rows, d1.count, &e1, &n1) != 0)
    abort();
  if (fo__log_decode(&a, e1, n1, &d2) != 0 || d2.count != d1.count)
    abort();
  for (i = 0; i < d1.count; i++)
    if (!same_row(&d1.rows[i], &d2.rows[i]))
      abort();
  if (fo__log_encode(&a, d2.rows, d2.count, &e2, &n2) != 0 || n2 != n1 ||
      memcmp(e1, e2, n1) != 0)
    abort();
  if (fo__log_decode(&a, e2, n2, &d3) != 0)
    abort();
  fo__decoded_free(&a, &d1);
  fo__decoded_free(&a, &d2);
  fo__decoded_free(&a, &d3);
  free(e1);
  free(e2);
  return 0;
}
