/*
 * etcd_http.c - see etcd_http.h.
 *
 * Why these libraries:
 *   - libcurl, easy interface: the store interface is synchronous, so a
 *     blocking request with a hard bound (CURLOPT_TIMEOUT_MS) is what is
 *     wanted; one easy handle per endpoint keeps its connection alive from
 *     one request to the next (one TCP handshake per endpoint, not per
 *     request). CURLOPT_NOSIGNAL: no SIGALRM in a library.
 *   - jansson for the answers: maintained, packaged by Debian
 *     (libjansson-dev), a strict parser (an answer that is not JSON is an
 *     error, not half a value), a small reference-counted API, and smaller
 *     than json-c. Requests are written by hand into a growing buffer
 *     (fo__jbuf): a commit of 10,000 rows is one body of 10,000 operations,
 *     built in linear time without a DOM.
 *
 * libcurl's global state is set up once per process with pthread_once
 * (curl_global_init is not safe to race with itself before libcurl 7.84).
 * A library does not call curl_global_cleanup: the application may use
 * libcurl too; what the global init allocated stays reachable until exit.
 */
#include "etcd_http.h"

#include "base64.h"

#include <failover.h>

#include <curl/curl.h>
#include <pthread.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "http://" + a bracketed IPv6 literal or a name + ":65535". */
#define BASE_MAX 300
#define HOST_MAX 255

typedef struct endpoint {
  char base[BASE_MAX]; /* "http://HOST:PORT" */
  CURL *h;
} endpoint;

struct fo__etcd {
  endpoint ep[FO__ETCD_ENDPOINTS_MAX];
  size_t n, cur; /* endpoints; the one that answered last */
  struct curl_slist *headers;
  char *resp; /* the answer being received */
  size_t resp_len, resp_cap;
  int resp_oom;
  int code;
};

/* ---- curl's global state ------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void) {
  curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- request bodies ------------------------------------------------------ */

