// The policy's default child watcher: PidfdChildWatcher where pidfds work, else
// ThreadedChildWatcher. This is the only place, with the policy, that chooses a strategy.
import { probePidfd } from '../../host/process-control.js';
import type { AbstractChildWatcher } from './abstract.js';
import { PidfdChildWatcher } from './pidfd.js';
import { ThreadedChildWatcher } from './threaded.js';

let pidfdUsable: boolean | undefined;

/**
 * Whether pidfds work here: probes `pidfd_open(getpid())` once and caches the answer (ENOSYS and
 * EPERM mean no). `CHILDWATCH_NO_PIDFD=1` in the environment forces false.
 */
export function canUsePidfd(): boolean {
  if (pidfdUsable === undefined) {
    if (process.env['CHILDWATCH_NO_PIDFD'] === '1') {
      pidfdUsable = false;
    } else {
      pidfdUsable = probePidfd();
    }
  }
  return pidfdUsable;
}

export function createDefaultChildWatcher(): AbstractChildWatcher {
  return canUsePidfd() ? new PidfdChildWatcher() : new ThreadedChildWatcher();
}
