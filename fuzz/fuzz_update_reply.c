/*
 * fuzz_update_reply.c - libFuzzer target for what comes back from an
 * UPDATE: the RR walker (fo__dns_each_rr) and TSIG verification
 * (fo__tsig_verify) with a fixed key and request MAC; the bytes are also
 * tried as a zone-transfer stream (fo__tsig_stream_next) and as key-file
 * text (fo__tsig_key_parse_text).
 *
 * Beyond "no crash, no leak": the walker's offsets must move forward and
 * stay inside the message, and the input signed with fo__tsig_sign must
 * verify as an unsolicited message (no request MAC) whenever it was a
 * whole message with nothing after its last record and no TSIG of its own
 * (and still walks once signed).
 */
#include <stdlib.h>
#include <string.h>

#include "tsig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000u

typedef struct walk {
  const uint8_t *msg;
  size_t len;
  size_t last_end; /* end of the previous record */
  size_t records;
  int has_tsig;
} walk;

static int on_rr(int section, const fo__dns_rr *rr, size_t rr_offset,
                 void *userdata) {
  walk *w = userdata;
  size_t off = rr_offset;
  char owner[FO_NAME_BUFSIZE];
  if (section < 1 || section > 3 || rr_offset >= w->len ||
      (w->records > 0 && rr_offset != w->last_end))
    abort();
  /* The owner read again at the offset given is the one decoded. */
  if (fo__dns_read_name(w->msg, w->len, &off, owner) != 0 ||
      strcmp(owner, rr->owner) != 0)
    abort();
  w->last_end = off + 10 + rr->rdlength;
  if (w->last_end > w->len)
    abort();
  w->records++;
  if (rr->type == FO__TYPE_TSIG)
    w->has_tsig = 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static fo__tsig_key key;
  static int ready;
  static const uint8_t req_mac[32] = {1, 2, 3, 4, 5, 6, 7, 8};
  static uint8_t buf[FO__DNS_MAX_UDP];
  uint8_t mac[FO__TSIG_MAC_MAX];
  size_t len, mac_len = 0;
  walk w;
  int rc;
  if (!ready) {
    if (fo__tsig_key_init(&key, "ft-key", "hmac-sha256",
                          "c2VjcmV0LXNlY3JldC1zZWNyZXQ=") != 0)
      abort();
    ready = 1;
  }

  memset(&w, 0, sizeof w);
  w.msg = data;
  w.len = size;
  rc = fo__dns_each_rr(data, size, on_rr, &w);
  (void)fo__tsig_verify(&key, data, size, req_mac, sizeof req_mac, NOW);

  /* The input as a zone-transfer stream: length-prefixed messages, each
   * through the chained verification (no crash, no leak, no read past a
   * message). */
  {
    fo__tsig_stream st;
    size_t off = 0;
    if (fo__tsig_stream_init(&st, &key, req_mac, sizeof req_mac) != 0)
      abort();
    while (size - off >= 2) {
      size_t n = (size_t)data[off] << 8 | data[off + 1];
      off += 2;
      if (n > size - off)
        break;
      if (fo__tsig_stream_next(&st, data + off, n, off + n == size, NOW) != 0)
        break;
      off += n;
    }
    fo__tsig_stream_free(&st);
  }

  /* The input as key-file text, too. */
  if (size < sizeof buf) {
    fo__tsig_key parsed;
    memcpy(buf, data, size);
    buf[size] = '\0';
    if (fo__tsig_key_parse_text(&parsed, (const char *)buf, NULL) == 0 &&
        (parsed.secret_len == 0 || parsed.secret_len > FO__TSIG_SECRET_MAX ||
         memchr(parsed.name, '\0', sizeof parsed.name) == NULL))
      abort();
    (void)fo__tsig_key_parse_text(&parsed, (const char *)buf, "ft-key");
    fo__tsig_key_wipe(&parsed);
  }

  /* Sign a copy and verify it back. */
  if (size < FO__DNS_HEADER_LEN || size > sizeof buf)
    return 0;
  memcpy(buf, data, size);
  len = size;
  if (fo__tsig_sign(&key, buf, &len, sizeof buf, NOW, mac, &mac_len) != 0)
    return 0;
  /* A name may point into the header, whose ARCOUNT signing changed: the
   * property holds when the signed message still walks. */
  if (rc == 0 && !w.has_tsig && w.records > 0 && w.last_end == size &&
      fo__dns_each_rr(buf, len, NULL, NULL) == 0) {
    int v = fo__tsig_verify(&key, buf, len, NULL, 0, NOW + 1);
    if (v != 0)
      abort();
  }
  return 0;
}