static int jbuf_reserve(fo__jbuf *b, size_t more) {
  size_t cap;
  char *p;
  if (b->failed)
    return -1;
  if (b->len + more + 1 <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 512;
  while (cap < b->len + more + 1) {
    if (cap > SIZE_MAX / 2) {
      b->failed = 1;
      return -1;
    }
    cap *= 2;
  }
  p = realloc(b->p, cap);
  if (p == NULL) {
    b->failed = 1;
    return -1;
  }
  b->p = p;
  b->cap = cap;
  return 0;
}

void fo__jbuf_raw(fo__jbuf *b, const char *text) {
  size_t n = strlen(text);
  if (jbuf_reserve(b, n) != 0)
    return;
  memcpy(b->p + b->len, text, n + 1);
  b->len += n;
}

void fo__jbuf_b64(fo__jbuf *b, const void *data, size_t len) {
  size_t n;
  if (len > (SIZE_MAX - 3) / 4 * 3)
    return;
  n = FO__BASE64_ENCODED_LEN(len);
  if (jbuf_reserve(b, n + 2) != 0)
    return;
  b->p[b->len] = '"';
  fo__base64_encode(data, len, b->p + b->len + 1);
  b->p[b->len + 1 + n] = '"';
  b->p[b->len + 2 + n] = '\0';
  b->len += n + 2;
}

void fo__jbuf_i64(fo__jbuf *b, int64_t v) {
  char num[32];
  snprintf(num, sizeof(num), "\"%lld\"", (long long)v);
  fo__jbuf_raw(b, num);
}

void fo__jbuf_free(fo__jbuf *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

/* ---- the url ------------------------------------------------------------- */

static int is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int is_prefix_char(char c) { return is_name_char(c) || c == '/'; }

/* One "HOST:PORT" of `len` characters into `base`. Returns 0 or -1. */
static int parse_endpoint(const char *s, size_t len, char *base) {
  const char *end = s + len, *host = s, *host_end, *p;
  unsigned long port = 0;
  if (len == 0)
    return -1;
  if (*s == '[') {
    host_end = memchr(s, ']', len);
    if (host_end == NULL || host_end == s + 1)
      return -1;
    for (p = s + 1; p < host_end; p++)
      if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
            (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
        return -1;
    host_end++; /* keep the brackets: curl wants them */
  } else {
    for (host_end = s; host_end < end && *host_end != ':'; host_end++)
      if (!is_name_char(*host_end))
        return -1;
    if (host_end == s)
      return -1;
  }
  if ((size_t)(host_end - host) > HOST_MAX || host_end >= end ||
      *host_end != ':' || host_end + 1 == end || end - (host_end + 1) > 5)
    return -1;
  for (p = host_end + 1; p < end; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    port = port * 10 + (unsigned long)(*p - '0');
  }
  if (port == 0 || port > 65535)
    return -1;
  snprintf(base, BASE_MAX, "http://%.*s:%lu", (int)(host_end - host), host,
           port);
  return 0;
}

static int parse_url(fo__etcd *e, const char *url, char *prefix) {
  static const char scheme[] = "etcd://";
  const char *p, *slash;
  size_t n;
  if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
    return FO_EINVAL;
  p = url + sizeof(scheme) - 1;
  slash = strchr(p, '/');
  if (slash == NULL)
    return FO_EINVAL;
  while (p < slash) {
    const char *comma = memchr(p, ',', (size_t)(slash - p));
    const char *end = comma ? comma : slash;
    if (e->n == FO__ETCD_ENDPOINTS_MAX ||
        parse_endpoint(p, (size_t)(end - p), e->ep[e->n].base) != 0)
      return FO_EINVAL;
    e->n++;
    p = comma ? comma + 1 : slash;
    if (comma && p == slash)
      return FO_EINVAL; /* a trailing comma */
  }
  if (e->n == 0)
    return FO_EINVAL;
  p = slash + 1;
  n = strlen(p);
  if (n == 0 || n > FO__ETCD_PREFIX_MAX || p[0] == '/' || p[n - 1] == '/' ||
      strstr(p, "//") != NULL)
    return FO_EINVAL;
  for (slash = p; *slash; slash++)
    if (!is_prefix_char(*slash))
      return FO_EINVAL;
  snprintf(prefix, FO__ETCD_PREFIX_MAX + 3, "/%s/", p);
  return 0;
}

/* ---- requests ------------------------------------------------------------ */

static size_t on_data(char *data, size_t size, size_t nmemb, void *userdata) {
  fo__etcd *e = userdata;
  size_t n = size * nmemb;
  if (e->resp_len + n + 1 > e->resp_cap) {
    size_t cap = e->resp_cap ? e->resp_cap : 4096;
    char *p;
    while (cap < e->resp_len + n + 1)
      cap *= 2;
    p = realloc(e->resp, cap);
    if (p == NULL) {
      e->resp_oom = 1;
      return 0; /* aborts the transfer */
    }
    e->resp = p;
    e->resp_cap = cap;
  }
  memcpy(e->resp + e->resp_len, data, n);
  e->resp_len += n;
  e->resp[e->resp_len] = '\0';
  return n;
}

static int setup_handle(fo__etcd *e, CURL *h) {
  return curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)FO__ETCD_REQUEST_MS) !=
             CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                          (long)FO__ETCD_REQUEST_MS) != CURLE_OK ||
         /* http_proxy in the environment is not for the store */
         curl_easy_setopt(h, CURLOPT_PROXY, "") != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_HTTPHEADER, e->headers) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_WRITEDATA, e) != CURLE_OK ||
         curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L) != CURLE_OK;
}

int fo__etcd_open(fo__etcd **out, const char *url, char *prefix) {
  fo__etcd *e;
  size_t i;
  int rc;
  *out = NULL;
  e = calloc(1, sizeof(*e));
  if (e == NULL)
    return FO_ENOMEM;
  if ((rc = parse_url(e, url, prefix)) != 0) {
    free(e);
    return rc;
  }
  pthread_once(&curl_once, curl_init_once);
  if (curl_init_rc != CURLE_OK) {
    free(e);
    return FO_ESTOREIO;
  }
  /* No "Expect: 100-continue" on large bodies: a round trip saved. */
  e->headers = curl_slist_append(NULL, "Content-Type: application/json");
  if (e->headers != NULL) {
    struct curl_slist *more = curl_slist_append(e->headers, "Expect:");
    if (more == NULL) {
      curl_slist_free_all(e->headers);
      e->headers = NULL;
    }
  }
  if (e->headers == NULL) {
    free(e);
    return FO_ENOMEM;
  }
  for (i = 0; i < e->n; i++) {
    e->ep[i].h = curl_easy_init();
    if (e->ep[i].h == NULL || setup_handle(e, e->ep[i].h)) {
      fo__etcd_close(e);
      return FO_ENOMEM;
    }
  }
  *out = e;
  return 0;
}

