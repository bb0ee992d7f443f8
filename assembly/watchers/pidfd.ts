// PidfdChildWatcher.
//
// Contract: every registered child gets a pidfd that the host watches for readability; when it
// becomes readable the host calls `on-pidfd-ready`, the core reaps the pid with `wait-pid`
// (WNOHANG), closes the pidfd and queues the exit for the registering loop. A spurious readiness
// (`wait-pid` returns 0) re-arms the watch. Registering a pid again replaces its token and loop
// and keeps the one pidfd. `remove-child` suppresses the event, but the pidfd stays watched and
// the child is still reaped and forgotten when it exits.
// `pidfd-open` failing with ESRCH makes `add-child` return -ESRCH with nothing registered; with
// EMFILE, ENFILE or ENOMEM the pid is watched by a waiter thread instead
// (`pidfd-fallback-to-thread`); other errors are returned as they are. A failing `watch-pidfd`
// closes the pidfd, reports `host-error` and falls back to a waiter thread too.
// A status taken by someone else (ECHILD) gives returncode 255 and `pidfd-status-already-read`,
// on the pidfd path and on the fallback thread's alike.
//
// Cost per exit: O(1) (one lookup, one wait, one close). Interferes with: nothing; one fd per
// running child.

import { Watcher, K_PIDFD, C_FD, C_LOOP, reserveEvents } from "../base";
import {
  Report, report, pidfdOpen, watchPidfd, pidfdClose, waitPid, ECHILD, EMFILE, ENFILE, ENOMEM,
} from "../host";

export class PidfdWatcher extends Watcher {
  constructor(id: u32) { super(id, K_PIDFD); }

  addChild(pid: i32, token: u32, loop: u32): i32 {
    reserveEvents(1);
    this.retryWaiters(); // earlier start-waiter failures first: this add is their "next event"
    const existing = this.reg.find(pid);
    if (existing >= 0) {
      // Replace: same pidfd (or waiter thread), new token and loop.
      this.register(pid, token, loop);
      return 0;
    }
    const fd = pidfdOpen(pid);
    if (fd >= 0) {
      const slot = this.register(pid, token, loop);
      this.arm(slot, pid, fd);
      return 0;
    }
    if (fd == -EMFILE || fd == -ENFILE || fd == -ENOMEM) {
      report(Report.PidfdFallbackToThread, this.id, pid, -fd);
      const slot = this.register(pid, token, loop);
      this.ensureWaiter(slot, pid);
      return 0;
    }
    // -ESRCH (no such process: ProcessLookupError on the TS side) and anything else.
    return fd;
  }

  /** Watch `fd` for the pid in `slot`; if the host cannot, close it and use a waiter thread. */
  private arm(slot: i32, pid: i32, fd: i32): void {
    const rc = watchPidfd(this.id, pid, fd);
    if (rc >= 0) {
      this.reg.set(slot, C_FD, fd);
      return;
    }
    pidfdClose(fd);
    this.reg.set(slot, C_FD, -1);
    report(Report.HostError, this.id, pid, -rc);
    this.ensureWaiter(slot, pid);
  }

  onPidfdReady(pid: i32): void {
    const slot = this.reg.find(pid);
    if (slot < 0) return;
    const fd = this.reg.get(slot, C_FD);
    if (fd < 0) return; // watched by a waiter thread, not a pidfd
    const r = waitPid(pid);
    if (r == 0) {
      // Spurious readiness: the child still runs. Watch again.
      this.reg.set(slot, C_FD, -1);
      this.arm(slot, pid, fd);
      return;
    }
    pidfdClose(fd);
    this.reg.set(slot, C_FD, -1);
    const loop = <u32>this.reg.get(slot, C_LOOP);
    if (r > 0) {
      this.deliverWaited(slot, pid, loop);
    } else if (r == -ECHILD) {
      this.deliverUnknown(slot, pid, loop, Report.PidfdStatusAlreadyRead, ECHILD);
    } else {
      this.deliverUnknown(slot, pid, loop, Report.HostError, -r);
    }
  }

  onWaiterDone(pid: i32, result: i32): void {
    // A fallback thread that finds the status taken reports it as every Pidfd path does.
    this.waiterDone(pid, result, Report.PidfdStatusAlreadyRead);
  }

  release(): void {
    const n = this.reg.snapshot();
    for (let i = 0; i < n; i++) {
      const slot = this.reg.find(unchecked(this.reg.scratch[i]));
      const fd = this.reg.get(slot, C_FD);
      if (fd >= 0) pidfdClose(fd);
    }
  }
}
