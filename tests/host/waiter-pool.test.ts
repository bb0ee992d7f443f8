// Waiter threads are reused: a thread whose child was reaped parks (at most 8 process-wide, for
// ~1 s) and takes the next startWaiter instead of a new pthread_create. Every live child still
// has a thread of its own. The pool is process-wide, so the scenarios run in a fresh process
// (tests/fixtures/host-waiter-pool.mjs), which finds its threads by name (cw-waiter) and sets
// the idle time with CHILDWATCH_WAITER_IDLE_MS.
import { describe, it, expect } from '@jest/globals';
import { resultOf, runFixture } from './helpers.js';

async function fixture(idleMs: number): Promise<Record<string, Record<string, unknown>>> {
  const run = await runFixture('host-waiter-pool.mjs', { CHILDWATCH_WAITER_IDLE_MS: String(idleMs) }, { timeoutMs: 60000 });
  expect({ code: run.code, signal: run.signal, stderr: run.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
  return resultOf(run) as Record<string, Record<string, unknown>>;
}

describe('waiter thread reuse (fresh process)', () => {
  it('reuse, one thread per live child, Worker teardown, exit with a parked thread (idle time 10 min)', async () => {
    const res = await fixture(600_000);
    // 20 children one after the other: each exit delivered once, all by the same single thread,
    // which is parked between children.
    expect(res['sequential']).toEqual({ ok: 20, calls: [1], threadsSeen: 1, idle: 1, busy: 0 });
    // 12 live children: 12 threads (the parked one reused, 11 new), each exit delivered once;
    // afterwards 8 are parked and the other 4 have exited.
    expect(res['concurrent']).toEqual({ during: { busy: 12, idle: 0, threads: 12 }, ok: 12, after: { settled: true, idle: 8 } });
    // A Worker with a busy thread and a parked one (of the 8, 2 were taken by its children and 1
    // parked again) is terminated: its cleanup makes every parked thread exit at once (their
    // idle time is 10 minutes), kills and reaps its sleeper, whose thread exits too.
    expect(res['worker']).toEqual({
      inWorker: { done: [[expect.any(Number), expect.any(Number), 3 << 8]], idle: 7, busy: 1 },
      afterTerminate: { idle: 0 }, clean: true,
    });
    // and the process ended by itself (code 0 above) with a thread parked for 10 minutes
    expect(res['parked']).toEqual({ calls: 1, idle: 1 });
  });

  it('parked threads exit by themselves when their idle time runs out (50 ms)', async () => {
    expect(await fixture(50)).toEqual({ expiry: { ok: 12, drained: true } });
  });
});