void fo__etcd_close(fo__etcd *e) {
  size_t i;
  if (e == NULL)
    return;
  for (i = 0; i < e->n; i++)
    if (e->ep[i].h != NULL)
      curl_easy_cleanup(e->ep[i].h);
  curl_slist_free_all(e->headers);
  free(e->resp);
  free(e);
}

int fo__etcd_code(const fo__etcd *e) { return e->code; }

/* Could the request have reached a server? Only failures before a
 * connection was made are safe to repeat for a write. */
static int never_sent(CURLcode c, CURL *h) {
  curl_off_t connected = 0;
  switch (c) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
    return 1;
  case CURLE_OPERATION_TIMEDOUT:
    return curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected) ==
               CURLE_OK &&
           connected == 0;
  default:
    return 0;
  }
}

/* One POST to one endpoint. 0 with `*out`; 1: try the next endpoint;
 * FO_ESTOREIO / FO_ENOMEM: stop. */
static int post_one(fo__etcd *e, endpoint *ep, const char *path,
                    const fo__jbuf *body, fo__etcd_retry retry, json_t **out) {
  char url[BASE_MAX + 64];
  long status = 0;
  json_t *answer;
  CURLcode c;
  snprintf(url, sizeof(url), "%s%s", ep->base, path);
  e->resp_len = 0;
  e->resp_oom = 0;
  e->code = 0;
  if (curl_easy_setopt(ep->h, CURLOPT_URL, url) != CURLE_OK ||
      curl_easy_setopt(ep->h, CURLOPT_POSTFIELDSIZE_LARGE,
                       (curl_off_t)body->len) != CURLE_OK ||
      curl_easy_setopt(ep->h, CURLOPT_POSTFIELDS, body->p) != CURLE_OK)
    return FO_ENOMEM;
  c = curl_easy_perform(ep->h);
  if (e->resp_oom)
    return FO_ENOMEM;
  if (c != CURLE_OK)
    return retry == FO__ETCD_AGAIN || never_sent(c, ep->h) ? 1 : FO_ESTOREIO;
  curl_easy_getinfo(ep->h, CURLINFO_RESPONSE_CODE, &status);
  answer = json_loadb(e->resp ? e->resp : "", e->resp_len, 0, NULL);
  if (answer == NULL || !json_is_object(answer)) {
    json_decref(answer);
    return retry == FO__ETCD_AGAIN ? 1 : FO_ESTOREIO;
  }
  if (status != 200) {
    json_t *code = json_object_get(answer, "code");
    e->code = json_is_integer(code) ? (int)json_integer_value(code) : -1;
    json_decref(answer);
    /* 14, Unavailable: no leader, or this member cannot reach it. */
    return retry == FO__ETCD_AGAIN && e->code == 14 ? 1 : FO_ESTOREIO;
  }
  *out = answer;
  return 0;
}

int fo__etcd_call(fo__etcd *e, const char *path, fo__jbuf *body,
                  fo__etcd_retry retry, json_t **out) {
  size_t tried, first = e->cur;
  int rc = FO_ESTOREIO;
  *out = NULL;
  if (body->failed || body->p == NULL) {
    fo__jbuf_free(body);
    return FO_ENOMEM;
  }
  for (tried = 0; tried < e->n; tried++) {
    size_t i = (first + tried) % e->n;
    rc = post_one(e, &e->ep[i], path, body, retry, out);
    if (rc != 1) {
      if (rc == 0)
        e->cur = i;
      else if (rc == FO_ESTOREIO && e->code == 0)
        e->cur = (i + 1) % e->n; /* a transport failure: next time the next */
      break;
    }
    e->cur = (i + 1) % e->n;
    rc = FO_ESTOREIO;
  }
  fo__jbuf_free(body);
  return rc;
}

