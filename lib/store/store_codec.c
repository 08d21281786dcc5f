/*
 * store_codec.c - the log entry format: the rows of one commit as bytes.
 *
 * entry  := 'F' 0x01 row*
 * row    := kind:u8 fields
 * fields := SETTINGS: str zone, uint ttl, str template
 *           COUNTERS: uint next_stack_id, uint next_server_id
 *           STACK: uint id, str name, uint n, n * server
 *           STACK_REMOVED: uint id
 *           GROUP: uint seq code primary backup active state ttl mode
 * server := uint id, uint kind, str name, ostr host, ostr ipv4, ostr ipv6
 * uint   := LEB128 (at most 5 bytes, fits 32 bits); str := uint len, bytes;
 * ostr   := uint 0 (NULL) or len + 1, bytes.
 * The decoder trusts nothing: every length is checked against the entry.
 */
#include "store_internal.h"

#include "alloc.h"

#include <string.h>

#define MAGIC0 'F'
#define MAGIC1 1

typedef struct writer {
  const fo_allocator *a;
  unsigned char *buf;
  size_t len, cap;
  int failed;
} writer;

static void put(writer *w, const void *p, size_t n) {
  if (w->failed)
    return;
  if (w->len + n > w->cap) {
    size_t cap = w->cap ? w->cap : 256;
    unsigned char *grown;
    while (cap < w->len + n)
      cap *= 2;
    grown = fo__realloc_array(w->a, w->buf, cap, 1);
    if (grown == NULL) {
      w->failed = 1;
      return;
    }
    w->buf = grown;
    w->cap = cap;
  }
  memcpy(w->buf + w->len, p, n);
  w->len += n;
}

static void put_uint(writer *w, uint32_t v) {
  unsigned char b[5];
  size_t n = 0;
  do {
    b[n] = (unsigned char)(v & 0x7fu);
    v >>= 7;
    if (v)
      b[n] |= 0x80u;
    n++;
  } while (v);
  put(w, b, n);
}

static void put_str(writer *w, const char *s) {
  size_t n = s ? strlen(s) : 0;
  put_uint(w, (uint32_t)n);
  put(w, s ? s : "", n);
}

static void put_ostr(writer *w, const char *s) {
  if (s == NULL) {
    put_uint(w, 0);
    return;
  }
  put_uint(w, (uint32_t)strlen(s) + 1);
  put(w, s, strlen(s));
}

static void put_row(writer *w, const fo_store_row *r) {
  unsigned char kind = (unsigned char)r->kind;
  size_t i;
  put(w, &kind, 1);
  switch (r->kind) {
  case FO_ROW_SETTINGS:
    put_str(w, r->settings.zone);
    put_uint(w, r->settings.default_ttl);
    put_str(w, r->settings.host_template);
    break;
  case FO_ROW_COUNTERS:
    put_uint(w, r->counters.next_stack_id);
    put_uint(w, r->counters.next_server_id);
    break;
  case FO_ROW_STACK:
    put_uint(w, r->stack.id);
    put_str(w, r->stack.name);
    put_uint(w, (uint32_t)r->stack.server_count);
    for (i = 0; i < r->stack.server_count; i++) {
      const fo_store_server_row *s = &r->stack.servers[i];
      put_uint(w, s->id);
      put_uint(w, (uint32_t)s->kind);
      put_str(w, s->name);
      put_ostr(w, s->host_name);
      put_ostr(w, s->ipv4);
      put_ostr(w, s->ipv6);
    }
    break;
  case FO_ROW_STACK_REMOVED:
    put_uint(w, r->stack.id);
    break;
  case FO_ROW_GROUP:
    put_uint(w, r->group.seq);
    put_uint(w, r->group.code);
    put_uint(w, r->group.primary_stack);
    put_uint(w, r->group.backup_stack);
    put_uint(w, r->group.active_slot);
    put_uint(w, r->group.state);
    put_uint(w, r->group.ttl);
    put_uint(w, r->group.mode);
    break;
  }
}

int fo__log_encode(const fo_allocator *a, const fo_store_row *rows,
                   size_t count, unsigned char **out, size_t *len) {
  writer w = {a, NULL, 0, 0, 0};
  unsigned char magic[2] = {MAGIC0, MAGIC1};
  size_t i;
  put(&w, magic, 2);
  for (i = 0; i < count; i++)
    put_row(&w, &rows[i]);
  if (w.failed) {
    fo__free(a, w.buf);
    return FO_ENOMEM;
  }
  *out = w.buf;
  *len = w.len;
  return 0;
}

/* ---- decoding ------------------------------------------------------------ */

typedef struct reader {
  const unsigned char *p, *end;
  char *arena; /* NUL-terminated copies of strings */
  int bad;
} reader;

