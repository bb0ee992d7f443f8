// AbstractEventLoop and SelectorEventLoop: Python's asyncio event loop, as a logical loop on top
// of Node's own event loop.
//
// Contract (SEMANTICS.md, "Event loop"):
// - While the loop runs (runForever() until stop(), or runUntilComplete()), it works in
//   iterations like asyncio's `_run_once`: move the timers whose deadline has passed to the ready
//   queue, then run the callbacks that are ready at the start of the iteration, in FIFO order.
//   Callbacks added during an iteration run in the next one. An iteration is one Node macrotask
//   (setImmediate when work is ready, one unref'd setTimeout for the earliest deadline when only
//   timers are left), so Node's I/O, other timers and microtasks run between iterations.
// - Signal and reader callbacks only put their handle on the ready queue (they arrive from the
//   native addon's uv_signal / uv_poll handles on this thread).
// - A loop that is not running executes nothing: its ready callbacks, timers, signals and
//   readers wait for the next run.
// - One loop runs per thread at a time. While it runs it keeps Node alive (one ref'd handle);
//   stopped, idle or closed, it keeps nothing alive (every native handle is unref'd).
// - Nothing a callback throws reaches Node: Handle._run routes it to callExceptionHandler.
import { isMainThread } from 'node:worker_threads';
import { constants as osConstants } from 'node:os';
import { inspect } from 'node:util';
import { NotImplementedError, RuntimeError } from './errors.js';
import { logger } from './log.js';
import { Handle, TimerHandle, formatCallback, type AnyCallback } from './handles.js';
import { Future, Task, isFuture, type TaskWork } from './futures.js';
import { _getRunningLoop, _setRunningLoop } from './running.js';
import type { SubprocessOptions, SubprocessProtocol, SubprocessTransport } from './subprocess/types.js';
import type { NativeHandle, NativePoll } from '../host/addon-types.js';
import { addon } from '../host/addon.js';

/** What the exception handler receives: `message`, usually `exception`, and more keys. */
export interface ExceptionContext {
  /** What happened, e.g. "Exception in callback f()" or "Unknown exception in SIGCHLD handler". */
  message: string;
  /** The thrown value, when there is one. */
  exception?: unknown;
  /** Other keys CPython also sets: `handle`, `task`, `future`, `source_traceback`, ... */
  [key: string]: unknown;
}

/** A loop's exception handler (see `AbstractEventLoop.setExceptionHandler`). */
export type ExceptionHandler = (loop: AbstractEventLoop, context: ExceptionContext) => void;

/** What a loop tells its listeners (see addLoopListener). */
export type LoopEvent = 'running' | 'stopped' | 'closed';
export type LoopListener = (loop: AbstractEventLoop, event: LoopEvent) => void;

// ---------------------------------------------------------------------------------------------
// Loop registry: a small integer id per loop (never 0), held weakly, for layers that must name a
// loop across a boundary that carries only numbers (the wasm core, native callbacks).

let nextLoopId = 1;
const idsByLoop = new WeakMap<AbstractEventLoop, number>();
const loopsById = new Map<number, WeakRef<AbstractEventLoop>>();
const loopFinalizer = new FinalizationRegistry<number>((id) => {
  // A loop was garbage collected: forget its id (ids are never reused).
  const ref = loopsById.get(id);
  if (ref !== undefined && ref.deref() === undefined) loopsById.delete(id);
});

/** The id of `loop` (a positive integer, assigned on first use, stable for the loop's life). */
export function loopId(loop: AbstractEventLoop): number {
  let id = idsByLoop.get(loop);
  if (id === undefined) {
    id = nextLoopId++;
    idsByLoop.set(loop, id);
    loopsById.set(id, new WeakRef(loop));
    loopFinalizer.register(loop, id);
  }
  return id;
}

/** The loop with this id, or undefined if there is none (or it was garbage collected). */
export function loopFromId(id: number): AbstractEventLoop | undefined {
  return loopsById.get(id)?.deref();
}

// Listeners: `null` key = every loop.
const listenersByLoop = new WeakMap<AbstractEventLoop, Set<LoopListener>>();
const globalListeners = new Set<LoopListener>();

/**
 * Call `listener(loop, event)` when `loop` (or, with null, any loop) starts running ('running'),
 * stops running ('stopped') or is closed ('closed'). Returns a function that removes the
 * listener. Listeners run synchronously inside runForever/stop/close; what they throw goes to
 * the loop's exception handler.
 */
export function addLoopListener(loop: AbstractEventLoop | null, listener: LoopListener): () => void {
  if (typeof listener !== 'function') throw new TypeError('listener must be a function');
  let set: Set<LoopListener>;
  if (loop === null) {
    set = globalListeners;
  } else {
    let s = listenersByLoop.get(loop);
    if (s === undefined) listenersByLoop.set(loop, (s = new Set()));
    set = s;
  }
  // Wrap, so that the same function may be added twice and removed independently.
  const entry: LoopListener = (l, e) => listener(l, e);
  set.add(entry);
  return () => { set.delete(entry); };
}

/** Tell the listeners of `loop` about `event`. For loop implementations (custom loops too). */
export function _notifyLoopListeners(loop: AbstractEventLoop, event: LoopEvent): void {
  const own = listenersByLoop.get(loop);
  const all = [...(own ?? []), ...globalListeners];
  for (const listener of all) {
    try {
      listener(loop, event);
    } catch (exc) {
      loop.callExceptionHandler({ message: `Exception in loop listener (${event})`, exception: exc });
    }
  }
}

