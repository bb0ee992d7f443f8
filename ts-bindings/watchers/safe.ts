// SafeChildWatcher: SIGCHLD through the attached loop's addSignalHandler; on each signal a
// non-blocking wait on every registered pid, O(n) per signal. Callbacks run synchronously on the
// loop (even inside addChildHandler when the child already exited). Main thread only; never waits
// on a pid it was not given. Strategy: assembly/watchers/safe.ts.
import { Strategy } from '../core/types.js';
import { AttachedLoopChildWatcher } from './base.js';

/**
 * SIGCHLD through the attached loop's `addSignalHandler`; on each signal a non-blocking wait on
 * every registered pid. Callbacks run synchronously on the attached loop (inside
 * `addChildHandler` when the child already exited).
 *
 * Cost: O(n) per SIGCHLD for n registered children. No threads. Main thread only; needs
 * `attachLoop(loop)` before `addChildHandler` and is active only while that loop runs. Never
 * waits on a pid it was not given.
 */
export class SafeChildWatcher extends AttachedLoopChildWatcher {
  constructor() {
    super(Strategy.Safe);
  }
}
