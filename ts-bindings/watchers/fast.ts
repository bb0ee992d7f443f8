// FastChildWatcher: SIGCHLD through the attached loop; on each signal wait4(-1, WNOHANG) until
// none is left, O(1) per exit. It reaps EVERY child of the process, including children started by
// Node's child_process, which then never emit 'exit'. Exits of pids not (yet) registered while a
// spawn bracket (`enter()`) is open are kept as zombies and delivered if the pid is registered
// before the bracket closes. Main thread only. Strategy: assembly/watchers/fast.ts.
//
// Beyond CPython: `{ subreaper: true }` makes the process a child subreaper
// (PR_SET_CHILD_SUBREAPER), so orphaned grandchildren are reparented to it and reaped here
// instead of piling up as zombies (Node as PID 1 in a container); their exits go to
// `onOrphanExit(pid, returncode)` instead of the unknown-pid warning.
import { Strategy } from '../core/types.js';
import { setSubreaper } from '../../host/process-control.js';
import { RuntimeError } from '../errors.js';
import { typeName } from '../util/validate.js';
import { AttachedLoopChildWatcher } from './base.js';

/** Options of `new FastChildWatcher(options)` (beyond CPython). */
export interface FastChildWatcherOptions {
  /** Make this process a child subreaper and report orphans through `onOrphanExit`. */
  subreaper?: boolean;
  /** Called with the exit of each orphaned descendant (subreaper mode). */
  onOrphanExit?: ((pid: number, returncode: number) => void) | null;
}

/**
 * Make this process a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`): orphaned descendants
 * are reparented to it instead of to init. Only a FastChildWatcher reaps them.
 */
export function becomeSubreaper(on = true): void {
  if (typeof on !== 'boolean') throw new TypeError(`on must be a boolean, not '${typeName(on)}'`);
  const rc = setSubreaper(on);
  if (rc < 0) throw new RuntimeError(`prctl(PR_SET_CHILD_SUBREAPER) failed: errno ${-rc}`);
}

/**
 * SIGCHLD through the attached loop; on each signal `wait4(-1, WNOHANG)` until no child is left.
 * Callbacks run on the attached loop.
 *
 * Cost: O(1) per exit, no threads. But it reaps EVERY child of the process, including children
 * started by `node:child_process` (which then never emit `'exit'`) or by native modules. Main
 * thread only; needs `attachLoop(loop)`, and `enter()` before `addChildHandler`
 * (`RuntimeError('Must use the context manager')` otherwise). Exits of pids not registered yet
 * are kept while a bracket is open and delivered if the pid is registered before the outermost
 * `exit()`.
 *
 * Beyond CPython: `new FastChildWatcher({ subreaper: true, onOrphanExit })` makes the process a
 * child subreaper, so orphaned grandchildren are reparented to it and reaped (Node as PID 1).
 */
export class FastChildWatcher extends AttachedLoopChildWatcher {
  /** Whether this watcher made the process a subreaper. */
  readonly subreaper: boolean;
  /** Receives the exits of orphaned descendants in subreaper mode (null: log them as unknown). */
  onOrphanExit: ((pid: number, returncode: number) => void) | null;

  constructor(options: FastChildWatcherOptions = {}) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options must be an object, not '${typeName(options)}'`);
    }
    const { subreaper = false, onOrphanExit = null } = options;
    if (typeof subreaper !== 'boolean') throw new TypeError(`options.subreaper must be a boolean, not '${typeName(subreaper)}'`);
    if (onOrphanExit !== null && typeof onOrphanExit !== 'function') {
      throw new TypeError(`options.onOrphanExit must be a function, not '${typeName(onOrphanExit)}'`);
    }
    super(Strategy.Fast);
    this.subreaper = subreaper;
    this.onOrphanExit = onOrphanExit;
    if (subreaper) becomeSubreaper(true);
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

  /**
   * @internal Subreaper mode: an unregistered pid exited. This runs inside the core's report
   * (which must never throw), so the hook is scheduled on the attached loop, where an exception
   * reaches the loop's exception handler.
   */
  orphanExited(pid: number, returncode: number): boolean {
    const hook = this.onOrphanExit;
    if (!this.subreaper || hook === null) return false;
    const loop = this.attachedLoop();
    if (loop === null || loop.isClosed()) return false;
    loop.callSoon(hook, pid, returncode);
    return true;
  }
}
