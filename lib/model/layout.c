/*
 * layout.c - reading and writing structs of any known version.
 */
#include "layout.h"

#include <string.h>

size_t fo__layout_size(const fo__layout *layout, const void *p) {
  unsigned int version;
  if (p == NULL)
    return 0;
  memcpy(&version, p, sizeof(version));
  if (version == 0 || version > layout->count)
    return 0;
  return layout->sizes[version - 1];
}

int fo__layout_init(const fo__layout *layout, void *p, unsigned int version) {
  if (p == NULL)
    return FO_EINVAL;
  if (version == 0 || version > layout->count)
    return FO_EVERSION;
  memset(p, 0, layout->sizes[version - 1]);
  memcpy(p, &version, sizeof(version));
  return 0;
}

int fo__layout_fill(const fo__layout *layout, void *out, const void *full) {
  size_t size;
  if (out == NULL)
    return FO_EINVAL;
  size = fo__layout_size(layout, out);
  if (size == 0)
    return FO_EVERSION;
  memcpy((char *)out + sizeof(unsigned int),
         (const char *)full + sizeof(unsigned int),
         size - sizeof(unsigned int));
  return 0;
}

int fo__layout_read(const fo__layout *layout, void *full, size_t full_size,
                    const void *in) {
  size_t size;
  if (in == NULL)
    return FO_EINVAL;
  size = fo__layout_size(layout, in);
  if (size == 0)
    return FO_EVERSION;
  memset(full, 0, full_size);
  memcpy(full, in, size);
  return 0;
}