static uint32_t get_uint(reader *r) {
  uint32_t v = 0;
  int shift;
  for (shift = 0; shift < 35; shift += 7) {
    unsigned char b;
    if (r->p >= r->end) {
      r->bad = 1;
      return 0;
    }
    b = *r->p++;
    if (shift == 28 && (b & 0x70u)) {
      r->bad = 1; /* more than 32 bits */
      return 0;
    }
    v |= (uint32_t)(b & 0x7fu) << shift;
    if (!(b & 0x80u))
      return v;
  }
  r->bad = 1;
  return 0;
}

static const char *get_bytes(reader *r, uint32_t n) {
  char *s;
  if (r->bad || (size_t)(r->end - r->p) < n) {
    r->bad = 1;
    return NULL;
  }
  if (memchr(r->p, '\0', n) != NULL) {
    r->bad = 1; /* an embedded NUL would change the string's meaning */
    return NULL;
  }
  s = r->arena;
  memcpy(s, r->p, n);
  s[n] = '\0';
  r->arena += n + 1;
  r->p += n;
  return s;
}

static const char *get_str(reader *r) { return get_bytes(r, get_uint(r)); }

static const char *get_ostr(reader *r) {
  uint32_t n = get_uint(r);
  return n == 0 ? NULL : get_bytes(r, n - 1);
}

void fo__decoded_free(const fo_allocator *a, fo__decoded *d) {
  fo__free(a, d->rows);
  fo__free(a, d->servers);
  fo__free(a, d->arena);
  memset(d, 0, sizeof(*d));
}

int fo__log_decode(const fo_allocator *a, const void *bytes, size_t len,
                   fo__decoded *out) {
  reader r;
  size_t max_rows, nserv = 0;
  memset(out, 0, sizeof(*out));
  if (bytes == NULL || len < 2 || ((const unsigned char *)bytes)[0] != MAGIC0 ||
      ((const unsigned char *)bytes)[1] != MAGIC1)
    return FO_ECORRUPT;
  /* Every row takes at least two bytes, every server at least six, and
   * every string at least its length byte: these bound the storage. */
  max_rows = len / 2 + 1;
  out->rows = fo__calloc(a, max_rows, sizeof(*out->rows));
  out->servers = fo__calloc(a, len / 6 + 1, sizeof(*out->servers));
  out->arena = fo__malloc(a, len * 2 + 1);
  if (out->rows == NULL || out->servers == NULL || out->arena == NULL) {
    fo__decoded_free(a, out);
    return FO_ENOMEM;
  }
  r.p = (const unsigned char *)bytes + 2;
  r.end = (const unsigned char *)bytes + len;
  r.arena = out->arena;
  r.bad = 0;
  while (r.p < r.end && !r.bad) {
    fo_store_row *row = &out->rows[out->count++];
    uint32_t i, n;
    row->kind = (fo_store_row_kind)*r.p++;
    switch (row->kind) {
    case FO_ROW_SETTINGS:
      row->settings.zone = get_str(&r);
      row->settings.default_ttl = get_uint(&r);
      row->settings.host_template = get_str(&r);
      break;
    case FO_ROW_COUNTERS:
      row->counters.next_stack_id = get_uint(&r);
      row->counters.next_server_id = get_uint(&r);
      break;
    case FO_ROW_STACK:
      row->stack.id = get_uint(&r);
      row->stack.name = get_str(&r);
      n = get_uint(&r);
      if (r.bad || n > (size_t)(r.end - r.p) / 6) {
        r.bad = 1;
        break;
      }
      row->stack.server_count = n;
      row->stack.servers = &out->servers[nserv];
      for (i = 0; i < n && !r.bad; i++) {
        fo_store_server_row *s = &out->servers[nserv++];
        s->id = get_uint(&r);
        s->kind = (fo_server_kind)get_uint(&r);
        s->name = get_str(&r);
        s->host_name = get_ostr(&r);
        s->ipv4 = get_ostr(&r);
        s->ipv6 = get_ostr(&r);
      }
      break;
    case FO_ROW_STACK_REMOVED:
      row->stack.id = get_uint(&r);
      break;
    case FO_ROW_GROUP:
      row->group.seq = get_uint(&r);
      row->group.code = get_uint(&r);
      row->group.primary_stack = get_uint(&r);
      row->group.backup_stack = get_uint(&r);
      row->group.active_slot = get_uint(&r);
      row->group.state = get_uint(&r);
      row->group.ttl = get_uint(&r);
      row->group.mode = get_uint(&r);
      break;
    default:
      r.bad = 1;
    }
  }
  if (r.bad) {
    fo__decoded_free(a, out);
    return FO_ECORRUPT;
  }
  return 0;
}
