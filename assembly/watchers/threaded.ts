// ThreadedChildWatcher.
//
// Contract: every registered child gets one host waiter thread blocking in `wait4(pid, 0)`; when
// it returns, the host calls `on-waiter-done` and the exit is queued for the loop that registered
// the pid. Registering a pid again replaces its token and loop without a second thread;
// `remove-child` suppresses the event but the thread still runs, so the child is still reaped.
// A `start-waiter` failure (EAGAIN) is reported as `host-error` once; the pid stays registered and
// the start is retried on this watcher's next `add-child` or `on-waiter-done`.
//
// Cost per exit: O(1) in the core (one hash lookup); one OS thread per running child in the host.
// Interferes with: nothing; it waits only on its own pids (a child reaped by someone else gives
// returncode 255 and `unknown-child-status`).

import { Watcher, K_THREADED, reserveEvents } from "../base";

export class ThreadedWatcher extends Watcher {
  constructor(id: u32) { super(id, K_THREADED); }

  addChild(pid: i32, token: u32, loop: u32): i32 {
    reserveEvents(1);
    this.retryWaiters(); // earlier failures first: this add is their "next event"
    const slot = this.register(pid, token, loop);
    this.ensureWaiter(slot, pid);
    return 0;
  }

  onWaiterDone(pid: i32, result: i32): void {
    this.waiterDone(pid, result);
  }
}
