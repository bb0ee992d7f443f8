// CoreChildWatcher: the shared TypeScript shell of the five watchers. Each concrete class is a
// thin layer over its strategy in the wasm core (assembly/watchers/<name>.ts): the core decides
// when and how to reap; this class checks arguments, maps registrations to tokens, chooses the
// loop and turns the core's result codes into Python's exceptions.
import { isMainThread } from 'node:worker_threads';
import { AbstractChildWatcher, type ChildCallback } from './abstract.js';
import { ADD_NOT_ATTACHED, ADD_NOT_ENTERED, Errno, type Strategy } from '../core/types.js';
import {
  PermissionError, ProcessLookupError, RuntimeError,
} from '../errors.js';
import { AbstractEventLoop, loopFromId, loopId } from '../events.js';
import { getRunningLoop } from '../running.js';
import { checkCallback, checkPid, typeName } from '../util/validate.js';
import { isOwnChild } from '../../host/own-children.js';
import { Delivery, watcherRuntime, type RuntimeWatcher, type WatcherRuntime } from './runtime.js';

/** @internal The shared base of the five watchers (not exported: subclass AbstractChildWatcher). */
/**
 * Where the pidfd that keeps `Process.sendSignal` off recycled pids lives for a child started for
 * this watcher: `keep`, the Process holds its own (a child can be reaped by someone else and its
 * pid reused before the watcher looks, so "not reaped yet" is not enough for kill(2));
 * `adopt`, the watcher holds one until the reap anyway (Pidfd): it takes the spawn's.
 * @internal
 */
export type SpawnPidfd = 'keep' | 'adopt';

export abstract class CoreChildWatcher extends AbstractChildWatcher implements RuntimeWatcher {
  /** @internal How callbacks reach their loop. */
  abstract readonly delivery: Delivery;
  /** @internal See SpawnPidfd. */
  readonly spawnPidfd: SpawnPidfd = 'keep';
  /** @internal The core's id for this watcher. */
  protected readonly coreId: number;
  /** @internal This thread's watcher runtime (core instance, host, token table). */
  protected readonly runtime: WatcherRuntime;

  protected constructor(strategy: Strategy) {
    super();
    this.runtime = watcherRuntime();
    this.coreId = this.runtime.createWatcher(this, strategy);
  }

  /**
   * @internal
   * The loop a registration is delivered on: Threaded, MultiLoop and Pidfd use the running loop
   * (RuntimeError('no running event loop') without one); Safe and Fast their attached loop.
   */
  protected abstract registrationLoop(): AbstractEventLoop | null;

  override addChildHandler<A extends unknown[]>(pid: number, callback: ChildCallback<A>, ...args: A): void {
    checkPid(pid);
    checkCallback(callback);
    const loop = this.registrationLoop();
    // Sandbox (configureHost({ ownChildrenOnly: true })): the host would refuse every wait on a
    // pid it did not spawn, so the exit could never be reported: refuse it here, at once.
    if (this.runtime.host?.ownChildrenOnly === true && !isOwnChild(pid)) {
      throw new PermissionError(`[Errno 1] Operation not permitted: pid ${pid} was not spawned by this thread's host (ownChildrenOnly)`);
    }
    const { core } = this.runtime;
    const replaced = core.tokenOf(this.coreId, pid);
    const token = this.runtime.register(this, callback as ChildCallback<unknown[]>, args);
    const rc = core.addChild(this.coreId, pid, token, loop === null ? 0 : loopId(loop));
    if (rc < 0) {
      this.runtime.release(token);
      throw this.addError(rc, pid);
    }
    this.runtime.release(replaced);
    // The core checked the pid right after registering it: the child may already be a zombie.
    const errors = this.runtime.drain();
    if (errors.length > 0) throw errors[0]!.exception;
  }

  override removeChildHandler(pid: number): boolean {
    checkPid(pid);
    const token = this.runtime.core.tokenOf(this.coreId, pid);
    const removed = this.runtime.core.removeChild(this.coreId, pid);
    this.runtime.release(token);
    return removed;
  }

