// MultiLoopChildWatcher: one process-wide SIGCHLD subscription (the host's uv_signal, never a raw
// sigaction); on each SIGCHLD a non-blocking wait on each registered pid that exited (found with
// waitid(WNOWAIT); on every registered pid when that cannot tell). The
// callback goes to the registering loop with callSoonThreadsafe, so one watcher serves every loop.
// Never waits on a pid it was not given. Strategy: assembly/watchers/multiloop.ts.
import { Strategy } from '../core/types.js';
import type { AbstractEventLoop } from '../events.js';
import { RunningLoopChildWatcher } from './base.js';

/**
 * One process-wide SIGCHLD subscription (libuv's signal handling, never a raw `sigaction`); on
 * each SIGCHLD a non-blocking wait on each registered pid that exited. The exit is delivered on the loop
 * that was running at `addChildHandler`, so one watcher serves every loop of the thread.
 *
 * Cost: O(1) per exit; O(n) for n registered children on a SIGCHLD whose zombie is another
 * owner's (e.g. a `node:child_process` child libuv has not reaped yet) or whose exit was reaped
 * by someone else. No threads. Call `attachLoop` once (with
 * any argument) before use: that subscribes to SIGCHLD. Never waits on a pid it was not given.
 */
export class MultiLoopChildWatcher extends RunningLoopChildWatcher {
  constructor() {
    super(Strategy.MultiLoop);
  }

  /** True once `attachLoop` was called (with any argument): SIGCHLD is subscribed. */
  override isActive(): boolean {
    return this.runtime.core.isActive(this.coreId);
  }

  /** The first call subscribes to SIGCHLD whatever `loop` is; the loop itself is not kept. */
  override attachLoop(loop: AbstractEventLoop | null): void {
    this.checkLoopArgument(loop);
    this.runtime.core.attachLoop(this.coreId, 0);
    this.runtime.drain();
  }

  /** Unsubscribes SIGCHLD and forgets every handler; the watcher becomes inactive. */
  override close(): void {
    this.runtime.core.close(this.coreId);
    this.runtime.releaseAll(this);
  }
}
