/*
 * args.c - a command's arguments: positionals and --options, checked
 * against the options the command knows ("name=" takes a value).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

/* Whether `opt` ("--to") is in `known`; *takes_value says if it has "=". */
static int lookup(const char *const *known, const char *opt, int *takes_value) {
  size_t n = strlen(opt + 2);
  for (; *known != NULL; known++) {
    size_t k = strlen(*known);
    int eq = k > 0 && (*known)[k - 1] == '=';
    if ((eq ? k - 1 : k) == n && strncmp(*known, opt + 2, n) == 0) {
      *takes_value = eq;
      return 1;
    }
  }
  return 0;
}

int args_parse(args *a, int argc, char **argv, const char *const *known,
               const char *usage) {
  int i, takes;
  memset(a, 0, sizeof(*a));
  for (i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      printf("usage: failoverctl %s\n", usage);
      return -1; /* help printed: success */
    }
    if (strncmp(arg, "--", 2) == 0 && arg[2] != '\0') {
      if (!lookup(known, arg, &takes)) {
        fprintf(stderr, "failoverctl: unknown option %s\nusage: failoverctl %s\n",
                arg, usage);
        return EXIT_USAGE;
      }
      if (a->nopt == ARGS_MAX) {
        fprintf(stderr, "failoverctl: too many options\n");
        return EXIT_USAGE;
      }
      a->opt[a->nopt] = arg;
      a->val[a->nopt] = NULL;
      if (takes) {
        if (i + 1 >= argc) {
          fprintf(stderr, "failoverctl: %s needs a value\nusage: failoverctl %s\n",
                  arg, usage);
          return EXIT_USAGE;
        }
        a->val[a->nopt] = argv[++i];
      }
      a->nopt++;
    } else {
      if (a->npos == ARGS_MAX) {
        fprintf(stderr, "failoverctl: too many arguments\n");
        return EXIT_USAGE;
      }
      a->pos[a->npos++] = arg;
    }
  }
  return 0;
}

const char *args_get(const args *a, const char *name) {
  const char *v = NULL;
  int i;
  for (i = 0; i < a->nopt; i++)
    if (strcmp(a->opt[i] + 2, name) == 0)
      v = a->val[i];
  return v;
}

int args_has(const args *a, const char *name) {
  int i;
  for (i = 0; i < a->nopt; i++)
    if (strcmp(a->opt[i] + 2, name) == 0)
      return 1;
  return 0;
}

int args_all(const args *a, const char *name, const char **out, int max) {
  int i, n = 0;
  for (i = 0; i < a->nopt && n < max; i++)
    if (strcmp(a->opt[i] + 2, name) == 0)
      out[n++] = a->val[i];
  return n;
}
