/* What open file descriptors cost every posix_spawn: spawn /usr/bin/true 400 times while this
 * process holds <nfds> pidfds (O_CLOEXEC, like childwatch's), with or without the closefrom(3)
 * file action childwatch's addon uses. posix_spawn clones without CLONE_FILES: the child copies
 * the fd table, then closes it again before exec, while the parent waits (vfork).
 *   cc -O2 -o /tmp/fdcopy bench/tools/fdcopy.c && /tmp/fdcopy 2000 1 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

int main(int argc, char **argv) {
  enum { N = 400 };
  int nfds = argc > 1 ? atoi(argv[1]) : 2000, closefrom = argc > 2 ? atoi(argv[2]) : 1;
  char *av[] = {"/usr/bin/true", NULL};
  double ts[N], t00;
  posix_spawn_file_actions_t fa;
  for (int i = 0; i < nfds; i++)
    if (syscall(SYS_pidfd_open, getpid(), 0) < 0) { perror("pidfd_open"); return 1; }
  posix_spawn_file_actions_init(&fa);
  for (int i = 0; i < 3; i++) posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i ? O_RDWR : O_RDONLY, 0);
  if (closefrom) posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  t00 = now();
  for (int i = 0; i < N; i++) {
    pid_t p;
    double t = now();
    posix_spawn(&p, av[0], &fa, NULL, av, environ);
    ts[i] = now() - t;
    waitpid(p, NULL, 0);
  }
  double per = (now() - t00) / N;
  qsort(ts, N, sizeof *ts, cmp);
  printf("fds=%d closefrom=%d: posix_spawn p50 %.1f us, per child %.1f us\n", nfds, closefrom, ts[N / 2], per);
  return 0;
}
