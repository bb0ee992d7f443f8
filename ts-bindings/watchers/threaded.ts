// ThreadedChildWatcher: one native waiter thread per child, blocked in wait4(pid); the result is
// handed back to this thread and the callback scheduled on the registering loop with
// callSoonThreadsafe. O(1) per exit, a thread (64 KiB stack) per live child, no signals, never
// waits on a pid it was not given. Works in Workers. Strategy: assembly/watchers/threaded.ts.
// The addon reuses threads: one whose child exited parks (~1 s, at most 8) for the next child.
import { Strategy } from '../core/types.js';
import type { AbstractEventLoop } from '../events.js';
import { RunningLoopChildWatcher } from './base.js';

/**
 * One native waiter thread per child, blocked in `wait4(pid)`; the exit is delivered on the loop
 * that was running at `addChildHandler`, through `callSoonThreadsafe`.
 *
 * Cost: O(1) per exit, one thread (64 KiB stack) per live child; a thread whose child exited
 * is kept for about a second (at most 8 of them) and reused for the next child, so sequential
 * children do not create a thread each. No signals. Never waits on a pid it was not given, so
 * it coexists with `node:child_process` and other reapers. Works in Workers. Needs a running
 * loop at `addChildHandler`. The default where pidfds are unavailable.
 */
export class ThreadedChildWatcher extends RunningLoopChildWatcher {
  constructor() {
    super(Strategy.Threaded);
  }

  /** Always true: threads need no set-up. */
  override isActive(): boolean {
    return true;
  }

  /** No-op: waiter threads do not need a loop. */
  override attachLoop(loop: AbstractEventLoop | null): void {
    this.checkLoopArgument(loop);
  }

  /** No-op, as in CPython: registered children are still reported; threads never keep the process alive. */
  override close(): void {}
}
