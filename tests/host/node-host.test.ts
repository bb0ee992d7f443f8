// NodeHost: the WIT host imports on top of the addon. A fake core stands in for the wasm one and
// records what reaches it; a fake addon (hooks.addon) drives the paths that would otherwise
// need process-wide state (wait-any batching, the shared SIGCHLD subscription). The real addon
// is used for pidfd watches and waiter threads, and in a fresh process for SIGCHLD + wait-any.
import { describe, it, expect } from '@jest/globals';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NodeHost, type NodeHostHooks } from '../../host/node-host.js';
import { WAIT_RECORD, type NativeAddon, type NativeHandle, type NativePoll } from '../../host/addon-types.js';
import { newWaitRecord, type CoreExports, type WaitRecord } from '../../ts-bindings/core/types.js';
import { ROOT, addon, exitCodeOf, exited, procState, resultOf, runFixture, sh, spawnOk } from './helpers.js';

type Call = [string, ...number[]];

/** A core that records entries and, like the real one, reaps on each event. */
function fakeCore(host: () => NodeHost, calls: Call[]): CoreExports {
  const rec = newWaitRecord();
  const core: Partial<CoreExports> = {
    onSigchld: (w) => {
      calls.push(['onSigchld', w]);
      for (let r = host().waitAny(rec); r > 0; r = host().waitAny(rec)) calls.push(['reaped', r, rec.status]);
    },
    onPidfdReady: (w, pid) => {
      calls.push(['onPidfdReady', w, pid]);
      const r = host().waitPid(pid, rec);
      calls.push(['waitPid', r, exitCodeOf(rec.status) ?? -1]);
    },
    onSigchldSettled: (w) => calls.push(['onSigchldSettled', w]),
    onWaiterDone: (w, pid, result, r: WaitRecord) => calls.push(['onWaiterDone', w, pid, result, exitCodeOf(r.status) ?? -1, r.userMicros >= 0 ? 1 : 0]),
  };
  return core as CoreExports;
}

function makeHost(over: Partial<NodeHostHooks> = {}): { host: NodeHost; calls: Call[] } {
  const calls: Call[] = [];
  let host: NodeHost;
  host = new NodeHost({
    viaLoop: (loop, watcher) => { calls.push(['viaLoop', loop, watcher]); return 0; },
    unviaLoop: (watcher) => calls.push(['unviaLoop', watcher]),
    onReport: (code, watcher, pid, value) => calls.push(['report', code, watcher, pid, value]),
    afterEvent: () => calls.push(['afterEvent']),
    ...over,
  });
  host.bind(fakeCore(() => host, calls));
  return { host, calls };
}

const keepAlive = async <T>(p: Promise<T>): Promise<T> => {
  const t = setInterval(() => {}, 1000);
  try { return await p; } finally { clearInterval(t); }
};

