/*
 * tsig_keyfile.c - TSIG keys: building one from its parts and finding one in
 * key-file text, as BIND and Knot write it:
 *
 *   key "name" { algorithm hmac-sha256; secret "base64=="; };   (BIND)
 *   key:                                                        (Knot,
 *     - id: name                                                keymgr -t)
 *       algorithm: hmac-sha256
 *       secret: base64==
 *   hmac-sha256:name:base64==                                   (-y form)
 *
 * Other statements and sections are skipped, so a whole named.conf or
 * knot.conf can be given. Every copy of a secret's text is wiped.
 */
#include "tsig.h"
#include "base64.h"

#include <openssl/crypto.h>
#include <string.h>

#define NAME_WIRE_MAX 255
#define TOKEN_MAX 1024 /* longer names, algorithms, secrets are refused */

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive equality; one trailing unescaped dot on either side is
 * ignored, since "name." and "name" are the same key. */
static size_t without_dot(const char *s) {
  size_t n = strlen(s), bs = 0;
  if (n == 0 || s[n - 1] != '.')
    return n;
  while (bs < n - 1 && s[n - 2 - bs] == '\\')
    bs++;
  return bs % 2 == 0 && n > 1 ? n - 1 : n;
}

static int same_name(const char *a, const char *b) {
  size_t n = without_dot(a), i;
  if (without_dot(b) != n)
    return 0;
  for (i = 0; i < n; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
      return 0;
  return 1;
}

int fo__tsig_key_init(fo__tsig_key *key, const char *name, const char *alg,
                      const char *secret_base64) {
  uint8_t wire[NAME_WIRE_MAX];
  size_t n, i;
  int rc;
  if (key == NULL || name == NULL || alg == NULL || secret_base64 == NULL)
    return FO_EINVAL;
  memset(key, 0, sizeof *key);
  rc = fo__dns_write_name(name, wire, sizeof wire);
  if (rc < 0)
    return rc;
  if (rc == 1) /* the root is no key name */
    return FO_EBADNAME;
  n = without_dot(name);
  if (n >= sizeof key->name)
    return FO_ENAMETOOLONG;
  for (i = 0; i < n; i++)
    key->name[i] = (char)lower((unsigned char)name[i]);
  key->name[n] = '\0';

  if (same_name(alg, "hmac-sha256"))
    key->alg = FO__TSIG_HMAC_SHA256;
  else if (same_name(alg, "hmac-sha512"))
    key->alg = FO__TSIG_HMAC_SHA512;
  else
    rc = FO_EBADKEY;
  if (rc >= 0) {
    rc = fo__base64_decode(secret_base64, strlen(secret_base64), key->secret,
                           sizeof key->secret, &key->secret_len);
    if (rc == FO_EINVAL)
      rc = FO_EBADKEY;
    else if (rc == 0 && key->secret_len == 0)
      rc = FO_ERANGE;
  }
  if (rc < 0) {
    fo__tsig_key_wipe(key);
    return rc;
  }
  return 0;
}

void fo__tsig_key_wipe(fo__tsig_key *key) {
  if (key == NULL)
    return;
  OPENSSL_cleanse(key->secret, sizeof key->secret);
  key->secret_len = 0;
}

/* ---- key-file text ------------------------------------------------------ */

typedef struct scan {
  const char *p;
} scan;

/* One key as read from the text. */
typedef struct found {
  char name[TOKEN_MAX];
  char alg[TOKEN_MAX];
  char secret[TOKEN_MAX];
  int has_name, has_alg, has_secret;
} found;

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

/* BIND comments: #, // and C style. Returns -1 on an unclosed comment. */
static int skip_bind_space(scan *s) {
  for (;;) {
    const char *p = s->p;
    if (is_space(*p)) {
      s->p++;
    } else if (*p == '#' || (p[0] == '/' && p[1] == '/')) {
      while (*s->p != '\0' && *s->p != '\n')
        s->p++;
    } else if (p[0] == '/' && p[1] == '*') {
      const char *end = strstr(p + 2, "*/");
      if (end == NULL)
        return -1;
      s->p = end + 2;
    } else {
      return 0;
    }
  }
}

static int word_char(char c) {
  return c != '\0' && !is_space(c) && c != ';' && c != '{' && c != '}' &&
         c != '"' && c != ':' && c != '#';
}

/* A bare word or a "quoted string" (BIND has no escapes in these).
 * Returns 1 for a token, 0 for none, FO_ERANGE if over TOKEN_MAX - 1. */
static int token(scan *s, char out[TOKEN_MAX]) {
  size_t n = 0;
  if (*s->p == '"') {
    const char *end = strchr(s->p + 1, '"');
    if (end == NULL)
      return 0;
    n = (size_t)(end - s->p - 1);
    if (n >= TOKEN_MAX)
      return FO_ERANGE;
    memcpy(out, s->p + 1, n);
    s->p = end + 1;
  } else {
    while (word_char(s->p[n]))
      n++;
    if (n == 0)
      return 0;
    if (n >= TOKEN_MAX)
      return FO_ERANGE;
    memcpy(out, s->p, n);
    s->p += n;
  }
  out[n] = '\0';
  return 1;
}

/* Skip a BIND statement we do not know, braces and all, up to its ';'. */
static int skip_statement(scan *s) {
  int depth = 0;
  for (;;) {
    if (skip_bind_space(s) != 0)
      return FO_EMALFORMED;
    switch (*s->p) {
    case '\0':
      return FO_EMALFORMED;
    case '"': {
      const char *end = strchr(s->p + 1, '"');
      if (end == NULL)
        return FO_EMALFORMED;
      s->p = end + 1;
      break;
    }
    case '{':
      depth++;
      s->p++;
      break;
    case '}':
      if (--depth < 0)
        return FO_EMALFORMED;
      s->p++;
      break;
    case ';':
      s->p++;
      if (depth == 0)
        return 0;
      break;
    default:
      s->p++;
    }
  }
}

/* After "key": name { algorithm X; secret "Y"; ... }; */
static int bind_key(scan *s, found *k) {
  char word[TOKEN_MAX];
  int rc;
  memset(k, 0, sizeof *k);
  if (skip_bind_space(s) != 0 || (rc = token(s, k->name)) == 0)
    return FO_EMALFORMED;
  if (rc < 0)
    return FO_ENAMETOOLONG;
  k->has_name = 1;
  if (skip_bind_space(s) != 0 || *s->p++ != '{')
    return FO_EMALFORMED;
  for (;;) {
    char *value;
    if (skip_bind_space(s) != 0)
      return FO_EMALFORMED;
    if (*s->p == '}')
      break;
    rc = token(s, word);
    if (rc <= 0)
      return FO_EMALFORMED;
    if (same_name(word, "algorithm")) {
      value = k->alg;
      k->has_alg = 1;
    } else if (same_name(word, "secret")) {
      value = k->secret;
      k->has_secret = 1;
    } else {
      if (skip_statement(s) != 0)
        return FO_EMALFORMED;
      continue;
    }
    if (skip_bind_space(s) != 0 || (rc = token(s, value)) == 0)
      return FO_EMALFORMED;
    if (rc < 0)
      return rc == FO_ERANGE && value == k->alg ? FO_EBADKEY : rc;
    if (skip_bind_space(s) != 0 || *s->p++ != ';')
      return FO_EMALFORMED;
  }
  s->p++; /* '}' */
  /* BIND wants the ';' after '}'; tolerate its absence at the end. */
  if (skip_bind_space(s) != 0)
    return FO_EMALFORMED;
  if (*s->p == ';')
    s->p++;
  return k->has_alg && k->has_secret ? 0 : FO_EMALFORMED;
}

/* ---- Knot's YAML --------------------------------------------------------- */

static const char *line_end(const char *p) {
  while (*p != '\0' && *p != '\n')
    p++;
  return p;
}

/* A YAML scalar between p and the end of line: unquoted up to a " #"
 * comment or trailing space, or quoted. */
static int yaml_value(const char *p, const char *end, char out[TOKEN_MAX]) {
  size_t n;
  while (p < end && (*p == ' ' || *p == '\t'))
    p++;
  if (p < end && (*p == '"' || *p == '\'')) {
    const char *q = memchr(p + 1, *p, (size_t)(end - p - 1));
    if (q == NULL)
      return FO_EMALFORMED;
    end = q;
    p++;
  } else {
    const char *q;
    for (q = p; q < end; q++)
      if (*q == '#' && (q == p || q[-1] == ' ' || q[-1] == '\t'))
        break;
    end = q;
    while (end > p && is_space(end[-1]))
      end--;
  }
  n = (size_t)(end - p);
  if (n >= TOKEN_MAX)
    return FO_ERANGE;
  memcpy(out, p, n);
  out[n] = '\0';
  return 0;
}

typedef int (*key_fn)(found *k, void *userdata);

/*
 * After "section:" (s->p just past the colon): the lines of the section,
 * until one that starts in column 0 with anything but '-' (the next
 * section). For "key:" (`fn` not NULL) each "- id:" starts a key and `fn`
 * gets each one read; a non-zero return stops the walk. Other sections
 * (fn NULL) are skipped.
 */
static int yaml_keys(scan *s, found *k, key_fn fn, void *userdata) {
  const char *p = line_end(s->p);
  int rc;
  memset(k, 0, sizeof *k);
  while (*p == '\n') {
    const char *line = p + 1, *end = line_end(line), *colon;
    char field[16];
    size_t n;
    p = line;
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
    if (p == end || *p == '#' || *p == '\r') {
      p = end;
      continue;
    }
    if (p == line && *p != '-')
      break; /* the next section */
    if (fn == NULL) {
      p = end; /* a section we skip */
      continue;
    }
    if (*p == '-') {
      if (k->has_name && (rc = fn(k, userdata)) != 0)
        return rc;
      memset(k, 0, sizeof *k);
      p++;
      while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    }
    colon = memchr(p, ':', (size_t)(end - p));
    if (colon == NULL || (size_t)(colon - p) >= sizeof field)
      return FO_EMALFORMED;
    n = (size_t)(colon - p);
    memcpy(field, p, n);
    field[n] = '\0';
    rc = 0;
    if (strcmp(field, "id") == 0) {
      rc = yaml_value(colon + 1, end, k->name);
      k->has_name = 1;
      if (rc == FO_ERANGE)
        rc = FO_ENAMETOOLONG;
    } else if (strcmp(field, "algorithm") == 0) {
      rc = yaml_value(colon + 1, end, k->alg);
      k->has_alg = 1;
      if (rc == FO_ERANGE)
        rc = FO_EBADKEY;
    } else if (strcmp(field, "secret") == 0) {
      rc = yaml_value(colon + 1, end, k->secret);
      k->has_secret = 1;
    }
    if (rc != 0)
      return rc;
    p = end;
  }
  s->p = p;
  if (fn != NULL && k->has_name && (rc = fn(k, userdata)) != 0)
    return rc;
  return 0;
}

/* "hmac-sha256:name:secret" on one line (the -y form keymgr -t prints). */
static int short_form(scan *s, found *k, const char *alg) {
  const char *end = line_end(s->p), *colon;
  size_t n;
  memset(k, 0, sizeof *k);
  colon = memchr(s->p, ':', (size_t)(end - s->p));
  if (colon == NULL)
    return FO_EMALFORMED;
  n = (size_t)(colon - s->p);
  if (n >= TOKEN_MAX)
    return FO_ENAMETOOLONG;
  memcpy(k->name, s->p, n);
  k->name[n] = '\0';
  memcpy(k->alg, alg, strlen(alg) + 1);
  if (yaml_value(colon + 1, end, k->secret) != 0)
    return FO_ERANGE;
  k->has_name = k->has_alg = k->has_secret = 1;
  s->p = end;
  return 0;
}

typedef struct pick {
  fo__tsig_key *key;
  const char *name;
  int rc;
  int done;
} pick;

/* The key asked for: build it (and stop), else go on. */
static int consider(found *k, void *userdata) {
  pick *want = userdata;
  if (want->name != NULL && !same_name(k->name, want->name))
    return 0;
  if (!k->has_alg || !k->has_secret)
    return FO_EMALFORMED;
  want->rc = fo__tsig_key_init(want->key, k->name, k->alg, k->secret);
  want->done = 1;
  return 1;
}

static int walk_text(scan *s, found *k, pick *want) {
  char word[TOKEN_MAX];
  for (;;) {
    int rc;
    if (skip_bind_space(s) != 0)
      return FO_EMALFORMED;
    if (*s->p == '\0')
      return FO_ENOENT;
    rc = token(s, word);
    if (rc < 0)
      return FO_EMALFORMED;
    if (rc == 0) {
      if (skip_statement(s) != 0)
        return FO_EMALFORMED;
      continue;
    }
    if (*s->p == ':') {
      s->p++;
      if (same_name(word, "key"))
        rc = yaml_keys(s, k, consider, want);
      else if (same_name(word, "hmac-sha256") ||
               same_name(word, "hmac-sha512"))
        rc = short_form(s, k, word) == 0 ? consider(k, want) : FO_EMALFORMED;
      else
        rc = yaml_keys(s, k, NULL, NULL) == 0 ? 0 : FO_EMALFORMED;
    } else if (same_name(word, "key")) {
      rc = bind_key(s, k);
      if (rc == 0)
        rc = consider(k, want);
    } else {
      rc = skip_statement(s);
    }
    if (rc != 0)
      return rc;
  }
}

int fo__tsig_key_parse_text(fo__tsig_key *key, const char *text,
                            const char *name) {
  found k;
  scan s;
  pick want;
  int rc;
  if (key == NULL || text == NULL)
    return FO_EINVAL;
  memset(key, 0, sizeof *key);
  s.p = text;
  want.key = key;
  want.name = name;
  want.rc = 0;
  want.done = 0;
  rc = walk_text(&s, &k, &want);
  OPENSSL_cleanse(&k, sizeof k);
  if (want.done)
    return want.rc;
  return rc;
}