// ---------------------------------------------------------------------------------------------

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object' || typeof v === 'function') {
    return (v as { constructor?: { name?: string } }).constructor?.name || typeof v;
  }
  return typeof v;
}

function repr(v: unknown): string {
  return inspect(v, { depth: 1, breakLength: Infinity });
}

/**
 * Python's asyncio.AbstractEventLoop. Every method throws NotImplementedError; SelectorEventLoop
 * implements them. Subclass it for a custom loop (setEventLoop accepts any subclass).
 */
export abstract class AbstractEventLoop {
  /**
   * Run until `stop()` is called. The loop is running as soon as this returns; the promise
   * resolves once it has stopped. Rejects with `RuntimeError` if the loop is closed or another
   * loop already runs in this thread.
   */
  runForever(): Promise<void> { throw new NotImplementedError('runForever'); }
  /**
   * Run until `future` is done and return its result (or throw its exception). A function is
   * called once the loop runs, so inside it `getRunningLoop()` is this loop.
   */
  runUntilComplete<T>(future: Promise<T> | PromiseLike<T> | (() => PromiseLike<T>)): Promise<T> {
    void future; throw new NotImplementedError('runUntilComplete');
  }
  /** Stop running after the callbacks already scheduled have run. */
  stop(): void { throw new NotImplementedError('stop'); }
  /** True while `runForever` / `runUntilComplete` is running this loop. */
  isRunning(): boolean { throw new NotImplementedError('isRunning'); }
  /** True once `close()` was called. */
  isClosed(): boolean { throw new NotImplementedError('isClosed'); }
  /** Close the loop: pending callbacks are dropped. `RuntimeError` while it runs. */
  close(): void { throw new NotImplementedError('close'); }
  /** Call `cb(...args)` in the next iteration of the loop (FIFO). */
  callSoon<A extends unknown[]>(cb: (...args: A) => unknown, ...args: A): Handle {
    void cb; void args; throw new NotImplementedError('callSoon');
  }
  /** As `callSoon`, and wake the loop; the host's native callbacks use it. */
  callSoonThreadsafe<A extends unknown[]>(cb: (...args: A) => unknown, ...args: A): Handle {
    void cb; void args; throw new NotImplementedError('callSoonThreadsafe');
  }
  /** Call `cb(...args)` after `delaySeconds` seconds (on the `time()` clock). */
  callLater<A extends unknown[]>(delaySeconds: number, cb: (...args: A) => unknown, ...args: A): TimerHandle {
    void delaySeconds; void cb; void args; throw new NotImplementedError('callLater');
  }
  /** Call `cb(...args)` at time `when`, a value of `time()`. */
  callAt<A extends unknown[]>(when: number, cb: (...args: A) => unknown, ...args: A): TimerHandle {
    void when; void cb; void args; throw new NotImplementedError('callAt');
  }
  /** The loop's clock: monotonic seconds. */
  time(): number { throw new NotImplementedError('time'); }
  /** A new Future bound to this loop. */
  createFuture<T>(): Future<T> { throw new NotImplementedError('createFuture'); }
  /** Run `work` (a promise, or a function returning one) as a Task of this loop. */
  createTask<T>(work: TaskWork<T>): Task<T> { void work; throw new NotImplementedError('createTask'); }
  /**
   * Call `cb(...args)` on this loop whenever signal `sig` (a number or a name such as
   * `'SIGTERM'`) arrives. Main thread only (`RuntimeError` elsewhere, as in Python).
   */
  addSignalHandler<A extends unknown[]>(sig: number | NodeJS.Signals, cb: (...args: A) => unknown, ...args: A): void {
    void sig; void cb; void args; throw new NotImplementedError('addSignalHandler');
  }
  /** Remove the handler of `sig`: true if there was one. */
  removeSignalHandler(sig: number | NodeJS.Signals): boolean {
    void sig; throw new NotImplementedError('removeSignalHandler');
  }
  /** Call `cb(...args)` on this loop while `fd` is readable. */
  addReader<A extends unknown[]>(fd: number, cb: (...args: A) => unknown, ...args: A): void {
    void fd; void cb; void args; throw new NotImplementedError('addReader');
  }
  /** Stop watching `fd`: true if a reader was registered. The fd is not closed. */
  removeReader(fd: number): boolean { void fd; throw new NotImplementedError('removeReader'); }
  /**
   * Python's `loop.subprocess_exec`: start `program` with `args` (no shell) and connect its
   * pipes to the protocol that `protocolFactory` makes. Resolves with `[transport, protocol]`.
   */
  subprocessExec<P extends SubprocessProtocol>(protocolFactory: () => P, program: string,
    args?: string[], options?: SubprocessOptions): Promise<[SubprocessTransport, P]> {
    void protocolFactory; void program; void args; void options;
    throw new NotImplementedError('subprocessExec');
  }
  /** Python's `loop.subprocess_shell`: as `subprocessExec`, running `/bin/sh -c cmd`. */
  subprocessShell<P extends SubprocessProtocol>(protocolFactory: () => P, cmd: string,
    options?: SubprocessOptions): Promise<[SubprocessTransport, P]> {
    void protocolFactory; void cmd; void options;
    throw new NotImplementedError('subprocessShell');
  }
  /** Install `handler(loop, context)` for errors the loop catches (null: the default handler). */
  setExceptionHandler(handler: ExceptionHandler | null): void {
    void handler; throw new NotImplementedError('setExceptionHandler');
  }
  /** The handler installed with `setExceptionHandler`, or null. */
  getExceptionHandler(): ExceptionHandler | null { throw new NotImplementedError('getExceptionHandler'); }
  /** Report `context` to the installed handler, else to `defaultExceptionHandler`. */
  callExceptionHandler(context: ExceptionContext): void {
    void context; throw new NotImplementedError('callExceptionHandler');
  }
  /** Log `context` through the `logger`. */
  defaultExceptionHandler(context: ExceptionContext): void {
    void context; throw new NotImplementedError('defaultExceptionHandler');
  }
  /** Whether debug mode is on (`run(main, { debug: true })`, `CHILDWATCH_DEBUG=1`). */
  getDebug(): boolean { throw new NotImplementedError('getDebug'); }
  /** Turn debug mode on or off. */
  setDebug(enabled: boolean): void { void enabled; throw new NotImplementedError('setDebug'); }
}

