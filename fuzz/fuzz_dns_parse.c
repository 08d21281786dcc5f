/*
 * fuzz_dns_parse.c - libFuzzer target for the DNS codec (lib/dns/wire.h).
 *
 * Beyond "no crash, no hang", it checks the properties the verifier relies
 * on: every name that reads back is text that encodes again to a name of
 * at most 255 octets and reads back the same, and a chain never reports
 * more than it has room for. The input is also tried as presentation text
 * for the encoder and the query builder.
 */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fo__dns_msg msg;
static fo__dns_chain chain;

/* Text from read_name must re-encode and read back to itself. */
static void check_round_trip(const char *name) {
  uint8_t wire[FO__DNS_HEADER_LEN + 256];
  char again[FO_NAME_BUFSIZE];
  size_t off = 0;
  int n = fo__dns_write_name(name, wire, sizeof wire);
  if (n <= 0 || n > 255)
    abort();
  if (fo__dns_read_name(wire, (size_t)n, &off, again) != 0)
    abort();
  if (off != (size_t)n || strcmp(name, again) != 0)
    abort();
}

static void check_chain(uint16_t qtype) {
  size_t i;
  fo__dns_follow_chain(&msg, msg.qname, qtype, &chain);
  if (chain.hops > FO__DNS_MAX_CHAIN ||
      chain.address_count > FO__DNS_MAX_ANSWERS)
    abort();
  if (chain.loop && chain.address_count != 0)
    abort();
  for (i = 0; i < chain.address_count; i++)
    if (memchr(chain.addresses[i], '\0', FO_IP_BUFSIZE) == NULL)
      abort();
}

/* The input as text: refused, or encoded to a name that reads back whole,
 * and the query built from it parses back to a single question. */
static void check_text(const uint8_t *data, size_t size) {
  char text[512];
  uint8_t wire[300], query[FO__DNS_HEADER_LEN + 300];
  char back[FO_NAME_BUFSIZE];
  size_t off = 0;
  int n, q;
  if (size >= sizeof text)
    return;
  memcpy(text, data, size);
  text[size] = '\0';
  n = fo__dns_write_name(text, wire, sizeof wire);
  q = fo__dns_build_query(0x1234, text, FO__TYPE_A, 1, query, sizeof query);
  if (n < 0) {
    if (q != n)
      abort();
    return;
  }
  if (n == 0 || n > 255 || q != FO__DNS_HEADER_LEN + n + 4)
    abort();
  /* Escaped text may not fit the buffer even though the wire form is
   * legal; then both reads must refuse alike. */
  if (fo__dns_read_name(wire, (size_t)n, &off, back) == 0) {
    if (off != (size_t)n)
      abort();
    if (fo__dns_parse(query, (size_t)q, &msg) != 0 || msg.qdcount != 1 ||
        strcmp(msg.qname, back) != 0 || msg.rd != 1 ||
        msg.qtype != FO__TYPE_A)
      abort();
  } else if (fo__dns_parse(query, (size_t)q, &msg) != FO_EMALFORMED) {
    abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t off, start, limit = size < 64 ? size : 64;
  char name[FO_NAME_BUFSIZE];

  if (fo__dns_parse(data, size, &msg) == 0) {
    size_t i;
    if (msg.answer_count > FO__DNS_MAX_ANSWERS ||
        msg.answer_count > msg.ancount)
      abort();
    check_round_trip(msg.qname);
    for (i = 0; i < msg.answer_count; i++) {
      check_round_trip(msg.answers[i].owner);
      if (msg.answers[i].type == FO__TYPE_CNAME)
        check_round_trip(msg.answers[i].target);
    }
    check_chain(FO__TYPE_A);
    check_chain(FO__TYPE_AAAA);
  }

  for (start = 0; start < limit; start++) {
    off = start;
    if (fo__dns_read_name(data, size, &off, name) == 0) {
      if (off <= start || off > size)
        abort();
      check_round_trip(name);
    }
  }
  check_text(data, size);
  return 0;
}
