/*
 * store_sqlite.c - the SQLite backend of the store (WAL, one file).
 *
 * Schema 1 (see docs/architecture.md, "The store file"):
 *   meta(key, value)      zone, default_ttl, host_template, revision,
 *                         application settings as "app.<name>",
 *                         next_stack_id, next_server_id
 *   stacks(id, name)      live stacks
 *   servers(id, stack_id, kind, name, host_name, ipv4, ipv6)
 *   groups(seq, code, primary_stack, backup_stack, active, state, ttl, mode)
 *                         every group ever made; tombstones have state 4
 *   log(revision, entry)  the last FO__LOG_KEEP commits, for followers
 *   lease(id, holder, epoch, expires_ms)
 * A file is refused, without a byte written, unless its application_id is
 * ours and its user_version is one this library knows.
 */
#include "alloc.h"
#include "store_internal.h"

#include <sqlite3.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Log entries kept for followers: a registry more than this many commits
 * behind gets FO_ECOMPACTED from refresh and must reopen (up to
 * FO__LOG_PRUNE_EVERY more entries are kept between prunes). */
#define FO__LOG_KEEP 10000
#define FO__LOG_PRUNE_EVERY 256
#define BUSY_TIMEOUT_MS 10000

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE stacks(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
    "CREATE TABLE servers(id INTEGER PRIMARY KEY, stack_id INTEGER NOT NULL,"
    " kind INTEGER NOT NULL, name TEXT NOT NULL, host_name TEXT, ipv4 TEXT,"
    " ipv6 TEXT);"
    "CREATE INDEX servers_by_stack ON servers(stack_id);"
    "CREATE TABLE groups(seq INTEGER PRIMARY KEY, code INTEGER NOT NULL,"
    " primary_stack INTEGER, backup_stack INTEGER, active INTEGER NOT NULL,"
    " state INTEGER NOT NULL, ttl INTEGER NOT NULL, mode INTEGER NOT NULL);"
    "CREATE TABLE log(revision INTEGER PRIMARY KEY, entry BLOB NOT NULL);"
    "CREATE TABLE lease(id INTEGER PRIMARY KEY CHECK (id = 1),"
    " holder TEXT NOT NULL, epoch INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL);"
    "INSERT INTO meta VALUES('revision', 0);";

enum {
  ST_REVISION,
  ST_META_GET,
  ST_META_PUT,
  ST_META_DEL,
  ST_STACK_PUT,
  ST_STACK_DEL,
  ST_SERVERS_DEL,
  ST_SERVER_PUT,
  ST_GROUP_PUT,
  ST_LOG_PUT,
  ST_LOG_PRUNE,
  ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    /* The newest log entry is the revision (the log is never pruned to
     * empty); meta's 'revision' answers for a store never written. Not
     * rewriting a meta row on every commit saves a page per commit. */
    "SELECT coalesce((SELECT max(revision) FROM log),"
    " (SELECT value FROM meta WHERE key = 'revision'))",
    "SELECT value FROM meta WHERE key = ?1",
    "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)",
    "DELETE FROM meta WHERE key = ?1",
    "INSERT OR REPLACE INTO stacks(id, name) VALUES(?1, ?2)",
    "DELETE FROM stacks WHERE id = ?1",
    "DELETE FROM servers WHERE stack_id = ?1",
    "INSERT INTO servers(id, stack_id, kind, name, host_name, ipv4, ipv6)"
    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    "INSERT OR REPLACE INTO groups(seq, code, primary_stack, backup_stack,"
    " active, state, ttl, mode) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "INSERT INTO log(revision, entry) VALUES(?1, ?2)",
    "DELETE FROM log WHERE revision <= ?1",
};

typedef struct sq {
  sqlite3 *db;
  int readonly;
  int in_txn;        /* between begin and commit/rollback */
  int wal;           /* journal_mode is WAL (checked at the first write) */
  uint64_t expected; /* revision at begin */
  sqlite3_stmt *st[ST_COUNT];
} sq;

static int map(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_ROW:
  case SQLITE_DONE:
    return 0;
  case SQLITE_NOTADB:
    return FO_ENOTDB;
  case SQLITE_CORRUPT:
  case SQLITE_MISMATCH:
  case SQLITE_RANGE:
  case SQLITE_FORMAT:
    return FO_ECORRUPT;
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    return FO_ELOCKED;
  case SQLITE_NOMEM:
    return FO_ENOMEM;
  case SQLITE_READONLY:
    return FO_EREADONLY;
  default:
    return FO_ESTOREIO;
  }
}

