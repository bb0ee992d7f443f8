// addon.waitPid / waitPidfd (wait4 WNOHANG with rusage, waitid(P_PIDFD) through the raw
// syscall) in this process, and waitAny (wait4(-1) in a loop in C) plus injected EINTR in fresh
// processes, since wait(-1) reaps whatever child this process has.
import { describe, it, expect } from '@jest/globals';
import { WAIT_RECORD } from '../../host/addon-types.js';
import { addon, exitCodeOf, exited, resultOf, runFixture, sh, spawnOk, termSigOf } from './helpers.js';

const ECHILD = 10;
const EBADF = 9;

describe('waitPid', () => {
  it('returns 0 while the child runs, then pid with status and rusage, then -ECHILD', async () => {
    const c = sh('read x; exit 3', { stdin: 'pipe' });
    const out = new Float64Array(WAIT_RECORD).fill(-7);
    expect(addon.waitPid(c.pid, out)).toBe(0);
    expect([...out]).toEqual([-7, -7, -7, -7, -7]); // untouched on "nothing yet"
    expect(addon.close(c.stdin)).toBe(0); // EOF: the child exits
    await exited(c.pid);
    expect(addon.waitPid(c.pid, out)).toBe(c.pid);
    expect(out[0]).toBe(c.pid);
    expect(exitCodeOf(out[1]!)).toBe(3);
    expect(out[2]! + out[3]!).toBeGreaterThanOrEqual(0);
    expect(out[4]).toBeGreaterThan(0);
    expect(addon.waitPid(c.pid, out)).toBe(-ECHILD); // already reaped: a return, not a throw
  });

  it('is -ECHILD for a process that is not our child', () => {
    expect(addon.waitPid(1, new Float64Array(WAIT_RECORD))).toBe(-ECHILD);
  });

  it('rejects bad arguments with TypeError/RangeError (never waits on 0 or -1)', () => {
    const out = new Float64Array(WAIT_RECORD);
    for (const pid of [0, -1, 1.5, NaN, Infinity, 2 ** 31]) {
      expect(() => addon.waitPid(pid, out)).toThrow(expect.objectContaining({ name: 'RangeError' }));
    }
    expect(() => addon.waitPid('5' as unknown as number, out)).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(() => addon.waitPid(5, new Float32Array(5) as unknown as Float64Array)).toThrow(expect.objectContaining({ name: 'TypeError' }));
    expect(addon.waitPid(1, new Float64Array(4))).toBe(-22); // too short for one record: EINVAL
  });
});

describe('waitPidfd', () => {
  it('reaps through the pidfd, with the status rebuilt from siginfo and rusage', async () => {
    const busy = spawnOk('sh', ['-c', 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; exit 42'], { wantPidfd: true });
    const out = new Float64Array(WAIT_RECORD);
    await exited(busy.pid);
    expect(addon.waitPidfd(busy.pidfd, out)).toBe(busy.pid);
    expect(exitCodeOf(out[1]!)).toBe(42);
    expect(out[2]).toBeGreaterThan(0); // user CPU: waitid's rusage, which glibc's wrapper drops
    expect(out[4]).toBeGreaterThan(0);
    expect(addon.waitPidfd(busy.pidfd, out)).toBe(-ECHILD);
    expect(addon.close(busy.pidfd)).toBe(0);
  });

  it('returns 0 while running and reports a signal death', async () => {
    const c = spawnOk('sleep', ['30'], { wantPidfd: true });
    const out = new Float64Array(WAIT_RECORD);
    expect(addon.waitPidfd(c.pidfd, out)).toBe(0);
    expect(addon.pidfdSendSignal(c.pidfd, 9)).toBe(0);
    await exited(c.pid);
    expect(addon.waitPidfd(c.pidfd, out)).toBe(c.pid);
    expect(termSigOf(out[1]!)).toBe(9);
    addon.close(c.pidfd);
  });

  it('is -EBADF for an fd that is not a pidfd', () => {
    expect(addon.waitPidfd(0, new Float64Array(WAIT_RECORD))).toBe(-EBADF);
  });
});

describe('waitAny (fresh process)', () => {
  it('reaps many exits in one call, reports running/none through waitAnyState', async () => {
    const res = resultOf(await runFixture('host-wait-any.mjs'));
    expect(res['emptyBefore']).toEqual({ n: 0, state: -ECHILD });
    expect(res['whileRunning']).toEqual({ n: 0, state: 0 });
    expect(res['firstBatch']).toBe(2); // max respected
    expect(res['secondBatch']).toBe(3);
    expect(res['stateAfter']).toBe(-ECHILD);
    expect((res['codes'] as number[]).sort()).toEqual([10, 11, 12, 13, 14]);
    expect(res['sleeperCode']).toBe(1); // `read` at EOF fails
  });
});

describe('fault injection (fresh process)', () => {
  it('CHILDWATCH_FAULTS makes the next calls fail as told; EINTR is retried in C', async () => {
    const spec = 'spawn=EAGAIN:1,pipe2=EMFILE:1,pidfd_open=EMFILE:2,wait4=EINTR:3,waitid=EINTR:2,kill=EPERM:1,thread=EAGAIN:1,poll=ENOMEM:1,signal=EINVAL:1';
    const res = resultOf(await runFixture('host-faults.mjs', { CHILDWATCH_FAULTS: spec }));
    expect(res).toEqual({
      faults: spec,
      spawn: ['EMFILE:pipe2', 'EAGAIN:posix_spawn', 'ok'], // pipes are made before posix_spawn
      fdsLeaked: 0,
      spawnPidfd: -1, // pidfd_open failed: the child runs, without a pidfd
      pidfdOpen: [-24, 'ok'],
      waitPid: 'reaped', // three EINTRs retried
      waitPidfd: 'reaped',
      kill: [-1, 0],
      startWaiter: [-11, 0],
      pollFd: [-12, 'ok'],
      signalSubscribe: [-22, 'ok'],
    });
  });

  it('an invalid spec is ignored as a whole and reported', async () => {
    const res = resultOf(await runFixture('host-faults.mjs', { CHILDWATCH_FAULTS: 'spawn=EAGAIN,bogus=EPERM' }));
    expect(res['faults']).toBe('invalid: spawn=EAGAIN,bogus=EPERM');
    expect((res['spawn'] as unknown[])[0]).toMatchObject({ pid: expect.any(Number) }); // no fault
  });
});
