/*
 * childwatch native host: spawning a child on Linux with clone(CLONE_VM | CLONE_VFORK |
 * CLONE_FILES | CLONE_PIDFD), the way glibc's posix_spawn does it but without four costs it has
 * in a large multi-threaded process such as Node (bench/README.md, "Where a spawn goes"):
 *
 * - The fd table. posix_spawn clones without CLONE_FILES: the kernel copies the parent's whole
 *   table into the child (a reference taken on every open file) and the child's closefrom(3)
 *   drops them again, all before the parent is released: ~100 us with 2000 pidfds open. Here the
 *   child shares the table and its first act is close_range(lo, ~0, CLOSE_RANGE_UNSHARE), which
 *   gives it a private table holding only fds 0..lo-1, where lo is one past the highest fd it
 *   needs (its three stdio sources, normally small numbers): O(lo), not O(open fds).
 * - The stack. glibc maps a fresh stack for every child and unmaps it after, and the munmap of a
 *   multi-threaded process is a TLB shootdown on the other CPUs. Here each environment (thread)
 *   has one stack, mapped once (the caller passes it); a thread spawns one child at a time and is
 *   suspended until that child has exec'd or died (CLONE_VFORK), so nothing else uses it then.
 * - pidfd_open. CLONE_PIDFD returns the child's pidfd from the clone itself.
 * - The signal reset. posix_spawn's child looks at all 64 dispositions (one system call each) and
 *   resets the handled ones, while the parent waits. Here, on x86-64, the child is made with
 *   clone3(CLONE_CLEAR_SIGHAND) (Linux 5.5), which resets every handler in the kernel, and the
 *   child resets only SIGPIPE and SIGXFSZ, the two Node ignores: 2 calls instead of 62, ~6 us off
 *   every spawn (bench/README.md, "Fifth session"). A signal that some native code set to SIG_IGN
 *   stays ignored in the child, as across any exec and as CPython's restore_signals leaves it.
 *   Without clone3 (other architectures, kernels before 5.5, a seccomp filter that refuses it,
 *   CHILDWATCH_SPAWN=clone) the child resets all 62 itself, as before, ignored ones included.
 *
 * Contract of cw_clone_spawn: the parent's signal mask is set to "everything blocked" around
 * the clone (so no handler of ours runs in the child, which shares our memory); the child has
 * every handled signal reset to SIG_DFL (by the kernel, or by itself: see above) and SIGPIPE and
 * SIGXFSZ too (Node ignores them), unblocks all, puts its stdio in place, closes everything
 * else, chdir/setsid/setpgid as asked, and execs. Any failure in the child is written to the
 * caller's frame (shared memory) before _exit(127), and the parent reaps that child before
 * returning the error: a failed spawn leaves no process and no fd.
 *
 * What the child may do: only raw system calls and writes into its own context. It runs on the
 * calling thread's TLS (errno is the parent's, which is suspended), so no malloc, no locks, no
 * stdio, no function that may take a lock another thread of the parent holds.
 *
 * CW_SPAWN_UNSUPPORTED is returned when this kernel lacks a piece (CLONE_PIDFD before 5.2,
 * close_range UNSHARE before 5.9, a seccomp filter refusing either): the caller then uses
 * posix_spawn, and remembers.
 */
#define _GNU_SOURCE 1
#include "spawn_linux.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

#ifndef CLONE_CLEAR_SIGHAND
#define CLONE_CLEAR_SIGHAND 0x100000000ULL
#endif

/* The kernel's sigset is _NSIG bits: 8 bytes on every architecture Node runs on but MIPS. */
#define CW_KSIGSET_BYTES (_NSIG / 8)

#if defined(__x86_64__)
#define CW_HAVE_CLONE3 1
/* The kernel's struct clone_args up to `tls` (CLONE_ARGS_SIZE_VER0): what clone3 needs here. */
typedef struct cw_clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
} cw_clone_args;

/* cw_clone3_run(args, size, fn, arg): the clone3 system call, with fn(arg) run by the child on
 * args->stack and the child task ending with its result (SYS_exit). Returns the child's pid, or
 * -errno, in the parent. In assembly because glibc exports no clone3 wrapper and C code cannot
 * go on running on the stack the kernel switched to. `syscall` keeps every argument register
 * but rcx and r11, so the child still has fn in rdx; arg moves from rcx to r8 first. The stack
 * top is 16-byte aligned, so fn is entered with the alignment a call gives. */
__attribute__((visibility("hidden"))) long cw_clone3_run(cw_clone_args *args, size_t size,
                                                         int (*fn)(void *), void *arg);