static int exec(sq *s, const char *sql) {
  return map(sqlite3_exec(s->db, sql, NULL, NULL, NULL));
}

/* A single integer from a one-row query; FO_ENOENT for no row. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return map(rc);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    *out = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? FO_ENOENT : map(rc);
}

static int step_done(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : map(rc);
}

/* Step a prepared one-column query: its integer, FO_ENOENT for no row,
 * FO_ECORRUPT for a value of another type. */
static int step_int(sqlite3_stmt *st, int64_t *out) {
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    if (sqlite3_column_type(st, 0) != SQLITE_INTEGER)
      rc = SQLITE_CORRUPT;
    else
      *out = sqlite3_column_int64(st, 0);
  }
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? FO_ENOENT : map(rc);
}

static int meta_int(sq *s, const char *key, int64_t *out) {
  sqlite3_bind_text(s->st[ST_META_GET], 1, key, -1, SQLITE_STATIC);
  return step_int(s->st[ST_META_GET], out);
}

static int read_revision(sq *s, int64_t *out) {
  int rc = step_int(s->st[ST_REVISION], out);
  return rc == FO_ENOENT ? FO_ECORRUPT : rc;
}

static int meta_put_int(sq *s, const char *key, int64_t v) {
  sqlite3_stmt *st = s->st[ST_META_PUT];
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, v);
  return step_done(st);
}

static int meta_put_text(sq *s, const char *key, const char *v) {
  sqlite3_stmt *st = s->st[ST_META_PUT];
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
  return step_done(st);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v) {
  if (v == NULL)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void bind_id_or_null(sqlite3_stmt *st, int i, uint32_t id) {
  if (id == 0)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, id);
}

/* ---- load ------------------------------------------------------------- */

/* A column that must hold an integer in 0..UINT32_MAX (NULL as 0 when
 * `null_ok`). */
static int col_u32(sqlite3_stmt *st, int i, int null_ok, uint32_t *out) {
  int64_t v;
  int t = sqlite3_column_type(st, i);
  if (t == SQLITE_NULL && null_ok) {
    *out = 0;
    return 0;
  }
  if (t != SQLITE_INTEGER)
    return FO_ECORRUPT;
  v = sqlite3_column_int64(st, i);
  if (v < 0 || v > (int64_t)UINT32_MAX)
    return FO_ECORRUPT;
  *out = (uint32_t)v;
  return 0;
}

static int col_text(sqlite3_stmt *st, int i, int null_ok, const char **out) {
  int t = sqlite3_column_type(st, i);
  if (t == SQLITE_NULL && null_ok) {
    *out = NULL;
    return 0;
  }
  if (t != SQLITE_TEXT)
    return FO_ECORRUPT;
  *out = (const char *)sqlite3_column_text(st, i);
  return *out ? 0 : FO_ENOMEM;
}

static int meta_text_dup(sq *s, const char *key, char **out) {
  sqlite3_stmt *st = s->st[ST_META_GET];
  int rc;
  *out = NULL;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const char *v;
    rc = col_text(st, 0, 0, &v);
    if (rc == 0 && (*out = strdup(v)) == NULL)
      rc = FO_ENOMEM;
  } else {
    rc = rc == SQLITE_DONE ? FO_ENOENT : map(rc);
  }
  sqlite3_reset(st);
  return rc;
}

static int load_settings(sq *s, fo_store_loader *ld) {
  char *zone = NULL, *tmpl = NULL;
  int64_t ttl = 0, ns = 0, nv = 0;
  fo_store_row row;
  int rc = meta_text_dup(s, "zone", &zone);
  if (rc == FO_ENOENT) {
    int64_t any = 0;
    /* No settings: an empty store, unless rows exist without them. */
    rc = query_int(s->db, "SELECT (SELECT count(*) FROM stacks) +"
                          " (SELECT count(*) FROM groups)", &any);
    return rc ? rc : any ? FO_ECORRUPT : FO_ENOSTORE;
  }
  if (rc == 0)
    rc = meta_text_dup(s, "host_template", &tmpl);
  if (rc == 0)
    rc = meta_int(s, "default_ttl", &ttl);
  if (rc == 0)
    rc = meta_int(s, "next_stack_id", &ns);
  if (rc == 0)
    rc = meta_int(s, "next_server_id", &nv);
  if (rc == FO_ENOENT)
    rc = FO_ECORRUPT;
  if (rc == 0 && (ttl < 0 || ttl > (int64_t)UINT32_MAX || ns <= 0 ||
                  ns > (int64_t)UINT32_MAX || nv <= 0 ||
                  nv > (int64_t)UINT32_MAX))
    rc = FO_ECORRUPT;
  if (rc == 0) {
    memset(&row, 0, sizeof(row));
    row.kind = FO_ROW_SETTINGS;
    row.settings.zone = zone;
    row.settings.default_ttl = (uint32_t)ttl;
    row.settings.host_template = tmpl;
    rc = fo_store_loader_row(ld, &row);
  }
  if (rc == 0) {
    memset(&row, 0, sizeof(row));
    row.kind = FO_ROW_COUNTERS;
    row.counters.next_stack_id = (uint32_t)ns;
    row.counters.next_server_id = (uint32_t)nv;
    rc = fo_store_loader_row(ld, &row);
  }
  free(zone);
  free(tmpl);
  return rc;
}

