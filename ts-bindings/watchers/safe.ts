// SafeChildWatcher: SIGCHLD through the attached loop's addSignalHandler; on each signal a
// non-blocking wait on each registered pid that exited (found with waitid(WNOWAIT); on every
// registered pid when that cannot tell). Callbacks run synchronously on the
// loop (even inside addChildHandler when the child already exited). Main thread only; never waits
// on a pid it was not given. Strategy: assembly/watchers/safe.ts.
import { Strategy } from '../core/types.js';
import { AttachedLoopChildWatcher } from './base.js';

/**
 * SIGCHLD through the attached loop's `addSignalHandler`; on each signal a non-blocking wait on
 * each registered pid that exited. Callbacks run synchronously on the attached loop (inside
 * `addChildHandler` when the child already exited).
 *
 * Cost: O(1) per exit; O(n) for n registered children on a SIGCHLD whose zombie is another
 * owner's (e.g. a `node:child_process` child libuv has not reaped yet) or whose exit was reaped
 * by someone else. No threads. Main thread only; needs
 * `attachLoop(loop)` before `addChildHandler` and is active only while that loop runs. Never
 * waits on a pid it was not given.
 */
export class SafeChildWatcher extends AttachedLoopChildWatcher {
  constructor() {
    super(Strategy.Safe);
  }
}
