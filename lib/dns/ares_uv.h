/*
 * ares_uv.h - the one place where c-ares meets libuv.
 *
 * A fo__ares_uv owns one c-ares channel driven by the caller's loop: one
 * uv_poll_t per socket c-ares opens (created and stopped from c-ares'
 * socket-state callback, which does nothing else: no c-ares call is ever
 * made from inside it) and one uv_timer_t armed from ares_timeout().
 * Closing destroys the channel (c-ares then calls every pending query's
 * callback with ARES_EDESTRUCTION) and closes every handle; the owner is
 * told once the last close callback ran, and only then may it free the
 * struct. Both the verifier and the publisher use this module.
 */
#ifndef FO_ARES_UV_H
#define FO_ARES_UV_H

/* c-ares 1.18's header uses fd_set and struct timeval without including
 * their headers. */
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <ares.h>
#include <uv.h>

#include <failover.h>

#include "hostport.h"

typedef struct fo__ares_sock fo__ares_sock;

typedef struct fo__ares_uv {
  uv_loop_t *loop;
  ares_channel channel;
  const fo_allocator *alloc;
  uv_timer_t timer;
  fo__ares_sock *socks;   /* sockets c-ares asked us to watch */
  unsigned open_handles;  /* handles whose close callback has not run */
  int closing;
  int degraded;           /* a socket could not be watched (ENOMEM) */
  int rcvbuf;             /* socket receive buffer, 0 for the default */
  void (*on_closed)(struct fo__ares_uv *au, void *userdata);
  void *closed_userdata;
} fo__ares_uv;

typedef struct fo__ares_uv_config {
  const fo__hostport *server; /* the channel's only server */
  uint32_t timeout_ms;
  uint32_t tries;
  int use_tcp;
  int raw_replies; /* ARES_FLAG_NOCHECKRESP: every RCODE reaches callbacks */
  int rcvbuf;      /* socket receive buffer, 0 for the system default */
} fo__ares_uv_config;

/* Set up `au` (caller-owned memory that must stay put until closed).
 * Returns 0, FO_ENOMEM or FO_EIO. Nothing needs closing on failure. */
int fo__ares_uv_init(fo__ares_uv *au, uv_loop_t *loop,
                     const fo_allocator *alloc,
                     const fo__ares_uv_config *cfg);

/* Send a complete DNS message; `cb` runs exactly once, from inside c-ares
 * processing (so it must not close the channel) or from ares_uv_close.
 * After a batch of sends, call fo__ares_uv_arm() once: sending does not
 * re-arm the timer (ares_timeout() per query was measurable). */
void fo__ares_uv_send(fo__ares_uv *au, const unsigned char *msg, int len,
                      ares_callback cb, void *arg);

/* Re-arm the timer for c-ares' next timeout. */
void fo__ares_uv_arm(fo__ares_uv *au);

/* Destroy the channel and close every handle; `on_closed` runs from the
 * loop when all are closed. */
void fo__ares_uv_close(fo__ares_uv *au,
                       void (*on_closed)(fo__ares_uv *au, void *userdata),
                       void *userdata);

/* Map a c-ares status to a library code (FO_ETIMEDOUT, FO_ECANCELED, ...). */
int fo__ares_status_code(int status);

#endif /* FO_ARES_UV_H */
