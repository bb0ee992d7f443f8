/*
 * childwatch native host: the kernel, as the watcher core needs it, for one Node thread.
 *
 * Contract (the JavaScript face is host/addon-types.ts, keep them in step):
 * - OS failures are returned as -errno, never thrown; only argument errors throw (TypeError,
 *   RangeError). A throw costs ~8 us per call, a return ~0.5 us, and "nothing yet" is common.
 * - One module instance per Node environment (main thread or Worker). Everything an
 *   environment creates (uv handles, the waiter hub, the children it spawned and has not reaped)
 *   is released by an async cleanup hook when the environment goes away; a terminated Worker's
 *   children that are still unreaped are killed and reaped, never left as zombies.
 * - Handles are unref'd on creation: the library never keeps the process alive by itself.
 *   Pipe readers (readPipe) are the one exception: like the net.Socket they replace, they keep
 *   it alive while a child's output is still coming.
 * - SIGCHLD is received with uv_signal_t only: never sigaction (libuv owns the process handler
 *   and would overwrite or reset ours) and never signalfd (a signal blocked in one thread and
 *   pending for the process may be taken by another thread of a multithreaded Node).
 * - Waiter threads report through a reference-counted uv_async_t hub, not through
 *   napi_threadsafe_function: on Node 20 a tsfn aborts when a thread outlives a terminated
 *   Worker (nodejs/node#55706). The module is linked with -z nodelete so a thread still running
 *   here after its Worker ended never returns into unmapped code.
 *
 * C names: prefix cw_, everything static except the module registration.
 */
#define _GNU_SOURCE 1
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include "spawn_linux.h"
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

#ifdef __APPLE__
#include <crt_externs.h>
#define cw_environ (*_NSGetEnviron())
#else
extern char **environ;
#define cw_environ environ
#endif

#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 34)
#define CW_HAVE_ADDCLOSEFROM 1
#endif
#if __GLIBC_PREREQ(2, 29)
#define CW_HAVE_ADDCHDIR 1
#endif
#endif
#ifdef __APPLE__
#define CW_HAVE_ADDCHDIR 1
#endif

#ifdef __linux__
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#define CW_HAVE_PIDFD 1
#endif

#define CW_WAIT_RECORD 5 /* [pid, status, userMicros, systemMicros, maxRssKiB] */
#define CW_WAITER_STACK (64 * 1024)

/* ------------------------------------------------------------------------------------------ */
/* Fault injection (tests only).                                                              */
/*
 * CHILDWATCH_FAULTS is read once, when the module is first loaded in the process. Syntax:
 *
 *     CHILDWATCH_FAULTS = rule { "," rule }
 *     rule              = op "=" errno [ ":" count ]
 *     errno             = a name (EMFILE) or a positive number (24)
 *
 * The next `count` calls of `op` fail with that errno without reaching the kernel; without a
 * count every call fails. Counters are process-wide (all threads and Workers share them).
 * ops: spawn (posix_spawn), pipe2, pidfd_open (also the pidfd of spawn's wantPidfd), wait4
 * (waitPid, waitAny, waiter threads; EINTR is retried so it only burns the count), waitid
 * (waitPidfd, peekExited), kill (kill, killGroup, pidfdSendSignal), thread (pthread_create of
 * startWaiter), poll (uv_poll_init of pollFd and readPipe), signal (uv_signal_start of
 * signalSubscribe), read (read(2) of a readPipe reader; EINTR is retried, EAGAIN waits for the
 * next readiness), clone3 (the spawn's clone3, as a kernel or seccomp filter refusing it would:
 * ENOSYS, EINVAL, EPERM make the spawn fall back to clone(2) for good).
 * Example: CHILDWATCH_FAULTS=pidfd_open=EMFILE:2,spawn=EAGAIN:1,wait4=EINTR:3,kill=EPERM
 * An unknown op or errno makes the whole spec ignored (faults() then reports "invalid: ...").
 * faultHits() tells how many calls of each op with a rule were failed so far (tests use it to
 * show that an injected fault was really met, e.g. an EINTR that was retried invisibly).
 */
enum { CWF_SPAWN, CWF_PIPE2, CWF_PIDFD_OPEN, CWF_WAIT4, CWF_WAITID, CWF_KILL, CWF_THREAD,
       CWF_POLL, CWF_SIGNAL, CWF_READ, CWF_CLONE3, CWF_COUNT };
static const char *const cwf_ops[CWF_COUNT] = {
  "spawn", "pipe2", "pidfd_open", "wait4", "waitid", "kill", "thread", "poll", "signal", "read",
  "clone3"};
static struct { int err; long remaining; /* < 0: always */ long hits; } cwf_rules[CWF_COUNT];
static char cwf_spec[512];
static int cwf_any;
static pthread_once_t cwf_once = PTHREAD_ONCE_INIT;

static const struct { const char *name; int err; } cw_errnos[] = {
  {"EPERM", EPERM}, {"ENOENT", ENOENT}, {"ESRCH", ESRCH}, {"EINTR", EINTR}, {"EIO", EIO},
  {"E2BIG", E2BIG}, {"EBADF", EBADF}, {"ECHILD", ECHILD}, {"EAGAIN", EAGAIN},
  {"ENOMEM", ENOMEM}, {"EACCES", EACCES}, {"ENOTDIR", ENOTDIR}, {"EINVAL", EINVAL},
  {"ENFILE", ENFILE}, {"EMFILE", EMFILE}, {"ENOSYS", ENOSYS}, {"ELOOP", ELOOP}};

static int cw_errno_of(const char *s) {
  size_t i;
  char *end;
  long n;
  for (i = 0; i < sizeof cw_errnos / sizeof cw_errnos[0]; i++)
    if (strcmp(s, cw_errnos[i].name) == 0) return cw_errnos[i].err;
  n = strtol(s, &end, 10);
  return (*s && !*end && n > 0 && n < 4096) ? (int)n : 0;
}

static void cw_spawn_method_load(void);
static void cwf_load(void) {
  cw_spawn_method_load();
  const char *env = getenv("CHILDWATCH_FAULTS");
  char buf[512], *save = NULL, *rule;
  if (!env || !*env) return;
  snprintf(cwf_spec, sizeof cwf_spec, "%s", env);
  snprintf(buf, sizeof buf, "%s", env);
  for (rule = strtok_r(buf, ",", &save); rule; rule = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(rule, '='), *colon;
    int op, err;
    long count = -1;
    if (!eq) goto bad;
    *eq = 0;
    colon = strchr(eq + 1, ':');
    if (colon) {
      char *end;
      *colon = 0;
      count = strtol(colon + 1, &end, 10);
      if (!colon[1] || *end || count < 0) goto bad;
    }
    for (op = 0; op < CWF_COUNT; op++)
      if (strcmp(rule, cwf_ops[op]) == 0) break;
    err = cw_errno_of(eq + 1);
    if (op == CWF_COUNT || !err) goto bad;
    cwf_rules[op].err = err;
    cwf_rules[op].remaining = count;
  }
  cwf_any = 1;
  return;
bad:
  memset(cwf_rules, 0, sizeof cwf_rules);
  snprintf(cwf_spec, sizeof cwf_spec, "invalid: %s", env);
}

/* The errno to inject for this call of `op`, or 0 to make the real call. */
static int cwf_hit(int op) {
  long r;
  if (!cwf_any || !cwf_rules[op].err) return 0;
  r = __atomic_load_n(&cwf_rules[op].remaining, __ATOMIC_RELAXED);
  for (;;) {
    if (r == 0) return 0;
    if (r < 0 || __atomic_compare_exchange_n(&cwf_rules[op].remaining, &r, r - 1, 0,
                                             __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
      __atomic_add_fetch(&cwf_rules[op].hits, 1, __ATOMIC_RELAXED);
      return cwf_rules[op].err;
    }
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Raw kernel calls (errno preserved or returned as -errno).                                   */

static long cw_waiters; /* waiter threads still blocked, process-wide (atomic) */

static int cw_wait4(pid_t pid, int *status, int options, struct rusage *ru) {
  for (;;) {
    int f = cwf_hit(CWF_WAIT4), r;
    if (f) {
      errno = f;
      r = -1;
    } else {
      r = (int)wait4(pid, status, options, ru);
    }
    if (r >= 0) return r;
    if (errno != EINTR) return -errno;
  }
}

static int cw_pidfd_open_raw(pid_t pid) {
#ifdef CW_HAVE_PIDFD
  long r = syscall(SYS_pidfd_open, pid, 0);
  return r < 0 ? -errno : (int)r;
#else
  (void)pid;
  return -ENOSYS;
#endif
}

static int cw_pidfd_open(pid_t pid) {
  int f = cwf_hit(CWF_PIDFD_OPEN);
  return f ? -f : cw_pidfd_open_raw(pid);
}

static int cw_pipe(int p[2]) {
  int f = cwf_hit(CWF_PIPE2);
  if (f) return -f;
#ifdef __linux__
  return pipe2(p, O_CLOEXEC) ? -errno : 0;
#else
  if (pipe(p)) return -errno;
  fcntl(p[0], F_SETFD, FD_CLOEXEC);
  fcntl(p[1], F_SETFD, FD_CLOEXEC);
  return 0;
#endif
}

static int cw_is_main_thread(void) {
#ifdef __linux__
  return (pid_t)syscall(SYS_gettid) == getpid();
#elif defined(__APPLE__)
  return pthread_main_np() != 0;
#else
  return 1;
#endif
}

static void cw_fill_record(double *out, int pid, int status, const struct rusage *ru) {
  out[0] = pid;
  out[1] = status;
  out[2] = (double)ru->ru_utime.tv_sec * 1e6 + (double)ru->ru_utime.tv_usec;
  out[3] = (double)ru->ru_stime.tv_sec * 1e6 + (double)ru->ru_stime.tv_usec;
#ifdef __APPLE__
  out[4] = (double)(ru->ru_maxrss / 1024); /* bytes on macOS */
#else
  out[4] = (double)ru->ru_maxrss; /* KiB on Linux */
#endif
}

/* ------------------------------------------------------------------------------------------ */
/* Per-environment state.                                                                      */

/* A set of pids (open addressing; 0 empty, -1 deleted): the children this environment spawned
 * and has not reaped yet. A terminated Worker kills and reaps them (not children spawned
 * elsewhere that it merely waited for: their waiter threads go on and reap them). */
typedef struct {
  int *slots;
  size_t cap, used, live;
} cw_pidset;

static size_t cw_hash(int pid, size_t cap) { return ((uint32_t)pid * 2654435761u) & (cap - 1); }

static void cw_pidset_add(cw_pidset *s, int pid);

static void cw_pidset_grow(cw_pidset *s) {
  cw_pidset n = {0, s->cap ? s->cap * 2 : 64, 0, 0};
  size_t i;
  if (s->cap && s->live * 4 < s->cap) n.cap = s->cap; /* mostly tombstones: rehash same size */
  n.slots = calloc(n.cap, sizeof(int));
  if (!n.slots) return;
  for (i = 0; i < s->cap; i++)
    if (s->slots[i] > 0) cw_pidset_add(&n, s->slots[i]);
  free(s->slots);
  *s = n;
}

static void cw_pidset_add(cw_pidset *s, int pid) {
  size_t i, tomb = (size_t)-1;
  if ((s->used + 1) * 4 >= s->cap * 3) cw_pidset_grow(s);
  if (!s->cap || s->used + 1 >= s->cap) return; /* out of memory: better untracked than stuck */
  for (i = cw_hash(pid, s->cap);; i = (i + 1) & (s->cap - 1)) {
    if (s->slots[i] == pid) return;
    if (s->slots[i] == -1 && tomb == (size_t)-1) tomb = i;
    if (s->slots[i] == 0) break;
  }
  if (tomb != (size_t)-1) {
    i = tomb;
  } else {
    s->used++;
  }
  s->slots[i] = pid;
  s->live++;
}

static void cw_pidset_del(cw_pidset *s, int pid) {
  size_t i;
  if (!s->cap || pid <= 0) return;
  for (i = cw_hash(pid, s->cap); s->slots[i] != 0; i = (i + 1) & (s->cap - 1)) {
    if (s->slots[i] == pid) {
      s->slots[i] = -1;
      s->live--;
      return;
    }
  }
}

typedef struct cw_env cw_env;
typedef struct cw_hub cw_hub;

/* One waiter thread's job. Owned by the environment until the thread finishes; if the
 * environment went away first, the thread frees it. `done` and the push onto the hub's finished
 * list happen under the hub's mutex; the rest of the links and `cb` belong to the JS thread. */
typedef struct cw_job {
  struct cw_job *next_done;
  struct cw_job *prev, *next; /* the environment's list of jobs not yet dispatched */
  cw_hub *hub;
  pid_t pid;
  int done, result, status, tag;
  double user, sys, rss;
  napi_ref cb; /* NULL: the environment's shared waiter_cb */
} cw_job;

/* The waiter hub: one per environment, one reference for the environment plus one per thread.
 * The last reference frees it, so a thread finishing after its Worker ended still finds it. */
struct cw_hub {
  pthread_mutex_t mu;
  uv_async_t async;
  int refs;
  int closed; /* the environment went away: finished jobs are freed by their thread */
  /* Finished jobs, newest first: pushed by waiter threads (under `mu`, which orders them against
   * the environment's close), taken all at once by the JS thread with an atomic exchange and no
   * lock, so a waiter that still holds `mu` after its uv_async_send never makes the woken JS
   * thread sleep on it (a futex wait and wake per exit). */
  cw_job *finished;
  cw_env *ce; /* JS thread only, valid while !closed */
};

enum { CW_POLL = 1, CW_SIGNAL = 2, CW_READER = 3 };

/* A uv handle with its JS wrapper. Two references: the uv handle (until its close callback)
 * and the JS wrapper (until finalized). While open, the wrapper is held strongly, so dropping
 * it in JS does not close the handle; the environment's cleanup closes what is left open. */
typedef struct cw_handle {
  union {
    uv_handle_t handle;
    uv_poll_t poll;
    uv_signal_t signal;
  } u;
  int kind, refs, closed, finalized, initialized;
  int fd, one_shot, owns_fd, signum;
  /* A pidfd set (CW_POLL on an epoll fd): its member fds, and the ready-ids buffer. */
  int is_set, *members, nmembers, cmembers;
  napi_ref ids_ref;
  int32_t *ids;
  size_t nids;
  /* CW_READER only (see "Pipe readers"): the bytes read and not yet handed to JS. */
  char *buf;
  size_t len, cap, limit;
  int chunks, paused, full, polling;
  cw_env *ce;
  napi_ref self, cb;
  struct cw_handle *prev, *next;
} cw_handle;

struct cw_env {
  napi_env env;
  uv_loop_t *loop;
  napi_ref poll_ctor, signal_ctor, set_ctor, reader_ctor;
  /* The callback of the first startWaiter, shared by every later job given the same function
   * (the host passes one): no reference (and no closure in JS) per waiter. */
  napi_ref waiter_cb;
  napi_async_context actx;
  cw_handle *handles;
  cw_hub *hub;
  cw_job *jobs;
  cw_pidset tracked;
  int wait_any_state;
  int is_main;
  int closing;
  void *spawn_stack; /* the clone spawn's child stack (spawn_linux.c), mapped at first use */
  int pending_closes;
  napi_async_cleanup_hook_handle cleanup;
};

/* ------------------------------------------------------------------------------------------ */
/* N-API helpers.                                                                              */

#define CW_ARGS(n)                                                                  \
  size_t argc = (n);                                                                \
  napi_value argv[(n) > 0 ? (n) : 1];                                               \
  cw_env *ce = NULL;                                                                \
  napi_value self_ = NULL;                                                          \
  if (napi_get_cb_info(env, info, &argc, argv, &self_, (void **)&ce) != napi_ok) \
    return NULL;                                                                    \
  (void)self_;                                                                      \
  (void)ce

static napi_value cw_int(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

static napi_value cw_undefined(napi_env env) {
  napi_value r;
  napi_get_undefined(env, &r);
  return r;
}

static int cw_type_error(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return -1;
}

/* An integer argument in [lo, hi]: TypeError if not a number, RangeError if out of range. */
static int cw_get_int(napi_env env, napi_value v, const char *name, int64_t lo, int64_t hi,
                      int64_t *out) {
  napi_valuetype t;
  double d;
  char msg[160];
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t != napi_number) {
    snprintf(msg, sizeof msg, "The \"%s\" argument must be of type number", name);
    return cw_type_error(env, msg);
  }
  napi_get_value_double(env, v, &d);
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d) {
    snprintf(msg, sizeof msg, "The value of \"%s\" is out of range. It must be an integer >= %lld"
             " and <= %lld", name, (long long)lo, (long long)hi);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return -1;
  }
  *out = (int64_t)d;
  return 0;
}

static int cw_get_bool(napi_env env, napi_value v, const char *name, int *out) {
  napi_valuetype t;
  bool b;
  char msg[160];
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_undefined) {
    *out = 0;
    return 0;
  }
  if (t != napi_boolean) {
    snprintf(msg, sizeof msg, "The \"%s\" option must be of type boolean", name);
    return cw_type_error(env, msg);
  }
  napi_get_value_bool(env, v, &b);
  *out = b;
  return 0;
}

static int cw_get_function(napi_env env, napi_value v, const char *name) {
  napi_valuetype t;
  char msg[160];
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t != napi_function) {
    snprintf(msg, sizeof msg, "The \"%s\" argument must be of type function", name);
    return cw_type_error(env, msg);
  }
  return 0;
}

