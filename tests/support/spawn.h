/*
 * spawn.h - start a server process for a test fixture (etcd_fixture.c,
 * dns_fixture.c): fork and exec with a clean signal state, stdin from a
 * file or /dev/null, stdout and stderr appended to a log, no inherited
 * descriptors past stderr, tied to the calling thread's life.
 *
 * Header-only: dns_fixture.c is also compiled on its own, without the rest
 * of tests/support, into the examples and the benchmarks. The includer
 * defines _GNU_SOURCE (or another POSIX feature macro) first.
 */
#ifndef FT_SPAWN_H
#define FT_SPAWN_H

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

/* The child's side of ft_spawn(), after fork (`parent`: the forking
 * process's pid, taken before the fork): never returns. */
static inline void ft_spawn_child(char *const argv[], const char *dir,
                                  const char *in_path, const char *log_path,
                                  pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(127); /* the parent already went away */
  /* Reset what a test harness may have changed. */
  signal(SIGPIPE, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  int in = open(in_path ? in_path : "/dev/null", O_RDONLY);
  int out = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (in < 0 || out < 0)
    _exit(127);
  dup2(in, 0);
  dup2(out, 1);
  dup2(out, 2);
  /* Close everything else (Criterion's pipes, test sockets). */
  long maxfd = sysconf(_SC_OPEN_MAX);
  if (maxfd < 0 || maxfd > 65536)
    maxfd = 65536;
  for (int fd = 3; fd < maxfd; fd++)
    close(fd);
  if (dir && chdir(dir) != 0)
    _exit(127);
  execvp(argv[0], argv);
  _exit(127);
}

/* Fork and exec argv[0] (a path, or a name looked up in PATH) in `dir`
 * (NULL: the current directory), with stdin from `in_path` (NULL:
 * /dev/null) and stdout+stderr appended to `log_path`. The child is killed
 * when the calling thread ends. Returns the pid, or -1 when fork fails. */
static inline pid_t ft_spawn(char *const argv[], const char *dir,
                             const char *in_path, const char *log_path) {
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0)
    ft_spawn_child(argv, dir, in_path, log_path, parent);
  return pid < 0 ? -1 : pid;
}

#endif