// ---------------------------------------------------------------------------------------------
// Helpers of SelectorEventLoop.

/** A FIFO with O(1) push and shift (Python's collections.deque for `_ready`). */
class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number { return this.items.length - this.head; }
  push(item: T): void { this.items.push(item); }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  clear(): void { this.items = []; this.head = 0; }
}

/** Binary min-heap of timers by (when, sequence): equal deadlines run in scheduling order. */
function timerLess(a: TimerHandle, b: TimerHandle): boolean {
  return a._when < b._when || (a._when === b._when && a._seq < b._seq);
}
function heapPush(heap: TimerHandle[], h: TimerHandle): void {
  heap.push(h);
  let i = heap.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!timerLess(heap[i], heap[p])) break;
    [heap[i], heap[p]] = [heap[p], heap[i]];
    i = p;
  }
}
function heapPop(heap: TimerHandle[]): TimerHandle | undefined {
  if (heap.length === 0) return undefined;
  const top = heap[0];
  const last = heap.pop()!;
  if (heap.length > 0) {
    heap[0] = last;
    heapify(heap, 0);
  }
  return top;
}
function heapify(heap: TimerHandle[], start: number): void {
  let i = start;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < heap.length && timerLess(heap[l], heap[m])) m = l;
    if (r < heap.length && timerLess(heap[r], heap[m])) m = r;
    if (m === i) return;
    [heap[i], heap[m]] = [heap[m], heap[i]];
    i = m;
  }
}

/** Python's base_events constants. */
const MIN_SCHEDULED_TIMER_HANDLES = 100;
const MIN_CANCELLED_TIMER_HANDLES_FRACTION = 0.5;
/** The longest single Node timer we arm (one day, as asyncio's MAXIMUM_SELECT_TIMEOUT). */
const MAXIMUM_SELECT_TIMEOUT = 24 * 3600;
/** A timer is due when its deadline is before now + this (asyncio's clock resolution). */
const CLOCK_RESOLUTION = 1e-6;

const EINVAL = 22;
const SIGKILL = osConstants.signals.SIGKILL;
const SIGSTOP = osConstants.signals.SIGSTOP;

/**
 * Python's `signal.valid_signals()` on Linux: 1..64 without 32 and 33, which glibc keeps for
 * itself (sigfillset leaves them out). Elsewhere, the numbers Node knows.
 */
function isValidSignal(sig: number): boolean {
  if (process.platform === 'linux') return sig >= 1 && sig <= 64 && sig !== 32 && sig !== 33;
  return Object.values(osConstants.signals).includes(sig);
}

/**
 * A signal as a number, from a number or a Node signal name. Python's `_check_signal`:
 * TypeError for the wrong type (and for an unknown name, like Node's ERR_UNKNOWN_SIGNAL),
 * RangeError (Python's ValueError) for a number that is not a signal.
 */
export function _checkSignal(sig: unknown): number {
  if (typeof sig === 'string') {
    const n = (osConstants.signals as Record<string, number | undefined>)[sig];
    if (n === undefined) throw new TypeError(`sig must be a signal number or a name like 'SIGTERM', got unknown signal ${repr(sig)}`);
    return n;
  }
  if (typeof sig !== 'number') throw new TypeError(`sig must be a signal number or a name like 'SIGTERM', not '${typeName(sig)}'`);
  if (!Number.isInteger(sig) || !isValidSignal(sig)) throw new RangeError(`sig must be a valid signal number, got ${sig} (invalid signal number)`);
  return sig;
}

function checkCallback(callback: unknown, method: string): void {
  if (typeof callback !== 'function') {
    throw new TypeError(`${method}(): callback must be a function, got ${repr(callback)}`);
  }
}

/** An exception context is a dict in Python: here a non-null object (a `message` is optional). */
function checkContext(context: unknown): void {
  if (context === null || typeof context !== 'object') {
    throw new TypeError(`context must be an object like { message, exception }, not '${typeName(context)}'`);
  }
}

function checkFd(fd: unknown): number {
  if (typeof fd !== 'number') throw new TypeError(`fd must be an integer, not '${typeName(fd)}'`);
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new RangeError(`fd must be a non-negative integer file descriptor, got ${fd}`);
  }
  return fd;
}

