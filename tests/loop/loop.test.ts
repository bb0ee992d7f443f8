// SelectorEventLoop on top of Node's loop: iterations, FIFO, timers, stop/run, close, one
// running loop per thread, exception routing, loop ids and listeners.
import { describe, it, expect } from '@jest/globals';
import {
  SelectorEventLoop, AbstractEventLoop, Handle, TimerHandle, loopId, loopFromId, addLoopListener,
  type ExceptionContext,
} from '../../ts-bindings/events.js';
import { RuntimeError, NotImplementedError } from '../../ts-bindings/errors.js';
import { getRunningLoop } from '../../ts-bindings/policy.js';
import { setLogger } from '../../ts-bindings/log.js';
import { trackedLoops } from './tracked-loops.js';

const newLoop = trackedLoops(() => setLogger(null));

/** Run the loop until `cb` has been called by something scheduled on it. */
async function runOnceThrough(loop: SelectorEventLoop): Promise<void> {
  loop.callSoon(() => loop.stop());
  await loop.runForever();
}

describe('callSoon and iterations', () => {
  it('runs callbacks in FIFO order with their arguments', async () => {
    const loop = newLoop();
    const seen: unknown[] = [];
    for (let i = 0; i < 10; i++) loop.callSoon((a: number, b: string) => seen.push([a, b]), i, `x${i}`);
    await runOnceThrough(loop);
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => [i, `x${i}`]));
  });

  it('runs callbacks added during an iteration in the next iteration (after stop, they wait)', async () => {
    const loop = newLoop();
    const seen: string[] = [];
    loop.callSoon(() => {
      seen.push('a');
      loop.callSoon(() => seen.push('c')); // next iteration
      loop.stop();                          // stops at the end of this iteration
    });
    loop.callSoon(() => seen.push('b'));
    await loop.runForever();
    expect(seen).toEqual(['a', 'b']);
    // The loop is stopped: nothing runs, the callback is held...
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).toEqual(['a', 'b']);
    // ...and runs when the loop runs again.
    await runOnceThrough(loop);
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('executes nothing while not running', async () => {
    const loop = newLoop();
    let ran = false;
    loop.callSoon(() => { ran = true; });
    loop.callLater(0, () => { ran = true; });
    await new Promise((r) => setTimeout(r, 30));
    expect(ran).toBe(false);
    expect(loop.isRunning()).toBe(false);
  });

  it('skips cancelled handles', async () => {
    const loop = newLoop();
    const seen: number[] = [];
    loop.callSoon(() => seen.push(1));
    const h = loop.callSoon(() => seen.push(2));
    expect(h).toBeInstanceOf(Handle);
    expect(h.cancelled()).toBe(false);
    h.cancel();
    h.cancel();
    expect(h.cancelled()).toBe(true);
    await runOnceThrough(loop);
    expect(seen).toEqual([1]);
  });

  it('stop() before runForever() runs exactly one iteration', async () => {
    const loop = newLoop();
    const seen: number[] = [];
    loop.callSoon(() => { seen.push(1); loop.callSoon(() => seen.push(2)); });
    loop.stop();
    await loop.runForever();
    expect(seen).toEqual([1]);
  });

  it('is running from the moment runForever() is called until the stopping iteration ends', async () => {
    const loop = newLoop();
    const p = loop.runForever();
    expect(loop.isRunning()).toBe(true);
    expect(getRunningLoop()).toBe(loop);
    let inside: AbstractEventLoop | null = null;
    loop.callSoon(() => { inside = getRunningLoop(); loop.stop(); });
    await p;
    expect(inside).toBe(loop);
    expect(loop.isRunning()).toBe(false);
    expect(() => getRunningLoop()).toThrow('no running event loop');
  });

  it('rejects callbacks that are not functions with TypeError', () => {
    const loop = newLoop();
    expect(() => loop.callSoon(42 as unknown as () => void)).toThrow(TypeError);
    expect(() => loop.callLater(1, 'x' as unknown as () => void)).toThrow(TypeError);
    expect(() => loop.callLater('1' as unknown as number, () => {})).toThrow(TypeError);
  });

  it('callSoonThreadsafe wakes an idle running loop', async () => {
    const loop = newLoop();
    const p = loop.runForever();
    // The loop is idle (nothing ready, no timer); a call from outside its iterations wakes it.
    await new Promise((r) => setTimeout(r, 10));
    setTimeout(() => loop.callSoonThreadsafe((v: number) => { expect(v).toBe(7); loop.stop(); }, 7), 5);
    await p;
    expect(loop.isRunning()).toBe(false);
  });
});

