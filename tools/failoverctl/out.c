/*
 * out.c - what failoverctl prints: JSON written as it goes, aligned tables,
 * colour only on a terminal without NO_COLOR.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- JSON ------------------------------------------------------------------ */

static int depth;
static int need_comma[64];

static void js_escaped(const char *v);

/* The comma before a member and its key (none at the top level). */
static void js_key(const char *key) {
  if (depth == 0)
    return;
  if (need_comma[depth])
    fputc(',', stdout);
  need_comma[depth] = 1;
  if (key != NULL) {
    js_escaped(key);
    fputc(':', stdout);
  }
}

static void js_escaped(const char *v) {
  const unsigned char *p = (const unsigned char *)v;
  fputc('"', stdout);
  for (; *p; p++) {
    if (*p == '"' || *p == '\\')
      printf("\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", stdout);
    else if (*p < 0x20)
      printf("\\u%04x", *p);
    else
      fputc(*p, stdout);
  }
  fputc('"', stdout);
}

void js_str(const char *key, const char *v) {
  js_key(key);
  if (v == NULL)
    fputs("null", stdout);
  else
    js_escaped(v);
}

void js_begin_obj(const char *key) {
  js_key(key);
  fputc('{', stdout);
  need_comma[++depth] = 0;
}

void js_end_obj(void) {
  depth--;
  fputc('}', stdout);
}

void js_begin_arr(const char *key) {
  js_key(key);
  fputc('[', stdout);
  need_comma[++depth] = 0;
}

void js_end_arr(void) {
  depth--;
  fputc(']', stdout);
}

void js_int(const char *key, long long v) {
  js_key(key);
  printf("%lld", v);
}

void js_num(const char *key, double v) {
  js_key(key);
  if (v < 0)
    fputs("null", stdout);
  else
    printf("%.3f", v);
}

void js_bool(const char *key, int v) {
  js_key(key);
  fputs(v ? "true" : "false", stdout);
}

int js_depth(void) { return depth; }

void js_done(void) {
  fputc('\n', stdout);
  depth = 0;
  need_comma[0] = 0;
}

/* ---- tables ------------------------------------------------------------------- */

#define TB_COLS 8
#define TB_ROWS 4096

static int tb_ncol;
static const char *tb_cols[TB_COLS];
static char *tb_cells[TB_ROWS][TB_COLS];
static int tb_nrows;

void tb_head(int ncol, const char *const *cols) {
  int i;
  tb_ncol = ncol < TB_COLS ? ncol : TB_COLS;
  for (i = 0; i < tb_ncol; i++)
    tb_cols[i] = cols[i];
  tb_nrows = 0;
}

static void tb_flush_rows(void);

void tb_row(const char *const *cells) {
  int i;
  if (tb_nrows == TB_ROWS)
    tb_flush_rows(); /* very long lists: print in blocks */
  for (i = 0; i < tb_ncol; i++)
    tb_cells[tb_nrows][i] = strdup(cells[i] ? cells[i] : "-");
  tb_nrows++;
}

static size_t widths[TB_COLS];

static void tb_line(const char *const *cells) {
  int i;
  for (i = 0; i < tb_ncol; i++) {
    if (i + 1 < tb_ncol)
      printf("%-*s  ", (int)widths[i], cells[i]);
    else
      printf("%s", cells[i]);
  }
  fputc('\n', stdout);
}

static void tb_flush_rows(void) {
  int r, i;
  for (r = 0; r < tb_nrows; r++) {
    tb_line((const char *const *)tb_cells[r]);
    for (i = 0; i < tb_ncol; i++)
      free(tb_cells[r][i]);
  }
  tb_nrows = 0;
}

void tb_print(void) {
  int r, i;
  for (i = 0; i < tb_ncol; i++)
    widths[i] = strlen(tb_cols[i]);
  for (r = 0; r < tb_nrows; r++)
    for (i = 0; i < tb_ncol; i++)
      if (strlen(tb_cells[r][i]) > widths[i])
        widths[i] = strlen(tb_cells[r][i]);
  printf("%s", c_dim());
  tb_line(tb_cols);
  printf("%s", c_end());
  tb_flush_rows();
}

/* ---- colour ------------------------------------------------------------------- */

int foctl_no_color; /* --no-color */

static int colour(void) {
  static int on = -1;
  if (on < 0) {
    const char *nc = getenv("NO_COLOR");
    on = !foctl_no_color && isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0');
  }
  return on;
}

const char *c_ok(void) { return colour() ? "\033[32m" : ""; }
const char *c_bad(void) { return colour() ? "\033[31m" : ""; }
const char *c_dim(void) { return colour() ? "\033[2m" : ""; }
const char *c_end(void) { return colour() ? "\033[0m" : ""; }