/* A malloc'd UTF-8 copy of a JS string; TypeError if not a string or if it holds a NUL byte.
 * `index` >= 0 names the element `name[index]` in those errors (formatted only then). */
static char *cw_get_string_at(napi_env env, napi_value v, const char *name, long index) {
  napi_valuetype t;
  size_t len = 0;
  char *s, msg[200], item[80];
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  if (t == napi_string) {
    /* One conversion pass: the UTF-16 length is known without one (a query with no buffer),
     * and UTF-8 needs at most 3 bytes per UTF-16 unit. */
    size_t units = 0;
    napi_get_value_string_utf16(env, v, NULL, 0, &units);
    if (!(s = malloc(units * 3 + 1))) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      return NULL;
    }
    napi_get_value_string_utf8(env, v, s, units * 3 + 1, &len);
    if (strlen(s) == len) return s;
    free(s);
  }
  if (index >= 0) {
    snprintf(item, sizeof item, "%s[%ld]", name, index);
    name = item;
  }
  if (t != napi_string) {
    snprintf(msg, sizeof msg, "The \"%s\" argument must be of type string", name);
    cw_type_error(env, msg);
  } else {
    snprintf(msg, sizeof msg, "The argument '%s' must be a string without null bytes", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
  }
  return NULL;
}

static char *cw_get_string(napi_env env, napi_value v, const char *name) {
  return cw_get_string_at(env, v, name, -1);
}

static void cw_free_strv(char **v) {
  char **p;
  if (!v) return;
  for (p = v; *p; p++) free(*p);
  free(v);
}

/* A NULL-terminated malloc'd copy of a JS array of strings. */
static char **cw_get_strv(napi_env env, napi_value v, const char *name) {
  bool is_array = false;
  uint32_t n = 0, i;
  char **out, msg[160];
  if (napi_is_array(env, v, &is_array) != napi_ok) return NULL;
  if (!is_array) {
    snprintf(msg, sizeof msg, "The \"%s\" option must be an array of strings", name);
    cw_type_error(env, msg);
    return NULL;
  }
  napi_get_array_length(env, v, &n);
  out = calloc((size_t)n + 1, sizeof(char *));
  if (!out) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  for (i = 0; i < n; i++) {
    napi_value e;
    if (napi_get_element(env, v, i, &e) != napi_ok) goto fail;
    if (!(out[i] = cw_get_string_at(env, e, name, (long)i))) goto fail;
  }
  return out;
fail:
  cw_free_strv(out);
  return NULL;
}

static int cw_get_f64(napi_env env, napi_value v, double **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  void *p;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok) return -1;
  if (is_ta && napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) == napi_ok &&
      type == napi_float64_array) {
    *data = p;
    return 0;
  }
  return cw_type_error(env, "The \"out\" argument must be a Float64Array");
}

static void cw_set(napi_env env, napi_value obj, const char *key, napi_value v) {
  napi_set_named_property(env, obj, key, v);
}

/* Call `fn` from a libuv callback: napi_make_callback so microtasks and nextTick run after it,
 * and an exception goes to process 'uncaughtException' (napi_fatal_exception), never lost. */
static void cw_call(cw_env *ce, napi_value recv, napi_value fn, size_t argc,
                    const napi_value *argv) {
  napi_env env = ce->env;
  napi_status st = napi_make_callback(env, ce->actx, recv, fn, argc, argv, NULL);
  if (st == napi_pending_exception) {
    napi_value err;
    if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
  }
}

/* ------------------------------------------------------------------------------------------ */
/* Handles (polls and signals).                                                                */

static void cw_env_close_done(cw_env *ce);

static void cw_handle_release(cw_handle *h) {
  if (--h->refs == 0) free(h);
}

static void cw_handle_on_close(uv_handle_t *uh) {
  cw_handle *h = (cw_handle *)uh;
  cw_env *ce = h->ce;
  cw_handle_release(h);
  cw_env_close_done(ce);
}

/* Close on the JS thread; idempotent. For an owning poll the fd is closed right after
 * uv_close: uv_close deregisters the fd from epoll synchronously, so the poll is gone before
 * the fd is (a later fd with the same number cannot be confused with it). */
static void cw_handle_close(cw_handle *h) {
  cw_env *ce = h->ce;
  if (h->closed) return;
  h->closed = 1;
  if (h->prev) h->prev->next = h->next;
  else ce->handles = h->next;
  if (h->next) h->next->prev = h->prev;
  h->prev = h->next = NULL;
  if (!h->finalized) {
    if (h->cb) napi_delete_reference(ce->env, h->cb);
    if (h->self) napi_delete_reference(ce->env, h->self);
    if (h->ids_ref) napi_delete_reference(ce->env, h->ids_ref);
  }
  h->cb = h->self = h->ids_ref = NULL;
  h->ids = NULL;
  if (h->is_set) {
    /* The set owns its pidfds. Closing the epoll fd (below) drops their registrations. */
    int i;
    for (i = 0; i < h->nmembers; i++) close(h->members[i]);
    free(h->members);
    h->members = NULL;
    h->nmembers = h->cmembers = 0;
  }
  if (h->initialized) {
    ce->pending_closes++;
    uv_close(&h->u.handle, cw_handle_on_close);
  }
  if ((h->kind == CW_POLL || h->kind == CW_READER) && h->owns_fd && h->fd >= 0) {
    close(h->fd);
    h->fd = -1;
  }
  free(h->buf); /* a reader's undelivered bytes: nobody can take them any more */
  h->buf = NULL;
  h->len = h->cap = 0;
  /* Last: without a uv handle this drops the uv side's reference, which may free h. */
  if (!h->initialized) cw_handle_release(h);
}

static void cw_handle_finalize(napi_env env, void *data, void *hint) {
  cw_handle *h = data;
  (void)env;
  (void)hint;
  h->finalized = 1;
  cw_handle_release(h);
}

static cw_handle *cw_unwrap(napi_env env, napi_value self) {
  void *p = NULL;
  if (napi_unwrap(env, self, &p) != napi_ok || !p) {
    cw_type_error(env, "Illegal invocation");
    return NULL;
  }
  return p;
}

static napi_value cw_h_close(napi_env env, napi_callback_info info) {
  CW_ARGS(0);
  cw_handle *h = cw_unwrap(env, self_);
  if (h) cw_handle_close(h);
  return cw_undefined(env);
}

static napi_value cw_h_ref(napi_env env, napi_callback_info info) {
  CW_ARGS(0);
  cw_handle *h = cw_unwrap(env, self_);
  if (h && !h->closed) uv_ref(&h->u.handle);
  return cw_undefined(env);
}

static napi_value cw_h_unref(napi_env env, napi_callback_info info) {
  CW_ARGS(0);
  cw_handle *h = cw_unwrap(env, self_);
  if (h && !h->closed) uv_unref(&h->u.handle);
  return cw_undefined(env);
}

static napi_value cw_ctor(napi_env env, napi_callback_info info) {
  CW_ARGS(0);
  return self_;
}

/* A new handle struct wrapped in a new instance of `ctor`, linked into the environment. */
static cw_handle *cw_handle_new(cw_env *ce, napi_ref ctor, int kind, napi_value cb,
                                napi_value *obj) {
  napi_env env = ce->env;
  napi_value c;
  cw_handle *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->kind = kind;
  h->ce = ce;
  h->fd = -1;
  h->refs = 2; /* the uv side (released in the close callback) and the wrapper */
  if (napi_get_reference_value(env, ctor, &c) != napi_ok ||
      napi_new_instance(env, c, 0, NULL, obj) != napi_ok) {
    free(h);
    return NULL;
  }
  if (napi_wrap(env, *obj, h, cw_handle_finalize, NULL, NULL) != napi_ok) {
    free(h);
    return NULL;
  }
  napi_create_reference(env, *obj, 1, &h->self);
  napi_create_reference(env, cb, 1, &h->cb);
  h->next = ce->handles;
  if (ce->handles) ce->handles->prev = h;
  ce->handles = h;
  return h;
}