function debugDefault(): boolean {
  const v = process.env.CHILDWATCH_DEBUG;
  return v !== undefined && v !== '' && v !== '0';
}

interface SignalEntry {
  handle: Handle;
  native: NativeHandle;
}

interface ReaderEntry {
  handle: Handle;
  poll: NativePoll;
  /** The handle sits in the ready queue (the one-shot poll is stopped until it has run). */
  queued: boolean;
}

/** Python's `_run_until_complete_cb`: stop the loop the future belongs to. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function runUntilCompleteCb(fut: Future<any>): void {
  fut.getLoop().stop();
}

/**
 * The Unix event loop (Python's _UnixSelectorEventLoop), built on Node's own loop: see the top
 * of this file.
 */
export class SelectorEventLoop extends AbstractEventLoop {
  private _closed = false;
  private _stopping = false;
  private _running = false;
  private _ready = new Deque<Handle>();
  private _scheduled: TimerHandle[] = [];
  private _timerCancelledCount = 0;
  private _exceptionHandler: ExceptionHandler | null = null;
  private _debug: boolean;
  /** Debug mode: a callback running longer than this (seconds) is logged. */
  slowCallbackDuration = 0.1;
  /** The handle being run (debug mode), for "handle_traceback". */
  private _currentHandle: Handle | null = null;

  /** Node handles driving the iterations while running. */
  private _immediate: NodeJS.Immediate | null = null;
  private _nodeTimer: NodeJS.Timeout | null = null;
  private _nodeTimerWhen = Infinity;
  private _keepAlive: NodeJS.Timeout | null = null;
  private _inIteration = false;
  private _resolveRun: (() => void) | null = null;
  private readonly _runOnceBound = (): void => this._runOnce();
  private readonly _onTimerCancelled = (h: TimerHandle): void => {
    if (h._scheduled) this._timerCancelledCount++;
  };

  private _signalHandlers = new Map<number, SignalEntry>();
  private _readers = new Map<number, ReaderEntry>();

  constructor() {
    super();
    this._debug = debugDefault();
    loopId(this);
  }

  /** `<SelectorEventLoop running=false closed=false debug=false>` */
  override toString(): string {
    return `<${this.constructor.name} running=${this.isRunning()} closed=${this.isClosed()} debug=${this.getDebug()}>`;
  }

  /** `util.inspect` shows `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }

  // ----- running and stopping ------------------------------------------------------------------

  private _checkClosed(): void {
    if (this._closed) throw new RuntimeError('Event loop is closed');
  }

  private _checkRunning(): void {
    if (this.isRunning()) throw new RuntimeError('This event loop is already running');
    if (_getRunningLoop() !== null) {
      throw new RuntimeError('Cannot run the event loop while another loop is running');
    }
  }

  /**
   * Run until stop() is called. The loop is running as soon as this returns (the promise
   * resolves after the iteration in which stop() was called). Rejects with RuntimeError if the
   * loop is closed or a loop already runs in this thread.
   */
  override runForever(): Promise<void> {
    try {
      this._checkClosed();
      this._checkRunning();
    } catch (exc) {
      return Promise.reject(exc);
    }
    return new Promise<void>((resolve) => {
      this._running = true;
      this._resolveRun = resolve;
      _setRunningLoop(this);
      // A running loop keeps Node alive, like Python's blocking run_forever(): a signal or a
      // reader may still come. One ref'd handle does it; the timers below are unref'd.
      this._keepAlive = setInterval(() => {}, 0x7fffffff);
      if (this._debug) logger.debug(`${this.toString()} starts running`);
      _notifyLoopListeners(this, 'running');
      // The first iteration runs whatever is ready (or, if stop() was called before, just
      // one iteration, as asyncio does).
      this._armImmediate();
    });
  }

  /**
   * Run until `future` is done and return its result (or throw its exception). A function is
   * called once the loop runs (in its first iteration: getRunningLoop() is this loop inside it)
   * and its promise is followed; a promise is wrapped in a Task. RuntimeError('Event loop
   * stopped before Future completed.') if stop() ends the run first.
   */
  override runUntilComplete<T>(future: Promise<T> | PromiseLike<T> | (() => PromiseLike<T>)): Promise<T> {
    let fut: Future<T>;
    try {
      this._checkClosed();
      this._checkRunning();
      if (isFuture(future)) {
        if (future.getLoop() !== this) {
          throw new RangeError('The future belongs to a different loop than the one specified as the loop argument');
        }
        fut = future as Future<T>;
      } else {
        if (typeof future !== 'function' && (future === null || typeof future !== 'object' ||
            typeof (future as PromiseLike<T>).then !== 'function')) {
          throw new TypeError(`future must be a Future, a promise or an async function, not '${typeName(future)}'`);
        }
        fut = this.createTask(future as TaskWork<T>);
      }
    } catch (exc) {
      return Promise.reject(exc);
    }
    fut.addDoneCallback(runUntilCompleteCb);
    return this.runForever().then(() => {
      fut.removeDoneCallback(runUntilCompleteCb);
      if (!fut.done()) throw new RuntimeError('Event loop stopped before Future completed.');
      return fut.result();
    });
  }

  /**
   * Stop running: every callback already scheduled still runs; the loop stops at the end of the
   * current (or next) iteration. Called while not running, the next run does one iteration.
   */
  override stop(): void {
    this._stopping = true;
    this._reschedule();
  }