/* Strings of one stack's server rows, copied (the statement moves on). */
typedef struct server_buf {
  fo_store_server_row *rows;
  char **strings;
  size_t len, cap;
} server_buf;

static void server_buf_clear(server_buf *b) {
  size_t i;
  for (i = 0; i < b->len * 4; i++)
    free(b->strings[i]);
  b->len = 0;
}

static int dup_or_null(const char *v, char **out) {
  *out = NULL;
  return v == NULL || (*out = strdup(v)) != NULL ? 0 : FO_ENOMEM;
}

static int server_buf_add(server_buf *b, sqlite3_stmt *st) {
  fo_store_server_row *r;
  const char *name, *host, *v4, *v6;
  char **str;
  uint32_t kind;
  int rc;
  if (b->len == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 8;
    void *rows = realloc(b->rows, cap * sizeof(*b->rows));
    void *strs;
    if (rows == NULL)
      return FO_ENOMEM;
    b->rows = rows;
    strs = realloc(b->strings, cap * 4 * sizeof(*b->strings));
    if (strs == NULL)
      return FO_ENOMEM;
    b->strings = strs;
    b->cap = cap;
  }
  r = &b->rows[b->len];
  str = &b->strings[b->len * 4];
  memset(str, 0, 4 * sizeof(*str));
  if ((rc = col_u32(st, 0, 0, &r->id)) != 0 ||
      (rc = col_u32(st, 1, 0, &kind)) != 0 ||
      (rc = col_text(st, 2, 0, &name)) != 0 ||
      (rc = dup_or_null(name, &str[0])) != 0 ||
      (rc = col_text(st, 3, 1, &host)) != 0 ||
      (rc = dup_or_null(host, &str[1])) != 0 ||
      (rc = col_text(st, 4, 1, &v4)) != 0 ||
      (rc = dup_or_null(v4, &str[2])) != 0 ||
      (rc = col_text(st, 5, 1, &v6)) != 0 ||
      (rc = dup_or_null(v6, &str[3])) != 0) {
    free(str[0]);
    free(str[1]);
    free(str[2]);
    free(str[3]);
    return rc;
  }
  r->kind = (fo_server_kind)kind;
  r->name = str[0];
  r->host_name = str[1];
  r->ipv4 = str[2];
  r->ipv6 = str[3];
  b->len++;
  return 0;
}

static int load_stacks(sq *s, fo_store_loader *ld) {
  sqlite3_stmt *stacks = NULL, *servers = NULL;
  server_buf buf = {NULL, NULL, 0, 0};
  int64_t orphans = 0;
  int rc, step;
  rc = query_int(s->db,
                 "SELECT count(*) FROM servers WHERE stack_id NOT IN"
                 " (SELECT id FROM stacks)",
                 &orphans);
  if (rc == 0 && orphans)
    rc = FO_ECORRUPT;
  if (rc == 0)
    rc = map(sqlite3_prepare_v2(s->db,
                                "SELECT id, name FROM stacks ORDER BY id", -1,
                                &stacks, NULL));
  if (rc == 0)
    rc = map(sqlite3_prepare_v2(
        s->db,
        "SELECT id, kind, name, host_name, ipv4, ipv6 FROM servers"
        " WHERE stack_id = ?1 ORDER BY kind, id",
        -1, &servers, NULL));
  while (rc == 0 && (step = sqlite3_step(stacks)) == SQLITE_ROW) {
    fo_store_row row;
    const char *name;
    memset(&row, 0, sizeof(row));
    row.kind = FO_ROW_STACK;
    if ((rc = col_u32(stacks, 0, 0, &row.stack.id)) != 0 ||
        (rc = col_text(stacks, 1, 0, &name)) != 0)
      break;
    row.stack.name = name;
    server_buf_clear(&buf);
    sqlite3_bind_int64(servers, 1, row.stack.id);
    while (rc == 0 && (step = sqlite3_step(servers)) == SQLITE_ROW)
      rc = server_buf_add(&buf, servers);
    if (rc == 0 && step != SQLITE_DONE)
      rc = map(step);
    sqlite3_reset(servers);
    if (rc != 0)
      break;
    row.stack.servers = buf.rows;
    row.stack.server_count = buf.len;
    rc = fo_store_loader_row(ld, &row);
  }
  if (rc == 0 && step != SQLITE_DONE)
    rc = map(step);
  server_buf_clear(&buf);
  free(buf.rows);
  free(buf.strings);
  sqlite3_finalize(stacks);
  sqlite3_finalize(servers);
  return rc;
}