/* -- polls -- */

static void cw_poll_cb(uv_poll_t *p, int status, int events) {
  cw_handle *h = (cw_handle *)p;
  cw_env *ce = h->ce;
  napi_env env = ce->env;
  napi_handle_scope scope;
  napi_value fn, recv;
  (void)events;
  if (h->closed) return;
  /* A pidfd stays readable until reaped (level-triggered): stop before calling out. An error
   * (EBADF...) would repeat forever, so it stops the poll too and the callback looks. */
  if (h->one_shot || status < 0) uv_poll_stop(p);
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, h->cb, &fn) == napi_ok &&
      napi_get_reference_value(env, h->self, &recv) == napi_ok && fn && recv)
    cw_call(ce, recv, fn, 0, NULL);
  napi_close_handle_scope(env, scope);
}

static napi_value cw_p_restart(napi_env env, napi_callback_info info) {
  CW_ARGS(0);
  cw_handle *h = cw_unwrap(env, self_);
  if (!h) return NULL;
  if (h->closed) return cw_int(env, -EBADF);
  return cw_int(env, uv_poll_start(&h->u.poll, UV_READABLE, cw_poll_cb));
}

static napi_value cw_p_stop(napi_env env, napi_callback_info info) {
  CW_ARGS(0);
  cw_handle *h = cw_unwrap(env, self_);
  if (h && !h->closed) uv_poll_stop(&h->u.poll);
  return cw_undefined(env);
}

/* pollFd(fd, oneShot, ownsFd, callback): NativePoll | -errno. On failure the fd is not closed,
 * even with ownsFd: ownership passes only with a handle. */
static napi_value cw_poll_fd(napi_env env, napi_callback_info info) {
  CW_ARGS(4);
  int64_t fd;
  int one_shot, owns, r, f;
  napi_value obj;
  cw_handle *h;
  if (cw_get_int(env, argv[0], "fd", 0, INT_MAX, &fd) || cw_get_bool(env, argv[1], "oneShot",
      &one_shot) || cw_get_bool(env, argv[2], "ownsFd", &owns) ||
      cw_get_function(env, argv[3], "callback"))
    return NULL;
  if (ce->closing) return cw_int(env, -EBADF);
  if (!(h = cw_handle_new(ce, ce->poll_ctor, CW_POLL, argv[3], &obj))) return cw_int(env, -ENOMEM);
  h->fd = (int)fd;
  h->one_shot = one_shot;
  f = cwf_hit(CWF_POLL);
  r = f ? -f : uv_poll_init(ce->loop, &h->u.poll, (int)fd);
  if (r == 0) {
    h->initialized = 1;
    r = uv_poll_start(&h->u.poll, UV_READABLE, cw_poll_cb);
    uv_unref(&h->u.handle);
  }
  if (r < 0) {
    cw_handle_close(h); /* owns_fd still 0: the caller keeps the fd */
    return cw_int(env, r);
  }
  h->owns_fd = owns;
  return obj;
}

/* -- pidfd sets -- */
/*
 * One epoll instance holding many pidfds, each armed EPOLLIN | EPOLLONESHOT and tagged with a
 * caller's 32-bit id, and one uv_poll on the epoll fd: watching a pidfd costs one epoll_ctl
 * instead of a uv_poll handle and its JS wrapper (~6 us and ~0.4 KiB per child). The set owns
 * its members: remove() does EPOLL_CTL_DEL and then closes the fd, close() and the environment's
 * cleanup close them all. Because the registration is deleted before the close, no event of a
 * closed pidfd can arrive later under a reused fd number; an id already read in the same batch is
 * the caller's to recognise as stale (ids are never reused while a member holds them).
 * When the epoll fd is readable the callback is called with `count` ready ids written to the
 * Int32Array given at creation, repeatedly until fewer than its length are ready.
 */
#ifdef __linux__
#include <sys/epoll.h>

static int cw_set_track(cw_handle *h, int fd) {
  if (h->nmembers == h->cmembers) {
    int c = h->cmembers ? 2 * h->cmembers : 64;
    int *m = realloc(h->members, (size_t)c * sizeof *m);
    if (!m) return -ENOMEM;
    h->members = m;
    h->cmembers = c;
  }
  h->members[h->nmembers++] = fd;
  return 0;
}

static int cw_set_untrack(cw_handle *h, int fd) {
  int i;
  for (i = h->nmembers - 1; i >= 0; i--) {
    if (h->members[i] == fd) {
      h->members[i] = h->members[--h->nmembers];
      return 1;
    }
  }
  return 0;
}

static void cw_set_cb(uv_poll_t *p, int status, int events) {
  cw_handle *h = (cw_handle *)p;
  cw_env *ce = h->ce;
  napi_env env = ce->env;
  struct epoll_event evs[64];
  (void)events;
  if (h->closed) return;
  if (status < 0) uv_poll_stop(p); /* cannot happen for an epoll fd; never spin on it */
  for (;;) {
    napi_handle_scope scope;
    napi_value fn, recv, count;
    int cap = h->nids < 64 ? (int)h->nids : 64, n, i;
    n = epoll_wait(h->fd, evs, cap, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    for (i = 0; i < n; i++) h->ids[i] = (int32_t)evs[i].data.u32;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    if (napi_get_reference_value(env, h->cb, &fn) == napi_ok &&
        napi_get_reference_value(env, h->self, &recv) == napi_ok && fn && recv) {
      count = cw_int(env, n);
      cw_call(ce, recv, fn, 1, &count);
    }
    napi_close_handle_scope(env, scope);
    if (h->closed || ce->closing || n < cap) return;
  }
}

/* pidfdSet(ids: Int32Array, callback(count)): NativePidfdSet | -errno. */
static napi_value cw_pidfd_set(napi_env env, napi_callback_info info) {
  CW_ARGS(2);
  napi_typedarray_type tt;
  size_t len = 0;
  void *data = NULL;
  bool is_ta = false;
  napi_value obj;
  cw_handle *h;
  int epfd, r;
  if (napi_is_typedarray(env, argv[0], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[0], &tt, &len, &data, NULL, NULL) != napi_ok ||
      tt != napi_int32_array || len == 0) {
    cw_type_error(env, "The \"ids\" argument must be a non-empty Int32Array");
    return NULL;
  }
  if (cw_get_function(env, argv[1], "callback")) return NULL;
  if (ce->closing) return cw_int(env, -EBADF);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return cw_int(env, -errno);
  if (!(h = cw_handle_new(ce, ce->set_ctor, CW_POLL, argv[1], &obj))) {
    close(epfd);
    return cw_int(env, -ENOMEM);
  }
  h->fd = epfd;
  h->is_set = 1;
  h->ids = data;
  h->nids = len;
  napi_create_reference(env, argv[0], 1, &h->ids_ref);
  r = uv_poll_init(ce->loop, &h->u.poll, epfd);
  if (r == 0) {
    h->initialized = 1;
    r = uv_poll_start(&h->u.poll, UV_READABLE, cw_set_cb);
    uv_unref(&h->u.handle);
  }
  h->owns_fd = 1;
  if (r < 0) {
    cw_handle_close(h); /* closes the epoll fd */
    return cw_int(env, r);
  }
  return obj;
}

static napi_value cw_set_ctl(napi_env env, napi_callback_info info, int op) {
  CW_ARGS(2);
  cw_handle *h = cw_unwrap(env, self_);
  int64_t fd, id = 0;
  struct epoll_event ev;
  int f;
  if (!h) return NULL;
  if (cw_get_int(env, argv[0], "fd", 0, INT_MAX, &fd)) return NULL;
  if (op != EPOLL_CTL_DEL && cw_get_int(env, argv[1], "id", 0, INT32_MAX, &id)) return NULL;
  if (h->closed) return cw_int(env, -EBADF);
  if (op == EPOLL_CTL_DEL) {
    /* Only a member is closed: an fd the set does not hold is left alone. */
    if (!cw_set_untrack(h, (int)fd)) return cw_int(env, -ENOENT);
    epoll_ctl(h->fd, EPOLL_CTL_DEL, (int)fd, NULL);
    close((int)fd);
    return cw_int(env, 0);
  }
  if (op == EPOLL_CTL_ADD && (f = cwf_hit(CWF_POLL))) return cw_int(env, -f);
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u32 = (uint32_t)id;
  if (op == EPOLL_CTL_ADD && cw_set_track(h, (int)fd)) return cw_int(env, -ENOMEM);
  if (epoll_ctl(h->fd, op, (int)fd, &ev)) {
    int e = errno;
    if (op == EPOLL_CTL_ADD) cw_set_untrack(h, (int)fd); /* not taken: the caller keeps it */
    return cw_int(env, -e);
  }
  return cw_int(env, 0);
}

static napi_value cw_s_add(napi_env env, napi_callback_info info) {
  return cw_set_ctl(env, info, EPOLL_CTL_ADD);
}
static napi_value cw_s_rearm(napi_env env, napi_callback_info info) {
  return cw_set_ctl(env, info, EPOLL_CTL_MOD);
}
static napi_value cw_s_remove(napi_env env, napi_callback_info info) {
  return cw_set_ctl(env, info, EPOLL_CTL_DEL);
}
#else
static napi_value cw_pidfd_set(napi_env env, napi_callback_info info) {
  (void)info;
  return cw_int(env, -ENOSYS);
}
#endif

/* -- pipe readers --
 *
 * readPipe(fd, chunks, limit, callback) reads the parent's end of a child's stdout/stderr pipe
 * with read(2) on readability, so that capturing output needs no net.Socket and no stream
 * machinery. The reader owns the fd from the moment a handle is returned; it closes it at EOF,
 * on an error and on close(). uv_poll_init makes the fd non-blocking.
 *
 * Two modes, one growing buffer:
 * - accumulate (chunks = 0): bytes pile up in the buffer and JS hears nothing until the end, when
 *   it gets everything at once. With limit > 0 the poll stops once `limit` bytes are held (the
 *   child then blocks on a full pipe, as it would with a paused stream); setLimit() and stream()
 *   lift that.
 * - chunks: every readiness hands JS what one round of reads got (read until EAGAIN, at most
 *   CW_READ_CHUNK_MAX bytes).
 * callback(data: Buffer | null, status): status 0 = more may come; 1 = EOF; < 0 = -errno (a read
 * or poll error). After a call with status != 0 the reader is closed, fd included, before the
 * callback runs; data (if not null) is the last of the output. Nothing is ever thrown here.
 *
 * Unlike the other handles a reader starts ref'd: like the net.Socket it replaces, it keeps the
 * process alive while the child's output is still coming (it is inactive, so it does not, while
 * paused or full). */

#define CW_READ_BUF_START (64 * 1024) /* a default pipe's capacity: a full pipe in one read */
#define CW_READ_MIN_ROOM (16 * 1024)  /* grow before a read with less room than this */
#define CW_READ_CHUNK_MAX (256 * 1024)

static void cw_reader_cb(uv_poll_t *p, int status, int events);

/* Poll when open and neither paused nor full. uv_poll_start/stop each cost epoll_ctl calls
 * (libuv re-registers the fd), so they are made only on a change. */
static int cw_reader_update(cw_handle *h) {
  int want = !h->closed && !h->paused && !h->full;
  int r = 0;
  if (want == h->polling) return 0;
  if (want) r = uv_poll_start(&h->u.poll, UV_READABLE, cw_reader_cb);
  else uv_poll_stop(&h->u.poll);
  if (r == 0) h->polling = want;
  return r;
}

/* Read until EAGAIN, EOF, an error, or a reason to stop (chunk delivered, limit reached).
 * Returns 0 (more may come), 1 (EOF) or -errno. */
static int cw_reader_fill(cw_handle *h) {
  for (;;) {
    ssize_t n;
    int f;
    if (h->cap - h->len < CW_READ_MIN_ROOM) {
      size_t cap = h->cap ? h->cap * 2 : CW_READ_BUF_START;
      char *b = realloc(h->buf, cap);
      if (!b) return -ENOMEM;
      h->buf = b;
      h->cap = cap;
    }
    f = cwf_hit(CWF_READ);
    if (f) {
      errno = f;
      n = -1;
    } else {
      n = read(h->fd, h->buf + h->len, h->cap - h->len);
    }
    if (n > 0) {
      h->len += (size_t)n;
      if (h->chunks && h->len >= CW_READ_CHUNK_MAX) return 0; /* level-triggered: called again */
      if (!h->chunks && h->limit > 0 && h->len >= h->limit) {
        h->full = 1;
        cw_reader_update(h);
        return 0;
      }
      continue;
    }
    if (n == 0) return 1;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    return -errno;
  }
}

/* The buffered bytes as a new Buffer (null when there are none); the buffer is emptied. */
static napi_value cw_reader_take(cw_handle *h) {
  napi_env env = h->ce->env;
  napi_value v;
  void *data;
  if (h->len == 0 || napi_create_buffer_copy(env, h->len, h->buf, &data, &v) != napi_ok) {
    napi_get_null(env, &v);
    return v;
  }
  h->len = 0;
  return v;
}

static void cw_reader_cb(uv_poll_t *p, int status, int events) {
  cw_handle *h = (cw_handle *)p;
  cw_env *ce = h->ce;
  napi_env env = ce->env;
  napi_handle_scope scope;
  napi_value fn, recv, args[2];
  int end;
  (void)events;
  if (h->closed) return;
  end = status < 0 ? status : cw_reader_fill(h);
  if (end == 0 && (!h->chunks || h->len == 0)) return; /* nothing to tell yet */
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, h->cb, &fn) == napi_ok &&
      napi_get_reference_value(env, h->self, &recv) == napi_ok && fn && recv) {
    args[0] = cw_reader_take(h);
    args[1] = cw_int(env, end);
    /* The end: close (the fd too) before JS hears of it, so a callback that looks finds it
     * closed and nothing is left to release. */
    if (end != 0) cw_handle_close(h);
    cw_call(ce, recv, fn, 2, args);
  } else if (end != 0) {
    cw_handle_close(h);
  }
  napi_close_handle_scope(env, scope);
}

