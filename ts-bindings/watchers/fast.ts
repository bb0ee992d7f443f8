// FastChildWatcher: SIGCHLD through the attached loop; on each signal wait4(-1, WNOHANG) until
// none is left, O(1) per exit. It reaps EVERY child of the process, including children started by
// Node's child_process, which then never emit 'exit'. Exits of pids not (yet) registered while a
// spawn bracket (`enter()`) is open are kept as zombies and delivered if the pid is registered
// before the bracket closes. Main thread only. Strategy: assembly/watchers/fast.ts.
import { Strategy } from '../core/types.js';
import { AttachedLoopChildWatcher } from './base.js';

export class FastChildWatcher extends AttachedLoopChildWatcher {
  constructor() {
    super(Strategy.Fast);
  }

  /** Open a spawn bracket (Python's `__enter__`): exits of unknown pids are kept until `exit()`. */
  override enter(): this {
    this.runtime.core.enter(this.coreId);
    return this;
  }

  /** Close a spawn bracket; the outermost one drops the kept exits with a warning. */
  override exit(): void {
    this.runtime.core.exit(this.coreId);
  }

  /** The number of open spawn brackets. */
  get forks(): number {
    return this.runtime.core.forks(this.coreId);
  }
}
