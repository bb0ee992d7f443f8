// The policy API on the main thread (jest runs test files in child processes, on their main
// thread): DefaultEventLoopPolicy's rules, the module functions, run(), custom policies, Windows
// policies, TypeErrors. Worker threads: policy-worker.test.ts.
import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import {
  AbstractEventLoopPolicy, DefaultEventLoopPolicy, WindowsSelectorEventLoopPolicy,
  WindowsProactorEventLoopPolicy, getEventLoopPolicy, setEventLoopPolicy, getEventLoop, setEventLoop,
  newEventLoop, getRunningLoop, getChildWatcher, setChildWatcher, run,
} from '../../ts-bindings/policy.js';
import { AbstractEventLoop, SelectorEventLoop, CancelledError, type Task } from '../../ts-bindings/events.js';
import { RuntimeError, NotImplementedError } from '../../ts-bindings/errors.js';
import { AbstractChildWatcher } from '../../ts-bindings/watchers/abstract.js';

/** A watcher that records what the policy does to it. */
class RecordingWatcher extends AbstractChildWatcher {
  attached: (AbstractEventLoop | null)[] = [];
  closed = 0;
  override attachLoop(loop: AbstractEventLoop | null): void { this.attached.push(loop); }
  override close(): void { this.closed++; }
  override isActive(): boolean { return true; }
}

const created: AbstractEventLoop[] = [];
beforeEach(() => {
  setEventLoopPolicy(null);
});
afterEach(() => {
  for (const l of created.splice(0)) if (!l.isRunning()) l.close();
  setEventLoopPolicy(null);
});

