/*
 * layout.h - structs that grow by version.
 *
 * Every struct a caller allocates and the library reads or fills starts
 * with `unsigned int version`. A version's layout is the prefix of the
 * current struct that ends with that version's last field; the library
 * keeps those sizes so that an older caller's smaller struct is never
 * read or written past its end, whatever the current sizeof is.
 */
#ifndef FO_LAYOUT_H
#define FO_LAYOUT_H

#include <failover.h>

#include <stddef.h>

/* The size of a version whose last field is `field` (trailing padding of
 * the current struct excluded: a later version may use it). */
#define FO__SIZE_THROUGH(type, field)                                          \
  (offsetof(type, field) + sizeof(((type *)0)->field))

/* Sizes of versions 1..count: sizes[v - 1]. */
typedef struct fo__layout {
  const size_t *sizes;
  unsigned int count;
} fo__layout;

#define FO__LAYOUT(array) { (array), sizeof(array) / sizeof((array)[0]) }

/* The size of the caller's struct at `p` (its leading version), or 0 when
 * `p` is NULL or the version is unknown. */
size_t fo__layout_size(const fo__layout *layout, const void *p);

/* Zero the layout of `version` at `p` and set its version field: the body
 * of every _init(). Returns 0, FO_EINVAL (NULL), FO_EVERSION. */
int fo__layout_init(const fo__layout *layout, void *p, unsigned int version);

/* Copy the library's filled current-version struct `full` into the
 * caller's `out`, as much of it as the caller's version holds, keeping
 * the caller's version field. Returns 0, FO_EINVAL, FO_EVERSION; on
 * failure `out` is not written. */
int fo__layout_fill(const fo__layout *layout, void *out, const void *full);

/* Read the caller's struct `in` of any known version into `full` (the
 * current version): the fields a smaller version lacks read as zero, and
 * `full->version` keeps the caller's version. Returns 0, FO_EINVAL,
 * FO_EVERSION. */
int fo__layout_read(const fo__layout *layout, void *full, size_t full_size,
                    const void *in);

#endif
