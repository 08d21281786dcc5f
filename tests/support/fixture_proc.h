/*
 * fixture_proc.h - what the server fixtures (dns_fixture.c, etcd_fixture.c)
 * share: start a server process (fork and exec with a clean signal state,
 * stdin from a file or /dev/null, stdout and stderr appended to a log, no
 * inherited descriptors past stderr, tied to the calling thread's life),
 * read the tail of its log, and remove its scratch directory.
 *
 * Header-only: dns_fixture.c is also compiled on its own, without the rest
 * of tests/support, into the examples and the benchmarks. The includer
 * defines _GNU_SOURCE (or another POSIX feature macro) first.
 */
#ifndef FT_FIXTURE_PROC_H
#define FT_FIXTURE_PROC_H

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
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

/* The last `size` - 1 bytes of the file at `path` into `buf` ("" when it
 * cannot be read). */
static inline void ft_file_tail(const char *path, char *buf, size_t size) {
  FILE *f;
  long end, start;
  size_t n;
  if (size == 0)
    return;
  buf[0] = '\0';
  if (size < 2 || (f = fopen(path, "r")) == NULL)
    return;
  fseek(f, 0, SEEK_END);
  end = ftell(f);
  start = end - (long)(size - 1);
  fseek(f, start < 0 ? 0 : start, SEEK_SET);
  n = fread(buf, 1, size - 1, f);
  buf[n] = '\0';
  fclose(f);
}

static inline int ft_remove_entry(const char *path, const struct stat *st,
                                  int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

/* Remove `dir` and everything below it (symbolic links are not followed). */
static inline void ft_remove_tree(const char *dir) {
  nftw(dir, ft_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
