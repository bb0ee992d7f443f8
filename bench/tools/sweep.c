/* The cost of Safe's and MultiLoop's sweep without any runtime in between: 1000 running
 * children, each polled with wait4(pid, WNOHANG, &rusage) as the core does on every SIGCHLD.
 *   cc -O2 -o /tmp/sweep bench/tools/sweep.c && /tmp/sweep */
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e6 + t.tv_nsec / 1e3; }

int main(void) {
  enum { K = 1000 };
  pid_t p[K];
  char *av[] = {"/usr/bin/sleep", "1000", NULL};
  for (int i = 0; i < K; i++) posix_spawn(&p[i], av[0], NULL, NULL, av, environ);
  for (int r = 0; r < 5; r++) {
    int st;
    struct rusage ru;
    double t = now();
    for (int i = 0; i < K; i++) wait4(p[i], &st, WNOHANG, &ru);
    printf("sweep of %d running children: %.3f us per pid\n", K, (now() - t) / K);
  }
  for (int i = 0; i < K; i++) kill(p[i], SIGKILL);
  for (int i = 0; i < K; i++) waitpid(p[i], NULL, 0);
  return 0;
}
