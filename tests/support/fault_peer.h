/*
 * fault_peer.h - a DNS peer on 127.0.0.1 that misbehaves on request, for
 * the transport and engine fault tests: one thread owning a UDP socket and
 * a TCP listener on the same port. Plain C11 + POSIX threads (no
 * Criterion, no libfailover; the zone mode below uses libcrypto's HMAC).
 *
 * What it does with a query is written in the query's name:
 *
 *     <fault>[<arg>][x<limit>].q<key>.<anything>
 *
 * e.g. "delay50.q7.t", "rst.q12.t", "dropx2.q3.t". The first label names
 * the fault (below) with an optional number; "x<limit>" applies the fault
 * to the first <limit> arrivals of that key only (UDP and TCP together)
 * and answers the later ones normally, which scripts per-try behaviour.
 * The first label "plan" takes the next step of ft_fault_peer_plan()
 * instead (in arrival order; "ok" once the plan is used up). Names the
 * peer cannot read get "ok". <key> (0..FT_PEER_KEYS-1) indexes the
 * counters below.
 *
 *   ok          echo the question, NOERROR, AA, one A record 192.0.2.1
 *   drop        read it, never answer (TCP: the connection stays open)
 *   delay<ms>   answer after <ms>
 *   tc          UDP: the question with TC set, no records; TCP: ok
 *   ansclose    TCP: answer, then close (FIN); UDP: ok
 *   ansrst      TCP: answer, wait until the answer left the socket, then
 *               reset (SO_LINGER 0); UDP: ok
 *   close       TCP: close without answering; UDP: drop
 *   rst         TCP: reset without answering; UDP: drop
 *   garbage     TCP: a frame shorter than a DNS header, then close;
 *               UDP: 7 bytes
 *   wrongid     the answer with ID + 1
 *   wrongq      the answer with QTYPE + 1 in its question
 *   wrongname   the answer to another name
 *   noq<rcode>  a bare header: same ID, QR, QDCOUNT 0, RCODE <rcode>
 *   upper       the answer with its question name in upper case
 *   pieces<n>   TCP: the answer in pieces of <n> bytes, 2 ms apart
 *   hold        TCP: keep the answer until a "release" on the connection
 *   release     TCP: answer, then every held answer, last held first
 *   big<n>      the answer with <n> A records (TCP)
 *   bigrst<n>   big<n>, then as ansrst
 */
#ifndef FT_FAULT_PEER_H
#define FT_FAULT_PEER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FT_PEER_KEYS 8192

typedef enum ft_fault {
  FT_FAULT_OK = 0,
  FT_FAULT_DROP,
  FT_FAULT_DELAY,
  FT_FAULT_TC,
  FT_FAULT_ANSWER_CLOSE,
  FT_FAULT_ANSWER_RESET,
  FT_FAULT_CLOSE,
  FT_FAULT_RESET,
  FT_FAULT_GARBAGE,
  FT_FAULT_WRONG_ID,
  FT_FAULT_WRONG_QUESTION,
  FT_FAULT_WRONG_NAME,
  FT_FAULT_NO_QUESTION,
  FT_FAULT_UPPER,
  FT_FAULT_PIECES,
  FT_FAULT_HOLD,
  FT_FAULT_RELEASE,
  FT_FAULT_BIG,
  FT_FAULT_BIG_RESET,
  /* zone mode only (below) */
  FT_FAULT_LOST,
  FT_FAULT_RCODE,
  FT_FAULT_BAD_MAC,
  FT_FAULT_BAD_TIME,
  FT_FAULT_UNSIGNED,
  FT_FAULT_TRUNCATED,
  FT_FAULT_CUT,
  FT_FAULT_STALL,
  FT_FAULT_SPARSE,
  FT_FAULT_BADKEY,
  FT_FAULT_TAMPER,
  FT_FAULT_TRAILING,
  FT_FAULT_COUNT
} ft_fault;

typedef struct ft_fault_step {
  ft_fault fault;
  unsigned arg;
} ft_fault_step;

typedef struct ft_fault_peer ft_fault_peer;

/* Start a peer on a free port. NULL on failure (errno). */
ft_fault_peer *ft_fault_peer_start(void);
/* Stop the thread, close every socket, free. NULL is a no-op. */
void ft_fault_peer_stop(ft_fault_peer *p);
int ft_fault_peer_port(const ft_fault_peer *p);