describe('NodeHost with the real addon', () => {
  it('waitPid fills the WaitRecord; 0 while running; -ECHILD after', async () => {
    const { host } = makeHost();
    const c = sh('read x; exit 12', { stdin: 'pipe' });
    const rec = newWaitRecord();
    expect(host.waitPid(c.pid, rec)).toBe(0);
    addon.close(c.stdin);
    await exited(c.pid);
    expect(host.waitPid(c.pid, rec)).toBe(c.pid);
    expect(exitCodeOf(rec.status)).toBe(12);
    expect(rec.maxRssKiB).toBeGreaterThan(0);
    expect(host.waitPid(c.pid, rec)).toBe(-10);
  });

  it('never throws into the core: bad arguments become -EINVAL', () => {
    const { host } = makeHost();
    const rec = newWaitRecord();
    expect(host.waitPid(0, rec)).toBe(-22);
    expect(host.waitPid(-1, rec)).toBe(-22);
    expect(host.pidfdOpen(-5)).toBe(-22);
    expect(host.watchPidfd(1, 1, -3)).toBe(-22);
    expect(host.startWaiter(1, 0)).toBe(-22);
    expect(() => host.pidfdClose(-1)).not.toThrow();
    expect(() => host.unsubscribeSigchld(99)).not.toThrow();
    const throwing = makeHost({ onReport: () => { throw new Error('logger broke'); } });
    expect(() => throwing.host.report(0, 1, 2, 3)).not.toThrow();
  });

  it('watchPidfd: one-shot, then onPidfdReady(watcher, pid) and afterEvent; pidfdClose closes the fd', async () => {
    const { host, calls } = makeHost();
    const c = sh('read x; exit 3', { stdin: 'pipe' });
    const fd = host.pidfdOpen(c.pid);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(host.watchPidfd(7, c.pid, fd)).toBe(0);
    expect(host.watchedPidfds).toBe(1);
    addon.close(c.stdin);
    await keepAlive(new Promise<void>((r) => { const t = setInterval(() => { if (calls.length >= 3) { clearInterval(t); r(); } }, 5); }));
    expect(calls).toEqual([['onPidfdReady', 7, c.pid], ['waitPid', c.pid, 3], ['afterEvent']]);
    host.pidfdClose(fd);
    expect(host.watchedPidfds).toBe(0);
    expect(existsSync(`/proc/self/fd/${fd}`)).toBe(false);
  });

  it('watchPidfd again on the same fd re-arms it; an unwatched pidfd is closed directly', async () => {
    const { host, calls } = makeHost();
    const c = spawnOk('sleep', ['30']);
    const fd = host.pidfdOpen(c.pid);
    expect(host.watchPidfd(1, c.pid, fd)).toBe(0);
    expect(host.watchPidfd(2, c.pid, fd)).toBe(0); // same fd: re-armed, now for watcher 2
    addon.kill(c.pid, 9);
    await keepAlive(new Promise<void>((r) => { const t = setInterval(() => { if (calls.length >= 3) { clearInterval(t); r(); } }, 5); }));
    expect(calls[0]).toEqual(['onPidfdReady', 2, c.pid]);
    host.pidfdClose(fd);
    const d = spawnOk('sleep', ['30']);
    const fd2 = host.pidfdOpen(d.pid);
    host.pidfdClose(fd2);
    expect(existsSync(`/proc/self/fd/${fd2}`)).toBe(false);
    addon.kill(d.pid, 9);
    await exited(d.pid);
    expect(addon.waitPid(d.pid, new Float64Array(WAIT_RECORD))).toBe(d.pid);
  });

  it('every watched pidfd shares one epoll set: one fd for all, a batch of exits is one afterEvent', async () => {
    const epolls = (): number => readdirSync('/proc/self/fd').filter((fd) => {
      try { return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[eventpoll]'; } catch { return false; }
    }).length;
    const before = epolls();
    const { host, calls } = makeHost();
    const kids = Array.from({ length: 5 }, () => spawnOk('sleep', ['30']));
    const fds = kids.map((k) => host.pidfdOpen(k.pid));
    kids.forEach((k, i) => expect(host.watchPidfd(3, k.pid, fds[i]!)).toBe(0));
    expect(host.watchedPidfds).toBe(5);
    expect(epolls()).toBe(before + 1);
    // All five exit before the loop turns: one readiness of the set, one batch.
    for (const k of kids) addon.kill(k.pid, 9);
    for (const k of kids) while (procState(k.pid) !== 'Z') { /* SIGKILL takes microseconds */ }
    await keepAlive(new Promise<void>((r) => { const t = setInterval(() => { if (calls.length >= 11) { clearInterval(t); r(); } }, 5); }));
    expect(calls.filter((c) => c[0] === 'onPidfdReady').map((c) => c[2]).sort()).toEqual(kids.map((k) => k.pid).sort());
    expect(calls.filter((c) => c[0] === 'afterEvent')).toHaveLength(1);
    expect(calls[calls.length - 1]).toEqual(['afterEvent']);
    for (const fd of fds) host.pidfdClose(fd);
    expect(host.watchedPidfds).toBe(0);
    for (const fd of fds) expect(existsSync(`/proc/self/fd/${fd}`)).toBe(false);
    host.close();
    expect(epolls()).toBe(before);
  });

  it('startWaiter: onWaiterDone(watcher, pid, result, rec) then afterEvent', async () => {
    const { host, calls } = makeHost();
    const c = sh('exit 21');
    expect(host.startWaiter(4, c.pid)).toBe(0);
    await keepAlive(new Promise<void>((r) => { const t = setInterval(() => { if (calls.length >= 2) { clearInterval(t); r(); } }, 5); }));
    expect(calls).toEqual([['onWaiterDone', 4, c.pid, c.pid, 21, 1], ['afterEvent']]);
  });

  it('subscribeSigchld with a loop delegates to viaLoop; deliver enters the core', () => {
    let deliver: (() => void) | null = null;
    const { host, calls } = makeHost({
      viaLoop: (loop, watcher, d) => { calls.push(['viaLoop', loop, watcher]); deliver = d; return 0; },
      addon: fakeAddon({ waits: [] }).addon,
    });
    expect(host.subscribeSigchld(3, 42)).toBe(0);
    expect(calls).toEqual([['viaLoop', 42, 3]]);
    deliver!();
    expect(calls.slice(1)).toEqual([['onSigchld', 3], ['afterEvent']]);
    host.unsubscribeSigchld(3);
    host.unsubscribeSigchld(3); // idempotent
    expect(calls.slice(3)).toEqual([['unviaLoop', 3]]);
    const failing = makeHost({ viaLoop: () => -1 });
    expect(failing.host.subscribeSigchld(1, 5)).toBe(-1);
  });

  it('report goes to onReport', () => {
    const { host, calls } = makeHost();
    host.report(8, 1, 123, 11);
    expect(calls).toEqual([['report', 8, 1, 123, 11]]);
  });
});

/** A scripted addon: waitAny hands out `waits` (pid, exit code) in batches; SIGCHLD is manual. */
function fakeAddon(script: { waits: Array<[number, number]>; state?: number }) {
  const log: string[] = [];
  let signal: ((n: number) => void) | null = null;
  let open = 0;
  const a: Partial<NativeAddon> = {
    waitAny: (out, max) => {
      log.push(`waitAny(${max})`);
      let n = 0;
      while (n < max && script.waits.length > 0) {
        const [pid, code] = script.waits.shift()!;
        out.set([pid, code << 8, 1, 2, 3], n * WAIT_RECORD);
        n++;
      }
      return n;
    },
    waitAnyState: () => { log.push('waitAnyState'); return script.state ?? -10; },
    signalSubscribe: (_signum, cb) => {
      log.push('signalSubscribe');
      signal = cb;
      open++;
      const h: NativeHandle = { close: () => { log.push('close'); open--; signal = null; }, ref: () => {}, unref: () => {} };
      return h;
    },
    pollFd: () => ({ close() {}, ref() {}, unref() {}, restart: () => 0, stop() {} }) as NativePoll,
  };
  return { addon: a as NativeAddon, log, fire: () => signal?.(17), open: () => open };
}

describe('NodeHost with a scripted addon', () => {
  it('waitAny: one native call per batch, records handed out one per call, then the cached end state', () => {
    const pids: Array<[number, number]> = Array.from({ length: 70 }, (_, i) => [1000 + i, i % 256]);
    const fake = fakeAddon({ waits: [...pids] });
    const { host } = makeHost({ addon: fake.addon });
    const rec = newWaitRecord();
    const got: number[] = [];
    for (let r = host.waitAny(rec); r > 0; r = host.waitAny(rec)) {
      got.push(r);
      expect(exitCodeOf(rec.status)).toBe((r - 1000) % 256);
      expect([rec.userMicros, rec.systemMicros, rec.maxRssKiB]).toEqual([1, 2, 3]);
    }
    expect(got).toEqual(pids.map(([p]) => p));
    // 64 in the first call, 6 in the second (short: its state is read once and handed out last)
    expect(fake.log).toEqual(['waitAny(64)', 'waitAny(64)', 'waitAnyState']);
    expect(host.waitAny(rec)).toBe(-10); // the next drain asks the kernel again
    expect(fake.log.slice(3)).toEqual(['waitAny(64)', 'waitAnyState']);
  });

  it('waitAny: 0 (children running) is passed through', () => {
    const fake = fakeAddon({ waits: [], state: 0 });
    const { host } = makeHost({ addon: fake.addon });
    expect(host.waitAny(newWaitRecord())).toBe(0);
  });

  it('loop 0: one native SIGCHLD subscription fans out to every subscribed watcher, then one afterEvent', () => {
    const fake = fakeAddon({ waits: [[501, 1], [502, 2]] });
    const { host, calls } = makeHost({ addon: fake.addon });
    expect(host.subscribeSigchld(1, 0)).toBe(0);
    expect(host.subscribeSigchld(2, 0)).toBe(0);
    expect(fake.log.filter((l) => l === 'signalSubscribe')).toHaveLength(1);
    fake.fire();
    expect(calls).toEqual([
      ['onSigchld', 1], ['reaped', 501, 1 << 8], ['reaped', 502, 2 << 8], ['onSigchld', 2], ['afterEvent'],
    ]);
    host.unsubscribeSigchld(1);
    expect(host.sigchldSubscribed).toBe(true);
    host.unsubscribeSigchld(2);
    expect(host.sigchldSubscribed).toBe(false);
    expect(fake.open()).toBe(0);
    // moving a watcher from loop 0 to a loop drops it from the shared subscription
    host.subscribeSigchld(5, 0);
    host.subscribeSigchld(5, 9);
    expect(host.sigchldSubscribed).toBe(false);
    expect(calls.slice(-1)).toEqual([['viaLoop', 9, 5]]);
  });

  it('SIGCHLDs are followed once, ~250 ms after the first, by on-sigchld-settled for every subscriber', async () => {
    const fake = fakeAddon({ waits: [] });
    let deliver: (() => void) | undefined;
    const { host, calls } = makeHost({
      addon: fake.addon,
      viaLoop: (loop, watcher, d) => { calls.push(['viaLoop', loop, watcher]); deliver = d; return 0; },
    });
    expect(host.subscribeSigchld(1, 0)).toBe(0);
    expect(host.subscribeSigchld(2, 7)).toBe(0);
    fake.fire();
    deliver!();
    fake.fire();
    const settled = (): Call[] => calls.filter((c) => c[0] === 'onSigchldSettled');
    expect(settled()).toEqual([]); // not at once
    await keepAlive(new Promise((r) => setTimeout(r, 400)));
    expect(settled()).toEqual([['onSigchldSettled', 1], ['onSigchldSettled', 2]]);
    expect(calls[calls.length - 1]).toEqual(['afterEvent']);
    // Quiet: nothing more. close() cancels a pending follow-up.
    await keepAlive(new Promise((r) => setTimeout(r, 300)));
    expect(settled()).toHaveLength(2);
    fake.fire();
    host.close();
    await keepAlive(new Promise((r) => setTimeout(r, 350)));
    expect(settled()).toHaveLength(2);
  });

  it('close() releases polls and subscriptions; later imports fail softly', () => {
    const fake = fakeAddon({ waits: [] });
    const { host, calls } = makeHost({ addon: fake.addon });
    host.subscribeSigchld(1, 0);
    host.subscribeSigchld(2, 7);
    host.close();
    expect(fake.open()).toBe(0);
    expect(calls).toContainEqual(['unviaLoop', 2]);
    expect(host.subscribeSigchld(1, 0)).toBeLessThan(0);
    expect(host.startWaiter(1, 1)).toBeLessThan(0);
    host.close();
  });
});

describe('NodeHost in a fresh process (compiled dist/)', () => {
  it('real SIGCHLD on loop 0 fans out; one drain reaps every exit through batched waitAny', async () => {
    const dist = join(ROOT, 'dist', 'host', 'node-host.js');
    expect(existsSync(dist)).toBe(true); // `npm run build:ts` (npm test's pretest does it)
    expect(statSync(dist).mtimeMs).toBeGreaterThanOrEqual(statSync(join(ROOT, 'host', 'node-host.ts')).mtimeMs);
    const res = resultOf(await runFixture('host-node-host.mjs'));
    expect(res['reaped']).toEqual(res['expected']);
    expect(res['watchersCalled']).toEqual([1, 2]);
    expect(res['afterEvents']).toBeGreaterThanOrEqual(1);
    expect(res['subscribedAfter']).toBe(false);
  });
});
