/*
 * test_errors.c - error codes, messages, names and the version.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "support.h"

typedef struct code_entry {
  int num;
  const char *enum_name; /* "FO_EINVAL" */
  const char *message;   /* the table's message */
  int enum_value;        /* the enum constant's value */
} code_entry;

#define XX(name, num, msg) {num, "FO_" #name, msg, FO_##name},
static const code_entry codes[] = {FO_ERRNO_MAP(XX)};
#undef XX
#define NCODES (sizeof codes / sizeof codes[0])

Test(errors, table_numbers_are_negative_distinct_and_match_enum) {
  /* Codes are appended: the table is -1, -2, ... with no gap. */
  for (size_t i = 0; i < NCODES; i++)
    cr_assert_eq(codes[i].num, -(int)i - 1, "%s is %d, expected %d", codes[i].enum_name,
                 codes[i].num, -(int)i - 1);
  for (size_t i = 0; i < NCODES; i++) {
    cr_assert_lt(codes[i].num, 0, "%s is not negative", codes[i].enum_name);
    cr_assert_eq(codes[i].num, codes[i].enum_value, "%s", codes[i].enum_name);
    for (size_t j = i + 1; j < NCODES; j++)
      cr_assert_neq(codes[i].num, codes[j].num, "%s and %s share a number",
                    codes[i].enum_name, codes[j].enum_name);
  }
  cr_assert_eq(FO_OK, 0);
  /* ABI: the documented numbers never change. */
  cr_assert_eq(FO_EINVAL, -1);
  cr_assert_eq(FO_ENOMEM, -2);
  cr_assert_eq(FO_EBUSY, -24);
  cr_assert_eq(FO_EBADTEMPLATE, -26);
}

Test(errors, strerror_matches_table_and_is_distinct) {
  for (size_t i = 0; i < NCODES; i++) {
    const char *m = fo_strerror(codes[i].num);
    cr_assert_not_null(m, "fo_strerror(%d)", codes[i].num);
    cr_assert_str_eq(m, codes[i].message, "fo_strerror(%s)", codes[i].enum_name);
    cr_assert_str_neq(m, "unknown error", "%s", codes[i].enum_name);
    cr_assert_str_neq(m, "success", "%s", codes[i].enum_name);
    for (size_t j = 0; j < i; j++)
      cr_assert_str_neq(m, fo_strerror(codes[j].num), "%s and %s share a message",
                        codes[i].enum_name, codes[j].enum_name);
  }
}

Test(errors, err_name_matches_enum_and_is_distinct) {
  for (size_t i = 0; i < NCODES; i++) {
    const char *n = fo_err_name(codes[i].num);
    cr_assert_not_null(n);
    cr_assert_str_eq(n, codes[i].enum_name, "fo_err_name(%d)", codes[i].num);
    for (size_t j = 0; j < i; j++)
      cr_assert_str_neq(n, fo_err_name(codes[j].num));
  }
}

Test(errors, success_code) {
  cr_assert_str_eq(fo_strerror(0), "success");
  cr_assert_str_eq(fo_err_name(0), "FO_OK");
}

Test(errors, unknown_codes) {
  const int unknown[] = {1, 2, 42, -(int)NCODES - 1, -100, -1000, 1000000, -2147483647 - 1,
                         2147483647};
  const char *first_msg = fo_strerror(unknown[0]);
  cr_assert_not_null(first_msg);
  cr_assert_str_eq(first_msg, "unknown error");
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *m = fo_strerror(unknown[i]);
    cr_assert_not_null(m, "fo_strerror(%d)", unknown[i]);
    cr_assert_str_eq(m, "unknown error", "fo_strerror(%d) = \"%s\"", unknown[i], m);
    const char *n = fo_err_name(unknown[i]);
    cr_assert_not_null(n, "fo_err_name(%d)", unknown[i]);
    cr_assert_str_eq(n, "FO_EUNKNOWN", "fo_err_name(%d) = \"%s\"", unknown[i], n);
  }
  /* The unknown message is none of the real ones. */
  for (size_t i = 0; i < NCODES; i++)
    cr_assert_str_neq(fo_strerror(codes[i].num), "unknown error");
}