describe('policy functions', () => {
  it('getEventLoopPolicy creates the default policy lazily and keeps it', () => {
    const p = getEventLoopPolicy();
    expect(p).toBeInstanceOf(DefaultEventLoopPolicy);
    expect(p).toBeInstanceOf(AbstractEventLoopPolicy);
    expect(getEventLoopPolicy()).toBe(p);
    setEventLoopPolicy(null);
    const q = getEventLoopPolicy();
    expect(q).toBeInstanceOf(DefaultEventLoopPolicy);
    expect(q).not.toBe(p);
  });

  it('setEventLoopPolicy installs a policy and refuses non-policies with TypeError', () => {
    const p = new DefaultEventLoopPolicy();
    setEventLoopPolicy(p);
    expect(getEventLoopPolicy()).toBe(p);
    for (const bad of [42, 'policy', {}, new SelectorEventLoop()]) {
      expect(() => setEventLoopPolicy(bad as unknown as AbstractEventLoopPolicy)).toThrow(TypeError);
    }
    expect(() => setEventLoopPolicy(42 as unknown as AbstractEventLoopPolicy))
      .toThrow(/^policy must be an instance of AbstractEventLoopPolicy or None, not '/);
    expect(getEventLoopPolicy()).toBe(p);
  });

  it('getEventLoop creates a loop implicitly on the main thread, once', () => {
    const loop = getEventLoop();
    created.push(loop);
    expect(loop).toBeInstanceOf(SelectorEventLoop);
    expect(getEventLoop()).toBe(loop);
    expect(getEventLoopPolicy().getEventLoop()).toBe(loop);
  });

  it("after setEventLoop(null), getEventLoop throws \"There is no current event loop in thread 'MainThread'.\"", () => {
    setEventLoop(null);
    expect(() => getEventLoop()).toThrow(RuntimeError);
    expect(() => getEventLoop()).toThrow("There is no current event loop in thread 'MainThread'.");
  });

  it('no implicit loop once setEventLoop was called, even after clearing it', () => {
    const loop = newEventLoop();
    created.push(loop);
    setEventLoop(loop);
    expect(getEventLoop()).toBe(loop);
    setEventLoop(null);
    expect(() => getEventLoop()).toThrow(RuntimeError);
  });

  it('setEventLoop refuses non-loops with TypeError', () => {
    expect(() => setEventLoop({} as AbstractEventLoop)).toThrow(TypeError);
    expect(() => setEventLoop('loop' as unknown as AbstractEventLoop)).toThrow(TypeError);
  });

  it('newEventLoop returns a new SelectorEventLoop that is not made current', () => {
    const current = newEventLoop();
    created.push(current);
    setEventLoop(current);
    const fresh = newEventLoop();
    created.push(fresh);
    expect(fresh).toBeInstanceOf(SelectorEventLoop);
    expect(fresh).not.toBe(current);
    expect(getEventLoop()).toBe(current);
  });

  it('getEventLoop returns the running loop first; getRunningLoop needs one', async () => {
    expect(() => getRunningLoop()).toThrow(new RuntimeError('no running event loop'));
    const current = newEventLoop();
    const running = newEventLoop();
    created.push(current, running);
    setEventLoop(current);
    await running.runUntilComplete(async () => {
      expect(getEventLoop()).toBe(running);
      expect(getRunningLoop()).toBe(running);
    });
    expect(getEventLoop()).toBe(current);
  });
});

describe('child watcher in the policy', () => {
  it('getChildWatcher creates one watcher lazily and returns it every time', () => {
    const w = getChildWatcher();
    expect(w).toBeInstanceOf(AbstractChildWatcher);
    expect(getChildWatcher()).toBe(w);
    expect(getEventLoopPolicy().getChildWatcher()).toBe(w);
  });

  it('setChildWatcher installs without attachLoop and closes the previous one', () => {
    const a = new RecordingWatcher();
    const b = new RecordingWatcher();
    setChildWatcher(a);
    expect(getChildWatcher()).toBe(a);
    expect(a.attached).toEqual([]);
    setChildWatcher(b);
    expect(a.closed).toBe(1);
    expect(b.closed).toBe(0);
    expect(b.attached).toEqual([]);
    expect(getChildWatcher()).toBe(b);
    setChildWatcher(null);
    expect(b.closed).toBe(1);
  });

  it('installing the installed watcher again does not close it (fixed)', () => {
    const a = new RecordingWatcher();
    setChildWatcher(a);
    setChildWatcher(a);
    expect(a.closed).toBe(0);
    expect(getChildWatcher()).toBe(a);
  });

  it('setChildWatcher refuses non-watchers with TypeError', () => {
    expect(() => setChildWatcher({} as AbstractChildWatcher)).toThrow(TypeError);
    expect(() => setChildWatcher(1 as unknown as AbstractChildWatcher)).toThrow(TypeError);
  });

  it('setEventLoop on the main thread attaches the existing watcher (also null)', () => {
    const w = new RecordingWatcher();
    setChildWatcher(w);
    const loop = newEventLoop();
    created.push(loop);
    setEventLoop(loop);
    setEventLoop(null);
    expect(w.attached).toEqual([loop, null]);
  });

  it('the implicit loop of getEventLoop is attached to the watcher too', () => {
    const w = new RecordingWatcher();
    setChildWatcher(w);
    const loop = getEventLoop();
    created.push(loop);
    expect(w.attached).toEqual([loop]);
  });
});

describe('AbstractEventLoopPolicy and custom policies', () => {
  it('has five methods that throw NotImplementedError', () => {
    class Bare extends AbstractEventLoopPolicy {}
    const p = new Bare();
    expect(() => p.getEventLoop()).toThrow(NotImplementedError);
    expect(() => p.setEventLoop(null)).toThrow(NotImplementedError);
    expect(() => p.newEventLoop()).toThrow(NotImplementedError);
    expect(() => p.getChildWatcher()).toThrow(NotImplementedError);
    expect(() => p.setChildWatcher(null)).toThrow(NotImplementedError);
    setEventLoopPolicy(p); // a subclass is a policy
    expect(() => getEventLoop()).toThrow(NotImplementedError);
    expect(() => newEventLoop()).toThrow(NotImplementedError);
  });

  it("works with the seeds' MyEventLoopPolicy example", () => {
    const calls: string[] = [];
    class MyEventLoopPolicy extends DefaultEventLoopPolicy {
      override getEventLoop(): AbstractEventLoop {
        const loop = super.getEventLoop();
        calls.push('getEventLoop');
        return loop;
      }
    }
    setEventLoopPolicy(new MyEventLoopPolicy());
    const loop = getEventLoop();
    created.push(loop);
    expect(loop).toBeInstanceOf(SelectorEventLoop);
    expect(getEventLoop()).toBe(loop);
    expect(calls).toEqual(['getEventLoop', 'getEventLoop']);
  });

  it('a custom policy can choose the loop class', async () => {
    class MyLoop extends SelectorEventLoop {}
    class MyPolicy extends DefaultEventLoopPolicy {
      override newEventLoop(): AbstractEventLoop { return new MyLoop(); }
    }
    setEventLoopPolicy(new MyPolicy());
    const loop = newEventLoop();
    created.push(loop);
    expect(loop).toBeInstanceOf(MyLoop);
    expect(await run(async () => getRunningLoop() instanceof MyLoop)).toBe(true);
  });

  it('Windows policies throw RuntimeError naming Windows off win32', () => {
    expect(process.platform).not.toBe('win32');
    expect(() => new WindowsSelectorEventLoopPolicy()).toThrow(RuntimeError);
    expect(() => new WindowsSelectorEventLoopPolicy()).toThrow(/Windows/);
    expect(() => new WindowsProactorEventLoopPolicy()).toThrow(RuntimeError);
    expect(() => new WindowsProactorEventLoopPolicy()).toThrow(/Windows/);
  });
});

describe('run()', () => {
  it('runs main on a new current loop and returns its result', async () => {
    let inside: AbstractEventLoop | null = null;
    const result = await run(async () => {
      inside = getRunningLoop();
      expect(getEventLoop()).toBe(inside);
      expect(getEventLoopPolicy().getEventLoop()).toBe(inside);
      return 42;
    });
    expect(result).toBe(42);
    expect(inside).toBeInstanceOf(SelectorEventLoop);
    expect(inside!.isClosed()).toBe(true);
    // run() ends with setEventLoop(null): no implicit loop any more.
    expect(() => getEventLoop()).toThrow("There is no current event loop in thread 'MainThread'.");
  });

  it('sets debug mode when asked', async () => {
    expect(await run(async () => getRunningLoop().getDebug(), { debug: true })).toBe(true);
    expect(await run(async () => getRunningLoop().getDebug(), { debug: false })).toBe(false);
  });

  it('cancels the tasks left over', async () => {
    let leftover: Task<unknown> | null = null;
    let finished: Task<unknown> | null = null;
    await run(async () => {
      const loop = getRunningLoop();
      leftover = loop.createTask(() => new Promise(() => {}));
      finished = loop.createTask(async () => 'ok');
      await finished;
    });
    expect(leftover!.cancelled()).toBe(true);
    expect(() => leftover!.result()).toThrow(CancelledError);
    expect(finished!.cancelled()).toBe(false);
    expect(finished!.result()).toBe('ok');
  });

  it("fails inside a running loop: 'asyncio.run() cannot be called from a running event loop'", async () => {
    await run(async () => {
      const err = await run(async () => 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RuntimeError);
      expect((err as Error).message).toBe('asyncio.run() cannot be called from a running event loop');
    });
  });

  it("rejects with main's error and still closes the loop and resets the current loop", async () => {
    let inside: AbstractEventLoop | null = null;
    await expect(run(async () => { inside = getRunningLoop(); throw new Error('main failed'); }))
      .rejects.toThrow('main failed');
    expect(inside!.isClosed()).toBe(true);
    expect(() => getEventLoop()).toThrow(RuntimeError);
  });

  it('attaches the watcher to its loop, and to null at the end', async () => {
    const w = new RecordingWatcher();
    setChildWatcher(w);
    let inside: AbstractEventLoop | null = null;
    await run(async () => { inside = getRunningLoop(); });
    expect(w.attached).toEqual([inside, null]);
  });

  it('accepts a promise', async () => {
    expect(await run(Promise.resolve('p'))).toBe('p');
  });
});
