/* The kernel floor for the childwatch benchmarks: the same workloads as bench/worker.mjs, done
 * the cheapest way a program can, with posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK), so the
 * cost does not grow with the parent) and a blocking waitpid on the pid. No event loop, no
 * watcher, no allocation in the timed sections. Every contender's time is divided by this one's,
 * measured in the same repetition.
 *
 * Usage (the numbers come from bench/lib/workloads.mjs):
 *   floor W1 <n> <warmup>
 *   floor W2 <n> <inflight> <warmup>
 *   floor W3 <n> <k> <warmup>
 *   floor W4 <n> <warmup>
 *   floor W5 <k> <warmup>
 *   floor W6 <n> <bytes> <warmup>
 *   floor W7 <n> <heap-MiB> <warmup>
 * Prints `@@RESULT {"ok":true|false,"errorCount":n,"errors":[...],"metrics":{...}}` on stdout.
 * Correctness is checked as in the other workers: exit statuses, captured bytes, and no child
 * (zombie or alive) left in /proc at the end.
 *
 * Built by bench/run.mjs with `cc -O2 -o bench/.build/floor bench/floor.c`.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdarg.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define TRUE_BIN "/usr/bin/true"
#define SLEEP_BIN "/usr/bin/sleep"
#define ECHO_BIN "/usr/bin/echo"

static char errors[8192];
static int nerrors;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...) {
  char msg[256];
  va_list ap;
  size_t len = strlen(errors);
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (++nerrors > 20) return; /* keep the report short: the count says the rest */
  for (char *c = msg; *c; c++)
    if (*c == '"' || *c == '\\') *c = '\'';
  snprintf(errors + len, sizeof errors - len, "%s\"%s\"", len ? "," : "", msg);
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static double cpu_us(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

/* VmRSS (KiB) and Threads from /proc/self/status. */
static void self_status(long *rss_kib, long *threads) {
  char line[256];
  FILE *f = fopen("/proc/self/status", "r");
  *rss_kib = *threads = -1;
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "VmRSS:", 6)) *rss_kib = strtol(line + 6, NULL, 10);
    else if (!strncmp(line, "Threads:", 8)) *threads = strtol(line + 8, NULL, 10);
  }
  fclose(f);
}

/* Children of this process still in /proc (alive or zombie). */
static int leftover_children(void) {
  DIR *d = opendir("/proc");
  struct dirent *e;
  int n = 0, me = getpid();
  if (!d) return -1;
  while ((e = readdir(d))) {
    char path[300], buf[512], *rp;
    int fd, ppid;
    ssize_t len;
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    if ((fd = open(path, O_RDONLY)) < 0) continue;
    len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) continue;
    buf[len] = 0;
    if (!(rp = strrchr(buf, ')'))) continue;
    if (sscanf(rp + 2, "%*c %d", &ppid) == 1 && ppid == me) {
      fail("child %s left in /proc", e->d_name);
      n++;
    }
  }
  closedir(d);
  return n;
}

/* Open file descriptors of this process (the driver starts us with 0..2 only). */
static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* minus the directory's own fd */
}

static posix_spawn_file_actions_t fa_null;
static posix_spawnattr_t attr;

/* All stdio on /dev/null (the other contenders use DEVNULL / 'ignore'). */
static void setup_spawn(void) {
  sigset_t mask;
  posix_spawn_file_actions_init(&fa_null);
  for (int i = 0; i < 3; i++)
    posix_spawn_file_actions_addopen(&fa_null, i, "/dev/null", i == 0 ? O_RDONLY : O_RDWR, 0);
  posix_spawnattr_init(&attr);
  sigemptyset(&mask);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
}

static pid_t spawn_null(const char *path, char *const argv[]) {
  pid_t pid;
  int err = posix_spawn(&pid, path, &fa_null, &attr, argv, environ);
  if (err) {
    fail("posix_spawn %s: %s", path, strerror(err));
    return -1;
  }
  return pid;
}

static char *true_argv[] = {TRUE_BIN, NULL};
static char *sleep_argv[] = {SLEEP_BIN, "1000", NULL};

static int wait_exit(pid_t pid, int want_code, int want_sig) {
  int st;
  pid_t r;
  do r = waitpid(pid, &st, 0); while (r < 0 && errno == EINTR);
  if (r != pid) {
    fail("waitpid(%d): %s", pid, strerror(errno));
    return -1;
  }
  if (want_sig ? !(WIFSIGNALED(st) && WTERMSIG(st) == want_sig)
               : !(WIFEXITED(st) && WEXITSTATUS(st) == want_code)) {
    fail("pid %d: status 0x%x, wanted %s %d", pid, st, want_sig ? "signal" : "exit", want_sig ? want_sig : want_code);
    return -1;
  }
  return 0;
}

