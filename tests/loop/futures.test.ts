// Future and Task: states, CPython's messages, done callbacks on the loop, awaiting, cancellation.
import { describe, it, expect } from '@jest/globals';
import {
  SelectorEventLoop, Future, Task, CancelledError, InvalidStateError, allTasks,
} from '../../ts-bindings/events.js';
import { RuntimeError } from '../../ts-bindings/errors.js';
import { getRunningLoop } from '../../ts-bindings/policy.js';
import { trackedLoops } from './tracked-loops.js';

const newLoop = trackedLoops();

async function spin(loop: SelectorEventLoop, iterations = 3): Promise<void> {
  let n = 0;
  const step = (): void => { if (++n >= iterations) loop.stop(); else loop.callSoon(step); };
  loop.callSoon(step);
  await loop.runForever();
}

describe('Future', () => {
  it('starts pending: result() and exception() raise InvalidStateError with CPython texts', () => {
    const fut = newLoop().createFuture<number>();
    expect(fut).toBeInstanceOf(Future);
    expect(fut.done()).toBe(false);
    expect(fut.cancelled()).toBe(false);
    expect(() => fut.result()).toThrow(new InvalidStateError('Result is not ready.'));
    expect(() => fut.exception()).toThrow(new InvalidStateError('Exception is not set.'));
    expect(String(fut)).toBe('<Future pending>');
  });

  it('setResult finishes it once; a second set is an InvalidStateError', () => {
    const fut = newLoop().createFuture<number>();
    fut.setResult(5);
    expect(fut.done()).toBe(true);
    expect(fut.result()).toBe(5);
    expect(fut.exception()).toBeNull();
    expect(() => fut.setResult(6)).toThrow(InvalidStateError);
    expect(() => fut.setResult(6)).toThrow('FINISHED: <Future finished result=5>');
    expect(() => fut.setException(new Error('x'))).toThrow(InvalidStateError);
    expect(fut.cancel()).toBe(false);
  });

  it('setException makes result() throw it and exception() return it', () => {
    const fut = newLoop().createFuture<number>();
    const err = new TypeError('bad');
    fut.setException(err);
    expect(() => fut.result()).toThrow(err);
    expect(fut.exception()).toBe(err);
  });

  it('cancel() makes result() and exception() throw CancelledError with the message', () => {
    const fut = newLoop().createFuture<number>();
    expect(fut.cancel('why')).toBe(true);
    expect(fut.cancel()).toBe(false);
    expect(fut.cancelled()).toBe(true);
    expect(fut.done()).toBe(true);
    expect(() => fut.result()).toThrow(CancelledError);
    expect(() => fut.exception()).toThrow('why');
    expect(() => fut.setResult(1)).toThrow('CANCELLED: <Future cancelled>');
  });

  it('runs done callbacks on the loop, with the future, only while the loop runs', async () => {
    const loop = newLoop();
    const fut = loop.createFuture<string>();
    const seen: string[] = [];
    fut.addDoneCallback((f) => seen.push(`1:${f.result()}`));
    const cb2 = (): void => { seen.push('removed'); };
    fut.addDoneCallback(cb2);
    fut.addDoneCallback((f) => { expect(f).toBe(fut); expect(getRunningLoop()).toBe(loop); seen.push('3'); });
    expect(fut.removeDoneCallback(cb2)).toBe(1);
    fut.setResult('r');
    expect(seen).toEqual([]); // scheduled with callSoon, not called
    await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([]); // the loop does not run
    await spin(loop);
    expect(seen).toEqual(['1:r', '3']);
    // Added after it is done: scheduled at once, runs in the next iteration.
    fut.addDoneCallback(() => seen.push('late'));
    await spin(loop);
    expect(seen).toEqual(['1:r', '3', 'late']);
  });

  it('is awaitable: resolves with the result, rejects with the exception or CancelledError', async () => {
    const loop = newLoop();
    const a = loop.createFuture<number>();
    const b = loop.createFuture<number>();
    const c = loop.createFuture<number>();
    setTimeout(() => { a.setResult(1); b.setException(new Error('nope')); c.cancel(); }, 1);
    await expect(a).resolves.toBe(1);
    await expect(b).rejects.toThrow('nope');
    await expect(c).rejects.toBeInstanceOf(CancelledError);
    // Already done: await settles too.
    expect(await a).toBe(1);
  });

  it('a new Future() without a loop takes the running loop', async () => {
    const loop = newLoop();
    // (In an array: a Future returned from an async function would be awaited.)
    const [f] = await loop.runUntilComplete(async () => [new Future()]);
    expect(f.getLoop()).toBe(loop);
  });
});

