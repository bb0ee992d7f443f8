// The running loop of this thread: Python's `events._get_running_loop()` /
// `_set_running_loop()`. Module-level state is per thread (each Worker has its own copy of
// the module), which is exactly Python's thread-local `_running_loop`.
// This module imports nothing at run time but errors.js, so any layer may import it without
// creating an import cycle (the policy module imports the watchers; the watchers should take
// the running loop from here, not from policy.js).
import { RuntimeError } from './errors.js';
import type { AbstractEventLoop } from './loop.js';

let runningLoop: AbstractEventLoop | null = null;

/** The loop running in this thread, or null. Never throws. */
export function _getRunningLoop(): AbstractEventLoop | null {
  return runningLoop;
}

/** The loop running in this thread; RuntimeError('no running event loop') if none. */
export function getRunningLoop(): AbstractEventLoop {
  if (runningLoop === null) throw new RuntimeError('no running event loop');
  return runningLoop;
}

/**
 * Set (or clear, with null) the running loop of this thread. Only loops call this, from
 * runForever and when they stop.
 */
export function _setRunningLoop(loop: AbstractEventLoop | null): void {
  runningLoop = loop;
}

/**
 * A hook through which `new Future()` without a loop finds the current loop (Python's
 * `events.get_event_loop()`); the policy module installs it so that this module does not import
 * the policy (which imports the loop, which imports futures).
 */
let defaultLoopProvider: (() => AbstractEventLoop) | null = null;

export function _setDefaultLoopProvider(provider: (() => AbstractEventLoop) | null): void {
  defaultLoopProvider = provider;
}

/** The running loop, else the policy's current loop (Python's get_event_loop()). */
export function _getEventLoopForFuture(): AbstractEventLoop {
  if (runningLoop !== null) return runningLoop;
  if (defaultLoopProvider !== null) return defaultLoopProvider();
  // Only reachable if the policy module was never loaded (a deep import of futures.js).
  throw new RuntimeError('no running event loop');
}
