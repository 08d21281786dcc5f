/*
 * axfr.h - read a zone by AXFR over TCP (RFC 5936) with TSIG, on a libuv
 * loop. Engine layer: its own TCP connection (a zone transfer is a stream
 * of many messages, not one exchange).
 *
 * The client connects, sends one AXFR query (signed when a key is given),
 * reads length-prefixed messages until the second SOA, checks every message
 * (RCODE, question, TSIG on the first and last message at least, RFC 8945
 * 5.3.1), and hands each RR of the zone to `rr_cb`. `done_cb` runs exactly
 * once, from the loop: 0, or FO_ETIMEDOUT, FO_EIO (connect/read error,
 * connection closed early), FO_EMALFORMED, FO_EREFUSED / FO_ENOTAUTH
 * (RCODE), FO_EBADKEY / FO_EBADSIG / FO_EBADTIME / FO_EUNSIGNED (TSIG),
 * FO_ECANCELED (fo__axfr_cancel). After it the client frees itself once its
 * handles are closed.
 *
 * Every message: ID equal to the query's, QR set, opcode QUERY; RCODE
 * REFUSED -> FO_EREFUSED, NOTAUTH -> FO_ENOTAUTH (or FO_EBADKEY /
 * FO_EBADSIG / FO_EBADTIME when its TSIG RR carries that error), SERVFAIL
 * -> FO_ESERVFAIL, any other non-zero RCODE -> FO_EREFUSED. The question is
 * required in the first message and, when present, must be <zone> AXFR IN.
 * The first answer RR must be the zone's SOA; the transfer ends at the
 * next SOA of the zone (RRs after it in that message are ignored).
 * FO_ENOMEM if the read buffer cannot grow (messages up to 65535 bytes).
 *
 * TSIG, when a key is given (RFC 8945 5.3.1), is verified as follows:
 *  - the first message must carry a TSIG RR, verified by fo__tsig_verify()
 *    over the request MAC, the message and all TSIG variables (key, time
 *    within the fudge);
 *  - every later message that carries a TSIG RR is verified here: same key
 *    name and algorithm, a full-length MAC (truncated MACs are refused:
 *    FO_EBADSIG), HMAC over the prior MAC (2-byte length + MAC), every
 *    unsigned message since the last signed one exactly as received, the
 *    message without its TSIG RR (ARCOUNT - 1, original ID), then the
 *    timers only (time signed, fudge); time signed within the fudge of now
 *    (FO_EBADTIME); a non-zero TSIG error is reported as such;
 *  - unsigned messages in between are allowed, at most 99 in a row
 *    (FO_EUNSIGNED at the 100th), and the message holding the closing SOA
 *    must be signed (FO_EUNSIGNED otherwise). So on done_cb(0) every byte
 *    of every message is covered by a verified MAC.
 *  - Not verified until the next signed message: the RRs of an unsigned
 *    intermediate message are handed to rr_cb as soon as it arrives. A
 *    caller must discard everything rr_cb received unless done_cb reports
 *    0. (knotd 3.2 and named 9.18 sign every message; the unsigned case is
 *    tested against a fake primary in tests/test_axfr.c.)
 * Without a key nothing is verified, and TSIG RRs in replies are ignored.
 */
#ifndef FO_AXFR_H
#define FO_AXFR_H

#include <uv.h>

#include "hostport.h"
#include "tsig.h"

/* One RR of the zone, decoded enough for reconciling. */
typedef struct fo__zone_rr {
  const char *owner; /* lowercase, no trailing dot */
  uint16_t type;
  uint32_t ttl;
  const char *data;  /* CNAME target / A / AAAA text; "" for other types */
} fo__zone_rr;

typedef void (*fo__axfr_rr_fn)(const fo__zone_rr *rr, void *userdata);
typedef void (*fo__axfr_done_fn)(int error, void *userdata);

typedef struct fo__axfr fo__axfr;

/* Start a transfer of `zone` from `server`. `key` may be NULL (unsigned),
 * `a` NULL (malloc), `rr_cb` NULL (RRs checked, not handed out);
 * `timeout_ms` 0 selects 10000 (the whole transfer's deadline).
 * Returns 0 (callbacks will come), FO_EINVAL, FO_EBADNAME, FO_ENOMEM,
 * FO_EIO. On FO_EIO no callback comes; handles already opened are closed
 * and the memory is freed when the loop runs their close callbacks. The
 * pointer in *out is valid until done_cb returns. */
int fo__axfr_start(fo__axfr **out, uv_loop_t *loop, const fo_allocator *a,
                   const fo__hostport *server, const char *zone,
                   const fo__tsig_key *key, uint32_t timeout_ms,
                   fo__axfr_rr_fn rr_cb, fo__axfr_done_fn done_cb,
                   void *userdata);

/* Stop: done_cb runs now with FO_ECANCELED (unless it already ran). Only
 * before done_cb returned (rr_cb and done_cb may call it); NULL is a
 * no-op. */
void fo__axfr_cancel(fo__axfr *x);

#endif
