// Property-based simulation of the five watchers on SimKernel against the reference model
// (tests/fixtures/sim-property.ts, sim-model.ts): random interleavings of spawn, exit, SIGCHLD
// (coalesced and spurious), pidfd readiness, waiter threads, register / replace / remove,
// attach / detach / reattach, enter / exit, close, reaped-by-someone-else, pid reuse and
// injected errors, checked after every step and at quiescence.
//
// This is the quick budget (at least 100,000 steps in all); `npm run soak` runs 10,000,000 and
// more. The seed is random unless CHILDWATCH_SIM_SEED is set; a failure prints the command that
// replays it (seed and path).
import { describe, expect, it } from '@jest/globals';
import {
  KINDS, checkKind, replayCommand, stats, type Kind, type Mutation,
} from '../fixtures/sim-property.js';

const MAX_OPS = 150;
const SEED = process.env['CHILDWATCH_SIM_SEED'] !== undefined
  ? Number(process.env['CHILDWATCH_SIM_SEED'])
  : (Date.now() ^ (process.pid << 8)) >>> 0;

function expectPasses(kind: Kind, numRuns: number, loader: 'raw' | 'wasi', seed: number): number {
  const before = stats.steps;
  const o = checkKind(kind, { seed, numRuns, maxOps: MAX_OPS, options: { loader } });
  if (o.failed) {
    throw new Error(`${kind} (${loader}) failed after ${o.numRuns} runs, seed ${o.seed}, path ${o.path}\n` +
      `replay: ${replayCommand(o, MAX_OPS, loader)}\n${o.error}`);
  }
  return stats.steps - before;
}

describe.each(KINDS)('%s watcher: random interleavings against the model', (kind: Kind) => {
  it('raw loader (build/core.wasm): every step and the quiescent end state match the model', () => {
    const steps = expectPasses(kind, 600, 'raw', SEED);
    expect(steps).toBeGreaterThan(20_000);
  });

  it('node:wasi loader (build/core.wasi.wasm): the same property', () => {
    const steps = expectPasses(kind, 60, 'wasi', (SEED + 1) >>> 0);
    expect(steps).toBeGreaterThan(2_000);
  });
});

describe('the checks catch broken cores and hosts (each mutation fails the property)', () => {
  const MUTATIONS: Mutation[] = ['dropEvent', 'duplicateEvent', 'wrongReturncode', 'foreignWait', 'eventAfterRemove'];
  describe.each(MUTATIONS)('%s', (mutation: Mutation) => {
    it.each(KINDS)('is caught for %s', (kind: Kind) => {
      const o = checkKind(kind, { seed: 7, numRuns: 300, maxOps: MAX_OPS, options: { mutation } });
      expect(o.failed).toBe(true);
      expect(o.path).toBeDefined();
    });
  });

});

describe('replay', () => {
  it('a failing seed and path replay the same counterexample deterministically', () => {
    const first = checkKind('safe', { seed: 11, numRuns: 300, maxOps: MAX_OPS, options: { mutation: 'dropEvent' } });
    expect(first.failed).toBe(true);
    const again = checkKind('safe', {
      seed: first.seed, numRuns: 1, maxOps: MAX_OPS, path: first.path, options: { mutation: 'dropEvent' },
    });
    expect(again.failed).toBe(true);
    expect(again.ops).toEqual(first.ops);
    expect(again.error).toBe(first.error);
    expect(replayCommand(first, MAX_OPS)).toBe(
      `npm run soak -- --sim-only --kind safe --seed ${first.seed} --path ${first.path} --max-ops ${MAX_OPS}`);
  });
});

describe('budget', () => {
  it('ran at least 100,000 simulated steps against the model (declared last: runs last)', () => {
    expect(stats.steps).toBeGreaterThanOrEqual(100_000);
  });
});