static void run_true(void) {
  pid_t pid = spawn_null(TRUE_BIN, true_argv);
  if (pid > 0) wait_exit(pid, 0, 0);
}

static void warm(int warmup) {
  for (int i = 0; i < warmup; i++) run_true();
}

static pid_t *spawn_sleepers(int k) {
  pid_t *p = calloc(k > 0 ? k : 1, sizeof *p);
  for (int i = 0; i < k; i++) p[i] = spawn_null(SLEEP_BIN, sleep_argv);
  return p;
}

static void kill_sleepers(pid_t *p, int k) {
  for (int i = 0; i < k; i++)
    if (p[i] > 0) kill(p[i], SIGKILL);
  for (int i = 0; i < k; i++)
    if (p[i] > 0) wait_exit(p[i], 0, SIGKILL);
  free(p);
}

/* W6's operation: `echo -n payload` with stdout on a pipe, read to EOF, reaped, bytes checked. */
static void echo_once(char *payload, char *buf, size_t cap) {
  char *eargv[] = {ECHO_BIN, "-n", payload, NULL};
  size_t want = strlen(payload), got = 0;
  int p[2], err;
  ssize_t r;
  pid_t pid;
  posix_spawn_file_actions_t fa;
  if (pipe2(p, O_CLOEXEC)) {
    fail("pipe2: %s", strerror(errno));
    return;
  }
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_RDWR, 0);
  err = posix_spawn(&pid, ECHO_BIN, &fa, &attr, eargv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  if (err) {
    fail("posix_spawn echo: %s", strerror(err));
    close(p[0]);
    return;
  }
  while (got < cap && (r = read(p[0], buf + got, cap - got)) != 0) {
    if (r < 0) {
      if (errno == EINTR) continue;
      fail("read: %s", strerror(errno));
      break;
    }
    got += r;
  }
  close(p[0]);
  wait_exit(pid, 0, 0);
  if (got != want || memcmp(buf, payload, want)) fail("echo %d: captured %zu bytes, wanted %zu", pid, got, want);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double p) {
  int i = (int)(p * (n - 1) + 0.5);
  return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

int main(int argc, char **argv) {
  char metrics[1024] = "";
  const char *w = argc > 1 ? argv[1] : "";
  int a = argc > 2 ? atoi(argv[2]) : 0, b = argc > 3 ? atoi(argv[3]) : 0, c = argc > 4 ? atoi(argv[4]) : 0;
  double t0, t1, c0;
  setup_spawn();

  if (!strcmp(w, "W1")) { /* W1 <n> <warmup> */
    warm(b);
    c0 = cpu_us();
    t0 = now_us();
    for (int i = 0; i < a; i++) run_true();
    t1 = now_us();
    snprintf(metrics, sizeof metrics, "\"time_us\":%.1f,\"cpu_us\":%.1f,\"n\":%d", t1 - t0, cpu_us() - c0, a);
  } else if (!strcmp(w, "W7")) { /* W7 <n> <heap-MiB> <warmup> */
    size_t bytes = (size_t)b << 20;
    char *ballast = malloc(bytes);
    long rss, th;
    if (!ballast) fail("malloc %zu failed", bytes);
    else memset(ballast, 1, bytes); /* touch every page: the parent really is this big */
    warm(c);
    self_status(&rss, &th);
    c0 = cpu_us();
    t0 = now_us();
    for (int i = 0; i < a; i++) run_true();
    t1 = now_us();
    snprintf(metrics, sizeof metrics, "\"time_us\":%.1f,\"cpu_us\":%.1f,\"n\":%d,\"rss_kib\":%ld,\"heap_mib\":%d",
             t1 - t0, cpu_us() - c0, a, rss, b);
    free(ballast);
  } else if (!strcmp(w, "W2")) { /* W2 <n> <inflight> <warmup> */
    int started = 0, done = 0, running = 0, st;
    warm(c);
    c0 = cpu_us();
    t0 = now_us();
    while (done < a) {
      while (running < b && started < a) {
        if (spawn_null(TRUE_BIN, true_argv) > 0) running++;
        else done++;
        started++;
      }
      pid_t r = waitpid(-1, &st, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        fail("waitpid(-1): %s", strerror(errno));
        break;
      }
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) fail("pid %d: status 0x%x", r, st);
      running--;
      done++;
    }
    t1 = now_us();
    snprintf(metrics, sizeof metrics, "\"time_us\":%.1f,\"cpu_us\":%.1f,\"n\":%d,\"inflight\":%d", t1 - t0, cpu_us() - c0, a, b);
  } else if (!strcmp(w, "W3")) { /* W3 <n> <k> <warmup> */
    double s0, s1;
    pid_t *sl;
    warm(c);
    s0 = now_us();
    sl = spawn_sleepers(b);
    s1 = now_us();
    c0 = cpu_us();
    t0 = now_us();
    for (int i = 0; i < a; i++) run_true();
    t1 = now_us();
    snprintf(metrics, sizeof metrics, "\"time_us\":%.1f,\"cpu_us\":%.1f,\"n\":%d,\"k\":%d,\"setup_us\":%.1f,\"fds\":%d",
             t1 - t0, cpu_us() - c0, a, b, s1 - s0, open_fds());
    kill_sleepers(sl, b);
  } else if (!strcmp(w, "W4")) { /* W4 <n> <warmup> */
    double *lat = calloc(a > 0 ? a : 1, sizeof *lat);
    for (int i = 0; i < b; i++) { /* warm-up: the workload's own operation, untimed */
      pid_t pid = spawn_null(SLEEP_BIN, sleep_argv);
      if (pid > 0 && !kill(pid, SIGKILL)) wait_exit(pid, 0, SIGKILL);
    }
    for (int i = 0; i < a; i++) {
      pid_t pid = spawn_null(SLEEP_BIN, sleep_argv);
      if (pid <= 0) continue;
      t0 = now_us();
      kill(pid, SIGKILL);
      wait_exit(pid, 0, SIGKILL);
      lat[i] = now_us() - t0;
    }
    qsort(lat, a, sizeof *lat, cmp_double);
    snprintf(metrics, sizeof metrics, "\"p50_us\":%.2f,\"p99_us\":%.2f,\"n\":%d", pct(lat, a, 0.5), pct(lat, a, 0.99), a);
    free(lat);
  } else if (!strcmp(w, "W5")) { /* W5 <k> <warmup> */
    long rss0, rssm, rss1, th0, th1;
    pid_t *sl, *sl2;
    int half = a / 2;
    warm(b);
    self_status(&rss0, &th0);
    t0 = now_us();
    sl = spawn_sleepers(half);
    self_status(&rssm, &th1);
    sl2 = spawn_sleepers(a - half);
    t1 = now_us();
    self_status(&rss1, &th1);
    snprintf(metrics, sizeof metrics,
             "\"kib_per_child\":%.3f,\"rss0_kib\":%ld,\"rss1_kib\":%ld,\"kib_per_child_2nd_half\":%.3f,"
             "\"threads0\":%ld,\"threads\":%ld,\"k\":%d,\"setup_us\":%.1f",
             a > 0 ? (double)(rss1 - rss0) / a : 0.0, rss0, rss1, a - half > 0 ? (double)(rss1 - rssm) / (a - half) : 0.0,
             th0, th1, a, t1 - t0);
    kill_sleepers(sl, half);
    kill_sleepers(sl2, a - half);
  } else if (!strcmp(w, "W6")) { /* W6 <n> <bytes> <warmup> */
    char *payload = malloc(b + 1), *buf = malloc(b + 65536);
    for (int i = 0; i < b; i++) payload[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
    payload[b] = 0;
    for (int i = 0; i < c; i++) echo_once("warm", buf, 65536);
    c0 = cpu_us();
    t0 = now_us();
    for (int i = 0; i < a; i++) echo_once(payload, buf, b + 65536);
    t1 = now_us();
    snprintf(metrics, sizeof metrics, "\"time_us\":%.1f,\"cpu_us\":%.1f,\"n\":%d,\"bytes\":%d", t1 - t0, cpu_us() - c0, a, b);
    free(payload);
    free(buf);
  } else {
    fprintf(stderr, "floor: unknown workload '%s'\n", w);
    return 2;
  }
  leftover_children();
  printf("@@RESULT {\"ok\":%s,\"errorCount\":%d,\"errors\":[%s],\"metrics\":{%s}}\n", nerrors ? "false" : "true", nerrors, errors, metrics);
  return 0;
}