  override isRunning(): boolean {
    return this._running;
  }

  override isClosed(): boolean {
    return this._closed;
  }

  /**
   * Close the loop: drop pending callbacks and timers, remove its signal handlers and readers.
   * Idempotent. RuntimeError("Cannot close a running event loop") while it runs.
   */
  override close(): void {
    if (this.isRunning()) throw new RuntimeError('Cannot close a running event loop');
    if (this._closed) return;
    if (this._debug) logger.debug(`Close ${this.toString()}`);
    for (const sig of [...this._signalHandlers.keys()]) this.removeSignalHandler(sig);
    for (const fd of [...this._readers.keys()]) this.removeReader(fd);
    this._closed = true;
    this._ready.clear();
    for (const t of this._scheduled) t._scheduled = false;
    this._scheduled = [];
    this._timerCancelledCount = 0;
    this._clearNodeHandles();
    _notifyLoopListeners(this, 'closed');
  }

  /** Monotonic seconds (performance.now()). */
  override time(): number {
    return performance.now() / 1000;
  }

  // ----- iterations ----------------------------------------------------------------------------

  private _armImmediate(): void {
    if (this._nodeTimer !== null) {
      clearTimeout(this._nodeTimer);
      this._nodeTimer = null;
      this._nodeTimerWhen = Infinity;
    }
    if (this._immediate === null) this._immediate = setImmediate(this._runOnceBound);
  }

  /**
   * Make sure the next iteration is scheduled: at once if something is ready (or stop() was
   * called), else at the earliest timer, else not at all (a callSoon, a signal or a reader
   * will call this again). Nothing is scheduled while not running or inside an iteration (the
   * iteration reschedules at its end).
   */
  private _reschedule(): void {
    if (!this._running || this._inIteration || this._hostDelivery) return;
    if (this._ready.length > 0 || this._stopping) {
      this._armImmediate();
      return;
    }
    if (this._immediate !== null) return;
    // Drop cancelled timers from the head: they must not wake us.
    while (this._scheduled.length > 0 && this._scheduled[0]._cancelled) {
      this._timerCancelledCount--;
      heapPop(this._scheduled)!._scheduled = false;
    }
    if (this._scheduled.length === 0) {
      if (this._nodeTimer !== null) {
        clearTimeout(this._nodeTimer);
        this._nodeTimer = null;
        this._nodeTimerWhen = Infinity;
      }
      return;
    }
    const when = this._scheduled[0]._when;
    if (this._nodeTimer !== null && this._nodeTimerWhen === when) return;
    if (this._nodeTimer !== null) clearTimeout(this._nodeTimer);
    const delay = Math.min(Math.max(0, when - this.time()), MAXIMUM_SELECT_TIMEOUT);
    if (delay <= 0) {
      this._nodeTimer = null;
      this._nodeTimerWhen = Infinity;
      this._armImmediate();
      return;
    }
    // Node's timers may fire a little early against performance.now() (libuv's cached,
    // millisecond clock): an early wake-up finds nothing due and re-arms.
    this._nodeTimerWhen = when;
    this._nodeTimer = setTimeout(() => {
      this._nodeTimer = null;
      this._nodeTimerWhen = Infinity;
      this._runOnce();
    }, Math.max(1, Math.ceil(delay * 1000)));
    this._nodeTimer.unref();
  }

  /** Python's `_run_once`: one full iteration. */
  private _runOnce(): void {
    this._immediate = null;
    if (!this._running) return;
    this._inIteration = true;
    try {
      this._purgeCancelledTimers();
      // Move the timers that are due to the ready queue (no clock read without timers: an
      // iteration per child exit is common, and time() is a call into Node).
      const endTime = this._scheduled.length > 0 ? this.time() + CLOCK_RESOLUTION : 0;
      while (this._scheduled.length > 0) {
        const top = this._scheduled[0];
        if (top._when >= endTime) break;
        heapPop(this._scheduled);
        top._scheduled = false;
        top._onCancel = null;
        this._ready.push(top);
      }
      // Run only what is ready now; callbacks added meanwhile run in the next iteration.
      const ntodo = this._ready.length;
      for (let i = 0; i < ntodo; i++) {
        const handle = this._ready.shift()!;
        if (handle._cancelled) continue;
        this._runHandle(handle);
      }
    } finally {
      this._inIteration = false;
    }
    if (this._stopping) {
      this._finishRun();
    } else {
      this._reschedule();
    }
  }

  private _runHandle(handle: Handle): void {
    if (!this._debug) {
      handle._run();
      return;
    }
    this._currentHandle = handle;
    const t0 = this.time();
    try {
      handle._run();
    } finally {
      this._currentHandle = null;
    }
    const dt = this.time() - t0;
    if (dt >= this.slowCallbackDuration) {
      logger.warning(`Executing ${handle.toString()} took ${dt.toFixed(3)} seconds`);
    }
  }