static int load_groups(sq *s, fo_store_loader *ld) {
  sqlite3_stmt *st = NULL;
  fo_store_row row;
  int rc, step = SQLITE_DONE;
  rc = map(sqlite3_prepare_v2(
      s->db,
      "SELECT seq, code, primary_stack, backup_stack, active, state, ttl,"
      " mode FROM groups ORDER BY seq",
      -1, &st, NULL));
  memset(&row, 0, sizeof(row));
  row.kind = FO_ROW_GROUP;
  while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
    fo_store_group_row *g = &row.group;
    if ((rc = col_u32(st, 0, 0, &g->seq)) != 0 ||
        (rc = col_u32(st, 1, 0, &g->code)) != 0 ||
        (rc = col_u32(st, 2, 1, &g->primary_stack)) != 0 ||
        (rc = col_u32(st, 3, 1, &g->backup_stack)) != 0 ||
        (rc = col_u32(st, 4, 0, &g->active_slot)) != 0 ||
        (rc = col_u32(st, 5, 0, &g->state)) != 0 ||
        (rc = col_u32(st, 6, 0, &g->ttl)) != 0 ||
        (rc = col_u32(st, 7, 0, &g->mode)) != 0)
      break;
    rc = fo_store_loader_row(ld, &row);
  }
  if (rc == 0 && step != SQLITE_DONE)
    rc = map(step);
  sqlite3_finalize(st);
  return rc;
}

static int sq_load(void *self, fo_store_loader *ld, uint64_t *revision) {
  sq *s = self;
  int64_t rev = 0;
  int rc;
  if ((rc = exec(s, "BEGIN")) != 0)
    return rc;
  rc = read_revision(s, &rev);
  if (rc == FO_ENOENT || (rc == 0 && rev < 0))
    rc = FO_ECORRUPT;
  if (rc == 0)
    rc = load_settings(s, ld);
  if (rc == 0)
    rc = load_stacks(s, ld);
  if (rc == 0)
    rc = load_groups(s, ld);
  exec(s, "COMMIT");
  if (rc == 0)
    *revision = (uint64_t)rev;
  return rc;
}

/* ---- writes ----------------------------------------------------------- */

/* Our files are in WAL mode (readers never block the writer). Set at the
 * first write, not at open, so that opening never writes to a file. */
static int ensure_wal(sq *s) {
  sqlite3_stmt *st;
  int rc, wal = 0;
  if (s->wal)
    return 0;
  rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode", -1, &st, NULL);
  if (rc != SQLITE_OK)
    return map(rc);
  if (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char *mode = sqlite3_column_text(st, 0);
    wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
  }
  sqlite3_finalize(st);
  if (!wal && (rc = exec(s, "PRAGMA journal_mode=WAL")) != 0)
    return rc;
  s->wal = 1;
  return 0;
}

static int sq_begin(void *self, uint64_t expected) {
  sq *s = self;
  int64_t rev = 0;
  int rc;
  if (s->readonly)
    return FO_EREADONLY;
  if (s->in_txn)
    return FO_EBUSY;
  if ((rc = ensure_wal(s)) != 0)
    return rc;
  if ((rc = exec(s, "BEGIN IMMEDIATE")) != 0)
    return rc;
  rc = read_revision(s, &rev);
  if (rc == 0 && (uint64_t)rev != expected)
    rc = FO_ESTALE;
  if (rc != 0) {
    exec(s, "ROLLBACK");
    return rc == FO_ENOENT ? FO_ECORRUPT : rc;
  }
  s->in_txn = 1;
  s->expected = expected;
  return 0;
}

