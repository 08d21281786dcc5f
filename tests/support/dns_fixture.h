/*
 * dns_fixture.h - real authoritative DNS servers (knotd, named) on loopback
 * for tests and benchmarks.
 *
 * Independent of Criterion and of libfailover: plain C11 + POSIX, so bench/
 * and examples/ can compile dns_fixture.c on its own.
 *
 * Each server gets a fresh temporary directory (mkdtemp under $TMPDIR or
 * /tmp) with its configuration, zone file, TSIG key and log, runs in the
 * foreground as a child of the calling process (PR_SET_PDEATHSIG SIGKILL:
 * it dies with the thread that started it), and is ready when its SOA
 * answers with the serial this fixture chose (a random serial per instance,
 * so a foreign server on the same port is never mistaken for ours).
 *
 * Typical use:
 *
 *   ft_dns_config cfg = FT_DNS_CONFIG_INIT;
 *   const char *recs[] = { "www 60 CNAME web1.example.net.", NULL };
 *   cfg.records = recs;
 *   ft_dns_server srv;
 *   if (ft_dns_start(&srv, FT_DNS_KNOT, &cfg) != 0) { ...srv.error... }
 *   ... ask 127.0.0.1 port srv.port (or srv.addr4 / srv.addr6 strings) ...
 *   ft_dns_update(&srv, "update delete www CNAME\nupdate add www 60 CNAME x.\n");
 *   ft_dns_stop(&srv);
 *
 * Not thread-safe; call from one thread. PR_SET_PDEATHSIG is tied to the
 * *thread* that forks: start servers from a thread that lives as long as
 * they should.
 */
#ifndef FT_DNS_FIXTURE_H
#define FT_DNS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FT_DNS_DEFAULT_ZONE "failover.example.net"
#define FT_DNS_KEY_NAME "ft-key"

typedef enum ft_dns_kind {
  FT_DNS_KNOT = 1, /* knotd, updates with knsupdate */
  FT_DNS_BIND = 2  /* named, updates with nsupdate */
} ft_dns_kind;

typedef struct ft_dns_server ft_dns_server;

typedef struct ft_dns_config {
  /* Zone to serve (no trailing dot); NULL: FT_DNS_DEFAULT_ZONE. */
  const char *zone;
  /* Extra zone-file lines in presentation format, NULL-terminated array
   * (owner names relative to the zone unless they end with a dot), e.g.
   * "www 60 IN CNAME web1". SOA and NS (ns.<zone>, A 127.0.0.1) are
   * written by the fixture. May be NULL. */
  const char *const *records;
  /* More lines as one newline-separated string (appended after `records`).
   * May be NULL. */
  const char *records_text;
  /* Port for both 127.0.0.1 and ::1 (UDP and TCP). 0: pick a free one at
   * random in [FT_DNS_PORT_MIN, FT_DNS_PORT_MAX] and retry with another if
   * the server does not come up. */
  int port;
  /* Do not listen on ::1 (default: listen on both). */
  int no_ipv6;
  /* Secondary: the primary to transfer the zone from (started before, same
   * kind or not). The secondary is ready when its SOA serial equals the
   * primary's at start. The primary must have been started with
   * notify_port set to this server's port for prompt NOTIFYs; see
   * ft_dns_start_pair(). */
  const ft_dns_server *primary;
  /* Primary: send NOTIFY to 127.0.0.1@notify_port after changes (0: none).
   * Transfers from 127.0.0.1 are allowed to anyone (and to the key). */
  int notify_port;
  /* Readiness deadline in ms; 0: 10000. */
  int ready_timeout_ms;
  /* Extra text appended verbatim to the server configuration (knot.conf
   * YAML or named.conf), or NULL. */
  const char *extra_conf;
  /* The SOA's MINIMUM (the negative-caching time, RFC 2308); 0: 60. */
  unsigned soa_minimum;
} ft_dns_config;

#define FT_DNS_CONFIG_INIT { NULL, NULL, NULL, 0, 0, NULL, 0, 0, NULL, 0 }

#define FT_DNS_PORT_MIN 20000
#define FT_DNS_PORT_MAX 60999

struct ft_dns_server {
  ft_dns_kind kind;
  pid_t pid;                 /* server process; 0 when not running */
  int port;
  int ipv6;                  /* listening on ::1 too */
  char zone[256];
  char dir[512];             /* temp dir (config, zone, key, log) */
  char conf[1024];           /* configuration file path */
  char log[1024];            /* the server's stdout+stderr */
  char addr4[64];            /* "127.0.0.1:PORT" */
  char addr6[64];            /* "[::1]:PORT" (empty when no_ipv6) */
  char key_name[64];         /* TSIG key name (hmac-sha256) */
  char key_secret[64];       /* base64 */
  uint32_t serial;           /* SOA serial written to the zone file */
  char error[512];           /* why the last call failed */
};