describe('timers', () => {
  it('runs timers by deadline, equal deadlines in scheduling order', async () => {
    const loop = newLoop();
    const seen: string[] = [];
    const t0 = loop.time();
    loop.callAt(t0 + 0.03, () => { seen.push('30'); loop.stop(); });
    loop.callAt(t0 + 0.01, () => seen.push('10a'));
    loop.callAt(t0 + 0.01, () => seen.push('10b'));
    loop.callLater(0.02, () => seen.push('20'));
    loop.callLater(-1, () => seen.push('past'));
    await loop.runForever();
    expect(seen).toEqual(['past', '10a', '10b', '20', '30']);
  });

  it('never runs a timer before its deadline', async () => {
    const loop = newLoop();
    let at = 0;
    const h = loop.callLater(0.02, () => { at = loop.time(); loop.stop(); });
    expect(h).toBeInstanceOf(TimerHandle);
    await loop.runForever();
    expect(at).toBeGreaterThanOrEqual(h.when());
  });

  it('does not run cancelled timers, also after many cancellations', async () => {
    const loop = newLoop();
    const seen: number[] = [];
    const handles = [];
    for (let i = 0; i < 300; i++) handles.push(loop.callLater(0.001 * (i % 7), () => seen.push(i)));
    for (let i = 0; i < 300; i++) if (i % 3 !== 0) handles[i].cancel();
    loop.callLater(0.02, () => loop.stop());
    await loop.runForever();
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i * 3));
  });

  it('holds due timers while stopped and runs them on the next run', async () => {
    const loop = newLoop();
    let fired = false;
    loop.callLater(0.001, () => { fired = true; });
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(false);
    await runOnceThrough(loop);
    expect(fired).toBe(true);
  });

  it('time() is monotonic seconds', () => {
    const loop = newLoop();
    const a = loop.time();
    const b = loop.time();
    expect(typeof a).toBe('number');
    expect(b).toBeGreaterThanOrEqual(a);
    expect(Math.abs(a - performance.now() / 1000)).toBeLessThan(1);
  });
});

