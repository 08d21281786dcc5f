/*
 * consumer.c - a program built against an *installed* libfailover, through
 * pkg-config and through find_package(failover). Exits 0 on success.
 */
#include <failover.h>

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

int main(void) {
  fo_registry_options opts = FO_REGISTRY_OPTIONS_INIT;
  fo_registry *reg = NULL;
  fo_stack *shop = NULL;
  fo_group *group = NULL;
  fo_rrset set;
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
  fo_registry_free(reg);
  return 0;

fail:
  fo_registry_free(reg);
  return 1;
}