/* Start a server. Returns 0, or -1 with srv->error set (and nothing left
 * running, the temp dir removed unless $FT_DNS_KEEP is set). */
int ft_dns_start(ft_dns_server *srv, ft_dns_kind kind,
                 const ft_dns_config *cfg);

/*
 * Start a primary (cfg, kind) and a secondary of the same kind that
 * transfers the zone from it, with NOTIFY from the primary to the
 * secondary. Returns 0, or -1 with the error in primary->error and nothing
 * running.
 */
int ft_dns_start_pair(ft_dns_server *primary, ft_dns_server *secondary,
                      ft_dns_kind kind, const ft_dns_config *cfg);

/* SIGTERM, wait up to 5 s, then SIGKILL; removes the temp dir (kept if
 * $FT_DNS_KEEP is set). Safe on a stopped or never-started server (pid 0).
 * Returns 0, or -1 if the process had to be killed. */
int ft_dns_stop(ft_dns_server *srv);

/* Send SIGTERM only (to stop several servers in parallel: call this for
 * each, then ft_dns_stop() for each). */
void ft_dns_signal_stop(ft_dns_server *srv);

/*
 * Dynamic update signed with the server's TSIG key, via knsupdate (Knot)
 * or nsupdate (BIND). `lines` are the update commands only, newline
 * separated, owner names relative to the zone unless ending in a dot:
 *   "update delete www CNAME\nupdate add www 60 CNAME web2.example.net.\n"
 * (owners may be relative to the zone; names inside record data must be
 * absolute: nsupdate has no "origin")
 * ("server", "zone", "origin" and "send" are added). Synchronous (tens of
 * ms). For a Knot primary, also runs `knotc zone-notify` so secondaries
 * hear about it at once instead of after Knot's ~1 s delay. Returns 0 or
 * -1 (srv->error).
 */
int ft_dns_update(ft_dns_server *srv, const char *lines);

/* ---- additions for the publisher's tests, demo and benchmark ------------- */

/* Write the server's TSIG key as a BIND-style key file (`key "NAME" {
 * algorithm hmac-sha256; secret "..."; };`, what tsig-keygen and keymgr -t
 * print) to `path`. Returns 0 or -1. */
int ft_dns_write_key_file(const ft_dns_server *srv, const char *path);

/* Stop the server process (SIGTERM, wait up to 5 s, then SIGKILL) but keep
 * its directory, configuration, zone, journal and port for
 * ft_dns_restart(). Returns 0, or -1 if it had to be killed. */
int ft_dns_halt(ft_dns_server *srv);

/* Start a halted server again with the same configuration on the same port
 * (its zone comes back from the zone file and the server's journal). Ready
 * when its SOA answers with a serial >= srv->serial (the start serial).
 * Returns 0, or -1 with srv->error set (nothing left running). */
int ft_dns_restart(ft_dns_server *srv, int timeout_ms);

/* Query the SOA serial over UDP at 127.0.0.1:port. Returns 0 and *serial,
 * or -1 (no answer within timeout_ms, not authoritative, error). */
int ft_dns_soa_serial(int port, const char *zone, int timeout_ms,
                      uint32_t *serial);

/* Wait until the server's SOA serial is >= min_serial (serial arithmetic
 * ignored: fine for tests). Returns 0 or -1 after timeout_ms. */
int ft_dns_wait_serial(const ft_dns_server *srv, uint32_t min_serial,
                       int timeout_ms);

/* A port on which nothing listens (UDP and TCP on 127.0.0.1 bound then
 * closed). Returns the port or -1. */
int ft_dns_unused_port(void);

/* A port free for UDP and TCP on 127.0.0.1 (and ::1 when ipv6), random in
 * [FT_DNS_PORT_MIN, FT_DNS_PORT_MAX]. Returns the port or -1. */
int ft_dns_pick_port(int ipv6);

/* Milliseconds on CLOCK_MONOTONIC. */
double ft_dns_now_ms(void);

/* The last lines (up to max bytes) of the server's log into buf. */
void ft_dns_log_tail(const ft_dns_server *srv, char *buf, size_t size);

/* ---- passing servers to Criterion workers via the environment ------------ */

/* Export the server as FT_DNS_<TAG>_{PID,PORT,ZONE,DIR,CONF,KIND,KEY,SECRET,
 * SERIAL,IPV6} (setenv, overwrite). */
void ft_dns_export(const ft_dns_server *srv, const char *tag);
/* Rebuild a server description from those variables (in a worker). The
 * result can be used with ft_dns_update(), but must not be stopped there
 * (pid is set to 0; the owner stops it). Returns 0 or -1 if missing. */
int ft_dns_import(ft_dns_server *srv, const char *tag);

#ifdef __cplusplus
}
#endif

#endif
