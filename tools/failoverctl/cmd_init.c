/*
 * cmd_init.c - `failoverctl init`: create the store (or update its
 * settings): zone, default TTL, the zone's primary, the TSIG key file's
 * path (never the secret) and the servers to verify.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const usage =
    "init --zone ZONE --server IP[:PORT] --key FILE [--verify @IP[:PORT] ...] "
    "[--ttl SECONDS]";

int cmd_init(session *s, int argc, char **argv) {
  static const char *const known[] = {"zone=", "server=", "key=", "verify=",
                                      "ttl=", NULL};
  const char *verify[16], *zone, *server, *key, *ttl_text;
  char list[FO_STORE_SETTING_VALUE_MAX + 1] = "";
  char keypath[4096];
  fo_registry_options o = FO_REGISTRY_OPTIONS_INIT;
  fo_tsig_key *k = NULL;
  args a;
  int i, n, rc, created;
  uint64_t rev = 0;
  if ((rc = args_parse(&a, argc, argv, known, usage)) != 0)
    return rc < 0 ? EXIT_DONE : rc;
  zone = args_get(&a, "zone");
  server = args_get(&a, "server");
  key = args_get(&a, "key");
  ttl_text = args_get(&a, "ttl");
  if (zone == NULL || server == NULL || key == NULL || a.npos != 0)
    return fail(s, EXIT_USAGE, 0, "usage: failoverctl %s", usage);
  o.zone = zone;
  if (ttl_text != NULL) {
    char *end;
    long v = strtol(ttl_text, &end, 10);
    if (*end != '\0' || v < (long)FO_TTL_MIN || v > (long)FO_TTL_MAX)
      return fail(s, EXIT_USAGE, FO_ERANGE, "--ttl must be %u..%u seconds",
                  FO_TTL_MIN, FO_TTL_MAX);
    o.default_ttl = (uint32_t)v;
  }
  if ((rc = engines_check_server(server)) != 0)
    return fail(s, EXIT_USAGE, rc, "bad --server %s: %s (an IP address, "
                "optionally with :PORT)", server, fo_strerror(rc));
  n = args_all(&a, "verify", verify, 16);
  for (i = 0; i < n; i++) {
    const char *v = verify[i][0] == '@' ? verify[i] + 1 : verify[i];
    if ((rc = engines_check_server(v)) != 0)
      return fail(s, EXIT_USAGE, rc, "bad --verify %s: %s", verify[i],
                  fo_strerror(rc));
    if (strlen(list) + strlen(v) + 2 > sizeof(list))
      return fail(s, EXIT_USAGE, FO_ERANGE, "too many --verify servers");
    if (list[0])
      strcat(list, " ");
    strcat(list, v);
  }
  if (realpath(key, keypath) == NULL ||
      (rc = fo_tsig_key_load(&k, keypath, NULL)) != 0)
    return fail(s, EXIT_STORE, FO_EIO, "cannot read the TSIG key file %s", key);
  fo_tsig_key_free(k);
  if (s->dry_run)
    return session_result(s, 0, "init", NULL);

  rc = fo_store_open(&s->store, s->db, FO_STORE_CREATE);
  if (rc != 0)
    return fail(s, exit_code_of(rc) == EXIT_REFUSED ? EXIT_STORE : exit_code_of(rc),
                rc, "cannot create the store %s: %s", s->db, fo_strerror(rc));
  fo_store_revision(s->store, &rev);
  created = rev == 0;
  rc = fo_registry_open(&s->reg, &o, s->store);
  if (rc != 0) {
    int code = exit_code_of(rc);
    fo_store_close(s->store);
    s->store = NULL;
    if (rc == FO_EZONE)
      return fail(s, EXIT_STORE, rc, "the store %s belongs to another zone "
                  "than %s", s->db, zone);
    return fail(s, code, rc, "cannot set up the store: %s", fo_strerror(rc));
  }
  if ((rc = fo_store_setting_put(s->store, SET_PRIMARY, server)) != 0 ||
      (rc = fo_store_setting_put(s->store, SET_KEY_FILE, keypath)) != 0 ||
      (rc = fo_store_setting_put(s->store, SET_VERIFY, list)) != 0)
    return fail(s, EXIT_STORE, rc, "cannot write the settings: %s",
                fo_strerror(rc));
  {
    uint32_t ttl = 0;
    fo_registry_default_ttl(s->reg, &ttl);
    if (s->json) {
      js_begin_obj(NULL);
      js_str("store", s->db);
      js_bool("created", created);
      js_str("zone", zone);
      js_str("server", server);
      js_str("key_file", keypath);
      js_begin_arr("verify");
      for (i = 0; i < n; i++)
        js_str(NULL, verify[i][0] == '@' ? verify[i] + 1 : verify[i]);
      js_end_arr();
      js_int("ttl", ttl);
      js_end_obj();
      js_done();
    } else {
      printf("%s %s for zone %s: primary %s, key %s%s%s, TTL %u s\n",
             created ? "created" : "updated", s->db, zone, server, keypath,
             list[0] ? ", verify " : "", list, (unsigned)ttl);
    }
  }
  return EXIT_DONE;
}