/* ---- etcd's request objects
 * -------------------------------------------------- */

void fo__etcd_j_key(fo__jbuf *b, const char *field, const void *k, size_t n) {
  fo__jbuf_raw(b, "\"");
  fo__jbuf_raw(b, field);
  fo__jbuf_raw(b, "\":");
  fo__jbuf_b64(b, k, n);
}

void fo__etcd_j_range(fo__jbuf *b, const void *k, size_t kn, const void *end,
                      size_t en, int64_t rev, int64_t limit, int count_only) {
  fo__jbuf_raw(b, "{");
  fo__etcd_j_key(b, "key", k, kn);
  if (end != NULL) {
    fo__jbuf_raw(b, ",");
    fo__etcd_j_key(b, "range_end", end, en);
  }
  if (rev > 0) {
    fo__jbuf_raw(b, ",\"revision\":");
    fo__jbuf_i64(b, rev);
  }
  if (limit > 0) {
    fo__jbuf_raw(b, ",\"limit\":");
    fo__jbuf_i64(b, limit);
  }
  if (count_only)
    fo__jbuf_raw(b, ",\"count_only\":true");
  fo__jbuf_raw(b, "}");
}

void fo__etcd_j_put(fo__jbuf *b, const void *k, size_t kn, const void *v,
                    size_t vn, int64_t lease) {
  fo__jbuf_raw(b, "{\"request_put\":{");
  fo__etcd_j_key(b, "key", k, kn);
  fo__jbuf_raw(b, ",");
  fo__etcd_j_key(b, "value", v, vn);
  if (lease != 0) {
    fo__jbuf_raw(b, ",\"lease\":");
    fo__jbuf_i64(b, lease);
  }
  fo__jbuf_raw(b, "}}");
}

void fo__etcd_j_delete(fo__jbuf *b, const void *k, size_t kn, const void *end,
                       size_t en) {
  fo__jbuf_raw(b, "{\"request_delete_range\":{");
  fo__etcd_j_key(b, "key", k, kn);
  if (end != NULL) {
    fo__jbuf_raw(b, ",");
    fo__etcd_j_key(b, "range_end", end, en);
  }
  fo__jbuf_raw(b, "}}");
}

void fo__etcd_j_compare(fo__jbuf *b, const void *k, size_t kn,
                        const char *target, const char *value, int64_t num) {
  fo__jbuf_raw(b, "{");
  fo__etcd_j_key(b, "key", k, kn);
  fo__jbuf_raw(b, ",\"result\":\"EQUAL\",\"target\":\"");
  fo__jbuf_raw(b, target);
  fo__jbuf_raw(b, "\",");
  if (strcmp(target, "VALUE") == 0) {
    fo__etcd_j_key(b, "value", value, strlen(value));
  } else {
    fo__jbuf_raw(b, strcmp(target, "CREATE") == 0 ? "\"create_revision\":"
                    : strcmp(target, "MOD") == 0  ? "\"mod_revision\":"
                                                  : "\"lease\":");
    fo__jbuf_i64(b, num);
  }
  fo__jbuf_raw(b, "}");
}

/* ---- leases
 * ------------------------------------------------------------------ */

static void j_id(fo__jbuf *b, const char *field, int64_t v) {
  fo__jbuf_raw(b, "{\"");
  fo__jbuf_raw(b, field);
  fo__jbuf_raw(b, "\":");
  fo__jbuf_i64(b, v);
  fo__jbuf_raw(b, "}");
}

int fo__etcd_lease_grant(fo__etcd *e, int64_t ttl_s, int64_t *id,
                         int64_t *granted) {
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  int64_t ttl = 0;
  int rc;
  j_id(&b, "TTL", ttl_s);
  /* Repeating a grant at worst leaves an unused lease to expire. */
  if ((rc = fo__etcd_call(e, "/v3/lease/grant", &b, FO__ETCD_AGAIN, &ans)))
    return rc;
  rc = fo__etcd_i64(ans, "ID", id);
  if (rc == 0)
    rc = fo__etcd_i64(ans, "TTL", &ttl);
  if (rc == 0 && (*id == 0 || ttl <= 0))
    rc = FO_ESTOREIO;
  if (granted != NULL)
    *granted = ttl;
  json_decref(ans);
  return rc;
}