  private _purgeCancelledTimers(): void {
    const count = this._scheduled.length;
    if (count > MIN_SCHEDULED_TIMER_HANDLES &&
        this._timerCancelledCount / count > MIN_CANCELLED_TIMER_HANDLES_FRACTION) {
      const kept: TimerHandle[] = [];
      for (const h of this._scheduled) {
        if (h._cancelled) h._scheduled = false;
        else kept.push(h);
      }
      for (let i = (kept.length >> 1) - 1; i >= 0; i--) heapify(kept, i);
      this._scheduled = kept;
      this._timerCancelledCount = 0;
    } else {
      while (this._scheduled.length > 0 && this._scheduled[0]._cancelled) {
        this._timerCancelledCount--;
        heapPop(this._scheduled)!._scheduled = false;
      }
    }
  }

  private _clearNodeHandles(): void {
    if (this._immediate !== null) {
      clearImmediate(this._immediate);
      this._immediate = null;
    }
    if (this._nodeTimer !== null) {
      clearTimeout(this._nodeTimer);
      this._nodeTimer = null;
      this._nodeTimerWhen = Infinity;
    }
    if (this._keepAlive !== null) {
      clearInterval(this._keepAlive);
      this._keepAlive = null;
    }
  }

  /** End of runForever: the loop stops running, keeps nothing alive, and the promise resolves. */
  private _finishRun(): void {
    this._stopping = false;
    this._running = false;
    if (_getRunningLoop() === this) _setRunningLoop(null);
    this._clearNodeHandles();
    const resolve = this._resolveRun;
    this._resolveRun = null;
    if (this._debug) logger.debug(`${this.toString()} stopped running`);
    _notifyLoopListeners(this, 'stopped');
    resolve?.();
  }

  // ----- scheduling ----------------------------------------------------------------------------

  /**
   * Arrange for `cb(...args)` to be called in the next iteration. FIFO: callbacks run in the
   * order they were registered, each exactly once (unless cancelled).
   */
  override callSoon<A extends unknown[]>(cb: (...args: A) => unknown, ...args: A): Handle {
    this._checkClosed();
    checkCallback(cb, 'callSoon');
    return this._callSoon(cb as AnyCallback, args);
  }

  private _callSoon(cb: AnyCallback, args: unknown[]): Handle {
    const handle = new Handle(cb, args, this);
    this._ready.push(handle);
    this._reschedule();
    return handle;
  }

  /**
   * callSoon that also wakes the loop. JavaScript objects never cross threads: "thread-safe"
   * here means callable from the native addon's callbacks, which arrive on this thread from its
   * own threads (waiter threads, uv handles); waking the loop is scheduling its next iteration.
   */
  override callSoonThreadsafe<A extends unknown[]>(cb: (...args: A) => unknown, ...args: A): Handle {
    this._checkClosed();
    checkCallback(cb, 'callSoonThreadsafe');
    return this._callSoon(cb as AnyCallback, args);
  }

  /**
   * The native host (a pidfd, a waiter thread, SIGCHLD) has just queued callbacks here with
   * callSoonThreadsafe, from its own uv callback, outside any iteration: run the iteration that
   * the setImmediate would have run (the same callbacks, in the same order) now, one libuv phase
   * sooner. Nothing happens inside an iteration or when none is scheduled. Internal: called by
   * the watcher runtime (ts-bindings/watchers/runtime.ts) after a host event's dispatch, and by
   * the loop's own signal handling.
   */
  _iterateNowForHost(): void {
    this._hostDelivery = false;
    if (!this._running || this._inIteration) return;
    if (this._ready.length === 0 && !this._stopping) {
      this._reschedule();
      return;
    }
    if (this._immediate !== null) clearImmediate(this._immediate);
    this._runOnce();
  }

  /**
   * Set by the watcher runtime before it queues a host event's deliveries here, which it follows
   * with `_iterateNowForHost()` (in a finally): meanwhile no setImmediate is armed for them.
   */
  _hostDelivery = false;

  /** Call `cb(...args)` after `delaySeconds` (on the loop's time() clock). */
  override callLater<A extends unknown[]>(delaySeconds: number, cb: (...args: A) => unknown, ...args: A): TimerHandle {
    if (typeof delaySeconds !== 'number') {
      throw new TypeError(`delay must be a number, not '${typeName(delaySeconds)}'`);
    }
    if (Number.isNaN(delaySeconds)) throw new RangeError('delay must not be NaN');
    return this.callAt(this.time() + delaySeconds, cb, ...args);
  }

  /** Call `cb(...args)` at time `when` (a value of time()). */
  override callAt<A extends unknown[]>(when: number, cb: (...args: A) => unknown, ...args: A): TimerHandle {
    if (typeof when !== 'number') throw new TypeError(`when must be a number, not '${typeName(when)}'`);
    if (Number.isNaN(when)) throw new RangeError('when must not be NaN');
    this._checkClosed();
    checkCallback(cb, 'callAt');
    const timer = new TimerHandle(when, cb as AnyCallback, args, this);
    timer._onCancel = this._onTimerCancelled;
    heapPush(this._scheduled, timer);
    timer._scheduled = true;
    this._reschedule();
    return timer;
  }

  override createFuture<T>(): Future<T> {
    return new Future<T>({ loop: this });
  }

  /**
   * Run `work` as a Task: a function is called in the next iteration of this loop; a promise is
   * followed at once. RuntimeError('Event loop is closed') on a closed loop.
   */
  override createTask<T>(work: TaskWork<T>, options?: { name?: string }): Task<T> {
    this._checkClosed();
    return new Task<T>(work, { loop: this, name: options?.name });
  }

  // ----- signals -------------------------------------------------------------------------------