__asm__(".text\n"
        ".globl cw_clone3_run\n"
        ".hidden cw_clone3_run\n"
        ".type cw_clone3_run, @function\n"
        "cw_clone3_run:\n"
        "  movq %rcx, %r8\n"
        "  movl $435, %eax\n" /* SYS_clone3 */
        "  syscall\n"
        "  testq %rax, %rax\n"
        "  jz 1f\n"
        "  ret\n"             /* the parent: pid or -errno */
        "1:\n"
        "  xorl %ebp, %ebp\n" /* the child: no frame above this one */
        "  movq %r8, %rdi\n"
        "  callq *%rdx\n"
        "  movl %eax, %edi\n"
        "  movl $60, %eax\n"  /* SYS_exit: this task only */
        "  syscall\n"
        "  hlt\n"
        ".size cw_clone3_run, .-cw_clone3_run\n");

/* Set at the first clone3 the kernel (or a seccomp filter) refuses, or by cw_clone3_disable:
 * every later spawn of the process goes straight to clone(2). */
static volatile int cw_clone3_refused;
#endif

int cw_clone3_usable(void) {
#ifdef CW_HAVE_CLONE3
  return !cw_clone3_refused;
#else
  return 0;
#endif
}

void cw_clone3_disable(void) {
#ifdef CW_HAVE_CLONE3
  cw_clone3_refused = 1;
#endif
}

typedef struct cw_child_ctx {
  const cw_child_plan *plan;
  int lo;            /* the child keeps fds 0..lo-1 of the shared table, then closes 3..lo-1 */
  int handlers_reset; /* CLONE_CLEAR_SIGHAND did: only the ignored signals are left to reset */
  volatile int err;  /* written by the child on failure, read by the parent after the clone */
  const char *volatile step;
} cw_child_ctx;

static long cw_raw_sigmask(int how, const void *set, void *old) {
  return syscall(SYS_rt_sigprocmask, how, set, old, CW_KSIGSET_BYTES);
}

static int cw_child_fail(cw_child_ctx *c, int err, const char *step) {
  c->err = err ? err : EIO;
  c->step = step;
  syscall(SYS_exit, 127); /* this task only: exit_group would take the parent with it */
  return 127;
}

static int cw_child_main(void *arg) {
  cw_child_ctx *c = arg;
  const cw_child_plan *p = c->plan;
  /* An all-zero kernel sigaction is SIG_DFL with no flags and an empty mask on every layout. */
  static const unsigned long dfl[8];
  static const unsigned long none[2];
  int sig, i;

  /* 1. A private fd table with only what we need. Until this returns the table is the
   *    parent's: nothing may be opened, closed or dup'd before it. */
  if (syscall(SYS_close_range, (unsigned)c->lo, ~0U, CLOSE_RANGE_UNSHARE))
    return cw_child_fail(c, errno, "close_range");

  /* 2. Default dispositions, while all signals are still blocked (raw system calls: glibc
   *    refuses its internal 32 and 33, which must not stay ignored in the exec'd program). After
   *    CLONE_CLEAR_SIGHAND no handler is left: only the two signals Node ignores. */
  if (c->handlers_reset) {
    syscall(SYS_rt_sigaction, SIGPIPE, dfl, NULL, CW_KSIGSET_BYTES);
    syscall(SYS_rt_sigaction, SIGXFSZ, dfl, NULL, CW_KSIGSET_BYTES);
  } else {
    for (sig = 1; sig < _NSIG; sig++) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      syscall(SYS_rt_sigaction, sig, dfl, NULL, CW_KSIGSET_BYTES);
    }
  }

  /* 3. stdio. Sources are >= 3 (the caller sees to it), so no dup2 clobbers a later source. */
  for (i = 0; i < 3; i++) {
    int src = p->stdio[i];
    if (src == CW_CHILD_INHERIT || (i == 2 && src == CW_CHILD_STDOUT)) {
      if (src == CW_CHILD_STDOUT) {
        if (dup2(1, 2) < 0) return cw_child_fail(c, errno, "dup2");
      } else if (fcntl(i, F_SETFD, 0) < 0 && errno != EBADF) {
        /* Node marks its own 0..2 CLOEXEC; the child must get them. A closed one stays closed. */
        return cw_child_fail(c, errno, "fcntl");
      }
    } else if (dup2(src, i) < 0) {
      return cw_child_fail(c, errno, "dup2");
    }
  }
  /* 4. closefrom(3): the private table holds nothing above lo-1. */
  if (c->lo > 3 && syscall(SYS_close_range, 3U, ~0U, 0U))
    return cw_child_fail(c, errno, "close_range");

  if (p->cwd && chdir(p->cwd)) return cw_child_fail(c, errno, "chdir");
  if (p->setsid) {
    if (setsid() < 0) return cw_child_fail(c, errno, "setsid");
  } else if (p->pgid >= 0 && setpgid(0, p->pgid)) {
    return cw_child_fail(c, errno, "setpgid");
  }

  /* 5. Unblock everything and exec. A signal arriving now finds no handler of ours. */
  if (cw_raw_sigmask(SIG_SETMASK, none, NULL)) return cw_child_fail(c, errno, "sigprocmask");
  execve(p->file, p->argv, p->envp);
  return cw_child_fail(c, errno, "execve");
}

