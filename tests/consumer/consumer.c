/*
 * consumer.c - a program built against an *installed* libfailover, through
 * pkg-config and through find_package(failover). Exits 0 on success.
 */
/* <uv.h> (pulled in by the engines' headers) needs POSIX declarations. */
#define _POSIX_C_SOURCE 200809L

#include <failover.h>
#include <failover/publish.h>

#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                           \
  do {                                                                        \
    int rc_ = (call);                                                         \
    if (rc_ != 0) {                                                           \
      fprintf(stderr, "consumer: %s: %s (%s)\n", #call, fo_strerror(rc_),     \
              fo_err_name(rc_));                                              \
      goto fail;                                                              \
    }                                                                         \
  } while (0)

/* The engines link too (libuv, libcrypto, SQLite): a verifier and a
 * publisher are created on a loop and closed again; nothing is sent. */
static int engines(fo_registry *reg) {
  const char *servers[] = {"127.0.0.1:9"};
  fo_verifier_options vo = FO_VERIFIER_OPTIONS_INIT;
  fo_publisher_options po = FO_PUBLISHER_OPTIONS_INIT;
  fo_verifier *v = NULL;
  fo_publisher *pub = NULL;
  fo_tsig_key *key = NULL;
  uv_loop_t loop;
  int rc;

  if (uv_loop_init(&loop) != 0)
    return -1;
  vo.servers = servers;
  vo.server_count = 1;
  rc = fo_verifier_new(&v, &loop, &vo);
  if (rc == 0)
    rc = fo_tsig_key_new(&key, "consumer-key", "hmac-sha256",
                         "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==");
  po.server = "127.0.0.1:9";
  po.key = key;
  if (rc == 0)
    rc = fo_publisher_new(&pub, &loop, reg, &po);
  fo_tsig_key_free(key);
  fo_publisher_close(pub, NULL, NULL);
  fo_verifier_close(v, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0 && rc == 0)
    rc = -1;
  if (rc != 0)
    fprintf(stderr, "consumer: engines: %s\n", fo_err_name(rc));
  return rc;
}

int main(void) {
  fo_registry_options opts = FO_REGISTRY_OPTIONS_INIT;
  fo_registry *reg = NULL;
  fo_stack *shop = NULL;
  fo_group *group = NULL;
  fo_rrset set = FO_RRSET_INIT;
  char text[1024];
  size_t len = 0;

  if (fo_version() != FO_VERSION_HEX) {
    fprintf(stderr, "consumer: header version %#x, library %#x\n",
            (unsigned int)FO_VERSION_HEX, fo_version());
    return 1;
  }
  printf("libfailover %s\n", fo_version_string());

  opts.zone = "example.net";
  CHECK(fo_registry_new(&reg, &opts));
  CHECK(fo_stack_new(&shop, reg, "shop"));
  CHECK(fo_stack_add_server(shop, FO_SERVER_WEB, "web1", NULL));
  CHECK(fo_group_create(&group, reg, shop, NULL));
  CHECK(fo_group_records(group, &set));
  CHECK(fo_rrset_format(&set, text, sizeof text, &len));
  fputs(text, stdout);

  if (set.count != 1 || len != strlen(text) ||
      strstr(text, " IN CNAME web1.shop.example.net.\n") == NULL) {
    fprintf(stderr, "consumer: unexpected records\n");
    goto fail;
  }
  if (engines(reg) != 0)
    goto fail;
  fo_registry_free(reg);
  return 0;

fail:
  fo_registry_free(reg);
  return 1;
}
