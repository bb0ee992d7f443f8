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
#include <unistd.h>

#ifdef __linux__
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
 * startWaiter), poll (uv_poll_init of pollFd), signal (uv_signal_start of signalSubscribe).
 * Example: CHILDWATCH_FAULTS=pidfd_open=EMFILE:2,spawn=EAGAIN:1,wait4=EINTR:3,kill=EPERM
 * An unknown op or errno makes the whole spec ignored (faults() then reports "invalid: ...").
 * faultHits() tells how many calls of each op with a rule were failed so far (tests use it to
 * show that an injected fault was really met, e.g. an EINTR that was retried invisibly).
 */
enum { CWF_SPAWN, CWF_PIPE2, CWF_PIDFD_OPEN, CWF_WAIT4, CWF_WAITID, CWF_KILL, CWF_THREAD,
       CWF_POLL, CWF_SIGNAL, CWF_COUNT };
static const char *const cwf_ops[CWF_COUNT] = {
  "spawn", "pipe2", "pidfd_open", "wait4", "waitid", "kill", "thread", "poll", "signal"};
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

static void cwf_load(void) {
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
 * environment went away first, the thread frees it. `done` and the done-list are guarded by the
 * hub's mutex; the rest of the links and `cb` belong to the JS thread. */
typedef struct cw_job {
  struct cw_job *next_done;
  struct cw_job *prev, *next; /* the environment's list of jobs not yet dispatched */
  cw_hub *hub;
  pid_t pid;
  int done, result, status;
  double user, sys, rss;
  napi_ref cb;
} cw_job;

/* The waiter hub: one per environment, one reference for the environment plus one per thread.
 * The last reference frees it, so a thread finishing after its Worker ended still finds it. */
struct cw_hub {
  pthread_mutex_t mu;
  uv_async_t async;
  int refs;
  int closed; /* the environment went away: finished jobs are freed by their thread */
  cw_job *done_head, *done_tail;
  cw_env *ce; /* JS thread only, valid while !closed */
};

enum { CW_POLL = 1, CW_SIGNAL = 2 };

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
  cw_env *ce;
  napi_ref self, cb;
  struct cw_handle *prev, *next;
} cw_handle;