Test(errors, static_storage_is_stable) {
  const char *a = fo_strerror(FO_EINVAL);
  const char *b = fo_strerror(FO_ENOMEM);
  cr_assert_str_eq(a, "invalid argument");
  cr_assert_str_eq(b, "out of memory");
  cr_assert_eq(a, fo_strerror(FO_EINVAL), "not the same static string on a second call");
}

Test(version, macros_match_runtime) {
  cr_assert_eq(fo_version(), (unsigned)FO_VERSION_HEX, "fo_version() = 0x%06x, header 0x%06x",
               fo_version(), (unsigned)FO_VERSION_HEX);
  cr_assert_eq((unsigned)FO_VERSION_HEX,
               ((unsigned)FO_VERSION_MAJOR << 16) | ((unsigned)FO_VERSION_MINOR << 8) |
                   (unsigned)FO_VERSION_PATCH);
  char expect[64];
  snprintf(expect, sizeof expect, "%d.%d.%d%s", FO_VERSION_MAJOR, FO_VERSION_MINOR,
           FO_VERSION_PATCH, FO_VERSION_SUFFIX);
  const char *s = fo_version_string();
  cr_assert_not_null(s);
  cr_assert_str_eq(s, expect);
  cr_assert_eq(s, fo_version_string(), "fo_version_string() is not static storage");
}

Test(version, hex_is_ordered) {
  /* 0xMMmmpp: a later minor compares greater than any patch. */
  cr_assert_lt(FO_VERSION_PATCH, 256);
  cr_assert_lt(FO_VERSION_MINOR, 256);
  cr_assert_eq((fo_version() >> 16) & 0xff, (unsigned)FO_VERSION_MAJOR);
  cr_assert_eq((fo_version() >> 8) & 0xff, (unsigned)FO_VERSION_MINOR);
  cr_assert_eq(fo_version() & 0xff, (unsigned)FO_VERSION_PATCH);
}

Test(feed_names, change_reason_names) {
  static const struct {
    fo_change_reason r;
  } all[] = {{FO_CHANGE_CREATE}, {FO_CHANGE_ATTACH},         {FO_CHANGE_DETACH},
             {FO_CHANGE_SWITCH}, {FO_CHANGE_DELETE},         {FO_CHANGE_SERVER_ADDED},
             {FO_CHANGE_SERVER_REMOVED}, {FO_CHANGE_SERVER_RENAMED},
             {FO_CHANGE_SERVER_UPDATED}, {FO_CHANGE_STACK_RENAMED},
             {FO_CHANGE_TTL},    {FO_CHANGE_MODE}};
  size_t n = sizeof all / sizeof all[0];
  cr_assert_str_eq(fo_change_reason_name(FO_CHANGE_SWITCH), "switch");
  for (size_t i = 0; i < n; i++) {
    const char *name = fo_change_reason_name(all[i].r);
    cr_assert_not_null(name);
    cr_assert_str_neq(name, "unknown", "reason %d has no name", (int)all[i].r);
    cr_assert_gt(strlen(name), 0);
    for (const char *c = name; *c; c++)
      cr_assert(!(*c >= 'A' && *c <= 'Z'), "reason name \"%s\" is not lowercase", name);
    for (size_t j = 0; j < i; j++)
      cr_assert_str_neq(name, fo_change_reason_name(all[j].r));
  }
  cr_assert_str_eq(fo_change_reason_name((fo_change_reason)0), "unknown");
  cr_assert_str_eq(fo_change_reason_name((fo_change_reason)13), "unknown");
  cr_assert_str_eq(fo_change_reason_name((fo_change_reason)-1), "unknown");
}