static cw_handle *cw_reader_unwrap(napi_env env, napi_value self) {
  cw_handle *h = cw_unwrap(env, self);
  if (h && h->kind != CW_READER) {
    cw_type_error(env, "Illegal invocation");
    return NULL;
  }
  return h;
}

/* stream(): switch to chunk mode; returns what was accumulated (Buffer or null). */
static napi_value cw_r_stream(napi_env env, napi_callback_info info) {
  CW_ARGS(0);
  cw_handle *h = cw_reader_unwrap(env, self_);
  napi_value v;
  if (!h) return NULL;
  if (h->closed) {
    napi_get_null(env, &v);
    return v;
  }
  h->chunks = 1;
  h->full = 0;
  v = cw_reader_take(h);
  cw_reader_update(h);
  return v;
}

/* setLimit(limit): the accumulate-mode limit (0: none); a reader stopped by a lower one resumes. */
static napi_value cw_r_set_limit(napi_env env, napi_callback_info info) {
  CW_ARGS(1);
  int64_t limit;
  cw_handle *h = cw_reader_unwrap(env, self_);
  if (!h || cw_get_int(env, argv[0], "limit", 0, INT_MAX, &limit)) return NULL;
  if (h->closed) return cw_undefined(env);
  h->limit = (size_t)limit;
  if (h->full && (limit == 0 || h->len < h->limit)) h->full = 0;
  cw_reader_update(h);
  return cw_undefined(env);
}

/* pause() / resume(): flow control of a stream reader (a closed one ignores both). */
static napi_value cw_r_set_paused(napi_env env, napi_callback_info info, int paused) {
  CW_ARGS(0);
  cw_handle *h = cw_reader_unwrap(env, self_);
  if (!h) return NULL;
  if (!h->closed) {
    h->paused = paused;
    cw_reader_update(h);
  }
  return cw_undefined(env);
}
static napi_value cw_r_pause(napi_env env, napi_callback_info info) {
  return cw_r_set_paused(env, info, 1);
}
static napi_value cw_r_resume(napi_env env, napi_callback_info info) {
  return cw_r_set_paused(env, info, 0);
}

/* readPipe(fd, chunks, limit, callback): NativePipeReader | -errno. On failure the fd is not
 * closed: ownership passes only with a handle. */
static napi_value cw_read_pipe(napi_env env, napi_callback_info info) {
  CW_ARGS(4);
  int64_t fd, limit;
  int chunks, r, f;
  napi_value obj;
  cw_handle *h;
  if (cw_get_int(env, argv[0], "fd", 0, INT_MAX, &fd) ||
      cw_get_bool(env, argv[1], "chunks", &chunks) ||
      cw_get_int(env, argv[2], "limit", 0, INT_MAX, &limit) ||
      cw_get_function(env, argv[3], "callback"))
    return NULL;
  if (ce->closing) return cw_int(env, -EBADF);
  if (!(h = cw_handle_new(ce, ce->reader_ctor, CW_READER, argv[3], &obj))) return cw_int(env, -ENOMEM);
  h->fd = (int)fd;
  h->chunks = chunks;
  h->limit = (size_t)limit;
  f = cwf_hit(CWF_POLL);
  r = f ? -f : uv_poll_init(ce->loop, &h->u.poll, (int)fd); /* also sets O_NONBLOCK */
  if (r == 0) {
    h->initialized = 1;
    r = cw_reader_update(h);
  }
  if (r < 0) {
    cw_handle_close(h); /* owns_fd still 0: the caller keeps the fd */
    return cw_int(env, r);
  }
  h->owns_fd = 1;
  return obj;
}

/* -- signals -- */

static void cw_signal_cb(uv_signal_t *s, int signum) {
  cw_handle *h = (cw_handle *)s;
  cw_env *ce = h->ce;
  napi_env env = ce->env;
  napi_handle_scope scope;
  napi_value fn, recv, arg;
  if (h->closed) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, h->cb, &fn) == napi_ok &&
      napi_get_reference_value(env, h->self, &recv) == napi_ok && fn && recv) {
    arg = cw_int(env, signum);
    cw_call(ce, recv, fn, 1, &arg);
  }
  napi_close_handle_scope(env, scope);
}

/* signalSubscribe(signum, callback): NativeHandle | -errno. */
static napi_value cw_signal_subscribe(napi_env env, napi_callback_info info) {
  CW_ARGS(2);
  int64_t signum;
  int r, f;
  napi_value obj;
  cw_handle *h;
  if (cw_get_int(env, argv[0], "signum", 1, 64, &signum) ||
      cw_get_function(env, argv[1], "callback"))
    return NULL;
  if (ce->closing) return cw_int(env, -EBADF);
  if (!(h = cw_handle_new(ce, ce->signal_ctor, CW_SIGNAL, argv[1], &obj)))
    return cw_int(env, -ENOMEM);
  h->signum = (int)signum;
  r = uv_signal_init(ce->loop, &h->u.signal);
  if (r == 0) {
    h->initialized = 1;
    f = cwf_hit(CWF_SIGNAL);
    r = f ? -f : uv_signal_start(&h->u.signal, cw_signal_cb, (int)signum);
    uv_unref(&h->u.handle);
  }
  if (r < 0) {
    cw_handle_close(h);
    return cw_int(env, r);
  }
  return obj;
}

/* ------------------------------------------------------------------------------------------ */
/* Waiter threads.                                                                             */
/*
 * One thread blocked in wait4(pid) per watched child (CPython's ThreadedChildWatcher). Threads
 * are reused: when its child is reaped and the result posted, a thread parks for up to
 * cw_idle_ms (1 s) and takes the next startWaiter job (of any environment) instead of a new
 * pthread_create (which maps a stack, allocates TLS and costs 13-35 us on the JS thread). At
 * most CW_IDLE_MAX threads are parked, process-wide; the others exit. Contract kept:
 * - every job has its own thread from startWaiter until its wait4 returned (a parked thread is
 *   handed over to exactly one job, or a new one is created), so a child never waits for
 *   another child's exit;
 * - waiterCount counts threads with a job (blocked in wait4 or about to be), waiterIdle the
 *   parked ones. Parked threads hold no hub, no uv handle and no JS reference: they never keep
 *   the loop alive, and an environment's cleanup makes them all exit (cw_pool_trim);
 * - a thread whose environment went away while it waited exits instead of parking, as before.
 * The stack stays at 64 KiB: a thread's resident cost is 2 pages whatever the size (struct
 * pthread and the static TLS fill the top page, the wait4 frames touch the next), and the
 * virtual size is not what W5 measures.
 */
#define CW_IDLE_MAX 8
#define CW_IDLE_MS 1000

/* How long a thread stays parked: CW_IDLE_MS, or CHILDWATCH_WAITER_IDLE_MS (1..3600000, tests
 * only), read once when the module is first loaded in the process (not from a waiter thread:
 * getenv would race with a setenv on the JS thread). */
static long cw_idle_ms = CW_IDLE_MS;
static pthread_once_t cw_idle_once = PTHREAD_ONCE_INIT;

static void cw_idle_load(void) {
  const char *env = getenv("CHILDWATCH_WAITER_IDLE_MS");
  char *end;
  long v;
  if (!env || !*env) return;
  v = strtol(env, &end, 10);
  if (!*end && v >= 1 && v <= 3600000) cw_idle_ms = v;
}

static void cw_hub_unref(cw_hub *hub) {
  int left;
  pthread_mutex_lock(&hub->mu);
  left = --hub->refs;
  pthread_mutex_unlock(&hub->mu);
  if (left == 0) {
    pthread_mutex_destroy(&hub->mu);
    free(hub);
  }
}

/* The parked threads. Slot i is held by at most one parked thread; its condition variable is
 * static, so it outlives every thread and can be signalled after the mutex is released (a
 * signal that reaches the next holder of the slot is a spurious wakeup, which cw_park absorbs).
 * `job` and `quit` of a slot are set by whoever takes its thread off the parked stack (a
 * startWaiter, or a trim), under the mutex; a thread that times out takes itself off. So a
 * parked thread leaves the stack exactly once. */
static struct {
  pthread_mutex_t mu;
  pthread_once_t once;
  int ok;                     /* the condition variables are initialized */
  struct {
    pthread_cond_t cv;
    cw_job *job;
    int quit, used;
  } slot[CW_IDLE_MAX];
  int parked[CW_IDLE_MAX];    /* slot numbers, most recently parked last: the warmest is reused */
  long idle;                  /* entries in parked[] (read atomically by waiterIdle) */
} cw_pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .once = PTHREAD_ONCE_INIT};

static void cw_pool_init(void) {
  pthread_condattr_t ca;
  int i, ok = 1;
  pthread_condattr_init(&ca);
#ifndef __APPLE__
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
#endif
  for (i = 0; i < CW_IDLE_MAX; i++) ok = ok && !pthread_cond_init(&cw_pool.slot[i].cv, &ca);
  pthread_condattr_destroy(&ca);
  cw_pool.ok = ok; /* a failed init leaves the pool unused (every thread exits after its job) */
}

/* Take parked[k] off the stack (under the mutex); returns its slot. */
static int cw_pool_take(long k) {
  int i = cw_pool.parked[k];
  long n = __atomic_sub_fetch(&cw_pool.idle, 1, __ATOMIC_SEQ_CST);
  for (; k < n; k++) cw_pool.parked[k] = cw_pool.parked[k + 1];
  return i;
}

/* Hand `j` to a parked thread: 1 if one took it, 0 if none is parked. */
static int cw_pool_give(cw_job *j) {
  int i = -1;
  pthread_mutex_lock(&cw_pool.mu);
  if (cw_pool.idle > 0) {
    i = cw_pool_take(cw_pool.idle - 1);
    cw_pool.slot[i].job = j;
  }
  pthread_mutex_unlock(&cw_pool.mu);
  if (i < 0) return 0;
  pthread_cond_signal(&cw_pool.slot[i].cv);
  return 1;
}

/* Make every parked thread exit (environment cleanup). Threads still waiting on a child are
 * untouched; they park again afterwards only if their environment is still there. */
static void cw_pool_trim(void) {
  int i;
  pthread_mutex_lock(&cw_pool.mu);
  while (cw_pool.idle > 0) cw_pool.slot[cw_pool_take(cw_pool.idle - 1)].quit = 1;
  pthread_mutex_unlock(&cw_pool.mu);
  for (i = 0; i < CW_IDLE_MAX; i++) pthread_cond_signal(&cw_pool.slot[i].cv);
}

/* Park the calling thread: its next job, or NULL when it should exit (every slot taken, the
 * idle time ran out, or a trim). */
