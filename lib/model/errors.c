/*
 * errors.c - fo_strerror() and fo_err_name(), generated from FO_ERRNO_MAP.
 */
#include <failover.h>

const char *fo_strerror(int err) {
  switch (err) {
  case 0:
    return "success";
#define FO__ERRNO_MSG(name, num, msg)                                          \
  case num:                                                                    \
    return msg;
    FO_ERRNO_MAP(FO__ERRNO_MSG)
#undef FO__ERRNO_MSG
  default:
    return "unknown error";
  }
}

const char *fo_err_name(int err) {
  switch (err) {
  case 0:
    return "FO_OK";
#define FO__ERRNO_NAME(name, num, msg)                                         \
  case num:                                                                    \
    return "FO_" #name;
    FO_ERRNO_MAP(FO__ERRNO_NAME)
#undef FO__ERRNO_NAME
  default:
    return "FO_EUNKNOWN";
  }
}
