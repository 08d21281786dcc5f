/*
 * etcd_fixture.h - a real etcd cluster (one member or several) on loopback
 * for tests and benchmarks.
 *
 * Plain C11 + POSIX (Linux), no Criterion, no libfailover, no libcurl:
 * bench/ and examples/ can compile etcd_fixture.c on its own.
 *
 * Every member gets its own client and peer ports (free ports picked at
 * random, the start retried on a clash) and a data directory under one
 * fresh temporary directory ($FT_ETCD_TMPDIR, else /dev/shm when writable
 * - etcd fsyncs every write, which tmpfs makes free -, else $TMPDIR or
 * /tmp). Members run as children of the calling thread
 * (PR_SET_PDEATHSIG SIGKILL), started through /usr/bin/env so that a test
 * run under valgrind --trace-children=yes does not trace etcd (.ci/valgrind
 * skips env by its path). etcd runs with --max-txn-ops 50000
 * --max-request-bytes 33554432, as docs/operating-several-agents.md asks.
 *
 *   ft_etcd e;
 *   if (ft_etcd_start(&e, 1) != 0) { ...e.error... }
 *   char url[1024];
 *   ft_etcd_url(&e, "test/one", url, sizeof url);  //
 * etcd://127.0.0.1:P/test/one
 *   ...
 *   ft_etcd_kill(&e, 0);     // SIGKILL one member, its data kept
 *   ft_etcd_restart(&e, 0);  // back, same ports and data
 *   ft_etcd_stop(&e);        // all gone, directory removed
 *
 * A member is ready when its /health says true (it has a leader). Not
 * thread-safe; call from one thread.
 */
#ifndef FT_ETCD_FIXTURE_H
#define FT_ETCD_FIXTURE_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FT_ETCD_MAX_MEMBERS 5

typedef struct ft_etcd_member {
  pid_t pid;       /* 0 when not running */
  int client_port; /* http://127.0.0.1:client_port (the gateway) */
  int peer_port;
  char name[16];  /* "m0", "m1", ... */
  char data[600]; /* data directory */
  char log[600];  /* stdout + stderr */
} ft_etcd_member;

typedef struct ft_etcd {
  int n;
  ft_etcd_member m[FT_ETCD_MAX_MEMBERS];
  char dir[512];
  char cluster[1024]; /* --initial-cluster */
  char token[40];     /* --initial-cluster-token */
  char error[512];    /* why the last call failed */
} ft_etcd;

/* Start a cluster of `members` (1..FT_ETCD_MAX_MEMBERS) and wait until each
 * is healthy (up to 20 s). Returns 0, or -1 with e->error set and nothing
 * left running. */
int ft_etcd_start(ft_etcd *e, int members);

/* Kill every member and remove the directory ($FT_ETCD_KEEP keeps it).
 * Safe after a failed start. */
void ft_etcd_stop(ft_etcd *e);

/* SIGKILL member `i` (its data stays). Returns 0 or -1. */
int ft_etcd_kill(ft_etcd *e, int i);

/* Start member `i` again on its ports and data; wait until it is healthy
 * (up to `timeout_ms`, 0: 20 s). Returns 0 or -1 (e->error). */
int ft_etcd_restart(ft_etcd *e, int i, int timeout_ms);

/* 1 when member `i` answers /health with true within `timeout_ms`. */
int ft_etcd_healthy(const ft_etcd *e, int i, int timeout_ms);

/* "etcd://127.0.0.1:P0,127.0.0.1:P1,.../PREFIX" (every member, in order)
 * into `buf`. */
void ft_etcd_url(const ft_etcd *e, const char *prefix, char *buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