static cw_job *cw_park(void) {
  struct timespec deadline;
  cw_job *j = NULL;
  int i;
  long k;
  pthread_once(&cw_pool.once, cw_pool_init);
  if (!cw_pool.ok) return NULL;
#ifdef __APPLE__
  clock_gettime(CLOCK_REALTIME, &deadline);
#else
  clock_gettime(CLOCK_MONOTONIC, &deadline);
#endif
  deadline.tv_sec += cw_idle_ms / 1000;
  deadline.tv_nsec += (cw_idle_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&cw_pool.mu);
  for (i = 0; i < CW_IDLE_MAX && cw_pool.slot[i].used; i++) {}
  if (i == CW_IDLE_MAX) {
    pthread_mutex_unlock(&cw_pool.mu);
    return NULL;
  }
  cw_pool.slot[i].used = 1;
  cw_pool.slot[i].job = NULL;
  cw_pool.slot[i].quit = 0;
  cw_pool.parked[cw_pool.idle] = i;
  __atomic_add_fetch(&cw_pool.idle, 1, __ATOMIC_SEQ_CST);
  while (!cw_pool.slot[i].job && !cw_pool.slot[i].quit) {
    if (pthread_cond_timedwait(&cw_pool.slot[i].cv, &cw_pool.mu, &deadline) == ETIMEDOUT &&
        !cw_pool.slot[i].job && !cw_pool.slot[i].quit) {
      for (k = 0; cw_pool.parked[k] != i; k++) {} /* still parked: nobody took it */
      cw_pool_take(k);
      break;
    }
  }
  j = cw_pool.slot[i].job;
  cw_pool.slot[i].used = 0;
  pthread_mutex_unlock(&cw_pool.mu);
  return j;
}

/* Wait for one job's child and post the result to its hub. Returns 0 if the environment went
 * away meanwhile (the job is freed here then), 1 if the result was posted. */
static int cw_waiter_run(cw_job *j) {
  cw_hub *hub = j->hub;
  struct rusage ru;
  int status = 0, r, posted, left;
  double rec[CW_WAIT_RECORD] = {0, 0, 0, 0, 0};
  memset(&ru, 0, sizeof ru);
  r = cw_wait4(j->pid, &status, 0, &ru); /* all signals are blocked here: EINTR only injected */
  if (r > 0) cw_fill_record(rec, r, status, &ru);
  __atomic_sub_fetch(&cw_waiters, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_lock(&hub->mu);
  posted = !hub->closed;
  if (!posted) {
    free(j); /* the environment is gone and already dropped its side of the job */
  } else {
    j->result = r;
    j->status = status;
    j->user = rec[2];
    j->sys = rec[3];
    j->rss = rec[4];
    j->done = 1;
    j->next_done = __atomic_load_n(&hub->finished, __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&hub->finished, &j->next_done, j, 1, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED)) {
    }
    uv_async_send(&hub->async); /* under the lock: the environment closes it only after closed=1 */
  }
  left = --hub->refs; /* this job's reference, dropped in the same critical section */
  pthread_mutex_unlock(&hub->mu);
  if (left == 0) {
    pthread_mutex_destroy(&hub->mu);
    free(hub);
  }
  return posted;
}

static void *cw_waiter_main(void *arg) {
  cw_job *j = arg;
#if defined(__linux__)
  pthread_setname_np(pthread_self(), "cw-waiter"); /* shows in /proc/<pid>/task/<tid>/comm */
#elif defined(__APPLE__)
  pthread_setname_np("cw-waiter");
#endif
  while (j && cw_waiter_run(j)) j = cw_park();
  return NULL;
}

static void cw_job_unlink(cw_env *ce, cw_job *j) {
  if (j->prev) j->prev->next = j->next;
  else ce->jobs = j->next;
  if (j->next) j->next->prev = j->prev;
  j->prev = j->next = NULL;
}

static void cw_hub_async_cb(uv_async_t *a) {
  cw_hub *hub = (cw_hub *)((char *)a - offsetof(cw_hub, async));
  cw_env *ce = hub->ce;
  napi_env env = ce->env;
  napi_value global = NULL;
  cw_job *list = NULL, *j, *next;
  /* Newest first as pushed: reverse, so exits are delivered in the order they were reaped. */
  for (j = __atomic_exchange_n(&hub->finished, NULL, __ATOMIC_ACQUIRE); j; j = next) {
    next = j->next_done;
    j->next_done = list;
    list = j;
  }
  while ((j = list)) {
    napi_handle_scope scope;
    napi_value fn = NULL, args[7];
    list = j->next_done;
    cw_job_unlink(ce, j);
    if (j->result > 0) cw_pidset_del(&ce->tracked, j->result);
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      if (j->cb) {
        napi_get_reference_value(env, j->cb, &fn);
        napi_delete_reference(env, j->cb);
      } else {
        napi_get_reference_value(env, ce->waiter_cb, &fn);
      }
      args[0] = cw_int(env, j->pid);
      args[1] = cw_int(env, j->result);
      args[2] = cw_int(env, j->status);
      args[3] = cw_int(env, j->user);
      args[4] = cw_int(env, j->sys);
      args[5] = cw_int(env, j->rss);
      args[6] = cw_int(env, j->tag);
      free(j);
      if (fn) {
        napi_get_global(env, &global); /* napi_make_callback needs an object receiver */
        cw_call(ce, global, fn, 7, args);
      }
      napi_close_handle_scope(env, scope);
    } else {
      free(j);
    }
    if (ce->closing) break; /* a callback ended the environment: the cleanup freed the rest */
  }
}

static void cw_hub_on_close(uv_handle_t *h) {
  cw_hub *hub = (cw_hub *)((char *)h - offsetof(cw_hub, async));
  cw_env *ce = hub->ce;
  cw_hub_unref(hub);
  cw_env_close_done(ce);
}

static cw_hub *cw_hub_get(cw_env *ce) {
  cw_hub *hub;
  if (ce->hub) return ce->hub;
  hub = calloc(1, sizeof *hub);
  if (!hub) return NULL;
  if (pthread_mutex_init(&hub->mu, NULL)) {
    free(hub);
    return NULL;
  }
  if (uv_async_init(ce->loop, &hub->async, cw_hub_async_cb)) {
    pthread_mutex_destroy(&hub->mu);
    free(hub);
    return NULL;
  }
  uv_unref((uv_handle_t *)&hub->async);
  hub->refs = 1;
  hub->ce = ce;
  ce->hub = hub;
  return hub;
}

/* startWaiter(pid, callback, tag = 0): 0 or -errno. The job goes to a parked thread if there is
 * one, else to a new thread. The `thread` fault fails either way (it stands for "no thread").
 * `tag` (an int32) comes back as the callback's 7th argument. */
static napi_value cw_start_waiter(napi_env env, napi_callback_info info) {
  CW_ARGS(3);
  int64_t pid, tag = 0;
  napi_valuetype t;
  cw_hub *hub;
  cw_job *j;
  int r, f;
  bool shared = false;
  if (cw_get_int(env, argv[0], "pid", 1, INT_MAX, &pid) ||
      cw_get_function(env, argv[1], "callback") || napi_typeof(env, argv[2], &t) != napi_ok ||
      (t != napi_undefined && cw_get_int(env, argv[2], "tag", INT32_MIN, INT32_MAX, &tag)))
    return NULL;
  if (ce->closing) return cw_int(env, -EBADF);
  if (!(hub = cw_hub_get(ce))) return cw_int(env, -ENOMEM);
  if (!(j = calloc(1, sizeof *j))) return cw_int(env, -ENOMEM);
  j->hub = hub;
  j->pid = (pid_t)pid;
  j->tag = (int)tag;
  if ((f = cwf_hit(CWF_THREAD))) {
    free(j);
    return cw_int(env, -f);
  }
  /* Link and reference first: the thread cannot publish before the async callback runs on this
   * thread, later, but the cleanup of a failed start below must find the job as it left it. */
  if (ce->waiter_cb) {
    napi_value cur;
    if (napi_get_reference_value(env, ce->waiter_cb, &cur) == napi_ok && cur)
      napi_strict_equals(env, cur, argv[1], &shared);
  } else if (napi_create_reference(env, argv[1], 1, &ce->waiter_cb) == napi_ok) {
    shared = true;
  }
  if (!shared && napi_create_reference(env, argv[1], 1, &j->cb) != napi_ok) {
    free(j);
    return cw_int(env, -ENOMEM);
  }
  pthread_mutex_lock(&hub->mu);
  hub->refs++;
  pthread_mutex_unlock(&hub->mu);
  __atomic_add_fetch(&cw_waiters, 1, __ATOMIC_SEQ_CST);
  j->next = ce->jobs;
  if (ce->jobs) ce->jobs->prev = j;
  ce->jobs = j;
  if (cw_pool_give(j)) return cw_int(env, 0);
  {
    pthread_attr_t attr;
    pthread_t tid;
    sigset_t all, old;
    size_t stack = CW_WAITER_STACK;
    if (stack < (size_t)PTHREAD_STACK_MIN) stack = (size_t)PTHREAD_STACK_MIN;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, stack);
    /* The thread inherits the creator's mask: block everything around pthread_create so no
     * signal is ever delivered to it, not even before its first instruction (a reused thread
     * keeps that mask). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r = pthread_create(&tid, &attr, cw_waiter_main, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
  }
  if (r) {
    cw_job_unlink(ce, j);
    if (j->cb) napi_delete_reference(env, j->cb);
    __atomic_sub_fetch(&cw_waiters, 1, __ATOMIC_SEQ_CST);
    cw_hub_unref(hub);
    free(j);
    return cw_int(env, -r);
  }
  return cw_int(env, 0);
}

/* waiterCount(): threads with a job (blocked in wait4, or about to be). */
static napi_value cw_waiter_count(napi_env env, napi_callback_info info) {
  (void)info;
  return cw_int(env, (double)__atomic_load_n(&cw_waiters, __ATOMIC_SEQ_CST));
}

/* waiterIdle(): parked threads, kept for reuse (each exits after cw_idle_ms unused). */
static napi_value cw_waiter_idle(napi_env env, napi_callback_info info) {
  (void)info;
  return cw_int(env, (double)__atomic_load_n(&cw_pool.idle, __ATOMIC_SEQ_CST));
}

/* ------------------------------------------------------------------------------------------ */
/* Waits.                                                                                      */

static napi_value cw_wait_pid(napi_env env, napi_callback_info info) {
  CW_ARGS(2);
  int64_t pid;
  double *out;
  size_t len;
  struct rusage ru;
  int status = 0, r;
  if (cw_get_int(env, argv[0], "pid", 1, INT_MAX, &pid) || cw_get_f64(env, argv[1], &out, &len))
    return NULL;
  if (len < CW_WAIT_RECORD) return cw_int(env, -EINVAL);
  r = cw_wait4((pid_t)pid, &status, WNOHANG, &ru);
  if (r > 0) {
    cw_fill_record(out, r, status, &ru);
    cw_pidset_del(&ce->tracked, r);
  }
  return cw_int(env, r);
}

static napi_value cw_wait_any(napi_env env, napi_callback_info info) {
  CW_ARGS(2);
  int64_t max;
  double *out;
  size_t len, n, i;
  struct rusage ru;
  int status = 0, r = 0;
  if (cw_get_f64(env, argv[0], &out, &len) ||
      cw_get_int(env, argv[1], "max", 0, INT_MAX, &max))
    return NULL;
  n = len / CW_WAIT_RECORD;
  if ((size_t)max < n) n = (size_t)max;
  for (i = 0; i < n; i++) {
    r = cw_wait4(-1, &status, WNOHANG, &ru);
    if (r <= 0) break;
    cw_fill_record(out + i * CW_WAIT_RECORD, r, status, &ru);
    cw_pidset_del(&ce->tracked, r);
  }
  ce->wait_any_state = r > 0 ? 0 : r;
  return cw_int(env, (double)i);
}

static napi_value cw_wait_any_state(napi_env env, napi_callback_info info) {
  CW_ARGS(0);
  return cw_int(env, ce->wait_any_state);
}

/* waitid(P_ALL, 0, WEXITED | WNOHANG | WNOWAIT): the pid of some terminated child, left a zombie
 * (WNOWAIT: its status stays for whoever waits on it; nothing is reaped, so this may name a child
 * that is not ours); 0 if none has terminated; -errno (-ECHILD: no children at all). EINTR is
 * retried. With WNOHANG and nothing to report the kernel returns 0 and leaves si_pid 0, which
 * is why the siginfo is cleared first. Fault injection: the `waitid` op. */
static napi_value cw_peek_exited(napi_env env, napi_callback_info info) {
  CW_ARGS(0);
  siginfo_t si;
  int r;
  for (;;) {
    int f = cwf_hit(CWF_WAITID);
    memset(&si, 0, sizeof si);
    if (f) {
      errno = f;
      r = -1;
    } else {
      r = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
    }
    if (r == 0) return cw_int(env, si.si_pid);
    if (errno != EINTR) return cw_int(env, -errno);
  }
}

/* waitid(P_PIDFD, fd, WEXITED|WNOHANG) through the raw syscall: glibc's waitid() has no rusage
 * argument, the kernel's has. The wait status is rebuilt from the siginfo. */
static napi_value cw_wait_pidfd(napi_env env, napi_callback_info info) {
  CW_ARGS(2);
  int64_t fd;
  double *out;
  size_t len;
  if (cw_get_int(env, argv[0], "pidfd", 0, INT_MAX, &fd) || cw_get_f64(env, argv[1], &out, &len))
    return NULL;
  if (len < CW_WAIT_RECORD) return cw_int(env, -EINVAL);
#ifdef CW_HAVE_PIDFD
  {
    siginfo_t si;
    struct rusage ru;
    long r;
    int status;
    for (;;) {
      int f = cwf_hit(CWF_WAITID);
      memset(&si, 0, sizeof si);
      memset(&ru, 0, sizeof ru);
      if (f) {
        errno = f;
        r = -1;
      } else {
        r = syscall(SYS_waitid, P_PIDFD, (int)fd, &si, WEXITED | WNOHANG, &ru);
      }
      if (r == 0) break;
      if (errno == EAGAIN) return cw_int(env, 0); /* a non-blocking pidfd, still running */
      if (errno != EINTR) return cw_int(env, -errno);
    }
    if (si.si_pid == 0) return cw_int(env, 0);
    switch (si.si_code) {
      case CLD_EXITED: status = (si.si_status & 0xff) << 8; break;
      case CLD_KILLED: status = si.si_status & 0x7f; break;
      case CLD_DUMPED: status = (si.si_status & 0x7f) | 0x80; break;
      default: status = 0; break;
    }
    cw_fill_record(out, si.si_pid, status, &ru);
    cw_pidset_del(&ce->tracked, si.si_pid);
    return cw_int(env, si.si_pid);
  }
#else
  (void)fd;
  return cw_int(env, -ENOSYS);
#endif
}

/* ------------------------------------------------------------------------------------------ */
/* pidfds, signals, fds, subreaper.                                                             */

static napi_value cw_pidfd_open_js(napi_env env, napi_callback_info info) {
  CW_ARGS(1);
  int64_t pid;
  if (cw_get_int(env, argv[0], "pid", 1, INT_MAX, &pid)) return NULL;
  return cw_int(env, cw_pidfd_open((pid_t)pid));
}

static napi_value cw_pidfd_send_signal(napi_env env, napi_callback_info info) {
  CW_ARGS(2);
  int64_t fd, sig;
  if (cw_get_int(env, argv[0], "pidfd", 0, INT_MAX, &fd) ||
      cw_get_int(env, argv[1], "signal", 0, 64, &sig))
    return NULL;
#ifdef CW_HAVE_PIDFD
  {
    int f = cwf_hit(CWF_KILL);
    if (f) return cw_int(env, -f);
    return cw_int(env, syscall(SYS_pidfd_send_signal, (int)fd, (int)sig, NULL, 0) ? -errno : 0);
  }
#else
  return cw_int(env, -ENOSYS);
#endif
}

static napi_value cw_kill(napi_env env, napi_callback_info info) {
  CW_ARGS(2);
  int64_t pid, sig;
  int f;
  if (cw_get_int(env, argv[0], "pid", 1, INT_MAX, &pid) ||
      cw_get_int(env, argv[1], "signal", 0, 64, &sig))
    return NULL;
  if ((f = cwf_hit(CWF_KILL))) return cw_int(env, -f);
  return cw_int(env, kill((pid_t)pid, (int)sig) ? -errno : 0);
}

static napi_value cw_kill_group(napi_env env, napi_callback_info info) {
  CW_ARGS(2);
  int64_t pgid, sig;
  int f;
  if (cw_get_int(env, argv[0], "pgid", 1, INT_MAX, &pgid) ||
      cw_get_int(env, argv[1], "signal", 0, 64, &sig))
    return NULL;
  if ((f = cwf_hit(CWF_KILL))) return cw_int(env, -f);
  return cw_int(env, killpg((pid_t)pgid, (int)sig) ? -errno : 0);
}

static napi_value cw_close_fd(napi_env env, napi_callback_info info) {
  CW_ARGS(1);
  int64_t fd;
  if (cw_get_int(env, argv[0], "fd", 0, INT_MAX, &fd)) return NULL;
  /* EINTR from close: the fd is released anyway on Linux; never retry (it could close a
   * descriptor another thread just opened). */
  if (close((int)fd) && errno != EINTR) return cw_int(env, -errno);
  return cw_int(env, 0);
}

static napi_value cw_set_subreaper(napi_env env, napi_callback_info info) {
  CW_ARGS(1);
  int on;
  if (cw_get_bool(env, argv[0], "on", &on)) return NULL;
#ifdef __linux__
  return cw_int(env, prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) ? -errno : 0);
#else
  return cw_int(env, -ENOSYS);
#endif
}

