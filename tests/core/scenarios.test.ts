// The watcher core on SimKernel: every scenario runs for each of the five strategies, on both
// hosts (the raw loader over build/core.wasm and node:wasi over build/core.wasi.wasm).
// The cases port CPython's ChildWatcherTestsMixin (Lib/test/test_asyncio/test_unix_events.py)
// and the rows of SEMANTICS.md; each test is named after the race or rule it covers, and its
// expectations are parameterised by strategy.
import { describe, it, expect } from '@jest/globals';
import {
  ADD_NOT_ATTACHED, ADD_NOT_ENTERED, Errno, ReportCode, newWaitRecord,
} from '../../ts-bindings/core/types.js';
import {
  Harness, KINDS, LOADERS, LOOP, LOOP2, STRATEGY, calls, type Kind, type Loader,
} from './harness.js';

const byPid = <T extends { pid: number }>(xs: T[]): T[] => [...xs].sort((a, b) => a.pid - b.pid);

describe.each(LOADERS)('core via %s', (_name: string, load: Loader) => {
  describe.each(KINDS)('%s watcher', (kind: Kind) => {
    const make = (opts?: ConstructorParameters<typeof Harness>[2]) => new Harness(kind, load, opts);

    // ---------------------------------------------------------------- registration and exit

    it('attach subscribes to SIGCHLD the way the strategy needs (test_create_watcher)', () => {
      const h = make();
      const subs = h.sim.sigchldSubscriptions;
      if (h.attachedDelivery) expect(subs.get(h.w)).toBe(LOOP);
      else if (kind === 'multiloop') expect(subs.get(h.w)).toBe(0);
      else expect(subs.has(h.w)).toBe(false);
    });

    it('a registered child is reported once, after it exits and not before (test_sigchld)', () => {
      const h = make();
      const pid = h.sim.spawn();
      expect(h.add(pid, 5)).toBe(0);
      expect(h.step()).toEqual([]);
      h.sim.exit(pid, 12);
      expect(calls(h.step())).toEqual([[pid, 12, 5]]);
      expect(h.sim.state(pid)).toBe('reaped');
      expect(h.step()).toEqual([]);
      expect(h.core.registeredCount(h.w)).toBe(0);
    });

    it('a SIGCHLD while the child still runs reports nothing (spurious SIGCHLD)', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.add(pid, 1);
      h.sim.deliverSigchld(true);
      expect(h.events()).toEqual([]);
      expect(h.sim.state(pid)).toBe('running');
      expect(h.core.registeredCount(h.w)).toBe(1);
    });

    it('two children exiting at different times are each reported once (test_sigchld_two_children)', () => {
      const h = make();
      const a = h.sim.spawn(43), b = h.sim.spawn(44);
      h.add(a, 1);
      h.add(b, 2);
      expect(h.step()).toEqual([]);
      h.sim.kill(a, 3);
      expect(calls(h.step())).toEqual([[a, -3, 1]]);
      expect(h.step()).toEqual([]);
      h.sim.exit(b, 108);
      expect(calls(h.step())).toEqual([[b, 108, 2]]);
      expect(h.step()).toEqual([]);
    });

    it('two exits coalesced into one SIGCHLD are both reported (test_sigchld_two_children_terminating_together)', () => {
      const h = make();
      const a = h.sim.spawn(45), b = h.sim.spawn(46);
      h.add(a, 1);
      h.add(b, 2);
      h.sim.exit(a, 78);
      h.sim.kill(b, 5);
      expect(h.sim.isSigchldPending).toBe(true);
      expect(calls(byPid(h.step()))).toEqual([[a, 78, 1], [b, -5, 2]]);
      expect(h.sim.zombies()).toEqual([]);
    });

    it('sixty-four exits in one SIGCHLD: every pid reported once while the sweep removes them', () => {
      const h = make();
      const pids = h.sim.spawnMany(64);
      pids.forEach((p, i) => h.add(p, i + 1));
      pids.forEach((p, i) => h.sim.exit(p, i % 256));
      const ev = byPid(h.step());
      expect(ev.map((e) => e.pid)).toEqual(pids);
      expect(ev.map((e) => e.token)).toEqual(pids.map((_, i) => i + 1));
      expect(h.core.registeredCount(h.w)).toBe(0);
    });

    it('a child that exited before its registration is still reported (test_sigchld_race_condition)', () => {
      const h = make();
      h.core.enter(h.w);
      const pid = h.sim.spawn(50);
      h.sim.exit(pid, 4);
      h.sim.notify(); // the SIGCHLD arrives before add_child_handler
      expect(h.core.addChild(h.w, pid, 9, LOOP)).toBe(0);
      h.core.exit(h.w);
      // Safe and MultiLoop check at once, Fast pops its kept zombie: the event is already there.
      const immediate = h.polls || h.isFast;
      expect(h.core.pendingExits()).toBe(immediate ? 1 : 0);
      expect(calls(h.step())).toEqual([[pid, 4, 9]]);
      expect(h.step()).toEqual([]);
      expect(h.sim.reportsOf(ReportCode.FastUnknownPidsEnd)).toEqual([]);
    });

    it('registering a pid again replaces its callback, with no second waiter or pidfd (test_sigchld_replace_handler, fixed)', () => {
      const h = make();
      const pid = h.sim.spawn(51);
      h.add(pid, 1);
      h.add(pid, 2);
      expect(h.core.tokenOf(h.w, pid)).toBe(2);
      expect(h.core.registeredCount(h.w)).toBe(1);
      h.sim.kill(pid, 8);
      expect(calls(h.step())).toEqual([[pid, -8, 2]]);
      expect(h.sim.waiterStarts.filter((p) => p === pid).length).toBe(h.threads ? 1 : 0);
      expect(h.sim.callsOf('pidfdOpen').length).toBe(h.isPidfd ? 1 : 0);
      expect(h.step()).toEqual([]);
    });

    it('a removed handler gets no callback but its child is still reaped (test_sigchld_remove_handler, fixed)', () => {
      const h = make();
      const pid = h.sim.spawn(52);
      h.add(pid, 1);
      expect(h.core.removeChild(h.w, pid)).toBe(true);
      h.sim.exit(pid, 99);
      expect(h.step()).toEqual([]);
      expect(h.sim.state(pid)).toBe('reaped');
      // Fast reaps it as an unknown pid (no bracket open), as CPython does.
      expect(h.sim.reportsOf(ReportCode.FastUnknownPid).map((r) => [r.pid, r.value]))
        .toEqual(h.isFast ? [[pid, 99]] : []);
      expect(h.sim.pidfds.size).toBe(0);
    });

    it('removeChildHandler returns true once, then false (test_remove_child_handler)', () => {
      const h = make();
      const [a, b, c] = [h.sim.spawn(54), h.sim.spawn(55), h.sim.spawn(56)];
      h.add(a, 1);
      h.add(b, 2);
      h.add(c, 3);
      expect(h.core.removeChild(h.w, a)).toBe(true);
      expect(h.core.removeChild(h.w, b)).toBe(true);
      expect(h.core.removeChild(h.w, b)).toBe(false);
      expect(h.core.removeChild(h.w, b)).toBe(false);
      expect(h.core.removeChild(h.w, 4242)).toBe(false);
      expect(h.core.registeredCount(h.w)).toBe(1);
      h.sim.exit(a, 0);
      h.sim.exit(b, 1);
      h.sim.exit(c, 2);
      expect(calls(h.step())).toEqual([[c, 2, 3]]);
      expect(h.sim.zombies()).toEqual([]);
    });

    it('a removed pid registered again before its exit is reported with the new callback', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.add(pid, 1);
      h.core.removeChild(h.w, pid);
      h.add(pid, 7);
      expect(h.core.tokenOf(h.w, pid)).toBe(7);
      h.sim.exit(pid, 3);
      expect(calls(h.step())).toEqual([[pid, 3, 7]]);
      expect(h.sim.waiterStarts.length).toBe(h.threads ? 1 : 0);
      expect(h.sim.callsOf('pidfdOpen').length).toBe(h.isPidfd ? 1 : 0);
    });

    // ---------------------------------------------------------------- statuses

    it('an exit code and the rusage pass through with status known', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.add(pid, 1);
      h.sim.exit(pid, 255, { userMicros: 1234, systemMicros: 567, maxRssKiB: 8901 });
      const [e] = h.step();
      expect(e).toMatchObject({
        pid, returncode: 255, statusKnown: true, exitCode: 255, signal: 0, coreDumped: false,
        userMicros: 1234, systemMicros: 567, maxRssKiB: 8901, watcher: h.w, token: 1,
      });
    });

    it('a death by signal gives -signal, and the core-dump flag', () => {
      const h = make();
      const a = h.sim.spawn(), b = h.sim.spawn();
      h.add(a, 1);
      h.add(b, 2);
      h.sim.kill(a, 11, true);
      h.sim.kill(b, 9, false);
      const [ea, eb] = byPid(h.step());
      expect(ea).toMatchObject({ returncode: -11, signal: 11, coreDumped: true, exitCode: -1, statusKnown: true });
      expect(eb).toMatchObject({ returncode: -9, signal: 9, coreDumped: false, exitCode: -1 });
    });

    it('a status that is neither exit nor signal passes through raw (test_sigchld_unknown_status)', () => {
      const h = make();
      const pid = h.sim.spawn(53);
      h.add(pid, 1);
      h.sim.terminate(pid, 0x137f); // "stopped by SIGSTOP": WIFEXITED and WIFSIGNALED both false
      expect(h.step()).toMatchObject([{ pid, returncode: 0x137f, exitCode: -1, signal: 0, statusKnown: true }]);
    });

    it('a child reaped by someone else gives 255, status unknown (test_sigchld_child_reaped_elsewhere)', () => {
      const h = make({ autoFinishWaiters: false });
      const pid = h.sim.spawn(58);
      h.add(pid, 1);
      h.sim.exit(pid, 4);
      h.sim.reapElsewhere(pid);
      const ev = h.step();
      if (h.isFast) {
        // CPython's documented dead end: wait(-1) finds nothing, the callback never runs.
        expect(ev).toEqual([]);
        expect(h.sim.reports).toEqual([]);
        return;
      }
      expect(ev).toMatchObject([{
        pid, token: 1, returncode: 255, statusKnown: false, exitCode: -1, signal: 0,
        userMicros: 0, systemMicros: 0, maxRssKiB: 0,
      }]);
      const code = h.isPidfd ? ReportCode.PidfdStatusAlreadyRead : ReportCode.UnknownChildStatus;
      expect(h.sim.reports).toEqual([{ code, watcher: h.w, pid, value: Errno.ECHILD }]);
    });

    it('ECHILD from a wait: 255 for per-pid watchers; Fast stops its sweep and reaps on the next SIGCHLD', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.add(pid, 1);
      h.sim.inject(h.isFast ? 'waitAny' : 'waitPid', Errno.ECHILD);
      h.sim.exit(pid, 6);
      const ev = h.step();
      if (h.isFast) {
        expect(ev).toEqual([]);
        h.sim.deliverSigchld(true);
        expect(h.events()).toMatchObject([{ pid, returncode: 6, statusKnown: true }]);
      } else {
        expect(ev).toMatchObject([{ pid, returncode: 255, statusKnown: false }]);
      }
    });

    it('an unexpected wait error is a host-error; per-pid pollers keep the pid for the next SIGCHLD', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.add(pid, 1);
      h.sim.inject(h.isFast ? 'waitAny' : 'waitPid', Errno.EPERM);
      h.sim.exit(pid, 6);
      const ev = h.step();
      expect(h.sim.reportsOf(ReportCode.HostError).map((r) => r.value)).toEqual([Errno.EPERM]);
      if (h.polls || h.isFast) {
        expect(ev).toEqual([]);
        h.sim.deliverSigchld(true);
        expect(h.events()).toMatchObject([{ pid, returncode: 6, statusKnown: true }]);
      } else {
        // A waiter or pidfd wait that fails ends the registration: the callback runs once, 255.
        expect(ev).toMatchObject([{ pid, returncode: 255, statusKnown: false }]);
      }
    });

    it('EINTR on a wait is retried by the host and the exit is reported once', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.add(pid, 1);
      h.sim.inject('waitPid', Errno.EINTR, 3).inject('waitAny', Errno.EINTR, 3);
      h.sim.exit(pid, 2);
      expect(calls(h.step())).toEqual([[pid, 2, 1]]);
      expect(h.sim.eintrRetries).toBe(3);
      expect(h.sim.reports).toEqual([]);
    });

    // ---------------------------------------------------------------- ownership

    it('the watcher never waits on pid <= 0 and rejects it before any host call', () => {
      const h = make();
      h.sim.clearLog();
      expect(h.add(0, 1)).toBe(-Errno.EINVAL);
      expect(h.add(-1, 1)).toBe(-Errno.EINVAL);
      expect(h.add(h.sim.spawn(), 0)).toBe(-Errno.EINVAL); // token 0 means "none"
      expect(h.core.removeChild(h.w, 0)).toBe(false);
      expect(h.sim.calls).toEqual([]);
      h.sim.exit(h.sim.spawn(), 1);
      h.step();
      expect(h.sim.badWaits).toBe(0);
    });

    it('only Fast reaps a child it does not own (another library\'s child stays for its owner)', () => {
      const h = make();
      const mine = h.sim.spawn(), other = h.sim.spawn();
      h.add(mine, 1);
      h.sim.exit(other, 3);
      h.sim.exit(mine, 4);
      expect(calls(h.step())).toEqual([[mine, 4, 1]]);
      expect(h.sim.waitedPids()).not.toContain(other);
      expect(h.sim.state(other)).toBe(h.isFast ? 'reaped' : 'zombie');
      expect(h.sim.reportsOf(ReportCode.FastUnknownPid).map((r) => [r.pid, r.value]))
        .toEqual(h.isFast ? [[other, 3]] : []);
    });

    it('an unknown pid exiting during registration is not reported; Fast keeps and then drops it (test_sigchld_unknown_pid_during_registration)', () => {
      const h = make();
      const [a, unknown, b] = [h.sim.spawn(591), h.sim.spawn(593), h.sim.spawn(592)];
      h.core.enter(h.w);
      h.sim.exit(a, 7);
      h.sim.exit(unknown, 17);
      h.sim.notify();
      h.core.addChild(h.w, a, 1, LOOP);
      h.core.addChild(h.w, b, 2, LOOP);
      h.core.exit(h.w);
      expect(calls(h.step())).toEqual([[a, 7, 1]]);
      expect(h.sim.waitedPids()).not.toContain(unknown);
      const items = h.sim.reportsOf(ReportCode.FastUnknownPidsItem).map((r) => [r.pid, r.value]);
      const ends = h.sim.reportsOf(ReportCode.FastUnknownPidsEnd).map((r) => r.value);
      expect(items).toEqual(h.isFast ? [[unknown, 17]] : []);
      expect(ends).toEqual(h.isFast ? [1] : []);
    });

    it('an unregistered child that reuses a reported pid is not reported (the pid was forgotten)', () => {
      const h = make();
      const pid = h.sim.spawn(42);
      h.add(pid, 1);
      h.sim.exit(pid, 12);
      expect(h.step().length).toBe(1);
      h.sim.spawn(42);
      h.sim.exit(42, 13);
      h.sim.clearLog();
      expect(h.step()).toEqual([]);
      expect(h.sim.waitedPids()).not.toContain(42);
      expect(h.sim.state(42)).toBe(h.isFast ? 'reaped' : 'zombie');
    });

    it('pid reuse after reaping: a new registration of the same pid gets its own exit', () => {
      const h = make();
      const pid = h.sim.spawn(77);
      h.add(pid, 1);
      h.sim.exit(pid, 1);
      expect(calls(h.step())).toEqual([[77, 1, 1]]);
      h.sim.spawn(77);
      h.add(77, 2);
      h.sim.kill(77, 15);
      expect(calls(h.step())).toEqual([[77, -15, 2]]);
      expect(h.sim.callsOf('pidfdOpen').length).toBe(h.isPidfd ? 2 : 0);
    });

    it('events for pids the watcher does not hold are dropped silently (late waiter or pidfd)', () => {
      const h = make();
      const rec = newWaitRecord();
      rec.status = 0x100;
      h.sim.clearLog();
      h.core.onWaiterDone(h.w, 4242, 4242, rec);
      h.core.onPidfdReady(h.w, 4242);
      h.core.onPidfdReady(h.w, -1);
      expect(h.events()).toEqual([]);
      expect(h.sim.calls).toEqual([]);
    });

    // ---------------------------------------------------------------- loops

    it('the exit event names its watcher and the loop that must run it (registering vs attached)', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.add(pid, 1, 7);
      h.sim.exit(pid, 0);
      expect(h.step()).toMatchObject([{ watcher: h.w, loop: h.attachedDelivery ? LOOP : 7 }]);
    });

    it('is-active: Threaded and Pidfd always, MultiLoop after the first attach, Safe and Fast while attached', () => {
      const h = make({ attach: false });
      const always = kind === 'threaded' || kind === 'pidfd';
      expect(h.core.isActive(h.w)).toBe(always);
      h.core.attachLoop(h.w, LOOP);
      expect(h.core.isActive(h.w)).toBe(true);
      h.core.attachLoop(h.w, 0);
      expect(h.core.isActive(h.w)).toBe(!h.attachedDelivery);
      expect(h.core.attachedLoop(h.w)).toBe(0);
    });

    it('MultiLoop subscribes once, process-wide, whatever loop is attached; Safe/Fast move the handler each time', () => {
      const h = make({ attach: false });
      h.core.attachLoop(h.w, 5);
      h.core.attachLoop(h.w, 6);
      const subs = h.sim.callsOf('subscribeSigchld').map((c) => c.args);
      const unsubs = h.sim.callsOf('unsubscribeSigchld').length;
      if (kind === 'multiloop') expect([subs, unsubs]).toEqual([[[h.w, 0]], 0]);
      else if (h.attachedDelivery) expect([subs, unsubs]).toEqual([[[h.w, 5], [h.w, 6]], 1]);
      else expect([subs, unsubs]).toEqual([[], 0]);
      expect(h.core.attachedLoop(h.w)).toBe(h.attachedDelivery ? 6 : 0);
    });

    it('switching loops moves the SIGCHLD handler and later exits arrive on the new loop (test_set_loop)', () => {
      const h = make();
      const pid = h.sim.spawn(60);
      h.add(pid, 1);
      h.sim.clearLog();
      h.core.attachLoop(h.w, LOOP2);
      if (h.attachedDelivery) {
        expect(h.sim.calls.filter((c) => c.fn.endsWith('Sigchld')).map((c) => [c.fn, ...c.args]))
          .toEqual([['unsubscribeSigchld', h.w], ['subscribeSigchld', h.w, LOOP2]]);
      } else {
        expect(h.sim.callsOf('subscribeSigchld')).toEqual([]);
      }
      h.sim.exit(pid, 9);
      expect(h.step()).toMatchObject([{ pid, returncode: 9, loop: h.attachedDelivery ? LOOP2 : LOOP }]);
    });

    it('exits while detached are delivered by the reattach sweep, with one detach warning (test_set_loop_race_condition)', () => {
      const h = make();
      const [a, b, c] = [h.sim.spawn(61), h.sim.spawn(62), h.sim.spawn(622)];
      h.add(a, 1);
      h.add(b, 2);
      h.add(c, 3);
      h.core.attachLoop(h.w, 0);
      expect(h.sim.reportsOf(ReportCode.DetachWithPending).length).toBe(h.attachedDelivery ? 1 : 0);
      h.sim.exit(a, 11);
      h.sim.kill(b, 5);
      const whileDetached = h.step();
      expect(whileDetached.length).toBe(h.attachedDelivery ? 0 : 2);
      h.core.attachLoop(h.w, LOOP2);
      const onReattach = h.events(); // the sweep runs inside attach-loop, no SIGCHLD needed
      if (h.attachedDelivery) {
        expect(calls(byPid(onReattach))).toEqual([[a, 11, 1], [b, -5, 2]]);
        expect(onReattach.every((e) => e.loop === LOOP2)).toBe(true);
      } else {
        expect(onReattach).toEqual([]);
      }
      h.sim.exit(c, 19);
      expect(calls(h.step())).toEqual([[c, 19, 3]]);
      expect(h.sim.reportsOf(ReportCode.DetachWithPending).length).toBe(h.attachedDelivery ? 1 : 0);
    });

    it('a child registered while detached (after an attach) is delivered when a loop is attached again', () => {
      const h = make();
      h.core.attachLoop(h.w, 0);
      const pid = h.sim.spawn();
      h.sim.exit(pid, 5);
      expect(h.add(pid, 1)).toBe(0);
      h.sim.notify();
      h.core.attachLoop(h.w, LOOP2);
      h.sim.notify();
      expect(calls(h.events())).toEqual([[pid, 5, 1]]);
    });

    it('attach sweeps at once: a child that exited during the switch is not lost', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.add(pid, 1);
      h.sim.exit(pid, 8);
      // No SIGCHLD delivered: the exit happened while the handler moved.
      h.core.attachLoop(h.w, LOOP2);
      const now = h.events();
      if (h.attachedDelivery) expect(calls(now)).toEqual([[pid, 8, 1]]);
      else expect(calls([...now, ...h.step()])).toEqual([[pid, 8, 1]]);
    });

    it('Safe and Fast refuse add-child before any attach and wait on nothing (fixed)', () => {
      const h = make({ attach: false });
      const pid = h.sim.spawn();
      h.sim.exit(pid, 1);
      h.sim.clearLog();
      const rc = h.add(pid, 1);
      expect(rc).toBe(h.attachedDelivery ? ADD_NOT_ATTACHED : 0);
      if (h.attachedDelivery) {
        expect(h.sim.calls).toEqual([]);
        expect(h.core.registeredCount(h.w)).toBe(0);
        expect(h.sim.state(pid)).toBe('zombie');
      }
    });

    it('Fast refuses add-child outside enter/exit (Must use the context manager); the others accept it', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.sim.clearLog();
      const rc = h.core.addChild(h.w, pid, 1, LOOP);
      expect(rc).toBe(h.isFast ? ADD_NOT_ENTERED : 0);
      expect(h.core.registeredCount(h.w)).toBe(h.isFast ? 0 : 1);
      if (h.isFast) expect(h.sim.calls).toEqual([]);
    });

    it('subscribe-sigchld failing is reported as host-error', () => {
      const h = make({ attach: false });
      h.sim.inject('subscribeSigchld', Errno.EAGAIN);
      h.core.attachLoop(h.w, LOOP);
      const subscribes = kind === 'multiloop' || h.attachedDelivery;
      expect(h.sim.reportsOf(ReportCode.HostError).map((r) => r.value)).toEqual(subscribes ? [Errno.EAGAIN] : []);
      expect(h.sim.sigchldSubscriptions.has(h.w)).toBe(false);
      if (kind === 'multiloop') {
        expect(h.core.isActive(h.w)).toBe(false);
        h.core.attachLoop(h.w, LOOP); // tries again
        expect(h.core.isActive(h.w)).toBe(true);
      }
    });

    // ---------------------------------------------------------------- close and destroy

    it('close clears the handlers (Safe, Fast, MultiLoop) and is a no-op for Threaded and Pidfd (test_close)', () => {
      const h = make();
      h.core.enter(h.w);
      const [a, b, other] = [h.sim.spawn(63), h.sim.spawn(64), h.sim.spawn(65)];
      h.sim.exit(a, 9);
      h.sim.exit(other, 18);
      h.sim.notify();
      h.core.addChild(h.w, a, 1, LOOP);
      h.core.addChild(h.w, b, 2, LOOP);
      const clears = h.polls || h.isFast;
      expect(h.core.registeredCount(h.w)).toBe(clears ? 1 : 2);
      expect(h.core.zombieCount(h.w)).toBe(h.isFast ? 1 : 0);
      h.core.close(h.w);
      expect(h.core.registeredCount(h.w)).toBe(clears ? 0 : 2);
      expect(h.core.zombieCount(h.w)).toBe(0);
      expect(h.sim.sigchldSubscriptions.has(h.w)).toBe(false);
      expect(h.core.isActive(h.w)).toBe(!clears);
      h.core.exit(h.w);
      expect(h.sim.reportsOf(ReportCode.FastUnknownPidsItem)).toEqual([]);
      expect(h.sim.reportsOf(ReportCode.DetachWithPending)).toEqual([]);
      h.sim.exit(b, 3);
      const after = calls(byPid([...h.events(), ...h.step()]));
      expect(after).toEqual(clears ? [[a, 9, 1]] : [[a, 9, 1], [b, 3, 2]]);
    });

    it('close with handlers pending emits no detach warning', () => {
      const h = make();
      h.add(h.sim.spawn(), 1);
      h.core.close(h.w);
      expect(h.sim.reportsOf(ReportCode.DetachWithPending)).toEqual([]);
    });

    it('destroy releases pidfds and the SIGCHLD subscription; later events for it are ignored', () => {
      const h = make({ autoFinishWaiters: false });
      const pid = h.sim.spawn();
      h.add(pid, 1);
      h.core.destroy(h.w);
      expect(h.sim.pidfds.size).toBe(0);
      expect(h.sim.sigchldSubscriptions.size).toBe(0);
      h.sim.exit(pid, 1);
      h.sim.finishWaiters();
      h.core.onSigchld(h.w);
      h.core.onPidfdReady(h.w, pid);
      expect(h.events()).toEqual([]);
      expect(h.core.registeredCount(h.w)).toBe(0);
      expect(h.core.addChild(h.w, h.sim.spawn(), 1, LOOP)).toBe(-Errno.EINVAL);
    });

    // ---------------------------------------------------------------- Fast: zombies and forks

    it('Fast keeps unknown exits as zombies while a spawn is in progress (forks > 0)', () => {
      const h = make();
      h.core.enter(h.w);
      const x = h.sim.spawn();
      h.sim.exit(x, 3);
      h.sim.notify();
      expect(h.core.forks(h.w)).toBe(h.isFast ? 1 : 0);
      expect(h.core.zombieCount(h.w)).toBe(h.isFast ? 1 : 0);
      expect(h.sim.reportsOf(ReportCode.FastZombieKept).map((r) => [r.pid, r.value]))
        .toEqual(h.isFast ? [[x, 3]] : []);
      h.core.exit(h.w);
      expect(h.core.zombieCount(h.w)).toBe(0);
      expect(h.sim.reportsOf(ReportCode.FastUnknownPidsEnd).map((r) => r.value)).toEqual(h.isFast ? [1] : []);
    });

    it('Fast reports kept zombies once, at the outermost exit, in reap order (nested enter)', () => {
      const h = make();
      h.core.enter(h.w);
      h.core.enter(h.w);
      const x = h.sim.spawn(500), y = h.sim.spawn(400), z = h.sim.spawn(450);
      h.sim.exit(x, 1);
      h.sim.notify();
      h.sim.kill(y, 9);
      h.sim.exit(z, 2);
      h.sim.notify();
      h.core.exit(h.w);
      expect(h.sim.reportsOf(ReportCode.FastUnknownPidsEnd)).toEqual([]);
      h.core.exit(h.w);
      const seq = h.sim.reports
        .filter((r) => r.code === ReportCode.FastUnknownPidsItem || r.code === ReportCode.FastUnknownPidsEnd)
        .map((r) => [r.code, r.pid, r.value]);
      expect(seq).toEqual(h.isFast ? [
        [ReportCode.FastUnknownPidsItem, 500, 1],
        [ReportCode.FastUnknownPidsItem, 400, -9],
        [ReportCode.FastUnknownPidsItem, 450, 2],
        [ReportCode.FastUnknownPidsEnd, 0, 3],
      ] : []);
      h.core.enter(h.w);
      h.core.exit(h.w);
      expect(h.sim.reportsOf(ReportCode.FastUnknownPidsEnd).length).toBe(h.isFast ? 1 : 0);
    });

    it('Fast delivers a kept zombie when its pid is registered before the matching exit', () => {
      const h = make();
      h.core.enter(h.w);
      const pid = h.sim.spawn();
      h.sim.kill(pid, 6, true, { userMicros: 11, systemMicros: 22, maxRssKiB: 33 });
      h.sim.notify();
      h.core.addChild(h.w, pid, 4, LOOP);
      expect(h.core.zombieCount(h.w)).toBe(0);
      h.core.exit(h.w);
      expect([...h.events(), ...h.step()]).toMatchObject([{
        pid, token: 4, returncode: -6, coreDumped: true, userMicros: 11, systemMicros: 22, maxRssKiB: 33,
      }]);
      expect(h.sim.reportsOf(ReportCode.FastUnknownPidsEnd)).toEqual([]);
    });

    it('Fast drops an unknown exit outside any bracket with the singular warning', () => {
      const h = make();
      const x = h.sim.spawn();
      h.sim.exit(x, 17);
      h.sim.notify();
      expect(h.sim.reportsOf(ReportCode.FastUnknownPid).map((r) => [r.pid, r.value]))
        .toEqual(h.isFast ? [[x, 17]] : []);
      expect(h.sim.reportsOf(ReportCode.FastZombieKept)).toEqual([]);
      expect(h.core.zombieCount(h.w)).toBe(0);
    });

    it('the forks counter follows enter/exit nesting; an unbalanced exit is ignored', () => {
      const h = make();
      for (let i = 0; i < 3; i++) h.core.enter(h.w);
      expect(h.core.forks(h.w)).toBe(h.isFast ? 3 : 0);
      for (let i = 0; i < 4; i++) h.core.exit(h.w);
      expect(h.core.forks(h.w)).toBe(0);
      h.core.enter(h.w);
      expect(h.core.forks(h.w)).toBe(h.isFast ? 1 : 0);
    });

    it('close clears Fast\'s kept zombies: nothing is reported at the following exit', () => {
      const h = make();
      h.core.enter(h.w);
      h.sim.exit(h.sim.spawn(), 1);
      h.sim.notify();
      expect(h.core.zombieCount(h.w)).toBe(h.isFast ? 1 : 0);
      h.core.close(h.w);
      h.core.exit(h.w);
      expect(h.core.zombieCount(h.w)).toBe(0);
      expect(h.sim.reportsOf(ReportCode.FastUnknownPidsItem)).toEqual([]);
      expect(h.sim.reportsOf(ReportCode.FastUnknownPidsEnd)).toEqual([]);
    });

    // ---------------------------------------------------------------- Pidfd and waiter threads

    it('a pid that does not exist: Pidfd refuses it with ESRCH; the others report 255 or wait', () => {
      const h = make();
      const rc = h.add(9999, 1);
      expect(rc).toBe(h.isPidfd ? -Errno.ESRCH : 0);
      expect(h.core.registeredCount(h.w)).toBe(h.isPidfd || h.polls ? 0 : 1);
      const ev = h.step();
      if (h.isPidfd || h.isFast) expect(ev).toEqual([]);
      else expect(ev).toMatchObject([{ pid: 9999, returncode: 255, statusKnown: false }]);
    });

    it.each([['EMFILE', Errno.EMFILE], ['ENFILE', Errno.ENFILE], ['ENOMEM', Errno.ENOMEM]])(
      'pidfd-open failing with %s falls back to a waiter thread, and the exit is still reported',
      (_n: string, errno: number) => {
        const h = make();
        const pid = h.sim.spawn();
        h.sim.inject('pidfdOpen', errno);
        expect(h.add(pid, 1)).toBe(0);
        expect(h.sim.reportsOf(ReportCode.PidfdFallbackToThread).map((r) => [r.pid, r.value]))
          .toEqual(h.isPidfd ? [[pid, errno]] : []);
        expect(h.sim.waiterStarts).toEqual(h.isPidfd || h.threads ? [pid] : []);
        h.sim.exit(pid, 21);
        expect(calls(h.step())).toEqual([[pid, 21, 1]]);
      });

    it('pidfd-open failing with EPERM is returned to the caller with nothing registered (Pidfd)', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.sim.inject('pidfdOpen', Errno.EPERM);
      expect(h.add(pid, 1)).toBe(h.isPidfd ? -Errno.EPERM : 0);
      expect(h.core.registeredCount(h.w)).toBe(h.isPidfd ? 0 : 1);
    });

    it('watch-pidfd failing closes the pidfd and falls back to a waiter thread', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.sim.inject('watchPidfd', Errno.ENOMEM);
      h.add(pid, 1);
      expect(h.sim.pidfds.size).toBe(0);
      expect(h.sim.reportsOf(ReportCode.HostError).map((r) => r.value)).toEqual(h.isPidfd ? [Errno.ENOMEM] : []);
      h.sim.exit(pid, 1);
      expect(calls(h.step())).toEqual([[pid, 1, 1]]);
    });

    it('a spurious pidfd readiness re-arms the watch; the real exit comes later', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.add(pid, 1);
      expect(h.sim.firePidfd(pid)).toBe(h.isPidfd);
      expect(h.events()).toEqual([]);
      expect(h.sim.watchedPidfds.size).toBe(h.isPidfd ? 1 : 0);
      h.sim.exit(pid, 2);
      expect(calls(h.step())).toEqual([[pid, 2, 1]]);
      expect(h.sim.pidfds.size).toBe(0);
    });

    it('start-waiter EAGAIN is a host-error; the waiter is retried on the next add and the exit arrives', () => {
      const h = make();
      const a = h.sim.spawn();
      h.sim.inject('startWaiter', Errno.EAGAIN);
      if (h.isPidfd) h.sim.inject('pidfdOpen', Errno.EMFILE, 2);
      expect(h.add(a, 1)).toBe(0);
      const usesThread = h.threads || h.isPidfd;
      expect(h.sim.reportsOf(ReportCode.HostError).map((r) => [r.pid, r.value]))
        .toEqual(usesThread ? [[a, Errno.EAGAIN]] : []);
      expect(h.sim.waiterStarts).toEqual([]);
      const b = h.sim.spawn();
      h.add(b, 2);
      expect(byPid(h.sim.waiterStarts.map((pid) => ({ pid }))).map((x) => x.pid))
        .toEqual(usesThread ? [a, b] : []);
      h.sim.exit(a, 1);
      h.sim.exit(b, 2);
      expect(calls(byPid(h.step()))).toEqual([[a, 1, 1], [b, 2, 2]]);
    });

    it('a waiter thread that fails reports host-error and 255 once (Threaded)', () => {
      const h = make();
      const pid = h.sim.spawn();
      h.add(pid, 1);
      expect(h.sim.failWaiter(pid, Errno.EINVAL)).toBe(h.threads);
      if (h.threads) {
        expect(h.events()).toMatchObject([{ pid, returncode: 255, statusKnown: false }]);
        expect(h.sim.reportsOf(ReportCode.HostError).map((r) => r.value)).toEqual([Errno.EINVAL]);
      }
    });

    // ---------------------------------------------------------------- the pull API and scale

    it('events stay queued until popped, in order; popping an empty queue gives a zero record', () => {
      const h = make();
      const a = h.sim.spawn(), b = h.sim.spawn();
      h.add(a, 1);
      h.add(b, 2);
      h.sim.exit(a, 1);
      h.sim.notify();
      h.sim.exit(b, 2);
      h.sim.notify();
      expect(h.core.pendingExits()).toBe(2);
      expect(calls(h.events())).toEqual([[a, 1, 1], [b, 2, 2]]);
      const out = { ...h.step()[0] };
      expect(out.pid).toBeUndefined();
      const rec = { watcher: 9, token: 9, loop: 9, pid: 9, returncode: 9, statusKnown: true, exitCode: 9,
        signal: 9, coreDumped: true, userMicros: 9, systemMicros: 9, maxRssKiB: 9 };
      h.core.popExit(rec);
      expect(rec).toMatchObject({ watcher: 0, pid: 0, statusKnown: false, userMicros: 0 });
    });

    it('two watchers of the same strategy keep their pids apart (Fast reaps for both)', () => {
      const h = make();
      const w2 = h.core.create(STRATEGY[kind]);
      h.core.attachLoop(w2, LOOP2);
      const a = h.sim.spawn(), b = h.sim.spawn();
      h.add(a, 1);
      h.core.enter(w2);
      h.core.addChild(w2, b, 2, LOOP2);
      h.core.exit(w2);
      h.sim.exit(a, 1);
      h.sim.exit(b, 2);
      const ev = byPid(h.step());
      if (h.isFast) {
        // The first watcher's wait(-1) takes both; the second's child is an unknown pid to it.
        expect(calls(ev)).toEqual([[a, 1, 1]]);
        expect(h.sim.reportsOf(ReportCode.FastUnknownPid).map((r) => [r.watcher, r.pid])).toEqual([[h.w, b]]);
      } else {
        expect(ev.map((e) => [e.pid, e.watcher, e.token])).toEqual([[a, h.w, 1], [b, w2, 2]]);
      }
    });

    it('100,000 registered pids: constant-time lookups, every exit reported once', () => {
      const h = make({ logCalls: false });
      const n = 100_000;
      const pids = h.sim.spawnMany(n);
      h.core.enter(h.w);
      for (let i = 0; i < n; i++) h.core.addChild(h.w, pids[i], i + 1, LOOP);
      h.core.exit(h.w);
      expect(h.core.registeredCount(h.w)).toBe(n);
      expect(h.core.tokenOf(h.w, pids[0])).toBe(1);
      expect(h.core.tokenOf(h.w, pids[n - 1])).toBe(n);
      for (let i = 0; i < n; i += 2) h.core.removeChild(h.w, pids[i]);
      expect(h.core.registeredCount(h.w)).toBe(n / 2);
      for (let i = 0; i < n; i++) h.sim.exit(pids[i], i & 0xff);
      const ev = h.step();
      expect(ev.length).toBe(n / 2);
      let ok = 0;
      for (const e of ev) if (e.token === e.pid - pids[0] + 1 && e.returncode === ((e.token - 1) & 0xff) && e.token % 2 === 0) ok++;
      expect(ok).toBe(n / 2);
      expect(h.core.registeredCount(h.w)).toBe(0);
      expect(h.sim.zombies().length).toBe(0);
    });
  });
});