struct cw_env {
  napi_env env;
  uv_loop_t *loop;
  napi_ref poll_ctor, signal_ctor;
  napi_async_context actx;
  cw_handle *handles;
  cw_hub *hub;
  cw_job *jobs;
  cw_pidset tracked;
  int wait_any_state;
  int is_main;
  int closing;
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

/* A malloc'd UTF-8 copy of a JS string; TypeError if not a string or if it holds a NUL byte. */
static char *cw_get_string(napi_env env, napi_value v, const char *name) {
  napi_valuetype t;
  size_t len = 0;
  char *s, msg[200];
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  if (t != napi_string) {
    snprintf(msg, sizeof msg, "The \"%s\" argument must be of type string", name);
    cw_type_error(env, msg);
    return NULL;
  }
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  s = malloc(len + 1);
  if (!s) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    snprintf(msg, sizeof msg, "The argument '%s' must be a string without null bytes", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", msg);
    return NULL;
  }
  return s;
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
  char **out, item[64], msg[160];
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
    snprintf(item, sizeof item, "%s[%u]", name, i);
    if (!(out[i] = cw_get_string(env, e, item))) goto fail;
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
  }
  h->cb = h->self = NULL;
  if (h->initialized) {
    ce->pending_closes++;
    uv_close(&h->u.handle, cw_handle_on_close);
  } else {
    cw_handle_release(h);
  }
  if (h->kind == CW_POLL && h->owns_fd && h->fd >= 0) {
    close(h->fd);
    h->fd = -1;
  }
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

static void *cw_waiter_main(void *arg) {
  cw_job *j = arg;
  cw_hub *hub = j->hub;
  struct rusage ru;
  int status = 0, r;
  double rec[CW_WAIT_RECORD] = {0, 0, 0, 0, 0};
  memset(&ru, 0, sizeof ru);
  r = cw_wait4(j->pid, &status, 0, &ru); /* all signals are blocked here: EINTR only injected */
  if (r > 0) cw_fill_record(rec, r, status, &ru);
  __atomic_sub_fetch(&cw_waiters, 1, __ATOMIC_SEQ_CST);
  pthread_mutex_lock(&hub->mu);
  if (hub->closed) {
    free(j); /* the environment is gone and already dropped its side of the job */
  } else {
    j->result = r;
    j->status = status;
    j->user = rec[2];
    j->sys = rec[3];
    j->rss = rec[4];
    j->done = 1;
    if (hub->done_tail) hub->done_tail->next_done = j;
    else hub->done_head = j;
    hub->done_tail = j;
    uv_async_send(&hub->async); /* under the lock: the environment closes it only after closed=1 */
  }
  pthread_mutex_unlock(&hub->mu);
  cw_hub_unref(hub);
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
  cw_job *list, *j;
  pthread_mutex_lock(&hub->mu);
  list = hub->done_head;
  hub->done_head = hub->done_tail = NULL;
  pthread_mutex_unlock(&hub->mu);
  while ((j = list)) {
    napi_handle_scope scope;
    napi_value fn = NULL, args[6];
    list = j->next_done;
    cw_job_unlink(ce, j);
    if (j->result > 0) cw_pidset_del(&ce->tracked, j->result);
    if (napi_open_handle_scope(env, &scope) == napi_ok) {
      napi_get_reference_value(env, j->cb, &fn);
      napi_delete_reference(env, j->cb);
      args[0] = cw_int(env, j->pid);
      args[1] = cw_int(env, j->result);
      args[2] = cw_int(env, j->status);
      args[3] = cw_int(env, j->user);
      args[4] = cw_int(env, j->sys);
      args[5] = cw_int(env, j->rss);
      free(j);
      if (fn) {
        napi_value global;
        napi_get_global(env, &global); /* napi_make_callback needs an object receiver */
        cw_call(ce, global, fn, 6, args);
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

/* startWaiter(pid, callback): 0 or -errno. */
static napi_value cw_start_waiter(napi_env env, napi_callback_info info) {
  CW_ARGS(2);
  int64_t pid;
  cw_hub *hub;
  cw_job *j;
  pthread_attr_t attr;
  pthread_t tid;
  sigset_t all, old;
  size_t stack = CW_WAITER_STACK;
  int r, f;
  if (cw_get_int(env, argv[0], "pid", 1, INT_MAX, &pid) ||
      cw_get_function(env, argv[1], "callback"))
    return NULL;
  if (ce->closing) return cw_int(env, -EBADF);
  if (!(hub = cw_hub_get(ce))) return cw_int(env, -ENOMEM);
  if (!(j = calloc(1, sizeof *j))) return cw_int(env, -ENOMEM);
  j->hub = hub;
  j->pid = (pid_t)pid;
  if ((f = cwf_hit(CWF_THREAD))) {
    free(j);
    return cw_int(env, -f);
  }
  if (stack < (size_t)PTHREAD_STACK_MIN) stack = (size_t)PTHREAD_STACK_MIN;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, stack);
  pthread_mutex_lock(&hub->mu);
  hub->refs++;
  pthread_mutex_unlock(&hub->mu);
  __atomic_add_fetch(&cw_waiters, 1, __ATOMIC_SEQ_CST);
  /* The thread inherits the creator's mask: block everything around pthread_create so no
   * signal is ever delivered to it, not even before its first instruction. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  r = pthread_create(&tid, &attr, cw_waiter_main, j);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  pthread_attr_destroy(&attr);
  if (r) {
    __atomic_sub_fetch(&cw_waiters, 1, __ATOMIC_SEQ_CST);
    cw_hub_unref(hub);
    free(j);
    return cw_int(env, -r);
  }
  /* The thread cannot publish before we link: it only touches the done-list under the mutex,
   * and the async callback that consumes it runs on this thread, later. */
  napi_create_reference(env, argv[1], 1, &j->cb);
  j->next = ce->jobs;
  if (ce->jobs) ce->jobs->prev = j;
  ce->jobs = j;
  return cw_int(env, 0);
}

static napi_value cw_waiter_count(napi_env env, napi_callback_info info) {
  (void)info;
  return cw_int(env, (double)__atomic_load_n(&cw_waiters, __ATOMIC_SEQ_CST));
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

static napi_value cw_spawn(napi_env env, napi_callback_info info) {
  CW_ARGS(1);
  static const char *const stdio_keys[3] = {"stdin", "stdout", "stderr"};
  napi_value opts = argv[0], v, result = NULL;
  napi_valuetype t;
  char *file = NULL, *cwd = NULL, **cargv = NULL, **cenvp = NULL;
  int kind[3], given[3] = {-1, -1, -1}, child_src[3] = {-1, -1, -1}, parent[3] = {-1, -1, -1};
  int setsid_ = 0, want_pidfd = 0, i, err = 0, fa_ok = 0, attr_ok = 0, pidfd = -1, f;
  int64_t pgid = -1;
  const char *failed = "posix_spawn";
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t mask;
  short flags;
  pid_t pid = -1;

  if (napi_typeof(env, opts, &t) != napi_ok || t != napi_object) {
    cw_type_error(env, "The \"options\" argument must be of type object");
    return NULL;
  }
#define CW_OPT(key) (napi_get_named_property(env, opts, key, &v) == napi_ok)
  if (!CW_OPT("file") || !(file = cw_get_string(env, v, "file"))) goto out;
  if (!CW_OPT("argv") || !(cargv = cw_get_strv(env, v, "argv"))) goto out;
  /* envp null: the child gets this process's own environment (`environ`), which on Node's main
   * thread is exactly process.env; building it in JS costs ~0.5 us per variable. */
  if (!CW_OPT("envp") || napi_typeof(env, v, &t) != napi_ok) goto out;
  if (t != napi_null && !(cenvp = cw_get_strv(env, v, "envp"))) goto out;
  if (!CW_OPT("cwd")) goto out;
  if (napi_typeof(env, v, &t) != napi_ok) goto out;
  if (t != napi_null && t != napi_undefined && !(cwd = cw_get_string(env, v, "cwd"))) goto out;
  for (i = 0; i < 3; i++)
    if (!CW_OPT(stdio_keys[i]) || cw_get_stdio(env, v, i, &kind[i], &given[i])) goto out;
  if (!CW_OPT("setsid") || cw_get_bool(env, v, "setsid", &setsid_)) goto out;
  if (!CW_OPT("pgid")) goto out;
  if (napi_typeof(env, v, &t) != napi_ok) goto out;
  if (t != napi_undefined && cw_get_int(env, v, "pgid", -1, INT_MAX, &pgid)) goto out;
  if (!CW_OPT("wantPidfd") || cw_get_bool(env, v, "wantPidfd", &want_pidfd)) goto out;
#undef CW_OPT

  /* Everything is allocated and every argument checked: from here on failures are OS errors,
   * returned as {errno, code, syscall}, and undo everything they made. */
  if ((err = posix_spawn_file_actions_init(&fa))) goto fail;
  fa_ok = 1;
  if ((err = posix_spawnattr_init(&attr))) goto fail;
  attr_ok = 1;

  for (i = 0; i < 3; i++) {
    int src = -1;
    if (kind[i] == CW_STDIO_PIPE) {
      int p[2];
      if ((err = -cw_pipe(p))) {
        failed = "pipe2";
        goto fail;
      }
      src = i == 0 ? p[0] : p[1];
      parent[i] = i == 0 ? p[1] : p[0];
    } else if (kind[i] == CW_STDIO_FD) {
      src = given[i];
    }
    if (src >= 0) {
      /* Work from a private CLOEXEC copy >= 3, so no dup2 onto 0..2 can clobber the source
       * of a later one (e.g. stdout given as fd 0), and a bad fd fails here, named. */
      int d = fcntl(src, F_DUPFD_CLOEXEC, 3);
      if (d < 0) {
        err = errno;
        failed = "dup";
        if (kind[i] == CW_STDIO_PIPE) close(src);
        goto fail;
      }
      if (kind[i] == CW_STDIO_PIPE) close(src);
      child_src[i] = d;
      if ((err = posix_spawn_file_actions_adddup2(&fa, d, i))) goto fail;
    } else if (kind[i] == CW_STDIO_NULL) {
      if ((err = posix_spawn_file_actions_addopen(&fa, i, "/dev/null",
                                                  i == 0 ? O_RDONLY : O_RDWR, 0)))
        goto fail;
    } else if (kind[i] == CW_STDIO_STDOUT) {
      if ((err = posix_spawn_file_actions_adddup2(&fa, 1, 2))) goto fail;
    } else {
      /* 'inherit': Node marks its own 0..2 CLOEXEC at startup (uv_disable_stdio_inheritance),
       * so the child must clear the flag: dup2(i, i) in the file actions does exactly that
       * (glibc >= 2.29, POSIX 2024), addinherit_np on macOS. */
#ifdef __APPLE__
      if ((err = posix_spawn_file_actions_addinherit_np(&fa, i))) goto fail;
#else
      if ((err = posix_spawn_file_actions_adddup2(&fa, i, i))) goto fail;
#endif
    }
  }
  if (cwd) {
#ifdef CW_HAVE_ADDCHDIR
    if ((err = posix_spawn_file_actions_addchdir_np(&fa, cwd))) goto fail;
#else
    err = ENOSYS;
    failed = "chdir";
    goto fail;
#endif
  }
  /* closefrom(3) in the child, after the dup2s: nothing but 0..2 crosses exec, whatever the
   * parent (or another thread, or another library) left inheritable. */
#if defined(CW_HAVE_ADDCLOSEFROM)
  if ((err = posix_spawn_file_actions_addclosefrom_np(&fa, 3))) goto fail;
#elif !defined(__APPLE__)
  if ((err = -cw_add_close_inheritable(&fa))) goto fail;
#endif

  /* Empty mask and default dispositions for every signal: Node ignores SIGPIPE and blocks
   * signals in some threads; none of that may leak into the child. */
  flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigemptyset(&mask);
  if ((err = posix_spawnattr_setsigmask(&attr, &mask))) goto fail;
  cw_all_signals(&mask);
  if ((err = posix_spawnattr_setsigdefault(&attr, &mask))) goto fail;
  if (setsid_) {
#ifdef POSIX_SPAWN_SETSID
    flags |= POSIX_SPAWN_SETSID; /* a new session is also a new process group */
#else
    err = ENOSYS;
    failed = "setsid";
    goto fail;
#endif
  } else if (pgid >= 0) {
    flags |= POSIX_SPAWN_SETPGROUP;
    if ((err = posix_spawnattr_setpgroup(&attr, (pid_t)pgid))) goto fail;
  }
#ifdef __APPLE__
  flags |= POSIX_SPAWN_CLOEXEC_DEFAULT; /* macOS's closefrom: only the file actions' fds stay */
#endif
  if ((err = posix_spawnattr_setflags(&attr, flags))) goto fail;

  /* glibc's posix_spawn runs the child with CLONE_VM|CLONE_VFORK (constant cost whatever the
   * parent's heap) and reports file-action and exec failures through its return value. */
  if ((f = cwf_hit(CWF_SPAWN))) err = f;
  else err = posix_spawn(&pid, file, &fa, &attr, cargv, cenvp ? cenvp : cw_environ);
  if (err) {
    struct stat sb;
    /* ENOENT/ENOTDIR/EACCES may come from the chdir action rather than exec: name it. */
    if (cwd && (err == ENOENT || err == ENOTDIR || err == EACCES)) {
      if (stat(cwd, &sb)) {
        err = errno;
        failed = "chdir";
      } else if (!S_ISDIR(sb.st_mode)) {
        err = ENOTDIR;
        failed = "chdir";
      }
    }
    pid = -1;
    goto fail;
  }
  cw_pidset_add(&ce->tracked, (int)pid);
  if (want_pidfd) {
    pidfd = cw_pidfd_open((pid_t)pid);
    if (pidfd < 0) pidfd = -1; /* the caller falls back (pidfdOpen tells it why) */
  }
  napi_create_object(env, &result);
  cw_set(env, result, "pid", cw_int(env, pid));
  cw_set(env, result, "pidfd", cw_int(env, pidfd));
  for (i = 0; i < 3; i++) cw_set(env, result, stdio_keys[i], cw_int(env, parent[i]));
  goto out;

fail:
  for (i = 0; i < 3; i++)
    if (parent[i] >= 0) close(parent[i]);
  result = cw_spawn_failure(env, err, failed);
out:
  for (i = 0; i < 3; i++)
    if (child_src[i] >= 0) close(child_src[i]);
  if (fa_ok) posix_spawn_file_actions_destroy(&fa);
  if (attr_ok) posix_spawnattr_destroy(&attr);
  free(file);
  free(cwd);
  cw_free_strv(cargv);
  cw_free_strv(cenvp);
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
  if (ce->signal_ctor) napi_delete_reference(env, ce->signal_ctor);
  if (ce->actx) napi_async_destroy(env, ce->actx);
  napi_set_instance_data(env, NULL, NULL, NULL);
  free(ce->tracked.slots);
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
      napi_delete_reference(ce->env, j->cb);
      j->cb = NULL;
      if (j->done) free(j); /* finished, not yet dispatched; a running one is freed by its thread */
    }
    ce->jobs = NULL;
    hub->done_head = hub->done_tail = NULL;
    pthread_mutex_unlock(&hub->mu);
    ce->pending_closes++;
    uv_close((uv_handle_t *)&hub->async, cw_hub_on_close);
    ce->hub = NULL;
  }
  if (ce->pending_closes == 0) cw_env_finish(ce);
}

/* ------------------------------------------------------------------------------------------ */
/* Module registration.                                                                        */

static napi_ref cw_class(napi_env env, cw_env *ce, const char *name, int poll) {
  napi_property_descriptor m[] = {
    {"close", NULL, cw_h_close, NULL, NULL, NULL, napi_default, ce},
    {"ref", NULL, cw_h_ref, NULL, NULL, NULL, napi_default, ce},
    {"unref", NULL, cw_h_unref, NULL, NULL, NULL, napi_default, ce},
    {"restart", NULL, cw_p_restart, NULL, NULL, NULL, napi_default, ce},
    {"stop", NULL, cw_p_stop, NULL, NULL, NULL, napi_default, ce},
  };
  napi_value cls;
  napi_ref ref = NULL;
  if (napi_define_class(env, name, NAPI_AUTO_LENGTH, cw_ctor, ce, poll ? 5 : 3, m, &cls) ==
      napi_ok)
    napi_create_reference(env, cls, 1, &ref);
  return ref;
}

NAPI_MODULE_INIT() {
  cw_env *ce = NULL;
  napi_value res, name;
  pthread_once(&cwf_once, cwf_load);
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
    ce->poll_ctor = cw_class(env, ce, "NativePoll", 1);
    ce->signal_ctor = cw_class(env, ce, "NativeSignal", 0);
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
      CW_FN("signalSubscribe", cw_signal_subscribe),
      CW_FN("startWaiter", cw_start_waiter),
      CW_FN("waiterCount", cw_waiter_count),
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