static napi_value cw_get_subreaper(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef __linux__
  {
    int v = 0;
    if (prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0)) return cw_int(env, -errno);
    return cw_int(env, v ? 1 : 0);
  }
#else
  return cw_int(env, -ENOSYS);
#endif
}

static napi_value cw_errname(napi_env env, napi_callback_info info) {
  CW_ARGS(1);
  int64_t e;
  char buf[64];
  napi_value r;
  if (cw_get_int(env, argv[0], "errno", 0, 1 << 20, &e)) return NULL;
  uv_err_name_r(-(int)e, buf, sizeof buf);
  if (strncmp(buf, "Unknown", 7) == 0) snprintf(buf, sizeof buf, "E%lld", (long long)e);
  napi_create_string_utf8(env, buf, NAPI_AUTO_LENGTH, &r);
  return r;
}

static napi_value cw_faults(napi_env env, napi_callback_info info) {
  napi_value r;
  (void)info;
  napi_create_string_utf8(env, cwf_spec, NAPI_AUTO_LENGTH, &r);
  return r;
}

/* faultHits(): { op: calls failed so far } for every op with a rule. */
static napi_value cw_fault_hits(napi_env env, napi_callback_info info) {
  napi_value r;
  int op;
  (void)info;
  napi_create_object(env, &r);
  for (op = 0; op < CWF_COUNT; op++)
    if (cwf_rules[op].err)
      cw_set(env, r, cwf_ops[op],
             cw_int(env, (double)__atomic_load_n(&cwf_rules[op].hits, __ATOMIC_RELAXED)));
  return r;
}

/* ------------------------------------------------------------------------------------------ */
/* spawn.                                                                                      */

enum { CW_STDIO_PIPE, CW_STDIO_INHERIT, CW_STDIO_NULL, CW_STDIO_STDOUT, CW_STDIO_FD };

static int cw_get_stdio(napi_env env, napi_value v, int i, int *kind, int *fd) {
  static const char *const names[3] = {"stdin", "stdout", "stderr"};
  napi_valuetype t;
  char buf[16], msg[160];
  size_t len;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_number) {
    int64_t n;
    if (cw_get_int(env, v, names[i], 0, INT_MAX, &n)) return -1;
    *kind = CW_STDIO_FD;
    *fd = (int)n;
    return 0;
  }
  if (t == napi_string) {
    napi_get_value_string_utf8(env, v, buf, sizeof buf, &len);
    if (!strcmp(buf, "pipe")) *kind = CW_STDIO_PIPE;
    else if (!strcmp(buf, "inherit")) *kind = CW_STDIO_INHERIT;
    else if (!strcmp(buf, "null")) *kind = CW_STDIO_NULL;
    else if (!strcmp(buf, "stdout") && i == 2) *kind = CW_STDIO_STDOUT;
    else goto bad;
    return 0;
  }
bad:
  snprintf(msg, sizeof msg, "The \"%s\" option must be 'pipe', 'inherit', 'null'%s or an fd",
           names[i], i == 2 ? ", 'stdout'" : "");
  return cw_type_error(env, msg);
}

static napi_value cw_spawn_failure(napi_env env, int err, const char *syscall_name) {
  napi_value obj, s;
  char name[64];
  uv_err_name_r(-err, name, sizeof name);
  if (strncmp(name, "Unknown", 7) == 0) snprintf(name, sizeof name, "E%d", err);
  napi_create_object(env, &obj);
  cw_set(env, obj, "errno", cw_int(env, err));
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &s);
  cw_set(env, obj, "code", s);
  napi_create_string_utf8(env, syscall_name, NAPI_AUTO_LENGTH, &s);
  cw_set(env, obj, "syscall", s);
  return obj;
}

#if !defined(CW_HAVE_ADDCLOSEFROM) && !defined(__APPLE__)
/* Fallback for closefrom(3) without posix_spawn_file_actions_addclosefrom_np: close in the
 * child every fd >= 3 that is open in the parent without FD_CLOEXEC (the CLOEXEC ones go away
 * at exec). Racy against other threads opening inheritable fds meanwhile; those are rare. */
static int cw_add_close_inheritable(posix_spawn_file_actions_t *fa) {
  long max = sysconf(_SC_OPEN_MAX), fd;
  if (max < 0 || max > 65536) max = 65536;
  for (fd = 3; fd < max; fd++) {
    int fl = fcntl((int)fd, F_GETFD);
    if (fl >= 0 && !(fl & FD_CLOEXEC) && posix_spawn_file_actions_addclose(fa, (int)fd))
      return -ENOMEM;
  }
  return 0;
}
#endif

/* Every signal number, for POSIX_SPAWN_SETSIGDEF. glibc's sigfillset leaves out its internal
 * SIGCANCEL and SIGSETXID (32, 33), and its posix_spawn then sets those to SIG_IGN in the child,
 * so an exec'd program would start with them ignored; setting the bits by hand makes them
 * SIG_DFL like everything else, as a fork+exec'd child (libuv's) has them. */
static void cw_all_signals(sigset_t *set) {
  sigfillset(set);
#ifdef __GLIBC__
  {
    unsigned long *w = (unsigned long *)set;
    int sig, bits = 8 * (int)sizeof(unsigned long);
    for (sig = 1; sig < _NSIG && (sig - 1) / bits < (int)(sizeof(sigset_t) / sizeof(long)); sig++)
      w[(sig - 1) / bits] |= 1UL << ((sig - 1) % bits);
  }
#endif
}

/* The posix_spawn path: macOS, and Linux kernels without CLONE_PIDFD or CLOSE_RANGE_UNSHARE.
 * `src[i]` is an fd >= 3 to dup2 onto i, or -1 for kind[i]'s own meaning. */
static int cw_posix_spawn(pid_t *pid, const char *file, char **cargv, char **cenvp,
                          const char *cwd, const int kind[3], const int src[3], int setsid_,
                          int64_t pgid, const char **failed) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t mask;
  short flags;
  int err, i;

  *failed = "posix_spawn";
  if ((err = posix_spawn_file_actions_init(&fa))) return err;
  if ((err = posix_spawnattr_init(&attr))) {
    posix_spawn_file_actions_destroy(&fa);
    return err;
  }
  for (i = 0; i < 3 && !err; i++) {
    if (src[i] >= 0) {
      err = posix_spawn_file_actions_adddup2(&fa, src[i], i);
    } else if (kind[i] == CW_STDIO_NULL) {
      err = posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_RDWR, 0);
    } else if (kind[i] == CW_STDIO_STDOUT) {
      err = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    } else {
      /* 'inherit': Node marks its own 0..2 CLOEXEC at startup (uv_disable_stdio_inheritance),
       * so the child must clear the flag: dup2(i, i) in the file actions does exactly that
       * (glibc >= 2.29, POSIX 2024), addinherit_np on macOS. */
#ifdef __APPLE__
      err = posix_spawn_file_actions_addinherit_np(&fa, i);
#else
      err = posix_spawn_file_actions_adddup2(&fa, i, i);
#endif
    }
  }
  if (!err && cwd) {
#ifdef CW_HAVE_ADDCHDIR
    err = posix_spawn_file_actions_addchdir_np(&fa, cwd);
#else
    err = ENOSYS;
    *failed = "chdir";
#endif
  }
  /* closefrom(3) in the child, after the dup2s: nothing but 0..2 crosses exec, whatever the
   * parent (or another thread, or another library) left inheritable. */
#if defined(CW_HAVE_ADDCLOSEFROM)
  if (!err) err = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#elif !defined(__APPLE__)
  if (!err) err = -cw_add_close_inheritable(&fa);
#endif

  /* Empty mask and default dispositions for every signal: Node ignores SIGPIPE and blocks
   * signals in some threads; none of that may leak into the child. */
  flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigemptyset(&mask);
  if (!err) err = posix_spawnattr_setsigmask(&attr, &mask);
  cw_all_signals(&mask);
  if (!err) err = posix_spawnattr_setsigdefault(&attr, &mask);
  if (!err && setsid_) {
#ifdef POSIX_SPAWN_SETSID
    flags |= POSIX_SPAWN_SETSID; /* a new session is also a new process group */
#else
    err = ENOSYS;
    *failed = "setsid";
#endif
  } else if (!err && pgid >= 0) {
    flags |= POSIX_SPAWN_SETPGROUP;
    err = posix_spawnattr_setpgroup(&attr, (pid_t)pgid);
  }
