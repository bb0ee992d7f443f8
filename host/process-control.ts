// Small kernel operations on one child or group, for the subprocess and policy layers. None of
// them throws for an OS failure: they return 0 or -errno (Linux numbering) and the caller maps
// that to ProcessLookupError/PermissionError as Python does.
import { readdirSync, readFileSync } from 'node:fs';
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

/**
 * Whether some process (a zombie too) is still in process group `pgid`, from /proc; null where
 * there is no /proc. A group id cannot be handed out again while any member is left, so a group
 * that has one is still the same group.
 */
export function processGroupHasMembers(pgid: number): boolean | null {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return null;
  }
  for (const e of entries) {
    if (e.charCodeAt(0) < 48 || e.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${e}/stat`, 'latin1');
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid) return true;
  }
  return false;
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
