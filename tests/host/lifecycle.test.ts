// The addon's life in a process: NODELETE in the ELF (a waiter thread still inside the module
// after its Worker ended must not find it unmapped), unref'd handles that let the process exit,
// callback exceptions routed to 'uncaughtException', and the subreaper switch.
import { describe, it, expect } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, eventually, procState, resultOf, runFixture } from './helpers.js';
import { addonPath } from '../../host/addon.js';

describe('lifecycle', () => {
  it('the module is linked -z nodelete (readelf shows NODELETE in FLAGS_1)', () => {
    expect(addonPath()).toBe(join(ROOT, 'build', 'Release', 'childwatch.node'));
    const dyn = execFileSync('readelf', ['-d', addonPath()], { encoding: 'utf8' });
    expect(dyn).toMatch(/\(FLAGS_1\)\s+Flags:.*\bNODELETE\b/);
  });

  it('a process holding a SIGCHLD subscription, polls and a waiter thread exits by itself', async () => {
    const run = await runFixture('host-clean-exit.mjs', {}, { timeoutMs: 15000 });
    expect({ code: run.code, signal: run.signal, stderr: run.stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    const { pids, waiters } = resultOf(run) as { pids: number[]; waiters: number };
    expect(waiters).toBe(1);
    // The sleepers outlived it (the main thread's exit does not kill children); clean them up.
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    expect(await eventually(() => pids.every((p) => procState(p) === null || procState(p) === 'Z'))).toBe(true);
  });

  it("exceptions thrown by addon callbacks reach 'uncaughtException' and the process goes on", async () => {
    const res = resultOf(await runFixture('host-exceptions.mjs'));
    expect(res).toEqual({ caught: ['from poll', 'from signal', 'from waiter'] });
  });

  it('setSubreaper: orphaned grandchildren are reparented to us and reaped (fresh process)', async () => {
    const res = resultOf(await runFixture('host-subreaper.mjs'));
    expect(res).toEqual({
      before: 0, set: 0, during: 1, grandParent: 'us', reapedGrandchild: true, reapedChild: true, unset: 0, after: 0,
    });
  });
});