#ifdef __APPLE__
  flags |= POSIX_SPAWN_CLOEXEC_DEFAULT; /* macOS's closefrom: only the file actions' fds stay */
#endif
  if (!err) err = posix_spawnattr_setflags(&attr, flags);

  /* glibc's posix_spawn runs the child with CLONE_VM|CLONE_VFORK (constant cost whatever the
   * parent's heap) and reports file-action and exec failures through its return value. */
  if (!err) err = posix_spawn(pid, file, &fa, &attr, cargv, cenvp ? cenvp : cw_environ);
  if (err && cwd && (err == ENOENT || err == ENOTDIR || err == EACCES)) {
    /* ENOENT/ENOTDIR/EACCES may come from the chdir action rather than exec: name it. */
    struct stat sb;
    if (stat(cwd, &sb)) {
      err = errno;
      *failed = "chdir";
    } else if (!S_ISDIR(sb.st_mode)) {
      err = ENOTDIR;
      *failed = "chdir";
    }
  }
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return err;
}

#ifdef __linux__
/* Set once clone_spawn reported CW_SPAWN_UNSUPPORTED, or from the start when the environment
 * says CHILDWATCH_SPAWN=posix_spawn (read once per process, at load; an escape hatch for a
 * sandbox that misbehaves on clone, and how the tests run the fallback path): every spawn then
 * uses posix_spawn. CHILDWATCH_SPAWN=clone keeps clone(2) but never tries clone3. */
static volatile int cw_clone_unsupported;

static void cw_spawn_method_load(void) {
  const char *m = getenv("CHILDWATCH_SPAWN");
  if (m && !strcmp(m, "posix_spawn")) cw_clone_unsupported = 1;
  if (m && !strcmp(m, "clone")) cw_clone3_disable();
}
#else
static void cw_spawn_method_load(void) {}
#endif

#ifdef __linux__
/* /dev/null, opened once per process (O_RDWR, CLOEXEC, >= 3) and dup2'd into every child that
 * asks for DEVNULL: three path lookups fewer per spawn. Never closed. */
static int cw_devnull = -1;
static pthread_once_t cw_devnull_once = PTHREAD_ONCE_INIT;
static void cw_devnull_open(void) {
  int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (fd >= 0 && fd < 3) {
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    fd = d;
  }
  cw_devnull = fd;
}

static const char *cw_clone_step_name(const char *step) {
  /* An exec failure is reported as the spawn's, as posix_spawn reports it. */
  return !strcmp(step, "execve") ? "posix_spawn" : step;
}
#endif

/* The spawn method this process's next default spawn uses: "clone3" or "clone" (spawn_linux.c),
 * or "posix_spawn". */
static napi_value cw_spawn_method(napi_env env, napi_callback_info info) {
  napi_value r;
  (void)info;
#ifdef __linux__
  napi_create_string_utf8(env, cw_clone_unsupported ? "posix_spawn" : cw_clone3_usable() ? "clone3" : "clone",
                          NAPI_AUTO_LENGTH, &r);
#else
  napi_create_string_utf8(env, "posix_spawn", NAPI_AUTO_LENGTH, &r);
#endif
  return r;
}

/* One spawn's arguments, from either front end (spawn's options object, spawnv's positional
 * arguments); malloc'd strings, freed by cw_spawn_req_free. */
typedef struct {
  char *file, *cwd, **argv, **envp; /* envp NULL: this process's `environ` */
  int kind[3], given[3];            /* CW_STDIO_*; given: the fd of CW_STDIO_FD */
  int setsid, want_pidfd;
  int use_clone;                    /* 0: posix_spawn; 1: clone(2); 2: clone3 first */
  int64_t pgid;                     /* -1: none */
} cw_spawn_req;

static void cw_spawn_req_free(cw_spawn_req *r) {
  free(r->file);
  free(r->cwd);
  cw_free_strv(r->argv);
  cw_free_strv(r->envp);
}

/* out[0..4]: pid, pidfd (-1 if none), the parent's ends of stdin/stdout/stderr (-1 if none). */
enum { CW_SPAWN_OUT = 5 };

/* Start the child `r` describes. 0 with `out` filled, or an errno with `*failed` naming the
 * syscall; on failure nothing is left behind (no process, no fd). */
static int cw_spawn_run(cw_env *ce, const cw_spawn_req *r, int out[CW_SPAWN_OUT],
                        const char **failed) {
  const int *kind = r->kind, *given = r->given;
  int child_src[3] = {-1, -1, -1}, parent[3] = {-1, -1, -1};
  int i, err = 0, pidfd = -1, f;
  pid_t pid = -1;
  *failed = "posix_spawn";

  for (i = 0; i < 3; i++) {
    if (kind[i] == CW_STDIO_PIPE) {
      int p[2], src;
      if ((err = -cw_pipe(p))) {
        *failed = "pipe2";
        goto fail;
      }
      src = i == 0 ? p[0] : p[1];
      parent[i] = i == 0 ? p[1] : p[0];
      if (src < 3) {
        /* Only when the parent has 0..2 closed: move the child's end above 2, so no dup2 onto
         * 0..2 can clobber the source of a later one. */
        int d = fcntl(src, F_DUPFD_CLOEXEC, 3);
        err = d < 0 ? errno : 0;
        close(src);
        if (d < 0) {
          *failed = "dup";
          goto fail;
        }
        src = d;
      }
      child_src[i] = src;
    } else if (kind[i] == CW_STDIO_FD) {
      /* Work from a private CLOEXEC copy >= 3, so no dup2 onto 0..2 can clobber the source
       * of a later one (e.g. stdout given as fd 0), and a bad fd fails here, named. */
      int d = fcntl(given[i], F_DUPFD_CLOEXEC, 3);
      if (d < 0) {
        err = errno;
        *failed = "dup";
        goto fail;
      }
      child_src[i] = d;
    }
  }

  if ((f = cwf_hit(CWF_SPAWN))) {
    err = f;
    goto fail;
  }
#ifdef __linux__
  if (r->use_clone && !cw_clone_unsupported) {
    cw_child_plan plan;
    const char *step = "clone";
    int rc;
    pthread_once(&cw_devnull_once, cw_devnull_open);
    if (!ce->spawn_stack) ce->spawn_stack = cw_spawn_stack_new();
    if (ce->spawn_stack && cw_devnull >= 0) {
      plan.file = r->file;
      plan.argv = r->argv;
      plan.envp = r->envp ? r->envp : cw_environ;
      plan.cwd = r->cwd;
      for (i = 0; i < 3; i++)
        plan.stdio[i] = child_src[i] >= 0            ? child_src[i]
                        : kind[i] == CW_STDIO_NULL   ? cw_devnull
                        : kind[i] == CW_STDIO_STDOUT ? CW_CHILD_STDOUT
                                                     : CW_CHILD_INHERIT;
      plan.setsid = r->setsid;
      plan.pgid = r->pgid >= 0 ? (int)r->pgid : -1;
      plan.want_pidfd = r->want_pidfd;
      f = r->use_clone == 2 && cw_clone3_usable() ? cwf_hit(CWF_CLONE3) : 0;
      rc = cw_clone_spawn(&plan, f ? -f : r->use_clone == 2, ce->spawn_stack, &pid, &pidfd, &step);
      if (rc == 0) goto spawned;
      if (rc != CW_SPAWN_UNSUPPORTED) {
        err = rc;
        *failed = cw_clone_step_name(step);
        pid = -1;
        goto fail;
      }
      cw_clone_unsupported = 1;
    }
  }
#endif
  err = cw_posix_spawn(&pid, r->file, r->argv, r->envp, r->cwd, kind, child_src, r->setsid, r->pgid,
                       failed);
  if (err) {
    pid = -1;
    goto fail;
  }
#ifdef __linux__
spawned:
#endif
  cw_pidset_add(&ce->tracked, (int)pid);
  if (r->want_pidfd && pidfd < 0) {
    pidfd = cw_pidfd_open((pid_t)pid);
    if (pidfd < 0) pidfd = -1; /* the caller falls back (pidfdOpen tells it why) */
  } else if (pidfd >= 0 && cwf_hit(CWF_PIDFD_OPEN)) {
    /* Fault injection covers the pidfd that came with the clone as it did pidfd_open's. */
    close(pidfd);
    pidfd = -1;
  }
  out[0] = (int)pid;
  out[1] = pidfd;
  for (i = 0; i < 3; i++) out[2 + i] = parent[i];
  err = 0;
  goto out;

fail:
  for (i = 0; i < 3; i++)
    if (parent[i] >= 0) close(parent[i]);
out:
  for (i = 0; i < 3; i++)
    if (child_src[i] >= 0) close(child_src[i]);
  return err;
}

/* spawn(options): the object front end (tests, tools). TypeError/RangeError for bad options;
 * {pid, pidfd, stdin, stdout, stderr} or a failure {errno, code, syscall}. */
static napi_value cw_spawn(napi_env env, napi_callback_info info) {
  CW_ARGS(1);
  static const char *const stdio_keys[3] = {"stdin", "stdout", "stderr"};
  napi_value opts = argv[0], v, result = NULL;
  napi_valuetype t;
  cw_spawn_req r = {.given = {-1, -1, -1}, .use_clone = 2, .pgid = -1};
  int out[CW_SPAWN_OUT], i, err;
  const char *failed;

  if (napi_typeof(env, opts, &t) != napi_ok || t != napi_object) {
    cw_type_error(env, "The \"options\" argument must be of type object");
    return NULL;
  }
#define CW_OPT(key) (napi_get_named_property(env, opts, key, &v) == napi_ok)
  if (!CW_OPT("file") || !(r.file = cw_get_string(env, v, "file"))) goto out;
  if (!CW_OPT("argv") || !(r.argv = cw_get_strv(env, v, "argv"))) goto out;
  /* envp null: the child gets this process's own environment (`environ`), which on Node's main
   * thread is exactly process.env; building it in JS costs ~0.5 us per variable. */
  if (!CW_OPT("envp") || napi_typeof(env, v, &t) != napi_ok) goto out;
  if (t != napi_null && !(r.envp = cw_get_strv(env, v, "envp"))) goto out;
  if (!CW_OPT("cwd")) goto out;
  if (napi_typeof(env, v, &t) != napi_ok) goto out;
  if (t != napi_null && t != napi_undefined && !(r.cwd = cw_get_string(env, v, "cwd"))) goto out;
  for (i = 0; i < 3; i++)
    if (!CW_OPT(stdio_keys[i]) || cw_get_stdio(env, v, i, &r.kind[i], &r.given[i])) goto out;
  if (!CW_OPT("setsid") || cw_get_bool(env, v, "setsid", &r.setsid)) goto out;
  if (!CW_OPT("pgid")) goto out;
  if (napi_typeof(env, v, &t) != napi_ok) goto out;
  if (t != napi_undefined && cw_get_int(env, v, "pgid", -1, INT_MAX, &r.pgid)) goto out;
  if (!CW_OPT("wantPidfd") || cw_get_bool(env, v, "wantPidfd", &r.want_pidfd)) goto out;
  /* method (optional): 'clone3', 'clone' or 'posix_spawn'; by default this process's
   * (spawnMethod()). */
  if (!CW_OPT("method") || napi_typeof(env, v, &t) != napi_ok) goto out;
  if (t != napi_undefined) {
    char m[16] = "";
    size_t mlen;
    if (t == napi_string) napi_get_value_string_utf8(env, v, m, sizeof m, &mlen);
    if (!strcmp(m, "posix_spawn")) {
      r.use_clone = 0;
    } else if (!strcmp(m, "clone")) {
      r.use_clone = 1;
    } else if (strcmp(m, "clone3")) {
      cw_type_error(env, "The \"method\" option must be 'clone3', 'clone' or 'posix_spawn'");
      goto out;
    }
  }
#undef CW_OPT

  if ((err = cw_spawn_run(ce, &r, out, &failed))) {
    result = cw_spawn_failure(env, err, failed);
  } else {
    napi_create_object(env, &result);
    cw_set(env, result, "pid", cw_int(env, out[0]));
    cw_set(env, result, "pidfd", cw_int(env, out[1]));
    for (i = 0; i < 3; i++) cw_set(env, result, stdio_keys[i], cw_int(env, out[2 + i]));
  }
out:
  cw_spawn_req_free(&r);
  return result;
}