static void sq_rollback(void *self) {
  sq *s = self;
  if (s->in_txn) {
    exec(s, "ROLLBACK");
    s->in_txn = 0;
  }
}

static int put_stack(sq *s, const fo_store_stack_row *r) {
  sqlite3_stmt *st = s->st[ST_STACK_PUT];
  size_t i;
  int rc;
  sqlite3_bind_int64(st, 1, r->id);
  sqlite3_bind_text(st, 2, r->name, -1, SQLITE_STATIC);
  if ((rc = step_done(st)) != 0)
    return rc;
  sqlite3_bind_int64(s->st[ST_SERVERS_DEL], 1, r->id);
  if ((rc = step_done(s->st[ST_SERVERS_DEL])) != 0)
    return rc;
  st = s->st[ST_SERVER_PUT];
  for (i = 0; i < r->server_count; i++) {
    const fo_store_server_row *v = &r->servers[i];
    sqlite3_bind_int64(st, 1, v->id);
    sqlite3_bind_int64(st, 2, r->id);
    sqlite3_bind_int64(st, 3, v->kind);
    sqlite3_bind_text(st, 4, v->name, -1, SQLITE_STATIC);
    bind_text_or_null(st, 5, v->host_name);
    bind_text_or_null(st, 6, v->ipv4);
    bind_text_or_null(st, 7, v->ipv6);
    if ((rc = step_done(st)) != 0)
      return rc;
  }
  return 0;
}

static int remove_stack(sq *s, uint32_t id) {
  int rc;
  sqlite3_bind_int64(s->st[ST_STACK_DEL], 1, id);
  if ((rc = step_done(s->st[ST_STACK_DEL])) != 0)
    return rc;
  sqlite3_bind_int64(s->st[ST_SERVERS_DEL], 1, id);
  return step_done(s->st[ST_SERVERS_DEL]);
}

static int put_group(sq *s, const fo_store_group_row *g) {
  sqlite3_stmt *st = s->st[ST_GROUP_PUT];
  sqlite3_bind_int64(st, 1, g->seq);
  sqlite3_bind_int64(st, 2, g->code);
  bind_id_or_null(st, 3, g->primary_stack);
  bind_id_or_null(st, 4, g->backup_stack);
  sqlite3_bind_int64(st, 5, g->active_slot);
  sqlite3_bind_int64(st, 6, g->state);
  sqlite3_bind_int64(st, 7, g->ttl);
  sqlite3_bind_int64(st, 8, g->mode);
  return step_done(st);
}

static int put_row(sq *s, const fo_store_row *r) {
  int rc;
  switch (r->kind) {
  case FO_ROW_SETTINGS:
    if ((rc = meta_put_text(s, "zone", r->settings.zone)) != 0 ||
        (rc = meta_put_int(s, "default_ttl", r->settings.default_ttl)) != 0)
      return rc;
    return meta_put_text(s, "host_template", r->settings.host_template);
  case FO_ROW_COUNTERS:
    if ((rc = meta_put_int(s, "next_stack_id", r->counters.next_stack_id)))
      return rc;
    return meta_put_int(s, "next_server_id", r->counters.next_server_id);
  case FO_ROW_STACK:
    return put_stack(s, &r->stack);
  case FO_ROW_STACK_REMOVED:
    return remove_stack(s, r->stack.id);
  case FO_ROW_GROUP:
    return put_group(s, &r->group);
  }
  return FO_EINVAL;
}

