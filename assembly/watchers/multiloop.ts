// MultiLoopChildWatcher.
//
// Contract: the first `attach-loop`, whatever its argument, subscribes to the process-wide
// SIGCHLD (`subscribe-sigchld(watcher, 0)`), makes the watcher active and sweeps the registered
// pids once (an exit while inactive had no handler to hear its SIGCHLD); later calls do nothing.
// On each (coalesced) SIGCHLD every registered pid that has exited is reaped with a non-blocking
// `wait-pid` (found with `peek-exited`, or by checking every registered pid when the peek cannot
// tell: `Watcher.sigchldSweep` in base.ts); exits are queued for the loop that registered the
// pid. A registered pid reaped by someone else gives returncode 255 with `unknown-child-status`
// on the SIGCHLD of its exit, or later when that SIGCHLD coalesced with one of the watcher's own
// exits or an exit it already took explains it: at the latest after as many more SIGCHLDs as
// pids are registered (see `sigchldSweep`). `add-child` checks the pid at once (it may already
// be a zombie). `remove-child` suppresses the event; the pid stays in the table with no token so
// the sweep still reaps it. `close` clears the registrations and unsubscribes; the watcher is
// inactive until the next `attach-loop`.
//
// Cost per exit: O(1) host calls (a peek, the wait, a last peek) while the zombies the peek
// names are this watcher's; O(n), n = registered pids, when the SIGCHLD finds no zombie and no
// exit the watcher took explains it (its exit was reaped by someone else, e.g. libuv or another
// MultiLoop watcher sharing the subscription), or a zombie it does not own (another watcher's, a
// foreign child nobody reaps yet); amortised O(1) for the periodic full sweep.
// Interferes with: other process-wide SIGCHLD handlers (it owns the process subscription); it
// never waits on pids it does not own (the peek reaps nothing).

import { Watcher, K_MULTI_LOOP, reserveEvents } from "../base";
import { Report, report, subscribeSigchld, unsubscribeSigchld } from "../host";

export class MultiLoopWatcher extends Watcher {
  active: bool = false;

  constructor(id: u32) { super(id, K_MULTI_LOOP); }

  addChild(pid: i32, token: u32, loop: u32): i32 {
    reserveEvents(1);
    this.register(pid, token, loop);
    // Check at once: the child may have exited before it was registered.
    this.pollOne(pid);
    return 0;
  }

  attachLoop(loop: u32): void {
    if (this.active) return;
    const rc = subscribeSigchld(this.id, 0);
    if (rc < 0) {
      report(Report.HostError, this.id, 0, -rc);
      return;
    }
    this.active = true;
    // Children registered while inactive (never attached, or closed) may have exited while no
    // SIGCHLD handler listened: that signal is gone, so look now (**fixed**: CPython does not).
    this.sweep();
  }

  attachedLoop(): u32 { return 0; }

  isActive(): bool { return this.active; }

  close(): void {
    this.clearAll();
    this.release();
  }

  onSigchld(): void {
    if (this.active) this.sigchldSweep();
  }

  onSigchldSettled(): void {
    if (this.active) this.settledSweep();
  }

  release(): void {
    if (!this.active) return;
    unsubscribeSigchld(this.id);
    this.active = false;
  }
}
