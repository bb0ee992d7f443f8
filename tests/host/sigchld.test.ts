// signalSubscribe(SIGCHLD): a uv_signal_t, never sigaction or signalfd. Signals coalesce, so one
// callback may stand for several exits: the subscriber reaps until the kernel says none. Runs in
// a fresh process (SIGCHLD and wait(-1) are process-wide).
import { describe, it, expect } from '@jest/globals';
import { resultOf, runFixture } from './helpers.js';

describe('SIGCHLD subscription', () => {
  it('coalesces: two exits, at least one callback, waitAny reaps both; silent after close', async () => {
    const res = resultOf(await runFixture('host-sigchld.mjs'));
    expect(res['callbacks']).toBeGreaterThanOrEqual(1);
    expect(res['callbacks']).toBeLessThanOrEqual(2);
    expect(new Set(res['signums'] as number[])).toEqual(new Set([17]));
    expect(res['reaped']).toEqual(res['expected']);
    expect(res['callbacksAfterClose']).toBe(0);
    expect(res['lateReap']).toBe(true);
  });
});
