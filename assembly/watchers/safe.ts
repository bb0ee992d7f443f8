// SafeChildWatcher.
//
// Contract: SIGCHLD reaches the watcher through the attached loop's signal handler
// (`subscribe-sigchld(watcher, loop)`); on each (coalesced) SIGCHLD every registered pid that
// has exited is reaped with a non-blocking `wait-pid` (found with `peek-exited`, or by checking
// every registered pid when the peek cannot tell: `Watcher.sigchldSweep` in base.ts), and exits
// are queued for the attached loop. A registered pid reaped by someone else gives returncode 255
// with `unknown-child-status` on the SIGCHLD of its exit, or later when that SIGCHLD coalesced
// with one of the watcher's own exits or an exit it already took explains it: at the latest
// after as many more SIGCHLDs as pids are registered (see `sigchldSweep`). `add-child` checks
// the pid at once (it may already be a zombie), so the event can be pending when it returns.
// **fixed**: `add-child` before any `attach-loop` returns ADD_NOT_ATTACHED (-1000) with nothing
// registered or waited on. While detached (after an earlier attach) a pid is registered without
// a wait; the sweep of the next `attach-loop` delivers it. `attach-loop` moves the subscription
// and sweeps (a child may have exited during the switch); detaching with handlers pending
// reports `detach-with-pending`. `remove-child` suppresses the event; the pid stays in the table
// with no token so the sweep still reaps it (no zombie is left). `close` clears every
// registration, then detaches (so no detach warning).
//
// Cost per exit: O(1) host calls (a peek, the wait, a last peek) while the zombies the peek
// names are this watcher's; O(n), n = registered pids, when the SIGCHLD finds no zombie and no
// exit the watcher took explains it (its exit was reaped by someone else, e.g. libuv or another
// watcher), or a zombie it does not own (another watcher's, a foreign child nobody reaps yet);
// amortised O(1) for the periodic full sweep. Interferes with: code that installs its own
// SIGCHLD handler on the same loop; it never waits on pids it does not own (the peek reaps
// nothing).

import { Watcher, K_SAFE, ADD_NOT_ATTACHED, reserveEvents } from "../base";
import { Report, report, subscribeSigchld, unsubscribeSigchld } from "../host";

export class SafeWatcher extends Watcher {
  attachedEver: bool = false;
  subscribed: bool = false;

  constructor(id: u32, kind: i32 = K_SAFE) { super(id, kind); }

  addChild(pid: i32, token: u32, loop: u32): i32 {
    if (!this.attachedEver) return ADD_NOT_ATTACHED;
    reserveEvents(1);
    this.register(pid, token, loop);
    // Check at once: the child may have exited before it was registered.
    if (this.attached != 0) this.pollOne(pid);
    return 0;
  }

  eventLoop(slot: i32): u32 { return this.attached; }

  attachLoop(loop: u32): void {
    if (this.attached != 0 && loop == 0 && this.live > 0) {
      report(Report.DetachWithPending, this.id, 0, this.live);
    }
    if (this.subscribed) {
      unsubscribeSigchld(this.id);
      this.subscribed = false;
    }
    this.attached = loop;
    if (loop != 0) {
      this.attachedEver = true;
      const rc = subscribeSigchld(this.id, loop);
      if (rc >= 0) this.subscribed = true;
      else report(Report.HostError, this.id, 0, -rc);
      // A child may have terminated during the switch.
      this.sweep();
    }
  }

  isActive(): bool { return this.attached != 0; }

  close(): void {
    this.clearAll();
    this.attachLoop(0);
  }

  onSigchld(): void {
    if (this.attached != 0) this.sigchldSweep();
  }

  onSigchldSettled(): void {
    if (this.attached != 0) this.settledSweep();
  }

  release(): void {
    if (this.subscribed) {
      unsubscribeSigchld(this.id);
      this.subscribed = false;
    }
  }
}