static int sq_commit(void *self, const fo_store_changes *ch,
                     uint64_t *revision) {
  sq *s = self;
  uint64_t rev = s->expected + 1;
  const void *log;
  size_t i, n = fo_store_changes_count(ch), log_len;
  int rc = 0;
  if (!s->in_txn)
    return FO_EINVAL;
  for (i = 0; i < n && rc == 0; i++)
    rc = put_row(s, fo_store_changes_row(ch, i));
  if (rc == 0) {
    sqlite3_stmt *st = s->st[ST_LOG_PUT];
    fo_store_changes_log(ch, &log, &log_len);
    sqlite3_bind_int64(st, 1, (int64_t)rev);
    sqlite3_bind_blob(st, 2, log, (int)log_len, SQLITE_STATIC);
    rc = step_done(st);
  }
  /* Pruned in chunks: one delete per FO__LOG_PRUNE_EVERY commits. */
  if (rc == 0 && rev > FO__LOG_KEEP && rev % FO__LOG_PRUNE_EVERY == 0) {
    sqlite3_bind_int64(s->st[ST_LOG_PRUNE], 1, (int64_t)(rev - FO__LOG_KEEP));
    rc = step_done(s->st[ST_LOG_PRUNE]);
  }
  if (rc == 0)
    rc = exec(s, "COMMIT");
  if (rc != 0) {
    /* COMMIT failing may leave the transaction open (SQLITE_BUSY, I/O);
     * end it either way so that the connection is usable for reads. */
    if (!sqlite3_get_autocommit(s->db))
      exec(s, "ROLLBACK");
    s->in_txn = 0;
    return rc == FO_ENOMEM ? FO_ENOMEM : FO_ESTOREIO;
  }
  s->in_txn = 0;
  *revision = rev;
  return 0;
}

/* ---- reads ------------------------------------------------------------ */

static int sq_revision(void *self, uint64_t *out) {
  sq *s = self;
  int64_t rev = 0;
  int rc = read_revision(s, &rev);
  if (rc == 0)
    *out = (uint64_t)rev;
  return rc == FO_ENOENT ? FO_ECORRUPT : rc;
}

static int sq_read_log(void *self, uint64_t after, fo_store_log_fn fn,
                       void *userdata) {
  sq *s = self;
  sqlite3_stmt *st = NULL;
  int64_t rev = 0, oldest = 0;
  int rc, step = SQLITE_DONE, own = !s->in_txn;
  if (own && (rc = exec(s, "BEGIN")) != 0)
    return rc;
  rc = read_revision(s, &rev);
  if (rc == 0 && (uint64_t)rev > after) {
    rc = query_int(s->db, "SELECT min(revision) FROM log", &oldest);
    if (rc == 0 && (uint64_t)oldest > after + 1)
      rc = FO_ECOMPACTED;
    if (rc == 0)
      rc = map(sqlite3_prepare_v2(s->db,
                                  "SELECT revision, entry FROM log"
                                  " WHERE revision > ?1 ORDER BY revision",
                                  -1, &st, NULL));
    if (rc == 0)
      sqlite3_bind_int64(st, 1, (int64_t)after);
    while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
      const void *b = sqlite3_column_blob(st, 1);
      int len = sqlite3_column_bytes(st, 1);
      if (sqlite3_column_type(st, 1) != SQLITE_BLOB || len <= 0)
        rc = FO_ECORRUPT;
      else
        rc = fn((uint64_t)sqlite3_column_int64(st, 0), b, (size_t)len,
                userdata);
    }
    if (rc == 0 && step != SQLITE_DONE)
      rc = map(step);
    sqlite3_finalize(st);
  }
  if (own)
    exec(s, "COMMIT");
  return rc == FO_ENOENT ? FO_ECORRUPT : rc;
}

/* ---- lease ------------------------------------------------------------ */

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int lease_get(sq *s, fo_store_lease *out) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(
      s->db, "SELECT holder, epoch, expires_ms FROM lease WHERE id = 1", -1,
      &st, NULL);
  memset(out, 0, sizeof(*out));
  if (rc != SQLITE_OK)
    return map(rc);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const unsigned char *h = sqlite3_column_text(st, 0);
    if (h != NULL)
      snprintf(out->holder, sizeof(out->holder), "%s", (const char *)h);
    out->epoch = (uint64_t)sqlite3_column_int64(st, 1);
    out->expires_ms = sqlite3_column_int64(st, 2);
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(st);
  return map(rc);
}

static int lease_put(sq *s, const fo_store_lease *l) {
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(
      s->db,
      "INSERT OR REPLACE INTO lease(id, holder, epoch, expires_ms)"
      " VALUES(1, ?1, ?2, ?3)",
      -1, &st, NULL);
  if (rc != SQLITE_OK)
    return map(rc);
  sqlite3_bind_text(st, 1, l->holder, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, (int64_t)l->epoch);
  sqlite3_bind_int64(st, 3, l->expires_ms);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : map(rc);
}

/* Run `fn` in a write transaction of its own, or inside the registry's
 * open one (a batch on this connection). */
