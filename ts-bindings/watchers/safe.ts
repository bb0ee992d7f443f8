// SafeChildWatcher: SIGCHLD through the attached loop's addSignalHandler; on each signal a
// non-blocking wait on every registered pid, O(n) per signal. Callbacks run synchronously on the
// loop (even inside addChildHandler when the child already exited). Main thread only; never waits
// on a pid it was not given. Strategy: assembly/watchers/safe.ts.
import { Strategy } from '../core/types.js';
import { AttachedLoopChildWatcher } from './base.js';

export class SafeChildWatcher extends AttachedLoopChildWatcher {
  constructor() {
    super(Strategy.Safe);
  }
}
