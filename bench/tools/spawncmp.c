/* Spawn-call cost, glibc posix_spawn against childwatch's clone spawn (host/native/spawn_linux.c)
 * with clone(2) and with clone3 (CLONE_CLEAR_SIGHAND: the child resets 2 signals, not 62), in a
 * process shaped like Node: T idle threads, K extra open fds (pidfds of sleepers).
 *
 *   cc -O2 -pthread -Ihost/native -o /tmp/spawncmp bench/tools/spawncmp.c host/native/spawn_linux.c
 *   /tmp/spawncmp N T K [MiB [KiB]]   # e.g. 500 8 0, 500 8 1000; MiB: a touched heap;
 *                                     # KiB: memory written (a byte per cache line) before each
 *                                     # spawn, as a parent's own work between spawns would
 *
 * Prints, per method, the median time of the spawn call (it returns once the child has exec'd)
 * and of spawn+waitpid, rotating the methods child by child. */
#define _GNU_SOURCE 1
#include "spawn_linux.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}
static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static void *idle(void *a) { (void)a; for (;;) pause(); return NULL; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 500, t = argc > 2 ? atoi(argv[2]) : 8,
      k = argc > 3 ? atoi(argv[3]) : 0, mib = argc > 4 ? atoi(argv[4]) : 0,
      pollute = argc > 5 ? atoi(argv[5]) : 0, i, devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  char *cargv[] = {"/usr/bin/true", NULL};
  static const char *const names[3] = {"posix_spawn", "clone", "clone3"};
  double *call[3], *whole[3];
  void *stack = cw_spawn_stack_new();
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t mask;
  if (mib > 0) { /* a touched heap, in many mappings (Node has hundreds) */
    for (i = 0; i < mib; i++) { char *m = malloc(1 << 20); for (int j = 0; j < (1 << 20); j += 4096) m[j] = 1; }
  }
  for (i = 0; i < t; i++) { pthread_t th; pthread_create(&th, NULL, idle, NULL); }
  for (i = 0; i < k; i++) {
    pid_t p = fork();
    if (p == 0) { pause(); _exit(0); }
    if (syscall(SYS_pidfd_open, p, 0) < 0) { perror("pidfd_open"); return 1; }
    kill(p, SIGKILL);
    waitpid(p, NULL, 0); /* the pidfd stays open: that is all we need */
  }
  posix_spawn_file_actions_init(&fa);
  for (i = 0; i < 3; i++) posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i ? O_RDWR : O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_init(&attr);
  sigemptyset(&mask);
  posix_spawnattr_setsigmask(&attr, &mask);
  sigfillset(&mask);
  posix_spawnattr_setsigdefault(&attr, &mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  for (i = 0; i < 3; i++) { call[i] = calloc(n, sizeof(double)); whole[i] = calloc(n, sizeof(double)); }
  for (i = 0; i < 3 * n; i++) {
    int m = i % 3, pidfd = -1, st;
    pid_t pid;
    const char *step;
    double t0, t1;
    if (pollute > 0) {
      static char *junk;
      if (!junk) junk = calloc((size_t)pollute, 1024);
      for (long q = 0; q < (long)pollute * 1024; q += 64) junk[q]++;
    }
    t0 = now_us();
    if (m == 0) {
      if (posix_spawn(&pid, cargv[0], &fa, &attr, cargv, environ)) return 2;
      pidfd = syscall(SYS_pidfd_open, pid, 0);
    } else {
      cw_child_plan plan = {cargv[0], cargv, environ, NULL, {devnull, devnull, devnull}, 0, -1, 1};
      if (cw_clone_spawn(&plan, m == 2, stack, &pid, &pidfd, &step)) { fprintf(stderr, "clone spawn: %s\n", step); return 3; }
    }
    t1 = now_us();
    waitpid(pid, &st, 0);
    close(pidfd);
    call[m][i / 3] = t1 - t0;
    whole[m][i / 3] = now_us() - t0;
    if (!WIFEXITED(st) || WEXITSTATUS(st)) { fprintf(stderr, "bad status %d\n", st); return 4; }
  }
  if (!cw_clone3_usable()) fprintf(stderr, "clone3 refused here: its row is clone(2)\n");
  for (i = 0; i < 3; i++) {
    qsort(call[i], n, sizeof(double), cmp);
    qsort(whole[i], n, sizeof(double), cmp);
    printf("%-12s spawn call %6.1f us, spawn+wait %6.1f us (medians, T=%d K=%d)\n",
           names[i], call[i][n / 2], whole[i][n / 2], t, k);
  }
  return 0;
}
