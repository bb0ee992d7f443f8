// Event loop policies and the module-level policy functions: Python's asyncio.events policy API
// and unix_events._UnixDefaultEventLoopPolicy.
//
// Threads: Python has one policy object for the whole process and keeps loops per thread in a
// threading.local. JavaScript objects cannot cross threads: every Worker loads its own copy of
// this module, so the policy, its current loop and its child watcher are per thread by
// construction, and "the main thread" is Node's main thread (worker_threads.isMainThread).
import { isMainThread, threadId } from 'node:worker_threads';
import { NotImplementedError, RuntimeError } from './errors.js';
import { AbstractEventLoop, SelectorEventLoop } from './loop.js';
import { allTasks, Future, type Task } from './futures.js';
import { _getRunningLoop, _setDefaultLoopProvider } from './running.js';
import { AbstractChildWatcher } from './watchers/abstract.js';
import { createDefaultChildWatcher } from './watchers/default.js';

/** Python's `threading.current_thread().name`: 'MainThread' or 'Worker-<threadId>'. */
export function currentThreadName(): string {
  return isMainThread ? 'MainThread' : `Worker-${threadId}`;
}

/** Python's repr of a str: single quotes unless the text holds one and no double quote. */
function pyRepr(s: string): string {
  if (s.includes("'") && !s.includes('"')) return `"${s}"`;
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The type name in TypeError messages (Python's `type(x).__name__`). */
function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object' || typeof v === 'function') {
    return (v as { constructor?: { name?: string } }).constructor?.name || typeof v;
  }
  return typeof v;
}

/**
 * Python's asyncio.AbstractEventLoopPolicy: the five methods throw NotImplementedError.
 * Subclass DefaultEventLoopPolicy rather than this for a custom policy.
 */
export abstract class AbstractEventLoopPolicy {
  /** The loop of the current context; never returns null (throws instead). */
  getEventLoop(): AbstractEventLoop {
    throw new NotImplementedError('AbstractEventLoopPolicy.getEventLoop');
  }

  /** Make `loop` the current loop of the current context (null clears it). */
  setEventLoop(loop: AbstractEventLoop | null): void {
    void loop;
    throw new NotImplementedError('AbstractEventLoopPolicy.setEventLoop');
  }

  /** A new loop by this policy's rules; it is not made current. */
  newEventLoop(): AbstractEventLoop {
    throw new NotImplementedError('AbstractEventLoopPolicy.newEventLoop');
  }

  /** The child watcher that subprocesses started under this policy are registered with. */
  getChildWatcher(): AbstractChildWatcher {
    throw new NotImplementedError('AbstractEventLoopPolicy.getChildWatcher');
  }

  /** Install `watcher` as the policy's child watcher (null removes it). */
  setChildWatcher(watcher: AbstractChildWatcher | null): void {
    void watcher;
    throw new NotImplementedError('AbstractEventLoopPolicy.setChildWatcher');
  }
}

/**
 * Python's DefaultEventLoopPolicy on Unix (BaseDefaultEventLoopPolicy +
 * _UnixDefaultEventLoopPolicy): one current loop per thread; a loop is created implicitly only on
 * the main thread and only if setEventLoop was never called there; one child watcher, created
 * lazily. Subclass it for custom policies and override what you need.
 */
export class DefaultEventLoopPolicy extends AbstractEventLoopPolicy {
  /** Python's `_Local`: this thread's current loop and whether setEventLoop was called. */
  protected _local: {
    /** This thread's current loop, or null. */
    loop: AbstractEventLoop | null;
    /** Whether setEventLoop was called in this thread (then no loop is created implicitly). */
    setCalled: boolean;
  } = { loop: null, setCalled: false };
  /** The installed child watcher, or null until getChildWatcher creates one (Python's `_watcher`). */
  protected _watcher: AbstractChildWatcher | null = null;

  /** Python's `_loop_factory`: the class newEventLoop() instantiates. */
  protected _loopFactory(): AbstractEventLoop {
    return new SelectorEventLoop();
  }

  /**
   * The current loop. On the main thread, if setEventLoop was never called, a new loop is
   * created and set (through this.setEventLoop, so an override sees it). Otherwise, with no
   * loop set: RuntimeError("There is no current event loop in thread 'MainThread'.").
   */
  override getEventLoop(): AbstractEventLoop {
    if (this._local.loop === null && !this._local.setCalled && isMainThread) {
      this.setEventLoop(this.newEventLoop());
    }
    if (this._local.loop === null) {
      throw new RuntimeError(`There is no current event loop in thread ${pyRepr(currentThreadName())}.`);
    }
    return this._local.loop;
  }

