/* W2 in C, to see what bounds it: 64 /usr/bin/true in flight, reaped with waitpid(-1), and W us
 * of busy work per child on the main thread (half after each reap, half after each spawn), as a
 * parent's own per-child work would be. Two ways to spawn: `serial` (posix_spawn on the main
 * thread, which blocks until the child has exec'd, as the floor and childwatch do) and `helper`
 * (a spawner thread does the posix_spawn calls, so the main thread goes on reaping meanwhile).
 * If the serial spawn's wait were what W2 measures, `helper` would be faster; if the two CPUs are
 * simply full, both pay the same for W.
 *
 *   cc -O2 -pthread -o /tmp/w2-model bench/tools/w2-model.c
 *   for w in 0 60 120; do /tmp/w2-model serial 2000 64 $w; /tmp/w2-model helper 2000 64 $w; done
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;
static char *child_argv[] = {"/usr/bin/true", NULL};
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int queued, stopping, use_helper;

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}
static void busy(double us) {
  double t = now_us();
  while (now_us() - t < us) {}
}
static void spawn_one(void) {
  pid_t pid;
  if (posix_spawn(&pid, child_argv[0], NULL, NULL, child_argv, environ)) {
    perror("posix_spawn");
    exit(1);
  }
}
static void *spawner(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&mu);
    while (!queued && !stopping) pthread_cond_wait(&cv, &mu);
    if (!queued) {
      pthread_mutex_unlock(&mu);
      return NULL;
    }
    queued--;
    pthread_mutex_unlock(&mu);
    spawn_one();
  }
}
static void request(void) {
  if (!use_helper) {
    spawn_one();
    return;
  }
  pthread_mutex_lock(&mu);
  queued++;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
}

int main(int argc, char **argv) {
  pthread_t th;
  int n, inflight, started = 0, done = 0;
  double work, t0;
  if (argc < 5) {
    fprintf(stderr, "usage: w2-model serial|helper N INFLIGHT WORK_US\n");
    return 2;
  }
  use_helper = !strcmp(argv[1], "helper");
  n = atoi(argv[2]);
  inflight = atoi(argv[3]);
  work = atof(argv[4]);
  if (use_helper) pthread_create(&th, NULL, spawner, NULL);
  t0 = now_us();
  for (; started < inflight && started < n; started++) {
    request();
    busy(work / 2);
  }
  while (done < n) {
    if (waitpid(-1, NULL, 0) < 0) { /* helper mode: the next spawn may not have happened yet */
      sched_yield();
      continue;
    }
    done++;
    busy(work / 2);
    if (started < n) {
      started++;
      request();
      busy(work / 2);
    }
  }
  printf("%-6s work=%3.0f us: %.0f us per child\n", argv[1], work, (now_us() - t0) / n);
  if (use_helper) {
    pthread_mutex_lock(&mu);
    stopping = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(th, NULL);
  }
  return 0;
}
