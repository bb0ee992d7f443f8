// Future and Task: Python's asyncio.Future / asyncio.Task, made awaitable from JavaScript.
//
// A Future is a result that will be set later by someone else (setResult / setException /
// cancel). It belongs to one loop: its done callbacks are scheduled on that loop with callSoon,
// as in asyncio, so they run only while the loop runs. It is also PromiseLike: `await fut`
// settles as soon as the future is done (through an internal native Promise; JavaScript code that
// awaits a future is resumed by Node's microtask queue, not by the asyncio loop).
//
// A Task runs a piece of async work on a loop: `createTask(() => promise)` calls the function in
// the loop's next iteration (so inside it getRunningLoop() is the loop), and the task finishes
// with the promise's outcome. JavaScript cannot interrupt a promise, so cancel() differs from
// asyncio in one point: the Task is cancelled at once (cancelled() is true and whoever awaits it
// sees CancelledError), while the work itself, if it was already started, continues unobserved;
// if it was not started yet, it never starts. A work that rejects with CancelledError leaves its
// Task cancelled, as in asyncio.
import { inspect } from 'node:util';
import { RuntimeError } from './errors.js';
import type { AbstractEventLoop } from './loop.js';
import { _getEventLoopForFuture } from './running.js';
import type { Handle } from './handles.js';

/** The operation was cancelled (Python's asyncio.CancelledError). */
export class CancelledError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CancelledError';
  }
}

/** The Future is not in the right state for the operation (Python's asyncio.InvalidStateError). */
export class InvalidStateError extends Error {
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InvalidStateError';
  }
}

type FutureState = 'PENDING' | 'CANCELLED' | 'FINISHED';

export type DoneCallback<F> = (fut: F) => void;

/** A value's type for messages: 'null', 'number', or its class name. */
function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as { constructor?: { name?: string } }).constructor?.name || 'object';
  return typeof v;
}

function reprValue(v: unknown): string {
  return inspect(v, { depth: 1, breakLength: Infinity });
}

/** True for a Future or Task of this library (Python's futures.isfuture). */
export function isFuture(obj: unknown): obj is Future<unknown> {
  return obj instanceof Future;
}

/**
 * An eventual result, bound to a loop. Not thread-safe (nothing in JavaScript crosses threads).
 */
export class Future<T = unknown> implements PromiseLike<T> {
  /** @internal */ _state: FutureState = 'PENDING';
  /** @internal */ _result: T | undefined = undefined;
  /** @internal */ _exception: unknown = undefined;
  /** @internal */ _hasException = false;
  /** @internal */ _loop: AbstractEventLoop;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  /** @internal */ _callbacks: DoneCallback<any>[] = [];
  /** @internal */ _cancelMessage: string | undefined = undefined;
  /** @internal The native promise behind then(); created on the first then(). */
  private _promise: Promise<T> | null = null;
  // (Typed loosely so that Future<string> stays assignable to Future<unknown>.)
  private _resolve: ((v: never) => void) | null = null;
  private _reject: ((e: unknown) => void) | null = null;