  /**
   * Make `loop` current for this thread (null clears it; either way the thread counts as "set",
   * so no loop is created implicitly any more). On the main thread, an existing child watcher is
   * attached to the loop (also for null).
   */
  override setEventLoop(loop: AbstractEventLoop | null): void {
    if (loop !== null && !(loop instanceof AbstractEventLoop)) {
      throw new TypeError(`loop must be an instance of AbstractEventLoop or None, not '${typeName(loop)}'`);
    }
    this._local.setCalled = true;
    this._local.loop = loop;
    if (this._watcher !== null && isMainThread) {
      this._watcher.attachLoop(loop);
    }
  }

  /** A new SelectorEventLoop; call setEventLoop to make it current. */
  override newEventLoop(): AbstractEventLoop {
    return this._loopFactory();
  }

  /**
   * The child watcher, created on first use: PidfdChildWatcher if pidfds work, else
   * ThreadedChildWatcher (createDefaultChildWatcher). Like CPython's `_init_watcher`, a watcher
   * created on the main thread is attached to the main thread's current loop.
   */
  override getChildWatcher(): AbstractChildWatcher {
    if (this._watcher === null) this._initWatcher();
    return this._watcher!;
  }

  /**
   * Python's `_init_watcher`: create the default watcher if there is none, and on the main thread
   * attach it to the current loop. Override to choose another watcher lazily.
   */
  protected _initWatcher(): void {
    if (this._watcher !== null) return;
    const watcher = createDefaultChildWatcher();
    this._watcher = watcher;
    if (isMainThread) watcher.attachLoop(this._local.loop);
  }

  /**
   * Install `watcher` (null removes it). The previous watcher is closed, unless it is the very
   * same object (CPython closes it even then, leaving a dead watcher installed: fixed here).
   * attachLoop is not called.
   */
  override setChildWatcher(watcher: AbstractChildWatcher | null): void {
    if (watcher !== null && !(watcher instanceof AbstractChildWatcher)) {
      throw new TypeError(`watcher must be an instance of AbstractChildWatcher or None, not '${typeName(watcher)}'`);
    }
    const previous = this._watcher;
    if (previous !== null && previous !== watcher) previous.close();
    this._watcher = watcher;
  }
}

/**
 * The shared shape of Python's two Windows policies: constructing one elsewhere is a RuntimeError
 * naming Windows, and there are no child watchers on Windows (NotImplementedError).
 */
abstract class WindowsEventLoopPolicy extends DefaultEventLoopPolicy {
  protected constructor(name: string) {
    if (process.platform !== 'win32') {
      throw new RuntimeError(`${name} is only available on Windows (process.platform 'win32'), not on '${process.platform}'`);
    }
    super();
  }

  /** No child watchers on Windows (Python's Windows policies have none). */
  override getChildWatcher(): AbstractChildWatcher {
    throw new NotImplementedError('getChildWatcher is not available on Windows');
  }

  /** No child watchers on Windows. */
  override setChildWatcher(watcher: AbstractChildWatcher | null): void {
    void watcher;
    throw new NotImplementedError('setChildWatcher is not available on Windows');
  }
}

/** Windows only: Python's WindowsSelectorEventLoopPolicy. RuntimeError elsewhere. */
export class WindowsSelectorEventLoopPolicy extends WindowsEventLoopPolicy {
  constructor() {
    super('WindowsSelectorEventLoopPolicy');
  }
}

/** Windows only: Python's WindowsProactorEventLoopPolicy. RuntimeError elsewhere. */
export class WindowsProactorEventLoopPolicy extends WindowsEventLoopPolicy {
  constructor() {
    super('WindowsProactorEventLoopPolicy');
  }
}

// ---------------------------------------------------------------------------------------------
// Module functions. The policy is this thread's (module state is per thread).

let eventLoopPolicy: AbstractEventLoopPolicy | null = null;

/** The current policy; a DefaultEventLoopPolicy is created on first use. */
export function getEventLoopPolicy(): AbstractEventLoopPolicy {
  if (eventLoopPolicy === null) eventLoopPolicy = new DefaultEventLoopPolicy();
  return eventLoopPolicy;
}