  override enter(): this {
    return this;
  }

  override exit(): void {
    // Only Fast counts brackets.
  }

  /** Number of pids registered with this watcher (diagnostics). */
  get registeredCount(): number {
    return this.runtime.core.registeredCount(this.coreId);
  }

  /** @internal The exception for a negative `add-child` result. */
  protected addError(rc: number, pid: number): Error {
    switch (rc) {
      case ADD_NOT_ATTACHED:
        return new RuntimeError('Cannot add child handler, the child watcher does not have a loop attached');
      case ADD_NOT_ENTERED:
        return new RuntimeError('Must use the context manager');
      case -Errno.ESRCH:
        return new ProcessLookupError(`[Errno 3] No such process: ${pid}`);
      case -Errno.EPERM:
        return new PermissionError(`[Errno 1] Operation not permitted: ${pid}`);
      default:
        return new RuntimeError(`Cannot watch pid ${pid}: errno ${-rc}`);
    }
  }

  /** @internal The running loop, as Python's `events.get_running_loop()`. */
  protected runningLoop(): AbstractEventLoop {
    return getRunningLoop();
  }

  /** @internal TypeError unless `loop` is an AbstractEventLoop or null. */
  protected checkLoopArgument(loop: unknown): asserts loop is AbstractEventLoop | null {
    if (loop !== null && !(loop instanceof AbstractEventLoop)) {
      throw new TypeError(`loop must be an AbstractEventLoop or null, not '${typeName(loop)}'`);
    }
  }
}

/**
 * Safe and Fast: SIGCHLD arrives through the attached loop's signal handler, so they need the main
 * thread and an attached, running loop; callbacks run synchronously on that loop.
 */
export abstract class AttachedLoopChildWatcher extends CoreChildWatcher {
  /** @internal Callbacks run synchronously on the attached loop. */
  readonly delivery = Delivery.Synchronous;

  /** @internal */
  protected registrationLoop(): AbstractEventLoop | null {
    return this.attachedLoop();
  }

  /** @internal The loop this watcher is attached to, or null. */
  protected attachedLoop(): AbstractEventLoop | null {
    const id = this.runtime.core.attachedLoop(this.coreId);
    return id === 0 ? null : (loopFromId(id) ?? null);
  }

  /**
   * Move the SIGCHLD handler to `loop` (null detaches), then sweep: exits that happened while
   * detached are delivered now. Main thread only; `RuntimeError` for a closed loop. Detaching
   * with handlers pending emits one `RuntimeWarning`.
   */
  override attachLoop(loop: AbstractEventLoop | null): void {
    this.checkLoopArgument(loop);
    if (!isMainThread) {
      throw new RuntimeError(`${this.constructor.name} can only be attached to a loop in the main thread`);
    }
    if (loop !== null && loop.isClosed()) throw new RuntimeError('Event loop is closed');
    this.runtime.core.attachLoop(this.coreId, loop === null ? 0 : loopId(loop));
    // Attaching sweeps: exits that happened while detached are delivered now, on the new loop.
    const errors = this.runtime.drain();
    for (const { exception } of errors) {
      loop?.callExceptionHandler({ message: 'Unknown exception in SIGCHLD handler', exception });
    }
  }

  /** True while a loop is attached and running. */
  override isActive(): boolean {
    const loop = this.attachedLoop();
    return loop !== null && this.runtime.core.isActive(this.coreId) && loop.isRunning();
  }

  /** Forget every handler and detach from the loop (no warning). */
  override close(): void {
    this.runtime.core.close(this.coreId);
    this.runtime.releaseAll(this);
  }
}

/**
 * Threaded, MultiLoop and Pidfd: a registration is delivered on the loop that was running when it
 * was made, through `callSoonThreadsafe`, in any thread.
 */
export abstract class RunningLoopChildWatcher extends CoreChildWatcher {
  /** @internal Callbacks go to the registering loop through callSoonThreadsafe. */
  readonly delivery = Delivery.Threadsafe;

  /** @internal */
  protected registrationLoop(): AbstractEventLoop {
    return this.runningLoop();
  }
}