describe('Task', () => {
  it('runs the function in the loop (not before) and finishes with its result', async () => {
    const loop = newLoop();
    let started = false;
    const task = loop.createTask(async () => {
      started = true;
      expect(getRunningLoop()).toBe(loop);
      return 'done';
    });
    expect(task).toBeInstanceOf(Task);
    expect(task).toBeInstanceOf(Future);
    await new Promise((r) => setTimeout(r, 10));
    expect(started).toBe(false);
    expect(await loop.runUntilComplete(task)).toBe('done');
    expect(started).toBe(true);
    expect(task.done()).toBe(true);
    expect(task.result()).toBe('done');
    expect(await task).toBe('done');
  });

  it('finishes with the exception of the work', async () => {
    const loop = newLoop();
    const err = new Error('work failed');
    const task = loop.createTask(async () => { throw err; });
    await expect(loop.runUntilComplete(task)).rejects.toBe(err);
    expect(task.exception()).toBe(err);
  });

  it('follows a promise that is already under way', async () => {
    const loop = newLoop();
    const task = loop.createTask(new Promise<number>((r) => setTimeout(() => r(9), 5)));
    expect(await loop.runUntilComplete(task)).toBe(9);
  });

  it('cancelled before it starts, the work never runs', async () => {
    const loop = newLoop();
    let started = false;
    const task = loop.createTask(async () => { started = true; });
    expect(task.cancel()).toBe(true);
    expect(task.cancelled()).toBe(true);
    await spin(loop);
    expect(started).toBe(false);
    await expect(task).rejects.toBeInstanceOf(CancelledError);
  });

  it('cancelled while running: the task is cancelled at once and whoever awaits it sees CancelledError', async () => {
    const loop = newLoop();
    const never = loop.createFuture<void>();
    const task = loop.createTask(async () => { await never; return 1; });
    const outcome = await loop.runUntilComplete(async () => {
      await new Promise((r) => setTimeout(r, 5)); // the task has started and waits
      expect(task.cancel('stop it')).toBe(true);
      expect(task.cancel()).toBe(false);
      try {
        await task;
        return 'not cancelled';
      } catch (e) {
        return e;
      }
    });
    expect(outcome).toBeInstanceOf(CancelledError);
    expect((outcome as Error).message).toBe('stop it');
    expect(task.cancelled()).toBe(true);
    expect(() => task.result()).toThrow(CancelledError);
  });

  it('work that throws CancelledError leaves the task cancelled', async () => {
    const loop = newLoop();
    const task = loop.createTask(async () => { throw new CancelledError(); });
    await expect(loop.runUntilComplete(task)).rejects.toBeInstanceOf(CancelledError);
    expect(task.cancelled()).toBe(true);
  });

  it("refuses setResult/setException: 'Task does not support set_result operation'", () => {
    const loop = newLoop();
    const task = loop.createTask(async () => 1);
    expect(() => task.setResult(2)).toThrow(new RuntimeError('Task does not support set_result operation'));
    expect(() => task.setException(new Error())).toThrow('Task does not support set_exception operation');
    task.cancel();
  });

  it('runs done callbacks and is listed by allTasks while pending', async () => {
    const loop = newLoop();
    const f = loop.createFuture<number>();
    const task = loop.createTask(async () => (await f) * 2);
    expect(allTasks(loop).has(task as Task<unknown>)).toBe(true);
    const seen: number[] = [];
    task.addDoneCallback((t) => seen.push(t.result()));
    loop.callLater(0.001, () => f.setResult(21));
    await loop.runUntilComplete(task);
    await spin(loop);
    expect(seen).toEqual([42]);
    expect(allTasks(loop).has(task as Task<unknown>)).toBe(false);
  });

  it('rejects work that is neither a promise nor a function with TypeError', () => {
    const loop = newLoop();
    expect(() => loop.createTask(42 as unknown as () => Promise<number>)).toThrow(TypeError);
  });
});
