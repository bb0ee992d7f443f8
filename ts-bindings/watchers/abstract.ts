// AbstractChildWatcher: Python's asyncio.AbstractChildWatcher. Every method throws
// NotImplementedError; the five concrete watchers override them all.
import { NotImplementedError } from '../errors.js';
import type { AbstractEventLoop } from '../events.js';

/** `callback(pid, returncode, ...args)`, called exactly once when `pid` terminates. */
export type ChildCallback<A extends unknown[]> = (pid: number, returncode: number, ...args: A) => void;

/**
 * Watches child processes and reports each one's exit to a callback. Use `enter()`/`exit()`
 * (or `using w = watcher.enter()`) around spawning a child and registering it.
 */
export abstract class AbstractChildWatcher {
  /** Call `callback(pid, returncode, ...args)` once, when the child `pid` terminates. */
  addChildHandler<A extends unknown[]>(pid: number, callback: ChildCallback<A>, ...args: A): void {
    void pid; void callback; void args;
    throw new NotImplementedError('AbstractChildWatcher.addChildHandler');
  }

  /** Stop watching `pid`: true if a handler was registered. */
  removeChildHandler(pid: number): boolean {
    void pid;
    throw new NotImplementedError('AbstractChildWatcher.removeChildHandler');
  }

  /** Attach the watcher to an event loop (null detaches). */
  attachLoop(loop: AbstractEventLoop | null): void {
    void loop;
    throw new NotImplementedError('AbstractChildWatcher.attachLoop');
  }

  /** True if the watcher is ready to watch new children. */
  isActive(): boolean {
    throw new NotImplementedError('AbstractChildWatcher.isActive');
  }

  /** Close the watcher and release what it holds. */
  close(): void {
    throw new NotImplementedError('AbstractChildWatcher.close');
  }

  /** Python's `__enter__`: start a spawn bracket; returns this. */
  enter(): this {
    throw new NotImplementedError('AbstractChildWatcher.enter');
  }

  /** Python's `__exit__`: end a spawn bracket. */
  exit(): void {
    throw new NotImplementedError('AbstractChildWatcher.exit');
  }

  /** `using w = watcher.enter()` calls this at the end of the block: the same as `exit()`. */
  [Symbol.dispose](): void {
    this.exit();
  }
}