/* Steps for queries named "plan.q<key>...", copied. */
void ft_fault_peer_plan(ft_fault_peer *p, const ft_fault_step *steps, size_t n);

/* Arrivals of <key> over UDP and TCP, and complete, valid answers the peer
 * handed to its kernel for it (those a client must accept: ok, noq,
 * upper, the TCP answers of tc, ansclose, ansrst, pieces, hold, release,
 * big; not tc over UDP nor the wrong ones). */
unsigned ft_fault_peer_udp(const ft_fault_peer *p, unsigned key);
unsigned ft_fault_peer_tcp(const ft_fault_peer *p, unsigned key);
unsigned ft_fault_peer_delivered(const ft_fault_peer *p, unsigned key);
/* Totals: TCP connections accepted, queries received. */
unsigned ft_fault_peer_connections(const ft_fault_peer *p);
unsigned ft_fault_peer_queries(const ft_fault_peer *p);

/* A loopback port where nothing listens on UDP or TCP (just freed). */
int ft_closed_port(void);

/* ---- zone mode: a TSIG-signed primary with faults --------------------------
 *
 * ft_fault_peer_start_zone() starts a peer that is also the primary of one
 * zone (support/fault_zone.c): every message whose question (an UPDATE's
 * zone section) is the zone or a name under it is handled by the zone, the
 * rest as above. Requests must carry a TSIG RR of the configured key that
 * verifies (else NOTAUTH with BADKEY/BADSIG/BADTIME, unsigned, counted in
 * bad_requests); answers are signed over the request MAC (RFC 8945), zone
 * transfers with the chaining rule of RFC 8945 5.3.1.
 *
 *   UPDATE (RFC 2136 update section: add, delete RRset, delete name, delete
 *   RR; prerequisites are not checked) - the zone's serial grows with each
 *   one applied; answered NOERROR with the zone section, signed.
 *   Queries - the RRs of the type asked at the name, or its CNAME, AA set;
 *   NODATA, NXDOMAIN for names the zone does not hold (not signed: the
 *   library asks those unsigned).
 *   AXFR over TCP - SOA, every RR in the order the names were first added,
 *   SOA, in messages of `axfr_chunk` RRs, the first with the question.
 *
 * Faults are not read from names here: each kind of request (UPDATE, query,
 * AXFR) takes the next step of its own plan (ft_fault_peer_zone_plan), in
 * arrival order, and once the plan is used up the plan's `otherwise` step.
 *
 * UPDATE steps ("applied": the zone changes before the peer answers, if at
 * all; an update that is not applied is not answered NOERROR either):
 *   OK           applied; signed NOERROR
 *   DROP         not applied, no answer (TCP: the connection stays open)
 *   LOST         applied, no answer (the answer was lost)
 *   DELAY        applied; the signed NOERROR after <arg> ms
 *   CLOSE        TCP: not applied, connection closed; UDP: as DROP
 *   RESET        TCP: applied, connection reset unanswered; UDP: as LOST
 *   ANSWER_CLOSE applied; signed NOERROR, then the connection closed
 *   WRONG_ID     applied; the signed answer with ID + 1
 *   WRONG_QUESTION applied; the signed answer naming another zone
 *   NO_QUESTION  not applied; a bare header (QDCOUNT 0), RCODE <arg>
 *   RCODE        not applied; the zone section echoed, RCODE <arg>
 *   GARBAGE      applied; UDP: 7 bytes; TCP: a 5-byte frame, then closed
 *   BAD_MAC      applied; NOERROR whose MAC does not verify
 *   BAD_TIME     applied; NOERROR signed an hour ago
 *   UNSIGNED     applied; NOERROR without TSIG
 *   TRUNCATED    applied; the signed NOERROR with its last 7 bytes cut
 *                (framed as sent: a message, not a stream error)
 * Query steps: OK, DROP, DELAY, WRONG_ID, NO_QUESTION, RCODE, GARBAGE.
 * AXFR steps (<arg> numbers a message of the transfer from 0; a step that
 * would spare the whole transfer hits its last message instead):
 *   OK           the zone, every message signed
 *   SPARSE       only every <arg>-th message and the last signed (valid
 *                while no more than 99 unsigned ones come in a row)
 *   TAMPER       as SPARSE (<arg> at least 2), and message 1, unsigned,
 *                altered after the chain covered it (its last RR's TTL):
 *                the next signed message must fail
 *   DELAY        the whole transfer after <arg> ms
 *   CLOSE/RESET  <arg> messages, then close / reset
 *   CUT          <arg> messages, half of the next, then close
 *   STALL        <arg> messages, then silence (the connection stays)
 *   GARBAGE      <arg> messages, then a 5-byte frame, then close
 *   TRUNCATED    message <arg> framed whole, its last 7 bytes cut off
 *   BAD_MAC      message <arg>'s MAC with a byte flipped
 *   BAD_TIME     message <arg> signed an hour ago
 *   WRONG_ID     message <arg> with ID + 1
 *   WRONG_QUESTION the first message's question with QTYPE + 1
 *   WRONG_NAME   the first RR is not the SOA (the first two swapped)
 *   TRAILING     an A record after the closing SOA, in its message (to be
 *                ignored: the transfer ends at the SOA)
 *   UNSIGNED     the last message without TSIG
 *   RCODE        one unsigned message: the question, RCODE <arg>
 *   BADKEY       one message: NOTAUTH, TSIG error BADKEY, no MAC
 */

