// Small kernel operations on one child or group, for the subprocess and policy layers. None of
// them throws for an OS failure: they return 0 or -errno (Linux numbering) and the caller maps
// that to ProcessLookupError/PermissionError as Python does.
import { addon } from './addon.js';
import { isOwnChild, noteReaped, ownChildrenOnly } from './own-children.js';

const EPERM = 1;

/**
 * Whether pidfds work here: `pidfd_open(getpid())` once. ENOSYS (old kernel, not Linux) and
 * EPERM (seccomp) mean no; any other failure (EMFILE...) means the call exists, so yes.
 */
export function probePidfd(): boolean {
  const fd = addon.pidfdOpen(process.pid);
  if (fd >= 0) {
    addon.close(fd);
    return true;
  }
  return fd !== -38 /* ENOSYS */ && fd !== -1 /* EPERM */;
}

/**
 * Signal one child: through its pidfd when we hold one (a recycled pid is never hit), else
 * kill(2). 0 or -errno (-ESRCH once it is gone; -EPERM in the sandbox for a pid this thread's
 * host did not spawn, see own-children.ts).
 */
export function signalChild(pid: number, pidfd: number, signum: number): number {
  if (ownChildrenOnly() && !isOwnChild(pid)) return -EPERM;
  try {
    if (pidfd >= 0) {
      const rc = addon.pidfdSendSignal(pidfd, signum);
      if (rc !== -38 /* ENOSYS */) return rc;
    }
    return addon.kill(pid, signum);
  } catch {
    return -22; /* EINVAL: a bad pid or signal number */
  }
}

/** killpg(pgid, signum): 0 or -errno (-EPERM in the sandbox unless an own child leads it). */
export function signalGroup(pgid: number, signum: number): number {
  if (ownChildrenOnly() && !isOwnChild(pgid)) return -EPERM;
  try {
    return addon.killGroup(pgid, signum);
  } catch {
    return -22;
  }
}

/** close(fd): 0 or -errno. */
export function closeFd(fd: number): number {
  try {
    return addon.close(fd);
  } catch {
    return -9; /* EBADF */
  }
}

/**
 * Reap `pid` on a waiter thread and drop the result: for a child nobody watches (a cancelled
 * spawn), so it never stays a zombie. The thread never keeps the process alive. 0 or -errno.
 */
export function reapInBackground(pid: number): number {
  try {
    return addon.startWaiter(pid, (p, result) => { if (result > 0 || result === -10) noteReaped(p); });
  } catch {
    return -22;
  }
}

/** prctl(PR_SET_CHILD_SUBREAPER): 0 or -errno (-ENOSYS off Linux). */
export function setSubreaper(on: boolean): number {
  return addon.setSubreaper(on);
}

/** prctl(PR_GET_CHILD_SUBREAPER): 0/1 or -errno. */
export function getSubreaper(): number {
  return addon.getSubreaper();
}