static int in_write(sq *s, int (*fn)(sq *, void *), void *arg) {
  int rc;
  if (s->readonly)
    return FO_EREADONLY;
  if (s->in_txn)
    return fn(s, arg);
  if ((rc = ensure_wal(s)) != 0)
    return rc;
  if ((rc = exec(s, "BEGIN IMMEDIATE")) != 0)
    return rc;
  rc = fn(s, arg);
  if (rc == 0)
    rc = exec(s, "COMMIT");
  if (rc != 0 && !sqlite3_get_autocommit(s->db))
    exec(s, "ROLLBACK");
  return rc;
}

typedef struct lease_req {
  const char *holder;
  uint32_t ttl_ms;
  fo_store_lease *out;
} lease_req;

static int acquire(sq *s, void *arg) {
  lease_req *q = arg;
  fo_store_lease l;
  int64_t now = now_ms();
  int rc = lease_get(s, &l);
  if (rc != 0)
    return rc;
  if (strcmp(l.holder, q->holder) != 0) {
    if (l.holder[0] != '\0' && l.expires_ms > now) {
      *q->out = l;
      return FO_ELOCKED;
    }
    l.epoch++;
    snprintf(l.holder, sizeof(l.holder), "%s", q->holder);
  } else if (l.expires_ms <= now) {
    l.epoch++; /* ours, but it ran out: someone may have seen it lapse */
  }
  l.expires_ms = now + q->ttl_ms;
  if ((rc = lease_put(s, &l)) == 0)
    *q->out = l;
  return rc;
}

static int sq_lease_acquire(void *self, const char *holder, uint32_t ttl_ms,
                            fo_store_lease *out) {
  lease_req q = {holder, ttl_ms, out};
  return in_write(self, acquire, &q);
}

static int release(sq *s, void *arg) {
  fo_store_lease l;
  int rc = lease_get(s, &l);
  if (rc != 0 || strcmp(l.holder, (const char *)arg) != 0)
    return rc;
  l.expires_ms = 0;
  return lease_put(s, &l);
}

static int sq_lease_release(void *self, const char *holder) {
  return in_write(self, release, (void *)holder);
}

static int sq_lease_read(void *self, fo_store_lease *out) {
  return lease_get(self, out);
}

/* ---- open and close --------------------------------------------------- */

static void sq_close(void *self) {
  sq *s = self;
  int i;
  if (s == NULL)
    return;
  sq_rollback(s);
  for (i = 0; i < ST_COUNT; i++)
    sqlite3_finalize(s->st[i]);
  sqlite3_close(s->db);
  free(s);
}

/* ---- application settings: meta rows "app.<name>" ------------------------ */

#define SETTING_PREFIX "app."

static void setting_key(char key[FO_STORE_SETTING_NAME_MAX + 8],
                        const char *name) {
  snprintf(key, FO_STORE_SETTING_NAME_MAX + 8, SETTING_PREFIX "%s", name);
}

static int sq_setting_get(void *self, const char *name, char *buf,
                          size_t size, size_t *len) {
  sq *s = self;
  char key[FO_STORE_SETTING_NAME_MAX + 8];
  sqlite3_stmt *st = s->st[ST_META_GET];
  int rc;
  setting_key(key, name);
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const char *v;
    rc = col_text(st, 0, 0, &v);
    if (rc == 0) {
      size_t n = strlen(v);
      *len = n;
      if (n >= size)
        rc = FO_ENOSPC;
      else
        memcpy(buf, v, n + 1);
    }
  } else {
    rc = rc == SQLITE_DONE ? FO_ENOENT : map(rc);
  }
  sqlite3_reset(st);
  return rc;
}

typedef struct setting_req {
  const char *name;
  const char *value;
} setting_req;

static int put_setting(sq *s, void *arg) {
  setting_req *q = arg;
  char key[FO_STORE_SETTING_NAME_MAX + 8];
  setting_key(key, q->name);
  if (q->value != NULL)
    return meta_put_text(s, key, q->value);
  sqlite3_bind_text(s->st[ST_META_DEL], 1, key, -1, SQLITE_STATIC);
  return step_done(s->st[ST_META_DEL]);
}

static int sq_setting_put(void *self, const char *name, const char *value) {
  setting_req q = {name, value};
  return in_write(self, put_setting, &q);
}

static const fo_store_backend sqlite_backend = {
    FO_STORE_BACKEND_VERSION,
    sq_load,
    sq_begin,
    sq_commit,
    sq_rollback,
    sq_read_log,
    sq_revision,
    sq_lease_acquire,
    sq_lease_release,
    sq_lease_read,
    sq_close,
    sq_setting_get,
    sq_setting_put,
};

/* Check the header before anything could write: ours, a known schema.
 * `*fresh` is set for an empty database. */
