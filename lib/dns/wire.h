/*
 * wire.h - the DNS message codec (RFC 1035 4.1): bytes in, structures out,
 * and the reverse. Knows nothing of groups, stacks, libuv or c-ares.
 *
 * Every parser here is fuzzed (fuzz/): it must never read outside the buffer
 * it is given, loop forever, or accept a name longer than 255 octets.
 */
#ifndef FO_WIRE_H
#define FO_WIRE_H

#include <failover.h>

#define FO__DNS_HEADER_LEN 12
#define FO__DNS_MAX_ANSWERS 64 /* answers kept; more are counted, not kept */
#define FO__DNS_MAX_UDP 65535

/* RR types and classes used here. */
#define FO__TYPE_A 1
#define FO__TYPE_NS 2
#define FO__TYPE_CNAME 5
#define FO__TYPE_SOA 6
#define FO__TYPE_AAAA 28
#define FO__CLASS_IN 1

/* RCODEs (RFC 1035, RFC 2136). */
#define FO__RCODE_NOERROR 0
#define FO__RCODE_FORMERR 1
#define FO__RCODE_SERVFAIL 2
#define FO__RCODE_NXDOMAIN 3
#define FO__RCODE_NOTIMP 4
#define FO__RCODE_REFUSED 5
#define FO__RCODE_YXDOMAIN 6
#define FO__RCODE_YXRRSET 7
#define FO__RCODE_NXRRSET 8
#define FO__RCODE_NOTAUTH 9
#define FO__RCODE_NOTZONE 10

/* One resource record of the answer section. Names are in presentation
 * form, lowercase, without trailing dot ("" is the root). */
typedef struct fo__dns_rr {
  char owner[FO_NAME_BUFSIZE];
  uint16_t type;
  uint16_t rclass;
  uint32_t ttl;
  uint16_t rdlength;
  /* Decoded RDATA for the types the verifier reads: */
  char target[FO_NAME_BUFSIZE]; /* CNAME (and NS) target, decompressed */
  char address[FO_IP_BUFSIZE];  /* A / AAAA in canonical text */
} fo__dns_rr;

typedef struct fo__dns_msg {
  uint16_t id;
  uint16_t flags; /* the raw flags word */
  int qr, aa, tc, rd, ra;
  unsigned opcode;
  unsigned rcode;
  uint16_t qdcount, ancount, nscount, arcount;
  char qname[FO_NAME_BUFSIZE]; /* first question, if qdcount >= 1 */
  uint16_t qtype;
  uint16_t qclass;
  size_t answer_count;         /* answers kept in `answers` */
  fo__dns_rr answers[FO__DNS_MAX_ANSWERS];
} fo__dns_msg;

/*
 * Parse a whole DNS message: header, the first question, every answer RR
 * (the first FO__DNS_MAX_ANSWERS are kept), and walk the authority and
 * additional sections to check they are well formed. Names may use
 * compression pointers; a pointer must point before the name it is in
 * (which rules out loops) and inside the message.
 *
 * Returns 0, or FO_EMALFORMED on anything that is not a well-formed message
 * (truncated, bad pointer, label > 63, name > 255 octets, RDATA overrunning
 * its RR or the message, A/AAAA of the wrong length).
 */
int fo__dns_parse(const uint8_t *buf, size_t len, fo__dns_msg *out);

/*
 * Read a (possibly compressed) name starting at `*off` in `msg` into `out`
 * (presentation form, lowercase, no trailing dot, labels with characters
 * outside LDH and '_' escaped as \DDD). On success `*off` moves past the
 * name as it appears at that position. Returns 0 or FO_EMALFORMED.
 */
int fo__dns_read_name(const uint8_t *msg, size_t len, size_t *off,
                      char out[FO_NAME_BUFSIZE]);

/*
 * Encode `name` (presentation form, optional trailing dot; "" or "." is
 * the root) uncompressed into `out` (at most 255 octets). Returns the
 * number of octets written, or FO_EBADNAME / FO_ENAMETOOLONG / FO_ENOSPC.
 */
int fo__dns_write_name(const char *name, uint8_t *out, size_t size);

/*
 * Build a standard query (opcode QUERY, one question, class IN) with the
 * given ID and RD bit. Returns the message length, or FO_EBADNAME /
 * FO_ENAMETOOLONG / FO_ENOSPC.
 */
int fo__dns_build_query(uint16_t id, const char *name, uint16_t qtype, int rd,
                        uint8_t *out, size_t size);

/*
 * The CNAME chain of a reply, as an answer to `qname`: starting at qname,
 * follow CNAME records of the answer section (case-insensitively) until a
 * name has none, at most FO__DNS_MAX_CHAIN hops (a longer or looping chain
 * sets `loop`). Then collect the records of `qtype` owned by the last name.
 */
#define FO__DNS_MAX_CHAIN 16

typedef struct fo__dns_chain {
  size_t hops;                               /* CNAMEs followed */
  char names[FO__DNS_MAX_CHAIN + 1][FO_NAME_BUFSIZE]; /* names[0] = qname */
  uint32_t ttls[FO__DNS_MAX_CHAIN];          /* TTL of each CNAME hop */
  int loop;                                  /* chain too long or looping */
  size_t address_count;
  char addresses[FO__DNS_MAX_ANSWERS][FO_IP_BUFSIZE];
  uint32_t address_ttl;                      /* min TTL of those records */
} fo__dns_chain;

void fo__dns_follow_chain(const fo__dns_msg *msg, const char *qname,
                          uint16_t qtype, fo__dns_chain *out);

/*
 * Walk every RR of every section (answer, authority, additional) of a
 * message, in order, calling `fn` for each with its section (1, 2, 3),
 * decoded as a fo__dns_rr (target/address filled for CNAME, NS, A, AAAA in
 * class IN). Used for zone transfers, whose messages hold thousands of RRs,
 * and for TSIG (the last additional RR). `rr_offset` is where the RR (its
 * owner name) starts in buf. `fn` returns 0 to go on; NULL only checks.
 * Returns 0, FO_EMALFORMED, or fn's non-zero value.
 */
typedef int (*fo__dns_rr_fn)(int section, const fo__dns_rr *rr,
                             size_t rr_offset, void *userdata);
int fo__dns_each_rr(const uint8_t *buf, size_t len, fo__dns_rr_fn fn,
                    void *userdata);

/*
 * A NOTIFY for `zone` (RFC 1996: opcode NOTIFY, AA, the zone's SOA as the
 * question). Returns the length, or the codes of fo__dns_build_query().
 */
int fo__dns_build_notify(uint16_t id, const char *zone, uint8_t *out,
                         size_t size);

/* `zone`'s SOA in the answer section of a reply: its serial, MINIMUM and
 * the RR's TTL. Returns 0, FO_ENOENT (no such SOA), FO_EMALFORMED,
 * FO_EINVAL. */
typedef struct fo__dns_soa_info {
  uint32_t serial;
  uint32_t minimum;
  uint32_t ttl;
} fo__dns_soa_info;

int fo__dns_soa(const uint8_t *buf, size_t len, const char *zone,
                fo__dns_soa_info *out);

/* Its serial only. */
int fo__dns_soa_serial(const uint8_t *buf, size_t len, const char *zone,
                       uint32_t *serial);

/* a < b in RFC 1982 serial number arithmetic (32 bits). */
int fo__serial_lt(uint32_t a, uint32_t b);

#endif /* FO_WIRE_H */