/**
 * Replace the policy; null makes the next getEventLoopPolicy() build a fresh default. The old
 * policy and its watcher are left as they are (not closed).
 */
export function setEventLoopPolicy(policy: AbstractEventLoopPolicy | null): void {
  if (policy !== null && !(policy instanceof AbstractEventLoopPolicy)) {
    throw new TypeError(`policy must be an instance of AbstractEventLoopPolicy or None, not '${typeName(policy)}'`);
  }
  eventLoopPolicy = policy;
}

/** The loop running in this thread, else the policy's current loop. */
export function getEventLoop(): AbstractEventLoop {
  const running = _getRunningLoop();
  if (running !== null) return running;
  return getEventLoopPolicy().getEventLoop();
}

/** getEventLoopPolicy().setEventLoop(loop). */
export function setEventLoop(loop: AbstractEventLoop | null): void {
  getEventLoopPolicy().setEventLoop(loop);
}

/** getEventLoopPolicy().newEventLoop(). */
export function newEventLoop(): AbstractEventLoop {
  return getEventLoopPolicy().newEventLoop();
}

/** The loop running in this thread; RuntimeError('no running event loop') if none. */
export { getRunningLoop } from './running.js';

/** getEventLoopPolicy().getChildWatcher(). */
export function getChildWatcher(): AbstractChildWatcher {
  return getEventLoopPolicy().getChildWatcher();
}

/** getEventLoopPolicy().setChildWatcher(watcher). */
export function setChildWatcher(watcher: AbstractChildWatcher | null): void {
  getEventLoopPolicy().setChildWatcher(watcher);
}

// `new Future()` without a loop uses get_event_loop(), as in asyncio.
_setDefaultLoopProvider(getEventLoop);

/**
 * A future of `loop` done when every one of `tasks` is done (Python's
 * `gather(*tasks, return_exceptions=True)`, reduced to what run() needs).
 */
function waitAll(loop: AbstractEventLoop, tasks: Task<unknown>[]): Future<void> {
  const all = loop.createFuture<void>();
  let pending = tasks.length;
  if (pending === 0) {
    all.setResult(undefined);
    return all;
  }
  for (const t of tasks) {
    t.addDoneCallback(() => {
      if (--pending === 0 && !all.done()) all.setResult(undefined);
    });
  }
  return all;
}

/** Python's `asyncio.runners._cancel_all_tasks`. */
async function cancelAllTasks(loop: AbstractEventLoop): Promise<void> {
  const toCancel = [...allTasks(loop)];
  if (toCancel.length === 0) return;
  for (const task of toCancel) task.cancel();
  await loop.runUntilComplete(waitAll(loop, toCancel));
  for (const task of toCancel) {
    if (task.cancelled()) continue;
    const exc = task.exception();
    if (exc !== null) {
      loop.callExceptionHandler({
        message: 'unhandled exception during asyncio.run() shutdown',
        exception: exc,
        task,
      });
    }
  }
}

/**
 * Python's asyncio.run: create a new loop, make it current, run `main` to completion on it
 * (a function is called once the loop runs), then cancel the tasks left over, close the loop
 * and set the current loop to null. Rejects with RuntimeError if a loop already runs in this
 * thread; `debug` sets the loop's debug mode.
 */
export async function run<T>(main: Promise<T> | PromiseLike<T> | (() => PromiseLike<T>),
  options: { debug?: boolean } = {}): Promise<T> {
  if (_getRunningLoop() !== null) {
    throw new RuntimeError('asyncio.run() cannot be called from a running event loop');
  }
  if (main === null || (typeof main !== 'function' && (typeof main !== 'object' ||
      typeof (main as PromiseLike<T>).then !== 'function'))) {
    throw new TypeError(`main must be a promise or an async function, not '${typeName(main)}'`);
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options must be an object, not '${typeName(options)}'`);
  }
  if (options.debug !== undefined && typeof options.debug !== 'boolean') {
    throw new TypeError(`options.debug must be a boolean, not '${typeName(options.debug)}'`);
  }
  const loop = newEventLoop();
  try {
    setEventLoop(loop);
    if (options.debug !== undefined) loop.setDebug(options.debug);
    return await loop.runUntilComplete(main);
  } finally {
    try {
      await cancelAllTasks(loop);
    } finally {
      setEventLoop(null);
      loop.close();
    }
  }
}
