// Handle and TimerHandle: Python's asyncio.events.Handle / TimerHandle. A Handle is one
// scheduled call `callback(...args)`; the loop runs it at most once, and cancel() before that
// makes sure it never runs. An exception thrown by the callback never escapes `_run()`: it goes
// to the loop's exception handler as "Exception in callback <cb>(<args>)".
import { inspect } from 'node:util';
import type { AbstractEventLoop } from './loop.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCallback = (...args: any[]) => unknown;

/** Python's `format_helpers._format_callback`: `name(arg1, arg2)` with the args' reprs. */
export function formatCallback(callback: AnyCallback | null, args: readonly unknown[] | null): string {
  if (callback === null) return '<cancelled>';
  const name = callback.name || '<anonymous>';
  const shown = (args ?? []).map((a) => inspect(a, { depth: 1, breakLength: Infinity })).join(', ');
  return `${name}(${shown})`;
}

/** A callback scheduled on a loop (returned by callSoon, addSignalHandler, addReader...). */
export class Handle {
  /** @internal */ _callback: AnyCallback | null;
  /** @internal */ _args: unknown[] | null;
  /** @internal */ _cancelled = false;
  /** @internal */ readonly _loop: AbstractEventLoop;
  /** @internal Debug mode: the stack where the handle was created. */
  _sourceTraceback: string | null = null;
  /** @internal The representation kept after cancel() in debug mode (the callback is dropped). */
  private _repr: string | null = null;

  constructor(callback: AnyCallback, args: unknown[], loop: AbstractEventLoop) {
    this._callback = callback;
    this._args = args;
    this._loop = loop;
    if (loop.getDebug()) {
      this._sourceTraceback = (new Error().stack ?? '').split('\n').slice(2).join('\n');
    }
  }

  /** @internal */
  protected _reprInfo(): string[] {
    const info = [this.constructor.name];
    if (this._cancelled) info.push('cancelled');
    if (this._callback !== null) info.push(formatCallback(this._callback, this._args));
    return info;
  }

  /** `<Handle cancelled f(1, 2)>`, Python's repr. */
  toString(): string {
    if (this._repr !== null) return this._repr;
    return `<${this._reprInfo().join(' ')}>`;
  }

  /** `util.inspect` shows `toString()`. */
  [inspect.custom](): string {
    return this.toString();
  }

  /** Cancel the call: it will not run. Idempotent; releases the callback and its arguments. */
  cancel(): void {
    if (!this._cancelled) {
      this._cancelled = true;
      if (this._loop.getDebug()) {
        // Keep a representation in debug mode, for "Executing <Handle...> took 2.5 seconds".
        this._repr = this.toString();
      }
      this._callback = null;
      this._args = null;
    }
  }

  /** True once `cancel()` was called. */
  cancelled(): boolean {
    return this._cancelled;
  }

  /**
   * Run the callback. Whatever it throws goes to `loop.callExceptionHandler` with the message
   * "Exception in callback ...", never to the caller (Node's loop).
   * @internal
   */
  _run(): void {
    const callback = this._callback;
    const args = this._args;
    if (callback === null) return;
    try {
      callback(...(args ?? []));
    } catch (exc) {
      const context: Record<string, unknown> & { message: string } = {
        message: `Exception in callback ${formatCallback(callback, args)}`,
        exception: exc,
        handle: this,
      };
      if (this._sourceTraceback !== null) context.source_traceback = this._sourceTraceback;
      this._loop.callExceptionHandler(context);
    }
  }
}

let timerSequence = 0;

/** A Handle scheduled for a point in time (callLater / callAt). */
export class TimerHandle extends Handle {
  /** @internal */ readonly _when: number;
  /** @internal Tie-breaker: timers with equal deadlines run in the order they were scheduled. */
  readonly _seq: number = ++timerSequence;
  /** @internal True while the handle sits in the loop's timer heap. */
  _scheduled = false;
  /** @internal Told when a scheduled timer is cancelled (the loop counts them to compact its heap). */
  _onCancel: ((h: TimerHandle) => void) | null = null;

  constructor(when: number, callback: AnyCallback, args: unknown[], loop: AbstractEventLoop) {
    super(callback, args, loop);
    this._when = when;
  }

  protected override _reprInfo(): string[] {
    const info = super._reprInfo();
    info.splice(this._cancelled ? 2 : 1, 0, `when=${this._when}`);
    return info;
  }

  override cancel(): void {
    if (!this._cancelled && this._onCancel !== null) this._onCancel(this);
    super.cancel();
  }

  /** The scheduled time, on the loop's `time()` clock (seconds). */
  when(): number {
    return this._when;
  }
}
