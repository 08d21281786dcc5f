/*
 * tsig_public.c - the public TSIG key object: a wrapper that owns a
 * fo__tsig_key (tsig_keyfile.c) and wipes it when freed.
 */
#include <failover.h>
#include <failover/tsig.h>

#include "tsig.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

#define KEY_FILE_MAX (64 * 1024)

struct fo_tsig_key {
  fo__tsig_key key;
};

const fo__tsig_key *fo__tsig_key_of(const fo_tsig_key *key) {
  return &key->key;
}

int fo_tsig_key_new(fo_tsig_key **out, const char *name, const char *algorithm,
                    const char *secret_base64) {
  fo_tsig_key *k;
  int rc;
  if (out == NULL)
    return FO_EINVAL;
  *out = NULL;
  if ((k = calloc(1, sizeof(*k))) == NULL)
    return FO_ENOMEM;
  if ((rc = fo__tsig_key_init(&k->key, name, algorithm, secret_base64)) != 0) {
    fo_tsig_key_free(k);
    return rc;
  }
  *out = k;
  return 0;
}

int fo_tsig_key_load(fo_tsig_key **out, const char *path, const char *name) {
  fo_tsig_key *k = NULL;
  char *text;
  size_t n;
  FILE *f;
  int rc;
  if (out == NULL || path == NULL)
    return FO_EINVAL;
  *out = NULL;
  if ((f = fopen(path, "r")) == NULL)
    return FO_ENOENT;
  if ((text = malloc(KEY_FILE_MAX + 1)) == NULL) {
    fclose(f);
    return FO_ENOMEM;
  }
  n = fread(text, 1, KEY_FILE_MAX + 1, f);
  rc = ferror(f) ? FO_EIO : (n > KEY_FILE_MAX ? FO_EMALFORMED : 0);
  fclose(f);
  if (rc == 0) {
    text[n] = '\0';
    if ((k = calloc(1, sizeof(*k))) == NULL)
      rc = FO_ENOMEM;
    else if ((rc = fo__tsig_key_parse_text(&k->key, text, name)) != 0)
      fo_tsig_key_free(k);
    else
      *out = k;
  }
  /* The file's text holds the secret too. */
  OPENSSL_cleanse(text, KEY_FILE_MAX + 1);
  free(text);
  return rc;
}

void fo_tsig_key_free(fo_tsig_key *key) {
  if (key == NULL)
    return;
  fo__tsig_key_wipe(&key->key);
  free(key);
}

int fo_tsig_key_name(const fo_tsig_key *key, const char **out) {
  if (key == NULL || out == NULL)
    return FO_EINVAL;
  *out = key->key.name;
  return 0;
}