  /** `new Future()` binds to the running loop, else to the policy's current loop. */
  constructor(options?: { loop?: AbstractEventLoop }) {
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      throw new TypeError(`options must be an object, not '${typeOf(options)}'`);
    }
    const loop = options?.loop;
    // Duck-typed: this module must not import the loop module at run time (no import cycle).
    if (loop !== undefined && (loop === null || typeof (loop as { callSoon?: unknown }).callSoon !== 'function')) {
      throw new TypeError(`options.loop must be an event loop, not '${typeOf(loop)}'`);
    }
    this._loop = loop ?? _getEventLoopForFuture();
  }

  /** The loop this future belongs to (its done callbacks run there). */
  getLoop(): AbstractEventLoop {
    return this._loop;
  }

  /** @internal Python's `_repr_info`. */
  protected _reprInfo(): string[] {
    const info = [this._state.toLowerCase()];
    if (this._state === 'FINISHED') {
      if (this._hasException) info.push(`exception=${reprValue(this._exception)}`);
      else info.push(`result=${reprValue(this._result)}`);
    }
    if (this._callbacks.length > 0) {
      info.push(`cb=[${this._callbacks.map((cb) => `${cb.name || '<anonymous>'}()`).join(', ')}]`);
    }
    return info;
  }

  /** `<Future pending>`, `<Task finished name='Task-1' result=3>`: Python's repr. */
  toString(): string {
    return `<${this.constructor.name} ${this._reprInfo().join(' ')}>`;
  }

  /** `util.inspect` shows `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }

  /** @internal The error that result()/exception()/await raise for a cancelled future. */
  _makeCancelledError(): CancelledError {
    return new CancelledError(this._cancelMessage);
  }

  /**
   * Cancel the future and schedule its callbacks. Returns false if it was already done or
   * cancelled, true otherwise.
   */
  cancel(msg?: string): boolean {
    if (this._state !== 'PENDING') return false;
    this._state = 'CANCELLED';
    this._cancelMessage = msg;
    this._settlePromise();
    this._scheduleCallbacks();
    return true;
  }

  /** True if the future was cancelled. */
  cancelled(): boolean {
    return this._state === 'CANCELLED';
  }

  /** Done means: a result or an exception was set, or it was cancelled. */
  done(): boolean {
    return this._state !== 'PENDING';
  }

  /**
   * The result. Throws CancelledError if cancelled, InvalidStateError('Result is not ready.') if
   * not done, and the exception itself if one was set.
   */
  result(): T {
    if (this._state === 'CANCELLED') throw this._makeCancelledError();
    if (this._state !== 'FINISHED') throw new InvalidStateError('Result is not ready.');
    if (this._hasException) throw this._exception;
    return this._result as T;
  }

  /**
   * The exception set on the future, or null if it finished with a result. Throws
   * CancelledError if cancelled, InvalidStateError('Exception is not set.') if not done.
   */
  exception(): unknown {
    if (this._state === 'CANCELLED') throw this._makeCancelledError();
    if (this._state !== 'FINISHED') throw new InvalidStateError('Exception is not set.');
    return this._hasException ? this._exception : null;
  }

  /**
   * Call `fn(future)` once the future is done: scheduled with the loop's callSoon, so it runs
   * in an iteration of the loop (at once, i.e. in the next iteration, if already done).
   */
  addDoneCallback(fn: DoneCallback<this>): void {
    if (typeof fn !== 'function') {
      throw new TypeError(`addDoneCallback(): fn must be a function, got ${reprValue(fn)}`);
    }
    if (this._state !== 'PENDING') {
      this._loop.callSoon(fn, this);
    } else {
      this._callbacks.push(fn);
    }
  }

  /** Remove every registration of `fn`; returns how many were removed. */
  removeDoneCallback(fn: DoneCallback<this>): number {
    const kept = this._callbacks.filter((cb) => cb !== fn);
    const removed = this._callbacks.length - kept.length;
    if (removed > 0) this._callbacks = kept;
    return removed;
  }

  /** Finish with a result. InvalidStateError if already done. */
  setResult(result: T): void {
    if (this._state !== 'PENDING') {
      throw new InvalidStateError(`${this._state}: ${this.toString()}`);
    }
    this._result = result;
    this._state = 'FINISHED';
    this._settlePromise();
    this._scheduleCallbacks();
  }

  /** Finish with an exception. InvalidStateError if already done. */
  setException(exception: unknown): void {
    if (this._state !== 'PENDING') {
      throw new InvalidStateError(`${this._state}: ${this.toString()}`);
    }
    this._exception = exception;
    this._hasException = true;
    this._state = 'FINISHED';
    this._settlePromise();
    this._scheduleCallbacks();
  }

  /**
   * Hand the callbacks to the loop. Like asyncio, this throws RuntimeError('Event loop is
   * closed') if callbacks are registered and the loop was closed; the state is set before.
   */
  private _scheduleCallbacks(): void {
    const callbacks = this._callbacks;
    if (callbacks.length === 0) return;
    this._callbacks = [];
    for (const cb of callbacks) this._loop.callSoon(cb, this);
  }

  private _settlePromise(): void {
    if (this._promise === null) return;
    const resolve = this._resolve! as (v: T) => void;
    const reject = this._reject!;
    this._resolve = this._reject = null;
    if (this._state === 'CANCELLED') reject(this._makeCancelledError());
    else if (this._hasException) reject(this._exception);
    else resolve(this._result as T);
  }

  private _getPromise(): Promise<T> {
    if (this._promise === null) {
      this._promise = new Promise<T>((resolve, reject) => {
        this._resolve = resolve;
        this._reject = reject;
      });
      if (this._state !== 'PENDING') this._settlePromise();
    }
    return this._promise;
  }

  /** Awaitable: settles when the future is done (rejects with CancelledError if cancelled). */
  then<R1 = T, R2 = never>(
    onfulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this._getPromise().then(onfulfilled, onrejected);
  }

  /** As `Promise.prototype.catch`: rejects with `CancelledError` if the future was cancelled. */
  catch<R = never>(onrejected?: ((reason: unknown) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this._getPromise().catch(onrejected);
  }

  /** As `Promise.prototype.finally`. */
  finally(onfinally?: (() => void) | null): Promise<T> {
    return this._getPromise().finally(onfinally);
  }
}

