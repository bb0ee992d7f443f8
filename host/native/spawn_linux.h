/* childwatch native host: the Linux clone-based spawn (spawn_linux.c). */
#ifndef CW_SPAWN_LINUX_H
#define CW_SPAWN_LINUX_H
#include <sys/types.h>

/* The child's stack, one per environment (thread): mapped once, reused by every spawn. */
#define CW_SPAWN_STACK_BYTES (64 * 1024)

/* stdio[i]: an fd >= 3 to dup2 onto i, or one of these. */
#define CW_CHILD_INHERIT (-1) /* keep the parent's fd i (its CLOEXEC flag cleared) */
#define CW_CHILD_STDOUT (-2)  /* stdio[2] only: a copy of the child's fd 1 */

/* Returned when this kernel (or a seccomp filter) refuses a piece: use posix_spawn instead. */
#define CW_SPAWN_UNSUPPORTED (-1)

typedef struct cw_child_plan {
  const char *file;
  char *const *argv;
  char *const *envp;
  const char *cwd; /* NULL: the parent's */
  int stdio[3];
  int setsid;
  int pgid; /* >= 0: setpgid(0, pgid) in the child; -1: none */
  int want_pidfd;
} cw_child_plan;

void *cw_spawn_stack_new(void);
void cw_spawn_stack_free(void *stack);

/* try_clone3: 1 to first try clone3 with CLONE_CLEAR_SIGHAND (see spawn_linux.c), falling back
 * to clone(2) for good when the kernel refuses it; 0 for clone(2); -errno to act as if clone3
 * had failed with errno (fault injection, CHILDWATCH_FAULTS=clone3=...). 0 with *pid_out and *pidfd_out (-1 when not wanted or the kernel gave none); an errno > 0
 * with *step naming what failed ("clone", "close_range", "dup2", "fcntl", "chdir", "setsid",
 * "setpgid", "sigprocmask", "execve"), nothing left behind; or CW_SPAWN_UNSUPPORTED. */
int cw_clone_spawn(const cw_child_plan *plan, int try_clone3, void *stack, pid_t *pid_out,
                   int *pidfd_out, const char **step);

/* Whether a spawn with try_clone3 would still try clone3 (x86-64, not refused or disabled yet);
 * cw_clone3_disable makes every later spawn of the process use clone(2). */
int cw_clone3_usable(void);
void cw_clone3_disable(void);
#endif
