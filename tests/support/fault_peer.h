/*
 * fault_peer.h - a DNS peer on 127.0.0.1 that misbehaves on request, for
 * the transport tests: one thread owning a UDP socket and a TCP listener
 * on the same port. Plain C11 + POSIX threads (no Criterion, no
 * libfailover).
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
  FT_FAULT_BIG_RESET
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

#ifdef __cplusplus
}
#endif

#endif