  /**
   * Call `cb(...args)` on this loop whenever signal `sig` arrives (one handler per signal and
   * loop; adding again replaces it). Main thread only, as in Python. Implemented with one
   * uv_signal_t of the native addon per (loop, signal), so handlers of several loops and Node's
   * own `process.on(sig)` listeners all receive the signal. The signal only queues the handle;
   * it runs in an iteration of the loop (later, if the loop is not running).
   */
  override addSignalHandler<A extends unknown[]>(sig: number | NodeJS.Signals, cb: (...args: A) => unknown, ...args: A): void {
    checkCallback(cb, 'addSignalHandler');
    const signum = _checkSignal(sig);
    this._checkClosed();
    if (!isMainThread) {
      // Python: signal.set_wakeup_fd() raises ValueError outside the main thread, re-raised as
      // RuntimeError.
      throw new RuntimeError('addSignalHandler() only works in the main thread (set_wakeup_fd only works in main thread of the main interpreter)');
    }
    if (signum === SIGKILL || signum === SIGSTOP) throw new RuntimeError(`sig ${signum} cannot be caught`);
    const handle = new Handle(cb as AnyCallback, args, this);
    const existing = this._signalHandlers.get(signum);
    if (existing !== undefined) {
      // Replace the callback, keep the subscription: no signal is lost in between.
      existing.handle = handle;
      return;
    }
    const native = addon.signalSubscribe(signum, () => this._handleSignal(signum));
    if (typeof native === 'number') {
      if (native === -EINVAL) throw new RuntimeError(`sig ${signum} cannot be caught`);
      throw new RuntimeError(`cannot subscribe to signal ${signum}: ${addon.errname(-native)}`);
    }
    this._signalHandlers.set(signum, { handle, native });
  }

  /** The uv_signal callback: queue the handler's handle (Python's `_handle_signal`). */
  private _handleSignal(signum: number): void {
    const entry = this._signalHandlers.get(signum);
    if (entry === undefined || this._closed) return; // A race with removal: ignore.
    if (entry.handle._cancelled) {
      this.removeSignalHandler(signum);
      return;
    }
    this._ready.push(entry.handle);
    // From libuv's own callback, outside every iteration: run the iteration now rather than
    // after a setImmediate (Safe's and Fast's SIGCHLD; same handlers, same order).
    this._iterateNowForHost();
  }

  /** Remove the handler of `sig`: true if there was one. */
  override removeSignalHandler(sig: number | NodeJS.Signals): boolean {
    const signum = _checkSignal(sig);
    const entry = this._signalHandlers.get(signum);
    if (entry === undefined) return false;
    this._signalHandlers.delete(signum);
    // Closing the uv_signal_t: libuv restores the default disposition once no handle (ours,
    // another loop's or Node's process.on) watches the signal any more.
    entry.native.close();
    return true;
  }

  // ----- readers -------------------------------------------------------------------------------

  /**
   * Call `cb(...args)` on this loop while `fd` is readable (level-triggered, like a selector:
   * once per iteration as long as the callback leaves data unread). One reader per fd and loop;
   * adding again replaces the callback. The fd stays the caller's: removeReader never closes it.
   */
  override addReader<A extends unknown[]>(fd: number, cb: (...args: A) => unknown, ...args: A): void {
    const fdn = checkFd(fd);
    checkCallback(cb, 'addReader');
    this._checkClosed();
    const handle = new Handle(cb as AnyCallback, args, this);
    const existing = this._readers.get(fdn);
    if (existing !== undefined) {
      existing.handle.cancel();
      existing.handle = handle;
      if (existing.queued) {
        // The old handle was queued and is now cancelled: re-arm so the new one is told.
        existing.queued = false;
        existing.poll.restart();
      }
      return;
    }
    // One-shot poll: the poll stops before each callback and is restarted after the reader's
    // handle has run. So one readiness queues one handle; while the loop is stopped nothing
    // more is queued, and a stopped loop never makes Node spin on a readable fd.
    const poll = addon.pollFd(fdn, true, false, () => this._handleReadable(fdn));
    if (typeof poll === 'number') {
      throw Object.assign(new Error(`${addon.errname(-poll)}: cannot watch fd ${fdn}`), {
        code: addon.errname(-poll), errno: -poll, syscall: 'uv_poll_init',
      });
    }
    this._readers.set(fdn, { handle, poll, queued: false });
  }

  private _handleReadable(fd: number): void {
    const entry = this._readers.get(fd);
    if (entry === undefined || entry.queued || this._closed) return;
    entry.queued = true;
    const handle = entry.handle;
    // The queued handle runs the callback, then re-arms the poll if this reader is still the
    // registered one.
    const wrapper = new Handle(() => {
      entry.queued = false;
      if (this._readers.get(fd) !== entry || entry.handle !== handle || handle._cancelled) return;
      try {
        handle._run();
      } finally {
        if (this._readers.get(fd) === entry) entry.poll.restart();
      }
    }, [], this);
    this._ready.push(wrapper);
    this._reschedule();
  }

  /** Stop watching `fd`: true if a reader was registered. Does not close the fd. */
  override removeReader(fd: number): boolean {
    const fdn = checkFd(fd);
    const entry = this._readers.get(fdn);
    if (entry === undefined) return false;
    this._readers.delete(fdn);
    entry.handle.cancel();
    entry.poll.close();
    return true;
  }