typedef struct ft_zone_config {
  const char *zone;      /* no trailing dot */
  const char *key_name;  /* e.g. "ft-key" */
  const char *algorithm; /* "hmac-sha256" or "hmac-sha512" */
  const void *secret;    /* raw bytes */
  size_t secret_len;
  unsigned axfr_chunk;   /* RRs per AXFR message; 0 selects 20 */
} ft_zone_config;

typedef enum ft_zone_kind {
  FT_ZONE_UPDATE = 0,
  FT_ZONE_QUERY = 1,
  FT_ZONE_AXFR = 2
} ft_zone_kind;

typedef struct ft_zone_stats {
  unsigned updates_udp, updates_tcp; /* UPDATEs received */
  unsigned applied;      /* UPDATEs applied */
  unsigned answered;     /* signed NOERROR answers to UPDATEs sent */
  unsigned queries;      /* queries for names of the zone */
  unsigned transfers;    /* AXFR requests */
  unsigned bad_requests; /* unparsable, unsigned or failing TSIG */
  unsigned update_faults[FT_FAULT_COUNT]; /* steps dealt, by fault */
  unsigned query_faults[FT_FAULT_COUNT];
  unsigned axfr_faults[FT_FAULT_COUNT];
  unsigned axfr_messages; /* messages of transfers built */
} ft_zone_stats;

/* Per name: UPDATEs that named it, were applied, were answered NOERROR. */
typedef struct ft_zone_name_counts {
  unsigned updates, applied, answered;
} ft_zone_name_counts;

/* A zone peer (see above) on a free port. NULL on failure. Stop it with
 * ft_fault_peer_stop(). */
ft_fault_peer *ft_fault_peer_start_zone(const ft_zone_config *cfg);
/* Add an RR: type "A", "AAAA", "CNAME", "NS" or "TXT" with its data in
 * presentation form (names without trailing dot). Returns 0 or -1. */
int ft_fault_peer_zone_add(ft_fault_peer *p, const char *name,
                           const char *type, uint32_t ttl, const char *data);
/* The plan of one kind of request (copied; replaces the previous one). */
void ft_fault_peer_zone_plan(ft_fault_peer *p, ft_zone_kind kind,
                             const ft_fault_step *steps, size_t n,
                             ft_fault_step otherwise);
/* What the zone holds at `name`: one line per RR, "<TYPE> <ttl> <data>\n"
 * (names lowercase without trailing dot, addresses as inet_ntop writes
 * them), sorted; "" when nothing. Counts may be NULL. Returns 0, or -1
 * when `buf` is too small. Safe while the peer runs. */
int ft_fault_peer_zone_lookup(ft_fault_peer *p, const char *name, char *buf,
                              size_t size, ft_zone_name_counts *counts);
void ft_fault_peer_zone_stats(ft_fault_peer *p, ft_zone_stats *out);
/* A slow primary: every zone request that arrives over TCP from now on is
 * handled (applied, answered) `ms` later, in arrival order, and applied
 * even if its connection is gone by then. 0: at once again. */
void ft_fault_peer_zone_tcp_lag(ft_fault_peer *p, unsigned ms);

#ifdef __cplusplus
}
#endif

#endif