describe('runUntilComplete', () => {
  it('calls a function once the loop runs and resolves with its result', async () => {
    const loop = newLoop();
    let called = false;
    const p = loop.runUntilComplete(async () => {
      called = true;
      expect(getRunningLoop()).toBe(loop);
      const f = loop.createFuture<number>();
      loop.callLater(0.005, () => f.setResult(41));
      return (await f) + 1;
    });
    expect(called).toBe(false); // not yet: it runs in the loop's first iteration
    await expect(p).resolves.toBe(42);
    expect(loop.isRunning()).toBe(false);
  });

  it('rejects with the error of the work', async () => {
    const loop = newLoop();
    await expect(loop.runUntilComplete(async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(loop.isRunning()).toBe(false);
  });

  it('accepts a future of the loop and a plain promise', async () => {
    const loop = newLoop();
    const fut = loop.createFuture<string>();
    loop.callSoon(() => fut.setResult('ok'));
    await expect(loop.runUntilComplete(fut)).resolves.toBe('ok');
    await expect(loop.runUntilComplete(Promise.resolve(5))).resolves.toBe(5);
  });

  it("rejects with 'Event loop stopped before Future completed.' when stopped first", async () => {
    const loop = newLoop();
    const fut = loop.createFuture();
    loop.callSoon(() => loop.stop());
    const err = (await loop.runUntilComplete(fut).catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.message).toBe('Event loop stopped before Future completed.');
  });
});

describe('one running loop per thread', () => {
  it("rejects running a loop twice: 'This event loop is already running'", async () => {
    const loop = newLoop();
    await loop.runUntilComplete(async () => {
      const err = await loop.runForever().catch((e) => e);
      expect(err).toBeInstanceOf(RuntimeError);
      expect(err.message).toBe('This event loop is already running');
      await expect(loop.runUntilComplete(async () => 1)).rejects.toThrow('This event loop is already running');
    });
  });

  it("rejects running a second loop: 'Cannot run the event loop while another loop is running'", async () => {
    const loop = newLoop();
    const other = newLoop();
    await loop.runUntilComplete(async () => {
      const err = await other.runForever().catch((e) => e);
      expect(err).toBeInstanceOf(RuntimeError);
      expect(err.message).toBe('Cannot run the event loop while another loop is running');
    });
    // Once the first has stopped, the second may run.
    await expect(other.runUntilComplete(async () => 'second')).resolves.toBe('second');
  });
});

describe('close', () => {
  it("refuses to close a running loop: 'Cannot close a running event loop'", async () => {
    const loop = newLoop();
    await loop.runUntilComplete(async () => {
      expect(() => loop.close()).toThrow(new RuntimeError('Cannot close a running event loop'));
    });
  });

  it("after close: 'Event loop is closed' for scheduling and running; close is idempotent", async () => {
    const loop = newLoop();
    let ran = false;
    loop.callSoon(() => { ran = true; });
    loop.close();
    loop.close();
    expect(loop.isClosed()).toBe(true);
    const msg = 'Event loop is closed';
    expect(() => loop.callSoon(() => {})).toThrow(msg);
    expect(() => loop.callSoonThreadsafe(() => {})).toThrow(msg);
    expect(() => loop.callLater(1, () => {})).toThrow(msg);
    expect(() => loop.callAt(1, () => {})).toThrow(msg);
    expect(() => loop.createTask(async () => 1)).toThrow(msg);
    expect(() => loop.addSignalHandler('SIGUSR2', () => {})).toThrow(msg);
    expect(() => loop.addReader(0, () => {})).toThrow(msg);
    const err = await loop.runForever().catch((e) => e);
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.message).toBe(msg);
    await expect(loop.runUntilComplete(async () => 1)).rejects.toThrow(msg);
    expect(ran).toBe(false);
  });
});

describe('exception handling', () => {
  it('routes a throwing callback to the handler as handler(loop, context), and keeps running', async () => {
    const loop = newLoop();
    const contexts: [AbstractEventLoop, ExceptionContext][] = [];
    loop.setExceptionHandler((l, ctx) => contexts.push([l, ctx]));
    const boom = new Error('boom');
    let after = false;
    function failing(_x: number): void { throw boom; }
    const h = loop.callSoon(failing, 3);
    loop.callSoon(() => { after = true; });
    await runOnceThrough(loop);
    expect(after).toBe(true);
    expect(contexts).toHaveLength(1);
    const [l, ctx] = contexts[0];
    expect(l).toBe(loop);
    expect(ctx.exception).toBe(boom);
    expect(ctx.message).toBe('Exception in callback failing(3)');
    expect(ctx.handle).toBe(h);
  });

  it('getExceptionHandler returns the handler; null restores the default; non-callables are a TypeError', () => {
    const loop = newLoop();
    expect(loop.getExceptionHandler()).toBeNull();
    const handler = (): void => {};
    loop.setExceptionHandler(handler);
    expect(loop.getExceptionHandler()).toBe(handler);
    loop.setExceptionHandler(null);
    expect(loop.getExceptionHandler()).toBeNull();
    expect(() => loop.setExceptionHandler(42 as unknown as null)).toThrow(TypeError);
    expect(() => loop.setExceptionHandler('x' as unknown as null)).toThrow("handler must be a function or null, got 'x'");
  });

  it('the default handler logs the message, the context and the stack through the logger', async () => {
    const loop = newLoop();
    const warnings: string[] = [];
    setLogger({ warning: (m) => warnings.push(m), debug: () => {} });
    loop.callSoon(function thrower() { throw new Error('kaput'); });
    await runOnceThrough(loop);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^Exception in callback thrower\(\)\nhandle: <Handle thrower\(\)>\nError: kaput\n\s+at /);
  });

  it("an error in the custom handler goes to the default one as 'Unhandled error in exception handler'", () => {
    const loop = newLoop();
    const warnings: string[] = [];
    setLogger({ warning: (m) => warnings.push(m), debug: () => {} });
    loop.setExceptionHandler(() => { throw new Error('handler broke'); });
    loop.callExceptionHandler({ message: 'original', exception: new Error('first') });
    expect(warnings).toHaveLength(1);
    expect(warnings[0].split('\n')[0]).toBe('Unhandled error in exception handler');
    expect(warnings[0]).toContain("message: 'original'");
    expect(warnings[0]).toContain('handler broke');
  });

  it('uses a default message when the context has none', () => {
    const loop = newLoop();
    const warnings: string[] = [];
    setLogger({ warning: (m) => warnings.push(m), debug: () => {} });
    loop.defaultExceptionHandler({ message: '' });
    expect(warnings).toEqual(['Unhandled exception in event loop']);
  });
});

