/*
 * store_faults_util.h - small helpers shared by the store fault tests
 * (test_store_crash, test_store_faults): scratch directories, a text hash,
 * and how many rounds a test can afford where it runs.
 */
#ifndef FT_STORE_FAULTS_UTIL_H
#define FT_STORE_FAULTS_UTIL_H

#include <stdint.h>

/* A fresh directory "/tmp/<tag>-XXXXXX" (TMPDIR when set); asserts.
 * malloc'ed. */
char *ft_scratch_dir(const char *tag);
/* Remove every entry of `dir` (not recursive: the tests only make files),
 * the directory itself, and free the string. NULL is a no-op. */
void ft_scratch_remove(char *dir);
/* "<dir>/<name>" into a malloc'ed string. */
char *ft_scratch_path(const char *dir, const char *name);

/* FNV-1a over a NUL-terminated text. */
uint64_t ft_hash_text(const char *text);

/* 1 when this process runs under valgrind. Valgrind loads its tools into the
 * client with LD_PRELOAD ("vgpreload_*.so"); that is visible without
 * valgrind's headers, and it is inherited by Criterion's workers. */
int ft_under_valgrind(void);

/* The unsigned number in the environment variable `name`, or `dflt` when
 * it is unset or not a number. */
unsigned long ft_env_count(const char *name, unsigned long dflt);

/* Monotonic seconds. */
double ft_now(void);

/* One summary line on stderr, whatever Criterion's verbosity: counts of
 * kills and faults belong in every run's output, not only in --verbose. */
void ft_report(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
