// PidfdChildWatcher: one pidfd per child, watched for readability by the host's uv_poll; when it
// becomes readable the child is reaped with a non-blocking wait and the callback scheduled on the
// registering loop. O(1) per exit, one fd per live child, no signals, no threads, immune to pid
// reuse. Linux >= 5.3. If pidfd_open fails for lack of fds, that child falls back to a waiter
// thread. Strategy: assembly/watchers/pidfd.ts.
import { Strategy } from '../core/types.js';
import type { AbstractEventLoop } from '../events.js';
import { RunningLoopChildWatcher, type SpawnPidfd } from './base.js';

/**
 * One pidfd per child (`pidfd_open`), watched for readability by a libuv poll handle; when
 * it becomes readable the child is reaped and the callback scheduled on the loop that was running
 * at `addChildHandler`.
 *
 * Cost: O(1) per exit, one fd per live child. No signals, no threads, immune to pid reuse. Never
 * waits on a pid it was not given. Linux >= 5.3 (`canUsePidfd()`); the default there. If
 * `pidfd_open` fails for lack of fds, that child is watched by a waiter thread instead. An
 * already reaped pid fails `addChildHandler` with `ProcessLookupError`.
 */
export class PidfdChildWatcher extends RunningLoopChildWatcher {
  /** @internal The watcher holds a pidfd until the reap: it adopts the one opened at spawn. */
  override readonly spawnPidfd: SpawnPidfd = 'adopt';

  constructor() {
    super(Strategy.Pidfd);
  }

  /** Always true. */
  override isActive(): boolean {
    return true;
  }

  /** No-op: each pidfd is watched on its own. */
  override attachLoop(loop: AbstractEventLoop | null): void {
    this.checkLoopArgument(loop);
  }

  /** No-op, as in CPython. */
  override close(): void {}
}