/* spawnv(file, argv, envp, cwd, stdin, stdout, stderr, flags, pgid, out): the positional front
 * end the library spawns through. Named properties cost a string-table lookup each from C (and
 * a result object a map transition per property); this reads plain arguments and writes `out`
 * (an Int32Array of CW_SPAWN_OUT). stdio: an fd >= 0, or CW_SPAWNV_PIPE/INHERIT/NULL/STDOUT;
 * flags: CW_SPAWNV_SETSID | CW_SPAWNV_PIDFD | CW_SPAWNV_POSIX_SPAWN | CW_SPAWNV_NO_CLONE3
 * (clone(2) even where clone3 works: the tests run every path). The caller (host/spawn.ts) has
 * checked the types; what it could not check (NUL bytes, ranges) still throws here.
 * Returns 0, or a failure {errno, code, syscall}. */
enum { CW_SPAWNV_PIPE = -1, CW_SPAWNV_INHERIT = -2, CW_SPAWNV_NULL = -3, CW_SPAWNV_STDOUT = -4 };
enum { CW_SPAWNV_SETSID = 1, CW_SPAWNV_PIDFD = 2, CW_SPAWNV_POSIX_SPAWN = 4, CW_SPAWNV_NO_CLONE3 = 8 };

static napi_value cw_spawnv(napi_env env, napi_callback_info info) {
  CW_ARGS(10);
  static const char *const names[3] = {"stdin", "stdout", "stderr"};
  napi_value result = NULL;
  napi_valuetype t;
  napi_typedarray_type type;
  size_t len = 0;
  void *data = NULL;
  bool is_ta = false;
  cw_spawn_req r = {.given = {-1, -1, -1}, .use_clone = 2, .pgid = -1};
  int64_t n;
  int *out, i, err;
  const char *failed;

  if (napi_is_typedarray(env, argv[9], &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, argv[9], &type, &len, &data, NULL, NULL) != napi_ok ||
      type != napi_int32_array || len < CW_SPAWN_OUT) {
    cw_type_error(env, "The \"out\" argument must be an Int32Array of 5");
    return NULL;
  }
  out = data;
  if (!(r.file = cw_get_string(env, argv[0], "file"))) goto out;
  if (!(r.argv = cw_get_strv(env, argv[1], "argv"))) goto out;
  if (napi_typeof(env, argv[2], &t) != napi_ok) goto out;
  if (t != napi_null && !(r.envp = cw_get_strv(env, argv[2], "envp"))) goto out;
  if (napi_typeof(env, argv[3], &t) != napi_ok) goto out;
  if (t != napi_null && !(r.cwd = cw_get_string(env, argv[3], "cwd"))) goto out;
  for (i = 0; i < 3; i++) {
    if (cw_get_int(env, argv[4 + i], names[i], i == 2 ? CW_SPAWNV_STDOUT : CW_SPAWNV_NULL, INT_MAX,
                   &n))
      goto out;
    r.kind[i] = n >= 0 ? CW_STDIO_FD : n == CW_SPAWNV_PIPE ? CW_STDIO_PIPE
                : n == CW_SPAWNV_INHERIT ? CW_STDIO_INHERIT : n == CW_SPAWNV_NULL ? CW_STDIO_NULL
                : CW_STDIO_STDOUT;
    r.given[i] = (int)n;
  }
  if (cw_get_int(env, argv[7], "flags", 0, 15, &n)) goto out;
  r.setsid = (n & CW_SPAWNV_SETSID) != 0;
  r.want_pidfd = (n & CW_SPAWNV_PIDFD) != 0;
  r.use_clone = (n & CW_SPAWNV_POSIX_SPAWN) ? 0 : (n & CW_SPAWNV_NO_CLONE3) ? 1 : 2;
  if (cw_get_int(env, argv[8], "pgid", -1, INT_MAX, &r.pgid)) goto out;

  err = cw_spawn_run(ce, &r, out, &failed);
  result = err ? cw_spawn_failure(env, err, failed) : cw_int(env, 0);
out:
  cw_spawn_req_free(&r);
  return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Environment cleanup.                                                                         */

static int cw_job_for(cw_env *ce, int pid) {
  cw_job *j;
  for (j = ce->jobs; j; j = j->next)
    if (j->pid == pid) return 1;
  return 0;
}

/* A terminated Worker's children that are still unreaped: kill and reap them. First make sure
 * the pid is still our child (it may have been reaped elsewhere and the number reused): a
 * WNOWAIT probe says ECHILD for anything else. A pidfd taken before the probe pins the very
 * process, so the kill cannot hit a newcomer. Children with a waiter thread are reaped by it. */
static void cw_kill_tracked(cw_env *ce) {
  size_t i;
  for (i = 0; i < ce->tracked.cap; i++) {
    int pid = ce->tracked.slots[i], fd;
    siginfo_t si;
    if (pid <= 0) continue;
    fd = cw_pidfd_open_raw(pid);
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) && errno == ECHILD) {
      if (fd >= 0) close(fd);
      continue;
    }
#ifdef CW_HAVE_PIDFD
    if (fd >= 0) syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0);
    else
#endif
      kill(pid, SIGKILL);
    if (!cw_job_for(ce, pid)) {
#ifdef CW_HAVE_PIDFD
      if (fd >= 0) {
        while (syscall(SYS_waitid, P_PIDFD, fd, &si, WEXITED, NULL) && errno == EINTR) {}
      } else
#endif
      {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
      }
    }
    if (fd >= 0) close(fd);
  }
  free(ce->tracked.slots);
  memset(&ce->tracked, 0, sizeof ce->tracked);
}

static void cw_env_finish(cw_env *ce) {
  napi_env env = ce->env;
  napi_async_cleanup_hook_handle h = ce->cleanup;
  if (ce->poll_ctor) napi_delete_reference(env, ce->poll_ctor);
  if (ce->reader_ctor) napi_delete_reference(env, ce->reader_ctor);
  if (ce->signal_ctor) napi_delete_reference(env, ce->signal_ctor);
  if (ce->set_ctor) napi_delete_reference(env, ce->set_ctor);
  if (ce->waiter_cb) napi_delete_reference(env, ce->waiter_cb);
  if (ce->actx) napi_async_destroy(env, ce->actx);
  napi_set_instance_data(env, NULL, NULL, NULL);
  free(ce->tracked.slots);
#ifdef __linux__
  cw_spawn_stack_free(ce->spawn_stack);
#endif
  free(ce);
  napi_remove_async_cleanup_hook(h);
}

static void cw_env_close_done(cw_env *ce) {
  if (--ce->pending_closes == 0 && ce->closing) cw_env_finish(ce);
}

/* The environment is going away (process exit, or a Worker ending or terminated): close every
 * handle, drop the hub, and for a Worker kill and reap its children. Runs on the JS thread; the
 * loop still runs, so uv_close callbacks complete before napi_remove_async_cleanup_hook. */
static void cw_env_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  cw_env *ce = arg;
  cw_job *j, *next;
  ce->closing = 1;
  ce->cleanup = handle;
  if (!ce->is_main) cw_kill_tracked(ce);
  while (ce->handles) cw_handle_close(ce->handles);
  if (ce->hub) {
    cw_hub *hub = ce->hub;
    pthread_mutex_lock(&hub->mu);
    hub->closed = 1;
    for (j = ce->jobs; j; j = next) {
      next = j->next;
      if (j->cb) napi_delete_reference(ce->env, j->cb);
      j->cb = NULL;
      if (j->done) free(j); /* finished, not yet dispatched; a running one is freed by its thread */
    }
    ce->jobs = NULL;
    __atomic_store_n(&hub->finished, NULL, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&hub->mu);
    ce->pending_closes++;
    uv_close((uv_handle_t *)&hub->async, cw_hub_on_close);
    ce->hub = NULL;
  }
  cw_pool_trim(); /* parked threads exit now, not CW_IDLE_MS later (a Worker ends clean) */
  if (ce->pending_closes == 0) cw_env_finish(ce);
}

/* ------------------------------------------------------------------------------------------ */
/* Module registration.                                                                        */

/* A handle class: close, ref and unref, then the kind's own methods (`extra`, n of them). */
static napi_ref cw_class(napi_env env, cw_env *ce, const char *name,
                         const napi_property_descriptor *extra, size_t n) {
  napi_property_descriptor m[8] = {
    {"close", NULL, cw_h_close, NULL, NULL, NULL, napi_default, ce},
    {"ref", NULL, cw_h_ref, NULL, NULL, NULL, napi_default, ce},
    {"unref", NULL, cw_h_unref, NULL, NULL, NULL, napi_default, ce},
  };
  napi_value cls;
  napi_ref ref = NULL;
  size_t i;
  for (i = 0; i < n && i < 5; i++) {
    m[3 + i] = extra[i];
    m[3 + i].data = ce;
  }
  if (napi_define_class(env, name, NAPI_AUTO_LENGTH, cw_ctor, ce, 3 + i, m, &cls) == napi_ok)
    napi_create_reference(env, cls, 1, &ref);
  return ref;
}

#define CW_METHOD(n, f) {n, NULL, f, NULL, NULL, NULL, napi_default, NULL}
static const napi_property_descriptor cw_poll_methods[] = {
  CW_METHOD("restart", cw_p_restart), CW_METHOD("stop", cw_p_stop)};
static const napi_property_descriptor cw_reader_methods[] = {
  CW_METHOD("stream", cw_r_stream), CW_METHOD("setLimit", cw_r_set_limit),
  CW_METHOD("pause", cw_r_pause), CW_METHOD("resume", cw_r_resume)};
#ifdef __linux__
static const napi_property_descriptor cw_set_methods[] = {
  CW_METHOD("add", cw_s_add), CW_METHOD("rearm", cw_s_rearm), CW_METHOD("remove", cw_s_remove)};
#define CW_SET_METHODS cw_set_methods, sizeof cw_set_methods / sizeof cw_set_methods[0]
#else
#define CW_SET_METHODS NULL, 0
#endif
#undef CW_METHOD

NAPI_MODULE_INIT() {
  cw_env *ce = NULL;
  napi_value res, name;
  pthread_once(&cwf_once, cwf_load);
  pthread_once(&cw_idle_once, cw_idle_load);
  /* Loaded again in the same environment (another path, a cleared require cache): share. */
  if (napi_get_instance_data(env, (void **)&ce) != napi_ok || !ce) {
    ce = calloc(1, sizeof *ce);
    if (!ce) {
      napi_throw_error(env, "ENOMEM", "childwatch: out of memory");
      return NULL;
    }
    ce->env = env;
    ce->is_main = cw_is_main_thread();
    if (napi_get_uv_event_loop(env, &ce->loop) != napi_ok) {
      free(ce);
      napi_throw_error(env, NULL, "childwatch: no event loop");
      return NULL;
    }
    ce->poll_ctor = cw_class(env, ce, "NativePoll", cw_poll_methods, 2);
    ce->signal_ctor = cw_class(env, ce, "NativeSignal", NULL, 0);
    ce->set_ctor = cw_class(env, ce, "NativePidfdSet", CW_SET_METHODS);
    ce->reader_ctor = cw_class(env, ce, "NativePipeReader", cw_reader_methods, 4);
    napi_create_object(env, &res);
    napi_create_string_utf8(env, "childwatch", NAPI_AUTO_LENGTH, &name);
    napi_async_init(env, res, name, &ce->actx);
    napi_set_instance_data(env, ce, NULL, NULL);
    napi_add_async_cleanup_hook(env, cw_env_cleanup, ce, &ce->cleanup);
  }
  {
    napi_property_descriptor fns[] = {
#define CW_FN(n, f) {n, NULL, f, NULL, NULL, NULL, napi_enumerable, ce}
      CW_FN("spawn", cw_spawn),
      CW_FN("spawnv", cw_spawnv),
      CW_FN("spawnMethod", cw_spawn_method),
      CW_FN("waitPid", cw_wait_pid),
      CW_FN("waitAny", cw_wait_any),
      CW_FN("waitAnyState", cw_wait_any_state),
      CW_FN("peekExited", cw_peek_exited),
      CW_FN("waitPidfd", cw_wait_pidfd),
      CW_FN("pidfdOpen", cw_pidfd_open_js),
      CW_FN("pidfdSendSignal", cw_pidfd_send_signal),
      CW_FN("kill", cw_kill),
      CW_FN("killGroup", cw_kill_group),
      CW_FN("close", cw_close_fd),
      CW_FN("pollFd", cw_poll_fd),
      CW_FN("pidfdSet", cw_pidfd_set),
      CW_FN("signalSubscribe", cw_signal_subscribe),
      CW_FN("readPipe", cw_read_pipe),
      CW_FN("startWaiter", cw_start_waiter),
      CW_FN("waiterCount", cw_waiter_count),
      CW_FN("waiterIdle", cw_waiter_idle),
      CW_FN("setSubreaper", cw_set_subreaper),
      CW_FN("getSubreaper", cw_get_subreaper),
      CW_FN("errname", cw_errname),
      CW_FN("faults", cw_faults),
      CW_FN("faultHits", cw_fault_hits),
#undef CW_FN
    };
    napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  }
  return exports;
}
