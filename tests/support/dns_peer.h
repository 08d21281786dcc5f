/*
 * dns_peer.h - fake DNS peers on 127.0.0.1 for tests: a thread that owns a
 * UDP socket and a TCP listener on the same port and answers badly on
 * purpose. Plain C11 + POSIX threads (no Criterion, no libfailover).
 *
 * Real servers cover NOERROR/NXDOMAIN/REFUSED; these cover silence, junk
 * and replies that pass c-ares' own checks (same ID, same question) but are
 * not valid answers, and RCODEs a real authoritative server will not give
 * on demand (SERVFAIL, NOTIMP, FORMERR).
 */
#ifndef FT_DNS_PEER_H
#define FT_DNS_PEER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A records in an FT_PEER_MANY_ADDRESSES answer. */
#define FT_PEER_MANY_COUNT 70

typedef enum ft_dns_peer_mode {
  /* Receive, never answer (TCP: accept, read, never answer). */
  FT_PEER_SILENT = 0,
  /* Answer with 1..100 random bytes (almost surely a wrong ID: a resolver
   * drops them, so the client sees a timeout). */
  FT_PEER_GARBAGE,
  /* Answer with the first 6 bytes of the query: right ID, shorter than a
   * header. */
  FT_PEER_SHORT,
  /* Right ID and question, QR+AA, ANCOUNT 1, then a CNAME RR cut short
   * (RDLENGTH 50, 3 bytes present). */
  FT_PEER_TRUNCATED_RR,
  /* Right ID and question, one answer whose owner name is a compression
   * pointer to itself. */
  FT_PEER_POINTER_LOOP,
  /* Right ID and question, a CNAME whose target name runs past its
   * RDLENGTH (RDLENGTH 2, name of 11 bytes). */
  FT_PEER_BAD_RDATA,
  /* Right ID and question, no records, RCODE = peer->rcode (set before
   * start), AA set. */
  FT_PEER_RCODE,
  /* Right ID, QR+AA, but QDCOUNT 0 and no question; RCODE = peer->rcode. */
  FT_PEER_NO_QUESTION,
  /* Right ID and question, NOERROR, FT_PEER_MANY_COUNT A records for the
   * name asked (more than the verifier reads). */
  FT_PEER_MANY_ADDRESSES,
  /* The whole request sent back (its TSIG RR included) with QR set and
   * RCODE = peer->rcode, as Unbound answers an UPDATE with NOTIMP. */
  FT_PEER_ECHO
} ft_dns_peer_mode;

typedef struct ft_dns_peer {
  ft_dns_peer_mode mode;
  int rcode;              /* FT_PEER_RCODE */
  int port;
  char addr[64];          /* "127.0.0.1:PORT" */
  atomic_uint udp_queries;
  atomic_uint tcp_queries;
  atomic_uint tcp_connections;
  atomic_int last_flags;  /* bytes 2-3 of the last query, -1 before */
  atomic_int last_qtype;  /* QTYPE of the last query, -1 before */
  /* private */
  int udp_fd, tcp_fd, stop_pipe[2];
  pthread_t thread;
  int running;
} ft_dns_peer;

/* Start a peer in `mode`. The RCODE, NO_QUESTION and ECHO modes answer
 * with peer->rcode, which must be set before (or use
 * ft_dns_peer_start_rcode). Returns 0 or -1 (errno). */
int ft_dns_peer_start(ft_dns_peer *peer, ft_dns_peer_mode mode);
int ft_dns_peer_start_rcode(ft_dns_peer *peer, int rcode);
/* Stop the thread, close every socket. Safe to call twice. */
void ft_dns_peer_stop(ft_dns_peer *peer);
/* Queries received so far over UDP and TCP. */
unsigned ft_dns_peer_queries(ft_dns_peer *peer);

#ifdef __cplusplus
}
#endif

#endif