void *cw_spawn_stack_new(void) {
  void *s = mmap(NULL, CW_SPAWN_STACK_BYTES, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  return s == MAP_FAILED ? NULL : s;
}

void cw_spawn_stack_free(void *stack) {
  if (stack) munmap(stack, CW_SPAWN_STACK_BYTES);
}

int cw_clone_spawn(const cw_child_plan *plan, int try_clone3, void *stack, pid_t *pid_out,
                   int *pidfd_out, const char **step) {
  static const unsigned long all[2] = {~0UL, ~0UL};
  unsigned long old[2];
  cw_child_ctx ctx;
  int flags = CLONE_VM | CLONE_VFORK | CLONE_FILES | SIGCHLD, pidfd = -1, i, err, cloned = 0;
  pid_t pid;
  char *top = (char *)stack + CW_SPAWN_STACK_BYTES;

  memset(&ctx, 0, sizeof ctx);
  ctx.plan = plan;
  ctx.lo = 3;
  for (i = 0; i < 3; i++)
    if (plan->stdio[i] >= ctx.lo) ctx.lo = plan->stdio[i] + 1;
  if (plan->want_pidfd) flags |= CLONE_PIDFD;
  top = (char *)((uintptr_t)top & ~(uintptr_t)15);

  cw_raw_sigmask(SIG_SETMASK, all, old);
#ifdef CW_HAVE_CLONE3
  if (try_clone3 && !cw_clone3_refused) {
    cw_clone_args ca;
    long r;
    memset(&ca, 0, sizeof ca);
    ca.flags = (uint64_t)(flags & ~0xff) | CLONE_CLEAR_SIGHAND; /* the exit signal goes apart */
    ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    ca.exit_signal = SIGCHLD;
    ca.stack = (uint64_t)(uintptr_t)stack;
    ca.stack_size = CW_SPAWN_STACK_BYTES;
    ctx.handlers_reset = 1;
    r = try_clone3 < 0 ? try_clone3 : cw_clone3_run(&ca, sizeof ca, cw_child_main, &ctx);
    if (r == -ENOSYS || r == -EINVAL || r == -EPERM || r == -E2BIG) {
      /* No clone3 or no CLONE_CLEAR_SIGHAND here, or a seccomp filter: clone(2) from now on. */
      cw_clone3_refused = 1;
      ctx.handlers_reset = 0;
    } else {
      cloned = 1;
      pid = r >= 0 ? (pid_t)r : -1;
      err = r >= 0 ? 0 : (int)-r; /* EAGAIN, ENOMEM: the clone's own failure */
    }
  }
#else
  (void)try_clone3;
#endif
  if (!cloned) {
    pid = clone(cw_child_main, top, flags, &ctx, &pidfd);
    err = pid < 0 ? errno : 0;
  }
  cw_raw_sigmask(SIG_SETMASK, old, NULL);

  if (pid < 0) {
    *step = "clone";
    /* EINVAL: a flag this kernel does not know (CLONE_PIDFD before 5.2); EPERM/ENOSYS: a
     * seccomp filter. posix_spawn may still work. */
    return (err == EINVAL || err == ENOSYS || err == EPERM) ? CW_SPAWN_UNSUPPORTED : err;
  }
  if (ctx.err) {
    /* The child has exited (CLONE_VFORK released us): reap it. ECHILD if another thread's
     * wait(-1) took it first, which is as good. */
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (pidfd >= 0) close(pidfd);
    *step = ctx.step;
    if (!strcmp(ctx.step, "close_range") &&
        (ctx.err == ENOSYS || ctx.err == EINVAL || ctx.err == EPERM))
      return CW_SPAWN_UNSUPPORTED;
    return ctx.err;
  }
  /* pidfd stays -1 on a kernel that ignored CLONE_PIDFD: the caller then opens one. */
  *pid_out = pid;
  *pidfd_out = pidfd;
  return 0;
}