static int check_identity(sq *s, int *fresh) {
  int64_t app = 0, version = 0, pages = 0;
  int rc = query_int(s->db, "PRAGMA application_id", &app);
  if (rc == 0)
    rc = query_int(s->db, "PRAGMA user_version", &version);
  if (rc == 0)
    rc = query_int(s->db, "PRAGMA page_count", &pages);
  if (rc != 0)
    return rc;
  *fresh = 0;
  if (pages == 0 && app == 0) {
    *fresh = 1;
    return 0;
  }
  if (app != FO_STORE_SQLITE_APPLICATION_ID)
    return FO_ENOTOURS;
  if (version > FO_STORE_SQLITE_SCHEMA)
    return FO_ESCHEMA;
  if (version < 1)
    return FO_ECORRUPT;
  /* A damaged b-tree is found here, before any row is trusted. */
  {
    sqlite3_stmt *st;
    const unsigned char *ok = NULL;
    int same = 0;
    rc = map(sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st,
                                NULL));
    if (rc != 0)
      return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
      ok = sqlite3_column_text(st, 0);
    same = ok != NULL && strcmp((const char *)ok, "ok") == 0;
    rc = sqlite3_finalize(st);
    if (rc != SQLITE_OK)
      return map(rc);
    return same ? 0 : FO_ECORRUPT;
  }
}

/* Schema, application_id and user_version in one transaction: a process
 * that dies before its commit leaves an empty database, which the next
 * open creates again (never a file half ours). Another process creating
 * the same file at the same time waits for the lock and then finds it
 * made. WAL comes later, at the first write (ensure_wal). */
static int create_schema(sq *s) {
  char sql[128];
  int64_t app = 0;
  int rc;
  if ((rc = exec(s, "BEGIN IMMEDIATE")) != 0)
    return rc;
  rc = query_int(s->db, "PRAGMA application_id", &app);
  if (rc == 0 && app != FO_STORE_SQLITE_APPLICATION_ID) {
    snprintf(sql, sizeof(sql),
             "PRAGMA application_id=%d; PRAGMA user_version=%d",
             FO_STORE_SQLITE_APPLICATION_ID, FO_STORE_SQLITE_SCHEMA);
    rc = exec(s, sql);
    if (rc == 0)
      rc = exec(s, schema_sql);
  }
  if (rc == 0)
    rc = exec(s, "COMMIT");
  else
    exec(s, "ROLLBACK");
  return rc;
}

int fo_store_sqlite_open(fo_store **out, const char *path,
                         unsigned int flags) {
  struct stat stbuf;
  sq *s;
  int rc, fresh = 0, i, oflags;
  if (out != NULL)
    *out = NULL;
  if (out == NULL || path == NULL || path[0] == '\0' ||
      (flags & ~(FO_STORE_CREATE | FO_STORE_READONLY | FO_STORE_SYNC_NORMAL)) ||
      ((flags & FO_STORE_CREATE) && (flags & FO_STORE_READONLY)))
    return FO_EINVAL;
  if (!(flags & FO_STORE_CREATE) && stat(path, &stbuf) != 0)
    return errno == ENOENT ? FO_ENOENT : FO_ESTOREIO;
  s = calloc(1, sizeof(*s));
  if (s == NULL)
    return FO_ENOMEM;
  s->readonly = (flags & FO_STORE_READONLY) != 0;
  oflags = s->readonly ? SQLITE_OPEN_READONLY
                       : SQLITE_OPEN_READWRITE |
                             ((flags & FO_STORE_CREATE) ? SQLITE_OPEN_CREATE
                                                        : 0);
  rc = sqlite3_open_v2(path, &s->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    rc = rc == SQLITE_CANTOPEN ? FO_ESTOREIO : map(rc);
    sq_close(s);
    return rc;
  }
  sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  rc = check_identity(s, &fresh);
  if (rc == 0 && fresh)
    rc = (flags & FO_STORE_CREATE) ? create_schema(s) : FO_ENOSTORE;
  if (rc == 0)
    rc = exec(s, (flags & FO_STORE_SYNC_NORMAL) ? "PRAGMA synchronous=NORMAL"
                                                : "PRAGMA synchronous=FULL");
  for (i = 0; rc == 0 && i < ST_COUNT; i++)
    rc = map(sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
                                SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL));
  if (rc == 0)
    rc = fo_store_new(out, &sqlite_backend, s);
  else
    sq_close(s);
  return rc;
}
