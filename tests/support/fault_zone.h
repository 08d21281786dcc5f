/*
 * fault_zone.h - the zone behind a fault peer in zone mode (see
 * ft_fault_peer_start_zone() in fault_peer.h): a tiny authoritative primary
 * that applies RFC 2136 UPDATEs, answers queries from what it holds and
 * serves it by AXFR, every request and answer TSIG-signed (RFC 8945), laid
 * out here straight from the RFC with OpenSSL's HMAC(), independently of the
 * library's own code. Pure: bytes in, the reply and what to do with the
 * connection out; fault_peer.c does the sockets. Internal to the support
 * code: tests use the ft_fault_peer_zone_* functions.
 *
 * Plain C11 + POSIX threads + libcrypto (no Criterion, no libfailover).
 */
#ifndef FT_FAULT_ZONE_H
#define FT_FAULT_ZONE_H

#include <stddef.h>
#include <stdint.h>

#include "fault_peer.h"

typedef struct ft_zone ft_zone;

/* What the peer does with the connection around the reply. */
typedef enum ft_zone_conn {
  FT_ZC_KEEP = 0, /* nothing */
  FT_ZC_CLOSE,    /* close (FIN) */
  FT_ZC_RESET,    /* reset (SO_LINGER 0) */
  FT_ZC_STALL     /* TCP: read nothing more from it, never answer again */
} ft_zone_conn;

/* One reply. `data` holds whole messages: over TCP each with its 2-byte
 * length prefix (several for a zone transfer), over UDP one message without
 * it. Only the first `send_len` bytes are sent (a message cut short). */
typedef struct ft_zone_out {
  unsigned char *data;
  size_t len, send_len;
  unsigned delay_ms;   /* send after this long */
  ft_zone_conn before; /* instead of sending (TCP; UDP: nothing is sent) */
  ft_zone_conn after;  /* once sent (TCP only) */
} ft_zone_out;

ft_zone *ft_zone_new(const ft_zone_config *cfg);
void ft_zone_free(ft_zone *z);

/* 1 when the message's question (or zone section) names the zone or a name
 * under it: the zone answers it. */
int ft_zone_wants(ft_zone *z, const unsigned char *m, size_t len);

/* Handle one message that ft_zone_wants(): apply, answer, count. *out is
 * zeroed first; out->data is malloc'ed (NULL: nothing to send). */
void ft_zone_handle(ft_zone *z, const unsigned char *m, size_t len, int tcp,
                    ft_zone_out *out);

/* The calls behind ft_fault_peer_zone_*() (fault_peer.h). */
int ft_zone_add_rr(ft_zone *z, const char *name, const char *type, uint32_t ttl,
                const char *data);
void ft_zone_set_plan(ft_zone *z, ft_zone_kind kind, const ft_fault_step *steps,
                  size_t n, ft_fault_step otherwise);
int ft_zone_get_name(ft_zone *z, const char *name, char *buf, size_t size,
                   ft_zone_name_counts *counts);
void ft_zone_get_stats(ft_zone *z, ft_zone_stats *out);

#endif