/** The pending tasks of each loop (Python's `_all_tasks`), for run()'s final cancellation. */
const tasksByLoop = new WeakMap<AbstractEventLoop, Set<Task<unknown>>>();

/** The tasks of `loop` that are not done yet (Python's asyncio.all_tasks(loop)). */
export function allTasks(loop: AbstractEventLoop): Set<Task<unknown>> {
  const all = tasksByLoop.get(loop);
  const pending = new Set<Task<unknown>>();
  if (all !== undefined) for (const t of all) if (!t.done()) pending.add(t);
  return pending;
}

let taskCounter = 0;

/** Work that a Task runs: a promise already under way, or a function that starts it. */
export type TaskWork<T> = PromiseLike<T> | (() => PromiseLike<T> | T);

/**
 * A Future that follows the outcome of some async work, run on a loop. See the top of this
 * file for how cancellation maps onto JavaScript promises.
 */
export class Task<T = unknown> extends Future<T> {
  private _name: string;
  private _work: (() => PromiseLike<T> | T) | null;
  /** @internal The scheduled first step, while the work has not started. */
  private _startHandle: Handle | null = null;

  constructor(work: TaskWork<T>, options?: { loop?: AbstractEventLoop; name?: string }) {
    super(options);
    this._name = options?.name ?? `Task-${++taskCounter}`;
    let set = tasksByLoop.get(this._loop);
    if (set === undefined) tasksByLoop.set(this._loop, (set = new Set()));
    set.add(this as Task<unknown>);
    if (typeof work === 'function') {
      this._work = work;
      // asyncio's `loop.call_soon(self.__step)`: the work starts in the loop's next iteration.
      this._startHandle = this._loop.callSoon(() => this._step());
    } else if (work !== null && typeof work === 'object' && typeof (work as PromiseLike<T>).then === 'function') {
      this._work = null;
      this._follow(work);
    } else {
      set.delete(this as Task<unknown>);
      throw new TypeError(`work must be a promise or a function returning one, got ${reprValue(work)}`);
    }
  }

  /** The task's name: the `name` option, or `Task-<n>`. */
  getName(): string {
    return this._name;
  }

  /** Rename the task (shown in its `toString()`). */
  setName(name: string): void {
    this._name = String(name);
  }

  protected override _reprInfo(): string[] {
    const info = super._reprInfo();
    info.splice(1, 0, `name=${reprValue(this._name)}`);
    return info;
  }

  private _step(): void {
    this._startHandle = null;
    const work = this._work;
    this._work = null;
    if (this.done() || work === null) return;
    let started: PromiseLike<T> | T;
    try {
      started = work();
    } catch (exc) {
      this._finish(false, exc);
      return;
    }
    if (started !== null && typeof started === 'object' && typeof (started as PromiseLike<T>).then === 'function') {
      this._follow(started as PromiseLike<T>);
    } else {
      this._finish(true, started as T);
    }
  }

  private _follow(p: PromiseLike<T>): void {
    // A handler for both outcomes is always attached: a failing work never becomes an
    // unhandled rejection (its error is the task's exception).
    p.then((v) => this._finish(true, v), (e) => this._finish(false, e));
  }

  /**
   * The work settled. Ignored if the task was cancelled meanwhile. If the loop was closed
   * since, the state is still recorded (awaiting code sees it) but the done callbacks cannot be
   * scheduled any more; that is not an error of the work, so nothing is thrown.
   */
  private _finish(ok: boolean, value: unknown): void {
    if (this.done()) return;
    tasksByLoop.get(this._loop)?.delete(this as Task<unknown>);
    try {
      if (ok) super.setResult(value as T);
      else if (value instanceof CancelledError) super.cancel(value.message || undefined);
      else super.setException(value);
    } catch (exc) {
      if (!(exc instanceof RuntimeError)) throw exc;
    }
  }

  /**
   * Request cancellation: the task is cancelled at once and its done callbacks scheduled;
   * work that has not started yet never starts. Returns false if the task was already done.
   */
  override cancel(msg?: string): boolean {
    if (this.done()) return false;
    if (this._startHandle !== null) {
      this._startHandle.cancel();
      this._startHandle = null;
    }
    this._work = null;
    tasksByLoop.get(this._loop)?.delete(this as Task<unknown>);
    return super.cancel(msg);
  }

  /** Not for tasks: always throws `RuntimeError` (a task's result comes from its work). */
  override setResult(result: T): void {
    void result;
    throw new RuntimeError('Task does not support set_result operation');
  }

  /** Not for tasks: always throws `RuntimeError`. */
  override setException(exception: unknown): void {
    void exception;
    throw new RuntimeError('Task does not support set_exception operation');
  }
}
