// FastChildWatcher.
//
// Contract: SIGCHLD reaches the watcher through the attached loop's signal handler, as for Safe;
// on each (coalesced) SIGCHLD the core calls `wait-any` until it returns 0 or -ECHILD, i.e. it
// reaps *every* child of the process. A reaped pid that is registered is queued for the attached
// loop. An unknown pid is kept in the zombie table while some `enter` bracket is open (the
// `forks` counter > 0; reported as `fast-zombie-kept`), since its `add-child` may still be on its
// way; otherwise it is dropped with `fast-unknown-pid`. `add-child` must run inside `enter`/`exit`
// (ADD_NOT_ENTERED otherwise) and after an `attach-loop` (ADD_NOT_ATTACHED otherwise, **fixed**);
// it pops a kept zombie of the same pid and queues its exit at once. The outermost `exit` reports
// every kept zombie (`fast-unknown-pids-item`, in the order they were reaped) and then
// `fast-unknown-pids-end` with their number, and forgets them. `close` clears registrations and
// zombies, then detaches (no detach warning). `remove-child` forgets the pid; its child is still
// reaped by the next `wait-any` (as an unknown pid).
//
// Cost per exit: O(1) (one `wait-any`, one lookup). Interferes with: every other waiter of this
// process (Node's `child_process` included): their children are reaped here and their own waits
// fail with ECHILD. A child reaped elsewhere before the SIGCHLD is never reported (CPython's
// documented dead end). The zombie table is preallocated (256, topped up at each `enter`);
// a burst of more unknown exits than that inside one bracket grows it on the SIGCHLD path, the
// one allocation an event path can make.

import { SafeWatcher } from "./safe";
import {
  Table, K_FAST, ADD_NOT_ATTACHED, ADD_NOT_ENTERED, reserveEvents, queueStatus, returncodeOf,
} from "../base";
import { Report, report, waitAny, waitStatus, waitUser, waitSystem, waitRss, ECHILD } from "../host";

const Z_STATUS: i32 = 0;
const Z_SEQ: i32 = 1;
const ZW_USER: i32 = 0;
const ZW_SYSTEM: i32 = 1;
const ZW_RSS: i32 = 2;
const ZOMBIE_HEADROOM: i32 = 64;

export class FastWatcher extends SafeWatcher {
  zombies: Table = new Table(2, 3, 512);
  forkCount: i32 = 0;
  zombieSeq: i32 = 0;

  constructor(id: u32) { super(id, K_FAST); }

  addChild(pid: i32, token: u32, loop: u32): i32 {
    if (this.forkCount == 0) return ADD_NOT_ENTERED;
    if (!this.attachedEver) return ADD_NOT_ATTACHED;
    reserveEvents(1);
    const z = this.zombies.find(pid);
    if (z >= 0) {
      // The child is dead already: its exit is delivered now.
      const existing = this.reg.find(pid);
      if (existing >= 0) this.drop(existing);
      queueStatus(this.id, token, this.attached, pid, this.zombies.get(z, Z_STATUS),
        this.zombies.getWide(z, ZW_USER), this.zombies.getWide(z, ZW_SYSTEM),
        this.zombies.getWide(z, ZW_RSS));
      this.zombies.removeAt(z);
      return 0;
    }
    this.register(pid, token, loop);
    return 0;
  }

  removeChild(pid: i32): bool {
    const slot = this.reg.find(pid);
    if (slot < 0) return false;
    this.drop(slot);
    return true;
  }

  /** SIGCHLD: `sweep` (wait-any until none), not Safe's peek. */
  onSigchld(): void {
    if (this.attached != 0) this.sweep();
  }

  /** Reap until the kernel says none (signals coalesce). Called on SIGCHLD and on attach. */
  sweep(): void {
    while (true) {
      const r = waitAny();
      if (r == 0 || r == -ECHILD) return;
      if (r < 0) {
        report(Report.HostError, this.id, 0, -r);
        return;
      }
      const slot = this.reg.find(r);
      if (slot >= 0) {
        this.deliverWaited(slot, r, this.attached);
        continue;
      }
      const status = waitStatus();
      if (this.forkCount > 0) {
        // Unknown pid while a spawn may be in progress: keep it for its add-child.
        let z = this.zombies.find(r);
        if (z < 0) z = this.zombies.insert(r);
        this.zombies.set(z, Z_STATUS, status);
        this.zombies.set(z, Z_SEQ, this.zombieSeq++);
        this.zombies.setWide(z, ZW_USER, waitUser());
        this.zombies.setWide(z, ZW_SYSTEM, waitSystem());
        this.zombies.setWide(z, ZW_RSS, waitRss());
        report(Report.FastZombieKept, this.id, r, returncodeOf(status));
      } else {
        report(Report.FastUnknownPid, this.id, r, returncodeOf(status));
      }
    }
  }

  enter(): void {
    this.forkCount++;
    this.zombies.reserve(ZOMBIE_HEADROOM);
  }

  exit(): void {
    if (this.forkCount == 0) return; // unbalanced exit: nothing to end
    this.forkCount--;
    if (this.forkCount > 0 || this.zombies.count == 0) return;
    // Report the kept zombies in the order they were reaped, then their number.
    const z = this.zombies;
    const n = z.snapshot();
    for (let i = 1; i < n; i++) {
      const pid = unchecked(z.scratch[i]);
      const seq = z.get(z.find(pid), Z_SEQ);
      let j = i - 1;
      while (j >= 0 && z.get(z.find(unchecked(z.scratch[j])), Z_SEQ) > seq) {
        unchecked(z.scratch[j + 1] = z.scratch[j]);
        j--;
      }
      unchecked(z.scratch[j + 1] = pid);
    }
    for (let i = 0; i < n; i++) {
      const pid = unchecked(z.scratch[i]);
      report(Report.FastUnknownPidsItem, this.id, pid, returncodeOf(z.get(z.find(pid), Z_STATUS)));
    }
    report(Report.FastUnknownPidsEnd, this.id, 0, n);
    z.clear();
    this.zombieSeq = 0;
  }

  close(): void {
    this.clearAll();
    this.zombies.clear();
    this.attachLoop(0);
  }

  forks(): i32 { return this.forkCount; }
  zombieCount(): i32 { return this.zombies.count; }
}
