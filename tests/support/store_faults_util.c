/*
 * store_faults_util.c - see store_faults_util.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "store_faults_util.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

char *ft_scratch_dir(const char *tag) {
  const char *tmp = getenv("TMPDIR");
  size_t n;
  char *dir;
  if (tmp == NULL || tmp[0] == '\0')
    tmp = "/tmp";
  n = strlen(tmp) + strlen(tag) + 16;
  dir = malloc(n);
  cr_assert_not_null(dir);
  snprintf(dir, n, "%s/%s-XXXXXX", tmp, tag);
  cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
  return dir;
}

char *ft_scratch_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  cr_assert_not_null(p);
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

void ft_scratch_remove(char *dir) {
  DIR *d;
  struct dirent *e;
  if (dir == NULL)
    return;
  d = opendir(dir);
  if (d != NULL) {
    while ((e = readdir(d)) != NULL) {
      char *p;
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      p = ft_scratch_path(dir, e->d_name);
      unlink(p);
      free(p);
    }
    closedir(d);
  }
  rmdir(dir);
  free(dir);
}

uint64_t ft_hash_text(const char *text) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (; *text; text++) {
    h ^= (unsigned char)*text;
    h *= 0x100000001b3ull;
  }
  return h;
}

int ft_under_valgrind(void) {
  const char *p = getenv("LD_PRELOAD");
  return p != NULL && strstr(p, "vgpreload") != NULL;
}

unsigned long ft_env_count(const char *name, unsigned long dflt) {
  const char *v = getenv(name);
  char *end;
  unsigned long n;
  if (v == NULL || v[0] == '\0')
    return dflt;
  n = strtoul(v, &end, 10);
  return *end == '\0' ? n : dflt;
}

double ft_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void ft_report(const char *fmt, ...) {
  va_list ap;
  fputs("[info] ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  fflush(stderr);
}
