// Waiter threads: one detached pthread per child blocks in wait4(pid, 0) and hands the result
// back to this thread through the uv_async_t hub. They never keep the process alive (the
// lifecycle tests check that) and never touch JS off the JS thread.
import { describe, it, expect } from '@jest/globals';
import { addon, eventually, exitCodeOf, sh, spawnOk, termSigOf } from './helpers.js';

type Done = [pid: number, result: number, status: number, user: number, sys: number, rss: number, tag: number];

function waitFor(pid: number): { started: number; done: Promise<Done> } {
  let started = 0;
  const done = new Promise<Done>((resolve) => {
    started = addon.startWaiter(pid, (...args) => resolve(args));
  });
  return { started, done };
}

// The hub's uv_async_t is unref'd: keep jest's loop alive while a test awaits a thread.
async function kept<T>(p: Promise<T>): Promise<T> {
  const t = setInterval(() => {}, 1000);
  try { return await p; } finally { clearInterval(t); }
}

describe('startWaiter', () => {
  it('passes the tag back, with one shared callback as with a callback per waiter', async () => {
    const got = new Map<number, number>();
    let resolveAll: () => void = () => {};
    const all = new Promise<void>((r) => { resolveAll = r; });
    const shared = (pid: number, result: number, _s: number, _u: number, _y: number, _r: number, tag: number): void => {
      expect(result).toBe(pid);
      got.set(pid, tag);
      if (got.size === 3) resolveAll();
    };
    const kids = [sh('exit 0'), sh('exit 1'), sh('exit 2')];
    kids.forEach((c, i) => expect(addon.startWaiter(c.pid, shared, 100 + i)).toBe(0));
    const other = waitFor(sh('exit 3').pid); // another function (its own reference), no tag
    await kept(all);
    expect(kids.map((c) => got.get(c.pid))).toEqual([100, 101, 102]);
    const [, , status, , , , tag] = await kept(other.done);
    expect(exitCodeOf(status)).toBe(3);
    expect(tag).toBe(0);
    expect(() => addon.startWaiter(1, shared, 2 ** 31)).toThrow(expect.objectContaining({ name: 'RangeError' }));
  });

  it('delivers the exit with status and rusage on this thread', async () => {
    const base = addon.waiterCount();
    const c = sh('i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; read x; exit 9', { stdin: 'pipe' });
    const w = waitFor(c.pid);
    expect(w.started).toBe(0);
    expect(addon.waiterCount()).toBe(base + 1); // blocked in wait4
    addon.close(c.stdin);
    const [pid, result, status, user, , rss] = await kept(w.done);
    expect(pid).toBe(c.pid);
    expect(result).toBe(c.pid);
    expect(exitCodeOf(status)).toBe(9);
    expect(user).toBeGreaterThan(0);
    expect(rss).toBeGreaterThan(0);
    expect(addon.waiterCount()).toBe(base);
  });

  it('delivers a signal death', async () => {
    const c = spawnOk('sleep', ['30']);
    const w = waitFor(c.pid);
    addon.kill(c.pid, 9);
    const [, result, status] = await kept(w.done);
    expect(result).toBe(c.pid);
    expect(termSigOf(status)).toBe(9);
  });

  it('delivers -ECHILD for a pid that is not our child', async () => {
    const [pid, result] = await kept(waitFor(1).done);
    expect([pid, result]).toEqual([1, -10]);
  });

  it('many children, many threads: every exit delivered exactly once', async () => {
    const kids = Array.from({ length: 24 }, (_, i) => sh(`read x; exit ${i}`, { stdin: 'pipe' }));
    const seen = new Map<number, number[]>();
    const all = Promise.all(kids.map((k) => new Promise<void>((resolve) => {
      expect(addon.startWaiter(k.pid, (pid, result, status) => {
        seen.set(pid, [...(seen.get(pid) ?? []), result, exitCodeOf(status)!]);
        resolve();
      })).toBe(0);
    })));
    for (const k of kids) addon.close(k.stdin);
    await kept(all);
    expect(kids.map((k, i) => seen.get(k.pid))).toEqual(kids.map((k, i) => [k.pid, i]));
    expect(await eventually(() => addon.waiterCount() === 0)).toBe(true);
  });

  it('microtasks and nextTick run right after each callback (napi_make_callback)', async () => {
    const order: string[] = [];
    const a = sh('exit 0');
    const b = sh('exit 0');
    await kept(new Promise<void>((resolve) => {
      let left = 2;
      for (const c of [a, b]) {
        addon.startWaiter(c.pid, () => {
          order.push('cb');
          process.nextTick(() => order.push('tick'));
          queueMicrotask(() => order.push('micro'));
          if (--left === 0) setImmediate(resolve);
        });
      }
    }));
    expect(order).toEqual(['cb', 'tick', 'micro', 'cb', 'tick', 'micro']);
  });

  it('rejects a bad pid or callback', () => {
    expect(() => addon.startWaiter(0, () => {})).toThrow(expect.objectContaining({ name: 'RangeError' }));
    expect(() => addon.startWaiter(-1, () => {})).toThrow(expect.objectContaining({ name: 'RangeError' }));
    expect(() => addon.startWaiter(5, null as never)).toThrow(expect.objectContaining({ name: 'TypeError' }));
  });
});
