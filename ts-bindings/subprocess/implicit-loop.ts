// Which loop a subprocess is reported on.
//
// Inside a running loop (asyncio style: `run(main)`, `loop.runUntilComplete(...)`) it is that
// loop. Plain Node code (`await createSubprocessExec(...)` at top level) has no running loop, so
// the thread's current loop (the policy's `getEventLoop()`; a private loop in a Worker without
// one) is run implicitly while at least one such child is unfinished: a lease keeps it running
// and the last release stops it. A loop the user runs themself is never stopped by a lease.
import { getEventLoop, newEventLoop } from '../policy.js';
import { _getRunningLoop } from '../running.js';
import type { AbstractEventLoop } from '../events.js';

export interface LoopLease {
  readonly loop: AbstractEventLoop;
  release(): void;
}

const leases = new WeakMap<AbstractEventLoop, number>();
let workerLoop: AbstractEventLoop | undefined;

function currentLoop(): AbstractEventLoop {
  try {
    return getEventLoop();
  } catch {
    // A Worker (or a main thread after setEventLoop(null)) has no current loop: use a private one.
    if (workerLoop === undefined || workerLoop.isClosed()) workerLoop = newEventLoop();
    return workerLoop!;
  }
}

/** Lease the loop subprocesses are reported on: the running one, else the current one, run implicitly. */
export function acquireLoop(): LoopLease {
  return leaseLoop(_getRunningLoop() ?? currentLoop());
}

/** A lease on a loop someone else runs: releasing it does nothing. One per loop, shared. */
class FreeLease implements LoopLease {
  constructor(readonly loop: AbstractEventLoop) {}
  release(): void {}
}

/** A lease that counts: the last release of a loop started by leases stops it. */
class CountedLease implements LoopLease {
  private released = false;
  constructor(readonly loop: AbstractEventLoop) {}
  release(): void {
    if (this.released) return;
    this.released = true;
    const loop = this.loop;
    const left = (leases.get(loop) ?? 1) - 1;
    if (left > 0) {
      leases.set(loop, left);
      return;
    }
    leases.delete(loop);
    if (loop.isRunning()) loop.stop();
  }
}

const freeLeases = new WeakMap<AbstractEventLoop, FreeLease>();

/**
 * Keep `loop` running until `release()`: a loop that runs on its own (the user's) is left alone;
 * one that is not running is started with runForever and stopped by the last release.
 */
export function leaseLoop(loop: AbstractEventLoop): LoopLease {
  if (loop.isRunning() && !leases.has(loop)) {
    let free = freeLeases.get(loop);
    if (free === undefined) freeLeases.set(loop, free = new FreeLease(loop));
    return free;
  }
  const count = leases.get(loop) ?? 0;
  if (count === 0 && !loop.isRunning()) {
    // Throws if another loop runs in this thread or `loop` is closed: nothing is leased then.
    void loop.runForever().catch(() => { /* stopped or closed: nothing to report */ });
  }
  leases.set(loop, count + 1);
  return new CountedLease(loop);
}