int fo__etcd_lease_keepalive(fo__etcd *e, int64_t id) {
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  int64_t ttl = 0;
  int rc;
  j_id(&b, "ID", id);
  /* A stream in gRPC; through the gateway one request, one answer. */
  if ((rc = fo__etcd_call(e, "/v3/lease/keepalive", &b, FO__ETCD_AGAIN,
                          &ans)) != 0)
    return rc;
  rc = fo__etcd_i64(json_object_get(ans, "result"), "TTL", &ttl);
  json_decref(ans);
  return rc != 0 ? rc : ttl > 0 ? 0 : FO_ENOENT;
}

void fo__etcd_lease_revoke(fo__etcd *e, int64_t id) {
  fo__jbuf b = {NULL, 0, 0, 0};
  json_t *ans = NULL;
  j_id(&b, "ID", id);
  if (fo__etcd_call(e, "/v3/lease/revoke", &b, FO__ETCD_AGAIN, &ans) == 0)
    json_decref(ans);
}

/* ---- answers ------------------------------------------------------------- */

int fo__etcd_i64(const json_t *obj, const char *name, int64_t *out) {
  const json_t *v = json_object_get(obj, name);
  *out = 0;
  if (v == NULL)
    return 0;
  if (json_is_integer(v)) {
    *out = (int64_t)json_integer_value(v);
    return 0;
  }
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    char *end;
    long long x;
    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
      return FO_ESTOREIO;
    *out = (int64_t)x;
    return 0;
  }
  return FO_ESTOREIO;
}

/* Decode the base64 string field `name` of `obj` (absent: empty) into a
 * buffer that grows as needed. */
static int decode_field(const json_t *obj, const char *name,
                        unsigned char **buf, size_t *cap, size_t *len) {
  const json_t *v = json_object_get(obj, name);
  const char *s = "";
  size_t n = 0, need, got;
  if (v != NULL) {
    if (!json_is_string(v))
      return FO_ESTOREIO;
    s = json_string_value(v);
    n = json_string_length(v);
  }
  need = n / 4 * 3 + 3; /* unpadded tails too, and the NUL */
  if (need > *cap) {
    unsigned char *p = realloc(*buf, need);
    if (p == NULL)
      return FO_ENOMEM;
    *buf = p;
    *cap = need;
  }
  if (fo__base64_decode(s, n, *buf, *cap - 1, &got) != 0)
    return FO_ESTOREIO;
  (*buf)[got] = '\0';
  *len = got;
  return 0;
}

int fo__etcd_kv_read(const json_t *kv, fo__etcd_kv *out) {
  int rc;
  if (!json_is_object(kv) || json_object_get(kv, "key") == NULL)
    return FO_ESTOREIO;
  if ((rc = decode_field(kv, "key", &out->key, &out->key_cap, &out->key_len)) !=
          0 ||
      (rc = decode_field(kv, "value", &out->value, &out->value_cap,
                         &out->value_len)) != 0 ||
      (rc = fo__etcd_i64(kv, "lease", &out->lease)) != 0 ||
      (rc = fo__etcd_i64(kv, "create_revision", &out->create_revision)) != 0)
    return rc;
  return fo__etcd_i64(kv, "mod_revision", &out->mod_revision);
}

void fo__etcd_kv_free(fo__etcd_kv *kv) {
  free(kv->key);
  free(kv->value);
  memset(kv, 0, sizeof(*kv));
}

const json_t *fo__etcd_kvs(const json_t *range) {
  const json_t *kvs = json_object_get(range, "kvs");
  return json_is_array(kvs) ? kvs : NULL;
}

int fo__etcd_succeeded(const json_t *txn) {
  return json_is_true(json_object_get(txn, "succeeded"));
}

const json_t *fo__etcd_txn_range(const json_t *txn, size_t i) {
  return json_object_get(json_array_get(json_object_get(txn, "responses"), i),
                         "response_range");
}

int fo__etcd_header_revision(const json_t *answer, int64_t *out) {
  int rc = fo__etcd_i64(json_object_get(answer, "header"), "revision", out);
  return rc == 0 && *out <= 0 ? FO_ESTOREIO : rc;
}
