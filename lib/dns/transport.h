/*
 * transport.h - DNS exchanges with one authoritative server over UDP and
 * TCP on the caller's libuv loop (the engines' transport; replaces c-ares
 * for talking to authoritative servers, see docs/architecture.md).
 *
 * Why our own: c-ares 1.18 resets every socket of a server after one TCP
 * error (failing unrelated UDP queries), drops replies whose question does
 * not match (error replies without a question section were taken for
 * timeouts), reads a TCP answer only partly when the peer closes right
 * after sending it, and doubles the timeout on every try. The rules here:
 *
 *  - Replies are matched by message ID (unique among this server's queries
 *    in flight: the transport writes it into bytes 0-1 of the message; TSIG
 *    signs the original ID in its own RR, so signatures stay valid) and by
 *    server. A reply with a question section must echo the query's question
 *    (name case-insensitive, type, class), else it is ignored as a stray or
 *    a spoof; a reply with no question is accepted (NOTIMP, FORMERR and
 *    REFUSED replies often have none) and the caller reads its RCODE.
 *  - Truncated UDP replies (TC) are asked again over TCP, same message.
 *  - One TCP connection per server, queries pipelined with the 2-byte length
 *    prefix; answers are read whole even when the peer closes or resets
 *    right after writing them. A failed or closed TCP connection fails only
 *    the TCP queries still waiting on it; UDP queries go on untouched.
 *  - Time: each try waits `timeout_ms`; a query gets at most `tries` tries,
 *    so it ends after at most timeout_ms x tries (+ loop latency). UDP
 *    queries are sent again on each try. A TCP query is written once per
 *    connection and never re-sent while its connection is open (the server
 *    may still be applying it: an UPDATE must not be applied twice); it is
 *    re-sent only on a new connection after the old one failed, as a try.
 *  - Every query's callback runs exactly once: reply, timeout, transport
 *    error or cancel (fo__dnsx_close).
 */
#ifndef FO_TRANSPORT_H
#define FO_TRANSPORT_H

#include <failover.h>
#include <uv.h>

#include "hostport.h"

typedef struct fo__dnsx fo__dnsx;
typedef struct fo__dnsx_query fo__dnsx_query;

/*
 * The outcome of one query. `status` is 0 with the reply in `reply`/`len`
 * (valid during the call only; any RCODE: reading it is the caller's), or
 *   FO_ETIMEDOUT  no reply within timeout_ms x tries;
 *   FO_EIO        a transport failure, `detail` says which (below);
 *   FO_ECANCELED  fo__dnsx_close() ran.
 * `tries` is how many times it was sent (UDP) or connections used (TCP).
 */
/* `detail` of FO_EIO. */
enum {
  FO__DNSX_OK = 0,
  FO__DNSX_UNREACHABLE = 1, /* ICMP unreachable; TCP connect refused */
  FO__DNSX_CLOSED = 2,      /* TCP peer closed or reset before answering */
  FO__DNSX_GARBAGE = 3,     /* TCP stream that is not DNS framing */
  FO__DNSX_LOCAL = 4        /* a socket error on this side */
};

typedef void (*fo__dnsx_cb)(int status, int detail, const unsigned char *reply,
                            size_t len, unsigned tries, void *arg);

typedef struct fo__dnsx_config {
  const fo__hostport *server; /* copied */
  uint32_t timeout_ms;        /* per try, > 0 */
  uint32_t tries;             /* >= 1 */
  int use_tcp;                /* every query over TCP */
  int rcvbuf;                 /* UDP receive buffer, 0: system default */
} fo__dnsx_config;

/* Set up a transport to one server. `out` stays valid until the closed
 * callback of fo__dnsx_close() ran. Returns 0, FO_EINVAL, FO_ENOMEM,
 * FO_EIO. Nothing to close on failure. */
int fo__dnsx_new(fo__dnsx **out, uv_loop_t *loop, const fo_allocator *alloc,
                 const fo__dnsx_config *cfg);

/*
 * Send a complete DNS message (a query or an UPDATE, with its question or
 * zone section). The message is copied. `cb` runs exactly once, never from
 * inside this call (failures to even start come from the loop too), and may
 * send more queries, but must not call fo__dnsx_close()
 * on this transport. Returns 0, FO_EINVAL (not a DNS message), FO_ENOMEM,
 * FO_ECLOSING, FO_ERANGE (65,536 queries in flight already).
 */
int fo__dnsx_send(fo__dnsx *x, const unsigned char *msg, size_t len,
                  int force_tcp, fo__dnsx_cb cb, void *arg);

/* fo__dnsx_send() with a per-try timeout of its own (0: the transport's),
 * e.g. for an UPDATE a slow server may take seconds to apply: the query
 * still gets `tries` tries of that length. */
int fo__dnsx_send_timed(fo__dnsx *x, const unsigned char *msg, size_t len,
                        int force_tcp, uint32_t timeout_ms, fo__dnsx_cb cb,
                        void *arg);

/* Queries in flight (sent or waiting for a TCP connection). */
size_t fo__dnsx_in_flight(const fo__dnsx *x);

/* Fail every query with FO_ECANCELED (callbacks run now), close every
 * handle; `closed` runs from the loop once all are closed and the memory
 * is freed. NULL `closed` is allowed. */
void fo__dnsx_close(fo__dnsx *x, void (*closed)(void *userdata),
                    void *userdata);

#endif /* FO_TRANSPORT_H */