  // ----- subprocesses --------------------------------------------------------------------------

  /**
   * Python's loop.subprocess_exec: spawn `program` with `args`, connect its pipes to the
   * protocol made by `protocolFactory`. Implemented by the subprocess layer
   * (`loopSubprocessExec` in ./subprocess/index.ts), loaded on first use.
   */
  override async subprocessExec<P extends SubprocessProtocol>(protocolFactory: () => P, program: string,
    args: string[] = [], options: SubprocessOptions = {}): Promise<[SubprocessTransport, P]> {
    this._checkClosed();
    const impl = await loadSubprocessLayer();
    if (typeof impl.loopSubprocessExec !== 'function') {
      throw new NotImplementedError('loop.subprocessExec: the subprocess layer is not available');
    }
    return impl.loopSubprocessExec(this, protocolFactory, program, args, options) as Promise<[SubprocessTransport, P]>;
  }

  /** Python's loop.subprocess_shell: `/bin/sh -c cmd`. */
  override async subprocessShell<P extends SubprocessProtocol>(protocolFactory: () => P, cmd: string,
    options: SubprocessOptions = {}): Promise<[SubprocessTransport, P]> {
    this._checkClosed();
    const impl = await loadSubprocessLayer();
    if (typeof impl.loopSubprocessShell !== 'function') {
      throw new NotImplementedError('loop.subprocessShell: the subprocess layer is not available');
    }
    return impl.loopSubprocessShell(this, protocolFactory, cmd, options) as Promise<[SubprocessTransport, P]>;
  }

  // ----- errors and debug ----------------------------------------------------------------------

  override setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null && typeof handler !== 'function') {
      throw new TypeError(`handler must be a function or null, got ${repr(handler)}`);
    }
    this._exceptionHandler = handler;
  }

  override getExceptionHandler(): ExceptionHandler | null {
    return this._exceptionHandler;
  }

  /**
   * Log the context through the logger (CPython logs it at error level on the 'asyncio'
   * logger; ours has warning and debug only): the message, the other keys sorted as `key:
   * repr`, then the exception's stack.
   */
  override defaultExceptionHandler(context: ExceptionContext): void {
    checkContext(context);
    const message = context.message || 'Unhandled exception in event loop';
    const exception = context.exception;
    if (!('source_traceback' in context) && this._currentHandle?._sourceTraceback) {
      context.handle_traceback = this._currentHandle._sourceTraceback;
    }
    const lines = [message];
    for (const key of Object.keys(context).sort()) {
      if (key === 'message' || key === 'exception') continue;
      let value: string;
      if (key === 'source_traceback') value = `Object created at (most recent call last):\n${String(context[key])}`;
      else if (key === 'handle_traceback') value = `Handle created at (most recent call last):\n${String(context[key])}`;
      else value = repr(context[key]);
      lines.push(`${key}: ${value}`);
    }
    if (exception !== undefined && exception !== null) lines.push(formatException(exception));
    logger.warning(lines.join('\n'));
  }

  /**
   * Call the exception handler set with setExceptionHandler as `handler(loop, context)`, or the
   * default one. Never throws: an error in a custom handler is reported through the default
   * handler ('Unhandled error in exception handler'), an error there is logged.
   */
  override callExceptionHandler(context: ExceptionContext): void {
    checkContext(context);
    if (this._exceptionHandler === null) {
      try {
        this.defaultExceptionHandler(context);
      } catch (exc) {
        // Second protection layer, for subclasses that override defaultExceptionHandler.
        safeLog(`Exception in default exception handler\n${formatException(exc)}`);
      }
      return;
    }
    try {
      this._exceptionHandler(this, context);
    } catch (exc) {
      try {
        this.defaultExceptionHandler({
          message: 'Unhandled error in exception handler',
          exception: exc,
          context,
        });
      } catch (exc2) {
        safeLog('Exception in default exception handler while handling an unexpected error ' +
          `in custom exception handler\n${formatException(exc2)}`);
      }
    }
  }

  override getDebug(): boolean {
    return this._debug;
  }

  override setDebug(enabled: boolean): void {
    this._debug = Boolean(enabled);
  }
}

function formatException(exc: unknown): string {
  if (exc instanceof Error && typeof exc.stack === 'string') return exc.stack;
  return repr(exc);
}

function safeLog(msg: string): void {
  try {
    logger.warning(msg);
  } catch {
    // The logger itself failed: nothing is left to report to.
  }
}

interface SubprocessLayer {
  loopSubprocessExec?: (loop: AbstractEventLoop, protocolFactory: () => SubprocessProtocol, program: string,
    args: string[], options: SubprocessOptions) => Promise<[SubprocessTransport, SubprocessProtocol]>;
  loopSubprocessShell?: (loop: AbstractEventLoop, protocolFactory: () => SubprocessProtocol, cmd: string,
    options: SubprocessOptions) => Promise<[SubprocessTransport, SubprocessProtocol]>;
}

/**
 * The subprocess layer imports the loop; the loop reaches it lazily, on the first
 * subprocessExec/subprocessShell, so that neither module needs the other at load time.
 */
async function loadSubprocessLayer(): Promise<SubprocessLayer> {
  return (await import('./subprocess/index.js')) as unknown as SubprocessLayer;
}

// formatCallback is part of this module's vocabulary for other layers' messages.
export { formatCallback };
