// Safe and MultiLoop on SIGCHLD (`Watcher.sigchldSweep` in assembly/base.ts): `peek-exited`
// names a terminated child without reaping it, the watcher waits only on the registered pids it
// names, and falls back to the full per-pid sweep when the peek cannot tell (a zombie it does not
// own, nothing it can explain, ECHILD, an error). Counted in host calls on SimKernel, for both
// strategies and both core builds.
import { describe, it, expect } from '@jest/globals';
import { Errno, ReportCode, type WaitRecord } from '../../ts-bindings/core/types.js';
import { SimKernel } from '../../host/sim/index.js';
import { Harness, LOADERS, STRATEGY, calls, type Loader } from './harness.js';

const byPid = <T extends { pid: number }>(xs: T[]): T[] => [...xs].sort((a, b) => a.pid - b.pid);

describe.each(LOADERS)('core via %s', (_name: string, load: Loader) => {
  describe.each(['safe', 'multiloop'] as const)('%s watcher', (kind) => {
    const make = () => new Harness(kind, load);

    /** `n` running children, registered with tokens 1..n. */
    function watched(h: Harness, n: number): number[] {
      const pids = h.sim.spawnMany(n);
      pids.forEach((pid, i) => expect(h.add(pid, i + 1)).toBe(0));
      return pids;
    }

    it('one exit among 1000 registered pids costs a peek, one wait and a last peek', () => {
      const h = make();
      const pids = watched(h, 1000);
      h.sim.clearLog();
      h.sim.exit(pids[500]!, 4);
      expect(calls(h.step())).toEqual([[pids[500], 4, 501]]);
      expect(h.sim.calls.map((c) => [c.fn, c.args, c.result])).toEqual([
        ['peekExited', [], pids[500]], ['waitPid', [pids[500]], pids[500]], ['peekExited', [], 0],
      ]);
      expect(h.core.registeredCount(h.w)).toBe(999);
    });

    it('several exits coalesced into one SIGCHLD are all reaped, one wait each', () => {
      const h = make();
      const pids = watched(h, 200);
      const gone = [pids[3]!, pids[77]!, pids[150]!, pids[199]!, pids[0]!];
      h.sim.clearLog();
      gone.forEach((pid, i) => h.sim.exit(pid, 10 + i));
      expect(h.sim.deliverSigchld()).toBe(true);
      expect(calls(byPid(h.events()))).toEqual(byPid(gone.map((pid, i) => ({ pid, i }))).map(
        ({ pid, i }) => [pid, 10 + i, pids.indexOf(pid) + 1]));
      expect(h.sim.waitedPids()).toEqual(gone); // in exit order: the peek names the oldest zombie
      expect(h.sim.callsOf('peekExited')).toHaveLength(gone.length + 1);
      expect(h.sim.zombies()).toEqual([]);
    });

    it('a foreign zombie makes the sweep fall back; every registered exit is reaped, the foreign one is left alone', () => {
      const h = make();
      const foreign = h.sim.spawn(); // another library's child: never registered here
      const pids = watched(h, 50);
      h.sim.exit(foreign, 7); // exits first: the peek names it before any of ours
      h.sim.exit(pids[10]!, 1);
      h.sim.exit(pids[20]!, 2);
      h.sim.clearLog();
      expect(calls(byPid(h.step()))).toEqual([[pids[10], 1, 11], [pids[20], 2, 21]]);
      expect(h.sim.callsOf('peekExited').map((c) => c.result)).toEqual([foreign]);
      expect(h.sim.waitedPids()).not.toContain(foreign);
      expect(h.sim.waitedPids()).toHaveLength(50); // the full sweep, once
      expect(h.sim.state(foreign)).toBe('zombie');
      // While it stays a zombie, every SIGCHLD sweeps (correct, O(n)); still never waited on.
      h.sim.exit(pids[30]!, 3);
      expect(calls(h.step())).toEqual([[pids[30], 3, 31]]);
      expect(h.sim.waitedPids()).not.toContain(foreign);
      expect(h.sim.state(foreign)).toBe('zombie');
      expect(h.sim.reports).toEqual([]);
    });

    it('a foreign zombie behind ours: ours are reaped through the peek, then one fallback sweep', () => {
      const h = make();
      const pids = watched(h, 20);
      const foreign = h.sim.spawn();
      h.sim.exit(pids[5]!, 5);
      h.sim.exit(foreign, 9);
      h.sim.clearLog();
      expect(calls(h.step())).toEqual([[pids[5], 5, 6]]);
      expect(h.sim.callsOf('peekExited').map((c) => c.result)).toEqual([pids[5], foreign]);
      const waited = h.sim.waitedPids();
      expect(waited[0]).toBe(pids[5]);
      expect(waited.slice(1).sort()).toEqual(pids.filter((p) => p !== pids[5]).sort());
      expect(h.sim.state(foreign)).toBe('zombie');
    });

    it("two watchers of the same strategy: the other's zombie is not ours, so a fallback sweep of our own pids only", () => {
      const h = make();
      const core = h.core; // one core and one kernel, two watchers
      const w2 = core.create(STRATEGY[kind]);
      core.attachLoop(w2, 1);
      const mine = h.sim.spawnMany(5);
      const theirs = h.sim.spawnMany(5);
      mine.forEach((pid, i) => core.addChild(h.w, pid, i + 1, 1));
      theirs.forEach((pid, i) => core.addChild(w2, pid, i + 1, 1));
      h.sim.exit(theirs[2]!, 4);
      h.sim.exit(mine[1]!, 3);
      h.sim.clearLog();
      const events = h.step();
      expect(events.map((e) => [e.watcher, e.pid, e.returncode]).sort()).toEqual(
        [[h.w, mine[1], 3], [w2, theirs[2], 4]].sort());
      // Each watcher waited only on its own pids.
      const waited = h.sim.waitedPids();
      expect(waited.filter((p) => theirs.includes(p))).toEqual([theirs[2]]);
      expect(waited.filter((p) => mine.includes(p))).toContain(mine[1]);
      expect(h.sim.zombies()).toEqual([]);
    });

    it('a registered pid reaped elsewhere: its SIGCHLD finds nothing to explain it, so the sweep gives 255 at once', () => {
      const h = make();
      const pids = watched(h, 30);
      h.sim.exit(pids[4]!, 0);
      h.sim.reapElsewhere(pids[4]!);
      h.sim.clearLog();
      expect(h.step()).toMatchObject([{ pid: pids[4], returncode: 255, statusKnown: false }]);
      expect(h.sim.callsOf('peekExited').map((c) => c.result)).toEqual([0]);
      expect(h.sim.waitedPids()).toHaveLength(30);
      expect(h.sim.reportsOf(ReportCode.UnknownChildStatus).map((r) => r.pid)).toEqual([pids[4]]);
    });

    it('an exit taken early (add-child found a zombie) explains its late SIGCHLD: no sweep', () => {
      const h = make();
      const pids = watched(h, 100);
      const late = h.sim.spawn();
      h.sim.exit(late, 6); // exits before its registration: add-child reaps it at once
      expect(h.add(late, 999)).toBe(0);
      expect(calls(h.events())).toEqual([[late, 6, 999]]);
      h.sim.clearLog();
      expect(h.sim.deliverSigchld()).toBe(true); // the SIGCHLD of that exit, late
      expect(h.events()).toEqual([]);
      expect(h.sim.calls.map((c) => c.fn)).toEqual(['peekExited']);
      // The credit is used: the next SIGCHLD that finds nothing sweeps.
      h.sim.clearLog();
      h.sim.deliverSigchld(true);
      expect(h.sim.waitedPids()).toHaveLength(pids.length);
    });

    it('a steal coalesced with one of our exits is found by the amortised sweep, at the latest', () => {
      const h = make();
      const pids = watched(h, 4);
      const [s, a, b, c] = pids as [number, number, number, number];
      h.sim.exit(s, 1);
      h.sim.reapElsewhere(s);
      h.sim.exit(a, 2); // one SIGCHLD for both
      expect(calls(h.step())).toEqual([[a, 2, 2]]); // the peek path cannot see the steal
      h.sim.exit(b, 3);
      expect(calls(h.step())).toEqual([[b, 3, 3]]); // 2 SIGCHLDs without a sweep, 2 registered
      h.sim.clearLog();
      h.sim.exit(c, 4);
      expect(calls(byPid(h.step()))).toEqual(byPid([
        { pid: c, returncode: 4, token: 4 }, { pid: s, returncode: 255, token: 1 },
      ]).map((e) => [e.pid, e.returncode, e.token]));
      expect(h.sim.waitedPids()).toEqual([c, s]); // the peek's wait, then the sweep of what is left
      expect(h.core.registeredCount(h.w)).toBe(0);
    });

    it('a steal coalesced with our last exit is reported by on-sigchld-settled, with no SIGCHLD after it', () => {
      const h = make();
      const pids = watched(h, 3);
      const [s, a] = pids as [number, number, number];
      h.sim.exit(s, 1);
      h.sim.reapElsewhere(s);
      h.sim.exit(a, 2); // one SIGCHLD for both, and none after
      expect(calls(h.step())).toEqual([[a, 2, 2]]);
      h.sim.clearLog();
      h.core.onSigchldSettled(h.w); // the host's delayed follow-up: the sweep owed runs
      expect(calls(h.events())).toEqual([[s, 255, 1]]);
      expect([...h.sim.waitedPids()].sort()).toEqual([s, pids[2]!].sort()); // every pid still registered
      // Nothing owed any more: a second follow-up makes no host call at all.
      h.sim.clearLog();
      h.core.onSigchldSettled(h.w);
      expect(h.sim.calls).toEqual([]);
      expect(h.core.registeredCount(h.w)).toBe(1);
    });

    it('a peek that fails (ENOSYS: the host cannot peek) falls back to the per-pid sweep', () => {
      const h = make();
      const pids = watched(h, 10);
      h.sim.inject('peekExited', Errno.ENOSYS);
      h.sim.exit(pids[2]!, 8);
      h.sim.exit(pids[7]!, 9);
      h.sim.clearLog();
      expect(calls(byPid(h.step()))).toEqual([[pids[2], 8, 3], [pids[7], 9, 8]]);
      expect(h.sim.callsOf('peekExited').map((c) => c.result)).toEqual([-Errno.ENOSYS]);
      expect(h.sim.waitedPids()).toHaveLength(10);
    });

    it('a wait that fails keeps its pid for the next SIGCHLD; the other exits of this one are still reaped', () => {
      const h = make();
      const pids = watched(h, 10);
      h.sim.exit(pids[1]!, 1);
      h.sim.exit(pids[2]!, 2);
      h.sim.inject('waitPid', Errno.EPERM);
      h.sim.clearLog();
      expect(calls(h.step())).toEqual([[pids[2], 2, 3]]);
      expect(h.sim.reportsOf(ReportCode.HostError).map((r) => [r.pid, r.value])).toEqual([[pids[1], Errno.EPERM]]);
      // Waited on once in this SIGCHLD: the fallback sweep skips it.
      expect(h.sim.waitedPids().filter((p) => p === pids[1])).toHaveLength(1);
      h.sim.deliverSigchld(true);
      expect(calls(h.events())).toEqual([[pids[1], 1, 2]]);
    });

    it('a peek that keeps naming the same pid cannot make the sweep spin', () => {
      const sim = new (class extends SimKernel {
        stuck = 0;
        override peekExited(): number {
          const r = super.peekExited();
          return this.stuck !== 0 ? this.stuck : r;
        }
        override waitPid(pid: number, out: WaitRecord): number {
          if (pid !== this.stuck) return super.waitPid(pid, out);
          this.calls.push({ fn: 'waitPid', args: [pid], result: 0 }); // says "still running"
          return 0;
        }
      })();
      const core = load(sim);
      sim.attach(core);
      const w = core.create(STRATEGY[kind]);
      core.attachLoop(w, 1);
      const pids = sim.spawnMany(10);
      pids.forEach((pid, i) => core.addChild(w, pid, i + 1, 1));
      sim.stuck = pids[3]!;
      sim.exit(pids[6]!, 6);
      sim.clearLog();
      sim.notify();
      expect(calls(sim.drain())).toEqual([[pids[6], 6, 7]]);
      expect(sim.callsOf('peekExited')).toHaveLength(1);
      expect(sim.waitedPids().filter((p) => p === pids[3])).toHaveLength(1);
      expect(sim.waitedPids()).toHaveLength(10); // the fallback sweep, once
    });
  });
});