describe('debug', () => {
  it('is off by default and can be set', () => {
    const loop = newLoop();
    expect(loop.getDebug()).toBe(false);
    loop.setDebug(true);
    expect(loop.getDebug()).toBe(true);
  });

  it('logs slow callbacks in debug mode', async () => {
    const loop = newLoop();
    loop.setDebug(true);
    loop.slowCallbackDuration = 0;
    const warnings: string[] = [];
    setLogger({ warning: (m) => warnings.push(m), debug: () => {} });
    loop.callSoon(function slow() {});
    await runOnceThrough(loop);
    expect(warnings.some((w) => /^Executing <Handle slow\(\)> took \d+\.\d{3} seconds$/.test(w))).toBe(true);
  });
});

describe('loop registry and listeners', () => {
  it('gives every loop a distinct positive id and finds the loop by it', () => {
    const a = newLoop();
    const b = newLoop();
    expect(loopId(a)).toBeGreaterThan(0);
    expect(loopId(a)).not.toBe(loopId(b));
    expect(loopId(a)).toBe(loopId(a));
    expect(loopFromId(loopId(a))).toBe(a);
    expect(loopFromId(0)).toBeUndefined();
    expect(loopFromId(987654321)).toBeUndefined();
  });

  it('tells listeners when a loop starts running, stops and is closed', async () => {
    const loop = newLoop();
    const events: string[] = [];
    const off = addLoopListener(loop, (l, e) => { expect(l).toBe(loop); events.push(`${e}:${l.isRunning()}`); });
    const anyEvents: string[] = [];
    const offAll = addLoopListener(null, (l, e) => { if (l === loop) anyEvents.push(e); });
    await runOnceThrough(loop);
    loop.close();
    off();
    offAll();
    expect(events).toEqual(['running:true', 'stopped:false', 'closed:false']);
    expect(anyEvents).toEqual(['running', 'stopped', 'closed']);
  });
});

describe('AbstractEventLoop', () => {
  it('throws NotImplementedError from its methods', () => {
    class Bare extends AbstractEventLoop {}
    const bare = new Bare();
    expect(() => bare.callSoon(() => {})).toThrow(NotImplementedError);
    expect(() => bare.isRunning()).toThrow(NotImplementedError);
    expect(() => bare.time()).toThrow(NotImplementedError);
    expect(() => bare.runForever()).toThrow(NotImplementedError);
    expect(new SelectorEventLoop()).toBeInstanceOf(AbstractEventLoop);
  });
});
