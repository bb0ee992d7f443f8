// The addon in worker_threads Workers: each Worker is its own environment with its own module
// instance, handles and waiter hub. When a Worker ends (by itself or terminated), its cleanup
// closes every handle and kills and reaps the children it spawned and had not reaped: no crash,
// no zombie. A waiter thread may outlive its Worker (the nodejs/node#55706 case): its result is
// dropped, and the module stays mapped (-z nodelete).
import { describe, it, expect } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WAIT_RECORD } from '../../host/addon-types.js';
import { addon, eventually, procState, reap, spawnOk, exitCodeOf } from './helpers.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/host-worker.mjs', import.meta.url));

function start(mode: string, extra: Record<string, unknown> = {}): { worker: Worker; first: Promise<Record<string, unknown>>; exit: Promise<number> } {
  const worker = new Worker(FIXTURE, { workerData: { mode, ...extra } });
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const exit = new Promise<number>((resolve) => worker.once('exit', resolve));
  return { worker, first, exit };
}

const gone = (pid: number): boolean => procState(pid) === null;

describe('in a Worker', () => {
  it('spawn, pipes, pidfd poll, waiter threads and SIGCHLD all work', async () => {
    const w = start('basic');
    const res = await w.first;
    expect(res).toEqual({ output: 'from-worker\n', pidfd: [true, 7], waiter: [true, 8], sigchld: expect.any(Number) });
    expect(res['sigchld']).toBeGreaterThanOrEqual(1); // uv_signal works where process.on('SIGCHLD') does not
    expect(await w.exit).toBe(0); // ended by itself: nothing it holds keeps it alive
  });

  it('terminating it with live children and threads: no crash, no zombie', async () => {
    const base = addon.waiterCount();
    const mainChild = spawnOk('sleep', ['60']);
    const w = start('terminate', { mainChild: mainChild.pid });
    const pids = (await w.first)['pids'] as number[];
    expect(pids.map(procState)).toEqual(pids.map(() => expect.stringMatching(/^[RS]$/)));
    expect(addon.waiterCount()).toBe(base + 2);
    await w.worker.terminate();
    // killed and reaped by the Worker's cleanup (or its waiter thread): not even a zombie
    expect(await eventually(() => pids.every(gone))).toBe(true);
    // The main thread's child is left alone, though a thread of the dead Worker waits for it.
    expect(procState(mainChild.pid)).toMatch(/^[RS]$/);
    expect(addon.waiterCount()).toBe(base + 1);
    // Its exit wakes that orphaned thread, which reaps it and drops the result.
    expect(addon.kill(mainChild.pid, 9)).toBe(0);
    expect(await eventually(() => addon.waiterCount() === base)).toBe(true);
    expect(await eventually(() => gone(mainChild.pid))).toBe(true);
    expect(addon.waitPid(mainChild.pid, new Float64Array(WAIT_RECORD))).toBe(-10);
    // and this process is fine
    const c = spawnOk('sh', ['-c', 'exit 4']);
    expect(exitCodeOf((await reap(c.pid)).status)).toBe(4);
  });

  it('a Worker that ends by itself with an unreaped child kills and reaps it', async () => {
    const w = start('exit');
    const [pid] = (await w.first)['pids'] as number[];
    expect(await w.exit).toBe(0);
    expect(await eventually(() => gone(pid!))).toBe(true);
  });

  it('many Workers in turn: each loads its own instance, none leaks', async () => {
    const base = addon.waiterCount();
    for (let i = 0; i < 4; i++) {
      const w = start('terminate', { mainChild: 1 }); // waiting on pid 1: ECHILD at once
      const pids = (await w.first)['pids'] as number[];
      await w.worker.terminate();
      expect(await eventually(() => pids.every(gone))).toBe(true);
    }
    expect(await eventually(() => addon.waiterCount() === base)).toBe(true);
  });
});
